"""The printed script, from a lesson put together in memory: strict bash, the prerequisites first, a step
that should fail let through, sudo around whole shell commands."""

from __future__ import annotations

import shlex

import pytest

from netlessons.lesson import Expectation
from netlessons.script import render_script, with_sudo
from tests.helpers import made_lesson, made_rendered, made_step


@pytest.fixture(scope="module")
def rendered():
    base = made_lesson("base", [("one", "")])
    lesson = made_lesson("top", [("make", ""), ("refused", "")], [("remove", "")], prerequisites=("base",))
    steps = [made_step("base", "one", command="ip netns add a"), made_step("top", "make", command="ip link"),
             made_step("top", "refused", command="ping x", expect=Expectation(status="failure"))]
    return made_rendered(lesson, steps, [made_step("top", "remove", phase="cleanup", command="ip netns del a")],
                         prerequisites=[base])


def test_the_script_is_strict_bash_with_every_command_in_order(rendered):
    lines = render_script(rendered).splitlines()
    assert lines[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in lines
    commands = [line for line in lines if line and not line.startswith(("#", "set "))]
    assert commands == ["ip netns add a", "ip link", 'ping x || echo "(failed, as this step expects)"',
                        "ip netns del a"]
    assert lines.index("# === Builds on base: The base ===") < lines.index("# === The top ===")
    assert lines.index("# === The top ===") < lines.index("# === Clean-up ===")


def test_without_cleanup_the_clean_up_section_is_left_out(rendered):
    assert "ip netns del a" not in render_script(rendered, cleanup=False)


def test_a_lesson_that_writes_files_gets_a_fresh_folder_and_removes_it(rendered):
    step = made_step("top", "make", command='echo hi >"$LAB"/x')
    text = render_script(made_rendered(rendered.lesson, [step]))
    assert "LAB=$(mktemp -d)" in text and text.rstrip().endswith('rm -rf "$LAB"')


@pytest.mark.parametrize("command", ["a | b", "a > f", "a; b", "for x in 1; do a; done", "a\nb"])
def test_sudo_runs_a_whole_shell_command_as_root(command):
    words = shlex.split(with_sudo(command))
    assert words == ["sudo", "bash", "-c", command]


def test_sudo_hands_the_lab_folder_on_by_name():
    assert shlex.split(with_sudo('cat "$LAB"/x | wc')) == ["sudo", "env", 'LAB=$LAB', "bash", "-c",
                                                           'cat "$LAB"/x | wc']
    assert with_sudo("ip link") == "sudo ip link"
