"""A handout of one step, and a lesson that shows its MAC addresses (issue 13, finding 11)."""

from __future__ import annotations

import re

from tests.helpers import netlessons

FIXED_MACS = """id = "fixed-macs"
title = "MAC addresses a lesson sets itself"
summary = "A veth pair whose ends get MAC addresses chosen by the lesson, so its handout may show them."

[handout]
show = ["macs"]

[[steps]]
id = "pair"
title = "A veth pair with chosen MAC addresses"
explain = "Both ends get a locally administered address of our choosing."
run = "ip link add va address 0a:00:00:00:00:01 type veth peer name vb address 0a:00:00:00:00:02"

[[steps]]
id = "show"
title = "Show the pair"
explain = "The addresses are the ones we chose."
run = "ip -br link show va"
expect.output = ["va@vb * 0a:00:00:00:00:01 * (glob)"]
"""


def test_a_lesson_can_show_the_mac_addresses_it_sets(tmp_path):
    (tmp_path / "fixed-macs.toml").write_text(FIXED_MACS)
    shown = netlessons("export", "fixed-macs", "--lessons-dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    output_line = re.compile(r"^va@vb\s+\S+\s+(\S+)", re.M)  # the output of `ip -br link show va`
    assert output_line.search(shown.stdout).group(1) == "0a:00:00:00:00:01"
    (tmp_path / "fixed-macs.toml").write_text(FIXED_MACS.replace('show = ["macs"]', "show = []"))
    masked = netlessons("export", "fixed-macs", "--lessons-dir", str(tmp_path))
    assert output_line.search(masked.stdout).group(1) == "xx:xx:xx:xx:xx:xx"


def test_handout_show_takes_only_what_can_be_shown(tmp_path):
    (tmp_path / "fixed-macs.toml").write_text(FIXED_MACS.replace('show = ["macs"]', 'show = ["secrets"]'))
    result = netlessons("validate", str(tmp_path / "fixed-macs.toml"))
    assert result.returncode == 2 and "'secrets' is not one of macs, times" in result.stderr


def test_export_of_one_step_holds_that_step_alone():
    result = netlessons("export", "veth-pair", "--step", "12")
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^### (\d+)\. ", result.stdout, re.M)
    assert steps == ["12"], steps
