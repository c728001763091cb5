"""Facilities from OpenStreetMap tags and from planners' tables, classified by a profile.

Every facility becomes one row per category it serves, in one GeoDataFrame (WGS-84) with
``facility_id``, ``name``, ``category``, ``facility_type``, ``source``, ``rule`` (which profile
rule matched), ``capacity``, ``geometry`` and ``entrances``. Polygons (parks, schools) keep their
geometry; their entrances, when mapped, are kept in ``entrances`` (a MultiPoint, else None) so
routing starts at the gates, not at the centroid.

Three readers and one merger:

- :func:`from_osm`: OSM nodes, ways and multipolygon relations, classified by the profile's tag
  rules; only a feature without a primary tag (a bare ``building``) by its Chinese name.
- :func:`from_table`: a planner's table (CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, XLSX,
  GeoJSON, GPKG, SHP) with Chinese or English headers, Amap/Baidu type strings and type codes,
  and coordinates in WGS-84, GCJ-02 or BD-09. Given a network, it checks that the coordinates
  are in the system the caller says (:func:`lifecircle_geo.offset.detect_offset`).
- :func:`merge`: one list from several sources, with the same facility seen twice kept once and
  its provenance recorded.

A record's own type decides its category (:func:`explain_record`, :func:`explain_tags`): a
restaurant named 麦当劳(悦荟广场店) is never a park, a bus stop named 蓬莱公园(公交站) is a bus
stop. Each category of the profile says what is in (``osm``, ``amap``, ``names`` rules) and
what is out (``exclude`` rules), and every row keeps the rule that decided it (``rule``).

Rows left out are never dropped silently: they are kept in ``attrs["unmatched"]`` with the
reason and the rule, and logged as a warning. :func:`classification_report` (and
``lifecircle facilities check TABLE``) shows per category the rows by rule, the rows left out
and why, and suspicious rows whose names point elsewhere.

Examples
--------
>>> import lifecircle_geo as lc
>>> sample = lc.datasets.get_path("sample")
>>> osm = lc.facilities.from_osm(sample / "sample.osm")
>>> table = lc.facilities.from_table(sample / "facilities_gcj02.xlsx", coords="gcj02")
>>> fac = lc.facilities.merge(osm, table)
>>> sorted(fac["source"].unique())
['osm', 'table:facilities_gcj02.xlsx']
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import crs as lc_crs
from .errors import InputError
from .offset import detect_offset
from .standards import (
    AMAP_FAMILIES,
    Category,
    Profile,
    canonical_family,
    list_profiles,
    load_profile,
)

if TYPE_CHECKING:
    import osmium.geom
    import osmium.osm

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "HEADER_ALIASES",
    "PRIMARY_KEYS",
    "ClassificationReport",
    "Decision",
    "access_points",
    "classification_report",
    "classify_name",
    "classify_record",
    "classify_tags",
    "explain_record",
    "explain_tags",
    "from_osm",
    "from_table",
    "merge",
    "name_similarity_score",
    "to_crs",
]

COLUMNS = ["facility_id", "name", "category", "facility_type", "source", "rule", "capacity"]

#: OSM keys whose presence makes a feature a point of interest worth classifying
POI_KEYS = (
    "amenity",
    "shop",
    "office",
    "leisure",
    "healthcare",
    "social_facility",
    "tourism",
    "public_transport",
    "railway",
    "highway",
    "place",
    "building",
    "landuse",
)

#: main tags of features that are not facilities and are not reported as unmatched
_NOT_POI_PREFIXES = ("building=", "landuse=", "highway=", "place=", "railway=", "public_transport=")
_NOT_POI_KEYS = frozenset(p.rstrip("=") for p in _NOT_POI_PREFIXES)

#: common column headers of planners' tables, Chinese and English, by meaning
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "名字", "设施名称", "poi名称", "name", "poi_name", "title"),
    "type": ("类型", "类别", "设施类型", "分类", "小类", "type", "category", "kind"),
    "typecode": ("类型编码", "类型代码", "typecode", "type_code", "poi_code", "code"),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x", "wgs84_lon", "gcj02_lon", "bd09_lng"),
    "lat": ("纬度", "lat", "latitude", "y", "wgs84_lat", "gcj02_lat", "bd09_lat"),
    "lonlat": ("经纬度", "坐标", "location", "lnglat", "lonlat", "coordinates"),
    "address": ("地址", "详细地址", "address", "addr", "位置"),
    "capacity": ("容量", "规模", "床位", "床位数", "capacity", "beds", "seats"),
    "id": ("编号", "序号", "id", "poi_id", "uid", "fid"),
}
#: Chinese headers that often carry a suffix, e.g. 经度(GCJ02) or 名称 Name
_PREFIX_ALIASES = {
    "name": ("名称",),
    "type": ("类型", "类别"),
    "lon": ("经度",),
    "lat": ("纬度",),
    "address": ("地址",),
    "capacity": ("容量",),
}


# ---------------------------------------------------------------------- matching rules
#: keys whose value says what an OSM feature is: when one is present and no tag rule matches,
#: the name is not used (a restaurant called …公园店 is a restaurant, not a park)
PRIMARY_KEYS = (
    "amenity",
    "shop",
    "office",
    "leisure",
    "healthcare",
    "social_facility",
    "tourism",
    "craft",
    "emergency",
    "public_transport",
    "railway",
    "highway",
    "aeroway",
    "place",
    "landuse",
    "man_made",
)
#: a branch in brackets names where a shop is, not what it is: 麦当劳(悦荟广场店)
_BRANCH_RE = re.compile(r"\([^()]*(?:店|分店|门店|营业厅|营业部|网点|支行|分行)\)")
_CODE_RE = re.compile(r"(?<!\d)\d{6}(?!\d)")
_SPLIT_RE = re.compile(r"[|;,，；\s]+")
_WORD_RE = re.compile(r"\w")
_LOST_ZERO_RE = re.compile(r"^(\d{5})(?:\.0+)?$")


@dataclass(frozen=True)
class Decision:
    """How one record (a table row or an OSM feature) was classified, and why.

    Attributes
    ----------
    hits : tuple of (category_id, facility_type, rule)
        The categories the record serves; empty when it is left out.
    excluded : tuple of (category_id, rule)
        Categories an ``exclude`` rule kept the record out of (rule text such as
        ``"amap-code:090701"`` or ``"name~口腔"``).
    rule : str
        For a left-out record: the rule that decided, ``"exclude:<category>:<rule>"``, or
        ``"no-match:type"`` / ``"no-match:tag"`` / ``"no-match:name"`` /
        ``"no-match:no-name"``; ``""`` for a classified record.
    reason : str
        For a left-out record, why, in words; ``""`` for a classified record.
    """

    hits: tuple[tuple[str, str, str], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    rule: str = ""
    reason: str = ""


class _Records(list):
    """The left-out records of ``attrs["unmatched"]``: a list that deep-copies to itself.

    pandas deep-copies ``attrs`` on nearly every operation; a city's POI export leaves tens of
    thousands of rows out, and the records are only read, so they are shared instead.
    """

    def __deepcopy__(self, memo: dict) -> _Records:
        return self


def _rule_group(rule: str) -> str:
    """``exclude:health`` for ``exclude:health:amap-code:090701``, ``no-match:type`` as is."""
    return ":".join(str(rule).split(":", 2)[:2])


def _norm(text: object) -> str:
    """NFKC-normalized text: full-width brackets and digits become ASCII."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


def _compile_tags(wanted: dict) -> tuple[tuple[str, frozenset[str] | None], ...]:
    """Compile a rule's ``tags`` to ``(key, allowed values)``; None allows any (``"*"``)."""
    out = []
    for key, value in wanted.items():
        values = value if isinstance(value, list) else [value]
        out.append((key, None if "*" in values else frozenset(str(v) for v in values)))
    return tuple(out)


def _tags_match(
    tags: dict[str, str], wanted: tuple[tuple[str, frozenset[str] | None], ...]
) -> bool:
    for key, values in wanted:
        value = tags.get(key)
        if value is None or (values is not None and value not in values):
            return False
    return True


def _tags_text(tags: dict[str, str], wanted: dict) -> str:
    return ";".join(f"{k}={tags[k]}" for k in wanted)


def _code_matches(code: str | None, patterns: tuple[str, ...]) -> bool:
    if not code:
        return False
    return any(code == p or (p.endswith("*") and code.startswith(p[:-1])) for p in patterns)


def _levels_match(levels: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Tell whether a type's levels fit a pattern.

    The same family, then each further level of the pattern equal to one of the type's levels,
    in order: ``医疗保健服务;卫生院`` fits ``医疗保健服务;综合医院;卫生院``.
    """
    if not levels or levels[0] != pattern[0]:
        return False
    i = 1
    for want in pattern[1:]:
        while i < len(levels) and levels[i] != want:
            i += 1
        if i == len(levels):
            return False
        i += 1
    return True


def _pattern(text: str) -> tuple[str, ...]:
    levels = [p.strip() for p in _norm(text).split(";") if p.strip()]
    return (canonical_family(levels[0]) or levels[0], *levels[1:])


class _Unit:
    """One type of a table record: a code, a type string's levels, or both (paired)."""

    __slots__ = ("code", "family", "levels", "text")

    def __init__(self, code: str | None, text: str | None) -> None:
        levels = tuple(p.strip() for p in (text or "").split(";") if p.strip())
        family = canonical_family(levels[0]) if levels else None
        if family is not None:
            levels = (family, *levels[1:])
        elif code and code[:2] in AMAP_FAMILIES:
            family = AMAP_FAMILIES[code[:2]]
            levels = (family, *levels)
        self.code = code
        self.family = family
        self.levels = levels
        self.text = text or code or ""


def _type_units(type_text: str, typecode: str) -> list[_Unit]:
    """Split a record's types: ``|``-separated parts of its type text and codes, main first.

    Codes are paired with type strings when there are as many of each (as in Amap exports); a
    type column that holds codes (``090100|090300``) counts as codes; a five-digit code lost
    its leading zero in a spreadsheet (``90102`` is ``090102``).
    """
    codes = []
    for c in _SPLIT_RE.split(typecode):
        c = _LOST_ZERO_RE.sub(r"0\1", c)  # 90102 (a number in Excel, or 90102.0) is 090102
        if _CODE_RE.fullmatch(c):
            codes.append(c)
    texts = []
    for part in type_text.split("|"):
        part = part.strip()
        if not _WORD_RE.search(part):  # empty, or "-", "/": no type
            continue
        tokens = [t for t in _SPLIT_RE.split(part) if t]
        if all(_CODE_RE.fullmatch(t) for t in tokens):
            codes += tokens
        else:
            texts.append(part)
    if codes and len(codes) == len(texts):
        return [_Unit(c, t) for c, t in zip(codes, texts, strict=True)]
    return [_Unit(None, t) for t in texts] + [_Unit(c, None) for c in codes]


class _CategoryRules:
    """A category's rules, normalized once per profile."""

    def __init__(self, cat: Category) -> None:
        self.cat = cat
        self.amap = []
        for r in cat.amap_rules:
            self.amap.append(
                {
                    "codes": tuple(r.get("codes", ())),
                    "types": tuple((p, _pattern(p)) for p in r.get("types", ())),
                    "any": tuple(_norm(k) for k in r.get("any", ())),
                    "name_any": tuple(_norm(k) for k in r.get("name_any", ())),
                    "type": r["type"],
                }
            )
        self.names = [
            {
                "any": tuple(_norm(k) for k in r["any"]),
                "type": r["type"],
                "families": frozenset(canonical_family(f) for f in r.get("families", ())),
            }
            for r in cat.name_rules
        ]
        self.osm = [
            {
                "tags": r["tags"],
                "ctags": _compile_tags(r["tags"]),
                "name_any": tuple(_norm(k) for k in r.get("name_any", ())),
                "type": r["type"],
            }
            for r in cat.osm_rules
        ]
        self.exclude = []
        for r in cat.exclude_rules:
            self.exclude.append(
                {
                    "codes": tuple(r.get("codes", ())),
                    "types": tuple((p, _pattern(p)) for p in r.get("types", ())),
                    "any": tuple(_norm(k) for k in r.get("any", ())),
                    "tags": r.get("tags"),
                    "ctags": _compile_tags(r["tags"]) if "tags" in r else None,
                    "names": tuple(_norm(k) for k in r.get("names", ())),
                    "typed": any(k in r for k in ("codes", "types", "any")),
                }
            )
        self.aliases = {_norm(cat.name_zh).lower(), cat.id.lower(), cat.name_en.lower()}
        self.families = frozenset().union(*(r["families"] for r in self.names))
        words = sorted({k for r in self.names for k in r["any"]}, key=len, reverse=True)
        self.name_re = re.compile("|".join(map(re.escape, words))) if words else None

    def keyword(
        self, text: str, families: frozenset | None = None
    ) -> tuple[str, str, int, frozenset] | None:
        """Find the category's name keyword that ends last in ``text`` (the longest on a tie).

        Returns ``(facility_type, keyword, end, rule_families)``; with ``families``, only rules
        allowed in one of them are tried.
        """
        best = None
        for rule in self.names:
            if families is not None and not (rule["families"] & families):
                continue
            for kw in rule["any"]:
                at = text.rfind(kw)
                if at < 0:
                    continue
                key = (at + len(kw), len(kw))
                if best is None or key > best[0]:
                    best = (key, rule["type"], kw, rule["families"])
        return None if best is None else (best[1], best[2], best[0][0], best[3])

    def name_exclusion(self, name: str) -> str | None:
        """Return the exclude rule (names patterns only) that ``name`` matches, as text."""
        for ex in self.exclude:
            if ex["typed"] or ex["tags"] is not None or not ex["names"]:
                continue
            kw = next((k for k in ex["names"] if k in name), None)
            if kw is not None:
                return f"name~{kw}"
        return None

    def unit_exclusions(self, unit: _Unit) -> list[tuple[str, tuple[str, ...]]]:
        """Return the exclude rules on types or codes that ``unit`` matches, name aside.

        Each as ``(rule text, name patterns the rule also needs)``.
        """
        out = []
        for ex in self.exclude:
            if not ex["typed"] or ex["tags"] is not None:
                continue
            parts = []
            if ex["codes"]:
                if not _code_matches(unit.code, ex["codes"]):
                    continue
                parts.append(f"amap-code:{unit.code}")
            if ex["types"]:
                hit = next((p for p, lv in ex["types"] if _levels_match(unit.levels, lv)), None)
                if hit is None:
                    continue
                parts.append(f"amap-type:{hit}")
            if ex["any"]:
                kw = next((k for k in ex["any"] if k in unit.text), None)
                if kw is None:
                    continue
                parts.append(f"amap-type:{kw}")
            out.append((";".join(parts), ex["names"]))
        return out

    def tag_exclusion(self, tags: dict[str, str], name: str) -> str | None:
        """Return the exclude rule on OSM tags and/or names that a feature matches."""
        for ex in self.exclude:
            if ex["typed"]:
                continue
            parts = []
            if ex["tags"] is not None:
                if not _tags_match(tags, ex["ctags"]):
                    continue
                parts.append(f"osm:{_tags_text(tags, ex['tags'])}")
            if ex["names"]:
                kw = next((k for k in ex["names"] if k in name), None)
                if kw is None:
                    continue
                parts.append(f"name~{kw}")
            if parts:
                return ";".join(parts)
        return None

    def amap_includes(self, unit: _Unit) -> list[tuple[str, str, tuple[str, ...]]]:
        """Return the Amap rules ``unit`` matches, name aside, in order.

        Each as ``(facility_type, rule text, name keywords the rule also needs)``.
        """
        out = []
        for rule in self.amap:
            text = None
            if unit.code and _code_matches(unit.code, rule["codes"]):
                text = f"amap-code:{unit.code}"
            if text is None and unit.family is not None:
                hit = next((p for p, lv in rule["types"] if _levels_match(unit.levels, lv)), None)
                if hit is not None:
                    text = f"amap-type:{hit}"
            if text is None and unit.text:
                kw = next((k for k in rule["any"] if k in unit.text), None)
                if kw is not None:
                    text = f"amap-type:{kw}"
            if text is not None:
                out.append((rule["type"], text, rule["name_any"]))
        return out


class _TypeMatch:
    """What a record's types (type text and code) match in each category, its name aside."""

    __slots__ = ("families", "per_category", "shown", "units")

    def __init__(self, type_text: str, typecode: str, rules: _RuleList) -> None:
        self.units = _type_units(type_text, typecode)
        self.families = frozenset(u.family for u in self.units if u.family is not None)
        self.shown = "|".join(u.text for u in self.units)
        # a planner's own words as the type (宝宝屋, 社区食堂): the categories' keywords decide
        plain: dict[int, dict[str, tuple[str, str]]] = {}
        for i, u in enumerate(self.units):
            if u.family is None:
                hits, _ = _by_keywords(u.text, rules, "type", strip_branch=False)
                plain[i] = {c: (t, r) for c, t, r in hits}
                for cr in rules:
                    if plain[i] and cr.cat.id not in plain[i]:
                        continue  # the keywords decided
                    if u.text in cr.cat.facility_types:  # 广场, 口袋公园: the type itself
                        plain[i].setdefault(cr.cat.id, (u.text, f"type:={u.text}"))
                    elif u.text.lower() in cr.aliases:  # 医疗卫生: the category's own name
                        ftype = (
                            cr.cat.facility_types[0] if cr.cat.facility_types else cr.cat.name_zh
                        )
                        plain[i].setdefault(cr.cat.id, (ftype, f"type:={u.text}"))
        #: category → per unit: (exclusions, includes, plain hit)
        self.per_category: dict[str, list] = {}
        for cr in rules:
            per_unit, any_match = [], False
            for i, u in enumerate(self.units):
                ex = cr.unit_exclusions(u)
                inc = cr.amap_includes(u)
                hit = plain.get(i, {}).get(cr.cat.id)
                any_match = any_match or bool(ex or inc or hit)
                per_unit.append((ex, inc, hit))
            if any_match or (cr.families & self.families):
                self.per_category[cr.cat.id] = per_unit


class _RuleList(list):
    """A profile's :class:`_CategoryRules`, with one pattern of all their name keywords."""

    def __init__(self, rules: list[_CategoryRules]) -> None:
        super().__init__(rules)
        #: tag key → positions of the categories with an OSM rule on that key
        self.by_key: dict[str, list[int]] = {}
        for i, cr in enumerate(rules):
            for key in {k for r in cr.osm for k in r["tags"]}:
                self.by_key.setdefault(key, []).append(i)
        #: tag key → the values some OSM rule's first tag allows (None: any): a feature with
        #: none of them matches no rule, so it can be neither included nor excluded
        self.first_tags: dict[str, frozenset[str] | None] = {}
        for cr in rules:
            for r in cr.osm:
                if not r["ctags"]:
                    continue
                key, values = r["ctags"][0]
                known = self.first_tags.get(key, frozenset())
                self.first_tags[key] = None if values is None or known is None else known | values
        words = sorted(
            {k for cr in rules for r in cr.names for k in r["any"]}, key=len, reverse=True
        )
        self.name_re = re.compile("|".join(map(re.escape, words))) if words else None
        #: name → the categories its name alone says, with the keyword (classification_report)
        self.name_says: dict[str, list[tuple[str, str]]] = {}

    def may_match(self, tags: Any) -> bool:
        """Whether any OSM rule could match ``tags`` (False: no category takes or excludes it).

        ``tags`` is a dict or anything with ``get`` (an osmium tag list).
        """
        for key, values in self.first_tags.items():
            value = tags.get(key)
            if value is not None and (values is None or value in values):
                return True
        return False


_COMPILED: dict[int, tuple[Profile, _RuleList]] = {}


def _compiled(profile: Profile) -> _RuleList:
    """Return the compiled rules of ``profile``.

    An equal profile read again shares them and their caches (a batch worker reads the
    profile once per task).
    """
    entry = _COMPILED.get(id(profile))
    if entry is None or entry[0] is not profile:
        same = next((e for e in _COMPILED.values() if e[0] == profile), None)
        if len(_COMPILED) > 16:
            _COMPILED.clear()
            _TYPE_CACHE.clear()
        rules = same[1] if same else _RuleList([_CategoryRules(c) for c in profile.categories])
        entry = (profile, rules)
        _COMPILED[id(profile)] = entry
    return entry[1]


#: type text and code → match, per compiled rules (by id: they live in _COMPILED)
_TYPE_CACHE: dict[int, dict[tuple[str, str], _TypeMatch]] = {}


def _type_match(type_text: str, typecode: str, profile: Profile) -> _TypeMatch:
    """:class:`_TypeMatch` of a type text and code, cached per profile (exports repeat types)."""
    rules = _compiled(profile)
    cache = _TYPE_CACHE.setdefault(id(rules), {})
    key = (type_text, typecode)
    found = cache.get(key)
    if found is None:
        if len(cache) > 20_000:
            cache.clear()
        found = cache[key] = _TypeMatch(type_text, typecode, rules)
    return found


def _by_keywords(
    text: str, rules: _RuleList, prefix: str, strip_branch: bool = True
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Categories whose name keywords ``text`` contains, the head noun deciding.

    In a Chinese name the thing named comes last: 蓬莱公园(公交站) is a bus stop, 示例公园儿童乐园
    a playground. So only the categories whose keyword ends last in the name are kept (on a tie
    the longest keyword; categories still tied are all kept). A branch in brackets (…店) is
    removed first, and a category's exclude rules on names keep it out.
    """
    clean = _BRANCH_RE.sub("", text) if strip_branch else text
    found, excluded = [], []
    if getattr(rules, "name_re", None) is not None and not rules.name_re.search(clean):
        return found, excluded
    for cr in rules:
        if cr.name_re is None or not cr.name_re.search(clean):
            continue
        kw = cr.keyword(clean)
        if kw is None:
            continue
        ex = cr.name_exclusion(text)
        if ex is not None:
            excluded.append((cr.cat.id, ex))
            continue
        found.append(((kw[2], len(kw[1])), cr.cat.id, kw[0], kw[1]))
    if not found:
        return [], excluded
    best = max(f[0] for f in found)
    return [(c, t, f"{prefix}:{k}") for key, c, t, k in found if key == best], excluded


def _excluded_text(excluded: list[tuple[str, str]], profile: Profile) -> tuple[str, str]:
    cat_id, rule = excluded[0]
    names = "; ".join(f"{profile.category(c).name_zh} ({c}) by {r}" for c, r in excluded)
    return f"exclude:{cat_id}:{rule}", f"excluded from {names}"


def _decide_by_name(name: str, rules: Any, prefix: str, profile: Profile, without: str) -> Decision:
    """Decide a record that has no usable type or tag by its name's keywords alone.

    ``without`` says what the record lacks (``"no type"``, ``"no matching tag"``), for the
    reason of a record left out.
    """
    if not name:
        return Decision(rule="no-match:no-name", reason=f"{without} and no name")
    hits, excluded = _by_keywords(name, rules, prefix)
    if hits:
        return Decision(tuple(hits), tuple(excluded))
    if excluded:
        return Decision((), tuple(excluded), *_excluded_text(excluded, profile))
    return Decision(rule="no-match:name", reason=f"{without}, and the name matches no category")


def _decide_record(name: str, type_text: str, typecode: str, profile: Profile) -> Decision:
    name, type_text, typecode = _norm(name), _norm(type_text), _norm(typecode)
    rules = _compiled(profile)
    if not type_text and not typecode:
        return _decide_by_name(name, rules, "name", profile, "no type")
    tm = _type_match(type_text, typecode, profile)
    if not tm.units:  # a type column holding nothing usable (e.g. "-"): as if it had no type
        return _decide_record(name, "", "", profile)
    clean = _BRANCH_RE.sub("", name)
    hits, excluded, related = [], [], []
    for cr in rules:
        per_unit = tm.per_category.get(cr.cat.id)
        if per_unit is None:
            continue
        hit, unit_ex, rel = None, None, False
        for ex_list, inc_list, plain in per_unit:
            ex = next((t for t, need in ex_list if not need or any(k in name for k in need)), None)
            inc = None
            for ftype, text, need in inc_list:
                rel = True
                if not need:
                    inc = (ftype, text)
                    break
                kw = next((k for k in need if k in name), None)
                if kw is not None:
                    inc = (ftype, f"{text};name~{kw}")
                    break
            if inc is None and plain is not None:
                inc, rel = plain, True
            if ex is not None:
                unit_ex = unit_ex or ex
            elif inc is not None and hit is None:
                hit = inc
        if hit is None and unit_ex is None and cr.families & tm.families:
            kw = cr.keyword(clean, tm.families)
            if kw is not None:
                fam = next(u.family for u in tm.units if u.family in kw[3])
                hit = (kw[0], f"amap-family:{fam};name~{kw[1]}")
        name_ex = cr.name_exclusion(name) if (hit is not None or rel) else None
        if name_ex is not None:
            excluded.append((cr.cat.id, unit_ex or name_ex))
        elif hit is not None:
            hits.append((cr.cat.id, hit[0], hit[1]))
        elif unit_ex is not None:
            excluded.append((cr.cat.id, unit_ex))
        elif rel:
            related.append(cr.cat)
    if hits:
        return Decision(tuple(hits), tuple(excluded))
    if excluded:
        return Decision((), tuple(excluded), *_excluded_text(excluded, profile))
    reason = f"type {tm.shown} matches no category (the name is not used when there is a type)"
    if related:
        cats = ", ".join(f"{c.name_zh} ({c.id})" for c in related)
        reason += f"; {cats} takes this type only with a name keyword, and the name has none"
    return Decision(rule="no-match:type", reason=reason)


def _primary_tag(tags: dict[str, str]) -> str | None:
    return next((f"{k}={tags[k]}" for k in PRIMARY_KEYS if k in tags), None)


def _decide_tags(tags: dict[str, str], profile: Profile) -> Decision:
    name = _norm(tags.get("name", "") or tags.get("name:zh", ""))
    rules = _compiled(profile)
    hits, excluded = [], []
    # only categories with a rule on one of the feature's keys can match (or exclude) it
    candidates = sorted({i for k in tags if k in rules.by_key for i in rules.by_key[k]})
    for cr in (rules[i] for i in candidates):
        inc, related = None, False
        for rule in cr.osm:
            if not _tags_match(tags, rule["ctags"]):
                continue
            related = True
            text = _tags_text(tags, rule["tags"])
            if rule["name_any"]:
                kw = next((k for k in rule["name_any"] if k in name), None)
                if kw is None:
                    continue
                text += f";name~{kw}"
            inc = (rule["type"], f"osm:{text}")
            break
        if not related:
            continue
        ex = cr.tag_exclusion(tags, name)
        if ex is not None:
            excluded.append((cr.cat.id, ex))
        elif inc is not None:
            hits.append((cr.cat.id, inc[0], inc[1]))
    if hits:
        return Decision(tuple(hits), tuple(excluded))
    if excluded:
        return Decision((), tuple(excluded), *_excluded_text(excluded, profile))
    primary = _primary_tag(tags)
    if primary is not None:
        return Decision(
            rule="no-match:tag",
            reason=f"{primary} matches no category (the name is not used when a tag says "
            f"what the feature is)",
        )
    return _decide_by_name(name, rules, "osm-name", profile, "no matching tag")


def explain_tags(tags: dict[str, str], profile: str | Profile = "shanghai-2025") -> Decision:
    """How an OSM feature is classified, and why it is left out when it is.

    Per category, its ``exclude`` rules win over its tag rules (``osm``). Only a feature with
    no primary tag (:data:`PRIMARY_KEYS`: ``amenity``, ``shop``, ``highway``,
    ``public_transport``, …), e.g. a bare ``building``, is classified by its name (see
    :func:`explain_record`): a primary tag that no rule takes says what the feature is, and a
    name never overrides it.

    Parameters
    ----------
    tags : dict
        The feature's OSM tags.
    profile : str or Profile

    Returns
    -------
    Decision

    Examples
    --------
    >>> d = explain_tags({"amenity": "restaurant", "name": "星巴克(蓬莱公园店)"})
    >>> d.hits, d.rule
    ((), 'no-match:tag')
    >>> explain_tags({"amenity": "clinic", "name": "示例口腔诊所"}).rule
    'exclude:health:name~口腔'
    """
    return _decide_tags(tags, load_profile(profile))


def explain_record(
    name: str,
    type_text: str = "",
    typecode: str = "",
    profile: str | Profile = "shanghai-2025",
) -> Decision:
    """How a table row is classified, and why it is left out when it is.

    A row with a type (an Amap/Baidu type string ``大类;中类;小类``, several separated by
    ``|``, or a six-digit Amap type code) is classified by its type:

    1. per category, an ``exclude`` rule on the type (``codes``, ``types``, ``any``) or on the
       name (``names``) keeps the row out of that category, whatever else matches;
    2. the category's ``amap`` rules: ``codes`` (``090102``, or a prefix ``0907*``),
       ``types`` (``医疗保健服务;综合医院;卫生院``: the same family, then each further level
       equal to one of the row's, in order), ``any`` (a word in the type string); a rule with
       ``name_any`` also needs one of those words in the name;
    3. a type in a planner's own words (no Amap/Baidu family, e.g. ``宝宝屋``): the
       categories' name keywords in it, or the category's own name (``医疗卫生``);
    4. a ``names`` rule with ``families``: its keywords in the name, for a row of one of
       those families only (社区食堂 typed ``餐饮服务``).

    A row whose type matches no category is left out: its name is not used, so a restaurant
    named 麦当劳(悦荟广场店) is never a park. Only a row without any type is classified by its
    name: the categories' name keywords, the one ending last winning (the head noun:
    蓬莱公园(公交站) is a bus stop), a branch in brackets (…店) ignored.

    Parameters
    ----------
    name, type_text, typecode : str
        The row's name, type and type code ("" where the table has none).
    profile : str or Profile

    Returns
    -------
    Decision

    Examples
    --------
    >>> explain_record("麦当劳(悦荟广场店)", "餐饮服务;快餐厅;麦当劳").rule
    'no-match:type'
    >>> explain_record("某宠物诊所", "医疗保健服务;动物医疗场所;宠物诊所", "090701").rule
    'exclude:health:amap-code:090701'
    >>> explain_record("蓬莱公园(公交站)").hits
    (('bus', '公交站', 'name:(公交站)'),)
    """
    return _decide_record(name, type_text, typecode, load_profile(profile))


def classify_tags(tags: dict[str, str], profile: Profile) -> list[tuple[str, str, str]]:
    """Categories an OSM feature serves: ``[(category_id, facility_type, rule), ...]``.

    A tag rule matches when every tag it names has one of the listed values (``"*"``: any
    value) and, if it has ``name_any``, the name contains one of the keywords; the first rule of
    a category that matches wins, unless one of the category's ``exclude`` rules matches. Only
    a feature without a primary tag (a bare ``building``, …) is classified by its Chinese name
    (see :func:`explain_tags`, which also says why a feature is left out).

    Parameters
    ----------
    tags : dict
        The feature's OSM tags.
    profile : Profile
        Standards profile whose ``osm``, ``names`` and ``exclude`` rules classify.

    Returns
    -------
    list of (category_id, facility_type, rule)
        ``rule`` says what matched: ``"osm:amenity=kindergarten"`` or ``"osm-name:宝宝屋"``.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> prof = load_profile("shanghai-2025")
    >>> classify_tags({"amenity": "kindergarten", "name": "示例幼儿园"}, prof)
    [('kindergarten', '幼儿园', 'osm:amenity=kindergarten')]
    >>> classify_tags({"building": "yes", "name": "示例街道宝宝屋"}, prof)
    [('childcare', '宝宝屋', 'osm-name:宝宝屋')]
    >>> classify_tags({"highway": "bus_stop", "name": "示例敬老院站"}, prof)
    [('bus', '公交站', 'osm:highway=bus_stop')]
    """
    return list(_decide_tags(tags, profile).hits)


def classify_name(text: str, category: Category) -> tuple[str, str] | None:
    """``(facility_type, keyword)`` when ``text`` contains one of a category's name keywords.

    The keyword ending last wins (the longest on a tie); None also when one of the category's
    exclude rules on names matches.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> cat = load_profile("shanghai-2025").category("party_service")
    >>> classify_name("外滩街道六艺亭", cat)
    ('六艺亭', '六艺亭')
    >>> classify_name("示例街道派出所居委会警务室", cat) is None
    True
    """
    text = _norm(text)
    if not text:
        return None
    cr = _CategoryRules(category)
    found = cr.keyword(text)
    if found is None or cr.name_exclusion(text) is not None:
        return None
    return found[0], found[1]


def classify_record(
    name: str,
    type_text: str,
    typecode: str,
    profile: Profile,
) -> list[tuple[str, str, str]]:
    """Categories a table row serves: ``[(category_id, facility_type, rule), ...]``.

    The row's type decides (Amap type codes, Amap/Baidu type strings, a planner's own type
    words); its name only when it has no type, or where a category allows a name within the
    row's type family. See :func:`explain_record` for the rules, and for why a row is left out.

    Parameters
    ----------
    name, type_text, typecode : str
        The row's name, type and type code ("" where the table has none).
    profile : Profile

    Returns
    -------
    list of (category_id, facility_type, rule)
        ``rule`` is ``"amap-code:090102"``, ``"amap-type:医疗保健服务;综合医院;卫生院"``,
        ``"amap-family:餐饮服务;name~社区食堂"``, ``"type:宝宝屋"`` or ``"name:社区食堂"``.

    Examples
    --------
    >>> from lifecircle_geo.standards import load_profile
    >>> prof = load_profile("shanghai-2025")
    >>> classify_record("示例社区卫生服务站",
    ...                 "医疗保健服务;诊所;诊所|医疗保健服务;医药保健销售店;药房",
    ...                 "090300|090601", prof)  # doctest: +NORMALIZE_WHITESPACE
    [('health', '社区卫生服务站', 'amap-type:医疗保健服务;name~社区卫生服务站'),
     ('pharmacy', '药店', 'amap-code:090601')]
    >>> classify_record("云栖长者食堂", "", "", prof)
    [('dining', '社区食堂', 'name:长者食堂')]
    """
    return list(_decide_record(name, type_text, typecode, profile).hits)


# ---------------------------------------------------------------------- OSM
def from_osm(
    path: str | os.PathLike,
    profile: str | Profile = "shanghai-2025",
) -> gpd.GeoDataFrame:
    """Facilities from an OSM file: nodes, ways and multipolygon relations.

    Closed ways and multipolygon relations become polygons (through osmium's area assembly),
    open ways lines, nodes points. Nodes tagged ``entrance=*`` lying on a polygon's boundary
    become that facility's ``entrances``. Features are classified by :func:`explain_tags`: a
    tag rule beats a name, and a feature whose primary tag (``amenity=restaurant``,
    ``highway=bus_stop``, ``shop=*``, …) no rule takes is left out whatever its name says.

    Parameters
    ----------
    path : str or path-like
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf``.
    profile : str or Profile
        Standards profile whose matching rules classify the features.

    Returns
    -------
    GeoDataFrame
        WGS-84; one row per (feature, category); ``facility_id`` is ``osm/node/ID``,
        ``osm/way/ID`` or ``osm/relation/ID``. ``attrs["unmatched"]`` lists the POIs left out
        (``facility_id``, ``name``, ``tag``: the main tag, ``reason``, ``rule``: the exclude rule
        or ``no-match:…``, ``source``; see :func:`explain_tags`),
        ``attrs["unmatched_by_tag"]`` counts them by their main tag, ``attrs["records_read"]``
        counts the POIs classified or left out (streets, buildings and other features that are
        no POI and match no rule are not counted). :func:`classification_report` reads them.

    Raises
    ------
    InputError
        For a missing, empty or unreadable file.

    Examples
    --------
    >>> from lifecircle_geo.datasets import get_path
    >>> fac = from_osm(get_path("sample") / "sample.osm")
    >>> fac.loc[fac.name == "示例公园", ["facility_id", "category", "rule"]].values.tolist()
    [['osm/way/50', 'park', 'osm:leisure=park']]
    """
    import osmium

    from .network.osm import check_osm_path

    p = check_osm_path(path)
    prof = load_profile(profile)
    rules = _compiled(prof)
    rows: list[dict] = []
    geoms: list = []
    entrances: list[tuple[float, float]] = []
    node_xy: list[tuple[float, float]] = []
    unmatched: list[dict] = _Records()
    n_classified = 0
    wkb = osmium.geom.WKBFactory()
    # osmium drops in C++ every object with none of the keys read below (the untagged nodes
    # of streets are most of a file); locations and areas are assembled before the filter
    proc = (
        osmium.FileProcessor(str(p))
        .with_locations()
        .with_areas()
        .with_filter(osmium.filter.KeyFilter(*POI_KEYS, "entrance"))
    )
    try:
        for obj in proc:
            tags = obj.tags
            if obj.is_node():
                if "entrance" in tags:
                    loc = obj.location
                    if loc.valid():
                        entrances.append((loc.lon, loc.lat))
            elif obj.is_way():
                if obj.is_closed():
                    continue  # polygons come through the area assembly
            elif not obj.is_area():
                continue  # relations: multipolygons come through the area assembly
            # streets, rail and the like (a primary tag no rule takes or excludes, not
            # reported) are dropped on the tag list, before any copy of it; a bare building
            # goes on to be classified by its name
            main_key = next((k for k in POI_KEYS if k in tags), None)
            if main_key is None:
                continue
            if (
                main_key in _NOT_POI_KEYS
                and not rules.may_match(tags)
                and (main_key != "building" or any(k in tags for k in PRIMARY_KEYS))
            ):
                continue
            tag_d = dict(tags)
            if obj.is_node():
                fid = f"osm/node/{obj.id}"
            elif obj.is_way():
                fid = f"osm/way/{obj.id}"
            else:
                fid = f"osm/{'way' if obj.from_way() else 'relation'}/{obj.orig_id()}"
            decision = _decide_tags(tag_d, prof)
            hits = decision.hits
            if not hits:
                main = next((f"{k}={tag_d[k]}" for k in POI_KEYS if k in tag_d), "?")
                if decision.excluded or not main.startswith(_NOT_POI_PREFIXES):
                    unmatched.append(
                        {
                            "facility_id": fid,
                            "name": tag_d.get("name", ""),
                            "tag": main,
                            "reason": decision.reason,
                            "rule": decision.rule,
                            "source": "osm",
                        }
                    )
                continue
            if obj.is_node():  # points are made in one call after the loop
                loc = obj.location
                geom = len(node_xy) if loc.valid() else None
                if geom is not None:
                    node_xy.append((loc.lon, loc.lat))
            else:
                geom = _osm_geometry(obj, wkb)
            if geom is None:
                log.warning("%s: %s has no usable geometry (missing nodes?): left out", p.name, fid)
                unmatched.append(
                    {
                        "facility_id": fid,
                        "name": tag_d.get("name", ""),
                        "tag": "no geometry",
                        "reason": "no usable geometry (missing nodes?), though classified as "
                        + ", ".join(h[0] for h in hits),
                        "rule": "no-geometry",
                        "source": "osm",
                    }
                )
                continue
            n_classified += 1
            cap = _number(tag_d.get("capacity"))
            for cat_id, ftype, rule in hits:
                rows.append(
                    {
                        "facility_id": fid,
                        "name": tag_d.get("name", ""),
                        "category": cat_id,
                        "facility_type": ftype,
                        "source": "osm",
                        "rule": rule,
                        "capacity": cap,
                    }
                )
                geoms.append(geom)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{p}: could not be read as OSM data ({exc})") from None
    if node_xy:
        points = shapely.points(np.asarray(node_xy, dtype=np.float64))
        geoms = [points[g] if isinstance(g, int) else g for g in geoms]
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=geoms, crs=4326)
    gdf["entrances"] = _entrances_for(gdf.geometry.to_numpy(), entrances)
    by_tag: dict[str, int] = {}
    for u in unmatched:
        by_tag[u["tag"]] = by_tag.get(u["tag"], 0) + 1
    gdf.attrs.update(
        unmatched=unmatched,
        unmatched_by_tag=by_tag,
        sources=[str(p)],
        profile=prof.id,
        profile_path=prof.path,
        records_read=n_classified + len(unmatched),
    )
    log.info(
        "%s: %d facility rows (%d features) in %d categories",
        p.name,
        len(gdf),
        gdf["facility_id"].nunique(),
        gdf["category"].nunique(),
    )
    if unmatched:
        top = sorted(by_tag.items(), key=lambda kv: -kv[1])[:10]
        log.warning(
            "%s: %d OSM point(s) of interest matched no category of %s and are left "
            "out: by tag %s; e.g. %s",
            p.name,
            len(unmatched),
            prof.id,
            dict(top),
            [u["facility_id"] for u in unmatched[:10]],
        )
    return gdf


def _osm_geometry(
    obj: osmium.osm.OSMObject, wkb: osmium.geom.WKBFactory
) -> shapely.Geometry | None:
    try:
        if obj.is_node():
            loc = obj.location
            return shapely.Point(loc.lon, loc.lat) if loc.valid() else None
        if obj.is_way():
            return shapely.from_wkb(wkb.create_linestring(obj))
        geom = shapely.from_wkb(wkb.create_multipolygon(obj))
    except RuntimeError:
        return None
    if geom.is_empty:
        return None
    return geom.geoms[0] if len(geom.geoms) == 1 else geom


def _entrances_for(geoms: np.ndarray, entrances: list[tuple[float, float]]) -> list:
    """Entrance points on (within ~2 m of) each polygon's boundary; None for points."""
    out: list = [None] * len(geoms)
    if not entrances:
        return out
    pts = shapely.points(np.asarray(entrances))
    tree = shapely.STRtree(pts)
    for i, g in enumerate(geoms):
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        near = tree.query(g.boundary, predicate="dwithin", distance=2e-5)
        if len(near):
            out[i] = shapely.MultiPoint(pts[np.sort(near)])
    return out


def _number(text: object) -> float:
    try:
        return float(unicodedata.normalize("NFKC", str(text)).replace(",", "").strip())
    except (TypeError, ValueError):
        return np.nan


# ---------------------------------------------------------------------- tables
#: how each encoding is reported, in the order they are tried
_ENCODINGS = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030"))


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text of a CSV file and the name of its encoding (UTF-8 with BOM, UTF-8, GBK, GB18030)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: starts with a UTF-8 byte-order mark but is not valid "
                f"UTF-8 at byte {exc.start + 3}"
            ) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    head = raw[:4000]
    if head.count(b"\x00") > len(head) // 8:  # text has no NUL bytes; UTF-16 without a BOM does
        codec = (
            "utf-16-le" if head[1::2].count(b"\x00") > head[0::2].count(b"\x00") else "utf-16-be"
        )
        try:
            return raw.decode(codec), f"{codec.upper()} (no byte-order mark)"
        except UnicodeDecodeError:
            raise InputError(
                f"{path}: holds NUL bytes: not a text table (a binary file renamed .csv?)"
            ) from None
    for codec, label in _ENCODINGS:
        try:
            return raw.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise InputError(
        f"{path}: not readable as UTF-8, UTF-8 with BOM, GBK or GB18030 text; "
        f"save it from Excel as 'CSV UTF-8' or as .xlsx"
    )


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    text, encoding = _decode(path.read_bytes(), path)
    first = text.split("\n", 1)[0]
    sep = "\t" if "\t" in first and "," not in first else ","
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
    return df, encoding


def _norm_header(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lstrip("\ufeff").lower()


def _map_columns(df: pd.DataFrame, overrides: dict[str, str], path: Path) -> dict[str, Any]:
    """Column of the table for each meaning of :data:`HEADER_ALIASES` (None where none)."""
    cols: dict[str, Any] = {}
    used: set = set()
    for meaning, col in overrides.items():
        if col not in df.columns:
            raise InputError(
                f"{path}: column {col!r} (given for {meaning!r}) is not in the "
                f"table; columns are {list(df.columns)}"
            )
        cols[meaning] = col
        used.add(col)
    norm = {c: _norm_header(c) for c in df.columns}
    for meaning, aliases in HEADER_ALIASES.items():
        if meaning in cols:
            continue
        cols[meaning] = None
        for alias in aliases:
            hit = next((c for c, n in norm.items() if n == alias and c not in used), None)
            if hit is not None:
                cols[meaning] = hit
                used.add(hit)
                break
    for meaning, prefixes in _PREFIX_ALIASES.items():  # 经度(GCJ02), 名称 Name, ...
        if cols.get(meaning) is not None:
            continue
        hit = next((c for c, n in norm.items() if c not in used and n.startswith(prefixes)), None)
        if hit is not None:
            cols[meaning] = hit
            used.add(hit)
    return cols


def _coordinates(
    df: pd.DataFrame, cols: dict, path: Path, rownum: np.ndarray, prof: Profile
) -> tuple[np.ndarray, np.ndarray]:
    def clean(s: pd.Series) -> pd.Series:
        return (
            s.astype(str)
            .map(lambda v: unicodedata.normalize("NFKC", v))
            .str.strip()
            .str.rstrip("°")
            .str.strip()
        )

    if cols["lon"] is not None and cols["lat"] is not None:
        lon_raw, lat_raw = df[cols["lon"]].astype(str), df[cols["lat"]].astype(str)
        shown = f"{cols['lon']}/{cols['lat']}"
    else:
        parts = clean(df[cols["lonlat"]]).str.split(
            r"\s*[,，;；\s]\s*", n=1, expand=True, regex=True
        )
        parts = parts.reindex(columns=[0, 1]).astype(object).fillna("")
        lon_raw, lat_raw = parts[0], parts[1]
        shown = str(cols["lonlat"])
    lon = pd.to_numeric(clean(lon_raw), errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(clean(lat_raw), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        idx = np.flatnonzero(bad)
        where = "; ".join(
            f"row {rownum[i]}: {lon_raw.iloc[i]!r}, {lat_raw.iloc[i]!r}" for i in idx[:10]
        )
        more = f" (and {len(idx) - 10} more)" if len(idx) > 10 else ""
        raise InputError(
            f"{path}: non-numeric or missing coordinates ({shown}) in "
            f"{len(idx)} row(s): {where}{more}; expected decimal degrees such as "
            f"121.47, 31.23"
        )
    _check_swapped(lon, lat, prof, path, rownum)
    out = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if out.any():
        raise InputError(
            f"{path}: longitude/latitude out of range (|lon| ≤ 180, |lat| ≤ 90) in "
            f"rows {rownum[out][:10].tolist()}; are they projected metres? Convert "
            f"to degrees, or give a GeoPackage/shapefile with its CRS"
        )
    return lon, lat


def _check_swapped(
    lon: np.ndarray, lat: np.ndarray, prof: Profile, path: Path, rownum: np.ndarray
) -> None:
    if prof.region_bbox is None or len(lon) == 0:
        return
    x0, y0, x1, y1 = prof.region_bbox
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    swapped = ~inside & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
    if swapped.any():
        raise InputError(
            f"{path}: longitude and latitude look swapped in rows "
            f"{rownum[swapped][:10].tolist()} (longitude should be "
            f"~{(x0 + x1) / 2:.0f}, latitude ~{(y0 + y1) / 2:.0f} in "
            f"{prof.region_name or prof.id}); "
            f"name the columns with columns={{'lon': ..., 'lat': ...}}"
        )


def _warn_outside_region(
    lon: np.ndarray, lat: np.ndarray, prof: Profile, path: Path, rownum: np.ndarray, word: str
) -> list[int]:
    if prof.region_bbox is None or len(lon) == 0:
        return []
    x0, y0, x1, y1 = prof.region_bbox
    out = ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
    rows = [int(r) for r in rownum[out]]
    if rows:
        log.warning(
            "%s: %d %s(s) lie outside %s (profile %s): %ss %s; check the coordinates "
            "and the coordinate system",
            path.name,
            len(rows),
            word,
            prof.region_name or "the profile's region",
            prof.id,
            word,
            rows[:20],
        )
    return rows


def _check_ids(ids: pd.Series, col: str, path: Path, rownum: np.ndarray, word: str) -> None:
    ids = ids.astype(str).str.strip()
    dup = ids.duplicated(keep=False) & (ids != "")
    if not dup.any():
        return
    groups = {}
    for i in np.flatnonzero(dup.to_numpy()):
        groups.setdefault(ids.iloc[i], []).append(int(rownum[i]))
    text = "; ".join(
        f"{k!r} in {word}s {', '.join(map(str, v))}" for k, v in list(groups.items())[:10]
    )
    raise InputError(
        f"{path}: {len(groups)} duplicate id(s) in column {col!r}: {text}; ids "
        f"must be unique (remove the repeated {word}s or the id column)"
    )


def from_table(
    path: str | os.PathLike,
    coords: str = "wgs84",
    profile: str | Profile = "shanghai-2025",
    columns: dict | None = None,
    sheet: str | int | None = None,
    *,
    net: Any = None,
) -> gpd.GeoDataFrame:
    """Facilities from a planner's table: CSV (UTF-8, BOM, GBK/GB18030), XLSX, GeoJSON/GPKG/SHP.

    Parameters
    ----------
    path : str or path-like
        ``.csv``/``.txt`` (comma- or tab-separated), ``.xlsx``, ``.geojson``/``.json``, ``.gpkg``
        or ``.shp``. A CSV's encoding is detected and reported (log and
        ``attrs["encoding"]``).
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of the table's longitude/latitude (Amap and Tencent: gcj02,
        Baidu: bd09; ``"WGS-84"``, ``"GCJ-02"``, ``"BD-09"`` accepted too). Converted to WGS-84
        with :mod:`lifecircle_geo.crs`. For GIS files: of the geometry (a projected CRS is
        simply reprojected).
    profile : str or Profile
        Classifies rows by their type (Amap/Baidu type code or string, or a planner's own type
        words) and, only for rows without a type, by their name (see :func:`explain_record`);
        a profile's ``region_bbox`` is used to warn about points outside its region.
    columns : dict, optional
        Overrides of the column mapping, e.g. ``{"lon": "X坐标", "type": "设施类别"}``; keys are
        those of :data:`HEADER_ALIASES`: ``name``, ``type``, ``typecode``, ``lon``, ``lat``,
        ``lonlat`` (one "lon,lat" column), ``address``, ``capacity``, ``id``.
    sheet : str or int, optional
        Excel sheet (name, or number from 0). By default every sheet is considered: the sheet
        holding coordinate and name/type columns is read, a cover page or notes sheet is
        skipped, sheets with the same header are read together (a table split over sheets;
        facility ids then name the sheet), and the choice is logged.
    net : WalkNetwork, optional
        When given, the coordinates are checked against the street network with
        :func:`lifecircle_geo.offset.detect_offset`; a table whose points fit another system
        better logs a WARNING naming the likely system and the evidence. The result is kept in
        ``attrs["offset_check"]``. Without it, a table labelled GCJ-02 or BD-09 logs (INFO) how
        far its points were moved and that the label could not be checked.

    Returns
    -------
    GeoDataFrame
        WGS-84; one row per (table row, category). ``attrs``: ``unmatched`` (rows left out:
        ``row``, ``facility_id``, ``name``, ``type``, ``typecode``, ``reason``, ``rule`` (the
        exclude rule or ``no-match:…``), ``source``, ``lon``/``lat`` (WGS-84); row numbers as
        in the file, header = row 1), ``records_read``, ``encoding`` (CSV), ``coords``,
        ``columns`` (the mapping used), ``outside_region`` (row numbers), ``offset_check``,
        ``sources``, ``profile``. :func:`classification_report` reads them.

    Raises
    ------
    InputError
        Missing file or coordinate columns, non-numeric, missing, out-of-range or swapped
        coordinates, duplicate ids: each with the row numbers.

    Examples
    --------
    >>> from lifecircle_geo.datasets import get_path
    >>> fac = from_table(get_path("sample") / "facilities_gcj02.xlsx", coords="gcj02")
    >>> fac[["name", "category", "rule"]].iloc[0].tolist()
    ['云栖社区卫生服务站', 'health', 'type:社区卫生服务站']
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"facility table {p} does not exist")
    if p.is_dir():
        raise InputError(f"facility table {p} is a folder, expected a file")
    prof = load_profile(profile)
    system = lc_crs.canonical_system(coords)
    overrides = dict(columns or {})
    bad = set(overrides) - set(HEADER_ALIASES)
    if bad:
        raise InputError(
            f"unknown column mapping key(s) {sorted(bad)}; known: {sorted(HEADER_ALIASES)}"
        )
    suffix = p.suffix.lower()
    encoding = None
    geometry = None
    sheet_rows, sheet_prefix = None, None
    try:
        if suffix in (".csv", ".txt"):
            df, encoding = _read_csv(p)
            log.info("%s: read as %s text", p.name, encoding)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df, sheet_rows, sheet_prefix = _read_workbook(p, sheet, overrides)
        elif suffix in (".geojson", ".json", ".gpkg", ".shp"):
            gdf_in = gpd.read_file(p)
            geometry = gdf_in.geometry
            df = pd.DataFrame(gdf_in.drop(columns=gdf_in.geometry.name)).fillna("").astype(str)
        else:
            raise InputError(
                f"{p}: unknown table type {suffix!r}; expected .csv, .xlsx, .geojson, .gpkg or .shp"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{p}: could not be read as a table ({type(exc).__name__}: {exc})"
        ) from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    word = "feature" if geometry is not None else "row"
    rownum = np.arange(len(df)) + (1 if geometry is not None else 2)  # tables: header = row 1
    if sheet_rows is not None:  # sheets read together: each row keeps its number in its sheet
        rownum = sheet_rows
    if geometry is None:  # blank lines at the end of a sheet are not facilities
        blank = (df.astype(str).apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
        if blank.any():
            log.debug(
                "%s: %d blank row(s) skipped: %s", p.name, blank.sum(), rownum[blank][:20].tolist()
            )
            df, rownum = df[~blank].reset_index(drop=True), rownum[~blank]
            if sheet_prefix is not None:
                sheet_prefix = sheet_prefix[~blank]
    cols = _map_columns(df, overrides, p)
    if len(df) == 0:
        log.warning("%s: the table has a header but no %ss: no facilities read", p.name, word)
    if geometry is None and (cols["lon"] is None or cols["lat"] is None) and cols["lonlat"] is None:
        missing = [m for m in ("lon", "lat") if cols[m] is None]
        raise InputError(
            f"{p}: no {' and no '.join(missing)} column found; expected headers such as "
            f"经度/lon/lng and 纬度/lat, or one 经纬度/location column (columns are "
            f"{list(df.columns)}); pass columns={{'lon': ..., 'lat': ...}} to name them"
        )
    if cols["name"] is None and cols["type"] is None and cols["typecode"] is None:
        raise InputError(
            f"{p}: no name (名称), type (类型) or type code (类型编码) column; "
            f"columns are {list(df.columns)}; pass columns={{'name': ..., "
            f"'type': ...}} to name them"
        )

    if geometry is not None:
        geoms, lon_raw, lat_raw = _gis_geometry(geometry, system, p, rownum)
    else:
        lon_raw, lat_raw = _coordinates(df, cols, p, rownum, prof)
        geoms = None
    if cols["id"] is not None:
        _check_ids(df[cols["id"]], cols["id"], p, rownum, word)
        fids = [
            f"{p.stem}/{str(x).strip() or f'{word}{r}'}"
            for x, r in zip(df[cols["id"]], rownum, strict=True)
        ]
    else:
        fids = [f"{p.stem}/{word}{r}" for r in rownum]
    if sheet_prefix is not None:  # several sheets: row numbers repeat, the sheet tells them apart
        given = (
            df[cols["id"]].astype(str).str.strip().to_numpy()
            if cols["id"] is not None
            else np.full(len(df), "", dtype=object)
        )
        fids = [
            f"{p.stem}/{x}" if x else f"{p.stem}/{sp}!{word}{r}"
            for x, sp, r in zip(given, sheet_prefix, rownum, strict=True)
        ]
    lon, lat = lc_crs.convert(lon_raw, lat_raw, system, "wgs84")
    if geoms is None:
        geoms = shapely.points(lon, lat)
    outside = _warn_outside_region(lon, lat, prof, p, rownum, word)
    offset = None
    if net is not None:
        offset = detect_offset(np.column_stack([lon_raw, lat_raw]), net, labelled=system)
        log.log(offset.log_level, "%s: %s", p.name, offset.message)
    elif system != "wgs84" and len(lon):
        moved = float(np.median(_moved_m(lon_raw, lat_raw, lon, lat)))
        log.info(
            "%s: coordinates labelled %s were moved about %.0f m to WGS-84; no street network "
            "was given, so the label cannot be checked against the streets (pass net= to check "
            "it; a WGS-84 table labelled %s would be moved by mistake)",
            p.name,
            lc_crs.SYSTEM_LABELS[system],
            moved,
            lc_crs.SYSTEM_LABELS[system],
        )

    def column(meaning: str) -> np.ndarray:
        c = cols.get(meaning)
        if c is None:
            return np.full(len(df), "", dtype=object)
        return df[c].astype(str).str.strip().to_numpy(dtype=object)

    names, types, codes = column("name"), column("type"), column("typecode")
    caps = (
        df[cols["capacity"]].map(_number).to_numpy()
        if cols["capacity"] is not None
        else np.full(len(df), np.nan)
    )
    rows, geoms_out, unmatched = [], [], _Records()
    source = f"table:{p.name}"
    for i in range(len(df)):
        decision = _decide_record(names[i], types[i], codes[i], prof)
        hits = decision.hits
        if not hits:
            unmatched.append(
                {
                    "row": int(rownum[i]),
                    "facility_id": fids[i],
                    "name": names[i],
                    "type": types[i],
                    "typecode": codes[i],
                    "reason": decision.reason,
                    "rule": decision.rule,
                    "source": source,
                    "lon": round(float(lon[i]), 7),
                    "lat": round(float(lat[i]), 7),
                }
            )
            continue
        for cat_id, ftype, rule in hits:
            rows.append(
                {
                    "facility_id": fids[i],
                    "name": names[i],
                    "category": cat_id,
                    "facility_type": ftype,
                    "source": source,
                    "rule": rule,
                    "capacity": caps[i],
                }
            )
            geoms_out.append(geoms[i])
    if unmatched:
        by_rule: dict[str, int] = {}
        for u in unmatched:
            key = _rule_group(u["rule"])
            by_rule[key] = by_rule.get(key, 0) + 1
        log.warning(
            "%s: %d %s(s) matched no category of %s or were excluded, and are left out "
            "(%s): %ss %s; see attrs['unmatched'], classification_report() or "
            "`lifecircle facilities check`",
            p.name,
            len(unmatched),
            word,
            prof.id,
            ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items(), key=lambda kv: -kv[1])),
            word,
            [u["row"] for u in unmatched][:20],
        )
    gdf = gpd.GeoDataFrame(rows, columns=COLUMNS, geometry=geoms_out, crs=4326)
    gdf["entrances"] = None
    gdf.attrs.update(
        unmatched=unmatched,
        encoding=encoding,
        coords=system,
        columns={k: v for k, v in cols.items() if v is not None},
        outside_region=outside,
        offset_check=offset.as_dict() if offset is not None else None,
        sources=[str(p)],
        profile=prof.id,
        profile_path=prof.path,
        records_read=len(df),
    )
    log.info(
        "%s: %d of %d %ss matched (%d facility rows), coordinates %s → WGS-84",
        p.name,
        len(df) - len(unmatched),
        len(df),
        word,
        len(gdf),
        lc_crs.SYSTEM_LABELS[system],
    )
    return gdf


def _moved_m(lon0: np.ndarray, lat0: np.ndarray, lon1: np.ndarray, lat1: np.ndarray) -> np.ndarray:
    """Distance in metres between two sets of WGS-84-like points (equirectangular)."""
    k = np.pi / 180 * 6_371_008.8
    dx = (np.asarray(lon1) - np.asarray(lon0)) * np.cos(np.radians(np.asarray(lat0))) * k
    dy = (np.asarray(lat1) - np.asarray(lat0)) * k
    return np.hypot(dx, dy)


def _has_facility_columns(df: pd.DataFrame, overrides: dict[str, str]) -> bool:
    """Whether a sheet holds coordinates and a name or type (the columns a table needs)."""
    if any(c not in df.columns for c in overrides.values()):
        return False
    cols = _map_columns(df, overrides, Path("."))
    coords = (cols["lon"] is not None and cols["lat"] is not None) or cols["lonlat"] is not None
    return coords and any(cols[m] is not None for m in ("name", "type", "typecode"))


def _read_workbook(
    p: Path, sheet: str | int | None, overrides: dict[str, str]
) -> tuple[pd.DataFrame, np.ndarray | None, np.ndarray | None]:
    """Read a workbook: the named sheet, or every sheet that holds facility columns.

    With ``sheet=None`` every sheet is considered: sheets without coordinates and a name or
    type (a cover page, notes, a pivot table) are skipped; one sheet holding them is read;
    several holding them with the same header are read together (a table split over sheets);
    several with different headers are refused, naming them, so no rows go missing silently.
    The choice is logged (INFO).

    Returns
    -------
    (DataFrame, ndarray or None, ndarray or None)
        The rows; with several sheets also each row's number in its sheet (header = row 1)
        and its sheet name.
    """
    try:
        book = pd.read_excel(p, sheet_name=None, dtype=str)
    except ValueError as exc:
        raise InputError(f"{p}: could not be read as a workbook ({exc})") from None
    frames = {}
    for name, df in book.items():
        df = df.fillna("")
        df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
        frames[str(name)] = df
    names = list(frames)
    if sheet is not None:
        key = names[sheet] if isinstance(sheet, int) and 0 <= sheet < len(names) else sheet
        if key not in frames:
            raise InputError(
                f"{p}: no sheet {sheet!r}; the workbook's sheets are {names} "
                f"(give a name or a number from 0)"
            )
        df = frames[key]
        if not _has_facility_columns(df, overrides) and len(names) > 1:
            usable = [n for n in names if _has_facility_columns(frames[n], overrides)]
            if usable:
                raise InputError(
                    f"{p}: sheet {key!r} has no coordinate and name/type columns (columns "
                    f"{list(df.columns)[:10]}); sheet(s) {usable} hold them: pass sheet="
                    f"{usable[0]!r}, or leave sheet unset to read them"
                )
        return df, None, None
    usable = [n for n in names if _has_facility_columns(frames[n], overrides)]
    skipped = [n for n in names if n not in usable]
    if not usable:
        if len(names) == 1:
            return frames[names[0]], None, None  # from_table names the missing columns
        shown = "; ".join(f"{n!r}: {list(frames[n].columns)[:8]}" for n in names[:10])
        raise InputError(
            f"{p}: no sheet holds facility columns (coordinates such as 经度/lon and 纬度/lat, "
            f"and a name 名称 or type 类型); sheets and their columns: {shown}"
        )
    headers = {n: tuple(_norm_header(c) for c in frames[n].columns) for n in usable}
    if len(set(headers.values())) > 1:
        raise InputError(
            f"{p}: sheets {usable} all hold facility columns but with different headers; "
            f"pass sheet= to choose one (or give the sheets the same header to read them "
            f"together)"
        )
    if len(usable) == 1:
        if skipped:
            log.info(
                "%s: read sheet %r; skipped sheet(s) %s (no coordinate and name/type columns)",
                p.name,
                usable[0],
                skipped,
            )
        return frames[usable[0]], None, None
    log.info(
        "%s: sheets %s have the same header and are read together (%s rows)%s",
        p.name,
        usable,
        " + ".join(str(len(frames[n])) for n in usable),
        f"; skipped sheet(s) {skipped} (no coordinate and name/type columns)" if skipped else "",
    )
    first = frames[usable[0]]
    parts = []
    for n in usable:
        part = frames[n].copy()
        part.columns = first.columns
        parts.append(part)
    df = pd.concat(parts, ignore_index=True)
    rows = np.concatenate([np.arange(len(frames[n])) + 2 for n in usable])
    which = np.concatenate([np.full(len(frames[n]), n, dtype=object) for n in usable])
    return df, rows, which


def _gis_geometry(
    geometry: gpd.GeoSeries, system: str, path: Path, rownum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS-84 geometries of a GIS file, and the raw lon/lat of a point on each."""
    missing = (geometry.isna() | geometry.is_empty).to_numpy()
    if missing.any():
        raise InputError(f"{path}: features {rownum[missing][:10].tolist()} have no geometry")
    if geometry.crs is not None and not geometry.crs.is_geographic:
        if system != "wgs84":
            raise InputError(
                f"{path}: is in the projected CRS {geometry.crs.to_string()}, so "
                f"its coordinates cannot be {lc_crs.SYSTEM_LABELS[system]}; "
                f"use coords='wgs84'"
            )
        geometry = geometry.to_crs(4326)
    raw = geometry.to_numpy()
    kinds = shapely.get_type_id(raw)
    pts = np.where(kinds == 0, raw, shapely.point_on_surface(raw))
    lon_raw, lat_raw = shapely.get_x(pts), shapely.get_y(pts)
    geoms = raw if system == "wgs84" else lc_crs.convert_geometry(raw, system, "wgs84")
    return np.asarray(geoms, dtype=object), lon_raw, lat_raw


# ---------------------------------------------------------------------- merging
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _norm_name(text: object) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def _grams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def name_similarity_score(
    a: str | None, b: str | None, ignore: tuple[str, ...] | list[str] = ()
) -> float | None:
    """How alike two facility names are, 0..1; None when either name is empty.

    Names are normalized (NFKC, lower case, no spaces or punctuation). Words in ``ignore``
    (usually the facility types, e.g. 社区卫生服务站) are removed first, so that two different
    clinics are not alike just because both are called ``…社区卫生服务站``; when that leaves
    one name empty, the full names are compared. One name inside the other scores 1.0;
    otherwise the Jaccard similarity of their character bigrams, or the
    :class:`difflib.SequenceMatcher` ratio when that is higher for names without bigrams.

    Examples
    --------
    >>> name_similarity_score("示例街道社区卫生服务中心", "示例社区卫生服务中心",
    ...                       ["社区卫生服务中心"])
    1.0
    >>> name_similarity_score("云栖社区卫生服务站", "鹿鸣社区卫生服务站", ["社区卫生服务站"])
    0.0
    >>> round(name_similarity_score("全家便利店", "罗森便利店"), 2)
    0.33
    >>> name_similarity_score("", "示例公园") is None
    True
    """
    na, nb = _norm_name(a), _norm_name(b)
    if not na or not nb:
        return None
    if na == nb:
        return 1.0
    words = sorted({_norm_name(w) for w in ignore if _norm_name(w)}, key=len, reverse=True)
    sa, sb = na, nb
    for w in words:
        sa, sb = sa.replace(w, ""), sb.replace(w, "")
    if not sa or not sb:
        sa, sb = na, nb
    if sa == sb or sa in sb or sb in sa:
        return 1.0
    ga, gb = _grams(sa), _grams(sb)
    score = len(ga & gb) / len(ga | gb)
    if min(len(sa), len(sb)) < 2:
        score = max(score, difflib.SequenceMatcher(None, sa, sb).ratio())
    return float(score)


def _types_alike(a: str, b: str) -> bool:
    a, b = _norm_name(a), _norm_name(b)
    if not a or not b or a == b or a in b or b in a:
        return True
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) >= 0.5


def merge(
    *tables: gpd.GeoDataFrame,
    dedupe_m: float | None = 50.0,
    name_similarity: float = 0.5,
    match_type: bool = True,
    within_source: bool = True,
) -> gpd.GeoDataFrame:
    """One facility list from several sources, with the same facility seen twice kept once.

    Two rows are taken for the same facility when they have the same category, alike facility
    types (equal, one inside the other, or differing only in wording: character-bigram
    similarity ≥ 0.5; skip with ``match_type=False``), lie within ``dedupe_m`` metres of each
    other (geometry to geometry, so a point inside a park polygon is at 0 m), and have similar
    names (:func:`name_similarity_score` ≥ ``name_similarity``; when either name is empty,
    distance alone decides). Rows of the same feature (same ``facility_id``) are never merged.
    Groups are formed transitively.

    The kept row is the first polygon of the group, else the first row in argument order (so
    pass the most trusted source first). It gets the group's first known capacity, name and
    entrances, and its provenance: ``sources`` (the distinct sources, ``;``-separated),
    ``merged_ids`` (every ``facility_id`` of the group) and ``duplicates`` (how many rows were
    folded into it).

    Parameters
    ----------
    *tables : GeoDataFrame
        Facility tables (any CRS; WGS-84 out). None and empty tables are skipped.
    dedupe_m : float or None
        Distance in metres; ``None`` or 0: concatenate only.
    name_similarity : float
        Least name similarity (0..1) for two rows to be one facility.
    match_type : bool
        Require alike facility types (besides the same category).
    within_source : bool
        Also merge duplicates within one source (an OSM node and a building for the same
        kindergarten); False: only across sources.

    Returns
    -------
    GeoDataFrame
        WGS-84; the facility columns plus ``sources``, ``merged_ids``, ``duplicates``;
        ``attrs["sources"]`` lists the input files, ``attrs["merge"]`` counts what was merged;
        what the inputs left out is carried on for :func:`classification_report`:
        ``attrs["unmatched"]`` (all inputs' records, each with its ``source``),
        ``attrs["records_read"]`` (None when an input does not say), ``attrs["profile"]``,
        ``attrs["outside_region_by_source"]``.

    Examples
    --------
    >>> import shapely
    >>> a = gpd.GeoDataFrame({"facility_id": ["osm/node/1"], "name": ["桂香幼儿园"],
    ...     "category": ["kindergarten"], "facility_type": ["幼儿园"], "source": ["osm"],
    ...     "rule": ["osm:amenity=kindergarten"], "capacity": [float("nan")]},
    ...     geometry=[shapely.Point(121.40, 31.24)], crs=4326)
    >>> b = a.assign(facility_id=["t/row2"], name=["桂香幼儿园(东园)"], source=["table:t.xlsx"],
    ...     capacity=[180.0], geometry=[shapely.Point(121.4002, 31.2401)])
    >>> m = merge(a, b)
    >>> m[["facility_id", "sources", "duplicates", "capacity"]].values.tolist()
    [['osm/node/1', 'osm;table:t.xlsx', 1, 180.0]]
    """
    frames = [t for t in tables if t is not None and len(t)]
    sources = [s for t in tables if t is not None for s in t.attrs.get("sources", [])]
    carried = _carry_classification([t for t in tables if t is not None])
    if not frames:
        out = gpd.GeoDataFrame(
            columns=[*COLUMNS, "entrances", "sources", "merged_ids", "duplicates"],
            geometry=[],
            crs=4326,
        )
        out.attrs.update(
            sources=sources, merge={"rows_in": 0, "rows_out": 0, "merged": 0}, **carried
        )
        return out
    parts = []
    for t in frames:
        t = t.to_crs(4326) if t.crs is not None else t.set_crs(4326)
        parts.append(pd.DataFrame(t))
    out = pd.concat(parts, ignore_index=True)
    for col in COLUMNS:
        if col not in out.columns:
            out[col] = np.nan if col == "capacity" else ""
    if "entrances" not in out.columns:
        out["entrances"] = None
    out["entrances"] = out["entrances"].astype(object).where(out["entrances"].notna(), None)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    out["sources"] = out["source"].astype(str)
    out["merged_ids"] = out["facility_id"].astype(str)
    out["duplicates"] = 0
    n_in = len(out)
    if dedupe_m and n_in > 1:
        out = _dedupe(out, float(dedupe_m), name_similarity, match_type, within_source)
    out.attrs.update(
        sources=sources,
        merge={
            "rows_in": n_in,
            "rows_out": len(out),
            "merged": n_in - len(out),
            "dedupe_m": dedupe_m,
            "name_similarity": name_similarity,
        },
        **carried,
    )
    return out


def _carry_classification(tables: list[gpd.GeoDataFrame]) -> dict[str, Any]:
    """Combine what :func:`classification_report` needs from each input's ``attrs``."""
    unmatched = _Records()
    read: int | None = 0
    profiles: dict[str, str | None] = {}
    outside: dict[str, list[int]] = {}
    for t in tables:
        attrs = t.attrs
        label = str(t["source"].iloc[0]) if "source" in t.columns and len(t) else ""
        for u in attrs.get("unmatched", []):
            unmatched.append(u if "source" in u else {**u, "source": label})
            label = label or str(u.get("source", ""))
        if "records_read" in attrs and read is not None:
            read += int(attrs["records_read"])
        elif len(t):
            read = None  # a table of unknown origin: how many records it came from is unknown
        if attrs.get("profile"):
            profiles.setdefault(attrs["profile"], attrs.get("profile_path"))
        if attrs.get("outside_region"):
            outside[label or f"table {len(outside) + 1}"] = list(attrs["outside_region"])
    out: dict[str, Any] = {
        "unmatched": unmatched,
        "records_read": read,
        "outside_region_by_source": outside,
    }
    if len(profiles) == 1:
        out["profile"], out["profile_path"] = next(iter(profiles.items()))
    elif profiles:
        out["profile"] = None
        log.warning(
            "merge: the tables were classified with different profiles %s", sorted(profiles)
        )
    return out


def _dedupe(
    out: gpd.GeoDataFrame, dedupe_m: float, name_sim: float, match_type: bool, within_source: bool
) -> gpd.GeoDataFrame:
    metric = out.geometry.to_crs(lc_crs.utm_crs_for(out)).to_numpy()
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="dwithin", distance=dedupe_m)
    keep = left < right
    left, right = left[keep], right[keep]
    cat = out["category"].to_numpy()
    fid = out["facility_id"].to_numpy()
    src = out["source"].to_numpy()
    ftype = out["facility_type"].astype(str).to_numpy()
    name = out["name"].to_numpy()
    parent = np.arange(len(out))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if cat[i] != cat[j] or fid[i] == fid[j]:
            continue
        if not within_source and src[i] == src[j]:
            continue
        if match_type and not _types_alike(ftype[i], ftype[j]):
            continue
        score = name_similarity_score(name[i], name[j], (ftype[i], ftype[j]))
        if score is not None and score < name_sim:
            continue
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(out))])
    if (roots == np.arange(len(out))).all():
        return out
    is_area = out.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    drop = np.zeros(len(out), dtype=bool)
    out = out.copy()
    n_groups = 0
    for root in np.unique(roots):
        members = np.flatnonzero(roots == root)
        if len(members) == 1:
            continue
        n_groups += 1
        areas = members[is_area[members]]
        k = int(areas[0]) if len(areas) else int(members[0])
        order = [k, *[int(m) for m in members if m != k]]
        drop[[m for m in order[1:]]] = True
        srcs = list(dict.fromkeys(s for m in order for s in str(out.at[m, "sources"]).split(";")))
        ids = list(dict.fromkeys(s for m in order for s in str(out.at[m, "merged_ids"]).split(";")))
        out.at[k, "sources"] = ";".join(srcs)
        out.at[k, "merged_ids"] = ";".join(ids)
        out.at[k, "duplicates"] = int(sum(int(out.at[m, "duplicates"]) + 1 for m in order[1:]))
        for col, empty in (
            ("capacity", lambda v: v is None or pd.isna(v)),
            ("name", lambda v: not str(v or "").strip()),
            ("entrances", lambda v: v is None),
        ):
            if empty(out.at[k, col]):
                for m in order[1:]:
                    if not empty(out.at[m, col]):
                        out.at[k, col] = out.at[m, col]
                        break
    log.info(
        "merge: %d duplicate row(s) folded into %d facilities (within %g m, name similarity ≥ %g)",
        int(drop.sum()),
        n_groups,
        dedupe_m,
        name_sim,
    )
    return out[~drop].reset_index(drop=True)


# ---------------------------------------------------------------------- classification report
#: sheet names and bilingual column headers of :meth:`ClassificationReport.to_frames`
_REPORT_HEADERS = {
    "category": "类别 / category",
    "name_zh": "类别名称 / name",
    "name_en": "英文名称 / name (English)",
    "rows": "设施行数 / facility rows",
    "by_type": "按设施类型 / by facility type",
    "excluded": "被排除记录 / records excluded",
    "rule": "规则 / rule",
    "count": "行数 / rows",
    "examples": "示例 / examples",
    "source": "来源 / source",
    "id": "编号 / id",
    "row": "行号 / row",
    "name": "名称 / name",
    "type": "类型或标签 / type or tag",
    "typecode": "类型编码 / type code",
    "reason": "原因 / reason",
    "classified_as": "归入类别 / classified as",
    "classified_as_zh": "归入类别名称 / classified as (name)",
    "name_says": "名称所指类别 / name says",
    "name_says_zh": "名称所指类别名称 / name says (name)",
    "keyword": "关键词 / keyword",
    "why": "说明 / why",
    "lon": "经度 / lon (WGS-84)",
    "lat": "纬度 / lat (WGS-84)",
}
_LEFT_OUT_WORDS = {
    "no-match:type": "类型不属于任何类别 type matches no category",
    "no-match:tag": "标签不属于任何类别 tag matches no category",
    "no-match:name": "名称不属于任何类别 name matches no category",
    "no-match:no-name": "无类型无名称 no type, no name",
    "no-geometry": "无几何 no geometry",
}


@dataclass(frozen=True, eq=False)
class ClassificationReport:
    """What a facility table was read as: counts by rule, rows left out and why, suspicious rows.

    Built by :func:`classification_report`; printed by ``lifecircle facilities check``.

    Attributes
    ----------
    profile : str
        The profile the report checks against.
    records : int or None
        Records read (table rows, OSM points of interest); None when the input does not say.
    classified : int
        Records classified (distinct ``facility_id``).
    facility_rows : int
        Facility rows (a record serving two categories is two rows).
    by_category : DataFrame
        Every category of the profile: ``category``, ``name_zh``, ``name_en``, ``rows``,
        ``by_type`` (rows per facility type), ``excluded`` (left-out records its exclude rules
        kept out). A category with 0 rows has no facility in the input.
    by_rule : DataFrame
        ``category``, ``name_zh``, ``rule``, ``count``, ``examples`` (a few names).
    left_out : DataFrame
        ``source``, ``id``, ``row`` (table rows; header = row 1), ``name``, ``type`` (type text
        or main OSM tag), ``typecode``, ``reason``, ``rule`` (``exclude:<category>:<rule>`` or
        ``no-match:…``), ``lon``/``lat`` (WGS-84; table rows only).
    suspicious : DataFrame
        Records whose name points elsewhere: ``source``, ``id``, ``name``, ``classified_as``
        (category ids, ``""`` when left out), ``classified_as_zh``, ``name_says``,
        ``name_says_zh``, ``keyword``, ``why``.
    sources : tuple of str
        Input files.
    notes : tuple of str
        Other things a planner should know (rows outside the profile's region, a coordinate
        offset warning, missing left-out information).
    """

    profile: str
    records: int | None
    classified: int
    facility_rows: int
    by_category: pd.DataFrame
    by_rule: pd.DataFrame
    left_out: pd.DataFrame
    suspicious: pd.DataFrame
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """Say in a few lines, Chinese and English, what a planner reads in a minute.

        Returns
        -------
        str
        """
        files = ", ".join(Path(s).name for s in self.sources) or "-"
        records = "?" if self.records is None else f"{self.records:,}"
        n_cat = int((self.by_category["rows"] > 0).sum())
        lines = [
            f"设施分类检查 Facility classification check · 标准 profile: {self.profile} · "
            f"来源 sources: {files}",
            f"读入 records: {records} · 已归类 classified: {self.classified:,} "
            f"({self.facility_rows:,} 设施行 rows, {n_cat} 类 categories) · "
            f"未归类 left out: {len(self.left_out):,} · 可疑 suspicious: {len(self.suspicious):,}",
        ]
        has = self.by_category[self.by_category["rows"] > 0]
        if len(has):
            lines.append(
                "各类 by category: "
                + " · ".join(
                    f"{r.name_zh} {r.category} {r.rows}"
                    + (f" ({r.by_type})" if r.by_type and "、" in r.by_type else "")
                    for r in has.itertuples()
                )
            )
        none = self.by_category[self.by_category["rows"] == 0]
        if len(none):
            lines.append(
                "无设施 no facility in the input: "
                + ", ".join(f"{r.name_zh} {r.category}" for r in none.itertuples())
            )
        if len(self.left_out):
            groups = self.left_out["rule"].map(_rule_group).value_counts()
            parts = []
            for key, n in groups.items():
                if key.startswith("exclude:"):
                    cid = key.split(":", 1)[1]
                    zh = self._name_zh(cid)
                    parts.append(f"被排除 excluded from {zh} {cid}: {n}")
                else:
                    parts.append(f"{_LEFT_OUT_WORDS.get(key, key)}: {n}")
            lines.append("未归类原因 left out: " + " · ".join(parts))
        if len(self.suspicious):
            pairs = (
                self.suspicious.assign(
                    got=self.suspicious["classified_as_zh"].replace("", "未归类 left out")
                )
                .groupby(["name_says_zh", "got"], sort=False)
                .size()
                .sort_values(ascending=False)
            )
            lines.append(
                "可疑 suspicious: "
                + " · ".join(
                    f"名称像「{says or '—'}」却为「{got}」 name says {says or '—'}, read as "
                    f"{got}: {n}"
                    for (says, got), n in pairs.head(6).items()
                )
            )
        lines += [f"注意 note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _name_zh(self, category_id: str) -> str:
        hit = self.by_category.loc[self.by_category["category"] == category_id, "name_zh"]
        return str(hit.iloc[0]) if len(hit) else category_id

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Sheets for a workbook: sheet name → DataFrame with bilingual headers.

        Returns
        -------
        dict of str to DataFrame
            ``分类汇总 summary`` (by category), ``分类规则 by rule``, ``未归类 left out``,
            ``可疑 suspicious``.
        """

        def show(df: pd.DataFrame) -> pd.DataFrame:
            return df.rename(columns=lambda c: _REPORT_HEADERS.get(c, c))

        return {
            "分类汇总 summary": show(self.by_category),
            "分类规则 by rule": show(self.by_rule),
            "未归类 left out": show(self.left_out),
            "可疑 suspicious": show(self.suspicious),
        }


def _report_profile(facilities: pd.DataFrame, profile: str | Profile | None) -> Profile:
    if profile is not None:
        return load_profile(profile)
    pid, path = facilities.attrs.get("profile"), facilities.attrs.get("profile_path")
    if path and Path(str(path)).is_file():
        return load_profile(str(path))
    if pid in list_profiles():
        return load_profile(pid)
    raise InputError(
        f"classification_report: cannot tell which profile classified this table "
        f"(attrs['profile'] is {pid!r}); pass profile=..."
    )


def classification_report(
    facilities: pd.DataFrame,
    profile: str | Profile | None = None,
    examples: int = 3,
) -> ClassificationReport:
    """Report what a facility table was read as, for a planner to check in a minute.

    Per category, the rows by rule with a few names each; the records left out and why (no rule
    matched, excluded by which rule, no geometry); and suspicious records: a record whose name
    alone would put it in a category other than the one it is in (or left out), e.g. a
    社区卫生服务中心 typed as a specialist hospital, and a record classified into a category
    whose exclude rules its name matches.

    Parameters
    ----------
    facilities : GeoDataFrame
        From :func:`from_table`, :func:`from_osm` or :func:`merge`; the records left out are
        read from ``attrs["unmatched"]``.
    profile : str or Profile, optional
        Default: the profile that classified the table (``attrs["profile"]``).
    examples : int
        Names shown per rule.

    Returns
    -------
    ClassificationReport

    Raises
    ------
    InputError
        When the profile is not given and the table does not say which one classified it.

    Examples
    --------
    >>> import lifecircle_geo as lc
    >>> sample = lc.datasets.get_path("sample")
    >>> fac = lc.facilities.from_table(sample / "facilities_gcj02.xlsx", coords="gcj02")
    >>> rep = lc.facilities.classification_report(fac)
    >>> rep.records, rep.classified, len(rep.left_out), len(rep.suspicious)
    (13, 13, 0, 0)
    >>> rep.by_rule.loc[rep.by_rule.category == "childcare", ["rule", "count"]].values.tolist()
    [['type:宝宝屋', 2]]
    >>> print(rep.summary().splitlines()[1])  # doctest: +NORMALIZE_WHITESPACE
    读入 records: 13 · 已归类 classified: 13 (13 设施行 rows, 10 类 categories)
    · 未归类 left out: 0 · 可疑 suspicious: 0
    """
    prof = _report_profile(facilities, profile)
    rules = {cr.cat.id: cr for cr in _compiled(prof)}
    names_zh = {c.id: c.name_zh for c in prof.categories}

    def col(name: str) -> pd.Series:
        if name in facilities.columns:
            return facilities[name].fillna("").astype(str)
        return pd.Series([""] * len(facilities), index=facilities.index, dtype=object)

    rows = pd.DataFrame(
        {c: col(c).to_numpy() for c in ("facility_id", "name", "category", "facility_type")}
        | {"rule": col("rule").to_numpy(), "source": col("source").to_numpy()}
    )
    order = {c: i for i, c in enumerate(prof.category_ids)}

    def pick(names: pd.Series) -> str:
        return "、".join(list(dict.fromkeys(n for n in names if n))[:examples])

    if len(rows):
        by_rule = (
            rows.groupby(["category", "rule"], sort=False)
            .agg(count=("name", "size"), examples=("name", pick))
            .reset_index()
        )
    else:
        by_rule = pd.DataFrame(columns=["category", "rule", "count", "examples"])
    by_rule.insert(1, "name_zh", by_rule["category"].map(lambda c: names_zh.get(c, c)))
    by_rule = (
        by_rule.assign(_o=by_rule["category"].map(lambda c: order.get(c, len(order))))
        .sort_values(["_o", "count", "rule"], ascending=[True, False, True], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    by_rule["count"] = by_rule["count"].astype(int)

    unmatched = list(facilities.attrs.get("unmatched", []))
    text_cols = {
        "source": [str(u.get("source", "")) for u in unmatched],
        "id": [str(u.get("facility_id", "")) for u in unmatched],
        "name": [str(u.get("name", "") or "") for u in unmatched],
        "type": [str(u.get("type", u.get("tag", "")) or "") for u in unmatched],
        "typecode": [str(u.get("typecode", "") or "") for u in unmatched],
        "reason": [str(u.get("reason", "") or "matched no category") for u in unmatched],
        "rule": [str(u.get("rule", "") or "no-match") for u in unmatched],
    }
    left_out = pd.DataFrame({k: pd.Series(v, dtype=str) for k, v in text_cols.items()})
    left_out.insert(2, "row", pd.array([u.get("row") for u in unmatched], dtype="Int64"))
    for axis in ("lon", "lat"):
        left_out[axis] = pd.Series([u.get(axis) for u in unmatched], dtype="float64")

    says_cache = _compiled(prof).name_says  # shared by the reports of one profile's tables
    if len(says_cache) > 500_000:
        says_cache.clear()

    def name_says(name: str) -> list[tuple[str, str]]:
        if name not in says_cache:
            hits = _decide_record(name, "", "", prof).hits
            says_cache[name] = [(c, r.split(":", 1)[1]) for c, _t, r in hits]
        return says_cache[name]

    suspicious = []

    def flag(source: str, fid: str, name: str, got: list[str], says: list, why: str) -> None:
        suspicious.append(
            {
                "source": source,
                "id": fid,
                "name": name,
                "classified_as": ",".join(got),
                "classified_as_zh": "、".join(names_zh.get(c, c) for c in got),
                "name_says": ",".join(c for c, _ in says),
                "name_says_zh": "、".join(names_zh.get(c, c) for c, _ in says),
                "keyword": "、".join(dict.fromkeys(k for _, k in says)),
                "why": why,
            }
        )

    records: dict[str, list] = {}
    for fid, name, cat, source in zip(
        *(rows[c].tolist() for c in ("facility_id", "name", "category", "source")), strict=True
    ):
        rec = records.setdefault(fid, [name, [], source])
        if cat not in rec[1]:
            rec[1].append(cat)
    for fid, (name, got, source) in records.items():
        if not name:
            continue
        says = name_says(name)
        if says and not {c for c, _ in says} & set(got):
            flag(
                source,
                fid,
                name,
                got,
                says,
                f"the name says {'、'.join(names_zh.get(c, c) for c, _ in says)} "
                f"({'、'.join(k for _, k in says)}); the type or tag says "
                f"{'、'.join(names_zh.get(c, c) for c in got)}",
            )
        for c in got:
            ex = rules[c].name_exclusion(_norm(name)) if c in rules else None
            if ex is not None:
                flag(
                    source,
                    fid,
                    name,
                    got,
                    [(c, ex.split("~", 1)[-1])],
                    f"classified as {names_zh.get(c, c)}, but the name matches its exclude "
                    f"rule {ex}",
                )
    for r in left_out.itertuples():
        if not r.name:
            continue
        says = name_says(r.name)
        if says:
            flag(
                r.source,
                r.id,
                r.name,
                [],
                says,
                f"left out ({r.rule}), but the name says "
                f"{'、'.join(names_zh.get(c, c) for c, _ in says)} "
                f"({'、'.join(k for _, k in says)})",
            )
    suspicious_df = pd.DataFrame(
        suspicious,
        columns=[
            "source",
            "id",
            "name",
            "classified_as",
            "classified_as_zh",
            "name_says",
            "name_says_zh",
            "keyword",
            "why",
        ],
    )

    excluded_by = left_out["rule"][left_out["rule"].str.startswith("exclude:")]
    excluded_n = excluded_by.str.split(":").str[1].value_counts()
    by_category = []
    for cat in prof.categories:
        sub = rows[rows["category"] == cat.id]
        types = sub["facility_type"].value_counts()
        by_category.append(
            {
                "category": cat.id,
                "name_zh": cat.name_zh,
                "name_en": cat.name_en,
                "rows": len(sub),
                "by_type": "、".join(f"{t} {n}" for t, n in types.items()),
                "excluded": int(excluded_n.get(cat.id, 0)),
            }
        )
    other = sorted(set(rows["category"]) - set(prof.category_ids))
    for cid in other:
        sub = rows[rows["category"] == cid]
        by_category.append(
            {
                "category": cid,
                "name_zh": cid,
                "name_en": "(not in the profile)",
                "rows": len(sub),
                "by_type": "",
                "excluded": 0,
            }
        )

    notes = []
    if "unmatched" not in facilities.attrs:
        notes.append(
            "no record of left-out rows (attrs['unmatched'] is missing): read the table with "
            "from_table / from_osm / merge"
        )
    outside = dict(facilities.attrs.get("outside_region_by_source", {}))
    if facilities.attrs.get("outside_region"):
        outside[str(rows["source"].iloc[0]) if len(rows) else "table"] = list(
            facilities.attrs["outside_region"]
        )
    for src, rownums in outside.items():
        shown = ", ".join(map(str, rownums[:10])) + (" …" if len(rownums) > 10 else "")
        notes.append(
            f"{src}: {len(rownums)} row(s) outside {prof.region_name or 'the region'} "
            f"(rows {shown}): check the coordinates and their system"
        )
    merged = facilities.attrs.get("merge", {}).get("merged", 0)
    if merged:
        notes.append(
            f"{merged} duplicate row(s) were merged into others (merge()): classified counts "
            f"facilities after merging"
        )
    check = facilities.attrs.get("offset_check")
    if isinstance(check, dict) and check.get("warn"):
        notes.append(str(check.get("message", "the coordinates may be in another system")))
    read = facilities.attrs.get("records_read")
    return ClassificationReport(
        profile=prof.id,
        records=None if read is None else int(read),
        classified=len(records),
        facility_rows=len(rows),
        by_category=pd.DataFrame(by_category),
        by_rule=by_rule,
        left_out=left_out,
        suspicious=suspicious_df,
        sources=tuple(str(s) for s in facilities.attrs.get("sources", [])),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- on a network
def to_crs(facilities: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Reproject the facility table to ``crs``, its ``entrances`` column too.

    ``GeoDataFrame.to_crs`` reprojects only the active geometry; a facility's mapped entrances
    (a second geometry column) must follow, or a table fed back would mix coordinate systems.

    Parameters
    ----------
    facilities : GeoDataFrame
        From :func:`from_osm`, :func:`from_table` or :func:`merge`.
    crs : CRS-like
        Target coordinate system.

    Returns
    -------
    GeoDataFrame
        A copy in ``crs``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> fac = gpd.GeoDataFrame({"entrances": [shapely.MultiPoint([(121.5, 31.2)])]},
    ...                        geometry=[shapely.box(121.5, 31.2, 121.501, 31.201)], crs=4326)
    >>> out = to_crs(fac, 32651)
    >>> round(out["entrances"].iloc[0].geoms[0].x) == round(out.geometry.iloc[0].bounds[0])
    True
    """
    out = facilities.to_crs(crs)
    if "entrances" in out.columns and out["entrances"].notna().any():
        ent = gpd.GeoSeries(facilities["entrances"].to_numpy(), crs=facilities.crs)
        out["entrances"] = ent.to_crs(crs).to_numpy()
    return out


def access_points(
    facilities: gpd.GeoDataFrame, spacing_m: float = 25.0
) -> tuple[np.ndarray, np.ndarray]:
    """Points from which each facility is reached, and the facility (row) of each.

    A point facility is its own access point; a polygon or line is reached through its mapped
    ``entrances`` or, with none, points every ``spacing_m`` along its boundary (at most about
    200 per facility). Facilities without geometry have none.

    Parameters
    ----------
    facilities : GeoDataFrame
        In a metric CRS (``spacing_m`` is in its units).
    spacing_m : float
        Spacing of boundary points of polygons without entrances.

    Returns
    -------
    points : ndarray of shapely Points
    owner : ndarray of int64
        Row position of each point's facility.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> fac = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.box(10, 0, 60, 50)],
    ...                        crs=32651)
    >>> pts, owner = access_points(fac, spacing_m=50)
    >>> len(pts), owner.tolist()[:2]
    (6, [0, 1])
    """
    geoms = facilities.geometry.to_numpy()
    if "entrances" in facilities.columns:
        entrances = facilities["entrances"].to_numpy()
    else:
        entrances = np.full(len(facilities), None, dtype=object)
    pts, owner = [], []
    for i, (g, ent) in enumerate(zip(geoms, entrances, strict=True)):
        if g is None or g.is_empty:
            continue
        if g.geom_type == "Point":
            pts.append(g)
            owner.append(i)
            continue
        if ent is not None and not ent.is_empty:
            cand = list(getattr(ent, "geoms", [ent]))
        else:
            ring = g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g
            coords = shapely.get_coordinates(shapely.segmentize(ring, spacing_m))
            step = max(1, len(coords) // 200)
            cand = list(shapely.points(coords[::step]))
        pts.extend(cand)
        owner.extend([i] * len(cand))
    return np.asarray(pts, dtype=object), np.asarray(owner, dtype=np.int64)
