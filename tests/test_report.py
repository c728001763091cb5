"""Tests of lifecircle_geo.report: project database, project list, map and figures."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import types
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from pyproj import Transformer

from lifecircle_geo import report
from lifecircle_geo.network import WalkNetwork
from lifecircle_geo.report import fonts, write_result
from lifecircle_geo.standards import load_profile

UTM = 32651
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
UNIT_NAMES = ["长征一单元", "长征二单元", "真如一单元"]


# ---------------------------------------------------------------------------- fixture
def _utm(lon, lat):
    return Transformer.from_crs(4326, UTM, always_xy=True).transform(lon, lat)


def make_result() -> types.SimpleNamespace:
    """A small but complete result: 3 units near lon 121.40, lat 31.24 (普陀区)."""
    profile = load_profile("shanghai-2025")
    cats = profile.categories
    x0, y0 = _utm(121.40, 31.24)
    size = 600.0
    boxes = [shapely.box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size) for i in range(3)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "unit_name": UNIT_NAMES,
            "jiezhen_code": ["310107014", "310107014", "310107015"],
            "jiezhen_name": ["长征镇", "长征镇", "真如镇街道"],
            "district_code": ["310107"] * 3,
            "area_type": ["中心城"] * 3,
            "population": [12000.0, 9000.0, 15000.0],
        },
        geometry=boxes,
        crs=UTM,
    )

    rng = np.random.default_rng(7)
    rows = []
    for u in units.itertuples():
        for c in cats:
            share = float(rng.uniform(0.3, 1.0))
            rows.append(
                {
                    "unit_id": u.unit_id,
                    "unit_name": u.unit_name,
                    "jiezhen_code": u.jiezhen_code,
                    "jiezhen_name": u.jiezhen_name,
                    "district_code": u.district_code,
                    "area_type": u.area_type,
                    "category": c.id,
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "group": c.group,
                    "class_zh": c.class_zh,
                    "tier_min": c.tier_min,
                    "threshold_m": c.threshold_for(u.area_type),
                    "target_share": c.target_share,
                    "population": u.population,
                    "covered_population": u.population * share,
                    "share": share,
                    "mean_walk_min": 6.0 if share > 0.4 else np.nan,
                    "p90_walk_min": 11.0 if share > 0.4 else np.nan,
                    "meets_standard": share >= c.target_share,
                }
            )
    coverage = pd.DataFrame(rows)

    def aggregate(keys: list[str]) -> pd.DataFrame:
        first = ["name_zh", "name_en", "group", "class_zh", "tier_min", "target_share"]
        agg = (
            coverage.groupby([*keys, "category"], sort=False)
            .agg(
                **{c: (c, "first") for c in first},
                population=("population", "sum"),
                covered_population=("covered_population", "sum"),
            )
            .reset_index()
        )
        agg["share"] = agg["covered_population"] / agg["population"]
        agg["meets_standard"] = agg["share"] >= agg["target_share"]
        return agg

    jiezhen = aggregate(["jiezhen_code", "jiezhen_name", "district_code"])
    district = aggregate(["district_code"])
    summary = aggregate([])

    gaps = coverage[~coverage["meets_standard"]].copy()
    gaps["people_left_out"] = gaps["population"] * gaps["target_share"] - gaps["covered_population"]
    gaps = gaps.sort_values("people_left_out", ascending=False)
    gaps["rank"] = np.arange(1, len(gaps) + 1)

    top = gaps.head(2)
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2"],
            "unit_id": top["unit_id"].to_list(),
            "jiezhen_code": top["jiezhen_code"].to_list(),
            "category": top["category"].to_list(),
            "name_zh": top["name_zh"].to_list(),
            "order": [1, 1],
            "newly_covered_population": [3000.0, 2500.0],
            "share_after": [0.97, 0.9],
        },
        geometry=[shapely.Point(x0 + 300, y0 + 300), shapely.Point(x0 + 1500, y0 + 250)],
        crs=UTM,
    )
    site_lonlat = sites.to_crs(4326).geometry
    projects = pd.DataFrame(
        {
            "project_id": ["P001", "P002", "P003"],
            "jiezhen_code": [*top["jiezhen_code"], "310107015"],
            "jiezhen_name": [*top["jiezhen_name"], "真如镇街道"],
            "unit_id": [*top["unit_id"], "U3"],
            "unit_name": [*top["unit_name"], "真如一单元"],
            "category": [*top["category"], "park"],
            "name_zh": [*top["name_zh"], "自然生态"],
            "name_en": [*top["name_en"], "Nature"],
            "class_zh": [*top["class_zh"], "品质提升"],
            "content_zh": ["新建社区服务点（约200平方米）", "改造既有用房", "口袋公园提升"],
            "content_en": [
                "New service point (about 200 m²)",
                "Refit existing rooms",
                "Pocket park upgrade",
            ],
            "path_zh": ["新建", "存量更新", "微更新"],
            "body_zh": ["长征镇人民政府", None, ""],
            "funding_zh": [None, "区级财政", None],
            "schedule": ["2025", "2025-2026", "2026"],
            "design_team": ["社区规划师团队", None, None],
            "people_left_out": [*top["people_left_out"], 800.0],
            "newly_covered_population": [3000.0, 2500.0, np.nan],
            "lon": [*site_lonlat.x, np.nan],
            "lat": [*site_lonlat.y, np.nan],
        }
    )

    park = shapely.box(121.4045, 31.2405, 121.4060, 31.2418)
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["F1", "F2", "F3"],
            "name": ["长征镇社区卫生服务中心", "真如幼儿园", "梅川公园"],
            "category": ["health", "kindergarten", "park"],
            "facility_type": ["社区卫生服务中心", "幼儿园", "公园"],
            "source": ["osm", "table", "osm"],
            "rule": ["amenity=clinic", "名称:幼儿园", "leisure=park"],
            "capacity": [np.nan, 200.0, np.nan],
            "snap_m": [12.5, 30.0, 5.0],
            "reachable": [True, True, False],
            "entrances": [
                None,
                None,
                shapely.MultiPoint([(121.4045, 31.2410), (121.4060, 31.2415)]),
            ],
        },
        geometry=[shapely.Point(121.4010, 31.2415), shapely.Point(121.4150, 31.2420), park],
        crs=4326,
    )

    gx, gy = np.meshgrid(np.arange(5) * 360 + x0 + 100, np.arange(2) * 300 + y0 + 150)
    demand = gpd.GeoDataFrame(
        {
            "unit_id": ["U1", "U1", "U1", "U2", "U2", "U2", "U3", "U3", "U3", "U3"],
            "population": np.full(10, 3600.0),
            **{f"walk_m_{c.id}": rng.uniform(50, 1500, 10) for c in cats},
        },
        geometry=shapely.points(gx.ravel(), gy.ravel()),
        crs=UTM,
    )
    demand.loc[[2, 7], "walk_m_health"] = np.inf

    nx_, ny_ = np.meshgrid(np.arange(4) * 600 + x0, np.arange(2) * 600 + y0)
    x, y = nx_.ravel(), ny_.ravel()
    u = [0, 1, 2, 4, 5, 6, 0, 1, 2, 3]
    v = [1, 2, 3, 5, 6, 7, 4, 5, 6, 7]
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    network = WalkNetwork.from_arrays(
        x, y, u, v, length, crs=UTM, meta={"source": "synthetic grid 测试", "rules": {"a": 1}}
    )

    meta = {
        "profile": profile.id,
        "walk_speed_kmh": 4.0,
        "n_units": 3,
        "warnings": ["2 个设施距离步行网络超过 500 m / 2 facilities off the network"],
        "created": "2025-05-01T10:00:00+08:00",
    }
    return types.SimpleNamespace(
        coverage=coverage,
        jiezhen=jiezhen,
        district=district,
        gaps=gaps,
        sites=sites,
        projects=projects,
        units=units,
        facilities=facilities,
        demand=demand,
        network=network,
        profile=profile,
        meta=meta,
        summary=lambda: summary.copy(),
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report") / "out"
    folder.mkdir()
    (folder / "map.html").write_text("old", encoding="utf-8")  # replaced
    (folder / "notes.txt").write_text("keep", encoding="utf-8")  # left alone
    result = make_result()
    return result, folder, write_result(result, folder)


# ---------------------------------------------------------------------------- write_result
def test_write_result_computes_the_summary_once(tmp_path):
    """The workbook, database and figures show one summary, computed once per write."""
    result = make_result()
    table = result.summary()
    calls = []

    def summary():
        calls.append(1)
        return table.copy()

    result.summary = summary
    paths = write_result(result, tmp_path / "out", outputs=["gpkg", "xlsx", "figures"])
    assert len(calls) == 1
    got = pyogrio.read_dataframe(paths["gpkg"], layer="summary")
    assert got["category"].tolist() == table["category"].tolist()
    # a result without summary() is written without one
    del result.summary
    write_result(result, tmp_path / "bare", outputs=["gpkg"])
    assert "summary" not in dict(pyogrio.list_layers(tmp_path / "bare" / "project_database.gpkg"))


def test_write_result_in_two_processes_writes_the_same_files(tmp_path, monkeypatch):
    """processes=2 draws the figures in a forked child: same files as one after another."""
    import multiprocessing
    import os

    from lifecircle_geo._fork import can_fork

    result = make_result()
    drawn_in = []
    draw = report.figures.write_figures

    def figures_here(res, folder):
        drawn_in.append(os.getpid())  # in the child: not seen here
        (tmp_path / "pid.txt").write_text(str(os.getpid()), encoding="utf-8")
        return draw(res, folder)

    monkeypatch.setattr(report.figures, "write_figures", figures_here)
    one = write_result(result, tmp_path / "one", processes=1)
    two = write_result(result, tmp_path / "two", processes=2)
    assert sorted(one) == sorted(two)
    pid_two = int((tmp_path / "pid.txt").read_text(encoding="utf-8"))
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for a, b in zip(one["figures"], two["figures"], strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()
    for layer in ("coverage", "projects"):
        pd.testing.assert_frame_equal(
            pyogrio.read_dataframe(one["gpkg"], layer=layer),
            pyogrio.read_dataframe(two["gpkg"], layer=layer),
        )
    assert drawn_in == [os.getpid()]  # the one-after-another write drew here
    assert (pid_two != os.getpid()) == can_fork()
    assert not multiprocessing.active_children()


def test_a_failing_figure_in_the_second_process_leaves_nothing(tmp_path, monkeypatch):
    import multiprocessing

    def boom(res, folder):
        raise RuntimeError("matplotlib fell over")

    monkeypatch.setattr(report.figures, "write_figures", boom)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="matplotlib fell over"):
        write_result(make_result(), out, processes=2)
    assert list(tmp_path.iterdir()) == []
    assert not multiprocessing.active_children()


def test_write_result_files(written):
    _, folder, paths = written
    assert set(paths) == {"gpkg", "xlsx", "html", "figures", "summaries"}
    assert paths["gpkg"] == folder.absolute() / "project_database.gpkg"
    assert paths["xlsx"].name == "project_list.xlsx"
    assert paths["html"].name == "map.html"
    names = [p.name for p in paths["figures"]]
    assert "coverage_by_category.png" in names and "unit_coverage_map.png" in names
    for p in [paths["gpkg"], paths["xlsx"], paths["html"], *paths["figures"]]:
        assert p.is_file() and p.parent == folder.absolute()
    leftovers = [p.name for p in folder.parent.iterdir() if ".tmp-" in p.name]
    assert leftovers == []
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert {p.name for p in folder.iterdir()} == {
        "project_database.gpkg",
        "project_list.xlsx",
        "map.html",
        "notes.txt",
        *names,
        *(p.name for p in paths["summaries"]),
    }


def test_one_page_summary_per_jiezhen(written):
    result, _, paths = written
    codes = sorted(set(result.units["jiezhen_code"]))
    pngs = [p for p in paths["summaries"] if p.suffix == ".png"]
    assert len(pngs) == len(codes) == 2
    for code in codes:
        png = next(p for p in pngs if p.name.startswith(f"summary_{code}"))
        assert png.read_bytes().startswith(PNG_MAGIC)
        from PIL import Image

        with Image.open(png) as im:
            assert im.size[0] > im.size[1] > 800  # one landscape page
        pdf = png.with_suffix(".pdf")
        if pdf in paths["summaries"]:  # PDF when the font embeds
            assert pdf.read_bytes().startswith(b"%PDF-")
    assert "summary_310107014_长征镇.png" in {p.name for p in pngs}


def test_map_has_offline_street_basemap(written):
    result, _, paths = written
    text = paths["html"].read_text(encoding="utf-8")
    data = json.loads(re.search(r"var D = (.*?);\n", text).group(1).replace("<\\/", "</"))
    streets = report.html._unpack_lines(data["streets"])
    assert data["streets"]["n"] == len(streets) == result.network.n_edges
    lon, lat = streets[0][0]
    assert 121.3 < lon < 121.5 and 31.2 < lat < 31.3
    assert data["facilities_drawn"] and len(data["facilities"]["features"]) == 3
    assert "<details" in text and "lcStreets" in text


def test_map_caps_facility_markers(tmp_path, monkeypatch):
    """At city scale the map draws units and roll-ups, not every facility."""
    monkeypatch.setattr(report.html, "MAX_FACILITY_MARKERS", 2)
    path = report.write_map(make_result(), tmp_path / "map.html")
    text = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r"var D = (.*?);\n", text).group(1).replace("<\\/", "</"))
    assert data["facilities"]["features"] == [] and data["n_facilities"] == 3
    assert not data["facilities_drawn"]
    assert len(data["units"]["features"]) == 3


def test_gpkg_layers_and_chinese(written):
    result, _, paths = written
    layers = dict(pyogrio.list_layers(paths["gpkg"]))
    for name in (
        "units",
        "coverage",
        "jiezhen_coverage",
        "district_coverage",
        "gaps",
        "projects",
        "suggested_sites",
        "facilities",
        "facility_areas",
        "demand",
        "network_edges",
        "categories",
        "summary",
        "run_metadata",
    ):
        assert name in layers, name
    assert layers["units"] == "MultiPolygon"
    assert layers["run_metadata"] is None

    units = gpd.read_file(paths["gpkg"], layer="units", engine="pyogrio")
    assert units.crs.to_epsg() == UTM
    assert sorted(units["unit_name"]) == sorted(UNIT_NAMES)
    assert "share_health" in units.columns and "n_meets_standard" in units.columns
    cov = gpd.read_file(paths["gpkg"], layer="coverage")
    assert len(cov) == len(result.coverage) and cov.geometry.notna().all()
    assert set(cov["name_zh"]) == {c.name_zh for c in result.profile.categories}
    jz = gpd.read_file(paths["gpkg"], layer="jiezhen_coverage")
    assert set(jz["jiezhen_name"]) == {"长征镇", "真如镇街道"}
    assert jz.geometry.notna().all()

    projects = gpd.read_file(paths["gpkg"], layer="projects")
    assert projects.crs.to_epsg() == UTM
    assert list(projects["content_zh"]) == list(result.projects["content_zh"])
    assert projects.geometry.notna().tolist() == [True, True, False]

    fac = gpd.read_file(paths["gpkg"], layer="facilities")
    assert set(fac.geom_type) == {"Point"}
    assert "entrances" not in fac.columns
    assert fac.loc[fac["name"] == "梅川公园", "entrances_wkt"].iloc[0].startswith("MULTIPOINT")

    demand = gpd.read_file(paths["gpkg"], layer="demand")
    assert demand["walk_m_health"].isna().sum() == 2
    assert np.isfinite(demand["walk_m_health"].dropna()).all()

    edges = gpd.read_file(paths["gpkg"], layer="network_edges")
    assert len(edges) == result.network.n_edges

    meta = pyogrio.read_dataframe(paths["gpkg"], layer="run_metadata")
    facts = dict(zip(meta["key"], meta["value"], strict=True))
    assert facts["profile.id"] == '"shanghai-2025"'
    assert "个设施" in facts["warnings"]
    assert "测试" in facts["network.source"]


def test_excel_sheets_and_headers(written):
    result, _, paths = written
    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb.sheetnames == list(report.excel.SHEETS)
    ws = wb["项目清单 Projects"]
    headers = [c.value for c in ws[1]]
    for expected in (
        "街镇 / Sub-district",
        "建设内容 / Content",
        "实施路径 / Implementation path",
        "实施主体 / Implementing body",
        "资金来源 / Funding source",
        "时间安排 / Schedule",
        "设计团队 / Design team",
        "类别 / Category name",
        "项目类型 / Project class",
        "社区基本单元 / Basic unit",
        "受益人口 / People newly covered",
    ):
        assert expected in headers, expected
    assert ws.freeze_panes == "A2"
    assert ws.cell(row=1, column=1).fill.fgColor.rgb.endswith("1F4E78")
    col = headers.index("建设内容 / Content") + 1
    assert ws.cell(row=2, column=col).value == "新建社区服务点（约200平方米）"
    body = headers.index("实施主体 / Implementing body") + 1
    assert ws.cell(row=3, column=body).fill.fgColor.rgb.endswith("FFF2CC")  # blank: to fill

    ws = wb["单元覆盖 Unit coverage"]
    headers = [c.value for c in ws[1]]
    share_col = headers.index("覆盖率 / Coverage share") + 1
    assert ws.cell(row=2, column=share_col).number_format == "0.0%"
    cov = result.coverage.reset_index(drop=True)
    below = int(np.flatnonzero(~cov["meets_standard"].to_numpy())[0])
    above = int(np.flatnonzero(cov["meets_standard"].to_numpy())[0])
    assert ws.cell(row=below + 2, column=share_col).fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.cell(row=above + 2, column=share_col).fill.fill_type is None
    assert ws.max_row == len(cov) + 1

    about = wb["说明 About"]
    text = "\n".join(str(c.value) for row in about.iter_rows() for c in row if c.value)
    assert "shanghai-2025" in text
    speed = [r for r in about.iter_rows(values_only=True) if str(r[0]).startswith("步行速度")]
    assert speed and float(speed[0][1]) == 4.0
    assert "街镇填写" in text and "党群服务" in text


def test_html_map(written):
    _, _, paths = written
    text = paths["html"].read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert "L.map(" in text and "leaflet" in text.lower()
    assert "L.control.layers(" in text
    for name in [*UNIT_NAMES, "长征镇社区卫生服务中心", "缺口人口"]:
        assert name in text, name
    # data is inline, in WGS-84
    assert '"type":"FeatureCollection"' in text
    assert "121.4" in text and "31.24" in text
    assert "32651" not in text.split("var D =", 1)[1][:200]


def test_figures_are_images(written):
    _, _, paths = written
    for p in paths["figures"]:
        data = p.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 400 and height > 300


def test_cjk_font_lookup():
    family = fonts.cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    from matplotlib import font_manager

    path = font_manager.findfont(family, fallback_to_default=False)
    assert Path(path).is_file()


def test_figures_without_cjk_font(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(report.figures, "cjk_font", lambda: None)
    monkeypatch.setattr(report.figures, "_warned_no_font", False)
    result = make_result()
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo"):
        first = report.write_figures(result, tmp_path / "a")
        report.write_figures(result, tmp_path / "b")
    assert [p.name for p in first][:1] == ["coverage_by_category.png"]
    assert sum("no CJK font" in r.getMessage() for r in caplog.records) == 1


# ---------------------------------------------------------------------------- atomicity
class _Broken(types.SimpleNamespace):
    @property
    def coverage(self):
        raise RuntimeError("coverage is broken")


def test_failure_leaves_nothing(tmp_path):
    good = make_result()
    broken = _Broken(**{k: v for k, v in vars(good).items() if k != "coverage"})
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError, match="coverage is broken"):
        write_result(broken, out)
    assert not out.exists()
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_in_excel_keeps_old_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "project_database.gpkg").write_bytes(b"old")
    (out / "notes.txt").write_text("planner's notes", encoding="utf-8")

    def boom(result, path):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(report.excel, "write_excel", boom)
    with pytest.raises(OSError, match="disk full"):
        write_result(make_result(), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "project_database.gpkg"]
    assert (out / "project_database.gpkg").read_bytes() == b"old"


def test_replaces_same_names_keeps_others(written):
    _, folder, paths = written
    assert paths["html"].read_text(encoding="utf-8") != "old"
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_empty_sites_and_projects(tmp_path):
    result = make_result()
    result.sites = result.sites.iloc[0:0]
    result.projects = result.projects.iloc[0:0]
    result.gaps = result.gaps.iloc[0:0]
    paths = write_result(result, tmp_path / "out")
    layers = dict(pyogrio.list_layers(paths["gpkg"]))
    assert layers["suggested_sites"] == "Point"
    assert len(pyogrio.read_dataframe(paths["gpkg"], layer="projects")) == 0
    assert openpyxl.load_workbook(paths["xlsx"])["缺口 Gaps"].max_row == 1


# ---------------------------------------------------------------------------- browser
def _headless(tmp_path, *args) -> list[str]:
    """A headless Chromium command line, or skip when no browser is installed."""
    browser = next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    if browser is None:
        pytest.skip("chromium not installed (CI installs it with apt-get install chromium)")
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=3000",
        # no network here or in CI: make every host name fail at once (tile requests
        # would otherwise stall the virtual clock now and then)
        "--host-resolver-rules=MAP * ~NOTFOUND",
        *args,
    ]


def test_map_renders_in_headless_chromium(written, tmp_path):
    _, _, paths = written
    shot = tmp_path / "map.png"
    cmd = _headless(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1000,800",
        paths["html"].absolute().as_uri(),
    )
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert shot.is_file(), proc.stderr.decode("utf-8", "replace")[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC)


def test_map_works_offline_in_headless_chromium(written, tmp_path):
    """No CDN is reachable here: the map must draw from what the file itself holds."""
    _, _, paths = written
    text = paths["html"].read_text(encoding="utf-8")
    assert not re.search(r'<script[^>]+src="https?://', text), "scripts must be inline"
    cmd = _headless(tmp_path, "--dump-dom", paths["html"].absolute().as_uri())
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    dom = proc.stdout.decode("utf-8", "replace")
    # classes Leaflet sets at run time: only there if the inlined library ran
    assert re.search(r'<div[^>]+class="[^"]*leaflet-container', dom), proc.stderr.decode(
        "utf-8", "replace"
    )[-2000:]
    # the vectors were drawn (the map prefers a canvas; SVG paths otherwise)
    assert "<canvas" in dom or re.search(r'<path[^>]+class="leaflet-interactive', dom)
    assert re.search(r'class="leaflet-control-layers', dom), "layer control built"


def test_gpkg_is_version_1_2(written):
    """GDAL 3.6 / older QGIS warn on GPKG 1.4: the project database is 1.2."""
    import sqlite3

    _, _, paths = written
    con = sqlite3.connect(paths["gpkg"])
    try:
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        user_version = con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()
    assert app_id == 0x47504B47  # "GPKG"
    assert user_version == report.gpkg.GPKG_USER_VERSION == 10200


# ---------------------------------------------------------------------------- Arrow writes
def _layer_facts(path):
    """Every layer's rows, field types, geometry type and column, CRS and extent."""
    facts = {}
    for name, _ in pyogrio.list_layers(path):
        info = pyogrio.read_info(path, layer=name)
        frame = pyogrio.read_dataframe(path, layer=name)
        facts[name] = (
            pd.DataFrame(frame),
            [str(info[k]) for k in ("fields", "dtypes", "geometry_type", "crs", "features")],
            info.get("geometry_name"),
        )
    return facts


def _assert_same_layers(a, b):
    fa, fb = _layer_facts(a), _layer_facts(b)
    assert list(fa) == list(fb)
    for name in fa:
        pd.testing.assert_frame_equal(fa[name][0], fb[name][0], obj=name)
        assert fa[name][1:] == fb[name][1:], name


def _count_arrow_writes(monkeypatch):
    """Count the layers written through ``pyogrio.raw.write_arrow`` (the real call runs)."""
    real = pyogrio.raw.write_arrow
    layers = []

    def counted(stream, path, layer=None, **kwargs):
        layers.append(layer)
        return real(stream, path, layer=layer, **kwargs)

    monkeypatch.setattr(pyogrio.raw, "write_arrow", counted)
    return layers


def test_gpkg_arrow_writes_the_same_database(tmp_path, monkeypatch):
    """GDAL's Arrow path and write_dataframe give the same layers, field types and CRS."""
    if not report.gpkg._arrow_writes():
        pytest.skip("pyogrio < 0.8 or GDAL < 3.8: no Arrow writes")
    result = make_result()
    arrow_layers = _count_arrow_writes(monkeypatch)
    fast = report.write_gpkg(result, tmp_path / "arrow.gpkg")
    # the long layers and the boolean/Chinese ones went through Arrow
    assert {"units", "coverage", "demand", "network_edges", "facilities"} <= set(arrow_layers)
    monkeypatch.setattr(report.gpkg, "_arrow_writes", lambda: False)
    slow = report.write_gpkg(result, tmp_path / "plain.gpkg")
    _assert_same_layers(fast, slow)


def test_gpkg_layers_written_unsynced_and_the_file_synced_once(tmp_path, monkeypatch):
    """SQLite does not sync at each layer; the file is synced once; users' settings stand."""
    key = "OGR_SQLITE_SYNCHRONOUS"
    seen, synced = [], []
    real_arrow, real_frame, real_fsync = (
        pyogrio.raw.write_arrow,
        pyogrio.write_dataframe,
        report.gpkg.os.fsync,
    )

    def arrow(*args, **kwargs):
        seen.append(pyogrio.get_gdal_config_option(key))
        return real_arrow(*args, **kwargs)

    def plain(*args, **kwargs):
        seen.append(pyogrio.get_gdal_config_option(key))
        return real_frame(*args, **kwargs)

    def fsync(fd):
        synced.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(pyogrio.raw, "write_arrow", arrow)
    monkeypatch.setattr(pyogrio, "write_dataframe", plain)
    monkeypatch.setattr(report.gpkg.os, "fsync", fsync)
    result = make_result()
    path = report.write_gpkg(result, tmp_path / "a.gpkg")
    assert len(seen) == len(pyogrio.list_layers(path)) > 10
    assert all(v is False for v in seen), seen  # pyogrio reads "OFF" back as False
    assert len(synced) == 1
    assert pyogrio.get_gdal_config_option(key) is None  # put back
    # a user's own setting is used, and left as it was
    monkeypatch.setenv(key, "FULL")
    seen.clear()
    report.write_gpkg(result, tmp_path / "b.gpkg")
    assert seen and all(v == "FULL" for v in seen), seen
    assert pyogrio.get_gdal_config_option(key) == "FULL"
    _assert_same_layers(tmp_path / "a.gpkg", tmp_path / "b.gpkg")


def _trap_table(n=7):
    """A table with the cells real outputs hold: Chinese, NULLs, NaN, inf, nullable types."""
    rng = np.random.default_rng(3)
    x0, y0 = _utm(121.47, 31.23)
    geoms = list(shapely.points(x0 + rng.uniform(0, 500, n), y0 + rng.uniform(0, 500, n)))
    geoms[2] = None
    return gpd.GeoDataFrame(
        {
            "name": ["人民广场", None, "", "静安寺 🏯", "a;b", "人民广场", "x" * 300][:n],
            "all_null": pd.Series([None] * n, dtype=object),
            "walk_m": [120.5, np.nan, np.inf, -np.inf, 0.0, 1e9, 3.25][:n],
            "walk_f32": np.arange(n, dtype=np.float32) / 3,
            "count": np.arange(n, dtype=np.int64) * 10**10,
            "small": np.arange(n, dtype=np.int32),
            "met": np.array([True, False] * 4)[:n],
            "maybe": pd.array([True, None, False, True, None, False, True][:n], dtype="boolean"),
            "n_opt": pd.array([1, None, 3, 4, 5, None, 7][:n], dtype="Int64"),
            "str_dtype": pd.Series(["一", "二", None, "四", "五", "六", "七"][:n], dtype="str"),
            "cat": pd.Categorical(["中心城", "主城区", None, "新城", "新城", "中心城", "x"][:n]),
        },
        geometry=geoms,
        crs=UTM,
    )


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")  # no_crs, both ways
@pytest.mark.parametrize(
    "change",
    ["none", "empty", "mixed_objects", "dates", "z", "polygons", "no_geometry", "no_crs"],
)
def test_gpkg_arrow_and_plain_writes_agree_on_traps(tmp_path, monkeypatch, change):
    """Each trap writes the same layer both ways; the types Arrow does not take fall back."""
    if not report.gpkg._arrow_writes():
        pytest.skip("pyogrio < 0.8 or GDAL < 3.8: no Arrow writes")
    table = _trap_table()
    arrow_expected = change in ("none", "empty", "polygons", "no_geometry")
    if change == "empty":
        table = table.iloc[:0]
    elif change == "mixed_objects":
        table["value"] = pd.Series([1, "一", 2.5, None, True, "x", 3], dtype=object)
    elif change == "dates":
        table["when"] = pd.date_range("2025-01-01", periods=len(table), freq="D")
    elif change == "z":
        table = table.set_geometry(shapely.force_3d(table.geometry.to_numpy(), 5.0), crs=UTM)
    elif change == "polygons":
        boxes = [shapely.box(0, 0, i + 1, i + 1) for i in range(len(table))]
        boxes[1] = shapely.multipolygons([boxes[1], shapely.box(10, 10, 11, 11)])
        table = table.set_geometry(gpd.GeoSeries(boxes, crs=UTM))
    elif change == "no_geometry":
        table = pd.DataFrame(table.drop(columns="geometry"))
    elif change == "no_crs":
        table = table.set_crs(None, allow_override=True)
    arrow_layers = _count_arrow_writes(monkeypatch)
    report.gpkg._write_layer(table, tmp_path / "arrow.gpkg", "units")
    assert (arrow_layers == ["units"]) == arrow_expected, (change, arrow_layers)
    monkeypatch.setattr(report.gpkg, "_arrow_writes", lambda: False)
    report.gpkg._write_layer(table, tmp_path / "plain.gpkg", "units")
    _assert_same_layers(tmp_path / "arrow.gpkg", tmp_path / "plain.gpkg")
    if change == "none":
        got = pyogrio.read_dataframe(tmp_path / "arrow.gpkg")
        assert got["name"].isna().tolist()[:3] == [False, True, False]
        assert got["name"].tolist()[2:4] == ["", "静安寺 🏯"]
        assert got["walk_m"].isna().tolist() == [False, True, True, True, False, False, False]
        assert got["geometry"].isna().tolist() == [i == 2 for i in range(7)]


@pytest.mark.parametrize("seed", range(5))
def test_arrow_text_bytes_equal_python_encoding(seed):
    """The factorized text buffers hold each cell's UTF-8 bytes at its offsets."""
    from lifecircle_geo.report._arrow import _text

    rng = np.random.default_rng(seed)
    pool = ["", "长征镇", "a", "静安寺 🏯", "x" * 40, "é"]
    cells = np.array(
        [None if rng.random() < 0.2 else pool[rng.integers(len(pool))] for _ in range(300)],
        dtype=object,
    )
    ok, offsets, data = _text(cells)
    assert ok.tolist() == [c is not None for c in cells]
    raw = data.tobytes()
    for i, cell in enumerate(cells):
        assert raw[offsets[i] : offsets[i + 1]] == (b"" if cell is None else cell.encode())
    assert offsets[-1] == len(raw)


def test_map_streets_show_offline_in_headless_chromium(tmp_path):
    """No tile server: the network's streets are the basemap, drawn grey inside the study area."""
    from PIL import Image

    result = make_result()
    result.units = None  # nothing drawn over the streets
    result.facilities = result.facilities.iloc[:0]
    result.sites = result.sites.iloc[:0]
    html = report.write_map(result, tmp_path / "map.html")
    shot = tmp_path / "streets.png"
    cmd = _headless(tmp_path, f"--screenshot={shot}", "--window-size=900,700", html.as_uri())
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    assert shot.is_file(), proc.stderr.decode("utf-8", "replace")[-2000:]
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"), dtype=int)
    grey = (np.ptp(px, axis=2) < 12) & (px[..., 0] > 100) & (px[..., 0] < 175)
    # the street lines (#8a8a8a) on Leaflet's light-grey background (#ddd)
    assert grey.sum() > 200, f"{grey.sum()} street pixels"


def _reference_streets(result):
    """The basemap as it was written before packing: every street simplified, rounded to 1e-5°."""
    from lifecircle_geo.report._util import longest, street_geometries
    from lifecircle_geo.report.html import _STREET_SIMPLIFY_M, MAX_STREET_EDGES

    net = result.network
    geoms = shapely.simplify(longest(street_geometries(net), MAX_STREET_EDGES), _STREET_SIMPLIFY_M)
    xy, index = shapely.get_coordinates(geoms, return_index=True)
    lon, lat = Transformer.from_crs(net.crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    lines = np.split(np.round(np.column_stack([lon, lat]), 5), np.flatnonzero(np.diff(index)) + 1)
    return [line for line in lines if len(line) >= 2]


def test_map_streets_packed_are_the_rounded_streets():
    """The packed basemap holds every street's points as JSON held them, to the bit."""
    from lifecircle_geo.report.html import _pack_lines, _streets_4326, _unpack_lines

    # bent streets (vertices within and beyond the simplify tolerance), straight ones, a ferry
    rng = np.random.default_rng(7)
    x0, y0 = _utm(121.47, 31.23)
    geoms = [
        shapely.linestrings(
            x0 + np.cumsum(rng.uniform(-40, 40, k)), y0 + np.cumsum(rng.uniform(-40, 40, k))
        )
        for k in rng.integers(2, 9, 300)
    ]
    net = types.SimpleNamespace(
        geometry=np.array(geoms, dtype=object),
        snappable=np.arange(300) % 50 != 0,
        crs=pyproj.CRS(UTM),
    )
    for result in (types.SimpleNamespace(network=net), make_result()):
        packed = _streets_4326(result)
        got, want = _unpack_lines(packed), _reference_streets(result)
        assert packed["n"] == len(got) == len(want) >= 10
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
        if result.network is net:  # simplified: fewer points, but not all straight
            assert 2 < np.mean([len(x) for x in got]) < np.mean([len(g.coords) for g in geoms])
    # traps: west and south (negative), a one-point line (left out), the int32 range's edge
    xy = np.array(
        [[121.123456, 31.000004], [-0.000004, -89.999996], [5.0, 5.0], [180.0, 90.0],
         [-180.0, -90.0], [121.500005, 31.200015]]
    )  # fmt: skip
    index = np.array([0, 0, 1, 2, 2, 2])
    lines = _unpack_lines(_pack_lines(xy, index))
    assert [len(line) for line in lines] == [2, 3]
    assert np.array_equal(np.concatenate(lines), np.round(xy[[0, 1, 3, 4, 5]], 5))
    assert _unpack_lines(_pack_lines(np.empty((0, 2)), np.empty(0, dtype=int))) == []


def test_map_page_unpacks_the_streets_in_headless_chromium(tmp_path):
    """The page's own decoder (lcLines) reads back the lines Python packed."""
    from lifecircle_geo.report.html import _JS, _pack_lines

    xy = np.array([[121.47123, 31.23001], [121.48, 31.24], [-0.5, -1e-5], [121.1, 31.0], [1, 2]])
    packed = _pack_lines(xy, np.array([0, 0, 1, 1, 1]))
    decoder = re.search(r"function lcInts.*?\n  }\n  function lcLines.*?\n  }\n", _JS, re.S)
    assert decoder, "the decoder functions are in the page's script"
    page = tmp_path / "decode.html"
    page.write_text(
        "<html><body><script>"
        + decoder.group(0)
        + f"document.body.textContent = JSON.stringify(lcLines({json.dumps(packed)}));"
        + "</script></body></html>",
        encoding="utf-8",
    )
    proc = subprocess.run(
        _headless(tmp_path, "--dump-dom", page.as_uri()), capture_output=True, timeout=60
    )
    text = re.sub(r"<[^>]+>", "", proc.stdout.decode("utf-8", "replace")).strip()
    assert text, proc.stderr.decode("utf-8", "replace")[-2000:]
    # [lat, lon] pairs, as Leaflet takes them; JSON.parse gives the numbers Python rounded
    assert json.loads(text) == [
        [[31.23001, 121.47123], [31.24, 121.48]],
        [[-1e-05, -0.5], [31.0, 121.1], [2.0, 1.0]],
    ]


def test_draw_streets_draws_the_picture_of_one_line_per_street():
    """Streets grouped into paths give the picture a line per street gives, street for street."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from lifecircle_geo.report.figures import draw_streets

    result = make_result()
    net = result.network
    bounds = result.units.total_bounds

    def picture(draw) -> np.ndarray:
        fig = Figure(figsize=(4, 4), dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        drawn = draw(ax)
        ax.set_xlim(bounds[0] - 300, bounds[2] + 300)
        ax.set_ylim(bounds[1] - 300, bounds[3] + 300)
        ax.set_axis_off()
        canvas.draw()
        return drawn, np.asarray(canvas.buffer_rgba())[..., :3].astype(int)

    n, ours = picture(lambda ax: draw_streets(ax, result, result.units.crs, bounds))
    streets = gpd.GeoSeries(
        np.asarray(net.geometry, dtype=object)[np.asarray(net.snappable)], crs=net.crs
    ).cx[bounds[0] - 200 : bounds[2] + 200, bounds[1] - 200 : bounds[3] + 200]
    assert n == len(streets) > 0  # every street near the units

    def one_line_each(ax):
        xy, index = shapely.get_coordinates(streets.to_numpy(), return_index=True)
        parts = np.split(xy, np.flatnonzero(np.diff(index)) + 1)
        ax.add_collection(LineCollection(parts, colors="#9e9e9e", linewidths=0.4))
        return len(parts)

    m, reference = picture(one_line_each)
    assert m == n
    grey = (reference < 250).any(axis=2)
    assert grey.sum() > 500  # the streets are there
    assert np.abs(ours - reference).max() <= 40 and (ours != reference).mean() < 0.01


def test_cell_labels_draw_what_text_artists_draw():
    """The heat map's numbers, drawn as one collection of glyph outlines: as much ink as one
    ax.text per number draws, each label centred on its point."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from lifecircle_geo.report.figures import _cell_labels

    xy = np.array([[0, 0], [3, 1], [1, 2], [4, 3]], dtype=float)
    texts = ["85", "100", "7", "42"]

    def draw(with_text: bool) -> tuple[np.ndarray, np.ndarray]:
        fig = Figure(figsize=(4, 3), dpi=100)
        ax = fig.add_subplot()
        ax.set_xlim(-0.5, 4.5)
        ax.set_ylim(3.5, -0.5)  # rows down, as imshow's
        ax.set_axis_off()
        if with_text:
            for (x, y), t in zip(xy, texts, strict=True):
                ax.text(x, y, t, ha="center", va="center", fontsize=10, color="black")
        else:
            _cell_labels(ax, xy, texts, ["black"] * len(texts), size_pt=10.0)
        FigureCanvasAgg(fig)
        anchors = ax.transData.transform(xy)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        ink = np.asarray(Image.open(buf).convert("L"), dtype=float) < 128
        return ink, np.column_stack([anchors[:, 0], ink.shape[0] - anchors[:, 1]])

    text, _ = draw(True)
    cells, anchors = draw(False)
    assert 0.8 * text.sum() < cells.sum() < 1.25 * text.sum()
    rows, cols = np.nonzero(cells)
    for (ax_, ay), t in zip(anchors, texts, strict=True):
        near = (np.abs(cols - ax_) < 20) & (np.abs(rows - ay) < 12)
        assert near.sum() > 10, t
        # the ink's box is centred on the point
        mid_x = (cols[near].min() + cols[near].max()) / 2
        mid_y = (rows[near].min() + rows[near].max()) / 2
        assert abs(mid_x - ax_) < 1.5 and abs(mid_y - ay) < 1.5, t
    assert near.sum() < cells.sum()  # each label is its own
