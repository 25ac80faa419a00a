"""Drawings of the real bridge-3ns lab (built in the sandbox, never in this machine's own network) and of
hand-made snapshots with awkward names."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest

from netlessons import diagram, state
from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from netlessons.runner import run_step, start_sandbox
from netlessons.state import ROOT, Link, Namespace, Route, Snapshot
from tests.failing_lesson import broken_lessons
from tests.helpers import netlessons

SVG = "{http://www.w3.org/2000/svg}"
VETH_ENDS = [f"veth{i}_{end}" for i in (1, 2, 3) for end in (0, 1)]
ADDRESSES = ["10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"]


@pytest.fixture(scope="module")
def snapshots() -> dict[str, Snapshot]:
    """bridge-3ns in a throwaway sandbox: the lab after its first 4 steps, and once it is built."""
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get("bridge-3ns"))
    shell = start_sandbox()
    taken = {}
    try:
        for number, step in enumerate(rendered.steps, 1):
            outcome = run_step(shell, step)
            assert outcome.passed, f"{step.id}: {outcome.verdict.problem}"
            if number == 4:
                taken["partial"] = state.snapshot(lambda c: shell.run(c))
        taken["built"] = state.snapshot(lambda c: shell.run(c))
    finally:
        shell.close()
    return taken


def test_mermaid_names_every_namespace_end_and_address(snapshots):
    text = diagram.render(snapshots["built"], "mermaid")
    assert text.startswith("flowchart TB\n")  # bridge on top, the namespaces side by side below: a star
    for name in ["ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in text, name
    assert text.count("subgraph ") == 4 and text.count("\n  end\n") == 4  # host, ns1, ns2, ns3
    assert text.count(" === ") == 3  # each veth pair once
    assert text.count(" --- ") == 3  # the three bridge ports
    ids = re.findall(r"^\s+(\S+?)(?:\[|\{\{)", text, re.MULTILINE)
    assert len(ids) == 7 and all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids)


def test_svg_is_a_standalone_drawing(snapshots):
    text = diagram.render(snapshots["built"], "svg", layout="builtin")
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in ["host", "ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in words, name
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "veth"]) == 3
    assert len(list(root.iter(f"{SVG}polygon"))) == 1  # the bridge


def classes(root: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [g for g in root.iter(f"{SVG}g") if name in (g.get("class") or "").split()]


@pytest.mark.skipif(diagram.dot_program() is None, reason="Graphviz dot is not installed")
def test_svg_laid_out_by_dot_has_a_cluster_per_namespace_and_every_cable(snapshots):
    text = diagram.render(snapshots["built"], "svg")
    assert text.startswith("<svg")  # no XML prolog or doctype: it can sit inside an HTML page
    root = ElementTree.fromstring(text)
    words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in ["host", "ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in words, name
    assert len(classes(root, "cluster")) == 4
    assert len(classes(root, "veth")) == 3 and len(classes(root, "port")) == 3
    assert len(classes(root, "bridge")) == 1


def test_dot_has_a_cluster_per_namespace(snapshots):
    text = diagram.render(snapshots["built"], "dot")
    assert text.startswith("graph lab {") and text.rstrip().endswith("}")
    assert text.count("subgraph cluster_") == 4
    assert text.count('class="veth"') == 3 and text.count('class="port"') == 3
    for name in ["ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in text, name


def test_text_draws_boxes_and_each_pair_once(snapshots):
    text = diagram.render(snapshots["built"], "text")
    assert [line for line in text.splitlines() if line.startswith("┌─ ")] == [
        line for line in text.splitlines() if re.match(r"┌─ (host|ns[123]) ─+┐$", line)]
    assert text.count("┌─ ") == 4
    for i in (1, 2, 3):
        assert f"veth{i}_0 (host) ══════ veth{i}_1 (ns{i})" in text
        assert f"veth{i}_1  veth, UP  10.0.0.{i}/24" in text
    assert "lo " not in text
    assert max(len(line) for line in text.splitlines()) < 80  # fits a terminal


@pytest.mark.parametrize("fmt", diagram.FORMATS)
def test_a_partial_lab_draws_only_the_bridge(snapshots, fmt):
    text = diagram.render(snapshots["partial"], fmt)
    if fmt == "svg":  # the legend names veth pairs; the drawing itself must not
        root = ElementTree.fromstring(diagram.render(snapshots["partial"], fmt, layout="builtin"))
        boxes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "netns"]
        assert [t.text for box in boxes for t in box.iter(f"{SVG}text")] == ["host", "br0"]
        assert not [p for p in root.iter(f"{SVG}path") if p.get("class") == "veth"]
    elif fmt == "json":
        data = json.loads(text)
        assert [ns["label"] for ns in data["namespaces"]] == ["host"]
        assert [link["name"] for link in data["namespaces"][0]["links"]] == ["br0"]
        assert data["veth_pairs"] == [] and data["bridges"] == [{"namespace": "", "bridge": "br0", "ports": []}]
    else:
        assert "br0" in text
        assert "veth" not in text and "ns1" not in text and "10.0.0" not in text


# --- hand-made snapshots -----------------------------------------------------------------------------------


AWKWARD = Snapshot((
    Namespace(ROOT, (Link("lo", up=True, carrier=True), Link("end", "bridge", True, True),
                     Link('a"b', "veth", True, True, "end", "x<y>", "ns.1"))),
    Namespace("ns.1", (Link("x<y>", "veth", True, True, "", 'a"b', ROOT, ("10.0.0.1/24",)),
                       Link("q&`#", "dummy"))),
    Namespace("ns_1", ()),
))


def test_awkward_names_are_escaped_everywhere():
    mermaid = diagram.render(AWKWARD, "mermaid")
    ids = re.findall(r"^\s+(?:subgraph )?(\S+?)(?:\[|\{\{)", mermaid, re.MULTILINE)
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids) and len(ids) == len(set(ids)) == 8
    assert "subgraph ns_ns_1[" in mermaid and "subgraph ns_ns_1_2[" in mermaid  # ns.1 and ns_1 stay apart
    assert "a#quot;b" in mermaid and "x#lt;y#gt;" in mermaid and "q#38;#96;#35;" in mermaid
    dot = diagram.render(AWKWARD, "dot")
    assert '"/a\\"b" -- "ns.1/x<y>"' in dot
    root = ElementTree.fromstring(diagram.render(AWKWARD, "svg", layout="builtin"))
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert 'a"b' in words and "q&`#" in words and "x<y>  10.0.0.1/24" in words
    if diagram.dot_program():
        words = [t.text for t in ElementTree.fromstring(diagram.render(AWKWARD, "svg")).iter(f"{SVG}text")]
        assert 'a"b' in words and "q&`#" in words and "x<y>" in words
    data = json.loads(diagram.render(AWKWARD, "json"))
    assert data["veth_pairs"] == [[{"namespace": "", "link": 'a"b'}, {"namespace": "ns.1", "link": "x<y>"}]]
    assert "(no links)" in diagram.render(AWKWARD, "text")


def test_only_loopback_in_the_host_draws_no_host_box():
    lonely = Snapshot((Namespace(ROOT, (Link("lo", up=True, carrier=True),)),
                       Namespace("ns1", (Link("lo"),))))
    text = diagram.render(lonely, "text")
    assert "host" not in text and "┌─ ns1 " in text and "lo" not in text
    assert ElementTree.fromstring(diagram.render(lonely, "svg")).tag == f"{SVG}svg"


def test_a_large_lab_is_summed_up_in_text():
    ports = tuple(Link(f"v{i}_0", "veth", True, True, "br0", f"v{i}_1", f"ns{i}") for i in range(1, 21))
    inner = [Namespace(f"ns{i}", (Link(f"v{i}_1", "veth", True, True, "", f"v{i}_0", ROOT,
                                       (f"10.0.0.{i}/24",)),)) for i in range(1, 21)]
    big = Snapshot((Namespace(ROOT, (Link("br0", "bridge", True, True), *ports)), *inner))
    text = diagram.render(big, "text")
    assert "20 namespaces" in text and "ns1, ns2, ns3, …, ns20" in text
    assert "bridge br0 in host: UP, 20 ports" in text and "veth pairs: 20" in text
    assert len(text.splitlines()) < 10
    assert diagram.render(big, "mermaid").count(" === ") == 20
    assert len(list(ElementTree.fromstring(diagram.render(big, "svg", layout="builtin")).iter(f"{SVG}rect"))) > 40
    if diagram.dot_program():
        assert len(classes(ElementTree.fromstring(diagram.render(big, "svg")), "veth")) == 20


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text, mermaid, dot, svg, json"):
        diagram.render(AWKWARD, "png")


# --- every built-in lesson, built in the sandbox ----------------------------------------------------------

RAW_VETHS = ("for n in '' $(ls /run/netns); do printf '@@ %s\\n' \"$n\"; "
             "ip ${n:+-n \"$n\"} -j link show type veth; done")


def raw_veths(text: str) -> dict[tuple[str, str], dict]:
    """(namespace, name) → the kernel's own record of every veth, read apart from the snapshot code."""
    found = {}
    for part in text.split("@@ ")[1:]:
        ns, _, rest = part.partition("\n")
        for item in json.loads(rest or "[]"):
            found[(ns.strip(), item["ifname"])] = item
    return found


@pytest.fixture(scope="module")
def lessons_drawn() -> dict[str, tuple[dict, dict]]:
    """Every built-in lesson built to its end in a sandbox: its diagram as JSON, and its veths as `ip` says."""
    from netlessons.runner import Lab

    catalog = Catalog.default()
    drawn = {}
    for lesson_id in sorted(catalog.files()):
        rendered = render_lesson(catalog, catalog.get(lesson_id))
        lab = Lab(rendered)
        try:
            failed = lab.build(list(rendered.steps))
            assert failed is None, f"{lesson_id}: {failed.step.id}: {failed.verdict.problem}"
            raw = raw_veths(lab.run(RAW_VETHS).stdout)
            data = json.loads(diagram.render(state.snapshot(lab.run), "json"))
        finally:
            lab.close()
        drawn[lesson_id] = (data, raw)
    return drawn


@pytest.mark.parametrize("lesson_id", sorted(Catalog.default().files()))
def test_every_veth_of_every_lesson_is_drawn_with_its_peer(lessons_drawn, lesson_id):
    data, raw = lessons_drawn[lesson_id]
    links = {(ns["name"], link["name"]): link for ns in data["namespaces"] for link in ns["links"]}
    assert data["unresolved_peers"] == []
    assert {key for key, link in links.items() if link["kind"] == "veth"} == set(raw)
    paired = [tuple((end["namespace"], end["link"]) for end in pair) for pair in data["veth_pairs"]]
    assert sorted(end for pair in paired for end in pair) == sorted(raw)  # every veth in exactly one pair
    for one, two in paired:
        # The kernel's numbers agree: each end's peer index is the other end's ifindex.
        assert raw[one]["link_index"] == raw[two]["ifindex"] and raw[two]["link_index"] == raw[one]["ifindex"]
        assert links[one]["peer"] == {"namespace": two[0], "link": two[1]}
        assert links[two]["peer"] == {"namespace": one[0], "link": one[1]}


def test_two_nodes_routed_draws_the_routes_between_pod_subnets(lessons_drawn):
    data, _ = lessons_drawn["two-nodes-routed"]
    hops = {(r["namespace"], r["dst"]): (r["via"], r["gateway"]) for r in data["routes"]}
    assert hops[("node1", "10.244.2.0/24")] == ("192.168.0.2", {"namespace": "node2", "link": "eth0"})
    assert hops[("node2", "10.244.1.0/24")] == ("192.168.0.1", {"namespace": "node1", "link": "eth1"})
    assert any(pair == [{"namespace": "node2", "link": "veth-pod2"}, {"namespace": "pod2", "link": "eth0"}]
               for pair in data["veth_pairs"])


def test_vxlan_overlay_draws_the_tunnel_between_the_vteps(lessons_drawn):
    data, _ = lessons_drawn["vxlan-overlay"]
    assert data["tunnels"] == [{"kind": "vxlan", "vni": 1, "port": 8472, "ends": [
        {"namespace": "node1", "link": "flannel.1", "local": "192.168.0.1"},
        {"namespace": "node2", "link": "flannel.1", "local": "192.168.0.2"}]}]
    flannel = next(link for ns in data["namespaces"] if ns["name"] == "node1" for link in ns["links"]
                   if link["name"] == "flannel.1")
    assert flannel["mtu"] == 1450 and flannel["vxlan"]["remotes"] == ["192.168.0.2"]


def test_a_failing_step_draws_the_lab_as_it_was_then(tmp_path):
    folder = broken_lessons(tmp_path / "broken")
    result = netlessons("diagram", "mismatched-subnets", "--lessons-dir", str(folder), "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    addresses = {address for ns in data["namespaces"] for link in ns["links"] for address in link["addresses"]}
    assert {"10.0.0.1/24", "10.0.1.2/24"} <= addresses  # the mismatched subnets the learner wants to see
    assert len(data["veth_pairs"]) == 1
    assert "failed" in result.stderr and "shows the lab as step 3 left it" in result.stderr


# --- tunnels, routes and lost ends on hand-made snapshots --------------------------------------------------


def vtep(remotes: tuple[str, ...], local: str) -> Link:
    return Link("vx", "vxlan", True, True, addresses=(), mtu=1450,
                vxlan=state.Vxlan(42, local, 4789, "eth0", remotes))


def overlay(remotes: tuple[str, ...]) -> Snapshot:
    return Snapshot((
        Namespace("a", (vtep(remotes, "192.0.2.1"), Link("eth0", "veth", True, True, "", "eth0", "b",
                                                          ("192.0.2.1/24",))),
                  (Route("10.9.0.0/16", "eth0", "192.0.2.2"), Route("192.0.2.0/24", "eth0"))),
        Namespace("b", (vtep((), "192.0.2.2"), Link("eth0", "veth", True, True, "", "eth0", "a",
                                                     ("192.0.2.2/24",)))),
    ))


def test_a_tunnel_is_drawn_only_when_an_end_sends_to_the_other():
    joined = diagram.topology(overlay(("192.0.2.2",)))
    assert [t.words() for t in joined.tunnels] == ["VXLAN VNI 42, UDP 4789: 192.0.2.1 ⇄ 192.0.2.2"]
    assert diagram.topology(overlay(())).tunnels == ()  # same VNI, but no forwarding entry yet
    for fmt in ("text", "mermaid", "dot"):
        assert "VNI 42" in diagram.render(overlay(("192.0.2.2",)), fmt), fmt
    assert "⇄" not in diagram.render(overlay(()), "text")


def test_routes_through_another_namespace_name_the_gateway_and_connected_ones_are_left_out():
    top = diagram.topology(overlay(()))
    assert [(h.ns, h.route.dst, h.gateway) for h in top.hops] == [("a", "10.9.0.0/16", ("b", "eth0"))]
    assert [str(r) for r in top.boxes[0].routes] == ["10.9.0.0/16 via 192.0.2.2 dev eth0"]
    assert "a: 10.9.0.0/16 via 192.0.2.2 → eth0 (b)" in diagram.render(overlay(()), "text")
    assert "→ eth0 in b" in diagram.render(overlay(()), "dot")


LOST = Snapshot((Namespace(ROOT, (Link("br0", "bridge", True, True),
                                  Link("v0", "veth", True, False, "br0", peer_index=7))),))


@pytest.mark.parametrize("fmt", diagram.FORMATS)
def test_a_veth_whose_other_end_is_not_found_is_drawn_and_says_so(fmt):
    text = diagram.render(LOST, fmt)
    if fmt == "json":
        assert json.loads(text)["unresolved_peers"] == [{"namespace": "", "link": "v0", "peer_ifindex": 7}]
    else:
        assert "v0" in text and "other end not found (ifindex 7" in text
    if fmt == "svg" and diagram.dot_program():
        assert len(classes(ElementTree.fromstring(text), "loose")) == 2  # the stub and its dashed cable
        assert "v0  (other end not found)" in diagram.render(LOST, fmt, layout="builtin")


def test_without_dot_the_svg_falls_back_to_the_builtin_layout_with_a_notice(monkeypatch):
    from typer.testing import CliRunner

    from netlessons.cli import app

    monkeypatch.setattr(diagram, "dot_program", lambda: None)
    result = CliRunner().invoke(app, ["diagram", "bridge-3ns", "--format", "svg"])
    assert result.exit_code == 0, result.stderr
    assert "apt-get install graphviz" in result.stderr
    root = ElementTree.fromstring(result.stdout)
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "netns"]) == 4  # the builtin layout's boxes


MACVLAN_PAIR = """id = "macvlan-pair"
title = "Two macvlan children of one parent"
summary = "A parent link and two macvlan children on it, one moved into a namespace."

[[steps]]
id = "parent"
title = "A parent"
explain = "A veth end stands in for a NIC (this kernel has no dummy module)."
run = "ip link add nic0 type veth peer name wire0 && ip link set nic0 up"

[[steps]]
id = "children"
title = "Two macvlan children"
explain = "Both sit on nic0; mv2 then moves into a namespace of its own."
run = \"\"\"ip link add mv1 link nic0 type macvlan mode bridge && ip link add mv2 link nic0 type macvlan mode bridge \\
&& ip netns add pod && ip link set mv2 netns pod\"\"\"
"""


def test_macvlan_children_are_drawn_on_their_parent(tmp_path):
    """A child is joined to its parent in every format; one whose parent is in another namespace says so."""
    (tmp_path / "macvlan-pair.toml").write_text(MACVLAN_PAIR)
    where = ("--lessons-dir", str(tmp_path))
    data = json.loads(netlessons("diagram", "macvlan-pair", *where, "--format", "json").stdout)
    assert data["children"] == [{"child": {"namespace": "", "link": "mv1"},
                                 "parent": {"namespace": "", "link": "nic0"}, "kind": "macvlan"}]
    mv2 = next(link for ns in data["namespaces"] for link in ns["links"] if link["name"] == "mv2")
    assert mv2["parent"]["namespace"] == "another"
    assert "on nic0" in netlessons("diagram", "macvlan-pair", *where).stdout
    assert re.search(r"-\. macvlan \.- ", netlessons("diagram", "macvlan-pair", *where, "--format", "mermaid").stdout)
    assert 'class="child"' in netlessons("diagram", "macvlan-pair", *where, "--format", "dot").stdout
