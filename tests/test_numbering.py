"""One numbering of steps: what RenderedLesson.label says is what list, explain, run, --upto and the handouts say."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from netlessons.catalog import Catalog
from netlessons.cli import app
from netlessons.errors import ParameterError
from netlessons.lesson import Lesson, teaching_order
from tests.helpers import LESSONS, ROOT, netlessons, rendered

CATALOG = Catalog.default()


@pytest.mark.parametrize("lesson", LESSONS)
def test_labels_count_the_lessons_own_steps_from_one(lesson):
    r = rendered(lesson)
    own = [r.label(s) for s in r.own_steps + r.cleanup]
    assert len(set(own)) == len(own), "two commands with the same number"
    numbers = [int(label.split(".")[0]) for label in own]
    assert numbers[0] == 1 and numbers == sorted(numbers)
    assert set(numbers) == {n.number for n in r.numbered()} and max(numbers) == r.step_count
    for numbered in r.numbered():
        labels = [r.label(s) for s in numbered.commands]
        if len({s.id for s in numbered.commands}) > 1 or "." in labels[0]:  # a loop: n.1, n.2, ...
            assert labels == [f"{numbered.number}.{k}" for k in range(1, len(labels) + 1)]
        else:
            assert labels == [str(numbered.number)]
    for step in r.prerequisite_steps:
        assert r.label(step).startswith(step.lesson + ":")


def test_a_prerequisite_step_keeps_its_number_from_its_own_lesson():
    veth, basics = rendered("veth-pair"), rendered("netns-basics")
    assert [veth.label(s) for s in veth.prerequisite_steps] == [f"netns-basics:{basics.label(s)}"
                                                               for s in basics.own_steps]


def test_numbers_do_not_move_when_a_loop_has_more_rounds():
    small, large = rendered("bridge-n", n="2"), rendered("bridge-n", n="5")
    first_of = lambda r: {s.group: r.label(s).split(".")[0] for s in r.own_steps + r.cleanup}  # noqa: E731
    assert first_of(small) == first_of(large)
    assert len(large.own_steps) > len(small.own_steps)


@pytest.mark.parametrize("lesson", ["veth-pair", "bridge-3ns", "two-nodes-routed"])
def test_upto_takes_every_label_and_id_and_lands_on_that_step(lesson):
    r = rendered(lesson)
    for index, step in enumerate(r.steps):
        assert r.upto(r.label(step)) == index + 1
        if [s.id for s in r.steps].count(step.id) == 1:
            assert r.upto(step.id) == index + 1
    for numbered in r.numbered():
        if numbered.phase == "steps":
            last = numbered.commands[-1]
            assert r.upto(str(numbered.number)) == r.steps.index(last) + 1  # a loop's number: its last round
            assert r.upto(numbered.first.group) == r.steps.index(last) + 1


def test_upto_zero_is_the_lab_of_the_prerequisites():
    assert rendered("veth-pair").upto("0") == len(rendered("netns-basics").own_steps)
    assert rendered("bridge-3ns").upto("0") == 0


@pytest.mark.parametrize("spec", ["99", "13", "2.7", "netns-basics:99", "nosuch"])
def test_upto_refuses_a_step_that_is_not_there(spec):
    r = rendered("veth-pair")  # 12 steps, 13 and 14 are the clean-up
    with pytest.raises(ParameterError) as caught:
        r.upto(spec)
    assert spec in caught.value.message


def test_the_cli_commands_agree_on_the_number_of_the_ping():
    """The ping of veth-pair across the pair: explain, run, JSON and the lesson's own label say the same."""
    r = rendered("veth-pair")
    ping = next(s for s in r.own_steps if s.group == "ping-across")
    number = r.label(ping)
    explained = CliRunner().invoke(app, ["explain", "veth-pair"]).stdout
    block = explained.split(f"\nStep {number}. ", 1)[1].split("\nStep ", 1)[0]
    assert ping.command in block
    ran = netlessons("run", "veth-pair")
    assert re.search(rf"^\[\s*{re.escape(number)}/{r.step_count}\] ok .*{re.escape(ping.command)}$", ran.stdout,
                     re.M), ran.stdout
    import json

    as_json = json.loads(netlessons("run", "veth-pair", "--json").stdout)
    assert next(s for s in as_json["steps"] if s["id"] == ping.id)["number"] == number


def test_explain_labels_the_rounds_of_a_loop():
    r = rendered("bridge-3ns")
    loop = next(n for n in r.numbered() if len(n.commands) > 1)
    text = CliRunner().invoke(app, ["explain", "bridge-3ns"]).stdout
    for step in loop.commands:
        assert f"    {r.label(step)} $ {step.command}" in text


def test_readme_lists_the_lessons_in_teaching_order():
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", readme, re.M)
    assert listed == [lesson.id for lesson in teaching_order(CATALOG.all())]


def test_teaching_order_puts_prerequisites_first():
    def lesson(name: str, *after: str) -> Lesson:
        return replace(CATALOG.get("netns-basics"), id=name, prerequisites=tuple(after))

    lessons = [lesson("zeta", "mine"), lesson("mine", "veth-pair"), lesson("veth-pair", "netns-basics"),
               lesson("netns-basics"), lesson("alpha")]
    order = [item.id for item in teaching_order(lessons)]
    assert order.index("netns-basics") < order.index("veth-pair") < order.index("mine") < order.index("zeta")
    assert order[0] == "netns-basics"
    for item in lessons:
        assert all(order.index(p) < order.index(item.id) for p in item.prerequisites)
