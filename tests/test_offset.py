"""detect_offset: a table labelled WGS-84 that is really GCJ-02 or BD-09, and the check's power.

The check answers ``fits``, ``offset`` or ``inconclusive`` (with the reason and the numbers).
Networks: the sample, the real Tongji extract from ../shared (skipped when absent), and
synthetic street grids placed in Shanghai (dense: no power; sparse: power).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from conftest import SAMPLE, shared_file

import lifecircle_geo as lc
from lifecircle_geo import crs, offset
from lifecircle_geo.errors import InputError
from lifecircle_geo.mock import grid_city

TO_UTM = pyproj.Transformer.from_crs(4326, 32651, always_xy=True)
TO_LL = pyproj.Transformer.from_crs(32651, 4326, always_xy=True)


@pytest.fixture(scope="module")
def sample_net():
    return lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")


@pytest.fixture(scope="module")
def sample_gcj02_lonlat() -> np.ndarray:
    import pandas as pd

    df = pd.read_excel(SAMPLE / "facilities_gcj02.xlsx")
    return np.column_stack([df["经度"].to_numpy(float), df["纬度"].to_numpy(float)])


def _grid_in_shanghai(spacing_m: float, n_nodes: int) -> lc.WalkNetwork:
    """A jittered street grid (lifecircle_geo.mock.grid_city) centred on People's Square."""
    x, y, u, v, length = grid_city(n_nodes, seed=3, spacing_m=spacing_m)
    x0, y0 = TO_UTM.transform(121.47, 31.23)
    return lc.WalkNetwork.from_arrays(x + x0, y + y0, u, v, length, crs=32651)


def _near_streets(net, n, seed, setback_m=(5.0, 40.0)) -> np.ndarray:
    """``n`` WGS-84 facility points beside the streets of the central half of ``net``.

    Each stands ``setback_m`` off a random point of a random street (by length), to either
    side, as a shop or clinic stands back from its street.
    """
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = shapely.total_bounds(net.geometry)
    cx, cy, half = (xmin + xmax) / 2, (ymin + ymax) / 2, 0.25 * min(xmax - xmin, ymax - ymin)
    w = net.length_m / net.length_m.sum()
    out: list[tuple[float, float]] = []
    while len(out) < n:
        line = net.geometry[rng.choice(net.n_edges, p=w)]
        t = rng.uniform(1.0, line.length - 1.0)
        p, q = line.interpolate(t), line.interpolate(t + 1.0)
        dx, dy = (q.x - p.x), (q.y - p.y)
        s = rng.uniform(*setback_m) * rng.choice([-1.0, 1.0]) / np.hypot(dx, dy)
        x, y = p.x - dy * s, p.y + dx * s
        if abs(x - cx) < half and abs(y - cy) < half:
            out.append((x, y))
    xy = np.asarray(out)
    return np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1]))


def _as_gcj02(lonlat: np.ndarray) -> np.ndarray:
    return np.column_stack(crs.wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1]))


# ---------------------------------------------------------------------- the sample table
def test_sample_table_read_as_wgs84_is_an_offset(sample_net, sample_gcj02_lonlat):
    check = offset.detect_offset(sample_gcj02_lonlat, sample_net)  # GCJ-02 read as WGS-84
    assert isinstance(check, offset.OffsetCheck)
    assert (check.labelled, check.likely, check.warn) == ("wgs84", "gcj02", True)
    assert check.verdict == "offset" and check.reason == ""
    assert check.n_points == 13
    # measured on the sample: WGS-84 65 m, GCJ-02 25 m, BD-09 125 m; moved 487 m: ~42 m
    med = check.medians_m
    assert 50 < med["wgs84"] < 80 and 15 < med["gcj02"] < 35 and med["bd09"] > 100
    assert 470 < check.shift_m < 500 and 30 < check.background_m < 55
    assert check.p_value < 0.02
    assert "GCJ-02" in check.message and "65 m" in check.message and "25 m" in check.message
    assert check.as_dict()["likely"] == "gcj02" and check.as_dict()["verdict"] == "offset"
    assert check.log_level == logging.WARNING


def test_sample_table_labelled_right_fits(sample_net, sample_gcj02_lonlat):
    check = offset.detect_offset(sample_gcj02_lonlat, sample_net, labelled="gcj02")
    assert (check.verdict, check.likely, check.warn) == ("fits", "gcj02", False)
    assert "fit the network" in check.message and check.log_level == logging.INFO


def test_sample_table_converted_is_inconclusive_not_fits(sample_net, sample_gcj02_lonlat):
    # converted to WGS-84, the 13 points lie 25 m from a street as WGS-84 and 22 m read as
    # GCJ-02: the right system is not the best one, and nothing can be concluded
    lon, lat = crs.gcj02_to_wgs84(sample_gcj02_lonlat[:, 0], sample_gcj02_lonlat[:, 1])
    converted = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    check = offset.detect_offset(converted, sample_net)
    assert not check.warn and check.verdict == "inconclusive"
    assert check.medians_m["wgs84"] < 35
    assert check.message.startswith("offset check inconclusive")
    assert "too close to tell" in check.reason and "fit the network" not in check.message


def test_osm_facilities_fit(sample_net):
    fac = lc.facilities.from_osm(SAMPLE / "sample.osm")  # true WGS-84, points and polygons
    check = offset.detect_offset(fac, sample_net)
    assert (check.verdict, check.likely, check.warn) == ("fits", "wgs84", False)
    assert check.n_points == len(fac) >= 20
    assert check.medians_m["wgs84"] < check.medians_m["gcj02"] < check.medians_m["bd09"]
    assert check.medians_m["wgs84"] < 0.75 * check.background_m
    # the same facilities in a projected CRS are taken back to WGS-84 first
    again = offset.detect_offset(fac.to_crs(32651).geometry, sample_net)
    assert again.medians_m == pytest.approx(check.medians_m, abs=1e-6)
    assert again.background_m == pytest.approx(check.background_m)  # reproducible


def test_bd09_is_an_offset(sample_net, sample_gcj02_lonlat):
    lon, lat = crs.gcj02_to_bd09(sample_gcj02_lonlat[:, 0], sample_gcj02_lonlat[:, 1])
    check = offset.detect_offset(np.column_stack([lon, lat]), sample_net)
    assert (check.verdict, check.likely, check.warn) == ("offset", "bd09", True)
    assert check.medians_m["bd09"] < 0.2 * check.medians_m["wgs84"]
    assert "BD-09" in check.message and "coords='bd09'" in check.message


def test_few_far_or_no_points_are_inconclusive(sample_net, sample_gcj02_lonlat):
    few = offset.detect_offset(sample_gcj02_lonlat[:3], sample_net)
    assert (few.verdict, few.warn, few.n_points) == ("inconclusive", False, 3)
    assert "too few" in few.reason and "inconclusive" in few.message and "3 points" in few.message
    beijing = np.array([[116.40, 39.90], [116.41, 39.91]])
    far = offset.detect_offset(np.vstack([sample_gcj02_lonlat, beijing]), sample_net)
    assert far.n_points == 13 and far.warn  # points outside the network's area are left out
    none = offset.detect_offset(beijing, sample_net)
    assert (none.n_points, none.warn, none.verdict) == (0, False, "inconclusive")
    assert "no point lies within" in none.reason
    empty = offset.detect_offset(np.empty((0, 2)), sample_net)
    assert (empty.n_points, empty.verdict) == (0, "inconclusive")
    one = offset.detect_offset(sample_gcj02_lonlat, sample_net, hypotheses=("wgs84",))
    assert one.verdict == "inconclusive" and "only one system" in one.reason
    with pytest.raises(InputError):
        offset.detect_offset(sample_gcj02_lonlat, sample_net, labelled="gcj")


# ---------------------------------------------------------------------- power
@pytest.fixture(scope="module")
def dense_grid():
    """Streets every ~60 m (footways and lanes mapped): any point is near one."""
    return _grid_in_shanghai(60.0, 3000)


@pytest.fixture(scope="module")
def sparse_grid():
    """Streets every ~300 m (arterials only)."""
    return _grid_in_shanghai(300.0, 600)


def test_small_gcj02_table_on_a_dense_grid_is_inconclusive(dense_grid, caplog):
    """The issue's case: 8 GCJ-02 points labelled WGS-84 got "fit the network"."""
    table = _as_gcj02(_near_streets(dense_grid, 8, seed=1))
    with caplog.at_level(logging.DEBUG, logger="lifecircle_geo"):
        check = offset.detect_offset(table, dense_grid)
    assert (check.verdict, check.warn) == ("inconclusive", False)
    assert "streets are too dense" in check.reason
    assert check.background_m <= 25.0  # points moved by ~480 m still lie this near a street
    assert 470 < check.shift_m < 500
    msg = check.message
    assert msg.startswith("offset check inconclusive for coordinates labelled WGS-84")
    assert "fit the network" not in msg and check.reason in msg
    for h in ("wgs84", "gcj02", "bd09"):  # the numbers are all there
        assert f"{crs.SYSTEM_LABELS[h]} {check.medians_m[h]:.0f} m" in msg
    assert f"{check.background_m:.0f} m" in msg and "8 points" in msg
    assert check.log_level == logging.WARNING
    assert check.as_dict()["reason"] == check.reason
    # detect_offset itself only logs at DEBUG: the caller logs at check.log_level
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG]


def test_many_points_do_not_give_a_dense_grid_power(dense_grid):
    right = offset.detect_offset(_near_streets(dense_grid, 80, seed=2), dense_grid)
    shifted = offset.detect_offset(_as_gcj02(_near_streets(dense_grid, 80, seed=2)), dense_grid)
    for check in (right, shifted):
        assert check.verdict == "inconclusive" and "no power" in check.reason


def test_sparse_grid_confirms_right_labels_and_finds_the_offset(sparse_grid):
    pts = _near_streets(sparse_grid, 40, seed=3, setback_m=(5.0, 25.0))
    right = offset.detect_offset(pts, sparse_grid)
    assert (right.verdict, right.likely, right.warn) == ("fits", "wgs84", False)
    assert right.background_m > 2 * right.medians_m["wgs84"]
    shifted = offset.detect_offset(_as_gcj02(pts), sparse_grid)
    assert (shifted.verdict, shifted.likely, shifted.warn) == ("offset", "gcj02", True)
    assert "coords='gcj02'" in shifted.message


def test_few_points_need_overwhelming_evidence(sparse_grid):
    pts = _near_streets(sparse_grid, 40, seed=3, setback_m=(5.0, 25.0))
    verdicts = {}
    for n in (5, 8, 12):
        verdicts[n] = offset.detect_offset(pts[:n], sparse_grid)
    assert verdicts[5].verdict == "inconclusive" and "too few" in verdicts[5].reason
    for check in verdicts.values():
        assert check.verdict in ("fits", "inconclusive")  # never a false offset
        if check.verdict == "inconclusive":
            assert "inconclusive" in check.message and check.reason
    # a tight threshold for few points turns even a clear case into "inconclusive", saying so
    strict = offset.detect_offset(pts[:12], sparse_grid, few_alpha=1e-9)
    assert strict.verdict == "inconclusive" and "not overwhelming" in strict.reason


def test_outside_china_the_systems_coincide():
    # a street grid in London (UTM 30N): GCJ-02 and BD-09 leave coordinates unchanged there
    x0, y0 = pyproj.Transformer.from_crs(4326, 32630, always_xy=True).transform(-0.1276, 51.5072)
    xs = x0 + np.arange(6) * 200.0
    ys = y0 + np.arange(6) * 200.0
    gx, gy = np.meshgrid(xs, ys)
    idx = np.arange(36).reshape(6, 6)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = lc.WalkNetwork.from_arrays(gx.ravel(), gy.ravel(), u, v, np.full(len(u), 200.0), 32630)
    rng = np.random.default_rng(0)
    px, py = x0 + rng.uniform(0, 1000, 30), y0 + np.round(rng.uniform(0, 5, 30)) * 200 + 10
    lon, lat = pyproj.Transformer.from_crs(32630, 4326, always_xy=True).transform(px, py)
    check = offset.detect_offset(np.column_stack([lon, lat]), net)
    assert check.verdict == "inconclusive" and "nothing to tell apart" in check.reason
    assert check.shift_m == pytest.approx(0.0, abs=1e-6)


def test_takes_any_object_that_snaps():
    """The network is typed loosely: anything with snap(points, max_snap_m, points_crs)."""

    class Grid:
        """Streets every 200 m east-west and north-south around (121.40, 31.24)."""

        crs = pyproj.CRS.from_epsg(32651)

        def snap(self, points, max_snap_m=None, points_crs=None):
            import pandas as pd

            tr = pyproj.Transformer.from_crs(points_crs, self.crs, always_xy=True)
            x, y = tr.transform(points[:, 0], points[:, 1])
            dx, dy = np.abs((x + 100) % 200 - 100), np.abs((y + 100) % 200 - 100)
            return pd.DataFrame({"snap_m": np.minimum(dx, dy)})

    grid = Grid()
    rng = np.random.default_rng(1)
    x0, y0 = TO_UTM.transform(121.40, 31.24)
    gx = np.round((x0 + rng.uniform(-1500, 1500, 40)) / 200) * 200 + rng.uniform(5, 20, 40)
    gy = np.round((y0 + rng.uniform(-1500, 1500, 40)) / 200) * 200 + rng.uniform(-90, 90, 40)
    lon, lat = TO_LL.transform(gx, gy)  # true WGS-84 points 5-20 m off a north-south street
    right = offset.detect_offset(np.column_stack([lon, lat]), grid)
    assert not right.warn and right.verdict in ("fits", "inconclusive")
    shifted = np.column_stack(crs.wgs84_to_gcj02(lon, lat))
    check = offset.detect_offset(shifted, grid)
    assert (check.likely, check.warn, check.verdict) == ("gcj02", True, "offset")


# ---------------------------------------------------------------------- real Tongji data
def _tongji_building_centroids(path: Path) -> np.ndarray:
    """Centroids of the mapped buildings: where a POI table puts its points, in WGS-84."""
    root = ET.parse(path).getroot()
    ll = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    out = []
    for way in root.iter("way"):
        if any(t.get("k") == "building" for t in way.iter("tag")):
            ring = [ll[r.get("ref")] for r in way.iter("nd") if r.get("ref") in ll]
            if len(ring) >= 4:
                out.append(shapely.Polygon(ring).centroid.coords[0])
    return np.asarray(out)


@pytest.fixture(scope="module")
def tongji():
    path = shared_file("yangpu_tongji.osm")
    return lc.WalkNetwork.from_osm(path), _tongji_building_centroids(path)


def test_real_tongji_buildings_as_gcj02_are_an_offset(tongji):
    net, centroids = tongji
    assert len(centroids) > 200
    check = offset.detect_offset(_as_gcj02(centroids), net)
    assert (check.verdict, check.likely, check.warn) == ("offset", "gcj02", True)
    assert check.n_points == len(centroids)
    assert check.medians_m["gcj02"] < 0.6 * check.medians_m["wgs84"]
    assert check.background_m > 2 * 25.0


def test_real_tongji_buildings_as_labelled_fit(tongji):
    net, centroids = tongji
    check = offset.detect_offset(centroids, net)
    assert (check.verdict, check.likely, check.warn) == ("fits", "wgs84", False)
    # the same buildings, only eight of them: no verdict from so few
    few = offset.detect_offset(_as_gcj02(centroids[:: len(centroids) // 8][:8]), net)
    assert few.verdict == "inconclusive" and "too close to tell" in few.reason
