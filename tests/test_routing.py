"""The routing core: Snap, Sites, one walk for every measure, one walk speed per run."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo import gaps, routing
from lifecircle_geo.routing import Seeds, Sites, Snap

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _grid(k=6, step=100.0):
    xs, ys = np.meshgrid(np.arange(k) * step, np.arange(k) * step)
    idx = np.arange(k * k).reshape(k, k)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    # uneven lengths (detours) so that ties are rare and costs are not all equal
    rng = np.random.default_rng(3)
    length = step * rng.uniform(1.0, 1.6, len(u))
    return lc.WalkNetwork.from_arrays(xs.ravel(), ys.ravel(), u, v, length, crs=32651)


# ---------------------------------------------------------------------------- Snap
def test_snap_is_typed_and_round_trips_to_a_frame():
    net = _grid()
    s = net.snap(np.array([[30.0, 4.0], [np.nan, 1.0], [5000.0, 0.0]]), max_snap_m=100)
    assert isinstance(s, Snap) and len(s) == 3
    assert s.edge.dtype == np.int64 and s.ok.dtype == bool
    assert s.ok.tolist() == [True, False, False]
    assert "not finite" in s.reason[1] and "max_snap_m=100" in s.reason[2]
    frame = s.to_frame()
    assert frame.columns.tolist() == ["edge", "along_m", "snap_m", "x", "y", "ok", "reason"]
    assert frame["along_m"].iloc[0] == pytest.approx(30.0 * net.length_m[s.edge[0]] / 100.0)
    part = s.take([2, 0])
    assert part.ok.tolist() == [False, True] and part.edge[1] == s.edge[0]
    both = Snap.concat([s, part])
    assert len(both) == 5 and both.reason[3] == s.reason[2]
    assert len(Snap.empty(2)) == 2 and not Snap.empty(2).ok.any()


# ---------------------------------------------------------------------------- Sites
def test_sites_from_facilities_places_polygons_by_entrances_or_boundary():
    net = _grid()
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["p", "k", "x"],
            "category": ["park", "kindergarten", "park"],
            "entrances": [shapely.MultiPoint([(210.0, 250.0)]), None, None],
        },
        geometry=[shapely.box(205, 205, 295, 295), shapely.Point(40, 3), None],
        crs=32651,
    ).to_crs(4326)
    fac["entrances"] = gpd.GeoSeries(fac["entrances"], crs=32651).to_crs(4326).to_numpy()
    sites = Sites.from_facilities(net, fac)
    # the park's one entrance, the kindergarten's point; the row without geometry has none
    assert sites.label.tolist() == [0, 1]
    assert sites.category.tolist() == ["park", "kindergarten"]
    assert sites.facilities.crs == net.crs
    assert sites.snap.snap_m[0] == pytest.approx(10.0, abs=1e-6)  # 10 m west of x=200
    snap_m = sites.snap_m_by_label(3)
    assert snap_m[1] == pytest.approx(3.0, abs=1e-6) and np.isnan(snap_m[2])
    assert sites.for_category("park").label.tolist() == [0]
    with pytest.raises(lc.InputError, match="category"):
        Sites.from_facilities(net, fac.drop(columns="category"))


def test_facilities_to_crs_moves_entrances_with_the_table():
    fac = gpd.GeoDataFrame(
        {"entrances": [shapely.MultiPoint([(121.5, 31.2)]), None]},
        geometry=[shapely.box(121.5, 31.2, 121.501, 31.201), shapely.Point(121.49, 31.19)],
        crs=4326,
    )
    out = lc.facilities.to_crs(fac, 32651)
    back = lc.facilities.to_crs(out, 4326)
    assert out["entrances"].iloc[0].geoms[0].x > 1e5  # metres now
    assert back["entrances"].iloc[0].equals_exact(fac["entrances"].iloc[0], 1e-9)
    assert back["entrances"].iloc[1] is None


def test_sites_validate_lengths():
    net = _grid()
    s = net.snap(np.array([[30.0, 4.0]]))
    with pytest.raises(lc.InputError, match="labels"):
        Sites(s, np.array([0, 1]))
    with pytest.raises(lc.InputError, match=">= 0"):
        Sites(s, np.array([-1]))


# ---------------------------------------------------------------------------- one walk
def _nx_point_walk(net, a_snap, b_snap, i, j):
    """networkx reference for the walk between snapped point i of a and j of b."""
    G = nx.Graph()
    for e in range(net.n_edges):
        G.add_edge(int(net.u[e]), int(net.v[e]), w=float(net.cost_m[e]))

    def attach(G, name, snap, k):
        e = int(snap.edge[k])
        ratio = net.cost_m[e] / net.length_m[e]
        G.add_edge(name, int(net.u[e]), w=snap.snap_m[k] + snap.along_m[k] * ratio)
        G.add_edge(
            name, int(net.v[e]), w=snap.snap_m[k] + (net.length_m[e] - snap.along_m[k]) * ratio
        )
        return e, ratio

    H = G.copy()
    ea, ra = attach(H, "A", a_snap, i)
    eb, _ = attach(H, "B", b_snap, j)
    d = nx.shortest_path_length(H, "A", "B", weight="w")
    if ea == eb:  # the direct walk along a shared edge
        d = min(
            d,
            abs(a_snap.along_m[i] - b_snap.along_m[j]) * ra + a_snap.snap_m[i] + b_snap.snap_m[j],
        )
    return d


def test_every_measure_walks_the_same_way():
    """nearest, per-facility reach at points and the site-suggestion matrix agree exactly."""
    net = _grid()
    rng = np.random.default_rng(0)
    fac_pts = rng.uniform(0, 500, (6, 2))
    res_pts = rng.uniform(0, 500, (40, 2))
    sites = Sites.from_points(net, fac_pts, category=["a"] * 6)
    res = net.snap(res_pts)
    cutoff = 3000.0
    near = lc.engine.nearest_by_category(net, sites, cutoff)
    walk, label = near.at_points(net, res, "a")
    reach = routing.reach_at_points(net, routing.reach_matrix(net, sites, cutoff), res, sites)
    dense = np.full((6, len(res)), np.inf)
    dense[reach.labels[reach.facility], reach.target] = reach.dist_m
    np.testing.assert_array_equal(walk, dense.min(axis=0))
    assert np.all(dense[label, np.arange(len(res))] == walk)
    for i in range(6):
        for j in range(0, 40, 7):
            ref = _nx_point_walk(net, sites.snap, res, i, j)
            assert dense[i, j] == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("backend", ["numba", "scipy"])
def test_reach_targets_and_compiled_point_pairs_match_the_plain_path(backend, monkeypatch):
    """``targets=`` keeps exactly the full reach's pairs at those nodes; the compiled point
    pass equals the plain numpy one (same pairs, order and bits), sites on shared edges too."""
    from lifecircle_geo.routing import _reach_kernels, walk

    net = _grid(k=9, step=60.0)
    rng = np.random.default_rng(1)
    # many facilities so that a node holds more than 32 pairs (the merge-sort branch)
    sites = Sites.from_points(net, rng.uniform(0, 480, (60, 2)), category=["a"] * 60)
    beside = np.column_stack([sites.snap.x[:5] + 3.0, sites.snap.y[:5] + 2.0])
    res = net.snap(np.vstack([rng.uniform(0, 480, (50, 2)), beside]))
    full = routing.reach_matrix(net, sites, 2000.0, backend=backend)
    assert np.bincount(full.target).max() > 32
    keep = np.zeros(net.n_nodes, dtype=bool)
    keep[rng.choice(net.n_nodes, 20, replace=False)] = True
    part = routing.reach_matrix(net, sites, 2000.0, backend=backend, targets=keep)
    mask = keep[full.target]
    for a in ("facility", "target", "dist_m"):
        np.testing.assert_array_equal(getattr(part, a), getattr(full, a)[mask])
    compiled = routing.reach_at_points(net, full, res, sites)
    monkeypatch.setattr(walk, "_kernels", lambda: None)
    plain = routing.reach_at_points(net, full, res, sites)
    for a in ("facility", "target", "dist_m"):
        np.testing.assert_array_equal(getattr(compiled, a), getattr(plain, a))
    order = _reach_kernels.order_pairs(full.target, full.dist_m, full.facility, net.n_nodes)
    np.testing.assert_array_equal(order, np.arange(len(full)))  # already in lexsort order
    for seed in range(3):  # any order in: lexsort's order out, ties by facility included
        perm = np.random.default_rng(seed).permutation(len(full))
        t, d, f = full.target[perm], np.round(full.dist_m[perm], -2), full.facility[perm]
        got = _reach_kernels.order_pairs(t, d, f, net.n_nodes)
        np.testing.assert_array_equal(got, np.lexsort((f, d, t)))
    # ordered=False: the same pairs, grouped by target (by point) but not sorted within
    loose = routing.reach_matrix(net, sites, 2000.0, backend=backend, ordered=False)
    loose_pts = routing.reach_at_points(net, loose, res, sites, ordered=False)
    for got, ref in ((loose, full), (loose_pts, plain)):
        assert not got.ordered and np.all(np.diff(got.target) >= 0)
        key = np.lexsort((got.dist_m, got.facility, got.target))
        ref_key = np.lexsort((ref.dist_m, ref.facility, ref.target))
        for a in ("facility", "target", "dist_m"):
            np.testing.assert_array_equal(getattr(got, a)[key], getattr(ref, a)[ref_key])
    with pytest.raises(lc.InputError, match="sorted by distance"):
        lc.accessibility.nearest_k(loose, 2)
    with pytest.raises(lc.InputError, match="boolean mask"):
        routing.reach_matrix(net, sites, 100.0, targets=np.ones(3, dtype=bool))


@pytest.mark.parametrize("cutoff", [250.0, 900.0, 5000.0])
def test_compiled_per_facility_searches_equal_scipys_to_the_bit(cutoff):
    """The compiled searches (a bucket queue) give scipy's pairs, distances and order.

    Uneven float lengths, zero-length edges, facilities sharing nodes with start offsets, a
    kept subset of nodes; sorted and grouped-only results alike.
    """
    pytest.importorskip("numba")
    net = _grid(k=14, step=45.0)
    rng = np.random.default_rng(5)
    length = net.length_m.copy()
    length[rng.choice(len(length), 12, replace=False)] = 0.0
    net = lc.WalkNetwork.from_arrays(net.x_m, net.y_m, net.u, net.v, length, crs=32651)
    n_seed = 400
    seeds = Seeds(
        rng.integers(0, net.n_nodes, n_seed),
        np.round(rng.uniform(0, 60, n_seed), 1),
        rng.integers(0, 150, n_seed),
    )
    keep = rng.random(net.n_nodes) < 0.4
    for targets in (None, keep):
        for ordered in (True, False):
            got, ref = (
                routing.reach_matrix(
                    net, seeds, cutoff, backend=b, targets=targets, ordered=ordered, batch_size=32
                )
                for b in ("numba", "scipy")
            )
            assert len(ref) > 0
            for a in ("facility", "target", "dist_m"):
                np.testing.assert_array_equal(getattr(got, a), getattr(ref, a), err_msg=a)


def test_site_suggestion_distances_equal_the_engines():
    """gaps' candidate × resident reach is the engine's walk from the same street nodes."""
    net = _grid()
    rng = np.random.default_rng(1)
    res = net.snap(rng.uniform(0, 500, (50, 2)))
    cands = np.array([0, 7, 14, 21, 35])
    thr = 260.0
    within = gaps._reach_within(net, cands, res, thr)
    for k, node in enumerate(cands):
        d_node, lab = routing.multi_source(net, Seeds(np.array([node]), np.zeros(1), [0]), 1e5)
        walk, _ = routing.point_distances(net, d_node, lab, res)
        np.testing.assert_array_equal(within[k], walk <= thr)
    assert within.any() and not within.all()


def test_nearest_by_category_takes_sites_snap_or_mapping_alike():
    net = _grid()
    pts = np.array([[130.0, 20.0], [420.0, 310.0], [60.0, 480.0]])
    cats = ["clinic", "clinic", "school"]
    sites = Sites.from_points(net, pts, category=cats, labels=[4, 9, 2])
    a = lc.engine.nearest_by_category(net, sites, 1500)
    b = lc.engine.nearest_by_category(net, net.snap(pts), 1500, category=cats, labels=[4, 9, 2])
    c = lc.engine.nearest_by_category(
        net, {k: sites.for_category(k).seeds(net) for k in ("clinic", "school")}, 1500
    )
    for other in (b, c):
        np.testing.assert_array_equal(a.dist_m, other.dist_m)
        np.testing.assert_array_equal(a.label, other.label)
    assert a.sites is sites and c.sites is None
    with pytest.raises(lc.InputError, match="Sites and Seeds carry"):
        lc.engine.nearest_by_category(net, sites, 1500, labels=[1, 2, 3])


# ---------------------------------------------------------------------------- walk speed
def _speed_profile(tmp_path, kmh):
    p = tmp_path / f"speed{kmh}.toml"
    p.write_text(
        'extends = "shanghai-2025"\n[profile]\nid = "slow"\n'
        f"walk_speed_kmh = {kmh}\n"
        'walk_speed_source = "test: a planner\'s slower walker"\n',
        encoding="utf-8",
    )
    return p


@pytest.fixture(scope="module")
def sample_inputs():
    net = lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")
    fac = lc.facilities.from_osm(SAMPLE / "sample.osm")
    units = lc.units.load(SAMPLE / "units.geojson")
    pop = lc.population.from_raster(SAMPLE / "population.tif")
    return net, fac, units, pop


def test_profile_walk_speed_changes_minutes_and_warns_on_network(tmp_path, sample_inputs, caplog):
    net, fac, units, pop = sample_inputs
    kw = {"suggest": False, "isochrone_polygons": False}
    base = lc.analyze(net, fac, units, population=pop, **kw)
    assert base.meta["walk_speed_kmh"] == 4.0
    assert not [w for w in base.meta["warnings"] if "km/h" in w]
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        slow = lc.analyze(
            net, fac, units, population=pop, profile=_speed_profile(tmp_path, 3.6), **kw
        )
    assert slow.meta["walk_speed_kmh"] == 3.6
    # the network was built at 4.0 km/h (ferry costs): said once, naming both speeds
    msgs = [w for w in slow.meta["warnings"] if "km/h" in w]
    assert len(msgs) == 1 and "4 km/h" in msgs[0] and "3.6 km/h" in msgs[0]
    assert any("3.6 km/h" in r.getMessage() for r in caplog.records)
    # distances and shares are the same; minutes are 4.0 / 3.6 longer
    cols = ["unit_id", "category"]
    a = base.coverage.set_index(cols)
    b = slow.coverage.set_index(cols)
    pd.testing.assert_series_equal(a["share"], b["share"])
    # (categories with their own speed, the elderly's, keep it)
    own = [c.id for c in base.profile.categories if c.walk_speed_kmh is not None]
    ok = a["mean_walk_min"].notna() & ~a.index.get_level_values("category").isin(own)
    assert ok.any() and own
    np.testing.assert_allclose(
        b["mean_walk_min"][ok].to_numpy(), a["mean_walk_min"][ok].to_numpy() * 4.0 / 3.6
    )
    # an explicit speed beats the profile's; nonsense is refused
    fast = lc.analyze(net, fac, units, population=pop, walk_speed_kmh=5.0, **kw)
    assert fast.meta["walk_speed_kmh"] == 5.0
    with pytest.raises(lc.InputError, match="walk_speed_kmh"):
        lc.analyze(net, fac, units, population=pop, walk_speed_kmh=-1, **kw)


def test_network_built_at_the_profiles_speed_is_quiet(tmp_path, sample_inputs):
    _, fac, units, pop = sample_inputs
    slow_net = lc.WalkNetwork.from_osm(SAMPLE / "sample.osm", walk_speed_kmh=3.6)
    assert slow_net.meta["walk_speed_kmh"] == 3.6
    res = lc.analyze(
        slow_net,
        fac,
        units,
        population=pop,
        profile=_speed_profile(tmp_path, 3.6),
        suggest=False,
        isochrone_polygons=False,
    )
    assert res.meta["walk_speed_kmh"] == 3.6
    assert not [w for w in res.meta["warnings"] if "km/h" in w]
    with pytest.raises(lc.NetworkError, match="walk_speed_kmh"):
        lc.WalkNetwork.from_osm(SAMPLE / "sample.osm", walk_speed_kmh=0)


def test_result_facilities_feed_back_with_the_same_answer(sample_inputs):
    """result.facilities is in one CRS (entrances included) and round-trips through analyze."""
    net, fac, units, pop = sample_inputs
    kw = {"suggest": False, "isochrone_polygons": False}
    first = lc.analyze(net, fac, units, population=pop, **kw)
    out = first.facilities
    assert out.crs.to_epsg() == 4326
    ent = gpd.GeoSeries([e for e in out["entrances"] if e is not None], crs=4326)
    assert len(ent) and ent.total_bounds[0] > 121 and ent.total_bounds[3] < 32  # degrees
    again = lc.analyze(
        net,
        out.drop(columns=["snap_m", "reachable", "served_population"]),
        units,
        population=pop,
        **kw,
    )
    pd.testing.assert_frame_equal(first.coverage, again.coverage)


def test_search_arrays_are_the_search_graph_once():
    """The compiled searches' int64 / float64 arrays of the rounded graph, made once."""
    from lifecircle_geo.routing._graph import quantum, search_arrays, search_csr

    net = _grid()
    q = quantum(1000.0)
    indptr, indices, data = search_arrays(net, q)
    g = search_csr(net, q)
    assert indptr.dtype == indices.dtype == np.int64 and data.dtype == np.float64
    assert np.array_equal(indptr, g.indptr) and np.array_equal(indices, g.indices)
    assert np.array_equal(data, g.data)
    assert search_arrays(net, q)[1] is indices


def test_same_edge_pairs_are_the_merge_of_every_point():
    """Direct walks along a shared edge, from the points on an edge with a site only: the rows
    and order of the merge of every snapped point with the sites."""
    from lifecircle_geo.routing.walk import _legs, _same_edge

    net = _grid(k=12, step=50.0)
    rng = np.random.default_rng(10)
    x0, y0 = net.x_m.min(), net.y_m.min()
    origin = np.array([x0, y0])
    pts = rng.uniform(0, 550, (3000, 2)) + origin
    fac = rng.uniform(0, 550, (40, 2)) + origin
    fac = np.vstack([fac, fac[:5]])  # two sites at one place
    sites = Sites.from_points(net, fac, labels=np.arange(len(fac)) * 3)
    lg = _legs(net, net.snap(pts))
    got = _same_edge(lg, sites)
    s = sites.snap
    src = pd.DataFrame(
        {"edge": s.edge[s.ok], "s_along": s.along_m[s.ok], "s_off": s.snap_m[s.ok]}
    ).assign(label=sites.label[s.ok])
    every = pd.DataFrame(
        {
            "edge": lg.edge,
            "p_along": lg.along_m,
            "p_off": lg.snap_m,
            "i": np.arange(len(lg.edge)),
            "ratio": lg.ratio,
        }
    ).merge(src, on="edge", how="inner")
    every["direct"] = (
        (every["p_along"] - every["s_along"]).abs() * every["ratio"]
        + every["p_off"]
        + every["s_off"]
    )
    pd.testing.assert_frame_equal(got, every[["i", "label", "direct"]])
    assert len(got) > 50
