"""Isochrone polygons from street corridors, and travel-time GeoTIFFs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

import lifecircle_geo as lc
from lifecircle_geo.isochrones import (
    isochrones,
    reached_streets,
    travel_time_grid,
    travel_time_raster,
)
from lifecircle_geo.routing import Sites, multi_source, seeds_from_snap

M_PER_MIN = lc.settings.walk_speed_kmh * 1000 / 60


def _grid(k=9, step=100.0):
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    node = ii * k + jj
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    return lc.WalkNetwork.from_arrays(
        (jj * step).ravel().astype(float),
        (ii * step).ravel().astype(float),
        u,
        v,
        np.full(len(u), step),
        crs=32651,
    )


def _line(lengths=(100.0, 100.0, 100.0), cost=None):
    x = np.concatenate([[0.0], np.cumsum(lengths)])
    n = len(x)
    return lc.WalkNetwork.from_arrays(
        x,
        np.zeros(n),
        np.arange(n - 1),
        np.arange(1, n),
        np.asarray(lengths, float),
        crs=32651,
        cost_m=cost,
    )


def _node_dist(net, pts):
    snap = net.snap(pts)
    d, _ = multi_source(net, seeds_from_snap(net, snap, np.arange(len(snap))), 1e6)
    return d


# ---------------------------------------------------------------------- polygons
def test_isochrone_contains_reached_nodes_and_excludes_far_ones():
    net = _grid()
    pts = np.array([[350.0, 420.0], [130.0, 0.0], [800.0, 760.0]])  # mid-edge, off-street too
    corridor = 40.0
    iso = isochrones(net, pts, [170.0, 330.0, 520.0], corridor_m=corridor)
    assert len(iso) == 9 and iso.crs == net.crs
    assert set(iso.columns) >= {"label", "threshold_m", "threshold_min", "area_m2", "geometry"}
    nodes = shapely.points(net.x_m, net.y_m)
    for row in iso.itertuples():
        d = _node_dist(net, pts[[row.label]])
        inside = shapely.contains(row.geometry, nodes)
        t = row.threshold_m
        assert inside[d <= t].all()
        assert not inside[d > t + corridor].any()
        assert (d > t + corridor).any()  # the check is not vacuous
        assert row.threshold_min == pytest.approx(t / M_PER_MIN)


def test_isochrone_cuts_partial_edges():
    net = _line()
    iso = isochrones(net, np.array([[0.0, 0.0]]), [150.0], corridor_m=10)
    poly = iso.geometry.iloc[0]
    assert poly.contains(shapely.Point(145, 0)) and not poly.contains(shapely.Point(175, 0))
    assert poly.bounds == pytest.approx((-10, -10, 160, 10), abs=1e-6)
    assert iso.area_m2.iloc[0] == pytest.approx(150 * 20 + np.pi * 100, rel=0.02)
    # partial edges from both ends: a source at node 0 and node 3, threshold 120 m
    two = isochrones(
        net, np.array([[0.0, 0.0], [300.0, 0.0]]), [120.0], by="all", corridor_m=5
    ).geometry.iloc[0]
    assert two.contains(shapely.Point(115, 0)) and two.contains(shapely.Point(185, 0))
    assert not two.contains(shapely.Point(150, 0))


def test_isochrone_on_a_long_edge_and_with_costs():
    # a facility 20 m off the middle of a 1,000 m edge: neither end is within 100 m
    net = _line((1000.0,))
    poly = isochrones(net, np.array([[500.0, 20.0]]), [100.0], corridor_m=5).geometry.iloc[0]
    assert poly.contains(shapely.Point(500, 20))  # its walk to the street
    assert poly.contains(shapely.Point(578, 0)) and not poly.contains(shapely.Point(590, 0))
    # steps: the edge costs twice its length, so 100 m of budget walks 50 m of it
    steps = _line((100.0,), cost=[200.0])
    p2 = isochrones(steps, np.array([[0.0, 0.0]]), [100.0], corridor_m=2).geometry.iloc[0]
    assert p2.contains(shapely.Point(48, 0)) and not p2.contains(shapely.Point(53, 0))


def test_isochrone_groups_are_unions_of_facilities():
    net = _grid()
    fac = gpd.GeoDataFrame(
        {"category": ["clinic", "school", "clinic"], "facility_id": ["c1", "s1", "c2"]},
        geometry=shapely.points([[120, 300], [600, 600], [700, 110]]),
        crs=net.crs,
    )
    per = isochrones(net, fac, [250.0], corridor_m=30)
    assert per["facility_id"].tolist() == ["c1", "s1", "c2"]
    grouped = isochrones(net, fac, [250.0], by="category", corridor_m=30)
    assert grouped["group"].tolist() == ["clinic", "school"]
    clinic = grouped.geometry.iloc[0]
    union = shapely.union_all(per.geometry.iloc[[0, 2]].to_numpy())
    assert clinic.symmetric_difference(union).area < 1e-3 * union.area
    # sources in another CRS are reprojected
    again = isochrones(net, fac.to_crs(4326), [250.0], by="all", corridor_m=30)
    assert again.crs == net.crs and again.area_m2.iloc[0] == pytest.approx(
        shapely.union_all(per.geometry.to_numpy()).area, rel=1e-3
    )


def test_isochrone_from_seeds_and_errors():
    net = _line()
    seeds = lc.engine.Seeds(np.array([0, 3]), np.zeros(2), np.array([4, 4]))
    iso = isochrones(net, seeds, 50.0, corridor_m=5)
    assert iso["label"].tolist() == [4]
    assert iso.geometry.iloc[0].geom_type == "MultiPolygon"
    with pytest.raises(lc.InputError, match="thresholds_m"):
        isochrones(net, seeds, [0.0])
    with pytest.raises(lc.InputError, match="corridor_m"):
        isochrones(net, seeds, [10.0], corridor_m=0)
    with pytest.raises(lc.InputError, match="not a column"):
        isochrones(net, np.array([[0.0, 0.0]]), [10.0], by="category")
    far = isochrones(net, np.array([[0.0, 900.0]]), [100.0], max_snap_m=50)
    assert len(far) == 0


def test_reached_streets_node_exactly_at_threshold():
    net = _line()
    pieces = reached_streets(net, np.array([0.0, 100.0, 200.0, np.inf]), 100.0)
    covered = shapely.union_all(shapely.buffer(pieces, 1.0))
    assert covered.contains(shapely.Point(100, 0)) and not covered.contains(shapely.Point(110, 0))


def test_isochrone_on_helsinki_contains_reached_nodes(helsinki_net):
    net = helsinki_net
    rng = np.random.default_rng(5)
    nodes = rng.choice(net.n_nodes, 3, replace=False)
    pts = np.column_stack([net.x_m[nodes] + 15, net.y_m[nodes]])
    iso = isochrones(net, pts, [500.0], by="all", corridor_m=25)
    d = _node_dist(net, pts)
    inside = shapely.contains(iso.geometry.iloc[0], shapely.points(net.x_m, net.y_m))
    assert inside[d <= 500].all() and (d <= 500).sum() > 50
    assert not inside[~np.isfinite(d) | (d > 3000)].any()


# ---------------------------------------------------------------------- rasters
def test_travel_time_raster_equals_node_distances(tmp_path):
    net = _grid(k=5)  # nodes every 100 m, 0..400
    fac = net.snap(np.array([[130.0, 210.0]]))
    d_node, lab = multi_source(net, seeds_from_snap(net, fac, [0]), 5000)
    path = travel_time_raster(
        net,
        d_node,
        tmp_path / "tt" / "clinic.tif",
        resolution_m=50,
        bounds=(-25, -25, 1025, 425),
        max_snap_m=30,
        label_node=lab,
        sites=Sites(fac, [0]),
    )
    assert path.exists() and not list(path.parent.glob("*.part"))
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32651
        assert src.transform == Affine(50, 0, -25, 0, -50, 425)
        assert (src.height, src.width) == (9, 21) and src.dtypes[0] == "float32"
        assert src.nodata == -9999
        arr = src.read(1)
        assert src.tags()["units"] == "minutes"
    # cells whose centre is a node: the node's distance in minutes
    col = np.rint((net.x_m + 25) / 50 - 0.5).astype(int)
    row = np.rint((425 - net.y_m) / 50 - 0.5).astype(int)
    np.testing.assert_allclose(arr[row, col], d_node / M_PER_MIN, rtol=1e-6)
    # a cell centre in the middle of an edge: the better end plus half the edge
    assert arr[8, 1] == pytest.approx(
        min(d_node[0], d_node[1]) / M_PER_MIN + 50 / M_PER_MIN, rel=1e-6
    )
    # the centre of a block is 50 m from any street (> max_snap_m): nodata; far east too
    assert arr[7, 1] == -9999 and (arr[:, 10:] == -9999).all()
    # the facility (30 m along edge (100,200)-(200,200), 10 m off it) and the cell centre
    # (150, 200) share an edge: 20 m straight along it + 10 m, not 50 + 40 round by a node
    assert arr[4, 3] == pytest.approx(30 / M_PER_MIN, rel=1e-6)


def test_travel_time_grid_default_bounds_and_errors():
    net = _line()
    mins, tr = travel_time_grid(net, np.array([0.0, 100.0, 200.0, 300.0]), 40, max_snap_m=25)
    # the network's extent aligned to 40 m cells; a straight street still gets a row
    assert (tr.c, tr.f, tr.a, tr.e) == (0, 40, 40, -40)
    assert mins.shape == (1, 8)
    # cell centres (20 + 40 i, 20): 20 m to the street, then along it to node 0
    np.testing.assert_allclose(mins[0] * M_PER_MIN, np.arange(20, 320, 40) + 20, rtol=1e-6)
    unreached = travel_time_grid(net, np.array([0.0, np.inf, np.inf, np.inf]), 40, max_snap_m=25)[0]
    assert np.isnan(unreached[0, 3:]).all() and np.isfinite(unreached[0, :2]).all()
    with pytest.raises(lc.InputError, match="one value per node"):
        travel_time_grid(net, np.zeros(2), 40)
    with pytest.raises(lc.InputError, match="resolution_m"):
        travel_time_grid(net, np.zeros(4), 0)
