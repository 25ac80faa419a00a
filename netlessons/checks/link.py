"""`{ link = "veth1", ... }`: a network interface exists, with the properties named (or is gone): its state,
kind, bridge, addresses, MTU and MAC, and what its kind adds (a veth's peer, a VXLAN device's VNI, port, local
address, underlay device and learning, a bridge port's hairpin and learning, a VLAN's id)."""

from __future__ import annotations

from typing import Any

from netlessons.checks import base
from netlessons.checks.base import ABSENT, FLAG, IN, NUMBER, TEXT, Answers, CheckKind, Field, Query, Verdict


def find_link(answers: Answers, namespace: str, name: str) -> dict[str, Any] | None:
    """A link of a namespace, as `ip -j -d addr show` describes it; None when it is not there."""
    reading = answers[Query("links", namespace)]
    links = reading.data if reading.status == 0 else []
    return next((link for link in links if link.get("ifname") == name), None)


class LinkCheck(CheckKind):
    name = "link"
    subject = "the name of a network interface"
    summary = "the interface exists, with every property given"
    example = '{ link = "veth1", in = "ns1", up = true, address = "10.0.0.1/24" }'
    fields = (
        IN,
        Field("up", FLAG, "administratively up (the UP flag) or not"),
        Field("operstate", TEXT, "the operational state the kernel reports: `UP`, `DOWN`, `LOWERLAYERDOWN` ..."),
        Field("kind", TEXT, "the kind of link: `veth`, `bridge`, `vxlan` ..."),
        Field("master", TEXT, "the bridge it is a port of"),
        Field("address", TEXT, "an address it holds, with its prefix: `10.0.0.1/24`"),
        Field("mtu", NUMBER, "its MTU"),
        Field("mac", TEXT, "its MAC address: `aa:bb:cc:dd:ee:ff`"),
        Field("carrier", FLAG, "it has a carrier (LOWER_UP: a veth whose other end is up, a bridge with a port "
              "up) or not"),
        Field("peer", TEXT, "a veth's other end"),
        Field("peer_in", TEXT, "with `peer`: the namespace the other end lives in, when it is not this one"),
        Field("vxlan_id", NUMBER, "a VXLAN device's VNI"),
        Field("vxlan_port", NUMBER, "a VXLAN device's UDP destination port"),
        Field("vxlan_local", TEXT, "a VXLAN device's local (underlay) address"),
        Field("vxlan_dev", TEXT, "a VXLAN device's underlay device"),
        Field("learning", FLAG, "a VXLAN device, or a bridge port, learns MAC addresses from the traffic it sees"),
        Field("hairpin", FLAG, "a bridge port sends frames back out the port they came in by"),
        Field("vlan_id", NUMBER, "an 802.1Q VLAN device's VLAN id"),
        ABSENT,
    )

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        peer = (Query("links", check["peer_in"]),) if check.get("peer") and check.get("peer_in") else ()
        return (Query("links", check.get("in") or ""), *peer)

    def describe(self, check: dict[str, Any]) -> str:
        here = base.where(check)
        if check.get("absent"):
            return f"{check['link']} is gone{here and ' from' + here[3:]}"
        parts = [f"{check['link']} is{here or ' here'}"]
        if check.get("kind"):
            parts.append(f"a {check['kind']}")
        if "up" in check:
            parts.append("UP" if check["up"] else "DOWN")
        if check.get("operstate"):
            parts.append(f"operstate {check['operstate']}")
        if check.get("master"):
            parts.append(f"a port of {check['master']}")
        if check.get("address"):
            parts.append(f"with {check['address']}")
        if check.get("mtu", "") != "":
            parts.append(f"MTU {check['mtu']}")
        if check.get("mac"):
            parts.append(f"MAC {check['mac']}")
        if "carrier" in check:
            parts.append("with carrier" if check["carrier"] else "without carrier")
        if check.get("peer"):
            parts.append(f"peer {check['peer']}" + (f" in {check['peer_in']}" if check.get("peer_in") else ""))
        parts += [f"{words} {check[key]}" for key, words in _DETAIL_WORDS if check.get(key, "") != ""]
        parts += [f"{'' if check[key] else 'no '}{key}" for key in ("learning", "hairpin") if key in check]
        return ", ".join(parts)

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        namespace = check.get("in") or ""
        link = find_link(answers, namespace, check["link"])
        if check.get("absent"):
            return base.PASS if link is None else Verdict(False, f"expected: {want}; it still exists")
        if link is None:
            reading = answers[Query("links", namespace)]
            return Verdict(False, f"expected: {want}; no such link{base.where(check)}", reading.error)
        info = link.get("linkinfo") or {}
        data = info.get("info_data") or {}
        port = info.get("info_slave_data") or {}
        kind = info.get("info_kind", "")
        actual = {
            "kind": kind,
            "up": "UP" in link.get("flags", []),
            "operstate": link.get("operstate", ""),
            "master": link.get("master", ""),
            "mtu": link.get("mtu"),
            "mac": str(link.get("address", "")).lower(),
            "carrier": "LOWER_UP" in link.get("flags", []),
            "peer": _peer(link, namespace, check, answers),
            "vxlan_id": data.get("id") if kind == "vxlan" else None,
            "vxlan_port": data.get("port") if kind == "vxlan" else None,
            "vxlan_local": (data.get("local") or data.get("local6")) if kind == "vxlan" else None,
            "vxlan_dev": data.get("link") if kind == "vxlan" else None,
            "learning": data.get("learning") if kind == "vxlan" else port.get("learning"),
            "hairpin": port.get("hairpin"),
            "vlan_id": data.get("id") if kind == "vlan" else None,
        }
        wanted = {key: check[key] for key in actual if key in check and check[key] != ""}
        for key in _NUMBERS & set(wanted):
            wanted[key] = base.whole_number(wanted[key])  # a template renders it as text
        if "mac" in wanted:
            wanted["mac"] = str(wanted["mac"]).lower()
        wrong = [f"{key} is {actual[key]!r}, not {value!r}" for key, value in wanted.items() if actual[key] != value]
        addresses = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if "local" in a]
        if check.get("address") and check["address"] not in addresses:
            wrong.append(f"addresses are {', '.join(addresses) or 'none'}, not {check['address']}")
        return base.PASS if not wrong else Verdict(False, f"expected: {want}; but " + "; ".join(wrong))


_NUMBERS = {"mtu", "vxlan_id", "vxlan_port", "vlan_id"}
_DETAIL_WORDS = (("vxlan_id", "VNI"), ("vxlan_port", "UDP port"), ("vxlan_local", "local"),
                 ("vxlan_dev", "over"), ("vlan_id", "VLAN"))


def _peer(link: dict[str, Any], namespace: str, check: dict[str, Any], answers: Answers) -> str | None:
    """A veth's other end's name: named by `ip` when both ends share a namespace, else found by its ifindex in
    the namespace `peer_in` (and pointing back at this end)."""
    if link.get("link"):
        return link["link"]
    if not check.get("peer") or "link_index" not in link:
        return None
    other_ns = check.get("peer_in") or namespace
    reading = answers.get(Query("links", other_ns))
    for other in (reading.data if reading and reading.status == 0 else []):
        if other.get("ifindex") == link["link_index"] and other.get("link_index") == link.get("ifindex"):
            return other.get("ifname")
    return None
