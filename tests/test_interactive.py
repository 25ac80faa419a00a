"""`shell` and `walk` on a real terminal (a pseudo-terminal), as root and as an ordinary user.

The walk is driven as a learner drives it: from an interactive bash with job control, and as the only program
of a terminal (as `tmux new-session 'netlessons walk …'` starts it). The waits below are bounds for a failing
run, not timings that are checked.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.failing_lesson import broken_lessons
from tests.helpers import ROOT, netlessons, without_tools

USERS = ["root", "nobody"]


class Terminal:
    """A program on a pseudo-terminal of its own, as its session leader; `expect` reads until a pattern."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec at once
            try:
                os.chdir("/")
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.text = ""
        self.seen = 0  # how far earlier `expect`s have matched: the next one looks from there

    def send(self, data: str) -> None:
        os.write(self.fd, data.encode())

    def expect(self, pattern: str, timeout: float = 90) -> str:
        """Everything up to and including the first match of `pattern` after the previous match (a chunk read
        for one pattern may already hold the next)."""
        start = self.seen
        compiled = re.compile(pattern, re.S)
        while True:
            found = compiled.search(self.text, start)
            if found:
                self.seen = found.end()
                return self.text[start:found.end()]
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                raise AssertionError(f"no {pattern!r} within {timeout} s; the terminal shows:\n{self.text[-3000:]}")
            try:
                chunk = os.read(self.fd, 4096).decode(errors="replace")
            except OSError:  # EIO: the terminal's last program ended
                chunk = ""
            if not chunk:
                raise AssertionError(f"the terminal closed before {pattern!r}:\n{self.text[-3000:]}")
            self.text += chunk

    def wait(self, timeout: float = 60) -> int:
        """The exit status; reads the rest of the output meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                if select.select([self.fd], [], [], 0.2)[0]:
                    self.text += os.read(self.fd, 4096).decode(errors="replace")
            except OSError:  # the terminal closed: only the exit is left to wait for
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"still running:\n{self.text[-3000:]}")


def _python_and_env(user: str, site: Path | None) -> tuple[list[str], dict[str, str]]:
    """How to start netlessons as this user, and the environment to start it in."""
    base = {"TERM": "xterm", "LANG": "C.UTF-8", "NETLESSONS_CACHE_DIR": "", "HOME": "/tmp"}
    if user == "root":
        return ([sys.executable, "-m", "netlessons"],
                {**base, "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)})
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    return ([python, "-m", "netlessons"], {**base, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)})


def _as(user: str) -> list[str]:
    return [] if user == "root" else ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture(params=USERS)
def user(request):
    if request.param == "nobody" and os.geteuid() != 0:
        pytest.skip("already an ordinary user: the root case is this case")
    site = request.getfixturevalue("ordinary_user_copy") if request.param == "nobody" else None
    return request.param, site


def _shell(user: str, site: Path | None, *args: str, input: str) -> subprocess.CompletedProcess:
    if user == "nobody":
        return _nobody(site, *args, input=input)
    return netlessons(*args, input=input, env={"NETLESSONS_CACHE_DIR": ""})


def _nobody(site: Path, *args: str, input: str) -> subprocess.CompletedProcess:
    command, env = _python_and_env("nobody", site)
    return subprocess.run([*_as("nobody"), *command, *args], input=input, capture_output=True, text=True,
                          env=env, cwd="/", timeout=120)


def test_shell_enters_the_lab_and_passes_its_exit_status_on(user, host_unchanged):
    who, site = user
    result = _shell(who, site, "shell", "bridge-3ns", "--upto", "add-veth", input="ip netns list\nexit 7\n")
    assert result.returncode == 7, result.stdout + result.stderr
    assert re.search(r"^ns1\b", result.stdout, re.M), result.stdout + result.stderr
    assert "setgroups" not in result.stderr


def test_shell_after_a_failing_step_opens_the_lab_as_it_was_left(user, host_unchanged, tmp_path):
    who, site = user
    folder = broken_lessons(tmp_path / "broken")
    result = _shell(who, site, "shell", "mismatched-subnets", "--lessons-dir", str(folder),
                    input="ip netns exec ns2 ip -br addr show dev veth2\nexit 4\n")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "failed" in result.stderr and "as step 3 left it" in result.stderr
    assert "10.0.1.2/24" in result.stdout  # the lab as the failing step left it


def test_shell_that_cannot_enter_the_lab_exits_3_with_a_message(host_unchanged):
    result = without_tools(["nsenter"], "shell", "netns-basics")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not open a shell in the lab" in result.stderr
    assert "Traceback" not in result.stderr


def _start_walk(who: str, site: Path | None, lesson: str, from_bash: bool) -> tuple[Terminal, list[str]]:
    command, env = _python_and_env(who, site)
    if not from_bash:
        return Terminal([*_as(who), *command, "walk", lesson], env), command
    terminal = Terminal([*_as(who), "bash", "--norc", "--noprofile", "-i"], {**env, "PS1": "outer$ "})
    terminal.expect(r"outer\$ ")
    terminal.send("stty -g > /tmp/.nl-stty-before-$$; " + " ".join(command) + f" walk {lesson}; echo EXIT=$?\n")
    return terminal, command


@pytest.mark.parametrize("from_bash", [True, False], ids=["from-interactive-bash", "alone-on-its-terminal"])
def test_walk_shell_key_returns_to_the_walk_with_the_lab_intact(user, from_bash, host_unchanged):
    who, site = user
    terminal, _ = _start_walk(who, site, "netns-basics", from_bash)
    terminal.expect(r"Step 1/\d+.*?> ", )
    terminal.send("\r")  # one key, no Enter needed: this is the Enter key itself
    terminal.expect(r"Step 2/\d+.*?> ")
    terminal.send("!")
    terminal.expect(r"\[netlessons netns-basics\] ")
    terminal.send("ip netns list; echo marker-$((6*7))\r")
    shown = terminal.expect(r"marker-42")
    assert "ns1" in shown
    terminal.send("exit\r")
    terminal.expect(r"back in the walk.*?Step 2/\d+.*?> ")  # the walk asks again, at the same step
    terminal.send("\r")  # step 2 lists the namespaces: ns1 is still there
    assert "ns1" in terminal.expect(r"Step 3/\d+.*?> ")
    terminal.send("q")
    terminal.expect(r"\(quit\)")
    if from_bash:
        terminal.expect(r"EXIT=0")
        assert "Stopped" not in terminal.text
        terminal.send("exit\r")
    assert terminal.wait() == 0, terminal.text
    assert "Traceback" not in terminal.text and "Input/output error" not in terminal.text


def test_walk_unknown_key_shows_the_keys_and_ctrl_d_quits(host_unchanged):
    terminal, _ = _start_walk("root", None, "netns-basics", from_bash=False)
    terminal.expect(r"Step 1/\d+.*?> ")
    terminal.send("x")
    shown = terminal.expect(r"not a choice.*?> ")
    assert "s skip" in shown and "✓ ok" not in terminal.text  # the keys, and the step did not run
    terminal.send("\x04")  # Ctrl-D
    terminal.expect(r"\(quit\)")
    terminal.expect(r"0 passed, 0 failed, 0 skipped")
    assert terminal.wait() == 0, terminal.text


def test_walk_ctrl_c_says_the_sandbox_is_gone_and_restores_the_terminal(host_unchanged):
    terminal, _ = _start_walk("root", None, "netns-basics", from_bash=True)
    terminal.expect(r"Step 1/\d+.*?> ")
    terminal.send("\x03")  # Ctrl-C while the walk waits for a key (the terminal is in cbreak mode then)
    terminal.expect(r"EXIT=130")
    assert "\ninterrupted; the sandbox is gone." in terminal.text.replace("\r\n", "\n")
    assert "--host" not in terminal.text
    # The terminal's settings are as they were before the walk.
    terminal.send("[ \"$(stty -g)\" = \"$(cat /tmp/.nl-stty-before-$$)\" ] && echo same-settings; "
                  "rm -f /tmp/.nl-stty-before-$$\r")
    terminal.expect(r"same-settings")
    terminal.send("exit\r")
    assert terminal.wait() == 0
