"""Accessibility measures beyond "nearest": service areas, counts, nearest-k, 2SFCA and gravity.

Two kinds of search feed these measures:

* **One multi-source search** (:func:`lifecircle_geo.routing.multi_source`) partitions the street
  nodes among facilities: every reached node belongs to the facility nearest to it. That is all
  :func:`service_areas` needs.
* **Sparse per-facility bounded searches** (:func:`reach_matrix`) give, for every facility, the
  nodes within ``cutoff_m`` and their distances, stored as a list of (facility, node, distance)
  triples -- never a dense facility × node matrix, so memory grows with the number of reached
  pairs, not with facilities × nodes. Counts (:func:`count_within`), the k nearest
  (:func:`nearest_k`), two-step floating catchment (:func:`two_step_fca`) and gravity potentials
  (:func:`gravity`) are all derived from it, at nodes or, through :func:`reach_at_points`, at
  resident points with their walk to the street.

Labels are facility ids: by convention the facility's row position in the facility table, so
per-facility inputs (capacity) are looked up by label. Ties: a :class:`Reach` keeps each target's
pairs sorted by (distance, label), so where facilities are equally far :func:`nearest_k` lists
the smaller label first. :func:`service_areas` takes its partition from
:func:`~lifecircle_geo.routing.multi_source` and inherits that function's tie rule.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> from lifecircle_geo.routing import Seeds
>>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3],
...                               [100.0, 100.0, 100.0], crs=32651)
>>> seeds = Seeds(np.array([0, 3]), np.zeros(2), np.array([0, 1]))
>>> r = reach_matrix(net, seeds, cutoff_m=250)
>>> count_within(r).tolist()
[1, 2, 2, 1]
>>> d, lab = nearest_k(r, k=2)
>>> d[1].tolist(), lab[1].tolist()
([100.0, 200.0], [0, 1])
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError
from .network import WalkNetwork
from .routing import (
    Reach,
    Seeds,
    Sites,
    Snap,
    multi_source,
    point_distances,
    reach_at_points,
    reach_matrix,
)
from .routing import check_cutoff as _check_cutoff

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

log = logging.getLogger(__name__)

__all__ = [
    "Decay",
    "FcaResult",
    "Reach",
    "ServiceAreas",
    "capacities",
    "count_within",
    "decay",
    "gravity",
    "nearest_k",
    "reach_at_points",
    "reach_matrix",
    "service_areas",
    "service_load",
    "two_step_fca",
]

#: Largest k accepted by :func:`nearest_k`.
MAX_K = 5


# ====================================================================== service areas
@dataclass
class ServiceAreas:
    """Which facility serves each node (and resident point), and each facility's load.

    Attributes
    ----------
    node_label : ndarray of int64, shape (n_nodes,)
        Label of the nearest facility within the cutoff; -1 where none.
    node_dist_m : ndarray of float64, shape (n_nodes,)
        Walk to that facility; ``inf`` where none.
    point_label, point_dist_m : ndarray or None
        The same for the demand points (with their walk to the street), when given.
    load : DataFrame
        One row per facility label (index ``label``): ``n_nodes`` served, ``n_points`` served
        (when points were given) and ``population`` served (when population was given).
    cutoff_m : float
    """

    node_label: np.ndarray
    node_dist_m: np.ndarray
    point_label: np.ndarray | None
    point_dist_m: np.ndarray | None
    load: pd.DataFrame
    cutoff_m: float


def service_areas(
    net: WalkNetwork,
    seeds: Seeds | Sites,
    cutoff_m: float,
    demand_snap: Snap | None = None,
    population: ArrayLike | None = None,
    *,
    labels: ArrayLike | None = None,
) -> ServiceAreas:
    """Partition the reached nodes (and demand points) among facilities; population per facility.

    One bounded multi-source search: each node goes to its nearest facility (the label
    :func:`~lifecircle_geo.engine.multi_source` returns), so the service areas are disjoint
    and cover exactly the reached nodes.

    Parameters
    ----------
    net : WalkNetwork
    seeds : Seeds or Sites
        Facility start points; with :class:`~lifecircle_geo.routing.Sites`, residents on a
        facility's own edge walk straight to it.
    cutoff_m : float
        Search radius in metres; nodes and points farther from every facility get label -1.
    demand_snap : Snap, optional
        Demand points snapped with :meth:`WalkNetwork.snap`; they are assigned with their walk
        to the street (:func:`~lifecircle_geo.routing.point_distances`).
    population : array-like of float, optional
        People per demand point (when ``demand_snap`` is given) or per node (otherwise).
    labels : array-like of int, optional
        Every facility label to report in ``load`` (default: the labels of ``seeds``).

    Returns
    -------
    ServiceAreas

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3],
    ...                               [100.0, 100.0, 100.0], crs=32651)
    >>> sa = service_areas(net, Seeds(np.array([0, 3]), np.zeros(2), np.array([0, 1])), 1000,
    ...                    population=[10, 20, 30, 40])
    >>> sa.node_label.tolist()
    [0, 0, 1, 1]
    >>> sa.load["population"].tolist()
    [30.0, 70.0]
    """
    cutoff_m = _check_cutoff(cutoff_m)
    sites = seeds if isinstance(seeds, Sites) else None
    if sites is not None:
        seeds = sites.seeds(net)
    dist_node, lab_node = multi_source(net, seeds, cutoff_m)
    all_labels = np.unique(np.asarray(seeds.label if labels is None else labels, dtype=np.int64))
    load = pd.DataFrame(index=pd.Index(all_labels, name="label"))
    load["n_nodes"] = _per_label(lab_node, None, all_labels).astype(np.int64)
    p_lab = p_dist = None
    if demand_snap is not None:
        p_dist, p_lab = point_distances(net, dist_node, lab_node, demand_snap, sites)
        load["n_points"] = _per_label(p_lab, None, all_labels).astype(np.int64)
    if population is not None:
        pop = np.asarray(population, dtype=np.float64).ravel()
        owner = lab_node if demand_snap is None else p_lab
        if len(pop) != len(owner):
            where = "demand point" if demand_snap is not None else "node"
            raise InputError(
                f"population needs one value per {where} ({len(owner)}), got {len(pop)}"
            )
        load["population"] = _per_label(owner, pop, all_labels)
    return ServiceAreas(lab_node, dist_node, p_lab, p_dist, load, cutoff_m)


def service_load(
    nearest_label: np.ndarray,
    walk_m: np.ndarray,
    threshold_m: np.ndarray | float,
    population: np.ndarray,
    n_facilities: int,
) -> np.ndarray:
    """People each facility serves: residents within the threshold, at their nearest facility.

    Parameters
    ----------
    nearest_label : ndarray of int
        Each resident point's nearest facility (label = row in the facility table; -1: none).
    walk_m : ndarray of float
        Each point's walk to that facility.
    threshold_m : float or ndarray of float
        The standard's distance, one for all or one per point (area types differ).
    population : ndarray of float
        People per point.
    n_facilities : int
        Number of facilities (labels 0..n_facilities-1).

    Returns
    -------
    ndarray of float64, shape (n_facilities,)

    Examples
    --------
    >>> service_load(np.array([0, 0, 1, -1]), np.array([100.0, 900.0, 50.0, np.inf]), 500,
    ...              np.array([10.0, 20.0, 30.0, 40.0]), 3).tolist()
    [10.0, 30.0, 0.0]
    """
    lab = np.asarray(nearest_label, dtype=np.int64)
    within = (np.asarray(walk_m) <= threshold_m) & (lab >= 0)
    pop = np.asarray(population, dtype=np.float64)
    return np.bincount(lab[within], weights=pop[within], minlength=n_facilities).astype(np.float64)


def _per_label(owner: np.ndarray, weights: np.ndarray | None, all_labels: np.ndarray) -> np.ndarray:
    """Sum of ``weights`` (or counts) per label, aligned with ``all_labels``."""
    out = np.zeros(len(all_labels))
    ok = owner >= 0
    if not ok.any() or len(all_labels) == 0:
        return out
    pos = np.searchsorted(all_labels, owner[ok])
    pos = np.minimum(pos, len(all_labels) - 1)
    found = all_labels[pos] == owner[ok]
    w = np.ones(int(ok.sum())) if weights is None else weights[ok]
    np.add.at(out, pos[found], w[found])
    return out


# ====================================================================== sparse reach
# Reach, reach_matrix and reach_at_points live in the routing core and are re-exported here.


def count_within(reach: Reach, cutoff_m: float | None = None) -> np.ndarray:
    """Count the facilities within ``cutoff_m`` of each target (node or point).

    Parameters
    ----------
    reach : Reach
        From :func:`reach_matrix` or :func:`reach_at_points`.
    cutoff_m : float, optional
        At most ``reach.cutoff_m`` (default: that).

    Returns
    -------
    ndarray of int64, shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> r = reach_matrix(net, Seeds(np.array([0, 2]), np.zeros(2), np.array([0, 1])), 200)
    >>> count_within(r, 100).tolist()
    [1, 2, 1]
    """
    r = reach.within(_sub_cutoff(reach, cutoff_m))
    return np.bincount(r.target, minlength=r.n_targets).astype(np.int64)


def nearest_k(
    reach: Reach,
    k: int,
    cutoff_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find each target's ``k`` nearest facilities within ``cutoff_m``: distances and labels.

    Ties are broken deterministically: equal distances list the smaller label first.

    Parameters
    ----------
    reach : Reach
    k : int
        1 to 5.
    cutoff_m : float, optional
        At most ``reach.cutoff_m`` (default: that).

    Returns
    -------
    dist_m : ndarray of float64, shape (n_targets, k)
        Ascending; ``inf`` where fewer than k facilities are within reach.
    label : ndarray of int64, shape (n_targets, k)
        -1 where none.

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> r = reach_matrix(net, Seeds(np.array([0, 2]), np.zeros(2), np.array([4, 3])), 150)
    >>> d, lab = nearest_k(r, 2)
    >>> d[1].tolist(), lab[1].tolist(), lab[0].tolist()
    ([100.0, 100.0], [3, 4], [4, -1])
    """
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise InputError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    if not reach.ordered:
        raise InputError("nearest_k needs a reach sorted by distance: build it with ordered=True")
    r = reach.within(_sub_cutoff(reach, cutoff_m))
    dist = np.full((r.n_targets, k), np.inf)
    label = np.full((r.n_targets, k), -1, dtype=np.int64)
    # pairs are sorted by (target, dist, label): a pair's rank is its offset in its target's run
    rank = np.arange(len(r)) - r.indptr[r.target]
    keep = rank < k
    dist[r.target[keep], rank[keep]] = r.dist_m[keep]
    label[r.target[keep], rank[keep]] = r.labels[r.facility[keep]]
    return dist, label


def _sub_cutoff(reach: Reach, cutoff_m: float | None) -> float:
    if cutoff_m is None:
        return reach.cutoff_m
    if cutoff_m > reach.cutoff_m * (1 + 1e-12):
        raise InputError(
            f"cutoff_m={cutoff_m:g} exceeds the reach's search radius "
            f"{reach.cutoff_m:g}; search again with a larger cutoff"
        )
    return float(cutoff_m)


# ====================================================================== decay
_GAUSS_E = math.exp(-0.5)


@dataclass(frozen=True)
class Decay:
    """A distance-decay weight: a vectorized function of metres, 0 beyond ``cutoff_m``.

    Build one with :func:`decay`. Calling it on an array of distances returns weights in
    [0, 1] (a user callable may return other non-negative values).
    """

    kind: str
    cutoff_m: float
    params: dict = field(default_factory=dict)
    func: Callable | None = field(default=None, repr=False, compare=False)

    def __call__(self, dist_m: ArrayLike) -> np.ndarray:
        """Return the weight ``w(d)`` of each walk ``dist_m`` (metres); 0 beyond the cutoff."""
        d = np.asarray(dist_m, dtype=np.float64)
        inside = d <= self.cutoff_m
        d0 = self.cutoff_m
        with np.errstate(over="ignore", invalid="ignore"):
            if self.kind == "step":
                w = np.ones_like(d)
            elif self.kind == "linear":
                w = 1.0 - d / d0
            elif self.kind == "exponential":
                w = np.exp(-self.params["beta_per_m"] * d)
            elif self.kind == "gaussian":
                w = (np.exp(-0.5 * (d / d0) ** 2) - _GAUSS_E) / (1.0 - _GAUSS_E)
            else:
                w = np.asarray(self.func(d), dtype=np.float64)
                if w.shape != d.shape:
                    w = np.broadcast_to(w, d.shape).astype(np.float64)
        return np.where(inside, np.clip(w, 0.0, None), 0.0)


def decay(kind: str | Callable | Decay, cutoff_m: float, **params: float) -> Decay:
    """Make a distance-decay function for catchment measures, zero beyond ``cutoff_m``.

    With ``d`` the walk in metres and ``d0 = cutoff_m``, for ``d <= d0`` (0 beyond):

    ========================  ==============================================================
    ``"step"``                ``1``
    ``"linear"``              ``1 - d / d0`` (0.5 at half the cutoff)
    ``"exponential"``         ``exp(-beta_per_m * d)``; ``beta_per_m`` (per metre) required
    ``"gaussian"``            ``(exp(-½ (d/d0)²) - exp(-½)) / (1 - exp(-½))``: 1 at 0 and 0
                              at ``d0`` (the Gaussian 2SFCA form of Dai 2010 / Shi et al.)
    a callable ``f``          ``f(d)``, called with an array of distances (vectorized)
    ========================  ==============================================================

    Parameters
    ----------
    kind : str, callable or Decay
    cutoff_m : float
        Catchment size ``d0`` in metres.
    **params
        ``beta_per_m`` for ``"exponential"``.

    Returns
    -------
    Decay
        A callable: ``w = f(dist_m)``.

    Examples
    --------
    >>> decay("linear", 1000)([0, 500, 1000, 1200]).tolist()
    [1.0, 0.5, 0.0, 0.0]
    >>> round(float(decay("exponential", 1000, beta_per_m=0.002)(500)), 4)
    0.3679
    >>> decay("gaussian", 1000)([0, 1000]).tolist()
    [1.0, 0.0]
    """
    cutoff_m = _check_cutoff(cutoff_m)
    if isinstance(kind, Decay):
        return Decay(kind.kind, cutoff_m, dict(kind.params), kind.func)
    if callable(kind):
        if params:
            raise InputError(f"a callable decay takes no parameters, got {sorted(params)}")
        return Decay(getattr(kind, "__name__", "callable"), cutoff_m, {}, kind)
    kinds = ("step", "linear", "exponential", "gaussian")
    if kind not in kinds:
        raise InputError(f"decay kind must be one of {kinds} or a callable, got {kind!r}")
    if kind == "exponential":
        beta = params.get("beta_per_m")
        if beta is None or not np.isfinite(beta) or beta < 0:
            raise InputError(
                "exponential decay needs beta_per_m >= 0 (per metre), e.g. "
                "decay('exponential', 1000, beta_per_m=0.002)"
            )
        unknown = set(params) - {"beta_per_m"}
    else:
        unknown = set(params)
    if unknown:
        raise InputError(f"decay {kind!r} does not take {sorted(unknown)}")
    return Decay(kind, cutoff_m, {k: float(v) for k, v in params.items()})


def _as_decay(w: str | Callable | Decay, reach: Reach) -> Decay:
    if isinstance(w, Decay):
        if w.cutoff_m > reach.cutoff_m * (1 + 1e-12):
            raise InputError(
                f"the decay's cutoff ({w.cutoff_m:g} m) exceeds the reach's search "
                f"radius ({reach.cutoff_m:g} m)"
            )
        return w
    return decay(w, reach.cutoff_m)


# ====================================================================== supply and demand
def capacities(
    facilities: pd.DataFrame | pd.Series | ArrayLike | None,
    labels: ArrayLike | None = None,
    column: str = "capacity",
    default: float = 1.0,
) -> np.ndarray:
    """Facility supply (beds, seats, m²) by label; missing values get ``default``.

    Parameters
    ----------
    facilities : DataFrame, Series, array-like or None
        A table with ``column`` (row position = label), a Series indexed by label, or an
        array indexed by label. None: every facility supplies ``default``.
    labels : array-like of int, optional
        Labels to return (default: every row).
    column : str
        Capacity column of a table; a table without it supplies ``default`` everywhere.
    default : float
        Supply where the value is missing (NaN) or the column is absent.

    Returns
    -------
    ndarray of float64
        One value per label.

    Examples
    --------
    >>> import pandas as pd
    >>> capacities(pd.DataFrame({"capacity": [30, None, 10]}), default=5).tolist()
    [30.0, 5.0, 10.0]
    """
    if facilities is None:
        if labels is None:
            raise InputError("capacities(None) needs labels")
        return np.full(len(np.asarray(labels)), float(default))
    if isinstance(facilities, pd.DataFrame):
        if column not in facilities.columns:
            log.info(
                "no %r column in the facility table: every facility supplies %g", column, default
            )
            vals = np.full(len(facilities), float(default))
        else:
            vals = pd.to_numeric(facilities[column], errors="coerce").to_numpy(dtype=float)
    elif isinstance(facilities, pd.Series):
        s = pd.to_numeric(facilities, errors="coerce")
        if labels is None:
            vals = s.to_numpy(dtype=float)
        else:
            vals = s.reindex(np.asarray(labels)).to_numpy(dtype=float)
            return np.where(np.isnan(vals), float(default), vals)
    else:
        vals = np.asarray(facilities, dtype=float).ravel()
    if labels is not None:
        lab = np.asarray(labels, dtype=np.int64)
        if lab.size and (lab.min() < 0 or lab.max() >= len(vals)):
            raise InputError(
                f"facility labels must be row positions 0..{len(vals) - 1} of the "
                f"capacity table; got labels up to {lab.max()}"
            )
        vals = vals[lab]
    if np.any(vals[~np.isnan(vals)] < 0):
        raise InputError("facility capacity must be >= 0")
    return np.where(np.isnan(vals), float(default), vals)


@dataclass
class FcaResult:
    """What :func:`two_step_fca` returns.

    Attributes
    ----------
    access : ndarray of float64, shape (n_targets,)
        ``A_i``: supply per person reachable from each target (0 where nothing is).
    facilities : DataFrame
        Index ``label``: ``supply`` (S_j), ``demand`` (the weighted population in the
        catchment, sum P_k w(d_kj)) and ``ratio`` (R_j = S_j / demand; NaN where no one is in
        the catchment).
    decay : Decay
    """

    access: np.ndarray
    facilities: pd.DataFrame
    decay: Decay


def two_step_fca(
    reach: Reach,
    population: ArrayLike,
    supply: pd.DataFrame | pd.Series | ArrayLike | None = None,
    decay_fn: str | Callable | Decay = "step",
    *,
    access_reach: Reach | None = None,
    default_supply: float = 1.0,
) -> FcaResult:
    """Two-step floating catchment area (2SFCA), with any distance decay (G2SFCA, E2SFCA).

    Step 1, each facility j: ``R_j = S_j / Σ_{k: d_kj <= d0} P_k · w(d_kj)``.
    Step 2, each target i: ``A_i = Σ_{j: d_ij <= d0} R_j · w(d_ij)``.

    ``d0`` is the decay's cutoff (the reach's cutoff for a kind given by name). A facility
    with nobody in its catchment has no ratio (NaN) and adds nothing to ``A``. Multiply
    ``A`` by 1,000 for "per 1,000 residents".

    Parameters
    ----------
    reach : Reach
        Facility × demand-location distances (resident points from :func:`reach_at_points`,
        or nodes from :func:`reach_matrix`).
    population : array-like of float
        ``P_k``, one per target of ``reach``.
    supply : optional
        ``S_j``: a facility table with a ``capacity`` column, a Series by label, an array by
        label, or None (every facility supplies ``default_supply``); see :func:`capacities`.
    decay_fn : str, callable or Decay
        Weight ``w(d)``; a name or callable is turned into :func:`decay` with
        ``cutoff_m = reach.cutoff_m``.
    access_reach : Reach, optional
        Where to evaluate ``A_i`` (e.g. every node for a map) when not the demand targets;
        same facilities and labels.
    default_supply : float
        Supply of facilities without a capacity.

    Returns
    -------
    FcaResult

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> r = reach_matrix(net, Seeds(np.array([0]), np.zeros(1), np.array([0])), 150)
    >>> res = two_step_fca(r, population=[10, 30, 50], supply=[8.0])
    >>> res.facilities["ratio"].tolist(), res.access.tolist()
    ([0.2], [0.2, 0.2, 0.0])
    """
    w_fn = _as_decay(decay_fn, reach)
    pop = np.asarray(population, dtype=np.float64).ravel()
    if len(pop) != reach.n_targets:
        raise InputError(
            f"population needs one value per demand target ({reach.n_targets}), got {len(pop)}"
        )
    if np.any(pop < 0) or not np.all(np.isfinite(pop)):
        raise InputError("population must be finite and >= 0")
    s = capacities(supply, reach.labels, default=default_supply)
    w = w_fn(reach.dist_m)
    demand = np.bincount(
        reach.facility, weights=pop[reach.target] * w, minlength=reach.n_facilities
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand > 0, s / demand, np.nan)
    ar = reach if access_reach is None else access_reach
    if access_reach is not None and not np.array_equal(access_reach.labels, reach.labels):
        raise InputError("access_reach must come from the same facilities (labels differ)")
    wa = w if access_reach is None else w_fn(ar.dist_m)
    r_used = np.nan_to_num(ratio, nan=0.0)
    access = np.bincount(ar.target, weights=r_used[ar.facility] * wa, minlength=ar.n_targets)
    n_empty = int(np.sum(demand <= 0))
    if n_empty:
        log.info("2SFCA: %d facilities have nobody in their catchment (ratio NaN)", n_empty)
    fac = pd.DataFrame(
        {"supply": s, "demand": demand, "ratio": ratio}, index=pd.Index(reach.labels, name="label")
    )
    return FcaResult(access, fac, w_fn)


def gravity(
    reach: Reach,
    supply: pd.DataFrame | pd.Series | ArrayLike | None = None,
    decay_fn: str | Callable | Decay = "step",
    *,
    default_supply: float = 1.0,
) -> np.ndarray:
    """Gravity (Hansen) potential: ``A_i = Σ_{j: d_ij <= d0} S_j · w(d_ij)`` at each target.

    With ``"step"`` decay and no supply this is the count of facilities within the cutoff;
    with capacities, the supply within reach. For the competition-adjusted form (Shen 1998),
    whose denominator is the weighted population of each facility's catchment, use
    :func:`two_step_fca` with the same decay: it is that measure.

    Parameters
    ----------
    reach : Reach
    supply : optional
        As for :func:`two_step_fca`.
    decay_fn : str, callable or Decay
    default_supply : float

    Returns
    -------
    ndarray of float64, shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> r = reach_matrix(net, Seeds(np.array([0]), np.zeros(1), np.array([0])), 200)
    >>> gravity(r, supply=[10.0], decay_fn="linear").tolist()
    [10.0, 5.0, 0.0]
    """
    w_fn = _as_decay(decay_fn, reach)
    s = capacities(supply, reach.labels, default=default_supply)
    return np.bincount(
        reach.target, weights=s[reach.facility] * w_fn(reach.dist_m), minlength=reach.n_targets
    )
