"""Truths of routed-pods and cni-chaining-portmap held to the kernel and the real plugins, each with a lesson of
its own that builds on the built-in one, so that a change of the built-in's wording cannot make them pass.

1. Proxy ARP answers for 169.254.1.1 with the MAC of the interface the request came in on, and only when
   proxy_arp is on for it *and* the node routes 169.254.1.1 out of another interface.
2. The bandwidth plugin's DEL removes only its ifb: the tbf and the ingress qdisc on the pod's veth stay, so its
   ADD cannot simply be run again (the reason the shaping fault's fix puts the qdisc back by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import netlessons

PROXY_PROBE = '''id = "proxy-probe"
title = "Who answers pod3's ARP for 169.254.1.1"
summary = "proxy_arp and the node's default route as given; cali-pod3 with a MAC of its own."
prerequisites = ["routed-pods"]

[params.proxy]
type = "int"
default = 1
min = 0
max = 1

[params.uplink_route]
type = "int"
default = 1
min = 0
max = 1

[[steps]]
id = "setup"
title = "cali-pod3 gets its own MAC; proxy_arp {{ proxy }}; default route {{ uplink_route }}"
explain = "The only things the runs differ in, and a MAC no other interface has."
run = """ip netns exec node1 ip link set cali-pod3 address 02:00:00:00:03:03
{{ sysctl.set('net.ipv4.conf.cali-pod3.proxy_arp', proxy, 'node1') }}
{% if not uplink_route %}{{ route.delete('default', 'node1') }}
{% endif %}ip netns exec pod3 ip neigh flush dev eth0"""

[[steps]]
id = "ask"
title = "pod3 pings pod4, then shows what it learnt about 169.254.1.1"
explain = "The ping's fate and the neighbour entry are what the test reads."
run = """{{ ping.ping('10.244.2.2', 'pod3', reply=false) }} && echo reached || echo unreached
ip netns exec pod3 ip neigh show 169.254.1.1"""
'''


def _report(lessons: Path, lesson: str, *args: str) -> dict:
    result = netlessons("run", lesson, "--json", "--lessons-dir", str(lessons), *args, timeout=240)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _step(report: dict, step_id: str) -> dict:
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return next(step for step in report["steps"] if step["id"] == step_id)


@pytest.mark.parametrize("proxy, uplink_route, answered", [(1, 1, True), (0, 1, False), (1, 0, False)])
def test_proxy_arp_answers_with_the_receiving_veths_mac_only_with_a_route_elsewhere(tmp_path, proxy,
                                                                                   uplink_route, answered):
    (tmp_path / "proxy-probe.toml").write_text(PROXY_PROBE)
    report = _report(tmp_path, "proxy-probe", "--set", f"proxy={proxy}", "--set", f"uplink_route={uplink_route}")
    out = _step(report, "ask")["stdout"]
    if answered:
        assert "reached" in out.split() and "unreached" not in out
        assert "lladdr 02:00:00:00:03:03" in out  # cali-pod3's own MAC, not cali-pod4's ee:ee:ee:ee:ee:ee
    else:
        assert "unreached" in out
        assert "lladdr" not in out  # nobody answered: the entry, if any, is INCOMPLETE or FAILED


BANDWIDTH_PROBE = '''id = "bandwidth-probe"
title = "What bandwidth's DEL leaves behind"
summary = "DEL of the bandwidth plugin alone for pod1, then the qdiscs, then ADD again."
prerequisites = ["cni-chaining-portmap"]

[constants]
conflist = "10-k8s-pod-network.conflist"
ifb_pod1 = "bwpb3d8bf215493"
runtime_pod1 = { bandwidth = { ingressRate = 8000000, ingressBurst = 80000, egressRate = 4000000, egressBurst = 80000 }}

[[steps]]
id = "del"
title = "DEL of bandwidth for pod1"
explain = "The third plugin of the list, alone."
run = """{{ cni.list_call('DEL', lab(conflist), 2, 'bandwidth', '/run/netns/pod1', runtime=runtime_pod1,
  prev_result=lab('pod1-result.json'), container='pod1', plugin_dir=plugin_dir, ns='node1') }}"""
expect.state = [{ link = "{{ ifb_pod1 }}", in = "node1", absent = true }]

[[steps]]
id = "left"
title = "The qdiscs on pod1's veth"
explain = "What stayed."
run = """veth=$({{ cni.host_end('pod1', 'node1') }}) && ip netns exec node1 tc qdisc show dev "$veth" """

[[steps]]
id = "again"
title = "ADD of bandwidth for pod1 again"
explain = "Does it build on what is left?"
run = """{{ cni.list_call('ADD', lab(conflist), 2, 'bandwidth', '/run/netns/pod1', runtime=runtime_pod1,
  prev_result=lab('pod1-portmap.json'), container='pod1', plugin_dir=plugin_dir, ns='node1') }} \
&& echo added || echo refused"""
'''


def test_bandwidth_del_removes_only_the_ifb_so_add_is_refused(tmp_path):
    (tmp_path / "bandwidth-probe.toml").write_text(BANDWIDTH_PROBE)
    report = _report(tmp_path, "bandwidth-probe")
    left = _step(report, "left")["stdout"]
    assert "qdisc tbf 1: root" in left and "rate 8Mbit" in left  # the ingress-rate tbf on the veth stays
    assert "qdisc ingress ffff:" in left  # and so does the ingress qdisc that redirected to the ifb
    again = _step(report, "again")["stdout"]
    assert again.rstrip().endswith("refused")
