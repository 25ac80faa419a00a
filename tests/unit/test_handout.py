"""Handout pieces that need no lab: the prompt of every command line, and which lines are lab plumbing."""

from __future__ import annotations

import pytest

from netlessons.handout import command_lines, mask, plumbing_of


def prompts(command: str) -> str:
    return "".join(line.prompt for line in command_lines(command))


@pytest.mark.parametrize(("command", "expected"), [
    ("ip link", "$"),
    ("a\nb", "$$"),
    ("a && \\\nb", "$>"),
    ("a |\nb\nc", "$>$"),
    ("a &&\nb ||\nc", "$>>"),
    ("echo 'x\ny'\nz", "$>$"),
    ("cat <<'EOF'\n$x\nEOF\nnext", "$>>$"),
    ("cat <<-END\n\tdata\n\tEND\nnext", "$>>$"),
    ("echo '# not a comment' # a comment\nnext", "$$"),
])
def test_each_line_has_the_prompt_bash_would_show(command, expected):
    assert prompts(command) == expected
    assert [line.text for line in command_lines(command)] == command.splitlines()


def test_the_lines_that_run_a_server_are_plumbing_and_say_why():
    assert "process id" in plumbing_of('echo $! >"$LAB"/web.pid')
    wait = "for _ in $(seq 50); do ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done"
    assert plumbing_of(wait) == "waits until the server listens on port 8080"


@pytest.mark.parametrize("line", ["ip netns add ns1", 'echo $! > "$LAB"/web.pid; rm -rf /', "echo $!"])
def test_other_lines_are_the_lesson(line):
    assert plumbing_of(line) == ""


def test_what_differs_between_runs_is_masked_and_what_the_lesson_set_is_kept():
    text = ("link/ether 3a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff\n02:00:00:00:01:01\n"
            "64 bytes: time=0.052 ms\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms\n8000.3a1b2c3d4e5f")
    assert mask(text) == ("link/ether xx:xx:xx:xx:xx:xx brd ff:ff:ff:ff:ff:ff\n02:00:00:00:01:01\n"
                          "64 bytes: time=… ms\nrtt min/avg/max/mdev = … ms\n8000.…")
