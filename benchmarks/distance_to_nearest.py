"""``engine.distance_to_nearest`` against a bare ``scipy.sparse.csgraph.dijkstra`` call.

A 500 × 500 jittered grid (250,000 nodes, 80 m blocks), 600 sources, 2,000 m cutoff; best of 5.
The public one-category call takes the compiled (numba) kernel once it is loaded (or when the
network is large enough to repay loading it) and must stay within 1.3× the bare scipy call on
the same arrays with the same answers as its scipy path. Prints one line; nothing asserted
except equal answers.

Usage: ``python benchmarks/distance_to_nearest.py``
"""

import time

import numpy as np
from scipy.sparse.csgraph import dijkstra

import lifecircle_geo as lc
from lifecircle_geo import engine as E

n = 500
rng = np.random.default_rng(0)
ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
x = (ii * 80.0 + rng.uniform(-10, 10, ii.shape)).ravel()
y = (jj * 80.0 + rng.uniform(-10, 10, ii.shape)).ravel()
idx = np.arange(n * n).reshape(n, n)
u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
length = np.hypot(x[u] - x[v], y[u] - y[v])
net = lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651)
src = rng.choice(n * n, 600, replace=False)
cutoff = 2000.0
csr = net.csr


def best(f, k=5):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


E.distance_to_nearest(net, src, cutoff, backend="numba")  # load kernel
t_scipy = best(
    lambda: dijkstra(
        csr, directed=False, indices=src, min_only=True, limit=cutoff, return_predecessors=True
    )
)
t_new = best(lambda: E.distance_to_nearest(net, src, cutoff))
t_old = best(lambda: E.distance_to_nearest(net, src, cutoff, backend="scipy"))
d1, k1 = E.distance_to_nearest(net, src, cutoff)
d2, k2 = E.distance_to_nearest(net, src, cutoff, backend="scipy")
assert np.array_equal(d1, d2) and np.array_equal(k1, k2)
print(
    f"nodes {net.n_nodes}, sources {len(src)}: bare scipy {t_scipy:.3f} s; "
    f"distance_to_nearest auto(numba) {t_new:.3f} s = {t_new / t_scipy:.2f}x; "
    f"scipy path {t_old:.3f} s = {t_old / t_scipy:.2f}x; same answers"
)
t_bare_d = best(lambda: dijkstra(csr, directed=False, indices=src, min_only=True, limit=cutoff))
print(f"bare scipy distances only {t_bare_d:.3f} s: compiled path {t_new / t_bare_d:.2f}x")
