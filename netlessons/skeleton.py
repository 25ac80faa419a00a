"""`netlessons new`: a lesson file to start from, valid and runnable as it is."""

from __future__ import annotations

from pathlib import Path

import jinja2

from netlessons.catalog import data_dir
from netlessons.errors import LessonFileError, ParameterError
from netlessons.loader import LESSON_ID


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
