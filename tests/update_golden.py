"""Regenerate the golden files after an intended change, then review the diff:

    python -m tests.update_golden [LESSON ...]

It rewrites, for the lessons named (or all), the printed scripts in tests/golden/ and the Markdown handouts
in docs/lessons/ (each handout comes from a real run in a sandbox).
"""

from netlessons.catalog import Catalog
from netlessons.handout import capture, to_markdown
from netlessons.render import render_lesson
from tests.helpers import GOLDEN, GOLDEN_VARIANTS, ROOT, golden_name, script

HANDOUTS = ROOT / "docs" / "lessons"


def handout(lesson_id: str) -> str:
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get(lesson_id))
    return to_markdown(rendered, capture(rendered))


if __name__ == "__main__":
    import sys

    wanted = set(sys.argv[1:])
    for lesson, flavor in GOLDEN_VARIANTS:
        if wanted and lesson not in wanted:
            continue
        path = GOLDEN / golden_name(lesson, flavor)
        path.write_text(script(lesson, flavor))
        print(f"wrote {path}")
    HANDOUTS.mkdir(parents=True, exist_ok=True)
    for lesson_id in Catalog.default().files():
        if wanted and lesson_id not in wanted:
            continue
        path = HANDOUTS / f"{lesson_id}.md"
        path.write_text(handout(lesson_id))
        print(f"wrote {path}")
