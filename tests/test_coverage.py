"""Coverage on a hand-built case whose answer is known by hand.

A 3×3 street grid, 100 m blocks, two units, five resident points and one 托育 (childcare) at the
south-west corner (childcare threshold 300 m):

    (0,200) 50p ---- (100,200) ---- (200,200) 20p
        |               |               |
    (0,100) -------- (100,100) -- 10p -- (200,100)
        |               |               |
    (0,0) 100p + 托 -- (100,0) ----- (200,0) 30p

Unit A (x < 100): 150 residents, walks 0 m and 200 m → 150 covered, share 1.
Unit B (x > 100): walks 200 m (30p), 250 m (10p, mid-edge), 400 m (20p) → 40 of 60 covered.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.coverage import summarize, weighted_quantile
from lifecircle_geo.mock import regular_grid

X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai
CRS = 32651


def _grid_case(**kwargs):
    net = lc.WalkNetwork.from_arrays(*regular_grid(3, 3, 100.0, X0, Y0), crs=CRS)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B"],
            "unit_name": ["甲单元", "乙单元"],
            "jiezhen_code": "J1",
            "jiezhen_name": "测试街道",
            "district_code": "310105",
        },
        geometry=[
            shapely.box(X0 - 50, Y0 - 50, X0 + 100, Y0 + 250),
            shapely.box(X0 + 100, Y0 - 50, X0 + 250, Y0 + 250),
        ],
        crs=CRS,
    )
    pts = [(0, 0, 100), (0, 200, 50), (200, 0, 30), (200, 200, 20), (150, 100, 10)]
    pop = gpd.GeoDataFrame(
        {"population": [p for *_, p in pts]},
        geometry=[shapely.Point(X0 + a, Y0 + b) for a, b, _ in pts],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["k1"],
            "name": ["测试托育园"],
            "category": ["childcare"],
            "facility_type": ["托育"],
            "source": ["test"],
            "rule": ["hand"],
            "capacity": [np.nan],
        },
        geometry=[shapely.Point(X0, Y0)],
        crs=CRS,
    )
    return lc.analyze(net, fac, units, population=pop, profile=PROFILE, progress=False, **kwargs)


#: shanghai-2025 with 托育 (a 街镇 project, no department) at 300 m in every area type and
#: judged on everyone, so the hand counts above stay whole people
PROFILE = lc.load_profile(
    "shanghai-2025",
    overrides={
        "category": [
            {
                "id": "childcare",
                "target_group": "all",
                "target_share": 0.85,
                "threshold_m": dict.fromkeys(lc.standards.AREA_TYPES, 300),
            }
        ]
    },
)


@pytest.fixture(scope="module")
def grid_case():
    """Only a childcare in the inputs: the other 19 categories have no data."""
    return _grid_case()


@pytest.fixture(scope="module")
def grid_complete():
    """The same inputs declared complete: no facility means nobody is covered."""
    return _grid_case(complete=True)


def test_unit_coverage_by_hand(grid_case):
    cov = grid_case.coverage.set_index(["unit_id", "category"])
    a = cov.loc[("A", "childcare")]
    b = cov.loc[("B", "childcare")]
    assert a.threshold_m == 300.0
    assert (a.population, a.covered_population, a.share) == (150.0, 150.0, 1.0)
    assert (b.population, b.covered_population) == (60.0, 40.0)
    assert b.share == pytest.approx(40 / 60)
    m_per_min = 4000 / 60
    assert a.mean_walk_min == pytest.approx((50 * 200) / 150 / m_per_min)
    assert b.mean_walk_min == pytest.approx((30 * 200 + 10 * 250 + 20 * 400) / 60 / m_per_min)
    assert b.p90_walk_min == pytest.approx(400 / m_per_min)
    assert bool(a.meets_standard) and not bool(b.meets_standard)
    assert (a.status, b.status) == ("met", "gap")
    # no park in the inputs: not measured, never 0 % and never a gap
    park = cov.loc[("A", "park")]
    assert park.status == "no data" and park.population == 150.0
    assert np.isnan(park.covered_population) and np.isnan(park.share)
    assert park.meets_standard is pd.NA and np.isnan(park.mean_walk_min)
    assert grid_case.demand["walk_m_park"].isna().all()
    assert "park" in grid_case.meta["no_data"] and "childcare" not in grid_case.meta["no_data"]
    assert any("complete=" in w for w in grid_case.meta["warnings"])


def test_declared_complete_measures_zero(grid_complete):
    park = grid_complete.coverage.set_index(["unit_id", "category"]).loc[("A", "park")]
    assert park.status == "gap" and park.covered_population == 0 and park.share == 0.0
    assert np.isnan(park.mean_walk_min)  # nobody reached within the search cutoff
    assert grid_complete.meta["no_data"] == []
    assert (grid_complete.gaps["category"] == "park").sum() == 2


def test_no_data_is_not_a_gap(grid_case):
    # the one measured category is the only gap; no project for a category without data
    assert set(grid_case.gaps["category"]) == {"childcare"}
    assert set(grid_case.projects["category"]) <= {"childcare"}
    summary = grid_case.summary().set_index("category")
    assert summary.loc["park", "status"] == "no data" and np.isnan(summary.loc["park", "share"])
    jz = grid_case.jiezhen.set_index("category")
    assert jz.loc["park", "status"] == "no data" and np.isnan(jz.loc["park", "share"])
    assert jz.loc["childcare", "status"] == "met"  # 190 of 210 ≥ 85 %


def test_walks_per_resident(grid_case):
    walk = grid_case.demand.sort_values("population", ascending=False)["walk_m_childcare"]
    np.testing.assert_allclose(walk.to_numpy(), [0, 50 * 0 + 200, 200, 400, 250])


def test_gap_ranking_and_site(grid_complete):
    grid_case = grid_complete
    gaps = grid_case.gaps
    kg = gaps[gaps.category == "childcare"]
    assert kg.unit_id.tolist() == ["B"] and kg.people_left_out.iloc[0] == 20.0
    # ranked by class priority (基础保障 before 品质提升 in 中心城), then by people left out:
    # unit A's gaps (150 people) come before unit B's (60) within a class
    assert gaps.priority.is_monotonic_increasing
    for _, same in gaps.groupby("priority"):
        assert same.people_left_out.is_monotonic_decreasing
    assert gaps.iloc[0].people_left_out == 150.0 and gaps.iloc[0].class_zh == "基础保障"
    # the gaps go into packages: a site hosting 托育 covers B's 20 people left out
    fn = grid_case.package_functions
    care = fn[fn.category == "childcare"]
    assert len(care) == 1 and care.newly_covered_population.iloc[0] == 20.0
    pkg = grid_case.packages.set_index("package_id").loc[care.package_id.iloc[0]]
    assert "childcare" in pkg.functions and pkg.package_type in ("人民坊", "六艺亭")
    proj = grid_case.projects.set_index("project_id").loc[care.package_id.iloc[0]]
    assert "托育" in proj.content_zh and proj.status == "拟实施"
    assert "乙单元托育覆盖率67%→100%" in proj.gap_note_zh
    assert 121 < proj.lon < 122 and 31 < proj.lat < 32
    # GCJ-02 is about 500 m east/south-east of WGS-84 in Shanghai
    assert 0.002 < proj.lon_gcj02 - proj.lon < 0.006
    # every project has a place, and the budget is min(11, 2 × units)
    assert grid_case.projects["lon"].notna().all() and len(grid_case.packages) <= 4


def test_rollup_to_jiezhen(grid_case):
    jz = grid_case.jiezhen.set_index("category").loc["childcare"]
    assert (jz.population, jz.covered_population) == (210.0, 190.0)
    s = grid_case.summary().set_index("category").loc["childcare"]
    assert s.share == pytest.approx(190 / 210)
    assert s.name_zh == "托育"


def test_summarize_and_quantile_edge_cases():
    assert weighted_quantile([5.0, np.inf], [1, 1], 0.9) == np.inf
    assert weighted_quantile([5.0, 7.0], [9, 1], 0.9) == 5.0
    import pandas as pd

    long = pd.DataFrame(
        {
            "unit_id": ["z"],
            "category": "park",
            "population": [0.0],
            "walk_m": [np.inf],
            "threshold_m": 500.0,
            "target_share": 0.85,
        }
    )
    t = summarize(long, ["unit_id"], 4.0)
    assert t.share.iloc[0] == 0.0 and bool(t.meets_standard.iloc[0])


def test_service_load_equals_covered_people(grid_case):
    fac = grid_case.facilities.set_index("facility_id")
    assert fac.loc["k1", "served_population"] == 190.0


def test_catchment_polygon_by_hand(grid_case):
    iso = grid_case.isochrones.query("category == 'childcare'")
    assert iso.threshold_m.tolist() == [300.0]
    poly = iso.geometry.iloc[0]
    inside = [(0, 0), (100, 0), (200, 0), (0, 100), (100, 100), (0, 200), (200, 100)]
    for a, b in inside:
        assert poly.covers(shapely.Point(X0 + a, Y0 + b)), (a, b)
    assert not poly.covers(shapely.Point(X0 + 200, Y0 + 200))  # 400 m > 300 m + corridor


def test_travel_time_raster_by_hand(grid_case, tmp_path):
    import rasterio

    path = grid_case.travel_time_raster("childcare", tmp_path / "kg.tif", resolution_m=10)
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == CRS
        at = {
            (a, b): float(next(ds.sample([(X0 + a, Y0 + b)]))[0])
            for a, b in [(5, 5), (195, 5), (105, 105)]
        }
        nodata = ds.nodata
    m_per_min = 4000 / 60
    # cell centre (5, 5): 5 m off the street, 5 m along it to the childcare's corner
    assert at[(5, 5)] == pytest.approx(10 / m_per_min, abs=1e-4)
    # (195, 5): 5 m off, then 95 m + 100 m along the bottom street
    assert at[(195, 5)] == pytest.approx(200 / m_per_min, abs=1e-4)
    # (105, 105): next to node (100, 100), 200 m away on the network
    assert at[(105, 105)] == pytest.approx(210 / m_per_min, abs=1e-4)
    assert nodata is not None


def test_empty_facility_table_is_no_data_everywhere(grid_case, tmp_path):
    fac = grid_case.facilities.iloc[:0]
    net, units = grid_case.network, grid_case.units
    pop = grid_case.demand[["population", "geometry"]]
    result = lc.analyze(net, fac, units, population=pop, progress=False)
    assert set(result.coverage["status"]) == {"no data"}
    assert result.coverage["share"].isna().all()
    assert len(result.gaps) == 0 and len(result.projects) == 0
    assert any("no category could be measured" in w for w in result.meta["warnings"])
    files = result.write(tmp_path / "out")  # every output says so, none fails
    assert files["xlsx"].exists() and files["gpkg"].exists()


def test_complete_names_an_unknown_category(grid_case):
    with pytest.raises(lc.InputError, match=r"'buss'.*did you mean 'bus'"):
        lc.analyze(
            grid_case.network,
            grid_case.facilities,
            grid_case.units,
            population=grid_case.demand[["population", "geometry"]],
            progress=False,
            complete=["buss"],
        )


def test_unit_without_residents_stays_in_every_table(grid_case, tmp_path):
    """A park unit with no resident points: population 0, 'no residents', no gap; outputs work."""
    units = grid_case.units.copy()
    park = units.iloc[[0]].copy()
    park["unit_id"], park["unit_name"] = "P", "公园单元"
    park["geometry"] = [shapely.box(X0 + 300, Y0, X0 + 400, Y0 + 100)]  # beside the grid
    units = pd.concat([units, park], ignore_index=True)
    result = lc.analyze(
        grid_case.network,
        grid_case.facilities,
        units,
        population=grid_case.demand[["population", "geometry"]],
        profile=PROFILE,
        progress=False,
    )
    rows = result.coverage[result.coverage.unit_id == "P"]
    assert len(rows) == 20 and set(rows["status"]) == {"no residents"}
    assert (rows["population"] == 0).all() and rows["share"].isna().all()
    assert "P" not in set(result.gaps["unit_id"])
    assert result.units.set_index("unit_id").loc["P", "population"] == 0
    # the 街道's totals are the other units' (nothing added, nothing lost)
    jz = result.jiezhen.set_index("category").loc["childcare"]
    assert jz.population == 210.0 and jz.covered_population == 190.0
    files = result.write(tmp_path / "out")
    assert files["xlsx"].exists() and len(files["figures"]) == 3


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"search_cutoff_m": 0}, "search_cutoff_m must be a positive"),
        ({"search_cutoff_m": -5}, "search_cutoff_m must be a positive"),
        ({"max_snap_m": -1}, "max_snap_m must be a positive"),
        ({"max_snap_m": 0}, "max_snap_m must be a positive"),
    ],
)
def test_non_positive_distances_are_refused(grid_case, kwargs, needle):
    with pytest.raises(lc.InputError, match=needle):
        lc.analyze(
            grid_case.network,
            grid_case.facilities,
            grid_case.units,
            population=grid_case.demand[["population", "geometry"]],
            progress=False,
            **kwargs,
        )


def test_cutoff_below_the_thresholds_is_raised(grid_case):
    result = lc.analyze(
        grid_case.network,
        grid_case.facilities,
        grid_case.units,
        population=grid_case.demand[["population", "geometry"]],
        profile=PROFILE,
        progress=False,
        search_cutoff_m=200,
    )
    assert result.meta["search_cutoff_m"] == 1000.0  # the largest threshold in 中心城
    assert any("search_cutoff_m=200 is below" in w for w in result.meta["warnings"])
    # the coverage is the full one, not cut at 200 m
    pd.testing.assert_series_equal(result.coverage["share"], grid_case.coverage["share"])


def test_empty_table_declared_complete_is_zero_everywhere(grid_case):
    """Nothing in the inputs and the planner says that is the truth: 0 %, gaps, no traceback."""
    result = lc.analyze(
        grid_case.network,
        grid_case.facilities.iloc[:0],
        grid_case.units,
        population=grid_case.demand[["population", "geometry"]],
        profile=PROFILE,
        progress=False,
        complete=True,
        suggest=False,
    )
    measured = result.coverage[result.coverage["status"] != "informational"]
    assert (measured["share"] == 0).all() and set(measured["status"]) == {"gap"}
    assert result.demand["nearest_childcare"].isna().all()


def test_summarize_counts_a_missing_population_as_nobody():
    """A NaN count adds nobody to the sums or the 90th percentile (as a pandas sum skips it)."""
    from lifecircle_geo.coverage import summarize

    long = pd.DataFrame(
        {
            "unit_id": ["a", "a", "a", "b"],
            "category": "park",
            "population": [10.0, np.nan, 30.0, 5.0],
            "walk_m": [100.0, 50.0, 900.0, np.inf],
            "threshold_m": 500.0,
            "target_share": 0.8,
        }
    )
    got = summarize(long, ["unit_id"], 4.5).set_index("unit_id")
    ref = summarize(long.fillna({"population": 0.0}), ["unit_id"], 4.5).set_index("unit_id")
    pd.testing.assert_frame_equal(got, ref)
    assert got.loc["a", "population"] == 40.0 and got.loc["a", "covered_population"] == 10.0
    assert got.loc["a", "p90_walk_min"] == 900.0 / (4.5 * 1000 / 60)
    assert got.loc["b", "reached_population"] == 0.0 and np.isnan(got.loc["b", "p90_walk_min"])


@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_quantile_is_weighted_quantile_per_group(seed):
    """The all-groups-at-once percentile of summarize equals weighted_quantile group by group
    (ties, zero weights and unreached rows included)."""
    from lifecircle_geo.coverage import _grouped_quantile

    rng = np.random.default_rng(seed)
    n, n_grp = 3000, 40
    gid = rng.integers(0, n_grp, n)
    value = np.round(rng.uniform(0, 30, n))  # many ties
    value[rng.random(n) < 0.05] = np.inf
    weight = rng.integers(0, 5, n).astype(float)
    for q in (0.5, 0.9):
        got = _grouped_quantile(gid, value, weight, n_grp, q)
        for g in range(n_grp):
            ref = weighted_quantile(value[gid == g], weight[gid == g], q)
            assert (np.isnan(got[g]) and not np.isfinite(ref)) or got[g] == ref, (g, q)


def _resident_rows_case(seed, nan_walk=False):
    """Random resident rows: blocks per category, NaN keys, unreached rows and ties."""
    from lifecircle_geo.coverage import ResidentRows

    rng = np.random.default_rng(seed)
    n, cats = 400, ("park", "clinic", "school")
    units = np.array([f"U{i}" for i in range(12)], dtype=object)
    keys = pd.DataFrame(
        {
            "unit_id": pd.array(rng.choice(units, n), dtype="str"),
            "jiezhen_code": pd.array(rng.choice(["J1", "J2", None], n), dtype="str"),
            "_all": np.full(n, "all", dtype=object),
        }
    )
    m = n * len(cats)
    walk = np.round(rng.uniform(0, 1500, m), -1)  # many ties
    walk[rng.random(m) < 0.1] = np.inf
    if nan_walk:  # a category without data
        walk[n : 2 * n] = np.nan
    pop = rng.integers(0, 60, m).astype(float)
    pop[rng.random(m) < 0.02] = np.nan
    return ResidentRows(
        keys,
        cats,
        population=pop,
        walk_m=walk,
        threshold_m=np.repeat([500.0, 1000.0, 300.0], n),
        speed_kmh=rng.choice([4.0, 4.5], m),
        target_share=np.repeat([0.8, 0.9, 0.85], n),
    )


@pytest.mark.parametrize("nan_walk", [False, True])
@pytest.mark.parametrize("numba", [True, False])
def test_resident_rows_summarize_and_roll_up_as_their_long_table(nan_walk, numba, monkeypatch):
    """ResidentRows (groups among residents, one sort for every grouping) gives the long
    table's result to the last bit, with and without the compiled kernels."""
    from lifecircle_geo import coverage

    if not numba:
        monkeypatch.setattr(coverage, "_pair_kernels", lambda: None)
    for seed in (0, 1):
        rows = _resident_rows_case(seed, nan_walk)
        long = rows.frame()
        assert len(long) == len(rows) and list(long["category"].unique()) == list(rows.categories)
        for keys in (["unit_id"], ["jiezhen_code", "unit_id"], ["_all"]):
            pd.testing.assert_frame_equal(
                coverage.summarize(rows, keys, 4.0), coverage.summarize(long, keys, 4.0)
            )
        unit = coverage.summarize(rows, ["unit_id", "jiezhen_code"], 4.0)
        got = coverage.rollup(unit, ["jiezhen_code"], residents=rows, walk_speed_kmh=4.0)
        ref = coverage.rollup(unit, ["jiezhen_code"], residents=long, walk_speed_kmh=4.0)
        pd.testing.assert_frame_equal(got, ref)
        assert got["p90_walk_min"].notna().any()


def test_value_order_is_a_stable_argsort():
    """The compiled radix sort orders as np.argsort(kind="stable"); -0.0 ties with 0.0."""
    from lifecircle_geo.coverage import _pair_kernels

    kernels = _pair_kernels()
    if kernels is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    v = np.round(rng.uniform(-50, 3000, 20_000), 1)
    v[rng.random(len(v)) < 0.05] = np.inf
    v[rng.random(len(v)) < 0.01] = -np.inf
    v[:50], v[50:100] = -0.0, 0.0
    for values in (v, np.abs(v), np.full(10, 7.0), np.empty(0), rng.uniform(0, 1, 1000)):
        got = kernels.value_order(values)
        assert np.array_equal(got, np.argsort(values, kind="stable"))


@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_quantile_compiled_and_numpy_paths_agree(seed, monkeypatch):
    """The one-pass compiled quantile, with and without a shared value order, equals the
    numpy cumulative sums bit for bit."""
    from lifecircle_geo import coverage

    rng = np.random.default_rng(seed)
    n, n_grp = 5000, 60
    gid = rng.integers(0, n_grp, n)
    value = np.round(rng.uniform(0, 30, n), 1)
    value[rng.random(n) < 0.05] = np.inf
    weight = rng.uniform(0, 7, n) * (rng.random(n) < 0.9)
    got = coverage._grouped_quantile(gid, value, weight, n_grp)
    shared = coverage._grouped_quantile(
        gid, value, weight, n_grp, by_value=coverage._value_order(value)
    )
    monkeypatch.setattr(coverage, "_pair_kernels", lambda: None)
    ref = coverage._grouped_quantile(gid, value, weight, n_grp)
    assert np.array_equal(got, ref, equal_nan=True) and np.array_equal(shared, ref, equal_nan=True)
    assert np.isfinite(ref).sum() > n_grp // 2


def test_no_data_categories_inside_first_then_within_the_cutoff():
    """A category counts when a facility lies in a unit or within the cutoff of one."""
    import geopandas as gpd
    import shapely

    from lifecircle_geo.analysis import _no_data_categories
    from lifecircle_geo.standards import load_profile

    prof = load_profile("shanghai-2025")
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(300, 0, 400, 100)],
        crs=32651,
    )
    rng = np.random.default_rng(5)
    cats = np.array(prof.category_ids, dtype=object)
    for cutoff in (1.0, 60.0, 250.0):
        xy = rng.uniform(-400, 800, size=(60, 2))
        fac = gpd.GeoDataFrame(
            {"category": rng.choice(cats, size=60)}, geometry=shapely.points(xy), crs=32651
        )
        hit, _ = units.sindex.query(fac.geometry, predicate="dwithin", distance=cutoff)
        want = set(cats) - set(fac["category"].to_numpy(dtype=object)[np.unique(hit)])
        assert _no_data_categories(fac, units, prof, cutoff, set(), []) == want
    one = gpd.GeoDataFrame(
        {"category": ["park", "health"]},
        geometry=[shapely.Point(50, 50), shapely.Point(150, 50)],  # inside A; 50 m from A
        crs=32651,
    )
    warnings: list[str] = []
    missing = _no_data_categories(one, units, prof, 40.0, {"childcare"}, warnings)
    assert "park" not in missing and "health" in missing and "childcare" not in missing
    assert "health" not in _no_data_categories(one, units, prof, 50.0, set(), [])
    assert warnings and "complete=" in warnings[0]
