"""The project database (项目数据库): one GeoPackage with every table of a run.

Layers (ASCII names, UTF-8 values, all in the units' projected CRS):

========================  =============================================================
``units``                 unit polygons, ``share_<category>`` per category,
                          ``n_meets_standard`` and ``n_categories``
``coverage``              unit × category rows, the unit polygon repeated
``jiezhen_coverage``      街镇 × category rows, units dissolved by ``jiezhen_code``
``district_coverage``     区 × category rows, units dissolved by ``district_code``
``gaps``                  unit × category rows below standard, ranked, with the polygon
``projects``              the project list (项目实施清单), points where a site is known
``suggested_sites``       suggested new facility sites (points)
``facilities``            facilities as points (areas by a representative point),
                          ``entrances_wkt`` as text
``facility_areas``        the polygon facilities (parks, campuses), when there are any
``demand``                resident points, ``walk_m_<category>`` (NULL when not reached)
``network_edges``         the walking network
``categories``            the profile's categories and thresholds (attribute table)
``standards``             category × area type: threshold, mode, unit target, target
                          group, department, each with its source (attribute table)
``standard_sources``      every number of the profile, its source, ``assumption``
``indicators``            policy indicators on the 街镇/district/study-area roll-ups
``referrals``             gaps referred to a department (schools, metro, ...)
``annex``                 the action plan's annex table per district and in total
``summary``               whole-area coverage per category (attribute table)
``run_metadata``          ``key`` / ``value`` (JSON text) facts of the run (attribute table)
========================  =============================================================
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .._io import atomic_path, json_text
from ._arrow import arrow_stream
from ._util import categories, frame, gdal_safe, provenance, run_facts, standards, unit_scores

__all__ = ["GPKG_USER_VERSION", "GPKG_VERSION", "LAYERS", "write_city_gpkg", "write_gpkg"]

log = logging.getLogger(__name__)

#: Layers written, in order (``facility_areas`` only when there are polygon facilities,
#: ``isochrones`` only when the result has catchment polygons).
LAYERS = (
    "units",
    "coverage",
    "jiezhen_coverage",
    "district_coverage",
    "gaps",
    "projects",
    "suggested_sites",
    "facilities",
    "facility_areas",
    "isochrones",
    "demand",
    "network_edges",
    "categories",
    "standards",
    "standard_sources",
    "indicators",
    "referrals",
    "annex",
    "summary",
    "run_metadata",
)

_GEOMETRY_TYPE = {
    "units": "MultiPolygon",
    "coverage": "MultiPolygon",
    "jiezhen_coverage": "MultiPolygon",
    "district_coverage": "MultiPolygon",
    "gaps": "MultiPolygon",
    "projects": "Point",
    "suggested_sites": "Point",
    "facilities": "Point",
    "facility_areas": "MultiPolygon",
    "isochrones": "MultiPolygon",
    "demand": "Point",
    "network_edges": "LineString",
}


def write_gpkg(result: Any, path: str | os.PathLike) -> Path:
    """Write the project database (项目数据库) of ``result`` as a GeoPackage.

    The file is written under a temporary name beside ``path`` and renamed when complete, so
    an existing database is replaced only by a finished one. It is a GeoPackage
    :data:`GPKG_VERSION` (1.2), which GDAL 3.x and QGIS 3.x open without version warnings.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :mod:`lifecircle_geo.analysis`).
    path : str or os.PathLike
        Output file, conventionally ``project_database.gpkg``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> from lifecircle_geo.report import write_gpkg
    >>> write_gpkg(result, "out/project_database.gpkg")  # doctest: +SKIP
    PosixPath('out/project_database.gpkg')
    >>> import pyogrio
    >>> pyogrio.list_layers("out/project_database.gpkg")[:, 0]  # doctest: +SKIP
    array(['units', 'coverage', ...], dtype=object)
    """
    path = Path(path)
    units = _units(result)
    crs = _target_crs(result, units)
    layers = _layers(result, units, crs)
    _write_layers(layers, path)
    log.info("wrote project database %s (%d layers)", path, len(layers))
    return path


def write_city_gpkg(
    path: str | os.PathLike,
    units: gpd.GeoDataFrame | None,
    coverage: pd.DataFrame,
    jiezhen: pd.DataFrame,
    district: pd.DataFrame,
    annex: pd.DataFrame | None = None,
) -> Path:
    """Write a batch's city tables as one GeoPackage: the long tables a workbook should not hold.

    Layers: ``units`` (the unit polygons with ``share_<category>``, ``n_meets_standard`` and
    ``n_categories``), ``coverage`` (unit × category rows, an attribute table joined to
    ``units`` by ``unit_id``), ``jiezhen_coverage`` and ``district_coverage`` (the roll-up rows
    on the units dissolved by code) and ``annex``. In the units' CRS when projected, else in
    their UTM zone; GeoPackage :data:`GPKG_VERSION`, written atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, conventionally ``city_coverage.gpkg``.
    units : GeoDataFrame or None
        The city's units (without them the tables are written without geometry).
    coverage : DataFrame
        Unit × category rows (the tasks' ``coverage.csv``).
    jiezhen, district : DataFrame
        The roll-up rows per 街镇 × category and per district × category.
    annex : DataFrame, optional
        The action plan's annex table.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> write_city_gpkg("out/city_coverage.gpkg", units, cov, jz, dist)  # doctest: +SKIP
    PosixPath('out/city_coverage.gpkg')
    """
    from types import SimpleNamespace

    from ..crs import utm_crs_for

    path = Path(path)
    layers: list[tuple[str, pd.DataFrame]] = []
    shapes = None
    if units is not None and (units.geometry.notna() & ~units.geometry.is_empty).any():
        shapes = _units(SimpleNamespace(units=units))
        if shapes is not None and shapes.crs is not None and not shapes.crs.is_projected:
            shapes = shapes.to_crs(utm_crs_for(shapes))
    elif units is not None:
        log.warning("%s: the units have no polygons; the city tables have no geometry", path)
    if shapes is not None:
        scores = unit_scores(SimpleNamespace(coverage=coverage))
        scores = scores.drop(columns=[c for c in scores.columns if c in shapes and c != "unit_id"])
        layers.append(("units", shapes.merge(scores, on="unit_id", how="left")))
    layers.append(("coverage", _plain(coverage)))
    layers.append(("jiezhen_coverage", _with_dissolved(_plain(jiezhen), shapes, "jiezhen_code")))
    layers.append(("district_coverage", _with_dissolved(_plain(district), shapes, "district_code")))
    if annex is not None:
        layers.append(("annex", _plain(annex)))
    _write_layers(layers, path)
    log.info("wrote the city tables %s (%d layers)", path, len(layers))
    return path


# ---------------------------------------------------------------------------- layers
def _layers(
    result: Any,
    units: gpd.GeoDataFrame | None,
    crs: Any,
) -> list[tuple[str, pd.DataFrame]]:
    out: list[tuple[str, pd.DataFrame]] = []
    coverage = _plain(frame(result, "coverage"))
    if units is not None:
        scores = unit_scores(result)
        scores = scores.drop(columns=[c for c in scores.columns if c in units and c != "unit_id"])
        unit_layer = units.merge(scores, on="unit_id", how="left")
        out.append(("units", unit_layer))
        out.append(("coverage", _with_unit_geometry(coverage, units)))
    else:
        log.warning("result has no units: writing coverage tables without geometry")
        out.append(("coverage", coverage))
    out.append(
        (
            "jiezhen_coverage",
            _with_dissolved(_plain(frame(result, "jiezhen")), units, "jiezhen_code"),
        )
    )
    out.append(
        (
            "district_coverage",
            _with_dissolved(_plain(frame(result, "district")), units, "district_code"),
        )
    )
    gaps = _plain(frame(result, "gaps"))
    out.append(("gaps", _with_unit_geometry(gaps, units) if units is not None else gaps))
    out.append(("projects", _projects(frame(result, "projects"), crs)))
    sites = getattr(result, "sites", None)
    if isinstance(sites, gpd.GeoDataFrame):
        out.append(("suggested_sites", _to_crs(sites, crs)))
    elif sites is not None:
        out.append(("suggested_sites", pd.DataFrame(sites)))
    facilities = getattr(result, "facilities", None)
    if isinstance(facilities, gpd.GeoDataFrame):
        points, areas = _facilities(facilities, crs)
        out.append(("facilities", points))
        if len(areas):
            out.append(("facility_areas", areas))
    iso = getattr(result, "isochrones", None)
    if isinstance(iso, gpd.GeoDataFrame) and len(iso):
        out.append(("isochrones", _to_crs(iso, crs)))
    demand = getattr(result, "demand", None)
    if isinstance(demand, gpd.GeoDataFrame):
        out.append(("demand", _to_crs(demand, crs)))
    network = getattr(result, "network", None)
    if network is not None and getattr(network, "edges", None) is not None:
        out.append(("network_edges", _to_crs(network.edges, crs)))
    out.append(("categories", categories(result)))
    for name, table in (
        ("standards", standards(result)),
        ("standard_sources", provenance(result)),
        ("indicators", _plain(frame(result, "indicators"))),
        ("referrals", _plain(frame(result, "referrals"))),
        ("annex", _plain(frame(result, "annex"))),
    ):
        if len(table.columns):
            out.append((name, table))
    summary = getattr(result, "summary", None)
    if callable(summary):
        out.append(("summary", _plain(summary())))
    out.append(
        (
            "run_metadata",
            pd.DataFrame(
                [{"key": k, "value": json_text(v)} for k, v in run_facts(result)],
                columns=["key", "value"],
            ),
        )
    )
    return out


def _units(result: Any) -> gpd.GeoDataFrame | None:
    units = getattr(result, "units", None)
    if not isinstance(units, gpd.GeoDataFrame):
        return None
    units = units.copy()
    if units.geometry.name != "geometry":
        units = units.rename_geometry("geometry")
    units["geometry"] = units.geometry.apply(_multi)
    return units.reset_index(drop=True)


def _target_crs(result: Any, units: gpd.GeoDataFrame | None) -> Any:
    if units is not None and units.crs is not None:
        return units.crs
    network = getattr(result, "network", None)
    if network is not None and getattr(network, "crs", None) is not None:
        return network.crs
    sites = getattr(result, "sites", None)
    return getattr(sites, "crs", None)


def _multi(geom: Any) -> Any:
    if geom is not None and geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    return geom


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without geometry columns, as a plain DataFrame."""
    if isinstance(df, gpd.GeoDataFrame):
        geo_cols = [c for c in df.columns if str(df[c].dtype) == "geometry"]
        return pd.DataFrame(df.drop(columns=geo_cols))
    return pd.DataFrame(df)


def _with_unit_geometry(table: pd.DataFrame, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "unit_id" not in table.columns:
        return table
    geom = units[["unit_id", "geometry"]].drop_duplicates("unit_id")
    merged = table.merge(geom, on="unit_id", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=units.crs)


def _with_dissolved(table: pd.DataFrame, units: gpd.GeoDataFrame | None, key: str) -> pd.DataFrame:
    if units is None or key not in table.columns or key not in units.columns:
        return table
    try:
        shapes = units[[key, "geometry"]].dissolve(by=key).reset_index()
    except Exception as exc:
        log.warning(
            "could not dissolve units by %s (%s): %s layer written without geometry", key, exc, key
        )
        return table
    shapes["geometry"] = shapes.geometry.apply(_multi)
    merged = table.merge(shapes, on=key, how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=units.crs)


def _projects(projects: pd.DataFrame, crs: Any) -> pd.DataFrame:
    projects = _plain(projects).reset_index(drop=True)
    if not {"lon", "lat"} <= set(projects.columns) or crs is None:
        return projects
    lon = pd.to_numeric(projects["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(projects["lat"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(projects), None, dtype=object)
    if ok.any():
        geoms[ok] = shapely.points(lon[ok], lat[ok])
    gdf = gpd.GeoDataFrame(projects, geometry=gpd.GeoSeries(geoms, crs=4326))
    return gdf.to_crs(crs)


def _to_crs(gdf: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    gdf = gdf.reset_index(drop=True)
    if crs is not None and gdf.crs is not None and len(gdf) and not gdf.crs.equals(crs):
        gdf = gdf.to_crs(crs)
    elif crs is not None and gdf.crs is None:
        gdf = gdf.set_crs(crs)
    elif crs is not None and not len(gdf):
        gdf = gdf.set_crs(crs, allow_override=True)
    return gdf


def _facilities(
    facilities: gpd.GeoDataFrame,
    crs: Any,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    fac = _to_crs(facilities, crs)
    if "entrances" in fac.columns:
        fac["entrances_wkt"] = [
            None if g is None or getattr(g, "is_empty", True) else g.wkt for g in fac["entrances"]
        ]
        fac = fac.drop(columns="entrances")
    geom_name = fac.geometry.name
    is_point = fac.geometry.geom_type.isin(["Point"]).to_numpy()
    fac["geometry_kind"] = np.where(is_point, "point", "area")
    areas = fac.loc[~is_point & fac.geometry.notna().to_numpy()].copy()
    areas[geom_name] = areas.geometry.apply(_multi)
    points = fac.copy()
    if (~is_point).any():
        points[geom_name] = [
            g if p or g is None else g.representative_point()
            for g, p in zip(points.geometry, is_point, strict=True)
        ]
    return points, areas.reset_index(drop=True)


# ---------------------------------------------------------------------------- writing
#: GeoPackage version written: 1.2 opens without warnings in every GDAL/QGIS offices run
#: (GDAL 3.6 warns that 1.4, today's GDAL default, "may only be partially supported").
GPKG_VERSION = "1.2"
#: ``PRAGMA user_version`` of that version (``application_id`` is 0x47504B47, "GPKG").
GPKG_USER_VERSION = 10200


#: GDAL settings while the layers go into the temporary file: SQLite does not wait for the disk
#: at each layer's commit (``PRAGMA synchronous = OFF``); the finished file is synced to disk
#: once, before it is renamed into place. 浦东's database: 4.1 s → 3.1 s. A setting the user
#: made (environment or ``pyogrio.set_gdal_config_options``) is left as it is. GDAL's config is
#: the process's: a GeoPackage another thread writes meanwhile is not synced at each commit
#: either (its content is the same).
_WRITING_CONFIG = {"OGR_SQLITE_SYNCHRONOUS": "OFF"}


def _write_layers(layers: list[tuple[str, pd.DataFrame]], path: Path) -> None:
    """Write ``layers`` in order into a new GeoPackage at ``path``, all or nothing."""
    with atomic_path(path) as tmp:
        with _gdal_config(_WRITING_CONFIG):
            for name, table in layers:
                _write_layer(table, tmp, name)
        if tmp.exists():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())


@contextlib.contextmanager
def _gdal_config(options: dict[str, str]) -> Iterator[None]:
    """Set the GDAL config ``options`` nobody has set; put them back after."""
    mine = {k: v for k, v in options.items() if pyogrio.get_gdal_config_option(k) is None}
    pyogrio.set_gdal_config_options(mine)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(mine))


def _write_layer(table: pd.DataFrame, path: Path, layer: str) -> None:
    table = table.reset_index(drop=True)
    # the dataset option applies when the file is created (the first layer)
    options = {} if path.exists() else {"dataset_options": {"VERSION": GPKG_VERSION}}
    if isinstance(table, gpd.GeoDataFrame):
        geom = table.geometry.name
        safe = gpd.GeoDataFrame(gdal_safe(table, geometry=geom), geometry=geom, crs=table.crs)
        types = set(safe.geometry.dropna().geom_type.unique())
        geometry_type = None
        if not types:
            geometry_type = _GEOMETRY_TYPE.get(layer, "Unknown")
        elif types <= {"Polygon", "MultiPolygon"}:
            geometry_type = "MultiPolygon"
        # write_dataframe names a single type itself; the Arrow path needs it named
        arrow_type = geometry_type or (next(iter(types)) if len(types) == 1 else None)
        if not _write_arrow(safe, path, layer, geom, arrow_type, safe.crs, options):
            pyogrio.write_dataframe(
                safe, path, layer=layer, driver="GPKG", geometry_type=geometry_type, **options
            )
    else:
        safe = gdal_safe(pd.DataFrame(table), geometry=None)
        if not len(safe.columns):
            safe = pd.DataFrame({"note": pd.Series([], dtype=object)})
        if not _write_arrow(safe, path, layer, None, None, None, options):
            pyogrio.write_dataframe(safe, path, layer=layer, driver="GPKG", **options)
    log.debug("layer %s: %d rows", layer, len(table))


def _arrow_writes() -> bool:
    """Whether pyogrio can hand GDAL Arrow columns (pyogrio 0.8 and GDAL 3.8 or later)."""
    return hasattr(pyogrio.raw, "write_arrow") and pyogrio.__gdal_version__ >= (3, 8, 0)


def _write_arrow(
    safe: pd.DataFrame,
    path: Path,
    layer: str,
    geometry: str | None,
    geometry_type: str | None,
    crs: Any,
    options: dict[str, Any],
) -> bool:
    """Write ``safe`` through GDAL's Arrow path; False (nothing written) where it cannot.

    The long layers take half to two thirds of the time (:mod:`._arrow`; 浦东's resident
    points, 70,000 rows × 54 columns: 2.9 s → 1.5 s). Tables with a column type only
    :func:`pyogrio.write_dataframe` converts, 3-D or mixed geometry types, no CRS, and installs
    without the Arrow path (pyogrio < 0.8, GDAL < 3.8, no nanoarrow) return False and are
    written by it instead: both give the same layer.
    """
    if not _arrow_writes():
        return False
    if geometry is not None:
        if geometry_type is None or crs is None:
            return False
        geoms = np.asarray(safe[geometry].array, dtype=object)
        if bool(shapely.has_z(geoms).any()):  # "Point Z" &c.
            return False
        single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
        if geometry_type == "MultiPolygon" and single.any():
            # as write_dataframe promotes them: a GeoPackage layer holds one geometry type
            geoms = geoms.copy()
            geoms[single] = shapely.multipolygons(np.atleast_2d(geoms[single]), axis=0)
            safe = safe.assign(**{geometry: gpd.GeoSeries(geoms, crs=crs)})
    stream = arrow_stream(safe, geometry=geometry)
    if stream is None:
        return False
    kwargs: dict[str, Any] = {}
    if geometry is not None:
        # as write_dataframe names the layer's CRS: its EPSG code where it has one
        epsg = crs.to_epsg()
        kwargs = {
            "geometry_name": geometry,
            "geometry_type": geometry_type,
            "crs": f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL"),
        }
    pyogrio.raw.write_arrow(stream, path, layer=layer, driver="GPKG", **kwargs, **options)
    return True
