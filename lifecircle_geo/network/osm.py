"""Streaming OSM reader for walkable ways: ``.osm``, ``.osm.bz2``, ``.osm.gz`` and ``.osm.pbf``.

One reader serves every format: pyosmium (libosmium) streams XML, compressed XML and PBF with a
node-location index, so no document is held in memory and no second pass is needed. pyosmium
was chosen over pyrosm by measurement (``benchmarks/network.py`` runs pyrosm's network reader as
a peer): it reads PBF and XML alike, and yields node ids and locations without building
GeoDataFrames first.
"""

from __future__ import annotations

import hashlib
import logging
import os
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NetworkError
from .rules import WalkRules

if TYPE_CHECKING:
    import osmium.io

log = logging.getLogger(__name__)

__all__ = ["OSM_SUFFIXES", "RawWays", "check_osm_path", "file_provenance", "read_walk_ways"]

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".xml", ".osm.xml")


@dataclass
class RawWays:
    """Walkable ways as flat arrays: one row per way vertex.

    Attributes
    ----------
    ref : ndarray of int64
        OSM node id of each vertex.
    way : ndarray of int64
        Position (0..n_ways-1) of the way each vertex belongs to; vertices of a way are
        consecutive and in way order.
    lon, lat : ndarray of float64
        WGS-84 coordinates of each vertex.
    kind : list of str
        Per way: ``"walk"``, ``"steps"``, ``"area"`` or ``"ferry"``.
    way_osmid : ndarray of int64
        OSM id of each way.
    dropped : dict of str to int
        Ways seen with a ``highway`` or ``route`` tag but not walkable, counted by reason.
    timestamp : str or None
        Newest timestamp of the walkable ways read (ISO 8601), as the data's age.
    missing_nodes : int
        Way vertices dropped because their node is not in the file.
    header_timestamp : str or None
        The file header's replication timestamp, when the file has one (Geofabrik extracts do).
    """

    ref: np.ndarray
    way: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    kind: list[str]
    way_osmid: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)
    timestamp: str | None = None
    missing_nodes: int = 0
    header_timestamp: str | None = None

    @property
    def n_ways(self) -> int:
        """Number of ways."""
        return len(self.kind)

    @property
    def n_vertices(self) -> int:
        """Number of way vertices."""
        return len(self.ref)


def check_osm_path(path: str | os.PathLike) -> Path:
    """Check that ``path`` exists and names an OSM file type; return it as a Path.

    Raises
    ------
    NetworkError
        When the file is missing, empty or of an unknown type.
    """
    p = Path(path)
    if not p.exists():
        raise NetworkError(f"OSM file {p} does not exist")
    if p.is_dir():
        raise NetworkError(f"OSM path {p} is a folder, expected a .osm, .osm.bz2 or .osm.pbf file")
    name = p.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        raise NetworkError(f"{p}: unknown file type; expected one of {', '.join(OSM_SUFFIXES)}")
    if p.stat().st_size == 0:
        raise NetworkError(f"OSM file {p} is empty")
    _check_content(p, name)
    return p


#: what a file's first bytes say it is, and the name ending that format needs
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data", ".osm.gz"),
    (b"BZh", "bzip2-compressed data", ".osm.bz2"),
)


def _sniff(head: bytes) -> tuple[str, str] | None:
    """Say what the first bytes of a file show: (what, suffix), or None when nothing."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return what, suffix
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "plain XML", ".osm"
    if b"OSMHeader" in head[:32]:
        return "PBF data", ".osm.pbf"
    return None


def _check_content(p: Path, name: str) -> None:
    """Refuse a file whose content contradicts its name (gzip named .osm, XML named .bz2)."""
    with p.open("rb") as fh:
        head = fh.read(64)
    seen = _sniff(head)
    if seen is None:
        return  # unknown content: the reader says what is wrong with it
    what, suffix = seen
    if name.endswith(".gz"):
        expected = ".osm.gz"
    elif name.endswith(".bz2"):
        expected = ".osm.bz2"
    elif name.endswith(".pbf"):
        expected = ".osm.pbf"
    else:
        expected = ".osm"
    if expected != suffix:
        raise NetworkError(
            f"{p}: the file holds {what} but its name ends in {p.suffix!r}, which says "
            f"{_SUFFIX_SAYS[expected]}; rename it to end in {suffix!r} (the reader picks the "
            f"format by the name)"
        )


_SUFFIX_SAYS = {
    ".osm.gz": "gzip-compressed XML",
    ".osm.bz2": "bzip2-compressed XML",
    ".osm.pbf": "PBF",
    ".osm": "plain XML",
}


def file_provenance(path: Path) -> dict:
    """Name, size and SHA-256 of a source file, for a network's provenance record."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {
        "source_file": str(path.resolve()),
        "source_size_bytes": path.stat().st_size,
        "source_sha256": h.hexdigest(),
    }


def read_walk_ways(
    path: str | os.PathLike, rules: WalkRules | None = None, missing_nodes: str = "drop"
) -> RawWays:
    """Read the walkable ways of an OSM file in one streaming pass.

    Parameters
    ----------
    path : str or path-like
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    rules : WalkRules, optional
        Which ways are walkable; defaults to :class:`WalkRules()`.
    missing_nodes : {"drop", "raise"}
        What to do with a way vertex whose node is not in the file, as in extracts cut at a
        boundary: ``"drop"`` splits the way there and counts it (``RawWays.missing_nodes``, and
        a warning); ``"raise"`` stops with an error naming the way and the node.

    Returns
    -------
    RawWays

    Raises
    ------
    NetworkError
        For a missing, unreadable or truncated file, or (``missing_nodes="raise"``) a way that
        references a node the file does not hold.

    Notes
    -----
    Only the tag keys the rules read (:attr:`WalkRules.tag_keys`) are fetched, and each
    distinct combination of their values is classified once. Node locations come as libosmium's
    fixed-point integers (1e-7 degrees) and are converted in bulk.
    """
    import osmium

    p = check_osm_path(path)
    rules = rules or WalkRules()
    if missing_nodes not in ("drop", "raise"):
        raise ValueError(f"missing_nodes={missing_nodes!r}; expected 'drop' or 'raise'")
    keys = rules.tag_keys
    i_highway, i_route = keys.index("highway"), keys.index("route")
    cache: dict[tuple, tuple[str | None, str | None]] = {}
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    n_vert: list[int] = []
    kinds: list[str] = []
    way_ids: list[int] = []
    dropped: dict[str, int] = {}
    newest = None
    # XML (hand-edited, merged by hand) may define a node twice; the location index then keeps
    # one definition depending on the file, so XML inputs stream their node ids too and are
    # checked (cheap next to XML parsing). PBF files are written by tools that keep ids unique
    # and are not checked: streaming every node through Python would triple their read time.
    check_nodes = not p.name.lower().endswith(".pbf")
    node_ids = array("q")  # compact: 8 bytes a node, not a Python int object
    node_xs = array("q")
    node_ys = array("q")
    processor = osmium.FileProcessor(str(p)).with_locations()
    if check_nodes:
        processor = processor.with_filter(
            osmium.filter.EntityFilter(osmium.osm.WAY | osmium.osm.NODE)
        )
    else:
        processor = processor.with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)).with_filter(
            osmium.filter.KeyFilter("highway", "route")
        )
    r_app, x_app, y_app = refs.append, xs.append, ys.append
    try:
        header_ts = _header_timestamp(processor.header)
        for obj in processor:
            if check_nodes:
                if obj.is_node():
                    loc = obj.location
                    node_ids.append(obj.id)
                    node_xs.append(loc.x)
                    node_ys.append(loc.y)
                    continue
                if "highway" not in obj.tags and "route" not in obj.tags:
                    continue
            tg = obj.tags
            key = tuple([tg.get(k) for k in keys])
            verdict = cache.get(key)
            if verdict is None:
                tags = {k: v for k, v in zip(keys, key, strict=True) if v is not None}
                reason = rules.why_not(tags)
                verdict = cache[key] = (reason, rules.classify(tags) if reason is None else None)
            reason, kind = verdict
            if reason is not None:
                if key[i_highway] is not None or key[i_route] == "ferry":
                    dropped[reason] = dropped.get(reason, 0) + 1
                continue
            nodes = obj.nodes
            if len(nodes) < 2:
                dropped["fewer than 2 nodes"] = dropped.get("fewer than 2 nodes", 0) + 1
                continue
            for nr in nodes:
                loc = nr.location
                r_app(nr.ref)
                x_app(loc.x)
                y_app(loc.y)
            n_vert.append(len(nodes))
            kinds.append(kind)
            way_ids.append(obj.id)
            ts = obj.timestamp
            if newest is None or ts > newest:
                newest = ts
    except osmium.InvalidLocationError as exc:
        raise NetworkError(f"{p}: {_bad_location_text(p, exc)}") from None
    except (RuntimeError, ValueError, OSError) as exc:  # libosmium reports bad data this way
        raise NetworkError(f"{p}: could not be read as OSM data ({exc})") from None
    if check_nodes:
        _check_duplicate_nodes(p, node_ids, node_xs, node_ys)
    ref = np.asarray(refs, dtype=np.int64)
    x = np.asarray(xs, dtype=np.int64)
    y = np.asarray(ys, dtype=np.int64)
    counts = np.asarray(n_vert, dtype=np.int64)
    way = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    kind_arr = np.asarray(kinds, dtype=object)
    osmid = np.asarray(way_ids, dtype=np.int64)
    invalid = (x == _UNDEFINED) | (y == _UNDEFINED)
    missing = int(invalid.sum())
    if missing:
        first_bad = int(np.argmax(invalid))
        if missing_nodes == "raise":
            raise NetworkError(
                f"{p}: way {osmid[way[first_bad]]} references node {ref[first_bad]}, which the "
                f"file does not hold (a cut or broken extract; {missing} such references in "
                f"all). Pass missing_nodes='drop' to split ways there and go on."
            )
        ref, x, y, way, kind_arr, osmid = _split_at_missing(
            ref, x, y, way, kind_arr, osmid, invalid
        )
        log.warning(
            "%s: %d way vertices reference nodes missing from the file (a cut "
            "extract?); the ways were split there",
            p.name,
            missing,
        )
    out = (np.abs(x) > 180 * _PRECISION) | (np.abs(y) > 90 * _PRECISION)
    if out.any():
        i = np.flatnonzero(out)
        first = int(i[0])
        raise NetworkError(
            f"{p}: node {ref[first]} (in way {osmid[way[first]]}) has "
            f"lon={x[first] / _PRECISION:g}, lat={y[first] / _PRECISION:g}, "
            f"outside |lon| <= 180, |lat| <= 90 "
            f"({len(np.unique(ref[i]))} such node(s) in all)"
        )
    if newest is not None and newest.year <= 1970:
        newest = None  # files without metadata report the epoch
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    log.info(
        "%s: %d walkable ways, %d vertices; dropped %s", p.name, len(kind_arr), len(ref), dropped
    )
    return RawWays(
        ref=ref,
        way=way,
        lon=x / _PRECISION,
        lat=y / _PRECISION,
        kind=kind_arr.tolist(),
        way_osmid=osmid,
        dropped=dropped,
        timestamp=newest.isoformat() if isinstance(newest, datetime) else None,
        missing_nodes=missing,
        header_timestamp=header_ts,
    )


_UNDEFINED = 2147483647  # libosmium's undefined coordinate
_PRECISION = 10_000_000.0  # libosmium stores degrees × 1e7 as integers


def _header_timestamp(header: osmium.io.Header) -> str | None:
    for k in ("osmosis_replication_timestamp", "timestamp"):
        value = header.get(k)
        if value:
            return value
    return None


def _split_at_missing(
    ref: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    way: np.ndarray,
    kind: np.ndarray,
    osmid: np.ndarray,
    invalid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop vertices whose node is missing; a way continues as a new way after each gap."""
    n = len(ref)
    start = np.ones(n, dtype=bool)
    start[1:] = (way[1:] != way[:-1]) | invalid[:-1]
    keep = ~invalid
    run = (np.cumsum(start) - 1)[keep]
    sizes = np.bincount(run)
    ok = sizes[run] >= 2
    run = run[ok]
    idx = np.flatnonzero(keep)[ok]
    runs, new_way = np.unique(run, return_inverse=True)
    first = idx[np.searchsorted(run, runs)]
    return (ref[idx], x[idx], y[idx], new_way.astype(np.int64), kind[way[first]], osmid[way[first]])


def _bad_location_text(p: Path, exc: Exception) -> str:
    """Say which node holds a coordinate libosmium cannot parse (it names no node or file)."""
    import bz2
    import gzip
    import re

    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(p.suffix.lower(), open)
    node = re.compile(rb"<node\b[^>]*>")
    attr = re.compile(rb'\b(id|lat|lon)\s*=\s*["\']([^"\']*)["\']')
    try:
        with opener(p, "rb") as fh:
            for line in fh:
                for tag in node.findall(line):
                    a = {k.decode(): v.decode("utf-8", "replace") for k, v in attr.findall(tag)}
                    for key, limit in (("lat", 90.0), ("lon", 180.0)):
                        try:
                            ok = abs(float(a.get(key, ""))) <= limit
                        except ValueError:
                            ok = False
                        if not ok:
                            return (
                                f"node {a.get('id', '?')} has {key}={a.get(key)!r}, not a "
                                f"coordinate in decimal degrees (|lon| <= 180, |lat| <= 90)"
                            )
    except (OSError, EOFError, ValueError):
        pass
    return f"a node coordinate could not be read ({exc})"


def _check_duplicate_nodes(p: Path, ids: array, xs: array, ys: array) -> None:
    """Refuse node ids defined twice at different places; repeats at the same place are kept.

    Rule: a node defined twice with the same coordinates (two extracts concatenated) is one
    node, said once at INFO; defined at different coordinates it is refused, because which
    definition the ways use depends on the file.
    """
    if not ids:
        return
    a = np.frombuffer(ids, dtype=np.int64)
    order = np.argsort(a, kind="stable")
    s = a[order]
    rep = np.flatnonzero(s[1:] == s[:-1])
    if not len(rep):
        return
    x = np.frombuffer(xs, dtype=np.int64)[order]
    y = np.frombuffer(ys, dtype=np.int64)[order]
    differ = rep[(x[rep] != x[rep + 1]) | (y[rep] != y[rep + 1])]
    if len(differ):
        shown = "; ".join(
            f"node {s[i]} at ({x[i] / _PRECISION:g}, {y[i] / _PRECISION:g}) and "
            f"({x[i + 1] / _PRECISION:g}, {y[i + 1] / _PRECISION:g})"
            for i in differ[:5]
        )
        raise NetworkError(
            f"{p}: {len(np.unique(s[differ]))} node id(s) defined more than once at different "
            f"places: {shown}; which definition a way uses would depend on the file, so it is "
            f"refused: keep one definition of each node (osmium merge / osmium sort do)"
        )
    log.info(
        "%s: %d node id(s) defined more than once at the same place (e.g. node %d); "
        "each is read as one node",
        p.name,
        len(np.unique(s[rep])),
        int(s[rep[0]]),
    )
