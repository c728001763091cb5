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
import os
import sys
import tempfile
import time
import traceback
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    action = result.gaps["action"].value_counts() if len(result.gaps) else {}
    print(
        f"单元缺口 unit gaps: {len(result.gaps)} (街镇项目 sub-district projects "
        f"{action.get('project', 0)} · 转交主管部门 referred to departments "
        f"{action.get('referral', 0)} · 非优先 not a priority here "
        f"{action.get('not a priority', 0)}) · 项目包 packages: {len(result.packages)} · "
        f"项目 projects: {len(result.projects)}"
    )
    ind = result.indicators
    if len(ind):
        area = ind[ind["level"] == "study_area"]
        met = area["met"].astype("boolean")
        print(
            f"指标 indicators (研究范围 study area): {int(met.sum())} of {int(met.notna().sum())} "
            f"category values at target ({', '.join(sorted(set(area['indicator'])))})"
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


#: how ``lifecircle profile show`` marks a number whose source says it is an assumption
ASSUMPTION_MARK = "[假设 assumption]"


def _sourced(source: str) -> str:
    """``source``, marked when it says it is an assumption."""
    from .standards import _is_assumption

    return f"{source} {ASSUMPTION_MARK}" if _is_assumption(source) else source


def _pct(share: float) -> str:
    return f"{share * 100:.4g} %"


def _profile_lines(p: Any, area_type: str | None = None) -> list[str]:
    """Return the text of ``lifecircle profile show``: every number with its source."""
    from .standards import AREA_ALIASES, _is_assumption, threshold_label

    areas = [p.area_type(area_type)] if area_type else list(p.area_types)
    mark = f" {ASSUMPTION_MARK}"
    out = [f"{p.id}: {p.name_zh}", p.name_en, f"文件 file: {p.path}"]
    if p.source:
        out.append(f"来源 source: {p.source}")
    out.append(f"{ASSUMPTION_MARK}: the source says the number is an assumption (edit it)")

    out += ["", "地区类型 area types (项目优先 classes that make projects, in order):"]
    for a in p.area_types.values():
        pri = " > ".join(a.priorities) or "— (no projects)"
        out.append(f"  {a.name} {a.name_en}: {pri} — {_sourced(a.source)}")
    aliases = ", ".join(f"{k} = {v}" for k, v in AREA_ALIASES.items())
    out.append(f"  别名 aliases: {aliases}")

    out += ["", "出行方式 modes:"]
    for m in p.modes.values():
        out.append(
            f"  {m.name} {m.name_zh} {m.name_en}: {m.speed_kmh:g} km/h — {_sourced(m.source)}"
        )

    std = p.standards_table()
    out += [
        "",
        "档位 tiers (default thresholds by area type; a category may set its own; minutes at "
        "the mode's speed):",
    ]
    tiers = p.raw.get("tiers", {})
    for key in sorted(tiers, key=int):
        out.append(f"  {key} min:")
        thr, modes, src = (
            tiers[key]["threshold_m"],
            tiers[key].get("mode", {}),
            tiers[key]["source"],
        )
        for area in areas:
            label = threshold_label(thr[area], p.modes[modes.get(area, "walk")])
            text = src[area] if isinstance(src, dict) else src
            out.append(f"      {area}: {label} — {_sourced(text)}")

    out += ["", "目标人群 target groups (默认比例 default share of residents):"]
    out.append("  all 全体居民 every resident: 100 %")
    for g in p.target_groups.values():
        out.append(
            f"  {g.id} {g.name_zh} {g.name_en}: {_pct(g.default_share)} — {_sourced(g.source)}"
        )

    unit = p.unit_standard
    if unit is not None:
        out += ["", "单元标准 unit standard (default of every category):"]
        out.append(f"  target_share {_pct(unit.target_share)} — {_sourced(unit.source)}")
        if unit.informational_tiers:
            tiers_text = ", ".join(f"{t} min" for t in unit.informational_tiers)
            out.append(
                f"  informational tiers {tiers_text} (reported, no gaps or projects) — "
                f"{_sourced(unit.informational_source)}"
            )

    out += ["", f"类别 categories ({len(p.categories)}):"]
    for c in p.categories:
        bits = [c.group, c.class_zh, f"{c.tier_min} min", f"人群 group {c.target_group}"]
        if c.department:
            bits.append(f"主管部门 department {c.department} (referral, no 街镇 project)")
        if c.informational:
            bits.append("仅供参考 informational")
        out.append(f"  {c.id} {c.name_zh} {c.name_en} · {' · '.join(bits)}")
        out.append(f"      tier_min {c.tier_min} — {_sourced(c.sources.get('tier_min', ''))}")
        rows = std[(std["category"] == c.id) & std["area_type"].isin(areas)]
        own: dict[str, list[str]] = {}
        default = []
        for r in rows.itertuples(index=False):
            if r.source_threshold_m.startswith("[tiers."):
                flag = mark if r.assumption_threshold_m else ""
                default.append(f"{r.area_type} {r.threshold_m:.0f}米 {r.mode_zh}{flag}")
            else:
                own.setdefault(r.source_threshold_m, []).append(f"{r.area_type} {r.label_zh}")
        for text, labels in own.items():
            out.append(f"      {', '.join(labels)} — {_sourced(text)}")
        if default:
            out.append(f"      [tiers.{c.tier_min}] default: {' · '.join(default)}")
        if c.sources.get("mode"):
            out.append(f"      mode — {_sourced(c.sources['mode'])}")
        src = c.sources.get("target_share", "")
        if src.startswith("[unit_standard] default"):
            flag = mark if _is_assumption(src) else ""
            out.append(f"      target_share {_pct(c.target_share)} — [unit_standard] default{flag}")
        else:
            out.append(f"      target_share {_pct(c.target_share)} — {_sourced(src)}")
        extra = [
            ("walk_speed_kmh", c.walk_speed_kmh, lambda v: f"{v:g} km/h"),
            ("target_group", None if c.target_group == "all" else c.target_group, str),
            ("department", c.department, str),
        ]
        for key, value, fmt in extra:
            if value is not None:
                text = _sourced(c.sources.get(key, "not stated"))
                out.append(f"      {key} {fmt(value)} — {text}")
        if c.informational and c.sources.get("informational"):
            out.append(f"      informational — {_sourced(c.sources['informational'])}")
        if c.sources.get("membership"):
            out.append(f"      membership — {_sourced(c.sources['membership'])}")

    if p.indicators:
        out += ["", "指标 indicators (targets for an area as a whole, never a unit's pass mark):"]
        for ind in p.indicators:
            out.append(
                f"  {ind.id} {ind.name_zh}: {_pct(ind.target)} by {ind.year} ({ind.level}) — "
                f"{_sourced(ind.source)}"
            )
            cats = ", ".join(ind.categories)
            src = f" — {_sourced(ind.categories_source)}" if ind.categories_source else ""
            out.append(f"      categories {cats}{src}")

    table = p.sources_table()
    n = int(table["assumption"].sum())
    out += [
        "",
        f"假设 assumptions: {n} of {len(table)} numbers and settings rest on an assumption "
        f"(marked {ASSUMPTION_MARK}; `--assumptions` lists them)",
    ]
    return out


def _cmd_profile_show(args: argparse.Namespace) -> int:
    from .standards import load_profile

    p = load_profile(args.name)
    if args.assumptions:
        t = p.assumptions()
        print(f"{p.id}: {len(t)} assumptions {ASSUMPTION_MARK}")
        for r in t.itertuples(index=False):
            print(f"  {r.where} · {r.key} = {r.value}: {r.source}")
        return 0
    print("\n".join(_profile_lines(p, args.area_type)))
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
        sheet = args.sheet
        if sheet is not None and str(sheet).isdigit():
            sheet = int(sheet)
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


def _cmd_compare(args: argparse.Namespace) -> int:
    from .scenarios import compare

    diff = compare(args.before, args.after)
    s = diff.summary
    show = pd.DataFrame(
        {
            "类别": s["name_zh"],
            "Category": s["category"],
            "之前 Before": (s["share_before"] * 100).map(lambda x: "—" if x != x else f"{x:.1f}%"),
            "之后 After": (s["share_after"] * 100).map(lambda x: "—" if x != x else f"{x:.1f}%"),
            "新增覆盖 Newly covered": s["newly_covered"].map(lambda x: f"{x:,.0f}"),
            "缺口 Gaps": s["gaps_before"].astype(str) + " → " + s["gaps_after"].astype(str),
        }
    )
    print(format_table(show, right={"之前 Before", "之后 After", "新增覆盖 Newly covered"}))
    closed = int(diff.coverage["closed"].sum())
    opened = int(diff.coverage["opened"].sum())
    print(f"\n补上缺口 gaps closed: {closed} · 新出现缺口 gaps opened: {opened}")
    if args.out is not None:
        from .report import write_tables

        path = write_tables(
            args.out,
            [("对比汇总 Summary", diff.summary), ("单元对比 Unit coverage", diff.coverage)],
        )
        print(f"写入 written: {path}")
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
        "and residents → coverage, gaps, project packages and the project list.",
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
    show = ps_sub.add_parser(
        "show",
        help="print a profile: every number with its source, assumptions marked",
        description="Print a profile: area types and their project priorities, modes, target "
        "groups, the unit standard, each category's numbers per area type and the indicators, "
        "every number with its source; numbers whose source is an assumption are marked "
        f"{ASSUMPTION_MARK}, and the last line counts them.",
    )
    show.add_argument("name", help="built-in profile name or .toml file")
    show.add_argument(
        "--area-type",
        default=None,
        help="thresholds of one area type only: 中心城, 主城区, 新城, 其他地区 (新市镇) or 乡村",
    )
    show.add_argument(
        "--assumptions", action="store_true", help="list only the numbers that are assumptions"
    )
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
    check.add_argument(
        "--sheet",
        default=None,
        help="Excel sheet (name or number; default: the sheet(s) holding the facility columns)",
    )
    check.add_argument("--rows", default=20, type=int, help="rows shown per table (default 20)")
    check.set_defaults(func=_cmd_facilities_check)
    cmp_ = sub.add_parser(
        "compare",
        help="coverage before and after: two output folders (or project_database.gpkg files)",
        description="Compare two runs unit × category (e.g. last year's and this year's, or "
        "a scenario with the proposed packages): shares before and after, people newly "
        "covered, gaps closed and opened.",
    )
    cmp_.add_argument("before", help="output folder or project_database.gpkg of the first run")
    cmp_.add_argument("after", help="output folder or project_database.gpkg of the second run")
    cmp_.add_argument("--out", default=None, help="also write the comparison to this .xlsx")
    cmp_.set_defaults(func=_cmd_compare)
    return ap


def _out_folder(args: argparse.Namespace) -> Path | None:
    """Find the output folder a command will write (``--out`` or the config's ``out``)."""
    if getattr(args, "out", None) is not None:
        return Path(args.out)
    if getattr(args, "config", None) is not None:
        from .pipeline import load_config

        return Path(load_config(Path(args.config))["out"])
    return None


def check_out_folder(out: str | os.PathLike) -> Path:
    """Check, before any work, that an output folder can be created and written.

    Parameters
    ----------
    out : str or path-like
        The folder; it need not exist yet.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        When ``out`` is an existing file, lies under a file, or cannot be written (the cause
        named): found before an analysis runs, not after.
    """
    from .errors import InputError

    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(f"output folder {p} is an existing file; name a folder with --out")
    probe = p
    while not probe.exists():  # the nearest folder that exists must let us create ours
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"output folder {p} cannot be created: {probe} is a file")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".lifecircle-write-test-"):
            pass
    except OSError as exc:
        raise InputError(
            f"output folder {p} cannot be written ({exc.strerror or exc} in {probe}); "
            f"choose another folder with --out"
        ) from None
    return p


def _check_scheduler(args: argparse.Namespace) -> None:
    from .errors import InputError

    scheduler = getattr(args, "scheduler", None)
    if scheduler is None or scheduler in ("local", "sync", "dask"):
        return
    if "://" not in scheduler and ":" not in scheduler:
        raise InputError(
            f"--scheduler {scheduler!r} is not one of local, sync, dask, or a Dask scheduler "
            f"address such as tcp://host:8786"
        )


def _log_traceback(out: Path | None) -> str:
    """Write the current exception's traceback to a log file; return where it went."""
    text = traceback.format_exc()
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            path = out / "lifecircle-error.log"
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix="lifecircle-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return name


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lifecircle`` command.

    A user's mistake never ends in a traceback: the library's own errors, file-system errors
    (a missing or read-only folder, ``--out`` naming a file), a Dask address that does not
    answer and an interrupt print one ``error:`` line with the cause and exit with code 2;
    anything unexpected prints a short message and where its full traceback was logged
    (``lifecircle-error.log`` in the output folder, or a temporary file), and exits with 1.
    """
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    out = None
    try:
        if args.func in (_cmd_run, _cmd_batch, _cmd_demo):
            _check_scheduler(args)
            out = _out_folder(args)
            if out is not None:
                check_out_folder(out)
        return args.func(args)
    except LifecircleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C); outputs already finished are kept", file=sys.stderr)
        return 2
    except OSError as exc:  # file system, network (a Dask address that does not answer)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        cause = exc.strerror or str(exc) or type(exc).__name__
        print(f"error: {type(exc).__name__}: {cause}{where}", file=sys.stderr)
        return 2
    except Exception as exc:
        logged = _log_traceback(out)
        print(
            f"error: unexpected {type(exc).__name__}: {exc}\n"
            f"(a bug in lifecircle_geo; the full traceback is in {logged} — please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
