"""`WalkNetwork`: a pedestrian street graph as compact arrays, with snapping and save/load."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix

from .. import crs as lc_crs
from ..errors import InputError, NetworkError
from ..routing.snap import Snap
from ..settings import settings
from .build import (
    GraphArrays,
    assemble,
    drop_duplicates,
    keep_components,
    merge_chains,
    split_parallels,
)
from .osm import RawWays, file_provenance, read_walk_ways
from .rules import WalkRules

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import ArrayLike

log = logging.getLogger(__name__)

__all__ = ["EDGE_KINDS", "FORMAT_VERSION", "SNAP_KINDS", "WalkNetwork"]

FORMAT_VERSION = 1
_FORMAT_NAME = "lifecircle_geo.WalkNetwork"

#: Every edge kind a network may hold: ``walk`` (streets, footways, paths), ``steps``,
#: ``area`` (walks across a pedestrian square) and ``ferry`` (``route=ferry``, pier to pier).
EDGE_KINDS = ("walk", "steps", "area", "ferry")

#: The edge kinds that points are snapped to (:meth:`WalkNetwork.snap`): every kind a person
#: walks on. A ferry is not among them: nobody boards a ferry in mid-river, so residents,
#: facilities and candidate sites reach the nearest street, and a ferry is used only from its
#: end nodes (the piers), like any other edge of the graph.
SNAP_KINDS = frozenset({"walk", "steps", "area"})
#: What :meth:`WalkNetwork._snap_points` returns: rows, edges, along, points, distance, length.
_Snapped = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: :meth:`WalkNetwork.snap` splits its points among threads (one per CPU) only when each
#: thread gets at least this many.
SNAP_POINTS_PER_THREAD = 50_000


def _as_array(name: str, values: ArrayLike, dtype: type) -> np.ndarray:
    """Convert an input array, naming it when its values are not numbers."""
    try:
        out = np.ascontiguousarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must hold numbers ({exc})") from None
    if out.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {out.shape}")
    return out


def _check_values(name: str, values: np.ndarray, what: str, *, non_negative: bool = False) -> None:
    """Refuse NaN, infinite (and, with ``non_negative``, negative) values, counted and located.

    A NaN coordinate makes a node silently unreachable and a negative cost makes a shortest-path
    search run without end, so both are stopped here, before any work.
    """
    bad = ~np.isfinite(values)
    if non_negative:
        bad |= values < 0
    if not bad.any():
        return
    idx = np.flatnonzero(bad)
    shown = ", ".join(f"{what} {i}: {float(values[i])!r}" for i in idx[:5])
    more = f" (and {len(idx) - 5} more)" if len(idx) > 5 else ""
    need = "finite and >= 0" if non_negative else "finite"
    raise InputError(
        f"{name} must be {need}; {len(idx)} of {len(values)} {what} value(s) are not, the first "
        f"at {shown}{more}"
    )


class WalkNetwork:
    """A walkable street graph in a projected metric CRS.

    Nodes are numbered 0..n-1 (positional); every edge can be walked both ways. Build one with
    :meth:`from_osm`, :meth:`from_place`, :meth:`from_polygon`, :meth:`from_osmnx` or
    :meth:`from_arrays`, and keep it with :meth:`save` / :meth:`load`.

    Parameters
    ----------
    x_m, y_m : array-like of float
        Node coordinates in metres, in ``crs``.
    u, v : array-like of int
        Positional node indices of each edge's ends.
    length_m : array-like of float
        Physical edge lengths.
    crs : pyproj.CRS or str or int
        Projected CRS of the coordinates.
    geometry : array-like of shapely.LineString, optional
        Edge geometries from ``u`` to ``v``; straight lines when omitted.
    cost_m : array-like of float, optional
        Walking cost of each edge in equivalent metres (ferry waits, steps); defaults to
        ``length_m``. Shortest paths use the cost.
    osmid : array-like of int, optional
        Source ids of the nodes.
    kind : array-like of str, optional
        Kind of each edge, one of :data:`EDGE_KINDS` (``walk``, ``steps``, ``area``,
        ``ferry``); default ``walk``. Only the kinds in :data:`SNAP_KINDS` (all but ``ferry``)
        are snapped to; a ferry edge is walked only from its end nodes.
    meta : dict, optional
        Provenance. :meth:`from_osm` records: ``source_file``, ``source_size_bytes``,
        ``source_sha256``; ``osm_timestamp`` (newest walkable way) and
        ``osm_header_timestamp`` (the file header's, when present); ``rules`` (the walk rules
        as a dict), ``walk_speed_kmh``; ``crs`` and ``crs_epsg``; counts: ``n_ways_read``,
        ``n_way_vertices``, ``dropped_ways`` (by reason), ``missing_node_refs``,
        ``duplicate_segments_dropped``, ``through_nodes_merged``,
        ``degenerate_loops_dropped``, ``duplicate_edges_dropped``, ``parallel_edges_split``,
        ``n_split_nodes``, ``n_nodes``, ``n_edges``, ``total_length_m``; islands:
        ``n_islands_dropped``, ``island_nodes_dropped``, ``island_length_m_dropped`` and
        ``dropped_islands`` (one record each: ``n_nodes``, ``n_edges``, ``length_m``,
        ``x_m``/``y_m``, ``lon``/``lat``); ``boundary_bounds_wgs84`` and
        ``boundary_buffer_m`` when clipped; ``built_with`` and ``build_seconds``.

    Examples
    --------
    >>> net = WalkNetwork.from_arrays([0, 100, 100], [0, 0, 50], [0, 1], [1, 2],
    ...                               [100.0, 50.0], crs=32651)
    >>> net.n_nodes, net.n_edges
    (3, 2)
    >>> float(net.edges.length_m.sum())
    150.0
    """

    def __init__(
        self,
        x_m: ArrayLike,
        y_m: ArrayLike,
        u: ArrayLike,
        v: ArrayLike,
        length_m: ArrayLike,
        crs: Any,
        *,
        geometry: ArrayLike | None = None,
        cost_m: ArrayLike | None = None,
        osmid: ArrayLike | None = None,
        kind: ArrayLike | None = None,
        meta: dict | None = None,
    ) -> None:
        self.x_m = _as_array("x_m", x_m, np.float64)
        self.y_m = _as_array("y_m", y_m, np.float64)
        self.u = _as_array("u", u, np.int64)
        self.v = _as_array("v", v, np.int64)
        self.length_m = _as_array("length_m", length_m, np.float64)
        if isinstance(crs, _SavedCRS):  # from load(): checked when saved, parsed on first use
            self._crs, self._crs_wkt = None, crs.wkt
        else:
            self._crs = CRS.from_user_input(crs)
            if not self._crs.is_projected:
                raise InputError(f"WalkNetwork needs a projected metric CRS, got {self._crs.name}")
        n, m = len(self.x_m), len(self.u)
        if len(self.y_m) != n:
            raise InputError(f"x_m has {n} values but y_m has {len(self.y_m)}")
        if len(self.v) != m or len(self.length_m) != m:
            raise InputError(
                f"u, v and length_m must have one value per edge "
                f"(got {m}, {len(self.v)}, {len(self.length_m)})"
            )
        if m and (self.u.min() < 0 or self.v.min() < 0 or max(self.u.max(), self.v.max()) >= n):
            raise InputError(f"u and v must be node positions in 0..{n - 1}")
        _check_values("x_m", self.x_m, "node")
        _check_values("y_m", self.y_m, "node")
        _check_values("length_m", self.length_m, "edge", non_negative=True)
        self.cost_m = (
            self.length_m.copy() if cost_m is None else _as_array("cost_m", cost_m, np.float64)
        )
        if len(self.cost_m) != m:
            raise InputError(
                f"cost_m must have one value per edge (got {len(self.cost_m)} for {m} edges)"
            )
        if cost_m is not None:
            _check_values("cost_m", self.cost_m, "edge", non_negative=True)
        # edge geometries are built on first use: a loaded network keeps its vertex arrays
        # until something (snapping, to_gdfs) needs shapely objects
        self._geometry = None if geometry is None else np.asarray(geometry, dtype=object)
        if self._geometry is not None and len(self._geometry) != m:
            raise InputError(
                f"geometry must have one line per edge (got {len(self._geometry)} for {m} edges)"
            )
        self._geom_parts: tuple[np.ndarray, np.ndarray] | None = None
        self.osmid = (
            np.arange(n, dtype=np.int64) if osmid is None else np.asarray(osmid, dtype=np.int64)
        )
        self.kind = (
            np.full(m, "walk", dtype=object) if kind is None else np.asarray(kind, dtype=object)
        )
        if len(self.osmid) != n or len(self.kind) != m:
            raise InputError(
                f"osmid must have one value per node and kind one per edge (got "
                f"{len(self.osmid)} for {n} nodes, {len(self.kind)} for {m} edges)"
            )
        if kind is not None and m:
            unknown = sorted(set(pd.unique(self.kind).tolist()) - set(EDGE_KINDS), key=str)
            if unknown:
                raise InputError(
                    f"unknown edge kind(s) {unknown}; kind must be one of {list(EDGE_KINDS)}"
                )
        self.meta = dict(meta or {})
        if "crs" not in self.meta:
            self.meta["crs"] = self.crs.to_string()
        self.meta["n_nodes"] = n
        self.meta["n_edges"] = m

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        x: ArrayLike,
        y: ArrayLike,
        u: ArrayLike,
        v: ArrayLike,
        length_m: ArrayLike,
        crs: Any,
        **kwargs: Any,
    ) -> WalkNetwork:
        """Build a network from plain arrays (for callers who bring their own graph).

        See the class docstring for the parameters.
        """
        return cls(x, y, u, v, length_m, crs, **kwargs)

    @classmethod
    def from_osm(
        cls,
        path: str | os.PathLike,
        *,
        rules: WalkRules | dict | str | os.PathLike | None = None,
        crs: Any = None,
        boundary: Any = None,
        boundary_crs: Any = 4326,
        buffer_m: float = 500.0,
        keep: str = "largest",
        missing_nodes: str = "drop",
        walk_speed_kmh: float | None = None,
    ) -> WalkNetwork:
        """Build the walk network of an OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``).

        Parameters
        ----------
        path : str or path-like
            The OSM extract.
        rules : WalkRules, dict, or path of a TOML file, optional
            Walk rules (see :class:`~lifecircle_geo.network.rules.WalkRules`): a dict or TOML
            file changes only the rules it names; default: the documented defaults.
        crs : optional
            Target CRS: None or ``"utm"`` for the local UTM zone of the data's centre, or any
            EPSG code / CRS, e.g. 4549 (CGCS2000 3-degree Gauss-Kruger, 120°E).
        boundary : shapely geometry, GeoSeries or GeoDataFrame, optional
            Keep only ways within this area (buffered by ``buffer_m`` so walks that leave and
            re-enter the area are kept).
        boundary_crs : optional
            CRS of a plain shapely ``boundary`` (GeoSeries/GeoDataFrame carry their own).
        buffer_m : float
            Buffer around ``boundary``, in metres.
        keep : {"largest", "all"}
            Keep only the largest connected component (dropped islands are reported in
            ``meta["dropped_islands"]``), or every component.
        missing_nodes : {"drop", "raise"}
            Ways referencing nodes the file lacks (extracts cut at a boundary) are split there
            and counted in ``meta["missing_node_refs"]`` (``"drop"``), or refused (``"raise"``).
        walk_speed_kmh : float, optional
            The speed at which ferry and boarding waits become equivalent metres of
            ``cost_m`` (default ``settings.walk_speed_kmh``); recorded in
            ``meta["walk_speed_kmh"]``. Build at the profile's speed:
            :func:`lifecircle_geo.analyze` warns when the two differ.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            Missing or unreadable file, broken references, no walkable way, or a boundary that
            does not overlap the data.

        Examples
        --------
        >>> net = WalkNetwork.from_osm("data/sample/sample.osm")  # doctest: +SKIP
        >>> net.crs.to_epsg()  # doctest: +SKIP
        32651
        """
        t0 = time.perf_counter()
        if keep not in ("largest", "all"):
            raise ValueError(f"keep={keep!r}; expected 'largest' or 'all'")
        speed = settings.walk_speed_kmh if walk_speed_kmh is None else float(walk_speed_kmh)
        if not np.isfinite(speed) or speed <= 0:
            raise NetworkError(f"walk_speed_kmh must be a positive number, got {walk_speed_kmh!r}")
        rules = WalkRules.coerce(rules)
        raw = read_walk_ways(path, rules, missing_nodes=missing_nodes)
        if raw.n_ways == 0:
            raise NetworkError(f"{path}: no walkable way in this file (dropped: {raw.dropped})")
        clip_meta = {}
        if boundary is not None:
            raw = _clip(raw, boundary, boundary_crs, buffer_m, path)
            if raw.n_ways == 0:
                raise NetworkError(
                    f"{path}: the boundary (buffered by {buffer_m:g} m) holds no "
                    f"walkable way, only single points of ways"
                )
            bounds = _as_wgs84_geometry(boundary, boundary_crs).bounds
            clip_meta = {
                "boundary_bounds_wgs84": [round(b, 6) for b in bounds],
                "boundary_buffer_m": buffer_m,
            }
        meta = file_provenance(Path(path))
        meta.update(clip_meta)
        meta.update(
            osm_timestamp=raw.timestamp,
            osm_header_timestamp=raw.header_timestamp,
            dropped_ways=raw.dropped,
            missing_node_refs=raw.missing_nodes,
        )
        return cls._from_raw(raw, rules, crs, keep, meta, t0, speed)

    @classmethod
    def _from_raw(
        cls,
        raw: RawWays,
        rules: WalkRules,
        crs: Any,
        keep: str,
        meta: dict,
        t0: float,
        walk_speed_kmh: float | None = None,
    ) -> WalkNetwork:
        speed = settings.walk_speed_kmh if walk_speed_kmh is None else walk_speed_kmh
        target = lc_crs.resolve_crs(crs)
        if target is None:
            target = lc_crs.local_utm_crs(
                float(np.mean([raw.lon.min(), raw.lon.max()])),
                float(np.mean([raw.lat.min(), raw.lat.max()])),
            )
        walk_m_per_min = speed * 1000.0 / 60.0
        stats: dict = {}
        g = assemble(
            raw,
            target,
            steps_factor=rules.steps_factor,
            ferry_wait_m=rules.ferry_wait_min * walk_m_per_min,
            ferry_cost_factor=speed / rules.ferry_speed_kmh,
            stats=stats,
        )
        g, n_loops, n_dup = drop_duplicates(g)
        if n_loops or n_dup:  # dropping may leave nodes with two edges: merge again
            g, n_merged = merge_chains(g)
            stats["through_nodes_merged"] += n_merged
            if n_merged:
                g, loops2, dup2 = drop_duplicates(g)
                n_loops, n_dup = n_loops + loops2, n_dup + dup2
        g, n_split = split_parallels(g)
        g, islands = keep_components(g, keep)
        if len(g.u) == 0:
            raise NetworkError(
                f"{meta.get('source_file', 'source')}: no walkable edge left "
                f"after building the graph"
            )
        to_ll = Transformer.from_crs(target, 4326, always_xy=True)
        for isl in islands:
            isl["lon"], isl["lat"] = (float(c) for c in to_ll.transform(isl["x_m"], isl["y_m"]))
        meta.update(
            built_with=f"lifecircle_geo {_version()}",
            rules=rules.to_dict(),
            walk_speed_kmh=speed,
            crs=target.to_string(),
            crs_epsg=target.to_epsg(),
            n_ways_read=raw.n_ways,
            n_way_vertices=raw.n_vertices,
            duplicate_segments_dropped=stats["duplicate_segments_dropped"],
            through_nodes_merged=stats["through_nodes_merged"],
            degenerate_loops_dropped=n_loops,
            duplicate_edges_dropped=n_dup,
            parallel_edges_split=n_split,
            n_split_nodes=int((g.osmid < 0).sum()),
            total_length_m=float(g.length_m.sum()),
            n_islands_dropped=len(islands),
            island_nodes_dropped=sum(i["n_nodes"] for i in islands),
            island_length_m_dropped=float(sum(i["length_m"] for i in islands)),
            dropped_islands=islands,
            build_seconds=round(time.perf_counter() - t0, 3),
        )
        if islands:
            log.info(
                "kept the largest component; dropped %d islands (%d nodes, %.0f m)",
                len(islands),
                meta["island_nodes_dropped"],
                meta["island_length_m_dropped"],
            )
        return cls(
            g.x_m,
            g.y_m,
            g.u,
            g.v,
            g.length_m,
            target,
            geometry=g.geometry,
            cost_m=g.cost_m,
            osmid=g.osmid,
            kind=g.kind,
            meta=meta,
        )

    @classmethod
    def from_osmnx(cls, G: nx.MultiDiGraph, crs: Any = None) -> WalkNetwork:
        """Build a network from an osmnx/networkx MultiDiGraph (projected or not).

        Node attributes ``x``/``y`` are used; edges get their ``length`` (or geometry length
        in the projected CRS); both directions are walkable. An edge tagged ``route=ferry``
        (when the graph kept the ``route`` tag) becomes a ``ferry`` edge, which points are not
        snapped to (:data:`SNAP_KINDS`); its cost stays its length (no boarding wait: build
        from the OSM file with :meth:`from_osm` for ferry costs).
        """
        import osmnx as ox

        graph_crs = CRS.from_user_input(G.graph.get("crs", 4326))
        if not graph_crs.is_projected or crs is not None:
            target = lc_crs.resolve_crs(crs)
            G = ox.project_graph(G, to_crs=target) if target else ox.project_graph(G)
        nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True)
        osmid = nodes.index.to_numpy()
        pos = pd.Series(np.arange(len(nodes)), index=nodes.index)
        edges = edges.reset_index()
        u = pos.loc[edges["u"]].to_numpy()
        v = pos.loc[edges["v"]].to_numpy()
        geom = edges.geometry.to_numpy()
        g = GraphArrays(
            nodes["x"].to_numpy(float),
            nodes["y"].to_numpy(float),
            osmid.astype(np.int64),
            u,
            v,
            shapely.length(geom),
            shapely.length(geom),
            geom,
            _osmnx_kinds(edges),
        )
        g, n_loops, n_dup = drop_duplicates(g)
        g, n_split = split_parallels(g)
        return cls(
            g.x_m,
            g.y_m,
            g.u,
            g.v,
            g.length_m,
            nodes.crs,
            geometry=g.geometry,
            osmid=g.osmid,
            kind=g.kind,
            meta={
                "source": "osmnx graph",
                "duplicate_edges_dropped": n_dup,
                "degenerate_loops_dropped": n_loops,
                "parallel_edges_split": n_split,
            },
        )

    @classmethod
    def from_polygon(
        cls,
        polygon: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame,
        polygon_crs: Any = 4326,
        *,
        crs: Any = None,
        rules: WalkRules | dict | str | os.PathLike | None = None,
        keep: str = "largest",
    ) -> WalkNetwork:
        """Download the walk network inside ``polygon`` through osmnx (cached), when online.

        Every way with a ``highway`` tag and every ``route=ferry`` way is downloaded with
        osmnx (its request cache lives in ``settings.cache_folder``), keeping the tags the walk
        rules read, and saved there as OSM XML; that file is then parsed with the same walk
        rules as :meth:`from_osm` (so the rules, not osmnx's ``"walk"`` filter, decide). A
        second call for the same polygon reads the saved file and needs no network. osmnx's
        global settings are restored afterwards.

        Raises
        ------
        NetworkError
            When the download fails (the machine is offline, say) and nothing is cached.
        """
        import hashlib

        import osmnx as ox

        poly = _as_wgs84_geometry(polygon, polygon_crs)
        cache = Path(settings.cache_folder)
        cache.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(shapely.to_wkb(poly)).hexdigest()[:16]
        osm_path = cache / f"osm-highways-{name}.osm"
        if not osm_path.exists():
            saved = {
                k: getattr(ox.settings, k)
                for k in ("all_oneway", "useful_tags_way", "use_cache", "cache_folder")
            }
            try:
                # one edge per OSM segment in its mapped direction (what the XML writer needs),
                # and the tags the walk rules read kept on the edges
                ox.settings.all_oneway = True
                ox.settings.useful_tags_way = sorted(
                    set(saved["useful_tags_way"]) | set(WalkRules.tag_keys) | {"name"}
                )
                ox.settings.use_cache = True
                ox.settings.cache_folder = str(cache / "osmnx")
                try:
                    G = ox.graph_from_polygon(
                        poly,
                        network_type="all",
                        simplify=False,
                        retain_all=True,
                        truncate_by_edge=True,
                        custom_filter=['["highway"]', '["route"="ferry"]'],
                    )
                except Exception as exc:  # osmnx raises several kinds for network failures
                    raise NetworkError(
                        f"could not download OSM data for the polygon ({type(exc).__name__}: "
                        f"{exc}); is the machine offline? Nothing is cached at {osm_path}. "
                        f"Use WalkNetwork.from_osm with a local extract instead."
                    ) from None
                tmp = osm_path.with_name(osm_path.name + ".part")
                ox.io.save_graph_xml(G, filepath=tmp)
                os.replace(tmp, osm_path)
            finally:
                for k, value in saved.items():
                    setattr(ox.settings, k, value)
        return cls.from_osm(osm_path, rules=rules, crs=crs, keep=keep)

    @classmethod
    def from_place(
        cls,
        name: str,
        *,
        crs: Any = None,
        rules: WalkRules | dict | str | os.PathLike | None = None,
        keep: str = "largest",
    ) -> WalkNetwork:
        """Download the walk network of a named place (geocoded by osmnx), when online.

        Examples
        --------
        >>> net = WalkNetwork.from_place("曹杨新村街道, 普陀区, 上海市")  # doctest: +SKIP
        """
        import osmnx as ox

        try:
            gdf = ox.geocode_to_gdf(name)
        except Exception as exc:
            raise NetworkError(
                f"could not geocode {name!r} ({type(exc).__name__}: {exc}); is the machine "
                f"offline? Pass a polygon or a local OSM file instead."
            ) from None
        return cls.from_polygon(gdf.geometry.iloc[0], 4326, crs=crs, rules=rules, keep=keep)

    # ------------------------------------------------------------------ properties
    @property
    def crs(self) -> CRS:
        """The projected CRS of the coordinates (a :class:`pyproj.CRS`)."""
        if self._crs is None:
            self._crs = CRS.from_wkt(self._crs_wkt)
        return self._crs

    @property
    def geometry(self) -> np.ndarray:
        """Edge geometries (shapely LineStrings from ``u`` to ``v``), an object array."""
        if self._geometry is None:
            if self._geom_parts is not None:
                xy, offsets = self._geom_parts
                counts = np.diff(offsets)
                self._geometry = shapely.linestrings(
                    xy, indices=np.repeat(np.arange(len(counts)), counts)
                )
            else:
                self._geometry = shapely.linestrings(
                    np.stack(
                        [
                            np.column_stack([self.x_m[self.u], self.y_m[self.u]]),
                            np.column_stack([self.x_m[self.v], self.y_m[self.v]]),
                        ],
                        axis=1,
                    )
                )
        return self._geometry

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x_m)

    @property
    def n_edges(self) -> int:
        """Number of (undirected) edges."""
        return len(self.u)

    @cached_property
    def nodes(self) -> gpd.GeoDataFrame:
        """Nodes as a GeoDataFrame: positional index, ``x``, ``y`` (metres), ``osmid``."""
        return gpd.GeoDataFrame(
            {"x": self.x_m, "y": self.y_m, "osmid": self.osmid},
            geometry=shapely.points(self.x_m, self.y_m),
            crs=self.crs,
        )

    @cached_property
    def edges(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame: ``u``, ``v``, ``length_m``, ``cost_m``, ``kind``, geometry."""
        return gpd.GeoDataFrame(
            {
                "u": self.u,
                "v": self.v,
                "length_m": self.length_m,
                "cost_m": self.cost_m,
                "kind": self.kind,
            },
            geometry=self.geometry,
            crs=self.crs,
        )

    @cached_property
    def csr(self) -> csr_matrix:
        """Symmetric sparse adjacency (n × n) weighted by ``cost_m``."""
        n = self.n_nodes
        rows = np.concatenate([self.u, self.v])
        cols = np.concatenate([self.v, self.u])
        data = np.concatenate([self.cost_m, self.cost_m])
        keep = rows != cols
        rows, cols, data = rows[keep], cols[keep], data[keep]
        # parallel edges (possible in graphs brought by callers): the cheapest counts
        order = np.lexsort((data, cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return csr_matrix((data[first], (rows[first], cols[first])), shape=(n, n))

    @cached_property
    def snappable(self) -> np.ndarray:
        """Per edge, whether points snap to it: its ``kind`` is in :data:`SNAP_KINDS`.

        Examples
        --------
        >>> net = WalkNetwork.from_arrays([0, 100, 400], [0, 0, 0], [0, 1], [1, 2],
        ...                               [100.0, 300.0], crs=32651, kind=["walk", "ferry"])
        >>> net.snappable.tolist()
        [True, False]
        """
        return np.asarray(pd.Series(self.kind, dtype=object).isin(SNAP_KINDS).to_numpy(bool))

    def dropped_island_near(self, xy: ArrayLike, snap_m: ArrayLike) -> np.ndarray:
        """For each point, the dropped island (if any) that is nearer than its snapped street.

        A facility standing on an island the build dropped (``meta["dropped_islands"]``: a
        park's own paths, a pier cut off by a missing bridge) snaps to the nearest kept
        street, perhaps hundreds of metres across water. This says which points that is.

        Parameters
        ----------
        xy : (n, 2) array-like of float
            Points in the network's CRS.
        snap_m : array-like of float
            Each point's distance to the street it snapped to (``Snap.snap_m``).

        Returns
        -------
        ndarray of int64
            Position in ``meta["dropped_islands"]`` of the nearest such island, -1 where none
            is nearer than the snapped street (and for networks without island records).

        Examples
        --------
        >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
        >>> net.meta["dropped_islands"] = [{"x_m": 50.0, "y_m": 400.0, "radius_m": 30.0}]
        >>> net.dropped_island_near([[50, 400], [50, 5]], [400.0, 5.0]).tolist()
        [0, -1]
        """
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        snap = np.asarray(snap_m, dtype=np.float64).ravel()
        out = np.full(len(pts), -1, dtype=np.int64)
        islands = self.meta.get("dropped_islands") or []
        if not islands or not len(pts):
            return out
        ix = np.array([i["x_m"] for i in islands])
        iy = np.array([i["y_m"] for i in islands])
        ir = np.array([i.get("radius_m", 0.0) for i in islands])
        d = np.hypot(pts[:, 0, None] - ix[None, :], pts[:, 1, None] - iy[None, :]) - ir[None, :]
        d = np.maximum(d, 0.0)
        best = np.argmin(d, axis=1)
        nearer = d[np.arange(len(pts)), best] < snap
        out[nearer] = best[nearer]
        return out

    @cached_property
    def street_nodes(self) -> np.ndarray:
        """Per node, whether it lies on a snappable edge (:attr:`snappable`).

        A node that only ferry edges touch (a ferry's mid-river stop, a pier no path reaches)
        is not a place to put residents or a new facility; a pier joined to a street is.

        Examples
        --------
        >>> net = WalkNetwork.from_arrays([0, 100, 400], [0, 0, 0], [0, 1], [1, 2],
        ...                               [100.0, 300.0], crs=32651, kind=["walk", "ferry"])
        >>> net.street_nodes.tolist()
        [True, True, False]
        """
        out = np.zeros(self.n_nodes, dtype=bool)
        out[self.u[self.snappable]] = True
        out[self.v[self.snappable]] = True
        return out

    @cached_property
    def _snap_edges(self) -> np.ndarray:
        """Positions of the snappable edges (the STR tree's items, in tree order)."""
        return np.flatnonzero(self.snappable)

    @cached_property
    def _tree(self) -> shapely.STRtree:
        # only the edges points may snap to: tree item i is edge self._snap_edges[i]
        return shapely.STRtree(self.geometry[self._snap_edges])

    def to_gdfs(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """``(nodes, edges)`` GeoDataFrames."""
        return self.nodes, self.edges

    def to_networkx(self, weight: str = "length") -> nx.Graph:
        """Convert to an undirected networkx Graph.

        Nodes carry ``x``/``y``; edges carry their cost (``cost_m``) under ``weight``.
        """
        import networkx as nx

        G = nx.Graph(crs=self.crs.to_string())
        G.add_nodes_from(
            (i, {"x": x, "y": y})
            for i, (x, y) in enumerate(zip(self.x_m.tolist(), self.y_m.tolist(), strict=True))
        )
        G.add_weighted_edges_from(
            zip(self.u.tolist(), self.v.tolist(), self.cost_m.tolist(), strict=True), weight=weight
        )
        return G

    def __repr__(self) -> str:
        """Summarise nodes, edges, length and CRS."""
        return (
            f"WalkNetwork({self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{self.length_m.sum() / 1000:.1f} km, crs={self.crs.to_string()})"
        )

    # ------------------------------------------------------------------ snapping
    def snap(
        self,
        points: gpd.GeoSeries | gpd.GeoDataFrame | ArrayLike,
        max_snap_m: float | None = None,
        points_crs: Any = None,
    ) -> Snap:
        """Project points onto their nearest street edge (never onto a ferry).

        Only edges whose ``kind`` is in :data:`SNAP_KINDS` are candidates (every kind but
        ``ferry``): a point beside a ferry line goes to the nearest street, and the ferry is
        boarded at its piers (its end nodes) on the way there. The search runs on an STR tree
        over those edges only, built once per network.

        Parameters
        ----------
        points : GeoSeries, GeoDataFrame, array of shapely geometries, or (n, 2) array
            In the network's CRS unless they carry another CRS (or ``points_crs`` says one).
            A polygon or line is snapped through one representative point inside it
            (``point_on_surface``); to snap a park or school through its entrances or its
            boundary, pass those points instead (as :func:`lifecircle_geo.analyze` does).
        max_snap_m : float, optional
            Farther points are flagged ``ok=False`` with a ``reason``; default
            ``settings.max_snap_m``.
        points_crs : optional
            CRS of plain coordinates or shapely geometries.

        Returns
        -------
        Snap
            One row per point: ``edge`` (position in :attr:`edges`, always a snappable one),
            ``along_m`` (distance from the edge's ``u`` end along its geometry), ``snap_m``
            (perpendicular distance), ``x``/``y`` of the snapped point, ``ok`` and ``reason``
            (``.to_frame()`` gives a DataFrame). Every input row is there: a point that is not
            snapped has ``ok=False`` and says why (beyond ``max_snap_m``, empty or missing
            geometry, coordinates that are not finite, no snappable edge at all).

        Examples
        --------
        >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
        >>> s = net.snap(np.array([[30.0, 4.0]]))
        >>> float(s.along_m[0]), float(s.snap_m[0])
        (30.0, 4.0)
        """
        max_snap_m = settings.max_snap_m if max_snap_m is None else float(max_snap_m)
        pts = _as_points(points, self.crs, points_crs)
        n = len(pts)
        edge = np.full(n, -1, dtype=np.int64)
        along_m = np.full(n, np.nan)
        snap_m = np.full(n, np.inf)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        ok = np.zeros(n, dtype=bool)
        reason = np.full(n, "", dtype=object)
        if n == 0:
            return Snap(edge, along_m, snap_m, x, y, ok, reason)
        missing = shapely.is_missing(pts) | shapely.is_empty(pts)
        xy = shapely.get_coordinates(np.where(missing, None, pts), include_z=False)
        finite = np.ones(n, dtype=bool)
        finite[~missing] = np.isfinite(xy).all(axis=1)
        valid = ~missing & finite
        vpos, idx_tree, along, snapped, dist, glen = self._snap_points(pts, np.flatnonzero(valid))
        edge[vpos] = idx_tree
        # along the geometry, rescaled to the edge's length_m (equal for OSM-built networks)
        scale = np.divide(self.length_m[idx_tree], glen, out=np.ones_like(glen), where=glen > 0)
        # clamped: the rescaling may round a point at a node a hair past the edge's end,
        # which would make its walk to that end negative
        along_m[vpos] = np.clip(along * scale, 0.0, self.length_m[idx_tree])
        snap_m[vpos] = dist
        x[vpos] = shapely.get_x(snapped)
        y[vpos] = shapely.get_y(snapped)
        ok[vpos] = dist <= max_snap_m
        reason[missing] = "empty or missing geometry"
        reason[~missing & ~finite] = "coordinates are not finite (NaN or inf)"
        if len(self._snap_edges) == 0:
            reason[valid] = f"the network has no edge of a snappable kind {sorted(SNAP_KINDS)}"
        far = vpos[dist > max_snap_m]
        reason[far] = [
            f"nearest street {d:.0f} m away > max_snap_m={max_snap_m:g}"
            for d in dist[dist > max_snap_m]
        ]
        return Snap(edge, along_m, snap_m, x, y, ok, reason)

    def _snap_points(self, pts: np.ndarray, rows: np.ndarray) -> _Snapped:
        """Nearest snappable edge of the points ``pts[rows]`` and where on it they fall.

        Returns the rows snapped, their edges, the distance along each edge's geometry, the
        snapped points, the distance to them and the geometries' lengths. Many points are
        split among threads (:data:`SNAP_POINTS_PER_THREAD` each at least; the tree search
        and the projections release the GIL); each point's answer is the same either way.
        """
        tree = self._tree

        def part(r: np.ndarray) -> _Snapped:
            idx_in, idx_item = tree.query_nearest(pts[r], all_matches=False)
            idx_tree = self._snap_edges[idx_item]
            vpos = r[idx_in]
            geoms = self.geometry[idx_tree]
            p = pts[vpos]
            along = shapely.line_locate_point(geoms, p)
            snapped = shapely.line_interpolate_point(geoms, along)
            dist = shapely.distance(p, snapped)
            return vpos, idx_tree, along, snapped, dist, shapely.length(geoms)

        jobs = min(os.cpu_count() or 1, len(rows) // SNAP_POINTS_PER_THREAD)
        if jobs <= 1:
            return part(rows)
        tree.query_nearest(pts[rows[:1]], all_matches=False)  # built before threads share it
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(part, np.array_split(rows, jobs)))
        vpos, idx_tree, along, snapped, dist, glen = (
            np.concatenate([q[k] for q in parts]) for k in range(6)
        )
        return vpos, idx_tree, along, snapped, dist, glen

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Save to a versioned ``.npz`` file (arrays + JSON metadata), written atomically.

        The file is written under a temporary name and renamed, so a failed save never leaves a
        half-written network. A path without ``.npz`` gets it appended.

        Format version 1 (:data:`FORMAT_VERSION`), an uncompressed NumPy ``.npz`` archive:

        ================  ================  ==============================================
        array             dtype, shape      meaning
        ================  ================  ==============================================
        ``x_m, y_m``      float64 (n,)      node coordinates in the CRS, metres
        ``osmid``         int64 (n,)        OSM node id; negative for nodes added to split
                                            parallel edges
        ``u, v``          int64 (m,)        edge end nodes (positions 0..n-1)
        ``length_m``      float64 (m,)      edge length (= length of its geometry)
        ``cost_m``        float64 (m,)      walking cost in equivalent metres
        ``kind``          <U8 (m,)          ``walk``, ``steps``, ``area`` or ``ferry``
        ``geom_xy``       float64 (k, 2)    edge vertices, edge after edge, ``u`` to ``v``
        ``geom_offsets``  int64 (m + 1,)    edge ``i`` has vertices
                                            ``geom_xy[geom_offsets[i]:geom_offsets[i + 1]]``
        ``meta``          0-d str           JSON: ``format`` (``"lifecircle_geo.WalkNetwork"``),
                                            ``format_version``, ``crs_wkt`` and the
                                            provenance (:attr:`meta`)
        ================  ================  ==============================================

        Loading reads the arrays only; edge geometries are built when first needed, which is
        what makes :meth:`load` many times faster than parsing OSM
        (``benchmarks/network.py`` measures it).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
            )
        if self._geometry is None and self._geom_parts is not None:
            coords, offsets = self._geom_parts
        else:
            coords = shapely.get_coordinates(self.geometry)
            offsets = np.concatenate([[0], np.cumsum(shapely.get_num_coordinates(self.geometry))])
        meta = dict(
            self.meta, format=_FORMAT_NAME, format_version=FORMAT_VERSION, crs_wkt=self.crs.to_wkt()
        )
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                x_m=self.x_m,
                y_m=self.y_m,
                osmid=self.osmid,
                u=self.u,
                v=self.v,
                length_m=self.length_m,
                cost_m=self.cost_m,
                kind=self.kind.astype("U8"),
                geom_xy=coords,
                geom_offsets=offsets,
                meta=np.array(json.dumps(meta, ensure_ascii=False, default=str)),
            )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> WalkNetwork:
        """Load a network written by :meth:`save`.

        Raises
        ------
        InputError
            For a missing file, a file that is not a saved network, another format version
            (naming both versions), or a damaged one (arrays that do not fit together).

        Examples
        --------
        >>> import tempfile, os
        >>> net = WalkNetwork.from_arrays([0, 100], [0, 0], [0], [1], [100.0], crs=32651)
        >>> p = net.save(os.path.join(tempfile.mkdtemp(), "net.npz"))
        >>> WalkNetwork.load(p).n_edges
        1
        """
        path = Path(path)
        if not path.exists():
            raise InputError(f"saved network {path} does not exist")
        try:
            data = np.load(path, allow_pickle=False)
            meta = json.loads(str(data["meta"]))
        except Exception as exc:
            raise InputError(f"{path} is not a saved WalkNetwork ({exc})") from None
        if meta.get("format") != _FORMAT_NAME:
            raise InputError(f"{path} is not a saved WalkNetwork (format={meta.get('format')!r})")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise InputError(
                f"{path} has WalkNetwork format version {version}; this lifecircle_geo reads "
                f"version {FORMAT_VERSION}. Rebuild it from the OSM source."
            )
        try:
            offsets = data["geom_offsets"]
            xy = data["geom_xy"]
            n_edges = len(data["u"])
            if len(offsets) != n_edges + 1 or offsets[-1] != len(xy):
                raise ValueError("geom_offsets do not match geom_xy and the edges")
            crs = _SavedCRS(meta.pop("crs_wkt"))
            for k in ("format", "format_version"):
                meta.pop(k)
            net = cls(
                data["x_m"],
                data["y_m"],
                data["u"],
                data["v"],
                data["length_m"],
                crs,
                cost_m=data["cost_m"],
                osmid=data["osmid"],
                kind=_decode_kind(data["kind"]),
                meta=meta,
            )
        except (KeyError, ValueError) as exc:
            raise InputError(f"{path}: a damaged saved WalkNetwork ({exc})") from None
        net._geom_parts = (xy, offsets)
        return net


# ---------------------------------------------------------------------- helpers
class _SavedCRS:
    """The WKT of a saved network's CRS, parsed when the network first needs it."""

    def __init__(self, wkt: str) -> None:
        if not isinstance(wkt, str) or not wkt:
            raise ValueError("crs_wkt is missing")
        self.wkt = wkt


def _version() -> str:
    from .._version import __version__

    return __version__


def _osmnx_kinds(edges: pd.DataFrame) -> np.ndarray:
    """Edge kinds of an osmnx edge table: ``ferry`` where ``route`` says so, else ``walk``."""
    kind = np.full(len(edges), "walk", dtype=object)
    if "route" in edges.columns:
        route = edges["route"].map(lambda r: "ferry" in r if isinstance(r, list) else r == "ferry")
        kind[route.to_numpy(bool)] = "ferry"
    return kind


def _decode_kind(kind: np.ndarray) -> np.ndarray:
    """Fixed-width strings to an object array, fast for the known kinds (one str object each)."""
    names = EDGE_KINDS
    out = np.empty(len(kind), dtype=object)
    done = np.zeros(len(kind), dtype=bool)
    for name in names:
        hit = kind == name
        out[hit] = name
        done |= hit
    if not done.all():
        out[~done] = kind[~done].astype(object)
    return out


def _as_wgs84_geometry(
    geom: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame, geom_crs: Any
) -> shapely.Geometry:
    if isinstance(geom, (gpd.GeoDataFrame, gpd.GeoSeries)):
        gs = geom.geometry if isinstance(geom, gpd.GeoDataFrame) else geom
        if gs.crs is None:
            raise InputError("boundary GeoDataFrame/GeoSeries has no CRS")
        return shapely.union_all(gs.to_crs(4326).to_numpy())
    if not isinstance(geom, shapely.Geometry):
        raise InputError(
            f"boundary should be a shapely geometry or GeoDataFrame, got {type(geom).__name__}"
        )
    return gpd.GeoSeries([geom], crs=geom_crs).to_crs(4326).iloc[0]


def _clip(
    raw: RawWays,
    boundary: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame,
    boundary_crs: Any,
    buffer_m: float,
    path: str | os.PathLike,
    area: shapely.Geometry | None = None,
) -> RawWays:
    """Ways within ``boundary`` plus ``buffer_m`` (or within ``area``, that buffer already made)."""
    poly = _as_wgs84_geometry(boundary, boundary_crs)
    if area is None:
        c = poly.centroid
        utm = lc_crs.local_utm_crs(c.x, c.y)
        area = gpd.GeoSeries([poly], crs=4326).to_crs(utm).buffer(buffer_m).to_crs(4326).iloc[0]
    inside = shapely.contains_xy(area, raw.lon, raw.lat)
    if not inside.any():
        b = raw.lon.min(), raw.lat.min(), raw.lon.max(), raw.lat.max()
        raise NetworkError(
            f"{path}: the boundary (bounds {tuple(round(x, 4) for x in poly.bounds)}) does not "
            f"overlap the data (bounds {tuple(round(float(x), 4) for x in b)})"
        )
    # runs of consecutive inside vertices of the same way become ways of their own
    new_run = np.ones(len(inside), dtype=bool)
    new_run[1:] = (raw.way[1:] != raw.way[:-1]) | (inside[1:] != inside[:-1])
    run = np.cumsum(new_run) - 1
    run_sizes = np.bincount(run, weights=inside.astype(float))
    keep = inside & (run_sizes[run] >= 2)
    run_k = run[keep]
    _, new_way = np.unique(run_k, return_inverse=True)
    first_vertex = np.flatnonzero(keep)[np.searchsorted(run_k, np.unique(run_k))]
    kinds = [raw.kind[w] for w in raw.way[first_vertex]]
    return dataclasses.replace(
        raw,
        ref=raw.ref[keep],
        way=new_way,
        lon=raw.lon[keep],
        lat=raw.lat[keep],
        kind=kinds,
        way_osmid=raw.way_osmid[raw.way[first_vertex]],
    )


def _as_points(
    points: gpd.GeoSeries | gpd.GeoDataFrame | ArrayLike, target_crs: CRS, points_crs: Any = None
) -> np.ndarray:
    if isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)):
        gs = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if gs.crs is not None and CRS.from_user_input(gs.crs) != target_crs:
            gs = gs.to_crs(target_crs)
        geoms = gs.to_numpy()
    else:
        arr = np.asarray(points)
        if arr.dtype == object:
            geoms = arr
        else:
            arr = arr.reshape(-1, 2).astype(float)
            geoms = shapely.points(arr[:, 0], arr[:, 1])
        if points_crs is not None:
            geoms = gpd.GeoSeries(geoms, crs=points_crs).to_crs(target_crs).to_numpy()
    # polygons and lines snap through their nearest point to the network elsewhere;
    # here every geometry is reduced to a point
    geoms = np.asarray(geoms, dtype=object)
    kinds = shapely.get_type_id(geoms)
    other = (kinds > 0) & ~shapely.is_empty(geoms)
    if other.any():
        geoms = geoms.copy()
        geoms[other] = shapely.point_on_surface(geoms[other])
    return geoms
