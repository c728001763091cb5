"""Compiled kernels of :mod:`lifecircle_geo.accessibility` (numba, compiled on first use and
cached on disk). Imported only when a per-facility search or a pair sort needs them, so that
``import lifecircle_geo`` does not load numba."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._dijkstra import _grow


@njit(cache=True, nogil=True)
def heap_push(hd, hn, size, d, v):  # pragma: no cover - compiled
    i = size
    hd[i] = d
    hn[i] = v
    while i > 0:
        p = (i - 1) >> 1
        if hd[p] <= hd[i]:
            break
        hd[p], hd[i] = hd[i], hd[p]
        hn[p], hn[i] = hn[i], hn[p]
        i = p


@njit(cache=True, nogil=True)
def heap_pop(hd, hn, size):  # pragma: no cover - compiled
    d = hd[0]
    v = hn[0]
    size -= 1
    hd[0] = hd[size]
    hn[0] = hn[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hd[c + 1] < hd[c]:
            c += 1
        if hd[i] <= hd[c]:
            break
        hd[c], hd[i] = hd[i], hd[c]
        hn[c], hn[i] = hn[i], hn[c]
        i = c
    return d, v


@njit(cache=True, nogil=True)
def bounded_searches(
    indptr, indices, data, n, seed_ptr, seed_node, seed_off, cutoff
):  # pragma: no cover - compiled
    """One bounded Dijkstra per facility f (seeds seed_ptr[f]:seed_ptr[f+1] with start
    offsets); returns the settled (facility, node, distance) triples. Only touched nodes
    are reset between facilities, so the work is proportional to the reached pairs."""
    nf = len(seed_ptr) - 1
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    cap = 1024
    out_f = np.empty(cap, dtype=np.int64)
    out_t = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    m = 0
    hcap = 1024
    hd = np.empty(hcap, dtype=np.float64)
    hn = np.empty(hcap, dtype=np.int64)
    for f in range(nf):
        nt = 0
        size = 0
        for s in range(seed_ptr[f], seed_ptr[f + 1]):
            v = seed_node[s]
            d = seed_off[s]
            if d <= cutoff and d < dist[v]:
                if dist[v] == np.inf:
                    touched[nt] = v
                    nt += 1
                dist[v] = d
                if size == hd.shape[0]:
                    hd, hn = _grow(hd, size), _grow(hn, size)
                heap_push(hd, hn, size, d, v)
                size += 1
        while size > 0:
            d, v = heap_pop(hd, hn, size)
            size -= 1
            if done[v] or d > dist[v]:
                continue
            done[v] = True
            if m == out_f.shape[0]:
                out_f, out_t, out_d = _grow(out_f, m), _grow(out_t, m), _grow(out_d, m)
            out_f[m] = f
            out_t[m] = v
            out_d[m] = d
            m += 1
            for k in range(indptr[v], indptr[v + 1]):
                w = indices[k]
                nd = d + data[k]
                if nd <= cutoff and nd < dist[w] and not done[w]:
                    if dist[w] == np.inf:
                        touched[nt] = w
                        nt += 1
                    dist[w] = nd
                    if size == hd.shape[0]:
                        hd, hn = _grow(hd, size), _grow(hn, size)
                    heap_push(hd, hn, size, nd, w)
                    size += 1
        for i in range(nt):
            dist[touched[i]] = np.inf
            done[touched[i]] = False
    return out_f[:m].copy(), out_t[:m].copy(), out_d[:m].copy()


@njit(cache=True, nogil=True)
def order_pairs(tgt, dist, fac, n_targets):  # pragma: no cover - compiled
    """``np.lexsort((fac, dist, tgt))`` in O(pairs): a counting sort by target, then an
    insertion sort of each target's few pairs by (dist, fac)."""
    m = len(tgt)
    start = np.zeros(n_targets + 1, dtype=np.int64)
    for i in range(m):
        start[tgt[i] + 1] += 1
    for t in range(n_targets):
        start[t + 1] += start[t]
    fill = start[:-1].copy()
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        order[fill[tgt[i]]] = i
        fill[tgt[i]] += 1
    for t in range(n_targets):
        for a in range(start[t] + 1, start[t + 1]):
            x = order[a]
            b = a - 1
            while b >= start[t] and (
                dist[order[b]] > dist[x] or (dist[order[b]] == dist[x] and fac[order[b]] > fac[x])
            ):
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = x
    return order
