"""The yearly cycle: last year's unfinished projects carried over, residents' requests ranked."""

from __future__ import annotations

import pandas as pd
import pytest

import lifecircle_geo as lc
from lifecircle_geo import cycle
from tests.test_coverage import PROFILE, _grid_case


@pytest.fixture(scope="module")
def last_year(tmp_path_factory):
    result = _grid_case()
    folder = tmp_path_factory.mktemp("cycle") / "2025"
    result.write(folder)
    return result, folder


def test_read_previous_from_the_database_we_write(last_year):
    result, folder = last_year
    prev = cycle.read_previous(folder)
    assert len(prev) == len(result.projects) == 1
    assert set(prev["status"]) == {"拟实施"}  # written as 拟实施, read back as such
    assert prev["category"].tolist() == ["childcare"] and prev["lon"].notna().all()
    assert prev["lon"].iloc[0] == pytest.approx(result.projects["lon"].iloc[0], abs=1e-7)


def test_unfinished_project_is_carried_not_proposed_again(last_year):
    result, folder = last_year
    again = _grid_case(previous=folder)
    assert len(again.carried) == len(result.projects)
    assert set(again.carried["status"]) == {"拟实施"}
    # its 托育 counts as planned (a facility from last year's list) and is not proposed again
    planned = again.facilities[again.facilities["source"] == "carry-over"]
    assert planned["category"].tolist() == ["childcare"]
    new = again.projects[~again.projects["project_id"].str.startswith("结转-")]
    old = result.projects.iloc[0]
    near = (new["lon"] - old["lon"]).abs().lt(1e-5) & (new["lat"] - old["lat"]).abs().lt(1e-5)
    assert not (near & new["category"].str.contains("childcare")).any()
    assert again.projects["project_id"].str.startswith("结转-").sum() == 1
    assert any("carried over" in w for w in again.meta["warnings"])


def test_finished_projects_are_not_carried(last_year, tmp_path):
    _, folder = last_year
    prev = cycle.read_previous(folder)
    prev["status"] = "年内完成"
    planned, carried = cycle.carry_over(prev)
    assert len(planned) == 0 and len(carried) == 0


def test_status_words_and_errors(tmp_path):
    table = pd.DataFrame(
        {
            "单元编号": ["A", "B", "C"],
            "类别代码": ["park", "childcare", "health"],
            "项目状态": ["在建", "completed", ""],
            "经度": [121.4, None, 121.41],
            "纬度": [31.2, None, 31.21],
        }
    )
    table.to_csv(tmp_path / "2025.csv", index=False, encoding="utf-8-sig")
    prev = cycle.read_previous(tmp_path / "2025.csv")
    assert prev["status"].tolist() == ["在建", "年内完成", "拟实施"]
    planned, carried = cycle.carry_over(prev, year=2026)
    assert planned["category"].tolist() == ["park", "health"]
    assert planned["rule"].tolist() == ["在建", "拟实施"] and (carried["year"] == 2026).all()
    table.loc[0, "项目状态"] = "搁置"
    table.to_csv(tmp_path / "bad.csv", index=False, encoding="utf-8-sig")
    with pytest.raises(lc.InputError, match=r"unknown project status \['搁置'\] \(rows \[2\]\)"):
        cycle.read_previous(tmp_path / "bad.csv")
    with pytest.raises(lc.InputError, match="单元编号"):
        pd.DataFrame({"x": [1]}).to_csv(tmp_path / "none.csv", index=False)
        cycle.read_previous(tmp_path / "none.csv")


def test_needs_rank_their_gaps_first(tmp_path):
    needs = pd.DataFrame(
        {
            "单元编号": ["B", "B", "A"],
            "类别": ["自然生态", "自然生态", "体育场馆"],
            "需求": ["家门口缺少口袋公园", "希望有绿地", "想要篮球场"],
            "人次": [12, 3, 5],
        }
    )
    needs.to_csv(tmp_path / "需求清单.csv", index=False, encoding="gbk")
    table = cycle.read_needs(tmp_path / "需求清单.csv", PROFILE)
    park = table.set_index(["unit_id", "category"]).loc[("B", "park")]
    assert park["count"] == 15 and park["need"] == "家门口缺少口袋公园；希望有绿地"
    ranked = _grid_case(complete=True, needs=needs[needs["单元编号"] == "B"]).gaps
    quality = ranked[ranked["class_zh"] == "品质提升"].reset_index(drop=True)
    # B has fewer people left out than A, but residents asked for its park: it comes first
    assert quality.loc[0, ["unit_id", "category"]].tolist() == ["B", "park"]
    assert quality.loc[0, "need"].startswith("家门口") and quality.loc[0, "need_count"] == 15
    a_park = quality[(quality.unit_id == "A") & (quality.category == "park")].index[0]
    assert a_park > 0 and quality.loc[a_park, "need"] == ""
    bad = needs.assign(类别=["公园绿地", "自然生态", "体育场馆"])
    with pytest.raises(lc.InputError, match=r"row 2: category '公园绿地'"):
        cycle.read_needs(bad, PROFILE)


def test_projects_cite_the_requests_of_the_gaps_they_close():
    """A project's 需求 lists the requests of the (unit, category) gaps its package covers, in
    the order of its gains; a gap listed twice has no single request and is not cited."""
    from lifecircle_geo.gaps import package_projects
    from lifecircle_geo.packages import select_packages

    needs = pd.DataFrame(
        {
            "单元编号": ["B", "B", "A"],
            "类别": ["自然生态", "自然生态", "体育场馆"],
            "需求": ["家门口缺少口袋公园", "希望有绿地", "想要篮球场"],
            "人次": [12, 3, 5],
        }
    )
    result = _grid_case(complete=True, needs=needs)
    snap = result.network.snap(result.demand.geometry)
    pk = select_packages(
        result.network, result.gaps, result.demand, snap, result.units, result.profile
    )
    names = dict(zip(result.units["unit_id"], result.units["unit_name"], strict=True))

    def cited(gaps):
        need = gaps.set_index(["unit_id", "category"])["need"]
        out = {}
        for pid, g in pk.gains.groupby("package_id", sort=False):
            texts = [need.get((u, c), "") for u, c in zip(g["unit_id"], g["category"], strict=True)]
            out[pid] = "；".join(
                f"{names[u]}：{t}"
                for u, t in zip(g["unit_id"], texts, strict=True)
                if isinstance(t, str) and t
            )
        return out

    a_sports = (result.gaps["unit_id"] == "A") & (result.gaps["category"] == "sports")
    for gaps in (result.gaps, pd.concat([result.gaps, result.gaps[a_sports]])):
        projects = package_projects(pk, gaps, result.units, result.profile, year=2026)
        want = cited(gaps)
        assert projects["need_zh"].tolist() == [want.get(p, "") for p in projects["project_id"]]
        assert "家门口缺少口袋公园" in "".join(want.values())  # B's park request
    assert "想要篮球场" not in "".join(want.values())  # A's sports gap, listed twice
    assert "想要篮球场" in "".join(cited(result.gaps).values())  # listed once: cited
