"""From raw walkable ways to a simplified, projected graph (arrays only, no networkx).

Steps, all vectorized with numpy (no Python loop over nodes or edges, except over the few
pedestrian areas and parallel edges):

1. pedestrian areas get straight crossings between their entry points;
2. every pair of consecutive way vertices becomes a *segment*; vertices are projected to the
   metric CRS once per OSM node; a segment mapped more than once (two ways sharing nodes, a way
   that runs out and back along itself) is kept once, the cheapest;
3. chains of segments through *through nodes* (two distinct neighbours, both edges of the same
   kind, as osmnx's simplification) are merged into one edge whose ``length_m`` is the sum of
   its projected segment lengths, i.e. the length of its projected geometry; a ring of through
   nodes becomes a loop at one of its nodes;
4. degenerate self-loops and streets mapped twice (parallel edges along the same line, within
   1 m) are dropped, the cheapest kept, and chains merged again where that freed a node;
5. the graph is made simple without losing streets: of parallel edges along different streets
   the cheapest stays and the others are cut at their middle (loops at their thirds), so
   shortest paths use the cheapest and every street keeps its geometry for snapping;
6. the largest connected component is kept by default, and every dropped island is reported.

The chain merge works on *half-edges* (each edge in both directions): the successor of a
half-edge arriving at a through node is the half-edge leaving it along the other edge; list
ranking by pointer jumping gives every half-edge its walk's end and its distance to it, and one
direction of each walk is kept.
"""

from __future__ import annotations

import dataclasses
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

_KINDS = ("walk", "steps", "area", "ferry")


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
        own: dict[int, int] = {}
        for r in ring_refs[:-1].tolist():
            own[r] = own.get(r, 0) + 1
        entry_pos = [i for i, r in enumerate(ring_refs[:-1].tolist()) if counts[r] > own[r]]
        if len(entry_pos) < 2:
            continue
        lon, lat = raw.lon[sl], raw.lat[sl]
        poly = shapely.Polygon(np.column_stack([lon, lat]))
        if not poly.is_valid:
            poly = poly.buffer(0)
        grown = poly.buffer(1e-7)
        ia, ib = np.triu_indices(len(entry_pos), k=1)
        a = np.asarray(entry_pos)[ia]
        b = np.asarray(entry_pos)[ib]
        segs = shapely.linestrings(
            np.stack([np.column_stack([lon[a], lat[a]]), np.column_stack([lon[b], lat[b]])], axis=1)
        )
        inside = shapely.covers(grown, segs)
        a, b = a[inside], b[inside]
        add_ref.append(np.column_stack([ring_refs[a], ring_refs[b]]).ravel())
        add_lon.append(np.column_stack([lon[a], lon[b]]).ravel())
        add_lat.append(np.column_stack([lat[a], lat[b]]).ravel())
    if not add_ref:
        return raw
    new_ref = np.concatenate(add_ref).astype(np.int64)
    n_new = len(new_ref) // 2
    if n_new == 0:
        return raw
    return dataclasses.replace(
        raw,
        ref=np.concatenate([raw.ref, new_ref]),
        way=np.concatenate([raw.way, raw.n_ways + np.repeat(np.arange(n_new), 2)]),
        lon=np.concatenate([raw.lon, *add_lon]),
        lat=np.concatenate([raw.lat, *add_lat]),
        kind=list(raw.kind) + ["walk"] * n_new,
        way_osmid=np.concatenate([raw.way_osmid, np.full(n_new, -1, dtype=np.int64)]),
    )


# ---------------------------------------------------------------------- chains
def _chain_walks(
    u: np.ndarray, v: np.ndarray, n: int, code: np.ndarray, fixed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Order edges into maximal chains through through-nodes.

    A node is a *through node* when it has exactly two edge ends, from two different edges to
    two different neighbours, both of the same kind ``code``, no self-loop, and is not marked in
    ``fixed``.

    Returns
    -------
    halfedges : ndarray of int64
        Every edge exactly once, as a half-edge ``h`` (edge ``h`` forwards when ``h < m``, edge
        ``h - m`` backwards otherwise), grouped by chain and in walking order.
    chain_start : ndarray of int64
        Position in ``halfedges`` where each chain starts (ascending).
    n_through : int
        Number of through nodes (merged away).
    """
    m = len(u)
    if m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    tail = np.concatenate([u, v])
    head = np.concatenate([v, u])
    hcode = np.concatenate([code, code])
    order = np.argsort(tail, kind="stable")
    tails = tail[order]
    deg = np.bincount(tail, minlength=n)
    loop_node = np.zeros(n, dtype=bool)
    loop_node[u[u == v]] = True
    cand_mask = (deg == 2) & ~loop_node
    if fixed is not None:
        cand_mask &= ~fixed
    cand = np.flatnonzero(cand_mask)
    p = np.searchsorted(tails, cand)
    l1, l2 = order[p], order[p + 1]
    ok = (head[l1] != head[l2]) & (hcode[l1] == hcode[l2])
    cand, l1, l2 = cand[ok], l1[ok], l2[ok]
    through = np.zeros(n, dtype=bool)
    through[cand] = True
    # rings made only of through nodes: anchor each at the first node of its lowest edge
    e1, e2 = l1 % m, l2 % m
    links = coo_matrix((np.ones(len(e1), dtype=np.int8), (e1, e2)), shape=(m, m))
    _, comp = connected_components(links, directed=False)
    open_end = ~through[u] | ~through[v]
    has_end = np.bincount(comp, weights=open_end.astype(float)) > 0
    ring_edges = np.flatnonzero(~has_end[comp])
    if len(ring_edges):
        _, first = np.unique(comp[ring_edges], return_index=True)
        anchors = u[ring_edges[first]]
        through[anchors] = False
        keep = ~np.isin(cand, anchors)
        cand, l1, l2 = cand[keep], l1[keep], l2[keep]
    twin = np.concatenate([np.arange(m, 2 * m), np.arange(m)])
    succ = np.full(2 * m, -1, dtype=np.int64)
    succ[twin[l1]] = l2
    succ[twin[l2]] = l1
    # list ranking by pointer jumping: last half-edge of each walk and the distance to it
    idx = np.arange(2 * m)
    nxt = np.where(succ >= 0, succ, idx)
    rank = (succ >= 0).astype(np.int64)
    while True:
        nn = nxt[nxt]
        if np.array_equal(nn, nxt):
            break
        rank = rank + rank[nxt]
        nxt = nn
    last = nxt
    first_h = twin[last[twin[last]]]
    kept = np.flatnonzero(first_h < twin[last])
    o = np.lexsort((-rank[kept], last[kept]))
    halfedges = kept[o]
    lk = last[halfedges]
    new = np.ones(len(halfedges), dtype=bool)
    new[1:] = lk[1:] != lk[:-1]
    return halfedges, np.flatnonzero(new), len(cand)


def _merge(
    u: np.ndarray,
    v: np.ndarray,
    n: int,
    code: np.ndarray,
    length: np.ndarray,
    cost: np.ndarray,
    coords: np.ndarray,
    offs: np.ndarray,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Merge chains; returns new edge arrays, merged coordinates/offsets and first edge ids."""
    m = len(u)
    halfedges, cstart, n_through = _chain_walks(u, v, n, code, fixed)
    e = halfedges % m
    fwd = halfedges < m
    tail = np.where(fwd, u[e], v[e])
    head = np.where(fwd, v[e], u[e])
    cend = np.append(cstart[1:], len(halfedges)) - 1
    new_u = tail[cstart]
    new_v = head[cend]
    new_len = np.add.reduceat(length[e], cstart) if len(e) else length[:0]
    new_cost = np.add.reduceat(cost[e], cstart) if len(e) else cost[:0]
    first_edge = e[cstart]
    # coordinates: each half-edge's vertices in walking order, without the first vertex of
    # every half-edge that is not the first of its chain (it repeats the previous one)
    is_first = np.zeros(len(e), dtype=bool)
    is_first[cstart] = True
    ncoord = offs[e + 1] - offs[e]
    skip = (~is_first).astype(np.int64)
    take = ncoord - skip
    total = int(take.sum())
    entry = np.repeat(np.arange(len(e)), take)
    k = np.arange(total) - np.repeat(np.cumsum(take) - take, take) + skip[entry]
    src = np.where(fwd[entry], offs[e][entry] + k, offs[e + 1][entry] - 1 - k)
    chain_of_entry = np.cumsum(is_first) - 1
    new_coords = coords[src]
    counts = np.bincount(chain_of_entry[entry], minlength=len(cstart))
    new_offs = np.concatenate([[0], np.cumsum(counts)])
    return new_u, new_v, new_len, new_cost, first_edge, new_coords, new_offs, n_through


def _lines(coords: np.ndarray, offs: np.ndarray) -> np.ndarray:
    counts = np.diff(offs)
    return shapely.linestrings(coords, indices=np.repeat(np.arange(len(counts)), counts))


def assemble(
    raw: RawWays,
    crs: CRS,
    *,
    steps_factor: float = 1.0,
    ferry_wait_m: float = 0.0,
    ferry_cost_factor: float = 1.0,
    stats: dict | None = None,
) -> GraphArrays:
    """Build the simplified graph of raw ways: segments, deduplicated, chains merged, projected.

    Parameters
    ----------
    raw : RawWays
        Walkable ways from :func:`~lifecircle_geo.network.osm.read_walk_ways`.
    crs : pyproj.CRS
        Projected metric CRS of the result.
    steps_factor : float
        Cost multiplier of steps.
    ferry_wait_m : float
        Boarding wait of a ferry, in equivalent walking metres, added once to each ferry edge.
    ferry_cost_factor : float
        Walking metres per metre of ferry crossing (walk speed / ferry speed).
    stats : dict, optional
        Filled with ``duplicate_segments_dropped`` and ``through_nodes_merged``.

    Returns
    -------
    GraphArrays
        Nodes are the OSM nodes that end an edge; each edge's ``length_m`` is the length of its
        projected geometry.
    """
    if raw.n_ways == 0:
        raise ValueError("assemble needs at least one way")
    if any(k == "area" for k in raw.kind):
        uniq, counts_arr = np.unique(raw.ref, return_counts=True)
        raw = _area_crossings(raw, dict(zip(uniq.tolist(), counts_arr.tolist(), strict=True)))
    uniq, first_vertex, inverse = np.unique(raw.ref, return_index=True, return_inverse=True)
    to_xy = Transformer.from_crs(4326, crs, always_xy=True)
    nx_, ny_ = to_xy.transform(raw.lon[first_vertex], raw.lat[first_vertex])
    nx_ = np.asarray(nx_, dtype=np.float64)
    ny_ = np.asarray(ny_, dtype=np.float64)
    n = len(uniq)
    # segments between consecutive vertices of a way
    i = np.flatnonzero(raw.way[1:] == raw.way[:-1])
    a, b = inverse[i], inverse[i + 1]
    real = a != b
    i, a, b = i[real], a[real], b[real]
    lookup = {k: c for c, k in enumerate(_KINDS)}
    way_code = np.fromiter((lookup[k] for k in raw.kind), dtype=np.int64, count=raw.n_ways)
    code = way_code[raw.way[i]]
    seg_len = np.hypot(nx_[a] - nx_[b], ny_[a] - ny_[b])
    factor = np.ones(len(_KINDS))
    factor[_KINDS.index("steps")] = steps_factor
    factor[_KINDS.index("ferry")] = ferry_cost_factor
    seg_cost = seg_len * factor[code]
    # a segment mapped more than once is one street: keep the cheapest
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((seg_cost, hi, lo))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])
    keep = np.sort(order[first])
    n_dup = int(len(order) - len(keep))
    a, b, code, seg_len, seg_cost = a[keep], b[keep], code[keep], seg_len[keep], seg_cost[keep]
    if len(a) == 0:  # every way degenerate (a single node repeated)
        if stats is not None:
            stats.update(duplicate_segments_dropped=n_dup, through_nodes_merged=0)
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        return GraphArrays(
            empty_f,
            empty_f,
            empty_i,
            empty_i,
            empty_i,
            empty_f,
            empty_f,
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=object),
        )
    coords = np.empty((2 * len(a), 2))
    coords[0::2, 0], coords[0::2, 1] = nx_[a], ny_[a]
    coords[1::2, 0], coords[1::2, 1] = nx_[b], ny_[b]
    offs = np.arange(0, 2 * len(a) + 1, 2)
    eu, ev, elen, ecost, efirst, ecoords, eoffs, n_through = _merge(
        a, b, n, code, seg_len, seg_cost, coords, offs
    )
    ekind = np.asarray(_KINDS, dtype=object)[code[efirst]]
    ecost = ecost + np.where(ekind == "ferry", ferry_wait_m, 0.0)
    # node table: OSM nodes that end an edge
    used, pos = np.unique(np.concatenate([eu, ev]), return_inverse=True)
    m = len(eu)
    if stats is not None:
        stats["duplicate_segments_dropped"] = n_dup
        stats["through_nodes_merged"] = n_through
    return GraphArrays(
        x_m=nx_[used],
        y_m=ny_[used],
        osmid=uniq[used],
        u=pos[:m].astype(np.int64),
        v=pos[m:].astype(np.int64),
        length_m=elen,
        cost_m=ecost,
        geometry=_lines(ecoords, eoffs),
        kind=ekind,
    )


def _take_edges(g: GraphArrays, keep: np.ndarray) -> GraphArrays:
    return GraphArrays(
        g.x_m,
        g.y_m,
        g.osmid,
        g.u[keep],
        g.v[keep],
        g.length_m[keep],
        g.cost_m[keep],
        g.geometry[keep],
        g.kind[keep],
    )


def merge_chains(g: GraphArrays) -> tuple[GraphArrays, int]:
    """Merge chains of edges through through-nodes into single edges.

    A through node has two edge ends, from two edges to two different neighbours, both of the
    same kind (a node where a street meets a ferry or steps stays). Lengths and costs add up;
    geometries are joined in walking order.

    Node positions are kept (removed nodes become unused); call :func:`keep_components` or
    compact the graph afterwards. Returns the graph and the number of nodes merged away.
    """
    n = len(g.x_m)
    m = len(g.u)
    if m == 0:
        return g, 0
    _, code = np.unique(g.kind.astype(str), return_inverse=True)
    code = code.astype(np.int64)
    deg = np.bincount(g.u, minlength=n) + np.bincount(g.v, minlength=n)
    cand = deg == 2
    # only edges that touch a possible through node can change
    touch = cand[g.u] | cand[g.v]
    if not touch.any():
        return g, 0
    sub = np.flatnonzero(touch)
    geoms = g.geometry[sub]
    coords = shapely.get_coordinates(geoms)
    offs = np.concatenate([[0], np.cumsum(shapely.get_num_coordinates(geoms))])
    rest = ~touch
    eu, ev, elen, ecost, efirst, ecoords, eoffs, n_through = _merge(
        g.u[sub], g.v[sub], n, code[sub], g.length_m[sub], g.cost_m[sub], coords, offs, fixed=~cand
    )
    if n_through == 0:
        return g, 0
    return GraphArrays(
        g.x_m,
        g.y_m,
        g.osmid,
        np.concatenate([g.u[rest], eu]),
        np.concatenate([g.v[rest], ev]),
        np.concatenate([g.length_m[rest], elen]),
        np.concatenate([g.cost_m[rest], ecost]),
        np.concatenate([g.geometry[rest], _lines(ecoords, eoffs)]),
        np.concatenate([g.kind[rest], g.kind[sub][efirst]]),
    ), n_through


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
        hd = shapely.hausdorff_distance(
            g.geometry[order[cand]], g.geometry[order[group_first[cand]]]
        )
        drop[cand] = hd < tol_m
    keep = np.sort(order[~drop])
    return _take_edges(g, keep), int(loops.sum()), int(drop.sum())


def _cut_lines(
    geoms: np.ndarray,
    edge: np.ndarray,
    dist: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut lines at distances along them (vectorized).

    Parameters
    ----------
    geoms : array of LineString
        The lines.
    edge, dist : ndarray
        One row per cut: which line, and how far along it; sorted by ``(edge, dist)``.

    Returns
    -------
    pieces : array of LineString
        Every line's pieces in order, lines in order (``len(geoms) + len(edge)`` pieces).
    piece_line : ndarray of int64
        The line each piece comes from.
    cut_xy : ndarray (n_cuts, 2)
        The cut points.
    """
    coords = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms)
    offs = np.concatenate([[0], np.cumsum(counts)])
    line_of = np.repeat(np.arange(len(geoms)), counts)
    seg = np.zeros(len(coords))
    if len(coords) > 1:
        d = np.hypot(*np.diff(coords, axis=0).T)
        same = line_of[1:] == line_of[:-1]
        seg[1:] = np.where(same, d, 0.0)
    cum = np.cumsum(seg)  # global, flat across line starts
    target = cum[offs[edge]] + dist
    k = np.searchsorted(cum, target, side="right") - 1
    k = np.clip(k, offs[edge], offs[edge + 1] - 2)  # segment start index within the line
    seg_len = cum[k + 1] - cum[k]
    t = np.divide(target - cum[k], seg_len, out=np.zeros_like(seg_len), where=seg_len > 0)
    t = np.clip(t, 0.0, 1.0)
    cut_xy = coords[k] + t[:, None] * (coords[k + 1] - coords[k])
    n_cuts_line = np.bincount(edge, minlength=len(geoms))
    cuts_before = np.concatenate([[0], np.cumsum(n_cuts_line)])[:-1]
    piece_base = np.arange(len(geoms)) + cuts_before
    order_in_line = np.arange(len(edge)) - cuts_before[edge]
    # vertices: piece = base + number of the line's cuts in segments before the vertex
    n_before = np.searchsorted(k, np.arange(len(coords)), side="left") - cuts_before[line_of]
    v_piece = piece_base[line_of] + n_before
    c_piece = piece_base[edge] + order_in_line
    # each cut point ends one piece and starts the next; sort by position along the line
    pos = np.concatenate([np.arange(len(coords)), k + 0.5, k + 0.5]).astype(np.float64)
    sub = np.concatenate([np.zeros(len(coords)), dist, dist])
    copy = np.concatenate([np.zeros(len(coords)), np.zeros(len(edge)), np.ones(len(edge))])
    piece = np.concatenate([v_piece, c_piece, c_piece + 1])
    xy = np.concatenate([coords, cut_xy, cut_xy])
    o = np.lexsort((copy, sub, pos))
    pieces = shapely.linestrings(xy[o], indices=piece[o])
    piece_line = np.repeat(np.arange(len(geoms)), n_cuts_line + 1)
    return pieces, piece_line, cut_xy


def split_parallels(g: GraphArrays) -> tuple[GraphArrays, int]:
    """Make the graph simple without losing streets: split loops and costlier parallels.

    The cheapest of parallel edges stays as it is, so shortest paths use it; every other one is
    cut at its middle by a new node (a self-loop at its thirds), so each street keeps its own
    geometry for snapping. New nodes get negative ids. Pieces get the lengths of their
    geometries and the edge's cost per metre.

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
    se = np.flatnonzero(split)
    loop = g.u[se] == g.v[se]
    length = g.length_m[se]
    n_cut = np.where(loop, 2, 1)
    line = np.repeat(np.arange(len(se)), n_cut)
    frac = np.where(
        np.repeat(loop, n_cut),
        (np.arange(len(line)) - np.repeat(np.cumsum(n_cut) - n_cut, n_cut) + 1) / 3,
        0.5,
    )
    pieces, piece_line, cut_xy = _cut_lines(g.geometry[se], line, frac * length[line])
    n0 = len(g.x_m)
    next_id = min(-1, int(g.osmid.min()) - 1) if len(g.osmid) else -1
    new_ids = next_id - np.arange(len(line), dtype=np.int64)
    # ends of each piece: the edge's u, its cut nodes in order, its v
    cut_node = n0 + np.arange(len(line))
    n_piece = n_cut + 1
    first_piece = np.cumsum(n_piece) - n_piece
    k_in = np.arange(len(piece_line)) - first_piece[piece_line]
    cuts_before = np.cumsum(n_cut) - n_cut
    is_first = k_in == 0
    is_last = k_in == n_cut[piece_line]
    pu = np.where(
        is_first, g.u[se][piece_line], cut_node[np.maximum(cuts_before[piece_line] + k_in - 1, 0)]
    )
    pv = np.where(
        is_last,
        g.v[se][piece_line],
        cut_node[np.minimum(cuts_before[piece_line] + k_in, len(line) - 1)],
    )
    plen = shapely.length(pieces)
    ratio = np.divide(g.cost_m[se], length, out=np.ones(len(se)), where=length > 0)
    keep = ~split
    return GraphArrays(
        np.concatenate([g.x_m, cut_xy[:, 0]]),
        np.concatenate([g.y_m, cut_xy[:, 1]]),
        np.concatenate([g.osmid, new_ids]),
        np.concatenate([g.u[keep], pu]),
        np.concatenate([g.v[keep], pv]),
        np.concatenate([g.length_m[keep], plen]),
        np.concatenate([g.cost_m[keep], plen * ratio[piece_line]]),
        np.concatenate([g.geometry[keep], pieces]),
        np.concatenate([g.kind[keep], g.kind[se][piece_line]]),
    ), len(se)


def keep_components(
    g: GraphArrays,
    keep: str = "largest",
) -> tuple[GraphArrays, list[dict]]:
    """Keep the largest connected component (or ``keep="all"``), compacting node positions.

    Returns
    -------
    graph : GraphArrays
        Nodes renumbered 0..n-1, only nodes used by an edge.
    islands : list of dict
        One record per dropped component, largest first: ``n_nodes``, ``n_edges``,
        ``length_m``, ``x_m``, ``y_m`` (mean of its nodes), ``radius_m`` (its farthest node
        from that mean).
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
            in_comp = edge_comp == comp
            islands.append(
                {
                    "n_nodes": len(nodes_c),
                    "n_edges": int(in_comp.sum()),
                    "length_m": float(g.length_m[in_comp].sum()),
                    "x_m": float(g.x_m[nodes_c].mean()),
                    "y_m": float(g.y_m[nodes_c].mean()),
                    "radius_m": float(
                        np.hypot(
                            g.x_m[nodes_c] - g.x_m[nodes_c].mean(),
                            g.y_m[nodes_c] - g.y_m[nodes_c].mean(),
                        ).max()
                    ),
                }
            )
        islands.sort(key=lambda d: -d["n_nodes"])
    else:
        keep_node = used
    new_pos = np.full(n, -1, dtype=np.int64)
    new_pos[keep_node] = np.arange(int(keep_node.sum()))
    ekeep = keep_node[g.u] & keep_node[g.v]
    g = _take_edges(g, ekeep)
    return GraphArrays(
        g.x_m[keep_node],
        g.y_m[keep_node],
        g.osmid[keep_node],
        new_pos[g.u],
        new_pos[g.v],
        g.length_m,
        g.cost_m,
        g.geometry,
        g.kind,
    ), islands
