"""Tests of lifecircle_geo.facilities: OSM and table readers, matching rules, merging."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo import crs
from lifecircle_geo.errors import InputError
from lifecircle_geo.facilities import (
    COLUMNS,
    classify_record,
    from_osm,
    from_table,
    merge,
    name_similarity_score,
)
from lifecircle_geo.standards import load_profile

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
XLSX = SAMPLE / "facilities_gcj02.xlsx"
CONTRACT = [*COLUMNS, "geometry", "entrances"]


@pytest.fixture(scope="module")
def net() -> lc.WalkNetwork:
    return lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")


@pytest.fixture(scope="module")
def sample_table() -> pd.DataFrame:
    return pd.read_excel(XLSX, dtype={"经度": float, "纬度": float})


def check_contract(gdf: gpd.GeoDataFrame) -> None:
    assert list(gdf.columns[: len(CONTRACT)]) == CONTRACT or set(CONTRACT) <= set(gdf.columns)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["rule"].astype(bool).all(), "every facility records the rule that matched"
    for e in gdf["entrances"]:
        assert e is None or e.geom_type == "MultiPoint"


# ---------------------------------------------------------------------- OSM
def test_from_osm_sample():
    fac = from_osm(SAMPLE / "sample.osm")
    check_contract(fac)
    assert len(fac) == 48 and fac["facility_id"].is_unique
    counts = fac["category"].value_counts()
    assert counts["bus"] == 8 and counts["kindergarten"] == 4 and counts["pharmacy"] == 4
    assert counts["market"] == 9  # 1 marketplace + 2 supermarkets + 6 convenience stores
    assert fac.attrs["unmatched"] == []
    health = fac[fac.category == "health"].iloc[0]
    assert (health["facility_type"], health["rule"]) == (
        "社区卫生服务中心",
        "osm:amenity=clinic;name~社区卫生服务中心",
    )
    parks = fac[fac.category == "park"]
    assert set(parks.geometry.geom_type) == {"Polygon"}
    assert all(e is not None and len(e.geoms) == 4 for e in parks["entrances"])


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand">
  <node id="1" version="1" lat="31.2400" lon="121.4000"/>
  <node id="2" version="1" lat="31.2400" lon="121.4040"/>
  <node id="3" version="1" lat="31.2430" lon="121.4040"/>
  <node id="4" version="1" lat="31.2430" lon="121.4000"/>
  <node id="5" version="1" lat="31.2410" lon="121.4010"/>
  <node id="6" version="1" lat="31.2410" lon="121.4020"/>
  <node id="7" version="1" lat="31.2420" lon="121.4020"/>
  <node id="8" version="1" lat="31.2420" lon="121.4010"/>
  <node id="9" version="1" lat="31.2400" lon="121.4020"><tag k="entrance" v="main"/></node>
  <node id="10" version="1" lat="31.2450" lon="121.4050">
    <tag k="amenity" v="bank"/><tag k="name" v="示例银行"/></node>
  <node id="11" version="1" lat="31.2451" lon="121.4060">
    <tag k="building" v="yes"/><tag k="name" v="星河社区食堂"/></node>
  <node id="19" version="1" lat="31.2452" lon="121.4061">
    <tag k="office" v="ngo"/><tag k="name" v="云栖社区食堂"/></node>
  <node id="12" version="1" lat="31.2460" lon="121.4000"/>
  <node id="13" version="1" lat="31.2460" lon="121.4030"/>
  <node id="14" version="1" lat="31.2470" lon="121.4000"/>
  <node id="15" version="1" lat="31.2470" lon="121.4010"/>
  <node id="16" version="1" lat="31.2478" lon="121.4010"/>
  <node id="17" version="1" lat="31.2478" lon="121.4000"/>
  <node id="18" version="1" lat="31.2455" lon="121.4070">
    <tag k="amenity" v="community_centre"/><tag k="name" v="示例街道人民坊"/></node>
  <way id="100" version="1"><nd ref="1"/><nd ref="9"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>
    <nd ref="1"/></way>
  <way id="101" version="1"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
  </way>
  <way id="102" version="1"><nd ref="12"/><nd ref="13"/>
    <tag k="leisure" v="fitness_station"/><tag k="name" v="滨河健身步道"/></way>
  <way id="103" version="1"><nd ref="14"/><nd ref="15"/><nd ref="16"/><nd ref="17"/>
    <nd ref="14"/><tag k="amenity" v="kindergarten"/><tag k="name" v="示例幼儿园"/></way>
  <relation id="200" version="1">
    <member type="way" ref="100" role="outer"/>
    <member type="way" ref="101" role="inner"/>
    <tag k="type" v="multipolygon"/><tag k="leisure" v="park"/><tag k="name" v="示例湿地公园"/>
  </relation>
</osm>
"""


def test_from_osm_nodes_ways_and_multipolygon_relations(tmp_path, caplog):
    path = tmp_path / "hand.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = from_osm(path)
    check_contract(fac)
    by_id = fac.set_index("facility_id")
    park = by_id.loc["osm/relation/200"]
    assert park["category"] == "park" and park["name"] == "示例湿地公园"
    assert park.geometry.geom_type == "Polygon" and len(park.geometry.interiors) == 1
    expected = shapely.Polygon(
        [(121.4, 31.24), (121.404, 31.24), (121.404, 31.243), (121.4, 31.243)],
        [[(121.401, 31.241), (121.402, 31.241), (121.402, 31.242), (121.401, 31.242)]],
    )
    assert park.geometry.symmetric_difference(expected).area < 1e-12
    assert park["entrances"] is not None
    assert list(park["entrances"].geoms) == [shapely.Point(121.402, 31.24)]
    kg = by_id.loc["osm/way/103"]
    assert kg["category"] == "kindergarten" and kg.geometry.geom_type == "Polygon"
    assert kg["entrances"] is None
    walk = by_id.loc["osm/way/102"]
    assert walk["category"] == "fitness" and walk.geometry.geom_type == "LineString"
    canteen = by_id.loc["osm/node/11"]
    assert (canteen["category"], canteen["rule"]) == ("dining", "osm-name:社区食堂")
    hub = by_id.loc["osm/node/18"]
    assert (hub["category"], hub["facility_type"]) == ("party_service", "党群服务中心")
    # the bank matches nothing: reported, not silently dropped; an NGO office is an office
    # whatever its name says (a primary tag no rule takes is never overridden by the name)
    tag_reason = "matches no category (the name is not used when a tag says what the feature is)"
    assert fac.attrs["unmatched"] == [
        {
            "facility_id": "osm/node/10",
            "name": "示例银行",
            "tag": "amenity=bank",
            "reason": f"amenity=bank {tag_reason}",
            "rule": "no-match:tag",
            "source": "osm",
        },
        {
            "facility_id": "osm/node/19",
            "name": "云栖社区食堂",
            "tag": "office=ngo",
            "reason": f"office=ngo {tag_reason}",
            "rule": "no-match:tag",
            "source": "osm",
        },
    ]
    assert fac.attrs["unmatched_by_tag"] == {"amenity=bank": 1, "office=ngo": 1}
    assert fac.attrs["records_read"] == 7
    assert any(
        "osm/node/10" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


def test_from_osm_bad_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        from_osm(tmp_path / "none.osm")


# ---------------------------------------------------------------------- matching
@pytest.mark.parametrize(
    "name, type_text, code, expected",
    [
        (
            "示例社区卫生服务站",
            "医疗保健服务;诊所;诊所",
            "090300",
            [("health", "amap-type:医疗保健服务;name~社区卫生服务站")],
        ),
        ("示例诊所", "医疗保健服务;诊所", "090300|090100", []),  # a private clinic
        ("示例", "", "090601", [("pharmacy", "amap-code:090601")]),
        (
            "示例社区卫生服务中心",
            "090100|060200",
            "",
            [
                ("health", "amap-type:医疗保健服务;name~社区卫生服务中心"),
                ("market", "amap-code:060200"),
            ],
        ),
        ("示例", "090100|060200", "", [("market", "amap-code:060200")]),
        (
            "示例",
            "科教文化服务;学校;幼儿园|科教文化服务;学校;小学",
            "",
            [
                ("kindergarten", "amap-type:科教文化服务;幼儿园"),
                ("primary_school", "amap-type:科教文化服务;小学"),
            ],
        ),
        ("云栖宝宝屋", "宝宝屋", "", [("childcare", "type:宝宝屋")]),
        ("示例长者照护之家", "", "", [("elderly_care", "name:长者照护")]),
        ("示例街道六艺亭", "", "", [("party_service", "name:六艺亭")]),
        ("示例银行", "金融保险服务;银行", "160100", []),
    ],
)
def test_classify_record(name, type_text, code, expected):
    hits = classify_record(name, type_text, code, load_profile("shanghai-2025"))
    assert [(h[0], h[2]) for h in hits] == expected


def test_type_match_wins_over_name():
    prof = load_profile("shanghai-2025")
    hits = classify_record("示例公园幼儿园", "幼儿园", "", prof)
    assert [h[0] for h in hits] == ["kindergarten"]


# ---------------------------------------------------------------------- tables
def test_from_table_sample_gcj02(sample_table):
    fac = from_table(XLSX, coords="gcj02")
    check_contract(fac)
    assert len(fac) == 13 and fac.attrs["unmatched"] == []
    assert fac.attrs["coords"] == "gcj02" and fac.attrs["encoding"] is None
    assert fac.attrs["columns"]["lon"] == "经度" and fac.attrs["columns"]["address"] == "地址"
    lon, lat = crs.gcj02_to_wgs84(sample_table["经度"].to_numpy(), sample_table["纬度"].to_numpy())
    np.testing.assert_allclose(fac.geometry.x, lon, atol=1e-12)
    np.testing.assert_allclose(fac.geometry.y, lat, atol=1e-12)
    assert fac["facility_id"].tolist()[0] == "facilities_gcj02/row2"
    assert (fac["source"] == "table:facilities_gcj02.xlsx").all()


def test_gbk_bom_and_xlsx_load_identically(tmp_path, sample_table, caplog):
    gbk, bom, utf8 = tmp_path / "t_gbk.csv", tmp_path / "t_bom.csv", tmp_path / "t_utf8.csv"
    xlsx = tmp_path / "t.xlsx"
    sample_table.to_csv(gbk, index=False, encoding="gbk")
    sample_table.to_csv(bom, index=False, encoding="utf-8-sig")
    sample_table.to_csv(utf8, index=False, encoding="utf-8")
    sample_table.to_excel(xlsx, index=False)
    assert gbk.read_bytes() != bom.read_bytes()[3:]  # really different bytes
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        out = {p.name: from_table(p, coords="gcj02") for p in (gbk, bom, utf8, xlsx)}
    assert out["t_gbk.csv"].attrs["encoding"] == "GBK"
    assert out["t_bom.csv"].attrs["encoding"] == "UTF-8 with BOM"
    assert out["t_utf8.csv"].attrs["encoding"] == "UTF-8"
    assert out["t.xlsx"].attrs["encoding"] is None
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "t_gbk.csv: read as GBK" in said and "t_bom.csv: read as UTF-8 with BOM" in said
    ref = out["t.xlsx"]
    for name, fac in out.items():
        assert len(fac) == len(ref) == 13, name
        cols = ["name", "category", "facility_type", "rule"]
        assert fac[cols].values.tolist() == ref[cols].values.tolist(), name
        np.testing.assert_allclose(fac.geometry.x, ref.geometry.x, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fac.geometry.y, ref.geometry.y, rtol=0, atol=1e-12)


def test_gb18030_only_characters(tmp_path):
    df = pd.DataFrame(
        {"名称": ["𠀀记社区食堂", "示例幼儿园"], "经度": [121.40, 121.41], "纬度": [31.24, 31.241]}
    )
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, encoding="gb18030")
    with pytest.raises(UnicodeEncodeError):
        "𠀀".encode("gbk")
    fac = from_table(path)
    assert fac.attrs["encoding"] == "GB18030"
    assert fac["name"].tolist() == ["𠀀记社区食堂", "示例幼儿园"]


def test_amap_typecodes_column_and_header_variants(tmp_path):
    df = pd.DataFrame(
        {
            "name": ["示例社区卫生服务站", "示例店", "星河小学"],
            "typecode": ["090300|090601", "060200", ""],
            "type": [
                "医疗保健服务;诊所|医疗保健服务;药店",
                "购物服务;便利店",
                "科教文化服务;学校;小学",
            ],
            "location": ["121.40,31.24", "121.401, 31.241", "121.402，31.242"],
            "capacity": ["", "", "1,200"],
        }
    )
    path = tmp_path / "amap.csv"
    df.to_csv(path, index=False)
    fac = from_table(path, coords="gcj02")
    assert fac[["name", "category", "rule"]].values.tolist() == [
        ["示例社区卫生服务站", "health", "amap-type:医疗保健服务;name~社区卫生服务站"],
        ["示例社区卫生服务站", "pharmacy", "amap-code:090601"],
        ["示例店", "market", "amap-code:060200"],
        ["星河小学", "primary_school", "amap-type:科教文化服务;小学"],
    ]
    assert fac["capacity"].iloc[-1] == 1200
    lon, lat = crs.gcj02_to_wgs84(121.401, 31.241)
    assert abs(fac.geometry.x.iloc[2] - lon) < 1e-12 and abs(fac.geometry.y.iloc[2] - lat) < 1e-12


def test_column_mapping_override_and_prefixed_headers(tmp_path):
    df = pd.DataFrame(
        {
            "设施": ["示例幼儿园"],
            "X坐标": [121.40],
            "Y坐标": [31.24],
            "名称(全称)": ["不用"],
            "经度（GCJ02）": [1.0],
            "纬度（GCJ02）": [2.0],
        }
    )
    path = tmp_path / "t.xlsx"
    df.to_excel(path, index=False)
    fac = from_table(path, columns={"name": "设施", "lon": "X坐标", "lat": "Y坐标"})
    assert fac["name"].tolist() == ["示例幼儿园"] and fac.geometry.x.iloc[0] == 121.40
    df2 = pd.DataFrame(
        {"名称 Name": ["示例幼儿园"], "经度（GCJ02）": [121.40], "纬度（GCJ02）": [31.24]}
    )
    df2.to_excel(path, index=False)
    fac2 = from_table(path, coords="gcj02")
    assert fac2.attrs["columns"] == {
        "name": "名称 Name",
        "lon": "经度（GCJ02）",
        "lat": "纬度（GCJ02）",
    }
    with pytest.raises(InputError, match="'不存在'"):
        from_table(path, columns={"name": "不存在"})
    with pytest.raises(InputError, match="unknown column mapping"):
        from_table(path, columns={"nmae": "名称 Name"})


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_gis_files(tmp_path, sample_table, suffix):
    g = gpd.GeoDataFrame(
        {"name": sample_table["名称"], "type": sample_table["类型"]},
        geometry=gpd.points_from_xy(sample_table["经度"], sample_table["纬度"]),
        crs=4326,
    )
    path = tmp_path / f"t{suffix}"
    g.to_file(path, encoding="utf-8") if suffix == ".shp" else g.to_file(path)
    fac = from_table(path, coords="gcj02")
    ref = from_table(XLSX, coords="gcj02")
    assert fac[["name", "category"]].values.tolist() == ref[["name", "category"]].values.tolist()
    np.testing.assert_allclose(fac.geometry.x, ref.geometry.x, atol=1e-9)
    np.testing.assert_allclose(fac.geometry.y, ref.geometry.y, atol=1e-9)
    assert fac["facility_id"].iloc[0] == "t/feature1"


def test_gis_polygons_keep_their_shape_and_projected_files(tmp_path):
    sq = shapely.box(121.400, 31.240, 121.402, 31.242)
    g = gpd.GeoDataFrame({"名称": ["示例口袋公园"], "类型": ["公园"]}, geometry=[sq], crs=4326)
    path = tmp_path / "parks.gpkg"
    g.to_file(path)
    fac = from_table(path, coords="gcj02")
    assert fac.geometry.iloc[0].geom_type == "Polygon"
    assert fac.geometry.iloc[0].equals_exact(crs.convert_geometry(sq, "gcj02", "wgs84"), 1e-12)
    g.to_crs(32651).to_file(tmp_path / "utm.gpkg")
    fac2 = from_table(tmp_path / "utm.gpkg")
    assert fac2.geometry.iloc[0].equals_exact(sq, 1e-7)
    with pytest.raises(InputError, match="projected CRS"):
        from_table(tmp_path / "utm.gpkg", coords="gcj02")


def test_unmatched_rows_are_counted_and_logged(tmp_path, caplog):
    df = pd.DataFrame(
        {
            "名称": ["示例幼儿园", "示例银行", "示例洗衣店"],
            "类型": ["幼儿园", "银行", ""],
            "经度": [121.40] * 3,
            "纬度": [31.24] * 3,
        }
    )
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = from_table(path)
    assert len(fac) == 1
    assert fac.attrs["unmatched"] == [
        {
            "row": 3,
            "facility_id": "t/row3",
            "name": "示例银行",
            "type": "银行",
            "typecode": "",
            "reason": "type 银行 matches no category (the name is not used when there is a type)",
            "rule": "no-match:type",
            "source": "table:t.csv",
            "lon": 121.4,
            "lat": 31.24,
        },
        {
            "row": 4,
            "facility_id": "t/row4",
            "name": "示例洗衣店",
            "type": "",
            "typecode": "",
            "reason": "no type, and the name matches no category",
            "rule": "no-match:name",
            "source": "table:t.csv",
            "lon": 121.4,
            "lat": 31.24,
        },
    ]
    assert fac.attrs["records_read"] == 3
    msg = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "2 row(s) matched no category of shanghai-2025 or were excluded" in msg
    assert "no-match:type 1" in msg and "[3, 4]" in msg


# ---------------------------------------------------------------------- the offset trap
def test_table_read_as_wgs84_warns_gcj02(net, caplog):
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = from_table(XLSX, net=net)  # the table is GCJ-02 but said nothing
    check = fac.attrs["offset_check"]
    assert check["warn"] and check["likely"] == "gcj02" and check["labelled"] == "wgs84"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "look like GCJ-02" in m
        and "WGS-84 65 m" in m
        and "GCJ-02 25 m" in m
        and "coords='gcj02'" in m
        for m in warned
    ), warned


def test_table_read_correctly_is_quiet(net, caplog):
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = from_table(XLSX, coords="gcj02", net=net)
    assert not fac.attrs["offset_check"]["warn"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_bd09_table_read_as_wgs84_warns_bd09(tmp_path, net, sample_table, caplog):
    lon, lat = crs.gcj02_to_wgs84(sample_table["经度"].to_numpy(), sample_table["纬度"].to_numpy())
    bd = sample_table.copy()
    bd["经度"], bd["纬度"] = crs.wgs84_to_bd09(lon, lat)
    path = tmp_path / "baidu.xlsx"
    bd.to_excel(path, index=False)
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        wrong = from_table(path, net=net)
    assert wrong.attrs["offset_check"]["likely"] == "bd09" and wrong.attrs["offset_check"]["warn"]
    assert any("look like BD-09" in r.getMessage() for r in caplog.records)
    caplog.clear()
    right = from_table(path, coords="bd09", net=net)
    assert not right.attrs["offset_check"]["warn"]
    np.testing.assert_allclose(right.geometry.x, lon, atol=1e-9)
    np.testing.assert_allclose(right.geometry.y, lat, atol=1e-9)


# ---------------------------------------------------------------------- bad input
def write_csv(tmp_path: Path, df: pd.DataFrame, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_missing_coordinate_columns(tmp_path):
    path = write_csv(tmp_path, pd.DataFrame({"名称": ["示例幼儿园"], "地址": ["示例路1号"]}))
    with pytest.raises(InputError) as exc:
        from_table(path)
    msg = str(exc.value)
    assert "no lon and no lat column" in msg and "经度" in msg and "['名称', '地址']" in msg


def test_non_numeric_coordinates_name_rows(tmp_path):
    df = pd.DataFrame(
        {
            "名称": ["示例幼儿园", "示例小学", "示例中学", "示例公园"],
            "经度": ["121.40", "121.4l", "", "121.41"],
            "纬度": ["31.24", "31.24", "31.25", "北纬31度"],
        }
    )
    with pytest.raises(InputError) as exc:
        from_table(write_csv(tmp_path, df))
    msg = str(exc.value)
    assert "3 row(s)" in msg and "row 3: '121.4l'" in msg and "row 4: ''" in msg
    assert "row 5" in msg and "'北纬31度'" in msg


def test_full_width_digits_and_degree_signs_are_read(tmp_path):
    df = pd.DataFrame({"名称": ["示例幼儿园"], "经度": ["１２１.４０°"], "纬度": [" 31.24 "]})
    fac = from_table(write_csv(tmp_path, df))
    assert (fac.geometry.x.iloc[0], fac.geometry.y.iloc[0]) == (121.40, 31.24)


def test_points_outside_shanghai_warn_with_rows(tmp_path, caplog):
    df = pd.DataFrame(
        {
            "名称": ["示例幼儿园", "北京幼儿园", "苏州幼儿园"],
            "经度": [121.40, 116.40, 120.60],
            "纬度": [31.24, 39.90, 31.30],
        }
    )
    path = write_csv(tmp_path, df)
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = from_table(path)
    assert len(fac) == 3 and fac.attrs["outside_region"] == [3, 4]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("2 row(s) lie outside Shanghai" in m and "[3, 4]" in m for m in warned), warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        national = from_table(path, profile="gb50180-2018")  # no Shanghai check
    assert national.attrs["outside_region"] == []
    assert not [r for r in caplog.records if "outside" in r.getMessage()]


def test_swapped_and_out_of_range_coordinates(tmp_path):
    df = pd.DataFrame(
        {"名称": ["示例幼儿园", "示例小学"], "经度": [121.40, 31.24], "纬度": [31.24, 121.40]}
    )
    with pytest.raises(InputError, match=r"look swapped in rows \[3\]"):
        from_table(write_csv(tmp_path, df))
    df = pd.DataFrame({"名称": ["示例幼儿园"], "经度": [353000.0], "纬度": [3456000.0]})
    with pytest.raises(InputError, match=r"out of range.*rows \[2\]"):
        from_table(write_csv(tmp_path, df))


def test_duplicate_ids_name_rows(tmp_path):
    df = pd.DataFrame(
        {
            "编号": ["A1", "A2", "A1", "A3", "A2"],
            "名称": ["示例幼儿园"] * 5,
            "经度": [121.40] * 5,
            "纬度": [31.24] * 5,
        }
    )
    with pytest.raises(InputError) as exc:
        from_table(write_csv(tmp_path, df))
    msg = str(exc.value)
    assert "2 duplicate id(s) in column '编号'" in msg
    assert "'A1' in rows 2, 4" in msg and "'A2' in rows 3, 6" in msg


def test_other_bad_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        from_table(tmp_path / "none.csv")
    (tmp_path / "t.dbf").write_bytes(b"x")
    with pytest.raises(InputError, match="unknown table type"):
        from_table(tmp_path / "t.dbf")
    path = write_csv(
        tmp_path, pd.DataFrame({"名称": ["示例幼儿园"], "经度": [121.4], "纬度": [31.2]})
    )
    with pytest.raises(InputError, match="coordinate system 'gcj'"):
        from_table(path, coords="gcj")
    only = write_csv(
        tmp_path,
        pd.DataFrame({"地址": ["示例路1号"], "经度": [121.4], "纬度": [31.2]}),
        "noname.csv",
    )
    with pytest.raises(InputError, match="no name"):
        from_table(only)
    (tmp_path / "garbage.csv").write_bytes("名称,经度,纬度\n".encode("utf-16-le")[:7] + b"\xff\xfe")
    with pytest.raises(InputError, match="not readable"):
        from_table(tmp_path / "garbage.csv")


# ---------------------------------------------------------------------- merging
def fac_table(rows: list[tuple], source: str) -> gpd.GeoDataFrame:
    df = pd.DataFrame(
        rows, columns=["facility_id", "name", "category", "facility_type", "lon", "lat", "capacity"]
    )
    g = gpd.GeoDataFrame(
        df.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326
    )
    g["source"], g["rule"], g["entrances"] = source, "test", None
    g.attrs["sources"] = [source]
    return g[[*COLUMNS, "geometry", "entrances"]]


M = 1 / 111_000  # about a metre of latitude, in degrees


def test_merge_hand_case():
    osm = fac_table(
        [
            ("osm/node/1", "桂香幼儿园", "kindergarten", "幼儿园", 121.40, 31.24, np.nan),
            (
                "osm/node/2",
                "示例街道社区卫生服务中心",
                "health",
                "社区卫生服务站",
                121.41,
                31.24,
                np.nan,
            ),
            ("osm/node/3", "禾苗幼儿园", "kindergarten", "幼儿园", 121.42, 31.24, np.nan),
            ("osm/node/4", "", "bus", "公交站", 121.43, 31.24, np.nan),
            ("osm/node/5", "望川幼儿园", "kindergarten", "幼儿园", 121.44, 31.24, np.nan),
        ],
        "osm",
    )
    table = fac_table(
        [
            # 30 m away, a longer name: the same kindergarten; its capacity is kept
            ("t/row2", "桂香幼儿园(东园)", "kindergarten", "幼儿园", 121.40, 31.24 + 30 * M, 180.0),
            # types differ only in wording, names alike: the same health centre
            (
                "t/row3",
                "示例社区卫生服务中心",
                "health",
                "社区卫生服务中心",
                121.41,
                31.24 + 20 * M,
                np.nan,
            ),
            # 20 m away but another name: a different kindergarten
            ("t/row4", "望川幼儿园", "kindergarten", "幼儿园", 121.42, 31.24 + 20 * M, np.nan),
            # no name on one side: distance alone decides
            ("t/row5", "锦云路禾苗路", "bus", "公交站", 121.43, 31.24 + 10 * M, np.nan),
            # the same name 200 m away: a different place
            ("t/row6", "望川幼儿园", "kindergarten", "幼儿园", 121.44, 31.24 + 200 * M, np.nan),
            # same place, another category: not a duplicate
            ("t/row7", "桂香药房", "pharmacy", "药店", 121.40, 31.24, np.nan),
        ],
        "table:facilities.xlsx",
    )
    out = merge(osm, table)
    check_contract(out)
    assert out.attrs["merge"]["merged"] == 3 and len(out) == 8
    by_id = out.set_index("facility_id")
    kg = by_id.loc["osm/node/1"]
    assert kg["sources"] == "osm;table:facilities.xlsx" and kg["duplicates"] == 1
    assert kg["merged_ids"] == "osm/node/1;t/row2" and kg["capacity"] == 180.0
    assert kg["name"] == "桂香幼儿园"
    assert by_id.loc["osm/node/2", "duplicates"] == 1
    bus = by_id.loc["osm/node/4"]
    assert bus["duplicates"] == 1 and bus["name"] == "锦云路禾苗路"  # name taken from the dup
    assert {"t/row4", "t/row6", "t/row7"} <= set(out["facility_id"])
    assert by_id.loc["osm/node/3", "duplicates"] == 0
    assert by_id.loc["t/row4", "sources"] == "table:facilities.xlsx"
    assert out.attrs["sources"] == ["osm", "table:facilities.xlsx"]
    # configurable: stricter names, no type matching, no dedupe at all
    assert merge(osm, table, name_similarity=1.01).attrs["merge"]["merged"] == 1  # bus only
    assert merge(osm, table, match_type=False).attrs["merge"]["merged"] == 3
    assert merge(osm, table, dedupe_m=5).attrs["merge"]["merged"] == 0
    plain = merge(osm, table, dedupe_m=None)
    assert len(plain) == 11 and (plain["duplicates"] == 0).all()


def test_merge_prefers_polygons_and_within_source():
    park = gpd.GeoDataFrame(
        {
            "facility_id": ["osm/way/9"],
            "name": ["示例公园"],
            "category": ["park"],
            "facility_type": ["公园"],
            "source": ["osm"],
            "rule": ["t"],
            "capacity": [np.nan],
            "entrances": [shapely.MultiPoint([(121.4, 31.24)])],
        },
        geometry=[shapely.box(121.4, 31.24, 121.402, 31.242)],
        crs=4326,
    )
    node = fac_table([("osm/node/8", "示例公园", "park", "公园", 121.401, 31.241, np.nan)], "osm")
    out = merge(node, park)
    assert len(out) == 1 and out["facility_id"].iloc[0] == "osm/way/9"
    assert (
        out["entrances"].iloc[0] is not None and out["merged_ids"].iloc[0] == "osm/way/9;osm/node/8"
    )
    assert len(merge(node, park, within_source=False)) == 2


def test_merge_sample_osm_and_table_keeps_everything():
    osm = from_osm(SAMPLE / "sample.osm")
    table = from_table(XLSX, coords="gcj02")
    out = merge(osm, table)
    check_contract(out)
    assert len(out) == len(osm) + len(table)  # the sample's table adds new facilities only
    assert merge().empty and merge(None, osm.iloc[:0]).empty


def test_name_similarity_score():
    assert name_similarity_score("示例公园", "示例 公园") == 1.0
    assert name_similarity_score(None, "示例公园") is None
    assert name_similarity_score("星河社区食堂", "社区食堂", ["社区食堂"]) == 1.0
    assert name_similarity_score("示例便利(松鹤路店)", "示例便利(星河路店)") < 0.5
    assert name_similarity_score("Central Park", "central park") == 1.0
