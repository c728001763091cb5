"""City-scale benchmark: the synthetic Shanghai through ``lifecircle batch``, stage by stage.

1. **generate**: :func:`lifecircle_geo.synth.shanghai` writes the whole synthetic city (real
   街镇 boundaries and census totals from ``../shared/data/shanghai``, fictional streets,
   facilities, residents and units) into ``benchmarks/_data/`` (reused when its parameters
   match; ``--regen`` writes it again).
2. **city reads**: what every batch task reads in full today: the city PBF's walkable ways
   (``read_walk_ways``), the whole walk network (``WalkNetwork.from_osm`` without a boundary:
   nodes and edges of the city) and the facilities (``facilities.from_osm``).
3. **stages**: a sample of tasks (one 街镇 of each kind: central 街道 and 镇, suburban 街道
   and 镇, Chongming, an industrial zone) run in one process through
   :func:`lifecircle_geo.batch.run_task` with timers wrapped around the pipeline's functions:
   parse, network, facilities, residents (and the rest of reading the inputs), snap, engine,
   coverage, packages (gaps, sites, project list), isochrones, the rest of ``analyze``, and
   the outputs (GeoPackage, Excel, HTML map, figures). Times are exclusive (a stage's own
   time, not its callees' that are stages too) and sum to the task's time.
4. **batch**: ``batch.run`` with local processes and with a Dask ``LocalCluster`` (same
   workers), each in a fresh process whose process tree's memory (RSS summed over the process
   and its children, sampled every 0.2 s with psutil, else ``ru_maxrss`` of the children)
   gives the peak. The whole city when it fits the time budget (``--budget-min``), else the
   districts given by ``--districts`` (default 黄浦区), extrapolated to the city by task count
   and by units.

Every heavy step runs in a child process started by this script (``--child``), so the
parent's memory does not count. Nothing is asserted; the numbers go to
``benchmarks/results/city_scale.json`` and ``city_scale.md``.

Usage::

    python benchmarks/city_scale.py                      # sample stages + 黄浦区 batch, ~6-10 min
    python benchmarks/city_scale.py --full               # the whole city through both schedulers
    python benchmarks/city_scale.py --quick              # density 0.25, 3 sample tasks, local only
    python benchmarks/city_scale.py --profile 310101002  # cProfile of one task (top 40 by cumtime)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data"
RESULTS = ROOT / "benchmarks" / "results"

#: stage → (module, attribute) of the functions timed; a missing one is skipped
STAGES = [
    # read once per batch run by the parent (CityInputs), then cut per task
    ("city: ways", "lifecircle_geo.batch", "read_walk_ways"),
    ("city: facilities", "lifecircle_geo.facilities", "from_osm"),
    ("city: residents", "lifecircle_geo.population", "from_points"),
    ("city: residents", "lifecircle_geo.population", "from_raster"),
    ("city: residents", "lifecircle_geo.batch", "CityInputs._owner"),
    ("city (other)", "lifecircle_geo.batch", "CityInputs.__init__"),
    ("split", "lifecircle_geo.batch", "CityInputs.for_task"),
    # per task
    ("network", "lifecircle_geo.network.walknetwork", "WalkNetwork._from_raw"),
    ("inputs (other)", "lifecircle_geo.batch", "_task_inputs"),
    ("snap", "lifecircle_geo.network.walknetwork", "WalkNetwork.snap"),
    ("engine", "lifecircle_geo.analysis", "nearest_by_category"),
    ("engine", "lifecircle_geo.analysis", "service_load"),
    ("coverage", "lifecircle_geo.analysis", "summarize"),
    ("coverage", "lifecircle_geo.analysis", "apply_status"),
    ("coverage", "lifecircle_geo.analysis", "rollup"),
    ("packages", "lifecircle_geo.analysis", "rank_gaps"),
    ("packages", "lifecircle_geo.analysis", "suggest_sites"),
    ("packages", "lifecircle_geo.analysis", "project_list"),
    ("isochrones", "lifecircle_geo.analysis", "isochrones"),
    ("isochrones", "lifecircle_geo.analysis", "travel_time_raster"),
    ("analyze (other)", "lifecircle_geo.pipeline", "analyze"),
    ("analyze (other)", "lifecircle_geo.batch", "analyze_inputs"),
    ("out: gpkg", "lifecircle_geo.report.gpkg", "write_gpkg"),
    ("out: excel", "lifecircle_geo.report.excel", "write_excel"),
    ("out: map", "lifecircle_geo.report.html", "write_map"),
    ("out: figures", "lifecircle_geo.report.figures", "write_figures"),
    ("out: other", "lifecircle_geo.analysis", "AnalysisResult.write"),
    ("task (other)", "lifecircle_geo.batch", "run_task"),
]
#: stages done once per batch run (not per task)
CITY_STAGES = ("city: ways", "city: facilities", "city: residents", "city (other)")
#: the 街镇 kinds sampled for the stage breakdown (zone names of synthetic_meta.json)
SAMPLE_ZONES = (
    "central 街道",
    "central 镇",
    "suburban 街道",
    "suburban 镇",
    "Chongming 镇",
    "industrial zone",
)


# ---------------------------------------------------------------------------- children
class StageTimer:
    """Exclusive wall time per stage of wrapped functions (callees that are stages excluded)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self._stack = []

    def wrap(self, stage, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            self._stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                inner = self._stack.pop()
                self.seconds[stage] += dt - inner
                self.calls[stage] += 1
                if self._stack:
                    self._stack[-1] += dt

        return timed

    def install(self):
        import importlib

        installed = []
        for stage, module, attr in STAGES:
            try:
                mod = importlib.import_module(module)
            except ImportError:
                continue
            owner_name, _, name = attr.rpartition(".")
            owner = getattr(mod, owner_name) if owner_name else mod
            raw = owner.__dict__.get(name) if owner_name else getattr(mod, name, None)
            if raw is None:
                continue
            if isinstance(raw, classmethod):
                setattr(owner, name, classmethod(self.wrap(stage, raw.__func__)))
            else:
                setattr(owner, name, self.wrap(stage, raw))
            installed.append(f"{module}.{attr}")
        return installed


def child_generate(args, out):
    from lifecircle_geo import synth

    t0 = time.perf_counter()
    city = synth.shanghai(
        args.city,
        districts=args.districts_gen,
        density=args.density,
        seed=args.seed,
        options={"isochrone_polygons": False},
    )
    return {"seconds": time.perf_counter() - t0, "counts": city.counts, "config": str(city.config)}


def child_city_reads(args, out):
    import lifecircle_geo as lc
    from lifecircle_geo.network.osm import read_walk_ways

    pbf = Path(args.city) / "shanghai_synthetic.osm.pbf"
    res = {}
    t0 = time.perf_counter()
    raw = read_walk_ways(pbf)
    res["read_walk_ways_s"] = time.perf_counter() - t0
    res["way_vertices"] = int(raw.n_vertices)
    del raw
    t0 = time.perf_counter()
    net = lc.WalkNetwork.from_osm(pbf, keep="all")
    res["walknetwork_from_osm_s"] = time.perf_counter() - t0
    res["network_nodes"] = len(net.x_m)
    res["network_edges"] = len(net.u)
    res["network_km"] = float(net.length_m.sum() / 1000.0)
    del net
    t0 = time.perf_counter()
    fac = lc.facilities.from_osm(pbf)
    res["facilities_from_osm_s"] = time.perf_counter() - t0
    res["facilities"] = len(fac)
    return res


def child_stages(args, out):
    import dataclasses

    import lifecircle_geo as lc
    from lifecircle_geo import batch

    lc.configure(progress=False)
    timer = StageTimer()
    installed = timer.install()
    tasks = {t.key: t for t in batch.plan(args.config)}
    t0 = time.perf_counter()
    city = batch.CityInputs(next(iter(tasks.values())).inputs["config"])
    city_s = time.perf_counter() - t0
    city_stages = dict(timer.seconds)
    rows = []
    for key in args.keys:
        timer.seconds.clear()
        timer.calls.clear()
        t0 = time.perf_counter()
        task = dataclasses.replace(tasks[key], data=city.for_task(tasks[key]))
        # one writing process: every stage's time is its own (the figures' included)
        res = batch.run_task(task, Path(out).parent / "stages_out", write_processes=1)
        wall = time.perf_counter() - t0
        stages = dict(timer.seconds)
        # then end to end as a user runs one 街镇: the figures drawn in a second process
        t0 = time.perf_counter()
        task = dataclasses.replace(tasks[key], data=city.for_task(tasks[key]))
        batch.run_task(task, Path(out).parent / "stages_out")
        wall_default = time.perf_counter() - t0
        rows.append(
            {
                "key": key,
                "seconds": wall,
                "seconds_default": wall_default,
                "stages": stages,
                "n_units": res.summary["n_units"],
                "population": res.summary["population"],
                "n_facilities": res.summary["n_facilities"],
                "n_network_nodes": res.summary["n_network_nodes"],
                "buffer_m": res.summary["buffer_m"],
            }
        )
        print(
            f"  task {key}: {wall:.1f} s, {wall_default:.1f} s writing in two processes",
            file=sys.stderr,
            flush=True,
        )
    return {"installed": installed, "city_s": city_s, "city_stages": city_stages, "tasks": rows}


def child_batch(args, out):
    import lifecircle_geo as lc
    from lifecircle_geo import batch

    lc.configure(progress=False)
    timer = StageTimer()
    timer.install()  # this process only: the parent's city read and split
    t0 = time.perf_counter()
    tasks = batch.plan(args.config)
    plan_s = time.perf_counter() - t0
    if args.keys:
        wanted = set(args.keys)
        tasks = [t for t in tasks if t.key in wanted]
    import shutil

    shutil.rmtree(Path(args.batch_out) / "_cache", ignore_errors=True)  # a cold run
    t0 = time.perf_counter()
    res = batch.run(
        args.config,
        args.batch_out,
        scheduler=args.scheduler,
        workers=args.workers,
        restart=True,
        progress=False,
        tasks=tasks,
    )
    wall = time.perf_counter() - t0
    task_s = [r.seconds for r in res.tasks.values()]
    parent = {k: round(v, 2) for k, v in timer.seconds.items() if k in (*CITY_STAGES, "split")}
    return {
        "seconds": wall,
        "plan_s": plan_s,
        "parent_stages": parent,
        "tasks": len(tasks),
        "units": sum(len(t.unit_ids) for t in tasks),
        "done": len(res.done),
        "failed": res.failed,
        "task_seconds_sum": sum(task_s),
        "task_seconds_max": max(task_s) if task_s else 0.0,
    }


def child_profile(args, out):
    import cProfile
    import io
    import pstats

    import lifecircle_geo as lc
    from lifecircle_geo import batch

    lc.configure(progress=False)
    task = next(t for t in batch.plan(args.config) if t.key == args.keys[0])
    prof = cProfile.Profile()
    prof.enable()
    batch.run_task(task, Path(out).parent / "profile_out")
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
    return {"profile": buf.getvalue()}


CHILDREN = {
    "generate": child_generate,
    "city_reads": child_city_reads,
    "stages": child_stages,
    "batch": child_batch,
    "profile": child_profile,
}


# ---------------------------------------------------------------------------- parent
def tree_rss(proc):
    total = 0
    with contextlib.suppress(Exception):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(Exception):
                total += p.memory_info().rss
    return total


def cpu_times():
    """The machine's CPU time counters (the ``cpu`` line of /proc/stat), or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def steal_pct(before, after):
    """Share of the machine's CPU time taken by other virtual machines (steal) in between.

    On a shared VM this is time the benchmark wanted and did not get: a run with 30 % steal is
    slower for that reason alone, so it is recorded beside each wall time.
    """
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    d = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(d)  # user, nice, system, idle, iowait, irq, softirq, steal
    return round(100.0 * d[7] / total, 1) if total > 0 else None


def run_child(kind, argv, timeout_s):
    """Run a child step; returns (result dict or None, wall s, peak tree RSS MiB, timed out).

    A result dict gets ``cpu_steal_pct``: the machine's CPU steal while the step ran.
    """
    cpu0 = cpu_times()
    out = DATA / f"_child_{kind}.json"
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, *argv], cwd=ROOT)
    peak = [0]
    stop = threading.Event()
    try:
        import psutil

        ps = psutil.Process(proc.pid)

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss(ps))
                stop.wait(0.2)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        method = "psutil (process tree RSS, 0.2 s samples)"
    except ImportError:
        psutil = None
        th = None
        method = "resource ru_maxrss of children (largest single process)"
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        if psutil is not None:
            for p in ps.children(recursive=True):
                with contextlib.suppress(Exception):
                    p.kill()
        proc.kill()
        proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    if th is not None:
        th.join()
    if psutil is None:
        import resource

        peak[0] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result = None
    if out.exists():
        result = json.loads(out.read_text(encoding="utf-8"))
    elif not timed_out:
        result = {"error": f"the {kind} step failed (exit code {proc.returncode}); see its output"}
    if isinstance(result, dict):
        result["cpu_steal_pct"] = steal_pct(cpu0, cpu_times())
    return result, wall, peak[0] / 2**20, timed_out, method


def pick_sample(meta, n):
    by_zone = {}
    for row in meta["jiezhen"]:
        by_zone.setdefault(row["zone"], row["jiezhen_code"])
    keys = [by_zone[z] for z in SAMPLE_ZONES if z in by_zone]
    return keys[:n]


def fmt_table(rows, cols):
    head = " | ".join(cols)
    lines = [f"| {head} |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--density", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=6, help="tasks in the stage breakdown")
    ap.add_argument("--districts", nargs="*", default=["310101"], help="batch subset")
    ap.add_argument("--max-tasks", type=int, default=0, help="at most this many subset tasks")
    ap.add_argument("--full", action="store_true", help="the whole city through batch")
    ap.add_argument(
        "--by",
        default="jiezhen_code",
        choices=["jiezhen_code", "district_code"],
        help="one batch task per 街镇 (a district drafting) or per district (the city office)",
    )
    ap.add_argument("--outputs", nargs="*", help="[batch] outputs of the batch runs (default: all)")
    ap.add_argument("--schedulers", nargs="*", default=["local", "dask"])
    ap.add_argument("--budget-min", type=float, default=10.0, help="per batch run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--skip-city-reads", action="store_true")
    ap.add_argument(
        "--merge", action="store_true", help="update the results file instead of replacing it"
    )
    ap.add_argument("--profile", metavar="KEY", help="cProfile one task and stop")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    ap.add_argument("--out", default=str(RESULTS / "city_scale.json"))
    # child options
    ap.add_argument("--child", choices=sorted(CHILDREN))
    ap.add_argument("--child-out")
    ap.add_argument("--city")
    ap.add_argument("--config")
    ap.add_argument("--keys", nargs="*")
    ap.add_argument("--scheduler")
    ap.add_argument("--batch-out")
    ap.add_argument("--districts-gen", nargs="*")
    args = ap.parse_args()

    if args.child:
        res = CHILDREN[args.child](args, args.child_out)
        Path(args.child_out).write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")
        return 0

    if args.render:
        doc = json.loads(Path(args.out).read_text(encoding="utf-8"))
        Path(args.out).with_suffix(".md").write_text(render_md(doc), encoding="utf-8")
        return 0
    if args.quick:
        args.density = min(args.density, 0.25)
        args.sample = min(args.sample, 3)
        args.schedulers = ["local"]
    DATA.mkdir(parents=True, exist_ok=True)
    city = DATA / f"synth_shanghai_d{args.density:g}_s{args.seed}"
    common = ["--city", str(city), "--density", str(args.density), "--seed", str(args.seed)]
    out = Path(args.out)
    previous = {}
    if args.merge and out.exists():
        previous = json.loads(out.read_text(encoding="utf-8"))
    report = {
        **previous,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "parameters": {k: getattr(args, k) for k in ("density", "seed", "workers", "sample")},
        "command": " ".join(["python", "benchmarks/city_scale.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.sample == 0 and previous.get("parameters"):
        report["parameters"]["sample"] = previous["parameters"]["sample"]

    # 1. generate (or reuse)
    meta_path = city / "synthetic_meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else None
    fresh = (
        meta is not None
        and meta["parameters"]["density"] == args.density
        and (meta["parameters"]["seed"] == args.seed and meta["parameters"]["districts"] is None)
    )
    if args.regen or not fresh:
        print(f"generating the synthetic city into {city} ...", flush=True)
        res, wall, peak, _, method = run_child("generate", common, 600)
        report["generate"] = {"wall_s": round(wall, 2), "peak_mib": round(peak), **res}
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    elif previous.get("generate", {}).get("wall_s"):
        report["generate"] = previous["generate"]
    else:
        report["generate"] = {"reused": str(city), "seconds_when_written": meta["seconds"]}
    report["city"] = meta["counts"]
    config = str(city / "batch_synthetic.toml")
    batch_config = config
    if args.by != "jiezhen_code" or args.outputs is not None:
        # a variant of the written config (same folder: its relative paths hold)
        text = Path(config).read_text(encoding="utf-8")
        extra = f'by = "{args.by}"'
        if args.outputs is not None:
            extra += "\noutputs = [" + ", ".join(f'"{o}"' for o in args.outputs) + "]"
        text = text.replace('by = "jiezhen_code"', extra)
        chosen = "-".join(args.outputs) if args.outputs is not None else "default"
        name = f"batch_{args.by}_{chosen}"
        batch_config = str(city / f"{name}.toml")
        Path(batch_config).write_text(text, encoding="utf-8")
    common += ["--config", config]

    if args.profile:
        res, wall, peak, _, _ = run_child("profile", [*common, "--keys", args.profile], 600)
        print(res["profile"])
        return 0

    # 2. what each task reads in full
    if not args.skip_city_reads:
        print("reading the whole city once (what every task reads today) ...", flush=True)
        res, wall, peak, _, method = run_child("city_reads", common, 600)
        report["city_reads"] = {"wall_s": round(wall, 2), "peak_mib": round(peak), **(res or {})}
        report["memory_method"] = method

    # 3. stage breakdown on a sample of tasks
    if args.sample > 0:
        keys = pick_sample(meta, args.sample)
        print(f"stage breakdown on {keys} ...", flush=True)
        res, wall, peak, timed_out, _ = run_child(
            "stages", [*common, "--keys", *keys], int(args.budget_min * 60)
        )
        report["stages"] = {
            "wall_s": round(wall, 2),
            "peak_mib": round(peak),
            "timed_out": timed_out,
            **(res or {}),
        }

    # 4. batch: local processes and a Dask LocalCluster
    n_tasks_city = (
        meta["counts"]["jiezhen"]
        if args.by == "jiezhen_code"
        else len({r["district_code"] for r in meta["jiezhen"]})
    )
    units_city = meta["counts"]["units"]
    sample_tasks = report.get("stages", {}).get("tasks", [])
    mean_task = sum(t["seconds"] for t in sample_tasks) / max(1, len(sample_tasks))
    city_once = report.get("stages", {}).get("city_s", 0.0)  # read once per batch run
    # the sample is one 街镇 per task: its estimate is for a batch by 街镇
    estimate_city = city_once + mean_task * meta["counts"]["jiezhen"] / max(1, args.workers)
    report["estimate_city_s_from_sample"] = round(estimate_city)
    subset = None
    if not args.full and args.by == "district_code":
        subset = list(args.districts)
    elif not args.full:
        subset = [
            r["jiezhen_code"] for r in meta["jiezhen"] if r["district_code"] in set(args.districts)
        ]
        if args.max_tasks:
            subset = subset[: args.max_tasks]
    report.setdefault("batch", {})
    for sched in args.schedulers:
        label = "whole city" if subset is None else f"{len(subset)} tasks of {args.districts}"
        print(f"batch ({sched}, {args.workers} workers) on {label} ...", flush=True)
        argv = [
            *[a if a != config else batch_config for a in common],
            "--scheduler",
            sched,
            "--batch-out",
            str(
                city / f"batch_{sched}"
                if batch_config == config
                else city / f"{Path(batch_config).stem}_{sched}"
            ),
            "--workers",
            str(args.workers),
        ]
        if subset is not None:
            argv += ["--keys", *subset]
        res, wall, peak, timed_out, _ = run_child("batch", argv, int(args.budget_min * 60))
        row = {"wall_s": round(wall, 2), "peak_mib": round(peak), "timed_out": timed_out}
        row.update(res or {})
        if res and subset is not None and "tasks" in res:
            # the parent reads the city once; the tasks scale with their number (or units)
            once = sum((res.get("parent_stages") or {}).values())
            row["city_by_tasks_s"] = round(once + (wall - once) * n_tasks_city / res["tasks"])
            row["city_by_units_s"] = round(once + (wall - once) * units_city / res["units"])
        by_label = "" if batch_config == config else f" ({Path(batch_config).stem})"
        report["batch"][sched + by_label] = row

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    md = render_md(report)
    out.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    return 0


def render_md(r):
    c = r["city"]
    lines = [
        "# City-scale benchmark (synthetic Shanghai)",
        "",
        f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
        f"parameters {r['parameters']}. Memory: {r.get('memory_method', '')}. "
        f"Run {r.get('date', '')}: `{r.get('command', '')}` (a machine shared with other work: "
        "compare ratios, not absolute seconds).",
        "",
        f"City: {c['jiezhen']} 街镇, {c['units']:,} units, {c['population']:,} residents in "
        f"{c['residents']:,} points, {c['street_nodes']:,} street nodes ({c['grid_nodes']:,} "
        f"grid nodes), {c['osm_nodes']:,} OSM nodes, {c['osm_ways']:,} ways, "
        f"{c['facilities']:,} facilities, PBF {c['pbf_bytes'] / 2**20:.1f} MiB.",
        "",
    ]
    g = r["generate"]
    if "wall_s" in g:
        lines.append(f"Generate: {g['wall_s']} s wall, peak {g['peak_mib']} MiB.")
    else:
        lines.append(
            f"Generate: reused {g['reused']} (stages when written: {g['seconds_when_written']})."
        )
    cr = r.get("city_reads", {})
    if cr:
        lines += [
            "",
            "Whole-city reads (a batch run now does them once, in the parent; each task gets "
            "its part):",
            f"read_walk_ways {cr.get('read_walk_ways_s', 0):.1f} s "
            f"({cr.get('way_vertices', 0):,} way vertices); WalkNetwork.from_osm of the city "
            f"{cr.get('walknetwork_from_osm_s', 0):.1f} s ({cr.get('network_nodes', 0):,} nodes, "
            f"{cr.get('network_edges', 0):,} edges, {cr.get('network_km', 0):,.0f} km); "
            f"facilities.from_osm {cr.get('facilities_from_osm_s', 0):.1f} s "
            f"({cr.get('facilities', 0):,} rows); peak {cr.get('peak_mib')} MiB.",
        ]
    st = r.get("stages", {})
    if st.get("tasks"):
        names = []
        for stage, _, _ in STAGES:
            if stage not in names:
                names.append(stage)
        rows = []
        for t in st["tasks"]:
            row = {
                "task": t["key"],
                "total s": f"{t['seconds']:.1f}",
                "end to end s": f"{t['seconds_default']:.1f}" if "seconds_default" in t else "",
                "nodes": f"{t['n_network_nodes']:,}",
                "units": t["n_units"],
                "POIs": f"{t['n_facilities']:,}",
            }
            for n in names:
                row[n] = f"{t['stages'].get(n, 0.0):.2f}"
            rows.append(row)
        stages = ["task", "total s", "end to end s", "nodes", "units", "POIs", *names]
        lines += [
            "",
            f"Stage breakdown, one task per kind of 街镇, in one process (peak "
            f"{st['peak_mib']} MiB). 'total s' and the stages: outputs written one after "
            "another; 'end to end s': the same task as `lifecircle run` or a one-task batch "
            "runs it, the figures and summary page drawn in a second process meanwhile:",
            "",
            fmt_table(rows, stages),
        ]
        if "city_s" in st:
            cs = ", ".join(f"{k} {v:.1f} s" for k, v in st.get("city_stages", {}).items())
            lines += ["", f"City inputs read once before the tasks: {st['city_s']:.1f} s ({cs})."]
        total = sum(t["seconds"] for t in st["tasks"])
        share = {n: sum(t["stages"].get(n, 0.0) for t in st["tasks"]) / total for n in names}
        top = sorted(share.items(), key=lambda kv: -kv[1])
        lines.append("")
        lines.append(
            "Share of the sampled tasks' time: "
            + ", ".join(f"{n} {v:.0%}" for n, v in top if v >= 0.01)
            + "."
        )
        if all("seconds_default" in t for t in st["tasks"]):
            e2e = [t["seconds_default"] for t in st["tasks"]]
            lines += [
                "",
                f"One 街镇 end to end (two writing processes): mean {sum(e2e) / len(e2e):.1f} s, "
                f"{min(e2e):.1f}–{max(e2e):.1f} s.",
            ]
        lines.append("")
        lines.append(
            f"Mean task {sum(t['seconds'] for t in st['tasks']) / len(st['tasks']):.1f} s: "
            f"the whole city ({c['jiezhen']} tasks) on {r['parameters']['workers']} workers "
            f"would take about {r['estimate_city_s_from_sample']} s (city inputs read once "
            "included)."
        )
    if r.get("batch"):
        rows = []
        for sched, b in r["batch"].items():
            rows.append(
                {
                    "scheduler": sched,
                    "tasks": b.get("tasks", ""),
                    "units": b.get("units", ""),
                    "wall s": b["wall_s"],
                    "peak MiB": b["peak_mib"],
                    "failed": len(b.get("failed", {}) or {}) if "error" not in b else "error",
                    "timed out": b["timed_out"],
                    "sum of task s": round(b.get("task_seconds_sum", 0), 1),
                    "parent: city read + split s": round(
                        sum((b.get("parent_stages") or {}).values()), 1
                    ),
                    "city est. by tasks s": b.get("city_by_tasks_s", ""),
                    "city est. by units s": b.get("city_by_units_s", ""),
                    "CPU steal %": b.get("cpu_steal_pct", ""),
                }
            )
        cols = list(rows[0])
        lines += [
            "",
            "`lifecircle batch` (fresh process; peak = process tree RSS):",
            "",
            fmt_table(rows, cols),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
