"""Snapshots of the lab's network (namespaces, links, addresses, routes) and their difference in plain words.

A snapshot costs one command in the lab's shell: it runs `ip` once for the namespace the shell lives in and
once per named namespace, each time in batch mode (`-b`) for links (with details and addresses), routes and
the namespace ids that namespace knows, and prints it all in one go. That is about 2 ms per namespace, most of
it spent starting `ip`. A namespace holding a VXLAN device also has its forwarding entries read (`bridge fdb`),
for the tunnel's remote ends. The runner passes its shell's `run`, so the same code reads a sandbox or this
machine.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from netlessons.checks.tables import json_documents
from netlessons.errors import EnvironmentProblem
from netlessons.results import CommandResult

ROOT = ""  # the namespace the lab's shell lives in; it has no name of its own
ROOT_LABEL = "host"
Key = tuple[str, str]  # (namespace, link name)

# Links the kernel puts into every namespace (loopback, and the fallback devices of tunnel modules when they
# are loaded). A new or deleted namespace is not worth a line per such link, nor a drawing.
BACKGROUND_LINKS = frozenset({"lo", "tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip6gre0",
                              "ip_vti0", "ip6_vti0"})

_MARKER = "@@netns "
_FDB_MARKER = "\n@@fdb\n"  # printed by _READ_ONE
_CT_MARKER = "\n@@ct\n"
# One shell command for the whole snapshot. Named namespaces are the entries of /run/netns, where `ip netns`
# keeps them; each one's section starts with a marker line holding its name. A batch stops at its first
# failing line, so what a section holds is always a prefix of [links, routes, namespace ids]. Namespace ids
# mean something only in the namespace that reports them, so each namespace is asked for its own. Forwarding
# entries follow their own marker, and only where a VXLAN device or a bridge exists. Connection tracking entries
# follow theirs, read from inside each named namespace that has two interfaces besides loopback, where a
# node routes and translates (nsenter starts no shell and mounts nothing, unlike `ip netns exec`; a container
# with one interface is left out to keep a snapshot cheap); not in the shell's own namespace, which in host mode
# is this machine's, with all its connections.
_READ_ONE = r"""out=$(ip "${n[@]}" -j -d -b - <<< $'addr show\nroute show\nnetns list-id\nneigh show')
printf '%s\n' "$out"
case $out in *'"info_kind":"vxlan"'*|*'"info_kind":"bridge"'*) printf '\n@@fdb\n'; bridge "${n[@]}" -j fdb show;; esac
case ${n[*]}:$out in ?*:*'"ifname":'*'"ifname":'*'"ifname":'*)
  printf '\n@@ct\n'; nsenter --net="$p" cat /proc/net/nf_conntrack 2>/dev/null;; esac
"""
SNAPSHOT_COMMAND = (
    "n=()\n" + _READ_ONE
    + "for p in /run/netns/*; do\n"
    '  [ -e "$p" ] || continue\n'
    f"  printf '\\n{_MARKER}%s\\n' \"${{p##*/}}\"\n"
    '  n=(-n "${p##*/}")\n'
    + "".join(f"  {line}\n" for line in _READ_ONE.splitlines())
    + "done\n"
    "true"
)


def label(ns: str) -> str:
    """How a namespace is shown to people."""
    return ns or ROOT_LABEL


@dataclass(frozen=True)
class Vxlan:
    """A VXLAN tunnel endpoint's settings, and where its forwarding entries send frames."""

    vni: int
    local: str = ""  # the underlay address it sends from
    port: int = 0  # UDP destination port
    underlay: str = ""  # the interface it sends through
    remotes: tuple[str, ...] = ()  # underlay addresses of the other ends: `remote`/`group`, fdb entries' dst


@dataclass(frozen=True)
class Link:
    name: str
    kind: str = ""  # linkinfo.info_kind: veth, bridge, dummy ...; "" for loopback and hardware
    up: bool = False  # administratively up (the UP flag)
    carrier: bool = False  # up and able to pass traffic (e.g. a veth whose other end is up too)
    master: str = ""  # the bridge it is a port of
    peer: str = ""  # a veth's other end, "" when it could not be found
    peer_netns: str | None = None  # where the other end lives (ROOT for the shell's own namespace)
    addresses: tuple[str, ...] = ()  # "10.0.0.1/24"; IPv6 link-local addresses are left out
    mtu: int = 0
    peer_index: int = 0  # a veth's other end's ifindex, kept only when that end could not be found
    vxlan: Vxlan | None = None
    parent: str = ""  # the interface a macvlan, ipvlan or VLAN child sits on, in the same namespace
    parent_index: int = 0  # the parent's ifindex, when it is in another namespace
    vlan_id: int = 0  # a VLAN child's 802.1Q id

    @property
    def state(self) -> str:
        if not self.up:
            return "DOWN"
        return "UP" if self.carrier else "UP (no carrier)"


@dataclass(frozen=True)
class Route:
    dst: str  # "10.0.0.0/24" or "default"
    dev: str = ""
    via: str = ""
    type: str = "unicast"

    def __str__(self) -> str:
        text = self.dst if self.type == "unicast" else f"{self.type} {self.dst}"
        return text + (f" via {self.via}" if self.via else "") + (f" dev {self.dev}" if self.dev else "")


@dataclass(frozen=True)
class Namespace:
    name: str  # ROOT or a name from `ip netns list`
    links: tuple[Link, ...] = ()
    routes: tuple[Route, ...] = ()  # the IPv4 main table
    # The kernel's tables, each entry in words: "10.0.0.2 is 0e:..:3a on veth1" (neighbours), "0e:..:3a on
    # veth1_0 of br0, static" (forwarding entries a person or program added), conntrack entries.
    neighbours: tuple[str, ...] = ()
    fdb: tuple[str, ...] = ()
    conntrack: tuple[str, ...] = ()

    def link(self, name: str) -> Link | None:
        return next((link for link in self.links if link.name == name), None)


@dataclass(frozen=True)
class Snapshot:
    namespaces: tuple[Namespace, ...] = field(default_factory=tuple)  # ROOT first, then ns1, ns2 ... ns10

    @property
    def names(self) -> list[str]:
        return [ns.name for ns in self.namespaces]

    def namespace(self, name: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.name == name), None)

    def links(self) -> Iterator[tuple[str, Link]]:
        """Every (namespace, link), in snapshot order."""
        for ns in self.namespaces:
            for link in ns.links:
                yield ns.name, link

    def loose_ends(self) -> list[Key]:
        """Veths whose other end was not found: it lives in a namespace outside /run/netns, or in one that
        was just deleted and that the kernel has not torn down yet (its veths then vanish a moment later)."""
        return [(ns, link.name) for ns, link in self.links()
                if link.kind == "veth" and link.peer_netns is None]

    def to_json(self) -> str:
        return json.dumps(asdict(_normalized(self)), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        return _normalized(cls(tuple(
            Namespace(ns["name"], tuple(_link_from_json(link) for link in ns["links"]),
                      tuple(Route(**route) for route in ns["routes"]),
                      *(tuple(ns.get(key, ())) for key in ("neighbours", "fdb", "conntrack")))
            for ns in data["namespaces"])))


def _link_from_json(data: dict[str, Any]) -> Link:
    tunnel = data.get("vxlan")
    return Link(**{**data, "addresses": tuple(data["addresses"]),
                   "vxlan": Vxlan(**{**tunnel, "remotes": tuple(tunnel["remotes"])}) if tunnel else None})


def natural(name: str) -> list:
    """Sort key that puts ns2 before ns10."""
    return [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", name))]


def _address_key(text: str) -> tuple:
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        return (9, text)
    return (interface.version, interface.ip, interface.network.prefixlen)


def _normalized(snapshot: Snapshot) -> Snapshot:
    """Everything in a stable order, so equal networks give equal snapshots and equal JSON."""
    return Snapshot(tuple(
        Namespace(ns.name,
                  tuple(replace(link, addresses=tuple(sorted(link.addresses, key=_address_key)))
                        for link in sorted(ns.links, key=lambda link: natural(link.name))),
                  tuple(sorted(ns.routes, key=lambda route: (str(route), route.type))),
                  tuple(sorted(set(ns.neighbours), key=natural)), tuple(sorted(set(ns.fdb), key=natural)),
                  tuple(sorted(set(ns.conntrack), key=natural)))
        for ns in sorted(snapshot.namespaces, key=lambda ns: natural(ns.name))))


# --- reading `ip -j` ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    """What was read in one namespace: a prefix of [links, routes, namespace ids], and forwarding entries."""

    documents: list[Any]
    fdb: list[dict[str, Any]]
    conntrack: str = ""

    def document(self, position: int) -> list[Any] | None:
        found = self.documents[position] if len(self.documents) > position else None
        return found if isinstance(found, list) else None


def _section(text: str) -> _Section:
    text, _, ct_part = text.partition(_CT_MARKER)
    ip_part, _, fdb_part = text.partition(_FDB_MARKER)
    fdb = json_documents(fdb_part)
    return _Section(json_documents(ip_part), fdb[0] if fdb and isinstance(fdb[0], list) else [], ct_part)


def _sections(stdout: str) -> dict[str, _Section]:
    parts = stdout.split("\n" + _MARKER)
    sections = {ROOT: _section(parts[0])}
    for part in parts[1:]:
        name, _, rest = part.partition("\n")
        found = _section(rest)
        if found.documents:  # no output: the namespace vanished between listing and reading it
            sections[name] = found
    return sections


def _kind(raw: dict[str, Any]) -> str:
    return (raw.get("linkinfo") or {}).get("info_kind", "")


def _link(raw: dict[str, Any], peer: tuple[str, str | None], fdb: list[dict[str, Any]]) -> Link:
    flags = raw.get("flags", [])
    up = "UP" in flags
    carrier = up and "NO-CARRIER" not in flags and raw.get("operstate") not in ("DOWN", "LOWERLAYERDOWN")
    unresolved = _kind(raw) == "veth" and peer[1] is None
    child = _kind(raw) in CHILD_KINDS
    elsewhere = child and "link_netnsid" in raw
    info = (raw.get("linkinfo") or {}).get("info_data") or {}
    return Link(raw["ifname"], _kind(raw), up, carrier, raw.get("master", ""), *peer, _addresses(raw),
                mtu=raw.get("mtu", 0), peer_index=raw.get("link_index", 0) if unresolved else 0,
                vxlan=_vxlan(raw, fdb), parent=raw.get("link", "") if child and not elsewhere else "",
                parent_index=raw.get("link_index", 0) if elsewhere else 0,
                vlan_id=info.get("id", 0) if _kind(raw) == "vlan" else 0)


# Kinds of interface that sit on another one (their "parent"), sharing its wire.
CHILD_KINDS = ("macvlan", "macvtap", "ipvlan", "ipvtap", "vlan")


def _vxlan(raw: dict[str, Any], fdb: list[dict[str, Any]]) -> Vxlan | None:
    if _kind(raw) != "vxlan":
        return None
    data = raw["linkinfo"].get("info_data") or {}
    remotes = [data[key] for key in ("remote", "remote6", "group", "group6") if data.get(key)]
    remotes += [entry["dst"] for entry in fdb if entry.get("ifname") == raw["ifname"] and entry.get("dst")]
    return Vxlan(data.get("id", 0), data.get("local") or data.get("local6", ""), data.get("port", 0),
                 data.get("link", ""), tuple(sorted(set(remotes), key=_address_key)))


def _addresses(raw: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f"{a['local']}/{a['prefixlen']}" for a in raw.get("addr_info", [])
                 if "local" in a and not (a.get("family") == "inet6" and a.get("scope") == "link"))


def _neighbours(raw: list[dict[str, Any]]) -> tuple[str, ...]:
    """Each entry as `10.0.0.2 is aa:bb:.. on veth1`; its state (REACHABLE, STALE ...) is left out, since it
    changes with time alone. An entry that could not be resolved says so."""
    return tuple(f"{e.get('dst')} is {e['lladdr']} on {e.get('dev')}" if e.get("lladdr")
                 else f"{e.get('dst')} unresolved on {e.get('dev')}" for e in raw if e.get("dst"))


# Forwarding entries every bridge port and VXLAN device has without anyone asking: multicast groups, a port's
# own address. Learned entries are left out too: a bridge also learns from the IPv6 messages each interface
# sends on its own, some random fraction of a second after it comes up, so they would make the same lesson tell
# different stories on different runs (a lesson shows and checks them with an fdb step instead).
_AUTOMATIC_MAC = ("33:33:", "01:00:5e:")


def _fdb(raw: list[dict[str, Any]]) -> tuple[str, ...]:
    found = []
    for entry in raw:
        mac = str(entry.get("mac", ""))
        if mac.startswith(_AUTOMATIC_MAC) or not entry.get("state"):
            continue
        if entry.get("state") == "permanent" and not entry.get("dst") and ("self" in entry.get("flags", [])
                                                                             or entry.get("master")):
            continue  # a port's or device's own address
        where = entry.get("ifname", "?") + (f" of {entry['master']}" if entry.get("master") else "")
        found.append(f"{mac} on {where}" + (f" to {entry['dst']}" if entry.get("dst") else "")
                     + f", {entry['state']}")
    return tuple(found)


def _conntrack(text: str) -> tuple[str, ...]:
    """Each connection in words: protocol, addresses and destination port; where NAT rewrote the connection,
    where its replies come from and go to. Source ports and ICMP ids are left out: they differ every run; so
    are connections to multicast groups, which interfaces join with messages sent at random moments."""
    from netlessons.checks.tables import conntrack

    found = []
    for entry in conntrack(text):
        o, r = entry.original, entry.reply
        if _multicast(o.get("dst", "")):
            continue  # IGMP and MLD reports an interface sends in its own time, not the lesson's traffic
        dport = f":{o['dport']}" if o.get("dport") else ""
        words = f"{entry.protocol} {o.get('src')} → {o.get('dst')}{dport}"
        if r.get("src") != o.get("dst") or r.get("dst") != o.get("src") or r.get("sport") != o.get("dport"):
            rport = f":{r['sport']}" if r.get("sport") and r.get("sport") != o.get("dport") else ""
            words += f", NAT: replies from {r.get('src')}{rport} to {r.get('dst')}"
        found.append(words)
    return tuple(found)


def _multicast(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_multicast
    except ValueError:
        return False


def _route(raw: dict[str, Any]) -> Route:
    via = raw.get("gateway", "")
    dev = raw.get("dev", "")
    if "nexthops" in raw:  # a multipath route: name every hop
        via = ", ".join(hop.get("gateway", "") for hop in raw["nexthops"] if hop.get("gateway"))
        dev = dev or ", ".join(hop.get("dev", "") for hop in raw["nexthops"] if hop.get("dev"))
    return Route(raw.get("dst", ""), dev, via, raw.get("type", "unicast"))


def _peers(raw_links: dict[str, list[dict[str, Any]]],
           ids: dict[str, dict[int, str]]) -> dict[Key, tuple[str, str]]:
    """(namespace, veth) → (its other end, the namespace that end lives in), for every end that can be found.

    A veth names its other end by ifindex and, when that end lives elsewhere, by `link_netnsid`: an id that
    means something only in the namespace reporting it (ifindex numbers repeat across namespaces, so the index
    alone proves nothing). `ids` holds, per namespace, the ids it could name. The shell's own namespace has no
    name, so a named namespace cannot name it; its veths are found from the shell's side instead, and every
    end found also finds its other end. Only for a namespace whose ids were not read is the one veth elsewhere
    whose ifindex and peer index match both ways taken as the other end.
    """
    by_index = {ns: {raw["ifindex"]: raw for raw in items} for ns, items in raw_links.items()}
    veths = [(ns, raw) for ns, items in raw_links.items() for raw in items
             if _kind(raw) == "veth" and (raw.get("link") or raw.get("link_index"))]
    found: dict[Key, tuple[str, str]] = {}
    for ns, raw in veths:
        if "link_netnsid" not in raw:  # both ends in one namespace
            other = by_index[ns].get(raw.get("link_index"))
            if raw.get("link") or other:
                found[(ns, raw["ifname"])] = (raw.get("link") or other["ifname"], ns)
            continue
        where = ids.get(ns, {}).get(raw["link_netnsid"])
        other = by_index.get(where, {}).get(raw.get("link_index")) if where is not None else None
        if other is not None and _kind(other) == "veth":
            found[(ns, raw["ifname"])] = (other["ifname"], where)
            found[(where, other["ifname"])] = (raw["ifname"], ns)
    for ns, raw in veths:
        if (ns, raw["ifname"]) in found or "link_netnsid" not in raw or ns in ids:
            continue
        matches = [(other["ifname"], where) for where in by_index if where != ns
                   for other in [by_index[where].get(raw["link_index"])]
                   if other and other.get("link_index") == raw["ifindex"] and (where, other["ifname"]) not in found]
        if len(matches) == 1:
            found[(ns, raw["ifname"])] = matches[0]
            found[(matches[0][1], matches[0][0])] = (raw["ifname"], ns)
    return found


def parse(stdout: str) -> Snapshot:
    """A snapshot from the output of SNAPSHOT_COMMAND."""
    return _from_sections(_sections(stdout))


def _from_sections(sections: dict[str, _Section]) -> Snapshot:
    raw_links = {ns: section.document(0) or [] for ns, section in sections.items()}
    ids = {ns: {item["nsid"]: item["name"] for item in known if "name" in item}
           for ns, section in sections.items() if (known := section.document(2)) is not None}
    peers = _peers(raw_links, ids)
    namespaces = []
    for ns, items in raw_links.items():
        fdb = sections[ns].fdb
        links = tuple(_link(raw, peers.get((ns, raw["ifname"]), ("", None)), fdb) for raw in items)
        routes = tuple(_route(r) for r in sections[ns].document(1) or [])
        namespaces.append(Namespace(ns, links, routes, _neighbours(sections[ns].document(3) or []),
                                    _fdb(fdb), _conntrack(sections[ns].conntrack)))
    return _normalized(Snapshot(tuple(namespaces)))


def snapshot(run: Callable[[str], CommandResult]) -> Snapshot:
    """Read the lab's network with one command through `run` (e.g. `lambda c: shell.run(c)`)."""
    result = run(SNAPSHOT_COMMAND)
    sections = _sections(result.stdout)
    if result.status != 0 or not sections[ROOT].documents:
        raise EnvironmentProblem(f"could not read the lab's network state: "
                                 f"{result.stderr.strip() or f'exit status {result.status}'}",
                                 hint="is iproute2 installed? (apt-get install iproute2)")
    return _from_sections(sections)


# --- differences in words ----------------------------------------------------------------------------------


def _link_words(link: Link) -> str:
    details = [link.kind] if link.kind else []
    if link.peer:
        details.append(f"peer {link.peer}")
    return link.name + (f" ({', '.join(details)})" if details else "")


def _changes(old: Link, new: Link) -> list[str]:
    """Switched on or off, and bridge membership. Carrier is left out: the kernel reports carrier changes
    with a delay of its own (a bridge loses carrier some time after its last port), so they would make the
    same lesson tell different stories on different runs."""
    said = []
    if old.up != new.up:
        said.append("now UP" if new.up else "now DOWN")
    if old.master != new.master:
        if old.master:
            said.append(f"left bridge {old.master}")
        if new.master:
            said.append(f"joined bridge {new.master}")
    return said


def _list_changes(what: str, old: tuple[object, ...], new: tuple[object, ...], where: str) -> list[str]:
    return ([f"- {what} {item} in {where}" for item in old if item not in new]
            + [f"+ {what} {item} in {where}" for item in new if item not in old])


def _matched(old_links: dict[Key, Link],
             new_links: dict[Key, Link]) -> tuple[list[Key], list[Key], list[tuple[Key, Key]]]:
    """Links only before, only after, and moved (gone from one namespace, arrived in another)."""
    removed = [key for key, old in old_links.items()
               if key not in new_links or new_links[key].kind != old.kind]
    added = [key for key, new in new_links.items() if key not in old_links or old_links[key].kind != new.kind]
    moves = []
    for old_key in [key for key in removed if key[1] not in BACKGROUND_LINKS]:  # the kernel never moves those
        link = old_links[old_key]
        target = next((key for key in added if key[1] == old_key[1] and key[0] != old_key[0]
                       and (new_links[key].kind, new_links[key].peer) == (link.kind, link.peer)), None)
        if target is not None:
            moves.append((old_key, target))
            removed.remove(old_key)
            added.remove(target)
    return removed, added, moves


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed between two snapshots, one line per change, in a stable order.

    A link that left one namespace and turned up in another with the same name, kind and peer is reported as a
    move (as `ip link set X netns Y` does it), not as one link deleted and another added.
    """
    old_links = {(ns, link.name): link for ns, link in before.links()}
    new_links = {(ns, link.name): link for ns, link in after.links()}
    removed, added, moves = _matched(old_links, new_links)
    kept = [key for key in new_links if key in old_links and key not in added]
    # A name in several namespaces (eth0 in every container) needs its namespace said.
    counts = Counter(name for _, name in {*old_links, *new_links})

    def who(ns: str, name: str) -> str:
        return f"{name} in {label(ns)}" if counts[name] > 1 else name

    old_names, new_names = set(before.names), set(after.names)

    def quiet(key: Key, names: set[str]) -> bool:
        """True for a background link of a namespace that came or went as a whole."""
        return key[1] in BACKGROUND_LINKS and key[0] != ROOT and key[0] not in names

    lines = [f"+ namespace {name}" for name in after.names if name not in old_names]
    for old_key, new_key in moves:
        words = _changes(old_links[old_key], new_links[new_key])
        lines.append(f"{new_key[1]} moved from {label(old_key[0])} to {label(new_key[0])}"
                     + "".join(f", {w}" for w in words))
    lines += [f"+ link {_link_words(new_links[key])} in {label(key[0])}" for key in added
              if not quiet(key, old_names)]
    lines += [f"{who(*key)} {words}" for key in kept for words in _changes(old_links[key], new_links[key])]
    order = {name: position for position, name in enumerate(after.names)}
    pairs = [(key, key) for key in kept] + moves + [(None, key) for key in added]
    for old_key, new_key in sorted(pairs, key=lambda pair: (order[pair[1][0]], natural(pair[1][1]))):
        old = old_links[old_key].addresses if old_key else ()
        new = new_links[new_key].addresses
        if old_key:
            lines += [f"- address {a} on {new_key[1]} in {label(old_key[0])}" for a in old if a not in new]
        lines += [f"+ address {a} on {new_key[1]} in {label(new_key[0])}" for a in new if a not in old]
    old = {ns.name: ns for ns in before.namespaces}
    for ns in after.namespaces:
        lines += _list_changes("route", old[ns.name].routes if ns.name in old else (), ns.routes, label(ns.name))
    for what, table in (("neighbour", "neighbours"), ("fdb entry", "fdb"), ("conntrack", "conntrack")):
        for ns in after.namespaces:
            earlier = getattr(old[ns.name], table) if ns.name in old else ()
            if ns.name not in old and what == "neighbour":
                continue
            lines += _list_changes(what, earlier, getattr(ns, table), label(ns.name))
    lines += [f"- link {key[1]} in {label(key[0])}" for key in removed if not quiet(key, new_names)]
    lines += [f"- namespace {name}" for name in before.names if name not in new_names]
    return lines
