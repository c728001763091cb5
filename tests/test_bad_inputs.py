"""Bad input, faults and hostile text: the cases of ``tests/BAD_INPUTS.md`` that live here.

Every input is generated in the test (tiny OSM files, tables, workbooks, arrays). Each case
checks that the answer is the library's own error naming what was wrong and where, or a
correct result with what was done said in the log; never a foreign traceback or a silently
different result. The catalogue lists these cases by id (``N1``, ``O3``, ...) with the cases
checked by tests elsewhere.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.cli import check_out_folder, main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai

# ---------------------------------------------------------------- tiny OSM files
NODES = {
    1: (121.400, 31.240),
    2: (121.401, 31.240),
    3: (121.402, 31.240),
    4: (121.402, 31.241),
}
WAYS = [(101, [1, 2, 3], {"highway": "residential"}), (102, [3, 4], {"highway": "footway"})]


def osm_text(nodes: dict = NODES, ways: list = WAYS, extra_nodes: str = "") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lon, lat) in nodes.items():
        lines.append(f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>')
    if extra_nodes:
        lines.append(extra_nodes)
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    return "\n".join(lines)


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# ------------------------------------------------------------- N: network arrays
def _arrays(**change):
    base = {
        "x": [0.0, 100.0, 200.0],
        "y": [0.0, 0.0, 0.0],
        "u": [0, 1],
        "v": [1, 2],
        "length_m": [100.0, 100.0],
    }
    extra = {k: change.pop(k) for k in ("cost_m", "kind") if k in change}
    base.update(change)
    return base, extra


@pytest.mark.parametrize(
    ("case", "change", "needle"),
    [
        ("N1", {"x": [0.0, np.nan, 200.0]}, r"x_m must be finite; 1 of 3 node value\(s\).*node 1"),
        ("N2", {"y": [0.0, 0.0, np.inf]}, r"y_m must be finite; 1 of 3 .*node 2: inf"),
        ("N3", {"length_m": [np.nan, 100.0]}, r"length_m must be finite and >= 0.*edge 0: nan"),
        ("N4", {"length_m": [100.0, -1.0]}, r"length_m must be finite and >= 0.*edge 1: -1\.0"),
        ("N5", {"length_m": [np.inf, 100.0]}, r"length_m must be finite and >= 0"),
        ("N6", {"cost_m": [100.0, -5.0]}, r"cost_m must be finite and >= 0; 1 of 2.*edge 1"),
        ("N7", {"cost_m": [np.nan, np.nan]}, r"cost_m .* 2 of 2 edge value\(s\)"),
        ("N8", {"cost_m": [np.inf, 1.0]}, r"cost_m must be finite"),
        ("N9", {"u": [0, 7]}, r"node positions in 0\.\.2"),
        ("N10", {"length_m": [100.0]}, r"one value per edge"),
        ("N11", {"x": ["a", "b", "c"]}, r"x_m must hold numbers"),
        ("N12", {"kind": ["walk", "tram"]}, r"unknown edge kind"),
        ("N13", {"cost_m": [1.0]}, r"cost_m must have one value per edge"),
    ],
)
def test_network_arrays_are_checked_at_the_door(case, change, needle):
    base, extra = _arrays(**change)
    with pytest.raises(lc.InputError, match=needle):
        lc.WalkNetwork.from_arrays(**base, crs=32651, **extra)


def test_network_arrays_many_bad_values_are_counted():
    """N14: counts and the first positions, not every value."""
    x = np.zeros(100)
    x[[3, 50, 51, 52, 60, 70, 99]] = np.nan
    u = np.arange(99)
    with pytest.raises(lc.InputError, match=r"7 of 100 node value\(s\).*node 3: nan.*and 2 more"):
        lc.WalkNetwork.from_arrays(x, np.zeros(100), u, u + 1, np.ones(99), crs=32651)


def test_network_geographic_crs_is_refused():
    """N15: degrees are not metres."""
    with pytest.raises(lc.InputError, match="projected"):
        lc.WalkNetwork.from_arrays([0, 1], [0, 0], [0], [1], [1.0], crs=4326)


def test_negative_cost_can_no_longer_reach_the_search():
    """N16: issue 12 item 9 (std::bad_alloc): a negative cost stops before any search."""
    with pytest.raises(lc.InputError, match="cost_m"):
        lc.WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651, cost_m=[-100.0])


# ------------------------------------------------------------------ O: OSM files
def _bad_coordinate(tmp_path, lat):
    nodes = dict(NODES)
    nodes[2] = (121.401, lat)
    return write(tmp_path / "bad.osm", osm_text(nodes))


@pytest.mark.parametrize(
    ("case", "lat", "needle"),
    [
        ("O1", "1000", r"bad\.osm: node 2 has lat='1000', not a coordinate"),
        ("O2", "abc", r"bad\.osm: node 2 has lat='abc'"),
        ("O3", "95", r"bad\.osm: node 2 \(in way 101\) has lon=121\.401, lat=95, outside"),
        ("O4", "-91", r"bad\.osm: node 2 \(in way 101\).*lat=-91"),
    ],
)
def test_osm_coordinates_name_the_file_and_node(tmp_path, case, lat, needle):
    with pytest.raises(lc.NetworkError, match=needle):
        lc.WalkNetwork.from_osm(_bad_coordinate(tmp_path, lat))


def test_osm_longitude_out_of_range(tmp_path):
    """O5."""
    nodes = dict(NODES)
    nodes[3] = (200.0, 31.24)
    with pytest.raises(lc.NetworkError, match=r"node 3 .*lon=200"):
        lc.WalkNetwork.from_osm(write(tmp_path / "lon.osm", osm_text(nodes)))


def test_duplicate_node_ids_at_different_places_are_refused(tmp_path):
    """O6: issue 12 item 8 (8.2 km → 51.6 km silently)."""
    twin = '<node id="2" version="1" lat="31.300" lon="121.500"/>'
    p = write(tmp_path / "dup.osm", osm_text(extra_nodes=twin))
    with pytest.raises(
        lc.NetworkError,
        match=r"dup\.osm: 1 node id\(s\) defined more than once at different places: node 2 "
        r"at \(121\.401, 31\.24\) and \(121\.5, 31\.3\)",
    ):
        lc.WalkNetwork.from_osm(p)


def test_duplicate_node_ids_at_the_same_place_are_one_node(tmp_path, caplog):
    """O7: the documented rule: an exact repeat (extracts concatenated) is one node, said once."""
    twin = '<node id="2" version="1" lat="31.24" lon="121.401"/>'
    p = write(tmp_path / "twice.osm", osm_text(extra_nodes=twin))
    ref = lc.WalkNetwork.from_osm(write(tmp_path / "once.osm", osm_text()))
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        net = lc.WalkNetwork.from_osm(p)
    assert net.meta["total_length_m"] == pytest.approx(ref.meta["total_length_m"])
    said = [r for r in caplog.records if "defined more than once at the same place" in r.message]
    assert len(said) == 1 and "node 2" in said[0].message


@pytest.mark.parametrize(
    ("case", "name", "pack", "needle"),
    [
        ("O8", "gz.osm", gzip.compress, r"holds gzip-compressed data but its name ends in '\.osm'"),
        ("O9", "plain.osm.bz2", None, r"holds plain XML but its name ends in '\.bz2'.*'\.osm'"),
        ("O10", "bz.osm.gz", bz2.compress, r"holds bzip2-compressed data.*'\.osm\.bz2'"),
        ("O11", "xml.osm.pbf", None, r"holds plain XML but its name ends in '\.pbf'"),
        ("O12", "gz.osm.bz2", gzip.compress, r"gzip-compressed data.*rename it.*'\.osm\.gz'"),
    ],
)
def test_mislabelled_compression_says_what_the_file_is(tmp_path, case, name, pack, needle):
    raw = osm_text().encode()
    p = write(tmp_path / name, pack(raw) if pack else raw)
    with pytest.raises(lc.NetworkError, match=needle):
        lc.WalkNetwork.from_osm(p)


def test_correctly_named_compression_reads_the_same(tmp_path):
    """O13: the sniffing refuses nothing that is named right."""
    raw = osm_text().encode()
    plain = lc.WalkNetwork.from_osm(write(tmp_path / "a.osm", raw))
    for name, data in (("a.osm.gz", gzip.compress(raw)), ("a.osm.bz2", bz2.compress(raw))):
        net = lc.WalkNetwork.from_osm(write(tmp_path / name, data))
        assert net.meta["total_length_m"] == pytest.approx(plain.meta["total_length_m"])


@pytest.mark.parametrize(
    ("case", "name", "data", "needle"),
    [
        ("O14", "empty.osm", b"", r"is empty"),
        ("O15", "junk.osm", b"\x00\x01\x02 not osm", r"could not be read as OSM"),
        ("O16", "cut.osm", osm_text()[:150].encode(), r"cut\.osm: could not be read as OSM"),
        ("O17", "html.osm", b"<html><body>404</body></html>", r"Unknown top-level element: html"),
        ("O18", "streets.csv", b"a,b\n", r"unknown file type"),
    ],
)
def test_broken_osm_files(tmp_path, case, name, data, needle):
    with pytest.raises(lc.NetworkError, match=needle):
        lc.WalkNetwork.from_osm(write(tmp_path / name, data))


def test_osm_path_is_a_folder(tmp_path):
    """O19."""
    (tmp_path / "x.osm").mkdir()
    with pytest.raises(lc.NetworkError, match="is a folder"):
        lc.WalkNetwork.from_osm(tmp_path / "x.osm")


def test_osm_ways_only_of_unwalkable_kinds(tmp_path):
    """O20: names the reasons the ways were dropped."""
    ways = [(101, [1, 2, 3], {"highway": "motorway"})]
    with pytest.raises(lc.NetworkError, match=r"no walkable way.*motorway"):
        lc.WalkNetwork.from_osm(write(tmp_path / "m.osm", osm_text(ways=ways)))


# --------------------------------------------------------------- T: facility tables
def _facility_frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "名称": [f"社区卫生服务站{i}" for i in range(start, start + n)],
            "类型": ["医疗保健服务;诊所;社区卫生服务站"] * n,
            "经度": [f"{121.47 + 0.001 * i:.4f}" for i in range(start, start + n)],
            "纬度": ["31.23"] * n,
        }
    )


def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path) as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    return path


COVER = pd.DataFrame({"说明": ["某街道设施调查", "2026年", "制表: 规划所"]})


def test_table_split_over_two_sheets_is_read_whole(tmp_path, caplog):
    """T1: issue 12 item 7 (half the rows lost silently)."""
    p = _workbook(tmp_path / "split.xlsx", {"上": _facility_frame(3), "下": _facility_frame(2, 3)})
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        fac = lc.facilities.from_table(p)
    assert fac.attrs["records_read"] == 5 and len(fac) == 5
    assert fac["facility_id"].is_unique  # row numbers repeat per sheet; ids name the sheet
    assert set(fac["facility_id"]) >= {"split/上!row2", "split/下!row2"}
    assert any("read together" in r.message and "3 + 2" in r.message for r in caplog.records)


def test_cover_page_first_sheet_is_skipped_and_said(tmp_path, caplog):
    """T2."""
    p = _workbook(tmp_path / "cover.xlsx", {"封面": COVER, "设施": _facility_frame(4)})
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        fac = lc.facilities.from_table(p)
    assert len(fac) == 4
    assert any("read sheet '设施'" in r.message and "封面" in r.message for r in caplog.records)


def test_cover_page_named_explicitly_points_to_the_right_sheet(tmp_path):
    """T3: sheet=0 on a cover page: the message names the sheet that holds the columns."""
    p = _workbook(tmp_path / "cover.xlsx", {"封面": COVER, "设施": _facility_frame(4)})
    with pytest.raises(lc.InputError, match=r"sheet '封面' has no coordinate.*\['设施'\]"):
        lc.facilities.from_table(p, sheet=0)
    assert len(lc.facilities.from_table(p, sheet="设施")) == 4


def test_sheets_with_different_headers_are_not_guessed(tmp_path):
    """T4."""
    other = _facility_frame(2).rename(columns={"名称": "name"})
    p = _workbook(tmp_path / "two.xlsx", {"A": _facility_frame(2), "B": other})
    with pytest.raises(lc.InputError, match=r"different headers; pass sheet="):
        lc.facilities.from_table(p)
    assert len(lc.facilities.from_table(p, sheet="B")) == 2


@pytest.mark.parametrize(
    ("case", "sheet", "needle"),
    [
        ("T5", "设施表", r"no sheet '设施表'; the workbook's sheets are \['A'\]"),
        ("T6", 3, "no sheet 3"),
    ],
)
def test_unknown_sheet(tmp_path, case, sheet, needle):
    p = _workbook(tmp_path / "one.xlsx", {"A": _facility_frame(2)})
    with pytest.raises(lc.InputError, match=needle):
        lc.facilities.from_table(p, sheet=sheet)


def test_workbook_without_facility_columns(tmp_path):
    """T7: every sheet named with its columns."""
    p = _workbook(tmp_path / "none.xlsx", {"封面": COVER, "统计": pd.DataFrame({"类别": ["a"]})})
    with pytest.raises(lc.InputError, match=r"no sheet holds facility columns.*'封面'.*'统计'"):
        lc.facilities.from_table(p)


def _wgs84_points_on_grid(tmp_path):
    """A street grid in Shanghai and facility points on its streets, in WGS-84."""
    from pyproj import Transformer

    step = 150.0
    xs = np.arange(0, 1801, step)
    gx, gy = np.meshgrid(xs, xs)
    x, y = gx.ravel() + X0, gy.ravel() + Y0
    idx = np.arange(len(x)).reshape(gx.shape)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = lc.WalkNetwork.from_arrays(x, y, u, v, np.full(len(u), step), crs=32651)
    rng = np.random.default_rng(1)
    k = 40
    px = X0 + rng.integers(0, 12, k) * step + rng.uniform(0, step, k)
    py = Y0 + rng.integers(0, 13, k) * step  # on east-west streets
    lon, lat = Transformer.from_crs(32651, 4326, always_xy=True).transform(px, py)
    df = pd.DataFrame(
        {
            "名称": [f"社区卫生服务站{i}" for i in range(k)],
            "类型": ["社区卫生服务站"] * k,
            "经度": lon,
            "纬度": lat,
        }
    )
    p = tmp_path / "wgs.csv"
    df.to_csv(p, index=False)
    return net, p


def test_wgs84_table_labelled_gcj02_without_network_says_it_is_unchecked(tmp_path, caplog):
    """T8: issue 12 item 11 (moved 487 m with no word): the move and 'cannot be checked'."""
    _, p = _wgs84_points_on_grid(tmp_path)
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        fac = lc.facilities.from_table(p, coords="gcj02")
    msg = [r.message for r in caplog.records if "cannot be checked" in r.message]
    assert len(msg) == 1 and "labelled GCJ-02 were moved about" in msg[0]
    moved = int(msg[0].split("moved about ")[1].split(" m")[0])
    assert 300 < moved < 700
    assert fac.attrs["offset_check"] is None


def test_wgs84_table_labelled_gcj02_with_network_is_warned(tmp_path, caplog):
    """T9: the label contradicted by the coordinates' own evidence, with a network at hand."""
    net, p = _wgs84_points_on_grid(tmp_path)
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        fac = lc.facilities.from_table(p, coords="gcj02", net=net)
    check = fac.attrs["offset_check"]
    assert check["verdict"] in ("offset", "inconclusive")
    assert check["warn"]
    assert any(r.levelno >= logging.WARNING and "wgs.csv" in r.message for r in caplog.records)


def test_wgs84_table_labelled_wgs84_says_nothing_about_labels(tmp_path, caplog):
    """T10: WGS-84 needs no move, so there is nothing to doubt without a network."""
    _, p = _wgs84_points_on_grid(tmp_path)
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"):
        lc.facilities.from_table(p)
    assert not any("cannot be checked" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("case", "name", "data", "needle"),
    [
        ("T11", "empty.csv", b"", r"could not be read as a table \(EmptyDataError"),
        ("T12", "bad.xlsx", b"PK\x03\x04garbage" * 10, r"could not be read as a table"),
        ("T13", "x.docx", b"x", r"unknown table type '\.docx'"),
        ("T14", "nul.csv", b"\x00\x00\xd8\xd8" * 50, r"holds NUL bytes: not a text table"),
        ("T15", "nocoord.csv", "名称,地址\n站,某路1号\n".encode(), r"no lon and no lat column"),
        ("T16", "noname.csv", "经度,纬度\n121.4,31.2\n".encode(), r"no name \(名称\), type"),
        ("T17", "text.csv", "名称,经度,纬度\n站,东经121度,31.2\n".encode(), r"row 2: '东经121度'"),
        ("T18", "utm.csv", "名称,经度,纬度\n站,350000,3457000\n".encode(), r"out of range"),
    ],
)
def test_broken_tables(tmp_path, case, name, data, needle):
    with pytest.raises(lc.InputError, match=needle):
        lc.facilities.from_table(write(tmp_path / name, data))


def test_utf16_table_without_bom_is_read(tmp_path, caplog):
    """T25: UTF-16 without a byte-order mark is not misread as GB18030 mojibake."""
    text = "名称,经度,纬度\n社区卫生服务站,121.47,31.23\n"
    p = write(tmp_path / "u16.csv", text.encode("utf-16-le"))
    fac = lc.facilities.from_table(p)
    assert len(fac) == 1 and fac.attrs["encoding"] == "UTF-16-LE (no byte-order mark)"


def test_header_only_table_warns(tmp_path, caplog):
    """T19: a table with no rows is not silently an empty facility layer."""
    p = write(tmp_path / "hdr.csv", "名称,经度,纬度\n")
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        fac = lc.facilities.from_table(p)
    assert len(fac) == 0
    assert any("header but no rows" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("case", "kwargs", "needle"),
    [
        ("T20", {"coords": "utm"}, r"unknown coordinate system 'utm'"),
        ("T21", {"columns": {"longitude": "X"}}, r"unknown column mapping key"),
        ("T22", {"columns": {"lon": "X坐标"}}, r"column 'X坐标' \(given for 'lon'\)"),
        ("T23", {"profile": "no-such-profile"}, r"no-such-profile"),
    ],
)
def test_bad_table_arguments(tmp_path, case, kwargs, needle):
    p = write(tmp_path / "ok.csv", "名称,经度,纬度\n社区卫生服务站,121.47,31.23\n")
    with pytest.raises(lc.InputError, match=needle):
        lc.facilities.from_table(p, **kwargs)


def test_table_missing_or_a_folder(tmp_path):
    """T24."""
    with pytest.raises(lc.InputError, match="does not exist"):
        lc.facilities.from_table(tmp_path / "nope.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(lc.InputError, match="is a folder"):
        lc.facilities.from_table(tmp_path / "d.csv")


# ------------------------------------------------------- A: analysis parameters, round trips
@pytest.fixture(scope="module")
def grid():
    """A 3×3 grid with two units, residents and one childcare (as tests/test_coverage.py)."""
    xs, ys = np.meshgrid([0.0, 100.0, 200.0], [0.0, 100.0, 200.0])
    x, y = xs.ravel() + X0, ys.ravel() + Y0
    idx = np.arange(9).reshape(3, 3)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = lc.WalkNetwork.from_arrays(x, y, u, v, np.full(len(u), 100.0), crs=32651)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B"],
            "unit_name": ["甲", "乙"],
            "jiezhen_code": "J1",
            "jiezhen_name": "测试街道",
            "district_code": "310105",
        },
        geometry=[
            shapely.box(X0 - 50, Y0 - 50, X0 + 100, Y0 + 250),
            shapely.box(X0 + 100, Y0 - 50, X0 + 250, Y0 + 250),
        ],
        crs=32651,
    )
    pts = [(0, 0, 100), (0, 200, 50), (200, 0, 30), (200, 200, 20), (150, 100, 10)]
    pop = gpd.GeoDataFrame(
        {"population": [p for *_, p in pts]},
        geometry=[shapely.Point(X0 + a, Y0 + b) for a, b, _ in pts],
        crs=32651,
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["k1", "p1"],
            "name": ["托育园", "口袋公园"],
            "category": ["childcare", "park"],
            "facility_type": ["托育", "公园"],
            "source": "test",
            "rule": "hand",
            "capacity": np.nan,
        },
        geometry=[shapely.Point(X0, Y0), shapely.box(X0 + 120, Y0 + 120, X0 + 180, Y0 + 180)],
        crs=32651,
    )
    kw = {"population": pop, "progress": False, "suggest": False, "isochrone_polygons": False}
    result = lc.analyze(net, fac, units, **kw)
    return net, fac, units, kw, result


def _same_coverage(a, b):
    cols = ["unit_id", "category", "population", "covered_population", "share", "status"]
    pd.testing.assert_frame_equal(
        a.coverage[cols].reset_index(drop=True), b.coverage[cols].reset_index(drop=True)
    )


def test_result_facilities_feed_back_into_analyze(grid):
    """A1: issue 12 item 5 (parks 41 % → 0 %): entrances are in the table's CRS."""
    net, _, units, kw, result = grid
    assert result.facilities.crs is not None
    again = lc.analyze(net, result.facilities, units, **kw)
    _same_coverage(result, again)


def test_result_units_feed_back_into_analyze(grid):
    """A2."""
    net, fac, _, kw, result = grid
    again = lc.analyze(net, fac, result.units, **kw)
    _same_coverage(result, again)


def test_every_geometry_column_of_result_facilities_is_in_its_crs(grid):
    """A3: the entrances column too (network metres would be ~1e5 times off in degrees)."""
    *_, result = grid
    fac = result.facilities
    x0, y0, x1, y1 = fac.total_bounds
    if "entrances" in fac.columns:
        for e in fac["entrances"].dropna():
            for x, y in e if isinstance(e, list | tuple) else []:
                assert x0 - 0.01 <= x <= x1 + 0.01 and y0 - 0.01 <= y <= y1 + 0.01


@pytest.mark.parametrize(
    ("case", "kwargs", "needle"),
    [
        ("A4", {"search_cutoff_m": float("nan")}, r"search_cutoff_m must be a positive"),
        ("A5", {"search_cutoff_m": "500"}, r"search_cutoff_m must be a positive"),
        ("A6", {"max_snap_m": float("nan")}, r"max_snap_m must be a positive"),
        ("A15", {"max_snap_m": True}, r"max_snap_m must be a positive"),
        ("A16", {"search_cutoff_m": float("inf")}, r"search_cutoff_m must be a positive"),
    ],
)
def test_bad_distance_parameters(grid, case, kwargs, needle):
    net, fac, units, kw, _ = grid
    with pytest.raises(lc.InputError, match=needle):
        lc.analyze(net, fac, units, **kw, **kwargs)


def test_facilities_without_category_are_refused(grid):
    """A7."""
    net, fac, units, kw, _ = grid
    with pytest.raises(lc.InputError, match="category"):
        lc.analyze(net, fac.drop(columns="category"), units, **kw)


# ------------------------------------------------------------------ E: engine inputs
@pytest.mark.parametrize(
    ("case", "args", "needle"),
    [
        ("E1", ([0], np.nan), r"cutoff_m must be a positive finite"),
        ("E2", ([0], 0), r"cutoff_m must be a positive finite"),
        ("E3", ([0], -1), r"cutoff_m must be a positive finite"),
        ("E4", ([9], 100), r"source_nodes must be node positions in 0\.\.2"),
        ("E5", ([-1], 100), r"source_nodes must be node positions"),
    ],
)
def test_engine_arguments(case, args, needle):
    net = lc.WalkNetwork.from_arrays(
        [0, 100, 200], [0, 0, 0], [0, 1], [1, 2], [100.0] * 2, crs=32651
    )
    with pytest.raises(lc.InputError, match=needle):
        lc.engine.distance_to_nearest(net, args[0], cutoff_m=args[1])


def test_engine_offsets_must_match_sources():
    """E6."""
    net = lc.WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    with pytest.raises(lc.InputError, match="one value per source"):
        lc.engine.distance_to_nearest(net, [0, 1], cutoff_m=100, source_offset_m=[0.0])


def test_snapping_nan_points_says_why():
    """E7: a NaN point is not snapped to the origin; it is reported."""
    net = lc.WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    s = net.snap(np.array([[np.nan, 0.0], [10.0, 1.0]]))
    assert s.ok.tolist() == [False, True]
    assert s.reason[0]


# -------------------------------------------------------------------------- C: CLI
def _run_config(tmp_path: Path, osm: Path, out: str = "out") -> Path:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f"""out = "{out}"
[network]
osm = "{osm.as_posix()}"
[facilities]
[[facilities.tables]]
path = "{(SAMPLE / "facilities_gcj02.xlsx").as_posix()}"
coords = "gcj02"
[units]
path = "{(SAMPLE / "units.geojson").as_posix()}"
[population]
raster = "{(SAMPLE / "population.tif").as_posix()}"
""",
        encoding="utf-8",
    )
    return cfg


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_cli_bad_osm_coordinate_is_one_line(tmp_path, capsys):
    """C1: issue 12 item 10 (osmium's InvalidLocationError, no file name)."""
    cfg = _run_config(tmp_path, _bad_coordinate(tmp_path, "1000"))
    assert main(["run", str(cfg)]) == 2
    line = _one_error_line(capsys)
    assert "bad.osm: node 2 has lat='1000'" in line


def test_cli_out_is_an_existing_file(tmp_path, capsys):
    """C2: refused before the analysis, with exit code 2."""
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    f = write(tmp_path / "taken", "x")
    assert main(["run", str(cfg), "--out", str(f)]) == 2
    assert "is an existing file" in _one_error_line(capsys)


def test_cli_out_under_a_file(tmp_path, capsys):
    """C3."""
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    write(tmp_path / "taken", "x")
    assert main(["run", str(cfg), "--out", str(tmp_path / "taken" / "sub")]) == 2
    assert "taken is a file" in _one_error_line(capsys)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_cli_read_only_out_folder_fails_before_the_analysis(tmp_path, capsys):
    """C4: issue 12 item 10 (PermissionError only after the whole analysis)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
        assert main(["run", str(cfg), "--out", str(ro / "out")]) == 2
        assert "cannot be written" in _one_error_line(capsys)
    finally:
        ro.chmod(0o755)


def test_check_out_folder_probes_by_writing(tmp_path):
    """C5: the check leaves nothing behind and creates nothing."""
    target = tmp_path / "a" / "b"
    assert check_out_folder(target) == target
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


def test_cli_unknown_scheduler_is_one_line(tmp_path, capsys):
    """C6: issue 12 item 10 (`--scheduler dask-local`)."""
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    assert main(["batch", str(cfg), "--scheduler", "dask-local"]) == 2
    assert "--scheduler 'dask-local' is not one of" in _one_error_line(capsys)


def test_cli_missing_config(tmp_path, capsys):
    """C7."""
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in _one_error_line(capsys)


def test_cli_interrupt_is_one_line(monkeypatch, tmp_path, capsys):
    """C8: Ctrl-C is not a traceback (the interrupt is simulated; nothing else is)."""
    import lifecircle_geo.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run", interrupted)
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    assert main(["run", str(cfg)]) == 2
    assert "interrupted" in _one_error_line(capsys)


def test_cli_os_error_is_one_line(monkeypatch, tmp_path, capsys):
    """C9: an OSError from deep inside (disk full, a vanished share) names its cause."""
    import lifecircle_geo.pipeline as pipeline

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "map.html"))

    monkeypatch.setattr(pipeline, "run", disk_full)
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    assert main(["run", str(cfg)]) == 2
    line = _one_error_line(capsys)
    assert "No space left on device" in line and "map.html" in line


def test_cli_unexpected_error_logs_the_traceback(monkeypatch, tmp_path, capsys):
    """C10: a bug prints a short message and where the full traceback went."""
    import lifecircle_geo.pipeline as pipeline

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline, "run", bug)
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected ZeroDivisionError: a bug" in err
    log_file = tmp_path / "o" / "lifecircle-error.log"
    assert str(log_file) in err
    assert "Traceback" in log_file.read_text() and "ZeroDivisionError" in log_file.read_text()


def test_cli_facilities_check_reads_past_a_cover_page(tmp_path, capsys):
    """C11: the CLI's default sheet is every sheet, like the API's."""
    p = _workbook(tmp_path / "cover.xlsx", {"封面": COVER, "设施": _facility_frame(4)})
    assert main(["facilities", "check", str(p)]) == 0
    assert "4" in capsys.readouterr().out


def test_cli_dask_address_that_does_not_answer(tmp_path):
    """C12: issue 12 item 10 (an OSError traceback after 30 s): a real process, a dead port."""
    pytest.importorskip("dask.distributed")
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifecircle_geo.cli",
            "batch",
            str(cfg),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error:")


def test_facility_on_a_dropped_island_is_found(tmp_path):
    """O21: issue 12 item 11 (a facility on a dropped island snaps 314 m across water)."""
    nodes = dict(NODES)
    nodes.update({8: (121.4010, 31.2440), 9: (121.4015, 31.2440)})  # ~330 m north, unjoined
    ways = [*WAYS, (103, [8, 9], {"highway": "footway"})]
    net = lc.WalkNetwork.from_osm(write(tmp_path / "isl.osm", osm_text(nodes, ways)))
    assert net.meta["n_islands_dropped"] == 1
    assert net.meta["dropped_islands"][0]["radius_m"] > 0
    from pyproj import Transformer

    to_net = Transformer.from_crs(4326, net.crs, always_xy=True)
    xy = np.array([to_net.transform(121.40125, 31.2440), to_net.transform(121.401, 31.2401)])
    s = net.snap(xy)
    assert s.snap_m[0] > 300  # the island facility snaps across the water
    assert net.dropped_island_near(xy, s.snap_m).tolist() == [0, -1]


def test_facility_on_a_dropped_island_is_warned_in_the_analysis(tmp_path):
    """O29: the analysis names the facility and the island (issue 12 item 11)."""
    nodes = dict(NODES)
    nodes.update({8: (121.4010, 31.2440), 9: (121.4015, 31.2440)})
    ways = [*WAYS, (103, [8, 9], {"highway": "footway"})]
    net = lc.WalkNetwork.from_osm(write(tmp_path / "isl.osm", osm_text(nodes, ways)))
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["on-island", "on-street"],
            "name": ["岛上托育", "街边托育"],
            "category": "childcare",
            "facility_type": "托育",
            "source": "test",
            "rule": "hand",
            "capacity": np.nan,
        },
        geometry=[shapely.Point(121.40125, 31.2440), shapely.Point(121.401, 31.2401)],
        crs=4326,
    )
    units = gpd.GeoDataFrame(
        {"unit_id": ["A"], "unit_name": ["甲"], "jiezhen_code": "J1", "jiezhen_name": "街道"},
        geometry=[shapely.box(121.3995, 31.2395, 121.4025, 31.2415)],
        crs=4326,
    )
    pop = gpd.GeoDataFrame(
        {"population": [100.0]}, geometry=[shapely.Point(121.4015, 31.2401)], crs=4326
    )
    r = lc.analyze(
        net, fac, units, population=pop, progress=False, suggest=False, isochrone_polygons=False
    )
    said = [w for w in r.meta["warnings"] if "stand on street islands the network dropped" in w]
    assert len(said) == 1 and "on-island" in said[0] and "on-street" not in said[0]


def test_pipeline_run_checks_the_out_folder_before_the_analysis(tmp_path):
    """C13: the API, like the CLI, refuses an unusable output folder before any work."""
    cfg = _run_config(tmp_path, _bad_coordinate(tmp_path, "1000"))  # would fail if read
    taken = write(tmp_path / "taken", "x")
    with pytest.raises(lc.InputError, match="is an existing file"):
        lc.pipeline.run(cfg, taken)


def test_pipeline_reads_past_a_cover_page(tmp_path):
    """T36: a config's table with no `sheet` considers every sheet, like the API."""
    book = _workbook(tmp_path / "cover.xlsx", {"封面": COVER, "设施": _facility_frame(4)})
    cfg = lc.pipeline.load_config(
        {
            "base": tmp_path,
            "network": {"osm": SAMPLE / "sample.osm"},
            "facilities": {"tables": [{"path": book}]},
            "units": {"path": SAMPLE / "units.geojson"},
            "population": {"raster": SAMPLE / "population.tif"},
        }
    )
    assert cfg["facilities"]["tables"][0].get("sheet") is None
    inputs = lc.pipeline.build_inputs(cfg)
    fac = inputs.facilities
    assert fac["facility_id"].astype(str).str.startswith("cover/").sum() == 4


def test_facilities_exactly_on_street_nodes(tmp_path):
    """E14: a point at a node snapped a rounding error past its edge's end (a negative start).

    Before: ``InputError: seeds of category 'health': start distances must be finite and >= 0``
    for 6 of 236 nodes of this city.
    """
    from lifecircle_geo import mock
    from lifecircle_geo.routing import Sites

    net = lc.WalkNetwork.from_osm(mock.write_city_osm(tmp_path / "c.osm", 300, seed=3))
    fac = gpd.GeoDataFrame(
        {"facility_id": [str(i) for i in range(net.n_nodes)], "name": "x", "category": "health"},
        geometry=net.nodes.geometry.to_numpy(),
        crs=net.crs,
    )
    s = net.snap(fac.geometry)
    assert (s.along_m >= 0).all() and (s.along_m <= net.length_m[s.edge]).all()
    got = lc.engine.nearest_by_category(
        net, Sites.from_facilities(net, fac), 2000.0, categories=["health"]
    )
    assert got is not None


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_cli_unwritable_out_folder_even_as_root(tmp_path, capsys):
    """C14: a folder nobody may create files in (/proc), so the check runs as root too."""
    cfg = _run_config(tmp_path, SAMPLE / "sample.osm")
    assert main(["run", str(cfg), "--out", "/proc/lifecircle_out"]) == 2
    assert "cannot be written" in _one_error_line(capsys)
