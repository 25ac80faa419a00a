"""`{ fdb = "veth1_0", mac_of = "veth1_1", mac_of_in = "ns1" }`: a forwarding entry of a bridge port or a VXLAN
device (`bridge fdb show`): the MAC address it sends to that port, or (VXLAN) to which underlay address."""

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

STATES = {"learned": "", "permanent": "permanent", "static": "static"}


class FdbCheck(CheckKind):
    name = "fdb"
    subject = "the device the entry is on: a bridge port, or a VXLAN device"
    summary = ("the forwarding table (`bridge fdb show`) has an entry for the MAC address on that device, with "
               "the bridge, underlay address and state given")
    example = '{ fdb = "veth1_0", master = "br0", mac_of = "veth1_1", mac_of_in = "ns1", state = "learned" }'
    fields = (
        IN,
        *MAC_FIELDS,
        Field("master", TEXT, "the bridge whose table holds it (`master br0`)"),
        Field("dst", TEXT, "a VXLAN entry's underlay address: where frames for the MAC are sent"),
        Field("state", TEXT, "`learned` (seen in traffic), `permanent` (the port's own or added by hand) or "
              "`static`"),
        ABSENT,
    )

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        found = super().problems(check)
        if not check.get("mac") and not check.get("mac_of"):
            found.append(("", "an fdb check names its MAC address with `mac` or `mac_of`"))
        state = check.get("state")
        if isinstance(state, str) and state and "{{" not in state and state not in STATES:
            found.append(("state", f"{state!r} is not one of {', '.join(STATES)}"))
        return found

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("fdb", check.get("in") or ""), *mac_queries(check))

    def describe(self, check: dict[str, Any]) -> str:
        what = f"{mac_words(check)} on {check['fdb']}"
        if check.get("absent"):
            return f"no fdb entry for {what}{where(check)}"
        extra = [f"bridge {check['master']}"] if check.get("master") else []
        extra += [f"dst {check['dst']}"] if check.get("dst") else []
        extra += [str(check["state"])] if check.get("state") else []
        return f"fdb entry for {what}{where(check)}" + (f" ({', '.join(extra)})" if extra else "")

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        mac, missing = mac_of(check, answers)
        if missing:
            return Verdict(False, f"expected: {want}; {missing}")
        reading = answers[Query("fdb", check.get("in") or "")]
        entries = [e for e in (reading.data if reading.status == 0 else [])
                   if e.get("ifname") == check["fdb"] and str(e.get("mac", "")).lower() == mac]
        if check.get("master"):
            entries = [e for e in entries if e.get("master") == check["master"]]
        if check.get("absent"):
            return PASS if not entries else Verdict(False, f"expected: {want}; found {_words(entries[0])}")
        for entry in entries:
            if check.get("dst") and entry.get("dst") != check["dst"]:
                continue
            if check.get("state") and entry.get("state", "") != STATES.get(check["state"], check["state"]):
                continue
            return PASS
        on_device = [e for e in (reading.data if reading.status == 0 else []) if e.get("ifname") == check["fdb"]]
        return Verdict(False, f"expected: {want}; {check['fdb']} has "
                       + (", ".join(_words(e) for e in on_device) or "no entries")
                       + (f" (the MAC wanted is {mac})" if not check.get("mac") else ""), reading.error)


def _words(entry: dict[str, Any]) -> str:
    state = entry.get("state") or "learned"
    return " ".join(filter(None, (entry.get("mac"), f"dst {entry['dst']}" if entry.get("dst") else "",
                                  f"master {entry['master']}" if entry.get("master") else "", state)))
