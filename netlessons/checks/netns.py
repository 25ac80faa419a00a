"""`{ netns = "ns1" }`: a named network namespace exists (or, with `absent = true`, does not)."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import ABSENT, PASS, Answers, CheckKind, Query, Verdict


class NetnsCheck(CheckKind):
    name = "netns"
    subject = "the name of a namespace"
    summary = "the named network namespace exists (as `ip netns list` shows it)"
    example = '{ netns = "ns1" }'
    fields = (ABSENT,)

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("netns"),)

    def describe(self, check: dict[str, Any]) -> str:
        return f"namespace {check['netns']} is {'gone' if check.get('absent') else 'present'}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        reading = answers[Query("netns")]
        names = set(reading.data or ()) if reading.status == 0 else set()
        if (check["netns"] in names) == (not check.get("absent")):
            return PASS
        return Verdict(False, f"expected: {self.describe(check)}; namespaces now: {', '.join(sorted(names)) or 'none'}")
