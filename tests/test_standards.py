"""Tests of lifecircle_geo.standards: built-in profiles, schema v2, validation, overrides, CLI."""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from lifecircle_geo.cli import ASSUMPTION_MARK, main
from lifecircle_geo.errors import ProfileError
from lifecircle_geo.facilities import (
    classify_name,
    classify_record,
    classify_tags,
    explain_record,
    explain_tags,
)
from lifecircle_geo.standards import (
    AREA_ALIASES,
    AREA_TYPES,
    CLASSES,
    NUMBER_KEYS,
    Profile,
    list_profiles,
    load_profile,
)

BUILTIN = ["shanghai-2025", "gb50180-2018"]

# A small valid profile; the broken-profile tests mutate one thing each.
VALID = """\
[profile]
id = "mini"
name_zh = "测试"
name_en = "test"
walk_speed_kmh = 4.0
walk_speed_source = "assumption"

[area_types."中心城"]
name_en = "central city"
priorities = ["基础保障", "品质提升"]
source = "任务4 中心城"
[area_types."主城区"]
name_en = "main city"
priorities = ["基础保障", "品质提升"]
source = "任务4 主城区"
[area_types."新城"]
name_en = "new towns"
priorities = ["基础保障", "品质提升"]
source = "任务4 新城"
[area_types."其他地区"]
name_en = "other areas"
priorities = ["基础保障"]
source = "任务4 其他地区"
[area_types."乡村"]
name_en = "villages"
priorities = ["基础保障"]
source = "任务4 乡村"

[modes.slow]
name_zh = "慢行"
name_en = "slow travel (walk or cycle)"
speed_kmh = 8.0
source = "assumption: walk or cycle"

[tiers.5]
threshold_m = { "中心城" = 300, "主城区" = 300, "新城" = 300, "其他地区" = 500, "乡村" = 1000 }
mode = { "乡村" = "slow" }
source = "GB 50180-2018 5-minute circle; others assumption"

[target_groups."60+"]
name_zh = "老年人"
name_en = "people aged 60+"
default_share = 0.234
source = "2020 census communiqué"

[unit_standard]
target_share = 0.8
source = "assumption: unit target"

[[category]]
id = "kindergarten"
name_zh = "幼儿园"
name_en = "Kindergarten"
group = "十全"
class = "基础保障"
tier_min = 5
threshold_m = 300
target_share = 0.85
department = "教育"
facility_types = ["幼儿园"]
osm = [ { tags = { amenity = "kindergarten" }, type = "幼儿园" } ]
names = [ { any = ["幼儿园"], type = "幼儿园" } ]
[category.sources]
tier_min = "GB 50180-2018"
threshold_m = "GB 50180-2018: ≤ 300 m"
target_share = "assumption"

[[category]]
id = "park"
name_zh = "公园"
name_en = "Park"
group = "十美"
class = "品质提升"
tier_min = 5
target_group = "60+"
walk_speed_kmh = 3.0
osm = [ { tags = { leisure = "park" }, type = "公园" } ]
[category.sources]
tier_min = "assumption"
walk_speed_kmh = "assumption: elderly speed"

[[indicator]]
id = "ind"
name_zh = "指标"
name_en = "indicator"
level = "city"
year = 2025
target = 0.85
categories = ["park"]
source = "citywide target"
"""


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _shipped_files() -> dict[str, str]:
    folder = resources.files("lifecircle_geo.standards")
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in folder.iterdir()
        if f.name.endswith((".toml", ".py"))
    }


# ------------------------------------------------------------------ built-in profiles
def test_list_profiles_has_both_builtins():
    assert set(BUILTIN) <= set(list_profiles())


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_loads_and_is_complete(name):
    p = load_profile(name)
    assert isinstance(p, Profile) and p.id == name and p.categories
    assert len(set(p.category_ids)) == len(p.category_ids)
    assert list(p.area_types) == list(AREA_TYPES)
    assert p.modes["walk"].speed_kmh == p.walk_speed_kmh
    assert p.unit_standard is not None and p.unit_standard.informational_tiers == (5,)
    for cat in p.categories:
        assert cat.class_zh in CLASSES
        assert cat.tier_min in (5, 10, 15)
        assert 0 < cat.target_share <= 1
        assert set(cat.thresholds_m) == set(AREA_TYPES), cat.id
        assert set(cat.modes) == set(AREA_TYPES), cat.id
        assert set(cat.threshold_sources) == set(AREA_TYPES), cat.id
        assert all(v > 0 for v in cat.thresholds_m.values())
        assert cat.target_group == "all" or cat.target_group in p.target_groups
        assert cat.informational == (cat.tier_min == 5 or cat.id == "metro"), cat.id
        for key in NUMBER_KEYS:  # every number has its source
            assert cat.sources.get(key, "").strip(), (name, cat.id, key)
        if cat.walk_speed_kmh is not None:
            assert cat.sources["walk_speed_kmh"].strip()
        assert cat.osm_rules, f"{name}: {cat.id} has no OSM rule"
        # what each include and exclude rests on is said
        assert cat.sources.get("classification", "").startswith("in:"), (name, cat.id)
        assert cat.builds_projects == (cat.department is None)
    t = p.table(sources=True)
    assert len(t) == len(p.categories)
    assert t[[f"source_{k}" for k in NUMBER_KEYS]].map(bool).all().all()


def test_shipped_files_cite_no_project_documents():
    files = _shipped_files()
    internal = "DOM" + "AIN"  # the project's internal notes, named so this file cites none
    assert {"shanghai-2025.toml", "gb50180-2018.toml", "__init__.py"} <= set(files)
    for name, text in files.items():
        assert internal not in text, name  # no project-internal document is cited
        assert "upper values taken" not in text, name
        assert "1+N of the 2025" not in text and "of the 2025 action plan" not in text, name
    for name in BUILTIN:
        for row in load_profile(name).sources_table().itertuples():
            assert internal not in row.source and "project brief" not in row.source


def test_shanghai_2025_structure():
    p = load_profile("shanghai-2025")
    assert len(p.categories) == 20
    groups = {c.group for c in p.categories}
    assert groups == {"十全", "十美"}
    assert {c.class_zh for c in p.categories} == set(CLASSES)
    # confirmed members (CCTV 2024) are there
    for cid in (
        "party_service",
        "employment",
        "health",
        "elderly_care",
        "childcare",
        "park",
        "learning",
    ):
        assert cid in p.category_ids
    assert p.region_bbox is not None and p.region_name == "Shanghai"
    # the top-level source says what the 2025 plan gives: area types, no numbers
    assert "sets no numbers" in p.source and "2025 action plan" in p.source


def test_shanghai_area_types_and_priorities():
    p = load_profile("shanghai-2025")
    assert [a.name for a in p.area_types.values()] == list(AREA_TYPES)
    for a in ("中心城", "主城区", "新城"):
        assert p.area_types[a].priorities == ("基础保障", "品质提升")
        assert "任务4" in p.area_types[a].source
    for a in ("其他地区", "乡村"):
        assert p.area_types[a].priorities == ("基础保障",)
    assert p.class_priority("中心城", "基础保障") == 0
    assert p.class_priority("新城", "品质提升") == 1
    assert p.class_priority("乡村", "品质提升") is None
    assert p.class_priority("新市镇", "特色塑造") is None
    with pytest.raises(ProfileError, match="unknown class"):
        p.class_priority("中心城", "品质")


def test_shanghai_distances_say_their_mode():
    p = load_profile("shanghai-2025")
    assert p.mode_speed_kmh("slow") == 8.0 and p.mode_speed_kmh("walk") == 4.0
    with pytest.raises(ProfileError, match="no mode 'bike'"):
        p.mode_speed_kmh("bike")
    health = p.category("health")  # the 15-minute tier default
    assert [health.threshold_for(a) for a in AREA_TYPES] == [1000, 1000, 1500, 2000, 5000]
    assert [health.mode_for(a) for a in AREA_TYPES] == ["walk", "walk", "slow", "slow", "slow"]
    tiers = p.raw["tiers"]["15"]["source"]
    assert "800-1500 m" in tiers["新城"] and "upper value" in tiers["新城"]
    assert "1000-5000 m" in tiers["其他地区"] and "2000 m taken" in tiers["其他地区"]
    assert "assumption" in tiers["乡村"]
    # no fixed radius that ignores area type: kindergarten, schools, child care, bus
    k = p.category("kindergarten")
    assert k.threshold_for("中心城") == k.threshold_for("主城区") == 300
    assert k.threshold_for("乡村") > 300 and k.mode_for("乡村") == "slow"
    assert "assumption" in k.threshold_sources["乡村"]
    assert "GB 50180-2018" in k.threshold_sources["中心城"]
    assert p.category("primary_school").threshold_for("乡村") > 500
    assert p.category("childcare").threshold_for("其他地区") > 500
    bus = p.category("bus")
    assert bus.threshold_for("乡村") > bus.threshold_for("中心城") == 500
    assert bus.mode_for("乡村") == "walk"
    # labels say the mode and the minutes the distance takes at the mode's (or own) speed
    std = p.standards_table().set_index(["category", "area_type"])
    assert std.loc[("health", "其他地区"), "label_zh"] == "慢行15分钟（2000米）"
    assert std.loc[("health", "中心城"), "label_zh"] == "步行15分钟（1000米）"
    assert std.loc[("health", "中心城"), "label_en"] == "15-min walk (1000 m)"
    assert std.loc[("elderly_care", "中心城"), "speed_kmh"] == 3.0
    assert std.loc[("elderly_care", "中心城"), "label_zh"] == "步行20分钟（1000米）"
    assert std.loc[("elderly_care", "新城"), "speed_kmh"] == 8.0  # 慢行: the mode's speed
    assert p.category_speed_kmh("elderly_care", "中心城") == 3.0


def test_shanghai_groups_departments_and_classes():
    p = load_profile("shanghai-2025")
    groups = {c.id: c.target_group for c in p.categories}
    assert groups["elderly_care"] == groups["elderly_daycare"] == groups["dining"] == "60+"
    assert (groups["childcare"], groups["kindergarten"]) == ("0-3", "3-6")
    assert (groups["primary_school"], groups["middle_school"]) == ("6-12", "12-15")
    assert groups["health"] == "all"
    g = p.target_groups
    assert g["60+"].default_share == pytest.approx(0.234)
    assert "census" in g["60+"].source and "assumption" not in g["60+"].source
    bands = ("0-3", "3-6", "6-12", "12-15")
    assert sum(g[b].default_share for b in bands) == pytest.approx(0.098)
    assert all("derived" in g[b].source and "assumption" in g[b].source for b in bands)
    assert p.category("elderly_care").walk_speed_kmh == 3.0
    # compulsory education is a basic guarantee, built by the education department
    for cid in ("primary_school", "middle_school"):
        assert p.category(cid).class_zh == "基础保障"
        assert p.category(cid).department == "教育"
    departments = {c.id: c.department for c in p.categories if c.department}
    assert departments == {
        "kindergarten": "教育",
        "primary_school": "教育",
        "middle_school": "教育",
        "bus": "交通",
        "metro": "交通",
        "pharmacy": "商务",
    }
    assert all(p.category(c).sources.get("department") for c in departments)
    assert not p.category("metro").builds_projects and p.category("health").builds_projects
    # 5-minute items only reported, unless a category says otherwise; metro is context
    assert all(c.informational for c in p.categories if c.tier_min == 5)
    assert p.category("metro").informational
    assert not p.category("health").informational


def test_shanghai_targets_are_indicators_not_unit_marks():
    p = load_profile("shanghai-2025")
    assert p.unit_standard.target_share == 0.8 and "assumption" in p.unit_standard.source
    assert {c.target_share for c in p.categories} == {0.8}
    assert all(
        c.sources["target_share"].startswith("[unit_standard] default") for c in p.categories
    )
    ind = {i.id: i for i in p.indicators}
    basic = ind["coverage_2025_basic"]
    assert (basic.level, basic.year, basic.target) == ("city", 2025, 0.85)
    assert basic.categories == ("health", "elderly_care", "culture", "sports")
    assert "2025" in basic.source and "assumption" in basic.categories_source
    community = ind["coverage_2035_community"]
    assert (community.level, community.year, community.target) == ("city", 2035, 0.99)
    assert "2017-2035" in community.source and "party_service" in community.categories
    # the categories an indicator measures are 15-minute ones (its minutes are theirs)
    for i in p.indicators:
        assert {p.category(c).tier_min for c in i.categories} == {15}


def test_gb50180_levels_and_honest_sources():
    p = load_profile("gb50180-2018")
    by_tier = {t: {c.id for c in p.categories if c.tier_min == t} for t in (5, 10, 15)}
    assert {
        "middle_school",
        "sports_large",
        "health_centre",
        "culture_centre",
        "community_service_centre",
        "nursing_home",
        "elderly_nursing",
    } <= by_tier[15]
    assert {"primary_school", "sports_medium", "market", "gym"} <= by_tier[10]
    assert {
        "community_service_station",
        "culture_station",
        "sports_small",
        "fitness_outdoor",
        "kindergarten",
        "nursery",
        "elderly_daycare",
        "canteen",
        "playground",
        "convenience",
        "bus",
    } <= by_tier[5]
    # the life-circle distances: 300 / 500 / 800-1000 m, walking, the same in every area type
    for cat in p.categories:
        assert len(set(cat.thresholds_m.values())) == 1
        assert set(cat.modes.values()) == {"walk"}
    assert p.category("fitness_outdoor").threshold_for() == 300
    assert p.category("gym").threshold_for() == 500
    assert p.category("culture_centre").threshold_for("乡村") == 1000
    assert p.category("kindergarten").threshold_for() == 300
    assert p.category("primary_school").threshold_for("新市镇") == 500
    # the same schema: area types with priorities (mirroring 任务4, said so), groups, targets
    assert all("assumption" in a.source for a in p.area_types.values())
    assert p.area_types["乡村"].priorities == ("基础保障",)
    assert p.category("nursing_home").target_group == "60+"
    assert p.category("kindergarten").department == "教育"
    assert p.category("bus").department == "交通"
    assert "national census" in p.target_groups["60+"].source
    assert p.indicators == ()
    # no coverage share in the standard: every target says it is an assumption
    assert all("assumption" in c.sources["target_share"] for c in p.categories)
    # no invented clause numbers such as "表B.0.1" or "5.0.3"
    for c in p.categories:
        for text in c.sources.values():
            assert not re.search(r"\d+\.\d+\.\d+|表\s*[A-Z]\.", text), (c.id, text)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_osm_rule_matches_its_category(name):
    """Synthetic tags built from each rule classify into that rule's category."""
    p = load_profile(name)
    for cat in p.categories:
        for rule in cat.osm_rules:
            tags = {
                k: ("yes" if v == "*" else v if isinstance(v, str) else v[0])
                for k, v in rule["tags"].items()
            }
            if rule.get("name_any"):
                tags["name"] = f"示例{rule['name_any'][0]}"
            hits = classify_tags(tags, p)
            assert (cat.id, rule["type"]) in {(h[0], h[1]) for h in hits}, (cat.id, tags, hits)
            rule_text = next(h[2] for h in hits if h[0] == cat.id)
            assert rule_text.startswith("osm:") and "=" in rule_text


@pytest.mark.parametrize("name", BUILTIN)
def test_every_amap_rule_matches_its_category(name):
    """A record with each rule's code or type pattern (and name keyword) lands in its category."""
    p = load_profile(name)
    for cat in p.categories:
        for rule in cat.amap_rules:
            rec_name = f"示例{rule['name_any'][0]}" if rule.get("name_any") else "示例"
            for code in rule.get("codes", ()):
                hits = classify_record(rec_name, "", code.replace("*", "0" * 6)[:6], p)
                assert (cat.id, rule["type"]) in {(h[0], h[1]) for h in hits}, (cat.id, code)
            for pattern in rule.get("types", ()):
                hits = classify_record(rec_name, pattern, "", p)
                assert cat.id in {h[0] for h in hits}, (cat.id, pattern, hits)
        for rule in cat.name_rules:
            for family in rule.get("families", ()):
                hits = classify_record(f"示例{rule['any'][0]}", family, "", p)
                assert cat.id in {h[0] for h in hits}, (cat.id, family, rule["any"][0], hits)
                assert all(h[2].startswith(("amap-", "type:")) for h in hits)


@pytest.mark.parametrize(
    "keyword, category",
    [
        ("社区卫生服务中心", "health"),
        ("长者照护之家", "elderly_care"),
        ("宝宝屋", "childcare"),
        ("社区食堂", "dining"),
        ("党群服务中心", "party_service"),
        ("人民坊", "party_service"),
        ("六艺亭", "party_service"),
        # Shanghai names (issue 9)
        ("居委会", "party_service"),
        ("市民驿站", "party_service"),
        ("邻里中心", "party_service"),
        ("邻里汇", "party_service"),
        ("睦邻中心", "party_service"),
        ("零工驿站", "employment"),
        ("健身驿站", "fitness"),
        ("长者运动健康之家", "fitness"),
        ("长者食堂", "dining"),
        ("老年学校", "learning"),
        ("社区养育托管点", "childcare"),
        ("初级中学", "middle_school"),
    ],
)
def test_chinese_name_keywords(keyword, category):
    p = load_profile("shanghai-2025")
    assert classify_name(f"示例街道{keyword}", p.category(category)) is not None
    # a feature with only a name (no matching tag) is classified by it
    hits = classify_tags({"building": "yes", "name": f"示例街道{keyword}"}, p)
    assert category in [h[0] for h in hits]
    assert all(h[2].startswith("osm-name:") for h in hits)


def test_tag_rules_win_over_name_keywords():
    p = load_profile("shanghai-2025")
    hits = classify_tags({"leisure": "playground", "name": "示例公园儿童乐园"}, p)
    assert [h[0] for h in hits] == ["playground"]
    # a primary tag that no rule takes is never overridden by the name
    assert classify_tags({"amenity": "restaurant", "name": "示例公园店"}, p) == []
    assert classify_tags({"shop": "bakery", "name": "示例社区食堂"}, p) == []
    assert classify_tags({"public_transport": "stop_position", "name": "示例公园"}, p) == []


@pytest.mark.parametrize(
    "category, keyword, name",
    [
        ("health", "口腔", "示例社区卫生服务站口腔科"),
        ("health", "宠物", "示例宠物卫生室"),
        ("party_service", "税务", "示例税务所党群服务站"),
        ("party_service", "派出所", "示例派出所居委会警务室"),
        ("employment", "有限公司", "示例就业服务有限公司"),
        ("middle_school", "高级中学", "示例高级中学"),
        ("park", "酒店", "示例酒店花园公园"),
        ("dining", "职工食堂", "示例社区食堂职工食堂"),
    ],
)
def test_community_categories_exclude_non_community_names(category, keyword, name):
    p = load_profile("shanghai-2025")
    assert classify_name(name, p.category(category)) is None
    d = explain_record(name, "", "", p)
    assert category not in [h[0] for h in d.hits]
    assert (category, f"name~{keyword}") in d.excluded


def test_shanghai_review_of_what_counts():
    p = load_profile("shanghai-2025")
    health = p.category("health")
    assert "诊所" not in health.facility_types and "村卫生室" in health.facility_types
    assert "市民驿站" not in p.category("learning").facility_types
    assert "市民驿站" in p.category("party_service").facility_types
    # Amap codes: 卫生院 in, 三甲 out
    assert [h[0] for h in classify_record("示例镇卫生院", "", "090102", p)] == ["health"]
    assert classify_record("示例医院", "", "090101", p) == []
    assert explain_record("示例医院", "", "090101", p).rule == "exclude:health:amap-code:090101"
    # the park keywords no longer take malls and housing estates by their names
    assert classify_record("示例广场", "", "", p) == []
    assert classify_record("示例花园", "", "", p) == []
    assert [h[0] for h in classify_record("示例广场", "", "110105", p)] == ["park"]
    # townhall of a 街道 in, of a district out
    assert [h[0] for h in classify_tags({"amenity": "townhall", "name": "示例街道办事处"}, p)] == [
        "party_service"
    ]
    assert explain_tags({"amenity": "townhall", "name": "示例区人民政府"}, p).hits == ()


# ------------------------------------------------------------------ the schema on a small file
def test_valid_template_loads(tmp_path):
    p = load_profile(write(tmp_path, VALID))
    assert p.category_ids == ["kindergarten", "park"]
    park, kg = p.category("park"), p.category("kindergarten")
    assert park.threshold_for("乡村") == 1000 and park.mode_for("乡村") == "slow"
    assert park.threshold_for("新市镇") == 500  # the alias means 其他地区
    assert park.sources["threshold_m"].startswith("[tiers.5] default")
    assert park.threshold_sources["中心城"].startswith("[tiers.5] default: GB 50180-2018")
    # unit target: the unit standard's default, with its source
    assert park.target_share == 0.8
    assert park.sources["target_share"] == "[unit_standard] default: assumption: unit target"
    assert kg.target_share == 0.85 and kg.sources["target_share"] == "assumption"
    # a scalar threshold is the same in every area type; its mode is the tier's
    assert set(kg.thresholds_m.values()) == {300.0} and kg.mode_for("乡村") == "slow"
    assert (park.target_group, park.walk_speed_kmh, kg.department) == ("60+", 3.0, "教育")
    assert not kg.builds_projects and park.builds_projects
    assert not park.informational  # no informational_tiers in this file
    assert p.target_groups["60+"].default_share == 0.234
    assert p.indicators[0].categories == ("park",) and p.indicators[0].target == 0.85
    assert list(p.modes) == ["walk", "slow"]


def _with_info(text: str) -> str:
    return text.replace(
        'source = "assumption: unit target"\n',
        'source = "assumption: unit target"\ninformational_tiers = [5]\n'
        'informational_source = "assumption: 5-minute items reported"\n',
    )


def test_informational_default_and_override(tmp_path):
    p = load_profile(write(tmp_path, _with_info(VALID)))
    assert p.category("park").informational and p.category("kindergarten").informational
    text = _with_info(VALID).replace('department = "教育"\n', "informational = false\n")
    p = load_profile(write(tmp_path, text, "on.toml"))
    assert not p.category("kindergarten").informational
    assert p.category("park").informational


BROKEN = [
    # (name, old, new, words the message must contain)
    (
        "bad toml",
        "tier_min = 5\nthreshold_m = 300",
        "tier_min = = 5\nthreshold_m = 300",
        ["not valid TOML"],
    ),
    ("missing key", 'name_zh = "幼儿园"\n', "", ["category 'kindergarten'", "'name_zh'"]),
    (
        "wrong type",
        "tier_min = 5\nthreshold_m = 300",
        'tier_min = "5"\nthreshold_m = 300',
        ["category 'kindergarten'.tier_min", "integer"],
    ),
    (
        "wrong type target",
        "target_share = 0.85\ndepartment",
        'target_share = "85%"\ndepartment',
        ["target_share", "number"],
    ),
    (
        "unknown area type",
        '"乡村" = 1000 }',
        '"农村" = 1000 }',
        ["[tiers.5].threshold_m", "'农村'"],
    ),
    (
        "duplicate id",
        'id = "park"',
        'id = "kindergarten"',
        ["category[1].id", "duplicate", "'kindergarten'"],
    ),
    (
        "missing source",
        'target_share = "assumption"\n\n[[category]]',
        "\n[[category]]",
        ["category 'kindergarten'.sources", "'target_share'", "source"],
    ),
    (
        "missing threshold source",
        'threshold_m = "GB 50180-2018: ≤ 300 m"\n',
        "",
        ["category 'kindergarten'.sources.threshold_m", "source"],
    ),
    (
        "missing tier source",
        'source = "GB 50180-2018 5-minute circle; others assumption"\n',
        "",
        ["[tiers.5].source", "source"],
    ),
    (
        "missing speed source",
        'walk_speed_source = "assumption"\n',
        "",
        ["[profile]", "'walk_speed_source'"],
    ),
    (
        "unknown key",
        "target_share = 0.85\ndepartment",
        "treshold_m = 1\ntarget_share = 0.85\ndepartment",
        ["category 'kindergarten'", "'treshold_m'"],
    ),
    ("bad group", 'group = "十美"', 'group = "十一"', ["category 'park'.group", "'十一'"]),
    ("bad class", 'class = "品质提升"', 'class = "品质"', ["category 'park'.class"]),
    (
        "bad tier",
        "tier_min = 5\ntarget_group",
        "tier_min = 20\ntarget_group",
        ["category 'park'.tier_min=20"],
    ),
    (
        "share out of range",
        "target_share = 0.85\ndepartment",
        "target_share = 85\ndepartment",
        ["category 'kindergarten'.target_share"],
    ),
    (
        "bad osm rule",
        'osm = [ { tags = { leisure = "park" }, type = "公园" } ]',
        'osm = [ { tag = { leisure = "park" }, type = "公园" } ]',
        ["category 'park'.osm[0]"],
    ),
    (
        "bad threshold",
        "threshold_m = 300\n",
        "threshold_m = -3\n",
        ["category 'kindergarten'.threshold_m"],
    ),
    (
        "exclude without condition",
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n',
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\nexclude = [ { note = "x" } ]\n',
        ["category 'kindergarten'.exclude[0]", "needs at least one of"],
    ),
    (
        "exclude unknown key",
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n',
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\nexclude = [ { name = ["早教"] } ]\n',
        ["category 'kindergarten'.exclude[0]", "'name'"],
    ),
    (
        "bad amap code",
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n',
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n'
        'amap = [ { codes = ["14120"], type = "幼儿园" } ]\n',
        ["category 'kindergarten'.amap[0].codes", "'14120'", "six-digit"],
    ),
    (
        "unknown family",
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n',
        'names = [ { any = ["幼儿园"], type = "幼儿园", families = ["教育"] } ]\n',
        ["category 'kindergarten'.names[0].families", "'教育'", "科教文化服务"],
    ),
    (
        "bad type pattern",
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n',
        'names = [ { any = ["幼儿园"], type = "幼儿园" } ]\n'
        'amap = [ { types = ["学校;幼儿园"], type = "幼儿园" } ]\n',
        ["category 'kindergarten'.amap[0].types", "'学校;幼儿园'", "family"],
    ),
    # ---- schema v2: the rejections issue 10 asks for, and their neighbours
    (
        "tier misses an area type",
        '"其他地区" = 500, ',
        "",
        ["[tiers.5].threshold_m", "no value for area type", "'其他地区'"],
    ),
    (
        "category threshold misses an area type",
        "tier_min = 5\nthreshold_m = 300",
        'tier_min = 10\nthreshold_m = { "中心城" = 300 }',
        ["category 'kindergarten'.threshold_m", "'主城区'", "no [tiers.10] default"],
    ),
    (
        "threshold source misses an area type",
        'threshold_m = "GB 50180-2018: ≤ 300 m"\n',
        'threshold_m = { "中心城" = "GB 50180-2018: ≤ 300 m" }\n',
        ["category 'kindergarten'.sources.threshold_m", "no source", "'乡村'"],
    ),
    (
        "undefined target group",
        'target_group = "60+"',
        'target_group = "65+"',
        ["category 'park'.target_group='65+'", "not defined", "'60+'"],
    ),
    (
        "group share without source",
        'source = "2020 census communiqué"\n',
        "",
        ['[target_groups."60+"]', "'source'", "default_share=0.234"],
    ),
    (
        "group share out of range",
        "default_share = 0.234",
        "default_share = 23.4",
        ['[target_groups."60+"].default_share'],
    ),
    (
        "mode speed without source",
        'source = "assumption: walk or cycle"\n',
        "",
        ["[modes.slow]", "'source'", "speed_kmh=8"],
    ),
    (
        "unit target without source",
        'source = "assumption: unit target"\n',
        "",
        ["[unit_standard]", "'source'", "target_share=0.8"],
    ),
    (
        "indicator target without source",
        'source = "citywide target"\n',
        "",
        ["indicator 'ind'", "'source'", "target=0.85"],
    ),
    (
        "category walk speed without source",
        'walk_speed_kmh = "assumption: elderly speed"\n',
        "",
        ["category 'park'.sources", "'walk_speed_kmh'", "walk_speed_kmh=3"],
    ),
    (
        "category target without a default",
        '[unit_standard]\ntarget_share = 0.8\nsource = "assumption: unit target"\n',
        "",
        ["category 'park'", "'target_share'", "[unit_standard]"],
    ),
    (
        "unknown mode",
        'mode = { "乡村" = "slow" }',
        'mode = { "乡村" = "cycle" }',
        ["[tiers.5].mode.乡村", "unknown mode 'cycle'", "'walk', 'slow'"],
    ),
    (
        "unknown mode in a category",
        "tier_min = 5\ntarget_group",
        'tier_min = 5\nmode = { "新城" = "bike" }\ntarget_group',
        ["category 'park'.mode.新城", "unknown mode 'bike'"],
    ),
    (
        "walk redefined",
        "[modes.slow]",
        '[modes.walk]\nname_zh = "步行"\nname_en = "walk"\nspeed_kmh = 5.0\nsource = "x"\n\n'
        "[modes.slow]",
        ["[modes.walk]", "[profile].walk_speed_kmh"],
    ),
    (
        "unknown class in priorities",
        'priorities = ["基础保障"]\nsource = "任务4 乡村"',
        'priorities = ["基础", "品质提升"]\nsource = "任务4 乡村"',
        ["[area_types.乡村].priorities", "unknown class '基础'"],
    ),
    (
        "area type missing",
        '[area_types."乡村"]\nname_en = "villages"\npriorities = ["基础保障"]\n'
        'source = "任务4 乡村"\n',
        "",
        ["[area_types]", "missing area type(s) ['乡村']"],
    ),
    (
        "area type unknown",
        '[area_types."乡村"]',
        '[area_types."农村"]',
        ["[area_types]", "unknown area type(s) ['农村']"],
    ),
    (
        "area type without priorities source",
        'source = "任务4 乡村"\n',
        "",
        ["[area_types.乡村]", "'source'"],
    ),
    (
        "alias and its area type together",
        '"其他地区" = 500, ',
        '"其他地区" = 500, "新市镇" = 600, ',
        ["[tiers.5].threshold_m", "'其他地区' twice", "'新市镇'"],
    ),
    (
        "indicator unknown category",
        'categories = ["park"]',
        'categories = ["parks"]',
        ["indicator 'ind'.categories", "'parks'"],
    ),
    (
        "indicator bad level",
        'level = "city"',
        'level = "nation"',
        ["indicator 'ind'.level='nation'", "'district'"],
    ),
    (
        "informational not a bool",
        'department = "教育"\n',
        'department = "教育"\ninformational = "yes"\n',
        ["category 'kindergarten'.informational", "true/false"],
    ),
    (
        "empty department",
        'department = "教育"',
        'department = ""',
        ["category 'kindergarten'.department"],
    ),
    (
        "default area type unknown",
        'walk_speed_source = "assumption"\n',
        'walk_speed_source = "assumption"\ndefault_area_type = "市区"\n',
        ["[profile].default_area_type='市区'", "新市镇 = 其他地区"],
    ),
]


@pytest.mark.parametrize("case, old, new, words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_profile_names_file_and_key(tmp_path, case, old, new, words):
    assert VALID.count(old) == 1, case
    path = write(tmp_path, VALID.replace(old, new), f"broken_{case.replace(' ', '_')}.toml")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    msg = str(exc.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, (case, msg)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope.toml")
    with pytest.raises(ProfileError, match="not a built-in"):
        load_profile("shanghai-2099")


# ------------------------------------------------------------------ area type aliases
def test_alias_xinshizhen_means_other_areas(tmp_path):
    assert AREA_ALIASES == {"新市镇": "其他地区"}
    p = load_profile("shanghai-2025")
    assert p.area_type("新市镇") == "其他地区" and p.area_type("乡村") == "乡村"
    with pytest.raises(
        ProfileError, match=r"unknown area type '市中心'.*中心城.*新市镇 = 其他地区"
    ):
        p.area_type("市中心")
    health = p.category("health")
    assert health.threshold_for("新市镇") == health.threshold_for("其他地区") == 2000
    assert health.mode_for("新市镇") == "slow"
    with pytest.raises(ProfileError, match="no threshold for area type '市区'"):
        health.threshold_for("市区")
    assert p.standards_table("新市镇")["area_type"].unique().tolist() == ["其他地区"]
    # a planner's file written with the old name means 其他地区 too
    text = (
        'extends = "shanghai-2025"\n'
        '[area_types."新市镇"]\npriorities = ["基础保障", "品质提升"]\nsource = "区规划"\n'
        '[tiers.15]\nthreshold_m = { "新市镇" = 3000 }\n'
        '[tiers.15.source]\n"新市镇" = "区规划: 3000 m"\n'
    )
    q = load_profile(write(tmp_path, text, "old_names.toml"))
    assert q.area_types["其他地区"].priorities == ("基础保障", "品质提升")
    assert q.category("health").threshold_for("其他地区") == 3000
    assert (
        q.category("health").threshold_sources["其他地区"] == "[tiers.15] default: 区规划: 3000 m"
    )
    assert q.category("health").threshold_sources["新城"] == health.threshold_sources["新城"]


# ------------------------------------------------------------------ planner overrides
PLANNER = """\
extends = "shanghai-2025"

[profile]
id = "xuhui-2025"
name_zh = "徐汇区内环内"

[[category]]
id = "bus"
threshold_m = 300            # inside the Inner Ring; no source given: attributed to this file

[[category]]
id = "kindergarten"
threshold_m = { "中心城" = 250 }
[category.sources]
threshold_m = { "中心城" = "区教育局 2025 布局规划" }

[[category]]
id = "library_point"
name_zh = "社区图书点"
name_en = "Community reading point"
group = "十美"
class = "特色塑造"
tier_min = 10
target_share = 0.5
osm = [ { tags = { amenity = "public_bookcase" }, type = "图书点" } ]
[category.sources]
tier_min = "planner's assumption"
target_share = "planner's assumption"
"""


def test_planner_override_file(tmp_path):
    path = write(tmp_path, PLANNER, "xuhui.toml")
    base = load_profile("shanghai-2025")
    p = load_profile(path)
    assert p.id == "xuhui-2025" and p.name_zh == "徐汇区内环内"
    assert p.name_en == base.name_en  # inherited
    assert p.category_ids == [*base.category_ids, "library_point"]
    bus = p.category("bus")
    assert set(bus.thresholds_m.values()) == {300.0}
    src = bus.sources["threshold_m"]
    assert src.startswith(f"planner override in {path}") and "was {" in src
    assert bus.sources["tier_min"] == base.category("bus").sources["tier_min"]
    # one area type of a table changed: only its source changes
    kg, kg0 = p.category("kindergarten"), base.category("kindergarten")
    assert kg.threshold_for("中心城") == 250 and kg.threshold_for("主城区") == 300
    assert kg.threshold_sources["中心城"] == "区教育局 2025 布局规划"
    for area in AREA_TYPES[1:]:
        assert kg.threshold_sources[area] == kg0.threshold_sources[area]
    lib = p.category("library_point")
    assert lib.threshold_for() == 500 and lib.threshold_for("乡村") == 2000  # 10-minute tier
    assert lib.mode_for("乡村") == "slow"
    # untouched categories are those of the base
    assert p.category("health") == base.category("health")
    hits = classify_tags({"amenity": "public_bookcase"}, p)
    assert hits == [("library_point", "图书点", "osm:amenity=public_bookcase")]


EXTENDS_TWO = """\
extends = "shanghai-2025"

[profile]
id = "minhang-2025"

[[category]]
id = "health"
target_share = 0.9

[area_types."其他地区"]
priorities = ["基础保障", "品质提升"]
"""


def _changed(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    a, b = a.set_index(keys), b.set_index(keys)
    assert a.index.equals(b.index)
    same = (a == b) | (a.isna() & b.isna())
    return b[~same.all(axis=1)]  # the new rows


def test_extends_changes_one_unit_target_and_one_priority_only(tmp_path):
    path = write(tmp_path, EXTENDS_TWO, "minhang.toml")
    base, p = load_profile("shanghai-2025"), load_profile(path)
    assert p.category("health").target_share == 0.9
    assert p.class_priority("其他地区", "品质提升") == 1
    assert base.class_priority("其他地区", "品质提升") is None
    # the sources: exactly these two numbers changed, each attributed to the planner's file
    diff = _changed(base.sources_table(), p.sources_table(), ["where", "key"])
    assert set(diff.index) == {
        ("category health", "target_share"),
        ("area_types.其他地区", "priorities"),
    }
    new = p.sources_table().set_index(["where", "key"])
    for idx in diff.index:
        assert new.loc[idx, "source"].startswith(f"planner override in {path}")
    assert (
        "was 0.8: [unit_standard] default" in new.loc[("category health", "target_share"), "source"]
    )
    # the standards: health's target everywhere, and the rank of 品质提升 in 其他地区
    diff = _changed(base.standards_table(), p.standards_table(), ["category", "area_type"])
    health = diff.xs("health", level="category")
    assert (health["target_share"] == 0.9).all() and len(health) == len(AREA_TYPES)
    others = diff.drop(index="health", level="category")
    assert set(others.index.get_level_values("area_type")) == {"其他地区"}
    assert set(p.category(c).class_zh for c in others.index.get_level_values("category")) == {
        "品质提升"
    }
    # everything else is the base's
    for c in base.categories:
        if c.id != "health":
            assert p.category(c.id) == c
    assert {a: p.area_types[a] for a in AREA_TYPES if a != "其他地区"} == {
        a: base.area_types[a] for a in AREA_TYPES if a != "其他地区"
    }


def test_planner_override_new_category_needs_sources(tmp_path):
    text = PLANNER.replace('tier_min = "planner\'s assumption"\n', "")
    path = write(tmp_path, text, "xuhui_bad.toml")
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(path) in str(exc.value)
    assert "category 'library_point'.sources" in str(exc.value)
    assert "'tier_min'" in str(exc.value)


def test_planner_override_broken_value_names_its_file(tmp_path):
    path = write(
        tmp_path,
        PLANNER.replace('threshold_m = { "中心城" = 250 }', 'threshold_m = "near"'),
        "xuhui_type.toml",
    )
    with pytest.raises(ProfileError, match=r"xuhui_type\.toml.*kindergarten.*threshold_m"):
        load_profile(path)


def test_extends_a_planner_file_by_relative_path(tmp_path):
    write(tmp_path, PLANNER, "xuhui.toml")
    child = write(tmp_path, 'extends = "xuhui.toml"\n[profile]\nid = "xuhui-sub"\n', "sub.toml")
    p = load_profile(child)
    assert p.id == "xuhui-sub" and "library_point" in p.category_ids
    assert p.category("bus").threshold_for() == 300
    bad = write(tmp_path, 'extends = "missing.toml"\n', "bad.toml")
    with pytest.raises(ProfileError, match=r"bad\.toml: extends = 'missing\.toml'"):
        load_profile(bad)


def test_overrides_argument():
    p = load_profile(
        "gb50180-2018",
        overrides={
            "profile": {"walk_speed_kmh": 3.0},
            "tiers": {"15": {"threshold_m": {"乡村": 2000}}},
            "category": [{"id": "bus", "threshold_m": 300, "sources": {"threshold_m": "内环内"}}],
        },
    )
    assert p.walk_speed_kmh == 3.0 and p.modes["walk"].speed_kmh == 3.0
    assert p.raw["profile"]["walk_speed_source"].startswith("planner override")
    assert p.category("culture_centre").threshold_for("乡村") == 2000
    assert p.category("culture_centre").threshold_for("中心城") == 1000
    cc = p.category("culture_centre")
    assert "planner override" in cc.sources["threshold_m"]
    assert "planner override" in cc.threshold_sources["乡村"]
    assert "planner override" not in cc.threshold_sources["中心城"]
    assert p.category("bus").sources["threshold_m"] == "内环内"
    # a loaded profile can be overridden too; the original is untouched
    base = load_profile("shanghai-2025")
    q = load_profile(base, overrides={"category": [{"id": "park", "target_share": 0.9}]})
    assert q.category("park").target_share == 0.9
    assert q.category("park").sources["target_share"].startswith("planner override")
    assert base.category("park").target_share == 0.8
    assert load_profile(base) is base


def test_overrides_of_the_new_numbers_are_attributed():
    base = load_profile("shanghai-2025")
    p = load_profile(
        base,
        overrides={
            "unit_standard": {"target_share": 0.7},
            "modes": {"slow": {"speed_kmh": 10.0}},
            "target_groups": {"60+": {"default_share": 0.3}},
            "indicator": [{"id": "coverage_2025_basic", "target": 0.9}],
            "category": [{"id": "dining", "walk_speed_kmh": 3.5, "mode": {"中心城": "slow"}}],
            "area_types": {"乡村": {"priorities": []}},
        },
    )
    over = "planner override in overrides argument"
    assert p.unit_standard.target_share == 0.7 and p.unit_standard.source.startswith(over)
    assert p.category("health").target_share == 0.7  # every default follows
    assert p.category("health").sources["target_share"].startswith("[unit_standard] default: ")
    assert over in p.category("health").sources["target_share"]
    assert p.modes["slow"].speed_kmh == 10 and p.modes["slow"].source.startswith(over)
    group = p.target_groups["60+"]
    assert group.default_share == 0.3 and group.source.startswith(over) and "0.234" in group.source
    ind = {i.id: i for i in p.indicators}["coverage_2025_basic"]
    assert ind.target == 0.9 and ind.source.startswith(over)
    assert ind.categories == ("health", "elderly_care", "culture", "sports")
    dining = p.category("dining")
    assert dining.walk_speed_kmh == 3.5 and dining.sources["walk_speed_kmh"].startswith(over)
    assert dining.mode_for("中心城") == "slow" and dining.sources["mode"].startswith(over)
    assert p.area_types["乡村"].priorities == () and p.area_types["乡村"].source.startswith(over)
    assert p.class_priority("乡村", "基础保障") is None
    # the base profile is untouched
    assert base.unit_standard.target_share == 0.8 and base.modes["slow"].speed_kmh == 8.0


# ------------------------------------------------------------------ provenance tables
@pytest.mark.parametrize("name", BUILTIN)
def test_sources_table_has_a_row_for_every_number(name):
    p = load_profile(name)
    t = p.sources_table()
    assert list(t.columns) == ["where", "key", "value", "source", "assumption"]
    assert t["source"].str.strip().str.len().gt(0).all()
    assert not t.duplicated(["where", "key"]).any()
    assert (t["assumption"] == t["source"].str.contains("assumption")).all()
    rows = t.set_index(["where", "key"])["value"]
    raw = p.raw
    assert rows[("profile", "walk_speed_kmh")] == raw["profile"]["walk_speed_kmh"]
    for key, tier in raw["tiers"].items():
        for area, value in tier["threshold_m"].items():
            assert rows[(f"tiers.{key}", f"threshold_m.{area}")] == value
        for area, mode in tier.get("mode", {}).items():
            assert rows[(f"tiers.{key}", f"mode.{area}")] == mode
    for mode, item in raw.get("modes", {}).items():
        assert rows[(f"modes.{mode}", "speed_kmh")] == item["speed_kmh"]
    for gid, item in raw["target_groups"].items():
        assert rows[(f"target_groups.{gid}", "default_share")] == item["default_share"]
    assert rows[("unit_standard", "target_share")] == raw["unit_standard"]["target_share"]
    for area, item in raw["area_types"].items():
        assert rows[(f"area_types.{area}", "priorities")] == " > ".join(item["priorities"])
    for item in raw.get("indicator", []):
        assert rows[(f"indicator {item['id']}", "target")] == item["target"]
    for c in raw["category"]:
        where = f"category {c['id']}"
        assert rows[(where, "tier_min")] == c["tier_min"]
        thr = c.get("threshold_m", {})
        for area in AREA_TYPES:
            own = thr.get(area) if isinstance(thr, dict) else thr
            expected = (
                own if own is not None else raw["tiers"][str(c["tier_min"])]["threshold_m"][area]
            )
            assert rows[(where, f"threshold_m.{area}")] == expected, (c["id"], area)
        assert rows[(where, "target_share")] == c.get(
            "target_share", raw["unit_standard"]["target_share"]
        )
        for key in ("walk_speed_kmh", "target_group", "department"):
            if key in c:
                assert rows[(where, key)] == c[key]
    # assumptions() is the flagged part of it
    a = p.assumptions()
    assert len(a) == int(t["assumption"].sum()) > 0 and a["assumption"].all()


@pytest.mark.parametrize("name", BUILTIN)
def test_standards_table_matches_the_profile(name):
    p = load_profile(name)
    t = p.standards_table()
    assert len(t) == len(p.categories) * len(AREA_TYPES)
    for col in (
        "category",
        "area_type",
        "threshold_m",
        "mode",
        "mode_zh",
        "speed_kmh",
        "label_zh",
        "target_share",
        "target_group",
        "informational",
        "department",
        "priority",
        "source_threshold_m",
        "source_target_share",
        "assumption",
    ):
        assert col in t.columns
    src = p.sources_table().set_index(["where", "key"])
    for r in t.itertuples():
        cat = p.category(r.category)
        assert r.threshold_m == cat.threshold_for(r.area_type)
        assert r.mode == cat.mode_for(r.area_type)
        assert r.speed_kmh == p.category_speed_kmh(r.category, r.area_type)
        minutes = round(r.threshold_m / (r.speed_kmh * 1000 / 60) + 1e-9)
        assert r.label_zh == f"{r.mode_zh}{minutes}分钟（{r.threshold_m:.0f}米）" or math.isclose(
            r.threshold_m / (r.speed_kmh * 1000 / 60) % 1, 0.5
        )
        assert (
            r.source_threshold_m
            == src.loc[(f"category {r.category}", f"threshold_m.{r.area_type}"), "source"]
        )
        rank = p.class_priority(r.area_type, cat.class_zh)
        assert (rank is None and math.isnan(r.priority)) or r.priority == rank
        assert r.assumption == (
            r.assumption_tier_min
            or r.assumption_threshold_m
            or r.assumption_speed_kmh
            or r.assumption_target_share
            or "assumption" in r.source_mode
        )
    one = p.standards_table("乡村")
    assert set(one["area_type"]) == {"乡村"} and len(one) == len(p.categories)


# ------------------------------------------------------------------ lifecircle profile show
def test_profile_show_lists_each_assumption(capsys):
    p = load_profile("shanghai-2025")
    assert main(["profile", "show", "shanghai-2025"]) == 0
    out = capsys.readouterr().out
    marked = [line for line in out.splitlines() if ASSUMPTION_MARK in line]
    for row in p.assumptions().itertuples():
        # a default's source is printed where the default is (tier, unit standard)
        text = re.sub(
            r"^\[(tiers\.\d+|unit_standard)\] (default|informational_tiers): ", "", row.source
        )
        assert any(text in line for line in marked), (row.where, row.key, text)
    assert (
        out.rstrip()
        .splitlines()[-1]
        .startswith(f"假设 assumptions: {len(p.assumptions())} of {len(p.sources_table())} ")
    )
    for a in AREA_TYPES:
        assert f"  {a} " in out
    for g in p.target_groups:
        assert f"  {g} " in out
    for i in p.indicators:
        assert i.id in out and i.source in out
    for c in p.categories:
        assert f"  {c.id} {c.name_zh}" in out
    # sources that are not assumptions are printed unmarked
    gb = "GB 50180-2018: kindergarten service radius ≤ 300 m"
    assert any(gb in line and ASSUMPTION_MARK not in line for line in out.splitlines())
    assert "慢行15分钟（2000米）" in out and "步行15分钟（1000米）" in out


def test_profile_show_options(capsys):
    assert main(["profile", "show", "shanghai-2025", "--area-type", "新市镇"]) == 0
    out = capsys.readouterr().out
    assert "其他地区: 慢行15分钟（2000米）" in out and "中心城: 步行15分钟" not in out
    assert main(["profile", "show", "gb50180-2018", "--assumptions"]) == 0
    out = capsys.readouterr().out
    p = load_profile("gb50180-2018")
    assert (
        out.splitlines()[0] == f"gb50180-2018: {len(p.assumptions())} assumptions {ASSUMPTION_MARK}"
    )
    assert len(out.splitlines()) == len(p.assumptions()) + 1
    assert main(["profile", "show", "shanghai-2025", "--area-type", "市区"]) == 2
    assert "unknown area type '市区'" in capsys.readouterr().err


def test_tier_mode_override_is_attributed_per_area_type():
    p = load_profile("shanghai-2025", overrides={"tiers": {"10": {"mode": {"新城": "slow"}}}})
    park = p.category("park")
    assert park.mode_for("新城") == "slow" and park.threshold_for("新城") == 500
    assert (
        "planner override in overrides argument (was '500 m, walk'"
        in (park.threshold_sources["新城"])
    )
    base = load_profile("shanghai-2025").category("park")
    assert park.threshold_sources["中心城"] == base.threshold_sources["中心城"]
    assert p.standards_table("新城").set_index("category").loc["park", "label_zh"] == (
        "慢行4分钟（500米）"
    )
