"""Generated community basic units: barrier-bounded blocks merged to a target size.

On the synthetic sample (data/sample) and on the real People's Square OSM extract and 街镇
polygons of ../shared (skipped when absent).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import osmium
import pytest
import shapely
from conftest import SAMPLE, shared_file

import lifecircle_geo as lc

UTM = 32651
TARGET = 12_000


def _osm_lines(path, keep) -> gpd.GeoSeries:
    """Lines of the OSM ways whose tags satisfy ``keep`` (read independently of the code)."""
    lines = []
    fp = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    )
    for way in fp:
        if keep(way.tags):
            lines.append(shapely.LineString([(n.lon, n.lat) for n in way.nodes]))
    return gpd.GeoSeries(lines, crs=4326)


def _pieces(geom) -> int:
    """Substantial parts: at least 5,000 m² and 30 m mean width (2·area/perimeter)."""
    parts = shapely.get_parts(geom)
    area = shapely.area(parts)
    width = 2.0 * area / shapely.length(parts)
    return int(((area >= 5_000) & (width >= 30)).sum())


def _cut_units(units: gpd.GeoDataFrame, lines: gpd.GeoSeries) -> list[str]:
    """Units that a line splits into two substantial parts.

    A dead-end line inside a unit does not split it, nor does a carriageway that leaves a
    sliver (the strip between a dual carriageway, merged into the unit) on its other side.
    """
    cutter = shapely.buffer(lines.to_crs(UTM).union_all(), 0.5)
    out = []
    for uid, g in zip(units.unit_id, units.to_crs(UTM).geometry, strict=True):
        if _pieces(shapely.difference(g, cutter)) > _pieces(g):
            out.append(uid)
    return out


def _check_tiling(units: gpd.GeoDataFrame, area: shapely.Geometry) -> None:
    """Units cover ``area`` (EPSG:32651) within 0.5 % and overlap by at most 1 m² pairwise."""
    geoms = units.to_crs(UTM).geometry.to_numpy()
    union = shapely.union_all(geoms)
    assert abs(union.area - area.area) <= 0.005 * area.area
    assert shapely.area(shapely.difference(area, union)) <= 0.005 * area.area
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    for i, j in zip(a, b, strict=True):
        if i < j:
            assert shapely.area(shapely.intersection(geoms[i], geoms[j])) <= 1.0


@pytest.fixture(scope="module")
def pop() -> gpd.GeoDataFrame:
    return lc.population.from_raster(SAMPLE / "population.tif")


@pytest.fixture(scope="module")
def boundary() -> gpd.GeoDataFrame:
    return gpd.read_file(SAMPLE / "boundary.geojson")


@pytest.fixture(scope="module")
def sample_units(boundary, pop) -> gpd.GeoDataFrame:
    return lc.units.generate(boundary, SAMPLE / "sample.osm", pop, target_population=TARGET)


def test_sample_units_tile_the_boundary(sample_units, boundary):
    _check_tiling(sample_units, boundary.to_crs(UTM).geometry.iat[0])
    assert sample_units.crs.to_epsg() == 4326
    assert 3 <= len(sample_units) <= 6


def test_sample_units_have_the_unit_columns(sample_units):
    assert list(sample_units.columns[:6]) == lc.units.UNIT_COLUMNS
    assert sample_units.generated.all()
    assert sample_units.unit_id.tolist() == [
        f"310105099{k:03d}" for k in range(1, len(sample_units) + 1)
    ]
    assert sample_units.unit_name.iat[0] == "生成单元01"
    assert set(sample_units.jiezhen_name) == {"示例街道"}
    assert set(sample_units.district_code) == {"310105"}


def test_sample_population_preserved(sample_units, boundary, pop):
    inside = pop[pop.within(boundary.to_crs(pop.crs).geometry.iat[0])].population.sum()
    assert sample_units.population.sum() == pytest.approx(inside, abs=1.0)


def test_sample_population_near_target(sample_units):
    assert (sample_units.population <= 26_000).all()
    ratio = sample_units.population / TARGET
    assert ((ratio >= 0.3) & (ratio <= 1.7)).mean() > 0.5


def test_sample_river_never_inside_a_unit(sample_units):
    river = _osm_lines(SAMPLE / "sample.osm", lambda t: t.get("waterway") == "river")
    assert len(river) == 1
    line = river.to_crs(UTM).iat[0]
    for g in sample_units.to_crs(UTM).geometry:
        assert shapely.length(shapely.intersection(line, shapely.buffer(g, -1.0))) <= 1.0
    assert not _cut_units(sample_units, river)


def test_sample_expressways_never_cut_a_unit(sample_units):
    roads = _osm_lines(SAMPLE / "sample.osm", lambda t: t.get("highway") in ("trunk", "motorway"))
    assert not _cut_units(sample_units, roads)


def test_sample_finer_barriers_merge_blocks(boundary, pop):
    units = lc.units.generate(
        boundary,
        SAMPLE / "sample.osm",
        pop,
        target_population=TARGET,
        barrier_highways=("motorway", "trunk", "primary", "secondary", "tertiary"),
    )
    _check_tiling(units, boundary.to_crs(UTM).geometry.iat[0])
    assert (units.n_blocks > 1).any()  # blocks were merged towards the target
    assert (units.population <= 26_000).all()
    ratio = units.population / TARGET
    assert ((ratio >= 0.3) & (ratio <= 1.7)).all()
    river = _osm_lines(SAMPLE / "sample.osm", lambda t: t.get("waterway") == "river")
    assert not _cut_units(units, river)


def test_generate_is_deterministic(boundary, pop, sample_units):
    again = lc.units.generate(boundary, SAMPLE / "sample.osm", pop, target_population=TARGET)
    assert again.drop(columns="geometry").equals(sample_units.drop(columns="geometry"))
    assert all(
        shapely.equals_exact(a, b, 1e-9)
        for a, b in zip(again.geometry, sample_units.geometry, strict=True)
    )


def test_generated_units_run_through_analyze(sample_units, pop):
    net = lc.WalkNetwork.from_osm(SAMPLE / "sample.osm")
    fac = lc.facilities.from_osm(SAMPLE / "sample.osm")
    res = lc.analyze(net, fac, sample_units, population=pop, progress=False)
    assert set(res.coverage.unit_id) == set(sample_units.unit_id)


def test_without_population_area_is_the_weight(boundary, caplog):
    with caplog.at_level(logging.INFO, logger="lifecircle_geo.units"):
        units = lc.units.generate(boundary, SAMPLE / "sample.osm", None, target_area_m2=600_000)
    assert "block area is the weight" in caplog.text
    assert units.population.isna().all()
    assert units.weight.to_numpy() == pytest.approx(units.area_m2.to_numpy())
    _check_tiling(units, boundary.to_crs(UTM).geometry.iat[0])


def test_boundary_outside_the_osm_data(boundary, pop):
    far = boundary.to_crs(UTM).translate(50_000, 0).to_crs(4326)
    with pytest.raises(lc.InputError, match="does not overlap the OSM data"):
        lc.units.generate(gpd.GeoDataFrame(geometry=far), SAMPLE / "sample.osm", pop)


def test_no_barriers_gives_one_unit_and_a_warning(tmp_path, boundary, pop, caplog):
    # an OSM file with one residential street inside the boundary: no barrier at all
    c = boundary.geometry.iat[0].centroid
    osm = tmp_path / "plain.osm"
    osm.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f'<node id="1" version="1" lat="{c.y:.7f}" lon="{c.x - 0.002:.7f}"/>\n'
        f'<node id="2" version="1" lat="{c.y:.7f}" lon="{c.x + 0.002:.7f}"/>\n'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="residential"/></way>\n</osm>\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.generate(boundary, osm, pop, target_population=5_000)
    assert len(units) == 1
    assert "too sparse" in caplog.text
    assert units.unit_id.iat[0] == "310105099001"
    _check_tiling(units, boundary.to_crs(UTM).geometry.iat[0])
    # the checker used above does see a cut: the sample's river splits this one unit
    river = _osm_lines(SAMPLE / "sample.osm", lambda t: t.get("waterway") == "river")
    assert _cut_units(units, river) == ["310105099001"]


def test_codes_from_arguments(pop, boundary):
    units = lc.units.generate(
        boundary.geometry, SAMPLE / "sample.osm", pop, target_population=TARGET, area_type="中心城"
    )
    assert units.unit_id.iat[0] == "G001"
    assert set(units.area_type) == {"中心城"}


# ------------------------------------------------------------------------------------------
# real data: the People's Square OSM extract and the real 街镇 polygons
# ------------------------------------------------------------------------------------------

_EXPRESS = ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link")


def _extract_box(path) -> shapely.Geometry:
    with open(path, encoding="utf-8") as fh:
        head = fh.read(2000)
    b = {
        k: float(head.split(f'{k}="')[1].split('"')[0])
        for k in ("minlon", "minlat", "maxlon", "maxlat")
    }
    return shapely.box(b["minlon"], b["minlat"], b["maxlon"], b["maxlat"])


def test_real_extract_units_tile_and_respect_arterials(shanghai_osm):
    box = _extract_box(shanghai_osm)
    units = lc.units.generate(
        gpd.GeoSeries([box], crs=4326),
        shanghai_osm,
        None,
        barrier_highways=_EXPRESS,
        strong_highways=_EXPRESS,
        target_area_m2=500_000,
    )
    assert len(units) >= 3
    _check_tiling(units, gpd.GeoSeries([box], crs=4326).to_crs(UTM).iat[0])
    roads = _osm_lines(
        shanghai_osm, lambda t: t.get("highway") in _EXPRESS and t.get("tunnel", "no") == "no"
    )
    assert not _cut_units(units, roads)


def test_real_jiezhen_units_nest_in_their_jiezhen(shanghai_osm):
    box = _extract_box(shanghai_osm)
    sd = gpd.read_file(shared_file("subdistricts.geojson"))
    sel = sd[sd.intersects(box)].copy()
    sel["geometry"] = sel.geometry.intersection(box)
    sel = sel[sel.to_crs(UTM).area > 10_000].rename(
        columns={"region_id": "jiezhen_code", "source_name": "jiezhen_name"}
    )
    assert len(sel) >= 3
    units = lc.units.generate(sel, shanghai_osm, None, target_area_m2=500_000)
    assert set(units.jiezhen_code) == set(sel.jiezhen_code)
    assert units.unit_id.is_unique
    for code, part in units.groupby("jiezhen_code"):
        jz = sel[sel.jiezhen_code == code].to_crs(UTM).geometry.iat[0]
        _check_tiling(part, jz)
        assert part.unit_id.str.startswith(code).all()


def test_lake_is_attached_not_a_unit(tmp_path, boundary, pop):
    # a 300 m square lake (natural=water) in the middle, one secondary road south of it
    g = boundary.geometry.iat[0]
    c = g.centroid
    d = 0.0015
    ring = [(c.x - d, c.y - d), (c.x + d, c.y - d), (c.x + d, c.y + d), (c.x - d, c.y + d)]
    minx, _, maxx, _ = g.bounds
    road = [(minx - 0.002, c.y - 2 * d), (maxx + 0.002, c.y - 2 * d)]
    nodes = "".join(
        f'<node id="{i}" version="1" lat="{y:.7f}" lon="{x:.7f}"/>\n'
        for i, (x, y) in enumerate(ring + road, start=1)
    )
    osm = tmp_path / "lake.osm"
    osm.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f'{nodes}<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>'
        '<nd ref="1"/><tag k="natural" v="water"/></way>\n'
        '<way id="11" version="1"><nd ref="5"/><nd ref="6"/><tag k="highway" v="secondary"/>'
        "</way>\n</osm>\n",
        encoding="utf-8",
    )
    units = lc.units.generate(boundary, osm, pop, target_population=TARGET)
    area = boundary.to_crs(UTM).geometry.iat[0]
    _check_tiling(units, area)
    assert len(units) == 2  # north and south of the road; the lake belongs to one of them
    lake = gpd.GeoSeries([shapely.Polygon(ring)], crs=4326).to_crs(UTM).iat[0]
    wet = [
        shapely.area(shapely.intersection(u, lake)) / shapely.area(u)
        for u in units.to_crs(UTM).geometry
    ]
    assert max(wet) < 0.5 and sum(w > 0 for w in wet) == 1
    inside = pop[pop.within(boundary.to_crs(pop.crs).geometry.iat[0])].population.sum()
    assert units.population.sum() == pytest.approx(inside, abs=1.0)


def test_bad_arguments(boundary, pop, tmp_path):
    osm = SAMPLE / "sample.osm"
    with pytest.raises(lc.InputError, match="max_population"):
        lc.units.generate(boundary, osm, pop, target_population=30_000, max_population=26_000)
    with pytest.raises(lc.InputError, match="does not exist"):
        lc.units.generate(boundary, tmp_path / "missing.osm", pop)
    with pytest.raises(lc.InputError, match="no polygon"):
        lc.units.generate(gpd.GeoSeries([shapely.Point(121.4, 31.24)], crs=4326), osm, pop)
    with pytest.raises(lc.InputError, match="'population' column"):
        lc.units.generate(boundary, osm, pop.rename(columns={"population": "p"}))
