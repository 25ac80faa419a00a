"""`netlessons validate`: load and render lesson files exactly as every other command does, run nothing.

Beyond what loading and rendering refuse, it finds what would only show at run time: an expected-output
`(re)` line that is not a valid regular expression, two rounds of a `foreach` that get the same step id; and it
warns about a state check that can never see most of what it names (one templated on the loop variable, but
checked only after the last round).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2 import meta

from netlessons import checks
from netlessons.catalog import Catalog, search_path
from netlessons.errors import LessonFileError, LessonFileErrors, NetlessonsError
from netlessons.lesson import Lesson, RenderedLesson, StepSpec
from netlessons.render import render_lesson


@dataclass
class FileReport:
    """One lesson file as given (or found in a given folder), and every problem found in it or its chain;
    warnings do not make it fail."""

    path: Path
    problems: list[LessonFileError] = field(default_factory=list)
    warnings: list[LessonFileError] = field(default_factory=list)


def validate_paths(paths: list[Path]) -> list[FileReport]:
    reports: list[FileReport] = []
    for path in paths:
        if path.is_dir():
            reports += [FileReport(file) for file in sorted(path.glob("*.toml"))]
        elif path.exists() or path.is_symlink():  # a FIFO or a device is the loader's to refuse, unread
            reports.append(FileReport(path))
        else:
            reports.append(FileReport(path, [LessonFileError("no such file or folder", path=str(path))]))
    for report in reports:
        if not report.problems:
            report.problems, report.warnings = _examine(report.path)
    return reports


def _examine(path: Path) -> tuple[list[LessonFileError], list[LessonFileError]]:
    catalog = Catalog([path.absolute().parent] + search_path())
    problems: list[LessonFileError] = []
    try:
        lesson = catalog.check_prerequisites(catalog.parse(path))
        for flavor in lesson.flavors or (None,):
            rendered = render_lesson(catalog, lesson, flavor=flavor)
            problems += [p for p in _run_time_problems(lesson, rendered) if p.message not in
                         {known.message for known in problems}]
    except LessonFileErrors as e:
        return e.errors, []
    except LessonFileError as e:
        return [e], []
    except NetlessonsError as e:
        return [LessonFileError(e.message, path=str(path))], []
    return problems, _unseen_checks(lesson)


def _where(lesson: Lesson, spec: StepSpec) -> tuple[str, int | None]:
    specs = lesson.steps if spec in lesson.steps else lesson.cleanup
    phase = "steps" if spec in lesson.steps else "cleanup"
    return f"{phase}[{specs.index(spec)}] {spec.id!r}", spec.line


def _run_time_problems(lesson: Lesson, rendered: RenderedLesson) -> list[LessonFileError]:
    """What rendering lets through but a run would trip over, in the lesson's own steps."""
    specs = {spec.id: spec for spec in lesson.steps + lesson.cleanup}
    own = [step for step in rendered.steps + rendered.cleanup if step.lesson == lesson.id]
    found: list[LessonFileError] = []
    text = lesson.path.read_text(encoding="utf-8", errors="replace").splitlines()
    for step in own:
        spec = specs.get(step.group)
        if spec is None:
            continue
        where, line = _where(lesson, spec)
        for index, pattern in enumerate(step.expect.output):
            problem = checks.pattern_problem(pattern)
            if problem:
                found.append(LessonFileError(f"{pattern!r} is {problem}", path=str(lesson.path),
                                             field=f"{where}.expect.output[{index}]",
                                             line=_line_of(text, spec.expect.output[index], line)))
    for step_id, count in Counter(step.id for step in own).items():
        if count > 1:
            spec = specs.get(next(step.group for step in own if step.id == step_id))
            where, line = _where(lesson, spec) if spec else ("steps", None)
            found.append(LessonFileError(
                f"{count} rounds of the foreach get the same step id {step_id!r}: the values of the loop must "
                "differ in their letters and digits, since the id keeps only those", path=str(lesson.path),
                field=f"{where}.foreach", line=line))
    return found


def _line_of(text: list[str], written: str, after: int | None) -> int | None:
    """The line of the file that holds a value as written (the first at or after the step's line)."""
    start = (after or 1) - 1
    for number in range(start, len(text)):
        if written and written in text[number].replace('\\"', '"'):
            return number + 1
    return after


def loop_variables(foreach: str) -> set[str]:
    return set(re.findall(r"(?:^|;)\s*([a-z_][a-z0-9_]*)\s+in\s", foreach))


def _template_names(value: object) -> set[str]:
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return set()
    try:
        return set(meta.find_undeclared_variables(jinja2.Environment().parse(value)))
    except jinja2.TemplateError:
        return set()


def _unseen_checks(lesson: Lesson) -> list[LessonFileError]:
    """Warnings: a looped step whose checks run only after the last round (`every_round = false`), while a
    check names its object through the loop variable: every round but the last goes unchecked."""
    found: list[LessonFileError] = []
    for spec in lesson.steps + lesson.cleanup:
        if not spec.foreach or spec.expect.every_round:
            continue
        variables = loop_variables(spec.foreach)
        for index, check in enumerate(spec.expect.state):
            used = sorted(set().union(*(_template_names(v) for v in check.values())) & variables)
            if used:
                where, line = _where(lesson, spec)
                found.append(LessonFileError(
                    f"this check uses the loop variable {', '.join(used)} but runs only after the last round "
                    "(every_round = false), so it sees only the last round's object; leave every_round out to "
                    "check each round", path=str(lesson.path), field=f"{where}.expect.state[{index}]", line=line))
    return found
