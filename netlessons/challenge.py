"""Break-and-fix challenges: a lesson's faults, picking one, and the record a challenge keeps in its lab.

A lesson's faults are the `[[faults]]` of its file (rendered with its values) and a few generic ones derived
from what its goals say the lab holds: an interface switched off, an address removed, a port unplugged from
its bridge. The learner fixes the lab by hand; grading is the goals' (netlessons.goals).

While the learner's shell is open, the challenge lives in a file of the lab's own folder ("$LAB"), so that
`netlessons check` and `netlessons hint` inside the lab know what is graded and which hint comes next.
"""

from __future__ import annotations

import json
import random
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from netlessons import checks
from netlessons.errors import ParameterError
from netlessons.goals import Goal, GoalVerdict, render_command, render_text
from netlessons.lesson import RenderedLesson

RECORD = ".netlessons-challenge.json"  # in "$LAB"
GENERIC_HINTS = (
    "Start from the symptom: which namespace cannot reach which address? Follow the path a packet would take.",
    "Look at each interface on that path: `ip -br link` and `ip -br addr`, in each namespace with `ip -n NS`.",
)


@dataclass(frozen=True)
class Fault:
    name: str
    difficulty: str
    symptom: str  # "" for a derived fault: the symptom is what the lab shows once it is broken
    inject: str
    fix: str
    hints: tuple[str, ...] = ()
    breaks: str = ""  # the goal the symptom is about, by its name
    derived: bool = False


def declared(rendered: RenderedLesson) -> list[Fault]:
    faults = []
    for index, spec in enumerate(rendered.lesson.faults):
        where = f"faults[{index}] {spec.name!r}"
        faults.append(Fault(
            name=spec.name, difficulty=spec.difficulty,
            symptom=render_text(rendered, spec.symptom, f"{where}.symptom"),
            inject=render_command(rendered, spec.inject, f"{where}.inject"),
            fix=render_command(rendered, spec.fix, f"{where}.fix"),
            hints=tuple(render_text(rendered, hint, f"{where}.hints") for hint in spec.hints),
            breaks=render_text(rendered, spec.breaks, f"{where}.breaks") if spec.breaks else ""))
    return faults


def _ip(check: dict[str, Any]) -> str:
    return f"ip -n {shlex.quote(check['in'])} " if check.get("in") else "ip "


def derived(goals: list[Goal]) -> list[Fault]:
    """Generic faults, one of each sort per interface the goals name (switched off, address removed, unplugged)
    and per route (deleted)."""
    faults: list[Fault] = []
    for goal in goals:
        for check in goal.state:
            if checks.kind_of(check).name == "route" and not check.get("absent") and (check.get("via") or
                                                                                       check.get("dev")):
                faults.append(_route_fault(goal, check))
            if checks.kind_of(check).name != "link" or check.get("absent"):
                continue
            name, ip = check["link"], _ip(check)
            dev = shlex.quote(name)
            where = f" in {check['in']}" if check.get("in") else ""
            hint = f"Have a close look at {name}{where}."
            if check.get("up") is True:
                faults.append(Fault(f"down-{name}", "easy", "", f"{ip}link set dev {dev} down",
                                    f"{ip}link set dev {dev} up", (*GENERIC_HINTS, hint), goal.name, True))
            if check.get("address"):
                address = shlex.quote(str(check["address"]))
                faults.append(Fault(f"no-address-{name}", "easy", "", f"{ip}addr del {address} dev {dev}",
                                    f"{ip}addr add {address} dev {dev}", (*GENERIC_HINTS, hint), goal.name, True))
            if check.get("master"):
                faults.append(Fault(f"unplugged-{name}", "medium", "", f"{ip}link set dev {dev} nomaster",
                                    f"{ip}link set dev {dev} master {shlex.quote(str(check['master']))}",
                                    (*GENERIC_HINTS, hint), goal.name, True))
    unique: dict[str, Fault] = {}
    for fault in faults:
        unique.setdefault(fault.name, fault)  # the same name twice (lo in two namespaces): the first one
    return list(unique.values())


def _route_fault(goal: Goal, check: dict[str, Any]) -> Fault:
    """A route deleted: put back with its gateway and device as the goal names them."""
    ip, target = _ip(check), shlex.quote(str(check["route"]))
    how = "".join(f" {key} {shlex.quote(str(check[key]))}" for key in ("via", "dev") if check.get(key))
    where = f" in {check['in']}" if check.get("in") else ""
    label = "default" if check["route"] == "default" else str(check["route"]).replace("/", "-").replace(".", "-")
    name = f"no-route-{label}" + (f"-{check['in']}" if check.get("in") else "")
    return Fault(name, "medium", "", f"{ip}route del {target}", f"{ip}route add {target}{how}",
                 (*GENERIC_HINTS, f"How does a packet leave{where or ' here'}? `ip route` says."), goal.name, True)


def faults_of(rendered: RenderedLesson, goals: list[Goal]) -> list[Fault]:
    """The lesson's own faults, then the derived ones whose names it does not use."""
    own = declared(rendered)
    names = {f.name for f in own}
    return own + [f for f in derived(goals) if f.name not in names]


def pick(faults: list[Fault], name: str | None, seed: int | None) -> tuple[Fault, int | None]:
    """The fault named, or one chosen by the seed (a new seed when none is given); and the seed used."""
    if not faults:
        raise ParameterError("this lesson has no faults to practise with")
    if name:
        found = next((f for f in faults if f.name == name), None)
        if found is None:
            raise ParameterError(f"no fault {name!r}; its faults: {', '.join(f.name for f in faults)}",
                                 hint="`netlessons challenge LESSON --list` lists them")
        return found, seed
    if seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
    return random.Random(seed).choice(faults), seed


def symptom(fault: Fault, verdicts: list[GoalVerdict]) -> str:
    """The task as the learner reads it: the fault's symptom, or (derived) the first thing that no longer works."""
    if fault.symptom:
        return " ".join(fault.symptom.split())
    failing = [v for v in verdicts if not v.passed]
    reach = [v.goal.failed_words for v in failing if v.goal.command]
    if reach:
        return f"{reach[0]}. Find out why and fix it."
    if failing:
        return "Something in the lab is no longer as the lesson built it. `netlessons check` says what; fix it."
    return "Something may be wrong in the lab. Find out with `netlessons check` and fix it."


def fix_commands(fault: Fault) -> list[str]:
    return [line for line in fault.fix.splitlines() if line.strip()]


@dataclass
class Record:
    """What a challenge keeps in its lab while the learner works: the task, the goals, the hints and how many
    of them were given."""

    lesson: str
    fault: str
    seed: int | None
    symptom: str
    hints: list[str]
    goals: list[dict[str, Any]]
    hints_used: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Record":
        data = json.loads(text)
        return cls(**{k: data[k] for k in ("lesson", "fault", "seed", "symptom", "hints", "goals", "hints_used")})

    def goal_list(self) -> list[Goal]:
        return [Goal(g["name"], tuple(g["state"]), g["command"], g["failed_words"]) for g in self.goals]


def goals_as_data(goals: list[Goal]) -> list[dict[str, Any]]:
    return [asdict(goal) for goal in goals]
