"""Runs a rendered lesson step by step in a lab shell and checks every step.

The lab is a throwaway sandbox by default; with `host=True` it is this machine's own network, guarded by a
preflight (nothing the lesson creates may exist yet) and the ownership ledger.

Every command that runs steps (run, walk, shell, diagram, export) goes through one loop, `Lab.play`, and
says how with a `Policy`: stop at the first failure or go on, say what each step changed or not, announce
each step (a progress line) or not. Ctrl-C always stops what runs now and goes on to the caller.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from netlessons import capture, checks, sandbox
from netlessons.checks import reader
from netlessons.errors import EnvironmentProblem, SandboxDied
from netlessons.ledger import Ledger, clean_up, identity_probes, take_proofs, with_probes
from netlessons.lesson import RenderedLesson, Step
from netlessons.results import CommandResult, RunReport, StepResult
from netlessons.shell import LabShell, lab_environment
from netlessons.tools import check_tools


class Listener(Protocol):
    def started(self, rendered: RenderedLesson, mode: str) -> None: ...
    def step_done(self, index: int, total: int, outcome: StepResult) -> None: ...


@dataclass(frozen=True)
class Policy:
    """How `Lab.play` goes through its steps."""

    stop_at_failure: bool = True  # a failed step is the last one played (its result still comes out)
    changes: bool = False  # each result says what its step changed (the lab starts watching, if not yet)
    announce: Callable[[int, Step], None] | None = None  # before each step, with its place in the play (from 1)


UNTIL_FAILURE = Policy()
EVERY_STEP = Policy(stop_at_failure=False)
WATCHED = Policy(stop_at_failure=False, changes=True)


def _read_before(shell: LabShell, state: tuple[dict, ...]) -> checks.Answers:
    """What the checks compare with (a counter's value), read in one command before the step's command runs."""
    queries = checks.before(state)
    if not queries:
        return {}
    answer = shell.run(reader.command(queries), timeout=10)
    answers = reader.parse(queries, answer.stdout, answer.stderr)
    return {query: answers[query] for query in queries}


POLL_FIRST, POLL_MAX = 0.005, 0.1  # seconds between two readings of a step's state: the first pause, the longest


def _poll_state(shell: LabShell, state: tuple[dict, ...], wait: float,
                before: checks.Answers | None = None) -> checks.Verdict:
    """Ask the kernel until every check has passed or `wait` seconds are over: some changes land asynchronously
    (a deleted namespace's veth peers go some milliseconds later). Each round reads, in one command, only the
    tables the checks still waiting need, each table once. The pauses start short (most changes land within
    milliseconds) and grow to at most POLL_MAX: a slow change (the kernel keeps a namespace until ARP gives up on
    an unanswered request, about 2 s) then costs a few rounds, not hundreds of `ip` processes. `before` holds
    what was read before the step's command."""
    deadline = time.monotonic() + wait
    pending = list(state)
    pause = POLL_FIRST
    while True:
        queries = checks.queries(pending)
        answer = shell.run(reader.command(queries), timeout=10)
        answers = {**reader.parse(queries, answer.stdout, answer.stderr), **(before or {})}
        verdicts = [checks.judge(check, answers) for check in pending]
        failed = [verdict for verdict in verdicts if not verdict.passed]
        if not failed or time.monotonic() >= deadline:
            return failed[0] if failed else checks.PASS
        pending = [check for check, verdict in zip(pending, verdicts, strict=True) if not verdict.passed]
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 1.5, POLL_MAX)


def neighbour_table_overflows() -> int:
    """How often the kernel found its neighbour (ARP) table full: one table for every namespace on the
    machine, so many labs at once can fill it (gc_thresh3)."""
    try:
        rows = Path("/proc/net/stat/arp_cache").read_text().split("\n")
        column = rows[0].split().index("table_fulls")
        return sum(int(row.split()[column], 16) for row in rows[1:] if row.strip())
    except (OSError, ValueError, IndexError):
        return 0


def run_step(shell: LabShell, step: Step, command: str = "",
             received: Callable[[CommandResult], CommandResult] | None = None) -> StepResult:
    """Run a step and check it. Host mode runs `command` (the step's command between its identity probes)
    and takes the probes' records out of the result with `received` before anything is checked."""
    overflows = neighbour_table_overflows()
    before = _read_before(shell, step.expect.state)
    result = shell.run(command or step.command, timeout=step.timeout)
    result = replace(result, command=step.command)
    if received:
        result = received(result)
    described = tuple(checks.describe(c) for c in step.expect.state)
    if result.timed_out:
        return StepResult(step, result, checks.Verdict(False, f"did not finish within {step.timeout:g} s"), described)
    verdict = checks.status_verdict(step.expect, result.status)
    if verdict.passed:
        verdict = checks.output_verdict(step.expect.output, result.output)
    if verdict.passed and step.expect.state:
        verdict = _poll_state(shell, step.expect.state, step.expect.wait, before)
    if not verdict.passed and neighbour_table_overflows() > overflows:
        verdict = replace(verdict, problem=verdict.problem + "; meanwhile the kernel's neighbour table overflowed "
                          "(it is shared by every namespace on this machine: too many labs at once, see "
                          "`netlessons doctor`)")
    return StepResult(step, result, verdict, described)


# The lab's own folder for the files a lesson writes (server logs, pid files, a plugin's data): "$LAB".
SANDBOX_LAB = "LAB=$(mktemp -d /tmp/lab.XXXXXX) && export LAB || exit 97\n"


def start_sandbox() -> LabShell:
    try:
        return LabShell(sandbox.sandbox_command(), sandbox.setup_script() + SANDBOX_LAB)
    except SandboxDied as e:
        raise sandbox.explain_start_failure(e.status, e.stderr or e.message) from None


class Lab:
    """The lab's shell, in the sandbox or (with preflight and ledger) on this machine, ready to run steps."""

    def __init__(self, rendered: RenderedLesson, *, host: bool = False) -> None:
        self.rendered = rendered
        self.host = host
        self.ledger: Ledger | None = None
        check_tools(rendered.needs, rendered.flavor)
        if host and not sandbox.is_root():
            raise EnvironmentProblem("--host changes this machine's own network and needs root",
                                     hint="run it with sudo, or leave out --host to use the sandbox (no root needed)")
        self.shell = LabShell([]) if host else start_sandbox()
        if host:
            from netlessons.host import open_ledger

            try:
                self.ledger = open_ledger(self.shell, rendered)
            except BaseException:
                self.shell.close()
                raise
        self.own_namespaces = {o.name for o in rendered.owned if o.kind == "netns"}
        self.observer: Observer | None = None

    @property
    def mode(self) -> str:
        return "host" if self.host else "sandbox"

    def run(self, command: str) -> CommandResult:
        """A command that is not a step, e.g. a state snapshot."""
        return self.shell.run(command, timeout=10)

    def step(self, step: Step) -> StepResult:
        """Run a step and check it, with its packet capture (if it has one) watching from before the command
        until after the checks; in host mode each capture process is in the ledger from the moment it starts."""
        records = [identity_probes([agent], set(), self.ledger.path)[1] for agent in step.capture_processes
                   ] if self.ledger else []
        recording = capture.Recording(self.shell, step, records)
        recording.start()
        return recording.finish(self._step(step))

    def _step(self, step: Step) -> StepResult:
        if not self.ledger:
            return run_step(self.shell, step)
        before, after = identity_probes(step.creates, self.own_namespaces, self.ledger.path)
        failed = False

        def received(result: CommandResult) -> CommandResult:
            nonlocal failed
            stdout, proofs, failed = take_proofs(result.stdout)
            self.ledger.proofs += proofs
            return replace(result, stdout=stdout)

        outcome = run_step(self.shell, step, with_probes(step.command, before, after), received)
        if failed:
            raise EnvironmentProblem(f"cannot write the ownership ledger {self.ledger.path}: No space left on device "
                                     "or another write error; stopping here, and removing what this run made")
        return outcome

    def watch(self) -> Observer:
        """From now on, results can say what their step changed: the lab as it is now is the first snapshot."""
        if self.observer is None:
            self.observer = Observer(self)
        return self.observer

    def play(self, steps: Iterable[Step], policy: Policy = UNTIL_FAILURE) -> Iterator[StepResult]:
        """The one step loop: run steps in order as the policy says, handing out each result as soon as its
        step is done (so a caller keeps what ran before an interrupt). On Ctrl-C the command running now is
        stopped, and the KeyboardInterrupt goes on to the caller."""
        if policy.changes:
            self.watch()
        try:
            for place, step in enumerate(steps, 1):
                if policy.announce:
                    policy.announce(place, step)
                outcome = self.step(step)
                if policy.changes:
                    outcome = self.watch().after(outcome)
                yield outcome
                if policy.stop_at_failure and not outcome.passed:
                    return
        except KeyboardInterrupt:
            self.interrupt()
            raise

    def build(self, steps: list[Step]) -> StepResult | None:
        """Run steps until one fails; that one's result, or None when all passed."""
        return next((outcome for outcome in self.play(steps) if not outcome.passed), None)

    def open_shell(self) -> int:
        """Hand the learner an interactive shell in the lab; the prompt names the lesson."""
        lab = self.run('printf %s "$LAB"').stdout  # the lab's own folder, for the learner too
        env = {"LAB": lab} if lab else {}
        if lab:  # and `netlessons` (for `netlessons watch`), whether or not it is installed on PATH
            folder = self.run(capture.command_on_path()).stdout
            env["PATH"] = os.pathsep.join([folder, lab_environment()["PATH"]]) if folder else lab_environment()["PATH"]
        return self.shell.interactive(f"[netlessons {self.rendered.lesson.id}] \\w# ", enter=not self.host,
                                      extra_env=env or None)

    def interrupt(self) -> None:
        """Stop whatever runs now; a later close() cleans up with a fresh shell."""
        self.shell.kill()

    def close(self, keep: bool = False) -> list[str]:
        """End the lab. In host mode remove the ledger's objects, unless the lab is to be kept."""
        cleaned: list[str] = []
        if self.ledger and not keep:
            if not self.shell.alive():
                self.shell = LabShell([])
            cleaned = clean_up(self.ledger, self.run)
        self.shell.close()
        return cleaned


class Runner:
    def __init__(self, rendered: RenderedLesson, *, host: bool = False, keep: bool = False,
                 listener: Listener | None = None, changes: bool = False) -> None:
        self.rendered = rendered
        self.host = host
        self.keep = keep
        self.listener = listener
        self.changes = changes
        self.steps = list(rendered.steps) + list(rendered.cleanup if not keep else ())

    def run(self) -> RunReport:
        lab = Lab(self.rendered, host=self.host)
        report = RunReport(self.rendered.lesson.id, lab.mode, self.rendered.flavor, total=len(self.steps),
                           ledger=str(lab.ledger.path) if lab.ledger else "")
        start = time.perf_counter()
        try:
            if self.listener:
                self.listener.started(self.rendered, report.mode)
            policy = Policy(changes=self.changes)
            for index, outcome in enumerate(lab.play(self.steps, policy), 1):
                report.results.append(outcome)
                if self.listener:
                    self.listener.step_done(index, len(self.steps), outcome)
        except KeyboardInterrupt:
            report.interrupted = True
            lab.interrupt()
        finally:
            report.duration = time.perf_counter() - start
            keep = self.keep and not report.interrupted
            report.kept = keep and lab.ledger is not None
            report.cleaned = lab.close(keep=keep)
        return report


class Observer:
    """Takes a snapshot of the lab after each step and says, in words, what the step changed.

    Some changes land after the command returns (a deleted namespace's interfaces and their veth peers go
    a moment later), so a snapshot counts only once it has settled, within a bounded wait."""

    SETTLE = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)

    def __init__(self, lab: Lab) -> None:
        from netlessons import state

        self.state = state
        self.lab = lab
        self.last = state.snapshot(lab.run)

    def _settled(self):
        """Snapshots until two in a row agree and no veth has newly lost its other end (a namespace being
        torn down), within about a second."""
        known = set(self.last.loose_ends())
        now = self.state.snapshot(self.lab.run)
        for pause in self.SETTLE:
            time.sleep(pause)
            again = self.state.snapshot(self.lab.run)
            if again == now and set(again.loose_ends()) <= known:
                break
            now = again
        return now

    def after(self, outcome: StepResult) -> StepResult:
        now = self._settled()
        changes = tuple(self.state.diff(self.last, now))
        self.last = now
        return replace(outcome, changes=changes)
