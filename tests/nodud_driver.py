"""The no-dud check of a lesson's faults, as a module that runs alone (`python -m nodud_driver LESSON...`), so that
the suite can run it as an ordinary user too: it imports only netlessons. For each lesson it builds the lab once
in the sandbox and, for every fault (declared and derived): the fault breaks the goal it names; the fixes of
the other declared faults, all applied, leave the lab broken (so none of them repairs it); its own fix brings
every goal back. Then every pair of declared faults a seed can pick, as `--faults 2` injects them. One JSON
line per lesson.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial


def problems_of(lesson_id: str) -> list[str]:
    """What is wrong with the faults of this lesson; [] when none is a dud."""
    from netlessons import challenge, goals
    from netlessons.catalog import Catalog
    from netlessons.render import render_lesson
    from netlessons.runner import Lab

    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get(lesson_id), {})
    wanted = goals.goals_of(rendered)
    faults = challenge.faults_of(rendered, wanted)
    own = [f for f in faults if not f.derived]
    if len(own) < 3:
        return [f"{lesson_id} declares {len(own)} faults, fewer than 3"]
    names = {goal.name for goal in wanted}
    lab = Lab(rendered)
    try:
        failed = lab.build(list(rendered.steps))
        if failed is not None:
            return [f"the lab does not build: {failed}"]
        run = partial(lab.shell.run, timeout=60)

        def failing() -> list[str]:
            return [v.goal.name for v in goals.grade(wanted, run) if not v.passed]

        by_name = {goal.name: goal for goal in wanted}

        def problem_of(name: str) -> str:
            """Why this goal fails ("" when it is met): graded alone, as a broken lab's other goals may each
            wait out a time limit (forty requests to a Service that no longer answers)."""
            verdict = goals.grade([by_name[name]], run)[0]
            return "" if verdict.passed else verdict.problem or "not met"

        def still_fails(name: str) -> bool:
            return bool(problem_of(name))

        if failing():
            return [f"the built lab misses goals: {failing()}"]
        for fault in faults:
            if fault.breaks not in names:
                return [f"{fault.name}: names no goal of the lesson: {fault.breaks!r}"]
            injected = run(fault.inject)
            if injected.status != 0:
                return [f"{fault.name}: cannot be injected: {injected.output.strip()}"]
            if not still_fails(fault.breaks):
                return [f"{fault.name} leaves {fault.breaks!r} met"]
            others = [other for other in own if other is not fault] if not fault.derived else []
            if others:  # the other faults' fixes, all of them, must not repair this one
                for other in others:
                    run(other.fix)
                if not still_fails(fault.breaks) and not failing():
                    return [f"the fixes of {', '.join(o.name for o in others)} repair {fault.name}"]
            fixed = run(fault.fix)
            if fixed.status != 0:
                return [f"{fault.name}: its fix fails: {fixed.output.strip()}"]
            left = failing()
            if left:
                return [f"the fix of {fault.name} leaves the lab broken: {left}"]
        # Incidents (--faults 2): every pair a seed can pick (two faults that break different goals, where the
        # lesson has such pairs) injects in the order the lesson declares them, and their fixes, the last
        # injected first, repair both.
        pairs = [(first, second) for index, first in enumerate(own) for second in own[index + 1:]]
        for first, second in [(a, b) for a, b in pairs if a.breaks != b.breaks] or pairs:
            pair = f"{first.name} + {second.name}"
            for command in (first.inject, second.inject, second.fix, first.fix):
                done = run(command)
                if done.status != 0:
                    return [f"incident {pair}: {command!r} fails: {done.output.strip()}"]
            broken = [f"{name!r} ({problem})" for name in (first.breaks, second.breaks)
                      if (problem := problem_of(name))]
            if broken:
                return [f"incident {pair}: the fixes leave it broken: {'; '.join(broken)}"]
        left = failing()
        return [f"after the incidents the lab misses goals: {left}"] if left else []
    finally:
        lab.close()


def main(lessons: list[str]) -> int:
    bad = 0
    for lesson in lessons:
        start = time.monotonic()
        try:
            problems = problems_of(lesson)
        except Exception as e:  # one lesson's surprise must not hide the others' verdicts
            problems = [f"{type(e).__name__}: {e}"]
        bad += bool(problems)
        print(json.dumps({"lesson": lesson, "problems": problems, "seconds": round(time.monotonic() - start, 1)}),
              flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
