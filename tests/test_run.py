"""`netlessons run` on the real kernel, in the sandbox: as root, as an ordinary user, and with a broken lesson."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.helpers import LESSONS, ROOT, as_nobody, netlessons, without_tools


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_passes_in_the_sandbox(lesson, host_unchanged):
    result = netlessons("run", lesson)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


def test_iproute2_flavor_passes_without_brctl(host_unchanged):
    """brctl hidden (a private mount namespace covers it): the iproute2 flavor needs only ip, bridge and ping."""
    no_brctl = without_tools(["brctl"], "run", "bridge-3ns")
    assert no_brctl.returncode == 3, no_brctl.stdout + no_brctl.stderr
    assert "brctl" in no_brctl.stderr and "bridge-utils" in no_brctl.stderr and "--flavor iproute2" in no_brctl.stderr
    result = without_tools(["brctl"], "run", "bridge-3ns", "--flavor", "iproute2")
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_report_has_one_entry_per_step():
    result = netlessons("run", "bridge-3ns", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True and report["mode"] == "sandbox"
    assert len(report["steps"]) == report["steps_total"] == 36
    for step in report["steps"]:
        assert {"command", "exit_status", "passed", "stdout", "stderr", "duration"} <= set(step)
    ping = next(s for s in report["steps"] if s["id"] == "ping-1-2")
    assert "64 bytes from 10.0.0.2" in ping["stdout"]


def test_junit_report_is_valid_xml(tmp_path):
    path = tmp_path / "report.xml"
    result = netlessons("run", "netns-basics", "--junit", str(path))
    assert result.returncode == 0
    suite = ElementTree.parse(path).getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == 10


def _broken_bridge_lesson(tmp_path: Path) -> Path:
    """bridge-3ns with one wrong expectation: ns3 is said to get host number 4."""
    text = (ROOT / "lessons" / "bridge-3ns.toml").read_text()
    wrong = "{{ host(subnet, i + (1 if i == 3 else 0)) }}"
    text = text.replace('address = "{% if part == \'address\' %}{{ host(subnet, i) }}{% endif %}"',
                        'address = "{% if part == \'address\' %}' + wrong + '{% endif %}"')
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "bridge-3ns.toml").write_text(text)
    return folder


def test_wrong_expectation_fails_at_that_step(tmp_path, host_unchanged):
    folder = _broken_bridge_lesson(tmp_path)
    result = netlessons("run", "bridge-3ns", "--lessons-dir", str(folder))
    assert result.returncode == 1
    failed = re.search(r"^Step (\d+\.\d+) \(configure-3-address\) failed", result.stdout, re.M)
    assert failed, result.stdout
    assert re.search(rf"^\[\s*{failed.group(1)}/\d+\] FAIL .* 10\.0\.0\.3/24 dev veth3_1$", result.stdout, re.M)
    assert "10.0.0.4/24" in result.stdout and "10.0.0.3/24" in result.stdout
    assert f"FAILED at step {failed.group(1)}: 26 of 36 commands passed" in result.stdout
    assert "Next lesson" not in result.stdout


def test_wrong_output_shows_expected_against_actual(tmp_path):
    lesson = (ROOT / "lessons" / "netns-basics.toml").read_text().replace(
        '"1: lo: <LOOPBACK> mtu 65536', '"1: lo: <LOOPBACK,UP> mtu 65536')
    (tmp_path / "netns-basics.toml").write_text(lesson)
    result = netlessons("run", "netns-basics", "--lessons-dir", str(tmp_path), "--json")
    assert result.returncode == 1
    failed = [s for s in json.loads(result.stdout)["steps"] if not s["passed"]]
    assert [s["id"] for s in failed] == ["links-in-ns1"]
    assert "1: lo: <LOOPBACK,UP> mtu 65536" in failed[0]["detail"]
    live = netlessons("run", "netns-basics", "--lessons-dir", str(tmp_path))
    assert "expected vs actual output" in live.stdout and "-1: lo: <LOOPBACK,UP>" in live.stdout


def test_an_expected_failure_must_fail(tmp_path):
    lesson = (ROOT / "lessons" / "netns-basics.toml").read_text().replace(
        "run = \"{{ ping.ping('127.0.0.1', ns1, reply=false) }}\"\nexplain = \"\"\"With its only",
        "run = \"{{ link.up('lo', ns1) }}\"\nexplain = \"\"\"With its only")
    (tmp_path / "netns-basics.toml").write_text(lesson)
    result = netlessons("run", "netns-basics", "--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    assert "expected this command to fail" in result.stdout


# --- as an ordinary user ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_passes_as_an_ordinary_user(lesson, ordinary_user_copy, host_unchanged):
    result = as_nobody(ordinary_user_copy, "run", lesson)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


def test_host_mode_needs_root(ordinary_user_copy):
    if os.geteuid() != 0:
        pytest.skip("already an ordinary user: covered by running the suite")
    result = as_nobody(ordinary_user_copy, "run", "netns-basics", "--host")
    assert result.returncode == 3
    assert "needs root" in result.stderr


def test_bridge_n_scales_to_fifty_namespaces(host_unchanged):
    result = netlessons("run", "bridge-n", "--set", "n=50", "--json", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    pings = [s for s in report["steps"] if s["id"].startswith("ping-")]
    assert len(pings) == 49 and all(s["passed"] for s in pings)
    assert "64 bytes from 10.0.0.50" in pings[-1]["stdout"]


def test_bridge_n_iproute2_flavor_with_another_subnet(host_unchanged):
    result = netlessons("run", "bridge-n", "--set", "n=12", "--set", "subnet=192.168.50.0/28", "--flavor", "iproute2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_bridge_n_refuses_a_subnet_too_small():
    result = netlessons("print", "bridge-n", "--set", "n=20", "--set", "subnet=10.0.0.0/28")
    assert result.returncode == 2
    assert "has no host number" in result.stderr


def test_ctrl_c_says_interrupted_not_failed(host_unchanged):
    import signal

    process = subprocess.Popen([sys.executable, "-m", "netlessons", "run", "two-nodes-routed"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("["):  # the lesson's own steps have begun
            process.send_signal(signal.SIGINT)
            break
    rest, err = process.communicate(timeout=120)
    text = "".join(seen) + rest
    assert process.returncode == 130, text + err
    done = re.search(r"^INTERRUPTED after (\d+) of (\d+) commands, during step \d+", text, re.M)
    assert done and 0 < int(done.group(1)) < int(done.group(2)), text
    assert "FAILED" not in text and "PASSED" not in text and "Next lesson" not in text


# --- state checks on the real kernel ---------------------------------------------------------------------------

COUNTED = '''id = "counted"
title = "Many checks, few reads"
summary = "Checks of one step share their reads of the kernel."

[[steps]]
id = "build"
title = "Build"
explain = "Objects to check."
run = """{{ netns.add('ns1') }} && {{ veth.add('a0', 'a1') }} && {{ veth.add('b0', 'b1') }} && \\
{{ link.to_netns('b1', 'ns1') }}"""

[[steps]]
id = "count"
title = "Count the ip commands from here on"
explain = "A wrapper of ip that leaves a line per call, first on the lab shell's PATH."
run = """real=$(command -v ip) && mkdir -p "$LAB/bin" && \\
printf '#!/bin/sh\\\\necho x >> %s/ip.log\\\\nexec %s "$@"\\\\n' "$LAB" "$real" > "$LAB/bin/ip" && \\
chmod +x "$LAB/bin/ip" && export PATH="$LAB/bin:$PATH" && : > "$LAB/ip.log\""""

[[steps]]
id = "check"
title = "Six checks in two namespaces"
explain = "All of them are true already."
run = "true"
expect.state = [
  { netns = "ns1" }, { link = "a0", kind = "veth" }, { link = "a1", up = false }, { link = "b0" },
  { link = "b1", in = "ns1", kind = "veth" }, { link = "lo", in = "ns1", up = false },
]

[[steps]]
id = "read"
title = "How many"
explain = "One ip for each namespace's links; the namespace names cost none."
run = "wc -l < \\"$LAB/ip.log\\""
expect.output = ["2"]
'''


def test_a_steps_checks_read_each_namespace_once(tmp_path, host_unchanged):
    """Six checks in two namespaces start `ip` twice (once per namespace), where one read per check took six."""
    (tmp_path / "counted.toml").write_text(COUNTED)
    result = netlessons("run", "counted", "--lessons-dir", str(tmp_path), "--json")
    steps = json.loads(result.stdout)["steps"]
    assert result.returncode == 0, [(s["id"], s["problem"], s["stdout"], s["stderr"]) for s in steps]
    assert [s["stdout"].strip() for s in steps if s["id"] == "read"] == ["2"]


LOOP = '''id = "loop"
title = "A loop that misses one"
summary = "The second round makes nothing."

[[steps]]
id = "add"
title = "Namespace {{ i }}"
foreach = "i in [1, 2, 3]"
explain = "The second round forgets its namespace."
run = "{% if i == 2 %}true{% else %}{{ netns.add('n' ~ i) }}{% endif %}"
expect.state = [{ netns = "n{{ i }}" }]
'''


def test_a_loop_is_checked_after_every_round(tmp_path, host_unchanged):
    """By default each round's check sees its own object: the round that made nothing fails; with
    every_round = false only the last round is checked, and the run cannot notice (validate warns of it)."""
    (tmp_path / "loop.toml").write_text(LOOP)
    result = netlessons("run", "loop", "--lessons-dir", str(tmp_path), "--json")
    assert result.returncode == 1
    failed = [s for s in json.loads(result.stdout)["steps"] if not s["passed"]]
    assert [s["id"] for s in failed] == ["add-2"] and "namespace n2 is present" in failed[0]["problem"]
    (tmp_path / "loop.toml").write_text(LOOP + "expect.every_round = false\n")
    assert netlessons("run", "loop", "--lessons-dir", str(tmp_path)).returncode == 0


TABS = '''id = "tabs"
title = "Tabs"
summary = "Output indented with a tab."

[[steps]]
id = "print"
title = "Print"
explain = "nft indents with tabs."
run = "printf 'table inet t {\\\\n\\\\tchain c {\\\\n'"
expect.output = ["table inet t {", "  chain c {"]
'''


def test_a_whitespace_mismatch_is_shown_in_the_diff(tmp_path):
    (tmp_path / "tabs.toml").write_text(TABS)
    result = netlessons("run", "tabs", "--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    assert "differs from it only in whitespace" in result.stdout
    assert "-··chain c {" in result.stdout and "+→chain c {" in result.stdout, result.stdout
    (tmp_path / "tabs.toml").write_text(TABS.replace('"  chain c {"', '"\\tchain c {"'))
    assert netlessons("run", "tabs", "--lessons-dir", str(tmp_path)).returncode == 0
