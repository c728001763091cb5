"""Tests of lifecircle_geo.standards: built-in profiles, validation errors, planner overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lifecircle_geo.errors import ProfileError
from lifecircle_geo.facilities import (
    classify_name,
    classify_record,
    classify_tags,
    explain_record,
    explain_tags,
)
from lifecircle_geo.standards import (
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

[tiers.5]
threshold_m = { "中心城" = 300, "新城" = 300, "新市镇" = 500, "乡村" = 1000 }
source = "GB 50180-2018 5-minute circle; others assumption"

[[category]]
id = "kindergarten"
name_zh = "幼儿园"
name_en = "Kindergarten"
group = "十全"
class = "基础保障"
tier_min = 5
threshold_m = 300
target_share = 0.85
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
target_share = 0.85
osm = [ { tags = { leisure = "park" }, type = "公园" } ]
[category.sources]
tier_min = "assumption"
target_share = "assumption"
"""


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_list_profiles_has_both_builtins():
    assert set(BUILTIN) <= set(list_profiles())


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_loads_and_is_complete(name):
    p = load_profile(name)
    assert isinstance(p, Profile) and p.id == name and p.categories
    assert len(set(p.category_ids)) == len(p.category_ids)
    for cat in p.categories:
        assert cat.class_zh in CLASSES
        assert cat.tier_min in (5, 10, 15)
        assert 0 < cat.target_share <= 1
        assert set(cat.thresholds_m) == set(AREA_TYPES), cat.id
        assert all(v > 0 for v in cat.thresholds_m.values())
        for key in NUMBER_KEYS:  # every number has its source
            assert cat.sources.get(key, "").strip(), (name, cat.id, key)
        assert cat.osm_rules, f"{name}: {cat.id} has no OSM rule"
        # what each include and exclude rests on is said
        assert cat.sources.get("classification", "").startswith("in:"), (name, cat.id)
    t = p.table(sources=True)
    assert len(t) == len(p.categories)
    assert t[[f"source_{k}" for k in NUMBER_KEYS]].map(bool).all().all()


def test_shanghai_2025_structure():
    p = load_profile("shanghai-2025")
    assert len(p.categories) == 20
    groups = {c.group for c in p.categories}
    assert groups == {"十全", "十美"}
    assert {c.class_zh for c in p.categories} == set(CLASSES)
    # confirmed members (DOMAIN.md §1) are there
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
    assert p.category("kindergarten").threshold_for("乡村") == 300.0
    assert p.category("park").threshold_for("新市镇") == 1000.0
    assert p.region_bbox is not None and p.region_name == "Shanghai"


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
    # the life-circle distances: 300 / 500 / 800-1000 m, the same in every area type
    for cat in p.categories:
        assert len(set(cat.thresholds_m.values())) == 1
    assert p.category("fitness_outdoor").threshold_for() == 300
    assert p.category("gym").threshold_for() == 500
    assert p.category("culture_centre").threshold_for("乡村") == 1000
    assert p.category("kindergarten").threshold_for() == 300
    assert p.category("primary_school").threshold_for() == 500
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


def test_valid_template_loads(tmp_path):
    p = load_profile(write(tmp_path, VALID))
    assert p.category_ids == ["kindergarten", "park"]
    assert p.category("park").threshold_for("乡村") == 1000
    assert p.category("park").sources["threshold_m"].startswith("[tiers.5] default")


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
        "target_share = 0.85\nfacility_types",
        'target_share = "85%"\nfacility_types',
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
        ["category 'kindergarten'.sources", "'threshold_m'"],
    ),
    (
        "missing tier source",
        'source = "GB 50180-2018 5-minute circle; others assumption"\n',
        "",
        ["[tiers.5]", "'source'"],
    ),
    (
        "missing speed source",
        'walk_speed_source = "assumption"\n',
        "",
        ["[profile]", "'walk_speed_source'"],
    ),
    (
        "unknown key",
        "target_share = 0.85\nfacility_types",
        "treshold_m = 1\ntarget_share = 0.85\nfacility_types",
        ["category 'kindergarten'", "'treshold_m'"],
    ),
    ("bad group", 'group = "十美"', 'group = "十一"', ["category 'park'.group", "'十一'"]),
    ("bad class", 'class = "品质提升"', 'class = "品质"', ["category 'park'.class"]),
    (
        "bad tier",
        "tier_min = 5\ntarget_share",
        "tier_min = 20\ntarget_share",
        ["category 'park'.tier_min=20"],
    ),
    (
        "share out of range",
        "target_share = 0.85\nosm",
        "target_share = 85\nosm",
        ["category 'park'.target_share"],
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
threshold_m = 250
[category.sources]
threshold_m = "区教育局 2025 布局规划"

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
    assert p.category("bus").threshold_for() == 300
    src = p.category("bus").sources["threshold_m"]
    assert src.startswith(f"planner override in {path}") and "was 500" in src
    assert p.category("bus").sources["tier_min"] == base.category("bus").sources["tier_min"]
    assert p.category("kindergarten").threshold_for() == 250
    assert p.category("kindergarten").sources["threshold_m"] == "区教育局 2025 布局规划"
    assert p.category("library_point").threshold_for() == 500  # 10-minute tier default
    # untouched categories are those of the base
    assert p.category("health") == base.category("health")
    hits = classify_tags({"amenity": "public_bookcase"}, p)
    assert hits == [("library_point", "图书点", "osm:amenity=public_bookcase")]


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
        tmp_path, PLANNER.replace("threshold_m = 250", 'threshold_m = "near"'), "xuhui_type.toml"
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
    assert p.walk_speed_kmh == 3.0
    assert p.raw["profile"]["walk_speed_source"].startswith("planner override")
    assert p.category("culture_centre").threshold_for("乡村") == 2000
    assert p.category("culture_centre").threshold_for("中心城") == 1000
    assert "planner override" in p.category("culture_centre").sources["threshold_m"]
    assert p.category("bus").sources["threshold_m"] == "内环内"
    # a loaded profile can be overridden too; the original is untouched
    base = load_profile("shanghai-2025")
    q = load_profile(base, overrides={"category": [{"id": "park", "target_share": 0.9}]})
    assert q.category("park").target_share == 0.9
    assert base.category("park").target_share == 0.85
    assert load_profile(base) is base
