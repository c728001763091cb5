"""Walk rules for Chinese cities, as data: which OSM ways a pedestrian may use.

The defaults follow osmnx's ``network_type="walk"`` filter where that suits Shanghai, and differ
where Chinese street data needs it:

* ``highway=motorway`` and ``motorway_link`` are never walkable (expressways, 快速路).
* Elevated roads (高架): ``trunk``/``trunk_link`` with ``bridge=yes`` and ``layer >= 1`` carry
  no pedestrians, even when no ``foot`` tag says so; so does any way tagged ``motorroad=yes``.
  Ground-level trunk and primary roads have sidewalks in Shanghai and stay walkable, and so do
  primary-road bridges over rivers (``bridge=yes`` on ``primary`` is usually a river crossing).
* ``sidewalk=no`` on a trunk or primary road (no ``foot=yes``) means there is no place to walk.
* ``foot=no``, and ``access=private``/``no`` without a ``foot`` permission, exclude a way.
* ``foot=yes``/``designated``/``permissive`` include a way whose highway class is otherwise
  excluded (e.g. a cycleway open to pedestrians), except motorways.
* Steps are walkable (``steps_factor`` can make them count longer, e.g. for elderly runs).
* Pedestrian areas (``highway=pedestrian`` + ``area=yes``): their outline is walkable and their
  entry points are joined by straight walks across the square where the line stays inside.
* Ferries (``route=ferry`` with ``foot=yes`` or no foot tag, e.g. the Huangpu river ferries)
  are walkable links whose cost is the crossing at ``ferry_speed_kmh`` plus a boarding wait of
  ``ferry_wait_min`` minutes, converted to equivalent walking metres.

Examples
--------
>>> rules = WalkRules()
>>> rules.classify({"highway": "footway"})
'walk'
>>> rules.classify({"highway": "trunk", "bridge": "yes", "layer": "1"}) is None
True
>>> rules.why_not({"highway": "residential", "access": "private"})
'access=private'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["WalkRules"]

_WALKABLE = (
    "footway", "path", "pedestrian", "steps", "living_street", "residential", "service",
    "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
    "primary_link", "trunk", "trunk_link", "track", "corridor", "road", "crossing",
)
_NEVER = ("motorway", "motorway_link")
_YES = ("yes", "designated", "permissive", "official")


@dataclass
class WalkRules:
    """Which OSM ways are walkable, and how ferries and steps are costed.

    Attributes
    ----------
    walkable_highways : tuple of str
        ``highway`` values walkable by default.
    never_walkable : tuple of str
        ``highway`` values excluded even with ``foot=yes``.
    elevated_highways : tuple of str
        Classes that are elevated roads (no pedestrians) when ``bridge=yes`` and ``layer >= 1``.
    no_sidewalk_excludes : tuple of str
        Classes excluded when tagged ``sidewalk=no`` (and no ``foot=yes``).
    private_access : tuple of str
        ``access`` values that exclude a way unless ``foot`` permits it.
    ferry : bool
        Whether ``route=ferry`` ways open to pedestrians are used.
    ferry_wait_min : float
        Boarding wait added to each ferry crossing, in minutes.
    ferry_speed_kmh : float
        Ferry speed used for the crossing time.
    steps_factor : float
        Multiplier of the cost of steps (1.0: steps count as their length).
    pedestrian_areas : bool
        Whether pedestrian squares (``area=yes``) are walkable and crossed.
    """

    walkable_highways: tuple[str, ...] = _WALKABLE
    never_walkable: tuple[str, ...] = _NEVER
    elevated_highways: tuple[str, ...] = ("trunk", "trunk_link")
    no_sidewalk_excludes: tuple[str, ...] = ("trunk", "trunk_link", "primary", "primary_link")
    private_access: tuple[str, ...] = ("private", "no", "customers", "delivery")
    ferry: bool = True
    ferry_wait_min: float = 10.0
    ferry_speed_kmh: float = 10.0
    steps_factor: float = 1.0
    pedestrian_areas: bool = True
    excluded_service: tuple[str, ...] = field(default=("private",))

    def why_not(self, tags: dict[str, str]) -> str | None:
        """Why a way is not walkable (a short tag text), or None when it is."""
        highway = tags.get("highway")
        foot = tags.get("foot", "")
        if highway is None:
            if tags.get("route") == "ferry":
                if not self.ferry:
                    return "route=ferry (ferries off)"
                return "foot=no" if foot == "no" else None
            return "no highway tag"
        if highway in self.never_walkable:
            return f"highway={highway}"
        if foot == "no" or foot == "use_sidepath":
            return f"foot={foot}"
        foot_ok = foot in _YES
        if highway not in self.walkable_highways and not foot_ok:
            return f"highway={highway}"
        if tags.get("area") == "yes" and highway != "pedestrian":
            return "area=yes"
        if tags.get("area") == "yes" and not self.pedestrian_areas:
            return "area=yes (pedestrian areas off)"
        if not foot_ok:
            access = tags.get("access", "")
            if access in self.private_access:
                return f"access={access}"
            if tags.get("service") in self.excluded_service:
                return f"service={tags['service']}"
            if tags.get("motorroad") == "yes":
                return "motorroad=yes"
            if highway in self.elevated_highways and tags.get("bridge", "no") not in ("no", ""):
                if _layer(tags) >= 1:
                    return f"elevated highway={highway} (bridge, layer>=1)"
            if highway in self.no_sidewalk_excludes and tags.get("sidewalk") == "no":
                return f"highway={highway} with sidewalk=no"
        return None

    def classify(self, tags: dict[str, str]) -> str | None:
        """Kind of walkable way: ``"walk"``, ``"steps"``, ``"area"``, ``"ferry"``; None if not."""
        if self.why_not(tags) is not None:
            return None
        highway = tags.get("highway")
        if highway is None:
            return "ferry"
        if highway == "steps":
            return "steps"
        if tags.get("area") == "yes":
            return "area"
        return "walk"

    def to_dict(self) -> dict:
        """The rules as a plain dict (recorded in a network's provenance)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> WalkRules:
        """Rules from a dict such as :meth:`to_dict` returns (unknown keys are an error)."""
        known = set(cls.__dataclass_fields__)
        bad = set(data) - known
        if bad:
            raise ValueError(f"unknown walk rule(s) {sorted(bad)}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _layer(tags: dict[str, str]) -> float:
    try:
        return float(tags.get("layer", "0").split(";")[0])
    except ValueError:
        return 1.0
