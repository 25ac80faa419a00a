"""Writing lessons of one's own: the docs' worked example, generated macro reference, an author's templates,
reserved names, conditional steps, loops by name, constants, the word type and the skeleton.

Regenerate the macro reference in docs/authoring.md after changing a template:  python -m tests.test_authoring --write
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from netlessons import codecache, kernel
from netlessons.catalog import Catalog, data_dir
from netlessons.errors import LessonFileErrors, ParameterError
from netlessons.lesson import FAMILIES, Parameter
from netlessons.params import TYPES, convert
from netlessons.render import Renderer, family_docs, macro_reference, render_lesson
from netlessons.skeleton import shadowing_warning, write_skeleton
from tests.helpers import ROOT, netlessons

DOC = ROOT / "docs" / "authoring.md"
MARKERS = re.compile(r"(<!-- macros:start -->\n)(.*?)(<!-- macros:end -->)", re.S)
EXAMPLE = re.compile(r"<!-- example-file: (\S+) -->\n```\w*\n(.*?)\n```", re.S)


def write_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(MARKERS.sub(lambda m: m.group(1) + macro_reference() + m.group(3), text), encoding="utf-8")


def docs_example(folder: Path) -> Path:
    """The worked example's files, written as the docs show them; the folder of the lesson."""
    found = EXAMPLE.findall(DOC.read_text(encoding="utf-8"))
    assert found, "docs/authoring.md has no example files"
    for name, body in found:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body + "\n", encoding="utf-8")
    return folder / "my-lessons"


def lesson(folder: Path, lesson_id: str, body: str, steps: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lesson_id}.toml"
    path.write_text(f'id = "{lesson_id}"\ntitle = "t"\nsummary = "s"\n{body}\n{steps}', encoding="utf-8")
    return path


def step(step_id: str, run: str, extra: str = "") -> str:
    return f'[[steps]]\nid = "{step_id}"\ntitle = "t"\nexplain = "e"\nrun = "{run}"\n{extra}\n'


def rendered(folder: Path, lesson_id: str, **kwargs):
    catalog = Catalog([folder, data_dir("lessons")])
    return render_lesson(catalog, catalog.get(lesson_id), **kwargs)


def errors_of(folder: Path, lesson_id: str) -> str:
    with pytest.raises(LessonFileErrors) as failure:
        rendered(folder, lesson_id)
    return " ".join(e.message for e in failure.value.errors)


# --- the docs' own worked example -----------------------------------------------------------------------


needs_macvlan = pytest.mark.skipif(not kernel.feature_present("macvlan"), reason="this kernel lacks macvlan")


@needs_macvlan
def test_the_docs_worked_example_runs_green(tmp_path):
    folder = docs_example(tmp_path)
    checked = netlessons("validate", str(folder / "macvlan-pods.toml"))
    assert checked.returncode == 0, checked.stderr
    done = netlessons("run", "macvlan-pods", "--lessons-dir", str(folder), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED: all 10 steps" in done.stdout
    assert "nft insert rule inet podfw input ip saddr @blocked drop" in done.stdout
    assert "link lab-parent type macvlan mode bridge" in done.stdout  # the author's macro called the built-in


@needs_macvlan
def test_the_example_without_its_firewall_leaves_the_conditional_steps_out(tmp_path):
    folder = docs_example(tmp_path)
    done = netlessons("run", "macvlan-pods", "--lessons-dir", str(folder), "--set", "firewall=no", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED: all 6 steps" in done.stdout and "nft add" not in done.stdout
    assert "[  6/6]" in done.stdout  # renumbered without gaps


@needs_macvlan
def test_the_loop_checks_every_item_of_the_example(tmp_path):
    """A check that is right for pod1 only fails at pod2's round: per-item checks see each item."""
    folder = docs_example(tmp_path)
    path = folder / "macvlan-pods.toml"
    text = path.read_text()
    assert 'address = "{{ host(subnet, n) }}"' in text
    path.write_text(text.replace('address = "{{ host(subnet, n) }}"', 'address = "{{ host(subnet, 2) }}"'))
    done = netlessons("run", "macvlan-pods", "--lessons-dir", str(folder), timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[3.1/10] ok" in done.stdout and "3.2" in done.stdout.split("[3.1/10] ok", 1)[1]


# --- the generated macro reference ------------------------------------------------------------------------


def test_every_macro_has_a_doc_comment():
    undocumented = [f"{m.family}.{m.name}" for _, macros in family_docs(data_dir("templates")).values()
                    for m in macros if not m.doc]
    assert not undocumented


def test_the_families_are_the_template_files():
    files = {path.stem for path in data_dir("templates").glob("*.j2")}
    assert files == set(FAMILIES)


def test_the_reference_in_the_docs_is_current():
    section = MARKERS.search(DOC.read_text(encoding="utf-8"))
    assert section, "docs/authoring.md lacks the <!-- macros:start --> / <!-- macros:end --> markers"
    assert section.group(2) == macro_reference(), "stale: run  python -m tests.test_authoring --write"
    for family, (_, macros) in family_docs(data_dir("templates")).items():
        for m in macros:
            assert f"`{family}.{m.name}(" in section.group(2)
    for name in kernel.FEATURES:
        assert f"| `{name}` |" in section.group(2)


def test_the_reference_notices_a_new_macro(tmp_path):
    """What the staleness test relies on: a macro added to a template shows in the generated text."""
    for path in data_dir("templates").glob("*.j2"):
        (tmp_path / path.name).write_text(path.read_text())
    with (tmp_path / "link.j2").open("a") as f:
        f.write('\n{#- Rename a link. -#}\n{% macro rename(old, new) -%}ip link set {{ old }} name {{ new }}'
                '{%- endmacro %}\n')
    assert "`link.rename(old, new)` | Rename a link." in macro_reference(tmp_path)
    assert "link.rename" not in macro_reference()


# --- an author's own templates ----------------------------------------------------------------------------


def test_a_lessons_folder_adds_its_own_family(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "gre.j2").write_text(
        "{#- GRE. -#}\n{#- A tunnel. -#}\n{% macro add(name, remote, ns='') -%}\n"
        "{{ creates('link', name, ns) }}{{ needs('ip') }}{{ in_ns(ns) }}ip link add {{ name }} type gre "
        "remote {{ remote }}\n{%- endmacro %}\n")
    lesson(tmp_path, "mine", '[params.remote]\ntype = "ipv4"\ndefault = "192.0.2.9"\n',
           step("a", "{{ gre.add('gre1', remote ~ '; touch /tmp/x', 'ns1') }}"))
    done = rendered(tmp_path, "mine")
    assert done.steps[0].command == "ip netns exec ns1 ip link add gre1 type gre remote '192.0.2.9; touch /tmp/x'"
    assert [(o.kind, o.name, o.netns) for o in done.owned] == [("link", "gre1", "ns1")]
    assert "ip" in done.needs


def test_an_authors_family_is_searched_first_and_only_for_that_folder(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "link.j2").write_text(
        "{#- Mine. -#}\n{#- Show. -#}\n{% macro show(ns='') -%}ip -br link show{%- endmacro %}\n")
    lesson(tmp_path, "mine", "", step("a", "{{ link.show() }}"))
    assert rendered(tmp_path, "mine").steps[0].command == "ip -br link show"
    builtin = rendered(tmp_path, "netns-basics")
    assert all("ip -br" not in s.command for s in builtin.steps)


def test_an_authors_template_named_like_a_helper_is_refused(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "host.j2").write_text("{% macro x() -%}true{%- endmacro %}\n")
    lesson(tmp_path, "mine", "", step("a", "true"))
    assert "host" in errors_of(tmp_path, "mine")


def test_an_authors_template_that_is_a_fifo_is_refused_not_waited_for(tmp_path):
    (tmp_path / "templates").mkdir()
    os.mkfifo(tmp_path / "templates" / "slow.j2")
    lesson(tmp_path, "mine", "", step("a", "{{ slow.x() }}"))
    done = netlessons("print", "mine", "--lessons-dir", str(tmp_path), timeout=30)
    assert done.returncode == 2 and "regular file" in done.stderr, done.stderr


def test_the_render_cache_notices_an_authors_template(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "own.j2").write_text("{#- x -#}\n{#- y -#}\n{% macro go() -%}echo one{%- endmacro %}\n")
    path = lesson(tmp_path, "mine", "", step("a", "{{ own.go() }}"))
    key = codecache.rendered_key([path], data_dir("templates"), {}, None)
    cache = {"NETLESSONS_CACHE_DIR": str(tmp_path / "cache")}
    assert "echo one" in netlessons("print", "mine", "--lessons-dir", str(tmp_path), env=cache).stdout
    (templates / "own.j2").write_text("{#- x -#}\n{#- y -#}\n{% macro go() -%}echo two{%- endmacro %}\n")
    assert codecache.rendered_key([path], data_dir("templates"), {}, None) != key
    assert "echo two" in netlessons("print", "mine", "--lessons-dir", str(tmp_path), env=cache).stdout


# --- reserved names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, hidden", [("bridge", "macro family 'bridge'"), ("host", "helper 'host'"),
                                          ("creates", "helper 'creates'"), ("macvlan", "macro family")])
def test_a_parameter_named_like_a_family_or_helper_is_refused(tmp_path, name, hidden):
    path = lesson(tmp_path, "clash", f'[params.{name}]\ntype = "word"\ndefault = "x"\n', step("a", "true"))
    done = netlessons("validate", str(path))
    assert done.returncode == 2
    assert f"params.{name}" in done.stderr and hidden in done.stderr, done.stderr


def test_names_clashing_with_an_authors_family_constants_and_loops_are_refused(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "podnet.j2").write_text("{% macro x() -%}true{%- endmacro %}\n")
    path = lesson(tmp_path, "clash", '[params.podnet]\ntype = "word"\ndefault = "x"\n[constants]\nlab = 1\n',
                  step("a", "true"))
    done = netlessons("validate", str(path))
    assert "params.podnet" in done.stderr and "podnet.j2" in done.stderr, done.stderr
    assert "constants.lab" in done.stderr
    lesson(tmp_path / "b", "loop", "", step("a", "true", 'foreach = "link in [1, 2]"'))
    assert "loop variable 'link'" in errors_of(tmp_path / "b", "loop")


# --- flavors ----------------------------------------------------------------------------------------------


def test_bridges_without_flavors_are_iproute2(tmp_path):
    lesson(tmp_path, "plain", "", step("a", "{{ bridge.add('br9') }}"))
    assert rendered(tmp_path, "plain").steps[0].command == "ip link add br9 type bridge"
    assert rendered(tmp_path, "plain", flavor="iproute2").steps[0].command == "ip link add br9 type bridge"
    with pytest.raises(ParameterError, match="iproute2"):
        rendered(tmp_path, "plain", flavor="brctl")
    catalog = Catalog.default()
    assert render_lesson(catalog, catalog.get("bridge-3ns")).flavor == "brctl"
    with pytest.raises(ParameterError, match="no bridge flavors"):  # a lesson with no bridges has no flavor
        render_lesson(catalog, catalog.get("netns-basics"), flavor="iproute2")


# --- conditional steps, loops by name, constants, several commands ----------------------------------------


def test_when_leaves_steps_and_rounds_out(tmp_path):
    steps = (step("one", "echo 1") + step("two", "echo 2", 'when = "extra == \'yes\'"')
             + step("three", "echo {{ i }}", 'foreach = "i in [1, 2, 3]"\nwhen = "i != 2"'))
    lesson(tmp_path, "cond", '[params.extra]\ntype = "choice"\nchoices = ["yes", "no"]\ndefault = "no"\n', steps)
    without = rendered(tmp_path, "cond")
    assert [s.command for s in without.steps] == ["echo 1", "echo 1", "echo 3"]
    assert [without.label(s) for s in without.steps] == ["1", "2.1", "2.2"]
    with_it = rendered(tmp_path, "cond", overrides={"extra": "yes"})
    assert [with_it.label(s) for s in with_it.steps] == ["1", "2", "3.1", "3.2"]


def test_a_broken_when_is_named(tmp_path):
    lesson(tmp_path, "bad", "", step("a", "true", 'when = "nosuch == 1"'))
    with pytest.raises(LessonFileErrors) as failure:
        rendered(tmp_path, "bad")
    assert failure.value.errors[0].field.endswith(".when")


def test_loop_items_unpack_by_name_and_constants_are_seen(tmp_path):
    lesson(tmp_path, "pairs", '[constants]\npods = [["a", "ns1"], ["b", "ns2"]]\nprefix = "x-"\n',
           step("p", "echo {{ prefix ~ name }} {{ ns }}", 'foreach = "name, ns in pods"'))
    done = rendered(tmp_path, "pairs")
    assert [s.command for s in done.steps] == ["echo x-a ns1", "echo x-b ns2"]
    assert [s.id for s in done.steps] == ["p-a-ns1", "p-b-ns2"]


def test_unpacking_the_wrong_number_of_values_is_an_error(tmp_path):
    lesson(tmp_path, "odd", "", step("p", "true", 'foreach = "a, b in [[1, 2], [3]]"'))
    assert "2 names" in errors_of(tmp_path, "odd")


def test_a_constant_may_not_take_a_parameters_name(tmp_path):
    path = lesson(tmp_path, "dup", '[params.n]\ntype = "int"\ndefault = 1\n[constants]\nn = 2\n', step("a", "true"))
    done = netlessons("validate", str(path))
    assert done.returncode == 2 and "constants.n" in done.stderr


def test_a_step_of_several_lines_runs_them_all_and_takes_the_last_status(tmp_path):
    """As docs/authoring.md says: every line runs; the last one's status is the step's."""
    lesson(tmp_path, "multi", "", '[[steps]]\nid = "a"\ntitle = "t"\nexplain = "e"\nrun = """false\necho second"""\n'
           + 'expect.output = ["second"]\n')
    done = netlessons("run", "multi", "--lessons-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


# --- the word type and the skeleton -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["podfw", "my-t.x", "A_b9"])
def test_word_accepts_safe_names(value):
    assert convert(Parameter("t", "word", "x"), value) == value


@pytest.mark.parametrize("value", ["1t", "a b", "a;b", "", "-x", "x" * 65, "a$b"])
def test_word_refuses_anything_else(value):
    with pytest.raises(ParameterError, match="word"):
        convert(Parameter("t", "word", "x"), value)


def test_word_is_a_type_of_the_loader_and_of_set(tmp_path):
    assert "word" in TYPES
    lesson(tmp_path, "w", '[params.table]\ntype = "word"\ndefault = "lab"\n', step("a", "echo {{ table }}"))
    done = netlessons("print", "w", "--lessons-dir", str(tmp_path), "--set", "table=1;x")
    assert done.returncode == 2 and "word" in done.stderr


def test_the_skeleton_declares_only_parameters_it_uses(tmp_path):
    path = write_skeleton("fresh", tmp_path)
    catalog = Catalog([tmp_path])
    done = render_lesson(catalog, catalog.get("fresh"))
    text = path.read_text()
    for p in done.parameters:
        assert len(re.findall(rf"{{{{[^}}]*\b{p.name}\b", text)) >= 1, p.name


def test_new_warns_when_the_id_shadows_a_built_in(tmp_path):
    assert "veth-pair" in shadowing_warning("veth-pair", tmp_path)
    assert shadowing_warning("my-own", tmp_path) == ""


# --- the new macros ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, command, feature", [
    ("{{ macvlan.add('c0', 'eth0', 'private', 'n1') }}",
     "ip netns exec n1 ip link add c0 link eth0 type macvlan mode private", "macvlan"),
    ("{{ ipvlan.add('c0', 'eth0', 'l3') }}", "ip link add c0 link eth0 type ipvlan mode l3", "ipvlan"),
    ("{{ vlan.add('eth0.10', 'eth0', 10) }}", "ip link add link eth0 name eth0.10 type vlan id 10", "vlan"),
    ("{{ dummy.add('svc0') }}", "ip link add svc0 type dummy", "dummy"),
    ("{{ bridge.vlan_filtering('br0') }}", "ip link set br0 type bridge vlan_filtering 1",
     "bridge_vlan_filtering"),
    ("{{ bridge.vlan_add('veth1', 10, pvid=true, untagged=true) }}",
     "bridge vlan add dev veth1 vid 10 pvid untagged", "bridge_vlan_filtering"),
    ("{{ nft.add_set('inet', 't', 's', 'ipv4_addr', 'interval') }}",
     "nft add set inet t s '{ type ipv4_addr ; flags interval ; }'", "nftables"),
    ("{{ nft.add_element('inet', 't', 's', ['10.0.0.1', '10.0.0.2']) }}",
     "nft add element inet t s '{ 10.0.0.1, 10.0.0.2 }'", "nftables"),
    ("{{ nft.insert_rule('inet', 't', 'c', ['ip', 'saddr', '@s', 'drop']) }}",
     "nft insert rule inet t c ip saddr @s drop", "nftables"),
])
def test_new_macros_write_their_command_and_declare_their_kernel_feature(source, command, feature):
    text, creates, needs = Renderer("").command(source, {})
    assert text == command
    assert f"kernel:{feature}" in needs


def test_new_link_macros_record_the_link_they_create():
    _, creates, _ = Renderer("").command("{{ vlan.add('eth0.10', 'eth0', 10, 'n1') }}", {})
    assert [(o.kind, o.name, o.netns) for o in creates] == [("link", "eth0.10", "n1")]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_reference()
        print(f"wrote the macro reference in {DOC}")
