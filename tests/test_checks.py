"""The pure parts of the state checks: each kind's schema, words and judging, the reader's batching and
parsing, output matching, and the generated reference in docs/authoring.md. Kernel answers are canned
`ip -j` text; the real-kernel runs are in test_run.py and test_reliability.py."""

from __future__ import annotations

import json
import re

import pytest

from netlessons import checks
from netlessons.checks import reader, reference
from netlessons.checks.base import Query, Reading
from netlessons.report import output_diff
from tests.helpers import ROOT, netlessons

LINKS = json.loads("""[
 {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN",
  "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
 {"ifindex":2,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP"],"mtu":1500,"operstate":"UP",
  "linkinfo":{"info_kind":"bridge"},"addr_info":[{"family":"inet","local":"10.0.0.254","prefixlen":24}]},
 {"ifindex":3,"ifname":"veth1_0","link":"veth1_1","flags":["BROADCAST","MULTICAST","UP"],"mtu":1500,
  "master":"br0","operstate":"LOWERLAYERDOWN","linkinfo":{"info_kind":"veth"},"addr_info":[]},
 {"ifindex":4,"ifname":"veth2_0","flags":["BROADCAST","MULTICAST"],"mtu":1400,"master":"br0",
  "operstate":"DOWN","linkinfo":{"info_kind":"veth"},"addr_info":[]}
]""")
ROUTES = json.loads("""[
 {"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]},
 {"dst":"10.0.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.2","flags":[]},
 {"dst":"10.9.9.9","via":"x","dev":"eth0","flags":[]}
]""")
from netlessons.checks import tables  # noqa: E402

NEIGH = json.loads("""[
 {"dst":"10.0.0.2","dev":"veth1","lladdr":"0e:69:ac:dc:f1:3a","state":["REACHABLE"]},
 {"dst":"10.0.0.9","dev":"veth1","state":["FAILED"]}
]""")
PEERS = json.loads("""[
 {"ifindex":7,"ifname":"veth2","link_index":3,"link_netnsid":0,"address":"0e:69:ac:dc:f1:3a",
  "flags":["UP","LOWER_UP"],"linkinfo":{"info_kind":"veth"}}
]""")
VXLAN = json.loads("""[
 {"ifindex":3,"ifname":"v1","link_index":7,"link_netnsid":1,"address":"aa:aa:aa:aa:aa:01",
  "flags":["BROADCAST","UP","LOWER_UP"],"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge",
  "info_slave_data":{"hairpin":true,"learning":false}}},
 {"ifindex":5,"ifname":"vx0","flags":["BROADCAST"],"address":"aa:aa:aa:aa:aa:05",
  "linkinfo":{"info_kind":"vxlan","info_data":{"id":42,"local":"10.0.0.1","link":"v1","port":4789,"learning":false}}},
 {"ifindex":6,"ifname":"v1.10","flags":["UP"],"linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":10}}}
]""")
FDB = json.loads("""[
 {"mac":"0e:69:ac:dc:f1:3a","ifname":"veth1_0","flags":[],"master":"br0","state":""},
 {"mac":"62:7e:73:51:9a:db","ifname":"veth1_0","flags":[],"master":"br0","state":"permanent"},
 {"mac":"00:00:00:00:00:00","ifname":"vx0","dst":"192.168.0.2","flags":["self"],"state":"permanent"}
]""")
CONNTRACK = ("ipv4     2 icmp     1 29 src=10.244.1.2 dst=203.0.113.2 type=8 code=0 id=1 src=203.0.113.2 "
             "dst=203.0.113.1 type=0 code=0 id=1 mark=0 zone=0 use=2\n"
             "ipv4     2 tcp      6 117 TIME_WAIT src=10.244.1.2 dst=203.0.113.2 sport=4242 dport=8080 "
             "src=203.0.113.2 dst=203.0.113.1 sport=8080 dport=4242 [ASSURED] mark=0 zone=0 use=2\n")
IPTABLES = """*nat
:PREROUTING ACCEPT [3:180]
:POSTROUTING ACCEPT [0:0]
:KUBE-SVC - [0:0]
[2:168] -A POSTROUTING -s 10.244.1.0/24 ! -o cni0 -j MASQUERADE
COMMIT
*filter
:FORWARD DROP [5:420]
COMMIT
"""
NFT_RULESET = """table inet t {
\tset allowed {
\t\ttype ipv4_addr
\t\telements = { 10.0.0.1, 10.0.0.2,
\t\t\t     10.0.0.3 }
\t}

\tchain c {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr 10.0.0.2 counter packets 3 bytes 252 accept # handle 4
\t}
}
"""
SNMP = """Ip: Forwarding DefaultTTL InReceives InAddrErrors ForwDatagrams
Ip: 1 64 10 2 0
Icmp: InMsgs InEchos OutEchoReps
Icmp: 3 2 0
TcpExt: SyncookiesSent ListenDrops
TcpExt: 0 1
"""
SNMP_AFTER = SNMP.replace("Ip: 1 64 10 2 0", "Ip: 1 64 12 4 0").replace("Icmp: 3 2 0", "Icmp: 5 4 0")
RULE_TEXT = "-s 10.244.1.0/24 ! -o cni0 -j MASQUERADE"
ANSWERS = {
    Query("neighbours", "ns1"): Reading(0, NEIGH),
    Query("links", "ns2"): Reading(0, PEERS),
    Query("links", "br"): Reading(0, VXLAN),
    Query("fdb"): Reading(0, FDB),
    Query("conntrack", "node1"): Reading(0, tables.conntrack(CONNTRACK)),
    Query("iptables", "node1"): Reading(0, tables.iptables(IPTABLES)),
    Query("nft", "node1"): Reading(0, tables.nft(NFT_RULESET)),
    Query("snmp", "node1"): Reading(0, tables.snmp(SNMP_AFTER)),
    Query("snmp", "node1", before=True): Reading(0, tables.snmp(SNMP)),
    Query("iptables", "node1", before=True): Reading(0, tables.iptables(IPTABLES.replace("[2:168]", "[1:84]"))),
    Query("links", "", before=True): Reading(0, [{"ifname": "br0", "stats64": {"rx": {"packets": 3}}}]),
    Query("route_get", "pod", "203.0.113.2"): Reading(0, [{"dst": "203.0.113.2", "gateway": "10.0.0.1",
                                                            "dev": "eth0", "prefsrc": "10.0.0.2"}]),
    Query("route_get", "outside", "10.244.1.2"): Reading(1, [], "RTNETLINK answers: Network is unreachable"),
    Query("netns"): Reading(0, ["ns1", "ns2"]),
    Query("links"): Reading(0, [{**link, "stats64": {"rx": {"packets": 5}, "tx": {"dropped": 0}}}
                                if link["ifname"] == "br0" else link for link in LINKS]),
    Query("links", "ns1"): Reading(0, LINKS[:1]),
    Query("routes", "pod"): Reading(0, ROUTES),
    Query("links", "gone"): Reading(255, [], 'Cannot open network namespace "gone": No such file or directory'),
    Query("routes", "gone"): Reading(255, [], 'Cannot open network namespace "gone"'),
    Query("sysctl", "r", "net.ipv4.ip_forward"): Reading(0, "1"),
    Query("sysctl", "", "net.ipv4.ip_forward"): Reading(0, "0"),
    Query("sockets", "srv"): Reading(0, [22, 8080]),
    Query("sockets", "gone"): Reading(255, None, "Cannot open network namespace"),
}

# (check, passes on ANSWERS)
JUDGED = [
    ({"netns": "ns1"}, True), ({"netns": "ns3"}, False), ({"netns": "ns3", "absent": True}, True),
    ({"netns": "ns2", "absent": True}, False),
    ({"link": "br0", "kind": "bridge", "up": True, "address": "10.0.0.254/24", "mtu": 1500}, True),
    ({"link": "br0", "kind": "veth"}, False), ({"link": "br0", "up": False}, False),
    ({"link": "br0", "mtu": "1500"}, True), ({"link": "br0", "mtu": 9000}, False),
    ({"link": "br0", "address": "10.0.0.1/24"}, False), ({"link": "br0", "address": ""}, True),
    ({"link": "veth1_0", "master": "br0", "operstate": "LOWERLAYERDOWN"}, True),
    ({"link": "veth2_0", "master": "br1"}, False), ({"link": "nosuch"}, False),
    ({"link": "nosuch", "absent": True}, True), ({"link": "br0", "absent": True}, False),
    ({"link": "lo", "in": "ns1", "up": True}, True), ({"link": "br0", "in": "ns1"}, False),
    ({"link": "lo", "in": "gone"}, False), ({"link": "lo", "in": "gone", "absent": True}, True),
    ({"bridge": "br0", "ports": 2}, True), ({"bridge": "br0", "ports": "2"}, True),
    ({"bridge": "br0", "ports": 3}, False), ({"bridge": "br9", "ports": 0}, False), ({"bridge": "br0"}, True),
    ({"route": "default", "in": "pod", "via": "10.0.0.1", "dev": "eth0"}, True),
    ({"route": "default", "in": "pod", "via": "10.0.0.9"}, False),
    ({"route": "10.0.0.0/24", "in": "pod", "dev": "eth0"}, True), ({"route": "10.0.0.0/25", "in": "pod"}, False),
    ({"route": "10.9.9.9/32", "in": "pod"}, True), ({"route": "10.1.0.0/16", "in": "pod", "absent": True}, True),
    ({"route": "default", "in": "pod", "absent": True}, False), ({"route": "default", "in": "gone"}, False),
    ({"route": "default", "in": "gone", "absent": True}, True),
    ({"sysctl": "net.ipv4.ip_forward", "in": "r", "value": "1"}, True),
    ({"sysctl": "net.ipv4.ip_forward", "in": "r", "value": 1}, True),
    ({"sysctl": "net.ipv4.ip_forward", "value": "1"}, False),
    ({"port": 8080, "in": "srv"}, True), ({"port": "22", "in": "srv"}, True), ({"port": 80, "in": "srv"}, False),
    ({"port": 80, "in": "srv", "absent": True}, True), ({"port": 22, "in": "srv", "absent": True}, False),
    ({"port": 22, "in": "gone"}, False), ({"port": 22, "in": "gone", "absent": True}, True),
    # link details
    ({"link": "veth2", "in": "ns2", "peer": "v1", "peer_in": "br", "carrier": True, "mac": "0E:69:AC:DC:F1:3A"}, True),
    ({"link": "veth2", "in": "ns2", "peer": "v9", "peer_in": "br"}, False),
    ({"link": "veth2", "in": "ns2", "carrier": False}, False),
    ({"link": "vx0", "in": "br", "vxlan_id": 42, "vxlan_port": "4789", "vxlan_local": "10.0.0.1",
      "vxlan_dev": "v1", "learning": False}, True),
    ({"link": "vx0", "in": "br", "vxlan_id": 43}, False), ({"link": "vx0", "in": "br", "learning": True}, False),
    ({"link": "v1", "in": "br", "hairpin": True, "learning": False}, True),
    ({"link": "v1", "in": "br", "hairpin": False}, False),
    ({"link": "v1.10", "in": "br", "vlan_id": 10}, True), ({"link": "v1.10", "in": "br", "vlan_id": 20}, False),
    # neighbours
    ({"neighbour": "10.0.0.2", "in": "ns1", "dev": "veth1", "mac_of": "veth2", "mac_of_in": "ns2",
      "state": "REACHABLE|STALE"}, True),
    ({"neighbour": "10.0.0.2", "in": "ns1", "state": "STALE"}, False),
    ({"neighbour": "10.0.0.2", "in": "ns1", "mac": "aa:aa:aa:aa:aa:aa"}, False),
    ({"neighbour": "10.0.0.2", "in": "ns1", "mac_of": "nosuch", "mac_of_in": "ns2"}, False),
    ({"neighbour": "10.0.0.9", "in": "ns1", "state": "FAILED"}, True),
    ({"neighbour": "10.0.0.3", "in": "ns1", "absent": True}, True), ({"neighbour": "10.0.0.3", "in": "ns1"}, False),
    ({"neighbour": "10.0.0.2", "in": "ns1", "dev": "eth0"}, False),
    # fdb
    ({"fdb": "veth1_0", "master": "br0", "mac": "0e:69:ac:dc:f1:3a", "state": "learned"}, True),
    ({"fdb": "veth1_0", "mac_of": "veth2", "mac_of_in": "ns2"}, True),
    ({"fdb": "veth1_0", "mac": "0e:69:ac:dc:f1:3a", "state": "permanent"}, False),
    ({"fdb": "veth1_0", "mac": "0e:69:ac:dc:f1:3a", "master": "br1"}, False),
    ({"fdb": "veth2_0", "mac": "0e:69:ac:dc:f1:3a"}, False),
    ({"fdb": "veth2_0", "mac": "0e:69:ac:dc:f1:3a", "absent": True}, True),
    ({"fdb": "vx0", "mac": "00:00:00:00:00:00", "dst": "192.168.0.2", "state": "permanent"}, True),
    ({"fdb": "vx0", "mac": "00:00:00:00:00:00", "dst": "192.168.0.3"}, False),
    # conntrack
    ({"conntrack": "icmp", "in": "node1", "src": "10.244.1.2", "dst": "203.0.113.2", "reply_src": "203.0.113.2",
      "reply_dst": "203.0.113.1"}, True),
    ({"conntrack": "icmp", "in": "node1", "src": "10.244.1.2", "reply_dst": "10.244.1.2"}, False),
    ({"conntrack": "tcp", "in": "node1", "dport": "8080", "reply_sport": "8080", "reply_dst": "203.0.113.1"}, True),
    ({"conntrack": "udp", "in": "node1"}, False), ({"conntrack": "udp", "in": "node1", "absent": True}, True),
    ({"conntrack": "tcp", "in": "node1", "absent": True}, False),
    # rules
    ({"rule": RULE_TEXT, "in": "node1", "table": "nat", "chain": "POSTROUTING"}, True),
    ({"rule": "-s 10.244.1.0/24 * (glob)", "in": "node1", "table": "nat", "chain": "POSTROUTING"}, True),
    ({"rule": RULE_TEXT, "in": "node1", "chain": "POSTROUTING"}, False),
    ({"rule": RULE_TEXT, "in": "node1", "table": "nat", "chain": "POSTROUTING", "absent": True}, False),
    ({"rule": "", "in": "node1", "table": "nat", "chain": "KUBE-SVC"}, True),
    ({"rule": "", "in": "node1", "table": "nat", "chain": "KUBE-SEP", "absent": True}, True),
    ({"rule": "ip saddr 10.0.0.2 counter accept", "in": "node1", "family": "inet", "table": "t", "chain": "c"}, True),
    ({"rule": "ip saddr 10.0.0.3 counter accept", "in": "node1", "family": "inet", "table": "t", "chain": "c"}, False),
    ({"rule": "10.0.0.3", "in": "node1", "family": "inet", "table": "t", "set": "allowed"}, True),
    ({"rule": "10.0.0.4", "in": "node1", "family": "inet", "table": "t", "set": "allowed"}, False),
    # route lookups
    ({"route_get": "203.0.113.2", "in": "pod", "via": "10.0.0.1", "dev": "eth0", "src": "10.0.0.2"}, True),
    ({"route_get": "203.0.113.2", "in": "pod", "src": "10.0.0.9"}, False),
    ({"route_get": "203.0.113.2", "in": "pod", "unreachable": True}, False),
    ({"route_get": "10.244.1.2", "in": "outside", "unreachable": True}, True),
    ({"route_get": "10.244.1.2", "in": "outside"}, False),
    # counter deltas: snmp InAddrErrors 2 -> 4, InEchos 2 -> 4, ForwDatagrams 0 -> 0; the rule 1 -> 2; br0 rx 3 -> 5
    ({"counter": "IpInAddrErrors", "in": "node1", "at_least": 1}, True),
    ({"counter": "IpInAddrErrors", "in": "node1", "equals": 2}, True),
    ({"counter": "IpInAddrErrors", "in": "node1", "equals": "3"}, False),
    ({"counter": "IpForwDatagrams", "in": "node1", "unchanged": True}, True),
    ({"counter": "IcmpInEchos", "in": "node1", "unchanged": True}, False),
    ({"counter": "IcmpInEchos", "in": "node1", "at_least": 3}, False),
    ({"counter": "IpNoSuchThing", "in": "node1", "at_least": 1}, False),
    ({"counter": "packets", "in": "node1", "table": "nat", "chain": "POSTROUTING", "match": RULE_TEXT,
      "equals": 1}, True),
    ({"counter": "packets", "in": "node1", "table": "nat", "chain": "POSTROUTING", "match": RULE_TEXT,
      "unchanged": True}, False),
    ({"counter": "rx_packets", "dev": "br0", "at_least": 2}, True),
    ({"counter": "rx_packets", "dev": "br0", "unchanged": True}, False),
]


@pytest.mark.parametrize(("check", "passes"), JUDGED, ids=[json.dumps(c) for c, _ in JUDGED])
def test_each_kind_judges_canned_answers(check, passes):
    verdict = checks.judge(check, ANSWERS)
    assert verdict.passed == passes, verdict
    if not passes:  # a failure says what was expected, in the kind's own words
        assert checks.describe(check) in verdict.problem


def test_every_kind_is_judged_both_ways_above():
    for name in checks.KINDS:
        assert {passes for check, passes in JUDGED if name in check} == {True, False}, name


def test_a_failure_says_what_is_there_instead():
    assert "up is True, not False" in checks.judge({"link": "br0", "up": False}, ANSWERS).problem
    assert "it has 2: veth1_0, veth2_0" in checks.judge({"bridge": "br0", "ports": 3}, ANSWERS).problem
    assert "namespaces now: ns1, ns2" in checks.judge({"netns": "ns3"}, ANSWERS).problem
    assert "No such file" in checks.judge({"link": "lo", "in": "gone"}, ANSWERS).detail


def test_an_answer_that_cannot_be_read_fails_the_check_with_its_words():
    broken = {Query("links"): Reading(0, [{"ifname": "br0", "mtu": 1500}])}
    verdict = checks.judge({"link": "br0", "mtu": "{{ mtu }}"}, broken)
    assert not verdict.passed and "cannot read the state for 'br0 is here, MTU {{ mtu }}'" in verdict.problem


WORDS = [
    ({"netns": "ns1"}, "namespace ns1 is present"), ({"netns": "ns1", "absent": True}, "namespace ns1 is gone"),
    ({"link": "v1", "in": "ns1", "kind": "veth", "up": True, "master": "br0", "address": "10.0.0.1/24", "mtu": 1400},
     "v1 is in ns1, a veth, UP, a port of br0, with 10.0.0.1/24, MTU 1400"),
    ({"link": "v1", "in": "ns1", "absent": True}, "v1 is gone from ns1"),
    ({"bridge": "br0", "ports": 3}, "bridge br0 has 3 ports"),
    ({"route": "default", "via": "10.0.0.1", "in": "pod"}, "route default via 10.0.0.1 in pod"),
    ({"route": "10.1.0.0/16", "absent": True}, "no route to 10.1.0.0/16"),
    ({"sysctl": "net.ipv4.ip_forward", "value": "1", "in": "r"}, "net.ipv4.ip_forward = 1 in r"),
    ({"port": 8080, "in": "srv"}, "a server listens on TCP port 8080 in srv"),
    ({"port": 8080, "absent": True}, "nothing listens on TCP port 8080"),
]


@pytest.mark.parametrize(("check", "words"), WORDS, ids=[w for _, w in WORDS])
def test_each_kind_says_itself_in_words(check, words):
    assert checks.describe(check) == words


# --- schema --------------------------------------------------------------------------------------------------

SUBJECTS = {"route": "default", "route_get": "10.0.0.1"}
VALUES = {("fdb", "state"): "learned"}
# Fields that exclude each other: a counter says one change, and is an interface's or a rule's.
EXCLUSIVE = {"counter": [("equals", "at_least", "unchanged"), ("dev", "chain")]}
TOGETHER = {"chain": ("table", "match")}


def _valid(kind: checks.CheckKind, keep: str = "") -> dict:
    """A check of this kind with every field given a valid value (of fields that exclude each other, `keep` or
    the first)."""
    values = {"true or false": True, "a number or text": "1"}
    check = {kind.name: 80 if kind.subject_type.number else SUBJECTS.get(kind.name, "x")}
    for field in kind.fields:
        check[field.name] = VALUES.get((kind.name, field.name),
                                       values.get(field.type.words, 1500 if field.type.number else "x"))
    keep = next((owner for owner, parts in TOGETHER.items() if keep in parts), keep)
    for group in EXCLUSIVE.get(kind.name, []):
        chosen = keep if keep in group else group[0]
        for other in group:
            if other != chosen:
                for dropped in (other, *TOGETHER.get(other, ())):
                    check.pop(dropped, None)
    return check


@pytest.mark.parametrize("name", list(checks.KINDS))
def test_a_check_with_every_field_valid_has_no_problems(name):
    assert checks.problems(_valid(checks.KINDS[name])) == []


@pytest.mark.parametrize(("name", "field"), [(k.name, f.name) for k in checks.KINDS.values()
                                             for f in (k.subject_field, *k.fields)])
def test_each_field_of_each_kind_refuses_a_value_of_the_wrong_type(name, field):
    kind = checks.KINDS[name]
    problems = [p for p in checks.problems({**_valid(kind, field), field: ["a list"]}) if p[0]]
    assert [f for f, _ in problems] == [field], problems
    assert "wrong type" in problems[0][1]


@pytest.mark.parametrize(("check", "field", "words"), [
    ({"link": "br0", "mtu": "1500 bytes"}, "mtu", "text ('1500 bytes') where a whole number"),
    ({"bridge": "br0", "ports": "three"}, "ports", "where a whole number"),
    ({"port": "http"}, "port", "where a whole number"),
    ({"link": "br0", "up": "true"}, "up", "text where true or false is expected"),
    ({"link": "br0", "mtu": 1.5}, "mtu", "a decimal number where a whole number"),
    ({"link": 5}, "link", "a number where text"),
    ({"link": "br0", "up": 1}, "up", "a number where true or false"),
])
def test_a_value_of_the_wrong_type_is_named_with_what_was_expected(check, field, words):
    problems = checks.problems(check)
    assert problems and problems[0][0] == field and words in problems[0][1], problems


def test_a_number_may_come_from_a_template():
    assert checks.problems({"link": "br0", "mtu": "{{ mtu }}"}) == []
    assert checks.problems({"port": "{{ port }}", "in": "srv"}) == []


@pytest.mark.parametrize(("check", "words"), [
    ({"sysctl": "net.ipv4.ip_forward"}, "needs the 'value' field"),
    ({"link": "br0", "colour": "red"}, "unknown key 'colour'; allowed: absent, address, carrier, hairpin, in, kind"),
    ({"link": "br0", "netns": "ns1"}, "names exactly one of netns, link, bridge, route, route_get, sysctl, port"),
    ({"counter": "IpForwDatagrams"}, "exactly one of equals, at_least, unchanged = true"),
    ({"counter": "IpForwDatagrams", "equals": 1, "at_least": 1}, "this one has equals and at_least"),
    ({"counter": "rx_packets", "dev": "eth0", "chain": "INPUT", "equals": 1}, "not both"),
    ({"counter": "packets", "match": "-j ACCEPT", "equals": 1}, "give the chain too"),
    ({"fdb": "veth1_0"}, "names its MAC address with `mac` or `mac_of`"),
    ({"fdb": "veth1_0", "mac": "x", "state": "dynamic"}, "is not one of learned, permanent, static"),
    ({"rule": "-j ACCEPT"}, "names its `chain`"), ({"rule": "1.2.3.4", "set": "s"}, "name the table's `family`"),
    ({"route_get": "pod2"}, "is not an IP address"),
    ({"up": True}, "names exactly one of"),
    ("link", "a state check is a table"),
    ({"route": "10.0.0.0/33"}, "is not `default`, a prefix or an address"),
])
def test_schema_problems_are_named(check, words):
    assert any(words in message for _, message in checks.problems(check)), checks.problems(check)


# --- reading the kernel's answers ----------------------------------------------------------------------------

STEP = [{"netns": "ns1"}, {"link": "a"}, {"link": "b", "up": True}, {"bridge": "br0"}, {"route": "default"},
        {"link": "c", "in": "ns1"}, {"link": "d", "in": "ns1"},
        {"sysctl": "net.ipv4.ip_forward", "value": 1, "in": "ns1"}, {"port": 80, "in": "ns1"}]


def test_checks_share_one_read_per_namespace_and_table():
    assert checks.queries(STEP) == [Query("netns"), Query("links"), Query("routes"), Query("links", "ns1"),
                                    Query("sysctl", "ns1", "net.ipv4.ip_forward"), Query("sockets", "ns1")]
    command = reader.command(checks.queries(STEP))
    # one `ip` per namespace for its tables, one to enter ns1 for what is read inside it; none for the names
    assert len(re.findall(r"(?:^|\s)ip ", command)) == 3, command
    assert command.count("ip -j -d -s -force -b - <<< $'addr show\\nroute show'") == 1
    assert command.count("ip -n ns1 -j -d -s addr show") == 1


def test_a_namespace_name_is_quoted_in_the_command():
    command = reader.command(checks.queries([{"link": "x", "in": "a b;reboot"}]))
    assert "ip -n 'a b;reboot' -j" in command


CANNED_OUTPUT = """ns1
ns2

@@nlq 0 0
[{"ifname":"lo","flags":["UP"]}]
[{"dst":"default","gateway":"10.0.0.1"}]

@@nlq 1 0

@@nlq 2 255
1

@@nlq 3 0
0.0.0.0:22 x
LISTEN 0 4096 0.0.0.0:8080 0.0.0.0:*
LISTEN 0 4096 [::]:8080 [::]:*

@@nlq 4 0

@@nlq 5 0
"""
CANNED_ERRORS = """
@@nlq 0

@@nlq 1
Cannot open network namespace "gone": No such file or directory
@@nlq 2

@@nlq 3

@@nlq 4

@@nlq 5
"""


def test_the_reader_gives_each_query_its_own_answer():
    queries = checks.queries([{"netns": "ns1"}, {"link": "lo"}, {"route": "default"}, {"link": "x", "in": "gone"},
                              {"sysctl": "net.ipv4.ip_forward", "value": 1, "in": "r"}, {"port": 8080, "in": "r"}])
    command = reader.command(queries)
    assert [int(n) for n in re.findall(r"_nlq (\d+) ", command)] == [0, 1, 2, 5, 3, 4], command
    answers = reader.parse(queries, CANNED_OUTPUT, CANNED_ERRORS)
    assert answers[Query("netns")] == Reading(0, ["ns1", "ns2"], "")
    assert answers[Query("links")].data == [{"ifname": "lo", "flags": ["UP"]}]
    assert answers[Query("routes")].data == [{"dst": "default", "gateway": "10.0.0.1"}]
    gone = answers[Query("links", "gone")]
    assert gone.status != 0 and "No such file" in gone.error
    assert answers[Query("sysctl", "r", "net.ipv4.ip_forward")] == Reading(0, "1", "")
    assert answers[Query("sockets", "r")].data == [8080, 8080]


def test_a_cut_short_answer_fails_every_query_it_lacks():
    queries = checks.queries([{"netns": "ns1"}, {"link": "lo", "in": "ns1"}])
    answers = reader.parse(queries, "ns1\n\n@@nlq 0 0\n[{}", "")
    assert answers[Query("netns")].status == 0
    assert answers[Query("links", "ns1")].status != 0


# --- expected output -----------------------------------------------------------------------------------------

NFT = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n"


def test_a_pattern_that_differs_only_in_whitespace_is_called_so():
    verdict = checks.output_verdict(("  chain input {",), NFT)
    assert not verdict.passed and "only in whitespace" in verdict.problem
    assert checks.output_verdict(("\tchain input {",), NFT).passed


def test_the_diff_shows_tabs_and_leading_spaces():
    verdict = checks.output_verdict(("  chain input {",), NFT)
    shown = "\n".join(output_diff(verdict.expected, verdict.actual))
    assert "-··chain input {" in shown and "+→chain input {" in shown and "→ is a tab" in shown
    plain = checks.output_verdict(("x",), "y\n")
    assert "tab" not in "\n".join(output_diff(plain.expected, plain.actual))


def test_an_invalid_regular_expression_is_named_as_such():
    assert checks.pattern_problem("a(b (re)").startswith("not a valid regular expression")
    assert checks.pattern_problem("a(b (glob)") == "" and checks.pattern_problem("a(b)+ (re)") == ""
    verdict = checks.output_verdict(("a(b (re)",), "a(b\n")
    assert "not a valid regular expression" in verdict.problem


# --- the generated reference ---------------------------------------------------------------------------------

def test_the_check_kinds_in_docs_authoring_are_generated_and_current():
    """Fails when a kind or field is added, renamed or reworded without `python -m netlessons.checks.reference`."""
    text = (ROOT / "docs" / "authoring.md").read_text()
    assert reference.updated(text) == text


def test_the_reference_names_every_kind_and_field():
    section = reference.markdown()
    for kind in checks.KINDS.values():
        own = section.split(f"#### `{kind.name}`")[1].split("####")[0]
        assert kind.example in own
        for field in kind.fields:
            assert f"| `{field.name}` | {'yes' if field.required else 'no'} | {field.type.words} |" in own
    assert "every_round = false" in section


def test_a_new_kind_needs_only_its_class_and_one_registry_line(monkeypatch, tmp_path):
    """A kind added to the registry is validated by the loader, described, judged and documented."""
    from netlessons.checks.base import FLAG, PASS, CheckKind, Field, Verdict
    from netlessons.loader import parse_lesson

    class NeighCheck(CheckKind):
        name = "neigh"
        subject = "an IP address"
        summary = "the neighbour table holds it"
        example = '{ neigh = "10.0.0.2" }'
        fields = (Field("permanent", FLAG, "added by hand"),)

        def queries(self, check):
            return (Query("links"),)

        def describe(self, check):
            return f"{check['neigh']} is a known neighbour"

        def judge(self, check, answers):
            return PASS if check["neigh"] == "10.0.0.2" else Verdict(False, "unknown")

    monkeypatch.setitem(checks.KINDS, "neigh", NeighCheck())
    path = tmp_path / "n.toml"
    path.write_text('id = "n"\ntitle = "t"\nsummary = "s"\n[[steps]]\nid = "a"\ntitle = "a"\nexplain = "e"\n'
                    'run = "true"\nexpect.state = [{ neigh = "10.0.0.2", permanent = true }]\n')
    check = parse_lesson(path).steps[0].expect.state[0]
    assert checks.describe(check) == "10.0.0.2 is a known neighbour" and checks.judge(check, {}).passed
    assert "#### `neigh`" in reference.markdown() and "| `permanent` | no | true or false |" in reference.markdown()
    assert checks.problems({"neigh": "x", "permanent": "yes"})[0][0] == "permanent"


# --- the new tables: route lookups in the batch, readings before the step, parsers ---------------------------

def test_a_failed_route_lookup_in_the_batch_fails_only_its_own_line():
    queries = checks.queries([{"link": "lo", "in": "o"}, {"route_get": "10.244.1.2", "in": "o", "unreachable": True},
                              {"route_get": "203.0.113.1", "in": "o"}, {"neighbour": "1.2.3.4", "in": "o"}])
    command = reader.command(queries)
    assert command.count("ip -n o -j -d -s -force -b - <<< $'addr show\\nneigh show\\nroute get 10.244.1.2\\n"
                         "route get 203.0.113.1'") == 1, command
    out = '[{"ifname":"lo"}]\n[]\n[{"dst":"203.0.113.1","dev":"eth0"}]\n\n@@nlq 0 1\n'
    err = "RTNETLINK answers: Network is unreachable\nCommand failed -:3\n\n@@nlq 0\n"
    answers = reader.parse(queries, out, err)
    assert answers[Query("route_get", "o", "10.244.1.2")].error == "RTNETLINK answers: Network is unreachable"
    assert answers[Query("route_get", "o", "203.0.113.1")].data == [{"dst": "203.0.113.1", "dev": "eth0"}]
    assert answers[Query("neighbours", "o")] == Reading(0, [])
    assert checks.judge({"route_get": "10.244.1.2", "in": "o", "unreachable": True}, answers).passed


def test_a_counter_is_read_before_the_step_and_answered_under_its_own_key():
    check = {"counter": "IpForwDatagrams", "in": "node1", "unchanged": True}
    before = checks.before([check, {"link": "x"}])
    assert before == [Query("snmp", "node1", before=True)] and checks.queries([check]) == [Query("snmp", "node1")]
    command = reader.command(before)
    assert "ip netns exec node1" in command and "_nl_snmp" in command
    answers = reader.parse(before, "\n@@nlq 1 0\n" + SNMP + "\n@@nlq 0 0\n", "")
    assert answers[Query("snmp", "node1", before=True)].data["IpForwDatagrams"] == 0
    assert checks.before([{"link": "x"}, {"conntrack": "tcp"}]) == []


def test_a_counter_without_a_reading_before_counts_from_zero():
    answers = {Query("iptables", "n"): Reading(0, tables.iptables(IPTABLES))}
    check = {"counter": "packets", "in": "n", "table": "nat", "chain": "POSTROUTING", "match": RULE_TEXT}
    assert checks.judge({**check, "equals": 2}, answers).passed
    verdict = checks.judge({**check, "unchanged": True}, answers)
    assert "from nothing (0) to 2, a change of +2" in verdict.problem


def test_the_parsers_read_the_kernels_text():
    assert tables.snmp(SNMP)["TcpExtListenDrops"] == 1 and tables.snmp(SNMP)["IcmpInEchos"] == 2
    ipv6 = tables.snmp(SNMP + "\nIp6InReceives                   \t7\nIcmp6OutEchoReplies             \t2\n")
    assert ipv6["Ip6InReceives"] == 7 and ipv6["Icmp6OutEchoReplies"] == 2 and ipv6["IcmpInEchos"] == 2
    tcp = tables.conntrack(CONNTRACK)[1]
    assert tcp.protocol == "tcp" and tcp.original["sport"] == "4242" and tcp.reply["dst"] == "203.0.113.1"
    nat = tables.iptables(IPTABLES)["nat"]
    assert nat["POSTROUTING"].rules == [(RULE_TEXT, 2, 168)] and nat["KUBE-SVC"].policy is None
    assert tables.iptables(IPTABLES)["filter"]["FORWARD"].policy == (5, 420)
    ruleset = tables.nft(NFT_RULESET)[("inet", "t")]
    assert ruleset.sets["allowed"] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert ruleset.chains["c"] == ["ip saddr 10.0.0.2 counter accept"]


NEW_WORDS = [
    ({"neighbour": "10.0.0.2", "in": "ns1", "dev": "veth1", "mac_of": "veth2", "mac_of_in": "ns2",
      "state": "REACHABLE"},
     "neighbour 10.0.0.2 on veth1 in ns1, is the MAC of veth2 in ns2, state REACHABLE"),
    ({"fdb": "veth1_0", "master": "br0", "mac_of": "veth1_1", "mac_of_in": "ns1", "state": "learned"},
     "fdb entry for the MAC of veth1_1 in ns1 on veth1_0 (bridge br0, learned)"),
    ({"conntrack": "icmp", "in": "node1", "src": "10.244.1.2", "reply_dst": "203.0.113.1"},
     "a conntrack entry icmp src=10.244.1.2; reply dst=203.0.113.1 in node1"),
    ({"rule": RULE_TEXT, "in": "node1", "table": "nat", "chain": "POSTROUTING"},
     f"rule '{RULE_TEXT}' in chain POSTROUTING of table nat in node1"),
    ({"route_get": "10.244.1.2", "in": "outside", "unreachable": True}, "no route to 10.244.1.2 in outside"),
    ({"counter": "IpForwDatagrams", "in": "node1", "unchanged": True}, "IpForwDatagrams in node1 stays unchanged"),
    ({"counter": "tx_dropped", "dev": "vx0", "at_least": 1}, "tx_dropped of vx0 rises by at least 1"),
    ({"link": "vx0", "vxlan_id": 1, "learning": False}, "vx0 is here, VNI 1, no learning"),
]


@pytest.mark.parametrize(("check", "words"), NEW_WORDS, ids=[w for _, w in NEW_WORDS])
def test_the_new_kinds_say_themselves_in_words(check, words):
    assert checks.describe(check) == words


IPV6_COUNTER = """id = "ip6-counter-probe"
title = "An IPv6 counter"
summary = "A ping to ::1 counts an ICMPv6 echo reply sent."

[params.replies]
type = "int"
default = 1
min = 0
max = 9

[[steps]]
id = "lo-up"
title = "lo up"
explain = "Loopback."
run = "{{ netns.add('a') }} && {{ link.up('lo', 'a') }}"

[[steps]]
id = "ping6"
title = "ping ::1"
explain = "One echo, one reply."
run = "{{ ping.ping('::1', 'a') }}"
expect.state = [{ counter = "Icmp6OutEchoReplies", in = "a", equals = "{{ replies }}" }]

[[cleanup]]
id = "del"
title = "del"
explain = "Gone."
run = "{{ netns.delete('a') }}"
"""


@pytest.mark.parametrize("replies,passes", [(1, True), (2, False)])
def test_ipv6_counters_are_read_from_snmp6(tmp_path, replies, passes, host_unchanged):
    """Icmp6 and Ip6 counters live in /proc/net/snmp6, not /proc/net/snmp: one ping to ::1 sends exactly one
    ICMPv6 echo reply, and a check that wants two fails."""
    (tmp_path / "ip6-counter-probe.toml").write_text(IPV6_COUNTER)
    result = netlessons("run", "ip6-counter-probe", "--lessons-dir", str(tmp_path), "--set", f"replies={replies}")
    assert result.returncode == (0 if passes else 1), result.stdout + result.stderr
