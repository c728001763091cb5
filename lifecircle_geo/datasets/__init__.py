"""Data sets that ship with the package: the synthetic sample sub-district 示例街道.

:func:`get_path` returns the folder of a data set. In an installed wheel the sample is package
data (``lifecircle_geo/datasets/sample/``, copied from ``data/sample/`` when the wheel is built);
in a source checkout (an editable install) it is read in place from ``data/sample/``. The
environment variable ``LIFECIRCLE_SAMPLE`` points :func:`get_path` at another folder holding the
same files. Everything in the sample is synthetic (a fictional place); see its ``README.md``.

Examples
--------
>>> from lifecircle_geo import datasets
>>> datasets.available()
['sample']
>>> folder = datasets.get_path("sample")
>>> sorted(p.name for p in folder.glob("*.osm"))
['sample.osm']
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

__all__ = ["SAMPLE_FILES", "available", "get_path"]

#: The files of the sample that the demo and the notebooks read.
SAMPLE_FILES = ("sample.osm", "facilities_gcj02.xlsx", "units.geojson", "population.tif")

_HERE = Path(__file__).resolve().parent
# installed wheel: package data beside this file; source checkout: the top-level data/ folder
_LOCATIONS = {"sample": (_HERE / "sample", _HERE.parents[1] / "data" / "sample")}
_ENV = {"sample": "LIFECIRCLE_SAMPLE"}


def available() -> list[str]:
    """Names of the data sets that :func:`get_path` knows.

    Returns
    -------
    list of str
        Data set names, sorted.

    Examples
    --------
    >>> available()
    ['sample']
    """
    return sorted(_LOCATIONS)


def get_path(name: str = "sample") -> Path:
    """Return the folder holding data set ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`available`: ``"sample"``, the synthetic sub-district 示例街道 (OSM
        extract ``sample.osm``, a planner's GCJ-02 table ``facilities_gcj02.xlsx``, basic units
        ``units.geojson`` and a 100 m population raster ``population.tif``).

    Returns
    -------
    pathlib.Path
        An existing folder with the data set's files. ``$LIFECIRCLE_SAMPLE`` overrides where the
        sample is read from.

    Raises
    ------
    ValueError
        If ``name`` is not a known data set (the message lists the known ones).
    lifecircle_geo.InputError
        If the folder lacks one of the files (the message names the folder and the files).

    Examples
    --------
    >>> sample = get_path("sample")
    >>> (sample / "units.geojson").is_file()
    True
    >>> get_path("nowhere")
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'nowhere'; available: sample
    """
    if name not in _LOCATIONS:
        raise ValueError(f"unknown data set {name!r}; available: {', '.join(available())}")
    env = os.environ.get(_ENV[name])
    candidates = (Path(env),) if env else _LOCATIONS[name]
    for folder in candidates:
        if (folder / SAMPLE_FILES[0]).is_file():
            missing = [f for f in SAMPLE_FILES if not (folder / f).is_file()]
            if missing:
                raise InputError(f"data set {name!r} at {folder} lacks {', '.join(missing)}")
            return folder
    where = f"${_ENV[name]}={env}" if env else " or ".join(str(p) for p in candidates)
    raise InputError(
        f"data set {name!r} not found at {where}; reinstall lifecircle-geo, or set "
        f"{_ENV[name]} to a folder holding {', '.join(SAMPLE_FILES)}"
    )
