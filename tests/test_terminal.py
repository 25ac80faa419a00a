"""The terminal's conventions, tested on real pseudo-terminals: colour only on a terminal and never with NO_COLOR
or --no-color, the terminal's width there and full commands in files, progress on stderr only on a terminal,
and the usual options (--version, -h, completion, one "Did you mean")."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
from types import SimpleNamespace

from netlessons import cli
from tests.helpers import ROOT, netlessons

ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _pty(columns: int) -> tuple[int, int]:
    main, side = os.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    attrs = termios.tcgetattr(side)
    attrs[1] &= ~termios.ONLCR  # keep "\n" as it is written
    termios.tcsetattr(side, termios.TCSANOW, attrs)
    return main, side


def on_terminal(*args: str, env: dict | None = None, columns: int = 200, stderr_tty: bool = True):
    """netlessons with stdout (and stderr) on pseudo-terminals of `columns` columns: what each received."""
    out_main, out_side = _pty(columns)
    err_main, err_side = _pty(columns) if stderr_tty else (None, subprocess.PIPE)
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    environment.update({"TERM": "xterm", **(env or {})})
    process = subprocess.Popen([sys.executable, "-m", "netlessons", *args], stdin=subprocess.DEVNULL,
                               stdout=out_side, stderr=err_side, env=environment, cwd=ROOT)
    os.close(out_side)
    if err_main is not None:
        os.close(err_side)
    received = {out_main: b"", err_main: b""}
    open_fds = [fd for fd in (out_main, err_main) if fd is not None]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], 120)
        assert ready, "netlessons said nothing for 120 s"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other side is closed
                chunk = b""
            if chunk:
                received[fd] += chunk
            else:
                open_fds.remove(fd)
                os.close(fd)
    stderr = received[err_main] if err_main is not None else process.stderr.read()
    process.wait(timeout=60)
    return SimpleNamespace(returncode=process.returncode, stdout=received[out_main].decode(),
                           stderr=stderr.decode())


def test_colour_only_on_a_terminal_and_never_with_no_color():
    coloured = on_terminal("run", "netns-basics")
    assert coloured.returncode == 0, coloured.stdout + coloured.stderr
    assert "\x1b[32m" in coloured.stdout  # green "ok": colour is on where it should be
    for quiet in (on_terminal("run", "netns-basics", env={"NO_COLOR": "1"}),
                  on_terminal("--no-color", "run", "netns-basics"),
                  on_terminal("run", "netns-basics", "--no-color"),
                  netlessons("run", "netns-basics")):
        assert quiet.returncode == 0
        assert "\x1b" not in quiet.stdout + quiet.stderr and "PASSED" in quiet.stdout


def test_lines_fit_the_terminal_and_files_get_whole_commands():
    narrow = on_terminal("run", "bridge-n", "--set", "n=4", env={"COLUMNS": "60"}, stderr_tty=False)
    assert narrow.returncode == 0
    lines = ESCAPE.sub("", narrow.stdout).splitlines()
    step_lines = [line for line in lines if line.startswith("[")]
    assert step_lines and all(len(line) <= 60 for line in step_lines), "\n".join(lines)
    assert any(line.endswith("…") for line in step_lines)  # something had to be cut
    wide = on_terminal("run", "bridge-n", "--set", "n=4", columns=70, stderr_tty=False)  # the real width
    assert all(len(line) <= 70 for line in ESCAPE.sub("", wide.stdout).splitlines() if line.startswith("["))

    in_a_file = netlessons("run", "clusterip-kube-proxy", timeout=300)
    assert in_a_file.returncode == 0, in_a_file.stdout[-3000:] + in_a_file.stderr
    assert "…" not in in_a_file.stdout
    assert "-j MARK --set-xmark 0x4000/0x0" in in_a_file.stdout
    # a command of several lines is there whole, its later lines indented under the first
    assert re.search(r"^ +for _ in \$\(seq 100\); do .*done$", in_a_file.stdout, re.M)


def test_progress_on_a_terminal_while_the_prerequisites_are_built_and_silence_elsewhere():
    shown = on_terminal("run", "veth-pair")
    assert shown.returncode == 0
    assert "building the lab of netns-basics: 8/8 commands" in shown.stderr
    assert "\r\x1b[K" in shown.stderr  # the line is rewritten in place and cleared
    assert "built the lab of netns-basics first: 8 commands" in shown.stdout
    quiet = netlessons("run", "veth-pair")
    assert quiet.returncode == 0 and quiet.stderr == ""
    several = netlessons("run", "dns-service-discovery", timeout=300)
    assert "built the labs of bridge-gateway-nat → two-nodes-routed → clusterip-kube-proxy first" in several.stdout


def test_version_help_and_no_arguments():
    from netlessons import __version__

    version = netlessons("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"netlessons {__version__}"
    short, long = netlessons("-h"), netlessons("--help")
    assert short.returncode == 0 and short.stdout == long.stdout and "Commands" in short.stdout
    assert netlessons("run", "-h").stdout == netlessons("run", "--help").stdout
    bare = netlessons()
    assert bare.returncode == 0 and bare.stdout == long.stdout


def test_a_mistyped_command_is_suggested_once():
    result = netlessons("runn", "bridge-3ns")
    assert result.returncode == 2
    assert result.stderr.count("Did you mean") == 1 and "'run'" in result.stderr


def test_shell_completion_of_lesson_ids_and_steps():
    env = {"_NETLESSONS_COMPLETE": "complete_bash", "COMP_WORDS": "netlessons run bri", "COMP_CWORD": "2"}
    completed = netlessons(env=env)
    assert completed.returncode == 0
    assert set(completed.stdout.split()) == {"bridge-3ns", "bridge-n", "bridge-gateway-nat"}
    assert "--install-completion" in netlessons("--help").stdout

    ctx = SimpleNamespace(params={"lesson": "veth-pair"})
    steps = cli.complete_step(ctx, "")
    assert {"0", "1", "2.1", "2.2", "12", "ping-across", "add-pair"} <= set(steps)
    assert not {"13.1", "netns-basics:1"} & set(steps)  # clean-up and prerequisites are no place to stop
    assert cli.complete_step(ctx, "2.") == ["2.1", "2.2"]
    assert cli.complete_step(SimpleNamespace(params={"lesson": "nosuch"}), "") == []


def test_run_ends_by_naming_the_next_lesson():
    first = netlessons("run", "netns-basics")
    assert first.stdout.rstrip().endswith("Next lesson: veth-pair (netlessons explain veth-pair; "
                                          "netlessons run veth-pair)")


def test_a_junit_path_in_no_folder_is_refused_before_anything_runs():
    result = netlessons("run", "netns-basics", "--junit", "/nonexistent/x.xml")
    assert result.returncode == 2
    assert "--junit: cannot write /nonexistent/x.xml" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_export_shows_progress_on_a_terminal_only(tmp_path):
    shown = on_terminal("export", "veth-pair", "-o", str(tmp_path / "h.md"))
    assert shown.returncode == 0, shown.stderr
    assert "building the lab of netns-basics: 8/8 commands" in shown.stderr and "running step 12 of 14" in shown.stderr
    assert shown.stdout == ""
    quiet = netlessons("export", "veth-pair", "-o", str(tmp_path / "q.md"))
    assert quiet.returncode == 0 and quiet.stderr == ""
