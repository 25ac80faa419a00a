"""`netlessons validate`: load and render lesson files exactly as every other command does, run nothing."""

from __future__ import annotations

from pathlib import Path

from netlessons.catalog import Catalog, search_path
from netlessons.errors import LessonFileError, LessonFileErrors, NetlessonsError
from netlessons.render import render_lesson


def validate_paths(paths: list[Path]) -> tuple[list[LessonFileError], list[Path]]:
    files: list[Path] = []
    problems: list[LessonFileError] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.toml"))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(LessonFileError("no such file or folder", path=str(path)))
    for path in files:
        catalog = Catalog([path.resolve().parent] + search_path())
        try:
            lesson = catalog.check_prerequisites(catalog.parse(path))
            for flavor in lesson.flavors or (None,):
                render_lesson(catalog, lesson, flavor=flavor)
        except LessonFileErrors as e:
            problems += e.errors
        except LessonFileError as e:
            problems.append(e)
        except NetlessonsError as e:
            problems.append(LessonFileError(e.message, path=str(path)))
    return problems, files
