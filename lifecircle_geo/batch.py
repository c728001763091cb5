"""Batch runs: the same pipeline over many 街镇 (or districts), resumable, local or on Dask.

A batch run splits the units of a run config (see :mod:`lifecircle_geo.pipeline`) by
``jiezhen_code`` (or ``district_code``) into :class:`Task` s. Each task runs the config through
:func:`lifecircle_geo.pipeline.run` for its units only: a walk network clipped to its units plus
a buffer (1,000 m by default, so walks that cross the boundary and facilities just outside it
still count), writing the usual outputs to ``out/<by>/<key>/`` plus a small ``coverage.csv``
and ``summary.json``. Tasks run in-process (``"sync"``), in local processes
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
category and district × category, with :func:`lifecircle_geo.coverage.rollup` (as ``analyze``
rolls up its units).

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
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from tqdm.auto import tqdm

from ._io import atomic_path, json_text
from ._version import __version__
from .coverage import rollup as coverage_rollup
from .errors import InputError, LifecircleError
from .pipeline import BATCH_BY, Area, input_files, load_config, read_units
from .pipeline import run as pipeline_run
from .settings import settings

__all__ = [
    "BY",
    "OUTPUT_FILES",
    "BatchResult",
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
    "summary.json",
)
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
        """Return the task's output folder ``out_root/<by>/<key>``."""
        return Path(out_root) / self.by / _safe_name(self.key)

    @property
    def area(self) -> Area:
        """Its units, boundary and buffer, for :func:`lifecircle_geo.pipeline.run`."""
        return Area(self.unit_ids, self.boundary, float(self.inputs["buffer_m"]))

    def fingerprint(self) -> str:
        """Hash of everything the task's result depends on (see the module docstring)."""
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
        Run config (see :func:`lifecircle_geo.pipeline.load_config`).
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
    buffer_m = float(buffer_m if buffer_m is not None else b["buffer_m"])
    units = read_units(cfg).to_crs(4326)
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


def run_task(task: Task, out_root: str | os.PathLike) -> TaskResult:
    """Run one task and write its outputs to ``out_root/<by>/<key>/``.

    Runs the config with :func:`lifecircle_geo.pipeline.run` for the task's :attr:`Task.area`
    (the walk network clipped to the task's boundary plus ``buffer_m``, the facilities within the
    same area, the task's units and residents), which writes the project database, project list,
    map and figures; then writes ``coverage.csv`` (unit × category, UTF-8) and ``summary.json``
    (written last: it marks the folder complete). A pure function of its inputs.

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
    t0 = time.perf_counter()
    inp = task.inputs
    folder = task.folder(out_root)
    with _task_settings(inp["settings"]):
        result, files = pipeline_run(inp["config"], folder, area=task.area, progress=False)
        cov = pd.DataFrame(result.coverage)
        with atomic_path(folder / "coverage.csv") as tmp:
            cov.to_csv(tmp, index=False, encoding="utf-8")
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
    if scheduler not in ("local", "sync"):
        _require_dask(scheduler)  # before any planning or output
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
        _require_dask(scheduler)
        try:
            from dask.distributed import Client, LocalCluster, as_completed
        except ImportError as exc:  # pragma: no cover - checked by _require_dask
            raise ImportError(
                f"scheduler={scheduler!r} needs dask.distributed, which could not be imported "
                f"({exc}); install the optional extra: pip install 'lifecircle-geo[dask]'"
            ) from None

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
    "status",
]


def rollup(
    out: str | os.PathLike, tasks: list[Task], status: dict[str, TaskResult] | None = None
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Combine the finished tasks' ``coverage.csv`` into the city tables.

    Writes ``out/city_summary.csv`` (UTF-8 with BOM, for Excel) with one row per 街镇 ×
    category (``level = "jiezhen"``) and per district × category (``level = "district"``),
    and ``out/city_coverage.xlsx`` with bilingual headers: 街镇, district and unit coverage and
    the task list, with :func:`lifecircle_geo.coverage.rollup`: population, covered and reached
    population are sums; ``share`` is covered / population and ``mean_walk_min`` is weighted by
    reached population; the 90th percentile cannot be recomputed from unit rows and is left out.

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
    from .report import write_tables

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
    write_tables(xlsx_path, sheets)
    log.info("wrote %s and %s", csv_path, xlsx_path)
    return summary, {"city_summary": csv_path, "city_coverage": xlsx_path}
