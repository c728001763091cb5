"""Community basic units: generated ones, the checks at the door, from_parts and crosswalk.

Generated units (barrier-bounded blocks merged to a target size) on the synthetic sample
(data/sample) and on the real People's Square OSM extract and 街镇 polygons of ../shared
(skipped when absent). The checks, :func:`from_parts` and :func:`crosswalk` on small files
the tests write (GeoJSON, shapefile, GeoPackage).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import osmium
import pandas as pd
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
    kwargs = {
        "barrier_highways": _EXPRESS,
        "strong_highways": _EXPRESS,
        "target_area_m2": 500_000,
    }
    area = gpd.GeoSeries([box], crs=4326).to_crs(UTM).iat[0]
    roads = _osm_lines(
        shanghai_osm, lambda t: t.get("highway") in _EXPRESS and t.get("tunnel", "no") == "no"
    )
    # with small units kept, no arterial ever runs through a unit
    kept = lc.units.generate(box, shanghai_osm, None, min_unit_area_m2=0, **kwargs)
    assert len(kept) >= 3
    _check_tiling(kept, area)
    assert not _cut_units(kept, roads)
    # by default a unit below 20 % of the target area (a 1.3 ha block enclosed by arterials)
    # joins its neighbour even across an arterial: no sliver is left as a unit
    units = lc.units.generate(box, shanghai_osm, None, **kwargs)
    _check_tiling(units, area)
    assert len(units) < len(kept)
    assert (units.area_m2 >= 0.2 * 500_000).all()


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


# ------------------------------------------------------------------------------------------
# generated units leave no sliver of a few hundred residents as a unit
# ------------------------------------------------------------------------------------------


def _strip_osm(tmp_path, boundary) -> tuple:
    """A motorway 0.0012° inside the west edge (a strip of 610 residents) and a secondary
    road across the middle; returns (path, strip polygon in EPSG:4326)."""
    minx, miny, maxx, maxy = boundary.geometry.iat[0].bounds
    x = minx + 0.0012
    ym = 0.5 * (miny + maxy)
    pts = [(x, miny - 0.002), (x, maxy + 0.002), (minx - 0.002, ym), (maxx + 0.002, ym)]
    nodes = "".join(
        f'<node id="{i}" version="1" lat="{y:.7f}" lon="{lon:.7f}"/>\n'
        for i, (lon, y) in enumerate(pts, start=1)
    )
    osm = tmp_path / "strip.osm"
    osm.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f'{nodes}<way id="10" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="motorway"/></way>\n'
        '<way id="11" version="1"><nd ref="3"/><nd ref="4"/><tag k="highway" v="secondary"/>'
        "</way>\n</osm>\n",
        encoding="utf-8",
    )
    strip = shapely.box(minx - 1, miny - 1, x, maxy + 1).intersection(boundary.geometry.iat[0])
    return osm, strip


def test_generated_sliver_unit_joins_a_neighbour(tmp_path, boundary, pop, caplog):
    osm, strip = _strip_osm(tmp_path, boundary)
    in_strip = pop.to_crs(4326).within(strip)
    assert 100 < pop.population[in_strip].sum() < 1_000  # a sliver of a few hundred people
    # the rule off: the strip behind the motorway stays a unit of a few hundred residents
    kept = lc.units.generate(boundary, osm, pop, target_population=TARGET, min_population=0)
    assert kept.population.min() < 1_000
    with caplog.at_level(logging.INFO, logger="lifecircle_geo.units"):
        units = lc.units.generate(boundary, osm, pop, target_population=TARGET)
    assert len(units) == len(kept) - 1
    assert units.population.min() >= 0.2 * TARGET
    assert "joined its neighbour across a strong barrier" in caplog.text
    _check_tiling(units, boundary.to_crs(UTM).geometry.iat[0])
    inside = pop[pop.within(boundary.to_crs(pop.crs).geometry.iat[0])].population.sum()
    assert units.population.sum() == pytest.approx(inside, abs=1.0)


def test_generated_small_unit_threshold_is_an_argument(tmp_path, boundary, pop):
    osm, _ = _strip_osm(tmp_path, boundary)
    low = lc.units.generate(boundary, osm, pop, target_population=TARGET, min_population=500)
    assert low.population.min() >= 500
    # the default bound for a small target: 1,000 residents (not 20 % of 3,000)
    small = lc.units.generate(boundary, osm, pop, target_population=3_000)
    assert small.population.min() >= 1_000


# ------------------------------------------------------------------------------------------
# checks at the door: overlaps, duplicates, repairs, truncated column names, empty geometry
# ------------------------------------------------------------------------------------------


#: a point in the sample's UTM zone: test boxes are drawn around it in EPSG:32651
_ORIGIN = (347_000.0, 3_457_000.0)


def _units(ids, boxes, crs=UTM, **cols) -> gpd.GeoDataFrame:
    """Box units; in EPSG:32651 the boxes are placed relative to :data:`_ORIGIN`."""
    dx, dy = _ORIGIN if crs == UTM else (0.0, 0.0)
    geoms = [shapely.box(b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy) for b in boxes]
    return gpd.GeoDataFrame({"unit_id": ids, **cols}, geometry=geoms, crs=crs)


def test_overlapping_units_named_and_lower_id_keeps_the_overlap(tmp_path, caplog):
    # ids compared as numbers: "9" < "10", so unit 9 keeps the 20 m × 100 m overlap
    gdf = _units(["10", "9", "11"], [(0, 0, 100, 100), (80, 0, 180, 100), (300, 0, 400, 100)])
    path = tmp_path / "units.geojson"
    gdf.to_crs(4326).to_file(path)
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.load(path)
    assert "1 pair(s) of overlapping units: '9'/'10' 2,000 m²" in caplog.text
    assert "lower id" in caplog.text
    area = units.set_index("unit_id").to_crs(UTM).area
    assert area["9"] == pytest.approx(10_000, rel=1e-3)
    assert area["10"] == pytest.approx(8_000, rel=1e-3)
    assert area["11"] == pytest.approx(10_000, rel=1e-3)
    g = units.to_crs(UTM).geometry.to_numpy()
    assert shapely.area(shapely.intersection(g[0], g[1])) < 1.0
    assert any("overlapping" in m for m in units.attrs["unit_checks"])
    with pytest.raises(lc.InputError, match=r"'9'/'10' 2,000 m².*strict"):
        lc.units.load(path, strict=True)


def test_residents_in_an_overlap_count_once(pop):
    # two real sample units made to overlap: after prepare, every point is in at most one
    units = lc.units.load(SAMPLE / "units.geojson").to_crs(UTM)
    grown = units.copy()
    grown.loc[0, "geometry"] = units.geometry.iat[0].buffer(150)
    fixed = lc.units.prepare(grown)
    assert fixed.attrs["unit_checks"]
    pts = pop.to_crs(UTM)
    hits = gpd.sjoin(pts, fixed[["unit_id", "geometry"]], predicate="within")
    assert not hits.index.duplicated().any()


def test_duplicate_geometry_under_a_new_id(caplog):
    gdf = _units(["A1", "A2", "A1-copy"], [(0, 0, 100, 100), (100, 0, 200, 100), (0, 0, 100, 100)])
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.prepare(gdf)
    assert "unit 'A1-copy' has the same geometry as unit 'A1'" in caplog.text
    assert "dropped duplicate unit(s) ['A1-copy']" in caplog.text
    assert units.unit_id.tolist() == ["A1", "A2"]
    with pytest.raises(lc.InputError, match="'A1-copy' has the same geometry as unit 'A1'"):
        lc.units.prepare(gdf, strict=True)


def test_enclosed_unit_is_cut_out_of_its_surroundings(caplog):
    gdf = _units(["1", "2"], [(0, 0, 300, 300), (100, 100, 200, 200)])
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.prepare(gdf)
    assert "unit '2' lies inside unit '1'" in caplog.text
    assert units.set_index("unit_id").area.to_dict() == {"1": 80_000.0, "2": 10_000.0}


def test_digitising_noise_is_not_an_overlap():
    gdf = _units(["1", "2"], [(0, 0, 100, 100), (99.995, 0, 200, 100)])  # 0.5 m² overlap
    units = lc.units.prepare(gdf)
    assert units.attrs["unit_checks"] == []


def test_self_intersecting_unit_is_repaired_and_named(caplog):
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    gdf = gpd.GeoDataFrame(
        {"unit_id": ["U7", "U8"], "unit_name": ["蝴蝶社区", "方社区"]},
        geometry=[bowtie, shapely.box(200, 0, 300, 100)],
        crs=UTM,
    )
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.prepare(gdf, source="bowtie.gpkg")
    assert "bowtie.gpkg: unit 'U7' (蝴蝶社区) had an invalid geometry (Self-intersection" in (
        caplog.text
    )
    assert "area 0 m² → 5,000 m²" in caplog.text  # the bow tie's signed areas cancel
    assert "U8" not in caplog.text
    assert units.geometry.is_valid.all()
    assert units.area.iat[0] == pytest.approx(5_000)


def test_empty_null_and_non_polygon_geometries_named():
    gdf = _units(["1", "2", "3"], [(0, 0, 1, 1)] * 3)
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "geometry"] = shapely.Polygon()
    with pytest.raises(lc.InputError, match=r"units \['2', '3'\] have no geometry"):
        lc.units.prepare(gdf)
    pts = gpd.GeoDataFrame({"unit_id": ["P"]}, geometry=[shapely.Point(0, 0)], crs=UTM)
    with pytest.raises(lc.InputError, match=r"\['P \(Point\)'\] are not polygons"):
        lc.units.prepare(pts)


def test_units_without_an_id_named():
    gdf = _units(["1", None, " "], [(0, 0, 1, 1), (1, 0, 2, 1), (2, 0, 3, 1)])
    with pytest.raises(lc.InputError, match=r"features \[2, 3\] \(1-based\) have no unit_id"):
        lc.units.prepare(gdf)


def test_numeric_ids_read_as_floats_keep_their_digits():
    gdf = _units([310105099001.0, 310105099002.0], [(0, 0, 1, 1), (1, 0, 2, 1)])
    assert lc.units.prepare(gdf).unit_id.tolist() == ["310105099001", "310105099002"]


def _write_shapefile(gdf: gpd.GeoDataFrame, path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Normalized/laundered field name" is the point
        gdf.to_file(path, driver="ESRI Shapefile", encoding="utf-8")


def test_shapefile_truncated_column_names_recognised(tmp_path, caplog):
    gdf = _units(
        ["1", "2"],
        [(0, 0, 100, 100), (100, 0, 200, 100)],
        crs=4326,
        unit_name=["一", "二"],
        jiezhen_code=["310105099", "310105099"],
        jiezhen_name=["示例街道", "示例街道"],
        district_code=["310105", "310105"],
    )
    gdf["geometry"] = gdf.geometry.scale(1e-3, 1e-3, origin=(0, 0)).translate(121.4, 31.2)
    path = tmp_path / "units.shp"
    _write_shapefile(gdf, path)
    raw = gpd.read_file(path)
    assert {"jiezhen_co", "jiezhen_na", "district_c"} <= set(raw.columns)
    with caplog.at_level(logging.INFO, logger="lifecircle_geo.units"):
        units = lc.units.load(path)
    assert set(units.jiezhen_code) == {"310105099"}
    assert set(units.jiezhen_name) == {"示例街道"}
    assert set(units.district_code) == {"310105"}
    assert "column 'jiezhen_co' read as jiezhen_code" in caplog.text
    # upper case, as ArcGIS writes them
    _write_shapefile(raw.rename(columns=str.upper).set_geometry("GEOMETRY"), tmp_path / "up.shp")
    upper = lc.units.load(tmp_path / "up.shp")
    assert set(upper.jiezhen_code) == {"310105099"}
    assert upper.unit_name.tolist() == ["一", "二"]


def test_shapefile_chinese_names_cut_mid_character(tmp_path, caplog):
    # 街镇代码 is 12 bytes in UTF-8: the shapefile keeps 10, cutting the last character in two
    gdf = _units(
        ["1", "2"],
        [(0, 0, 1, 1), (1, 0, 2, 1)],
        crs=4326,
        街镇代码=["310105099", "310105099"],
        单元名称=["示例一", "示例二"],
    )
    gdf["geometry"] = gdf.geometry.scale(1e-3, 1e-3, origin=(0, 0)).translate(121.4, 31.2)
    path = tmp_path / "cn.shp"
    _write_shapefile(gdf, path)
    with caplog.at_level(logging.INFO, logger="lifecircle_geo.units"):
        units = lc.units.load(path)
    assert set(units.jiezhen_code) == {"310105099"}
    assert units.unit_name.tolist() == ["示例一", "示例二"]
    assert "cut inside a character" in caplog.text


def test_lookalike_column_reported(caplog):
    gdf = _units(["1"], [(0, 0, 1, 1)], jiezhen_c1=["310105099"])
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.prepare(gdf, source="u.shp")
    assert units.jiezhen_code.iat[0] == ""
    assert "column 'jiezhen_c1' looks like jiezhen_code" in caplog.text
    assert "columns={'jiezhen_code': 'jiezhen_c1'}" in caplog.text
    fixed = lc.units.prepare(gdf, columns={"jiezhen_code": "jiezhen_c1"})
    assert fixed.jiezhen_code.iat[0] == "310105099"
    assert fixed.attrs["unit_checks"] == []


def test_geopackage_units_with_overlap(tmp_path):
    gdf = _units(["1", "2"], [(0, 0, 100, 100), (50, 0, 150, 100)], 单元名称=["甲", "乙"])
    path = tmp_path / "units.gpkg"
    gdf.to_file(path, layer="units", driver="GPKG")
    units = lc.units.load(path, layer="units")
    assert units.unit_name.tolist() == ["甲", "乙"]
    assert units.area.tolist() == pytest.approx([10_000, 5_000])
    assert (
        "units.gpkg: 1 pair(s) of overlapping units: '1'/'2' 5,000 m²"
        in (units.attrs["unit_checks"][0])
    )


def test_sample_units_pass_the_checks_silently():
    units = lc.units.load(SAMPLE / "units.geojson", strict=True)
    assert len(units) == 5
    assert units.attrs["unit_checks"] == []


# ------------------------------------------------------------------------------------------
# from_parts: units from 居委/村 polygons
# ------------------------------------------------------------------------------------------


def _parts(rows) -> gpd.GeoDataFrame:
    """Rows of (居委 name, unit key, box) in EPSG:32651."""
    boxes = _units([r[1] for r in rows], [r[2] for r in rows])
    return gpd.GeoDataFrame(
        {"居委": [r[0] for r in rows], "unit": [r[1] for r in rows]},
        geometry=boxes.geometry.to_numpy(),
        crs=UTM,
    )


def test_from_parts_dissolves_by_key(tmp_path):
    parts = _parts(
        [
            ("东居委", "U1", (0, 0, 100, 100)),
            ("西居委", "U1", (100, 0, 200, 100)),
            ("南居委", "U2", (0, -100, 200, 0)),
        ]
    )
    parts["街镇代码"] = "310105099"
    parts["单元名称"] = ["一社区", "一社区", "二社区"]
    parts["population"] = [1_000, 2_000, 4_000]
    path = tmp_path / "parts.gpkg"
    parts.to_crs(4326).to_file(path, driver="GPKG")
    units = lc.units.from_parts(path, "unit", name="单元名称", part_name="居委")
    assert list(units.columns[:6]) == lc.units.UNIT_COLUMNS
    assert units.unit_id.tolist() == ["U1", "U2"]
    assert units.unit_name.tolist() == ["一社区", "二社区"]
    assert units.parts.tolist() == ["东居委、西居委", "南居委"]
    assert units.n_parts.tolist() == [2, 1]
    assert units.population.tolist() == [3_000, 4_000]
    assert set(units.jiezhen_code) == {"310105099"}
    assert units.to_crs(UTM).area.tolist() == pytest.approx([20_000, 20_000], rel=1e-3)
    assert units.attrs["unit_checks"] == []
    assert units.crs.to_epsg() == 4326


def test_from_parts_names_parts_without_a_key(caplog):
    parts = _parts([("东居委", "U1", (0, 0, 100, 100)), ("西居委", None, (100, 0, 200, 100))])
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.from_parts(parts, "unit", part_name="居委")
    assert "parts without a 'unit' value: ['row 2 (西居委)']" in caplog.text
    assert units.unit_id.tolist() == ["U1"]
    with pytest.raises(lc.InputError, match=r"row 2 \(西居委\).*strict"):
        lc.units.from_parts(parts, "unit", part_name="居委", strict=True)


def test_from_parts_names_overlaps_between_units(caplog):
    parts = _parts(
        [
            ("东居委", "U2", (0, 0, 100, 100)),
            ("西居委", "U1", (90, 0, 200, 100)),
            ("北居委", "U2", (0, 100, 200, 200)),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.from_parts(parts, "unit", part_name="居委")
    assert "row 1 (东居委) [U2] / row 2 (西居委) [U1] 1,000 m²" in caplog.text
    area = units.set_index("unit_id").area
    assert area["U1"] == pytest.approx(11_000)  # the lower id keeps the overlap
    assert area["U2"] == pytest.approx(29_000)
    with pytest.raises(lc.InputError, match="overlap"):
        lc.units.from_parts(parts, "unit", part_name="居委", strict=True)


def test_from_parts_gaps_named_small_ones_filled(caplog):
    # a 10 m × 10 m hole and a 100 m × 100 m hole enclosed by the parts
    ring = shapely.box(0, 0, 400, 300).difference(shapely.box(50, 50, 60, 60))
    ring = ring.difference(shapely.box(200, 100, 300, 200))
    left = ring.intersection(shapely.box(0, 0, 150, 300))
    right = ring.intersection(shapely.box(150, 0, 400, 300))
    parts = gpd.GeoDataFrame(
        {"居委": ["甲", "乙"], "unit": ["U1", "U2"]}, geometry=[left, right], crs=UTM
    ).translate(*_ORIGIN)
    parts = gpd.GeoDataFrame({"居委": ["甲", "乙"], "unit": ["U1", "U2"]}, geometry=parts)
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        units = lc.units.from_parts(parts, "unit")
    assert "1 small gap(s) between parts filled: 100 m² at lon" in caplog.text
    assert "→ 'U1'" in caplog.text
    assert "1 gap(s) between parts larger than 1,000 m² left open: 10,000 m²" in caplog.text
    assert "between units ['U2']" in caplog.text
    assert units.area.sum() == pytest.approx(400 * 300 - 10_000)
    with pytest.raises(lc.InputError, match="left open"):
        lc.units.from_parts(parts, "unit", strict=True)
    filled = lc.units.from_parts(parts, "unit", max_gap_m2=20_000)
    assert filled.area.sum() == pytest.approx(400 * 300)


def test_from_parts_names_disagreeing_hierarchy_and_missing_column(caplog):
    parts = _parts([("东", "U1", (0, 0, 100, 100)), ("西", "U1", (100, 0, 200, 100))])
    parts["jiezhen_code"] = ["310105099", "310105098"]
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.units"):
        lc.units.from_parts(parts, "unit")
    assert "the parts of unit 'U1' disagree on jiezhen_code" in caplog.text
    with pytest.raises(lc.InputError, match="did you mean 'unit'"):
        lc.units.from_parts(parts, "units")


# ------------------------------------------------------------------------------------------
# crosswalk: two polygon layers into one partition with shares
# ------------------------------------------------------------------------------------------


def _grid(boundary_utm: shapely.Geometry, size_m: float) -> gpd.GeoDataFrame:
    """Square governance grids covering a polygon, clipped to it."""
    minx, miny, maxx, maxy = boundary_utm.bounds
    cells, names = [], []
    for i, x in enumerate(range(int(minx), int(maxx) + 1, int(size_m))):
        for j, y in enumerate(range(int(miny), int(maxy) + 1, int(size_m))):
            c = shapely.box(x, y, x + size_m, y + size_m).intersection(boundary_utm)
            if shapely.area(c) > 0:
                cells.append(c)
                names.append(f"网格{i:02d}{j:02d}")
    return gpd.GeoDataFrame({"grid_id": names}, geometry=cells, crs=UTM)


def _sums(cw: gpd.GeoDataFrame, key: str, column: str) -> pd.Series:
    return cw.dropna(subset=[key]).groupby(key)[column].sum()


def test_crosswalk_shares_sum_to_one_per_source_polygon(tmp_path, boundary):
    units = lc.units.load(SAMPLE / "units.geojson")
    grids = _grid(boundary.to_crs(UTM).geometry.iat[0], 600)
    gpath = tmp_path / "grids.shp"
    _write_shapefile(grids.to_crs(4326), gpath)
    cw = lc.units.crosswalk(
        gpath,
        SAMPLE / "units.geojson",
        a_key="grid_id",
        b_key="unit_id",
        population=SAMPLE / "population.tif",
    )
    assert cw.crs.to_epsg() == 4326
    for key, suffix in (("grid_id", "a"), ("unit_id", "b")):
        for col in (f"area_share_{suffix}", f"pop_share_{suffix}"):
            sums = _sums(cw, key, col)
            assert sums.to_numpy() == pytest.approx(1.0, abs=1e-9), col
    assert set(cw.unit_id.dropna()) == set(units.unit_id)
    assert set(cw.grid_id.dropna()) == set(grids.grid_id)
    # residents conserved: every populated cell centre inside either layer counts once
    pop = lc.population.from_raster(SAMPLE / "population.tif").to_crs(4326)
    cover = shapely.union_all([units.union_all(), grids.to_crs(4326).union_all()])
    assert cw.population.sum() == pytest.approx(pop[pop.intersects(cover)].population.sum())
    # the pieces are a partition: no two overlap, and together they cover both layers
    g = cw.to_crs(UTM).geometry.to_numpy()
    left, right = shapely.STRtree(g).query(g, predicate="intersects")
    keep = left < right
    assert shapely.area(shapely.intersection(g[left[keep]], g[right[keep]])).max() < 1.0
    both = shapely.union_all([units.to_crs(UTM).union_all(), grids.union_all()])
    assert cw.area_m2.sum() == pytest.approx(both.area, rel=1e-6)


def test_crosswalk_population_points_and_column(boundary, pop):
    units = lc.units.load(SAMPLE / "units.geojson")
    grids = _grid(boundary.to_crs(UTM).geometry.iat[0], 500)
    pts = lc.units.crosswalk(grids, units, a_key="grid_id", b_key="unit_id", population=pop)
    inside = pop.to_crs(4326).intersects(units.union_all())
    assert pts.population.sum() == pytest.approx(pop.population[inside].sum())
    # a column of a: spread over a's pieces by area
    grids["people"] = 1_000.0
    col = lc.units.crosswalk(grids, units, a_key="grid_id", b_key="unit_id", population="people")
    assert col.population.to_numpy() == pytest.approx(1_000 * col.area_share_a.to_numpy())
    assert _sums(col, "unit_id", "pop_share_b").to_numpy() == pytest.approx(1.0)


def test_crosswalk_polygon_without_residents_takes_area_shares():
    a = _units(["A"], [(0, 0, 200, 100)])
    b = _units(["B1", "B2"], [(0, 0, 50, 100), (50, 0, 200, 100)])
    pts = gpd.GeoDataFrame({"population": [0.0]}, geometry=[shapely.Point(_ORIGIN)], crs=UTM)
    cw = lc.units.crosswalk(a, b, a_key="unit_id", b_key="unit_id", population=pts)
    assert list(cw.columns[1:3]) == ["unit_id_a", "unit_id_b"]  # same key name: suffixed
    assert cw.pop_share_a.tolist() == pytest.approx([0.25, 0.75])
    assert cw.pop_share_a.sum() == pytest.approx(1.0)


def test_crosswalk_flags_slivers_and_says_where_they_go(boundary, pop):
    units = lc.units.load(SAMPLE / "units.geojson").to_crs(UTM)
    # the same units redrawn 3 m off: every piece but one per unit is a thin sliver
    shifted = units.assign(unit_id="R" + units.unit_id).translate(3, 2)
    shifted = gpd.GeoDataFrame(units.assign(unit_id="R" + units.unit_id), geometry=shifted)
    cw = lc.units.crosswalk(units, shifted, a_key="unit_id", b_key="unit_id", population=pop)
    main = cw[~cw.sliver]
    assert len(main) == len(units)
    assert (main.unit_id_b == "R" + main.unit_id_a).all()
    slivers = cw[cw.sliver]
    assert len(slivers) > 0
    assert (slivers.width_m < 5).all()
    assert slivers.merge_into.notna().all()
    target = cw.set_index("piece_id").loc[slivers.merge_into.astype(int)]
    assert (~target.sliver).all()
    # each sliver joins a piece that shares its a or b polygon
    same = (target.unit_id_a.to_numpy() == slivers.unit_id_a.to_numpy()) | (
        target.unit_id_b.to_numpy() == slivers.unit_id_b.to_numpy()
    )
    assert same.all()
    assert (slivers.merge_keys != "").all()
    assert cw.attrs["crosswalk"]["slivers"] == len(slivers)
    # merged: one piece per unit, everything conserved, shares still sum to 1
    merged = lc.units.crosswalk(
        units, shifted, a_key="unit_id", b_key="unit_id", population=pop, merge_slivers=True
    )
    assert len(merged) == len(units) and not merged.sliver.any()
    assert merged.n_merged.sum() == len(slivers)
    assert (merged.unit_id_b == "R" + merged.unit_id_a).all()
    assert merged.area_m2.sum() == pytest.approx(cw.area_m2.sum())
    assert merged.population.sum() == pytest.approx(cw.population.sum())
    for key, col in (("unit_id_a", "pop_share_a"), ("unit_id_b", "area_share_b")):
        assert _sums(merged, key, col).to_numpy() == pytest.approx(1.0)


def test_crosswalk_dense_small_piece_is_not_a_sliver():
    a = _units(["A1", "A2"], [(0, 0, 100, 100), (100, 0, 200, 100)])
    b = _units(["B"], [(0, 0, 110, 100)])  # a 10 m × 100 m piece of A2 inside B
    pts = gpd.GeoDataFrame(
        {"population": [500.0, 10.0]},
        geometry=[shapely.Point(_ORIGIN[0] + 105, _ORIGIN[1] + 50), shapely.Point(_ORIGIN)],
        crs=UTM,
    )
    quiet = lc.units.crosswalk(a, b, a_key="unit_id", b_key="unit_id")
    piece = (quiet.unit_id_a == "A2") & (quiet.unit_id_b == "B")
    assert not quiet.sliver[piece].any()  # 1,000 m², 10 m wide, 10 % of A2: not small
    strict = lc.units.crosswalk(
        a, b, a_key="unit_id", b_key="unit_id", min_area_m2=2_000, population=pts
    )
    assert not strict.sliver[piece].any()  # small, but home to 500 residents
    empty = lc.units.crosswalk(a, b, a_key="unit_id", b_key="unit_id", min_area_m2=2_000)
    assert empty.sliver[piece].all()


def test_crosswalk_bad_keys():
    a = _units(["A", "A"], [(0, 0, 1, 1), (1, 0, 2, 1)])
    b = _units(["B"], [(0, 0, 2, 1)])
    with pytest.raises(lc.InputError, match=r"not unique: \['A'\]"):
        lc.units.crosswalk(a, b, a_key="unit_id", b_key="unit_id")
    with pytest.raises(lc.InputError, match="did you mean 'unit_id'"):
        lc.units.crosswalk(b, b, a_key="unit_ids", b_key="unit_id")
    with pytest.raises(lc.InputError, match="does not exist"):
        lc.units.crosswalk("nowhere.geojson", b, a_key="unit_id", b_key="unit_id")
    with pytest.raises(lc.InputError, match="'pop' is neither a column of a"):
        lc.units.crosswalk(b, b, a_key="unit_id", b_key="unit_id", population="pop")


def test_real_jiezhen_crosswalk_and_districts_from_parts():
    # the real 街镇 and district polygons of 黄浦, 徐汇 and 静安 (drawn independently: their
    # borders disagree by metres, with real overlaps and gaps)
    codes = ["310101", "310104", "310106"]
    sd = gpd.read_file(shared_file("subdistricts.geojson"))
    sd = sd[sd.region_group.isin(codes)]
    d = gpd.read_file(shared_file("districts.geojson"))
    d = d[d.region_id.isin(codes)]
    cw = lc.units.crosswalk(sd, d, a_key="region_id", b_key="region_id")
    for key, col in (("region_id_a", "area_share_a"), ("region_id_b", "area_share_b")):
        assert _sums(cw, key, col).to_numpy() == pytest.approx(1.0)
    largest = (
        cw.dropna(subset=["region_id_a"])
        .sort_values("area_m2")
        .drop_duplicates("region_id_a", keep="last")
    )
    district = sd.set_index("region_id").region_group
    assert (largest.region_id_b.to_numpy() == district[largest.region_id_a].to_numpy()).all()
    assert (largest.area_share_a > 0.85).all()  # 虹梅路街道: 14 % outside its district polygon
    # the disagreements are slivers: many pieces, a tiny share of the area
    assert cw.sliver.sum() >= 10
    assert cw.area_m2[cw.sliver].sum() < 0.02 * cw.area_m2.sum()
    # the districts rebuilt from their 街镇: the same areas within 1 %
    units = lc.units.from_parts(sd, "region_group", part_name="source_name")
    assert sorted(units.unit_id) == codes
    assert any(
        "overlap(s) between parts of different units" in m for m in units.attrs["unit_checks"]
    )
    mine = units.to_crs(UTM).set_index("unit_id").area
    real = d.to_crs(UTM).set_index("region_id").area
    assert (mine / real[mine.index]).to_numpy() == pytest.approx(1.0, abs=0.01)
