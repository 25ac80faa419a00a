"""The corrected stories of the first four lessons (issue 15, review rows N, V, B, BN), held to the kernel.

Each test fails if a corrected story came back: M-DOWN as a kernel-version thing instead of "the peer is down",
the post's impossible `link-netns ns2`, "a bridge connects only one machine", `ip netns add` as clone(), a bridge
id that never changes, a listing order the kernel does not promise. Where a lesson's check stands for a claim, a
mutant of the lesson in which the claim is false must fail at that check: a check that passes either way proves
nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, builtin_catalog, netlessons, rendered


def _run(*args: str) -> dict:
    result = netlessons("run", *args, "--json", timeout=240)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _steps(report: dict) -> dict:
    return {step["id"]: step for step in report["steps"]}


def _mutant(tmp_path: Path, lesson: str, old: str, new: str) -> Path:
    """A copy of a built-in lesson with one text replaced, in a lessons folder of its own (it takes the place of
    the built-in lesson of the same id)."""
    text = (ROOT / "lessons" / f"{lesson}.toml").read_text()
    assert text.count(old) == 1, f"{lesson}: the text to change is not there once: {old!r}"
    folder = tmp_path / "lessons"
    folder.mkdir(exist_ok=True)
    (folder / f"{lesson}.toml").write_text(text.replace(old, new))
    return folder


def _failed_at(report: dict) -> list[str]:
    return [step["id"] for step in report["steps"] if not step["passed"]]


def _spec(lesson: str, step_id: str):
    found = builtin_catalog().get(lesson)
    return next(step for step in found.steps + found.cleanup if step.id == step_id)


# --- the texts ------------------------------------------------------------------------------------------------

def test_m_down_is_explained_as_the_peer_down_not_as_an_old_kernel():
    step = _spec("veth-pair", "show-pair")
    assert "current kernel" not in step.explain
    assert "peer is down" in step.erratum and "before the two `up` commands" in step.erratum


def test_the_impossible_link_netns_line_is_an_erratum():
    step = _spec("veth-pair", "links-in-ns1")
    assert "link-netns {{ ns2 }}" in step.erratum and "link-netnsid 0" in step.erratum


def test_ip_netns_add_is_unshare_and_a_bind_mount_not_clone():
    step = _spec("netns-basics", "add-ns1")
    assert "unshare" in step.explain and "bind-mount" in step.explain
    assert "clone()" in step.erratum and "unshare(CLONE_NEWNET)" in step.erratum


def test_a_bridge_is_not_said_to_stay_on_one_machine():
    step = _spec("bridge-3ns", "add-bridge")
    assert "only connects interfaces of one machine" not in step.explain
    assert "different hosts" in step.erratum and "It can" in step.erratum


def test_the_listing_order_is_not_a_promise():
    step = _spec("netns-basics", "list-both")
    assert "newest first." not in step.explain
    assert len(step.expect.output) == 1, "two output lines would hold ip netns list to one order"
    assert {check["netns"] for check in step.expect.state} == {"{{ ns1 }}", "{{ ns2 }}"}


def test_notes_name_the_runtime_and_the_pinned_namespace():
    catalog = builtin_catalog()
    assert "/var/run/netns/cni-" in catalog.get("netns-basics").kubernetes
    assert "each time the kubelet starts a pod" not in catalog.get("bridge-n").kubernetes
    assert "container runtime" in catalog.get("bridge-n").kubernetes
    assert "moves one end into the pod's namespace" not in catalog.get("veth-pair").kubernetes
    assert "n(n - 1)/2" in _spec("bridge-n", "ping").explain


# --- the lab --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def veth_run() -> dict:
    return _run("veth-pair")


def test_veth_lab_shows_link_netnsid_not_a_name(veth_run):
    step = _steps(veth_run)["links-in-ns1"]
    assert step["passed"] and "link-netnsid 0" in step["stdout"] and "link-netns ns2" not in step["stdout"]


def test_veth_lab_shows_both_ends_up_with_carrier(veth_run):
    step = _steps(veth_run)["show-pair"]
    pair = [line for line in step["stdout"].splitlines() if re.match(r"\d+: veth[12]@veth[12]:", line)]
    assert len(pair) == 2 and all("<BROADCAST,MULTICAST,UP,LOWER_UP>" in line and "M-DOWN" not in line
                                  for line in pair)


def test_one_end_up_is_not_enough(tmp_path):
    """up-veth1's check (no carrier while veth2 is off) fails when veth2 is already up: it is no decoration."""
    folder = _mutant(tmp_path, "veth-pair", 'run = "{{ link.up(veth1, ns1, dev=true) }}"',
                     'run = "{{ link.up(veth2, ns2, dev=true) }} && {{ link.up(veth1, ns1, dev=true) }}"')
    report = _run("veth-pair", "--lessons-dir", str(folder))
    assert _failed_at(report) == ["up-veth1"], _failed_at(report)
    assert "carrier" in _steps(report)["up-veth1"]["problem"]


def test_show_pair_fails_when_an_end_is_down(tmp_path):
    """The post's M-DOWN listing (taken with the ends down) would not pass the step's check."""
    folder = _mutant(tmp_path, "veth-pair", 'run = "{{ link.show() }}"',
                     'run = "{{ link.down(veth2) }} && {{ link.show() }}"')
    report = _run("veth-pair", "--lessons-dir", str(folder))
    assert "show-pair" in _failed_at(report)


@pytest.fixture(scope="module")
def bridge_run() -> dict:
    return _run("bridge-3ns")


def test_bridge_id_is_zero_without_ports_and_taken_from_the_first_port(bridge_run):
    steps = _steps(bridge_run)
    assert re.search(r"^br0\s+8000\.000000000000\s+no", steps["show-bridge"]["stdout"], re.M)
    first = steps["plug-in-1"]
    assert first["passed"] and any("MAC of br0" in check for check in first["checks"]), first["checks"]


def test_bridge_with_a_mac_set_by_hand_keeps_it(tmp_path):
    """Set by hand, the bridge's address stays: the plug-in check, which says br0 took the port's MAC, fails."""
    folder = _mutant(tmp_path, "bridge-3ns", 'run = "{{ link.up(br, dev=true) }}"',
                     'run = "ip link set {{ br }} address 02:00:00:00:00:01 && {{ link.up(br, dev=true) }}"')
    report = _run("bridge-3ns", "--lessons-dir", str(folder))
    assert _failed_at(report) == ["plug-in-1"], _failed_at(report)


def test_bridge_pings_leave_learned_fdb_entries(bridge_run):
    for pair in ("1-2", "1-3", "2-3"):
        step = _steps(bridge_run)[f"ping-{pair}"]
        assert step["passed"] and sum("learned" in check for check in step["checks"]) == 2, step["checks"]


def test_bridge_n_floods_a_broadcast_to_the_farthest_namespace():
    report = _run("bridge-n", "--set", "n=4")
    step = _steps(report)["flood"]
    assert step["passed"], step["problem"]
    assert any("ns4/veth4_1" in line and "who-has 10.0.0.5 tell 10.0.0.1" in line for line in step["capture"])
    assert _steps(report)["fdb"]["passed"]


def test_forward_drop_fault_is_declared_where_the_note_sends_the_learner():
    for lesson in ("bridge-3ns", "bridge-n"):
        assert "forward-drop" in {fault.name for fault in builtin_catalog().get(lesson).faults}
    assert "--fault forward-drop" in rendered("bridge-3ns").steps[-1].explain


def test_two_namespaces_two_servers_one_port():
    """N1: the port is taken in ns1 (a second server fails) and free in ns2 (the same port works there)."""
    report = _run("netns-basics", "--set", "servers=yes", "--set", "port=8099")
    steps = _steps(report)
    assert report["passed"], _failed_at(report)
    assert "Address already in use" in steps["serve-ns1-again"]["stdout"] + steps["serve-ns1-again"]["stderr"]
    assert steps["serve-ns2"]["checks"] == ["a server listens on TCP port 8099 in ns1",
                                            "a server listens on TCP port 8099 in ns2"], steps["serve-ns2"]["checks"]
    assert "serve-ns1" not in _steps(_run("netns-basics")), "left out by default: the lesson stays the post's"


@pytest.mark.parametrize("repair, solved", [("", False), ("sysctl -qw net.bridge.bridge-nf-call-iptables=0", True)])
def test_forward_drop_bites_bridged_frames_only_through_br_netfilter(repair, solved, host_unchanged):
    """B4: with the FORWARD policy DROP the bridged pings fail, and they come back when bridged frames stop going
    through iptables (bridge-nf-call-iptables = 0), the policy still DROP: br_netfilter is the cause."""
    result = netlessons("challenge", "bridge-3ns", "--fault", "forward-drop", "--json", input=f"{repair}\nexit\n",
                        timeout=240)
    assert json.loads(result.stdout)["solved"] is solved, result.stdout + result.stderr
    assert result.returncode == (0 if solved else 1)
