"""Street-node candidates per unit against package quality, on districts of the synthetic city.

For each district (default 金山区 310116, rural with 5 km items, and 黄浦区 310101, central),
the task inputs as ``lifecircle batch`` by district builds them (see
``benchmarks/pandana_district.py``), one ``lc.analyze`` without packages, then
:func:`lifecircle_geo.packages.select_packages` with ``candidates(max_per_unit=k)`` for k in
200, 100, 50, 25: seconds, candidates, and the objective (target-group people × priority
weight brought within reach) relative to k = 200. Nothing is asserted.

Usage::

    python benchmarks/candidates.py
    python benchmarks/candidates.py --districts 310115
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import lifecircle_geo as lc
from lifecircle_geo import packages

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pandana_district import district_inputs, ours


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--districts", nargs="*", default=["310116", "310101"])
    ap.add_argument("--per-unit", nargs="*", type=int, default=[200, 100, 50, 25])
    args = ap.parse_args()
    lc.configure(progress=False)
    print("| district | candidates per unit | candidates | seconds | objective vs 200 |")
    print("|---|---|---|---|---|")
    for district in args.districts:
        _, inputs = district_inputs(district)
        r = ours(inputs)
        net = r.network
        snap = net.snap(r.demand.geometry)
        base = None
        for k in args.per_unit:
            cand = packages.candidates(net, r.units, max_per_unit=k)
            t0 = time.perf_counter()
            pk = packages.select_packages(
                net, r.gaps, r.demand, snap, r.units, r.profile, candidates=cand
            )
            seconds = time.perf_counter() - t0
            objective = sum(v["objective"] for v in pk.meta["jiezhen"].values())
            base = objective if base is None else base
            print(
                f"| {district} | {k} | {len(cand):,} | {seconds:.2f} | {objective / base:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
