"""The narration, from a lesson put together in memory: numbers as every command says them, a loop shown as
one step with its rounds, and what a learner should see in words."""

from __future__ import annotations

from netlessons.explain import expected_in_words, render_explanation
from netlessons.lesson import Expectation
from tests.helpers import made_lesson, made_rendered, made_step


def test_what_a_step_should_show_in_words():
    said = expected_in_words(made_step("t", "s", expect=Expectation(status=2, output=("a * b (glob)", "x.+ (re)"))))
    assert said == ["the command exits with status 2", "a line like: a … b", "a line like: x.+"]
    assert expected_in_words(made_step("t", "s")) == ["no output; the command succeeds"]
    assert "fails" in expected_in_words(made_step("t", "s", expect=Expectation(status="failure")))[0]


def test_steps_are_numbered_and_a_loop_shows_each_round_with_its_label():
    lesson = made_lesson("top", [("make", ""), ("each", "n in [1, 2]")], [("remove", "")])
    steps = [made_step("top", "make", command="ip netns add a"),
             made_step("top", "each", "each-1", command="echo 1"), made_step("top", "each", "each-2",
                                                                          command="echo 2")]
    text = render_explanation(made_rendered(lesson, steps, [made_step("top", "remove", phase="cleanup")]))
    lines = text.splitlines()
    assert lines[0] == "top: The top"
    assert "Step 1. title of make" in lines and "    $ ip netns add a" in lines
    assert "Step 2. title of each (and the same for the others)" in lines
    assert "    2.1 $ echo 1" in lines and "    2.2 $ echo 2" in lines
    assert lines.index("== Clean-up ==") < lines.index("Step 3. title of remove")


def test_a_multi_line_command_continues_with_the_prompt_bash_shows():
    lesson = made_lesson("top", [("write", "")])
    text = render_explanation(made_rendered(lesson, [made_step("top", "write", command="cat <<EOF\nhi\nEOF")]))
    assert "    $ cat <<EOF\n    > hi\n    > EOF\n" in text
