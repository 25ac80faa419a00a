"""`{ rule = "-s 10.244.1.0/24 ! -o cni0 -j MASQUERADE", in = "node1", table = "nat", chain = "POSTROUTING" }`:
a firewall rule is in a chain (iptables, or nft with `family`), or a set holds an element; or, with
`absent = true`, is not."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import ABSENT, IN, PASS, TEXT, Answers, CheckKind, Field, Query, Verdict, where
from netlessons.checks.output import line_matches
from netlessons.checks.tables import nft_rule


class RuleCheck(CheckKind):
    name = "rule"
    subject = ("the rule as `iptables -S` writes it after `-A CHAIN` (or, for nft, as `nft list` writes it, "
               "without `# handle` and with plain `counter`); a literal, `(re)` or `(glob)` pattern; empty: the "
               "chain (or set) itself")
    summary = ("the rule is in the chain of the table (`iptables-save`; with `family`, `nft list ruleset`), or "
               "with `set`, the element is in that nft set")
    example = ('{ rule = "-s 10.244.1.0/24 ! -o cni0 -j MASQUERADE", in = "node1", table = "nat", '
               'chain = "POSTROUTING" }')
    fields = (
        IN,
        Field("table", TEXT, "the table: `filter` (the default), `nat`, `mangle` ...; for nft the table's name",
              ),
        Field("chain", TEXT, "the chain: `INPUT`, `POSTROUTING`, a chain of your own ..."),
        Field("family", TEXT, "an nft rule: the table's family (`ip`, `ip6`, `inet`, `bridge` ...)"),
        Field("set", TEXT, "an nft set (or map) of the table: `rule` is then one of its elements"),
        ABSENT,
    )

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        found = super().problems(check)
        if not check.get("chain") and not check.get("set"):
            found.append(("", "a rule check names its `chain` (or, for an nft set element, its `set`)"))
        if check.get("set") and not check.get("family"):
            found.append(("set", "a set is nft's: name the table's `family` too"))
        return found

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        return (Query("nft" if check.get("family") else "iptables", check.get("in") or ""),)

    def _place(self, check: dict[str, Any]) -> str:
        table = check.get("table") or "filter"
        if check.get("family"):
            holder = f"set {check['set']}" if check.get("set") else f"chain {check['chain']}"
            return f"{holder} of nft table {check['family']} {table}"
        return f"chain {check['chain']} of table {table}"

    def describe(self, check: dict[str, Any]) -> str:
        place = self._place(check)
        if not check["rule"]:
            return f"{place}{where(check)} {'does not exist' if check.get('absent') else 'exists'}"
        what = "element" if check.get("set") else "rule"
        return f"{what} '{check['rule']}' {'not ' if check.get('absent') else ''}in {place}{where(check)}"

    def _found(self, check: dict[str, Any], answers: Answers) -> tuple[list[str] | None, str]:
        """The chain's rules (or the set's elements), None when there is no such chain; and the read error."""
        reading = answers[self.queries(check)[0]]
        data = reading.data if reading.status == 0 and reading.data is not None else {}
        table = check.get("table") or "filter"
        if check.get("family"):
            nft_table = data.get((check["family"], table))
            if nft_table is None:
                return None, reading.error
            if check.get("set"):
                return nft_table.sets.get(check["set"]), reading.error
            return nft_table.chains.get(check["chain"]), reading.error
        chain = data.get(table, {}).get(check["chain"])
        return (None if chain is None else [rule for rule, _, _ in chain.rules]), reading.error

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        want = self.describe(check)
        items, error = self._found(check, answers)
        pattern = str(check["rule"])
        if not check.get("set") and check.get("family") and not pattern.endswith((" (re)", " (glob)")):
            pattern = nft_rule(pattern)
        if not pattern:
            present = items is not None
        else:
            present = items is not None and any(line_matches(pattern, item) for item in items)
        if present != bool(check.get("absent")):
            return PASS
        listing = "\n".join(f"  {item}" for item in items or []) or "  (none)"
        if items is None:
            return Verdict(False, f"expected: {want}; there is no {self._place(check)}", error)
        return Verdict(False, f"expected: {want}", f"it holds:\n{listing}")
