"""Service areas, counts, nearest-k, 2SFCA, gravity and decay: hand cases, networkx, invariants."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lifecircle_geo as lc
from lifecircle_geo.accessibility import (
    Decay,
    capacities,
    count_within,
    decay,
    gravity,
    nearest_k,
    reach_at_points,
    reach_matrix,
    service_areas,
    two_step_fca,
)
from lifecircle_geo.routing import Seeds, Sites, multi_source, point_distances, seeds_from_snap

BACKENDS = ["numba", "scipy"]


def _line(n=5, step=100.0):
    """0 -- 1 -- ... -- n-1 along the x axis, ``step`` metres apart."""
    x = np.arange(n) * step
    return lc.WalkNetwork.from_arrays(
        x, np.zeros(n), np.arange(n - 1), np.arange(1, n), np.full(n - 1, step), crs=32651
    )


def _grid(k=8, step=100.0, seed=0):
    """A k × k street grid with lengths jittered (so distances are rarely tied)."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    x, y = (jj * step).ravel().astype(float), (ii * step).ravel().astype(float)
    node = ii * k + jj
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    length = step * rng.uniform(1.0, 1.3, len(u))
    return lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651)


def _seeds(node, off=None, label=None):
    node = np.asarray(node)
    return Seeds(
        node,
        np.zeros(len(node)) if off is None else np.asarray(off, float),
        np.arange(len(node)) if label is None else np.asarray(label),
    )


def _nx_per_facility(net, seeds, cutoff):
    """Reference: one networkx Dijkstra per facility from a super-node joined to its seeds."""
    G = net.to_networkx(weight="w")
    out = {}
    for lab in np.unique(seeds.label):
        H = G.copy()
        for nd, off in zip(
            seeds.node[seeds.label == lab], seeds.dist_m[seeds.label == lab], strict=True
        ):
            if H.has_edge("S", int(nd)):
                H["S"][int(nd)]["w"] = min(H["S"][int(nd)]["w"], float(off))
            else:
                H.add_edge("S", int(nd), w=float(off))
        d = nx.single_source_dijkstra_path_length(H, "S", cutoff=cutoff, weight="w")
        d.pop("S")
        out[int(lab)] = d
    return out


def _brute_k(ref, n, k, cutoff):
    """(count, k nearest dists, k nearest labels) per node, ties to the smaller label."""
    count = np.zeros(n, dtype=int)
    dist = np.full((n, k), np.inf)
    lab = np.full((n, k), -1)
    for node in range(n):
        pairs = sorted((d[node], f) for f, d in ref.items() if node in d and d[node] <= cutoff)
        count[node] = len(pairs)
        for r, (d, f) in enumerate(pairs[:k]):
            dist[node, r], lab[node, r] = d, f
    return count, dist, lab


# ---------------------------------------------------------------------- service areas
def test_service_areas_partition_reached_nodes_and_population():
    net = _grid(10)
    rng = np.random.default_rng(1)
    fac = net.snap(np.column_stack([rng.uniform(0, 900, 4), rng.uniform(0, 900, 4)]))
    seeds = seeds_from_snap(net, fac, np.arange(4))
    pts = np.column_stack([rng.uniform(-20, 920, 300), rng.uniform(-20, 920, 300)])
    dsnap = net.snap(pts, max_snap_m=30)
    pop = rng.integers(1, 50, 300).astype(float)
    node_pop = rng.integers(0, 9, net.n_nodes).astype(float)
    cutoff = 300.0

    sa = service_areas(net, Sites(fac, np.arange(4)), cutoff, dsnap, pop)
    d_ref, _ = multi_source(net, seeds, cutoff)
    reached = np.isfinite(d_ref)
    assert 0 < reached.sum() < net.n_nodes  # the cutoff leaves some nodes unreached
    # every reached node has exactly one facility, unreached ones -1
    assert np.all(np.isin(sa.node_label[reached], np.arange(4)))
    assert np.all(sa.node_label[~reached] == -1)
    assert sa.load["n_nodes"].sum() == reached.sum()
    # the serving facility is the nearest one (the same arithmetic and tie rule as nearest-k)
    r = reach_matrix(net, seeds, cutoff)
    d1, l1 = nearest_k(r, 1)
    np.testing.assert_array_equal(sa.node_dist_m, d1[:, 0])
    np.testing.assert_array_equal(sa.node_label, l1[:, 0])
    # per-facility population adds up to the reached population
    p_reached = np.isfinite(sa.point_dist_m)
    assert 0 < p_reached.sum() < len(pts)
    assert np.all(sa.point_label[~p_reached] == -1)
    assert sa.load["population"].sum() == pytest.approx(pop[p_reached].sum())
    assert sa.load["n_points"].sum() == p_reached.sum()
    for f in range(4):
        assert sa.load.loc[f, "population"] == pytest.approx(pop[sa.point_label == f].sum())
    # population per node when no points are given
    sa_n = service_areas(net, seeds, cutoff, population=node_pop)
    assert sa_n.load["population"].sum() == pytest.approx(node_pop[reached].sum())
    assert sa_n.point_label is None


def test_service_areas_report_facilities_without_nodes():
    net = _line()
    sa = service_areas(net, _seeds([0, 4]), 150, population=np.ones(5), labels=[0, 1, 7])
    assert sa.load.index.tolist() == [0, 1, 7]
    assert sa.load.loc[7, "n_nodes"] == 0 and sa.load.loc[7, "population"] == 0
    assert sa.node_label.tolist() == [0, 0, -1, 1, 1]
    with pytest.raises(lc.InputError, match="one value per node"):
        service_areas(net, _seeds([0]), 150, population=[1, 2])


# ---------------------------------------------------------------------- reach, counts, nearest-k
@pytest.mark.parametrize("backend", BACKENDS)
def test_reach_hand_values_and_ties(backend):
    net = _line()
    # labels 5 and 2 both 100 m from node 1 ... the smaller label comes first
    r = reach_matrix(net, _seeds([0, 2, 4], label=[5, 2, 9]), 250, backend=backend)
    assert r.labels.tolist() == [2, 5, 9]
    assert count_within(r).tolist() == [2, 2, 3, 2, 2]
    assert count_within(r, 100).tolist() == [1, 2, 1, 2, 1]
    d, lab = nearest_k(r, 3)
    assert d[1].tolist() == [100.0, 100.0, np.inf]  # label 9 is 300 m away
    assert lab[1].tolist() == [2, 5, -1]
    assert lab[2].tolist() == [2, 5, 9] and d[2].tolist() == [0.0, 200.0, 200.0]
    d5, lab5 = nearest_k(r, 5, cutoff_m=150)
    assert d5.shape == (5, 5) and np.isinf(d5[:, 2:]).all() and (lab5[:, 2:] == -1).all()
    # a facility on a node has distance 0, kept as an explicit zero in the CSR form
    m = r.to_csr()
    assert m.shape == (3, 5) and m.nnz == len(r) == 11
    assert m[0, 2] == 0.0 and 2 in m[0].indices


@pytest.mark.parametrize("backend", BACKENDS)
def test_reach_mid_edge_offsets(backend):
    net = _line()
    # a facility 10 m off the street at x=150: seeds at nodes 1 and 2 with 60 m each
    fac = net.snap(np.array([[150.0, 10.0]]))
    r = reach_matrix(net, seeds_from_snap(net, fac, [0]), 170, backend=backend)
    assert r.target.tolist() == [0, 1, 2, 3]  # node 4 is 260 m away
    np.testing.assert_allclose(r.dist_m, [160.0, 60.0, 60.0, 160.0])
    # a resident on the same edge walks straight there
    res = net.snap(np.array([[180.0, -5.0], [20.0, 0.0]]))
    rp = reach_at_points(net, r, res, Sites(fac, [0]))
    assert rp.target.tolist() == [0, 1]
    np.testing.assert_allclose(rp.dist_m, [5 + 30 + 10, 80 + 60])


def test_reach_errors():
    net = _line()
    with pytest.raises(lc.InputError, match="cutoff_m"):
        reach_matrix(net, _seeds([0]), 0)
    with pytest.raises(lc.InputError, match="node positions"):
        reach_matrix(net, _seeds([7]), 100)
    with pytest.raises(lc.InputError, match="backend"):
        reach_matrix(net, _seeds([0]), 100, backend="gpu")
    r = reach_matrix(net, _seeds([0]), 100)
    with pytest.raises(lc.InputError, match="k must be"):
        nearest_k(r, 6)
    with pytest.raises(lc.InputError, match="exceeds"):
        count_within(r, 200)
    empty = reach_matrix(net, Seeds(np.empty(0, int), np.empty(0), np.empty(0, int)), 100)
    assert len(empty) == 0 and count_within(empty).tolist() == [0] * 5


@st.composite
def _graphs(draw):
    n = draw(st.integers(2, 18))
    parents = [draw(st.integers(0, i - 1)) for i in range(1, n)]
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12))
    # no parallel edges: networkx's Graph (the reference) keeps one edge per node pair
    pairs = {(p, i) for i, p in enumerate(parents, start=1)}
    pairs |= {(min(a, b), max(a, b)) for a, b in extra if a != b and (b, a) not in pairs}
    edges = sorted(pairs)
    lengths = draw(st.lists(st.integers(0, 40), min_size=len(edges), max_size=len(edges)))
    n_fac = draw(st.integers(1, 6))
    fac_nodes = draw(st.lists(st.integers(0, n - 1), min_size=n_fac, max_size=2 * n_fac))
    fac_labels = draw(
        st.lists(st.integers(0, n_fac - 1), min_size=len(fac_nodes), max_size=len(fac_nodes))
    )
    offs = draw(st.lists(st.integers(0, 20), min_size=len(fac_nodes), max_size=len(fac_nodes)))
    cutoff = draw(st.integers(1, 120))
    k = draw(st.integers(1, 5))
    return n, edges, lengths, fac_nodes, fac_labels, offs, cutoff, k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_graphs())
def test_counts_and_nearest_k_equal_networkx_on_random_graphs(case):
    n, edges, lengths, fac_nodes, fac_labels, offs, cutoff, k = case
    rng = np.random.default_rng(0)
    u, v = (np.array([e[i] for e in edges], dtype=int) for i in (0, 1))
    net = lc.WalkNetwork.from_arrays(
        rng.uniform(0, 1000, n), rng.uniform(0, 1000, n), u, v, np.array(lengths, float), crs=32651
    )
    seeds = _seeds(fac_nodes, offs, fac_labels)
    ref = _nx_per_facility(net, seeds, cutoff)
    count, dist, lab = _brute_k(ref, n, k, cutoff)  # integer lengths: ties are exact
    for backend in BACKENDS:
        r = reach_matrix(net, seeds, float(cutoff), backend=backend, batch_size=2)
        assert len(r) == sum(len(d) for d in ref.values())
        np.testing.assert_array_equal(count_within(r), count)
        d_k, lab_k = nearest_k(r, k)
        np.testing.assert_array_equal(d_k, dist)
        np.testing.assert_array_equal(lab_k, lab)
    # invariants: an extra facility never lowers a count nor raises a k-th distance
    more = Seeds(np.append(seeds.node, 0), np.append(seeds.dist_m, 0.0), np.append(seeds.label, 99))
    r2 = reach_matrix(net, more, float(cutoff))
    assert np.all(count_within(r2) >= count)
    assert np.all(nearest_k(r2, k)[0] <= dist)


def test_counts_and_nearest_k_equal_networkx_on_helsinki(helsinki_net):
    net = helsinki_net
    rng = np.random.default_rng(11)
    b = net.x_m.min(), net.y_m.min(), net.x_m.max(), net.y_m.max()
    pts = np.column_stack([rng.uniform(b[0], b[2], 20), rng.uniform(b[1], b[3], 20)])
    fac = net.snap(pts, max_snap_m=5000)
    seeds = seeds_from_snap(net, fac, np.arange(20))  # mid-edge starts with their legs
    cutoff, k = 800.0, 3
    ref = _nx_per_facility(net, seeds, cutoff)
    count, dist, lab = _brute_k(ref, net.n_nodes, k, cutoff)
    assert count.max() >= 3 and (count == 0).any()
    for backend in BACKENDS:
        r = reach_matrix(net, seeds, cutoff, backend=backend)
        np.testing.assert_array_equal(count_within(r), count)
        d_k, lab_k = nearest_k(r, k)
        np.testing.assert_allclose(d_k, dist, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(lab_k, lab)
        # memory: one (facility, node, distance) triple per reached pair, 24 bytes each
        assert len(r) == count.sum() and r.nbytes == 24 * count.sum()
        # the nearest is engine.multi_source's answer, bit for bit, ties included
        d_node, l_node = multi_source(net, seeds, cutoff)
        np.testing.assert_array_equal(d_k[:, 0], d_node)
        np.testing.assert_array_equal(lab_k[:, 0], l_node)
    # at resident points: the nearest equals routing.point_distances
    res = net.snap(
        np.column_stack([rng.uniform(b[0], b[2], 500), rng.uniform(b[1], b[3], 500)]),
        max_snap_m=200,
    )
    rp = reach_at_points(net, r, res, Sites(fac, np.arange(20)))
    walk, _ = point_distances(net, d_node, l_node, res, Sites(fac, np.arange(20)))
    d1, _ = nearest_k(rp, 1)
    np.testing.assert_array_equal(d1[:, 0], walk)
    d3, _ = nearest_k(rp, 3)
    np.testing.assert_array_equal(np.sort(d3, axis=1), d3)


# ---------------------------------------------------------------------- decay
def test_decay_functions_at_known_points():
    d = np.array([0.0, 250.0, 500.0, 1000.0, 1000.1, 5000.0])
    np.testing.assert_array_equal(decay("step", 1000)(d), [1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(decay("linear", 1000)(d), [1, 0.75, 0.5, 0, 0, 0])
    beta = 0.003
    np.testing.assert_allclose(
        decay("exponential", 1000, beta_per_m=beta)(d),
        [1, math.exp(-0.75), math.exp(-1.5), math.exp(-3), 0, 0],
    )
    g = decay("gaussian", 1000)
    e = math.exp(-0.5)
    assert g(0.0) == pytest.approx(1.0)
    assert g(1000.0) == pytest.approx(0.0, abs=1e-15)
    assert g(500.0) == pytest.approx((math.exp(-0.125) - e) / (1 - e))  # 0.7316...
    assert g(1200.0) == 0.0
    assert np.all(np.diff(g(np.linspace(0, 1000, 50))) < 0)
    f = decay(lambda x: 1 / (1 + x / 100), 400)
    np.testing.assert_allclose(f([0, 100, 300, 401]), [1, 0.5, 0.25, 0])
    assert isinstance(f, Decay) and f.cutoff_m == 400
    assert decay(decay("linear", 100), 200)(100) == pytest.approx(0.5)


def test_decay_errors():
    with pytest.raises(lc.InputError, match="beta_per_m"):
        decay("exponential", 1000)
    with pytest.raises(lc.InputError, match="kind"):
        decay("cubic", 1000)
    with pytest.raises(lc.InputError, match="does not take"):
        decay("linear", 1000, beta_per_m=1)
    with pytest.raises(lc.InputError, match="cutoff_m"):
        decay("step", -5)


# ---------------------------------------------------------------------- supply and demand
def test_two_step_fca_hand_computed_two_facilities():
    """Line 0-1-2-3-4 (100 m edges); A at node 0 (10 places), B at node 4 (60 places).

    Population per node P = [100, 200, 300, 400, 500]; catchment d0 = 250 m.

    Step decay (A reaches nodes 0, 1, 2; B reaches 2, 3, 4):
        R_A = 10 / (100 + 200 + 300) = 1/60        R_B = 60 / (300 + 400 + 500) = 1/20
        A = [1/60, 1/60, 1/60 + 1/20, 1/20, 1/20]

    Linear decay w(d) = 1 - d/250: w(0) = 1, w(100) = 0.6, w(200) = 0.2
        R_A = 10 / (100·1 + 200·0.6 + 300·0.2) = 10/280 = 1/28
        R_B = 60 / (500·1 + 400·0.6 + 300·0.2) = 60/800 = 0.075
        A_0 = 1/28 = 0.035714   A_1 = 0.6/28 = 0.021429   A_2 = 0.2/28 + 0.2·0.075 = 0.022143
        A_3 = 0.6·0.075 = 0.045   A_4 = 0.075
    """
    net = _line()
    r = reach_matrix(net, _seeds([0, 4]), 250)
    pop = [100, 200, 300, 400, 500]
    table = pd.DataFrame({"capacity": [10.0, 60.0]})
    step = two_step_fca(r, pop, table, "step")
    np.testing.assert_allclose(step.facilities["ratio"], [1 / 60, 1 / 20])
    np.testing.assert_allclose(step.facilities["demand"], [600, 1200])
    np.testing.assert_allclose(step.access, [1 / 60, 1 / 60, 1 / 60 + 1 / 20, 1 / 20, 1 / 20])
    lin = two_step_fca(r, pop, table, "linear")
    np.testing.assert_allclose(lin.facilities["ratio"], [1 / 28, 0.075])
    np.testing.assert_allclose(
        lin.access, [1 / 28, 0.6 / 28, 0.2 / 28 + 0.2 * 0.075, 0.6 * 0.075, 0.075]
    )
    # a missing capacity takes the default
    nan_table = pd.DataFrame({"capacity": [10.0, np.nan]})
    again = two_step_fca(r, pop, nan_table, decay("linear", 250), default_supply=60)
    np.testing.assert_allclose(again.access, lin.access)
    # total supply is conserved: sum_i P_i A_i = sum_j S_j (everyone is within some catchment)
    assert np.dot(pop, lin.access) == pytest.approx(70.0)


def test_two_step_fca_at_points_and_other_targets():
    net = _line()
    r = reach_matrix(net, _seeds([0]), 250)
    res = net.snap(np.array([[50.0, 10.0], [350.0, 0.0]]))
    rp = reach_at_points(net, r, res)
    out = two_step_fca(rp, [40.0, 1000.0], [8.0], "step", access_reach=r)
    # only the first resident (10 + 50 m) is in the catchment: R = 8/40
    assert out.facilities["ratio"].tolist() == [0.2]
    np.testing.assert_allclose(out.access, [0.2, 0.2, 0.2, 0, 0])
    lonely = two_step_fca(r, np.zeros(5), None, "step")
    assert np.isnan(lonely.facilities["ratio"][0]) and np.all(lonely.access == 0)
    with pytest.raises(lc.InputError, match="one value per demand target"):
        two_step_fca(r, [1.0], None)
    with pytest.raises(lc.InputError, match="exceeds"):
        two_step_fca(r, np.ones(5), None, decay("step", 500))


def test_gravity_and_capacities():
    net = _line()
    r = reach_matrix(net, _seeds([0, 4], label=[0, 2]), 250)
    cap = pd.DataFrame({"capacity": [10.0, 99.0, np.nan]})  # label = row position
    np.testing.assert_allclose(gravity(r, cap, "step", default_supply=5), [10, 10, 15, 5, 5])
    np.testing.assert_allclose(
        gravity(r, cap, decay("linear", 250), default_supply=5), [10, 6, 2 + 1, 3, 5]
    )
    np.testing.assert_allclose(gravity(r), count_within(r))
    assert capacities(pd.Series({2: 7.0}), [0, 2], default=1).tolist() == [1.0, 7.0]
    assert capacities(pd.DataFrame({"x": [1]}), default=3).tolist() == [3.0]
    with pytest.raises(lc.InputError, match="row positions"):
        capacities(pd.DataFrame({"capacity": [1.0]}), [0, 4])
