"""One district of the synthetic Shanghai: our coverage against the way a pandana user gets it.

The district's task inputs come from the synthetic city that ``benchmarks/city_scale.py``
writes (``benchmarks/_data/synth_shanghai_d1_s0``; run that first). Both sides get the same
street graph, facilities, units and resident points:

* **lifecircle_geo**: ``lc.analyze(..., suggest=False, isochrone_polygons=False)``: every
  category's walk per resident (legs to the street and along the edge included), shares per
  unit, 街镇 and district, statuses and gaps.
* **pandana**: ``pandana.Network`` (contraction hierarchies) on the same nodes and edge costs,
  ``precompute`` to the largest threshold, per category ``set_pois`` + ``nearest_pois`` on
  nodes, residents on their nearest node (``get_node_ids``), then the share of people within
  each unit's threshold with a pandas groupby. This is what a planner's notebook does; it
  leaves out the walk to and along the street, so its shares differ a little.

Reported: seconds of each (best of ``--repeat``), the ratio, and the largest difference of a
unit × category share. Nothing is asserted.

Usage::

    python benchmarks/pandana_district.py              # 310104 徐汇区
    python benchmarks/pandana_district.py --district 310115

Writes ``benchmarks/results/pandana_district.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import lifecircle_geo as lc
from lifecircle_geo import batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import quiet_stdout  # the benchmarks' own helper (pandana prints from C++)

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "benchmarks" / "_data" / "synth_shanghai_d1_s0"
RESULTS = ROOT / "benchmarks" / "results"


def district_inputs(district: str):
    """The district's task inputs, as ``lifecircle batch`` by district builds them."""
    text = (CITY / "batch_synthetic.toml").read_text(encoding="utf-8")
    config = CITY / "batch_pandana_district.toml"
    config.write_text(text.replace('by = "jiezhen_code"', 'by = "district_code"'), "utf-8")
    tasks = batch.plan(config)
    task = next(t for t in tasks if t.key == district)
    city = batch.CityInputs.load(task.inputs["config"], CITY / "batch_pandana_cache")
    task = dataclasses.replace(task, data=city.for_task(task))
    return task.inputs["config"], batch._task_inputs(task, task.data)


def ours(inputs):
    return lc.analyze(
        inputs.network,
        inputs.facilities,
        inputs.units,
        inputs.population,
        suggest=False,
        isochrone_polygons=False,
        progress=False,
    )


def with_pandana(inputs, thresholds: pd.DataFrame, unit_of: np.ndarray):
    import pandana

    net = inputs.network
    t0 = time.perf_counter()
    with quiet_stdout():
        pan = pandana.Network(
            pd.Series(net.x_m),
            pd.Series(net.y_m),
            pd.Series(net.u.astype(np.int64)),
            pd.Series(net.v.astype(np.int64)),
            pd.DataFrame({"w": net.cost_m}),
            twoway=True,
        )
        max_m = float(thresholds["threshold_m"].max())
        pan.precompute(max_m)
        fac = inputs.facilities.to_crs(net.crs)
        pts = fac.geometry.representative_point()
        res = inputs.population.to_crs(net.crs)
        node = pan.get_node_ids(pd.Series(res.geometry.x), pd.Series(res.geometry.y))
        pop = res["population"].to_numpy(dtype=float)
        rows = []
        for cat, sub in fac.groupby("category"):
            p = pts.loc[sub.index]
            pan.set_pois(cat, max_m, 1, pd.Series(p.x.to_numpy()), pd.Series(p.y.to_numpy()))
            d = pan.nearest_pois(max_m, cat, num_pois=1)[1]
            rows.append(
                pd.DataFrame(
                    {
                        "unit_id": unit_of,
                        "category": cat,
                        "population": pop,
                        "walk_m": d.loc[node].to_numpy(),
                    }
                )
            )
    long = pd.concat(rows, ignore_index=True).merge(thresholds, on=["unit_id", "category"])
    long["covered"] = np.where(long["walk_m"] < long["threshold_m"], long["population"], 0.0)
    g = long.groupby(["unit_id", "category"])[["population", "covered"]].sum()
    g["share"] = g["covered"] / g["population"].where(g["population"] > 0)
    return g.reset_index(), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--district", default="310104")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "pandana_district.json"))
    args = ap.parse_args()
    lc.configure(progress=False)
    _, inputs = district_inputs(args.district)
    best_ours, result = float("inf"), None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = ours(inputs)
        best_ours = min(best_ours, time.perf_counter() - t0)
    cov = pd.DataFrame(result.coverage)
    thresholds = cov[["unit_id", "category", "threshold_m"]]
    unit_of = result.demand["unit_id"].to_numpy(dtype=object)
    best_pan, pan = float("inf"), None
    for _ in range(args.repeat):
        pan, seconds = with_pandana(inputs, thresholds, unit_of)
        best_pan = min(best_pan, seconds)
    both = cov.merge(pan, on=["unit_id", "category"], suffixes=("", "_pandana"))
    diff = (both["share"] - both["share_pandana"]).abs()
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "district": args.district,
        "nodes": int(inputs.network.n_nodes),
        "units": len(inputs.units),
        "residents": len(inputs.population),
        "facilities": len(inputs.facilities),
        "lifecircle_geo_analyze_s": round(best_ours, 2),
        "pandana_coverage_s": round(best_pan, 2),
        "ratio_pandana_over_ours": round(best_pan / best_ours, 2),
        "share_diff_max": round(float(diff.max()), 4),
        "share_diff_mean": round(float(diff.mean()), 4),
        "unit_category_rows": len(both),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
