"""`{ route = "default", via = "10.0.0.1", dev = "eth0" }`: a route to exactly that destination exists."""

from __future__ import annotations

import ipaddress
from typing import Any

from netlessons.checks.base import ABSENT, IN, PASS, TEXT, Answers, CheckKind, Field, Query, Verdict, where

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def destination(text: str, version: int = 4) -> Network:
    """A route's destination as `ip route` reads it: `default`, a prefix, or an address (a /32 or /128)."""
    if text == "default":
        return ipaddress.ip_network("::/0" if version == 6 else "0.0.0.0/0")
    return ipaddress.ip_network(text, strict=False)


def _destinations(routes: list[dict[str, Any]], version: int) -> list[tuple[Network | None, dict[str, Any]]]:
    found: list[tuple[Network | None, dict[str, Any]]] = []
    for route in routes:
        try:
            found.append((destination(str(route.get("dst", "")), version), route))
        except ValueError:
            found.append((None, route))
    return found


class RouteCheck(CheckKind):
    name = "route"
    subject = "a destination: `default`, a prefix like `10.0.0.0/24`, or an address"
    summary = ("a route to exactly that destination is in the main routing table (as `ip route show "
               "DESTINATION` lists it), with the gateway and device given")
    example = '{ route = "default", in = "pod1", via = "10.0.0.1", dev = "eth0" }'
    fields = (IN, Field("via", TEXT, "its gateway"), Field("dev", TEXT, "its device"), ABSENT)

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        found = super().problems(check)
        subject = check.get("route")
        if isinstance(subject, str) and "{{" not in subject and "{%" not in subject:
            try:
                destination(subject)
            except ValueError:
                found.append(("route", f"{subject!r} is not `default`, a prefix or an address"))
        return found

    def _table(self, check: dict[str, Any]) -> Query:
        family6 = check["route"] != "default" and destination(check["route"]).version == 6
        return Query("routes6" if family6 else "routes", check.get("in") or "")

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (self._table(check),)

    def describe(self, check: dict[str, Any]) -> str:
        if check.get("absent"):
            return f"no route to {check['route']}{where(check)}"
        via = f" via {check['via']}" if check.get("via") else ""
        dev = f" dev {check['dev']}" if check.get("dev") else ""
        return f"route {check['route']}{via}{dev}{where(check)}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        table = self._table(check)
        version = 6 if table.table == "routes6" else 4
        reading = answers[table]
        wanted = destination(check["route"], version)
        routes = [r for dst, r in _destinations(reading.data if reading.status == 0 else [], version) if dst == wanted]
        if check.get("absent"):
            return PASS if not routes else Verdict(False, f"expected: {want}; found {routes[0]}")
        fields = (("via", "gateway"), ("dev", "dev"))
        for route in routes:
            if all(not check.get(key) or route.get(field) == check[key] for key, field in fields):
                return PASS
        return Verdict(False, f"expected: {want}; routes found: {routes or 'none'}", reading.error)
