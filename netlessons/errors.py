"""The one error hierarchy. The CLI turns these into a message and an exit code; nothing else prints them."""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130


# Characters a terminal acts on instead of showing: C0 and C1 controls (tab and newline aside) and the
# bidirectional overrides and isolates that reorder what a reader sees. Lone surrogates stand for bytes of a
# file name that are not UTF-8.
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_SHOWN = 80


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    if 0xdc80 <= code <= 0xdcff:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xdc00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int = MAX_SHOWN) -> str:
    """Text safe to show on a terminal: control characters escaped, and cut to about `limit` characters."""
    shown = str(text)
    if len(shown) > limit:
        shown = f"{shown[:limit]}… ({len(shown)} characters)"
    return UNPRINTABLE.sub(_escaped, shown)


class NetlessonsError(Exception):
    """Base of every error meant for the user. `exit_code` is what the CLI exits with."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class LessonNotFound(NetlessonsError):
    """An unknown lesson id."""


class LessonFileError(NetlessonsError):
    """A lesson file that cannot be read, parsed or validated."""

    def __init__(self, message: str, *, path: str = "", field: str = "", line: int | None = None,
                 hint: str = "") -> None:
        where = printable(path, limit=4096)
        if line:
            where += f":{line}"
        if field:
            where += f" ({printable(field, 200)})" if where else printable(field, 200)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path, self.field, self.line = path, field, line
        self.detail = message  # the message without its place, for whoever re-files it elsewhere


class LessonFileErrors(NetlessonsError):
    """Several problems found in one pass over lesson files; each is a LessonFileError."""

    def __init__(self, errors: list[LessonFileError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class ParameterError(NetlessonsError):
    """A parameter value (from --set or a lesson default) that breaks its type's rule."""


class SubnetTooSmall(ParameterError):
    """A template asked a subnet for a host number it does not have."""

    def __init__(self, subnet: str, index: int, hosts: int) -> None:
        super().__init__(f"subnet {subnet} has no host number {index} (its hosts are 1 to {hosts})")
        self.subnet, self.index, self.hosts = subnet, index, hosts


class EnvironmentProblem(NetlessonsError):
    """The machine cannot run this: a tool missing, no user namespaces, not root for --host ..."""

    exit_code = EXIT_ENVIRONMENT


class HostClash(EnvironmentProblem):
    """Host-mode preflight found objects that the lesson would create."""


class SandboxDied(EnvironmentProblem):
    """The lab's shell ended unexpectedly."""

    def __init__(self, message: str, *, status: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.status, self.stderr = status, stderr


class StepFailed(NetlessonsError):
    """A step of a run behind some other output (a handout) did not pass its checks."""

    exit_code = EXIT_CHECK_FAILED
