"""The compiled (numba) backend of `nearest_by_category` against networkx and the scipy backend.

The first run on a machine compiles the kernel (3-4 s, cached on disk in ``__pycache__``);
later runs load it in about 0.1 s.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_engine import (
    _helsinki_facilities,
    _nx_reference,
    check_against_brute_force,
    graphs_and_seeds,
    invariants,
)

import lifecircle_geo as lc
from lifecircle_geo import engine as E
from lifecircle_geo.engine import multi_source, nearest_by_category
from lifecircle_geo.routing import _graph, _search, seeds_from_snap

try:
    from lifecircle_geo.routing import _dijkstra as K
except Exception as exc:  # ImportError, or numba failing to initialise
    pytest.skip(
        f"the numba backend cannot be loaded ({type(exc).__name__}: {exc})", allow_module_level=True
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_and_seeds())
def test_numba_equals_networkx_brute_force(case):
    net, seeds, cutoff = case
    res = check_against_brute_force(net, seeds, cutoff, "numba")
    assert res.backend == "numba"
    # the spatial node order and a single thread give the same answer
    check_against_brute_force(net, seeds, cutoff, "numba", node_order="spatial", n_jobs=1)


@settings(max_examples=60, deadline=None)
@given(graphs_and_seeds(integer_weights=True))
def test_numba_labels_on_exact_ties_and_any_bucket_width(case):
    """Integer costs tie often; every bucket width and the heap kernel agree exactly."""
    net, seeds, cutoff = case
    ref = check_against_brute_force(net, seeds, cutoff, "numba")
    kg = _graph.kernel_graph(net, _graph.quantum(cutoff), "given", cutoff)
    node, d0, lab = _search._reduce_seeds(E.Seeds(seeds.node, seeds.dist_m, seeds.label))
    lab = lab.astype(np.int32)
    for width in (0.5, 25.0, 1000.0):
        d = np.empty(net.n_nodes)
        lb = np.empty(net.n_nodes, dtype=np.int32)
        K.bounded_multi_source(
            kg.indptr, kg.indices, kg.data, node, d0, lab, cutoff, width, kg.perm, d, lb
        )
        np.testing.assert_array_equal(d, ref.dist_m[0])
        np.testing.assert_array_equal(lb, ref.label[0])
    d = np.empty(net.n_nodes)
    lb = np.empty(net.n_nodes, dtype=np.int32)
    K.heap_multi_source(kg.indptr, kg.indices, kg.data, node, d0, lab, cutoff, d, lb)
    np.testing.assert_array_equal(d, ref.dist_m[0])
    np.testing.assert_array_equal(lb, ref.label[0])


@settings(max_examples=40, deadline=None)
@given(graphs_and_seeds())
def test_numba_invariants(case):
    invariants(*case, backend="numba")


def test_numba_equals_scipy_and_networkx_on_helsinki(helsinki_net):
    net = helsinki_net
    snap, cats, labels = _helsinki_facilities(net, n_cat=6, per_cat=12)
    fast = nearest_by_category(
        net, snap, 1500.0, category=cats, labels=labels, backend="numba", n_jobs=2
    )
    ref = nearest_by_category(net, snap, 1500.0, category=cats, labels=labels, backend="scipy")
    assert fast.backend == "numba" and ref.backend == "scipy"
    np.testing.assert_allclose(fast.dist_m, ref.dist_m, atol=1e-9, rtol=0)
    np.testing.assert_array_equal(fast.dist_m, ref.dist_m)  # in fact bit-identical
    np.testing.assert_array_equal(fast.label, ref.label)
    for c in fast:
        sel = cats == c
        seeds = seeds_from_snap(net, snap.take(sel), labels[sel])
        nx_d, _ = _nx_reference(net, seeds.node, 1500.0, seeds.dist_m)
        fin = np.isfinite(nx_d)
        np.testing.assert_array_equal(np.isfinite(fast[c][0]), fin)
        np.testing.assert_allclose(fast[c][0][fin], nx_d[fin], atol=1e-6, rtol=0)
    # the same with the spatial node order, one thread, and float32 results
    spatial = nearest_by_category(
        net,
        snap,
        1500.0,
        category=cats,
        labels=labels,
        backend="numba",
        node_order="spatial",
        n_jobs=1,
    )
    np.testing.assert_array_equal(spatial.dist_m, ref.dist_m)
    np.testing.assert_array_equal(spatial.label, ref.label)
    f32 = nearest_by_category(
        net, snap, 1500.0, category=cats, labels=labels, backend="numba", dtype=np.float32
    )
    np.testing.assert_array_equal(f32.dist_m, ref.dist_m.astype(np.float32))


def test_numba_ties_on_a_ring():
    net = lc.WalkNetwork.from_arrays(
        [0, 100, 100, 0], [0, 0, 100, 100], [0, 1, 2, 3], [1, 2, 3, 0], [100.0] * 4, crs=32651
    )
    for order in ([0, 1], [1, 0]):
        seeds = E.Seeds(np.array([1, 3])[order], np.zeros(2), np.array([8, 3])[order])
        res = nearest_by_category(net, {"c": seeds}, 1000, backend="numba")
        assert res["c"][0].tolist() == [100.0, 0.0, 100.0, 0.0]
        assert res["c"][1].tolist() == [3, 8, 3, 3]


def test_auto_backend_and_multi_source_agree(helsinki_net):
    net = helsinki_net
    rng = np.random.default_rng(9)
    seeds = E.Seeds(rng.choice(net.n_nodes, 20), rng.uniform(0, 80, 20), np.arange(20))
    nearest_by_category(net, {"c": seeds}, 1000.0, backend="numba")  # kernel loaded now
    res = nearest_by_category(net, {"c": seeds}, 1000.0)
    assert res.backend == "numba"  # auto: the kernel is loaded in this process
    d, lab = multi_source(net, seeds, 1000.0)
    np.testing.assert_array_equal(res["c"][0], d)
    np.testing.assert_array_equal(res["c"][1], lab)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_and_seeds(integer_weights=True))
def test_distance_to_nearest_compiled_path_equals_scipy(case):
    """The public one-category call on the compiled kernel: same distances, same tie rule
    (equal distance: the smaller source position) as the scipy search."""
    net, seeds, cutoff = case
    positions = np.arange(len(seeds.node), dtype=np.int64)
    ref_d, ref_k = multi_source(net, E.Seeds(seeds.node, seeds.dist_m, positions), cutoff)
    for backend in ("numba", "scipy", "auto"):
        d, k = E.distance_to_nearest(net, seeds.node, cutoff, seeds.dist_m, backend=backend)
        assert d.dtype == np.float64 and k.dtype == np.int64
        np.testing.assert_array_equal(d, ref_d)
        np.testing.assert_array_equal(k, ref_k)


def test_distance_to_nearest_takes_the_compiled_path_once_loaded(monkeypatch):
    net = lc.WalkNetwork.from_arrays(
        [0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3], [100.0] * 3, crs=32651
    )
    E.distance_to_nearest(net, [0], 150.0, backend="numba")  # loads the kernel
    seen = []
    real = _search._numba_run
    monkeypatch.setattr(_search, "_numba_run", lambda *a, **k: seen.append(1) or real(*a, **k))
    d, k = E.distance_to_nearest(net, [3, 0], 150.0)
    assert seen and d.tolist() == [0.0, 100.0, 100.0, 0.0] and k.tolist() == [1, 1, 0, 0]
