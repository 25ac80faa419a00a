"""The one error hierarchy. The CLI turns these into a message and an exit code; nothing else prints them."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130


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
        where = path
        if line:
            where += f":{line}"
        if field:
            where += f" ({field})" if where else field
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path, self.field, self.line = path, field, line


class LessonFileErrors(NetlessonsError):
    """Several problems found in one pass over lesson files; each is a LessonFileError."""

    def __init__(self, errors: list[LessonFileError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class ParameterError(NetlessonsError):
    """A parameter value (from --set or a lesson default) that breaks its type's rule."""


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
