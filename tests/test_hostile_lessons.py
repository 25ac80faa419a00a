"""Lesson files made to hang, exhaust or fool netlessons: each ends in bounded time with one clear message per
problem, exit 2 and no traceback, and one such file never stops `list` from listing the others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import GOOD_LESSON as GOOD
from tests.helpers import ROOT, netlessons

TIMEOUT = 60  # seconds; every case here ends in well under one when the bounds work


def lesson(name: str, text: str = GOOD) -> str:
    return text.replace('id = "tiny"', f'id = "{name}"')


HOSTILE = {
    # name: (file text, what stderr must say)
    "escape": (GOOD.replace('run = "{{ netns.add(ns) }}"',
                            'run = "touch /tmp/x # \\u001b[2K\\u001b[1G{{ netns.add(ns) }}"'),
               "control character (ESC)"),
    "c1-control": (GOOD.replace('title = "A tiny lesson"', 'title = "A tiny \\u009b lesson"'), "U+009B"),
    "bidi-override": (GOOD.replace('explain = "Make a namespace."', 'explain = "Make \\u202e a namespace."'),
                      "U+202E"),
    "nested-loops": (GOOD.replace('run = "{{ netns.add(ns) }}"',
                                  'run = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}'
                                  '{% endfor %}{{ netns.add(ns) }}"'), "operations"),
    "huge-string": (GOOD.replace('title = "Create {{ ns }}"', "title = \"{{ 'x' * 10**10 }}\""),
                    "a lesson's values hold at most"),
    "huge-power": (GOOD.replace('title = "Create {{ ns }}"', 'title = "{{ 7 ** 999999 }}"'), "bits"),
    "doubling-join": (GOOD.replace('title = "Create {{ ns }}"',
                                   "title = \"{% set s = namespace(t='xx') %}{% for i in range(64) %}"
                                   "{% set s.t = s.t ~ s.t %}{% endfor %}{{ s.t }}\""), "at most"),
    "wide-filter": (GOOD.replace('title = "Create {{ ns }}"', "title = \"{{ 'x'|center(10**10) }}\""),
                    "larger than"),
    "self-calling-macro": (GOOD.replace('title = "Create {{ ns }}"',
                                        'title = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"'),
                           "too deeply"),
    "deep-array": (GOOD.replace('summary = "One namespace."',
                                'summary = "x"\nz = ' + "[" * 50000 + "]" * 50000), "nested too deeply"),
    "deep-but-parsable": (GOOD + "z = " + "[" * 40 + "]" * 40 + "\n", "levels deep"),
    "long-dotted-key": (GOOD + "x" + ".a" * 100000 + " = 1\n", "more than 32 parts"),
    "port-not-a-number": (GOOD.replace('expect.state = [{ netns = "{{ ns }}" }]',
                                       "expect.state = [{ port = \"{{ 'eighty' }}\" }]"),
                          "'port' renders to 'eighty'"),
    "too-big": (GOOD + "#" * (1 << 20) + "\n", "the most a lesson file may hold"),
}


def hostile_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / f"{name}.toml").write_text(lesson(name, HOSTILE[name][0]), encoding="utf-8")
    return folder


def assert_refused(result, message: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert all(len(line) < 600 for line in result.stderr.splitlines())


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "print"])
def test_a_hostile_file_is_refused_in_bounded_time(name, command, tmp_path):
    folder = hostile_folder(tmp_path, name)
    args = [str(folder / f"{name}.toml")] if command == "validate" else [name, "--lessons-dir", str(folder)]
    result = netlessons(command, *args, timeout=TIMEOUT)
    assert_refused(result, HOSTILE[name][1])
    assert result.stdout == ""


def test_thirty_thousand_unknown_keys_are_reported_at_once_and_capped(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD + "".join(f"k{i} = 1\n" for i in range(30000)))
    result = netlessons("validate", str(path), timeout=TIMEOUT)
    assert_refused(result, "unknown key 'k0'")
    assert f"{path}:21 " in result.stderr  # the line of k0, not of its table
    assert "unknown key 'k49'" in result.stderr and "… and 29950 more problems" in result.stderr


def special_files(folder: Path) -> None:
    """A FIFO, a symlink to an endless device and a folder, all named like lessons."""
    os.mkfifo(folder / "fifo.toml")
    (folder / "zero.toml").symlink_to("/dev/zero")
    (folder / "folder.toml").mkdir()


def test_list_skips_what_is_not_a_lesson_and_lists_the_rest(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    special_files(folder)
    for name in ("escape", "nested-loops", "deep-array"):
        (folder / f"{name}.toml").write_text(lesson(name, HOSTILE[name][0]))
    (folder / "Upper.toml").write_text(lesson("Upper"))
    (folder / "good-one.toml").write_text(lesson("good-one"))
    result = netlessons("list", "--lessons-dir", str(folder), timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:] if line and not line[0].isspace()]
    assert "good-one" in listed and "netns-basics" in listed and "bridge-3ns" in listed
    skipped = [line for line in result.stderr.splitlines() if "left out" in line]
    for name in ("fifo", "zero", "folder", "escape", "nested-loops", "deep-array", "Upper"):
        assert sum(f"{folder / name}.toml" in line for line in skipped) == 1, (name, result.stderr)
    assert "\x1b" not in result.stderr


def test_list_with_a_broken_file_on_netlessons_path(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    special_files(folder)
    result = netlessons("list", "--json", env={"NETLESSONS_PATH": str(folder)}, timeout=TIMEOUT)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "netns-basics" in result.stdout and "fifo.toml: not a regular file" in result.stderr


@pytest.mark.parametrize("command", ["validate", "print"])
def test_special_files_are_refused_unread(command, tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    special_files(folder)
    for name in ("fifo", "zero"):
        args = [str(folder / f"{name}.toml")] if command == "validate" else [name, "--lessons-dir", str(folder)]
        result = netlessons(command, *args, timeout=TIMEOUT)
        assert_refused(result, f"{folder / name}.toml: not a regular file")


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text("\ufeff" + GOOD, encoding="utf-8")
    result = netlessons("validate", str(path), timeout=TIMEOUT)
    assert result.returncode == 0 and result.stdout == f"ok: {path}\n", result.stderr


def test_a_user_lesson_that_hides_a_built_in_is_announced(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    builtin = ROOT / "lessons"
    (folder / "netns-basics.toml").write_text((builtin / "netns-basics.toml").read_text().replace(
        'title = "Network namespaces', 'title = "My own network namespaces', 1))
    (folder / "veth-pair.toml").write_text((builtin / "veth-pair.toml").read_text())  # an identical copy
    notice = f"netns-basics: from {folder}, overrides the built-in"
    listed = netlessons("list", "--lessons-dir", str(folder), timeout=TIMEOUT)
    assert listed.returncode == 0 and notice in listed.stderr and "My own" in listed.stdout
    assert "veth-pair: from" not in listed.stderr
    ran = netlessons("run", "veth-pair", "--lessons-dir", str(folder), timeout=120)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    assert notice in ran.stderr
    plain = netlessons("run", "netns-basics", "--json", timeout=120)
    assert "overrides the built-in" not in plain.stderr


@pytest.mark.parametrize("args", [
    ["run", "netns-basics", "--junit", "/nonexistent/x.xml"],
    ["run", "netns-basics", "--junit", "/tmp"],
    ["export", "netns-basics", "-o", "/nonexistent/x.md"],
    ["export", "netns-basics", "-o", "/tmp"],
    ["new", "foo", "--dir", "/nonexistent"],
])
def test_a_bad_output_path_is_refused_before_anything_runs(args):
    result = netlessons(*args, timeout=TIMEOUT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "cannot write" in result.stderr
    assert result.stdout == ""  # nothing ran: no live view, no handout


def test_validate_says_ok_only_for_files_without_problems(tmp_path):
    (tmp_path / "tiny.toml").write_text(GOOD.replace('title = "A tiny lesson"', 'title = "A tiny lesson'))
    (tmp_path / "other.toml").write_text(lesson("other"))
    result = netlessons("validate", "tiny.toml", "other.toml", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)},
                        timeout=TIMEOUT)
    assert result.returncode == 2
    assert result.stdout == "ok: other.toml\n"
    assert "tiny.toml:2: not valid TOML" in result.stderr
