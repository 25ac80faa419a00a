"""Fault-injection scenarios of host mode, run *inside* an outer throwaway namespace.

tests/test_reliability.py starts each scenario with `tests.helpers.outer_namespace`, which gives it a fresh
network namespace, a private mount namespace and a private tmpfs on /run: a stand-in for the learner's
machine. A scenario kills, interrupts or starves real `python -m netlessons` processes, then prints one JSON
object with what it observed; the tests judge it. `main()` refuses to run anywhere else.

The driver makes itself the "child subreaper" of everything it starts, so a lab shell orphaned by `kill -9`
is handed to the driver rather than to init: that is how it proves no stray process is left.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, host_network_state

NETLESSONS = [sys.executable, "-m", "netlessons"]
COMMAND_LINE = re.compile(r"^\[[^\]]+\] ")  # one line of the live view per command of the lesson itself
LEDGER_DIR = Path("/run/netlessons")
WORK = Path("/run/reliability")  # scratch files of the scenarios, on the outer namespace's private /run
SYSCTLS = (
    "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding",
    "net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding", "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.all.proxy_arp", "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)
# Unrelated objects that exist before a run and must survive it untouched. veth1_1 inside nsX shares its
# name with an end of bridge-3ns's first pair, so a clean-up that looked in the wrong namespace would hit it.
BYSTANDERS = (
    "ip link add br9 type bridge",
    "ip netns add nsX",
    "ip -n nsX link add veth1_1 type veth peer name decoy",
)
ETC_UPPER = Path("/run/.etc/upper")  # the outer namespace's writable layer over /etc: what a run wrote there
TRACK_FILES = False  # set by main(), once /tmp is a private tmpfs whose every file is ours to judge
BRIDGE_3NS_OTHER_NAMES = ("--set", "br=br1", "--set", "ns_prefix=nt", "--set", "veth_prefix=vt")


# --- what must be identical before and after ----------------------------------------------------------------

def _command(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def _json(text: str) -> Any:
    return json.loads(text) if text.strip() else []


def _without_timers(value: Any) -> Any:
    """Bridge timers (gc_timer, hello_timer ...) of a bridge that is up tick by themselves: not state."""
    if isinstance(value, dict):
        return {k: _without_timers(v) for k, v in value.items() if not k.endswith("_timer")}
    if isinstance(value, list):
        return [_without_timers(v) for v in value]
    return value


def sysctls() -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for key in SYSCTLS:
        path = Path("/proc/sys") / key.replace(".", "/")
        values[key] = path.read_text().strip() if path.exists() else None
    return values


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() else "") for p in folder.rglob("*")) \
        if folder.is_dir() else []


def full_state() -> dict[str, Any]:
    """Links (`ip -d -j`), addresses, routes, namespaces and what is inside each, /run/netns, the nft ruleset,
    the lab's sysctls and the ledgers on disk; inside the outer namespace also every file under /tmp and
    every file written over /etc."""
    state = host_network_state()
    namespaces = sorted(item["name"] for item in state["netns"])
    state["netns_links"] = {ns: [{k: v for k, v in link.items() if k not in ("stats", "stats64")}
                                 for link in _json(_command("ip", "-n", ns, "-d", "-j", "link", "show"))]
                            for ns in namespaces}
    state["nft"] = _json(_command("nft", "-j", "list", "ruleset")) if shutil.which("nft") else None
    state["sysctls"] = sysctls()
    folder = Path(os.environ.get("NETLESSONS_STATE_DIR", LEDGER_DIR))
    state["ledgers"] = sorted(p.name for p in folder.glob("*.jsonl")) if folder.is_dir() else []
    state["etc_netns"] = _tree(Path("/etc/netns")) if Path("/etc/netns").exists() else None
    if TRACK_FILES:
        state["files"] = {"/tmp": _tree(Path("/tmp")), "/etc": _tree(ETC_UPPER)}
    return _without_timers(state)


def differences(before: dict, after: dict) -> list[str]:
    """The parts of the state that changed, for a readable assertion message."""
    return [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]


def file_changes(before: dict, after: dict) -> list[str]:
    """Files that appeared (+) or went (-) under /tmp or over /etc."""
    changes = []
    for root in ("/tmp", "/etc"):
        old, new = set(before.get("files", {}).get(root, [])), set(after.get("files", {}).get(root, []))
        changes += [f"+{root}/{p}" for p in sorted(new - old)] + [f"-{root}/{p}" for p in sorted(old - new)]
    return changes


def settled_state(tries: int = 50, read: Callable[[], dict[str, Any]] = full_state) -> dict[str, Any]:
    """A snapshot that two reads in a row agree on: the kernel removes some objects a moment after the
    command that removed them returned."""
    now = read()
    for _ in range(tries):
        time.sleep(0.02)
        again = read()
        if again == now:
            return now
        now = again
    return now


def raw_bystanders() -> dict[str, str]:
    """The bystanders exactly as `ip -d -j` prints them (a bridge that is down has no ticking timer)."""
    return {"br9": _command("ip", "-d", "-j", "link", "show", "br9"),
            "nsX": _command("ip", "-n", "nsX", "-d", "-j", "link", "show"),
            "netns": _command("ip", "-j", "netns", "list")}


def make_bystanders() -> None:
    for line in BYSTANDERS:
        subprocess.run(line.split(), check=True, capture_output=True)


# What a real Kubernetes node has, with the very names the lessons use inside their own namespaces: the
# node's eth0 and eth1 (veth stand-ins: this kernel has no dummy module) with addresses and routes, flannel's
# cni0 bridge with a pod's port and its flannel.1 VTEP, docker0, a pod's namespace named the CRI way, and
# iptables and nft rules of its own. A clean-up that looked objects up by name would hit them.
BUSY_NODE = (
    "ip link add eth0 type veth peer name eth0-wire",
    "ip addr add 192.0.2.10/24 dev eth0",
    "ip link set eth0 up",
    "ip link set eth0-wire up",
    "ip route add default via 192.0.2.1",
    "ip link add eth1 type veth peer name eth1-wire",
    "ip addr add 198.51.100.10/24 dev eth1",
    "ip link set eth1 up",
    "ip link add cni0 type bridge",
    "ip addr add 10.42.0.1/24 dev cni0",
    "ip link add veth1234abcd type veth peer name veth1234-pod",
    "ip link set veth1234abcd master cni0",
    "ip link add flannel.1 type vxlan id 1 dstport 8472 local 192.0.2.10 dev eth0 nolearning",
    "ip addr add 10.42.0.0/32 dev flannel.1",
    "ip link set flannel.1 up",
    "ip route add 10.42.1.0/24 via 10.42.1.0 dev flannel.1 onlink",
    "ip link add docker0 type bridge",
    "ip addr add 172.17.0.1/16 dev docker0",
    "ip netns add cni-1234abcd-5678-90ef-1234-567890abcdef",
    "iptables -t nat -A POSTROUTING -s 10.42.0.0/16 ! -d 10.42.0.0/16 -j MASQUERADE",
    "iptables -A FORWARD -s 10.42.0.0/16 -j ACCEPT",
    "nft add table inet node-firewall",
    "nft 'add chain inet node-firewall input { type filter hook input priority 0 ; policy accept ; }'",
    "nft add rule inet node-firewall input tcp dport 22 accept",
)


def make_busy_node() -> None:
    for line in BUSY_NODE:
        subprocess.run(["bash", "-c", line], check=True, capture_output=True)
    # The links that are up get their IPv6 link-local addresses only after duplicate address detection:
    # the baseline is taken once that is over.
    wait_for(lambda: not _command("ip", "-6", "addr", "show", "tentative").strip(), limit=20)


def busy_node_state() -> dict[str, Any]:
    """full_state() plus the iptables rules as iptables itself prints them."""
    state = full_state()
    state["iptables"] = {table: _command("iptables", "-t", table, "-S") for table in ("filter", "nat")}
    return state


def scenario_busy_node(lesson: str, sigint_steps: str, kill_step: str) -> dict:
    """A lesson on a busy node: a passing run, Ctrl-C after each of `sigint_steps`, and kill -9 after
    `kill_step` followed by `cleanup` twice. After each, the node must be exactly as it was."""
    make_busy_node()
    baseline = settled_busy_state()
    outcomes: list[dict] = []

    def judge(what: str, rc: int | None, text: str) -> None:
        strays = wait_for_strays()
        after = settled_busy_state()
        outcomes.append({"what": what, "rc": rc, "tail": text[-800:], "strays": strays,
                         "changed": differences(baseline, after),
                         "detail": {k: _delta(baseline.get(k), after.get(k)) for k in differences(baseline, after)}})

    run = netlessons("run", lesson, "--host")
    judge("passing run", run.returncode, run.stdout + run.stderr)
    for step in [int(s) for s in sigint_steps.split(",") if s]:
        process = start_run(lesson, "--host")
        reached, seen = read_until_step(process, step)
        process.send_signal(signal.SIGINT)
        result = finish(process, seen)
        judge(f"ctrl-c after step {step}" + ("" if reached else " (not reached)"), result["rc"],
              result["out"] + result["err"])
    process = start_run(lesson, "--host")
    reached, seen = read_until_step(process, int(kill_step))
    process.kill()
    process.communicate()
    first, second = netlessons("cleanup"), netlessons("cleanup")
    judge(f"kill -9 after step {kill_step}, then cleanup twice", first.returncode,
          first.stdout + first.stderr + second.stdout + second.stderr)
    return {"results": outcomes}


def _delta(before: Any, after: Any) -> dict:
    """What went and what came, for a short failure message."""
    if isinstance(before, list) and isinstance(after, list):
        return {"gone": [x for x in before if x not in after], "new": [x for x in after if x not in before]}
    return {"before": before, "after": after}


def settled_busy_state() -> dict[str, Any]:
    return settled_state(read=busy_node_state)


# --- processes ----------------------------------------------------------------------------------------------

def become_subreaper() -> None:
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _children(pid: int | str = "self") -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def wait_for_strays(limit: float = 15.0) -> list[str]:
    """Reap every orphan handed to this driver until none is left, for at most `limit` seconds; return the
    command lines of those still running then. Call it only while no Popen of ours is alive."""
    deadline = time.monotonic() + limit
    while True:
        alive = []
        for pid in _children():
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done == 0:
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return [_cmdline(pid) for pid in alive]
        time.sleep(0.01)


def netlessons(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NETLESSONS, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, **(env or {})}, check=False)


def start_run(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*NETLESSONS, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, **(env or {})})


def read_until_step(process: subprocess.Popen, step: int) -> tuple[bool, list[str]]:
    """Read the live view (it flushes every line) until the line of the lesson's `step`-th command arrives
    (prerequisites are built first, on one line of their own); False if the run ended before it."""
    seen: list[str] = []
    count = 0
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if COMMAND_LINE.match(line):
            count += 1
            if count >= step:
                return True, seen
    return False, seen


def finish(process: subprocess.Popen, seen: list[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    return {"rc": process.returncode, "out": "".join(seen) + out, "err": err}


def wait_for(condition: Callable[[], bool], limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def ledger_text() -> str:
    return "".join(p.read_text() for p in LEDGER_DIR.glob("*.jsonl")) if LEDGER_DIR.is_dir() else ""


def lab_shell_of(process: subprocess.Popen) -> int | None:
    """Host mode's lab shell: the bash that netlessons started."""
    children = _children(process.pid)
    return children[0] if children else None


def write_lesson(folder: Path, lesson_id: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lesson_id}.toml").write_text(text)
    return folder


# --- scenarios ----------------------------------------------------------------------------------------------

def scenario_baseline(*lessons: str) -> dict:
    """Every lesson (and flavor) in host mode: the state is the same before and after each run."""
    results = []
    for spec in lessons:
        lesson, _, flavor = spec.partition(":")
        before = full_state()
        run = netlessons("run", lesson, "--host", *(["--flavor", flavor] if flavor else []))
        after = settled_state()
        results.append({"lesson": spec, "rc": run.returncode, "out": run.stdout[-3000:] + run.stderr,
                        "changed": differences(before, after), "files": file_changes(before, after),
                        "strays": wait_for_strays()})
    return {"results": results}


def scenario_host_run(*args: str) -> dict:
    """One host run with these arguments, and what it changed."""
    before = full_state()
    run = netlessons("run", *args, "--host")
    after = settled_state()
    return {"rc": run.returncode, "out": run.stdout[-2000:] + run.stderr,
            "changed": differences(before, after), "files": file_changes(before, after),
            "links": _command("ip", "-br", "link"), "strays": wait_for_strays()}


def scenario_kill(steps: str, lesson: str = "bridge-3ns") -> dict:
    """kill -9 of netlessons after each given step, then `cleanup` twice."""
    make_bystanders()
    baseline, bystanders = full_state(), raw_bystanders()
    results = []
    for step in [int(s) for s in steps.split(",")]:
        process = start_run(lesson, "--host")
        reached, seen = read_until_step(process, step)
        process.kill()
        process.communicate()
        strays = wait_for_strays()
        left = full_state()
        first, second = netlessons("cleanup"), netlessons("cleanup")
        after = settled_state()
        results.append({
            "step": step, "reached": reached, "strays": strays, "seen": "".join(seen[-3:]),
            "left": differences(baseline, left), "first": first.stdout + first.stderr,
            "first_rc": first.returncode,
            "second": second.stdout + second.stderr, "changed": differences(baseline, after),
            "bystanders_intact": raw_bystanders() == bystanders,
        })
    return {"results": results}


def scenario_sigint(steps: str, lesson: str = "bridge-3ns") -> dict:
    """Ctrl-C after each given step: the run must take down its own objects and only those."""
    make_bystanders()
    baseline, bystanders = full_state(), raw_bystanders()
    results = []
    for step in [int(s) for s in steps.split(",")]:
        process = start_run(lesson, "--host")
        reached, seen = read_until_step(process, step)
        process.send_signal(signal.SIGINT)
        run = finish(process, seen)
        strays = wait_for_strays()
        after_run = settled_state()
        cleanup = netlessons("cleanup")
        results.append({
            "step": step, "reached": reached, "rc": run["rc"], "tail": run["out"][-600:] + run["err"][-600:],
            "strays": strays, "changed": differences(baseline, after_run),
            "cleanup": cleanup.stdout + cleanup.stderr,
            "after_cleanup": differences(baseline, settled_state()),
            "bystanders_intact": raw_bystanders() == bystanders,
        })
    return {"results": results}


def scenario_signal(name: str, step: str, lesson: str = "bridge-3ns") -> dict:
    """SIGHUP or SIGTERM after a step of a host run: the same clean-up as Ctrl-C, then exit 128 + signal."""
    make_busy_node()
    baseline = settled_busy_state()
    process = start_run(lesson, "--host")
    reached, seen = read_until_step(process, int(step))
    process.send_signal(getattr(signal, name))
    run = finish(process, seen)
    strays = wait_for_strays()
    after = settled_busy_state()
    cleanup = netlessons("cleanup")
    return {"reached": reached, "rc": run["rc"], "tail": run["out"][-600:] + run["err"][-600:],
            "strays": strays, "changed": differences(baseline, after), "cleanup": cleanup.stdout + cleanup.stderr}


def scenario_racing_runs(rounds: str) -> dict:
    """Two host runs whose lessons share names (bridge-3ns and veth-pair both make ns1 and ns2), started at the
    same moment, round after round: one may be refused, but no run may fail because the other one took its
    objects away, and after each round the state is the baseline."""
    make_bystanders()
    baseline = full_state()
    results = []
    for round_number in range(int(rounds)):
        first, second = start_run("bridge-3ns", "--host"), start_run("veth-pair", "--host")
        outcomes = [finish(process, []) for process in (first, second)]
        results.append({"round": round_number, "rcs": [o["rc"] for o in outcomes],
                        "tails": [o["out"][-400:] + o["err"][-400:] for o in outcomes],
                        "changed": differences(baseline, settled_state()), "strays": wait_for_strays()})
    return {"results": results}


def scenario_corrupt_ledgers() -> dict:
    """Ledger files that are not what a run writes: `cleanup` and a host run report and skip them."""
    LEDGER_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    (LEDGER_DIR / "string.jsonl").write_text('"kind"\n')
    (LEDGER_DIR / "list.jsonl").write_text('["kind"]\n')
    (LEDGER_DIR / "no-name.jsonl").write_text('{"kind": "link"}\n')
    (LEDGER_DIR / "number-name.jsonl").write_text('{"kind": "link", "name": 5}\n')
    (LEDGER_DIR / "bytes.jsonl").write_bytes(b"\xff\xfe\x00garbage\n")
    (LEDGER_DIR / "folder.jsonl").mkdir()
    (LEDGER_DIR / "link.jsonl").symlink_to("/etc/passwd")
    baseline = full_state()
    first = netlessons("cleanup")
    run = netlessons("run", "netns-basics", "--host")
    return {"cleanup_rc": first.returncode, "cleanup": first.stdout + first.stderr, "run_rc": run.returncode,
            "run": run.stdout[-1500:] + run.stderr, "passwd_intact": Path("/etc/passwd").stat().st_size > 0,
            "changed": [k for k in differences(baseline, full_state()) if k != "ledgers"]}


SLOW_IP = """#!/bin/sh
# Stands in for ip. Once armed, a call from the clean-up's shell (not the lesson's, whose pid is in
# lesson-shell) that takes something down announces itself and waits for release, so a second Ctrl-C can be
# sent while netlessons is in the middle of its clean-up.
if [ -e {work}/armed ] && [ "$PPID" != "$(cat {work}/lesson-shell)" ]; then
  case " $* " in
    *" del "*|*" down "*) : > {work}/in-cleanup
                          while [ ! -e {work}/release ]; do sleep 0.01; done ;;
  esac
fi
exec {ip} "$@"
"""


def scenario_double_sigint(steps: str) -> dict:
    """Ctrl-C after a step, and a second Ctrl-C while the clean-up is held inside an `ip ... down` call."""
    make_bystanders()
    baseline, bystanders = full_state(), raw_bystanders()
    wrappers = WORK / "bin"
    wrappers.mkdir(parents=True, exist_ok=True)
    real_ip = os.path.realpath(shutil.which("ip") or "/usr/sbin/ip")
    (wrappers / "ip").write_text(SLOW_IP.format(work=WORK, ip=real_ip))
    (wrappers / "ip").chmod(0o755)
    env = {"PATH": f"{wrappers}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    results = []
    for step in [int(s) for s in steps.split(",")]:
        for marker in ("armed", "in-cleanup", "release"):
            (WORK / marker).unlink(missing_ok=True)
        process = start_run("bridge-3ns", "--host", env=env)
        reached, seen = read_until_step(process, step)
        (WORK / "lesson-shell").write_text(str(lab_shell_of(process)))
        (WORK / "armed").touch()
        process.send_signal(signal.SIGINT)
        held = wait_for(lambda: (WORK / "in-cleanup").exists())
        process.send_signal(signal.SIGINT)
        run = finish(process, seen)
        ledger_left = ledger_text()
        (WORK / "release").touch()
        strays = wait_for_strays()
        first, second = netlessons("cleanup"), netlessons("cleanup")
        results.append({
            "step": step, "reached": reached, "held_in_cleanup": held, "rc": run["rc"],
            "tail": run["out"][-600:] + run["err"][-600:], "ledger_left": ledger_left, "strays": strays,
            "first": first.stdout + first.stderr, "second": second.stdout + second.stderr,
            "changed": differences(baseline, settled_state()),
            "bystanders_intact": raw_bystanders() == bystanders,
        })
    return {"results": results}


GATED_LESSON = """id = "gated-veth"
title = "A veth pair created when the test says so"
summary = "The step waits for a file before it creates its pair, to hold it between ledger and creation."

[[steps]]
id = "gated-add"
title = "Wait for the gate, then create gate0 / gate1"
explain = "The ledger names gate0 and gate1 before this command runs; the command waits for the gate first."
run = ": > {waiting}; while [ ! -e {gate} ]; do sleep 0.01; done; {{{{ veth.add('gate0', 'gate1') }}}}"
timeout = 120
expect.state = [{{ link = "gate0", kind = "veth" }}]

[[cleanup]]
id = "del"
title = "Delete gate0"
explain = "Deleting one end of a pair deletes both."
run = "{{{{ link.delete('gate0') }}}}"
"""


def scenario_kill_in_gap(cleanup_when: str) -> dict:
    """kill -9 once the ledger names a step's objects but before the step's command has created them.

    `cleanup_when` is "after-shell" (open the gate, let the orphaned lab shell finish, then clean up) or
    "at-once" (clean up straight after the kill, open the gate afterwards)."""
    make_bystanders()
    baseline, bystanders = full_state(), raw_bystanders()
    gate, waiting = WORK / "gate", WORK / "waiting"
    gate.unlink(missing_ok=True)
    waiting.unlink(missing_ok=True)
    folder = write_lesson(WORK / "lessons", "gated-veth", GATED_LESSON.format(gate=gate, waiting=waiting))
    process = start_run("gated-veth", "--host", "--lessons-dir", str(folder))
    wait_for(waiting.exists)  # the lab shell holds the step's command: kill now, between ledger and creation
    recorded = "gate1" in ledger_text()
    lab_shell = lab_shell_of(process)
    created_before_kill = "gate0" in _command("ip", "link", "show")
    process.kill()
    process.communicate()
    cleanups = []
    if cleanup_when == "at-once":
        cleanups.append(netlessons("cleanup"))
    gate.touch()
    strays = wait_for_strays()
    left = differences(baseline, settled_state())
    cleanups += [netlessons("cleanup"), netlessons("cleanup")]
    return {
        "recorded": recorded, "lab_shell": lab_shell, "created_before_kill": created_before_kill,
        "strays": strays, "left_after_shell": left, "cleanups": [c.stdout + c.stderr for c in cleanups],
        "changed": differences(baseline, settled_state()),
        "bystanders_intact": raw_bystanders() == bystanders,
    }


def _create(kind: str, name: str) -> None:
    if kind == "netns":
        argv = ["ip", "netns", "add", name]
    elif name.startswith("veth"):
        argv = ["ip", "link", "add", name, "type", "veth", "peer", "name", f"peer-{name}"[:15]]
    else:
        argv = ["ip", "link", "add", name, "type", "bridge"]
    subprocess.run(argv, check=True, capture_output=True)


def _show(kind: str, name: str) -> str:
    if kind == "netns":
        return _command("ip", "-j", "netns", "list") + _command("ip", "-n", name, "-d", "-j", "link", "show")
    return _command("ip", "-d", "-j", "link", "show", name)


def _remove(kind: str, name: str) -> None:
    argv = ["ip", "netns", "del", name] if kind == "netns" else ["ip", "link", "del", name]
    subprocess.run(argv, check=True, capture_output=True)


def scenario_clash(cases_json: str) -> dict:
    """Each case: an object made beforehand, then a host run of a lesson that would create it."""
    results = []
    for case in json.loads(cases_json):
        kind, name, lesson, flavor = case["kind"], case["name"], case["lesson"], case.get("flavor", "")
        _create(kind, name)
        shown, before = _show(kind, name), full_state()
        run = netlessons("run", lesson, "--host", *(["--flavor", flavor] if flavor else []))
        after = full_state()
        results.append({**case, "rc": run.returncode, "err": run.stderr, "out": run.stdout,
                        "object_unchanged": _show(kind, name) == shown, "changed": differences(before, after),
                        "ledger_dir": sorted(os.listdir(LEDGER_DIR)) if LEDGER_DIR.is_dir() else []})
        _remove(kind, name)
        settled_state()
    return {"results": results}


def _contents(path: Path) -> dict[str, str]:
    if path.is_file():
        return {str(path): path.read_text()}
    return {str(p): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def scenario_file_clash(cases_json: str) -> dict:
    """Each case: a file or folder that a lesson writes exists beforehand, holding the user's own data."""
    results = []
    for case in json.loads(cases_json):
        path = Path(case["name"])
        if case["kind"] == "dir":
            path.mkdir(parents=True)
            (path / "keep.txt").write_text("the user's own data\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("the user's own data\n")
        before = _contents(path)
        run = netlessons("run", case["lesson"], "--host")
        results.append({**case, "rc": run.returncode, "err": run.stderr, "out": run.stdout[-1500:],
                        "before": before, "after": _contents(path) if path.exists() else {}})
        subprocess.run(["rm", "-rf", "--", str(path)], check=False)
    return {"results": results, "strays": wait_for_strays()}


def _pause_after(step: int, *args: str) -> tuple[subprocess.Popen, int | None]:
    """A host run of bridge-3ns frozen (SIGSTOP) after `step`, once its lab shell has finished the command in
    flight."""
    process = start_run("bridge-3ns", "--host", *args)
    read_until_step(process, step)
    os.kill(process.pid, signal.SIGSTOP)
    shell = lab_shell_of(process)
    if shell:
        wait_for(lambda: not _children(shell))
    return process, shell


def scenario_two_runs() -> dict:
    make_bystanders()
    baseline = full_state()
    seen: dict[str, Any] = {}
    # A kept run, then a second run of the same lesson: refused, and the kept lab is untouched.
    kept = netlessons("run", "bridge-3ns", "--host", "--keep")
    lab = settled_state()
    second = netlessons("run", "bridge-3ns", "--host")
    seen["kept"] = {"rc": kept.returncode, "second_rc": second.returncode, "second_err": second.stderr,
                    "lab_untouched": differences(lab, settled_state())}
    cleanup = netlessons("cleanup")
    seen["kept"]["cleanup"] = cleanup.stdout + cleanup.stderr
    seen["kept"]["changed"] = differences(baseline, settled_state())
    # A run frozen after step 5: a second run of the same lesson is refused, a run with other names passes,
    # and neither touches the frozen lab; thawed, the first run passes and leaves nothing.
    first, _ = _pause_after(5)
    frozen = settled_state()
    same = netlessons("run", "bridge-3ns", "--host")
    after_same = differences(frozen, settled_state())
    other = netlessons("run", "bridge-3ns", "--host", *BRIDGE_3NS_OTHER_NAMES)
    after_other = differences(frozen, settled_state())
    os.kill(first.pid, signal.SIGCONT)
    done = finish(first, [])
    seen["concurrent"] = {
        "same_rc": same.returncode, "same_err": same.stderr, "after_same": after_same,
        "other_rc": other.returncode, "other_out": other.stdout[-1500:] + other.stderr,
        "after_other": after_other,
        "first_rc": done["rc"], "first_out": done["out"][-1500:] + done["err"],
        "strays": wait_for_strays(), "changed": differences(baseline, settled_state()),
    }
    return seen


def scenario_cleanup_during_run() -> dict:
    """`netlessons cleanup` while another host run is alive (frozen after step 5): it must leave that lab."""
    baseline = full_state()
    first, _ = _pause_after(5)
    frozen = settled_state()
    cleanup = netlessons("cleanup")
    touched = differences(frozen, settled_state())
    os.kill(first.pid, signal.SIGCONT)
    done = finish(first, [])
    strays = wait_for_strays()
    netlessons("cleanup")
    return {"cleanup": cleanup.stdout + cleanup.stderr, "touched": touched, "first_rc": done["rc"],
            "first_out": done["out"][-1500:], "strays": strays,
            "changed": differences(baseline, settled_state())}


def _hiding(paths: list[str], *argv: str) -> subprocess.CompletedProcess:
    """argv in a nested mount namespace where these files are covered by /dev/null (the network namespace
    stays the outer one)."""
    real = dict.fromkeys(os.path.realpath(p) for p in paths)
    hide = " && ".join(f"mount --bind /dev/null {p}" for p in real)
    return subprocess.run(["unshare", "--mount", "bash", "-c", f"{hide} && exec \"$@\"", "hide", *argv],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


def scenario_faults() -> dict:
    """Real faults in host mode: a missing tool, a read-only /run/netns, a full disk under the ledger."""
    make_bystanders()
    baseline = full_state()
    results: dict[str, dict] = {}

    def record(name: str, run: subprocess.CompletedProcess, **extra: Any) -> None:
        results[name] = {"rc": run.returncode, "out": run.stdout[-2000:], "err": run.stderr,
                         "changed": differences(baseline, settled_state()), **extra}

    for tool, lesson in (("brctl", "bridge-3ns"), ("ip", "netns-basics"), ("ping", "veth-pair")):
        where = [p for p in (shutil.which(tool),) if p]
        record(f"no-{tool}", _hiding(where, *NETLESSONS, "run", lesson, "--host"))

    for lesson in ("netns-basics", "bridge-3ns"):
        script = "mount -t tmpfs -o ro,mode=0755 readonly /run/netns && exec \"$@\""
        run = subprocess.run(["unshare", "--mount", "bash", "-c", script, "ro", *NETLESSONS, "run", lesson,
                              "--host"], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
        record(f"readonly-netns-{lesson}", run)

    # A state folder on a one-page tmpfs, filled up before the run: the ledger cannot even start.
    full = WORK / "full"
    full.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0700", "ledger-full", str(full)], check=True)
    subprocess.run(["dd", "if=/dev/zero", f"of={full}/filler", "bs=4096", "count=4"], capture_output=True,
                   check=False)
    run = netlessons("run", "bridge-3ns", "--host", env={"NETLESSONS_STATE_DIR": str(full)})
    record("ledger-full-at-start", run, files=sorted(p.name for p in full.iterdir() if p.name != "filler"))
    subprocess.run(["umount", str(full)], check=True)

    # A three-page tmpfs: the run's claims (120 links) fit, then the records of what each step made outgrow
    # it while the run creates pair after pair.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k,mode=0700", "ledger-small", str(full)], check=True)
    folder = write_lesson(WORK / "many", "many-pairs", MANY_PAIRS)
    run = netlessons("run", "many-pairs", "--host", "--lessons-dir", str(folder),
                     env={"NETLESSONS_STATE_DIR": str(full)})
    record("ledger-full-mid-run", run, files=sorted(p.name for p in full.iterdir()),
           steps_passed=len(re.findall(r"^\[[^\]]+\] ok", run.stdout, re.MULTILINE)))
    subprocess.run(["umount", str(full)], check=True)
    return {"results": results, "strays": wait_for_strays()}


MANY_PAIRS = """id = "many-pairs"
title = "Many veth pairs"
summary = "Sixty veth pairs, one per step: their ledger outgrows one page of disk."

[[steps]]
id = "pair"
title = "Create pa{{ i }} / pb{{ i }}"
foreach = "i in range(60)"
explain = "One more pair, recorded in the ledger first."
run = "{{ veth.add('pa' ~ i, 'pb' ~ i) }}"
"""


def inside_outer_namespace() -> bool:
    """Only inside the outer namespace of tests.helpers: /run is its private tmpfs and the network namespace
    is not PID 1's."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    private_run = any(line.split()[:3] == ["outer", "/run", "tmpfs"] for line in mounts)
    try:
        separate = os.readlink("/proc/self/ns/net") != os.readlink("/proc/1/ns/net")
    except OSError:  # in a user namespace PID 1 is not ours to inspect; we are not the machine's root anyway
        separate = True
    return private_run and separate


def main() -> None:
    if not inside_outer_namespace():
        sys.exit("reliability_driver: refusing to run outside the outer throwaway namespace")
    global TRACK_FILES
    become_subreaper()
    # A private /tmp: what host mode writes there (pid files, logs, a server's pages) is ours to check, and
    # never mixes with the machine's /tmp or another outer namespace's. Not when this project or its Python
    # lives under /tmp (a clone made there): a tmpfs on /tmp would hide them, so files go unchecked then.
    ours = (Path(sys.executable).resolve(), Path(sys.prefix).resolve(), Path(__file__).resolve())
    if not any(path.is_relative_to("/tmp") for path in ours):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "reliability-tmp", "/tmp"], check=True)
        TRACK_FILES = True
    WORK.mkdir(parents=True, exist_ok=True)
    # No render cache: its folder would be one more file under the private /tmp that the scenarios compare.
    os.environ["NETLESSONS_CACHE_DIR"] = ""
    name, *args = sys.argv[1:]
    print(json.dumps(globals()[f"scenario_{name}"](*args)))


if __name__ == "__main__":
    main()
