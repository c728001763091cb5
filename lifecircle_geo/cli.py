"""Command line: ``lifecircle demo | run | batch | profiles | profile show | facilities check``.

Examples
--------
.. code-block:: console

    $ lifecircle demo --out out/demo
    $ lifecircle run my_jiezhen.toml
    $ lifecircle batch city.toml --workers 8 --scheduler dask
    $ lifecircle profile show shanghai-2025
    $ lifecircle facilities check amap_export.csv --coords gcj02
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ._version import __version__
from .coverage import STATUSES
from .errors import LifecircleError

if TYPE_CHECKING:
    from .analysis import AnalysisResult

log = logging.getLogger("lifecircle_geo")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _pad(text: object, width: int, right: bool = False) -> str:
    text = str(text)
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def format_table(df: pd.DataFrame, right: set[str] | None = None) -> str:
    """Format ``df`` as a plain-text table that lines up Chinese (double-width) characters."""
    right = right or set()
    cols = list(df.columns)
    cells = [[str(c) for c in cols]] + [[str(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(_pad(v, widths[i], cols[i] in right) for i, v in enumerate(row)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_table(result: AnalysisResult) -> str:
    """Format the bilingual categories × coverage table the demo prints."""
    s = result.summary()
    show = pd.DataFrame(
        {
            "类别": s["name_zh"],
            "Category": s["name_en"],
            "组 Group": s["group"],
            "分钟 Min": s["tier_min"],
            "覆盖率 Share": (s["share"] * 100).map(lambda x: "    —" if x != x else f"{x:5.1f}%"),
            "目标 Target": (s["target_share"] * 100).map(lambda x: f"{x:.0f}%"),
            "状态 Status": s["status"].map(lambda v: " ".join(STATUSES.get(v, (v, "")))),
        }
    )
    return format_table(show, right={"分钟 Min", "覆盖率 Share", "目标 Target"})


def _cmd_demo(args: argparse.Namespace) -> int:
    from .pipeline import run, sample_config

    t0 = time.perf_counter()
    result, files = run(sample_config(args.out))
    print("示例街道 (synthetic sample) — 15分钟社区生活圈 walking coverage")
    print(
        f"居民 residents: {result.meta['population']:,.0f} · 单元 units: "
        f"{result.meta['n_units']} · 设施 facilities: {result.meta['n_facilities']} · "
        f"步速 walk speed: {result.meta['walk_speed_kmh']} km/h"
    )
    print()
    print(summary_table(result))
    print()
    print(
        f"缺口 gaps: {len(result.gaps)} · 建议选址 suggested sites: {len(result.sites)} · "
        f"项目 projects: {len(result.projects)}"
    )
    _print_files(files)
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


def _print_files(files: dict) -> None:
    print("输出 outputs:")
    for key, value in files.items():
        for p in value if isinstance(value, list) else [value]:
            print(f"  {key:8s} {p}")


def _cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import run

    result, files = run(Path(args.config), args.out)
    print(summary_table(result))
    _print_files(files)
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from . import batch

    res = batch.run(
        Path(args.config),
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        restart=args.restart,
    )
    print(
        f"任务 tasks: {len(res.tasks)} · 完成 done: {len(res.done)} · 跳过 skipped (already "
        f"done): {len(res.skipped)} · 失败 failed: {len(res.failed)}"
    )
    for key, path in res.files.items():
        print(f"  {key:14s} {path}")
    for error in res.failed.values():
        print(f"failed: {error}", file=sys.stderr)
    return 0 if res.ok else 1


def _cmd_profiles(args: argparse.Namespace) -> int:
    from .standards import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        print(f"{name:16s} {len(p.categories):3d} categories  {p.name_zh}")
    return 0


def _cmd_profile_show(args: argparse.Namespace) -> int:
    from .standards import load_profile

    p = load_profile(args.name)
    t = p.table(args.area_type)
    t["target_share"] = (t["target_share"] * 100).map(lambda x: f"{x:.0f}%")
    t["threshold_m"] = t["threshold_m"].map(lambda x: f"{x:.0f}")
    print(f"{p.id}: {p.name_zh}\n{p.name_en}\n")
    print(
        format_table(
            t.drop(columns=["facility_types"]), right={"tier_min", "threshold_m", "target_share"}
        )
    )
    return 0


#: suffixes read as OSM data by ``lifecircle facilities check``
_OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".o5m")


def _cmd_facilities_check(args: argparse.Namespace) -> int:
    from . import facilities as lc_facilities
    from .errors import InputError

    path = Path(args.table)
    if not path.exists():
        raise InputError(f"facility table {path} does not exist")
    if path.name.lower().endswith(_OSM_SUFFIXES):
        fac = lc_facilities.from_osm(path, profile=args.profile)
    else:
        sheet: str | int = int(args.sheet) if str(args.sheet).isdigit() else args.sheet
        fac = lc_facilities.from_table(path, coords=args.coords, profile=args.profile, sheet=sheet)
    rep = lc_facilities.classification_report(fac, profile=args.profile)
    n = max(0, int(args.rows))
    print(rep.summary())
    sections = (
        ("按规则 rows by rule", rep.by_rule, {"count"}),
        ("未归类 left out", rep.left_out.drop(columns=["source", "id", "lon", "lat"]), {"row"}),
        (
            "可疑 suspicious",
            rep.suspicious[["name", "classified_as_zh", "name_says_zh", "why"]],
            set(),
        ),
    )
    for title, table, right in sections:
        if not len(table):
            continue
        head = table.head(n)
        shown = head.astype(object).where(head.notna(), "")
        more = f" (first {n} of {len(table)})" if len(table) > n else ""
        print(f"\n{title}{more}:")
        print(format_table(shown, right=right))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the ``lifecircle`` argument parser."""
    ap = argparse.ArgumentParser(
        prog="lifecircle",
        description=("Walking access to the 十全十美 community services (15分钟社区生活圈)."),
    )
    ap.add_argument("--version", action="version", version=f"lifecircle_geo {__version__}")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="analyse the embedded sample and write out/demo")
    d.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    d.set_defaults(func=_cmd_demo)
    from .pipeline import config_help

    r = sub.add_parser(
        "run",
        help="run the pipeline described by a TOML config",
        description="Run the pipeline described by a TOML config: network, facilities, units "
        "and residents → coverage, gaps, suggested sites and the project list.",
        epilog=config_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("config", help="the run config (.toml)")
    r.add_argument("--out", default=None, help="output folder (default: the config's out)")
    r.set_defaults(func=_cmd_run)
    b = sub.add_parser("batch", help="run a TOML config per 街镇 (or district), resumably")
    b.add_argument("config")
    b.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: CPU count)"
    )
    b.add_argument(
        "--scheduler",
        default="local",
        help="local (processes), dask (a local Dask cluster), a Dask scheduler "
        "address such as tcp://host:8786, or sync (in-process)",
    )
    b.add_argument(
        "--restart", action="store_true", help="ignore out/manifest.json and run every task again"
    )
    b.add_argument("--out", default=None, help="output folder (default: the config's out)")
    b.set_defaults(func=_cmd_batch)
    pl = sub.add_parser("profiles", help="list the built-in standards profiles")
    pl.set_defaults(func=_cmd_profiles)
    ps = sub.add_parser("profile", help="show a profile")
    ps_sub = ps.add_subparsers(dest="action", required=True)
    show = ps_sub.add_parser("show", help="print a profile as a table")
    show.add_argument("name")
    show.add_argument("--area-type", default=None, help="中心城, 新城, 新市镇 or 乡村")
    show.set_defaults(func=_cmd_profile_show)
    fa = sub.add_parser("facilities", help="check how a facility table is classified")
    fa_sub = fa.add_subparsers(dest="action", required=True)
    check = fa_sub.add_parser(
        "check",
        help="print what a facility table (or OSM file) is read as",
        description="Classify a facility table (CSV, XLSX, GeoJSON, GPKG, SHP; or an OSM "
        "file) with a profile and print the classification report: rows per category and "
        "rule, the rows left out and why, and suspicious rows whose names point elsewhere.",
    )
    check.add_argument("table", help="the facility table (or .osm / .osm.pbf)")
    check.add_argument(
        "--coords",
        default="wgs84",
        help="coordinate system of the table: wgs84 (default), gcj02 (Amap, Tencent), bd09 (Baidu)",
    )
    check.add_argument("--profile", default="shanghai-2025", help="profile name or .toml file")
    check.add_argument("--sheet", default="0", help="Excel sheet (name or number, default 0)")
    check.add_argument("--rows", default=20, type=int, help="rows shown per table (default 20)")
    check.set_defaults(func=_cmd_facilities_check)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lifecircle`` command."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except LifecircleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
