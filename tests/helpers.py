"""Shared by the tests: run the CLI as a real process, in the sandbox or inside an outer throwaway namespace."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where pip put the programs of the test extras (shellcheck): next to the Python running the tests. This is
# not on PATH when the suite starts as `.venv/bin/python -m pytest`, as the README says to start it.
VENV_BIN = Path(sys.executable).parent
POST_LESSONS = ["netns-basics", "veth-pair", "bridge-3ns"]  # the three of the blog post
LESSONS = sorted(path.stem for path in (ROOT / "lessons").glob("*.toml"))  # every built-in lesson

# Inside an outer throwaway namespace: a private /run (so /run/netns and the ledger never reach the machine's
# real /run), a private writable layer over /etc (a lesson may write /etc/netns/NS/resolv.conf), loopback up,
# then the command. Host mode is only ever tested in here. /tmp stays shared, since the project and its
# Python may live there; what host mode writes to /tmp is in its ledger and removed with it.
OUTER_SETUP = ("mount -t tmpfs outer /run && "
               "mkdir -p /run/netns /run/.etc/upper /run/.etc/work && "
               "mount -t overlay outer -o lowerdir=/etc,upperdir=/run/.etc/upper,workdir=/run/.etc/work /etc && "
               "ip link set lo up && exec \"$@\"")


def program(name: str) -> str | None:
    """A program the tests run: from the test environment's own bin folder first, then from PATH."""
    return shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)


def netlessons(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None,
               cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netlessons", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, input=input,
                          cwd=cwd or ROOT)


def outer_namespace(argv: list[str], *, timeout: float = 120, input: str | None = None,
                    env: dict | None = None) -> subprocess.CompletedProcess:
    """Run argv as 'root' of a fresh network + mount namespace: a stand-in for the learner's machine."""
    prefix = ["unshare", "--net", "--mount"]
    if os.geteuid() != 0:
        prefix += ["--user", "--map-root-user"]
    return subprocess.run([*prefix, "bash", "-c", OUTER_SETUP, "outer", *argv], capture_output=True, text=True,
                          timeout=timeout, input=input, env={**os.environ, **(env or {})}, cwd=ROOT)


def host_network_state() -> dict:
    """What must be identical before and after: this machine's links, addresses, routes and namespaces."""
    def ip(*args: str):
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True).stdout.strip() or "[]"
        return json.loads(out)

    links = [{k: v for k, v in link.items() if k not in ("stats", "stats64")} for link in ip("-d", "link", "show")]
    addresses = [{**link, "addr_info": [{k: v for k, v in a.items() if "life_time" not in k}
                                        for a in link.get("addr_info", [])]}
                 for link in ip("addr", "show")]
    return {
        "links": links,
        "addresses": [{k: v for k, v in a.items() if k not in ("stats", "stats64")} for a in addresses],
        "routes": ip("route", "show", "table", "all"),
        "netns": ip("netns", "list"),
        # No /run/netns and an empty one are the same state: `ip netns` makes the folder and leaves it, and
        # another account's run on this machine may make or remove it while the suite runs.
        "run_netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
    }


def world_readable_dir(prefix: str) -> Path:
    """A fresh folder under /tmp (mode 0755) that an ordinary user can enter, whatever TMPDIR and umask say."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


def without_tools(tools: list[str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run netlessons where these tools are missing: a private mount namespace hides them under /dev/null."""
    prefix = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--user", "--map-root-user"])
    hide = " && ".join(f"for p in /usr/sbin/{t} /sbin/{t} /usr/bin/{t} /bin/{t}; do "
                       f"[ -e \"$p\" ] && mount --bind /dev/null \"$p\"; done; true" for t in tools)
    return subprocess.run([*prefix, "bash", "-c", f"{hide} && exec \"$@\"", "hide",
                           sys.executable, "-m", "netlessons", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def as_nobody(site: Path, *args: str) -> subprocess.CompletedProcess:
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": "/tmp", "LANG": "C.UTF-8",
           "NETLESSONS_CACHE_DIR": ""}
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, python, "-m", "netlessons", *args], capture_output=True, text=True,
                          env=env, cwd="/", timeout=120)


# --- shared by several test modules (and tests/update_golden.py); test modules never import each other ------

# A small valid lesson file: one namespace, made and removed. Tests break it one way at a time.
GOOD_LESSON = '''id = "tiny"
title = "A tiny lesson"
summary = "One namespace."

[params.ns]
type = "nsname"
default = "lab1"

[[steps]]
id = "add"
title = "Create {{ ns }}"
explain = "Make a namespace."
run = "{{ netns.add(ns) }}"
expect.state = [{ netns = "{{ ns }}" }]

[[cleanup]]
id = "del"
title = "Delete {{ ns }}"
explain = "Remove it."
run = "{{ netns.delete(ns) }}"
'''

GOLDEN = ROOT / "tests" / "golden"  # the printed scripts, one per lesson and flavor
GOLDEN_VARIANTS = [(lesson, None) for lesson in LESSONS] + [("bridge-3ns", "iproute2")]


def golden_name(lesson: str, flavor: str | None) -> str:
    return f"{lesson}.{flavor}.sh" if flavor else f"{lesson}.sh"


@functools.cache
def builtin_catalog():
    """The built-in lessons (loaded once per test session)."""
    from netlessons.catalog import Catalog

    return Catalog.default()


def rendered(lesson: str, flavor: str | None = None, **overrides: str):
    """A built-in lesson rendered with its defaults, or with parameters set as `--set` would."""
    from netlessons.render import render_lesson

    return render_lesson(builtin_catalog(), builtin_catalog().get(lesson), overrides, flavor=flavor)


def script(lesson: str, flavor: str | None = None, **options) -> str:
    """A built-in lesson's printed script, as `netlessons print` writes it."""
    from netlessons.script import render_script

    return render_script(rendered(lesson, flavor), **options)


def scenario(*args: str) -> dict:
    """tests/outer_driver.py inside an outer throwaway namespace; what it saw, as JSON."""
    result = outer_namespace([sys.executable, "-m", "tests.outer_driver", *args], timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def made_lesson(lesson_id: str, steps: list[tuple[str, str]] = (), cleanup: list[tuple[str, str]] = (),
                prerequisites: tuple[str, ...] = ()):
    """A Lesson built in memory for the unit tests: (spec id, foreach) per step; no file behind it."""
    from netlessons.lesson import Lesson, StepSpec

    def specs(items):
        return tuple(StepSpec(id=i, title=f"title of {i}", explain=f"why {i}", run="true", foreach=loop)
                     for i, loop in items)

    return Lesson(id=lesson_id, title=f"The {lesson_id}", summary=f"About {lesson_id}.", path=Path("/nowhere"),
                  prerequisites=prerequisites, steps=specs(steps), cleanup=specs(cleanup))


def made_step(lesson: str, group: str, round_id: str = "", phase: str = "steps", command: str = "true",
              **fields):
    """A rendered Step for the unit tests: one round of the step spec `group`."""
    from netlessons.lesson import Expectation, Step

    expect = fields.pop("expect", Expectation())
    return Step(id=round_id or group, title=f"title of {group}", explain=f"why {group}", command=command,
                expect=expect, group=group, lesson=lesson, phase=phase, **fields)


def made_rendered(lesson, steps, cleanup=(), prerequisites=(), flavor: str = ""):
    """A RenderedLesson put together by hand, so the unit tests need no template and no catalog."""
    from netlessons.lesson import RenderedLesson

    return RenderedLesson(lesson=lesson, flavor=flavor, values={}, parameters=(), prerequisites=tuple(prerequisites),
                          steps=tuple(steps), cleanup=tuple(cleanup))
