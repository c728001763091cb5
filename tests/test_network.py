"""Walk networks from real OSM files and from a hand-made file exercising each walk rule."""

from __future__ import annotations

import bz2
import shutil

import networkx as nx
import numpy as np
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.network.rules import WalkRules

NODES = {
    1: (121.400, 31.240), 2: (121.401, 31.240), 3: (121.402, 31.240), 4: (121.403, 31.240),
    5: (121.404, 31.240), 6: (121.405, 31.240), 7: (121.402, 31.2405),
    10: (121.4015, 31.239), 11: (121.4015, 31.241), 12: (121.4025, 31.239),
    13: (121.4025, 31.241), 20: (121.400, 31.241), 21: (121.401, 31.241), 22: (121.401, 31.242),
    30: (121.403, 31.235), 31: (121.404, 31.235), 40: (121.402, 31.2395),
    50: (121.410, 31.250), 51: (121.411, 31.250), 60: (121.403, 31.230),
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
    return float(net.snap(np.array([NODES[node_id]]), points_crs=4326,
                          max_snap_m=1e6).snap_m[0])


def _walk(net, a, b):
    """Walk distance between the locations of OSM nodes a and b (through snapping)."""
    sa = net.snap(np.array([NODES[a]]), points_crs=4326)
    sb = net.snap(np.array([NODES[b]]), points_crs=4326)
    seeds = lc.engine.seeds_from_snap(net, sa, [0])
    d, lab = lc.engine.multi_source(net, seeds, cutoff_m=1e6)
    return float(lc.engine.point_distances(net, d, lab, sb, sa, [0])[0][0])


def test_each_walk_rule(rules_net):
    net = rules_net
    for kept in (1, 2, 3, 4, 5, 7, 21, 22, 30, 31):
        assert _snap_m(net, kept) < 0.01, f"node {kept} should be on the walk network"
    for gone, why in [(10, "elevated trunk, foot=no"), (12, "elevated trunk, bridge+layer"),
                      (6, "primary with sidewalk=no"), (40, "access=private"),
                      (60, "motorway"), (50, "island")]:
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
        lc.WalkNetwork.from_osm(shanghai_osm).length_m.sum(), rel=2e-3)


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
