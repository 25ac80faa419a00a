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
from tests.helpers import ROOT

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
ANSWERS = {
    Query("netns"): Reading(0, ["ns1", "ns2"]),
    Query("links"): Reading(0, LINKS),
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

def _valid(kind: checks.CheckKind) -> dict:
    """A check of this kind with every field given a valid value."""
    values = {"true or false": True, "a number or text": "1"}
    check = {kind.name: 80 if kind.subject_type.number else "default" if kind.name == "route" else "x"}
    for field in kind.fields:
        check[field.name] = values.get(field.type.words, 1500 if field.type.number else "x")
    return check


@pytest.mark.parametrize("name", list(checks.KINDS))
def test_a_check_with_every_field_valid_has_no_problems(name):
    assert checks.problems(_valid(checks.KINDS[name])) == []


@pytest.mark.parametrize(("name", "field"), [(k.name, f.name) for k in checks.KINDS.values()
                                             for f in (k.subject_field, *k.fields)])
def test_each_field_of_each_kind_refuses_a_value_of_the_wrong_type(name, field):
    kind = checks.KINDS[name]
    problems = checks.problems({**_valid(kind), field: ["a list"]})
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
    ({"link": "br0", "colour": "red"}, "unknown key 'colour'; allowed: absent, address, in, kind, link, master, mtu"),
    ({"link": "br0", "netns": "ns1"}, "names exactly one of netns, link, bridge, route, sysctl, port"),
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
    assert command.count("ip -j -d -b - <<< $'addr show\\nroute show'") == 1
    assert command.count("ip -n ns1 -j -d addr show") == 1


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
