"""Doctest setup for ``pytest --doctest-modules`` over ``lifecircle_geo`` (see pyproject.toml).

It sits at the top of the repository because conftest files apply to the folders below them and
the package must not ship it. Every docstring example gets, without importing or building them:

* ``np`` (numpy) and ``lc`` (``lifecircle_geo``), and ``WalkNetwork``;
* ``line_net``: a straight street of three nodes at x = 0, 100, 200 m (two 100 m edges) in
  EPSG:32651, the small network many examples build; ``edge_net``: one 100 m edge (x = 0, 100);
  both are built afresh for each example, so one that changes them changes nothing elsewhere;
* ``tmp_path``: a fresh temporary folder, for examples that write files.

Doctests may not reach the internet: connections to hosts other than this machine fail.
The test suite's own fixtures are in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest

_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _doctest_setup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(request.node, "dtest"):  # only docstring examples (pytest's DoctestItem)
        return
    import lifecircle_geo as lc
    from lifecircle_geo.network import WalkNetwork

    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(
        np=np,
        lc=lc,
        WalkNetwork=WalkNetwork,
        line_net=WalkNetwork.from_arrays(
            [0, 100, 200], [0, 0, 0], [0, 1], [1, 2], [100.0, 100.0], crs=32651
        ),
        edge_net=WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651),
        tmp_path=request.getfixturevalue("tmp_path"),
    )

    connect = socket.socket.connect

    def local_only(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if host not in _LOCAL_HOSTS:
                raise RuntimeError(f"docstring examples must not use the network ({address})")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
