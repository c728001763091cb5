"""Planning units: community basic units (社区基本单元) nested in 街镇 and districts (区).

The real unit boundaries are not public: :func:`load` reads them when a planner has them, and
:func:`generate` builds plausible ones (road/river-bounded blocks merged to a target
population, nested in the 街镇) from OSM data when not.

Examples
--------
>>> import lifecircle_geo as lc
>>> units = lc.units.load("data/sample/units.geojson")  # doctest: +SKIP
>>> units.columns.tolist()[:3]  # doctest: +SKIP
['unit_id', 'unit_name', 'jiezhen_code']
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from .errors import InputError
from .standards import AREA_ALIASES

if TYPE_CHECKING:
    from pyproj import Transformer

log = logging.getLogger(__name__)

__all__ = ["UNIT_COLUMNS", "generate", "load", "prepare"]

#: columns every unit table has after :func:`load`
UNIT_COLUMNS = [
    "unit_id",
    "unit_name",
    "jiezhen_code",
    "jiezhen_name",
    "district_code",
    "area_type",
]

_ALIASES = {
    "unit_id": ("unit_id", "单元编号", "单元代码", "id", "code"),
    "unit_name": ("unit_name", "单元名称", "name", "名称"),
    "jiezhen_code": ("jiezhen_code", "街镇代码", "街镇编码", "town_code"),
    "jiezhen_name": ("jiezhen_name", "街镇", "街镇名称", "town_name"),
    "district_code": ("district_code", "区代码", "区编码", "county_code"),
    "area_type": ("area_type", "地区类型", "区域类型"),
}


def load(
    path: str | os.PathLike, layer: str | None = None, columns: dict | None = None
) -> gpd.GeoDataFrame:
    """Read basic units from GeoJSON, GeoPackage or Shapefile and check them.

    Parameters
    ----------
    path : str or path-like
    layer : str, optional
        Layer of a multi-layer file.
    columns : dict, optional
        Which column holds each field, e.g. ``{"unit_id": "DYBM", "unit_name": "DYMC"}``.

    Returns
    -------
    GeoDataFrame
        With :data:`UNIT_COLUMNS` (``unit_name`` defaults to ``unit_id``; missing hierarchy
        fields are empty text; ``area_type`` empty means the profile's default, 新市镇 is read
        as 其他地区) plus every other column of the file.

    Raises
    ------
    InputError
        Missing file, no CRS, no ``unit_id`` column, duplicate ids or empty geometries.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"units file {p} does not exist")
    try:
        gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    except Exception as exc:
        raise InputError(f"{p}: could not be read as a vector file ({exc})") from None
    return prepare(gdf, source=str(p), columns=columns)


def prepare(
    gdf: gpd.GeoDataFrame,
    source: str = "units",
    columns: dict | None = None,
) -> gpd.GeoDataFrame:
    """Check and complete a unit GeoDataFrame (see :func:`load`)."""
    if gdf.crs is None:
        raise InputError(f"{source}: units have no CRS")
    gdf = gdf.copy()
    columns = dict(columns or {})
    for field, aliases in _ALIASES.items():
        if field in gdf.columns:
            continue
        col = columns.get(field) or next((a for a in aliases if a in gdf.columns), None)
        if col is not None:
            if col not in gdf.columns:
                raise InputError(f"{source}: column {col!r} for {field} is not in the file")
            gdf[field] = gdf[col]
    if "unit_id" not in gdf.columns:
        raise InputError(
            f"{source}: no unit_id column (or 单元编号); columns are "
            f"{[c for c in gdf.columns if c != gdf.geometry.name]}"
        )
    gdf["unit_id"] = gdf["unit_id"].astype(str)
    dup = gdf["unit_id"].duplicated(keep=False)
    if dup.any():
        raise InputError(
            f"{source}: duplicate unit_id values {sorted(set(gdf.loc[dup, 'unit_id']))[:10]}"
        )
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        raise InputError(
            f"{source}: units {gdf.loc[empty, 'unit_id'].tolist()[:10]} have no geometry"
        )
    if "unit_name" not in gdf.columns:
        gdf["unit_name"] = gdf["unit_id"]
    for field in ("jiezhen_code", "jiezhen_name", "district_code", "area_type"):
        if field not in gdf.columns:
            gdf[field] = ""
        gdf[field] = gdf[field].fillna("").astype(str)
    # an older area-type name (新市镇) means its area type (其他地区)
    gdf["area_type"] = gdf["area_type"].str.strip().replace(AREA_ALIASES)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        log.warning("%s: repaired %d invalid unit geometries", source, int(invalid.sum()))
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(gdf.geometry[invalid].to_numpy())
    rest = [c for c in gdf.columns if c not in UNIT_COLUMNS and c != gdf.geometry.name]
    return gdf[[*UNIT_COLUMNS, *rest, gdf.geometry.name]]


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


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygon parts of a geometry (a repaired polygon may carry stray lines)."""
    parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
    return shapely.union_all(np.asarray(parts, dtype=object)) if parts else geom


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
