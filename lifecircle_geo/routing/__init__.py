"""The routing core: one search graph, one way to walk, one way to place facilities.

Every measure of lifecircle_geo (nearest facility per category, per-facility reach, service
areas, 2SFCA, isochrones, travel-time rasters, site suggestion) runs on this package:

* :class:`Snap` — points met with the street (:meth:`WalkNetwork.snap` returns it);
* :class:`Sites` — facilities placed on the network once (access points, labels, categories);
* :class:`Seeds` and :func:`multi_source` / :func:`search_nearest` — bounded multi-source
  searches on the rounded graph (numba, scipy or pandana; ties to the smaller label);
* :class:`Reach` and :func:`reach_matrix` — sparse per-facility searches;
* :func:`point_distances` and :func:`reach_at_points` — the point → street → network →
  street → point walk, written once.

:mod:`lifecircle_geo.engine` is its public face for the nearest-facility question.
"""

from __future__ import annotations

from ._graph import COST_QUANTUM_M, EXACT_BELOW_M, SPATIAL_ORDER_MIN_NODES, check_cutoff
from ._search import (
    AUTO_NUMBA_MIN_WORK,
    BACKENDS,
    Seeds,
    multi_source,
    numba_available,
    search_nearest,
)
from .reach import Reach, reach_matrix
from .sites import Sites
from .snap import Snap
from .walk import cost_ratio, point_distances, reach_at_points, seeds_from_snap

__all__ = [
    "AUTO_NUMBA_MIN_WORK",
    "BACKENDS",
    "COST_QUANTUM_M",
    "EXACT_BELOW_M",
    "SPATIAL_ORDER_MIN_NODES",
    "Reach",
    "Seeds",
    "Sites",
    "Snap",
    "check_cutoff",
    "cost_ratio",
    "multi_source",
    "numba_available",
    "point_distances",
    "reach_at_points",
    "reach_matrix",
    "search_nearest",
    "seeds_from_snap",
]
