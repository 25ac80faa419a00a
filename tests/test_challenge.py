"""No dud faults, on the real kernel in the sandbox, for every lesson, as root and as an ordinary user
(tests/nodud_driver.py): every fault (declared, and derived from the goals) breaks the goal its symptom names,
its canonical fix repairs the whole lab, the fix of another declared fault of the same lesson does not, and
every pair of declared faults injects and repairs as an incident. Then `netlessons challenge` as a grader drives
it: commands on stdin, exit 0 when solved, 1 when not, the failing goal named; an incident of two faults; the
class sheet and its key, from the seeds alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import LESSONS, ROOT, netlessons, rendered

LESSONS_WITH_FAULTS = LESSONS  # every lesson declares at least three faults



def _failing(verdicts) -> list[str]:
    return [v.goal.name for v in verdicts if not v.passed]


@pytest.fixture(scope="session")
def nodud_site(ordinary_user_copy) -> Path:
    """The project as an ordinary user can import it, with the no-dud driver beside it."""
    shutil.copy(ROOT / "tests" / "nodud_driver.py", ordinary_user_copy / "nodud_driver.py")
    (ordinary_user_copy / "nodud_driver.py").chmod(0o644)
    return ordinary_user_copy


@pytest.mark.parametrize("lesson", LESSONS_WITH_FAULTS)
def test_no_dud_faults(lesson, host_unchanged):
    from tests.nodud_driver import problems_of

    assert problems_of(lesson) == []


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


def test_an_incident_needs_both_faults_fixed(host_unchanged, tmp_path):
    """--faults 2: both faults injected at once, both symptoms in the task, both named in the results; fixing one
    is not enough, fixing both solves it."""
    first = "ip link set dev veth2_0 master br0"  # port-unplugged's fix, typed as a learner would
    second = "ip -n ns3 addr flush dev veth3_1 && ip -n ns3 addr add 10.0.0.3/24 dev veth3_1"  # wrong-subnet's
    incident = ["challenge", "bridge-3ns", "--faults", "2", "--fault", "port-unplugged", "--fault", "wrong-subnet"]
    junit, saved = tmp_path / "half.xml", tmp_path / "half.json"
    half = netlessons(*incident, "--junit", str(junit), "-o", str(saved), input=f"{first}\nexit\n")
    assert half.returncode == 1, half.stdout + half.stderr
    assert "2 things are wrong at once" in half.stderr
    assert "ns2 is cut off" in half.stderr and "Neither ns1 nor ns2 can reach 10.0.0.3" in half.stderr
    result = json.loads(saved.read_text())
    assert result["faults"] == ["port-unplugged", "wrong-subnet"] and result["solved"] is False
    failing = [g["goal"] for g in result["goals"] if not g["passed"]]
    assert "ns1 can reach 10.0.0.3" in failing and "ns1 can reach 10.0.0.2" not in failing
    assert "port-unplugged + wrong-subnet" in junit.read_text()

    whole = netlessons(*incident, "--json", input=f"{first}\n{second}\nexit\n")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert json.loads(whole.stdout[whole.stdout.index("{\n"):])["solved"] is True


def test_incident_seeds_pick_faults_that_break_different_goals():
    from netlessons import challenge, goals

    lesson_rendered = rendered("bridge-3ns")
    faults = challenge.faults_of(lesson_rendered, goals.goals_of(lesson_rendered))
    for seed in range(40):
        picked, used = challenge.choose(faults, [], seed, 2)
        assert used == seed and len({f.name for f in picked}) == 2 and not any(f.derived for f in picked)
        assert picked[0].breaks != picked[1].breaks, [f.name for f in picked]
        assert challenge.choose(faults, [], seed, 2)[0] == picked  # the same seed, the same incident
    key = json.loads(netlessons("challenge", "bridge-3ns", "--faults", "2", "--seed", "3", "--solution",
                                "--json").stdout)
    names = [f.name for f in challenge.choose(faults, [], 3, 2)[0]]
    assert key["faults"] == names and key["seed"] == 3
    fixes = {f.name: challenge.fix_commands(f) for f in faults}
    assert sorted(key["fix"]) == sorted(fixes[names[0]] + fixes[names[1]])  # both fixes, nothing else
    too_many = netlessons("challenge", "netns-basics", "--faults", "2", "--fault", "x")
    assert too_many.returncode == 2 and "Traceback" not in too_many.stderr


def test_handout_is_built_from_the_seeds_alone(tmp_path):
    """The class sheet: one exercise per student, each seed starting the fault(s) the key names, no answer on
    the sheet, the same sheet for the same seed; and nothing runs (no ip, no unshare here)."""
    from tests.helpers import without_tools

    sheet = without_tools(["ip", "unshare", "nsenter"], "challenge", "dns-service-discovery", "--handout",
                          "--students", "5", "--seed", "11")
    assert sheet.returncode == 0, sheet.stderr
    again = netlessons("challenge", "dns-service-discovery", "--handout", "--students", "5", "--seed", "11")
    assert again.stdout == sheet.stdout
    key = netlessons("challenge", "dns-service-discovery", "--handout", "--solution", "--students", "5",
                     "--seed", "11").stdout
    seeds = re.findall(r"^## \d+\. Seed (\d+)", sheet.stdout, re.M)
    assert len(seeds) == 5 and re.findall(r"^## \d+\. Seed (\d+)", key, re.M) == seeds
    for seed in seeds:
        assert f"netlessons challenge dns-service-discovery --seed {seed} -o result-" in sheet.stdout
        answer = json.loads(netlessons("challenge", "dns-service-discovery", "--seed", seed, "--solution",
                                       "--json").stdout)
        assert f"fault `{answer['fault']}`" in key  # the key names what the seed really injects
        assert answer["fault"] not in sheet.stdout and answer["fix"][0] not in sheet.stdout
        assert answer["fix"][0] in key
    assert {"wrong-search", "dns-tcp-blocked", "no-dns-endpoint"} <= set(re.findall(r"fault `([^`]+)`", key))

    page = tmp_path / "sheet.html"
    written = netlessons("challenge", "nodeport-hairpin", "--handout", "--faults", "2", "--students", "3",
                         "--format", "html", "-o", str(page))
    assert written.returncode == 0 and page.read_text().startswith("<!DOCTYPE html>")
    assert page.read_text().count("--faults 2 -o result-") == 3
    wrong = netlessons("challenge", "veth-pair", "--handout", "--format", "pdf")
    assert wrong.returncode == 2 and "--format" in wrong.stderr and not wrong.stdout


@pytest.mark.parametrize("lesson", LESSONS_WITH_FAULTS)
def test_no_dud_faults_as_an_ordinary_user(lesson, nodud_site, host_unchanged):
    """The same check as nobody, in a process of its own (one per lesson, so that the test workers share them)."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(nodud_site), "HOME": "/tmp",
           "LANG": "C.UTF-8", "NETLESSONS_CACHE_DIR": ""}
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, python, "-m", "nodud_driver", lesson], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, cwd="/", timeout=1200)
    verdicts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [v["lesson"] for v in verdicts] == [lesson], done.stderr[-3000:]
    assert verdicts[0]["problems"] == [] and done.returncode == 0
