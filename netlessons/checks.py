"""What a step must show: exit status, output lines (literal, `(re)`, `(glob)`), and state read from `ip -j`.

This module builds the state queries and judges their answers; the runner executes them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from netlessons.lesson import Expectation


@dataclass(frozen=True)
class Verdict:
    passed: bool
    problem: str = ""  # one line: what was wrong
    detail: str = ""  # expected vs actual, several lines


PASS = Verdict(True)


def status_verdict(expect: Expectation, status: int) -> Verdict:
    if expect.status == "failure":
        if status != 0:
            return PASS
        return Verdict(False, "expected this command to fail, but it exited 0")
    if status == expect.status:
        return PASS
    return Verdict(False, f"exit status {status}, expected {expect.status}")


def line_matches(pattern: str, line: str) -> bool:
    if pattern.endswith(" (re)"):
        try:
            return re.fullmatch(pattern[:-5], line) is not None
        except re.error:
            return False
    if pattern.endswith(" (glob)"):
        return fnmatch.fnmatchcase(line, pattern[:-7])
    return pattern == line


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
            return Verdict(False, f"no output line matches {pattern!r}", detail)
    return PASS


def _ip(check: dict[str, Any]) -> str:
    ns = check.get("in") or ""
    return f"ip -n {shlex.quote(ns)}" if ns else "ip"


def state_query(check: dict[str, Any]) -> str:
    """The command whose output `state_verdict` judges."""
    if "netns" in check:
        return "ip -j netns list"
    if "link" in check:
        return f"{_ip(check)} -j -d addr show dev {shlex.quote(check['link'])}"
    if "bridge" in check:
        return f"{_ip(check)} -j link show master {shlex.quote(check['bridge'])}"
    if "route" in check:
        return f"{_ip(check)} -j route show {shlex.quote(check['route'])}"
    if "sysctl" in check:
        path = "/proc/sys/" + check["sysctl"].replace(".", "/")
        prefix = f"ip netns exec {shlex.quote(check['in'])} " if check.get("in") else ""
        return f"{prefix}cat {shlex.quote(path)}"
    if "port" in check:
        prefix = f"ip netns exec {shlex.quote(check['in'])} " if check.get("in") else ""
        port_filter = shlex.quote(f"sport = :{int(check['port'])}")
        return f"{prefix}ss -Hltn {port_filter}"
    raise ValueError(f"unknown state check {check}")


def describe(check: dict[str, Any]) -> str:
    """The check in words, for explanations and reports."""
    where = f" in {check['in']}" if check.get("in") else ""
    if "netns" in check:
        return f"namespace {check['netns']} is {'gone' if check.get('absent') else 'present'}"
    if "link" in check:
        if check.get("absent"):
            return f"{check['link']} is gone{where and ' from' + where[3:]}"
        parts = [f"{check['link']} is{where or ' here'}"]
        if "kind" in check:
            parts.append(f"a {check['kind']}")
        if "up" in check:
            parts.append("UP" if check["up"] else "DOWN")
        if check.get("operstate"):
            parts.append(f"operstate {check['operstate']}")
        if check.get("master"):
            parts.append(f"a port of {check['master']}")
        if check.get("address"):
            parts.append(f"with {check['address']}")
        if "mtu" in check:
            parts.append(f"MTU {check['mtu']}")
        return ", ".join(parts)
    if "bridge" in check:
        return f"bridge {check['bridge']}{where} has {check.get('ports', '?')} ports"
    if "route" in check:
        if check.get("absent"):
            return f"no route to {check['route']}{where}"
        via = f" via {check['via']}" if check.get("via") else ""
        dev = f" dev {check['dev']}" if check.get("dev") else ""
        return f"route {check['route']}{via}{dev}{where}"
    if "sysctl" in check:
        return f"{check['sysctl']} = {check['value']}{where}"
    if "port" in check:
        return f"{'nothing' if check.get('absent') else 'a server'} listens on TCP port {check['port']}{where}"
    return str(check)


def _json(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


def state_verdict(check: dict[str, Any], status: int, stdout: str, stderr: str) -> Verdict:
    try:
        return _judge(check, status, stdout, stderr)
    except (ValueError, KeyError, TypeError) as e:
        return Verdict(False, f"cannot read the state for '{describe(check)}': {e}", stderr.strip())


def _judge(check: dict[str, Any], status: int, stdout: str, stderr: str) -> Verdict:
    want = describe(check)
    if "netns" in check:
        names = {item.get("name") for item in _json(stdout)} if status == 0 else set()
        present = check["netns"] in names
        if present == (not check.get("absent")):
            return PASS
        return Verdict(False, f"expected: {want}; namespaces now: {', '.join(sorted(names)) or 'none'}")
    if "link" in check:
        links = _json(stdout) if status == 0 else []
        if check.get("absent"):
            return PASS if not links else Verdict(False, f"expected: {want}; it still exists")
        if not links:
            return Verdict(False, f"expected: {want}; no such link{(' in ' + check['in']) if check.get('in') else ''}",
                           stderr.strip())
        link = links[0]
        flags = link.get("flags", [])
        actual = {
            "kind": (link.get("linkinfo") or {}).get("info_kind", ""),
            "up": "UP" in flags,
            "operstate": link.get("operstate", ""),
            "master": link.get("master", ""),
            "mtu": link.get("mtu"),
        }
        if "mtu" in check:
            check = {**check, "mtu": int(check["mtu"])}  # a template renders it as text
        addresses = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if "local" in a]
        wrong = [f"{key} is {actual[key]!r}, not {check[key]!r}" for key in ("kind", "up", "operstate", "master", "mtu")
                 if key in check and check[key] != "" and actual[key] != check[key]]
        if check.get("address") and check["address"] not in addresses:
            wrong.append(f"addresses are {', '.join(addresses) or 'none'}, not {check['address']}")
        return PASS if not wrong else Verdict(False, f"expected: {want}; but " + "; ".join(wrong))
    if "bridge" in check:
        ports = _json(stdout) if status == 0 else []
        if status != 0:
            return Verdict(False, f"expected: {want}; no such bridge", stderr.strip())
        if "ports" in check and len(ports) != int(check["ports"]):
            names = ", ".join(p.get("ifname", "?") for p in ports) or "none"
            return Verdict(False, f"expected: {want}; it has {len(ports)}: {names}")
        return PASS
    if "route" in check:
        routes = _json(stdout) if status == 0 else []
        if check.get("absent"):
            return PASS if not routes else Verdict(False, f"expected: {want}; found {routes[0]}")
        fields = (("via", "gateway"), ("dev", "dev"))
        for route in routes:
            if all(not check.get(key) or route.get(field) == check[key] for key, field in fields):
                return PASS
        return Verdict(False, f"expected: {want}; routes found: {routes or 'none'}")
    if "sysctl" in check:
        value = stdout.strip()
        if status == 0 and value == str(check["value"]):
            return PASS
        return Verdict(False, f"expected: {want}; it is {value or stderr.strip()!r}")
    if "port" in check:
        listening = status == 0 and bool(stdout.strip())
        if listening != bool(not check.get("absent")):
            return Verdict(False, f"expected: {want}", stderr.strip())
        return PASS
    return Verdict(False, f"unknown check {check}")
