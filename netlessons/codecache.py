"""A per-user cache of rendered lessons and parsed lesson files, so that `print`, `list` and `run` start fast.

Rendering costs more than everything else `netlessons print` does, so a rendered lesson is kept under
$NETLESSONS_CACHE_DIR (an empty value switches the cache off), else $XDG_CACHE_HOME/netlessons, else
~/.cache/netlessons.

The cache holds data, never code: an entry is a rendered lesson as JSON, and reading it back checks every
field against the dataclasses of lesson.py. Nothing in it is imported, unpickled or executed, so the worst a
planted entry can do is to be ignored or to change what one's own `print` shows. Even so, the folder is used
only when it is a directory owned by the current user and not writable by group or others (it is created
0700), when no folder or symlink on the way to it belongs to anyone but that user and root (so root, run with
a user's XDG_CACHE_HOME, is not steered into writing elsewhere), and an entry only when it is a regular file
of that user, opened without following symlinks. Anything else renders afresh; with `-v`, `run` says why.

A render's entry is keyed by everything that changes a render: the lesson files of the whole prerequisite
chain, templates/ (the built-in ones, and an author's own `templates/*.j2` beside a lesson file), the parameter
values, the flavor, the Python version, Jinja's version and the package's own source. A parsed lesson file is
kept the same way (so that `list` and the next-lesson line need not parse every file), keyed by its path, its
bytes and the package's own source; a file that does not parse is never kept. The rows of `list` are kept
as one entry for the whole catalog (listing.py). Entries are written through a temporary file and
os.replace, mode 0600; past MAX_TOTAL bytes the least recently used go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import stat
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any, Callable

from netlessons.lesson import Lesson, RenderedLesson

FORMAT = 1  # bump when the JSON layout of an entry changes
MAX_TOTAL = 20 * 1024 * 1024  # bytes of entries kept; the least recently used go first
MAX_ENTRY = 8 * 1024 * 1024  # a bigger render is not cached (bridge-n at n=250 is about 2 MB)
STALE_TEMP = 3600  # seconds after which a temporary file left by a killed writer is removed
ENTRY_SUFFIX = ".json"
ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")
TEMP_NAME = re.compile(r"\.tmp-[0-9a-f]{16}")
PACKAGE_DIR = Path(__file__).resolve().parent

_opened: dict[str, int | None] = {}  # cache folder → its open descriptor (None: not usable), once per process
_notices: list[str] = []  # why a folder was not used, for `-v`


def cache_dir() -> Path | None:
    if "NETLESSONS_CACHE_DIR" in os.environ:
        value = os.environ["NETLESSONS_CACHE_DIR"]
        return Path(value) if value else None
    try:
        base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None
    return Path(base) / "netlessons"


def take_notice() -> str | None:
    """Why the cache folder is not used, once per process (later calls give None)."""
    return _notices.pop() if _notices else None


def _folder() -> int | None:
    """A descriptor of the cache folder, if it is safe to use. Everything else goes through this descriptor,
    so the folder that was checked is the one that is used, whatever happens to its path meanwhile."""
    path = cache_dir()
    if path is None:
        return None
    if str(path) not in _opened:
        _opened[str(path)] = _open_folder(path)
    return _opened[str(path)]


def _open_folder(path: Path) -> int | None:
    def refuse(problem: str) -> None:
        _notices[:] = [f"cache folder {path} not used: {problem}; rendering afresh"]

    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        steered = _steerable(path)
        if not steered and not path.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            steered = _steerable(path)
        if steered:
            refuse(f"another user could redirect it ({steered})")
            return None
        fd = os.open(path, flags)
    except OSError as e:
        refuse(e.strerror or str(e))
        return None
    info = os.fstat(fd)
    problem = ""
    if info.st_uid != os.geteuid():
        problem = f"it belongs to uid {info.st_uid}, not to you"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"it is writable by {'group' if info.st_mode & stat.S_IWGRP else 'others'} (chmod 700 fixes that)"
    if problem:
        os.close(fd)
        refuse(problem)
        return None
    return fd


def _steerable(path: Path) -> str:
    """The first folder or symlink on the way to `path` that someone other than us and root could change
    (and so redirect the cache, say, into a folder of root's), or "" when there is none. A sticky folder such
    as /tmp is fine: nobody else can rename what we own in it."""
    given = Path(os.path.abspath(path))
    real = Path(os.path.realpath(path))
    me = os.geteuid()
    for place in dict.fromkeys([*reversed(given.parents), given, *reversed(real.parents)]):
        try:
            info = os.lstat(place)
        except FileNotFoundError:
            continue  # made by us, later
        if place == given and not stat.S_ISLNK(info.st_mode):
            continue  # the folder itself is judged once it is open
        if info.st_uid not in (0, me):
            return f"{place} belongs to uid {info.st_uid}"
        if (stat.S_ISDIR(info.st_mode) and info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                and not info.st_mode & stat.S_ISVTX):
            return f"{place} is writable by others"
    return ""


def _safe(info: os.stat_result) -> bool:
    return (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


@functools.cache
def _code_digest() -> bytes:
    """The package's own source and Jinja's version: a change of code or rules renders anew.
    About 150 kB read and hashed once per process, well under a millisecond."""
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{sys.implementation.cache_tag}\0".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):  # checks/ too: its rules decide what a lesson file may say
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    for folder in sys.path:  # Jinja located, not imported: a warm start does without it
        version_file = Path(folder or ".", "jinja2", "__init__.py")  # holds __version__
        if version_file.is_file():
            digest.update(version_file.read_bytes())
            break
    return digest.digest()


def rendered_key(lesson_files: list[Path], templates: Path, overrides: dict[str, str],
                 flavor: str | None) -> str | None:
    """The entry's name for this render, or None when the inputs cannot be read (then nothing is cached)."""
    return _key(json.dumps([sorted(overrides.items()), flavor]).encode() + b"\0", lesson_files, templates)


def listing_key(lesson_files: list[Path], templates: Path) -> str | None:
    """The entry's name for the rows `list` shows of a catalog: every lesson file in it (which covers every
    prerequisite chain), the templates and the package's own source."""
    return _key(b"listing\0", lesson_files, templates)


def _key(head: bytes, lesson_files: list[Path], templates: Path) -> str | None:
    try:
        digest = hashlib.sha256(_code_digest())
        digest.update(head)
        for path in lesson_files + _templates_beside(lesson_files):
            digest.update(_file_part(path))
        digest.update(_templates_part(templates))
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def _file_part(path: Path) -> bytes:
    return str(path).encode() + b"\0" + _bounded_bytes(path) + b"\0"


@functools.cache
def _templates_part(templates: Path) -> bytes:
    """The built-in templates as a key takes them: read once per process (`list` makes a key per lesson)."""
    return b"".join(_file_part(path) for path in sorted(templates.glob("*")))


def _templates_beside(lesson_files: list[Path]) -> list[Path]:
    """An author's own templates (`templates/*.j2` beside a lesson file): they change a render too."""
    found: list[Path] = []
    for folder in dict.fromkeys(path.parent / "templates" for path in lesson_files):
        if folder.is_dir() and folder.resolve() != PACKAGE_DIR.parent.joinpath("templates").resolve():
            found += sorted(folder.glob("*.j2"))
    return found


def _bounded_bytes(path: Path) -> bytes:
    """A regular file of at most MAX_ENTRY bytes; anything else (a FIFO that would hang, a huge file) makes
    the render uncacheable (ValueError) and is left to the renderer to refuse or read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY:
            raise ValueError(f"{path} is not a small regular file")
        with open(fd, "rb", closefd=False) as f:
            return f.read(MAX_ENTRY + 1)
    finally:
        os.close(fd)


def lesson_key(path: Path) -> str | None:
    """The entry's name for a parsed lesson file (its path as named and its bytes), or None when the file
    cannot be read as a small regular file (then it is parsed, and refused, by the loader alone)."""
    try:
        digest = hashlib.sha256(_code_digest())
        digest.update(b"lesson\0" + _file_part(path))
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def load_rendered(key: str | None) -> RenderedLesson | None:
    return _load(key, "rendered", RenderedLesson)


def save_rendered(key: str | None, rendered: RenderedLesson) -> None:
    _save(key, "rendered", rendered)


def load_lesson(key: str | None) -> Lesson | None:
    """A lesson file as the loader parsed and checked it, kept so that `list` and the next-lesson line need not
    parse every lesson file again (about 10 ms each)."""
    return _load(key, "lesson", Lesson)


def save_lesson(key: str | None, lesson: Lesson) -> None:
    _save(key, "lesson", lesson)


def load_listing(key: str | None, kind: type) -> Any:
    """The rows of `list` for a catalog, as listing.py made them (`kind` is its Listing)."""
    return _load(key, "listing", kind)


def save_listing(key: str | None, listing: Any) -> None:
    _save(key, "listing", listing)


def _load(key: str | None, field: str, kind: type) -> Any:
    folder = _folder()
    if key is None or folder is None:
        return None
    try:
        fd = os.open(key + ENTRY_SUFFIX, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not _safe(info) or info.st_size > MAX_ENTRY:
            return None
        with open(fd, "rb", closefd=False) as f:
            data = f.read(MAX_ENTRY + 1)
        entry = json.loads(data)
        if not (isinstance(entry, dict) and entry.get("format") == FORMAT and entry.get("key") == key):
            return None
        value = from_data(kind, entry.get(field))
        os.utime(fd)  # recently used: pruned last
        return value
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    finally:
        os.close(fd)


def _save(key: str | None, field: str, value: Any) -> None:
    folder = _folder()
    if key is None or folder is None:
        return
    try:
        data = json.dumps({"format": FORMAT, "key": key, field: to_data(value)},
                          separators=(",", ":"), allow_nan=False).encode()
        if len(data) > MAX_ENTRY or from_data(type(value), json.loads(data)[field]) != value:
            return  # too big, or something in it would not read back as the same value
    except (ValueError, TypeError, RecursionError):
        return
    temp = f".tmp-{os.urandom(8).hex()}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, key + ENTRY_SUFFIX, src_dir_fd=folder, dst_dir_fd=folder)
        prune(folder)
    except OSError:
        try:
            os.unlink(temp, dir_fd=folder)
        except OSError:
            pass


def prune(folder: int, limit: int = MAX_TOTAL) -> None:
    """Remove the least recently used entries until they take at most `limit` bytes, and temporary files
    that a killed writer left behind. Only files named as this module names them are ever removed."""
    entries: list[tuple[float, int, str]] = []
    now = time.time()
    with os.scandir(folder) as found:
        for item in found:
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if TEMP_NAME.fullmatch(item.name) and now - info.st_mtime > STALE_TEMP:
                _unlink(folder, item.name)
            elif ENTRY_NAME.fullmatch(item.name):
                entries.append((info.st_mtime, info.st_size, item.name))
    total = sum(size for _, size, _ in entries)
    for _, size, name in sorted(entries):
        if total <= limit:
            break
        _unlink(folder, name)
        total -= size


def _unlink(folder: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass


# Plain data ↔ JSON. Only the shapes the dataclasses of lesson.py use are known: dataclasses, str, int,
# float, bool, None, Path, tuple[X, ...], dict[str, X], unions of these, and Any (any JSON value).

def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only text keys can be cached")
        return {k: to_data(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"a {type(value).__name__} cannot be cached")


def from_data(kind: Any, data: Any) -> Any:
    """`data` read from JSON as a value of type `kind`; ValueError when it does not fit exactly."""
    return _decoder(kind)(data)


SCALARS = (str, int, bool, type(None))  # read as they are, once their type is checked (exactly: a bool is no int)


def _scalars(kind: Any) -> frozenset[type] | None:
    """The JSON types `kind` is made of when it is a scalar or a union of scalars, else None."""
    if kind in SCALARS:
        return frozenset([kind])
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and all(a in SCALARS for a in typing.get_args(kind)):
        return frozenset(typing.get_args(kind))
    return None


@functools.cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    """A function that checks and converts JSON data to `kind`, made once per type: a warm start reads
    thousands of values, and deciding what each one should be only once keeps that under a few milliseconds.
    Scalars are checked in line, without a call each: most of an entry is text and numbers."""
    if kind is Any:
        return lambda data: data
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = [f.name for f in dataclasses.fields(kind)]
        plain = [(name, types_) for name in fields if (types_ := _scalars(hints[name])) is not None]
        parts = [(name, _decoder(hints[name])) for name in fields if _scalars(hints[name]) is None]
        names = set(fields)

        def dataclass_(data: Any) -> Any:
            if type(data) is not dict or data.keys() != names:
                raise ValueError(f"not a {kind.__name__}")
            for name, allowed in plain:
                if type(data[name]) not in allowed:
                    raise ValueError(f"{kind.__name__}.{name} is not a {' or '.join(t.__name__ for t in allowed)}")
            values = dict(data)
            for name, decode in parts:
                values[name] = decode(data[name])
            made = object.__new__(kind)  # as pickle does: these values passed __init__ when they were rendered
            made.__dict__.update(values)
            return made
        return dataclass_
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        arms = [_decoder(arm) for arm in args]

        def union(data: Any) -> Any:
            for arm in arms:
                try:
                    return arm(data)
                except ValueError:
                    pass
            raise ValueError(f"not a {kind}")
        return union
    if origin is tuple:
        simple = _scalars(args[0])
        if simple is not None:
            def scalars(data: Any) -> tuple:
                if type(data) is not list or any(type(v) not in simple for v in data):
                    raise ValueError(f"not a {kind}")
                return tuple(data)
            return scalars
        item = _decoder(args[0])
        return lambda data: tuple(item(v) for v in _exactly(list, data))
    if origin is dict:
        value = _decoder(args[1])
        return lambda data: {k: value(v) for k, v in _exactly(dict, data).items()}
    if kind is Path:
        return lambda data: Path(_exactly(str, data))
    if kind is float:
        return lambda data: data if type(data) in (int, float) else _exactly(float, data)
    if kind in SCALARS:
        return lambda data: _exactly(kind, data)
    raise TypeError(f"{kind} cannot be read from the cache")


def _exactly(kind: type, data: Any) -> Any:
    if type(data) is not kind:
        raise ValueError(f"not a {kind.__name__}")
    return data
