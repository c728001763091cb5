"""A self-contained HTML map (folium / Leaflet) of a run.

Every data layer is written inline into the one file, in WGS-84 (EPSG:4326): the unit polygons
once, drawn as one choropleth per category (chosen with the radio buttons of the layer control)
plus "number of categories meeting standard"; facilities as circle markers coloured by category
(with Chinese popups: name / 类别 / 来源) and suggested sites as stars, both showing the chosen
category (all categories in the count view); each unit's popup lists its gaps with 缺口人口
(people left out) and its projects. Leaflet is inlined; only the background map tiles come
from the web.

Offline (an office intranet with no tile server: the normal case) the map still has a basemap:
the network's own streets (``result.network``, simplified, at most :data:`MAX_STREET_EDGES`
edges, the longest first) drawn as a thin grey layer under everything, visible by default.
The legend folds away (a ``<details>`` box) and the view is fitted with room for it, so it
does not cover the study area. At city scale the page stays light: facility markers are drawn
only up to :data:`MAX_FACILITY_MARKERS` (above that the units and their roll-ups are the map,
and the legend says where the facilities are: the project database's ``facilities`` layer).

PNG export: a browser-side export (leaflet-image and the like) needs tiles served with CORS and
another library inlined; instead :func:`~lifecircle_geo.report.figures.write_figures` draws the
same units, coloured the same way, over the same streets as ``unit_coverage_map.png`` beside the
map, and the legend links to it.
"""

from __future__ import annotations

import base64
import html as _html
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement

try:  # folium >= 0.18
    from folium.template import Template
except ImportError:  # pragma: no cover - older folium
    from jinja2 import Template

from .._io import atomic_path, jsonable
from ._util import categories, frame, longest, street_geometries, unit_scores

__all__ = ["MAX_FACILITY_MARKERS", "MAX_STREET_EDGES", "SHARE_BINS", "write_map"]

log = logging.getLogger(__name__)

#: Colour classes of the coverage share: (lower bound, colour, label).
SHARE_BINS = (
    (0.0, "#d73027", "< 50%"),
    (0.5, "#fc8d59", "50–70%"),
    (0.7, "#fee08b", "70–85%"),
    (0.85, "#91cf60", "85–95%"),
    (0.95, "#1a9850", "≥ 95%"),
)

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)
_SIMPLIFY_M = 2.0
_STREET_SIMPLIFY_M = 3.0
_MAX_PROJECTS_IN_POPUP = 5
#: Most facility markers drawn; above it the map shows units and roll-ups only.
MAX_FACILITY_MARKERS = 20_000
#: Most street edges in the offline basemap (the longest are kept). A district's map with
#: 150,000 took about 7 s to open in Chromium on the 2-core machine, 4 s with 30,000
#: (``benchmarks/map_open.py``); short alleys matter little at a district's zoom.
MAX_STREET_EDGES = 60_000
#: The static picture of the map written beside it (see ``figures.py``).
PNG_NAME = "unit_coverage_map.png"


def write_map(result: Any, path: str | os.PathLike) -> Path:
    """Write an interactive, self-contained HTML map of ``result``.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :mod:`lifecircle_geo.analysis`).
    path : str or os.PathLike
        Output file, conventionally ``map.html`` (UTF-8); written under a temporary name and
        renamed when complete.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> from lifecircle_geo.report import write_map
    >>> write_map(result, "out/map.html")  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    path = Path(path)
    units = _units_4326(result)
    facilities = _facilities_4326(result)
    n_facilities = len(facilities)
    if n_facilities > MAX_FACILITY_MARKERS:
        log.info(
            "map: %d facilities, more than %d: drawn as units and roll-ups only",
            n_facilities,
            MAX_FACILITY_MARKERS,
        )
        facilities = facilities.iloc[:0]
    sites = _sites_4326(result)
    if len(sites) > MAX_FACILITY_MARKERS:
        sites = sites.sort_values("newly_covered_population", ascending=False).head(
            MAX_FACILITY_MARKERS
        )
    cats = _categories(result)
    streets = _streets_4326(result)

    m = folium.Map(
        location=_centre(units, facilities),
        zoom_start=14,
        tiles="OpenStreetMap",
        control_scale=True,
        prefer_canvas=True,
    )
    bounds = _bounds(units, facilities, sites)
    if bounds is not None:  # room for the title (top) and the legend (right)
        m.fit_bounds(bounds, padding_top_left=(20, 80), padding_bottom_right=(330, 20))
    profile = getattr(result, "profile", None)
    title_zh = getattr(profile, "name_zh", None) or "15分钟社区生活圈"
    title_en = getattr(profile, "name_en", None) or "15-minute community life circle"
    m.get_root().title = f"{title_zh} 步行可达覆盖 / Walking coverage"
    m.get_root().html.add_child(Element(_title_html(result, title_zh, title_en)))
    data = {
        "units": _feature_collection(units),
        "facilities": _feature_collection(facilities),
        "sites": _feature_collection(sites),
        "cats": cats,
        "bins": [{"min": lo, "colour": c, "label": lab} for lo, c, lab in SHARE_BINS],
        "streets": streets,
        "n_facilities": n_facilities,
        "facilities_drawn": len(facilities) == n_facilities,
        "png": PNG_NAME,
    }
    DataScript("LifecircleLayers", data, _JS).add_to(m)
    write_page(m, path)
    log.info(
        "wrote map %s (%d units, %d facilities, %d sites)",
        path,
        len(units),
        len(facilities),
        len(sites),
    )
    return path


# ---------------------------------------------------------------------------- offline
def write_page(m: folium.Map, path: Path) -> None:
    """Write ``m`` to ``path`` as one offline page (:func:`offline_html`), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(offline_html(m.get_root().render()), encoding="utf-8")


_STATIC = Path(__file__).with_name("static")
_CDN_TAG = re.compile(
    r'<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>(?:</script>)?', re.IGNORECASE
)


def offline_html(page: str) -> str:
    """Make a folium page work without internet: Leaflet inlined, unused CDN assets dropped.

    Planners often open maps on office PCs without internet access. Leaflet 1.9.3 (BSD-2,
    shipped in ``report/static`` with its licence) and its control images are inlined; the
    other libraries folium links by default (jQuery, Bootstrap, Font Awesome, awesome-markers)
    are not used by this map and are removed. Only the base-map tiles still come from the web;
    offline, the data shows on a grey background.
    """
    import base64

    css = (_STATIC / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers.png", "layers-2x.png", "marker-icon.png"):
        data = base64.b64encode((_STATIC / img).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url(data:image/png;base64,{data})")
    js = (_STATIC / "leaflet.js").read_text(encoding="utf-8")

    def swap(match: re.Match) -> str:
        url = match.group(2)
        if url.endswith("leaflet.js"):
            return f"<script>{js}</script>"
        if url.endswith("leaflet.css"):
            return f"<style>{css}</style>"
        return ""

    return _CDN_TAG.sub(swap, page)


# ---------------------------------------------------------------------------- data
def _to_4326(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gdf.reset_index(drop=True)
    if gdf.crs is None:
        log.warning("a layer of the map has no CRS: assumed EPSG:4326")
        return gdf.set_crs(4326)
    return gdf.to_crs(4326) if len(gdf) else gdf.set_crs(4326, allow_override=True)


def _round(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gdf.copy()
    geoms = gdf.geometry.to_numpy()
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if ok.any():
        geoms = geoms.copy()
        geoms[ok] = shapely.transform(geoms[ok], lambda xy: np.round(xy, 6))
    gdf[gdf.geometry.name] = geoms
    return gdf


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))


def _units_4326(result: Any) -> gpd.GeoDataFrame:
    units = getattr(result, "units", None)
    if not isinstance(units, gpd.GeoDataFrame) or not len(units):
        return _empty()
    keep = [
        c
        for c in (
            "unit_id",
            "unit_name",
            "jiezhen_code",
            "jiezhen_name",
            "district_code",
            "area_type",
            "population",
            "network_share",
            "far_population",
        )
        if c in units.columns
    ]
    out = gpd.GeoDataFrame(units[keep].copy(), geometry=units.geometry.to_numpy(), crs=units.crs)
    if out.crs is not None and out.crs.is_projected:
        out["geometry"] = out.geometry.simplify(_SIMPLIFY_M, preserve_topology=True)
    scores = unit_scores(result)
    share_cols = [c for c in scores.columns if c.startswith("share_")]
    out = out.merge(scores, on="unit_id", how="left")
    names = [c.removeprefix("share_") for c in share_cols]
    out["share"] = [
        {n: _num(v, 4) for n, v in zip(names, row, strict=True)}
        for row in out[share_cols].to_numpy(dtype=float, na_value=np.nan).tolist()
    ]
    out["gaps"] = _per_unit(frame(result, "gaps"), out["unit_id"], _gap_record, "rank")
    out["projects"] = _per_unit(
        frame(result, "projects"),
        out["unit_id"],
        _project_record,
        "people_left_out",
        ascending=False,
        limit=_MAX_PROJECTS_IN_POPUP,
    )
    out = out.drop(columns=share_cols)
    return _round(_to_4326(out))


def _per_unit(
    table: pd.DataFrame,
    unit_ids: pd.Series,
    record: Callable[[Mapping[str, Any]], dict],
    sort_by: str,
    *,
    ascending: bool = True,
    limit: int | None = None,
) -> list[list[dict]]:
    if table.empty or "unit_id" not in table.columns:
        return [[] for _ in range(len(unit_ids))]
    if sort_by in table.columns:
        table = table.sort_values(sort_by, ascending=ascending, kind="stable")
    if limit:
        table = table.groupby("unit_id", sort=False).head(limit)
    groups: dict[Any, list[dict]] = {}
    for uid, row in zip(table["unit_id"], table.to_dict("records"), strict=True):
        groups.setdefault(uid, []).append(record(row))
    return [groups.get(uid, []) for uid in unit_ids]


def _gap_record(row: Mapping[str, Any]) -> dict:
    return {
        "c": row.get("category"),
        "zh": row.get("name_zh"),
        "en": row.get("name_en"),
        "s": _num(row.get("share"), 4),
        "t": _num(row.get("target_share"), 4),
        "p": _num(row.get("people_left_out"), 0),
        "r": _num(row.get("rank"), 0),
    }


def _project_record(row: Mapping[str, Any]) -> dict:
    return {
        "id": row.get("project_id"),
        "zh": row.get("name_zh"),
        "content": row.get("content_zh"),
        "p": _num(row.get("newly_covered_population"), 0),
    }


def _num(value: Any, digits: int) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return round(v, digits) if np.isfinite(v) else None


def _facilities_4326(result: Any) -> gpd.GeoDataFrame:
    fac = getattr(result, "facilities", None)
    if not isinstance(fac, gpd.GeoDataFrame) or not len(fac):
        return _empty()
    keep = [
        c
        for c in ("facility_id", "name", "category", "facility_type", "source", "reachable")
        if c in fac.columns
    ]
    out = gpd.GeoDataFrame(fac[keep].copy(), geometry=fac.geometry.to_numpy(), crs=fac.crs)
    out = out[out.geometry.notna() & ~out.geometry.is_empty]
    out = _to_4326(out)
    out["geometry"] = [
        g if g.geom_type == "Point" else g.representative_point() for g in out.geometry
    ]
    return _round(out)


def _sites_4326(result: Any) -> gpd.GeoDataFrame:
    sites = getattr(result, "sites", None)
    if not isinstance(sites, gpd.GeoDataFrame) or not len(sites):
        return _empty()
    keep = [
        c
        for c in (
            "site_id",
            "unit_id",
            "jiezhen_code",
            "category",
            "name_zh",
            "order",
            "newly_covered_population",
            "share_after",
        )
        if c in sites.columns
    ]
    out = gpd.GeoDataFrame(sites[keep].copy(), geometry=sites.geometry.to_numpy(), crs=sites.crs)
    units = getattr(result, "units", None)
    if units is not None and {"unit_id", "unit_name"} <= set(units.columns) and "unit_id" in out:
        out["unit_name"] = out["unit_id"].map(
            units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
        )
    out = out[out.geometry.notna() & ~out.geometry.is_empty]
    out = _to_4326(out)
    out["geometry"] = [
        g if g.geom_type == "Point" else g.representative_point() for g in out.geometry
    ]
    return _round(out)


#: The offline basemap when there are no streets (or none are wanted).
NO_STREETS: dict[str, Any] = {"n": 0, "xy": "", "ends": ""}


def _streets_4326(result: Any) -> dict[str, Any]:
    """Return the network's streets for the offline basemap, packed (:func:`_pack_lines`)."""
    net = getattr(result, "network", None)
    geoms = getattr(net, "geometry", None)
    if net is None or geoms is None or not len(geoms):
        return dict(NO_STREETS)
    try:
        geoms = street_geometries(net)
        if len(geoms) > MAX_STREET_EDGES:
            geoms = longest(geoms, MAX_STREET_EDGES)
            log.info("map basemap: the %d longest of the network's streets", MAX_STREET_EDGES)
        crs = net.crs
        if crs is not None and crs.is_projected:
            # a straight two-point street is its own simplification: only the others are run
            bent = shapely.get_num_coordinates(geoms) > 2
            geoms = geoms.copy()
            geoms[bent] = shapely.simplify(geoms[bent], _STREET_SIMPLIFY_M)
        xy, index = shapely.get_coordinates(geoms, return_index=True)
        if crs is not None and not crs.equals(4326):
            from pyproj import Transformer

            lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
            xy = np.column_stack([lon, lat])
    except Exception as exc:  # a basemap is a nicety: never fail the map for it
        log.warning("map: no street basemap (%s)", exc)
        return dict(NO_STREETS)
    return _pack_lines(xy, index)


def _pack_lines(xy: np.ndarray, index: np.ndarray) -> dict[str, Any]:
    """Lines of lon/lat points for the page, as base64 text, not a JSON list of numbers.

    ``{"n": lines, "xy": ..., "ends": ...}``: ``xy`` the points' lon, lat in 1e-5 degrees
    (about a metre), little-endian int32, interleaved; ``ends`` each line's end, in points
    from the first. Lines of fewer than two points are left out. The page divides by 1e5
    (``lcLines``), which gives the same numbers as ``np.round(xy, 5)`` written as JSON
    (numpy rounds by that multiplication and division). 浦东's 60,000 streets: slicing the
    lists and ``json.dumps`` took 0.38 s, packing takes 0.02 s; 3.3 MB of text become 2.1 MB.
    """
    index = np.asarray(index)
    if not len(xy):
        return dict(NO_STREETS)
    ends = np.r_[np.flatnonzero(np.diff(index)) + 1, len(xy)]
    starts = np.r_[0, ends[:-1]]
    long_enough = ends - starts >= 2
    keep = np.repeat(long_enough, ends - starts)
    ends = np.cumsum((ends - starts)[long_enough])
    ints = np.rint(np.asarray(xy, dtype=np.float64)[keep] * 1e5).astype("<i4")
    return {
        "n": len(ends),
        "xy": base64.b64encode(ints.tobytes()).decode("ascii"),
        "ends": base64.b64encode(ends.astype("<i4").tobytes()).decode("ascii"),
    }


def _unpack_lines(packed: dict[str, Any]) -> list[np.ndarray]:
    """Return the lines of :func:`_pack_lines` as ``(n, 2)`` lon/lat arrays, as the page does."""
    xy = np.frombuffer(base64.b64decode(packed["xy"]), dtype="<i4").reshape(-1, 2) / 1e5
    ends = np.frombuffer(base64.b64decode(packed["ends"]), dtype="<i4")
    return np.split(xy, ends[:-1]) if len(ends) else []


def _categories(result: Any) -> list[dict]:
    cats = categories(result)
    no_data = set((getattr(result, "meta", None) or {}).get("no_data") or ())
    out = []
    for i, row in enumerate(cats.itertuples(index=False)):
        out.append(
            {
                "id": row.category,
                "zh": getattr(row, "name_zh", row.category),
                "en": getattr(row, "name_en", row.category),
                "tier": _num(getattr(row, "tier_min", None), 0),
                "target": _num(getattr(row, "target_share", None), 4),
                "colour": _PALETTE[i % len(_PALETTE)],
                "nodata": row.category in no_data,
                "assumed": bool(getattr(row, "assumed", False)),
                "info": bool(getattr(row, "informational", False)),
            }
        )
    return out


def _feature_collection(gdf: gpd.GeoDataFrame) -> dict:
    """GeoJSON of ``gdf`` (empty and missing geometries left out), points built from arrays."""
    geom_name = gdf.geometry.name
    props = [c for c in gdf.columns if c != geom_name]
    geoms = gdf.geometry.to_numpy()
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[keep]
    records = pd.DataFrame(gdf[props]).loc[keep].to_dict("records")
    is_point = shapely.get_type_id(geoms) == 0
    xy = shapely.get_coordinates(geoms[is_point]).tolist()
    points = iter(xy)
    features = []
    for geom, point, record in zip(geoms, is_point, records, strict=True):
        geometry = (
            {"type": "Point", "coordinates": next(points)}
            if point
            else shapely.geometry.mapping(geom)
        )
        features.append({"type": "Feature", "geometry": geometry, "properties": jsonable(record)})
    return {"type": "FeatureCollection", "features": features}


def _centre(units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> list[float]:
    for gdf in (units, facilities):
        if len(gdf):
            x0, y0, x1, y1 = gdf.total_bounds
            return [float((y0 + y1) / 2), float((x0 + x1) / 2)]
    return [31.2304, 121.4737]  # Shanghai, People's Square


def _bounds(*layers: gpd.GeoDataFrame) -> list[list[float]] | None:
    boxes = [g.total_bounds for g in layers if len(g)]
    if not boxes:
        return None
    b = np.array(boxes)
    return [
        [float(b[:, 1].min()), float(b[:, 0].min())],
        [float(b[:, 3].max()), float(b[:, 2].max())],
    ]


def _title_html(result: Any, title_zh: str, title_en: str) -> str:
    meta = getattr(result, "meta", None) or {}
    bits = []
    if meta.get("walk_speed_kmh"):
        bits.append(f"步行速度 walk speed {meta['walk_speed_kmh']} km/h")
    if meta.get("created"):
        bits.append(f"生成 generated {meta['created']}")
    sub = " · ".join(_html.escape(str(b)) for b in bits)
    return (
        '<div id="lc-title" style="position:fixed;top:10px;left:60px;z-index:1000;'
        "background:rgba(255,255,255,0.9);padding:6px 10px;border-radius:4px;"
        'box-shadow:0 1px 4px rgba(0,0,0,0.3);font:13px/1.4 sans-serif;max-width:60%;">'
        f"<b>{_html.escape(title_zh)}</b> 步行可达覆盖<br>"
        f"{_html.escape(title_en)}: walking coverage per basic unit"
        + (f'<br><span style="color:#666;font-size:11px">{sub}</span>' if sub else "")
        + "</div>"
    )


# ---------------------------------------------------------------------------- Leaflet
def _js_json(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class _Text(Element):
    """Text put into the page as it is (no template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class DataScript(MacroElement):
    """A script of the page, run with ``map`` (the folium map) and ``D`` (the page's data).

    Rendered once into the page's scripts as plain text: branca would compile each rendered
    script as a Jinja template once more, which took about 0.7 s on a district's data and
    would read a ``{{`` in a facility's name as template code.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var D = {{ this.data_json }};
{{ this.code }}
})();
{% endmacro %}
""")

    def __init__(self, name: str, data: dict, code: str) -> None:
        super().__init__()
        self._name = name
        self.data_json = _js_json(data)
        self.code = code

    def render(self, **kwargs: Any) -> None:
        """Add the script to the page (as :meth:`MacroElement.render`, without a template)."""
        figure = self.get_root()
        script = self._template.module.__dict__["script"]
        figure.script.add_child(_Text(str(script(self, kwargs))), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


#: The page helpers every map script starts with: HTML escaping, number formats, share colours.
JS_HELPERS = r"""
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function isNum(v) { return v !== null && v !== undefined && !isNaN(v); }
  function pct(v) { return isNum(v) ? (100 * v).toFixed(1) + "%" : "—"; }
  function num(v) { return isNum(v) ? Math.round(v).toLocaleString() : "—"; }
  function shareColour(v) {
    if (!isNum(v)) return "#bdbdbd";
    var c = D.bins[0].colour;
    D.bins.forEach(function (b) { if (v >= b.min) c = b.colour; });
    return c;
  }
  function binsLegend() {  // the share classes, highest first, and "no data"
    var h = "";
    D.bins.slice().reverse().forEach(function (b) {
      h += "<i style='display:inline-block;width:14px;height:10px;margin-right:6px;background:" +
        b.colour + "'></i>" + esc(b.label) + "<br>";
    });
    return h + "<i style='display:inline-block;width:14px;height:10px;margin-right:6px;" +
      "background:#bdbdbd'></i>无数据 no data<br>";
  }
"""

_JS = (
    JS_HELPERS
    + r"""
  function unitPopup(p, cat) {
    var h = "<div style='max-height:300px;overflow:auto;font-size:12px'><b>" +
      esc(p.unit_name) + "</b> (" + esc(p.unit_id) + ")<br>街镇 Sub-district: " +
      esc(p.jiezhen_name) +
      "<br>人口 Population: " + num(p.population) +
      (p.population === 0 ? " — 无居住人口 no residents (不计缺口 never a gap)" : "") +
      "<br>达标类别 Categories meeting standard: " + esc(p.n_meets_standard) + " / " +
      esc(p.n_categories) + " (有数据的类别 measured categories)";
    if (p.partial_network) {
      h += "<br><b style='color:#795548'>路网不全 Partial network</b>: " +
        pct(p.network_share) + " 的面积在道路数据范围内 of the area lies within the street " +
        "data; " + num(p.far_population) + " 人远离道路 people far from any street. " +
        "结果不可靠，不生成项目 / not trusted, no projects";
    }
    if (cat) {
      h += "<hr style='margin:4px 0'><b>" + esc(cat.zh) + " " + esc(cat.en) + "</b><br>";
      h += cat.nodata
        ? "无数据 No data: 输入中研究范围内无该类设施 / no facility of this category in or " +
          "near the study area in the inputs"
        : "覆盖率 Coverage: " + pct((p.share || {})[cat.id]) + " (目标 target " +
          pct(cat.target) + ")";
    }
    if (p.gaps && p.gaps.length) {
      h += "<hr style='margin:4px 0'><b>缺口 Gaps</b><table style='font-size:11px'>" +
        "<tr><th>类别 Category</th><th>覆盖率 Share</th><th>缺口人口 People left out</th></tr>";
      p.gaps.forEach(function (g) {
        h += "<tr><td>" + esc(g.zh || g.c) + "</td><td>" + pct(g.s) + " / " + pct(g.t) +
          "</td><td style='text-align:right'>" + num(g.p) + "</td></tr>";
      });
      h += "</table>";
    }
    if (p.projects && p.projects.length) {
      h += "<hr style='margin:4px 0'><b>项目 Projects</b><ul style='padding-left:16px;margin:0'>";
      p.projects.forEach(function (q) {
        h += "<li>" + esc(q.id) + " " + esc(q.zh) + ": " + esc(q.content) +
          " (受益人口 people " + num(q.p) + ")</li>";
      });
      h += "</ul>";
    }
    return h + "</div>";
  }
  // One layer of units, restyled when another category is chosen: one layer per category
  // (21 copies of every polygon) made a district's map take seconds to open. The radio
  // buttons are empty layer groups that only name the view; popups are built when opened.
  var current = null;
  function unitStyle(f) {
    var p = f.properties, v, below = false, cat = current;
    if (p.partial_network) {
      return {fillColor: "#d7ccc8", fillOpacity: 0.55, color: "#795548", weight: 2,
              dashArray: "2 4"};
    }
    if (cat) {
      v = cat.nodata ? null : (p.share || {})[cat.id];
      below = isNum(v) && isNum(cat.target) && v < cat.target;
    } else {
      v = p.n_categories ? p.n_meets_standard / p.n_categories : null;
    }
    return {fillColor: shareColour(v), fillOpacity: 0.65, color: below ? "#b71c1c" : "#444",
            weight: below ? 2.5 : 1, dashArray: below ? "5 4" : null};
  }
  var unitLayer = L.geoJson(D.units, {
    style: unitStyle,
    onEachFeature: function (f, layer) {
      layer.bindPopup(function () { return unitPopup(f.properties, current); },
                      {maxWidth: 380});
      layer.bindTooltip(esc(f.properties.unit_name || f.properties.unit_id));
    }
  }).addTo(map);

  var base = {}, baseCat = {};
  var countName = "达标类别数 Categories meeting standard";
  base[countName] = L.layerGroup();
  D.cats.forEach(function (c) {
    var name = esc(c.zh) + " " + esc(c.en) + (isNum(c.tier) ? " (" + c.tier + " 分钟 min)" : "") +
      (c.nodata ? " — 无数据 no data" : "") + (c.info ? " — 仅供参考 informational" : "") +
      (c.assumed ? " ※" : "");
    base[name] = L.layerGroup();
    baseCat[name] = c;
  });
  base[countName].addTo(map);

  // offline basemap: the network's own streets, under everything (no tile server needed);
  // packed by _pack_lines: little-endian int32 lon, lat in 1e-5 degrees, and each line's end
  function lcInts(b64) {
    var s = atob(b64), v = new DataView(new ArrayBuffer(s.length)), out = [];
    for (var i = 0; i < s.length; i++) v.setUint8(i, s.charCodeAt(i));
    for (var j = 0; 4 * j < s.length; j++) out.push(v.getInt32(4 * j, true));
    return out;
  }
  function lcLines(p) {
    var xy = lcInts(p.xy), ends = lcInts(p.ends), lines = [], a = 0;
    ends.forEach(function (b) {
      var r = [];
      for (var i = a; i < b; i++) r.push([xy[2 * i + 1] / 1e5, xy[2 * i] / 1e5]);
      lines.push(r);
      a = b;
    });
    return lines;
  }
  var streetPane = map.createPane("lcStreets");
  streetPane.style.zIndex = 350;
  streetPane.style.pointerEvents = "none";
  var streetLayer = L.polyline(lcLines(D.streets), {
       color: "#8a8a8a", weight: 1, opacity: 0.9, interactive: false,
       renderer: L.canvas({pane: "lcStreets"}), pane: "lcStreets"});
  if (D.streets.n) streetLayer.addTo(map);

  var known = {};
  D.cats.forEach(function (c) { known[c.id] = c; });
  function catOf(id) { return known[id] || {id: id, zh: id, en: "", colour: "#555555"}; }

  var facLayer = L.geoJson(null, {
    pointToLayer: function (f, ll) {
      return L.circleMarker(ll, {radius: 5, color: "#ffffff", weight: 1,
                                 fillColor: catOf(f.properties.category).colour,
                                 fillOpacity: 0.95});
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(function () {
        var c = catOf(p.category);
        return "<div style='font-size:12px'><b>" + esc(p.name) + "</b><br>类别 Category: " +
          esc(c.zh) + " " + esc(c.en) + "<br>类型 Type: " + esc(p.facility_type) +
          "<br>来源 Source: " + esc(p.source) +
          (p.reachable === false ? "<br><i>不在步行网络上 off the network</i>" : "") + "</div>";
      });
      layer.bindTooltip(esc(p.name));
    }
  });
  var siteLayer = L.geoJson(null, {
    pointToLayer: function (f, ll) {
      return L.marker(ll, {icon: L.divIcon({className: "lc-site", iconSize: [24, 24],
        iconAnchor: [12, 12], html: "<div style='font-size:22px;line-height:24px;" +
        "color:#6a1b9a;text-shadow:0 0 3px #fff,0 0 3px #fff'>★</div>"})});
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup("<div style='font-size:12px'><b>建议新增设施 Suggested site</b> " +
        esc(p.site_id) + "<br>类别 Category: " + esc(p.name_zh || catOf(p.category).zh) +
        "<br>单元 Unit: " + esc(p.unit_name || p.unit_id) + "<br>序号 Order: " + esc(p.order) +
        "<br>新增覆盖人口 Newly covered: " + num(p.newly_covered_population) +
        "<br>建设后覆盖率 Share after: " + pct(p.share_after) + "</div>");
    }
  });
  // Facilities and suggested sites follow the category chosen (all of them in the count view).
  function showCategory(id) {
    function pick(fc) {
      return id ? fc.features.filter(function (f) { return f.properties.category === id; })
                : fc.features;
    }
    facLayer.clearLayers();
    siteLayer.clearLayers();
    facLayer.addData({type: "FeatureCollection", features: pick(D.facilities)});
    siteLayer.addData({type: "FeatureCollection", features: pick(D.sites)});
  }
  showCategory(null);
  facLayer.addTo(map);
  siteLayer.addTo(map);
  map.on("baselayerchange", function (e) {
    current = baseCat[e.name] || null;
    unitLayer.setStyle(unitStyle);
    unitLayer.eachLayer(function (l) { if (l.isPopupOpen()) l.closePopup(); });
    showCategory(current ? current.id : null);
  });

  var overlays = {};
  if (D.streets.n) overlays["街道底图 Streets (离线 offline basemap)"] = streetLayer;
  overlays["● 设施 Facilities (所选类别 chosen category)"] = facLayer;
  overlays["<span style='color:#6a1b9a'>★</span> 建议新增设施 Suggested sites " +
           "(所选类别 chosen category)"] = siteLayer;
  L.control.layers(base, overlays, {collapsed: true}).addTo(map);

  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "lc-legend");
    div.style.cssText = "background:rgba(255,255,255,0.92);padding:6px 8px;border-radius:4px;" +
      "font:12px/1.5 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3);max-width:300px;" +
      "max-height:70vh;overflow:auto";
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    var open = window.innerWidth > 900 ? " open" : "";
    var h = "<details" + open + "><summary style='cursor:pointer'><b>图例 Legend</b></summary>" +
      "<b>覆盖率 Coverage share</b><br><span style='font-size:11px;color:#555'>" +
      "(达标类别数图层: 达标类别占比 / share of categories meeting standard)</span><br>";
    h += binsLegend() +
      "<i style='display:inline-block;width:14px;height:10px;margin-right:6px;" +
      "background:#d7ccc8;border:2px dotted #795548'></i>路网不全 partial network<br>" +
      "<i style='display:inline-block;width:14px;height:0;margin:0 6px 3px 0;" +
      "border-top:2.5px dashed #b71c1c'></i>未达标 below target<br>" +
      "<span style='color:#6a1b9a'>★</span> 建议新增设施 suggested site<br>" +
      "※ 该类标准含假设值 the category's standard rests on an assumption " +
      "(见 see 标准说明 Standards)<br>" +
      "<b>设施 Facilities</b><br><span style='font-size:11px'>";
    var present = {};
    D.facilities.features.forEach(function (f) { present[f.properties.category] = true; });
    Object.keys(present).forEach(function (id) {
      var c = catOf(id);
      h += "<span style='white-space:nowrap;margin-right:6px'><span style='color:" + c.colour +
        "'>●</span> " + esc(c.zh) + "</span> ";
    });
    h += "</span>";
    if (!D.facilities_drawn) {
      h += "<br><span style='font-size:11px'>设施 " + num(D.n_facilities) +
        " 个，过多未逐个绘制，" +
        "见项目数据库 facilities 图层 / " + num(D.n_facilities) + " facilities: too many to " +
        "draw; see the project database's facilities layer</span>";
    }
    if (D.streets.n) {
      h += "<br><i style='display:inline-block;width:14px;height:0;margin:0 6px 3px 0;" +
        "border-top:1px solid #8a8a8a'></i>街道 streets (路网 network)";
    }
    h += "<br><a href='" + esc(D.png) + "' download>图片 PNG</a>";
    div.innerHTML = h + "</details>";
    return div;
  };
  legend.addTo(map);
"""
)
