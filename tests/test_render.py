"""Every value reaches a command only shell-quoted; nothing a parameter says can run."""

from __future__ import annotations

import shlex

import pytest
from jinja2.exceptions import SecurityError
from typer.testing import CliRunner

from netlessons.catalog import Catalog
from netlessons.cli import app
from netlessons.errors import LessonFileErrors, ParameterError
from netlessons.render import Renderer, host_address, render_lesson
from tests.helpers import LESSONS, netlessons

TQS = "'" * 3  # a TOML literal multi-line string needs no escapes
INJECTIONS = [";touch CANARY", "$(touch CANARY)", "`touch CANARY`", "a\ntouch CANARY", "a\x00b",
              "'; touch CANARY; '", '"; touch CANARY; "', "-rf", "--help", "a b", "a|touch CANARY", "&touch CANARY"]


def test_values_are_quoted_even_outside_macros():
    renderer = Renderer("brctl")
    command, _, _ = renderer.command("ip link add {{ name }} type dummy", {"name": "x; touch CANARY"})
    assert shlex.split(command) == ["ip", "link", "add", "x; touch CANARY", "type", "dummy"]


def test_macro_output_is_not_quoted_twice():
    renderer = Renderer("brctl")
    command, creates, needs = renderer.command("{{ netns.exec('ns 1', link.show()) }}", {})
    assert command == "ip netns exec 'ns 1' ip link show"
    assert needs == ["ip"]


def test_macros_record_what_they_create():
    renderer = Renderer("brctl")
    _, creates, needs = renderer.command("{{ veth.add('a0', 'a1') }}", {})
    assert [(o.kind, o.name) for o in creates] == [("link", "a0"), ("link", "a1")]


def test_a_created_name_is_checked_after_composition():
    catalog = Catalog.default()
    with pytest.raises(LessonFileErrors, match="at most 15 bytes"):
        render_lesson(catalog, catalog.get("bridge-3ns"), {"veth_prefix": "abcdefghijklm"})


def test_template_cannot_reach_python_internals():
    renderer = Renderer("brctl")
    with pytest.raises(SecurityError):
        renderer.command("{{ ''.__class__.__mro__ }}", {})


def test_host_address():
    assert host_address("10.0.0.0/24", 3) == "10.0.0.3/24"
    assert host_address("10.0.0.0/24", 3, False) == "10.0.0.3"
    with pytest.raises(ParameterError):
        host_address("10.0.0.0/30", 3)


def _every_parameter():
    catalog = Catalog.default()
    for lesson in LESSONS:
        rendered = render_lesson(catalog, catalog.get(lesson))
        for p in rendered.parameters:
            yield lesson, p.name


@pytest.mark.parametrize("lesson,name", list(_every_parameter()))
def test_injection_through_set_never_runs(lesson, name, tmp_path):
    canary = tmp_path / "CANARY"
    for value in INJECTIONS:
        value = value.replace("CANARY", str(canary))
        result = CliRunner().invoke(app, ["print", lesson, "--set", f"{name}={value}"])
        assert result.exit_code == 2, (value, result.stdout)
        assert f"parameter {name!r}" in result.stderr
    # and through `run`, the path that executes commands:
    result = netlessons("run", lesson, "--set", f"{name}=x;touch {canary}")
    assert result.returncode == 2
    assert not canary.exists()


def test_injection_inside_a_lesson_file_arrives_as_one_argument(tmp_path):
    """A lesson file's literal strings are values too: quoted into one argument, never shell syntax."""
    canary = tmp_path / "CANARY"
    evil = f"a;touch {canary}"
    command = ("printf '%s\\n' {{ value }} {{ \"$(touch " + str(canary) + ")\" }} {{ \"`touch "
               + str(canary) + "`\" }}")
    (tmp_path / "inject.toml").write_text(f"""id = "inject"
title = "t"
summary = "s"
[params.value]
type = "choice"
default = '{evil}'
choices = ['{evil}']
[[steps]]
id = "echo"
title = "t"
explain = "e"
run = TQ{command}TQ
expect.output = ['{evil}', '$(touch {canary})', '`touch {canary}`']
""".replace("TQ", TQS))
    result = netlessons("run", "inject", "--lessons-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not canary.exists()
