"""`{ neighbour = "10.0.0.2", in = "ns1", dev = "veth1", state = "REACHABLE" }`: an entry of the neighbour
(ARP/NDP) table: an IP address resolved, or being resolved, to a MAC address on a device."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import (
    ABSENT,
    IN,
    MAC_FIELDS,
    PASS,
    TEXT,
    Answers,
    CheckKind,
    Field,
    Query,
    Verdict,
    mac_of,
    mac_queries,
    mac_words,
    where,
)


def states(text: str) -> list[str]:
    return [s.strip().upper() for s in str(text).split("|") if s.strip()]


class NeighbourCheck(CheckKind):
    name = "neighbour"
    subject = "an IP address"
    summary = ("the neighbour table (`ip neigh`) has an entry for that address, on the device, with the MAC "
               "address and state given")
    example = '{ neighbour = "10.0.0.2", in = "ns1", dev = "veth1", mac_of = "veth2", mac_of_in = "ns2" }'
    fields = (
        IN,
        Field("dev", TEXT, "the device the entry is on"),
        *MAC_FIELDS,
        Field("state", TEXT, "its state: `REACHABLE`, `STALE`, `DELAY`, `PERMANENT`, `FAILED`, `INCOMPLETE` ...; "
              "several allowed ones separated by `|` (`REACHABLE|STALE|DELAY`)"),
        ABSENT,
    )

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("neighbours", check.get("in") or ""), *mac_queries(check))

    def describe(self, check: dict[str, Any]) -> str:
        dev = f" on {check['dev']}" if check.get("dev") else ""
        if check.get("absent"):
            return f"no neighbour entry for {check['neighbour']}{dev}{where(check)}"
        parts = [f"neighbour {check['neighbour']}{dev}{where(check)}"]
        if check.get("mac") or check.get("mac_of"):
            parts.append(f"is {mac_words(check)}")
        if check.get("state"):
            parts.append(f"state {check['state']}")
        return ", ".join(parts)

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        reading = answers[Query("neighbours", check.get("in") or "")]
        entries = [e for e in (reading.data if reading.status == 0 else []) if e.get("dst") == str(check["neighbour"])
                   and (not check.get("dev") or e.get("dev") == check["dev"])]
        if check.get("absent"):
            return PASS if not entries else Verdict(False, f"expected: {want}; found {_words(entries[0])}")
        if not entries:
            return Verdict(False, f"expected: {want}; there is no entry for it", reading.error)
        mac, missing = mac_of(check, answers) if check.get("mac") or check.get("mac_of") else ("", "")
        if missing:
            return Verdict(False, f"expected: {want}; {missing}")
        allowed = states(check.get("state", ""))
        for entry in entries:
            if mac and str(entry.get("lladdr", "")).lower() != mac:
                continue
            if allowed and not set(allowed) & set(entry.get("state", [])):
                continue
            return PASS
        return Verdict(False, f"expected: {want}; found {', '.join(_words(e) for e in entries)}"
                       + (f" (the MAC wanted is {mac})" if mac and not check.get("mac") else ""))


def _words(entry: dict[str, Any]) -> str:
    return " ".join(filter(None, (entry.get("dst"), f"dev {entry.get('dev')}",
                                  f"lladdr {entry['lladdr']}" if entry.get("lladdr") else "",
                                  "/".join(entry.get("state", [])))))
