"""Gaps ranked by people left out, suggested sites (greedy maximal coverage) and the project list.

Examples
--------
>>> import pandas as pd
>>> cov = pd.DataFrame({"unit_id": ["a", "b"], "category": "park", "population": [100.0, 80.0],
...                     "covered_population": [90.0, 20.0], "meets_standard": [False, False]})
>>> rank_gaps(cov)[["unit_id", "people_left_out", "rank"]].values.tolist()
[['b', 60.0, 1], ['a', 10.0, 2]]
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .network import WalkNetwork
from .routing import Seeds, Snap, reach_at_points, reach_matrix

if TYPE_CHECKING:
    from .standards import Profile

__all__ = ["ACTIONS", "project_list", "rank_gaps", "suggest_sites"]

log = logging.getLogger(__name__)


#: What becomes of a gap: a 街镇 project, a referral to the department that builds such
#: facilities, or nothing this year (its class is not a priority of the unit's area type).
ACTIONS = {
    "project": ("街镇项目", "sub-district project"),
    "referral": ("转交主管部门", "referral to the department"),
    "not a priority": ("非本地区优先类别", "not a priority of this area type"),
}


def rank_gaps(coverage: pd.DataFrame, profile: Profile | None = None) -> pd.DataFrame:
    """Rows that miss their standard, ranked by class priority, then by people left out.

    Only measured rows are gaps: with a ``status`` column (:func:`~lifecircle_geo.coverage.
    apply_status`), rows that are ``no data``, ``partial network`` or ``informational`` never
    are.

    Parameters
    ----------
    coverage : DataFrame
        Unit × category rows (``result.coverage``).
    profile : Profile, optional
        Gives each gap its ``priority`` (the rank of its class among the classes the unit's
        area type builds, 2025 action plan 任务4: 0 first; NaN when the class makes no projects
        there), ``department`` and ``action`` (:data:`ACTIONS`: a category with a responsible
        department is referred to it; a class the area type does not prioritise makes no
        project). Without it every gap is a ``project`` ranked by people left out.

    Returns
    -------
    DataFrame
        The failing rows with ``people_left_out`` (population − covered), ``priority``,
        ``action``, ``department`` and ``rank`` (1..).
    """
    if "status" in coverage.columns:
        gaps = coverage[coverage["status"] == "gap"].copy()
    else:
        gaps = coverage[~coverage["meets_standard"].astype("boolean").fillna(True)].copy()
    gaps["people_left_out"] = gaps["population"] - gaps["covered_population"]
    if profile is not None and len(gaps):
        cats = {c.id: c for c in profile.categories}
        gaps["priority"] = [
            profile.class_priority(a, k)
            for a, k in zip(gaps["area_type"], gaps["class_zh"], strict=True)
        ]
        gaps["priority"] = gaps["priority"].astype(float)
        gaps["department"] = [cats[c].department for c in gaps["category"]]
        gaps["action"] = np.where(
            gaps["department"].notna(),
            "referral",
            np.where(gaps["priority"].notna(), "project", "not a priority"),
        )
    else:
        gaps["priority"] = 0.0 if profile is None else np.nan
        gaps["department"] = None
        gaps["action"] = "project"
    gaps["_p"] = gaps["priority"].fillna(np.inf)
    gaps = gaps.sort_values(
        ["_p", "people_left_out", "unit_id", "category"],
        ascending=[True, False, True, True],
        kind="stable",
    ).drop(columns="_p")
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    return gaps.reset_index(drop=True)


def _candidate_nodes(
    net: WalkNetwork, polygon: shapely.Geometry, max_candidates: int
) -> np.ndarray:
    # street nodes only: never a node that only ferries touch
    inside = np.flatnonzero(shapely.contains_xy(polygon, net.x_m, net.y_m) & net.street_nodes)
    if len(inside) > max_candidates:
        # an even spatial sample: order along a coarse grid, then take every k-th
        key = np.round(net.y_m[inside] / 50.0) * 1e7 + np.round(net.x_m[inside] / 50.0)
        inside = inside[np.argsort(key, kind="stable")]
        inside = inside[np.linspace(0, len(inside) - 1, max_candidates).astype(np.int64)]
    return inside


def _reach_within(
    net: WalkNetwork, cands: np.ndarray, pts_snap: Snap, limit_m: float
) -> np.ndarray:
    """Whether each candidate node reaches each snapped point within ``limit_m`` (cands × points).

    The same walk as every other measure (:func:`lifecircle_geo.routing.reach_at_points`):
    per-candidate bounded searches on the rounded graph, then the points' legs to the street.
    """
    seeds = Seeds(cands, np.zeros(len(cands)), np.arange(len(cands), dtype=np.int64))
    reach = reach_at_points(net, reach_matrix(net, seeds, limit_m, progress=False), pts_snap)
    out = np.zeros((len(cands), len(pts_snap)), dtype=bool)
    out[reach.facility, reach.target] = True
    return out


def suggest_sites(
    net: WalkNetwork,
    gaps: pd.DataFrame,
    demand: gpd.GeoDataFrame,
    demand_snap: Snap,
    units: gpd.GeoDataFrame,
    max_sites: int = 3,
    max_candidates: int = 200,
) -> gpd.GeoDataFrame:
    """Suggest up to ``max_sites`` new facility sites per gap by greedy maximal coverage.

    Candidates are street nodes inside the unit; each pick covers the most residents of the
    unit who are still beyond the threshold, until the unit meets its target share.

    Parameters
    ----------
    net : WalkNetwork
    gaps : DataFrame
        From :func:`rank_gaps` (needs unit_id, category, threshold_m, target_share,
        population, covered_population).
    demand : GeoDataFrame
        Resident points with ``unit_id``, ``population`` and ``walk_m_<category>``.
    demand_snap : Snap
        The residents' snap (rows aligned with ``demand``).
    units : GeoDataFrame
        Units in the network's CRS.

    Returns
    -------
    GeoDataFrame
        site_id, unit_id, category, order, newly_covered_population, share_after, node,
        geometry (network CRS).
    """
    rows = []
    cache: dict[tuple[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    unit_geom = dict(zip(units["unit_id"], units.geometry, strict=True))
    unit_of = demand["unit_id"].to_numpy()
    for gap in gaps.itertuples(index=False):
        group = getattr(gap, "target_group", "all") or "all"
        # the people the category serves: its target group's
        pop = demand["population" if group == "all" else f"population_{group}"].to_numpy(float)
        thr = float(gap.threshold_m)
        key = (gap.unit_id, thr)
        if key not in cache:
            members = np.flatnonzero(unit_of == gap.unit_id)
            cands = _candidate_nodes(net, unit_geom[gap.unit_id], max_candidates)
            if len(cands) == 0 or len(members) == 0:
                cache[key] = (cands, members, np.zeros((0, len(members)), dtype=bool))
            else:
                within = _reach_within(net, cands, demand_snap.take(members), thr)
                cache[key] = (cands, members, within)
        cands, members, reach = cache[key]
        if len(cands) == 0:
            continue
        walk = demand[f"walk_m_{gap.category}"].to_numpy()[members]
        need = walk > thr
        p = pop[members] * need
        covered = float(gap.covered_population)
        total = float(gap.population)
        for order in range(1, max_sites + 1):
            if total <= 0 or covered / total >= gap.target_share - 1e-12:
                break
            gain = reach.astype(np.float64) @ p
            best = int(np.argmax(gain))
            if gain[best] <= 0:
                break
            covered += gain[best]
            p = p * ~reach[best]
            node = int(cands[best])
            rows.append(
                {
                    "site_id": f"{gap.unit_id}-{gap.category}-{order}",
                    "unit_id": gap.unit_id,
                    "category": gap.category,
                    "order": order,
                    "newly_covered_population": float(gain[best]),
                    "share_after": covered / total,
                    "node": node,
                    "geometry": shapely.Point(net.x_m[node], net.y_m[node]),
                }
            )
    cols = [
        "site_id",
        "unit_id",
        "category",
        "order",
        "newly_covered_population",
        "share_after",
        "node",
        "geometry",
    ]
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=net.crs)


def project_list(
    gaps: pd.DataFrame, sites: gpd.GeoDataFrame, profile: Profile, year: int | None = None
) -> pd.DataFrame:
    """Build the 项目实施清单: one project per suggested site, or per gap where no site helps.

    The fields follow the 2025 action plan: 建设内容 (content), 实施路径 (path), 实施主体 (body),
    资金来源 (funding), 时间安排 (schedule), 设计团队 (design team). What the analysis cannot
    know (body, funding, design team) is left as 待定 for the 街镇 to fill.
    """
    year = year or _dt.date.today().year + 1
    site_ll = sites.to_crs(4326) if len(sites) else sites
    by_gap: dict[tuple[str, str], list] = {}
    for s in site_ll.itertuples(index=False):
        by_gap.setdefault((s.unit_id, s.category), []).append(s)
    rows = []
    for gap in gaps.itertuples(index=False):
        cat = profile.category(gap.category)
        ftype = cat.facility_types[0] if cat.facility_types else cat.name_zh
        standard = getattr(gap, "standard_zh", None) or (
            f"步行{cat.tier_min}分钟（{gap.threshold_m:.0f}米）"
        )
        group = profile.target_groups.get(cat.target_group) if cat.target_group != "all" else None
        who_zh = group.name_zh if group is not None else "居民"
        who_en = group.name_en if group is not None else "residents"
        common = {
            "jiezhen_code": gap.jiezhen_code,
            "jiezhen_name": gap.jiezhen_name,
            "unit_id": gap.unit_id,
            "unit_name": gap.unit_name,
            "category": gap.category,
            "name_zh": cat.name_zh,
            "name_en": cat.name_en,
            "class_zh": cat.class_zh,
            "path_zh": "新建，或利用存量空间改建、共享（待定）",
            "body_zh": f"{gap.jiezhen_name or '街镇'}（待定）",
            "funding_zh": "待定",
            "schedule": f"{year}年",
            "design_team": "待定",
            "people_left_out": float(gap.people_left_out),
            "gap_rank": int(gap.rank),
        }
        found = by_gap.get((gap.unit_id, gap.category), [])
        for s in found:
            rows.append(
                {
                    **common,
                    "content_zh": (
                        f"在{gap.unit_name}补充{ftype}（{cat.name_zh}）1处，"
                        f"可使约{s.newly_covered_population:.0f}名{who_zh}{standard}内可达"
                    ),
                    "content_en": (
                        f"Add one {cat.name_en.lower()} facility in "
                        f"{gap.unit_id}: about {s.newly_covered_population:.0f} "
                        f"more {who_en} within {gap.threshold_m:.0f} m"
                    ),
                    "newly_covered_population": float(s.newly_covered_population),
                    "lon": s.geometry.x,
                    "lat": s.geometry.y,
                }
            )
        if not found:
            rows.append(
                {
                    **common,
                    "content_zh": (
                        f"研究在{gap.unit_name}补充{ftype}（{cat.name_zh}），"
                        f"现有约{gap.people_left_out:.0f}名{who_zh}{standard}内不可达"
                    ),
                    "content_en": (
                        f"Study how to add {cat.name_en.lower()} in "
                        f"{gap.unit_id}: {gap.people_left_out:.0f} {who_en} "
                        f"beyond {gap.threshold_m:.0f} m"
                    ),
                    "newly_covered_population": 0.0,
                    "lon": np.nan,
                    "lat": np.nan,
                }
            )
    cols = [
        "project_id",
        "jiezhen_code",
        "jiezhen_name",
        "unit_id",
        "unit_name",
        "category",
        "name_zh",
        "name_en",
        "class_zh",
        "content_zh",
        "content_en",
        "path_zh",
        "body_zh",
        "funding_zh",
        "schedule",
        "design_team",
        "people_left_out",
        "newly_covered_population",
        "gap_rank",
        "lon",
        "lat",
    ]
    out = pd.DataFrame(rows, columns=[c for c in cols if c != "project_id"])
    out.insert(
        0,
        "project_id",
        [f"{r.jiezhen_code or 'X'}-{year}-{i + 1:03d}" for i, r in enumerate(out.itertuples())],
    )
    return out[cols]
