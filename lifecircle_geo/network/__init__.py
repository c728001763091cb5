"""Pedestrian networks from OpenStreetMap: reading, walk rules, simplification, snapping.

>>> from lifecircle_geo.network import WalkNetwork, WalkRules
"""

from .rules import WalkRules
from .walknetwork import FORMAT_VERSION, WalkNetwork

__all__ = ["FORMAT_VERSION", "WalkNetwork", "WalkRules"]
