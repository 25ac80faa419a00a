"""What running a lesson produces, as plain data: a command's result, a checked step, a whole run.

These types live apart from the code that produces them (the lab shell, the runner), so that the modules that
only read results (report, hints, state, handouts) import no process code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netlessons.checks import Verdict
from netlessons.lesson import Step


@dataclass(frozen=True)
class CommandResult:
    command: str
    status: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def output(self) -> str:
        """stdout then stderr, as the checks read it."""
        return self.stdout + self.stderr


@dataclass(frozen=True)
class StepResult:
    step: Step
    result: CommandResult
    verdict: Verdict
    checked: tuple[str, ...] = ()  # the state checks, in words
    changes: tuple[str, ...] = ()  # what the step changed, in words (with --changes)
    wire: tuple[str, ...] = ()  # the packets the step's capture saw, one decoded line each

    @property
    def passed(self) -> bool:
        return self.verdict.passed


@dataclass
class RunReport:
    lesson: str
    mode: str
    flavor: str
    results: list[StepResult] = field(default_factory=list)
    total: int = 0
    duration: float = 0.0
    cleaned: list[str] = field(default_factory=list)
    kept: bool = False
    interrupted: bool = False
    ledger: str = ""

    @property
    def passed(self) -> bool:
        return not self.interrupted and len(self.results) == self.total and all(r.passed for r in self.results)

    @property
    def failure(self) -> StepResult | None:
        return next((r for r in self.results if not r.passed), None)
