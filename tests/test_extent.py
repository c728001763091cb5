"""The street data's extent, units that reach beyond it, and what analyze does with them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.extent import clip_units, network_extent, network_share
from lifecircle_geo.mock import regular_grid

X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai
CRS = 32651


def _grid(n: int, step_m: float, x0: float = X0, y0: float = Y0) -> lc.WalkNetwork:
    return lc.WalkNetwork.from_arrays(*regular_grid(n, n, step_m, x0, y0), crs=CRS)


def test_extent_of_a_grid_is_the_grid_plus_the_distance():
    net = _grid(5, 100.0)  # a 400 m square of streets
    ext = network_extent(net, within_m=100.0, cell_m=5.0)
    # 600 m square with rounded corners: 600² − (4 − π) · 100²
    expected = 600.0**2 - (4 - np.pi) * 100.0**2
    assert ext.area == pytest.approx(expected, rel=0.03)
    assert ext.contains(shapely.Point(X0 + 200, Y0 + 200))
    assert not ext.contains(shapely.Point(X0 + 700, Y0 + 200))


def test_a_park_ringed_by_streets_is_inside():
    # a ring road around a 1 km park without a street inside: the hole is filled
    ring = np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], dtype=float)
    net = lc.WalkNetwork.from_arrays(
        ring[:, 0] + X0, ring[:, 1] + Y0, [0, 1, 2, 3], [1, 2, 3, 0], [1000.0] * 4, crs=CRS
    )
    ext = network_extent(net, within_m=100.0)
    park = gpd.GeoDataFrame(
        {"unit_id": ["park"]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=CRS
    )
    assert network_share(park, ext).item() == pytest.approx(1.0)


def test_ferry_lines_are_not_extent():
    # two 100 m streets 2 km apart joined by a ferry: the water between is not covered
    x = np.array([0.0, 100.0, 2100.0, 2200.0]) + X0
    y = np.full(4, Y0)
    net = lc.WalkNetwork.from_arrays(
        x, y, [0, 1, 2], [1, 2, 3], [100.0, 2000.0, 100.0], kind=["walk", "ferry", "walk"], crs=CRS
    )
    ext = network_extent(net, within_m=50.0, cell_m=5.0)
    assert not ext.contains(shapely.Point(X0 + 1100, Y0))
    assert ext.contains(shapely.Point(X0 + 50, Y0)) and ext.contains(shapely.Point(X0 + 2150, Y0))


@pytest.mark.parametrize(
    ("within_m", "cell_m"), [(250.0, 25.0), (100.0, 5.0), (30.0, 7.0), (10.0, 25.0), (52.5, 2.5)]
)
def test_disk_dilation_and_hole_filling_are_scipys(within_m, cell_m):
    # the distance transform and the labelling give exactly the cells of a binary dilation
    # with the disk and of binary_fill_holes, on sparse random streets with rings and holes
    from scipy import ndimage

    from lifecircle_geo.extent import _dilate_disk, _fill_holes

    rng = np.random.default_rng(int(within_m * 10 + cell_m))
    grid = rng.random((150, 170)) < 0.004
    grid[40:90, 60] = grid[40:90, 120] = grid[40, 60:121] = grid[89, 60:121] = True  # a ring
    r = int(np.ceil(within_m / cell_m))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx**2 + yy**2) * cell_m**2 <= within_m**2
    dilated = _dilate_disk(grid, within_m, cell_m)
    np.testing.assert_array_equal(dilated, ndimage.binary_dilation(grid, structure=disk))
    for g in (grid, dilated, ~dilated, np.zeros_like(grid), np.ones_like(grid)):
        np.testing.assert_array_equal(_fill_holes(g), ndimage.binary_fill_holes(g))
    assert not _dilate_disk(np.zeros_like(grid), within_m, cell_m).any()
    # a grid narrower than the disk: rows without a street stay empty unless the disk reaches
    narrow = np.zeros((30, 3), dtype=bool)
    narrow[12, 1] = True
    np.testing.assert_array_equal(
        _dilate_disk(narrow, within_m, cell_m), ndimage.binary_dilation(narrow, structure=disk)
    )


def test_clip_units_keeps_the_covered_part():
    net = _grid(5, 100.0)
    units = gpd.GeoDataFrame(
        {"unit_id": ["in", "half", "out"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 400, Y0 + 400),
            shapely.box(X0 + 200, Y0, X0 + 1200, Y0 + 400),
            shapely.box(X0 + 5000, Y0, X0 + 5400, Y0 + 400),
        ],
        crs=CRS,
    ).to_crs(4326)
    clipped = clip_units(units, net, within_m=100.0)
    assert clipped["unit_id"].tolist() == ["in", "half"]  # "out" is dropped, logged
    assert clipped.crs == units.crs
    share = clipped.set_index("unit_id")["network_share"]
    assert share["in"] == pytest.approx(1.0)
    assert share["half"] == pytest.approx(0.3, abs=0.03)  # x 200..500 of 200..1200
    area = clipped.to_crs(CRS).set_index("unit_id").area
    assert area["half"] == pytest.approx(300 * 400, abs=25 * 400)  # to a 25 m cell


@pytest.fixture(scope="module")
def half_outside():
    """Unit A on the streets; unit B reaches 1 km east of the street data."""
    net = _grid(5, 100.0)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B"],
            "unit_name": ["甲", "乙"],
            "jiezhen_code": "J1",
            "jiezhen_name": "测试街道",
            "district_code": "310105",
        },
        geometry=[
            shapely.box(X0 - 20, Y0 - 20, X0 + 200, Y0 + 420),
            shapely.box(X0 + 200, Y0 - 20, X0 + 1400, Y0 + 420),
        ],
        crs=CRS,
    )
    pts = [(0, 0, 100), (100, 400, 100), (300, 200, 40), (400, 400, 10), (1300, 200, 60)]
    pop = gpd.GeoDataFrame(
        {"population": [p for *_, p in pts]},
        geometry=[shapely.Point(X0 + a, Y0 + b) for a, b, _ in pts],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {"facility_id": ["k1"], "name": ["测试幼儿园"], "category": ["kindergarten"]},
        geometry=[shapely.Point(X0, Y0)],
        crs=CRS,
    )
    return lc.analyze(
        net, fac, units, population=pop, progress=False, max_snap_m=300, complete=True
    )


def test_unit_beyond_the_street_data_is_flagged(half_outside):
    units = half_outside.units.set_index("unit_id")
    assert not units.loc["A", "partial_network"] and units.loc["A", "network_share"] > 0.99
    assert units.loc["B", "partial_network"]
    # streets end at x = 400 (+250 m extent) of B's 200..1400: about 37 % inside
    assert units.loc["B", "network_share"] == pytest.approx(450 / 1200, abs=0.03)
    # the resident 900 m east of the last street is reported, per unit
    assert units.loc["B", "far_population"] == 60.0 and units.loc["A", "far_population"] == 0.0
    warned = [w for w in half_outside.meta["warnings"] if "beyond the street data" in w]
    assert len(warned) == 1 and "B (" in warned[0] and "A (" not in warned[0]
    assert half_outside.meta["partial_network_units"] == ["B"]


def test_partial_units_make_no_gap_and_no_project(half_outside):
    cov = half_outside.coverage
    assert set(cov.loc[cov.unit_id == "B", "status"]) == {"partial network"}
    assert "partial network" not in set(cov.loc[cov.unit_id == "A", "status"])
    # B's kindergarten share is measured (children 3-6 of its 110 residents) but not trusted
    kb = cov.set_index(["unit_id", "category"]).loc[("B", "kindergarten")]
    share_3_6 = half_outside.profile.target_groups["3-6"].default_share
    assert kb.population == pytest.approx(110.0 * share_3_6) and np.isfinite(kb.share)
    assert "B" not in set(half_outside.gaps["unit_id"])
    # no package is made for B's gaps (a site standing in B may still serve A)
    assert "乙" not in " ".join(half_outside.projects["gap_note_zh"])
    # A's gaps (all declared-complete categories without a facility) still make projects
    assert "A" in set(half_outside.gaps["unit_id"])


def test_partial_network_in_outputs(half_outside, tmp_path):
    import openpyxl
    import pyogrio

    files = half_outside.write(tmp_path / "out")
    units = pyogrio.read_dataframe(files["gpkg"], layer="units")
    assert units.set_index("unit_id").loc["B", "partial_network"]
    cov = pyogrio.read_dataframe(files["gpkg"], layer="coverage")
    assert set(cov.loc[cov.unit_id == "B", "status"]) == {"partial network"}
    ws = openpyxl.load_workbook(files["xlsx"])["单元覆盖 Unit coverage"]
    head = [c.value for c in ws[1]]
    col = head.index("状态 / Status")
    values = {row[col] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert "路网不全 partial network" in values
    html = files["html"].read_text(encoding="utf-8")
    assert "路网不全" in html and '"partial_network": true' in html.replace(":true", ": true")
