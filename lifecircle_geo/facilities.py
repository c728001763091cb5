"""Facilities from OpenStreetMap tags and from planners' tables, classified by a profile.

Every facility becomes one row per category it serves, in one GeoDataFrame (WGS-84) with
``facility_id``, ``name``, ``category``, ``facility_type``, ``source`` and ``rule`` (which
profile rule matched). Polygons (parks, schools) keep their geometry; their entrances, when
mapped, are kept in ``entrances`` so routing starts at the gates, not at the centroid.

Examples
--------
>>> import lifecircle_geo as lc
>>> fac = lc.facilities.from_osm("data/sample/sample.osm")  # doctest: +SKIP
>>> fac.groupby("category").size()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import crs as lc_crs
from .errors import InputError
from .standards import Profile, load_profile

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "classify_name", "classify_tags", "from_osm", "from_table", "merge"]

COLUMNS = ["facility_id", "name", "category", "facility_type", "source", "rule", "capacity"]

#: OSM keys whose presence makes a feature a point of interest worth classifying
POI_KEYS = ("amenity", "shop", "office", "leisure", "healthcare", "social_facility", "tourism",
            "public_transport", "railway", "highway", "place", "building", "landuse")

#: common column headers of planners' tables, Chinese and English, by meaning
HEADER_ALIASES = {
    "name": ("名称", "名字", "设施名称", "name", "poi_name", "title"),
    "type": ("类型", "类别", "设施类型", "type", "category", "kind", "小类", "分类"),
    "typecode": ("类型编码", "typecode", "type_code", "poi_code", "code"),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x", "wgs84_lon", "gcj02_lon"),
    "lat": ("纬度", "lat", "latitude", "y", "wgs84_lat", "gcj02_lat"),
    "address": ("地址", "address", "addr", "位置"),
    "capacity": ("容量", "规模", "床位", "capacity", "beds", "seats"),
    "id": ("编号", "id", "poi_id", "uid", "fid"),
}


def _value_matches(value: str | None, wanted) -> bool:
    if value is None:
        return False
    if wanted == "*":
        return True
    if isinstance(wanted, list):
        return value in wanted
    return value == str(wanted)


def classify_tags(tags: dict[str, str], profile: Profile) -> list[tuple[str, str, str]]:
    """Categories an OSM feature serves: ``[(category_id, facility_type, rule), ...]``.

    A tag rule matches when every tag it names has one of the listed values (and, if it has
    ``name_any``, the name contains one of the keywords). Only where no tag rule of any
    category matches are the categories' Chinese name keywords tried on the ``name`` tag, so
    a playground called 示例公园儿童乐园 is a playground, not a park.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> classify_tags({"amenity": "kindergarten", "name": "示例幼儿园"},
    ...               load_profile("shanghai-2025"))[0]
    ('kindergarten', '幼儿园', 'osm:amenity=kindergarten')
    """
    name = tags.get("name", "") or tags.get("name:zh", "")
    out = []
    for cat in profile.categories:
        for rule in cat.osm_rules:
            if all(_value_matches(tags.get(k), v) for k, v in rule["tags"].items()):
                kws = rule.get("name_any")
                if kws and not any(k in name for k in kws):
                    continue
                text = ";".join(f"{k}={tags[k]}" for k in rule["tags"])
                out.append((cat.id, rule["type"], f"osm:{text}"))
                break
    if out or not name:
        return out
    # no tag rule matched: the Chinese name may still say what it is (社区食堂, 宝宝屋, ...)
    for cat in profile.categories:
        found = classify_name(name, cat)
        if found:
            out.append((cat.id, found[0], f"osm-name:{found[1]}"))
    return out


def classify_name(text: str, category) -> tuple[str, str] | None:
    """``(facility_type, keyword)`` when ``text`` contains one of a category's name keywords."""
    for rule in category.name_rules:
        for kw in rule["any"]:
            if kw in text:
                return rule["type"], kw
    return None


def _classify_amap(type_text: str, code_text: str, category) -> tuple[str, str] | None:
    codes = [c for c in re.split(r"[|;,，\s]+", code_text or "") if c]
    parts = [p for p in re.split(r"[|]", type_text or "") if p]
    for rule in category.amap_rules:
        for code in rule.get("codes", ()):
            if code in codes:
                return rule["type"], f"amap-code:{code}"
        for kw in rule.get("any", ()):
            if any(kw in p for p in parts):
                return rule["type"], f"amap-type:{kw}"
    return None


def from_osm(path: str | os.PathLike, profile: str | Profile = "shanghai-2025",
             ) -> gpd.GeoDataFrame:
    """Facilities from an OSM file: nodes, closed ways and multipolygon relations.

    Parameters
    ----------
    path : str or path-like
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf``.
    profile : str or Profile
        Standards profile whose matching rules classify the features.

    Returns
    -------
    GeoDataFrame
        WGS-84; one row per (feature, category); ``attrs["unmatched"]`` counts POIs that no rule
        matched, by their main tag.
    """
    import osmium

    from .network.osm import check_osm_path

    p = check_osm_path(path)
    prof = load_profile(profile)
    rows: list[dict] = []
    geoms: list = []
    entrances: list[tuple[float, float]] = []
    unmatched: dict[str, int] = {}
    wkb = osmium.geom.WKBFactory()
    proc = osmium.FileProcessor(str(p)).with_locations().with_areas()
    try:
        for obj in proc:
            tags = obj.tags
            if obj.is_node():
                if "entrance" in tags:
                    loc = obj.location
                    if loc.valid():
                        entrances.append((loc.lon, loc.lat))
                if not any(k in tags for k in POI_KEYS):
                    continue
            elif obj.is_area():
                if not any(k in tags for k in POI_KEYS):
                    continue
            else:
                continue
            tag_d = dict(tags)
            hits = classify_tags(tag_d, prof)
            if not hits:
                if obj.is_node() and tag_d.get("highway") not in (None, "bus_stop"):
                    continue  # traffic signals, crossings, ...: not POIs
                main = next((f"{k}={tag_d[k]}" for k in POI_KEYS if k in tag_d), "?")
                if not main.startswith(("building=", "landuse=", "highway=")):
                    unmatched[main] = unmatched.get(main, 0) + 1
                continue
            if obj.is_node():
                geom = shapely.Point(obj.location.lon, obj.location.lat)
                fid = f"osm/node/{obj.id}"
            else:
                try:
                    geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                except RuntimeError:
                    continue
                if len(geom.geoms) == 1:
                    geom = geom.geoms[0]
                kind = "way" if obj.from_way() else "relation"
                fid = f"osm/{kind}/{obj.orig_id()}"
            cap = _number(tag_d.get("capacity"))
            for cat_id, ftype, rule in hits:
                rows.append({"facility_id": fid, "name": tag_d.get("name", ""),
                             "category": cat_id, "facility_type": ftype, "source": "osm",
                             "rule": rule, "capacity": cap})
                geoms.append(geom)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{p}: could not be read as OSM data ({exc})") from None
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=geoms, crs=4326)
    gdf["entrances"] = _entrances_for(gdf.geometry.to_numpy(), entrances)
    gdf.attrs["unmatched"] = unmatched
    gdf.attrs["sources"] = [str(p)]
    log.info("%s: %d facility rows in %d categories; unmatched POIs: %s", p.name, len(gdf),
             gdf["category"].nunique(), unmatched)
    return gdf


def _entrances_for(geoms: np.ndarray, entrances: list[tuple[float, float]]) -> list:
    """Entrance points on (within ~2 m of) each polygon's boundary; None for points."""
    out: list = [None] * len(geoms)
    if not entrances:
        return out
    pts = shapely.points(np.asarray(entrances))
    tree = shapely.STRtree(pts)
    for i, g in enumerate(geoms):
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        near = tree.query(g.boundary, predicate="dwithin", distance=2e-5)
        if len(near):
            out[i] = shapely.MultiPoint(pts[near])
    return out


def _number(text) -> float:
    try:
        return float(str(text).replace(",", "").strip())
    except (TypeError, ValueError):
        return np.nan


# ---------------------------------------------------------------------- tables
def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "utf-8", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            continue
        import io

        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False), (
            "UTF-8 with BOM" if enc == "utf-8-sig" else "UTF-8" if enc == "utf-8" else "GB18030/GBK")
    raise InputError(f"{path}: not readable as UTF-8, UTF-8 with BOM or GBK/GB18030 text")


def _find_column(df: pd.DataFrame, meaning: str, override: str | None) -> str | None:
    if override is not None:
        if override not in df.columns:
            raise InputError(f"column {override!r} (given for {meaning}) is not in the table; "
                             f"columns are {list(df.columns)}")
        return override
    lower = {str(c).strip().lower(): c for c in df.columns}
    for alias in HEADER_ALIASES[meaning]:
        if alias.lower() in lower:
            return lower[alias.lower()]
    return None


def from_table(path: str | os.PathLike, coords: str = "wgs84",
               profile: str | Profile = "shanghai-2025", columns: dict | None = None,
               sheet: str | int | None = 0) -> gpd.GeoDataFrame:
    """Facilities from a planner's table: CSV (UTF-8, BOM or GBK), XLSX, GeoJSON/GPKG/SHP.

    Parameters
    ----------
    path : str or path-like
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of the table's longitude/latitude (Amap and Tencent: gcj02,
        Baidu: bd09). Converted to WGS-84.
    profile : str or Profile
        Classifies rows by their type text (or Amap type code) and, failing that, their name.
    columns : dict, optional
        Overrides of the column mapping, e.g. ``{"lon": "X坐标", "type": "设施类别"}``; keys are
        ``name``, ``type``, ``typecode``, ``lon``, ``lat``, ``address``, ``capacity``, ``id``.
    sheet : str or int, optional
        Excel sheet.

    Returns
    -------
    GeoDataFrame
        WGS-84 points; ``attrs["unmatched"]`` lists the rows no rule matched (row numbers as in
        the file, header = row 1), ``attrs["encoding"]`` says how a CSV was decoded.

    Raises
    ------
    InputError
        Missing file or columns, non-numeric or missing coordinates (with row numbers),
        duplicate ids.

    Examples
    --------
    >>> fac = from_table("data/sample/facilities_gcj02.xlsx", coords="gcj02")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"facility table {p} does not exist")
    prof = load_profile(profile)
    columns = dict(columns or {})
    bad = set(columns) - set(HEADER_ALIASES)
    if bad:
        raise InputError(f"unknown column mapping key(s) {sorted(bad)}; "
                         f"known: {sorted(HEADER_ALIASES)}")
    suffix = p.suffix.lower()
    encoding = None
    geometry = None
    try:
        if suffix == ".csv" or suffix == ".txt":
            df, encoding = _read_csv(p)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(p, sheet_name=sheet, dtype=str).fillna("")
        elif suffix in (".geojson", ".json", ".gpkg", ".shp"):
            gdf = gpd.read_file(p)
            geometry = gdf.geometry
            df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(str)
        else:
            raise InputError(f"{p}: unknown table type {suffix!r}; expected .csv, .xlsx, "
                             f".geojson, .gpkg or .shp")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: could not be read as a table ({type(exc).__name__}: {exc})"
                         ) from None
    system = coords.lower().replace("-", "")
    if system not in ("wgs84", "gcj02", "bd09"):
        raise InputError(f"coords={coords!r}; expected 'wgs84', 'gcj02' or 'bd09'")
    cols = {m: _find_column(df, m, columns.get(m)) for m in HEADER_ALIASES}
    if geometry is None and (cols["lon"] is None or cols["lat"] is None):
        missing = [m for m in ("lon", "lat") if cols[m] is None]
        raise InputError(
            f"{p}: no {' and no '.join(missing)} column found; expected headers such as "
            f"经度/lon/lng and 纬度/lat (columns are {list(df.columns)}); pass "
            f"columns={{'lon': ..., 'lat': ...}} to name them"
        )
    if cols["name"] is None and cols["type"] is None:
        raise InputError(f"{p}: no name (名称) or type (类型) column; columns are "
                         f"{list(df.columns)}")
    rownum = np.arange(len(df)) + 2  # header is row 1
    if geometry is not None:
        if geometry.crs is not None and not geometry.crs.is_geographic:
            geometry = geometry.to_crs(4326)
        pts = geometry.representative_point()
        lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    else:
        lon = pd.to_numeric(df[cols["lon"]].astype(str).str.strip(), errors="coerce").to_numpy()
        lat = pd.to_numeric(df[cols["lat"]].astype(str).str.strip(), errors="coerce").to_numpy()
        badrows = ~(np.isfinite(lon) & np.isfinite(lat))
        if badrows.any():
            where = ", ".join(
                f"row {r} ({cols['lon']}={df[cols['lon']].iloc[i]!r}, "
                f"{cols['lat']}={df[cols['lat']].iloc[i]!r})"
                for i, r in zip(np.flatnonzero(badrows)[:10], rownum[badrows][:10], strict=False))
            raise InputError(f"{p}: non-numeric or missing coordinates in {badrows.sum()} "
                             f"row(s): {where}")
        swapped = (np.abs(lat) > 90) | ((lon < 60) & (lat > 60))
        if swapped.any():
            raise InputError(f"{p}: rows {rownum[swapped][:10].tolist()} have longitude/latitude "
                             f"out of range or swapped (lon should be ~121, lat ~31 in Shanghai)")
    if cols["id"] is not None:
        ids = df[cols["id"]].astype(str)
        dup = ids.duplicated(keep=False) & (ids != "")
        if dup.any():
            raise InputError(f"{p}: duplicate ids in column {cols['id']!r}: rows "
                             f"{rownum[dup.to_numpy()][:10].tolist()}")
        fids = [f"{p.stem}/{x}" for x in ids]
    else:
        fids = [f"{p.stem}/row{r}" for r in rownum]
    lon, lat = lc_crs.convert(lon, lat, system, "wgs84")
    _warn_outside_shanghai(lon, lat, prof, p, rownum)
    names = df[cols["name"]].astype(str).to_numpy() if cols["name"] else np.full(len(df), "")
    types = df[cols["type"]].astype(str).to_numpy() if cols["type"] else np.full(len(df), "")
    codes = (df[cols["typecode"]].astype(str).to_numpy() if cols["typecode"]
             else np.full(len(df), ""))
    caps = (df[cols["capacity"]].map(_number).to_numpy() if cols["capacity"]
            else np.full(len(df), np.nan))
    rows, pts_out, unmatched = [], [], []
    for i in range(len(df)):
        hits = []
        for cat in prof.categories:
            found = (_classify_amap(types[i], codes[i], cat)
                     or _typed(classify_name(types[i], cat), "type")
                     or _typed(classify_name(names[i], cat), "name"))
            if found:
                hits.append((cat.id, found[0], found[1]))
        if not hits:
            unmatched.append({"row": int(rownum[i]), "name": names[i], "type": types[i]})
            continue
        for cat_id, ftype, rule in hits:
            rows.append({"facility_id": fids[i], "name": names[i], "category": cat_id,
                         "facility_type": ftype, "source": f"table:{p.name}", "rule": rule,
                         "capacity": caps[i]})
            pts_out.append(shapely.Point(lon[i], lat[i]))
    if unmatched:
        log.warning("%s: %d row(s) matched no category of %s and are left out: rows %s", p.name,
                    len(unmatched), prof.id, [u["row"] for u in unmatched][:20])
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=pts_out, crs=4326)
    gdf["entrances"] = None
    gdf.attrs.update(unmatched=unmatched, encoding=encoding, coords=system, sources=[str(p)])
    return gdf


def _typed(found, how: str):
    return (found[0], f"{how}:{found[1]}") if found else None


def _warn_outside_shanghai(lon, lat, prof: Profile, path: Path, rownum) -> None:
    if not prof.id.startswith("shanghai"):
        return
    out = ~((lon > 120.8) & (lon < 122.2) & (lat > 30.6) & (lat < 31.9))
    if out.any():
        log.warning("%s: %d row(s) lie outside Shanghai (rows %s); check the coordinates",
                    path.name, int(out.sum()), rownum[out][:10].tolist())


def merge(*tables: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Concatenate facility tables (WGS-84), keeping each row's ``source``.

    Examples
    --------
    >>> merged = merge(osm_fac, table_fac)  # doctest: +SKIP
    """
    tables = [t.to_crs(4326) for t in tables if t is not None and len(t)]
    if not tables:
        return gpd.GeoDataFrame(columns=[*COLUMNS, "entrances"], geometry=[], crs=4326)
    out = pd.concat(tables, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    out.attrs["sources"] = [s for t in tables for s in t.attrs.get("sources", [])]
    return out
