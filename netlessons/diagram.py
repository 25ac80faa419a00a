"""Drawings of a lab's topology from a Snapshot: text for a terminal, Mermaid, Graphviz DOT, or SVG.

Each namespace is a box (the shell's own namespace too, once it holds more than loopback), a bridge is
drawn as a switch with its ports beneath it, and each veth pair is one line between its two ends. The SVG is
laid out here, in Python, so drawing needs no Graphviz and no network.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from netlessons.state import BACKGROUND_LINKS, ROOT, Link, Snapshot, label, natural

FORMATS = ("text", "mermaid", "dot", "svg")
MAX_TEXT_NAMESPACES = 12  # beyond this the text drawing becomes a summary

End = tuple[str, str]  # (namespace, link name)


@dataclass(frozen=True)
class Box:
    """One namespace as drawn: its bridges with their ports, then its other interfaces."""

    ns: str
    bridges: tuple[tuple[Link, tuple[Link, ...]], ...] = ()
    others: tuple[Link, ...] = ()

    def rows(self) -> list[tuple[Link, int]]:
        """(link, depth) in drawing order; ports have depth 1, under their bridge."""
        rows: list[tuple[Link, int]] = []
        for bridge, ports in self.bridges:
            rows += [(bridge, 0)] + [(port, 1) for port in ports]
        return rows + [(link, 0) for link in self.others]


@dataclass(frozen=True)
class Topology:
    boxes: tuple[Box, ...]
    pairs: tuple[tuple[End, End], ...]  # each veth pair once


def topology(snapshot: Snapshot) -> Topology:
    """What is drawn, whatever the format: boxes in natural order, background links left out."""
    boxes = []
    for ns in sorted(snapshot.namespaces, key=lambda n: natural(n.name)):
        links = sorted((link for link in ns.links if link.name not in BACKGROUND_LINKS),
                       key=lambda link: natural(link.name))
        if ns.name == ROOT and not links:
            continue
        bridge_names = {link.name for link in links if link.kind == "bridge"}
        bridges = tuple((link, tuple(port for port in links if port.master == link.name))
                        for link in links if link.kind == "bridge")
        others = tuple(link for link in links if link.kind != "bridge" and link.master not in bridge_names)
        boxes.append(Box(ns.name, bridges, others))
    drawn = {(box.ns, link.name) for box in boxes for link, _ in box.rows()}
    pairs: list[tuple[End, End]] = []
    paired: set[End] = set()
    for box in boxes:
        for link, _ in box.rows():
            if link.peer and link.peer_netns is not None:
                here, there = (box.ns, link.name), (link.peer_netns, link.peer)
                if there in drawn and here not in paired:
                    pairs.append((here, there))
                    paired |= {here, there}
    return Topology(tuple(boxes), tuple(pairs))


def render(snapshot: Snapshot, fmt: str = "text") -> str:
    """The snapshot drawn in one of FORMATS."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown diagram format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return _RENDERERS[fmt](topology(snapshot))


def _words(link: Link) -> list[str]:
    """What is said about an interface besides its name."""
    return [f"{link.kind}, {link.state}" if link.kind else link.state, *link.addresses]


# --- text --------------------------------------------------------------------------------------------------


def _text(top: Topology) -> str:
    named = [box for box in top.boxes if box.ns != ROOT]
    if len(named) > MAX_TEXT_NAMESPACES:
        return _summary(top)
    blocks: list[list[str]] = []
    for box in top.boxes:
        lines = []
        for bridge, ports in box.bridges:
            lines.append("  ".join([bridge.name, *_words(bridge)]))
            lines += [f"{'└─' if i == len(ports) - 1 else '├─'} " + "  ".join([port.name, *_words(port)])
                      for i, port in enumerate(ports)]
        lines += ["  ".join([link.name, *_words(link)]) for link in box.others]
        blocks.append([label(box.ns), *(lines or ["(no links)"])])
    width = max((len(line) for block in blocks for line in block), default=0) + 2
    out = []
    for title, *lines in blocks:
        out.append(f"┌─ {title} " + "─" * (width - len(title) - 3) + "┐")
        out += [f"│ {line.ljust(width - 2)} │" for line in lines]
        out.append("└" + "─" * width + "┘")
    if top.pairs:
        out += ["", "veth pairs"]
        out += [f"  {a[1]} ({label(a[0])}) ══════ {b[1]} ({label(b[0])})" for a, b in top.pairs]
    return "\n".join(out) + "\n"


def _summary(top: Topology) -> str:
    named = [box.ns for box in top.boxes if box.ns != ROOT]
    shown = ", ".join(named[:3]) + (f", …, {named[-1]}" if len(named) > 3 else "")
    lines = [(f"{len(named)} namespaces: too many to draw one by one in text "
              "(the svg, mermaid and dot drawings show them all). In short:"),
             f"  namespaces: {shown}"]
    for box in top.boxes:
        lines += [f"  bridge {bridge.name} in {label(box.ns)}: {bridge.state}, {len(ports)} ports"
                  for bridge, ports in box.bridges]
    links = [link for box in top.boxes for link, _ in box.rows()]
    states = Counter(link.state for link in links)
    counted = ", ".join(f"{number} {state}" for state, number in sorted(states.items()))
    lines.append(f"  interfaces: {len(links)} ({counted})")
    lines.append(f"  veth pairs: {len(top.pairs)}")
    lines.append(f"  addresses: {sum(len(link.addresses) for link in links)}")
    return "\n".join(lines) + "\n"


# --- mermaid -----------------------------------------------------------------------------------------------


class _Ids:
    """Node ids of letters, digits and _ only, one per thing and never clashing (veth.1 and veth_1)."""

    def __init__(self) -> None:
        self._given: dict[tuple[str, str, str], str] = {}
        self._taken: set[str] = set()

    def __call__(self, kind: str, ns: str, name: str = "") -> str:
        key = (kind, ns, name)
        if key not in self._given:
            base = re.sub(r"[^A-Za-z0-9]", "_", f"{kind}_{label(ns)}" + (f"_{name}" if name else ""))
            candidate, n = base, 2
            while candidate in self._taken:
                candidate, n = f"{base}_{n}", n + 1
            self._given[key] = candidate
            self._taken.add(candidate)
        return self._given[key]


def _mermaid_text(lines: list[str]) -> str:
    """A quoted Mermaid label; entity codes stand in for characters Mermaid would read as syntax."""
    def one(text: str) -> str:
        for char, code in (("#", "#35;"), ("&", "#38;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                           ("`", "#96;")):
            text = text.replace(char, code)
        return text
    return '"' + "<br/>".join(one(line) for line in lines) + '"'


def _mermaid(top: Topology) -> str:
    ids = _Ids()
    out = ["flowchart LR"]
    edges = []
    for box in top.boxes:
        out.append(f"  subgraph {ids('ns', box.ns)}[{_mermaid_text([label(box.ns)])}]")
        for link, depth in box.rows():
            node = ids("if", box.ns, link.name)
            text = _mermaid_text([link.name, *_words(link)])
            out.append(f"    {node}{{{{{text}}}}}" if link.kind == "bridge" else f"    {node}[{text}]")
            if depth:
                edges.append(f"  {node} --- {ids('if', box.ns, link.master)}")
        if not box.rows():
            out.append(f"    {ids('empty', box.ns)}[{_mermaid_text(['(no links)'])}]")
        out.append("  end")
    edges += [f"  {ids('if', *a)} === {ids('if', *b)}" for a, b in top.pairs]
    return "\n".join(out + edges) + "\n"


# --- dot ---------------------------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(top: Topology) -> str:
    out = ["graph lab {", "  rankdir=LR;",
           '  node [shape=box, style=rounded, fontname="monospace", fontsize=10];']
    edges = []
    for number, box in enumerate(top.boxes):
        out.append(f"  subgraph cluster_{number} {{")
        out.append(f"    label={_dot_string(label(box.ns))};")
        for link, depth in box.rows():
            node = _dot_string(f"{box.ns}/{link.name}")
            shape = ", shape=hexagon, style=filled, fillcolor=lightblue" if link.kind == "bridge" else ""
            out.append(f"    {node} [label={_dot_string(chr(10).join([link.name, *_words(link)]))}{shape}];")
            if depth:
                edges.append(f"  {_dot_string(f'{box.ns}/{link.master}')} -- {node};")
        if not box.rows():
            out.append(f'    {_dot_string(f"{box.ns}/(empty)")} [label="(no links)", shape=plaintext];')
        out.append("  }")
    edges += [f"  {_dot_string('/'.join(a))} -- {_dot_string('/'.join(b))} [penwidth=2.5, color=red3];"
              for a, b in top.pairs]
    return "\n".join(out + edges + ["}"]) + "\n"


# --- svg ---------------------------------------------------------------------------------------------------

CHAR = 7.3  # advance of one character of 12px monospace
ROW = 30  # height of one interface row
NODE = 22  # height of an interface or bridge shape
PAD = 12
TITLE = 26
INDENT = 28  # how far ports sit to the right of their bridge
GAP_X, GAP_Y = 140, 24
PER_COLUMN = 8  # namespace boxes stacked in one column
VETH_COLOR = "#d93025"
COLORS = {  # fill and outline of an interface, by state
    "UP": ("#e6f4ea", "#188038"),
    "UP (no carrier)": ("#fef7e0", "#b06000"),
    "DOWN": ("#f1f3f4", "#5f6368"),
}


@dataclass(frozen=True)
class _Placed:
    box: Box
    x: float
    y: float
    width: float
    height: float
    column: int


@dataclass(frozen=True)
class _Anchor:
    """Where a veth pair's line may attach to one end."""

    left: float
    right: float
    y: float
    column: int
    box_right: float


def _node_text(link: Link) -> str:
    return "  ".join([link.name, *link.addresses])


def _node_width(link: Link) -> float:
    return len(_node_text(link)) * CHAR + 16


def _place(top: Topology) -> list[_Placed]:
    """The shell's own namespace (with the bridges, as a rule) in the first column, the named ones after."""
    sizes = [(2 * PAD + max([len(label(box.ns)) * CHAR]
                            + [depth * INDENT + _node_width(link) for link, depth in box.rows()]),
              TITLE + max(len(box.rows()), 1) * ROW + PAD) for box in top.boxes]
    columns: list[list[int]] = []
    for index, box in enumerate(top.boxes):
        full = bool(columns) and (top.boxes[columns[-1][0]].ns == ROOT or len(columns[-1]) == PER_COLUMN)
        if not columns or (box.ns != ROOT and full):
            columns.append([])
        columns[-1].append(index)
    placed = []
    x = 20.0
    for number, members in enumerate(columns):
        y = 20.0
        for index in members:
            width, height = sizes[index]
            placed.append(_Placed(top.boxes[index], x, y, width, height, number))
            y += height + GAP_Y
        x += max(sizes[index][0] for index in members) + GAP_X
    return placed


def _svg_box(place: _Placed, anchors: dict[End, _Anchor]) -> list[str]:
    box = place.box
    out = [(f'<g class="netns"><rect x="{place.x:.0f}" y="{place.y:.0f}" width="{place.width:.0f}" '
            f'height="{place.height:.0f}" rx="8" fill="#fafafa" stroke="#9aa0a6"/>'),
           _svg_text(place.x + PAD, place.y + 17, label(box.ns), 'font-weight="bold"')]
    bridge_bottoms: dict[str, float] = {}
    for row, (link, depth) in enumerate(box.rows()):
        left, top, width = place.x + PAD + depth * INDENT, place.y + TITLE + row * ROW, _node_width(link)
        anchors[(box.ns, link.name)] = _Anchor(left, left + width, top + NODE / 2, place.column,
                                               place.x + place.width)
        tip = f"<title>{escape(' '.join([link.name, *_words(link)]))}</title>"
        if link.kind == "bridge":  # a switch: a flat hexagon
            bridge_bottoms[link.name] = top + NODE
            cut, right, bottom = NODE / 2, left + width, top + NODE
            points = [(left, top + cut), (left + cut, top), (right - cut, top), (right, top + cut),
                      (right - cut, bottom), (left + cut, bottom)]
            shape = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(f'<g class="bridge">{tip}<polygon points="{shape}" fill="#e8f0fe" stroke="#1a73e8" '
                       'stroke-width="2"/>')
        else:
            fill, stroke = COLORS[link.state]
            out.append(f'<g class="link">{tip}<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" '
                       f'height="{NODE}" rx="4" fill="{fill}" stroke="{stroke}"/>')
        out.append(_svg_text(left + 8, top + 15, _node_text(link)) + "</g>")
        if depth and link.master in bridge_bottoms:  # the port hangs from its bridge
            trunk = place.x + PAD + INDENT / 2
            out.append(f'<path d="M{trunk:.1f},{bridge_bottoms[link.master]:.1f} V{top + NODE / 2:.1f} '
                       f'H{left:.1f}" fill="none" stroke="#1a73e8" stroke-width="1.5"/>')
    return [*out, "</g>"]


def _svg_pair(a: End, b: End, anchors: dict[End, _Anchor]) -> str:
    one, two = anchors[a], anchors[b]
    if one.column == two.column:  # out of the box on the right, round, and back in
        edge = max(one.box_right, two.box_right)
        bow = edge + 30 + min(abs(two.y - one.y) / 4, 30)
        path = (f"M{one.right:.1f},{one.y:.1f} H{edge:.1f} C{bow:.1f},{one.y:.1f} {bow:.1f},{two.y:.1f} "
                f"{edge:.1f},{two.y:.1f} H{two.right:.1f}")
    else:
        first, second = (one, two) if one.column < two.column else (two, one)
        middle = (first.right + second.left) / 2
        path = (f"M{first.right:.1f},{first.y:.1f} C{middle:.1f},{first.y:.1f} {middle:.1f},{second.y:.1f} "
                f"{second.left:.1f},{second.y:.1f}")
    title = escape(f"veth pair: {a[1]} ({label(a[0])}) ↔ {b[1]} ({label(b[0])})")
    return (f'<path class="veth" d="{path}" fill="none" stroke="{VETH_COLOR}" stroke-width="3">'
            f"<title>{title}</title></path>")


def _svg_legend(y: float) -> tuple[list[str], float]:
    """What the colours mean, in one row at height y; returns the elements and the row's width."""
    out, x = [], 20.0
    for state, (fill, stroke) in COLORS.items():
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="14" rx="3" fill="{fill}" '
                   f'stroke="{stroke}"/>')
        out.append(_svg_text(x + 20, y + 11, state))
        x += 20 + len(state) * CHAR + 24
    out.append(f'<path d="M{x:.1f},{y + 7:.1f} h24" stroke="{VETH_COLOR}" stroke-width="3"/>')
    out.append(_svg_text(x + 30, y + 11, "veth pair"))
    return out, x + 30 + 9 * CHAR + 20


def _svg(top: Topology) -> str:
    placed = _place(top)
    anchors: dict[End, _Anchor] = {}
    body = [line for place in placed for line in _svg_box(place, anchors)]
    body += [_svg_pair(a, b, anchors) for a, b in top.pairs]
    legend_y = max((p.y + p.height for p in placed), default=0) + 10
    legend, legend_width = _svg_legend(legend_y)
    width = max([p.x + p.width + 80 for p in placed] + [legend_width])
    height = legend_y + 30
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">')
    return "\n".join([head, "<title>network namespaces, bridges and veth pairs</title>",
                      f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
                      *body, *legend, "</svg>"]) + "\n"


def _svg_text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{" " + extra if extra else ""}>{escape(text)}</text>'


_RENDERERS: dict[str, Callable[[Topology], str]] = {
    "text": _text, "mermaid": _mermaid, "dot": _dot, "svg": _svg,
}
