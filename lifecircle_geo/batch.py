"""Batch runs: the same pipeline over many 街镇 (or districts), resumable, local or on Dask.

A batch run splits the units of a run config (see :mod:`lifecircle_geo.pipeline`) by
``jiezhen_code`` (or ``district_code``) into :class:`Task` s. Each task analyses the config's
inputs for its units only, as :func:`lifecircle_geo.pipeline.run` would: a walk network
clipped to its units plus a buffer (by default the largest threshold of its units' area types
plus the snap distance, so walks that cross the boundary and facilities just outside it count
as in one run), writing the usual outputs to ``out/<by>/<key>/`` plus a small
``coverage.csv`` and ``summary.json``. Tasks run in-process (``"sync"``), in local processes
(``"local"``, :class:`concurrent.futures.ProcessPoolExecutor`) or on Dask distributed
(``"dask"`` for a :class:`dask.distributed.LocalCluster`, or a scheduler address).

Inputs are read once per batch run: the parent reads the units, the walkable ways of the OSM
extract, the OSM facilities and the residents (:class:`CityInputs`, cached in ``out/_cache/``
keyed by the input files' sizes and times), and each task receives only its part (ways and
facilities within its buffered boundary, the residents of its units). Local workers are forked
once the city is read (on Linux, while the parent runs no other thread): they inherit
the city and the imported modules and cut each task's part out themselves; otherwise they are
spawned and the parent cuts the parts. Killing the batch process (SIGTERM, SIGINT, even
SIGKILL) stops its worker processes or its Dask cluster.

Resuming: ``out/manifest.json`` records every task's status (``done`` / ``failed``), error
text, seconds and an input fingerprint (a hash of the task's config, its units, its part of
the shared inputs (clipped ways, facilities, residents), the sizes and modification times of
the other input files (facility tables, profile, rules), the settings that change results and
the package version): fixing one 街镇's part of a shared file reruns that 街镇 only. It is
rewritten atomically after each task. A rerun skips tasks that are done with the same
fingerprint and whose output files are still there, and runs failed, changed or missing
ones; ``restart=True`` ignores the manifest. A task that fails is retried unit by unit (up
to 60 units) so its error names the unit(s) it fails on.

After the tasks, the coverage of every finished task is rolled up into
``out/city_coverage.xlsx`` (bilingual headers) and ``out/city_summary.csv`` (UTF-8): per 街镇 ×
category and district × category, with :func:`lifecircle_geo.coverage.rollup` (as ``analyze``
rolls up its units); the unit rows go to ``out/city_coverage.gpkg`` and the city map
``out/city_map.html`` links every area to its task's map.

Config: the run TOML plus an optional ``[batch]`` table::

    [batch]
    by = "jiezhen_code"      # or "district_code"
    buffer_m = 2500          # network and facilities clipped to the units + this buffer
                             # (default, per task: the largest threshold of its units'
                             # area types + max_snap_m)
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
import dataclasses
import datetime as _dt
import functools
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import tomllib
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import _io
from . import crs as lc_crs
from . import facilities as lc_facilities
from ._fork import _child_start, can_fork, side_process, watch_parent
from ._io import atomic_path, json_text
from ._version import __version__
from .analysis import OUTPUTS
from .coverage import rollup as coverage_rollup
from .errors import InputError, LifecircleError, NetworkError
from .gaps import annex_table
from .network import WalkNetwork, WalkRules
from .network import walknetwork as _wn
from .network.osm import file_provenance, read_walk_ways
from .pipeline import (
    BATCH_BY,
    Area,
    Inputs,
    _assign_within_m,
    analyze_inputs,
    complete_inputs,
    input_files,
    load_config,
    read_residents,
    read_units,
    unit_of_points,
)
from .settings import settings
from .standards import load_profile

__all__ = [
    "BY",
    "OUTPUT_FILES",
    "BatchResult",
    "CityInputs",
    "Task",
    "TaskResult",
    "plan",
    "rollup",
    "run",
    "run_task",
]

log = logging.getLogger(__name__)

#: Columns a batch can be split by.
BY = BATCH_BY
#: Files every finished task folder holds (besides figures).
OUTPUT_FILES = (
    "project_database.gpkg",
    "project_list.xlsx",
    "map.html",
    "coverage.csv",
    "projects.csv",
    "summary.json",
)
#: The file each choosable output (``[batch] outputs``) leaves in a task folder.
_OUTPUT_FILE = {"gpkg": "project_database.gpkg", "xlsx": "project_list.xlsx", "map": "map.html"}
#: Settings that change results; a task carries them to its worker.
_SETTINGS = ("walk_speed_kmh", "search_cutoff_m", "max_snap_m")
_MANIFEST = "manifest.json"


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
        Shared inputs: ``config`` (the run config checked by
        :func:`lifecircle_geo.pipeline.load_config`, without ``out`` and ``[batch]``),
        ``buffer_m`` and the ``settings`` that change results.
    units_hash : str
        Hash of its units' rows and of every unit's geometry (resident points near a unit edge
        may belong to a neighbour), so an edit elsewhere does not rerun this task.
    data : dict or None
        Its part of the city's inputs (:meth:`CityInputs.for_task`: the clipped walkable ways,
        OSM facilities and residents, and a fingerprint of them); :func:`run` fills it in,
        :func:`run_task` reads the inputs itself when it is None.

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
    data: dict | None = field(default=None, compare=False, repr=False)

    def folder(self, out_root: str | os.PathLike) -> Path:
        """Return the task's output folder ``out_root/<by>/<key>``."""
        return Path(out_root) / self.by / _safe_name(self.key)

    @property
    def area(self) -> Area:
        """Its units, boundary and buffer, for :func:`lifecircle_geo.pipeline.run`."""
        return Area(self.unit_ids, self.boundary, float(self.inputs["buffer_m"]))

    def fingerprint(self) -> str:
        """Hash of everything the task's result depends on (see the module docstring).

        With :attr:`data`, the shared files read whole (OSM extract, resident points, units)
        count by the task's part of them only; without, by their sizes and times.
        """
        if self.data is not None:
            return self.data["fingerprint"]
        cfg = self.inputs["config"]
        units_file = Path(cfg["units"]["path"])
        stats = {}
        for p in input_files(cfg):
            if p == units_file:
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
    """Return a folder name for a key that stays in its folder (:func:`_io.safe_name`)."""
    return _io.safe_name(str(key))


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
        Run config (see :func:`lifecircle_geo.pipeline.load_config`).
    by, keys, buffer_m : optional
        Override the config's ``[batch]`` table. ``buffer_m`` defaults to ``[batch]
        buffer_m``, else, per task, to the largest threshold of the area types of its units
        (their ``area_type``, else the config's or the profile's default) plus the snap
        distance (``max_snap_m``), so a resident near a task's edge counts the same
        facilities as in one run over the whole area.

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
    >>> from lifecircle_geo.pipeline import sample_config
    >>> tasks = plan(sample_config())
    >>> [(t.key, len(t.unit_ids)) for t in tasks]
    [('310105099', 5)]
    """
    cfg = load_config(config)
    b = cfg["batch"]
    by = by or b["by"]
    if by not in BY:
        raise InputError(f"by={by!r}; expected one of {list(BY)}")
    keys = keys if keys is not None else b.get("keys")
    units = read_units(cfg).to_crs(4326)
    if buffer_m is None:
        buffer_m = _config_buffer_m(config) if b.get("buffer_m") is not None else None
    auto = buffer_m is None  # then per task: its area types' largest threshold + snap
    buffer_m = None if auto else float(buffer_m)
    prof = load_profile(cfg["profile"]) if auto else None
    units_file = cfg["units"]["path"]
    codes = units[by].astype(str).str.strip()
    if (codes == "").any():
        bad = units.loc[codes == "", "unit_id"].head(10).tolist()
        raise InputError(
            f"{units_file}: {int((codes == '').sum())} units have no {by} "
            f"(e.g. {bad}); every unit needs one for a batch run by {by}"
        )
    wanted = sorted(codes.unique())
    if keys is not None:
        missing = sorted(set(map(str, keys)) - set(wanted))
        if missing:
            raise InputError(f"{units_file}: no unit has {by} in {missing} (known: {wanted[:20]})")
        wanted = sorted(set(map(str, keys)))
    inputs = {
        # out and [batch] do not change a task's result
        "config": {k: v for k, v in cfg.items() if k not in ("out", "batch")},
        "buffer_m": buffer_m,
        "settings": {k: getattr(settings, k) for k in _SETTINGS},
        # which files a task writes ([batch] outputs; None: all)
        "outputs": _default_outputs(b.get("outputs"), by),
    }
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
                inputs={**inputs, "buffer_m": _auto_buffer_m(cfg, rows, prof)} if auto else inputs,
                units_hash=_units_hash(units, rows, all_geom),
            )
        )
    log.info(
        "planned %d tasks by %s, buffer %s m",
        len(tasks),
        by,
        sorted({t.inputs["buffer_m"] for t in tasks}) if auto else buffer_m,
    )
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


def run_task(
    task: Task,
    out_root: str | os.PathLike,
    *,
    city: CityInputs | None = None,
    write_processes: int | None = None,
) -> TaskResult:
    """Run one task and write its outputs to ``out_root/<by>/<key>/``.

    Builds the task's inputs as :func:`lifecircle_geo.pipeline.build_inputs` does for its
    :attr:`Task.area` (the walk network clipped to the task's boundary plus ``buffer_m``, the
    facilities within the same area, the task's units and residents), from :attr:`Task.data`
    (the part of the city inputs :func:`run` cut out for it) or, without, from ``city`` or the
    files; analyses them and writes the project database, project list, map and figures;
    then ``coverage.csv`` (unit × category, UTF-8) and ``summary.json`` (written last: it marks
    the folder complete). A pure function of its inputs.

    Parameters
    ----------
    task : Task
    out_root : str or path-like
        The batch's output folder.
    city : CityInputs, optional
        The city inputs, when the task has no :attr:`Task.data` (default: read the files).
    write_processes : int, optional
        Processes writing the outputs (:func:`lifecircle_geo.report.write_result`; default
        ``settings.write_processes``): :func:`run` gives 1 when its workers fill the cores.

    Returns
    -------
    TaskResult
        Status ``"done"``; errors are raised (use :func:`run` to record them instead).

    Raises
    ------
    LifecircleError
        Bad input; the message names the file (and the unit, when one unit fails).

    Examples
    --------
    >>> res = run_task(plan("city.toml")[0], "out/city")  # doctest: +SKIP
    >>> res.status, res.folder.name  # doctest: +SKIP
    ('done', '310105098')
    """
    t0 = time.perf_counter()
    inp = task.inputs
    folder = task.folder(out_root)
    if task.data is None:
        city = city or CityInputs(inp["config"])
        task = dataclasses.replace(task, data=city.for_task(task))
    cfg = inp["config"]
    with _task_settings(inp["settings"]):
        inputs = _task_inputs(task, task.data)
        try:
            result = analyze_inputs(cfg, inputs, progress=False)
        except Exception as exc:
            bad = _failing_units(cfg, inputs, task.data.get("owner"))
            if bad:
                text = f"{exc} [fails on unit(s): {', '.join(bad)}]"
                try:
                    named = type(exc)(text)
                except Exception:  # an exception type with another signature
                    named = LifecircleError(f"{type(exc).__name__}: {text}")
                raise named from exc
            raise
        files = result.write(folder, outputs=inp.get("outputs"), processes=write_processes)
        cov = pd.DataFrame(result.coverage)
        with atomic_path(folder / "coverage.csv") as tmp:
            _write_csv(cov, tmp)
        # the projects (without per-target-group columns) for the city's annex table
        proj = pd.DataFrame(result.projects)
        proj["district_code"] = proj["unit_id"].map(
            dict(zip(result.units["unit_id"], result.units["district_code"], strict=False))
        )
        with atomic_path(folder / "projects.csv") as tmp:
            _write_csv(proj, tmp)
        seconds = round(time.perf_counter() - t0, 3)
        summary = {
            "key": task.key,
            "by": task.by,
            "fingerprint": task.fingerprint(),
            "n_units": int(result.meta["n_units"]),
            "population": float(result.meta["population"]),
            "n_facilities": int(result.meta["n_facilities"]),
            "n_network_nodes": len(result.network.x_m),
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


def _write_csv(df: pd.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    """Write a CSV whose formula-like text cells are inert (:func:`_io.safe_csv_frame`)."""
    _io.safe_csv_frame(df).to_csv(path, index=False, encoding=encoding)


#: At most this many units are tried one by one to name the unit a failing task fails on.
_MAX_UNITS_TRIED = 60


def _failing_units(cfg: dict, inputs: Inputs, owner: pd.Series | None) -> list[str]:
    """Return the units that fail on their own (when the task has several), for the error."""
    units = inputs.units
    if len(units) < 2 or len(units) > _MAX_UNITS_TRIED:
        return []
    bad = []
    pop = inputs.population
    for uid in units["unit_id"].astype(str):
        one = units[units["unit_id"].astype(str) == uid]
        p = pop
        if pop is not None and owner is not None and len(owner) == len(pop):
            p = pop[(owner == uid).to_numpy()]
        try:
            analyze_inputs(
                cfg, dataclasses.replace(inputs, units=one, population=p), progress=False
            )
        except Exception:
            bad.append(uid)
    return bad if len(bad) < len(units) else []


def _run_task_safe(
    task: Task,
    out_root: str | os.PathLike,
    watch_pid: int | None = None,
    write_processes: int | None = None,
    city: CityInputs | None = None,
) -> TaskResult:
    """:func:`run_task`, with any error turned into a failed :class:`TaskResult`."""
    if watch_pid is not None:
        watch_parent(watch_pid)
    t0 = time.perf_counter()
    try:
        return run_task(task, out_root, city=city, write_processes=write_processes)
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


#: The city inputs forked workers inherit, by token (set before the fork; see _execute).
_INHERITED: dict[int, CityInputs] = {}
_TOKENS = itertools.count()


def _run_inherited(
    token: int, task: Task, out_root: str | os.PathLike, write_processes: int | None
) -> TaskResult:
    """In a forked worker: cut ``task`` out of the city it inherited, then run it."""
    return _run_task_safe(task, out_root, None, write_processes, city=_INHERITED[token])


def _forked_worker_start(parent: int) -> None:
    """Start a forked worker: a spawned worker's signal handlers, and a watch on the parent.

    The batch's handlers (inherited with the fork) would turn the parent's SIGTERM into an
    exception the worker survives.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _child_start(parent)


def _fork_workers() -> bool:
    """Whether local workers can be forked from this process now (see :func:`_execute`).

    On Linux only (macOS' system libraries are not safe in a forked child that lives on), and
    only while this process runs no other thread.
    """
    return can_fork() and sys.platform.startswith("linux") and threading.active_count() == 1


class _Bar(tqdm):
    """The batch's progress bar, without tqdm's monitor thread: workers may be forked."""

    monitor_interval = 0


def _error_text(task: Task, exc: BaseException) -> str:
    return f"{task.by}={task.key}: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------- city inputs
_CACHE_DIR = "_cache"
_CACHE_VERSION = 1


def _auto_buffer_m(cfg: dict, units: gpd.GeoDataFrame, prof: Any = None) -> float:
    """Return the largest threshold of the area types present plus the snap distance.

    A resident near a task's edge then keeps every facility (and every street to it) that a
    single run over the whole city would count.
    """
    prof = prof or load_profile(cfg["profile"])
    default = prof.area_type(cfg.get("area_type") or prof.default_area_type)
    names = units["area_type"].fillna("").astype(str).str.strip() if "area_type" in units else []
    present = set()
    for a in set(names):
        try:
            present.add(prof.area_type(a) if a else default)
        except LifecircleError:  # an unknown area type: the task's analysis names it
            continue
    present = present or {default}
    largest = max(c.threshold_for(a) for c in prof.categories for a in present)
    snap = cfg.get("max_snap_m")
    snap = float(settings.max_snap_m if snap is None else snap)
    return float(largest) + snap


def _config_buffer_m(config: str | os.PathLike | dict) -> float | None:
    """``[batch] buffer_m`` when the config sets it, else None (the default is computed)."""
    if isinstance(config, dict):
        doc = config.get("batch") or {}
        return None if doc.get("buffer_m") is None or doc.get("_buffer_auto") else doc["buffer_m"]
    try:
        with open(config, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):  # load_config already reported it
        return None
    value = (doc.get("batch") or {}).get("buffer_m")
    return None if value is None else float(value)


def _file_stats(paths: list[Path]) -> dict:
    stats = {}
    for p in paths:
        try:
            st = Path(p).stat()
            stats[str(p)] = [st.st_size, st.st_mtime_ns]
        except OSError:
            stats[str(p)] = None
    return stats


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes):
            h.update(part)
        else:
            h.update(json.dumps(_plain(part), sort_keys=True, default=str).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:20]


def _frame_digest(df: pd.DataFrame | None) -> str:
    if df is None:
        return "none"
    # one vectorised WKB call; a missing geometry counts as empty bytes
    wkb = shapely.to_wkb(df.geometry.to_numpy())
    geom = [b"" if g is None else g for g in wkb]
    rest = pd.DataFrame(df.drop(columns=df.geometry.name)).astype(str).to_csv(index=False)
    return _digest(b"".join(geom), rest.encode(), len(df))


def _ways_digest(raw: Any) -> str:
    if raw is None:
        return "none"
    return _digest(raw.ref, raw.way, raw.lon, raw.lat, raw.way_osmid, list(raw.kind))


def _read_osm_facilities(paths: list, profile: Any) -> list[gpd.GeoDataFrame]:
    return [lc_facilities.from_osm(p, profile=profile) for p in paths]


class CityInputs:
    """A batch's shared inputs, read once: units, walkable ways, OSM facilities, residents.

    Built by the batch parent (or loaded from ``out/_cache/``, keyed by the input files' sizes
    and times, the config and the package version); :meth:`for_task` cuts out one task's
    part, which is all a worker receives.
    """

    def __init__(self, cfg: dict, meanwhile: Callable[[CityInputs], None] | None = None) -> None:
        self.cfg = cfg
        self.units = read_units(cfg)
        net_cfg = cfg["network"]
        self.rules = WalkRules.coerce(net_cfg.get("rules"))
        self.raw = None
        self.net_meta: dict = {}
        self._owners: dict[str, pd.Series] = {}
        profile = cfg["profile"]
        fac_paths = list(cfg["facilities"]["osm"])
        # the facilities' parse (the longest read) runs in a second process while this one
        # reads the ways and the residents, then does `meanwhile`; a failed read stops it
        with side_process(
            functools.partial(_read_osm_facilities, fac_paths, profile),
            fork=bool(fac_paths) and "osm" in net_cfg and can_fork(),
        ) as facilities:
            if "osm" in net_cfg:
                path = Path(net_cfg["osm"])
                raw = read_walk_ways(path, self.rules)
                if raw.n_ways == 0:
                    raise NetworkError(
                        f"{path}: no walkable way in this file (dropped: {raw.dropped})"
                    )
                self.raw = raw
                self.net_meta = file_provenance(path)
            self.population = read_residents(cfg)
            if meanwhile is not None:
                meanwhile(self)
            self.osm_facilities = facilities.result()
        self._trees: list = [None] * len(self.osm_facilities)

    # --------------------------------------------------------------- cache
    @classmethod
    def load(
        cls,
        cfg: dict,
        cache_dir: Path | None,
        meanwhile: Callable[[CityInputs], None] | None = None,
    ) -> CityInputs:
        """Read the inputs, or load them from ``cache_dir`` when the same inputs were read.

        ``meanwhile(city)``: work of this process's own, done while the facilities are parsed
        in the side process (when they are read, not loaded), with the units, ways and
        residents read.
        """
        if cache_dir is None:
            return cls(cfg, meanwhile)
        files = [p for p in input_files(cfg)]
        key = _digest(
            _CACHE_VERSION, __version__, _plain(cfg), _file_stats(files), sys.version_info[:2]
        )
        path = cache_dir / f"city-{key}.pkl"
        if path.exists():
            try:
                with open(path, "rb") as fh:
                    city = pickle.load(fh)
                if isinstance(city, cls):
                    log.info("city inputs from the cache %s", path)
                    return city
            except Exception as exc:  # a stale or broken cache is read again
                log.warning("ignoring the unreadable cache %s (%s)", path, exc)
        t0 = time.perf_counter()
        city = cls(cfg, meanwhile)
        log.info("read the city inputs in %.1f s", time.perf_counter() - t0)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for old in cache_dir.glob("city-*.pkl"):
                old.unlink(missing_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                pickle.dump(city, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:
            log.warning("could not write the cache %s (%s)", path, exc)
        return city

    def __getstate__(self) -> dict:  # noqa: D105
        state = dict(self.__dict__)
        state["_trees"] = [None] * len(self.osm_facilities)  # rebuilt on demand
        return state

    # --------------------------------------------------------------- per task
    def _owner(self, boundary: Any) -> pd.Series:
        """Return the unit of every resident point, as ``pipeline.build_inputs`` assigns it.

        Inside a unit, else the nearest within ``assign_within_m``.
        """
        c = boundary.centroid
        metric = lc_crs.local_utm_crs(c.x, c.y)
        key = metric.to_string()
        if key not in self._owners:
            self._owners[key] = unit_of_points(
                self.population.to_crs(metric),
                self.units.to_crs(metric),
                _assign_within_m(self.cfg),
            )
        return self._owners[key]

    def _ways_of(self, task: Task, keep: Any) -> Any:
        """Return the ways clipped as ``WalkNetwork.from_osm(boundary=..., buffer_m=...)``."""
        raw = self.raw
        minx, miny, maxx, maxy = keep.bounds
        pad = 1e-6
        near = (
            (raw.lon >= minx - pad)
            & (raw.lon <= maxx + pad)
            & (raw.lat >= miny - pad)
            & (raw.lat <= maxy + pad)
        )
        sub = raw
        if near.any():
            # whole ways with a vertex near the area: the clip's runs stay the same
            hit = np.zeros(len(raw.way_osmid), dtype=bool)
            hit[raw.way[near]] = True
            v = hit[raw.way]
            sub = dataclasses.replace(
                raw, ref=raw.ref[v], way=raw.way[v], lon=raw.lon[v], lat=raw.lat[v]
            )
        path = self.cfg["network"]["osm"]
        clipped = _wn._clip(sub, task.boundary, 4326, task.area.buffer_m, path, area=keep)
        if clipped.n_ways == 0:
            raise NetworkError(
                f"{path}: the boundary (buffered by {task.area.buffer_m:g} m) holds no "
                f"walkable way, only single points of ways"
            )
        return clipped

    def _tree(self, i: int) -> shapely.STRtree:
        if self._trees[i] is None:
            self._trees[i] = shapely.STRtree(self.osm_facilities[i].geometry.to_numpy())
        return self._trees[i]

    def _facilities_of(self, i: int, keep: Any) -> gpd.GeoDataFrame:
        idx = np.sort(self._tree(i).query(keep, predicate="intersects"))
        return self.osm_facilities[i].iloc[idx]

    def warm(self, task: Task) -> None:
        """Build what :meth:`for_task` builds once per city, before workers fork and share it.

        The residents' units (:meth:`warm_residents`) and the facilities' search trees.
        """
        self.warm_residents(task)
        for i in range(len(self.osm_facilities)):
            self._tree(i)

    def warm_residents(self, task: Task) -> None:
        """Find the residents' units for ``task``'s metric CRS (all of Shanghai has one)."""
        if self.population is not None and "totals" not in self.cfg["population"]:
            self._owner(task.boundary)

    def size_of(self, task: Task) -> int:
        """Rough work of a task: street vertices and resident points near its boundary."""
        data = task.data or {}
        if data:
            ways, pop = data.get("ways"), data.get("population")
            return (len(ways.lon) if ways is not None else 0) + (len(pop) if pop is not None else 0)
        pad = task.area.buffer_m / 111_000.0  # metres as degrees of latitude: ordering only
        x0, y0, x1, y1 = task.boundary.bounds
        n = 0
        if self.raw is not None:
            lon, lat = self.raw.lon, self.raw.lat
            n += int(
                np.count_nonzero(
                    (lon >= x0 - pad) & (lon <= x1 + pad) & (lat >= y0 - pad) & (lat <= y1 + pad)
                )
            )
        if self.population is not None and len(self.population):
            xy = self.__dict__.get("_pop_lonlat")
            if xy is None:
                xy = self._pop_lonlat = shapely.bounds(
                    self.population.geometry.to_crs(4326).to_numpy()
                )[:, :2]
            n += int(
                np.count_nonzero(
                    (xy[:, 0] >= x0 - pad)
                    & (xy[:, 0] <= x1 + pad)
                    & (xy[:, 1] >= y0 - pad)
                    & (xy[:, 1] <= y1 + pad)
                )
            )
        return n

    def for_task(self, task: Task) -> dict:
        """Return the task's part of the inputs and its fingerprint.

        Raises
        ------
        LifecircleError
            The task's area holds no street (the message names the file).
        """
        ids = set(task.unit_ids)
        units = self.units[self.units["unit_id"].astype(str).isin(ids)]
        if units.empty:
            raise InputError(f"{self.cfg['units']['path']}: none of the units {task.unit_ids[:10]}")
        keep = task.area.buffered()
        ways = self._ways_of(task, keep) if self.raw is not None else None
        fac = [self._facilities_of(i, keep) for i in range(len(self.osm_facilities))]
        pop = owner = None
        p_cfg = self.cfg["population"]
        if self.population is not None and "totals" not in p_cfg:
            all_owner = self._owner(task.boundary)
            mask = all_owner.isin(ids).to_numpy()
            pop = self.population[mask]
            owner = all_owner[mask].astype(str)
        data = {
            "units": units,
            "ways": ways,
            "net_meta": self.net_meta,
            "osm_facilities": fac,
            "population": pop,
            "owner": owner,
        }
        # what the task's result depends on; shared files read whole (the OSM extract, the
        # resident points, the units) count by their part only, so editing one 街镇 reruns it
        shared = {str(self.cfg["units"]["path"])}
        if "osm" in self.cfg["network"]:
            shared.add(str(self.cfg["network"]["osm"]))
        shared.update(str(p) for p in self.cfg["facilities"]["osm"])
        for k in ("raster", "points"):
            if k in p_cfg:
                shared.add(str(p_cfg[k]))
        other = {k: v for k, v in _file_stats(input_files(self.cfg)).items() if k not in shared}
        data["fingerprint"] = _digest(
            task.key,
            task.by,
            list(task.unit_ids),
            task.units_hash,
            shapely.to_wkb(task.boundary),
            task.inputs,
            other,
            _ways_digest(ways),
            [_frame_digest(f) for f in fac],
            _frame_digest(pop),
            __version__,
        )
        return data


def _task_inputs(task: Task, data: dict) -> Inputs:
    """Build a task's :class:`~lifecircle_geo.pipeline.Inputs` from its part of the city.

    Exactly as :func:`lifecircle_geo.pipeline.build_inputs` builds them for its area.
    """
    cfg = task.inputs["config"]
    area = task.area
    units = data["units"]
    net_cfg = cfg["network"]
    if "osm" in net_cfg:
        t0 = time.perf_counter()
        speed = cfg.get("walk_speed_kmh", load_profile(cfg["profile"]).walk_speed_kmh)
        raw = data["ways"]
        bounds = task.boundary.bounds
        meta = dict(data["net_meta"])
        meta.update(
            boundary_bounds_wgs84=[round(b, 6) for b in bounds],
            boundary_buffer_m=area.buffer_m,
        )
        meta.update(
            osm_timestamp=raw.timestamp,
            osm_header_timestamp=raw.header_timestamp,
            dropped_ways=raw.dropped,
            missing_node_refs=raw.missing_nodes,
        )
        rules = WalkRules.coerce(net_cfg.get("rules"))
        net = WalkNetwork._from_raw(
            raw, rules, net_cfg.get("crs"), "largest", meta, t0, float(speed)
        )
    else:
        net = WalkNetwork.load(net_cfg["saved"])
    keep = area.buffered() if cfg["facilities"]["tables"] else None
    return complete_inputs(cfg, net, units, data["osm_facilities"], data["population"], keep)


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
    doc = {
        "lifecircle_geo_version": __version__,
        "by": by,
        "updated": _now(),
        "tasks": dict(sorted(entries.items())),
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(doc, indent=2), encoding="utf-8")


def _default_outputs(chosen: list[str] | None, by: str) -> list[str] | None:
    """Return the outputs of a task: ``[batch] outputs``, else all (``None``) for 街镇 tasks.

    A task over a whole district leaves out the one-page 街镇 summaries unless they are asked
    for: a page per 街镇 is a 街镇's meeting paper, and the city's 229 pages took longer than
    everything else of a city run together (``benchmarks/city_scale.py``).
    """
    if chosen is not None or by == "jiezhen_code":
        return chosen
    log.info(
        'tasks by %s: no one-page 街镇 summaries (add "summaries" to [batch] outputs for them)',
        by,
    )
    return [o for o in OUTPUTS if o != "summaries"]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _is_done(task: Task, entry: dict | None, out: Path) -> bool:
    if not entry or entry.get("status") != "done":
        return False
    if entry.get("fingerprint") != task.fingerprint():
        return False
    folder = task.folder(out)
    chosen = task.inputs.get("outputs")
    skipped = {f for k, f in _OUTPUT_FILE.items() if chosen is not None and k not in chosen}
    return all((folder / name).exists() for name in OUTPUT_FILES if name not in skipped)


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
    if scheduler not in ("local", "sync"):
        _require_dask(scheduler)  # before any planning or output
    out = Path(out) if out is not None else cfg["out"]
    out.mkdir(parents=True, exist_ok=True)
    tasks = plan(config) if tasks is None else tasks
    by = tasks[0].by if tasks else cfg["batch"]["by"]
    manifest_path = out / _MANIFEST
    entries = {} if restart else _read_manifest(manifest_path)
    results: dict[str, TaskResult] = {}
    show = settings.progress if progress is None else progress
    bar = _Bar(
        total=len(tasks),
        desc=f"tasks ({by})",
        unit="task",
        disable=not show or not tasks,
    )

    def record(task: Task, res: TaskResult, started: str) -> None:
        results[task.key] = res
        entries[task.key] = {
            "status": res.status,
            "error": res.error,
            "seconds": res.seconds,
            # a task cut out of the city by its (forked) worker: the fingerprint it found
            "fingerprint": task.fingerprint()
            if task.data is not None
            else res.summary.get("fingerprint"),
            "started": started,
            "finished": _now(),
            "folder": str(task.folder(out).relative_to(out)),
        }
        _write_manifest(manifest_path, entries, by)
        if res.status == "failed":
            log.error("task failed: %s", res.error)
        bar.update(1)

    city_units: list[gpd.GeoDataFrame] = []  # the units read with the city, for its map
    # local workers forked once the city is read inherit it: nothing to import, nothing
    # pickled, and each cuts its own tasks out of the city (see _execute)
    inherit: dict[str, CityInputs] = {}
    lazy = scheduler == "local" and _fork_workers()

    def split(t: Task) -> Task | None:
        """Return ``t`` with its part of the city; None (recorded as failed) if it has none."""
        try:
            return dataclasses.replace(t, data=inherit["city"].for_task(t))
        except LifecircleError as exc:
            now = _now()
            results[t.key] = TaskResult(
                t.key, "failed", 0.0, t.folder(out), error=_error_text(t, exc)
            )
            entries[t.key] = {
                "status": "failed",
                "error": results[t.key].error,
                "seconds": 0.0,
                "fingerprint": None,
                "started": now,
                "finished": now,
                "folder": str(t.folder(out).relative_to(out)),
            }
            log.error("task failed: %s", results[t.key].error)
            bar.update(1)
            return None

    def todo() -> Iterator[Task]:
        """Yield the tasks to run, largest first, each cut out of the city as workers start.

        The city inputs are read once (or loaded from out/_cache); a task whose part cannot be
        cut fails here, one already done with the same inputs is skipped. For forked workers a
        task that is not done yet is yielded as it is: its worker cuts it out.
        """
        if not tasks:
            return
        t0 = time.perf_counter()
        meanwhile = _before_fork(tasks[0]) if lazy else None
        city = CityInputs.load(tasks[0].inputs["config"], out / _CACHE_DIR, meanwhile)
        inherit["city"] = city
        city_units.append(city.units)
        # largest first (street vertices + resident points near it): a long task started
        # last would leave the other workers idle at the end
        order = sorted(tasks, key=city.size_of, reverse=True)
        if meanwhile is not None:
            meanwhile(city)  # done already, unless the city came from the cache
            city.warm(order[0])  # what every worker would build again, built once
        for t in order:
            entry = entries.get(t.key)
            if lazy and t.data is None and (restart or (entry or {}).get("status") != "done"):
                yield t
                continue
            ready = t if t.data is not None else split(t)
            if ready is None:
                continue
            if not restart and _is_done(ready, entry, out):
                e = entries[t.key]
                results[t.key] = TaskResult(
                    t.key, "skipped", float(e.get("seconds", 0.0)), t.folder(out)
                )
                bar.update(1)
                continue
            yield ready
        log.info("city inputs split into %d tasks in %.1f s", len(tasks), time.perf_counter() - t0)

    try:
        _execute(todo(), len(tasks), out, scheduler, workers, record, inherit, split)
    finally:
        bar.close()
    skipped = sorted(k for k, r in results.items() if r.status == "skipped")
    if skipped:
        log.info("%d tasks already done with the same inputs: skipped", len(skipped))
    _write_manifest(manifest_path, entries, by)
    done = sorted(k for k, r in results.items() if r.status == "done")
    failed = {k: r.error or "failed" for k, r in sorted(results.items()) if r.status == "failed"}
    finished = [t for t in tasks if results[t.key].status in ("done", "skipped")]
    summary, files = rollup(
        out, finished, status=results, units=city_units[0] if city_units else None
    )
    files["manifest"] = manifest_path
    if failed:
        log.error("%d of %d tasks failed: %s", len(failed), len(tasks), "; ".join(failed.values()))
    return BatchResult(
        out=out,
        tasks=results,
        done=done,
        skipped=skipped,
        failed=failed,
        city_summary=summary,
        files=files,
    )


def _before_fork(task: Task) -> Callable[[CityInputs], None]:
    """Return the work each forked worker would redo, for the parent to do once, first.

    Done while the side process still parses the facilities (:meth:`CityInputs.load`): the
    writers' modules imported (matplotlib, folium: 1.4 s a process) and the residents' units
    found for ``task``'s metric CRS. Both would otherwise wait until the facilities are read.
    """

    def meanwhile(city: CityInputs) -> None:
        from . import report  # noqa: F401  (inherited by the forked workers)

        city.warm_residents(task)

    return meanwhile


def _require_dask(scheduler: str) -> None:
    """Fail at once, naming the extra, when a Dask scheduler is asked for without dask."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        raise LifecircleError(
            f"scheduler={scheduler!r} needs dask.distributed, which could not be imported "
            f"({exc}); install the optional extra: pip install 'lifecircle-geo[dask]'"
        ) from None


def _execute(
    todo: Iterable[Task],
    n_max: int,
    out: Path,
    scheduler: str,
    workers: int | None,
    record: Callable[[Task, TaskResult, str], None],
    inherit: dict[str, CityInputs] | None = None,
    split: Callable[[Task], Task | None] | None = None,
) -> None:
    """Run the tasks ``todo`` yields (at most ``n_max``), each submitted as soon as it comes.

    Workers start with the first task, so the tasks run while the rest are still being cut
    out of the city; nothing starts when ``todo`` yields nothing.

    Local workers are forked from this process when ``todo`` yields tasks without their part
    of the city (``inherit["city"]`` holds it then) and this process runs no other thread (a
    fork copies one thread only: a lock another thread holds would never be released in the
    child). They inherit the city and the imported modules, and cut each task out themselves.
    Otherwise they are spawned, and ``split`` cuts the tasks out here.
    """
    n = max(1, min(workers or os.cpu_count() or 1, n_max))
    started = _now()
    # a task writes with a second process only when no other task needs that core (one at a
    # time in "sync"); on Dask never (a worker's tasks share its process)
    running = 1 if scheduler == "sync" else n
    write_processes = min(settings.write_processes, max(1, (os.cpu_count() or 1) // running))
    if scheduler == "sync":
        for t in todo:
            s = _now()
            record(t, _run_task_safe(t, out, None, write_processes), s)
    elif scheduler == "local":
        from concurrent.futures import as_completed

        pool = None
        token = None
        try:
            with _stop_on_signals():
                futs = {}
                for t in todo:
                    if pool is None:
                        city = (inherit or {}).get("city")
                        if t.data is None and city is not None and _fork_workers():
                            token = next(_TOKENS)
                            _INHERITED[token] = city  # before the fork: the workers have it
                            ctx = multiprocessing.get_context("fork")
                            start: Callable[..., None] = _forked_worker_start
                            log.info("%d workers forked: they inherit the city inputs", n)
                        else:
                            # spawned: no fork of a process that may hold threads
                            ctx = multiprocessing.get_context("spawn")
                            start = watch_parent
                        pool = ProcessPoolExecutor(
                            max_workers=n,
                            mp_context=ctx,
                            initializer=start,
                            initargs=(os.getpid(),),
                        )
                    if token is not None and t.data is None:
                        fut = pool.submit(_run_inherited, token, t, out, write_processes)
                    else:
                        if t.data is None and split is not None:
                            ready = split(t)
                            if ready is None:  # failed, recorded
                                continue
                            t = ready
                        fut = pool.submit(_run_task_safe, t, out, None, write_processes)
                    futs[fut] = t
                for f in as_completed(futs):
                    t = futs[f]
                    try:
                        res = f.result()
                    except Exception as exc:  # a worker died (BrokenProcessPool, memory)
                        res = TaskResult(
                            t.key, "failed", 0.0, t.folder(out), error=_error_text(t, exc)
                        )
                    record(t, res, started)
        except BaseException:
            # interrupted: stop the workers now, queued tasks are not started
            if pool is None:
                raise
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                with contextlib.suppress(Exception):
                    proc.terminate()
            for proc in procs:
                with contextlib.suppress(Exception):
                    proc.join(5)
            raise
        else:
            if pool is not None:
                pool.shutdown(wait=True)
        finally:
            if token is not None:
                _INHERITED.pop(token, None)
    else:
        _require_dask(scheduler)
        try:
            from dask.distributed import Client, LocalCluster, as_completed
        except ImportError as exc:  # pragma: no cover - checked by _require_dask
            raise ImportError(
                f"scheduler={scheduler!r} needs dask.distributed, which could not be imported "
                f"({exc}); install the optional extra: pip install 'lifecircle-geo[dask]'"
            ) from None

        # the cluster starts with the first task to run: none for a batch already done
        todo = iter(todo)
        first = next(todo, None)
        if first is None:
            return
        todo = itertools.chain([first], todo)
        cluster = None
        if scheduler == "dask":
            cluster = _local_cluster(LocalCluster, n)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        watch = os.getpid() if cluster is not None else None
        with _stop_on_signals():
            try:
                futs = {}
                for t in todo:
                    with warnings.catch_warnings():
                        # a task carries its own part of the city (17 MB for 浦东), sent once:
                        # not the repeated data Dask's "large graph" warning is about
                        warnings.filterwarnings(
                            "ignore", message="Sending large graph", category=UserWarning
                        )
                        f = client.submit(
                            _run_task_safe,
                            t,
                            out,
                            watch,
                            1,
                            pure=False,
                            key=f"lifecircle-{t.by}-{_safe_name(t.key)}-{time.time_ns()}",
                        )
                    futs[f] = t
                for f in as_completed(list(futs)):
                    t = futs[f]
                    try:
                        res = f.result()
                    except Exception as exc:  # worker lost, killed, unpicklable result
                        res = TaskResult(
                            t.key, "failed", 0.0, t.folder(out), error=_error_text(t, exc)
                        )
                    record(t, res, started)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()


#: Environment Dask's nannies give the worker processes they spawn, that a batch leaves out.
#: ``MALLOC_TRIM_THRESHOLD_=65536`` fixes glibc's thresholds, so that every array over 128 KiB
#: is mapped and unmapped again and its pages faulted in anew each time: 浦东 and 闵行 took
#: 54-57 s instead of 41-42 s in one process with it set (system time 3-4 s → 13 s). Without
#: it a worker may keep memory it freed for its next task instead of handing it back: the whole
#: city on two workers peaked at 2.4 GiB (process tree).
_DASK_ENV_LEFT_OUT = ("MALLOC_TRIM_THRESHOLD_",)


def _local_cluster(local_cluster: Any, n_workers: int) -> Any:
    """Start a Dask ``LocalCluster`` of ``n_workers`` one-thread worker processes for a batch.

    Without the nanny environment of :data:`_DASK_ENV_LEFT_OUT` (a variable set in this
    process's environment is still inherited).
    """
    import dask

    unset = {f"distributed.nanny.pre-spawn-environ.{k}": None for k in _DASK_ENV_LEFT_OUT}
    with dask.config.set(unset):
        return local_cluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )


class BatchInterrupted(KeyboardInterrupt):
    """The batch process got SIGTERM or SIGINT.

    The workers are stopped; the manifest keeps the tasks finished so far (a rerun resumes).
    """


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into :class:`BatchInterrupted` while tasks run.

    The worker processes or the Dask cluster are then shut down instead of left running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise BatchInterrupted(f"batch interrupted by {signal.Signals(signum).name}")

    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, h)


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
    "status",
]


def rollup(
    out: str | os.PathLike,
    tasks: list[Task],
    status: dict[str, TaskResult] | None = None,
    *,
    units: gpd.GeoDataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Combine the finished tasks' ``coverage.csv`` into the city tables.

    Writes ``out/city_summary.csv`` (UTF-8 with BOM, for Excel) with one row per 街镇 ×
    category (``level = "jiezhen"``) and per district × category (``level = "district"``),
    and ``out/city_coverage.xlsx`` with bilingual headers: 街镇 and district coverage, the annex
    and the task list, with :func:`lifecircle_geo.coverage.rollup`: population, covered and
    reached population are sums; ``share`` is covered / population and ``mean_walk_min`` is
    weighted by reached population; the 90th percentile cannot be recomputed from unit rows and
    is left out. The long tables go to ``out/city_coverage.gpkg``
    (:func:`lifecircle_geo.report.gpkg.write_city_gpkg`: the unit polygons with their shares,
    the unit × category rows, the roll-ups on dissolved polygons). And ``out/city_map.html``
    (:func:`lifecircle_geo.report.citymap.write_city_map`): every unit, 街镇 and district
    coloured by coverage, each linked to its task's ``map.html``.

    Parameters
    ----------
    out : str or path-like
        The batch's output folder.
    tasks : list of Task
        The finished tasks to combine.
    status : dict, optional
        key → :class:`TaskResult` of every task, for the task sheet.
    units : GeoDataFrame, optional
        The city's units (their polygons for the city map); read from the first task's
        config when not given.

    Returns
    -------
    (DataFrame, dict)
        The city summary and ``{"city_summary": Path, "city_coverage": Path,
        "city_annex": Path, "city_database": Path, "city_map": Path}`` (no ``city_map`` when no
        task finished or the map could not be drawn: the reason is logged as an error).

    Examples
    --------
    >>> summary, files = rollup("out/city", plan("city.toml"))  # doctest: +SKIP
    >>> summary.groupby("level")["population"].sum().nunique()  # doctest: +SKIP
    1
    """
    from .report import write_tables
    from .report.gpkg import write_city_gpkg

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
                "status",
            ]
        )
    jz = coverage_rollup(cov, ["district_code", "jiezhen_code", "jiezhen_name"])
    jz.insert(0, "level", "jiezhen")
    dist = coverage_rollup(cov, ["district_code"])
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
        _write_csv(summary, tmp, encoding="utf-8-sig")
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
    projects = []
    for t in tasks:
        p = t.folder(out) / "projects.csv"
        if p.exists():
            projects.append(
                pd.read_csv(p, encoding="utf-8", dtype=str, keep_default_na=False, na_values=[""])
            )
    unit_districts = (
        cov[["unit_id", "district_code"]].drop_duplicates("unit_id")
        if len(cov)
        else pd.DataFrame(columns=["unit_id", "district_code"])
    )
    annex = annex_table(
        pd.concat(projects, ignore_index=True) if projects else pd.DataFrame(columns=["unit_id"]),
        unit_districts,
    )
    annex_path = out / "city_annex.csv"
    with atomic_path(annex_path) as tmp:
        _write_csv(annex, tmp, encoding="utf-8-sig")
    xlsx_path = out / "city_coverage.xlsx"
    jz_rows = jz.drop(columns="level")
    dist_rows = dist.drop(columns=["level", "jiezhen_code", "jiezhen_name"])
    # the workbook holds the roll-ups; the unit rows (32k for the city) go to the GeoPackage
    sheets = [
        ("街镇覆盖 Sub-district coverage", jz_rows),
        ("区覆盖 District coverage", dist_rows),
        ("附件汇总 Annex", annex),
        (
            "任务 Tasks",
            pd.DataFrame(task_rows, columns=["key", "by", "n_units", "status", "seconds", "error"]),
        ),
    ]
    if units is None and tasks:
        units = read_units(tasks[0].inputs["config"])
    files = {"city_summary": csv_path, "city_coverage": xlsx_path, "city_annex": annex_path}
    # the city map is drawn in a second process while the workbook and database are written
    draw_map = bool(len(cov) and tasks)
    with side_process(
        lambda: (
            _city_map(out, tasks, cov, {"jiezhen": jz, "district": dist}, units)
            if draw_map
            else None
        )
    ) as city_map:
        write_tables(xlsx_path, sheets)
        log.info("wrote %s and %s", csv_path, xlsx_path)
        files["city_database"] = write_city_gpkg(
            out / "city_coverage.gpkg", units, cov, jz_rows, dist_rows, annex
        )
        map_path = city_map.result()
    if map_path is not None:
        files["city_map"] = map_path
    return summary, files


def _city_map(
    out: Path,
    tasks: list[Task],
    cov: pd.DataFrame,
    rollups: dict[str, pd.DataFrame],
    units: gpd.GeoDataFrame,
) -> Path | None:
    """Write ``out/city_map.html``, each unit linked to the map of the task that holds it."""
    from .report import FILE_NAMES
    from .report.citymap import write_city_map

    names = (
        dict(zip(cov["jiezhen_code"].astype(str), cov["jiezhen_name"].astype(str), strict=False))
        if "jiezhen_name" in cov.columns
        else {}
    )
    links: dict[str, tuple[str, str]] = {}
    for t in tasks:
        page = t.folder(out) / FILE_NAMES["html"]
        if not page.exists():
            continue
        label = t.key + (f" {names[t.key]}" if names.get(t.key) else "")
        href = page.relative_to(out).as_posix()
        for uid in t.unit_ids:
            links[str(uid)] = (label, href)
    path = out / "city_map.html"
    try:
        return write_city_map(units, cov, path, rollups=rollups, links=links)
    except Exception as exc:  # the tables are written; the map is said to be missing
        log.error("no city map: %s", exc)
        if path.exists():  # a map of an earlier run would show other results
            path.unlink()
            log.error("removed the earlier run's %s", path)
        return None
