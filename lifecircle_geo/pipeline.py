"""The pipeline: a run config → network, facilities, units, residents → ``analyze`` → files.

:func:`run` is the one place that assembles a run; ``lifecircle demo``, ``lifecircle run`` and
every batch task (:func:`lifecircle_geo.batch.run_task`) call it. A run config is a TOML file
(or the same structure as a dict); :func:`load_config` checks every key against :data:`SCHEMA`
before any work (an unknown key fails with the nearest valid one and the allowed keys) and
resolves every path against the config file's folder. ``lifecircle run --help`` lists the keys
(:func:`config_help`).

A config, with every key (paths relative to the file)::

    profile = "shanghai-2025"          # or a planner's "my_profile.toml"
    out = "out/my_jiezhen"
    area_type = "中心城"               # for units that state none
    walk_speed_kmh = 4.0               # default: the profile's
    year = 2026                        # of the project list
    max_snap_m = 500
    search_cutoff_m = 2000
    suggest = true
    packages_per_jiezhen = 11          # project packages (项目包) per 街镇
    package_solver = "greedy"          # or "milp" (exact, small cases)
    isochrone_polygons = true
    assign_within_m = 100
    previous = "../2025/project_database.gpkg"  # last year's list: unfinished ones carried over
    needs = "需求清单.xlsx"            # residents' requests (问需求计) per unit and category

    [network]
    osm = "shanghai.osm.pbf"           # or saved = "net.npz"
    crs = 4549                         # default: the local UTM zone
    rules = "walk_rules.toml"          # or an inline table of WalkRules keys

    [facilities]
    osm = ["shanghai.osm.pbf"]         # default: [network] osm; [] for none
    complete = ["bus", "metro"]        # inputs complete for these: none nearby is 0 %
    [[facilities.tables]]
    path = "高德POI.xlsx"
    coords = "gcj02"
    columns = {lon = "X坐标", lat = "Y坐标"}
    sheet = "POI"

    [units]
    path = "units.gpkg"
    layer = "units"
    columns = {unit_id = "单元代号", jiezhen_code = "所属街镇代码"}
    clip_to_network = false            # true: cut units to the street data's extent

    [population]
    raster = "worldpop_100m.tif"       # or points = "compounds.gpkg" (+ column), or
    band = 1                           # totals = "人口" (a column of the units)
    groups = {"60+" = "pop60.tif"}     # target groups of the source (files or columns)
    group_shares = "年龄结构.xlsx"      # or shares/counts per unit, 街镇 or district

    [batch]
    by = "jiezhen_code"
    # buffer_m = 2500                 # default: per task, largest threshold + max_snap_m
    outputs = ["gpkg", "xlsx"]         # per-街镇 outputs (default all)
    keys = ["310105099"]

Examples
--------
>>> from lifecircle_geo import pipeline
>>> cfg = pipeline.load_config(pipeline.sample_config(out="out/demo"))
>>> sorted(cfg["network"]), cfg["facilities"]["tables"][0]["coords"]
(['osm'], 'gcj02')
>>> result, files = pipeline.run("my_jiezhen.toml")  # doctest: +SKIP
>>> files["gpkg"].name  # doctest: +SKIP
'project_database.gpkg'
"""

from __future__ import annotations

import difflib
import inspect
import logging
import numbers
import os
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from . import crs as lc_crs
from . import facilities as lc_facilities
from . import population as lc_population
from . import units as lc_units
from .analysis import OUTPUTS, AnalysisResult, analyze
from .errors import InputError, ProfileError
from .extent import clip_units
from .network import WalkNetwork, WalkRules
from .standards import AREA_ALIASES, AREA_TYPES, list_profiles, load_profile

__all__ = [
    "ANALYZE_KEYS",
    "BATCH_BY",
    "SCHEMA",
    "Area",
    "Inputs",
    "Key",
    "analyze_inputs",
    "build_inputs",
    "complete_inputs",
    "config_help",
    "input_files",
    "load_config",
    "read_residents",
    "read_units",
    "run",
    "sample_config",
    "unit_of_points",
]

log = logging.getLogger(__name__)

#: Columns a batch can be split by.
BATCH_BY = ("jiezhen_code", "district_code")


# ---------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class Key:
    """One key of a run config.

    Attributes
    ----------
    name : str
        The key as written in the TOML file.
    kind : str
        What it holds: ``str``, ``int``, ``float``, ``bool``, ``path``, ``paths`` (one path or
        a list), ``mapping`` (an inline table of text), ``str|int``, ``path|table``, ``list``
        (of text or numbers), ``table`` or ``tables`` (an array of tables).
    help : str
        One line for ``lifecircle run --help``.
    """

    name: str
    kind: str
    help: str


#: Every key of a run config, per table: ``""`` is the top level, ``"facilities.tables"`` each
#: ``[[facilities.tables]]`` entry.
SCHEMA: dict[str, tuple[Key, ...]] = {
    "": (
        Key(
            "profile",
            "str",
            "standards profile: a built-in name (shanghai-2025, gb50180-2018) or a .toml file",
        ),
        Key("out", "path", 'output folder (default "out")'),
        Key(
            "area_type",
            "str",
            "area type of units that state none: 中心城, 主城区, 新城, 其他地区 or 乡村",
        ),
        Key("walk_speed_kmh", "float", "walking speed in km/h (default: the profile's)"),
        Key("year", "int", "year of the project list (default: next year)"),
        Key(
            "max_snap_m", "float", "residents and facilities farther (m) from a street are left out"
        ),
        Key(
            "search_cutoff_m", "float", "search radius (m); farther residents count as not reached"
        ),
        Key("suggest", "bool", "choose project packages for the gaps (default true)"),
        Key(
            "packages_per_jiezhen", "int", "project packages per 街镇 (default min(11, 2 × units))"
        ),
        Key("package_solver", "str", "greedy (default) or milp (exact, small cases)"),
        Key(
            "spaces",
            "path",
            "candidate spaces for packages (parcels, vacant buildings, 附属空间): a vector file",
        ),
        Key("isochrone_polygons", "bool", "build walking catchment polygons per category"),
        Key(
            "assign_within_m",
            "float",
            "residents outside every unit but this close to one count for it",
        ),
        Key(
            "previous",
            "path",
            "last year's project database (.gpkg or its folder, or project_list.xlsx): "
            "unfinished projects are carried over",
        ),
        Key("needs", "path", "the 需求清单 (CSV/XLSX of residents' requests per unit/category)"),
        Key("network", "table", "the walk network"),
        Key("facilities", "table", "facility sources"),
        Key("units", "table", "community basic units (社区基本单元)"),
        Key("population", "table", "residents (default: the units' population column)"),
        Key("batch", "table", "how `lifecircle batch` splits the units"),
    ),
    "network": (
        Key("osm", "path", "OSM extract (.osm, .osm.bz2, .osm.pbf) to build the network from"),
        Key("saved", "path", "a network saved with WalkNetwork.save (.npz), instead of osm"),
        Key("crs", "str|int", "CRS of a network built from osm, e.g. 4549 (default: local UTM)"),
        Key("rules", "path|table", "walk rules: a TOML file or an inline table of WalkRules"),
    ),
    "facilities": (
        Key("osm", "paths", "OSM files to read facilities from (default: [network] osm)"),
        Key("tables", "tables", "planner's tables, one [[facilities.tables]] each"),
        Key(
            "complete",
            "list|bool",
            "categories whose inputs are complete (true: all): none nearby is 0 %, not no data",
        ),
    ),
    "facilities.tables": (
        Key("path", "path", "CSV, XLSX, GeoJSON, GPKG or SHP file of facilities"),
        Key("coords", "str", "coordinate system of the table: wgs84 (default), gcj02 or bd09"),
        Key("columns", "mapping", "which column holds each field, e.g. {lon = 'X坐标'}"),
        Key(
            "sheet",
            "str|int",
            "Excel sheet name or number (default: the sheet(s) holding the facility columns)",
        ),
    ),
    "units": (
        Key("path", "path", "GeoJSON, GeoPackage or Shapefile of the units"),
        Key("layer", "str", "layer of a multi-layer file"),
        Key("columns", "mapping", "which column holds each field, e.g. {unit_id = '单元编号'}"),
        Key("strict", "bool", "refuse overlapping or duplicated units instead of resolving them"),
        Key(
            "clip_to_network",
            "bool",
            "cut units down to the street data's extent (else such units are 'partial network')",
        ),
    ),
    "population": (
        Key("raster", "path", "raster of residents per cell (e.g. WorldPop)"),
        Key("band", "int", "band of the raster (default 1)"),
        Key("points", "path", "vector file of resident points or compounds, instead of raster"),
        Key("column", "str", "population column of points (default population)"),
        Key("totals", "str", "spread this column of the units over their streets instead"),
        Key(
            "groups",
            "mapping",
            "target groups the source carries: raster files or point/unit columns per group, "
            "e.g. {'60+' = 'pop60.tif'}",
        ),
        Key(
            "group_shares",
            "path",
            "CSV/XLSX of target-group shares or counts per unit, 街镇 or district "
            "(else the profile's census defaults)",
        ),
    ),
    "batch": (
        Key("by", "str", "split by jiezhen_code (default) or district_code"),
        Key(
            "buffer_m",
            "float",
            "network and facilities clipped to the units plus this buffer (default: per task, "
            "the largest threshold of its area types + max_snap_m)",
        ),
        Key("keys", "list", "only these 街镇 (or district) codes"),
        Key(
            "outputs",
            "list",
            "outputs per task: some of gpkg, xlsx, map, figures, summaries (default all; "
            "tasks by district_code leave out summaries)",
        ),
    ),
}

#: Top-level keys passed on to :func:`lifecircle_geo.analyze` when given.
ANALYZE_KEYS = (
    "area_type",
    "walk_speed_kmh",
    "year",
    "max_snap_m",
    "search_cutoff_m",
    "suggest",
    "packages_per_jiezhen",
    "package_solver",
    "isochrone_polygons",
    "assign_within_m",
)
_TABLES = {"network", "facilities", "units", "population", "batch"}
_KIND_TEXT = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "path": "a path (text)",
    "paths": "a path or a list of paths",
    "mapping": "an inline table of text, e.g. {unit_id = '单元编号'}",
    "str|int": "text or an integer",
    "path|table": "a path or a table",
    "list": "a list of text or numbers",
    "list|bool": "a list of text, or true / false",
    "table": "a table",
    "tables": "an array of tables ([[...]])",
}


def _where(section: str, index: int | None = None) -> str:
    if not section:
        return "the top level"
    if index is not None:
        return f"[[{section}]] #{index + 1}"
    return f"[{section}]"


def _shown(section: str, key: str, value: Any) -> str:
    """How a key reads in the file: ``[table]``, ``[[a.b]]`` or ``key``."""
    full = f"{section}.{key}" if section else key
    if isinstance(value, dict):
        return f"[{full}]"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"[[{full}]]"
    return repr(key)


def _is_path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike) and str(value) != ""


def _type_ok(kind: str, value: Any) -> bool:
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "float":
        return number
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "path":
        return _is_path(value)
    if kind == "paths":
        return _is_path(value) or (
            isinstance(value, list | tuple) and all(_is_path(v) for v in value)
        )
    if kind == "mapping":
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    if kind == "str|int":
        return isinstance(value, str) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool)
        )
    if kind == "path|table":
        return _is_path(value) or isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list | tuple) and all(
            isinstance(v, str) or (isinstance(v, numbers.Real) and not isinstance(v, bool))
            for v in value
        )
    if kind == "list|bool":
        return isinstance(value, bool) or (
            isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        )
    if kind == "table":
        return isinstance(value, dict)
    if kind == "tables":
        return isinstance(value, list | tuple) and all(isinstance(v, dict) for v in value)
    raise AssertionError(kind)


def _check_keys(doc: dict, section: str, source: str, index: int | None = None) -> None:
    """Unknown keys and wrong types in one table (and the tables inside it), before any work."""
    keys = {k.name: k for k in SCHEMA[section]}
    where = _where(section, index)
    at = f"in {where}" if section else "at the top level"
    for name, value in doc.items():
        if name not in keys:
            near = difflib.get_close_matches(str(name), list(keys), n=1, cutoff=0.6)
            hint = ""
            if near:
                hint = f"; did you mean {_shown(section, near[0], value)}?"
            raise InputError(
                f"{source}: unknown {'table' if isinstance(value, dict | list) else 'key'} "
                f"{_shown(section, str(name), value)} {at}{hint} Allowed keys {at}: "
                f"{', '.join(keys)}"
            )
        key = keys[name]
        if value is None:  # a dict config's way of saying "not set"
            continue
        if not _type_ok(key.kind, value):
            raise InputError(
                f"{source}: {where} {name} = {value!r} should be {_KIND_TEXT[key.kind]}"
            )
        if key.kind == "table":
            sub = f"{section}.{name}" if section else name
            if sub in SCHEMA:
                _check_keys(value, sub, source)
        elif key.kind == "tables":
            sub = f"{section}.{name}" if section else name
            for i, item in enumerate(value):
                _check_keys(item, sub, source, index=i)


def _check_mapping(
    mapping: dict, allowed: list[str], what: str, where: str, source: str
) -> dict[str, str]:
    for field in mapping:
        if field not in allowed:
            near = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise InputError(
                f"{source}: {where} columns: unknown {what} field {field!r}{hint} Allowed: "
                f"{', '.join(allowed)}"
            )
    return dict(mapping)


def _choice(
    value: str, allowed: tuple[str, ...] | list[str], name: str, where: str, source: str
) -> str:
    if value not in allowed:
        near = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise InputError(
            f"{source}: {where} {name} = {value!r}{hint} Expected one of {', '.join(allowed)}"
        )
    return value


# ---------------------------------------------------------------------------- config
def _read(config: str | os.PathLike | dict) -> tuple[dict, Path, str]:
    if isinstance(config, dict):
        doc = {k: v for k, v in config.items() if k != "base"}
        return doc, Path(config.get("base") or ".").absolute(), "config"
    path = Path(config)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"config file {path} is a folder, expected a .toml file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"config file {path} is not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    return doc, path.absolute().parent, str(path)


def _set(doc: dict, key: str) -> bool:
    return doc.get(key) is not None


def load_config(config: str | os.PathLike | dict) -> dict:
    """Read and check a run config; return it with every path absolute and defaults filled.

    Every key is checked against :data:`SCHEMA` before any file is read: an unknown key, a
    value of the wrong type, a missing table, an input file that does not exist, an unknown
    profile, area type, coordinate system, column field or ``[batch] by`` raise an
    :class:`~lifecircle_geo.errors.InputError` naming the key and where it is. Paths, including
    a ``profile`` that names a ``.toml`` file, are relative to the config file.

    Parameters
    ----------
    config : str, path-like or dict
        A TOML file, or the same structure as a dict (paths relative to its ``"base"`` key,
        default the working directory; a ``None`` value means "not set"). A dict returned by
        this function is accepted as is.

    Returns
    -------
    dict
        A config of the same structure: ``profile`` (a built-in name or an absolute path),
        ``out`` (Path), the analysis keys that were given (:data:`ANALYZE_KEYS`), ``network``
        (``osm`` or ``saved`` Path, optional ``crs`` and ``rules``), ``facilities`` (``osm``: list
        of Path, ``tables``: list of dicts with ``path`` and ``coords``, optional ``columns``
        and ``sheet``), ``units`` (``path``, optional ``layer`` and ``columns``),
        ``population`` (empty, or ``raster`` [+ ``band``], ``points`` [+ ``column``] or
        ``totals``) and ``batch`` (``by``, ``buffer_m``, optional ``keys``).

    Raises
    ------
    InputError
        As above; the message names the config file, the table and the key.

    Examples
    --------
    >>> cfg = load_config({"network": {"osm": sample_config()["network"]["osm"]},
    ...                    "units": {"path": sample_config()["units"]["path"]}})
    >>> cfg["batch"], cfg["population"], cfg["profile"]
    ({'by': 'jiezhen_code', 'buffer_m': None}, {}, 'shanghai-2025')
    >>> load_config({"area_typ": "新城", "network": {}, "units": {}})
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    lifecircle_geo.errors.InputError: config: unknown key 'area_typ' at the top level;
    did you mean 'area_type'? Allowed keys at the top level: profile, out, area_type, ...
    """
    doc, base, source = _read(config)
    _check_keys(doc, "", source)
    doc = _drop_none(doc)

    def rel(p: str | os.PathLike) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else base / q

    def existing(p: str | os.PathLike, where: str, name: str) -> Path:
        q = rel(p)
        if not q.exists():
            raise InputError(f"{source}: {where} {name}: {q} does not exist")
        return q

    for table in ("network", "units"):
        if table not in doc:
            raise InputError(f"{source}: missing [{table}] table")
    cfg: dict[str, Any] = {}

    # profile: a built-in name stays a name, a file is relative to the config
    profile = doc.get("profile", "shanghai-2025")
    if isinstance(profile, os.PathLike) or (
        profile not in list_profiles()
        and (Path(profile).suffix.lower() == ".toml" or "/" in profile or os.sep in profile)
    ):
        profile = str(existing(profile, "the top level", "profile"))
    try:
        prof = load_profile(profile)
    except ProfileError as exc:
        raise ProfileError(f"{source}: profile = {doc.get('profile')!r}: {exc}") from None
    cfg["profile"] = profile
    cfg["out"] = rel(doc.get("out", "out"))
    for name in ANALYZE_KEYS:
        if name in doc:
            value = doc[name]
            kind = next(k.kind for k in SCHEMA[""] if k.name == name)
            cfg[name] = float(value) if kind == "float" else value
    for name in ("previous", "needs", "spaces"):
        if name in doc:
            cfg[name] = existing(doc[name], "the top level", name)
    if "area_type" in cfg:
        _choice(
            cfg["area_type"], [*AREA_TYPES, *AREA_ALIASES], "area_type", "the top level", source
        )
    for name in ("walk_speed_kmh", "max_snap_m", "search_cutoff_m"):
        if name in cfg and not cfg[name] > 0:
            raise InputError(f"{source}: {name} = {cfg[name]!r} should be positive")
    if cfg.get("packages_per_jiezhen", 0) < 0 or cfg.get("assign_within_m", 0) < 0:
        raise InputError(f"{source}: packages_per_jiezhen and assign_within_m cannot be negative")
    if "package_solver" in cfg:
        _choice(
            cfg["package_solver"], ("greedy", "milp"), "package_solver", "the top level", source
        )

    # [network]
    net_doc = doc["network"]
    where = "[network]"
    if _set(net_doc, "osm") == _set(net_doc, "saved"):
        raise InputError(f"{source}: {where} needs exactly one of 'osm' or 'saved'")
    if "osm" in net_doc:
        network: dict[str, Any] = {"osm": existing(net_doc["osm"], where, "osm")}
    else:
        network = {"saved": existing(net_doc["saved"], where, "saved")}
        for name in ("crs", "rules"):
            if name in net_doc:
                raise InputError(
                    f"{source}: {where} {name} applies to a network built from osm; a saved "
                    f"network keeps its own"
                )
    if "crs" in net_doc:
        network["crs"] = net_doc["crs"]
    if "rules" in net_doc:
        rules = net_doc["rules"]
        network["rules"] = rules if isinstance(rules, dict) else existing(rules, where, "rules")
    for name, check in (("crs", lc_crs.resolve_crs), ("rules", WalkRules.coerce)):
        if name in network:
            try:
                check(network[name])
            except InputError as exc:
                raise InputError(f"{source}: {where} {name}: {exc}") from None
    cfg["network"] = network

    # [facilities]
    fac_doc = doc.get("facilities", {})
    where = "[facilities]"
    osm = fac_doc.get("osm", [network["osm"]] if "osm" in network else [])
    osm = [osm] if _is_path(osm) else list(osm)
    tables = []
    for i, t in enumerate(fac_doc.get("tables", [])):
        twhere = _where("facilities.tables", i)
        if not _set(t, "path"):
            raise InputError(f"{source}: {twhere} needs 'path'")
        table: dict[str, Any] = {"path": existing(t["path"], twhere, "path")}
        try:
            table["coords"] = lc_crs.canonical_system(t.get("coords", "wgs84"))
        except InputError as exc:
            raise InputError(f"{source}: {twhere} coords: {exc}") from None
        if "columns" in t:
            table["columns"] = _check_mapping(
                t["columns"], list(lc_facilities.HEADER_ALIASES), "facility", twhere, source
            )
        if "sheet" in t:
            table["sheet"] = t["sheet"]
        tables.append(table)
    cfg["facilities"] = {
        "osm": [existing(p, where, "osm") for p in osm],
        "tables": tables,
    }
    if "complete" in fac_doc:
        complete = fac_doc["complete"]
        if not isinstance(complete, bool):
            for cat in complete:
                _choice(cat, prof.category_ids, "complete", where, source)
        cfg["facilities"]["complete"] = complete
    if not osm and not tables:
        raise InputError(
            f"{source}: no facility source: {where} osm is empty and there is no "
            f"[[facilities.tables]]"
        )

    # [units]
    u_doc = doc["units"]
    where = "[units]"
    if not _set(u_doc, "path"):
        raise InputError(f"{source}: {where} needs 'path'")
    units: dict[str, Any] = {"path": existing(u_doc["path"], where, "path")}
    if "layer" in u_doc:
        units["layer"] = u_doc["layer"]
    if "columns" in u_doc:
        units["columns"] = _check_mapping(
            u_doc["columns"], list(lc_units.UNIT_COLUMNS), "unit", where, source
        )
    if u_doc.get("clip_to_network"):
        units["clip_to_network"] = True
    if u_doc.get("strict"):
        units["strict"] = True
    cfg["units"] = units

    # [population]
    p_doc = doc.get("population", {})
    where = "[population]"
    given = [k for k in ("raster", "points", "totals") if k in p_doc]
    if len(given) > 1:
        raise InputError(f"{source}: {where} takes one of raster, points or totals, not {given}")
    if "band" in p_doc and "raster" not in p_doc:
        raise InputError(f"{source}: {where} band applies to a raster")
    if "column" in p_doc and "points" not in p_doc:
        raise InputError(f"{source}: {where} column applies to points")
    population: dict[str, Any] = {}
    if "raster" in p_doc:
        population["raster"] = existing(p_doc["raster"], where, "raster")
        if "band" in p_doc:
            population["band"] = int(p_doc["band"])
    elif "points" in p_doc:
        population["points"] = existing(p_doc["points"], where, "points")
        population["column"] = p_doc.get("column", "population")
    elif "totals" in p_doc:
        population["totals"] = p_doc["totals"]
    if "groups" in p_doc:
        groups = dict(p_doc["groups"])
        if "raster" in population:
            groups = {g: str(existing(v, where, f"groups.{g}")) for g, v in groups.items()}
        population["groups"] = groups
    if "group_shares" in p_doc:
        population["group_shares"] = existing(p_doc["group_shares"], where, "group_shares")
    cfg["population"] = population

    # [batch]
    b_doc = doc.get("batch", {})
    batch: dict[str, Any] = {
        "by": _choice(b_doc.get("by", "jiezhen_code"), BATCH_BY, "by", "[batch]", source),
        "buffer_m": float(b_doc["buffer_m"]) if "buffer_m" in b_doc else None,
    }
    if batch["buffer_m"] is not None and batch["buffer_m"] < 0:
        raise InputError(f"{source}: [batch] buffer_m = {batch['buffer_m']} cannot be negative")
    if "keys" in b_doc:
        batch["keys"] = [str(k) for k in b_doc["keys"]]
    if "outputs" in b_doc:
        for name in b_doc["outputs"]:
            _choice(str(name), OUTPUTS, "outputs", "[batch]", source)
        batch["outputs"] = [str(n) for n in b_doc["outputs"]]
    cfg["batch"] = batch
    log.debug("config %s: profile %s, %d facility sources", source, prof.id, len(osm) + len(tables))
    return cfg


def _drop_none(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _drop_none(v) for k, v in doc.items() if v is not None}
    if isinstance(doc, list):
        return [_drop_none(v) for v in doc]
    return doc


def input_files(config: dict) -> list[Path]:
    """Every input file a checked config reads (for fingerprints).

    Parameters
    ----------
    config : dict
        A config returned by :func:`load_config`.

    Returns
    -------
    list of Path
        The network, walk rules, facility, units, population and profile files.
    """
    files = [p for k, p in config["network"].items() if k in ("osm", "saved", "rules")]
    files = [Path(p) for p in files if isinstance(p, str | os.PathLike)]
    files += [Path(p) for p in config["facilities"]["osm"]]
    files += [Path(t["path"]) for t in config["facilities"]["tables"]]
    files.append(Path(config["units"]["path"]))
    files += [
        Path(config["population"][k])
        for k in ("raster", "points")
        if k in config.get("population", {})
    ]
    if config["profile"] not in list_profiles():
        files.append(Path(config["profile"]))
    return files


def sample_config(out: str | os.PathLike = "out/demo") -> dict:
    """Return the run config of the embedded sample (what ``lifecircle demo`` runs).

    Parameters
    ----------
    out : str or path-like
        Output folder.

    Returns
    -------
    dict
        A config for :func:`run`: the sample's OSM extract (network and facilities), its
        GCJ-02 facility table, units and population raster (see
        :func:`lifecircle_geo.datasets.get_path`).

    Examples
    --------
    >>> sorted(sample_config())
    ['facilities', 'network', 'out', 'population', 'units']
    """
    from .datasets import get_path

    folder = get_path("sample")
    return {
        "out": Path(out),
        "network": {"osm": folder / "sample.osm"},
        "facilities": {
            "osm": [folder / "sample.osm"],
            "tables": [{"path": folder / "facilities_gcj02.xlsx", "coords": "gcj02"}],
        },
        "units": {"path": folder / "units.geojson"},
        "population": {"raster": folder / "population.tif"},
    }


def config_help() -> str:
    """Every config key with a one-line description (the epilog of ``lifecircle run --help``).

    Returns
    -------
    str

    Examples
    --------
    >>> print(config_help().splitlines()[0])
    A run config is a TOML file; paths are relative to it. Keys:
    """
    defaults = {
        name: p.default
        for name, p in inspect.signature(analyze).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    lines = ["A run config is a TOML file; paths are relative to it. Keys:"]
    for section, keys in SCHEMA.items():
        head = {"": "top level", "facilities.tables": "[[facilities.tables]]  (one per table)"}
        head = head.get(section, f"[{section}]")
        lines.append("")
        lines.append(head)
        for k in keys:
            if k.kind == "table":
                continue
            text = k.help
            if not section and k.name in ANALYZE_KEYS and defaults.get(k.name) is not None:
                value = defaults[k.name]
                value = str(value).lower() if isinstance(value, bool) else value
                text += f" (default {value})"
            if k.kind == "mapping":
                fields = (
                    lc_units.UNIT_COLUMNS if section == "units" else lc_facilities.HEADER_ALIASES
                )
                text += f"; fields: {', '.join(fields)}"
            lines.append(f"  {k.name:19s} {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- running
@dataclass(frozen=True)
class Area:
    """The part of a config's units that one run analyses (a batch task).

    Attributes
    ----------
    unit_ids : tuple of str
        The units to analyse.
    boundary : shapely.Geometry
        Their union, WGS-84.
    buffer_m : float
        The network and the facilities are clipped to ``boundary`` plus this buffer, so walks
        that cross the boundary and facilities just outside it still count.
    """

    unit_ids: tuple[str, ...]
    boundary: Any
    buffer_m: float = 1000.0

    def buffered(self) -> Any:
        """``boundary`` buffered by ``buffer_m`` metres (in its local UTM zone), WGS-84."""
        c = self.boundary.centroid
        utm = lc_crs.local_utm_crs(c.x, c.y)
        return (
            gpd.GeoSeries([self.boundary], crs=4326)
            .to_crs(utm)
            .buffer(self.buffer_m)
            .to_crs(4326)
            .iloc[0]
        )


@dataclass
class Inputs:
    """What :func:`build_inputs` reads: the arguments of :func:`lifecircle_geo.analyze`.

    Attributes
    ----------
    network : WalkNetwork
    facilities : GeoDataFrame
        All facility sources merged (WGS-84).
    units : GeoDataFrame
    population : GeoDataFrame or None
        Resident points; None: ``analyze`` spreads the units' ``population`` column.
    """

    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    population: gpd.GeoDataFrame | None


def read_units(config: dict) -> gpd.GeoDataFrame:
    """Read the units of a checked config, with its column mapping applied.

    Parameters
    ----------
    config : dict
        A config returned by :func:`load_config`.

    Returns
    -------
    GeoDataFrame
        See :func:`lifecircle_geo.units.load`.
    """
    u = config["units"]
    try:  # the same file, unchanged, with the same options: the last read's copy
        st = Path(u["path"]).stat()
        key = (
            str(Path(u["path"]).resolve()),
            st.st_size,
            st.st_mtime_ns,
            repr([u.get("layer"), u.get("columns"), u.get("strict", False)]),
        )
    except (OSError, TypeError):
        key = None
    if key is not None and _LAST_UNITS and _LAST_UNITS[0] == key:
        return _LAST_UNITS[1].copy()
    units = lc_units.load(
        u["path"], layer=u.get("layer"), columns=u.get("columns"), strict=u.get("strict", False)
    )
    _LAST_UNITS[:] = [key, units.copy()] if key is not None else []
    return units


#: ``[key, units]`` of the last :func:`read_units` (a batch's plan and city read ask in turn).
_LAST_UNITS: list[Any] = []


def _assign_within_m(config: dict) -> float:
    if "assign_within_m" in config:
        return float(config["assign_within_m"])
    return float(inspect.signature(analyze).parameters["assign_within_m"].default)


def unit_of_points(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, within_m: float) -> pd.Series:
    """Return the unit of every point: the one it lies in, else the nearest within ``within_m``.

    Both layers in the same metric CRS; a point in no unit and farther than ``within_m`` from
    every unit gets NaN. This is the one rule that assigns residents to units (an area's
    residents in :func:`build_inputs`, a batch task's in :mod:`lifecircle_geo.batch`).

    Parameters
    ----------
    points, units : GeoDataFrame
        Resident points and units (``unit_id``), in one metric CRS.
    within_m : float
        Points outside every unit but this close to one (raster cells straddling an edge)
        belong to the nearest.

    Returns
    -------
    Series
        ``unit_id`` per point, indexed like ``points``.
    """
    owner = gpd.sjoin(
        points[["geometry"]], units[["unit_id", "geometry"]], predicate="within", how="left"
    )
    owner = owner[~owner.index.duplicated(keep="first")]["unit_id"]
    outside = owner.isna()
    if outside.any() and within_m > 0:
        near = gpd.sjoin_nearest(
            points.loc[outside, ["geometry"]],
            units[["unit_id", "geometry"]],
            how="left",
            max_distance=within_m,
        )
        near = near[~near.index.duplicated(keep="first")]["unit_id"]
        owner.loc[near.index] = near
    return owner.reindex(points.index)


def _residents_of(
    area: Area, pop: gpd.GeoDataFrame, all_units: gpd.GeoDataFrame, within_m: float
) -> gpd.GeoDataFrame:
    """Keep the resident points of ``area``.

    Those inside its units or (edge cells) nearest to one of them among all units, so no
    resident counts in two areas.
    """
    c = area.boundary.centroid
    metric = lc_crs.local_utm_crs(c.x, c.y)
    owner = unit_of_points(pop.to_crs(metric), all_units.to_crs(metric), within_m)
    return pop[owner.isin(set(area.unit_ids)).to_numpy()]


def read_residents(config: dict) -> gpd.GeoDataFrame | None:
    """Read a checked config's resident points: its ``[population]`` raster or points.

    Parameters
    ----------
    config : dict
        From :func:`load_config`.

    Returns
    -------
    GeoDataFrame or None
        Resident points with ``population`` (and ``population_<group>``); None for
        ``totals`` (spread over the network by :func:`build_inputs`) or no population table.

    Raises
    ------
    InputError
        Naming the file that could not be read.
    """
    p_cfg = config["population"]
    groups = p_cfg.get("groups")
    if "raster" in p_cfg:
        return lc_population.from_raster(p_cfg["raster"], band=p_cfg.get("band", 1), groups=groups)
    if "points" in p_cfg:
        try:
            points = gpd.read_file(p_cfg["points"])
        except Exception as exc:
            raise InputError(
                f"{p_cfg['points']}: could not be read as a vector file ({exc})"
            ) from None
        try:
            return lc_population.from_points(points, column=p_cfg["column"], groups=groups)
        except InputError as exc:
            raise InputError(f"{p_cfg['points']}: {exc}") from None
    return None


def build_inputs(config: str | os.PathLike | dict, *, area: Area | None = None) -> Inputs:
    """Read a config's units, network, facilities and residents.

    Parameters
    ----------
    config : str, path-like or dict
        A run config (see :func:`load_config`).
    area : Area, optional
        Only these units: the network (built at the run's walking speed: ``walk_speed_kmh``,
        else the profile's) is built within ``area.boundary`` plus
        ``area.buffer_m`` (a ``saved`` network is used whole), facilities outside that are
        dropped, and residents are those of the area's units.

    Returns
    -------
    Inputs

    Raises
    ------
    LifecircleError
        Bad input; the message names the file.
    """
    cfg = load_config(config)
    all_units = read_units(cfg)
    units = all_units
    if area is not None:
        units = all_units[all_units["unit_id"].astype(str).isin(set(area.unit_ids))]
        if units.empty:
            raise InputError(f"{cfg['units']['path']}: none of the units {area.unit_ids[:10]}")
    net_cfg = cfg["network"]
    if "osm" in net_cfg:
        clip = {}
        if area is not None:
            clip = {"boundary": area.boundary, "boundary_crs": 4326, "buffer_m": area.buffer_m}
        # built at the run's walking speed (ferry waits are costed when the network is built)
        speed = cfg.get("walk_speed_kmh", load_profile(cfg["profile"]).walk_speed_kmh)
        net = WalkNetwork.from_osm(
            net_cfg["osm"],
            crs=net_cfg.get("crs"),
            rules=net_cfg.get("rules"),
            walk_speed_kmh=float(speed),
            **clip,
        )
    else:
        net = WalkNetwork.load(net_cfg["saved"])
    keep = area.buffered() if area is not None else None
    osm = [lc_facilities.from_osm(p, profile=cfg["profile"]) for p in cfg["facilities"]["osm"]]
    if keep is not None:
        osm = [t[t.geometry.intersects(keep)] for t in osm]
    pop = read_residents(cfg)
    if area is not None and pop is not None and "totals" not in cfg["population"]:
        pop = _residents_of(area, pop, all_units, _assign_within_m(cfg))
    return complete_inputs(cfg, net, units, osm, pop, keep)


def complete_inputs(
    cfg: dict,
    net: WalkNetwork,
    units: gpd.GeoDataFrame,
    osm_facilities: list[gpd.GeoDataFrame],
    population: gpd.GeoDataFrame | None,
    keep: Any = None,
) -> Inputs:
    """Return the inputs of a run whose network, OSM facilities and residents are read.

    One place for what a run and a batch task (:mod:`lifecircle_geo.batch`) do alike: units
    clipped to the network (``[units] clip_to_network``), the planners' facility tables read
    (those outside ``keep`` dropped) and merged with ``osm_facilities``, and residents from
    ``[population] totals`` when the config gives totals.

    Parameters
    ----------
    cfg : dict
        A loaded config (:func:`load_config`).
    net : WalkNetwork
    units : GeoDataFrame
        The run's units.
    osm_facilities : list of GeoDataFrame
        The OSM facility tables, already cut to the run's area.
    population : GeoDataFrame or None
        The run's resident points (ignored with ``[population] totals``).
    keep : shapely geometry, optional
        The run's buffered area (WGS-84): table facilities outside it are dropped.

    Returns
    -------
    Inputs

    Raises
    ------
    InputError
        No unit overlaps the street data, or bad facility tables or totals (the file named).
    """
    if cfg["units"].get("clip_to_network"):
        units = clip_units(units, net)
        if units.empty:
            raise InputError(f"{cfg['units']['path']}: no unit overlaps the street data")
    profile = cfg["profile"]
    tables = list(osm_facilities)
    for t in cfg["facilities"]["tables"]:
        tab = lc_facilities.from_table(
            t["path"],
            coords=t["coords"],
            profile=profile,
            columns=t.get("columns"),
            sheet=t.get("sheet"),
            net=net,
        )
        tables.append(tab if keep is None else tab[tab.geometry.intersects(keep)])
    fac = lc_facilities.merge(*tables)
    p_cfg = cfg["population"]
    pop = population
    if "totals" in p_cfg:
        try:
            pop = lc_population.from_totals(
                units, net, column=p_cfg["totals"], groups=p_cfg.get("groups")
            )
        except InputError as exc:
            raise InputError(f"{cfg['units']['path']}: [population] totals: {exc}") from None
    return Inputs(network=net, facilities=fac, units=units, population=pop)


def analyze_inputs(
    config: str | os.PathLike | dict, inputs: Inputs, *, progress: bool | None = None
) -> AnalysisResult:
    """:func:`lifecircle_geo.analyze` of ``inputs`` with the config's profile and options.

    Parameters
    ----------
    config : str, path-like or dict
        A run config (see :func:`load_config`); its :data:`ANALYZE_KEYS` that are set are
        passed on.
    inputs : Inputs
        From :func:`build_inputs`.
    progress : bool, optional
        tqdm progress bars (default ``settings.progress``).

    Returns
    -------
    AnalysisResult
    """
    cfg = load_config(config)
    options = {k: cfg[k] for k in ANALYZE_KEYS if k in cfg}
    complete = (cfg.get("facilities") or {}).get("complete")
    if complete is not None:
        options["complete"] = complete
    shares = (cfg.get("population") or {}).get("group_shares")
    if shares is not None:
        options["group_shares"] = shares
    for name in ("previous", "needs"):
        if name in cfg:
            options[name] = cfg[name]
    if "spaces" in cfg:
        try:
            options["spaces"] = gpd.read_file(cfg["spaces"])
        except Exception as exc:
            raise InputError(
                f"{cfg['spaces']}: could not be read as a vector file ({exc})"
            ) from None
    return analyze(
        inputs.network,
        inputs.facilities,
        inputs.units,
        population=inputs.population,
        profile=cfg["profile"],
        progress=progress,
        **options,
    )


def run(
    config: str | os.PathLike | dict,
    out: str | os.PathLike | None = None,
    *,
    area: Area | None = None,
    write: bool = True,
    outputs: Collection[str] | None = None,
    progress: bool | None = None,
) -> tuple[AnalysisResult, dict[str, Any]]:
    """Run a config: build the inputs, analyse them and write the outputs.

    Parameters
    ----------
    config : str, path-like or dict
        A run config (see :func:`load_config`); checked before any work.
    out : str or path-like, optional
        Output folder (default: the config's ``out``).
    area : Area, optional
        Only these units (a batch task; see :func:`build_inputs`).
    write : bool
        Write the project database, project list, map and figures.
    outputs : collection of str, optional
        Which outputs to write (``lifecircle_geo.report.OUTPUTS``); default all.
    progress : bool, optional
        tqdm progress bars (default ``settings.progress``).

    Returns
    -------
    (AnalysisResult, dict)
        The result and the files written (see :meth:`AnalysisResult.write`; empty when
        ``write`` is False).

    Raises
    ------
    LifecircleError
        Bad config or input; nothing is written then.

    Examples
    --------
    >>> result, files = run(sample_config(), write=False, progress=False)  # doctest: +SKIP
    >>> result.meta["n_units"]  # doctest: +SKIP
    5
    """
    cfg = load_config(config)
    target = Path(out) if out is not None else cfg["out"]
    if write:  # an unwritable output folder fails now, not after the analysis
        from .cli import check_out_folder

        check_out_folder(target)
    inputs = build_inputs(cfg, area=area)
    result = analyze_inputs(cfg, inputs, progress=progress)
    files = result.write(target, outputs=outputs) if write else {}
    return result, files
