"""Tests of :mod:`lifecircle_geo.mock`: the synthetic benchmark street grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pytest

from lifecircle_geo import mock


def test_grid_city_arrays() -> None:
    x_m, y_m, u, v, length_m = mock.grid_city(5_000, seed=11)
    again = mock.grid_city(5_000, seed=11)
    for a, b in zip((x_m, y_m, u, v, length_m), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(x_m) == 5_000
    assert u.min() >= 0 and max(u.max(), v.max()) < 5_000
    assert (u != v).all() and (length_m > 0).all()
    degree = np.bincount(np.r_[u, v], minlength=5_000)
    assert degree.min() >= 1
    assert 2.8 < degree.mean() < 3.6
    with pytest.raises(ValueError):
        mock.grid_city(2)


def test_city_pbf_and_xml(tmp_path: Path) -> None:
    n = 3_000
    pbf = mock.write_city_pbf(tmp_path / "city.osm.pbf", n, seed=5)
    xml = mock.write_city_osm(tmp_path / "city.osm", n, seed=5)
    _, _, u, _, _ = mock.grid_city(n, seed=5)
    for path in (pbf, xml):
        node_ids: set[int] = set()
        n_edges = 0
        highways = set()
        for obj in osmium.FileProcessor(path).with_locations():
            if obj.is_node():
                node_ids.add(obj.id)
            elif obj.is_way():
                assert all(nd.location.valid() for nd in obj.nodes)
                n_edges += len(obj.nodes) - 1
                highways.add(obj.tags["highway"])
        assert len(node_ids) == n
        assert n_edges == len(u)
        assert {"residential", "footway"} <= highways
    assert not list(tmp_path.glob("*.tmp"))
