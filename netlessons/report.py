"""How a run is shown: a live view while it runs, and JSON or JUnit XML afterwards."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from netlessons import capture, checks, hints
from netlessons.lesson import RenderedLesson
from netlessons.results import RunReport, StepResult
from netlessons.terminal import Progress, color_wanted, fit, paint, width


def command_lines(command: str, columns: int | None, indent: int) -> list[str]:
    """A command as the live view prints it: on a terminal its first line, fitted to the width (a longer
    command ends in "…"); elsewhere all of it, its further lines indented under the first."""
    lines = command.splitlines() or [""]
    if columns is None:
        return [lines[0]] + [" " * indent + line for line in lines[1:]]
    first = lines[0] + (" …" if len(lines) > 1 else "")
    return [fit(first, max(columns - indent, 10))]


def prerequisites_line(rendered: RenderedLesson) -> str:
    """"the lab of netns-basics" or "the labs of bridge-gateway-nat → two-nodes-routed"."""
    names = [p.id for p in rendered.prerequisites]
    return f"the lab{'s' if len(names) > 1 else ''} of {' → '.join(names)}"


class LiveView:
    """One line per command, numbered as every command numbers steps ([12/14], [2.1/14]); the prerequisites'
    commands collapse into one line. On a terminal: colours (unless NO_COLOR or --no-color), lines fitted to its
    width, and a counter on stderr while the prerequisites' lab is built. In a file: full commands."""

    def __init__(self, stream: TextIO = sys.stdout, verbose: bool = False, color: bool | None = None,
                 columns: int | None | str = "auto", progress: Progress | None = None) -> None:
        self.stream = stream
        self.verbose = verbose
        self.color = color_wanted(stream) if color is None else color
        self.columns = width(stream) if columns == "auto" else columns
        self.progress = progress or Progress()
        self.rendered: RenderedLesson | None = None
        self._pending: list[StepResult] = []

    def _paint(self, text: str, code: str) -> str:
        return paint(text, code, self.color)

    def _write(self, text: str) -> None:
        self.progress.clear()
        self.stream.write(text)
        self.stream.flush()

    def started(self, rendered: RenderedLesson, mode: str) -> None:
        self.rendered = rendered
        where = ("sandbox: throwaway namespaces, this machine's network is not touched" if mode == "sandbox"
                 else "host mode: on this machine's own network, every object recorded in a ledger")
        flavor = f", flavor {rendered.flavor}" if rendered.flavor else ""
        self._write(f"{rendered.lesson.id}: {rendered.lesson.title}\n{where}{flavor}\n")
        labels = [rendered.label(s) for s in rendered.own_steps + rendered.cleanup]
        self._label_width = max([len(label) for label in labels] + [1])

    def step_done(self, index: int, total: int, outcome: StepResult) -> None:
        rendered = self.rendered
        step = outcome.step
        if rendered is None:
            raise RuntimeError("LiveView.step_done before started")
        if step.lesson != rendered.lesson.id and outcome.passed:
            self._pending.append(outcome)
            count = len(rendered.prerequisite_steps)
            self.progress.show(f"building {prerequisites_line(rendered)}: {len(self._pending)}/{count} commands")
            return
        self._flush_prerequisite()
        mark = self._paint("ok  ", "32") if outcome.passed else self._paint("FAIL", "31;1")
        expected_failure = " (fails, as expected)" if step.expect.status != 0 and outcome.passed else ""
        label = rendered.label(step)
        head = (f"[{label:>{self._label_width}}/{rendered.step_count}]" if step.lesson == rendered.lesson.id
                else f"[{label}]")
        head = f"{head} {mark} {outcome.result.duration * 1000:6.0f} ms  "
        indent = len(head) - (len(mark) - 4)  # the colour codes take no room on the screen
        # On a terminal the note that the failure was expected keeps its room: the command gives way.
        columns = self.columns - len(expected_failure) if self.columns is not None else None
        lines = command_lines(step.command, columns, indent)
        lines[0] = head + lines[0]
        lines[-1] += expected_failure
        out = lines
        if self.verbose and outcome.result.output.strip():
            out += [f"        | {line}" for line in outcome.result.output.rstrip("\n").splitlines()]
        wire = capture.wire_of(outcome)
        if self.verbose and wire:
            out += ["        on the wire:"] + [f"        ~ {line}" for line in wire]
        elif self.verbose and outcome.step.capture:
            out.append("        on the wire: no packet")
        out += [f"        {change}" for change in outcome.changes]
        self._write("\n".join(out) + "\n")

    def _flush_prerequisite(self) -> None:
        if self._pending and self.rendered is not None:
            took = sum(r.result.duration for r in self._pending) * 1000
            total = len(self.rendered.prerequisite_steps)
            count = f"{len(self._pending)} commands" if len(self._pending) == total else \
                f"{len(self._pending)} of its {total} commands"
            self._write(f"{'':{self._label_width + 3 + len(str(self.rendered.step_count))}} "
                        f"{self._paint('ok  ', '32')} built {prerequisites_line(self.rendered)} first: "
                        f"{count}, {took:.0f} ms\n")
            self._pending = []

    def finished(self, report: RunReport) -> None:
        self._flush_prerequisite()
        self.progress.clear()
        out = self.stream
        failure = report.failure
        rendered = self.rendered
        if failure:
            out.write("\n" + failure_text(failure, report.mode, rendered.label(failure.step) if rendered else ""))
        if report.cleaned:
            out.write(f"clean-up: {', '.join(report.cleaned)}\n")
        if report.kept:
            out.write(f"\nThe lab is kept on this machine. Remove it with: netlessons cleanup\n"
                      f"(ledger: {report.ledger})\n")
        out.write("\n" + self._paint(*verdict_line(report, rendered)) + "\n")
        out.flush()


def verdict_line(report: RunReport, rendered: RenderedLesson | None) -> tuple[str, str]:
    """The last line of a run, and its colour: PASSED, FAILED at a step, or INTERRUPTED."""
    done, total = len(report.results), report.total
    took = f"in {report.duration:.2f} s ({report.mode})"

    if report.interrupted:
        where = ""
        if rendered and done < total:
            upcoming = (list(rendered.steps) + list(rendered.cleanup))[done]
            where = f", during step {rendered.label(upcoming)}"
        return f"INTERRUPTED after {done} of {total} commands{where}, {took}", "33;1"
    if report.passed:
        steps = f"all {rendered.step_count} steps, " if rendered else ""
        return f"PASSED: {steps}{total} commands {took}", "32;1"
    passed = sum(r.passed for r in report.results)
    failure = report.failure
    at = f" at step {rendered.label(failure.step)}" if rendered and failure else ""
    return f"FAILED{at}: {passed} of {total} commands passed {took}", "31;1"


def failure_text(outcome: StepResult, mode: str, label: str = "") -> str:
    """What went wrong in a step, for a person: command, status, problem, expected against actual, a hint.
    `label` is the step's number (RenderedLesson.label)."""
    step, result, verdict = outcome.step, outcome.result, outcome.verdict
    number = f"{label} " if label else ""
    lines = [f"Step {number}({step.id}) failed: {step.title}",
             f"  command:     {step.command}",
             f"  exit status: {result.status}",
             f"  problem:     {verdict.problem}"]
    if verdict.detail:
        if verdict.expected:
            lines += output_diff(verdict.expected, verdict.actual)
        else:
            lines += [f"  {line}" for line in verdict.detail.splitlines()]
    elif result.output.strip():
        lines.append("  output:")
        lines += [f"    {line}" for line in result.output.rstrip().splitlines()[-15:]]
    hint = hints.for_failure(outcome, mode)
    if hint:
        lines.append(f"  hint:        {hint}")
    return "\n".join(lines) + "\n"


def output_diff(expected: tuple[str, ...], actual: tuple[str, ...]) -> list[str]:
    """Expected against actual output lines as a unified diff, every character as it is: tabs and spaces at
    either end of a line are made visible (a tab-indented line and a space-indented pattern look alike)."""
    lines = ["  expected vs actual output:"]
    if checks.has_hidden_whitespace(expected) or checks.has_hidden_whitespace(actual):
        lines.append(f"  ({checks.WHITESPACE_NOTE}; whitespace must match exactly)")
        expected, actual = tuple(map(checks.visible, expected)), tuple(map(checks.visible, actual))
    import difflib  # only for a failed step

    lines += [f"    {d}" for d in difflib.unified_diff(expected, actual, "expected", "actual", lineterm="", n=2)]
    return lines


def to_json(report: RunReport, rendered: RenderedLesson | None = None) -> str:
    """The run as JSON; with the rendered lesson each command also carries its step number ("12", "2.1")."""
    return json.dumps({
        "lesson": report.lesson,
        "mode": report.mode,
        "flavor": report.flavor,
        "passed": report.passed,
        "interrupted": report.interrupted,
        "duration": round(report.duration, 4),
        "steps_total": report.total,
        "cleaned": report.cleaned,
        "kept": report.kept,
        "steps": [{
            "id": r.step.id,
            "number": rendered.label(r.step) if rendered else None,
            "lesson": r.step.lesson,
            "phase": r.step.phase,
            "title": r.step.title,
            "command": r.step.command,
            "exit_status": r.result.status,
            "expected_status": r.step.expect.status,
            "stdout": r.result.stdout,
            "stderr": r.result.stderr,
            "duration": round(r.result.duration, 4),
            "passed": r.passed,
            "problem": r.verdict.problem,
            "detail": r.verdict.detail,
            "checks": list(r.checked),
            "changes": list(r.changes), "capture": list(r.wire),
        } for r in report.results],
    }, indent=2) + "\n"


def to_junit(report: RunReport) -> bytes:
    from xml.etree import ElementTree as ET  # only for --junit

    failures = sum(not r.passed for r in report.results)
    skipped = report.total - len(report.results)
    suite = ET.Element("testsuite", name=f"netlessons.{report.lesson}", tests=str(report.total),
                       failures=str(failures), errors="0", skipped=str(skipped), time=f"{report.duration:.3f}")
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"{report.lesson}.{r.step.phase}", name=r.step.id,
                             time=f"{r.result.duration:.4f}")
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=r.verdict.problem)
            failure.text = f"{r.step.command}\n{r.verdict.detail or r.result.output}"
        ET.SubElement(case, "system-out").text = r.result.stdout
        ET.SubElement(case, "system-err").text = r.result.stderr
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
