"""A GDAL-safe table as an Arrow stream, for GDAL's Arrow write path.

:func:`pyogrio.raw.write_arrow` hands GDAL whole columns instead of one feature at a time, and
writes the long GeoPackage layers (a district's resident points, its street edges) in less than
half the time of :func:`pyogrio.write_dataframe`. It takes any object with the Arrow PyCapsule
interface; this module builds one with nanoarrow (a small library without pandas hooks), not
pyarrow, because with pyarrow installed pandas 3 keeps every string column in Arrow storage and
the workbook and map writers slow down.

Only columns this module knows are converted: numbers, booleans, pandas' nullable integers and
text (``None`` for NULL). A table with any other column (dates, mixed objects) returns ``None``
and is written the usual way, so both paths give the same file (tested layer by layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = ["arrow_stream"]

#: Arrow's 32-bit offsets hold at most this many bytes per column; longer ones use 64-bit.
_MAX_SMALL_OFFSET = 2**31 - 1

_INT_TYPES = {
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
}


def _nanoarrow() -> Any:
    try:
        import nanoarrow
    except ImportError:  # an install without it writes the usual way
        return None
    return nanoarrow


def _validity(ok: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Arrow's validity bitmap of ``ok`` (None when nothing is NULL) and the NULL count."""
    missing = int(len(ok) - np.count_nonzero(ok))
    if not missing:
        return None, 0
    return np.packbits(ok, bitorder="little"), missing


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets if offsets[-1] > _MAX_SMALL_OFFSET else offsets.astype(np.int32)


def _text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-8 bytes of text cells: ``(ok, offsets, data)``; each distinct text encoded once.

    Long layers repeat a few texts (unit ids, names, categories), so the cells are factorized
    and the bytes gathered by index instead of encoding every cell.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    encoded = [str(u).encode("utf-8") for u in uniques]
    # one entry more, of length 0: NULL cells (code -1) index it
    unique_len = np.zeros(len(encoded) + 1, dtype=np.int64)
    unique_len[:-1] = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    unique_start = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(unique_len[:-1], out=unique_start[1:])
    pool = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    lengths = unique_len[codes]
    offsets = _offsets(lengths)
    # byte i of the output is pool[start of its cell's text + i - start of its cell]
    shift = np.repeat(unique_start[codes] - offsets[:-1], lengths)
    data = pool[np.arange(int(offsets[-1]), dtype=np.int64) + shift]
    ok = codes >= 0
    return ok, offsets, data


def _wkb(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ISO WKB of each geometry: ``(ok, offsets, data)``, missing geometries NULL."""
    ok = ~shapely.is_missing(geoms)
    blobs = shapely.to_wkb(geoms[ok])
    lengths = np.zeros(len(geoms), dtype=np.int64)
    lengths[ok] = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    return ok, _offsets(lengths), data


def _column(na: Any, series: pd.Series) -> tuple[Any, list[Any], int] | None:
    """``(schema, buffers, null count)`` of one column, or None for a type not handled here."""
    dtype = series.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # pandas' nullable types
        bitmap, missing = _validity(series.notna().to_numpy())
        if pd.api.types.is_bool_dtype(dtype):
            values = series.to_numpy(dtype=bool, na_value=False)
            return na.bool_(), [bitmap, np.packbits(values, bitorder="little")], missing
        if not pd.api.types.is_integer_dtype(dtype):
            return None
        values = series.to_numpy(dtype=dtype.numpy_dtype, na_value=0)
        name = _INT_TYPES.get((values.dtype.kind, values.dtype.itemsize))
        return None if name is None else (getattr(na, name)(), [bitmap, values], missing)
    values = series.to_numpy()
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        bitmap, missing = _validity(~np.isnan(values))  # NaN is NULL, as write_dataframe does
        schema = na.float64() if dtype.itemsize == 8 else na.float32()
        return schema, [bitmap, np.ascontiguousarray(values)], missing
    if dtype.kind in "iu":
        name = _INT_TYPES.get((dtype.kind, dtype.itemsize))
        return None if name is None else (getattr(na, name)(), [None, values], 0)
    if dtype.kind == "b":
        return na.bool_(), [None, np.packbits(values, bitorder="little")], 0
    if dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        ok, offsets, data = _text(values)
        bitmap, missing = _validity(ok)
        schema = na.large_string() if offsets.dtype == np.int64 else na.string()
        return schema, [bitmap, offsets, data], missing
    return None


def arrow_stream(df: pd.DataFrame, geometry: str | None = None) -> Any | None:
    """``df`` as an Arrow array stream for :func:`pyogrio.raw.write_arrow`, or None.

    Parameters
    ----------
    df : DataFrame
        A table made safe for GDAL (:func:`lifecircle_geo.report._util.gdal_safe`), with a
        default index.
    geometry : str, optional
        The geometry column, written as ISO WKB (binary).

    Returns
    -------
    object or None
        An object with ``__arrow_c_stream__``; None when nanoarrow is not installed or a column
        has a type converted only by :func:`pyogrio.write_dataframe`.
    """
    na = _nanoarrow()
    if na is None:
        return None
    if len(set(map(str, df.columns))) < len(df.columns):
        return None
    n = len(df)
    fields: dict[str, Any] = {}
    children = []
    for position, name in enumerate(df.columns):
        series = df.iloc[:, position]
        if name == geometry:
            ok, offsets, data = _wkb(np.asarray(series.array, dtype=object))
            bitmap, missing = _validity(ok)
            schema = na.large_binary() if offsets.dtype == np.int64 else na.binary()
            column = (schema, [bitmap, offsets, data], missing)
        else:
            column = _column(na, series)
            if column is None:
                return None
        schema, buffers, missing = column
        fields[str(name)] = schema
        children.append(na.c_array_from_buffers(schema, n, buffers, null_count=missing))
    table = na.struct(fields, nullable=False)
    return na.c_array_stream(na.c_array_from_buffers(table, n, [None], children=children))
