"""How a run is shown: a live view while it runs, and JSON or JUnit XML afterwards."""

from __future__ import annotations

import difflib
import json
import sys
from typing import TextIO
from xml.etree import ElementTree as ET

from netlessons import hints
from netlessons.lesson import RenderedLesson
from netlessons.runner import RunReport, StepResult


def _short(command: str, width: int = 72) -> str:
    first = command.splitlines()[0] if command else ""
    return first if len(first) <= width and "\n" not in command else first[: width - 1] + "…"


class LiveView:
    """One line per step (step n/N, verdict, duration, command); prerequisites collapse to one line each."""

    def __init__(self, stream: TextIO = sys.stdout, verbose: bool = False, color: bool | None = None) -> None:
        self.stream = stream
        self.verbose = verbose
        self.color = stream.isatty() if color is None else color
        self.lesson = ""
        self._pending: list[StepResult] = []

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def started(self, rendered: RenderedLesson, mode: str) -> None:
        self.lesson = rendered.lesson.id
        where = ("sandbox: throwaway namespaces, this machine's network is not touched" if mode == "sandbox"
                 else "host mode: on this machine's own network, every object recorded in a ledger")
        flavor = f", flavor {rendered.flavor}" if rendered.flavor else ""
        self.stream.write(f"{rendered.lesson.id}: {rendered.lesson.title}\n{where}{flavor}\n")
        self.stream.flush()

    def step_done(self, index: int, total: int, outcome: StepResult) -> None:
        step = outcome.step
        if step.lesson != self.lesson and outcome.passed:
            self._pending.append(outcome)
            return
        self._flush_prerequisite()
        mark = self._paint("ok  ", "32") if outcome.passed else self._paint("FAIL", "31;1")
        expected_failure = " (fails, as expected)" if step.expect.status != 0 and outcome.passed else ""
        width = len(str(total))
        self.stream.write(f"[{index:>{width}}/{total}] {mark} {outcome.result.duration * 1000:6.0f} ms  "
                          f"{_short(step.command)}{expected_failure}\n")
        if self.verbose and outcome.result.output.strip():
            for line in outcome.result.output.rstrip("\n").splitlines():
                self.stream.write(f"        | {line}\n")
        for change in outcome.changes:
            self.stream.write(f"        {change}\n")
        self.stream.flush()

    def _flush_prerequisite(self) -> None:
        if self._pending:
            lesson = self._pending[0].step.lesson
            took = sum(r.result.duration for r in self._pending) * 1000
            self.stream.write(f"        {self._paint('ok  ', '32')} restored the lab of {lesson}: "
                              f"{len(self._pending)} steps, {took:.0f} ms\n")
            self._pending = []

    def finished(self, report: RunReport) -> None:
        self._flush_prerequisite()
        out = self.stream
        failure = report.failure
        if failure:
            out.write("\n" + failure_text(failure, report.mode))
        if report.interrupted:
            out.write(f"\ninterrupted after {len(report.results)} of {report.total} steps\n")
        if report.cleaned:
            out.write(f"clean-up removed: {', '.join(c.removeprefix('deleted ') for c in report.cleaned)}\n")
        if report.kept:
            out.write(f"\nThe lab is kept on this machine. Remove it with: netlessons cleanup\n"
                      f"(ledger: {report.ledger})\n")
        passed = sum(r.passed for r in report.results)
        verdict = self._paint("PASSED", "32;1") if report.passed else self._paint("FAILED", "31;1")
        out.write(f"\n{verdict}: {passed} of {report.total} steps passed in {report.duration:.2f} s "
                  f"({report.mode})\n")
        out.flush()


def failure_text(outcome: StepResult, mode: str) -> str:
    step, result, verdict = outcome.step, outcome.result, outcome.verdict
    lines = [f"Step {step.id!r} failed: {step.title}",
             f"  command:     {step.command}",
             f"  exit status: {result.status}",
             f"  problem:     {verdict.problem}"]
    if verdict.detail:
        expected, _, actual = verdict.detail.partition("\nactual output:\n")
        if actual:
            want = [line.strip() for line in expected.splitlines()[1:]]
            have = [line.strip() for line in actual.splitlines()]
            lines.append("  expected vs actual output:")
            lines += [f"    {d}" for d in difflib.unified_diff(want, have, "expected", "actual", lineterm="", n=2)]
        else:
            lines += [f"  {line}" for line in verdict.detail.splitlines()]
    elif result.output.strip():
        lines.append("  output:")
        lines += [f"    {line}" for line in result.output.rstrip().splitlines()[-15:]]
    hint = hints.for_failure(outcome, mode)
    if hint:
        lines.append(f"  hint:        {hint}")
    return "\n".join(lines) + "\n"


def to_json(report: RunReport) -> str:
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
            "changes": list(r.changes),
        } for r in report.results],
    }, indent=2) + "\n"


def to_junit(report: RunReport) -> bytes:
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
