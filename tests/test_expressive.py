"""The lesson format says what the series after the post needs, with no special cases in Python:
a gateway and default routes, sysctls, nftables/iptables NAT and DNAT, a background server, VXLAN devices,
and an external program fed JSON on stdin (the real CNI bridge plugin). One small lesson each, in tests/lessons/.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import ROOT, netlessons, scenario

EXAMPLES = ROOT / "tests" / "lessons"
LESSONS = sorted(p.stem for p in EXAMPLES.glob("*.toml"))


def test_every_example_is_there():
    assert set(LESSONS) >= {"gateway-route", "sysctl-forward", "nat-rules", "background-server", "vxlan-device",
                            "cni-plugin"}


@pytest.mark.parametrize("lesson", LESSONS)
def test_example_validates_prints_and_runs(lesson, tmp_path, host_unchanged):
    assert netlessons("validate", str(EXAMPLES / f"{lesson}.toml")).returncode == 0
    printed = netlessons("print", lesson, "--lessons-dir", str(EXAMPLES))
    assert printed.returncode == 0
    script = tmp_path / "lesson.sh"
    script.write_text(printed.stdout)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    ran = netlessons("run", lesson, "--lessons-dir", str(EXAMPLES))
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_json_reaches_the_plugin_on_stdin_as_a_here_document():
    printed = netlessons("print", "cni-plugin", "--lessons-dir", str(EXAMPLES)).stdout
    assert "/usr/lib/cni/bridge <<'NETLESSONS_JSON'\n{\"cniVersion\": \"1.0.0\"" in printed


def test_background_server_is_stopped_by_host_mode_cleanup(host_unchanged):
    """In host mode the ledger knows the server: `cleanup` after --keep stops it."""
    seen = scenario("keep_dir", "background-server", str(EXAMPLES))
    assert seen["rc"] == 0, seen["out"]
    assert seen["listening_during"]
    assert "stopped process web" in seen["first"]
    assert not seen["listening_after"]
    assert seen["unchanged"]


def test_new_writes_a_lesson_that_validates_and_runs(tmp_path, host_unchanged):
    made = netlessons("new", "my-lab", "--dir", str(tmp_path))
    assert made.returncode == 0
    assert netlessons("validate", str(tmp_path / "my-lab.toml")).returncode == 0
    ran = netlessons("run", "my-lab", env={"NETLESSONS_PATH": str(tmp_path)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    again = netlessons("new", "my-lab", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr


def test_user_folder_comes_before_the_built_in_lessons(tmp_path):
    text = (ROOT / "lessons" / "netns-basics.toml").read_text().replace(
        'title = "Network namespaces: a private network stack"', 'title = "My own namespaces"')
    (tmp_path / "netns-basics.toml").write_text(text)
    listed = netlessons("list", env={"NETLESSONS_PATH": str(tmp_path)})
    assert "My own namespaces" in listed.stdout
    assert "My own namespaces" not in netlessons("list").stdout
