"""The walk from a point to the street, along the network, and from the street to a point.

Every measure walks the same way: a resident's own leg to the street (``snap_m``), the partial
edge to one of its edge's end nodes (at the edge's cost per metre), the network distance of
that node (which already holds the facility's own legs, :func:`seeds_from_snap`), and, where a
facility sits on the resident's own edge, the direct walk along that edge. This module is the
one place that writes it down; :func:`point_distances` (nearest facility) and
:func:`reach_at_points` (every facility within a cutoff) share its legs.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> from lifecircle_geo.routing import Sites, multi_source
>>> net = line_net  # doctest fixture: nodes at x = 0, 100, 200 m, two 100 m edges
>>> sites = Sites(net.snap(np.array([[150.0, 10.0]])), label=np.array([0]))
>>> d_node, lab_node = multi_source(net, sites.seeds(net), cutoff_m=1000)
>>> d_node.tolist()  # 10 m to the street, then 50 m along the edge
[160.0, 60.0, 60.0]
>>> walk, nearest = point_distances(net, d_node, lab_node, net.snap(np.array([[170.0, -5.0]])),
...                                 sites)
>>> walk.tolist(), nearest.tolist()  # the direct walk along the shared edge: 5 + 20 + 10
([35.0], [0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from ._search import Seeds
from .reach import Reach, _kernels, sorted_reach
from .snap import Snap

if TYPE_CHECKING:
    from ..network import WalkNetwork
    from .sites import Sites

__all__ = ["cost_ratio", "point_distances", "reach_at_points", "seeds_from_snap"]


def cost_ratio(net: WalkNetwork, edges: np.ndarray) -> np.ndarray:
    """Cost per metre of each edge (``cost_m / length_m``; 1 for zero-length edges).

    Parameters
    ----------
    net : WalkNetwork
    edges : ndarray of int
        Edge positions.

    Returns
    -------
    ndarray of float64
    """
    length = net.length_m[edges]
    return np.divide(net.cost_m[edges], length, out=np.ones(len(edges)), where=length > 0)


class _Legs(NamedTuple):
    """The snapped points' legs: to the street and along their edge to either end."""

    pos: np.ndarray  # row in the snap of each snapped point
    edge: np.ndarray
    along_m: np.ndarray
    snap_m: np.ndarray
    ratio: np.ndarray
    to_u_m: np.ndarray  # partial edge to the u end (cost metres)
    to_v_m: np.ndarray  # partial edge to the v end (cost metres)


def _legs(net: WalkNetwork, snap: Snap) -> _Legs:
    ok = snap.ok
    e = snap.edge[ok].astype(np.int64)
    # within the edge: a point at a node may sit a rounding error past its end
    along = np.clip(snap.along_m[ok].astype(np.float64), 0.0, net.length_m[e])
    ratio = cost_ratio(net, e)
    return _Legs(
        np.flatnonzero(ok),
        e,
        along,
        snap.snap_m[ok].astype(np.float64),
        ratio,
        along * ratio,
        (net.length_m[e] - along) * ratio,
    )


def seeds_from_snap(net: WalkNetwork, snap: Snap, labels: np.ndarray) -> Seeds:
    """Seeds for snapped points: each point starts at both ends of its edge.

    Parameters
    ----------
    net : WalkNetwork
    snap : Snap
        From :meth:`WalkNetwork.snap`; rows with ``ok == False`` are skipped.
    labels : array-like of int
        One label per row of ``snap`` (e.g. the facility's row in its table).

    Returns
    -------
    Seeds
        Two seeds per snapped point: its walk to the street plus the partial edge to each end.
    """
    labels = np.asarray(labels, dtype=np.int64)
    lg = _legs(net, snap)
    node = np.concatenate([net.u[lg.edge], net.v[lg.edge]])
    dist = np.concatenate([lg.snap_m + lg.to_u_m, lg.snap_m + lg.to_v_m])
    lab = np.concatenate([labels[lg.pos], labels[lg.pos]])
    return Seeds(node, dist, lab)


def _same_edge(lg: _Legs, sites: Sites | None) -> pd.DataFrame:
    """Direct walks between points and the sites on their own edge.

    Returns a frame with ``i`` (position among the snapped points), ``label`` (the site's) and
    ``direct`` (metres: both legs to the street plus the stretch of edge between them).
    """
    cols = ["i", "label", "direct"]
    if sites is None or len(sites) == 0 or len(lg.edge) == 0:
        return pd.DataFrame({c: np.empty(0) for c in cols})
    s = sites.snap
    s_ok = s.ok
    src = pd.DataFrame(
        {
            "edge": s.edge[s_ok],
            "s_along": s.along_m[s_ok],
            "s_off": s.snap_m[s_ok],
            "label": sites.label[s_ok],
        }
    )
    # only the points on an edge that holds a site can pair (the others would merge to
    # nothing): the merge then hashes those few, not every resident
    src_edge = src["edge"].to_numpy(dtype=np.int64)
    on_site = np.zeros(int(max(lg.edge.max(), src_edge.max(initial=-1))) + 1, dtype=bool)
    on_site[src_edge] = True
    i = np.flatnonzero(on_site[lg.edge])
    pts = pd.DataFrame(
        {
            "edge": lg.edge[i],
            "p_along": lg.along_m[i],
            "p_off": lg.snap_m[i],
            "i": i,
            "ratio": lg.ratio[i],
        }
    )
    same = pts.merge(src, on="edge", how="inner")
    same["direct"] = (
        (same["p_along"] - same["s_along"]).abs() * same["ratio"] + same["p_off"] + same["s_off"]
    )
    return same[cols]


def point_distances(
    net: WalkNetwork,
    dist_node: np.ndarray,
    label_node: np.ndarray,
    snap: Snap,
    sites: Sites | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Walk from snapped points (residents) to the nearest source, with both end legs.

    The walk is: the point's leg to the street + the partial edge to one of its edge's end
    nodes + the node's network distance (which already holds the source's own legs). Where a
    source sits on the same edge as the point, the direct walk along that edge is considered
    too. Where the two ends are equally far, the ``u`` end is taken.

    Parameters
    ----------
    net : WalkNetwork
    dist_node, label_node : ndarray
        Distance and label of the nearest source at every node (e.g. from
        :func:`~lifecircle_geo.routing.multi_source`).
    snap : Snap
        The points, from :meth:`WalkNetwork.snap`.
    sites : Sites, optional
        The sources, to handle sources on a point's own edge.

    Returns
    -------
    dist_m : ndarray of float64
        ``inf`` where no source is reached or the point did not snap.
    label : ndarray of int64
        -1 where none.
    """
    n = len(snap)
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    lg = _legs(net, snap)
    u, v = net.u[lg.edge], net.v[lg.edge]
    du = dist_node[u] + lg.to_u_m
    dv = dist_node[v] + lg.to_v_m
    use_v = dv < du
    d = np.where(use_v, dv, du) + lg.snap_m
    lab = np.where(use_v, label_node[v], label_node[u]).astype(np.int64)
    same = _same_edge(lg, sites)
    if len(same):
        best = same.sort_values(["i", "direct", "label"]).drop_duplicates("i")
        i = best["i"].to_numpy(dtype=np.int64)
        direct = best["direct"].to_numpy(dtype=np.float64)
        better = direct < d[i]
        d[i[better]] = direct[better]
        lab[i[better]] = best["label"].to_numpy(dtype=np.int64)[better]
    d[lab < 0] = np.inf
    dist[lg.pos] = d
    label[lg.pos] = np.where(np.isfinite(d), lab, -1)
    return dist, label


def reach_at_points(
    net: WalkNetwork,
    reach: Reach,
    snap: Snap,
    sites: Sites | None = None,
    ordered: bool = True,
) -> Reach:
    """Facility distances at snapped points (residents), with their walk to the street.

    For each point and facility: the point's leg + the partial edge to one of its edge's ends
    + that node's distance from ``reach``, the better end; where the facility sits on the same
    edge (``sites``), the straight walk along the edge too. Pairs beyond ``reach.cutoff_m``
    are dropped.

    Parameters
    ----------
    net : WalkNetwork
    reach : Reach
        Node reach from :func:`~lifecircle_geo.routing.reach_matrix`.
    snap : Snap
        The points, from :meth:`WalkNetwork.snap`; points with ``ok == False`` reach nothing.
    sites : Sites, optional
        The facilities the reach was computed from (their labels are ``reach.labels``).
    ordered : bool
        Sort each point's pairs by distance (default); False leaves them grouped by point.

    Returns
    -------
    Reach
        Targets are point positions (rows of ``snap``).

    Examples
    --------
    >>> import numpy as np
    >>> from lifecircle_geo.network import WalkNetwork
    >>> from lifecircle_geo.routing import Seeds, reach_matrix
    >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
    >>> r = reach_matrix(net, Seeds(np.array([0]), np.zeros(1), np.array([0])), 500)
    >>> rp = reach_at_points(net, r, net.snap(np.array([[30.0, 4.0]])))
    >>> rp.dist_m.tolist()
    [34.0]
    """
    n_pts = len(snap)
    lg = _legs(net, snap)
    same = _same_edge(lg, sites)
    x_leg = np.empty(0, dtype=np.int64)
    x_fac = np.empty(0, dtype=np.int64)
    x_dist = np.empty(0, dtype=np.float64)
    if len(same) and len(reach.labels):
        s_lab = same["label"].to_numpy(dtype=np.int64)
        s_fac = np.searchsorted(reach.labels, s_lab)
        known = (s_fac < len(reach.labels)) & (
            reach.labels[np.minimum(s_fac, len(reach.labels) - 1)] == s_lab
        )
        x_leg = same["i"].to_numpy(dtype=np.int64)[known]
        x_fac = s_fac[known].astype(np.int64)
        x_dist = same["direct"].to_numpy(dtype=np.float64)[known]
    kernels = _kernels()
    if kernels is not None:
        order = np.argsort(x_leg, kind="stable")
        x_ptr = np.concatenate([[0], np.cumsum(np.bincount(x_leg, minlength=len(lg.edge)))]).astype(
            np.int64
        )
        f, t, d = kernels.point_pairs(
            reach.indptr,
            reach.facility,
            reach.dist_m,
            len(reach.labels),
            lg.pos.astype(np.int64),
            net.u[lg.edge].astype(np.int64),
            net.v[lg.edge].astype(np.int64),
            lg.to_u_m,
            lg.to_v_m,
            lg.snap_m,
            x_ptr,
            x_fac[order],
            x_dist[order],
            float(reach.cutoff_m),
        )
        return sorted_reach(f, t, d, reach.labels, n_pts, reach.cutoff_m, ordered)
    indptr = reach.indptr
    fs, ts, ds = [], [], []
    for end_node, partial in ((net.u[lg.edge], lg.to_u_m), (net.v[lg.edge], lg.to_v_m)):
        start = indptr[end_node]
        count = indptr[end_node + 1] - start
        total = int(count.sum())
        owner = np.repeat(np.arange(len(lg.edge)), count)
        idx = np.arange(total) - np.repeat(np.cumsum(count) - count - start, count)
        fs.append(reach.facility[idx])
        ts.append(lg.pos[owner])
        ds.append(reach.dist_m[idx] + partial[owner] + lg.snap_m[owner])
    fs.append(x_fac)
    ts.append(lg.pos[x_leg])
    ds.append(x_dist)
    f = np.concatenate(fs).astype(np.int64)
    t = np.concatenate(ts).astype(np.int64)
    d = np.concatenate(ds).astype(np.float64)
    keep = d <= reach.cutoff_m
    f, t, d = f[keep], t[keep], d[keep]
    # the best of the candidate walks for each (point, facility)
    order = np.lexsort((d, f, t))
    f, t, d = f[order], t[order], d[order]
    first = np.ones(len(f), dtype=bool)
    first[1:] = (f[1:] != f[:-1]) | (t[1:] != t[:-1])
    return sorted_reach(f[first], t[first], d[first], reach.labels, n_pts, reach.cutoff_m, ordered)
