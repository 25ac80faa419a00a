"""`{ counter = "IpForwDatagrams", in = "node1", unchanged = true }`: how much a counter changed while the step
ran. The counter is read before the step's command and again after it, so a step can prove what happened
(or did not) to its packets: a protocol counter as `nstat` names it, an interface's `rx_packets`/`tx_dropped`
..., or the packets or bytes an iptables rule matched."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import (
    FLAG,
    IN,
    NUMBER,
    PASS,
    TEXT,
    Answers,
    CheckKind,
    Field,
    Query,
    Reading,
    Verdict,
    where,
    whole_number,
)
from netlessons.checks.output import line_matches

_JUDGEMENTS = ("equals", "at_least", "unchanged")


class CounterCheck(CheckKind):
    name = "counter"
    subject = ("the counter: a protocol counter as `nstat` names it (`IpForwDatagrams`, `IpInAddrErrors`, "
               "`IcmpInEchos`, `UdpOutDatagrams`, `TcpExtListenDrops` ...); with `dev`, an interface's "
               "`rx_packets`, `tx_packets`, `rx_dropped`, `tx_dropped`, `rx_bytes` ...; with `chain`, a rule's "
               "`packets` or `bytes`")
    summary = ("the counter, read just before the step's command and again after it, changed by exactly "
               "`equals`, by `at_least`, or (`unchanged = true`) not at all")
    example = '{ counter = "IpForwDatagrams", in = "node1", unchanged = true }'
    fields = (
        IN,
        Field("dev", TEXT, "an interface counter (`ip -s link`) of this device"),
        Field("table", TEXT, "with `chain`: the iptables table (`filter` when left out)"),
        Field("chain", TEXT, "an iptables rule's counter, in this chain"),
        Field("match", TEXT, "with `chain`: the rule, as `iptables -S` writes it after `-A CHAIN` (literal, "
              "`(re)` or `(glob)`); left out: the chain's policy"),
        Field("equals", NUMBER, "the change must be exactly this"),
        Field("at_least", NUMBER, "the change must be at least this"),
        Field("unchanged", FLAG, "`true`: the counter must not change"),
    )

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        found = super().problems(check)
        given = [key for key in _JUDGEMENTS if key in check and check[key] is not False]
        if len(given) != 1:
            found.append(("", "a counter check says how it must change with exactly one of equals, at_least, "
                               f"unchanged = true{'; this one has ' + ' and '.join(given) if given else ''}"))
        if check.get("dev") and check.get("chain"):
            found.append(("", "a counter is an interface's (`dev`) or a rule's (`chain`), not both"))
        if check.get("match") and not check.get("chain"):
            found.append(("match", "`match` names a rule of a `chain`: give the chain too"))
        return found

    def _table(self, check: dict[str, Any], before: bool = False) -> Query:
        source = "links" if check.get("dev") else "iptables" if check.get("chain") else "snmp"
        return Query(source, check.get("in") or "", before=before)

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (self._table(check),)

    def before(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (self._table(check, before=True),)

    def _what(self, check: dict[str, Any]) -> str:
        if check.get("dev"):
            return f"{check['counter']} of {check['dev']}"
        if check.get("chain"):
            rule = f"rule '{check['match']}'" if check.get("match") else "the policy"
            return f"{check['counter']} of {rule} in {check.get('table') or 'filter'} {check['chain']}"
        return str(check["counter"])

    def describe(self, check: dict[str, Any]) -> str:
        if check.get("unchanged"):
            change = "stays unchanged"
        elif "equals" in check:
            change = f"rises by {check['equals']}"
        else:
            change = f"rises by at least {check.get('at_least')}"
        return f"{self._what(check)}{where(check)} {change}"

    def value(self, check: dict[str, Any], reading: Reading) -> int | None:
        """The counter in one reading; None when it is not there (a rule or interface not yet made)."""
        if reading.status != 0 or reading.data is None:
            return None
        name = str(check["counter"])
        if check.get("dev"):
            link = next((x for x in reading.data if x.get("ifname") == check["dev"]), None)
            direction, _, stat = name.partition("_")
            stats = (link or {}).get("stats64") or (link or {}).get("stats") or {}
            found = (stats.get(direction) or {}).get(stat)
            return found if isinstance(found, int) else None
        if check.get("chain"):
            chain = reading.data.get(check.get("table") or "filter", {}).get(check["chain"])
            if chain is None:
                return None
            column = 1 if name == "packets" else 2
            if not check.get("match"):
                return chain.policy[column - 1] if chain.policy else None
            matched = [rule for rule in chain.rules if line_matches(str(check["match"]), rule[0])]
            return sum(rule[column] for rule in matched) if matched else None
        return reading.data.get(name)

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        reading = answers[self._table(check)]
        now = self.value(check, reading)
        if now is None:
            known = ""
            if not check.get("dev") and not check.get("chain") and reading.status == 0 and reading.data:
                close = [n for n in reading.data if n.lower().startswith(str(check["counter"])[:3].lower())]
                known = f" (counters like it: {', '.join(close[:8])})" if close else ""
            return Verdict(False, f"expected: {want}; there is no counter {self._what(check)}{where(check)}{known}",
                           reading.error)
        earlier = answers.get(self._table(check, before=True))
        then = self.value(check, earlier) if earlier is not None else None
        change = now - (then or 0)
        if check.get("unchanged"):
            passed = change == 0
        elif "equals" in check:
            passed = change == whole_number(check["equals"])
        else:
            passed = change >= whole_number(check["at_least"])
        if passed:
            return PASS
        return Verdict(False, f"expected: {want}; it went from {then if then is not None else 'nothing (0)'} to "
                              f"{now}, a change of {change:+d}")
