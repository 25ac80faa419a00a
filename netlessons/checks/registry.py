"""The state check kinds, by name. Adding a kind: one module with its class, one line here, docs and tests."""

from __future__ import annotations

from typing import Any

from netlessons.checks.base import Answers, CheckKind, Query, Verdict
from netlessons.checks.bridge import BridgeCheck
from netlessons.checks.conntrack import ConntrackCheck
from netlessons.checks.counter import CounterCheck
from netlessons.checks.fdb import FdbCheck
from netlessons.checks.link import LinkCheck
from netlessons.checks.neighbour import NeighbourCheck
from netlessons.checks.netns import NetnsCheck
from netlessons.checks.port import PortCheck
from netlessons.checks.route import RouteCheck
from netlessons.checks.route_get import RouteGetCheck
from netlessons.checks.rule import RuleCheck
from netlessons.checks.sysctl import SysctlCheck

KINDS: dict[str, CheckKind] = {kind.name: kind for kind in (
    NetnsCheck(), LinkCheck(), BridgeCheck(), RouteCheck(), RouteGetCheck(), SysctlCheck(), PortCheck(),
    NeighbourCheck(), FdbCheck(), ConntrackCheck(), RuleCheck(), CounterCheck(),
)}


def kind_of(check: dict[str, Any]) -> CheckKind:
    """The kind of a valid check: the one whose name is among its keys."""
    return next(KINDS[key] for key in check if key in KINDS)


def problems(check: Any) -> list[tuple[str, str]]:
    """What is wrong with a state check as written in a lesson file: (field, message) pairs, the field ""
    for the check as a whole; none for a valid check."""
    if not isinstance(check, dict):
        return [("", 'a state check is a table, e.g. { link = "veth1", up = true }')]
    subjects = [key for key in check if key in KINDS]
    if len(subjects) != 1:
        return [("", f"a state check names exactly one of {', '.join(KINDS)}"
                 + (f"; this one names {' and '.join(subjects)}" if subjects else ""))]
    return KINDS[subjects[0]].problems(check)


def describe(check: dict[str, Any]) -> str:
    """The check in words, for explanations and reports."""
    return kind_of(check).describe(check)


def queries(state: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[Query]:
    """The tables that answer all these checks, each once."""
    return list(dict.fromkeys(q for check in state for q in kind_of(check).queries(check)))


def before(state: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[Query]:
    """The tables to read before the step's command runs (each with `before=True`), each once."""
    return list(dict.fromkeys(q for check in state for q in kind_of(check).before(check)))


def judge(check: dict[str, Any], answers: Answers) -> Verdict:
    """The verdict on one check from the tables read for it; an answer that cannot be read fails the check."""
    try:
        return kind_of(check).judge(check, answers)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return Verdict(False, f"cannot read the state for '{describe(check)}': {e}")
