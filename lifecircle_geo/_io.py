"""File helpers shared by every writer: atomic files and UTF-8 JSON text.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(folder / "facts.json") as tmp:
...     _ = tmp.write_text(json_text({"街镇": "示例街道", "share": float("nan")}), encoding="utf-8")
>>> (folder / "facts.json").read_text(encoding="utf-8")
'{"街镇": "示例街道", "share": null}'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = ["atomic_path", "json_text", "jsonable"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` (same suffix); rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.

    Yields
    ------
    pathlib.Path
        A name in the same folder that does not exist yet (writers such as GDAL create it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers (GDAL especially) want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        # GDAL's side files (-wal, -shm, -journal) go too
        for extra in (tmp_path, *tmp_path.parent.glob(tmp_path.name + "-*")):
            with contextlib.suppress(OSError):
                extra.unlink()
        raise


def jsonable(obj: Any) -> Any:
    """``obj`` made JSON-serialisable: numpy scalars, paths, dates, CRS, NaN → None.

    Parameters
    ----------
    obj : Any
        Nested dicts, lists, numbers, text, paths, dates, geometries or CRS objects.

    Returns
    -------
    Any
        Plain dicts, lists, text, numbers, booleans and None.

    Examples
    --------
    >>> jsonable({"n": np.int64(3), "x": float("inf"), "tags": {"b", "a"}})
    {'n': 3, 'x': None, 'tags': ['a', 'b']}
    """
    if obj is None or isinstance(obj, bool | str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset | np.ndarray):
        return [
            jsonable(v) for v in (sorted(obj, key=str) if isinstance(obj, set | frozenset) else obj)
        ]
    if isinstance(obj, _dt.date | _dt.datetime | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, shapely.Geometry):
        return obj.wkt
    if hasattr(obj, "to_string") and callable(obj.to_string):  # pyproj.CRS
        try:
            return obj.to_string()
        except Exception:
            pass
    return str(obj)


def json_text(obj: Any, indent: int | None = None) -> str:
    """UTF-8 JSON text of ``obj`` (Chinese kept readable, NaN written as null).

    Parameters
    ----------
    obj : Any
        Anything :func:`jsonable` accepts.
    indent : int, optional
        Indentation, as :func:`json.dumps`.

    Returns
    -------
    str

    Examples
    --------
    >>> json_text({"类别": "幼儿园", "share": np.float64(0.5)})
    '{"类别": "幼儿园", "share": 0.5}'
    """
    return json.dumps(jsonable(obj), ensure_ascii=False, indent=indent)
