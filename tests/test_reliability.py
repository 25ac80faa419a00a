"""Reliability suite: netlessons leaves nothing behind and never touches what it did not create.

Every host-mode run happens inside an outer throwaway namespace (tests.helpers.outer_namespace), where
tests/reliability_driver.py kills, interrupts and starves real netlessons processes and reports what it saw.
Sandbox runs compare this machine's own state before and after. docs/reliability.md lists what each test
injects and the figures it proved.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from netlessons import render
from netlessons.catalog import Catalog
from netlessons.cli import app
from netlessons.errors import ParameterError
from netlessons.lesson import Parameter
from netlessons.params import convert
from tests.helpers import ROOT, as_nobody, netlessons, outer_namespace, without_tools
from tests.reliability_driver import differences, full_state

# Outer namespaces (or sandbox runs) working at the same time in the heavier tests. One at a time when this
# project lives under /tmp: the driver cannot give each outer namespace a private /tmp then, and host-mode
# runs of two lessons would meet in the same pid files there.
PARALLEL = 1 if Path(__file__).resolve().is_relative_to("/tmp") else 3


def _lesson_rows() -> list[dict]:
    result = CliRunner().invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


LESSON_ROWS = _lesson_rows()
LESSON_IDS = [row["id"] for row in LESSON_ROWS]
_BRIDGE = render.render_lesson(Catalog.default(), Catalog.default().get("bridge-3ns"))
BRIDGE_BUILD_STEPS = len(_BRIDGE.steps)  # commands, as the live view shows one line each
BRIDGE_STEPS = BRIDGE_BUILD_STEPS + len(_BRIDGE.cleanup)  # its clean-up included


def driver(scenario: str, *args: str, timeout: float = 600) -> dict:
    """Run one scenario of tests/reliability_driver.py inside a fresh outer namespace."""
    argv = [sys.executable, "-m", "tests.reliability_driver", scenario, *args]
    result = outer_namespace(argv, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_parallel(call: Callable[[Any], Any], items: list) -> list:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(call, items))


def swept(scenario: str, steps: list[int]) -> list[dict]:
    """A scenario over many steps, split across PARALLEL outer namespaces at once; results in step order."""
    groups = [steps[i::PARALLEL] for i in range(PARALLEL) if steps[i::PARALLEL]]
    answers = in_parallel(lambda group: driver(scenario, ",".join(map(str, group))), groups)
    return sorted((r for answer in answers for r in answer["results"]), key=lambda r: r["step"])


def show(result: dict) -> str:
    return json.dumps(result, indent=1)[-4000:]


# --- 1. baseline: every lesson, every mode ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox_runs(ordinary_user_copy) -> dict:  # noqa: F811
    """Every built-in lesson in the sandbox, as root and as the ordinary user nobody, PARALLEL at a time,
    between two snapshots of this machine's state."""
    jobs = [(lesson, user) for lesson in LESSON_IDS for user in ("root", "nobody")]

    def run(job: tuple[str, str]) -> subprocess.CompletedProcess:
        lesson, user = job
        return netlessons("run", lesson) if user == "root" else as_nobody(ordinary_user_copy, "run", lesson)

    before = full_state()
    results = dict(zip(jobs, in_parallel(run, jobs), strict=True))
    return {"results": results, "changed": differences(before, full_state())}


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_sandbox_run_leaves_the_machine_as_it_was(sandbox_runs, lesson, user):
    """Pass: the lesson passes in the sandbox (as root, and as nobody through a user namespace), and this
    machine's links (ip -d -j), addresses, routes, namespaces, /run/netns, /etc/netns, nft ruleset,
    forwarding sysctls and ledger folder are identical before and after all these runs."""
    result = sandbox_runs["results"][(lesson, user)]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert sandbox_runs["changed"] == []


HOST_SPECS = LESSON_IDS + ["bridge-3ns:iproute2"]  # every lesson in its default flavor, the post's in both


@pytest.fixture(scope="module")
def host_runs() -> dict[str, dict]:
    """Each spec in an outer namespace of its own (so one lesson's leftovers never hide another's), PARALLEL
    namespaces at a time."""
    answers = in_parallel(lambda spec: driver("baseline", spec), HOST_SPECS)
    return {r["lesson"]: r for answer in answers for r in answer["results"]}


@pytest.mark.parametrize("spec", HOST_SPECS)
def test_host_run_leaves_the_outer_namespace_as_it_was(host_runs, spec):
    """Pass: in host mode (inside an outer namespace with a private /tmp and a writable layer over /etc),
    the lesson passes; the namespace's links, addresses, routes, namespaces and their links, /run/netns,
    nft ruleset, sysctls, ledger folder, every file under /tmp and every file written over /etc are identical
    before and after; no process is left."""
    result = host_runs[spec]
    assert result["rc"] == 0, result["out"]
    assert result["changed"] == [], f"changed {result['changed']}; files {result['files']}"
    assert result["strays"] == []


# --- 2. kill -9 -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_after_every_step_then_cleanup_restores_the_baseline():
    """Pass: for every step k = 1..36 of bridge-3ns in host mode, netlessons is killed with SIGKILL once the
    live view shows step k; the orphaned lab shell ends by itself (no stray process); `netlessons cleanup`
    succeeds, a second one prints "nothing to clean up", the state equals the baseline, and the bystanders
    (br9, nsX with a decoy veth1_1 inside) are byte-for-byte unchanged."""
    results = swept("kill", list(range(1, BRIDGE_STEPS + 1)))
    assert [r["step"] for r in results] == list(range(1, BRIDGE_STEPS + 1))
    for r in results:
        assert r["reached"], show(r)
        assert r["strays"] == [], show(r)
        assert r["first_rc"] == 0, show(r)
        assert r["second"].strip() == "nothing to clean up", show(r)
        assert r["changed"] == [] and r["bystanders_intact"], show(r)
    # Before the lesson's own clean-up steps, every kill did leave a lab behind: clean-up had work to do.
    building = [r for r in results if r["step"] <= BRIDGE_BUILD_STEPS]
    assert all("links" in r["left"] or "netns" in r["left"] for r in building)


@pytest.fixture(scope="module")
def kill_in_gap_after_shell() -> dict:
    return driver("kill_in_gap", "after-shell")


def test_kill_9_between_ledger_and_creation_is_cleaned_up(kill_in_gap_after_shell):
    """Pass: netlessons is killed while the ledger already names gate0/gate1 but the step's command (held
    by a gate file) has not created them. Once the orphaned lab shell finishes that command and exits on
    end-of-file, the objects exist, `cleanup` removes them, a second `cleanup` has nothing to do, and the
    state equals the baseline."""
    seen = kill_in_gap_after_shell
    assert seen["recorded"] and not seen["created_before_kill"], show(seen)
    assert seen["strays"] == [], show(seen)
    assert "links" in seen["left_after_shell"], show(seen)  # the orphan did create the pair after the kill
    assert "deleted link gate" in seen["cleanups"][0], show(seen)
    assert seen["cleanups"][1].strip() == "nothing to clean up"
    assert seen["changed"] == [] and seen["bystanders_intact"], show(seen)


def test_kill_9_then_immediate_cleanup_leaves_nothing():
    """Pass: as above, but `cleanup` runs straight after the kill, before the orphaned lab shell has finished
    its step; once that shell is gone, the state must still equal the baseline."""
    seen = driver("kill_in_gap", "at-once")
    assert seen["recorded"] and seen["strays"] == [], show(seen)
    assert seen["changed"] == [], show(seen)


# --- 3. Ctrl-C ----------------------------------------------------------------------------------------------

# Ctrl-C takes the same ledger clean-up path whatever the step, so every third step (and the last) will do.
SIGINT_STEPS = sorted({*range(1, BRIDGE_STEPS + 1, 3), BRIDGE_STEPS})


@pytest.mark.slow
def test_ctrl_c_after_a_step_removes_only_this_runs_objects():
    """Pass: for k = 1, 4, 7 ... 34 and 36 of bridge-3ns's 36 steps in host mode, SIGINT once step k shows:
    exit 130, the state (bystanders br9 and nsX included) equals the baseline without any further command,
    br9 and nsX are byte-for-byte unchanged, no process is left, and `cleanup` has nothing to do. After the
    last step the signal may land in the final ledger clean-up instead: then the ledger is left and
    `cleanup` finishes it."""
    results = swept("sigint", SIGINT_STEPS)
    assert [r["step"] for r in results] == SIGINT_STEPS
    for r in results:
        assert r["reached"] and r["strays"] == [] and r["bystanders_intact"], show(r)
        assert r["rc"] in ((0, 130) if r["step"] == BRIDGE_STEPS else (130,)), show(r)
        if r["step"] < BRIDGE_STEPS:
            assert "INTERRUPTED after" in r["tail"], show(r)
            assert r["changed"] == [], show(r)
            assert r["cleanup"].strip() == "nothing to clean up", show(r)
        else:
            assert r["changed"] in ([], ["ledgers"]), show(r)
        assert r["after_cleanup"] == [], show(r)


DOUBLE_SIGINT_STEPS = [1, 10, 22, 33]


@pytest.fixture(scope="module")
def double_sigint() -> list[dict]:
    return driver("double_sigint", ",".join(map(str, DOUBLE_SIGINT_STEPS)))["results"]


def test_second_ctrl_c_during_cleanup_leaves_a_ledger_that_cleanup_finishes(double_sigint):
    """Pass: a first SIGINT after step k starts the clean-up; a wrapper around `ip` holds its first
    `down`/`del` call, and a second SIGINT arrives right then. netlessons exits 130, its ledger is still on
    disk, `cleanup` removes the rest, a second `cleanup` has nothing to do, and the state (bystanders too)
    equals the baseline."""
    assert [r["step"] for r in double_sigint] == DOUBLE_SIGINT_STEPS
    for r in double_sigint:
        assert r["reached"] and r["held_in_cleanup"], show(r)
        assert r["rc"] == 130, show(r)
        assert '"kind"' in r["ledger_left"], show(r)
        assert r["strays"] == [], show(r)
        assert r["first"].startswith("bridge-3ns-") and "deleted" in r["first"], show(r)
        assert r["second"].strip() == "nothing to clean up", show(r)
        assert r["changed"] == [] and r["bystanders_intact"], show(r)


def test_interrupted_cleanup_tells_how_to_finish_it(double_sigint):
    """Pass: when the clean-up itself is interrupted, the message names `netlessons cleanup`."""
    for r in double_sigint:
        assert "netlessons cleanup" in r["tail"], show(r)


# --- 4. objects that exist before the run ----------------------------------------------------------------

NAMED_OBJECTS = ("br0", "veth1", "ns1")


def _owned_by_lessons(kinds: tuple[str, ...]) -> list[dict]:
    """(kind, name, lesson) for every object of these kinds a built-in lesson creates outside its own
    namespaces (links and namespaces, or files and folders)."""
    catalog = Catalog.default()
    cases = []
    for lesson in catalog.all():
        for owned in render.render_lesson(catalog, lesson).owned:
            if owned.kind in kinds and not owned.netns:
                cases.append({"kind": owned.kind, "name": owned.name, "lesson": lesson.id})
    return cases


def test_preexisting_objects_are_refused_before_any_change():
    """Pass: br0, veth1 and ns1, one at a time, are made beforehand (a bridge, a veth pair with peer
    peer-veth1, a namespace), and every built-in lesson that would create that object is run in host mode
    (bridge-3ns in both flavors): exit 3 with "exists already" and "nothing was changed", no step output,
    the object's `ip -d -j` output unchanged, the whole state unchanged, and the ledger folder empty."""
    cases = [c for c in _owned_by_lessons(("link", "netns")) if c["name"] in NAMED_OBJECTS]
    cases += [{**c, "flavor": "iproute2"} for c in cases if (c["lesson"], c["name"]) == ("bridge-3ns", "br0")]
    assert {c["name"] for c in cases} == set(NAMED_OBJECTS)
    results = driver("clash", json.dumps(cases))["results"]
    assert len(results) == len(cases)
    for r in results:
        assert r["rc"] == 3, show(r)
        assert "nothing was changed" in r["err"] and f"{r['name']} exists already" in r["err"], show(r)
        assert r["out"] == "", show(r)
        assert r["object_unchanged"] and r["changed"] == [] and r["ledger_dir"] == [], show(r)


def test_preexisting_files_are_refused_and_left_alone():
    """Pass: for every file or folder a built-in lesson writes, made beforehand with the user's own data in
    it: the host run exits 3 and the data is still there, unchanged."""
    cases = _owned_by_lessons(("file", "dir"))
    assert cases
    results = driver("file_clash", json.dumps(cases))["results"]
    for r in results:
        assert r["rc"] == 3 and r["after"] == r["before"], show(r)


# --- 5. runs at the same time -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs() -> dict:
    return driver("two_runs")


def test_second_run_of_a_kept_lab_is_refused_and_touches_nothing(two_runs):
    """Pass: bridge-3ns is kept with --keep; a second host run of it exits 3 naming the clashes ("exists
    already" / "belongs to another netlessons run"); the kept lab's links and namespaces are unchanged;
    `cleanup` then restores the baseline."""
    kept = two_runs["kept"]
    assert kept["rc"] == 0 and kept["second_rc"] == 3, show(kept)
    assert "exists already" in kept["second_err"], show(kept)
    assert "belongs to another netlessons run" in kept["second_err"], show(kept)
    assert _objects_only(kept["lab_untouched"]) == [], show(kept)
    assert "deleted namespace ns3" in kept["cleanup"] and kept["changed"] == [], show(kept)


def test_concurrent_runs_never_touch_each_other(two_runs):
    """Pass: a host run frozen (SIGSTOP) after step 5; a second run of the same lesson exits 3; a run with
    other names (br1, nt*, vt*) passes in full; neither changes the frozen run's links or namespaces;
    thawed, the first run passes all 36 steps; afterwards the state equals the baseline, no process left."""
    seen = two_runs["concurrent"]
    assert seen["same_rc"] == 3 and "refusing to run in host mode" in seen["same_err"], show(seen)
    assert _objects_only(seen["after_same"]) == [], show(seen)
    assert seen["other_rc"] == 0, show(seen)
    assert _objects_only(seen["after_other"]) == [], show(seen)
    assert seen["first_rc"] == 0, show(seen)
    assert "PASSED: all " in seen["first_out"] and f"{BRIDGE_STEPS} commands" in seen["first_out"], show(seen)
    assert seen["strays"] == [] and seen["changed"] == [], show(seen)


def _objects_only(changed: list[str]) -> list[str]:
    """Of the changed parts of a live lab, those that are objects. A bridge that is up gains its IPv6
    link-local address and route a moment later (duplicate address detection), whatever else happens."""
    return [key for key in changed if key not in ("addresses", "routes")]


def test_cleanup_leaves_a_running_lab_alone():
    """Pass: `netlessons cleanup` while a host run is alive (frozen after step 5) changes none of that run's
    objects; thawed, the run passes; afterwards the state equals the baseline."""
    seen = driver("cleanup_during_run")
    assert _objects_only(seen["touched"]) == [], show(seen)
    assert seen["first_rc"] == 0 and seen["changed"] == [], show(seen)


def test_ten_sandbox_runs_at_once_all_pass():
    """Pass: ten sandbox runs of bridge-3ns started together all exit 0 with 36 of 36 steps passed, and the
    machine's state is identical before and after."""
    before = full_state()
    processes = [subprocess.Popen([sys.executable, "-m", "netlessons", "run", "bridge-3ns", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for _ in range(10)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out[-2000:] + err
        report = json.loads(out)
        assert report["passed"] and len(report["steps"]) == BRIDGE_STEPS
    assert differences(before, full_state()) == []


# --- 6. the name rules against the kernel -----------------------------------------------------------------

class ScratchShell:
    """One bash in a fresh network + mount namespace with its own /run/netns, fed one command at a time."""

    MARK = "@@netlessons-scratch-done"

    def __init__(self) -> None:
        prefix = ["unshare", "--net", "--mount"]
        if os.geteuid() != 0:
            prefix += ["--user", "--map-root-user"]
        self.process = subprocess.Popen([*prefix, "bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        encoding="utf-8", errors="replace")
        status, out = self.run("mount -t tmpfs scratch /run && mkdir /run/netns")
        assert status == 0, out

    def run(self, command: str) -> tuple[int, str]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{{ {command}\n}} </dev/null 2>&1\necho \"{self.MARK} $?\"\n")
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.startswith(self.MARK):
                return int(line.split()[1]), "".join(lines)
            lines.append(line)
        raise RuntimeError("the scratch shell ended")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def scratch() -> Iterator[ScratchShell]:
    shell = ScratchShell()
    yield shell
    shell.close()


IFNAME = Parameter("x", "ifname", "a")
NSNAME = Parameter("x", "nsname", "a")
ODD_CHARACTERS = list("aZ09_.-%/:@ \t\n\"'$;&|*?!#~=+,\\") + ["é", "€", "ß", "😀", "\u00a0", "\u200b"]


def names(longest: int) -> st.SearchStrategy[str]:
    """Names of every sort: shaped like the rule (around its length limit), made of odd characters, any
    UTF-8 text, and good names with one odd character in them."""
    shaped = st.from_regex(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{longest + 1}}}", fullmatch=True)
    odd = st.sampled_from(ODD_CHARACTERS)
    return st.one_of(
        shaped, shaped, shaped,
        st.text(odd, max_size=longest + 3),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=longest + 3),
        st.builds(lambda a, c, b: a + c + b, shaped, odd, shaped),
    )


def _accepted(parameter: Parameter, name: str) -> bool:
    try:
        convert(parameter, name)
    except ParameterError:
        return False
    return True


IFNAME_EXAMPLES = 1000
RESERVED_BY_THE_KERNEL = {"all", "default"}  # names the kernel refuses for an interface
NSNAME_EXAMPLES = 600
# No example database (it would write .hypothesis/ in the repository), no deadline.
HYPOTHESIS: dict[str, Any] = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


def _links(scratch: ScratchShell) -> set[str]:
    status, out = scratch.run("ip -j link show")
    assert status == 0, out
    return {link["ifname"] for link in json.loads(out)}


@pytest.mark.slow
def test_every_accepted_interface_name_is_accepted_by_the_kernel(scratch):
    """Pass: for IFNAME_EXAMPLES generated names, whenever convert(ifname) accepts one, the kernel creates a
    bridge of exactly that name in a scratch namespace. `ip link add NAME type bridge` is tried first, and
    must leave a link of that name. Should ip misread an accepted name as one of its keywords (n, l, type,
    help ...), the stray link is removed, the name counted as misread, and the kernel asked with the explicit
    `ip link add name NAME type bridge`; the rule refuses such names, so none may be misread, and none of
    the kernel's reserved names ('all', 'default') may be accepted. At least a quarter of the names must be
    accepted, so the property is really exercised. In the end the namespace holds exactly the names made,
    and lo."""
    made: set[str] = set()
    misread: set[str] = set()
    counts: Counter = Counter()

    @settings(max_examples=IFNAME_EXAMPLES, **HYPOTHESIS)
    @given(names(15))
    def check(name: str) -> None:
        counts["tried"] += 1
        if not _accepted(IFNAME, name):
            return
        counts["accepted"] += 1
        if name in RESERVED_BY_THE_KERNEL:  # the rule refuses these; counted to prove it
            counts["reserved"] += 1
            return
        if name in made or name == "lo":  # lo is in every namespace already
            return
        q = shlex.quote(name)
        status, out = scratch.run(f"ip link add {q} type bridge && ip link show dev {q} >/dev/null")
        if status != 0:
            misread.add(name)
            for stray in _links(scratch) - made - {"lo"}:
                scratch.run(f"ip link del dev {shlex.quote(stray)}")
            status, out = scratch.run(f"ip link add name {q} type bridge && ip link show dev {q} >/dev/null")
        assert status == 0, f"the kernel refused {name!r}: {out}"
        made.add(name)  # left in place: deleting a bridge costs the kernel a grace period; the namespace goes

    check()
    print(f"\ninterface names: {counts['tried']} tried, {counts['accepted']} accepted, {len(made)} distinct "
          f"created, {counts['reserved']} reserved; misread by `ip link add NAME`: {sorted(misread)}")
    assert _links(scratch) == made | {"lo"}  # every name made, under its own name, and nothing else
    assert counts["accepted"] >= IFNAME_EXAMPLES // 4
    assert not misread and counts["reserved"] == 0


@pytest.mark.parametrize("name", sorted(RESERVED_BY_THE_KERNEL))
def test_names_the_kernel_reserves_are_refused_by_the_rule(scratch, name):
    """Pass: the kernel refuses `ip link add name NAME type bridge` (that holds), and so does the rule."""
    status, _ = scratch.run(f"ip link add name {name} type bridge")
    assert status != 0
    assert not _accepted(IFNAME, name)


@pytest.mark.parametrize("name", ["l", "n", "type", "help", "dev"])
def test_keyword_like_interface_names_are_refused(name):
    """Pass: a name that `ip link` would read as one of its keywords is refused by the rule, before anything
    runs: veth-pair with --set veth1=NAME exits 2 naming the keyword."""
    assert not _accepted(IFNAME, name)
    result = netlessons("run", "veth-pair", "--set", f"veth1={name}")
    assert result.returncode == 2 and "would read" in result.stderr, result.stderr


def test_keyword_like_bridge_name_leaves_nothing_in_host_mode():
    """Pass: bridge-3ns --host --flavor iproute2 --set br=n (inside the outer namespace) leaves the state
    as it was, whatever its exit code."""
    seen = driver("host_run", "bridge-3ns", "--flavor", "iproute2", "--set", "br=n")
    assert seen["changed"] == [], show(seen)


@pytest.mark.slow
def test_every_accepted_namespace_name_is_accepted_by_ip_netns(scratch):
    """Pass: for NSNAME_EXAMPLES generated names, whenever convert(nsname) accepts one, `ip netns add NAME`
    succeeds in the scratch namespace (own /run/netns) and `ip netns list` shows exactly that name. At least
    a quarter of the names must be accepted."""
    counts: Counter = Counter()

    @settings(max_examples=NSNAME_EXAMPLES, **HYPOTHESIS)
    @given(names(64))
    def check(name: str) -> None:
        counts["tried"] += 1
        if not _accepted(NSNAME, name):
            return
        counts["accepted"] += 1
        q = shlex.quote(name)
        status, out = scratch.run(f"ip netns add {q} && ip -j netns list && ip netns del {q}")
        assert status == 0, f"ip netns refused {name!r}: {out}"
        assert name in {item["name"] for item in json.loads(out)}

    check()
    print(f"\nnamespace names: {counts['tried']} tried, {counts['accepted']} accepted")
    assert counts["accepted"] >= NSNAME_EXAMPLES // 4


# (name, kind, accepted by netlessons, accepted by the kernel). The kernel's answer is asserted too, so the
# table shows where the rule is stricter on purpose (a leading '-' or '%d' the kernel would take).
FIXED_NAMES = [
    ("abcdefghijklmno", "link", True, True),  # 15 bytes: the longest interface name
    ("abcdefghijklmnop", "link", False, False),  # 16 bytes: no room for the closing NUL
    ("é" * 7 + "a", "link", False, True),  # 15 bytes of UTF-8: the kernel takes it, our rule is ASCII
    ("é" * 8, "link", False, False),  # multibyte, 16 bytes
    ("ab" + "€" * 5, "link", False, False),  # multibyte, 17 bytes
    (".", "link", False, False),
    ("..", "link", False, False),
    ("a/b", "link", False, False),
    ("a:b", "link", False, False),
    ("a b", "link", False, False),
    ("eth%d", "link", False, True),  # the kernel takes it as a template and names the link eth0
    ("-x", "link", False, True),  # ip reads a leading '-' as an option elsewhere
    ("n" * 64, "netns", True, True),
    ("n" * 65, "netns", False, True),
    (".", "netns", False, False),
    ("..", "netns", False, False),
    ("a/b", "netns", False, False),
    ("a b", "netns", False, True),
    ("a:b", "netns", False, True),
]


@pytest.mark.parametrize(("name", "kind", "ours", "kernel"), FIXED_NAMES,
                         ids=[f"{k}-{n[:12]!r}-{len(n.encode())}B" for n, k, _, _ in FIXED_NAMES])
def test_fixed_names_against_the_kernel(scratch, name, kind, ours, kernel):
    """Pass: netlessons accepts the name exactly when the table says; the kernel (ip link add NAME type
    bridge, or ip netns add NAME) accepts it exactly when the table says; nothing we accept is refused."""
    assert _accepted(IFNAME if kind == "link" else NSNAME, name) is ours
    q = shlex.quote(name)
    if kind == "link":
        status, out = scratch.run(f"ip link add {q} type bridge")
        scratch.run(f"ip link del {q} 2>/dev/null; ip link del eth0 2>/dev/null; true")
    else:
        status, out = scratch.run(f"ip netns add {q}")
        scratch.run(f"ip netns del {q} 2>/dev/null; true")
    assert (status == 0) is kernel, out


# --- 7. lesson-file fuzzing -------------------------------------------------------------------------------

FUZZ_SEED = 1729
MUTANTS = 180  # spread over the built-in lessons
RANDOM_LESSONS = 60
RANDOM_DOCUMENTS = 40
VALID_RUNS = 8  # files that stay valid are run in the sandbox, this many of them (only quick lessons)
QUICK_LESSONS = ("netns-basics", "veth-pair", "bridge-3ns")  # also the canary controls
REAL_PROCESS_SAMPLE = 12

LESSON_WORDS = ["id", "title", "summary", "prerequisites", "params", "steps", "cleanup", "flavors",
                "kubernetes", "type", "default", "help", "min", "max", "choices", "run", "explain", "expect",
                "foreach", "erratum", "timeout", "status", "output", "state", "wait", "every_round", "link",
                "netns", "bridge", "route", "sysctl", "port", "in", "absent", "up", "kind", "address", "mtu",
                "ports", "value", "titel", "stpes"]
ODD_VALUES = ['5', '-1', '0', '3.5', 'nan', 'inf', 'true', 'false', '""', '"x"', '[]', '[1, "a"]', '{}',
              '{ link = 5 }', '[{ link = 5 }]', '[{ netns = "" }]', '1979-05-27T07:32:00Z', '"ifname"',
              '"{{ nosuch }}"', '"{{ 1/0 }}"', '"{% if %}"', '"{{ netns.add(\'a b\') }}"', '"ping 10.0.0.1"',
              '"i in range(6000)"', '"i in 5"', '"failure"', '["brctl", "nope"]', '"\\u0000"', "'''x'''"]
TEMPLATE_SNIPPETS = ["{{ nosuch }}", "{{ 1/0 }}", "{% for %}", "{{ netns.nosuch() }}", "{{ host('x', 1) }}",
                     "{{ host(subnet, 999) }}", "{{ [1][5] }}", "{{ {}.x.y }}", "{{ 'a' | q }}",
                     "{{ ns1 ~ ';' }}",
                     "{{ netns.add('bad name') }}", "{{ veth.add('x' * 20, 'y') }}", "{{ '\\x00' }}",
                     "{{ range(200000) | list }}", "}}", "{{", "{#", "ping -q 1.1.1.1 ; "]


def _canaried(text: str, canary: Path) -> str:
    """Every command of the lesson first touches the canary: whatever runs leaves a trace."""
    return re.sub(r'^(run\s*=\s*)("""|")', lambda m: f"{m.group(1)}{m.group(2)}touch {canary}; ", text,
                  flags=re.MULTILINE)


def _assignment_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if re.match(r"^\s*[\w.-]+\s*=\s*\S", line)]


def mutate(rng: random.Random, text: str) -> bytes:
    """One to three random edits of a lesson file."""
    for _ in range(rng.randint(1, 3)):
        lines = text.splitlines()
        if not lines:
            break
        i, j = sorted(rng.randrange(len(lines)) for _ in range(2))
        assignments = _assignment_lines(lines) or [0]
        a, b = rng.choice(assignments), rng.choice(assignments)
        operation = rng.choice(["delete", "block", "duplicate", "swap", "swap-values", "value", "truncate",
                                "bytes", "char", "key", "template", "id"])
        if operation == "delete":
            del lines[i]
        elif operation == "block":
            del lines[i:min(j + 1, i + 15)]
        elif operation == "duplicate":
            lines.insert(j, lines[i])
        elif operation == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "swap-values" and "=" in lines[a] and "=" in lines[b]:
            (ka, _, va), (kb, _, vb) = lines[a].partition("="), lines[b].partition("=")
            lines[a], lines[b] = f"{ka}={vb}", f"{kb}={va}"
        elif operation == "value":
            lines[a] = lines[a].partition("=")[0] + "= " + rng.choice(ODD_VALUES)
        elif operation == "truncate":
            return text[:rng.randrange(len(text) + 1)].encode()
        elif operation == "bytes":
            data = bytearray(text.encode())
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            return bytes(data)
        elif operation == "char" and lines[i]:
            at = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:at] + rng.choice('[]{}="\'#\\\n,.') + lines[i][at + 1:]
        elif operation == "key":
            lines[a] = re.sub(r"^(\s*)[\w.-]+", r"\g<1>" + rng.choice(LESSON_WORDS), lines[a], count=1)
        elif operation == "template" and '"' in lines[a]:
            at = lines[a].index('"') + 1
            lines[a] = lines[a][:at] + rng.choice(TEMPLATE_SNIPPETS) + lines[a][at:]
        elif operation == "id":
            lines = [re.sub(r'^id = ".*"', f'id = "{rng.choice(["other", "Bad Id", "", "veth-pair"])}"', line)
                     for line in lines]
        text = "\n".join(lines) + "\n"
    return text.encode()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # TOML spells nan, inf and -inf as Python does
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def to_toml(document: dict) -> str:
    """A small TOML writer: scalars and inline values first, then tables, then arrays of tables."""
    head, tables = [], []
    for key, value in document.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"\n[[{key}]]\n" + "".join(f"{json.dumps(k)} = {_toml_value(v)}\n"
                                                          for k, v in item.items()))
        elif isinstance(value, dict) and key == "params":
            for name, table in value.items():
                body = "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in table.items()) \
                    if isinstance(table, dict) else ""
                tables.append(f"\n[params.{json.dumps(name)}]\n{body}")
        else:
            head.append(f"{json.dumps(key)} = {_toml_value(value)}\n")
    return "".join(head) + "".join(tables)


def _random_scalar(rng: random.Random) -> Any:
    return rng.choice([rng.randint(-5, 300), rng.random() * 100, rng.choice([True, False]), "",
                       "".join(rng.choices(ODD_CHARACTERS + list("abcdefgh"), k=rng.randint(1, 12))),
                       rng.choice(TEMPLATE_SNIPPETS), float("nan"), float("inf")])


def _random_any(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return [_random_any(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and roll < 0.3:
        return {rng.choice(LESSON_WORDS): _random_any(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return _random_scalar(rng)


PLAUSIBLE_RUNS = ["{{ netns.add('fz1') }}", "{{ link.show() }}", "{{ ping.ping('127.0.0.1') }}", "true",
                  "{{ veth.add('fza', 'fzb') }}", "{{ link.up('lo') }}", "{{ netns.list() }}", "echo {{ p }}",
                  "{{ addr.add(host(subnet, 1), 'lo') }}", "{{ sysctl.get('net.ipv4.ip_forward') }}",
                  "{{ netns.add(p) }}", "ip link show {{ p }}"]
PLAUSIBLE_CHECKS = [{"netns": "fz1"}, {"link": "lo", "up": True}, {"netns": "fz1", "absent": True},
                    {"link": "fza", "kind": "veth"}, {"bridge": "br0", "ports": 0}, {"route": "default"},
                    {"sysctl": "net.ipv4.ip_forward", "value": "0"}, {"port": 80, "absent": True}]


def random_lesson(rng: random.Random, lesson_id: str, canary: Path) -> dict:
    """A lesson that is mostly well-formed, with random holes and wrong types."""
    def maybe(value: Any) -> Any:
        return _random_any(rng) if rng.random() < 0.1 else value

    params = {}
    for name in rng.sample(["p", "subnet", "n", "mode"], rng.randint(0, 3)):
        kind = rng.choice(["ifname", "nsname", "ipv4", "ipv4-interface", "subnet", "int", "choice", "text"])
        default = {"ifname": "fzx", "nsname": "fzn", "ipv4": "10.1.0.1", "ipv4-interface": "10.1.0.1/24",
                   "subnet": "10.1.0.0/24", "int": 3, "choice": "a", "text": "t"}[kind]
        table = {"type": maybe(kind), "default": maybe(default)}
        if kind == "choice":
            table["choices"] = maybe(["a", "b"])
        if kind == "int" and rng.random() < 0.5:
            table.update(min=maybe(1), max=maybe(9))
        params[name] = table
    steps = []
    for number in range(rng.randint(0, 4)):
        command = f"touch {canary}; " + rng.choice(PLAUSIBLE_RUNS)
        step: dict[str, Any] = {"id": maybe(f"s{number}"), "title": maybe("Step {{ i }}"),
                                "explain": maybe("why"), "run": maybe(command)}
        if rng.random() < 0.3:
            step["foreach"] = maybe(rng.choice(["i in range(2)", "i in [1, 2]", "i in range(1, 3); j in [0]",
                                                "x in [nosuch]"]))
        if rng.random() < 0.5:
            checks = [dict(c) for c in rng.sample(PLAUSIBLE_CHECKS, rng.randint(1, 2))]
            step["expect"] = maybe({"state": checks, "status": maybe(0), "wait": maybe(0.5)})
        if rng.random() < 0.2:
            step["timeout"] = maybe(rng.choice([5, 0, 700, -1]))
        for key in rng.sample(sorted(step), rng.randint(0, 1)):
            del step[key]
        steps.append(step)
    document: dict[str, Any] = {"id": maybe(lesson_id), "title": maybe("A random lesson"),
                                "summary": maybe("Fuzz.")}
    if rng.random() < 0.3:
        document["prerequisites"] = maybe(rng.choice([["netns-basics"], ["nosuch"], [lesson_id]]))
    if rng.random() < 0.3:
        document["flavors"] = maybe(rng.choice([["brctl", "iproute2"], ["iproute2"], ["other"]]))
    if params:
        document["params"] = params
    document["steps"] = steps
    if rng.random() < 0.3:
        document["cleanup"] = [{"id": "del", "title": "t", "explain": "e", "run": f"touch {canary}; true"}]
    if rng.random() < 0.2:
        document[rng.choice(LESSON_WORDS)] = _random_any(rng)
    return document


def random_document(rng: random.Random) -> str:
    """Any TOML at all, with the lesson vocabulary for keys."""
    document = {rng.choice(LESSON_WORDS): _random_any(rng) for _ in range(rng.randint(0, 6))}
    if rng.random() < 0.5:
        document["steps"] = [{rng.choice(LESSON_WORDS): _random_any(rng) for _ in range(rng.randint(0, 5))}
                             for _ in range(rng.randint(1, 3))]
    return to_toml(document)


@dataclass
class FuzzFile:
    path: Path
    origin: str  # "mutant of bridge-3ns", "random lesson", "random TOML", "canary control"
    valid: bool | None = None  # what `validate` said

    @property
    def lesson_id(self) -> str:
        return self.path.stem


@dataclass
class Problem:
    file: FuzzFile
    command: str
    what: str
    known_bug: str = ""  # the name of an already reported bug it matches, if any


@dataclass
class FuzzReport:
    files: list[FuzzFile]
    problems: list[Problem]
    counts: Counter
    real_process: int


# Crashes the fuzzer finds that are already reported and not yet fixed; the fuzz test sets them aside and
# counts them. Every one found so far has been fixed, each with a test of its own below.
KNOWN_BUGS: dict[str, Callable[[str], bool]] = {}  # none left: each one found here was fixed


def known_bug(formatted_traceback: str) -> str:
    return next((name for name, matches in KNOWN_BUGS.items() if matches(formatted_traceback)), "")


def build_corpus(folder: Path, canary: Path) -> list[FuzzFile]:
    rng = random.Random(FUZZ_SEED)
    files: list[FuzzFile] = []

    def add(lesson_id: str, data: bytes, origin: str) -> None:
        where = folder / f"{len(files):04d}"
        where.mkdir()
        path = where / f"{lesson_id}.toml"
        path.write_bytes(data)
        files.append(FuzzFile(path, origin))

    bases = {lesson_id: _canaried((ROOT / "lessons" / f"{lesson_id}.toml").read_text(), canary)
             for lesson_id in LESSON_IDS}
    for lesson_id in QUICK_LESSONS:
        add(lesson_id, bases[lesson_id].encode(), "canary control")
    for number in range(MUTANTS):
        lesson_id = LESSON_IDS[number % len(LESSON_IDS)]
        add(lesson_id, mutate(rng, bases[lesson_id]), f"mutant of {lesson_id}")
    for number in range(RANDOM_LESSONS):
        lesson_id = f"fuzz-{number}"
        add(lesson_id, to_toml(random_lesson(rng, lesson_id, canary)).encode(), "random lesson")
    for number in range(RANDOM_DOCUMENTS):
        add(f"toml-{number}", random_document(rng).encode(), "random TOML")
    return files


UNSHARE_WRAPPER = """#!/bin/sh
# Stands in for unshare: records that a sandbox was started, then starts it.
: > {canary}
exec {unshare} "$@"
"""


@pytest.fixture(scope="module")
def fuzz_report(tmp_path_factory) -> Iterator[FuzzReport]:
    marks = Path(tempfile.mkdtemp(prefix="netlessons-canary-", dir="/var/tmp"))  # seen from inside a sandbox
    try:
        yield fuzz(tmp_path_factory.mktemp("fuzz"), marks)
    finally:
        shutil.rmtree(marks, ignore_errors=True)


def fuzz(folder: Path, marks: Path) -> FuzzReport:
    """Build the corpus and put every file through the CLI; collect what went wrong."""
    marks.chmod(0o777)
    canary, unshare_canary = marks / "ran", marks / "sandbox-started"
    wrappers = folder / "bin"
    wrappers.mkdir()
    (wrappers / "unshare").write_text(UNSHARE_WRAPPER.format(canary=unshare_canary,
                                                             unshare=shutil.which("unshare")))
    (wrappers / "unshare").chmod(0o755)
    env = {"PATH": f"{wrappers}:{os.environ.get('PATH', '/usr/bin:/bin')}", "NETLESSONS_CACHE_DIR": ""}
    files = build_corpus(folder, canary)
    problems: list[Problem] = []
    counts: Counter = Counter()

    def clear_marks() -> None:
        canary.unlink(missing_ok=True)
        unshare_canary.unlink(missing_ok=True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "_renderers", {})  # fresh renderers that see NETLESSONS_CACHE_DIR=""
        runner = CliRunner()
        for item in files:
            commands = [["validate", str(item.path)]]
            commands += [[verb, item.lesson_id, "--lessons-dir", str(item.path.parent)]
                         for verb in ("print", "explain", "run")]
            valid = None
            for argv in commands:
                if argv[0] == "run" and valid and item.origin != "canary control" and (
                        counts["valid runs"] >= VALID_RUNS or not _quick(item)):
                    continue
                result = runner.invoke(app, argv, env=env)
                counts[argv[0]] += 1
                problem = judge(item, argv[0], result, valid)
                if problem:
                    problems.append(problem)
                if argv[0] == "validate":
                    valid = item.valid = result.exit_code == 0
                    counts["valid" if valid else "invalid"] += 1
                if argv[0] == "run" and valid:
                    if item.origin == "canary control":
                        counts["controls that left both marks"] += canary.exists() and unshare_canary.exists()
                    else:
                        counts["valid runs"] += 1
                    clear_marks()
                elif canary.exists() or unshare_canary.exists():
                    problems.append(Problem(item, argv[0], "something ran, not for `run` of a valid file"))
                    clear_marks()
    fuzzed = [f for f in files if f.origin != "canary control"]
    real = _real_process_sample(fuzzed, env, canary, unshare_canary, problems)
    return FuzzReport(files, problems, counts, real)


def _quick(item: FuzzFile) -> bool:
    """A file whose run in the sandbox takes about a second: a mutant of a short lesson, or a random one."""
    return item.origin in ("random lesson", "random TOML") or item.lesson_id in QUICK_LESSONS


def judge(item: FuzzFile, verb: str, result: Any, valid: bool | None) -> Problem | None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text = "".join(traceback.format_exception(*result.exc_info))
        return Problem(item, verb, f"raised {text[-1500:]}", known_bug=known_bug(text))
    code, stderr = result.exit_code, result.stderr
    if "Traceback" in result.output:
        return Problem(item, verb, "printed a traceback")
    allowed = {0, 2}
    if verb == "run" and valid:
        allowed = {0, 1}  # a valid but altered lesson may fail its own checks
    if code not in allowed:
        return Problem(item, verb, f"exit {code}: {stderr[-500:]}")
    if code == 2 and str(item.path) not in stderr:
        return Problem(item, verb, f"the message does not name the file: {stderr[-500:]}")
    if verb != "validate" and valid is False and code == 0 and item.origin != "canary control":
        # validate renders every flavor; print/explain render one. Only a flavor-specific fault may pass here.
        flavors = re.search(rb"^flavors\s*=", item.path.read_bytes(), re.MULTILINE)
        if not flavors:
            return Problem(item, verb, "exit 0 although validate refused the file")
    return None


def _real_process_sample(files: list[FuzzFile], env: dict, canary: Path, unshare_canary: Path,
                         problems: list[Problem]) -> int:
    """A sample of refused files through a real `python -m netlessons run`, the unshare canary on PATH."""
    refused = [f for f in files if f.valid is False]
    sample = random.Random(FUZZ_SEED).sample(refused, min(REAL_PROCESS_SAMPLE, len(refused)))
    for item in sample:
        result = netlessons("run", item.lesson_id, "--lessons-dir", str(item.path.parent), env=env)
        output = result.stdout + result.stderr
        if result.returncode != 2 or "Traceback" in output or str(item.path) not in result.stderr:
            problems.append(Problem(item, "real run", f"exit {result.returncode}: {output[-800:]}"))
        if canary.exists() or unshare_canary.exists():
            problems.append(Problem(item, "real run", "something ran for a lesson file validate refused"))
    return len(sample)


def _describe(problems: list[Problem]) -> str:
    return "\n\n".join(f"{p.file.path} ({p.file.origin}) {p.command}: {p.what}" for p in problems[:5])


@pytest.mark.slow
def test_fuzzed_lesson_files_never_crash_and_never_run(fuzz_report):
    """Pass: every fuzzed file (mutants of the built-in lessons, random lessons, random TOML) goes through
    validate, print, explain and run in-process (run reaches the sandbox for at most VALID_RUNS valid files
    of quick lessons): never a traceback; exit 2 with a message naming the file, or 0 when the file is valid
    (1 allowed for `run` of a valid file); for a file validate refuses, neither the canary command nor
    `unshare` ever ran. Controls: the unmutated canaried lessons do leave both marks when run. A sample of
    refused files also goes through a real `python -m netlessons run`. Crashes matching KNOWN_BUGS are set
    aside and counted."""
    report = fuzz_report
    problems = [p for p in report.problems if not p.known_bug]
    known = Counter(p.known_bug for p in report.problems if p.known_bug)
    print(f"\nfuzzed {len(report.files)} files: {dict(report.counts)}; {report.real_process} through real "
          f"processes; known bugs hit: {dict(known)}")
    assert problems == [], _describe(problems)
    assert report.counts["controls that left both marks"] == len(QUICK_LESSONS)
    assert report.counts["invalid"] >= 200 and report.counts["valid"] >= len(QUICK_LESSONS)
    assert report.real_process == REAL_PROCESS_SAMPLE


def _refused_cleanly(folder: Path, lesson_text: str) -> None:
    """validate, print, explain and run of this one file: each exits 2 naming the file, never a traceback."""
    path = folder / "bad.toml"
    path.write_text('id = "bad"\ntitle = "t"\nsummary = "s"\n' + lesson_text)
    runner = CliRunner()
    for argv in (["validate", str(path)], *([verb, "bad", "--lessons-dir", str(folder)]
                                             for verb in ("print", "explain", "run"))):
        result = runner.invoke(app, argv)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, (argv, result.output)
        assert "bad.toml" in result.stderr, (argv, result.stderr)


ONE_STEP = '\n[[steps]]\nid = "a"\ntitle = "a"\nexplain = "e"\nrun = "true"\n'


@pytest.mark.parametrize("kind", ['["ifname"]', "{ a = 1 }"])
def test_a_parameter_type_that_is_not_a_string_is_refused(tmp_path, kind):
    """Pass: `type = [...]` or `type = {...}` in [params.x] is refused with exit 2 by every command."""
    _refused_cleanly(tmp_path, f'\n[params.x]\ntype = {kind}\ndefault = "a"\n' + ONE_STEP)


def test_a_foreach_over_an_undefined_name_is_refused(tmp_path):
    """Pass: `foreach = "x in [nosuch]"` is refused with exit 2 by every command."""
    _refused_cleanly(tmp_path, ONE_STEP + 'foreach = "x in [nosuch]"\n')


BAD_STATE_CHECKS = {
    "sysctl-without-value": '{ sysctl = "net.ipv4.ip_forward" }',
    "link-is-a-number": "{ link = 5 }",
    "port-is-text": '{ port = "http" }',
    "in-is-a-list": '{ link = "lo", in = ["ns1"] }',
}


@pytest.mark.parametrize("check", list(BAD_STATE_CHECKS.values()), ids=list(BAD_STATE_CHECKS))
def test_state_checks_of_the_wrong_type_are_refused_by_validate(tmp_path, check):
    """Pass: validate exits 2 naming the file, and explain and run exit 2 without a traceback."""
    path = tmp_path / "bad-check.toml"
    path.write_text('id = "bad-check"\ntitle = "t"\nsummary = "s"\n\n[[steps]]\nid = "a"\ntitle = "a"\n'
                    f'explain = "e"\nrun = "true"\nexpect.state = [{check}]\n')
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", str(path)])
    assert validated.exit_code == 2 and "bad-check.toml" in validated.stderr
    for verb in ("explain", "run"):
        result = runner.invoke(app, [verb, "bad-check", "--lessons-dir", str(tmp_path)])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output


# --- 8. asynchronous deletion ---------------------------------------------------------------------------

ROUNDS = 200
RECREATE_LESSON = f'''id = "recreate"
title = "The same names, {ROUNDS} times"
summary = "A namespace and a veth pair with one end inside, deleted with the namespace, made again at once."

[[steps]]
id = "cycle"
title = "Round {{{{ i }}}}"
foreach = "i in range({ROUNDS})"
explain = """The namespace takes its end of the pair with it, and the kernel removes the other end a moment
later. The state checks wait for that, so the next round can use the same names."""
run = """test ! -e /run/netns/cyc && {{{{ netns.add('cyc') }}}} && {{{{ veth.add('cyc0', 'cyc1') }}}} && \\
{{{{ link.to_netns('cyc1', 'cyc') }}}} && {{{{ netns.delete('cyc') }}}}"""
expect.state = [
  {{ netns = "cyc", absent = true }}, {{ link = "cyc0", absent = true }}, {{ link = "cyc1", absent = true }},
]

[[steps]]
id = "nothing-left"
title = "No namespace file is left"
explain = "Every round removed its namespace file."
run = "test -z \\"$(ls -A /run/netns)\\" && ! ip link show cyc0"
'''


@pytest.mark.slow
def test_recreating_the_same_names_200_times_never_clashes(tmp_path):
    """Pass: a lesson whose step, looped 200 times with foreach, creates a namespace and a veth pair with
    one end inside, deletes the namespace and (in the next round) recreates the same names, run by netlessons
    in the sandbox: all 200 rounds pass (their state checks wait until the kernel has removed the pair), no
    output says "File exists", and no /run/netns entry is left."""
    (tmp_path / "recreate.toml").write_text(RECREATE_LESSON)
    result = netlessons("run", "recreate", "--lessons-dir", str(tmp_path), "--json", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    steps = json.loads(result.stdout)["steps"]
    rounds = [s for s in steps if s["id"].startswith("cycle-")]
    assert len(rounds) == ROUNDS and all(s["passed"] for s in steps)
    assert not any("File exists" in s["stdout"] + s["stderr"] for s in steps)


# --- 9. real faults -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faults() -> dict:
    return driver("faults")["results"]


@pytest.mark.parametrize(("tool", "package"),
                         [("brctl", "bridge-utils"), ("ip", "iproute2"), ("ping", "iputils-ping")])
def test_missing_tool_in_host_mode_exits_3_and_changes_nothing(faults, tool, package):
    """Pass: with the tool covered by /dev/null (a private mount namespace), the host run exits 3 naming the
    tool and its package, prints no step, and the state (ledger folder included) is unchanged."""
    seen = faults[f"no-{tool}"]
    assert seen["rc"] == 3, show(seen)
    assert f"missing tools: {tool}" in seen["err"] and package in seen["err"], show(seen)
    assert seen["out"] == "" and seen["changed"] == [], show(seen)


def test_missing_ip_in_the_sandbox_exits_3():
    """Pass: with `ip` hidden, a sandbox run exits 3 naming ip and iproute2, with no traceback."""
    result = without_tools(["ip"], "run", "netns-basics")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "missing tools: ip" in result.stderr and "iproute2" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("lesson", ["netns-basics", "bridge-3ns"])
def test_read_only_run_netns_in_host_mode_leaves_nothing(faults, lesson):
    """Pass: with a read-only tmpfs on /run/netns, the host run refuses before its first step, the message
    says /run/netns is not writable, and the state equals the baseline."""
    seen = faults[f"readonly-netns-{lesson}"]
    assert seen["rc"] != 0 and "/run/netns is not writable" in seen["out"] + seen["err"], show(seen)
    assert seen["changed"] == [], show(seen)


@pytest.mark.parametrize("lesson", ["netns-basics", "bridge-3ns"])
def test_read_only_run_netns_in_host_mode_exits_3_before_any_change(faults, lesson):
    """Pass: exit 3 and no step ran."""
    seen = faults[f"readonly-netns-{lesson}"]
    assert seen["rc"] == 3 and not re.search(r"^\[", seen["out"], re.M), show(seen)


def test_full_disk_for_the_ledger_at_start_exits_3_and_changes_nothing(faults):
    """Pass: NETLESSONS_STATE_DIR on a full one-page tmpfs: exit 3 with "cannot write the ownership ledger"
    and "No space left on device"; no step ran and the network state is unchanged."""
    seen = faults["ledger-full-at-start"]
    assert seen["rc"] == 3, show(seen)
    assert "cannot write the ownership ledger" in seen["err"] and "No space left on device" in seen["err"]
    assert seen["out"] == "" and seen["changed"] == [], show(seen)


def test_full_disk_for_the_ledger_at_start_leaves_no_ledger_file(faults):
    """Pass: the state folder holds nothing but the filler afterwards."""
    assert faults["ledger-full-at-start"]["files"] == []


def test_full_disk_for_the_ledger_mid_run_exits_3_and_removes_what_it_made(faults):
    """Pass: NETLESSONS_STATE_DIR on an empty three-page tmpfs and a lesson that creates 60 veth pairs: its
    claims fit, then the records of what each step made fill the ledger part way (after more than 10 pairs
    were made), the run exits 3 with "cannot write the
    ownership ledger", every pair made so far is removed, the ledger file is gone, and the state equals the
    baseline."""
    seen = faults["ledger-full-mid-run"]
    assert seen["rc"] == 3 and "cannot write the ownership ledger" in seen["err"], show(seen)
    assert 10 < seen["steps_passed"] < 60, show(seen)
    assert seen["files"] == [] and seen["changed"] == [], show(seen)
