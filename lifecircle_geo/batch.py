"""Batch runs: the same pipeline over many 街镇 (or districts), resumable, local or on Dask.

A batch run splits the units of a run config (see the README, "A run config") by
``jiezhen_code`` (or ``district_code``) into :class:`Task` s. Each task builds its own walk
network clipped to its units plus a buffer (1,000 m by default, so walks that cross the
boundary and facilities just outside it still count), analyses its units with
:func:`lifecircle_geo.analyze` and writes the usual outputs to ``out/<by>/<key>/`` plus a small
``coverage.csv`` and ``summary.json``. Tasks run in-process (``"sync"``), in local processes
(``"local"``, :class:`concurrent.futures.ProcessPoolExecutor`) or on Dask distributed
(``"dask"`` for a :class:`dask.distributed.LocalCluster`, or a scheduler address).

Resuming: ``out/manifest.json`` records every task's status (``done`` / ``failed``), error
text, seconds and an input fingerprint (a hash of the task's config, its units, the sizes and
modification times of the shared input files, the settings that change results and the
package version). It is rewritten atomically after each task. A rerun skips tasks that are
done with the same fingerprint and whose output files are still there, and runs failed,
changed or missing ones; ``restart=True`` ignores the manifest.

After the tasks, the coverage of every finished task is rolled up into
``out/city_coverage.xlsx`` (bilingual headers) and ``out/city_summary.csv`` (UTF-8): per 街镇 ×
category and district × category, recomputed from population sums.

Config: the run TOML plus an optional ``[batch]`` table::

    [batch]
    by = "jiezhen_code"      # or "district_code"
    buffer_m = 1000          # network and facilities clipped to the units + this buffer
    keys = ["310105099"]     # optional subset of keys

Only ``[network] osm = ...`` is clipped per task; a ``saved`` network is used whole.
Paths must be readable by every worker (a shared filesystem for a remote Dask cluster).

Examples
--------
>>> from lifecircle_geo import batch
>>> tasks = batch.plan("city.toml")  # doctest: +SKIP
>>> [t.key for t in tasks]  # doctest: +SKIP
['310105098', '310105099']
>>> res = batch.run("city.toml", "out/city", scheduler="local", workers=4)  # doctest: +SKIP
>>> res.ok, res.done, res.skipped, res.failed  # doctest: +SKIP
(True, ['310105098', '310105099'], [], {})
>>> res = batch.run("city.toml", "out/city")  # a rerun recomputes nothing  # doctest: +SKIP
>>> res.skipped  # doctest: +SKIP
['310105098', '310105099']
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import __version__
from .errors import InputError, LifecircleError
from .settings import settings

__all__ = [
    "BY",
    "OUTPUT_FILES",
    "BatchResult",
    "Task",
    "TaskResult",
    "load_config",
    "plan",
    "rollup",
    "run",
    "run_task",
]

log = logging.getLogger(__name__)

#: Columns a batch can be split by.
BY = ("jiezhen_code", "district_code")
#: Files every finished task folder holds (besides figures).
OUTPUT_FILES = (
    "project_database.gpkg",
    "project_list.xlsx",
    "map.html",
    "coverage.csv",
    "summary.json",
)
#: Settings that change results; a task carries them to its worker.
_SETTINGS = ("walk_speed_kmh", "search_cutoff_m", "max_snap_m")
#: A resident point outside every unit but this close to one counts for it (as in ``analyze``).
_ASSIGN_WITHIN_M = 100.0
_MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------- config
def load_config(config: str | os.PathLike | dict) -> dict:
    """Read a run config (TOML path or dict) into a dict with absolute paths.

    Parameters
    ----------
    config : str, path-like or dict
        A TOML file (relative paths are relative to it) or an already parsed dict (relative
        paths are relative to its ``"base"`` key, default the working directory).

    Returns
    -------
    dict
        Keys ``profile``, ``area_type``, ``out`` (Path), ``network`` (``osm`` or ``saved``
        Path, ``crs``), ``facility_osm`` (list of Path), ``facility_tables`` (list of dict with
        ``path``), ``units`` (Path), ``population`` (Path or None) and ``batch`` (``by``,
        ``buffer_m``, ``keys``).

    Raises
    ------
    LifecircleError
        Missing or invalid file, missing tables or keys, an unknown ``[batch] by``.

    Examples
    --------
    >>> cfg = load_config({"network": {"osm": "data/sample/sample.osm"},
    ...                    "units": {"path": "data/sample/units.geojson"}})
    >>> cfg["batch"]
    {'by': 'jiezhen_code', 'buffer_m': 1000.0, 'keys': None}
    """
    if isinstance(config, dict):
        cfg = dict(config)
        base = Path(cfg.pop("base", ".")).absolute()
        where = "config"
    else:
        path = Path(config)
        try:
            cfg = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LifecircleError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise LifecircleError(f"config file {path} is not valid TOML: {exc}") from None
        base = path.absolute().parent
        where = str(path)

    def rel(p: str | os.PathLike) -> Path:
        q = Path(p)
        return q if q.is_absolute() else base / q

    for key in ("network", "units"):
        if key not in cfg:
            raise LifecircleError(f"{where}: missing [{key}] table")
    net_cfg = cfg["network"]
    if "osm" in net_cfg:
        network = {"osm": rel(net_cfg["osm"]), "crs": net_cfg.get("crs")}
    elif "saved" in net_cfg:
        network = {"saved": rel(net_cfg["saved"]), "crs": net_cfg.get("crs")}
    else:
        raise LifecircleError(f"{where}: [network] needs 'osm' or 'saved'")
    fac_cfg = cfg.get("facilities", {})
    fac_osm = fac_cfg.get("osm", [net_cfg["osm"]] if "osm" in net_cfg else [])
    if isinstance(fac_osm, str):
        fac_osm = [fac_osm]
    tables = [
        {"path": rel(t["path"]), "coords": t.get("coords", "wgs84"), "columns": t.get("columns")}
        for t in fac_cfg.get("tables", [])
    ]
    if "path" not in cfg["units"]:
        raise LifecircleError(f"{where}: [units] needs 'path'")
    pop_cfg = cfg.get("population", {})
    b = cfg.get("batch", {})
    by = b.get("by", "jiezhen_code")
    if by not in BY:
        raise LifecircleError(f"{where}: [batch] by = {by!r}; expected one of {list(BY)}")
    keys = b.get("keys")
    return {
        "profile": cfg.get("profile", "shanghai-2025"),
        "area_type": cfg.get("area_type"),
        "out": rel(cfg.get("out", "out")),
        "network": network,
        "facility_osm": [rel(p) for p in fac_osm],
        "facility_tables": tables,
        "units": rel(cfg["units"]["path"]),
        "population": rel(pop_cfg["raster"]) if "raster" in pop_cfg else None,
        "batch": {
            "by": by,
            "buffer_m": float(b.get("buffer_m", 1000.0)),
            "keys": [str(k) for k in keys] if keys is not None else None,
        },
    }


# ---------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """One piece of a batch: the units of one 街镇 (or district) and the shared inputs.

    Attributes
    ----------
    key : str
        The ``jiezhen_code`` (or ``district_code``) of its units.
    by : str
        ``"jiezhen_code"`` or ``"district_code"``.
    unit_ids : tuple of str
        Its units (a filter on the units file).
    boundary : shapely.Geometry
        Union of its units, WGS-84.
    inputs : dict
        Shared inputs: ``network``, ``facility_osm``, ``facility_tables``, ``units``,
        ``population`` (absolute paths), ``profile``, ``area_type``, ``buffer_m`` and the
        ``settings`` that change results.
    units_hash : str
        Hash of its units' rows and of every unit's geometry (resident points near a unit edge
        may belong to a neighbour), so an edit elsewhere does not rerun this task.

    Examples
    --------
    >>> tasks = plan("city.toml")  # doctest: +SKIP
    >>> tasks[0].folder("out/city")  # doctest: +SKIP
    PosixPath('out/city/jiezhen_code/310105098')
    """

    key: str
    by: str
    unit_ids: tuple[str, ...]
    boundary: Any
    inputs: dict
    units_hash: str = ""

    def folder(self, out_root: str | os.PathLike) -> Path:
        """The task's output folder ``out_root/<by>/<key>``."""
        return Path(out_root) / self.by / _safe_name(self.key)

    def fingerprint(self) -> str:
        """Hash of everything the task's result depends on (see the module docstring)."""
        files = [
            self.inputs["units"],
            *self.inputs["facility_osm"],
            *[t["path"] for t in self.inputs["facility_tables"]],
            *[p for p in self.inputs["network"].values() if isinstance(p, Path)],
        ]
        if self.inputs.get("population"):
            files.append(self.inputs["population"])
        stats = {}
        for p in files:
            if Path(p) == Path(self.inputs["units"]):
                continue  # its content is in units_hash
            try:
                st = Path(p).stat()
                stats[str(p)] = [st.st_size, st.st_mtime_ns]
            except OSError:
                stats[str(p)] = None
        doc = {
            "key": self.key,
            "by": self.by,
            "unit_ids": list(self.unit_ids),
            "units_hash": self.units_hash,
            "boundary": shapely.to_wkb(self.boundary).hex(),
            "inputs": _plain(self.inputs),
            "files": stats,
            "version": __version__,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


@dataclass
class TaskResult:
    """What :func:`run_task` returns.

    Attributes
    ----------
    key : str
    status : {"done", "failed", "skipped"}
    seconds : float
    folder : Path
    error : str or None
        ``"<by>=<key>: <ErrorType>: <message>"`` for a failed task; the message names the input.
    summary : dict
        What ``summary.json`` holds (done tasks).
    """

    key: str
    status: str
    seconds: float
    folder: Path
    error: str | None = None
    summary: dict = field(default_factory=dict)


def _safe_name(key: str) -> str:
    name = re.sub(r"[\\/:*?\"<>|\s]+", "_", str(key)).strip("._")
    return name or "_"


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _units_hash(units: gpd.GeoDataFrame, rows: pd.DataFrame, all_geom: str) -> str:
    cols = [c for c in units.columns if c != "geometry"]
    h = hashlib.sha256(all_geom.encode())
    h.update(pd.DataFrame(rows[cols]).astype(str).to_csv(index=False).encode())
    for g in rows.geometry:
        h.update(shapely.to_wkb(g))
    return h.hexdigest()[:20]


def plan(
    config: str | os.PathLike | dict,
    *,
    by: str | None = None,
    keys: list[str] | None = None,
    buffer_m: float | None = None,
) -> list[Task]:
    """Split a run config's units into tasks, one per ``jiezhen_code`` (or ``district_code``).

    Parameters
    ----------
    config : str, path-like or dict
        Run config (see :func:`load_config`).
    by, keys, buffer_m : optional
        Override the config's ``[batch]`` table.

    Returns
    -------
    list of Task
        Sorted by key.

    Raises
    ------
    InputError
        Units without a code to split by, or requested keys that no unit has.

    Examples
    --------
    >>> tasks = plan({"network": {"osm": "data/sample/sample.osm"},
    ...               "units": {"path": "data/sample/units.geojson"}})
    >>> [(t.key, len(t.unit_ids)) for t in tasks]
    [('310105099', 5)]
    """
    from . import units as lc_units

    cfg = load_config(config)
    b = cfg["batch"]
    by = by or b["by"]
    if by not in BY:
        raise InputError(f"by={by!r}; expected one of {list(BY)}")
    keys = keys if keys is not None else b["keys"]
    buffer_m = float(buffer_m if buffer_m is not None else b["buffer_m"])
    units = lc_units.load(cfg["units"]).to_crs(4326)
    codes = units[by].astype(str).str.strip()
    if (codes == "").any():
        bad = units.loc[codes == "", "unit_id"].head(10).tolist()
        raise InputError(
            f"{cfg['units']}: {int((codes == '').sum())} units have no {by} "
            f"(e.g. {bad}); every unit needs one for a batch run by {by}"
        )
    wanted = sorted(codes.unique())
    if keys is not None:
        missing = sorted(set(map(str, keys)) - set(wanted))
        if missing:
            raise InputError(
                f"{cfg['units']}: no unit has {by} in {missing} (known: {wanted[:20]})"
            )
        wanted = sorted(set(map(str, keys)))
    inputs = {
        k: cfg[k]
        for k in (
            "network",
            "facility_osm",
            "facility_tables",
            "units",
            "population",
            "profile",
            "area_type",
        )
    }
    inputs["buffer_m"] = buffer_m
    inputs["settings"] = {k: getattr(settings, k) for k in _SETTINGS}
    all_geom = hashlib.sha256(b"".join(shapely.to_wkb(g) for g in units.geometry)).hexdigest()
    tasks = []
    for key in wanted:
        rows = units[codes == key]
        tasks.append(
            Task(
                key=key,
                by=by,
                unit_ids=tuple(rows["unit_id"].astype(str)),
                boundary=shapely.union_all(rows.geometry.to_numpy()),
                inputs=inputs,
                units_hash=_units_hash(units, rows, all_geom),
            )
        )
    log.info("planned %d tasks by %s", len(tasks), by)
    return tasks


# ---------------------------------------------------------------------------- one task
@contextlib.contextmanager
def _task_settings(values: dict) -> Iterator[None]:
    old = {k: getattr(settings, k) for k in (*values, "progress")}
    try:
        for k, v in values.items():
            setattr(settings, k, v)
        settings.progress = False
        yield
    finally:
        for k, v in old.items():
            setattr(settings, k, v)


def _buffered(boundary, buffer_m: float):
    """``boundary`` (WGS-84) buffered by ``buffer_m`` metres, back in WGS-84."""
    from .crs import local_utm_crs

    c = boundary.centroid
    utm = local_utm_crs(c.x, c.y)
    return gpd.GeoSeries([boundary], crs=4326).to_crs(utm).buffer(buffer_m).to_crs(4326).iloc[0]


def _task_population(task: Task, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Resident points of the task: inside its units, or (edge cells) nearest to one of them
    among all units, so no resident counts in two tasks."""
    from . import population as lc_population
    from .crs import local_utm_crs

    pop = lc_population.from_raster(task.inputs["population"])
    c = task.boundary.centroid
    metric = local_utm_crs(c.x, c.y)
    units = units.to_crs(metric)
    pts = pop.to_crs(metric)
    owner = gpd.sjoin(
        pts[["geometry"]], units[["unit_id", "geometry"]], predicate="within", how="left"
    )
    owner = owner[~owner.index.duplicated(keep="first")]["unit_id"]
    outside = owner.isna()
    if outside.any():
        near = gpd.sjoin_nearest(
            pts.loc[outside, ["geometry"]],
            units[["unit_id", "geometry"]],
            how="left",
            max_distance=_ASSIGN_WITHIN_M,
        )
        near = near[~near.index.duplicated(keep="first")]["unit_id"]
        owner.loc[near.index] = near
    keep = owner.isin(set(task.unit_ids)).to_numpy()
    return pop[keep]


def run_task(task: Task, out_root: str | os.PathLike) -> TaskResult:
    """Run one task and write its outputs to ``out_root/<by>/<key>/``.

    Builds the walk network clipped to the task's boundary plus ``buffer_m``, reads the
    facilities within the same area, the task's units and residents, runs
    :func:`lifecircle_geo.analyze` and writes the project database, project list, map and
    figures, then ``coverage.csv`` (unit × category, UTF-8) and ``summary.json`` (written last:
    it marks the folder complete). A pure function of its inputs.

    Parameters
    ----------
    task : Task
    out_root : str or path-like
        The batch's output folder.

    Returns
    -------
    TaskResult
        Status ``"done"``; errors are raised (use :func:`run` to record them instead).

    Raises
    ------
    LifecircleError
        Bad input; the message names the file.

    Examples
    --------
    >>> res = run_task(plan("city.toml")[0], "out/city")  # doctest: +SKIP
    >>> res.status, res.folder.name  # doctest: +SKIP
    ('done', '310105098')
    """
    import lifecircle_geo as lc

    from .report._util import atomic_path, json_text

    t0 = time.perf_counter()
    inp = task.inputs
    folder = task.folder(out_root)
    with _task_settings(inp["settings"]):
        net_cfg = inp["network"]
        if "osm" in net_cfg:
            net = lc.WalkNetwork.from_osm(
                net_cfg["osm"],
                crs=net_cfg.get("crs"),
                boundary=task.boundary,
                boundary_crs=4326,
                buffer_m=inp["buffer_m"],
            )
        else:
            net = lc.WalkNetwork.load(net_cfg["saved"])
        area = _buffered(task.boundary, inp["buffer_m"])
        tables = [lc.facilities.from_osm(p, profile=inp["profile"]) for p in inp["facility_osm"]]
        tables += [
            lc.facilities.from_table(
                t["path"],
                coords=t["coords"],
                profile=inp["profile"],
                columns=t.get("columns"),
                net=net,
            )
            for t in inp["facility_tables"]
        ]
        tables = [t[t.geometry.intersects(area)] for t in tables]
        if not tables:
            raise InputError(f"{task.by}={task.key}: the config names no facility source")
        fac = lc.facilities.merge(*tables)
        all_units = lc.units.load(inp["units"])
        units = all_units[all_units["unit_id"].astype(str).isin(set(task.unit_ids))]
        pop = _task_population(task, all_units) if inp.get("population") else None
        result = lc.analyze(
            net,
            fac,
            units,
            population=pop,
            profile=inp["profile"],
            area_type=inp["area_type"],
            progress=False,
        )
        files = result.write(folder)
        cov = pd.DataFrame(result.coverage)
        with atomic_path(folder / "coverage.csv") as tmp:
            cov.to_csv(tmp, index=False, encoding="utf-8")
        seconds = round(time.perf_counter() - t0, 3)
        summary = {
            "key": task.key,
            "by": task.by,
            "fingerprint": task.fingerprint(),
            "n_units": len(units),
            "population": float(result.meta["population"]),
            "n_facilities": int(result.meta["n_facilities"]),
            "n_network_nodes": len(net.x_m),
            "buffer_m": inp["buffer_m"],
            "seconds": seconds,
            "warnings": result.meta.get("warnings", []),
            "files": {
                k: [Path(p).name for p in v] if isinstance(v, list) else Path(v).name
                for k, v in files.items()
            },
            "lifecircle_geo_version": __version__,
        }
        with atomic_path(folder / "summary.json") as tmp:
            tmp.write_text(json_text(summary, indent=2), encoding="utf-8")
    log.info("%s=%s done in %.1f s", task.by, task.key, seconds)
    return TaskResult(task.key, "done", seconds, folder, summary=summary)


def _run_task_safe(task: Task, out_root: str | os.PathLike) -> TaskResult:
    """:func:`run_task`, with any error turned into a failed :class:`TaskResult`."""
    t0 = time.perf_counter()
    try:
        return run_task(task, out_root)
    except Exception as exc:  # one task failing must not stop the others
        if not isinstance(exc, LifecircleError):
            log.debug("task %s failed:\n%s", task.key, traceback.format_exc())
        return TaskResult(
            task.key,
            "failed",
            round(time.perf_counter() - t0, 3),
            task.folder(out_root),
            error=_error_text(task, exc),
        )


def _error_text(task: Task, exc: BaseException) -> str:
    return f"{task.by}={task.key}: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------- manifest
def _read_manifest(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable manifest %s (%s)", path, exc)
        return {}
    return doc.get("tasks", {}) if isinstance(doc, dict) else {}


def _write_manifest(path: Path, entries: dict, by: str) -> None:
    from .report._util import atomic_path, json_text

    doc = {
        "lifecircle_geo_version": __version__,
        "by": by,
        "updated": _now(),
        "tasks": dict(sorted(entries.items())),
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(doc, indent=2), encoding="utf-8")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _is_done(task: Task, entry: dict | None, out: Path) -> bool:
    if not entry or entry.get("status") != "done":
        return False
    if entry.get("fingerprint") != task.fingerprint():
        return False
    folder = task.folder(out)
    return all((folder / name).exists() for name in OUTPUT_FILES)


# ---------------------------------------------------------------------------- run
@dataclass
class BatchResult:
    """What :func:`run` returns.

    Attributes
    ----------
    out : Path
        The batch's output folder.
    tasks : dict
        key → :class:`TaskResult` of every planned task (skipped ones with status
        ``"skipped"``).
    done, skipped : list of str
        Keys run now, keys skipped (done earlier with the same fingerprint).
    failed : dict
        key → error text.
    city_summary : DataFrame
        Per 街镇 × category and district × category (see :func:`rollup`).
    files : dict
        ``manifest``, ``city_coverage`` (.xlsx) and ``city_summary`` (.csv) paths.
    """

    out: Path
    tasks: dict[str, TaskResult]
    done: list[str]
    skipped: list[str]
    failed: dict[str, str]
    city_summary: pd.DataFrame
    files: dict[str, Path]

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return not self.failed


def run(
    config: str | os.PathLike | dict,
    out: str | os.PathLike | None = None,
    *,
    scheduler: str = "local",
    workers: int | None = None,
    restart: bool = False,
    progress: bool | None = None,
    tasks: list[Task] | None = None,
) -> BatchResult:
    """Run every task of ``config``, resumably, then roll the coverage up to the city.

    Parameters
    ----------
    config : str, path-like or dict
        Run config with an optional ``[batch]`` table (see the module docstring).
    out : str or path-like, optional
        Output folder; default the config's ``out``.
    scheduler : str
        ``"local"`` (processes), ``"dask"`` (a new ``LocalCluster``, one thread per worker
        process), a Dask scheduler address (``"tcp://host:8786"``), or ``"sync"`` (in this
        process, for debugging).
    workers : int, optional
        Worker processes (default: CPU count, at most the number of tasks).
    restart : bool
        Ignore the manifest and run every task again.
    progress : bool, optional
        tqdm bar over tasks (default ``settings.progress``).
    tasks : list of Task, optional
        Already planned tasks (default ``plan(config)``).

    Returns
    -------
    BatchResult
        Failed tasks are in ``failed`` (the others still run); ``ok`` is False then.

    Examples
    --------
    >>> res = run("city.toml", scheduler="dask", workers=8)  # doctest: +SKIP
    >>> res.files["city_summary"].name  # doctest: +SKIP
    'city_summary.csv'
    """
    cfg = load_config(config)
    out = Path(out) if out is not None else cfg["out"]
    out.mkdir(parents=True, exist_ok=True)
    tasks = plan(config) if tasks is None else tasks
    by = tasks[0].by if tasks else cfg["batch"]["by"]
    manifest_path = out / _MANIFEST
    entries = {} if restart else _read_manifest(manifest_path)
    results: dict[str, TaskResult] = {}
    todo: list[Task] = []
    for t in tasks:
        if not restart and _is_done(t, entries.get(t.key), out):
            e = entries[t.key]
            results[t.key] = TaskResult(
                t.key, "skipped", float(e.get("seconds", 0.0)), t.folder(out)
            )
        else:
            todo.append(t)
    skipped = [k for k, r in results.items() if r.status == "skipped"]
    if skipped:
        log.info("%d tasks already done with the same inputs: skipped", len(skipped))
    show = settings.progress if progress is None else progress
    bar = tqdm(
        total=len(tasks),
        initial=len(skipped),
        desc=f"tasks ({by})",
        unit="task",
        disable=not show or not todo,
    )

    def record(task: Task, res: TaskResult, started: str) -> None:
        results[task.key] = res
        entries[task.key] = {
            "status": res.status,
            "error": res.error,
            "seconds": res.seconds,
            "fingerprint": task.fingerprint(),
            "started": started,
            "finished": _now(),
            "folder": str(task.folder(out).relative_to(out)),
        }
        _write_manifest(manifest_path, entries, by)
        if res.status == "failed":
            log.error("task failed: %s", res.error)
        bar.update(1)

    try:
        if todo:
            _execute(todo, out, scheduler, workers, record)
    finally:
        bar.close()
    _write_manifest(manifest_path, entries, by)
    done = sorted(k for k, r in results.items() if r.status == "done")
    failed = {k: r.error or "failed" for k, r in sorted(results.items()) if r.status == "failed"}
    finished = [t for t in tasks if results[t.key].status in ("done", "skipped")]
    summary, files = rollup(out, finished, status=results)
    files["manifest"] = manifest_path
    if failed:
        log.error("%d of %d tasks failed: %s", len(failed), len(tasks), "; ".join(failed.values()))
    return BatchResult(
        out=out,
        tasks=results,
        done=done,
        skipped=sorted(skipped),
        failed=failed,
        city_summary=summary,
        files=files,
    )


def _execute(
    todo: list[Task],
    out: Path,
    scheduler: str,
    workers: int | None,
    record: Callable[[Task, TaskResult, str], None],
) -> None:
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    started = _now()
    if scheduler == "sync":
        for t in todo:
            s = _now()
            record(t, _run_task_safe(t, out), s)
    elif scheduler == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: no fork of a process that may hold threads (numba, tqdm, dask)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            futs = {pool.submit(_run_task_safe, t, out): t for t in todo}
            for f in as_completed(futs):
                t = futs[f]
                try:
                    res = f.result()
                except Exception as exc:  # a worker died (BrokenProcessPool, memory)
                    res = TaskResult(t.key, "failed", 0.0, t.folder(out), error=_error_text(t, exc))
                record(t, res, started)
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler == "dask":
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        else:
            client = Client(scheduler)
        try:
            futs = {}
            for t in todo:
                f = client.submit(
                    _run_task_safe,
                    t,
                    out,
                    pure=False,
                    key=f"lifecircle-{t.by}-{_safe_name(t.key)}-{time.time_ns()}",
                )
                futs[f] = t
            for f in as_completed(list(futs)):
                t = futs[f]
                try:
                    res = f.result()
                except Exception as exc:  # worker lost, killed, unpicklable result
                    res = TaskResult(t.key, "failed", 0.0, t.folder(out), error=_error_text(t, exc))
                record(t, res, started)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


# ---------------------------------------------------------------------------- roll-up
_ROLLUP_COLS = [
    "level",
    "district_code",
    "jiezhen_code",
    "jiezhen_name",
    "category",
    "name_zh",
    "name_en",
    "group",
    "tier_min",
    "target_share",
    "population",
    "covered_population",
    "share",
    "mean_walk_min",
    "reached_population",
    "meets_standard",
]


def _summarize_rows(cov: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Unit × category rows summed to ``keys`` × category: shares from population sums."""
    df = cov.copy()
    df["walk_x_reached"] = df["mean_walk_min"].fillna(0.0) * df["reached_population"]
    names = ["name_zh", "name_en", "group", "tier_min", "target_share"]
    g = df.groupby([*keys, "category"], sort=False, dropna=False)
    out = g.agg(
        population=("population", "sum"),
        covered_population=("covered_population", "sum"),
        reached_population=("reached_population", "sum"),
        walk_x_reached=("walk_x_reached", "sum"),
        **{c: (c, "first") for c in names},
    ).reset_index()
    pop = out["population"].to_numpy(dtype=float)
    out["share"] = np.divide(
        out["covered_population"].to_numpy(dtype=float), pop, out=np.zeros(len(out)), where=pop > 0
    )
    reached = out["reached_population"].to_numpy(dtype=float)
    out["mean_walk_min"] = np.divide(
        out["walk_x_reached"].to_numpy(dtype=float),
        reached,
        out=np.full(len(out), np.nan),
        where=reached > 0,
    )
    out["meets_standard"] = (out["share"] >= out["target_share"] - 1e-12) | (pop <= 0)
    return out.drop(columns="walk_x_reached")


def rollup(
    out: str | os.PathLike, tasks: list[Task], status: dict[str, TaskResult] | None = None
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Combine the finished tasks' ``coverage.csv`` into the city tables.

    Writes ``out/city_summary.csv`` (UTF-8 with BOM, for Excel) with one row per 街镇 ×
    category (``level = "jiezhen"``) and per district × category (``level = "district"``),
    and ``out/city_coverage.xlsx`` with bilingual headers: 街镇, district and unit coverage and
    the task list. Population, covered and reached population are sums; ``share`` is covered
    / population and ``mean_walk_min`` is weighted by reached population; the 90th percentile
    cannot be recomputed from unit rows and is left out.

    Parameters
    ----------
    out : str or path-like
        The batch's output folder.
    tasks : list of Task
        The finished tasks to combine.
    status : dict, optional
        key → :class:`TaskResult` of every task, for the task sheet.

    Returns
    -------
    (DataFrame, dict)
        The city summary and ``{"city_summary": Path, "city_coverage": Path}``.

    Examples
    --------
    >>> summary, files = rollup("out/city", plan("city.toml"))  # doctest: +SKIP
    >>> summary.groupby("level")["population"].sum().nunique()  # doctest: +SKIP
    1
    """
    from .report._util import atomic_path
    from .report.excel import _write_table

    status = status or {}
    out = Path(out)
    parts = []
    for t in tasks:
        p = t.folder(out) / "coverage.csv"
        if not p.exists():
            log.warning("%s=%s: %s is missing; left out of the city roll-up", t.by, t.key, p)
            continue
        parts.append(
            pd.read_csv(
                p,
                encoding="utf-8",
                dtype={
                    "unit_id": str,
                    "jiezhen_code": str,
                    "district_code": str,
                    "jiezhen_name": str,
                    "unit_name": str,
                },
                keep_default_na=False,
                na_values=[""],
            )
        )
    if parts:
        cov = pd.concat(parts, ignore_index=True)
        for c in ("jiezhen_code", "jiezhen_name", "district_code"):
            cov[c] = cov[c].fillna("")
    else:
        cov = pd.DataFrame(
            columns=[
                "district_code",
                "jiezhen_code",
                "jiezhen_name",
                "unit_id",
                "category",
                "name_zh",
                "name_en",
                "group",
                "tier_min",
                "target_share",
                "population",
                "covered_population",
                "reached_population",
                "mean_walk_min",
                "share",
                "meets_standard",
            ]
        )
    jz = _summarize_rows(cov, ["district_code", "jiezhen_code", "jiezhen_name"])
    jz.insert(0, "level", "jiezhen")
    dist = _summarize_rows(cov, ["district_code"])
    dist.insert(0, "level", "district")
    dist["jiezhen_code"] = ""
    dist["jiezhen_name"] = ""
    summary = pd.concat([jz, dist], ignore_index=True)[_ROLLUP_COLS]
    order = {c: i for i, c in enumerate(pd.unique(cov["category"]))}
    summary = summary.sort_values(
        ["level", "district_code", "jiezhen_code", "category"],
        key=lambda s: s.map(order) if s.name == "category" else s,
        ascending=[False, True, True, True],
        kind="stable",
    ).reset_index(drop=True)
    csv_path = out / "city_summary.csv"
    with atomic_path(csv_path) as tmp:
        summary.to_csv(tmp, index=False, encoding="utf-8-sig")
    task_rows = [
        {
            "key": t.key,
            "by": t.by,
            "n_units": len(t.unit_ids),
            "status": status[t.key].status if t.key in status else "done",
            "seconds": status[t.key].seconds if t.key in status else None,
            "error": status[t.key].error if t.key in status else None,
        }
        for t in tasks
    ]
    task_rows += [
        {
            "key": k,
            "by": None,
            "n_units": None,
            "status": r.status,
            "seconds": r.seconds,
            "error": r.error,
        }
        for k, r in status.items()
        if r.status == "failed"
    ]
    xlsx_path = out / "city_coverage.xlsx"
    sheets = [
        ("街镇覆盖 Sub-district coverage", jz.drop(columns="level")),
        ("区覆盖 District coverage", dist.drop(columns=["level", "jiezhen_code", "jiezhen_name"])),
        ("单元覆盖 Unit coverage", cov),
        (
            "任务 Tasks",
            pd.DataFrame(task_rows, columns=["key", "by", "n_units", "status", "seconds", "error"]),
        ),
    ]
    with atomic_path(xlsx_path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in sheets:
                _write_table(writer, name, table.reset_index(drop=True))
    log.info("wrote %s and %s", csv_path, xlsx_path)
    return summary, {"city_summary": csv_path, "city_coverage": xlsx_path}
