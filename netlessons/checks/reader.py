"""Reads the tables of kernel state that a step's checks need, in one command per poll round.

All the checks of a step are answered together: each namespace is asked once for all its `ip` tables (one
`ip -j -s -b` batch: links with their addresses and counters, routes, neighbours, route lookups), once for its
bridge forwarding entries (`bridge -j fdb show`), once for what must be read from inside it (sysctl values,
listening sockets, protocol counters, conntrack, iptables and nft rules, in one `ip netns exec`), and the
namespace names come from /run/netns, where `ip netns` keeps them, without starting a program. Each part ends
with a marker line carrying its exit status and its error text, so one part's failure (a namespace that does
not exist) stays its own. The `ip` batch goes on past a failing line (`-force`: a route lookup that finds no
route), and the lines that failed are known from the "Command failed -:N" lines it writes.

A kind that compares with the state before the step (a counter) asks for `before` queries; the runner reads
them with the same command before the step's command runs.

This module builds the command and reads its output; the runner runs it in the lab's shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace

from netlessons.checks.base import Answers, Query, Reading
from netlessons.checks.tables import PARSERS as _PARSERS
from netlessons.checks.tables import json_documents

# `ip` batch lines, in a fixed order: the answers come back as one JSON document per line.
IP_TABLES = {"links": "addr show", "routes": "route show", "neighbours": "neigh show", "route_get": "route get"}
FDB = "fdb"  # `bridge -j fdb show`, with -n for a namespace
# IPv6 routes need `ip -6`: a batch line cannot choose a family, and `route show` without one dumps IPv4 only
# (iproute2's ip/iproute.c takes AF_INET when the family is unspecified, whatever the prefix given).
ROUTES6 = "routes6"
# Read from inside the namespace: each is one shell line (with the helpers below), its answer parsed by _reading.
EXEC_TABLES = ("sysctl", "sockets", "snmp", "conntrack", "iptables", "nft")
TABLES = ("netns", *IP_TABLES, ROUTES6, FDB, *EXEC_TABLES)

_MARKER = "@@nlq"
# _nlq ID COMMAND...: run COMMAND, then a marker line with its exit status on stdout and one on stderr, so each
# part's output and error text stay its own. Nothing here starts a process but the commands themselves.
_HELPERS = (
    f"_nlq() {{ local id=$1 rc; shift; \"$@\"; rc=$?; printf '\\n{_MARKER} %s %s\\n' \"$id\" \"$rc\"; "
    f"printf '\\n{_MARKER} %s\\n' \"$id\" >&2; }}\n"
    "_nl_netns() { local p; for p in /run/netns/*; do [ -e \"$p\" ] && printf '%s\\n' \"${p##*/}\"; done; return 0; }\n"
    "_nl_read() { local v; [ -r \"$1\" ] || { printf 'cannot read %s\\n' \"$1\" >&2; return 1; }; "
    "IFS= read -r -d '' v < \"$1\"; printf '%s\\n' \"$v\"; }\n"
    # conntrack's table: the kernel's own file where it has one, else the conntrack tool in the same format
    "_nl_ct() { if [ -r /proc/net/nf_conntrack ]; then _nl_read /proc/net/nf_conntrack; "
    "else conntrack -L -o extended 2>/dev/null; fi; }\n"
    "_nl_snmp() { local f; for f in /proc/net/snmp /proc/net/netstat; do _nl_read $f || return; done; "
    "[ ! -r /proc/net/snmp6 ] || _nl_read /proc/net/snmp6; }"
)
_DONE = "unset -f _nlq _nl_netns _nl_read _nl_ct _nl_snmp"
_FAILED_LINE = re.compile(r"^Command failed -:(\d+)$", re.M)
_OUT_SECTION = re.compile(rf"\n?{_MARKER} (\d+) (-?\d+)\n")
_ERR_SECTION = re.compile(rf"\n?{_MARKER} (\d+)\n")


def sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


@dataclass(frozen=True)
class _Part:
    """One part of the command: an `ip` batch in a namespace (`tables`), the way into a namespace for what is
    read from inside it (`inside`), or one query read directly."""

    name: str  # its number, on its marker line
    namespace: str = ""
    tables: tuple[Query, ...] = ()  # the ip batch's lines, in order
    query: Query | None = None
    inside: tuple[_Part, ...] = ()


def _plan(queries: list[Query]) -> list[_Part]:
    parts: list[_Part] = []
    number = iter(range(1_000_000))
    if Query("netns") in queries:
        parts.append(_Part(str(next(number)), query=Query("netns")))
    for ns in dict.fromkeys(q.namespace for q in queries):
        tables = tuple(q for t in IP_TABLES for q in queries if q.table == t and q.namespace == ns)
        if tables:
            parts.append(_Part(str(next(number)), ns, tables=tables))
        for table in (ROUTES6, FDB):
            if Query(table, ns) in queries:
                parts.append(_Part(str(next(number)), ns, query=Query(table, ns)))
        inside = tuple(_Part(str(next(number)), ns, query=q)
                       for q in queries if q.namespace == ns and q.table in EXEC_TABLES)
        if inside and ns:
            parts.append(_Part(str(next(number)), ns, inside=inside))
        else:
            parts += inside
    return parts


def _ip_line(query: Query) -> str:
    return IP_TABLES[query.table] + (f" {query.item}" if query.item else "")


def _line(part: _Part) -> str:
    target = f"-n {shlex.quote(part.namespace)} " if part.namespace else ""
    if part.tables:
        if len(part.tables) == 1:
            words = " ".join(map(shlex.quote, _ip_line(part.tables[0]).split()))
            return f"_nlq {part.name} ip {target}-j -d -s {words}"
        batch = "\n".join(_ip_line(q) for q in part.tables)
        return f"_nlq {part.name} ip {target}-j -d -s -force -b - <<< {_ansi_quoted(batch)}"
    if part.inside:
        script = "\n".join([_HELPERS, *(_line(p) for p in part.inside)])
        return (f"_nlq {part.name} ip netns exec {shlex.quote(part.namespace)} bash --noprofile --norc -c "
                f"{shlex.quote(script)}")
    query = part.query
    assert query is not None
    if query.table == "netns":
        return f"_nlq {part.name} _nl_netns"
    if query.table == FDB:
        return f"_nlq {part.name} bridge {target}-j fdb show"
    if query.table == ROUTES6:
        return f"_nlq {part.name} ip -6 {target}-j -d -s route show"
    if query.table == "sysctl":
        return f"_nlq {part.name} _nl_read {shlex.quote(sysctl_path(query.item))}"
    return f"_nlq {part.name} {_INSIDE[query.table]}"


_INSIDE = {"sockets": "ss -Hltn", "snmp": "_nl_snmp", "conntrack": "_nl_ct", "iptables": "iptables-save -c",
           "nft": "nft list ruleset"}


def _ansi_quoted(text: str) -> str:
    """$'...' text for bash, its newlines written as \\n (a route lookup's address is checked text, but may
    still hold anything a template rendered)."""
    return "$'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def command(queries: Iterable[Query]) -> str:
    """One bash command that reads every query's table; `parse` reads its output. Its helper functions are
    gone again afterwards."""
    return "\n".join([_HELPERS, *(_line(p) for p in _plan(_now(queries))), _DONE])


def _now(queries: Iterable[Query]) -> list[Query]:
    """The queries as tables to read now: a `before` query is read the same way, only earlier."""
    return list(dict.fromkeys(replace(q, before=False) for q in queries))


def parse(queries: Iterable[Query], stdout: str, stderr: str = "") -> Answers:
    """The answer to every query, from the output of `command(queries)`. A query without an answer (its
    namespace cannot be entered, or the command was cut short) gets the error of the part that failed. Queries
    marked `before` get their answers under their own key."""
    queries = list(queries)
    answers = _parse(_now(queries), stdout, stderr)
    return {**answers, **{q: answers[replace(q, before=False)] for q in queries if q.before}}


def _parse(queries: list[Query], stdout: str, stderr: str) -> Answers:
    raw: dict[str, str] = {}
    pieces = _ERR_SECTION.split(stderr)
    for index in range(1, len(pieces), 2):
        raw[pieces[index]] = pieces[index - 1].strip()
    errors = {name: " ".join(text.split()) for name, text in raw.items()}
    sections: dict[str, tuple[str, int, str]] = {}
    pieces = _OUT_SECTION.split(stdout)
    for index in range(1, len(pieces) - 1, 3):
        name = pieces[index]
        sections[name] = (pieces[index - 1], int(pieces[index + 1]), errors.get(name, ""))
    answers: Answers = {}
    for part in _plan(queries):
        text, status, error = sections.get(part.name, ("", -1, "no answer"))
        if part.tables:
            answers.update(_batch(part.tables, text, status, raw.get(part.name, error)))
        for inner in part.inside:
            assert inner.query is not None
            answers[inner.query] = _reading(inner.query, sections.get(inner.name), (status, error))
        if part.query is not None:
            answers[part.query] = _reading(part.query, sections.get(part.name), (-1, "no answer"))
    return answers


def _batch(lines: tuple[Query, ...], text: str, status: int, error: str) -> Answers:
    """The answers of one `ip -force -b` batch: its documents in order, less the lines that failed (each with
    the error text written just before its "Command failed" line). A single line is run without -b."""
    documents = json_documents(text)
    failed: dict[int, str] = {}
    if len(lines) > 1:
        start = 0
        for match in _FAILED_LINE.finditer(error):
            failed[int(match.group(1))] = " ".join(error[start:match.start()].split())
            start = match.end()
    elif status != 0 and not documents:
        failed[1] = error
    error = " ".join(error.split())
    answers: Answers = {}
    position = 0
    for number, query in enumerate(lines, 1):
        if number in failed:
            answers[query] = Reading(status or 1, [], failed[number] or error)
        elif position < len(documents):
            answers[query] = Reading(0, documents[position])
            position += 1
        else:
            answers[query] = Reading(status or 1, [], error or "no answer")
    return answers


def _reading(query: Query, section: tuple[str, int, str] | None, otherwise: tuple[int, str]) -> Reading:
    """A query's own section, or (when there is none) the failure of the part that should have printed it."""
    if section is None:
        status, error = otherwise
        return Reading(status or -1, None, error or "no answer")
    text, status, error = section
    if query.table == "netns":
        return Reading(status, text.split(), error)
    if query.table == "sysctl":
        return Reading(status, text.strip(), error)
    if query.table == ROUTES6:
        documents = json_documents(text) if status == 0 else []
        return Reading(status, documents[0] if documents else [], error)
    if query.table in _PARSERS:
        return Reading(status, _PARSERS[query.table](text) if status == 0 else None, error)
    return Reading(status, [port for line in text.splitlines() if (port := _local_port(line)) is not None], error)


def _local_port(line: str) -> int | None:
    """The port of a listening socket in a line of `ss -Hltn` (State Recv-Q Send-Q Local:Port Peer:Port)."""
    columns = line.split()
    if len(columns) < 4:
        return None
    port = columns[3].rpartition(":")[2]
    return int(port) if port.isdigit() else None


