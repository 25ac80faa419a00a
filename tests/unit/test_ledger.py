"""The ledger's pure logic: the probe text a step is wrapped in, reading the probes' records back out of a
step's output, and what a ledger's records prove."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from netlessons.ledger import LEDGER_FAILED, PROOF, _Proofs, identity_probes, take_proofs, with_probes
from netlessons.lesson import Owned

LEDGER = Path("/run/netlessons/run 1.ledger")


def test_a_link_in_a_namespace_of_this_run_needs_no_proof():
    before, after = identity_probes([Owned("link", "veth0", "ns1")], {"ns1"}, LEDGER)
    assert before == after == ""


def test_a_host_link_is_proven_by_an_ifindex_above_what_was_there_before():
    before, after = identity_probes([Owned("link", "br0")], set(), LEDGER)
    assert before.startswith("__nl_floor0=$(ip -o link show")
    assert "ip -o link show dev br0" in after and '-gt "${__nl_floor0:-0}"' in after
    assert shlex.quote(str(LEDGER)) in after  # the ledger's path, quoted: it holds a space


def test_a_link_in_a_namespace_not_of_this_run_also_proves_that_namespace():
    before, after = identity_probes([Owned("link", "v1", "other ns")], set(), LEDGER)
    assert "ip -n 'other ns' -o link show" in before
    assert "stat -L -c %i '/run/netns/other ns'" in before and '"netns_of": "other ns"' in before
    assert "ip -n 'other ns' -o link show dev v1" in after


def test_one_floor_per_namespace_however_many_links():
    before, _ = identity_probes([Owned("link", "a"), Owned("link", "b"), Owned("link", "c", "x")], set(), LEDGER)
    assert before.count("__nl_floor0=") == 1 and before.count("__nl_floor1=") == 1 and "__nl_floor2" not in before


def test_a_namespace_a_process_and_a_file_each_leave_their_identity():
    _, after = identity_probes([Owned("netns", "ns1"), Owned("process", "web", "ns1"), Owned("file", "/etc/x y")],
                               set(), LEDGER)
    assert "stat -L -c %i /run/netns/ns1" in after
    assert "cat \"$LAB\"/web.pid" in after and '"pid": %s, "start": "%s"' in after
    assert "stat -c %d:%i '/etc/x y'" in after and "[ ! -L '/etc/x y' ]" in after


def test_the_new_folders_above_a_file_are_recorded_before_the_step():
    before, _ = identity_probes([Owned("file", "/etc/netns/pod1/resolv.conf")], set(), LEDGER)
    assert before.index("/etc/netns/pod1 ]") < before.index("/etc/netns ]")  # the deepest first
    assert "[ -e /etc ]" not in before  # a top-level folder is never ours


def test_names_reach_the_ledger_as_json_made_here():
    _, after = identity_probes([Owned("netns", 'ns"1')], set(), LEDGER)
    assert shlex.quote(json.dumps({"made": "netns", "name": 'ns"1', "netns": ""})[:-1] + ", ") in after


def test_with_probes_keeps_the_commands_status_and_leaves_a_bare_command_alone():
    assert with_probes("true", "", "") == "true"
    wrapped = with_probes("false", "BEFORE", "AFTER")
    assert wrapped.splitlines() == ["BEFORE", "{ false", "}", "__nl_s=$?", "AFTER", "(exit $__nl_s)"]


def test_records_are_taken_out_and_the_rest_kept_in_order():
    stdout = (f"one\n{PROOF}{{\"made\": \"netns\", \"name\": \"a\", \"inode\": 5}}\n"
              f"{PROOF}not json\n{PROOF}[1, 2]\ntwo\n{LEDGER_FAILED}\nthree")
    kept, proofs, failed = take_proofs(stdout)
    assert kept == "one\ntwo\nthree"
    assert proofs == [{"made": "netns", "name": "a", "inode": 5}]  # broken and non-object records dropped
    assert failed


def test_output_without_records_is_left_as_it_is():
    assert take_proofs("a\nb\n") == ("a\nb\n", [], False)


def test_proofs_sort_the_records_by_what_they_prove():
    proofs = _Proofs.read([
        {"made": "link", "name": "br0", "netns": "", "ifindex": 7},
        {"netns_of": "ns9", "inode": 11},
        {"netns_of": "ns9", "inode": 12},  # a later record cannot replace what the first one proved
        {"newdir": "/etc/netns/pod1", "for": "/etc/netns/pod1/resolv.conf"},
        {"lab": "/run/netlessons/lab.1"},
        {"something": "else"},
    ])
    assert proofs.of(Owned("link", "br0")) == {"made": "link", "name": "br0", "netns": "", "ifindex": 7}
    assert proofs.of(Owned("link", "br0", "ns1")) is None  # the same name elsewhere is not proven
    assert proofs.namespaces_of_links == {"ns9": 11}
    assert proofs.new_dirs == ["/etc/netns/pod1"] and proofs.labs == ["/run/netlessons/lab.1"]
