"""A lesson's goals: what a working lab must show, and the grading of a lab against them.

The goals of a lesson (up to a step) are derived from its steps' checks unless the lesson file states them in
`[[goals]]` tables:
- the state checks of the steps, in order; a later check of the same object (kind, name, namespace, and for
  a link the address it names) adds to or overrides the earlier one, so what is left is the state at the end.
  An interface checked here and later in a namespace has moved: its check here is dropped. Checks of what
  traffic leaves behind (neighbour and fdb entries, conntrack, counters) are not goals;
- every ping, request or name lookup that is expected to succeed: it must still succeed.

Grading runs commands through a function given by the caller: the lab's shell for a challenge, a plain bash
for `netlessons check` inside a lab shell. The same code grades both.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from netlessons import checks
from netlessons.checks import reader
from netlessons.lesson import RenderedLesson, Step
from netlessons.results import CommandResult

# Check kinds that describe what traffic left behind, not how the lab is built: they are not goals.
TRACES = ("neighbour", "fdb", "conntrack", "counter")
REACH_TOOLS = ("ping", "curl")
# A step that only looks a name up (dns.lookup): the lookup must still succeed.
LOOKUP = re.compile(r"^(?:ip netns exec (\S+) )?(env RES_OPTIONS=use-vc )?(?:timeout \d+ )?getent hosts (\S+)$")

Run = Callable[[str], CommandResult]
QUICK_FAILURE = 1.5  # seconds: a goal's command that failed sooner than this is tried once more


@dataclass(frozen=True)
class Goal:
    name: str  # in words, as it reads when met: "veth2 is in ns2, UP", "ns1 can reach 10.0.0.2"
    state: tuple[dict[str, Any], ...] = ()
    command: str = ""  # a command that must exit 0
    failed_words: str = ""  # how a failed command goal reads: "ns1 cannot reach 10.0.0.2"


@dataclass(frozen=True)
class GoalVerdict:
    goal: Goal
    passed: bool
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"goal": self.goal.name, "passed": self.passed, "problem": self.problem}


def _key(check: dict[str, Any]) -> tuple:
    kind = checks.kind_of(check)
    address = check.get("address", "") if kind.name == "link" else ""
    return kind.name, str(check[kind.name]), check.get("in", ""), address


def _reach_words(step: Step) -> tuple[str, str]:
    """("ns1 can reach 10.0.0.2", "ns1 cannot reach 10.0.0.2") for a ping or a request; ("pod1 resolves web",
    "pod1 cannot resolve web") for a lookup."""
    lookup = LOOKUP.match(step.command.strip())
    if lookup:
        where, tcp, name = lookup.groups()
        who, how = (where.strip("'") if where else "the lab's shell"), " over TCP" if tcp else ""
        return f"{who} resolves {name.strip(chr(39))}{how}", f"{who} cannot resolve {name.strip(chr(39))}{how}"
    match = re.match(r"^(?:ip netns exec (\S+) )?(ping|curl)\b.* (\S+)$", step.command.strip())
    if not match:
        return step.title, f"failed: {step.title}"
    where, tool, target = match.groups()
    who = where.strip("'") if where else "the lab's shell"
    target = target.strip("'")
    if tool == "curl":
        return f"{who} gets an answer from {target}", f"{who} gets no answer from {target}"
    return f"{who} can reach {target}", f"{who} cannot reach {target}"


_REACH = re.compile(rf"^(?:ip netns exec \S+ )?(?:{'|'.join(REACH_TOOLS)})\b")
_SHELL_PLUMBING = re.compile(r"[;&|\n`]|\$\(")
# The same request repeated, its answers counted: the lab's shell runs with pipefail, so the last request decides.
_REPEATED = re.compile(r"^for _ in \$\(seq \d+\); do (?:ip netns exec \S+ )?curl [^;&|`]*; done(?: \| [^;&`]*)?$")


def _one_reach(command: str) -> bool:
    """Whether a command is one ping, request or lookup (or one request repeated) and nothing else. `|| true`,
    or a counter read around a ping, says something else (a failure shown on purpose, a count) and exits 0
    either way: no goal to grade."""
    command = command.strip()
    if "||" in command:
        return False
    if _REPEATED.match(command):
        return True
    if _SHELL_PLUMBING.search(command):
        return False
    return bool(LOOKUP.match(command) or _REACH.match(command))


def derive(steps: Iterable[Step], stated: frozenset[str] = frozenset()) -> list[Goal]:
    """The goals of these steps (see the module's text). The requests of the lessons in `stated` are left out:
    those lessons say their own goals."""
    state: dict[tuple, dict[str, Any]] = {}
    reach: dict[str, Goal] = {}
    for step in steps:
        for check in step.expect.state:
            kind = checks.kind_of(check).name
            if kind in TRACES:
                continue
            key = _key(check)
            if kind == "link" and check.get("in"):  # moved into a namespace: its state here is past
                for old in [k for k in state if k[0] == "link" and k[1] == key[1] and not k[2]]:
                    del state[old]
            earlier = state.pop(key, {})
            if check.get("absent") or earlier.get("absent"):
                state[key] = dict(check)
            else:
                state[key] = {**earlier, **{k: v for k, v in check.items() if v != ""}}
        if step.expect.status == 0 and step.lesson not in stated and _one_reach(step.command):
            name, failed = _reach_words(step)
            reach.setdefault(name, Goal(name, command=step.command, failed_words=failed))
    kept = list(state.values())
    kept = [c for c in kept if not any(c is not o and c.items() <= o.items() for o in kept)]  # says nothing more
    goals = [Goal(checks.describe(check), state=(check,)) for check in kept]
    return goals + list(reach.values())


def render_command(rendered: RenderedLesson, source: str, where: str) -> str:
    """A command template of the lesson file (a goal's, a fault's), rendered with the lesson's values and quoted
    as its steps are."""
    from netlessons.render import _template_call, metered_render, renderer_for, template_folders

    renderer = renderer_for(rendered.flavor, template_folders(rendered.lesson))
    values = {**rendered.values, **rendered.lesson.constants}
    with metered_render():
        return _template_call(lambda: renderer.command(source, values)[0], where)


def render_text(rendered: RenderedLesson, source: str, where: str) -> str:
    from netlessons.render import _template_call, metered_render, renderer_for, template_folders

    renderer = renderer_for(rendered.flavor, template_folders(rendered.lesson))
    values = {**rendered.values, **rendered.lesson.constants}
    with metered_render():
        return _template_call(lambda: renderer.text(source, values), where)


def declared(rendered: RenderedLesson) -> list[Goal]:
    """The lesson's own `[[goals]]`, rendered."""
    goals = []
    for index, spec in enumerate(rendered.lesson.goals):
        where = f"goals[{index}]"
        title = render_text(rendered, spec.title, f"{where}.title")
        state = tuple({k: render_text(rendered, v, f"{where}.state") if isinstance(v, str) else v
                       for k, v in check.items()} for check in spec.state)
        command = render_command(rendered, spec.run, f"{where}.run") if spec.run.strip() else ""
        goals.append(Goal(title, state=state, command=command, failed_words=f"not yet: {title}"))
    return goals


def goals_of(rendered: RenderedLesson, count: int | None = None) -> list[Goal]:
    """The goals of the lab after the first `count` steps (default: all): the lesson's `[[goals]]` for the
    whole lesson when it has them, else derived from the steps."""
    count = len(rendered.steps) if count is None else count
    if rendered.lesson.goals and count == len(rendered.steps):
        return declared(rendered)
    steps = rendered.steps[:count]
    # A prerequisite that states its goals, built whole: its goals for what its requests showed. A request that
    # held halfway through it (pod1 calls a Service before pod1 is behind it) need not hold at its end.
    built = {step.lesson for step in steps} - {step.lesson for step in rendered.steps[count:]}
    stated = [p for p in rendered.prerequisites if p.goals and p.id in built]
    reach = [goal for p in stated for goal in declared(replace(rendered, lesson=p)) if goal.command]
    return derive(steps, frozenset(p.id for p in stated)) + reach


def _read_state(run: Run, state: list[dict[str, Any]]) -> list[checks.Verdict]:
    queries = checks.queries(state)
    answer = run(reader.command(queries))
    answers = reader.parse(queries, answer.stdout, answer.stderr)
    return [checks.judge(check, answers) for check in state]


def grade(goals: list[Goal], run: Run, settle: float = 1.0) -> list[GoalVerdict]:
    """Judge the lab against each goal: state checks all in one reading (again for up to `settle` seconds while
    some fail: a change just made may land a moment later), then each command."""
    state = [check for goal in goals for check in goal.state]
    verdicts = _read_state(run, state) if state else []
    deadline = time.monotonic() + settle
    while verdicts and not all(v.passed for v in verdicts) and time.monotonic() < deadline:
        time.sleep(0.1)
        verdicts = _read_state(run, state)
    timed = _run_all([goal.command for goal in goals if goal.command], run)
    # Once more for those that failed at once: a ping just after a fix can fail at once on what an earlier failure
    # left in the neighbour table (an address that did not answer ARP a moment ago: "Destination Host
    # Unreachable"). One that failed by waiting out its time limit would only wait again.
    again = [c for c, (status, _, seconds) in timed.items() if status != 0 and seconds < QUICK_FAILURE]
    timed.update(_run_all(again, run))
    commands = {c: (status, output) for c, (status, output, _) in timed.items()}
    by_check = iter(verdicts)
    results = []
    for goal in goals:
        problems = [v.problem for v in (next(by_check) for _ in goal.state) if not v.passed]
        if goal.command:
            status, output = commands[goal.command]
            if status != 0 and not problems:
                last = (output.strip().splitlines() or [f"exit status {status}"])[-1]
                problems.append(f"{goal.failed_words or goal.name} ({last.strip()})")
        results.append(GoalVerdict(goal, not problems, "; ".join(problems)))
    return results


def _run_all(commands: list[str], run: Run) -> dict[str, tuple[int, str, float]]:
    """Each command's exit status, output and seconds taken, all run at once in one command (a ping that gets
    no answer waits seconds; the goals' pings need not wait one after the other)."""
    commands = list(dict.fromkeys(commands))
    if not commands:
        return {}
    salt = "NLGOAL" + os.urandom(6).hex()
    lines = ['d=$(mktemp -d) || exit 97']
    for index, command in enumerate(commands):
        lines.append(f'{{ s=${{EPOCHREALTIME/[.,]/}}; {{ {command}\n}} >"$d/{index}" 2>&1 </dev/null; r=$?; '
                     f'echo $(( ${{EPOCHREALTIME/[.,]/}} - s )) >"$d/{index}.t"; exit $r; }} & p{index}=$!')
    for index in range(len(commands)):
        lines.append(f'wait $p{index}; printf "%s %d %d %s\\n" {salt} {index} $? "$(cat "$d/{index}.t" 2>/dev/null)"; '
                     f'cat "$d/{index}"')
    lines.append('rm -rf "$d"')
    answer = run("\n".join(lines))
    found: dict[str, tuple[int, str, float]] = {c: (answer.status or 1, answer.output, 0.0) for c in commands}
    for part in answer.stdout.split(salt + " ")[1:]:
        head, _, output = part.partition("\n")
        index, status, *took = head.split()
        micro = int(took[0]) if took and took[0].isdigit() else 0  # unknown: counted as quick
        found[commands[int(index)]] = (int(status), output, micro / 1e6)
    return found


def local_run(command: str) -> CommandResult:
    """Run a command here, as the lab's shell would (for `netlessons check` inside a lab shell)."""
    from netlessons.shell import lab_environment

    start = time.perf_counter()
    try:
        done = subprocess.run(["bash", "--noprofile", "--norc", "-c", "set -o pipefail\n" + command],
                              capture_output=True, text=True, env=lab_environment(), stdin=subprocess.DEVNULL,
                              timeout=60)
        return CommandResult(command, done.returncode, done.stdout, done.stderr, time.perf_counter() - start)
    except subprocess.TimeoutExpired:
        return CommandResult(command, 124, "", "timed out", time.perf_counter() - start, True)


def report_lines(verdicts: list[GoalVerdict], reveal: bool = True) -> list[str]:
    """One line per goal: met, or what is missing. Not `reveal`ing (a challenge under way), a failed goal about
    the lab's state would say the answer: those are only counted; what fails to reach what is said."""
    lines = []
    for v in verdicts:
        if v.passed:
            lines.append(f"  ok    {v.goal.name}")
        elif reveal or v.goal.command:
            lines.append(f"  FAIL  {v.problem if reveal else v.goal.failed_words or v.goal.name}")
    hidden = sum(not v.passed and not v.goal.command for v in verdicts) if not reveal else 0
    if hidden:
        lines.append(f"  FAIL  {hidden} goal{'s' if hidden > 1 else ''} about the lab's state (not said during a "
                     "challenge: that would give the answer away; `netlessons hint` helps)")
    return lines
