"""Demand points: where residents live and how many, from a raster, buildings or totals.

Every reader returns a GeoDataFrame of points with a ``population`` column, in the CRS of its
source; :func:`lifecircle_geo.analyze` projects them onto the network.

Examples
--------
>>> import lifecircle_geo as lc
>>> pop = lc.population.from_raster("data/sample/population.tif")  # doctest: +SKIP
>>> round(pop.population.sum())  # doctest: +SKIP
52000
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from .errors import InputError

if TYPE_CHECKING:
    from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = ["from_buildings", "from_points", "from_raster", "from_totals"]


def from_raster(path: str | os.PathLike, band: int = 1) -> gpd.GeoDataFrame:
    """One demand point per populated raster cell (at the cell centre).

    Parameters
    ----------
    path : str or path-like
        A GeoTIFF (or any raster rasterio reads) of residents per cell, e.g. WorldPop or a
        census grid.
    band : int
        Band to read.

    Returns
    -------
    GeoDataFrame
        Points with ``population`` (> 0 only), in the raster's CRS.

    Raises
    ------
    InputError
        Missing file, unreadable raster, no CRS, or negative counts.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.exists():
        raise InputError(f"population raster {p} does not exist")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise InputError(f"population raster {p} has no CRS")
            data = src.read(band, masked=True).astype(np.float64)
            transform = src.transform
            crs = src.crs
    except RasterioIOError as exc:
        raise InputError(f"{p} is not a readable raster ({exc})") from None
    values = np.ma.filled(data, 0.0)
    values[~np.isfinite(values)] = 0.0
    if (values < 0).any():
        raise InputError(f"population raster {p} has negative cells (min {values.min()})")
    rows, cols = np.nonzero(values > 0)
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    gdf = gpd.GeoDataFrame(
        {"population": values[rows, cols]},
        geometry=shapely.points(np.asarray(xs), np.asarray(ys)),
        crs=crs,
    )
    gdf.attrs["source"] = str(p)
    log.info("%s: %d populated cells, %.0f residents", p.name, len(gdf), gdf.population.sum())
    return gdf


def from_points(gdf: gpd.GeoDataFrame, column: str = "population") -> gpd.GeoDataFrame:
    """Demand points from any point layer with a population column (e.g. residential compounds)."""
    if column not in gdf.columns:
        raise InputError(f"point layer has no {column!r} column; columns: {list(gdf.columns)}")
    if gdf.crs is None:
        raise InputError("point layer has no CRS")
    out = gpd.GeoDataFrame(
        {"population": gdf[column].astype(float).to_numpy()},
        geometry=gdf.geometry.representative_point().to_numpy(),
        crs=gdf.crs,
    )
    return out[out.population > 0].reset_index(drop=True)


def from_buildings(
    buildings: gpd.GeoDataFrame, total: float, floors_column: str | None = None
) -> gpd.GeoDataFrame:
    """Spread a population ``total`` over residential buildings by floor area.

    Floor area is footprint × floors (``floors_column``, e.g. ``building:levels``; 1 where
    missing). Returns one point per building.
    """
    if buildings.crs is None:
        raise InputError("buildings have no CRS")
    b = buildings[buildings.geometry.notna()].copy()
    metric = b.to_crs(b.estimate_utm_crs()) if b.crs.is_geographic else b
    floors = 1.0
    if floors_column and floors_column in b.columns:
        floors = np.nan_to_num(
            np.asarray(
                [
                    float(x) if str(x).replace(".", "", 1).isdigit() else np.nan
                    for x in b[floors_column]
                ]
            ),
            nan=1.0,
        ).clip(min=1.0)
    weight = metric.geometry.area.to_numpy() * floors
    if weight.sum() <= 0:
        raise InputError("buildings have no floor area to spread population over")
    return gpd.GeoDataFrame(
        {"population": total * weight / weight.sum()},
        geometry=b.geometry.representative_point().to_numpy(),
        crs=b.crs,
    )


def from_totals(
    units: gpd.GeoDataFrame, net: WalkNetwork, column: str = "population"
) -> gpd.GeoDataFrame:
    """Spread each unit's population total evenly over the street nodes inside it.

    For planners who only have census totals per unit (or 街镇). Units without any street node
    get one point at their representative point.
    """
    if column not in units.columns:
        raise InputError(f"units have no {column!r} column to spread")
    u = units.to_crs(net.crs)
    nodes = net.nodes.loc[net.street_nodes, ["geometry"]]  # never a pier only ferries touch
    joined = gpd.sjoin(nodes, u[[column, "geometry"]], predicate="within", how="inner")
    counts = joined.groupby("index_right").size()
    pts, pops = [], []
    for idx, row in u.iterrows():
        total = float(row[column])
        if total <= 0:
            continue
        if idx in counts.index:
            sel = joined[joined.index_right == idx]
            pts.extend(sel.geometry.to_numpy())
            pops.extend([total / len(sel)] * len(sel))
        else:
            pts.append(row.geometry.representative_point())
            pops.append(total)
    return gpd.GeoDataFrame({"population": pops}, geometry=pts, crs=net.crs)
