"""Rendered steps → numbered narration for a classroom walkthrough."""

from __future__ import annotations

import textwrap

from netlessons import checks
from netlessons.goals import goals_of
from netlessons.lesson import RenderedLesson, Step
from netlessons.params import rule_of


def _wrap(text: str, indent: str = "    ", width: int = 100, rest: str | None = None) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width, initial_indent=indent,
                         subsequent_indent=indent if rest is None else rest, break_on_hyphens=False)


def _readable(pattern: str) -> str:
    """An expected-output pattern as a learner reads it: `…` where anything may stand."""
    if pattern.endswith(" (glob)"):
        return pattern[:-7].replace("*", "…").replace("?", "…")
    return pattern.removesuffix(" (re)")


NOTHING = "no output; the command succeeds"


def expected_in_words(step: Step) -> list[str]:
    expect = step.expect
    said = []
    if expect.status == "failure":
        said.append("the command fails (that is the point of this step)")
    elif expect.status != 0:
        said.append(f"the command exits with status {expect.status}")
    said += [f"a line like: {_readable(line)}" for line in expect.output if line]
    said += [checks.describe(c) for c in expect.state]
    said += [f"a packet like: {_readable(line)}" for line in expect.capture if line]
    return said or [NOTHING]


def group_expectations(commands: tuple[Step, ...]) -> list[str]:
    """What a step shows, said once for all its rounds: the first round's expectations, and the checks of a loop
    that runs them only after its last round (`every_round = false`), said as such."""
    first, last = commands[0], commands[-1]
    said = expected_in_words(first)
    if len(commands) > 1 and not first.expect.state and last.expect.state:
        said = [s for s in said if s != NOTHING] + [f"after the last round: {checks.describe(c)}"
                                                    for c in last.expect.state]
    return said


def parameter_lines(rendered: RenderedLesson, width: int = 100) -> list[str]:
    """One wrapped line per parameter (name, value, what it is for, its kind), then each rule once."""
    out: list[str] = []
    rules: dict[str, str] = {}
    for p in rendered.parameters:
        rule = rule_of(p)
        kind, has_detail, _ = rule.partition(":")
        if has_detail:
            rules.setdefault(kind, rule)
        said = f"{p.name} = {rendered.values[p.name]}" + (f": {p.help}" if p.help else "") + f" ({kind})"
        out += _wrap(said, "  ", width, "      ")
    if rules:
        out.append("  The rules of these kinds:")
        out += [line for rule in rules.values() for line in _wrap(rule, "    - ", width, "      ")]
    return out


def packages_needed(rendered: RenderedLesson) -> list[str]:
    """The Debian packages of the tools the lesson runs: the words `list` and `doctor` use too."""
    from netlessons.tools import package_for

    return sorted({package_for(tool) for tool in rendered.needs})


def render_explanation(rendered: RenderedLesson, width: int = 100) -> str:
    """The lesson as narration; its steps numbered as every command numbers them (RenderedLesson.label)."""
    lesson = rendered.lesson
    out = [f"{lesson.id}: {lesson.title}", ""] + _wrap(lesson.summary, "", width)
    if rendered.prerequisites:
        names = " → ".join(p.id for p in rendered.prerequisites)
        count = len(rendered.prerequisite_steps)
        out += [""] + _wrap(f"Builds on {names}: its {count} commands build the starting lab first (`netlessons "
                            f"explain {rendered.prerequisites[-1].id}` tells them); the steps below are numbered "
                            "from there.", "", width)
    if rendered.flavor:
        out.append(f"Flavor: {rendered.flavor}")
    out += _wrap(f"Needs the packages: {', '.join(packages_needed(rendered))}", "", width, "  ")
    if rendered.parameters:
        out += ["", "Parameters (change them with --set NAME=VALUE):"] + parameter_lines(rendered, width)
    cleanup_started = False
    for numbered in rendered.numbered():
        if numbered.phase == "cleanup" and not cleanup_started:
            out += ["", "== Clean-up =="]
            cleanup_started = True
        first, commands = numbered.first, numbered.commands
        title = first.title if len(commands) == 1 else first.title + " (and the same for the others)"
        out += ["", f"Step {numbered.number}. {title}"]
        for step in commands:
            prompt = f"{rendered.label(step)} $ " if len(commands) > 1 else "$ "
            lines = step.command.splitlines() or [""]
            out += [f"    {prompt}{lines[0]}"] + [f"    {' ' * (len(prompt) - 2)}> {line}" for line in lines[1:]]
        out += _wrap(first.explain, width=width)
        if first.erratum:
            out += _wrap("Erratum: " + first.erratum, width=width)
        out.append("    You should see:")
        out += [line for said in group_expectations(commands) for line in _wrap(said, "      - ", width, "        ")]
    goals = goals_of(rendered)
    if goals:
        out += ["", "Goals (what `netlessons check` and a challenge grade: a working lab at the end shows)"]
        out += [line for goal in goals for line in _wrap(goal.name, "  - ", width, "    ")]
    if rendered.recap:
        out += ["", "Recap:"] + _wrap(rendered.recap, width=width)
    if lesson.kubernetes:
        out += ["", "In Kubernetes:"] + _wrap(lesson.kubernetes, width=width)
    if lesson.sources:
        out += ["", "Sources:"] + [line for source in lesson.sources for line in _wrap(source, "  - ", width, "    ")]
    return "\n".join(out) + "\n"
