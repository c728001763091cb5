"""The bilingual project list (项目实施清单) and coverage tables as one Excel workbook.

Sheets: ``项目清单 Projects``, ``缺口 Gaps``, ``单元覆盖 Unit coverage``,
``街镇覆盖 Sub-district coverage``, ``区覆盖 District coverage``, ``全域汇总 Summary``, the
facility classification check (:data:`CLASSIFICATION_SHEETS`: per category, per rule, rows left
out and suspicious rows, from :func:`lifecircle_geo.facilities.classification_report`) and
``说明 About``. Every header reads ``中文 / English``; shares are percentages; a share below its
category's target is highlighted; blank 实施主体 / 资金来源 / 设计团队 cells (for the 街镇 to fill)
are shaded.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .._io import atomic_path, json_text
from ..coverage import STATUSES
from ..gaps import ACTIONS
from ..standards import AREA_TYPES
from ._util import categories, frame, gdal_safe, run_facts, standards

__all__ = ["CLASSIFICATION_SHEETS", "HEADERS", "SHEETS", "header", "write_excel", "write_tables"]

log = logging.getLogger(__name__)

_AREA_EN = {
    "中心城": "central city",
    "主城区": "main city",
    "新城": "new town",
    "其他地区": "other areas",
    "乡村": "rural",
}

#: Chinese and English header of each known column.
HEADERS: dict[str, tuple[str, str]] = {
    "project_id": ("项目编号", "Project ID"),
    "district_code": ("区代码", "District code"),
    "jiezhen_code": ("街镇代码", "Sub-district code"),
    "jiezhen_name": ("街镇", "Sub-district"),
    "unit_id": ("单元编号", "Unit ID"),
    "unit_name": ("社区基本单元", "Basic unit"),
    "area_type": ("地区类型", "Area type"),
    "category": ("类别代码", "Category ID"),
    "name_zh": ("类别", "Category"),
    "name_en": ("类别(英文)", "Category (English)"),
    "group": ("十全/十美", "Group"),
    "class_zh": ("项目类型", "Project class"),
    "tier_min": ("步行层级(分钟)", "Walk tier (min)"),
    "threshold_m": ("步行距离标准(米)", "Walk threshold (m)"),
    "target_share": ("目标覆盖率", "Target share"),
    "population": ("人口", "Population"),
    "covered_population": ("覆盖人口", "Covered population"),
    "share": ("覆盖率", "Coverage share"),
    "mean_walk_min": ("平均步行时间(分钟)", "Mean walk (min)"),
    "p90_walk_min": ("90%步行时间(分钟)", "P90 walk (min)"),
    "meets_standard": ("是否达标", "Meets standard"),
    "status": ("状态", "Status"),
    "action": ("处理方式", "Action"),
    "department": ("主管部门", "Responsible department"),
    "priority": ("类别优先级", "Class priority"),
    "mode": ("出行方式", "Mode"),
    "standard_zh": ("可达标准", "Standard"),
    "label_zh": ("可达标准", "Standard"),
    "target_group": ("服务人群", "Target group"),
    "speed_kmh": ("速度(公里/小时)", "Speed (km/h)"),
    "informational": ("仅供参考", "Informational"),
    "assumption": ("假设", "Assumption"),
    "indicator": ("指标", "Indicator"),
    "indicator_level": ("指标层级", "Indicator level"),
    "level": ("统计层级", "Level"),
    "year": ("年份", "Year"),
    "value": ("内容", "Value"),
    "met": ("是否达到", "Met"),
    "where": ("位置", "Where"),
    "key": ("项", "Key"),
    "network_share": ("路网覆盖面积比例", "Share of area within the street data"),
    "far_population": ("远离道路人口", "People far from any street"),
    "partial_network": ("路网不全", "Partial network"),
    "people_left_out": ("缺口人口", "People left out"),
    "rank": ("缺口排序", "Rank"),
    "gap_rank": ("缺口排序", "Gap rank"),
    "reached_population": ("搜索范围内可达人口", "Population reached within search cutoff"),
    "content_zh": ("建设内容", "Content"),
    "content_en": ("建设内容(英文)", "Content (English)"),
    "path_zh": ("实施路径", "Implementation path"),
    "body_zh": ("实施主体", "Implementing body"),
    "funding_zh": ("资金来源", "Funding source"),
    "schedule": ("时间安排", "Schedule"),
    "design_team": ("设计团队", "Design team"),
    "newly_covered_population": ("受益人口", "People newly covered"),
    "share_after": ("建设后覆盖率", "Share after"),
    "lon": ("经度(WGS-84)", "Longitude"),
    "lat": ("纬度(WGS-84)", "Latitude"),
    "facility_types": ("设施类型", "Facility types"),
    "source": ("来源", "Source"),
    "item": ("项目", "Item"),
    **{f"threshold_{a}": (f"{a}距离标准(米)", f"Threshold {_AREA_EN[a]} (m)") for a in AREA_TYPES},
}

#: The facility classification sheets (names as ``ClassificationReport.to_frames`` gives them).
CLASSIFICATION_SHEETS = (
    "分类汇总 summary",
    "分类规则 by rule",
    "未归类 left out",
    "可疑 suspicious",
)
#: Sheet names in workbook order.
SHEETS = (
    "项目清单 Projects",
    "缺口 Gaps",
    "转办 Referrals",
    "指标 Indicators",
    "单元覆盖 Unit coverage",
    "街镇覆盖 Sub-district coverage",
    "区覆盖 District coverage",
    "全域汇总 Summary",
    *CLASSIFICATION_SHEETS,
    "标准说明 Standards",
    "说明 About",
)

_ORDER = {
    "projects": [
        "project_id",
        "district_code",
        "jiezhen_name",
        "jiezhen_code",
        "unit_name",
        "unit_id",
        "name_zh",
        "name_en",
        "class_zh",
        "content_zh",
        "content_en",
        "path_zh",
        "body_zh",
        "funding_zh",
        "schedule",
        "design_team",
        "people_left_out",
        "newly_covered_population",
        "lon",
        "lat",
        "category",
    ],
    "gaps": [
        "rank",
        "district_code",
        "jiezhen_name",
        "jiezhen_code",
        "unit_name",
        "unit_id",
        "area_type",
        "name_zh",
        "name_en",
        "group",
        "class_zh",
        "action",
        "department",
        "priority",
        "tier_min",
        "standard_zh",
        "threshold_m",
        "target_group",
        "target_share",
        "share",
        "population",
        "covered_population",
        "people_left_out",
        "mean_walk_min",
        "p90_walk_min",
        "meets_standard",
        "status",
        "category",
    ],
    "coverage": [
        "district_code",
        "jiezhen_code",
        "jiezhen_name",
        "unit_id",
        "unit_name",
        "area_type",
        "category",
        "name_zh",
        "name_en",
        "group",
        "class_zh",
        "tier_min",
        "threshold_m",
        "target_share",
        "population",
        "covered_population",
        "share",
        "mean_walk_min",
        "p90_walk_min",
        "meets_standard",
        "status",
    ],
}

_INTEGER_PREFIX = ("threshold_",)
_PERCENT = {"share", "target_share", "share_after", "default_share"}
_INTEGER = {
    "population",
    "covered_population",
    "people_left_out",
    "newly_covered_population",
    "threshold_m",
    "reached_population",
}
_DECIMAL = {"mean_walk_min", "p90_walk_min"}
_COORD = {"lon", "lat"}
_TO_FILL = {"body_zh", "funding_zh", "design_team"}
_TBD = "待定"  # "to be decided": placeholders the 街镇 replaces
_WRAP = {"content_zh", "content_en", "path_zh", "value"}

_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_BELOW_FILL = PatternFill("solid", fgColor="FFC7CE")
_BELOW_FONT = Font(color="9C0006")
_FILL_IN = PatternFill("solid", fgColor="FFF2CC")
#: fills of the status cells that are not a measured result
_STATUS_FILL = {
    "no data": PatternFill("solid", fgColor="D9D9D9"),
    "partial network": PatternFill("solid", fgColor="FCE4D6"),
}
_THIN = Border(bottom=Side(style="thin", color="999999"))

_NOTE_BLANK = (
    "实施主体、资金来源、设计团队为空或“待定”的单元格（黄色）由街镇填写。"
    " / Blank or 待定 (to be decided) 实施主体 (implementing body), 资金来源 (funding "
    "source) and 设计团队 (design team) cells (yellow) are for the sub-district (街镇) "
    "to fill in."
)
_NOTE_SHARE = (
    "覆盖率 = 步行距离标准内可达该类服务的居民比例；红色单元格低于目标。"
    " / Coverage share = share of residents within the category's walking "
    "threshold; red cells are below target."
    " 状态：达标、未达标、无数据（输入中研究范围内无该类设施，未计算，不视为缺口）、路网不全"
    "（单元超出道路数据范围，结果不可靠，不生成项目）。"
    " / Status: met, gap, no data (the inputs hold no facility of the category in or near "
    "the study area: not measured, not a gap), partial network (the unit reaches beyond the "
    "street data: not trusted, no projects)."
)


def header(column: str) -> str:
    """Return the bilingual header ``"中文 / English"`` of ``column`` (itself if unknown).

    Examples
    --------
    >>> header("jiezhen_name")
    '街镇 / Sub-district'
    >>> header("share_health")
    'share_health'
    """
    if column in HEADERS:
        zh, en = HEADERS[column]
        return f"{zh} / {en}"
    return str(column)


def write_excel(result: Any, path: str | os.PathLike) -> Path:
    """Write the bilingual project list and coverage tables of ``result`` to an ``.xlsx`` file.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :mod:`lifecircle_geo.analysis`).
    path : str or os.PathLike
        Output file, conventionally ``project_list.xlsx``; written under a temporary name and
        renamed when complete.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> from lifecircle_geo.report import write_excel
    >>> write_excel(result, "out/project_list.xlsx")  # doctest: +SKIP
    PosixPath('out/project_list.xlsx')
    >>> import openpyxl
    >>> openpyxl.load_workbook("out/project_list.xlsx").sheetnames[0]  # doctest: +SKIP
    '项目清单 Projects'
    """
    path = Path(path)
    summary = result.summary() if callable(getattr(result, "summary", None)) else pd.DataFrame()
    tables = [
        ("项目清单 Projects", _ordered(frame(result, "projects"), "projects")),
        ("缺口 Gaps", _ordered(_sorted(frame(result, "gaps"), ["rank"]), "gaps")),
        ("转办 Referrals", _ordered(_sorted(frame(result, "referrals"), ["rank"]), "gaps")),
        ("指标 Indicators", pd.DataFrame(frame(result, "indicators"))),
        ("单元覆盖 Unit coverage", _ordered(frame(result, "coverage"), "coverage")),
        ("街镇覆盖 Sub-district coverage", _ordered(frame(result, "jiezhen"), "coverage")),
        ("区覆盖 District coverage", _ordered(frame(result, "district"), "coverage")),
        ("全域汇总 Summary", _ordered(pd.DataFrame(summary), "coverage")),
        *_classification(result).items(),
        ("标准说明 Standards", standards(result)),
    ]
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in tables:
                _write_table(writer, name, table)
            _write_about(writer, result)
    log.info("wrote project list %s", path)
    return path


def write_tables(path: str | os.PathLike, sheets: Sequence[tuple[str, pd.DataFrame]]) -> Path:
    """Write tables to an ``.xlsx`` file with the project list's bilingual headers and styles.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; written under a temporary name and renamed when complete.
    sheets : sequence of (str, DataFrame)
        Sheet name and table, in order. Known columns get ``中文 / English`` headers (see
        :func:`header`), ``meets_standard`` reads 是/否, shares below target are highlighted.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pandas as pd
    >>> from lifecircle_geo.report import write_tables
    >>> t = pd.DataFrame({"jiezhen_name": ["示例街道"], "share": [0.75]})
    >>> write_tables("out/city.xlsx", [("街镇覆盖 Sub-district coverage", t)])  # doctest: +SKIP
    PosixPath('out/city.xlsx')
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in sheets:
                _write_table(writer, name, pd.DataFrame(table).reset_index(drop=True))
    log.info("wrote %s", path)
    return path


# ---------------------------------------------------------------------------- tables
def _classification(result: Any) -> dict[str, pd.DataFrame]:
    """How the facility inputs were classified (from their ``attrs``), one sheet each."""
    from ..facilities import classification_report

    fac = getattr(result, "facilities", None)
    if fac is None or "category" not in getattr(fac, "columns", ()):
        return {}
    frames = classification_report(fac, getattr(result, "profile", None)).to_frames()
    return {name: frames[name] for name in CLASSIFICATION_SHEETS if name in frames}


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    by = [c for c in by if c in df.columns]
    return df.sort_values(by, kind="stable") if by and len(df) else df


def _ordered(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    geo_cols = [c for c in df.columns if str(df[c].dtype) == "geometry"]
    df = pd.DataFrame(df.drop(columns=geo_cols)).reset_index(drop=True)
    first = [c for c in _ORDER[kind] if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def _excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = gdal_safe(df, geometry=None)
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
        elif pd.api.types.is_bool_dtype(dtype) or col in ("meets_standard", "partial_network"):
            out[col] = out[col].astype(object).map(_yes_no).astype(object)
        elif col == "status":
            out[col] = out[col].map(_status_label).astype(object)
        elif col == "action":
            out[col] = out[col].map(lambda v: " ".join(ACTIONS.get(v, (v,)))).astype(object)
        elif pd.api.types.is_object_dtype(dtype):
            out[col] = out[col].map(_clean_text).astype(object)
    return out


def _yes_no(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return "是 Yes" if bool(value) else "否 No"


def _status_label(value: Any) -> Any:
    if value in STATUSES:
        zh, en = STATUSES[value]
        return f"{zh} {en}"
    return value


def _clean_text(value: Any) -> Any:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return value[:32000]
    return value


def _write_table(
    writer: pd.ExcelWriter, sheet: str, df: pd.DataFrame, startrow: int = 0
) -> Worksheet:
    numeric = df.copy()
    safe = _excel_safe(df)
    safe.columns = [header(c) for c in df.columns]
    safe.to_excel(writer, sheet_name=sheet, index=False, startrow=startrow)
    ws = writer.sheets[sheet]
    _style(ws, numeric, startrow)
    return ws


def _style(ws: Worksheet, df: pd.DataFrame, startrow: int = 0) -> None:
    head = startrow + 1
    ws.row_dimensions[head].height = 32
    for j, col in enumerate(df.columns, start=1):
        cell = ws.cell(row=head, column=j)
        cell.fill, cell.font, cell.border = _HEADER_FILL, _HEADER_FONT, _THIN
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        fmt = (
            "0.0%"
            if col in _PERCENT or str(col).startswith("share_")
            else "#,##0"
            if col in _INTEGER or str(col).startswith(_INTEGER_PREFIX)
            else "0.0"
            if col in _DECIMAL
            else "0.000000"
            if col in _COORD
            else None
        )
        wrap = col in _WRAP
        for i in range(len(df)):
            c = ws.cell(row=head + 1 + i, column=j)
            if fmt:
                c.number_format = fmt
            if wrap:
                c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(j)].width = _width(header(col), df[col], wrap)
    _highlight(ws, df, head)
    if startrow == 0 and len(df.columns):
        ws.freeze_panes = ws.cell(row=2, column=1)
        ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(len(df) + 1, 1)}"


def _highlight(ws: Worksheet, df: pd.DataFrame, head: int) -> None:
    cols = list(df.columns)
    if "share" in cols and "target_share" in cols:
        share = pd.to_numeric(df["share"], errors="coerce").to_numpy(dtype=float)
        target = pd.to_numeric(df["target_share"], errors="coerce").to_numpy(dtype=float)
        below = share < target - 1e-12
        if "meets_standard" in cols:
            meets = df["meets_standard"]
            below = below | (meets.notna() & ~meets.fillna(True).astype(bool)).to_numpy()
        marks = [cols.index("share") + 1]
        if "meets_standard" in cols:
            marks.append(cols.index("meets_standard") + 1)
        if "status" in cols:  # only measured gaps are red
            below = below & (df["status"].isin(["met", "gap"])).to_numpy()
        for i in np.flatnonzero(below):
            for j in marks:
                cell = ws.cell(row=head + 1 + int(i), column=j)
                cell.fill, cell.font = _BELOW_FILL, _BELOW_FONT
    if "status" in cols:
        j = cols.index("status") + 1
        for value, fill in _STATUS_FILL.items():
            for i in np.flatnonzero((df["status"] == value).to_numpy()):
                ws.cell(row=head + 1 + int(i), column=j).fill = fill
    for name in _TO_FILL & set(cols):
        j = cols.index(name) + 1
        text = df[name].astype(str).str.strip()
        blank = df[name].isna() | (text == "") | text.str.contains(_TBD, regex=False)
        for i in np.flatnonzero(blank.to_numpy()):
            ws.cell(row=head + 1 + int(i), column=j).fill = _FILL_IN


def _text_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _width(title: str, values: pd.Series, wrap: bool) -> float:
    sample = values.head(200)
    longest = max((_text_width(str(v)) for v in sample[sample.notna()]), default=0)
    if pd.api.types.is_float_dtype(values.dtype):
        longest = min(longest, 12)
    head = max(_text_width(part) for part in title.split(" / ")) + 2
    cap = 50 if wrap else 40
    return float(min(max(longest + 2, head, 8), cap))


# ---------------------------------------------------------------------------- about
def _write_about(writer: pd.ExcelWriter, result: Any) -> None:
    sheet = SHEETS[-1]
    meta = getattr(result, "meta", None) or {}
    profile = getattr(result, "profile", None)
    speed = meta.get("walk_speed_kmh", getattr(profile, "walk_speed_kmh", None))
    created = meta.get("created") or _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    rows: list[tuple[str, Any]] = [
        (
            "标准配置 / Profile",
            " — ".join(
                str(x)
                for x in (
                    getattr(profile, "id", None),
                    getattr(profile, "name_zh", None),
                    getattr(profile, "name_en", None),
                )
                if x
            ),
        ),
        ("步行速度 / Walk speed (km/h)", speed),
        ("生成时间 / Generated", created),
        ("填写说明 / To fill", _NOTE_BLANK),
        ("覆盖率 / Coverage share", _NOTE_SHARE),
    ]
    for warning in meta.get("warnings") or ():
        rows.append(("警告 / Warning", warning))
    for key, value in run_facts(result):
        if key in {"warnings", "walk_speed_kmh", "created"} or key.startswith("profile."):
            continue
        rows.append((f"数据来源与运行 / Run: {key}", value))
    about = pd.DataFrame(
        [
            {
                "item": k,
                "value": v if isinstance(v, str | int | float) or v is None else json_text(v),
            }
            for k, v in rows
        ],
        columns=["item", "value"],
    )
    ws = _write_table(writer, sheet, about)
    cats = categories(result)
    first = [
        c
        for c in ("name_zh", "name_en", "category", "group", "class_zh", "tier_min")
        if c in cats.columns
    ]
    cats = cats[first + [c for c in cats.columns if c not in first]]
    start = len(about) + 3
    title = ws.cell(row=start, column=1, value="各类服务步行标准 / Walking standard per category")
    title.font = Font(bold=True)
    _write_table(writer, sheet, cats, startrow=start)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 70
