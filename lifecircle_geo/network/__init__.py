"""Pedestrian networks from OpenStreetMap: reading, walk rules, simplification, snapping.

>>> from lifecircle_geo.network import WalkNetwork, WalkRules
"""

from .osmxml import osmnx_way_filter, write_osm_xml
from .rules import WalkRules
from .walknetwork import EDGE_KINDS, FORMAT_VERSION, SNAP_KINDS, WalkNetwork

__all__ = [
    "EDGE_KINDS",
    "FORMAT_VERSION",
    "SNAP_KINDS",
    "WalkNetwork",
    "WalkRules",
    "osmnx_way_filter",
    "write_osm_xml",
]
