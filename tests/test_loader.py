"""Broken lesson files: each problem is named with its file, field and line, and exits 2 with nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GOOD_LESSON as GOOD
from tests.helpers import netlessons

BROKEN = {
    "text where a number is expected": (GOOD.replace('expect.state = [{ netns = "{{ ns }}" }]',
                                                     'expect.state = [{ link = "lo", mtu = "1500 bytes" }]'),
                                        "steps[0] 'add'.expect.state[0].mtu", 14,
                                        "text ('1500 bytes') where a whole number"),
    "check of no kind": (GOOD.replace('expect.state = [{ netns = "{{ ns }}" }]', 'expect.state = [{ up = true }]'),
                         "steps[0] 'add'.expect.state[0]", 14, "names exactly one of netns, link, bridge"),
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


# --- what only `validate` finds: it would fail only when the lesson runs -------------------------------------

def test_validate_compiles_every_re_line(tmp_path):
    path = write(tmp_path, GOOD.replace('expect.state = [{ netns = "{{ ns }}" }]',
                                        'expect.output = ["ok", "{{ ns }}: a(b (re)"]'))
    result = netlessons("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}:14 (steps[0] 'add'.expect.output[1])" in result.stderr
    assert "'lab1: a(b (re)' is not a valid regular expression" in result.stderr
    fine = write(tmp_path, GOOD.replace('expect.state = [{ netns = "{{ ns }}" }]', 'expect.output = ["a(b)? (re)"]'))
    assert netlessons("validate", str(fine)).returncode == 0


def test_validate_catches_foreach_rounds_with_the_same_step_id(tmp_path):
    path = write(tmp_path, GOOD.replace('run = "{{ netns.add(ns) }}"',
                                        'foreach = "x in [\'a.b\', \'a_b\']"\nrun = "{{ netns.add(ns ~ x) }}"'))
    result = netlessons("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "2 rounds of the foreach get the same step id 'add-a-b'" in result.stderr
    assert "(steps[0] 'add'.foreach)" in result.stderr


LOOPED = GOOD.replace('run = "{{ netns.add(ns) }}"\nexpect.state = [{ netns = "{{ ns }}" }]',
                      'foreach = "i in range(3)"\nrun = "{{ netns.add(ns ~ i) }}"\n'
                      'expect.state = [{ netns = "{{ ns ~ i }}" }, { netns = "{{ ns }}0" }]\n'
                      'expect.every_round = false')


def test_a_check_that_sees_only_the_last_round_is_a_warning(tmp_path):
    from netlessons.validate import validate_paths

    (report,) = validate_paths([write(tmp_path, LOOPED)])
    assert report.problems == []
    assert [w.field for w in report.warnings] == ["steps[0] 'add'.expect.state[0]"]  # not the one without i
    assert "uses the loop variable i but runs only after the last round" in report.warnings[0].message
    (checked_each_round,) = validate_paths([write(tmp_path, LOOPED.replace("expect.every_round = false", ""))])
    assert checked_each_round.warnings == [] and checked_each_round.problems == []
