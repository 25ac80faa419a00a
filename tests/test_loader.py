"""Broken lesson files: each problem is named with its file, field and line, and exits 2 with nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GOOD_LESSON as GOOD
from tests.helpers import netlessons

BROKEN = {
    "missing field": (GOOD.replace('explain = "Make a namespace."\n', ""), "steps[0] 'add'.explain", 9,
                      "required field 'explain' is missing"),
    "unknown key": (GOOD.replace('title = "Create', 'colour = "red"\ntitle = "Create'), "steps[0] 'add'.colour", 11,
                    "unknown key 'colour'"),
    "undefined variable": (GOOD.replace("netns.add(ns)", "netns.add(nss)"), "steps[0] 'add'.run", 9,
                           "'nss' is undefined"),
    "bad name": (GOOD.replace('default = "lab1"', 'default = "a/b"'), "params.ns.default", 7, "no '/'"),
    "bad address": (GOOD.replace('type = "nsname"\ndefault = "lab1"', 'type = "ipv4-interface"\ndefault = "10.0.0.1"'),
                    "params.ns.default", 7, "has no prefix"),
    "unknown prerequisite": (GOOD.replace('summary = "One namespace."', 'summary = "x"\nprerequisites = ["nope"]'),
                             "prerequisites", None, "unknown prerequisite 'nope'"),
    "incomplete macro call": (GOOD.replace("netns.add(ns)", "netns.add()"), "steps[0] 'add'.run", 9, "template"),
    "unknown macro": (GOOD.replace("netns.add(ns)", "netns.create(ns)"), "steps[0] 'add'.run", 9, "no macro"),
    "bad toml": (GOOD.replace('title = "A tiny lesson"', 'title = "A tiny lesson'), "", 2, "not valid TOML"),
    "unbounded ping": (GOOD.replace("{{ netns.add(ns) }}", "ping 127.0.0.1"), "steps[0] 'add'.run", 9, "never ends"),
    "id mismatch": (GOOD.replace('id = "tiny"', 'id = "other"'), "id", 1, "must match the file name"),
    "bad status": (GOOD.replace('expect.state', 'expect.status = "sometimes"\nexpect.state'),
                   "steps[0] 'add'.expect.status", 14, "exit code"),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_the_good_lesson_validates_prints_and_runs(tmp_path):
    path = write(tmp_path, GOOD)
    assert netlessons("validate", str(path)).returncode == 0
    printed = netlessons("print", "tiny", "--lessons-dir", str(tmp_path))
    assert printed.returncode == 0 and "ip netns add lab1" in printed.stdout
    ran = netlessons("run", "tiny", "--lessons-dir", str(tmp_path))
    assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", ["validate", "print", "run"])
def test_broken_file_is_named_precisely(case, command, tmp_path):
    text, field, line, message = BROKEN[case]
    path = write(tmp_path, text)
    canary = tmp_path / "ran"
    args = [str(path)] if command == "validate" else ["tiny", "--lessons-dir", str(tmp_path)]
    result = netlessons(command, *args, env={"NETLESSONS_CANARY": str(canary)})
    assert result.returncode == 2, result.stdout + result.stderr
    error = result.stderr
    assert "Traceback" not in error
    assert str(path) in error
    if line:
        assert f"{path}:{line}" in error
    if field:
        assert f"({field})" in error
    assert message in error
    assert result.stdout == ""
