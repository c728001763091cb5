"""A run in a notebook: an HTML summary, an interactive map and the figures, inline.

Three views of an :class:`~lifecircle_geo.AnalysisResult` for Jupyter:

* :func:`result_html`: a compact bilingual summary (study area, people, units, the
  category × coverage table with each standard and its status, the top gaps, the projects,
  the policy indicators and the referrals); ``AnalysisResult._repr_html_`` returns it.
* :func:`explore`: the layers of ``map.html`` (units coloured by coverage, facilities,
  suggested sites, popups with each unit's gaps and projects) on an offline basemap drawn from
  the run's own streets, as a :class:`folium.Map` that displays inline; Leaflet is inlined,
  so the map shows without internet access (web tiles are optional).
* :func:`plot`: the report's figures (coverage by category, categories meeting standard per
  unit, the 街镇 heat map) as :class:`matplotlib.figure.Figure` objects that display inline
  with their Chinese labels.

Examples
--------
>>> from lifecircle_geo import display
>>> display.result_html(result)  # doctest: +SKIP
'<div class="lc-result">...'
>>> display.explore(result, category="kindergarten")  # doctest: +SKIP
>>> display.plot(result, "coverage")  # doctest: +SKIP
"""

from __future__ import annotations

import html as _html
import io
import logging
import sys
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element
from branca.element import Figure as _BrancaFigure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .coverage import STATUSES
from .errors import InputError

__all__ = ["PLOTS", "LifecircleMap", "explore", "plot", "result_html"]

log = logging.getLogger(__name__)

#: The figures :func:`plot` draws: kind → what it shows.
PLOTS: dict[str, str] = {
    "coverage": "各类服务步行可达覆盖率 coverage by service category",
    "units": "各单元达标类别数 categories meeting standard per basic unit",
    "jiezhen": "街镇 × 类别覆盖率热力图 sub-district × category heat map",
}

_STATUS_COLOURS = {
    "met": ("#e8f5e9", "#1b5e20"),
    "gap": ("#ffebee", "#b71c1c"),
    "no data": ("#eeeeee", "#424242"),
    "partial network": ("#efebe9", "#4e342e"),
    "informational": ("#e3f2fd", "#0d47a1"),
}
_ACTIONS = {"project": ("街镇项目", "project"), "referral": ("转交部门", "referral")}
_CSS = """<style>
.lc-result {font: 13px/1.45 sans-serif; max-width: 1100px}
.lc-result h3 {margin: 4px 0 2px 0; font-size: 15px}
.lc-result .lc-facts {color: #444; margin-bottom: 6px}
.lc-result table {border-collapse: collapse; margin: 4px 0 8px 0; font-size: 12px}
.lc-result th, .lc-result td {border-bottom: 1px solid #e0e0e0; padding: 2px 8px;
  text-align: left; vertical-align: top}
.lc-result th {background: #f5f5f5; font-weight: 600}
.lc-result td.num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap}
.lc-result summary {cursor: pointer; font-weight: 600; margin-top: 4px}
.lc-result .lc-bar {display: inline-block; height: 8px; background: #90a4ae;
  vertical-align: middle; margin-right: 4px}
.lc-result .lc-badge {border-radius: 3px; padding: 0 5px; white-space: nowrap}
.lc-result .lc-note {color: #666; font-size: 11px}
</style>
"""


# ---------------------------------------------------------------------------- summary
def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _html.escape(str(value))


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{100 * v:.1f}%" if np.isfinite(v) else "—"


def _count(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{v:,.0f}" if np.isfinite(v) else "—"


def _badge(status: Any) -> str:
    key = str(status)
    zh, en = STATUSES.get(key, (key, key))
    bg, fg = _STATUS_COLOURS.get(key, ("#ffffff", "#000000"))
    return (
        f'<span class="lc-badge" style="background:{bg};color:{fg}" data-status="{_esc(key)}">'
        f"{_esc(zh)} {_esc(en)}</span>"
    )


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, body: str, *, open_: bool = False, note: str = "") -> str:
    extra = f' <span class="lc-note">{note}</span>' if note else ""
    return f"<details{' open' if open_ else ''}><summary>{title}{extra}</summary>{body}</details>"


def _frame(result: Any, name: str) -> pd.DataFrame:
    value = getattr(result, name, None)
    return value if isinstance(value, pd.DataFrame) else pd.DataFrame()


def _names(values: pd.Series, limit: int = 6) -> str:
    seen = [str(v) for v in pd.unique(values.dropna()) if str(v)]
    shown = "、".join(seen[:limit])
    return shown + (f" … (+{len(seen) - limit})" if len(seen) > limit else "")


def _facts(result: Any) -> str:
    meta = getattr(result, "meta", None) or {}
    units = _frame(result, "units")
    bits = []
    if len(units):
        area = _names(units["jiezhen_name"]) if "jiezhen_name" in units else ""
        districts = units["district_code"].nunique() if "district_code" in units else 0
        bits.append(
            f"研究范围 Study area: <b>{_esc(area) or '—'}</b>"
            + (f" ({districts} 区 districts)" if districts > 1 else "")
        )
        partial = int(units["partial_network"].sum()) if "partial_network" in units else 0
        bits.append(
            f"单元 Units: <b>{len(units)}</b>"
            + (f" ({partial} 路网不全 partial network)" if partial else "")
        )
    if meta.get("population") is not None:
        bits.append(f"人口 People: <b>{_count(meta['population'])}</b>")
    if meta.get("n_facilities") is not None:
        bits.append(f"设施 Facilities: <b>{_count(meta['n_facilities'])}</b>")
    if meta.get("walk_speed_kmh"):
        bits.append(f"步行速度 Walk speed: {_esc(meta['walk_speed_kmh'])} km/h")
    return '<div class="lc-facts">' + " · ".join(bits) + "</div>"


def _coverage_table(result: Any) -> str:
    summary_fn = getattr(result, "summary", None)
    summary = pd.DataFrame(summary_fn()) if callable(summary_fn) else pd.DataFrame()
    if summary.empty:
        return "<p>无覆盖结果 No coverage rows.</p>"
    cov = _frame(result, "coverage")
    standard: dict[str, str] = {}
    group: dict[str, str] = {}
    units_met: dict[str, str] = {}
    if len(cov) and "category" in cov:
        for cat, rows in cov.groupby("category", sort=False):
            if "standard_zh" in rows:
                standard[cat] = " / ".join(str(s) for s in pd.unique(rows["standard_zh"].dropna()))
            if "target_group" in rows:
                groups = [str(g) for g in pd.unique(rows["target_group"].dropna())]
                group[cat] = " / ".join("全体 all" if g == "all" else g for g in groups)
            if "status" in rows:
                status = rows["status"].astype(str)
                measured = int(status.isin(["met", "gap"]).sum())
                if measured:
                    units_met[cat] = f"{int((status == 'met').sum())}/{measured}"
                partial = int((status == "partial network").sum())
                if partial:
                    units_met[cat] = units_met.get(cat, "") + f" (+{partial} 路网不全)"
    rows = []
    for r in summary.itertuples(index=False):
        cat = r.category
        share = getattr(r, "share", np.nan)
        width = 0 if pd.isna(share) else round(60 * min(max(float(share), 0.0), 1.0))
        tier = getattr(r, "tier_min", None)
        rows.append(
            [
                f"{_esc(getattr(r, 'name_zh', cat))} <span class='lc-note'>"
                f"{_esc(getattr(r, 'name_en', ''))}</span>",
                _esc(getattr(r, "group", "")),
                "" if tier is None or pd.isna(tier) else f"{int(tier)}",
                _esc(standard.get(cat, "")),
                _esc(group.get(cat, "")),
                _count(getattr(r, "population", np.nan)),
                f'<span class="lc-bar" style="width:{width}px"></span>{_pct(share)}',
                _pct(getattr(r, "target_share", np.nan)),
                _badge(getattr(r, "status", "")),
                _esc(units_met.get(cat, "—")),
            ]
        )
    header = [
        "类别 Category",
        "组 Group",
        "分钟 Min",
        "标准 Standard",
        "服务人群 People served",
        "人口 Population",
        "覆盖率 Share",
        "目标 Target",
        "状态 Status",
        "达标单元 Units met",
    ]
    counts = summary["status"].astype(str).value_counts() if "status" in summary else {}
    legend = " · ".join(
        f"{_badge(s)} {int(counts.get(s, 0))}" for s in STATUSES if int(counts.get(s, 0))
    )
    return (
        _table(header, rows, numeric={2, 5, 6, 7})
        + f'<div class="lc-note">研究范围合计 over the study area: {legend}</div>'
    )


def _gaps_table(result: Any, max_rows: int) -> str:
    gaps = _frame(result, "gaps")
    if gaps.empty:
        return "<p>无缺口 No gaps.</p>"
    rows = []
    for r in gaps.head(max_rows).itertuples(index=False):
        action = str(getattr(r, "action", "project"))
        zh, en = _ACTIONS.get(action, (action, action))
        dept = getattr(r, "department", None)
        if action == "referral" and isinstance(dept, str) and dept:
            zh += f"（{dept}）"
        rows.append(
            [
                _esc(getattr(r, "rank", "")),
                f"{_esc(getattr(r, 'unit_name', ''))} <span class='lc-note'>"
                f"{_esc(getattr(r, 'unit_id', ''))}</span>",
                _esc(getattr(r, "name_zh", getattr(r, "category", ""))),
                f"{_pct(getattr(r, 'share', np.nan))} / {_pct(getattr(r, 'target_share', np.nan))}",
                _count(getattr(r, "people_left_out", np.nan)),
                f"{_esc(zh)} <span class='lc-note'>{_esc(en)}</span>",
            ]
        )
    header = [
        "#",
        "单元 Unit",
        "类别 Category",
        "覆盖率 / 目标 Share / target",
        "缺口人口 People left out",
        "处理 Action",
    ]
    return _table(header, rows, numeric={0, 3, 4})


def _projects_table(result: Any, max_rows: int) -> str:
    projects = _frame(result, "projects")
    if projects.empty:
        return "<p>无项目 No projects.</p>"
    rows = [
        [
            _esc(getattr(r, "project_id", "")),
            _esc(getattr(r, "unit_name", "")),
            _esc(getattr(r, "name_zh", "")),
            _esc(getattr(r, "content_zh", "")),
            _count(getattr(r, "newly_covered_population", np.nan)),
            _esc(getattr(r, "schedule", "")),
        ]
        for r in projects.head(max_rows).itertuples(index=False)
    ]
    header = [
        "编号 Project",
        "单元 Unit",
        "类别 Category",
        "内容 Content",
        "受益人口 Newly covered",
        "时序 Schedule",
    ]
    return _table(header, rows, numeric={4})


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return _esc("、".join(f"{k} {_count(v)}" for k, v in value.items()))
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return _count(value)
    return _esc(value)


def _packages_table(result: Any, max_rows: int) -> str:
    packages = _frame(result, "packages")
    if packages.empty:
        return ""
    preferred = [
        "package_id",
        "package_type",
        "functions_zh",
        "site_kind",
        "site_name",
        "floor_area_m2",
        "newly_covered_population",
    ]
    cols = [c for c in preferred if c in packages.columns]
    cols = cols or [c for c in packages.columns if c != "geometry"][:7]
    rows = [
        [_cell(v) for v in row]
        for row in packages[cols].head(max_rows).itertuples(index=False, name=None)
    ]
    return _section(
        "项目包 Packages",
        _table([_esc(c) for c in cols], rows),
        note=f"{len(packages)} 个 packages",
    )


def _indicators_table(result: Any) -> str:
    ind = _frame(result, "indicators")
    if ind.empty:
        return ""
    if "level" in ind:
        ind = ind[ind["level"] == "study_area"]
    if ind.empty:
        return ""
    names = {}
    profile = getattr(result, "profile", None)
    for c in getattr(profile, "categories", ()) or ():
        names[c.id] = c.name_zh
    rows = [
        [
            f"{_esc(getattr(r, 'name_zh', getattr(r, 'indicator', '')))} "
            f"<span class='lc-note'>{_esc(getattr(r, 'year', ''))}</span>",
            _esc(names.get(getattr(r, "category", ""), getattr(r, "category", ""))),
            _pct(getattr(r, "share", np.nan)),
            _pct(getattr(r, "target_share", np.nan)),
            _badge(getattr(r, "status", "")),
        ]
        for r in ind.itertuples(index=False)
    ]
    met = int(ind["status"].astype(str).eq("met").sum()) if "status" in ind else 0
    return _section(
        "政策指标 Policy indicators",
        _table(
            ["指标 Indicator", "类别 Category", "覆盖率 Share", "目标 Target", "状态 Status"],
            rows,
            numeric={2, 3},
        ),
        note=f"研究范围 study area: {met}/{len(ind)} 达标 met",
    )


def _referrals_table(result: Any) -> str:
    ref = _frame(result, "referrals")
    if ref.empty:
        return ""
    dept = ref["department"].fillna("—").astype(str) if "department" in ref else "—"
    ref = ref.assign(_dept=dept)
    rows = []
    for d, g in ref.groupby("_dept", sort=False):
        cats = _names(g["name_zh"] if "name_zh" in g else g["category"])
        people = g["people_left_out"].sum() if "people_left_out" in g else np.nan
        rows.append([_esc(d), _esc(cats), str(len(g)), _count(people)])
    return _section(
        "转交部门 Referrals",
        _table(
            ["部门 Department", "类别 Categories", "缺口 Gaps", "缺口人口 People left out"],
            rows,
            numeric={2, 3},
        )
        + '<div class="lc-note">街镇不建设的类别（学校、轨道交通…）: 转交主管部门，不列入项目清单 '
        "/ categories a 街镇 does not build: referred, not in the project list</div>",
        note=f"{len(ref)} 个缺口 gaps",
    )


def _warnings_list(result: Any) -> str:
    warnings = (getattr(result, "meta", None) or {}).get("warnings") or []
    if not warnings:
        return ""
    items = "".join(f"<li>{_esc(w)}</li>" for w in warnings)
    return _section(
        "提示 Warnings", f"<ul>{items}</ul>", note=f"{len(warnings)} 条 (见 meta['warnings'])"
    )


def result_html(result: Any, *, max_rows: int = 8) -> str:
    """Return a compact bilingual HTML summary of ``result`` for Jupyter.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :func:`lifecircle_geo.analyze`).
    max_rows : int
        At most this many rows of the gaps, projects and packages tables.

    Returns
    -------
    str
        An HTML fragment: the study area, people, units and facilities; the category ×
        coverage table (standard, people served, share, target, status as in
        :data:`lifecircle_geo.coverage.STATUSES`, units meeting standard); the top gaps with
        their action; the projects (and packages when the result has them); the policy
        indicators over the study area; the referrals; the run's warnings.

    Examples
    --------
    >>> from lifecircle_geo.display import result_html
    >>> "覆盖率 Share" in result_html(result)  # doctest: +SKIP
    True
    """
    profile = getattr(result, "profile", None)
    title_zh = getattr(profile, "name_zh", None) or "15分钟社区生活圈"
    title_en = getattr(profile, "name_en", None) or "15-minute community life circle"
    gaps = _frame(result, "gaps")
    projects = _frame(result, "projects")
    n_projects_gaps = int((gaps["action"] == "project").sum()) if "action" in gaps else len(gaps)
    parts = [
        _CSS,
        '<div class="lc-result">',
        f"<h3>{_esc(title_zh)} 步行可达覆盖 <span class='lc-note'>{_esc(title_en)}: "
        f"walking coverage</span></h3>",
        _facts(result),
        _section(
            "类别 × 覆盖率 Coverage by category",
            _coverage_table(result),
            open_=True,
            note=f"profile {_esc(getattr(profile, 'id', ''))}",
        ),
        _section(
            "主要缺口 Top gaps",
            _gaps_table(result, max_rows),
            open_=True,
            note=f"{len(gaps)} 个缺口 gaps, {n_projects_gaps} 由街镇建设 for the 街镇 to build"
            + (f"; 前 {max_rows} 个 top {max_rows}" if len(gaps) > max_rows else ""),
        ),
        _section(
            "项目清单 Projects",
            _projects_table(result, max_rows),
            note=f"{len(projects)} 个项目 projects",
        ),
        _packages_table(result, max_rows),
        _indicators_table(result),
        _referrals_table(result),
        _warnings_list(result),
        "</div>",
    ]
    return "".join(parts)


# ---------------------------------------------------------------------------- map
class LifecircleMap(folium.Map):
    """A :class:`folium.Map` that displays and saves without internet access.

    Leaflet is inlined (:func:`lifecircle_geo.report.html.offline_html`) in the notebook
    output and in :meth:`save`, so the map works on office PCs without internet.
    """

    #: CSS height of the map in a notebook
    frame_height: str = "600px"

    def _page(self) -> str:
        from .report.html import offline_html

        root = self.get_root()
        if root is self:  # detached from its page: render on a fresh one
            figure = _BrancaFigure()
            self.add_to(figure)
            try:
                page = figure.render()
            finally:
                self._parent = None
        else:
            page = root.render()
        return offline_html(page)

    def _repr_html_(self, **kwargs: Any) -> str:
        """Show the map in a notebook (an iframe holding the whole offline page)."""
        page = _html.escape(self._page())
        height = _html.escape(str(self.frame_height))
        return (
            f'<iframe srcdoc="{page}" style="width:100%;height:{height};border:none '
            '!important;" allowfullscreen></iframe>'
        )

    def save(self, outfile: Any, close_file: bool = True, **kwargs: Any) -> None:
        """Write the map as one self-contained, offline HTML file (UTF-8): a path or file object."""
        if hasattr(outfile, "write"):
            outfile.write(self._page())
            if close_file:
                outfile.close()
            return
        Path(outfile).write_text(self._page(), encoding="utf-8")


def _start_code(code: str) -> str | None:
    """Return the map's JavaScript opening on ``D.start``'s category (None if it cannot)."""
    show_all = "base[countName].addTo(map);"
    show_cat = "showCategory(null);"
    if code.count(show_all) != 1 or code.count(show_cat) != 1:
        return None
    start = (
        "var lcStart = null;\n  Object.keys(baseCat).forEach(function (n) {\n"
        "    if (baseCat[n].id === D.start) lcStart = n;\n  });\n"
        "  current = lcStart ? baseCat[lcStart] : null;\n"
        "  unitLayer.setStyle(unitStyle);\n"
        "  (lcStart ? base[lcStart] : base[countName]).addTo(map);"
    )
    return code.replace(show_all, start).replace(
        show_cat, "showCategory(lcStart ? D.start : null);"
    )


def explore(
    result: Any,
    category: str | None = None,
    *,
    tiles: str | None = None,
    streets: bool = True,
    height: str = "600px",
) -> LifecircleMap:
    """Return an interactive map of ``result`` that displays inline in Jupyter.

    The same layers as ``map.html`` (:func:`lifecircle_geo.report.write_map`): units
    coloured by coverage (one choropleth per category and the number of categories meeting
    standard, chosen in the layer control), facilities coloured by category, suggested sites
    as stars, each unit's popup with its gaps and projects. The background is the run's own
    street network (simplified), so the map needs no internet access.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :func:`lifecircle_geo.analyze`).
    category : str, optional
        Category id shown first (e.g. ``"kindergarten"``); default: the number of categories
        meeting standard, with every facility.
    tiles : str, optional
        A web tile layer under the streets (e.g. ``"OpenStreetMap"`` or
        ``"CartoDB positron"``); default none (offline).
    streets : bool
        Draw the network's streets (simplified) as the background.
    height : str
        CSS height of the map in a notebook.

    Returns
    -------
    LifecircleMap
        A :class:`folium.Map`; ``.save("map.html")`` writes it as one offline file.

    Raises
    ------
    InputError
        ``category`` is not a category of the result's profile.

    Examples
    --------
    >>> from lifecircle_geo.display import explore
    >>> m = explore(result, category="kindergarten")  # doctest: +SKIP
    >>> m.save("out/kindergarten_map.html")  # doctest: +SKIP
    """
    from .report import html as _map

    cats = _map._categories(result)
    if category is not None and category not in {c["id"] for c in cats}:
        raise InputError(
            f"category {category!r} is not in this result; known: {[c['id'] for c in cats]}"
        )
    units = _map._units_4326(result)
    facilities = _map._facilities_4326(result)
    n_facilities = len(facilities)
    if n_facilities > getattr(_map, "MAX_FACILITY_MARKERS", n_facilities):
        facilities = facilities.iloc[:0]  # as map.html: units and roll-ups only
    sites = _map._sites_4326(result)
    m = LifecircleMap(
        location=_map._centre(units, facilities),
        zoom_start=14,
        tiles=tiles,
        control_scale=True,
        prefer_canvas=True,
    )
    m.frame_height = height
    bounds = _map._bounds(units, facilities, sites)
    if bounds is not None:  # room for the title (top) and the legend (right), as map.html
        m.fit_bounds(bounds, padding_top_left=(20, 80), padding_bottom_right=(330, 20))
    profile = getattr(result, "profile", None)
    title_zh = getattr(profile, "name_zh", None) or "15分钟社区生活圈"
    title_en = getattr(profile, "name_en", None) or "15-minute community life circle"
    m.get_root().html.add_child(Element(_map._title_html(result, title_zh, title_en)))
    data = {
        "units": _map._feature_collection(units),
        "facilities": _map._feature_collection(facilities),
        "sites": _map._feature_collection(sites),
        "cats": cats,
        "bins": [{"min": lo, "colour": c, "label": lab} for lo, c, lab in _map.SHARE_BINS],
        # the offline basemap: the run's own streets, drawn by the map's script
        "streets": _map._streets_4326(result) if streets else dict(_map.NO_STREETS),
        "n_facilities": n_facilities,
        "facilities_drawn": len(facilities) == n_facilities,
        "png": "",  # no picture beside a notebook's map
        "start": category,
    }
    layers = _map.DataScript("LifecircleLayers", data, _map._JS)
    if category is not None:
        code = _start_code(layers.code)
        if code is None:
            log.warning("explore: the map opens on the count view (category=%r)", category)
        else:
            layers.code = code
    layers.add_to(m)
    return m


# ---------------------------------------------------------------------------- figures
class _ResultFigure(Figure):
    """A figure of :func:`plot`: drawn with the report's CJK font wherever it is shown."""

    def _repr_png_(self) -> bytes:
        return _figure_png(self)


def _figure_png(fig: Figure) -> bytes:
    from .report.figures import _fonts

    buf = io.BytesIO()
    with _fonts():
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _register_png() -> None:
    """In IPython, show :func:`plot`'s figures through :func:`_figure_png` (with CJK fonts).

    Registered for the figures' own class, so it wins over the inline backend's printer of
    every :class:`~matplotlib.figure.Figure` and leaves the user's own figures alone.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    formatter = shell.display_formatter.formatters.get("image/png")
    if formatter is not None:
        formatter.for_type(_ResultFigure, _figure_png)


def plot(result: Any, kind: str = "coverage") -> Figure | list[Figure]:
    """Draw a figure of ``result`` (the report's PNG figures) that displays inline.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :func:`lifecircle_geo.analyze`).
    kind : {"coverage", "units", "jiezhen", "all"}
        ``coverage``: coverage by category against its target; ``units``: the number of
        categories meeting standard per basic unit; ``jiezhen``: the 街镇 × category heat
        map; ``all``: the three (those the result has data for) in a list.

    Returns
    -------
    matplotlib.figure.Figure or list of Figure
        Figures not attached to ``pyplot`` (the user's figures and backend are left alone);
        ``fig.savefig(...)`` writes one.

    Raises
    ------
    InputError
        An unknown ``kind``, or a kind the result has no data for.

    Examples
    --------
    >>> from lifecircle_geo.display import plot
    >>> plot(result, "coverage")  # doctest: +SKIP
    """
    from .report import figures as _fig
    from .report._util import frame

    if kind not in (*PLOTS, "all"):
        raise InputError(f"plot kind {kind!r} unknown; known: {[*PLOTS, 'all']}")
    units = getattr(result, "units", None)
    has_units = isinstance(units, gpd.GeoDataFrame) and len(units) > 0
    jiezhen = frame(result, "jiezhen")
    has_jiezhen = len(jiezhen) > 0 and {"jiezhen_code", "category", "share"} <= set(jiezhen.columns)
    if kind == "units" and not has_units:
        raise InputError("plot 'units': the result has no units")
    if kind == "jiezhen" and not has_jiezhen:
        raise InputError("plot 'jiezhen': the result has no 街镇 roll-up")
    figs = []
    with _fig._fonts() as zh:
        if kind in ("coverage", "all"):
            figs.append(_fig._coverage_by_category(result, zh))
        if kind == "units" or (kind == "all" and has_units):
            figs.append(_fig._unit_map(result, units, zh))
        if kind == "jiezhen" or (kind == "all" and has_jiezhen):
            figs.append(_fig._heatmap(result, jiezhen, zh))
    for f in figs:
        f.__class__ = _ResultFigure  # same state; shown through the CJK-aware printer
    _register_png()
    return figs if kind == "all" else figs[0]
