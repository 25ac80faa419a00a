"""Rendered steps → numbered narration for a classroom walkthrough."""

from __future__ import annotations

import textwrap
from itertools import groupby

from netlessons import checks
from netlessons.lesson import RenderedLesson, Step
from netlessons.params import rule_of


def _wrap(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(" ".join(text.split()), 100, initial_indent=indent, subsequent_indent=indent)


def _readable(pattern: str) -> str:
    """An expected-output pattern as a learner reads it: `…` where anything may stand."""
    if pattern.endswith(" (glob)"):
        return pattern[:-7].replace("*", "…").replace("?", "…")
    return pattern.removesuffix(" (re)")


def expected_in_words(step: Step) -> list[str]:
    expect = step.expect
    said = []
    if expect.status == "failure":
        said.append("the command fails (that is the point of this step)")
    elif expect.status != 0:
        said.append(f"the command exits with status {expect.status}")
    said += [f"a line like: {_readable(line)}" for line in expect.output if line]
    said += [checks.describe(c) for c in expect.state]
    return said or ["no output; the command succeeds"]


def render_explanation(rendered: RenderedLesson) -> str:
    lesson = rendered.lesson
    out = [f"{lesson.id}: {lesson.title}", ""] + _wrap(lesson.summary, "")
    if rendered.prerequisites:
        names = ", ".join(p.id for p in rendered.prerequisites)
        out += ["", f"Builds on: {names} (its steps are run first, shown collapsed below)."]
    if rendered.flavor:
        out.append(f"Flavor: {rendered.flavor}")
    out.append(f"Needs: {', '.join(rendered.needs)}")
    if rendered.parameters:
        out += ["", "Parameters (change them with --set NAME=VALUE):"]
        for p in rendered.parameters:
            out.append(f"  {p.name} = {rendered.values[p.name]}   ({rule_of(p)}){' - ' + p.help if p.help else ''}")
    number = 0
    for prerequisite in rendered.prerequisites:
        count = sum(1 for s in rendered.steps if s.lesson == prerequisite.id)
        out += ["", f"(restoring the lab of {prerequisite.id}: {count} commands; "
                    f"`netlessons explain {prerequisite.id}` tells them)"]
    for phase, steps in (("", [s for s in rendered.steps if s.lesson == lesson.id]),
                         ("Clean-up", list(rendered.cleanup))):
        if phase and steps:
            out += ["", f"== {phase} =="]
        for _, group in groupby(steps, key=lambda s: s.group):
            group = list(group)
            number += 1
            first = group[0]
            title = first.title if len(group) == 1 else first.title + (" (and the same for the others)")
            out += ["", f"Step {number}. {title}"]
            out += [f"    $ {s.command}" for s in group]
            out += _wrap(first.explain)
            if first.erratum:
                out += _wrap("Erratum: " + first.erratum)
            out.append("    You should see:")
            out += [f"      - {line}" for line in expected_in_words(group[-1] if len(group) == 1 else first)]
    if lesson.kubernetes:
        out += ["", "In Kubernetes:"] + _wrap(lesson.kubernetes)
    return "\n".join(out) + "\n"
