"""The engine against networkx on real networks, and hand-computed mid-edge cases."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.engine import (
    Seeds,
    distance_to_nearest,
    multi_source,
    point_distances,
    seeds_from_snap,
)


def _nx_reference(net, sources, cutoff, offsets=None):
    """networkx multi-source Dijkstra with a super-source (offsets as its edge weights)."""
    G = net.to_networkx(weight="w")
    S = "S"
    offsets = np.zeros(len(sources)) if offsets is None else offsets
    for s, off in zip(sources, offsets, strict=True):
        if G.has_edge(S, int(s)):
            G[S][int(s)]["w"] = min(G[S][int(s)]["w"], float(off))
        else:
            G.add_edge(S, int(s), w=float(off))
    dist, paths = nx.single_source_dijkstra(G, S, cutoff=cutoff, weight="w")
    ref = np.full(net.n_nodes, np.inf)
    first = np.full(net.n_nodes, -1)
    for node, d in dist.items():
        if node != S:
            ref[node] = d
            first[node] = paths[node][1]
    return ref, first


@pytest.mark.parametrize("which", ["helsinki", "shanghai"])
def test_distance_equals_networkx_on_real_networks(which, request):
    net = request.getfixturevalue(f"{which}_net")
    rng = np.random.default_rng(7)
    sources = rng.choice(net.n_nodes, size=25, replace=False)
    cutoff = 1200.0
    dist, nearest = distance_to_nearest(net, sources, cutoff_m=cutoff)
    ref, first = _nx_reference(net, sources, cutoff)
    np.testing.assert_array_equal(np.isfinite(dist), np.isfinite(ref))
    fin = np.isfinite(ref)
    assert fin.sum() > 0.3 * net.n_nodes
    np.testing.assert_allclose(dist[fin], ref[fin], atol=1e-6, rtol=0)
    # the nearest source found really is at that distance (ties may pick another source)
    assert np.all(nearest[~fin] == -1)
    src_first = sources[nearest[fin]]
    G = net.to_networkx()
    d_src = {int(s): nx.single_source_dijkstra_path_length(G, int(s), cutoff, weight="length")
             for s in np.unique(src_first)[:5]}
    for node in np.flatnonzero(fin)[:200]:
        s = int(sources[nearest[node]])
        if s in d_src:
            assert d_src[s][int(node)] == pytest.approx(dist[node], abs=1e-6)


def test_offsets_equal_networkx_on_helsinki(helsinki_net):
    net = helsinki_net
    rng = np.random.default_rng(3)
    sources = rng.choice(net.n_nodes, size=40, replace=False)
    offsets = rng.uniform(0, 150, size=40)
    dist, nearest = distance_to_nearest(net, sources, cutoff_m=900.0, source_offset_m=offsets)
    ref, first = _nx_reference(net, sources, 900.0, offsets)
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(dist), fin)
    np.testing.assert_allclose(dist[fin], ref[fin], atol=1e-6)
    # the label's source node plus its offset is a shortest start for that node
    chosen = sources[nearest[fin]]
    np.testing.assert_array_equal(np.isin(chosen, sources), True)


def _line_net():
    # 0 --100-- 1 --100-- 2 --100-- 3, plus a spur 1 --50-- 4
    return lc.WalkNetwork.from_arrays([0, 100, 200, 300, 100], [0, 0, 0, 0, 50],
                                      [0, 1, 2, 1], [1, 2, 3, 4], [100.0, 100, 100, 50],
                                      crs=32651)


def test_mid_edge_source_and_resident_hand_values():
    net = _line_net()
    # facility 10 m north of the middle of edge 1-2 (x=150), resident 20 m south of x=30
    fac = net.snap(np.array([[150.0, 10.0]]))
    res = net.snap(np.array([[30.0, -20.0]]))
    assert fac.snap_m[0] == pytest.approx(10.0)
    assert fac.along_m[0] == pytest.approx(50.0)
    seeds = seeds_from_snap(net, fac, [0])
    d_node, lab = multi_source(net, seeds, cutoff_m=1000)
    # node 1: 10 + 50; node 0: 160; node 4: 110; node 3: 10 + 50 + 100
    np.testing.assert_allclose(d_node, [160.0, 60.0, 60.0, 160.0, 110.0])
    walk, near = point_distances(net, d_node, lab, res)
    # resident: 20 (to street) + 70 (x=30 -> node 1) + 60 (node 1 -> facility incl. its leg)
    assert walk[0] == pytest.approx(150.0)
    assert near[0] == 0


def test_same_edge_direct_walk():
    net = _line_net()
    fac = net.snap(np.array([[240.0, 5.0]]))
    res = net.snap(np.array([[260.0, 5.0]]))
    seeds = seeds_from_snap(net, fac, [0])
    d_node, lab = multi_source(net, seeds, cutoff_m=1000)
    walk, _ = point_distances(net, d_node, lab, res)
    assert walk[0] == pytest.approx(5 + 60 + 40 + 5)  # around through node 3 without the fix
    walk, near = point_distances(net, d_node, lab, res, fac, [0])
    assert walk[0] == pytest.approx(5 + 20 + 5)
    assert near[0] == 0


def test_cutoff_and_unreached():
    net = _line_net()
    d, k = distance_to_nearest(net, [0], cutoff_m=150)
    assert d.tolist() == [0.0, 100.0, np.inf, np.inf, 150.0]
    assert k.tolist() == [0, 0, -1, -1, 0]
    d, k = distance_to_nearest(net, [], cutoff_m=150)
    assert np.isinf(d).all() and (k == -1).all()


def test_seeds_reduced_to_smallest_label_on_ties():
    net = _line_net()
    d, lab = multi_source(net, Seeds(np.array([0, 0]), np.array([5.0, 5.0]),
                                     np.array([3, 1])), 1000)
    assert lab[0] == 1 and d[0] == 5.0


def test_bad_arguments():
    net = _line_net()
    with pytest.raises(lc.InputError, match="node positions"):
        distance_to_nearest(net, [99], cutoff_m=100)
    with pytest.raises(lc.InputError, match="cutoff_m"):
        distance_to_nearest(net, [0], cutoff_m=-1)


def test_snap_reports_far_points():
    net = _line_net()
    s = net.snap(np.array([[150.0, 0.0], [150.0, 800.0]]), max_snap_m=100)
    assert s.ok.tolist() == [True, False]
    assert s.snap_m[0] == 0.0
    assert "max_snap_m=100" in s.reason[1]
    assert shapely.Point(s.x[0], s.y[0]).equals(shapely.Point(150, 0))
