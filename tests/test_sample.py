"""The synthetic sample sub-district: ``data/sample/make_sample.py`` and the files it wrote.

The generator is a script beside the data, not part of the package; it is loaded here from its
path. :func:`lifecircle_geo.datasets.get_path` must find the same files.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import osmium
import pytest
import rasterio
import shapely
from openpyxl import load_workbook
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, Point, Polygon, shape

from lifecircle_geo import datasets
from lifecircle_geo.crs import gcj02_to_wgs84
from lifecircle_geo.errors import InputError

REPO_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SCRIPT = REPO_SAMPLE / "make_sample.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = module  # dataclasses look their module up while it loads
    # no data/sample/__pycache__ (it would go into the sdist)
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module


make_sample = _load_script()
Samples = tuple[Path, Path, make_sample.SampleSummary]

TO_UTM = Transformer.from_crs(4326, 32651, always_xy=True)
FACILITY_KEYS = ("amenity", "leisure", "shop", "office", "railway", "healthcare")
NOT_FOR_WALKING = {"trunk", "motorway"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    first = tmp_path_factory.mktemp("sample_a")
    second = tmp_path_factory.mktemp("sample_b")
    summary = make_sample.write_sample(first)
    make_sample.write_sample(second)
    return first, second, summary


@pytest.fixture(scope="module")
def osm(samples: Samples) -> dict:
    """Nodes (UTM position, tags) and ways (node refs, tags, UTM line) of sample.osm."""
    nodes: dict[int, tuple[tuple[float, float], dict[str, str]]] = {}
    ways: list[tuple[list[int], dict[str, str], LineString]] = []
    for obj in osmium.FileProcessor(samples[0] / "sample.osm").with_locations():
        if obj.is_node():
            xy = TO_UTM.transform(obj.location.lon, obj.location.lat)
            nodes[obj.id] = (xy, dict(obj.tags))
        elif obj.is_way():
            refs = [n.ref for n in obj.nodes]
            assert all(n.location.valid() for n in obj.nodes), f"way {obj.id} has unknown nodes"
            line = LineString([TO_UTM.transform(n.lon, n.lat) for n in obj.nodes])
            ways.append((refs, dict(obj.tags), line))
    return {"nodes": nodes, "ways": ways}


def _walkable(osm: dict) -> list[tuple[list[int], dict[str, str], LineString]]:
    return [w for w in osm["ways"] if "highway" in w[1] and w[1]["highway"] not in NOT_FOR_WALKING]


def _water_utm(osm: dict) -> Polygon:
    rings = [w[2] for w in osm["ways"] if w[1].get("natural") == "water"]
    assert len(rings) == 1
    return Polygon(rings[0].coords)


def test_generator_is_byte_deterministic(samples: Samples) -> None:
    first, second, _ = samples
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in (
        "sample.osm",
        "units.geojson",
        "boundary.geojson",
        "population.tif",
        "facilities_gcj02.xlsx",
        "README.md",
    ):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert not list(first.glob("*.tmp"))


def test_sample_is_small_and_labelled(samples: Samples) -> None:
    first, _, summary = samples
    assert sum(p.stat().st_size for p in first.iterdir()) < 3_000_000
    readme = (first / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower()
    assert "python data/sample/make_sample.py" in readme
    assert "MIT" in readme
    head = (first / "sample.osm").read_text(encoding="utf-8")[:600]
    assert "SYNTHETIC" in head and "Regenerate: python data/sample/make_sample.py" in head
    assert 'generator="lifecircle_geo data/sample/make_sample.py"' in head
    assert 2.0 < summary.area_km2 < 3.0
    assert summary.population == make_sample.SAMPLE_POPULATION


def test_embedded_sample_matches_generator(samples: Samples) -> None:
    """data/sample/ is what `python data/sample/make_sample.py` writes."""
    if not (REPO_SAMPLE / "sample.osm").exists():
        pytest.skip("data/sample/ has not been generated in this checkout")
    fresh = samples[0]
    for name in ("sample.osm", "units.geojson", "boundary.geojson", "README.md"):
        assert (REPO_SAMPLE / name).read_bytes() == (fresh / name).read_bytes(), name
    with (
        rasterio.open(REPO_SAMPLE / "population.tif") as a,
        rasterio.open(fresh / "population.tif") as b,
    ):
        assert a.transform == b.transform and a.crs == b.crs
        np.testing.assert_array_equal(a.read(1), b.read(1))
    rows_a = list(load_workbook(REPO_SAMPLE / "facilities_gcj02.xlsx").active.values)
    rows_b = list(load_workbook(fresh / "facilities_gcj02.xlsx").active.values)
    assert rows_a == rows_b


def test_population_raster(samples: Samples, osm: dict) -> None:
    with rasterio.open(samples[0] / "population.tif") as src:
        values = src.read(1)
        transform = src.transform
        assert src.crs.to_epsg() == 32651
        assert src.res == (100.0, 100.0)
        assert transform.c % 100 == 0 and transform.f % 100 == 0
        assert src.profile["compress"] == "deflate"
        assert src.nodata == -1
    assert values.dtype == np.int32
    assert int(values.sum()) == make_sample.SAMPLE_POPULATION
    assert values.min() >= 0
    rows, cols = np.indices(values.shape)
    x = transform.c + (cols + 0.5) * transform.a
    y = transform.f + (rows + 0.5) * transform.e
    centres = shapely.points(x, y)
    water = _water_utm(osm)
    on_river = shapely.contains(water, centres)
    assert on_river.sum() >= 3
    assert (values[on_river] == 0).all()
    parks = [Polygon(w[2].coords) for w in osm["ways"] if w[1].get("leisure") == "park"]
    in_park = np.zeros(values.shape, dtype=bool)
    for park in parks:
        in_park |= shapely.contains(park, centres)
    assert (values[in_park] == 0).all()
    # denser on the north bank
    river_y = np.array([water.centroid.y])
    assert values[y > river_y].sum() > values[y < river_y].sum()


def test_osm_network_and_tags(osm: dict) -> None:
    nodes, ways = osm["nodes"], osm["ways"]
    assert all(ref in nodes for refs, _, _ in ways for ref in refs)
    kinds = set()
    for tags in [t for _, t in nodes.values()] + [w[1] for w in ways]:
        for key in FACILITY_KEYS:
            if key in tags:
                kinds.add(f"{key}={tags[key]}")
        if tags.get("highway") == "bus_stop":
            kinds.add("highway=bus_stop")
    assert len(kinds) >= 8
    for needed in (
        "amenity=kindergarten",
        "amenity=childcare",
        "amenity=school",
        "amenity=clinic",
        "amenity=social_facility",
        "amenity=community_centre",
        "leisure=park",
        "amenity=marketplace",
        "railway=station",
        "office=employment_agency",
        "highway=bus_stop",
    ):
        assert needed in kinds, needed
    classes = {w[1]["highway"] for w in ways if "highway" in w[1]}
    assert {
        "residential",
        "tertiary",
        "secondary",
        "footway",
        "steps",
        "pedestrian",
        "living_street",
        "service",
        "trunk",
        "motorway",
    } <= classes
    assert any(w[1].get("access") == "private" for w in ways)
    assert any(w[1].get("name") for w in ways if w[1].get("highway") == "residential")


def test_elevated_trunk_is_not_connected(osm: dict) -> None:
    ways = osm["ways"]
    trunks = [w for w in ways if w[1].get("highway") == "trunk"]
    assert len(trunks) == 1
    refs, tags, line = trunks[0]
    assert tags["foot"] == "no" and tags["bridge"] == "yes" and tags["layer"] == "1"
    others = {r for w in ways if "highway" in w[1] and w is not trunks[0] for r in w[0]}
    assert not set(refs) & others
    crossed = [w for w in _walkable(osm) if w[2].crosses(line)]
    assert len(crossed) >= 5  # it really passes over ground streets


def test_river_is_crossed_only_by_bridges(osm: dict) -> None:
    water = _water_utm(osm)
    bridges = 0
    for _refs, tags, line in _walkable(osm):
        if line.intersects(water):
            assert tags.get("bridge") == "yes", tags
            assert tags.get("layer") == "1"
            bridges += 1
    assert 2 <= bridges <= 3


def test_walk_network_is_one_piece(osm: dict) -> None:
    walk = _walkable(osm)
    ids = sorted({r for w in walk for r in w[0]})
    index = {n: k for k, n in enumerate(ids)}
    u = [index[a] for w in walk for a in w[0][:-1]]
    v = [index[b] for w in walk for b in w[0][1:]]
    graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(len(ids), len(ids)))
    n_comp, _ = connected_components(graph, directed=False)
    assert n_comp == 1


def test_facility_nodes_sit_beside_streets(osm: dict) -> None:
    streets = shapely.union_all([w[2] for w in _walkable(osm)])
    n = 0
    for xy, tags in osm["nodes"].values():
        if any(k in tags for k in FACILITY_KEYS) or tags.get("highway") == "bus_stop":
            d = streets.distance(Point(xy))
            assert 4.9 <= d <= 40.1, (tags, d)
            n += 1
    assert n >= 30


def test_park_entrances_are_on_the_park_way(osm: dict) -> None:
    parks = [w for w in osm["ways"] if w[1].get("leisure") == "park"]
    assert parks
    for refs, _tags, _line in parks:
        assert refs[0] == refs[-1]
        assert sum(osm["nodes"][r][1].get("entrance") == "yes" for r in set(refs)) >= 2


def test_units_tile_the_boundary(samples: Samples) -> None:
    def utm(geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(
            geom, lambda c: np.column_stack(TO_UTM.transform(c[:, 0], c[:, 1]))
        )

    units_doc = json.loads((samples[0] / "units.geojson").read_text(encoding="utf-8"))
    boundary_doc = json.loads((samples[0] / "boundary.geojson").read_text(encoding="utf-8"))
    assert "crs" not in units_doc and "crs" not in boundary_doc
    feats = units_doc["features"]
    assert 4 <= len(feats) <= 5
    for f in feats:
        props = f["properties"]
        assert props["jiezhen_code"] == "310105099" and props["jiezhen_name"] == "示例街道"
        assert props["district_code"] == "310105"
        assert props["unit_id"].startswith("310105099") and len(props["unit_id"]) == 12
        assert props["unit_name"]
    units = [utm(shape(f["geometry"])) for f in feats]
    assert all(u.is_valid for u in units)
    boundary = utm(shape(boundary_doc["features"][0]["geometry"]))
    union = shapely.union_all(units)
    assert union.area == pytest.approx(boundary.area, rel=1e-6)
    assert union.symmetric_difference(boundary).area < 1.0
    for i in range(len(units)):
        for j in range(i + 1, len(units)):
            assert units[i].intersection(units[j]).area < 1.0


def test_gcj02_table(samples: Samples, osm: dict) -> None:
    ws = load_workbook(samples[0] / "facilities_gcj02.xlsx").active
    rows = list(ws.values)
    assert rows[0] == ("名称", "类型", "经度", "纬度", "地址")
    body = rows[1:]
    assert 8 <= len(body) <= 15
    kinds = {r[1] for r in body}
    assert {"幼儿园", "社区卫生服务站", "长者照护之家", "宝宝屋", "社区食堂"} <= kinds
    glon = np.array([r[2] for r in body], dtype=float)
    glat = np.array([r[3] for r in body], dtype=float)
    lon, lat = gcj02_to_wgs84(glon, glat)
    streets = shapely.union_all([w[2] for w in _walkable(osm)])
    x, y = TO_UTM.transform(lon, lat)
    d = shapely.distance(streets, shapely.points(x, y))
    assert (d <= 50.0).all(), d
    # the table really is shifted: read as WGS-84 it lands hundreds of metres off
    gx, gy = TO_UTM.transform(glon, glat)
    shift = np.hypot(gx - x, gy - y)
    assert ((shift > 400) & (shift < 600)).all(), shift


def test_datasets_finds_the_sample() -> None:
    """In a source checkout (editable install) the accessor reads data/sample/ in place."""
    assert datasets.available() == ["sample"]
    folder = datasets.get_path("sample")
    assert folder.resolve() == REPO_SAMPLE.resolve()
    for name in datasets.SAMPLE_FILES:
        assert (folder / name).is_file(), name
    with pytest.raises(ValueError, match="unknown data set 'osm'; available: sample"):
        datasets.get_path("osm")


def test_datasets_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECIRCLE_SAMPLE", str(tmp_path))
    with pytest.raises(InputError, match="LIFECIRCLE_SAMPLE="):
        datasets.get_path()
    (tmp_path / "sample.osm").write_text("<osm/>", encoding="utf-8")
    with pytest.raises(InputError, match=r"lacks facilities_gcj02\.xlsx"):
        datasets.get_path()
    for name in datasets.SAMPLE_FILES[1:]:
        (tmp_path / name).write_bytes(b"")
    assert datasets.get_path() == tmp_path


def test_script_command_line(tmp_path: Path) -> None:
    """`make sample` runs the script by path; it writes the whole folder."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "-q", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [
        "README.md",
        "boundary.geojson",
        "facilities_gcj02.xlsx",
        "population.tif",
        "sample.osm",
        "units.geojson",
    ]
    assert (tmp_path / "s" / "sample.osm").read_bytes() == (REPO_SAMPLE / "sample.osm").read_bytes()
