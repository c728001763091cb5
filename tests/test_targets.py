"""Who is counted and how units are judged: target groups, area types, priorities, indicators.

A 3×3 street grid of 100 m blocks with one 养老照护 (elderly care) facility at the south-west
corner, threshold 150 m in every area type (an override of shanghai-2025):

    (0,200) a2: 100 people, 10 aged 60+ ---- (200,200) b2: 20 people, 15 aged 60+
        |                                          |
    (0,0) a1 + 养: 100 people, 80 aged 60+ -- (100,0) b1: 100 people, 5 aged 60+

Unit A (中心城, x < 50): everyone 100 of 200 within 150 m (50 %); people 60+ 80 of 90 (89 %).
Unit B (其他地区, x > 50): everyone 100 of 120 (83 %); people 60+ 5 of 20 (25 %).
With the unit target 80 %, counting everyone fails A; counting the category's group (60+), as
the profile says, fails B instead.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.mock import regular_grid

X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai
CRS = 32651
AREAS = ("中心城", "主城区", "新城", "其他地区", "乡村")


def _profile(**category):
    over = {"id": "elderly_care", "threshold_m": dict.fromkeys(AREAS, 150), **category}
    over.setdefault("sources", {})["threshold_m"] = "test: 150 m everywhere"
    return lc.load_profile("shanghai-2025", overrides={"category": [over]})


def _case(profile, **kwargs):
    net = lc.WalkNetwork.from_arrays(*regular_grid(3, 3, 100.0, X0, Y0), crs=CRS)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B"],
            "unit_name": ["老年社区", "青年社区"],
            "jiezhen_code": "J1",
            "jiezhen_name": "测试街道",
            "district_code": "310105",
            "area_type": ["中心城", "其他地区"],
        },
        geometry=[
            shapely.box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 250),
            shapely.box(X0 + 50, Y0 - 50, X0 + 250, Y0 + 250),
        ],
        crs=CRS,
    )
    pts = [(0, 0, 100, 80), (0, 200, 100, 10), (100, 0, 100, 5), (200, 200, 20, 15)]
    pop = gpd.GeoDataFrame(
        {"population": [p[2] for p in pts], "population_60+": [p[3] for p in pts]},
        geometry=[shapely.Point(X0 + a, Y0 + b) for a, b, *_ in pts],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {"facility_id": ["e1"], "name": ["测试长者照护之家"], "category": ["elderly_care"]},
        geometry=[shapely.Point(X0, Y0)],
        crs=CRS,
    )
    kwargs.setdefault("suggest", False)
    return lc.analyze(net, fac, units, population=pop, profile=profile, progress=False, **kwargs)


@pytest.fixture(scope="module")
def by_group():
    return _case(_profile(), complete=["park"])


@pytest.fixture(scope="module")
def everyone():
    return _case(_profile(target_group="all"), complete=["park"])


def _row(result, unit, category="elderly_care"):
    return result.coverage.set_index(["unit_id", "category"]).loc[(unit, category)]


def test_group_weighting_changes_which_unit_fails(by_group, everyone):
    a, b = _row(by_group, "A"), _row(by_group, "B")
    assert a.target_group == "60+" and (a.population, a.covered_population) == (90.0, 80.0)
    assert (b.population, b.covered_population) == (20.0, 5.0)
    assert (a.status, b.status) == ("met", "gap")
    a, b = _row(everyone, "A"), _row(everyone, "B")
    assert (a.population, a.covered_population) == (200.0, 100.0)
    assert (b.population, b.covered_population) == (120.0, 100.0)
    assert (a.status, b.status) == ("gap", "met")
    assert a.target_share == pytest.approx(0.8)  # the unit standard's default


def test_people_left_out_are_the_groups(by_group):
    gap = by_group.gaps.set_index(["unit_id", "category"]).loc[("B", "elderly_care")]
    assert gap.people_left_out == 15.0
    assert by_group.units.set_index("unit_id").loc["B", "population_60+"] == 20.0
    # the group came from the points themselves, and the run says so
    assert "60+" in by_group.meta["target_groups"]
    assert "default" not in by_group.meta["target_groups"]["60+"]


def test_area_type_priorities_decide_projects(by_group):
    gaps = by_group.gaps.set_index(["unit_id", "category"])
    # a park (品质提升) gap is a project in 中心城, not a priority in 其他地区 (任务4)
    assert gaps.loc[("A", "park"), "action"] == "project"
    assert gaps.loc[("B", "park"), "action"] == "not a priority"
    # class priority first: B's basic-guarantee gap ranks before A's quality gap
    assert gaps.loc[("B", "elderly_care"), "rank"] < gaps.loc[("A", "park"), "rank"]
    # packages serve A's park gap, never B's
    built = _case(_profile(), complete=["park"], suggest=True)
    notes = " ".join(built.projects["gap_note_zh"])
    assert "老年社区自然生态" in notes and "青年社区自然生态" not in notes


def test_five_minute_items_are_informational(by_group):
    prof = by_group.profile
    five = [c.id for c in prof.categories if c.tier_min == 5]
    assert five and all(prof.category(c).informational for c in five)
    cov = by_group.coverage
    measured = cov[cov.category.isin(five) & (cov.status != "no data")]
    assert (measured.status == "informational").all()
    assert not set(by_group.gaps["category"]) & set(five)


def test_alias_and_unknown_area_type(by_group):
    prof = by_group.profile
    assert prof.area_type("新市镇") == "其他地区"
    with pytest.raises(lc.ProfileError, match="中心城"):
        prof.area_type("市中心")


def test_indicators_on_rollups_not_units(by_group):
    ind = by_group.indicators
    assert len(ind) and set(ind["level"]) >= {"jiezhen", "district", "study_area"}
    assert "unit_id" not in ind.columns
    care = ind[(ind.category == "elderly_care") & (ind.level == "jiezhen")]
    # 85 of 110 people aged 60+ in the 街道 are within the threshold
    assert care["share"].iloc[0] == pytest.approx(85 / 110)
    assert not care["met"].iloc[0] and care["year"].iloc[0] == 2025
    assert care["source"].iloc[0]


def test_overriding_one_unit_target_changes_only_that(by_group):
    strict = _case(_profile(target_share=0.95), complete=["park"])
    a_before, a_after = _row(by_group, "A"), _row(strict, "A")
    assert (a_before.status, a_after.status) == ("met", "gap")
    other = by_group.coverage.category != "elderly_care"
    assert by_group.coverage[other]["status"].tolist() == strict.coverage[other]["status"].tolist()
