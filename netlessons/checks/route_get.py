"""`{ route_get = "203.0.113.2", in = "pod1", via = "10.244.1.1", dev = "eth0", src = "10.244.1.2" }`: the
route the kernel picks for a packet to that address (`ip route get`): its gateway, device and source."""

from __future__ import annotations

import ipaddress
from typing import Any

from netlessons.checks.base import FLAG, IN, PASS, TEXT, Answers, CheckKind, Field, Query, Verdict, where


class RouteGetCheck(CheckKind):
    name = "route_get"
    subject = "an IP address to look up"
    summary = ("`ip route get ADDRESS` picks a route with the gateway, device and source address given, or "
               "(with `unreachable = true`) finds none")
    example = '{ route_get = "203.0.113.2", in = "pod1", via = "10.244.1.1", dev = "eth0", src = "10.244.1.2" }'
    fields = (
        IN,
        Field("via", TEXT, "the gateway it goes through"),
        Field("dev", TEXT, "the device it leaves by"),
        Field("src", TEXT, "the source address the kernel picks for it"),
        Field("unreachable", FLAG, "`true`: no route matches (`Network is unreachable`)"),
    )

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        found = super().problems(check)
        subject = check.get("route_get")
        if isinstance(subject, str) and "{{" not in subject and "{%" not in subject:
            try:
                ipaddress.ip_address(subject)
            except ValueError:
                found.append(("route_get", f"{subject!r} is not an IP address"))
        return found

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        address = "".join(c for c in str(check["route_get"]) if c in "0123456789abcdefABCDEF:.")  # no other text
        return (Query("route_get", check.get("in") or "", address or "none"),)

    def describe(self, check: dict[str, Any]) -> str:
        if check.get("unreachable"):
            return f"no route to {check['route_get']}{where(check)}"
        details = [f"{word} {check[key]}" for key, word in (("via", "via"), ("dev", "dev"), ("src", "src"))
                   if check.get(key)]
        return f"{check['route_get']} is routed{' ' + ' '.join(details) if details else ''}{where(check)}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        reading = answers[self.queries(check)[0]]
        route = reading.data[0] if reading.status == 0 and reading.data else None
        if check.get("unreachable"):
            if route is None and "unreachable" in reading.error.lower():
                return PASS
            return Verdict(False, f"expected: {want}; " + (f"it goes {_words(route)}" if route else reading.error))
        if route is None:
            return Verdict(False, f"expected: {want}; {reading.error or 'no answer'}")
        actual = {"via": route.get("gateway", ""), "dev": route.get("dev", ""), "src": route.get("prefsrc", "")}
        wrong = [f"{key} is {actual[key] or 'none'}" for key in actual if check.get(key) and actual[key] != check[key]]
        return PASS if not wrong else Verdict(False, f"expected: {want}; but {', '.join(wrong)} ({_words(route)})")


def _words(route: dict[str, Any]) -> str:
    return " ".join(filter(None, (route.get("type") not in (None, "unicast") and route.get("type"),
                                  route.get("gateway") and f"via {route['gateway']}",
                                  route.get("dev") and f"dev {route['dev']}",
                                  route.get("prefsrc") and f"src {route['prefsrc']}"))) or str(route)
