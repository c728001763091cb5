"""Results in notebooks: the HTML summary, the inline map and the figures (offline)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import folium
import pandas as pd
import pytest
from matplotlib.figure import Figure

import lifecircle_geo as lc
from lifecircle_geo import display
from lifecircle_geo.coverage import STATUSES


@pytest.fixture(scope="module")
def result() -> lc.AnalysisResult:
    sample = lc.datasets.get_path("sample")
    profile = lc.load_profile("shanghai-2025")
    net = lc.WalkNetwork.from_osm(sample / "sample.osm")
    fac = lc.facilities.merge(
        lc.facilities.from_osm(sample / "sample.osm", profile=profile),
        lc.facilities.from_table(sample / "facilities_gcj02.xlsx", coords="gcj02", profile=profile),
    )
    return lc.analyze(
        net,
        fac,
        lc.units.load(sample / "units.geojson"),
        population=lc.population.from_raster(sample / "population.tif"),
        profile=profile,
        progress=False,
    )


def test_result_html_has_the_coverage_table_and_statuses(result):
    page = display.result_html(result)
    assert '<div class="lc-result">' in page
    assert "类别 × 覆盖率 Coverage by category" in page
    summary = result.summary()
    # one row per category, with its name, standard and share
    for row in summary.itertuples():
        assert row.name_zh in page
        if row.share == row.share:  # measured
            assert f"{100 * row.share:.1f}%" in page
    for std in result.coverage["standard_zh"].dropna().unique():
        assert std in page
    # every status the run has, with its bilingual label
    shown = set(re.findall(r'data-status="([^"]+)"', page))
    assert set(summary["status"]) <= shown
    for status in summary["status"].unique():
        zh, en = STATUSES[status]
        assert f"{zh} {en}" in page
    # the study area, the people, the top gap, the projects, indicators and referrals
    assert "示例街道" in page and f"{result.meta['population']:,.0f}" in page
    top = result.gaps.iloc[0]
    assert top["unit_name"] in page and f"{top['people_left_out']:,.0f}" in page
    assert result.projects["project_id"].iloc[0] in page
    assert "政策指标 Policy indicators" in page
    if len(result.referrals):
        assert "转交部门 Referrals" in page
    assert "<script" not in page  # a static fragment


def test_result_html_escapes_text(result):
    units = result.units.copy()
    units["jiezhen_name"] = "<b>x</b>"
    page = display.result_html(
        lc.AnalysisResult(**{**vars(result), "units": units})  # same run, a hostile name
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_result_html_shows_packages_when_the_result_has_them(result):
    with_packages = copy.copy(result)
    with_packages.packages = pd.DataFrame(
        {
            "package_id": ["310105099-P01"],
            "package_type": ["人民坊"],
            "functions_zh": ["托育、社区助餐"],
            "floor_area_m2": [float("nan")],
            "newly_covered": [{"childcare": 120.0, "dining": 800.0}],
        }
    )
    page = display.result_html(with_packages)
    assert "项目包 Packages" in page and "310105099-P01" in page and "托育、社区助餐" in page
    without = copy.copy(result)
    without.packages = pd.DataFrame()
    assert "项目包 Packages" not in display.result_html(without)


def test_explore_is_a_folium_map_with_units_and_facilities(result):
    m = display.explore(result)
    assert isinstance(m, folium.Map)
    page = m.get_root().render()
    # the unit layer (its features and popups) and the facility layer
    for uid in result.units["unit_id"]:
        assert uid in page
    assert "设施 Facilities" in page and "facLayer" in page and "unitLayer" in page
    assert result.facilities["facility_id"].iloc[0] in page
    assert "建议新增设施 Suggested sites" in page
    # the offline basemap: the network's streets, no web tiles
    assert "lcStreets" in page and "tile.openstreetmap" not in page
    assert re.search(r'"streets":\{"n":[1-9]', page)


def test_explore_displays_offline(result, tmp_path):
    m = display.explore(result, category="kindergarten")
    shown = m._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "height:600px" in shown
    # Leaflet inlined: nothing is loaded from the web
    assert not re.search(r"&lt;(script|link)[^&]*(src|href)=&quot;https?://", shown)
    assert "lcStart" in shown  # opens on the chosen category
    out = m.save(tmp_path / "map.html")
    assert out is None
    text = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert not re.search(r'<(script|link)[^>]*(src|href)="https?://', text)
    assert "kindergarten" in text


def test_explore_rejects_an_unknown_category(result):
    with pytest.raises(lc.InputError, match="kindergarden"):
        display.explore(result, category="kindergarden")


def test_explore_tiles_are_optional(result):
    page = display.explore(result, tiles="OpenStreetMap", streets=False).get_root().render()
    assert "tile.openstreetmap" in page and '"streets":{"n":0,"xy":"","ends":""}' in page


def test_plot_returns_figures_that_show_as_png(result):
    fig = display.plot(result, "coverage")
    assert isinstance(fig, Figure)
    assert fig._repr_png_().startswith(b"\x89PNG")
    figs = display.plot(result, "all")
    assert len(figs) == 3 and all(isinstance(f, Figure) for f in figs)
    with pytest.raises(lc.InputError, match="unknown"):
        display.plot(result, "pie")


def test_quickstart_prints_no_warning():
    """Issue 14: a planner opening the quickstart sees no warning (stderr, logging, tqdm)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    nb = nbformat.read(folder / "01_quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    printed = [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    assert printed == []
    shown = [
        str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        for out in cell.get("outputs", [])
    ]
    assert not [text for text in shown if "Warning" in text]
