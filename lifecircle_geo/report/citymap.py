"""The city map of a batch: every unit, 街镇 and district with its coverage, one light page.

A whole-city run has about 1,600 units, 230 街镇 and 120,000 facilities: one page that drew
them all (as a single run's :func:`~lifecircle_geo.report.html.write_map` does) would take
far too long to open. The city map shows what the city office reads at that scale, the units
and their roll-ups, and links each area to the map of the batch task that holds it (with that
area's streets, facilities and projects):

- three views (radio buttons): 区 districts, 街镇 sub-districts (the default) and 社区基本单元
  units, each coloured by the share of its residents covered in the category chosen in the
  drop-down, or by the share of categories meeting standard;
- a popup per area: population, categories meeting standard, the chosen category's share
  against its target, and the link(s) to the task map(s);
- polygons simplified (5 m for units, 10 m for 街镇, 25 m for districts) and coordinates
  rounded to about 1 m; Leaflet inlined (:func:`~lifecircle_geo.report.html.offline_html`),
  so it opens offline on an office PC; tiles show only where a tile server is reachable.

The roll-ups are the batch's own (:func:`lifecircle_geo.batch.rollup`: sums of covered and
total population over the units, so a 街镇's share is population-weighted).

Examples
--------
>>> from lifecircle_geo.report.citymap import write_city_map
>>> write_city_map(units, coverage, "out/city/city_map.html")  # doctest: +SKIP
PosixPath('out/city/city_map.html')
"""

from __future__ import annotations

import html as _html
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

from ..coverage import rollup as coverage_rollup
from ..crs import utm_crs_for
from ..errors import InputError
from .html import JS_HELPERS, SHARE_BINS, DataScript, _num, write_page

__all__ = ["LEVELS", "write_city_map"]

log = logging.getLogger(__name__)

#: The views of the city map: key, Chinese and English name, the code column, the name
#: column, and how far its polygons are simplified (metres).
LEVELS = (
    ("district", "区", "Districts", "district_code", "district_name", 25.0),
    ("jiezhen", "街镇", "Sub-districts", "jiezhen_code", "jiezhen_name", 10.0),
    ("unit", "社区基本单元", "Basic units", "unit_id", "unit_name", 5.0),
)

#: Statuses that mean a category was not measured in an area (counted neither way).
_UNMEASURED = ("no data", "no residents")


def write_city_map(
    units: gpd.GeoDataFrame,
    coverage: pd.DataFrame,
    path: str | os.PathLike,
    *,
    rollups: Mapping[str, pd.DataFrame] | None = None,
    links: Mapping[str, tuple[str, str]] | None = None,
    title: str | None = None,
) -> Path:
    """Write the city map: units, 街镇 and districts coloured by coverage, linked to task maps.

    Parameters
    ----------
    units : GeoDataFrame
        The units' polygons, with ``unit_id`` and, where known, ``unit_name``,
        ``jiezhen_code``, ``jiezhen_name``, ``district_code`` and ``district_name`` (any CRS).
    coverage : DataFrame
        Unit × category rows (a batch's ``coverage.csv`` files): ``unit_id``, ``category``,
        ``share``, ``population``, ``covered_population``, ``meets_standard``, ``status``,
        and ``name_zh``, ``name_en``, ``tier_min``, ``target_share`` for the legend (and
        what :func:`lifecircle_geo.coverage.rollup` needs when ``rollups`` is not given).
    path : str or os.PathLike
        Output file, conventionally ``city_map.html`` (UTF-8, written atomically).
    rollups : mapping of str to DataFrame, optional
        ``{"jiezhen": ..., "district": ...}``: the roll-up rows (code × category, with
        ``share``, ``population``, ``meets_standard``, ``status``), as
        :func:`lifecircle_geo.coverage.rollup` makes them; computed with it from
        ``coverage`` when not given.
    links : mapping of str to (str, str), optional
        ``unit_id`` → ``(label, href)``: the map that shows the unit in detail, ``href``
        relative to ``path``'s folder (a batch task's ``map.html``). A 街镇 or district links
        to the maps of its units.
    title : str, optional
        The page title (default: "15分钟社区生活圈 城市总览 / City overview").

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        ``units`` has no ``unit_id`` column, or ``coverage`` lacks the columns named above.

    Examples
    --------
    >>> write_city_map(units, cov, "out/city_map.html", links={"U1": ("310101", "a/map.html")})
    ... # doctest: +SKIP
    PosixPath('out/city_map.html')
    """
    path = Path(path)
    if "unit_id" not in units.columns:
        raise InputError(f"city map {path.name}: the units have no unit_id column")
    need = {"unit_id", "category", "share", "population", "covered_population"}
    missing = sorted(need - set(coverage.columns))
    if missing:
        raise InputError(f"city map {path.name}: the coverage rows lack column(s) {missing}")
    cov = coverage.copy()
    cov["unit_id"] = cov["unit_id"].astype(str)
    units = units.copy()
    units["unit_id"] = units["unit_id"].astype(str)
    units = units[units.geometry.notna() & ~units.geometry.is_empty]
    units = units.drop_duplicates("unit_id")
    if not len(units):
        raise InputError(f"city map {path.name}: no unit has a geometry")
    cats = _categories(cov)
    order = [c["id"] for c in cats]
    # the units carry their 街镇 and district from the coverage rows when the layer lacks them
    for col in ("unit_name", "jiezhen_code", "jiezhen_name", "district_code"):
        if col not in units.columns and col in cov.columns:
            first = cov.drop_duplicates("unit_id").set_index("unit_id")[col]
            units[col] = units["unit_id"].map(first)
    metric = _metric(units)
    rollups = dict(rollups or {})
    links = dict(links or {})
    data_levels = {}
    for key, zh, en, code_col, name_col, tol_m in LEVELS:
        if code_col not in metric.columns:
            continue
        if key == "unit":
            shapes = gpd.GeoDataFrame(
                metric[["unit_id", *_present(metric, ("unit_name",))]].copy(),
                geometry=metric.geometry.to_numpy(),
                crs=metric.crs,
            )
            rows = cov
        else:
            shapes = _dissolve(metric, code_col)
            rows = rollups.get(key)
            if rows is None:
                rows = coverage_rollup(cov, [code_col])
        shapes = shapes.set_geometry(shapely.simplify(shapes.geometry.to_numpy(), tol_m))
        props = _props(shapes, rows, code_col, name_col, order, metric, links, key)
        data_levels[key] = {
            "zh": zh,
            "en": en,
            "features": _features(shapes.to_crs(4326), props),
        }
    if not data_levels:  # pragma: no cover - the units level is always there
        raise InputError(f"city map {path.name}: no unit has a geometry")
    data = {
        "cats": cats,
        "bins": [{"min": lo, "colour": c, "label": lab} for lo, c, lab in SHARE_BINS],
        "levels": data_levels,
        "start": "jiezhen" if "jiezhen" in data_levels else next(iter(data_levels)),
    }
    bounds = units.to_crs(4326).total_bounds
    m = folium.Map(
        location=[float((bounds[1] + bounds[3]) / 2), float((bounds[0] + bounds[2]) / 2)],
        zoom_start=10,
        tiles="OpenStreetMap",
        control_scale=True,
        prefer_canvas=True,
    )
    m.fit_bounds(
        [[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]],
        padding_top_left=(20, 80),
        padding_bottom_right=(330, 20),
    )
    page_title = title or "15分钟社区生活圈 城市总览 / City overview"
    m.get_root().title = page_title
    m.get_root().html.add_child(Element(_title_html(page_title, data_levels)))
    DataScript("LifecircleCityLayers", data, _JS).add_to(m)
    write_page(m, path)
    log.info(
        "wrote the city map %s (%s)",
        path,
        ", ".join(f"{len(v['features'])} {k}" for k, v in data_levels.items()),
    )
    return path


# ---------------------------------------------------------------------------- data
def _present(df: pd.DataFrame, cols: tuple[str, ...]) -> list[str]:
    return [c for c in cols if c in df.columns]


def _metric(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the units in a metric CRS (their own when projected, else their UTM zone)."""
    if units.crs is None:
        log.warning("city map: the units have no CRS; EPSG:4326 assumed")
        units = units.set_crs(4326)
    if units.crs.is_projected:
        return units
    return units.to_crs(utm_crs_for(units))


def _dissolve(units: gpd.GeoDataFrame, code_col: str) -> gpd.GeoDataFrame:
    """One polygon per code: the union of its units."""
    keep = units[units[code_col].notna() & (units[code_col].astype(str) != "")]
    codes = keep[code_col].astype(str).to_numpy()
    uniq, inv = np.unique(codes, return_inverse=True)
    geoms = keep.geometry.to_numpy()
    shapes = [shapely.union_all(geoms[inv == i]) for i in range(len(uniq))]
    return gpd.GeoDataFrame({code_col: uniq}, geometry=shapes, crs=units.crs)


def _categories(cov: pd.DataFrame) -> list[dict]:
    first = cov.drop_duplicates("category")
    out = []
    for row in first.itertuples(index=False):
        out.append(
            {
                "id": str(row.category),
                "zh": str(getattr(row, "name_zh", row.category)),
                "en": str(getattr(row, "name_en", "") or ""),
                "tier": _num(getattr(row, "tier_min", None), 0),
                "target": _num(getattr(row, "target_share", None), 4),
            }
        )
    return out


def _props(
    shapes: gpd.GeoDataFrame,
    rows: pd.DataFrame,
    code_col: str,
    name_col: str | None,
    order: list[str],
    units: gpd.GeoDataFrame,
    links: dict[str, tuple[str, str]],
    level: str,
) -> list[dict]:
    """Return the popup facts of each shape: name, population, shares per category, links."""
    rows = rows.copy()
    rows[code_col] = rows[code_col].astype(str)
    col_of = {c: i for i, c in enumerate(order)}
    codes = shapes[code_col].astype(str).to_numpy()
    at = {c: i for i, c in enumerate(codes)}
    n = len(codes)
    share = np.full((n, len(order)), np.nan)
    meets = np.zeros((n, len(order)), dtype=bool)
    measured = np.zeros((n, len(order)), dtype=bool)
    pop = np.full(n, np.nan)
    r = rows[rows[code_col].isin(at) & rows["category"].isin(col_of)]
    i = r[code_col].map(at).to_numpy(dtype=int)
    j = r["category"].map(col_of).to_numpy(dtype=int)
    share[i, j] = pd.to_numeric(r["share"], errors="coerce").to_numpy(dtype=float)
    if "meets_standard" in r.columns:
        meets[i, j] = r["meets_standard"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    status = r["status"] if "status" in r.columns else pd.Series("measured", index=r.index)
    measured[i, j] = ~status.isin(_UNMEASURED).to_numpy()
    first = r.drop_duplicates(code_col)
    pop[first[code_col].map(at).to_numpy(dtype=int)] = pd.to_numeric(
        first["population"], errors="coerce"
    ).to_numpy(dtype=float)
    # names: the unit's own; a 街镇's or district's from its units (when they carry one)
    names: dict[str, str] = {}
    if name_col and name_col in units.columns:
        named = units[[code_col, name_col]].dropna().drop_duplicates(code_col)
        names = dict(zip(named[code_col].astype(str), named[name_col].astype(str), strict=True))
    owner = {}
    if level != "district" and "district_code" in units.columns:
        owned = units[[code_col, "district_code"]].dropna().drop_duplicates(code_col)
        owner = dict(
            zip(owned[code_col].astype(str), owned["district_code"].astype(str), strict=True)
        )
    area_links = _area_links(units, code_col, links)
    out = []
    for k, code in enumerate(codes):
        out.append(
            {
                "id": code,
                "name": names.get(code, ""),
                "d": owner.get(code, ""),
                "pop": _num(pop[k], 0),
                "s": [_num(v, 3) for v in share[k]],
                "m": int((meets[k] & measured[k]).sum()),
                "n": int(measured[k].sum()),
                "links": area_links.get(code, []),
            }
        )
    return out


def _area_links(
    units: gpd.GeoDataFrame, code_col: str, links: dict[str, tuple[str, str]]
) -> dict[str, list[list[str]]]:
    """Map each code to the distinct ``[label, href]`` of the maps that hold its units."""
    if not links:
        return {}
    pairs = pd.DataFrame(
        {
            "code": units[code_col].astype(str).to_numpy(),
            "link": [links.get(u) for u in units["unit_id"].astype(str)],
        }
    ).dropna()
    out: dict[str, list[list[str]]] = {}
    for code, link in zip(pairs["code"], pairs["link"], strict=True):
        seen = out.setdefault(code, [])
        item = [str(link[0]), str(link[1])]
        if item not in seen:
            seen.append(item)
    return out


def _features(shapes: gpd.GeoDataFrame, props: list[dict]) -> list[dict]:
    geoms = shapely.transform(shapes.geometry.to_numpy(), lambda xy: np.round(xy, 5))
    return [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": p}
        for g, p in zip(geoms, props, strict=True)
        if g is not None and not g.is_empty
    ]


def _title_html(title: str, levels: dict) -> str:
    counts = " · ".join(f"{len(v['features']):,} {v['zh']} {v['en']}" for v in levels.values())
    return (
        '<div id="lc-title" style="position:fixed;top:10px;left:60px;z-index:1000;'
        "background:rgba(255,255,255,0.9);padding:6px 10px;border-radius:4px;"
        'box-shadow:0 1px 4px rgba(0,0,0,0.3);font:13px/1.4 sans-serif;max-width:60%;">'
        f"<b>{_html.escape(title)}</b><br>"
        f'<span style="color:#666;font-size:11px">{_html.escape(counts)}; '
        "点击区域打开详细地图 click an area for its detailed map</span></div>"
    )


# ---------------------------------------------------------------------------- Leaflet
_JS = (
    JS_HELPERS
    + r"""
  var cat = -1;  // -1: share of categories meeting standard
  function value(p) {
    if (cat < 0) return p.n ? p.m / p.n : null;
    return p.s[cat];
  }
  function style(f) {
    var p = f.properties, v = value(p), c = cat >= 0 ? D.cats[cat] : null;
    var below = c && isNum(v) && isNum(c.target) && v < c.target;
    return {fillColor: shareColour(v), fillOpacity: 0.65, color: below ? "#b71c1c" : "#444",
            weight: below ? 2 : 0.8, dashArray: below ? "5 4" : null};
  }
  function popup(level, p) {
    var L0 = D.levels[level];
    var h = "<div style='max-height:300px;overflow:auto;font-size:12px'><b>" +
      esc(p.name || p.id) + "</b> (" + esc(L0.zh) + " " + esc(p.id) + ")";
    if (p.d) h += "<br>区 District: " + esc(p.d);
    h += "<br>人口 Population: " + num(p.pop) +
      "<br>达标类别 Categories meeting standard: " + p.m + " / " + p.n;
    if (cat >= 0) {
      var c = D.cats[cat];
      h += "<hr style='margin:4px 0'><b>" + esc(c.zh) + " " + esc(c.en) + "</b><br>" +
        "覆盖率 Coverage: " + pct(p.s[cat]) + " (目标 target " + pct(c.target) + ")";
    }
    if (p.links && p.links.length) {
      h += "<hr style='margin:4px 0'><b>详细地图 Detailed map" +
        (p.links.length > 1 ? "s" : "") + "</b><br>";
      h += p.links.map(function (l) {
        return "<a href='" + esc(l[1]) + "' target='_blank'>" + esc(l[0]) + "</a>";
      }).join(" · ");
    }
    return h + "</div>";
  }
  var views = {}, layers = {};
  Object.keys(D.levels).forEach(function (level) {
    var lv = D.levels[level];
    var layer = L.geoJson({type: "FeatureCollection", features: lv.features}, {
      style: style,
      onEachFeature: function (f, l) {
        l.bindPopup(function () { return popup(level, f.properties); }, {maxWidth: 380});
        l.bindTooltip(esc(f.properties.name || f.properties.id));
      }
    });
    layers[level] = layer;
    views[esc(lv.zh) + " " + esc(lv.en) + " (" + lv.features.length.toLocaleString() + ")"] =
      layer;
  });
  layers[D.start].addTo(map);
  L.control.layers(views, {}, {collapsed: false}).addTo(map);

  var chooser = L.control({position: "topright"});
  chooser.onAdd = function () {
    var div = L.DomUtil.create("div", "lc-chooser");
    div.style.cssText = "background:rgba(255,255,255,0.92);padding:6px 8px;border-radius:4px;" +
      "font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)";
    L.DomEvent.disableClickPropagation(div);
    var h = "<label>类别 Category<br><select id='lc-cat' style='max-width:260px'>" +
      "<option value='-1'>达标类别占比 Share of categories meeting standard</option>";
    D.cats.forEach(function (c, i) {
      h += "<option value='" + i + "'>" + esc(c.zh) + " " + esc(c.en) +
        (isNum(c.tier) ? " (" + c.tier + " 分钟 min)" : "") + "</option>";
    });
    div.innerHTML = h + "</select></label>";
    div.querySelector("select").addEventListener("change", function (e) {
      cat = parseInt(e.target.value, 10);
      map.closePopup();
      Object.keys(layers).forEach(function (k) { layers[k].setStyle(style); });
    });
    return div;
  };
  chooser.addTo(map);

  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "lc-legend");
    div.style.cssText = "background:rgba(255,255,255,0.92);padding:6px 8px;border-radius:4px;" +
      "font:12px/1.5 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3);max-width:300px";
    var h = "<details open><summary style='cursor:pointer'><b>图例 Legend</b></summary>" +
      "<b>覆盖率 Coverage share</b><br>";
    h += binsLegend() +
      "<i style='display:inline-block;width:14px;height:0;margin:0 6px 3px 0;" +
      "border-top:2px dashed #b71c1c'></i>未达标 below target<br>" +
      "<span style='font-size:11px;color:#555'>街镇与区为其单元的人口加权汇总 / sub-districts " +
      "and districts: population-weighted roll-ups of their units. 设施、街道与项目见各详细地图 " +
      "/ facilities, streets and projects: in each detailed map.</span>";
    div.innerHTML = h + "</details>";
    return div;
  };
  legend.addTo(map);
"""
)
