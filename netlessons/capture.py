"""Watching the wire: a packet capture around a step, and a live one for a teacher (`netlessons watch`).

Debian's tcpdump cannot capture in the sandbox: as root it insists on switching to its own user (or to the one
`-Z` names), and a user namespace made with --map-root-user refuses the group change that needs (setgroups is
denied there, for root as for an ordinary user). So the capture is split in two:

- a small agent (AGENT, plain Python, only the interpreter's built-in modules) opens a packet socket on the
  interface, says "listening on IF" on stderr once the socket is bound (and "up" on a FIFO of the lab, which
  the lab's shell waits on), and writes every frame, with the kernel's timestamp, as a pcap stream to
- tcpdump reading that stream (`tcpdump -r -`), which needs no privilege at all: it applies the filter, stops
  after a bounded number of packets, and decodes them one per line (`-e` for link-layer headers, `-T vxlan`).
  As uid 0 it would still try to switch users (and fail), so it runs as an ordinary user of a user namespace of
  its own (`unshare --user --map-user=65534`), which any user may make, in the lab as on the machine.

The agent also bounds its own time, ends on SIGTERM or SIGINT (reading what the socket holds by then first),
and ends when tcpdump has had its count of packets. One agent per interface; their lines are merged in the order
of the kernel's timestamps, each named by where it was seen ("br0: ...", "outside/eth0: ...").

In the sandbox nothing outlives the lab (its PID namespace); in host mode each agent's pid and start time go to
the ownership ledger in the same round trip that starts it, so `cleanup` stops one that a killed run left.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from netlessons.checks import Verdict, output_verdict
from netlessons.lesson import Capture, Step
from netlessons.results import CommandResult, StepResult

if TYPE_CHECKING:
    from netlessons.shell import LabShell

DECODERS = {"": (), "vxlan": ("-T", "vxlan")}  # how a capture's `decode` reaches tcpdump
AS_NOBODY = ("unshare", "--user", "--map-user=65534", "--map-group=65534")  # tcpdump then keeps its user
MAX_COUNT = 10_000
SPARE_SECONDS = 60.0  # a capture's time bound: its step's timeout and checks, and this much more

# The agent. argv: INTERFACE SECONDS FILTER -- DECODER ARGV... It runs inside the lab (or a namespace of it),
# with the lab's Python 3, from a file the lab's shell writes (or with -c for `watch`).
AGENT = r'''
# Only modules built into the interpreter: `socket`, `signal` and `subprocess` would import enum and more, which
# makes the agent's start about three times as long (about 28 ms against 10 ms here).
import os, select, sys, time, _signal as signal, _socket as socket, _struct as struct
iface, seconds, expression, decoder = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[5:]
# NETLESSONS_TELL="FD WORD": the agent writes "up WORD" to FD (the lab's FIFO) once it listens; the lab's shell
# waits for that word.
tell = os.environ.get("NETLESSONS_TELL", "").split()
if len(tell) == 2:
    os.set_inheritable(int(tell[0]), False)  # the agent's alone: not tcpdump's

def tell_listening():
    if len(tell) == 2:
        os.write(int(tell[0]), ("up %s\n" % tell[1]).encode())
        os.close(int(tell[0]))
try:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.bind((iface, 3))  # 3 = ETH_P_ALL: every frame of this interface only, both directions
except OSError as e:
    sys.exit("capture: cannot listen on %s: %s" % (iface, e.strerror))
sock.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS: the kernel's time of each frame
# PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC (as tcpdump does; it ends with the socket): a bridge then passes up
# the frames it forwards between its ports, not only those for itself.
sock.setsockopt(263, 1, struct.pack("iHH8s", socket.if_nametoindex(iface), 1, 0, b""))
linktype, dlt = (101, "RAW") if sock.getsockname()[3] == 65534 else (1, "EN10MB")

def spawn(argv, **fds):
    # A program with some of its standard streams replaced (stdin=, stdout=, stderr=: a file descriptor).
    actions = [(os.POSIX_SPAWN_DUP2, fds[name], target)
               for target, name in enumerate(("stdin", "stdout", "stderr")) if name in fds]
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setsigdef=(signal.SIGPIPE,))

def ended(pid, wait=0):
    # Its exit status once the process has ended, else None; with `wait`, it is waited for (killed after
    # `wait` seconds).
    if not wait:
        done, status = os.waitpid(pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(status) if done else None
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, 9))
    signal.alarm(wait)
    status = os.waitpid(pid, 0)[1]
    signal.alarm(0)
    return os.waitstatus_to_exitcode(status)

# The filter is checked while tcpdump (the decoder) starts: two processes at once, not one after the other.
if expression:
    check_err, check_w = os.pipe()
    devnull = os.open(os.devnull, os.O_WRONLY)
    check = spawn(["tcpdump", "-d", "-y", dlt, expression], stdout=devnull, stderr=check_w)
    os.close(check_w)
    os.close(devnull)
# tcpdump leaves Ctrl-C to the agent, which ends its stream: so it decodes every packet sent, and ends cleanly.
# (An ignored signal stays ignored across exec; the agent's own handler comes after.)
signal.signal(signal.SIGINT, signal.SIG_IGN)
stream, pipe = os.pipe()
child = spawn(decoder + ([expression] if expression else []), stdin=stream)
os.close(stream)
if expression and ended(check, 30):
    os.kill(child, 9)
    message = b"".join(iter(lambda: os.read(check_err, 65536), b"")).decode(errors="replace").strip()
    sys.exit("capture: " + (message.splitlines() or ["bad filter"])[-1])
stop = []
# The lab's shell (or `watch`): when it is gone, so is the reason to capture. The shell names itself, since it
# may be gone (and this agent handed to another parent) before this line runs.
parent = int(os.environ.get("NETLESSONS_LAB_SHELL") or os.getppid())
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.append(1))
# A signal also writes to this pipe, so that the wait below ends at once instead of at its next timeout.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
deadline = time.monotonic() + seconds

def send(data):
    while data:
        data = data[os.write(pipe, data):]

def write(data, ancillary):
    sec = nsec = 0
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == 35:
            sec, nsec = struct.unpack("qq", value[:16])
    send(struct.pack("=IIII", sec, nsec, len(data), len(data)) + data)

try:
    send(struct.pack("=IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
    print("listening on " + iface, file=sys.stderr, flush=True)
    tell_listening()
    while not stop and ended(child) is None and time.monotonic() < deadline and os.getppid() == parent:
        if sock in select.select([sock, wake_r], [], [], min(0.05, max(deadline - time.monotonic(), 0)))[0]:
            write(*sock.recvmsg(262144, 64)[:2])
    sock.setblocking(False)
    while True:  # what the socket holds already belongs to the capture
        try:
            write(*sock.recvmsg(262144, 64)[:2])
        except BlockingIOError:
            break
except BrokenPipeError:  # tcpdump has had its count of packets
    pass
os.close(pipe)  # tcpdump decodes what is left and ends, while
sock.close()  # the socket closes: packet_release() waits for an RCU grace period (synchronize_net(), ~13 ms here)
ended(child, 5)
os._exit(0)  # nothing is left to tidy
'''

_LINE = re.compile(r"(\d+)\.(\d+) (.*)")


def wire_of(outcome: StepResult) -> tuple[str, ...]:
    """The packets a step's capture saw (none for a step without one)."""
    return outcome.wire


def decoder_argv(capture: Capture, count: int | None = None) -> list[str]:
    """tcpdump reading the agent's stream: no name look-ups, a line as soon as a packet is decoded, the
    kernel's time in seconds (taken off again when lines are merged), and a bounded number of packets."""
    argv = [*AS_NOBODY, "tcpdump", "-r", "-", "-n", "-l", "-tt", "-c", str(count or capture.count)]
    return argv + (["-e"] if capture.link else []) + list(DECODERS[capture.decode])


def label(capture: Capture, interface: str) -> str:
    """How a line says where its packet was seen: the interface, after its namespace when it has one."""
    return f"{capture.netns}/{interface}" if capture.netns else interface


def places(captures: tuple[Capture, ...]) -> list[tuple[Capture, str]]:
    """Every interface a step watches, with its capture: one agent each."""
    return [(capture, interface) for capture in captures for interface in capture.on]


def agent_file() -> str:
    return '"$LAB"/.netlessons-capture.py'


def agent_python() -> str:
    """The agent's interpreter: the one running netlessons, by its real path (a venv's python is a link to it).
    Looking `python3` up on PATH instead can find a version manager's shim, a script that costs more to start
    than the whole capture (pyenv's: about 90 ms). The lab falls back to PATH where this path is hidden."""
    return os.path.realpath(sys.executable)


FIFO = '"$LAB"/.netlessons-tell'


def _await_listening(count: int, seconds: int) -> list[str]:
    """Shell text that waits until each of the `count` agents of this round has said "up" on the FIFO (sets
    __nl_up<index>=1) or has ended without saying it, for at most `seconds` by the clock, reading the FIFO open
    as $__nl_tell; then closes it. The shell's `read -t` does the waiting: no process starts for it, and it ends
    with the last word (where `grep` and `sleep` in a loop cost two processes a round)."""
    take = '[[ $__nl_word =~ ^up\\ $__nl_round\\.([0-9]+)$ ]] && printf -v "__nl_up${BASH_REMATCH[1]}" 1'
    pending = " ".join(str(index) for index in range(count))
    # A read that times out keeps what it got of a line in the variable (bash 5): that part is carried over, so
    # that a word split by the timeout still counts.
    return [f"__nl_end=$((SECONDS + {seconds})); __nl_pending='{pending}'; __nl_part=",
            'while [ -n "$__nl_pending" ] && [ $SECONDS -lt $__nl_end ]; do',
            '  if read -r -t 0.05 -u "$__nl_tell" __nl_word; then',
            f'    __nl_word=$__nl_part$__nl_word; __nl_part=; {take}',
            '  else __nl_part+=$__nl_word; fi',
            "  __nl_left=",
            "  for __nl_i in $__nl_pending; do",
            '    __nl_pid=__nl_capture$__nl_i; __nl_flag=__nl_up$__nl_i',
            '    if [ -z "${!__nl_flag}" ] && kill -0 "${!__nl_pid}" 2>/dev/null; then __nl_left+=" $__nl_i"; fi',
            "  done",
            '  __nl_pending=$__nl_left',
            "done",
            # What came just as the wait ended counts too.
            'while read -r -t 0 -u "$__nl_tell" && read -r -u "$__nl_tell" __nl_word; do',
            f'  __nl_word=$__nl_part$__nl_word; __nl_part=; {take}',
            'done',
            'exec {__nl_tell}>&-']


def start_command(step: Step, seconds: float, records: list[str] = ()) -> str:
    """Shell text that starts one agent per interface in the background, records their pids (and, in host mode,
    runs `records`: the ledger's identity probe of each agent), then waits until each listens. It prints what
    stopped an agent that did not start, and exits non-zero then."""
    agent = agent_file()
    lines = [f"[ -f {agent} ] || printf '%s\\n' {shlex.quote(AGENT.strip(chr(10)))} >{agent}",
             f"[ -p {FIFO} ] || mkfifo -m 600 {FIFO}",
             f"exec {{__nl_tell}}<>{FIFO}",  # read and write: the open does not wait for a writer
             f"__nl_py={shlex.quote(agent_python())}; [ -x \"$__nl_py\" ] || __nl_py=python3",
             "__nl_round=$((__nl_round + 1))"]
    watched = places(step.capture)
    for index, (capture, interface) in enumerate(watched):
        prefix = f"ip netns exec {shlex.quote(capture.netns)} " if capture.netns else ""
        words = " ".join(shlex.quote(a) for a in [interface, f"{seconds:g}", capture.filter, "--",
                                                   *decoder_argv(capture)])
        base = f'"$LAB"/capture-{step.id}-{index}'
        lines += [f'NETLESSONS_LAB_SHELL=$$ NETLESSONS_TELL="3 $__nl_round.{index}" {prefix}"$__nl_py" -I -S '
                  f"{agent} {words} >{base}.txt 2>{base}.err 3>&$__nl_tell &",
                  f"__nl_capture{index}=$!",
                  f"echo $! >{base}.pid",
                  f"__nl_up{index}="]
    lines += list(records)
    # Up to 20 s (well inside the 30 s the start command may take): a slow agent is reported, it does not cost
    # the lab's shell.
    lines += _await_listening(len(watched), 20)
    for index, _ in enumerate(watched):
        base = f'"$LAB"/capture-{step.id}-{index}'
        lines.append(f'[ -n "$__nl_up{index}" ] || {{ grep -v \'listening on \' {base}.err | tail -n 1; '
                     "__nl_failed=1; }")
    lines.append('[ -z "$__nl_failed" ]')
    return "__nl_failed=\n" + "\n".join(lines)


def stop_command(step: Step) -> str:
    """Shell text that stops the step's agents (each first reads what its socket holds), waits until they and
    their tcpdump have ended (so nothing of the capture is left for the next step), and prints each one's lines
    after a line naming it (with the shell's own `read`, not a program)."""
    count = len(places(step.capture))
    lines = [f'kill -TERM "$__nl_capture{index}" 2>/dev/null' for index in range(count)]
    lines += [f'wait "$__nl_capture{index}" 2>/dev/null' for index in range(count)]
    for index in range(count):
        lines.append(f"echo '==> {index}'; __nl_text=; IFS= read -r -d '' __nl_text 2>/dev/null "
                     f"<\"$LAB\"/capture-{step.id}-{index}.txt; printf '%s\\n' \"$__nl_text\"")
    return "\n".join(lines) + "\ntrue"


def merge(step: Step, printed: str) -> tuple[str, ...]:
    """The agents' lines in the order the kernel saw their packets, each named by its interface, without
    the timestamp (stable: packets of one instant keep the order of the capture list). One line per packet:
    what tcpdump prints of an encapsulated packet on a line of its own joins its packet's line after " | "."""
    labels = [label(capture, interface) for capture, interface in places(step.capture)]
    found: list[tuple[int, int, int, str]] = []
    current: int | None = None
    order = 0
    for line in printed.splitlines():
        if line.startswith("==> ") and line[4:].isdigit():
            current = int(line[4:])
            continue
        match = _LINE.fullmatch(line)
        if current is None or current >= len(labels) or not line.strip():
            continue
        if not match:  # a packet inside the packet (VXLAN's inner frame): on the same line, after " | "
            if found and found[-1][2] == order - 1:
                found[-1] = (*found[-1][:3], f"{found[-1][3]} | {line.strip()}")
            continue
        seconds, fraction, text = match.groups()
        found.append((int(seconds), int(fraction.ljust(9, "0")), order, f"{labels[current]}: {text}"))
        order += 1
    return tuple(line for *_, line in sorted(found))


def capture_verdict(expected: tuple[str, ...], wire: tuple[str, ...]) -> Verdict:
    """`expect.capture`: lines of the capture, in order, matched like output lines."""
    verdict = output_verdict(expected, "\n".join(wire))
    if verdict.passed:
        return verdict
    problem = verdict.problem.replace("no output line matches", "no captured packet matches")
    detail = verdict.detail.replace("actual output:", "captured:")
    return replace(verdict, problem=problem, detail=detail)


class Recording:
    """A step's capture, as the runner wraps it around the step: `start()` before the command, `finish(outcome)`
    after the command and its checks. A step without a capture passes through unchanged."""

    def __init__(self, shell: LabShell, step: Step, records: list[str] = ()) -> None:
        self.shell = shell
        self.step = step
        self.records = list(records)
        self.problem = ""
        self.started = False

    def start(self) -> None:
        if not self.step.capture:
            return
        seconds = self.step.timeout + self.step.expect.wait + SPARE_SECONDS
        result = self.shell.run(start_command(self.step, seconds, self.records), timeout=30)
        self.started = True
        if result.status != 0:
            where = ", ".join(label(c, i) for c, i in places(self.step.capture))
            why = result.output.strip().splitlines()[-1] if result.output.strip() else f"exit {result.status}"
            self.problem = f"the capture on {where} did not start: {why}"

    def finish(self, outcome: StepResult) -> StepResult:
        if not self.started:
            return outcome
        wire: tuple[str, ...] = ()
        if self.shell.alive():
            printed: CommandResult = self.shell.run(stop_command(self.step), timeout=30)
            wire = merge(self.step, printed.stdout)
        watched = replace(outcome, wire=wire)
        if not outcome.passed:
            return watched
        if self.problem:
            return replace(watched, verdict=Verdict(False, self.problem))
        return replace(watched, verdict=capture_verdict(self.step.expect.capture, wire))


def watch_argv(interface: str, netns: str = "", capture: Capture | None = None, python: str = "") -> list[str]:
    """A live capture that prints each packet as it comes, until Ctrl-C (at most an hour, and MAX_COUNT
    packets): what `netlessons watch` and walk's `w` run."""
    capture = capture or Capture(on=(interface,), netns=netns)
    prefix = ["ip", "netns", "exec", netns] if netns else []
    decoder = [*AS_NOBODY, "tcpdump", "-r", "-", "-n", "-l", "-c", str(MAX_COUNT)] + (["-e"] if capture.link else [])
    decoder += list(DECODERS[capture.decode])
    return [*prefix, python or sys.executable, "-I", "-S", "-c", AGENT, interface, "3600", capture.filter, "--",
            *decoder]


def command_on_path() -> str:
    """Shell text, run in the lab, that puts a `netlessons` command (this Python, this copy of netlessons) in the
    lab's folder and prints that folder, for the PATH of a learner's shell in the lab: `netlessons watch` works
    there whether or not netlessons is installed where the shell would find it."""
    package = Path(__file__).resolve().parent.parent
    body = (f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(package))}${{PYTHONPATH:+:$PYTHONPATH}} "
            f"exec {shlex.quote(sys.executable)} -m netlessons \"$@\"\n")
    return (f'mkdir -p "$LAB"/.bin && printf %s {shlex.quote(body)} >"$LAB"/.bin/netlessons && '
            'chmod 755 "$LAB"/.bin/netlessons && printf %s "$LAB"/.bin')


def check_place(interface: str, netns: str, expression: str) -> None:
    """Refuse, before anything starts, an interface that is not there and a filter tcpdump cannot read."""
    from netlessons.errors import ParameterError
    from netlessons.shell import run_once

    where = ["-n", netns] if netns else []
    shown = run_once(["ip", *where, "link", "show", "dev", interface])
    if shown.status != 0:
        place = f" in namespace {netns}" if netns else " here"
        why = shown.stderr.strip().splitlines()[-1] if shown.stderr.strip() else f"exit {shown.status}"
        raise ParameterError(f"no interface {interface!r}{place}: {why}",
                             hint="`ip -br link` lists the interfaces; inside a lab, `ip netns list` its namespaces")
    if expression:
        compiled = run_once(["tcpdump", "-d", "-y", "EN10MB", expression])
        if compiled.status != 0:
            why = compiled.stderr.strip().splitlines()[-1] if compiled.stderr.strip() else "tcpdump refused it"
            raise ParameterError(f"not a filter tcpdump can read: {why}")


def watch(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a live capture on this terminal until Ctrl-C (which reaches the agent, as the terminal's foreground
    group; netlessons itself waits), `kill` or a closed terminal (passed on to the agent). Its exit status."""
    import subprocess

    from netlessons.shell import lab_environment

    process = subprocess.Popen(argv, env=env or lab_environment())

    def forward(signum: int, frame: object) -> None:
        process.send_signal(signal.SIGTERM)

    handlers = {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: forward, signal.SIGHUP: forward}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
