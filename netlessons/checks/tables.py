"""Reading the text tables the kernel (and its tools) print into plain data: protocol counters, conntrack
entries, iptables rules with their counters, nft rulesets, and `bridge -j` forwarding entries. Pure functions
of the text; the reader (netlessons.checks.reader) feeds them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable


def snmp(text: str) -> dict[str, int]:
    """/proc/net/snmp and /proc/net/netstat: pairs of lines `Ip: Forwarding InReceives ...` / `Ip: 1 42 ...`,
    named as `nstat` names them (`IpInReceives`, `IcmpInEchos`, `TcpExtListenDrops`); and /proc/net/snmp6, one
    `Ip6InReceives 42` per line."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if ":" not in line and len(words) == 2 and words[1].isdigit():
            counters[words[0]] = int(words[1])
    lines = [line.split() for line in text.splitlines() if ":" in line]
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if not names or not values or names[0] != values[0]:
            continue
        prefix = names[0].rstrip(":")
        for name, value in zip(names[1:], values[1:], strict=False):
            if value.lstrip("-").isdigit():
                counters[prefix + name] = int(value)
    return counters


@dataclass(frozen=True)
class Connection:
    """One conntrack entry: its protocol, and the original and reply directions (src, dst, sport, dport ...)."""

    protocol: str
    original: dict[str, str] = field(default_factory=dict)
    reply: dict[str, str] = field(default_factory=dict)
    line: str = ""


def conntrack(text: str) -> list[Connection]:
    """/proc/net/nf_conntrack (or `conntrack -L -o extended`): `ipv4 2 icmp 1 29 src=.. dst=.. ... src=.. dst=..`.
    A key seen a second time belongs to the reply direction."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        plain = [w for w in words if "=" not in w]
        protocol = plain[2] if len(plain) > 2 and plain[0] in ("ipv4", "ipv6") else plain[0]
        original: dict[str, str] = {}
        reply: dict[str, str] = {}
        for word in words:
            key, _, value = word.partition("=")
            if not _ or key in ("mark", "zone", "use", "secctx", "packets", "bytes"):
                continue
            (reply if key in original else original).setdefault(key, value)
        found.append(Connection(protocol, original, reply, line.strip()))
    return found


@dataclass
class Chain:
    policy: tuple[int, int] | None = None  # packets, bytes of the policy (built-in chains only)
    rules: list[tuple[str, int, int]] = field(default_factory=list)  # (rule as -S writes it, packets, bytes)


_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) ?(.*)$")
_POLICY = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")


def iptables(text: str) -> dict[str, dict[str, Chain]]:
    """`iptables-save -c`: table → chain → its rules (without `-A CHAIN`) with their counters."""
    tables: dict[str, dict[str, Chain]] = {}
    current: dict[str, Chain] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), {})
        elif match := _POLICY.match(line):
            name, policy, packets, octets = match.groups()
            current[name] = Chain((int(packets), int(octets)) if policy != "-" else None)
        elif match := _COUNTED.match(line):
            packets, octets, name, rule = match.groups()
            current.setdefault(name, Chain()).rules.append((rule.strip(), int(packets), int(octets)))
    return tables


@dataclass
class NftTable:
    chains: dict[str, list[str]] = field(default_factory=dict)  # chain → its rules, as `nft list` writes them
    sets: dict[str, list[str]] = field(default_factory=dict)  # set or map → its elements


_HANDLE = re.compile(r"\s+# handle \d+$")
_COUNTER = re.compile(r"\bcounter packets \d+ bytes \d+")


def nft_rule(line: str) -> str:
    """A rule as written in a lesson: without its handle comment and with `counter` for its counter's values."""
    return _COUNTER.sub("counter", _HANDLE.sub("", line.strip()))


def nft(text: str) -> dict[tuple[str, str], NftTable]:
    """`nft list ruleset`: (family, table) → its chains' rules and its sets' elements."""
    tables: dict[tuple[str, str], NftTable] = {}
    table: NftTable | None = None
    chain: list[str] | None = None
    set_name = ""
    elements = ""
    for raw in text.splitlines():
        line = raw.strip()
        words = line.split()
        if elements:
            elements += " " + line
            if "}" in line and table is not None:
                table.sets[set_name] = _elements(elements)
                elements = ""
            continue
        if len(words) == 4 and words[0] == "table" and words[3] == "{":
            table = tables.setdefault((words[1], words[2]), NftTable())
        elif table is not None and len(words) == 3 and words[0] == "chain" and words[2] == "{":
            chain = table.chains.setdefault(words[1], [])
        elif table is not None and len(words) == 3 and words[0] in ("set", "map") and words[2] == "{":
            chain, set_name = None, words[1]
            table.sets.setdefault(set_name, [])
        elif line.startswith("elements = {") and table is not None:
            elements = line
            if "}" in line:
                table.sets[set_name] = _elements(elements)
                elements = ""
        elif line == "}":
            chain = None
        elif chain is not None and line and not (words[0] == "type" and "hook" in words) and words[0] != "policy":
            chain.append(nft_rule(line))
    return tables


def _elements(text: str) -> list[str]:
    inner = text.partition("{")[2].rpartition("}")[0]
    return [item.strip() for item in inner.split(",") if item.strip()]


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return []


PARSERS: dict[str, Callable[[str], Any]] = {
    "fdb": _json, "snmp": snmp, "conntrack": conntrack, "iptables": iptables, "nft": nft,
}


def json_documents(text: str) -> list[Any]:
    """The JSON documents printed one after another by `ip -j -b`; a failing line ends the batch."""
    decoder = json.JSONDecoder()
    found, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return found
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return found
        found.append(value)
