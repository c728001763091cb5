"""The yearly cycle: last year's project database carried over, and residents' 需求清单.

Every November a 街镇 hands in next year's 项目实施清单 and 项目数据库 (2025 action plan 任务13).
Two inputs make this year's list follow from last year's and from what residents asked for:

- :func:`read_previous` reads last year's project database (the ``projects`` layer of a
  ``project_database.gpkg``, or the 项目清单 sheet of a ``project_list.xlsx``).
  :func:`carry_over` keeps the projects that are not finished (拟实施 planned, 在建 under
  construction) with their status, and turns their functions into *planned* facilities, so the
  analysis counts the coverage they will bring and does not propose them again at the same
  place; finished ones (年内完成 / 已完成) are assumed to be in this year's facility data.
- :func:`read_needs` reads the 需求清单 from 问需求计 surveys: per unit (or 街镇) and category,
  what residents asked for. Matching gaps rank higher and the request is cited in the project's
  缺口说明.

Examples
--------
>>> import lifecircle_geo as lc
>>> prev = lc.cycle.read_previous("out/2025/project_database.gpkg")  # doctest: +SKIP
>>> planned, carried = lc.cycle.carry_over(prev)  # doctest: +SKIP
>>> needs = lc.cycle.read_needs("需求清单.xlsx", profile="shanghai-2025")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import InputError
from .standards import Profile, load_profile

log = logging.getLogger(__name__)

__all__ = ["FINISHED", "STATUSES", "carry_over", "needs_by_gap", "read_needs", "read_previous"]

#: Project statuses of the project database (项目状态).
STATUSES = ("拟实施", "在建", "年内完成")
#: Statuses that mean the project is built (its facility is in this year's data).
FINISHED = ("年内完成", "已完成", "完成", "竣工", "done", "finished", "completed")
_STATUS_ALIASES = {
    "planned": "拟实施",
    "未开工": "拟实施",
    "拟建": "拟实施",
    "计划": "拟实施",
    "in progress": "在建",
    "under construction": "在建",
    "实施中": "在建",
    "施工中": "在建",
}
_PREV_ALIASES = {
    "project_id": ("project_id", "项目编号"),
    "unit_id": ("unit_id", "单元编号"),
    "category": ("category", "类别代码"),
    "status": ("status", "项目状态", "状态"),
    "lon": ("lon", "经度(wgs-84)", "经度"),
    "lat": ("lat", "纬度(wgs-84)", "纬度"),
    "name_zh": ("name_zh", "类别", "项目名称"),
    "content_zh": ("content_zh", "建设内容"),
    "year": ("year", "年度"),
}
_NEED_ALIASES = {
    "unit_id": ("unit_id", "单元编号", "社区基本单元编号"),
    "jiezhen_code": ("jiezhen_code", "街镇代码"),
    "category": ("category", "类别代码", "类别", "服务类别", "需求类别"),
    "need": ("need", "需求", "需求内容", "诉求", "居民需求"),
    "count": ("count", "次数", "人次", "提出人数", "需求数"),
}


def _norm(text: object) -> str:
    """Return a header as compared: NFKC, trimmed, lower case."""
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def _pick(df: pd.DataFrame, aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Find the column of ``df`` for each meaning (bilingual ``中文 / English`` headers too)."""
    found: dict[str, str] = {}
    for col in df.columns:
        parts = {_norm(p) for p in str(col).split(" / ")} | {_norm(col)}
        for meaning, names in aliases.items():
            if meaning not in found and parts & {_norm(n) for n in names}:
                found[meaning] = col
    return found


def _read_table(path: Path, sheet: str | int | None, what: str) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: {what} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=str)
        if suffix == ".csv":
            raw = path.read_bytes()
            for enc in ("utf-8-sig", "gb18030"):
                try:
                    text = raw.decode(enc)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise InputError(f"{path}: {what} is neither UTF-8 nor GBK text")
            from io import StringIO

            return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: could not read {what} ({exc})") from None
    raise InputError(f"{path}: {what} should be .gpkg, .xlsx or .csv")


def read_previous(path: str | os.PathLike, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read last year's projects: ids, unit, category, status and place.

    Parameters
    ----------
    path : str or path-like
        A ``project_database.gpkg`` (its ``projects`` layer), its output folder, or a
        ``project_list.xlsx`` / CSV with the 项目清单's columns (bilingual headers as written
        by :mod:`lifecircle_geo.report` are understood; a planner's status column 项目状态 /
        状态 may say 拟实施, 在建 or 年内完成). A row without a status counts as 拟实施.
    sheet : str or int, optional
        Sheet of a workbook (default: ``项目清单 Projects``, else the first).

    Returns
    -------
    DataFrame
        One row per project, ``status`` one of :data:`STATUSES` (or a finished synonym kept
        as 年内完成), ``lon``/``lat`` WGS-84 (NaN where the project has no place).

    Raises
    ------
    InputError
        Naming the file and the missing column or unknown status.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "project_database.gpkg"
    if p.suffix.lower() == ".gpkg":
        if not p.exists():
            raise InputError(f"{p}: last year's project database does not exist")
        import pyogrio

        try:
            df = pd.DataFrame(pyogrio.read_dataframe(p, layer="projects", read_geometry=False))
        except Exception as exc:
            raise InputError(f"{p}: no readable 'projects' layer ({exc})") from None
    else:
        if sheet is None and p.suffix.lower() in (".xlsx", ".xlsm") and p.exists():
            from openpyxl import load_workbook

            names = load_workbook(p, read_only=True).sheetnames
            sheet = "项目清单 Projects" if "项目清单 Projects" in names else 0
        df = _read_table(p, sheet, "last year's project list")
    cols = _pick(df, _PREV_ALIASES)
    missing = [m for m in ("unit_id", "category") if m not in cols]
    if missing:
        raise InputError(
            f"{p}: last year's projects need the column(s) {missing} (e.g. 单元编号, 类别代码); "
            f"columns are {list(df.columns)}"
        )
    out = pd.DataFrame({m: df[c] for m, c in cols.items()})
    out["unit_id"] = out["unit_id"].astype(str)
    if "project_id" not in out:
        out["project_id"] = [f"{p.stem}-{i + 1}" for i in range(len(out))]
    status = out.get("status", pd.Series("", index=out.index)).fillna("").astype(str).str.strip()
    status = status.replace("", "拟实施").map(lambda s: _STATUS_ALIASES.get(s.lower(), s))
    status = status.where(~status.str.lower().isin([f.lower() for f in FINISHED]), "年内完成")
    bad = sorted(set(status) - set(STATUSES))
    if bad:
        rows = [int(i) + 2 for i in np.flatnonzero(status.isin(bad).to_numpy())][:10]
        raise InputError(
            f"{p}: unknown project status {bad} (rows {rows}); expected one of {STATUSES}"
        )
    out["status"] = status
    for c in ("lon", "lat"):
        out[c] = pd.to_numeric(out.get(c, np.nan), errors="coerce")
    return out.reset_index(drop=True)


def carry_over(
    previous: pd.DataFrame, *, year: int | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Carry unfinished projects over: kept with their status, functions counted as planned.

    Parameters
    ----------
    previous : DataFrame
        From :func:`read_previous`.
    year : int, optional
        The new list's year (recorded on the carried projects).

    Returns
    -------
    (GeoDataFrame, DataFrame)
        The planned facilities (WGS-84, ``source`` ``"carry-over"``, ``rule`` the status, one
        per placed unfinished project: give them to :func:`lifecircle_geo.analyze` with the
        other facilities so the coverage they will bring counts and nothing is proposed again
        where they are), and the carried projects (status kept, ``carried_from`` the old id).
    """
    open_ = previous[previous["status"] != "年内完成"].copy()
    # a package lists its functions "park,health": one planned facility per function
    placed = open_[open_["lon"].notna() & open_["lat"].notna()].copy()
    placed["category"] = placed["category"].astype(str).str.split(r"[,，、;；]\s*")
    placed = placed.explode("category")
    placed = placed[placed["category"].str.strip() != ""]
    planned = gpd.GeoDataFrame(
        {
            "facility_id": "carry-over/"
            + placed["project_id"].astype(str)
            + "/"
            + placed["category"].astype(str),
            "name": placed.get("name_zh", placed["category"]).astype(str) + "（结转）",
            "category": placed["category"].astype(str).to_numpy(),
            "facility_type": "",
            "source": "carry-over",
            "rule": placed["status"].to_numpy(),
            "capacity": np.nan,
        },
        geometry=gpd.points_from_xy(placed["lon"], placed["lat"]),
        crs=4326,
    )
    planned["entrances"] = None
    carried = open_.rename(columns={"project_id": "carried_from"})
    if year is not None:
        carried["year"] = year
    if len(open_) - len(placed):
        log.warning(
            "%d unfinished project(s) have no place (lon/lat): carried over, but their "
            "coverage cannot be counted",
            len(open_) - len(placed),
        )
    return planned.reset_index(drop=True), carried.reset_index(drop=True)


def read_needs(
    path: str | os.PathLike | pd.DataFrame,
    profile: str | Profile = "shanghai-2025",
    *,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read the 需求清单: residents' requests per unit (or 街镇) and category.

    Parameters
    ----------
    path : str, path-like or DataFrame
        CSV/XLSX (or a table) with a unit id (单元编号) or 街镇 code, a category (its id or
        Chinese name, e.g. 托育 or ``childcare``), the request text (需求) and optionally how
        many residents asked (人次).
    profile : str or Profile
        Whose categories the names are matched against.
    sheet : str or int, optional
        Sheet of a workbook.

    Returns
    -------
    DataFrame
        ``unit_id`` (or ``jiezhen_code``), ``category``, ``need`` (requests joined with "；"),
        ``count``; one row per area × category.

    Raises
    ------
    InputError
        Naming the file, row and value for an unknown category or a missing column.
    """
    prof = load_profile(profile)
    label = "needs table" if isinstance(path, pd.DataFrame) else str(path)
    df = path if isinstance(path, pd.DataFrame) else _read_table(Path(path), sheet, "需求清单")
    cols = _pick(df, _NEED_ALIASES)
    key = "unit_id" if "unit_id" in cols else "jiezhen_code" if "jiezhen_code" in cols else None
    if key is None or "category" not in cols:
        raise InputError(
            f"{label}: the 需求清单 needs a unit id (单元编号) or 街镇代码 and a category (类别); "
            f"columns are {list(df.columns)}"
        )
    by_name = {c.name_zh: c.id for c in prof.categories} | {c.id: c.id for c in prof.categories}
    raw = df[cols["category"]].astype(str).str.strip()
    category = raw.map(by_name)
    unknown = category.isna() & (raw != "")
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"{label}: row {i + 2}: category {raw.iloc[i]!r} is not a category of {prof.id} "
            f"(use its id or Chinese name, e.g. {prof.categories[0].id} / "
            f"{prof.categories[0].name_zh})"
        )
    out = pd.DataFrame(
        {
            key: df[cols[key]].astype(str).str.strip(),
            "category": category,
            "need": df[cols["need"]].fillna("").astype(str) if "need" in cols else "",
            "count": pd.to_numeric(df[cols["count"]], errors="coerce").fillna(1.0)
            if "count" in cols
            else 1.0,
        }
    ).dropna(subset=["category"])
    return (
        out.groupby([key, "category"], sort=False)
        .agg(need=("need", lambda s: "；".join(x for x in s if x)), count=("count", "sum"))
        .reset_index()
    )


def needs_by_gap(gaps: pd.DataFrame, needs: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``need`` and ``need_count`` to ``gaps`` from the 需求清单 (by unit, else 街镇)."""
    out = gaps.copy()
    out["need"] = ""
    out["need_count"] = 0.0
    if needs is None or not len(needs) or not len(out):
        return out
    key = "unit_id" if "unit_id" in needs.columns else "jiezhen_code"
    table = needs.set_index([key, "category"])
    at = pd.MultiIndex.from_arrays([out[key].astype(str), out["category"]])
    out["need"] = table["need"].reindex(at).fillna("").to_numpy()
    out["need_count"] = table["count"].reindex(at).fillna(0.0).to_numpy()
    return out
