"""The one place that starts processes.

`LabShell` keeps one bash alive for a whole run and feeds it one command at a time, each followed by a
salted end marker on stdout (carrying the exit status) and on stderr, so every command's output and status
stay apart without starting a new shell per command (the idea comes from prysk).
"""

from __future__ import annotations

import os
import secrets
import selectors
import signal
import subprocess
import sys
import termios
import time
import weakref
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
    """One bash for the whole run. sh starts it, with three plain pipes as its stdin, stdout and stderr; this
    class reads the two output pipes itself with `selectors` in the calling thread. (Handing sh callbacks costs
    a reader thread per pipe and a queue hand-off per line: about twice the CPU per command.)"""

    def __init__(self, prefix: list[str], setup: str = "") -> None:
        import sh  # deferred: only commands that run something pay for its import

        child_in, self._stdin = os.pipe()
        self._stdout, child_out = os.pipe()
        self._stderr, child_err = os.pipe()
        self._pending = {self._stdout: b"", self._stderr: b""}  # read after the last command's end marker
        self._open = [self._stdin, self._stdout, self._stderr]  # ours to close, by close() or when collected
        self._selector = selectors.PollSelector()
        weakref.finalize(self, _close_all, self._open)
        # The lab's shell starts in /: the caller's folder may be hidden by the sandbox's private /tmp.
        argv = [*prefix, "bash", "--noprofile", "--norc"]
        try:
            command = sh.Command(argv[0]).bake(*argv[1:])
            self._process = command(_in=child_in, _out=child_out, _err=child_err, _bg=True, _bg_exc=False,
                                    _new_session=True, _env=lab_environment(), _cwd="/")
        finally:
            _close_all([child_in, child_out, child_err])  # the shell holds its own copies
        os.set_blocking(self._stdin, False)
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
        if self._stdin not in self._open:
            raise SandboxDied("the lab's shell was closed", status=self.exit_code())
        marker = "NL" + secrets.token_hex(8)
        text = f"{{ {command}\n}} </dev/null\nprintf '%s %d\\n' {marker} $?\nprintf '%s\\n' {marker} >&2\n"
        salt, unsent = marker.encode(), text.encode()
        start = time.perf_counter()
        deadline = start + timeout
        ends: dict[int, int] = {}  # pipe → where its end marker starts in what was read
        read = dict(self._pending)
        selector = self._selector  # a poll set: registering costs no system call, unlike epoll's
        try:
            for fd in (self._stdout, self._stderr):
                selector.register(fd, selectors.EVENT_READ)
                self._found(read, fd, salt, ends, 0)
            unsent = self._send(unsent, read)
            if unsent:  # the rest as the shell reads it: it may be writing output meanwhile
                selector.register(self._stdin, selectors.EVENT_WRITE)
            while len(ends) < 2:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    self.kill()
                    out, err = (read[fd].decode(errors="replace") for fd in (self._stdout, self._stderr))
                    return CommandResult(command, 124, out, err, time.perf_counter() - start, True)
                ready = selector.select(min(remaining, 0.25))
                if not ready and not self.alive():
                    self._died(read)
                for key, _ in ready:
                    if key.fd == self._stdin:
                        unsent = self._send(unsent, read)
                        if not unsent:
                            selector.unregister(self._stdin)
                        continue
                    chunk = os.read(key.fd, 65536)
                    if not chunk:  # the shell closed its end: it has ended, or is ending
                        self._died(read)
                    read[key.fd] += chunk
                    self._found(read, key.fd, salt, ends, len(read[key.fd]) - len(chunk))
        finally:
            for fd in list(selector.get_map()):
                selector.unregister(fd)
        out_end = read[self._stdout].index(b"\n", ends[self._stdout]) + 1
        err_end = ends[self._stderr] + len(salt) + 1
        status = int(read[self._stdout][ends[self._stdout] + len(salt):out_end].split()[0])
        self._pending = {self._stdout: read[self._stdout][out_end:], self._stderr: read[self._stderr][err_end:]}
        out = read[self._stdout][:ends[self._stdout]].decode(errors="replace")
        err = read[self._stderr][:ends[self._stderr]].decode(errors="replace")
        return CommandResult(command, status, out, err, time.perf_counter() - start)

    def _send(self, data: bytes, read: dict[int, bytes]) -> bytes:
        """Write what the pipe to the shell takes now; the rest."""
        try:
            return data[os.write(self._stdin, data):]
        except BlockingIOError:
            return data
        except BrokenPipeError:
            self._died(read)
            raise

    def _found(self, read: dict[int, bytes], fd: int, salt: bytes, ends: dict[int, int], new: int) -> None:
        """Note where a pipe's end marker is, once it has come whole (stdout's carries the status after it);
        `new`: where the text not yet searched begins. A pipe whose marker has come is read no further."""
        if fd in ends:
            return
        # A marker line may span two reads: look again from far enough back for the marker, its status and more.
        position = read[fd].find(salt, max(new - len(salt) - 24, 0))
        if position >= 0 and b"\n" in read[fd][position:]:
            ends[fd] = position
            self._selector.unregister(fd)

    def _died(self, read: dict[int, bytes]) -> None:
        for _ in range(100):  # the pipes close a moment before the process is seen to end
            if not self.alive():
                break
            time.sleep(0.01)
        code, text = self.exit_code(), read[self._stderr].decode(errors="replace")
        raise SandboxDied("the lab's shell ended unexpectedly: " + (text.strip() or f"exit status {code}"),
                          status=code, stderr=text) from None

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
        if self._stdin in self._open:
            self._open.remove(self._stdin)
            os.close(self._stdin)

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


def _close_all(fds: list[int]) -> None:
    while fds:
        fd = fds.pop()
        os.close(fd)
