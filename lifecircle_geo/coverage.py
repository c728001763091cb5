"""Coverage per planning unit × category: who reaches a service within its walking threshold.

:func:`summarize` works on a long table of resident points × categories (one walk distance
each); :func:`rollup` sums unit × category rows up to 街镇 and districts (``analyze`` and the
batch city roll-up both use it, so a share means the same everywhere).

Examples
--------
>>> import numpy as np, pandas as pd
>>> long = pd.DataFrame({"unit_id": ["a", "a", "b"], "category": "park",
...                      "population": [100.0, 50.0, 10.0], "walk_m": [200.0, 900.0, np.inf],
...                      "threshold_m": 500.0, "target_share": 0.8})
>>> t = summarize(long, ["unit_id"], walk_speed_kmh=4.0)
>>> t[["unit_id", "covered_population", "share", "meets_standard"]].values.tolist()
[['a', 100.0, 0.6666666666666666, False], ['b', 0.0, 0.0, False]]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .standards import Profile

__all__ = [
    "MEASURES",
    "NAME_COLUMNS",
    "STATUSES",
    "TOLERANCE_M",
    "ResidentRows",
    "apply_status",
    "evaluate_indicators",
    "rollup",
    "summarize",
    "weighted_quantile",
]

MEASURES = [
    "population",
    "covered_population",
    "share",
    "mean_walk_min",
    "p90_walk_min",
    "reached_population",
    "meets_standard",
]
#: Per-category columns a roll-up carries over from its unit rows (when present).
NAME_COLUMNS = ["name_zh", "name_en", "group", "class_zh", "tier_min"]
#: What a coverage row says, with its Chinese and English labels. ``informational``: measured and
#: reported, but the profile does not judge units on it (5-minute items by default). ``no data``:
#: the inputs hold
#: no facility of the category in or near the study area (and nobody declared them complete),
#: so nothing was measured. ``partial network``: the unit reaches beyond the street data, so
#: its measure is not trusted (and not turned into projects).
STATUSES: dict[str, tuple[str, str]] = {
    "met": ("达标", "meets standard"),
    "gap": ("未达标", "gap"),
    "no data": ("无数据", "no data"),
    "partial network": ("路网不全", "partial network"),
    "informational": ("仅供参考", "informational"),
    "no residents": ("无居住人口", "no residents"),
}
#: A walk this much longer than a threshold still counts as within it: a place stored as
#: lon/lat and read back (last year's project) lands a few nanometres off its street node.
TOLERANCE_M = 1e-6
#: a roll-up row is ``partial network`` when more than this share of its people live in
#: ``partial network`` units
PARTIAL_ROLLUP_SHARE = 0.1
#: measures that are unknown (NaN) where a category has no data
_MEASURED = ["covered_population", "share", "mean_walk_min", "p90_walk_min", "reached_population"]


def weighted_quantile(values: ArrayLike, weights: ArrayLike, q: float) -> float:
    """Population-weighted quantile (lower), ``inf`` values allowed (→ ``inf`` if reached).

    >>> weighted_quantile([1.0, 2.0, 10.0], [1, 1, 8], 0.5)
    10.0
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return float("nan")
    return float(v[order][np.searchsorted(cw, q * cw[-1] - 1e-9 * cw[-1])])


class _RowArrays:
    """What :func:`summarize` reads of each resident × category row, as arrays.

    Subclasses hold ``population``, ``walk_m``, ``threshold_m``, ``speed_kmh`` and
    ``target_share`` (one value per row) and find the groups of a set of keys (``groups``).
    """

    population: np.ndarray
    walk_m: np.ndarray
    threshold_m: np.ndarray
    speed_kmh: np.ndarray
    target_share: np.ndarray

    def groups(self, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
        """Group number of each row and the groups' ``keys`` + ``category`` (see ``_groups``)."""
        raise NotImplementedError

    @cached_property
    def people(self) -> np.ndarray:
        """``population`` with a missing count as nobody (as a pandas sum skips it)."""
        return np.nan_to_num(np.asarray(self.population, dtype=float), nan=0.0)

    @cached_property
    def walk_min(self) -> np.ndarray:
        """Walking minutes of each row at its speed."""
        return self.walk_m / (self.speed_kmh * 1000.0 / 60.0)

    @property
    def shared_order(self) -> np.ndarray | None:
        """Rows by walking minutes when several groupings share the sort, else None."""
        return None


class _FrameRows(_RowArrays):
    """The long table as a DataFrame (what callers of :func:`summarize` pass)."""

    def __init__(self, long: pd.DataFrame, walk_speed_kmh: float) -> None:
        self.long = long
        self.population = long["population"].to_numpy(dtype=float)
        self.walk_m = long["walk_m"].to_numpy(dtype=float)
        self.threshold_m = long["threshold_m"].to_numpy(dtype=float)
        self.speed_kmh = (
            long["speed_kmh"].to_numpy(dtype=float)
            if "speed_kmh" in long.columns
            else np.full(len(long), float(walk_speed_kmh))
        )
        self.target_share = long["target_share"].to_numpy()

    def groups(self, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
        """Group number of each row and the groups' ``keys`` + ``category``."""
        return _groups(self.long, [*keys, "category"])


@dataclass(eq=False)
class ResidentRows(_RowArrays):
    """Resident points × categories, one block of rows per category: a long table unbuilt.

    The long table of :func:`summarize` without its repeated key columns: ``keys`` holds them
    once per resident, and row ``j * n + i`` is resident ``i`` (of ``n``) in category
    ``categories[j]``. :func:`summarize` and :func:`rollup` read it as they read the table,
    with the same result, but find each grouping among the residents (not residents ×
    categories) and sort the rows by walk once for every grouping's 90th percentile.

    Attributes
    ----------
    keys : DataFrame
        One row per resident: the grouping columns (``unit_id``, ``jiezhen_code``, ...).
    categories : tuple of str
        Category of each block of rows.
    population, walk_m, threshold_m, speed_kmh, target_share : ndarray of float64
        One per row (``len(categories) × n``, category after category): the people the
        category serves, the walk (``inf`` when not reached), the threshold, the speed that
        turns it into minutes and the category's target share.

    Examples
    --------
    >>> rows = ResidentRows(pd.DataFrame({"unit_id": ["a", "a", "b"]}), ("park",),
    ...                     population=np.array([100.0, 50.0, 10.0]),
    ...                     walk_m=np.array([200.0, 900.0, np.inf]), threshold_m=np.full(3, 500.0),
    ...                     speed_kmh=np.full(3, 4.0), target_share=np.full(3, 0.8))
    >>> summarize(rows, ["unit_id"], 4.0)["covered_population"].tolist()
    [100.0, 0.0]
    """

    keys: pd.DataFrame
    categories: tuple[str, ...]
    population: np.ndarray
    walk_m: np.ndarray
    threshold_m: np.ndarray
    speed_kmh: np.ndarray
    target_share: np.ndarray

    def __post_init__(self) -> None:
        """Check one value per row in every array."""
        n = len(self.keys) * len(self.categories)
        for name in ("population", "walk_m", "threshold_m", "speed_kmh", "target_share"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"ResidentRows: {len(self.keys)} residents × {len(self.categories)} "
                    f"categories but {len(getattr(self, name))} {name}"
                )

    def __len__(self) -> int:
        """Return the number of rows (residents × categories)."""
        return len(self.walk_m)

    @cached_property
    def shared_order(self) -> np.ndarray | None:
        """Rows by walking minutes (:func:`_value_order`): sorted once for every grouping."""
        return _value_order(self.walk_min)

    def frame(self) -> pd.DataFrame:
        """Return the long table itself: the key columns, ``category`` and the arrays."""
        n = len(self.keys)
        rep = np.tile(np.arange(n), len(self.categories))
        data: dict[str, Any] = {k: self.keys[k].array.take(rep) for k in self.keys.columns}
        data["population"] = self.population
        data["category"] = np.repeat(np.array(self.categories, dtype=object), n)
        data["walk_m"] = self.walk_m
        data["threshold_m"] = self.threshold_m
        data["speed_kmh"] = self.speed_kmh
        data["target_share"] = self.target_share
        return pd.DataFrame(data)

    def groups(self, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
        """Group number of each row and the groups' ``keys`` + ``category``, as ``_groups``.

        The groups of ``keys`` are found among the residents; category ``j``'s copy of
        residents' group ``g`` is group ``j * n_groups + g``: the order of first appearance in
        the long table, so the result is that of ``_groups(self.frame(), [*keys, "category"])``.
        """
        n, n_cat = len(self.keys), len(self.categories)
        if n == 0 or n_cat == 0:
            return _groups(self.frame(), [*keys, "category"])
        code = self.keys.groupby(keys, sort=False, dropna=False).ngroup().to_numpy(np.int64)
        n_g = int(code.max()) + 1
        first = np.full(n_g, -1, dtype=np.int64)
        first[code[::-1]] = np.arange(n)[::-1]
        gid = (np.arange(n_cat, dtype=np.int64)[:, None] * n_g + code[None, :]).ravel()
        rep = np.tile(first, n_cat)
        data: dict[str, Any] = {k: self.keys[k].array.take(rep) for k in keys}
        data["category"] = np.repeat(np.array(self.categories, dtype=object), n_g)
        return gid, pd.DataFrame(data)


def summarize(
    long: pd.DataFrame | ResidentRows, keys: list[str], walk_speed_kmh: float
) -> pd.DataFrame:
    """Coverage measures per ``keys`` × category.

    Parameters
    ----------
    long : DataFrame or ResidentRows
        One row per resident point × category: ``category``, ``population``, ``walk_m``
        (``inf`` when not reached within the search cutoff), ``threshold_m``, ``target_share``,
        and the ``keys`` columns; optionally ``speed_kmh`` per row (a category's own speed, or
        慢行 where its threshold is a slow-travel one), else ``walk_speed_kmh`` for all.
        ``population`` is the people the category serves (its target group's). The same rows
        as :class:`ResidentRows` (faster for many residents) give the same result.
    keys : list of str
        Grouping columns, e.g. ``["unit_id"]`` or ``["jiezhen_code"]``.
    walk_speed_kmh : float
        Converts metres to minutes (rows without their own ``speed_kmh``).

    Returns
    -------
    DataFrame
        ``keys`` + ``category`` + :data:`MEASURES`. ``share`` is covered / population (0 when a
        group has no residents); ``mean_walk_min`` is over residents reached within the search
        cutoff; ``p90_walk_min`` is NaN when more than 10 % are not reached; ``meets_standard``
        is ``share >= target_share`` (True for a group with no residents).
    """
    gkeys = [*keys, "category"]
    rows = long if isinstance(long, ResidentRows) else _FrameRows(long, walk_speed_kmh)
    gid, out = rows.groups(keys)
    n_grp = len(out)
    walk_m = rows.walk_m
    # a missing count adds nobody (as a pandas sum skips it)
    pop = rows.people
    walk_min = rows.walk_min
    within = walk_m <= rows.threshold_m + TOLERANCE_M
    reached = np.isfinite(walk_m)
    # sums per group by bincount (a groupby's factorising is done once, in _groups)
    out["population"] = np.bincount(gid, weights=pop, minlength=n_grp)
    out["covered_population"] = np.bincount(
        gid, weights=np.where(within, pop, 0.0), minlength=n_grp
    )
    out["reached_population"] = np.bincount(
        gid, weights=np.where(reached, pop, 0.0), minlength=n_grp
    )
    walk_x_pop = np.bincount(gid, weights=np.where(reached, walk_min, 0.0) * pop, minlength=n_grp)
    first = np.full(n_grp, -1, dtype=np.int64)
    first[gid[::-1]] = np.arange(len(gid))[::-1]
    out["target_share"] = rows.target_share[first] if len(first) else []
    out["mean_walk_min"] = np.divide(
        walk_x_pop,
        out["reached_population"].to_numpy(),
        out=np.full(n_grp, np.nan),
        where=out["reached_population"].to_numpy() > 0,
    )
    out["p90_walk_min"] = _grouped_quantile(gid, walk_min, pop, n_grp, by_value=rows.shared_order)
    _share_and_meets(out)
    return out[[*gkeys, "target_share", *MEASURES]]


def _groups(long: pd.DataFrame, gkeys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group number of each row (in order of first appearance, NaN keys kept) and the keys."""
    if not len(long):
        return np.empty(0, dtype=np.int64), pd.DataFrame({k: long[k] for k in gkeys})
    g = long.groupby(gkeys, sort=False, dropna=False)
    gid = g.ngroup().to_numpy(dtype=np.int64)
    first = np.full(int(gid.max()) + 1, -1, dtype=np.int64)
    first[gid[::-1]] = np.arange(len(gid))[::-1]
    return gid, long[gkeys].iloc[first].reset_index(drop=True)


def _value_order(value: np.ndarray) -> np.ndarray:
    """Rows by value, as :func:`_grouped_quantile` orders them within a group.

    Ties keep their row order (a stable sort) where the compiled kernels run and no value is
    NaN; otherwise ``np.argsort``'s default sort (NaN last), as the numpy path always did.
    """
    kernels = _pair_kernels()
    if kernels is not None and len(value) and not np.isnan(value).any():
        return kernels.value_order(np.asarray(value, dtype=np.float64))  # a radix sort
    return np.argsort(value)


def _grouped_quantile(
    gid: np.ndarray,
    value: np.ndarray,
    weight: np.ndarray,
    n_grp: int,
    q: float = 0.9,
    by_value: np.ndarray | None = None,
) -> np.ndarray:
    """Return :func:`weighted_quantile` of ``value`` in each group, all groups at once.

    Rows sorted within their group by value; the first row where the cumulative weight
    reaches ``q`` of the group's. Ties in value give the same result in any order. Unlike
    :func:`weighted_quantile`, a quantile that is not finite (not reached) is NaN.

    Parameters
    ----------
    gid : ndarray of int64
        Group of each row (0 .. n_grp - 1).
    value, weight : ndarray of float64
        The value and its weight (people) of each row.
    n_grp : int
        Number of groups.
    q : float
        The quantile.
    by_value : ndarray of int64, optional
        :func:`_value_order` of ``value``, when several groupings of the same rows share it;
        then only a stable counting sort by group is left per grouping.

    Returns
    -------
    ndarray of float64
        One per group; NaN for a group without weight or whose quantile is not finite.
    """
    out = np.full(n_grp, np.nan)
    if not len(gid):
        return out
    gid = gid.astype(np.int64, copy=False)
    value = value.astype(np.float64, copy=False)
    weight = weight.astype(np.float64, copy=False)
    kernels = _pair_kernels()
    if by_value is not None and kernels is not None:  # stably by group: a counting sort
        return kernels.group_quantile_by_value(
            by_value.astype(np.int64, copy=False), gid, value, weight, int(n_grp), float(q)
        )
    if by_value is not None:  # rows by value, then stably by group
        order = by_value[np.argsort(gid[by_value], kind="stable")]
    elif kernels is not None and not np.isnan(value).any():
        # one counting sort by group, then by value within each
        order = kernels.order_pairs(
            gid, value, np.zeros(len(gid), dtype=np.int64), int(n_grp), True
        )
    else:  # by value, then stably by group: a float sort and an integer one
        by_value = np.argsort(value)
        order = by_value[np.argsort(gid[by_value], kind="stable")]
    if kernels is not None:  # the same sums in the same order, in one pass
        return kernels.sorted_group_quantile(order, gid, value, weight, int(n_grp), float(q))
    gs = gid[order]
    w = weight[order]
    total = np.bincount(gs, weights=w, minlength=n_grp)
    start = np.concatenate([[0], np.cumsum(np.bincount(gs, minlength=n_grp))[:-1]])
    csum = np.cumsum(w)
    before = np.where(start > 0, csum[np.maximum(start - 1, 0)], 0.0)
    cw = csum - before[gs]
    hit = np.flatnonzero((cw >= q * total[gs] - 1e-9 * total[gs]) & (total[gs] > 0))
    first_gid, first = np.unique(gs[hit], return_index=True)
    out[first_gid] = value[order[hit[first]]]
    return np.where(np.isfinite(out), out, np.nan)


def _pair_kernels() -> Any:
    """Return the compiled pair-ordering kernels, or None without numba."""
    from .routing.reach import _kernels

    return _kernels()


def _p90_table(
    long: pd.DataFrame | ResidentRows, keys: list[str], walk_speed_kmh: float
) -> pd.DataFrame:
    """``keys`` + ``category`` + ``p90_walk_min`` of resident rows (as :func:`summarize`)."""
    rows = long if isinstance(long, ResidentRows) else _FrameRows(long, walk_speed_kmh)
    gid, out = rows.groups(keys)
    out["p90_walk_min"] = _grouped_quantile(
        gid, rows.walk_min, rows.people, len(out), by_value=rows.shared_order
    )
    return out


def _share_and_meets(out: pd.DataFrame) -> None:
    """``share`` = covered / population (0 without residents) and ``meets_standard``, in place."""
    pop = out["population"].to_numpy(dtype=float)
    out["share"] = np.divide(
        out["covered_population"].to_numpy(dtype=float), pop, out=np.zeros(len(out)), where=pop > 0
    )
    # a group with no residents leaves nobody out
    out["meets_standard"] = (out["share"] >= out["target_share"] - 1e-12) | (pop <= 0)


def apply_status(
    coverage: pd.DataFrame,
    *,
    no_data: Collection[str] = (),
    partial_units: Collection[object] = (),
    informational: Collection[str] = (),
    empty_units: Collection[object] = (),
) -> pd.DataFrame:
    """Give each coverage row its ``status`` (see :data:`STATUSES`); a new frame.

    Rows of a category in ``no_data`` have no measure: ``covered_population``, ``share``,
    ``mean_walk_min``, ``p90_walk_min`` and ``reached_population`` become NaN and
    ``meets_standard`` becomes NA (a nullable boolean), so a missing input is never read as
    0 % or as a gap. Rows of a unit in ``partial_units`` keep their measure but say
    ``partial network``. The others are ``met`` or ``gap`` by ``meets_standard``.

    Parameters
    ----------
    coverage : DataFrame
        Rows with ``category`` and ``meets_standard`` (and ``unit_id`` when
        ``partial_units`` is given), as :func:`summarize` returns them.
    no_data : collection of str
        Categories with no facility in or near the study area.
    partial_units : collection
        Units that reach beyond the street network.
    informational : collection of str
        Categories reported without a judgement: ``informational`` (after ``no data`` and
        ``partial network``), never a gap.
    empty_units : collection
        Units without residents (parks, water, industry): ``no residents``, never a gap.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> cov = pd.DataFrame({"unit_id": ["a", "a", "b"], "category": ["park", "bus", "park"],
    ...                     "population": 100.0, "covered_population": [90.0, 0.0, 10.0],
    ...                     "share": [0.9, 0.0, 0.1], "meets_standard": [True, False, False]})
    >>> apply_status(cov, no_data=["bus"], partial_units=["b"])["status"].tolist()
    ['met', 'no data', 'partial network']
    """
    out = coverage.copy()
    cat_nd = out["category"].isin(list(no_data)).to_numpy()
    part = (
        out["unit_id"].isin(list(partial_units)).to_numpy()
        if "unit_id" in out.columns and len(partial_units)
        else np.zeros(len(out), dtype=bool)
    )
    meets = out["meets_standard"].astype("boolean")
    status = np.where(meets.fillna(False).to_numpy(dtype=bool), "met", "gap").astype(object)
    status[out["category"].isin(list(informational)).to_numpy()] = "informational"
    status[part] = "partial network"
    status[cat_nd] = "no data"
    if len(empty_units) and "unit_id" in out.columns:
        empty = out["unit_id"].isin(list(empty_units)).to_numpy()
        status[empty] = "no residents"
        meets[empty] = pd.NA
    for col in _MEASURED:
        if col in out.columns:
            out[col] = out[col].astype(float).where(~cat_nd, np.nan)
    meets[cat_nd] = pd.NA
    out["meets_standard"] = meets
    out["status"] = status
    return out


def _rollup_status(
    out: pd.DataFrame, measured: np.ndarray, partial: np.ndarray, informational: np.ndarray
) -> None:
    """Statuses of rolled-up rows, in place: ``no data`` when none of its rows was measured."""
    nd = ~measured
    for col in _MEASURED:
        if col in out.columns:
            out[col] = out[col].astype(float).where(~nd, np.nan)
    meets = out["meets_standard"].astype("boolean")
    meets[nd] = pd.NA
    out["meets_standard"] = meets
    status = np.where(meets.fillna(False).to_numpy(dtype=bool), "met", "gap").astype(object)
    status[informational] = "informational"
    status[partial & ~nd] = "partial network"
    status[nd] = "no data"
    out["status"] = status


def rollup(
    coverage: pd.DataFrame,
    keys: list[str],
    *,
    residents: pd.DataFrame | ResidentRows | None = None,
    walk_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """Sum unit × category coverage up to ``keys`` × category (街镇, district, city).

    Population, covered and reached population are sums of the unit rows; ``share`` is covered /
    population and ``meets_standard`` is ``share >= target_share`` (as in :func:`summarize`).
    Rows whose ``status`` is ``no data`` add their people but no measure: the share is over the
    measured people, and a group with no measured row is ``no data`` itself. A group is
    ``partial network`` when more than :data:`PARTIAL_ROLLUP_SHARE` of its people live in
    ``partial network`` units;
    ``mean_walk_min`` is the unit means weighted by reached population, which equals the mean
    over the residents. A percentile cannot be summed: ``p90_walk_min`` is computed only when
    the resident rows are given.

    Parameters
    ----------
    coverage : DataFrame
        Unit × category rows with the ``keys`` columns, ``category``, ``target_share``,
        ``population``, ``covered_population``, ``reached_population`` and ``mean_walk_min``
        (``result.coverage``, or the ``coverage.csv`` of batch tasks). The columns of
        :data:`NAME_COLUMNS` present are carried over.
    keys : list of str
        Grouping columns, e.g. ``["jiezhen_code", "jiezhen_name", "district_code"]``.
    residents : DataFrame or ResidentRows, optional
        The long resident × category table behind ``coverage`` (see :func:`summarize`) for
        ``p90_walk_min``.
    walk_speed_kmh : float, optional
        Needed with ``residents``.

    Returns
    -------
    DataFrame
        ``keys`` + ``category`` + ``target_share`` + :data:`MEASURES` (without ``p90_walk_min``
        unless ``residents`` are given) + ``status`` + the carried name columns; ordered by
        category (in the order of ``coverage``), then by ``keys``.

    Raises
    ------
    ValueError
        Missing columns, or ``residents`` without ``walk_speed_kmh``.

    Examples
    --------
    >>> cov = pd.DataFrame({"jiezhen_code": ["1", "1", "2"], "category": "park",
    ...                     "target_share": 0.8, "population": [100.0, 50.0, 0.0],
    ...                     "covered_population": [90.0, 20.0, 0.0],
    ...                     "reached_population": [100.0, 50.0, 0.0],
    ...                     "mean_walk_min": [4.0, 10.0, np.nan]})
    >>> t = rollup(cov, ["jiezhen_code"])
    >>> t[["jiezhen_code", "share", "mean_walk_min", "meets_standard"]].values.tolist()
    [['1', 0.7333333333333333, 6.0, False], ['2', 0.0, nan, True]]
    """
    need = [
        *keys,
        "category",
        "target_share",
        "population",
        "covered_population",
        "reached_population",
        "mean_walk_min",
    ]
    missing = [c for c in need if c not in coverage.columns]
    if missing:
        raise ValueError(f"coverage rows lack the column(s) {missing} needed for a roll-up")
    if residents is not None and walk_speed_kmh is None:
        raise ValueError("rollup(residents=...) needs walk_speed_kmh")
    carry = [c for c in NAME_COLUMNS if c in coverage.columns and c not in keys]
    df = pd.DataFrame(coverage[[*need[:-1], *carry]])
    status = (
        coverage["status"].to_numpy(dtype=object)
        if "status" in coverage.columns
        else np.full(len(coverage), "met", dtype=object)
    )
    # rows without data add their people, never their (unknown) measures
    measured = status != "no data"
    df["_measured"] = measured
    df["_informational"] = status == "informational"
    df["_partial_pop"] = np.where(
        status == "partial network", df["population"].to_numpy(dtype=float), 0.0
    )
    df["_measured_pop"] = np.where(measured, df["population"].to_numpy(dtype=float), 0.0)
    for col in ("covered_population", "reached_population"):
        df[col] = np.where(measured, np.nan_to_num(df[col].to_numpy(dtype=float)), 0.0)
    walk = coverage["mean_walk_min"].to_numpy(dtype=float)
    reached = df["reached_population"].to_numpy(dtype=float)
    df["_walk_x_reached"] = np.where(reached > 0, np.nan_to_num(walk) * reached, 0.0)
    gkeys = [*keys, "category"]
    out = (
        df.groupby(gkeys, sort=False, dropna=False)
        .agg(
            population=("population", "sum"),
            covered_population=("covered_population", "sum"),
            reached_population=("reached_population", "sum"),
            _walk_x_reached=("_walk_x_reached", "sum"),
            _measured_pop=("_measured_pop", "sum"),
            _measured=("_measured", "any"),
            _partial_pop=("_partial_pop", "sum"),
            _informational=("_informational", "any"),
            target_share=("target_share", "first"),
            **{c: (c, "first") for c in carry},
        )
        .reset_index()
    )
    total = out["reached_population"].to_numpy(dtype=float)
    out["mean_walk_min"] = np.divide(
        out["_walk_x_reached"].to_numpy(dtype=float),
        total,
        out=np.full(len(out), np.nan),
        where=total > 0,
    )
    pop = out["population"].to_numpy(dtype=float)
    out["population"] = out["_measured_pop"]  # the share is over the measured people
    _share_and_meets(out)
    out["population"] = pop
    measures = [m for m in MEASURES if m != "p90_walk_min"]
    if residents is not None:
        p90 = _p90_table(residents, keys, float(walk_speed_kmh))
        out = out.merge(p90, on=gkeys, how="left")
        measures = MEASURES
    partial = out["_partial_pop"].to_numpy(float) > PARTIAL_ROLLUP_SHARE * pop
    _rollup_status(
        out, out["_measured"].to_numpy(bool), partial, out["_informational"].to_numpy(bool)
    )
    measures = [*measures, "status"]
    order = {c: i for i, c in enumerate(pd.unique(df["category"]))}
    out = out.sort_values(
        ["category", *keys],
        key=lambda s: s.map(order) if s.name == "category" else s,
        kind="stable",
    )
    return out[[*gkeys, "target_share", *measures, *carry]].reset_index(drop=True)


def evaluate_indicators(profile: Profile, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Evaluate the profile's indicators (policy targets) on rolled-up coverage.

    An indicator such as "15-minute coverage of community health, elderly care, culture and
    sports ≈ 85 % by 2025 (citywide)" is a target for an area as a whole, never a pass mark
    for a unit: it is evaluated on each row of the roll-ups given (街镇, district, the whole
    study area), one row per indicator × category × area, with its value, target and whether
    it is met. Rows without data say so (``value`` NaN, ``met`` NA).

    Parameters
    ----------
    profile : Profile
        Whose ``indicators`` are evaluated.
    tables : dict of str to DataFrame
        Level name (e.g. ``"jiezhen"``) → roll-up rows (:func:`rollup`) with ``category``,
        ``share`` and ``status``; key columns are carried over.

    Returns
    -------
    DataFrame
        ``level``, the key columns, ``indicator``, ``name_zh``, ``name_en``,
        ``indicator_level`` (where the target is set: city, district), ``year``, ``category``,
        ``target_share`` (the indicator's target), ``share`` (its value here), ``met``,
        ``status`` and ``source``.
    """
    keys_all = ["district_code", "jiezhen_code", "jiezhen_name"]
    cols = [
        "level",
        *keys_all,
        "indicator",
        "name_zh",
        "name_en",
        "indicator_level",
        "year",
        "category",
        "target_share",
        "share",
        "met",
        "status",
        "source",
    ]
    rows = []
    for level, table in tables.items():
        if table is None or table.empty:
            continue
        for ind in profile.indicators:
            part = table[table["category"].isin(list(ind.categories))]
            for rec in part.to_dict("records"):
                value = rec.get("share")
                measured = rec.get("status") != "no data" and value == value
                rows.append(
                    {
                        "level": level,
                        **{k: rec.get(k, "") for k in keys_all},
                        "indicator": ind.id,
                        "name_zh": ind.name_zh,
                        "name_en": ind.name_en,
                        "indicator_level": ind.level,
                        "year": ind.year,
                        "category": rec["category"],
                        "target_share": ind.target,
                        "share": value if measured else np.nan,
                        "met": (value >= ind.target - 1e-12) if measured else pd.NA,
                        "status": "no data" if not measured else None,
                        "source": ind.source,
                    }
                )
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        met = out["met"].astype("boolean")
        out["met"] = met
        out["status"] = out["status"].fillna(
            pd.Series(np.where(met.fillna(False), "met", "gap"), index=out.index)
        )
    return out
