"""Gaps ranked by class priority and people left out, the project list and the annex table.

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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from .network import WalkNetwork
from .routing import Seeds, Snap, reach_at_points, reach_matrix

if TYPE_CHECKING:
    from .packages import Packages
    from .standards import Profile

__all__ = [
    "ACTIONS",
    "PATHS",
    "PROJECT_COLUMNS",
    "annex_table",
    "package_projects",
    "rank_gaps",
]

log = logging.getLogger(__name__)


#: What becomes of a gap: a 街镇 project, a referral to the department that builds such
#: facilities, or nothing this year (its class is not a priority of the unit's area type).
ACTIONS = {
    "project": ("街镇项目", "sub-district project"),
    "referral": ("转交主管部门", "referral to the department"),
    "not a priority": ("非本地区优先类别", "not a priority of this area type"),
}


def rank_gaps(
    coverage: pd.DataFrame, profile: Profile | None = None, needs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rows that miss their standard, ranked by class priority, requests, then people left out.

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
    needs : DataFrame, optional
        The 需求清单 (:func:`lifecircle_geo.cycle.read_needs`): a gap residents asked about
        ranks before others of its class; ``need`` and ``need_count`` say what they asked.

    Returns
    -------
    DataFrame
        The failing rows with ``people_left_out`` (population − covered), ``priority``,
        ``action``, ``department``, ``need``, ``need_count`` and ``rank`` (1..).
    """
    from .cycle import needs_by_gap

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
    gaps = needs_by_gap(gaps, needs)
    gaps["_p"] = gaps["priority"].fillna(np.inf)
    gaps["_asked"] = gaps["need_count"] > 0
    gaps = gaps.sort_values(
        ["_p", "_asked", "people_left_out", "unit_id", "category"],
        ascending=[True, False, False, True, True],
        kind="stable",
    ).drop(columns=["_p", "_asked"])
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    return gaps.reset_index(drop=True)


def _street_nodes_by_x(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Street nodes (:attr:`WalkNetwork.street_nodes`) in order of x, and their x."""
    nodes = np.flatnonzero(net.street_nodes)
    nodes = nodes[np.argsort(net.x_m[nodes], kind="stable")]
    return nodes, net.x_m[nodes]


def _candidate_nodes(
    net: WalkNetwork,
    polygon: shapely.Geometry,
    max_candidates: int,
    by_x: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Street nodes inside ``polygon`` (ascending), at most ``max_candidates`` spread evenly.

    ``by_x``: :func:`_street_nodes_by_x` of ``net``, when many polygons are asked in turn: the
    nodes within the bounding box's x range are then a slice, not a test of every node.
    """
    # street nodes only: never a node that only ferries touch; the bounding box first, so a
    # city of units does not test every node against every unit
    x0, y0, x1, y1 = polygon.bounds
    if by_x is None:
        box = np.flatnonzero(
            (net.x_m >= x0) & (net.x_m <= x1) & (net.y_m >= y0) & (net.y_m <= y1) & net.street_nodes
        )
    else:
        nodes, xs = by_x
        box = nodes[np.searchsorted(xs, x0, side="left") : np.searchsorted(xs, x1, side="right")]
        box = np.sort(box[(net.y_m[box] >= y0) & (net.y_m[box] <= y1)])
    inside = box[shapely.contains_xy(polygon, net.x_m[box], net.y_m[box])]
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


#: The columns of a project list (more: ``newly_covered_<group>`` per target group served).
PROJECT_COLUMNS = [
    "project_id",
    "year",
    "status",
    "jiezhen_code",
    "jiezhen_name",
    "unit_id",
    "unit_name",
    "project_name_zh",
    "package_type",
    "category",
    "name_zh",
    "class_zh",
    "content_zh",
    "content_en",
    "scale_zh",
    "path_zh",
    "site_zh",
    "body_zh",
    "funding_zh",
    "schedule",
    "design_team",
    "newly_covered_population",
    "beneficiaries_zh",
    "gap_note_zh",
    "need_zh",
    "lon",
    "lat",
    "lon_gcj02",
    "lat_gcj02",
]
#: 实施路径 by the kind of site a package takes (a planner's space, or a street node).
PATHS = {
    "地块": "新建",
    "闲置建筑": "改建",
    "附属空间": "附属空间开放",
    "规划空间": "新建或改建",
    "street node": "新建、改建或共享（选址待定：街道节点附近）",
}


def package_projects(
    packages: Packages,
    gaps: pd.DataFrame,
    units: pd.DataFrame,
    profile: Profile,
    *,
    year: int | None = None,
    carried: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the 项目实施清单 from project packages: one project per package, in the city's form.

    Every project names what the 2025 action plan (任务13) asks for: 项目名称, 项目类别 (人民坊 hub
    or 六艺亭 point), its functions, 建设内容, 建设规模, 实施路径 (新建 / 改建 / 共享 / 附属空间开放
    by the site's kind), 实施主体, 资金来源, 时间安排, 设计团队, 年度 and status (拟实施 for new
    projects; carried-over projects keep theirs), the people newly covered per target group,
    the 缺口说明 (which units' gaps it closes, shares before → after) and the residents'
    requests it answers, with coordinates in WGS-84 and GCJ-02. What the analysis cannot know
    (body, funding, design team) is left 待定 for the 街镇 to fill.

    Parameters
    ----------
    packages : Packages
        From :func:`lifecircle_geo.packages.select_packages`.
    gaps : DataFrame
        From :func:`rank_gaps` (``need`` when a 需求清单 was given).
    units : DataFrame
        Unit names (``unit_id``, ``unit_name``, ``jiezhen_name``).
    profile : Profile
    year : int, optional
        The list's year (default: next year).
    carried : DataFrame, optional
        Last year's unfinished projects (:func:`lifecircle_geo.cycle.carry_over`), listed after
        the new ones with their status.

    Returns
    -------
    DataFrame
        One row per project.
    """
    from . import crs as lc_crs

    year = year or _dt.date.today().year + 1
    pk = packages.packages
    names = dict(zip(units["unit_id"], units["unit_name"], strict=False))
    jz_names = dict(zip(units["jiezhen_code"], units["jiezhen_name"], strict=False))
    groups = {c.id: c.target_group for c in profile.categories}
    group_names = {g.id: g.name_zh for g in profile.target_groups.values()} | {"all": "居民"}
    cat_names = {c.id: c.name_zh for c in profile.categories}
    share = packages.share_after.set_index(["unit_id", "category"])
    # one lookup per (unit, category) and one table per package, not a search per row
    share_of = share[["share_before", "share_after", "target_share"]].to_dict("index")
    need_of: dict[tuple[Any, Any], Any] = {}
    if "need" in gaps.columns:  # a (unit, category) listed twice has no one request: skipped
        keys = list(zip(gaps["unit_id"], gaps["category"], strict=True))
        twice = pd.MultiIndex.from_tuples(keys).duplicated(keep=False) if keys else []
        need_of = {k: text for k, text, d in zip(keys, gaps["need"], twice, strict=True) if not d}
    # each package's (unit, category) gains as plain tuples, in the table's order
    gains = packages.gains
    gains_of: dict[Any, list[tuple[Any, Any]]] = {}
    for pid, uid, cid in zip(gains["package_id"], gains["unit_id"], gains["category"], strict=True):
        gains_of.setdefault(pid, []).append((uid, cid))
    rows = []
    ll = pk.to_crs(4326).geometry if len(pk) else pk.geometry
    lons = ll.x.to_numpy(dtype=float) if len(pk) else np.empty(0)
    lats = ll.y.to_numpy(dtype=float) if len(pk) else np.empty(0)
    glons, glats = lc_crs.convert(lons, lats, "wgs84", "gcj02")
    for i, p in enumerate(pk.itertuples(index=False)):
        lon, lat = float(lons[i]), float(lats[i])
        glon, glat = glons[i : i + 1], glats[i : i + 1]
        unit_name = names.get(p.unit_id, p.unit_id)
        by_group: dict[str, float] = {}
        for cat, people in (p.newly_covered or {}).items():
            g = groups.get(cat, "all")
            by_group[g] = by_group.get(g, 0.0) + float(people)
        notes, asked = [], []
        for key in gains_of.get(p.package_id, []):
            uid, cid = key
            row = share_of.get(key)
            if row is not None:
                who = names.get(uid, uid)
                notes.append(
                    f"{who}{cat_names.get(cid, cid)}"
                    f"覆盖率{row['share_before']:.0%}→{row['share_after']:.0%}"
                    f"（目标{row['target_share']:.0%}）"
                )
            text = need_of.get(key, "")
            if isinstance(text, str) and text:
                asked.append(f"{names.get(uid, uid)}：{text}")
        if p.hub_rule:
            notes.insert(0, f"{unit_name}步行范围内缺少党群服务（人民坊）")
        area = p.floor_area_m2
        scale = (
            f"约{area:.0f}平方米，{p.n_functions}项功能"
            if area == area
            else f"{p.n_functions}项功能，面积待定"
        )
        rows.append(
            {
                "project_id": p.package_id,
                "year": year,
                "status": "拟实施",
                "jiezhen_code": p.jiezhen_code,
                "jiezhen_name": jz_names.get(p.jiezhen_code, ""),
                "unit_id": p.unit_id,
                "unit_name": unit_name,
                "project_name_zh": f"{unit_name}{p.package_type}（{p.functions_zh}）",
                "package_type": p.package_type,
                "category": ",".join(p.functions),
                "name_zh": p.functions_zh,
                "class_zh": "、".join(
                    dict.fromkeys(profile.category(c).class_zh for c in p.functions)
                ),
                "content_zh": f"建设{p.package_type}1处，含{p.functions_zh}",
                "content_en": (
                    f"One {'hub' if p.package_type == '人民坊' else 'service point'} with "
                    f"{', '.join(profile.category(c).name_en.lower() for c in p.functions)}"
                ),
                "scale_zh": scale,
                "path_zh": PATHS.get(p.site_kind, "新建或改建"),
                "site_zh": p.site_name or ("街道节点附近" if p.site_kind == "street node" else ""),
                "body_zh": f"{jz_names.get(p.jiezhen_code, '') or '街镇'}（待定）",
                "funding_zh": "待定",
                "schedule": f"{year}年",
                "design_team": "待定",
                "newly_covered_population": float(p.newly_covered_population),
                "beneficiaries_zh": "；".join(
                    f"{group_names.get(g, g)}约{v:.0f}人" for g, v in by_group.items()
                ),
                **{f"newly_covered_{g}": float(v) for g, v in by_group.items()},
                "gap_note_zh": "；".join(notes) + ("（覆盖率为全部项目包实施后）" if notes else ""),
                "need_zh": "；".join(asked),
                "lon": lon,
                "lat": lat,
                "lon_gcj02": float(glon[0]),
                "lat_gcj02": float(glat[0]),
            }
        )
    out = pd.DataFrame(rows, columns=PROJECT_COLUMNS if not rows else None)
    if carried is not None and len(carried):
        old = carried.copy()
        old["project_id"] = "结转-" + old["carried_from"].astype(str)
        old["unit_name"] = old["unit_id"].map(names).fillna(old["unit_id"])
        old["year"] = year
        old["name_zh"] = old["category"].map(cat_names).fillna(old.get("name_zh", ""))
        keep = [c for c in old.columns if c in out.columns or c == "carried_from"]
        out = pd.concat([out, old[keep]], ignore_index=True)
    return out


def annex_table(
    projects: pd.DataFrame, units: pd.DataFrame, indicators: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Build the action plan's annex table: projects per district and in total, hubs, points.

    Per district (and a 合计 total row): 项目总数 (``n_projects``), 年内完成数量
    (``n_within_year``: projects planned to finish within the list's year, i.e. all but those
    carried over under construction), and of them 人民坊 and 六艺亭 (``n_hubs``,
    ``n_hubs_within_year``, ``n_points``, ``n_points_within_year``), plus, per indicator of the
    profile, how many of its categories meet the target in the district
    (``<indicator>_met`` as "k/n").

    Parameters
    ----------
    projects : DataFrame
        The project list (:func:`package_projects`).
    units : DataFrame
        ``unit_id`` → ``district_code``.
    indicators : DataFrame, optional
        ``result.indicators`` (district rows are used).

    Returns
    -------
    DataFrame
        One row per district, then ``district_code == "合计"``.
    """
    district = dict(zip(units["unit_id"], units["district_code"], strict=False))
    p = projects.copy()
    p["district_code"] = p["unit_id"].map(district).fillna("").astype(str)
    kind = p.get("package_type", pd.Series("", index=p.index)).fillna("")
    within = p.get("status", pd.Series("拟实施", index=p.index)) != "在建"
    p["_hub"], p["_point"], p["_within"] = kind == "人民坊", kind == "六艺亭", within
    p["_hub_within"], p["_point_within"] = p["_hub"] & within, p["_point"] & within
    cols = {
        "n_projects": ("project_id", "count"),
        "n_within_year": ("_within", "sum"),
        "n_hubs": ("_hub", "sum"),
        "n_hubs_within_year": ("_hub_within", "sum"),
        "n_points": ("_point", "sum"),
        "n_points_within_year": ("_point_within", "sum"),
    }
    districts = sorted(set(district.values()))
    out = (
        p.groupby("district_code").agg(**cols).reindex(districts, fill_value=0).reset_index()
        if len(p)
        else pd.DataFrame({"district_code": districts, **{c: 0 for c in cols}})
    )
    total = out.drop(columns="district_code").sum().to_frame().T
    total.insert(0, "district_code", "合计")
    out = pd.concat([out, total], ignore_index=True)
    for c in cols:
        out[c] = out[c].astype(int)
    if indicators is not None and len(indicators):
        dist = indicators[indicators["level"] == "district"]
        for ind, rows in dist.groupby("indicator", sort=False):
            met = rows.groupby("district_code")["met"].agg(
                lambda s: f"{int(s.astype('boolean').fillna(False).sum())}/{len(s)}"
            )
            out[f"{ind}_met"] = out["district_code"].map(met).fillna("")
    return out
