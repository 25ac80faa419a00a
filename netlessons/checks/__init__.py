"""What a step must show: exit status, output lines (literal, `(re)`, `(glob)`), and state checks of kinds
taken from a registry (`KINDS`), each kind one module of this package.

The package is pure: it builds the command that reads kernel state (`reader`) and judges the answers; the
runner runs the command in the lab's shell.
"""

from netlessons.checks.base import PASS, Answers, CheckKind, Field, Query, Reading, Verdict
from netlessons.checks.output import (
    WHITESPACE_NOTE,
    has_hidden_whitespace,
    line_matches,
    output_verdict,
    pattern_problem,
    status_verdict,
    visible,
)
from netlessons.checks.registry import KINDS, before, describe, judge, kind_of, problems, queries

__all__ = [
    "KINDS", "PASS", "before", "WHITESPACE_NOTE", "Answers", "CheckKind", "Field", "Query", "Reading", "Verdict",
    "describe", "has_hidden_whitespace", "judge", "kind_of", "line_matches", "output_verdict", "pattern_problem",
    "problems", "queries", "status_verdict", "visible",
]
