"""The sandbox holds against a hostile lesson, as root and as an ordinary user.

Everything here runs inside an outer throwaway namespace (tests.helpers.outer_namespace) that stands in for
the machine: it has a link of its own (`nlouter0`), its own sysfs, and its own PID to aim at. Even a sandbox
that failed completely could only change that outer namespace, never this machine's network.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import outer_namespace

HOSTILE = """\
id = "hostile"
title = "A lesson that tries to leave its sandbox"
summary = "It writes the outer namespace's sysfs, enters the outer network namespace, and leaves a process."

[[steps]]
id = "sysfs"
title = "Change the MTU of a link outside the lab through sysfs"
explain = "nlouter0 exists only in the outer namespace."
run = "echo 1280 > /sys/class/net/nlouter0/mtu; echo sysfs-write=$?; echo links: $(ls /sys/class/net)"

[[steps]]
id = "escape"
title = "Uncover the machine's /proc and enter the outer network namespace"
explain = "With the lab's /proc gone, the outer PID's namespace files may show through."
run = '''umount /proc; echo umount=$?
nsenter --net=/proc/$OUTERPID/ns/net ip link add escaped type bridge; echo nsenter=$?'''

[[steps]]
id = "linger"
title = "Leave a process behind"
explain = "A new session, so that it is nobody's child."
run = "setsid nohup sleep {marker} >/dev/null 2>&1 & echo started"
"""

# In the outer namespace: a sysfs of its own (so /sys/class/net lists its links, as on a real machine), a link
# that exists only there, its links before and after the run, and the run in between.
OUTER_SCRIPT = r"""
mount -t sysfs sysfs /sys || exit 90
ip link add nlouter0 type veth peer name nlouter0p || exit 91
export OUTERPID=$$
echo "BEFORE $(ip -d -j link show)"
"$@"
echo "STATUS $?"
echo "AFTER $(ip -d -j link show)"
"""

ATTACKS = """\
echo 1280 > /sys/class/net/nlouter0/mtu
nsenter --net=/proc/$OUTERPID/ns/net ip link add escaped type bridge
"""


def _links(text: str, tag: str) -> list[dict]:
    line = next(line for line in text.splitlines() if line.startswith(tag + " "))
    links = json.loads(line[len(tag) + 1:])
    return [{k: v for k, v in link.items() if k not in ("stats", "stats64")} for link in links]


def _sleepers(marker: str) -> list[int]:
    """PIDs of any process on this machine whose command line names the marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture
def hostile_lesson(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    marker = f"777.{secrets.randbelow(10**9):09d}"
    (folder / "hostile.toml").write_text(HOSTILE.replace("{marker}", marker))
    for path in (folder, *folder.parents):
        if str(path).startswith("/tmp/") and path != Path("/tmp"):
            path.chmod(0o755)
    os.chmod(folder / "hostile.toml", 0o644)
    return folder, marker


def _command(user: str, site: Path | None, folder: Path) -> list[str]:
    args = ["-m", "netlessons", "run", "hostile", "--lessons-dir", str(folder), "-v"]
    if user == "root":
        return [sys.executable, *args]
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", f"PYTHONPATH={site}", "HOME=/tmp", "PATH=/usr/bin:/bin", "NETLESSONS_CACHE_DIR=", python, *args]


def test_the_attacks_work_outside_a_sandbox():
    """The control: run bare in the outer namespace, the same commands do change it, so a test that finds the
    outer namespace unchanged after a sandboxed run means the sandbox stopped them."""
    result = outer_namespace(["bash", "-c", OUTER_SCRIPT, "outer", "bash", "-c", ATTACKS])
    assert "STATUS 0" in result.stdout, result.stdout + result.stderr
    after = {link["ifname"]: link for link in _links(result.stdout, "AFTER")}
    assert after["nlouter0"]["mtu"] == 1280
    assert "escaped" in after


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_hostile_lesson_changes_nothing_outside_and_leaves_nothing_running(user, hostile_lesson, request):
    if user == "nobody" and os.geteuid() != 0:
        pytest.skip("already an ordinary user: the root case is this case")
    site = request.getfixturevalue("ordinary_user_copy") if user == "nobody" else None
    folder, marker = hostile_lesson
    result = outer_namespace(["bash", "-c", OUTER_SCRIPT, "outer", *_command(user, site, folder)],
                             env={"NETLESSONS_CACHE_DIR": ""})
    output = result.stdout + result.stderr
    assert "STATUS 0" in result.stdout, output  # every attack ran (the steps passed) ...
    assert "sysfs-write=" in output and "nsenter=" in output and "started" in output, output
    assert _links(result.stdout, "AFTER") == _links(result.stdout, "BEFORE"), output  # ... and changed nothing
    # The lab's sysfs is its own: it lists the lab's links, not the outer namespace's.
    links_line = next(line for line in output.splitlines() if "links:" in line and "echo links:" not in line)
    assert "nlouter0" not in links_line and "lo" in links_line.split(), links_line
    # Nothing lives on after the run: the lab's PID namespace ends with its shell (a bounded wait for the
    # kernel to finish tearing it down, not a timing assertion).
    for _ in range(100):
        if not _sleepers(marker):
            break
        time.sleep(0.1)
    assert _sleepers(marker) == []
