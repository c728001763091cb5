"""A one-page summary per 街镇 for the 一图三会 meetings: PNG and PDF.

Each page holds the key numbers (residents, basic units, categories meeting their standard,
gaps by action), the top projects (by people newly covered; the packages when there is no
project list) and a small map of the 街镇's units coloured by the number of categories meeting
standard, over the network's streets. One page per 街镇: ``summary_<code>_<name>.png`` and
``.pdf`` (names made safe with :func:`lifecircle_geo._io.safe_name`). A run over more than
:data:`MAX_SUMMARIES` 街镇 (a whole city) writes none: the batch writes one per 街镇 task.

Examples
--------
>>> from lifecircle_geo.report.summary import write_summaries
>>> [p.name for p in write_summaries(result, "out")]  # doctest: +SKIP
['summary_310107014_长征镇.png', 'summary_310107014_长征镇.pdf']
"""

from __future__ import annotations

import logging
import os
import unicodedata
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from .._io import atomic_path, safe_name
from ..gaps import ACTIONS
from ._util import categories, frame, unit_scores
from .figures import PNG_FAST, PNG_METADATA, _fonts, _label, _ticks, draw_streets

__all__ = ["MAX_SUMMARIES", "summary_name", "write_summaries"]

log = logging.getLogger(__name__)

#: Most 街镇 summarised in one run (a city run leaves them to the per-街镇 batch tasks).
MAX_SUMMARIES = 40
_TOP_PROJECTS = 8
_DPI = 150


def summary_name(code: Any, name: Any) -> str:
    """Return the file stem of a 街镇's summary: ``summary_<code>_<name>``, made safe.

    Parameters
    ----------
    code : Any
        The 街镇 code.
    name : Any
        The 街镇 name (may be missing).

    Returns
    -------
    str

    Examples
    --------
    >>> summary_name("310107014", "长征镇")
    'summary_310107014_长征镇'
    >>> summary_name("../x", "=HYPERLINK()")
    'summary_x_=HYPERLINK()'
    """
    parts = [str(code)] + ([str(name)] if isinstance(name, str) and name.strip() else [])
    return safe_name("summary_" + "_".join(parts))


def write_summaries(result: Any, folder: str | os.PathLike, pdf: bool = True) -> list[Path]:
    """Write a one-page summary (PNG, and PDF) for each 街镇 of ``result`` into ``folder``.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :mod:`lifecircle_geo.analysis`).
    folder : str or os.PathLike
        Output folder (created if needed).
    pdf : bool, default True
        Also write a PDF of each page (vector; CJK text embedded).

    Returns
    -------
    list of pathlib.Path
        The files written (none when the units have no ``jiezhen_code`` or there are more than
        :data:`MAX_SUMMARIES` 街镇).
    """
    units = getattr(result, "units", None)
    if not isinstance(units, gpd.GeoDataFrame) or "jiezhen_code" not in units.columns:
        return []
    codes = [c for c in pd.unique(units["jiezhen_code"]) if pd.notna(c)]
    if len(codes) > MAX_SUMMARIES:
        log.info(
            "%d 街镇: more than %d, no one-page summaries (the batch writes one per 街镇)",
            len(codes),
            MAX_SUMMARIES,
        )
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scores = unit_scores(result)
    written: list[Path] = []
    with _fonts() as zh:
        for code in codes:
            mine = units[units["jiezhen_code"] == code]
            name = mine["jiezhen_name"].iloc[0] if "jiezhen_name" in mine.columns else None
            fig = _page(result, code, name, mine, scores, zh)
            FigureCanvasAgg(fig)
            stem = summary_name(code, name)
            with atomic_path(folder / f"{stem}.png") as tmp:
                fig.savefig(tmp, format="png", dpi=_DPI, metadata=PNG_METADATA, pil_kwargs=PNG_FAST)
            written.append(folder / f"{stem}.png")
            if pdf:
                try:
                    with atomic_path(folder / f"{stem}.pdf") as tmp:
                        # the map's streets and units are an image in the PDF (rasterized):
                        # thousands of vector paths made each page slow to write and to open
                        fig.savefig(
                            tmp, format="pdf", dpi=_DPI, metadata={"Creator": "lifecircle_geo"}
                        )
                    written.append(folder / f"{stem}.pdf")
                except Exception as exc:  # a font the PDF backend cannot embed
                    log.warning("summary of %s: no PDF (%s); the PNG is written", code, exc)
    log.info("wrote %d 街镇 summaries to %s", len(written), folder)
    return written


# ---------------------------------------------------------------------------- the page
def _page(
    result: Any,
    code: Any,
    name: Any,
    units: gpd.GeoDataFrame,
    scores: pd.DataFrame,
    zh: bool,
) -> Figure:
    fig = Figure(figsize=(11.69, 8.27))  # A4 landscape
    bold = _bold()
    title = _label(zh, name, None) or str(code)
    fig.suptitle(
        f"{title}（{code}）15分钟社区生活圈 / 15-minute life circle"
        if zh
        else f"Sub-district {code}: 15-minute life circle",
        fontsize=15,
        fontweight=bold,
        x=0.02,
        ha="left",
    )
    ax_map = fig.add_axes((0.02, 0.05, 0.46, 0.84))
    _small_map(ax_map, result, units, scores, zh)
    ax_text = fig.add_axes((0.5, 0.05, 0.48, 0.84))
    ax_text.set_axis_off()
    lines = _key_numbers(result, code, units, zh)
    lines += ["", "重点项目 / Top projects" if zh else "Top projects"]
    lines += _top_projects(result, code, zh)
    y = 1.0
    for k, line in enumerate(lines):
        heading = k == 0 or line in ("重点项目 / Top projects", "Top projects")
        ax_text.text(
            0.0,
            y,
            line,
            fontsize=11 if heading else 9.5,
            fontweight=bold if heading else "normal",
            color="#000000" if heading else "#222222",
            va="top",
            transform=ax_text.transAxes,
        )
        y -= 0.042 + 0.026 * line.count("\n")
        if y < 0.02:
            break
    meta = getattr(result, "meta", None) or {}
    foot = " · ".join(str(x) for x in (meta.get("profile"), meta.get("created")) if x)
    fig.text(0.02, 0.012, foot, fontsize=7, color="#777777")
    return fig


def _bold() -> str:
    """``"bold"`` when the font in use has a bold face, else ``"normal"``.

    Asking matplotlib for a weight the CJK font lacks logs a findfont warning on every page.
    """
    from matplotlib import font_manager

    family = (matplotlib.rcParams["font.sans-serif"] or ["DejaVu Sans"])[0]
    heavy = {"bold", "heavy", "black", "extra bold", "demibold", "semibold"}
    has_bold = any(
        f.name == family and (f.weight in heavy or (isinstance(f.weight, int) and f.weight >= 600))
        for f in font_manager.fontManager.ttflist
    )
    return "bold" if has_bold else "normal"


def _key_numbers(result: Any, code: Any, units: gpd.GeoDataFrame, zh: bool) -> list[str]:
    people = float(pd.to_numeric(units.get("population"), errors="coerce").sum())
    jz = frame(result, "jiezhen")
    met = measured = None
    if len(jz) and "jiezhen_code" in jz.columns and "meets_standard" in jz.columns:
        rows = jz[jz["jiezhen_code"] == code]
        if "status" in rows.columns:
            rows = rows[rows["status"] != "no data"]
        measured = len(rows)
        met = int(rows["meets_standard"].astype("boolean").fillna(False).sum())
    n_cat = len(categories(result))
    gaps = frame(result, "gaps")
    if len(gaps) and "jiezhen_code" in gaps.columns:
        gaps = gaps[gaps["jiezhen_code"] == code]
    by_action = (
        gaps["action"].value_counts().to_dict() if len(gaps) and "action" in gaps.columns else {}
    )
    projects = _projects_of(result, code)
    lines = [
        "关键数字 / Key numbers" if zh else "Key numbers",
        f"{'常住人口 People' if zh else 'Residents'}: {people:,.0f}",
        f"{'社区基本单元 Basic units' if zh else 'Basic units'}: {len(units)}",
    ]
    if met is not None:
        lines.append(
            f"{'达标类别 Categories met' if zh else 'Categories met'}: {met} / {measured}"
            + (f"（共 {n_cat} 类）" if zh and measured != n_cat else "")
        )
    lines.append(
        f"{'缺口 Gaps (unit × category)' if zh else 'Gaps (unit x category)'}: {len(gaps)}"
    )
    for action, n in by_action.items():
        zh_label, en_label = ACTIONS.get(action, (str(action), str(action)))
        label = f"{zh_label} {en_label}" if zh else en_label
        lines.append(f"    {label}: {n}")
    lines.append(f"{'项目 Projects' if zh else 'Projects'}: {len(projects)}")
    return lines


def _projects_of(result: Any, code: Any) -> pd.DataFrame:
    for name in ("projects", "packages"):
        table = getattr(result, name, None)
        if isinstance(table, pd.DataFrame) and len(table) and "jiezhen_code" in table.columns:
            return table[table["jiezhen_code"] == code]
    return pd.DataFrame()


def _top_projects(result: Any, code: Any, zh: bool) -> list[str]:
    table = _projects_of(result, code)
    if table.empty:
        return ["（无 none）" if zh else "(none)"]
    sort = next(
        (c for c in ("newly_covered_population", "people_left_out") if c in table.columns), None
    )
    if sort:
        table = table.sort_values(sort, ascending=False, kind="stable")
    out = []
    for _, row in table.head(_TOP_PROJECTS).iterrows():
        pid = row.get("project_id", row.get("package_id", ""))
        what = next(
            (
                str(row.get(c))
                for c in ("project_name_zh", "content_zh", "functions_zh", "name_zh")
                if zh and isinstance(row.get(c), str) and row.get(c)
            ),
            None,
        ) or _label(zh, row.get("content_zh"), row.get("content_en") or row.get("name_en"))
        unit = row.get("unit_name") if zh else row.get("unit_id")
        unit = unit if isinstance(unit, str) and unit not in str(what) else ""
        people = pd.to_numeric(pd.Series([row.get("newly_covered_population")]), errors="coerce")[0]
        tail = ""
        if pd.notna(people) and people > 0:
            tail = f"（受益 {people:,.0f} 人）" if zh else f" ({people:,.0f} people)"
        text = " ".join(str(x) for x in (pid, unit) if x) + f": {what}{tail}"
        out.append("\n".join(_wrap(text, 78)[:3]))
    if len(table) > _TOP_PROJECTS:
        more = len(table) - _TOP_PROJECTS
        out.append(f"… 另有 {more} 项 / {more} more" if zh else f"... {more} more")
    return out


def _wrap(text: str, width: int) -> list[str]:
    """Split ``text`` into lines at most ``width`` columns wide (a CJK character is 2)."""
    lines, line, used = [], "", 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width and line:
            lines.append(line)
            line, used = "", 0
        line += ch
        used += w
    return [*lines, line] if line else lines


def _small_map(
    ax: Any, result: Any, units: gpd.GeoDataFrame, scores: pd.DataFrame, zh: bool
) -> None:
    units = units.merge(
        scores[["unit_id", "n_meets_standard", "n_categories"]], on="unit_id", how="left"
    )
    n_cat = max(len(categories(result)), 1)
    cmap = matplotlib.colormaps["RdYlGn"].resampled(n_cat + 1)
    norm = BoundaryNorm(np.arange(-0.5, n_cat + 1.5), cmap.N)
    meets = units["n_meets_standard"].to_numpy(dtype=float)
    colours = [cmap(norm(v)) if np.isfinite(v) else "#cccccc" for v in meets]
    draw_streets(ax, result, units.crs, units.total_bounds)
    units.plot(ax=ax, color=colours, edgecolor="#333333", linewidth=0.6, alpha=0.8, zorder=2)
    for layer in ax.collections:  # streets and units: one image in a PDF, not 10k paths
        layer.set_rasterized(True)
    if len(units) <= 40:
        for (_, row), pt in zip(
            units.iterrows(), units.geometry.representative_point(), strict=True
        ):
            score = row.get("n_meets_standard")
            text = _label(zh, row.get("unit_name"), row.get("unit_id"))
            if pd.notna(score):
                text += f"\n{int(score)}/{int(row.get('n_categories') or n_cat)}"
            ax.annotate(text, (pt.x, pt.y), ha="center", va="center", fontsize=7, zorder=3)
    x0, y0, x1, y1 = units.total_bounds
    pad = max(x1 - x0, y1 - y0) * 0.05
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = ax.figure.colorbar(
        sm, ax=ax, shrink=0.5, location="bottom", pad=0.02, ticks=_ticks(n_cat)
    )
    bar.set_label(
        "达标类别数 / Categories meeting standard" if zh else "Categories meeting standard"
    )
