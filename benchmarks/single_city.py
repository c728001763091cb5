"""One ``lc.analyze`` on a large synthetic city: the single-run case of issue 13.

A jittered street grid (:func:`lifecircle_geo.mock.grid_city`, 600,000 nodes by default) in
UTM 51N, cut into 1,600 square units (40 × 40) grouped into 街镇 of 3 × 3 units and districts
of 4 × 4 街镇, area type 中心城; 488,000 resident points (uniform, 51 people each, about 25
million residents); 120,000 facilities spread evenly over the 20 categories of
``shanghai-2025``; packages on, isochrone polygons off. Everything is synthetic.

Reported: seconds of building the inputs, of ``analyze`` (with its own stage log at INFO), of
``result.write(outputs=["gpkg"])``, and the process's peak resident memory (``ru_maxrss``).
Nothing is asserted.

Usage::

    python benchmarks/single_city.py                 # 600,000 nodes, a few minutes
    python benchmarks/single_city.py --nodes 50000   # a quick look

Writes ``benchmarks/results/single_city.json`` (``--out``) and prints a line per stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import lifecircle_geo as lc
from lifecircle_geo.mock import grid_city

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def build(n_nodes: int, n_units_side: int, n_residents: int, n_facilities: int, seed: int):
    x, y, u, v, length = grid_city(n_nodes, seed=seed)
    x = x + 350_000.0  # UTM 51N around Shanghai
    y = y + 3_450_000.0
    net = lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651)
    x0, y0, x1, y1 = x.min(), y.min(), x.max(), y.max()
    xs = np.linspace(x0, x1, n_units_side + 1)
    ys = np.linspace(y0, y1, n_units_side + 1)
    rows = []
    for i in range(n_units_side):
        for j in range(n_units_side):
            jz = f"J{i // 3:02d}{j // 3:02d}"
            rows.append(
                {
                    "unit_id": f"U{i:03d}{j:03d}",
                    "jiezhen_code": jz,
                    "jiezhen_name": f"街镇{jz}",
                    "district_code": f"D{i // 12:02d}{j // 12:02d}",
                    "area_type": "中心城",
                    "geometry": shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]),
                }
            )
    units = gpd.GeoDataFrame(rows, crs=32651)
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(x0, x1, n_residents), rng.uniform(y0, y1, n_residents)])
    residents = gpd.GeoDataFrame(
        {"population": np.full(n_residents, 51.0)},
        geometry=shapely.points(pts),
        crs=32651,
    )
    prof = lc.load_profile("shanghai-2025")
    cats = np.array(prof.category_ids, dtype=object)
    fpts = np.column_stack([rng.uniform(x0, x1, n_facilities), rng.uniform(y0, y1, n_facilities)])
    cat = cats[np.arange(n_facilities) % len(cats)]
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i}" for i in range(n_facilities)],
            "name": [f"设施{i}" for i in range(n_facilities)],
            "category": cat,
            "facility_type": cat,
            "source": "synthetic",
            "rule": "synthetic",
            "capacity": np.nan,
        },
        geometry=shapely.points(fpts),
        crs=32651,
    ).to_crs(4326)
    return net, fac, units, residents


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=600_000)
    ap.add_argument("--units-side", type=int, default=40)
    ap.add_argument("--residents", type=int, default=488_000)
    ap.add_argument("--facilities", type=int, default=120_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "single_city.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("lifecircle_geo.facilities").setLevel(logging.WARNING)
    lc.configure(progress=False)
    t0 = time.perf_counter()
    net, fac, units, residents = build(
        args.nodes, args.units_side, args.residents, args.facilities, args.seed
    )
    t_build = time.perf_counter() - t0
    print(
        f"inputs: {net.n_nodes:,} nodes, {len(units):,} units, {len(residents):,} residents, "
        f"{len(fac):,} facilities in {t_build:.1f} s",
        flush=True,
    )
    t0 = time.perf_counter()
    result = lc.analyze(net, fac, units, residents, isochrone_polygons=False)
    t_analyze = time.perf_counter() - t0
    print(f"analyze: {t_analyze:.1f} s", flush=True)
    out = Path(tempfile.mkdtemp(prefix="single_city_"))
    try:
        t0 = time.perf_counter()
        result.write(out, outputs=["gpkg"])
        t_write = time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"write (GeoPackage): {t_write:.1f} s", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "parameters": vars(args),
        "nodes": int(net.n_nodes),
        "edges": int(net.n_edges),
        "units": len(units),
        "residents": len(residents),
        "facilities": len(fac),
        "build_s": round(t_build, 1),
        "analyze_s": round(t_analyze, 1),
        "write_gpkg_s": round(t_write, 1),
        "peak_mib": round(peak_mib),
        "gaps": len(result.gaps),
        "projects": len(pd.DataFrame(result.projects)),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
