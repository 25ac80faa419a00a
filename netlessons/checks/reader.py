"""Reads the tables of kernel state that a step's checks need, in one command per poll round.

All the checks of a step are answered together: each namespace is asked once for all its `ip` tables (one
`ip -j -b` batch: links with their addresses, routes), once for what must be read from inside it (sysctl
values and listening sockets, in one `ip netns exec`), and the namespace names come from /run/netns, where
`ip netns` keeps them, without starting a program. Each part ends with a marker line carrying its exit status
and its error text, so one part's failure (a namespace that does not exist) stays its own.

This module builds the command and reads its output; the runner runs it in the lab's shell.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netlessons.checks.base import Answers, Query, Reading

# `ip` batch lines, in a fixed order: the answers come back as one JSON document per line.
IP_TABLES = {"links": "addr show", "routes": "route show", "routes6": "route show root ::/0"}
EXEC_TABLES = ("sysctl", "sockets")  # read from inside the namespace
TABLES = ("netns", *IP_TABLES, *EXEC_TABLES)

_MARKER = "@@nlq"
# _nlq ID COMMAND...: run COMMAND, then a marker line with its exit status on stdout and one on stderr, so each
# part's output and error text stay its own. Nothing here starts a process but the commands themselves.
_HELPERS = (
    f"_nlq() {{ local id=$1 rc; shift; \"$@\"; rc=$?; printf '\\n{_MARKER} %s %s\\n' \"$id\" \"$rc\"; "
    f"printf '\\n{_MARKER} %s\\n' \"$id\" >&2; }}\n"
    "_nl_netns() { local p; for p in /run/netns/*; do [ -e \"$p\" ] && printf '%s\\n' \"${p##*/}\"; done; return 0; }\n"
    "_nl_read() { local v; [ -r \"$1\" ] || { printf 'cannot read %s\\n' \"$1\" >&2; return 1; }; "
    "IFS= read -r -d '' v < \"$1\"; printf '%s\\n' \"$v\"; }"
)
_DONE = "unset -f _nlq _nl_netns _nl_read"
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
    tables: tuple[str, ...] = ()
    query: Query | None = None
    inside: tuple[_Part, ...] = ()


def _plan(queries: list[Query]) -> list[_Part]:
    parts: list[_Part] = []
    number = iter(range(1_000_000))
    if Query("netns") in queries:
        parts.append(_Part(str(next(number)), query=Query("netns")))
    for ns in dict.fromkeys(q.namespace for q in queries):
        tables = tuple(t for t in IP_TABLES if Query(t, ns) in queries)
        if tables:
            parts.append(_Part(str(next(number)), ns, tables=tables))
        inside = tuple(_Part(str(next(number)), ns, query=q)
                       for q in queries if q.namespace == ns and q.table in EXEC_TABLES)
        if inside and ns:
            parts.append(_Part(str(next(number)), ns, inside=inside))
        else:
            parts += inside
    return parts


def _line(part: _Part) -> str:
    if part.tables:
        target = f"-n {shlex.quote(part.namespace)} " if part.namespace else ""
        if len(part.tables) == 1:
            return f"_nlq {part.name} ip {target}-j -d {IP_TABLES[part.tables[0]]}"
        batch = "\\n".join(IP_TABLES[t] for t in part.tables)
        return f"_nlq {part.name} ip {target}-j -d -b - <<< $'{batch}'"
    if part.inside:
        script = "\n".join([_HELPERS, *(_line(p) for p in part.inside)])
        return (f"_nlq {part.name} ip netns exec {shlex.quote(part.namespace)} bash --noprofile --norc -c "
                f"{shlex.quote(script)}")
    query = part.query
    assert query is not None
    if query.table == "netns":
        return f"_nlq {part.name} _nl_netns"
    if query.table == "sysctl":
        return f"_nlq {part.name} _nl_read {shlex.quote(sysctl_path(query.item))}"
    return f"_nlq {part.name} ss -Hltn"


def command(queries: Iterable[Query]) -> str:
    """One bash command that reads every query's table; `parse` reads its output. Its helper functions are
    gone again afterwards."""
    return "\n".join([_HELPERS, *(_line(p) for p in _plan(list(dict.fromkeys(queries)))), _DONE])


def parse(queries: Iterable[Query], stdout: str, stderr: str = "") -> Answers:
    """The answer to every query, from the output of `command(queries)`. A query without an answer (its
    namespace cannot be entered, or the command was cut short) gets the error of the part that failed."""
    errors: dict[str, str] = {}
    pieces = _ERR_SECTION.split(stderr)
    for index in range(1, len(pieces), 2):
        errors[pieces[index]] = " ".join(pieces[index - 1].split())
    sections: dict[str, tuple[str, int, str]] = {}
    pieces = _OUT_SECTION.split(stdout)
    for index in range(1, len(pieces) - 1, 3):
        name = pieces[index]
        sections[name] = (pieces[index - 1], int(pieces[index + 1]), errors.get(name, ""))
    answers: Answers = {}
    for part in _plan(list(dict.fromkeys(queries))):
        text, status, error = sections.get(part.name, ("", -1, "no answer"))
        if part.tables:
            documents = _documents(text)
            for position, table in enumerate(part.tables):
                found = position < len(documents)
                answers[Query(table, part.namespace)] = Reading(
                    0 if found else (status or 1), documents[position] if found else [], "" if found else error)
        for inner in part.inside:
            assert inner.query is not None
            answers[inner.query] = _reading(inner.query, sections.get(inner.name), (status, error))
        if part.query is not None:
            answers[part.query] = _reading(part.query, sections.get(part.name), (-1, "no answer"))
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
    return Reading(status, [port for line in text.splitlines() if (port := _local_port(line)) is not None], error)


def _local_port(line: str) -> int | None:
    """The port of a listening socket in a line of `ss -Hltn` (State Recv-Q Send-Q Local:Port Peer:Port)."""
    columns = line.split()
    if len(columns) < 4:
        return None
    port = columns[3].rpartition(":")[2]
    return int(port) if port.isdigit() else None


def _documents(text: str) -> list[Any]:
    """The JSON documents printed one after another by `ip -j -b`; a failing line ends the batch."""
    decoder = json.JSONDecoder()
    found, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return found
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return found
        found.append(value)
