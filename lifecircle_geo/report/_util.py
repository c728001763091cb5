"""Private helpers shared by the report writers: GDAL-safe tables, run facts, categories.

Atomic files and JSON text live in :mod:`lifecircle_geo._io`.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from .._io import file_digest, json_text, jsonable, strip_paths
from ..standards import AREA_TYPES

log = logging.getLogger("lifecircle_geo.report")


# ---------------------------------------------------------------------------- tables
def frame(result: Any, name: str) -> pd.DataFrame:
    """``result.<name>`` as a DataFrame copy; an empty one when missing or None."""
    value = getattr(result, name, None)
    if value is None:
        return pd.DataFrame()
    return value.copy()


def finite(df: pd.DataFrame) -> pd.DataFrame:
    """Replace +-inf by NaN in every float column (GDAL, Excel and JSON want NULL)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            values = out[col].to_numpy(dtype=float, copy=True)
            values[~np.isfinite(values)] = np.nan
            out[col] = values
    return out


def _cell_to_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, shapely.Geometry):
        return None if value.is_empty else value.wkt
    if isinstance(value, dict | list | tuple | set | frozenset | np.ndarray):
        return json_text(value)
    if isinstance(value, str | bool | int | float | np.generic | _dt.date | _dt.datetime):
        return value
    return str(value)


def gdal_safe(df: pd.DataFrame, geometry: str | None = "geometry") -> pd.DataFrame:
    """A copy of ``df`` that GDAL can write.

    Object columns holding geometries become WKT text, containers become JSON text, categorical
    columns become text, +-inf becomes NULL. The active ``geometry`` column is left alone.
    """
    out = finite(df)
    for col in out.columns:
        if col == geometry:
            continue
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
            dtype = out[col].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            kind = pd.api.types.infer_dtype(out[col], skipna=True)
            if kind in ("string", "empty"):  # plain text already: no per-cell pass
                out[col] = _text_or_none(out[col])
            else:
                out[col] = out[col].map(_cell_to_text).astype(object)
        elif str(dtype).startswith("geometry"):
            out[col] = [None if g is None or g.is_empty else g.wkt for g in out[col]]
    out.columns = [str(c) for c in out.columns]
    return out


def _text_or_none(series: pd.Series) -> pd.Series:
    """``series`` as an object column, every missing cell (None, NaN, pd.NA) as None.

    ``astype(object).where(notna(), None)`` in one numpy pass (half the time on long layers).
    """
    values = series.to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = None
    return pd.Series(values, index=series.index, dtype=object, name=series.name)


def run_facts(result: Any) -> list[tuple[str, Any]]:
    """Flat ``(key, value)`` facts about a run: profile, ``meta`` and the network's ``meta``.

    No local path is written: an absolute path becomes the file name, with the first 16 hex
    digits of its SHA-256 when the file can be read (``putuo.osm.pbf (sha256 0123…)``), so the
    outputs can travel and still name their inputs exactly.
    """
    return [(key, _no_paths(value)) for key, value in _run_facts(result)]


def _no_paths(value: Any) -> Any:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        p = Path(value)
        if p.is_absolute() and len(value) < 4096:
            digest = file_digest(p)
            return f"{p.name} (sha256 {digest})" if digest else p.name
        return strip_paths(value)
    if isinstance(value, dict):
        return {k: _no_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_paths(v) for v in value]
    return value


def _run_facts(result: Any) -> list[tuple[str, Any]]:
    facts: list[tuple[str, Any]] = []
    profile = getattr(result, "profile", None)
    if profile is not None:
        facts += [
            ("profile.id", getattr(profile, "id", None)),
            ("profile.name_zh", getattr(profile, "name_zh", None)),
            ("profile.name_en", getattr(profile, "name_en", None)),
        ]
    meta = getattr(result, "meta", None) or {}
    facts += [(str(k), v) for k, v in meta.items()]
    network = getattr(result, "network", None)
    if network is not None:
        crs = getattr(network, "crs", None)
        if crs is not None:
            facts.append(("network.crs", jsonable(crs)))
        facts += [
            (f"network.{k}", v)
            for k, v in (getattr(network, "meta", None) or {}).items()
            if k != "crs"
        ]
    return facts


# ---------------------------------------------------------------------------- categories
def _assumed_categories(result: Any) -> set[str]:
    """Categories whose distance, in an area type the result's units have, is an assumption."""
    profile = getattr(result, "profile", None)
    table = getattr(profile, "standards_table", None)
    if not callable(table):
        return set()
    rows = table()
    if rows.empty or "assumption_threshold_m" not in rows.columns:
        return set()
    units = getattr(result, "units", None)
    if units is not None and "area_type" in units and len(units):
        rows = rows[rows["area_type"].isin(set(units["area_type"]))]
    return set(rows.loc[rows["assumption_threshold_m"].astype(bool), "category"])


def categories(result: Any) -> pd.DataFrame:
    """One row per category in profile order: category, name_zh, name_en, group, class_zh,
    tier_min, target_share, plus ``threshold_<area type>`` columns when the profile gives them.

    Falls back to the categories found in ``result.coverage`` when there is no profile.
    """
    profile = getattr(result, "profile", None)
    assumed = _assumed_categories(result) if profile is not None else set()
    rows = []
    for cat in getattr(profile, "categories", None) or ():
        row = {
            "category": cat.id,
            "name_zh": cat.name_zh,
            "name_en": cat.name_en,
            "group": cat.group,
            "class_zh": cat.class_zh,
            "tier_min": cat.tier_min,
            "target_share": cat.target_share,
            "target_group": getattr(cat, "target_group", "all"),
            "informational": bool(getattr(cat, "informational", False)),
            "department": getattr(cat, "department", None),
            "assumed": cat.id in assumed,
        }
        for area in AREA_TYPES:
            try:
                row[f"threshold_{area}"] = float(cat.threshold_for(area))
            except Exception:
                row[f"threshold_{area}"] = np.nan
        rows.append(row)
    if rows:
        return pd.DataFrame(rows)
    cov = frame(result, "coverage")
    cols = [
        c
        for c in ("category", "name_zh", "name_en", "group", "class_zh", "tier_min", "target_share")
        if c in cov.columns
    ]
    if "category" not in cols:
        return pd.DataFrame(columns=["category", "name_zh", "name_en"])
    return cov[cols].drop_duplicates("category").reset_index(drop=True)


def standards(result: Any) -> pd.DataFrame:
    """The profile's standards, one row per category × area type, each number with its source.

    ``Profile.standards_table`` (threshold, mode, speed, label, unit target share, target group,
    informational, department, and their sources with an ``assumption`` flag); empty without a
    profile.
    """
    profile = getattr(result, "profile", None)
    table = getattr(profile, "standards_table", None)
    return table() if callable(table) else pd.DataFrame()


def provenance(result: Any) -> pd.DataFrame:
    """Every number of the profile with its source and whether it is an assumption."""
    profile = getattr(result, "profile", None)
    table = getattr(profile, "sources_table", None)
    return table() if callable(table) else pd.DataFrame()


def street_geometries(net: Any) -> np.ndarray:
    """The network's walkable streets (``net.snappable``; ferry lines left out), as an array."""
    geoms = np.asarray(net.geometry, dtype=object)
    keep = np.asarray(getattr(net, "snappable", np.ones(len(geoms), bool)), dtype=bool)
    return geoms[keep] if keep.shape == geoms.shape else geoms


def longest(geoms: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` longest of ``geoms`` (longest first; all of them, in order, when fewer)."""
    if len(geoms) <= limit:
        return geoms
    return geoms[np.argsort(-shapely.length(geoms), kind="stable")[:limit]]


def category_order(result: Any, present: Any) -> list[str]:
    """The categories in ``present``: the profile's order first, then the rest as they come."""
    present = pd.unique(pd.Series(present, dtype=object))
    seen = set(present)
    cats = categories(result)
    order = [c for c in cats.get("category", []) if c in seen]
    chosen = set(order)
    return order + [c for c in present if c not in chosen]


def unit_scores(result: Any) -> pd.DataFrame:
    """Per unit: ``share_<category>`` columns, ``n_meets_standard``, ``n_categories`` (measured).

    ``partial_network`` says the unit reaches beyond the street data (its rows' ``status``).
    """
    cov = frame(result, "coverage")
    if cov.empty or not {"unit_id", "category", "share"} <= set(cov.columns):
        return pd.DataFrame(
            columns=["unit_id", "n_meets_standard", "n_categories", "partial_network"]
        )
    order = category_order(result, cov["category"])
    wide = cov.pivot_table(
        index="unit_id", columns="category", values="share", aggfunc="first", dropna=False
    )
    wide = wide.reindex(columns=order)
    wide.columns = [f"share_{c}" for c in wide.columns]
    meets = cov.get("meets_standard", pd.Series(False, index=cov.index)).astype("boolean")
    status = cov.get("status", pd.Series("met", index=cov.index))
    # a category without data is not counted either way: n_categories is what was measured
    counts = (
        cov.assign(
            _meets=meets.fillna(False).astype(bool),
            _measured=(~status.isin(["no data", "no residents"])).to_numpy(),
            _partial=(status == "partial network").to_numpy(),
        )
        .groupby("unit_id")
        .agg(
            n_meets_standard=("_meets", "sum"),
            n_categories=("_measured", "sum"),
            partial_network=("_partial", "any"),
        )
    )
    out = counts.join(wide).reset_index()
    out["n_meets_standard"] = out["n_meets_standard"].astype(int)
    out["n_categories"] = out["n_categories"].astype(int)
    return out
