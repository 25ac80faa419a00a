"""What the dual-stack and loadbalancer-l2 lessons claim and their own steps cannot prove alone, measured on the real
kernel with small probe lessons of two namespaces (each runs in a second or two):

- a gratuitous ARP (the `neigh.announce` macro) rewrites a neighbour entry that exists, and creates none;
- a fresh IPv6 address is not answered while duplicate address detection runs, and that is the only reason:
  the same ping succeeds when the interface does no DAD (accept_dad = 0);
- the node that asked for that address in vain goes on asking after the ping, and once the address is usable
  its question teaches the pod the node's MAC (so dual-stack's `ndp` step flushes the node's entry first, or it
  might see no solicitation); flushing the node's entry stops the asking;
- (a known gap) the `route` check cannot see IPv6 routes yet, which is why the lessons use `route_get`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import netlessons

TWO_ENDS = '''
[[steps]]
id = "ends"
title = "Two namespaces joined by a veth pair"
explain = "a and b."
run = """{{ netns.add('a') }} && {{ netns.add('b') }}
{{ veth.add('ea', 'eb', 'a', peer_ns='b') }}
{{ link.up('ea', 'a') }} && {{ link.up('eb', 'b') }}"""
expect.state = [{ link = "eb", in = "b", up = true }]
'''

GARP = '''id = "garp-probe"
title = "A gratuitous ARP updates, never creates"
summary = "b announces 10.0.0.9 twice: once to a neighbour table without an entry, once to one with a wrong one."
''' + TWO_ENDS + '''
[[steps]]
id = "addresses"
title = "Addresses"
explain = "One subnet."
run = "{{ addr.add('10.0.0.1/24', 'ea', 'a') }} && {{ addr.add('10.0.0.9/24', 'eb', 'b') }}"

[[steps]]
id = "announce-unknown"
title = "b announces 10.0.0.9 to a, which has no entry for it"
explain = "arp_accept is 0: no entry is made."
run = "{{ neigh.announce('10.0.0.9', 'eb', 'b') }}"
expect.state = [{ neighbour = "10.0.0.9", in = "a", absent = true }]

[[steps]]
id = "wrong-entry"
title = "a believes 10.0.0.9 is elsewhere"
explain = "A stale entry, as after a failover."
run = "ip -n a neigh replace 10.0.0.9 lladdr 02:00:00:00:00:99 dev ea nud reachable"
expect.state = [{ neighbour = "10.0.0.9", in = "a", mac = "02:00:00:00:00:99" }]

[[steps]]
id = "announce-known"
title = "b announces 10.0.0.9 again"
explain = "The existing entry takes b's MAC."
run = "{{ neigh.announce('10.0.0.9', 'eb', 'b') }}"
expect.state = [{ neighbour = "10.0.0.9", in = "a", mac_of = "eb", mac_of_in = "b" }]
'''

DAD = '''id = "dad-probe"
title = "A tentative address is not answered"
summary = "b adds an IPv6 address with DAD on (5 probes) or off, and a pings it at once."

[params.accept_dad]
type = "int"
default = 1
min = 0
max = 1
''' + TWO_ENDS + '''
[[steps]]
id = "addresses"
title = "a gets fd00::1 at once; b probes {{ accept_dad }}"
explain = "Only b's address is tested."
run = """{{ addr.add('fd00::1/64', 'ea', 'a') }} nodad
{{ sysctl.set('net.ipv6.conf.eb.dad_transmits', 5, 'b') }}
{{ sysctl.set('net.ipv6.conf.eb.accept_dad', accept_dad, 'b') }}
{{ addr.add('fd00::2/64', 'eb', 'b') }}"""

[[steps]]
id = "ping"
title = "a pings fd00::2 at once"
explain = "It fails only while the address is tentative."
run = "{{ ping.ping('fd00::2', 'a', wait=2, reply=false) }}"
'''

LATE_QUESTION = '''id = "late-question-probe"
title = "A question left from a failed ping"
summary = "a pings b's tentative address, b makes it usable, and a's pending question teaches b a's MAC."

[params.flush]
type = "int"
default = 0
min = 0
max = 1
''' + TWO_ENDS + '''
[[steps]]
id = "addresses"
title = "a gets fd00::1 at once, b's fd00::2 stays tentative"
explain = "Five DAD probes keep it tentative for about five seconds."
run = """{{ addr.add('fd00::1/64', 'ea', 'a') }} nodad
{{ sysctl.set('net.ipv6.conf.eb.dad_transmits', 5, 'b') }}
{{ addr.add('fd00::2/64', 'eb', 'b') }}"""

[[steps]]
id = "ping"
title = "a pings fd00::2, unanswered"
explain = "a's neighbour entry for fd00::2 stays INCOMPLETE, and a asks again every second."
run = "{{ ping.ping('fd00::2', 'a', wait=1, reply=false) }}"
expect.status = "failure"
expect.state = [{ neighbour = "fd00::2", in = "a", state = "INCOMPLETE" }]

[[steps]]
id = "usable"
title = "{{ 'a forgets its question, and ' if flush else '' }}b adds fd00::2 again with nodad"
explain = "Both flushes come before the address is usable, so nothing b learns after it is undone."
run = """{% if flush %}ip -6 -n a neigh flush dev ea && {% endif %}ip -n b neigh flush dev eb && ip -n b addr del \
fd00::2/64 dev eb && {{ addr.add('fd00::2/64', 'eb', 'b') }} nodad"""

[[steps]]
id = "later"
title = "Two seconds later, has b learnt a's MAC?"
explain = "b sends a nothing: only a's own solicitation, which carries a's MAC, can teach it."
run = "sleep 2.2"
expect.state = [{ neighbour = "fd00::1", in = "b", absent = true }]
'''

ROUTE6 = '''id = "route6-probe"
title = "The route check and an IPv6 route"
summary = "a has a route to fd00:1::/64 via fd00::2; the route check should see it."
''' + TWO_ENDS + '''
[[steps]]
id = "route"
title = "A route to fd00:1::/64"
explain = "An IPv6 route with a gateway."
run = "{{ addr.add('fd00::1/64', 'ea', 'a') }} nodad && {{ route.add('fd00:1::/64', via='fd00::2', ns='a') }}"
expect.state = [{ route = "fd00:1::/64", in = "a", via = "fd00::2" }]
'''


def _run(tmp_path: Path, text: str, *args: str) -> dict:
    lesson_id = text.split('"', 2)[1]
    (tmp_path / f"{lesson_id}.toml").write_text(text)
    result = netlessons("run", lesson_id, "--lessons-dir", str(tmp_path), "--json", *args, timeout=120)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _step(report: dict, step_id: str) -> dict:
    return next(s for s in report["steps"] if s["id"] == step_id)


def test_a_gratuitous_arp_rewrites_an_existing_entry_and_creates_none(tmp_path):
    report = _run(tmp_path, GARP)
    assert report["passed"] is True, json.dumps(report, indent=1)[-3000:]
    assert [s["passed"] for s in report["steps"]] == [True] * 5


@pytest.mark.parametrize("accept_dad, answered", [(1, False), (0, True)])
def test_only_dad_keeps_a_fresh_ipv6_address_from_answering(tmp_path, accept_dad, answered):
    report = _run(tmp_path, DAD, "--set", f"accept_dad={accept_dad}")
    ping = _step(report, "ping")
    assert ("1 received" in ping["stdout"]) is answered, ping["stdout"]
    assert ping["exit_status"] == (0 if answered else 1)


@pytest.mark.parametrize("flush", [0, 1])
def test_a_question_left_from_a_failed_ping_teaches_the_pod_unless_flushed(tmp_path, flush):
    """Why dual-stack's `ndp` step flushes node1's IPv6 entries too: without that, node1's late solicitation
    could fill pod1's table between pod1's flush and its ping, and the step would see no solicitation."""
    report = _run(tmp_path, LATE_QUESTION, "--set", f"flush={flush}")
    assert [s["passed"] for s in report["steps"][:-1]] == [True] * 4, json.dumps(report, indent=1)[-3000:]
    later = _step(report, "later")
    assert later["passed"] is bool(flush), json.dumps(later, indent=1)


def test_the_route_check_sees_an_ipv6_route(tmp_path):
    report = _run(tmp_path, ROUTE6)
    assert report["passed"] is True, json.dumps(report, indent=1)[-2000:]
