"""Property tests (hypothesis) on the loaders, the engine and the analysis.

Random small networks, points and files; each property holds for every example:

- the network loader refuses every array with a NaN, infinite or negative value with the
  library's own error, and accepts every clean one;
- the table reader answers every random tiny CSV (encodings, blanks, text, full-width digits)
  with facilities at finite WGS-84 points or the library's error naming the file;
- the OSM reader answers every random tiny file (bad coordinates, repeated node ids, ways to
  missing nodes) with a network or a :class:`~lifecircle_geo.errors.NetworkError`, nothing else;
- adding a facility never increases a distance;
- snapping never lands on an edge nobody walks on (a ferry);
- coverage shares stay in [0, 1] and residents are conserved from points to units to 街镇 to
  the district.

Kept fast: small examples, few of them for the analysis (each ``lc.analyze`` takes seconds).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lifecircle_geo as lc

gpd = pytest.importorskip("geopandas")

X0, Y0 = 350_000.0, 3_457_000.0  # EPSG:32651, in Shanghai
FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLOW = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def networks(draw, min_nodes: int = 4, max_nodes: int = 25, ferries: bool = False):
    """A random connected-ish network: a random tree plus extra edges, lengths ≥ straight line."""
    n = draw(st.integers(min_nodes, max_nodes))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, 1000, n)
    y = Y0 + rng.uniform(0, 1000, n)
    parent = np.array([rng.integers(0, i) for i in range(1, n)])
    u = list(parent)
    v = list(range(1, n))
    extra = draw(st.integers(0, n))
    for _ in range(extra):
        a, b = rng.integers(0, n, 2)
        if a != b:
            u.append(int(a))
            v.append(int(b))
    u, v = np.array(u), np.array(v)
    straight = np.hypot(x[u] - x[v], y[u] - y[v])
    length = straight * rng.uniform(1.0, 1.5, len(u)) + 0.01
    kind = None
    if ferries:
        kind = np.where(rng.random(len(u)) < 0.3, "ferry", "walk")
        kind[0] = "walk"  # at least one street to snap to
    return lc.WalkNetwork.from_arrays(x, y, u, v, length, crs=32651, kind=kind)


# ------------------------------------------------------------------ loaders
@FAST
@given(
    n=st.integers(2, 12),
    which=st.sampled_from(["x", "y", "length_m", "cost_m"]),
    value=st.sampled_from([np.nan, np.inf, -np.inf, -1.0, -1e-9]),
    data=st.data(),
)
def test_arrays_with_a_bad_value_are_refused(n, which, value, data):
    x = np.arange(n, dtype=float) * 10
    y = np.zeros(n)
    u, v = np.arange(n - 1), np.arange(1, n)
    arrays = {"x": x, "y": y, "length_m": np.full(n - 1, 10.0), "cost_m": np.full(n - 1, 10.0)}
    if which in ("x", "y") and value < 0 and np.isfinite(value):
        value = np.nan  # negative coordinates are fine
    target = arrays[which]
    i = data.draw(st.integers(0, len(target) - 1))
    target[i] = value
    with pytest.raises(lc.InputError, match=f"{which if which != 'x' else 'x_m'}"):
        lc.WalkNetwork.from_arrays(
            arrays["x"], arrays["y"], u, v, arrays["length_m"], crs=32651, cost_m=arrays["cost_m"]
        )


@FAST
@given(net=networks())
def test_clean_arrays_load_and_round_trip(net, tmp_path_factory):
    p = net.save(tmp_path_factory.mktemp("net") / "n.npz")
    back = lc.WalkNetwork.load(p)
    assert back.n_nodes == net.n_nodes and back.n_edges == net.n_edges
    np.testing.assert_array_equal(back.cost_m, net.cost_m)


@st.composite
def osm_files(draw):
    """A tiny random OSM XML file: sometimes a bad coordinate, a repeated id, a missing node."""
    n = draw(st.integers(2, 8))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for i in range(1, n + 1):
        lon = draw(st.sampled_from(["121.40", "121.401", "121.402", "200", "x", "121.4005"]))
        lat = draw(st.sampled_from(["31.24", "31.241", "31.2405", "95", "1000", "31.242"]))
        lines.append(f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>')
        if draw(st.integers(0, 9)) == 0:  # the same id again, maybe elsewhere
            lines.append(f'<node id="{i}" version="1" lat="31.25" lon="{lon}"/>')
    for w in range(draw(st.integers(1, 4))):
        refs = draw(st.lists(st.integers(1, n + 2), min_size=1, max_size=5))
        tag = draw(st.sampled_from(["footway", "residential", "motorway", "steps"]))
        lines.append(f'<way id="{100 + w}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines.append(f'<tag k="highway" v="{tag}"/></way>')
    lines.append("</osm>")
    return "\n".join(lines)


@FAST
@given(text=osm_files())
def test_random_osm_files_give_a_network_or_the_librarys_error(text, tmp_path_factory):
    p = tmp_path_factory.mktemp("osm") / "r.osm"
    p.write_text(text, encoding="utf-8")
    try:
        net = lc.WalkNetwork.from_osm(p)
    except lc.NetworkError as exc:
        assert str(p) in str(exc) or p.name in str(exc)
        return
    assert np.isfinite(net.x_m).all() and np.isfinite(net.y_m).all()
    assert (net.length_m >= 0).all() and np.isfinite(net.cost_m).all()


CELLS = st.sampled_from(
    ["121.47", "31.23", "", " ", "abc", "1e400", "-0", "１２１.４７", "31.23°", "NaN", "=1+1", "站"]
)


@FAST
@given(
    header=st.sampled_from(["名称,经度,纬度", "name,lon,lat", "名称,类型,经纬度", "名称,地址"]),
    rows=st.lists(st.tuples(CELLS, CELLS, CELLS), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]),
)
def test_random_tables_give_facilities_or_the_librarys_error(
    header, rows, encoding, tmp_path_factory
):
    text = header + "\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    p = tmp_path_factory.mktemp("t") / "t.csv"
    p.write_bytes(text.encode(encoding))
    try:
        fac = lc.facilities.from_table(p)
    except lc.InputError as exc:
        assert "t.csv" in str(exc)
        return
    assert fac.crs.to_epsg() == 4326
    xy = shapely.get_coordinates(fac.geometry.to_numpy())
    assert np.isfinite(xy).all()
    assert fac.attrs["records_read"] == len(fac.attrs["unmatched"]) + fac["facility_id"].nunique()


# ------------------------------------------------------------------- engine
@FAST
@given(net=networks(), data=st.data())
def test_adding_a_facility_never_increases_a_distance(net, data):
    k = data.draw(st.integers(1, 3))
    src = data.draw(st.lists(st.integers(0, net.n_nodes - 1), min_size=k, max_size=k))
    new = data.draw(st.integers(0, net.n_nodes - 1))
    cutoff = data.draw(st.floats(50, 3000))
    d1, _ = lc.engine.distance_to_nearest(net, src, cutoff_m=cutoff)
    d2, _ = lc.engine.distance_to_nearest(net, [*src, new], cutoff_m=cutoff)
    assert (d2 <= d1).all()
    assert d2[new] == 0.0


@FAST
@given(net=networks(ferries=True), data=st.data())
def test_snapping_never_lands_on_a_ferry(net, data):
    m = data.draw(st.integers(1, 20))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pts = np.column_stack([X0 + rng.uniform(-200, 1200, m), Y0 + rng.uniform(-200, 1200, m)])
    s = net.snap(pts, max_snap_m=5000)
    ok = np.asarray(s.ok)
    assert ok.all()  # there is always a street within 5 km here
    assert (net.kind[np.asarray(s.edge)[ok]] != "ferry").all()


# ----------------------------------------------------------------- analysis
@st.composite
def cases(draw):
    """A random street grid, units in two 街镇, resident points and facilities of two kinds."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    k = draw(st.integers(3, 5))
    step = 150.0
    xs = np.arange(k) * step
    gx, gy = np.meshgrid(xs, xs)
    x, y = gx.ravel() + X0, gy.ravel() + Y0
    idx = np.arange(k * k).reshape(k, k)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = lc.WalkNetwork.from_arrays(x, y, u, v, np.full(len(u), step), crs=32651)
    width = xs[-1]
    n_units = draw(st.integers(2, 4))
    edges = np.linspace(X0 - 50, X0 + width + 50, n_units + 1)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"U{i}" for i in range(n_units)],
            "unit_name": [f"单元{i}" for i in range(n_units)],
            "jiezhen_code": ["J1" if i < n_units / 2 else "J2" for i in range(n_units)],
            "jiezhen_name": ["甲街道" if i < n_units / 2 else "乙街道" for i in range(n_units)],
            "district_code": "310105",
        },
        geometry=[
            shapely.box(edges[i], Y0 - 50, edges[i + 1], Y0 + width + 50) for i in range(n_units)
        ],
        crs=32651,
    )
    m = draw(st.integers(3, 12))
    pop = gpd.GeoDataFrame(
        {"population": rng.integers(1, 200, m).astype(float)},
        geometry=shapely.points(X0 + rng.uniform(0, width, m), Y0 + rng.uniform(0, width, m)),
        crs=32651,
    )
    f = draw(st.integers(1, 4))
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i}" for i in range(f)],
            "name": [f"设施{i}" for i in range(f)],
            "category": rng.choice(["childcare", "health"], f),
            "facility_type": "test",
            "source": "test",
            "rule": "hand",
            "capacity": np.nan,
        },
        geometry=shapely.points(X0 + rng.uniform(0, width, f), Y0 + rng.uniform(0, width, f)),
        crs=32651,
    )
    return net, fac, units, pop


@SLOW
@given(case=cases())
def test_shares_in_range_and_residents_conserved(case):
    net, fac, units, pop = case
    r = lc.analyze(
        net, fac, units, population=pop, progress=False, suggest=False, isochrone_polygons=False
    )
    share = r.coverage["share"].dropna()
    assert ((share >= 0) & (share <= 1)).all()
    # every point lies inside a unit: points → units → 街镇 → district, nothing lost or added
    total = pop["population"].sum()
    assert r.units["population"].sum() == pytest.approx(total)
    for cat, rows in r.coverage.groupby("category"):
        by_unit = rows["population"].sum()
        jz = r.jiezhen[r.jiezhen["category"] == cat]["population"].sum()
        assert jz == pytest.approx(by_unit)
        district = r.district[r.district["category"] == cat]["population"].sum()
        assert district == pytest.approx(by_unit)
        covered = rows["covered_population"].sum()
        assert 0 <= covered <= by_unit + 1e-9
