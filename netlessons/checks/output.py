"""What a command must show: its exit status, and output lines (literal, `(re)`, `(glob)`) in order."""

from __future__ import annotations

import fnmatch
import re

from netlessons.checks.base import PASS, Verdict
from netlessons.lesson import Expectation

WHITESPACE_NOTE = "whitespace is shown as it is: → is a tab, · a space at the start or end of a line"


def status_verdict(expect: Expectation, status: int) -> Verdict:
    if expect.status == "failure":
        if status != 0:
            return PASS
        return Verdict(False, "expected this command to fail, but it exited 0")
    if status == expect.status:
        return PASS
    return Verdict(False, f"exit status {status}, expected {expect.status}")


def pattern_problem(pattern: str) -> str:
    """Why an expected-output line can never match anything (an invalid regular expression), or ""."""
    if pattern.endswith(" (re)"):
        try:
            re.compile(pattern[:-5])
        except re.error as e:
            return f"not a valid regular expression: {e}"
    return ""


def line_matches(pattern: str, line: str) -> bool:
    if pattern.endswith(" (re)"):
        try:
            return re.fullmatch(pattern[:-5], line) is not None
        except re.error:
            return False
    if pattern.endswith(" (glob)"):
        return fnmatch.fnmatchcase(line, pattern[:-7])
    return pattern == line


def _squeezed(text: str) -> str:
    return " ".join(text.split())


def visible(line: str) -> str:
    """A line with its whitespace made visible where it is easy to miss: tabs, and spaces at either end."""
    body = line.strip(" ")
    lead, trail = len(line) - len(line.lstrip(" ")), len(line) - len(line.rstrip(" "))
    if not body:
        return "·" * len(line)
    return "·" * lead + body.replace("\t", "→") + "·" * trail


def has_hidden_whitespace(lines: tuple[str, ...] | list[str]) -> bool:
    return any("\t" in line or line != line.strip(" ") for line in lines)


def output_verdict(expected: tuple[str, ...], output: str) -> Verdict:
    """Every expected line must appear, in order; other lines may come between them."""
    wanted = [line for line in expected if line]
    if not wanted:
        return PASS
    lines = output.splitlines()
    position = 0
    for pattern in wanted:
        for index in range(position, len(lines)):
            if line_matches(pattern, lines[index]):
                position = index + 1
                break
        else:
            detail = "expected, in this order:\n" + "\n".join(f"  {p}" for p in wanted)
            detail += "\nactual output:\n" + ("\n".join(f"  {line}" for line in lines) or "  (none)")
            problem = f"no output line matches {pattern!r}"
            invalid = pattern_problem(pattern)
            if invalid:
                problem = f"the expected line {pattern!r} is {invalid}"
            elif any(line_matches(_squeezed(pattern), _squeezed(line)) for line in lines[position:]):
                problem += ("; a line differs from it only in whitespace (tabs, spaces, indentation), which must "
                            "match exactly")
            return Verdict(False, problem, detail, tuple(wanted), tuple(lines))
    return PASS
