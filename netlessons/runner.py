"""Runs a rendered lesson step by step in a lab shell and checks every step.

The lab is a throwaway sandbox by default; with `host=True` it is this machine's own network, guarded by a
preflight (nothing the lesson creates may exist yet) and the ownership ledger.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Protocol

from netlessons import checks, sandbox
from netlessons.errors import EnvironmentProblem, HostClash, SandboxDied
from netlessons.ledger import Ledger, clean_up
from netlessons.lesson import Step
from netlessons.render import RenderedLesson
from netlessons.shell import CommandResult, LabShell, lab_environment

TOOL_PACKAGES = {
    "ip": "iproute2", "bridge": "iproute2", "ss": "iproute2", "brctl": "bridge-utils", "ping": "iputils-ping",
    "sysctl": "procps", "nft": "nftables", "iptables": "iptables", "unshare": "util-linux", "curl": "curl",
    "python3": "python3", "dnsmasq": "dnsmasq-base", "/usr/lib/cni/": "containernetworking-plugins",
}


def package_for(tool: str) -> str:
    """The Debian package that provides a tool (a program name, or the path of a plugin)."""
    if tool.startswith("/"):
        return next((pkg for prefix, pkg in TOOL_PACKAGES.items() if tool.startswith(prefix)), tool)
    return TOOL_PACKAGES.get(tool, tool)


def tool_present(tool: str, path: str) -> bool:
    if tool.startswith("/"):
        return os.access(tool, os.X_OK)
    return shutil.which(tool, path=path) is not None


@dataclass(frozen=True)
class StepResult:
    step: Step
    result: CommandResult
    verdict: checks.Verdict
    checked: tuple[str, ...] = ()  # the state checks, in words

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


class Listener(Protocol):
    def started(self, rendered: RenderedLesson, mode: str) -> None: ...
    def step_done(self, index: int, total: int, outcome: StepResult) -> None: ...


def check_tools(tools: list[str], flavor: str = "") -> None:
    path = lab_environment()["PATH"]
    missing = [t for t in tools if not tool_present(t, path)]
    if missing:
        packages = sorted({package_for(t) for t in missing})
        hint = "or run this lesson with --flavor iproute2" if "brctl" in missing and flavor == "brctl" else ""
        raise EnvironmentProblem(f"missing tools: {', '.join(missing)}. Install: apt-get install {' '.join(packages)}",
                                 hint=hint)


def _poll_state(shell: LabShell, check: dict, wait: float) -> checks.Verdict:
    """Ask the kernel until the check passes or `wait` seconds are over: some changes land asynchronously."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        answer = shell.run(checks.state_query(check), timeout=10)
        verdict = checks.state_verdict(check, answer.status, answer.stdout, answer.stderr)
        if verdict.passed or time.monotonic() >= deadline:
            return verdict
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def run_step(shell: LabShell, step: Step) -> StepResult:
    result = shell.run(step.command, timeout=step.timeout)
    described = tuple(checks.describe(c) for c in step.expect.state)
    if result.timed_out:
        return StepResult(step, result, checks.Verdict(False, f"did not finish within {step.timeout:g} s"), described)
    verdict = checks.status_verdict(step.expect, result.status)
    if verdict.passed:
        verdict = checks.output_verdict(step.expect.output, result.output)
    for check in step.expect.state if verdict.passed else ():
        verdict = _poll_state(shell, check, step.expect.wait)
        if not verdict.passed:
            break
    return StepResult(step, result, verdict, described)


def start_sandbox() -> LabShell:
    try:
        return LabShell(sandbox.sandbox_command(), sandbox.SETUP)
    except SandboxDied as e:
        raise sandbox.explain_start_failure(e.status, e.stderr or e.message) from None


def preflight_host(shell: LabShell, rendered: RenderedLesson) -> None:
    """Refuse, changing nothing, when any object the lesson creates exists already or another run owns it."""
    links = {item["ifname"] for item in json.loads(shell.run("ip -j link show").stdout or "[]")}
    namespaces = {item["name"] for item in json.loads(shell.run("ip -j netns list").stdout.strip() or "[]")}
    claimed = {(o.kind, o.name): ledger.path.name for ledger in Ledger.all() for o in ledger.objects()}
    clashes = []
    for owned in rendered.owned:
        if owned.kind == "netns" and owned.name in namespaces:
            clashes.append(f"namespace {owned.name} exists already")
        elif owned.kind == "link" and not owned.netns and owned.name in links:
            clashes.append(f"link {owned.name} exists already")
        elif (owned.kind, owned.name) in claimed:
            clashes.append(f"{owned.kind} {owned.name} belongs to another netlessons run "
                           f"(ledger {claimed[(owned.kind, owned.name)]})")
    if clashes:
        raise HostClash("refusing to run in host mode; nothing was changed:\n  " + "\n  ".join(clashes),
                        hint="remove or rename those objects, pick other names with --set, or leave out --host "
                             "to use the sandbox")


class Runner:
    def __init__(self, rendered: RenderedLesson, *, host: bool = False, keep: bool = False,
                 listener: Listener | None = None) -> None:
        self.rendered = rendered
        self.host = host
        self.keep = keep
        self.listener = listener
        self.steps = list(rendered.steps) + list(rendered.cleanup if not keep else ())

    def run(self) -> RunReport:
        report = RunReport(self.rendered.lesson.id, "host" if self.host else "sandbox", self.rendered.flavor,
                           total=len(self.steps))
        check_tools(self.rendered.needs, self.rendered.flavor)
        if self.host and not sandbox.is_root():
            raise EnvironmentProblem("--host changes this machine's own network and needs root",
                                     hint="run it with sudo, or leave out --host to use the sandbox (no root needed)")
        start = time.perf_counter()
        shell = LabShell([]) if self.host else start_sandbox()
        ledger: Ledger | None = None
        try:
            if self.host:
                preflight_host(shell, self.rendered)
                ledger = Ledger.create(self.rendered.lesson.id)
                report.ledger = str(ledger.path)
            if self.listener:
                self.listener.started(self.rendered, report.mode)
            for index, step in enumerate(self.steps, 1):
                if ledger:
                    ledger.record(step.creates)
                outcome = run_step(shell, step)
                report.results.append(outcome)
                if self.listener:
                    self.listener.step_done(index, len(self.steps), outcome)
                if not outcome.passed:
                    break
        except KeyboardInterrupt:
            report.interrupted = True
            shell.kill()  # stop the command that was running; clean-up gets a fresh shell
        finally:
            report.duration = time.perf_counter() - start
            if ledger and self.keep and not report.interrupted:
                report.kept = True
            elif ledger:
                if not shell.alive():
                    shell = LabShell([])
                report.cleaned = clean_up(ledger, lambda command: shell.run(command, timeout=10))
            shell.close()
        return report


def cleanup_all() -> list[tuple[str, list[str]]]:
    """`netlessons cleanup`: finish every ledger left by a kept, killed or interrupted host-mode run."""
    ledgers = Ledger.all()
    if not ledgers:
        return []
    if not sandbox.is_root():
        raise EnvironmentProblem("cleaning up a host-mode run needs root", hint="run it with sudo")
    done = []
    with LabShell([]) as shell:
        for ledger in ledgers:
            done.append((ledger.path.name, clean_up(ledger, lambda command: shell.run(command, timeout=10))))
    return done
