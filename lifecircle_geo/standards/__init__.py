"""Standards profiles: 十全十美 service categories, facility types, tiers and thresholds, as data.

A profile is a TOML file. The built-in ones live beside this module (``shanghai-2025``, the
national ``gb50180-2018``); a planner passes the path of their own file, or overrides some keys
of a built-in one (``extends = "shanghai-2025"`` at the top of their file). Every file is
validated on load, and an error names the file, the key and what was expected.

What a profile holds (schema v2):

- ``[area_types.<name>]`` for each of :data:`AREA_TYPES` (中心城, 主城区, 新城, 其他地区, 乡村;
  ``新市镇`` is read as ``其他地区``, :data:`AREA_ALIASES`): English name and the project
  ``priorities`` (which classes make projects there, in order) with their ``source``.
- ``[modes.<id>]``: travel modes besides walking (e.g. ``slow`` = 慢行, walking or cycling) with
  a ``speed_kmh``; walking is ``[profile].walk_speed_kmh``.
- ``[tiers.<minutes>]``: the default ``threshold_m`` per area type (every area type), the
  ``mode`` per area type (missing: walk) and the ``source`` (one text, or one per area type).
- ``[target_groups.<id>]``: groups a category may count instead of everyone (``"60+"``,
  ``"0-3"`` …) with a ``default_share`` of residents used where no local figure is given.
- ``[unit_standard]``: the default share of its group a unit must have within the threshold
  (``target_share``) and the tiers that are only reported (``informational_tiers``).
- ``[[category]]``: each service category: tier, thresholds and modes by area type (or the
  tier's), target group, unit target, responsible ``department`` (its gaps are referred there,
  not made 街镇 projects), own walking speed, and the facility rules.
- ``[[indicator]]``: policy targets for an area as a whole (city, district), with year and
  source, evaluated on roll-ups, never as a unit's pass mark.

Every number of a profile carries a source: the standard and clause, or a text saying
``"assumption"``: ``walk_speed_source``; each tier's ``source``; ``[modes.*].source``,
``[target_groups.*].source``, ``[unit_standard].source``, ``[[indicator]].source`` and, per
category, ``sources.tier_min``, ``sources.threshold_m`` (when the category sets its own
thresholds; a text or a table by area type), ``sources.target_share`` (when it sets its own)
and ``sources.walk_speed_kmh``. When a planner's override changes a number without giving its
source, the source becomes ``"planner override in <file> (was ...)"`` so that no inherited
source is left describing a number it no longer belongs to. :meth:`Profile.sources_table`
lists every number with its source; :meth:`Profile.assumptions` the ones that are assumptions.

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
>>> k = p.category("kindergarten")
>>> k.threshold_for("乡村"), k.mode_for("乡村"), k.target_group, k.department
(1000.0, 'slow', '3-6', '教育')
>>> p.area_type("新市镇"), p.class_priority("其他地区", "品质提升")
('其他地区', None)
>>> p.standards_table("其他地区").set_index("category").loc["health", "label_zh"]
'慢行15分钟（2000米）'
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
    "AREA_ALIASES",
    "AREA_TYPES",
    "CLASSES",
    "FAMILY_ALIASES",
    "GROUPS",
    "INDICATOR_LEVELS",
    "NUMBER_KEYS",
    "TIERS_MIN",
    "AreaType",
    "Category",
    "Indicator",
    "Mode",
    "Profile",
    "TargetGroup",
    "UnitStandard",
    "canonical_area_type",
    "canonical_family",
    "list_profiles",
    "load_profile",
    "threshold_label",
]

#: area types as the 2025 action plan names them (任务4): 中心城, 主城区, the five 新城,
#: 其他地区 and 乡村; every profile states thresholds and priorities for each
AREA_TYPES = ("中心城", "主城区", "新城", "其他地区", "乡村")
#: older names read as an area type: 新市镇 (new market towns, the Shanghai draft standard's
#: word) are the towns of 其他地区
AREA_ALIASES = {"新市镇": "其他地区"}
#: default groups; a profile may declare its own in ``[profile].groups``
GROUPS = ("十全", "十美")
CLASSES = ("基础保障", "品质提升", "特色塑造")
CLASS_EN = {
    "基础保障": "basic guarantee",
    "品质提升": "quality raising",
    "特色塑造": "character shaping",
}
TIERS_MIN = (5, 10, 15)
#: where an indicator's target is set
INDICATOR_LEVELS = ("city", "district", "jiezhen")
#: the numbers every category has, each with ``sources.<key>`` (given, or the default's)
NUMBER_KEYS = ("tier_min", "threshold_m", "target_share")
#: the walking mode: its speed is ``[profile].walk_speed_kmh``
WALK = "walk"
#: the implicit target group: every resident
ALL = "all"

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
    "mode",
    "target_share",
    "target_group",
    "informational",
    "department",
    "walk_speed_kmh",
    "facility_types",
    "osm",
    "names",
    "amap",
    "exclude",
    "sources",
    "note",
}
_TOP_KEYS = {
    "profile",
    "area_types",
    "modes",
    "tiers",
    "target_groups",
    "unit_standard",
    "category",
    "indicator",
    "extends",
}
_AREA_KEYS = {"name_en", "priorities", "source", "note"}
_MODE_KEYS = {"name_zh", "name_en", "speed_kmh", "source", "note"}
_TIER_KEYS = {"threshold_m", "mode", "source", "note"}
_GROUP_KEYS = {"name_zh", "name_en", "default_share", "source", "note"}
_UNIT_KEYS = {"target_share", "source", "informational_tiers", "informational_source", "note"}
_INDICATOR_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "level",
    "year",
    "target",
    "categories",
    "source",
    "categories_source",
    "note",
}
_WALK_SPEED_RANGE = (1.0, 10.0)
_MODE_SPEED_RANGE = (1.0, 40.0)

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


def canonical_area_type(name: str) -> str | None:
    """Area type that ``name`` means (an alias such as 新市镇 resolved), or None.

    Examples
    --------
    >>> canonical_area_type("新市镇"), canonical_area_type(" 新城 "), canonical_area_type("市区")
    ('其他地区', '新城', None)
    """
    text = str(name).strip()
    if text in AREA_TYPES:
        return text
    return AREA_ALIASES.get(text)


def _known_areas() -> str:
    aliases = ", ".join(f"{a} = {c}" for a, c in AREA_ALIASES.items())
    return f"{', '.join(AREA_TYPES)} ({aliases})"


def _area_or_error(name: str, what: str) -> str:
    area = canonical_area_type(name)
    if area is None:
        raise ProfileError(f"{what}: unknown area type {name!r}; known: {_known_areas()}")
    return area


@dataclass(frozen=True)
class AreaType:
    """An area type of the profile and the classes that make projects there (任务4).

    Attributes
    ----------
    name : str
        Chinese name, one of :data:`AREA_TYPES`.
    name_en : str
        English name.
    priorities : tuple of str
        Project classes (基础保障, 品质提升, 特色塑造) whose gaps become 街镇 projects here, in
        order of priority; a class not listed makes no projects in this area type.
    source : str
        Where the priorities come from.
    """

    name: str
    name_en: str
    priorities: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Mode:
    """A travel mode a threshold is stated in: ``walk`` (步行) or e.g. ``slow`` (慢行).

    Attributes
    ----------
    name : str
        Identifier used in the profile (``"walk"``, ``"slow"``).
    name_zh, name_en : str
        Names used in labels (``"慢行"``, ``"slow travel (walk or cycle)"``).
    speed_kmh : float
        Speed that turns the mode's distances into minutes.
    source : str
        Where the speed comes from.
    """

    name: str
    name_zh: str
    name_en: str
    speed_kmh: float
    source: str


@dataclass(frozen=True)
class TargetGroup:
    """A group of residents a category serves (e.g. people aged 60+).

    Attributes
    ----------
    id : str
        Identifier used by categories and population columns (``population_<id>``).
    name_zh, name_en : str
        Names.
    default_share : float
        Share of residents (0..1) in the group, used where the population source gives no
        figure of its own.
    source : str
        Where the default share comes from.
    """

    id: str
    name_zh: str
    name_en: str
    default_share: float
    source: str


@dataclass(frozen=True)
class Indicator:
    """A policy target for an area as a whole, evaluated on roll-ups, never per unit.

    Attributes
    ----------
    id, name_zh, name_en : str
        Identifier and names.
    level : str
        Where the target is set: ``"city"``, ``"district"`` or ``"jiezhen"``.
    year : int
        Year the target is for.
    target : float
        Target share (0..1) of the residents within each category's threshold.
    categories : tuple of str
        Categories the indicator is evaluated on (each on its own).
    source : str
        Where the target comes from.
    categories_source : str
        Why these categories stand for what the target names ("" when not said).
    """

    id: str
    name_zh: str
    name_en: str
    level: str
    year: int
    target: float
    categories: tuple[str, ...]
    source: str
    categories_source: str = ""


@dataclass(frozen=True)
class UnitStandard:
    """The default unit standard: what a unit must reach to count as served.

    Attributes
    ----------
    target_share : float
        Share (0..1) of a category's target group that must be within the threshold.
    source : str
        Where that share comes from.
    informational_tiers : tuple of int
        Tiers (minutes) whose categories are reported but make no gaps or projects, unless a
        category says ``informational = false``.
    informational_source : str
        Why.
    """

    target_share: float
    source: str
    informational_tiers: tuple[int, ...] = ()
    informational_source: str = ""


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
        Tier in minutes: 5, 10 or 15.
    thresholds_m : dict of str to float
        Threshold distance per area type (every one of :data:`AREA_TYPES`).
    target_share : float
        The unit target: share (0..1) of the category's target group that must be within the
        threshold for a unit to count as served (the category's own, else the profile's
        ``[unit_standard]``).
    facility_types : tuple of str
        Facility types counted in this category.
    osm_rules, name_rules, amap_rules : tuple of dict
        Matching rules for OSM tags, Chinese names and Amap/Baidu types (see
        :mod:`lifecircle_geo.facilities`): what is in.
    exclude_rules : tuple of dict
        What is out even when an include rule matches: Amap codes, type patterns, OSM tags or
        name patterns (all the conditions a rule gives must hold).
    sources : dict of str to str
        Where each number comes from (``tier_min``, ``threshold_m``, ``target_share``, and
        ``walk_speed_kmh`` when set; a default's source when the category uses the tier's
        thresholds or the unit standard's target), or ``"assumption"``; ``membership`` says
        why the category is in the profile, ``classification`` what its rules rest on.
    target_group : str
        Who is counted: ``"all"`` or one of the profile's ``target_groups``.
    informational : bool
        Reported, never a gap or project (default: its tier is one of the unit standard's
        ``informational_tiers``).
    department : str or None
        Department responsible for building such facilities (教育, 交通, 商务 …): its gaps are
        referred there, never made 街镇 construction projects.
    walk_speed_kmh : float or None
        The category's own walking speed (e.g. an elderly speed), used for minutes of its
        walk-mode thresholds; None: the profile's.
    modes : dict of str to str
        Mode of the threshold per area type (``"walk"`` or a mode of the profile).
    threshold_sources : dict of str to str
        Source of the threshold per area type (the category's own, or its tier's default).
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
    target_group: str = ALL
    informational: bool = False
    department: str | None = None
    walk_speed_kmh: float | None = None
    modes: dict[str, str] = field(default_factory=dict)
    threshold_sources: dict[str, str] = field(default_factory=dict)

    def threshold_for(self, area_type: str = "中心城") -> float:
        """Return the threshold in metres for ``area_type`` (aliases such as 新市镇 resolved).

        >>> load_profile("shanghai-2025").category("park").threshold_for("新市镇")
        1000.0
        """
        area = canonical_area_type(area_type)
        if area is None or area not in self.thresholds_m:
            raise ProfileError(
                f"category {self.id!r}: no threshold for area type {area_type!r}; "
                f"expected one of {_known_areas()}"
            )
        return float(self.thresholds_m[area])

    def mode_for(self, area_type: str = "中心城") -> str:
        """Return the mode (``"walk"``, ``"slow"`` …) of the threshold in ``area_type``.

        >>> load_profile("shanghai-2025").category("health").mode_for("新城")
        'slow'
        """
        self.threshold_for(area_type)  # the same error for an unknown area type
        return self.modes.get(canonical_area_type(area_type) or "", WALK)

    @property
    def class_en(self) -> str:
        """English name of the project class."""
        return CLASS_EN[self.class_zh]

    @property
    def builds_projects(self) -> bool:
        """Whether a gap may become a 街镇 project: False when a department is responsible."""
        return self.department is None


def _is_assumption(source: object) -> bool:
    text = str(source or "").lower()
    return "assumption" in text or "假设" in text


def _summarise(per_area: dict[str, str]) -> str:
    """One text for per-area sources: the text itself when all are the same."""
    texts = list(dict.fromkeys(per_area.values()))
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"{', '.join(a for a in per_area if per_area[a] == t)}: {t}" for t in texts)


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
        Walking speed the profile's walking thresholds assume.
    default_area_type : str
        Area type used when a unit says none.
    path : str
        File it was read from.
    raw : dict
        The parsed TOML (after ``extends`` and overrides), for overrides and display.
    region_name : str or None
        Region the profile is meant for (e.g. ``"Shanghai"``).
    region_bbox : tuple of 4 floats or None
        WGS-84 ``(min lon, min lat, max lon, max lat)`` of that region: facility tables with
        points outside it get a warning.
    source : str
        What the profile as a whole rests on.
    area_types : dict of str to AreaType
        Every one of :data:`AREA_TYPES`, in that order, with its project priorities.
    modes : dict of str to Mode
        Travel modes, ``"walk"`` (``walk_speed_kmh``) first.
    target_groups : dict of str to TargetGroup
        Groups categories may count (``"all"``, everyone, is implicit and not listed).
    indicators : tuple of Indicator
        Policy targets evaluated on roll-ups.
    unit_standard : UnitStandard or None
        The default unit target and informational tiers (None: every category gives its own
        target and none is informational by default).
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
    source: str = ""
    area_types: dict[str, AreaType] = field(default_factory=dict)
    modes: dict[str, Mode] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    indicators: tuple[Indicator, ...] = ()
    unit_standard: UnitStandard | None = None

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

    def area_type(self, name: str) -> str:
        """Return the area type ``name`` means (an alias such as 新市镇 resolved).

        Raises
        ------
        ProfileError
            For a name that is no area type, listing the known ones.

        Examples
        --------
        >>> load_profile("shanghai-2025").area_type("新市镇")
        '其他地区'
        """
        return _area_or_error(name, f"profile {self.id!r}")

    def class_priority(self, area_type: str, class_zh: str) -> int | None:
        """Rank (0 first) of ``class_zh`` among the projects of ``area_type``, None if none.

        Examples
        --------
        >>> p = load_profile("shanghai-2025")
        >>> p.class_priority("中心城", "品质提升"), p.class_priority("乡村", "品质提升")
        (1, None)
        """
        if class_zh not in CLASSES:
            raise ProfileError(
                f"profile {self.id!r}: unknown class {class_zh!r}; expected one of {CLASSES}"
            )
        priorities = self.area_types[self.area_type(area_type)].priorities
        return priorities.index(class_zh) if class_zh in priorities else None

    def mode_speed_kmh(self, mode: str) -> float:
        """Speed of ``mode`` (``"walk"``: the profile's walking speed).

        >>> load_profile("shanghai-2025").mode_speed_kmh("slow")
        8.0
        """
        try:
            return self.modes[mode].speed_kmh
        except KeyError:
            raise ProfileError(
                f"profile {self.id!r} has no mode {mode!r}; known: {list(self.modes)}"
            ) from None

    def category_speed_kmh(self, category_id: str, area_type: str) -> float:
        """Speed that turns the category's threshold in ``area_type`` into minutes.

        The mode's speed; for walking, the category's own ``walk_speed_kmh`` when it has one.

        >>> p = load_profile("shanghai-2025")
        >>> p.category_speed_kmh("elderly_care", "中心城"), p.category_speed_kmh("health", "乡村")
        (3.0, 8.0)
        """
        cat = self.category(category_id)
        mode = cat.mode_for(area_type)
        if mode == WALK and cat.walk_speed_kmh is not None:
            return cat.walk_speed_kmh
        return self.mode_speed_kmh(mode)

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

        area = self.area_type(area_type or self.default_area_type)
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
                "mode": c.mode_for(area),
                "target_share": c.target_share,
                "target_group": c.target_group,
                "informational": c.informational,
                "department": c.department,
                "facility_types": "、".join(c.facility_types),
            }
            if sources:
                for key in NUMBER_KEYS:
                    row[f"source_{key}"] = (
                        c.threshold_sources.get(area, "")
                        if key == "threshold_m"
                        else c.sources.get(key, "")
                    )
            rows.append(row)
        return pd.DataFrame(rows)

    def standards_table(self, area_type: str | None = None) -> pd.DataFrame:
        """Return the unit standard of every category in every area type, with sources.

        Parameters
        ----------
        area_type : str, optional
            Only this area type (an alias is resolved); default all of :data:`AREA_TYPES`.

        Returns
        -------
        DataFrame
            One row per category × area type: ``category``, ``name_zh``, ``name_en``,
            ``group``, ``class_zh``, ``area_type``, ``area_type_en``, ``tier_min``,
            ``threshold_m``, ``mode``, ``mode_zh``, ``speed_kmh``, ``label_zh`` (e.g.
            ``"慢行15分钟（2000米）"``: the minutes the distance takes at ``speed_kmh``, see
            :func:`threshold_label`), ``label_en``, ``target_share``, ``target_group``,
            ``informational``, ``department``, ``priority`` (rank of the class among the area
            type's project classes, NaN: makes no projects there), ``source_tier_min``,
            ``source_threshold_m``, ``source_mode``, ``source_speed_kmh``,
            ``source_target_share``, ``assumption_tier_min``, ``assumption_threshold_m``,
            ``assumption_speed_kmh``, ``assumption_target_share`` and ``assumption`` (any).

        Examples
        --------
        >>> t = load_profile("shanghai-2025").standards_table("乡村").set_index("category")
        >>> t.loc["childcare", ["mode", "target_group", "label_zh"]].tolist()
        ['slow', '0-3', '慢行15分钟（2000米）']
        """
        import pandas as pd

        areas = AREA_TYPES if area_type is None else (self.area_type(area_type),)
        rows = []
        for c in self.categories:
            for area in areas:
                mode = self.modes[c.mode_for(area)]
                own_speed = mode.name == WALK and c.walk_speed_kmh is not None
                speed = c.walk_speed_kmh if own_speed else mode.speed_kmh
                src_speed = c.sources.get("walk_speed_kmh", "") if own_speed else mode.source
                src_thr = c.threshold_sources.get(area, "")
                src_mode = c.sources.get("mode") or src_thr
                threshold = c.threshold_for(area)
                rank = self.class_priority(area, c.class_zh)
                row = {
                    "category": c.id,
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "group": c.group,
                    "class_zh": c.class_zh,
                    "area_type": area,
                    "area_type_en": self.area_types[area].name_en,
                    "tier_min": c.tier_min,
                    "threshold_m": threshold,
                    "mode": mode.name,
                    "mode_zh": mode.name_zh,
                    "speed_kmh": float(speed),
                    "label_zh": threshold_label(threshold, mode, speed),
                    "label_en": threshold_label(threshold, mode, speed, english=True),
                    "target_share": c.target_share,
                    "target_group": c.target_group,
                    "informational": c.informational,
                    "department": c.department,
                    "priority": float("nan") if rank is None else float(rank),
                    "source_tier_min": c.sources.get("tier_min", ""),
                    "source_threshold_m": src_thr,
                    "source_mode": src_mode,
                    "source_speed_kmh": src_speed,
                    "source_target_share": c.sources.get("target_share", ""),
                }
                flags = {
                    f"assumption_{k}": _is_assumption(row[f"source_{k}"])
                    for k in ("tier_min", "threshold_m", "speed_kmh", "target_share")
                }
                row.update(flags)
                row["assumption"] = any(flags.values()) or _is_assumption(src_mode)
                rows.append(row)
        return pd.DataFrame(rows)

    def sources_table(self) -> pd.DataFrame:
        """Return every number (and standard setting) of the profile with its source.

        Returns
        -------
        DataFrame
            ``where`` (``"profile"``, ``"area_types.新城"``, ``"modes.slow"``, ``"tiers.15"``,
            ``"target_groups.60+"``, ``"unit_standard"``, ``"category health"``,
            ``"indicator coverage_2025_basic"``), ``key`` (e.g. ``"threshold_m.新城"``),
            ``value``, ``source`` and ``assumption`` (the source says it is one).

        Examples
        --------
        >>> t = load_profile("shanghai-2025").sources_table()
        >>> t[(t["where"] == "modes.slow")]["key"].tolist()
        ['speed_kmh']
        >>> bool(t["source"].str.len().gt(0).all())
        True
        """
        import pandas as pd

        rows: list[tuple[str, str, object, str]] = []
        head = self.raw.get("profile", {})
        walk_src = self.modes[WALK].source if WALK in self.modes else head["walk_speed_source"]
        rows.append(("profile", "walk_speed_kmh", self.walk_speed_kmh, walk_src))
        for area in self.area_types.values():
            value = " > ".join(area.priorities) or "—"
            rows.append((f"area_types.{area.name}", "priorities", value, area.source))
        for mode in self.modes.values():
            if mode.name != WALK:
                rows.append((f"modes.{mode.name}", "speed_kmh", mode.speed_kmh, mode.source))
        for key, tier in sorted(self.raw.get("tiers", {}).items(), key=lambda kv: int(kv[0])):
            per_area = _per_area(tier["source"], AREA_TYPES)
            modes = {**dict.fromkeys(AREA_TYPES, WALK), **tier.get("mode", {})}
            for area in AREA_TYPES:
                where = f"tiers.{key}"
                rows.append(
                    (where, f"threshold_m.{area}", float(tier["threshold_m"][area]), per_area[area])
                )
                if modes[area] != WALK:
                    rows.append((where, f"mode.{area}", modes[area], per_area[area]))
        for group in self.target_groups.values():
            rows.append(
                (f"target_groups.{group.id}", "default_share", group.default_share, group.source)
            )
        unit = self.unit_standard
        if unit is not None:
            rows.append(("unit_standard", "target_share", unit.target_share, unit.source))
            if unit.informational_tiers:
                tiers = ", ".join(str(t) for t in unit.informational_tiers)
                rows.append(
                    ("unit_standard", "informational_tiers", tiers, unit.informational_source)
                )
        for c in self.categories:
            where = f"category {c.id}"
            rows.append((where, "tier_min", c.tier_min, c.sources.get("tier_min", "")))
            for area in AREA_TYPES:
                src = c.threshold_sources.get(area, "")
                rows.append((where, f"threshold_m.{area}", c.thresholds_m[area], src))
                if c.modes.get(area, WALK) != WALK:
                    mode_src = c.sources.get("mode") or src
                    rows.append((where, f"mode.{area}", c.modes[area], mode_src))
            rows.append((where, "target_share", c.target_share, c.sources.get("target_share", "")))
            if c.walk_speed_kmh is not None:
                rows.append(
                    (where, "walk_speed_kmh", c.walk_speed_kmh, c.sources.get("walk_speed_kmh", ""))
                )
            if c.target_group != ALL:
                src = c.sources.get("target_group") or "not stated"
                rows.append((where, "target_group", c.target_group, src))
            if c.department is not None:
                src = c.sources.get("department") or "not stated"
                rows.append((where, "department", c.department, src))
            if c.informational:
                src = c.sources.get("informational") or (
                    f"[unit_standard] informational_tiers: {unit.informational_source}"
                    if unit is not None and c.tier_min in unit.informational_tiers
                    else "not stated"
                )
                rows.append((where, "informational", True, src))
        for ind in self.indicators:
            where = f"indicator {ind.id}"
            rows.append((where, "target", ind.target, ind.source))
            if ind.categories_source:
                rows.append((where, "categories", ", ".join(ind.categories), ind.categories_source))
        out = pd.DataFrame(rows, columns=["where", "key", "value", "source"])
        out["assumption"] = out["source"].map(_is_assumption).astype(bool)
        return out

    def assumptions(self) -> pd.DataFrame:
        """Return the rows of :meth:`sources_table` whose source says they are an assumption.

        >>> len(load_profile("shanghai-2025").assumptions()) > 0
        True
        """
        t = self.sources_table()
        return t[t["assumption"]].reset_index(drop=True)


def threshold_label(
    threshold_m: float, mode: Mode, speed_kmh: float | None = None, english: bool = False
) -> str:
    """Return the label of a threshold: mode and minutes at the speed, e.g. 慢行15分钟（2000米）.

    The minutes are the distance at ``speed_kmh`` (default: the mode's), rounded: they say how
    long the distance takes, which need not be the tier's nominal minutes (1500 m of 慢行 at
    8 km/h is 11 minutes; 1000 m at an elderly 3 km/h is 20).

    Examples
    --------
    >>> slow = Mode("slow", "慢行", "slow travel (walk or cycle)", 8.0, "assumption")
    >>> threshold_label(2000, slow), threshold_label(2000, slow, english=True)
    ('慢行15分钟（2000米）', '15-min slow travel (2000 m)')
    """
    speed = mode.speed_kmh if speed_kmh is None else speed_kmh
    minutes = int(float(threshold_m) / (speed * 1000.0 / 60.0) + 0.5)
    if english:
        return f"{minutes}-min {mode.name_en.split(' (')[0]} ({threshold_m:.0f} m)"
    return f"{mode.name_zh}{minutes}分钟（{threshold_m:.0f}米）"


def _per_area(source: str | dict, areas: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Source per area type from a text (the same for all) or a table by area type."""
    if isinstance(source, dict):
        return {a: source[a] for a in areas if a in source}
    return dict.fromkeys(areas, source)


def _builtin_dir() -> Traversable:
    return resources.files(__name__)


def list_profiles() -> list[str]:
    """Names of the built-in profiles.

    >>> list_profiles()
    ['gb50180-2018', 'shanghai-2025']
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


#: lists of tables merged by ``id`` when a file extends another
_LISTS_BY_ID = ("category", "indicator")


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in _LISTS_BY_ID and isinstance(value, list) and isinstance(out.get(key), list):
            by_id = {c.get("id"): i for i, c in enumerate(out[key]) if isinstance(c, dict)}
            for item in value:
                idx = by_id.get(item.get("id")) if isinstance(item, dict) else None
                if idx is None:
                    out[key].append(copy.deepcopy(item))
                else:
                    out[key][idx] = _deep_merge(out[key][idx], item)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ------------------------------------------------------------------ area type aliases
def _canonical_table(table: object, where: str, label: str) -> object:
    """``table`` with alias keys (新市镇) renamed to their area type; others left to validation."""
    if not isinstance(table, dict):
        return table
    out: dict = {}
    for key, value in table.items():
        area = AREA_ALIASES.get(key, key)
        if area in out:
            raise ProfileError(
                f"{label}: {where} gives {area!r} twice ({key!r} is another name of {area!r})"
            )
        out[area] = value
    return out


def _normalise(data: dict, label: str) -> dict:
    """Rename area-type aliases (新市镇 → 其他地区) wherever a profile keys by area type."""
    data = copy.deepcopy(data)
    head = data.get("profile")
    if isinstance(head, dict) and isinstance(head.get("default_area_type"), str):
        head["default_area_type"] = AREA_ALIASES.get(
            head["default_area_type"], head["default_area_type"]
        )
    if isinstance(data.get("area_types"), dict):
        data["area_types"] = _canonical_table(data["area_types"], "[area_types]", label)
    tiers = data.get("tiers")
    if isinstance(tiers, dict):
        for key, tier in tiers.items():
            if isinstance(tier, dict):
                for k in ("threshold_m", "mode", "source"):
                    tier[k] = _canonical_table(tier.get(k), f"[tiers.{key}].{k}", label)
                    if tier[k] is None:
                        del tier[k]
    cats = data.get("category")
    for i, c in enumerate(cats if isinstance(cats, list) else []):
        if not isinstance(c, dict):
            continue
        where = f"category {c.get('id', i)!r}"
        for k in ("threshold_m", "mode"):
            if k in c:
                c[k] = _canonical_table(c[k], f"{where}.{k}", label)
        srcs = c.get("sources")
        if isinstance(srcs, dict) and "threshold_m" in srcs:
            srcs["threshold_m"] = _canonical_table(
                srcs["threshold_m"], f"{where}.sources.threshold_m", label
            )
    return data


# ------------------------------------------------------------------ planner overrides
def _own_threshold_sources(cat: dict) -> dict[str, str]:
    """Per area type, the source of the thresholds a raw category sets itself."""
    thr = cat.get("threshold_m")
    src = (
        cat.get("sources", {}).get("threshold_m") if isinstance(cat.get("sources"), dict) else None
    )
    if isinstance(thr, dict):
        areas = list(thr)
    elif thr is not None:
        areas = list(AREA_TYPES)
    else:
        return {}
    if isinstance(src, dict):
        return {a: str(src[a]) for a in areas if a in src}
    return dict.fromkeys(areas, str(src)) if src else {}


def _attribute(override: dict, base: dict, label: str) -> dict:
    """Give each number an override changes without a source the source ``planner override``.

    Without this, a changed ``threshold_m`` would inherit the base file's source, which
    describes the old number. Numbers given by area type (thresholds) are attributed per area
    type: the ones the override changes get the note, the others keep their source.
    """
    out = copy.deepcopy(override)

    def note(old_value: object, old_source: object) -> str:
        was = f"was {old_value!r}" if old_value is not None else "not set before"
        if isinstance(old_source, dict):
            old_source = _summarise({str(k): str(v) for k, v in old_source.items()})
        if old_source:
            was += f": {old_source}"
        return f"planner override in {label} ({was})"

    def section(new: object, old: object, keys: tuple[str, ...], source_key: str) -> None:
        if not isinstance(new, dict) or source_key in new:
            return
        old = old if isinstance(old, dict) else {}
        changed = [k for k in keys if k in new]
        if changed:
            was = {k: old.get(k) for k in changed}
            new[source_key] = note(
                was[changed[0]] if len(changed) == 1 else was, old.get(source_key)
            )

    def tables(new: object, base_tables: object, keys: tuple[str, ...], source_key: str) -> None:
        if not isinstance(new, dict):
            return
        base_tables = base_tables if isinstance(base_tables, dict) else {}
        for name, item in new.items():
            section(item, base_tables.get(name), keys, source_key)

    section(out.get("profile"), base.get("profile"), ("walk_speed_kmh",), "walk_speed_source")
    tables(out.get("area_types"), base.get("area_types"), ("priorities",), "source")
    tables(out.get("modes"), base.get("modes"), ("speed_kmh",), "source")
    tables(out.get("target_groups"), base.get("target_groups"), ("default_share",), "source")
    unit = out.get("unit_standard")
    section(unit, base.get("unit_standard"), ("target_share",), "source")
    section(unit, base.get("unit_standard"), ("informational_tiers",), "informational_source")
    base_ind = {i.get("id"): i for i in base.get("indicator", []) if isinstance(i, dict)}
    for ind in out.get("indicator", []) if isinstance(out.get("indicator"), list) else []:
        if isinstance(ind, dict) and ind.get("id") in base_ind:
            old = base_ind[ind["id"]]
            section(ind, old, ("target", "year", "level"), "source")
            section(ind, old, ("categories",), "categories_source")

    tiers, base_tiers = out.get("tiers"), base.get("tiers", {})
    if isinstance(tiers, dict):
        for key, tier in tiers.items():
            old = base_tiers.get(key, {}) if isinstance(base_tiers, dict) else {}
            if not isinstance(tier, dict) or "source" in tier:
                continue
            thr, modes = tier.get("threshold_m"), tier.get("mode")
            if thr is None and modes is None:
                continue
            if thr is None and isinstance(modes, dict):
                thr = {}  # only modes change: attribute those area types
            old_src = old.get("source")
            if not isinstance(thr, dict) or not isinstance(old.get("threshold_m"), dict):
                tier["source"] = note(old.get("threshold_m"), old_src)
                continue
            per_area = _per_area(old_src, list(old["threshold_m"])) if old_src else {}
            changed = set(thr) | (set(modes) if isinstance(modes, dict) else set())
            old_modes = old.get("mode", {}) if isinstance(old.get("mode"), dict) else {}
            for area in changed:
                was = old["threshold_m"].get(area)
                if isinstance(modes, dict) and area in modes:
                    was = f"{was} m, {old_modes.get(area, WALK)}"
                per_area[area] = note(was, per_area.get(area))
            tier["source"] = per_area

    base_cats = {c.get("id"): c for c in base.get("category", []) if isinstance(c, dict)}
    for cat in out.get("category", []) if isinstance(out.get("category"), list) else []:
        if not isinstance(cat, dict) or cat.get("id") not in base_cats:
            continue  # a new category must bring its own sources
        old = base_cats[cat["id"]]
        old_sources = old.get("sources", {}) if isinstance(old.get("sources"), dict) else {}
        given = cat.get("sources", {})
        if not isinstance(given, dict):
            continue  # the validator reports it
        # what a number was when the base category left it to a default
        unit = base.get("unit_standard", {}) if isinstance(base.get("unit_standard"), dict) else {}
        head = base.get("profile", {}) if isinstance(base.get("profile"), dict) else {}
        defaults = {
            "target_share": (unit.get("target_share"), "[unit_standard] default"),
            "walk_speed_kmh": (head.get("walk_speed_kmh"), "[profile] walking speed"),
        }
        for key in ("tier_min", "target_share", "walk_speed_kmh", "mode"):
            if key in cat and key not in given:
                value, source = old.get(key), old_sources.get(key)
                if key not in old and key in defaults and defaults[key][0] is not None:
                    value, source = defaults[key][0], defaults[key][1]
                cat.setdefault("sources", {})[key] = note(value, source)
        thr = cat.get("threshold_m")
        own = _own_threshold_sources(old)
        if thr is not None and "threshold_m" not in given:
            if isinstance(thr, dict) and isinstance(old.get("threshold_m"), dict):
                per_area = dict(own)
                for area in thr:
                    per_area[area] = note(old["threshold_m"].get(area), own.get(area))
                cat.setdefault("sources", {})["threshold_m"] = per_area
            else:
                cat.setdefault("sources", {})["threshold_m"] = note(
                    old.get("threshold_m"), old_sources.get("threshold_m")
                )
        elif isinstance(given.get("threshold_m"), dict) and isinstance(
            old.get("threshold_m"), dict
        ):
            # a table of sources for some area types: the others keep theirs
            given["threshold_m"] = {**own, **given["threshold_m"]}
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
        level to override only some keys; categories and indicators are matched by ``id``,
        new ones appended.
    overrides : dict, optional
        Keys to change, in the file's structure; categories and indicators are matched by
        ``id``.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Naming the file, the key and the problem: invalid TOML, a missing key, a value of the
        wrong type or range, an unknown key, area type, mode, class or target group, an area
        type without a threshold or without priorities, a duplicate id, a number without its
        source.

    Examples
    --------
    >>> p = load_profile("shanghai-2025",
    ...                  overrides={"category": [{"id": "bus", "threshold_m": 300}]})
    >>> p.category("bus").threshold_for("乡村")
    300.0
    >>> p.category("bus").sources["threshold_m"][:40]
    'planner override in overrides argument ('
    """
    if isinstance(profile, Profile):
        if not overrides:
            return profile
        over = _normalise(overrides, "overrides argument")
        data = _deep_merge(profile.raw, _attribute(over, profile.raw, "overrides argument"))
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
    data = _normalise(_read_toml(path, label), label)
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
        over = _normalise(overrides, "overrides argument")
        data = _deep_merge(data, _attribute(over, data, "overrides argument"))
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


def _number(
    d: dict, key: str, where: str, label: str, low: float, high: float, low_open: bool = False
) -> float:
    value = float(_need(d, key, (int, float), where, label))
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ProfileError(f"{label}: {where}.{key}={value:g} outside {bracket}{low:g}, {high:g}]")
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


def _area_sources(
    value: object, areas: list[str], where: str, label: str, what: str
) -> dict[str, str]:
    """Source per area type: a text for all of ``areas`` or a table naming each of them."""
    if isinstance(value, dict):
        for area, text in value.items():
            if area not in AREA_TYPES:
                raise ProfileError(
                    f"{label}: {where} has unknown area type {area!r}; expected {_known_areas()}"
                )
            if not isinstance(text, str) or not text.strip():
                raise ProfileError(f"{label}: {where}.{area} should be a text, got {text!r}")
        missing = [a for a in areas if a not in value]
        if missing:
            raise ProfileError(
                f"{label}: {where} gives no source for area type(s) {missing} (where {what} "
                f'comes from: the standard and clause, or "assumption"); every number of a '
                f"profile needs a source"
            )
        return {a: value[a] for a in areas}
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(
            f"{label}: {where} is missing (where {what} comes from: the standard and clause, "
            f'or "assumption"; a text, or a table by area type); every number of a profile '
            f"needs a source"
        )
    return dict.fromkeys(areas, value)


def _str_list(value: object, where: str, label: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(f"{label}: {where} should be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _table(data: dict, key: str, where: str, label: str, required: bool = False) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            raise ProfileError(f"{label}: missing {where} tables")
        return {}
    if not isinstance(value, dict):
        raise ProfileError(f"{label}: {where} should be tables such as {where[:-1]}.<name>]")
    for name, item in value.items():
        if not isinstance(item, dict):
            raise ProfileError(f"{label}: {where[:-1]}.{name}] should be a table, got {item!r}")
    return value


def _validate_head(head: dict, label: str) -> dict:
    _check_keys(head, _PROFILE_KEYS, "[profile]", label)
    out: dict[str, Any] = {"id": _need(head, "id", str, "[profile]", label)}
    lo, hi = _WALK_SPEED_RANGE
    speed = _number(head, "walk_speed_kmh", "[profile]", label, lo, hi)
    _source(head, "walk_speed_source", "[profile]", label, f"walk_speed_kmh={speed:g}")
    out["walk_speed_kmh"] = speed
    default_area = head.get("default_area_type", "中心城")
    if default_area not in AREA_TYPES:
        raise ProfileError(
            f"{label}: [profile].default_area_type={default_area!r} is not an "
            f"area type; expected one of {_known_areas()}"
        )
    out["default_area_type"] = default_area
    out["groups"] = GROUPS
    if "groups" in head:
        out["groups"] = _str_list(head["groups"], "[profile].groups", label)
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
    out["region_bbox"] = bbox
    region = head.get("region_name")
    if region is not None and not isinstance(region, str):
        raise ProfileError(f"{label}: [profile].region_name should be a string, got {region!r}")
    out["region_name"] = region
    source = head.get("source", "")
    if not isinstance(source, str):
        raise ProfileError(f"{label}: [profile].source should be a string, got {source!r}")
    out["source"] = source
    return out


def _validate_area_types(data: dict, label: str) -> dict[str, AreaType]:
    raw = _table(data, "area_types", "[area_types.*]", label, required=True)
    unknown = [a for a in raw if a not in AREA_TYPES]
    if unknown:
        raise ProfileError(
            f"{label}: [area_types] has unknown area type(s) {unknown}; expected {_known_areas()}"
        )
    missing = [a for a in AREA_TYPES if a not in raw]
    if missing:
        raise ProfileError(
            f"{label}: [area_types] is missing area type(s) {missing}: every profile defines "
            f"all of {', '.join(AREA_TYPES)} (name_en, priorities, source)"
        )
    out = {}
    for name in AREA_TYPES:
        item, where = raw[name], f"[area_types.{name}]"
        _check_keys(item, _AREA_KEYS, where, label)
        priorities = item.get("priorities")
        if not isinstance(priorities, list) or not all(isinstance(p, str) for p in priorities):
            raise ProfileError(
                f"{label}: {where}.priorities should be a list of classes such as "
                f'["基础保障", "品质提升"], got {priorities!r}'
            )
        for p in priorities:
            if p not in CLASSES:
                raise ProfileError(
                    f"{label}: {where}.priorities: unknown class {p!r}; expected one of {CLASSES}"
                )
        if len(set(priorities)) != len(priorities):
            raise ProfileError(f"{label}: {where}.priorities names a class twice: {priorities}")
        source = _source(item, "source", where, label, "the priorities")
        out[name] = AreaType(
            name=name,
            name_en=_need(item, "name_en", str, where, label),
            priorities=tuple(priorities),
            source=source,
        )
    return out


def _validate_modes(data: dict, label: str, head: dict, speed: float) -> dict[str, Mode]:
    raw = _table(data, "modes", "[modes.*]", label)
    modes = {
        WALK: Mode(WALK, "步行", "walk", speed, head["walk_speed_source"]),
    }
    lo, hi = _MODE_SPEED_RANGE
    for name, item in raw.items():
        where = f"[modes.{name}]"
        if name == WALK:
            raise ProfileError(
                f"{label}: {where}: walking is built in; set its speed in [profile].walk_speed_kmh"
            )
        _check_keys(item, _MODE_KEYS, where, label)
        mode_speed = _number(item, "speed_kmh", where, label, lo, hi)
        modes[name] = Mode(
            name=name,
            name_zh=_need(item, "name_zh", str, where, label),
            name_en=_need(item, "name_en", str, where, label),
            speed_kmh=mode_speed,
            source=_source(item, "source", where, label, f"speed_kmh={mode_speed:g}"),
        )
    return modes


def _validate_groups(data: dict, label: str) -> dict[str, TargetGroup]:
    raw = _table(data, "target_groups", "[target_groups.*]", label)
    out = {}
    for gid, item in raw.items():
        where = f'[target_groups."{gid}"]'
        if gid == ALL:
            raise ProfileError(f"{label}: {where}: 'all' (every resident) is built in")
        _check_keys(item, _GROUP_KEYS, where, label)
        share = _number(item, "default_share", where, label, 0.0, 1.0, low_open=True)
        out[gid] = TargetGroup(
            id=gid,
            name_zh=_need(item, "name_zh", str, where, label),
            name_en=_need(item, "name_en", str, where, label),
            default_share=share,
            source=_source(item, "source", where, label, f"default_share={share:g}"),
        )
    return out


def _validate_unit(data: dict, label: str) -> UnitStandard | None:
    raw = data.get("unit_standard")
    if raw is None:
        return None
    where = "[unit_standard]"
    if not isinstance(raw, dict):
        raise ProfileError(f"{label}: {where} should be a table, got {raw!r}")
    _check_keys(raw, _UNIT_KEYS, where, label)
    share = _number(raw, "target_share", where, label, 0.0, 1.0, low_open=True)
    source = _source(raw, "source", where, label, f"target_share={share:g}")
    tiers = raw.get("informational_tiers", [])
    if not isinstance(tiers, list) or any(isinstance(t, bool) or t not in TIERS_MIN for t in tiers):
        raise ProfileError(
            f"{label}: {where}.informational_tiers should be a list of tiers from {TIERS_MIN}, "
            f"got {tiers!r}"
        )
    info_source = ""
    if tiers:
        info_source = _source(raw, "informational_source", where, label, "informational_tiers")
    return UnitStandard(share, source, tuple(int(t) for t in tiers), info_source)


def _mode_table(value: object, modes: dict[str, Mode], where: str, label: str) -> dict[str, str]:
    if isinstance(value, str):
        value = dict.fromkeys(AREA_TYPES, value)
    if not isinstance(value, dict):
        raise ProfileError(
            f'{label}: {where} should be a table by area type such as {{ 乡村 = "slow" }}, '
            f"got {value!r}"
        )
    out = {}
    for area, mode in value.items():
        if area not in AREA_TYPES:
            raise ProfileError(
                f"{label}: {where} has unknown area type {area!r}; expected {_known_areas()}"
            )
        if mode not in modes:
            raise ProfileError(
                f"{label}: {where}.{area}: unknown mode {mode!r}; known: {list(modes)} "
                f"(define others in [modes.<name>])"
            )
        out[area] = mode
    return out


def _validate_tiers(
    data: dict, label: str, modes: dict[str, Mode]
) -> dict[int, tuple[dict[str, float], dict[str, str], dict[str, str]]]:
    tiers = data.get("tiers", {})
    if not isinstance(tiers, dict):
        raise ProfileError(f"{label}: tiers should be a table of [tiers.5], [tiers.10], ...")
    out = {}
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
        _check_keys(tier, _TIER_KEYS, where, label)
        thr = _check_thresholds(
            _need(tier, "threshold_m", dict, where, label), f"{where}.threshold_m", label
        )
        missing = [a for a in AREA_TYPES if a not in thr]
        if missing:
            raise ProfileError(
                f"{label}: {where}.threshold_m has no value for area type(s) {missing}; a tier "
                f"names every area type ({', '.join(AREA_TYPES)})"
            )
        mode = _mode_table(tier.get("mode", {}), modes, f"{where}.mode", label)
        src = _area_sources(
            tier.get("source"), list(AREA_TYPES), f"{where}.source", label, "threshold_m"
        )
        out[minutes] = (thr, {a: mode.get(a, WALK) for a in AREA_TYPES}, src)
    return out


def _validate(data: dict, label: str) -> Profile:
    data = _normalise(data, label)
    _check_keys(data, _TOP_KEYS, "top level", label)
    head = data.get("profile")
    if not isinstance(head, dict):
        raise ProfileError(f"{label}: missing [profile] table")
    h = _validate_head(head, label)
    area_types = _validate_area_types(data, label)
    modes = _validate_modes(data, label, head, h["walk_speed_kmh"])
    groups = _validate_groups(data, label)
    unit = _validate_unit(data, label)
    tiers = _validate_tiers(data, label, modes)

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
        cats.append(
            _validate_category(c, f"category {cid!r}", label, h, modes, groups, unit, tiers)
        )

    indicators = _validate_indicators(data, label, [c.id for c in cats])
    return Profile(
        id=h["id"],
        name_zh=head.get("name_zh", h["id"]),
        name_en=head.get("name_en", h["id"]),
        categories=tuple(cats),
        walk_speed_kmh=h["walk_speed_kmh"],
        default_area_type=h["default_area_type"],
        path=label,
        raw=data,
        region_name=h["region_name"],
        region_bbox=h["region_bbox"],
        source=h["source"],
        area_types=area_types,
        modes=modes,
        target_groups=groups,
        indicators=indicators,
        unit_standard=unit,
    )


def _validate_category(
    c: dict,
    where: str,
    label: str,
    h: dict,
    modes: dict[str, Mode],
    groups: dict[str, TargetGroup],
    unit: UnitStandard | None,
    tiers: dict[int, tuple[dict[str, float], dict[str, str], dict[str, str]]],
) -> Category:
    cid = c["id"]
    _check_keys(c, _CATEGORY_KEYS, where, label)
    group = _need(c, "group", str, where, label)
    if group not in h["groups"]:
        raise ProfileError(f"{label}: {where}.group={group!r}, expected one of {h['groups']}")
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
        if not isinstance(v, str) and not (k == "threshold_m" and isinstance(v, dict)):
            raise ProfileError(f"{label}: {where}.sources.{k} should be a string, got {v!r}")
    sources = {k: v for k, v in srcs.items() if isinstance(v, str)}
    _source(srcs, "tier_min", f"{where}.sources", label, f"tier_min={tier}")

    # thresholds: the category's own (a number for every area type, or a table), the rest
    # from its tier; each area type's source is the category's or the tier's
    default = tiers.get(tier)
    thr = c.get("threshold_m")
    if thr is None:
        own: dict[str, float] = {}
    elif isinstance(thr, (int, float)) and not isinstance(thr, bool):
        if thr <= 0:
            raise ProfileError(f"{label}: {where}.threshold_m={thr} must be > 0")
        own = dict.fromkeys(AREA_TYPES, float(thr))
    elif isinstance(thr, dict):
        own = _check_thresholds(thr, f"{where}.threshold_m", label)
    else:
        raise ProfileError(
            f"{label}: {where}.threshold_m should be a number or a table by area type, got {thr!r}"
        )
    missing = [a for a in AREA_TYPES if a not in own]
    if missing and default is None:
        raise ProfileError(
            f"{label}: {where}.threshold_m has no value for area type(s) {missing} and there "
            f"is no [tiers.{tier}] default"
        )
    thresholds = {a: own[a] if a in own else default[0][a] for a in AREA_TYPES}
    threshold_sources = {}
    if own:
        threshold_sources = _area_sources(
            srcs.get("threshold_m"), list(own), f"{where}.sources.threshold_m", label, "threshold_m"
        )
    for a in missing:
        threshold_sources[a] = f"[tiers.{tier}] default: {default[2][a]}"
    threshold_sources = {a: threshold_sources[a] for a in AREA_TYPES}
    if own:
        sources["threshold_m"] = _summarise(threshold_sources)
    else:
        sources["threshold_m"] = f"[tiers.{tier}] default: {_summarise(default[2])}"

    cat_modes = {a: default[1][a] if default else WALK for a in AREA_TYPES}
    if "mode" in c:
        cat_modes.update(_mode_table(c["mode"], modes, f"{where}.mode", label))

    if "target_share" in c:
        target = _number(c, "target_share", where, label, 0.0, 1.0, low_open=True)
        _source(srcs, "target_share", f"{where}.sources", label, f"target_share={target:g}")
    elif unit is not None:
        target = unit.target_share
        sources["target_share"] = f"[unit_standard] default: {unit.source}"
    else:
        raise ProfileError(
            f"{label}: {where} is missing key 'target_share' and the profile has no "
            f"[unit_standard] target_share to default to"
        )

    target_group = c.get("target_group", ALL)
    if target_group != ALL and target_group not in groups:
        raise ProfileError(
            f"{label}: {where}.target_group={target_group!r} is not defined; known: "
            f'{[ALL, *groups]} (define it in [target_groups."{target_group}"])'
        )
    informational = c.get("informational")
    if informational is None:
        informational = unit is not None and tier in unit.informational_tiers
    elif not isinstance(informational, bool):
        raise ProfileError(
            f"{label}: {where}.informational should be true/false, got {informational!r}"
        )
    department = c.get("department")
    if department is not None and (not isinstance(department, str) or not department.strip()):
        raise ProfileError(
            f"{label}: {where}.department should be the responsible department's name "
            f"(教育, 交通 …), got {department!r}"
        )
    walk_speed = None
    if "walk_speed_kmh" in c:
        lo, hi = _WALK_SPEED_RANGE
        walk_speed = _number(c, "walk_speed_kmh", where, label, lo, hi)
        _source(srcs, "walk_speed_kmh", f"{where}.sources", label, f"walk_speed_kmh={walk_speed:g}")

    return Category(
        id=cid,
        name_zh=_need(c, "name_zh", str, where, label),
        name_en=_need(c, "name_en", str, where, label),
        group=group,
        class_zh=klass,
        tier_min=tier,
        thresholds_m=thresholds,
        target_share=target,
        facility_types=_str_list(c.get("facility_types", []), f"{where}.facility_types", label),
        osm_rules=_rules(c, "osm", where, label),
        name_rules=_rules(c, "names", where, label),
        amap_rules=_rules(c, "amap", where, label),
        sources=sources,
        exclude_rules=_rules(c, "exclude", where, label),
        target_group=target_group,
        informational=informational,
        department=department,
        walk_speed_kmh=walk_speed,
        modes=cat_modes,
        threshold_sources=threshold_sources,
    )


def _validate_indicators(data: dict, label: str, category_ids: list[str]) -> tuple[Indicator, ...]:
    raw = data.get("indicator", [])
    if not isinstance(raw, list):
        raise ProfileError(f"{label}: indicator should be a list of [[indicator]] tables")
    out = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"indicator[{i}]"
        if not isinstance(item, dict):
            raise ProfileError(f"{label}: {where} should be a table ([[indicator]])")
        iid = _need(item, "id", str, where, label)
        if iid in seen:
            raise ProfileError(f"{label}: {where}.id: duplicate indicator id {iid!r}")
        seen.add(iid)
        where = f"indicator {iid!r}"
        _check_keys(item, _INDICATOR_KEYS, where, label)
        level = _need(item, "level", str, where, label)
        if level not in INDICATOR_LEVELS:
            raise ProfileError(
                f"{label}: {where}.level={level!r}, expected one of {INDICATOR_LEVELS}"
            )
        target = _number(item, "target", where, label, 0.0, 1.0, low_open=True)
        cats = _str_list(
            _need(item, "categories", list, where, label), f"{where}.categories", label
        )
        unknown = [c for c in cats if c not in category_ids]
        if unknown:
            raise ProfileError(
                f"{label}: {where}.categories: unknown category id(s) {unknown}; known: "
                f"{category_ids}"
            )
        cat_source = item.get("categories_source", "")
        if not isinstance(cat_source, str):
            raise ProfileError(
                f"{label}: {where}.categories_source should be a string, got {cat_source!r}"
            )
        out.append(
            Indicator(
                id=iid,
                name_zh=_need(item, "name_zh", str, where, label),
                name_en=_need(item, "name_en", str, where, label),
                level=level,
                year=_need(item, "year", int, where, label),
                target=target,
                categories=cats,
                source=_source(item, "source", where, label, f"target={target:g}"),
                categories_source=cat_source,
            )
        )
    return tuple(out)


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
                f"{label}: {where} has unknown area type {area!r}; expected {_known_areas()}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ProfileError(f"{label}: {where}.{area}={value!r} should be metres > 0")
        out[area] = float(value)
    return out
