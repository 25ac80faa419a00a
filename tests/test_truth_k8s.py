"""What cni-bridge-plugin and clusterip-kube-proxy claim, held to the real plugin and the real kernel (issue 15,
review rows C1-C7 and K1-K6). Each test fails if the claim it names were false:

- CNI: CHECK fails, with the plugin's own message, once the pod lost its default route; DEL succeeds twice; the
  bridge plugin finds host-local only through CNI_PATH; the masquerade chain is named CNI- plus 24 hex digits of
  SHA-512(network name + container id); isGateway alone gives no default route, isDefaultGateway does.
- kube-proxy: a pod's request goes through PREROUTING; the nat table sees one packet per connection (the rule
  counters add up to the number of requests); conntrack holds DNAT and SNAT in one entry; a Service without
  endpoints is refused at once by the filter table; a ClusterIP answers ping only when the node owns it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.helpers import builtin_catalog, netlessons, rendered

GATEWAY_PROBE = '''id = "gateway-probe"
title = "isGateway alone, or with isDefaultGateway"
summary = "The bridge plugin with no IPAM routes at all: where does the pod's default route come from?"

[params.default_gw]
type = "int"
default = 0
min = 0
max = 1

[[steps]]
id = "namespaces"
title = "Create the namespace {{ ns }}"
foreach = "ns in ['node1', 'pod1']"
run = "{{ netns.add(ns) }}"
explain = "A node and a pod."

[[steps]]
id = "add"
title = "ADD with isGateway, isDefaultGateway = {{ default_gw }}"
run = """{{ cni.call('ADD', 'bridge', {'cniVersion': '1.0.0', 'name': 'probe', 'type': 'bridge', 'bridge': 'cni0',
  'isGateway': true, 'isDefaultGateway': default_gw == 1,
  'ipam': {'type': 'host-local', 'subnet': '10.244.1.0/24', 'dataDir': lab('cni')}},
  '/run/netns/pod1', container='pod1', ns='node1') }}"""
explain = "No `routes` in the IPAM section."

[[steps]]
id = "routes"
title = "pod1's default route"
run = "ip netns exec pod1 ip route show default"
explain = "Empty unless the plugin added one."

[[steps]]
id = "gateway"
title = "cni0's address and node1's forwarding"
run = "ip netns exec node1 ip -br addr show cni0; ip netns exec node1 sysctl -n net.ipv4.ip_forward"
explain = "What isGateway does."

[[cleanup]]
id = "del-ns"
title = "Delete the namespace {{ ns }}"
foreach = "ns in ['pod1', 'node1']"
run = "{{ netns.delete(ns) }}"
explain = "Gone."
'''


def _report(lesson: str, *args: str) -> dict:
    result = netlessons("run", lesson, "--json", *args, timeout=240)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _steps(report: dict) -> dict:
    return {step["id"]: step for step in report["steps"]}


@pytest.fixture(scope="module")
def cni_run() -> dict:
    report = _report("cni-bridge-plugin")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


@pytest.fixture(scope="module")
def clusterip_run() -> dict:
    report = _report("clusterip-kube-proxy")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


# --- the CNI bridge plugin ----------------------------------------------------------------------------------------

def test_check_is_silent_when_intact_and_fails_with_the_plugins_message_when_broken(cni_run):
    ids = list(cni_run)
    assert ids.index("check") < ids.index("break-route") < ids.index("check-fails") < ids.index("repair-route-check")
    assert cni_run["check"]["exit_status"] == 0 and cni_run["check"]["stdout"].strip() == ""
    broken = cni_run["check-fails"]
    assert broken["exit_status"] != 0 and broken["passed"]
    assert json.loads(broken["stdout"])["msg"].startswith("Expected Route {Dst:{IP:0.0.0.0")
    assert cni_run["repair-route-check"]["exit_status"] == 0 and cni_run["repair-route-check"]["stdout"].strip() == ""


def test_del_succeeds_a_second_time(cni_run):
    ids = list(cni_run)
    assert ids.index("del") < ids.index("del-again")
    assert "CNI_COMMAND=DEL" in cni_run["del-again"]["command"]
    assert cni_run["del-again"]["stdout"].strip().splitlines()[-1] == "exit status 0"


def test_the_bridge_plugin_finds_host_local_only_through_cni_path(cni_run):
    step = cni_run["check-needs-ipam"]
    assert "/usr/lib/cni/bridge" in step["command"] and "CNI_PATH=/nonexistent/cni-plugins" in step["command"]
    assert step["exit_status"] != 0
    assert json.loads(step["stdout"])["msg"].startswith('failed to find plugin "host-local" in path')


def test_the_masquerade_chain_is_named_after_network_and_container(cni_run):
    expected = "CNI-" + hashlib.sha512(b"k8s-pod-network" + b"pod1").hexdigest()[:24]
    chains = re.findall(r"^-N (CNI-\S+)$", cni_run["masquerade"]["stdout"], re.M)
    assert chains == [expected]  # computed here, found in the plugin's own rules


@pytest.mark.parametrize("default_gw, route", [(0, ""), (1, "default via 10.244.1.1 dev eth0")])
def test_is_gateway_alone_gives_no_default_route(tmp_path: Path, default_gw, route):
    (tmp_path / "gateway-probe.toml").write_text(GATEWAY_PROBE)
    result = netlessons("run", "gateway-probe", "--lessons-dir", str(tmp_path), "--set", f"default_gw={default_gw}",
                        "--json", timeout=240)
    steps = _steps(json.loads(result.stdout))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert steps["routes"]["stdout"].strip() == route
    assert re.search(r"^cni0 +UP +10\.244\.1\.1/24", steps["gateway"]["stdout"], re.M)  # isGateway, both times
    assert steps["gateway"]["stdout"].split()[-1] == "1"


def test_cni_text_keeps_is_gateway_and_is_default_gateway_apart():
    lesson = builtin_catalog().get("cni-bridge-plugin")
    text = {s.id: s.explain for s in lesson.steps}
    assert "`isGateway` does not add it" in text["pod-routes"] and "isDefaultGateway" in text["flannel-routes"]
    note = lesson.kubernetes
    assert "CRI" in note and "/var/run/netns/cni-" in note and "does not call CNI itself" in note


# --- kube-proxy's iptables mode -------------------------------------------------------------------------------------

def test_a_pods_request_takes_prerouting(clusterip_run):
    step = clusterip_run["from-pod"]
    assert step["command"].count("ip netns exec pod1 curl") == 1 and step["passed"]
    assert step["stdout"].split() == ["3", "pod2"]
    counters = rendered("clusterip-kube-proxy").steps
    checks = next(s for s in counters if s.id == "from-pod").expect.state
    assert {"counter": "packets", "in": "node1", "table": "nat", "chain": "PREROUTING", "match": "-j KUBE-SERVICES",
            "equals": 3} in checks


def test_the_nat_table_counts_connections_not_packets(clusterip_run):
    """The 40 requests of `balanced`: 40 first packets at the mark rule, and the endpoint rules add up to 40."""
    assert "iptables -t nat -L KUBE-SVC-WEB -v -n -x" in clusterip_run["counters"]["command"]
    assert clusterip_run["counters"]["stdout"].splitlines() == [
        "first rule (mark for masquerade): 40 packets", "KUBE-SEP-POD1 + KUBE-SEP-POD2: 40 packets, 2 endpoints used"]
    checks = next(s for s in rendered("clusterip-kube-proxy").steps if s.id == "balanced").expect.state
    assert [c.get("equals", c.get("at_least")) for c in checks] == [40, 1, 1] and clusterip_run["balanced"]["passed"]


def test_conntrack_holds_dnat_and_masquerade_in_one_entry(clusterip_run):
    lines = clusterip_run["conntrack"]["stdout"].splitlines()
    assert "src=10.244.1.2 dst=10.96.0.100 dport=80 src=10.244.2.2 dst=10.244.1.2 sport=9376" in lines
    assert "src=203.0.113.1 dst=10.96.0.100 dport=80 src=10.244.2.2 dst=192.168.0.1 sport=9376" in lines


def test_a_service_without_endpoints_is_refused_by_the_filter_table(clusterip_run):
    for who in ("node1", "pod1"):
        step = clusterip_run[f"refused-{who}"]
        assert step["exit_status"] == 7 and step["passed"], step  # refused (7), not timed out (28)
    rules = [s for i, s in clusterip_run.items() if i.startswith("no-endpoints")]
    assert any("-t filter -A KUBE-SERVICES" in s["command"] and "-j REJECT" in s["command"] for s in rules)


def test_kube_proxy_rule_shapes_of_today():
    commands = [s.command for s in rendered("clusterip-kube-proxy").steps if s.lesson == "clusterip-kube-proxy"]
    assert any("-A KUBE-POSTROUTING -j MASQUERADE --random-fully" in c for c in commands)
    for pod, ip in (("POD1", "10.244.1.2"), ("POD2", "10.244.2.2")):
        chain = [c for c in commands if f"-A KUBE-SEP-{pod} " in c]
        assert f"-s {ip}/32 -j KUBE-MARK-MASQ" in chain[0] and "DNAT" in chain[1]  # self-masquerade, then DNAT


def test_a_clusterip_answers_ping_only_when_the_node_owns_it(clusterip_run):
    assert clusterip_run["ping-clusterip"]["exit_status"] != 0 and clusterip_run["ping-clusterip"]["passed"]
    assert "64 bytes from 10.96.0.100" in clusterip_run["ipvs-style"]["stdout"]
    note = builtin_catalog().get("clusterip-kube-proxy").kubernetes
    assert "kube-ipvs0" in note and "iptables and nftables modes" in note
