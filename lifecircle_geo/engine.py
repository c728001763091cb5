"""Shortest-path work on a `WalkNetwork`: one bounded multi-source search per facility category.

Coverage is a bounded multi-source problem: one search started from every facility of a
category at once answers "how far to the nearest, and which one" for every street node. Peers
do far more work (pandana builds contraction hierarchies first; osmnx notebooks search once per
facility). Start offsets (the facility's walk to the street, and its position along the edge)
are seeds' start distances, so even mid-edge starts cost a single search.

Entry points
------------
:func:`nearest_by_category`
    Every category in one call: distance to the nearest facility and which one, for every node,
    as 2-D arrays (:class:`NearestByCategory`). Backends: ``"numba"`` (a compiled bucket-queue
    search, :mod:`lifecircle_geo._dijkstra`; categories run in parallel threads),
    ``"scipy"`` (``scipy.sparse.csgraph.dijkstra``, one category after another; the fallback
    without numba), ``"pandana"`` (contraction hierarchies; facilities at nodes only; answers
    within 0.1 m, for comparison and for pandana users) and ``"auto"`` (numba for problems of
    at least :data:`AUTO_NUMBA_MIN_WORK` nodes × categories or once the kernel is loaded in the
    process, else scipy).
:func:`multi_source`, :func:`distance_to_nearest`
    One category, scipy backend.
:func:`seeds_from_snap`, :func:`point_distances`
    Off-network legs: facilities snapped mid-edge become seeds at both end nodes; residents add
    their own walk to the street (and the direct walk along a shared edge).

Exact arithmetic and ties
-------------------------
Edge costs and start distances are rounded to multiples of :data:`COST_QUANTUM_M`
(2**-32 m, about 2.3e-10 m) before a search. Sums of such numbers below 2**20 m (1,048 km) are
exact in float64, so a distance is the same number whatever order a path's edges are added in,
every backend returns bit-identical distances, and "equally far" means exactly equally far.
The rounding moves a path's length by at most 1.2e-10 m per edge.

Ties are broken the same way by the numba and scipy backends: **on equal distance the
smaller label wins**. For every reached node, ``label`` is the smallest label among the seeds
at exactly the minimal distance (``numba``: lexicographic ``(distance, label)`` relaxation;
``scipy``: scipy's search, then a pass that moves every tied node to its smallest label along
shortest-path edges). The two backends therefore return identical distances *and* labels, and
tests hold both to a networkx brute force on random graphs with many exact ties. The
``pandana`` backend computes its own distances (within 0.1 m; about 1 cm measured) and its
label is *a* nearest facility, ties broken by pandana. Where a resident's two edge ends are
equally far (:func:`point_distances`), the edge's ``u`` end is taken, as before.

Speed (``benchmarks/engine.py``, 250k-node grid, 1,200 m): one category with the numba backend
runs in 0.5-0.7 the time of a bare ``scipy.sparse.csgraph.dijkstra(min_only=True)`` call on
the same arrays and 35-50 times faster than networkx; 20 categories take 0.26 of 20 bare scipy
calls on 2 threads. The scipy backend pays 1.05-1.9 times a bare call (tie pass and checks).

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3],
...                               [100.0, 100.0, 100.0], crs=32651)
>>> dist_m, nearest = distance_to_nearest(net, [0, 3], cutoff_m=1000)
>>> dist_m.tolist(), nearest.tolist()
([0.0, 100.0, 100.0, 0.0], [0, 0, 1, 1])
>>> res = nearest_by_category(net, {"school": [0], "clinic": [2, 3]}, cutoff_m=150)
>>> res["clinic"][0].tolist(), res["clinic"][1].tolist()
([inf, 100.0, 0.0, 0.0], [-1, 0, 0, 1])
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .errors import InputError
from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_NUMBA_MIN_WORK",
    "BACKENDS",
    "COST_QUANTUM_M",
    "EXACT_BELOW_M",
    "SPATIAL_ORDER_MIN_NODES",
    "NearestByCategory",
    "Seeds",
    "distance_to_nearest",
    "multi_source",
    "nearest_by_category",
    "numba_available",
    "point_distances",
    "seeds_by_category",
    "seeds_from_snap",
]

#: Backends of :func:`nearest_by_category`.
BACKENDS = ("auto", "numba", "scipy", "pandana")

#: Edge costs and start distances are rounded to multiples of this (metres) before a search,
#: which makes every path sum below :data:`EXACT_BELOW_M` exact in float64.
COST_QUANTUM_M = 2.0**-32
#: Searches with a cutoff below this are exact (see the module docstring); above it the quantum
#: grows with the cutoff (still exact, coarser).
EXACT_BELOW_M = 2.0**20

#: ``backend="auto"`` picks numba for at least this many nodes × categories, or whenever the
#: kernel is already loaded in the process. Below it scipy answers in well under a second and
#: no compile is risked (the first compile on a machine takes 3-4 s; later loads about 0.1 s).
AUTO_NUMBA_MIN_WORK = 200_000

#: Graphs with at least this many nodes are searched in a spatial (Hilbert curve) node order
#: when their own order scatters neighbours far apart in memory (``node_order="auto"``).
SPATIAL_ORDER_MIN_NODES = 100_000


@dataclass
class Seeds:
    """Starting points of a multi-source search: a node, a start distance and a label each.

    A facility snapped onto the middle of an edge gives two seeds (both end nodes, each with
    its partial edge length plus the facility's walk to the street); a polygon facility gives
    one pair per entrance. ``label`` says which facility a seed belongs to.
    """

    node: np.ndarray
    dist_m: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


def _reduce_seeds(seeds: Seeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One seed per node: the smallest start distance, ties to the smallest label."""
    order = np.lexsort((seeds.label, seeds.dist_m, seeds.node))
    node = seeds.node[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    return node[first], seeds.dist_m[order][first], seeds.label[order][first]


# ====================================================================== shared preparation
def _quantum(cutoff_m: float) -> float:
    """The cost quantum for a search up to ``cutoff_m``: sums below 2**E > cutoff are exact."""
    if cutoff_m < EXACT_BELOW_M:
        return COST_QUANTUM_M
    return 2.0 ** (math.floor(math.log2(cutoff_m)) + 1 - 52)


def _quantize(values: np.ndarray, q: float) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) / q) * q


def _check_cutoff(cutoff_m) -> float:
    try:
        c = float(cutoff_m)
    except (TypeError, ValueError):
        c = float("nan")
    if not np.isfinite(c) or c <= 0:
        raise InputError(f"cutoff_m must be a positive finite number of metres, got {cutoff_m}")
    return c


class _Prepared:
    """Per-network search arrays, built once and kept while the network lives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.csr: dict[float, csr_matrix] = {}
        self.rows: dict[float, np.ndarray] = {}
        self.kernel: dict[tuple[float, str], _KernelGraph] = {}
        self.auto_order: str | None = None
        self.pandana: Any = None
        self.pandana_precompute_m = 0.0


_PREPARED: weakref.WeakKeyDictionary[WalkNetwork, _Prepared] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def _prepared(net: WalkNetwork) -> _Prepared:
    with _PREPARED_LOCK:
        p = _PREPARED.get(net)
        if p is None:
            p = _PREPARED[net] = _Prepared()
        return p


def _search_csr(net: WalkNetwork, q: float) -> csr_matrix:
    """``net.csr`` with costs rounded to multiples of ``q`` (cached)."""
    p = _prepared(net)
    with p.lock:
        g = p.csr.get(q)
        if g is None:
            base = net.csr
            g = csr_matrix((_quantize(base.data, q), base.indices, base.indptr), shape=base.shape)
            p.csr[q] = g
        return g


def _csr_rows(net: WalkNetwork, q: float) -> np.ndarray:
    p = _prepared(net)
    g = _search_csr(net, q)
    with p.lock:
        r = p.rows.get(q)
        if r is None:
            r = np.repeat(np.arange(g.shape[0], dtype=np.int32), np.diff(g.indptr))
            p.rows[q] = r
        return r


# ====================================================================== scipy backend
def _scipy_search(
    g: csr_matrix,
    node: np.ndarray,
    d0: np.ndarray,
    lab: np.ndarray,
    cutoff_m: float,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """scipy search from reduced, quantized seeds; labels settled to the smallest on ties.

    Returns float64 distances and labels (int32 when the labels fit, else int64).
    """
    n = g.shape[0]
    ok = d0 <= cutoff_m
    i32 = np.iinfo(np.int32)
    small = len(lab) == 0 or (lab.min() >= i32.min and lab.max() <= i32.max)
    ltype = np.int32 if small else np.int64
    node, d0, lab = node[ok], d0[ok], lab[ok].astype(ltype)
    if len(node) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=ltype)
    lab_of_node = np.full(n + 1, -1, dtype=ltype)  # the extra slot: "no source"
    lab_of_node[node] = lab
    if not np.any(d0 > 0):
        dist, _, src = dijkstra(
            g, directed=True, indices=node, min_only=True, limit=cutoff_m, return_predecessors=True
        )
        src[src < 0] = n
        label = lab_of_node[src]
    else:
        # a virtual super-source S = n with an edge to each seed node weighted by its start
        # distance
        s = n
        indptr = np.concatenate([g.indptr, [g.indptr[-1] + len(node)]])
        aug = csr_matrix(
            (np.concatenate([g.data, d0]), np.concatenate([g.indices, node]), indptr),
            shape=(n + 1, n + 1),
        )
        dist, pred = dijkstra(
            aug, directed=True, indices=s, limit=cutoff_m, return_predecessors=True
        )
        dist, pred = dist[:n], pred[:n]
        reached = np.isfinite(dist)
        root = np.where(pred == s, np.arange(n), pred)
        root[~reached] = -1
        # pointer jumping: every reached node finds the seed node its shortest path leaves S by
        while True:
            has = root >= 0
            nxt = root.copy()
            nxt[has] = root[root[has]]
            if np.array_equal(nxt, root):
                break
            root = nxt
        root[root < 0] = n
        label = lab_of_node[root]
    _settle_tie_labels(g, dist, label, node, d0, lab, rows)
    return dist, label


def _settle_tie_labels(
    g: csr_matrix,
    dist: np.ndarray,
    label: np.ndarray,
    node: np.ndarray,
    d0: np.ndarray,
    lab: np.ndarray,
    rows: np.ndarray | None = None,
) -> int:
    """Give every node the smallest label among the seeds at exactly its distance (in place).

    scipy keeps whichever shortest path it met first; here labels flow along *tight* edges
    (``dist[u] + w == dist[v]``, exact with quantized costs) until no smaller label can move.
    Returns the number of rounds (0: no tie changed anything).
    """
    # seeds whose start distance is exactly their node's distance
    better = (d0 == dist[node]) & (lab < label[node])
    label[node[better]] = lab[better]
    indptr, indices, data = g.indptr, g.indices, g.data
    if rows is None:
        rows = np.repeat(np.arange(g.shape[0], dtype=np.int32), np.diff(indptr))
    # fast path: a label can only move along an edge from a smaller label to a larger one
    # (an unreached tail, label -1, fails the tightness test below)
    cand = np.flatnonzero(label[rows] < label[indices])
    if len(cand) == 0 or not np.any(dist[rows[cand]] + data[cand] == dist[indices[cand]]):
        return 0
    tail, head, w = rows, indices, data
    dh = dist[head]
    tight = (dist[tail] + w == dh) & np.isfinite(dh)
    all_t, all_h = tail[tight], head[tight]
    t, h = all_t, all_h
    rounds = 0
    while True:
        viol = label[t] < label[h]
        if not viol.any():
            return rounds
        rounds += 1
        np.minimum.at(label, h[viol], label[t[viol]])
        # only edges leaving a node whose label just dropped can move anything further
        changed = np.zeros(len(dist), dtype=bool)
        changed[h[viol]] = True
        sel = changed[all_t]
        t, h = all_t[sel], all_h[sel]


def multi_source(
    net: WalkNetwork,
    seeds: Seeds,
    cutoff_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the nearest seed, and that seed's label, for every node (one search).

    Uses the scipy backend; :func:`nearest_by_category` runs many categories at once and
    faster. Costs are rounded to :data:`COST_QUANTUM_M` (module docstring), and on equal
    distance the smaller label wins.

    Parameters
    ----------
    net : WalkNetwork
    seeds : Seeds
        Start nodes with start distances (metres, >= 0) and labels (int >= 0).
    cutoff_m : float
        Search radius; nodes farther than this get ``inf`` and label -1.

    Returns
    -------
    dist_m : ndarray of float64, shape (n_nodes,)
    label : ndarray of int64, shape (n_nodes,)

    Examples
    --------
    >>> net = WalkNetwork.from_arrays([0, 100, 200], [0, 0, 0], [0, 1], [1, 2],
    ...                               [100.0, 100.0], crs=32651)
    >>> d, lab = multi_source(net, Seeds(np.array([0, 2]), np.array([0.0, 0.0]),
    ...                                  np.array([7, 3])), cutoff_m=500)
    >>> d.tolist(), lab.tolist()  # node 1 is 100 m from both: the smaller label wins
    ([0.0, 100.0, 0.0], [7, 3, 3])
    """
    n = net.n_nodes
    cutoff_m = float(cutoff_m)
    if len(seeds) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    q = _quantum(cutoff_m)
    node, d0, lab = _reduce_seeds(
        Seeds(
            np.asarray(seeds.node, dtype=np.int64),
            _quantize(seeds.dist_m, q),
            np.asarray(seeds.label, dtype=np.int64),
        )
    )
    dist, label = _scipy_search(_search_csr(net, q), node, d0, lab, cutoff_m, _csr_rows(net, q))
    return dist, label.astype(np.int64)


# ====================================================================== numba backend
_KERNELS: Any = None
_KERNELS_ERROR: str | None = None


def _kernels():
    """The compiled module :mod:`lifecircle_geo._dijkstra`, or None when numba is missing."""
    global _KERNELS, _KERNELS_ERROR
    if _KERNELS is None and _KERNELS_ERROR is None:
        try:
            from . import _dijkstra

            _KERNELS = _dijkstra
        except Exception as exc:  # ImportError, or numba failing to initialise
            _KERNELS_ERROR = f"{type(exc).__name__}: {exc}"
            log.info("numba backend unavailable (%s); using scipy", _KERNELS_ERROR)
    return _KERNELS


def numba_available() -> bool:
    """Whether the compiled (numba) backend can run here.

    Examples
    --------
    >>> isinstance(numba_available(), bool)
    True
    """
    return _kernels() is not None


@dataclass
class _KernelGraph:
    indptr: np.ndarray  # int64
    indices: np.ndarray  # int32
    data: np.ndarray  # float64, quantized
    perm: np.ndarray  # int64: kernel node i is network node perm[i]; empty: same order
    inv: np.ndarray  # int64: network node j is kernel node inv[j]; empty: same order
    width: float  # bucket width (before the per-call bound by the cutoff)


def _hilbert_key(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding square."""
    side = 1 << bits
    span = float(max(np.ptp(x), np.ptp(y))) or 1.0
    xi = np.minimum(((x - x.min()) / span * side).astype(np.int64), side - 1)
    yi = np.minimum(((y - y.min()) / span * side).astype(np.int64), side - 1)
    d = np.zeros(len(x), dtype=np.int64)
    s = side >> 1
    while s > 0:
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        xi[flip] = side - 1 - xi[flip]
        yi[flip] = side - 1 - yi[flip]
        swap = ~ry
        xi[swap], yi[swap] = yi[swap], xi[swap].copy()
        s >>= 1
    return d


def _order_spread(u: np.ndarray, v: np.ndarray) -> float:
    """Mean log2 distance in memory between an edge's two end nodes (small: cache-friendly)."""
    if len(u) == 0:
        return 0.0
    return float(np.mean(np.log2(1.0 + np.abs(u - v))))


def _bucket_width(data: np.ndarray, cutoff_m: float) -> float:
    """Bucket width of the compiled search: half the median edge cost, within sane bounds.

    Any width gives the same answer; this one keeps both the empty-bucket scans and the
    re-scans of nodes improved inside their own bucket small (measured on real and grid
    networks: 5-40 m all run within about 15 % of the best).
    """
    pos = data[data > 0]
    w = 0.5 * float(np.median(pos)) if len(pos) else cutoff_m
    return float(max(w, 1e-6))


def _auto_node_order(net: WalkNetwork, p: _Prepared) -> str:
    """``"spatial"`` for large graphs whose own order scatters neighbours in memory (cached)."""
    with p.lock:
        if p.auto_order is not None:
            return p.auto_order
    choice = "given"
    if net.n_nodes >= SPATIAL_ORDER_MIN_NODES:
        order = np.argsort(_hilbert_key(net.x_m, net.y_m), kind="stable")
        inv = np.empty(net.n_nodes, dtype=np.int64)
        inv[order] = np.arange(net.n_nodes)
        given = _order_spread(net.u, net.v)
        spatial = _order_spread(inv[net.u], inv[net.v])
        # row-major grids and OSM extracts sit within 1-2 of the spatial order; a shuffled
        # order sits 10 or more above it and ran up to 2.2x slower on 1M nodes
        choice = "spatial" if given > spatial + 3.0 else "given"
        log.debug("node order spread: given %.1f, spatial %.1f -> %s", given, spatial, choice)
    with p.lock:
        p.auto_order = choice
    return choice


def _kernel_graph(net: WalkNetwork, q: float, node_order: str, cutoff_m: float) -> _KernelGraph:
    """CSR arrays for the compiled search, in the chosen node order (cached per network)."""
    p = _prepared(net)
    g = _search_csr(net, q)
    n = net.n_nodes
    if node_order == "auto":
        node_order = _auto_node_order(net, p)
    key2 = (q, node_order)
    with p.lock:
        kg = p.kernel.get(key2)
    if kg is not None:
        return kg
    t0 = time.perf_counter()
    empty = np.empty(0, dtype=np.int64)
    if node_order == "spatial":
        perm = np.argsort(_hilbert_key(net.x_m, net.y_m), kind="stable").astype(np.int64)
        inv = np.empty(n, dtype=np.int64)
        inv[perm] = np.arange(n)
        h = g[perm][:, perm].tocsr()
        h.sort_indices()
        indptr, indices, data = h.indptr, h.indices, h.data
    elif node_order == "given":
        perm = inv = empty
        indptr, indices, data = g.indptr, g.indices, g.data
    else:
        raise InputError(f"node_order must be 'auto', 'given' or 'spatial', got {node_order!r}")
    kg = _KernelGraph(
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int32),
        np.ascontiguousarray(data, dtype=np.float64),
        perm,
        inv,
        _bucket_width(g.data, cutoff_m),
    )
    log.debug("kernel graph (%s order) ready in %.3f s", node_order, time.perf_counter() - t0)
    with p.lock:
        p.kernel[key2] = kg
    return kg


def _numba_run(
    net: WalkNetwork,
    seeds: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cutoffs: np.ndarray,
    q: float,
    dist_out: np.ndarray,
    label_out: np.ndarray,
    n_jobs: int,
    node_order: str,
) -> None:
    K = _kernels()
    kg = _kernel_graph(net, q, node_order, float(cutoffs.max()))
    n = net.n_nodes
    f64 = dist_out.dtype == np.float64

    def one(i: int) -> None:
        node, d0, lab = seeds[i]
        if len(kg.inv):
            node = kg.inv[node]
        drow = dist_out[i] if f64 else np.empty(n)
        cut = float(cutoffs[i])
        width = min(max(kg.width, cut / 2**22), cut)  # at most 4M buckets
        K.bounded_multi_source(
            kg.indptr, kg.indices, kg.data, node, d0, lab, cut, width, kg.perm, drow, label_out[i]
        )
        if not f64:
            dist_out[i] = drow

    k = len(seeds)
    if n_jobs <= 1 or k <= 1:
        for i in range(k):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=min(n_jobs, k)) as ex:
            list(ex.map(one, range(k)))


# ====================================================================== pandana backend
def _pandana_network(net: WalkNetwork, precompute_m: float):
    """A ``pandana.Network`` of ``net`` (built once, precomputed to at least ``precompute_m``)."""
    try:
        import pandana
    except ImportError as exc:
        raise ImportError(
            f"backend='pandana' needs pandana, which could not be imported ({exc}); install "
            f"the optional extra: pip install 'lifecircle-geo[pandana]' (pandana is AGPL)"
        ) from None
    p = _prepared(net)
    with p.lock:
        if p.pandana is None:
            g = net.csr
            rows = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
            up = rows < g.indices  # each undirected edge once (the CSR is symmetric)
            p.pandana = pandana.Network(
                pd.Series(net.x_m),
                pd.Series(net.y_m),
                pd.Series(rows[up]),
                pd.Series(g.indices[up].astype(np.int64)),
                pd.DataFrame({"cost_m": g.data[up]}),
                twoway=True,
            )
            p.pandana_precompute_m = 0.0
        if p.pandana_precompute_m < precompute_m:
            p.pandana.precompute(precompute_m)
            p.pandana_precompute_m = precompute_m
        return p.pandana


def _pandana_run(
    net: WalkNetwork,
    cats: tuple[str, ...],
    seeds: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cutoffs: np.ndarray,
    dist_out: np.ndarray,
    label_out: np.ndarray,
) -> None:
    for i, (_node, d0, _lab) in enumerate(seeds):
        if np.any(d0 != 0):
            raise InputError(
                f"backend='pandana' handles facilities located at nodes only, but category "
                f"{cats[i]!r} has {int(np.count_nonzero(d0))} seeds with a start distance "
                f"(mid-edge or off-street facilities); use backend='numba' or 'scipy'"
            )
    pnet = _pandana_network(net, float(cutoffs.max()))
    for i, (node, _d0, lab) in enumerate(seeds):
        if len(node) == 0:
            dist_out[i] = np.inf
            label_out[i] = -1
            continue
        name = f"lifecircle_{i}"
        # POIs sit at node coordinates; pandana maps each to its nearest node (that node)
        pnet.set_pois(
            name,
            float(cutoffs[i]),
            1,
            pd.Series(net.x_m[node], index=lab),
            pd.Series(net.y_m[node], index=lab),
        )
        res = pnet.nearest_pois(
            float(cutoffs[i]), name, num_pois=1, max_distance=np.inf, include_poi_ids=True
        )
        dist_out[i] = res[1].to_numpy(dtype=np.float64)
        ids = res["poi1"].to_numpy(dtype=np.float64)
        label_out[i] = np.where(np.isfinite(ids), np.nan_to_num(ids, nan=-1), -1).astype(np.int32)


# ====================================================================== all categories at once
@dataclass(frozen=True, eq=False)
class NearestByCategory(Mapping):
    """Distance to the nearest facility of each category, and which one, for every node.

    A read-only mapping ``{category: (dist_m, label)}`` over 2-D arrays, one row per category
    (row order: :attr:`categories`). From :func:`nearest_by_category`.

    Memory: ``dist_m`` is float64 (or float32 when asked) and ``label`` int32, 12 (8) bytes per
    category and node: 20 categories over 1,000,000 nodes hold 240 MB (160 MB). While searching,
    each thread adds 4 bytes per node (16 in the spatial node order) plus its queue; measured
    peak for that case: 820 MB for the whole process, network included.

    Attributes
    ----------
    categories : tuple of str
    dist_m : ndarray, shape (n_categories, n_nodes)
        Metres (equivalent metres of ``cost_m``), including the facility's own walk to the
        street; ``inf`` beyond the category's cutoff.
    label : ndarray of int32, shape (n_categories, n_nodes)
        The nearest facility's label; -1 where none is within the cutoff. On equal distance,
        the smaller label (``pandana``: unspecified).
    cutoff_m : ndarray of float64, shape (n_categories,)
    backend : str
        The backend that ran (``"numba"``, ``"scipy"`` or ``"pandana"``).
    seconds : float
        Wall time of the searches.
    """

    categories: tuple[str, ...]
    dist_m: np.ndarray
    label: np.ndarray
    cutoff_m: np.ndarray
    backend: str
    seconds: float = 0.0
    _sources: dict[str, tuple[pd.DataFrame, np.ndarray]] | None = field(default=None, repr=False)

    __eq__ = object.__eq__  # identity: element-wise array comparison has no single truth value
    __hash__ = object.__hash__

    # --- mapping
    def __getitem__(self, category: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.index(category)
        return self.dist_m[i], self.label[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def index(self, category: str) -> int:
        """Row of ``category`` in the 2-D arrays."""
        try:
            return self.categories.index(category)
        except ValueError:
            raise KeyError(
                f"category {category!r} not in this result (categories: {list(self.categories)})"
            ) from None

    def __repr__(self) -> str:
        n = self.dist_m.shape[1] if self.dist_m.ndim == 2 else 0
        return (
            f"NearestByCategory({len(self.categories)} categories × {n:,} nodes, "
            f"backend={self.backend!r}, {self.seconds:.3f} s)"
        )

    # --- tiers
    def _thresholds(self, threshold_m) -> np.ndarray:
        if isinstance(threshold_m, Mapping):
            missing = [c for c in self.categories if c not in threshold_m]
            if missing:
                raise InputError(f"threshold_m has no value for categories {missing}")
            thr = np.array([float(threshold_m[c]) for c in self.categories])
        else:
            thr = np.broadcast_to(
                np.asarray(threshold_m, dtype=np.float64), (len(self.categories),)
            ).copy()
        over = thr > self.cutoff_m
        if over.any():
            bad = [(self.categories[i], thr[i], self.cutoff_m[i]) for i in np.flatnonzero(over)]
            raise InputError(
                f"thresholds beyond the search cutoff cannot be answered "
                f"(category, threshold_m, cutoff_m): {bad[:5]}; search again "
                f"with a larger cutoff_m"
            )
        return thr

    def within(self, threshold_m) -> np.ndarray:
        """Bool array (n_categories, n_nodes): the nearest facility is within the threshold.

        ``threshold_m``: one number, one per category (array), or a mapping category → metres;
        it must not exceed the category's cutoff.
        """
        thr = self._thresholds(threshold_m)
        return self.dist_m <= thr[:, None].astype(self.dist_m.dtype)

    def tiers(self, thresholds_m) -> np.ndarray:
        """Tier of every node: index of the first threshold met, ``len(thresholds_m)`` if none.

        One search at the largest threshold answers every tier (e.g. the 5/10/15-minute walks).

        Parameters
        ----------
        thresholds_m : sequence of float
            Ascending thresholds in metres, the largest not beyond any category's cutoff.

        Returns
        -------
        ndarray of uint8, shape (n_categories, n_nodes)

        Examples
        --------
        >>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2],
        ...                               [1, 2, 3], [100.0, 100.0, 100.0], crs=32651)
        >>> res = nearest_by_category(net, {"park": [0]}, cutoff_m=250)
        >>> res.tiers([50, 150, 250]).tolist()
        [[0, 1, 2, 3]]
        """
        thr = np.asarray(thresholds_m, dtype=np.float64).ravel()
        if len(thr) == 0 or len(thr) > 254 or np.any(np.diff(thr) < 0):
            raise InputError(f"thresholds_m must be 1-254 ascending values, got {thr.tolist()}")
        self._thresholds(thr[-1])
        out = np.full(self.dist_m.shape, len(thr), dtype=np.uint8)
        for k in range(len(thr) - 1, -1, -1):
            out[self.dist_m <= thr[k]] = k
        return out

    # --- residents
    def at_points(
        self,
        net: WalkNetwork,
        snap: pd.DataFrame,
        category: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Walk from snapped points (residents) to the nearest facility of ``category``.

        Adds the point's own leg (walk to the street + partial edge) to the node distances and,
        when the facilities were given as a snap table, the direct walk along an edge shared
        with a facility (see :func:`point_distances`).

        Returns
        -------
        dist_m : ndarray of float64
            ``inf`` where none is reached or the point did not snap.
        label : ndarray of int64
            -1 where none.
        """
        i = self.index(category)
        src, src_lab = (None, None)
        if self._sources is not None and category in self._sources:
            src, src_lab = self._sources[category]
        return point_distances(
            net,
            self.dist_m[i].astype(np.float64, copy=False),
            self.label[i].astype(np.int64),
            snap,
            src,
            src_lab,
        )


def seeds_by_category(
    net: WalkNetwork, snap: pd.DataFrame, labels, category, categories=None
) -> dict[str, Seeds]:
    """Seeds per category from one snap table of all facilities (see :func:`seeds_from_snap`).

    Parameters
    ----------
    net : WalkNetwork
    snap : DataFrame
        From :meth:`WalkNetwork.snap`, one row per facility access point.
    labels : array-like of int
        One label per row (e.g. the facility's row in the facility table).
    category : array-like
        One category per row.
    categories : sequence, optional
        Categories to return, in this order (also those without facilities: empty seeds);
        default: the categories present, in order of first appearance.

    Returns
    -------
    dict of str to Seeds
    """
    cat = np.asarray(category, dtype=object).ravel()
    labels = np.asarray(labels).ravel()
    if len(cat) != len(snap) or len(labels) != len(snap):
        raise InputError(
            f"the snap table has {len(snap)} rows but category has {len(cat)} "
            f"values and labels {len(labels)}: one of each per row is expected"
        )
    cats = list(pd.unique(cat)) if categories is None else list(categories)
    out = {}
    for c in cats:
        sel = np.flatnonzero(cat == c)
        out[c] = seeds_from_snap(net, snap.iloc[sel].reset_index(drop=True), labels[sel])
    return out


def _as_seeds(value, n_nodes: int, name) -> Seeds:
    if isinstance(value, Seeds):
        s = value
    else:
        node = np.asarray(value, dtype=np.int64).ravel()
        s = Seeds(node, np.zeros(len(node)), np.arange(len(node), dtype=np.int64))
    node = np.asarray(s.node, dtype=np.int64).ravel()
    d0 = np.asarray(s.dist_m, dtype=np.float64).ravel()
    lab = np.asarray(s.label).ravel()
    if not (len(node) == len(d0) == len(lab)):
        raise InputError(
            f"seeds of category {name!r}: node, dist_m and label differ in length "
            f"({len(node)}, {len(d0)}, {len(lab)})"
        )
    if len(node) and (node.min() < 0 or node.max() >= n_nodes):
        raise InputError(f"seeds of category {name!r}: nodes must be positions in 0..{n_nodes - 1}")
    if len(d0) and (not np.all(np.isfinite(d0)) or d0.min() < 0):
        raise InputError(f"seeds of category {name!r}: start distances must be finite and >= 0")
    if len(lab) and (lab.min() < 0 or lab.max() > np.iinfo(np.int32).max):
        raise InputError(
            f"seeds of category {name!r}: labels must be integers in 0..{np.iinfo(np.int32).max}"
        )
    return Seeds(node, d0, lab.astype(np.int64))


def _resolve_backend(backend: str, work: int) -> str:
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if _KERNELS is not None and _KERNELS.bounded_multi_source.signatures:
            return "numba"  # already compiled or loaded in this process
        if work >= AUTO_NUMBA_MIN_WORK and numba_available():
            return "numba"
        return "scipy"
    if backend == "numba" and not numba_available():
        raise ImportError(
            f"backend='numba' needs numba, which could not be loaded "
            f"({_KERNELS_ERROR}); use backend='scipy' or install numba"
        )
    return backend


def nearest_by_category(
    net: WalkNetwork,
    facilities,
    cutoff_m,
    *,
    labels=None,
    category=None,
    categories=None,
    backend: str = "auto",
    dtype=np.float64,
    n_jobs: int | None = None,
    node_order: str = "auto",
) -> NearestByCategory:
    """Distance to the nearest facility of every category, and which one, for every node.

    One bounded multi-source search per category, all categories in one call (run in parallel
    threads by the compiled backend). Facilities' off-network legs are part of the seeds; add
    the residents' legs with :meth:`NearestByCategory.at_points`. Search once at the largest
    threshold and read every tier from the result (:meth:`NearestByCategory.tiers`).

    Parameters
    ----------
    net : WalkNetwork
    facilities : mapping or DataFrame
        Either a mapping ``{category: Seeds}`` (or ``{category: node positions}``, labelled
        0, 1, ... in the given order), or a snap table from :meth:`WalkNetwork.snap` (one row
        per facility access point) together with ``category`` and ``labels``.
    cutoff_m : float or mapping
        Search radius in metres, one for all categories or ``{category: metres}``.
    labels : array-like of int, optional
        With a snap table: one label per row (default: the row position).
    category : array-like or str, optional
        With a snap table: one category per row, or the name of a column of the table
        (default: its ``"category"`` column).
    categories : sequence, optional
        Categories to compute and their order (categories without facilities give ``inf``);
        default: those given, in order of appearance.
    backend : {"auto", "numba", "scipy", "pandana"}
        ``"auto"``: numba when the problem has at least :data:`AUTO_NUMBA_MIN_WORK` nodes ×
        categories or the kernel is already loaded, and numba can be loaded; else scipy. The
        numba compile (3-4 s) happens once per machine and is cached on disk. ``"pandana"``:
        only for facilities at nodes (no start distances); needs the optional pandana (AGPL).
    dtype : {numpy.float64, numpy.float32}
        Of ``dist_m``; float32 saves a third of the result's memory and stays exact to well
        under a millimetre at walking distances.
    n_jobs : int, optional
        Threads for the numba backend (default: all CPUs, at most one per category).
    node_order : {"auto", "given", "spatial"}
        Node order of the numba search. ``"spatial"`` renumbers nodes along a Hilbert curve
        (results come back in the network's order); ``"auto"`` does so for graphs of at least
        :data:`SPATIAL_ORDER_MIN_NODES` nodes whose own order scatters neighbours in memory.

    Returns
    -------
    NearestByCategory
        Mapping ``{category: (dist_m, label)}`` over 2-D arrays ``dist_m`` and ``label``.

    Raises
    ------
    InputError
        Bad seeds, cutoffs or backend name; pandana with mid-edge facilities.
    ImportError
        ``backend="numba"`` without numba, ``backend="pandana"`` without pandana.

    Examples
    --------
    >>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3],
    ...                               [100.0, 100.0, 100.0], crs=32651)
    >>> res = nearest_by_category(net, {"school": [0], "clinic": [3]}, cutoff_m=250)
    >>> res.dist_m.tolist()
    [[0.0, 100.0, 200.0, inf], [inf, 200.0, 100.0, 0.0]]
    >>> res["clinic"][1].tolist()
    [-1, 0, 0, 0]

    A snap table of mid-edge facilities with a category per row:

    >>> snap = net.snap(np.array([[150.0, 10.0], [20.0, 0.0]]))
    >>> res = nearest_by_category(net, snap, 1000, category=["clinic", "school"], labels=[5, 6])
    >>> res["clinic"][0].tolist()  # 10 m to the street, then 50 m along the edge
    [160.0, 60.0, 60.0, 160.0]
    """
    t0 = time.perf_counter()
    n = net.n_nodes
    sources: dict[str, tuple[pd.DataFrame, np.ndarray]] | None = None
    if isinstance(facilities, pd.DataFrame):
        snap = facilities
        if category is None:
            category = "category"
        if isinstance(category, str):
            if category not in snap.columns:
                raise InputError(
                    f"a snap table needs category=... (one per row) or a {category!r} column"
                )
            category = snap[category].to_numpy()
        lab_all = (
            np.arange(len(snap), dtype=np.int64)
            if labels is None
            else np.asarray(labels, dtype=np.int64).ravel()
        )
        seeds_map = seeds_by_category(net, snap, lab_all, category, categories)
        cat_arr = np.asarray(category, dtype=object).ravel()
        sources = {}
        for c in seeds_map:
            sel = np.flatnonzero(cat_arr == c)
            sources[c] = (snap.iloc[sel].reset_index(drop=True), lab_all[sel])
    elif isinstance(facilities, Mapping):
        if labels is not None or category is not None:
            raise InputError(
                "labels= and category= go with a snap table; with a mapping, "
                "give Seeds (they carry their labels)"
            )
        keys = list(facilities) if categories is None else list(categories)
        seeds_map = {c: facilities.get(c, np.empty(0, dtype=np.int64)) for c in keys}
    else:
        raise InputError(
            f"facilities must be a mapping {{category: Seeds}} or a snap "
            f"DataFrame, got {type(facilities).__name__}"
        )
    cats = tuple(seeds_map)
    if len(set(cats)) != len(cats):
        raise InputError(f"categories must be unique, got {list(cats)}")
    if isinstance(cutoff_m, Mapping):
        missing = [c for c in cats if c not in cutoff_m]
        if missing:
            raise InputError(f"cutoff_m has no value for categories {missing}")
        cutoffs = np.array([_check_cutoff(cutoff_m[c]) for c in cats], dtype=np.float64)
    else:
        cutoffs = np.full(len(cats), _check_cutoff(cutoff_m))
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype must be float64 or float32, got {dtype}")
    which = _resolve_backend(backend, n * len(cats))

    q = _quantum(float(cutoffs.max()) if len(cutoffs) else 1.0)
    prepared = []
    for c in cats:
        s = _as_seeds(seeds_map[c], n, c)
        node, d0, lab = _reduce_seeds(Seeds(s.node, _quantize(s.dist_m, q), s.label))
        prepared.append((node, d0, lab))

    dist = np.empty((len(cats), n), dtype=dtype)
    label = np.empty((len(cats), n), dtype=np.int32)
    if not cats:
        pass
    elif which == "numba":
        seeds32 = [(nd, d0, lab.astype(np.int32)) for nd, d0, lab in prepared]
        jobs = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
        _numba_run(net, seeds32, cutoffs, q, dist, label, max(1, int(jobs)), node_order)
    elif which == "scipy":
        g = _search_csr(net, q)
        rows = _csr_rows(net, q)
        for i, (node, d0, lab) in enumerate(prepared):
            d, lb = _scipy_search(g, node, d0, lab, float(cutoffs[i]), rows)
            dist[i] = d
            label[i] = lb
    else:
        _pandana_run(net, cats, prepared, cutoffs, dist, label)
    secs = time.perf_counter() - t0
    log.debug(
        "nearest_by_category: %d categories × %d nodes with %s in %.3f s", len(cats), n, which, secs
    )
    return NearestByCategory(cats, dist, label, cutoffs, which, secs, sources)


# ================================================================ one category, off-network legs
def distance_to_nearest(
    net: WalkNetwork, source_nodes, cutoff_m: float, source_offset_m=None
) -> tuple[np.ndarray, np.ndarray]:
    """Network distance to the nearest source node and which source it is, for every node.

    One bounded multi-source search (``scipy.sparse.csgraph.dijkstra``), never one per source.

    Parameters
    ----------
    net : WalkNetwork
    source_nodes : array-like of int
        Positional node indices of the sources (duplicates allowed).
    cutoff_m : float
        Search radius in metres.
    source_offset_m : array-like of float, optional
        Extra distance at each source (e.g. a facility's walk to the street).

    Returns
    -------
    dist_m : ndarray of float64
        One per node; ``inf`` beyond ``cutoff_m``.
    nearest : ndarray of int64
        Position in ``source_nodes`` of the nearest source; -1 where none is within the cutoff.
        Ties go to the smallest position.

    Examples
    --------
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = WalkNetwork.from_arrays([0, 100, 200], [0, 0, 0], [0, 1], [1, 2], [100.0, 100.0],
    ...                               crs=32651)
    >>> d, k = distance_to_nearest(net, [2], cutoff_m=150)
    >>> d.tolist(), k.tolist()
    ([inf, 100.0, 0.0], [-1, 0, 0])
    """
    src = np.asarray(source_nodes, dtype=np.int64).ravel()
    if src.size and (src.min() < 0 or src.max() >= net.n_nodes):
        raise InputError(f"source_nodes must be node positions in 0..{net.n_nodes - 1}")
    if cutoff_m is None or not np.isfinite(cutoff_m) or cutoff_m <= 0:
        raise InputError(f"cutoff_m must be a positive finite number of metres, got {cutoff_m}")
    off = (
        np.zeros(len(src))
        if source_offset_m is None
        else np.asarray(source_offset_m, dtype=np.float64).ravel()
    )
    if len(off) != len(src):
        raise InputError("source_offset_m needs one value per source node")
    return multi_source(net, Seeds(src, off, np.arange(len(src), dtype=np.int64)), cutoff_m)


def seeds_from_snap(net: WalkNetwork, snap: pd.DataFrame, labels) -> Seeds:
    """Seeds for snapped points: each point starts at both ends of its edge.

    Parameters
    ----------
    net : WalkNetwork
    snap : DataFrame
        From :meth:`WalkNetwork.snap`; rows with ``ok == False`` are skipped.
    labels : array-like of int
        One label per row of ``snap`` (e.g. the facility's position).
    """
    labels = np.asarray(labels, dtype=np.int64)
    ok = snap["ok"].to_numpy()
    e = snap["edge"].to_numpy()[ok]
    along = snap["along_m"].to_numpy()[ok]
    off = snap["snap_m"].to_numpy()[ok]
    ratio = _cost_ratio(net, e)
    node = np.concatenate([net.u[e], net.v[e]])
    dist = np.concatenate([off + along * ratio, off + (net.length_m[e] - along) * ratio])
    lab = np.concatenate([labels[ok], labels[ok]])
    return Seeds(node, dist, lab)


def _cost_ratio(net: WalkNetwork, e: np.ndarray) -> np.ndarray:
    length = net.length_m[e]
    return np.divide(net.cost_m[e], length, out=np.ones(len(e)), where=length > 0)


def point_distances(
    net: WalkNetwork,
    dist_node: np.ndarray,
    label_node: np.ndarray,
    snap: pd.DataFrame,
    source_snap: pd.DataFrame | None = None,
    source_labels=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Walk distance from snapped points (residents) to the nearest source, with both end legs.

    The walk is: the point's leg to the street + the partial edge to one of its edge's end nodes
    + the node's network distance (which already holds the source's own legs). Where a source sits
    on the same edge as the point, the direct walk along that edge is considered too.

    Parameters
    ----------
    net : WalkNetwork
    dist_node, label_node : ndarray
        From :func:`multi_source`.
    snap : DataFrame
        The points, from :meth:`WalkNetwork.snap`.
    source_snap, source_labels : optional
        The sources' snap table and labels, to handle sources on the same edge.

    Returns
    -------
    dist_m : ndarray
        ``inf`` where no source is reached or the point did not snap.
    label : ndarray
        -1 where none.
    """
    n = len(snap)
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    ok = snap["ok"].to_numpy()
    e = snap["edge"].to_numpy()[ok]
    along = snap["along_m"].to_numpy()[ok]
    off = snap["snap_m"].to_numpy()[ok]
    ratio = _cost_ratio(net, e)
    du = dist_node[net.u[e]] + along * ratio
    dv = dist_node[net.v[e]] + (net.length_m[e] - along) * ratio
    use_v = dv < du
    d = np.where(use_v, dv, du) + off
    lab = np.where(use_v, label_node[net.v[e]], label_node[net.u[e]])
    if source_snap is not None and len(source_snap):
        s_ok = source_snap["ok"].to_numpy()
        src = pd.DataFrame(
            {
                "edge": source_snap["edge"].to_numpy()[s_ok],
                "s_along": source_snap["along_m"].to_numpy()[s_ok],
                "s_off": source_snap["snap_m"].to_numpy()[s_ok],
                "s_label": np.asarray(source_labels, dtype=np.int64)[s_ok],
            }
        )
        pts = pd.DataFrame(
            {"edge": e, "p_along": along, "p_off": off, "pos": np.arange(len(e)), "ratio": ratio}
        )
        same = pts.merge(src, on="edge", how="inner")
        if len(same):
            direct = (
                (same["p_along"] - same["s_along"]).abs() * same["ratio"]
                + same["p_off"]
                + same["s_off"]
            )
            same = same.assign(direct=direct).sort_values(["pos", "direct", "s_label"])
            best = same.drop_duplicates("pos")
            pos = best["pos"].to_numpy()
            better = best["direct"].to_numpy() < d[pos]
            d[pos[better]] = best["direct"].to_numpy()[better]
            lab[pos[better]] = best["s_label"].to_numpy()[better]
    d[lab < 0] = np.inf
    dist[ok] = d
    label[ok] = np.where(np.isfinite(d), lab, -1)
    return dist, label
