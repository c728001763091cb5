"""Write the walkable (or any selected) ways of an OSM extract as a self-contained OSM file.

Used to hand the same data to other tools: osmnx reads OSM XML only and builds an edge from
*every* way in the file (``osmnx.graph_from_xml`` applies no network filter), so comparing
with osmnx means writing an XML file that holds just the ways a rule set keeps. The file is
*referentially complete*: ways are split where they reference a node the source lacks (as
:func:`~lifecircle_geo.network.osm.read_walk_ways` does), and every node a way uses is written.

Examples
--------
>>> from lifecircle_geo.network.osmxml import osmnx_way_filter
>>> keep = osmnx_way_filter("walk")
>>> keep({"highway": "footway"}), keep({"highway": "cycleway"})
(True, False)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import NetworkError
from .osm import check_osm_path
from .rules import WalkRules

__all__ = ["osmnx_way_filter", "write_osm_xml"]

# osmnx 2.x's "walk" filter, used when osmnx cannot be asked for its own
_OSMNX_WALK_FILTER = (
    '["highway"]["area"!~"yes"]["access"!~"private"]'
    '["highway"!~"abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|'
    'proposed|raceway|razed|rest_area|services"]'
    '["foot"!~"no"]["service"!~"private"]'
    '["sidewalk"!~"separate"]["sidewalk:both"!~"separate"]'
    '["sidewalk:left"!~"separate"]["sidewalk:right"!~"separate"]'
)
_CONDITION = re.compile(r'\["([^"]+)"(?:(!?~|!?=)"([^"]*)")?\]')


def osmnx_way_filter(network_type: str = "walk") -> Callable[[dict[str, str]], bool]:
    """Build a way-tag predicate equal to the Overpass filter osmnx uses for ``network_type``.

    The filter string comes from the installed osmnx (its private ``_get_network_filter``),
    falling back to osmnx 2.x's ``"walk"`` filter; each ``["key"]``, ``["key"!~"regex"]``,
    ``["key"~"regex"]``, ``["key"="value"]`` and ``["key"!="value"]`` condition is applied as
    Overpass does (regular expressions match anywhere in the value).

    Parameters
    ----------
    network_type : str
        An osmnx network type: ``"walk"``, ``"all"``, ``"drive"``...

    Returns
    -------
    callable
        ``keep(tags) -> bool``.
    """
    try:
        from osmnx import _overpass

        text = _overpass._get_network_filter(network_type)
    except Exception:  # osmnx missing or its private API changed
        if network_type != "walk":
            raise
        text = _OSMNX_WALK_FILTER
    conditions = [
        (k, op, re.compile(val) if "~" in op else val) for k, op, val in _CONDITION.findall(text)
    ]
    if not conditions:
        raise ValueError(f"could not parse osmnx's {network_type!r} filter: {text!r}")

    def keep(tags: dict[str, str]) -> bool:
        for key, op, val in conditions:
            value = tags.get(key)
            if op == "":
                if value is None:
                    return False
            elif op == "!~":
                if value is not None and val.search(value):
                    return False
            elif op == "~":
                if value is None or not val.search(value):
                    return False
            elif op == "=":
                if value != val:
                    return False
            elif op == "!=" and value == val:
                return False
        return True

    return keep


def write_osm_xml(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    keep: Callable[[dict[str, str]], bool] | WalkRules | None = None,
) -> dict:
    """Write the ways of ``src`` that ``keep`` accepts, and their nodes, to ``dst``.

    Parameters
    ----------
    src : str or path-like
        Any OSM file the reader accepts (``.osm``, ``.osm.bz2``, ``.osm.pbf``...).
    dst : str or path-like
        Output; the format follows the suffix (``.osm`` XML, ``.osm.pbf``...). Written under a
        temporary name and renamed.
    keep : callable or WalkRules, optional
        ``keep(tags) -> bool`` for each way with a ``highway`` or ``route`` tag; a
        :class:`WalkRules` keeps its walkable ways; default: the default walk rules.

    Returns
    -------
    dict
        ``ways`` (written, after splitting), ``nodes`` and ``missing_node_refs`` (dropped).

    Notes
    -----
    Kept ways are held in memory until the nodes are written (an OSM file lists nodes first),
    which suits extracts of a district or a city, not a continent. A way split at a missing
    node keeps its id for the first piece; later pieces get new ids above the largest way id.
    """
    import osmium

    p = check_osm_path(src)
    out = Path(dst)
    if keep is None:
        keep = WalkRules()
    if isinstance(keep, WalkRules):
        rules = keep

        def keep(tags: dict[str, str]) -> bool:
            return rules.why_not(tags) is None

    ways: list[tuple[int, list[int], dict[str, str]]] = []
    locations: dict[int, tuple[float, float]] = {}
    missing = 0
    max_id = 0
    processor = (
        osmium.FileProcessor(str(p))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway", "route"))
    )
    pieces: list[tuple[int, list[int], dict[str, str]]] = []
    try:
        for obj in processor:
            max_id = max(max_id, obj.id)
            tags = dict(obj.tags)
            if not keep(tags):
                continue
            run: list[tuple[int, float, float]] = []
            runs = [run]
            for nr in obj.nodes:
                loc = nr.location
                if loc.valid():
                    run.append((nr.ref, loc.lon, loc.lat))
                else:
                    missing += 1
                    run = []
                    runs.append(run)
            good = [r for r in runs if len(r) >= 2]
            for r in good:
                locations.update((ref, (lon, lat)) for ref, lon, lat in r)
            good_refs = [[ref for ref, _, _ in r] for r in good]
            if good_refs:
                ways.append((obj.id, good_refs[0], tags))
                pieces.extend((-1, r, tags) for r in good_refs[1:])
    except (RuntimeError, ValueError, OSError) as exc:
        raise NetworkError(f"{p}: could not be read as OSM data ({exc})") from None
    for k, (_, refs, tags) in enumerate(pieces):
        ways.append((max_id + 1 + k, refs, tags))
    tmp = out.with_name(out.name + ".part")
    fmt = "pbf" if out.name.endswith(".pbf") else "osm"
    writer = osmium.SimpleWriter(osmium.io.File(str(tmp), fmt), overwrite=True)
    try:
        node_cls, way_cls = osmium.osm.mutable.Node, osmium.osm.mutable.Way
        for ref in sorted(locations):
            writer.add_node(node_cls(id=ref, location=locations[ref], version=1))
        for wid, refs, tags in sorted(ways, key=lambda w: w[0]):
            writer.add_way(way_cls(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    os.replace(tmp, out)
    return {"ways": len(ways), "nodes": len(locations), "missing_node_refs": missing}
