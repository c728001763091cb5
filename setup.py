"""Build hook: ship the sample in ``data/sample/`` inside the wheel. Metadata: pyproject.toml.

The sample stays at the top level of the repository (``data/sample/``, beside the script that
wrote it); a wheel gets a copy of its data files as package data under
``lifecircle_geo/datasets/sample/``, where :func:`lifecircle_geo.datasets.get_path` finds it.
An editable install copies nothing: ``get_path`` reads ``data/sample/`` of the checkout.
``MANIFEST.in`` puts ``data/sample/`` into the sdist, so a wheel built from the sdist has it too.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLE = Path("data") / "sample"
#: What the wheel takes from data/sample/: the data and its README, not make_sample.py.
SAMPLE_SUFFIXES = (".osm", ".xlsx", ".tif", ".geojson", ".md")


class BuildPyWithSample(build_py):
    """``build_py`` that also copies ``data/sample/``'s data files into the package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        files = sorted(p for p in SAMPLE.iterdir() if p.suffix in SAMPLE_SUFFIXES)
        if not any(p.name == "sample.osm" for p in files):
            raise FileNotFoundError(f"{SAMPLE}/sample.osm is missing; run 'make sample'")
        target = Path(self.build_lib) / "lifecircle_geo" / "datasets" / "sample"
        self.mkpath(str(target))
        for src in files:
            self.copy_file(str(src), str(target / src.name))


setup(cmdclass={"build_py": BuildPyWithSample})
