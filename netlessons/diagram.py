"""Drawings of a lab's topology from a Snapshot: text for a terminal, Mermaid, Graphviz DOT, SVG, or JSON data.

Each namespace is a box (the shell's own namespace too, once it holds more than loopback), a bridge is a hub
with its ports around it, and each veth pair is one line between its two ends. Besides the cables it shows
what the lessons teach: VXLAN tunnels between their endpoints (VNI, port, underlay addresses) and routes that
send a subnet through a gateway in another namespace. A veth whose other end cannot be found is drawn with a
stub that says so, never left out. The SVG is laid out by Graphviz `dot` when it is installed, else by a
simple layout of our own.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from netlessons.errors import EnvironmentProblem
from netlessons.state import BACKGROUND_LINKS, ROOT, Link, Route, Snapshot, label, natural

FORMATS = ("text", "mermaid", "dot", "svg", "json")
MAX_TEXT_NAMESPACES = 12  # beyond this the text drawing becomes a summary
DOT_TIMEOUT = 60  # seconds; dot lays out n=20 in well under one

End = tuple[str, str]  # (namespace, link name)


@dataclass(frozen=True)
class Box:
    """One namespace as drawn: its bridges with their ports, then its other interfaces, and its routes."""

    ns: str
    bridges: tuple[tuple[Link, tuple[Link, ...]], ...] = ()
    others: tuple[Link, ...] = ()
    routes: tuple[Route, ...] = ()  # those not implied by an address: gateways, defaults, blackholes ...

    def rows(self) -> list[tuple[Link, int]]:
        """(link, depth) in drawing order; ports have depth 1, under their bridge."""
        rows: list[tuple[Link, int]] = []
        for bridge, ports in self.bridges:
            rows += [(bridge, 0)] + [(port, 1) for port in ports]
        return rows + [(link, 0) for link in self.others]


@dataclass(frozen=True)
class Tunnel:
    """Two VXLAN endpoints with the same VNI and port, at least one of which sends to the other's address."""

    a: End
    b: End
    vni: int
    port: int
    local_a: str
    local_b: str

    def words(self) -> str:
        return f"VXLAN VNI {self.vni}, UDP {self.port}: {self.local_a} ⇄ {self.local_b}"


@dataclass(frozen=True)
class Hop:
    """A route in one namespace whose gateway is an address held by an interface of another namespace."""

    ns: str
    route: Route
    gateway: End


@dataclass(frozen=True)
class Topology:
    boxes: tuple[Box, ...]
    pairs: tuple[tuple[End, End], ...]  # each veth pair once
    loose: tuple[tuple[End, int], ...] = ()  # veths whose other end was not found, with that end's ifindex
    tunnels: tuple[Tunnel, ...] = ()
    hops: tuple[Hop, ...] = ()
    children: tuple[tuple[End, End], ...] = ()  # (child, parent) of macvlan, ipvlan and VLAN links, one namespace

    def link(self, end: End) -> Link:
        return next(link for box in self.boxes if box.ns == end[0] for link, _ in box.rows() if link.name == end[1])


def _connected(route: Route, links: dict[str, Link]) -> bool:
    """A route the kernel added for an address: the address's own subnet, on its interface, no gateway."""
    link = links.get(route.dev)
    if route.via or route.type != "unicast" or link is None:
        return False
    for address in link.addresses:
        try:
            if str(ipaddress.ip_interface(address).network) == route.dst:
                return True
        except ValueError:
            continue
    return False


def _owner(address: str, snapshot: Snapshot) -> End | None:
    """The interface holding this address, when exactly one does."""
    try:
        wanted = ipaddress.ip_address(address)
    except ValueError:
        return None
    owners = [(ns, link.name) for ns, link in snapshot.links()
              for text in link.addresses if _ip(text) == wanted]
    return owners[0] if len(owners) == 1 else None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_interface(text).ip
    except ValueError:
        return None


def _tunnels(snapshot: Snapshot) -> list[Tunnel]:
    vteps = [((ns, link.name), link.vxlan) for ns, link in snapshot.links() if link.vxlan]
    found = []
    for index, (one, first) in enumerate(vteps):
        for two, second in vteps[index + 1:]:
            if (first.vni, first.port) == (second.vni, second.port) and (
                    second.local in first.remotes or first.local in second.remotes):
                found.append(Tunnel(one, two, first.vni, first.port, first.local, second.local))
    return found


def _hops(snapshot: Snapshot) -> list[Hop]:
    """Routes through a gateway in another namespace, default routes left out (each would only repeat the
    cable it leaves by)."""
    hops = []
    for ns in snapshot.namespaces:
        for route in ns.routes:
            if route.dst == "default" or not route.via or "," in route.via:
                continue
            gateway = _owner(route.via, snapshot)
            if gateway and gateway[0] != ns.name:
                hops.append(Hop(ns.name, route, gateway))
    return hops


def topology(snapshot: Snapshot) -> Topology:
    """What is drawn, whatever the format: boxes in natural order, background links left out."""
    boxes = []
    for ns in sorted(snapshot.namespaces, key=lambda n: natural(n.name)):
        links = sorted((link for link in ns.links if link.name not in BACKGROUND_LINKS),
                       key=lambda link: natural(link.name))
        by_name = {link.name: link for link in ns.links}
        routes = tuple(route for route in ns.routes if not _connected(route, by_name))
        if ns.name == ROOT and not links:
            continue
        bridge_names = {link.name for link in links if link.kind == "bridge"}
        bridges = tuple((link, tuple(port for port in links if port.master == link.name))
                        for link in links if link.kind == "bridge")
        others = tuple(link for link in links if link.kind != "bridge" and link.master not in bridge_names)
        boxes.append(Box(ns.name, bridges, others, routes))
    drawn = {(box.ns, link.name) for box in boxes for link, _ in box.rows()}
    pairs: list[tuple[End, End]] = []
    loose: list[tuple[End, int]] = []
    paired: set[End] = set()
    for box in boxes:
        for link, _ in box.rows():
            here = (box.ns, link.name)
            if link.kind != "veth" or here in paired:
                continue
            there = (link.peer_netns, link.peer) if link.peer_netns is not None else None
            if there in drawn and there != here:
                pairs.append((here, there))
                paired |= {here, there}
            else:
                loose.append((here, link.peer_index))
    hops = tuple(hop for hop in _hops(snapshot) if (hop.ns in {box.ns for box in boxes}) and hop.gateway in drawn)
    tunnels = tuple(t for t in _tunnels(snapshot) if t.a in drawn and t.b in drawn)
    children = tuple(((box.ns, link.name), (box.ns, link.parent)) for box in boxes for link, _ in box.rows()
                     if link.parent and (box.ns, link.parent) in drawn)
    return Topology(tuple(boxes), tuple(pairs), tuple(loose), tunnels, hops, children)


def render(snapshot: Snapshot, fmt: str = "text", *, layout: str = "auto") -> str:
    """The snapshot drawn in one of FORMATS. For svg, `layout` is "dot" (Graphviz), "builtin" (our own
    simple layout) or "auto": dot when it is installed (see dot_program), else builtin."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown diagram format {fmt!r}; choose one of {', '.join(FORMATS)}")
    top = topology(snapshot)
    if fmt == "svg":
        use_dot = layout == "dot" or (layout == "auto" and dot_program() is not None)
        return _svg_by_dot(top) if use_dot else _svg_builtin(top)
    return _RENDERERS[fmt](top)


def dot_program() -> str | None:
    """Where Graphviz's dot is, or None when it is not installed (Debian package graphviz)."""
    return shutil.which("dot")


def _words(link: Link) -> list[str]:
    """What is said about an interface besides its name."""
    words = [f"{link.kind}, {link.state}" if link.kind else link.state, *link.addresses]
    if link.mtu and link.mtu != 1500 and link.kind not in ("", "bridge"):
        words.append(f"mtu {link.mtu}")
    if link.vxlan:
        tunnel = link.vxlan
        words.append(f"VNI {tunnel.vni}, UDP {tunnel.port}, local {tunnel.local or '?'}"
                     + (f" on {tunnel.underlay}" if tunnel.underlay else ""))
        words.append("remote " + (", ".join(tunnel.remotes) if tunnel.remotes else "none yet"))
    if link.vlan_id:
        words.append(f"VLAN {link.vlan_id}")
    if link.parent or link.parent_index:
        words.append(f"on {link.parent}" if link.parent else f"on ifindex {link.parent_index} of another namespace")
    return words


def _loose_words(index: int) -> str:
    where = f"ifindex {index}" if index else "an interface"
    return f"other end not found ({where} in a namespace outside /run/netns)"


def _route_words(route: Route) -> str:
    return str(route)


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
        lines += [f"route {_route_words(route)}" for route in box.routes]
        blocks.append([label(box.ns), *(lines or ["(no links)"])])
    width = max((len(line) for block in blocks for line in block), default=0) + 2
    out = []
    for title, *lines in blocks:
        out.append(f"┌─ {title} " + "─" * (width - len(title) - 3) + "┐")
        out += [f"│ {line.ljust(width - 2)} │" for line in lines]
        out.append("└" + "─" * width + "┘")
    if top.pairs or top.loose:
        out += ["", "veth pairs"]
        out += [f"  {a[1]} ({label(a[0])}) ══════ {b[1]} ({label(b[0])})" for a, b in top.pairs]
        out += [f"  {end[1]} ({label(end[0])}) ══════ ? {_loose_words(index)}" for end, index in top.loose]
    if top.tunnels:
        out += ["", "tunnels"]
        out += [f"  {t.a[1]} ({label(t.a[0])}) ┄┄┄┄┄┄ {t.b[1]} ({label(t.b[0])})  {t.words()}" for t in top.tunnels]
    if top.hops:
        out += ["", "routes to other namespaces"]
        out += [f"  {label(h.ns)}: {h.route.dst} via {h.route.via} → {h.gateway[1]} ({label(h.gateway[0])})"
                for h in top.hops]
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
    lines.append(f"  veth pairs: {len(top.pairs)}" + (f", {len(top.loose)} with an end not found" if top.loose
                                                       else ""))
    lines.append(f"  addresses: {sum(len(link.addresses) for link in links)}")
    if top.tunnels:
        lines.append(f"  tunnels: {len(top.tunnels)}")
    if top.hops:
        lines.append(f"  routes to other namespaces: {len(top.hops)}")
    return "\n".join(lines) + "\n"


# --- json --------------------------------------------------------------------------------------------------


def _end(end: End) -> dict[str, str]:
    return {"namespace": end[0], "link": end[1]}


def _json(top: Topology) -> str:
    """The topology as data. The shell's own namespace is named "" (its label is "host")."""
    peers = {**{a: b for a, b in top.pairs}, **{b: a for a, b in top.pairs}}
    namespaces = []
    for box in top.boxes:
        links = []
        for link, _ in box.rows():
            record = {"name": link.name, "kind": link.kind, "state": link.state, "up": link.up,
                      "carrier": link.carrier, "mtu": link.mtu, "addresses": list(link.addresses),
                      "master": link.master or None}
            if link.kind == "veth":
                other = peers.get((box.ns, link.name))
                record["peer"] = _end(other) if other else None
            if link.parent or link.parent_index:
                record["parent"] = link.parent or {"ifindex": link.parent_index, "namespace": "another"}
            if link.vlan_id:
                record["vlan"] = link.vlan_id
            if link.vxlan:
                record["vxlan"] = {"vni": link.vxlan.vni, "local": link.vxlan.local, "port": link.vxlan.port,
                                   "underlay": link.vxlan.underlay, "remotes": list(link.vxlan.remotes)}
            links.append(record)
        namespaces.append({"name": box.ns, "label": label(box.ns), "links": links,
                           "routes": [{"dst": r.dst, "via": r.via, "dev": r.dev, "type": r.type}
                                      for r in box.routes]})
    data = {
        "namespaces": namespaces,
        "veth_pairs": [[_end(a), _end(b)] for a, b in top.pairs],
        "unresolved_peers": [{**_end(end), "peer_ifindex": index} for end, index in top.loose],
        "bridges": [{"namespace": box.ns, "bridge": bridge.name, "ports": [port.name for port in ports]}
                    for box in top.boxes for bridge, ports in box.bridges],
        "tunnels": [{"kind": "vxlan", "vni": t.vni, "port": t.port,
                     "ends": [{**_end(t.a), "local": t.local_a}, {**_end(t.b), "local": t.local_b}]}
                    for t in top.tunnels],
        "routes": [{"namespace": h.ns, "dst": h.route.dst, "via": h.route.via, "dev": h.route.dev,
                    "gateway": _end(h.gateway)} for h in top.hops],
        "children": [{"child": _end(child), "parent": _end(parent), "kind": top.link(child).kind}
                     for child, parent in top.children],
    }
    return json.dumps(data, indent=1) + "\n"


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
    """Top to bottom: a bridge above its ports, the namespaces its cables lead to side by side below, so a
    star reads as a star. As in the DOT drawing, a namespace with several interfaces of its own has a
    routing-table node joined to each; a lone interface's routes sit next to it."""
    ids = _Ids()
    gateways = _gateways(top)
    out = ["flowchart TB"]
    inner, stack = [], []
    for box in top.boxes:
        out.append(f"  subgraph {ids('ns', box.ns)}[{_mermaid_text([label(box.ns)])}]")
        for link, depth in sorted(box.rows(), key=lambda row: row[0].kind == "bridge" or row[1] > 0):
            node = ids("if", box.ns, link.name)
            text = _mermaid_text([link.name, *_words(link)])
            out.append(f"    {node}{{{{{text}}}}}" if link.kind == "bridge" else f"    {node}[{text}]")
            if depth:
                inner.append(f"  {ids('if', box.ns, link.master)} --- {node}")
        routed = [link for link, depth in box.rows() if not depth]
        if box.routes or len(routed) > 1:
            table = ids("routes", box.ns)
            words = ["routing" if len(routed) > 1 else "routes",
                     *(line for r in box.routes for line in _routed_words(r, box.ns, gateways).split("\n"))]
            out.append(f"    {table}>{_mermaid_text(words)}]")
            if len(routed) > 1:
                stack += [f"  {table} -.- {ids('if', box.ns, link.name)}" for link in routed]
        if not box.rows():
            out.append(f"    {ids('empty', box.ns)}[{_mermaid_text(['(no links)'])}]")
        out.append("  end")
    edges = [f"  {ids('if', *a)} === {ids('if', *b)}" for a, b in top.pairs] + inner + stack
    for end, index in top.loose:
        stub = ids("loose", *end)
        out.append(f"  {stub}[/{_mermaid_text([_loose_words(index)])}/]")
        edges.append(f"  {ids('if', *end)} === {stub}")
    edges += [f"  {ids('if', *t.a)} <-. {_mermaid_text([t.words()])} .-> {ids('if', *t.b)}" for t in top.tunnels]
    edges += [f"  {ids('if', *child)} -. {top.link(child).kind} .- {ids('if', *parent)}"
              for child, parent in top.children]
    return "\n".join(out + edges) + "\n"


# --- dot ---------------------------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_node(end: End) -> str:
    return _dot_string("/".join(end))


def _gateways(top: Topology) -> dict[tuple[str, Route], End]:
    return {(hop.ns, hop.route): hop.gateway for hop in top.hops}


def _routed_words(route: Route, ns: str, gateways: dict[tuple[str, Route], End]) -> str:
    """A route, and the interface its gateway is, when that lies in another namespace."""
    gateway = gateways.get((ns, route))
    return _route_words(route) + (f"\n  → {gateway[1]} in {label(gateway[0])}" if gateway else "")


def _dot(top: Topology) -> str:
    """Left to right, one cluster per namespace: a bridge is a hub with its ports next to it, and the
    namespaces its cables lead to beyond them. A namespace with several interfaces of its own (not bridge
    ports) gets a routing-table node joined to each of them, as the kernel joins them: that keeps a node's
    interfaces together, and its pods beside it. Tunnels do not pull on the layout."""
    gateways = _gateways(top)
    out = ["graph lab {", "  rankdir=LR; nodesep=0.25; ranksep=0.5;",
           ('  graph [fontname="monospace", fontsize=12, style="rounded,filled", fillcolor="#fafafa", '
            'color="#9aa0a6"];'),
           '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
           '  edge [fontname="monospace", fontsize=9];']
    edges = []
    for number, box in enumerate(top.boxes):
        routed = [link for link, depth in box.rows() if not depth]
        table = len(routed) > 1
        routes = "".join(_dot_string(_routed_words(r, box.ns, gateways))[1:-1].replace("\\n", "\\l") + "\\l"
                         for r in box.routes)
        title = _dot_string(label(box.ns))[1:-1] + ("\\n" + routes if routes and not table else "")
        out.append(f"  subgraph cluster_{number} {{")
        out.append(f'    label="{title}"; tooltip={_dot_string("namespace " + label(box.ns))};')
        for link, depth in box.rows():
            node = _dot_node((box.ns, link.name))
            text = _dot_string("\n".join([link.name, *_words(link)]))
            if link.kind == "bridge":
                look = 'shape=hexagon, fillcolor="#e8f0fe", color="#1a73e8", penwidth=2, class="bridge"'
            else:
                fill, stroke = COLORS[link.state]
                look = f'fillcolor="{fill}", color="{stroke}", class="link"'
            out.append(f"    {node} [label={text}, {look}];")
            if depth:
                edges.append(f"  {_dot_node((box.ns, link.master))} -- {node} "
                             '[color="#1a73e8", penwidth=1.5, class="port"];')
        if table:
            stack = _dot_node((box.ns, "(routing)"))
            out.append(f'    {stack} [label="routing\\l{routes}", shape=note, fillcolor="#fffde7", '
                       'color="#9aa0a6", class="routes"];')
            edges += [f'  {stack} -- {_dot_node((box.ns, link.name))} [color="#9aa0a6", class="stack"];'
                      for link in routed]
        if not box.rows():
            out.append(f'    {_dot_node((box.ns, "(empty)"))} [label="(no links)", shape=plaintext, style=""];')
        out.append("  }")
    for a, b in top.pairs:
        title = _dot_string(f"veth pair: {a[1]} ({label(a[0])}) ↔ {b[1]} ({label(b[0])})")
        edges.append(f'  {_dot_node(a)} -- {_dot_node(b)} [penwidth=2.5, color="{VETH_COLOR}", tooltip={title}, '
                     'class="veth"];')
    for end, index in top.loose:
        stub = _dot_node((end[0], end[1] + " (lost peer)"))
        out.append(f'  {stub} [label={_dot_string(_loose_words(index))}, shape=box, style="dashed", '
                   f'color="{VETH_COLOR}", class="loose"];')
        edges.append(f'  {_dot_node(end)} -- {stub} [penwidth=2.5, color="{VETH_COLOR}", style=dashed, '
                     'class="veth loose"];')
    for t in top.tunnels:
        words = _dot_string(t.words().replace(": ", ":\n"))
        edges.append(f"  {_dot_node(t.a)} -- {_dot_node(t.b)} [label={words}, "
                     f'style=dashed, penwidth=2, color="{TUNNEL_COLOR}", fontcolor="{TUNNEL_COLOR}", '
                     'constraint=false, dir=both, class="tunnel"];')
    for child, parent in top.children:
        edges.append(f"  {_dot_node(child)} -- {_dot_node(parent)} [label={_dot_string(top.link(child).kind)}, "
                     'style=dotted, penwidth=2, class="child"];')
    return "\n".join(out + edges + ["}"]) + "\n"


def _svg_by_dot(top: Topology) -> str:
    """The DOT drawing laid out by Graphviz, as a standalone <svg> element (no XML prolog or doctype, so it
    can also sit inside an HTML page)."""
    program = dot_program()
    if program is None:
        raise EnvironmentProblem("Graphviz dot is not installed", hint="apt-get install graphviz")
    result = subprocess.run([program, "-Tsvg"], input=_dot(top), capture_output=True, text=True,
                            timeout=DOT_TIMEOUT, check=False)
    if result.returncode != 0 or "<svg" not in result.stdout:
        raise EnvironmentProblem(f"Graphviz dot could not lay out the drawing: {result.stderr.strip()}")
    svg = result.stdout[result.stdout.index("<svg"):].replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
    return re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)


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
TUNNEL_COLOR = "#8e24aa"
ROUTE_COLOR = "#5f6368"
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
    lost = ["(other end not found)"] if link.kind == "veth" and link.peer_netns is None else []
    return "  ".join([link.name, *link.addresses, *lost])


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


def _svg_builtin(top: Topology) -> str:
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
    "text": _text, "mermaid": _mermaid, "dot": _dot, "svg": _svg_builtin, "json": _json,
}
