"""Bounded multi-source searches on the rounded graph: scipy, numba and pandana backends.

One search per category answers "how far to the nearest facility, and which one" for every
node. On equal distance the smaller label wins, identically on the numba and scipy backends
(see :mod:`lifecircle_geo.engine` for the full statement).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from ..errors import InputError
from ._graph import (
    csr_rows,
    kernel_graph,
    pandana_network,
    quantize,
    quantum,
    search_csr,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..network import WalkNetwork

log = logging.getLogger(__name__)

#: Backends of :func:`search_nearest` (and :func:`~lifecircle_geo.engine.nearest_by_category`).
BACKENDS = ("auto", "numba", "scipy", "pandana")


#: ``backend="auto"`` picks numba for at least this many nodes × categories, or whenever the
#: kernel is already loaded in the process. Below it scipy answers in well under a second and
#: no compile is risked (the first compile on a machine takes 3-4 s; later loads about 0.1 s).
AUTO_NUMBA_MIN_WORK = 200_000


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


# ====================================================================== scipy backend
def _scipy_search(
    g: csr_matrix,
    node: np.ndarray,
    d0: np.ndarray,
    lab: np.ndarray,
    cutoff_m: float,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Search with scipy from reduced, quantized seeds; labels settled to the smallest on ties.

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

    Uses the scipy backend; :func:`~lifecircle_geo.engine.nearest_by_category` runs many
    categories at once and faster. Costs are rounded to
    :data:`~lifecircle_geo.routing.COST_QUANTUM_M`, and on equal distance the smaller label
    wins.

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
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
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
    q = quantum(cutoff_m)
    node, d0, lab = _reduce_seeds(
        Seeds(
            np.asarray(seeds.node, dtype=np.int64),
            quantize(seeds.dist_m, q),
            np.asarray(seeds.label, dtype=np.int64),
        )
    )
    dist, label = _scipy_search(search_csr(net, q), node, d0, lab, cutoff_m, csr_rows(net, q))
    return dist, label.astype(np.int64)


# ====================================================================== numba backend
_KERNELS: Any = None
_KERNELS_ERROR: str | None = None


def _kernels() -> ModuleType | None:
    """Return the compiled module :mod:`lifecircle_geo.routing._dijkstra` (None without numba)."""
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
    kg = kernel_graph(net, q, node_order, float(cutoffs.max()))
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
    pnet = pandana_network(net, float(cutoffs.max()))
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


def _as_seeds(value: Seeds | ArrayLike, n_nodes: int, name: str | None) -> Seeds:
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


def search_nearest(
    net: WalkNetwork,
    seeds: list[Seeds],
    cutoffs_m: np.ndarray,
    *,
    backend: str = "auto",
    dtype: Any = np.float64,
    n_jobs: int | None = None,
    node_order: str = "auto",
    names: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Nearest seed and its distance for every node, one bounded search per seed set.

    The core of :func:`~lifecircle_geo.engine.nearest_by_category`: start distances are
    rounded to the search quantum, each seed set is reduced to one seed per node (smallest
    distance, then smallest label) and searched on the chosen backend.

    Parameters
    ----------
    net : WalkNetwork
    seeds : list of Seeds
        One seed set per row of the result (labels int >= 0).
    cutoffs_m : ndarray of float
        One search radius per seed set (validated by the caller).
    backend : {"auto", "numba", "scipy", "pandana"}
    dtype : {numpy.float64, numpy.float32}
        Of the distances.
    n_jobs : int, optional
        Threads for the numba backend (default: all CPUs).
    node_order : {"auto", "given", "spatial"}
        Node order of the numba search.
    names : tuple of str, optional
        Names of the seed sets, for error messages.

    Returns
    -------
    dist_m : ndarray, shape (len(seeds), n_nodes)
    label : ndarray of int32, shape (len(seeds), n_nodes)
    backend : str
        The backend that ran.
    """
    n = net.n_nodes
    names = names or tuple(str(i) for i in range(len(seeds)))
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype must be float64 or float32, got {dtype}")
    which = _resolve_backend(backend, n * len(seeds))
    q = quantum(float(cutoffs_m.max()) if len(cutoffs_m) else 1.0)
    prepared = []
    for name, value in zip(names, seeds, strict=True):
        s = _as_seeds(value, n, name)
        prepared.append(_reduce_seeds(Seeds(s.node, quantize(s.dist_m, q), s.label)))
    dist = np.empty((len(seeds), n), dtype=dtype)
    label = np.empty((len(seeds), n), dtype=np.int32)
    if not seeds:
        pass
    elif which == "numba":
        seeds32 = [(nd, d0, lab.astype(np.int32)) for nd, d0, lab in prepared]
        jobs = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
        _numba_run(net, seeds32, cutoffs_m, q, dist, label, max(1, int(jobs)), node_order)
    elif which == "scipy":
        g = search_csr(net, q)
        rows = csr_rows(net, q)
        for i, (node, d0, lab) in enumerate(prepared):
            d, lb = _scipy_search(g, node, d0, lab, float(cutoffs_m[i]), rows)
            dist[i] = d
            label[i] = lb
    else:
        _pandana_run(net, names, prepared, cutoffs_m, dist, label)
    return dist, label, which
