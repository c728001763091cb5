"""Batch runs over 街镇: planning, local processes and Dask, resuming, failures, city roll-up.

The case is the embedded sample split in two: units 4 and 5 move to a second 街镇
"310105098" 示例二街道 (a copy of units.geojson in a temporary folder; the other inputs are
read in place).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import lifecircle_geo as lc
from lifecircle_geo import batch
from lifecircle_geo.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
KEYS = ["310105098", "310105099"]
OUTPUTS = ("project_database.gpkg", "project_list.xlsx", "map.html")


def _write_case(folder: Path, shift_second: bool = False) -> Path:
    """Units with two 街镇 and a run config; ``shift_second`` moves 街镇 310105098 ~50 km
    east, off the OSM data (a task whose input is broken)."""
    folder.mkdir(parents=True, exist_ok=True)
    units = json.loads((SAMPLE / "units.geojson").read_text(encoding="utf-8"))
    for f in units["features"][3:]:
        f["properties"].update(jiezhen_code="310105098", jiezhen_name="示例二街道")
        if shift_second:
            f["geometry"]["coordinates"] = [
                [[x + 0.5, y] for x, y in ring] for ring in f["geometry"]["coordinates"]
            ]
    (folder / "units.geojson").write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
    cfg = folder / "city.toml"
    cfg.write_text(
        f"""profile = "shanghai-2025"
out = "out"

[network]
osm = "{(SAMPLE / "sample.osm").as_posix()}"

[facilities]
osm = ["{(SAMPLE / "sample.osm").as_posix()}"]
[[facilities.tables]]
path = "{(SAMPLE / "facilities_gcj02.xlsx").as_posix()}"
coords = "gcj02"

[units]
path = "units.geojson"

[population]
raster = "{(SAMPLE / "population.tif").as_posix()}"

[batch]
by = "jiezhen_code"
buffer_m = 1000
""",
        encoding="utf-8",
    )
    return cfg


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["tasks"]


def _coverage(out: Path) -> pd.DataFrame:
    parts = [
        pd.read_csv(out / "jiezhen_code" / k / "coverage.csv", dtype={"unit_id": str}) for k in KEYS
    ]
    return pd.concat(parts).sort_values(["unit_id", "category"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    return _write_case(tmp_path_factory.mktemp("batch_case"))


@pytest.fixture(scope="module")
def local_run(case) -> batch.BatchResult:
    return batch.run(case, case.parent / "out_local", scheduler="local", workers=2, progress=False)


def test_plan_splits_by_jiezhen(case):
    tasks = batch.plan(case)
    assert [t.key for t in tasks] == KEYS
    assert [len(t.unit_ids) for t in tasks] == [2, 3]
    assert tasks[0].inputs["buffer_m"] == 1000.0
    assert not tasks[0].boundary.intersection(tasks[1].boundary).area > 1e-12
    assert tasks[0].fingerprint() == batch.plan(case)[0].fingerprint()
    assert [t.key for t in batch.plan(case, by="district_code")] == ["310105"]
    assert [t.key for t in batch.plan(case, keys=["310105099"])] == ["310105099"]
    with pytest.raises(lc.InputError, match="no unit has jiezhen_code"):
        batch.plan(case, keys=["999"])


def test_district_tasks_leave_out_the_jiezhen_pages_unless_asked(case, tmp_path):
    """A page per 街镇 is a 街镇 task's output; a district task writes them on request."""
    assert batch.plan(case)[0].inputs["outputs"] is None  # 街镇 tasks: everything
    (district,) = batch.plan(case, by="district_code")
    assert district.inputs["outputs"] == ["gpkg", "xlsx", "map", "figures"]
    asked = tmp_path / "asked.toml"
    asked.write_text(
        case.read_text(encoding="utf-8")
        .replace('by = "jiezhen_code"', 'by = "district_code"\noutputs = ["gpkg", "summaries"]')
        .replace(
            'path = "units.geojson"', f'path = "{(case.parent / "units.geojson").as_posix()}"'
        ),
        encoding="utf-8",
    )
    assert batch.plan(asked)[0].inputs["outputs"] == ["gpkg", "summaries"]


def test_local_run_writes_tasks_manifest_and_city_rollup(case, local_run):
    out = case.parent / "out_local"
    assert local_run.ok and local_run.done == KEYS and local_run.skipped == []
    for key in KEYS:
        for name in OUTPUTS:
            assert (out / "jiezhen_code" / key / name).is_file(), (key, name)
    manifest = _manifest(out)
    assert {k: v["status"] for k, v in manifest.items()} == dict.fromkeys(KEYS, "done")
    assert all(v["fingerprint"] and v["seconds"] > 0 for v in manifest.values())

    # the city roll-up: population sums of the tasks, shares from sums
    task_pop = sum(
        json.loads((out / "jiezhen_code" / k / "summary.json").read_text(encoding="utf-8"))[
            "population"
        ]
        for k in KEYS
    )
    city = pd.read_csv(out / "city_summary.csv", dtype={"jiezhen_code": str, "district_code": str})
    assert list(city.columns[:3]) == ["level", "district_code", "jiezhen_code"]
    dist = city[city.level == "district"]
    jz = city[city.level == "jiezhen"]
    assert sorted(jz["jiezhen_code"].unique()) == KEYS
    # categories that count everyone sum to the residents (the others count their group)
    everyone = [
        c.id for c in lc.load_profile("shanghai-2025").categories if c.target_group == "all"
    ]
    for level in (dist, jz):
        sums = level.groupby("category")["population"].sum()
        assert np.allclose(sums[everyone], task_pop)
        assert (sums.drop(everyone) < task_pop).all()
    assert np.allclose(dist["share"], dist["covered_population"] / dist["population"])
    sheets = openpyxl.load_workbook(out / "city_coverage.xlsx", read_only=True).sheetnames
    assert sheets[:2] == ["街镇覆盖 Sub-district coverage", "区覆盖 District coverage"]
    head = next(
        openpyxl.load_workbook(out / "city_coverage.xlsx")[sheets[0]].iter_rows(
            max_row=1, values_only=True
        )
    )
    assert "覆盖率 / Coverage share" in head

    # one analysis over all units on the whole network gives the same walks: the 1,000 m
    # buffer keeps every street a resident of this small sample walks on
    net = lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")
    fac = lc.facilities.merge(
        lc.facilities.from_osm(SAMPLE / "sample.osm"),
        lc.facilities.from_table(SAMPLE / "facilities_gcj02.xlsx", coords="gcj02", net=net),
    )
    whole = lc.analyze(
        net,
        fac,
        lc.units.load(case.parent / "units.geojson"),
        population=lc.population.from_raster(SAMPLE / "population.tif"),
    )
    cov = _coverage(out)
    ref = whole.coverage.sort_values(["unit_id", "category"]).reset_index(drop=True)
    assert cov["unit_id"].tolist() == ref["unit_id"].tolist()
    assert np.allclose(cov["population"], ref["population"])
    assert np.allclose(cov["covered_population"], ref["covered_population"])
    assert np.isclose(task_pop, whole.meta["population"])
    ref_d = whole.district.set_index("category")
    got_d = dist.set_index("category").loc[ref_d.index]
    assert np.allclose(got_d["share"], ref_d["share"], atol=1e-9)
    assert np.allclose(got_d["mean_walk_min"], ref_d["mean_walk_min"], equal_nan=True)
    assert (got_d["meets_standard"].astype(bool) == ref_d["meets_standard"]).all()


def test_city_tables_long_rows_in_the_geopackage(case, local_run):
    """The city workbook holds roll-ups; the unit rows and polygons are in the GeoPackage."""
    import pyogrio

    out = case.parent / "out_local"
    assert local_run.files["city_database"] == out / "city_coverage.gpkg"
    sheets = openpyxl.load_workbook(out / "city_coverage.xlsx", read_only=True).sheetnames
    assert "单元覆盖 Unit coverage" not in sheets
    layers = dict(pyogrio.list_layers(out / "city_coverage.gpkg"))
    assert layers == {
        "units": "MultiPolygon",
        "coverage": None,
        "jiezhen_coverage": "MultiPolygon",
        "district_coverage": "MultiPolygon",
        "annex": None,
    }
    cov = pyogrio.read_dataframe(out / "city_coverage.gpkg", layer="coverage")
    assert len(cov) == len(_coverage(out))
    units = pyogrio.read_dataframe(out / "city_coverage.gpkg", layer="units")
    assert sorted(units["unit_id"]) == sorted(cov["unit_id"].unique())
    assert units.crs.is_projected and (units["n_categories"] > 0).all()
    jz = pyogrio.read_dataframe(out / "city_coverage.gpkg", layer="jiezhen_coverage")
    assert sorted(jz["jiezhen_code"].unique()) == KEYS and jz.geometry.notna().all()


def test_a_city_map_that_cannot_be_drawn_is_said_missing(case, local_run, tmp_path, caplog):
    """No stale city map of an earlier run stays behind when this run's cannot be drawn."""
    out = tmp_path / "out"
    shutil.copytree(case.parent / "out_local", out)
    assert (out / "city_map.html").is_file()
    units = lc.units.load(case.parent / "units.geojson")
    no_shapes = units.set_geometry([None] * len(units), crs=units.crs)
    with caplog.at_level("ERROR", logger="lifecircle_geo.batch"):
        _, files = batch.rollup(out, batch.plan(case), units=no_shapes)
    assert "city_map" not in files and not (out / "city_map.html").exists()
    assert "no city map" in caplog.text and "no unit has a geometry" in caplog.text
    assert files["city_summary"].is_file()  # the tables are still written


def test_city_map_links_every_unit_to_its_task_map(case, local_run):
    """The city map shows every unit and 街镇 with the roll-up's shares, linked to task maps."""
    import re

    out = case.parent / "out_local"
    page = local_run.files["city_map"]
    assert page == out / "city_map.html"
    data = json.loads(re.search(r"var D = (\{.*?\});\n", page.read_text(encoding="utf-8")).group(1))
    units = data["levels"]["unit"]["features"]
    assert sorted(f["properties"]["id"] for f in units) == sorted(
        u for t in batch.plan(case) for u in t.unit_ids
    )
    for f in units:  # each unit links the map of the task that holds it, and the file is there
        ((label, href),) = f["properties"]["links"]
        assert (out / href).is_file() and href.split("/")[1] == label.split(" ")[0]
    city = pd.read_csv(out / "city_summary.csv", dtype={"jiezhen_code": str})
    jz = city[city.level == "jiezhen"].set_index(["jiezhen_code", "category"])["share"]
    order = [c["id"] for c in data["cats"]]
    for f in data["levels"]["jiezhen"]["features"]:
        p = f["properties"]
        want = [jz.get((p["id"], c)) for c in order]
        got = [np.nan if s is None else s for s in p["s"]]
        assert np.allclose(got, want, atol=1e-3, equal_nan=True), p["id"]


def test_rerun_skips_done_and_reruns_missing_or_changed(case, local_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(case.parent / "out_local", out)
    first = _manifest(out)

    again = batch.run(case, out, scheduler="sync", progress=False)
    assert again.skipped == KEYS and again.done == [] and again.ok
    assert _manifest(out) == first  # nothing recomputed

    # a task folder removed: only that task runs again
    shutil.rmtree(out / "jiezhen_code" / KEYS[0])
    res = batch.run(case, out, scheduler="sync", progress=False)
    assert res.done == [KEYS[0]] and res.skipped == [KEYS[1]]
    m = _manifest(out)
    assert m[KEYS[1]] == first[KEYS[1]]
    assert m[KEYS[0]]["finished"] > first[KEYS[0]]["finished"]
    assert all((out / "jiezhen_code" / KEYS[0] / n).is_file() for n in OUTPUTS)

    # an input of one task changed (a unit of 310105098 renamed): only that task runs again
    units_path = case.parent / "units.geojson"
    original = units_path.read_text(encoding="utf-8")
    try:
        units = json.loads(original)
        units["features"][4]["properties"]["unit_name"] = "示例五社区(改)"
        units_path.write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
        res = batch.run(case, out, scheduler="sync", progress=False)
        assert res.done == [KEYS[0]] and res.skipped == [KEYS[1]]
        assert "示例五社区(改)" in (out / "jiezhen_code" / KEYS[0] / "coverage.csv").read_text(
            encoding="utf-8"
        )
    finally:
        units_path.write_text(original, encoding="utf-8")

    # restart ignores the manifest
    res = batch.run(case, out, scheduler="sync", progress=False, restart=True)
    assert res.done == KEYS and res.skipped == []


def test_failed_task_is_recorded_and_others_finish(tmp_path, capsys):
    cfg = _write_case(tmp_path / "broken", shift_second=True)
    out = tmp_path / "broken" / "out"
    res = batch.run(cfg, scheduler="local", workers=2, progress=False)
    assert not res.ok
    assert res.done == [KEYS[1]]
    assert list(res.failed) == [KEYS[0]]
    error = res.failed[KEYS[0]]
    assert error.startswith("jiezhen_code=310105098: NetworkError:")
    assert "sample.osm" in error and "does not overlap" in error
    m = _manifest(out)
    assert m[KEYS[0]]["status"] == "failed" and m[KEYS[0]]["error"] == error
    assert m[KEYS[1]]["status"] == "done"
    assert not (out / "jiezhen_code" / KEYS[0]).exists()
    city = pd.read_csv(out / "city_summary.csv", dtype={"jiezhen_code": str})
    assert set(city.loc[city.level == "jiezhen", "jiezhen_code"]) == {KEYS[1]}

    # the command line: the done task is skipped, the failed one retried, exit code 1
    code = main(["batch", str(cfg), "--scheduler", "sync"])
    captured = capsys.readouterr()
    assert code == 1
    assert "does not overlap" in captured.err
    assert _manifest(out)[KEYS[1]] == m[KEYS[1]]


def test_run_task_clips_network_and_facilities_to_the_buffered_boundary(case, local_run, tmp_path):
    # with a 1,000 m buffer the small sample is kept whole (hence the exact match above); a
    # 50 m buffer cuts the network and the facilities to the task's surroundings
    whole = json.loads(
        (case.parent / "out_local" / "jiezhen_code" / KEYS[0] / "summary.json").read_text(
            encoding="utf-8"
        )
    )
    res = batch.run_task(batch.plan(case, buffer_m=50)[0], tmp_path)
    assert res.status == "done" and res.folder == tmp_path / "jiezhen_code" / KEYS[0]
    assert res.summary["n_network_nodes"] < whole["n_network_nodes"]
    assert res.summary["n_facilities"] < whole["n_facilities"]
    assert np.isclose(res.summary["population"], whole["population"])


def test_dask_local_cluster_matches_local_processes(case, local_run):
    import warnings

    import dask

    # a real LocalCluster with worker processes (starts in a few seconds here); every task is
    # over Dask's "large graph" size here, and a district's is in the city: no warning for it
    with (
        dask.config.set({"distributed.admin.large-graph-warning-threshold": "1B"}),
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        res = batch.run(case, case.parent / "out_dask", scheduler="dask", workers=2, progress=False)
    assert not [w for w in seen if "large graph" in str(w.message)]
    assert res.ok and res.done == KEYS
    pd.testing.assert_frame_equal(
        _coverage(case.parent / "out_dask"), _coverage(case.parent / "out_local")
    )
    pd.testing.assert_frame_equal(res.city_summary, local_run.city_summary)


def test_dask_workers_do_not_get_the_malloc_trim_threshold(monkeypatch):
    """The batch's LocalCluster spawns workers without Dask's MALLOC_TRIM_THRESHOLD_.

    With it, glibc maps and unmaps every array over 128 KiB: tasks took a third longer.
    """
    pytest.importorskip("dask.distributed")
    import os

    import dask
    from dask.distributed import Client, LocalCluster

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    assert dask.config.get(key) is not None  # Dask's default sets it

    def env() -> dict:
        return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}

    cluster = batch._local_cluster(LocalCluster, 1)
    try:
        with Client(cluster) as client:
            (seen,) = client.run(env).values()
    finally:
        cluster.close()
    # left out; Dask's other worker settings stay
    assert seen == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}
    assert dask.config.get(key) is not None  # put back for other clusters


def test_dask_scheduler_without_dask_names_the_extra(tmp_path, monkeypatch):
    """Without dask installed, a Dask run fails before any planning, naming the extra."""
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if missing
    cfg = {
        "network": {"osm": str(SAMPLE / "sample.osm")},
        "units": {"path": str(SAMPLE / "units.geojson")},
    }
    with pytest.raises(lc.LifecircleError, match=r"lifecircle-geo\[dask\]"):
        batch.run(cfg, tmp_path / "out", scheduler="dask")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- issue 13 / 12
LON0, LAT0 = 121.30, 31.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(LAT0))


def _lon(x_m: float) -> float:
    return LON0 + x_m / M_PER_DEG_LON


def _write_suburb(folder: Path, buffer_m: float | None = None) -> Path:
    """A 3 km street through two suburban (其他地区) 街镇: a resident of 310117001 at 500 m,
    a 党群服务中心 in 310117002 at 2,300 m: 1,800 m away across the border."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        f'  <node id="{i + 1}" version="1" lat="{LAT0}" lon="{_lon(100.0 * i):.7f}"/>'
        for i in range(31)
    ]
    nd = "".join(f'<nd ref="{i + 1}"/>' for i in range(31))
    osm = "\n".join(
        [
            "<?xml version='1.0' encoding='UTF-8'?>",
            '<osm version="0.6" generator="test">',
            *nodes,
            f'  <node id="100" version="1" lat="{LAT0 + 0.00005}" lon="{_lon(2300.0):.7f}">'
            '<tag k="amenity" v="community_centre"/><tag k="name" v="测试党群服务中心"/></node>',
            f'  <way id="1" version="1">{nd}<tag k="highway" v="residential"/></way>',
            "</osm>",
        ]
    )
    (folder / "street.osm").write_text(osm, encoding="utf-8")

    def box(x0: float, x1: float) -> list:
        a, b = _lon(x0), _lon(x1)
        lo, hi = LAT0 - 0.005, LAT0 + 0.005
        return [[[a, lo], [b, lo], [b, hi], [a, hi], [a, lo]]]

    feats = [
        {
            "type": "Feature",
            "properties": {
                "unit_id": uid,
                "unit_name": uid,
                "jiezhen_code": code,
                "jiezhen_name": code,
                "district_code": "310117",
                "area_type": "其他地区",
            },
            "geometry": {"type": "Polygon", "coordinates": box(x0, x1)},
        }
        for uid, code, x0, x1 in [("A1", "310117001", -100, 600), ("B1", "310117002", 600, 3100)]
    ]
    (folder / "units.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False),
        encoding="utf-8",
    )
    pts = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"pop": pop},
                "geometry": {"type": "Point", "coordinates": [_lon(x), LAT0 + 0.0001]},
            }
            for x, pop in [(500.0, 100.0), (2900.0, 50.0)]
        ],
    }
    (folder / "residents.geojson").write_text(json.dumps(pts), encoding="utf-8")
    buffer = "" if buffer_m is None else f"buffer_m = {buffer_m}\n"
    cfg = folder / "suburb.toml"
    cfg.write_text(
        f"""profile = "shanghai-2025"
out = "out"

[network]
osm = "street.osm"

[facilities]
osm = ["street.osm"]

[units]
path = "units.geojson"

[population]
points = "residents.geojson"
column = "pop"

[batch]
by = "jiezhen_code"
{buffer}""",
        encoding="utf-8",
    )
    return cfg


def test_buffer_defaults_to_the_largest_threshold_plus_snap(tmp_path):
    cfg = _write_suburb(tmp_path / "auto")
    prof = lc.load_profile("shanghai-2025")
    largest = prof.standards_table().query("area_type == '其他地区'")["threshold_m"].max()
    assert largest == 2000.0
    tasks = batch.plan(cfg)
    assert [t.inputs["buffer_m"] for t in tasks] == [largest + lc.settings.max_snap_m] * 2
    # the config (or the argument) still overrides
    assert batch.plan(_write_suburb(tmp_path / "fixed", 1000))[0].inputs["buffer_m"] == 1000.0
    assert batch.plan(cfg, buffer_m=300)[0].inputs["buffer_m"] == 300.0


def test_suburban_resident_across_the_border_is_covered_as_in_one_run(tmp_path):
    cfg = _write_suburb(tmp_path / "s")
    res = batch.run(cfg, tmp_path / "s" / "out", scheduler="sync", progress=False)
    assert res.ok
    cov = pd.read_csv(
        tmp_path / "s" / "out" / "jiezhen_code" / "310117001" / "coverage.csv",
        dtype={"unit_id": str},
    ).set_index("category")
    folder = tmp_path / "s"
    whole = lc.analyze(
        lc.WalkNetwork.from_osm(folder / "street.osm"),
        lc.facilities.from_osm(folder / "street.osm"),
        lc.units.load(folder / "units.geojson"),
        population=lc.population.from_points(
            __import__("geopandas").read_file(folder / "residents.geojson"), column="pop"
        ),
    )
    ref = whole.coverage.set_index(["unit_id", "category"]).loc["A1"]
    assert ref.loc["party_service", "covered_population"] == 100.0  # 1,800 m < 2,000 m
    assert cov.loc["party_service", "covered_population"] == 100.0
    assert np.allclose(
        cov["covered_population"], ref.loc[cov.index, "covered_population"], equal_nan=True
    )

    # a fixed 1,000 m buffer (the old default) cuts the facility off: the resident is lost
    cut = _write_suburb(tmp_path / "cut", 1000)
    batch.run(cut, tmp_path / "cut" / "out", scheduler="sync", progress=False)
    lost = pd.read_csv(tmp_path / "cut" / "out" / "jiezhen_code" / "310117001" / "coverage.csv")
    lost = lost.set_index("category").loc["party_service"]
    assert not lost["covered_population"] > 0  # no facility left in the task: no data


def test_fixing_one_jiezhen_input_reruns_only_that_jiezhen(tmp_path):
    cfg = _write_suburb(tmp_path / "fp")
    out = tmp_path / "fp" / "out"
    first = batch.run(cfg, out, scheduler="sync", progress=False)
    assert first.done == ["310117001", "310117002"]
    # the shared resident file changes, but only a resident of 310117002
    path = tmp_path / "fp" / "residents.geojson"
    doc = json.loads(path.read_text())
    doc["features"][1]["properties"]["pop"] = 80.0
    path.write_text(json.dumps(doc))
    again = batch.run(cfg, out, scheduler="sync", progress=False)
    assert again.done == ["310117002"] and again.skipped == ["310117001"]
    m = _manifest(out)
    assert m["310117001"]["fingerprint"] != m["310117002"]["fingerprint"]
    # the city inputs were cached once; a rerun with nothing changed reads the cache
    assert len(list((out / "_cache").glob("city-*.pkl"))) == 1
    assert batch.run(cfg, out, scheduler="sync", progress=False).skipped == [
        "310117001",
        "310117002",
    ]


def test_task_folder_names_and_csv_cells_are_safe(tmp_path):
    for key in ("../../etc/x y", "a/b\\c", "=2+2", "\x00\n", "街" * 200):
        folder = batch.Task(key, "jiezhen_code", ("a",), None, {}).folder(tmp_path)
        assert folder.parent == tmp_path / "jiezhen_code" and ".." not in folder.name
        assert len(folder.name.encode()) <= 120
    hostile = pd.DataFrame({"unit_name": ["=2+2", "@SUM(A1)", "长征镇", "-1"], "n": [-1, 2, 3, 4]})
    batch._write_csv(hostile, tmp_path / "c.csv")
    back = pd.read_csv(tmp_path / "c.csv")
    assert back["unit_name"].tolist() == ["'=2+2", "'@SUM(A1)", "长征镇", "'-1"]
    assert back["n"].tolist() == [-1, 2, 3, 4]


def test_killing_the_batch_parent_stops_its_workers(tmp_path):
    """SIGTERM (handled) and SIGKILL (workers watch their parent) leave no worker running."""
    import signal
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    cfg = _write_case(tmp_path / "kill")
    code = (
        "import logging, sys\n"
        "from lifecircle_geo import batch\n"
        f"batch.run({str(cfg)!r}, {str(tmp_path / 'kill' / 'out')!r}, scheduler='local', "
        "workers=2, progress=False)\n"
    )
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-c", code])
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        kids: list = []
        while time.monotonic() < deadline and len(kids) < 2:
            time.sleep(0.5)
            kids = [
                k
                for k in parent.children(recursive=True)
                if "resource_tracker" not in " ".join(k.cmdline())
            ]
        assert len(kids) >= 2, "the workers did not start"
        proc.send_signal(sig)
        proc.wait(30)
        _gone, alive = psutil.wait_procs(kids, timeout=20)
        assert not alive, (sig, alive)
        if sig == signal.SIGTERM:
            assert proc.returncode != 0


def test_a_task_failing_on_one_unit_names_the_unit(tmp_path):
    cfg = _write_case(tmp_path / "unit")
    path = tmp_path / "unit" / "units.geojson"
    units = json.loads(path.read_text(encoding="utf-8"))
    units["features"][4]["properties"]["area_type"] = "火星区"  # no area type of the profile
    path.write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
    res = batch.run(cfg, tmp_path / "unit" / "out", scheduler="sync", progress=False)
    assert res.done == [KEYS[1]] and list(res.failed) == [KEYS[0]]
    error = res.failed[KEYS[0]]
    assert "火星区" in error and "fails on unit(s): 310105099005" in error
    assert "310105099004" not in error
    assert _manifest(tmp_path / "unit" / "out")[KEYS[0]]["error"] == error


def test_lighter_task_outputs_and_the_city_annex(tmp_path):
    """``[batch] outputs`` writes only what is asked per 街镇; done tasks stay done; the annex."""
    cfg = _write_case(tmp_path)
    text = cfg.read_text(encoding="utf-8").replace(
        "buffer_m = 1000\n", 'buffer_m = 1000\noutputs = ["gpkg"]\n'
    )
    cfg.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    res = batch.run(cfg, out, scheduler="sync", progress=False)
    assert res.ok and sorted(res.done) == KEYS
    folder = out / "jiezhen_code" / KEYS[1]
    assert (folder / "project_database.gpkg").is_file() and (folder / "projects.csv").is_file()
    assert not (folder / "project_list.xlsx").exists() and not (folder / "map.html").exists()
    again = batch.run(cfg, out, scheduler="sync", progress=False)
    assert again.skipped == KEYS and again.done == []
    annex = pd.read_csv(out / "city_annex.csv", encoding="utf-8-sig", dtype={"district_code": str})
    total = annex.set_index("district_code").loc["合计"]
    projects = sum(
        len(pd.read_csv(out / "jiezhen_code" / k / "projects.csv", encoding="utf-8")) for k in KEYS
    )
    assert total["n_projects"] == projects > 0
    assert total["n_hubs"] + total["n_points"] == projects
    sheets = openpyxl.load_workbook(out / "city_coverage.xlsx", read_only=True).sheetnames
    assert "附件汇总 Annex" in sheets


def test_city_read_side_process_equals_the_serial_read_and_stops_on_error(tmp_path, monkeypatch):
    """The facilities' parse in a forked side process gives the serial read's table; a
    failing read of the ways raises at once and leaves no side process behind."""
    import multiprocessing

    from lifecircle_geo.pipeline import load_config

    cfg = load_config(_write_case(tmp_path / "a"))
    side = batch.CityInputs(cfg)
    monkeypatch.setattr(batch, "can_fork", lambda: False)
    serial = batch.CityInputs(cfg)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(
        side.osm_facilities[0].drop(columns=["geometry", "entrances"]),
        serial.osm_facilities[0].drop(columns=["geometry", "entrances"]),
    )
    assert side.osm_facilities[0].geometry.equals(serial.osm_facilities[0].geometry)
    assert side.osm_facilities[0].attrs["unmatched"] == serial.osm_facilities[0].attrs["unmatched"]
    bad = tmp_path / "motorway.osm"
    bad.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="31.23" lon="121.47"/><node id="2" lat="31.231" lon="121.471"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>
</osm>
""",
        encoding="utf-8",
    )
    broken = dict(cfg, network=dict(cfg["network"], osm=bad))
    with pytest.raises(lc.NetworkError, match="no walkable way"):
        batch.CityInputs(broken)
    assert not multiprocessing.active_children()


def test_forked_workers_equal_spawned_ones_and_fall_back(
    case, local_run, tmp_path, monkeypatch, caplog
):
    """Workers forked after the city read give the outputs and manifest of spawned ones.

    Forked only while this process runs no other thread; a thread started meanwhile makes the
    batch spawn its workers and cut the tasks out itself.
    """
    import subprocess
    import sys

    # in a fresh process: this one may hold other tests' threads (Dask's), which rule out a fork
    code = (
        "import logging\n"
        "from lifecircle_geo import batch\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"res = batch.run({str(case)!r}, {str(tmp_path / 'forked')!r}, scheduler='local', "
        "workers=2, progress=True)\n"
        "assert res.ok and res.done == " + repr(KEYS) + "\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    log_text = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, log_text[-3000:]
    assert "workers forked" in log_text
    forked = batch.run(case, tmp_path / "forked", scheduler="sync", progress=False)
    assert forked.skipped == KEYS  # the forked run's manifest, read back
    caplog.set_level(logging.INFO, logger="lifecircle_geo.batch")
    answers = iter([True, False])  # forkable when the run starts, not when the pool starts
    monkeypatch.setattr(batch, "_fork_workers", lambda: next(answers))
    spawned = batch.run(case, tmp_path / "spawned", scheduler="local", workers=2, progress=False)
    assert "workers forked" not in caplog.text
    assert spawned.ok and spawned.done == KEYS
    for out in (tmp_path / "forked", tmp_path / "spawned"):
        pd.testing.assert_frame_equal(_coverage(out), _coverage(case.parent / "out_local"))
    pd.testing.assert_frame_equal(forked.city_summary, spawned.city_summary)
    # the fingerprints a forked worker finds are the parent's: a rerun of either skips all
    fingerprints = [
        {k: e["fingerprint"] for k, e in _manifest(out).items()}
        for out in (tmp_path / "forked", tmp_path / "spawned")
    ]
    assert fingerprints[0] == fingerprints[1] and all(fingerprints[0].values())
