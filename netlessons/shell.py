"""The one place that starts processes.

`LabShell` keeps one bash alive for a whole run and feeds it one command at a time, each followed by a
salted end marker on stdout (carrying the exit status) and on stderr, so every command's output and status
stay apart without starting a new shell per command (the idea comes from prysk).
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

from netlessons.errors import EnvironmentProblem, SandboxDied
from netlessons.results import CommandResult

# Ordinary users on Debian have no /usr/sbin in PATH, where ip, brctl and sysctl live.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def lab_environment() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(path + [d for d in SBIN if d not in path])
    env["LC_ALL"] = "C"  # the outputs we check are the C locale's
    # Commands in the lab run in /, and say so: the caller's folder may be hidden behind the sandbox's private
    # /tmp, and some programs (pyenv's python3 shim) fail when $PWD names a folder they cannot enter.
    env["PWD"] = "/"
    env.pop("OLDPWD", None)
    return env


class LabShell:
    def __init__(self, prefix: list[str], setup: str = "") -> None:
        import sh  # deferred: only commands that run something pay for its import

        self._events: queue.Queue[tuple[str, str]] = queue.Queue()
        self._stdin: queue.Queue[str | None] = queue.Queue()
        self._stderr_tail: list[str] = []
        # The lab's shell starts in /: the caller's folder may be hidden by the sandbox's private /tmp.
        argv = [*prefix, "bash", "--noprofile", "--norc"]
        command = sh.Command(argv[0]).bake(*argv[1:])
        self._process = command(
            _in=self._stdin, _out=lambda line: self._events.put(("out", line)),
            _err=lambda line: self._events.put(("err", line)), _bg=True, _bg_exc=False,
            _tty_out=False, _in_bufsize=0, _new_session=True, _env=lab_environment(), _cwd="/")
        # As in the printed scripts, a pipeline fails when any part of it fails, not only the last.
        result = self.run("set -o pipefail\n" + setup, timeout=20)
        if result.status != 0:
            self.close()
            raise SandboxDied(f"setup failed ({result.status}): {result.stderr.strip()}",
                              status=result.status, stderr=result.stderr)

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.is_alive()

    def exit_code(self) -> int | None:
        try:
            return self._process.exit_code if not self.alive() else None
        except Exception:  # sh raises its own error classes for non-zero codes
            return getattr(self._process, "exit_code", None)

    def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        salt = "NL" + secrets.token_hex(8)
        self._stdin.put(f"{{ {command}\n}} </dev/null\nprintf '%s %d\\n' {salt} $?\nprintf '%s\\n' {salt} >&2\n")
        out: list[str] = []
        err: list[str] = []
        status: int | None = None
        err_done = False
        start = time.perf_counter()
        deadline = start + timeout
        while status is None or not err_done:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.kill()
                return CommandResult(command, 124, "".join(out), "".join(err), time.perf_counter() - start, True)
            try:
                stream, chunk = self._events.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                if not self.alive():
                    code, text = self.exit_code(), "".join(err)
                    raise SandboxDied("the lab's shell ended unexpectedly: " + (text.strip() or f"exit status {code}"),
                                      status=code, stderr=text) from None
                continue
            position = chunk.find(salt)
            if position < 0:
                (out if stream == "out" else err).append(chunk)
                continue
            (out if stream == "out" else err).append(chunk[:position])
            if stream == "out":
                status = int(chunk[position + len(salt):].split()[0])
            else:
                err_done = True
        return CommandResult(command, status, "".join(out), "".join(err), time.perf_counter() - start)

    def lab_pid(self) -> int:
        """The process whose namespaces are the lab's: the bash that unshare forked, or this shell itself."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        found = children.read_text().split() if children.exists() else []
        return int(found[0]) if found else self.pid

    def enter_command(self) -> list[str]:
        """nsenter into the lab's namespaces, its root folder included. The user namespace is entered with the
        caller's credentials kept as they are: the lab maps them to root, and nsenter's own switch to uid 0
        (setgroups) is refused in a namespace whose setgroups is denied, as --map-root-user leaves it."""
        return ["nsenter", f"--target={self.lab_pid()}", "--user", "--preserve-credentials", "--net", "--mount",
                "--pid", "--root", "--wd"]

    def interactive(self, prompt: str, enter: bool, extra_env: dict[str, str] | None = None) -> int:
        """An interactive bash for the learner, inside the lab's namespaces when `enter` (the sandbox);
        it shares this terminal and returns its exit status when the learner leaves it."""
        env = {**lab_environment(), **(extra_env or {}), "PS1": prompt}
        # Interactive only on a terminal: commands piped in (a grader, a test) need no prompt and no job control.
        argv = ["bash", "--norc", "--noprofile", *(["-i"] if sys.stdin.isatty() else [])]
        if enter:
            prefix = self.enter_command()
            try:
                probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, env=env,
                                       stdin=subprocess.DEVNULL, timeout=30)
                why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
            except (OSError, subprocess.TimeoutExpired) as e:
                probe, why = None, str(e)
            if probe is None or probe.returncode != 0:
                raise EnvironmentProblem(f"could not open a shell in the lab: {why}",
                                         hint="nsenter comes with util-linux (apt-get install util-linux)")
            argv = [*prefix, *argv]
        return in_foreground(argv, env)

    def kill(self) -> None:
        """End the shell and everything it started (its own session)."""
        if self.alive():
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._process.wait()
        except Exception:  # a killed process reports a non-zero code through sh's exceptions
            pass

    def close(self) -> None:
        """End of input ends the shell (and with it a sandbox's PID namespace). No waiting: sh notices a
        finished process only every 0.1 s, and nothing here needs to know. What a kept host-mode lab
        started in the background (a server) lives on, as the learner asked."""
        if self.alive():
            self._stdin.put(None)

    def __enter__(self) -> "LabShell":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_foreground(argv: list[str], env: dict[str, str], fd: int = 0) -> int:
    """Run an interactive program on this terminal and take the terminal back afterwards.

    An interactive bash puts itself in a process group of its own and makes it the terminal's foreground group.
    In the lab it cannot give the terminal back when it ends: from inside the lab's PID namespace our process
    group has no number. Left so, netlessons would read from the terminal as a background group and be stopped
    (`Stopped (tty input)`) or get EIO. So this process makes its own group the foreground again, with SIGTTOU
    ignored (a background group may not do it otherwise), and restores the terminal's settings."""
    if not os.isatty(fd):
        return subprocess.run(argv, env=env).returncode
    settings = termios.tcgetattr(fd)
    try:
        return subprocess.run(argv, env=env).returncode
    finally:
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, os.getpgrp())
            termios.tcsetattr(fd, termios.TCSADRAIN, settings)
        except OSError:  # the terminal went away, or it was never ours: nothing to give back
            pass
        finally:
            signal.signal(signal.SIGTTOU, previous)


def run_once(argv: list[str], timeout: float = 10.0) -> CommandResult:
    """One short command outside any lab, e.g. for the doctor. Never raises for a non-zero exit."""
    import sh

    start = time.perf_counter()
    try:
        process = sh.Command(argv[0])(*argv[1:], _ok_code=list(range(256)), _timeout=timeout,
                                      _env=lab_environment(), _tty_out=False, _return_cmd=True)
        return CommandResult(" ".join(argv), process.exit_code, str(process), process.stderr.decode(errors="replace"),
                             time.perf_counter() - start)
    except sh.CommandNotFound:
        return CommandResult(" ".join(argv), 127, "", f"{argv[0]}: not found", time.perf_counter() - start)
    except sh.TimeoutException:
        return CommandResult(" ".join(argv), 124, "", "timed out", time.perf_counter() - start, True)
