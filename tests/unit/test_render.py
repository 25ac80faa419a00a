"""The quoting model, without a shell: every value reaches a command line as exactly one word, and JSON fed
through a here-document arrives as it was, with only the lab's folder filled in."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlessons.errors import LessonFileError, ParameterError
from netlessons.render import HEREDOC_END, LabPath, Shell, argv_words, in_namespace, lab_path, quote, stdin_json

TEXT = st.text(st.characters(blacklist_characters="\x00"))
SAFE_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(lambda n: ".." not in n)


@given(TEXT)
def test_any_value_is_one_word_of_the_command_line(value):
    assert shlex.split(f"cmd {quote(value)} end") == ["cmd", value, "end"]


@given(TEXT)
def test_quoted_text_is_not_quoted_again(value):
    once = quote(value)
    assert isinstance(once, Shell) and quote(once) is once


def test_a_nul_byte_is_refused_with_a_message():
    with pytest.raises(ParameterError, match="NUL"):
        quote("a\x00b")


def test_in_namespace_is_a_quoted_prefix_or_nothing():
    assert in_namespace("") == ""
    assert shlex.split(in_namespace("ns 1; reboot") + "true") == ["ip", "netns", "exec", "ns 1; reboot", "true"]


@given(st.lists(TEXT, max_size=6))
def test_an_argument_list_keeps_its_words(words):
    assert shlex.split(argv_words(words)) == words


@pytest.mark.parametrize("bad", ["python3 -m http.server", 42])
def test_an_argument_list_must_be_a_list(bad):
    with pytest.raises(LessonFileError, match="must be a list"):
        argv_words(bad)


@given(SAFE_NAME)
def test_a_lab_file_is_a_name_in_the_lab_folder(name):
    path = lab_path(name)
    assert isinstance(path, LabPath) and path.name == name and path == f'"$LAB"/{name}'


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", ".hidden", "a..b", "x" * 65, "a b", "$(id)"])
def test_a_lab_file_name_that_could_leave_the_folder_is_refused(bad):
    with pytest.raises(ParameterError, match="lab file names"):
        lab_path(bad)


def heredoc_body(text: str) -> tuple[str, str]:
    """The delimiter and the one line of data of a here-document that stdin_json made."""
    head, body, end = text.split("\n")
    assert end == HEREDOC_END
    return head, body


def expand_unquoted(body: str, lab: str) -> str:
    """What bash makes of an unquoted here-document's line: `\\$`, `\\``, `\\\\` lose their backslash, `$LAB`
    becomes the folder; any other `$` or backquote would be an expansion, which the data must never hold."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in "\\$`":
            out.append(body[i + 1])
            i += 2
        elif body.startswith("$LAB", i) and not re.match(r"[A-Za-z0-9_]", body[i + 4:i + 5]):
            out.append(lab)
            i += 4
        else:
            assert body[i] not in "$`", f"an expansion left in the data at {i}: {body!r}"
            out.append(body[i])
            i += 1
    return "".join(out)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                           max_leaves=10)


@given(JSON_VALUES)
def test_json_without_lab_files_goes_through_a_quoted_here_document_unchanged(value):
    head, body = heredoc_body(stdin_json(value))
    assert head == f"<<'{HEREDOC_END}'"
    assert json.loads(body) == value


@given(JSON_VALUES, SAFE_NAME)
def test_json_naming_a_lab_file_expands_only_the_lab_folder(value, name):
    data = {"data": value, "log": lab_path(name)}
    head, body = heredoc_body(stdin_json(data))
    assert head == f"<<{HEREDOC_END}"
    assert json.loads(expand_unquoted(body, "/tmp/lab.X")) == {"data": value, "log": f"/tmp/lab.X/{name}"}


def test_the_output_can_be_saved_to_a_quoted_file():
    assert stdin_json({"a": 1}, save_to="out file").startswith(f"<<'{HEREDOC_END}' | tee 'out file'\n")


def test_renders_in_several_threads_leave_the_memory_limit_as_it_was():
    """The render budget lowers the process's address-space limit while a render runs; renders in several
    threads at once once left it lowered for good, and every program started afterwards (a browser) failed."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from netlessons.catalog import Catalog
    from netlessons.render import render_lesson

    before = resource.getrlimit(resource.RLIMIT_AS)
    catalog = Catalog.default()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda lesson: render_lesson(catalog, catalog.get(lesson)),
                      ["bridge-3ns", "veth-pair", "dns-service-discovery", "vxlan-overlay"] * 3))
    assert resource.getrlimit(resource.RLIMIT_AS) == before
