"""Drawings of the real bridge-3ns lab (built in the sandbox, never in this machine's own network) and of
hand-made snapshots with awkward names."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from netlessons import diagram, state
from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from netlessons.runner import run_step, start_sandbox
from netlessons.state import ROOT, Link, Namespace, Snapshot

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
    assert text.startswith("flowchart LR\n")
    for name in ["ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in text, name
    assert text.count("subgraph ") == 4 and text.count("\n  end\n") == 4  # host, ns1, ns2, ns3
    assert text.count(" === ") == 3  # each veth pair once
    assert text.count(" --- ") == 3  # the three bridge ports
    ids = re.findall(r"^\s+(\S+?)(?:\[|\{\{)", text, re.MULTILINE)
    assert len(ids) == 7 and all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids)


def test_svg_is_a_standalone_drawing(snapshots):
    text = diagram.render(snapshots["built"], "svg")
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in ["host", "ns1", "ns2", "ns3", "br0", *VETH_ENDS, *ADDRESSES]:
        assert name in words, name
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "veth"]) == 3
    assert len(list(root.iter(f"{SVG}polygon"))) == 1  # the bridge


def test_dot_has_a_cluster_per_namespace(snapshots):
    text = diagram.render(snapshots["built"], "dot")
    assert text.startswith("graph lab {") and text.rstrip().endswith("}")
    assert text.count("subgraph cluster_") == 4
    assert text.count("penwidth") == 3
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
        root = ElementTree.fromstring(text)
        boxes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "netns"]
        assert [t.text for box in boxes for t in box.iter(f"{SVG}text")] == ["host", "br0"]
        assert not [p for p in root.iter(f"{SVG}path") if p.get("class") == "veth"]
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
    root = ElementTree.fromstring(diagram.render(AWKWARD, "svg"))
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert 'a"b' in words and "q&`#" in words and "x<y>  10.0.0.1/24" in words
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
    assert len(list(ElementTree.fromstring(diagram.render(big, "svg")).iter(f"{SVG}rect"))) > 40


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text, mermaid, dot, svg"):
        diagram.render(AWKWARD, "png")
