"""The package runs from its wheel: sdist → wheel, a fresh venv outside the repository, the demo.

The wheel is built from a copy of just the files the build needs (so nothing is written into the
checkout and nothing else is needed), through an sdist (so ``MANIFEST.in`` is tested too), with
``python -m build --no-isolation`` (no download: setuptools and build come with the test extra).
It is installed without dependencies into a new venv whose ``.pth`` file lends it this
environment's site-packages (no download of geopandas & co.); the editable install's finder is
not loaded that way, and the commands run in a temporary folder, so the checkout is not
importable there. Takes about a minute.
"""

from __future__ import annotations

import email
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import lifecircle_geo as lc

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: Everything a build reads; the test fails if the build needs more.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")
SAMPLE_DATA = (
    "README.md",
    "boundary.geojson",
    "facilities_gcj02.xlsx",
    "population.tif",
    "sample.osm",
    "units.geojson",
)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The sdist and the wheel built from it, and the build's output."""
    pytest.importorskip("build", reason="the wheel test needs 'build' (in the test extra)")
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "lifecircle_geo",
        src / "lifecircle_geo",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"),
    )
    shutil.copytree(
        ROOT / "data" / "sample",
        src / "data" / "sample",
        ignore=shutil.ignore_patterns("__pycache__", "*.tmp"),
    )
    dist = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, src], cwd=src)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel, proc.stdout + proc.stderr


def test_build_emits_no_deprecation_warning(built: tuple[Path, Path, str]) -> None:
    _, _, log = built
    assert "Deprecat" not in log, log[-4000:]  # SetuptoolsDeprecationWarning, "deprecated"


def test_wheel_contents_and_metadata(built: tuple[Path, Path, str]) -> None:
    sdist, wheel, _ = built
    assert wheel.name == f"lifecircle_geo-{lc.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(meta_name))
    for name in SAMPLE_DATA:
        assert f"lifecircle_geo/datasets/sample/{name}" in names, name
    assert "lifecircle_geo/py.typed" in names
    assert "lifecircle_geo/standards/shanghai-2025.toml" in names
    assert any(n.startswith("lifecircle_geo/report/static/") for n in names)
    assert "lifecircle_geo/mock.py" in names
    # the sample's author and the test/doctest setup stay out of the runtime package
    assert not [n for n in names if "make_sample" in n or "conftest" in n]
    assert not [n for n in names if n.startswith(("data/", "tests/", "benchmarks/"))]

    assert meta["Version"] == lc.__version__
    assert meta["License-Expression"] == "MIT"
    requires = meta.get_all("Requires-Dist")
    runtime = [r for r in requires if "extra ==" not in r]
    assert not [r for r in runtime if r.startswith(("pyrosm", "dask", "pandana", "distributed"))]
    assert any(r.startswith("dask[distributed]") and 'extra == "dask"' in r for r in requires)
    assert any(r.startswith("pandana") and 'extra == "pandana"' in r for r in requires)
    assert {"pandana", "dask", "test"} <= set(meta.get_all("Provides-Extra"))

    # the sdist carries the sample and its generator (the source of the data)
    import tarfile

    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    assert "data/sample/sample.osm" in members and "data/sample/make_sample.py" in members


def test_installed_wheel_runs_the_demo(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, wheel, _ = built
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    py = venv / "bin" / "python"
    purelib = Path(
        _run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
        ).stdout.strip()
    )
    # lend this environment's packages (geopandas, numba, ...); a plain path in a .pth file adds
    # the folder but does not run the .pth files inside it (so not the editable install's finder)
    here = [Path(p) for p in site.getsitepackages()] + [Path(sysconfig.get_paths()["purelib"])]
    (purelib / "zz_lend_test_env.pth").write_text(
        "\n".join(sorted({str(p) for p in here})) + "\n", encoding="utf-8"
    )
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], cwd=tmp_path)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LIFECIRCLE_"))}
    env.update(MPLCONFIGDIR=str(tmp_path / "mpl"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    probe = _run(
        [
            py,
            "-c",
            "import lifecircle_geo as lc, importlib.metadata as md; "
            "print(lc.__file__); print(lc.datasets.get_path('sample')); "
            "print(lc.__version__ == md.version('lifecircle-geo'))",
        ],
        cwd=tmp_path,
        env=env,
    )
    module_file, sample, same_version = probe.stdout.split()
    assert Path(module_file).is_relative_to(venv), module_file
    assert Path(sample) == Path(module_file).parent / "datasets" / "sample"
    assert same_version == "True"

    out = tmp_path / "demo"
    proc = _run([venv / "bin" / "lifecircle", "demo", "--out", out], cwd=tmp_path, env=env)
    assert "示例街道" in proc.stdout
    for name in ("project_database.gpkg", "project_list.xlsx", "map.html"):
        assert (out / name).stat().st_size > 0, name
