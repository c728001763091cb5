"""Coverage per planning unit × category: who reaches a service within its walking threshold.

Works on a long table of resident points × categories (one walk distance each) so the same code
rolls up to units, 街镇 and districts.

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

__all__ = ["MEASURES", "summarize", "weighted_quantile"]

MEASURES = [
    "population",
    "covered_population",
    "share",
    "mean_walk_min",
    "p90_walk_min",
    "reached_population",
    "meets_standard",
]


def weighted_quantile(values, weights, q: float) -> float:
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
    out["share"] = np.divide(
        out["covered_population"],
        out["population"],
        out=np.zeros(len(out)),
        where=out["population"] > 0,
    )
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
    # a group with no residents leaves nobody out
    out["meets_standard"] = (out["share"] >= out["target_share"] - 1e-12) | (out["population"] <= 0)
    return out[[*gkeys, "target_share", *MEASURES]]
