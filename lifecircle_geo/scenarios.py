"""Scenarios and comparisons: the same analysis with facilities added or removed, or a new link.

A planner shows that a project list closes the gaps it claims by re-running the analysis with
the proposed facilities in place, and the 十四五 evaluation compares years the same way:

- :func:`scenario` re-runs :func:`lifecircle_geo.analyze` on a result's own inputs (network,
  facilities, units, residents, profile and options) with facilities added or removed, or on a
  network with new pedestrian links (:func:`with_links`);
- :func:`compare` lines up two results unit × category: shares before and after, people newly
  covered, gaps closed and opened;
- :func:`suggest_links` finds **connectivity projects**: short pedestrian links (a bridge, a
  crossing, a gate opening) across barriers where the walk is a long detour around them, each
  evaluated by a scenario with the people it brings within reach of an existing facility.

Examples
--------
>>> import lifecircle_geo as lc
>>> after = lc.scenario(result, add=lc.scenarios.proposed_facilities(sites))  # doctest: +SKIP
>>> diff = lc.compare(result, after)  # doctest: +SKIP
>>> diff.summary[["category", "share_before", "share_after", "gaps_closed"]]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import InputError

if TYPE_CHECKING:
    from .analysis import AnalysisResult
    from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = [
    "Comparison",
    "compare",
    "proposed_facilities",
    "scenario",
    "suggest_links",
    "with_links",
]

_KEYS = ["unit_id", "category"]
#: options of the original run that a scenario repeats (from ``result.meta``)
_RUN_OPTIONS = ("walk_speed_kmh", "search_cutoff_m", "max_snap_m")


def proposed_facilities(
    sites: gpd.GeoDataFrame, *, category: str | None = None, label: str = "拟建"
) -> gpd.GeoDataFrame:
    """Facility rows for proposed sites (suggested sites, package functions, a planner's list).

    Parameters
    ----------
    sites : GeoDataFrame
        Points (any CRS) with ``category`` (or one ``category`` for all), optionally
        ``site_id`` / ``package_id`` and ``name``. A row per function: a package hosting three
        functions is three rows at one point.
    category : str, optional
        The category of every site when ``sites`` has no ``category`` column.
    label : str
        Prefix of the names given to sites without one.

    Returns
    -------
    GeoDataFrame
        WGS-84, in the columns of :mod:`lifecircle_geo.facilities`: ``facility_id``
        ``proposed/<id>``, ``source`` ``"scenario"``, ``rule`` ``"proposed"``.

    Raises
    ------
    InputError
        Without a category, or with sites that have no CRS.
    """
    if sites.crs is None:
        raise InputError("proposed sites have no CRS")
    out = sites.copy()
    if "category" not in out.columns:
        if category is None:
            raise InputError("proposed sites need a 'category' column or category=")
        out["category"] = category
    ids = (
        out["site_id"].astype(str)
        if "site_id" in out.columns
        else out["package_id"].astype(str)
        if "package_id" in out.columns
        else pd.Series([str(i) for i in range(len(out))], index=out.index)
    )
    names = (
        out["name"].fillna("").astype(str)
        if "name" in out.columns
        else pd.Series("", index=out.index)
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": "proposed/" + ids + "/" + out["category"].astype(str),
            "name": np.where(names != "", names, label + out["category"].astype(str)),
            "category": out["category"].astype(str).to_numpy(),
            "facility_type": out.get("facility_type", pd.Series("", index=out.index)).to_numpy(),
            "source": "scenario",
            "rule": "proposed",
            "capacity": np.nan,
        },
        geometry=out.geometry.to_numpy(),
        crs=out.crs,
    ).to_crs(4326)
    fac["entrances"] = None
    return fac.reset_index(drop=True)


def with_links(
    net: WalkNetwork,
    links: Iterable[tuple[Any, Any]],
    *,
    kind: str = "walk",
) -> WalkNetwork:
    """Return the network with new straight pedestrian links between pairs of points.

    Each link joins the street nodes nearest to its two ends (network CRS coordinates or
    shapely Points) with a straight edge as long as it is; every existing edge, its geometry,
    cost and kind are kept.

    Parameters
    ----------
    net : WalkNetwork
    links : iterable of (point, point)
        Ends of each link in the network's CRS.
    kind : str
        Edge kind of the links (``walk``: snapped to like any street).

    Returns
    -------
    WalkNetwork
        A new network; ``meta["added_links"]`` lists the links (node pairs and lengths).

    Raises
    ------
    InputError
        For a link whose two ends are the same street node.
    """
    from .network import WalkNetwork

    street = np.flatnonzero(net.street_nodes)
    tree = shapely.STRtree(shapely.points(net.x_m[street], net.y_m[street]))
    new_u, new_v, new_len, added = [], [], [], []
    for a, b in links:
        ends = []
        for p in (a, b):
            pt = p if isinstance(p, shapely.Geometry) else shapely.Point(*p)
            ends.append(int(street[np.asarray(tree.nearest(pt)).ravel()[0]]))
        if ends[0] == ends[1]:
            raise InputError(f"link {a}–{b}: both ends are the same street node {ends[0]}")
        u, v = ends
        length_m = float(np.hypot(net.x_m[u] - net.x_m[v], net.y_m[u] - net.y_m[v]))
        new_u.append(ends[0])
        new_v.append(ends[1])
        new_len.append(length_m)
        added.append({"u": ends[0], "v": ends[1], "length_m": round(length_m, 3)})
    geoms = [
        shapely.LineString([(net.x_m[u], net.y_m[u]), (net.x_m[v], net.y_m[v])])
        for u, v in zip(new_u, new_v, strict=True)
    ]
    meta = dict(net.meta)
    meta["added_links"] = list(meta.get("added_links", [])) + added
    return WalkNetwork(
        net.x_m,
        net.y_m,
        np.concatenate([net.u, np.asarray(new_u, dtype=np.int64)]),
        np.concatenate([net.v, np.asarray(new_v, dtype=np.int64)]),
        np.concatenate([net.length_m, new_len]),
        net.crs,
        geometry=np.concatenate([net.geometry, np.asarray(geoms, dtype=object)]),
        cost_m=np.concatenate([net.cost_m, new_len]),
        osmid=net.osmid,
        kind=np.concatenate([np.asarray(net.kind).astype(str), [kind] * len(new_u)]),
        meta=meta,
    )


def scenario(
    result: AnalysisResult,
    *,
    add: gpd.GeoDataFrame | None = None,
    remove: Sequence[str] | None = None,
    network: WalkNetwork | None = None,
    **options: Any,
) -> AnalysisResult:
    """Re-run ``result``'s analysis with facilities added or removed, or on another network.

    The run repeats the original's inputs and options (profile, residents with their target
    groups, units, walking speed, search cutoff, snap distance, declared-complete categories);
    site suggestion and catchment polygons are off unless ``options`` turn them on.

    Parameters
    ----------
    result : AnalysisResult
        The run to start from.
    add : GeoDataFrame, optional
        Facilities to add (:func:`proposed_facilities` turns sites or packages into them).
    remove : sequence of str, optional
        ``facility_id`` values to remove (a closure, or an older year's list).
    network : WalkNetwork, optional
        Another network, e.g. :func:`with_links`; default the result's.
    **options
        Other :func:`lifecircle_geo.analyze` keywords, overriding the original's.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    InputError
        For ``remove`` ids that are not in the result's facilities.
    """
    from .analysis import analyze

    fac = result.facilities.drop(
        columns=[c for c in ("snap_m", "reachable", "served_population") if c in result.facilities]
    )
    if remove:
        unknown = sorted(set(remove) - set(fac["facility_id"]))
        if unknown:
            raise InputError(f"scenario: facilities {unknown[:10]} are not in the result")
        fac = fac[~fac["facility_id"].isin(set(remove))]
    if add is not None and len(add):
        fac = pd.concat([fac, add.to_crs(fac.crs)], ignore_index=True)
        fac = gpd.GeoDataFrame(fac, geometry="geometry", crs=result.facilities.crs)
    pop_cols = [
        c for c in result.demand.columns if c == "population" or c.startswith("population_")
    ]
    run: dict[str, Any] = {k: result.meta[k] for k in _RUN_OPTIONS if k in result.meta}
    run["complete"] = result.meta.get("complete", ())
    run.update(suggest=False, isochrone_polygons=False, progress=False)
    run.update(options)
    unit_cols = [
        c
        for c in result.units.columns
        if c not in ("network_share", "far_population", "partial_network")
        and not c.startswith("population")
    ]
    return analyze(
        network if network is not None else result.network,
        fac,
        result.units[unit_cols],
        population=result.demand[[*pop_cols, "geometry"]],
        profile=result.profile,
        **run,
    )


@dataclass(frozen=True)
class Comparison:
    """Two results lined up (see :func:`compare`).

    Attributes
    ----------
    coverage : DataFrame
        Unit × category: ``population``, ``covered_before``, ``covered_after``,
        ``newly_covered``, ``share_before``, ``share_after``, ``status_before``,
        ``status_after``, ``closed`` (a gap that is met after) and ``opened`` (the reverse).
    summary : DataFrame
        Per category over the study area: the same sums and shares, ``gaps_before``,
        ``gaps_after``, ``gaps_closed`` and ``gaps_opened``.
    """

    coverage: pd.DataFrame
    summary: pd.DataFrame

    def _repr_html_(self) -> str:
        """Show the per-category summary in Jupyter."""
        return self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}")


def _coverage_of(run: AnalysisResult | str | os.PathLike) -> pd.DataFrame:
    """Return the unit × category coverage of a result or of a written project database."""
    if not isinstance(run, str | os.PathLike):
        return run.coverage
    path = Path(run)
    if path.is_dir():
        path = path / "project_database.gpkg"
    if not path.exists():
        raise InputError(f"{path}: no project database (project_database.gpkg) to compare")
    import pyogrio

    try:
        cov = pyogrio.read_dataframe(path, layer="coverage", read_geometry=False)
    except Exception as exc:
        raise InputError(f"{path}: could not read its coverage layer ({exc})") from None
    return pd.DataFrame(cov)


def compare(
    before: AnalysisResult | str | os.PathLike, after: AnalysisResult | str | os.PathLike
) -> Comparison:
    """Coverage per unit and category before and after (a scenario, another year).

    Parameters
    ----------
    before, after : AnalysisResult or path
        Two runs over the same units and profile categories: results, or their written
        output folders / ``project_database.gpkg`` (last year's against this year's).

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        When the two results do not cover the same unit × category rows.
    """
    cols = [*_KEYS, "name_zh", "population", "covered_population", "share", "status"]
    a = _coverage_of(before)[cols].set_index(_KEYS)
    b = _coverage_of(after)[cols].set_index(_KEYS)
    if not a.index.sort_values().equals(b.index.sort_values()):
        missing = sorted(set(a.index) ^ set(b.index))[:10]
        raise InputError(f"compare: the results cover different unit × category rows: {missing}")
    b = b.reindex(a.index)
    out = pd.DataFrame(
        {
            "name_zh": a["name_zh"],
            "population": a["population"],
            "covered_before": a["covered_population"],
            "covered_after": b["covered_population"],
            "share_before": a["share"],
            "share_after": b["share"],
            "status_before": a["status"],
            "status_after": b["status"],
        }
    )
    out["newly_covered"] = out["covered_after"] - out["covered_before"]
    out["closed"] = (out["status_before"] == "gap") & (out["status_after"] == "met")
    out["opened"] = (out["status_before"] == "met") & (out["status_after"] == "gap")
    out = out.reset_index()
    summary = (
        out.groupby("category", sort=False)
        .agg(
            name_zh=("name_zh", "first"),
            population=("population", "sum"),
            covered_before=("covered_before", "sum"),
            covered_after=("covered_after", "sum"),
            gaps_before=("status_before", lambda s: int((s == "gap").sum())),
            gaps_after=("status_after", lambda s: int((s == "gap").sum())),
            gaps_closed=("closed", "sum"),
            gaps_opened=("opened", "sum"),
        )
        .reset_index()
    )
    pop = summary["population"].to_numpy(dtype=float)
    for when in ("before", "after"):
        covered = summary[f"covered_{when}"].to_numpy(dtype=float)
        summary[f"share_{when}"] = np.divide(
            covered, pop, out=np.full(len(pop), np.nan), where=pop > 0
        )
    summary["newly_covered"] = summary["covered_after"] - summary["covered_before"]
    return Comparison(coverage=out, summary=summary)


def suggest_links(
    result: AnalysisResult,
    *,
    max_link_m: float = 120.0,
    min_detour_m: float = 600.0,
    top: int = 3,
    candidates: int = 8,
) -> pd.DataFrame:
    """Find connectivity projects: short new links where the walk around a barrier is long.

    Street nodes closer than ``max_link_m`` to each other in a straight line whose walk
    between them is longer than ``min_detour_m`` (a river, a rail line, an elevated road or
    a gated compound in between) are candidate links. The ``candidates`` with the most
    uncovered people (of categories with gaps) near their ends are each evaluated by a
    :func:`scenario` with the link built; the ``top`` that bring the most people within a
    threshold are returned.

    Parameters
    ----------
    result : AnalysisResult
    max_link_m : float
        Longest link considered (a footbridge or a crossing).
    min_detour_m : float
        The walk between the two ends must be at least this long today.
    top : int
        Links returned.
    candidates : int
        Links evaluated (each is one re-run of the analysis).

    Returns
    -------
    DataFrame
        ``link_id``, ``u``, ``v`` (street nodes), ``length_m``, ``detour_m`` (today's walk
        between them, ``inf`` when none within the search), ``newly_covered_population`` (all
        categories), ``gaps_closed``, ``by_category`` (people per category), ``geometry``
        (the link, network CRS); empty when no link qualifies.
    """
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    net = result.network
    cols = [
        "link_id",
        "u",
        "v",
        "length_m",
        "detour_m",
        "newly_covered_population",
        "gaps_closed",
        "by_category",
        "geometry",
    ]
    street = np.flatnonzero(net.street_nodes)
    if len(street) < 2:
        return pd.DataFrame(columns=cols)
    xy = np.column_stack([net.x_m[street], net.y_m[street]])
    pairs = cKDTree(xy).query_pairs(max_link_m, output_type="ndarray")
    if not len(pairs):
        return pd.DataFrame(columns=cols)
    a, b = street[pairs[:, 0]], street[pairs[:, 1]]
    straight = np.hypot(net.x_m[a] - net.x_m[b], net.y_m[a] - net.y_m[b])
    sources, inverse = np.unique(a, return_inverse=True)
    dist = dijkstra(net.csr, indices=sources, limit=min_detour_m, directed=False)
    walk = dist[inverse, b]
    keep = (walk >= min_detour_m) & (straight > 1.0)
    if not keep.any():
        return pd.DataFrame(columns=cols)
    a, b, straight, walk = a[keep], b[keep], straight[keep], walk[keep]
    # people still beyond a threshold near either end decide which links are worth a re-run
    gaps = result.coverage[result.coverage["status"] == "gap"]
    demand = result.demand
    weight = np.zeros(len(demand))
    for cat in gaps["category"].unique():
        units = set(gaps.loc[gaps["category"] == cat, "unit_id"])
        thr = result.coverage.loc[result.coverage["category"] == cat, "threshold_m"].max()
        out_of_reach = demand[f"walk_m_{cat}"].to_numpy(dtype=float) > thr
        weight += np.where(
            out_of_reach & demand["unit_id"].isin(units).to_numpy(), demand["population"], 0.0
        )
    dx, dy = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    near = cKDTree(np.column_stack([dx, dy]))
    score = np.array(
        [
            weight[near.query_ball_point([net.x_m[u], net.y_m[u]], 500.0)].sum()
            + weight[near.query_ball_point([net.x_m[v], net.y_m[v]], 500.0)].sum()
            for u, v in zip(a, b, strict=True)
        ]
    )
    order = np.argsort(-score, kind="stable")
    rows, used = [], set()
    for i in order:
        if len(rows) >= candidates or score[i] <= 0:
            break
        u, v = int(a[i]), int(b[i])
        if u in used or v in used:  # one link per crossing place
            continue
        used.update((u, v))
        linked = with_links(net, [((net.x_m[u], net.y_m[u]), (net.x_m[v], net.y_m[v]))])
        diff = compare(result, scenario(result, network=linked))
        gained = diff.summary.set_index("category")["newly_covered"]
        rows.append(
            {
                "u": u,
                "v": v,
                "length_m": float(straight[i]),
                "detour_m": float(walk[i]),
                "newly_covered_population": float(gained.clip(lower=0).sum()),
                "gaps_closed": int(diff.coverage["closed"].sum()),
                "by_category": {k: float(x) for k, x in gained.items() if x > 0},
                "geometry": shapely.LineString(
                    [(net.x_m[u], net.y_m[u]), (net.x_m[v], net.y_m[v])]
                ),
            }
        )
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows).sort_values("newly_covered_population", ascending=False).head(top)
    out = out[out["newly_covered_population"] > 0].reset_index(drop=True)
    out.insert(0, "link_id", [f"link-{i + 1}" for i in range(len(out))])
    return out[cols]
