"""Sparse per-facility bounded searches: every facility's reached nodes within a cutoff.

A :class:`Reach` holds (facility, target, distance) triples sorted by target, never a dense
facility × node matrix, so memory grows with the reached pairs. Counts, nearest-k, 2SFCA and
gravity (:mod:`lifecircle_geo.accessibility`), isochrones and site suggestion all read it;
:func:`~lifecircle_geo.routing.reach_at_points` carries it to resident points.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from ..errors import InputError
from ..settings import settings
from ._graph import _bucket_width, check_cutoff, quantize, quantum, search_arrays, search_csr
from ._search import Seeds

if TYPE_CHECKING:
    from ..network import WalkNetwork
    from .sites import Sites

log = logging.getLogger(__name__)

__all__ = ["Reach", "reach_matrix"]


@dataclass
class Reach:
    """Sparse facility × target walking distances within a cutoff (targets: nodes or points).

    Stored as triples sorted by ``(target, dist_m, label)``: memory is about 24 bytes per
    reached pair, independent of how many facilities × targets there are.

    Attributes
    ----------
    facility : ndarray of int64
        Position of the facility in ``labels``, one per pair.
    target : ndarray of int64
        Node (or point) position, one per pair.
    dist_m : ndarray of float64
        Walk in metres (<= ``cutoff_m``), one per pair.
    labels : ndarray of int64
        Facility labels (sorted); ``labels[facility]`` is the pair's facility label.
    n_targets : int
        Number of nodes (or points).
    cutoff_m : float
        Pairs farther than this are not stored.
    ordered : bool
        Pairs are sorted by ``(target, dist_m, label)``; False: only grouped by target (built
        with ``ordered=False``, for callers that need the pairs, not their order).
    """

    facility: np.ndarray
    target: np.ndarray
    dist_m: np.ndarray
    labels: np.ndarray
    n_targets: int
    cutoff_m: float
    ordered: bool = True
    _indptr: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        """Return the number of reached (facility, target) pairs."""
        return len(self.dist_m)

    @property
    def n_facilities(self) -> int:
        """Number of facilities (labels)."""
        return len(self.labels)

    @property
    def nbytes(self) -> int:
        """Bytes held by the pair arrays."""
        return int(self.facility.nbytes + self.target.nbytes + self.dist_m.nbytes)

    @property
    def indptr(self) -> np.ndarray:
        """Start of each target's pairs (length ``n_targets + 1``), pairs being target-sorted."""
        if self._indptr is None:
            counts = np.bincount(self.target, minlength=self.n_targets)
            self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return self._indptr

    def to_csr(self) -> csr_matrix:
        """Return a scipy CSR matrix (facility × target) of distances.

        A facility standing on a node has distance 0 there: such pairs are kept as explicit
        zeros, so use ``.nnz``/``.indices`` rather than ``!= 0`` to find reached pairs.
        """
        order = np.lexsort((self.target, self.facility))
        f, t, d = self.facility[order], self.target[order], self.dist_m[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(f, minlength=self.n_facilities))])
        return csr_matrix((d, t, indptr), shape=(self.n_facilities, self.n_targets))

    def within(self, cutoff_m: float) -> Reach:
        """Return the pairs within a smaller cutoff."""
        if cutoff_m >= self.cutoff_m:
            return self
        keep = self.dist_m <= cutoff_m
        return Reach(
            self.facility[keep],
            self.target[keep],
            self.dist_m[keep],
            self.labels,
            self.n_targets,
            float(cutoff_m),
            self.ordered,
        )

    def to_frame(self) -> pd.DataFrame:
        """Return the pairs as a DataFrame: ``label``, ``target``, ``dist_m``."""
        return pd.DataFrame(
            {"label": self.labels[self.facility], "target": self.target, "dist_m": self.dist_m}
        )


def sorted_reach(
    fac: np.ndarray,
    tgt: np.ndarray,
    dist: np.ndarray,
    labels: np.ndarray,
    n_targets: int,
    cutoff_m: float,
    ordered: bool = True,
) -> Reach:
    """Build a :class:`Reach` from unordered pairs, sorted by (target, distance, facility).

    With ``ordered=False`` the pairs are only grouped by target (a stable counting sort).
    """
    # labels are sorted, so facility order = label order
    kernels = _kernels() if len(fac) else None
    if not ordered and len(tgt) * 4 < n_targets:  # few pairs over many targets: no O(targets)
        order = np.argsort(tgt, kind="stable")
    elif kernels is not None:
        order = kernels.order_pairs(
            tgt.astype(np.int64, copy=False),
            dist.astype(np.float64, copy=False),
            fac.astype(np.int64, copy=False),
            int(n_targets),
            bool(ordered),
        )
    elif ordered:
        order = np.lexsort((fac, dist, tgt))
    else:
        order = np.argsort(tgt, kind="stable")
    return Reach(
        fac[order].astype(np.int64, copy=False),
        tgt[order].astype(np.int64, copy=False),
        dist[order].astype(np.float64, copy=False),
        labels,
        int(n_targets),
        float(cutoff_m),
        bool(ordered),
    )


def reach_matrix(
    net: WalkNetwork,
    seeds: Seeds | Sites,
    cutoff_m: float,
    *,
    backend: str = "auto",
    batch_size: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    targets: np.ndarray | None = None,
    ordered: bool = True,
) -> Reach:
    """Every facility's reached nodes within ``cutoff_m``, from one bounded search per facility.

    A facility's seeds (both ends of its edge with their partial lengths and the walk to the
    street, or several entrances) start its search together, so mid-edge facilities are exact.
    Each search stops at ``cutoff_m`` and only its reached nodes are kept: memory is
    proportional to the reached pairs, never to facilities × nodes. Costs and start distances
    are rounded as in :mod:`lifecircle_geo.engine` (``COST_QUANTUM_M``), so a facility's
    distances are bit-identical to a :func:`~lifecircle_geo.engine.multi_source` search from it
    alone, and equal distances are exactly equal.

    Parameters
    ----------
    net : WalkNetwork
    seeds : Seeds or Sites
        Start points; ``label`` says which facility each belongs to. Sites are turned into
        seeds at both ends of their edges (:meth:`Sites.seeds`).
    cutoff_m : float
        Search radius in metres.
    backend : {"auto", "numba", "scipy"}
        ``"numba"``: a compiled bounded search per facility (a bucket queue, as the engine's)
        that touches only reached nodes, run on ``n_jobs`` threads. ``"scipy"``:
        ``scipy.sparse.csgraph.dijkstra`` over batches of facilities, each a virtual source
        joined to its seeds; every batch row is compressed to its finite entries at once (a
        ``batch_size × n_nodes`` buffer at a time). ``"auto"``: numba when importable.
    batch_size : int, optional
        Facilities per batch (default: numba 256; scipy so that a batch's dense buffer stays
        under about 64 MB).
    n_jobs : int, optional
        Threads for the numba backend (default: all cores).
    progress : bool, optional
        tqdm progress bar over batches (default ``settings.progress``).
    targets : ndarray of bool, optional
        Keep only the pairs of these nodes (a mask over nodes; the searches still walk
        through every node). Memory and the sort then grow with the pairs wanted, e.g. the
        end nodes of residents' edges, not with everything within the cutoff.
    ordered : bool
        Sort each target's pairs by distance (default); False leaves them only grouped by
        target, which is all :func:`~lifecircle_geo.routing.reach_at_points` needs.

    Returns
    -------
    Reach
        Targets are node positions.

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> r = reach_matrix(net, Seeds(np.array([0, 2]), np.array([0.0, 10.0]), np.array([5, 7])),
    ...                  cutoff_m=150)
    >>> r.to_frame().values.tolist()
    [[5.0, 0.0, 0.0], [5.0, 1.0, 100.0], [7.0, 1.0, 110.0], [7.0, 2.0, 10.0]]
    """
    cutoff_m = check_cutoff(cutoff_m)
    if not isinstance(seeds, Seeds):
        seeds = seeds.seeds(net)
    node = np.asarray(seeds.node, dtype=np.int64)
    off = np.asarray(seeds.dist_m, dtype=np.float64)
    lab = np.asarray(seeds.label, dtype=np.int64)
    if node.size and (node.min() < 0 or node.max() >= net.n_nodes):
        raise InputError(f"seed nodes must be node positions in 0..{net.n_nodes - 1}")
    if off.size and (not np.all(np.isfinite(off)) or off.min() < 0):
        raise InputError("seed start distances must be finite and >= 0")
    if targets is None:
        keep = np.ones(net.n_nodes, dtype=bool)
    else:
        keep = np.asarray(targets)
        if keep.dtype != bool or keep.shape != (net.n_nodes,):
            raise InputError(
                f"targets must be a boolean mask over the {net.n_nodes} nodes, "
                f"got {keep.dtype} of shape {keep.shape}"
            )
    labels, fac_of_seed = np.unique(lab, return_inverse=True)
    q = quantum(cutoff_m)
    off = quantize(off, q)
    empty = np.empty(0, dtype=np.int64)
    if len(labels) == 0:
        return Reach(empty, empty, np.empty(0), labels, net.n_nodes, cutoff_m)
    order = np.lexsort((off, node, fac_of_seed))
    s_fac, s_node, s_off = fac_of_seed[order], node[order], off[order]
    seed_ptr = np.concatenate([[0], np.cumsum(np.bincount(s_fac, minlength=len(labels)))])
    backend = _choose_backend(backend)
    show = settings.progress if progress is None else progress
    g = search_csr(net, q)
    n_fac = len(labels)
    if backend == "numba":
        bs = batch_size or 256
        batches = [(a, min(a + bs, n_fac)) for a in range(0, n_fac, bs)]
        kernel = _numba_kernel()
        indptr, indices, data = search_arrays(net, q)
        # any width gives the same distances; at most 65,536 buckets to empty per facility
        width = max(_bucket_width(data, cutoff_m), cutoff_m / 65536.0)

        def run(batch: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a, b = batch
            lo, hi = seed_ptr[a], seed_ptr[b]
            f, t, d = kernel(
                indptr,
                indices,
                data,
                net.n_nodes,
                seed_ptr[a : b + 1] - lo,
                s_node[lo:hi],
                s_off[lo:hi],
                cutoff_m,
                keep,
                width,
            )
            return f + a, t, d

        workers = n_jobs or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batches)))) as pool:
            parts = list(
                tqdm(
                    pool.map(run, batches),
                    total=len(batches),
                    disable=not show,
                    desc="per-facility searches",
                    leave=False,
                )
            )
    else:
        bs = batch_size or max(1, int(64e6 // (8 * (net.n_nodes + 1))))
        batches = [(a, min(a + bs, n_fac)) for a in range(0, n_fac, bs)]
        parts = [
            _scipy_batch(g, net.n_nodes, a, b, seed_ptr, s_node, s_off, cutoff_m, keep)
            for a, b in tqdm(batches, disable=not show, desc="per-facility searches", leave=False)
        ]
    fac = np.concatenate([p[0] for p in parts]) if parts else empty
    tgt = np.concatenate([p[1] for p in parts]) if parts else empty
    dist = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
    r = sorted_reach(fac, tgt, dist, labels, net.n_nodes, cutoff_m, ordered)
    log.debug(
        "reach_matrix: %d facilities, %d reached pairs (%.1f MB), backend %s",
        n_fac,
        len(r),
        r.nbytes / 1e6,
        backend,
    )
    return r


def _choose_backend(backend: str) -> str:
    if backend not in ("auto", "numba", "scipy"):
        raise InputError(f"backend must be 'auto', 'numba' or 'scipy', got {backend!r}")
    if backend == "scipy":
        return backend
    try:
        _numba_kernel()
    except ImportError:
        if backend == "numba":
            raise InputError("backend='numba' needs numba installed") from None
        log.info("numba is not importable: per-facility searches use scipy")
        return "scipy"
    return "numba"


def _scipy_batch(
    g: csr_matrix,
    n: int,
    a: int,
    b: int,
    seed_ptr: np.ndarray,
    s_node: np.ndarray,
    s_off: np.ndarray,
    cutoff_m: float,
    keep: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facilities a..b-1: virtual sources n..n+B-1 joined to their seeds, one dijkstra call.

    Only the pairs of nodes with ``keep`` are returned.
    """
    nb = b - a
    lo, hi = seed_ptr[a], seed_ptr[b]
    counts = np.diff(seed_ptr[a : b + 1])
    indptr = np.concatenate([g.indptr, g.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([g.indices, s_node[lo:hi]])
    # explicit zeros in a CSR matrix are edges for csgraph: zero start offsets are kept
    data = np.concatenate([g.data, s_off[lo:hi]])
    aug = csr_matrix((data, indices, indptr), shape=(n + nb, n + nb))
    dist = dijkstra(aug, directed=True, indices=np.arange(n, n + nb), limit=cutoff_m)
    dist = dist[:, :n]
    rows, cols = np.nonzero(np.isfinite(dist) & keep[None, :])
    d = dist[rows, cols]
    del dist
    return rows.astype(np.int64) + a, cols.astype(np.int64), d


def _kernels() -> ModuleType | None:
    """Return the compiled kernels module, or None where numba cannot be imported."""
    try:
        from . import _reach_kernels
    except ImportError:  # pragma: no cover - numba is a dependency; scipy is the fallback
        return None
    return _reach_kernels


def _numba_kernel() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return the compiled bounded per-facility Dijkstra (ImportError without numba)."""
    kernels = _kernels()
    if kernels is None:
        raise ImportError("numba is not installed")
    return kernels.bounded_searches
