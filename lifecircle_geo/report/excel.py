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
import functools
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .._io import atomic_path, json_text, strip_paths
from ..coverage import STATUSES
from ..gaps import ACTIONS
from ..standards import AREA_TYPES
from ._util import categories, frame, gdal_safe, run_facts, standards
from ._xlsx import XlsxBook, XlsxSheet

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
    "name_zh": ("类别", "Category name"),
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
    "n_projects": ("项目总数", "Projects"),
    "n_within_year": ("年内完成数量", "Completed within the year"),
    "n_hubs": ("人民坊项目数量", "人民坊 hubs"),
    "n_hubs_within_year": ("人民坊年内完成", "Hubs completed within the year"),
    "n_points": ("六艺亭项目数量", "六艺亭 points"),
    "n_points_within_year": ("六艺亭年内完成", "Points completed within the year"),
    "functions_zh": ("功能", "Functions"),
    "units_served": ("服务单元", "Units served"),
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
    "project_name_zh": ("项目名称", "Project name"),
    "package_id": ("项目包编号", "Package ID"),
    "package_type": ("项目包类型", "Package type"),
    "package_type_en": ("项目包类型(英文)", "Package type (English)"),
    "scale_zh": ("建设规模", "Scale"),
    "site_zh": ("选址", "Site"),
    "site_kind": ("选址类型", "Site kind"),
    "beneficiaries_zh": ("受益人群", "Beneficiaries"),
    "gap_note_zh": ("缺口说明", "Gaps answered"),
    "need_zh": ("对应需求", "Requests answered"),
    "lon_gcj02": ("经度(GCJ-02)", "Longitude (GCJ-02)"),
    "lat_gcj02": ("纬度(GCJ-02)", "Latitude (GCJ-02)"),
    "floor_area_m2": ("面积(平方米)", "Floor area (m²)"),
    "n_functions": ("功能数", "Functions"),
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
    "附件汇总 Annex",
    "项目包 Packages",
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
_COORD = {"lon", "lat", "lon_gcj02", "lat_gcj02"}
_TO_FILL = {"body_zh", "funding_zh", "design_team"}
_TBD = "待定"  # "to be decided": placeholders the 街镇 replaces
_WRAP = {"content_zh", "content_en", "path_zh", "value"}

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


#: Column-name prefixes with a bilingual header of their own (the suffix is kept).
_PREFIX_HEADERS = {"newly_covered_": ("受益人口", "Newly covered")}


def header(column: str) -> str:
    """Return the bilingual header ``"中文 / English"`` of ``column`` (itself if unknown).

    Examples
    --------
    >>> header("jiezhen_name")
    '街镇 / Sub-district'
    >>> header("newly_covered_60+")
    '受益人口(60+) / Newly covered (60+)'
    >>> header("share_health")
    'share_health'
    """
    if column in HEADERS:
        zh, en = HEADERS[column]
        return f"{zh} / {en}"
    for prefix, (zh, en) in _PREFIX_HEADERS.items():
        if str(column).startswith(prefix):
            rest = str(column)[len(prefix) :]
            return f"{zh}({rest}) / {en} ({rest})"
    return str(column)


def write_excel(result: Any, path: str | os.PathLike) -> Path:
    """Write the bilingual project list and coverage tables of ``result`` to an ``.xlsx`` file.

    Every sheet prints: A3 landscape, fitted to the page width, header row repeated on each
    page, panes frozen below the header, wrapped rows as tall as their text. Written with
    a streaming writer (:mod:`._xlsx`: column-wise XML, one shared style per look), so a
    city-scale coverage sheet costs seconds, not minutes.

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
        ("附件汇总 Annex", pd.DataFrame(frame(result, "annex"))),
        ("项目包 Packages", _packages(result)),
        ("单元覆盖 Unit coverage", _ordered(frame(result, "coverage"), "coverage")),
        ("街镇覆盖 Sub-district coverage", _ordered(frame(result, "jiezhen"), "coverage")),
        ("区覆盖 District coverage", _ordered(frame(result, "district"), "coverage")),
        ("全域汇总 Summary", _ordered(pd.DataFrame(summary), "coverage")),
        *_classification(result).items(),
        ("标准说明 Standards", standards(result)),
    ]
    with atomic_path(path) as tmp:
        book = _new_book(tmp)
        for name, table in tables:
            _write_sheet(book, name, [(None, table)])
        _write_about(book, result)
        book.close()
    log.info("wrote project list %s", path)
    return path


def write_tables(path: str | os.PathLike, sheets: Sequence[tuple[str, pd.DataFrame]]) -> Path:
    """Write tables to an ``.xlsx`` file with the project list's bilingual headers and styles.

    Same print setup and streaming writer as :func:`write_excel`.

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
        book = _new_book(tmp)
        for name, table in sheets:
            _write_sheet(book, name, [(None, pd.DataFrame(table).reset_index(drop=True))])
        book.close()
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


def _packages(result: Any) -> pd.DataFrame:
    """Return the project packages as a table (functions as text, no geometry or dicts)."""
    pk = frame(result, "packages")
    if pk.empty:
        return pd.DataFrame()
    drop = [c for c in ("geometry", "functions", "newly_covered", "units_served") if c in pk]
    out = pd.DataFrame(pk.drop(columns=drop))
    if "units_served" in pk:
        out["units_served"] = ["、".join(map(str, u)) for u in pk["units_served"]]
    return out


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    by = [c for c in by if c in df.columns]
    return df.sort_values(by, kind="stable") if by and len(df) else df


def _ordered(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    geo_cols = [c for c in df.columns if str(df[c].dtype) == "geometry"]
    df = pd.DataFrame(df.drop(columns=geo_cols)).reset_index(drop=True)
    first = [c for c in _ORDER[kind] if c in df.columns]
    return _names_not_ids(df[first + [c for c in df.columns if c not in first]])


_NAMED_TEXT = ("content_zh", "content_en")


def _names_not_ids(df: pd.DataFrame) -> pd.DataFrame:
    """Write each row's unit name where its text names the unit by id (a reader knows names)."""
    cols = [c for c in _NAMED_TEXT if c in df.columns]
    if not cols or not {"unit_id", "unit_name"} <= set(df.columns) or not len(df):
        return df
    df = df.copy()
    ids, names = df["unit_id"].astype(object), df["unit_name"].astype(object)
    for col in cols:
        out = []
        for text, uid, name in zip(df[col], ids, names, strict=True):
            if isinstance(text, str) and isinstance(uid, str) and uid and isinstance(name, str):
                if name.strip() and uid != name:
                    text = re.sub(rf"(?<![\w-]){re.escape(uid)}(?![\w-])", name, text)
            out.append(text)
        df[col] = out
    return df


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
            out[col] = _clean_column(out[col])
    return out


def _clean_column(values: pd.Series) -> pd.Series:
    """Text without the characters XML forbids, at most 32,000 characters (Excel's limit)."""
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        text = values[values.notna()]
        joined = "\n".join(text)  # one C-level scan instead of one regex call per cell
        if not ILLEGAL_CHARACTERS_RE.search(joined) and text.str.len().max() <= 32000:
            return values.astype(object)
    return values.map(_clean_text).astype(object)


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


# ---------------------------------------------------------------------------- styles
#: Print setup of every sheet (A3 landscape, one page wide, header row on every page).
PAPER_SIZE = 8  # A3 in the OOXML paper-size list
_LINE_PT = 15.0  # height of one text line of 11 pt Calibri
# column widths (characters): text longer than _PLAIN_CAP wraps in a column _WRAP_CAP wide, so a
# 30-column project list still prints one page wide at a readable scale
_PLAIN_CAP = 22
_WRAP_CAP = 26
_MAX_ROW_PT = 409.0  # Excel's limit


def _style_ids(book: XlsxBook) -> dict[str, int]:
    """Register the shared cell styles of the project list; return their ids by name."""
    extras = {
        "": {},
        " below": {"fill": "FFC7CE", "colour": "9C0006"},
        " fill": {"fill": "FFF2CC"},
        " nodata": {"fill": "D9D9D9"},
        " partial": {"fill": "FCE4D6"},
    }
    ids = {
        "lc header": book.style(
            bold=True,
            colour="FFFFFF",
            fill="1F4E78",
            wrap=True,
            centre=True,
            bottom_border="999999",
        ),
        "lc title": book.style(bold=True),
    }
    for fmt_name, fmt in {"": None, **_FORMATS}.items():
        for wrap in (False, True):
            for extra, kw in extras.items():
                name = "lc" + (f" {fmt_name}" if fmt_name else "") + (" wrap" if wrap else "")
                ids[name + extra] = book.style(number_format=fmt, wrap=wrap, top=True, **kw)
    return ids


_FORMATS = {"pct": "0.0%", "int": "#,##0", "dec": "0.0", "coord": "0.000000"}


def _column_format(col: str) -> str:
    col = str(col)
    if col in _PERCENT or col.startswith("share_"):
        return "pct"
    if col in _INTEGER or col.startswith(_INTEGER_PREFIX) or col.startswith("newly_covered_"):
        return "int"
    if col in _DECIMAL:
        return "dec"
    if col in _COORD:
        return "coord"
    return ""


def _style_codes(names: np.ndarray, ids: dict[str, int]) -> np.ndarray:
    """Return the style id of each name in ``names`` (0, the default, for one not in ``ids``).

    Each distinct name is looked up once: a sheet holds a few dozen names in up to a
    million cells.
    """
    codes, uniques = pd.factorize(names.ravel())
    lookup = np.array([*(ids.get(u, 0) for u in uniques), 0], dtype=np.int64)  # -1: missing
    return lookup[codes].reshape(names.shape)


def _cell_styles(df: pd.DataFrame, wrap: list[bool]) -> np.ndarray:
    """Return the named style of every body cell (None: default), column by column."""
    n, cols = len(df), list(df.columns)
    out = np.empty((n, len(cols)), dtype=object)
    extra = np.full((n, len(cols)), "", dtype=object)
    if "share" in cols and "target_share" in cols:
        share = pd.to_numeric(df["share"], errors="coerce").to_numpy(dtype=float)
        target = pd.to_numeric(df["target_share"], errors="coerce").to_numpy(dtype=float)
        below = share < target - 1e-12
        if "meets_standard" in cols:
            meets = df["meets_standard"]
            below = below | (meets.notna() & ~meets.fillna(True).astype(bool)).to_numpy()
        if "status" in cols:  # only measured gaps are red
            below = below & (df["status"].isin(["met", "gap"])).to_numpy()
        for name in ("share", "meets_standard"):
            if name in cols:
                extra[below, cols.index(name)] = " below"
    if "status" in cols:
        status = df["status"].to_numpy(dtype=object)
        j = cols.index("status")
        extra[status == "no data", j] = " nodata"
        extra[status == "partial network", j] = " partial"
        extra[status == "no residents", j] = " nodata"
    for name in _TO_FILL & set(cols):
        text = df[name].astype(str).str.strip()
        blank = df[name].isna() | (text == "") | text.str.contains(_TBD, regex=False)
        extra[blank.to_numpy(), cols.index(name)] = " fill"
    for j, col in enumerate(cols):
        fmt = _column_format(col)
        base = "lc" + (f" {fmt}" if fmt else "") + (" wrap" if wrap[j] else "")
        names = np.char.add(base, extra[:, j].astype(str)).astype(object) if n else extra[:, j]
        out[:, j] = names
    return out


# ---------------------------------------------------------------------------- layout
#: Code points below this have their width looked up in a table; above it, one by one.
_TABLE_END = 0x40000


@functools.cache
def _wide_flags() -> np.ndarray:
    """1 for every code point below ``_TABLE_END`` that is wide or fullwidth (W, F), else 0."""
    flags = np.zeros(_TABLE_END, dtype=np.int64)
    for cp in range(0x1100, _TABLE_END):
        if unicodedata.east_asian_width(chr(cp)) in "WF":
            flags[cp] = 1
    return flags


def _char_widths(codes: np.ndarray) -> np.ndarray:
    """Columns of each code point: 2 when wide or fullwidth (East Asian Width W or F), else 1."""
    wide = np.zeros(len(codes), dtype=np.int64)
    low = codes < _TABLE_END
    wide[low] = _wide_flags()[codes[low]]
    for k in np.flatnonzero(~low):  # planes 4 and up: rare, looked up one by one
        wide[k] = unicodedata.east_asian_width(chr(int(codes[k]))) in "WF"
    return 1 + wide


def _text_widths(texts: Sequence[str], sep: str = "\x00") -> np.ndarray:
    r"""Columns each text takes in a fixed-width cell (a CJK character counts 2).

        All texts at once: one UTF-32 buffer, widths from a table of the wide code points, summed
        per text with ``bincount``. ``sep`` (a character none of the texts holds) separates them;
        ``"
    "`` splits each text into its lines, one width per line.
    """
    if not texts:
        return np.zeros(0, dtype=np.int64)
    codes = np.frombuffer((sep.join(texts) + sep).encode("utf-32-le"), dtype=np.uint32)
    end = codes == ord(sep)
    part_of = np.cumsum(end) - end  # a separator ends its part
    weights = np.where(end, 0, _char_widths(codes))
    return np.bincount(part_of, weights=weights, minlength=int(end.sum())).astype(np.int64)


def _text_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width cell: a CJK (wide) character counts 2."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _longest(values: pd.Series) -> int:
    """Return the width of the widest of the first 200 values shown (CJK: 2)."""
    sample = values.head(200)
    texts = [str(v) for v in sample[sample.notna()]]
    if any("\x00" in t for t in texts):
        return max((_text_width(t) for t in texts), default=0)
    return int(_text_widths(texts).max(initial=0))


def _lines(text: Any, width: float) -> int:
    """Count the lines of ``text`` wrapped in a column ``width`` characters wide (CJK: 2)."""
    return int(_line_counts(np.array([text], dtype=object), width)[0])


def _line_counts(values: np.ndarray, width: float) -> np.ndarray:
    r"""Lines of each cell of ``values`` wrapped in a column ``width`` characters wide.

    Each ``\n``-separated part wraps on its own; a missing value is one line. All cells at
    once (:func:`_text_widths` per line; the row heights of a project list measure every
    wrapped cell, and a per-character Python loop was half of writing a district's workbook).
    """
    texts = [
        "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else str(v) for v in values
    ]
    if not texts:
        return np.zeros(0, dtype=np.int64)
    usable = max(width - 1.5, 1.0)
    parts = np.fromiter((t.count("\n") + 1 for t in texts), np.int64, len(texts))
    cols = _text_widths(texts, sep="\n")
    lines = np.maximum(1, np.ceil(cols / usable)).astype(np.int64)
    cell_of = np.repeat(np.arange(len(texts)), parts)
    return np.bincount(cell_of, weights=lines, minlength=len(texts)).astype(np.int64)


def _width(title: str, values: pd.Series, wrap: bool, wide: bool = False) -> float:
    longest = _longest(values)
    if pd.api.types.is_float_dtype(values.dtype):
        longest = min(longest, 12)
    # the header wraps: its widest word (a Chinese part counts whole) sets the minimum
    head = max(_text_width(word) for word in title.replace(" / ", " ").split() or [""]) + 2
    cap = 70 if wide else _WRAP_CAP if wrap else _PLAIN_CAP
    return float(min(max(longest + 2, head, 8), cap))


def _layout(df: pd.DataFrame, shown: pd.DataFrame) -> tuple[list[float], list[bool]]:
    """Column widths and which columns wrap (the named ones and text longer than the cap)."""
    widths, wrap = [], []
    for col in df.columns:
        values = shown[col]
        w = col in _WRAP
        if not w and values.dtype == object:
            w = _longest(values) + 2 > _PLAIN_CAP
        wrap.append(w)
        widths.append(_width(header(col), values, w, wide=col == "value"))
    return widths, wrap


def _row_heights(values: np.ndarray, widths: list[float], wrap: list[bool]) -> np.ndarray:
    """Height in points of each body row: the tallest wrapped cell's lines (0: default)."""
    out = np.zeros(len(values))
    for j in np.flatnonzero(wrap):
        out = np.maximum(out, _line_counts(values[:, j], widths[j]))
    heights = np.where(out > 1, np.minimum(out * _LINE_PT + 3, _MAX_ROW_PT), 0.0)
    return heights


# ---------------------------------------------------------------------------- writing
def _write_sheet(
    book: XlsxBook, sheet: str, blocks: list[tuple[str | None, pd.DataFrame]]
) -> XlsxSheet:
    """Stream one sheet: each block is an optional bold title row, a header row and a table.

    The first block's header row is frozen, repeated on printed pages and filtered.
    """
    ids = book.lc_styles  # type: ignore[attr-defined]
    prepared = []
    for title, df in blocks:
        df = df.reset_index(drop=True)
        shown = _excel_safe(df)
        widths, wrap = _layout(df, shown)
        prepared.append((title, df, shown, widths, wrap))
    # column widths are set before the first row: the widest need of any block
    n_cols = max((len(p[1].columns) for p in prepared), default=0)
    col_widths = [8.0] * n_cols
    for _, _, _, widths, _ in prepared:
        for j, w in enumerate(widths):
            col_widths[j] = max(col_widths[j], w)
    first = prepared[0] if prepared else None
    has_head = first is not None and len(first[1].columns) > 0
    head_row = (2 if first[0] else 1) if has_head else None
    ws = book.add_sheet(
        sheet,
        col_widths,
        head_row=head_row,
        n_rows=len(first[1]) if has_head else 0,
        paper_size=PAPER_SIZE,
        landscape=True,
    )
    for k, (title, df, shown, _, wrap) in enumerate(prepared):
        if k:
            ws.skip(1)
        if title:
            ws.write_rows(np.array([[title]], dtype=object), np.array([[ids["lc title"]]]))
        if not len(df.columns):
            continue
        heads = [header(c) for c in df.columns]
        head_lines = max((_lines(h, col_widths[j]) for j, h in enumerate(heads)), default=1)
        ws.write_rows(
            np.array([heads], dtype=object),
            np.full((1, len(heads)), ids["lc header"]),
            np.array([max(32.0, head_lines * _LINE_PT + 3)]),
        )
        if not len(df):
            continue
        values = shown.astype(object).where(shown.notna(), None).to_numpy(dtype=object)
        styles = _style_codes(_cell_styles(df, wrap), ids)
        ws.write_rows(values, styles, _row_heights(values, col_widths, wrap))
    return ws


def _new_book(path: Path) -> XlsxBook:
    book = XlsxBook(path)
    book.lc_styles = _style_ids(book)  # type: ignore[attr-defined]
    return book


# ---------------------------------------------------------------------------- about
def _assumptions_note(profile: Any) -> str | None:
    """``假设 assumptions: N (see 标准说明 Standards)`` from the profile, None without one."""
    table = getattr(profile, "assumptions", None)
    if not callable(table):
        return None
    try:
        n = len(table())
    except Exception:  # an old profile object
        return None
    return f"假设 assumptions: {n}（见 see 标准说明 Standards）"


def _write_about(book: XlsxBook, result: Any) -> None:
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
        ("标准来源 / Profile source", strip_paths(getattr(profile, "source", None))),
        ("假设 / Assumptions", _assumptions_note(profile)),
        ("步行速度 / Walk speed (km/h)", speed),
        ("生成时间 / Generated", created),
        ("填写说明 / To fill", _NOTE_BLANK),
        ("覆盖率 / Coverage share", _NOTE_SHARE),
    ]
    for warning in meta.get("warnings") or ():
        rows.append(("警告 / Warning", strip_paths(warning)))
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
    cats = categories(result)
    first = [
        c
        for c in ("name_zh", "name_en", "category", "group", "class_zh", "tier_min")
        if c in cats.columns
    ]
    cats = cats[first + [c for c in cats.columns if c not in first]]
    title = "各类服务步行标准 / Walking standard per category"
    _write_sheet(book, sheet, [(None, about), (title, cats)])
