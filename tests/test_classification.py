"""Classification on realistic traps: a record's own type decides, names only without one.

Every table and OSM file here is written by the tests themselves (names are invented in the
style of a real Amap (高德) export of Shanghai: name, three-level type string, six-digit type
code, GCJ-02 lon/lat).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.cli import main
from lifecircle_geo.errors import InputError
from lifecircle_geo.facilities import (
    ClassificationReport,
    classification_report,
    explain_record,
    explain_tags,
    from_osm,
    from_table,
    merge,
)

BUS = ("交通设施服务;公交车站;公交车站相关", "150700")
GOV_LOCAL = ("政府机构及社会团体;政府机关;乡镇以下级政府及事业单位", "130106")
CLINIC = ("医疗保健服务;诊所;诊所", "090300")
ANY = "no-match"  # prefix of every "no rule matched" left-out rule

# (名称, 类型, 类型编码, expected): expected is {category: facility_type} for a classified row, or
# the start of the left-out rule ("exclude:health:amap-code:090701", "no-match:type", ...)
TRAPS: list[tuple[str, str, str, dict[str, str] | str]] = [
    # restaurants named after plazas, gardens and parks stay restaurants (left out)
    ("麦当劳(悦荟广场店)", "餐饮服务;快餐厅;麦当劳", "050301", "no-match:type"),
    ("绿野花园餐厅", "餐饮服务;中餐厅;中餐厅", "050100", "no-match:type"),
    ("长风公园", "餐饮服务;中餐厅;中餐厅", "050100", "no-match:type"),  # suspicious
    # bus stops are bus stops whatever they are named after
    ("蓬莱公园(公交站)", *BUS, {"bus": "公交站"}),
    ("真如敬老院(公交站)", *BUS, {"bus": "公交站"}),
    ("育才初级中学(公交站)", *BUS, {"bus": "公交站"}),
    ("世纪大道地铁站(公交站)", *BUS, {"bus": "公交站"}),
    ("世纪大道(地铁站)", "交通设施服务;地铁站;地铁站", "150500", {"metro": "地铁站"}),
    # pet, dental, cosmetic, 三甲, disease control: not community health care
    (
        "爱宠宠物诊所",
        "医疗保健服务;动物医疗场所;宠物诊所",
        "090701",
        "exclude:health:amap-code:090701",
    ),
    ("美佳口腔医院", "医疗保健服务;专科医院;口腔医院", "090202", "exclude:health:amap-code:090202"),
    (
        "丽人医疗美容诊所",
        "医疗保健服务;专科医院;整形美容",
        "090201",
        "exclude:health:amap-code:090201",
    ),
    ("仁济医院", "医疗保健服务;综合医院;三级甲等医院", "090101", "exclude:health:amap-code:090101"),
    ("普陀区疾病预防控制中心", "医疗保健服务;疾病预防机构;疾病预防", "090500", "exclude:health"),
    ("张氏中医诊所", *CLINIC, "no-match:type"),  # a private clinic
    ("美齿口腔诊所", *CLINIC, "exclude:health:name~口腔"),
    ("桃浦镇社区卫生服务中心", "医疗保健服务;专科医院;专科医院", "090200", "exclude:health"),
    # ... next to real community health care, typed in every way Amap types it
    (
        "曹杨新村街道社区卫生服务中心",
        "医疗保健服务;综合医院;卫生院",
        "090102",
        {"health": "社区卫生服务中心"},
    ),
    (
        "长征镇社区卫生服务中心",
        "医疗保健服务;综合医院;综合医院",
        "090100",
        {"health": "社区卫生服务中心"},
    ),
    ("真如镇社区卫生服务中心杨家桥分中心", *CLINIC, {"health": "社区卫生服务中心"}),
    ("兰溪社区卫生服务站", *CLINIC, {"health": "社区卫生服务站"}),
    ("华亭镇卫生院", "医疗保健服务;综合医院;卫生院", "090102", {"health": "卫生院"}),
    ("塘湾村卫生室", *CLINIC, {"health": "村卫生室"}),
    # schools
    ("育才初级中学", "科教文化服务;学校;中学", "141202", {"middle_school": "初级中学"}),
    ("市二高级中学", "科教文化服务;学校;中学", "141202", "exclude:middle_school:name~高级中学"),
    ("兰溪路小学", "科教文化服务;学校;小学", "141203", {"primary_school": "小学"}),
    # employment: public services in, private HR companies out
    (
        "锦程人力资源有限公司",
        "生活服务;人才市场;人才市场",
        "070800",
        "exclude:employment:name~有限公司",
    ),
    ("真如零工驿站", "生活服务;人才市场;人才市场", "070800", {"employment": "零工驿站"}),
    # 党群: community offices in, tax and police out
    (
        "普陀区税务局真如税务所",
        "政府机构及社会团体;工商税务机构;税务机关",
        "130703",
        "exclude:party_service",
    ),
    ("曹杨新村派出所", "政府机构及社会团体;公检法机关;公安警察", "130501", "exclude:party_service"),
    ("兰溪路居委会", *GOV_LOCAL, {"party_service": "居委会"}),
    ("曹杨市民驿站", *GOV_LOCAL, {"party_service": "市民驿站"}),
    ("长寿邻里汇", "生活服务;生活服务场所;生活服务场所", "070000", {"party_service": "邻里中心"}),
    # fitness rooms, canteens, markets, parks, pools
    ("曹杨健身驿站", "体育休闲服务;运动场馆;健身中心", "080111", {"fitness": "健身驿站"}),
    (
        "真如长者运动健康之家",
        "体育休闲服务;运动场馆;运动场馆",
        "080100",
        {"fitness": "长者运动健康之家"},
    ),
    ("兰溪社区食堂", "餐饮服务;中餐厅;中餐厅", "050100", {"dining": "社区食堂"}),
    (
        "全家便利店(铜川菜场店)",
        "购物服务;便民商店/便利店;便民商店/便利店",
        "060200",
        {"market": "便利店"},
    ),
    ("铜川路菜市场", "购物服务;综合市场;蔬菜市场", "060705", {"market": "菜市场"}),
    ("长风公园东门广场", "风景名胜;公园广场;公园", "110101", {"park": "公园"}),
    ("上海动物园", "风景名胜;公园广场;动物园", "110102", "exclude:park:amap-code:110102"),
    ("某酒店游泳馆", "体育休闲服务;运动场馆;游泳馆", "080110", "exclude:sports:name~酒店"),
    # rows without a type: their names decide, the head noun last
    ("桃浦公园(公交站)", "", "", {"bus": "公交站"}),
    ("真如养老院(公交站)", "", "", {"bus": "公交站"}),
    ("麦当劳(长风公园店)", "", "", "no-match:name"),
    ("真如镇社区卫生服务中心", "", "", {"health": "社区卫生服务中心"}),
    ("云栖养育托管点", "", "", {"childcare": "社区养育托管点"}),
    ("曹杨老年学校", "", "", {"learning": "老年学校"}),
    ("示例高级中学", "", "", "exclude:middle_school:name~高级中学"),
    # a planner's own type words
    ("样本路宝宝屋", "宝宝屋", "", {"childcare": "宝宝屋"}),
    ("示例银行", "银行", "", "no-match:type"),
]
N_CLASSIFIED = sum(isinstance(t[3], dict) for t in TRAPS)


def trap_frame(with_type: bool = True) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "名称": [t[0] for t in TRAPS],
            "地址": [f"示例路{i + 1}号" for i in range(len(TRAPS))],
            "所属区县": ["普陀区"] * len(TRAPS),
            "类型": [t[1] for t in TRAPS],
            "类型编码": [t[2] for t in TRAPS],
            "经度": [round(121.40 + 0.0005 * i, 6) for i in range(len(TRAPS))],
            "纬度": [round(31.24 + 0.0003 * i, 6) for i in range(len(TRAPS))],
        }
    )
    return df if with_type else df.drop(columns=["类型", "类型编码"])


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".xlsx":
        df.to_excel(path, index=False)  # openpyxl
    else:
        df.to_csv(path, index=False, encoding="gbk" if "gbk" in path.stem else "utf-8")
    return path


def outcome(fac: gpd.GeoDataFrame) -> dict[int, dict[str, str] | str]:
    """Per table row (header = row 1): {category: facility_type}, or the left-out rule."""
    out: dict[int, dict[str, str] | str] = {}
    for fid, cat, ftype in zip(
        fac["facility_id"], fac["category"], fac["facility_type"], strict=True
    ):
        out.setdefault(int(fid.rsplit("row", 1)[1]), {})[cat] = ftype
    for u in fac.attrs["unmatched"]:
        out[u["row"]] = u["rule"]
    return out


@pytest.mark.parametrize("name", ["amap_utf8.csv", "amap_gbk.csv", "amap.xlsx"])
def test_trap_table_rows(tmp_path, name):
    path = write(trap_frame(), tmp_path / name)
    fac = from_table(path, coords="gcj02")
    if name.endswith(".csv"):
        assert fac.attrs["encoding"] == ("GBK" if "gbk" in name else "UTF-8")
    got = outcome(fac)
    assert len(got) == len(TRAPS)
    for row, (trap_name, _type, _code, expected) in enumerate(TRAPS, start=2):
        if isinstance(expected, dict):
            assert got[row] == expected, (trap_name, got[row])
        else:
            assert isinstance(got[row], str) and got[row].startswith(expected), (
                trap_name,
                got[row],
            )
    # every facility row keeps the rule that decided it
    assert fac["rule"].str.len().gt(0).all()
    rules = dict(zip(fac["name"], fac["rule"], strict=True))
    assert rules["曹杨新村街道社区卫生服务中心"] == "amap-type:医疗保健服务;name~社区卫生服务中心"
    assert rules["华亭镇卫生院"] == "amap-code:090102"
    assert rules["兰溪社区食堂"] == "amap-family:餐饮服务;name~社区食堂"
    assert rules["蓬莱公园(公交站)"] == "amap-code:150700"
    assert rules["桃浦公园(公交站)"] == "name:(公交站)"
    assert rules["样本路宝宝屋"] == "type:宝宝屋"


def test_trap_table_report_counts(tmp_path):
    fac = from_table(write(trap_frame(), tmp_path / "amap.csv"), coords="gcj02")
    rep = classification_report(fac)
    assert isinstance(rep, ClassificationReport) and rep.profile == "shanghai-2025"
    assert rep.records == len(TRAPS)
    assert rep.classified == N_CLASSIFIED
    assert rep.facility_rows == N_CLASSIFIED  # no trap serves two categories
    assert len(rep.left_out) == len(TRAPS) - N_CLASSIFIED
    by = rep.by_rule.set_index(["category", "rule"])["count"]
    assert by[("bus", "amap-code:150700")] == 4
    assert by[("bus", "name:(公交站)")] == 2
    assert by[("health", "amap-type:医疗保健服务;name~社区卫生服务中心")] == 3
    assert by[("health", "amap-type:医疗保健服务;name~社区卫生服务站")] == 1
    assert by[("health", "amap-code:090102")] == 1
    ex = rep.by_rule.set_index(["category", "rule"])["examples"]
    assert "蓬莱公园(公交站)" in ex[("bus", "amap-code:150700")]
    assert rep.by_rule["name_zh"].iloc[0] == "党群服务"  # profile order
    cat = rep.by_category.set_index("category")
    assert len(cat) == 20 and cat.loc["health", "rows"] == 7
    assert cat.loc["health", "excluded"] == 7  # pet, dental x2, cosmetic, 三甲, 疾控, 桃浦
    assert "社区卫生服务中心 4" in cat.loc["health", "by_type"]
    assert cat.loc["sports", "rows"] == 0 and cat.loc["sports", "excluded"] == 1
    rules = rep.left_out.set_index("name")["rule"]
    assert rules["爱宠宠物诊所"] == "exclude:health:amap-code:090701"
    assert rules["麦当劳(悦荟广场店)"] == "no-match:type"
    reasons = rep.left_out.set_index("name")["reason"]
    assert "医疗卫生 (health) takes this type only with a name keyword" in reasons["张氏中医诊所"]
    assert rep.left_out.set_index("name").loc["爱宠宠物诊所", "row"] == 2 + [
        t[0] for t in TRAPS
    ].index("爱宠宠物诊所")
    # suspicious: a 社区卫生服务中心 typed as a specialist hospital, a "park" typed restaurant
    sus = rep.suspicious.set_index("name")
    assert set(sus.index) == {"桃浦镇社区卫生服务中心", "长风公园"}
    assert sus.loc["桃浦镇社区卫生服务中心", "name_says"] == "health"
    assert sus.loc["桃浦镇社区卫生服务中心", "classified_as"] == ""
    assert sus.loc["长风公园", "name_says_zh"] == "自然生态"
    text = rep.summary()
    assert f"读入 records: {len(TRAPS)}" in text and f"已归类 classified: {N_CLASSIFIED}" in text
    assert "被排除 excluded from 医疗卫生 health: 7" in text
    assert "可疑 suspicious: 2" in text and "无设施" in text
    assert len(text.splitlines()) <= 8


def test_table_without_type_column_names_decide(tmp_path):
    fac = from_table(write(trap_frame(with_type=False), tmp_path / "names.csv"), coords="gcj02")
    assert fac.attrs["columns"].get("type") is None
    cats = fac.groupby("name")["category"].agg(set).to_dict()
    # bus stops named after a park, a nursing home, a school or a metro station: bus stops
    for name in ("蓬莱公园(公交站)", "真如敬老院(公交站)", "育才初级中学(公交站)"):
        assert cats[name] == {"bus"}, name
    assert cats["世纪大道地铁站(公交站)"] == {"bus"}
    assert cats["世纪大道(地铁站)"] == {"metro"}
    assert cats["长风公园"] == {"park"}  # with no type, the name is all there is
    assert cats["兰溪社区食堂"] == {"dining"} and cats["曹杨市民驿站"] == {"party_service"}
    assert cats["长寿邻里汇"] == {"party_service"} and cats["真如零工驿站"] == {"employment"}
    assert cats["曹杨健身驿站"] == {"fitness"} and cats["兰溪路居委会"] == {"party_service"}
    assert cats["全家便利店(铜川菜场店)"] == {"market"}
    assert fac.set_index("name").loc["全家便利店(铜川菜场店)", "facility_type"] == "便利店"
    left = {u["name"]: u["rule"] for u in fac.attrs["unmatched"]}
    for name in ("麦当劳(悦荟广场店)", "绿野花园餐厅", "麦当劳(长风公园店)", "仁济医院"):
        assert left[name] == "no-match:name", name
    assert left["美佳口腔医院"] == "no-match:name"
    assert left["锦程人力资源有限公司"] == "no-match:name"
    assert left["市二高级中学"] == "exclude:middle_school:name~高级中学"
    assert left["普陀区税务局真如税务所"] == "no-match:name"
    assert left["曹杨新村派出所"] == "no-match:name"


def test_gbk_utf8_and_xlsx_read_alike(tmp_path):
    df = trap_frame()
    outs = [
        from_table(write(df, tmp_path / n), coords="gcj02")
        for n in ("t_utf8.csv", "t_gbk.csv", "t.xlsx")
    ]
    cols = ["name", "category", "facility_type", "rule"]
    for fac in outs[1:]:
        assert fac[cols].values.tolist() == outs[0][cols].values.tolist()
        assert fac["facility_id"].str.split("/").str[1].tolist() == (
            outs[0]["facility_id"].str.split("/").str[1].tolist()
        )
        assert [u["rule"] for u in fac.attrs["unmatched"]] == [
            u["rule"] for u in outs[0].attrs["unmatched"]
        ]


def test_type_codes_saved_as_numbers_by_excel(tmp_path):
    """Excel turns 090102 into the number 90102: the code is still read as 090102."""
    df = trap_frame()
    df["类型编码"] = [int(c) if c else None for c in df["类型编码"]]
    df = df.drop(columns=["类型"])  # only the codes say what the rows are
    path = tmp_path / "codes.xlsx"
    df.to_excel(path, index=False)
    fac = from_table(path, coords="gcj02")
    got = fac.groupby("name")["rule"].agg(set).to_dict()
    assert got["华亭镇卫生院"] == {"amap-code:090102"}
    assert got["蓬莱公园(公交站)"] == {"amap-code:150700"}
    left = {u["name"]: u["rule"] for u in fac.attrs["unmatched"]}
    assert left["爱宠宠物诊所"] == "exclude:health:amap-code:090701"
    assert left["麦当劳(悦荟广场店)"] == "no-match:type"


def test_gb50180_profile_on_the_same_traps(tmp_path):
    fac = from_table(
        write(trap_frame(), tmp_path / "t.csv"), coords="gcj02", profile="gb50180-2018"
    )
    got = fac.groupby("name")["category"].agg(set).to_dict()
    assert got["曹杨新村街道社区卫生服务中心"] == {"health_centre"}
    assert got["兰溪社区卫生服务站"] == {"health_station"}
    assert got["全家便利店(铜川菜场店)"] == {"convenience"}  # never a 菜市场
    assert got["铜川路菜市场"] == {"market"}
    assert got["兰溪路居委会"] == {"community_service_station"}
    assert got["曹杨市民驿站"] == {"community_service_centre"}
    assert got["育才初级中学"] == {"middle_school"}
    assert got["曹杨健身驿站"] == {"gym"}
    left = {u["name"]: u["rule"] for u in fac.attrs["unmatched"]}
    assert left["爱宠宠物诊所"].startswith("exclude:health_centre")
    assert left["市二高级中学"] == "exclude:middle_school:name~高级中学"
    assert left["曹杨新村派出所"].startswith("exclude:community_service")
    assert left["张氏中医诊所"] == "no-match:type"


# ------------------------------------------------------------------ single records
@pytest.mark.parametrize(
    "name, type_text, code, hits",
    [
        # several types, main first: the 卫生院 counts, its dental department does not
        (
            "华亭镇卫生院",
            "医疗保健服务;综合医院;卫生院|医疗保健服务;专科医院;口腔医院",
            "090102|090202",
            [("health", "卫生院", "amap-code:090102")],
        ),
        # Baidu (百度) types: families mapped onto Amap's
        (
            "曹杨社区卫生服务中心",
            "医疗;综合医院",
            "",
            [("health", "社区卫生服务中心", "amap-type:医疗保健服务;name~社区卫生服务中心")],
        ),
        (
            "兰溪路居委会",
            "政府机构;居民委员会",
            "",
            [("party_service", "居委会", "amap-family:政府机构及社会团体;name~居委会")],
        ),
        ("某公园", "美食;中餐厅", "", []),
        # a code alone says the family
        (
            "兰溪社区食堂",
            "",
            "050100",
            [("dining", "社区食堂", "amap-family:餐饮服务;name~社区食堂")],
        ),
        # a planner's type that is the category's own name, or one of its facility types
        ("某某", "医疗卫生", "", [("health", "社区卫生服务中心", "type:=医疗卫生")]),
        ("人民广场", "广场", "", [("park", "广场", "type:=广场")]),
        ("人民广场", "", "", []),  # by name alone, 广场 is mostly a shopping mall
        ("某某医院", "医院", "", []),
        # a type that says nothing usable: the name decides
        ("示例幼儿园", "-", "", [("kindergarten", "幼儿园", "name:幼儿园")]),
    ],
)
def test_explain_record(name, type_text, code, hits):
    assert list(explain_record(name, type_text, code).hits) == hits


def test_explain_says_why():
    d = explain_record("爱宠宠物诊所", "医疗保健服务;动物医疗场所;宠物诊所", "090701")
    assert d.hits == () and d.rule == "exclude:health:amap-code:090701"
    assert d.reason == "excluded from 医疗卫生 (health) by amap-code:090701"
    assert d.excluded == (("health", "amap-code:090701"),)
    d = explain_record("麦当劳(悦荟广场店)", "餐饮服务;快餐厅;麦当劳", "050301")
    assert d.rule == "no-match:type" and "name is not used" in d.reason
    assert explain_record("", "", "").rule == "no-match:no-name"
    d = explain_tags({"amenity": "restaurant", "name": "星巴克(长风公园店)"})
    assert d.rule == "no-match:tag" and d.reason.startswith("amenity=restaurant matches no")


# ------------------------------------------------------------------ OSM
POIS = [
    # (id, tags, expected): {category: facility_type}, the left-out rule, or None (not reported)
    (1, {"amenity": "restaurant", "name": "长风公园店"}, "no-match:tag"),
    (2, {"highway": "bus_stop", "name": "真如敬老院站"}, {"bus": "公交站"}),
    (3, {"highway": "bus_stop", "name": "蓬莱公园"}, {"bus": "公交站"}),
    (4, {"amenity": "canteen", "name": "兰溪社区食堂"}, {"dining": "社区食堂"}),
    (5, {"amenity": "canteen", "name": "锦程公司职工食堂"}, "exclude:dining:name~职工食堂"),
    (6, {"amenity": "townhall", "name": "曹杨新村街道办事处"}, {"party_service": "街道办事处"}),
    (7, {"amenity": "townhall", "name": "普陀区人民政府"}, "exclude:party_service:name~区人民政府"),
    (8, {"amenity": "clinic", "name": "美佳口腔诊所"}, "exclude:health:name~口腔"),
    (9, {"amenity": "hospital", "name": "仁济医院"}, "no-match:tag"),
    (10, {"amenity": "hospital", "name": "真如镇社区卫生服务中心"}, {"health": "社区卫生服务中心"}),
    (11, {"amenity": "clinic", "name": "兰溪社区卫生服务站"}, {"health": "社区卫生服务站"}),
    (12, {"amenity": "clinic", "name": "张氏诊所"}, "no-match:tag"),
    (
        13,
        {"leisure": "park", "access": "private", "name": "锦绣花园"},
        "exclude:park:osm:access=private",
    ),
    (14, {"leisure": "park", "name": "长风公园"}, {"park": "公园"}),
    (15, {"amenity": "school", "name": "市二高级中学"}, "exclude:middle_school:name~高级中学"),
    (
        16,
        {"amenity": "school", "isced:level": "2", "name": "育才初级中学"},
        {"middle_school": "中学"},
    ),
    (17, {"shop": "convenience", "name": "全家(铜川菜场店)"}, {"market": "便利店"}),
    (18, {"amenity": "veterinary", "name": "爱宠宠物医院"}, "no-match:tag"),
    (19, {"building": "yes", "name": "曹杨市民驿站"}, {"party_service": "市民驿站"}),
    (
        20,
        {"office": "employment_agency", "name": "锦程人力资源有限公司"},
        "exclude:employment:name~有限公司",
    ),
    (
        21,
        {"office": "government", "government": "tax", "name": "真如税务所"},
        "exclude:party_service:osm:government=tax",
    ),
    (22, {"amenity": "community_centre", "name": "长寿邻里汇"}, {"party_service": "邻里中心"}),
    (23, {"leisure": "fitness_centre", "name": "曹杨健身驿站"}, {"fitness": "健身驿站"}),
    (
        24,
        {"leisure": "swimming_pool", "access": "customers", "name": "某酒店游泳池"},
        "exclude:sports:osm:leisure=swimming_pool;access=customers",
    ),
    (25, {"public_transport": "platform", "name": "蓬莱公园"}, None),
    (26, {"amenity": "community_centre", "name": "兰溪路居委会"}, {"party_service": "居委会"}),
    (
        27,
        {"office": "government", "name": "曹杨新村街道社区事务受理服务中心"},
        {"party_service": "社区事务受理服务中心"},
    ),
]


def osm_xml() -> str:
    nodes = []
    for i, tags, _ in POIS:
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        nodes.append(
            f'  <node id="{i}" version="1" lat="{31.24 + 0.0002 * i:.4f}" '
            f'lon="{121.40 + 0.0002 * i:.4f}">{body}</node>'
        )
    # a street called 公园路 is a street, not a park
    nodes += [
        '  <node id="100" version="1" lat="31.2500" lon="121.4000"/>',
        '  <node id="101" version="1" lat="31.2500" lon="121.4100"/>',
        '  <way id="200" version="1"><nd ref="100"/><nd ref="101"/>'
        '<tag k="highway" v="residential"/><tag k="name" v="公园路"/></way>',
    ]
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"hand\">\n"
        + "\n".join(nodes)
        + "\n</osm>\n"
    )


@pytest.fixture
def osm_path(tmp_path) -> Path:
    path = tmp_path / "traps.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return path


def test_osm_traps(osm_path):
    fac = from_osm(osm_path)
    got: dict[int, dict[str, str] | str | None] = {}
    for fid, cat, ftype in zip(
        fac["facility_id"], fac["category"], fac["facility_type"], strict=True
    ):
        got.setdefault(int(fid.rsplit("/", 1)[1]), {})[cat] = ftype
    for u in fac.attrs["unmatched"]:
        got[int(u["facility_id"].rsplit("/", 1)[1])] = u["rule"]
    for i, tags, expected in POIS:
        assert got.get(i) == expected, (i, tags, got.get(i))
    assert 200 not in got  # the street
    assert fac.set_index("facility_id").loc["osm/node/4", "rule"] == "osm:amenity=canteen"
    assert fac.set_index("facility_id").loc["osm/node/19", "rule"] == "osm-name:市民驿站"
    n_left = sum(isinstance(e, str) for _, _, e in POIS)
    assert fac.attrs["records_read"] == len(fac) + n_left
    rep = classification_report(fac)
    assert len(rep.left_out) == n_left and rep.classified == len(fac)
    sus = rep.suspicious.set_index("name")
    assert (
        sus.loc["蓬莱公园", "classified_as"] == "bus" and sus.loc["蓬莱公园", "name_says"] == "park"
    )
    assert "长风公园店" not in sus.index  # a branch, not a park


def test_merge_carries_what_was_left_out(tmp_path, osm_path):
    osm = from_osm(osm_path)
    table = from_table(write(trap_frame(), tmp_path / "amap.csv"), coords="gcj02")
    fac = merge(osm, table)
    assert len(fac.attrs["unmatched"]) == len(osm.attrs["unmatched"]) + len(
        table.attrs["unmatched"]
    )
    assert {u["source"] for u in fac.attrs["unmatched"]} == {"osm", "table:amap.csv"}
    assert fac.attrs["records_read"] == osm.attrs["records_read"] + len(TRAPS)
    assert fac.attrs["profile"] == "shanghai-2025"
    rep = classification_report(fac)
    assert set(rep.left_out["source"]) == {"osm", "table:amap.csv"}
    assert rep.records == fac.attrs["records_read"]
    # filtering keeps the records (pandas copies attrs) without copying them one by one
    sub = fac[fac.category == "bus"]
    assert sub.attrs["unmatched"] is fac.attrs["unmatched"]
    # a table whose rows were all left out still reports them
    only = table[table.category == "nothing"]
    assert len(merge(only).attrs["unmatched"]) == len(table.attrs["unmatched"])


def test_report_to_frames_and_edge_cases(tmp_path):
    fac = from_table(write(trap_frame(), tmp_path / "amap.xlsx"), coords="gcj02")
    frames = classification_report(fac).to_frames()
    assert list(frames) == [
        "分类汇总 summary",
        "分类规则 by rule",
        "未归类 left out",
        "可疑 suspicious",
    ]
    for sheet, df in frames.items():
        assert len(sheet) <= 31
        assert all(" / " in c for c in df.columns), (sheet, list(df.columns))
    # a table made by hand: no left-out record, so say so; the profile must then be given
    plain = gpd.GeoDataFrame(
        {"facility_id": ["x/1"], "name": ["示例幼儿园"], "category": ["kindergarten"]},
        geometry=[shapely.Point(121.4, 31.24)],
        crs=4326,
    )
    with pytest.raises(InputError, match="pass profile="):
        classification_report(plain)
    rep = classification_report(plain, profile="shanghai-2025")
    assert rep.records is None and rep.classified == 1 and rep.left_out.empty
    assert any("attrs['unmatched'] is missing" in n for n in rep.notes)
    assert "读入 records: ?" in rep.summary()
    empty = classification_report(merge(), profile="gb50180-2018")
    assert empty.classified == 0 and (empty.by_category["rows"] == 0).all()


def test_outside_region_is_noted(tmp_path):
    df = trap_frame().head(3)
    df.loc[2, ["经度", "纬度"]] = [120.60, 31.30]  # Suzhou
    rep = classification_report(from_table(write(df, tmp_path / "t.csv"), coords="gcj02"))
    assert any("outside Shanghai" in n and "rows 4" in n for n in rep.notes)


def test_planner_adds_hospitals_back(tmp_path):
    path = tmp_path / "with_hospitals.toml"
    path.write_text(
        """extends = "shanghai-2025"
[profile]
id = "putuo-hospitals"
[[category]]
id = "health"
amap = [
  { types = ["医疗保健服务"], name_any = ["社区卫生服务中心"], type = "社区卫生服务中心" },
  { types = ["医疗保健服务;综合医院"], type = "医院" },
]
exclude = [ { codes = ["0907*"] } ]
""",
        encoding="utf-8",
    )
    d = explain_record("仁济医院", "医疗保健服务;综合医院;三级甲等医院", "090101", profile=path)
    assert d.hits == (("health", "医院", "amap-type:医疗保健服务;综合医院"),)
    pet = explain_record("爱宠宠物诊所", "医疗保健服务;动物医疗场所;宠物诊所", "090701", path)
    assert pet.rule == "exclude:health:amap-code:090701"
    fac = from_table(write(trap_frame(), tmp_path / "t.csv"), coords="gcj02", profile=path)
    rep = classification_report(fac)  # the profile is found again from attrs
    assert rep.profile == "putuo-hospitals"


# ------------------------------------------------------------------ CLI
def test_cli_facilities_check(tmp_path, capsys):
    path = write(trap_frame(), tmp_path / "amap_gbk.csv")
    assert main(["facilities", "check", str(path), "--coords", "gcj02", "--rows", "100"]) == 0
    out = capsys.readouterr().out
    assert "设施分类检查 Facility classification check" in out
    assert f"读入 records: {len(TRAPS)}" in out and "amap_gbk.csv" in out
    assert "exclude:health:amap-code:090701" in out and "爱宠宠物诊所" in out
    assert "可疑 suspicious" in out and "桃浦镇社区卫生服务中心" in out
    assert (
        main(["facilities", "check", str(path), "--coords", "gcj02", "--profile", "gb50180-2018"])
        == 0
    )
    assert "gb50180-2018" in capsys.readouterr().out


def test_cli_facilities_check_osm(osm_path, capsys):
    assert main(["facilities", "check", str(osm_path)]) == 0
    out = capsys.readouterr().out
    assert "osm:amenity=canteen" in out and "no-match:tag" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["none.csv"], "does not exist"),
        (["t.csv", "--coords", "gcj"], "coordinate system 'gcj'"),
        (["t.csv", "--profile", "shanghai-2099"], "unknown profile"),
        (["t.dbf"], "unknown table type"),
        (["nocoords.csv"], "no lon and no lat column"),
    ],
)
def test_cli_facilities_check_bad_input(tmp_path, capsys, monkeypatch, args, needle):
    write(trap_frame().head(2), tmp_path / "t.csv")
    (tmp_path / "t.dbf").write_bytes(b"x")
    write(trap_frame().head(2).drop(columns=["经度", "纬度"]), tmp_path / "nocoords.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["facilities", "check", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_lc_namespace():
    assert lc.facilities.classification_report is classification_report
