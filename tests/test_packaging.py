"""The package boundary in a source checkout: version, lazy report, optional parts stay optional.

The built wheel itself is tested in ``tests/test_wheel.py``.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import lifecircle_geo as lc

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_metadata_version() -> None:
    from lifecircle_geo._version import __version__

    assert lc.__version__ == __version__ == importlib.metadata.version("lifecircle-geo")


def test_modules_import_the_version_from_version_py() -> None:
    """No module imports ``__version__`` from the package root (an upward import)."""
    offenders = []
    for path in (ROOT / "lifecircle_geo").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "from . import __version__" in text or "from .. import __version__" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_import_loads_no_optional_or_heavy_dependency() -> None:
    """``import lifecircle_geo`` needs only the runtime dependencies, and not the report's."""
    code = (
        "import sys, lifecircle_geo as lc\n"
        "bad = sorted(m for m in ('dask', 'distributed', 'pandana', 'pyrosm', 'matplotlib',"
        " 'folium') if m in sys.modules)\n"
        "print(','.join(bad))\n"
        "lc.report.write_gpkg\n"
        "print('matplotlib' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded_at_import, report_loaded_matplotlib = proc.stdout.split("\n")[:2]
    assert loaded_at_import == ""
    assert report_loaded_matplotlib == "True"  # lc.report works, imported on first use


def test_optional_dependencies_are_extras() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(meta["dependencies"])
    for name in ("pyrosm", "dask", "distributed", "pandana"):
        assert name not in runtime, name
    extras = meta["optional-dependencies"]
    assert extras["dask"] == ["dask[distributed]>=2024.1"]
    assert extras["pandana"] == ["pandana>=0.7"]
    assert {"pyrosm>=0.6.2", "dask[distributed]>=2024.1", "pandana>=0.7"} <= set(extras["test"])


def test_py_typed_marker() -> None:
    assert (ROOT / "lifecircle_geo" / "py.typed").is_file()
