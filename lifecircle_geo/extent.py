"""How far the street data reaches: the network's extent and how much of each unit lies in it.

A unit that reaches beyond the street data is mis-measured without a word: its residents out
there snap to a street far away or to none, and its facilities out there are missing. The
extent is the area within ``within_m`` of a walkable street (ferry lines do not count), with
the holes it encloses filled (a park or a block ringed by streets is inside). It is computed on
a raster of ``cell_m`` cells (the streets densified to the cell size, dilated by ``within_m``,
holes filled, then turned back into polygons), so it costs about the same for a 街道 and for
the whole city.

:func:`lifecircle_geo.analyze` flags units with less than ``settings.min_network_share`` of
their area inside as ``partial network``: their coverage is reported but not trusted and not
turned into projects. :func:`clip_units` cuts units down to the extent, for a planner who would
rather measure the part the street data covers.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from lifecircle_geo.extent import network_extent, network_share
>>> ext = network_extent(line_net, within_m=50, cell_m=5)  # a 200 m street along y = 0
>>> round(ext.area / 1e4, 1)  # 200 m x 100 m plus the rounded ends (2.8 ha), to a cell
2.9
>>> units = gpd.GeoDataFrame({"unit_id": ["in", "half"]},
...     geometry=[shapely.box(0, -40, 200, 40), shapely.box(0, -40, 500, 40)],
...     crs=line_net.crs)
>>> network_share(units, ext).round(1).tolist()
[1.0, 0.5]
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import InputError

if TYPE_CHECKING:
    from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = ["clip_units", "network_extent", "network_share"]


def network_extent(
    net: WalkNetwork, within_m: float = 250.0, cell_m: float = 25.0
) -> shapely.Geometry:
    """Return the area within ``within_m`` of a walkable street, enclosed holes filled.

    Parameters
    ----------
    net : WalkNetwork
        The network (projected, metres).
    within_m : float
        How far from a street a place still counts as covered by the street data.
    cell_m : float
        Raster cell size; the extent's edge is accurate to about one cell.

    Returns
    -------
    shapely.Geometry
        A (Multi)Polygon in the network's CRS; empty for a network without walkable edges.

    Raises
    ------
    InputError
        For a non-positive ``within_m`` or ``cell_m``.
    """
    from affine import Affine
    from rasterio import features

    if not (within_m > 0 and cell_m > 0):
        raise InputError(
            f"network_extent: within_m and cell_m must be > 0, got {within_m}, {cell_m}"
        )
    cache_key = (float(within_m), float(cell_m))
    cache = net.__dict__.setdefault("_extent_cache", {})
    if cache_key in cache:
        return cache[cache_key]
    walkable = net.snappable  # streets (lifecircle_geo.network.SNAP_KINDS), never a ferry line
    if not walkable.any():
        return shapely.Polygon()
    lines = shapely.segmentize(net.geometry[walkable], cell_m)
    xy = shapely.get_coordinates(lines)
    pad = within_m + 2 * cell_m
    x0, y0 = xy[:, 0].min() - pad, xy[:, 1].min() - pad
    x1, y1 = xy[:, 0].max() + pad, xy[:, 1].max() + pad
    ncol = int(np.ceil((x1 - x0) / cell_m))
    nrow = int(np.ceil((y1 - y0) / cell_m))
    grid = np.zeros((nrow, ncol), dtype=bool)
    col = np.clip(((xy[:, 0] - x0) / cell_m).astype(np.int64), 0, ncol - 1)
    row = np.clip(((y1 - xy[:, 1]) / cell_m).astype(np.int64), 0, nrow - 1)
    grid[row, col] = True
    grid = _dilate_disk(grid, within_m, cell_m)
    grid = _fill_holes(grid)
    transform = Affine(cell_m, 0.0, x0, 0.0, -cell_m, y1)
    polys = [
        shapely.geometry.shape(geom)
        for geom, value in features.shapes(
            grid.astype(np.uint8), mask=grid, transform=transform, connectivity=8
        )
        if value
    ]
    extent = shapely.coverage_union_all(polys) if polys else shapely.Polygon()
    cache[cache_key] = extent
    return extent


def _dilate_disk(grid: np.ndarray, within_m: float, cell_m: float) -> np.ndarray:
    """``grid`` dilated by a disk: every cell within ``within_m`` of a set one.

    A cell is set when a set cell lies at an offset ``(dx, dy)`` (in cells) with
    ``(dx² + dy²) · cell_m² <= within_m²``: the cells of a binary dilation with that disk
    (what this was), from each cell's distance along its row to the nearest set cell, then
    one comparison per disk row: 0.33 s instead of 1.27 s on 浦东's 2,610 × 2,223 cells.
    """
    nrow, ncol = grid.shape
    if not grid.any():
        return grid.copy()
    r = int(np.ceil(within_m / cell_m))
    far = np.int32(ncol + r + 1)  # beyond any disk row's reach from any column
    cols = np.arange(ncol, dtype=np.int32)
    # the column of the nearest set cell to the left and to the right in each row
    left = np.where(grid, cols, -far)
    np.maximum.accumulate(left, axis=1, out=left)
    right = np.where(grid, cols, far)[:, ::-1]
    right = np.minimum.accumulate(right, axis=1)[:, ::-1]
    along = np.minimum(cols - left, right - cols)  # cells along the row to the nearest set one
    out = np.zeros_like(grid)
    dx = np.arange(r + 1)
    for dy in range(-r, r + 1):
        inside = dx[(dx**2 + dy**2) * cell_m**2 <= within_m**2]
        if not len(inside):
            continue
        reach = along <= inside.max()  # set cells within the disk's half-width on that row
        if dy >= 0:
            out[: nrow - dy] |= reach[dy:]
        else:
            out[-dy:] |= reach[: nrow + dy]
    return out


def _fill_holes(grid: np.ndarray) -> np.ndarray:
    """``grid`` with its holes filled: unset cells not 4-connected to the border are set.

    What ``scipy.ndimage.binary_fill_holes`` does with its default structure, by labelling the
    unset cells once instead of growing the border region step by step.
    """
    from scipy import ndimage

    labels, n = ndimage.label(~grid)
    if n == 0:
        return grid.copy()
    outside = np.zeros(n + 1, dtype=bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        outside[edge] = True
    outside[0] = True  # label 0: the set cells
    return ~outside[labels] | grid


def network_share(units: gpd.GeoDataFrame, extent: shapely.Geometry) -> pd.Series:
    """Return the share of each unit's area (0..1) inside ``extent``, indexed like ``units``.

    Parameters
    ----------
    units : GeoDataFrame
        Unit polygons in the extent's CRS.
    extent : shapely.Geometry
        From :func:`network_extent`.

    Returns
    -------
    Series
        1.0 for a unit fully inside; a unit without area counts as inside when it touches the
        extent.
    """
    geoms = units.geometry.to_numpy()
    area = shapely.area(geoms)
    shapely.prepare(extent)
    inside = np.zeros(len(geoms))
    covered = shapely.covers(extent, geoms)
    inside[covered] = area[covered]
    rest = ~covered & shapely.intersects(extent, geoms)
    if rest.any():
        inside[rest] = shapely.area(shapely.intersection(geoms[rest], extent))
    share = np.divide(inside, area, out=np.zeros(len(geoms)), where=area > 0)
    share[area <= 0] = shapely.intersects(extent, geoms[area <= 0]).astype(float)
    return pd.Series(np.clip(share, 0.0, 1.0), index=units.index, name="network_share")


def clip_units(
    units: gpd.GeoDataFrame, net: WalkNetwork, within_m: float = 250.0
) -> gpd.GeoDataFrame:
    """Cut units down to the network's extent (units entirely outside it are dropped, logged).

    Parameters
    ----------
    units : GeoDataFrame
        Units in any CRS.
    net : WalkNetwork
        The network whose extent clips them.
    within_m : float
        See :func:`network_extent`.

    Returns
    -------
    GeoDataFrame
        In the units' CRS, with ``network_share`` (the share of the original unit kept).
    """
    crs = units.crs
    projected = units.to_crs(net.crs)
    extent = network_extent(net, within_m=within_m)
    share = network_share(projected, extent)
    clipped = projected.copy()
    clipped["geometry"] = shapely.intersection(projected.geometry.to_numpy(), extent)
    clipped["network_share"] = share
    empty = clipped.geometry.is_empty | (share <= 0)
    if empty.any():
        ids = clipped.loc[empty, "unit_id"].tolist() if "unit_id" in clipped else []
        log.warning(
            "%d unit(s) lie entirely outside the street data and are dropped: %s",
            int(empty.sum()),
            ids[:20],
        )
    return clipped[~empty].to_crs(crs)
