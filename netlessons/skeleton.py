"""`netlessons new`: a lesson file to start from, valid and runnable as it is."""

from __future__ import annotations

from pathlib import Path

import jinja2

from netlessons.catalog import data_dir
from netlessons.errors import LessonFileError, ParameterError
from netlessons.loader import LESSON_ID


def shadowing_warning(lesson_id: str, folder: Path) -> str:
    """What to tell the author when the new lesson would hide a built-in lesson of the same id ("" if not):
    with that folder on --lessons-dir, every command would run theirs instead of the built-in one."""
    if (data_dir("lessons") / f"{lesson_id}.toml").is_file() and \
            folder.resolve() != data_dir("lessons").resolve():
        return (f"{lesson_id!r} is also the id of a built-in lesson: with --lessons-dir {folder}, yours hides it "
                "(and any lesson that builds on it gets yours); choose another id unless that is the point")
    return ""


def write_skeleton(lesson_id: str, folder: Path) -> Path:
    if not LESSON_ID.fullmatch(lesson_id):
        raise ParameterError(f"a lesson id is lower-case letters, digits and '-'; {lesson_id!r} is not")
    if not folder.is_dir():
        raise LessonFileError("no such folder", path=str(folder))
    path = folder / f"{lesson_id}.toml"
    if path.exists():
        raise LessonFileError("exists already; choose another name or remove it", path=str(path))
    source = (data_dir("templates") / "lesson-skeleton.toml").read_text(encoding="utf-8")
    path.write_text(jinja2.Template(source, keep_trailing_newline=True).render(id=lesson_id), encoding="utf-8")
    return path
