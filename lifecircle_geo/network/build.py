"""From raw walkable ways to a simplified, projected graph (arrays only, no networkx).

Steps, all vectorized except the walk along degree-2 chains:

1. pedestrian areas get straight crossings between their entry points;
2. ways are split at every vertex shared with another way (and at way ends);
3. vertices are projected to the metric CRS and each piece becomes an edge whose ``length_m`` is
   its projected geometry's length;
4. degenerate self-loops and streets mapped twice (parallel edges along the same line) are
   dropped, the cheapest kept;
5. chains through degree-2 nodes are merged into one edge (osmnx-style simplification);
6. the graph is made simple without losing streets: of parallel edges along different streets
   the cheapest stays and the others are cut at their middle (loops at their thirds), so
   shortest paths use the cheapest and every street keeps its geometry for snapping;
7. the largest connected component is kept by default, and every dropped island is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .osm import RawWays

log = logging.getLogger(__name__)

__all__ = [
    "GraphArrays",
    "assemble",
    "drop_duplicates",
    "keep_components",
    "merge_chains",
    "split_parallels",
]


@dataclass
class GraphArrays:
    """A graph as arrays; ``u``/``v`` are positions into the node arrays."""

    x_m: np.ndarray
    y_m: np.ndarray
    osmid: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    cost_m: np.ndarray
    geometry: np.ndarray  # shapely LineStrings, u -> v
    kind: np.ndarray  # per edge: walk / steps / area / ferry


def _area_crossings(raw: RawWays, counts: dict) -> RawWays:
    """Add straight two-node ways between the entry points of each pedestrian area."""
    area_ways = [w for w, k in enumerate(raw.kind) if k == "area"]
    if not area_ways:
        return raw
    starts = np.searchsorted(raw.way, np.arange(raw.n_ways))
    ends = np.append(starts[1:], len(raw.way))
    add_ref, add_lon, add_lat = [], [], []
    for w in area_ways:
        sl = slice(starts[w], ends[w])
        ring_refs = raw.ref[sl]
        if len(ring_refs) < 4 or ring_refs[0] != ring_refs[-1]:
            continue
        own = {}
        for r in ring_refs[:-1]:
            own[r] = own.get(r, 0) + 1
        entry_pos = [i for i, r in enumerate(ring_refs[:-1]) if counts[r] > own[r]]
        if len(entry_pos) < 2:
            continue
        lon, lat = raw.lon[sl], raw.lat[sl]
        poly = shapely.Polygon(np.column_stack([lon, lat]))
        if not poly.is_valid:
            poly = poly.buffer(0)
        shrunk = poly.buffer(1e-7)
        for a_i in range(len(entry_pos)):
            for b_i in range(a_i + 1, len(entry_pos)):
                a, b = entry_pos[a_i], entry_pos[b_i]
                seg = shapely.LineString([(lon[a], lat[a]), (lon[b], lat[b])])
                if shrunk.covers(seg):
                    add_ref += [ring_refs[a], ring_refs[b]]
                    add_lon += [lon[a], lon[b]]
                    add_lat += [lat[a], lat[b]]
    if not add_ref:
        return raw
    n_new = len(add_ref) // 2
    return RawWays(
        ref=np.concatenate([raw.ref, np.asarray(add_ref, dtype=np.int64)]),
        way=np.concatenate([raw.way, raw.n_ways + np.repeat(np.arange(n_new), 2)]),
        lon=np.concatenate([raw.lon, add_lon]),
        lat=np.concatenate([raw.lat, add_lat]),
        kind=raw.kind + ["walk"] * n_new,
        way_osmid=np.concatenate([raw.way_osmid, np.full(n_new, -1, dtype=np.int64)]),
        dropped=raw.dropped,
        timestamp=raw.timestamp,
    )


def assemble(raw: RawWays, crs: CRS, *, steps_factor: float = 1.0, ferry_wait_m: float = 0.0,
             ferry_cost_factor: float = 1.0) -> GraphArrays:
    """Split ways into edges between shared vertices and project them to ``crs``.

    Parameters
    ----------
    raw : RawWays
        Walkable ways from :func:`~lifecircle_geo.network.osm.read_walk_ways`.
    crs : pyproj.CRS
        Projected metric CRS of the result.
    steps_factor : float
        Cost multiplier of steps.
    ferry_wait_m : float
        Boarding wait of a ferry, in equivalent walking metres, added to each ferry edge.
    ferry_cost_factor : float
        Walking metres per metre of ferry crossing (walk speed / ferry speed).
    """
    uniq, inverse, counts_arr = np.unique(raw.ref, return_inverse=True, return_counts=True)
    if any(k == "area" for k in raw.kind):
        raw = _area_crossings(raw, dict(zip(uniq.tolist(), counts_arr.tolist(), strict=True)))
        uniq, inverse, counts_arr = np.unique(raw.ref, return_inverse=True, return_counts=True)
    n_v = len(raw.ref)
    way = raw.way
    first = np.ones(n_v, dtype=bool)
    first[1:] = way[1:] != way[:-1]
    last = np.ones(n_v, dtype=bool)
    last[:-1] = way[1:] != way[:-1]
    shared = counts_arr[inverse] > 1
    brk = shared | first | last
    begins = brk & ~last
    piece = np.cumsum(begins) - 1
    interior = brk & ~first & ~last

    to_xy = Transformer.from_crs(4326, crs, always_xy=True)
    ux, uy = to_xy.transform(raw.lon, raw.lat)
    ux = np.asarray(ux, dtype=np.float64)
    uy = np.asarray(uy, dtype=np.float64)

    # every vertex belongs to its piece; interior break vertices also end the previous piece
    vidx = np.concatenate([np.arange(n_v), np.flatnonzero(interior)])
    vpiece = np.concatenate([piece, piece[interior] - 1])
    order = np.lexsort((vidx, vpiece))
    vidx, vpiece = vidx[order], vpiece[order]
    geoms = shapely.linestrings(np.column_stack([ux[vidx], uy[vidx]]), indices=vpiece)
    pstart = np.searchsorted(vpiece, np.arange(vpiece[-1] + 1))
    pend = np.append(pstart[1:], len(vpiece)) - 1
    u_osm = raw.ref[vidx[pstart]]
    v_osm = raw.ref[vidx[pend]]
    length = shapely.length(geoms)
    kinds = np.asarray(raw.kind, dtype=object)[way[vidx[pstart]]]
    cost = length.copy()
    cost[kinds == "steps"] *= steps_factor
    ferry = kinds == "ferry"
    cost[ferry] = cost[ferry] * ferry_cost_factor + ferry_wait_m

    # node table: unique OSM ids used as edge ends, coordinates from their first vertex
    node_ids, node_pos = np.unique(np.concatenate([u_osm, v_osm]), return_inverse=True)
    first_vertex = np.searchsorted(uniq, node_ids)
    vertex_of_uniq = np.empty(len(uniq), dtype=np.int64)
    vertex_of_uniq[inverse[::-1]] = np.arange(n_v)[::-1]
    src = vertex_of_uniq[first_vertex]
    m = len(u_osm)
    return GraphArrays(
        x_m=ux[src], y_m=uy[src], osmid=node_ids,
        u=node_pos[:m].astype(np.int64), v=node_pos[m:].astype(np.int64),
        length_m=length, cost_m=cost, geometry=geoms, kind=kinds,
    )


def _take_edges(g: GraphArrays, keep: np.ndarray) -> GraphArrays:
    return GraphArrays(g.x_m, g.y_m, g.osmid, g.u[keep], g.v[keep], g.length_m[keep],
                       g.cost_m[keep], g.geometry[keep], g.kind[keep])


def drop_duplicates(g: GraphArrays, tol_m: float = 1.0) -> tuple[GraphArrays, int, int]:
    """Drop degenerate self-loops and parallel edges that run along a cheaper one.

    Two edges between the same nodes whose geometries are within ``tol_m`` of each other
    (Hausdorff distance) are one street mapped twice (e.g. a square's outline along a road):
    the cheaper is kept. Parallel edges along *different* streets are kept here and split by
    :func:`split_parallels`, so no street a resident may live on is lost.

    Returns the graph, and the numbers of self-loops and parallel edges dropped.
    """
    loops = (g.u == g.v) & (g.length_m < tol_m)
    g = _take_edges(g, ~loops)
    a = np.minimum(g.u, g.v)
    b = np.maximum(g.u, g.v)
    order = np.lexsort((g.cost_m, b, a))
    a_s, b_s = a[order], b[order]
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (a_s[1:] == a_s[:-1]) & (b_s[1:] == b_s[:-1])
    drop = np.zeros(len(order), dtype=bool)
    # compare every later member of a group with the group's cheapest edge
    group_first = np.maximum.accumulate(np.where(~same, np.arange(len(order)), 0))
    cand = np.flatnonzero(same)
    if len(cand):
        hd = shapely.hausdorff_distance(g.geometry[order[cand]],
                                        g.geometry[order[group_first[cand]]])
        drop[cand] = hd < tol_m
    keep = np.sort(order[~drop])
    return _take_edges(g, keep), int(loops.sum()), int(drop.sum())


def _cut_line(coords: np.ndarray, at_m: list[float]) -> list[np.ndarray]:
    """Cut a polyline at the given distances along it."""
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pieces, start_pt, start_i = [], coords[0], 0
    for d in at_m:
        i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(seg) - 1))
        t = (d - cum[i]) / seg[i] if seg[i] > 0 else 0.0
        pt = coords[i] + t * (coords[i + 1] - coords[i])
        pieces.append(np.vstack([start_pt, coords[start_i + 1:i + 1], pt]))
        start_pt, start_i = pt, i
    pieces.append(np.vstack([start_pt, coords[start_i + 1:]]))
    return pieces


def split_parallels(g: GraphArrays) -> tuple[GraphArrays, int]:
    """Make the graph simple without losing streets: split loops and costlier parallels.

    The cheapest of parallel edges stays as it is, so shortest paths use it; every other one is
    cut at its middle by a new node (a self-loop at its thirds), so each street keeps its own
    geometry for snapping. New nodes get negative ids.

    Returns the graph and the number of edges split.
    """
    a = np.minimum(g.u, g.v)
    b = np.maximum(g.u, g.v)
    order = np.lexsort((g.cost_m, b, a))
    same = np.zeros(len(order), dtype=bool)
    same[1:] = (a[order][1:] == a[order][:-1]) & (b[order][1:] == b[order][:-1])
    split = np.zeros(len(g.u), dtype=bool)
    split[order[same]] = True
    split |= g.u == g.v
    if not split.any():
        return g, 0
    x, y, osmid = list(g.x_m), list(g.y_m), list(g.osmid)
    nu, nv, nlen, ncost, ngeom, nkind = [], [], [], [], [], []
    next_id = min(-1, int(g.osmid.min()) - 1) if len(g.osmid) else -1
    for e in np.flatnonzero(split).tolist():
        coords = shapely.get_coordinates(g.geometry[e])
        length = float(g.length_m[e])
        cuts = [length / 3, 2 * length / 3] if g.u[e] == g.v[e] else [length / 2]
        pieces = _cut_line(coords, cuts)
        ends = [int(g.u[e])]
        for piece in pieces[:-1]:
            x.append(piece[-1, 0])
            y.append(piece[-1, 1])
            osmid.append(next_id)
            next_id -= 1
            ends.append(len(x) - 1)
        ends.append(int(g.v[e]))
        ratio = g.cost_m[e] / length if length > 0 else 1.0
        for k, piece in enumerate(pieces):
            plen = float(np.hypot(*np.diff(piece, axis=0).T).sum())
            nu.append(ends[k])
            nv.append(ends[k + 1])
            nlen.append(plen)
            ncost.append(plen * ratio)
            ngeom.append(shapely.LineString(piece))
            nkind.append(g.kind[e])
    keep = ~split
    return GraphArrays(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
        np.asarray(osmid, dtype=np.int64),
        np.concatenate([g.u[keep], np.asarray(nu, dtype=np.int64)]),
        np.concatenate([g.v[keep], np.asarray(nv, dtype=np.int64)]),
        np.concatenate([g.length_m[keep], nlen]),
        np.concatenate([g.cost_m[keep], ncost]),
        np.concatenate([g.geometry[keep], np.asarray(ngeom, dtype=object)]),
        np.concatenate([g.kind[keep], np.asarray(nkind, dtype=object)]),
    ), int(split.sum())


def merge_chains(g: GraphArrays) -> GraphArrays:
    """Merge chains of edges through degree-2 nodes into single edges.

    A degree-2 node where two kinds of edge meet (a street and a ferry, say) is kept.

    Node positions are kept (removed nodes become unused); call :func:`keep_components` or
    compact the graph afterwards.
    """
    n = len(g.x_m)
    m = len(g.u)
    deg = np.bincount(g.u, minlength=n) + np.bincount(g.v, minlength=n)
    # a node joining edges of different kinds (street and ferry, street and steps) stays
    _, code = np.unique(g.kind.astype(str), return_inverse=True)
    kmin = np.full(n, np.iinfo(np.int64).max)
    kmax = np.full(n, -1)
    for end in (g.u, g.v):
        np.minimum.at(kmin, end, code)
        np.maximum.at(kmax, end, code)
    through = (deg == 2) & (kmin == kmax)
    if not through.any():
        return g
    # incidence lists of degree-2 nodes only
    ends = np.concatenate([g.u, g.v])
    eidx = np.concatenate([np.arange(m), np.arange(m)])
    sel = through[ends]
    ends_sel, e_sel = ends[sel], eidx[sel]
    order = np.argsort(ends_sel, kind="stable")
    ends_sel, e_sel = ends_sel[order], e_sel[order]
    inc = {}
    for node, e in zip(ends_sel.tolist(), e_sel.tolist(), strict=True):
        inc.setdefault(node, []).append(e)
    u_l, v_l = g.u.tolist(), g.v.tolist()
    used = np.zeros(m, dtype=bool)
    coords = shapely.get_coordinates(g.geometry, return_index=False)
    counts = shapely.get_num_coordinates(g.geometry)
    offs = np.concatenate([[0], np.cumsum(counts)])
    new_u, new_v, new_len, new_cost, new_geom, new_kind = [], [], [], [], [], []
    through_l = through.tolist()

    def walk(start: int, e: int) -> None:
        parts = []
        node = start
        total_len = 0.0
        total_cost = 0.0
        kinds = set()
        while True:
            used[e] = True
            c = coords[offs[e]:offs[e + 1]]
            if u_l[e] == node:
                nxt = v_l[e]
            else:
                nxt = u_l[e]
                c = c[::-1]
            parts.append(c if not parts else c[1:])
            total_len += g.length_m[e]
            total_cost += g.cost_m[e]
            kinds.add(g.kind[e])
            node = nxt
            if not through_l[node] or node == start:
                break
            a, b = inc[node]
            e = b if a == e else a
            if used[e]:
                break
        new_u.append(start)
        new_v.append(node)
        new_len.append(total_len)
        new_cost.append(total_cost)
        new_geom.append(np.concatenate(parts))
        new_kind.append(kinds.pop())

    keep = np.ones(m, dtype=bool)
    chain_edges = np.flatnonzero(through[g.u] | through[g.v])
    # chains start at a node that is not degree 2
    for e in chain_edges.tolist():
        if used[e]:
            continue
        if not through_l[u_l[e]]:
            walk(u_l[e], e)
        elif not through_l[v_l[e]]:
            walk(v_l[e], e)
    # what is left are rings of degree-2 nodes only: anchor each at one of its nodes
    for e in chain_edges.tolist():
        if not used[e]:
            walk(u_l[e], e)
    keep[chain_edges] = False
    merged = shapely.linestrings(np.concatenate(new_geom),
                                 indices=np.repeat(np.arange(len(new_geom)),
                                                   [len(c) for c in new_geom]))
    return GraphArrays(
        g.x_m, g.y_m, g.osmid,
        np.concatenate([g.u[keep], np.asarray(new_u, dtype=np.int64)]),
        np.concatenate([g.v[keep], np.asarray(new_v, dtype=np.int64)]),
        np.concatenate([g.length_m[keep], new_len]),
        np.concatenate([g.cost_m[keep], new_cost]),
        np.concatenate([g.geometry[keep], merged]),
        np.concatenate([g.kind[keep], np.asarray(new_kind, dtype=object)]),
    )


def keep_components(g: GraphArrays, keep: str = "largest",
                    ) -> tuple[GraphArrays, list[dict]]:
    """Keep the largest connected component (or ``keep="all"``), compacting node positions.

    Returns
    -------
    graph : GraphArrays
        Nodes renumbered 0..n-1, only nodes used by an edge.
    islands : list of dict
        One record per dropped component: ``n_nodes``, ``n_edges``, ``x_m``, ``y_m`` (centre).
    """
    n = len(g.x_m)
    used = np.zeros(n, dtype=bool)
    used[g.u] = True
    used[g.v] = True
    adj = coo_matrix((np.ones(len(g.u)), (g.u, g.v)), shape=(n, n))
    n_comp, label = connected_components(adj, directed=False)
    islands: list[dict] = []
    if keep == "largest" and len(g.u):
        sizes = np.bincount(label[used], minlength=n_comp)
        big = int(np.argmax(sizes))
        keep_node = used & (label == big)
        edge_comp = label[g.u]
        for comp in np.flatnonzero(sizes):
            if comp == big:
                continue
            nodes_c = np.flatnonzero(used & (label == comp))
            islands.append({
                "n_nodes": int(len(nodes_c)),
                "n_edges": int((edge_comp == comp).sum()),
                "x_m": float(g.x_m[nodes_c].mean()),
                "y_m": float(g.y_m[nodes_c].mean()),
            })
        islands.sort(key=lambda d: -d["n_nodes"])
    else:
        keep_node = used
    new_pos = np.full(n, -1, dtype=np.int64)
    new_pos[keep_node] = np.arange(int(keep_node.sum()))
    ekeep = keep_node[g.u] & keep_node[g.v]
    g = _take_edges(g, ekeep)
    return GraphArrays(
        g.x_m[keep_node], g.y_m[keep_node], g.osmid[keep_node],
        new_pos[g.u], new_pos[g.v], g.length_m, g.cost_m, g.geometry, g.kind,
    ), islands
