"""Truths of network-policy and kube-proxy-nftables that their own steps cannot show.

1. The chain names of kube-proxy-nftables are the ones kube-proxy derives (proxier.go, hashAndTruncate and
   servicePortChainNameBase/servicePortEndpointChainNameBase) for the lesson's Services, addresses and port.
2. The scaling step checks the structure of both modes, never a time: every time it prints is a pattern.
3. network-policy's faults each break the goal they name only through the policy, never through the pods' wiring:
   the policy's own objects are what they touch.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

from tests.helpers import builtin_catalog, rendered


def _kube_proxy_name(prefix: str, base: str) -> str:
    digest = base64.b32encode(hashlib.sha256(base.encode()).digest()).decode()
    return f"{prefix}{digest[:8]}-{base}"


def test_chain_names_are_kube_proxys_own():
    lesson = builtin_catalog().get("kube-proxy-nftables")
    values = rendered("kube-proxy-nftables").values
    constants = lesson.constants
    port = values["target_port"]
    pod1 = ipaddress.ip_network(values["pod_cidr"])[2]
    pod2 = ipaddress.ip_network(values["pod_cidr2"])[2]
    assert constants["svc_web"] == _kube_proxy_name("service-", "default/web/tcp/")
    assert constants["svc_api"] == _kube_proxy_name("service-", "default/api/tcp/")
    assert constants["ep_web1"] == _kube_proxy_name("endpoint-", f"default/web/tcp/__{pod1}/{port}")
    assert constants["ep_web2"] == _kube_proxy_name("endpoint-", f"default/web/tcp/__{pod2}/{port}")
    assert constants["ep_api2"] == _kube_proxy_name("endpoint-", f"default/api/tcp/__{pod2}/{port}")


def test_scaling_checks_structure_not_time():
    steps = [s for s in rendered("kube-proxy-nftables").steps if s.id.startswith("scaling")]
    assert steps, "the lesson lost its scaling step"
    lines = [line for step in steps for line in step.expect.output]
    assert any("1000 rules" in line for line in lines) and any("1000 elements" in line for line in lines)
    for line in lines:
        assert not re.search(r"time=\d", line), f"a timing is asserted: {line}"


def test_network_policy_faults_touch_only_the_policy():
    from netlessons import challenge

    declared = challenge.declared(rendered("network-policy"))
    assert len(declared) >= 3
    for fault in declared:
        touched = fault.inject
        assert "NP-" in touched or "ipset" in touched or "bridge-nf-call-iptables" in touched, fault.name
        assert "link set" not in touched and "addr del" not in touched, fault.name
