"""A river crossed by a ferry: points snap to streets, never to the ferry; the crossing works.

The fixture is an OSM file written here: two street grids on the banks of a north-south river
about 300 m wide, a jetty (footway) on each bank out to a pier, a ``route=ferry`` way from pier
to pier (bent, with a vertex mid-river), and a second ferry line from the east pier to a pier
that no path reaches.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import Transformer

import lifecircle_geo as lc
from lifecircle_geo.errors import InputError
from lifecircle_geo.network.walknetwork import EDGE_KINDS, SNAP_KINDS

LAT0 = 31.2300
DLAT = 0.0012  # ~133 m between east-west streets
WEST_LON = (121.4900, 121.4915, 121.4930, 121.4945)  # the west bank street is the last one
EAST_LON = (121.4975, 121.4990, 121.5005, 121.5020)  # the east bank street is the first one
ROWS = (-2, -1, 0, 1, 2)
PIER_W = (121.4950, LAT0)  # ~48 m of jetty from the west bank street
PIER_E = (121.4970, LAT0)
FERRY_MID = (121.4960, LAT0 + 0.0004)  # the ferry bends ~44 m north mid-river
PIER_LONE = (121.4972, LAT0 + 0.0040)  # reached only by a second ferry line


def _write_river_osm(path):
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    nid, wid = 1, 1000

    def node(lon, lat):
        nonlocal nid
        nodes[nid] = (lon, lat)
        nid += 1
        return nid - 1

    def way(refs, **tags):
        nonlocal wid
        ways.append((wid, refs, tags))
        wid += 1

    for lons in (WEST_LON, EAST_LON):
        grid = {(i, j): node(lon, LAT0 + j * DLAT) for i, lon in enumerate(lons) for j in ROWS}
        for i in range(len(lons)):
            way([grid[i, j] for j in ROWS], highway="residential")
        for j in ROWS:
            way([grid[i, j] for i in range(len(lons))], highway="residential")
        if lons is WEST_LON:
            bank_w = grid[len(lons) - 1, 0]
        else:
            bank_e = grid[0, 0]
    pier_w, pier_e, mid, lone = node(*PIER_W), node(*PIER_E), node(*FERRY_MID), node(*PIER_LONE)
    way([bank_w, pier_w], highway="footway", name="西岸码头")
    way([pier_e, bank_e], highway="footway", name="东岸码头")
    way([pier_w, mid, pier_e], route="ferry", foot="yes", name="示例轮渡")
    way([pier_e, lone], route="ferry", foot="yes", name="示例支线")

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lon, lat) in nodes.items():
        lines.append(f'<node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for w, refs, tags in ways:
        lines.append(f'<way id="{w}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def river(tmp_path_factory):
    path = _write_river_osm(tmp_path_factory.mktemp("ferry") / "river.osm")
    return lc.WalkNetwork.from_osm(path)


def _xy(net, lonlat):
    t = Transformer.from_crs(4326, net.crs, always_xy=True)
    return np.array(t.transform(*np.asarray(lonlat, dtype=float).T)).T.reshape(-1, 2)


def _nearest_street(net, xy):
    """Brute force: distance to the nearest non-ferry edge, and that edge, for each point."""
    pts = shapely.points(xy)
    street = np.flatnonzero(net.kind != "ferry")
    d = shapely.distance(pts[:, None], net.geometry[street][None, :])
    return d.min(axis=1), street[d.argmin(axis=1)]


def _beside_the_ferry(net, offsets_m=(5.0, -5.0, 0.0)):
    """Points right next to the middle of the ferry line (and one on it)."""
    ferry = net.geometry[np.flatnonzero(net.kind == "ferry")]
    main = ferry[np.argmax(shapely.get_num_coordinates(ferry))]  # the bent pier-to-pier line
    mid = shapely.line_interpolate_point(main, 0.45, normalized=True)
    return np.array([[mid.x, mid.y + dy] for dy in offsets_m])


def test_the_fixture_has_both_ferries_and_the_piers(river):
    kinds = set(river.kind.tolist())
    assert kinds == {"walk", "ferry"}
    assert int((river.kind == "ferry").sum()) == 2
    assert river.snappable.tolist() == [k != "ferry" for k in river.kind]
    assert SNAP_KINDS == frozenset(EDGE_KINDS) - {"ferry"}
    # the lone pier is touched by a ferry only: not a street node; the jetty piers are
    lone = int(np.argmin(np.hypot(*(np.c_[river.x_m, river.y_m] - _xy(river, [PIER_LONE])).T)))
    pier_w = int(np.argmin(np.hypot(*(np.c_[river.x_m, river.y_m] - _xy(river, [PIER_W])).T)))
    assert not river.street_nodes[lone] and river.street_nodes[pier_w]
    assert int((~river.street_nodes).sum()) == 1


def test_resident_beside_the_ferry_snaps_to_a_street(river):
    pts = _beside_the_ferry(river)
    # the ferry is the nearest edge of all (which is what snapping used to pick)
    ferry_d = shapely.distance(
        shapely.points(pts)[:, None], river.geometry[river.kind == "ferry"][None, :]
    ).min(axis=1)
    want_d, want_edge = _nearest_street(river, pts)
    assert ferry_d.max() <= 5.0 + 1e-6 and want_d.min() > 80.0
    snap = river.snap(pts)
    assert snap.ok.all()
    assert (river.kind[snap.edge] != "ferry").all()
    np.testing.assert_array_equal(snap.edge, want_edge)
    np.testing.assert_allclose(snap.snap_m, want_d, atol=1e-6)
    # the snapped position lies on that street edge
    on = shapely.distance(shapely.points(snap.x, snap.y), river.geometry[snap.edge])
    assert on.max() < 1e-6
    # and a point on the lone ferry line (no path reaches its far pier) goes to a street too
    lone = river.snap(_xy(river, [(0.5 * (PIER_E[0] + PIER_LONE[0]), 0.5 * (LAT0 + PIER_LONE[1]))]))
    assert river.kind[lone.edge[0]] != "ferry"


def test_facility_beside_the_ferry_is_placed_on_a_street(river):
    pts = _beside_the_ferry(river)
    fac = gpd.GeoDataFrame(
        {"category": ["ferry_kiosk"] * len(pts)}, geometry=shapely.points(pts), crs=river.crs
    )
    sites = lc.routing.Sites.from_facilities(river, fac)
    assert sites.snap.ok.all()
    assert (river.kind[sites.snap.edge] != "ferry").all()
    np.testing.assert_allclose(sites.snap.snap_m, _nearest_street(river, pts)[0], atol=1e-6)


def _independent_walk(net, a_xy, b_xy):
    """Point to point walk with networkx on the same edges, snapping by brute force."""
    G = nx.Graph()
    for u, v, c in zip(net.u.tolist(), net.v.tolist(), net.cost_m.tolist(), strict=True):
        if not G.has_edge(u, v) or G[u][v]["w"] > c:
            G.add_edge(u, v, w=c)
    for name, xy in (("a", a_xy), ("b", b_xy)):
        d, e = _nearest_street(net, np.asarray([xy]))
        e = int(e[0])
        line = net.geometry[e]
        along = shapely.line_locate_point(line, shapely.Point(xy)) * net.length_m[e] / line.length
        ratio = net.cost_m[e] / net.length_m[e]
        G.add_edge(name, int(net.u[e]), w=float(d[0] + along * ratio))
        G.add_edge(name, int(net.v[e]), w=float(d[0] + (net.length_m[e] - along) * ratio))
    return nx.single_source_dijkstra(G, "a", "b", weight="w")


def test_crossing_the_river_goes_through_the_piers(river):
    a = _xy(river, [(WEST_LON[1] + 0.0003, LAT0 + 0.3 * DLAT)])[0]  # west bank, 20 m off a street
    b = _xy(river, [(EAST_LON[2], LAT0 - 1.4 * DLAT)])[0]  # east bank
    fac = gpd.GeoDataFrame({"category": ["clinic"]}, geometry=[shapely.Point(b)], crs=river.crs)
    sites = lc.routing.Sites.from_facilities(river, fac)
    result = lc.engine.nearest_by_category(river, sites, cutoff_m=1e6)
    walk_m, label = result.at_points(river, river.snap(a[None, :]), "clinic")
    want_m, path = _independent_walk(river, a, b)
    assert label.tolist() == [0]
    assert walk_m[0] == pytest.approx(want_m, abs=1e-6)
    # the path boards at the west pier and lands at the east pier: walk + one ferry crossing
    nodes = [p for p in path if not isinstance(p, str)]
    on_path = {frozenset(e) for e in itertools.pairwise(nodes)}
    used = [i for i in range(river.n_edges) if frozenset((river.u[i], river.v[i])) in on_path]
    ferry_used = [i for i in used if river.kind[i] == "ferry"]
    assert len(ferry_used) == 1
    ferry = ferry_used[0]
    wait_m = 10 * 4000 / 60  # ferry_wait_min = 10 at 4 km/h
    assert river.cost_m[ferry] == pytest.approx(river.length_m[ferry] * 4.0 / 10.0 + wait_m)
    walked_m = float(river.cost_m[[i for i in used if i != ferry]].sum())
    legs_m = want_m - walked_m - river.cost_m[ferry]
    assert 0 < legs_m < 400  # the two points' own legs onto and along their streets
    piers = {int(river.u[ferry]), int(river.v[ferry])}
    assert piers <= set(nodes) and all(river.street_nodes[p] for p in piers)


def test_from_arrays_with_kinds_obeys_the_snap_kinds(tmp_path):
    # a street 0-1, a ferry 1-2 (300 m), a street 2-3; a point 3 m from the ferry's middle
    net = lc.WalkNetwork.from_arrays(
        [0, 100, 400, 500],
        [0, 0, 0, 0],
        [0, 1, 2],
        [1, 2, 3],
        [100.0, 300.0, 100.0],
        crs=32651,
        cost_m=[100.0, 1000.0, 100.0],
        kind=["walk", "ferry", "steps"],
    )
    s = net.snap(np.array([[250.0, 3.0], [260.0, -3.0]]))
    assert s.edge.tolist() == [0, 2]
    np.testing.assert_allclose(s.snap_m, [np.hypot(150, 3), np.hypot(140, 3)])
    assert s.ok.tolist() == [True, True]
    # a trip from one end to the other still crosses: 100 + 1000 + 100
    seeds = lc.routing.seeds_from_snap(net, net.snap(np.array([[0.0, 0.0]])), [0])
    d, _ = lc.engine.multi_source(net, seeds, cutoff_m=1e6)
    assert d[3] == pytest.approx(1200.0)
    # kinds survive save/load, and the loaded network snaps the same
    loaded = lc.WalkNetwork.load(net.save(tmp_path / "n.npz"))
    assert loaded.kind.tolist() == ["walk", "ferry", "steps"]
    assert loaded.snap(np.array([[250.0, 3.0]])).edge.tolist() == [0]
    # the default kind is walk; an unknown kind is refused, naming the known ones
    assert lc.WalkNetwork.from_arrays([0, 1], [0, 0], [0], [1], [1.0], crs=32651).snappable.all()
    with pytest.raises(InputError, match=r"unknown edge kind.*'tram'.*'ferry'"):
        lc.WalkNetwork.from_arrays([0, 1], [0, 0], [0], [1], [1.0], crs=32651, kind=["tram"])


def test_a_network_of_ferries_only_snaps_nothing():
    net = lc.WalkNetwork.from_arrays([0, 300], [0, 0], [0], [1], [300.0], crs=32651, kind=["ferry"])
    s = net.snap(np.array([[150.0, 1.0]]))
    assert not s.ok[0] and s.edge[0] == -1 and "snappable" in s.reason[0]


def test_from_osmnx_marks_ferry_routes():
    pytest.importorskip("osmnx")
    G = nx.MultiDiGraph(crs="EPSG:32651")
    for i, x in enumerate([0.0, 100.0, 400.0, 500.0]):
        G.add_node(10 + i, x=x, y=0.0)
    G.add_edge(10, 11, key=0, length=100.0, highway="residential")
    G.add_edge(11, 12, key=0, length=300.0, route="ferry")
    G.add_edge(12, 13, key=0, length=100.0, highway="footway")
    net = lc.WalkNetwork.from_osmnx(G)
    assert sorted(net.kind.tolist()) == ["ferry", "walk", "walk"]
    s = net.snap(np.array([[250.0, 2.0]]))
    assert net.kind[s.edge[0]] == "walk" and s.snap_m[0] == pytest.approx(np.hypot(150.0, 2.0))
