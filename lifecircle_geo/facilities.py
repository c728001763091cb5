"""Facilities from OpenStreetMap tags and from planners' tables, classified by a profile.

Every facility becomes one row per category it serves, in one GeoDataFrame (WGS-84) with
``facility_id``, ``name``, ``category``, ``facility_type``, ``source``, ``rule`` (which profile
rule matched), ``capacity``, ``geometry`` and ``entrances``. Polygons (parks, schools) keep their
geometry; their entrances, when mapped, are kept in ``entrances`` (a MultiPoint, else None) so
routing starts at the gates, not at the centroid.

Three readers and one merger:

- :func:`from_osm`: OSM nodes, ways and multipolygon relations, classified by the profile's tag
  rules (and, where no tag rule matches, its Chinese name keywords).
- :func:`from_table`: a planner's table (CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, XLSX,
  GeoJSON, GPKG, SHP) with Chinese or English headers, Amap type strings and type codes, and
  coordinates in WGS-84, GCJ-02 or BD-09. Given a network, it checks that the coordinates are in
  the system the caller says (:func:`lifecircle_geo.offset.detect_offset`).
- :func:`merge`: one list from several sources, with the same facility seen twice kept once and
  its provenance recorded.

Rows that no rule matches are never dropped silently: they are counted in ``attrs["unmatched"]``
and logged as a warning.

Examples
--------
>>> import lifecircle_geo as lc
>>> sample = lc.datasets.get_path("sample")
>>> osm = lc.facilities.from_osm(sample / "sample.osm")
>>> table = lc.facilities.from_table(sample / "facilities_gcj02.xlsx", coords="gcj02")
>>> fac = lc.facilities.merge(osm, table)
>>> sorted(fac["source"].unique())
['osm', 'table:facilities_gcj02.xlsx']
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import crs as lc_crs
from .errors import InputError
from .offset import detect_offset
from .standards import Category, Profile, load_profile

if TYPE_CHECKING:
    import osmium.geom
    import osmium.osm

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "HEADER_ALIASES",
    "access_points",
    "classify_name",
    "classify_record",
    "classify_tags",
    "from_osm",
    "from_table",
    "merge",
    "name_similarity_score",
    "to_crs",
]

COLUMNS = ["facility_id", "name", "category", "facility_type", "source", "rule", "capacity"]

#: OSM keys whose presence makes a feature a point of interest worth classifying
POI_KEYS = (
    "amenity",
    "shop",
    "office",
    "leisure",
    "healthcare",
    "social_facility",
    "tourism",
    "public_transport",
    "railway",
    "highway",
    "place",
    "building",
    "landuse",
)

#: main tags of features that are not facilities and are not reported as unmatched
_NOT_POI_PREFIXES = ("building=", "landuse=", "highway=", "place=", "railway=", "public_transport=")

#: common column headers of planners' tables, Chinese and English, by meaning
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "名字", "设施名称", "poi名称", "name", "poi_name", "title"),
    "type": ("类型", "类别", "设施类型", "分类", "小类", "type", "category", "kind"),
    "typecode": ("类型编码", "类型代码", "typecode", "type_code", "poi_code", "code"),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x", "wgs84_lon", "gcj02_lon", "bd09_lng"),
    "lat": ("纬度", "lat", "latitude", "y", "wgs84_lat", "gcj02_lat", "bd09_lat"),
    "lonlat": ("经纬度", "坐标", "location", "lnglat", "lonlat", "coordinates"),
    "address": ("地址", "详细地址", "address", "addr", "位置"),
    "capacity": ("容量", "规模", "床位", "床位数", "capacity", "beds", "seats"),
    "id": ("编号", "序号", "id", "poi_id", "uid", "fid"),
}
#: Chinese headers that often carry a suffix, e.g. 经度(GCJ02) or 名称 Name
_PREFIX_ALIASES = {
    "name": ("名称",),
    "type": ("类型", "类别"),
    "lon": ("经度",),
    "lat": ("纬度",),
    "address": ("地址",),
    "capacity": ("容量",),
}


# ---------------------------------------------------------------------- matching rules
def _value_matches(value: str | None, wanted: object) -> bool:
    if value is None:
        return False
    if wanted == "*":
        return True
    if isinstance(wanted, list):
        return value in wanted or "*" in wanted
    return value == str(wanted)


def classify_tags(tags: dict[str, str], profile: Profile) -> list[tuple[str, str, str]]:
    """Categories an OSM feature serves: ``[(category_id, facility_type, rule), ...]``.

    A tag rule matches when every tag it names has one of the listed values (``"*"``: any
    value) and, if it has ``name_any``, the name contains one of the keywords; the first rule of
    a category that matches wins. Only where no tag rule of any category matches are the
    categories' Chinese name keywords tried on the ``name`` tag, so a playground called
    示例公园儿童乐园 is a playground, not a park.

    Parameters
    ----------
    tags : dict
        The feature's OSM tags.
    profile : Profile
        Standards profile whose ``osm`` and ``names`` rules classify.

    Returns
    -------
    list of (category_id, facility_type, rule)
        ``rule`` says what matched: ``"osm:amenity=kindergarten"`` or ``"osm-name:宝宝屋"``.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> prof = load_profile("shanghai-2025")
    >>> classify_tags({"amenity": "kindergarten", "name": "示例幼儿园"}, prof)
    [('kindergarten', '幼儿园', 'osm:amenity=kindergarten')]
    >>> classify_tags({"building": "yes", "name": "示例街道宝宝屋"}, prof)
    [('childcare', '宝宝屋', 'osm-name:宝宝屋')]
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
                if kws:
                    text += f";name~{next(k for k in kws if k in name)}"
                out.append((cat.id, rule["type"], f"osm:{text}"))
                break
    if out or not name:
        return out
    # no tag rule matched: the Chinese name may still say what it is (社区食堂, 宝宝屋, ...)
    return _classify_by_name(name, profile, "osm-name")


def classify_name(text: str, category: Category) -> tuple[str, str] | None:
    """``(facility_type, keyword)`` when ``text`` contains one of a category's name keywords.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> cat = load_profile("shanghai-2025").category("party_service")
    >>> classify_name("外滩街道六艺亭", cat)
    ('六艺亭', '六艺亭')
    """
    if not text:
        return None
    for rule in category.name_rules:
        for kw in rule["any"]:
            if kw in text:
                return rule["type"], kw
    return None


def _classify_by_name(name: str, profile: Profile, prefix: str) -> list[tuple[str, str, str]]:
    """Every category whose name keywords ``name`` contains: ``(category, type, rule)``."""
    out = []
    for cat in profile.categories:
        found = classify_name(name, cat)
        if found:
            out.append((cat.id, found[0], f"{prefix}:{found[1]}"))
    return out


_CODE_RE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def _split_codes(code_text: str, type_text: str) -> list[str]:
    codes = [c for c in re.split(r"[|;,，；\s]+", code_text or "") if c]
    # a type column sometimes holds the codes themselves ("090100|090300")
    codes += _CODE_RE.findall(type_text or "")
    return codes


def _classify_amap(type_text: str, codes: list[str], category: Category) -> tuple[str, str] | None:
    parts = [p for p in re.split(r"[|]", type_text or "") if p]
    for rule in category.amap_rules:
        for code in codes:  # the POI's own order: its main type first
            for want in rule.get("codes", ()):
                if code == want or (want.endswith("*") and code.startswith(want[:-1])):
                    return rule["type"], f"amap-code:{code}"
        for kw in rule.get("any", ()):
            if any(kw in p for p in parts):
                return rule["type"], f"amap-type:{kw}"
    return None


def classify_record(
    name: str,
    type_text: str,
    typecode: str,
    profile: Profile,
) -> list[tuple[str, str, str]]:
    """Categories a table row serves: ``[(category_id, facility_type, rule), ...]``.

    First the row's type: Amap type codes (``typecode``, several separated by ``|``), then
    Amap type strings (``科教文化服务;学校;幼儿园|...``, each ``|`` part searched for the rule's
    keywords), then the categories' Chinese keywords in the type text. Only when none of these
    matches any category is the name searched for keywords, as :func:`classify_tags` does.

    Parameters
    ----------
    name, type_text, typecode : str
        The row's name, type and type code ("" where the table has none).
    profile : Profile

    Returns
    -------
    list of (category_id, facility_type, rule)
        ``rule`` is ``"amap-code:090100"``, ``"amap-type:幼儿园"``, ``"type:宝宝屋"`` or
        ``"name:社区食堂"``.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> prof = load_profile("shanghai-2025")
    >>> classify_record("示例诊所", "医疗保健服务;诊所|医疗保健服务;药店", "090300|090601", prof)
    [('health', '社区卫生服务站', 'amap-code:090300'), ('pharmacy', '药店', 'amap-code:090601')]
    >>> classify_record("云栖长者食堂", "", "", prof)
    [('dining', '社区食堂', 'name:长者食堂')]
    """
    name, type_text, typecode = name or "", type_text or "", typecode or ""
    codes = _split_codes(typecode, type_text)
    hits = []
    for cat in profile.categories:
        found = _classify_amap(type_text, codes, cat)
        if found is None:
            kw = classify_name(type_text, cat)
            found = (kw[0], f"type:{kw[1]}") if kw else None
        if found:
            hits.append((cat.id, found[0], found[1]))
    if hits or not name:
        return hits
    return _classify_by_name(name, profile, "name")


# ---------------------------------------------------------------------- OSM
def from_osm(
    path: str | os.PathLike,
    profile: str | Profile = "shanghai-2025",
) -> gpd.GeoDataFrame:
    """Facilities from an OSM file: nodes, ways and multipolygon relations.

    Closed ways and multipolygon relations become polygons (through osmium's area assembly),
    open ways lines, nodes points. Nodes tagged ``entrance=*`` lying on a polygon's boundary
    become that facility's ``entrances``.

    Parameters
    ----------
    path : str or path-like
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf``.
    profile : str or Profile
        Standards profile whose matching rules classify the features.

    Returns
    -------
    GeoDataFrame
        WGS-84; one row per (feature, category); ``facility_id`` is ``osm/node/ID``,
        ``osm/way/ID`` or ``osm/relation/ID``. ``attrs["unmatched"]`` lists the POIs no rule
        matched (``facility_id``, ``name``, ``tag``), ``attrs["unmatched_by_tag"]`` counts them
        by their main tag.

    Raises
    ------
    InputError
        For a missing, empty or unreadable file.

    Examples
    --------
    >>> from lifecircle_geo.datasets import get_path
    >>> fac = from_osm(get_path("sample") / "sample.osm")
    >>> fac.loc[fac.name == "示例公园", ["facility_id", "category", "rule"]].values.tolist()
    [['osm/way/50', 'park', 'osm:leisure=park']]
    """
    import osmium

    from .network.osm import check_osm_path

    p = check_osm_path(path)
    prof = load_profile(profile)
    rows: list[dict] = []
    geoms: list = []
    entrances: list[tuple[float, float]] = []
    unmatched: list[dict] = []
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
            elif obj.is_way():
                if obj.is_closed():
                    continue  # polygons come through the area assembly
            elif not obj.is_area():
                continue  # relations: multipolygons come through the area assembly
            if not any(k in tags for k in POI_KEYS):
                continue
            tag_d = dict(tags)
            if obj.is_node():
                fid = f"osm/node/{obj.id}"
            elif obj.is_way():
                fid = f"osm/way/{obj.id}"
            else:
                fid = f"osm/{'way' if obj.from_way() else 'relation'}/{obj.orig_id()}"
            hits = classify_tags(tag_d, prof)
            if not hits:
                main = next((f"{k}={tag_d[k]}" for k in POI_KEYS if k in tag_d), "?")
                if not main.startswith(_NOT_POI_PREFIXES):
                    unmatched.append(
                        {"facility_id": fid, "name": tag_d.get("name", ""), "tag": main}
                    )
                continue
            geom = _osm_geometry(obj, wkb)
            if geom is None:
                log.warning("%s: %s has no usable geometry (missing nodes?): left out", p.name, fid)
                unmatched.append(
                    {"facility_id": fid, "name": tag_d.get("name", ""), "tag": "no geometry"}
                )
                continue
            cap = _number(tag_d.get("capacity"))
            for cat_id, ftype, rule in hits:
                rows.append(
                    {
                        "facility_id": fid,
                        "name": tag_d.get("name", ""),
                        "category": cat_id,
                        "facility_type": ftype,
                        "source": "osm",
                        "rule": rule,
                        "capacity": cap,
                    }
                )
                geoms.append(geom)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{p}: could not be read as OSM data ({exc})") from None
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=geoms, crs=4326)
    gdf["entrances"] = _entrances_for(gdf.geometry.to_numpy(), entrances)
    by_tag: dict[str, int] = {}
    for u in unmatched:
        by_tag[u["tag"]] = by_tag.get(u["tag"], 0) + 1
    gdf.attrs.update(
        unmatched=unmatched, unmatched_by_tag=by_tag, sources=[str(p)], profile=prof.id
    )
    log.info(
        "%s: %d facility rows (%d features) in %d categories",
        p.name,
        len(gdf),
        gdf["facility_id"].nunique(),
        gdf["category"].nunique(),
    )
    if unmatched:
        top = sorted(by_tag.items(), key=lambda kv: -kv[1])[:10]
        log.warning(
            "%s: %d OSM point(s) of interest matched no category of %s and are left "
            "out: by tag %s; e.g. %s",
            p.name,
            len(unmatched),
            prof.id,
            dict(top),
            [u["facility_id"] for u in unmatched[:10]],
        )
    return gdf


def _osm_geometry(
    obj: osmium.osm.OSMObject, wkb: osmium.geom.WKBFactory
) -> shapely.Geometry | None:
    try:
        if obj.is_node():
            loc = obj.location
            return shapely.Point(loc.lon, loc.lat) if loc.valid() else None
        if obj.is_way():
            return shapely.from_wkb(wkb.create_linestring(obj))
        geom = shapely.from_wkb(wkb.create_multipolygon(obj))
    except RuntimeError:
        return None
    if geom.is_empty:
        return None
    return geom.geoms[0] if len(geom.geoms) == 1 else geom


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
            out[i] = shapely.MultiPoint(pts[np.sort(near)])
    return out


def _number(text: object) -> float:
    try:
        return float(unicodedata.normalize("NFKC", str(text)).replace(",", "").strip())
    except (TypeError, ValueError):
        return np.nan


# ---------------------------------------------------------------------- tables
#: how each encoding is reported, in the order they are tried
_ENCODINGS = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text of a CSV file and the name of its encoding (UTF-8 with BOM, UTF-8, GBK, GB18030)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: starts with a UTF-8 byte-order mark but is not valid "
                f"UTF-8 at byte {exc.start + 3}"
            ) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    for codec, label in _ENCODINGS:
        try:
            return raw.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise InputError(
        f"{path}: not readable as UTF-8, UTF-8 with BOM, GBK or GB18030 text; "
        f"save it from Excel as 'CSV UTF-8' or as .xlsx"
    )


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    text, encoding = _decode(path.read_bytes(), path)
    first = text.split("\n", 1)[0]
    sep = "\t" if "\t" in first and "," not in first else ","
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
    return df, encoding


def _norm_header(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lstrip("\ufeff").lower()


def _map_columns(df: pd.DataFrame, overrides: dict[str, str], path: Path) -> dict[str, Any]:
    """Column of the table for each meaning of :data:`HEADER_ALIASES` (None where none)."""
    cols: dict[str, Any] = {}
    used: set = set()
    for meaning, col in overrides.items():
        if col not in df.columns:
            raise InputError(
                f"{path}: column {col!r} (given for {meaning!r}) is not in the "
                f"table; columns are {list(df.columns)}"
            )
        cols[meaning] = col
        used.add(col)
    norm = {c: _norm_header(c) for c in df.columns}
    for meaning, aliases in HEADER_ALIASES.items():
        if meaning in cols:
            continue
        cols[meaning] = None
        for alias in aliases:
            hit = next((c for c, n in norm.items() if n == alias and c not in used), None)
            if hit is not None:
                cols[meaning] = hit
                used.add(hit)
                break
    for meaning, prefixes in _PREFIX_ALIASES.items():  # 经度(GCJ02), 名称 Name, ...
        if cols.get(meaning) is not None:
            continue
        hit = next((c for c, n in norm.items() if c not in used and n.startswith(prefixes)), None)
        if hit is not None:
            cols[meaning] = hit
            used.add(hit)
    return cols


def _coordinates(
    df: pd.DataFrame, cols: dict, path: Path, rownum: np.ndarray, prof: Profile
) -> tuple[np.ndarray, np.ndarray]:
    def clean(s: pd.Series) -> pd.Series:
        return (
            s.astype(str)
            .map(lambda v: unicodedata.normalize("NFKC", v))
            .str.strip()
            .str.rstrip("°")
            .str.strip()
        )

    if cols["lon"] is not None and cols["lat"] is not None:
        lon_raw, lat_raw = df[cols["lon"]].astype(str), df[cols["lat"]].astype(str)
        shown = f"{cols['lon']}/{cols['lat']}"
    else:
        parts = clean(df[cols["lonlat"]]).str.split(
            r"\s*[,，;；\s]\s*", n=1, expand=True, regex=True
        )
        parts = parts.reindex(columns=[0, 1]).fillna("")
        lon_raw, lat_raw = parts[0], parts[1]
        shown = str(cols["lonlat"])
    lon = pd.to_numeric(clean(lon_raw), errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(clean(lat_raw), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        idx = np.flatnonzero(bad)
        where = "; ".join(
            f"row {rownum[i]}: {lon_raw.iloc[i]!r}, {lat_raw.iloc[i]!r}" for i in idx[:10]
        )
        more = f" (and {len(idx) - 10} more)" if len(idx) > 10 else ""
        raise InputError(
            f"{path}: non-numeric or missing coordinates ({shown}) in "
            f"{len(idx)} row(s): {where}{more}; expected decimal degrees such as "
            f"121.47, 31.23"
        )
    _check_swapped(lon, lat, prof, path, rownum)
    out = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if out.any():
        raise InputError(
            f"{path}: longitude/latitude out of range (|lon| ≤ 180, |lat| ≤ 90) in "
            f"rows {rownum[out][:10].tolist()}; are they projected metres? Convert "
            f"to degrees, or give a GeoPackage/shapefile with its CRS"
        )
    return lon, lat


def _check_swapped(
    lon: np.ndarray, lat: np.ndarray, prof: Profile, path: Path, rownum: np.ndarray
) -> None:
    if prof.region_bbox is None or len(lon) == 0:
        return
    x0, y0, x1, y1 = prof.region_bbox
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    swapped = ~inside & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
    if swapped.any():
        raise InputError(
            f"{path}: longitude and latitude look swapped in rows "
            f"{rownum[swapped][:10].tolist()} (longitude should be "
            f"~{(x0 + x1) / 2:.0f}, latitude ~{(y0 + y1) / 2:.0f} in "
            f"{prof.region_name or prof.id}); "
            f"name the columns with columns={{'lon': ..., 'lat': ...}}"
        )


def _warn_outside_region(
    lon: np.ndarray, lat: np.ndarray, prof: Profile, path: Path, rownum: np.ndarray, word: str
) -> list[int]:
    if prof.region_bbox is None or len(lon) == 0:
        return []
    x0, y0, x1, y1 = prof.region_bbox
    out = ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
    rows = [int(r) for r in rownum[out]]
    if rows:
        log.warning(
            "%s: %d %s(s) lie outside %s (profile %s): %ss %s; check the coordinates "
            "and the coordinate system",
            path.name,
            len(rows),
            word,
            prof.region_name or "the profile's region",
            prof.id,
            word,
            rows[:20],
        )
    return rows


def _check_ids(ids: pd.Series, col: str, path: Path, rownum: np.ndarray, word: str) -> None:
    ids = ids.astype(str).str.strip()
    dup = ids.duplicated(keep=False) & (ids != "")
    if not dup.any():
        return
    groups = {}
    for i in np.flatnonzero(dup.to_numpy()):
        groups.setdefault(ids.iloc[i], []).append(int(rownum[i]))
    text = "; ".join(
        f"{k!r} in {word}s {', '.join(map(str, v))}" for k, v in list(groups.items())[:10]
    )
    raise InputError(
        f"{path}: {len(groups)} duplicate id(s) in column {col!r}: {text}; ids "
        f"must be unique (remove the repeated {word}s or the id column)"
    )


def from_table(
    path: str | os.PathLike,
    coords: str = "wgs84",
    profile: str | Profile = "shanghai-2025",
    columns: dict | None = None,
    sheet: str | int | None = 0,
    *,
    net: Any = None,
) -> gpd.GeoDataFrame:
    """Facilities from a planner's table: CSV (UTF-8, BOM, GBK/GB18030), XLSX, GeoJSON/GPKG/SHP.

    Parameters
    ----------
    path : str or path-like
        ``.csv``/``.txt`` (comma- or tab-separated), ``.xlsx``, ``.geojson``/``.json``, ``.gpkg``
        or ``.shp``. A CSV's encoding is detected and reported (log and
        ``attrs["encoding"]``).
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of the table's longitude/latitude (Amap and Tencent: gcj02,
        Baidu: bd09; ``"WGS-84"``, ``"GCJ-02"``, ``"BD-09"`` accepted too). Converted to WGS-84
        with :mod:`lifecircle_geo.crs`. For GIS files: of the geometry (a projected CRS is
        simply reprojected).
    profile : str or Profile
        Classifies rows by their Amap type code, type text and, failing those, their name (see
        :func:`classify_record`); a profile's ``region_bbox`` is used to warn about points
        outside its region.
    columns : dict, optional
        Overrides of the column mapping, e.g. ``{"lon": "X坐标", "type": "设施类别"}``; keys are
        those of :data:`HEADER_ALIASES`: ``name``, ``type``, ``typecode``, ``lon``, ``lat``,
        ``lonlat`` (one "lon,lat" column), ``address``, ``capacity``, ``id``.
    sheet : str or int, optional
        Excel sheet.
    net : WalkNetwork, optional
        When given, the coordinates are checked against the street network with
        :func:`lifecircle_geo.offset.detect_offset`; a table whose points fit another system
        better logs a WARNING naming the likely system and the evidence. The result is kept in
        ``attrs["offset_check"]``.

    Returns
    -------
    GeoDataFrame
        WGS-84; one row per (table row, category). ``attrs``: ``unmatched`` (rows no rule
        matched: ``row``, ``name``, ``type``; row numbers as in the file, header = row 1),
        ``encoding`` (CSV), ``coords``, ``columns`` (the mapping used), ``outside_region`` (row
        numbers), ``offset_check``, ``sources``.

    Raises
    ------
    InputError
        Missing file or coordinate columns, non-numeric, missing, out-of-range or swapped
        coordinates, duplicate ids: each with the row numbers.

    Examples
    --------
    >>> from lifecircle_geo.datasets import get_path
    >>> fac = from_table(get_path("sample") / "facilities_gcj02.xlsx", coords="gcj02")
    >>> fac[["name", "category", "rule"]].iloc[0].tolist()
    ['云栖社区卫生服务站', 'health', 'type:社区卫生服务站']
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"facility table {p} does not exist")
    if p.is_dir():
        raise InputError(f"facility table {p} is a folder, expected a file")
    prof = load_profile(profile)
    system = lc_crs.canonical_system(coords)
    overrides = dict(columns or {})
    bad = set(overrides) - set(HEADER_ALIASES)
    if bad:
        raise InputError(
            f"unknown column mapping key(s) {sorted(bad)}; known: {sorted(HEADER_ALIASES)}"
        )
    suffix = p.suffix.lower()
    encoding = None
    geometry = None
    try:
        if suffix in (".csv", ".txt"):
            df, encoding = _read_csv(p)
            log.info("%s: read as %s text", p.name, encoding)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(p, sheet_name=sheet, dtype=str).fillna("")
        elif suffix in (".geojson", ".json", ".gpkg", ".shp"):
            gdf_in = gpd.read_file(p)
            geometry = gdf_in.geometry
            df = pd.DataFrame(gdf_in.drop(columns=gdf_in.geometry.name)).fillna("").astype(str)
        else:
            raise InputError(
                f"{p}: unknown table type {suffix!r}; expected .csv, .xlsx, .geojson, .gpkg or .shp"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{p}: could not be read as a table ({type(exc).__name__}: {exc})"
        ) from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    word = "feature" if geometry is not None else "row"
    rownum = np.arange(len(df)) + (1 if geometry is not None else 2)  # tables: header = row 1
    if geometry is None:  # blank lines at the end of a sheet are not facilities
        blank = (df.astype(str).apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
        if blank.any():
            log.debug(
                "%s: %d blank row(s) skipped: %s", p.name, blank.sum(), rownum[blank][:20].tolist()
            )
            df, rownum = df[~blank].reset_index(drop=True), rownum[~blank]
    cols = _map_columns(df, overrides, p)
    if geometry is None and (cols["lon"] is None or cols["lat"] is None) and cols["lonlat"] is None:
        missing = [m for m in ("lon", "lat") if cols[m] is None]
        raise InputError(
            f"{p}: no {' and no '.join(missing)} column found; expected headers such as "
            f"经度/lon/lng and 纬度/lat, or one 经纬度/location column (columns are "
            f"{list(df.columns)}); pass columns={{'lon': ..., 'lat': ...}} to name them"
        )
    if cols["name"] is None and cols["type"] is None and cols["typecode"] is None:
        raise InputError(
            f"{p}: no name (名称), type (类型) or type code (类型编码) column; "
            f"columns are {list(df.columns)}; pass columns={{'name': ..., "
            f"'type': ...}} to name them"
        )

    if geometry is not None:
        geoms, lon_raw, lat_raw = _gis_geometry(geometry, system, p, rownum)
    else:
        lon_raw, lat_raw = _coordinates(df, cols, p, rownum, prof)
        geoms = None
    if cols["id"] is not None:
        _check_ids(df[cols["id"]], cols["id"], p, rownum, word)
        fids = [
            f"{p.stem}/{str(x).strip() or f'{word}{r}'}"
            for x, r in zip(df[cols["id"]], rownum, strict=True)
        ]
    else:
        fids = [f"{p.stem}/{word}{r}" for r in rownum]
    lon, lat = lc_crs.convert(lon_raw, lat_raw, system, "wgs84")
    if geoms is None:
        geoms = shapely.points(lon, lat)
    outside = _warn_outside_region(lon, lat, prof, p, rownum, word)
    offset = None
    if net is not None:
        offset = detect_offset(np.column_stack([lon_raw, lat_raw]), net, labelled=system)
        if offset.warn:
            log.warning("%s: %s", p.name, offset.message)
        else:
            log.info("%s: %s", p.name, offset.message)

    def column(meaning: str) -> np.ndarray:
        c = cols.get(meaning)
        if c is None:
            return np.full(len(df), "", dtype=object)
        return df[c].astype(str).str.strip().to_numpy(dtype=object)

    names, types, codes = column("name"), column("type"), column("typecode")
    caps = (
        df[cols["capacity"]].map(_number).to_numpy()
        if cols["capacity"] is not None
        else np.full(len(df), np.nan)
    )
    rows, geoms_out, unmatched = [], [], []
    for i in range(len(df)):
        hits = classify_record(names[i], types[i], codes[i], prof)
        if not hits:
            unmatched.append({"row": int(rownum[i]), "name": names[i], "type": types[i]})
            continue
        for cat_id, ftype, rule in hits:
            rows.append(
                {
                    "facility_id": fids[i],
                    "name": names[i],
                    "category": cat_id,
                    "facility_type": ftype,
                    "source": f"table:{p.name}",
                    "rule": rule,
                    "capacity": caps[i],
                }
            )
            geoms_out.append(geoms[i])
    if unmatched:
        log.warning(
            "%s: %d %s(s) matched no category of %s and are left out: %ss %s; see "
            "attrs['unmatched'] or pass columns={'type': ...}",
            p.name,
            len(unmatched),
            word,
            prof.id,
            word,
            [u["row"] for u in unmatched][:20],
        )
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=geoms_out, crs=4326)
    gdf["entrances"] = None
    gdf.attrs.update(
        unmatched=unmatched,
        encoding=encoding,
        coords=system,
        columns={k: v for k, v in cols.items() if v is not None},
        outside_region=outside,
        offset_check=offset.as_dict() if offset is not None else None,
        sources=[str(p)],
        profile=prof.id,
    )
    log.info(
        "%s: %d of %d %ss matched (%d facility rows), coordinates %s → WGS-84",
        p.name,
        len(df) - len(unmatched),
        len(df),
        word,
        len(gdf),
        lc_crs.SYSTEM_LABELS[system],
    )
    return gdf


def _gis_geometry(
    geometry: gpd.GeoSeries, system: str, path: Path, rownum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS-84 geometries of a GIS file, and the raw lon/lat of a point on each."""
    missing = (geometry.isna() | geometry.is_empty).to_numpy()
    if missing.any():
        raise InputError(f"{path}: features {rownum[missing][:10].tolist()} have no geometry")
    if geometry.crs is not None and not geometry.crs.is_geographic:
        if system != "wgs84":
            raise InputError(
                f"{path}: is in the projected CRS {geometry.crs.to_string()}, so "
                f"its coordinates cannot be {lc_crs.SYSTEM_LABELS[system]}; "
                f"use coords='wgs84'"
            )
        geometry = geometry.to_crs(4326)
    raw = geometry.to_numpy()
    kinds = shapely.get_type_id(raw)
    pts = np.where(kinds == 0, raw, shapely.point_on_surface(raw))
    lon_raw, lat_raw = shapely.get_x(pts), shapely.get_y(pts)
    geoms = raw if system == "wgs84" else lc_crs.convert_geometry(raw, system, "wgs84")
    return np.asarray(geoms, dtype=object), lon_raw, lat_raw


# ---------------------------------------------------------------------- merging
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _norm_name(text: object) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def _grams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def name_similarity_score(
    a: str | None, b: str | None, ignore: tuple[str, ...] | list[str] = ()
) -> float | None:
    """How alike two facility names are, 0..1; None when either name is empty.

    Names are normalized (NFKC, lower case, no spaces or punctuation). Words in ``ignore``
    (usually the facility types, e.g. 社区卫生服务站) are removed first, so that two different
    clinics are not alike just because both are called ``…社区卫生服务站``; when that leaves
    one name empty, the full names are compared. One name inside the other scores 1.0;
    otherwise the Jaccard similarity of their character bigrams, or the
    :class:`difflib.SequenceMatcher` ratio when that is higher for names without bigrams.

    Examples
    --------
    >>> name_similarity_score("示例街道社区卫生服务中心", "示例社区卫生服务中心",
    ...                       ["社区卫生服务中心"])
    1.0
    >>> name_similarity_score("云栖社区卫生服务站", "鹿鸣社区卫生服务站", ["社区卫生服务站"])
    0.0
    >>> round(name_similarity_score("全家便利店", "罗森便利店"), 2)
    0.33
    >>> name_similarity_score("", "示例公园") is None
    True
    """
    na, nb = _norm_name(a), _norm_name(b)
    if not na or not nb:
        return None
    if na == nb:
        return 1.0
    words = sorted({_norm_name(w) for w in ignore if _norm_name(w)}, key=len, reverse=True)
    sa, sb = na, nb
    for w in words:
        sa, sb = sa.replace(w, ""), sb.replace(w, "")
    if not sa or not sb:
        sa, sb = na, nb
    if sa == sb or sa in sb or sb in sa:
        return 1.0
    ga, gb = _grams(sa), _grams(sb)
    score = len(ga & gb) / len(ga | gb)
    if min(len(sa), len(sb)) < 2:
        score = max(score, difflib.SequenceMatcher(None, sa, sb).ratio())
    return float(score)


def _types_alike(a: str, b: str) -> bool:
    a, b = _norm_name(a), _norm_name(b)
    if not a or not b or a == b or a in b or b in a:
        return True
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) >= 0.5


def merge(
    *tables: gpd.GeoDataFrame,
    dedupe_m: float | None = 50.0,
    name_similarity: float = 0.5,
    match_type: bool = True,
    within_source: bool = True,
) -> gpd.GeoDataFrame:
    """One facility list from several sources, with the same facility seen twice kept once.

    Two rows are taken for the same facility when they have the same category, alike facility
    types (equal, one inside the other, or differing only in wording: character-bigram
    similarity ≥ 0.5; skip with ``match_type=False``), lie within ``dedupe_m`` metres of each
    other (geometry to geometry, so a point inside a park polygon is at 0 m), and have similar
    names (:func:`name_similarity_score` ≥ ``name_similarity``; when either name is empty,
    distance alone decides). Rows of the same feature (same ``facility_id``) are never merged.
    Groups are formed transitively.

    The kept row is the first polygon of the group, else the first row in argument order (so
    pass the most trusted source first). It gets the group's first known capacity, name and
    entrances, and its provenance: ``sources`` (the distinct sources, ``;``-separated),
    ``merged_ids`` (every ``facility_id`` of the group) and ``duplicates`` (how many rows were
    folded into it).

    Parameters
    ----------
    *tables : GeoDataFrame
        Facility tables (any CRS; WGS-84 out). None and empty tables are skipped.
    dedupe_m : float or None
        Distance in metres; ``None`` or 0: concatenate only.
    name_similarity : float
        Least name similarity (0..1) for two rows to be one facility.
    match_type : bool
        Require alike facility types (besides the same category).
    within_source : bool
        Also merge duplicates within one source (an OSM node and a building for the same
        kindergarten); False: only across sources.

    Returns
    -------
    GeoDataFrame
        WGS-84; the facility columns plus ``sources``, ``merged_ids``, ``duplicates``;
        ``attrs["sources"]`` lists the input files, ``attrs["merge"]`` counts what was merged.

    Examples
    --------
    >>> import shapely
    >>> a = gpd.GeoDataFrame({"facility_id": ["osm/node/1"], "name": ["桂香幼儿园"],
    ...     "category": ["kindergarten"], "facility_type": ["幼儿园"], "source": ["osm"],
    ...     "rule": ["osm:amenity=kindergarten"], "capacity": [float("nan")]},
    ...     geometry=[shapely.Point(121.40, 31.24)], crs=4326)
    >>> b = a.assign(facility_id=["t/row2"], name=["桂香幼儿园(东园)"], source=["table:t.xlsx"],
    ...     capacity=[180.0], geometry=[shapely.Point(121.4002, 31.2401)])
    >>> m = merge(a, b)
    >>> m[["facility_id", "sources", "duplicates", "capacity"]].values.tolist()
    [['osm/node/1', 'osm;table:t.xlsx', 1, 180.0]]
    """
    frames = [t for t in tables if t is not None and len(t)]
    sources = [s for t in tables if t is not None for s in t.attrs.get("sources", [])]
    if not frames:
        out = gpd.GeoDataFrame(
            columns=[*COLUMNS, "entrances", "sources", "merged_ids", "duplicates"],
            geometry=[],
            crs=4326,
        )
        out.attrs.update(sources=sources, merge={"rows_in": 0, "rows_out": 0, "merged": 0})
        return out
    parts = []
    for t in frames:
        t = t.to_crs(4326) if t.crs is not None else t.set_crs(4326)
        parts.append(pd.DataFrame(t))
    out = pd.concat(parts, ignore_index=True)
    for col in COLUMNS:
        if col not in out.columns:
            out[col] = np.nan if col == "capacity" else ""
    if "entrances" not in out.columns:
        out["entrances"] = None
    out["entrances"] = out["entrances"].astype(object).where(out["entrances"].notna(), None)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    out["sources"] = out["source"].astype(str)
    out["merged_ids"] = out["facility_id"].astype(str)
    out["duplicates"] = 0
    n_in = len(out)
    if dedupe_m and n_in > 1:
        out = _dedupe(out, float(dedupe_m), name_similarity, match_type, within_source)
    out.attrs.update(
        sources=sources,
        merge={
            "rows_in": n_in,
            "rows_out": len(out),
            "merged": n_in - len(out),
            "dedupe_m": dedupe_m,
            "name_similarity": name_similarity,
        },
    )
    return out


def _dedupe(
    out: gpd.GeoDataFrame, dedupe_m: float, name_sim: float, match_type: bool, within_source: bool
) -> gpd.GeoDataFrame:
    metric = out.geometry.to_crs(lc_crs.utm_crs_for(out)).to_numpy()
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="dwithin", distance=dedupe_m)
    keep = left < right
    left, right = left[keep], right[keep]
    cat = out["category"].to_numpy()
    fid = out["facility_id"].to_numpy()
    src = out["source"].to_numpy()
    ftype = out["facility_type"].astype(str).to_numpy()
    name = out["name"].to_numpy()
    parent = np.arange(len(out))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if cat[i] != cat[j] or fid[i] == fid[j]:
            continue
        if not within_source and src[i] == src[j]:
            continue
        if match_type and not _types_alike(ftype[i], ftype[j]):
            continue
        score = name_similarity_score(name[i], name[j], (ftype[i], ftype[j]))
        if score is not None and score < name_sim:
            continue
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(out))])
    if (roots == np.arange(len(out))).all():
        return out
    is_area = out.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    drop = np.zeros(len(out), dtype=bool)
    out = out.copy()
    n_groups = 0
    for root in np.unique(roots):
        members = np.flatnonzero(roots == root)
        if len(members) == 1:
            continue
        n_groups += 1
        areas = members[is_area[members]]
        k = int(areas[0]) if len(areas) else int(members[0])
        order = [k, *[int(m) for m in members if m != k]]
        drop[[m for m in order[1:]]] = True
        srcs = list(dict.fromkeys(s for m in order for s in str(out.at[m, "sources"]).split(";")))
        ids = list(dict.fromkeys(s for m in order for s in str(out.at[m, "merged_ids"]).split(";")))
        out.at[k, "sources"] = ";".join(srcs)
        out.at[k, "merged_ids"] = ";".join(ids)
        out.at[k, "duplicates"] = int(sum(int(out.at[m, "duplicates"]) + 1 for m in order[1:]))
        for col, empty in (
            ("capacity", lambda v: v is None or pd.isna(v)),
            ("name", lambda v: not str(v or "").strip()),
            ("entrances", lambda v: v is None),
        ):
            if empty(out.at[k, col]):
                for m in order[1:]:
                    if not empty(out.at[m, col]):
                        out.at[k, col] = out.at[m, col]
                        break
    log.info(
        "merge: %d duplicate row(s) folded into %d facilities (within %g m, name similarity ≥ %g)",
        int(drop.sum()),
        n_groups,
        dedupe_m,
        name_sim,
    )
    return out[~drop].reset_index(drop=True)


# ---------------------------------------------------------------------------- on a network
def to_crs(facilities: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Reproject the facility table to ``crs``, its ``entrances`` column too.

    ``GeoDataFrame.to_crs`` reprojects only the active geometry; a facility's mapped entrances
    (a second geometry column) must follow, or a table fed back would mix coordinate systems.

    Parameters
    ----------
    facilities : GeoDataFrame
        From :func:`from_osm`, :func:`from_table` or :func:`merge`.
    crs : CRS-like
        Target coordinate system.

    Returns
    -------
    GeoDataFrame
        A copy in ``crs``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> fac = gpd.GeoDataFrame({"entrances": [shapely.MultiPoint([(121.5, 31.2)])]},
    ...                        geometry=[shapely.box(121.5, 31.2, 121.501, 31.201)], crs=4326)
    >>> out = to_crs(fac, 32651)
    >>> round(out["entrances"].iloc[0].geoms[0].x) == round(out.geometry.iloc[0].bounds[0])
    True
    """
    out = facilities.to_crs(crs)
    if "entrances" in out.columns and out["entrances"].notna().any():
        ent = gpd.GeoSeries(facilities["entrances"].to_numpy(), crs=facilities.crs)
        out["entrances"] = ent.to_crs(crs).to_numpy()
    return out


def access_points(
    facilities: gpd.GeoDataFrame, spacing_m: float = 25.0
) -> tuple[np.ndarray, np.ndarray]:
    """Points from which each facility is reached, and the facility (row) of each.

    A point facility is its own access point; a polygon or line is reached through its mapped
    ``entrances`` or, with none, points every ``spacing_m`` along its boundary (at most about
    200 per facility). Facilities without geometry have none.

    Parameters
    ----------
    facilities : GeoDataFrame
        In a metric CRS (``spacing_m`` is in its units).
    spacing_m : float
        Spacing of boundary points of polygons without entrances.

    Returns
    -------
    points : ndarray of shapely Points
    owner : ndarray of int64
        Row position of each point's facility.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> fac = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.box(10, 0, 60, 50)],
    ...                        crs=32651)
    >>> pts, owner = access_points(fac, spacing_m=50)
    >>> len(pts), owner.tolist()[:2]
    (6, [0, 1])
    """
    geoms = facilities.geometry.to_numpy()
    if "entrances" in facilities.columns:
        entrances = facilities["entrances"].to_numpy()
    else:
        entrances = np.full(len(facilities), None, dtype=object)
    pts, owner = [], []
    for i, (g, ent) in enumerate(zip(geoms, entrances, strict=True)):
        if g is None or g.is_empty:
            continue
        if g.geom_type == "Point":
            pts.append(g)
            owner.append(i)
            continue
        if ent is not None and not ent.is_empty:
            cand = list(getattr(ent, "geoms", [ent]))
        else:
            ring = g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g
            coords = shapely.get_coordinates(shapely.segmentize(ring, spacing_m))
            step = max(1, len(coords) // 200)
            cand = list(shapely.points(coords[::step]))
        pts.extend(cand)
        owner.extend([i] * len(cand))
    return np.asarray(pts, dtype=object), np.asarray(owner, dtype=np.int64)
