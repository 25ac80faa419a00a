"""`{ conntrack = "icmp", in = "node1", src = "10.244.1.2", reply_dst = "203.0.113.1" }`: connection tracking
holds an entry with those original and reply addresses. Where the reply's destination is not the original
source, NAT rewrote it: this is how masquerade and DNAT become visible."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import ABSENT, IN, PASS, TEXT, Answers, CheckKind, Field, Query, Verdict, where

_KEYS = ("src", "dst", "sport", "dport")


class ConntrackCheck(CheckKind):
    name = "conntrack"
    subject = "the protocol: `icmp`, `tcp`, `udp` ..."
    summary = ("the namespace's connection tracking table (read from /proc/net/nf_conntrack, or `conntrack -L` "
               "where that file is missing) has an entry of that protocol with every address and port given")
    example = ('{ conntrack = "icmp", in = "node1", src = "10.244.1.2", dst = "203.0.113.2", '
               'reply_src = "203.0.113.2", reply_dst = "203.0.113.1" }')
    fields = (
        IN,
        *(Field(key, TEXT, f"the original direction's {key}") for key in _KEYS),
        *(Field(f"reply_{key}", TEXT, f"the reply direction's {key} (after NAT, where NAT applies)")
          for key in _KEYS),
        ABSENT,
    )

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("conntrack", check.get("in") or ""),)

    def describe(self, check: dict[str, Any]) -> str:
        original = " ".join(f"{k}={check[k]}" for k in _KEYS if check.get(k))
        reply = " ".join(f"{k}={check['reply_' + k]}" for k in _KEYS if check.get("reply_" + k))
        tuples = "; ".join(filter(None, (original, reply and f"reply {reply}")))
        head = "no conntrack entry" if check.get("absent") else "a conntrack entry"
        return f"{head} {check['conntrack']}{f' {tuples}' if tuples else ''}{where(check)}"

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        reading = answers[self.queries(check)[0]]
        entries = reading.data if reading.status == 0 and reading.data is not None else []
        matching = [e for e in entries if e.protocol == check["conntrack"]
                    and all(e.original.get(k) == str(check[k]) for k in _KEYS if check.get(k))
                    and all(e.reply.get(k) == str(check["reply_" + k]) for k in _KEYS if check.get("reply_" + k))]
        if check.get("absent"):
            return PASS if not matching else Verdict(False, f"expected: {want}; found {matching[0].line}")
        if matching:
            return PASS
        shown = [e.line for e in entries if e.protocol == check["conntrack"]] or [e.line for e in entries]
        return Verdict(False, f"expected: {want}; "
                       + (f"{len(entries)} entries, none matches" if entries else "the table is empty"),
                       "\n".join(shown[:10]) or reading.error)
