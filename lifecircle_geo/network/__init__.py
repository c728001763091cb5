"""Pedestrian networks from OpenStreetMap: reading, walk rules, simplification, snapping.

>>> from lifecircle_geo.network import WalkNetwork, WalkRules
"""

from .osmxml import osmnx_way_filter, write_osm_xml
from .rules import WalkRules
from .walknetwork import FORMAT_VERSION, WalkNetwork

__all__ = ["FORMAT_VERSION", "WalkNetwork", "WalkRules", "osmnx_way_filter", "write_osm_xml"]
