"""Scenarios and comparisons: proposed sites, closures, new pedestrian links."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.mock import regular_grid
from lifecircle_geo.scenarios import proposed_facilities, suggest_links, with_links

X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai
CRS = 32651
AREAS = lc.standards.AREA_TYPES
#: 托育 at 300 m everywhere, judged on everyone: hand counts stay whole people
PROFILE = lc.load_profile(
    "shanghai-2025",
    overrides={
        "category": [
            {
                "id": "childcare",
                "target_group": "all",
                "threshold_m": dict.fromkeys(AREAS, 300),
            }
        ]
    },
)


def _river_city():
    """Two 5×3 grids (100 m blocks) 100 m apart across a river, joined only at the east end.

    West bank y = 0..200, east... the south bank's residents face a 托育 on the north bank
    100 m across the water, but the only bridge is 400 m east: a 700+ m walk.
    """
    xs1, ys1, u1, v1, _ = regular_grid(5, 3, 100.0, X0, Y0)  # south bank, y = 0..200
    xs2, ys2, u2, v2, _ = regular_grid(5, 3, 100.0, X0, Y0 + 300)  # north bank, y = 300..500
    n1 = len(xs1)
    x = np.concatenate([xs1, xs2])
    y = np.concatenate([ys1, ys2])
    bridge_u, bridge_v = np.array([4 + 2 * 5]), np.array([n1 + 4])  # (400, 200) → (400, 300)
    u = np.concatenate([u1, u2 + n1, bridge_u])
    v = np.concatenate([v1, v2 + n1, bridge_v])
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    net = lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=CRS)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["S", "N"],
            "unit_name": ["南岸", "北岸"],
            "jiezhen_code": "J1",
            "jiezhen_name": "测试街道",
            "district_code": "310105",
        },
        geometry=[
            shapely.box(X0 - 50, Y0 - 50, X0 + 450, Y0 + 250),
            shapely.box(X0 - 50, Y0 + 250, X0 + 450, Y0 + 550),
        ],
        crs=CRS,
    )
    pop = gpd.GeoDataFrame(
        {"population": [100.0, 50.0, 80.0]},
        geometry=[
            shapely.Point(X0, Y0 + 200),  # south bank, right across from the 托育
            shapely.Point(X0 + 100, Y0 + 200),
            shapely.Point(X0 + 100, Y0 + 400),  # north bank, 200 m walk
        ],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {"facility_id": ["c1"], "name": ["北岸托育园"], "category": ["childcare"]},
        geometry=[shapely.Point(X0, Y0 + 300)],
        crs=CRS,
    )
    return lc.analyze(
        net, fac, units, population=pop, profile=PROFILE, progress=False, complete=["childcare"]
    )


@pytest.fixture(scope="module")
def river():
    return _river_city()


def _cov(result, unit, category="childcare"):
    return result.coverage.set_index(["unit_id", "category"]).loc[(unit, category)]


def test_river_keeps_the_south_bank_out(river):
    south = _cov(river, "S")
    assert south.covered_population == 0 and south.status == "gap"
    assert _cov(river, "N").covered_population == 80


def test_a_link_across_brings_them_in(river):
    linked = with_links(river.network, [((X0, Y0 + 200), (X0, Y0 + 300))])
    assert linked.n_edges == river.network.n_edges + 1
    assert linked.meta["added_links"] == [{"u": 10, "v": 15, "length_m": 100.0}]
    after = lc.scenario(river, network=linked)
    diff = lc.compare(river, after)
    row = diff.coverage.set_index(["unit_id", "category"]).loc[("S", "childcare")]
    # 100 people at 100 m and 50 at 200 m from the 托育 once the link is built
    assert (row.covered_before, row.covered_after, row.newly_covered) == (0.0, 150.0, 150.0)
    assert row.closed and not diff.coverage["opened"].any()
    s = diff.summary.set_index("category").loc["childcare"]
    assert s.gaps_before == 1 and s.gaps_after == 0 and s.gaps_closed == 1


def test_suggest_links_finds_the_crossing(river):
    links = suggest_links(river, max_link_m=110, min_detour_m=400)
    assert len(links) >= 1
    best = links.iloc[0]
    assert best.length_m == pytest.approx(100.0)
    assert best.detour_m >= 400 and best.newly_covered_population >= 150
    assert best.by_category["childcare"] >= 150 and best.gaps_closed >= 1
    # the link crosses the water between the banks
    assert best.geometry.crosses(shapely.LineString([(X0 - 50, Y0 + 250), (X0 + 450, Y0 + 250)]))


def test_proposed_site_covers_what_it_claims(river):
    sites = gpd.GeoDataFrame(
        {"site_id": ["p1"], "category": ["childcare"]},
        geometry=[shapely.Point(X0 + 50, Y0 + 200)],
        crs=CRS,
    )
    fac = proposed_facilities(sites)
    assert fac.crs.to_epsg() == 4326 and fac["facility_id"].tolist() == ["proposed/p1/childcare"]
    diff = lc.compare(river, lc.scenario(river, add=fac))
    assert _cov(river, "S").covered_population == 0
    row = diff.coverage.set_index(["unit_id", "category"]).loc[("S", "childcare")]
    assert row.newly_covered == 150.0 and row.closed


def test_removing_the_facility_opens_the_gap(river):
    diff = lc.compare(river, lc.scenario(river, remove=["c1"]))
    row = diff.coverage.set_index(["unit_id", "category"]).loc[("N", "childcare")]
    assert (row.covered_before, row.covered_after) == (80.0, 0.0) and row.opened
    with pytest.raises(lc.InputError, match="not in the result"):
        lc.scenario(river, remove=["nope"])


def test_scenario_without_changes_is_the_same(river):
    same = lc.scenario(river)
    diff = lc.compare(river, same)
    assert (diff.coverage["newly_covered"].fillna(0) == 0).all()
    assert (diff.coverage["status_before"] == diff.coverage["status_after"]).all()


def test_compare_written_databases(river, tmp_path, capsys):
    """Last year's folder against this year's: the same comparison as the results give."""
    linked = with_links(river.network, [((X0, Y0 + 200), (X0, Y0 + 300))])
    after = lc.scenario(river, network=linked)
    river.write(tmp_path / "2025")
    after.write(tmp_path / "2026")
    from_files = lc.compare(tmp_path / "2025", tmp_path / "2026" / "project_database.gpkg")
    direct = lc.compare(river, after)
    assert from_files.summary["gaps_closed"].tolist() == direct.summary["gaps_closed"].tolist()
    with pytest.raises(lc.InputError, match="no project database"):
        lc.compare(tmp_path / "nowhere", after)
    # the same on the command line, with the comparison written to a workbook
    from lifecircle_geo.cli import main

    assert (
        main(
            [
                "compare",
                str(tmp_path / "2025"),
                str(tmp_path / "2026"),
                "--out",
                str(tmp_path / "diff.xlsx"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "补上缺口 gaps closed: 1" in printed and "托育" in printed
    assert (tmp_path / "diff.xlsx").exists()
    assert main(["compare", str(tmp_path / "2025"), str(tmp_path / "none")]) == 2
    assert "no project database" in capsys.readouterr().err


@pytest.fixture(scope="module")
def sample():
    s = lc.datasets.get_path("sample")
    net = lc.WalkNetwork.from_osm(s / "sample.osm")
    fac = lc.facilities.merge(
        lc.facilities.from_osm(s / "sample.osm"),
        lc.facilities.from_table(s / "facilities_gcj02.xlsx", coords="gcj02"),
    )
    return lc.analyze(
        net,
        fac,
        s / "units.geojson",
        population=s / "population.tif",
        progress=False,
        isochrone_polygons=False,
    )


def test_sample_list_is_short_and_claims_what_a_rerun_measures(sample):
    """A handful of packages; the people they claim equal a second analyze with them built."""
    pk = sample.packages
    assert 1 <= len(pk) <= 11 and len(sample.projects) == len(pk)
    assert (pk["package_type"] == "人民坊").sum() <= 5  # at most one hub per unit
    after = lc.scenario(sample, add=proposed_facilities(sample.sites))
    diff = lc.compare(sample, after).coverage
    # packages count the people of the gaps they were chosen for (units with a 街镇 project gap)
    project_gaps = sample.gaps.loc[sample.gaps["action"] == "project", ["unit_id", "category"]]
    in_gaps = diff.merge(project_gaps, on=["unit_id", "category"])
    gained = in_gaps.groupby("category")["newly_covered"].sum()
    claimed = sample.package_functions.groupby("category")["newly_covered_population"].sum()
    pd.testing.assert_series_equal(
        gained[claimed.index], claimed, check_names=False, rtol=1e-9, atol=1e-6
    )
    # a category no package hosts gains nobody; units already served may gain more people
    others = diff[~diff["category"].isin(claimed.index)]["newly_covered"]
    assert (others.fillna(0) == 0).all()
    assert (diff["newly_covered"].fillna(0) >= -1e-9).all()
