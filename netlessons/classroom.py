"""Challenges for a class: a sheet of seeded exercises to hand out (and the teacher's key to it), and the sum of
the result files the students hand back. Nothing here builds a lab: a seed says which fault(s) a challenge
injects, so the sheet and the key follow from the lesson file alone.
"""

from __future__ import annotations

import html
import json
import random
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from netlessons.challenge import Fault, choose, solution
from netlessons.errors import ParameterError

MAX_STUDENTS = 500
MAX_DRAWS = 20_000  # seeds tried while looking for exercises with a written symptom


@dataclass(frozen=True)
class Exercise:
    number: int
    seed: int
    faults: tuple[Fault, ...]
    command: str  # the command line that starts it

    @property
    def difficulty(self) -> str:
        return " + ".join(f.difficulty for f in self.faults)

    @property
    def symptoms(self) -> list[str]:
        return [" ".join(f.symptom.split()) for f in self.faults]


@dataclass(frozen=True)
class Sheet:
    lesson: str
    title: str
    seed: int
    count: int  # faults per exercise
    exercises: tuple[Exercise, ...]


def sheet(lesson: str, title: str, faults: list[Fault], students: int, seed: int | None, count: int,
          options: list[str]) -> Sheet:
    """One exercise per student, each with a seed of its own drawn from the sheet's seed (a new one when none is
    given). Only seeds whose faults the lesson declares are used (a derived fault has no written symptom), and
    each fault, or pair of faults, is handed out once before any comes again."""
    if not 1 <= students <= MAX_STUDENTS:
        raise ParameterError(f"--students is a number from 1 to {MAX_STUDENTS}")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 1_000_000)
    draw = random.Random(seed)
    chosen: list[tuple[int, tuple[Fault, ...]]] = []
    given: set[tuple[str, ...]] = set()
    seeds: set[int] = set()
    for _ in range(MAX_DRAWS):
        if len(chosen) == students:
            break
        candidate = draw.randrange(1, 1_000_000)
        picked, _ = choose(faults, [], candidate, count)
        key = tuple(sorted(f.name for f in picked))
        if candidate in seeds or any(f.derived for f in picked):
            continue
        if key in given:
            if len(given) < _variety(faults, count):
                continue
            given.clear()  # every choice handed out once: start again
        given.add(key)
        seeds.add(candidate)
        chosen.append((candidate, tuple(picked)))
    if len(chosen) < students:
        raise ParameterError("this lesson declares no faults to hand out" if not chosen else
                             f"found seeds for only {len(chosen)} exercises")
    extra = f" --faults {count}" if count > 1 else ""
    opts = "".join(f" {shlex.quote(o)}" for o in options)
    exercises = tuple(Exercise(n, s, f, f"netlessons challenge {shlex.quote(lesson)} --seed {s}{extra}{opts} "
                                        f"-o result-{n}.json") for n, (s, f) in enumerate(chosen, 1))
    return Sheet(lesson, title, seed, count, exercises)


def _variety(faults: list[Fault], count: int) -> int:
    """How many different exercises the declared faults allow (for two at a time: the pairs)."""
    own = sum(not f.derived for f in faults)
    return own if count == 1 else max(1, own * (own - 1) // 2)


INTRO = ("Each of you gets one exercise: start it with its command line. It builds the lab, breaks it, and opens "
         "a shell in it. Find what is wrong and fix it. Inside the lab, `netlessons check` grades (without giving "
         "the answer away) and `netlessons hint` gives a hint (hints are counted); `exit` ends the challenge and "
         "grades it a last time. Hand in the result file that the command line names.")


def _key_of(doc: Sheet, exercise: Exercise) -> dict[str, Any]:
    return solution(doc.lesson, list(exercise.faults), exercise.seed)


def markdown(doc: Sheet, key: bool = False) -> str:
    out = [f"# {'Key' if key else 'Challenge'}: {doc.title}", "",
           f"Lesson `{doc.lesson}` · {len(doc.exercises)} exercises"
           + (f" of {doc.count} faults at once" if doc.count > 1 else "") + f" · sheet seed {doc.seed}", ""]
    if not key:
        out += [INTRO, ""]
    for exercise in doc.exercises:
        out += [f"## {exercise.number}. Seed {exercise.seed} ({exercise.difficulty})", ""]
        if key:
            answer = _key_of(doc, exercise)
            for part in answer.get("parts", [answer]):
                out += [f"- fault `{part['fault']}` ({part['difficulty']}): {part['symptom']}"]
            out += ["", "Fix:", "", "```sh", *answer["fix"], "```", ""]
        else:
            out += [f"- {s}" if doc.count > 1 else s for s in exercise.symptoms]
            out += ["", "```sh", exercise.command, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.45}
section{border-top:1px dashed #999;padding:.3em 0;break-inside:avoid}pre{background:#f4f4f4;padding:.5em;
overflow-x:auto}code{font-family:ui-monospace,monospace}"""


def _prose(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def page(doc: Sheet, key: bool = False) -> str:
    e = html.escape
    heading = f"{'Key' if key else 'Challenge'}: {doc.title}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(heading)}</title><style>{_CSS}</style></head><body>", f"<h1>{e(heading)}</h1>",
           f"<p>Lesson <code>{e(doc.lesson)}</code> · {len(doc.exercises)} exercises"
           + (f" of {doc.count} faults at once" if doc.count > 1 else "") + f" · sheet seed {doc.seed}</p>"]
    if not key:
        out.append(f"<p>{_prose(INTRO)}</p>")
    for exercise in doc.exercises:
        out += ["<section>", f"<h2>{exercise.number}. Seed {exercise.seed} ({e(exercise.difficulty)})</h2>"]
        if key:
            answer = _key_of(doc, exercise)
            out.append("<ul>" + "".join(f"<li>fault <code>{e(part['fault'])}</code> ({e(part['difficulty'])}): "
                                        f"{_prose(part['symptom'])}</li>" for part in answer.get("parts", [answer]))
                       + "</ul>")
            out.append(f"<p>Fix:</p><pre><code>{e(chr(10).join(answer['fix']))}</code></pre>")
        else:
            out += [f"<p>{_prose(symptom)}</p>" for symptom in exercise.symptoms]
            out.append(f"<pre><code>{e(exercise.command)}</code></pre>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


FORMATS: dict[str, Callable[[Sheet, bool], str]] = {"md": markdown, "html": page}


# --- the results the students hand back ---------------------------------------------------------------------

FIELDS: dict[str, tuple[type, ...]] = {"lesson": (str,), "fault": (str,), "solved": (bool,), "hints_used": (int,),
                                       "seconds": (int, float), "goals": (list,)}


def read_result(path: Path) -> dict[str, Any]:
    """One student's result, as `netlessons challenge --json` wrote it; a file that is not one is refused."""
    shown = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise ParameterError(f"{shown}: a folder, not a result file") from None
    except OSError as e:
        raise ParameterError(f"{shown}: cannot read it: {e.strerror}") from None
    except (UnicodeDecodeError, ValueError):
        raise ParameterError(f"{shown}: not a challenge result (not JSON)",
                             hint="result files come from `netlessons challenge LESSON --json` or `-o FILE`") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{shown}: not a challenge result (not a JSON object)")
    for name, kinds in FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kinds) or (name != "solved" and isinstance(value, bool)):
            raise ParameterError(f"{shown}: not a challenge result ({name!r} missing or wrong)",
                                 hint="result files come from `netlessons challenge LESSON --json` or `-o FILE`")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ParameterError(f"{shown}: not a challenge result ('seed' is not a number)")
    faults = data.get("faults", [data["fault"]])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise ParameterError(f"{shown}: not a challenge result ('faults' is not a list of names)")
    return {"student": path.stem if path.suffix == ".json" else path.name, "file": shown, "lesson": data["lesson"],
            "faults": faults, "seed": seed, "solved": data["solved"], "hints_used": data["hints_used"],
            "seconds": float(data["seconds"])}


def summary(paths: list[Path]) -> dict[str, Any]:
    """Every file read first (a bad one stops it all), then the rows and the totals."""
    rows = [read_result(path) for path in paths]
    solved = sum(row["solved"] for row in rows)
    return {"results": rows, "totals": {"results": len(rows), "solved": solved, "not_solved": len(rows) - solved,
                                        "hints_used": sum(row["hints_used"] for row in rows),
                                        "seconds": round(sum(row["seconds"] for row in rows), 1)}}


def _time(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def table(done: dict[str, Any]) -> str:
    header = ("student", "lesson", "fault(s)", "seed", "solved", "hints", "time")
    rows = [(r["student"], r["lesson"], " + ".join(r["faults"]), "-" if r["seed"] is None else str(r["seed"]),
             "yes" if r["solved"] else "no", str(r["hints_used"]), _time(r["seconds"])) for r in done["results"]]
    totals = done["totals"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    out = [line(header), line("-" * w for w in widths), *(line(row) for row in rows)]
    count = totals["results"]
    mean = _time(totals["seconds"] / count) if count else "0:00"
    out.append(f"\n{totals['solved']} of {count} solved, {totals['hints_used']} hints used, "
               f"{_time(totals['seconds'])} in all ({mean} on average)")
    return "\n".join(out) + "\n"
