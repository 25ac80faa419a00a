"""Rendered steps → a bash script that a person can read and run."""

from __future__ import annotations

import re
import shlex
import textwrap

from netlessons import __version__
from netlessons.kernel import requirement_words
from netlessons.lesson import RenderedLesson, Step


def _comment(text: str, width: int = 100) -> list[str]:
    return [f"# {line}" if line else "#" for line in textwrap.wrap(" ".join(text.split()), width - 2)]


_LAB_VARIABLE = re.compile(r"\$\{?LAB\b")  # "$LAB", $LAB/… in a here-document, ${LAB}


def uses_lab(command: str) -> bool:
    """Whether a command reads the lab folder's variable, quoted or not."""
    return bool(_LAB_VARIABLE.search(command))


_SHELL_SYNTAX = re.compile(r"[|&;<>()`\n]|^\s*(for|if|while|test|\[)\b")


def with_sudo(command: str) -> str:
    """`sudo` in front, as the post writes it; a command that needs the shell itself (a pipe, a redirection,
    a loop, several lines) runs whole under `sudo bash -c`, so that every part of it runs as root."""
    if _SHELL_SYNTAX.search(command):
        # sudo starts with a clean environment: the script's folder is handed on by name.
        env = 'env LAB="$LAB" ' if uses_lab(command) else ""
        return f"sudo {env}bash -c {shlex.quote(command)}"
    return f"sudo {command}"


def _command(step: Step, sudo: bool) -> list[str]:
    command = with_sudo(step.command) if sudo else step.command
    if step.expect.status == "failure" or step.expect.status != 0:
        # Strict mode stops at the first failing command; this one is meant to fail, so let it through.
        return [f"{command} || echo \"(failed, as this step expects)\""]
    return [command]


def _section(title: str, steps: list[Step], sudo: bool) -> list[str]:
    lines = ["", f"# === {title} ==="]
    previous: Step | None = None
    for step in steps:
        new_group = previous is None or step.group != previous.group
        if new_group:
            lines.append("")
        if previous is None or step.title != previous.title:
            lines.append(f"# {step.title}")
        if new_group and step.erratum:
            lines += _comment("Erratum: " + step.erratum)
        lines += _command(step, sudo)
        previous = step
    return lines


def render_script(rendered: RenderedLesson, *, sudo: bool = False, cleanup: bool = True) -> str:
    lesson = rendered.lesson
    lines = ["#!/usr/bin/env bash", f"# {lesson.id}: {lesson.title}"]
    lines += _comment(lesson.summary)
    lines += [
        f"# Printed by netlessons {__version__}"
        + (f" (flavor {rendered.flavor})." if rendered.flavor else "."),
        "# It changes this machine's network: run it as root" + (" (it uses sudo)" if sudo else "")
        + ", or inside a throwaway sandbox:",
        "#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null"
        " || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'",
    ]
    kernel_needs = [tool[7:] for tool in rendered.needs if tool.startswith("kernel:")]
    if kernel_needs:
        lines += [f"# It needs these kernel features (a sandbox cannot load modules): "
                  f"{', '.join(requirement_words(name) for name in kernel_needs)}."]
    lines += [
        "set -euo pipefail",
    ]
    lab_used = any(uses_lab(step.command) for step in rendered.steps + rendered.cleanup)
    if lab_used:
        lines += ["# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of",
                  "# its own, which nobody else can have prepared.",
                  "LAB=$(mktemp -d)"]
    for prerequisite in rendered.prerequisites:
        steps = [s for s in rendered.steps if s.lesson == prerequisite.id]
        lines += _section(f"Builds on {prerequisite.id}: {prerequisite.title}", steps, sudo)
    own = [s for s in rendered.steps if s.lesson == lesson.id]
    lines += _section(lesson.title, own, sudo)
    if cleanup and rendered.cleanup:
        lines += _section("Clean-up", list(rendered.cleanup), sudo)
    if cleanup and lab_used:
        lines += ["", "# The script's own folder", with_sudo('rm -rf "$LAB"') if sudo else 'rm -rf "$LAB"']
    return "\n".join(lines) + "\n"
