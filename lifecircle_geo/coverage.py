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

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["MEASURES", "NAME_COLUMNS", "rollup", "summarize", "weighted_quantile"]

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


def summarize(long: pd.DataFrame, keys: list[str], walk_speed_kmh: float) -> pd.DataFrame:
    """Coverage measures per ``keys`` × category.

    Parameters
    ----------
    long : DataFrame
        One row per resident point × category: ``category``, ``population``, ``walk_m``
        (``inf`` when not reached within the search cutoff), ``threshold_m``, ``target_share``,
        and the ``keys`` columns.
    keys : list of str
        Grouping columns, e.g. ``["unit_id"]`` or ``["jiezhen_code"]``.
    walk_speed_kmh : float
        Converts metres to minutes.

    Returns
    -------
    DataFrame
        ``keys`` + ``category`` + :data:`MEASURES`. ``share`` is covered / population (0 when a
        group has no residents); ``mean_walk_min`` is over residents reached within the search
        cutoff; ``p90_walk_min`` is NaN when more than 10 % are not reached; ``meets_standard``
        is ``share >= target_share`` (True for a group with no residents).
    """
    m_per_min = walk_speed_kmh * 1000.0 / 60.0
    df = long[[*keys, "category", "population", "walk_m", "threshold_m", "target_share"]].copy()
    df["covered"] = np.where(df["walk_m"] <= df["threshold_m"], df["population"], 0.0)
    reached = np.isfinite(df["walk_m"].to_numpy())
    df["reached"] = np.where(reached, df["population"], 0.0)
    df["walk_x_pop"] = np.where(reached, df["walk_m"] * df["population"], 0.0)
    gkeys = [*keys, "category"]
    g = df.groupby(gkeys, sort=False, dropna=False)
    out = g.agg(
        population=("population", "sum"),
        covered_population=("covered", "sum"),
        reached_population=("reached", "sum"),
        walk_x_pop=("walk_x_pop", "sum"),
        target_share=("target_share", "first"),
    ).reset_index()
    out["mean_walk_min"] = (
        np.divide(
            out["walk_x_pop"],
            out["reached_population"],
            out=np.full(len(out), np.nan),
            where=out["reached_population"] > 0,
        )
        / m_per_min
    )
    # vectorized weighted p90: sort within groups, first row where the cumulative weight passes
    df["_gid"] = g.ngroup()
    s = df.sort_values(["_gid", "walk_m"], kind="stable")
    cw = s.groupby("_gid")["population"].cumsum()
    total = s.groupby("_gid")["population"].transform("sum")
    hit = s[(cw >= 0.9 * total - 1e-9 * total) & (total > 0)]
    p90 = hit.groupby("_gid")["walk_m"].first()
    gid_of_row = out.index.to_numpy()  # groups come out in ngroup order when sort=False
    p90_m = p90.reindex(gid_of_row).to_numpy()
    out["p90_walk_min"] = np.where(np.isfinite(p90_m), p90_m, np.nan) / m_per_min
    _share_and_meets(out)
    return out[[*gkeys, "target_share", *MEASURES]]


def _share_and_meets(out: pd.DataFrame) -> None:
    """``share`` = covered / population (0 without residents) and ``meets_standard``, in place."""
    pop = out["population"].to_numpy(dtype=float)
    out["share"] = np.divide(
        out["covered_population"].to_numpy(dtype=float), pop, out=np.zeros(len(out)), where=pop > 0
    )
    # a group with no residents leaves nobody out
    out["meets_standard"] = (out["share"] >= out["target_share"] - 1e-12) | (pop <= 0)


def rollup(
    coverage: pd.DataFrame,
    keys: list[str],
    *,
    residents: pd.DataFrame | None = None,
    walk_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """Sum unit × category coverage up to ``keys`` × category (街镇, district, city).

    Population, covered and reached population are sums of the unit rows; ``share`` is covered /
    population and ``meets_standard`` is ``share >= target_share`` (as in :func:`summarize`);
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
    residents : DataFrame, optional
        The long resident × category table behind ``coverage`` (see :func:`summarize`) for
        ``p90_walk_min``.
    walk_speed_kmh : float, optional
        Needed with ``residents``.

    Returns
    -------
    DataFrame
        ``keys`` + ``category`` + ``target_share`` + :data:`MEASURES` (without ``p90_walk_min``
        unless ``residents`` are given) + the carried name columns; ordered by category (in the
        order of ``coverage``), then by ``keys``.

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
    walk = coverage["mean_walk_min"].to_numpy(dtype=float)
    reached = coverage["reached_population"].to_numpy(dtype=float)
    df["_walk_x_reached"] = np.where(reached > 0, np.nan_to_num(walk) * reached, 0.0)
    gkeys = [*keys, "category"]
    out = (
        df.groupby(gkeys, sort=False, dropna=False)
        .agg(
            population=("population", "sum"),
            covered_population=("covered_population", "sum"),
            reached_population=("reached_population", "sum"),
            _walk_x_reached=("_walk_x_reached", "sum"),
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
    _share_and_meets(out)
    measures = [m for m in MEASURES if m != "p90_walk_min"]
    if residents is not None:
        p90 = summarize(residents, keys, walk_speed_kmh)[[*gkeys, "p90_walk_min"]]
        out = out.merge(p90, on=gkeys, how="left")
        measures = MEASURES
    order = {c: i for i, c in enumerate(pd.unique(df["category"]))}
    out = out.sort_values(
        ["category", *keys],
        key=lambda s: s.map(order) if s.name == "category" else s,
        kind="stable",
    )
    return out[[*gkeys, "target_share", *measures, *carry]].reset_index(drop=True)
