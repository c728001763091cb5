"""Planning units: community basic units (社区基本单元) nested in 街镇 and districts (区).

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

import geopandas as gpd
import shapely

from .errors import InputError

log = logging.getLogger(__name__)

__all__ = ["UNIT_COLUMNS", "load", "prepare"]

#: columns every unit table has after :func:`load`
UNIT_COLUMNS = ["unit_id", "unit_name", "jiezhen_code", "jiezhen_name", "district_code",
                "area_type"]

_ALIASES = {
    "unit_id": ("unit_id", "单元编号", "单元代码", "id", "code"),
    "unit_name": ("unit_name", "单元名称", "name", "名称"),
    "jiezhen_code": ("jiezhen_code", "街镇代码", "街镇编码", "town_code"),
    "jiezhen_name": ("jiezhen_name", "街镇", "街镇名称", "town_name"),
    "district_code": ("district_code", "区代码", "区编码", "county_code"),
    "area_type": ("area_type", "地区类型", "区域类型"),
}


def load(path: str | os.PathLike, layer: str | None = None,
         columns: dict | None = None) -> gpd.GeoDataFrame:
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
        fields are empty text; ``area_type`` empty means the profile's default) plus every
        other column of the file.

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


def prepare(gdf: gpd.GeoDataFrame, source: str = "units", columns: dict | None = None,
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
        raise InputError(f"{source}: no unit_id column (or 单元编号); columns are "
                         f"{[c for c in gdf.columns if c != gdf.geometry.name]}")
    gdf["unit_id"] = gdf["unit_id"].astype(str)
    dup = gdf["unit_id"].duplicated(keep=False)
    if dup.any():
        raise InputError(f"{source}: duplicate unit_id values "
                         f"{sorted(set(gdf.loc[dup, 'unit_id']))[:10]}")
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        raise InputError(f"{source}: units {gdf.loc[empty, 'unit_id'].tolist()[:10]} have no "
                         f"geometry")
    if "unit_name" not in gdf.columns:
        gdf["unit_name"] = gdf["unit_id"]
    for field in ("jiezhen_code", "jiezhen_name", "district_code", "area_type"):
        if field not in gdf.columns:
            gdf[field] = ""
        gdf[field] = gdf[field].fillna("").astype(str)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        log.warning("%s: repaired %d invalid unit geometries", source, int(invalid.sum()))
        gdf.loc[invalid, gdf.geometry.name] = shapely.make_valid(gdf.geometry[invalid].to_numpy())
    rest = [c for c in gdf.columns if c not in UNIT_COLUMNS and c != gdf.geometry.name]
    return gdf[[*UNIT_COLUMNS, *rest, gdf.geometry.name]]
