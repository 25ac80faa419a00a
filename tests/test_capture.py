"""Packet captures per step: the lesson syntax, real captures in the sandbox (as root and as an ordinary user),
`expect.capture`, the shipped lessons that use them, `netlessons watch` in a lab's shell, and host mode's
clean-up after kill -9 in the middle of a capture (in an outer throwaway namespace).

Run as a module inside the outer namespace (`python -m tests.test_capture host-kill FOLDER`), this file is the
driver of that last scenario.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from netlessons.capture import AGENT
from tests.helpers import ROOT, as_nobody, netlessons, outer_namespace

# Two namespaces joined by a veth pair: the first ping from a to b must ARP first; b's end sees the ARP and both
# echo packets, a's end (watched for ICMP only) sees the echo request leave before b's end sees it arrive (a veth
# hands the same packet, with the same timestamp, to the other end: packets of one instant keep the order of the
# capture list).
PAIR = '''id = "{id}"
title = "Watched"
summary = "Two namespaces and a ping, watched on both ends."

[[steps]]
id = "build"
title = "Build"
explain = "Two namespaces joined by a veth pair."
run = """{{{{ netns.add('cap-a') }}}}
{{{{ netns.add('cap-b') }}}}
{{{{ veth.add('va', 'vb') }}}}
{{{{ link.to_netns('va', 'cap-a') }}}}
{{{{ link.to_netns('vb', 'cap-b') }}}}
{{{{ addr.add('10.9.0.1/24', 'va', 'cap-a') }}}}
{{{{ addr.add('10.9.0.2/24', 'vb', 'cap-b') }}}}
{{{{ link.up('va', 'cap-a') }}}}
{{{{ link.up('vb', 'cap-b') }}}}"""

[[steps]]
id = "ping"
title = "Ping"
explain = "Watch it."
run = "{{{{ ping.ping('10.9.0.2', 'cap-a') }}}}"
capture = [
  {{ on = "va", in = "cap-a", filter = "icmp" }},
  {{ on = "vb", in = "cap-b", filter = "arp or icmp", link = true }},
]
expect.capture = [{expected}]

[[steps]]
id = "no-agent-left"
title = "Nothing of the capture is left"
explain = "The capture ended with its step."
run = "pgrep -a -f 'netlessons-capture|tcpdump' || echo none"
expect.output = ["none"]
'''
GOOD = ",\n".join('"' + line + '"' for line in [
    "cap-b/vb: * > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.9.0.2 tell 10.9.0.1, "
    "length 28 (glob)",
    "cap-b/vb: *ARP*Reply 10.9.0.2 is-at * (glob)",
    "cap-a/va: IP 10.9.0.1 > 10.9.0.2: ICMP echo request, * (glob)",
    "cap-b/vb: *10.9.0.1 > 10.9.0.2: ICMP echo request* (glob)",
    "cap-a/va: IP 10.9.0.2 > 10.9.0.1: ICMP echo reply, id \\\\d+, seq 1, length 64 (re)",
])


def write(folder: Path, lesson_id: str, expected: str = GOOD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lesson_id}.toml").write_text(PAIR.format(id=lesson_id, expected=expected))
    os.chmod(folder, 0o755)
    return folder


def test_a_capture_watches_both_ends_in_order_and_ends_with_its_step(tmp_path, host_unchanged):
    """The ARP broadcast is seen (so the capture listened before the ping started), lines carry where they were
    seen and come in the kernel's order, and no capture process is left for the next step."""
    folder = write(tmp_path / "lessons", "watched")
    result = netlessons("run", "watched", "-v", "--lessons-dir", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on the wire:" in result.stdout
    wire = [line.strip()[2:] for line in result.stdout.splitlines() if line.strip().startswith("~ ")]
    assert wire[0].startswith("cap-b/vb: ") and "Request who-has 10.9.0.2" in wire[0], wire
    assert not any("ARP" in line for line in wire if line.startswith("cap-a/va")), wire  # its filter is icmp


def test_a_capture_does_not_start_the_python3_found_on_path(tmp_path):
    """The agent runs under the interpreter that runs netlessons, by its real path: a python3 found first on PATH
    (a version manager's shim: pyenv's took 90 ms to start) is not what captures. The fake one is kept where the
    sandbox still sees it (/var/tmp), and would leave a mark if it ran."""
    fake = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="netlessons-fake-python-"))
    try:
        mark = fake / "ran"
        (fake / "python3").write_text(f"#!/bin/sh\necho ran >>{mark}\nexit 1\n")
        (fake / "python3").chmod(0o755)
        fake.chmod(0o777)
        folder = write(tmp_path / "lessons", "watched-path")
        result = netlessons("run", "watched-path", "--lessons-dir", str(folder),
                            env={"PATH": f"{fake}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert not mark.exists(), "the python3 on PATH ran"
    finally:
        shutil.rmtree(fake, ignore_errors=True)


def test_the_capture_agent_starts_with_built_in_modules_only():
    """Every captured step waits for its agent to start: it imports nothing that pulls in enum, socket.py,
    signal.py or subprocess (which made that start three times as long). Run where it may not open a packet
    socket (a user namespace of its own), it stops right after its imports, with its own message."""
    probe = subprocess.run(["unshare", "--user", sys.executable, "-I", "-S", "-X", "importtime", "-c", AGENT,
                            "lo", "1", "", "--", "true"], capture_output=True, text=True, timeout=30)
    assert "capture: cannot listen on lo" in probe.stderr, probe.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in probe.stderr.splitlines() if line.startswith("import time:")}
    assert imported and not imported & {"enum", "socket", "signal", "subprocess", "selectors", "threading"}, imported


def test_a_capture_that_misses_a_packet_fails_the_step(tmp_path):
    """A wanted line that never comes (an echo request the other way) fails the step, naming the line and
    showing what was captured."""
    wrong = '"cap-b/vb: *10.9.0.2 > 10.9.0.1: ICMP echo request* (glob)"'
    folder = write(tmp_path / "lessons", "missed", wrong)
    result = netlessons("run", "missed", "--lessons-dir", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no captured packet matches 'cap-b/vb: *10.9.0.2 > 10.9.0.1: ICMP echo request* (glob)'" in result.stdout
    assert "ICMP echo reply" in result.stdout  # the capture, as it was, in the diff


def test_a_capture_that_cannot_start_fails_the_step_with_tcpdumps_reason(tmp_path):
    text = PAIR.format(id="badfilter", expected="").replace('filter = "icmp"', 'filter = "icmp or or"')
    (tmp_path / "badfilter.toml").write_text(text)
    result = netlessons("run", "badfilter", "--lessons-dir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the capture on cap-a/va, cap-b/vb did not start: capture: tcpdump: " in result.stdout, result.stdout


def test_a_capture_works_as_an_ordinary_user(ordinary_user_copy, ordinary_user_tmp):
    folder = write(ordinary_user_tmp / "capture-lessons", "watched-nobody")
    for path in folder.iterdir():
        path.chmod(0o644)
    result = as_nobody(ordinary_user_copy, "run", "watched-nobody", "-v", "--lessons-dir", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Request who-has 10.9.0.2 tell 10.9.0.1" in result.stdout


@pytest.mark.parametrize("bad,message", [
    ('capture = { on = "br0", colour = "red" }', "unknown key 'colour'"),
    ('capture = { on = "br0", decode = "gre" }', "unknown decode 'gre'"),
    ('capture = { on = "br0", count = 0 }', "'count' is a number of packets"),
    ('capture = { filter = "arp" }', "'on' names the interface to watch"),
    ('capture = "br0"', "a capture is a table"),
    ('capture = { on = "a b" }', "interface name"),
])
def test_a_broken_capture_is_named_before_anything_runs(tmp_path, bad, message):
    text = PAIR.format(id="broken", expected="").replace(
        'capture = [\n  { on = "va", in = "cap-a", filter = "icmp" },\n'
        '  { on = "vb", in = "cap-b", filter = "arp or icmp", link = true },\n]', bad)
    assert bad in text
    (tmp_path / "broken.toml").write_text(text)
    result = netlessons("run", "broken", "--lessons-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "ok" not in result.stdout  # nothing ran


def test_bridge_3ns_shows_the_arp_broadcast_and_reply_on_the_bridge():
    result = netlessons("run", "bridge-3ns", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.split("ping -c 1 -w 3 10.0.0.2", 1)[1].split("[11.2/", 1)[0]
    wire = [line.strip()[2:] for line in first.splitlines() if line.strip().startswith("~ ")]
    assert "> ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1" in wire[0]
    assert "Reply 10.0.0.2 is-at" in wire[1] and "ICMP echo request" in wire[2], wire


def test_bridge_gateway_nat_shows_the_packet_before_and_after_masquerade():
    result = netlessons("run", "bridge-gateway-nat", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    wire = [line.strip()[2:] for line in result.stdout.splitlines() if line.strip().startswith("~ ")]
    assert [line.split(", id")[0] for line in wire] == [
        "node1/veth-pod1: IP 10.244.1.2 > 203.0.113.2: ICMP echo request",
        "node1/eth0: IP 203.0.113.1 > 203.0.113.2: ICMP echo request",
        "node1/eth0: IP 203.0.113.2 > 203.0.113.1: ICMP echo reply",
        "node1/veth-pod1: IP 203.0.113.2 > 10.244.1.2: ICMP echo reply",
    ]


def test_watch_in_a_lab_shell_shows_packets_and_refuses_what_is_not_there():
    """`netlessons` is on the lab shell's PATH; `watch` shows a ping as it passes and stops on `kill`; an
    interface that is not there is one message and exit 2."""
    commands = ("netlessons watch br0 --filter icmp -e >\"$LAB\"/watched 2>&1 &\n"
                "for _ in $(seq 500); do grep -q 'listening on' \"$LAB\"/watched && break; sleep 0.01; done\n"
                "ip netns exec ns1 ping -c 1 10.0.0.2 >/dev/null\n"
                "sleep 0.2; kill %1; wait %1; echo \"watch=$?\"; cat \"$LAB\"/watched\n"
                "netlessons watch nothere; echo \"missing=$?\"\n")
    result = netlessons("shell", "bridge-3ns", input=commands)
    assert "watch=0" in result.stdout, result.stdout + result.stderr
    assert "10.0.0.1 > 10.0.0.2: ICMP echo request" in result.stdout
    assert "missing=2" in result.stdout and "no interface 'nothere' here" in result.stdout + result.stderr


def test_merge_orders_by_the_kernels_time_and_joins_inner_packets():
    from netlessons.capture import merge
    from netlessons.lesson import Capture
    from tests.helpers import made_step

    step = made_step("l", "s", capture=(Capture(on=("a", "b"), netns="n"),))
    printed = ("==> 0\n5.000002 second\n  inner of second\n5.000010 fourth\n"
               "==> 1\n5.000002 third, same instant\n5.000001 first\n")
    assert merge(step, printed) == ("n/b: first", "n/a: second | inner of second", "n/b: third, same instant",
                                    "n/a: fourth")


# --- host mode: kill -9 in the middle of a capture -----------------------------------------------------------

SLOW = '''id = "capkill"
title = "A capture killed"
summary = "A step that captures for a while."

[[steps]]
id = "ns"
title = "Make capns"
explain = "A namespace."
run = "{{ netns.add('capns') }}\\n{{ link.up('lo', 'capns') }}"

[[steps]]
id = "slow"
title = "Wait while watching"
explain = "A long step with a capture."
run = "touch \\"$LAB\\"/started; sleep 3"
capture = { on = "lo", in = "capns" }

[[cleanup]]
id = "del"
title = "Delete capns"
explain = "Gone."
run = "{{ netns.delete('capns') }}"
'''


def in_namespace(inode: int) -> list[str]:
    """The processes whose network namespace is this one: what is left of a lab's captures."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "ns" / "net") == f"net:[{inode}]":
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def scenario_host_kill(folder: str) -> dict:
    """Inside the outer namespace: a host run is killed with -9 while its step's capture runs; then cleanup."""
    process = subprocess.Popen([sys.executable, "-m", "netlessons", "run", "capkill", "--host", "--lessons-dir",
                                folder], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ledgers = Path("/run/netlessons")
    deadline = time.monotonic() + 60
    started = []
    while time.monotonic() < deadline and not started:
        started = list(ledgers.glob("lab-*/started"))
        time.sleep(0.01)
    inode = os.stat("/run/netns/capns").st_ino
    ledger = "".join(p.read_text() for p in ledgers.glob("*.jsonl"))
    during = in_namespace(inode)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    cleanup = subprocess.run([sys.executable, "-m", "netlessons", "cleanup"], capture_output=True, text=True,
                             cwd=ROOT, timeout=60)
    time.sleep(0.2)
    return {"started": bool(started), "during": during, "recorded": '"made": "process", "name": "capture-slow-0"'
            in ledger, "after": in_namespace(inode), "cleanup": cleanup.stdout + cleanup.stderr,
            "netns_left": os.path.exists("/run/netns/capns")}


def test_kill_9_in_the_middle_of_a_host_capture_leaves_no_capture_after_cleanup(tmp_path):
    """The capture process is in the ledger from the moment it starts; after kill -9 and `cleanup`, nothing
    runs in the lab's namespace any more (neither the agent nor tcpdump), and the namespace is gone."""
    (tmp_path / "capkill.toml").write_text(SLOW)
    result = outer_namespace([sys.executable, "-m", "tests.test_capture", "host-kill", str(tmp_path)], timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["started"] and seen["recorded"], seen
    assert any("netlessons-capture" in line for line in seen["during"]), seen  # it was capturing when killed
    assert any("tcpdump" in line for line in seen["during"]), seen
    assert seen["after"] == [] and not seen["netns_left"], seen


def _inside_outer_namespace() -> bool:
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    return any(line.split()[:3] == ["outer", "/run", "tmpfs"] for line in mounts)


if __name__ == "__main__":
    if not _inside_outer_namespace():
        sys.exit("test_capture: the host-mode scenario runs only inside the outer throwaway namespace")
    name, *args = sys.argv[1:]
    print(json.dumps(globals()[f"scenario_{name.replace('-', '_')}"](*args)))
