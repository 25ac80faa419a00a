"""Classroom use: walk through a lesson, a shell inside the lab, what changed after each step."""

from __future__ import annotations

import json
import re

from tests.helpers import netlessons


def test_walk_with_enter_on_stdin_runs_every_step(host_unchanged):
    result = netlessons("walk", "bridge-3ns", input="\n\n\n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = result.stdout
    assert "Step 1/14: Create the bridge br0" in out
    assert "Step 14/14: Delete br0" in out
    assert "A Linux bridge is a switch made of software" in out  # an explanation
    assert "| 64 bytes from 10.0.0.2" in out  # real output
    assert out.count("✓ ok") == 36
    assert "changed: + namespace ns1" in out
    assert "36 passed, 0 failed, 0 skipped" in out


def test_walk_keys_skip_repeat_and_quit(host_unchanged):
    # step 1 run, step 2 skipped, then repeat step 1 (fails: br0 exists), then quit
    result = netlessons("walk", "bridge-3ns", input="\ns\nr\nq\n")
    out = result.stdout
    assert "(skipped)" in out and "(repeating step 1: $ brctl addbr br0)" in out and "(quit)" in out
    assert "✗ FAILED" in out
    assert result.returncode == 1
    assert "1 passed, 1 failed, 1 skipped" in out


def test_walk_shell_key_opens_a_shell_in_the_lab(host_unchanged):
    result = netlessons("walk", "netns-basics", input="\n!\nip netns list\nexit\nq\n")
    assert "(a shell in the lab" in result.stdout
    assert "ns1" in result.stdout.split("(a shell in the lab", 1)[1]
    assert result.returncode == 0


def test_walk_auto_plays_by_itself(host_unchanged):
    result = netlessons("walk", "netns-basics", "--auto", "0")
    assert result.returncode == 0
    assert "10 passed, 0 failed, 0 skipped" in result.stdout


def test_shell_runs_commands_inside_the_lab(host_unchanged):
    result = netlessons("shell", "bridge-3ns", input="ip netns exec ns1 ping -c1 -W1 10.0.0.3; exit\n")
    assert result.returncode == 0, result.stderr
    assert "64 bytes from 10.0.0.3" in result.stdout
    # Piped commands get a plain shell: no prompt, no job-control noise (tests/test_interactive.py checks the
    # prompt, which names the lesson, on a real terminal).
    assert "[netlessons" not in result.stdout + result.stderr and "job control" not in result.stderr


def test_shell_upto_a_step_shows_a_partial_lab(host_unchanged):
    result = netlessons("shell", "bridge-3ns", "--upto", "add-ns", input="ip netns list; ip -br link show type veth\n")
    assert re.search(r"^ns3", result.stdout, re.M) and "veth" not in result.stdout
    bad = netlessons("shell", "bridge-3ns", "--upto", "nosuch")
    assert bad.returncode == 2 and "no step 'nosuch'" in bad.stderr


def test_run_changes_reports_what_each_step_changed():
    result = netlessons("run", "veth-pair", "--changes", "--json")
    assert result.returncode == 0, result.stderr
    steps = {s["id"]: s for s in json.loads(result.stdout)["steps"]}
    assert any("namespace ns1" in c for c in steps["add-ns1"]["changes"])
    assert any("veth1" in c and "ns1" in c for c in steps["move-veth1"]["changes"])
    live = netlessons("run", "netns-basics", "--changes")
    assert "+ namespace ns1" in live.stdout
