"""Plain data of a lesson, before and after rendering. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from netlessons.errors import ParameterError

# The names templates see besides a lesson's own: the macro families of templates/ and the helpers. A
# parameter, constant or loop variable of one of these names would hide it in every template of the lesson.
FAMILIES = ("netns", "link", "veth", "bridge", "addr", "route", "ping", "sysctl", "process", "nft", "iptables",
            "vxlan", "neigh", "cni", "http", "files", "dns", "macvlan", "ipvlan", "vlan", "dummy")
HELPERS = ("host", "network", "flavor", "creates", "needs", "in_ns", "stdin_json", "lab", "range", "dict",
           "cycler", "joiner", "namespace", "loop", "self", "caller", "varargs", "kwargs", "true", "false", "none")


def reserved_name(name: str) -> str:
    """What a lesson's own name would hide, in words ("the macro family bridge"); "" when nothing."""
    if name in FAMILIES:
        return f"the macro family {name!r} (templates/{name}.j2)"
    if name in HELPERS:
        return f"the template helper {name!r}"
    return ""


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
class Capture:
    """Packets to watch during a step: on which interfaces, in which namespace ("" = where the lab's shell lives),
    which ones (a tcpdump filter), and how to decode them (`link`: with link-layer headers, as tcpdump -e;
    `decode`: "vxlan" for VXLAN on a port tcpdump does not know, as tcpdump -T vxlan)."""

    on: tuple[str, ...]
    netns: str = ""
    filter: str = ""
    link: bool = False
    decode: str = ""
    count: int = 100  # at most this many packets per interface


@dataclass(frozen=True)
class Expectation:
    """What a step must show. `status` is an exit code, or "failure" for any non-zero code."""

    status: int | str = 0
    output: tuple[str, ...] = ()
    state: tuple[dict[str, Any], ...] = ()
    wait: float = 3.0
    every_round: bool = True  # with foreach: check the state after every round, or only after the last
    capture: tuple[str, ...] = ()  # lines of the step's capture, in order, matched like output lines


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
    when: str = ""  # a template expression: the step (or a round of its loop) is left out where it is false
    capture: tuple[Capture, ...] = ()  # its texts are still templates


@dataclass(frozen=True)
class GoalSpec:
    """A `[[goals]]` table: what a working lab must show, in the lesson's words. `state` holds state checks
    (as in `expect.state`), `run` a command that must succeed (a ping, a request); both are templates."""

    title: str
    run: str = ""
    state: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class FaultSpec:
    """A `[[faults]]` table: a way to break the finished lab for a challenge. `inject` and `fix` are commands
    (templates, quoted as steps are); `breaks` names the goal the symptom is about, as the goal says itself."""

    name: str
    symptom: str
    inject: str
    fix: str
    difficulty: str = "medium"
    hints: tuple[str, ...] = ()
    breaks: str = ""


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
    recap: str = ""  # the packet's walk through what was built, and the one idea to keep
    sources: tuple[str, ...] = ()  # the primary sources the lesson's claims rest on
    constants: dict[str, Any] = field(default_factory=dict, hash=False)  # [constants]: fixed values the templates see
    handout_shows: tuple[str, ...] = ()  # [handout] show = ["macs", "times"]: what its handouts leave unmasked
    goals: tuple[GoalSpec, ...] = ()  # [[goals]]: replace the goals derived from the steps' checks
    faults: tuple[FaultSpec, ...] = ()  # [[faults]]: ways to break the lab for `netlessons challenge`


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
    capture: tuple[Capture, ...] = ()

    @property
    def capture_processes(self) -> list[Owned]:
        """The processes that capture packets during this step, one per interface watched, as host mode claims
        and records them."""
        count = sum(len(capture.on) for capture in self.capture)
        return [Owned("process", f"capture-{self.id}-{index}") for index in range(count)]


@dataclass(frozen=True)
class NumberedStep:
    """One step as the learner counts it: its number and its commands (several for a loop, one per round)."""

    number: int
    commands: tuple[Step, ...]
    phase: str = "steps"

    @property
    def first(self) -> Step:
        return self.commands[0]


@dataclass(frozen=True)
class RenderedLesson:
    lesson: Lesson
    flavor: str
    values: dict[str, Any]
    parameters: tuple[Parameter, ...]
    prerequisites: tuple[Lesson, ...]
    steps: tuple[Step, ...]  # the prerequisites' steps first, then the lesson's own
    cleanup: tuple[Step, ...]
    recap: str = ""  # the lesson's recap, rendered with its values

    @property
    def needs(self) -> list[str]:
        tools: list[str] = []
        for step in self.steps + self.cleanup:
            # A capture decodes with tcpdump and reads the wire with the lab's python3 (see capture.py).
            wanted = [*step.needs, *(("tcpdump", "python3") if step.capture else ())]
            tools += [t for t in wanted if t not in tools]
        return tools

    # --- One numbering of steps, used by every command -----------------------------------------------------
    #
    # A teacher can say a step's number out loud and every command agrees on it:
    # - the lesson's own steps are numbered 1..n in the order of the lesson file, the clean-up continues after
    #   them (n+1, ...). The number belongs to the step as written (its StepSpec), so it does not move when a
    #   --set value changes how many rounds a loop has; a step left out (by `when`) has none;
    # - a step with `foreach` has one command per round, numbered 12.1, 12.2, ...;
    # - the prerequisites' steps are not numbered in this lesson: they build its starting lab and are shown as
    #   one line. Where one must be named (it failed), it is "netns-basics:3", its number in its own lesson.

    def label(self, step: Step) -> str:
        """The number of one rendered step, as list, explain, run, walk, shell --upto, diagram --step and the
        handouts say it: "12", "12.2", or "netns-basics:3" for a prerequisite's step."""
        return self._labels[(step.lesson, step.phase, step.id)]

    @property
    def own_steps(self) -> tuple[Step, ...]:
        """The lesson's own steps, without its prerequisites' and without the clean-up."""
        return tuple(s for s in self.steps if s.lesson == self.lesson.id)

    @property
    def prerequisite_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.lesson != self.lesson.id)

    def numbered(self) -> list[NumberedStep]:
        """The lesson's own steps, then the clean-up, each numbered step with its commands (one per round)."""
        groups: dict[int, list[Step]] = {}
        for step in self.own_steps + self.cleanup:
            groups.setdefault(self._numbers[(step.lesson, step.phase, step.group)][0], []).append(step)
        return [NumberedStep(number, tuple(steps), steps[0].phase) for number, steps in groups.items()]

    @property
    def step_count(self) -> int:
        """How many numbered steps the lesson has, its clean-up included: the "of N" of a run."""
        numbered = self.numbered()
        return numbered[-1].number if numbered else 0

    @cached_property
    def _numbers(self) -> dict[tuple[str, str, str], tuple[int, bool]]:
        """(lesson id, phase, step spec id) → (its number, whether it loops), for this lesson and each
        prerequisite, from the lesson files' order."""
        numbers: dict[tuple[str, str, str], tuple[int, bool]] = {}
        rendered = {(s.lesson, s.phase, s.group) for s in self.steps + self.cleanup}
        for lesson in self.prerequisites + (self.lesson,):
            specs = [("steps", spec) for spec in lesson.steps]
            if lesson is self.lesson:
                specs += [("cleanup", spec) for spec in lesson.cleanup]
            # A step that `when` leaves out (or a loop of no rounds) takes no number: the numbers a learner
            # sees have no gaps.
            specs = [(phase, spec) for phase, spec in specs if (lesson.id, phase, spec.id) in rendered]
            for number, (phase, spec) in enumerate(specs, 1):
                numbers[(lesson.id, phase, spec.id)] = (number, bool(spec.foreach))
        return numbers

    @cached_property
    def _labels(self) -> dict[tuple[str, str, str], str]:
        numbers = self._numbers
        labels: dict[tuple[str, str, str], str] = {}
        rounds: dict[tuple[str, str, str], int] = {}
        for step in self.steps + self.cleanup:
            group = (step.lesson, step.phase, step.group)
            number, loops = numbers[group]
            rounds[group] = rounds.get(group, 0) + 1
            label = f"{number}.{rounds[group]}" if loops else str(number)
            if step.lesson != self.lesson.id:
                label = f"{step.lesson}:{label}"
            labels[(step.lesson, step.phase, step.id)] = label
        return labels

    def upto(self, spec: str) -> int:
        """How many of `steps` to run to reach a step given by its number ("12", "12.2"; "0" is the lab the
        prerequisites build), a prerequisite's step ("netns-basics:3") or an id; a looping step's number or
        id means its last round."""
        spec = spec.strip()
        if spec == "0":
            return len(self.prerequisite_steps)
        labels = [self.label(s) for s in self.steps]
        if spec in labels:
            return labels.index(spec) + 1
        for index in range(len(self.steps) - 1, -1, -1):
            step, label = self.steps[index], labels[index]
            if spec in (step.id, step.group) or label.startswith(spec + "."):
                return index + 1
        numbers = [s.number for s in self.numbered() if s.phase == "steps"]
        if spec.replace(".", "").replace(":", "").isdigit() or ":" in spec:
            last = f"{numbers[0]} to {numbers[-1]}" if numbers else "none"
            raise ParameterError(f"{self.lesson.id} has no step {spec}; its steps are numbered {last} "
                                 "(a looping step's rounds as 12.1, 12.2; 0 is the lab of its prerequisites)")
        ids = ", ".join(dict.fromkeys(s.group for s in self.own_steps))
        raise ParameterError(f"no step {spec!r} in {self.lesson.id}; its steps: {ids}")

    @property
    def owned(self) -> list[Owned]:
        seen: list[Owned] = []
        for step in self.steps:
            seen += [o for o in step.creates + tuple(step.capture_processes) if o not in seen]
        return seen


# The order of the course, as the README's table of lessons lists it. A lesson not named here (one of your
# own) comes after those it builds on, by id.
COURSE = ("netns-basics", "veth-pair", "bridge-3ns", "bridge-n", "bridge-gateway-nat", "cni-bridge-plugin",
          "cni-chaining-portmap", "two-nodes-routed", "vxlan-overlay", "routed-pods", "clusterip-kube-proxy",
          "kube-proxy-nftables", "nodeport-hairpin", "loadbalancer-l2", "dns-service-discovery", "network-policy",
          "dual-stack")


def teaching_order(lessons: list[Lesson], course: tuple[str, ...] = COURSE) -> list[Lesson]:
    """The lessons in the order to teach them: each after its prerequisites; otherwise the course's order,
    then the others by id. A prerequisite that is not among `lessons` does not hold anything back."""
    rank = {lesson_id: index for index, lesson_id in enumerate(course)}
    waiting = sorted(lessons, key=lambda lesson: (rank.get(lesson.id, len(rank)), lesson.id))
    present = {lesson.id for lesson in lessons}
    placed: list[Lesson] = []
    done: set[str] = set()
    while waiting:
        ready = next((lesson for lesson in waiting
                      if all(p in done or p not in present for p in lesson.prerequisites)), waiting[0])
        waiting.remove(ready)
        placed.append(ready)
        done.add(ready.id)
    return placed
