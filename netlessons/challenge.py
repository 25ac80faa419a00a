"""Break-and-fix challenges: a lesson's faults, picking one (or several at once: an incident), the record a
challenge keeps in its lab, a class's sheet of seeded exercises, and the sum of the students' results.

A lesson's faults are the `[[faults]]` of its file (rendered with its values) and a few generic ones derived
from what its goals say the lab holds: an interface switched off, an address removed, a port unplugged from
its bridge. The learner fixes the lab by hand; grading is the goals' (netlessons.goals).

While the learner's shell is open, the challenge lives in a file of the lab's own folder ("$LAB"), so that
`netlessons check` and `netlessons hint` inside the lab know what is graded and which hint comes next.
"""

from __future__ import annotations

import ipaddress
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
    routes = [check for goal in goals for check in goal.state if checks.kind_of(check).name == "route"
              and not check.get("absent") and (check.get("via") or check.get("dev"))]
    for goal in goals:
        for check in goal.state:
            if check in routes:
                faults.append(_route_fault(goal, check))
            if checks.kind_of(check).name != "link" or check.get("absent"):
                continue
            name, ip = check["link"], _ip(check)
            dev = shlex.quote(name)
            where = f" in {check['in']}" if check.get("in") else ""
            hint = f"Have a close look at {name}{where}."
            # An interface switched off or stripped of its address loses the routes through it: its fix
            # puts back the routes the goals name in its namespace too.
            again = "".join(f" && {_route_back(r)}" for r in routes if _through(r, check, goals))
            if check.get("up") is True:
                faults.append(Fault(f"down-{name}", "easy", "", f"{ip}link set dev {dev} down",
                                    f"{ip}link set dev {dev} up{again}", (*GENERIC_HINTS, hint), goal.name, True))
            if check.get("address"):
                address = shlex.quote(str(check["address"]))
                faults.append(Fault(f"no-address-{name}", "easy", "", f"{ip}addr del {address} dev {dev}",
                                    f"{ip}addr add {address} dev {dev}{again}", (*GENERIC_HINTS, hint), goal.name,
                                    True))
            if check.get("master"):
                faults.append(Fault(f"unplugged-{name}", "medium", "", f"{ip}link set dev {dev} nomaster",
                                    f"{ip}link set dev {dev} master {shlex.quote(str(check['master']))}",
                                    (*GENERIC_HINTS, hint), goal.name, True))
    unique: dict[str, Fault] = {}
    for fault in faults:
        unique.setdefault(fault.name, fault)  # the same name twice (lo in two namespaces): the first one
    return list(unique.values())


def _through(route: dict[str, Any], link: dict[str, Any], goals: list[Goal]) -> bool:
    """Whether a route of the goals goes through this interface: by its name, or by a gateway in the subnet of
    one of the interface's addresses (as the goals give them)."""
    if route.get("in", "") != link.get("in", ""):
        return False
    if route.get("dev"):
        return route["dev"] == link["link"]
    subnets = [ipaddress.ip_interface(str(c["address"])).network for g in goals for c in g.state
               if checks.kind_of(c).name == "link" and c.get("link") == link["link"]
               and c.get("in", "") == link.get("in", "") and c.get("address")]
    try:
        return any(ipaddress.ip_address(str(route["via"])) in subnet for subnet in subnets)
    except ValueError:
        return False


def _route_how(check: dict[str, Any]) -> str:
    """A goal's route as `ip route` takes it after the destination: its gateway and device, as the goal names them."""
    return "".join(f" {key} {shlex.quote(str(check[key]))}" for key in ("via", "dev") if check.get(key))


def _route_back(check: dict[str, Any]) -> str:
    """The command that puts a route of the goals back (whether or not it is there)."""
    return f"{_ip(check)}route replace {shlex.quote(str(check['route']))}{_route_how(check)}"


def _route_fault(goal: Goal, check: dict[str, Any]) -> Fault:
    """A route deleted: put back with its gateway and device as the goal names them."""
    ip, target, how = _ip(check), shlex.quote(str(check["route"])), _route_how(check)
    if check.get("via") and check.get("dev"):
        how += " onlink"  # flannel's routes to other nodes' subnets go via an address no link has: onlink
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


def pick_incident(faults: list[Fault], names: list[str], seed: int | None,
                  count: int) -> tuple[list[Fault], int | None]:
    """`count` different declared faults at once: those named, or chosen by the seed (a new seed when none is
    given). A seeded choice takes faults that break different goals where the lesson has such faults."""
    own = [f for f in faults if not f.derived]
    if names:
        if len(names) != count:
            raise ParameterError(f"--faults {count} needs {count} --fault names, or none and a seed")
        picked = [pick(faults, name, None)[0] for name in names]
        if len({f.name for f in picked}) != count:
            raise ParameterError("name different faults for an incident")
        return sorted(picked, key=faults.index), seed
    if len(own) < count:
        raise ParameterError(f"this lesson declares {len(own)} faults, too few for --faults {count}")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
    chooser = random.Random(seed)
    picked: list[Fault] = []
    for _ in range(count):
        rest = [f for f in own if f not in picked]
        apart = [f for f in rest if f.breaks not in {p.breaks for p in picked}]
        picked.append(chooser.choice(apart or rest))
    return sorted(picked, key=own.index), seed  # injected in the order the lesson declares them


def choose(faults: list[Fault], names: list[str], seed: int | None, count: int) -> tuple[list[Fault], int | None]:
    """The fault(s) of a challenge: one as `pick` chooses it, or an incident of `count`."""
    if count == 1:
        if len(names) > 1:
            raise ParameterError("more than one --fault needs --faults with their number")
        fault, seed = pick(faults, names[0] if names else None, seed)
        return [fault], seed
    return pick_incident(faults, names, seed, count)


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


def task(faults: list[Fault], verdicts: list[GoalVerdict]) -> str:
    """The task of a challenge: its fault's symptom, or for an incident each fault's symptom, numbered."""
    if len(faults) == 1:
        return symptom(faults[0], verdicts)
    lines = [f"{len(faults)} things are wrong at once (each as it shows on its own); all must be fixed:"]
    lines += [f"{index}. {symptom(fault, verdicts)}" for index, fault in enumerate(faults, 1)]
    return "\n  ".join(lines)


def fix_commands(fault: Fault) -> list[str]:
    return [line for line in fault.fix.splitlines() if line.strip()]


def incident_fix(faults: list[Fault]) -> list[str]:
    """The commands that repair an incident: each fault's fix, the last one injected first."""
    return [command for fault in reversed(faults) for command in fix_commands(fault)]


def solution(lesson: str, faults: list[Fault], seed: int | None) -> dict[str, Any]:
    """The teacher's key for one challenge: its fault(s), the symptom and the commands that repair the lab."""
    keys = [{"fault": f.name, "difficulty": f.difficulty,
             "symptom": " ".join(f.symptom.split()) or "(derived: what the lab shows once broken)",
             "inject": f.inject, "fix": fix_commands(f)} for f in faults]
    if len(faults) == 1:
        return {"lesson": lesson, "seed": seed, **keys[0]}
    return {"lesson": lesson, "fault": " + ".join(f.name for f in faults), "faults": [f.name for f in faults],
            "seed": seed, "difficulty": " + ".join(f.difficulty for f in faults),
            "symptom": " ".join(k["symptom"] for k in keys), "fix": incident_fix(faults), "parts": keys}


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

    @staticmethod
    def hints_of(faults: list[Fault]) -> list[str]:
        """The hints of a challenge: its fault's, or an incident's in turns (first hint of each fault, then
        the second...), each marked with the symptom it is about."""
        if len(faults) == 1:
            return list(faults[0].hints) or list(GENERIC_HINTS)
        rounds = max(len(f.hints) for f in faults)
        return [f"(about {index}.) {fault.hints[n]}" for n in range(rounds)
                for index, fault in enumerate(faults, 1) if n < len(fault.hints)] or list(GENERIC_HINTS)

    def goal_list(self) -> list[Goal]:
        return [Goal(g["name"], tuple(g["state"]), g["command"], g["failed_words"]) for g in self.goals]


def goals_as_data(goals: list[Goal]) -> list[dict[str, Any]]:
    return [asdict(goal) for goal in goals]
