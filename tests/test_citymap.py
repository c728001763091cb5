"""The city map of a batch (``lifecircle_geo.report.citymap``): views, roll-ups, links, browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle_geo import InputError
from lifecircle_geo.coverage import rollup
from lifecircle_geo.report.citymap import write_city_map


def page_data(path) -> dict:
    """The data the page embeds (``var D = {...};``)."""
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r"var D = (\{.*?\});\n", text).group(1))


def _case():
    """Three units (UTM 51N): two in 街镇 J1 (100 and 300 people), one in J2 (no residents
    for the park), all in district D1; two categories."""
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "unit_name": ["一单元", "二单元", "三单元"],
            "jiezhen_code": ["J1", "J1", "J2"],
            "jiezhen_name": ["甲街道", "甲街道", "乙镇"],
            "district_code": ["D1", "D1", "D1"],
            "district_name": ["测试区"] * 3,
        },
        geometry=[
            shapely.box(350_000, 3_450_000, 351_000, 3_451_000),
            shapely.box(351_000, 3_450_000, 352_000, 3_451_000),
            shapely.box(350_000, 3_451_000, 352_000, 3_452_000),
        ],
        crs=32651,
    )
    rows = []
    for uid, jz, jzn, pop, shares in (
        ("U1", "J1", "甲街道", 100.0, (1.0, 0.5)),
        ("U2", "J1", "甲街道", 300.0, (0.6, 0.9)),
        ("U3", "J2", "乙镇", 200.0, (0.9, None)),
    ):
        for cat, zh, en, share in zip(
            ("health", "park"), ("医疗卫生", "公园"), ("Health", "Park"), shares, strict=True
        ):
            measured = share is not None
            rows.append(
                {
                    "unit_id": uid,
                    "unit_name": uid,
                    "jiezhen_code": jz,
                    "jiezhen_name": jzn,
                    "district_code": "D1",
                    "category": cat,
                    "name_zh": zh,
                    "name_en": en,
                    "tier_min": 15,
                    "target_share": 0.8,
                    "population": pop,
                    "covered_population": pop * share if measured else np.nan,
                    "reached_population": pop if measured else np.nan,
                    "mean_walk_min": 5.0 if measured else np.nan,
                    "share": share if measured else np.nan,
                    "meets_standard": (share >= 0.8) if measured else pd.NA,
                    "status": ("met" if share >= 0.8 else "below target")
                    if measured
                    else "no data",
                }
            )
    return units, pd.DataFrame(rows)


def test_city_map_rolls_up_by_population_and_links_task_maps(tmp_path):
    units, cov = _case()
    links = {
        "U1": ("J1 甲街道", "jiezhen_code/J1/map.html"),
        "U2": ("J1 甲街道", "jiezhen_code/J1/map.html"),
        "U3": ("J2 乙镇", "jiezhen_code/J2/map.html"),
    }
    path = write_city_map(units, cov, tmp_path / "city_map.html", links=links)
    data = page_data(path)
    assert [c["id"] for c in data["cats"]] == ["health", "park"]
    assert data["start"] == "jiezhen"
    levels = data["levels"]
    assert {k: len(v["features"]) for k, v in levels.items()} == {
        "district": 1,
        "jiezhen": 2,
        "unit": 3,
    }
    jz = {f["properties"]["id"]: f["properties"] for f in levels["jiezhen"]["features"]}
    # J1: health (100 × 1.0 + 300 × 0.6) / 400 = 0.7 (below 0.8); park (50 + 270) / 400 = 0.8
    assert jz["J1"]["s"] == [0.7, 0.8]
    assert (jz["J1"]["m"], jz["J1"]["n"]) == (1, 2)
    assert jz["J1"]["name"] == "甲街道" and jz["J1"]["d"] == "D1" and jz["J1"]["pop"] == 400
    assert jz["J1"]["links"] == [["J1 甲街道", "jiezhen_code/J1/map.html"]]
    # J2: no park data is not a miss: 1 of 1 measured category meets standard
    assert jz["J2"]["s"] == [0.9, None] and (jz["J2"]["m"], jz["J2"]["n"]) == (1, 1)
    (district,) = [f["properties"] for f in levels["district"]["features"]]
    assert district["name"] == "测试区" and district["id"] == "D1"
    # health (100 + 180 + 180) / 600; both task maps linked
    assert district["s"][0] == pytest.approx(460 / 600, abs=1e-3)
    assert sorted(h for _, h in district["links"]) == [
        "jiezhen_code/J1/map.html",
        "jiezhen_code/J2/map.html",
    ]
    unit = {f["properties"]["id"]: f["properties"] for f in levels["unit"]["features"]}
    assert unit["U2"]["s"] == [0.6, 0.9] and unit["U2"]["name"] == "二单元"
    # the 街镇 polygon is the union of its units, in WGS-84
    j1 = shapely.geometry.shape(
        next(f for f in levels["jiezhen"]["features"] if f["properties"]["id"] == "J1")["geometry"]
    )
    expect = units[units.jiezhen_code == "J1"].to_crs(4326).union_all()
    assert j1.symmetric_difference(expect).area < 1e-3 * expect.area


def test_city_map_takes_the_callers_rollups(tmp_path):
    units, cov = _case()
    jz = rollup(cov, ["jiezhen_code"])
    jz.loc[jz["jiezhen_code"] == "J2", "share"] = 0.123  # a marker: the given table is used
    path = write_city_map(units, cov, tmp_path / "m.html", rollups={"jiezhen": jz})
    feats = page_data(path)["levels"]["jiezhen"]["features"]
    assert next(f for f in feats if f["properties"]["id"] == "J2")["properties"]["s"][0] == 0.123


def test_city_map_geographic_units_and_bad_input(tmp_path):
    units, cov = _case()
    path = write_city_map(units.to_crs(4326), cov, tmp_path / "m.html")
    assert len(page_data(path)["levels"]["unit"]["features"]) == 3
    with pytest.raises(InputError, match="unit_id"):
        write_city_map(units.drop(columns="unit_id"), cov, tmp_path / "bad.html")
    with pytest.raises(InputError, match="covered_population"):
        write_city_map(units, cov.drop(columns="covered_population"), tmp_path / "bad.html")
    assert not (tmp_path / "bad.html").exists()


def test_city_map_opens_offline_in_headless_chromium(tmp_path):
    browser = next((b for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("chromium not installed (CI installs it with apt-get install chromium)")
    units, cov = _case()
    path = write_city_map(units, cov, tmp_path / "city_map.html")
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=3000",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    dom = proc.stdout.decode("utf-8", "replace")
    assert "leaflet-container" in dom, proc.stderr.decode("utf-8", "replace")[-2000:]
    # three views in the layer control and the category chooser with both categories
    views = re.findall(r'name="leaflet-base-layers_\d+"[^>]*><span> ([^<]+)<', dom)
    assert [v.split(" (")[0] for v in views] == [
        "区 Districts",
        "街镇 Sub-districts",
        "社区基本单元 Basic units",
    ]
    assert re.search(r'<select id="lc-cat"', dom) and "医疗卫生 Health" in dom
