"""Scenarios of host mode, run *inside* an outer throwaway namespace (tests/test_host.py starts it).

Each prints one JSON object with what it observed. Nothing here ever runs on the machine's own network:
test_host.py refuses to start it outside `unshare`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.helpers import host_network_state


def netlessons(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netlessons", *args], capture_output=True, text=True, timeout=120)


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True).stdout


def scenario_run(lesson: str, *extra: str) -> dict:
    before = host_network_state()
    result = netlessons("run", lesson, "--host", *extra)
    return {"rc": result.returncode, "out": result.stdout + result.stderr,
            "unchanged": host_network_state() == before}


def scenario_clash(kind: str) -> dict:
    create = {"br0": ["ip", "link", "add", "br0", "type", "bridge"],
              "veth1": ["ip", "link", "add", "veth1", "type", "veth", "peer", "name", "other1"],
              "ns1": ["ip", "netns", "add", "ns1"]}[kind]
    lesson = {"br0": "bridge-3ns", "veth1": "veth-pair", "ns1": "netns-basics"}[kind]
    subprocess.run(create, check=True)
    show = (lambda: ip("-d", "-j", "link", "show", kind)) if kind != "ns1" else (lambda: ip("-j", "netns", "list"))
    before, state = show(), host_network_state()
    result = netlessons("run", lesson, "--host")
    return {"rc": result.returncode, "err": result.stderr, "object_unchanged": show() == before,
            "unchanged": host_network_state() == state}


def scenario_keep() -> dict:
    before = host_network_state()
    kept = netlessons("run", "bridge-3ns", "--host", "--keep")
    during = ip("-j", "netns", "list")
    bridge = ip("-j", "link", "show", "br0")
    first = netlessons("cleanup")
    second = netlessons("cleanup")
    return {"rc": kept.returncode, "out": kept.stdout, "during": during, "bridge": bridge,
            "first": first.stdout + first.stderr, "second": second.stdout,
            "unchanged": host_network_state() == before}


def scenario_keep_dir(lesson: str, folder: str) -> dict:
    before = host_network_state()
    kept = netlessons("run", lesson, "--host", "--keep", "--lessons-dir", folder)
    listening = lambda: bool(subprocess.run(["ip", "netns", "exec", "server", "ss", "-Hltn"],  # noqa: E731
                                            capture_output=True, text=True).stdout.strip())
    during = listening()
    first = netlessons("cleanup")
    after = listening() if "server" in ip("netns", "list") else False
    return {"rc": kept.returncode, "out": kept.stdout + kept.stderr, "listening_during": during,
            "first": first.stdout + first.stderr, "listening_after": after,
            "unchanged": host_network_state() == before}


def scenario_sigint(after_step: int) -> dict:
    before = host_network_state()
    process = subprocess.Popen([sys.executable, "-m", "netlessons", "run", "bridge-3ns", "--host"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    commands = 0
    for line in process.stdout:
        seen.append(line)
        commands += line.startswith("[")  # the live view shows one line per command
        if commands >= int(after_step):
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=60)
    return {"rc": process.returncode, "out": "".join(seen) + out, "err": err,
            "unchanged": host_network_state() == before, "cleanup": netlessons("cleanup").stdout}


if __name__ == "__main__":
    name, *args = sys.argv[1:]
    print(json.dumps(globals()[f"scenario_{name}"](*args)))
