"""Snapshots and their diff: on hand-made snapshots, on canned `ip` output, and on the real bridge-3ns lesson
run in the sandbox (never in this machine's own network)."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from netlessons import state
from netlessons.catalog import Catalog
from netlessons.errors import EnvironmentProblem
from netlessons.render import render_lesson
from netlessons.runner import run_step, start_sandbox
from netlessons.shell import CommandResult
from netlessons.state import ROOT, Link, Namespace, Route, Snapshot

# --- the real lesson, in the sandbox -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab():
    """bridge-3ns run step by step in a throwaway sandbox: the shell, and a snapshot before and after every
    step."""
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get("bridge-3ns"))
    shell = start_sandbox()
    try:
        snapshots = {"start": state.snapshot(lambda c: shell.run(c))}
        for step in rendered.steps:
            outcome = run_step(shell, step)
            assert outcome.passed, f"{step.id}: {outcome.verdict.problem}"
            snapshots[step.id] = state.snapshot(lambda c: shell.run(c))
        yield shell, snapshots
    finally:
        shell.close()


def test_the_built_lab(lab):
    _, snapshots = lab
    snap = snapshots["ping-2-3"]
    assert snap.names == [ROOT, "ns1", "ns2", "ns3"]
    host = snap.namespace(ROOT)
    assert host.link("br0").kind == "bridge" and host.link("br0").up
    ports = sorted(link.name for link in host.links if link.master == "br0")
    assert ports == ["veth1_0", "veth2_0", "veth3_0"]
    for i in (1, 2, 3):
        outer, inner = host.link(f"veth{i}_0"), snap.namespace(f"ns{i}").link(f"veth{i}_1")
        assert (outer.kind, outer.peer, outer.peer_netns) == ("veth", f"veth{i}_1", f"ns{i}")
        assert (inner.kind, inner.peer, inner.peer_netns) == ("veth", f"veth{i}_0", ROOT)
        assert inner.addresses == (f"10.0.0.{i}/24",) and inner.up
        assert Route("10.0.0.0/24", f"veth{i}_1") in snap.namespace(f"ns{i}").routes


def test_moving_a_veth_end_is_reported_as_a_move(lab):
    _, snapshots = lab
    lines = state.diff(snapshots["plug-in-3"], snapshots["move-in-1"])
    assert "veth1_1 moved from host to ns1, now DOWN" in lines
    assert not [line for line in lines if line.startswith(("+ link", "- link"))]


def test_each_step_of_the_lesson_in_words(lab):
    _, snapshots = lab
    said = {step: state.diff(before, after) for (_, before), (step, after) in pairwise(snapshots.items())}
    assert said["add-bridge"] == ["+ link br0 (bridge) in host"]
    assert said["show-bridge"] == []
    assert said["bridge-up"] == ["br0 now UP"]
    assert said["add-ns-2"] == ["+ namespace ns2"]
    assert said["add-veth-1"] == ["+ link veth1_0 (veth, peer veth1_1) in host",
                                  "+ link veth1_1 (veth, peer veth1_0) in host"]
    assert said["up-veth-1-0"][0].startswith("veth1_0 now UP")
    assert said["plug-in-2"] == ["veth2_0 joined bridge br0"]
    assert said["configure-3-address"] == ["+ address 10.0.0.3/24 on veth3_1 in ns3"]
    assert any(line.startswith("veth3_1 now UP") for line in said["configure-3-up"])  # carrier may lag
    assert "+ route 10.0.0.0/24 dev veth3_1 in ns3" in said["configure-3-up"]


def test_a_pair_between_two_named_namespaces(lab):
    shell, _ = lab
    made = shell.run("ip -n ns1 link add name a.1 type veth peer name b-2 netns ns2")
    assert made.status == 0, made.stderr
    try:
        snap = state.snapshot(lambda c: shell.run(c))
        assert snap.namespace("ns1").link("a.1").peer == "b-2"
        assert snap.namespace("ns1").link("a.1").peer_netns == "ns2"
        assert snap.namespace("ns2").link("b-2").peer_netns == "ns1"
    finally:
        shell.run("ip -n ns1 link del a.1")


def test_a_deleted_namespace_leaves_loose_ends_until_the_kernel_tears_it_down(lab):
    shell, _ = lab
    made = shell.run("ip netns add gone && ip link add t0 type veth peer name t1 netns gone "
                     "&& ip netns del gone")
    assert made.status == 0, made.stderr
    snap = state.snapshot(lambda c: shell.run(c))
    for _ in range(100):  # the kernel's clean-up usually takes well under a second
        if not snap.loose_ends():
            break
        assert snap.loose_ends() == [(ROOT, "t0")]
        time.sleep(0.05)
        snap = state.snapshot(lambda c: shell.run(c))
    assert snap.loose_ends() == [] and snap.namespace(ROOT).link("t0") is None


def test_one_command_per_snapshot_and_json_round_trip(lab):
    shell, _ = lab
    commands = []

    def run(command: str) -> CommandResult:
        commands.append(command)
        return shell.run(command)

    snap = state.snapshot(run)
    assert len(commands) == 1
    assert Snapshot.from_json(snap.to_json()) == snap
    assert snap.to_json() == state.snapshot(lambda c: shell.run(c)).to_json()


def test_a_failing_snapshot_command_is_an_environment_problem():
    def broken(command: str) -> CommandResult:
        return CommandResult(command, 127, "", "ip: command not found\n", 0.0)

    with pytest.raises(EnvironmentProblem, match="ip: command not found"):
        state.snapshot(broken)


# --- canned `ip` output ------------------------------------------------------------------------------------

CANNED = """\
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"operstate":"UNKNOWN","addr_info":[\
{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},\
{"ifindex":2,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP"],"operstate":"UP",\
"linkinfo":{"info_kind":"bridge"},"addr_info":[{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]},\
{"ifindex":4,"link_index":3,"ifname":"v1","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"master":"br0",\
"operstate":"DOWN","link_netnsid":7,"linkinfo":{"info_kind":"veth"},"addr_info":[]},\
{"ifindex":5,"ifname":"x0","link":"x1","flags":["BROADCAST"],"operstate":"DOWN","linkinfo":{"info_kind":"veth"},\
"addr_info":[]},\
{"ifindex":6,"ifname":"x1","link":"x0","flags":["BROADCAST"],"operstate":"DOWN","linkinfo":{"info_kind":"veth"},\
"addr_info":[]}]
[{"dst":"default","gateway":"192.0.2.1","dev":"br0","flags":[]}]
[{"nsid":7,"name":"a"},{"nsid":8,"name":"b"}]

@@netns a
[{"ifindex":3,"link_index":4,"ifname":"v2","flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"10.0.0.2","prefixlen":24}]},\
{"ifindex":9,"link_index":9,"ifname":"ab","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":1,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[]

@@netns b
[{"ifindex":9,"link_index":9,"ifname":"ba","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[{"type":"blackhole","dst":"10.9.0.0/16","flags":[]}]

@@netns gone
"""


def test_parse_resolves_peers_from_canned_output():
    snap = state.parse(CANNED)
    assert snap.names == [ROOT, "a", "b"]  # a namespace that vanished while being read is left out
    host, a, b = snap.namespaces
    assert host.link("lo").addresses == ("127.0.0.1/8",)
    assert host.link("br0").addresses == ()  # link-local IPv6 is left out
    assert host.link("v1") == Link("v1", "veth", True, False, "br0", "v2", "a")
    assert host.link("v1").state == "UP (no carrier)"
    assert a.link("v2") == Link("v2", "veth", False, False, "", "v1", ROOT, ("10.0.0.2/24",))
    assert host.link("x0").peer == "x1" and host.link("x0").peer_netns == ROOT
    assert (a.link("ab").peer, a.link("ab").peer_netns) == ("ba", "b")
    assert (b.link("ba").peer, b.link("ba").peer_netns) == ("ab", "a")
    assert [str(r) for r in host.routes] == ["default via 192.0.2.1 dev br0"]
    assert [str(r) for r in b.routes] == ["blackhole 10.9.0.0/16"]
    assert snap.loose_ends() == []
    # Namespace a just deleted: no longer in /run/netns, not yet torn down by the kernel.
    head, rest = CANNED.replace('{"nsid":7,"name":"a"},', "").split("@@netns a\n")
    lost = state.parse(head + "@@netns b\n" + rest.split("@@netns b\n")[1])
    assert lost.names == [ROOT, "b"] and lost.loose_ends() == [(ROOT, "v1"), ("b", "ba")]


# --- diff on hand-made snapshots ---------------------------------------------------------------------------


def veth(name: str, peer: str, peer_netns: str | None = ROOT, up: bool = False, **more) -> Link:
    return Link(name, "veth", up, up, peer=peer, peer_netns=peer_netns, **more)


LO = Link("lo")
BR = Link("br0", "bridge", True, True)


def snap(*namespaces: Namespace) -> Snapshot:
    return Snapshot(namespaces)


def test_nothing_changed():
    same = snap(Namespace(ROOT, (BR, veth("v0", "v1"))), Namespace("ns1", (LO,)))
    assert state.diff(same, same) == []


def test_namespaces_come_and_go_without_their_loopback():
    before = snap(Namespace(ROOT, (LO,)), Namespace("old", (LO, Link("tunl0", "ipip"))))
    after = snap(Namespace(ROOT, (LO,)), Namespace("new", (LO,)))
    assert state.diff(before, after) == ["+ namespace new", "- namespace old"]


def test_a_move_is_one_line_with_what_the_move_changed():
    before = snap(Namespace(ROOT, (BR, veth("v0", "v1", up=True, master="br0"),
                                   veth("v1", "v0", up=True, addresses=("10.0.0.9/24",)))),
                  Namespace("ns1", (LO,)))
    after = snap(Namespace(ROOT, (BR, Link("v0", "veth", True, False, "br0", "v1", "ns1"))),
                 Namespace("ns1", (LO, veth("v1", "v0"))))
    # v0 lost its carrier too, but carrier changes are not reported: the kernel delivers them late.
    assert state.diff(before, after) == [
        "v1 moved from host to ns1, now DOWN",
        "- address 10.0.0.9/24 on v1 in host",
    ]


def test_a_recreated_link_of_another_kind_is_not_a_move():
    before = snap(Namespace(ROOT, (Link("x", "dummy"),)), Namespace("ns1", ()))
    after = snap(Namespace(ROOT, ()), Namespace("ns1", (Link("x", "bridge"),)))
    assert state.diff(before, after) == ["+ link x (bridge) in ns1", "- link x in host"]


def test_state_bridge_address_and_route_changes_in_a_stable_order():
    before = snap(Namespace(ROOT, (BR, veth("v0", "v1", "ns1"), Link("br1", "bridge"))),
                  Namespace("ns1", (LO, veth("v1", "v0")), (Route("10.1.0.0/16", via="10.0.0.1"),)))
    after = snap(Namespace(ROOT, (BR, veth("v0", "v1", "ns1", up=True, master="br0"), Link("br1", "bridge"))),
                 Namespace("ns1", (Link("lo", "", True, True, addresses=("127.0.0.1/8",)),
                                   veth("v1", "v0", up=True, addresses=("10.0.0.2/24",))),
                           (Route("10.0.0.0/24", "v1"), Route("default", via="10.0.0.1"))))
    expected = [
        "v0 now UP",
        "v0 joined bridge br0",
        "lo now UP",
        "v1 now UP",
        "+ address 127.0.0.1/8 on lo in ns1",
        "+ address 10.0.0.2/24 on v1 in ns1",
        "- route 10.1.0.0/16 via 10.0.0.1 in ns1",
        "+ route 10.0.0.0/24 dev v1 in ns1",
        "+ route default via 10.0.0.1 in ns1",
    ]
    assert state.diff(before, after) == expected
    # Order comes from the snapshots' contents, not from how they were put together.
    shuffled = Snapshot(tuple(reversed(after.namespaces)))
    assert state.diff(before, Snapshot.from_json(shuffled.to_json())) == expected
    leaving = state.diff(after, before)
    assert "v0 left bridge br0" in leaving and "v0 now DOWN" in leaving


def test_a_name_in_several_namespaces_says_where():
    before = snap(Namespace(ROOT, ()), Namespace("a", (veth("eth0", "x", "b"),)), Namespace("b", ()))
    after = snap(Namespace(ROOT, ()), Namespace("a", (veth("eth0", "x", "b", up=True),)),
                 Namespace("b", (veth("eth0", "y", "a"),)))
    assert state.diff(before, after) == ["+ link eth0 (veth, peer y) in b", "eth0 in a now UP"]


def test_json_is_sorted_and_round_trips():
    messy = snap(Namespace("ns10", ()), Namespace("ns2", (Link("b", addresses=("10.0.0.10/8", "10.0.0.9/8")),
                                                           Link("a"))), Namespace(ROOT, (LO,)))
    tidy = Snapshot.from_json(messy.to_json())
    assert tidy.names == [ROOT, "ns2", "ns10"]
    assert [link.name for link in tidy.namespace("ns2").links] == ["a", "b"]
    assert tidy.namespace("ns2").link("b").addresses == ("10.0.0.9/8", "10.0.0.10/8")
    assert Snapshot.from_json(tidy.to_json()) == tidy and tidy.to_json() == messy.to_json()


# Three namespaces whose veths all have ifindex 2, as in two-nodes-routed: only the ids each namespace reports
# tell them apart. Each namespace names the others by its own ids; the shell's namespace appears unnamed.
REPEATED = """\
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"addr_info":[]}]
[]
[{"nsid":0,"name":"node"},{"nsid":1,"name":"pod"}]

@@netns node
[{"ifindex":2,"link_index":2,"ifname":"veth-pod","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":1,\
"mtu":1500,"linkinfo":{"info_kind":"veth"},"addr_info":[]},\
{"ifindex":3,"link_index":2,"ifname":"eth0","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"mtu":1500,"linkinfo":{"info_kind":"veth"},"addr_info":[]},\
{"ifindex":4,"ifname":"vx","flags":["UP","LOWER_UP"],"operstate":"UNKNOWN","mtu":1450,\
"linkinfo":{"info_kind":"vxlan","info_data":{"id":7,"local":"192.168.0.1","link":"eth0","port":4789}},\
"addr_info":[]}]
[]
[{"nsid":0,"name":"outside"},{"nsid":1,"name":"pod"},{"nsid":2}]

@@fdb
[{"mac":"00:00:00:00:00:00","ifname":"vx","dst":"192.168.0.9","flags":["self"],"state":"permanent"},\
{"mac":"aa:bb:cc:dd:ee:ff","ifname":"veth-pod","master":"br0","state":"permanent"}]

@@netns pod
[{"ifindex":2,"link_index":2,"ifname":"eth0","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]},\
{"ifindex":5,"link_index":9,"ifname":"lost","flags":[],"operstate":"DOWN","link_netnsid":3,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[]
[{"nsid":0,"name":"node"},{"nsid":3}]

@@netns outside
[{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[]
[{"nsid":0,"name":"node"}]

@@netns node2
[{"ifindex":2,"link_index":2,"ifname":"veth-pod2","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[]
[{"nsid":0,"name":"pod2"}]

@@netns pod2
[{"ifindex":2,"link_index":2,"ifname":"eth0","flags":["UP","LOWER_UP"],"operstate":"UP","link_netnsid":0,\
"linkinfo":{"info_kind":"veth"},"addr_info":[]}]
[]
[{"nsid":0,"name":"node2"}]
"""


def test_peers_with_repeated_ifindex_are_told_apart_by_each_namespace_s_ids():
    snap = state.parse(REPEATED)
    node, pod, outside = snap.namespace("node"), snap.namespace("pod"), snap.namespace("outside")
    assert (node.link("veth-pod").peer, node.link("veth-pod").peer_netns) == ("eth0", "pod")
    assert (pod.link("eth0").peer, pod.link("eth0").peer_netns) == ("veth-pod", "node")
    assert (node.link("eth0").peer, node.link("eth0").peer_netns) == ("eth0", "outside")
    assert (outside.link("eth0").peer, outside.link("eth0").peer_netns) == ("eth0", "node")
    # ifindex 2 → ifindex 2 four times over: the numbers alone could pair veth-pod with pod2's eth0.
    assert (snap.namespace("pod2").link("eth0").peer, snap.namespace("pod2").link("eth0").peer_netns) == (
        "veth-pod2", "node2")
    # An id no namespace can name: kept as a loose end, with its other end's ifindex for the drawing.
    assert pod.link("lost").peer_netns is None and pod.link("lost").peer_index == 9
    assert node.link("veth-pod").peer_index == 0
    assert snap.loose_ends() == [("pod", "lost")]


def test_vxlan_settings_and_forwarding_entries_are_read():
    snap = state.parse(REPEATED)
    vx = snap.namespace("node").link("vx")
    assert vx.mtu == 1450 and vx.kind == "vxlan"
    assert vx.vxlan == state.Vxlan(7, "192.168.0.1", 4789, "eth0", ("192.168.0.9",))
    assert Snapshot.from_json(snap.to_json()) == snap


def test_two_nodes_routed_pairs_every_veth_although_ifindex_numbers_repeat():
    """The lab where the old guess dropped pod2's and outside's cables: every eth0 there has the same
    ifindex in its own namespace."""
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get("two-nodes-routed"))
    shell = start_sandbox()
    try:
        for step in rendered.steps:
            outcome = run_step(shell, step)
            assert outcome.passed, f"{step.id}: {outcome.verdict.problem}"
        indexes = shell.run("for n in pod1 pod2 outside; do ip -n $n -j link show eth0; done").stdout
        snap = state.snapshot(lambda c: shell.run(c))
    finally:
        shell.close()
    assert len({item["ifindex"] for item in state.json_documents(indexes) for item in item}) == 1  # they repeat
    expected = {("node1", "veth-pod1"): ("pod1", "eth0"), ("node1", "eth0"): ("outside", "eth0"),
                ("node1", "eth1"): ("node2", "eth0"), ("node2", "veth-pod2"): ("pod2", "eth0")}
    for (ns, name), (other_ns, other) in expected.items():
        one, two = snap.namespace(ns).link(name), snap.namespace(other_ns).link(other)
        assert (one.peer_netns, one.peer) == (other_ns, other), (ns, name)
        assert (two.peer_netns, two.peer) == (ns, name), (other_ns, other)
    assert snap.loose_ends() == []
