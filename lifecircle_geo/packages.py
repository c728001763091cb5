"""Project packages (项目包): a few multi-function sites per 街镇 chosen by maximum covering.

A 街镇 hands in a short list of projects a year (the 2025 action plan's annex counts 2,454
projects for about 215 街镇, about 11 each). A package is one site with a set of functions:
one site can host several categories (a 人民坊-type hub with 党群服务, 养老, 托育, 学习 under one
roof) or one or two (a 六艺亭-type point). :func:`select_packages` chooses, per 街镇, the sites
and their functions that bring the most gap residents within their standard, all categories at
once:

* the **elements** are (resident point, category) pairs of the 街镇's ``project`` gaps: the
  category's target-group people of a unit with a gap in that category who are beyond the
  category's threshold (for the unit's area type). Only residents of gap units count: a unit
  that meets its standard asks for nothing, and residents of another 街镇 are that 街镇's;
* an element's **weight** is its people × ``priority_decay ** priority`` (the class priority
  of the unit's area type, 0 first; default decay 0.5, so a 基础保障 resident counts as two
  品质提升 residents); each element counts once, however many chosen sites reach it;
* choosing site *s* with function *c* covers the elements of *c* within *c*'s threshold of
  *s* (the same walk as every other measure, :func:`lifecircle_geo.routing.reach_at_points`);
* a site hosts at most its **capacity** of functions (:func:`site_capacity`: a space under
  800 m² hosts 1-2, a larger one or a street node up to ``max_functions``), each 街镇 opens at
  most ``budget`` sites (packages; default ``min(11, 2 × units)``), and each unit holds at most
  ``hubs_per_unit`` hubs (default 1).

A package is a **人民坊-type hub** when its space has at least 800 m² (floor area known) or,
floor area unknown, when it hosts at least 3 functions; otherwise it is a **六艺亭-type point**
(1-2 functions). The **hub rule** comes first: each unit with a ``project`` gap in the
category whose facility types include 人民坊 (``party_service``), largest gap first, gets a hub
that hosts that category and reaches its residents (:func:`select_packages`, ``hub_first``).

Two solvers share the formulation (:func:`max_cover`): ``"greedy"`` opens, one at a time, the
site whose best bundle of functions gains the most weight (lazy evaluation on a heap: bundle
gains only fall as coverage grows, so a stale heap key is an upper bound; one sparse product
scores every site × category at once), then improves the set by swaps (each package replaced
by the best one given the others while that gains); ``"milp"`` solves the same problem exactly
with :func:`scipy.optimize.milp` (HiGHS; for small instances and for checking the greedy).
Every greedy run reports an a-posteriori upper bound on the optimum (the greedy objective
plus the ``budget`` largest bundle gains left, valid because coverage is submodular in (site,
function) pairs); with uncapped sites and no hub quota the classic bound ``1 - 1/e`` holds as
well. Measured against the MILP (tests/test_packages.py, benchmarks/results/packages.md): equal
on most small instances, worst 0.93-0.95 of the optimum.

Examples
--------
>>> import numpy as np
>>> from scipy.sparse import csr_matrix
>>> reach = csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=bool))
>>> cover = max_cover(reach, category=[0, 1, 2, 0], weight=[5.0, 4.0, 3.0, 1.0], budget=1)
>>> cover.picks, cover.objective
([(0, (0, 1, 2))], 12.0)
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csc_matrix, csr_matrix, issparse

from .errors import InputError
from .gaps import _candidate_nodes, _street_nodes_by_x
from .routing import Seeds, Sites, Snap, reach_at_points, reach_matrix
from .routing._graph import quantum

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .network import WalkNetwork
    from .standards import Profile

__all__ = [
    "DEFAULT_PACKAGES_PER_JIEZHEN",
    "HUB_MIN_FLOOR_AREA_M2",
    "HUB_MIN_FUNCTIONS",
    "PLANNER_SPACE",
    "STREET_NODE",
    "Candidates",
    "Cover",
    "Packages",
    "candidates",
    "default_budget",
    "hub_category",
    "max_cover",
    "select_packages",
    "site_capacity",
]

log = logging.getLogger(__name__)

#: Kind of a candidate that is a street node (the fallback when the planner gives no space).
STREET_NODE = "street node"
#: Kind of a planner space whose layer has no ``kind`` column.
PLANNER_SPACE = "规划空间"
#: Packages per 街镇 by default (capped at two per unit): the 2025 action plan's annex counts
#: 2,454 projects for about 215 街镇, about 11 each (长宁区: 100 for its 10 街镇).
DEFAULT_PACKAGES_PER_JIEZHEN = 11
#: A 人民坊-type hub has at least this floor area (m²) where the floor area is known.
HUB_MIN_FLOOR_AREA_M2 = 800.0
#: A hub of unknown floor area has at least this many functions.
HUB_MIN_FUNCTIONS = 3
#: The facility type that marks the hub category (the profile's category listing it).
HUB_FACILITY_TYPE = "人民坊"
PACKAGE_TYPES = {"hub": ("人民坊", "hub"), "point": ("六艺亭", "point")}


# ---------------------------------------------------------------------------- candidates
@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites: planner spaces first, then street nodes (the fallback).

    Attributes
    ----------
    node : ndarray of int64
        The street node of a street-node candidate; -1 for a planner space (reached through
        its access points, ``access``).
    unit_id, jiezhen_code : ndarray of object
        The unit the site sits in (a space: its representative point) and the unit's 街镇.
    kind : ndarray of object
        :data:`STREET_NODE`, or the planner layer's ``kind`` (地块, 闲置建筑, 附属空间, ...;
        :data:`PLANNER_SPACE` without one).
    floor_area_m2 : ndarray of float64
        Usable floor area; NaN where unknown (every street node).
    name : ndarray of object
        The space's ``name`` (None for street nodes and unnamed spaces).
    geometry : ndarray of shapely geometries
        The space as given (point or polygon) or the node's point, network CRS.
    point : ndarray of shapely Points
        Where a package is drawn: the node, or the space's representative point.
    access : Sites
        The planner spaces' access points on the street (``label`` = candidate row).
    crs : Any
        The network's CRS.
    """

    node: np.ndarray
    unit_id: np.ndarray
    jiezhen_code: np.ndarray
    kind: np.ndarray
    floor_area_m2: np.ndarray
    name: np.ndarray
    geometry: np.ndarray
    point: np.ndarray
    access: Sites
    crs: Any = None

    def __post_init__(self) -> None:
        """Check one value per candidate in every array."""
        n = len(self.node)
        for f in ("unit_id", "jiezhen_code", "kind", "floor_area_m2", "name", "geometry", "point"):
            if len(getattr(self, f)) != n:
                raise InputError(f"Candidates: {n} nodes but {len(getattr(self, f))} {f}")

    def __len__(self) -> int:
        """Return the number of candidate sites."""
        return len(self.node)

    def __repr__(self) -> str:
        """Summarise the candidates by kind."""
        kinds = pd.Series(self.kind, dtype=object).value_counts().to_dict()
        return f"Candidates({len(self)} sites: {kinds})"

    @property
    def is_space(self) -> np.ndarray:
        """Whether each candidate is a planner space (not a street node)."""
        return self.node < 0

    def seeds(self, net: WalkNetwork, rows: np.ndarray | None = None) -> Seeds:
        """Search seeds of the candidates ``rows`` (all by default), labelled by candidate row.

        Parameters
        ----------
        net : WalkNetwork
            The network the candidates were built on.
        rows : ndarray of int, optional
            Candidate rows.

        Returns
        -------
        Seeds
            A street node starts at itself; a space at both ends of each access point's edge.
        """
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        nodes = rows[self.node[rows] >= 0]
        space = self._access_of(rows)
        s = space.seeds(net)
        return Seeds(
            np.concatenate([self.node[nodes], s.node]).astype(np.int64),
            # a space exactly on a node snaps with along_m = length ± 1e-14: clip at 0
            np.concatenate([np.zeros(len(nodes)), np.maximum(s.dist_m, 0.0)]),
            np.concatenate([nodes, s.label]).astype(np.int64),
        )

    def _access_of(self, rows: np.ndarray) -> Sites:
        keep = np.isin(self.access.label, rows[self.node[rows] < 0])
        return self.access.take(np.flatnonzero(keep))

    def to_frame(self) -> gpd.GeoDataFrame:
        """Return the candidates as a GeoDataFrame (network CRS, geometry = ``point``)."""
        return gpd.GeoDataFrame(
            {
                "node": self.node,
                "unit_id": self.unit_id,
                "jiezhen_code": self.jiezhen_code,
                "kind": self.kind,
                "floor_area_m2": self.floor_area_m2,
                "name": self.name,
            },
            geometry=list(self.point),
            crs=self.crs,
        )


def _unit_table(units: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    if "unit_id" not in units.columns:
        raise InputError("units need a 'unit_id' column (see lifecircle_geo.units.load)")
    if units.crs is None:
        raise InputError("units have no CRS: set it (units.set_crs(...)) before candidates()")
    out = units.to_crs(crs)
    if "jiezhen_code" not in out.columns:
        out = out.assign(jiezhen_code="")
    out = out.assign(jiezhen_code=out["jiezhen_code"].fillna("").astype(str))
    return out[["unit_id", "jiezhen_code", "geometry"]].reset_index(drop=True)


def candidates(
    net: WalkNetwork,
    units: gpd.GeoDataFrame,
    *,
    spaces: gpd.GeoDataFrame | None = None,
    max_per_unit: int = 100,
    street_nodes: str = "all",
    max_snap_m: float | None = None,
    spacing_m: float = 25.0,
) -> Candidates:
    """Candidate sites for packages: the planner's spaces, and street nodes as the fallback.

    Parameters
    ----------
    net : WalkNetwork
    units : GeoDataFrame
        Units with ``unit_id`` and ``jiezhen_code`` (any CRS).
    spaces : GeoDataFrame, optional
        The planner's layer: points or polygons (parcels, vacant or under-used buildings,
        附属空间 of institutions opening to the public, 2025 action plan 任务4), with optional
        ``floor_area_m2``, ``kind`` (地块, 闲置建筑, 附属空间, ...), ``name`` and ``entrances``.
        A polygon is reached through its mapped entrances or points every ``spacing_m`` along
        its boundary (:func:`lifecircle_geo.facilities.access_points`), each snapped to the
        street. A space belongs to the unit holding its representative point; a space outside
        every unit or farther than ``max_snap_m`` from any street is left out (logged).
    max_per_unit : int
        At most this many street nodes per unit, an even spatial sample (as
        :func:`lifecircle_geo.gaps._candidate_nodes`).
    street_nodes : {"all", "fallback", "none"}
        Street nodes in every unit (default), only in units without any planner space, or
        never. On equal gain the solver prefers a planner space (spaces come first).
    max_snap_m : float, optional
        Spaces farther from a street are left out (default ``settings.max_snap_m``).
    spacing_m : float
        Spacing of boundary access points of polygons without entrances.

    Returns
    -------
    Candidates

    Raises
    ------
    InputError
        Units or spaces without a CRS, a negative or non-numeric ``floor_area_m2`` (the row is
        named), or an unknown ``street_nodes``.
    """
    from .facilities import access_points

    if street_nodes not in ("all", "fallback", "none"):
        raise InputError(f"street_nodes must be 'all', 'fallback' or 'none', got {street_nodes!r}")
    ut = _unit_table(units, net.crs)
    jz_of = dict(zip(ut["unit_id"], ut["jiezhen_code"], strict=True))
    parts: dict[str, list] = {k: [] for k in ("unit", "kind", "floor", "name", "geom", "point")}
    access = Sites(net.snap(np.empty((0, 2))), np.empty(0, dtype=np.int64), points=np.empty(0))
    n_space = 0
    if spaces is not None and len(spaces):
        if spaces.crs is None:
            raise InputError("spaces have no CRS: set it (spaces.set_crs(...))")
        sp = spaces.to_crs(net.crs).reset_index(drop=True)
        sp = sp[sp.geometry.notna() & ~sp.geometry.is_empty].reset_index(drop=True)
        floor = _floor_area(sp)
        rep = sp.geometry.representative_point()
        hit = gpd.sjoin(
            gpd.GeoDataFrame(geometry=rep, crs=net.crs), ut, predicate="intersects", how="left"
        )
        hit = hit[~hit.index.duplicated(keep="first")].reindex(sp.index)
        inside = hit["unit_id"].notna().to_numpy()
        if (~inside).any():
            log.info(
                "%d of %d candidate spaces lie outside every unit and are left out: %s",
                int((~inside).sum()),
                len(sp),
                _names(sp, ~inside),
            )
        pts, owner = access_points(sp, spacing_m=spacing_m)
        snap = net.snap(pts, max_snap_m=max_snap_m)
        reached = np.zeros(len(sp), dtype=bool)
        reached[owner[snap.ok]] = True
        if (inside & ~reached).any():
            log.info(
                "%d candidate spaces are too far from any street and are left out: %s",
                int((inside & ~reached).sum()),
                _names(sp, inside & ~reached),
            )
        keep = np.flatnonzero(inside & reached)
        new_row = np.full(len(sp), -1, dtype=np.int64)
        new_row[keep] = np.arange(len(keep))
        take = np.flatnonzero(snap.ok & (new_row[owner] >= 0))
        access = Sites(snap.take(take), new_row[owner[take]], points=np.asarray(pts)[take])
        kind = (
            sp["kind"].fillna(PLANNER_SPACE).astype(str).to_numpy(dtype=object)
            if "kind" in sp.columns
            else np.full(len(sp), PLANNER_SPACE, dtype=object)
        )
        name = (
            sp["name"].astype(object).where(sp["name"].notna(), None).to_numpy(dtype=object)
            if "name" in sp.columns
            else np.full(len(sp), None, dtype=object)
        )
        parts["unit"].append(hit["unit_id"].to_numpy(dtype=object)[keep])
        parts["kind"].append(kind[keep])
        parts["floor"].append(floor[keep])
        parts["name"].append(name[keep])
        parts["geom"].append(sp.geometry.to_numpy()[keep])
        parts["point"].append(rep.to_numpy()[keep])
        n_space = len(keep)
    nodes: list[np.ndarray] = [np.full(n_space, -1, dtype=np.int64)]
    if street_nodes != "none":
        with_space = set(parts["unit"][0]) if n_space else set()
        seen = np.zeros(net.n_nodes, dtype=bool)
        by_x = _street_nodes_by_x(net)
        for uid, poly in zip(ut["unit_id"], ut.geometry, strict=True):
            if street_nodes == "fallback" and uid in with_space:
                continue
            found = _candidate_nodes(net, poly, max_per_unit, by_x)
            found = found[~seen[found]]  # a node on two units' shared edge counts once
            seen[found] = True
            pt = shapely.points(net.x_m[found], net.y_m[found])
            nodes.append(found.astype(np.int64))
            parts["unit"].append(np.full(len(found), uid, dtype=object))
            parts["kind"].append(np.full(len(found), STREET_NODE, dtype=object))
            parts["floor"].append(np.full(len(found), np.nan))
            parts["name"].append(np.full(len(found), None, dtype=object))
            parts["geom"].append(pt)
            parts["point"].append(pt)

    def cat(key: str, dtype: Any) -> np.ndarray:
        return np.concatenate(parts[key]).astype(dtype) if parts[key] else np.empty(0, dtype)

    unit = cat("unit", object)
    out = Candidates(
        node=np.concatenate(nodes),
        unit_id=unit,
        jiezhen_code=np.array([jz_of[u] for u in unit], dtype=object),
        kind=cat("kind", object),
        floor_area_m2=cat("floor", np.float64),
        name=cat("name", object),
        geometry=cat("geom", object),
        point=cat("point", object),
        access=access,
        crs=net.crs,
    )
    log.debug("%r", out)
    return out


#: ``select_packages`` has a parameter named ``candidates``: it calls the builder by this name
_candidates = candidates


def _floor_area(sp: gpd.GeoDataFrame) -> np.ndarray:
    if "floor_area_m2" not in sp.columns:
        return np.full(len(sp), np.nan)
    vals = pd.to_numeric(sp["floor_area_m2"], errors="coerce")
    bad = (vals.isna() & sp["floor_area_m2"].notna()) | (vals < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"spaces row {i}: floor_area_m2 must be a number of m² >= 0 or empty, "
            f"got {sp['floor_area_m2'].iloc[i]!r} ({int(bad.sum())} such rows)"
        )
    return vals.to_numpy(dtype=np.float64)


def _names(sp: gpd.GeoDataFrame, mask: np.ndarray) -> list:
    col = sp["name"] if "name" in sp.columns else pd.Series(sp.index, index=sp.index)
    return col[mask].head(10).tolist()


def site_capacity(
    floor_area_m2: ArrayLike,
    *,
    max_functions: int = 6,
    floor_area_per_function_m2: float = 100.0,
) -> np.ndarray:
    """How many functions each site can host.

    A space of known floor area below :data:`HUB_MIN_FLOOR_AREA_M2` is a 六艺亭-type point: 1
    function below 2 × ``floor_area_per_function_m2`` (200 m² by default), else 2. A larger
    space, and a site of unknown floor area (a street node), hosts up to ``max_functions``
    (and one per ``floor_area_per_function_m2``).

    Parameters
    ----------
    floor_area_m2 : array-like of float
        NaN where unknown.
    max_functions : int
        The most functions one site hosts.
    floor_area_per_function_m2 : float
        Floor area one function needs.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> site_capacity([np.nan, 120.0, 250.0, 900.0, 5000.0]).tolist()
    [6, 1, 2, 6, 6]
    """
    area = np.asarray(floor_area_m2, dtype=np.float64)
    per = np.floor(np.nan_to_num(area, nan=np.inf) / floor_area_per_function_m2)
    small = np.isfinite(area) & (area < HUB_MIN_FLOOR_AREA_M2)
    cap = np.where(small, np.clip(per, 1, 2), np.clip(per, 1, max_functions))
    return cap.astype(np.int64)


# ---------------------------------------------------------------------------- the solver
@dataclass
class Cover:
    """What :func:`max_cover` returns.

    Attributes
    ----------
    picks : list of (int, tuple of int)
        Chosen sites in order, each with its functions (category codes).
    objective : float
        Weight covered (each element once).
    upper_bound : float
        An upper bound on the optimum: the greedy's a-posteriori bound, or the MILP's dual
        bound (equal to ``objective`` when proven optimal).
    optimal : bool
        Whether the MILP proved the result optimal.
    solver : str
    seconds : float
    """

    picks: list[tuple[int, tuple[int, ...]]]
    objective: float
    upper_bound: float
    optimal: bool
    solver: str
    seconds: float = 0.0

    @property
    def gap(self) -> float:
        """Largest possible shortfall from the optimum: ``1 - objective / upper_bound``."""
        return 0.0 if self.upper_bound <= 0 else max(0.0, 1.0 - self.objective / self.upper_bound)


def _prepare(
    reach: Any, category: ArrayLike, weight: ArrayLike, capacity: ArrayLike | int
) -> tuple[csr_matrix, np.ndarray, np.ndarray, np.ndarray, int]:
    m = csr_matrix(reach if issparse(reach) else np.asarray(reach), dtype=np.float64)
    m.data[:] = 1.0
    m.eliminate_zeros()
    cat = np.asarray(category, dtype=np.int64)
    w = np.asarray(weight, dtype=np.float64)
    if len(cat) != m.shape[1] or len(w) != m.shape[1]:
        raise InputError(
            f"max_cover: reach has {m.shape[1]} elements, category {len(cat)}, weight {len(w)}"
        )
    if len(w) and (not np.all(np.isfinite(w)) or w.min() < 0):
        raise InputError("max_cover: weights must be finite and >= 0")
    cap = np.broadcast_to(np.asarray(capacity, dtype=np.int64), (m.shape[0],)).copy()
    n_cat = int(cat.max()) + 1 if len(cat) else 0
    return m, cat, w, cap, n_cat


class _GainKeys(NamedTuple):
    """What :func:`_site_gains` needs of a reach matrix besides the weights, found once.

    ``key``: each stored entry's ``site * n_cat + category``; ``data``: the entries' values,
    ``None`` when all are 1 (the products are then the weights themselves, to the bit).
    """

    key: np.ndarray
    data: np.ndarray | None


def _gain_keys(m: csr_matrix, cat: np.ndarray, n_cat: int) -> _GainKeys:
    n_site = m.shape[0]
    row = np.repeat(np.arange(n_site, dtype=np.int64), np.diff(m.indptr))
    data = None if bool(np.all(m.data == 1.0)) else m.data
    return _GainKeys(row * n_cat + cat[m.indices], data)


def _site_gains(
    m: csr_matrix, cat: np.ndarray, w: np.ndarray, n_cat: int, keys: _GainKeys | None = None
) -> np.ndarray:
    """Weight each site would newly cover per category (sites × categories), all at once.

    ``m @ W`` with ``W[e, cat[e]] = w[e]``, summed by ``np.bincount`` over ``m``'s stored
    entries in their order: the sums the sparse product makes, to the last bit, without
    building ``W`` or the product. ``keys`` (:func:`_gain_keys` of the same ``m``, ``cat`` and
    ``n_cat``) saves finding each entry's site and category again in a loop over weights.
    """
    n_site = m.shape[0]
    if m.shape[1] == 0 or n_cat == 0:
        return np.zeros((n_site, n_cat))
    if keys is None:
        keys = _gain_keys(m, cat, n_cat)
    weights = w[m.indices] if keys.data is None else keys.data * w[m.indices]
    gains = np.bincount(keys.key, weights=weights, minlength=n_site * n_cat)
    return gains.reshape(n_site, n_cat)


def _bundle(g: np.ndarray, k: int) -> tuple[float, tuple[int, ...]]:
    """Best ``k`` functions of one site: the largest positive gains (ties: smaller code).

    On Python numbers (a site has a few categories, so numpy's per-call cost would dominate);
    the sum is numpy's: fewer than 8 numbers it adds in order, more it sums itself.
    """
    gl = g.tolist()
    order = [c for c in sorted(range(len(gl)), key=lambda c: -gl[c])[:k] if gl[c] > 0]
    if len(order) >= 8:
        return float(g[order].sum()), tuple(sorted(order))
    total = 0.0
    for c in order:
        total += gl[c]
    return total, tuple(sorted(order))


def _bundle_gains(g: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Sum of each row's ``cap`` largest positive gains, vectorised."""
    if g.shape[1] == 0:
        return np.zeros(g.shape[0])
    srt = -np.sort(-np.maximum(g, 0.0), axis=1)
    take = np.arange(g.shape[1])[None, :] < cap[:, None]
    return (srt * take).sum(axis=1)


def _round(x: float) -> float:
    return round(x, 9)


@dataclass(frozen=True)
class _Hubs:
    """Hub quota: at most ``quota[unit[s]]`` hubs among the sites of each unit.

    A site opened is a hub when ``big`` (floor area ≥ 800 m²) or when it hosts at least
    :data:`HUB_MIN_FUNCTIONS` functions; ``unit`` -1: no quota for that site.
    """

    unit: np.ndarray
    quota: np.ndarray
    big: np.ndarray

    def is_hub(self, s: int, n_functions: int) -> bool:
        return bool(self.big[s]) or n_functions >= HUB_MIN_FUNCTIONS

    def close(self, unit: int, cap: np.ndarray) -> None:
        """No more hubs in ``unit``: its big sites close, the others host ≤ 2 functions."""
        members = self.unit == unit
        cap[members & self.big] = 0
        small = members & ~self.big
        cap[small] = np.minimum(cap[small], HUB_MIN_FUNCTIONS - 1)


def _left_after(
    m: csr_matrix, cat: np.ndarray, w: np.ndarray, picks: list[tuple[int, tuple[int, ...]]]
) -> np.ndarray:
    """Weights still uncovered once ``picks`` are open."""
    left = w.copy()
    for s, funcs in picks:
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        left[cols[np.isin(cat[cols], funcs)]] = 0.0
    return left


def _interchange(
    m: csr_matrix,
    cat: np.ndarray,
    w: np.ndarray,
    cap0: np.ndarray,
    n_cat: int,
    hubs: _Hubs | None,
    picks: list[tuple[int, tuple[int, ...]]],
    rounds: int,
    keys: _GainKeys | None = None,
) -> list[tuple[int, tuple[int, ...]]]:
    """Swap local search (Teitz-Bart): replace a package by the best one given the others.

    Each try scores every site's best bundle at once (one sparse product); a swap is kept
    when it gains more than 1e-9 of the weight, so the objective only rises.
    """
    picks = list(picks)
    tol = 1e-9 * max(float(w.sum()), 1.0)
    mc = m.tocsc()
    if keys is None:
        keys = _gain_keys(m, cat, n_cat)

    def covered_by(s: int, funcs: tuple[int, ...]) -> np.ndarray:
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        return cols[np.isin(cat[cols], funcs)]

    def state() -> tuple[np.ndarray, np.ndarray]:
        """How many picks cover each element, and every site's gains with all picks open."""
        cnt = np.zeros(len(w), dtype=np.int64)
        for s, funcs in picks:
            cnt[covered_by(s, funcs)] += 1
        return cnt, _site_gains(m, cat, np.where(cnt == 0, w, 0.0), n_cat, keys)

    cnt, g_all = state()  # kept current: found again after each swap only
    for _ in range(rounds):
        changed = False
        for i in range(len(picks)):
            rest = picks[:i] + picks[i + 1 :]
            s_old, f_old = picks[i]
            # what only pick i covers comes back into play without it: the gains given the
            # others are the gains given all plus those elements' share (one column slice,
            # not a product over every site and element)
            only = covered_by(s_old, f_old)
            only = only[cnt[only] == 1]
            g = g_all
            if len(only):
                g = g_all + _column_gains(mc, only, cat, w, n_cat)
            cap = cap0.copy()
            for s, _f in rest:
                cap[s] = 0
            if hubs is not None:
                used = np.zeros(len(hubs.quota), dtype=np.int64)
                for s, f in rest:
                    if hubs.unit[s] >= 0 and hubs.is_hub(s, len(f)):
                        used[hubs.unit[s]] += 1
                for u in np.flatnonzero(hubs.quota - used <= 0):
                    hubs.close(int(u), cap)
            gain = np.round(_bundle_gains(g, cap), 9)
            s_new = int(np.argmax(gain))
            now = float(w[only].sum())
            if gain[s_new] > now + tol:
                picks[i] = (s_new, _bundle(g[s_new], int(cap[s_new]))[1])
                changed = True
                cnt, g_all = state()
        if not changed:
            break
    return picks


def _column_gains(
    mc: csc_matrix, cols: np.ndarray, cat: np.ndarray, w: np.ndarray, n_cat: int
) -> np.ndarray:
    """Weight of the elements ``cols`` (ascending) each site reaches, per category.

    ``mc[:, cols] @ W`` with ``W[k, cat[cols[k]]] = w[cols[k]]``, dense (sites × categories),
    without building either matrix: each site's sum adds its elements' weights in the order
    of ``cols``, as the sparse product does, so the sums are the same to the last bit.
    """
    n_site = mc.shape[0]
    pos = _entries(mc.indptr, cols)
    if len(pos) == 0:
        return np.zeros((n_site, n_cat))
    elem = np.repeat(cols, mc.indptr[cols + 1] - mc.indptr[cols])
    # np.bincount adds in input order, as np.add.at did (4× slower), so the sums are the same
    out = np.bincount(
        mc.indices[pos] * n_cat + cat[elem], weights=w[elem], minlength=n_site * n_cat
    )
    return out.reshape(n_site, n_cat)


def _entries(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions of the stored entries of compressed rows (or columns) ``rows``, in order.

    ``np.concatenate([np.arange(indptr[r], indptr[r + 1]) for r in rows])``, without the loop.
    """
    start = indptr[rows]
    count = indptr[rows + 1] - start
    n = int(count.sum())
    return np.arange(n, dtype=np.int64) + np.repeat(start - (np.cumsum(count) - count), count)


def _greedy(
    m: csr_matrix,
    cat: np.ndarray,
    w: np.ndarray,
    cap0: np.ndarray,
    n_cat: int,
    budget: int,
    hubs: _Hubs | None = None,
    swaps: int = 3,
) -> tuple[list[tuple[int, tuple[int, ...]]], float, float]:
    left = w.copy()
    cap = cap0.copy()
    hub_left = None if hubs is None else hubs.quota.copy()
    if hubs is not None:
        for u in np.flatnonzero(hub_left <= 0):
            hubs.close(int(u), cap)
    keys = _gain_keys(m, cat, n_cat)
    bound0 = _bundle_gains(_site_gains(m, cat, left, n_cat, keys), cap)
    # as round(b, 9) of each numpy number, all at once
    live = np.flatnonzero((bound0 > 0) & (cap > 0))
    heap = list(zip((-np.round(bound0[live], 9)).tolist(), live.tolist(), strict=True))
    heapq.heapify(heap)
    picks: list[tuple[int, tuple[int, ...]]] = []
    total = 0.0
    indptr, indices = m.indptr, m.indices
    while heap and len(picks) < budget:
        _, s = heapq.heappop(heap)
        if cap[s] <= 0:
            continue
        cols = indices[indptr[s] : indptr[s + 1]]
        g = np.bincount(cat[cols], weights=left[cols], minlength=n_cat)
        gain, funcs = _bundle(g, int(cap[s]))
        if gain <= 0:
            continue
        key = (-_round(gain), s)
        if heap and key > heap[0]:  # a stale bound elsewhere may beat it: re-queue
            heapq.heappush(heap, key)
            continue
        picks.append((s, funcs))
        total += gain
        left[cols[np.isin(cat[cols], funcs)]] = 0.0
        cap[s] = 0
        if hubs is not None and hub_left is not None and hubs.unit[s] >= 0:
            if hubs.is_hub(s, len(funcs)):
                u = int(hubs.unit[s])
                hub_left[u] -= 1
                if hub_left[u] <= 0:
                    hubs.close(u, cap)  # stale heap keys stay upper bounds: lazy still holds
    if swaps and picks:
        picks = _interchange(m, cat, w, cap0, n_cat, hubs, picks, swaps, keys)
        picks, total = _order_picks(m, cat, w, picks)
        left = _left_after(m, cat, w, picks)
    # a-posteriori bound: OPT <= f(S) + the `budget` largest bundle gains left (coverage is
    # submodular in (site, function) pairs; any optimal bundle fits the original capacity)
    rest = _bundle_gains(_site_gains(m, cat, left, n_cat, keys), cap0)
    ub = min(total + float(np.sort(rest)[::-1][:budget].sum()), float(w.sum()))
    return picks, total, ub


class _Rows:
    """Sparse constraint rows ``A x <= b`` built block by block."""

    def __init__(self, n_var: int) -> None:
        self.n_var = n_var
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.n = 0

    def add(self, row: np.ndarray, col: np.ndarray, val: np.ndarray, rhs: np.ndarray) -> None:
        self.r.append(np.asarray(row, dtype=np.int64) + self.n)
        self.c.append(np.asarray(col, dtype=np.int64))
        self.v.append(np.asarray(val, dtype=np.float64))
        self.b.append(np.asarray(rhs, dtype=np.float64))
        self.n += len(rhs)

    def matrix(self) -> tuple[csr_matrix, np.ndarray]:
        a = csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.n, self.n_var),
        )
        return a, np.concatenate(self.b)


def _milp(
    m: csr_matrix,
    cat: np.ndarray,
    w: np.ndarray,
    cap: np.ndarray,
    n_cat: int,
    budget: int,
    time_limit_s: float,
    hubs: _Hubs | None = None,
) -> tuple[list[tuple[int, tuple[int, ...]]], float, float, bool]:
    from scipy.optimize import LinearConstraint, milp

    n_site = m.shape[0]
    mc = m.tocsc()
    live = np.flatnonzero((w > 0) & (np.diff(mc.indptr) > 0))
    # elements reached by the same sites for the same function are one group (fewer rows)
    keys = [(int(cat[e]), mc.indices[mc.indptr[e] : mc.indptr[e + 1]].tobytes()) for e in live]
    codes = pd.factorize(pd.Series(keys, dtype=object))[0]
    n_grp = int(codes.max()) + 1 if len(codes) else 0
    if n_grp == 0 or budget <= 0:
        return [], 0.0, 0.0, True
    gw = np.bincount(codes, weights=w[live], minlength=n_grp)
    rep = np.zeros(n_grp, dtype=np.int64)
    rep[codes[::-1]] = live[::-1]  # one element per group
    # (site, function) pairs that reach anything
    ps, pc = np.nonzero(_site_gains(m, cat, w, n_cat) > 0)
    nx, nz = len(ps), n_site
    pid = np.full((n_site, max(n_cat, 1)), -1, dtype=np.int64)
    pid[ps, pc] = np.arange(nx)
    # hub indicators: sites that may become hubs under a quota
    if hubs is not None:
        hs = np.flatnonzero((hubs.unit >= 0) & ((cap >= HUB_MIN_FUNCTIONS) | hubs.big) & (cap > 0))
    else:
        hs = np.empty(0, dtype=np.int64)
    nh = len(hs)
    ox, oz, oh, oy = 0, nx, nx + nz, nx + nz + nh  # variable offsets: x, z, h, y
    n_var = oy + n_grp
    rows = _Rows(n_var)
    # y_g - sum of the x (site, function of g) reaching g <= 0
    sites_of = [mc.indices[mc.indptr[e] : mc.indptr[e + 1]] for e in rep]
    cnt = np.array([len(s) for s in sites_of])
    g_idx = np.arange(n_grp)
    rows.add(
        np.concatenate([g_idx, np.repeat(g_idx, cnt)]),
        np.concatenate([oy + g_idx, ox + pid[np.concatenate(sites_of), np.repeat(cat[rep], cnt)]]),
        np.concatenate([np.ones(n_grp), -np.ones(int(cnt.sum()))]),
        np.zeros(n_grp),
    )
    # x_p - z_s <= 0
    p_idx = np.arange(nx)
    rows.add(
        np.concatenate([p_idx, p_idx]),
        np.concatenate([ox + p_idx, oz + ps]),
        np.concatenate([np.ones(nx), -np.ones(nx)]),
        np.zeros(nx),
    )
    # sum_c x_(s, c) - cap'_s z_s - (cap_s - cap'_s) h_s <= 0, cap' = cap without a hub
    no_hub_cap = cap.astype(float)
    if hubs is not None:
        no_hub_cap = np.where(
            (hubs.unit >= 0) & hubs.big,
            0.0,
            np.where(hubs.unit >= 0, np.minimum(cap, HUB_MIN_FUNCTIONS - 1), cap),
        ).astype(float)
    s_idx = np.arange(nz)
    rows.add(
        np.concatenate([ps, s_idx, hs]),
        np.concatenate([ox + p_idx, oz + s_idx, oh + np.arange(nh)]),
        np.concatenate([np.ones(nx), -no_hub_cap, -(cap[hs] - no_hub_cap[hs])]),
        np.zeros(nz),
    )
    if nh and hubs is not None:
        # h_s <= z_s; a big site is a hub when open: z_s <= h_s
        k = np.arange(nh)
        rows.add(
            np.concatenate([k, k]),
            np.concatenate([oh + k, oz + hs]),
            np.concatenate([np.ones(nh), -np.ones(nh)]),
            np.zeros(nh),
        )
        big = np.flatnonzero(hubs.big[hs])
        kb = np.arange(len(big))
        rows.add(
            np.concatenate([kb, kb]),
            np.concatenate([oz + hs[big], oh + big]),
            np.concatenate([np.ones(len(big)), -np.ones(len(big))]),
            np.zeros(len(big)),
        )
        # at most quota hubs per unit
        units_h, inv = np.unique(hubs.unit[hs], return_inverse=True)
        rows.add(inv, oh + np.arange(nh), np.ones(nh), hubs.quota[units_h].astype(float))
    # sum_s z_s <= budget
    rows.add(np.zeros(nz), oz + s_idx, np.ones(nz), np.array([float(budget)]))
    a, b = rows.matrix()
    cost = np.concatenate([np.zeros(oy), -gw])
    integrality = np.concatenate([np.ones(oy), np.zeros(n_grp)])
    res = milp(
        cost,
        constraints=LinearConstraint(a, -np.inf, b),
        integrality=integrality,
        bounds=(0, 1),
        options={"time_limit": time_limit_s, "disp": False},
    )
    if res.x is None:
        raise RuntimeError(f"scipy.optimize.milp found no solution: {res.message}")
    x = res.x[:nx] > 0.5
    picks = [(int(s), tuple(sorted(int(k) for k in pc[x & (ps == s)]))) for s in np.unique(ps[x])]
    dual = getattr(res, "mip_dual_bound", None)
    ub = -float(dual) if dual is not None and np.isfinite(dual) else np.inf
    obj = -float(res.fun)
    return picks, obj, max(ub, obj), bool(res.status == 0)


def _order_picks(
    m: csr_matrix,
    cat: np.ndarray,
    w: np.ndarray,
    picks: list[tuple[int, tuple[int, ...]]],
) -> tuple[list[tuple[int, tuple[int, ...]]], float]:
    """Order chosen packages greedily by marginal gain; drop functions that add nothing."""
    left = w.copy()
    todo = list(picks)
    # the elements each pick covers, found once (not once per round)
    covers = []
    for s, funcs in todo:
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        covers.append(cols[np.isin(cat[cols], funcs)])
    out: list[tuple[int, tuple[int, ...]]] = []
    total = 0.0
    while todo:
        best, best_gain = 0, -1.0
        for i, cov in enumerate(covers):
            gain = float(left[cov].sum())
            if _round(gain) > _round(best_gain):
                best, best_gain = i, gain
        s, funcs = todo.pop(best)
        covers.pop(best)
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        useful = tuple(c for c in funcs if left[cols[cat[cols] == c]].sum() > 0)
        if useful:
            out.append((s, useful))
            total += best_gain
            left[cols[np.isin(cat[cols], useful)]] = 0.0
    return out, total


def max_cover(
    reach: Any,
    category: ArrayLike,
    weight: ArrayLike,
    budget: int,
    *,
    capacity: ArrayLike | int = 6,
    unit: ArrayLike | None = None,
    hubs_per_unit: ArrayLike | int | None = None,
    big: ArrayLike | None = None,
    solver: str = "greedy",
    swap_rounds: int = 3,
    time_limit_s: float = 60.0,
) -> Cover:
    """Multi-function maximum covering: open ``budget`` sites, each with up to its capacity.

    Choosing site ``s`` with function ``c`` covers every element ``e`` of category ``c``
    with ``reach[s, e]``; the objective is the weight of covered elements, each once.

    Parameters
    ----------
    reach : sparse or dense matrix, sites × elements
        Non-zero where the site, hosting the element's function, covers it.
    category : array-like of int
        The function (category code 0..) that covers each element.
    weight : array-like of float
        Each element's weight (>= 0).
    budget : int
        Most sites to open.
    capacity : int or array-like of int
        Most functions per site (0: the site cannot be opened).
    unit : array-like of int, optional
        The unit (code 0..) each site sits in, -1 for none: with ``hubs_per_unit``, at most
        that many hubs open per unit. A site is a hub when ``big`` or when it hosts at least
        :data:`HUB_MIN_FUNCTIONS` functions; in a unit whose quota is used up, big sites no
        longer open and the others host at most ``HUB_MIN_FUNCTIONS - 1`` functions.
    hubs_per_unit : int or array-like of int, optional
        Hub quota, one for all units or one per unit code.
    big : array-like of bool, optional
        Sites that are hubs whenever opened (floor area ≥ :data:`HUB_MIN_FLOOR_AREA_M2`).
    solver : {"greedy", "milp"}
        Lazy greedy over sites (each opened with its best bundle of functions), or the exact
        integer program (:func:`scipy.optimize.milp`, with ``time_limit_s``).
    swap_rounds : int
        Greedy only: rounds of swap local search after the greedy (each package in turn
        replaced by the best package given the others, while that gains); 0: plain greedy.
    time_limit_s : float
        MILP time limit; past it the best solution found is returned with ``optimal=False``.

    Returns
    -------
    Cover
        Picks in order of marginal gain (the MILP's too), the objective and an upper bound.

    Raises
    ------
    InputError
        Mismatched lengths, negative weights or an unknown solver.
    """
    t0 = time.perf_counter()
    m, cat, w, cap, n_cat = _prepare(reach, category, weight, capacity)
    budget = int(budget)
    hubs = None
    if unit is not None and hubs_per_unit is not None:
        u = np.asarray(unit, dtype=np.int64)
        n_u = int(u.max()) + 1 if len(u) else 0
        quota = np.broadcast_to(np.asarray(hubs_per_unit, dtype=np.int64), (n_u,)).copy()
        b = np.zeros(len(u), bool) if big is None else np.asarray(big, dtype=bool)
        if len(u) != m.shape[0] or len(b) != m.shape[0]:
            raise InputError(f"max_cover: {m.shape[0]} sites but {len(u)} units, {len(b)} big")
        hubs = _Hubs(u, quota, b)
    if solver == "greedy":
        picks, obj, ub = _greedy(m, cat, w, cap, n_cat, budget, hubs, swap_rounds)
        optimal = ub <= obj * (1 + 1e-12)
    elif solver == "milp":
        picks, obj, ub, optimal = _milp(m, cat, w, cap, n_cat, budget, time_limit_s, hubs)
        picks, obj = _order_picks(m, cat, w, picks)
    else:
        raise InputError(f"solver must be 'greedy' or 'milp', got {solver!r}")
    return Cover(picks, obj, max(ub, obj), optimal, solver, time.perf_counter() - t0)


# ---------------------------------------------------------------------------- packages
@dataclass(frozen=True, eq=False)
class Packages:
    """What :func:`select_packages` returns.

    Attributes
    ----------
    packages : GeoDataFrame
        One row per package (network CRS, point geometry): ``package_id``,
        ``jiezhen_code``, ``unit_id`` (the unit the site sits in), ``order`` (within the
        街镇), ``package_type`` (人民坊 / 六艺亭) and ``package_type_en`` (hub / point),
        ``hub_rule`` (placed first as the hub of a unit without one), ``site_kind``,
        ``site_name``, ``floor_area_m2``, ``node`` (-1 for a planner space), ``candidate``
        (row in ``candidates``), ``functions``
        (list of category ids), ``functions_zh`` (names joined by 、), ``n_functions``,
        ``newly_covered`` (dict category → people), ``newly_covered_population`` (sum over
        functions), ``weighted_gain``, ``units_served`` (unit ids whose residents it covers).
    functions : DataFrame
        One row per package × function: ``package_id``, ``jiezhen_code``, ``category``,
        ``name_zh``, ``class_zh``, ``newly_covered_population``, ``weighted_gain``.
    gains : DataFrame
        Package × function × served unit: ``package_id``, ``category``, ``unit_id``,
        ``newly_covered_population``.
    share_after : DataFrame
        Every ``project`` gap (unit × category): ``population``, ``covered_population``,
        ``newly_covered_population``, ``share_before``, ``share_after``, ``target_share``,
        ``meets_after``.
    meta : dict
        Solver, weights rule, budget, objective, upper bound and gap per 街镇, seconds.
    candidates : Candidates
        The candidate sites solved over (``packages.candidate`` is a row of it).
    """

    packages: gpd.GeoDataFrame
    functions: pd.DataFrame
    gains: pd.DataFrame
    share_after: pd.DataFrame
    meta: dict = field(default_factory=dict)
    candidates: Candidates | None = field(default=None, repr=False)

    def __len__(self) -> int:
        """Return the number of packages."""
        return len(self.packages)

    def as_facilities(self) -> gpd.GeoDataFrame:
        """One facility per package × function, at the site itself (network CRS).

        A planner space keeps its own geometry (a polygon is reached through its boundary,
        as when it was chosen); a street node is its point. Added to the facility table of a
        second :func:`lifecircle_geo.analyze`, these measure what the packages claim
        (``share_after``).

        Returns
        -------
        GeoDataFrame
            ``facility_id`` (``<package_id>-<category>``), ``name``, ``category``,
            ``facility_type`` (人民坊 / 六艺亭), ``source`` ("package"), ``rule``,
            ``capacity``, ``package_id``, geometry.
        """
        rows = []
        for p in self.packages.itertuples(index=False):
            geom = p.geometry
            if self.candidates is not None and p.candidate >= 0:
                geom = self.candidates.geometry[p.candidate]
            for c in p.functions:
                rows.append(
                    {
                        "facility_id": f"{p.package_id}-{c}",
                        "name": p.site_name or p.package_id,
                        "category": c,
                        "facility_type": p.package_type,
                        "source": "package",
                        "rule": "select_packages",
                        "capacity": np.nan,
                        "package_id": p.package_id,
                        "geometry": geom,
                    }
                )
        cols = [
            "facility_id",
            "name",
            "category",
            "facility_type",
            "source",
            "rule",
            "capacity",
            "package_id",
            "geometry",
        ]
        return gpd.GeoDataFrame(
            pd.DataFrame(rows, columns=cols), geometry="geometry", crs=self.packages.crs
        )

    def __repr__(self) -> str:
        """Summarise packages by type."""
        types = self.packages["package_type"].value_counts().to_dict() if len(self) else {}
        return f"Packages({len(self)} packages: {types}, solver {self.meta.get('solver')})"


_PKG_COLS = [
    "package_id",
    "jiezhen_code",
    "unit_id",
    "order",
    "package_type",
    "package_type_en",
    "hub_rule",
    "site_kind",
    "site_name",
    "floor_area_m2",
    "node",
    "candidate",
    "functions",
    "functions_zh",
    "n_functions",
    "newly_covered",
    "newly_covered_population",
    "weighted_gain",
    "units_served",
    "geometry",
]
_FUNC_COLS = [
    "package_id",
    "jiezhen_code",
    "category",
    "name_zh",
    "class_zh",
    "newly_covered_population",
    "weighted_gain",
]
_GAIN_COLS = ["package_id", "category", "unit_id", "newly_covered_population"]


def hub_category(profile: Profile) -> str | None:
    """Return the category whose facility types include a 人民坊 (``party_service``), if any.

    Parameters
    ----------
    profile : Profile

    Returns
    -------
    str or None
    """
    for c in profile.categories:
        if HUB_FACILITY_TYPE in c.facility_types:
            return c.id
    return None


def default_budget(n_units: int) -> int:
    """Return the packages per 街镇 by default: ``min(11, 2 × units)``.

    Parameters
    ----------
    n_units : int
        Units of the 街镇.

    Returns
    -------
    int

    Examples
    --------
    >>> default_budget(3), default_budget(20)
    (6, 11)
    """
    return int(min(DEFAULT_PACKAGES_PER_JIEZHEN, 2 * max(int(n_units), 1)))


@dataclass
class _Problem:
    """One 街镇: elements (resident × category), candidate rows and their reach."""

    cats: list[str]
    elem_res: np.ndarray  # demand row of each element
    elem_cat: np.ndarray  # category code
    elem_unit: np.ndarray  # unit id (object)
    people: np.ndarray
    weight: np.ndarray
    cand: np.ndarray  # candidate rows
    reach: csr_matrix  # local candidate × element


class _Columns:
    """A table's columns as arrays, each made once (every 街镇 reads the same columns)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    def get(self, name: str, dtype: Any) -> np.ndarray:
        key = (name, np.dtype(dtype).str)
        if key not in self._arrays:
            self._arrays[key] = self.table[name].to_numpy(dtype=dtype)
        return self._arrays[key]


def _problem(
    net: WalkNetwork,
    jz_gaps: pd.DataFrame,
    demand: gpd.GeoDataFrame | _Columns,
    demand_snap: Snap,
    cand: Candidates,
    cand_rows: np.ndarray,
    profile: Profile,
    priority_decay: float,
    rows_of_unit: Mapping[Any, np.ndarray],
) -> _Problem:
    cats = list(pd.unique(jz_gaps["category"]))
    cols = demand if isinstance(demand, _Columns) else _Columns(demand)
    demand = cols.table
    unit_of = cols.get("unit_id", object)
    none = np.empty(0, dtype=np.int64)
    # the gap rows as arrays once: per category only masks, no frame filtering
    g_cat = jz_gaps["category"].to_numpy(dtype=object)
    g_unit = jz_gaps["unit_id"].to_numpy(dtype=object)
    g_thr = jz_gaps["threshold_m"].to_numpy(dtype=float)
    g_prio = (
        pd.to_numeric(jz_gaps["priority"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "priority" in jz_gaps.columns
        else np.zeros(len(jz_gaps))
    )
    g_group = (
        jz_gaps["target_group"].to_numpy(dtype=object)
        if "target_group" in jz_gaps.columns
        else np.full(len(jz_gaps), None, dtype=object)
    )
    res_parts, cat_parts, thr_parts, w_parts, p_parts = [], [], [], [], []
    for k, c in enumerate(cats):
        mine = np.flatnonzero(g_cat == c)
        group = _target_group_of(g_group[mine], profile, c)
        col = "population" if group == "all" else f"population_{group}"
        for need in (col, f"walk_m_{c}"):
            if need not in demand.columns:
                raise InputError(f"demand has no column {need!r} (category {c!r}): run analyze")
        last = {u: i for i, u in enumerate(g_unit[mine].tolist())}  # as a dict would
        mine = mine[sorted(last.values())]
        # each resident's row among the gap rows: its unit's, given by the unit's rows
        parts = [rows_of_unit.get(u, none) for u in g_unit[mine].tolist()]
        idx = np.concatenate([none, *parts])
        pos = np.repeat(np.arange(len(parts), dtype=np.int64), [len(r) for r in parts])
        by_row = np.argsort(idx, kind="stable")
        idx, pos = idx[by_row], pos[by_row]
        ok = demand_snap.ok[idx]
        idx, pos = idx[ok], pos[ok]
        thr = g_thr[mine][pos]
        walk = cols.get(f"walk_m_{c}", float)[idx]
        pop = cols.get(col, float)[idx]
        beyond = ~(walk <= thr) & (pop > 0)
        idx, thr, pop, pos = idx[beyond], thr[beyond], pop[beyond], pos[beyond]
        res_parts.append(idx)
        cat_parts.append(np.full(len(idx), k, dtype=np.int64))
        thr_parts.append(thr)
        p_parts.append(pop)
        w_parts.append(pop * (priority_decay ** g_prio[mine])[pos])
    elem_res = np.concatenate(res_parts) if res_parts else np.empty(0, np.int64)
    elem_cat = np.concatenate(cat_parts) if cat_parts else np.empty(0, np.int64)
    elem_thr = np.concatenate(thr_parts) if thr_parts else np.empty(0)
    people = np.concatenate(p_parts) if p_parts else np.empty(0)
    weight = np.concatenate(w_parts) if w_parts else np.empty(0)
    n_e = len(elem_res)
    reach = csr_matrix((len(cand_rows), n_e), dtype=np.float64)
    if n_e and len(cand_rows):
        ri, ci = _cover_pairs(net, demand_snap, cand, cand_rows, elem_res, elem_cat, elem_thr)
        reach = csr_matrix(
            (np.ones(len(ri)), (ri, ci)), shape=(len(cand_rows), n_e), dtype=np.float64
        )
        reach.sum_duplicates()
        reach.data[:] = 1.0
    return _Problem(cats, elem_res, elem_cat, unit_of[elem_res], people, weight, cand_rows, reach)


def _cover_pairs(
    net: WalkNetwork,
    demand_snap: Snap,
    cand: Candidates,
    cand_rows: np.ndarray,
    elem_res: np.ndarray,
    elem_cat: np.ndarray,
    elem_thr: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(local candidate, element) pairs: the candidate is within the element's threshold.

    Categories are taken in groups of equal cutoff (their largest threshold), smallest
    first, each keeping only the pairs within its own cutoff at the end nodes of its own
    residents' edges: a rural 5,000 m item no longer makes every 1,000 m item carry 5,000 m of
    pairs. One search at the largest cutoff serves every group when their cutoffs share a
    cost quantum (below :data:`~lifecircle_geo.routing.EXACT_BELOW_M`: distances are exact,
    the same at any cutoff); else each group searches at its own.
    """
    local = np.full(len(cand), -1, dtype=np.int64)
    local[cand_rows] = np.arange(len(cand_rows))
    seeds = cand.seeds(net, cand_rows)
    sites = cand._access_of(cand_rows)
    cut_of_cat = {int(k): float(elem_thr[elem_cat == k].max()) for k in np.unique(elem_cat)}
    cutoffs = sorted(set(cut_of_cat.values()))
    groups = {
        c: np.array([k for k, ck in cut_of_cat.items() if ck == c], dtype=np.int64) for c in cutoffs
    }
    residents = {c: np.unique(elem_res[np.isin(elem_cat, g)]) for c, g in groups.items()}

    def ends_of(res: np.ndarray) -> np.ndarray:
        """Mark the nodes at the ends of the residents' edges (the pairs they need)."""
        keep = np.zeros(net.n_nodes, dtype=bool)
        snap = demand_snap.take(res)
        ends = snap.edge[snap.ok].astype(np.int64)
        keep[net.u[ends]] = True
        keep[net.v[ends]] = True
        return keep

    shared = None
    if len(cutoffs) > 1 and len({quantum(c) for c in cutoffs}) == 1:
        # one cost quantum: sums are exact, so a node's distance does not depend on the
        # cutoff, and the search at the largest cutoff holds every smaller one's pairs
        keep_all = ends_of(np.unique(np.concatenate(list(residents.values()))))
        shared = reach_matrix(
            net, seeds, cutoffs[-1], progress=False, targets=keep_all, ordered=False
        )
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    for cutoff in cutoffs:
        group = groups[cutoff]
        res = residents[cutoff]
        snap = demand_snap.take(res)
        if shared is not None:
            r = shared.within(cutoff)
        else:
            keep = ends_of(res)
            r = reach_matrix(net, seeds, cutoff, progress=False, targets=keep, ordered=False)
        rp = reach_at_points(net, r, snap, sites=sites, ordered=False)
        p_site = local[r.labels[rp.facility]]
        p_res = rp.target  # position in `res`
        for k in group:  # one vectorised pass per category
            mine = np.flatnonzero(elem_cat == k)
            elem_at = np.full(len(res), -1, dtype=np.int64)
            elem_at[np.searchsorted(res, elem_res[mine])] = mine
            e = elem_at[p_res]
            ok = e >= 0
            ok[ok] = rp.dist_m[ok] <= elem_thr[e[ok]]
            rows_l.append(p_site[ok])
            cols_l.append(e[ok])
    none = np.empty(0, dtype=np.int64)
    return np.concatenate([none, *rows_l]), np.concatenate([none, *cols_l])


def _target_group_of(given: np.ndarray, profile: Profile, category: str) -> str:
    """Return the gap rows' own target group (the first given), else the profile's."""
    for g in given:
        if not pd.isna(g):
            return str(g) or "all"
    return profile.category(category).target_group or "all"


def _hub_first(
    pb: _Problem,
    jz_gaps: pd.DataFrame,
    hub_cat: str | None,
    cap: np.ndarray,
    hub_ok: np.ndarray,
    left: np.ndarray,
    budget: int,
    site_unit: np.ndarray,
    quota: np.ndarray | None,
) -> list[tuple[int, tuple[int, ...]]]:
    """Hubs first: each unit with a project gap in the hub category, largest gap first.

    ``left`` (weights not yet covered) and ``quota`` (hubs each unit may still open) are
    updated in place.
    """
    if hub_cat is None or hub_cat not in pb.cats:
        return []
    h = pb.cats.index(hub_cat)
    n_cat = len(pb.cats)
    units = jz_gaps[jz_gaps["category"] == hub_cat].sort_values(
        ["people_left_out", "unit_id"], ascending=[False, True]
    )["unit_id"]
    picks: list[tuple[int, tuple[int, ...]]] = []
    opened = np.zeros(pb.reach.shape[0], dtype=bool)
    served: set = set()
    m_csc = pb.reach.tocsc()
    # the hub category's elements of each unit, ascending
    hub_el = np.flatnonzero(pb.elem_cat == h)
    none = np.empty(0, dtype=np.int64)
    el_of_unit = {
        u: hub_el[i] for u, i in pd.Series(hub_el).groupby(pb.elem_unit[hub_el]).indices.items()
    }
    for uid in units:
        if len(picks) >= budget:
            break
        if uid in served:
            continue
        mine = el_of_unit.get(uid, none)
        mine = mine[left[mine] > 0]
        sites = np.unique(m_csc.indices[_entries(m_csc.indptr, mine)])
        sites = sites[hub_ok[sites] & ~opened[sites]]
        if quota is not None:
            sites = sites[quota[site_unit[sites]] > 0]
        if len(sites) == 0:
            log.info("no candidate hub site reaches unit %s: no hub package for it", uid)
            continue
        g = _site_gains(pb.reach[sites], pb.elem_cat, left, n_cat)
        rest = g.copy()
        rest[:, h] = 0.0
        gain = g[:, h] + _bundle_gains(rest, cap[sites] - 1)
        best = int(np.lexsort((sites, -np.round(gain, 9)))[0])
        s = int(sites[best])
        _, others = _bundle(rest[best], int(cap[s]) - 1)
        funcs = tuple(sorted({h, *others}))
        picks.append((s, funcs))
        opened[s] = True
        if quota is not None:
            quota[site_unit[s]] -= 1
        cols = pb.reach.indices[pb.reach.indptr[s] : pb.reach.indptr[s + 1]]
        hit = cols[np.isin(pb.elem_cat[cols], funcs)]
        served.update(pb.elem_unit[hit[(pb.elem_cat[hit] == h) & (left[hit] > 0)]])
        served.add(uid)
        left[hit] = 0.0
    return picks


def select_packages(
    net: WalkNetwork,
    gaps: pd.DataFrame,
    demand: gpd.GeoDataFrame,
    demand_snap: Snap,
    units: gpd.GeoDataFrame,
    profile: Profile,
    *,
    candidates: Candidates | None = None,
    budget: int | Mapping[str, int] | None = None,
    solver: str = "greedy",
    max_functions: int = 6,
    floor_area_per_function_m2: float = 100.0,
    priority_decay: float = 0.5,
    hub_first: bool = True,
    hubs_per_unit: int | None = 1,
    time_limit_s: float = 60.0,
) -> Packages:
    """Choose project packages per 街镇: few sites, several functions each, most gap closed.

    Parameters
    ----------
    net : WalkNetwork
    gaps : DataFrame
        From :func:`lifecircle_geo.gaps.rank_gaps` (``result.gaps``): rows with
        ``action == "project"`` are solved (all rows without an ``action`` column); needs
        ``unit_id``, ``jiezhen_code``, ``category``, ``threshold_m``, ``population``,
        ``covered_population``, ``target_share``, ``people_left_out``, and uses
        ``priority`` and ``target_group`` where present.
    demand : GeoDataFrame
        Resident points (``result.demand``): ``unit_id``, ``population``,
        ``population_<group>`` and ``walk_m_<category>``.
    demand_snap : Snap
        The residents' snap, rows aligned with ``demand``.
    units : GeoDataFrame
        Units with ``unit_id`` and ``jiezhen_code`` (``result.units``).
    profile : Profile
        Names, target groups and the hub category (:func:`hub_category`).
    candidates : Candidates, optional
        From :func:`candidates`; default: street nodes of the units of 街镇 with gaps.
    budget : int or mapping 街镇 code → int, optional
        Packages per 街镇; default :func:`default_budget` (``min(11, 2 × units)``).
    solver : {"greedy", "milp"}
        See :func:`max_cover`.
    max_functions, floor_area_per_function_m2 : int, float
        A site's capacity (:func:`site_capacity`).
    priority_decay : float
        Class weight ``priority_decay ** priority`` (priority 0 → 1, 1 → 0.5 by default).
    hub_first : bool
        The hub rule: each unit with a ``project`` gap in the hub category (no 党群服务 / 人民坊
        within its threshold for enough residents), largest gap first, gets as its 街镇's next
        package the hub-capable site (floor area unknown or ≥ 800 m²) that, hosting the hub
        category plus its best other functions, gains the most among those reaching the
        unit's residents beyond the threshold; a unit a hub placed earlier already reaches
        is skipped. These hubs come first and count against the budget; the solver then
        fills the rest. Both solvers apply the rule the same way.
    hubs_per_unit : int or None
        At most this many 人民坊-type hubs sit in one unit (hub-rule hubs included); a
        unit's further packages are 六艺亭-type points of at most two functions. None: no
        limit.
    time_limit_s : float
        MILP time limit per 街镇.

    Returns
    -------
    Packages
    """
    t0 = time.perf_counter()
    if not 0 < priority_decay <= 1:
        raise InputError(f"priority_decay must be in (0, 1], got {priority_decay!r}")
    proj = gaps[gaps["action"] == "project"] if "action" in gaps.columns else gaps
    proj = proj.assign(jiezhen_code=proj["jiezhen_code"].fillna("").astype(str))
    ut = _unit_table(units, net.crs)
    if candidates is None:
        wanted = ut["jiezhen_code"].isin(set(proj["jiezhen_code"]))
        candidates = _candidates(net, units[wanted.to_numpy()])
    cand = candidates
    cap_all = site_capacity(
        cand.floor_area_m2,
        max_functions=max_functions,
        floor_area_per_function_m2=floor_area_per_function_m2,
    )
    hub_ok_all = ~(cand.floor_area_m2 < HUB_MIN_FLOOR_AREA_M2)  # NaN (unknown) → True
    hub_cat = hub_category(profile) if hub_first else None
    n_units = ut.groupby("jiezhen_code")["unit_id"].nunique()
    names = {c.id: c.name_zh for c in profile.categories}
    classes = {c.id: c.class_zh for c in profile.categories}
    if "unit_id" not in demand.columns:
        raise InputError("demand has no column 'unit_id': pass result.demand from analyze")
    if len(demand_snap) != len(demand):
        raise InputError(
            f"demand_snap has {len(demand_snap)} rows but demand {len(demand)}: snap the same table"
        )
    rows_of_unit = {
        u: np.asarray(r, dtype=np.int64)
        for u, r in pd.Series(np.arange(len(demand)))
        .groupby(demand["unit_id"].to_numpy())
        .indices.items()
    }
    pkg_rows: list[dict] = []
    func_rows: list[dict] = []
    # per package × function: its id, category, and the people and units of what it covers
    gain_parts: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    meta_jz: dict[str, dict] = {}
    demand_cols = _Columns(demand)
    for jz, jz_gaps in proj.groupby("jiezhen_code", sort=True):
        if isinstance(budget, Mapping):
            b = int(budget.get(jz, default_budget(n_units.get(jz, 1))))
        elif budget is None:
            b = default_budget(n_units.get(jz, 1))
        else:
            b = int(budget)
        rows = np.flatnonzero(cand.jiezhen_code == jz)
        pb = _problem(
            net,
            jz_gaps,
            demand_cols,
            demand_snap,
            cand,
            rows,
            profile,
            priority_decay,
            rows_of_unit,
        )
        cap, hub_ok = cap_all[rows].copy(), hub_ok_all[rows]
        site_unit, unit_codes = pd.factorize(pd.Series(cand.unit_id[rows], dtype=object))
        quota = None if hubs_per_unit is None else np.full(len(unit_codes), int(hubs_per_unit))
        left = pb.weight.copy()
        forced = _hub_first(pb, jz_gaps, hub_cat, cap, hub_ok, left, b, site_unit, quota)
        for s, _ in forced:
            cap[s] = 0  # opened: the solver does not reopen it
        cover = max_cover(
            pb.reach,
            pb.elem_cat,
            left,
            b - len(forced),
            capacity=cap,
            unit=site_unit,
            hubs_per_unit=quota,
            big=cand.floor_area_m2[rows] >= HUB_MIN_FLOOR_AREA_M2,
            solver=solver,
            time_limit_s=time_limit_s,
        )
        picks = [(s, f, True) for s, f in forced] + [(s, f, False) for s, f in cover.picks]
        forced_gain = float(pb.weight.sum() - left.sum())
        meta_jz[jz] = {
            "budget": b,
            "n_candidates": len(rows),
            "n_elements": len(pb.weight),
            "weight_left_out": float(pb.weight.sum()),
            "hub_rule_packages": len(forced),
            "objective": forced_gain + cover.objective,
            "upper_bound": forced_gain + cover.upper_bound,
            "optimal": cover.optimal,
            "solver_seconds": cover.seconds,
        }
        covered = np.zeros(len(pb.weight), dtype=bool)
        for order, (s, funcs, is_forced) in enumerate(picks, start=1):
            r = int(pb.cand[s])
            pid = f"{jz or 'X'}-P{order:02d}"
            cols = pb.reach.indices[pb.reach.indptr[s] : pb.reach.indptr[s + 1]]
            per: dict[str, float] = {}
            wsum = 0.0
            served: set = set()
            kept = []
            for k in funcs:
                hit = cols[(pb.elem_cat[cols] == k) & ~covered[cols]]
                covered[hit] = True
                people = float(pb.people[hit].sum())
                if people <= 0 and not (is_forced and pb.cats[k] == hub_cat):
                    continue
                c = pb.cats[k]
                kept.append(c)
                per[c] = people
                wg = float(pb.weight[hit].sum())
                wsum += wg
                func_rows.append(
                    {
                        "package_id": pid,
                        "jiezhen_code": jz,
                        "category": c,
                        "name_zh": names.get(c, c),
                        "class_zh": classes.get(c),
                        "newly_covered_population": people,
                        "weighted_gain": wg,
                    }
                )
                gain_parts.append((pid, c, pb.people[hit], pb.elem_unit[hit]))
                served.update(pb.elem_unit[hit].tolist())
            floor = float(cand.floor_area_m2[r])
            if is_forced:
                kind = "hub"
            elif np.isfinite(floor):
                kind = "hub" if floor >= HUB_MIN_FLOOR_AREA_M2 else "point"
            else:
                kind = "hub" if len(kept) >= HUB_MIN_FUNCTIONS else "point"
            pkg_rows.append(
                {
                    "package_id": pid,
                    "jiezhen_code": jz,
                    "unit_id": cand.unit_id[r],
                    "order": order,
                    "package_type": PACKAGE_TYPES[kind][0],
                    "package_type_en": PACKAGE_TYPES[kind][1],
                    "hub_rule": is_forced,
                    "site_kind": cand.kind[r],
                    "site_name": cand.name[r],
                    "floor_area_m2": floor,
                    "node": int(cand.node[r]),
                    "candidate": r,
                    "functions": kept,
                    "functions_zh": "、".join(names.get(c, c) for c in kept),
                    "n_functions": len(kept),
                    "newly_covered": per,
                    "newly_covered_population": float(sum(per.values())),
                    "weighted_gain": wsum,
                    "units_served": sorted((u for u in served if not pd.isna(u)), key=str),
                    "geometry": cand.point[r],
                }
            )
    packages = gpd.GeoDataFrame(
        pd.DataFrame(pkg_rows, columns=_PKG_COLS), geometry="geometry", crs=net.crs
    )
    functions = pd.DataFrame(func_rows, columns=_FUNC_COLS)
    gains_t = pd.DataFrame(_gain_rows(gain_parts), columns=_GAIN_COLS)
    share = _share_after(proj, gains_t)
    meta = {
        "solver": solver,
        "weights": f"people × {priority_decay:g} ** class priority (0 first)",
        "budget_rule": (
            "given" if budget is not None else f"min({DEFAULT_PACKAGES_PER_JIEZHEN}, 2 × units)"
        ),
        "hub_category": hub_cat,
        "max_functions": max_functions,
        "hubs_per_unit": hubs_per_unit,
        "floor_area_per_function_m2": floor_area_per_function_m2,
        "jiezhen": meta_jz,
        "objective": float(sum(v["objective"] for v in meta_jz.values())),
        "upper_bound": float(sum(v["upper_bound"] for v in meta_jz.values())),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return Packages(packages, functions, gains_t, share, meta, cand)


def _gain_rows(parts: list[tuple[str, str, np.ndarray, np.ndarray]]) -> list[dict]:
    """People newly covered per package × function × unit, units in order within each.

    ``parts``: per package × function, its package id, category, and the people and unit of
    each element it covers. One grouped sum over all of them: the sums, and their order, of a
    sum grouped by unit per part (elements without a unit left out).
    """
    if not parts:
        return []
    part = np.repeat(np.arange(len(parts)), [len(p[2]) for p in parts])
    people = np.concatenate([p[2] for p in parts]).astype(np.float64, copy=False)
    unit = np.concatenate([p[3] for p in parts]).astype(object, copy=False)
    sums = pd.Series(people).groupby([part, unit], sort=True).sum()
    return [
        {
            "package_id": parts[k][0],
            "category": parts[k][1],
            "unit_id": u,
            "newly_covered_population": float(v),
        }
        for (k, u), v in sums.items()
    ]


def _share_after(proj: pd.DataFrame, gains: pd.DataFrame) -> pd.DataFrame:
    cols = ["unit_id", "category", "population", "covered_population", "target_share"]
    out = proj[[c for c in ["jiezhen_code", *cols] if c in proj.columns]].copy()
    new = gains.groupby(["unit_id", "category"])["newly_covered_population"].sum()
    key = pd.MultiIndex.from_arrays([out["unit_id"], out["category"]])
    out["newly_covered_population"] = new.reindex(key).fillna(0.0).to_numpy()
    pop = out["population"].to_numpy(dtype=float)
    before = out["covered_population"].to_numpy(dtype=float)
    after = before + out["newly_covered_population"].to_numpy(dtype=float)
    out["share_before"] = np.divide(before, pop, out=np.zeros(len(out)), where=pop > 0)
    out["share_after"] = np.divide(after, pop, out=np.zeros(len(out)), where=pop > 0)
    out["meets_after"] = out["share_after"] >= out["target_share"] - 1e-12
    return out.reset_index(drop=True)
