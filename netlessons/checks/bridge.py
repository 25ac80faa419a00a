"""`{ bridge = "br0", ports = 3 }`: a bridge exists and has exactly that many ports."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import IN, NUMBER, PASS, Answers, CheckKind, Field, Query, Verdict, where, whole_number


class BridgeCheck(CheckKind):
    name = "bridge"
    subject = "the name of a bridge"
    summary = "the bridge exists and has exactly `ports` ports (interfaces whose master it is)"
    example = '{ bridge = "br0", ports = 3 }'
    fields = (IN, Field("ports", NUMBER, "how many ports it has"))

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("links", check.get("in") or ""),)

    def describe(self, check: dict[str, Any]) -> str:
        return f"bridge {check['bridge']}{where(check)} has {check.get('ports', '?')} ports"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        reading = answers[Query("links", check.get("in") or "")]
        links = reading.data if reading.status == 0 else []
        if not any(link.get("ifname") == check["bridge"] for link in links):
            return Verdict(False, f"expected: {want}; no such bridge", reading.error)
        ports = [link.get("ifname", "?") for link in links if link.get("master") == check["bridge"]]
        if check.get("ports", "") != "" and len(ports) != whole_number(check["ports"]):
            return Verdict(False, f"expected: {want}; it has {len(ports)}: {', '.join(ports) or 'none'}")
        return PASS
