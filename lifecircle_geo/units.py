"""Planning units: community basic units (社区基本单元) nested in 街镇 and districts (区).

The real unit boundaries are not public: :func:`load` reads them when a planner has them,
:func:`from_parts` builds them from 居委/村 polygons, and :func:`generate` builds plausible
ones (road/river-bounded blocks merged to a target population, nested in the 街镇) from OSM
data when not. :func:`crosswalk` reconciles two polygon layers (governance grids and basic
units, 多格合一) into one partition with area and population shares.

Checks at the door
------------------
:func:`prepare` (called by :func:`load`, :func:`from_parts`, :func:`generate` and
:func:`lifecircle_geo.analyze`) names every problem it finds:

* **column names** are matched case-insensitively to the fields and their aliases
  (``单元编号``, ``街镇代码`` ...); names cut to 10 bytes by the shapefile format
  (``jiezhen_co``, ``district_c``, ``JIEZHEN_NA``, ``街镇代``) are recognised, and a column
  that only looks like a field (``jiezhen_c1``) is reported with the ``columns=`` fix;
* units **without an id, without geometry or with a non-polygon geometry** are refused, named;
* **invalid geometries** (self-intersections ...) are repaired with ``make_valid``; each is
  named with the reason and the area before and after;
* **overlapping units** (overlap above ``overlap_tolerance_m2``) are named with the pairs and
  the overlap areas and resolved by one rule: the overlap stays with the unit with the lower
  id (ids compared as natural sort keys, so ``"9" < "10"``), except that a unit lying
  entirely inside another (an enclave) keeps its area and is cut out of the other; a unit
  whose geometry **duplicates** another's (each covers ≥ 99 % of the other) is dropped, the
  lower id kept; with ``strict=True`` any of these is an error instead. Every message is
  also kept in ``units.attrs["unit_checks"]``.

Generated units are never slivers: a unit below ``min_population`` residents joins a
neighbour (see :func:`generate`, step 5).

Examples
--------
>>> import lifecircle_geo as lc
>>> units = lc.units.load(lc.datasets.get_path("sample") / "units.geojson")
>>> units.columns.tolist()[:3]
['unit_id', 'unit_name', 'jiezhen_code']
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import InputError
from .standards import AREA_ALIASES

if TYPE_CHECKING:
    from pyproj import CRS, Transformer

log = logging.getLogger(__name__)

__all__ = [
    "DUPLICATE_SHARE",
    "UNIT_COLUMNS",
    "crosswalk",
    "from_parts",
    "generate",
    "load",
    "prepare",
]

#: columns every unit table has after :func:`load`
UNIT_COLUMNS = [
    "unit_id",
    "unit_name",
    "jiezhen_code",
    "jiezhen_name",
    "district_code",
    "area_type",
]

#: two units each covering at least this share of the other are duplicates
DUPLICATE_SHARE = 0.99

_ALIASES = {
    "unit_id": ("unit_id", "单元编号", "单元代码", "单元编码", "unitid", "unit_code", "id", "code"),
    "unit_name": ("unit_name", "单元名称", "unitname", "unit_nm", "name", "名称"),
    "jiezhen_code": ("jiezhen_code", "街镇代码", "街镇编码", "town_code", "jz_code"),
    "jiezhen_name": ("jiezhen_name", "街镇", "街镇名称", "town_name", "jz_name"),
    "district_code": ("district_code", "区代码", "区编码", "county_code"),
    "area_type": ("area_type", "地区类型", "区域类型"),
}

#: a shapefile (dBASE) field name holds at most this many bytes
_DBF_NAME_BYTES = 10


def _norm(name: object) -> str:
    """Column name for matching: lower case, without ``_``, ``-``, spaces."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def _truncated(alias: str) -> str | None:
    """Return what a shapefile writer leaves of ``alias`` (10 bytes), None if it fits."""
    raw = alias.encode("utf-8")
    if len(raw) <= _DBF_NAME_BYTES:
        return None
    return raw[:_DBF_NAME_BYTES].decode("utf-8", errors="ignore").lower()


def _match_columns(
    columns: list[Hashable], fields: dict[str, tuple[str, ...]], source: str
) -> tuple[dict[str, str], list[str]]:
    """Find each field's column: exact, case/underscore-insensitive, or shapefile-truncated.

    Returns ``({field: column}, [messages about columns that only look like a field])``.
    """
    names = [c for c in columns if isinstance(c, str)]
    found: dict[str, str] = {}
    for field, aliases in fields.items():
        if field in names:
            found[field] = field
            continue
        for alias in aliases:
            hit = next((c for c in names if _norm(c) == _norm(alias)), None)
            if hit is not None:
                found[field] = hit
                break
        if field in found:
            continue
        for alias in aliases:
            cut = _truncated(alias)
            hit = next((c for c in names if cut is not None and c.lower() == cut), None)
            if hit is not None:
                found[field] = hit
                log.info(
                    "%s: column %r read as %s (%r cut to %d bytes by the shapefile format)",
                    source,
                    hit,
                    field,
                    alias,
                    _DBF_NAME_BYTES,
                )
                break
    used = set(found.values())
    notes = []
    for field, aliases in fields.items():
        if field in found:
            continue
        keys = [_norm(a) for a in aliases if len(_norm(a)) >= 4]
        for c in names:
            if c in used:
                continue
            n = _norm(c)
            prefix = len(n) >= 6 and any(k.startswith(n[:-1]) for k in keys)
            if prefix or difflib.get_close_matches(n, keys, n=1, cutoff=0.8):
                notes.append(
                    f"{source}: column {c!r} looks like {field} but was not used; pass "
                    f"columns={{{field!r}: {c!r}}} if it is"
                )
                break
    return found, notes


def _read_vector(path: str | os.PathLike, layer: str | None, what: str) -> gpd.GeoDataFrame:
    """Read a vector file, repairing shapefile field names cut inside a UTF-8 character.

    A Chinese field name longer than 10 bytes is cut mid-character by shapefile writers, which
    makes the file unreadable as UTF-8: it is read again byte-wise and the names repaired.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} file {p} does not exist")
    kwargs = {"layer": layer} if layer else {}
    try:
        return gpd.read_file(p, **kwargs)
    except UnicodeDecodeError as exc:
        if p.suffix.lower() not in (".shp", ".dbf", ".zip"):
            raise InputError(f"{p}: text is not UTF-8 ({exc})") from None
    except Exception as exc:
        raise InputError(f"{p}: could not be read as a vector file ({exc})") from None
    try:
        gdf = gpd.read_file(p, encoding="latin1", **kwargs)
    except Exception as exc:
        raise InputError(f"{p}: could not be read as a vector file ({exc})") from None

    def fix(text: object) -> object:
        if not isinstance(text, str):
            return text
        try:
            return text.encode("latin1").decode("utf-8", errors="ignore")
        except UnicodeEncodeError:
            return text

    renamed = {c: fix(c) for c in gdf.columns if c != gdf.geometry.name}
    gdf = gdf.rename(columns=renamed)
    for c in renamed.values():
        if pd.api.types.is_object_dtype(gdf[c]) or pd.api.types.is_string_dtype(gdf[c]):
            gdf[c] = gdf[c].map(fix)
    log.warning(
        "%s: field names cut inside a character (shapefile 10-byte limit) were repaired: %s",
        p.name,
        [v for k, v in renamed.items() if k != v],
    )
    return gdf


def _id_key(value: object) -> tuple:
    """Natural sort key of an id: ``"9" < "10"``, ``"A2" < "A10"``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value)))


def _metric_geoms(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Geometries in metres: as they are in a projected CRS, else in the UTM zone."""
    if gdf.crs.is_projected:
        return np.asarray(gdf.geometry.to_numpy(), dtype=object)
    return np.asarray(gdf.geometry.to_crs(_utm_of(gdf)).to_numpy(), dtype=object)


def _overlap_pairs(metric: np.ndarray, tolerance_m2: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, overlap m²)``, ``i < j``, whose interiors overlap by more than tolerance."""
    if len(metric) < 2:
        return []
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="intersects")
    # GEOS coverage validation (fast edge matching) flags every polygon that may overlap a
    # neighbour; only pairs with a flagged polygon need the (slow) intersection
    flagged = np.ones(len(metric), dtype=bool)
    if hasattr(shapely, "coverage_invalid_edges"):
        try:
            flagged = ~shapely.is_empty(shapely.coverage_invalid_edges(metric))
        except (shapely.errors.GEOSException, ValueError, TypeError):  # pragma: no cover
            pass
    keep = (left < right) & (flagged[left] | flagged[right])
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    area = shapely.area(shapely.intersection(metric[left], metric[right]))
    big = area > tolerance_m2
    return [
        (int(i), int(j), float(a)) for i, j, a in zip(left[big], right[big], area[big], strict=True)
    ]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygon parts of a geometry (a repaired polygon may carry stray lines)."""
    parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
    if not parts:
        return shapely.Polygon()
    if len(parts) == 1 and shapely.get_type_id(geom) in (3, 6):
        return geom
    return shapely.union_all(np.asarray(parts, dtype=object))


def _resolve_overlaps(
    geoms: np.ndarray,
    metric: np.ndarray,
    ids: list[str],
    source: str,
    tolerance_m2: float,
    strict: bool,
    what: str = "units",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Apply the overlap rule of the module docstring.

    Returns ``(new geometries, keep mask, messages)``; geometries are those of ``geoms``
    (any CRS) with the overlaps removed, ``metric`` gives the areas.
    """
    pairs = _overlap_pairs(metric, tolerance_m2)
    out = geoms.copy()
    keep = np.ones(len(geoms), dtype=bool)
    if not pairs:
        return out, keep, []
    area = shapely.area(metric)
    dups, enclaves, plain = [], [], []
    for i, j, a in pairs:
        lo, hi = (i, j) if _id_key(ids[i]) <= _id_key(ids[j]) else (j, i)
        if a >= DUPLICATE_SHARE * area[lo] and a >= DUPLICATE_SHARE * area[hi]:
            dups.append((lo, hi, a))
    dropped = {hi for _, hi, _ in dups}
    for i, j, a in pairs:
        lo, hi = (i, j) if _id_key(ids[i]) <= _id_key(ids[j]) else (j, i)
        if lo in dropped or hi in dropped:
            continue  # a duplicate's overlaps are its original's
        if a >= DUPLICATE_SHARE * min(area[i], area[j]):
            inner, outer = (i, j) if area[i] < area[j] else (j, i)
            enclaves.append((outer, inner, a))
        else:
            plain.append((lo, hi, a))
    msgs = [
        f"{source}: unit {ids[hi]!r} has the same geometry as unit {ids[lo]!r} "
        f"(overlap {a:,.0f} m²; a copy under a new id?)"
        for lo, hi, a in dups
    ]
    plain.sort(key=lambda t: -t[2])
    listed = ", ".join(f"{ids[lo]!r}/{ids[hi]!r} {a:,.0f} m²" for lo, hi, a in plain[:10])
    if plain:
        more = (
            f" ... (largest first; {sum(t[2] for t in plain):,.0f} m² in all)"
            if len(plain) > 10
            else ""
        )
        msgs.append(f"{source}: {len(plain)} pair(s) of overlapping {what}: {listed}{more}")
    msgs += [
        f"{source}: unit {ids[inner]!r} lies inside unit {ids[outer]!r} (overlap {a:,.0f} m²)"
        for outer, inner, a in enclaves
    ]
    if strict:
        raise InputError("; ".join(msgs) + " (strict: overlapping units refused)")
    for _, hi, _ in dups:
        keep[hi] = False
    for lo, hi, _ in plain:
        if keep[hi] and keep[lo]:
            out[hi] = shapely.difference(out[hi], geoms[lo])
    for outer, inner, _ in enclaves:
        if keep[inner] and keep[outer]:
            out[outer] = shapely.difference(out[outer], geoms[inner])
    for k in np.flatnonzero(keep):
        out[k] = _polygonal(out[k])
        if shapely.is_empty(out[k]):
            keep[k] = False
            msgs.append(f"{source}: unit {ids[k]!r} is covered by other units entirely")
    if dups:
        msgs.append(
            f"{source}: dropped duplicate unit(s) {[ids[hi] for _, hi, _ in dups]} "
            "(the lower id is kept)"
        )
    if plain:
        msgs.append(f"{source}: each overlap was left to the unit with the lower id")
    if enclaves:
        msgs.append(f"{source}: enclosed units were cut out of the units around them")
    return out, keep, msgs


def load(
    path: str | os.PathLike,
    layer: str | None = None,
    columns: dict | None = None,
    *,
    strict: bool = False,
    overlap_tolerance_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Read basic units from GeoJSON, GeoPackage or Shapefile and check them.

    Parameters
    ----------
    path : str or path-like
        The units file.
    layer : str, optional
        Layer of a multi-layer file.
    columns : dict, optional
        Which column holds each field, e.g. ``{"unit_id": "DYBM", "unit_name": "DYMC"}``.
    strict : bool
        Refuse overlapping or duplicated units instead of resolving them (see :func:`prepare`).
    overlap_tolerance_m2 : float
        Overlaps up to this area (digitising noise) are ignored.

    Returns
    -------
    GeoDataFrame
        With :data:`UNIT_COLUMNS` (``unit_name`` defaults to ``unit_id``; missing hierarchy
        fields are empty text; ``area_type`` empty means the profile's default, 新市镇 is read
        as 其他地区) plus every other column of the file.

    Raises
    ------
    InputError
        Missing or unreadable file, no CRS, no ``unit_id`` column, missing or duplicate ids,
        empty or non-polygon geometries, overlaps when ``strict``.

    Examples
    --------
    >>> path = lc.datasets.get_path("sample") / "units.geojson"
    >>> len(lc.units.load(path, strict=True))
    5
    """
    p = Path(path)
    gdf = _read_vector(p, layer, "units")
    return prepare(
        gdf,
        source=p.name,
        columns=columns,
        strict=strict,
        overlap_tolerance_m2=overlap_tolerance_m2,
    )


def prepare(
    gdf: gpd.GeoDataFrame,
    source: str = "units",
    columns: dict | None = None,
    *,
    strict: bool = False,
    overlap_tolerance_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Check and complete a unit GeoDataFrame.

    Parameters
    ----------
    gdf : GeoDataFrame
        Unit polygons with an id column (``unit_id`` or an alias).
    source : str
        Name used in messages (a file name).
    columns : dict, optional
        Which column holds each field (see :func:`load`).
    strict : bool
        Refuse overlapping or duplicated units instead of resolving them.
    overlap_tolerance_m2 : float
        Overlaps up to this area (digitising noise) are ignored.

    Returns
    -------
    GeoDataFrame
        As :func:`load`; ``attrs["unit_checks"]`` lists the messages of the checks (also
        logged as warnings): repairs, overlaps, duplicates, columns that look like a field.

    Raises
    ------
    InputError
        See :func:`load`.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> two = gpd.GeoDataFrame({"unit_id": ["2", "1"]}, crs=32651,
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(50, 0, 150, 100)])
    >>> units = lc.units.prepare(two)  # unit 1 keeps the 50 m × 100 m overlap
    >>> units.set_index("unit_id").area.to_dict()
    {'2': 5000.0, '1': 10000.0}
    >>> units.attrs["unit_checks"][0]
    "units: 1 pair(s) of overlapping units: '1'/'2' 5,000 m²"
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{source}: units must be a GeoDataFrame, not {type(gdf).__name__}")
    if gdf.crs is None:
        raise InputError(f"{source}: units have no CRS")
    gdf = gdf.copy()
    gdf.attrs = {}
    checks: list[str] = []
    columns = dict(columns or {})
    for field, col in columns.items():
        if field not in _ALIASES:
            raise InputError(f"{source}: columns= names unknown field {field!r}")
        if col not in gdf.columns:
            raise InputError(f"{source}: column {col!r} for {field} is not in the file")
    found, notes = _match_columns(
        list(gdf.columns), {f: a for f, a in _ALIASES.items() if f not in columns}, source
    )
    found.update(columns)
    for field, col in found.items():
        if col != field:
            gdf[field] = gdf[col]
    for note in notes:
        log.warning("%s", note)
    checks += notes
    if "unit_id" not in gdf.columns:
        raise InputError(
            f"{source}: no unit_id column (or 单元编号); columns are "
            f"{[c for c in gdf.columns if c != gdf.geometry.name]}"
        )
    gdf = gdf.reset_index(drop=True)
    ids = gdf["unit_id"]
    no_id = ids.isna() | (ids.astype(str).str.strip() == "")
    if no_id.any():
        raise InputError(
            f"{source}: features {(np.flatnonzero(no_id) + 1).tolist()[:10]} (1-based) "
            "have no unit_id"
        )
    # 310105099001.0 from a numeric column read as float is the id 310105099001
    if ids.dtype.kind == "f" and (ids == ids.round()).all():
        ids = ids.astype("int64")
    gdf["unit_id"] = ids.astype(str).str.strip()
    dup = gdf["unit_id"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            f"{source}: duplicate unit_id values {sorted(set(gdf.loc[dup, 'unit_id']))[:10]}"
        )
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        raise InputError(
            f"{source}: units {gdf.loc[empty, 'unit_id'].tolist()[:10]} have no geometry "
            "(null or empty)"
        )
    kind = geom.geom_type
    bad_kind = ~kind.isin(["Polygon", "MultiPolygon", "GeometryCollection"])
    if bad_kind.any():
        shown = [f"{u} ({k})" for u, k in zip(gdf.unit_id[bad_kind], kind[bad_kind], strict=True)]
        raise InputError(f"{source}: units {shown[:10]} are not polygons")
    if "unit_name" not in gdf.columns:
        gdf["unit_name"] = gdf["unit_id"]
    gdf["unit_name"] = gdf["unit_name"].where(gdf["unit_name"].notna(), gdf["unit_id"])
    gdf["unit_name"] = gdf["unit_name"].astype(str)
    for field in ("jiezhen_code", "jiezhen_name", "district_code", "area_type"):
        if field not in gdf.columns:
            gdf[field] = ""
        gdf[field] = gdf[field].fillna("").astype(str)
    # an older area-type name (新市镇) means its area type (其他地区)
    gdf["area_type"] = gdf["area_type"].str.strip().replace(AREA_ALIASES)
    geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
    invalid = ~shapely.is_valid(geoms) | (kind == "GeometryCollection").to_numpy()
    if invalid.any():
        before = shapely.area(_metric_geoms(gdf.geometry[invalid]))
        fixed = np.asarray(
            [_polygonal(shapely.make_valid(g)) for g in geoms[invalid]], dtype=object
        )
        after = shapely.area(_metric_geoms(gpd.GeoSeries(fixed, crs=gdf.crs)))
        for k, i in enumerate(np.flatnonzero(invalid)):
            reason = (
                shapely.is_valid_reason(geoms[i])
                if not shapely.is_valid(geoms[i])
                else "a collection of mixed geometries"
            )
            msg = (
                f"{source}: unit {gdf.unit_id.iat[i]!r} ({gdf.unit_name.iat[i]}) had an invalid "
                f"geometry ({reason}): repaired, area {before[k]:,.0f} m² → {after[k]:,.0f} m²"
            )
            log.warning("%s", msg)
            checks.append(msg)
        geoms[invalid] = fixed
        lost = [gdf.unit_id.iat[i] for i in np.flatnonzero(invalid) if shapely.is_empty(geoms[i])]
        if lost:
            raise InputError(f"{source}: units {lost[:10]} have no area left once repaired")
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    metric = _metric_geoms(gdf)
    geoms, keep, msgs = _resolve_overlaps(
        geoms, metric, gdf.unit_id.tolist(), source, overlap_tolerance_m2, strict
    )
    for msg in msgs:
        log.warning("%s", msg)
    checks += msgs
    if msgs:
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
        gdf = gdf[keep].reset_index(drop=True)
    rest = [c for c in gdf.columns if c not in UNIT_COLUMNS and c != gdf.geometry.name]
    out = gdf[[*UNIT_COLUMNS, *rest, gdf.geometry.name]]
    out.attrs["unit_checks"] = checks
    return out


# --------------------------------------------------------------------------------------------
# generating plausible units when the real ones are not available
# --------------------------------------------------------------------------------------------

#: highway classes that are never crossed by a generated unit (expressways)
_STRONG_HIGHWAYS = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
_RAILWAYS = frozenset({"rail", "subway", "light_rail"})
_WATERWAYS = frozenset({"river", "canal", "stream"})
_NO_TUNNEL = frozenset({"", "no"})
_STRONG, _WEAK, _FREE = 2, 1, 0


def _read_barriers(
    path: str | os.PathLike, barrier_highways: tuple[str, ...], strong_highways: frozenset[str]
) -> dict:
    """Stream the OSM ways that bound units: lon/lat line coordinates by strength.

    Returns a dict with ``strong`` and ``weak`` (lists of (n, 2) lon/lat arrays), ``water``
    (closed ``natural=water`` rings), ``bounds`` (lon/lat box of every way read, or None) and
    ``counts`` (ways per kind).
    """
    import osmium

    p = Path(path)
    if not p.exists():
        raise InputError(f"OSM file {p} does not exist")
    highways = set(barrier_highways)
    out: dict = {"strong": [], "weak": [], "water": [], "counts": {}}
    box = [np.inf, np.inf, -np.inf, -np.inf]
    processor = (
        osmium.FileProcessor(str(p))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway", "railway", "waterway", "natural"))
    )
    try:
        for way in processor:
            coords = np.array(
                [(n.lon, n.lat) for n in way.nodes if n.location.valid()], dtype=np.float64
            ).reshape(-1, 2)
            if len(coords) < 2:
                continue
            lo, hi = coords.min(axis=0), coords.max(axis=0)
            box = [min(box[0], lo[0]), min(box[1], lo[1]), max(box[2], hi[0]), max(box[3], hi[1])]
            tags = way.tags
            underground = tags.get("tunnel", "") not in _NO_TUNNEL
            kind = None
            highway = tags.get("highway")
            if highway in highways and not underground:
                kind = "strong" if highway in strong_highways else "weak"
            elif tags.get("railway") in _RAILWAYS and not underground:
                kind = "strong"
            elif tags.get("waterway") in _WATERWAYS and not underground:
                kind = "strong"
            elif tags.get("natural") == "water" and way.is_closed() and len(coords) >= 4:
                kind = "weak"  # the bank; the waterway centre line is the strong barrier
                out["water"].append(coords)
            if kind is None:
                continue
            out[kind].append(coords)
            label = (
                f"highway={highway}"
                if highway in highways
                else next(
                    (
                        f"{k}={tags.get(k)}"
                        for k in ("railway", "waterway", "natural")
                        if tags.get(k)
                    ),
                    "?",
                )
            )
            out["counts"][label] = out["counts"].get(label, 0) + 1
    except (RuntimeError, ValueError, OSError) as exc:  # libosmium reports bad data this way
        raise InputError(f"{p}: could not be read as OSM data ({exc})") from None
    out["bounds"] = tuple(box) if np.isfinite(box[0]) else None
    return out


def _project_lines(parts: list[np.ndarray], transformer: Transformer) -> np.ndarray:
    """Lon/lat coordinate arrays → projected shapely LineStrings."""
    if not parts:
        return np.empty(0, dtype=object)
    lines = []
    for c in parts:
        x, y = transformer.transform(c[:, 0], c[:, 1])
        lines.append(shapely.linestrings(np.column_stack([x, y])))
    return np.asarray(lines, dtype=object)


def _adjacency(
    geoms: np.ndarray, strong_zone: shapely.Geometry | None, weak_zone: shapely.Geometry | None
) -> dict:
    """Shared border length and barrier strength of every pair of touching blocks.

    Returns ``{(i, j): (length_m, strength)}`` with ``i < j`` for every pair sharing a border
    of positive length; a border is strong when more than 2.5 m of it (or all of it, when
    shorter) runs along a strong barrier, weak when along a weak one, free otherwise.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    edges: dict = {}
    for i, j in zip(left[keep].tolist(), right[keep].tolist(), strict=True):
        shared = shapely.intersection(shapely.boundary(geoms[j]), shapely.buffer(geoms[i], 0.5))
        length = float(shapely.length(shared))
        if length <= 0.0:
            continue
        need = min(2.5, 0.9 * length)
        strength = _FREE
        if (
            strong_zone is not None
            and shapely.length(shapely.intersection(shared, strong_zone)) > need
        ):
            strength = _STRONG
        elif (
            weak_zone is not None and shapely.length(shapely.intersection(shared, weak_zone)) > need
        ):
            strength = _WEAK
        edges[(i, j)] = (length, strength)
    return edges


def _neighbours(edges: dict, n: int, min_border_m: float = 0.0) -> list[dict]:
    """Per block: ``{neighbour: (border length, strength)}`` for borders > ``min_border_m``."""
    nb: list[dict] = [{} for _ in range(n)]
    for (i, j), val in edges.items():
        if val[0] <= min_border_m:
            continue
        nb[i][j] = val
        nb[j][i] = val
    return nb


def _union_groups(geoms: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union the geometries per label; returns (unique labels, geometries)."""
    uniq = np.unique(labels)
    out = np.empty(len(uniq), dtype=object)
    for k, lab in enumerate(uniq):
        out[k] = shapely.union_all(geoms[labels == lab], grid_size=None)
    return uniq, out


def _blocks(
    area: shapely.Geometry, strong: np.ndarray, weak: np.ndarray, snap_m: float = 5.0
) -> np.ndarray:
    """Faces of the barrier lines plus the area's outline, inside the area."""
    clip = shapely.buffer(area, snap_m + 1.0)
    outline = shapely.boundary(area)
    lines = [outline]
    for arr in (strong, weak):
        if len(arr):
            cut = shapely.intersection(arr, clip)
            lines.extend(g for g in shapely.get_parts(cut) if not shapely.is_empty(g))
    # a road that stops just short of the outline (an extract cut at the boundary) still
    # closes its blocks: join line ends within snap_m of the outline to it
    if len(lines) > 1:
        ends = shapely.get_parts(shapely.boundary(np.asarray(lines[1:], dtype=object)))
        near = ends[
            (shapely.distance(ends, outline) <= snap_m) & (shapely.distance(ends, outline) > 0)
        ]
        lines.extend(shapely.shortest_line(near, outline))
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces):
        inside = shapely.contains(area, shapely.point_on_surface(faces))
        faces = shapely.intersection(faces[inside], area)
    parts = [g for g in shapely.get_parts(faces) if shapely.get_type_id(g) in (3, 6)]
    parts = list(shapely.get_parts(np.asarray(parts, dtype=object))) if parts else []
    covered = shapely.union_all(np.asarray(parts, dtype=object)) if parts else None
    rest = area if covered is None else shapely.difference(area, covered)
    parts.extend(
        g for g in shapely.get_parts(rest) if shapely.get_type_id(g) == 3 and shapely.area(g) > 1.0
    )
    return np.asarray([g for g in parts if shapely.area(g) > 0.01], dtype=object)


def _merge_slivers(
    geoms: np.ndarray, is_water: np.ndarray, edges: dict, min_area_m2: float, min_width_m: float
) -> np.ndarray:
    """Labels that merge each sliver into its longest-shared-border neighbour."""
    n = len(geoms)
    area = shapely.area(geoms)
    width = 2.0 * area / np.maximum(shapely.length(geoms), 1e-9)
    sliver = (area < min_area_m2) | (width < min_width_m)
    nb = _neighbours(edges, n)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in sorted(np.flatnonzero(sliver).tolist(), key=lambda k: (area[k], k)):
        # across a non-strong border first, so that a strong line stays a block edge
        cands = [
            (strength != _STRONG, not sliver[j], is_water[j] == is_water[i], length, -j)
            for j, (length, strength) in nb[i].items()
            if find(j) != find(i)
        ]
        if cands:
            parent[find(i)] = find(-max(cands)[4])
        elif area[i] < min_area_m2 and n > 1:  # touches nothing along a border: nearest
            others = np.flatnonzero(np.arange(n) != i)
            dist = shapely.distance(geoms[i], geoms[others])
            parent[find(i)] = find(int(others[np.argmin(dist)]))
    return np.array([find(i) for i in range(n)])


def _grow(
    weight: np.ndarray,
    nb: list[dict],
    usable: np.ndarray,
    target: float,
    maximum: float,
    small: float,
) -> np.ndarray:
    """Greedy region growing: labels (unit number per block, -1 for unusable blocks)."""
    n = len(weight)
    label = np.full(n, -1)
    order = sorted(np.flatnonzero(usable).tolist(), key=lambda k: (-weight[k], k))
    unit = 0
    for seed in order:
        if label[seed] >= 0:
            continue
        label[seed] = unit
        members = [seed]
        total = float(weight[seed])
        while True:
            border: dict[int, float] = {}
            blocked: set[int] = set()
            for m in members:
                for j, (length, strength) in nb[m].items():
                    if label[j] >= 0 or not usable[j]:
                        continue
                    if strength == _STRONG:
                        blocked.add(j)
                    border[j] = border.get(j, 0.0) + length
            limit = maximum if total < small else target
            cands = [
                (-border[j], j) for j in border if j not in blocked and total + weight[j] <= limit
            ]
            if not cands:
                break
            j = min(cands)[1]
            label[j] = unit
            members.append(j)
            total += float(weight[j])
        unit += 1
    return label


def _unit_edges(label: np.ndarray, nb: list[dict]) -> dict:
    """Border length between units and whether any of it is strong."""
    out: dict = {}
    for i, row in enumerate(nb):
        for j, (length, strength) in row.items():
            a, b = label[i], label[j]
            if a < 0 or b < 0 or a == b:
                continue
            key = (min(a, b), max(a, b))
            old = out.get(key, (0.0, _FREE))
            out[key] = (old[0] + length / 2.0, max(old[1], strength))
    return out


def _merge_small(
    label: np.ndarray, weight: np.ndarray, nb: list[dict], small: float, maximum: float
) -> np.ndarray:
    """Merge units below ``small`` into a neighbour when the result stays ≤ ``maximum``."""
    label = label.copy()
    while True:
        totals = {u: float(weight[label == u].sum()) for u in np.unique(label[label >= 0])}
        edges = _unit_edges(label, nb)
        merged = False
        for u in sorted(totals, key=lambda k: (totals[k], k)):
            if totals[u] >= small:
                break
            cands = []
            for (a, b), (length, strength) in edges.items():
                if u not in (a, b) or strength == _STRONG:
                    continue
                v = b if a == u else a
                if totals[u] + totals[v] <= maximum:
                    cands.append((-length, v))
            if cands:
                v = min(cands)[1]
                label[label == u] = v
                merged = True
                break
        if not merged:
            return label


def _absorb_small(
    label: np.ndarray, weight: np.ndarray, nb: list[dict], geoms: np.ndarray, minimum: float
) -> tuple[np.ndarray, list[str]]:
    """Merge every unit lighter than ``minimum`` into a neighbour, whatever the border.

    The neighbour with a non-strong border comes first, then the longest shared border; a unit
    touching none (an island) joins the nearest unit. Returns the labels and one note per merge.
    """
    label = label.copy()
    notes: list[str] = []
    while True:
        units = np.unique(label[label >= 0])
        if len(units) < 2:
            return label, notes
        totals = {int(u): float(weight[label == u].sum()) for u in units}
        small = [u for u in sorted(totals, key=lambda k: (totals[k], k)) if totals[u] < minimum]
        if not small:
            return label, notes
        u = small[0]
        edges = _unit_edges(label, nb)
        cands = [
            (strength != _STRONG, length, -v)
            for (a, b), (length, strength) in edges.items()
            if u in (a, b)
            for v in [b if a == u else a]
        ]
        if cands:
            best = max(cands)
            v, how = -best[2], "across a strong barrier" if not best[0] else "along a weak border"
        else:
            mine = np.flatnonzero(label == u)
            others = np.flatnonzero((label >= 0) & (label != u))
            shape = shapely.union_all(geoms[mine])
            v = int(label[others[np.argmin(shapely.distance(shape, geoms[others]))]])
            how = "(no shared border: the nearest unit)"
        notes.append(f"a unit of weight {totals[u]:,.0f} joined its neighbour {how}")
        label[label == u] = v


def _attach_leftovers(label: np.ndarray, nb: list[dict], geoms: np.ndarray) -> np.ndarray:
    """Give each unlabelled block (water) to the labelled neighbour with the longest border."""
    label = label.copy()
    changed = True
    while changed and (label < 0).any():
        changed = False
        for i in np.flatnonzero(label < 0).tolist():
            cands = [(-length, label[j], j) for j, (length, _) in nb[i].items() if label[j] >= 0]
            if cands:
                label[i] = min(cands)[1]
                changed = True
    rest = np.flatnonzero(label < 0)
    if len(rest) and (label >= 0).any():
        done = np.flatnonzero(label >= 0)
        tree = shapely.STRtree(geoms[done])
        for i in rest.tolist():
            label[i] = label[done[int(tree.nearest(geoms[i]))]]
    return label


def _boundary_rows(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | str | os.PathLike,
) -> gpd.GeoDataFrame:
    """Return the boundary as a GeoDataFrame (one row per 街镇) in its own CRS."""
    if isinstance(boundary, (str, os.PathLike)):
        p = Path(boundary)
        if not p.exists():
            raise InputError(f"boundary file {p} does not exist")
        boundary = gpd.read_file(p)
    if isinstance(boundary, gpd.GeoSeries):
        boundary = gpd.GeoDataFrame(geometry=boundary)
    elif isinstance(boundary, shapely.Geometry):
        boundary = gpd.GeoDataFrame(geometry=[boundary], crs=4326)
    if not isinstance(boundary, gpd.GeoDataFrame):
        raise InputError(
            f"boundary must be a GeoDataFrame, GeoSeries, shapely polygon or a "
            f"file path, not {type(boundary).__name__}"
        )
    if boundary.crs is None:
        raise InputError("the boundary has no CRS")
    ok = ~(boundary.geometry.isna() | boundary.geometry.is_empty)
    boundary = boundary[ok & boundary.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(boundary) == 0:
        raise InputError("the boundary holds no polygon")
    return boundary.reset_index(drop=True)


def generate(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | str | os.PathLike,
    osm_path: str | os.PathLike,
    population: gpd.GeoDataFrame | None = None,
    *,
    target_population: float = 15_500,
    max_population: float = 26_000,
    barrier_highways: tuple[str, ...] = (
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
    ),
    strong_highways: tuple[str, ...] = tuple(sorted(_STRONG_HIGHWAYS)),
    jiezhen_code: str = "",
    jiezhen_name: str = "",
    district_code: str = "",
    area_type: str = "",
    crs: Any = None,
    min_area_m2: float = 5_000.0,
    min_width_m: float = 25.0,
    target_area_m2: float = 1_000_000.0,
    max_area_m2: float | None = None,
    min_border_m: float = 5.0,
    min_population: float | None = None,
    min_unit_area_m2: float | None = None,
) -> gpd.GeoDataFrame:
    """Generate plausible community basic units: barrier-bounded blocks merged to a target size.

    The real unit boundaries are not public; this builds units the way they were drawn (not
    cut by expressways, railways, arterial roads or rivers, nested in the 街镇, about
    ``target_population`` residents each) from OSM data and a population source.

    1. **Barriers** are streamed from ``osm_path`` (ways only): highways of
       ``barrier_highways``, ``railway=rail|subway|light_rail`` and
       ``waterway=river|canal|stream`` (none with a ``tunnel`` tag), and the outlines of closed
       ``natural=water`` ways (multipolygon relations are not read). *Strong* barriers
       (``strong_highways``, railways, waterways) are never crossed by a unit. The other
       barrier highways (primary, secondary) and water outlines (river banks; the centre
       line is the strong one) are *weak*. Every block edge is a barrier, so a unit made of
       more than one block necessarily crosses weak ones: it does so only up to the target
       (see 4), and never across a strong one.
    2. **Blocks** are the faces of the noded barrier lines and the boundary's outline, inside
       the boundary. Blocks mostly (≥ 50 %) covered by ``natural=water`` are water: they
       never seed or grow a unit and are attached at the end to the neighbouring unit with the
       longest shared border, so that the units still tile the boundary. Slivers (area below
       ``min_area_m2`` or mean width ``2·area/perimeter`` below ``min_width_m``, e.g. the
       strip between two carriageways or between a river's bank and centre line) join their
       longest-shared-border neighbour, across a non-strong edge when there is one so that
       strong lines stay block edges. Road ends within 5 m of the boundary are joined to it
       (extracts cut at the boundary); other gaps in the data leave dead ends, which do not
       split blocks.
    3. **Weights**: residents per block from ``population`` points (a point on a block edge
       counts once, for the lower-numbered block). Without ``population`` the block's area
       (m²) is the weight and ``target_area_m2`` / ``max_area_m2`` are the targets (logged).
    4. **Growing**: the heaviest unassigned block seeds a unit, which takes the neighbour
       with the longest shared border (borders of more than ``min_border_m``, strong ones
       excluded) while the total stays ≤ target; a unit still below half the target may take
       a neighbour up to the maximum. Units below half the target then join the neighbour
       with the longest non-strong border when the sum stays ≤ the maximum; a unit enclosed
       by strong barriers (e.g. between a river and an expressway) stays small. A single
       block above the maximum stays one unit, with a warning (barriers too sparse). Ties
       break on block order, so the result is deterministic.
    5. **No sliver units**: a unit still below ``min_population`` residents (default
       ``min(max(0.2 × target_population, 1000), 0.5 × target_population)``, e.g. 3,100 for
       the default target) joins a neighbour whatever the border: one with a non-strong border
       first, else the one with the longest border even across a strong barrier, else (an
       island) the nearest unit; the maximum does not apply. Each merge is logged at INFO.
       Without ``population`` the bound is ``min_unit_area_m2`` (default 0.2 ×
       ``target_area_m2``). Pass 0 to keep small units.

    A boundary with several rows (several 街镇) is processed row by row, so units nest in the
    街镇; each row's ``jiezhen_code``, ``jiezhen_name``, ``district_code`` and ``area_type``
    columns (or aliases such as 街镇代码) are used where the arguments are empty.

    Parameters
    ----------
    boundary : GeoDataFrame, GeoSeries, shapely polygon or path
        The 街镇 polygon(s); a bare shapely geometry is taken as WGS-84.
    osm_path : str or path-like
        OSM XML or PBF covering the boundary.
    population : GeoDataFrame, optional
        Points with ``population`` (e.g. :func:`lifecircle_geo.population.from_raster`).
    target_population, max_population : float
        Residents a unit aims at and must not exceed (a single block may).
    barrier_highways : tuple of str
        Highway classes that bound blocks.
    strong_highways : tuple of str
        Those of them never crossed (default motorway, trunk and their links).
    jiezhen_code, jiezhen_name, district_code, area_type : str
        Written to every unit; ``unit_id`` is ``{jiezhen_code}{NNN}`` (``G{NNN}`` without a
        code) and ``unit_name`` ``生成单元NN``.
    crs : optional
        Metric CRS to work in; default the UTM zone of the boundary's centre.
    min_area_m2, min_width_m : float
        Sliver thresholds (see above).
    target_area_m2, max_area_m2 : float
        Targets when ``population`` is None (default 1 km² and 1.7 × that).
    min_border_m : float
        Blocks sharing less border than this are not neighbours.
    min_population, min_unit_area_m2 : float, optional
        Smallest unit kept as a unit (see 5).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326, checked by :func:`prepare`: :data:`UNIT_COLUMNS`, ``population``
        (NaN without a population source), ``weight``, ``area_m2``, ``n_blocks`` and
        ``generated`` (True).

    Raises
    ------
    InputError
        Missing or unreadable files, a boundary without polygons or CRS, or a boundary that
        does not overlap the OSM data.

    Warns
    -----
    A log warning when a unit exceeds the maximum (barriers too sparse to split it).

    Examples
    --------
    >>> import lifecircle_geo as lc
    >>> sample = lc.datasets.get_path("sample")
    >>> pop = lc.population.from_raster(sample / "population.tif")
    >>> units = lc.units.generate(sample / "boundary.geojson", sample / "sample.osm",
    ...                           pop, target_population=12_000)
    >>> len(units), round(units.population.sum())
    (4, 50227)
    """
    import pyproj

    from .crs import resolve_crs, utm_crs_for

    if not 0 < target_population <= max_population:
        raise InputError(
            f"need 0 < target_population ({target_population}) <= max_population ({max_population})"
        )
    if population is None and not 0 < target_area_m2 <= (max_area_m2 or np.inf):
        raise InputError(
            f"need 0 < target_area_m2 ({target_area_m2}) <= max_area_m2 ({max_area_m2})"
        )
    rows = _boundary_rows(boundary)
    work = resolve_crs(crs) or utm_crs_for(rows)
    strong_set = frozenset(strong_highways)
    barriers = _read_barriers(osm_path, tuple(barrier_highways), strong_set)
    wgs_rows = rows.to_crs(4326)
    whole = shapely.union_all(wgs_rows.geometry.to_numpy())
    data_box = barriers["bounds"]
    if data_box is None or not shapely.intersects(shapely.box(*data_box), whole):
        where = "no ways" if data_box is None else f"bounds {np.round(data_box, 5).tolist()}"
        raise InputError(
            f"the boundary (lon/lat bounds {np.round(whole.bounds, 5).tolist()}) "
            f"does not overlap the OSM data of {Path(osm_path).name} ({where})"
        )
    to_work = pyproj.Transformer.from_crs(4326, work, always_xy=True)
    strong = _project_lines(barriers["strong"], to_work)
    weak = _project_lines(barriers["weak"], to_work)
    water = np.asarray(
        [
            shapely.make_valid(shapely.Polygon(shapely.get_coordinates(g)))
            for g in _project_lines(barriers["water"], to_work)
        ],
        dtype=object,
    )
    log.info("%s: barrier ways %s", Path(osm_path).name, barriers["counts"] or "none")
    strong_zone = shapely.buffer(shapely.union_all(strong), 1.0) if len(strong) else None
    weak_zone = shapely.buffer(shapely.union_all(weak), 1.0) if len(weak) else None
    water_all = shapely.union_all(water) if len(water) else None

    if population is not None:
        if "population" not in population.columns:
            raise InputError("population points need a 'population' column")
        if population.crs is None:
            raise InputError("population points have no CRS")
        pts = gpd.GeoDataFrame(
            {"population": population["population"].to_numpy(float)},
            geometry=population.geometry.to_numpy(),
            crs=population.crs,
        ).to_crs(work)
        target, maximum = float(target_population), float(max_population)
    else:
        log.info(
            "no population given: block area is the weight (target %.0f m², max %.0f m²)",
            target_area_m2,
            max_area_m2 or 1.7 * target_area_m2,
        )
        target = float(target_area_m2)
        maximum = float(max_area_m2 if max_area_m2 is not None else 1.7 * target_area_m2)
    small = 0.5 * target
    if population is not None:
        default_min = min(max(0.2 * target, 1_000.0), small)
        minimum = default_min if min_population is None else float(min_population)
    else:
        minimum = 0.2 * target if min_unit_area_m2 is None else float(min_unit_area_m2)

    work_rows = rows.to_crs(work)
    meta = prepare(
        rows.drop(columns=[c for c in ("unit_id", "unit_name") if c in rows.columns]).assign(
            unit_id=[str(i) for i in range(len(rows))]
        ),
        "boundary",
    )
    records: list[dict] = []
    counters: dict[str, int] = {}
    for r, area in enumerate(work_rows.geometry.to_numpy()):
        area = shapely.make_valid(area)
        fields = {
            "jiezhen_code": jiezhen_code or meta["jiezhen_code"].iat[r],
            "jiezhen_name": jiezhen_name or meta["jiezhen_name"].iat[r],
            "district_code": district_code or meta["district_code"].iat[r],
            "area_type": area_type or meta["area_type"].iat[r],
        }
        geoms = _blocks(area, strong, weak)
        if len(geoms) == 0:
            log.warning("boundary row %d has no area: skipped", r)
            continue
        if water_all is not None:
            wet = shapely.area(shapely.intersection(geoms, water_all)) >= 0.5 * shapely.area(geoms)
        else:
            wet = np.zeros(len(geoms), dtype=bool)
        edges = _adjacency(geoms, strong_zone, weak_zone)
        groups = _merge_slivers(geoms, wet, edges, min_area_m2, min_width_m)
        if len(np.unique(groups)) < len(geoms):
            uniq, merged = _union_groups(geoms, groups)
            wet = np.array(
                [bool(wet[groups == u][np.argmax(shapely.area(geoms[groups == u]))]) for u in uniq]
            )
            geoms = merged
            edges = _adjacency(geoms, strong_zone, weak_zone)
        if wet.all():
            wet[:] = False  # nothing but water: keep it as land rather than lose the area
        nb = _neighbours(edges, len(geoms), min_border_m)
        if population is not None:
            people = np.zeros(len(geoms))
            bl = gpd.GeoDataFrame(geometry=geoms, crs=work)
            hit = gpd.sjoin(
                pts[["population", "geometry"]], bl, predicate="intersects", how="inner"
            )
            hit = hit.sort_values("index_right", kind="stable")
            hit = hit[~hit.index.duplicated(keep="first")]
            np.add.at(people, hit["index_right"].to_numpy(), hit["population"].to_numpy())
            weight = people
        else:
            people = np.full(len(geoms), np.nan)
            weight = shapely.area(geoms)
        log.info(
            "%s: %d blocks (%d water), weight %.0f",
            fields["jiezhen_name"] or f"row {r}",
            len(geoms),
            int(wet.sum()),
            weight.sum(),
        )
        label = _grow(weight, nb, ~wet, target, maximum, small)
        label = _merge_small(label, weight, nb, small, maximum)
        label, notes = _absorb_small(label, weight, nb, geoms, minimum)
        for note in notes:
            log.info(
                "%s: %s (below the smallest unit, %.0f %s)",
                fields["jiezhen_name"] or f"row {r}",
                note,
                minimum,
                "residents" if population is not None else "m²",
            )
        label = _attach_leftovers(label, nb, geoms)
        uniq, shapes = _union_groups(geoms, label)
        totals = [
            (float(weight[label == u].sum()), u, s) for u, s in zip(uniq, shapes, strict=True)
        ]
        # number units north-west first, so ids read like a map
        totals.sort(
            key=lambda t: (
                -round(shapely.centroid(t[2]).y, -1),
                round(shapely.centroid(t[2]).x, -1),
                t[1],
            )
        )
        for w, u, shape in totals:
            code = fields["jiezhen_code"]
            key = code or "G"
            counters[key] = counters.get(key, 0) + 1
            k = counters[key]
            uid = f"{key}{k:03d}"
            pop_u = float(people[label == u].sum()) if population is not None else np.nan
            if w > maximum:
                log.warning(
                    "generated unit %s has %s %.0f > maximum %.0f: the barriers are "
                    "too sparse to split it (add barrier classes, e.g. tertiary)",
                    uid,
                    "residents" if population is not None else "m²",
                    w,
                    maximum,
                )
            records.append(
                {
                    "unit_id": uid,
                    "unit_name": f"生成单元{k:02d}",
                    **fields,
                    "population": pop_u,
                    "weight": w,
                    "area_m2": float(shapely.area(shape)),
                    "n_blocks": int((label == u).sum()),
                    "generated": True,
                    "geometry": shape,
                }
            )
    out = gpd.GeoDataFrame(records, geometry="geometry", crs=work).to_crs(4326)
    # reprojection can leave a near-degenerate spike invalid: repair quietly, keep polygons
    bad = ~out.geometry.is_valid
    if bad.any():
        out.loc[bad, "geometry"] = [_polygonal(shapely.make_valid(g)) for g in out.geometry[bad]]
    log.info("generated %d units (target %.0f, max %.0f per unit)", len(out), target, maximum)
    return prepare(out, source="generated units")


# --------------------------------------------------------------------------------------------
# 多格合一: units from 居委/村 parts, and the crosswalk between two polygon layers
# --------------------------------------------------------------------------------------------


def _as_frame(
    layer: gpd.GeoDataFrame | str | os.PathLike, what: str, layer_name: str | None = None
) -> tuple[gpd.GeoDataFrame, str]:
    """Return a polygon layer from a GeoDataFrame or a file, and its name for messages."""
    if isinstance(layer, (str, os.PathLike)):
        gdf = _read_vector(layer, layer_name, what)
        name = Path(layer).name
    elif isinstance(layer, gpd.GeoDataFrame):
        gdf, name = layer, what
    else:
        raise InputError(
            f"{what} must be a GeoDataFrame or a file path, not {type(layer).__name__}"
        )
    if gdf.crs is None:
        raise InputError(f"{name}: the layer has no CRS")
    return gdf.reset_index(drop=True), name


def _need_column(gdf: gpd.GeoDataFrame, col: str, name: str, role: str) -> None:
    """Raise naming the nearest column when ``col`` is missing."""
    if col in gdf.columns:
        return
    others = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    near = difflib.get_close_matches(str(col), others, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise InputError(f"{name}: no column {col!r} ({role}); columns are {others}{hint}")


def _repair(
    gdf: gpd.GeoDataFrame, labels: list[str], name: str, what: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Drop null/empty/non-polygon rows and repair invalid ones; every row named."""
    msgs: list[str] = []
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    poly = geom.geom_type.isin(["Polygon", "MultiPolygon", "GeometryCollection"]).to_numpy()
    drop = empty | ~poly
    if drop.any():
        msgs.append(
            f"{name}: {what} {[labels[i] for i in np.flatnonzero(drop)][:10]} have no polygon "
            "geometry (null, empty or not a polygon): left out"
        )
    geoms = np.asarray(geom.to_numpy(), dtype=object)
    for i in np.flatnonzero(~drop):
        g = geoms[i]
        if shapely.is_valid(g) and shapely.get_type_id(g) != 7:
            continue
        reason = shapely.is_valid_reason(g) if not shapely.is_valid(g) else "mixed geometries"
        geoms[i] = _polygonal(shapely.make_valid(g))
        msgs.append(f"{name}: {what} {labels[i]} had an invalid geometry ({reason}): repaired")
        if shapely.is_empty(geoms[i]):
            drop[i] = True
    out = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    return out[~drop].reset_index(drop=True), msgs


def from_parts(
    parts: gpd.GeoDataFrame | str | os.PathLike,
    key: str,
    *,
    name: str | None = None,
    part_name: str | None = None,
    layer: str | None = None,
    max_gap_m2: float = 1_000.0,
    overlap_tolerance_m2: float = 1.0,
    strict: bool = False,
) -> gpd.GeoDataFrame:
    """Build basic units from 居委/村 polygons: the parts dissolved by the unit they belong to.

    Checks, each naming the parts concerned (by ``part_name`` when given, else by row):

    * **parts without a key** (null or blank ``key``) are left out, with a warning;
    * **parts without a polygon** (null, empty, points) are left out; invalid ones repaired;
    * **overlaps between parts of different units** are named (parts, units, m²) and resolved
      at the unit level by the rule of :func:`prepare` (the lower unit id keeps the overlap);
    * **gaps**: holes enclosed by the parts but in none of them are named (area, location,
      the units around them); gaps up to ``max_gap_m2`` join the unit around them with the
      longest shared border, larger ones stay open;
    * units made of **several separate pieces** (飞地) are named (INFO), as are units whose
      parts disagree on ``jiezhen_code``, ``jiezhen_name``, ``district_code`` or
      ``area_type`` (the most common value is used).

    Parameters
    ----------
    parts : GeoDataFrame or path
        The 居委/村 polygons, with a column naming the unit of each.
    key : str
        The column holding the unit id of each part; it becomes ``unit_id``.
    name : str, optional
        Column of the parts holding the unit name (first non-empty value per unit).
    part_name : str, optional
        Column with each part's own name (居委 name), listed in ``parts`` and in messages.
    layer : str, optional
        Layer of a multi-layer file.
    max_gap_m2 : float
        Largest enclosed gap filled into a neighbouring unit.
    overlap_tolerance_m2 : float
        Overlaps up to this area are ignored.
    strict : bool
        Refuse parts without a key or geometry, overlaps and gaps above ``max_gap_m2``.

    Returns
    -------
    GeoDataFrame
        Checked by :func:`prepare`, in the parts' CRS: :data:`UNIT_COLUMNS`, ``n_parts``,
        ``parts`` (part names joined with "、", when ``part_name`` is given), ``population``
        (the sum, when the parts have a ``population`` column) and the geometry;
        ``attrs["unit_checks"]`` lists the messages.

    Raises
    ------
    InputError
        No such column, no part with a key, or any problem when ``strict``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> parts = gpd.GeoDataFrame(
    ...     {"居委": ["东", "西", "南"], "unit": ["U1", "U1", "U2"]}, crs=32651,
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100),
    ...               shapely.box(0, -100, 200, 0)])
    >>> units = lc.units.from_parts(parts, "unit", part_name="居委")
    >>> units[["unit_id", "n_parts", "parts"]].values.tolist()
    [['U1', 2, '东、西'], ['U2', 1, '南']]
    >>> units.area.tolist()
    [20000.0, 20000.0]
    """
    gdf, src = _as_frame(parts, "parts", layer)
    _need_column(gdf, key, src, "the unit key")
    if name is not None:
        _need_column(gdf, name, src, "the unit name")
    if part_name is not None:
        _need_column(gdf, part_name, src, "the part name")
    labels = [
        f"row {i + 1}" + (f" ({gdf[part_name].iat[i]})" if part_name else "")
        for i in range(len(gdf))
    ]
    checks: list[str] = []
    keys = gdf[key]
    if keys.dtype.kind == "f" and (keys.dropna() == keys.dropna().round()).all():
        keys = keys.astype("Int64")
    keys = keys.astype("string").str.strip()
    no_key = (keys.isna() | (keys == "")).to_numpy()
    if no_key.any():
        checks.append(
            f"{src}: parts without a {key!r} value: "
            f"{[labels[i] for i in np.flatnonzero(no_key)][:10]}"
            + (" ..." if no_key.sum() > 10 else "")
            + ": left out (their area belongs to no unit)"
        )
    gdf = gdf.assign(_key=keys.to_numpy(dtype=object), _label=labels)[~no_key]
    if len(gdf) == 0:
        raise InputError(f"{src}: no part has a {key!r} value")
    gdf, msgs = _repair(gdf.reset_index(drop=True), gdf["_label"].tolist(), src, "parts")
    checks += msgs
    if strict and checks:
        raise InputError("; ".join(checks) + " (strict)")
    metric = _metric_geoms(gdf)
    # overlaps between parts of different units, named part by part
    pk = gdf["_key"].to_numpy(dtype=object)
    pairs = [
        (i, j, a) for i, j, a in _overlap_pairs(metric, overlap_tolerance_m2) if pk[i] != pk[j]
    ]
    if pairs:
        listed = ", ".join(
            f"{gdf._label.iat[i]} [{pk[i]}] / {gdf._label.iat[j]} [{pk[j]}] {a:,.0f} m²"
            for i, j, a in pairs[:10]
        )
        checks.append(f"{src}: {len(pairs)} overlap(s) between parts of different units: {listed}")
        if strict:
            raise InputError(checks[-1] + " (strict)")
    # dissolve
    order = sorted(set(pk), key=_id_key)
    geoms = np.empty(len(order), dtype=object)
    mgeoms = np.empty(len(order), dtype=object)
    rows: list[dict[str, Any]] = []
    found, _ = _match_columns(
        list(gdf.columns),
        {f: a for f, a in _ALIASES.items() if f != "unit_id" and f != "unit_name"},
        src,
    )
    pop_col = next((c for c in gdf.columns if _norm(c) in ("population", "人口", "pop")), None)
    for k, u in enumerate(order):
        sel = np.flatnonzero(pk == u)
        geoms[k] = shapely.union_all(np.asarray(gdf.geometry.to_numpy()[sel], dtype=object))
        mgeoms[k] = shapely.union_all(metric[sel])
        row: dict[str, Any] = {"unit_id": u}
        if name is not None:
            vals = gdf[name].iloc[sel].dropna().astype(str).str.strip()
            vals = vals[vals != ""]
            row["unit_name"] = vals.iat[0] if len(vals) else u
        for field, col in found.items():
            vals = gdf[col].iloc[sel].dropna().astype(str).str.strip()
            vals = vals[vals != ""]
            if vals.nunique() > 1:
                checks.append(
                    f"{src}: the parts of unit {u!r} disagree on {field}: "
                    f"{sorted(vals.unique())[:5]} (the most common is used)"
                )
            row[field] = vals.mode().iat[0] if len(vals) else ""
        row["n_parts"] = len(sel)
        if part_name is not None:
            row["parts"] = "、".join(gdf[part_name].iloc[sel].astype(str))
        if pop_col is not None:
            row["population"] = float(pd.to_numeric(gdf[pop_col].iloc[sel], errors="coerce").sum())
        rows.append(row)
        pieces = [g for g in shapely.get_parts(mgeoms[k]) if shapely.area(g) > 1.0]
        if len(pieces) > 1:
            log.info("%s: unit %r is made of %d separate pieces", src, u, len(pieces))
    # gaps: holes of the union of every part
    work = _utm_of(gdf)
    whole = shapely.union_all(metric)
    holes = [
        shapely.Polygon(ring)
        for poly in shapely.get_parts(whole)
        for ring in shapely.get_interior_ring(poly, range(shapely.get_num_interior_rings(poly)))
        if shapely.area(shapely.Polygon(ring)) > overlap_tolerance_m2
    ]
    filled, left_open = [], []
    tree = shapely.STRtree(mgeoms)
    for hole in holes:
        size = float(shapely.area(hole))
        rim = shapely.boundary(hole)
        border = {
            int(n): float(
                shapely.length(shapely.intersection(rim, shapely.buffer(mgeoms[n], 0.01)))
            )
            for n in tree.query(shapely.buffer(hole, 0.01), predicate="intersects")
        }
        around = [order[n] for n in sorted(border, key=lambda n: (-border[n], n))]
        where = _lonlat(shapely.point_on_surface(hole), work)
        text = f"{size:,.0f} m² at {where} between units {around[:6]}"
        if size <= max_gap_m2 and border:
            n = min(border, key=lambda n: (-border[n], n))
            mgeoms[n] = shapely.union(mgeoms[n], hole)
            geoms[n] = shapely.union(geoms[n], _to_crs(hole, work, gdf.crs))
            filled.append(f"{text} → {order[n]!r}")
        else:
            left_open.append(text)
    if filled:
        checks.append(
            f"{src}: {len(filled)} small gap(s) between parts filled: " + "; ".join(filled[:10])
        )
    if left_open:
        checks.append(
            f"{src}: {len(left_open)} gap(s) between parts larger than {max_gap_m2:,.0f} m² "
            "left open: " + "; ".join(left_open[:10])
        )
        if strict:
            raise InputError(checks[-1] + " (strict)")
    for msg in checks:
        log.warning("%s", msg)
    out = gpd.GeoDataFrame(rows, geometry=list(geoms), crs=gdf.crs)
    units = prepare(out, source=src, overlap_tolerance_m2=overlap_tolerance_m2)
    units.attrs["unit_checks"] = checks + units.attrs.get("unit_checks", [])
    return units


def _utm_of(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Return the metric CRS of ``gdf``: its own when projected, else its UTM zone."""
    from .crs import utm_crs_for

    return gdf.crs if gdf.crs.is_projected else utm_crs_for(gdf)


def _to_crs(geom: shapely.Geometry, src: Any, dst: Any) -> shapely.Geometry:
    """One geometry from ``src`` to ``dst``."""
    return gpd.GeoSeries([geom], crs=src).to_crs(dst).iat[0]


def _lonlat(point: shapely.Geometry, crs: Any) -> str:
    """``"lon 121.40000, lat 31.24000"`` of a point in ``crs``."""
    p = _to_crs(point, crs, 4326)
    return f"lon {p.x:.5f}, lat {p.y:.5f}"


def _piece_population(
    pieces: np.ndarray,
    population: gpd.GeoDataFrame | str | os.PathLike | None,
    a: gpd.GeoDataFrame,
    a_idx: np.ndarray,
    a_share: np.ndarray,
    work: Any,
    name: str,
) -> np.ndarray | None:
    """Residents per piece from points, a raster or a population column of ``a``."""
    if population is None:
        return None
    if isinstance(population, str) and population in a.columns:
        values = pd.to_numeric(a[population], errors="coerce")
        if values.isna().any():
            raise InputError(
                f"{name}: population column {population!r} is not a number in rows "
                f"{(np.flatnonzero(values.isna()) + 1).tolist()[:10]}"
            )
        per_a = values.to_numpy(float)
        out = np.zeros(len(pieces))
        ok = a_idx >= 0
        out[ok] = per_a[a_idx[ok]] * a_share[ok]
        return out
    if isinstance(population, (str, os.PathLike)):
        from . import population as lc_population

        p = Path(population)
        if not p.exists():
            others = [str(c) for c in a.columns if c != a.geometry.name]
            raise InputError(
                f"population {str(population)!r} is neither a column of {name} ({others}) "
                "nor an existing file"
            )
        if p.suffix.lower() in (".tif", ".tiff", ".vrt", ".img", ".asc"):
            pts = lc_population.from_raster(p)
        else:
            pts = _read_vector(p, None, "population")
    elif isinstance(population, gpd.GeoDataFrame):
        pts = population
    else:
        raise InputError(
            "population must be points with a 'population' column, a raster or vector path, "
            f"or a column of a; not {type(population).__name__}"
        )
    if "population" not in pts.columns:
        raise InputError("population points need a 'population' column")
    if pts.crs is None:
        raise InputError("population points have no CRS")
    pts = gpd.GeoDataFrame(
        {"population": pd.to_numeric(pts["population"], errors="coerce").fillna(0.0)},
        geometry=pts.geometry.to_numpy(),
        crs=pts.crs,
    ).to_crs(work)
    tree = shapely.STRtree(pieces)
    pi, gi = tree.query(pts.geometry.to_numpy(), predicate="intersects")
    # a point on a shared edge counts once, for the lower-numbered piece
    first = pd.DataFrame({"p": pi, "g": gi}).sort_values(["p", "g"]).drop_duplicates("p")
    out = np.zeros(len(pieces))
    np.add.at(out, first["g"].to_numpy(), pts["population"].to_numpy()[first["p"].to_numpy()])
    outside = np.setdiff1d(np.arange(len(pts)), first["p"].to_numpy())
    if len(outside):
        log.info(
            "crosswalk: %d population points (%.0f residents) lie outside both layers",
            len(outside),
            float(pts["population"].to_numpy()[outside].sum()),
        )
    return out


def _shares(values: np.ndarray, groups: np.ndarray, fallback: np.ndarray | None) -> np.ndarray:
    """``values`` divided by their sum per group (NaN for group -1).

    A group whose sum is 0 takes ``fallback`` (the area shares) so that it still sums to 1.
    """
    out = np.full(len(values), np.nan)
    ok = groups >= 0
    totals = np.zeros(int(groups.max()) + 1 if ok.any() else 0)
    np.add.at(totals, groups[ok], values[ok])
    denom = totals[groups[ok]]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(denom > 0, values[ok] / np.where(denom > 0, denom, 1.0), np.nan)
    if fallback is not None:
        miss = ok & np.isnan(out)
        out[miss] = fallback[miss]
    return out


def _piece_table(
    pieces: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    people: np.ndarray | None,
    keys_a: np.ndarray,
    keys_b: np.ndarray,
    ca: str,
    cb: str,
    thresholds: tuple[float, float, float, float],
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Shares, sliver flags and merge targets of crosswalk pieces (see :func:`crosswalk`).

    Returns the table (without geometry), the sliver mask and the merge target per piece
    (-1 for none).
    """
    min_share, min_area_m2, min_width_m, min_population = thresholds
    area = shapely.area(pieces)
    width = 2.0 * area / np.maximum(shapely.length(pieces), 1e-9)
    share_a = _shares(area, ia, None)
    share_b = _shares(area, ib, None)
    out = pd.DataFrame(
        {
            "piece_id": np.arange(len(pieces)),
            ca: np.where(ia >= 0, keys_a[ia], None),
            cb: np.where(ib >= 0, keys_b[ib], None),
            "area_m2": area,
            "area_share_a": share_a,
            "area_share_b": share_b,
        }
    )
    if people is not None:
        out["population"] = people
        out["pop_share_a"] = _shares(people, ia, share_a)
        out["pop_share_b"] = _shares(people, ib, share_b)
    out["width_m"] = width
    small = (area < min_area_m2) | (
        (np.nan_to_num(share_a) < min_share) & (np.nan_to_num(share_b) < min_share)
    )
    if people is not None:
        small &= people < min_population
    # nobody lives in a strip a few metres wide: residents there come from points (raster
    # cell centres) that fell on the wrong side of a line drawn slightly differently
    sliver = small | (width < min_width_m)
    out["sliver"] = sliver
    merge = np.full(len(pieces), -1)
    if sliver.any() and len(pieces) > 1:
        tree = shapely.STRtree(pieces)
        rims = shapely.boundary(pieces)
        for i in np.flatnonzero(sliver):
            best = None
            for j in tree.query(pieces[i], predicate="intersects"):
                if j == i:
                    continue
                border = float(shapely.length(shapely.intersection(rims[i], rims[j])))
                if border <= 0:
                    continue
                same = (ia[i] >= 0 and ia[i] == ia[j]) or (ib[i] >= 0 and ib[i] == ib[j])
                cand = (not sliver[j], same, border, -int(j))
                if best is None or cand > best:
                    best = cand
            if best is not None:
                merge[i] = -best[3]
    out["merge_into"] = pd.array(np.where(merge >= 0, merge, pd.NA), dtype="Int64")
    out["merge_keys"] = [
        f"{out[ca].iat[m]} / {out[cb].iat[m]}" if m >= 0 else "" for m in merge.tolist()
    ]
    return out, sliver, merge


def crosswalk(
    a: gpd.GeoDataFrame | str | os.PathLike,
    b: gpd.GeoDataFrame | str | os.PathLike,
    *,
    a_key: str,
    b_key: str,
    population: gpd.GeoDataFrame | str | os.PathLike | None = None,
    min_share: float = 0.02,
    min_area_m2: float = 500.0,
    min_width_m: float = 5.0,
    min_population: float = 50.0,
    merge_slivers: bool = False,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Reconcile two polygon layers into one partition with area and population shares (多格合一).

    The pieces are the overlay (union) of ``a`` and ``b``: every area covered by either layer
    lies in exactly one piece, which names its polygon in ``a`` and in ``b`` (empty where
    only one layer covers it). Per piece:

    * ``area_share_a`` / ``area_share_b``: its share of its ``a`` / ``b`` polygon's area
      (they sum to 1 per source polygon);
    * with ``population``: ``population`` (residents in the piece) and ``pop_share_a`` /
      ``pop_share_b`` (summing to 1 per source polygon; a polygon without residents takes its
      area shares). Points are counted where they lie (one on a shared edge counts once),
      raster cells at their centre; a *column* of ``a`` is spread over its pieces by area;
    * ``sliver``: the piece is a digitising sliver: thin (mean width ``2·area/perimeter``
      below ``min_width_m``, whatever the residents counted in it: in a strip a few metres
      wide they are points or raster cell centres that fell on the wrong side of a line
      drawn slightly differently), or small (area below ``min_area_m2``, or below
      ``min_share`` of every source polygon it lies in) and, when ``population`` is given,
      home to fewer than ``min_population`` residents. A small, wide piece with residents
      is not a sliver;
    * ``merge_into`` / ``merge_keys``: for a sliver, the piece it would merge into: the
      non-sliver neighbour sharing its ``a`` or ``b`` polygon with the longest common border
      (so merging changes one assignment only), else any neighbour with the longest border.

    Parameters
    ----------
    a, b : GeoDataFrame or path
        Polygon layers, e.g. governance grids (网格) and basic units.
    a_key, b_key : str
        Columns with each polygon's id (unique within its layer).
    population : GeoDataFrame, path or str, optional
        Points with ``population``, a population raster (``.tif``), a vector file of points,
        or the name of a column of ``a`` holding its residents.
    min_share, min_area_m2, min_width_m, min_population : float
        Sliver thresholds (see above).
    merge_slivers : bool
        Merge every sliver into the piece named by ``merge_into`` (following chains) and
        recompute the shares: the merged sliver takes that piece's ``a`` and ``b`` keys.
        ``n_merged`` counts the slivers each piece absorbed; a sliver without a neighbour
        stays.
    crs : optional
        Metric CRS for areas; default ``a``'s when projected, else its UTM zone.

    Returns
    -------
    GeoDataFrame
        One row per piece in ``a``'s CRS: ``piece_id``, the two keys (named ``a_key`` and
        ``b_key``; suffixed ``_a`` / ``_b`` when they are the same), ``area_m2``,
        ``area_share_a``, ``area_share_b``, [``population``, ``pop_share_a``,
        ``pop_share_b``], ``width_m``, ``sliver``, ``merge_into``, ``merge_keys``,
        ``n_merged``, geometry.
        ``attrs["crosswalk"]`` sums it up (pieces, slivers, area only in ``a`` / ``b``).

    Raises
    ------
    InputError
        Missing files or columns, missing CRS, missing or duplicate keys.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grids = gpd.GeoDataFrame({"grid": ["G1", "G2"]}, crs=32651,
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)])
    >>> units = gpd.GeoDataFrame({"unit": ["U1"]}, crs=32651,
    ...     geometry=[shapely.box(0, 0, 150, 100)])
    >>> cw = lc.units.crosswalk(grids, units, a_key="grid", b_key="unit")
    >>> cw[["grid", "unit", "area_share_a", "area_share_b"]].round(3).values.tolist()
    [['G1', 'U1', 1.0, 0.667], ['G2', 'U1', 0.5, 0.333], ['G2', nan, 0.5, nan]]
    """
    from .crs import resolve_crs

    ga, na = _as_frame(a, "a")
    gb, nb = _as_frame(b, "b")
    _need_column(ga, a_key, na, "a_key")
    _need_column(gb, b_key, nb, "b_key")
    ca, cb = (a_key, b_key) if a_key != b_key else (f"{a_key}_a", f"{b_key}_b")
    work = resolve_crs(crs) or _utm_of(ga)
    layers = []
    for g, k, n in ((ga, a_key, na), (gb, b_key, nb)):
        keys = g[k]
        missing = keys.isna() | (keys.astype(str).str.strip() == "")
        if missing.any():
            raise InputError(
                f"{n}: rows {(np.flatnonzero(missing) + 1).tolist()[:10]} have no {k!r} value"
            )
        dup = keys.duplicated(keep=False)
        if dup.any():
            raise InputError(
                f"{n}: {k!r} values are not unique: {sorted(keys[dup].astype(str).unique())[:10]}"
                " (dissolve the layer by the key first)"
            )
        g2, msgs = _repair(g, [f"{k}={v}" for v in keys], n, "polygons")
        for msg in msgs:
            log.warning("%s", msg)
        g2 = g2.to_crs(work)
        inner = _overlap_pairs(np.asarray(g2.geometry.to_numpy(), dtype=object), 1.0)
        inner.sort(key=lambda t: -t[2])
        if inner:
            ids = g2[k].astype(str).tolist()
            log.warning(
                "%s: %d pair(s) of its own polygons overlap (%s): their pieces overlap too",
                n,
                len(inner),
                ", ".join(f"{ids[i]}/{ids[j]} {s:,.0f} m²" for i, j, s in inner[:10]),
            )
        layers.append(g2)
    la, lb = layers
    left = gpd.GeoDataFrame({"_ia": np.arange(len(la))}, geometry=la.geometry.to_numpy(), crs=work)
    right = gpd.GeoDataFrame({"_ib": np.arange(len(lb))}, geometry=lb.geometry.to_numpy(), crs=work)
    ov = gpd.overlay(left, right, how="union", keep_geom_type=True)
    ov = ov[ov.geometry.notna() & ~ov.geometry.is_empty]
    ov = ov[ov.geometry.area > 1e-6].reset_index(drop=True)
    ia = ov["_ia"].fillna(-1).astype(int).to_numpy()
    ib = ov["_ib"].fillna(-1).astype(int).to_numpy()
    pieces = np.asarray(ov.geometry.to_numpy(), dtype=object)
    people = _piece_population(
        pieces, population, la, ia, _shares(shapely.area(pieces), ia, None), work, na
    )
    keys_a, keys_b = la[a_key].to_numpy(dtype=object), lb[b_key].to_numpy(dtype=object)
    thresholds = (min_share, min_area_m2, min_width_m, min_population)
    out, sliver, merge = _piece_table(pieces, ia, ib, people, keys_a, keys_b, ca, cb, thresholds)
    n_merged = np.zeros(len(pieces), dtype=int)
    if merge_slivers and (merge >= 0).any():
        root = np.arange(len(pieces))
        for i in np.flatnonzero(merge >= 0):
            seen, k = {int(i)}, int(i)
            while merge[k] >= 0 and int(merge[k]) not in seen:
                k = int(merge[k])
                seen.add(k)
            root[i] = k
        groups = np.unique(root)
        pieces = np.asarray(
            [shapely.union_all(pieces[root == g]) for g in groups.tolist()], dtype=object
        )
        n_merged = np.asarray([int((root == g).sum()) - 1 for g in groups.tolist()])
        if people is not None:
            people = np.asarray([float(people[root == g].sum()) for g in groups.tolist()])
        ia, ib = ia[groups], ib[groups]
        log.info("crosswalk: %d sliver(s) merged into their neighbours", int(n_merged.sum()))
        out, sliver, merge = _piece_table(
            pieces, ia, ib, people, keys_a, keys_b, ca, cb, thresholds
        )
    out["n_merged"] = n_merged
    area = out["area_m2"].to_numpy()
    result = gpd.GeoDataFrame(out, geometry=pieces, crs=work).to_crs(ga.crs)
    result.attrs["crosswalk"] = {
        "pieces": len(result),
        "slivers": int(sliver.sum()),
        "area_m2": float(area.sum()),
        "only_in_a_m2": float(area[ib < 0].sum()),
        "only_in_b_m2": float(area[ia < 0].sum()),
    }
    log.info("crosswalk %s × %s: %s", na, nb, result.attrs["crosswalk"])
    return result
