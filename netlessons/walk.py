"""`netlessons walk`: a lesson one step at a time in the sandbox, for a class or a learner alone.

Before each step the learner reads the title, the explanation and the command, then chooses: run it, skip
it, repeat the previous step, open a shell in the lab as it is now, or quit. After a step: its output, the
check's verdict, and what changed in the network. With --auto the lesson plays by itself.

On a terminal a choice is one key, without Enter (the terminal is in cbreak mode only while a key is read, and
always set back); Ctrl-D quits. When standard input is not a terminal, each line read is one choice, and at
its end the rest plays without pausing. Input that is no choice shows the keys and asks again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
import textwrap
import time
import tty
from dataclasses import dataclass
from typing import Iterator, TextIO

from netlessons import capture
from netlessons.errors import NetlessonsError
from netlessons.lesson import RenderedLesson
from netlessons.report import prerequisites_line
from netlessons.results import StepResult
from netlessons.runner import EVERY_STEP, WATCHED, Lab

KEYS = {"": "run", "\r": "run", "\n": "run", "s": "skip", "r": "repeat", "!": "shell", "w": "watch", "q": "quit",
        "\x04": "quit"}
HELP = "[Enter] run   s skip   r repeat the previous step   ! shell in the lab   w watch an interface   q quit"


def _read_line(fd: int) -> str | None:
    """One line from a file descriptor, reading byte by byte so that nothing meant for a shell opened
    later is swallowed into a buffer here. None at the end of input."""
    data = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return data.decode(errors="replace") if data else None
        if byte == b"\n":
            return data.decode(errors="replace")
        data += byte


@contextlib.contextmanager
def _single_keys(fd: int, terminal: bool) -> Iterator[None]:
    """On a terminal: keys arrive one by one, without Enter and without echo, until the block ends; the
    terminal's settings are restored however it ends (Ctrl-C still interrupts: cbreak mode keeps signals).
    Set before the prompt is shown, so that no key typed after it meets the line editor."""
    if not terminal:
        yield
        return
    settings = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, settings)


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0


class Walk:
    def __init__(self, rendered: RenderedLesson, *, auto: float | None = None, out: TextIO = sys.stdout,
                 stdin_fd: int = 0) -> None:
        self.rendered = rendered
        self.auto = auto
        self.out = out
        self.stdin_fd = stdin_fd
        self.terminal = os.isatty(stdin_fd)
        self.input_done = False
        self.tally = Tally()

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def choose(self) -> str:
        if self.auto is not None:
            time.sleep(self.auto)
            return "run"
        if self.input_done:
            return "run"
        with _single_keys(self.stdin_fd, self.terminal):
            if self.terminal:
                self.out.write(f"  {HELP}\n  > ")
                self.out.flush()
            while True:
                if self.terminal:
                    key = os.read(self.stdin_fd, 1).decode(errors="replace")
                    self.say({"\r": "", "\n": "", "\x04": "^D"}.get(key, key if key.isprintable() else repr(key)))
                    if not key:  # the terminal is gone
                        return "quit"
                    entry = key.lower() if key not in ("\r", "\n") else ""
                else:
                    line = _read_line(self.stdin_fd)
                    if line is None:
                        self.input_done = True  # end of piped input: play the rest without pausing
                        return "run"
                    entry = line.strip().lower()
                if entry in KEYS:
                    return KEYS[entry]
                self.out.write(f"  not a choice: {entry!r}. Press {HELP}\n  > " if self.terminal else
                               f"  not a choice: {entry!r}; {HELP}\n")
                self.out.flush()

    def show_step(self, number: int, total: int, outcome: StepResult | None, step) -> None:
        if outcome is None:
            self.say(f"\n── Step {self.rendered.label(step)}/{self.rendered.step_count}: {step.title}")
            for line in textwrap.wrap(" ".join(step.explain.split()), 96):
                self.say(f"   {line}")
            if step.erratum:
                for line in textwrap.wrap("Erratum: " + " ".join(step.erratum.split()), 96):
                    self.say(f"   {line}")
            self.say(f"   $ {step.command}")
            return
        for line in outcome.result.output.rstrip("\n").splitlines():
            self.say(f"   | {line}")
        if outcome.passed:
            expected = " (it failed, as expected)" if step.expect.status != 0 else ""
            self.say(f"   ✓ ok{expected}")
        else:
            self.say(f"   ✗ FAILED: {outcome.verdict.problem}")
        wire = capture.wire_of(outcome)
        if wire or step.capture:
            self.say("   on the wire:" if wire else "   on the wire: no packet")
            for line in wire:
                self.say(f"   ~ {line}")
        for change in outcome.changes:
            self.say(f"   changed: {change}")

    def watch(self, lab: Lab) -> None:
        """Show the packets on an interface of the lab as they pass, until Ctrl-C: for a class that pings
        from a shell in the lab (`!`) or from another terminal."""
        self.out.write("   watch which interface? (IF, or IF NAMESPACE; empty: back) ")
        self.out.flush()
        line = _read_line(self.stdin_fd)
        words = (line or "").split()
        if not words or len(words) > 2:
            self.say("   (not watching)")
            return
        interface, netns = words[0], words[1] if len(words) > 1 else ""
        self.say(f"   (the packets on {interface}{' in ' + netns if netns else ''}; Ctrl-C stops watching)")
        try:
            argv = lab.shell.enter_command() + capture.watch_argv(interface, netns, python="python3")
            capture.watch(argv)
        except (NetlessonsError, OSError) as e:
            self.say(f"   ({getattr(e, 'message', e)})")
        self.say("   (back in the walk)")

    def play(self) -> Tally:
        rendered = self.rendered
        self.say(f"{rendered.lesson.id}: {rendered.lesson.title}")
        self.say(textwrap.fill(" ".join(rendered.lesson.summary.split()), 100))
        self.say("The lab is a throwaway sandbox: nothing on this machine changes.")
        lab = Lab(rendered)
        try:
            if rendered.prerequisites:
                results = list(lab.play(rendered.prerequisite_steps, EVERY_STEP))
                verdict = "ok" if all(r.passed for r in results) else "FAILED"
                self.say(f"\n(built {prerequisites_line(rendered)} first: {len(results)} commands, {verdict})")
            lab.watch()  # what a step changed counts from here: the prerequisites are the starting point
            steps = [s for s in rendered.steps if s.lesson == rendered.lesson.id] + list(rendered.cleanup)
            if self.auto is None and self.terminal:
                self.say(HELP)
            index = 0
            last_run: int | None = None
            while index < len(steps):
                step = steps[index]
                self.show_step(index + 1, len(steps), None, step)
                choice = self.choose()
                if choice == "quit":
                    self.say("   (quit)")
                    break
                if choice == "skip":
                    self.say("   (skipped)")
                    self.tally.skipped += 1
                    index += 1
                    continue
                if choice == "shell":
                    self.say("   (a shell in the lab; leave it with `exit` to come back here)")
                    try:
                        lab.open_shell()
                    except NetlessonsError as e:
                        self.say(f"   ({e.message})")
                    self.say("   (back in the walk)")
                    continue
                if choice == "watch":
                    self.watch(lab)
                    continue
                if choice == "repeat" and last_run is not None:
                    index = last_run
                    step = steps[index]
                    self.say(f"   (repeating step {self.rendered.label(step)}: $ {step.command})")
                (outcome,) = lab.play([step], WATCHED)
                self.show_step(index + 1, len(steps), outcome, step)
                if outcome.passed:
                    self.tally.passed += 1
                else:
                    self.tally.failed += 1
                last_run = index
                index += 1
        finally:
            lab.close()
        t = self.tally
        self.say(f"\n{t.passed} passed, {t.failed} failed, {t.skipped} skipped")
        if self.rendered.recap:
            self.say("\nRecap: " + textwrap.fill(" ".join(self.rendered.recap.split()), 100,
                                                  subsequent_indent="       "))
        return t
