"""File helpers shared by every writer: atomic files, UTF-8 JSON text, untrusted text.

Text from the inputs (unit, 街镇 and facility names, keys) is data, never a formula or a path:
:func:`safe_cell` / :func:`safe_csv_frame` neutralise text a spreadsheet would run
(``=``, ``+``, ``-``, ``@``, tab, carriage return: OWASP's CSV-injection rule), :func:`safe_name`
makes a file or folder name that cannot leave its folder, and :func:`strip_paths` replaces
absolute paths in text by their file names (outputs travel; local paths do not belong in them).

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
import hashlib
import json
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "FORMULA_PREFIXES",
    "atomic_path",
    "file_digest",
    "formula_like",
    "json_text",
    "jsonable",
    "safe_cell",
    "safe_csv_frame",
    "safe_name",
    "strip_paths",
]

#: First characters that make a spreadsheet read a text cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


# ---------------------------------------------------------------------------- untrusted text
def formula_like(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula.

    Parameters
    ----------
    value : Any
        A cell value.

    Returns
    -------
    bool
        True for a ``str`` beginning with one of :data:`FORMULA_PREFIXES`.

    Examples
    --------
    >>> formula_like("=2+2"), formula_like("-5"), formula_like("长征镇"), formula_like(-5)
    (True, True, False, False)
    """
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def safe_cell(value: Any) -> Any:
    r"""``value`` made inert for a format without cell types (CSV): formula-like text gets ``'``.

    The OWASP rule: a leading apostrophe makes a spreadsheet show the text as it is. Numbers,
    dates and other text are returned unchanged. Excel cells are typed instead (the workbook
    writer stores such text as a string cell, unchanged).

    Parameters
    ----------
    value : Any
        A cell value.

    Returns
    -------
    Any
        ``"'" + value`` for formula-like text, else ``value``.

    Examples
    --------
    >>> safe_cell("=HYPERLINK(\"http://x\")"), safe_cell("@SUM(A1)"), safe_cell(3)
    ('\'=HYPERLINK("http://x")', "'@SUM(A1)", 3)
    """
    return "'" + value if formula_like(value) else value


def safe_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names pass :func:`safe_cell`.

    Call it on every table just before ``to_csv``.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table.

    Returns
    -------
    pandas.DataFrame
        Same shape; only formula-like text changed.

    Examples
    --------
    >>> safe_csv_frame(pd.DataFrame({"name": ["=1+1", "ok"], "n": [-1, 2]}))["name"].tolist()
    ["'=1+1", 'ok']
    """
    out = df.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(
            dtype, pd.StringDtype | pd.CategoricalDtype
        ):
            out[col] = out[col].astype(object).map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def safe_name(text: Any, max_bytes: int = 120) -> str:
    """A file or folder name made from ``text`` (a key, a 街镇 name) that stays in its folder.

    Path separators, ``..``, control characters and characters Windows forbids become ``_``;
    leading dots and trailing dots/spaces are dropped; Windows device names (``CON``, ``NUL``,
    ...) get a ``_`` prefix; a name longer than ``max_bytes`` UTF-8 bytes is cut and given a
    short hash of the whole text so that two long names stay distinct. Chinese is kept.

    Parameters
    ----------
    text : Any
        The key or name (``str()`` is taken).
    max_bytes : int, default 120
        Longest result in UTF-8 bytes (file systems allow 255).

    Returns
    -------
    str
        A non-empty name without separators.

    Examples
    --------
    >>> safe_name("../../etc/passwd"), safe_name("长征镇 (普陀)"), safe_name(""), safe_name("NUL")
    ('_etc_passwd', '长征镇 (普陀)', '_', '_NUL')
    >>> len(safe_name("街" * 200).encode()) <= 120
    True
    """
    raw = unicodedata.normalize("NFC", str(text))
    name = _UNSAFE_NAME.sub("_", raw)
    name = re.sub(r"\.{2,}", "_", name)
    name = re.sub(r"_{2,}", "_", name).lstrip(". ").rstrip(". ")
    if _RESERVED.match(name):
        name = "_" + name
    if not name.strip("_ "):
        name = name or "_"
    if len(name.encode("utf-8")) > max_bytes:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
        cut = name.encode("utf-8")[: max_bytes - 11].decode("utf-8", "ignore")
        name = f"{cut}-{digest}"
    return name or "_"


# a rooted POSIX path of at least two parts, or a drive-letter / UNC path
_ABS_PATH = re.compile(
    r"(?<![\w.:/\\~])"
    r"(?:[A-Za-z]:[\\/]|\\\\|/|~/)"
    r"(?:[^\s/\\:*?\"<>|,;'()\[\]{}]+[\\/])+"
    r"([^\s/\\:*?\"<>|,;'()\[\]{}]*)"
)


def strip_paths(value: Any) -> Any:
    r"""``value`` with every absolute path in its text replaced by the file name.

    Strings, and strings inside dicts and lists, are changed; other values are returned as
    they are. URLs are left alone.

    Parameters
    ----------
    value : Any
        Text, or nested dicts / lists of text.

    Returns
    -------
    Any
        The same structure without local folders.

    Examples
    --------
    >>> strip_paths("read /home/ana/data/putuo.osm.pbf (3 MB)")
    'read putuo.osm.pbf (3 MB)'
    >>> strip_paths({"units": "C:\\Users\\ana\\units.gpkg", "url": "https://x.org/a/b"})
    {'units': 'units.gpkg', 'url': 'https://x.org/a/b'}
    """
    if isinstance(value, str):
        return _ABS_PATH.sub(lambda m: m.group(1) or "…", value)
    if isinstance(value, dict):
        return {k: strip_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(strip_paths(v) for v in value)
    if isinstance(value, os.PathLike):
        return Path(value).name
    return value


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike, chars: int = 16) -> str | None:
    """The SHA-256 of a file (first ``chars`` hex digits), or None when it cannot be read.

    Cached per path, size and modification time within the process.

    Parameters
    ----------
    path : str or path-like
        A file.
    chars : int, default 16
        Hex digits kept.

    Returns
    -------
    str or None
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            return None
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key][:chars]
