"""Tests of :mod:`lifecircle_geo.synth`: the synthetic Shanghai in the real 街镇 boundaries.

They read the real boundaries and census totals of ../shared/data/shanghai (in place) and skip
with the reason when that folder is absent. The small city is 外滩街道 (黄浦区, Puxi) and
陆家嘴街道 (浦东新区), which face each other across the Huangpu.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from conftest import SHARED, shared_file

import lifecircle_geo as lc
from lifecircle_geo import synth
from lifecircle_geo.cli import main

SMALL = ["外滩街道", "陆家嘴街道"]
SMALL_CODES = ["310101013", "310115005"]
#: plain primary tags only: these categories' POIs must all come back from the reader
PLAIN = ("kindergarten", "park", "bus", "learning", "playground", "pharmacy", "fitness", "metro")


def _census() -> dict[str, int]:
    with shared_file("districts_2020.csv").open(encoding="utf-8") as fh:
        return {r["adcode"]: int(r["population_2020"]) for r in csv.DictReader(fh)}


def _jiezhen(codes: list[str]) -> gpd.GeoDataFrame:
    g = gpd.read_file(shared_file("subdistricts.geojson"))
    g["code"] = g["region_id"].str[:9]
    return g[g["code"].isin(codes)].set_index("code")


def _osm(path: Path) -> tuple[dict[int, tuple[float, float]], list[tuple[list[int], dict]]]:
    nodes: dict[int, tuple[float, float]] = {}
    ways = []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            nodes[obj.id] = (obj.location.lon, obj.location.lat)
        elif obj.is_way():
            ways.append(([n.ref for n in obj.nodes], dict(obj.tags)))
    return nodes, ways


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> synth.SynthShanghai:
    shared_file("subdistricts.geojson")
    out = tmp_path_factory.mktemp("synth_small")
    return synth.shanghai(out / "a", subdistricts=SMALL, density=0.5, seed=3)


def test_missing_data_names_what_was_looked_for(tmp_path):
    with pytest.raises(lc.InputError, match=r"subdistricts\.geojson.*" + tmp_path.name):
        synth.find_data(tmp_path)
    with pytest.raises(lc.InputError, match="not found"):
        synth.shanghai(tmp_path / "out", tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()


def test_default_data_folder_is_the_shared_one():
    shared_file("subdistricts.geojson")
    assert synth.find_data().resolve() == SHARED.resolve()
    assert synth.find_data(SHARED / "subdistricts.geojson") == SHARED


def test_bad_selection_and_parameters(tmp_path):
    shared_file("subdistricts.geojson")
    with pytest.raises(lc.InputError, match=r"unknown district 'Atlantis'.*310101 黄浦区"):
        synth.shanghai(tmp_path, districts=["Atlantis"])
    with pytest.raises(lc.InputError, match="unknown 街镇 '不存在街道'"):
        synth.shanghai(tmp_path, subdistricts=["不存在街道"])
    with pytest.raises(lc.InputError, match="holds no 街镇"):
        synth.shanghai(tmp_path, districts=["黄浦区"], subdistricts=["陆家嘴街道"])
    with pytest.raises(lc.InputError, match="density"):
        synth.shanghai(tmp_path, subdistricts=SMALL, density=0)


def test_same_seed_same_files_other_seed_other_streets(small, tmp_path):
    again = synth.shanghai(tmp_path / "b", subdistricts=SMALL, density=0.5, seed=3)
    assert again.pbf.read_bytes() == small.pbf.read_bytes()
    assert again.config.read_bytes() == small.config.read_bytes()
    assert again.counts == small.counts
    for a, b, layer in (
        (small.units, again.units, "units"),
        (small.residents, again.residents, "residents"),
    ):
        pd.testing.assert_frame_equal(gpd.read_file(a, layer=layer), gpd.read_file(b, layer=layer))
    other = synth.shanghai(tmp_path / "c", subdistricts=SMALL, density=0.5, seed=4)
    assert other.pbf.read_bytes() != small.pbf.read_bytes()
    # by code or name, in any order: the same selection
    by_code = synth.shanghai(tmp_path / "d", subdistricts=SMALL_CODES[::-1], density=0.5, seed=3)
    assert by_code.pbf.read_bytes() == small.pbf.read_bytes()


def test_everything_is_labelled_synthetic(small):
    assert all(
        "synthetic" in p.name
        for p in (small.pbf, small.units, small.residents, small.config, small.meta)
    )
    assert "SYNTHETIC" in small.readme.read_text(encoding="utf-8")
    assert small.config.read_text(encoding="utf-8").startswith("# SYNTHETIC")
    header = osmium.io.Reader(str(small.pbf)).header()
    assert "SYNTHETIC" in header.get("generator")
    meta = json.loads(small.meta.read_text(encoding="utf-8"))
    assert meta["synthetic"] is True
    assert gpd.read_file(small.units, layer="units")["synthetic"].all()


def test_streets_lie_inside_their_jiezhen(small):
    jz = _jiezhen(SMALL_CODES)
    nodes, ways = _osm(small.pbf)
    street = {
        n
        for refs, tags in ways
        if "highway" in tags and "码头" not in tags.get("name", "")
        for n in refs
    }
    assert len(street) == small.counts["street_nodes"]
    xy = np.array([nodes[n] for n in sorted(street)])
    area = jz.to_crs(32651).buffer(1.0).to_crs(4326)
    inside = {c: shapely.contains_xy(g, xy[:, 0], xy[:, 1]) for c, g in area.items()}
    assert np.logical_or.reduce(list(inside.values())).all()
    # both 街镇 have their own streets, at central-city density (about 95 nodes/km² at 0.5)
    km2 = jz.to_crs(32651).area / 1e6
    for c in SMALL_CODES:
        assert 40 < inside[c].sum() / km2[c] < 300, (c, inside[c].sum(), km2[c])
    units = gpd.read_file(small.units, layer="units")
    assert sorted(units.jiezhen_code.unique()) == SMALL_CODES
    assert set(units.area_type) == {"中心城"}
    for c, g in jz.geometry.items():
        mine = units[units.jiezhen_code == c]
        assert mine.within(
            gpd.GeoSeries([g], crs=4326).to_crs(32651).buffer(1.0).to_crs(4326).iloc[0]
        ).all()
        # the units tile the 街镇
        assert math.isclose(
            mine.to_crs(32651).area.sum(),
            gpd.GeoSeries([g], crs=4326).to_crs(32651).area.iloc[0],
            rel_tol=0.01,
        )


def test_population_is_the_census_share(small):
    census = _census()
    residents = gpd.read_file(small.residents, layer="residents")
    units = gpd.read_file(small.units, layer="units")
    assert residents.population.dtype.kind == "i" and (residents.population > 0).all()
    assert residents.population.sum() == units.population.sum() == sum(small.population.values())
    for d, pop in small.population.items():
        assert small.census[d] == census[d]
        assert pop == round(small.share[d] * census[d]) and 0 < small.share[d] < 1
    by_unit = residents.groupby("unit_id").population.sum()
    assert (
        by_unit.reindex(units.unit_id).fillna(0).astype(int).tolist() == units.population.tolist()
    )


def test_whole_district_holds_its_census_total(tmp_path):
    census = _census()
    city = synth.shanghai(tmp_path, districts=["黄浦区"], density=0.25)
    residents = gpd.read_file(city.residents, layer="residents")
    assert int(residents.population.sum()) == census["310101"] == city.population["310101"]
    assert city.share == {"310101": 1.0}
    units = gpd.read_file(city.units, layer="units")
    assert units.jiezhen_code.nunique() == 10
    # about one unit per 15,500 residents
    assert 0.8 < len(units) / (census["310101"] / 15_500) < 1.2


def test_ferry_crosses_the_huangpu(small):
    assert small.counts["ferries"] >= 1
    _, ways = _osm(small.pbf)
    ferries = [t for _, t in ways if t.get("route") == "ferry"]
    assert ferries and all(t["foot"] == "yes" for t in ferries)
    assert any(t.get("waterway") == "river" and "黄浦江" in t["name"] for _, t in ways)
    net = lc.WalkNetwork.from_osm(small.pbf)  # keeps the largest connected piece
    assert "ferry" in set(net.kind)
    # the largest piece spans both banks: the ferry joins them
    nodes = net.nodes.to_crs(4326)
    jz = _jiezhen(SMALL_CODES)
    for c in SMALL_CODES:
        assert nodes.within(jz.geometry[c]).sum() > 50, c


def test_pbf_parses_as_facilities(small):
    fac = lc.facilities.from_osm(small.pbf)
    got = fac.category.value_counts()
    want = small.counts["facilities_by_category"]
    for cat in PLAIN:
        assert got.get(cat, 0) == want[cat], cat
    # every category of the profile is present in the small city
    profile = lc.load_profile("shanghai-2025")
    assert {c.id for c in profile.categories} <= set(got.index)
    assert fac.name.str.startswith("合成").all()


def test_batch_config_runs_with_local_processes(small, capsys):
    t0 = time.perf_counter()
    rc = main(["batch", str(small.config), "--scheduler", "local", "--workers", "2"])
    assert rc == 0, capsys.readouterr()
    out = small.folder / "batch_out"
    for code in SMALL_CODES:
        summary = json.loads((out / "jiezhen_code" / code / "summary.json").read_text("utf-8"))
        assert summary["n_network_nodes"] > 100
    city = pd.read_csv(out / "city_summary.csv", dtype={"district_code": str, "jiezhen_code": str})
    dist = city[city.level == "district"].groupby("district_code").population.first()
    assert dist.round().astype(int).to_dict() == small.population
    assert time.perf_counter() - t0 < 120


def test_a_jiezhen_does_not_depend_on_the_selection(small, tmp_path):
    alone = synth.shanghai(tmp_path, subdistricts=["外滩街道"], density=0.5, seed=3)
    a = gpd.read_file(alone.units, layer="units")
    b = gpd.read_file(small.units, layer="units")
    b = b[b.jiezhen_code == "310101013"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert alone.population == {"310101": small.population["310101"]}
