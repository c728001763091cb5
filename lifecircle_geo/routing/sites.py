"""`Sites`: facilities placed on the network once, as every measure accepts them.

A site is a facility's access point snapped to the street: a point facility has one, a park or
school has one per mapped entrance (or points along its boundary). Each access point carries
the facility's ``label`` (its row in the facility table) and ``category``. The nearest-facility
search, per-facility reach, isochrones and site suggestion all take the same :class:`Sites`.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
>>> sites = Sites.from_points(net, np.array([[150.0, 10.0], [20.0, 0.0]]),
...                           category=["clinic", "school"])
>>> sites.categories, sites.label.tolist()
(['clinic', 'school'], [0, 1])
>>> sites.for_category("clinic").seeds(net).dist_m.tolist()  # both ends of its edge
[60.0, 60.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._search import Seeds
from .snap import Snap
from .walk import seeds_from_snap

if TYPE_CHECKING:
    import geopandas as gpd

    from ..network import WalkNetwork

__all__ = ["Sites"]


@dataclass(frozen=True, eq=False)
class Sites:
    """Facility access points snapped to the network, with their facility's label and category.

    Attributes
    ----------
    snap : Snap
        One row per access point.
    label : ndarray of int64
        The facility each access point belongs to: its row position in ``facilities`` (or in
        whatever table the caller keeps). Several access points may share a label.
    category : ndarray of object, optional
        The facility's category, one per access point.
    points : ndarray of shapely Points, optional
        The access points themselves (network CRS), for drawing their walk to the street.
    facilities : GeoDataFrame, optional
        The facility table in the network's CRS (row position = label), when built with
        :meth:`from_facilities`.
    """

    snap: Snap
    label: np.ndarray
    category: np.ndarray | None = None
    points: np.ndarray | None = None
    facilities: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        """Check one label (and category, point) per access point; labels become int64."""
        n = len(self.snap)
        lab = np.asarray(self.label, dtype=np.int64).ravel()
        if len(lab) != n:
            raise InputError(f"Sites: {n} snapped points but {len(lab)} labels")
        if len(lab) and lab.min() < 0:
            raise InputError("Sites: labels must be integers >= 0")
        object.__setattr__(self, "label", lab)
        if self.category is not None:
            cat = np.asarray(self.category, dtype=object).ravel()
            if len(cat) != n:
                raise InputError(f"Sites: {n} snapped points but {len(cat)} categories")
            object.__setattr__(self, "category", cat)
        if self.points is not None and len(self.points) != n:
            raise InputError(f"Sites: {n} snapped points but {len(self.points)} points")

    def __len__(self) -> int:
        """Return the number of access points."""
        return len(self.snap)

    def __repr__(self) -> str:
        """Summarise access points, facilities, categories and how many snapped."""
        cats = "" if self.category is None else f", {len(self.categories)} categories"
        return (
            f"Sites({len(self)} access points of {len(np.unique(self.label))} facilities"
            f"{cats}, {int(self.snap.ok.sum())} snapped)"
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(
        cls,
        net: WalkNetwork,
        points: Any,
        *,
        labels: Sequence[int] | np.ndarray | None = None,
        category: Sequence[str] | np.ndarray | None = None,
        max_snap_m: float | None = None,
        points_crs: Any = None,
    ) -> Sites:
        """Snap points (one access point each) and label them.

        Parameters
        ----------
        net : WalkNetwork
        points : GeoSeries, GeoDataFrame, array of shapely geometries, or (n, 2) array
            As for :meth:`WalkNetwork.snap`.
        labels : array-like of int, optional
            One label per point (default: the row position).
        category : array-like of str, optional
            One category per point.
        max_snap_m : float, optional
            Farther points are not snapped (default ``settings.max_snap_m``).
        points_crs : optional
            CRS of plain coordinates or shapely geometries.

        Returns
        -------
        Sites
        """
        from ..network.walknetwork import _as_points

        pts = _as_points(points, net.crs, points_crs)
        snap = net.snap(pts, max_snap_m=max_snap_m)
        lab = np.arange(len(snap), dtype=np.int64) if labels is None else labels
        return cls(snap, np.asarray(lab), category, pts)

    @classmethod
    def from_facilities(
        cls,
        net: WalkNetwork,
        facilities: gpd.GeoDataFrame,
        *,
        max_snap_m: float | None = None,
        spacing_m: float = 25.0,
    ) -> Sites:
        """Place a facility table on the network through its access points.

        Points are their own access point; a polygon (park, school) is reached through its
        mapped ``entrances`` or, without any, through points every ``spacing_m`` along its
        boundary (:func:`lifecircle_geo.facilities.access_points`).

        Parameters
        ----------
        net : WalkNetwork
        facilities : GeoDataFrame
            From :mod:`lifecircle_geo.facilities` (any CRS), with ``category``.
        max_snap_m : float, optional
            Access points farther from a street are not snapped.
        spacing_m : float
            Spacing of boundary access points of polygons without entrances.

        Returns
        -------
        Sites
            ``label`` is the facility's row position in ``sites.facilities`` (the table in
            the network's CRS with a fresh 0..n-1 index).
        """
        from ..facilities import access_points, to_crs

        if "category" not in facilities.columns:
            raise InputError("facilities need a 'category' column (use lifecircle_geo.facilities)")
        fac = to_crs(facilities, net.crs).reset_index(drop=True)
        pts, owner = access_points(fac, spacing_m=spacing_m)
        snap = net.snap(pts, max_snap_m=max_snap_m)
        cat = fac["category"].to_numpy(dtype=object)[owner] if len(owner) else []
        return cls(snap, owner, np.asarray(cat, dtype=object), pts, fac)

    # ------------------------------------------------------------------ views
    @property
    def categories(self) -> list[str]:
        """The categories present, in order of first appearance."""
        if self.category is None:
            return []
        return list(pd.unique(self.category))

    def take(self, rows: Sequence[int] | np.ndarray) -> Sites:
        """Select the access points ``rows`` (positions or a boolean mask)."""
        idx = np.asarray(rows)
        return Sites(
            self.snap.take(idx),
            self.label[idx],
            None if self.category is None else self.category[idx],
            None if self.points is None else self.points[idx],
            self.facilities,
        )

    def for_category(self, category: str) -> Sites:
        """Select the access points of one category (labels unchanged)."""
        if self.category is None:
            raise InputError("these sites have no categories")
        return self.take(np.flatnonzero(self.category == category))

    def seeds(self, net: WalkNetwork) -> Seeds:
        """Search seeds: every snapped access point starts at both ends of its edge.

        Parameters
        ----------
        net : WalkNetwork
            The network the sites were snapped to.

        Returns
        -------
        Seeds
        """
        return seeds_from_snap(net, self.snap, self.label)

    def snap_m_by_label(self, n_labels: int) -> np.ndarray:
        """Return the shortest walk to the street among each facility's access points.

        Parameters
        ----------
        n_labels : int
            Number of facilities (labels 0..n_labels-1).

        Returns
        -------
        ndarray of float64
            NaN for a facility without any access point (no geometry).
        """
        out = np.full(n_labels, np.inf)
        if len(self):
            np.minimum.at(out, self.label, self.snap.snap_m)
        has = np.zeros(n_labels, dtype=bool)
        has[self.label] = True
        out[~has] = np.nan
        return out
