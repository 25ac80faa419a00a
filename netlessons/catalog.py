"""Where lessons live: user folders first (--lessons-dir, NETLESSONS_PATH), then the built-in ones."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from netlessons.errors import LessonFileError, LessonFileErrors, LessonNotFound
from netlessons.lesson import Lesson

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`lessons` or `templates`: inside the installed package, or at the top of a source checkout."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def search_path(extra: list[Path] | None = None) -> list[Path]:
    folders = list(extra or [])
    folders += [Path(p) for p in os.environ.get("NETLESSONS_PATH", "").split(os.pathsep) if p]
    return folders + [data_dir("lessons")]


@dataclass
class Catalog:
    folders: list[Path]
    _cache: dict[Path, Lesson] = field(default_factory=dict)

    @classmethod
    def default(cls, extra: list[Path] | None = None) -> "Catalog":
        for folder in extra or []:
            if not folder.is_dir():
                raise LessonFileError("no such folder of lessons", path=str(folder))
        return cls(search_path(extra))

    def files(self) -> dict[str, Path]:
        """Lesson id → file; an earlier folder hides a later lesson of the same id."""
        found: dict[str, Path] = {}
        for folder in self.folders:
            if folder.is_dir():
                for path in sorted(folder.glob("*.toml")):
                    found.setdefault(path.stem, path)
        return found

    def builtin_overrides(self) -> dict[str, Path]:
        """Lesson id → the user's file that hides the built-in lesson of that id (an identical copy aside)."""
        builtin = data_dir("lessons")
        hidden: dict[str, Path] = {}
        for lesson_id, path in self.files().items():
            original = builtin / path.name
            if path.parent.resolve() != builtin.resolve() and original.is_file():
                from netlessons.loader import read_lesson_text  # only here: most catalogs have no user folder

                try:  # read with the loader's bounds: a FIFO named like a lesson must not hang this
                    if read_lesson_text(path) != read_lesson_text(original):
                        hidden[lesson_id] = path
                except LessonFileErrors:
                    hidden[lesson_id] = path
        return hidden

    def parse(self, path: Path) -> Lesson:
        """The lesson in this file, parsed once. Errors name the path as found (a symlink by its own name)."""
        key = path.resolve()
        if key not in self._cache:
            self._cache[key] = _parse_kept(path.absolute())
        return self._cache[key]

    def get(self, lesson_id: str) -> Lesson:
        files = self.files()
        if lesson_id not in files:
            path = Path(lesson_id)
            if path.suffix == ".toml" and path.is_file():
                return self.check_prerequisites(self.parse(path))
            raise not_found(lesson_id, sorted(files))
        return self.check_prerequisites(self.parse(files[lesson_id]))

    def all(self) -> list[Lesson]:
        return [self.get(lesson_id) for lesson_id in self.files()]

    def check_prerequisites(self, lesson: Lesson) -> Lesson:
        self.chain(lesson)
        return lesson

    def chain(self, lesson: Lesson, seen: tuple[str, ...] = ()) -> list[Lesson]:
        """The lesson's prerequisites, deepest first, each once; then the lesson itself."""
        if lesson.id in seen:
            raise LessonFileErrors([LessonFileError(
                f"prerequisites form a loop: {' → '.join(seen + (lesson.id,))}",
                path=str(lesson.path), field="prerequisites")])
        files = self.files()
        order: list[Lesson] = []
        for pre in lesson.prerequisites:
            if pre not in files:
                raise LessonFileErrors([LessonFileError(
                    f"unknown prerequisite {pre!r}", path=str(lesson.path), field="prerequisites",
                    hint=suggestion(pre, sorted(files)))])
            for item in self.chain(self.parse(files[pre]), seen + (lesson.id,)):
                if item.id not in {o.id for o in order}:
                    order.append(item)
        return order + [lesson]


def _parse_kept(path: Path) -> Lesson:
    """The loader's parse of a lesson file, from the per-user cache when the file (and netlessons) are the same
    as when it was kept. What failed to parse is never kept: its errors come from the loader each time."""
    from netlessons import codecache

    entry = codecache.lesson_key(path)
    lesson = codecache.load_lesson(entry)
    if lesson is None:
        from netlessons.loader import parse_lesson

        lesson = parse_lesson(path)
        if codecache.lesson_key(path) == entry:  # not changed while it was read
            codecache.save_lesson(entry, lesson)
    return lesson


def suggestion(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"did you mean {close[0]}?" if close else ""


def not_found(name: str, available: list[str]) -> LessonNotFound:
    hint = suggestion(name, available)
    listing = ", ".join(available) or "none"
    return LessonNotFound(f"no lesson named {name!r}. Available lessons: {listing}", hint=hint)
