"""`{ port = 8080, in = "server" }`: a program listens on that TCP port (or, with `absent = true`, none)."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import (
    FLAG,
    IN,
    NUMBER,
    PASS,
    Answers,
    CheckKind,
    Field,
    Query,
    Verdict,
    where,
    whole_number,
)


class PortCheck(CheckKind):
    name = "port"
    subject = "a TCP port number"
    subject_type = NUMBER
    summary = "a socket listens on that TCP port, on any address (as `ss -ltn` lists it)"
    example = '{ port = 8080, in = "server" }'
    fields = (IN, Field("absent", FLAG, "`true`: nothing listens on it"))

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("sockets", check.get("in") or ""),)

    def describe(self, check: dict[str, Any]) -> str:
        return f"{'nothing' if check.get('absent') else 'a server'} listens on TCP port {check['port']}{where(check)}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        reading = answers[self.queries(check)[0]]
        listening = reading.status == 0 and whole_number(check["port"]) in (reading.data or ())
        if listening == (not check.get("absent")):
            return PASS
        return Verdict(False, f"expected: {self.describe(check)}", reading.error)
