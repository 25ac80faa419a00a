"""No dud faults, on the real kernel in the sandbox: for every fault of the lessons that declare faults (and the
faults derived from their goals), the fault breaks the goal its symptom names, its canonical fix repairs the
whole lab, and the fix of another declared fault of the same lesson does not. Then `netlessons challenge` as a
grader drives it: commands on stdin, exit 0 when solved, 1 when not, the failing goal named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import LESSONS, netlessons, rendered

LESSONS_WITH_FAULTS = LESSONS  # every lesson declares at least three faults



def _failing(verdicts) -> list[str]:
    return [v.goal.name for v in verdicts if not v.passed]


@pytest.mark.parametrize("lesson", LESSONS_WITH_FAULTS)
def test_no_dud_faults(lesson, host_unchanged):
    from netlessons import challenge, goals
    from netlessons.runner import Lab

    lesson_rendered = rendered(lesson)
    wanted = goals.goals_of(lesson_rendered)
    faults = challenge.faults_of(lesson_rendered, wanted)
    own = [f for f in faults if not f.derived]
    assert len(own) >= 3, f"{lesson} declares {len(own)} faults"
    names = {goal.name for goal in wanted}
    lab = Lab(lesson_rendered)
    try:
        assert lab.build(list(lesson_rendered.steps)) is None
        run = partial(lab.shell.run, timeout=60)
        assert _failing(goals.grade(wanted, run)) == [], "the built lab must meet its goals"
        for fault in faults:
            assert fault.breaks in names, f"{fault.name}: names no goal of the lesson: {fault.breaks!r}"
            assert run(fault.inject).status == 0, fault.name
            broken = _failing(goals.grade(wanted, run))
            assert fault.breaks in broken, f"{fault.name} leaves {fault.breaks!r} met (failing: {broken})"
            if not fault.derived:
                for other in own:
                    if other is not fault:  # another fault's fix must not repair this one
                        run(other.fix)
                        assert _failing(goals.grade(wanted, run)), f"the fix of {other.name} repairs {fault.name}"
            assert run(fault.fix).status == 0, fault.name
            assert _failing(goals.grade(wanted, run)) == [], f"the fix of {fault.name} leaves the lab broken"
    finally:
        lab.close()


def test_challenge_graded_from_stdin(host_unchanged):
    fixed = netlessons("challenge", "veth-pair", "--fault", "peer-down", input="ip -n ns2 link set veth2 up\nexit\n")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "SOLVED" in fixed.stdout and "NOT SOLVED" not in fixed.stdout
    assert "ns1 cannot reach 10.0.0.2" in fixed.stderr  # the symptom is the task

    untouched = netlessons("challenge", "veth-pair", "--fault", "peer-down", "--json", input="")
    assert untouched.returncode == 1, untouched.stdout + untouched.stderr
    result = json.loads(untouched.stdout)
    assert result["solved"] is False and result["fault"] == "peer-down"
    failing = [g for g in result["goals"] if not g["passed"]]
    assert any("ns1 cannot reach 10.0.0.2" in g["problem"] for g in failing)


def test_check_and_hint_inside_a_challenge(host_unchanged, tmp_path):
    junit = tmp_path / "result.xml"
    commands = "netlessons hint\nnetlessons hint\nnetlessons check; echo check=$?\nexit\n"
    result = netlessons("challenge", "bridge-3ns", "--fault", "bridge-down", "--json", "--junit", str(junit),
                        input=commands)
    assert result.returncode == 1
    assert "Hint 1 of 2" in result.stdout and "Hint 2 of 2" in result.stdout
    inside, graded = result.stdout.split("{\n", 1)
    assert "check=1" in inside and "ns1 cannot reach 10.0.0.2" in inside
    # during the challenge a failed state goal is counted, not said: it would give the answer away
    assert "1 goal about the lab's state" in inside and "br0 is here" not in inside
    graded = json.loads("{\n" + graded)
    assert any("br0 is here, a bridge, UP" in g["problem"] for g in graded["goals"])  # the end says it all
    assert graded["hints_used"] == 2 and graded["solved"] is False
    assert "<failure" in junit.read_text()


def test_seed_picks_the_same_fault_and_list_keeps_answers_out():
    first = json.loads(netlessons("challenge", "bridge-3ns", "--seed", "7", "--solution", "--json").stdout)
    again = json.loads(netlessons("challenge", "bridge-3ns", "--seed", "7", "--solution", "--json").stdout)
    assert first["fault"] == again["fault"] and first["fix"]
    listed = netlessons("challenge", "bridge-3ns", "--list", "--json")
    rows = json.loads(listed.stdout)
    assert {"name", "difficulty"} == set(rows[0]) and first["fault"] in {r["name"] for r in rows}
    unknown = netlessons("challenge", "bridge-3ns", "--fault", "no-such-fault")
    assert unknown.returncode == 2 and "no fault 'no-such-fault'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_challenge_as_an_ordinary_user(ordinary_user_copy, host_unchanged):
    """No root needed: an ordinary account breaks, fixes and is graded, `netlessons check` included."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ordinary_user_copy), "HOME": "/tmp", "LANG": "C.UTF-8",
           "NETLESSONS_CACHE_DIR": ""}
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, python, "-m", "netlessons", "challenge", "veth-pair", "--fault", "peer-down"],
                            input="netlessons check; echo check=$?\nip -n ns2 link set veth2 up\nexit\n",
                            capture_output=True, text=True, env=env, cwd="/", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check=1" in result.stdout and "SOLVED: veth-pair" in result.stdout


def test_derived_route_faults_break_and_fix(host_unchanged):
    """Every lesson has faults without writing any: on two-nodes-routed (which declares none), each derived
    route fault breaks its goal and its fix repairs the lab."""
    from netlessons import challenge, goals
    from netlessons.runner import Lab

    lesson_rendered = rendered("two-nodes-routed")
    wanted = goals.goals_of(lesson_rendered)
    routes = [f for f in challenge.faults_of(lesson_rendered, wanted) if f.name.startswith("no-route-")]
    assert len(routes) >= 2
    lab = Lab(lesson_rendered)
    try:
        assert lab.build(list(lesson_rendered.steps)) is None
        run = partial(lab.shell.run, timeout=60)
        for fault in routes:
            assert run(fault.inject).status == 0, fault.name
            assert fault.breaks in _failing(goals.grade(wanted, run)), fault.name
            assert run(fault.fix).status == 0, fault.name
            assert _failing(goals.grade(wanted, run)) == [], f"the fix of {fault.name} leaves the lab broken"
    finally:
        lab.close()
