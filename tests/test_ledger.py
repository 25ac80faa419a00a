"""Host mode's ledger and clean-up on the edges: signals, ledgers that are not ours, ordinary users, and the
identity rules themselves (objects with the right name but not the right identity are left alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import outer_namespace


def driver(*args: str) -> dict:
    result = outer_namespace([sys.executable, "-m", "tests.reliability_driver", *args], timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name,code", [("SIGHUP", 129), ("SIGTERM", 143)])
def test_hangup_and_terminate_clean_up_like_ctrl_c(name, code):
    """A closed terminal or `kill` mid-run: the lab is removed, the busy node is as it was, and the exit status
    says which signal it was. Before, SIGHUP left the whole lab up."""
    seen = driver("signal", name, "12")
    assert seen["reached"], seen
    assert seen["rc"] == code, seen
    assert seen["changed"] == [] and seen["strays"] == [], seen
    assert seen["cleanup"].strip() == "nothing to clean up", seen


def test_ledgers_that_are_not_a_runs_are_skipped_and_reported():
    """Wrong JSON shapes, bytes, a folder and a link named *.jsonl: `cleanup` reports the folder and the link,
    skips the rest quietly, and neither it nor a new host run crashes or follows the link."""
    seen = driver("corrupt_ledgers")
    assert seen["cleanup_rc"] == 0 and "Traceback" not in seen["cleanup"], seen
    assert "folder.jsonl: not a regular file" in seen["cleanup"] and "link.jsonl: not a regular file" in seen["cleanup"]
    assert seen["run_rc"] == 0 and "Traceback" not in seen["run"], seen
    assert seen["passwd_intact"] and seen["changed"] == [], seen


def test_cleanup_as_an_ordinary_user_says_it_needs_root(ordinary_user_copy, tmp_path):  # noqa: F811
    """Kept labs are recorded where only root can read; an ordinary user must not be told "nothing"."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder that an ordinary user cannot read")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ordinary_user_copy), "HOME": "/tmp", "LANG": "C.UTF-8",
           "NETLESSONS_STATE_DIR": str(state)}
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m",
                             "netlessons", "cleanup"], capture_output=True, text=True, env=env, cwd="/", timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "needs root" in result.stderr and "nothing to clean up" not in result.stdout


def _ledger_with(tmp_path, monkeypatch, records: list[dict]):
    from netlessons.ledger import Ledger

    monkeypatch.setenv("NETLESSONS_STATE_DIR", str(tmp_path))
    ledger = Ledger.create("unit")
    for record in records:
        ledger._append(record)
    return ledger


class FakeKernel:
    """Answers `ip -o link show dev NAME` from a table: a stand-in for the kernel in unit tests of the rules."""

    def __init__(self, links: dict[tuple[str, str], int]) -> None:
        self.links = dict(links)
        self.commands: list[str] = []

    def __call__(self, command: str):
        from netlessons.shell import CommandResult

        self.commands.append(command)
        words = command.split()
        netns = words[2] if words[1] == "-n" else ""
        name = words[-1]
        if " del " in f" {command} ":
            self.links.pop((netns, name), None)
            return CommandResult(command, 0, "", "", 0.0)
        if (netns, name) in self.links and "show" in words:
            return CommandResult(command, 0, f"{self.links[(netns, name)]}: {name}: <UP>\n", "", 0.0)
        return CommandResult(command, 0 if "down" in words else 1, "", "", 0.0)


def test_a_host_link_with_our_name_but_another_ifindex_is_left_alone(tmp_path, monkeypatch):
    from netlessons.ledger import clean_up

    ledger = _ledger_with(tmp_path, monkeypatch, [
        {"kind": "link", "name": "br0", "netns": ""}, {"made": "link", "name": "br0", "netns": "", "ifindex": 7}])
    kernel = FakeKernel({("", "br0"): 9})
    done = clean_up(ledger, kernel, wait=0)
    assert ("", "br0") in kernel.links and not any(" del " in c for c in kernel.commands)
    assert done == ["left alone: link br0, not the one this run made"]


def test_a_link_made_in_a_namespace_is_never_looked_for_in_the_host(tmp_path, monkeypatch):
    """The old clean-up looked for `eth0` of pod1 in the host once pod1 was gone, and deleted the host's."""
    from netlessons.ledger import clean_up

    ledger = _ledger_with(tmp_path, monkeypatch, [
        {"kind": "netns", "name": "pod1", "netns": ""}, {"kind": "link", "name": "eth0", "netns": "pod1"},
        {"made": "link", "name": "eth0", "netns": "pod1", "ifindex": 2}])
    kernel = FakeKernel({("", "eth0"): 2})
    assert clean_up(ledger, kernel, wait=0) == []
    assert kernel.links == {("", "eth0"): 2} and kernel.commands == []


def test_a_proven_host_link_is_deleted(tmp_path, monkeypatch):
    from netlessons.ledger import clean_up

    ledger = _ledger_with(tmp_path, monkeypatch, [
        {"kind": "link", "name": "br0", "netns": ""}, {"made": "link", "name": "br0", "netns": "", "ifindex": 7}])
    kernel = FakeKernel({("", "br0"): 7})
    assert clean_up(ledger, kernel, wait=0) == ["deleted link br0"]
    assert kernel.links == {}


def test_records_of_the_probes_are_taken_out_of_the_output():
    from netlessons.ledger import LEDGER_FAILED, PROOF, take_proofs

    stdout = f"hello\n{PROOF}{{\"made\": \"netns\", \"name\": \"a\", \"inode\": 5}}\n{LEDGER_FAILED}\nbye\n"
    kept, proofs, failed = take_proofs(stdout)
    assert kept == "hello\nbye\n" and proofs == [{"made": "netns", "name": "a", "inode": 5}] and failed


def test_two_host_runs_started_together_never_undo_each_other():
    """20 rounds of bridge-3ns and veth-pair (both make ns1 and ns2) started at the same moment: each run either
    passes or is refused before it changes anything (exit 3); none fails half-way because the other took its
    objects, and the state is the baseline after every round. Before, 5 rounds in 20 failed that way."""
    seen = driver("racing_runs", "20")
    for result in seen["results"]:
        assert all(rc in (0, 3) for rc in result["rcs"]), result
        assert 0 in result["rcs"], result
        for rc, tail in zip(result["rcs"], result["tails"], strict=True):
            if rc == 3:
                assert "refusing to run in host mode" in tail or "belongs to another netlessons run" in tail, tail
        assert result["changed"] == [] and result["strays"] == [], result
