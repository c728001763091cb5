"""Walk rules for Chinese cities, as data: which OSM ways a pedestrian may use.

A :class:`WalkRules` is plain data (a dataclass): every default below can be changed by passing
other rules to :meth:`WalkNetwork.from_osm <lifecircle_geo.network.WalkNetwork.from_osm>`
(a ``WalkRules``, a dict of the fields to change, or a TOML file, see :meth:`WalkRules.from_toml`),
and the rules used are recorded in the network's provenance (``net.meta["rules"]``).

The defaults start from osmnx's ``network_type="walk"`` filter and differ where Shanghai's
streets and Chinese OSM data need it. Each default and its reason:

* **Walkable classes** (``walkable_highways``): footways, paths, pedestrian streets, steps,
  living streets, residential, service, unclassified, tertiary, secondary, primary and trunk
  roads, their links, tracks and corridors. Shanghai's ground-level arterials (primary, trunk)
  carry sidewalks, and residents walk along them to reach services, so they stay walkable.
* **Never walkable** (``never_walkable``): ``motorway`` and ``motorway_link`` (expressways,
  快速路/高速), even with ``foot=yes`` (which on a motorway is a tagging error).
* **Elevated roads** (高架, ``elevated_highways``): ``trunk``/``trunk_link`` with ``bridge=*`` and
  ``layer >= elevated_min_layer`` (1) carry no pedestrians even when no ``foot=no`` is mapped:
  in OSM, Shanghai's elevated roads (e.g. the Yan'an and North-South elevated roads around
  People's Square) are trunk roads on bridges. So does any way tagged ``motorroad=yes``.
  Ground-level trunk roads, and ``primary`` bridges (usually river crossings with sidewalks),
  stay walkable. Trade-offs: a short trunk river bridge with ``layer=1`` and no ``foot`` tag is
  dropped too (add ``foot=yes`` in the data, or remove the class from ``elevated_highways``);
  a trunk bridge with no ``layer`` tag counts as layer 0 (OSM's default) and is kept, which
  matters for extracts written by tools that strip tags (osmnx's XML writer keeps no
  ``layer``): set ``elevated_min_layer = 0`` to treat every trunk bridge as elevated.
* **No sidewalk** (``no_sidewalk_excludes``): ``sidewalk=no`` on a trunk or primary road
  without ``foot=yes`` means there is no place to walk beside fast traffic. On smaller streets
  people walk on the carriageway, so ``sidewalk=no`` does not exclude them.
* **Foot overrides**: ``foot=no`` (and ``foot=use_sidepath``) exclude a way;
  ``foot=yes/designated/permissive/official`` include a way of a class that is otherwise not
  walkable (a cycleway or bridleway open to pedestrians) and override the access rules below.
* **Access** (``private_access``): ``access=private/no/customers/delivery`` without a foot
  permission excludes a way; residents cannot walk through gated compounds (小区) whose internal
  roads are mapped as private. ``service=private`` (``excluded_service``) likewise.
* **Steps** are walkable; ``steps_factor`` (default 1.0) makes them count longer, e.g. 1.5-2
  for an elderly profile.
* **Pedestrian areas** (``highway=pedestrian`` + ``area=yes``, squares such as 人民广场): the
  outline is walkable and the entry points are joined by straight walks across the square where
  the straight line stays inside it (``pedestrian_areas``). Other ``area=yes`` highways (parking
  areas, footway areas) are excluded, as in osmnx.
* **Ferries** (``ferry``): ``route=ferry`` ways without ``foot=no`` (the Huangpu river ferries,
  黄浦江轮渡, carry pedestrians) are walkable links. Their cost is the crossing at
  ``ferry_speed_kmh`` (10 km/h, an assumption) plus a boarding wait of ``ferry_wait_min``
  minutes (10, an assumption: about half a headway plus boarding; set it from the timetable of
  the lines in your area), both turned into equivalent walking metres at the walk speed. Each
  ferry edge (pier to pier) carries one wait.
* **Separately mapped sidewalks**: unlike osmnx (which drops a street tagged
  ``sidewalk=separate``), the street is kept: separately mapped sidewalks in Chinese data are
  rare and often not joined to the rest of the network, so dropping the street would cut it.

Examples
--------
>>> rules = WalkRules()
>>> rules.classify({"highway": "footway"})
'walk'
>>> rules.classify({"highway": "trunk", "bridge": "yes", "layer": "1"}) is None
True
>>> rules.why_not({"highway": "residential", "access": "private"})
'access=private'
>>> WalkRules.coerce({"ferry_wait_min": 15}).ferry_wait_min
15
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from ..errors import InputError

__all__ = ["WalkRules"]

_WALKABLE = (
    "footway",
    "path",
    "pedestrian",
    "steps",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "trunk",
    "trunk_link",
    "track",
    "corridor",
    "road",
    "crossing",
)
_NEVER = ("motorway", "motorway_link")
_YES = ("yes", "designated", "permissive", "official")


@dataclass
class WalkRules:
    """Which OSM ways are walkable, and how ferries and steps are costed.

    See the module docstring for each default and its reason.

    Attributes
    ----------
    walkable_highways : tuple of str
        ``highway`` values walkable by default.
    never_walkable : tuple of str
        ``highway`` values excluded even with ``foot=yes``.
    elevated_highways : tuple of str
        Classes that are elevated roads (no pedestrians) when ``bridge=*`` and
        ``layer >= elevated_min_layer``.
    elevated_min_layer : float
        Lowest ``layer`` of an elevated road (a missing ``layer`` counts as 0).
    no_sidewalk_excludes : tuple of str
        Classes excluded when tagged ``sidewalk=no`` (and no ``foot=yes``).
    private_access : tuple of str
        ``access`` values that exclude a way unless ``foot`` permits it.
    ferry : bool
        Whether ``route=ferry`` ways open to pedestrians are used.
    ferry_wait_min : float
        Boarding wait added to each ferry crossing (pier to pier), in minutes.
    ferry_speed_kmh : float
        Ferry speed used for the crossing time.
    steps_factor : float
        Multiplier of the cost of steps (1.0: steps count as their length).
    pedestrian_areas : bool
        Whether pedestrian squares (``area=yes``) are walkable and crossed.
    excluded_service : tuple of str
        ``service`` values that exclude a way unless ``foot`` permits it.
    """

    #: the OSM tag keys :meth:`why_not` reads (the reader fetches only these)
    tag_keys: ClassVar[tuple[str, ...]] = (
        "highway",
        "route",
        "foot",
        "area",
        "access",
        "service",
        "motorroad",
        "bridge",
        "layer",
        "sidewalk",
    )

    walkable_highways: tuple[str, ...] = _WALKABLE
    never_walkable: tuple[str, ...] = _NEVER
    elevated_highways: tuple[str, ...] = ("trunk", "trunk_link")
    elevated_min_layer: float = 1.0
    no_sidewalk_excludes: tuple[str, ...] = ("trunk", "trunk_link", "primary", "primary_link")
    private_access: tuple[str, ...] = ("private", "no", "customers", "delivery")
    ferry: bool = True
    ferry_wait_min: float = 10.0
    ferry_speed_kmh: float = 10.0
    steps_factor: float = 1.0
    pedestrian_areas: bool = True
    excluded_service: tuple[str, ...] = field(default=("private",))

    def __post_init__(self) -> None:
        """Check every rule's type and range; lists become tuples."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type.startswith("tuple"):
                if isinstance(value, str) or not all(isinstance(x, str) for x in value):
                    raise InputError(f"walk rule {f.name} must be a list of strings, got {value!r}")
                object.__setattr__(self, f.name, tuple(value))
            elif f.type == "bool":
                if not isinstance(value, bool):
                    raise InputError(f"walk rule {f.name} must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"walk rule {f.name} must be a number, got {value!r}")
        if self.ferry_speed_kmh <= 0:
            raise InputError(f"walk rule ferry_speed_kmh must be > 0, got {self.ferry_speed_kmh}")
        if self.ferry_wait_min < 0 or self.steps_factor <= 0:
            raise InputError(
                "walk rules ferry_wait_min must be >= 0 and steps_factor > 0 "
                f"(got {self.ferry_wait_min}, {self.steps_factor})"
            )

    def why_not(self, tags: dict[str, str]) -> str | None:
        """Why a way is not walkable (a short tag text), or None when it is."""
        highway = tags.get("highway")
        foot = tags.get("foot") or ""
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
            access = tags.get("access") or ""
            if access in self.private_access:
                return f"access={access}"
            if tags.get("service") in self.excluded_service:
                return f"service={tags['service']}"
            if tags.get("motorroad") == "yes":
                return "motorroad=yes"
            if highway in self.elevated_highways and tags.get("bridge", "no") not in ("no", ""):
                if _layer(tags) >= self.elevated_min_layer:
                    return (
                        f"elevated highway={highway} (bridge, layer>={self.elevated_min_layer:g})"
                    )
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

    # ------------------------------------------------------------------ as data
    def to_dict(self) -> dict:
        """Return the rules as a plain dict (recorded in a network's provenance)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(
        cls, data: dict, *, base: WalkRules | None = None, source: str = "walk rules"
    ) -> WalkRules:
        """Rules from a dict such as :meth:`to_dict` returns; missing keys keep the defaults.

        Parameters
        ----------
        data : dict
            Fields to set (unknown keys are an error naming them and the known ones).
        base : WalkRules, optional
            Rules whose values the missing keys keep (default: the defaults).
        source : str
            Where the dict came from, for error messages.

        Raises
        ------
        InputError
            For an unknown key or a value of the wrong type.
        """
        known = {f.name for f in fields(cls)}
        bad = set(data) - known
        if bad:
            raise InputError(
                f"{source}: unknown walk rule(s) {sorted(bad)}; known: {sorted(known)}"
            )
        values = asdict(base) if base is not None else {}
        values.update({k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> WalkRules:
        """Rules from a TOML file: top-level keys, or a ``[walk_rules]`` table.

        Keys not in the file keep their defaults, so a file may change one rule only::

            # shanghai-elderly.toml
            [walk_rules]
            steps_factor = 2.0
            ferry_wait_min = 15
            private_access = ["private", "no"]

        Raises
        ------
        InputError
            For a missing or malformed file, or an unknown key (naming the file).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "rules.toml"
        >>> _ = p.write_text("steps_factor = 2.0")
        >>> WalkRules.from_toml(p).steps_factor
        2.0
        """
        p = Path(path)
        if not p.is_file():
            raise InputError(f"walk rules file {p} does not exist")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"walk rules file {p} is not valid TOML ({exc})") from None
        if "walk_rules" in data:
            extra = set(data) - {"walk_rules"}
            if extra:
                raise InputError(
                    f"{p}: unexpected top-level keys {sorted(extra)} beside [walk_rules]"
                )
            data = data["walk_rules"]
        return cls.from_dict(data, source=str(p))

    def to_toml(self) -> str:
        """Return the rules as TOML text (a ``[walk_rules]`` table).

        :meth:`from_toml` reads it back.
        """
        lines = ["[walk_rules]"]
        for k, v in self.to_dict().items():
            if isinstance(v, list):
                lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
            elif isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            else:
                lines.append(f"{k} = {float(v)!r}")
        return "\n".join(lines) + "\n"

    @classmethod
    def coerce(cls, rules: WalkRules | dict | str | os.PathLike | None) -> WalkRules:
        """Rules from what a caller passes: None (defaults), a WalkRules, a dict, a TOML path."""
        if rules is None:
            return cls()
        if isinstance(rules, WalkRules):
            return rules
        if isinstance(rules, dict):
            return cls.from_dict(rules)
        if isinstance(rules, (str, os.PathLike)):
            return cls.from_toml(rules)
        raise InputError(
            f"rules should be a WalkRules, a dict or a TOML file path, got {type(rules).__name__}"
        )


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _layer(tags: dict[str, str]) -> float:
    try:
        return float((tags.get("layer") or "0").split(";")[0])
    except ValueError:
        return 1.0
