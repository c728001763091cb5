"""A synthetic Shanghai inside the real 街镇 boundaries, for city-scale tests and benchmarks.

**Everything this module writes is synthetic**: the streets, rivers' exact courses, ferries,
residents, units and facilities are invented. Only the 街镇 and district boundaries
(``subdistricts.geojson``) and the 2020 census total of each district (``districts_2020.csv``)
are real; both are read in place from the shared reference folder (``../shared/data/shanghai``
beside the repository), never copied.

:func:`shanghai` writes, into one output folder:

* ``shanghai_synthetic.osm.pbf``: a walk network in every selected 街镇, as OSM ways, so that
  the real parsing path (:meth:`lifecircle_geo.WalkNetwork.from_osm`,
  :func:`lifecircle_geo.facilities.from_osm`) runs. Streets are a jittered, rotated grid per
  街镇 whose spacing depends on the area type: about 72 m in the central city (中心城 街道:
  about 140 intersections per km² once built, against the about 70 intersections per km² of
  the drive-class streets alone in the real People's Square extract), 100 m in new towns
  (新城 街道, about 70 per km²), and in the suburban 镇 a town core of 110 m that widens to
  320 m in the villages around it (about 25 intersections per km² over the whole 镇; 420 m
  on Chongming). Neighbouring 街镇 are stitched together across their shared border. Rivers
  (the Huangpu, traced along the shared border of the 街镇 on its two banks, and approximate
  courses of Suzhou Creek and four large canals) and railways (approximate courses of four
  lines) cut every street they meet; they are crossed only at bridges and underpasses every
  450-1,800 m, and the Huangpu by ``route=ferry`` ways between piers (about every 1.8 km in
  the central city, every 5 km upstream) and a few bridges far upstream.
  Facilities of every category of the ``shanghai-2025`` profile are POI nodes with the
  profile's plain primary tags (``amenity=kindergarten``, ``leisure=park``, ...), their counts
  drawn from per-resident, per-km² and per-街镇 rates (:data:`FACILITY_RATES`).
* ``units_synthetic.gpkg`` (layer ``units``): about 1,600 basic units for the whole city
  (one per about 15,500 residents, at least one per 街镇): population-weighted Voronoi cells
  clipped to each 街镇, with ``unit_id``, ``unit_name``, ``jiezhen_code``, ``jiezhen_name``,
  ``district_code``, ``district_name``, ``area_type``, ``population`` and ``synthetic``.
* ``residents_synthetic.gpkg`` (layer ``residents``): resident points (compounds) near the
  streets with integer ``population``; each district's residents sum to its 2020 census total
  (a selection of some of a district's 街镇 holds their share of it, stated in the metadata).
* ``batch_synthetic.toml``: a run config that ``lifecircle batch`` (and ``lifecircle run``)
  takes as is; ``synthetic_meta.json``: parameters, counts, populations and timings;
  ``README.txt``: what the folder is.

Everything is a function of the arguments: the same call writes byte-identical PBF and TOML
files (the GeoPackages hold the same rows; SQLite files carry their own timestamps). Each 街镇
draws from its own random streams, so its streets, residents, units and facilities do not
depend on which others are selected (only the stitches to its neighbours and the crossings
do). At the default density the whole city has about 320,000 street grid nodes (480,000 with
the vertices of curved streets; 550,000 OSM nodes with the POIs; 254,000 nodes and 422,000
edges in the :class:`~lifecircle_geo.WalkNetwork` built from it, through-nodes merged) in a
4.6 MiB PBF, written in about 20 s on 2 cores.

Examples
--------
>>> import lifecircle_geo.synth as synth
>>> city = synth.shanghai("out/synth", districts=["黄浦区"], density=0.5)  # doctest: +SKIP
>>> city.population["310101"]  # doctest: +SKIP
662030
>>> from lifecircle_geo import batch
>>> res = batch.run(city.config, scheduler="local")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from ._io import atomic_path, json_text
from ._version import __version__
from .errors import InputError
from .mock import _runs

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

__all__ = [
    "DATA_FILES",
    "FACILITY_RATES",
    "SynthShanghai",
    "find_data",
    "shanghai",
]

log = logging.getLogger(__name__)

#: The reference files read (in place) from the data folder.
DATA_FILES = ("subdistricts.geojson", "districts_2020.csv")
_GENERATOR = "lifecircle_geo.synth (SYNTHETIC: fictional streets and facilities in real 街镇)"
_METRIC_EPSG = 32651  # UTM 51N
_CENTRE_LONLAT = (121.4737, 31.2304)  # People's Square
#: 街镇 whose centre lies within this distance of People's Square count as central city.
_CENTRAL_RADIUS_M = 13_000.0
_CENTRAL_DISTRICTS = frozenset(
    {"310101", "310104", "310105", "310106", "310107", "310109", "310110"}
)
_PBF_NAME = "shanghai_synthetic.osm.pbf"
_UNITS_NAME = "units_synthetic.gpkg"
_RESIDENTS_NAME = "residents_synthetic.gpkg"
_CONFIG_NAME = "batch_synthetic.toml"
_META_NAME = "synthetic_meta.json"
_README_NAME = "README.txt"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# ---------------------------------------------------------------------------- zones
@dataclass(frozen=True)
class _Zone:
    """Street layout and population weight of one kind of 街镇.

    Spacings are at density 1; ``core_m`` is the radius of the town core (0: uniform);
    ``people`` multiplies the 街镇's share of its district's residents (see
    :func:`_jiezhen_population`).
    """

    name: str
    area_type: str
    core_spacing_m: float
    far_spacing_m: float
    core_m: float
    growth_m: float
    drop: float
    people: float


_ZONES = {
    "central": _Zone("central 街道", "中心城", 72.0, 72.0, 0.0, 1.0, 0.2, 1.5),
    "central_town": _Zone("central 镇", "主城区", 85.0, 85.0, 0.0, 1.0, 0.22, 1.0),
    "central_works": _Zone("central park/zone", "主城区", 130.0, 130.0, 0.0, 1.0, 0.25, 0.3),
    "new_city": _Zone("suburban 街道", "新城", 100.0, 100.0, 0.0, 1.0, 0.22, 1.5),
    "town": _Zone("suburban 镇", "其他地区", 110.0, 320.0, 1.0, 2_500.0, 0.28, 1.0),
    "island_town": _Zone("Chongming 镇", "其他地区", 120.0, 420.0, 1.0, 2_500.0, 0.3, 1.0),
    "works": _Zone("industrial zone", "其他地区", 170.0, 170.0, 0.0, 1.0, 0.3, 0.3),
    "farm": _Zone("farm", "乡村", 350.0, 350.0, 0.0, 1.0, 0.35, 0.1),
}
_WORKS_WORDS = ("工业", "园区", "开发区", "保税", "旅游区", "高科技")
_FARM_WORDS = ("农场", "林场", "农业")
_STREET_LIKE = ("街道", "社区", "管委会", "新区")


# ---------------------------------------------------------------------------- barriers
@dataclass(frozen=True)
class _BarrierSpec:
    name: str
    kind: str  # "river" or "rail"
    lonlat: str  # "lon,lat lon,lat ..."
    width_m: float
    crossing_central_m: float
    crossing_outer_m: float
    joins_huangpu: bool = False


#: Approximate courses (lon, lat) of the large rivers and railways besides the Huangpu; they
#: are invented to the extent that the real ones differ, and only make barriers plausible.
_BARRIERS = (
    _BarrierSpec(
        "苏州河 (approximate course)",
        "river",
        (
            "121.4905,31.2445 121.4840,31.2430 121.4740,31.2425 121.4640,31.2440 "
            "121.4560,31.2440 121.4470,31.2465 121.4400,31.2470 121.4330,31.2410 "
            "121.4270,31.2360 121.4250,31.2290 121.4180,31.2270 121.4080,31.2250 "
            "121.3980,31.2230 121.3850,31.2210 121.3700,31.2250 121.3550,31.2300 "
            "121.3350,31.2370 121.3100,31.2450 121.2800,31.2550 121.2500,31.2620 "
            "121.2000,31.2700 121.1400,31.2750"
        ),
        50.0,
        450.0,
        1_200.0,
        joins_huangpu=True,
    ),
    _BarrierSpec(
        "蕴藻浜 (approximate course)",
        "river",
        (
            "121.5080,31.3780 121.4800,31.3660 121.4500,31.3560 121.4200,31.3480 "
            "121.3900,31.3420 121.3500,31.3370 121.3100,31.3330 121.2700,31.3300"
        ),
        60.0,
        600.0,
        1_500.0,
        joins_huangpu=True,
    ),
    _BarrierSpec(
        "淀浦河 (approximate course)",
        "river",
        (
            "121.4560,31.1640 121.4300,31.1600 121.4000,31.1560 121.3600,31.1500 "
            "121.3200,31.1450 121.2600,31.1400 121.2000,31.1350 121.1400,31.1300 "
            "121.0600,31.1250"
        ),
        50.0,
        600.0,
        1_500.0,
        joins_huangpu=True,
    ),
    _BarrierSpec(
        "川杨河 (approximate course)",
        "river",
        (
            "121.4950,31.1500 121.5600,31.1480 121.6200,31.1450 121.7000,31.1400 "
            "121.7800,31.1350 121.8600,31.1320 121.9200,31.1300"
        ),
        60.0,
        600.0,
        1_500.0,
        joins_huangpu=True,
    ),
    _BarrierSpec(
        "大治河 (approximate course)",
        "river",
        (
            "121.5000,31.0200 121.5800,31.0250 121.6600,31.0250 121.7400,31.0220 "
            "121.8200,31.0180 121.9000,31.0150"
        ),
        60.0,
        600.0,
        1_800.0,
        joins_huangpu=True,
    ),
    _BarrierSpec(
        "沪宁铁路 (approximate course)",
        "rail",
        (
            "121.4550,31.2500 121.4300,31.2560 121.4000,31.2600 121.3700,31.2700 "
            "121.3400,31.2850 121.3100,31.3000 121.2700,31.3100 121.2300,31.3150 "
            "121.1800,31.3000 121.1300,31.3000"
        ),
        30.0,
        800.0,
        1_600.0,
    ),
    _BarrierSpec(
        "沪杭铁路 (approximate course)",
        "rail",
        (
            "121.4300,31.1550 121.4100,31.1350 121.3850,31.1100 121.3400,31.0800 "
            "121.2900,31.0450 121.2300,31.0050 121.1800,30.9700 121.1200,30.9350 "
            "121.0500,30.9000"
        ),
        30.0,
        800.0,
        1_600.0,
    ),
    _BarrierSpec(
        "沪杭铁路联络线 (approximate course)",
        "rail",
        ("121.4300,31.1550 121.4150,31.1800 121.4050,31.2100 121.4000,31.2450 121.4000,31.2600"),
        30.0,
        800.0,
        1_600.0,
    ),
    _BarrierSpec(
        "金山铁路 (approximate course)",
        "rail",
        (
            "121.3850,31.1100 121.3750,31.0500 121.3650,30.9800 121.3500,30.9000 "
            "121.3400,30.8200 121.3300,30.7400"
        ),
        30.0,
        800.0,
        1_800.0,
    ),
)
_HUANGPU_WIDTH_M = 320.0
_HUANGPU_FERRY_CENTRAL_M = 1_800.0
_HUANGPU_FERRY_OUTER_M = 5_000.0
_HUANGPU_BRIDGE_M = 7_000.0
#: The Huangpu is the shared border of the 街镇 on its east/south bank (these) and the rest.
_HUANGPU_EAST_DISTRICTS = ("310115", "310120", "310116")
_HUANGPU_EAST_NAMES = ("浦江镇", "浦锦街道", "叶榭镇", "泖港镇", "新浜镇", "石湖荡镇")
_HUANGPU_WEST_DISTRICTS = ("310101", "310104", "310109", "310110", "310113", "310112", "310117")


# ---------------------------------------------------------------------------- facilities
@dataclass(frozen=True)
class _Rate:
    """How many facilities of one kind a 街镇 gets and where they go.

    ``per_residents``: one per this many residents; ``per_km2``: per km² by area type;
    ``per_jiezhen``: this many in every 街镇 besides; ``near``: ``"people"`` (at resident
    points, weighted by population) or ``"streets"`` (at street nodes); ``central_boost``:
    the per-km² rate is up to 2.5 times higher near People's Square (metro stations).
    """

    category: str
    tags: tuple[tuple[str, str], ...]
    name: str
    per_residents: float = 0.0
    per_km2: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    per_jiezhen: int = 0
    near: str = "people"
    central_boost: bool = False


#: Facility kinds written as OSM POIs, with the plain primary tags the ``shanghai-2025``
#: profile recognises; ``per_km2`` is for (中心城 and 主城区, 新城, 其他地区, 乡村).
FACILITY_RATES = (
    _Rate("party_service", (("amenity", "community_centre"),), "党群服务中心", per_jiezhen=1),
    _Rate("party_service", (("amenity", "community_centre"),), "党群服务站", per_residents=10_000),
    _Rate(
        "employment",
        (("office", "employment_agency"),),
        "社区就业服务站",
        per_residents=60_000,
        per_jiezhen=1,
    ),
    _Rate(
        "health",
        (("amenity", "clinic"), ("healthcare", "centre")),
        "社区卫生服务中心",
        per_residents=120_000,
        per_jiezhen=1,
    ),
    _Rate("health", (("amenity", "clinic"),), "社区卫生服务站", per_residents=20_000),
    _Rate(
        "elderly_care",
        (("amenity", "social_facility"), ("social_facility", "nursing_home")),
        "长者照护之家",
        per_residents=30_000,
    ),
    _Rate(
        "elderly_daycare",
        (("amenity", "social_facility"), ("social_facility", "day_care")),
        "日间照料中心",
        per_residents=25_000,
    ),
    _Rate("childcare", (("amenity", "childcare"),), "托育园", per_residents=20_000),
    _Rate("kindergarten", (("amenity", "kindergarten"),), "幼儿园", per_residents=10_000),
    _Rate("dining", (("amenity", "restaurant"),), "社区长者食堂", per_residents=15_000),
    _Rate("market", (("amenity", "marketplace"),), "菜市场", per_residents=20_000),
    _Rate("market", (("shop", "supermarket"),), "超市", per_residents=8_000),
    _Rate("market", (("shop", "convenience"),), "便利店", per_residents=3_000),
    _Rate(
        "bus",
        (("highway", "bus_stop"),),
        "公交站",
        per_km2=(7.0, 4.0, 1.2, 0.5),
        near="streets",
    ),
    _Rate("park", (("leisure", "park"),), "公园", per_km2=(3.0, 1.5, 0.3, 0.1), near="streets"),
    _Rate(
        "learning",
        (("amenity", "library"),),
        "社区图书馆",
        per_residents=80_000,
        per_jiezhen=1,
    ),
    _Rate(
        "culture",
        (("amenity", "arts_centre"),),
        "社区文化活动中心",
        per_residents=100_000,
        per_jiezhen=1,
    ),
    _Rate("sports", (("leisure", "sports_centre"),), "体育中心", per_residents=30_000),
    _Rate("fitness", (("leisure", "fitness_station"),), "健身点", per_residents=2_000),
    _Rate("playground", (("leisure", "playground"),), "儿童游乐场", per_residents=6_000),
    _Rate(
        "primary_school",
        (("amenity", "school"), ("isced:level", "1")),
        "小学",
        per_residents=25_000,
    ),
    _Rate(
        "middle_school",
        (("amenity", "school"), ("isced:level", "2")),
        "初级中学",
        per_residents=35_000,
    ),
    _Rate("pharmacy", (("amenity", "pharmacy"),), "药店", per_residents=5_000),
    _Rate(
        "metro",
        (("railway", "station"), ("station", "subway"), ("public_transport", "station")),
        "地铁站",
        per_km2=(0.7, 0.2, 0.03, 0.0),
        near="streets",
        central_boost=True,
    ),
)
_AREA_TYPE_INDEX = {"中心城": 0, "主城区": 0, "新城": 1, "其他地区": 2, "乡村": 3}
_MINOR_CLASSES = ("residential", "footway", "service", "living_street")
_MINOR_P = (0.7, 0.12, 0.1, 0.08)


# ---------------------------------------------------------------------------- result
@dataclass
class SynthShanghai:
    """What :func:`shanghai` wrote.

    Attributes
    ----------
    folder : Path
        The output folder.
    pbf : Path
        The OSM PBF: streets, rivers, railways, ferries and facility POIs.
    units : Path
        GeoPackage of the basic units (layer ``units``).
    residents : Path
        GeoPackage of the resident points (layer ``residents``).
    config : Path
        A run config for ``lifecircle batch CONFIG`` / :func:`lifecircle_geo.batch.run`.
    readme : Path
        ``README.txt``: what the folder is (synthetic).
    meta : Path
        ``synthetic_meta.json``: parameters, counts, populations, timings.
    population : dict
        Residents written per district code.
    census : dict
        The 2020 census total of each district that has a selected 街镇.
    share : dict
        Per district code, the share of its census total that the selected 街镇 hold (1.0 for
        a whole district).
    counts : dict
        Numbers written: ``jiezhen``, ``units``, ``residents`` (points), ``street_nodes``,
        ``street_edges``, ``osm_nodes``, ``osm_ways``, ``bridges``, ``ferries``, ``stitches``,
        ``facilities`` and ``facilities_by_category``.
    seconds : float
        Time taken.
    """

    folder: Path
    pbf: Path
    units: Path
    residents: Path
    config: Path
    readme: Path
    meta: Path
    population: dict[str, int] = field(default_factory=dict)
    census: dict[str, int] = field(default_factory=dict)
    share: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# ---------------------------------------------------------------------------- inputs
def find_data(data: str | os.PathLike | None = None) -> Path:
    """Find the folder of the real Shanghai reference files (:data:`DATA_FILES`).

    Parameters
    ----------
    data : str or path-like, optional
        The folder, or its ``subdistricts.geojson``. Default: ``$LIFECIRCLE_SHARED/data/
        shanghai`` when that variable is set, else ``../shared/data/shanghai`` relative to the
        working directory and to the repository.

    Returns
    -------
    Path
        The folder holding every file of :data:`DATA_FILES`.

    Raises
    ------
    InputError
        When no candidate folder holds the files; the message lists the places looked at.
    """
    if data is not None:
        p = Path(data).expanduser()
        candidates = [p.parent if p.is_file() or p.suffix == ".geojson" else p]
    else:
        candidates = []
        env = os.environ.get("LIFECIRCLE_SHARED")
        if env:
            candidates.append(Path(env) / "data" / "shanghai")
        repo = Path(__file__).resolve().parents[1]
        for base in (Path.cwd(), repo):
            c = (base / ".." / "shared" / "data" / "shanghai").resolve()
            if c not in candidates:
                candidates.append(c)
    for c in candidates:
        if all((c / name).is_file() for name in DATA_FILES):
            return c
    looked = "; ".join(str(c) for c in candidates)
    raise InputError(
        f"real Shanghai reference data not found: looked for {' and '.join(DATA_FILES)} in "
        f"{looked}. Pass data= the folder (../shared/data/shanghai beside the repository) "
        f"or set LIFECIRCLE_SHARED to the folder above data/"
    )


def _read_census(path: Path) -> dict[str, dict[str, Any]]:
    """District code → name_zh, name_en, population_2020 from ``districts_2020.csv``."""
    out = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                out[row["adcode"].strip()] = {
                    "name_zh": row["name_zh"].strip(),
                    "name_en": row["name_en"].strip(),
                    "population": int(row["population_2020"]),
                }
            except (KeyError, ValueError) as exc:
                raise InputError(
                    f"{path}: row {row} is not adcode,name_zh,...,population_2020 ({exc})"
                ) from None
    return out


def _read_codes(folder: Path) -> dict[tuple[str, str], str]:
    """(district code, 街镇 name) → 9-digit statistical code, when the code list is there."""
    path = folder / "jiezhen_codes_2022.csv"
    out: dict[tuple[str, str], str] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            if len(row) >= 3:
                out[(row[2].strip(), row[1].strip())] = row[0].strip()
    return out


def _zone_of(name: str, district: str, centre_dist_m: float) -> str:
    """Which :data:`_ZONES` entry a 街镇 belongs to, from its name, district and location."""
    central = district in _CENTRAL_DISTRICTS or centre_dist_m <= _CENTRAL_RADIUS_M
    if any(w in name for w in _FARM_WORDS):
        return "farm"
    if any(w in name for w in _WORKS_WORDS):
        return "central_works" if central else "works"
    street_like = name.endswith(_STREET_LIKE)
    if central:
        return "central" if street_like else "central_town"
    if street_like:
        return "new_city"
    return "island_town" if district == "310151" else "town"


def _read_jiezhen(folder: Path) -> gpd.GeoDataFrame:
    """Every 街镇 polygon with code, name, district and zone, in the metric CRS."""
    path = folder / "subdistricts.geojson"
    try:
        raw = gpd.read_file(path)
    except Exception as exc:
        raise InputError(f"{path}: could not be read as GeoJSON ({exc})") from None
    need = ("region_id", "source_name", "region_group")
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: columns {missing} are missing (have {list(raw.columns)})")
    if raw.crs is None:
        raw = raw.set_crs(4326)
    codes = _read_codes(folder)
    g = raw.to_crs(_METRIC_EPSG)
    g["geometry"] = shapely.make_valid(g.geometry.to_numpy())
    district = g["region_group"].astype(str).str.strip()
    names = g["source_name"].astype(str).str.strip()
    rid = g["region_id"].astype(str).str.strip()
    jz_codes = []
    for r, n, d in zip(rid, names, district, strict=True):
        if r.isdigit() and len(r) == 12:
            jz_codes.append(r[:9])
        elif (d, n) in codes:
            jz_codes.append(codes[(d, n)])
        else:
            raise InputError(
                f"{path}: 街镇 {n} has region_id {r!r}, not a 12-digit town code, "
                f"and no code in jiezhen_codes_2022.csv"
            )
    fwd = Transformer.from_crs(4326, _METRIC_EPSG, always_xy=True)
    cx, cy = fwd.transform(*_CENTRE_LONLAT)
    rep = shapely.point_on_surface(g.geometry.to_numpy())
    dist = np.hypot(shapely.get_x(rep) - cx, shapely.get_y(rep) - cy)
    out = gpd.GeoDataFrame(
        {
            "jiezhen_code": jz_codes,
            "jiezhen_name": names.to_numpy(),
            "district_code": district.to_numpy(),
            "zone": [
                _zone_of(n, d, float(c)) for n, d, c in zip(names, district, dist, strict=True)
            ],
        },
        geometry=g.geometry.to_numpy(),
        crs=_METRIC_EPSG,
    )
    dup = out["jiezhen_code"].duplicated(keep=False)
    if dup.any():
        raise InputError(f"{path}: duplicate 街镇 codes {sorted(set(out.jiezhen_code[dup]))}")
    out = out.sort_values("jiezhen_code", kind="stable").reset_index(drop=True)
    out["geometry"] = _exclusive(out.geometry.to_numpy())
    return out


def _exclusive(polys: np.ndarray) -> np.ndarray:
    """Remove from each polygon its overlap with the polygons before it.

    The simplified 街镇 outlines overlap a little (about 0.56 km² in all): an overlap goes to
    the 街镇 listed first (the lower code), so that every point is in at most one 街镇.
    """
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    earlier = b < a
    out = polys.copy()
    for k in np.unique(a[earlier]).tolist():
        others = shapely.union_all(polys[b[earlier & (a == k)]])
        diff = shapely.make_valid(shapely.difference(polys[k], others))
        parts = [g for g in shapely.get_parts(diff) if g.geom_type == "Polygon" and g.area > 1.0]
        out[k] = shapely.multipolygons(parts) if len(parts) > 1 else parts[0]
    return out


def _select(
    jz: gpd.GeoDataFrame,
    census: dict[str, dict[str, Any]],
    districts: Sequence[str] | None,
    subdistricts: Sequence[str] | None,
) -> NDArray[np.bool_]:
    """Mask of the selected 街镇 (by district code/name, 街镇 code/name)."""
    keep = np.ones(len(jz), dtype=bool)
    if districts is not None:
        lookup = {}
        for code, row in census.items():
            for key in (code, row["name_zh"], row["name_en"], row["name_zh"].rstrip("区")):
                lookup[key.lower()] = code
        wanted = set()
        for d in districts:
            code = lookup.get(str(d).strip().lower())
            if code is None:
                raise InputError(
                    f"districts: unknown district {d!r}; known: "
                    f"{', '.join(c + ' ' + r['name_zh'] for c, r in sorted(census.items()))}"
                )
            wanted.add(code)
        keep &= jz["district_code"].isin(wanted).to_numpy()
    if subdistricts is not None:
        by_key = {}
        for i, (c, n) in enumerate(zip(jz["jiezhen_code"], jz["jiezhen_name"], strict=True)):
            by_key[c] = i
            by_key[n] = i
        sel = np.zeros(len(jz), dtype=bool)
        for s in subdistricts:
            key = str(s).strip()
            key = key[:9] if key.isdigit() and len(key) == 12 else key
            if key not in by_key:
                raise InputError(
                    f"subdistricts: unknown 街镇 {s!r} (give a 9- or 12-digit code or the Chinese "
                    f"name, e.g. {jz.jiezhen_code.iat[0]} or {jz.jiezhen_name.iat[0]})"
                )
            sel[by_key[key]] = True
        keep &= sel
    if not keep.any():
        raise InputError(
            f"the selection districts={districts!r}, subdistricts={subdistricts!r} holds no 街镇"
        )
    return keep


def _largest_remainder(total: int, weight: FloatArray) -> IntArray:
    """Integers proportional to ``weight`` that sum exactly to ``total``."""
    w = np.asarray(weight, dtype=np.float64)
    if total <= 0 or len(w) == 0:
        return np.zeros(len(w), dtype=np.int64)
    if w.sum() <= 0:
        w = np.ones(len(w))
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(w)), -(exact - base)))
        base[order[:rest]] += 1
    return base


def _jiezhen_population(
    jz: gpd.GeoDataFrame, census: dict[str, dict[str, Any]], seed: int
) -> IntArray:
    """Spread each district's census total over its 街镇.

    A 街镇's weight is ``area_km2 ** 0.6`` (large 镇 are mostly fields) times an urban
    density gradient ``exp(-d / 8 km) + 0.08`` (``d``: distance from People's Square) times
    its zone's ``people`` factor (街道 1.5, 镇 1, industrial zones 0.3, farms 0.1) times a
    log-normal draw (sigma 0.25); the district total is split in proportion, in integers.
    """
    geoms = jz.geometry.to_numpy()
    area_km2 = shapely.area(geoms) / 1e6
    fwd = Transformer.from_crs(4326, _METRIC_EPSG, always_xy=True)
    cx, cy = fwd.transform(*_CENTRE_LONLAT)
    rep = shapely.point_on_surface(geoms)
    d_m = np.hypot(shapely.get_x(rep) - cx, shapely.get_y(rep) - cy)
    factor = np.array([_ZONES[z].people for z in jz["zone"]])
    noise = np.array(
        [np.random.default_rng([seed, int(c), 1]).lognormal(0.0, 0.25) for c in jz["jiezhen_code"]]
    )
    weight = area_km2**0.6 * (np.exp(-d_m / 8_000.0) + 0.08) * factor * noise
    pop = np.zeros(len(jz), dtype=np.int64)
    for d, rows in jz.groupby("district_code").indices.items():
        if d not in census:
            raise InputError(f"district {d} of subdistricts.geojson is not in districts_2020.csv")
        pop[rows] = _largest_remainder(census[d]["population"], weight[rows])
    return pop


# ---------------------------------------------------------------------------- barriers
@dataclass
class _Barrier:
    name: str
    kind: str  # "huangpu", "river" or "rail"
    line: shapely.LineString
    width_m: float
    crossing_central_m: float
    crossing_outer_m: float


def _huangpu(jz_all: gpd.GeoDataFrame) -> shapely.LineString | None:
    """Trace the Huangpu along the shared border of the 街镇 on its two banks (longest piece)."""
    d = jz_all["district_code"]
    n = jz_all["jiezhen_name"]
    east = d.isin(_HUANGPU_EAST_DISTRICTS) | n.isin(_HUANGPU_EAST_NAMES)
    west = d.isin(_HUANGPU_WEST_DISTRICTS) & ~east
    if not east.any() or not west.any():
        return None
    e = shapely.union_all(shapely.buffer(jz_all.geometry[east].to_numpy(), 1.0))
    w = shapely.union_all(shapely.buffer(jz_all.geometry[west].to_numpy(), 1.0))
    shared = shapely.line_merge(shapely.intersection(shapely.boundary(e), shapely.buffer(w, 40.0)))
    parts = [p for p in shapely.get_parts(shared) if p.geom_type == "LineString"]
    if not parts:
        return None
    line = max(parts, key=lambda p: p.length)
    return shapely.simplify(line, 20.0)


def _barriers(jz_all: gpd.GeoDataFrame) -> list[_Barrier]:
    """Every barrier line in the metric CRS (the Huangpu first)."""
    fwd = Transformer.from_crs(4326, _METRIC_EPSG, always_xy=True)
    out = []
    hp = _huangpu(jz_all)
    if hp is not None:
        out.append(
            _Barrier(
                "黄浦江 (along the real 街镇 borders)",
                "huangpu",
                hp,
                _HUANGPU_WIDTH_M,
                _HUANGPU_FERRY_CENTRAL_M,
                _HUANGPU_FERRY_OUTER_M,
            )
        )
    for spec in _BARRIERS:
        lon, lat = np.array([p.split(",") for p in spec.lonlat.split()], dtype=np.float64).T
        x, y = fwd.transform(lon, lat)
        coords = np.column_stack([x, y])
        if spec.joins_huangpu and hp is not None:
            start = hp.interpolate(hp.project(shapely.Point(coords[0])))
            coords[0] = (start.x, start.y)
        out.append(
            _Barrier(
                spec.name,
                spec.kind,
                shapely.LineString(coords),
                spec.width_m,
                spec.crossing_central_m,
                spec.crossing_outer_m,
            )
        )
    return out


# ---------------------------------------------------------------------------- streets
@dataclass
class _Streets:
    """Streets of one 街镇: grid nodes, way node sequences and edges (local indices)."""

    x: FloatArray
    y: FloatArray
    spacing_m: FloatArray  # local street spacing at each grid node
    weight: FloatArray  # residents weight of each grid node
    n_grid: int  # the first n_grid nodes are grid nodes, the rest shape vertices
    way_nodes: IntArray  # flat node sequences of the ways
    way_ptr: IntArray  # way k is way_nodes[way_ptr[k]:way_ptr[k + 1]]
    way_class: list[str]
    edge_u: IntArray  # grid-node edges (for degrees and stitching)
    edge_v: IntArray


def _warp(
    rho: FloatArray, core_m: float, growth_m: float, k: float
) -> tuple[FloatArray, FloatArray]:
    """Radius in the city for a radius on the unwarped grid, and the local stretch factor.

    Inside ``core_m`` the grid keeps its spacing; over the next ``growth_m`` the radial
    spacing grows linearly to ``k`` times, and stays there.
    """
    a = np.minimum(rho, core_m)
    b = np.clip(rho - core_m, 0.0, growth_m)
    c = np.maximum(rho - core_m - growth_m, 0.0)
    r = a + b + (k - 1.0) * b * b / (2.0 * growth_m) + k * c
    radial = 1.0 + (k - 1.0) * b / growth_m
    tangential = np.where(rho > 0, r / np.maximum(rho, 1e-9), 1.0)
    return r, np.sqrt(radial * tangential)


def _seat(poly: shapely.Geometry) -> tuple[float, float]:
    """Centre of the largest inscribed circle of the largest part (the town seat)."""
    parts = shapely.get_parts(poly)
    big = parts[int(np.argmax(shapely.area(parts)))]
    line = shapely.maximum_inscribed_circle(big, 25.0)
    x, y = shapely.get_coordinates(line)[0]
    return float(x), float(y)


def _core_radius_m(area_m2: float) -> float:
    """Radius of a 镇's town core: a quarter of the radius of a disc of its area, clipped."""
    return float(np.clip(0.25 * math.sqrt(area_m2 / math.pi), 600.0, 1_800.0))


def _segments(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray) -> np.ndarray:
    """Shapely two-point LineStrings from end coordinate arrays."""
    a = np.column_stack([ax, ay])
    b = np.column_stack([bx, by])
    return shapely.linestrings(np.stack([a, b], axis=1))


def _grid_points(
    poly: shapely.Geometry, zone: _Zone, density: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Node positions of a rotated, jittered grid around the 街镇's seat, warped outwards.

    Returns x, y and the local street spacing (each ``(2n+1, 2n+1)``) and ``n``.
    """
    s0 = zone.core_spacing_m / math.sqrt(density)
    k = zone.far_spacing_m / zone.core_spacing_m
    core = _core_radius_m(float(shapely.area(poly))) if k > 1 else zone.core_m
    sx, sy = _seat(poly)
    minx, miny, maxx, maxy = poly.bounds
    r_max = float(np.max(np.hypot([minx - sx, maxx - sx], [[miny - sy], [maxy - sy]])))
    rho_table = np.linspace(0.0, r_max, 4_000)
    r_table, _ = _warp(rho_table, core, zone.growth_m, k)
    rho_max = float(np.interp(r_max, r_table, rho_table)) + s0
    n = math.ceil(rho_max / s0) + 1
    size = 2 * n + 1
    col = np.cumsum(rng.uniform(0.7, 1.3, size)) * s0
    row = np.cumsum(rng.uniform(0.7, 1.3, size)) * s0
    qx = (col - col[n])[None, :] + rng.normal(0.0, 0.08 * s0, (size, size))
    qy = (row - row[n])[:, None] + rng.normal(0.0, 0.08 * s0, (size, size))
    rho = np.hypot(qx, qy)
    r, stretch = _warp(rho, core, zone.growth_m, k)
    f = np.where(rho > 0, r / np.maximum(rho, 1e-9), 1.0)
    theta = rng.uniform(0.0, math.pi / 2)
    ct, st = math.cos(theta), math.sin(theta)
    px = sx + f * (ct * qx - st * qy)
    py = sy + f * (st * qx + ct * qy)
    return px, py, s0 * stretch, n


def _keep_edges(
    mask: NDArray[np.bool_],
    a: tuple[FloatArray, FloatArray],
    b: tuple[FloatArray, FloatArray],
    poly: shapely.Geometry,
    barrier_lines: shapely.Geometry | None,
) -> NDArray[np.bool_]:
    """``mask`` less the edges whose middle is outside the 街镇 or that cross a barrier."""
    ax, ay = a[0][mask], a[1][mask]
    bx, by = b[0][mask], b[1][mask]
    good = shapely.contains_xy(poly, (ax + bx) / 2, (ay + by) / 2)
    if barrier_lines is not None and good.any():
        idx = np.flatnonzero(good)
        segs = _segments(ax[idx], ay[idx], bx[idx], by[idx])
        good[idx[shapely.intersects(barrier_lines, segs)]] = False
    out = mask.copy()
    out[mask] = good
    return out


def _streets(
    poly: shapely.Geometry,
    zone: _Zone,
    density: float,
    rng: np.random.Generator,
    corridor: shapely.Geometry | None,
    barrier_lines: shapely.Geometry | None,
) -> _Streets:
    """Lay out the streets of one 街镇: grid edges inside it, grouped into ways, with curves.

    A grid node is kept when it lies in the 街镇 and outside every river and railway
    corridor; an edge when both ends are kept, a random draw keeps it (``1 - zone.drop``),
    its middle is in the 街镇 and it crosses no barrier line. Runs of consecutive edges along
    a grid row or column form one way (every 8th line ``secondary``, every 4th ``tertiary``,
    the rest residential, footway, service or living street); 4 % of the blocks get a diagonal
    footway. Edges over 150 m get up to three shape vertices along a gentle curve.
    """
    px, py, spacing_grid, n = _grid_points(poly, zone, density, rng)
    size = px.shape[0]
    inside = shapely.contains_xy(poly, px, py)
    if corridor is not None:
        inside &= ~shapely.contains_xy(corridor, px, py)
    h = inside[:, :-1] & inside[:, 1:] & (rng.random((size, size - 1)) > zone.drop)
    v = inside[:-1, :] & inside[1:, :] & (rng.random((size - 1, size)) > zone.drop)
    d = inside[:-1, :-1] & inside[1:, 1:] & (rng.random((size - 1, size - 1)) < 0.04)
    h = _keep_edges(h, (px[:, :-1], py[:, :-1]), (px[:, 1:], py[:, 1:]), poly, barrier_lines)
    v = _keep_edges(v, (px[:-1, :], py[:-1, :]), (px[1:, :], py[1:, :]), poly, barrier_lines)
    d = _keep_edges(d, (px[:-1, :-1], py[:-1, :-1]), (px[1:, 1:], py[1:, 1:]), poly, barrier_lines)
    deg = np.zeros((size, size), dtype=np.int64)
    deg[:, :-1] += h
    deg[:, 1:] += h
    deg[:-1, :] += v
    deg[1:, :] += v
    deg[:-1, :-1] += d
    deg[1:, 1:] += d
    used = deg > 0
    local = np.full(size * size, -1, dtype=np.int64)
    local[used.ravel()] = np.arange(int(used.sum()))
    gx, gy = px[used], py[used]
    spacing = spacing_grid[used]
    s0 = zone.core_spacing_m / math.sqrt(density)
    weight = (s0 / spacing) ** 2 * rng.lognormal(0.0, 0.6, len(gx))

    grid_id = np.arange(size * size).reshape(size, size)
    hr, hc, hl = _runs(h)
    vc, vr, vl = _runs(v.T)
    dr, dc = np.nonzero(d)
    first = np.concatenate([grid_id[hr, hc], grid_id[vr, vc], grid_id[dr, dc]])
    stride = np.concatenate(
        [np.ones(len(hr), np.int64), np.full(len(vr), size), np.full(len(dr), size + 1)]
    )
    n_edges = np.concatenate([hl, vl, np.ones(len(dr), np.int64)])
    line_idx = np.concatenate([hr, vc, np.zeros(len(dr), np.int64)]) - n
    major = np.where(line_idx % 8 == 0, "secondary", np.where(line_idx % 4 == 0, "tertiary", ""))
    minor = rng.choice(_MINOR_CLASSES, size=len(first), p=_MINOR_P)
    klass = np.where(major != "", major, minor)
    klass[len(hr) + len(vr) :] = "footway"

    # every edge in way order (way, position), its end nodes in compact numbering
    n_ways = len(first)
    way_of_edge = np.repeat(np.arange(n_ways), n_edges)
    starts = np.cumsum(n_edges) - n_edges
    pos = np.arange(int(n_edges.sum())) - np.repeat(starts, n_edges)
    step = np.repeat(stride, n_edges)
    base = np.repeat(first, n_edges)
    eu = local[base + step * pos]
    ev = local[base + step * (pos + 1)]
    # shape vertices along long edges, kept when inside the 街镇
    dx, dy = gx[ev] - gx[eu], gy[ev] - gy[eu]
    n_shape = np.minimum(np.hypot(dx, dy) // 150.0, 3).astype(np.int64)
    e_rep = np.repeat(np.arange(len(eu)), n_shape)
    q = np.arange(int(n_shape.sum())) - np.repeat(np.cumsum(n_shape) - n_shape, n_shape)
    frac = (q + 1) / (n_shape[e_rep] + 1)
    bend = rng.normal(0.0, 0.04, len(eu))[e_rep] * np.sin(math.pi * frac)
    shx = gx[eu][e_rep] + frac * dx[e_rep] - bend * dy[e_rep]
    shy = gy[eu][e_rep] + frac * dy[e_rep] + bend * dx[e_rep]
    ok = shapely.contains_xy(poly, shx, shy)
    e_rep, q, shx, shy = e_rep[ok], q[ok], shx[ok], shy[ok]
    # node sequences: per way, each edge's start node and its shape vertices, then the end
    item_way = np.concatenate([way_of_edge, way_of_edge[e_rep], np.arange(n_ways)])
    item_pos = np.concatenate([pos, pos[e_rep], n_edges])
    item_sub = np.concatenate([np.zeros(len(eu), np.int64), q + 1, np.zeros(n_ways, np.int64)])
    item_node = np.concatenate([eu, len(gx) + np.arange(len(shx)), ev[starts + n_edges - 1]])
    order = np.lexsort((item_sub, item_pos, item_way))
    way_ptr = np.concatenate([[0], np.cumsum(np.bincount(item_way, minlength=n_ways))])
    return _Streets(
        x=np.concatenate([gx, shx]),
        y=np.concatenate([gy, shy]),
        spacing_m=spacing,
        weight=weight,
        n_grid=len(gx),
        way_nodes=item_node[order].astype(np.int64),
        way_ptr=way_ptr.astype(np.int64),
        way_class=klass.tolist(),
        edge_u=eu,
        edge_v=ev,
    )


# ---------------------------------------------------------------------------- the network
@dataclass
class _Network:
    """The city's streets: grid nodes of every 街镇, then shape vertices, then link nodes.

    Node ids in the PBF are the position in that order plus one.
    """

    gx: FloatArray
    gy: FloatArray
    spacing_m: FloatArray
    weight: FloatArray
    grid_off: IntArray  # 街镇 k's grid nodes are gx[grid_off[k]:grid_off[k + 1]]
    sx: FloatArray
    sy: FloatArray
    ways: list[tuple[IntArray | list[int], dict[str, str]]]
    n_edges: int
    extra: list[tuple[float, float, dict[str, str]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_street(self) -> int:
        """Grid nodes and shape vertices."""
        return len(self.gx) + len(self.sx)

    def add_node(self, x: float, y: float, tags: dict[str, str] | None = None) -> int:
        """Add a node at metric (x, y) after the street nodes; return its OSM id."""
        self.extra.append((x, y, tags or {}))
        return self.n_street + len(self.extra)

    def add_way(self, nodes: list[int], tags: dict[str, str], what: str, n_edges: int) -> None:
        """Add a way of OSM node ids, counted as ``what``."""
        self.ways.append((nodes, tags))
        self.counts[what] = self.counts.get(what, 0) + 1
        self.n_edges += n_edges


def _stitch(
    net: _Network,
    owner: IntArray,
    border: NDArray[np.bool_],
    barrier_lines: shapely.Geometry | None,
    rng: np.random.Generator,
) -> IntArray:
    """Join border nodes of neighbouring 街镇 by short streets; returns the joined pairs.

    Each border node takes its nearest node of another 街镇 within 1.5 street spacings; three
    quarters of the distinct pairs are joined, never across a barrier line.
    """
    idx = np.flatnonzero(border)
    if len(idx) < 2:
        return np.empty((0, 2), np.int64)
    pts = np.column_stack([net.gx[idx], net.gy[idx]])
    from scipy.spatial import cKDTree

    dist, nb = cKDTree(pts).query(pts, k=min(8, len(idx)))
    nb_global = idx[np.minimum(nb, len(idx) - 1)]
    reach = 1.5 * np.maximum(net.spacing_m[idx][:, None], net.spacing_m[nb_global])
    foreign = (owner[nb_global] != owner[idx][:, None]) & (dist <= reach)
    has = foreign.any(axis=1)
    pick = np.argmax(foreign, axis=1)  # columns are sorted by distance: the nearest
    a = idx[has]
    b = nb_global[has, pick[has]]
    pairs = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    pairs = pairs[rng.random(len(pairs)) < 0.75]
    if barrier_lines is not None and len(pairs):
        segs = _segments(
            net.gx[pairs[:, 0]], net.gy[pairs[:, 0]], net.gx[pairs[:, 1]], net.gy[pairs[:, 1]]
        )
        pairs = pairs[~shapely.intersects(barrier_lines, segs)]
    for u, v in pairs.tolist():
        net.add_way([u + 1, v + 1], {"highway": "residential"}, "stitches", 1)
    return pairs


def _positions(
    line: shapely.LineString,
    central: shapely.Geometry,
    every_central_m: float,
    every_outer_m: float,
) -> list[float]:
    """Distances along ``line`` of its crossings: closer together in the central city."""
    out = []
    t = 0.5 * every_central_m
    while t < line.length:
        out.append(t)
        t += every_central_m if central.contains(line.interpolate(t)) else every_outer_m
    return out


def _bank_nodes(
    line: shapely.LineString,
    t: float,
    width_m: float,
    tree: cKDTree,
    xy: FloatArray,
    spacing: FloatArray,
) -> tuple[int, int, FloatArray, FloatArray] | None:
    """Find the street nodes facing each other across ``line`` at ``t``, the point, the normal.

    On each side the nearest node to a point just beyond the bank that lies beyond the bank
    and within 2.5 street spacings of it; None when a side has none.
    """
    p = np.array(line.interpolate(t).coords[0])
    a = np.array(line.interpolate(max(t - 25.0, 0.0)).coords[0])
    b = np.array(line.interpolate(min(t + 25.0, line.length)).coords[0])
    tangent = b - a
    norm = float(np.hypot(*tangent))
    if norm == 0:
        return None
    normal = np.array([-tangent[1], tangent[0]]) / norm
    chosen = []
    for side in (1.0, -1.0):
        target = p + side * normal * (width_m / 2 + 30.0)
        dist, nb = tree.query(target, k=min(12, len(xy)))
        best = None
        for dd, j in zip(np.atleast_1d(dist).tolist(), np.atleast_1d(nb).tolist(), strict=True):
            if j >= len(xy) or not math.isfinite(dd):
                continue
            beyond = float(np.dot(xy[j] - p, normal)) * side >= 0.45 * width_m
            if beyond and dd <= width_m / 2 + 2.5 * spacing[j]:
                best = j
                break
        if best is None:
            return None
        chosen.append(best)
    return chosen[0], chosen[1], p, normal


def _crossings(
    net: _Network,
    barriers: list[_Barrier],
    connected: NDArray[np.bool_],
    central: shapely.Geometry,
    extent: shapely.Geometry,
) -> None:
    """Bridges and underpasses across every barrier and ferries across the Huangpu.

    Crossings are planned along each line (:func:`_positions`); one is built where both banks
    have a street node (:func:`_bank_nodes`) and the link crosses no other barrier. The
    Huangpu is crossed by ferries: a pier on each bank (``amenity=ferry_terminal``, joined to
    the bank's street node by a footway) and a ``route=ferry`` way between them; far
    upstream (over 20 km from People's Square) also by a bridge every 7 km.
    """
    idx = np.flatnonzero(connected)
    if len(idx) < 2:
        return
    xy = np.column_stack([net.gx[idx], net.gy[idx]])
    from scipy.spatial import cKDTree

    tree = cKDTree(xy)
    spacing = net.spacing_m[idx]
    far = shapely.difference(extent, shapely.buffer(central, 7_000.0))
    for bi, b in enumerate(barriers):
        if not b.line.intersects(extent):
            continue
        others = shapely.union_all([o.line for j, o in enumerate(barriers) if j != bi])
        if b.kind == "huangpu":
            plans = [
                (t, "ferry")
                for t in _positions(b.line, central, b.crossing_central_m, b.crossing_outer_m)
            ]
            plans += [
                (float(t), "bridge")
                for t in np.arange(0.5 * _HUANGPU_BRIDGE_M, b.line.length, _HUANGPU_BRIDGE_M)
                if far.contains(b.line.interpolate(t))
            ]
        else:
            plans = [
                (t, "bridge")
                for t in _positions(b.line, central, b.crossing_central_m, b.crossing_outer_m)
            ]
        for t, what in sorted(plans):
            if not extent.contains(b.line.interpolate(t)):
                continue
            found = _bank_nodes(b.line, t, b.width_m, tree, xy, spacing)
            if found is None:
                continue
            ia, ib, p, normal = found
            seg = shapely.LineString([xy[ia], xy[ib]])
            if not seg.intersects(b.line) or seg.intersects(others):
                continue
            ga, gb = int(idx[ia]) + 1, int(idx[ib]) + 1
            if what == "ferry":
                k = net.counts.get("ferries", 0) + 1
                name = f"合成轮渡{k}号线"
                half = b.width_m / 2 - 10.0
                pier = {"amenity": "ferry_terminal", "name": f"{name}码头"}
                na = net.add_node(*(p + normal * half).tolist(), dict(pier))
                nb = net.add_node(*(p - normal * half).tolist(), dict(pier))
                mid = net.add_node(*p.tolist())
                approach = {"highway": "footway", "name": f"{name}码头引道"}
                net.add_way([ga, na], dict(approach), "pier_footways", 1)
                net.add_way([nb, gb], dict(approach), "pier_footways", 1)
                tags = {"route": "ferry", "foot": "yes", "name": name, "note": "synthetic"}
                net.add_way([na, mid, nb], tags, "ferries", 1)
            elif b.kind == "rail":
                k = net.counts.get("underpasses", 0) + 1
                tags = {"highway": "tertiary", "tunnel": "yes", "layer": "-1"}
                net.add_way([ga, gb], {**tags, "name": f"合成地道{k}"}, "underpasses", 1)
            else:
                k = net.counts.get("bridges", 0) + 1
                tags = {"highway": "secondary", "bridge": "yes", "layer": "1"}
                net.add_way([ga, gb], {**tags, "name": f"合成桥{k}"}, "bridges", 1)


def _network(
    jz: gpd.GeoDataFrame,
    barriers: list[_Barrier],
    density: float,
    seed: int,
    central: shapely.Geometry,
) -> _Network:
    """Streets of every selected 街镇, stitched across borders, with crossings and ferries."""
    polys = jz.geometry.to_numpy()
    corridors = (
        shapely.union_all([shapely.buffer(b.line, b.width_m / 2 + 5.0) for b in barriers])
        if barriers
        else None
    )
    lines = shapely.union_all([b.line for b in barriers]) if barriers else None
    parts: list[_Streets] = []
    for k, poly in enumerate(polys):
        rng = np.random.default_rng([seed, int(jz.jiezhen_code.iat[k])])
        shapely.prepare(poly)
        box = shapely.buffer(shapely.box(*poly.bounds), 500.0)
        corr = blines = None
        if corridors is not None:
            corr = shapely.intersection(corridors, box)
            blines = shapely.intersection(lines, box)
            corr = None if corr.is_empty else corr
            blines = None if blines.is_empty else blines
            for g in (corr, blines):
                if g is not None:
                    shapely.prepare(g)
        parts.append(_streets(poly, _ZONES[jz.zone.iat[k]], density, rng, corr, blines))

    n_grid = np.array([p.n_grid for p in parts], dtype=np.int64)
    n_shape = np.array([len(p.x) - p.n_grid for p in parts], dtype=np.int64)
    grid_off = np.concatenate([[0], np.cumsum(n_grid)])
    shape_off = grid_off[-1] + np.concatenate([[0], np.cumsum(n_shape)])
    ways: list[tuple[IntArray | list[int], dict[str, str]]] = []
    for k, p in enumerate(parts):
        ids = (
            np.where(
                p.way_nodes < p.n_grid,
                p.way_nodes + grid_off[k],
                p.way_nodes - p.n_grid + shape_off[k],
            )
            + 1
        )
        ways += [
            (ids[p.way_ptr[w] : p.way_ptr[w + 1]], {"highway": c})
            for w, c in enumerate(p.way_class)
        ]
    net = _Network(
        gx=np.concatenate([p.x[: p.n_grid] for p in parts]),
        gy=np.concatenate([p.y[: p.n_grid] for p in parts]),
        spacing_m=np.concatenate([p.spacing_m for p in parts]),
        weight=np.concatenate([p.weight for p in parts]),
        grid_off=grid_off,
        sx=np.concatenate([p.x[p.n_grid :] for p in parts]),
        sy=np.concatenate([p.y[p.n_grid :] for p in parts]),
        ways=ways,
        n_edges=int(sum(len(p.edge_u) for p in parts)),
    )
    owner = np.repeat(np.arange(len(parts)), n_grid)
    border = np.zeros(len(net.gx), dtype=bool)
    for k, poly in enumerate(polys):
        reach = 0.9 * _ZONES[jz.zone.iat[k]].far_spacing_m / math.sqrt(density)
        sl = slice(grid_off[k], grid_off[k + 1])
        border[sl] = ~shapely.contains_xy(shapely.buffer(poly, -reach), net.gx[sl], net.gy[sl])
    pairs = _stitch(net, owner, border, lines, np.random.default_rng([seed, 77]))
    ends = [pairs.ravel()]
    ends += [np.concatenate([p.edge_u, p.edge_v]) + grid_off[k] for k, p in enumerate(parts)]
    connected = np.bincount(np.concatenate(ends), minlength=len(net.gx)) > 0
    extent = shapely.union_all(shapely.buffer(polys, 1.0))
    _crossings(net, barriers, connected, central, extent)
    return net


# ---------------------------------------------------------------------------- people
def _units_of(
    poly: shapely.Geometry,
    px: FloatArray,
    py: FloatArray,
    pop: IntArray,
    n_units: int,
    rng: np.random.Generator,
) -> tuple[list[shapely.Geometry], IntArray]:
    """Population-weighted Voronoi units of one 街镇 and each resident point's unit.

    Seeds are drawn among the resident points by population and moved by six weighted Lloyd
    steps; the Voronoi cells are clipped to the 街镇, so the units tile it.
    """
    from scipy.spatial import cKDTree

    live = np.flatnonzero(pop > 0)
    n_units = max(1, min(n_units, len(live)))
    if n_units == 1:
        return [poly], np.zeros(len(px), dtype=np.int64)
    pts = np.column_stack([px, py])
    seeds = pts[rng.choice(live, size=n_units, replace=False, p=pop[live] / pop[live].sum())]
    w = pop.astype(np.float64)
    for _ in range(6):
        _, lab = cKDTree(seeds).query(pts)
        tot = np.bincount(lab, weights=w, minlength=len(seeds))
        cx = np.bincount(lab, weights=w * pts[:, 0], minlength=len(seeds))
        cy = np.bincount(lab, weights=w * pts[:, 1], minlength=len(seeds))
        ok = tot > 0
        seeds[ok] = np.column_stack([cx[ok] / tot[ok], cy[ok] / tot[ok]])
    seeds = np.unique(np.round(seeds, 3), axis=0)
    _, lab = cKDTree(seeds).query(pts)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=poly, ordered=True)
    )
    shapes = []
    for g in shapely.intersection(cells, poly):
        parts = [q for q in shapely.get_parts(g) if q.geom_type == "Polygon" and q.area > 0]
        if len(parts) > 1:
            shapes.append(shapely.multipolygons(parts))
        else:
            shapes.append(parts[0] if parts else shapely.Polygon())
    # the unit a point lies in (a point on a cell edge keeps its nearest seed's)
    pi, si = shapely.STRtree(shapes).query(shapely.points(pts), predicate="within")
    first = np.unique(pi, return_index=True)[1]
    lab[pi[first]] = si[first]
    return shapes, lab.astype(np.int64)


@dataclass
class _People:
    """Resident points per 街镇 (metric) and the units."""

    x: list[FloatArray]
    y: list[FloatArray]
    pop: list[IntArray]
    unit_id: list[NDArray[np.object_]]
    units: gpd.GeoDataFrame


def _people(
    jz: gpd.GeoDataFrame,
    jz_pop: IntArray,
    net: _Network,
    census: dict[str, dict[str, Any]],
    seed: int,
    unit_population: float,
) -> _People:
    """Resident points near the streets of each 街镇, and the units.

    A 街镇's residents go to one point per street grid node (a compound in the block beside
    it), in integer shares of the node weights (dense town cores weigh more), so that they
    sum exactly to the 街镇's population.
    """
    polys = jz.geometry.to_numpy()
    out = _People([], [], [], [], gpd.GeoDataFrame())
    rows: list[dict[str, Any]] = []
    for k, poly in enumerate(polys):
        code = jz.jiezhen_code.iat[k]
        zone = _ZONES[jz.zone.iat[k]]
        rng = np.random.default_rng([seed, int(code), 2])
        sl = slice(net.grid_off[k], net.grid_off[k + 1])
        x, y, s, w = net.gx[sl], net.gy[sl], net.spacing_m[sl], net.weight[sl]
        if len(x) == 0:  # a 街镇 too small for a street at this density: one point
            rp = shapely.point_on_surface(poly)
            x, y, s, w = np.array([rp.x]), np.array([rp.y]), np.array([50.0]), np.ones(1)
        ang = rng.uniform(0, 2 * math.pi, len(x))
        rx = x + 0.25 * s * np.cos(ang)
        ry = y + 0.25 * s * np.sin(ang)
        off = ~shapely.contains_xy(poly, rx, ry)
        rx[off], ry[off] = x[off], y[off]
        pop = _largest_remainder(int(jz_pop[k]), w)
        n_u = max(1, round(jz_pop[k] / unit_population))
        shapes, lab = _units_of(poly, rx, ry, pop, n_u, rng)
        unit_pop = np.bincount(lab, weights=pop, minlength=len(shapes)).astype(np.int64)
        seat = _seat(poly)
        core_r = 1_500.0 + _core_radius_m(float(poly.area))
        ids = [f"{code}{u + 1:03d}" for u in range(len(shapes))]
        for u, shape in enumerate(shapes):
            area_type = zone.area_type
            if zone.far_spacing_m > zone.core_spacing_m and not shape.is_empty:
                c = shapely.centroid(shape)  # town core (其他地区) or villages (乡村)
                area_type = (
                    "其他地区" if math.hypot(c.x - seat[0], c.y - seat[1]) <= core_r else "乡村"
                )
            rows.append(
                {
                    "unit_id": ids[u],
                    "unit_name": f"合成单元{u + 1:02d}",
                    "jiezhen_code": code,
                    "jiezhen_name": jz.jiezhen_name.iat[k],
                    "district_code": jz.district_code.iat[k],
                    "district_name": census[jz.district_code.iat[k]]["name_zh"],
                    "area_type": area_type,
                    "population": int(unit_pop[u]),
                    "area_m2": float(shape.area),
                    "synthetic": True,
                    "geometry": shape,
                }
            )
        live = pop > 0
        out.x.append(rx[live])
        out.y.append(ry[live])
        out.pop.append(pop[live])
        out.unit_id.append(np.asarray(ids, dtype=object)[lab[live]])
    units = gpd.GeoDataFrame(rows, geometry="geometry", crs=_METRIC_EPSG)
    out.units = units[~units.geometry.is_empty].reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------- facilities
def _facilities(
    jz: gpd.GeoDataFrame,
    jz_pop: IntArray,
    net: _Network,
    people: _People,
    seed: int,
    centre_xy: tuple[float, float],
) -> tuple[list[tuple[FloatArray, FloatArray, dict[str, str], str]], dict[str, int]]:
    """Facility POIs of every :data:`FACILITY_RATES` kind in every 街镇.

    The count is ``per_jiezhen`` plus a Poisson draw with mean residents / ``per_residents``
    plus ``per_km2`` × area (a 镇's town core at the 其他地区 rate, the rest at the 乡村 rate).
    """
    polys = jz.geometry.to_numpy()
    out = []
    by_cat: dict[str, int] = {}
    for k, poly in enumerate(polys):
        code = jz.jiezhen_code.iat[k]
        zone = _ZONES[jz.zone.iat[k]]
        rng = np.random.default_rng([seed, int(code), 3])
        area_km2 = poly.area / 1e6
        if zone.far_spacing_m > zone.core_spacing_m:
            core_km2 = min(area_km2, math.pi * (_core_radius_m(poly.area) + 1_500.0) ** 2 / 1e6)
            shares = {2: core_km2, 3: area_km2 - core_km2}
        else:
            shares = {_AREA_TYPE_INDEX[zone.area_type]: area_km2}
        rp = shapely.point_on_surface(poly)
        boost = float(
            np.clip(
                2.5 * math.exp(-math.hypot(rp.x - centre_xy[0], rp.y - centre_xy[1]) / 6_000.0),
                0.4,
                2.5,
            )
        )
        rx, ry, rpop = people.x[k], people.y[k], people.pop[k].astype(np.float64)
        lo, hi = int(net.grid_off[k]), int(net.grid_off[k + 1])
        for rate in FACILITY_RATES:
            lam = jz_pop[k] / rate.per_residents if rate.per_residents else 0.0
            lam += sum(rate.per_km2[i] * a for i, a in shares.items()) * (
                boost if rate.central_boost else 1.0
            )
            n = rate.per_jiezhen + (int(rng.poisson(lam)) if lam > 0 else 0)
            if n == 0:
                continue
            if rate.near == "people" and rpop.sum() > 0:
                pick = rng.choice(len(rpop), size=n, p=rpop / rpop.sum())
                fx = rx[pick] + rng.normal(0.0, 15.0, n)
                fy = ry[pick] + rng.normal(0.0, 15.0, n)
                off = ~shapely.contains_xy(poly, fx, fy)
                fx[off], fy[off] = rx[pick][off], ry[pick][off]
            elif hi > lo:
                pick = rng.integers(lo, hi, size=n)
                ang = rng.uniform(0, 2 * math.pi, n)
                fx = net.gx[pick] + 8.0 * np.cos(ang)
                fy = net.gy[pick] + 8.0 * np.sin(ang)
            else:
                fx, fy = np.full(n, rp.x), np.full(n, rp.y)
            out.append((fx, fy, dict(rate.tags), rate.name))
            by_cat[rate.category] = by_cat.get(rate.category, 0) + n
    return out, dict(sorted(by_cat.items()))


# ---------------------------------------------------------------------------- writing
def _write_pbf(
    path: Path,
    lon: FloatArray,
    lat: FloatArray,
    node_tags: dict[int, dict[str, str]],
    ways: list[tuple[IntArray | list[int], dict[str, str]]],
) -> None:
    """Nodes 1..n (with tags where given) and ways 1..m, through osmium's SimpleWriter."""
    import osmium

    header = osmium.io.Header()
    header.set("generator", _GENERATOR)
    if len(lon):
        header.add_box(
            osmium.osm.Box(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        )
    with atomic_path(path) as tmp:
        writer = osmium.SimpleWriter(osmium.io.File(str(tmp), "pbf"), header=header, overwrite=True)
        try:
            node = osmium.osm.mutable.Node(id=1, location=(0.0, 0.0))
            for k, (a, b) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
                node.id = k + 1
                node.location = (a, b)
                node.tags = node_tags.get(k + 1, {})
                writer.add_node(node)
            way = osmium.osm.mutable.Way(id=1, nodes=[1, 2])
            for k, (nodes, tags) in enumerate(ways):
                way.id = k + 1
                way.nodes = nodes if isinstance(nodes, list) else nodes.tolist()
                way.tags = tags
                writer.add_way(way)
        finally:
            writer.close()


def _write_osm(
    path: Path,
    net: _Network,
    barriers: list[_Barrier],
    extent: shapely.Geometry,
    facilities: list[tuple[FloatArray, FloatArray, dict[str, str], str]],
) -> tuple[int, int]:
    """Write the network, the barrier lines near ``extent`` and the POIs; (nodes, ways)."""
    xs = [net.gx, net.sx, np.array([e[0] for e in net.extra], dtype=np.float64)]
    ys = [net.gy, net.sy, np.array([e[1] for e in net.extra], dtype=np.float64)]
    node_tags = {net.n_street + 1 + j: e[2] for j, e in enumerate(net.extra) if e[2]}
    next_id = net.n_street + len(net.extra) + 1
    ways = list(net.ways)
    clip = shapely.buffer(extent, 2_000.0)
    for b in barriers:
        for part in shapely.get_parts(shapely.intersection(b.line, clip)):
            if part.geom_type != "LineString" or part.length == 0:
                continue
            c = shapely.get_coordinates(part)
            xs.append(c[:, 0])
            ys.append(c[:, 1])
            ways.append(
                (
                    list(range(next_id, next_id + len(c))),
                    {"railway": "rail", "name": b.name}
                    if b.kind == "rail"
                    else {"waterway": "river", "name": b.name},
                )
            )
            next_id += len(c)
    counters: dict[str, int] = {}
    for fx, fy, tags, name in facilities:
        xs.append(fx)
        ys.append(fy)
        for _ in range(len(fx)):
            counters[name] = counters.get(name, 0) + 1
            node_tags[next_id] = {
                **tags,
                "name": f"合成{name}{counters[name]:04d}",
                "note": "synthetic",
            }
            next_id += 1
    inv = Transformer.from_crs(_METRIC_EPSG, 4326, always_xy=True)
    lon, lat = inv.transform(np.concatenate(xs), np.concatenate(ys))
    lon = np.round(np.asarray(lon), 7)
    lat = np.round(np.asarray(lat), 7)
    _write_pbf(path, lon, lat, node_tags, ways)
    return len(lon), len(ways)


def _toml_value(value: Any) -> str:
    """Format a bool, number or text as a TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _write_config(path: Path, population: str, options: dict[str, Any], note: str) -> None:
    """Write the run config of the folder, for ``lifecircle batch``."""
    lines = [
        f"# SYNTHETIC data: {note}",
        f"# Written by lifecircle_geo.synth.shanghai; run: lifecircle batch {path.name}",
        'profile = "shanghai-2025"',
        'out = "batch_out"',
        *(f"{k} = {_toml_value(v)}" for k, v in sorted(options.items())),
        "",
        "[network]",
        f"osm = {_toml_value(_PBF_NAME)}",
        "",
        "[units]",
        f"path = {_toml_value(_UNITS_NAME)}",
        'layer = "units"',
        "",
        "[population]",
        *(
            [f"points = {_toml_value(_RESIDENTS_NAME)}", 'column = "population"']
            if population == "points"
            else ['totals = "population"']
        ),
        "",
        "[batch]",
        'by = "jiezhen_code"',
        "",
    ]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8", newline="\n")


def _readme(params: dict[str, Any], counts: dict[str, Any], data: Path) -> str:
    """Return the text of ``README.txt``."""
    return f"""SYNTHETIC SHANGHAI -- NOT REAL DATA
====================================

Everything in this folder was invented by lifecircle_geo.synth.shanghai (lifecircle_geo
{__version__}) for tests and benchmarks: the streets, bridges, ferries, the exact courses of
the rivers and railways, every facility, every resident point and every basic unit. Do not
use it for planning. Only two real things went in, read in place from {data}:
the 街镇 and district boundaries (subdistricts.geojson) and each district's 2020 census
resident total (districts_2020.csv), which the resident points reproduce per district.

Parameters: {json.dumps(params, ensure_ascii=False, sort_keys=True)}

Files
-----
{_PBF_NAME}
    OSM PBF, header generator "{_GENERATOR}":
    {counts["street_nodes"]:,} street nodes, {counts["osm_ways"]:,} ways,
    {counts["bridges"]} bridges, {counts["underpasses"]} underpasses, {counts["ferries"]} ferries,
    {counts["facilities"]:,} facility POIs (names start with 合成, "synthetic")
{_UNITS_NAME}
    layer "units": {counts["units"]:,} basic units, population-weighted Voronoi cells
    inside each 街镇 (unit_id = 9-digit 街镇 code + 3 digits)
{_RESIDENTS_NAME}
    layer "residents": {counts["residents"]:,} resident points with integer population
{_CONFIG_NAME}
    run config: lifecircle batch {_CONFIG_NAME}
{_META_NAME}
    parameters, counts, population per district and 街镇, timings
"""


# ---------------------------------------------------------------------------- main
def shanghai(
    out: str | os.PathLike,
    data: str | os.PathLike | None = None,
    *,
    districts: Sequence[str] | None = None,
    subdistricts: Sequence[str] | None = None,
    density: float = 1.0,
    seed: int = 0,
    unit_population: float = 15_500.0,
    population: str = "points",
    options: dict[str, Any] | None = None,
) -> SynthShanghai:
    """Write a synthetic Shanghai (streets, facilities, residents, units) in the real 街镇.

    See the module docstring for what is generated and how. Every file name and the PBF
    header say ``synthetic``; facility, bridge and ferry names start with 合成 (synthetic).

    Parameters
    ----------
    out : str or path-like
        Output folder (created; files of the same names are replaced).
    data : str or path-like, optional
        The folder of the real reference files (or its ``subdistricts.geojson``); default
        ``../shared/data/shanghai`` (see :func:`find_data`).
    districts : sequence of str, optional
        Only the 街镇 of these districts: adcodes (``"310101"``) or names (``"黄浦区"``,
        ``"黄浦"``, ``"Huangpu"``).
    subdistricts : sequence of str, optional
        Only these 街镇: 9- or 12-digit codes or Chinese names (``"外滩街道"``); with
        ``districts`` as well, a 街镇 must be in both.
    density : float
        Street density factor: street spacing is divided by ``sqrt(density)``, so the number
        of street nodes grows about linearly with it (1.0: about 480,000 street nodes, 320,000
        of them grid nodes, for the whole city; 0.25 for quick tests). Facilities, residents'
        totals and units do not depend on it.
    seed : int
        Seed of every random draw; the same arguments write the same files.
    unit_population : float
        Residents per basic unit aimed at (about 1,600 units for the city at 15,500).
    population : {"points", "totals"}
        What the config's ``[population]`` uses: the resident points GeoPackage, or the units'
        ``population`` column spread over their streets.
    options : dict, optional
        Top-level keys of the run config (e.g. ``{"suggest": False}``); default
        ``{"isochrone_polygons": False}`` (walking catchment polygons are costly at city
        scale).

    Returns
    -------
    SynthShanghai
        The paths written, the populations and the counts.

    Raises
    ------
    InputError
        Reference data not found or malformed, an unknown district or 街镇, or bad parameters.

    Examples
    --------
    >>> city = shanghai("out/synth", subdistricts=["外滩街道", "陆家嘴街道"])  # doctest: +SKIP
    >>> city.counts["ferries"] > 0  # doctest: +SKIP
    True
    """
    t0 = time.perf_counter()
    if isinstance(density, bool) or not (
        isinstance(density, int | float) and math.isfinite(density) and density > 0
    ):
        raise InputError(f"density must be a positive number, got {density!r}")
    if not (isinstance(unit_population, int | float) and unit_population > 0):
        raise InputError(f"unit_population must be a positive number, got {unit_population!r}")
    if population not in ("points", "totals"):
        raise InputError(f"population={population!r}; expected 'points' or 'totals'")
    folder = find_data(data)
    census = _read_census(folder / "districts_2020.csv")
    jz_all = _read_jiezhen(folder)
    pop_all = _jiezhen_population(jz_all, census, seed)
    sel = _select(jz_all, census, districts, subdistricts)
    jz = jz_all[sel].reset_index(drop=True)
    jz_pop = pop_all[sel]
    barriers = _barriers(jz_all)
    fwd = Transformer.from_crs(4326, _METRIC_EPSG, always_xy=True)
    centre = fwd.transform(*_CENTRE_LONLAT)
    central = shapely.buffer(shapely.Point(*centre), _CENTRAL_RADIUS_M)
    timings = {"read": time.perf_counter() - t0}

    t = time.perf_counter()
    net = _network(jz, barriers, density, seed, central)
    timings["network"] = time.perf_counter() - t
    t = time.perf_counter()
    people = _people(jz, jz_pop, net, census, seed, unit_population)
    timings["residents_units"] = time.perf_counter() - t
    t = time.perf_counter()
    facilities, by_cat = _facilities(jz, jz_pop, net, people, seed, centre)
    timings["facilities"] = time.perf_counter() - t

    t = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    pbf = out_dir / _PBF_NAME
    extent = shapely.union_all(shapely.buffer(jz.geometry.to_numpy(), 1.0))
    n_osm_nodes, n_osm_ways = _write_osm(pbf, net, barriers, extent, facilities)
    timings["write_pbf"] = time.perf_counter() - t

    t = time.perf_counter()
    units = people.units
    units_path = out_dir / _UNITS_NAME
    with atomic_path(units_path) as tmp:
        units.to_crs(4326).to_file(tmp, layer="units", driver="GPKG", engine="pyogrio")
    residents = gpd.GeoDataFrame(
        {
            "population": np.concatenate(people.pop),
            "unit_id": np.concatenate(people.unit_id),
        },
        geometry=shapely.points(np.concatenate(people.x), np.concatenate(people.y)),
        crs=_METRIC_EPSG,
    )
    res_path = out_dir / _RESIDENTS_NAME
    with atomic_path(res_path) as tmp:
        residents.to_crs(4326).to_file(tmp, layer="residents", driver="GPKG", engine="pyogrio")
    written = {
        str(d): int(v) for d, v in units.groupby("district_code")["population"].sum().items()
    }
    census_sel = {d: int(census[d]["population"]) for d in written}
    share = {d: written[d] / census_sel[d] for d in written}
    opts = {"isochrone_polygons": False} if options is None else dict(options)
    params = {
        "seed": seed,
        "density": density,
        "unit_population": unit_population,
        "population": population,
        "districts": list(districts) if districts is not None else None,
        "subdistricts": list(subdistricts) if subdistricts is not None else None,
    }
    note = (
        f"synthetic Shanghai (lifecircle_geo.synth.shanghai, seed={seed}, density={density}): "
        "fictional streets, facilities and residents in the real 街镇 boundaries"
    )
    config = out_dir / _CONFIG_NAME
    _write_config(config, population, opts, note)
    counts: dict[str, Any] = {
        "jiezhen": len(jz),
        "units": len(units),
        "residents": len(residents),
        "population": int(residents["population"].sum()),
        "street_nodes": net.n_street,
        "grid_nodes": len(net.gx),
        "street_edges": net.n_edges,
        "osm_nodes": n_osm_nodes,
        "osm_ways": n_osm_ways,
        **{
            k: net.counts.get(k, 0)
            for k in ("stitches", "bridges", "underpasses", "ferries", "pier_footways")
        },
        "facilities": int(sum(by_cat.values())),
        "facilities_by_category": by_cat,
        "units_by_area_type": {
            str(k): int(v) for k, v in units["area_type"].value_counts().sort_index().items()
        },
        "pbf_bytes": pbf.stat().st_size,
    }
    timings["tables"] = time.perf_counter() - t
    seconds = time.perf_counter() - t0
    meta_path = out_dir / _META_NAME
    meta = {
        "synthetic": True,
        "note": note,
        "generator": _GENERATOR,
        "lifecircle_geo_version": __version__,
        "data_folder": str(folder),
        "parameters": params,
        "config_options": opts,
        "counts": counts,
        "population": written,
        "census_2020": census_sel,
        "census_share": share,
        "jiezhen": [
            {
                "jiezhen_code": c,
                "jiezhen_name": n,
                "district_code": d,
                "zone": _ZONES[z].name,
                "population": int(p),
            }
            for c, n, d, z, p in zip(
                jz.jiezhen_code, jz.jiezhen_name, jz.district_code, jz.zone, jz_pop, strict=True
            )
        ],
        "barriers": [b.name for b in barriers],
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json_text(meta, indent=2), encoding="utf-8")
    readme = out_dir / _README_NAME
    with atomic_path(readme) as tmp:
        tmp.write_text(_readme(params, counts, folder), encoding="utf-8")
    log.info(
        "synthetic Shanghai: %d 街镇, %d street nodes, %d units, %d residents, %d facilities "
        "in %.1f s: %s",
        len(jz),
        net.n_street,
        len(units),
        counts["population"],
        counts["facilities"],
        seconds,
        out_dir,
    )
    return SynthShanghai(
        folder=out_dir,
        pbf=pbf,
        units=units_path,
        residents=res_path,
        config=config,
        readme=readme,
        meta=meta_path,
        population=written,
        census=census_sel,
        share=share,
        counts=counts,
        seconds=seconds,
    )


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m lifecircle_geo.synth OUT [options]``: write a synthetic Shanghai."""
    ap = argparse.ArgumentParser(
        prog="python -m lifecircle_geo.synth",
        description="Write a SYNTHETIC Shanghai (fictional streets, facilities, residents and "
        "units in the real 街镇 boundaries) and a batch config.",
    )
    ap.add_argument("out", help="output folder")
    ap.add_argument("--data", help="folder of subdistricts.geojson (default ../shared/...)")
    ap.add_argument("--districts", nargs="*", help="district codes or names")
    ap.add_argument("--subdistricts", nargs="*", help="街镇 codes or names")
    ap.add_argument("--density", type=float, default=1.0, help="street density factor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--population", choices=("points", "totals"), default="points")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shanghai(
        args.out,
        args.data,
        districts=args.districts,
        subdistricts=args.subdistricts,
        density=args.density,
        seed=args.seed,
        population=args.population,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
