"""The "Check kinds" section of docs/authoring.md, generated from the registry so the two cannot drift.

Regenerate it with `python -m netlessons.checks.reference` (it rewrites only the text between the markers);
tests/test_checks.py fails while the file holds anything else there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from netlessons.checks.base import CheckKind
from netlessons.checks.registry import KINDS

START = "<!-- check-kinds:start -->"
END = "<!-- check-kinds:end -->"
AUTHORING = Path(__file__).resolve().parents[2] / "docs" / "authoring.md"

_WHEN = """\
**When the checks run.** After the command, and again every few milliseconds until they all pass or `wait`
seconds are over. In a step with `foreach`, every round is checked after it runs, so a check written with the
loop variable (`{ netns = "{{ ns_prefix ~ i }}" }`) checks each round's own object. A step that wants its checks
only once, after the last round, says so with `expect.every_round = false`; its checks then see the lab as the
last round left it. `netlessons validate` warns when such a check uses the loop variable, since it can only
ever see the last round's object."""


def _kind(kind: CheckKind) -> list[str]:
    lines = [f"#### `{kind.name}`", "", f"`{kind.example}`: {kind.summary}.", "",
             "| field | required | value | meaning |", "|---|---|---|---|",
             f"| `{kind.name}` | yes | {kind.subject_type.words} | {kind.subject} |"]
    lines += [f"| `{f.name}` | {'yes' if f.required else 'no'} | {f.type.words} | {f.meaning} |" for f in kind.fields]
    return lines + [""]


def markdown() -> str:
    """The section, markers included."""
    lines = [START, "### Check kinds", "",
             "A state check is a table that names one thing by its kind's key and says what must be true of it. "
             "Every value is a template. An empty text value (`address = \"\"`) means \"don't check this\".", ""]
    for kind in KINDS.values():
        lines += _kind(kind)
    lines += [_WHEN, END]
    return "\n".join(lines)


def updated(text: str) -> str:
    """The document with its section replaced by a fresh one; ValueError when the markers are missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} and {END} are missing")
    return text[:start] + markdown() + text[end + len(END):]


def main(path: Path = AUTHORING) -> int:
    path.write_text(updated(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the check kinds into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
