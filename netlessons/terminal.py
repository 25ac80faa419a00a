"""The terminal's conventions, in one place.

- Colour only on a terminal, and never with NO_COLOR (https://no-color.org), TERM=dumb or `--no-color`.
- Lines fit the terminal's width (COLUMNS, else the real width) on a terminal; in a file or a pipe nothing is
  cut, so a saved report holds every command in full.
- Progress (what is being built, a counter) goes to stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

_settings = {"no_color": False}


def disable_color() -> None:
    """`--no-color`: no escape sequences in anything printed from now on."""
    _settings["no_color"] = True


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def color_wanted(stream: TextIO) -> bool:
    if _settings["no_color"] or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return isatty(stream)


def paint(text: str, code: str, color: bool) -> str:
    """`text` in an SGR colour (e.g. "32" green, "31;1" bold red) when `color`, else as it is."""
    return f"\033[{code}m{text}\033[0m" if color else text


def width(stream: TextIO) -> int | None:
    """How many columns a line may have on this stream: None (no limit) when it is not a terminal."""
    if not isatty(stream):
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def fit(text: str, columns: int | None) -> str:
    """One line cut to `columns` with "…" where it was cut; all of it when `columns` is None."""
    if columns is None or len(text) <= columns:
        return text
    return text[: max(columns - 1, 0)] + "…"


def text_width(stream: TextIO, most: int = 100) -> int:
    """Where to wrap prose: the terminal's width when it is narrower than `most`, else `most` (also in files,
    so that saved text is the same everywhere)."""
    columns = width(stream)
    return most if columns is None else max(min(columns - 1, most), 30)


class Progress:
    """One line on stderr, rewritten in place, that says what is being done: only on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.active = isatty(self.stream)
        self.shown = False

    def show(self, text: str) -> None:
        if not self.active:
            return
        columns = width(self.stream) or 80
        self.stream.write("\r\033[K" + fit(text, columns - 1))
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False
