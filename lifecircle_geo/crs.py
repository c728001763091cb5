"""Coordinate systems: WGS-84, the Chinese GCJ-02 / BD-09 offsets, and a local metric CRS.

Facility tables that planners receive usually come from Chinese web maps: Amap (高德) and
Tencent give **GCJ-02** coordinates, Baidu gives **BD-09**, while OpenStreetMap is **WGS-84**.
In Shanghai the WGS-84 → GCJ-02 shift is about 470-490 m, mostly eastward, and BD-09 adds about
another 0.9 km, which is as large as the walking thresholds themselves. Every table must therefore
be brought to WGS-84 before it meets the OSM network.

The forward conversions are the widely published GCJ-02 formula (Krasovsky 1940 ellipsoid,
``a = 6378245.0``, ``ee = 0.00669342162296594323``) and Baidu's ``x_pi = π·3000/180`` formula with
offsets 0.0065 / 0.006. There is no closed-form inverse; the inverses here solve
``forward(p) = q`` by fixed-point iteration until the largest residual is below 1e-9 degrees
(about 0.1 mm), which takes three or four iterations.

The shift applies only inside China, approximated by the usual rough bounding box
(lon 72.004-137.8347, lat 0.8293-55.8271); points outside it are returned unchanged, element by
element. A point with a NaN longitude or latitude comes back as NaN in both.

Metric work (buffers, distances, areas) happens in a projected CRS: :func:`local_utm_crs` and
:func:`utm_crs_for` pick the UTM zone of a centre point (EPSG:32651, zone 51N, for Shanghai), and
:func:`resolve_crs` turns a user's CRS argument into a :class:`pyproj.CRS`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.exceptions import CRSError

from lifecircle_geo.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CHINA_BBOX",
    "SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "canonical_system",
    "convert",
    "convert_geometry",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_utm_crs",
    "resolve_crs",
    "utm_crs_for",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

logger = logging.getLogger(__name__)

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's BD-09 constants.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

#: Rough bounding box of China (min lon, min lat, max lon, max lat) inside which the shift applies.
CHINA_BBOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: The coordinate systems :func:`convert` knows, by canonical name.
SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "bd09": "bd09",
}

#: An inverse iteration stops for a point once its residual (degrees) falls below this.
_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 30

Coord = float | NDArray[np.float64]
_PairFunc = Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[np.ndarray, np.ndarray]]
_G = TypeVar("_G")


# --------------------------------------------------------------------------------------------
# array helpers
# --------------------------------------------------------------------------------------------


def _prepare(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Return float64 copies of ``lon``/``lat`` broadcast together, and whether both were scalars.

    A point with NaN in either coordinate is set to NaN in both.
    """
    lon_arr = np.array(lon, dtype=np.float64)
    lat_arr = np.array(lat, dtype=np.float64)
    scalar = lon_arr.ndim == 0 and lat_arr.ndim == 0
    try:
        lon_arr, lat_arr = np.broadcast_arrays(lon_arr, lat_arr)
    except ValueError as exc:
        raise InputError(
            f"lon and lat have incompatible shapes {lon_arr.shape} and {lat_arr.shape}"
        ) from exc
    lon_arr = lon_arr.copy()
    lat_arr = lat_arr.copy()
    missing = np.isnan(lon_arr) | np.isnan(lat_arr)
    lon_arr[missing] = np.nan
    lat_arr[missing] = np.nan
    return lon_arr, lat_arr, scalar


def _finish(
    lon: NDArray[np.float64], lat: NDArray[np.float64], scalar: bool
) -> tuple[Coord, Coord]:
    """Return Python floats for scalar input, float64 arrays otherwise."""
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _in_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Return, element-wise, whether each point is in the rough China box (NaN: outside)."""
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def _apply_inside(func: _PairFunc, lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Apply ``func`` to the points inside China and leave the rest unchanged."""
    lon_arr, lat_arr, scalar = _prepare(lon, lat)
    inside = _in_china(lon_arr, lat_arr)
    if inside.any():
        new_lon, new_lat = func(lon_arr[inside], lat_arr[inside])
        lon_arr[inside] = new_lon
        lat_arr[inside] = new_lat
    return _finish(lon_arr, lat_arr, scalar)


# --------------------------------------------------------------------------------------------
# raw formulas (no bounding-box test), on 1-d float64 arrays
# --------------------------------------------------------------------------------------------


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → GCJ-02 by the published formula, applied everywhere."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return lon + dlon, lat + dlat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 by Baidu's published formula, applied everywhere."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_inverse_approx(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02 by the published approximate inverse (about 1e-6 degrees off)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: _PairFunc,
    lon: np.ndarray,
    lat: np.ndarray,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    name: str = "inverse",
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(p) == (lon, lat)`` for ``p`` by fixed-point iteration.

    Iterates ``p <- p - (forward(p) - target)`` from ``start`` (default: the target itself). Each
    point stops once its own residual is below ``_INVERSE_TOL_DEG`` in both coordinates, so a
    point's result does not depend on the other points in the batch; all stop after
    ``_INVERSE_MAX_ITER`` iterations at most.
    """
    guess_lon, guess_lat = (lon.copy(), lat.copy()) if start is None else start
    active = np.arange(lon.size)
    err = 0.0
    iteration = 0
    while active.size and iteration < _INVERSE_MAX_ITER:
        iteration += 1
        fwd_lon, fwd_lat = forward(guess_lon[active], guess_lat[active])
        d_lon = fwd_lon - lon[active]
        d_lat = fwd_lat - lat[active]
        guess_lon[active] -= d_lon
        guess_lat[active] -= d_lat
        resid = np.maximum(np.abs(d_lon), np.abs(d_lat))
        err = float(resid.max())
        active = active[~(resid < _INVERSE_TOL_DEG)]
    if active.size:
        logger.warning(
            "%s did not converge for %d of %d points in %d iterations: max error %.2e deg",
            name,
            active.size,
            lon.size,
            _INVERSE_MAX_ITER,
            err,
        )
    else:
        logger.debug("%s: %d points converged in %d iterations", name, lon.size, iteration)
    return guess_lon, guess_lat


def _gcj_inverse(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_gcj_forward, lon, lat, name="gcj02_to_wgs84")


def _bd_inverse(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_bd_forward, lon, lat, start=_bd_inverse_approx(lon, lat), name="bd09_to_gcj02")


def _wgs_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _bd_forward(*_gcj_forward(lon, lat))


def _bd_to_wgs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_inverse(*_bd_inverse(lon, lat))


# --------------------------------------------------------------------------------------------
# public point conversions
# --------------------------------------------------------------------------------------------


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert WGS-84 coordinates to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS-84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)  # Shanghai
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
    >>> wgs84_to_gcj02(-0.1276, 51.5072)  # London: outside China, unchanged
    (-0.1276, 51.5072)
    """
    return _apply_inside(_gcj_forward, lon, lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert GCJ-02 coordinates (Amap, Tencent) to WGS-84.

    Inverts :func:`wgs84_to_gcj02` by fixed-point iteration to better than 1e-9 degrees.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS-84 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84([121.531541859215], [31.17530398364597])
    >>> lon.round(7), lat.round(7)
    (array([121.5272106]), array([31.1774276]))
    """
    return _apply_inside(_gcj_inverse, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert GCJ-02 coordinates to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)  # Beijing
    >>> round(lon, 6), round(lat, 6)
    (116.410369, 39.921337)
    """
    return _apply_inside(_bd_forward, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert BD-09 coordinates (Baidu) to GCJ-02.

    Starts from Baidu's published approximate inverse and refines it by fixed-point iteration to
    better than 1e-9 degrees.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351021)
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    return _apply_inside(_bd_inverse, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert WGS-84 coordinates to BD-09 (Baidu), through GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS-84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(121.5272106, 31.1774276)
    >>> round(lon, 4), round(lat, 4)
    (121.538, 31.1813)
    """
    return _apply_inside(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coord, Coord]:
    """Convert BD-09 coordinates (Baidu) to WGS-84, through GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS-84 coordinates: Python floats when both inputs are scalars, float64 arrays otherwise.
        Points outside China's rough bounding box are returned unchanged; NaN stays NaN.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(121.5272106, 31.1774276))
    >>> round(lon, 9), round(lat, 9)
    (121.5272106, 31.1774276)
    """
    return _apply_inside(_bd_to_wgs, lon, lat)


_CONVERSIONS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], tuple[Coord, Coord]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def canonical_system(name: object) -> str:
    """Canonical name (``"wgs84"``, ``"gcj02"`` or ``"bd09"``) of a coordinate system name.

    Raises
    ------
    InputError
        For a name that is none of them.

    Examples
    --------
    >>> canonical_system("GCJ-02"), canonical_system("EPSG:4326")
    ('gcj02', 'wgs84')
    """
    return _system(name, "")


def _system(name: object, role: str) -> str:
    """Canonical system name for ``name`` or an :class:`InputError` naming the bad value."""
    key = None
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key is None or key not in _ALIASES:
        raise InputError(
            f"unknown {role + ' ' if role else ''}coordinate system {name!r}: expected one of "
            "'wgs84' "
            "(aliases 'wgs-84', 'epsg:4326'), 'gcj02' ('gcj-02') or 'bd09' ('bd-09')"
        )
    return _ALIASES[key]


def convert(lon: ArrayLike, lat: ArrayLike, src: str, dst: str) -> tuple[Coord, Coord]:
    """Convert coordinates between WGS-84, GCJ-02 and BD-09.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees in the ``src`` system.
    src, dst : str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``, case-insensitive; ``"wgs-84"``, ``"epsg:4326"``,
        ``"gcj-02"`` and ``"bd-09"`` are accepted too.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        Coordinates in ``dst``: Python floats for scalar input, float64 arrays otherwise.

    Raises
    ------
    InputError
        If ``src`` or ``dst`` is not a known system (the message names the value).

    Examples
    --------
    >>> lon, lat = convert(121.5272106, 31.1774276, "WGS-84", "gcj02")
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
    >>> convert([1.0], [2.0], "bd09", "bd09")
    (array([1.]), array([2.]))
    """
    src_key = _system(src, "source")
    dst_key = _system(dst, "target")
    if src_key == dst_key:
        lon_arr, lat_arr, scalar = _prepare(lon, lat)
        return _finish(lon_arr, lat_arr, scalar)
    return _CONVERSIONS[(src_key, dst_key)](lon, lat)


def convert_geometry(geom: _G, src: str, dst: str) -> _G:
    """Convert the coordinates of shapely geometries, a GeoSeries or a GeoDataFrame.

    Uses :func:`shapely.transform` (vectorized over all vertices at once); Z values are kept.

    Parameters
    ----------
    geom : shapely.Geometry, array_like of geometries, geopandas.GeoSeries or GeoDataFrame
        Geometries with longitude/latitude coordinates in ``src``. A GeoSeries/GeoDataFrame must
        have a geographic CRS or none (GCJ-02 and BD-09 data are usually labelled EPSG:4326).
        For a GeoDataFrame only the active geometry column is converted.
    src, dst : str
        Coordinate systems, as for :func:`convert`.

    Returns
    -------
    same type as ``geom``
        A new object of the same type (a numpy object array for a list or array of geometries);
        the input is not modified. The CRS label of a GeoSeries/GeoDataFrame is kept as it was.

    Raises
    ------
    InputError
        For an unknown system name, or a GeoSeries/GeoDataFrame in a projected CRS.

    Examples
    --------
    >>> from shapely import Point
    >>> p = convert_geometry(Point(121.5272106, 31.1774276), "wgs84", "gcj02")
    >>> round(p.x, 6), round(p.y, 6)
    (121.531542, 31.175304)
    """
    src_key = _system(src, "source")
    dst_key = _system(dst, "target")

    def _func(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        new_x, new_y = convert(x, y, src_key, dst_key)
        return (new_x, new_y) if z is None else (new_x, new_y, z)

    def _transform(values: Any) -> Any:
        return shapely.transform(values, _func, include_z=None, interleaved=False)

    import geopandas as gpd  # deferred: geopandas is slow to import

    if isinstance(geom, gpd.GeoDataFrame | gpd.GeoSeries):
        crs = geom.crs
        if crs is not None and not crs.is_geographic:
            raise InputError(
                f"convert_geometry needs longitude/latitude coordinates, but the data are in the "
                f"projected CRS {crs.to_string()!r}; convert with .to_crs(4326) first"
            )
        if isinstance(geom, gpd.GeoSeries):
            return gpd.GeoSeries(_transform(geom.values), index=geom.index, crs=crs, name=geom.name)  # type: ignore[return-value]
        out = geom.copy()
        column = geom.geometry.name
        out[column] = gpd.GeoSeries(
            _transform(geom.geometry.values), index=geom.index, crs=crs, name=column
        )
        return out  # type: ignore[return-value]
    return _transform(geom)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# metric CRS
# --------------------------------------------------------------------------------------------


def local_utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """Return the WGS-84 UTM zone CRS (north or south) containing a centre point.

    Uses the regular 6-degree zones (the Norway/Svalbard exceptions are ignored).

    Parameters
    ----------
    lon, lat : float
        Centre point in degrees (WGS-84; a GCJ-02 point gives the same zone in practice).

    Returns
    -------
    pyproj.CRS
        EPSG:326zz for the northern hemisphere (``lat >= 0``), EPSG:327zz for the southern.

    Raises
    ------
    InputError
        If the point is not finite or out of range.

    Examples
    --------
    >>> local_utm_crs(121.4, 31.2).to_epsg()  # Shanghai
    32651
    >>> local_utm_crs(151.2, -33.9).to_epsg()  # Sydney
    32756
    """
    lon_f, lat_f = float(lon), float(lat)
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)) or not (
        -180.0 <= lon_f <= 180.0 and -90.0 <= lat_f <= 90.0
    ):
        raise InputError(
            f"centre point ({lon!r}, {lat!r}) is not a longitude in [-180, 180] and a latitude in "
            "[-90, 90]"
        )
    zone = min(math.floor((lon_f + 180.0) / 6.0) + 1, 60)
    epsg = (32600 if lat_f >= 0.0 else 32700) + zone
    return pyproj.CRS.from_epsg(epsg)


def utm_crs_for(
    obj: gpd.GeoDataFrame | gpd.GeoSeries | tuple[float, float, float, float],
) -> pyproj.CRS:
    """Return the UTM CRS of the centre of some data's bounds.

    Parameters
    ----------
    obj : geopandas.GeoDataFrame, geopandas.GeoSeries or tuple of 4 floats
        Data in any CRS (data without a CRS are taken as longitude/latitude), or WGS-84 bounds
        ``(minx, miny, maxx, maxy)``.

    Returns
    -------
    pyproj.CRS
        As :func:`local_utm_crs` for the centre of the bounds.

    Raises
    ------
    InputError
        For empty data or something that is neither data nor a 4-tuple of numbers.

    Examples
    --------
    >>> utm_crs_for((120.85, 30.65, 122.0, 31.9)).to_epsg()
    32651
    """
    import geopandas as gpd  # deferred: geopandas is slow to import

    if isinstance(obj, gpd.GeoDataFrame | gpd.GeoSeries):
        minx, miny, maxx, maxy = (float(v) for v in obj.total_bounds)
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
            raise InputError("cannot choose a UTM zone for empty data (no finite bounds)")
        if obj.crs is not None and not obj.crs.is_geographic:
            transformer = pyproj.Transformer.from_crs(obj.crs, 4326, always_xy=True)
            minx, miny, maxx, maxy = transformer.transform_bounds(minx, miny, maxx, maxy)
    else:
        try:
            minx, miny, maxx, maxy = (float(v) for v in obj)  # type: ignore[union-attr]
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"expected a GeoDataFrame, GeoSeries or (minx, miny, maxx, maxy) bounds, got "
                f"{obj!r}"
            ) from exc
    return local_utm_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def resolve_crs(crs: str | int | pyproj.CRS | Any | None) -> pyproj.CRS | None:
    """Turn a user's CRS argument into a :class:`pyproj.CRS`.

    Parameters
    ----------
    crs : None, "utm", int, str or pyproj.CRS
        ``None`` or ``"utm"`` (any case) mean "choose the local UTM zone later" and give ``None``;
        an int is an EPSG code; a string or anything else is passed to
        :meth:`pyproj.CRS.from_user_input`.

    Returns
    -------
    pyproj.CRS or None

    Raises
    ------
    InputError
        If the value is not a CRS pyproj knows. GCJ-02 and BD-09 are not CRSs: convert such
        coordinates to WGS-84 with :func:`convert` first.

    Examples
    --------
    >>> resolve_crs("utm") is None
    True
    >>> resolve_crs(4549).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 120E'
    """
    if crs is None:
        return None
    if isinstance(crs, pyproj.CRS):
        return crs
    if isinstance(crs, str):
        key = crs.strip().lower()
        if key == "utm":
            return None
        if key.replace("-", "").replace("_", "") in ("gcj02", "bd09"):
            raise InputError(
                f"CRS {crs!r} is an offset of WGS-84 with no EPSG code; convert the coordinates "
                "to WGS-84 with lifecircle_geo.crs.convert first"
            )
    if isinstance(crs, bool):
        raise InputError(f"unknown CRS {crs!r}: expected None, 'utm', an EPSG code or a CRS")
    try:
        if isinstance(crs, int | np.integer):
            return pyproj.CRS.from_epsg(int(crs))
        return pyproj.CRS.from_user_input(crs)
    except CRSError as exc:
        raise InputError(
            f"unknown CRS {crs!r}: expected None, 'utm', an EPSG code, a CRS string or a pyproj.CRS"
            f" ({exc})"
        ) from exc


#: Display names of the systems, for messages.
SYSTEM_LABELS: dict[str, str] = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}
