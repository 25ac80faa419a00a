"""Plain data of a lesson, before and after rendering. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
