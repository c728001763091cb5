"""Resident points and their target groups (issue 10 item 4), on files the tests write.

Layout used by most tests (EPSG:32651, metres): three 100 m × 100 m units side by side,
U1 and U2 in 街镇 J1, U3 in 街镇 J2, and four resident points:
P1 (50, 50) 1000 people in U1, P2 (150, 50) 500 in U2, P3 (250, 50) 200 in U3,
P4 (150, 20) 300 in U2 (2000 in all).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import Affine

from lifecircle_geo import population as lc_pop
from lifecircle_geo.errors import InputError
from lifecircle_geo.network import WalkNetwork

CRS = "EPSG:32651"
CENSUS = "2020 census"


@pytest.fixture
def units(tmp_path) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "jiezhen_code": ["J1", "J1", "J2"],
            "district_code": ["D1", "D1", "D1"],
        },
        geometry=[shapely.box(x, 0, x + 100, 100) for x in (0, 100, 200)],
        crs=CRS,
    )
    path = tmp_path / "units.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return gpd.read_file(path)


@pytest.fixture
def points(tmp_path) -> gpd.GeoDataFrame:
    """The four resident points, through a GeoJSON file and from_points."""
    gdf = gpd.GeoDataFrame(
        {"人口": [1000, 500, 200, 300]},
        geometry=shapely.points([50, 150, 250, 150], [50, 50, 50, 20]),
        crs=CRS,
    )
    path = tmp_path / "residents.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return lc_pop.from_points(gpd.read_file(path), "人口")


def write_csv(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def col(gdf: gpd.GeoDataFrame, group: str) -> list[float]:
    return np.round(gdf[lc_pop.group_column(group)].to_numpy(float), 6).tolist()


# ------------------------------------------------------------------ column convention


def test_group_column_names():
    assert lc_pop.group_column("60+") == "population_60+"
    assert lc_pop.group_column("0-3") == "population_0-3"
    assert lc_pop.group_column("all") == "population"
    frame = pd.DataFrame(columns=["population", "population_60+", "population_0-3", "x"])
    assert lc_pop.group_columns(frame) == {"60+": "population_60+", "0-3": "population_0-3"}
    with pytest.raises(InputError, match="empty"):
        lc_pop.group_column(" ")


# ------------------------------------------------------------------ readers with groups


def write_tif(path, cells, *, crs=CRS, origin=(0.0, 200.0), cell_m=100.0, bands=None):
    arrays = bands if bands is not None else [cells]
    arr = np.asarray(arrays, dtype="float32")
    profile = {
        "driver": "GTiff",
        "width": arr.shape[2],
        "height": arr.shape[1],
        "count": arr.shape[0],
        "dtype": "float32",
        "crs": crs,
        "transform": Affine(cell_m, 0, origin[0], 0, -cell_m, origin[1]),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
    return path


ALL_CELLS = [[100, 0, 50], [20, 10, 0]]


def test_from_raster_group_rasters(tmp_path):
    total = write_tif(tmp_path / "pop.tif", ALL_CELLS)
    old = write_tif(tmp_path / "pop60.tif", [[30, 0, 10], [5, 0, 0]])
    young = write_tif(
        tmp_path / "young.tif", None, bands=[[[9, 9, 9], [9, 9, 9]], [[2, 0, 1], [0, 1, 0]]]
    )
    pop = lc_pop.from_raster(total, groups={"60+": old, "0-3": (young, 2)})
    # populated cells in row-major order, at cell centres
    assert shapely.get_coordinates(pop.geometry).tolist() == [
        [50.0, 150.0],
        [250.0, 150.0],
        [50.0, 50.0],
        [150.0, 50.0],
    ]
    assert col(pop, "all") == [100, 50, 20, 10]
    assert col(pop, "60+") == [30, 10, 5, 0]
    assert col(pop, "0-3") == [2, 1, 0, 1]
    assert pop.attrs["group_sources"] == {"60+": "raster pop60.tif", "0-3": "raster young.tif"}
    # without groups: as before, no group columns, no group_sources
    plain = lc_pop.from_raster(total)
    assert list(plain.columns) == ["population", "geometry"]
    assert "group_sources" not in plain.attrs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cells": [[1, 1], [1, 1]]}, r"2 × 2 cells, not 2 × 3"),
        ({"cells": ALL_CELLS, "origin": (50.0, 200.0)}, r"origin \(50, 200\) instead of"),
        ({"cells": ALL_CELLS, "cell_m": 50.0}, r"cell size 50 × 50"),
        ({"cells": ALL_CELLS, "crs": "EPSG:32650"}, r"CRS EPSG:32650"),
    ],
)
def test_from_raster_group_on_another_grid(tmp_path, kwargs, message):
    total = write_tif(tmp_path / "pop.tif", ALL_CELLS)
    other = write_tif(tmp_path / "pop60.tif", **kwargs)
    with pytest.raises(InputError, match=r"pop60\.tif \(group '60\+'\) is not on the grid") as e:
        lc_pop.from_raster(total, groups={"60+": other})
    assert e.match(message)


def test_from_raster_group_above_total(tmp_path):
    total = write_tif(tmp_path / "pop.tif", ALL_CELLS)
    old = write_tif(tmp_path / "pop60.tif", [[30, 0, 60], [5, 0, 0]])
    with pytest.raises(InputError, match=r"pop60\.tif.*row 0, column 2: 60 > 50"):
        lc_pop.from_raster(total, groups={"60+": old})
    with pytest.raises(InputError, match="does not exist"):
        lc_pop.from_raster(total, groups={"60+": tmp_path / "missing.tif"})


def test_from_points_group_columns(tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "name": ["a", "b", "c"],
            "人口": [800, 0, 500],
            "60岁以上人口": [300, 0, 120],
            "population_0-3": [16, 0, 10],
            "unit_id": [101, 101, 102],
        },
        geometry=shapely.points([0, 50, 100], [0, 0, 0]),
        crs=CRS,
    )
    path = tmp_path / "compounds.geojson"
    gdf.to_file(path, driver="GeoJSON")
    pop = lc_pop.from_points(gpd.read_file(path), "人口", groups={"60+": "60岁以上人口"})
    assert col(pop, "all") == [800, 500]
    assert col(pop, "60+") == [300, 120]
    assert col(pop, "0-3") == [16, 10]  # a population_<group> column is carried as it is
    assert pop["unit_id"].tolist() == ["101", "102"]
    assert pop.attrs["group_sources"] == {
        "60+": "points column 60岁以上人口",
        "0-3": "points column population_0-3",
    }


def test_from_points_bad_group_values():
    base = {"人口": [800, 500]}
    geom = shapely.points([0, 100], [0, 0])
    too_many = gpd.GeoDataFrame({**base, "老人": [300, 600]}, geometry=geom, crs=CRS)
    with pytest.raises(InputError, match=r"feature 2: 老人 = 600 is more than its 人口 \(500\)"):
        lc_pop.from_points(too_many, "人口", groups={"60+": "老人"})
    text = gpd.GeoDataFrame({**base, "老人": ["300", "many"]}, geometry=geom, crs=CRS)
    with pytest.raises(InputError, match=r"feature 2: 老人 = 'many' is not a number"):
        lc_pop.from_points(text, "人口", groups={"60+": "老人"})
    with pytest.raises(InputError, match=r"no column '老年' for group '60\+'"):
        lc_pop.from_points(too_many, "人口", groups={"60+": "老年"})


def test_from_totals_spreads_groups_like_totals():
    net = WalkNetwork.from_arrays([0, 100, 200], [0, 0, 0], [0, 1], [1, 2], [100.0, 100.0], crs=CRS)
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B", "C"],
            "jiezhen_code": ["J1", "J1", "J2"],
            "population": [1000, 400, 50],
            "pop_60": [300, 100, 20],
        },
        geometry=[
            shapely.box(-10, -10, 150, 10),  # nodes 0 and 1
            shapely.box(150, -10, 250, 10),  # node 2
            shapely.box(500, 500, 600, 600),  # no node: one point at its representative point
        ],
        crs=CRS,
    )
    pop = lc_pop.from_totals(units, net, groups={"60+": "pop_60"})
    assert pop["unit_id"].tolist() == ["A", "A", "B", "C"]
    assert pop["jiezhen_code"].tolist() == ["J1", "J1", "J1", "J2"]
    assert col(pop, "all") == [500, 500, 400, 50]
    assert col(pop, "60+") == [150, 150, 100, 20]
    assert pop.attrs["group_sources"] == {
        "60+": "unit totals column pop_60 (spread like population)"
    }
    # backward compatible: no groups, same totals, no group_sources
    plain = lc_pop.from_totals(units, net)
    assert col(plain, "all") == [500, 500, 400, 50]
    assert "group_sources" not in plain.attrs
    units.loc[1, "pop_60"] = 500
    with pytest.raises(InputError, match=r"unit B: pop_60 = 500 is more than its population"):
        lc_pop.from_totals(units, net, groups={"60+": "pop_60"})


# ------------------------------------------------------------------ add_groups: shares tables

UNIT_CSV = "unit_id,unit_name,share_60+,0-3\nU1,一单元,0.30,0.02\nU2,二单元,0.25,\n"


def test_per_unit_shares_csv_joined_by_location(tmp_path, points, units):
    table = write_csv(tmp_path / "shares.csv", UNIT_CSV)
    out = lc_pop.add_groups(
        points,
        ["60+", "0-3", "all"],
        units=units,
        shares=table,
        default_shares={"60+": (0.234, CENSUS), "0-3": 0.0196},
    )
    # U1: table; U2: table for 60+, default for 0-3 (empty cell); U3: no row → default
    assert col(out, "60+") == [300, 125, 46.8, 75]
    assert col(out, "0-3") == [20, 9.8, 3.92, 5.88]
    assert out.attrs["group_sources"] == {
        "60+": "shares table shares.csv (share_60+): per unit (2 of 3 units), rest default "
        "share 23.4 % (2020 census)",
        "0-3": "shares table shares.csv (0-3): per unit (1 of 3 units), rest default share 1.96 %",
    }
    assert out.attrs["group_default_fraction"] == pytest.approx({"60+": 0.1, "0-3": 0.5})
    assert "population_all" not in out.columns
    assert "population_60+" not in points.columns  # the input is not changed


def test_per_jiezhen_counts_xlsx_through_unit_ids(tmp_path, points, units):
    # the points know their unit; the units table says which 街镇 each unit is in
    pts = points.assign(unit_id=["U1", "U2", "U3", "U2"])
    path = tmp_path / "shares.xlsx"
    pd.DataFrame(
        {"街镇代码": ["J1", "J2"], "population": [1500, 250], "count_60+": [450, 50]}
    ).to_excel(path, sheet_name="ages", index=False)
    out = lc_pop.add_groups(pts, ["60+"], units=units, shares=path, sheet="ages")
    # counts become shares of the table's population: J1 450/1500 = 0.3, J2 50/250 = 0.2
    assert col(out, "60+") == [300, 150, 40, 90]
    assert out.attrs["group_sources"] == {
        "60+": "shares table shares.xlsx (count_60+): per 街镇 (2 of 2 街镇)"
    }
    assert out.attrs["group_default_fraction"] == {"60+": 0.0}


def test_counts_without_table_population_use_the_points(tmp_path, points, units):
    table = write_csv(tmp_path / "counts.csv", "jiezhen_code,count_60+\nJ1,450\nJ2,50\n")
    out = lc_pop.add_groups(points, ["60+"], units=units, shares=table)
    # J1's points hold 1800 people: share 0.25, so the group's total there is the count
    assert col(out, "60+") == [250, 125, 50, 75]
    assert out["population_60+"].sum() == pytest.approx(500)


def test_per_district_table_and_points_with_their_own_codes(tmp_path, points):
    pts = points.assign(district_code=["310101", "310101", "310104", "310104"])
    table = write_csv(tmp_path / "d.csv", "district_code,60+\n310101,20%\n310104,0.25\n")
    out = lc_pop.add_groups(pts, ["60+"], shares=table)
    assert col(out, "60+") == [200, 100, 50, 75]
    assert "per district (2 of 2 districts)" in out.attrs["group_sources"]["60+"]


def test_gbk_csv_with_chinese_key_header(tmp_path, points, units):
    table = write_csv(
        tmp_path / "gbk.csv",
        "单元编号,单元名称,share_60+\nU1,一,0.3\nU2,二,0.2\nU3,三,0.1\n",
        "gbk",
    )
    out = lc_pop.add_groups(points, ["60+"], units=units, shares=table)
    assert col(out, "60+") == [300, 100, 20, 60]


# ------------------------------------------------------------------ precedence and defaults


def test_precedence_points_column_then_table_then_default(tmp_path, points, units):
    pts = points.assign(**{"population_60+": [100.0, 50.0, 20.0, 30.0]})
    table = write_csv(tmp_path / "shares.csv", "unit_id,60+,0-3\nU1,0.5,0.05\nU2,0.5,0.05\n")
    defaults = {"60+": (0.234, CENSUS), "0-3": (0.0196, CENSUS), "3-6": (0.0196, CENSUS)}
    out = lc_pop.add_groups(
        pts, ["60+", "0-3", "3-6"], units=units, shares=table, default_shares=defaults
    )
    assert col(out, "60+") == [100, 50, 20, 30]  # the points' own column wins
    assert col(out, "0-3") == [50, 25, 3.92, 15]  # then the table (U3 has no row: default)
    assert col(out, "3-6") == [19.6, 9.8, 3.92, 5.88]  # no column for it: the default
    src = out.attrs["group_sources"]
    assert src["60+"] == "points column population_60+"
    assert src["0-3"].startswith("shares table shares.csv (0-3): per unit (2 of 3 units), rest")
    assert src["3-6"] == "default share 1.96 % (2020 census)"
    assert out.attrs["group_default_fraction"] == pytest.approx(
        {"60+": 0.0, "0-3": 0.1, "3-6": 1.0}
    )


def test_reader_source_is_kept(tmp_path, units):
    total = write_tif(tmp_path / "pop.tif", [[100, 0, 50], [20, 10, 0]])
    old = write_tif(tmp_path / "pop60.tif", [[30, 0, 10], [5, 0, 0]])
    pop = lc_pop.from_raster(total, groups={"60+": old})
    out = lc_pop.add_groups(pop, ["60+", "0-3"], units=units, default_shares={"0-3": 0.02})
    assert out.attrs["group_sources"] == {
        "60+": "raster pop60.tif",
        "0-3": "default share 2 %",
    }
    assert col(out, "0-3") == [2, 1, 0.4, 0.2]


@dataclass
class Group:  # shaped like a profile's target group
    id: str
    default_share: float
    source: str


def test_defaults_from_profile_like_groups(points):
    groups = {"60+": Group("60+", 0.234, "Shanghai 2020 (7th) census communiqué")}
    out = lc_pop.add_groups(points, ["60+"], default_shares=groups)
    assert col(out, "60+") == [234, 117, 46.8, 70.2]
    assert out.attrs["group_sources"] == {
        "60+": "default share 23.4 % (Shanghai 2020 (7th) census communiqué)"
    }
    assert out.attrs["group_default_fraction"] == {"60+": 1.0}


def test_points_outside_every_unit(tmp_path, points, units, caplog):
    far = gpd.GeoDataFrame({"population": [100.0]}, geometry=[shapely.Point(5000, 5000)], crs=CRS)
    near = gpd.GeoDataFrame({"population": [10.0]}, geometry=[shapely.Point(320, 50)], crs=CRS)
    pts = pd.concat([points, far, near], ignore_index=True)
    table = write_csv(tmp_path / "s.csv", "unit_id,60+\nU1,0.3\nU2,0.3\nU3,0.5\n")
    out = lc_pop.add_groups(pts, ["60+"], units=units, shares=table, default_shares={"60+": 0.2})
    # 20 m east of U3: joined to it (assign_within_m = 100); 5 km away: the default
    assert col(out, "60+") == [300, 150, 100, 90, 20, 5]
    with caplog.at_level(logging.WARNING, logger="lifecircle_geo.population"):
        bare = lc_pop.add_groups(pts, ["60+"], units=units, shares=table)
    assert col(bare, "60+") == [300, 150, 100, 90, 0, 5]
    assert "1 points outside every area: 0" in bare.attrs["group_sources"]["60+"]
    assert "lie outside every unit" in caplog.text


def test_wider_table_rows_ignored_when_asked(tmp_path, points, units):
    table = write_csv(tmp_path / "city.csv", "jiezhen_code,60+\nJ1,0.3\nJ2,0.2\nJ9,0.4\n")
    with pytest.raises(InputError, match=r"city\.csv: row 4, column 'jiezhen_code': 街镇 'J9'"):
        lc_pop.add_groups(points, ["60+"], units=units, shares=table)
    out = lc_pop.add_groups(points, ["60+"], units=units, shares=table, unmatched_rows="ignore")
    assert col(out, "60+") == [300, 150, 40, 90]


# ------------------------------------------------------------------ bad tables


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "unit_id,share_60+\nU1,0.3\nU2,1.3\n",
            r"shares\.csv: row 3, column 'share_60\+': share '1\.3' is more than 1",
        ),
        (
            "unit_id,share_60+\nU1,0.3\nU2,0.2\nU9,0.1\n",
            r"shares\.csv: row 4, column 'unit_id': unit 'U9' is not a known unit",
        ),
        (
            "unit_id,share_60+\nU1,0.3\nU2,lots\n",
            r"shares\.csv: row 3, column 'share_60\+': 'lots' is not a number",
        ),
        (
            "unit_id,share_60+\nU1,0.3\nU1,0.2\n",
            r"shares\.csv: row 3, column 'unit_id': unit_id 'U1' already on row 2",
        ),
        (
            "unit_id,share_60+\nU1,0.3\n,0.2\n",
            r"shares\.csv: row 3, column 'unit_id': the unit_id is empty",
        ),
        (
            "name,share_60+\nU1,0.3\n",
            r"shares\.csv: no key column; .* columns are \['name', 'share_60\+'\]",
        ),
        (
            "unit_id,share_60+,0-3\nU1,0.6,0.5\n",
            r"shares\.csv: row 2: the disjoint age groups in columns 0-3, share_60\+ sum to 1\.1",
        ),
        (
            "unit_id,population,count_60+\nU1,1000,1200\n",
            r"shares\.csv: row 2, column 'count_60\+': 1200 people of group '60\+' but the "
            r"row's population is 1000",
        ),
        (
            "unit_id,share_60+,60+\nU1,0.3,0.3\n",
            r"group '60\+' has several columns \['60\+', 'share_60\+'\]",
        ),
    ],
)
def test_bad_tables(tmp_path, points, units, text, message):
    table = write_csv(tmp_path / "shares.csv", text)
    with pytest.raises(InputError, match=message):
        lc_pop.add_groups(
            points, ["60+", "0-3"], units=units, shares=table, default_shares={"0-3": 0.02}
        )


def test_missing_group_column_without_default(tmp_path, points, units):
    table = write_csv(tmp_path / "shares.csv", "unit_id,share_60+\nU1,0.3\nU2,0.3\nU3,0.3\n")
    with pytest.raises(
        InputError,
        match=r"shares\.csv: no column for group '0-3' .*columns are \['unit_id', 'share_60\+'\]",
    ):
        lc_pop.add_groups(points, ["60+", "0-3"], units=units, shares=table)
    with pytest.raises(InputError, match=r"no population_0-3 column, and neither a shares table"):
        lc_pop.add_groups(points, ["0-3"])


def test_unit_without_figure_and_no_default(tmp_path, points, units):
    table = write_csv(tmp_path / "shares.csv", "unit_id,share_60+\nU1,0.3\nU2,\n")
    with pytest.raises(
        InputError,
        match=r"shares\.csv: group '60\+': no figure .* 2 units with residents \['U2', 'U3'\]",
    ):
        lc_pop.add_groups(points, ["60+"], units=units, shares=table)


def test_overlapping_groups_are_not_summed(tmp_path, points, units):
    # 0-6 contains 3-6: only disjoint groups must stay within the residents
    table = write_csv(tmp_path / "s.csv", "unit_id,0-6,3-6\nU1,0.6,0.5\nU2,0.6,0.5\nU3,0.6,0.5\n")
    out = lc_pop.add_groups(points, ["0-6", "3-6"], units=units, shares=table)
    assert col(out, "0-6") == [600, 300, 120, 180]


def test_bad_defaults_and_files(tmp_path, points, units):
    with pytest.raises(InputError, match=r"default share of group '60\+' is 23\.4"):
        lc_pop.add_groups(points, ["60+"], default_shares={"60+": 23.4})
    with pytest.raises(InputError, match=r"disjoint age groups 0-3, 60\+ sum to 1\.2"):
        lc_pop.add_groups(points, ["60+"], default_shares={"60+": 0.7, "0-3": 0.5})
    # a points column and a default that together exceed the residents
    pts = points.assign(**{"population_60+": points.population * 0.9})
    with pytest.raises(InputError, match=r"resident point 1: the disjoint age groups 0-3, 60\+"):
        lc_pop.add_groups(pts, ["60+", "0-3"], default_shares={"0-3": 0.2})
    with pytest.raises(InputError, match=r"shares table .*nope\.csv does not exist"):
        lc_pop.add_groups(points, ["60+"], units=units, shares=tmp_path / "nope.csv")
    (tmp_path / "shares.dbf").write_bytes(b"\0")
    with pytest.raises(InputError, match=r"shares\.dbf: unknown table type '\.dbf'"):
        lc_pop.add_groups(points, ["60+"], units=units, shares=tmp_path / "shares.dbf")
    (tmp_path / "broken.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InputError, match=r"broken\.xlsx: could not be read as a table"):
        lc_pop.add_groups(points, ["60+"], units=units, shares=tmp_path / "broken.xlsx")
    table = write_csv(tmp_path / "j.csv", "jiezhen_code,60+\nJ1,0.3\n")
    with pytest.raises(InputError, match=r"carry no jiezhen_code and no units were given"):
        lc_pop.add_groups(points, ["60+"], shares=table)


def test_disjoint_best_traces_the_groups_of_each_rows_best_sum():
    """The largest sum over non-overlapping age groups, and the groups traced back for any
    row asked: disjoint, summing to it, the best of every disjoint choice (brute force)."""
    import itertools

    from lifecircle_geo.population import _age_range, _disjoint_best

    groups = ["0-3", "3-6", "0-6", "60+", "65+", "6-18", "teachers"]
    rng = np.random.default_rng(8)
    shares = rng.uniform(0, 0.6, (200, len(groups)))
    shares[rng.random(shares.shape) < 0.1] = np.nan
    best, pick = _disjoint_best(shares, groups)
    ranges = {g: _age_range(g) for g in groups}

    def disjoint(gs):
        return all(
            ranges[a][1] <= ranges[b][0] or ranges[b][1] <= ranges[a][0]
            for a, b in itertools.combinations(gs, 2)
        )

    ages = [g for g in groups if ranges[g] is not None]
    choices = [c for k in range(1, len(ages) + 1) for c in itertools.combinations(ages, k)]
    choices = [c for c in choices if disjoint(c)]
    w = np.nan_to_num(shares)
    for r in range(len(shares)):
        chosen = pick(r)
        assert disjoint(chosen) and "teachers" not in chosen
        total = sum(w[r, groups.index(g)] for g in chosen)
        assert total == pytest.approx(best[r], abs=1e-12)
        assert best[r] >= max(sum(w[r, groups.index(g)] for g in c) for c in choices) - 1e-12
    assert _disjoint_best(shares[:, -1:], ["teachers"])[1] is None
