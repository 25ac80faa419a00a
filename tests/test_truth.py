"""The four causal stories of issue 15, held to the kernel: each test fails if the wrong story came back.

1. Hairpin mode is needed because of br_netfilter: with bridge-nf-call-iptables = 1 nothing reaches pod1 until
   hairpin is on; with 0 the masquerade alone is enough (and the same-node Service needs 1).
2. A NodePort on 127.0.0.1 answers only with route_localnet = 1.
3. VXLAN without an fdb entry drops the frame, learning or not, and flannel.1's tx_dropped counts it.
4. The Kubernetes note names the CNI plugin's hairpinMode, not the kubelet, as what sets hairpin today.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import LESSONS, ROOT, builtin_catalog, netlessons, rendered

SELF_SERVICE = '''id = "hairpin-probe"
title = "pod1 calls its own Service with hairpin off"
summary = "The self Service with the self-masquerade, hairpin off, bridge-nf-call-iptables as given."
prerequisites = ["clusterip-kube-proxy"]

[params.call]
type = "int"
default = 0
min = 0
max = 1

[[steps]]
id = "self-service"
title = "Service 10.96.0.101 → pod1, self-masquerade first"
foreach = "rule in [['-N', 'KUBE-SVC-SELF'], ['-I', 'KUBE-SERVICES', '-d', '10.96.0.101/32', '-p', 'tcp', \
'--dport', '80', '-j', 'KUBE-SVC-SELF'], ['-A', 'KUBE-SVC-SELF', '-s', '10.244.1.2/32', '-j', 'KUBE-MARK-MASQ'], \
['-A', 'KUBE-SVC-SELF', '-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.244.1.2:9376']]"
explain = "A Service whose only endpoint is the caller."
run = "ip netns exec node1 iptables -t nat {% for w in rule %}{{ w }} {% endfor %}"

[[steps]]
id = "bridge-nf"
title = "bridge-nf-call-iptables = {{ call }}, hairpin off"
explain = "The one thing the two runs differ in."
run = "{{ sysctl.set('net.bridge.bridge-nf-call-iptables', call, 'node1') }}"
expect.state = [{ sysctl = "net.bridge.bridge-nf-call-iptables", in = "node1", value = "{{ call }}" }]

[[steps]]
id = "call"
title = "pod1 calls 10.96.0.101"
explain = "It answers only when the node routes the request instead of bridging it."
run = "{{ http.fetch('http://10.96.0.101/', 'pod1') }}"
expect.output = ["pod1"]
'''


def _report(lesson: str, *args: str) -> dict:
    result = netlessons("run", lesson, "--json", *args, timeout=240)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _steps(report: dict) -> dict:
    return {step["id"]: step for step in report["steps"]}


def _lines(step: dict) -> list[str]:
    """What a measuring step printed on stdout: curl's fallback line and the counter's verdict."""
    return step["stdout"].split("\n")[:-1] if step["stdout"].endswith("\n") else step["stdout"].split("\n")


@pytest.fixture(scope="module")
def hairpin_run() -> dict:
    report = _report("nodeport-hairpin")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


@pytest.fixture(scope="module")
def vxlan_run() -> dict:
    report = _report("vxlan-overlay")
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    return _steps(report)


# --- 1. hairpin because of br_netfilter ----------------------------------------------------------------------------

def test_br_netfilter_is_required_and_set_before_the_hairpin_steps():
    steps = rendered("nodeport-hairpin").steps
    ids = [s.id for s in steps]
    br = steps[ids.index("br-netfilter")]
    assert "kernel:br_netfilter" in br.needs  # no br_netfilter: refused (exit 3), never a pass for the wrong reason
    assert "net.bridge.bridge-nf-call-iptables=1" in br.command
    assert {"sysctl": "net.bridge.bridge-nf-call-iptables", "in": "node1", "value": "1"} in br.expect.state
    assert ids.index("br-netfilter") < ids.index("hairpin-fails") < ids.index("hairpin-on")


def test_with_br_netfilter_nothing_reaches_pod1_until_hairpin_is_on(hairpin_run):
    assert _lines(hairpin_run["hairpin-fails"]) == ["no answer", "no IP packet reached pod1"]
    assert _lines(hairpin_run["hairpin-still-fails"]) == ["no answer", "IP packets reached pod1"]
    assert hairpin_run["hairpin-works"]["stdout"].strip() == "pod1"
    # and again after the comparison, masquerade in place: with bridge-nf-call-iptables = 1 only hairpin helps
    assert _lines(hairpin_run["br-netfilter-again-fetch"]) == ["no answer", "no IP packet reached pod1"]


def test_without_br_netfilter_the_masquerade_alone_suffices(hairpin_run):
    assert hairpin_run["routed-works"]["stdout"].strip() == "pod1"


@pytest.mark.parametrize("call, answers", [(0, True), (1, False)])
def test_hairpin_off_outcome_depends_only_on_bridge_nf_call_iptables(tmp_path: Path, call, answers):
    """A lesson of our own, independent of the built-in's text: hairpin off, self-masquerade on."""
    (tmp_path / "hairpin-probe.toml").write_text(SELF_SERVICE)
    result = netlessons("run", "hairpin-probe", "--lessons-dir", str(tmp_path), "--set", f"call={call}",
                        "--json", timeout=240)
    steps = _steps(json.loads(result.stdout))
    assert steps["bridge-nf"]["passed"] is True
    assert steps["call"]["passed"] is answers, steps["call"]
    assert result.returncode == (0 if answers else 1)


def test_same_node_service_needs_br_netfilter(hairpin_run):
    assert _lines(hairpin_run["same-node-fails-fetch"]) == ["no answer", "pod1 sent resets"]
    assert hairpin_run["same-node-works-fetch"]["stdout"].strip() == "pod3"


def test_hairpin_text_tells_the_measured_story():
    lesson = builtin_catalog().get("nodeport-hairpin")
    text = {s.id: s.explain for s in lesson.steps}
    assert "with or without br_netfilter" not in " ".join(text.values())
    assert "bridged DNAT" in text["hairpin-fails"]
    assert "because of br_netfilter" in text["routed-works"]


# --- 2. NodePort on 127.0.0.1 -----------------------------------------------------------------------------------

def test_localhost_nodeport_fails_without_route_localnet_and_works_with_it(hairpin_run):
    ids = list(hairpin_run)
    assert ids.index("localhost-fails") < ids.index("route-localnet") < ids.index("localhost-works")
    assert hairpin_run["localhost-fails"]["exit_status"] != 0 and hairpin_run["localhost-fails"]["passed"]
    assert "net.ipv4.conf.all.route_localnet=1" in hairpin_run["route-localnet"]["command"]
    assert hairpin_run["localhost-works"]["stdout"].split() == ["pod1", "pod2"]


# --- 3. VXLAN drop counted ---------------------------------------------------------------------------------------

def test_vxlan_drop_without_fdb_is_counted(vxlan_run):
    out = vxlan_run["ping-no-fdb"]["stdout"]
    assert "1 packets transmitted, 0 received" in out
    assert "flannel.1's TX dropped counter rose" in out.splitlines()


def test_vxlan_learning_does_not_save_the_frame(vxlan_run):
    learning_on = [s for i, s in vxlan_run.items() if i.startswith("learning-irrelevant") and "learning" in
                   s["command"] and "nolearning" not in s["command"] and "ping" not in s["command"]]
    assert learning_on and all(s["passed"] for s in learning_on)
    ping = next(s for i, s in vxlan_run.items() if i.startswith("learning-irrelevant") and "ping" in s["command"])
    assert "0 received" in ping["stdout"] and "flannel.1's TX dropped counter rose" in ping["stdout"].splitlines()


def test_vxlan_text_no_longer_blames_learning_or_silence():
    text = " ".join(s.explain for s in builtin_catalog().get("vxlan-overlay").steps)
    assert "No error anywhere" not in text and "with learning off it drops" not in text
    assert "dropped" in text and "all-zeros" in text


# --- 4. who sets hairpin today -----------------------------------------------------------------------------------

def test_kubernetes_note_credits_the_cni_plugin_with_hairpin():
    note = builtin_catalog().get("nodeport-hairpin").kubernetes
    assert "hairpinMode" in note and "dockershim" in note
    assert "--hairpin-mode=hairpin-veth" not in note


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_has_a_recap_and_its_sources(lesson):
    found = builtin_catalog().get(lesson)
    assert len(found.recap.split()) >= 25, f"{lesson}: a recap walks the packet through the lab"
    assert "→" in found.recap, f"{lesson}: the recap follows the packet hop by hop"
    assert len(found.sources) >= 2, f"{lesson}: every lesson names the primary sources of its claims"


def test_recap_and_sources_are_shown_in_explain_and_the_handouts(tmp_path):
    lesson = builtin_catalog().get("vxlan-overlay")
    text = netlessons("explain", "vxlan-overlay", "--set", "vtep_mac2=02:00:00:00:02:09").stdout
    recap = text.split("\nRecap:\n")[1].split("\n\n")[0]
    assert "02:00:00:00:02:09" in recap, "the recap is rendered with the lesson's values"
    sources = text.split("\nSources:\n")[1]
    assert sources.count("  - ") == len(lesson.sources)
    handout = (ROOT / "docs" / "lessons" / "vxlan-overlay.md").read_text()
    assert "## Recap" in handout and "## Sources" in handout
    assert all(" ".join(source.split()) in handout for source in lesson.sources)
