"""Demand points: where residents live and how many, from a raster, buildings or totals.

Every reader returns a GeoDataFrame of points with a ``population`` column (all residents),
in the CRS of its source; :func:`lifecircle_geo.analyze` projects them onto the network.

Target groups
-------------
A category of the standards may serve one group of residents only (people 60+, children 0-3,
3-6, 6-12, 12-15 or any group a profile defines). Resident points carry such a group as a
column ``population_<group>``, literally e.g. ``population_60+`` or ``population_0-3``
(:func:`group_column`): the number of the point's residents who belong to the group, never
more than its ``population``. The group ``all`` is ``population`` itself.

The columns come from the population source where it has them (a raster per group for
:func:`from_raster`, group columns of a point layer for :func:`from_points` or of the units
for :func:`from_totals`); :func:`add_groups` fills the others from a table of shares or counts
per unit, 街镇 or district, and finally from default shares (such as the city-wide shares of
the 2020 census), recording in ``attrs["group_sources"]`` where each group's numbers came from.

Examples
--------
>>> import lifecircle_geo as lc
>>> pop = lc.population.from_raster("data/sample/population.tif")  # doctest: +SKIP
>>> round(pop.population.sum())  # doctest: +SKIP
52000
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import InputError

if TYPE_CHECKING:
    from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = [
    "GROUP_PREFIX",
    "SHARE_KEYS",
    "add_groups",
    "from_buildings",
    "from_points",
    "from_raster",
    "from_totals",
    "group_column",
    "group_columns",
]

#: a target group's column on resident points is ``GROUP_PREFIX + group id``
GROUP_PREFIX = "population_"

#: key columns a shares table may have, finest first (a table with several uses the finest)
SHARE_KEYS = ("unit_id", "jiezhen_code", "district_code")

_KEY_ALIASES = {
    "unit_id": ("unit_id", "单元编号", "单元代码"),
    "jiezhen_code": ("jiezhen_code", "街镇代码", "街镇编码"),
    "district_code": ("district_code", "区代码", "区编码"),
}
# singular, plural of each key level in messages and group sources
_LEVEL_WORDS = {
    "unit_id": ("unit", "units"),
    "jiezhen_code": ("街镇", "街镇"),
    "district_code": ("district", "districts"),
}
_ENCODINGS = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))
_AGE_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")
_AGE_FROM = re.compile(r"^(\d+(?:\.\d+)?)\s*\+$")
_TOLERANCE = 1e-6  # relative slack for sums of shares and group counts vs totals


def group_column(group: str) -> str:
    """Return the column of resident points that holds a target group's residents.

    Parameters
    ----------
    group : str
        A group id such as ``"60+"`` or ``"0-3"``; ``"all"`` means every resident.

    Returns
    -------
    str
        ``"population"`` for ``"all"``, else ``"population_<group>"``.

    Examples
    --------
    >>> group_column("60+"), group_column("all")
    ('population_60+', 'population')
    """
    group = str(group).strip()
    if not group:
        raise InputError("a target group id cannot be empty")
    return "population" if group == "all" else GROUP_PREFIX + group


def group_columns(points: pd.DataFrame) -> dict[str, str]:
    """Return the target groups resident points carry, each with its column.

    Parameters
    ----------
    points : DataFrame or GeoDataFrame
        Resident points.

    Returns
    -------
    dict
        Group id → column, in column order (``all`` is not listed).

    Examples
    --------
    >>> group_columns(pd.DataFrame(columns=["population", "population_60+", "name"]))
    {'60+': 'population_60+'}
    """
    return {
        str(c)[len(GROUP_PREFIX) :]: str(c)
        for c in points.columns
        if str(c).startswith(GROUP_PREFIX) and len(str(c)) > len(GROUP_PREFIX)
    }


# --------------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------------


@dataclass
class _Grid:
    """One band of a raster with the grid it lies on."""

    path: Path
    values: np.ndarray
    transform: Any
    crs: Any


def _read_grid(path: str | os.PathLike, band: int, what: str) -> _Grid:
    """Read a raster band as counts per cell (masked / non-finite cells are 0)."""
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {p} does not exist")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise InputError(f"{what} {p} has no CRS")
            if not 1 <= band <= src.count:
                raise InputError(f"{what} {p} has {src.count} band(s), not band {band}")
            data = src.read(band, masked=True).astype(np.float64)
            transform, crs = src.transform, src.crs
    except RasterioIOError as exc:
        raise InputError(f"{p} is not a readable raster ({exc})") from None
    values = np.ma.filled(data, 0.0)
    values[~np.isfinite(values)] = 0.0
    if (values < 0).any():
        raise InputError(f"{what} {p} has negative cells (min {values.min()})")
    return _Grid(p, values, transform, crs)


def from_raster(
    path: str | os.PathLike,
    band: int = 1,
    *,
    groups: Mapping[str, str | os.PathLike | tuple[str | os.PathLike, int]] | None = None,
) -> gpd.GeoDataFrame:
    """One demand point per populated raster cell (at the cell centre).

    Parameters
    ----------
    path : str or path-like
        A GeoTIFF (or any raster rasterio reads) of residents per cell, e.g. WorldPop or a
        census grid.
    band : int
        Band to read.
    groups : mapping, optional
        Target group id → raster of that group's residents per cell, e.g.
        ``{"60+": "pop60.tif"}`` (band 1), or ``(path, band)`` for another band. Each must lie
        on the same grid as ``path`` (CRS, cell size, origin and shape) and never exceed it.

    Returns
    -------
    GeoDataFrame
        Points with ``population`` (> 0 only) and ``population_<group>`` per group, in the
        raster's CRS; ``attrs["source"]`` is the path, ``attrs["group_sources"]`` says
        ``"raster <file>"`` per group.

    Raises
    ------
    InputError
        Missing file, unreadable raster, no CRS, negative counts; a group raster on another
        grid, or with more residents than the total in a cell.

    Examples
    --------
    >>> import rasterio
    >>> from rasterio.transform import Affine
    >>> def write(name, cells):
    ...     profile = dict(driver="GTiff", width=2, height=1, count=1, dtype="float32",
    ...                    crs="EPSG:32651", transform=Affine(100, 0, 0, 0, -100, 100))
    ...     with rasterio.open(tmp_path / name, "w", **profile) as dst:
    ...         dst.write(np.array([cells], dtype="float32"), 1)
    >>> write("all.tif", [100, 40]); write("old.tif", [30, 10])
    >>> pop = from_raster(tmp_path / "all.tif", groups={"60+": tmp_path / "old.tif"})
    >>> pop[["population", "population_60+"]].to_numpy().tolist()
    [[100.0, 30.0], [40.0, 10.0]]
    >>> pop.attrs["group_sources"]
    {'60+': 'raster old.tif'}
    """
    import rasterio

    total = _read_grid(path, band, "population raster")
    p = total.path
    values = total.values
    rows, cols = np.nonzero(values > 0)
    xs, ys = rasterio.transform.xy(total.transform, rows, cols, offset="center")
    data: dict[str, np.ndarray] = {"population": values[rows, cols]}
    sources: dict[str, str] = {}
    for group, spec in (groups or {}).items():
        g_path, g_band = spec if isinstance(spec, tuple) else (spec, 1)
        grid = _read_grid(g_path, int(g_band), f"population raster of group {group!r}")
        _check_same_grid(total, grid, group)
        gv = grid.values
        over = gv > values * (1 + _TOLERANCE) + _TOLERANCE
        if over.any():
            r, c = (int(i[0]) for i in np.nonzero(over))
            raise InputError(
                f"{grid.path} (group {group!r}): {int(over.sum())} cells hold more residents "
                f"than {p.name}, e.g. row {r}, column {c}: {gv[r, c]:g} > {values[r, c]:g}"
            )
        data[group_column(group)] = gv[rows, cols]
        sources[str(group)] = f"raster {grid.path.name}"
    gdf = gpd.GeoDataFrame(
        data, geometry=shapely.points(np.asarray(xs), np.asarray(ys)), crs=total.crs
    )
    gdf.attrs["source"] = str(p)
    if sources:
        gdf.attrs["group_sources"] = sources
    log.info("%s: %d populated cells, %.0f residents", p.name, len(gdf), gdf.population.sum())
    return gdf


def _check_same_grid(total: _Grid, grid: _Grid, group: str) -> None:
    """Raise unless a group raster lies on exactly the grid of the total raster."""
    what = f"{grid.path} (group {group!r}) is not on the grid of {total.path.name}"
    if grid.values.shape != total.values.shape:
        raise InputError(
            f"{what}: {grid.values.shape[0]} × {grid.values.shape[1]} cells, not "
            f"{total.values.shape[0]} × {total.values.shape[1]} (rows × columns)"
        )
    if grid.crs != total.crs:
        raise InputError(f"{what}: CRS {grid.crs} instead of {total.crs}")
    a, b = np.asarray(grid.transform)[:6], np.asarray(total.transform)[:6]
    cell = max(abs(b[0]), abs(b[4]))
    if not np.allclose(a, b, rtol=0.0, atol=1e-6 * cell):
        raise InputError(
            f"{what}: cell size {abs(a[0]):g} × {abs(a[4]):g} and origin ({a[2]:g}, {a[5]:g}) "
            f"instead of {abs(b[0]):g} × {abs(b[4]):g} and ({b[2]:g}, {b[5]:g})"
        )


def from_points(
    gdf: gpd.GeoDataFrame,
    column: str = "population",
    *,
    groups: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Demand points from any point layer with a population column (e.g. residential compounds).

    Parameters
    ----------
    gdf : GeoDataFrame
        Points (or polygons: their representative point is used) with a CRS.
    column : str
        The column of residents per feature.
    groups : mapping, optional
        Target group id → column of that group's residents, e.g.
        ``{"60+": "60岁以上人口"}``. Columns already named ``population_<group>`` are carried
        without being listed.

    Returns
    -------
    GeoDataFrame
        Points with ``population`` (> 0 only), ``population_<group>`` per group and the
        layer's ``unit_id``, ``jiezhen_code`` and ``district_code`` where it has them (as text);
        ``attrs["group_sources"]`` says ``"points column <column>"`` per group.

    Raises
    ------
    InputError
        A missing column, no CRS, or a group count that is not a number, negative, or more
        than the feature's residents (the message names the feature and column).

    Examples
    --------
    >>> compounds = gpd.GeoDataFrame(
    ...     {"人口": [800, 0, 500], "60岁以上人口": [300, 0, 120]},
    ...     geometry=shapely.points([0, 50, 100], [0, 0, 0]), crs=32651)
    >>> pop = from_points(compounds, "人口", groups={"60+": "60岁以上人口"})
    >>> pop[["population", "population_60+"]].to_numpy().tolist()
    [[800.0, 300.0], [500.0, 120.0]]
    >>> pop.attrs["group_sources"]
    {'60+': 'points column 60岁以上人口'}
    """
    if column not in gdf.columns:
        raise InputError(f"point layer has no {column!r} column; columns: {list(gdf.columns)}")
    if gdf.crs is None:
        raise InputError("point layer has no CRS")
    mapping = {str(g): str(c) for g, c in (groups or {}).items()}
    for g, c in group_columns(gdf).items():
        if c != column:
            mapping.setdefault(g, c)
    population = _numbers(gdf[column], lambda i: f"point layer feature {i + 1}", column)
    if (population < 0).any():
        i = int(np.flatnonzero(population < 0)[0])
        raise InputError(f"point layer feature {i + 1}: {column} is negative ({population[i]:g})")
    data: dict[str, Any] = {"population": population}
    sources: dict[str, str] = {}
    for g, c in mapping.items():
        if c not in gdf.columns:
            raise InputError(
                f"point layer has no column {c!r} for group {g!r}; columns: {list(gdf.columns)}"
            )
        data[group_column(g)] = _group_counts(
            gdf[c], population, lambda i: f"point layer feature {i + 1}", c, column
        )
        sources[g] = f"points column {c}"
    for key in SHARE_KEYS:
        if key in gdf.columns:
            data[key] = [_id_text(v) for v in gdf[key]]
    out = gpd.GeoDataFrame(
        data, geometry=gdf.geometry.representative_point().to_numpy(), crs=gdf.crs
    )
    out = out[out.population > 0].reset_index(drop=True)
    if sources:
        out.attrs["group_sources"] = sources
    return out


def from_buildings(
    buildings: gpd.GeoDataFrame, total: float, floors_column: str | None = None
) -> gpd.GeoDataFrame:
    """Spread a population ``total`` over residential buildings by floor area.

    Floor area is footprint × floors (``floors_column``, e.g. ``building:levels``; 1 where
    missing). Returns one point per building; :func:`add_groups` gives it target groups.
    """
    if buildings.crs is None:
        raise InputError("buildings have no CRS")
    b = buildings[buildings.geometry.notna()].copy()
    metric = b.to_crs(b.estimate_utm_crs()) if b.crs.is_geographic else b
    floors = 1.0
    if floors_column and floors_column in b.columns:
        floors = np.nan_to_num(
            np.asarray(
                [
                    float(x) if str(x).replace(".", "", 1).isdigit() else np.nan
                    for x in b[floors_column]
                ]
            ),
            nan=1.0,
        ).clip(min=1.0)
    weight = metric.geometry.area.to_numpy() * floors
    if weight.sum() <= 0:
        raise InputError("buildings have no floor area to spread population over")
    return gpd.GeoDataFrame(
        {"population": total * weight / weight.sum()},
        geometry=b.geometry.representative_point().to_numpy(),
        crs=b.crs,
    )


def from_totals(
    units: gpd.GeoDataFrame,
    net: WalkNetwork,
    column: str = "population",
    *,
    groups: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Spread each unit's population total evenly over the street nodes inside it.

    For planners who only have census totals per unit (or 街镇). Units without any street node
    get one point at their representative point.

    Parameters
    ----------
    units : GeoDataFrame
        Unit polygons with a CRS and the ``column`` of residents.
    net : WalkNetwork
        The street network; its street nodes (:attr:`WalkNetwork.street_nodes`) get the people.
    column : str
        The units' column of residents.
    groups : mapping, optional
        Target group id → the units' column of that group's residents, e.g.
        ``{"60+": "pop_60"}``; spread like the totals (each point of a unit gets the same
        share of the unit's group). Columns named ``population_<group>`` are carried without
        being listed.

    Returns
    -------
    GeoDataFrame
        Points in the network's CRS with ``population``, ``population_<group>`` per group and
        the units' ``unit_id``, ``jiezhen_code`` and ``district_code`` where they have them;
        ``attrs["group_sources"]`` says ``"unit totals column <column>"`` per group.

    Raises
    ------
    InputError
        A missing column, or a group total that is not a number, negative, or more than the
        unit's total (the message names the unit and column).

    Examples
    --------
    >>> units = gpd.GeoDataFrame({"unit_id": ["A"], "population": [900], "pop_60": [300]},
    ...                          geometry=[shapely.box(-10, -10, 210, 10)], crs=32651)
    >>> pop = from_totals(units, line_net, groups={"60+": "pop_60"})
    >>> pop[["population", "population_60+", "unit_id"]].to_numpy().tolist()
    [[300.0, 100.0, 'A'], [300.0, 100.0, 'A'], [300.0, 100.0, 'A']]
    """
    if column not in units.columns:
        raise InputError(f"units have no {column!r} column to spread")
    mapping = {str(g): str(c) for g, c in (groups or {}).items()}
    for g, c in group_columns(units).items():
        if c != column:
            mapping.setdefault(g, c)
    for g, c in mapping.items():
        if c not in units.columns:
            raise InputError(
                f"units have no column {c!r} for group {g!r}; columns: "
                f"{[x for x in units.columns if x != units.geometry.name]}"
            )
    u = units.to_crs(net.crs).reset_index(drop=True)
    ids = u["unit_id"].map(_id_text).tolist() if "unit_id" in u.columns else None

    def unit_label(i: int) -> str:
        return f"unit {ids[i]}" if ids is not None else f"unit row {i + 1}"

    totals = _numbers(u[column], unit_label, column)
    group_totals = {
        g: _group_counts(u[c], np.nan_to_num(totals), unit_label, c, column)
        for g, c in mapping.items()
    }
    keys = [k for k in SHARE_KEYS if k in u.columns]
    nodes = net.nodes.loc[net.street_nodes, ["geometry"]]  # never a pier only ferries touch
    joined = gpd.sjoin(nodes, u[["geometry"]], predicate="within", how="inner")
    members = {i: sel.geometry.to_numpy() for i, sel in joined.groupby("index_right")}
    pts: list[Any] = []
    where: list[int] = []  # the unit of each point
    share: list[float] = []  # the part of the unit's totals each point gets
    for i, geom in enumerate(u.geometry.to_numpy()):
        if not totals[i] > 0:
            continue
        if i in members:
            sel = members[i]
            pts.extend(sel)
            where.extend([i] * len(sel))
            share.extend([1.0 / len(sel)] * len(sel))
        else:
            pts.append(geom.representative_point())
            where.append(i)
            share.append(1.0)
    at, part = np.asarray(where, dtype=np.intp), np.asarray(share, dtype=np.float64)
    data: dict[str, Any] = {"population": totals[at] * part}
    for g, vals in group_totals.items():
        data[group_column(g)] = vals[at] * part
    for key in keys:
        data[key] = [_id_text(u[key].iat[i]) for i in at]
    out = gpd.GeoDataFrame(data, geometry=pts, crs=net.crs)
    if mapping:
        out.attrs["group_sources"] = {
            g: f"unit totals column {c} (spread like {column})" for g, c in mapping.items()
        }
    return out


def _numbers(values: pd.Series, label: Any, column: str) -> np.ndarray:
    """``values`` as floats, or an InputError naming the first cell that is not a number."""
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(out) & values.notna().to_numpy() & (values.astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{label(i)}: {column} = {values.iat[i]!r} is not a number")
    return out


def _group_counts(
    values: pd.Series, totals: np.ndarray, label: Any, column: str, total_column: str
) -> np.ndarray:
    """Check a group column against the totals: numbers, none missing, 0 ≤ group ≤ total."""
    out = _numbers(values, label, column)
    for i in np.flatnonzero(np.isnan(out) & (totals > 0))[:1]:
        raise InputError(f"{label(int(i))}: {column} is empty (give 0 for none)")
    out = np.nan_to_num(out)
    for i in np.flatnonzero(out < 0)[:1]:
        raise InputError(f"{label(int(i))}: {column} is negative ({out[i]:g})")
    for i in np.flatnonzero(out > totals * (1 + _TOLERANCE) + _TOLERANCE)[:1]:
        raise InputError(
            f"{label(int(i))}: {column} = {out[i]:g} is more than its {total_column} "
            f"({totals[i]:g})"
        )
    return out


# --------------------------------------------------------------------------------------------
# target groups from shares
# --------------------------------------------------------------------------------------------


def _id_text(value: Any) -> str:
    """Write an id as text (``310101`` and ``310101.0`` give ``"310101"``; missing ``""``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return "" if text.lower() in ("nan", "none", "<na>") else text


def _norm_header(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lstrip("\ufeff").strip().lower()


def _age_range(group: str) -> tuple[float, float] | None:
    """Return the ages ``[from, to)`` of a group id like ``"3-6"`` or ``"60+"`` (else None)."""
    g = str(group).strip()
    m = _AGE_RANGE.match(g)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        return (lo, hi) if hi > lo else None
    m = _AGE_FROM.match(g)
    return (float(m.group(1)), math.inf) if m else None


def _disjoint_best(
    shares: np.ndarray, groups: list[str]
) -> tuple[np.ndarray, Callable[[int], list[str]] | None]:
    """Largest sum of shares over age groups that do not overlap, per row.

    Age groups (``a-b``, ``a+``) whose ranges do not overlap are disjoint sets of residents, so
    their shares may not sum to more than 1 (weighted interval scheduling over the groups).

    Parameters
    ----------
    shares : ndarray
        Rows × groups, NaN where there is no figure (counts as 0).
    groups : list of str
        The group of each column.

    Returns
    -------
    best : ndarray
        Per row, the largest sum.
    pick : callable or None
        ``pick(row)``: the groups of that row's sum, traced back when asked (an error names
        them for one row; tracing every row of a city's residents would cost seconds). None
        when no group is an age range.
    """
    ages = [(j, _age_range(g)) for j, g in enumerate(groups)]
    ages = sorted(((j, a) for j, a in ages if a is not None), key=lambda t: (t[1][1], t[1][0]))
    n = shares.shape[0]
    if not ages:
        return np.zeros(n), None
    w = np.nan_to_num(shares[:, [j for j, _ in ages]])
    best = [np.zeros(n)]  # best[k]: best sum over the first k intervals (by end)
    take: list[np.ndarray] = []
    prev: list[int] = []
    for k, (_, (lo, _hi)) in enumerate(ages):
        p = max((i + 1 for i in range(k) if ages[i][1][1] <= lo), default=0)
        with_k = w[:, k] + best[p]
        take.append(with_k > best[k])
        prev.append(p)
        best.append(np.maximum(best[k], with_k))

    def pick(r: int) -> list[str]:
        chosen, k = [], len(ages)
        while k > 0:
            if take[k - 1][r]:
                chosen.append(groups[ages[k - 1][0]])
                k = prev[k - 1]
            else:
                k -= 1
        return chosen[::-1]

    return best[-1], pick


@dataclass
class _Default:
    share: float
    source: str

    def text(self) -> str:
        pct = f"{self.share * 100:.3g} %"
        return f"default share {pct} ({self.source})" if self.source else f"default share {pct}"


def _defaults(default_shares: Mapping[str, Any] | None) -> dict[str, _Default]:
    """Check the default shares: each in [0, 1], disjoint age groups summing to at most 1."""
    out: dict[str, _Default] = {}
    for group, value in (default_shares or {}).items():
        g = str(group)
        if hasattr(value, "default_share"):  # a profile's TargetGroup
            share, source = value.default_share, getattr(value, "source", "")
        elif isinstance(value, tuple) and len(value) == 2:
            share, source = value
        else:
            share, source = value, ""
        if share is None:
            continue
        try:
            share = float(share)
        except (TypeError, ValueError):
            raise InputError(
                f"default share of group {g!r} is {share!r}, not a number between 0 and 1"
            ) from None
        if not 0.0 <= share <= 1.0:
            raise InputError(
                f"default share of group {g!r} is {share:g}: a share lies between 0 and 1 "
                f"(23.4 % is 0.234)"
            )
        out[g] = _Default(share, str(source or ""))
    if out:
        names = list(out)
        best, pick = _disjoint_best(np.array([[out[g].share for g in names]]), names)
        if best[0] > 1.0 + _TOLERANCE and pick is not None:
            raise InputError(
                f"default shares of the disjoint age groups {', '.join(pick(0))} sum to "
                f"{best[0]:.4g} (> 1)"
            )
    return out


@dataclass
class _ShareTable:
    """A shares table as read: one figure per area and group, checked cell by cell."""

    where: str  # the file (or "shares table") for errors
    name: str  # short name for group sources
    level: str  # "unit_id", "jiezhen_code" or "district_code"
    key_header: str
    ids: list[str]
    row_labels: list[str]
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # group → (header, kind)
    values: dict[str, np.ndarray] = field(default_factory=dict)  # NaN: no figure
    population: np.ndarray | None = None
    population_header: str = ""
    headers: list[str] = field(default_factory=list)  # every column of the table


def _read_table(shares: pd.DataFrame | str | os.PathLike, sheet: str | int) -> tuple:
    """Read the table: its cells, its name for errors and for sources, and row labels."""
    if isinstance(shares, pd.DataFrame):
        df = shares.copy()
        where = str(shares.attrs.get("source") or "shares table")
        name = Path(where).name if shares.attrs.get("source") else ""
        labels = [f"row index {i!r}" for i in df.index]
        return df.reset_index(drop=True), where, name, labels
    p = Path(shares)
    if not p.exists():
        raise InputError(f"shares table {p} does not exist")
    if p.is_dir():
        raise InputError(f"shares table {p} is a folder, expected a .csv or .xlsx file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            raw = p.read_bytes()
            text = None
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            for codec, _label in _ENCODINGS:
                try:
                    text = raw.decode(codec)
                    break
                except UnicodeDecodeError:
                    continue
            if text is None:
                raise InputError(
                    f"{p}: not readable as UTF-8, GBK or GB18030 text; save it from Excel as "
                    f"'CSV UTF-8' or as .xlsx"
                )
            first = text.split("\n", 1)[0]
            sep = "\t" if "\t" in first and "," not in first else ","
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(p, sheet_name=sheet, dtype=str).fillna("")
        else:
            raise InputError(f"{p}: unknown table type {suffix!r}; expected .csv or .xlsx")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{p}: could not be read as a table ({type(exc).__name__}: {exc})"
        ) from None
    labels = [f"row {i + 2}" for i in range(len(df))]  # the header is row 1
    return df, str(p), p.name, labels


def _cell_number(value: Any) -> tuple[float, bool] | None:
    """Parse a cell as (number, written as a percentage); None when empty, else ValueError."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value), False
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
    if text == "" or text.lower() in ("nan", "none", "<na>"):
        return None
    if text.endswith("%"):
        return float(text[:-1].strip()) / 100.0, True
    return float(text), False


def _parse_shares(
    shares: pd.DataFrame | str | os.PathLike, groups: list[str], sheet: str | int
) -> _ShareTable:
    """Read a shares table: its key column, a share or count column per group, each cell."""
    df, where, name, labels = _read_table(shares, sheet)
    headers = {_norm_header(c): c for c in df.columns}
    level = key = None
    for lv in SHARE_KEYS:
        key = next(
            (headers[_norm_header(a)] for a in _KEY_ALIASES[lv] if _norm_header(a) in headers), None
        )
        if key is not None:
            level = lv
            break
    if level is None or key is None:
        raise InputError(
            f"{where}: no key column; a shares table needs one of unit_id, jiezhen_code or "
            f"district_code (or 单元编号, 街镇代码, 区代码); columns are {list(df.columns)}"
        )
    ids = [_id_text(v) for v in df[key]]
    for i, v in enumerate(ids):
        if not v:
            raise InputError(f"{where}: {labels[i]}, column {key!r}: the {level} is empty")
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise InputError(
                f"{where}: {labels[i]}, column {key!r}: {level} {v!r} already on {labels[seen[v]]}"
            )
        seen[v] = i
    table = _ShareTable(where, name, level, str(key), ids, labels)
    table.headers = [str(c) for c in df.columns]

    def numbers(col: Any, kind: str) -> np.ndarray:
        out = np.full(len(df), np.nan)
        for i, cell in enumerate(df[col].tolist()):
            try:
                parsed = _cell_number(cell)
            except ValueError:
                raise InputError(
                    f"{where}: {labels[i]}, column {col!r}: {cell!r} is not a number"
                ) from None
            if parsed is None:
                continue
            x, percent = parsed
            if x < 0:
                raise InputError(f"{where}: {labels[i]}, column {col!r}: {cell!r} is negative")
            if kind == "share" and x > 1.0 + _TOLERANCE:
                hint = (
                    "write 23.4 % as 0.234 or 23.4%"
                    if not percent and x <= 100
                    else "counts of people go in a column count_<group>"
                )
                raise InputError(
                    f"{where}: {labels[i]}, column {col!r}: share {cell!r} is more than 1 "
                    f"(a share lies between 0 and 1; {hint})"
                )
            if kind != "share" and percent:
                raise InputError(
                    f"{where}: {labels[i]}, column {col!r}: {cell!r} is a percentage in a "
                    f"column of counts (shares go in a column named like the group or "
                    f"share_<group>)"
                )
            out[i] = x
        return out

    pop_header = headers.get("population")
    if pop_header is not None:
        table.population = numbers(pop_header, "count")
        table.population_header = str(pop_header)
    for g in groups:
        found = []
        for prefix, kind in (("", "share"), ("share_", "share"), ("count_", "count")):
            h = headers.get(_norm_header(prefix + g))
            if h is not None:
                found.append((h, kind))
        h = headers.get(_norm_header(GROUP_PREFIX + g))
        if h is not None:
            found.append((h, "count"))
        if len(found) > 1:
            raise InputError(
                f"{where}: group {g!r} has several columns {[str(h) for h, _ in found]}; "
                f"keep one (shares in {g!r} or 'share_{g}', counts in 'count_{g}')"
            )
        if found:
            h, kind = found[0]
            table.columns[g] = (str(h), kind)
            table.values[g] = numbers(h, kind)
            if kind == "count" and table.population is not None:
                over = table.values[g] > table.population * (1 + _TOLERANCE) + _TOLERANCE
                for i in np.flatnonzero(over)[:1]:
                    raise InputError(
                        f"{where}: {labels[i]}, column {str(h)!r}: {table.values[g][i]:g} people "
                        f"of group {g!r} but the row's {pop_header} is "
                        f"{table.population[i]:g}"
                    )
    log.info(
        "%s: %d rows per %s; group columns %s",
        name,
        len(df),
        _LEVEL_WORDS[level][0],
        {g: h for g, (h, _) in table.columns.items()} or "none",
    )
    return table


def _point_keys(
    points: gpd.GeoDataFrame,
    level: str,
    units: gpd.GeoDataFrame | None,
    assign_within_m: float,
) -> tuple[np.ndarray, set[str] | None]:
    """Find the area (unit, 街镇 or district id) of each point ("" for none), and known ids.

    Points that carry the key column use it; points that carry ``unit_id`` are mapped through
    the units' table; the others are joined by location (within a unit, else the nearest unit
    within ``assign_within_m``).
    """
    word = _LEVEL_WORDS[level][0]
    known = None
    if units is not None:
        if level not in units.columns:
            raise InputError(
                f"the units have no {level} column to match the shares table's {word} ids; "
                f"columns: {[c for c in units.columns if c != units.geometry.name]}"
            )
        known = {v for v in (_id_text(x) for x in units[level]) if v}
    if level in points.columns:
        return np.asarray([_id_text(v) for v in points[level]], dtype=object), known
    if units is None:
        raise InputError(
            f"the resident points carry no {level} and no units were given to find each "
            f"point's {word} (pass units=...)"
        )
    if "unit_id" in points.columns and "unit_id" in units.columns:
        to_key = {
            _id_text(a): _id_text(b) for a, b in zip(units["unit_id"], units[level], strict=True)
        }
        ids = [_id_text(v) for v in points["unit_id"]]
        missing = sorted({v for v in ids if v and v not in to_key})
        if missing:
            log.warning("resident points name unit_id(s) not in the units: %s", missing[:10])
        return np.asarray([to_key.get(v, "") for v in ids], dtype=object), known
    if points.crs is None or units.crs is None:
        raise InputError("resident points and units need a CRS to be joined by location")
    metric = points.estimate_utm_crs() if points.crs.is_geographic else points.crs
    pts = gpd.GeoDataFrame(geometry=points.geometry.to_numpy(), crs=points.crs).to_crs(metric)
    u = gpd.GeoDataFrame(
        {"_key": [_id_text(v) for v in units[level]]},
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    ).to_crs(metric)
    joined = gpd.sjoin(pts, u, predicate="within", how="left")
    key = joined[~joined.index.duplicated(keep="first")]["_key"]
    outside = key.isna()
    if outside.any() and assign_within_m > 0:
        near = gpd.sjoin_nearest(
            pts.loc[outside[outside].index], u, how="left", max_distance=assign_within_m
        )
        near = near[~near.index.duplicated(keep="first")]["_key"]
        key.loc[near.index] = near
    return np.asarray([_id_text(v) for v in key.to_numpy()], dtype=object), known


def add_groups(
    points: gpd.GeoDataFrame,
    groups: Iterable[str],
    *,
    units: gpd.GeoDataFrame | None = None,
    shares: pd.DataFrame | str | os.PathLike | None = None,
    default_shares: Mapping[str, Any] | None = None,
    sheet: str | int = 0,
    assign_within_m: float = 100.0,
    unmatched_rows: str = "error",
) -> gpd.GeoDataFrame:
    """Give resident points a ``population_<group>`` column for each target group.

    For each group of ``groups`` (``"all"`` is ``population`` itself and is skipped), in this
    order of precedence:

    1. a ``population_<group>`` column the points already carry (from :func:`from_raster`,
       :func:`from_points` or :func:`from_totals`) is kept as it is (checked: numbers,
       0 ≤ group ≤ ``population``);
    2. else ``shares``: a table with one row per area and a figure per group, applied to
       every point of the area (``population × share``);
    3. else, for the points whose area has no figure (an empty cell, no row, or no column for
       the group), ``default_shares``, e.g. the 2020 census's city-wide shares.

    The shares table (CSV in UTF-8, GBK or GB18030, or XLSX) has:

    * one key column, ``unit_id``, ``jiezhen_code`` or ``district_code`` (or 单元编号,
      街镇代码, 区代码); with several, the finest (unit, then 街镇, then district) is used;
    * per group, either a share column named like the group or ``share_<group>`` (e.g.
      ``60+`` or ``share_60+``: 0.234, or ``23.4%``), or a count column ``count_<group>`` or
      ``population_<group>`` (people). Counts become shares of the area's residents: of the
      table's ``population`` column when it has one (the total the counts belong to), else of
      the points' ``population`` in that area (so the group's total there equals the count);
    * any other columns (names, notes), which are ignored. Headers ignore case and
      full-width forms.

    Each point's area comes from its own ``unit_id`` / ``jiezhen_code`` / ``district_code``
    column when it carries the table's key; else its ``unit_id`` is looked up in ``units``;
    else it is joined to ``units`` by location (within a unit, else the nearest unit within
    ``assign_within_m``). Points outside every area get the default share (0 without one,
    with a warning: :func:`lifecircle_geo.analyze` does not count them anyway).

    Parameters
    ----------
    points : GeoDataFrame
        Resident points with ``population``.
    groups : iterable of str
        Target group ids, e.g. ``["60+", "0-3"]`` (any id a profile defines).
    units : GeoDataFrame, optional
        Units with the table's key column: maps the points to areas, and is the list of known
        ids (otherwise the points' own ids are).
    shares : DataFrame, str or path-like, optional
        The shares table, or its file (.csv, .xlsx).
    default_shares : mapping, optional
        Group id → default share (0..1), or ``(share, source)``, or an object with
        ``default_share`` and ``source`` attributes (a profile's target group); the source
        text is quoted in ``attrs["group_sources"]``.
    sheet : str or int
        Sheet of an XLSX table.
    assign_within_m : float
        Points outside every unit join the nearest unit within this distance (metres).
    unmatched_rows : {"error", "ignore"}
        What to do with table rows whose id is not a known unit / 街镇 / district: an
        InputError (a typo, by default), or ``"ignore"`` (a city-wide table used for a part of
        the city; logged).

    Returns
    -------
    GeoDataFrame
        A copy of ``points`` with a ``population_<group>`` column per group and attrs:

        * ``group_sources``: group → where its numbers came from: ``"points column
          population_60+"`` (or the source a reader recorded, e.g. ``"raster pop60.tif"``),
          ``"shares table ages.csv (share_60+): per unit (12 of 14 units), rest default
          share 23.4 % (…)"``, or ``"default share 23.4 % (…)"``;
        * ``group_default_fraction``: group → the fraction (0..1) of residents whose figure
          is a default share, so outputs can say when a default was used.

    Raises
    ------
    InputError
        A missing or unreadable file, no key column, an empty or duplicate id, a cell that is
        not a number, a share outside [0, 1], a count above the row's population, disjoint age
        groups (e.g. 0-3, 3-6, 60+) whose shares sum to more than 1, a table id that is not a
        known area (``unmatched_rows="error"``), or an area (or a whole group) with no figure
        and no default share. The message names the file, row and column.

    Examples
    --------
    >>> pts = gpd.GeoDataFrame(
    ...     {"population": [1000.0, 500.0, 200.0], "jiezhen_code": ["J1", "J2", "J3"]},
    ...     geometry=shapely.points([0, 1, 2], [0, 0, 0]), crs=32651)
    >>> table = pd.DataFrame({"jiezhen_code": ["J1", "J2"], "share_60+": [0.3, None],
    ...                       "count_0-3": [20, 10]})
    >>> out = add_groups(pts, ["60+", "0-3"], shares=table,
    ...                  default_shares={"60+": (0.234, "2020 census"), "0-3": 0.0196})
    >>> out[["population_60+", "population_0-3"]].round(1).to_numpy().tolist()
    [[300.0, 20.0], [117.0, 10.0], [46.8, 3.9]]
    >>> out.attrs["group_sources"]["60+"]
    'shares table (share_60+): per 街镇 (1 of 3 街镇), rest default share 23.4 % (2020 census)'
    >>> round(out.attrs["group_default_fraction"]["0-3"], 3)
    0.118
    """
    if "population" not in points.columns:
        raise InputError(
            f"resident points need a 'population' column; columns: {list(points.columns)}"
        )
    if unmatched_rows not in ("error", "ignore"):
        raise InputError(f"unmatched_rows must be 'error' or 'ignore', not {unmatched_rows!r}")
    wanted: list[str] = []
    for g in groups:
        g = str(g).strip()
        group_column(g)  # rejects an empty id
        if g != "all" and g not in wanted:
            wanted.append(g)
    out = points.copy()
    pop = _numbers(out["population"], lambda i: f"resident point {i + 1}", "population")
    pop = np.nan_to_num(pop)
    sources: dict[str, str] = dict(points.attrs.get("group_sources", {}))
    fractions: dict[str, float] = dict(points.attrs.get("group_default_fraction", {}))
    defaults = _defaults(default_shares)
    total = pop.sum()

    todo = []
    for g in wanted:
        col = group_column(g)
        if col in out.columns:
            out[col] = _group_counts(
                out[col], pop, lambda i: f"resident point {i + 1}", col, "population"
            )
            sources.setdefault(g, f"points column {col}")
            fractions.setdefault(g, 0.0)
        else:
            todo.append(g)

    table = None
    keys = np.full(len(out), "", dtype=object)
    if todo and shares is not None:
        table = _parse_shares(shares, todo, sheet)
        keys, known = _point_keys(out, table.level, units, assign_within_m)
        _check_table_ids(table, keys, known, unmatched_rows)
        _table_shares_of_points(table, keys, pop)

    for g in todo:
        col = group_column(g)
        share = np.full(len(out), np.nan)
        text = ""
        if table is not None and g in table.columns:
            row_of = {v: i for i, v in enumerate(table.ids)}
            rows = np.asarray([row_of.get(k, -1) for k in keys], dtype=np.intp)
            vals = table.values[g]
            share = np.where(rows >= 0, vals[np.maximum(rows, 0)], np.nan)
            sing, plural = _LEVEL_WORDS[table.level]
            live = pop > 0
            areas = {k for k in keys[live] if k}
            covered = {k for k in areas if k in row_of and not np.isnan(vals[row_of[k]])}
            text = (
                f"shares table{' ' + table.name if table.name else ''} "
                f"({table.columns[g][0]}): per {sing} "
                f"({len(covered)} of {len(areas)} {plural})"
            )
            lacking = sorted(areas - covered)
            if lacking and g not in defaults:
                raise InputError(
                    f"{table.where}: group {g!r}: no figure in column "
                    f"{table.columns[g][0]!r} for {len(lacking)} {plural} with residents "
                    f"{lacking[:10]} and no default share was given"
                )
        elif g not in defaults:
            if table is not None:
                raise InputError(
                    f"{table.where}: no column for group {g!r} (expected {g!r} or 'share_{g}' "
                    f"for shares, 'count_{g}' or 'population_{g}' for counts; columns are "
                    f"{table.headers}) and no default share was given"
                )
            raise InputError(
                f"group {g!r}: the resident points have no {col} column, and neither a shares "
                f"table nor a default share was given"
            )
        rest = np.isnan(share)
        if rest.any():
            if g in defaults:
                share[rest] = defaults[g].share
                text = f"{text}, rest {defaults[g].text()}" if text else defaults[g].text()
            else:  # only points outside every area are left here
                people = pop[rest].sum()
                log.warning(
                    "group %s: %d resident points (%.0f people) lie outside every %s and "
                    "get no %s (no default share)",
                    g,
                    int(rest.sum()),
                    people,
                    _LEVEL_WORDS[table.level][0] if table else "area",
                    col,
                )
                share[rest] = 0.0
                text += f"; {int(rest.sum())} points outside every area: 0"
        out[col] = pop * share
        fractions[g] = float(pop[rest].sum() / total) if total > 0 and g in defaults else 0.0
        sources[g] = text
        log.info("group %s: %.0f of %.0f residents (%s)", g, out[col].sum(), total, text)

    _check_points_disjoint(out, pop, wanted, sources)
    out.attrs["group_sources"] = sources
    out.attrs["group_default_fraction"] = fractions
    return out


def _check_table_ids(
    table: _ShareTable, keys: np.ndarray, known: set[str] | None, unmatched_rows: str
) -> None:
    """Table rows must name known areas (the units' ids, else the points')."""
    if known is None:
        known = {k for k in keys if k}
    unknown = [i for i, v in enumerate(table.ids) if v not in known]
    if not unknown:
        return
    sing, plural = _LEVEL_WORDS[table.level]
    if unmatched_rows == "ignore":
        log.info(
            "%s: %d rows name %s not among the units (ignored): %s",
            table.name,
            len(unknown),
            plural,
            [table.ids[i] for i in unknown[:10]],
        )
        return
    i = unknown[0]
    raise InputError(
        f"{table.where}: {table.row_labels[i]}, column {table.key_header!r}: {sing} "
        f"{table.ids[i]!r} is not a known {sing} ({len(unknown)} such rows; known: "
        f"{sorted(known)[:10]}{' …' if len(known) > 10 else ''}); pass "
        f"unmatched_rows='ignore' for a table that covers more than these {plural}"
    )


def _table_shares_of_points(table: _ShareTable, keys: np.ndarray, pop: np.ndarray) -> None:
    """Turn count columns into shares and check disjoint age groups row by row (in place)."""
    if any(kind == "count" for _, kind in table.columns.values()):
        if table.population is not None:
            base = table.population
            base_text = f"the row's {table.population_header}"
        else:
            area_pop = pd.Series(pop).groupby(pd.Series(keys)).sum()
            base = np.asarray([float(area_pop.get(v, 0.0)) for v in table.ids])
            base_text = f"the residents of the points in that {_LEVEL_WORDS[table.level][0]}"
        for g, (header, kind) in table.columns.items():
            if kind != "count":
                continue
            counts = table.values[g]
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(base > 0, counts / base, np.where(np.isnan(counts), np.nan, 0.0))
            over = share > 1.0 + _TOLERANCE
            for i in np.flatnonzero(over)[:1]:
                raise InputError(
                    f"{table.where}: {table.row_labels[i]}, column {header!r}: {counts[i]:g} "
                    f"people of group {g!r} but {base_text} is {base[i]:.6g}"
                )
            table.values[g] = np.minimum(share, 1.0)
    names = list(table.columns)
    if not names:
        return
    matrix = np.column_stack([table.values[g] for g in names])
    best, pick = _disjoint_best(matrix, names)
    for i in np.flatnonzero(best > 1.0 + _TOLERANCE)[:1]:
        cols = ", ".join(table.columns[g][0] for g in (pick(int(i)) if pick else []))
        raise InputError(
            f"{table.where}: {table.row_labels[i]}: the disjoint age groups in columns {cols} "
            f"sum to {best[i]:.4g} of the residents (> 1)"
        )


def _check_points_disjoint(
    out: gpd.GeoDataFrame, pop: np.ndarray, groups: list[str], sources: dict
) -> None:
    """No point may have more people in disjoint age groups than residents."""
    cols = {g: group_column(g) for g in groups}
    names = [g for g in cols if _age_range(g) is not None]
    if len(names) < 2:
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = np.column_stack(
            [np.where(pop > 0, out[cols[g]].to_numpy(float) / pop, 0.0) for g in names]
        )
    best, pick = _disjoint_best(matrix, names)
    for i in np.flatnonzero(best > 1.0 + _TOLERANCE)[:1]:
        chosen = pick(int(i)) if pick else []
        raise InputError(
            f"resident point {i + 1}: the disjoint age groups {', '.join(chosen)} hold "
            f"{best[i]:.4g} times its population; their sources: "
            f"{ {g: sources.get(g, '?') for g in chosen} }"
        )
