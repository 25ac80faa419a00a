"""`netlessons validate`: load and render lesson files exactly as every other command does, run nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netlessons.catalog import Catalog, search_path
from netlessons.errors import LessonFileError, LessonFileErrors, NetlessonsError
from netlessons.render import render_lesson


@dataclass
class FileReport:
    """One lesson file as given (or found in a given folder), and every problem found in it or its chain."""

    path: Path
    problems: list[LessonFileError] = field(default_factory=list)


def validate_paths(paths: list[Path]) -> list[FileReport]:
    reports: list[FileReport] = []
    for path in paths:
        if path.is_dir():
            reports += [FileReport(file) for file in sorted(path.glob("*.toml"))]
        elif path.exists() or path.is_symlink():  # a FIFO or a device is the loader's to refuse, unread
            reports.append(FileReport(path))
        else:
            reports.append(FileReport(path, [LessonFileError("no such file or folder", path=str(path))]))
    for report in reports:
        if not report.problems:
            report.problems = _problems(report.path)
    return reports


def _problems(path: Path) -> list[LessonFileError]:
    catalog = Catalog([path.absolute().parent] + search_path())
    try:
        lesson = catalog.check_prerequisites(catalog.parse(path))
        for flavor in lesson.flavors or (None,):
            render_lesson(catalog, lesson, flavor=flavor)
    except LessonFileErrors as e:
        return e.errors
    except LessonFileError as e:
        return [e]
    except NetlessonsError as e:
        return [LessonFileError(e.message, path=str(path))]
    return []
