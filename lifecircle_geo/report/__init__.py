"""Every file a person opens: project database, project list, map and figures.

The project database is a GeoPackage (version 1.2), the project list a bilingual Excel workbook
that prints (A3 landscape, one page wide), the map a self-contained HTML page that works
offline (the network's streets as basemap), the figures PNG, and a one-page summary per 街镇
(PNG and PDF) for the 一图三会 meetings.

:func:`write_result` writes them all at once, atomically: into a temporary sibling folder first,
then moved into place, so a failure never leaves a half-written project database.

Examples
--------
>>> from lifecircle_geo.report import write_result
>>> paths = write_result(result, "out/putuo")  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['figures', 'gpkg', 'html', 'summaries', 'xlsx']
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .._fork import can_fork, side_process
from ..analysis import OUTPUTS
from ..errors import InputError
from ..settings import settings
from . import excel, figures, gpkg, html, summary
from .excel import write_excel, write_tables
from .figures import write_figures
from .fonts import cjk_font
from .gpkg import LAYERS, write_gpkg
from .html import write_map

__all__ = [
    "FILE_NAMES",
    "LAYERS",
    "cjk_font",
    "write_excel",
    "write_figures",
    "write_gpkg",
    "write_map",
    "write_result",
    "write_tables",
]

log = logging.getLogger(__name__)

#: Output file names inside the result folder.
FILE_NAMES = {"gpkg": "project_database.gpkg", "xlsx": "project_list.xlsx", "html": "map.html"}


#: The outputs drawn in the second process when there is one (matplotlib's): for a 街镇 about
#: as long as the database, workbook and map together.
_SIDE_OUTPUTS = ("figures", "summaries")


def write_result(
    result: Any,
    folder: str | os.PathLike,
    outputs: Collection[str] | None = None,
    *,
    processes: int | None = None,
) -> dict[str, Any]:
    """Write every output of ``result`` into ``folder``, all or nothing.

    Files are written into a temporary sibling folder (``.<name>.tmp-XXXX``) and moved into
    ``folder`` (created if needed) only when all are finished; files of the same name already in
    ``folder`` are replaced, other files are left alone. On any error the temporary folder is
    removed, ``folder`` is left as it was (and not created if it did not exist) and the error is
    raised again.

    Parameters
    ----------
    result : AnalysisResult
        An analysis result (see :mod:`lifecircle_geo.analysis`).
    folder : str or os.PathLike
        Output folder.
    outputs : collection of str, optional
        Which of :data:`OUTPUTS` to write (a city batch writes the project database and list
        per 街镇 and leaves the figures to the roll-up); default all.
    processes : int, optional
        2: the figures and summaries are drawn in a forked second process meanwhile (where
        there is a second core and ``fork``); 1: one after another. Default
        ``settings.write_processes``. The files are the same either way.

    Returns
    -------
    dict
        ``{"gpkg": Path, "xlsx": Path, "html": Path, "figures": [Path, ...],
        "summaries": [Path, ...]}`` inside
        ``folder``: ``project_database.gpkg``, ``project_list.xlsx``, ``map.html`` and the PNGs
        (``coverage_by_category.png``, ``unit_coverage_map.png``, ...), and ``"summaries"``:
        the one-page summary of each 街镇 (``summary_<code>_<name>.png`` and ``.pdf``).

    Examples
    --------
    >>> import lifecircle_geo as lc
    >>> paths = lc.report.write_result(result, "out/demo")  # doctest: +SKIP
    >>> paths["gpkg"].name  # doctest: +SKIP
    'project_database.gpkg'
    """
    chosen = OUTPUTS if outputs is None else tuple(outputs)
    result = _SharedSummary(result)
    unknown = sorted(set(chosen) - set(OUTPUTS))
    if unknown:
        raise InputError(f"unknown output(s) {unknown}; expected some of {list(OUTPUTS)}")
    writers = {
        "gpkg": ("gpkg", lambda tmp: gpkg.write_gpkg(result, tmp / FILE_NAMES["gpkg"])),
        "xlsx": ("xlsx", lambda tmp: excel.write_excel(result, tmp / FILE_NAMES["xlsx"])),
        "map": ("html", lambda tmp: html.write_map(result, tmp / FILE_NAMES["html"])),
        "figures": ("figures", lambda tmp: figures.write_figures(result, tmp)),
        "summaries": ("summaries", lambda tmp: summary.write_summaries(result, tmp)),
    }
    folder = Path(folder).absolute()
    created_parents = _make_parents(folder.parent)
    existed = folder.exists()
    if existed and not folder.is_dir():
        raise NotADirectoryError(f"output folder {folder} exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    moved: list[Path] = []
    try:
        names = [n for n in OUTPUTS if n in chosen]
        side = [n for n in names if n in _SIDE_OUTPUTS]
        here = [n for n in names if n not in _SIDE_OUTPUTS]
        n_proc = settings.write_processes if processes is None else processes
        written: dict[str, Any] = {}
        if n_proc > 1 and side and here and can_fork():
            if callable(getattr(result, "summary", None)):
                result.summary()  # once, before the fork: both processes show it
            with side_process(lambda: {n: writers[n][1](tmp) for n in side}, fork=True) as drawn:
                written.update({n: writers[n][1](tmp) for n in here})
                written.update(drawn.result())
        else:
            written = {n: writers[n][1](tmp) for n in names}
        staged = {writers[n][0]: written[n] for n in names}
        folder.mkdir(exist_ok=True)
        out: dict[str, Any] = {}
        for key, value in staged.items():
            if isinstance(value, list):
                out[key] = [_move(p, folder, moved) for p in value]
            else:
                out[key] = _move(value, folder, moved)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
            for parent in created_parents:
                with contextlib.suppress(OSError):
                    parent.rmdir()
        elif moved:
            log.error("writing %s failed after %d files were replaced", folder, len(moved))
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s: %s", folder, ", ".join(p.name for p in moved))
    return out


class _SharedSummary:
    """``result`` whose ``summary()`` is computed once for all the writers of one write.

    The whole-area summary recomputes every resident's coverage (1.7 s for 浦东); the
    workbook, the project database and the figures each show it.
    """

    def __init__(self, result: Any) -> None:
        self._result = result
        self._summary: Any = None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._result, name)
        if name != "summary" or not callable(value):
            return value

        def summary() -> Any:
            if self._summary is None:
                self._summary = value()
            return self._summary.copy()

        return summary


def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and its missing ancestors; return those created, deepest first."""
    missing = []
    p = parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    parent.mkdir(parents=True, exist_ok=True)
    return missing


def _move(path: Path, folder: Path, moved: list[Path]) -> Path:
    target = folder / path.name
    os.replace(path, target)
    moved.append(target)
    return target
