"""The corrected stories of bridge-gateway-nat and two-nodes-routed (issue 15, review rows G1-G6 and T1-T4), held
to the kernel: each test fails if the old, weaker or wrong story came back.

- Forwarding off is told apart from "no route back" by what node1 counts: an address error (IpInAddrErrors),
  never a forwarded datagram; and node1 still answers for its own uplink address.
- A reverse-path filter on the outside drops the request on input (TcpExtIPReversePathFilter), so the lesson sets
  it explicitly and shows the difference.
- Pod to pod across nodes is routed: ttl=62 and a TTL-limited probe naming each node, in both directions, and no
  NAT from pod2 to pod1.
- The Kubernetes notes say what isGateway does, who masquerades egress, and what flannel writes today.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, builtin_catalog, netlessons, rendered

NAT = (ROOT / "lessons" / "bridge-gateway-nat.toml").read_text()


def _report(lesson: str, *args: str) -> dict:
    result = netlessons("run", lesson, "--json", *args, timeout=240)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _steps(report: dict) -> dict:
    """Steps by id (a foreach step's rounds have ids of their own: path-there-1, path-there-2)."""
    return {step["id"]: step for step in report["steps"]}


def _variant(tmp_path: Path, *changes: tuple[str, str]) -> list[dict]:
    """bridge-gateway-nat with some pieces changed; the steps that failed."""
    text = NAT
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "bridge-gateway-nat.toml").write_text(text)
    result = netlessons("run", "bridge-gateway-nat", "--lessons-dir", str(tmp_path), "--json", timeout=240)
    report = json.loads(result.stdout)
    return [s for s in report["steps"] if not s["passed"]]


@pytest.fixture(scope="module")
def gateway_run() -> dict:
    report = _report("bridge-gateway-nat")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


@pytest.fixture(scope="module")
def routed_run() -> dict:
    report = _report("two-nodes-routed")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


# --- G1/G4: forwarding off is an address error, and the node itself still answers ---------------------------

def test_forwarding_off_is_counted_as_an_address_error(gateway_run):
    step = gateway_run["ping-no-forwarding"]
    assert step["exit_status"] != 0 and step["passed"]
    assert "IpInAddrErrors in node1 rises by at least 1" in step["checks"]
    assert "IpForwDatagrams in node1 stays unchanged" in step["checks"]
    assert "IcmpInEchos in outside stays unchanged" in step["checks"]


def test_forwarding_off_is_not_a_missing_route_on_node1(tmp_path, host_unchanged):
    """The kernel's ip_error() counts a packet it may not forward in IpInAddrErrors, not in IpOutNoRoutes: a lesson
    that claimed the latter fails at that step."""
    failed = _variant(tmp_path, ('{ counter = "IpInAddrErrors", in = "node1", at_least = 1 },',
                                 '{ counter = "IpOutNoRoutes", in = "node1", at_least = 1 },'))
    assert [s["id"] for s in failed] == ["ping-no-forwarding"], failed
    assert "IpOutNoRoutes in node1 rises by at least 1" in failed[0]["problem"]


def test_with_forwarding_off_the_node_still_answers_for_its_own_uplink_address(gateway_run):
    ids = list(gateway_run)
    assert ids.index("forward-off") < ids.index("ping-node-itself") < ids.index("forward-on")
    step = gateway_run["ping-node-itself"]
    assert step["exit_status"] == 0 and "1 received" in step["stdout"]
    assert "203.0.113.1" in step["command"]
    assert "IpForwDatagrams in node1 stays unchanged" in step["checks"]
    assert "IcmpInEchos in node1 rises by at least 1" in step["checks"]


# --- G5: the reverse-path filter ------------------------------------------------------------------------------

def test_outside_rp_filter_is_set_before_the_no_route_back_step():
    steps = rendered("bridge-gateway-nat").steps
    ids = [s.id for s in steps]
    explicit = [s for s in steps if s.id in ("rp-filter-all", "rp-filter-eth0")]
    assert {"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"} <= {
        s.command.split()[-1] for s in explicit}
    assert all("ip netns exec outside" in s.command for s in explicit)
    assert ids.index("rp-filter-eth0") < ids.index("ping-no-route-back")


def test_on_a_host_with_loose_rp_filter_the_no_route_back_step_would_fail(tmp_path, host_unchanged):
    """What the explicit setting protects against: with outside's filter at 2 (Ubuntu's default, which a new
    namespace copies), the request dies on input and the step's 'it arrived outside' counter objects."""
    failed = _variant(tmp_path, ("run = \"{{ sysctl.set('net.ipv4.conf.' ~ key ~ '.rp_filter', 0, 'outside') }}\"",
                                 "run = \"{{ sysctl.set('net.ipv4.conf.' ~ key ~ '.rp_filter', 2, 'outside') }}\""),
                      ('rp_filter", in = "outside", value = 0 }]\n\n[[steps]]\nid = "server"',
                       'rp_filter", in = "outside", value = 2 }]\n\n[[steps]]\nid = "server"'))
    assert [s["id"] for s in failed] == ["ping-no-route-back"], failed
    assert "IcmpInEchos in outside rises by at least 1" in failed[0]["problem"]


def test_strict_rp_filter_drops_the_request_on_input(gateway_run):
    step = gateway_run["ping-rp-filter"]
    assert step["exit_status"] != 0 and step["passed"]
    assert "TcpExtIPReversePathFilter in outside rises by at least 1" in step["checks"]
    assert "IcmpInEchos in outside stays unchanged" in step["checks"]
    assert "rp_filter=0" in gateway_run["rp-filter-off"]["command"]


def test_without_the_filter_the_rp_filter_step_fails_on_its_counters(tmp_path, host_unchanged):
    """If rp_filter did not matter, the request would reach ICMP again: the step's counters object."""
    failed = _variant(tmp_path, ("run = \"{{ sysctl.set('net.ipv4.conf.eth0.rp_filter', 1, 'outside') }}\"",
                                 "run = \"{{ sysctl.set('net.ipv4.conf.eth0.rp_filter', 0, 'outside') }}\""),
                      ('rp_filter", in = "outside", value = 1 }]', 'rp_filter", in = "outside", value = 0 }]'))
    assert [s["id"] for s in failed] == ["ping-rp-filter"], failed
    assert "TcpExtIPReversePathFilter in outside rises by at least 1" in failed[0]["problem"]


# --- G2/G6: the Kubernetes note --------------------------------------------------------------------------------

def test_gateway_note_separates_is_gateway_from_the_default_route_and_names_who_masquerades():
    note = " ".join(builtin_catalog().get("bridge-gateway-nat").kubernetes.split())
    assert "isDefaultGateway" in note
    assert "(the address on cni0 and the pod's default route)" not in note
    assert "--ip-masq" in note and "natOutgoing" in note and "ip-masq-agent" in note
    assert "kube-proxy only masquerades traffic to Services" in note


# --- T4: routed, both ways -----------------------------------------------------------------------------------

def test_pod_to_pod_is_routed_by_both_nodes_in_both_directions(routed_run):
    assert "ttl=62" in routed_run["ping-routed"]["stdout"]
    assert "ttl=62" in routed_run["ping-back"]["stdout"]
    there = [routed_run[f"path-there-{n}"]["stdout"] for n in (1, 2)]
    back = [routed_run[f"path-back-{n}"]["stdout"] for n in (1, 2)]
    assert "From 10.244.1.1 icmp_seq=1 Time to live exceeded" in there[0]
    assert "From 192.168.0.2 icmp_seq=1 Time to live exceeded" in there[1]
    assert "From 10.244.2.1 icmp_seq=1 Time to live exceeded" in back[0]
    assert "From 192.168.0.1 icmp_seq=1 Time to live exceeded" in back[1]


def test_pod2_to_pod1_is_not_translated(routed_run):
    checks = routed_run["ping-back"]["checks"]
    assert any("10.244.2.2" in c and "10.244.1.2" in c for c in checks), checks
    step = rendered("two-nodes-routed").steps
    back = next(s for s in step if s.id == "ping-back")
    assert {"conntrack": "icmp", "in": "node1", "src": "10.244.2.2", "dst": "10.244.1.2", "reply_src": "10.244.1.2",
            "reply_dst": "10.244.2.2"} in back.expect.state


# --- T1-T3: the text --------------------------------------------------------------------------------------------

def test_routed_lesson_text_is_current():
    lesson = builtin_catalog().get("two-nodes-routed")
    text = {s.id: " ".join(s.explain.split()) for s in lesson.steps}
    note = " ".join(lesson.kubernetes.split())
    assert "per *other* node" in text["routes"] and "This one route per node" not in text["routes"]
    assert "ipMasq: false" in text["log-masqueraded"]
    assert "FLANNEL-POSTRTG" in note and "FLANNEL-FWD" in note and "--random-fully" in note
    assert "Flannel installs the two POSTROUTING rules shown here" not in note


# --- faults that teach ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson, wanted", [
    ("bridge-gateway-nat", {"forwarding-off", "no-masquerade"}),
    ("two-nodes-routed", {"node2-forwarding-off", "wrong-next-hop", "masquerade-trap"}),
    ("vxlan-overlay", {"no-fdb-entry", "no-neighbour", "wrong-vni", "pod-mtu-1500"}),
])
def test_the_lessons_declare_the_faults_that_teach_them(lesson, wanted):
    assert wanted <= {f.name for f in builtin_catalog().get(lesson).faults}


def test_the_masquerade_trap_is_graded(host_unchanged):
    """The trap breaks nothing that pings: only the RETURN rule's goal tells that pod2 sees node1's address."""
    fix = "ip netns exec node1 iptables -t nat -I POSTROUTING 1 -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN\nexit\n"
    fixed = netlessons("challenge", "two-nodes-routed", "--fault", "masquerade-trap", input=fix, timeout=240)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    untouched = netlessons("challenge", "two-nodes-routed", "--fault", "masquerade-trap", "--json", input="",
                           timeout=240)
    assert untouched.returncode == 1, untouched.stdout + untouched.stderr
    failing = [g["goal"] for g in json.loads(untouched.stdout)["goals"] if not g["passed"]]
    assert failing == ["rule '-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN' in chain POSTROUTING of table nat in node1"]
