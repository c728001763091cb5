"""Standards profiles: 十全十美 service categories, facility types, tiers and thresholds, as data.

A profile is a TOML file. The built-in ones live beside this module (``shanghai-2025``, the
national ``gb50180-2018``); a planner passes the path of their own file, or overrides some keys
of a built-in one (``extends = "shanghai-2025"`` at the top of their file). Every file is
validated on load, and an error names the file, the key and what was expected.

Every number of a profile carries a source: the walking speed (``walk_speed_source``), each
tier's default thresholds (``[tiers.N].source``) and, per category, ``sources.tier_min``,
``sources.target_share`` and ``sources.threshold_m`` (when the category sets its own
threshold). A source is the standard and clause, or says ``"assumption"``. When a planner's
override changes a number without giving its source, the source becomes
``"planner override in <file> (was ...)"`` so that no inherited source is left describing a
number it no longer belongs to.

Each category also says which facilities count, as rules (:mod:`lifecircle_geo.facilities`
applies them): ``osm`` (tags, optionally with ``name_any`` keywords), ``amap`` (six-digit
Amap type ``codes`` or prefixes such as ``"0907*"``, type ``types`` patterns
``"family;…;level"``, ``any`` words of the type string, optionally ``name_any``), ``names``
(Chinese name keywords, used for records without a type, or within the type ``families`` a
rule lists), and ``exclude`` (``codes``, ``types``, ``any``, ``tags``, ``names``: what is out
even when an include rule matches). ``sources.classification`` says what they rest on.

Examples
--------
>>> from lifecircle_geo.standards import load_profile
>>> p = load_profile("shanghai-2025")
>>> p.category("kindergarten").threshold_for()
300.0
>>> p.category("health").name_zh
'医疗卫生'
>>> p.category("kindergarten").sources["threshold_m"]
'GB 50180-2018: kindergarten service radius ≤ 300 m'
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProfileError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import pandas as pd

__all__ = [
    "AMAP_FAMILIES",
    "AREA_TYPES",
    "CLASSES",
    "FAMILY_ALIASES",
    "GROUPS",
    "NUMBER_KEYS",
    "TIERS_MIN",
    "Category",
    "Profile",
    "canonical_family",
    "list_profiles",
    "load_profile",
]

AREA_TYPES = ("中心城", "新城", "新市镇", "乡村")
#: default groups; a profile may declare its own in ``[profile].groups``
GROUPS = ("十全", "十美")
CLASSES = ("基础保障", "品质提升", "特色塑造")
CLASS_EN = {
    "基础保障": "basic guarantee",
    "品质提升": "quality raising",
    "特色塑造": "character shaping",
}
TIERS_MIN = (5, 10, 15)
#: the numbers of a category, each of which needs ``sources.<key>``
NUMBER_KEYS = ("tier_min", "threshold_m", "target_share")

_PROFILE_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "walk_speed_kmh",
    "walk_speed_source",
    "default_area_type",
    "source",
    "groups",
    "region_name",
    "region_bbox",
    "note",
}
_CATEGORY_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "group",
    "class",
    "tier_min",
    "threshold_m",
    "target_share",
    "facility_types",
    "osm",
    "names",
    "amap",
    "exclude",
    "sources",
    "note",
}
_TOP_KEYS = {"profile", "tiers", "category", "extends"}

#: Amap (高德) type families (大类) by the first two digits of a six-digit type code
AMAP_FAMILIES: dict[str, str] = {
    "01": "汽车服务",
    "02": "汽车销售",
    "03": "汽车维修",
    "04": "摩托车服务",
    "05": "餐饮服务",
    "06": "购物服务",
    "07": "生活服务",
    "08": "体育休闲服务",
    "09": "医疗保健服务",
    "10": "住宿服务",
    "11": "风景名胜",
    "12": "商务住宅",
    "13": "政府机构及社会团体",
    "14": "科教文化服务",
    "15": "交通设施服务",
    "16": "金融保险服务",
    "17": "公司企业",
    "18": "道路附属设施",
    "19": "地名地址信息",
    "20": "公共设施",
    "22": "事件活动",
    "97": "室内设施",
    "99": "通行设施",
}
#: other names of the same families: Baidu (百度) top-level types and older Amap spellings,
#: each mapped to the Amap family whose rules apply to it
FAMILY_ALIASES: dict[str, str] = {
    "美食": "餐饮服务",
    "酒店": "住宿服务",
    "购物": "购物服务",
    "丽人": "生活服务",
    "旅游景点": "风景名胜",
    "休闲娱乐": "体育休闲服务",
    "运动健身": "体育休闲服务",
    "教育培训": "科教文化服务",
    "文化传媒": "科教文化服务",
    "医疗": "医疗保健服务",
    "交通设施": "交通设施服务",
    "金融": "金融保险服务",
    "房地产": "商务住宅",
    "政府机构": "政府机构及社会团体",
    "政府机关及社会团体": "政府机构及社会团体",
    "金融保险机构": "金融保险服务",
    "出入口": "通行设施",
    "自然地物": "地名地址信息",
    "行政地标": "地名地址信息",
    "门址": "地名地址信息",
    "道路": "地名地址信息",
}
_FAMILIES = frozenset(AMAP_FAMILIES.values())


def canonical_family(text: str) -> str | None:
    """Amap family (大类) that a type's top level names, or None when it names none.

    Amap families are returned as they are; Baidu's top-level types and older spellings are
    mapped to the Amap family they correspond to (:data:`FAMILY_ALIASES`).

    Examples
    --------
    >>> canonical_family("医疗保健服务"), canonical_family("医疗"), canonical_family("宝宝屋")
    ('医疗保健服务', '医疗保健服务', None)
    """
    text = text.strip()
    if text in _FAMILIES:
        return text
    return FAMILY_ALIASES.get(text)


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
        ``"十全"`` (guaranteed basic services) or ``"十美"`` (quality and character services),
        or one of the profile's own ``groups``.
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
        Matching rules for OSM tags, Chinese names and Amap/Baidu types (see
        :mod:`lifecircle_geo.facilities`): what is in.
    exclude_rules : tuple of dict
        What is out even when an include rule matches: Amap codes, type patterns, OSM tags or
        name patterns (all the conditions a rule gives must hold).
    sources : dict of str to str
        Where each number comes from (``tier_min``, ``threshold_m``, ``target_share``; the
        threshold's source is the tier's when the category uses the tier default), or
        ``"assumption"``; ``membership`` says why the category is in the profile,
        ``classification`` what its include and exclude rules rest on.
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
    exclude_rules: tuple[dict, ...] = ()

    def threshold_for(self, area_type: str = "中心城") -> float:
        """Return the walking threshold in metres for ``area_type``.

        >>> load_profile("shanghai-2025").category("park").threshold_for("新市镇")
        1000.0
        """
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
    region_name : str or None
        Region the profile is meant for (e.g. ``"Shanghai"``).
    region_bbox : tuple of 4 floats or None
        WGS-84 ``(min lon, min lat, max lon, max lat)`` of that region: facility tables with
        points outside it get a warning.
    """

    id: str
    name_zh: str
    name_en: str
    categories: tuple[Category, ...]
    walk_speed_kmh: float
    default_area_type: str
    path: str
    raw: dict = field(repr=False, default_factory=dict)
    region_name: str | None = None
    region_bbox: tuple[float, float, float, float] | None = None

    def category(self, category_id: str) -> Category:
        """Look up the category called ``category_id``; a clear error for an unknown one."""
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

    def table(self, area_type: str | None = None, sources: bool = False) -> pd.DataFrame:
        """Return the profile as a DataFrame, one row per category (for display and reports).

        Parameters
        ----------
        area_type : str, optional
            Area type whose thresholds are shown; default the profile's default area type.
        sources : bool
            Add the columns ``source_tier_min``, ``source_threshold_m`` and
            ``source_target_share``.

        Examples
        --------
        >>> t = load_profile("gb50180-2018").table(sources=True)
        >>> t.loc[t.category == "kindergarten", "threshold_m"].item()
        300.0
        """
        import pandas as pd

        area = area_type or self.default_area_type
        rows = []
        for c in self.categories:
            row = {
                "category": c.id,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "group": c.group,
                "class_zh": c.class_zh,
                "tier_min": c.tier_min,
                "threshold_m": c.threshold_for(area),
                "target_share": c.target_share,
                "facility_types": "、".join(c.facility_types),
            }
            if sources:
                for key in NUMBER_KEYS:
                    row[f"source_{key}"] = c.sources.get(key, "")
            rows.append(row)
        return pd.DataFrame(rows)


def _builtin_dir() -> Traversable:
    return resources.files(__name__)


def list_profiles() -> list[str]:
    """Names of the built-in profiles.

    >>> list_profiles()
    ['gb50180-2018', 'shanghai-2025']
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key == "category" and isinstance(value, list) and isinstance(out.get(key), list):
            by_id = {c.get("id"): i for i, c in enumerate(out[key]) if isinstance(c, dict)}
            for cat in value:
                idx = by_id.get(cat.get("id")) if isinstance(cat, dict) else None
                if idx is None:
                    out[key].append(copy.deepcopy(cat))
                else:
                    out[key][idx] = _deep_merge(out[key][idx], cat)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _attribute(override: dict, base: dict, label: str) -> dict:
    """Give each number an override changes without a source the source ``planner override``.

    Without this, a changed ``threshold_m`` would inherit the base file's source, which
    describes the old number.
    """
    out = copy.deepcopy(override)

    def note(old_value: object, old_source: str | None) -> str:
        was = f"was {old_value!r}" if old_value is not None else "not set before"
        if old_source:
            was += f": {old_source}"
        return f"planner override in {label} ({was})"

    head, base_head = out.get("profile"), base.get("profile", {})
    if isinstance(head, dict) and "walk_speed_kmh" in head and "walk_speed_source" not in head:
        head["walk_speed_source"] = note(
            base_head.get("walk_speed_kmh"), base_head.get("walk_speed_source")
        )
    tiers, base_tiers = out.get("tiers"), base.get("tiers", {})
    if isinstance(tiers, dict):
        for key, tier in tiers.items():
            old = base_tiers.get(key, {})
            if isinstance(tier, dict) and "threshold_m" in tier and "source" not in tier:
                tier["source"] = note(old.get("threshold_m"), old.get("source"))
    base_cats = {c.get("id"): c for c in base.get("category", []) if isinstance(c, dict)}
    for cat in out.get("category", []) if isinstance(out.get("category"), list) else []:
        if not isinstance(cat, dict) or cat.get("id") not in base_cats:
            continue  # a new category must bring its own sources
        old = base_cats[cat["id"]]
        old_sources = old.get("sources", {}) if isinstance(old.get("sources"), dict) else {}
        given = cat.get("sources", {})
        if not isinstance(given, dict):
            continue  # the validator reports it
        for key in NUMBER_KEYS:
            if key in cat and key not in given:
                cat.setdefault("sources", {})[key] = note(old.get(key), old_sources.get(key))
    return out


def _read_toml(path: Path | Any, label: str) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile file {label} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile file {label} is not valid TOML: {exc}") from None


def load_profile(
    profile: str | Path | Profile = "shanghai-2025",
    overrides: dict | None = None,
) -> Profile:
    """Load and validate a profile.

    Parameters
    ----------
    profile : str, Path or Profile
        A built-in name (see :func:`list_profiles`), the path of a TOML file, or a loaded
        profile (returned as is unless ``overrides`` are given). A planner's file may say
        ``extends = "shanghai-2025"`` (a built-in name or a path relative to the file) at top
        level to override only some keys; categories are matched by ``id``, new ones appended.
    overrides : dict, optional
        Keys to change, in the file's structure; categories are matched by ``id``.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Naming the file, the key and the problem: invalid TOML, a missing key, a value of the
        wrong type or range, an unknown key or area type, a duplicate category id, a number
        without its source.

    Examples
    --------
    >>> p = load_profile("shanghai-2025",
    ...                  overrides={"category": [{"id": "bus", "threshold_m": 300}]})
    >>> p.category("bus").threshold_for()
    300.0
    >>> p.category("bus").sources["threshold_m"][:40]
    'planner override in overrides argument ('
    """
    if isinstance(profile, Profile):
        if not overrides:
            return profile
        data = _deep_merge(profile.raw, _attribute(overrides, profile.raw, "overrides argument"))
        return _validate(data, profile.path)
    text = str(profile)
    if text in list_profiles():
        path = _builtin_dir() / f"{text}.toml"
        label = f"<built-in {text}.toml>"
        folder = None
    else:
        path = Path(text)
        label = str(path)
        folder = path.parent
        if path.suffix.lower() != ".toml":
            raise ProfileError(
                f"unknown profile {text!r}: not a built-in ({', '.join(list_profiles())}) "
                f"and not a .toml file"
            )
    data = _read_toml(path, label)
    base_name = data.pop("extends", None)
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ProfileError(
                f"{label}: extends should be a profile name or path, got {base_name!r}"
            )
        if base_name not in list_profiles() and folder is not None:
            candidate = folder / base_name
            base_name = str(candidate) if candidate.exists() else base_name
        try:
            base = load_profile(base_name)
        except ProfileError as exc:
            raise ProfileError(f"{label}: extends = {base_name!r}: {exc}") from None
        data = _deep_merge(base.raw, _attribute(data, base.raw, label))
    if overrides:
        data = _deep_merge(data, _attribute(overrides, data, "overrides argument"))
    return _validate(data, label)


# ------------------------------------------------------------------ validation
def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_type_name(k) for k in kind)
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "dict": "a table",
        "list": "a list",
        "bool": "true/false",
    }.get(kind.__name__, kind.__name__)


def _need(d: dict, key: str, kind: type | tuple[type, ...], where: str, label: str) -> Any:
    if key not in d:
        raise ProfileError(f"{label}: {where} is missing key {key!r}")
    value = d[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProfileError(f"{label}: {where}.{key} should be {_type_name(kind)}, got {value!r}")
    return value


def _check_keys(d: dict, allowed: set[str], where: str, label: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ProfileError(
            f"{label}: {where} has unknown key(s) {unknown}; known keys: {sorted(allowed)}"
        )


def _source(d: dict, key: str, where: str, label: str, what: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(
            f"{label}: {where} is missing key {key!r} (where {what} comes from: the standard "
            f'and clause, or "assumption"); every number of a profile needs a source'
        )
    return value


def _str_list(value: object, where: str, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(f"{label}: {where} should be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _validate(data: dict, label: str) -> Profile:
    _check_keys(data, _TOP_KEYS, "top level", label)
    head = data.get("profile")
    if not isinstance(head, dict):
        raise ProfileError(f"{label}: missing [profile] table")
    _check_keys(head, _PROFILE_KEYS, "[profile]", label)
    pid = _need(head, "id", str, "[profile]", label)
    speed = float(_need(head, "walk_speed_kmh", (int, float), "[profile]", label))
    if not 1.0 <= speed <= 10.0:
        raise ProfileError(f"{label}: [profile].walk_speed_kmh={speed} outside 1..10 km/h")
    _source(head, "walk_speed_source", "[profile]", label, f"walk_speed_kmh={speed:g}")
    default_area = head.get("default_area_type", "中心城")
    if default_area not in AREA_TYPES:
        raise ProfileError(
            f"{label}: [profile].default_area_type={default_area!r} is not an "
            f"area type; expected one of {AREA_TYPES}"
        )
    groups = GROUPS
    if "groups" in head:
        groups = _str_list(head["groups"], "[profile].groups", label)
    bbox = head.get("region_bbox")
    if bbox is not None:
        ok = (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        )
        if not ok or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
            raise ProfileError(
                f"{label}: [profile].region_bbox should be [min lon, min lat, "
                f"max lon, max lat], got {bbox!r}"
            )
        bbox = tuple(float(v) for v in bbox)
    region = head.get("region_name")
    if region is not None and not isinstance(region, str):
        raise ProfileError(f"{label}: [profile].region_name should be a string, got {region!r}")

    tiers = data.get("tiers", {})
    if not isinstance(tiers, dict):
        raise ProfileError(f"{label}: tiers should be a table of [tiers.5], [tiers.10], ...")
    tier_thresholds: dict[int, dict[str, float]] = {}
    tier_sources: dict[int, str] = {}
    for key, tier in tiers.items():
        where = f"[tiers.{key}]"
        try:
            minutes = int(key)
        except ValueError:
            raise ProfileError(f"{label}: {where} key should be minutes (5, 10, 15)") from None
        if minutes not in TIERS_MIN:
            raise ProfileError(f"{label}: {where}: tier {minutes} min is not one of {TIERS_MIN}")
        if not isinstance(tier, dict):
            raise ProfileError(f"{label}: {where} should be a table")
        _check_keys(tier, {"threshold_m", "source"}, where, label)
        thr = _need(tier, "threshold_m", dict, where, label)
        tier_thresholds[minutes] = _check_thresholds(thr, f"{where}.threshold_m", label)
        tier_sources[minutes] = _source(tier, "source", where, label, "threshold_m")

    cats_raw = data.get("category")
    if not isinstance(cats_raw, list) or not cats_raw:
        raise ProfileError(f"{label}: no [[category]] entries")
    cats = []
    seen: dict[str, int] = {}
    for i, c in enumerate(cats_raw):
        where = f"category[{i}]"
        if not isinstance(c, dict):
            raise ProfileError(f"{label}: {where} should be a table ([[category]])")
        cid = _need(c, "id", str, where, label)
        if cid in seen:
            raise ProfileError(
                f"{label}: category[{i}].id: duplicate category id {cid!r} "
                f"(first used by category[{seen[cid]}])"
            )
        seen[cid] = i
        where = f"category {cid!r}"
        _check_keys(c, _CATEGORY_KEYS, where, label)
        group = _need(c, "group", str, where, label)
        if group not in groups:
            raise ProfileError(f"{label}: {where}.group={group!r}, expected one of {groups}")
        klass = _need(c, "class", str, where, label)
        if klass not in CLASSES:
            raise ProfileError(f"{label}: {where}.class={klass!r}, expected one of {CLASSES}")
        tier = _need(c, "tier_min", int, where, label)
        if tier not in TIERS_MIN:
            raise ProfileError(f"{label}: {where}.tier_min={tier}, expected one of {TIERS_MIN}")
        srcs = c.get("sources", {})
        if not isinstance(srcs, dict):
            raise ProfileError(
                f"{label}: {where}.sources should be a table ([category.sources]), got {srcs!r}"
            )
        for k, v in srcs.items():
            if not isinstance(v, str):
                raise ProfileError(f"{label}: {where}.sources.{k} should be a string, got {v!r}")
        sources = dict(srcs)
        _source(srcs, "tier_min", f"{where}.sources", label, f"tier_min={tier}")
        thr = c.get("threshold_m")
        if thr is None:
            if tier not in tier_thresholds:
                raise ProfileError(
                    f"{label}: {where} has no threshold_m and there is no [tiers.{tier}] default"
                )
            thresholds = dict(tier_thresholds[tier])
            sources.setdefault("threshold_m", f"[tiers.{tier}] default: {tier_sources[tier]}")
        elif isinstance(thr, (int, float)) and not isinstance(thr, bool):
            if thr <= 0:
                raise ProfileError(f"{label}: {where}.threshold_m={thr} must be > 0")
            # a facility-specific radius from a standard applies in every area type
            thresholds = {area: float(thr) for area in AREA_TYPES}
            _source(srcs, "threshold_m", f"{where}.sources", label, f"threshold_m={thr}")
        elif isinstance(thr, dict):
            thresholds = _check_thresholds(thr, f"{where}.threshold_m", label)
            if tier in tier_thresholds:  # areas the category leaves out keep the tier default
                thresholds = {**tier_thresholds[tier], **thresholds}
            _source(srcs, "threshold_m", f"{where}.sources", label, "threshold_m")
        else:
            raise ProfileError(
                f"{label}: {where}.threshold_m should be a number or a table, got {thr!r}"
            )
        target = float(_need(c, "target_share", (int, float), where, label))
        if not 0.0 < target <= 1.0:
            raise ProfileError(f"{label}: {where}.target_share={target} outside (0, 1]")
        _source(srcs, "target_share", f"{where}.sources", label, f"target_share={target:g}")
        facility_types = _str_list(c.get("facility_types", []), f"{where}.facility_types", label)
        osm_rules = _rules(c, "osm", where, label)
        name_rules = _rules(c, "names", where, label)
        amap_rules = _rules(c, "amap", where, label)
        exclude_rules = _rules(c, "exclude", where, label)
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
                facility_types=facility_types,
                osm_rules=osm_rules,
                name_rules=name_rules,
                amap_rules=amap_rules,
                sources=sources,
                exclude_rules=exclude_rules,
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
        region_name=region,
        region_bbox=bbox,
    )


_RULE_KEYS = {
    "osm": {"tags", "name_any", "type", "note"},
    "names": {"any", "type", "families", "note"},
    "amap": {"codes", "types", "any", "name_any", "type", "note"},
    "exclude": {"codes", "types", "any", "tags", "names", "note"},
}
#: the conditions an exclude rule may give (at least one; all that it gives must hold)
_EXCLUDE_CONDITIONS = ("codes", "types", "any", "tags", "names")
_CODE_PATTERN = re.compile(r"\d{6}|\d{1,5}\*")


def _families(value: object, at: str, label: str) -> tuple[str, ...]:
    names = _str_list(value, at, label)
    for name in names:
        if canonical_family(name) is None:
            raise ProfileError(
                f"{label}: {at}: {name!r} is not an Amap or Baidu type family; known: "
                f"{sorted(_FAMILIES)} (and {sorted(FAMILY_ALIASES)})"
            )
    return names


def _type_patterns(value: object, at: str, label: str) -> None:
    for pattern in _str_list(value, at, label):
        top = pattern.replace("；", ";").split(";", 1)[0]
        if canonical_family(top) is None:
            raise ProfileError(
                f"{label}: {at}: type pattern {pattern!r} should start with an Amap type "
                f"family such as '医疗保健服务' ('family;中类;小类'); known families: "
                f"{sorted(_FAMILIES)}"
            )


def _tags(rule: dict, at: str, label: str) -> None:
    tags = _need(rule, "tags", dict, at, label)
    if not tags:
        raise ProfileError(f"{label}: {at}.tags is empty")
    for k, v in tags.items():
        if not (
            isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(x, str) for x in v))
        ):
            raise ProfileError(
                f"{label}: {at}.tags.{k} should be a string or a list of strings, got {v!r}"
            )


def _rules(c: dict, kind: str, where: str, label: str) -> tuple[dict, ...]:
    rules = c.get(kind, [])
    if not isinstance(rules, list):
        raise ProfileError(f"{label}: {where}.{kind} should be a list of rule tables")
    for j, rule in enumerate(rules):
        at = f"{where}.{kind}[{j}]"
        if not isinstance(rule, dict):
            raise ProfileError(f"{label}: {at} should be a table, got {rule!r}")
        _check_keys(rule, _RULE_KEYS[kind], at, label)
        if "note" in rule and not isinstance(rule["note"], str):
            raise ProfileError(f"{label}: {at}.note should be a string, got {rule['note']!r}")
        if kind == "exclude":
            if not any(key in rule for key in _EXCLUDE_CONDITIONS):
                raise ProfileError(
                    f"{label}: {at} needs at least one of {list(_EXCLUDE_CONDITIONS)}"
                )
            if "tags" in rule:
                _tags(rule, at, label)
        else:
            _need(rule, "type", str, at, label)
        if kind == "osm":
            _tags(rule, at, label)
            if "name_any" in rule:
                _str_list(rule["name_any"], f"{at}.name_any", label)
        elif kind == "names":
            _str_list(_need(rule, "any", list, at, label), f"{at}.any", label)
            if "families" in rule:
                _families(rule["families"], f"{at}.families", label)
        else:
            if kind == "amap" and not any(k in rule for k in ("codes", "types", "any")):
                raise ProfileError(f"{label}: {at} needs 'codes', 'types' or 'any'")
            for key in ("any", "name_any", "names"):
                if key in rule:
                    _str_list(rule[key], f"{at}.{key}", label)
            if "types" in rule:
                _type_patterns(rule["types"], f"{at}.types", label)
            if "codes" in rule:
                for code in _str_list(rule["codes"], f"{at}.codes", label):
                    if not _CODE_PATTERN.fullmatch(code):
                        raise ProfileError(
                            f"{label}: {at}.codes: {code!r} should be a six-digit Amap type "
                            f"code such as '090102', or a prefix ending in '*' such as '0907*'"
                        )
    return tuple(rules)


def _check_thresholds(thr: dict, where: str, label: str) -> dict[str, float]:
    out = {}
    for area, value in thr.items():
        if area not in AREA_TYPES:
            raise ProfileError(
                f"{label}: {where} has unknown area type {area!r}; expected {AREA_TYPES}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ProfileError(f"{label}: {where}.{area}={value!r} should be metres > 0")
        out[area] = float(value)
    return out
