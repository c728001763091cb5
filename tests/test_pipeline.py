"""The run config and the one pipeline: key checks, path resolution, every API option.

Real files throughout: the embedded sample (read in place) and configs, units and profiles
written into ``tmp_path``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lifecircle_geo as lc
from lifecircle_geo import batch, pipeline
from lifecircle_geo.cli import main

SAMPLE = lc.datasets.get_path("sample")
#: Chinese column names the units loader does not know by itself (so the mapping is needed)
CHINESE = {
    "unit_id": "单元代号",
    "unit_name": "单元称呼",
    "jiezhen_code": "所属街镇代码",
    "jiezhen_name": "所属街镇",
    "district_code": "所属区代码",
}
QUICK = {"suggest": False, "isochrone_polygons": False}


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(value.as_posix(), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def _write_config(path: Path, top: dict | None = None, **tables) -> Path:
    """A TOML config: ``top`` keys, then one ``[table]`` per keyword (``facilities_tables``
    for ``[[facilities.tables]]`` entries)."""
    lines = [f"{k} = {_toml(v)}" for k, v in (top or {}).items()]
    fac_tables = tables.pop("facilities_tables", [])
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    for t in fac_tables:
        lines.append("[[facilities.tables]]")
        lines += [f"{k} = {_toml(v)}" for k, v in t.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sample_tables(**over) -> dict:
    tables = {
        "network": {"osm": SAMPLE / "sample.osm"},
        "facilities": {"osm": [SAMPLE / "sample.osm"]},
        "facilities_tables": [{"path": SAMPLE / "facilities_gcj02.xlsx", "coords": "gcj02"}],
        "units": {"path": SAMPLE / "units.geojson"},
        "population": {"raster": SAMPLE / "population.tif"},
    }
    tables.update(over)
    return tables


def _chinese_units(path: Path, extra: dict | None = None) -> Path:
    """The sample's units with Chinese column names (and ``extra`` properties per unit)."""
    doc = json.loads((SAMPLE / "units.geojson").read_text(encoding="utf-8"))
    for i, f in enumerate(doc["features"]):
        props = {CHINESE.get(k, k): v for k, v in f["properties"].items()}
        props.update({k: v[i] for k, v in (extra or {}).items()})
        f["properties"] = props
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_inputs():
    net = lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")
    fac = lc.facilities.merge(
        lc.facilities.from_osm(SAMPLE / "sample.osm"),
        lc.facilities.from_table(SAMPLE / "facilities_gcj02.xlsx", coords="gcj02", net=net),
    )
    pop = lc.population.from_raster(SAMPLE / "population.tif")
    return net, fac, pop


def _sorted(cov: pd.DataFrame) -> pd.DataFrame:
    return cov.sort_values(["unit_id", "category"]).reset_index(drop=True)


# ------------------------------------------------------------------ unknown keys, wrong types
@pytest.mark.parametrize(
    ("edit", "named", "suggested"),
    [
        (
            lambda t: t.replace("[[facilities.tables]]", "[[facilities.tabels]]"),
            "[[facilities.tabels]]",
            "did you mean [[facilities.tables]]",
        ),
        (lambda t: 'area_typ = "新城"\n' + t, "'area_typ'", "did you mean 'area_type'"),
        (
            lambda t: t.replace("[population]", "[populaton]"),
            "[populaton]",
            "did you mean [population]",
        ),
    ],
    ids=["facilities.tabels", "area_typ", "populaton"],
)
def test_unknown_key_fails_before_any_work(tmp_path, capsys, edit, named, suggested):
    # the OSM file is not OSM: reading it would fail, so the key error proves nothing was read
    bad_osm = tmp_path / "not_osm.osm"
    bad_osm.write_text("名称,经度\n", encoding="utf-8")
    cfg = _write_config(
        tmp_path / "run.toml",
        {"out": "out"},
        **_sample_tables(network={"osm": bad_osm}, facilities={"osm": []}),
    )
    cfg.write_text(edit(cfg.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(lc.InputError) as err:
        pipeline.load_config(cfg)
    text = str(err.value)
    assert str(cfg) in text and named in text and suggested in text, text
    assert "Allowed keys" in text
    # the same through the command line, and nothing written
    assert main(["run", str(cfg)]) == 2
    stderr = capsys.readouterr().err
    assert named in stderr and suggested in stderr and "could not be read" not in stderr
    assert not (tmp_path / "out").exists()


def test_unknown_key_names_where_it_is(tmp_path):
    cfg = _write_config(
        tmp_path / "run.toml",
        **_sample_tables(
            facilities_tables=[
                {"path": SAMPLE / "facilities_gcj02.xlsx", "coords": "gcj02"},
                {"path": SAMPLE / "facilities_gcj02.xlsx", "cords": "gcj02"},
            ]
        ),
    )
    with pytest.raises(
        lc.InputError,
        match=r"'cords' in \[\[facilities.tables\]\] #2; did you "
        r"mean 'coords'\? Allowed keys in \[\[facilities.tables\]\] #2: path, "
        r"coords, columns, sheet",
    ):
        pipeline.load_config(cfg)


@pytest.mark.parametrize(
    ("top", "tables", "needle"),
    [
        ({"year": "2026"}, {}, "year = '2026' should be an integer"),
        ({"suggest": "yes"}, {}, "suggest = 'yes' should be true or false"),
        ({"walk_speed_kmh": -1}, {}, "walk_speed_kmh = -1.0 should be positive"),
        ({"area_type": "新市"}, {}, "did you mean '新市镇'"),
        (
            {},
            {"units": {"path": SAMPLE / "units.geojson", "columns": {"unit_id": 3}}},
            "[units] columns = {'unit_id': 3} should be an inline table of text",
        ),
        (
            {},
            {"units": {"path": SAMPLE / "units.geojson", "columns": {"unit_ld": "ID"}}},
            "unknown unit field 'unit_ld'; did you mean 'unit_id'?",
        ),
        ({}, {"batch": {"by": "jiezhen"}}, "did you mean 'jiezhen_code'"),
        (
            {},
            {"population": {"raster": SAMPLE / "population.tif", "totals": "population"}},
            "one of raster, points or totals",
        ),
        ({}, {"network": {"osm": SAMPLE / "nowhere.osm"}}, "nowhere.osm does not exist"),
        ({"profile": "shanghai-2052"}, {}, "unknown profile 'shanghai-2052'"),
        (
            {},
            {"facilities": {"osm": [SAMPLE / "sample.osm"], "complete": ["buss"]}},
            "[facilities] complete = 'buss'; did you mean 'bus'?",
        ),
        (
            {},
            {"facilities": {"osm": [SAMPLE / "sample.osm"], "complete": "bus"}},
            "should be a list of text, or true / false",
        ),
    ],
)
def test_wrong_values_fail_clearly(tmp_path, top, tables, needle):
    cfg = _write_config(tmp_path / "run.toml", top, **_sample_tables(**tables))
    with pytest.raises(lc.InputError) as err:
        pipeline.load_config(cfg)
    assert needle in str(err.value) and str(cfg) in str(err.value)


def test_checked_config_is_a_config(tmp_path):
    cfg = _write_config(
        tmp_path / "run.toml",
        {"out": "o", "year": 2030, "max_snap_m": 300},
        **_sample_tables(units={"path": "u.geojson", "columns": CHINESE}),
    )
    _chinese_units(tmp_path / "u.geojson")
    checked = pipeline.load_config(cfg)
    assert checked["out"] == tmp_path / "o"
    assert checked["units"] == {"path": tmp_path / "u.geojson", "columns": CHINESE}
    assert checked["year"] == 2030 and checked["max_snap_m"] == 300.0
    assert "walk_speed_kmh" not in checked  # not set: analyze's default (the profile's)
    assert pipeline.load_config(checked) == checked


# ------------------------------------------------------------------ paths
def test_relative_profile_resolves_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "my.toml").write_text(
        'extends = "shanghai-2025"\n[profile]\nid = "my-profile"\n', encoding="utf-8"
    )
    cfg = _write_config(
        folder / "run.toml", {"profile": "profiles/my.toml", "out": "out"}, **_sample_tables()
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no profiles/my.toml here
    checked = pipeline.load_config(cfg)
    assert checked["profile"] == str(folder / "profiles" / "my.toml")
    assert checked["out"] == folder / "out"
    result, files = pipeline.run(cfg, write=False, progress=False)
    assert result.profile.id == "my-profile" and files == {}
    # a built-in name stays a name
    cfg2 = _write_config(folder / "run2.toml", {"profile": "gb50180-2018"}, **_sample_tables())
    assert pipeline.load_config(cfg2)["profile"] == "gb50180-2018"


# ------------------------------------------------------------------ every API option
def test_unit_column_mapping_works_as_the_python_call(tmp_path, sample_inputs):
    net, fac, pop = sample_inputs
    units_file = _chinese_units(tmp_path / "data" / "单元.geojson")
    cfg = _write_config(
        tmp_path / "run.toml",
        QUICK,
        **_sample_tables(units={"path": "data/单元.geojson", "columns": CHINESE}),
    )
    result, _ = pipeline.run(cfg, write=False, progress=False)
    units = lc.units.load(units_file, columns=CHINESE)
    ref = lc.analyze(net, fac, units, population=pop, progress=False, **QUICK)
    pd.testing.assert_frame_equal(_sorted(result.coverage), _sorted(ref.coverage))
    pd.testing.assert_frame_equal(result.jiezhen, ref.jiezhen)
    assert set(result.coverage["jiezhen_code"]) == {"310105099"}
    assert result.sites.empty and result.isochrones.empty  # suggest, isochrone_polygons
    # without the mapping the units file has no unit_id
    bare = _write_config(
        tmp_path / "bare.toml", **_sample_tables(units={"path": "data/单元.geojson"})
    )
    with pytest.raises(lc.InputError, match="no unit_id column"):
        pipeline.run(bare, write=False, progress=False)


def test_population_totals_spread_a_units_column(tmp_path, sample_inputs):
    net, fac, _ = sample_inputs
    totals = [12000.0, 9000.0, 15000.0, 8000.0, 8000.0]
    units_file = _chinese_units(tmp_path / "units.geojson", extra={"人口": totals})
    cfg = _write_config(
        tmp_path / "run.toml",
        QUICK,
        **_sample_tables(
            units={"path": "units.geojson", "columns": CHINESE},
            population={"totals": "人口"},
        ),
    )
    result, _ = pipeline.run(cfg, write=False, progress=False)
    units = lc.units.load(units_file, columns=CHINESE).rename(columns={"人口": "population"})
    ref = lc.analyze(net, fac, units, population=None, progress=False, **QUICK)
    assert np.isclose(result.meta["population"], sum(totals))
    pd.testing.assert_frame_equal(_sorted(result.coverage), _sorted(ref.coverage))


def test_options_reach_analyze(tmp_path, sample_inputs):
    net, fac, pop = sample_inputs
    options = {
        "walk_speed_kmh": 3.6,
        "year": 2031,
        "packages_per_jiezhen": 1,
        "area_type": "新城",
        "max_snap_m": 300.0,
        "search_cutoff_m": 2500.0,
        "assign_within_m": 50.0,
        "isochrone_polygons": False,
    }
    cfg = _write_config(tmp_path / "run.toml", options, **_sample_tables())
    result, _ = pipeline.run(cfg, write=False, progress=False)
    ref = lc.analyze(
        net,
        fac,
        lc.units.load(SAMPLE / "units.geojson"),
        population=pop,
        progress=False,
        **options,
    )
    assert result.meta["walk_speed_kmh"] == 3.6
    # the pipeline builds its network at the run's speed: no "built at 4 km/h" warning
    assert result.network.meta["walk_speed_kmh"] == 3.6
    assert not [w for w in result.meta["warnings"] if "network was built at" in w]
    assert lc.settings.walk_speed_kmh == 4.0
    assert result.meta["search_cutoff_m"] == 2500.0 and result.meta["max_snap_m"] == 300.0
    assert set(result.coverage["area_type"]) == {"新城"}
    assert len(result.packages) <= 1 and len(result.projects) <= 1
    assert result.projects["schedule"].eq("2031年").all()
    pd.testing.assert_frame_equal(_sorted(result.coverage), _sorted(ref.coverage))
    # a slower walk: the same distances take longer
    same = {k: v for k, v in options.items() if k != "walk_speed_kmh"}
    default, _ = pipeline.run(
        _write_config(tmp_path / "default.toml", same, **_sample_tables()),
        write=False,
        progress=False,
    )
    assert default.meta["walk_speed_kmh"] == 4.0
    a, b = _sorted(result.coverage), _sorted(default.coverage)
    # plain walking scales; 慢行 thresholds and categories with their own speed (elderly) do not
    own = [c.id for c in result.profile.categories if c.walk_speed_kmh is not None]
    plain = ((a["mode"] == "walk") & ~a["category"].isin(own)).to_numpy()
    a_min, b_min = a["mean_walk_min"].to_numpy(), b["mean_walk_min"].to_numpy()
    ok = np.isfinite(a_min) & np.isfinite(b_min)
    assert (ok & plain).any() and (ok & ~plain).any()
    assert np.allclose(a_min[ok & plain], b_min[ok & plain] * 4.0 / 3.6)
    assert np.allclose(a_min[ok & ~plain], b_min[ok & ~plain])


# ------------------------------------------------------------------ command line and batch
def test_run_help_lists_every_key(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for section, keys in pipeline.SCHEMA.items():
        if section:
            assert (f"[[{section}]]" if section == "facilities.tables" else f"[{section}]") in text
        for key in keys:
            assert f"  {key.name} " in text or key.kind == "table", key.name


def test_run_writes_outputs_and_out_overrides(tmp_path, capsys):
    cfg = _write_config(tmp_path / "run.toml", {"out": "ignored", **QUICK}, **_sample_tables())
    assert main(["run", str(cfg), "--out", str(tmp_path / "here")]) == 0
    assert (tmp_path / "here" / "project_database.gpkg").is_file()
    assert not (tmp_path / "ignored").exists()
    assert "覆盖率 Share" in capsys.readouterr().out


def test_batch_plan_uses_the_unit_column_mapping(tmp_path):
    _chinese_units(tmp_path / "units.geojson")
    cfg = _write_config(
        tmp_path / "city.toml",
        **_sample_tables(
            units={"path": "units.geojson", "columns": CHINESE}, batch={"buffer_m": 500}
        ),
    )
    tasks = batch.plan(cfg)
    assert [(t.key, len(t.unit_ids)) for t in tasks] == [("310105099", 5)]
    assert tasks[0].area.buffer_m == 500.0
    assert tasks[0].inputs["config"]["units"]["columns"] == CHINESE


def test_complete_and_clip_reach_analyze(tmp_path, sample_inputs):
    """``[facilities] complete`` and ``[units] clip_to_network`` do what the API calls do."""
    _net, fac, _pop = sample_inputs
    no_bus = tmp_path / "no_bus.csv"
    table = fac[(fac["category"] != "bus") & (fac["source"] == "osm")].to_crs(4326)
    pd.DataFrame(
        {
            "名称": table["name"],
            "类型": table["facility_type"],
            "经度": table.geometry.representative_point().x,
            "纬度": table.geometry.representative_point().y,
        }
    ).to_csv(no_bus, index=False)
    tables = _sample_tables(facilities={"osm": []}, facilities_tables=[{"path": no_bus}])
    plain, _ = pipeline.run(
        _write_config(tmp_path / "a.toml", QUICK, **tables), write=False, progress=False
    )
    assert "bus" in plain.meta["no_data"]
    assert set(plain.coverage.loc[plain.coverage.category == "bus", "status"]) == {"no data"}
    tables["facilities"] = {"osm": [], "complete": ["bus"]}
    declared, _ = pipeline.run(
        _write_config(tmp_path / "b.toml", QUICK, **tables), write=False, progress=False
    )
    bus = declared.coverage[declared.coverage.category == "bus"]
    assert "bus" not in declared.meta["no_data"] and (bus["share"] == 0).all()
    assert declared.meta["complete"] == ["bus"]
    # every sample unit lies inside the street data: clipping keeps them whole
    tables["units"] = {"path": SAMPLE / "units.geojson", "clip_to_network": True}
    clipped, _ = pipeline.run(
        _write_config(tmp_path / "c.toml", QUICK, **tables), write=False, progress=False
    )
    assert len(clipped.units) == 5 and not clipped.units["partial_network"].any()
