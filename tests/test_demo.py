"""The demo end to end through the real CLI, and bad input through `lifecircle run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pyogrio
import pytest

from lifecircle_geo.cli import main
from lifecircle_geo.coverage import STATUSES
from lifecircle_geo.report.excel import CLASSIFICATION_SHEETS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lifecircle_geo.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = _cli("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_demo_writes_the_three_files(demo_run):
    out, _stdout = demo_run
    for name in ("project_database.gpkg", "project_list.xlsx", "map.html"):
        assert (out / name).stat().st_size > 1000, name
    assert not list(out.parent.glob(".*tmp*")), "temporary folder left behind"


def test_demo_prints_bilingual_summary(demo_run):
    out, stdout = demo_run
    assert "覆盖率 Share" in stdout and "幼儿园" in stdout and "Kindergarten" in stdout
    assert str(out) in stdout
    # one line per category of the profile
    labels = tuple(" ".join(v) for v in STATUSES.values())
    verdicts = [ln for ln in stdout.splitlines() if ln.rstrip().endswith(labels)]
    assert len(verdicts) == 20


def test_geopackage_layers(demo_run):
    out, _ = demo_run
    layers = {name for name, _ in pyogrio.list_layers(out / "project_database.gpkg")}
    assert {"units", "coverage", "gaps", "projects", "facilities"} <= layers
    cov = pyogrio.read_dataframe(out / "project_database.gpkg", layer="coverage")
    assert set(cov["name_zh"]) >= {"幼儿园", "医疗卫生"}
    assert cov["share"].between(0, 1).all()


def test_excel_has_chinese_headers(demo_run):
    out, _ = demo_run
    wb = openpyxl.load_workbook(out / "project_list.xlsx", read_only=True)
    headers = [
        c
        for ws in wb.worksheets
        for c in next(ws.iter_rows(max_row=1, values_only=True))
        if isinstance(c, str)
    ]
    assert any("建设内容" in h for h in headers)
    assert any("街镇" in h for h in headers)
    assert any(" / " in h for h in headers), "bilingual headers 中文 / English"


def test_excel_says_how_facilities_were_classified(demo_run):
    out, _ = demo_run
    wb = openpyxl.load_workbook(out / "project_list.xlsx", read_only=True)
    assert set(CLASSIFICATION_SHEETS) <= set(wb.sheetnames)
    rows = list(wb[CLASSIFICATION_SHEETS[0]].iter_rows(values_only=True))
    # one row per category of the profile, each with its facility rows counted
    assert len(rows) == 1 + 20
    head = list(rows[0])
    count = head.index("设施行数 / facility rows")
    assert sum(r[count] for r in rows[1:]) > 0
    by_rule = list(wb[CLASSIFICATION_SHEETS[1]].iter_rows(values_only=True))
    assert any("amap" in str(r[2]) for r in by_rule[1:]), "the sample table's Amap rules"


# ------------------------------------------------------------------ bad input
def _config(tmp_path: Path, **over) -> Path:
    cfg = {
        "network": {"osm": str(SAMPLE / "sample.osm")},
        "units": {"path": str(SAMPLE / "units.geojson")},
        "population": {"raster": str(SAMPLE / "population.tif")},
        "out": str(tmp_path / "out"),
    }
    for key, value in over.items():
        cfg[key] = value
    lines = []
    for key, value in cfg.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    for key, value in cfg.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            for k, v in value.items():
                lines.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    p = tmp_path / "run.toml"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def _expect_error(tmp_path, capsys, config: Path, *needles: str) -> None:
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "out").exists(), "no output folder after a failed run"


def test_missing_osm_file(tmp_path, capsys):
    cfg = _config(tmp_path, network={"osm": str(tmp_path / "nowhere.osm")})
    _expect_error(tmp_path, capsys, cfg, "nowhere.osm", "does not exist")


def test_non_osm_file(tmp_path, capsys):
    bad = tmp_path / "bad.osm"
    bad.write_text("名称,经度\n社区食堂,121.4\n", encoding="utf-8")
    cfg = _config(tmp_path, network={"osm": str(bad)})
    _expect_error(tmp_path, capsys, cfg, "bad.osm", "could not be read as OSM")


def test_osm_without_walkable_way(tmp_path, capsys):
    osm = tmp_path / "motorway.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="31.24" lon="121.40"/><node id="2" lat="31.25" lon="121.41"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way></osm>',
        encoding="utf-8",
    )
    cfg = _config(tmp_path, network={"osm": str(osm)})
    _expect_error(tmp_path, capsys, cfg, "motorway.osm", "no walkable way")


def test_table_without_coordinates(tmp_path, capsys):
    table = tmp_path / "poi.csv"
    table.write_text("名称,类型,地址\n示例社区食堂,社区食堂,示例路1号\n", encoding="utf-8")
    cfg = _config(tmp_path)
    text = cfg.read_text(encoding="utf-8") + (
        f'\n[[facilities.tables]]\npath = {json.dumps(str(table))}\ncoords = "gcj02"\n'
    )
    cfg.write_text(text, encoding="utf-8")
    _expect_error(tmp_path, capsys, cfg, "poi.csv", "no lon and no lat column")


def test_missing_units_file(tmp_path, capsys):
    cfg = _config(tmp_path, units={"path": str(tmp_path / "units.gpkg")})
    _expect_error(tmp_path, capsys, cfg, "units.gpkg", "does not exist")


def test_standards_indicators_and_referrals_in_the_outputs(demo_run):
    """The Standards sheet and table match the profile; indicators and referrals are there."""
    import lifecircle_geo as lc

    out, _ = demo_run
    profile = lc.load_profile("shanghai-2025")
    expected = profile.standards_table()
    wb = openpyxl.load_workbook(out / "project_list.xlsx", read_only=True)
    assert {"标准说明 Standards", "指标 Indicators", "转办 Referrals"} <= set(wb.sheetnames)
    rows = list(wb["标准说明 Standards"].iter_rows(values_only=True))
    assert len(rows) == 1 + len(expected) == 1 + 20 * 5
    gpkg = out / "project_database.gpkg"
    table = pyogrio.read_dataframe(gpkg, layer="standards", read_geometry=False)
    assert table[["category", "area_type", "threshold_m"]].values.tolist() == (
        expected[["category", "area_type", "threshold_m"]].values.tolist()
    )
    sources = pyogrio.read_dataframe(gpkg, layer="standard_sources", read_geometry=False)
    assert sources["assumption"].astype(bool).sum() == len(profile.assumptions())
    ind = pyogrio.read_dataframe(gpkg, layer="indicators", read_geometry=False)
    assert set(ind["level"]) == {"jiezhen", "district", "study_area"} and "unit_id" not in ind
    ref = pyogrio.read_dataframe(gpkg, layer="referrals", read_geometry=False)
    assert len(ref) and ref["department"].notna().all()
    projects = pyogrio.read_dataframe(gpkg, layer="projects", read_geometry=False)
    functions = {c for text in projects["category"] for c in text.split(",")}
    assert not functions & set(ref["category"])
    # the annex table: per district and in total, hubs and points adding up to the projects
    annex = pyogrio.read_dataframe(gpkg, layer="annex", read_geometry=False)
    total = annex.set_index("district_code").loc["合计"]
    assert total["n_projects"] == len(projects) == total["n_hubs"] + total["n_points"]
    assert {"附件汇总 Annex", "项目包 Packages"} <= set(wb.sheetnames)
