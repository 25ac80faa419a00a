"""scripts/setup.sh installs every program the lessons and the tests call, and needs no sudo when it has nothing
to install.

The README's test command must pass on a new machine. A program that happens to be on the machine the suite
was written on, but that the set-up does not install, breaks that promise without failing anywhere else. So
each program is traced to where it comes from: the test environment's own bin folder (pip), or a Debian
package that `scripts/setup.sh --test` installs (or that every Debian system has: priority "required").
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest

from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from netlessons.tools import TOOL_PACKAGES, package_for
from tests.helpers import ROOT, VENV_BIN

SETUP = ROOT / "scripts" / "setup.sh"
# A new machine's PATH, with no /usr/local and no venv: what the lessons find there is what they can count on.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# Programs the tests run, with the Debian package each comes from ("venv" when pip installs it with the test
# extras). Most are found in the tests' code by test_every_program_the_tests_call_is_listed; those started
# inside `bash -c` strings are named here by hand.
TEST_PROGRAMS = {
    "bash": "bash", "ip": "iproute2", "unshare": "util-linux", "setpriv": "util-linux", "nsenter": "util-linux",
    "mount": "mount", "umount": "mount", "mkdir": "coreutils", "chmod": "coreutils", "rm": "coreutils",
    "dd": "coreutils", "nft": "nftables", "iptables": "iptables", "chromium": "chromium", "tmux": "tmux",
    "tcpdump": "tcpdump", "dot": "graphviz", "brctl": "bridge-utils", "dpkg-query": "dpkg", "shellcheck": "venv",
    "pdftotext": "poppler-utils",
}
# Words of the shell's own language that a command given to a lab shell may start with: no program.
SHELL_WORDS = {"for", "if", "while", "until", "case", "test", "[", "{", "(", "!", "export", "cd", "echo", "printf"}
# Another name a test tries for the same program (Ubuntu's older package), not a program of its own.
ALIASES = {"chromium-browser": "chromium"}
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call", "which", "program", "run_once"}
DPKG = shutil.which("dpkg-query") is not None
needs_dpkg = pytest.mark.skipif(not DPKG, reason="scripts/setup.sh is for Debian and Ubuntu (dpkg)")


def setup_packages(*flags: str) -> list[str]:
    result = subprocess.run(["bash", str(SETUP), "--list-packages", *flags], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@cache
def _dpkg(*args: str) -> str | None:
    result = subprocess.run(["dpkg-query", *args], capture_output=True, text=True, timeout=30)
    return result.stdout if result.returncode == 0 else None


def package_of_file(path: str) -> str | None:
    """The installed package that owns a file, trying the names merged-/usr systems give it."""
    real = os.path.realpath(path)
    for candidate in dict.fromkeys([path, real, *(re.sub(r"^/usr/", "/", p) for p in (path, real)),
                                    *("/usr" + p for p in (path, real) if not p.startswith("/usr/"))]):
        owner = _dpkg("-S", candidate)
        if owner:
            return owner.split(":", 1)[0].split(",")[0].strip()
    return None


def installed_closure(packages: list[str]) -> set[str]:
    """The packages, and every installed package they depend on (what `apt-get install` of them brings)."""
    seen: set[str] = set()
    todo = list(packages)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        fields = _dpkg("-W", "-f=${Depends}, ${Pre-Depends}", name) or ""
        for clause in fields.split(","):
            for alternative in clause.split("|"):
                dep = alternative.strip().split(" ", 1)[0].split(":", 1)[0]
                if dep and _dpkg("-W", "-f=${Status}", dep) and "ok installed" in _dpkg("-W", "-f=${Status}", dep):
                    todo.append(dep)
    return seen


def always_there(package: str) -> bool:
    """Every Debian system has the packages of priority "required" (debootstrap's minimal base)."""
    return (_dpkg("-W", "-f=${Priority}", package) or "").strip() == "required"


def lesson_programs() -> dict[str, str]:
    """Every program a built-in lesson says it needs, in every flavor, with the first lesson that needs it."""
    catalog = Catalog([ROOT / "lessons"])
    found: dict[str, str] = {}
    for lesson in catalog.all():
        for flavor in lesson.flavors or (None,):
            for tool in render_lesson(catalog, lesson, flavor=flavor).needs:
                if not tool.startswith("kernel:"):
                    found.setdefault(tool, f"{lesson.id} ({flavor or 'default'} flavor)")
    return found


def _first_word(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return node.value.split()[0]
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        return _first_word(node.elts[0])
    return None


def programs_in_tests() -> dict[str, str]:
    """Programs the tests' code starts: the first word of what it hands to subprocess (and to which/program),
    and argv prefixes kept in a variable (`prefix = ["unshare", "--net"]`)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            words: list[str | None] = []
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in SUBPROCESS_CALLS:
                    words.append(_first_word(node.args[0]))
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and re.search(r"prefix|argv|cmd|command", t.id) for t in node.targets):
                values = [node.value.body, node.value.orelse] if isinstance(node.value, ast.IfExp) else [node.value]
                words += [_first_word(v) for v in values if isinstance(v, (ast.List, ast.Tuple)) and len(v.elts) > 1
                          and isinstance(v.elts[1], ast.Constant) and str(v.elts[1].value).startswith("-")]
            for word in words:
                if word and re.fullmatch(r"[a-z][a-z0-9.+_-]*", word) and word not in SHELL_WORDS:
                    found.setdefault(ALIASES.get(word, word), f"{path.name}:{node.lineno}")
    return found


def test_the_package_list_follows_the_options():
    base = setup_packages()
    with_tests = setup_packages("--test")
    assert {"iproute2", "tcpdump", "graphviz"} <= set(base)
    assert set(base) < set(with_tests) and {"chromium", "tmux"} <= set(with_tests) - set(base)
    assert "mininet" in set(setup_packages("--bench")) - set(base)
    assert "mininet" not in with_tests


def test_a_bad_option_is_refused():
    result = subprocess.run(["bash", str(SETUP), "--tset"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--tset" in result.stderr and "--no-apt" in result.stderr


def test_every_program_the_tests_call_is_listed():
    """A test that starts a new program must name its package in TEST_PROGRAMS, which the next test checks
    against setup.sh. (If this finds a word that is no program, the scan above needs to learn better.)"""
    unlisted = {word: where for word, where in programs_in_tests().items() if word not in TEST_PROGRAMS}
    assert not unlisted, f"the tests call programs TEST_PROGRAMS does not name: {unlisted}"


def test_the_scan_finds_what_the_tests_call():
    """The scan is real: it finds programs the tests are known to start, both ways they start them."""
    found = programs_in_tests()
    assert {"unshare", "setpriv", "ip", "shellcheck", "chromium", "mount"} <= set(found)


def test_every_lesson_tool_has_a_package_in_the_runner_table():
    """doctor and `list` name a tool's package from tools.TOOL_PACKAGES; a tool it does not know would be
    shown as its own package name, which may not exist."""
    plugin_dirs = [prefix for prefix in TOOL_PACKAGES if prefix.startswith("/")]
    unknown = {tool: where for tool, where in lesson_programs().items()
               if tool not in TOOL_PACKAGES and not any(tool.startswith(d) for d in plugin_dirs)}
    assert not unknown, f"tools.TOOL_PACKAGES lacks: {unknown}"


@needs_dpkg
def test_setup_installs_every_program_of_the_lessons():
    packages = installed_closure(setup_packages())
    problems = []
    for tool, where in lesson_programs().items():
        path = tool if tool.startswith("/") else shutil.which(tool, path=SYSTEM_PATH)
        expected = package_for(tool)
        if path is None or not os.path.exists(path):
            if expected not in setup_packages():
                problems.append(f"{tool} (needed by {where}) is not here, and setup.sh does not install {expected}")
            continue
        owner = package_of_file(path)
        if owner is None:
            problems.append(f"{tool} (needed by {where}) is {path}, which no Debian package installed")
        elif owner not in packages and not always_there(owner):
            problems.append(f"{tool} (needed by {where}) comes from {owner}, which setup.sh does not install")
        elif owner not in installed_closure([expected]):
            problems.append(f"tools.TOOL_PACKAGES says {tool} is in {expected}, dpkg says {owner}")
    assert not problems, "\n".join(problems)


@needs_dpkg
def test_setup_with_test_installs_every_program_of_the_tests():
    listed = setup_packages("--test")
    packages = installed_closure(listed)
    problems = []
    for program, package in TEST_PROGRAMS.items():
        if package == "venv":
            if shutil.which(program, path=str(VENV_BIN)) is None:
                problems.append(f"{program} is not in {VENV_BIN}: pip's test extras must install it")
            continue
        path = shutil.which(program, path=SYSTEM_PATH)
        if path is None:
            if package not in listed and not always_there(package):
                problems.append(f"{program} is not here, and setup.sh --test does not install {package}")
            continue
        owner = package_of_file(path)
        if owner is None:
            problems.append(f"{program} is {path}, which no Debian package installed")
            continue
        if owner not in packages and not always_there(owner):
            problems.append(f"{program} comes from {owner}, which setup.sh --test does not install")
        if owner != package:
            problems.append(f"TEST_PROGRAMS says {program} is in {package}, dpkg says {owner}")
    assert not problems, "\n".join(problems)


# --- apt-get only for what is missing, sudo only when not root --------------------------------------------

SHIMS = {
    # dpkg-query -W -f=${Status} PACKAGE: installed unless named in $MISSING
    "dpkg-query": 'case " $MISSING " in *" ${!#} "*) exit 1 ;; esac; echo "install ok installed"',
    "apt-get": 'echo "$(id -u) apt-get $*" >> "$CALLS"',
    "sudo": 'echo "$(id -u) sudo $*" >> "$CALLS"; exit 1',
}
TOOLS_THE_SCRIPT_USES = ("dirname", "id", "grep", "env", "sed")


@pytest.fixture
def fake_apt(ordinary_user_tmp):
    """A world-readable copy of setup.sh and a PATH of stand-ins: dpkg-query answers from $MISSING, apt-get and
    sudo only write down that they were called. Nothing is installed."""
    folder = Path(tempfile.mkdtemp(dir=ordinary_user_tmp))
    (folder / "scripts").mkdir()
    shutil.copy(SETUP, folder / "scripts" / "setup.sh")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name, body in SHIMS.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for name in TOOLS_THE_SCRIPT_USES:
        (bin_dir / name).symlink_to(shutil.which(name))
    calls = folder / "calls"
    calls.touch()
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    calls.chmod(0o666)
    return folder


def run_setup(folder: Path, *flags: str, missing: str = "", as_root: bool = False,
              sudo: bool = False) -> tuple[subprocess.CompletedProcess, list[str]]:
    """setup.sh --no-venv with the stand-ins; as an ordinary user (nobody) unless as_root. Without `sudo`,
    there is no sudo on PATH, as on a machine where the student has none."""
    bin_dir = folder / ("bin" if sudo else "bin-nosudo")
    if not sudo and not bin_dir.exists():
        shutil.copytree(folder / "bin", bin_dir, symlinks=True)
        (bin_dir / "sudo").unlink()
    become_nobody = [shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    prefix = become_nobody if os.geteuid() == 0 and not as_root else []
    env = {"PATH": str(bin_dir), "MISSING": missing, "CALLS": str(folder / "calls"), "LANG": "C.UTF-8"}
    (folder / "calls").write_text("")
    result = subprocess.run([*prefix, "/bin/bash", str(folder / "scripts" / "setup.sh"), "--no-venv", *flags],
                            capture_output=True, text=True, env=env, cwd="/", timeout=60)
    return result, (folder / "calls").read_text().splitlines()


def test_a_student_with_every_package_needs_no_sudo(fake_apt):
    result, calls = run_setup(fake_apt, "--test")
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert "present" in result.stdout


def test_a_student_without_sudo_is_told_what_is_missing(fake_apt):
    if os.geteuid() != 0:
        pytest.skip("needs root to become an ordinary user")
    result, calls = run_setup(fake_apt, missing="tcpdump")
    assert result.returncode == 3
    assert "tcpdump" in result.stderr and "--no-apt" in result.stderr
    assert calls == []


def test_no_apt_never_calls_apt_get(fake_apt):
    result, calls = run_setup(fake_apt, "--no-apt", missing="tcpdump graphviz", sudo=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("(not installed: --no-apt): tcpdump graphviz")
    assert calls == []


def test_only_the_missing_packages_are_installed(fake_apt):
    """As an ordinary user through sudo; as root directly."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run both ways")
    _, calls = run_setup(fake_apt, "--test", missing="tmux graphviz", sudo=True)
    assert calls == ["65534 sudo apt-get update -qq"]  # the stand-in sudo refuses, and the script stops there
    result, calls = run_setup(fake_apt, "--test", missing="tmux graphviz", as_root=True)
    assert result.returncode == 0, result.stderr
    assert calls == ["0 apt-get update -qq", "0 apt-get install -y -qq graphviz tmux"]
