"""The CLI through Typer's CliRunner: list, print, explain, and readable errors for bad input."""

from __future__ import annotations

import functools
import json
import re
import sys

import typer.main
from typer.testing import CliRunner

from netlessons import cli
from netlessons.cli import app
from tests.helpers import LESSONS

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_list_shows_the_lessons():
    result = invoke("list")
    assert result.exit_code == 0
    for lesson in LESSONS:
        assert lesson in result.stdout
    assert "bridge-utils" in result.stdout  # bridge-3ns needs brctl


def test_list_json_has_parameters_and_needs():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert set(LESSONS) <= set(rows)
    bridge = rows["bridge-3ns"]
    assert bridge["needs"] == ["brctl", "ip", "ping", "tcpdump", "python3"]  # its pings are captured
    assert "bridge-utils" in bridge["packages"]
    assert {"name": "br", "type": "ifname", "default": "br0"}.items() <= bridge["parameters"][0].items()
    assert rows["veth-pair"]["prerequisites"] == ["netns-basics"]


def test_unknown_lesson_exits_2_with_a_suggestion():
    result = invoke("print", "bridge3ns")
    assert result.exit_code == 2
    assert "no lesson named 'bridge3ns'" in result.stderr
    assert "did you mean bridge-3ns?" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_nosuch_lists_the_available_lessons():
    result = invoke("print", "nosuch")
    assert result.exit_code == 2
    for lesson in LESSONS:
        assert lesson in result.stderr


def test_explain_names_every_step_with_an_explanation():
    result = invoke("explain", "bridge-3ns")
    assert result.exit_code == 0
    steps = re.findall(r"^Step (\d+)\. (.+)$", result.stdout, re.M)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    assert len(steps) >= 12
    blocks = re.split(r"^Step \d+\. ", result.stdout, flags=re.M)[1:]
    for block in blocks:
        explanation = [line for line in block.splitlines()[1:] if line.startswith("    ") and not
                       line.startswith("    $") and not line.startswith("    You should")]
        assert explanation, f"step without explanation: {block.splitlines()[0]}"
    assert "You should see" in result.stdout
    assert "brctl addbr br0" in result.stdout


def test_explain_surfaces_the_errata():
    text = invoke("explain", "veth-pair").stdout + invoke("explain", "netns-basics").stdout
    assert text.count("Erratum:") >= 4
    assert "cut" in text or "stops after `ip addr add`" in text


def test_bad_parameter_names_the_rule():
    result = invoke("print", "bridge-3ns", "--set", "br=veth1_0x12345678")
    assert result.exit_code == 2
    assert "at most 15 bytes" in result.stderr


def test_unknown_parameter_is_named():
    result = invoke("print", "bridge-3ns", "--set", "bridge=br1")
    assert result.exit_code == 2
    assert "no parameter 'bridge'" in result.stderr


def test_set_changes_the_commands():
    result = invoke("print", "bridge-3ns", "--set", "br=lab0", "--set", "subnet=192.168.7.0/24")
    assert result.exit_code == 0
    assert "brctl addbr lab0" in result.stdout
    assert "ip netns exec ns3 ip addr add 192.168.7.3/24 dev veth3_1" in result.stdout


def test_flavor_on_a_lesson_without_bridges_is_refused():
    result = invoke("print", "netns-basics", "--flavor", "iproute2")
    assert result.exit_code == 2
    assert "no bridge flavors" in result.stderr


def test_keep_without_host_is_refused_before_anything_runs():
    result = invoke("run", "bridge-3ns", "--keep")
    assert result.exit_code == 2
    assert "--keep needs --host" in result.stderr


def test_help_documents_exit_codes():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "130" in result.stdout and "environment problem" in result.stdout


def test_doctor_passes_here_and_names_bridge_utils_when_brctl_is_missing():
    from tests.helpers import without_tools

    assert invoke("doctor").exit_code == 0
    missing = without_tools(["brctl"], "doctor")
    assert missing.returncode == 0, missing.stdout + missing.stderr
    assert "bridge-utils" in missing.stdout
    report = json.loads(without_tools(["brctl"], "doctor", "--json").stdout)
    assert report["can_run_lessons"] is True


def test_explain_names_packages_as_list_does_and_keeps_lines_short():
    listed = {row["id"]: row for row in json.loads(invoke("list", "--json").stdout)}
    for lesson in ("netns-basics", "bridge-3ns", "clusterip-kube-proxy"):
        text = invoke("explain", lesson).stdout
        assert f"Needs the packages: {', '.join(listed[lesson]['packages'])}" in text
        parameters = text.split("Parameters (change them with --set NAME=VALUE):\n", 1)[1].split("\n\n", 1)[0]
        assert all(len(line) <= 100 for line in parameters.splitlines()), parameters
        rules = [line for line in parameters.splitlines() if line.startswith("    - ")]
        assert len(rules) == len(set(rules))  # each rule said once, not once per parameter


def test_explain_wraps_to_a_narrow_terminal():
    from netlessons.explain import render_explanation
    from tests.helpers import rendered

    narrow = render_explanation(rendered("veth-pair"), width=60)
    prose = [line for line in narrow.splitlines() if line.startswith("  ") and
             not line.lstrip().startswith(("$", "2.1 $", "2.2 $", "- a line"))]  # headings and commands stay whole
    assert prose and max(len(line) for line in prose) <= 60
    assert max(len(line) for line in render_explanation(rendered("veth-pair")).splitlines()) > 60


def test_a_command_line_builds_only_the_command_it_names(monkeypatch, capsys):
    """typer turns every registered command into a click command before parsing: main() gives it only the one
    named first on the command line, with the same output as the whole app; anything else gets the whole app."""
    def output(call) -> tuple[int, str]:
        try:
            call()
        except SystemExit as e:
            return e.code, capsys.readouterr().out
        raise AssertionError("typer always exits")

    named = [("print", "bridge-3ns"), ("print", "--help")]
    whole = {args: output(functools.partial(app, list(args), prog_name="netlessons")) for args in named}
    built: list[str] = []
    make = typer.main.get_command_from_info
    monkeypatch.setattr(typer.main, "get_command_from_info",
                        lambda **kwargs: built.append(kwargs["command_info"].name) or make(**kwargs))

    def main(*args: str) -> tuple[int, str]:
        built.clear()
        monkeypatch.setattr(sys, "argv", ["netlessons", *args])
        return output(cli.main)

    for args in named:
        assert main(*args) == whole[args]
        assert built == ["print"]
    everything = [command.name for command in app.registered_commands]
    for args in (["--help"], ["--no-color", "list"], ["prnt", "bridge-3ns"], []):
        main(*args)
        assert built == everything, args
