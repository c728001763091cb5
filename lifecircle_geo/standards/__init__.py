"""Standards profiles: 十全十美 service categories, facility types, tiers and thresholds, as data.

A profile is a TOML file. The built-in ones live beside this module (``shanghai-2025``); a
planner passes the path of their own file, or overrides some keys of a built-in one. Every file is
validated on load, and an error names the file, the key and what was expected.

Examples
--------
>>> from lifecircle_geo.standards import load_profile
>>> p = load_profile("shanghai-2025")
>>> p.category("kindergarten").threshold_m()
300.0
>>> p.category("health").name_zh
'医疗卫生'
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ProfileError

__all__ = [
    "AREA_TYPES",
    "Category",
    "Profile",
    "list_profiles",
    "load_profile",
]

AREA_TYPES = ("中心城", "新城", "新市镇", "乡村")
GROUPS = ("十全", "十美")
CLASSES = ("基础保障", "品质提升", "特色塑造")
CLASS_EN = {"基础保障": "basic guarantee", "品质提升": "quality raising", "特色塑造": "character shaping"}
TIERS_MIN = (5, 10, 15)


@dataclass(frozen=True)
class Category:
    """One service category of a profile (e.g. 医疗卫生, health care).

    Attributes
    ----------
    id : str
        Short ASCII identifier used in tables and file names.
    name_zh, name_en : str
        Chinese and English names.
    group : str
        ``"十全"`` (guaranteed basic services) or ``"十美"`` (quality and character services).
    class_zh : str
        ``"基础保障"``, ``"品质提升"`` or ``"特色塑造"``.
    tier_min : int
        Walking tier in minutes: 5, 10 or 15.
    thresholds_m : dict of str to float
        Walking distance per area type (中心城, 新城, 新市镇, 乡村).
    target_share : float
        Share of residents (0..1) that should be within the threshold.
    facility_types : tuple of str
        Facility types counted in this category.
    osm_rules, name_rules, amap_rules : tuple of dict
        Matching rules for OSM tags, Chinese names and Amap types (see ``facilities``).
    sources : dict of str to str
        Where each number comes from, or ``"assumption"``.
    """

    id: str
    name_zh: str
    name_en: str
    group: str
    class_zh: str
    tier_min: int
    thresholds_m: dict[str, float]
    target_share: float
    facility_types: tuple[str, ...] = ()
    osm_rules: tuple[dict, ...] = ()
    name_rules: tuple[dict, ...] = ()
    amap_rules: tuple[dict, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    def threshold_m(self, area_type: str = "中心城") -> float:
        """Walking threshold in metres for ``area_type``."""
        try:
            return float(self.thresholds_m[area_type])
        except KeyError:
            raise ProfileError(
                f"category {self.id!r}: no threshold for area type {area_type!r}; "
                f"expected one of {sorted(self.thresholds_m)}"
            ) from None

    @property
    def class_en(self) -> str:
        """English name of the project class."""
        return CLASS_EN[self.class_zh]


@dataclass(frozen=True)
class Profile:
    """A validated standards profile.

    Attributes
    ----------
    id, name_zh, name_en : str
        Identifier and names.
    categories : tuple of Category
        The service categories, in file order.
    walk_speed_kmh : float
        Walking speed the profile's tiers assume.
    default_area_type : str
        Area type used when a unit says none.
    path : str
        File it was read from.
    raw : dict
        The parsed TOML, for overrides and display.
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[Category, ...]
    walk_speed_kmh: float
    default_area_type: str
    path: str
    raw: dict = field(repr=False, default_factory=dict)

    def category(self, category_id: str) -> Category:
        """The category called ``category_id``; a clear error for an unknown one."""
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise ProfileError(
            f"profile {self.id!r} has no category {category_id!r}; "
            f"known: {[c.id for c in self.categories]}"
        )

    @property
    def category_ids(self) -> list[str]:
        """Category identifiers in file order."""
        return [c.id for c in self.categories]

    def table(self, area_type: str | None = None):
        """The profile as a pandas DataFrame, one row per category (for display and reports)."""
        import pandas as pd

        area = area_type or self.default_area_type
        rows = [
            {
                "category": c.id,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "group": c.group,
                "class_zh": c.class_zh,
                "tier_min": c.tier_min,
                "threshold_m": c.threshold_m(area),
                "target_share": c.target_share,
                "facility_types": "、".join(c.facility_types),
            }
            for c in self.categories
        ]
        return pd.DataFrame(rows)


def _builtin_dir():
    return resources.files(__name__)


def list_profiles() -> list[str]:
    """Names of the built-in profiles.

    >>> "shanghai-2025" in list_profiles()
    True
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key == "category" and isinstance(value, list) and isinstance(out.get(key), list):
            by_id = {c.get("id"): i for i, c in enumerate(out[key])}
            for cat in value:
                idx = by_id.get(cat.get("id"))
                if idx is None:
                    out[key].append(copy.deepcopy(cat))
                else:
                    out[key][idx] = _deep_merge(out[key][idx], cat)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(path: Path | Any, label: str) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile file {label} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile file {label} is not valid TOML: {exc}") from None


def load_profile(profile: str | Path | Profile = "shanghai-2025", overrides: dict | None = None,
                 ) -> Profile:
    """Load and validate a profile.

    Parameters
    ----------
    profile : str, Path or Profile
        A built-in name (see :func:`list_profiles`), the path of a TOML file, or a loaded
        profile (returned as is unless ``overrides`` are given). A planner's file may say
        ``extends = "shanghai-2025"`` at top level to override only some keys.
    overrides : dict, optional
        Keys to change, in the file's structure; categories are matched by ``id``.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Naming the file, the key and the problem.

    Examples
    --------
    >>> p = load_profile("shanghai-2025", overrides={"category": [{"id": "bus", "threshold_m": 300}]})
    >>> p.category("bus").threshold_m()
    300.0
    """
    if isinstance(profile, Profile):
        if not overrides:
            return profile
        return _validate(_deep_merge(profile.raw, overrides), profile.path)
    text = str(profile)
    if text in list_profiles():
        path = _builtin_dir() / f"{text}.toml"
        label = f"<built-in {text}.toml>"
    else:
        path = Path(text)
        label = str(path)
        if path.suffix.lower() != ".toml":
            raise ProfileError(
                f"unknown profile {text!r}: not a built-in ({', '.join(list_profiles())}) "
                f"and not a .toml file"
            )
    data = _read_toml(path, label)
    base_name = data.pop("extends", None)
    if base_name is not None:
        base = load_profile(base_name)
        data = _deep_merge(base.raw, data)
    if overrides:
        data = _deep_merge(data, overrides)
    return _validate(data, label)


def _need(d: dict, key: str, kind, where: str, label: str):
    if key not in d:
        raise ProfileError(f"{label}: {where} is missing key {key!r}")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProfileError(
            f"{label}: {where}.{key} should be {getattr(kind, '__name__', kind)}, got {value!r}"
        )
    return value


def _validate(data: dict, label: str) -> Profile:
    head = data.get("profile")
    if not isinstance(head, dict):
        raise ProfileError(f"{label}: missing [profile] table")
    pid = _need(head, "id", str, "[profile]", label)
    speed = float(_need(head, "walk_speed_kmh", (int, float), "[profile]", label))
    if not 1.0 <= speed <= 10.0:
        raise ProfileError(f"{label}: [profile].walk_speed_kmh={speed} outside 1..10 km/h")
    default_area = head.get("default_area_type", "中心城")
    tiers = data.get("tiers", {})
    tier_thresholds: dict[int, dict[str, float]] = {}
    for key, tier in tiers.items():
        where = f"[tiers.{key}]"
        try:
            minutes = int(key)
        except ValueError:
            raise ProfileError(f"{label}: {where} key should be minutes (5, 10, 15)") from None
        thr = _need(tier, "threshold_m", dict, where, label)
        tier_thresholds[minutes] = _check_thresholds(thr, f"{where}.threshold_m", label)
    cats_raw = data.get("category")
    if not isinstance(cats_raw, list) or not cats_raw:
        raise ProfileError(f"{label}: no [[category]] entries")
    cats = []
    seen = set()
    for i, c in enumerate(cats_raw):
        where = f"category[{i}]"
        cid = _need(c, "id", str, where, label)
        where = f"category {cid!r}"
        if cid in seen:
            raise ProfileError(f"{label}: duplicate category id {cid!r}")
        seen.add(cid)
        group = _need(c, "group", str, where, label)
        if group not in GROUPS:
            raise ProfileError(f"{label}: {where}.group={group!r}, expected one of {GROUPS}")
        klass = _need(c, "class", str, where, label)
        if klass not in CLASSES:
            raise ProfileError(f"{label}: {where}.class={klass!r}, expected one of {CLASSES}")
        tier = _need(c, "tier_min", int, where, label)
        if tier not in TIERS_MIN:
            raise ProfileError(f"{label}: {where}.tier_min={tier}, expected one of {TIERS_MIN}")
        thr = c.get("threshold_m")
        if thr is None:
            if tier not in tier_thresholds:
                raise ProfileError(
                    f"{label}: {where} has no threshold_m and there is no [tiers.{tier}] default"
                )
            thresholds = dict(tier_thresholds[tier])
        elif isinstance(thr, (int, float)) and not isinstance(thr, bool):
            if thr <= 0:
                raise ProfileError(f"{label}: {where}.threshold_m={thr} must be > 0")
            # a facility-specific radius from a standard applies in every area type
            thresholds = {area: float(thr) for area in AREA_TYPES}
        elif isinstance(thr, dict):
            thresholds = _check_thresholds(thr, f"{where}.threshold_m", label)
        else:
            raise ProfileError(f"{label}: {where}.threshold_m should be a number or a table")
        target = float(_need(c, "target_share", (int, float), where, label))
        if not 0.0 < target <= 1.0:
            raise ProfileError(f"{label}: {where}.target_share={target} outside (0, 1]")
        osm_rules = tuple(c.get("osm", ()))
        for j, rule in enumerate(osm_rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("tags"), dict):
                raise ProfileError(f"{label}: {where}.osm[{j}] needs a 'tags' table")
            if "type" not in rule:
                raise ProfileError(f"{label}: {where}.osm[{j}] needs a 'type'")
        name_rules = tuple(c.get("names", ()))
        for j, rule in enumerate(name_rules):
            if not isinstance(rule.get("any"), list) or "type" not in rule:
                raise ProfileError(f"{label}: {where}.names[{j}] needs 'any' (list) and 'type'")
        amap_rules = tuple(c.get("amap", ()))
        for j, rule in enumerate(amap_rules):
            if ("codes" not in rule and "any" not in rule) or "type" not in rule:
                raise ProfileError(f"{label}: {where}.amap[{j}] needs 'codes' or 'any', and 'type'")
        cats.append(
            Category(
                id=cid,
                name_zh=_need(c, "name_zh", str, where, label),
                name_en=_need(c, "name_en", str, where, label),
                group=group,
                class_zh=klass,
                tier_min=tier,
                thresholds_m=thresholds,
                target_share=target,
                facility_types=tuple(c.get("facility_types", ())),
                osm_rules=osm_rules,
                name_rules=name_rules,
                amap_rules=amap_rules,
                sources=dict(c.get("sources", {})),
            )
        )
    return Profile(
        id=pid,
        name_zh=head.get("name_zh", pid),
        name_en=head.get("name_en", pid),
        categories=tuple(cats),
        walk_speed_kmh=speed,
        default_area_type=default_area,
        path=label,
        raw=data,
    )


def _check_thresholds(thr: dict, where: str, label: str) -> dict[str, float]:
    out = {}
    for area, value in thr.items():
        if area not in AREA_TYPES:
            raise ProfileError(f"{label}: {where} has unknown area type {area!r}; "
                               f"expected {AREA_TYPES}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ProfileError(f"{label}: {where}.{area}={value!r} should be metres > 0")
        out[area] = float(value)
    return out
