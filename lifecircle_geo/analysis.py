"""`analyze`: from a network, facilities, units and residents to coverage, gaps and projects.

Examples
--------
>>> import lifecircle_geo as lc
>>> net = lc.WalkNetwork.from_osm("data/sample/sample.osm")  # doctest: +SKIP
>>> fac = lc.facilities.from_osm("data/sample/sample.osm")  # doctest: +SKIP
>>> units = lc.units.load("data/sample/units.geojson")  # doctest: +SKIP
>>> pop = lc.population.from_raster("data/sample/population.tif")  # doctest: +SKIP
>>> result = lc.analyze(net, fac, units, population=pop)  # doctest: +SKIP
>>> result.write("out/")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import difflib
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import cycle as lc_cycle
from . import population as lc_population
from . import units as lc_units
from ._version import __version__
from .accessibility import service_load
from .coverage import ResidentRows, apply_status, evaluate_indicators, rollup, summarize
from .engine import NearestByCategory, nearest_by_category
from .errors import InputError
from .extent import network_extent, network_share
from .facilities import to_crs as facilities_to_crs
from .gaps import annex_table, package_projects, rank_gaps
from .isochrones import isochrones, travel_time_raster
from .network import WalkNetwork
from .routing import Sites
from .settings import settings
from .standards import Category, Profile, load_profile

log = logging.getLogger(__name__)

__all__ = ["OUTPUTS", "AnalysisResult", "analyze"]

#: The outputs :meth:`AnalysisResult.write` writes (``outputs=`` picks some); also
#: ``lifecircle_geo.report.OUTPUTS``. Here, so that a config or a batch plan names them without
#: importing the writers (matplotlib, folium: 1.4 s).
OUTPUTS = ("gpkg", "xlsx", "map", "figures", "summaries")

_UNIT_KEYS = ["unit_id", "unit_name", "jiezhen_code", "jiezhen_name", "district_code", "area_type"]


@dataclass
class AnalysisResult:
    """What :func:`analyze` returns; every table carries Chinese and English category names.

    Attributes
    ----------
    coverage : DataFrame
        One row per unit × category: population, covered_population, share, mean_walk_min,
        p90_walk_min, threshold_m, target_share, meets_standard, and the unit's hierarchy.
    gaps : DataFrame
        Coverage rows missing their standard, ranked by ``people_left_out``.
    jiezhen, district : DataFrame
        The same measures rolled up to 街镇 and district.
    sites : GeoDataFrame
        The packages' sites, one row per package × function (network CRS), for maps.
    projects : DataFrame
        The project list (项目实施清单): one project per package, then last year's unfinished
        projects carried over.
    units, demand : GeoDataFrame
        Units with population, and resident points with ``walk_m_<category>``, network CRS.
    facilities : GeoDataFrame
        Facilities used (WGS-84) with ``snap_m``, ``reachable`` and ``served_population``
        (residents within the threshold for whom it is the nearest of its category).
    network : WalkNetwork
    profile : Profile
    meta : dict
        Run facts: versions, settings, counts and warnings.
    isochrones : GeoDataFrame
        Walking catchment per category and threshold (network CRS).
    nearest : NearestByCategory
        Distance to the nearest facility and which one, per category and street node.
    referrals : DataFrame
        Gaps of categories a 街镇 does not build (schools, metro, ...): referred to their
        ``department``, never 街镇 projects.
    indicators : DataFrame
        The profile's policy indicators (e.g. the 2025 citywide 85 %) evaluated on the 街镇,
        district and study-area roll-ups: value, target, met; never unit pass/fail.
    carried : DataFrame
        Last year's unfinished projects carried over with their status (``previous=``).
    packages : GeoDataFrame
        Project packages (项目包, network CRS): one site each with its functions, the people
        newly covered per function and whether it is a 人民坊 hub or a 六艺亭 point.
    package_functions : DataFrame
        Package × function: people newly covered.
    annex : DataFrame
        The action plan's annex table per district and in total: 项目总数, 年内完成数量, and of
        them 人民坊 and 六艺亭, with the indicators met (:func:`lifecircle_geo.gaps.annex_table`).
    """

    coverage: pd.DataFrame
    gaps: pd.DataFrame
    jiezhen: pd.DataFrame
    district: pd.DataFrame
    sites: gpd.GeoDataFrame
    projects: pd.DataFrame
    units: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    network: WalkNetwork
    profile: Profile
    meta: dict = field(default_factory=dict)
    isochrones: gpd.GeoDataFrame | None = None
    nearest: NearestByCategory | None = field(default=None, repr=False)
    referrals: pd.DataFrame = field(default_factory=pd.DataFrame)
    indicators: pd.DataFrame = field(default_factory=pd.DataFrame)
    carried: pd.DataFrame = field(default_factory=pd.DataFrame)
    packages: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame)
    package_functions: pd.DataFrame = field(default_factory=pd.DataFrame)
    annex: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> pd.DataFrame:
        """Coverage per category over the whole study area (bilingual names)."""
        rows = _resident_rows(self.demand, self.profile, ["_all"], self.meta["walk_speed_kmh"])
        out = summarize(rows, ["_all"], self.meta["walk_speed_kmh"]).drop(columns="_all")
        out = apply_status(
            out,
            no_data=self.meta.get("no_data", ()),
            informational=[c.id for c in self.profile.categories if c.informational],
        )
        return _with_names(out, self.profile)[
            [
                "category",
                "name_zh",
                "name_en",
                "group",
                "tier_min",
                "population",
                "covered_population",
                "share",
                "target_share",
                "meets_standard",
                "status",
            ]
        ]

    def travel_time_raster(
        self,
        category: str,
        path: str | os.PathLike,
        resolution_m: float = 25.0,
        max_snap_m: float = 200.0,
    ) -> Path:
        """Write a GeoTIFF of walking minutes to the nearest facility of ``category``.

        Cells farther than ``max_snap_m`` from a street, or beyond the search cutoff, are
        nodata. See :func:`lifecircle_geo.isochrones.travel_time_raster`.

        Examples
        --------
        >>> result.travel_time_raster("kindergarten", "out/kindergarten_min.tif")  # doctest: +SKIP
        """
        if self.nearest is None:
            raise InputError("this result holds no per-node distances")
        dist, label = self.nearest[category]
        sites = self.nearest.sites
        return travel_time_raster(
            self.network,
            dist,
            path,
            resolution_m=resolution_m,
            max_snap_m=max_snap_m,
            label_node=label,
            sites=None if sites is None else sites.for_category(category),
            walk_speed_kmh=self.meta["walk_speed_kmh"],
        )

    def write(
        self,
        folder: str | os.PathLike,
        *,
        outputs: Collection[str] | None = None,
        processes: int | None = None,
    ) -> dict[str, Any]:
        """Write the project database (.gpkg), project list (.xlsx), map (.html) and figures.

        Files are written to a temporary folder and moved into place, so a failed run leaves
        nothing half-written. ``outputs`` picks some of :data:`OUTPUTS`
        (``"gpkg"``, ``"xlsx"``, ``"map"``, ``"figures"``, ``"summaries"``); default all.
        ``processes``: 2 draws the figures in a second process meanwhile, 1 writes one file
        after another (default ``settings.write_processes``).
        """
        from .report import write_result

        return write_result(self, Path(folder), outputs=outputs, processes=processes)

    def _repr_html_(self) -> str:
        """Show a compact HTML summary in Jupyter (:func:`lifecircle_geo.display.result_html`)."""
        from .display import result_html

        return result_html(self)

    def explore(self, category: str | None = None, **kwargs: Any) -> Any:
        """Return an interactive map shown inline (:func:`lifecircle_geo.display.explore`)."""
        from .display import explore

        return explore(self, category, **kwargs)

    def plot(self, kind: str = "coverage") -> Any:
        """Draw a figure of the run that displays inline (:func:`lifecircle_geo.display.plot`)."""
        from .display import plot

        return plot(self, kind)

    def __repr__(self) -> str:
        """Say how many units, categories, gaps and projects the result holds."""
        return (
            f"AnalysisResult({len(self.units)} units, {len(self.profile.categories)} "
            f"categories, {len(self.gaps)} gaps, {len(self.projects)} projects)"
        )


def _with_names(df: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    names = pd.DataFrame(
        [
            {
                "category": c.id,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "group": c.group,
                "class_zh": c.class_zh,
                "tier_min": c.tier_min,
            }
            for c in profile.categories
        ]
    )
    out = df.merge(names, on="category", how="left")
    order = {c: i for i, c in enumerate(profile.category_ids)}
    return out.sort_values(by="category", key=lambda s: s.map(order), kind="stable")


def _resident_rows(
    demand: gpd.GeoDataFrame,
    profile: Profile,
    keys: list[str],
    walk_speed_kmh: float,
) -> ResidentRows:
    """Resident points × categories: walk, people served, threshold and minutes' speed.

    The people a category serves are its target group's; the speed is the one its threshold's
    mode (walk or 慢行) and its own walking speed give in the unit's area type; plain walking
    is at the run's ``walk_speed_kmh``. The key columns are kept once per resident
    (:class:`~lifecircle_geo.coverage.ResidentRows`), never repeated per category.
    """
    n = len(demand)
    cats = profile.categories
    n_cat = len(cats)
    # area types as codes: each category's standard is a small lookup, not a per-row map;
    # a row without an area type (code -1) reads the trailing NaN
    code, area_types = pd.factorize(demand["area_type"])
    std = profile.standards_table().set_index(["category", "area_type"])
    key_cols: dict[str, Any] = {}
    for k in keys:  # the key columns keep their dtype
        key_cols[k] = np.full(n, "all", dtype=object) if k == "_all" else demand[k].array
    pop = np.empty(n * n_cat)
    walk = np.empty(n * n_cat)
    thr = np.empty(n * n_cat)
    speed = np.empty(n * n_cat)
    share = np.empty(n * n_cat)
    for j, cat in enumerate(cats):
        sl = slice(j * n, (j + 1) * n)
        rows = std.loc[cat.id].reindex(area_types)
        group = cat.target_group
        pop[sl] = demand["population" if group == "all" else f"population_{group}"].to_numpy(
            dtype=float
        )
        walk[sl] = demand[f"walk_m_{cat.id}"].to_numpy(dtype=float)
        thr[sl] = np.append(rows["threshold_m"].to_numpy(dtype=float), np.nan)[code]
        sp = np.append(rows["speed_kmh"].to_numpy(dtype=float), np.nan)[code]
        if cat.walk_speed_kmh is None:  # the run's speed, not the profile's, for plain walking
            walks = np.append(rows["mode"].to_numpy(dtype=object) == "walk", False)[code]
            sp = np.where(walks, walk_speed_kmh, sp)
        speed[sl] = sp
        share[sl] = cat.target_share
    return ResidentRows(
        pd.DataFrame(key_cols, index=pd.RangeIndex(n)),
        tuple(c.id for c in cats),
        population=pop,
        walk_m=walk,
        threshold_m=thr,
        speed_kmh=speed,
        target_share=share,
    )


def _walk_speed(
    prof: Profile, net: WalkNetwork, walk_speed_kmh: float | None, warnings: list[str]
) -> float:
    """Return the run's walking speed (given, else the profile's); warn if the network differs."""
    speed = prof.walk_speed_kmh if walk_speed_kmh is None else walk_speed_kmh
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        speed = float("nan")
    if not np.isfinite(speed) or speed <= 0:
        raise InputError(
            f"walk_speed_kmh must be a positive number of km/h, got {walk_speed_kmh!r}"
        )
    built = net.meta.get("walk_speed_kmh")
    if built is not None and abs(float(built) - speed) > 1e-9:
        msg = (
            f"the network was built at {float(built):g} km/h (its ferry and boarding costs use "
            f"that speed) but this run walks at {speed:g} km/h "
            f"({'walk_speed_kmh' if walk_speed_kmh is not None else f'profile {prof.id}'}); "
            f"rebuild it with WalkNetwork.from_osm(..., walk_speed_kmh={speed:g}) for exact costs"
        )
        log.warning(msg)
        warnings.append(msg)
    return speed


def _packages(
    net: WalkNetwork,
    gaps: pd.DataFrame,
    demand: gpd.GeoDataFrame,
    d_snap: Any,
    units: gpd.GeoDataFrame,
    prof: Profile,
    *,
    spaces: gpd.GeoDataFrame | None,
    budget: int | dict[str, int] | None,
    solver: str,
) -> Any:
    """Select the packages of the gaps a 街镇 builds (:mod:`lifecircle_geo.packages`)."""
    from .packages import candidates, select_packages

    cand = candidates(net, units, spaces=spaces) if spaces is not None else None
    return select_packages(
        net, gaps, demand, d_snap, units, prof, candidates=cand, budget=budget, solver=solver
    )


def _package_sites(packages: Any, prof: Profile, net: WalkNetwork) -> gpd.GeoDataFrame:
    """One row per package × function at the package's site (what the map and outputs show)."""
    cols = [
        "site_id",
        "package_id",
        "unit_id",
        "jiezhen_code",
        "category",
        "name_zh",
        "package_type",
        "order",
        "newly_covered_population",
        "node",
        "geometry",
    ]
    pk, fn = packages.packages, packages.functions
    if not len(pk) or not len(fn):
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=net.crs)
    site = pk[["package_id", "unit_id", "package_type", "order", "node", "geometry"]]
    out = fn[["package_id", "jiezhen_code", "category", "newly_covered_population"]].merge(
        site, on="package_id", how="left"
    )
    out["site_id"] = out["package_id"] + "-" + out["category"]
    out["name_zh"] = out["category"].map({c.id: c.name_zh for c in prof.categories})
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs=net.crs)


def _population_column(cat: Category) -> str:
    """Return the demand column of the people ``cat`` serves (its target group's)."""
    return "population" if cat.target_group == "all" else f"population_{cat.target_group}"


def _target_groups(
    demand: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    prof: Profile,
    shares: pd.DataFrame | str | os.PathLike | None,
    known: dict[str, str],
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Add ``population_<group>`` for every target group the profile's categories name.

    From the population source's own columns, else ``shares`` per unit/街镇/district, else the
    profile's default share (its source said in the returned dict, one line per group).
    """
    groups = sorted({c.target_group for c in prof.categories} - {"all"})
    if not groups:
        return demand, {}
    demand.attrs["group_sources"] = dict(known)  # a reader's own account is kept
    out = lc_population.add_groups(
        demand,
        groups,
        units=units,
        shares=shares,
        default_shares={g: prof.target_groups[g] for g in groups},
        unmatched_rows="ignore",  # a city-wide table read for one 街镇
    )
    sources = dict(out.attrs.get("group_sources") or {})
    return out, {g: sources.get(g, "") for g in groups}


def _warn_dropped_islands(net: WalkNetwork, fac: gpd.GeoDataFrame, warnings: list[str]) -> None:
    """Say which facilities stand on street islands the build dropped (they snap across)."""
    if not len(fac) or not net.meta.get("dropped_islands"):
        return
    pts = shapely.get_coordinates(fac.geometry.representative_point().to_numpy())
    isl = net.dropped_island_near(pts, fac["snap_m"].to_numpy(dtype=float))
    hit = np.flatnonzero(isl >= 0)
    if not len(hit):
        return
    islands = net.meta["dropped_islands"]
    said = ", ".join(
        f"{fac['facility_id'].iloc[i]} ({fac['snap_m'].iloc[i]:.0f} m to the street it uses; "
        f"island at {islands[isl[i]].get('lon', float('nan')):.5f}, "
        f"{islands[isl[i]].get('lat', float('nan')):.5f})"
        for i in hit[:10]
    )
    msg = (
        f"{len(hit)} facilities stand on street islands the network dropped (not joined to the "
        f"main network) and are reached from the nearest kept street instead: {said}"
    )
    log.warning(msg)
    warnings.append(msg)


def _complete_categories(complete: bool | Collection[str], prof: Profile) -> set[str]:
    """Categories declared complete (``True``: all); an unknown id is a clear error."""
    if complete is True:
        return set(prof.category_ids)
    if complete is False or complete is None:
        return set()
    if isinstance(complete, str):
        complete = [complete]
    declared = {str(c) for c in complete}
    unknown = sorted(declared - set(prof.category_ids))
    if unknown:
        hints = {u: difflib.get_close_matches(u, prof.category_ids, n=1) for u in unknown}
        said = ", ".join(
            f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items()
        )
        raise InputError(
            f"complete: {said} is not a category of profile {prof.id}; known: {prof.category_ids}"
        )
    return declared


def _no_data_categories(
    fac: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    prof: Profile,
    cutoff_m: float,
    declared: set[str],
    warnings: list[str],
) -> set[str]:
    """Categories with no facility within ``cutoff_m`` of any unit and not declared complete."""
    present: set[str] = set()
    if len(fac):
        # a facility inside a unit settles its category; only the categories still missing
        # are searched within the cutoff (every unit within 5 km of each of 浦东's 29,000
        # facilities was millions of pairs: 1.9 s)
        cats = fac["category"].to_numpy(dtype=object)
        inside, _ = units.sindex.query(fac.geometry, predicate="intersects")
        present = set(cats[np.unique(inside)])
        rest = np.flatnonzero(~pd.Series(cats).isin(present).to_numpy())
        if len(rest):
            near, _ = units.sindex.query(
                fac.geometry.iloc[rest], predicate="dwithin", distance=cutoff_m
            )
            present |= set(cats[rest[np.unique(near)]])
    missing = [c for c in prof.category_ids if c not in present]
    no_data = {c for c in missing if c not in declared}
    if no_data:
        names = [f"{c} {prof.category(c).name_zh}" for c in prof.category_ids if c in no_data]
        msg = (
            f"no facility of {len(no_data)} categor{'y' if len(no_data) == 1 else 'ies'} "
            f"within {cutoff_m:g} m of the units: {names}; reported as 'no data' (not 0 %, no "
            f"gaps, no projects). If the inputs are complete for them, declare it: "
            f"complete={sorted(no_data)!r}"
        )
        log.warning(msg)
        warnings.append(msg)
    if len(no_data) == len(prof.category_ids):
        msg = (
            "no category could be measured: the facility inputs hold no facility in or near "
            "the study area"
        )
        log.warning(msg)
        warnings.append(msg)
    return no_data


def _network_extent_flags(
    net: WalkNetwork,
    units: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    d_snap: Any,
    max_snap_m: float,
    warnings: list[str],
) -> gpd.GeoDataFrame:
    """Units with ``network_share``, ``far_population`` and ``partial_network``; warns once."""
    units = units.copy()
    extent = network_extent(net, within_m=settings.extent_within_m)
    units["network_share"] = network_share(units, extent).to_numpy()
    far = ~np.asarray(d_snap.ok, dtype=bool)
    far_pop = (
        pd.Series(demand["population"].to_numpy(dtype=float)[far])
        .groupby(demand["unit_id"].to_numpy(dtype=object)[far])
        .sum()
    )
    units["far_population"] = units["unit_id"].map(far_pop).fillna(0.0).to_numpy(dtype=float)
    units["partial_network"] = units["network_share"] < settings.min_network_share
    part = units[units["partial_network"]]
    if len(part):
        shown = ", ".join(
            f"{u} ({s:.0%} inside, {p:.0f} people > {max_snap_m:g} m from a street)"
            for u, s, p in zip(
                part["unit_id"], part["network_share"], part["far_population"], strict=True
            )
        )
        msg = (
            f"{len(part)} unit(s) reach beyond the street data (less than "
            f"{settings.min_network_share:.0%} of their area within "
            f"{settings.extent_within_m:g} m of a street): {shown}; their coverage is "
            f"reported as 'partial network' and not turned into projects "
            f"(lifecircle_geo.extent.clip_units cuts units to the street data)"
        )
        log.warning(msg)
        warnings.append(msg)
    return units


def analyze(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | str,
    population: gpd.GeoDataFrame | str | None = None,
    profile: str | Profile = "shanghai-2025",
    *,
    area_type: str | None = None,
    max_snap_m: float | None = None,
    search_cutoff_m: float | None = None,
    suggest: bool = True,
    packages_per_jiezhen: int | dict[str, int] | None = None,
    spaces: gpd.GeoDataFrame | None = None,
    package_solver: str = "greedy",
    year: int | None = None,
    assign_within_m: float = 100.0,
    isochrone_polygons: bool = True,
    walk_speed_kmh: float | None = None,
    complete: bool | Collection[str] = (),
    group_shares: pd.DataFrame | str | os.PathLike | None = None,
    previous: pd.DataFrame | str | os.PathLike | None = None,
    needs: pd.DataFrame | str | os.PathLike | None = None,
    progress: bool | None = None,
) -> AnalysisResult:
    """Coverage of every unit × category, gaps, project packages and the project list.

    Parameters
    ----------
    net : WalkNetwork
        The walk network (projected).
    facilities : GeoDataFrame
        From :mod:`lifecircle_geo.facilities` (any CRS), with ``category``.
    units : GeoDataFrame or path
        Community basic units (see :func:`lifecircle_geo.units.load`).
    population : GeoDataFrame, path or None
        Resident points with ``population`` (a raster path is read with
        :func:`~lifecircle_geo.population.from_raster`). None: the units' ``population``
        column is spread over their street nodes.
    profile : str or Profile
        Standards profile.
    area_type : str, optional
        Area type (中心城, 主城区, 新城, 其他地区 or 乡村; 新市镇 is read as 其他地区) for
        units that state none; default: the profile's.
    max_snap_m : float, optional
        Residents and facilities farther from a street are reported and left out of reach.
    search_cutoff_m : float, optional
        Search radius; default ``max(settings.search_cutoff_m, 1.5 × largest threshold)``. A
        radius below the largest threshold of the units' area types is raised to it, with a
        warning; zero or a negative radius is an error (so is a non-positive ``max_snap_m``).
    suggest : bool
        Choose project packages (项目包) for the gaps a 街镇 builds: a small set of sites per
        街镇, each hosting several functions, that closes the most weighted gap
        (:func:`lifecircle_geo.packages.select_packages`); one project per package.
    packages_per_jiezhen : int or dict, optional
        Budget: packages per 街镇 (a dict by 街镇 code); default ``min(11, 2 × units)``, the
        range the 2025 action plan's annex implies (2,454 projects for about 215 街镇).
    spaces : GeoDataFrame, optional
        The planner's candidate spaces (parcels, vacant buildings, 附属空间 of institutions
        opening to the public) with optional ``floor_area_m2``, ``kind`` and ``name``; street
        nodes remain the fallback and are labelled as such.
    package_solver : str
        ``"greedy"`` (lazy greedy plus swaps; within a few % of the optimum on tests) or
        ``"milp"`` (exact, ``scipy.optimize.milp``; small cases).
    year : int, optional
        Year of the project list (default: next year).
    assign_within_m : float
        Resident points outside every unit but this close to one (raster cells straddling a
        unit edge) count for the nearest unit; farther ones are reported and left out.
    isochrone_polygons : bool
        Build each category's walking catchment polygons at its thresholds (street corridors,
        partial edges included); they go into the project database and the map.
    walk_speed_kmh : float, optional
        Walking speed that turns metres into minutes; default: the profile's
        (``Profile.walk_speed_kmh``, with its source). Recorded in ``meta`` and every output.
        A network built at another speed (its ferry costs depend on it) gives a warning.
    complete : bool or collection of str
        Categories whose facility input is declared complete: with no facility in or near the
        study area they measure 0 % (a real gap) instead of ``no data``. ``True``: every
        category. Without the declaration, a category with no facility within the search
        cutoff of any unit has status ``no data``: no share, no gap, no project.
    group_shares : DataFrame or path, optional
        Shares (or counts) of each target group (60+, 0-3, ...) per unit, 街镇 or district
        (:func:`lifecircle_geo.population.add_groups`). Groups the population source does not
        carry and this table does not give use the profile's default shares (2020 census,
        city-wide), and ``meta["target_groups"]`` says so.
    previous : DataFrame or path, optional
        Last year's project database (:func:`lifecircle_geo.cycle.read_previous`): unfinished
        projects are carried over with their status (``result.carried``) and their functions
        count as planned facilities, so they are not proposed again.
    needs : DataFrame or path, optional
        The 需求清单 (:func:`lifecircle_geo.cycle.read_needs`): requested gaps rank first in
        their class and the request is cited in the project's 缺口说明.
    progress : bool, optional
        tqdm progress bars (default ``settings.progress``).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    InputError
        Units that do not overlap the network, facilities without categories, no residents,
        or an unknown category in ``complete``.

    Notes
    -----
    Two checks keep missing data from reading as missing service. A category with no facility
    within the search cutoff of any unit is ``no data`` (``meta["no_data"]``) unless declared
    ``complete``. A unit with less than ``settings.min_network_share`` of its area inside the
    street data's extent (:func:`lifecircle_geo.extent.network_extent`) is ``partial network``
    (``units.partial_network``, ``units.network_share``): its coverage is reported with that
    status and is not turned into gaps or projects.
    """
    t0 = _dt.datetime.now(_dt.UTC)
    prof = load_profile(profile)
    show = settings.progress if progress is None else progress
    max_snap_m = settings.max_snap_m if max_snap_m is None else max_snap_m
    for name, value in (("max_snap_m", max_snap_m), ("search_cutoff_m", search_cutoff_m)):
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and np.isfinite(value)
            and value > 0
        )
        if value is not None and not ok:
            raise InputError(f"{name} must be a positive number of metres, got {value!r}")
    warnings: list[str] = []
    speed = _walk_speed(prof, net, walk_speed_kmh, warnings)
    declared = _complete_categories(complete, prof)
    carried = pd.DataFrame()
    if previous is not None:
        prev = previous if isinstance(previous, pd.DataFrame) else lc_cycle.read_previous(previous)
        planned, carried = lc_cycle.carry_over(prev, year=year)
        if len(planned):
            facilities = gpd.GeoDataFrame(
                pd.concat([facilities, planned.to_crs(facilities.crs)], ignore_index=True),
                geometry=facilities.geometry.name,
                crs=facilities.crs,
            )
        msg = (
            f"last year's list: {len(carried)} unfinished project(s) carried over, "
            f"{len(planned)} of them placed and counted as planned facilities"
        )
        log.info(msg)
        warnings.append(msg)
    need_table = None
    if needs is not None:
        need_table = lc_cycle.read_needs(needs, prof)

    if isinstance(units, (str, os.PathLike)):
        units = lc_units.load(units)
    else:
        units = lc_units.prepare(units)
    warnings.extend(units.attrs.get("unit_checks", []))  # overlaps, repairs, ... named
    units = units.to_crs(net.crs)
    default_area = prof.area_type(area_type or prof.default_area_type)
    units["area_type"] = units["area_type"].replace("", default_area)
    # canonical names (新市镇 → 其他地区); a clear error for an unknown area type
    canonical = {a: prof.area_type(a) for a in units["area_type"].unique()}
    units["area_type"] = units["area_type"].map(canonical)
    nb = shapely.box(net.x_m.min(), net.y_m.min(), net.x_m.max(), net.y_m.max())
    if not units.geometry.intersects(nb).any():
        raise InputError(
            f"the units (bounds {np.round(units.total_bounds).tolist()}) do not "
            f"overlap the network (bounds {np.round(nb.bounds).tolist()}) in "
            f"{net.crs.to_string()}"
        )

    if population is None:
        demand = lc_population.from_totals(units, net)
    elif isinstance(population, (str, os.PathLike)):
        demand = lc_population.from_raster(population)
    else:
        demand = population
    if "population" not in demand.columns:
        raise InputError("population points need a 'population' column")
    # everyone, and the target groups the source carries (population_60+, ...)
    pop_cols = [c for c in demand.columns if c == "population" or c.startswith("population_")]
    group_attrs = dict(demand.attrs.get("group_sources") or {})
    demand = demand.to_crs(net.crs)[[*pop_cols, "geometry"]]
    joined = gpd.sjoin(demand, units[[*_UNIT_KEYS, "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    outside = joined["unit_id"].isna()
    if outside.any() and assign_within_m > 0:
        # raster cells whose centre falls just outside a unit edge belong to the nearest unit
        near = gpd.sjoin_nearest(
            demand[outside.to_numpy()],
            units[[*_UNIT_KEYS, "geometry"]],
            how="left",
            max_distance=assign_within_m,
        )
        near = near[~near.index.duplicated(keep="first")]
        joined.loc[near.index, _UNIT_KEYS] = near[_UNIT_KEYS].to_numpy()
        outside = joined["unit_id"].isna()
    if outside.any():
        people = joined.loc[outside, "population"].sum()
        msg = (
            f"{int(outside.sum())} resident points ({people:.0f} people) lie outside every "
            f"unit and are not counted"
        )
        log.info(msg)
        warnings.append(msg)
    demand = gpd.GeoDataFrame(
        joined[~outside].drop(columns="index_right").reset_index(drop=True),
        geometry="geometry",
        crs=net.crs,
    )
    if len(demand) == 0 or demand["population"].sum() <= 0:
        raise InputError(
            "no residents inside the units: check the population source and the units' CRS"
        )
    demand, group_sources = _target_groups(demand, units, prof, group_shares, group_attrs)

    d_snap = net.snap(demand.geometry, max_snap_m=max_snap_m)
    n_far = int((~d_snap.ok).sum())
    if n_far:
        msg = (
            f"{n_far} resident points ({demand['population'][~d_snap.ok].sum():.0f} "
            f"people) are more than {max_snap_m:g} m from any street: counted as not reached"
        )
        log.warning(msg)
        warnings.append(msg)
    units = _network_extent_flags(net, units, demand, d_snap, max_snap_m, warnings)

    # facilities placed on the network once: access points, labels (row in fac), categories
    sites = Sites.from_facilities(net, facilities, max_snap_m=max_snap_m)
    fac = sites.facilities
    unknown = sorted(set(fac["category"]) - set(prof.category_ids))
    if unknown:
        msg = f"facility categories not in profile {prof.id}: {unknown} (ignored)"
        log.warning(msg)
        warnings.append(msg)
    fac["snap_m"] = sites.snap_m_by_label(len(fac))
    fac["reachable"] = fac["snap_m"] <= max_snap_m
    _warn_dropped_islands(net, fac, warnings)
    if (~fac["reachable"]).any():
        bad = fac.loc[~fac["reachable"], ["facility_id", "name", "snap_m"]]
        msg = (
            f"{len(bad)} facilities are more than {max_snap_m:g} m from any street and are "
            f"left out: {bad.head(10).to_dict('records')}"
        )
        log.warning(msg)
        warnings.append(msg)

    largest = max(c.threshold_for(a) for c in prof.categories for a in units["area_type"].unique())
    cutoff = max(settings.search_cutoff_m, 1.5 * largest)
    if search_cutoff_m is not None:
        cutoff = float(search_cutoff_m)
        if cutoff < largest:  # residents within a threshold would read as not reached
            msg = (
                f"search_cutoff_m={cutoff:g} is below the largest threshold of the profile in "
                f"these area types ({largest:g} m): raised to {largest:g} m so no one within a "
                f"threshold reads as not reached"
            )
            log.warning(msg)
            warnings.append(msg)
            cutoff = float(largest)
    no_data = _no_data_categories(fac, units, prof, cutoff, declared, warnings)
    fac_cat = fac["category"].to_numpy()
    # one bounded multi-source search per category, all categories in one call
    near = nearest_by_category(net, sites, cutoff, categories=prof.category_ids)
    area_types = units["area_type"].unique()
    # residents' area types as codes: a category's thresholds are a small lookup per code (a
    # row without an area type, code -1, reads the trailing NaN), not a map over every row
    area_code, area_of_code = pd.factorize(demand["area_type"])
    fac["served_population"] = 0.0
    iso_parts = []
    for cat in tqdm(prof.categories, desc="categories", disable=not show, leave=False):
        if cat.id in no_data:  # nothing to measure: unknown, not "unreached"
            demand[f"walk_m_{cat.id}"] = np.nan
            demand[f"nearest_{cat.id}"] = None
            continue
        walk, nearest = near.at_points(net, d_snap, cat.id)
        demand[f"walk_m_{cat.id}"] = walk
        ids = fac["facility_id"].to_numpy(dtype=object)
        demand[f"nearest_{cat.id}"] = (
            np.where(nearest >= 0, ids[np.maximum(nearest, 0)], None)
            if len(ids)
            else np.full(len(demand), None, dtype=object)
        )
        # service load: residents within the threshold, counted at their nearest facility
        thr = np.array(
            [*(cat.thresholds_m.get(a, np.nan) for a in area_of_code), np.nan], dtype=float
        )[area_code]
        served = demand[_population_column(cat)].to_numpy()
        load = service_load(nearest, walk, thr, served, len(fac))
        rows = np.flatnonzero(fac_cat == cat.id)
        fac.loc[rows, "served_population"] = load[rows]
        cat_sites = sites.for_category(cat.id)
        if isochrone_polygons and len(cat_sites):
            thresholds = sorted({cat.threshold_for(a) for a in area_types})
            iso = isochrones(
                net,
                cat_sites,
                thresholds,
                by="all",
                walk_speed_kmh=speed,
                progress=False,
            )
            iso_parts.append(
                iso.drop(columns="group").assign(
                    category=cat.id, name_zh=cat.name_zh, name_en=cat.name_en
                )
            )
    iso_cols = [
        "category",
        "name_zh",
        "name_en",
        "threshold_m",
        "threshold_min",
        "area_m2",
        "geometry",
    ]
    iso_gdf = (
        gpd.GeoDataFrame(
            pd.concat(iso_parts, ignore_index=True)[iso_cols], geometry="geometry", crs=net.crs
        )
        if iso_parts
        else gpd.GeoDataFrame(columns=iso_cols, geometry="geometry", crs=net.crs)
    )

    # resident points × categories, built once for every level's summary
    long_keys = ["unit_id", "jiezhen_code", "jiezhen_name", "district_code", "_all"]
    long = _resident_rows(demand, prof, [k for k in long_keys if k in demand or k == "_all"], speed)
    coverage = summarize(long, ["unit_id"], speed)
    # units without residents (parks, water, industry) stay in every table: 0 people
    empty_units = sorted(set(units["unit_id"]) - set(coverage["unit_id"]))
    if empty_units:
        empty = pd.DataFrame(
            [
                {"unit_id": u, "category": c.id, "target_share": c.target_share}
                for u in empty_units
                for c in prof.categories
            ]
        )
        for col in ("population", "covered_population", "reached_population"):
            empty[col] = 0.0
        for col in ("share", "mean_walk_min", "p90_walk_min"):
            empty[col] = np.nan
        empty["meets_standard"] = pd.NA
        coverage = pd.concat([coverage, empty[coverage.columns]], ignore_index=True)
        msg = (
            f"{len(empty_units)} unit(s) have no residents: {empty_units[:20]}; they are kept "
            f"in every table with status 'no residents' (no gap, no project)"
        )
        log.info(msg)
        warnings.append(msg)
    coverage = coverage.merge(units[_UNIT_KEYS], on="unit_id", how="left")
    coverage["threshold_m"] = [
        prof.category(c).threshold_for(a)
        for c, a in zip(coverage["category"], coverage["area_type"], strict=True)
    ]
    coverage = _with_names(coverage, prof)
    coverage = coverage.sort_values(["unit_id"], kind="stable").reset_index(drop=True)
    std = prof.standards_table().set_index(["category", "area_type"])
    at = pd.MultiIndex.from_arrays([coverage["category"], coverage["area_type"]])
    for col in ("mode", "label_zh", "target_group", "department"):
        coverage[col] = std[col].reindex(at).to_numpy()
    coverage = coverage.rename(columns={"label_zh": "standard_zh"})
    partial_ids = units.loc[units["partial_network"], "unit_id"].tolist()
    coverage = apply_status(
        coverage,
        no_data=no_data,
        partial_units=partial_ids,
        informational=[c.id for c in prof.categories if c.informational],
        empty_units=empty_units,
    )
    coverage = coverage[
        [
            *_UNIT_KEYS,
            "category",
            "name_zh",
            "name_en",
            "group",
            "class_zh",
            "tier_min",
            "threshold_m",
            "mode",
            "standard_zh",
            "target_group",
            "department",
            "target_share",
            "population",
            "covered_population",
            "share",
            "mean_walk_min",
            "p90_walk_min",
            "reached_population",
            "meets_standard",
            "status",
        ]
    ]

    # 街镇 and district: the unit rows rolled up (as the batch city roll-up does); only the 90th
    # percentile, which cannot be summed, comes from the resident rows
    jiezhen, district = (
        rollup(
            coverage,
            keys,
            residents=long,
            walk_speed_kmh=speed,
        )
        for keys in (["jiezhen_code", "jiezhen_name", "district_code"], ["district_code"])
    )

    indicators = evaluate_indicators(
        prof,
        {
            "jiezhen": jiezhen,
            "district": district,
            "study_area": apply_status(
                summarize(long, ["_all"], speed),
                no_data=no_data,
            ),
        },
    )
    gaps = rank_gaps(coverage, prof, needs=need_table)
    # a 街镇 builds what its area type prioritises (packages take action == "project" gaps);
    # departments build schools, metro, ...: referred
    referrals = gaps[gaps["action"] == "referral"].reset_index(drop=True)
    packages = _packages(
        net,
        gaps if suggest else gaps.iloc[:0],
        demand,
        d_snap,
        units,
        prof,
        spaces=spaces,
        budget=packages_per_jiezhen,
        solver=package_solver,
    )
    sites = _package_sites(packages, prof, net)
    projects = package_projects(packages, gaps, units, prof, year=year, carried=carried)

    units = units.copy()
    for col in ["population", *(f"population_{g}" for g in group_sources)]:
        units[col] = units["unit_id"].map(demand.groupby("unit_id")[col].sum()).fillna(0.0)
    meta = {
        "lifecircle_geo_version": __version__,
        "profile": prof.id,
        "profile_file": prof.path,
        "walk_speed_kmh": speed,
        "search_cutoff_m": cutoff,
        "max_snap_m": max_snap_m,
        "default_area_type": default_area,
        "network_crs": net.crs.to_string(),
        "network": {k: v for k, v in net.meta.items() if k != "rules"},
        "n_units": len(units),
        "n_resident_points": len(demand),
        "population": float(demand["population"].sum()),
        "n_facilities": int(fac["facility_id"].nunique()),
        "n_facility_rows": len(fac),
        "facility_sources": sorted({str(v) for v in fac["source"].dropna()})
        if "source" in fac
        else [],
        "complete": sorted(declared),
        "no_data": [c for c in prof.category_ids if c in no_data],
        "partial_network_units": partial_ids,
        "target_groups": group_sources,
        "mode_speeds_kmh": {m: prof.mode_speed_kmh(m) for m in prof.modes},
        "packages": packages.meta,
        "min_network_share": settings.min_network_share,
        "warnings": warnings,
        "created": t0.isoformat(timespec="seconds"),
        "seconds": round((_dt.datetime.now(_dt.UTC) - t0).total_seconds(), 3),
    }
    # every geometry column in the table's CRS (entrances too), so the table can be fed back
    fac_out = facilities_to_crs(fac, 4326)
    return AnalysisResult(
        coverage=coverage,
        gaps=gaps,
        jiezhen=jiezhen,
        district=district,
        sites=sites,
        projects=projects,
        units=units,
        demand=demand,
        facilities=fac_out,
        network=net,
        profile=prof,
        meta=meta,
        isochrones=iso_gdf,
        nearest=near,
        referrals=referrals,
        indicators=indicators,
        carried=carried,
        packages=packages.packages,
        package_functions=packages.functions,
        annex=annex_table(projects, units, indicators),
    )
