"""Lesson files (TOML) → validated Lesson data. Every problem is named with file, field and line.

A lesson file may come from anyone (a shared folder on NETLESSONS_PATH), so the work spent on one is bounded:
only a regular file is read, at most MAX_FILE_BYTES of it, keys and tables nest at most MAX_DEPTH deep, and
finding the line of a field is a look-up in an index built once. Text that would act on a terminal instead of
being shown (escape sequences and other control characters) is refused wherever it appears.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from netlessons import checks
from netlessons import params as param_types
from netlessons.errors import UNPRINTABLE, LessonFileError, LessonFileErrors, ParameterError, printable
from netlessons.lesson import Capture, Expectation, FaultSpec, GoalSpec, Lesson, Parameter, StepSpec, reserved_name

FLAVORS = ("brctl", "iproute2")
LESSON_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
FAULT_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")  # a derived fault carries an interface's name: down-flannel.1

# What a handout may leave unmasked: by default random MAC addresses and timings are masked, so that a
# handout is the same file on every run; a lesson that sets its MACs itself may show them.
HANDOUT_SHOWS = ("macs", "times")
LESSON_KEYS = {"id", "title", "summary", "prerequisites", "params", "steps", "cleanup", "flavors", "kubernetes",
               "recap", "sources", "handout", "constants", "goals", "faults"}
GOAL_KEYS = {"title", "run", "state"}
FAULT_KEYS = {"name", "difficulty", "symptom", "inject", "fix", "hints", "breaks"}
DIFFICULTIES = ("easy", "medium", "hard")
PARAM_KEYS = {"type", "default", "help", "min", "max", "choices"}
STEP_KEYS = {"id", "title", "explain", "run", "expect", "foreach", "erratum", "timeout", "when", "capture"}
EXPECT_KEYS = {"status", "output", "state", "wait", "every_round", "capture"}
CAPTURE_KEYS = {"on", "in", "filter", "link", "decode", "count"}
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 12  # a real lesson nests about 6 deep (steps → step → expect → state → check → value)
MAX_KEY_PARTS = 32  # tomllib's time and memory grow with the square of a dotted key's length
MAX_ERRORS = 50  # per file; the rest are counted

_ASSIGNMENT = re.compile(r"\s*([\w-]+(?:\.[\w-]+)*)\s*=")
_TABLE = re.compile(r"\s*\[\s*([\w.-]+?)\s*\]")
_ARRAY_TABLE = re.compile(r"\s*\[\[\s*([\w.-]+?)\s*\]\]")
_KEY_PART = r"(?:[\w-]+|\"[^\"\n]*\"|'[^'\n]*')"
_LONG_KEY = re.compile(rf"(?:{_KEY_PART}[ \t]*\.[ \t]*){{{MAX_KEY_PARTS}}}")


class _Source:
    """Finds the line of a field in the raw text, since the TOML parser keeps no positions.

    Every line that assigns a key or opens a table is indexed once, so a look-up costs a dictionary access and
    a binary search, whatever the number of fields (30 000 unknown keys are reported in well under a second)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = str(path)
        self._keys: dict[str, list[int]] = {}  # a key (and each dotted tail of it) or a [table] → its lines
        self._arrays: dict[str, list[int]] = {}  # an [[array]] table → the lines of its headers
        for number, line in enumerate(text.splitlines(), 1):
            if match := _ARRAY_TABLE.match(line):
                self._arrays.setdefault(match.group(1), []).append(number)
            elif match := _TABLE.match(line):
                self._keys.setdefault(match.group(1), []).append(number)
            elif match := _ASSIGNMENT.match(line):
                parts = match.group(1).split(".")
                for start in range(max(0, len(parts) - MAX_KEY_PARTS), len(parts)):
                    self._keys.setdefault(".".join(parts[start:]), []).append(number)

    def table_line(self, table: str, index: int) -> int | None:
        """Line of the index-th `[[table]]` header."""
        lines = self._arrays.get(table, [])
        return lines[index] if index < len(lines) else None

    def key_line(self, key: str, after: int | None = None) -> int | None:
        """The first line at or after `after` that assigns `key` (or opens a table of that name)."""
        lines = self._keys.get(key, [])
        position = bisect.bisect_left(lines, after or 1)
        return lines[position] if position < len(lines) else after

    def error(self, message: str, field: str = "", line: int | None = None) -> LessonFileError:
        return LessonFileError(message, path=self.path, field=field, line=line)


def read_lesson_text(path: Path) -> str:
    """The text of a lesson file: a regular file of at most MAX_FILE_BYTES of UTF-8 (a leading byte-order mark
    is dropped). A FIFO, a device or a folder is refused without being read, so it can neither hang nor flood."""
    def refuse(message: str) -> LessonFileErrors:
        return LessonFileErrors([LessonFileError(message, path=str(path))])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise refuse(f"cannot read the file: {e.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise refuse("not a regular file; a lesson is a plain text file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise refuse(f"cannot read the file: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"larger than {MAX_FILE_BYTES // 1024} KiB, the most a lesson file may hold")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise LessonFileErrors([LessonFileError(f"not UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded",
                                                path=str(path), line=line)]) from None
    return text.removeprefix("\ufeff")


def _parse_toml(src: _Source, text: str) -> dict:
    long_key = _LONG_KEY.search(text)
    if long_key:
        raise LessonFileErrors([src.error(f"a dotted key has more than {MAX_KEY_PARTS} parts",
                                          line=text.count("\n", 0, long_key.start()) + 1)])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, "lineno", None) or _line_from_message(str(e))
        raise LessonFileErrors([src.error(f"not valid TOML: {e.args[0] if e.args else e}", line=line)]) from None
    except RecursionError:
        raise LessonFileErrors([src.error("arrays or tables nested too deeply for a lesson file")]) from None


def _field_name(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _check_text(src: _Source, data: dict, errors: list[LessonFileError]) -> bool:
    """Every key and string of the file is free of control characters, and nothing nests deeper than MAX_DEPTH.
    Iterative, so no file can exhaust the stack; False when the file nests too deeply to look at further."""
    pending: list[tuple[object, str, int | None, int]] = [(data, "", None, 0)]
    while pending:
        value, where, line, depth = pending.pop()
        if depth > MAX_DEPTH:
            errors.append(src.error(f"nested more than {MAX_DEPTH} levels deep", where, line))
            return False
        if isinstance(value, str):
            _refuse_controls(src, value, where, line, errors)
        elif isinstance(value, dict):
            for key, item in value.items():
                field = _field_name(where, printable(key))
                dotted = src.key_line(f"{where}.{key}") if where and "[" not in where else None
                key_line = dotted or src.key_line(key, line)
                _refuse_controls(src, key, field, key_line, errors, what="the key")
                pending.append((item, field, key_line, depth + 1))
        elif isinstance(value, list):
            tables = src._arrays.get(where, []) if depth == 1 else []
            for index, item in enumerate(value):
                item_line = tables[index] if index < len(tables) else line
                item_where = f"{where}[{index}]"
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    item_where += f" '{printable(item['id'])}'"
                pending.append((item, item_where, item_line, depth + 1))
    return True


def _refuse_controls(src: _Source, text: str, where: str, line: int | None, errors: list[LessonFileError],
                     what: str = "it") -> None:
    found = UNPRINTABLE.search(text)
    if found:
        name = {"\x1b": "ESC", "\r": "carriage return"}.get(found.group(), f"U+{ord(found.group()):04X}")
        errors.append(src.error(f"{what} holds a control character ({name}), which can hide or rewrite text on a "
                                "terminal; lesson text may hold no control characters but tab and newline",
                                where, line))


def _check_keys(src: _Source, table: dict, allowed: set[str], where: str, line: int | None,
                errors: list[LessonFileError]) -> None:
    for key in table:
        if key not in allowed:
            errors.append(src.error(f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}",
                                    f"{where}.{key}" if where else key, src.key_line(key, line)))


def _text(src: _Source, table: dict, key: str, where: str, line: int | None, errors: list,
          required: bool = True, default: str = "") -> str:
    if key not in table:
        if required:
            errors.append(src.error(f"required field {key!r} is missing", f"{where}.{key}" if where else key, line))
        return default
    value = table[key]
    if not isinstance(value, str) or (required and not value.strip()):
        errors.append(src.error(f"{key!r} must be a non-empty string", f"{where}.{key}" if where else key,
                                src.key_line(key, line)))
        return default
    return value


def _string_list(src: _Source, table: dict, key: str, where: str, line: int | None, errors: list) -> tuple:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(src.error(f"{key!r} must be a list of strings", f"{where}.{key}" if where else key,
                                src.key_line(key, line)))
        return ()
    return tuple(value)


def _parameter(src: _Source, name: str, table: Any, errors: list) -> Parameter | None:
    where = f"params.{name}"
    line = src.key_line(f"params.{name}") or src.key_line(name)
    if not isinstance(table, dict):
        errors.append(src.error("a parameter is a table with type and default", where, line))
        return None
    _check_keys(src, table, PARAM_KEYS, where, line, errors)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        errors.append(src.error("parameter names are lower-case letters, digits and '_'", where, line))
    clash = _name_clash(src, name)
    if clash:
        errors.append(src.error(f"a parameter named {name!r} would hide {clash} in every template of this "
                                "lesson; choose another name", where, line))
        return None
    kind = table.get("type")
    if not isinstance(kind, str) or kind not in param_types.TYPES:
        errors.append(src.error(f"unknown type {kind!r}; one of {', '.join(param_types.TYPES)}",
                                f"{where}.type", src.key_line("type", line)))
        return None
    if "default" not in table:
        errors.append(src.error("required field 'default' is missing", f"{where}.default", line))
        return None
    choices = table.get("choices", [])
    if kind == "choice" and (not isinstance(choices, list) or not choices
                             or not all(isinstance(c, str) for c in choices)):
        errors.append(src.error("a choice parameter needs a list of strings in 'choices'", f"{where}.choices", line))
        return None
    for bound in ("min", "max"):
        if bound in table and (not isinstance(table[bound], int) or isinstance(table[bound], bool)):
            errors.append(src.error(f"{bound!r} must be a whole number", f"{where}.{bound}", line))
            return None
    p = Parameter(name=name, type=kind, default=table["default"], help=str(table.get("help", "")),
                  min=table.get("min"), max=table.get("max"), choices=tuple(choices))
    try:
        p = Parameter(**{**p.__dict__, "default": param_types.convert(p, p.default)})
    except ParameterError as e:
        errors.append(src.error(f"default breaks its own rule: {e.message}", f"{where}.default",
                                src.key_line("default", line)))
        return None
    return p


def _name_clash(src: _Source, name: str) -> str:
    """What a lesson's own name (a parameter or constant) would hide: a built-in family or helper, or a
    family of the author's templates/ folder beside the lesson file."""
    own = Path(src.path).parent / "templates" / f"{name}.j2"
    if own.is_file():
        return f"the macro family {name!r} of {own}"
    return reserved_name(name)


def _constants(src: _Source, table: Any, parameters: set[str], errors: list) -> dict[str, Any]:
    """[constants]: names for fixed values (text, numbers, lists, tables) that every template of the lesson
    sees, like parameters that `--set` cannot change."""
    line = src.key_line("constants")
    if not isinstance(table, dict):
        errors.append(src.error("'constants' must be a table: [constants] with NAME = value lines", "constants",
                                line))
        return {}
    for name in table:
        where = f"constants.{name}"
        name_line = src.key_line(where) or line
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            errors.append(src.error("constant names are lower-case letters, digits and '_'", where, name_line))
        elif name in parameters:
            errors.append(src.error(f"{name!r} is a parameter already; a constant needs a name of its own", where,
                                    name_line))
        elif clash := _name_clash(src, name):
            errors.append(src.error(f"a constant named {name!r} would hide {clash}; choose another name", where,
                                    name_line))
    return dict(table)


def _state_check(src: _Source, check: Any, where: str, line: int | None, errors: list) -> dict | None:
    """A state check is valid when its kind (netlessons.checks.KINDS) finds nothing wrong with it."""
    found = checks.problems(check)
    for field, message in found:
        errors.append(src.error(message, f"{where}.{field}" if field else where, line))
    return None if found else check


def _expectation(src: _Source, table: Any, where: str, line: int | None, errors: list) -> Expectation:
    if not isinstance(table, dict):
        errors.append(src.error("'expect' must be a table", where, line))
        return Expectation()
    _check_keys(src, table, EXPECT_KEYS, where, line, errors)
    status = table.get("status", 0)
    if not (status == "failure" or (isinstance(status, int) and not isinstance(status, bool) and 0 <= status < 256)):
        errors.append(src.error("'status' is an exit code 0-255 or \"failure\" (any non-zero code)",
                                f"{where}.status", src.key_line("status", line)))
        status = 0
    output = _string_list(src, table, "output", where, line, errors)
    state_list = table.get("state", [])
    if not isinstance(state_list, list):
        errors.append(src.error("'state' must be a list of checks", f"{where}.state", line))
        state_list = []
    state = tuple(c for i, c in enumerate(state_list)
                  if _state_check(src, c, f"{where}.state[{i}]", src.key_line("state", line), errors) is not None)
    wait = table.get("wait", 3.0)
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= 60:
        errors.append(src.error("'wait' is a number of seconds from 0 to 60", f"{where}.wait", line))
        wait = 3.0
    every_round = table.get("every_round", True)
    if not isinstance(every_round, bool):
        errors.append(src.error("'every_round' is true or false", f"{where}.every_round", line))
        every_round = True
    capture = _string_list(src, table, "capture", where, line, errors)
    return Expectation(status=status, output=output, state=state, wait=float(wait), every_round=every_round,
                       capture=capture)


def _captures(src: _Source, value: Any, where: str, line: int | None, errors: list) -> tuple[Capture, ...]:
    """`capture`: one table or a list of them, each { on = IF or [IF, ...], in = NS, filter = "...", link = true,
    decode = "vxlan", count = N }."""
    from netlessons.capture import DECODERS, MAX_COUNT

    tables = value if isinstance(value, list) else [value]
    found = []
    for index, table in enumerate(tables):
        here = f"{where}[{index}]" if isinstance(value, list) else where
        if not isinstance(table, dict):
            errors.append(src.error("a capture is a table like { on = 'br0', filter = 'arp or icmp' }, or a "
                                    "list of them", here, line))
            continue
        _check_keys(src, table, CAPTURE_KEYS, here, line, errors)
        on = table.get("on")
        interfaces = [on] if isinstance(on, str) else on
        if not isinstance(interfaces, list) or not interfaces or \
                not all(isinstance(i, str) and i.strip() for i in interfaces):
            errors.append(src.error("'on' names the interface to watch, or a list of them", f"{here}.on", line))
            continue
        texts = {key: table.get(key, "") for key in ("in", "filter", "decode")}
        bad = [key for key, text in texts.items() if not isinstance(text, str)]
        for key in bad:
            errors.append(src.error(f"{key!r} must be a string", f"{here}.{key}", line))
        if texts["decode"] not in DECODERS:
            errors.append(src.error(f"unknown decode {texts['decode']!r}; one of "
                                    f"{', '.join(repr(d) for d in DECODERS)}", f"{here}.decode", line))
            continue
        link, count = table.get("link", False), table.get("count", 100)
        if not isinstance(link, bool):
            errors.append(src.error("'link' is true or false", f"{here}.link", line))
        if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= MAX_COUNT:
            errors.append(src.error(f"'count' is a number of packets from 1 to {MAX_COUNT}", f"{here}.count", line))
        if bad or not isinstance(link, bool) or not isinstance(count, int) or isinstance(count, bool):
            continue
        found.append(Capture(on=tuple(interfaces), netns=texts["in"], filter=texts["filter"], link=link,
                             decode=texts["decode"], count=count))
    return tuple(found)


def _steps(src: _Source, data: dict, table: str, errors: list, required: bool) -> tuple[StepSpec, ...]:
    raw = data.get(table, [])
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        errors.append(src.error(f"{table!r} must be written as [[{table}]] tables", table, src.key_line(table)))
        return ()
    if required and not raw:
        errors.append(src.error("a lesson needs at least one [[steps]] table", table))
    specs = []
    for index, step in enumerate(raw):
        line = src.table_line(table, index)
        where = f"{table}[{index}]"
        if isinstance(step.get("id"), str):
            where = f"{table}[{index}] {step['id']!r}"
        _check_keys(src, step, STEP_KEYS, where, line, errors)
        step_id = _text(src, step, "id", where, line, errors)
        if step_id and not LESSON_ID.fullmatch(step_id):
            errors.append(src.error("a step id is lower-case letters, digits and '-'", f"{where}.id", line))
        timeout = step.get("timeout", 30.0)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
            errors.append(src.error("'timeout' is a number of seconds from 0 to 600", f"{where}.timeout", line))
            timeout = 30.0
        specs.append(StepSpec(
            id=step_id,
            title=_text(src, step, "title", where, line, errors),
            explain=_text(src, step, "explain", where, line, errors),
            run=_text(src, step, "run", where, line, errors),
            expect=_expectation(src, step.get("expect", {}), f"{where}.expect", line, errors),
            foreach=_text(src, step, "foreach", where, line, errors, required=False),
            erratum=_text(src, step, "erratum", where, line, errors, required=False),
            timeout=float(timeout),
            line=line,
            when=_text(src, step, "when", where, line, errors, required=False),
            capture=_captures(src, step["capture"], f"{where}.capture", src.key_line("capture", line), errors)
            if "capture" in step else (),
        ))
    return tuple(specs)


def parse_lesson(path: Path) -> Lesson:
    """Read and validate one lesson file. Raises LessonFileErrors listing every problem found."""
    text = read_lesson_text(path)
    src = _Source(path, text)
    data = _parse_toml(src, text)
    errors: list[LessonFileError] = []
    if not _check_text(src, data, errors):
        raise LessonFileErrors(errors)
    try:
        return _lesson(src, path, data, errors)
    except LessonFileErrors as e:
        found = sorted(e.errors, key=lambda error: error.line or 0)
        if len(found) > MAX_ERRORS:
            more = LessonFileError(f"… and {len(found) - MAX_ERRORS} more problems", path=str(path))
            found = found[:MAX_ERRORS] + [more]
        raise LessonFileErrors(found) from None


def _lesson(src: _Source, path: Path, data: dict, errors: list[LessonFileError]) -> Lesson:
    _check_keys(src, data, LESSON_KEYS, "", None, errors)
    lesson_id = _text(src, data, "id", "", None, errors)
    title = _text(src, data, "title", "", None, errors)
    summary = _text(src, data, "summary", "", None, errors)
    if lesson_id and not LESSON_ID.fullmatch(lesson_id):
        errors.append(src.error("a lesson id is lower-case letters, digits and '-'", "id", src.key_line("id")))
    if lesson_id and lesson_id != path.stem:
        errors.append(src.error(f"the id {lesson_id!r} must match the file name {path.stem!r}", "id",
                                src.key_line("id")))
    raw_params = data.get("params", {})
    parameters: list[Parameter] = []
    if not isinstance(raw_params, dict):
        errors.append(src.error("'params' must be a table of parameters", "params", src.key_line("params")))
    else:
        for name, table in raw_params.items():
            p = _parameter(src, name, table, errors)
            if p:
                parameters.append(p)
    prerequisites = _string_list(src, data, "prerequisites", "", None, errors)
    flavors = _string_list(src, data, "flavors", "", None, errors)
    for flavor in flavors:
        if flavor not in FLAVORS:
            errors.append(src.error(f"unknown flavor {flavor!r}; one of {', '.join(FLAVORS)}", "flavors",
                                    src.key_line("flavors")))
    sources = _string_list(src, data, "sources", "", None, errors)
    kubernetes = _text(src, data, "kubernetes", "", None, errors, required=False)
    recap = _text(src, data, "recap", "", None, errors, required=False)
    constants = _constants(src, data.get("constants", {}), {p.name for p in parameters}, errors)
    handout = data.get("handout", {})
    shows: tuple[str, ...] = ()
    if not isinstance(handout, dict) or set(handout) - {"show"}:
        errors.append(src.error("[handout] takes one key, show = [\"macs\", \"times\"]", "handout",
                                src.key_line("handout")))
    else:
        shows = _string_list(src, handout, "show", "handout", None, errors)
        for item in shows:
            if item not in HANDOUT_SHOWS:
                errors.append(src.error(f"[handout] show: {item!r} is not one of {', '.join(HANDOUT_SHOWS)}",
                                        "handout.show", src.key_line("handout")))
    steps = _steps(src, data, "steps", errors, required=True)
    cleanup = _steps(src, data, "cleanup", errors, required=False)
    goals = _goals(src, data, errors)
    faults = _faults(src, data, errors)
    seen: set[str] = set()
    for spec in steps + cleanup:
        if spec.id in seen:
            errors.append(src.error(f"step id {spec.id!r} is used twice", "steps", spec.line))
        seen.add(spec.id)
    if errors:
        raise LessonFileErrors(errors)
    return Lesson(
        id=lesson_id, title=title, summary=summary, path=path,
        prerequisites=prerequisites,
        parameters=tuple(parameters), steps=steps, cleanup=cleanup, flavors=flavors,
        kubernetes=kubernetes, recap=recap, sources=sources,
        constants=constants, handout_shows=shows,
        goals=goals, faults=faults,
    )


def _tables(src: _Source, data: dict, table: str, errors: list) -> list[tuple[int, dict, str, int | None]]:
    """The [[TABLE]] entries of a lesson file, each with its index, where-name and line."""
    raw = data.get(table, [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        errors.append(src.error(f"{table!r} must be written as [[{table}]] tables", table, src.key_line(table)))
        return []
    return [(index, item, f"{table}[{index}]", src.table_line(table, index)) for index, item in enumerate(raw)]


def _goals(src: _Source, data: dict, errors: list) -> tuple[GoalSpec, ...]:
    """[[goals]]: title, and a command that must succeed (`run`) and/or state checks (`state`)."""
    found = []
    for _, table, where, line in _tables(src, data, "goals", errors):
        _check_keys(src, table, GOAL_KEYS, where, line, errors)
        title = _text(src, table, "title", where, line, errors)
        run = _text(src, table, "run", where, line, errors, required=False)
        state_list = table.get("state", [])
        if not isinstance(state_list, list):
            errors.append(src.error("'state' must be a list of checks", f"{where}.state", line))
            state_list = []
        state = tuple(c for i, c in enumerate(state_list)
                      if _state_check(src, c, f"{where}.state[{i}]", line, errors) is not None)
        if not run.strip() and not state_list:
            errors.append(src.error("a goal needs a command that must succeed ('run') or state checks ('state')",
                                    where, line))
        found.append(GoalSpec(title=title, run=run, state=state))
    return tuple(found)


def _faults(src: _Source, data: dict, errors: list) -> tuple[FaultSpec, ...]:
    """[[faults]]: name, difficulty, symptom, inject, fix, hints, breaks."""
    found: list[FaultSpec] = []
    for _, table, where, line in _tables(src, data, "faults", errors):
        _check_keys(src, table, FAULT_KEYS, where, line, errors)
        name = _text(src, table, "name", where, line, errors)
        if name and not FAULT_NAME.fullmatch(name):
            errors.append(src.error("a fault's name is lower-case letters, digits, '-' and '.' (as in "
                                    "down-flannel.1)", f"{where}.name", line))
        if name in {f.name for f in found}:
            errors.append(src.error(f"fault name {name!r} is used twice", f"{where}.name", line))
        difficulty = _text(src, table, "difficulty", where, line, errors, required=False, default="medium")
        if difficulty not in DIFFICULTIES:
            errors.append(src.error(f"'difficulty' is one of {', '.join(DIFFICULTIES)}", f"{where}.difficulty",
                                    line))
        found.append(FaultSpec(
            name=name, symptom=_text(src, table, "symptom", where, line, errors),
            inject=_text(src, table, "inject", where, line, errors), fix=_text(src, table, "fix", where, line, errors),
            difficulty=difficulty, hints=_string_list(src, table, "hints", where, line, errors),
            breaks=_text(src, table, "breaks", where, line, errors, required=False)))
    return tuple(found)


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
