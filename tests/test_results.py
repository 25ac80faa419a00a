"""`netlessons results`: the result files of real challenges summed up in one table; a file that is not a result
stops it with one message and exit 2, before anything is printed."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import netlessons


@pytest.fixture(scope="module")
def handed_in(tmp_path_factory):
    """Two students' result files from real challenges of veth-pair: one solved with a hint, one given up."""
    folder = tmp_path_factory.mktemp("results")
    alice = netlessons("challenge", "veth-pair", "--fault", "peer-down", "-o", str(folder / "alice.json"),
                       input="netlessons hint\nip -n ns2 link set veth2 up\nexit\n")
    bob = netlessons("challenge", "veth-pair", "--seed", "4", "--json", input="")
    assert alice.returncode == 0 and bob.returncode == 1, alice.stderr + bob.stderr
    (folder / "bob.json").write_text(bob.stdout)
    return folder


def test_results_table_and_totals(handed_in):
    bob = json.loads((handed_in / "bob.json").read_text())
    shown = netlessons("results", str(handed_in / "alice.json"), str(handed_in / "bob.json"))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["student", "lesson", "fault(s)", "seed", "solved", "hints", "time"]
    alice_row = next(line for line in lines if line.startswith("alice")).split()
    bob_row = next(line for line in lines if line.startswith("bob")).split()
    assert alice_row[1:6] == ["veth-pair", "peer-down", "-", "yes", "1"]
    assert bob_row[1:6] == ["veth-pair", bob["fault"], "4", "no", "0"]
    assert "1 of 2 solved, 1 hints used" in shown.stdout

    data = json.loads(netlessons("results", "--json", str(handed_in / "alice.json"),
                                 str(handed_in / "bob.json")).stdout)
    assert [r["student"] for r in data["results"]] == ["alice", "bob"]
    assert data["totals"]["solved"] == 1 and data["totals"]["not_solved"] == 1 and data["totals"]["hints_used"] == 1
    assert data["results"][1]["faults"] == [bob["fault"]] and data["results"][1]["seed"] == 4


@pytest.mark.parametrize("content, says", [
    ("not json at all", "not JSON"),
    ('{"passed": true, "goals": []}', "'lesson' missing or wrong"),  # `netlessons check --json`: foreign
    ('[1, 2]', "not a JSON object"),
    ('{"lesson": "veth-pair", "fault": "x", "solved": "yes", "hints_used": 0, "seconds": 1, "goals": []}',
     "'solved' missing or wrong"),
])
def test_a_bad_file_stops_it_all(handed_in, tmp_path, content, says):
    bad = tmp_path / "carol.json"
    bad.write_text(content)
    shown = netlessons("results", str(handed_in / "alice.json"), str(bad), str(handed_in / "bob.json"))
    assert shown.returncode == 2 and shown.stdout == ""  # nothing half printed
    assert shown.stderr.count("netlessons: error:") == 1 and str(bad) in shown.stderr and says in shown.stderr
    assert "Traceback" not in shown.stderr


def test_missing_file_and_folder(handed_in, tmp_path):
    missing = netlessons("results", str(handed_in / "alice.json"), str(tmp_path / "nobody.json"))
    assert missing.returncode == 2 and missing.stdout == "" and "no such file" in missing.stderr
    folder = tmp_path / "dave.json"
    folder.mkdir()
    shutil.copy(handed_in / "alice.json", tmp_path / "alice.json")
    as_folder = netlessons("results", str(tmp_path / "alice.json"), str(folder))
    assert as_folder.returncode == 2 and as_folder.stdout == "" and "a folder" in as_folder.stderr
