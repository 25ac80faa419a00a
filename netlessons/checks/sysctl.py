"""`{ sysctl = "net.ipv4.ip_forward", value = "1" }`: a kernel setting of a namespace has that value."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import IN, PASS, VALUE, Answers, CheckKind, Field, Query, Verdict, where


class SysctlCheck(CheckKind):
    name = "sysctl"
    subject = "a kernel setting, dotted as `sysctl` writes it"
    summary = "the setting, read inside the namespace from /proc/sys, has exactly that value"
    example = '{ sysctl = "net.ipv4.ip_forward", in = "router", value = "1" }'
    fields = (IN, Field("value", VALUE, "the value it must have", required=True))

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("sysctl", check.get("in") or "", check["sysctl"]),)

    def describe(self, check: dict[str, Any]) -> str:
        return f"{check['sysctl']} = {check['value']}{where(check)}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        reading = answers[self.queries(check)[0]]
        if reading.status == 0 and reading.data == str(check["value"]):
            return PASS
        return Verdict(False, f"expected: {self.describe(check)}; it is {reading.data or reading.error!r}")
