"""`{ link = "veth1", ... }`: a network interface exists, with the properties named (or is gone)."""

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
        ABSENT,
    )

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("links", check.get("in") or ""),)

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
        actual = {
            "kind": (link.get("linkinfo") or {}).get("info_kind", ""),
            "up": "UP" in link.get("flags", []),
            "operstate": link.get("operstate", ""),
            "master": link.get("master", ""),
            "mtu": link.get("mtu"),
        }
        wanted = {key: check[key] for key in actual if key in check and check[key] != ""}
        if "mtu" in wanted:
            wanted["mtu"] = base.whole_number(wanted["mtu"])  # a template renders it as text
        wrong = [f"{key} is {actual[key]!r}, not {value!r}" for key, value in wanted.items() if actual[key] != value]
        addresses = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if "local" in a]
        if check.get("address") and check["address"] not in addresses:
            wrong.append(f"addresses are {', '.join(addresses) or 'none'}, not {check['address']}")
        return base.PASS if not wrong else Verdict(False, f"expected: {want}; but " + "; ".join(wrong))
