"""A lesson's goals: derived from its steps' checks (the state at the end, the pings that must succeed) or
written as [[goals]]; and `netlessons check` inside a lab shell, on a lab finished by hand."""

from __future__ import annotations

import re

import pytest

from tests.helpers import netlessons, rendered, script

TINY = '''id = "tiny-goals"
title = "A namespace with a goal of its own"
summary = "One namespace."

[params.ns]
type = "nsname"
default = "a"
help = "the namespace"

[[steps]]
id = "add"
title = "Make {{ ns }}"
explain = "One namespace."
run = "{{ netns.add(ns) }}"
expect.state = [{ netns = "{{ ns }}" }]
%s
'''
GOALS = '''
[[goals]]
title = "{{ ns }} has its loopback up"
run = "{{ ping.ping('127.0.0.1', ns) }}"
state = [{ link = "lo", in = "{{ ns }}", up = true }]
'''


def _names(goals) -> list[str]:
    return [goal.name for goal in goals]


def test_goals_are_the_state_at_the_end():
    from netlessons.goals import goals_of

    bridge = rendered("bridge-3ns")
    names = _names(goals_of(bridge))
    assert "veth2_1 is in ns2, with 10.0.0.2/24" in names
    assert "ns1 can reach 10.0.0.3" in names
    # veth2_1 was switched on here, then moved: its state here is no goal; nor are ARP and fdb entries
    assert not [n for n in names if n.startswith("veth2_1 is here")]
    assert not [g for g in goals_of(bridge) for c in g.state if "neighbour" in c or "fdb" in c]
    # a check written up=false early (link-show-bridge) gives way to the later up=true
    assert "br0 is here, a bridge, UP" in names

    basics = _names(goals_of(rendered("netns-basics")))
    assert "lo is in ns1, UP" in basics and "lo is in ns1, DOWN" not in basics
    assert basics.count("ns1 can reach 127.0.0.1") == 1  # the ping expected to fail is no goal


def test_goals_up_to_a_step_and_with_parameters():
    from netlessons.goals import goals_of

    bridge = rendered("bridge-3ns")
    early = _names(goals_of(bridge, bridge.upto("add-veth")))
    assert "namespace ns3 is present" in early
    assert not [n for n in early if "reach" in n or "port of" in n]
    renamed = _names(goals_of(rendered("bridge-3ns", ns_prefix="pod")))
    assert "pod1 can reach 10.0.0.2" in renamed


def test_declared_goals_replace_the_derived(tmp_path):
    from netlessons.catalog import Catalog
    from netlessons.goals import goals_of
    from netlessons.render import render_lesson

    (tmp_path / "tiny-goals.toml").write_text(TINY % GOALS)
    catalog = Catalog.default([tmp_path])
    lesson = render_lesson(catalog, catalog.get("tiny-goals"), {"ns": "b"})
    [goal] = goals_of(lesson)
    assert goal.name == "b has its loopback up"
    assert goal.command == "ip netns exec b ping -c 1 -w 3 127.0.0.1"
    assert goal.state == ({"link": "lo", "in": "b", "up": True},)


@pytest.mark.parametrize("table, message", [
    ('[[goals]]\ntitle = "nothing to check"\n', "a goal needs a command that must succeed"),
    ('[[faults]]\nname = "x"\nsymptom = "s"\ninject = "true"\nfix = "true"\ndifficulty = "extreme"\n',
     "'difficulty' is one of easy, medium, hard"),
    ('[[faults]]\nname = "x"\nsymptom = "s"\ninject = "true"\n', "required field 'fix' is missing"),
])
def test_bad_goals_and_faults_are_named(tmp_path, table, message):
    path = tmp_path / "tiny-goals.toml"
    path.write_text(TINY % table)
    result = netlessons("validate", str(path))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_check_judges_a_declared_goal_inside_the_lab(tmp_path, host_unchanged):
    (tmp_path / "tiny-goals.toml").write_text(TINY % GOALS)
    # The sandbox has a /tmp of its own: inside the lab the lesson file is copied into the lab's folder.
    copy = f"cat >\"$LAB\"/tiny-goals.toml <<'END'\n{TINY % GOALS}\nEND\n"
    check = 'netlessons check tiny-goals --lessons-dir "$LAB"; echo status=$?\n'
    before = netlessons("shell", "tiny-goals", "--lessons-dir", str(tmp_path), input=copy + check)
    assert "status=1" in before.stdout and "lo is in a, UP" in before.stdout, before.stdout + before.stderr
    after = netlessons("shell", "tiny-goals", "--lessons-dir", str(tmp_path),
                       input=copy + "ip -n a link set lo up\n" + check)
    assert "status=0" in after.stdout and "ok    a has its loopback up" in after.stdout


def _rest_of_bridge_lesson() -> list[str]:
    """The commands of bridge-3ns after add-veth, as a learner types them from the printed script (no pings)."""
    lines = [line for line in script("bridge-3ns", "iproute2", cleanup=False).splitlines()
             if line and not line.startswith("#")]
    start = max(i for i, line in enumerate(lines) if re.search(r"veth3_0 type veth", line)) + 1
    return [line for line in lines[start:] if "ping" not in line]


def test_check_a_lab_finished_by_hand(host_unchanged):
    rest = _rest_of_bridge_lesson()
    assert len(rest) == 18
    check = "netlessons check bridge-3ns; echo status=$?\n"
    done = netlessons("shell", "bridge-3ns", "--upto", "add-veth", input="\n".join(rest) + "\n" + check)
    assert "status=0" in done.stdout and "all 13 goals met" in done.stdout, done.stdout + done.stderr

    left_out = [line for line in rest if "veth3_1 netns" not in line]
    half = netlessons("shell", "bridge-3ns", "--upto", "add-veth", input="\n".join(left_out) + "\n" + check)
    assert "status=1" in half.stdout
    assert "veth3_1 is in ns3, with 10.0.0.3/24; no such link in ns3" in half.stdout
    assert "ns1 cannot reach 10.0.0.3" in half.stdout and "ns2 cannot reach 10.0.0.3" in half.stdout
    assert "FAIL  expected: veth2_1" not in half.stdout


def test_check_outside_a_challenge_needs_a_lesson():
    result = netlessons("check", env={"LAB": ""})
    assert result.returncode == 2 and "name the lesson" in result.stderr
