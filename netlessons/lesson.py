"""Plain data of a lesson, before and after rendering. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netlessons.errors import ParameterError


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    help: str = ""
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expectation:
    """What a step must show. `status` is an exit code, or "failure" for any non-zero code."""

    status: int | str = 0
    output: tuple[str, ...] = ()
    state: tuple[dict[str, Any], ...] = ()
    wait: float = 3.0
    every_round: bool = True  # with foreach: check the state after every round, or only after the last


@dataclass(frozen=True)
class StepSpec:
    """A step as written in the lesson file: its texts are still templates."""

    id: str
    title: str
    explain: str
    run: str
    expect: Expectation = Expectation()
    foreach: str = ""
    erratum: str = ""
    timeout: float = 30.0
    background: bool = False
    line: int | None = None


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    summary: str
    path: Path
    prerequisites: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    steps: tuple[StepSpec, ...] = ()
    cleanup: tuple[StepSpec, ...] = ()
    flavors: tuple[str, ...] = ()
    kubernetes: str = ""


@dataclass(frozen=True)
class Owned:
    """An object a command creates, as named by the macro that creates it."""

    kind: str  # "netns" | "link" | "process"
    name: str
    netns: str = ""  # where a link is created ("" = where the lab's shell lives)


@dataclass(frozen=True)
class Step:
    """A concrete step: the command text is final and every value in it is quoted."""

    id: str
    title: str
    explain: str
    command: str
    expect: Expectation
    group: str  # id of the StepSpec it came from
    lesson: str
    phase: str = "steps"  # "steps" | "cleanup"
    erratum: str = ""
    timeout: float = 30.0
    creates: tuple[Owned, ...] = ()
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedLesson:
    lesson: Lesson
    flavor: str
    values: dict[str, Any]
    parameters: tuple[Parameter, ...]
    prerequisites: tuple[Lesson, ...]
    steps: tuple[Step, ...]  # the prerequisites' steps first, then the lesson's own
    cleanup: tuple[Step, ...]

    @property
    def needs(self) -> list[str]:
        tools: list[str] = []
        for step in self.steps + self.cleanup:
            tools += [t for t in step.needs if t not in tools]
        return tools

    def upto(self, spec: str) -> int:
        """How many of `steps` to run to reach a step given by its number (1-based, as `run` counts) or its
        id; a loop's id means its last round."""
        if spec.isdigit():
            number = int(spec)
            if 0 < number <= len(self.steps):
                return number
            raise ParameterError(f"step {number} does not exist; {self.lesson.id} has steps 1 to {len(self.steps)}")
        for index in range(len(self.steps) - 1, -1, -1):
            if spec in (self.steps[index].id, self.steps[index].group):
                return index + 1
        ids = ", ".join(dict.fromkeys(s.group for s in self.steps))
        raise ParameterError(f"no step {spec!r} in {self.lesson.id}; its steps: {ids}")

    @property
    def owned(self) -> list[Owned]:
        seen: list[Owned] = []
        for step in self.steps:
            seen += [o for o in step.creates if o not in seen]
        return seen
