"""The kernel's tables as checks, on the real kernel in the sandbox: every new kind passes on a lab built for it
and fails when its claim is false; bridge-gateway-nat's negative steps fail when their cause is taken away."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.helpers import ROOT, as_nobody, netlessons, world_readable_dir

# A lab with something of every kind: a bridge with a hairpin port, a veth into b, a VXLAN device with a
# hand-made fdb entry, an iptables NAT rule (which switches connection tracking on in a), an nft set and rule.
KINDS_LESSON = r'''id = "observe-kinds"
title = "Every table a step can check"
summary = "A lab for the check kinds."

[[steps]]
id = "build"
title = "Build the lab"
explain = "Two namespaces, a bridge, a veth, a VXLAN device and some rules."
run = """ip netns add a && ip netns add b
ip -n a link add br0 type bridge && ip -n a link set br0 up && ip -n a addr add 10.0.0.1/24 dev br0
ip -n a link add va type veth peer name vb netns b
ip -n a link set va master br0 && ip -n a link set va type bridge_slave hairpin on && ip -n a link set va up
ip -n b link set vb address 02:00:00:00:00:02 && ip -n b addr add 10.0.0.2/24 dev vb && ip -n b link set vb up
ip -n a link add vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 dev br0 nolearning
bridge -n a fdb append 00:00:00:00:00:00 dev vx0 dst 10.0.0.9
ip netns exec a iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE
ip netns exec a iptables -A INPUT -p icmp -j ACCEPT
ip netns exec b nft add table inet t
ip netns exec b nft add set inet t allowed '{ type ipv4_addr; }'
ip netns exec b nft add element inet t allowed '{ 10.0.0.1 }'
ip netns exec b nft add chain inet t c '{ type filter hook input priority 0; }'
ip netns exec b nft add rule inet t c ip saddr @allowed counter accept"""
expect.state = [
  { link = "vb", in = "b", mac = "02:00:00:00:00:02", peer = "va", peer_in = "a", carrier = true, mtu = 1500 },
  { link = "va", in = "a", master = "br0", hairpin = true, learning = true },
  { link = "vx0", in = "a", kind = "vxlan", vxlan_id = 42, vxlan_port = 4789 },
  { link = "vx0", in = "a", vxlan_local = "10.0.0.1", vxlan_dev = "br0", learning = false },
  { fdb = "vx0", in = "a", mac = "00:00:00:00:00:00", dst = "10.0.0.9", state = "permanent" },
  { rule = "-s 10.0.0.0/24 ! -o br0 -j MASQUERADE", in = "a", table = "nat", chain = "POSTROUTING" },
  { rule = "ip saddr @allowed counter accept", in = "b", family = "inet", table = "t", chain = "c" },
  { rule = "10.0.0.1", in = "b", family = "inet", table = "t", set = "allowed" },
  { rule = "", in = "b", family = "inet", table = "t", chain = "nosuch", absent = true },
]

[[steps]]
id = "ping"
title = "Ping a from b, twice"
explain = "Two echo requests and their replies."
run = "ip netns exec b ping -c 2 -i 0.2 -W 1 10.0.0.1"
expect.state = [
  { neighbour = "10.0.0.1", in = "b", dev = "vb", mac_of = "br0", mac_of_in = "a", state = "REACHABLE|STALE|DELAY" },
  { neighbour = "10.0.0.2", in = "a", dev = "br0", mac = "02:00:00:00:00:02" },
  { fdb = "va", in = "a", master = "br0", mac_of = "vb", mac_of_in = "b", state = "learned" },
  { conntrack = "icmp", in = "a", src = "10.0.0.2", dst = "10.0.0.1", reply_src = "10.0.0.1", reply_dst = "10.0.0.2" },
  { counter = "IcmpInEchos", in = "a", equals = 2 },
  { counter = "IpForwDatagrams", in = "a", unchanged = true },
  { counter = "rx_packets", dev = "vb", in = "b", at_least = 2 },
  { counter = "packets", in = "a", chain = "INPUT", match = "-p icmp -j ACCEPT", equals = 2 },
  { route_get = "10.0.0.1", in = "b", dev = "vb", src = "10.0.0.2" },
  { route_get = "192.0.2.1", in = "b", unreachable = true },
]

[[cleanup]]
id = "del"
title = "Delete a and b"
explain = "Everything goes with them."
run = "ip netns del a; ip netns del b"
'''

# (what to change in the lesson, the step that must then fail, words of its problem)
BROKEN = [
    ('mac = "02:00:00:00:00:02", peer', 'mac = "02:00:00:00:00:03", peer', "build", "mac is '02:00:00:00:00:02'"),
    ('peer = "va", peer_in', 'peer = "vx0", peer_in', "build", "peer is 'va', not 'vx0'"),
    ("hairpin = true", "hairpin = false", "build", "hairpin is True"),
    ("vxlan_id = 42", "vxlan_id = 43", "build", "vxlan_id is 42"),
    ('dst = "10.0.0.9"', 'dst = "10.0.0.8"', "build", "vx0 has 00:00:00:00:00:00 dst 10.0.0.9"),
    ('rule = "10.0.0.1", in', 'rule = "10.0.0.7", in', "build", "element '10.0.0.7' in set allowed"),
    ('table = "nat", chain = "POSTROUTING" }', 'table = "filter", chain = "POSTROUTING" }', "build",
     "no chain POSTROUTING of table filter"),
    ('mac = "02:00:00:00:00:02" }', 'mac = "02:00:00:00:00:09" }', "ping",
     "found 10.0.0.2 dev br0 lladdr 02:00:00:00:00:02"),
    ('state = "learned"', 'state = "permanent"', "ping", "fdb entry for the MAC of vb in b on va"),
    ('reply_dst = "10.0.0.2"', 'reply_dst = "10.0.0.3"', "ping", "none matches"),
    ('in = "a", equals = 2 }', 'in = "a", equals = 3 }', "ping", "IcmpInEchos in a rises by 3; it went from"),
    ('match = "-p icmp -j ACCEPT", equals = 2', 'match = "-p icmp -j ACCEPT", unchanged = true', "ping",
     "a change of +2"),
    ('counter = "IpForwDatagrams", in = "a", unchanged = true', 'counter = "IpForwDatagrams", in = "a", at_least = 1',
     "ping", "a change of +0"),
    ('dev = "vb", src = "10.0.0.2"', 'dev = "vb", src = "10.0.0.5"', "ping", "src is 10.0.0.2"),
    ('route_get = "192.0.2.1"', 'route_get = "10.0.0.1"', "ping", "no route to 10.0.0.1 in b; it goes dev vb"),
]


def _lesson_folder(text: str):
    folder = world_readable_dir("netlessons-observe-")
    (folder / "observe-kinds.toml").write_text(text)
    (folder / "observe-kinds.toml").chmod(0o644)
    return folder


def _run(folder, lesson: str = "observe-kinds") -> dict:
    result = netlessons("run", lesson, "--lessons-dir", str(folder), "--json")
    return {"code": result.returncode, "report": json.loads(result.stdout), "stderr": result.stderr}


def test_every_kind_passes_on_the_real_kernel(host_unchanged):
    folder = _lesson_folder(KINDS_LESSON)
    try:
        outcome = _run(folder)
        assert outcome["code"] == 0, outcome
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(("old", "new", "step", "words"), BROKEN, ids=[b[1] for b in BROKEN])
def test_each_kind_fails_when_its_claim_is_false(old, new, step, words, host_unchanged):
    assert KINDS_LESSON.count(old) == 1, old
    folder = _lesson_folder(KINDS_LESSON.replace(old, new))
    try:
        outcome = _run(folder)
    finally:
        shutil.rmtree(folder)
    failed = [s for s in outcome["report"]["steps"] if not s["passed"]]
    assert outcome["code"] == 1 and [s["id"] for s in failed] == [step], outcome
    assert words in failed[0]["problem"] + failed[0].get("detail", ""), failed[0]


def test_every_kind_passes_as_an_ordinary_user(ordinary_user_copy, host_unchanged):
    folder = _lesson_folder(KINDS_LESSON)
    try:
        result = as_nobody(ordinary_user_copy, "run", "observe-kinds", "--lessons-dir", str(folder))
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stdout + result.stderr


# --- bridge-gateway-nat: each negative step fails when its cause is taken away -------------------------------

NAT = (ROOT / "lessons" / "bridge-gateway-nat.toml").read_text()


def test_with_forwarding_on_the_forwarding_off_step_fails_on_its_counters(tmp_path, host_unchanged):
    """The ping fails either way (no route back); only the counters tell that forwarding was the cause."""
    fixed = NAT.replace("run = \"{{ sysctl.set('net.ipv4.ip_forward', 0, 'node1') }}\"",
                        "run = \"{{ sysctl.set('net.ipv4.ip_forward', 1, 'node1') }}\"")
    fixed = fixed.replace('expect.state = [{ sysctl = "net.ipv4.ip_forward", in = "node1", value = "0" }]',
                          'expect.state = [{ sysctl = "net.ipv4.ip_forward", in = "node1", value = "1" }]')
    (tmp_path / "bridge-gateway-nat.toml").write_text(fixed)
    outcome = _run(tmp_path, "bridge-gateway-nat")
    failed = [s for s in outcome["report"]["steps"] if not s["passed"]]
    assert outcome["code"] == 1 and [s["id"] for s in failed] == ["ping-no-forwarding"], outcome
    assert failed[0]["exit_status"] != 0  # the ping still failed, as the step expects: the counters caught it
    assert re.search(r"IpInAddrErrors in node1 rises by at least 1; .* a change of \+0|"
                     r"IpForwDatagrams in node1 stays unchanged; .* a change of \+[1-9]", failed[0]["problem"])


def test_with_forwarding_left_off_the_no_route_back_step_fails_on_its_counters(tmp_path, host_unchanged):
    fixed = NAT.replace("run = \"{{ sysctl.set('net.ipv4.ip_forward', 1, 'node1') }}\"",
                        "run = \"{{ sysctl.set('net.ipv4.ip_forward', 0, 'node1') }}\"")
    fixed = fixed.replace('explain = "Now node1 routes packets between cni0 and eth0."\n'
                          'expect.state = [{ sysctl = "net.ipv4.ip_forward", in = "node1", value = "1" }]',
                          'explain = "Now node1 routes packets between cni0 and eth0."\n'
                          'expect.state = [{ sysctl = "net.ipv4.ip_forward", in = "node1", value = "0" }]')
    assert fixed.count('value = "0"') == 2
    (tmp_path / "bridge-gateway-nat.toml").write_text(fixed)
    outcome = _run(tmp_path, "bridge-gateway-nat")
    failed = [s for s in outcome["report"]["steps"] if not s["passed"]]
    assert outcome["code"] == 1 and [s["id"] for s in failed] == ["ping-no-route-back"], outcome
    assert failed[0]["exit_status"] != 0
    assert re.search(r"(IpForwDatagrams in node1|IcmpInEchos in outside) rises by at least 1; .* a change of \+0",
                     failed[0]["problem"]), failed[0]


def test_with_a_route_back_the_no_route_back_step_fails(tmp_path, host_unchanged):
    """Given a route back, the reply leaves outside: the step's route lookup and echo-reply counter object."""
    with_route = NAT.replace('[[steps]]\nid = "server"', '[[steps]]\nid = "route-back"\ntitle = "A route back"\n'
                             'explain = "x"\nrun = "ip -n outside route add {{ pod_cidr }} via '
                             '{{ host(outside_net, 1, false) }}"\n\n[[steps]]\nid = "server"')
    (tmp_path / "bridge-gateway-nat.toml").write_text(with_route)
    outcome = _run(tmp_path, "bridge-gateway-nat")
    failed = [s for s in outcome["report"]["steps"] if not s["passed"]]
    assert outcome["code"] == 1 and [s["id"] for s in failed] == ["ping-no-route-back"], outcome
