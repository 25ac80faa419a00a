"""Regenerate the golden scripts after an intended change: python -m tests.update_golden (review the diff)."""

from tests.test_script import GOLDEN, VARIANTS, golden_name, script

if __name__ == "__main__":
    for lesson, flavor in VARIANTS:
        path = GOLDEN / golden_name(lesson, flavor)
        path.write_text(script(lesson, flavor))
        print(f"wrote {path}")
