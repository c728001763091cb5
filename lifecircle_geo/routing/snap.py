"""`Snap`: where points meet the street network (one row per point, typed arrays).

:meth:`lifecircle_geo.network.WalkNetwork.snap` returns it; every walk in
:mod:`lifecircle_geo.routing` starts or ends at a snapped point: the point's own walk to the
street (``snap_m``), then along its edge (``along_m`` from the edge's ``u`` end) to a node.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
>>> s = net.snap(np.array([[30.0, 4.0], [50.0, 900.0]]), max_snap_m=100)
>>> s.along_m.tolist(), s.ok.tolist()
([30.0, 50.0], [True, False])
>>> s.to_frame().columns.tolist()
['edge', 'along_m', 'snap_m', 'x', 'y', 'ok', 'reason']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Snap"]

_FIELDS = ("edge", "along_m", "snap_m", "x", "y", "ok", "reason")


@dataclass(frozen=True, eq=False)
class Snap:
    """Points projected onto their nearest street edge.

    Only edges of the kinds in :data:`lifecircle_geo.network.walknetwork.SNAP_KINDS` are
    candidates: never a ferry, which is boarded at its piers. Every input point has a row; a
    point that is not snapped has ``ok=False`` and a ``reason`` (beyond ``max_snap_m``, empty
    or missing geometry, coordinates not finite, no snappable edge).

    Attributes
    ----------
    edge : ndarray of int64
        Edge position (-1 where the point has no geometry).
    along_m : ndarray of float64
        Distance from the edge's ``u`` end along its geometry, in the edge's ``length_m``.
    snap_m : ndarray of float64
        Perpendicular walk from the point to the street (``inf`` without geometry).
    x, y : ndarray of float64
        The snapped position in the network's CRS.
    ok : ndarray of bool
        Snapped within ``max_snap_m``.
    reason : ndarray of object
        Why a point is not snapped ("" where it is).
    """

    edge: np.ndarray
    along_m: np.ndarray
    snap_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    ok: np.ndarray
    reason: np.ndarray

    def __len__(self) -> int:
        """Return the number of points (snapped or not)."""
        return len(self.edge)

    def __repr__(self) -> str:
        """Summarise the number of points and how many snapped."""
        return f"Snap({len(self)} points, {int(self.ok.sum())} snapped)"

    @classmethod
    def empty(cls, n: int = 0) -> Snap:
        """``n`` unsnapped rows (no geometry yet)."""
        return cls(
            np.full(n, -1, dtype=np.int64),
            np.full(n, np.nan),
            np.full(n, np.inf),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.zeros(n, dtype=bool),
            np.full(n, "", dtype=object),
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> Snap:
        """Select the rows ``rows`` (positions or a boolean mask), in that order."""
        idx = np.asarray(rows)
        return Snap(*(getattr(self, f)[idx] for f in _FIELDS))

    @classmethod
    def concat(cls, parts: Sequence[Snap]) -> Snap:
        """Rows of several snaps, one after another."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a DataFrame (columns as the attributes)."""
        return pd.DataFrame({f: getattr(self, f) for f in _FIELDS})
