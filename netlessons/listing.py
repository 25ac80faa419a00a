"""What `netlessons list` shows: a row per lesson of the catalog, in teaching order.

A row needs the lesson rendered (its number of steps and the tools its commands need), so the rows of a whole
catalog are kept in the per-user cache as one entry, keyed by every lesson file of the catalog and the
templates (see codecache.listing_key). A warm `list` then reads the lesson files to make the key and that one
entry, and decodes no render. A catalog with a lesson file that does not load is never kept: its errors are
said afresh each time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from netlessons import codecache, errors
from netlessons.catalog import Catalog, data_dir
from netlessons.lesson import RenderedLesson, teaching_order


@dataclass(frozen=True)
class ListedParameter:
    name: str
    type: str
    default: Any
    rule: str
    help: str


@dataclass(frozen=True)
class ListedLesson:
    """One row, with the fields (and in the order) of `list --json`."""

    id: str
    title: str
    summary: str
    steps: int
    prerequisites: tuple[str, ...]
    flavors: tuple[str, ...]
    needs: tuple[str, ...]
    packages: tuple[str, ...]
    parameters: tuple[ListedParameter, ...]
    file: str


@dataclass(frozen=True)
class Listing:
    rows: tuple[ListedLesson, ...]
    broken: tuple[str, ...]  # "where: what" of each lesson file left out


def listing(catalog: Catalog, render: Callable[[str, Catalog], RenderedLesson]) -> Listing:
    """The rows of every lesson that loads and renders with its defaults (`render` does that, from the cache
    where it can), and what is wrong with the others."""
    key = _key(catalog)
    found = codecache.load_listing(key, Listing)
    if found is None:
        found = _listing(catalog, render)
        if not found.broken:
            codecache.save_listing(key, found)
    return found


def kept(catalog: Catalog) -> Listing | None:
    """The rows as the cache keeps them for this catalog, or None; never renders (the next-lesson line of a
    run uses their order, when a `list` has kept them)."""
    return codecache.load_listing(_key(catalog), Listing)


def _key(catalog: Catalog) -> str | None:
    return codecache.listing_key([path.absolute() for path in catalog.files().values()], data_dir("templates"))


def _listing(catalog: Catalog, render: Callable[[str, Catalog], RenderedLesson]) -> Listing:
    from netlessons.params import rule_of
    from netlessons.tools import package_for

    rows, lessons, broken = {}, [], []
    for lesson_id, path in catalog.files().items():
        try:
            lesson = catalog.get(lesson_id)
            rendered = render(lesson.id, catalog)
        except errors.LessonFileErrors as e:
            more = f" (and {len(e.errors) - 1} more problems)" if len(e.errors) > 1 else ""
            broken.append(e.errors[0].message + more)
            continue
        except errors.NetlessonsError as e:
            broken.append(f"{errors.printable(path, 4096)}: {e.message}")
            continue
        lessons.append(lesson)
        rows[lesson.id] = ListedLesson(
            id=lesson.id, title=lesson.title, summary=" ".join(lesson.summary.split()), steps=rendered.step_count,
            prerequisites=tuple(lesson.prerequisites), flavors=tuple(lesson.flavors), needs=tuple(rendered.needs),
            packages=tuple(sorted({package_for(t) for t in rendered.needs})),
            parameters=tuple(ListedParameter(p.name, p.type, rendered.values[p.name], rule_of(p), p.help)
                             for p in rendered.parameters),
            file=str(lesson.path))
    return Listing(tuple(rows[lesson.id] for lesson in teaching_order(lessons)), tuple(broken))


def json_row(row: ListedLesson, overrides_builtin: bool) -> dict[str, Any]:
    return {**asdict(row), "overrides_builtin": overrides_builtin}
