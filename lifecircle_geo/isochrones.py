"""Isochrone polygons from reached street corridors, and travel-time rasters (GeoTIFF).

An isochrone here is the set of streets a person can walk within a threshold, widened by a
corridor: every fully reached edge, the reachable part of each edge whose far end lies beyond
the threshold (cut at the remaining distance from each end), the facility's own edge around its
snapped position and its walk to the street, all buffered by ``corridor_m``. Unlike a convex
hull it does not cover the park, river or rail yard that no street crosses.

A travel-time raster gives, for every cell centre, the walking minutes to the nearest facility:
the cell's walk to its nearest street (the snap leg), along that edge to the better end, plus
the end node's network distance (:func:`lifecircle_geo.engine.point_distances`). Cells farther
than ``max_snap_m`` from every street are nodata.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
>>> iso = isochrones(net, np.array([[0.0, 0.0]]), [150], corridor_m=10)
>>> [round(b) for b in iso.geometry.iloc[0].bounds]
[-10, -10, 160, 10]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from .errors import InputError
from .network import WalkNetwork
from .routing import Seeds, Sites, cost_ratio, multi_source, point_distances, reach_matrix
from .settings import settings

if TYPE_CHECKING:
    from affine import Affine
    from numpy.typing import ArrayLike

log = logging.getLogger(__name__)

__all__ = ["isochrones", "reached_streets", "travel_time_grid", "travel_time_raster"]


# ====================================================================== reached streets
def _substrings(geoms: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Vectorized ``shapely.ops.substring``: the part of each line between two distances.

    ``start``/``end`` are distances along each geometry (``0 <= start <= end <= length``).
    """
    m = len(geoms)
    if m == 0:
        return np.empty(0, dtype=object)
    coords, gi = shapely.get_coordinates(geoms, return_index=True)
    seg = np.zeros(len(coords))
    seg[1:] = np.hypot(*(coords[1:] - coords[:-1]).T)
    new = np.ones(len(coords), dtype=bool)
    new[1:] = gi[1:] != gi[:-1]
    seg[new] = 0.0
    cum = np.cumsum(seg)
    first = np.flatnonzero(new)
    pos = cum - cum[first][gi]
    inner = (pos > start[gi]) & (pos < end[gi])
    a = shapely.get_coordinates(shapely.line_interpolate_point(geoms, start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(geoms, end))
    xy = np.concatenate([a, coords[inner], b])
    owner = np.concatenate([np.arange(m), gi[inner], np.arange(m)])
    key = np.concatenate([start, pos[inner], end])
    order = np.lexsort((key, owner))  # stable: a point equal to the start stays before the end
    return shapely.linestrings(xy[order], indices=owner[order])


def _remaining(threshold_m: float, d: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Length (metres of geometry) that can still be walked from an end at distance ``d``."""
    left = threshold_m - d
    with np.errstate(invalid="ignore", divide="ignore"):
        rem = np.where(
            ratio > 0, left / np.where(ratio > 0, ratio, 1.0), np.where(left >= 0, np.inf, -np.inf)
        )
    return np.where(np.isfinite(d), rem, -np.inf)


def reached_streets(
    net: WalkNetwork,
    dist_node: np.ndarray,
    threshold_m: float,
    *,
    edges: np.ndarray | None = None,
    nodes: np.ndarray | None = None,
    sites: Sites | None = None,
) -> np.ndarray:
    """Return the street lines walkable within ``threshold_m``, including partial edges.

    Parameters
    ----------
    net : WalkNetwork
    dist_node : ndarray
        Walk to every node (``inf`` where not reached), e.g. from
        :func:`~lifecircle_geo.engine.multi_source`.
    threshold_m : float
    edges : ndarray of int, optional
        Only these edges are considered (default: all).
    nodes : ndarray of int, optional
        Only these nodes can be reached (default: all); with ``edges``, saves scanning the
        whole network for one facility's small neighbourhood.
    sites : Sites, optional
        The sources: the part of each source's own edge around its snapped position is
        reached directly, even where neither end node is, and their walk to the street is
        drawn when the sites carry their points.

    Returns
    -------
    ndarray of shapely geometries
        LineStrings, and Points for reached nodes not on any of those lines (reached exactly at
        the threshold, or without streets), so every reached node is covered.

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    >>> [g.length for g in reached_streets(net, np.array([0.0, np.inf]), 30)
    ...  if g.geom_type == "LineString"]
    [30.0]
    """
    e = np.arange(net.n_edges) if edges is None else np.asarray(edges, dtype=np.int64)
    e = e[net.snappable[e]]  # only what is walked: a ferry crossing is no street corridor
    du, dv = dist_node[net.u[e]], dist_node[net.v[e]]
    length = net.length_m[e]
    ratio = cost_ratio(net, e)
    rem_u = _remaining(threshold_m, du, ratio)
    rem_v = _remaining(threshold_m, dv, ratio)
    any_end = (rem_u >= 0) | (rem_v >= 0)
    full = any_end & (np.maximum(rem_u, 0) + np.maximum(rem_v, 0) >= length)
    pu = ~full & (rem_u > 0)
    pv = ~full & (rem_v > 0)
    geoms = net.geometry[e]
    glen = shapely.length(geoms)
    scale = np.divide(glen, length, out=np.zeros(len(e)), where=length > 0)
    parts = [
        geoms[full],
        _substrings(geoms[pu], np.zeros(int(pu.sum())), (rem_u * scale)[pu]),
        _substrings(geoms[pv], ((length - rem_v) * scale)[pv], glen[pv]),
    ]
    if sites is not None and len(sites):
        ok = sites.snap.ok
        se = sites.snap.edge[ok].astype(np.int64)
        along = sites.snap.along_m[ok].astype(float)
        off = sites.snap.snap_m[ok].astype(float)
        rem = _remaining(threshold_m, off, cost_ratio(net, se))
        live = rem >= 0
        s_len = net.length_m[se]
        s_geom = net.geometry[se]
        s_scale = np.divide(shapely.length(s_geom), s_len, out=np.zeros(len(se)), where=s_len > 0)
        lo = np.clip(along - rem, 0, s_len) * s_scale
        hi = np.clip(along + rem, 0, s_len) * s_scale
        parts.append(_substrings(s_geom[live], lo[live], hi[live]))
        if sites.points is not None:
            pts = np.asarray(sites.points, dtype=object)[ok]
            leg = live & (off > 0)
            snapped = shapely.points(sites.snap.x[ok][leg], sites.snap.y[ok][leg])
            if leg.any():
                parts.append(shapely.shortest_line(pts[leg], snapped))
    if nodes is None:
        reached = np.flatnonzero(dist_node <= threshold_m)
    else:
        nodes = np.asarray(nodes, dtype=np.int64)
        reached = nodes[dist_node[nodes] <= threshold_m]
    # a reached node already lies on a reached line unless it is reached right at the threshold
    # (nothing left to walk from it) or has no street at all
    degree = np.diff(net.csr.indptr)[reached]
    tight = threshold_m - dist_node[reached] <= 1e-9 * max(1.0, threshold_m)
    reached = reached[tight | (degree == 0)]
    parts.append(shapely.points(net.x_m[reached], net.y_m[reached]))
    return np.concatenate([np.asarray(p, dtype=object) for p in parts])


def _corridor(pieces: np.ndarray, corridor_m: float, quad_segs: int) -> shapely.Geometry:
    if len(pieces) == 0:
        return shapely.Polygon()
    # one buffer per piece then a cascaded union: GEOS buffering a whole (multi)line collection
    # at once is two orders of magnitude slower on real networks
    return shapely.union_all(shapely.buffer(pieces, corridor_m, quad_segs=quad_segs))


# ====================================================================== isochrones
def _as_sites(
    net: WalkNetwork, sources: Any, labels: Any, max_snap_m: float | None, sources_crs: Any
) -> tuple[Seeds | None, Sites | None]:
    """(seeds, None) for Seeds; (None, sites) for Sites or points to snap."""
    if isinstance(sources, Seeds):
        return sources, None
    if isinstance(sources, Sites):
        sites = sources
    else:
        sites = Sites.from_points(
            net, sources, labels=labels, max_snap_m=max_snap_m, points_crs=sources_crs
        )
    if (~sites.snap.ok).any():
        log.warning(
            "%d sources are farther than max_snap_m from any street and have no isochrone",
            int((~sites.snap.ok).sum()),
        )
    return None, sites


def isochrones(
    net: WalkNetwork,
    sources: Sites | Seeds | gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray,
    thresholds_m: ArrayLike,
    *,
    labels: Sequence[int] | np.ndarray | None = None,
    by: str | ArrayLike | None = None,
    corridor_m: float = 50.0,
    max_snap_m: float | None = None,
    sources_crs: Any = None,
    quad_segs: int = 4,
    walk_speed_kmh: float | None = None,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons per facility (or per group, e.g. category) and per threshold.

    Built from the reached street corridors, partial edges included, buffered by
    ``corridor_m`` -- not convex hulls. Every node within the threshold lies inside; a node
    outside is at least ``corridor_m`` (straight line) from every reached street.

    Parameters
    ----------
    net : WalkNetwork
    sources : Sites, Seeds, GeoDataFrame, GeoSeries, array of Points or (n, 2) array
        Facilities: Sites and points (snapped here) have their walk to the street counted
        against the threshold and the part of their own edge around them reached directly;
        Seeds start at nodes.
    thresholds_m : float or sequence of float
        Walk thresholds in metres (``settings.minutes_to_m(15)`` for 15 minutes).
    labels : array-like of int, optional
        A label per source point (default: row position); Sites and Seeds carry their own.
    by : None, "all", str or array-like
        None: one polygon per facility label. ``"all"``: one per threshold for all sources
        together. A column name of a GeoDataFrame ``sources``, or one key per source point
        (per seed for Seeds): one polygon per key (e.g. per category), the union of its
        facilities' isochrones, from one multi-source search.
    corridor_m : float
        Half-width of the street corridor (buffer distance), metres.
    max_snap_m : float, optional
        Sources farther from a street have no isochrone (default ``settings.max_snap_m``).
    sources_crs : optional
        CRS of plain coordinate ``sources`` (default: the network's).
    quad_segs : int
        Segments per quarter circle of the buffer.
    walk_speed_kmh : float, optional
        Speed for ``threshold_min`` (default ``settings.walk_speed_kmh``; ``analyze`` passes
        the profile's).
    progress : bool, optional
        tqdm bar over facilities / groups (default ``settings.progress``).

    Returns
    -------
    GeoDataFrame
        In ``net.crs``: ``label`` (per facility; plus ``facility_id`` when ``sources`` has
        one) or ``group``, ``threshold_m``, ``threshold_min``, ``area_m2``, ``geometry``.
        Facilities reaching no street have no rows.

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
    >>> iso = isochrones(net, np.array([[0.0, 0.0], [200.0, 0.0]]), [50, 100], by="all",
    ...                  corridor_m=5)
    >>> iso[["group", "threshold_m"]].values.tolist()
    [['all', 50.0], ['all', 100.0]]
    """
    thr = np.sort(np.atleast_1d(np.asarray(thresholds_m, dtype=np.float64)))
    if len(thr) == 0 or not np.all(np.isfinite(thr)) or thr.min() <= 0:
        raise InputError(f"thresholds_m must be positive finite metres, got {thresholds_m!r}")
    if not np.isfinite(corridor_m) or corridor_m <= 0:
        raise InputError(f"corridor_m must be > 0, got {corridor_m!r}")
    show = settings.progress if progress is None else progress
    if labels is not None and isinstance(sources, (Seeds, Sites)):
        raise InputError("labels= goes with points; Sites and Seeds carry their own labels")
    if labels is not None and len(labels) != len(sources):
        raise InputError(f"labels needs one value per source ({len(sources)}), got {len(labels)}")
    seeds, sites = _as_sites(net, sources, labels, max_snap_m, sources_crs)
    n_src = len(seeds) if seeds is not None else len(sites)
    lab = seeds.label if seeds is not None else sites.label
    lab = np.asarray(lab, dtype=np.int64)
    if isinstance(by, str) and by != "all":
        if not isinstance(sources, gpd.GeoDataFrame) or by not in sources.columns:
            raise InputError(f"by={by!r} is not a column of the sources")
        by = sources[by].to_numpy()
    rows: list[dict] = []
    if by is None:
        ids = (
            sources["facility_id"].to_numpy()
            if isinstance(sources, gpd.GeoDataFrame) and "facility_id" in sources.columns
            else None
        )
        reach = reach_matrix(
            net, seeds if sites is None else sites, float(thr.max()), progress=False
        )
        inc_ptr, inc_edge = _incidence(net)
        dist = np.full(net.n_nodes, np.inf)
        ptr = np.concatenate(
            [[0], np.cumsum(np.bincount(reach.facility, minlength=reach.n_facilities))]
        )
        order = np.argsort(reach.facility, kind="stable")
        for f in tqdm(range(reach.n_facilities), desc="isochrones", disable=not show, leave=False):
            sel = order[ptr[f] : ptr[f + 1]]
            nodes = reach.target[sel]
            label = int(reach.labels[f])
            mine = None if sites is None else np.flatnonzero(lab == label)
            if len(nodes) == 0 and mine is None:
                continue  # (a snapped facility still reaches part of its own edge)
            dist[nodes] = reach.dist_m[sel]
            edges = np.unique(_gather(inc_ptr, inc_edge, nodes))
            for t in thr:
                pieces = reached_streets(
                    net,
                    dist,
                    t,
                    edges=edges,
                    nodes=nodes,
                    sites=None if mine is None else sites.take(mine),
                )
                row = {"label": label}
                if ids is not None:
                    row["facility_id"] = ids[mine[0]]
                rows.append(
                    dict(row, threshold_m=t, geometry=_corridor(pieces, corridor_m, quad_segs))
                )
            dist[nodes] = np.inf
        key_cols = ["label", "facility_id"] if ids is not None else ["label"]
    else:
        keys = (
            np.full(n_src, "all", dtype=object)
            if isinstance(by, str)
            else np.asarray(by, dtype=object)
        )
        if len(keys) != n_src:
            raise InputError(f"by needs one key per source ({n_src}), got {len(keys)}")
        for key in tqdm(pd.unique(keys), desc="isochrones", disable=not show, leave=False):
            sel = np.flatnonzero(keys == key)
            if seeds is not None:
                g_seeds = Seeds(seeds.node[sel], seeds.dist_m[sel], seeds.label[sel])
                g_sites = None
            else:
                g_sites = sites.take(sel)
                g_seeds = g_sites.seeds(net)
            dist, _ = multi_source(net, g_seeds, float(thr.max()))
            for t in thr:
                pieces = reached_streets(net, dist, t, sites=g_sites)
                rows.append(
                    {
                        "group": key,
                        "threshold_m": t,
                        "geometry": _corridor(pieces, corridor_m, quad_segs),
                    }
                )
        key_cols = ["group"]
    cols = [*key_cols, "threshold_m", "threshold_min", "area_m2", "geometry"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry="geometry", crs=net.crs)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=net.crs)
    out["threshold_m"] = out["threshold_m"].astype(float)
    out["threshold_min"] = settings.m_to_minutes(out["threshold_m"].to_numpy(), walk_speed_kmh)
    out["area_m2"] = shapely.area(out.geometry.to_numpy())
    return out[cols]


def _gather(ptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``concatenate([values[ptr[r]:ptr[r + 1]] for r in rows])``, vectorized."""
    start = ptr[rows]
    count = ptr[rows + 1] - start
    idx = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count - start, count)
    return values[idx]


def _incidence(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Edges at each node, CSR-style: edges of node v are ``edge[ptr[v]:ptr[v+1]]``."""
    ends = np.concatenate([net.u, net.v])
    edge = np.concatenate([np.arange(net.n_edges), np.arange(net.n_edges)])
    order = np.argsort(ends, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=net.n_nodes))])
    return ptr, edge[order]


# ====================================================================== rasters
def _grid(
    net: WalkNetwork, resolution_m: float, bounds: Sequence[float] | None
) -> tuple[float, float, int, int]:
    """(left, top, n_rows, n_cols); default bounds are the network's, aligned to the cell size."""
    if not np.isfinite(resolution_m) or resolution_m <= 0:
        raise InputError(f"resolution_m must be > 0, got {resolution_m!r}")
    if bounds is None:
        b = (
            shapely.total_bounds(net.geometry)
            if net.n_edges
            else (net.x_m.min(), net.y_m.min(), net.x_m.max(), net.y_m.max())
        )
        left = np.floor(b[0] / resolution_m) * resolution_m
        bottom = np.floor(b[1] / resolution_m) * resolution_m
        right = np.ceil(b[2] / resolution_m) * resolution_m
        top = np.ceil(b[3] / resolution_m) * resolution_m
        right = max(right, left + resolution_m)  # a straight street still gets one cell
        top = max(top, bottom + resolution_m)
    else:
        left, bottom, right, top = (float(x) for x in bounds)
        if right <= left or top <= bottom:
            raise InputError(f"bounds must be (left, bottom, right, top), got {bounds!r}")
    n_cols = max(1, int(np.ceil((right - left) / resolution_m - 1e-9)))
    n_rows = max(1, int(np.ceil((top - bottom) / resolution_m - 1e-9)))
    return float(left), float(top), n_rows, n_cols


def _transform(left: float, top: float, resolution_m: float) -> Affine:
    """North-up affine transform of a grid whose upper-left corner is (left, top)."""
    from affine import Affine

    return Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top)


def _grid_rows(
    net: WalkNetwork,
    dist_node: np.ndarray,
    label_node: np.ndarray | None,
    left: float,
    top: float,
    n_rows: int,
    n_cols: int,
    resolution_m: float,
    max_snap_m: float | None,
    sites: Sites | None,
    walk_speed_kmh: float | None,
    chunk_cells: int,
    show: bool,
) -> Iterator[tuple[int, np.ndarray]]:
    """Blocks of rows of walking minutes (float32, NaN off the network or unreached)."""
    if label_node is None:
        label_node = np.where(np.isfinite(dist_node), 0, -1)
        if sites is not None:
            sites = Sites(sites.snap, np.zeros(len(sites), dtype=np.int64))
    xs = left + (np.arange(n_cols) + 0.5) * resolution_m
    rows_per = max(1, chunk_cells // n_cols)
    for r0 in tqdm(
        range(0, n_rows, rows_per), desc="travel-time raster", disable=not show, leave=False
    ):
        r1 = min(n_rows, r0 + rows_per)
        ys = top - (np.arange(r0, r1) + 0.5) * resolution_m
        gx, gy = np.meshgrid(xs, ys)
        snap = net.snap(np.column_stack([gx.ravel(), gy.ravel()]), max_snap_m=max_snap_m)
        d, _ = point_distances(net, dist_node, label_node, snap, sites)
        minutes = settings.m_to_minutes(d, walk_speed_kmh)
        yield (
            r0,
            np.where(np.isfinite(minutes), minutes, np.nan)
            .astype(np.float32)
            .reshape(r1 - r0, n_cols),
        )


def travel_time_grid(
    net: WalkNetwork,
    dist_node: ArrayLike,
    resolution_m: float = 50.0,
    bounds: Sequence[float] | None = None,
    max_snap_m: float | None = None,
    *,
    label_node: np.ndarray | None = None,
    sites: Sites | None = None,
    walk_speed_kmh: float | None = None,
    chunk_cells: int = 250_000,
    progress: bool | None = None,
) -> tuple[np.ndarray, Affine]:
    """Compute walking minutes to the nearest facility at every cell centre, as an array.

    The values :func:`travel_time_raster` writes, kept in memory (NaN where it writes
    ``nodata``).

    Parameters
    ----------
    net : WalkNetwork
    dist_node : ndarray
        Walk to the nearest facility for every node (from
        :func:`~lifecircle_geo.engine.multi_source`).
    resolution_m : float
        Cell size in metres.
    bounds : (left, bottom, right, top), optional
        In ``net.crs``; default: the network's extent aligned outward to the cell size.
    max_snap_m : float, optional
        Cells farther from every street are NaN (default ``settings.max_snap_m``).
    label_node : ndarray, optional
        Labels from ``multi_source`` (only needed with ``sites``).
    sites : Sites, optional
        The facilities searched from: cells on a facility's edge walk straight to it.
    walk_speed_kmh : float, optional
        Walking speed (default ``settings.walk_speed_kmh``).
    chunk_cells : int
        Cells snapped at a time (memory).
    progress : bool, optional

    Returns
    -------
    minutes : ndarray of float32, shape (rows, cols)
        NaN off the network (beyond ``max_snap_m``) or beyond the search cutoff.
    transform : affine.Affine
        Maps (col, row) to the cell's upper-left corner, north up.

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    >>> mins, tr = travel_time_grid(net, np.array([0.0, 100.0]), 50, bounds=(-25, -25, 125, 25),
    ...                             max_snap_m=10)
    >>> (mins * 4000 / 60).round(1).tolist()  # back to metres at 4 km/h
    [[0.0, 50.0, 100.0]]
    """
    dist_node = np.asarray(dist_node, dtype=np.float64)
    if len(dist_node) != net.n_nodes:
        raise InputError(
            f"dist_node needs one value per node ({net.n_nodes}), got {len(dist_node)}"
        )
    left, top, n_rows, n_cols = _grid(net, resolution_m, bounds)
    show = settings.progress if progress is None else progress
    out = np.full((n_rows, n_cols), np.nan, dtype=np.float32)
    for r0, block in _grid_rows(
        net,
        dist_node,
        label_node,
        left,
        top,
        n_rows,
        n_cols,
        resolution_m,
        max_snap_m,
        sites,
        walk_speed_kmh,
        chunk_cells,
        show,
    ):
        out[r0 : r0 + len(block)] = block
    return out, _transform(left, top, resolution_m)


def travel_time_raster(
    net: WalkNetwork,
    dist_node: ArrayLike,
    path: str | os.PathLike,
    resolution_m: float = 50.0,
    bounds: Sequence[float] | None = None,
    max_snap_m: float | None = None,
    *,
    label_node: np.ndarray | None = None,
    sites: Sites | None = None,
    walk_speed_kmh: float | None = None,
    nodata: float = -9999.0,
    chunk_cells: int = 250_000,
    progress: bool | None = None,
) -> Path:
    """Write a GeoTIFF of walking minutes to the nearest facility (float32, ``net.crs``).

    Each cell centre is snapped to its nearest street; its value is the snap leg plus the walk
    along that edge to the better end plus the end node's distance, in minutes at
    ``walk_speed_kmh``. Cells farther than ``max_snap_m`` from every street, or beyond the search
    cutoff, are ``nodata``. Written block by block to a temporary name, then renamed.

    Parameters
    ----------
    net, dist_node, resolution_m, bounds, max_snap_m, label_node, sites, walk_speed_kmh,
    chunk_cells, progress
        As for :func:`travel_time_grid`.
    path : str or path-like
        The ``.tif`` to write.
    nodata : float
        Value of cells with no walk time.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np, tempfile, os, rasterio
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    >>> p = travel_time_raster(net, np.array([0.0, 100.0]),
    ...                        os.path.join(tempfile.mkdtemp(), "tt.tif"), 50)
    >>> with rasterio.open(p) as src:
    ...     src.crs.to_epsg(), src.dtypes[0]
    (32651, 'float32')
    """
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.windows import Window

    dist_node = np.asarray(dist_node, dtype=np.float64)
    if len(dist_node) != net.n_nodes:
        raise InputError(
            f"dist_node needs one value per node ({net.n_nodes}), got {len(dist_node)}"
        )
    path = Path(path)
    left, top, n_rows, n_cols = _grid(net, resolution_m, bounds)
    show = settings.progress if progress is None else progress
    epsg = net.crs.to_epsg()
    crs = RioCRS.from_epsg(epsg) if epsg else RioCRS.from_wkt(net.crs.to_wkt())
    profile = {
        "driver": "GTiff",
        "width": n_cols,
        "height": n_rows,
        "count": 1,
        "dtype": "float32",
        "nodata": float(nodata),
        "crs": crs,
        "transform": _transform(left, top, resolution_m),
        "compress": "deflate",
    }
    if n_cols >= 256 and n_rows >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    speed = walk_speed_kmh or settings.walk_speed_kmh
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.update_tags(
                units="minutes",
                walk_speed_kmh=str(speed),
                resolution_m=str(resolution_m),
                description="walking minutes to the nearest facility",
            )
            for r0, block in _grid_rows(
                net,
                dist_node,
                label_node,
                left,
                top,
                n_rows,
                n_cols,
                resolution_m,
                max_snap_m,
                sites,
                speed,
                chunk_cells,
                show,
            ):
                block = np.where(np.isnan(block), np.float32(nodata), block)
                dst.write(block, 1, window=Window(0, r0, n_cols, len(block)))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("wrote %s (%d × %d cells of %g m)", path, n_rows, n_cols, resolution_m)
    return path
