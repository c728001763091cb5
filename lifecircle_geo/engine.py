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
    search, :mod:`lifecircle_geo.routing._dijkstra`; categories run in parallel threads),
    ``"scipy"`` (``scipy.sparse.csgraph.dijkstra``, one category after another; the fallback
    without numba), ``"pandana"`` (contraction hierarchies; facilities at nodes only; answers
    within 0.1 m, for comparison and for pandana users) and ``"auto"`` (numba for problems of
    at least :data:`AUTO_NUMBA_MIN_WORK` nodes × categories or once the kernel is loaded in the
    process, else scipy).
:func:`multi_source`, :func:`distance_to_nearest`
    One category, scipy backend.
:meth:`NearestByCategory.at_points`
    Off-network legs: facilities snapped mid-edge start at both end nodes
    (:class:`~lifecircle_geo.routing.Sites`); residents add their own walk to the street and
    the direct walk along a shared edge (:func:`lifecircle_geo.routing.point_distances`).

The searches, the rounded graph and the walk to and from the street live in
:mod:`lifecircle_geo.routing`; this module is their public face for the nearest-facility
question.

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
equally far (:func:`~lifecircle_geo.routing.point_distances`), the edge's ``u`` end is taken.

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
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .network import WalkNetwork
from .routing import (
    AUTO_NUMBA_MIN_WORK,
    BACKENDS,
    COST_QUANTUM_M,
    EXACT_BELOW_M,
    SPATIAL_ORDER_MIN_NODES,
    Seeds,
    Sites,
    Snap,
    check_cutoff,
    multi_source,
    numba_available,
    point_distances,
    search_nearest,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, DTypeLike

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_NUMBA_MIN_WORK",
    "BACKENDS",
    "COST_QUANTUM_M",
    "EXACT_BELOW_M",
    "SPATIAL_ORDER_MIN_NODES",
    "NearestByCategory",
    "Seeds",
    "Sites",
    "distance_to_nearest",
    "multi_source",
    "nearest_by_category",
    "numba_available",
]


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
    sites : Sites or None
        The facilities searched from, when given as :class:`~lifecircle_geo.routing.Sites`
        (or a snap): residents on a facility's own edge then walk straight to it.
    """

    categories: tuple[str, ...]
    dist_m: np.ndarray
    label: np.ndarray
    cutoff_m: np.ndarray
    backend: str
    seconds: float = 0.0
    sites: Sites | None = field(default=None, repr=False)

    __eq__ = object.__eq__  # identity: element-wise array comparison has no single truth value
    __hash__ = object.__hash__

    # --- mapping
    def __getitem__(self, category: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(dist_m, label)`` of ``category``, each of shape (n_nodes,)."""
        i = self.index(category)
        return self.dist_m[i], self.label[i]

    def __iter__(self) -> Iterator[str]:
        """Iterate over the categories in row order."""
        return iter(self.categories)

    def __len__(self) -> int:
        """Return the number of categories."""
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
        """Summarise the shape, backend and search time."""
        n = self.dist_m.shape[1] if self.dist_m.ndim == 2 else 0
        return (
            f"NearestByCategory({len(self.categories)} categories × {n:,} nodes, "
            f"backend={self.backend!r}, {self.seconds:.3f} s)"
        )

    # --- tiers
    def _thresholds(self, threshold_m: ArrayLike | Mapping[str, float]) -> np.ndarray:
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

    def within(self, threshold_m: ArrayLike | Mapping[str, float]) -> np.ndarray:
        """Bool array (n_categories, n_nodes): the nearest facility is within the threshold.

        ``threshold_m``: one number, one per category (array), or a mapping category → metres;
        it must not exceed the category's cutoff.
        """
        thr = self._thresholds(threshold_m)
        return self.dist_m <= thr[:, None].astype(self.dist_m.dtype)

    def tiers(self, thresholds_m: ArrayLike) -> np.ndarray:
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
        snap: Snap,
        category: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Walk from snapped points (residents) to the nearest facility of ``category``.

        Adds the point's own leg (walk to the street + partial edge) to the node distances and,
        when the facilities were given as sites, the direct walk along an edge shared with a
        facility (see :func:`lifecircle_geo.routing.point_distances`).

        Parameters
        ----------
        net : WalkNetwork
            The network searched.
        snap : Snap
            The points, from :meth:`WalkNetwork.snap`.
        category : str
            One of :attr:`categories`.

        Returns
        -------
        dist_m : ndarray of float64
            ``inf`` where none is reached or the point did not snap.
        label : ndarray of int64
            -1 where none.
        """
        i = self.index(category)
        sites = None
        if self.sites is not None and self.sites.category is not None:
            sites = self.sites.for_category(category)
        return point_distances(
            net,
            self.dist_m[i].astype(np.float64, copy=False),
            self.label[i].astype(np.int64),
            snap,
            sites,
        )


def nearest_by_category(
    net: WalkNetwork,
    facilities: Sites | Snap | Mapping[str, Seeds | ArrayLike],
    cutoff_m: float | Mapping[str, float],
    *,
    labels: ArrayLike | None = None,
    category: ArrayLike | None = None,
    categories: Sequence[str] | None = None,
    backend: str = "auto",
    dtype: DTypeLike = np.float64,
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
    facilities : Sites, Snap or mapping
        :class:`~lifecircle_geo.routing.Sites` (access points with labels and categories); a
        :class:`~lifecircle_geo.routing.Snap` of access points together with ``category``
        and ``labels``; or a mapping ``{category: Seeds}`` (or ``{category: node
        positions}``, labelled 0, 1, ... in the given order).
    cutoff_m : float or mapping
        Search radius in metres, one for all categories or ``{category: metres}``.
    labels : array-like of int, optional
        With a snap: one label per row (default: the row position).
    category : array-like, optional
        With a snap: one category per row.
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

    Sites of mid-edge facilities with a category each:

    >>> from lifecircle_geo.routing import Sites
    >>> sites = Sites.from_points(net, np.array([[150.0, 10.0], [20.0, 0.0]]),
    ...                           category=["clinic", "school"], labels=[5, 6])
    >>> res = nearest_by_category(net, sites, 1000)
    >>> res["clinic"][0].tolist()  # 10 m to the street, then 50 m along the edge
    [160.0, 60.0, 60.0, 160.0]
    """
    t0 = time.perf_counter()
    sites: Sites | None = None
    if isinstance(facilities, Snap):
        if category is None:
            raise InputError("a snap of facilities needs category=... (one per row)")
        lab = np.arange(len(facilities)) if labels is None else labels
        facilities = Sites(facilities, np.asarray(lab), np.asarray(category, dtype=object))
    elif labels is not None or category is not None:
        raise InputError(
            "labels= and category= go with a Snap; Sites and Seeds carry their own labels"
        )
    if isinstance(facilities, Sites):
        sites = facilities
        if sites.category is None:
            raise InputError("Sites for nearest_by_category need a category per access point")
        keys = sites.categories if categories is None else list(categories)
        seeds_map: dict[str, Any] = {c: sites.for_category(c).seeds(net) for c in keys}
    elif isinstance(facilities, Mapping):
        keys = list(facilities) if categories is None else list(categories)
        seeds_map = {c: facilities.get(c, np.empty(0, dtype=np.int64)) for c in keys}
    else:
        raise InputError(
            f"facilities must be Sites, a Snap or a mapping {{category: Seeds}}, got "
            f"{type(facilities).__name__}"
        )
    cats = tuple(seeds_map)
    if len(set(cats)) != len(cats):
        raise InputError(f"categories must be unique, got {list(cats)}")
    if isinstance(cutoff_m, Mapping):
        missing = [c for c in cats if c not in cutoff_m]
        if missing:
            raise InputError(f"cutoff_m has no value for categories {missing}")
        cutoffs = np.array([check_cutoff(cutoff_m[c]) for c in cats], dtype=np.float64)
    else:
        cutoffs = np.full(len(cats), check_cutoff(cutoff_m))
    dist, label, which = search_nearest(
        net,
        [seeds_map[c] for c in cats],
        cutoffs,
        backend=backend,
        dtype=dtype,
        n_jobs=n_jobs,
        node_order=node_order,
        names=cats,
    )
    secs = time.perf_counter() - t0
    log.debug(
        "nearest_by_category: %d categories × %d nodes with %s in %.3f s",
        len(cats),
        net.n_nodes,
        which,
        secs,
    )
    return NearestByCategory(cats, dist, label, cutoffs, which, secs, sites)


# ================================================================ one category
def distance_to_nearest(
    net: WalkNetwork,
    source_nodes: ArrayLike,
    cutoff_m: float,
    source_offset_m: ArrayLike | None = None,
    *,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Network distance to the nearest source node and which source it is, for every node.

    One bounded multi-source search, never one per source: on the compiled (numba) kernel
    when it is loaded or the network is large enough to repay loading it (``backend="auto"``,
    as :func:`nearest_by_category` chooses), else ``scipy.sparse.csgraph.dijkstra``. Both give
    the same distances (rounded to :data:`~lifecircle_geo.routing.COST_QUANTUM_M`) and the
    same tie rule.

    Parameters
    ----------
    net : WalkNetwork
    source_nodes : array-like of int
        Positional node indices of the sources (duplicates allowed).
    cutoff_m : float
        Search radius in metres.
    source_offset_m : array-like of float, optional
        Extra distance at each source (e.g. a facility's walk to the street).
    backend : {"auto", "numba", "scipy"}
        Search backend (see :func:`nearest_by_category`).

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
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
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
    if backend == "pandana":
        raise InputError("distance_to_nearest: backend must be 'auto', 'numba' or 'scipy'")
    if not src.size:
        return np.full(net.n_nodes, np.inf), np.full(net.n_nodes, -1, dtype=np.int64)
    seeds = Seeds(src, off, np.arange(len(src), dtype=np.int64))
    dist, label, _ = search_nearest(
        net, [seeds], np.array([float(cutoff_m)]), backend=backend, names=("sources",)
    )
    return dist[0], label[0].astype(np.int64)
