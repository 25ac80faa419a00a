"""The per-user render cache: nothing in it is ever run, only the user's own folder is read, a change of the
package's code renders anew, and it stays bounded.

Every test drives the real CLI in its own process, with the cache folder set explicitly. Payloads are planted
at every file the CLI itself wrote to the cache, in every format an old or new version might load (pickle,
marshalled code, Jinja bytecode, plain bytes); each payload writes a marker file if it ever runs.
"""

from __future__ import annotations

import io
import json
import marshal
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2
import pytest

from tests.helpers import ROOT, netlessons

LESSON = "bridge-3ns"
PLANTED = "echo planted-by-someone-else"
NOBODY = ("nobody", "nogroup")


def _payload_source(marker: Path) -> str:
    return f"open({str(marker)!r}, 'a').write('payload ran\\n')"


class _PicklePayload:
    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


def payloads(original: bytes, marker: Path) -> dict[str, bytes]:
    """Files that run code when loaded as code, for one cache file: a pickle, marshalled code, and the same
    format as the original where it holds code (the old compiled-template cache, Jinja's bytecode files)."""
    code = compile(_payload_source(marker), "<planted>", "exec")
    found = {"pickle": pickle.dumps(_PicklePayload(_payload_source(marker))), "marshal": marshal.dumps(code)}
    if original.startswith(jinja2.bccache.bc_magic):
        stream = io.BytesIO(original[len(jinja2.bccache.bc_magic):])
        checksum = pickle.load(stream)  # our own file, written by the run above
        found["jinja"] = jinja2.bccache.bc_magic + pickle.dumps(checksum, 2) + marshal.dumps(code)
    try:
        table = marshal.loads(original)
    except (ValueError, EOFError, TypeError):
        table = None
    if isinstance(table, dict):
        found["marshal-table"] = marshal.dumps({key: marshal.dumps(code) for key in table})
    return found


def cache_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def rendered_entry(folder: Path) -> Path:
    """The cached render of a lesson: the file named by its 64-digit key that holds a render (the others hold
    parsed lesson files)."""
    entries = [p for p in cache_files(folder) if re.fullmatch(r"[0-9a-f]{64}", p.stem)
               and b'"rendered":' in p.read_bytes()]
    assert len(entries) == 1, f"not one rendered lesson cached in {folder}: {cache_files(folder)}"
    return entries[0]


def fresh(*args: str) -> subprocess.CompletedProcess:
    return netlessons(*args, env={"NETLESSONS_CACHE_DIR": ""})


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="netlessons-marker-"))
    folder.chmod(0o1777)  # an ordinary user's payload can write here too
    yield folder / "payload-ran"
    shutil.rmtree(folder)


@pytest.fixture(params=["NETLESSONS_CACHE_DIR", "XDG_CACHE_HOME", "HOME"])
def place(request, tmp_path: Path, monkeypatch) -> tuple[dict[str, str], Path]:
    """The three places the cache can live, each pointed at a folder of this test's own."""
    for name in ("NETLESSONS_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    base = tmp_path / "base"
    if request.param == "NETLESSONS_CACHE_DIR":
        return {"NETLESSONS_CACHE_DIR": str(base / "netlessons")}, base / "netlessons"
    if request.param == "XDG_CACHE_HOME":
        return {"XDG_CACHE_HOME": str(base)}, base / "netlessons"
    return {"HOME": str(base)}, base / ".cache" / "netlessons"


def _commands() -> list[tuple[str, ...]]:
    return [("print", LESSON), ("explain", LESSON), ("validate", str(ROOT / "lessons" / f"{LESSON}.toml")),
            ("list",)]


def test_planted_code_in_any_cache_file_never_runs(place, marker):
    env, folder = place
    expected = {args: fresh(*args) for args in _commands()}
    for args in _commands():
        assert netlessons(*args, env=env).returncode == 0
    files = cache_files(folder)
    assert files, "the commands cached nothing, so nothing could be planted"
    kinds = sorted({kind for path in files for kind in payloads(path.read_bytes(), marker)})
    originals = {path: path.read_bytes() for path in files}
    for kind in kinds:
        for args in _commands():
            for path, original in originals.items():
                found = payloads(original, marker)
                path.write_bytes(found.get(kind, found["pickle"]))
            result = netlessons(*args, env=env)
            assert not marker.exists(), f"planted {kind} code ran during {' '.join(args)}: {marker.read_text()}"
            assert (result.returncode, result.stdout) == (0, expected[args].stdout), (kind, args, result.stderr)
            assert "Traceback" not in result.stderr


def _as_nobody_setup(tmp: Path) -> tuple[list[str], dict[str, str]]:
    """A world-readable copy of the project, run by Debian's python3 as `nobody`."""
    if os.geteuid() != 0 or not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
        pytest.skip("needs root (to switch to nobody) and /usr/bin/python3")
    project = tmp / "project"
    for name in ("netlessons", "lessons", "templates"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    site = Path(jinja2.__file__).resolve().parent.parent  # used in place: the probe below says if nobody can
    for path in [tmp, *tmp.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    argv = ["setpriv", "--reuid", NOBODY[0], "--regid", NOBODY[1], "--clear-groups", "/usr/bin/python3", "-m",
            "netlessons"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": f"{project}:{site}", "LANG": "C.UTF-8"}
    probe = subprocess.run([*argv[:-2], "-c", "import jinja2, typer, sh, netlessons.cli"], env=env, cwd=project,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot import jinja2/typer/sh with /usr/bin/python3: {probe.stderr[-300:]}")
    return argv, env


def test_planted_code_never_runs_as_an_ordinary_user(marker):
    tmp = Path(tempfile.mkdtemp(prefix="netlessons-nobody-"))
    try:
        argv, env = _as_nobody_setup(tmp)
        project = Path(env["PYTHONPATH"].split(":")[0])

        def run(cache: Path, *args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*argv, *args], env={**env, "NETLESSONS_CACHE_DIR": str(cache)}, cwd=project,
                                  capture_output=True, text=True, timeout=120)

        shared = tmp / "shared"
        shared.mkdir(mode=0o1777)
        shared.chmod(0o1777)
        commands = [("print", LESSON), ("validate", str(project / "lessons" / f"{LESSON}.toml"))]
        expected = {args: run(Path(""), *args).stdout for args in commands}
        assert expected[commands[0]].startswith("#!")
        own = shared / "own"  # nobody's own cache; a lesson run as nobody plants code in it
        theirs = shared / "theirs"  # another user's (root's) cache, readable by all
        for args in commands:
            assert run(own, *args).returncode == 0
            assert netlessons(*args, env={"NETLESSONS_CACHE_DIR": str(theirs)}).returncode == 0
        theirs.chmod(0o755)
        for folder, owner in ((own, pwd_uid(NOBODY[0])), (theirs, 0)):
            files = cache_files(folder)
            assert files, f"nothing was cached in {folder}"
            originals = {path: path.read_bytes() for path in files}
            kinds = sorted({kind for original in originals.values() for kind in payloads(original, marker)})
            for kind in kinds:
                for args in commands:
                    for path, original in originals.items():
                        found = payloads(original, marker)
                        path.write_bytes(found.get(kind, found["pickle"]))
                        os.chown(path, owner, owner)
                        path.chmod(0o644)
                    result = run(own if folder == own else theirs, *args)
                    assert not marker.exists(), f"{kind} payload in {folder.name} ran as nobody: {marker.read_text()}"
                    assert (result.returncode, result.stdout) == (0, expected[args]), (kind, args, result.stderr)
    finally:
        shutil.rmtree(tmp)


def pwd_uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid


def _plant_render(folder: Path) -> Path:
    """Change the cached render of LESSON so that its first command is PLANTED: valid, but not ours."""
    entry = rendered_entry(folder)
    data = json.loads(entry.read_text())
    data["rendered"]["steps"][0]["command"] = PLANTED
    entry.write_text(json.dumps(data))
    return entry


def test_a_foreign_or_shared_cache_folder_is_never_read(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder another user's")
    folder = tmp_path / "cache"
    env = {"NETLESSONS_CACHE_DIR": str(folder)}
    expected = fresh("print", LESSON).stdout
    assert netlessons("print", LESSON, env=env).returncode == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cache_files(folder))
    entry = _plant_render(folder)
    served = netlessons("print", LESSON, env=env)
    assert PLANTED in served.stdout, "control: a planted render in one's own folder is what the cache serves"

    def refused(setup, restore) -> None:
        _plant_render(folder)
        setup()
        listing = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
        result = netlessons("print", LESSON, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
        assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == listing, "a refused folder was written"
        restore()

    nobody = pwd_uid(NOBODY[0])
    refused(lambda: os.chown(folder, nobody, -1), lambda: os.chown(folder, 0, -1))
    for mode in (0o770, 0o707, 0o777, 0o1777):
        refused(lambda mode=mode: folder.chmod(mode), lambda: folder.chmod(0o700))

    def entry_refused(setup) -> None:
        _plant_render(folder)
        setup()
        result = netlessons("print", LESSON, env=env)
        assert (result.returncode, result.stdout) == (0, expected)
        assert PLANTED not in entry.read_text(), "the refused entry was not replaced by a fresh render"

    entry_refused(lambda: os.chown(entry, nobody, -1))
    entry_refused(lambda: entry.chmod(0o666))
    elsewhere = tmp_path / "elsewhere.json"

    def symlinked() -> None:
        shutil.move(entry, elsewhere)
        entry.symlink_to(elsewhere)

    entry_refused(symlinked)
    assert PLANTED in elsewhere.read_text(), "the symlink's target was written through"


def test_another_user_cannot_steer_the_cache_into_roots_folders(tmp_path, monkeypatch):
    """Root runs with XDG_CACHE_HOME of a user (as `su` or `sudo -E` leave it); the user has made that
    folder a symlink to a folder of root's. Nothing is created or written there, nor in the user's folder."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder another user's")
    monkeypatch.delenv("NETLESSONS_CACHE_DIR", raising=False)
    nobody = pwd_uid(NOBODY[0])
    roots = tmp_path / "roots"
    roots.mkdir(mode=0o755)
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, nobody, -1)
    (home / ".cache").symlink_to(roots)
    os.lchown(home / ".cache", nobody, -1)
    expected = fresh("print", LESSON).stdout
    for env in ({"XDG_CACHE_HOME": str(home / ".cache")}, {"HOME": str(home)},
                {"NETLESSONS_CACHE_DIR": str(home / "cache")}):
        result = netlessons("print", LESSON, env=env)
        assert (result.returncode, result.stdout) == (0, expected), env
        assert list(roots.iterdir()) == [], env
        assert [p.name for p in home.iterdir()] == [".cache"], env


def test_a_refused_folder_is_named_once_with_verbose(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder another user's")
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    result = netlessons("run", "netns-basics", "-v", env={"NETLESSONS_CACHE_DIR": str(folder)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count("cache folder") == 1 and "writable by" in result.stderr, result.stderr
    quiet = netlessons("print", "netns-basics", env={"NETLESSONS_CACHE_DIR": str(folder)})
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert list(folder.iterdir()) == []


def test_a_change_of_the_package_code_renders_anew(tmp_path):
    """The review's L1: a stricter rule in params.py must not be hidden by a render cached before it."""
    project = tmp_path / "project"
    for name in ("netlessons", "lessons", "templates"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"NETLESSONS_CACHE_DIR": str(tmp_path / "cache")}
    before = netlessons("print", LESSON, "--set", "br=brX", env=env, cwd=project)
    assert before.returncode == 0 and "brX" in before.stdout
    assert netlessons("print", LESSON, "--set", "br=brX", env=env, cwd=project).stdout == before.stdout
    params = project / "netlessons" / "params.py"
    rule = 'KERNEL_RESERVED = ("all", "default")'
    assert rule in params.read_text()
    params.write_text(params.read_text().replace(rule, 'KERNEL_RESERVED = ("all", "default", "brX")'))
    after = netlessons("print", LESSON, "--set", "br=brX", env=env, cwd=project)
    assert after.returncode == 2, after.stdout
    assert "brX" in after.stderr


def test_the_cache_stays_bounded(tmp_path):
    folder = tmp_path / "cache"
    env = {"NETLESSONS_CACHE_DIR": str(folder)}
    assert netlessons("print", "netns-basics", env=env).returncode == 0
    entry = rendered_entry(folder)
    old = time.time() - 86400
    fillers = []
    for number in range(30):  # 30 MB of older entries, oldest first
        filler = entry.parent / f"{number:064x}{entry.suffix}"
        filler.write_bytes(b"x" * 1024 * 1024)
        os.utime(filler, (old + number, old + number))
        fillers.append(filler)
    entry.unlink()
    assert netlessons("print", LESSON, env=env).returncode == 0
    total = sum(p.stat().st_size for p in cache_files(folder))
    assert total <= 20 * 1024 * 1024, f"{total} bytes kept"
    kept = [f for f in fillers if f.exists()]
    assert kept and kept == fillers[-len(kept):], "not the least recently used went first"
    new = [p for p in cache_files(folder) if p not in fillers]
    assert rendered_entry(folder) in new, "the new render was not kept"
    assert len(new) == 3, new  # the new render, and the parsed lesson files: bridge-3ns, and netns-basics before


def _corruptions(original: bytes) -> dict[str, object]:
    found: dict[str, object] = {
        "empty": b"", "half": original[: len(original) // 2], "noise": os.urandom(4096),
        "deep": b"[" * 200000, "wrong shape": b'{"format": 1}', "a list": b"[]", "nul": b"\0" * 100,
        "a folder": "dir", "a fifo": "fifo",
    }
    try:
        data = json.loads(original)
    except ValueError:
        return found
    if isinstance(data, dict) and isinstance(data.get("rendered"), dict):
        for name, change in {
            "a step is a number": lambda d: d["rendered"]["steps"].__setitem__(0, 5),
            "a title is a number": lambda d: d["rendered"]["steps"][0].__setitem__("title", 5),
            "an unknown field": lambda d: d["rendered"]["steps"][0].__setitem__("extra", 1),
            "a missing field": lambda d: d["rendered"]["lesson"].pop("id"),
            "another key": lambda d: d.__setitem__("key", "0" * 64),
        }.items():
            changed = json.loads(original)
            change(changed)
            found[name] = json.dumps(changed).encode()
    return found


def test_corrupt_entries_are_ignored(tmp_path):
    folder = tmp_path / "cache"
    env = {"NETLESSONS_CACHE_DIR": str(folder)}
    expected = fresh("print", LESSON).stdout
    assert netlessons("print", LESSON, env=env).returncode == 0
    originals = {path: path.read_bytes() for path in cache_files(folder)}
    names = sorted({name for original in originals.values() for name in _corruptions(original)})
    for name in names:
        for path, original in originals.items():
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            elif path.exists() or path.is_symlink():
                path.unlink()
            corruption = _corruptions(original).get(name, b"")
            if corruption == "dir":
                path.mkdir()
            elif corruption == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(corruption)
        try:
            result = netlessons("print", LESSON, env=env, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a cache entry that is {name} hangs print")
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, ""), name


AUDIT_DRIVER = r"""
import json, os, runpy, sys, sysconfig
events = []
WATCH = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
         "pty.spawn", "pickle.find_class", "marshal.loads", "marshal.load", "ctypes.dlopen")
def hook(event, args):
    if event in WATCH:
        caller = sys._getframe(1).f_code.co_filename
        if event.startswith("marshal.") and caller.startswith("<frozen importlib"):
            return  # Python's own import of .pyc files
        events.append(f"{event} from {caller}")
sys.addaudithook(hook)
sys.argv = ["netlessons", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("netlessons", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
finally:
    # Debian's python3 links its sitecustomize.py from /etc: a module counts as Python's own by its path in
    # the standard library as well as by where that path leads.
    paths = sysconfig.get_paths().values()
    roots = {os.path.realpath(p) for p in paths} | set(paths) | {os.environ["PACKAGE_ROOT"]}
    outside = sorted(f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None))
                     and not any(g.startswith(r + os.sep) for g in (f, os.path.realpath(f)) for r in roots))
    with open(os.environ["AUDIT_OUT"], "w") as out:
        json.dump({"events": events, "outside": outside, "modules": sorted(sys.modules)}, out)
sys.exit(code)
"""


@pytest.mark.parametrize("args", _commands() + [("validate", str(ROOT / "tests" / "lessons")),
                                                ("list", "--lessons-dir", str(ROOT / "tests" / "lessons"))])
def test_reading_commands_start_no_process_and_load_no_code(tmp_path, marker, args):
    """print, explain, list and validate, with an empty, a filled and a poisoned cache: no process is started,
    nothing is unpickled or unmarshalled outside Python's own imports, and no module comes from outside
    the package, the standard library and the installed dependencies."""
    folder = tmp_path / "cache"
    out = tmp_path / "audit.json"
    env = {**os.environ, "NETLESSONS_CACHE_DIR": str(folder), "AUDIT_OUT": str(out),
           "PACKAGE_ROOT": str(ROOT / "netlessons")}
    for round_ in ("empty", "filled", "poisoned"):
        if round_ == "poisoned":
            for path in cache_files(folder):
                path.write_bytes(payloads(path.read_bytes(), marker)["pickle"])
        result = subprocess.run([sys.executable, "-c", AUDIT_DRIVER, *args], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (round_, result.stderr[-2000:])
        audit = json.loads(out.read_text())
        assert (audit["events"], audit["outside"]) == ([], []), round_
        assert not marker.exists()


def test_an_edited_lesson_file_is_parsed_anew(tmp_path):
    """Parsed lesson files are kept too (so `list` need not parse every file again); an edit is seen at once,
    and a file that no longer loads is refused with the loader's message, not served from the cache."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    original = (ROOT / "lessons" / "netns-basics.toml").read_text()
    lesson = folder / "netns-basics.toml"
    lesson.write_text(original)
    env = {"NETLESSONS_CACHE_DIR": str(tmp_path / "cache")}
    first = netlessons("list", "--lessons-dir", str(folder), env=env)
    assert "Network namespaces: a private network stack" in first.stdout, first.stdout + first.stderr
    assert any(b'"lesson":' in p.read_bytes() for p in cache_files(tmp_path / "cache")), "no parsed lesson kept"
    lesson.write_text(original.replace('title = "Network namespaces: a private network stack"',
                                       'title = "Edited: namespaces"', 1))
    second = netlessons("list", "--lessons-dir", str(folder), env=env)
    assert "Edited: namespaces" in second.stdout and "a private network stack" not in second.stdout, second.stdout
    lesson.write_text(original.replace('id = "netns-basics"', 'id = "something-else"', 1))
    broken = netlessons("explain", "netns-basics", "--lessons-dir", str(folder), env=env)
    assert broken.returncode == 2 and "must match the file name" in broken.stderr, broken.stdout + broken.stderr


@pytest.mark.parametrize("args", [("list",), ("list", "--json"), ("print", LESSON), ("explain", LESSON)])
def test_a_warm_start_renders_and_parses_nothing(tmp_path, args):
    """With the cache filled, list, print and explain show the same as before without Jinja, the renderer or
    the loader, and without sh (which only starts processes): those imports are most of a cold start. A
    warm `list` reads one entry for the whole catalog, not a render per lesson. (Run by the audit driver
    above, which also says which modules were loaded.)"""
    env = {**os.environ, "NETLESSONS_CACHE_DIR": str(tmp_path / "cache"), "AUDIT_OUT": str(tmp_path / "audit"),
           "PACKAGE_ROOT": str(ROOT / "netlessons")}
    first = netlessons(*args, env=env)
    assert first.returncode == 0, first.stderr
    for path in cache_files(tmp_path / "cache"):
        os.utime(path, (0, 0))  # an entry that is read is marked recently used
    warm = subprocess.run([sys.executable, "-c", AUDIT_DRIVER, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, first.stdout, first.stderr)
    loaded = set(json.loads((tmp_path / "audit").read_text())["modules"])
    assert not loaded & {"jinja2", "sh", "netlessons.render", "netlessons.loader"}, sorted(loaded)
    read = [p for p in cache_files(tmp_path / "cache") if p.stat().st_mtime > 0]
    if args[0] == "list":
        assert read == [listing_entry(tmp_path / "cache")], read


def listing_entry(folder: Path) -> Path:
    entries = [p for p in cache_files(folder) if b'"listing":' in p.read_bytes()]
    assert len(entries) == 1, f"not one listing cached in {folder}: {cache_files(folder)}"
    return entries[0]


def test_a_corrupt_listing_is_ignored_and_made_again(tmp_path):
    folder = tmp_path / "cache"
    env = {"NETLESSONS_CACHE_DIR": str(folder)}
    expected = fresh("list", "--json").stdout
    assert netlessons("list", "--json", env=env).stdout == expected
    entry = listing_entry(folder)
    kept = json.loads(entry.read_bytes())
    assert [row["id"] for row in kept["listing"]["rows"]] == [row["id"] for row in json.loads(expected)]

    def changed(change) -> bytes:
        data = json.loads(json.dumps(kept))
        change(data)
        return json.dumps(data).encode()

    corruptions = {
        "noise": os.urandom(4096), "wrong shape": b'{"format": 1}', "deep": b"[" * 200000,
        "steps as text": changed(lambda d: d["listing"]["rows"][0].__setitem__("steps", "14")),
        "an unknown field": changed(lambda d: d["listing"]["rows"][0].__setitem__("extra", 1)),
        "a missing field": changed(lambda d: d["listing"]["rows"][0].pop("title")),
        "a parameter is a list": changed(lambda d: d["listing"]["rows"][1].__setitem__("parameters", [[1]])),
        "another key": changed(lambda d: d.__setitem__("key", "0" * 64)),
    }
    for name, corruption in corruptions.items():
        entry.write_bytes(corruption)
        result = netlessons("list", "--json", env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, ""), name
        assert json.loads(listing_entry(folder).read_bytes()) == kept, f"{name}: not made again"


def test_a_catalog_with_a_broken_lesson_file_is_never_kept(tmp_path):
    """The warning about a lesson file that does not load comes every time, from the loader."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "netns-basics.toml").write_text((ROOT / "lessons" / "netns-basics.toml").read_text())
    (folder / "half.toml").write_text('id = "half"\ntitle = "no steps, no summary"\n')
    env = {"NETLESSONS_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):
        result = netlessons("list", "--lessons-dir", str(folder), env=env)
        assert result.returncode == 0 and "left out" in result.stderr and "half.toml" in result.stderr, result.stderr
        assert "netns-basics" in result.stdout
    assert not any(b'"listing":' in p.read_bytes() for p in cache_files(tmp_path / "cache"))


def test_the_next_lesson_line_reads_the_kept_listing(tmp_path):
    """A passed run names the next lesson from the rows a `list` kept (in teaching order), without reading the
    parsed entry of every lesson file; with no listing kept, it still names it."""
    folder = tmp_path / "cache"
    env = {"NETLESSONS_CACHE_DIR": str(folder)}
    first = netlessons("run", "netns-basics", env=env)
    assert first.returncode == 0 and "Next lesson: veth-pair" in first.stdout, first.stdout + first.stderr
    assert netlessons("list", env=env).returncode == 0
    for path in cache_files(folder):
        os.utime(path, (0, 0))
    again = netlessons("run", "netns-basics", env=env)
    assert again.returncode == 0 and again.stdout.rstrip().splitlines()[-1] == first.stdout.rstrip().splitlines()[-1]
    read = [p for p in cache_files(folder) if p.stat().st_mtime > 0]
    assert listing_entry(folder) in read
    assert len(read) == 3, read  # the listing, and netns-basics parsed and rendered
