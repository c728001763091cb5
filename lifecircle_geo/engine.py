"""Shortest-path work on a `WalkNetwork`: one bounded multi-source search per facility category.

Coverage is a bounded multi-source problem: one Dijkstra started from every facility of a
category at once answers "how far to the nearest, and which one" for every street node. Peers
do far more work (pandana builds contraction hierarchies first; osmnx notebooks search once per
facility). Here the search is ``scipy.sparse.csgraph.dijkstra`` over the network's CSR matrix,
with start offsets (the facility's walk to the street, and its position along the edge) added
through one virtual super-source, so even mid-edge starts cost a single search.

Examples
--------
>>> import numpy as np
>>> from lifecircle_geo.network import WalkNetwork
>>> net = WalkNetwork.from_arrays([0, 100, 200, 300], [0, 0, 0, 0], [0, 1, 2], [1, 2, 3],
...                               [100.0, 100.0, 100.0], crs=32651)
>>> dist_m, nearest = distance_to_nearest(net, [0, 3], cutoff_m=1000)
>>> dist_m.tolist(), nearest.tolist()
([0.0, 100.0, 100.0, 0.0], [0, 0, 1, 1])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .errors import InputError
from .network import WalkNetwork

log = logging.getLogger(__name__)

__all__ = [
    "Seeds",
    "distance_to_nearest",
    "multi_source",
    "point_distances",
    "seeds_from_snap",
]


@dataclass
class Seeds:
    """Starting points of a multi-source search: a node, a start distance and a label each.

    A facility snapped onto the middle of an edge gives two seeds (both end nodes, each with
    its partial edge length plus the facility's walk to the street); a polygon facility gives
    one pair per entrance. ``label`` says which facility a seed belongs to.
    """

    node: np.ndarray
    dist_m: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


def _reduce_seeds(seeds: Seeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One seed per node: the smallest start distance, ties to the smallest label."""
    order = np.lexsort((seeds.label, seeds.dist_m, seeds.node))
    node = seeds.node[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    return node[first], seeds.dist_m[order][first], seeds.label[order][first]


def multi_source(net: WalkNetwork, seeds: Seeds, cutoff_m: float,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the nearest seed, and that seed's label, for every node (one search).

    Parameters
    ----------
    net : WalkNetwork
    seeds : Seeds
        Start nodes with start distances (metres, >= 0) and labels (int >= 0).
    cutoff_m : float
        Search radius; nodes farther than this get ``inf`` and label -1.

    Returns
    -------
    dist_m : ndarray of float64, shape (n_nodes,)
    label : ndarray of int64, shape (n_nodes,)
    """
    n = net.n_nodes
    dist_out = np.full(n, np.inf)
    label_out = np.full(n, -1, dtype=np.int64)
    if len(seeds) == 0:
        return dist_out, label_out
    node, d0, lab = _reduce_seeds(seeds)
    ok = d0 <= cutoff_m
    node, d0, lab = node[ok], d0[ok], lab[ok]
    if len(node) == 0:
        return dist_out, label_out
    g = net.csr
    if not np.any(d0 > 0):
        dist, _, src = dijkstra(g, directed=True, indices=node, min_only=True,
                                limit=cutoff_m, return_predecessors=True)
        reached = np.isfinite(dist)
        lab_of_node = np.full(n, -1, dtype=np.int64)
        lab_of_node[node] = lab
        dist_out[reached] = dist[reached]
        label_out[reached] = lab_of_node[src[reached]]
        return dist_out, label_out
    # a virtual super-source S = n with an edge to each seed node weighted by its start distance
    s = n
    indptr = np.concatenate([g.indptr, [g.indptr[-1] + len(node)]])
    aug = csr_matrix((np.concatenate([g.data, d0]), np.concatenate([g.indices, node]), indptr),
                     shape=(n + 1, n + 1))
    dist, pred = dijkstra(aug, directed=True, indices=s, limit=cutoff_m,
                          return_predecessors=True)
    dist, pred = dist[:n], pred[:n]
    reached = np.isfinite(dist)
    root = np.where(pred == s, np.arange(n), pred)
    root[~reached] = -1
    # pointer jumping: every reached node finds the seed node its shortest path leaves S by
    while True:
        has = root >= 0
        nxt = root.copy()
        nxt[has] = root[root[has]]
        if np.array_equal(nxt, root):
            break
        root = nxt
    lab_of_node = np.full(n, -1, dtype=np.int64)
    lab_of_node[node] = lab
    dist_out[reached] = dist[reached]
    label_out[reached] = lab_of_node[root[reached]]
    return dist_out, label_out


def distance_to_nearest(net: WalkNetwork, source_nodes, cutoff_m: float,
                        source_offset_m=None) -> tuple[np.ndarray, np.ndarray]:
    """Network distance to the nearest source node and which source it is, for every node.

    One bounded multi-source search (``scipy.sparse.csgraph.dijkstra``), never one per source.

    Parameters
    ----------
    net : WalkNetwork
    source_nodes : array-like of int
        Positional node indices of the sources (duplicates allowed).
    cutoff_m : float
        Search radius in metres.
    source_offset_m : array-like of float, optional
        Extra distance at each source (e.g. a facility's walk to the street).

    Returns
    -------
    dist_m : ndarray of float64
        One per node; ``inf`` beyond ``cutoff_m``.
    nearest : ndarray of int64
        Position in ``source_nodes`` of the nearest source; -1 where none is within the cutoff.
        Ties go to the smallest position.

    Examples
    --------
    >>> from lifecircle_geo.network import WalkNetwork
    >>> net = WalkNetwork.from_arrays([0, 100, 200], [0, 0, 0], [0, 1], [1, 2], [100.0, 100.0],
    ...                               crs=32651)
    >>> d, k = distance_to_nearest(net, [2], cutoff_m=150)
    >>> d.tolist(), k.tolist()
    ([inf, 100.0, 0.0], [-1, 0, 0])
    """
    src = np.asarray(source_nodes, dtype=np.int64).ravel()
    if src.size and (src.min() < 0 or src.max() >= net.n_nodes):
        raise InputError(f"source_nodes must be node positions in 0..{net.n_nodes - 1}")
    if cutoff_m is None or not np.isfinite(cutoff_m) or cutoff_m <= 0:
        raise InputError(f"cutoff_m must be a positive finite number of metres, got {cutoff_m}")
    off = (np.zeros(len(src)) if source_offset_m is None
           else np.asarray(source_offset_m, dtype=np.float64).ravel())
    if len(off) != len(src):
        raise InputError("source_offset_m needs one value per source node")
    return multi_source(net, Seeds(src, off, np.arange(len(src), dtype=np.int64)), cutoff_m)


def seeds_from_snap(net: WalkNetwork, snap: pd.DataFrame, labels) -> Seeds:
    """Seeds for snapped points: each point starts at both ends of its edge.

    Parameters
    ----------
    net : WalkNetwork
    snap : DataFrame
        From :meth:`WalkNetwork.snap`; rows with ``ok == False`` are skipped.
    labels : array-like of int
        One label per row of ``snap`` (e.g. the facility's position).
    """
    labels = np.asarray(labels, dtype=np.int64)
    ok = snap["ok"].to_numpy()
    e = snap["edge"].to_numpy()[ok]
    along = snap["along_m"].to_numpy()[ok]
    off = snap["snap_m"].to_numpy()[ok]
    ratio = _cost_ratio(net, e)
    node = np.concatenate([net.u[e], net.v[e]])
    dist = np.concatenate([off + along * ratio, off + (net.length_m[e] - along) * ratio])
    lab = np.concatenate([labels[ok], labels[ok]])
    return Seeds(node, dist, lab)


def _cost_ratio(net: WalkNetwork, e: np.ndarray) -> np.ndarray:
    length = net.length_m[e]
    return np.divide(net.cost_m[e], length, out=np.ones(len(e)), where=length > 0)


def point_distances(net: WalkNetwork, dist_node: np.ndarray, label_node: np.ndarray,
                    snap: pd.DataFrame, source_snap: pd.DataFrame | None = None,
                    source_labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Walk distance from snapped points (residents) to the nearest source, with both end legs.

    The walk is: the point's leg to the street + the partial edge to one of its edge's end nodes
    + the node's network distance (which already holds the source's own legs). Where a source sits
    on the same edge as the point, the direct walk along that edge is considered too.

    Parameters
    ----------
    net : WalkNetwork
    dist_node, label_node : ndarray
        From :func:`multi_source`.
    snap : DataFrame
        The points, from :meth:`WalkNetwork.snap`.
    source_snap, source_labels : optional
        The sources' snap table and labels, to handle sources on the same edge.

    Returns
    -------
    dist_m : ndarray
        ``inf`` where no source is reached or the point did not snap.
    label : ndarray
        -1 where none.
    """
    n = len(snap)
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    ok = snap["ok"].to_numpy()
    e = snap["edge"].to_numpy()[ok]
    along = snap["along_m"].to_numpy()[ok]
    off = snap["snap_m"].to_numpy()[ok]
    ratio = _cost_ratio(net, e)
    du = dist_node[net.u[e]] + along * ratio
    dv = dist_node[net.v[e]] + (net.length_m[e] - along) * ratio
    use_v = dv < du
    d = np.where(use_v, dv, du) + off
    lab = np.where(use_v, label_node[net.v[e]], label_node[net.u[e]])
    if source_snap is not None and len(source_snap):
        s_ok = source_snap["ok"].to_numpy()
        src = pd.DataFrame({
            "edge": source_snap["edge"].to_numpy()[s_ok],
            "s_along": source_snap["along_m"].to_numpy()[s_ok],
            "s_off": source_snap["snap_m"].to_numpy()[s_ok],
            "s_label": np.asarray(source_labels, dtype=np.int64)[s_ok],
        })
        pts = pd.DataFrame({"edge": e, "p_along": along, "p_off": off, "pos": np.arange(len(e)),
                            "ratio": ratio})
        same = pts.merge(src, on="edge", how="inner")
        if len(same):
            direct = ((same["p_along"] - same["s_along"]).abs() * same["ratio"]
                      + same["p_off"] + same["s_off"])
            same = same.assign(direct=direct).sort_values(["pos", "direct", "s_label"])
            best = same.drop_duplicates("pos")
            pos = best["pos"].to_numpy()
            better = best["direct"].to_numpy() < d[pos]
            d[pos[better]] = best["direct"].to_numpy()[better]
            lab[pos[better]] = best["s_label"].to_numpy()[better]
    d[lab < 0] = np.inf
    dist[ok] = d
    label[ok] = np.where(np.isfinite(d), lab, -1)
    return dist, label
