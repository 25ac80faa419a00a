"""One numbering of steps (RenderedLesson.label and upto), on lessons put together in memory."""

from __future__ import annotations

import pytest

from netlessons.errors import ParameterError
from tests.helpers import made_lesson, made_rendered, made_step


@pytest.fixture(scope="module")
def lab():
    """A prerequisite with two steps; a lesson with a plain step, a loop of three rounds, another plain step,
    and a clean-up of one step."""
    base = made_lesson("base", [("one", ""), ("two", "")])
    lesson = made_lesson("top", [("make", ""), ("each", "n in [1, 2, 3]"), ("ping", "")], [("remove", "")],
                         prerequisites=("base",))
    steps = [made_step("base", "one"), made_step("base", "two"), made_step("top", "make")]
    steps += [made_step("top", "each", f"each-{n}") for n in (1, 2, 3)]
    steps += [made_step("top", "ping")]
    return made_rendered(lesson, steps, [made_step("top", "remove", phase="cleanup")], prerequisites=[base])


def test_own_steps_count_from_one_loops_get_a_round_number_and_cleanup_follows(lab):
    assert [lab.label(s) for s in lab.own_steps] == ["1", "2.1", "2.2", "2.3", "3"]
    assert [lab.label(s) for s in lab.cleanup] == ["4"]
    assert lab.step_count == 4


def test_a_prerequisites_step_is_named_by_its_lesson_and_its_own_number(lab):
    assert [lab.label(s) for s in lab.prerequisite_steps] == ["base:1", "base:2"]


def test_numbered_groups_the_rounds_of_a_loop_under_one_number(lab):
    numbered = lab.numbered()
    assert [(n.number, len(n.commands), n.phase) for n in numbered] == [(1, 1, "steps"), (2, 3, "steps"),
                                                                        (3, 1, "steps"), (4, 1, "cleanup")]


@pytest.mark.parametrize(("spec", "count"), [
    ("0", 2), ("base:1", 1), ("1", 3), ("2.2", 5), ("2", 6), ("each", 6), ("each-1", 4), ("3", 7), (" ping ", 7),
])
def test_upto_counts_the_commands_up_to_and_with_that_step(lab, spec, count):
    assert lab.upto(spec) == count


@pytest.mark.parametrize("spec", ["9", "2.4", "base:7", "nosuch"])
def test_upto_names_what_is_not_there(lab, spec):
    with pytest.raises(ParameterError) as caught:
        lab.upto(spec)
    assert spec in caught.value.message


def test_a_step_number_stays_when_a_loop_has_more_rounds():
    lesson = made_lesson("top", [("each", "n in ns"), ("after", "")])
    short = made_rendered(lesson, [made_step("top", "each", "each-1"), made_step("top", "after")])
    long = made_rendered(lesson, [made_step("top", "each", f"each-{n}") for n in range(5)]
                         + [made_step("top", "after")])
    assert short.label(short.steps[-1]) == long.label(long.steps[-1]) == "2"
