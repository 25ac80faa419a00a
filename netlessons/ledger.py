"""Host mode's ownership ledger, and the clean-up that removes what this run provably made and nothing else.

A run claims, under one lock taken before its preflight, every object its lesson will create; another run's
preflight sees those claims and refuses. Around each step the lab's shell itself appends what the kernel says
the new objects are: a link's ifindex (only if it is higher than every ifindex its namespace had before the
step, so an object that was there already is never taken for ours), a namespace's inode, a process's pid and
start time, a file's device and inode. The shell writes these lines in the same round trip as the command,
so they land even when netlessons is killed while the command runs.

Clean-up undoes only what those records prove to be this run's: a link is looked for only in the namespace
it was made in, and only if that namespace is still the same one; a link inside a namespace of this run goes
with its namespace; a process is stopped only if its pid still has the recorded start time. Whatever has the
right name but not the right identity is reported and left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from netlessons.errors import EnvironmentProblem
from netlessons.lesson import Owned
from netlessons.results import CommandResult

Run = Callable[[str], CommandResult]


def state_dir() -> Path:
    return Path(os.environ.get("NETLESSONS_STATE_DIR", "/run/netlessons"))


def _state_folder() -> Path:
    folder = state_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise EnvironmentProblem(f"cannot write the ownership ledger in {folder}: {e.strerror}",
                                 hint="host mode records what it creates there before creating it; "
                                      "set NETLESSONS_STATE_DIR to a writable folder") from None
    return folder


@contextlib.contextmanager
def claiming() -> Iterator[None]:
    """One run at a time between its preflight and its claims: two runs started together cannot both see a
    name as free and both take it."""
    folder = _state_folder()
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)  # the folder itself is the lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class Ledger:
    """One run's ledger file. The run holds an exclusive lock on it while it lives, so that `cleanup` never
    takes the ledger of a run that is still going."""

    path: Path
    lock: int | None = None  # the open file descriptor that holds the lock
    proofs: list[dict] = field(default_factory=list)  # what the probes reported this run, also kept in memory

    @classmethod
    def create(cls, lesson_id: str) -> "Ledger":
        folder = _state_folder()
        path = folder / f"{lesson_id}-{os.getpid()}-{int(time.time())}.jsonl"
        try:
            ledger = cls(path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            fcntl.flock(ledger.lock, fcntl.LOCK_EX)
            ledger._append({"run": lesson_id, "pid": os.getpid(), "started": time.time()})
        except OSError as e:
            path.unlink(missing_ok=True)  # a ledger that could not be written must not look like a run
            raise EnvironmentProblem(f"cannot write the ownership ledger in {folder}: {e.strerror}",
                                     hint="host mode records what it creates there before creating it; "
                                          "set NETLESSONS_STATE_DIR to a writable folder") from None
        return ledger

    @staticmethod
    def all() -> tuple[list["Ledger"], list[str]]:
        """The ledgers on disk, and a line for each file there that is not one (left alone)."""
        folder = state_dir()
        if not folder.is_dir():
            return [], []
        ledgers, strange = [], []
        for path in sorted(folder.glob("*.jsonl")):
            try:
                info = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                strange.append(f"{path.name}: not a regular file; left alone")
            elif info.st_uid != os.geteuid():
                strange.append(f"{path.name}: owned by uid {info.st_uid}, not by you; left alone")
            else:
                ledgers.append(Ledger(path))
        return ledgers, strange

    def take(self) -> bool:
        """Lock a ledger found on disk; False while the run that wrote it still holds it."""
        try:
            self.lock = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _append(self, record: dict) -> None:
        # No O_CREAT: a ledger that someone removed is not silently started anew.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write(self, record: dict) -> None:
        try:
            self._append(record)
        except OSError as e:
            raise EnvironmentProblem(f"cannot write the ownership ledger {self.path}: {e.strerror}") from None

    def record_shell(self, pid: int) -> None:
        """The lab shell's process (the leader of its own session), so that `cleanup` after a kill -9 can stop
        a command still running in it before removing what it may be creating."""
        self._write({"shell": pid, "start": process_start(pid)})

    def record_lab(self, folder: Path) -> None:
        self._write({"lab": str(folder)})

    def claim(self, objects: Iterable[Owned]) -> None:
        """Every object the run will create, before the first step."""
        for o in objects:
            self._write({"kind": o.kind, "name": o.name, "netns": o.netns})

    def records(self) -> list[dict]:
        """The ledger's records; lines that are cut short, not JSON objects or not text are passed over."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return []
        records = []
        for line in data.splitlines():
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue  # a line cut short by a crash mid-write, or not ours
            if isinstance(record, dict):
                records.append(record)
        return records

    def shell(self) -> tuple[int, str] | None:
        for record in self.records():
            if isinstance(record.get("shell"), int):
                return record["shell"], str(record.get("start", ""))
        return None

    def objects(self) -> list[Owned]:
        """What the run claimed, in the order it claimed it."""
        found: list[Owned] = []
        for record in self.records():
            owned = _owned(record, "kind")
            if owned and owned not in found:
                found.append(owned)
        return found

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None


def _owned(record: dict, key: str) -> Owned | None:
    kind, name, netns = record.get(key), record.get("name"), record.get("netns", "")
    if all(isinstance(v, str) for v in (kind, name, netns)) and kind and name:
        return Owned(kind, name, netns)
    return None


def process_start(pid: int) -> str:
    """When a process started (field 22 of /proc/PID/stat): a pid plus this names one process for good."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop_shell(ledger: Ledger) -> None:
    """Kill the session of a run's lab shell if that very process still lives (not a reused pid, not a shell
    that ended and waits to be reaped: a kept lab's servers are then stopped one by one, by their records)."""
    found = ledger.shell()
    if not found or not found[1] or process_start(found[0]) != found[1] or _is_zombie(found[0]):
        return
    try:
        os.killpg(found[0], signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + 5
    while process_start(found[0]) == found[1] and time.monotonic() < deadline:
        time.sleep(0.01)


# --- the identity probes that the lab's shell runs around a step --------------------------------------------

def _ip(netns: str) -> str:
    return f"ip -n {shlex.quote(netns)} " if netns else "ip "


PROOF = "__NL_PROOF "  # a probe's record, echoed on the step's stdout for the runner (and removed there)
LEDGER_FAILED = "__NL_LEDGER_FAILED"


def _append_line(prefix: dict, rest: str, values: str, ledger: Path) -> str:
    """Appends `prefix` (fixed JSON made here, so names are quoted by json.dumps) completed by values the shell
    has just read from the kernel, to the ledger and (marked) to stdout; says so on stdout if the ledger
    could not take it."""
    head = shlex.quote(json.dumps(prefix)[:-1] + ", ")
    line = f"'%s{rest}}}\\n' {head} {values}"
    return (f"{{ printf {line} >>{shlex.quote(str(ledger))} || echo {LEDGER_FAILED}; "
            f"printf '{PROOF}'{line}; }}")


def take_proofs(stdout: str) -> tuple[str, list[dict], bool]:
    """Split a step's stdout into what the step printed, the probes' records, and whether the ledger failed."""
    kept, proofs, failed = [], [], False
    for line in stdout.splitlines(keepends=True):
        if line.startswith(PROOF):
            with contextlib.suppress(json.JSONDecodeError):
                proofs.append(json.loads(line[len(PROOF):]))
        elif line.rstrip("\n") == LEDGER_FAILED:
            failed = True
        else:
            kept.append(line)
    return "".join(kept), [p for p in proofs if isinstance(p, dict)], failed


def identity_probes(creates: Iterable[Owned], own_namespaces: set[str], ledger: Path) -> tuple[str, str]:
    """Shell text to run before and after a step's command: it records the identity of what the step made."""
    before: list[str] = []
    after: list[str] = []
    floors: dict[str, str] = {}
    for owned in creates:
        if owned.kind == "link" and owned.netns not in own_namespaces:
            # A link of one of this run's namespaces goes with that namespace: nothing to prove.
            if owned.netns not in floors:
                var = floors[owned.netns] = f"__nl_floor{len(floors)}"
                before.append(f"{var}=$({_ip(owned.netns)}-o link show 2>/dev/null | "
                              r"sed -n 's/^\([0-9]*\):.*/\1/p' | sort -n | tail -n 1)")
                if owned.netns:
                    path = shlex.quote(f"/run/netns/{owned.netns}")
                    before.append(f"__nl_v=$(stat -L -c %i {path} 2>/dev/null) && "
                                  + _append_line({"netns_of": owned.netns}, '"inode": %s', '"$__nl_v"', ledger))
            shown = f"{_ip(owned.netns)}-o link show dev {shlex.quote(owned.name)}"
            after.append(f"__nl_v=$({shown} 2>/dev/null) && "
                         f"__nl_v=${{__nl_v%%:*}} && [ \"$__nl_v\" -gt \"${{{floors[owned.netns]}:-0}}\" ] && "
                         + _append_line({"made": "link", "name": owned.name, "netns": owned.netns},
                                        '"ifindex": %s', '"$__nl_v"', ledger))
        elif owned.kind == "netns":
            path = shlex.quote(f"/run/netns/{owned.name}")
            made = {"made": "netns", "name": owned.name, "netns": owned.netns}
            after.append(f"__nl_v=$(stat -L -c %i {path} 2>/dev/null) && "
                         + _append_line(made, '"inode": %s', '"$__nl_v"', ledger))
        elif owned.kind == "process":
            pidfile = f'"$LAB"/{shlex.quote(owned.name + ".pid")}'
            after.append(f"__nl_v=$(cat {pidfile} 2>/dev/null) && "
                         "__nl_w=$(sed 's/^.*) //' \"/proc/$__nl_v/stat\" 2>/dev/null | cut -d' ' -f20) && "
                         + _append_line({"made": "process", "name": owned.name, "netns": owned.netns},
                                        '"pid": %s, "start": "%s"', '"$__nl_v" "$__nl_w"', ledger))
        elif owned.kind in ("file", "dir"):
            path = shlex.quote(owned.name)
            for parent in _parents(owned.name):
                before.append(f"[ -e {shlex.quote(parent)} ] || "
                              + _append_line({"newdir": parent}, '"for": "%s"', shlex.quote(owned.name), ledger))
            made = {"made": owned.kind, "name": owned.name, "netns": owned.netns}
            after.append(f"[ ! -L {path} ] && __nl_v=$(stat -c %d:%i {path} 2>/dev/null) && "
                         + _append_line(made, '"id": "%s"', '"$__nl_v"', ledger))
    return "\n".join(before), "\n".join(after)


def _parents(path: str) -> list[str]:
    """The folders of a path below a top-level folder (/etc/netns/pod1 of /etc/netns/pod1/resolv.conf), the
    deepest first."""
    return [str(p) for p in Path(path).parents if len(p.parts) > 2]


def with_probes(command: str, before: str, after: str) -> str:
    """The step's command between its probes; its exit status is kept."""
    if not before and not after:
        return command
    return f"{before}\n{{ {command}\n}}\n__nl_s=$?\n{after}\n(exit $__nl_s)"


# --- clean-up -----------------------------------------------------------------------------------------------

@dataclass
class _Proofs:
    """What the ledger proves about the objects of one run."""

    made: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    namespaces_of_links: dict[str, int] = field(default_factory=dict)
    new_dirs: list[str] = field(default_factory=list)
    labs: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, records: list[dict]) -> "_Proofs":
        proofs = cls()
        for record in records:
            owned = _owned(record, "made")
            if owned:
                proofs.made[(owned.kind, owned.name, owned.netns)] = record
            elif isinstance(record.get("netns_of"), str) and isinstance(record.get("inode"), int):
                proofs.namespaces_of_links.setdefault(record["netns_of"], record["inode"])
            elif isinstance(record.get("newdir"), str):
                proofs.new_dirs.append(record["newdir"])
            elif isinstance(record.get("lab"), str):
                proofs.labs.append(record["lab"])
        return proofs

    def of(self, owned: Owned) -> dict | None:
        return self.made.get((owned.kind, owned.name, owned.netns))


def _netns_inode(name: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except (OSError, ValueError):
        return None


def _ifindex(run: Run, name: str, netns: str) -> int | None:
    result = run(f"{_ip(netns)}-o link show dev {shlex.quote(name)}")
    head = result.stdout.split(":", 1)[0].strip()
    return int(head) if result.status == 0 and head.isdigit() else None


def _stop_process(pid: int, start: str) -> bool:
    """SIGTERM, then SIGKILL after two seconds, to the process that has this pid *and* this start time."""
    for sig, patience in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        if not start or process_start(pid) != start:
            return sig != signal.SIGTERM
        try:
            os.kill(pid, sig)
        except OSError:
            return True
        deadline = time.monotonic() + patience
        while process_start(pid) == start and time.monotonic() < deadline:
            time.sleep(0.01)
    return process_start(pid) != start


def _same_file(path: str, identity: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return not stat.S_ISLNK(info.st_mode) and f"{info.st_dev}:{info.st_ino}" == identity


def _lab_folder_is_ours(folder: str) -> bool:
    path = Path(folder)
    try:
        info = path.lstat()
    except OSError:
        return False
    return (path.parent == state_dir() and path.name.startswith("lab-") and stat.S_ISDIR(info.st_mode)
            and info.st_uid == os.geteuid())


def clean_up(ledger: Ledger, run: Run, wait: float = 5.0) -> list[str]:
    """Remove the ledger's objects that it proves to be this run's; return what was done (and what was left
    alone, and why), one line each. The ledger goes last."""
    objects = ledger.objects()
    proofs = _Proofs.read(ledger.records() + ledger.proofs)
    done: list[str] = []
    # Processes first: one still running inside a namespace would keep that namespace (and its links) alive.
    for process in (o for o in reversed(objects) if o.kind == "process"):
        made = proofs.of(process)
        if made and isinstance(made.get("pid"), int) and process_start(made["pid"]) == str(made.get("start")):
            if _stop_process(made["pid"], str(made["start"])):
                done.append(f"stopped process {process.name}")
    for folder in proofs.labs:
        if _lab_folder_is_ours(folder):
            shutil.rmtree(folder, ignore_errors=True)
    for item in (o for o in reversed(objects) if o.kind in ("file", "dir")):
        made = proofs.of(item)
        if not made:
            if os.path.lexists(item.name):
                done.append(f"left alone: {item.kind} {item.name}, no record that this run made it")
            continue
        if not _same_file(item.name, str(made.get("id"))):
            if os.path.lexists(item.name):
                done.append(f"left alone: {item.kind} {item.name}, not the one this run made")
            continue
        if item.kind == "dir":
            shutil.rmtree(item.name, ignore_errors=True)
        else:
            os.unlink(item.name)
        done.append(f"removed {item.kind} {item.name}")
    for folder in sorted(set(proofs.new_dirs), key=lambda p: -len(Path(p).parts)):
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only when empty: a folder this run's `mkdir -p` made
    own_namespaces = {o.name for o in objects if o.kind == "netns"}
    deleted: list[Owned] = []
    for link in (o for o in reversed(objects) if o.kind == "link"):
        if link.netns in own_namespaces:
            continue  # it goes with its namespace, below
        if link.netns and _netns_inode(link.netns) != proofs.namespaces_of_links.get(link.netns):
            continue  # its namespace is gone or is another one now: the link is not there to remove
        current = _ifindex(run, link.name, link.netns)
        if current is None:
            continue
        made = proofs.of(link)
        where = f" in {link.netns}" if link.netns else ""
        if not made or made.get("ifindex") != current:
            done.append(f"left alone: link {link.name}{where}, not the one this run made")
            continue
        run(f"{_ip(link.netns)}link set dev {shlex.quote(link.name)} down")
        if run(f"{_ip(link.netns)}link del dev {shlex.quote(link.name)}").status == 0:
            done.append(f"deleted link {link.name}{where}")
            deleted.append(link)
    for ns in (o for o in reversed(objects) if o.kind == "netns"):
        current = _netns_inode(ns.name)
        if current is None:
            continue
        made = proofs.of(ns)
        if not made or made.get("inode") != current:
            done.append(f"left alone: namespace {ns.name}, not the one this run made")
            continue
        if run(f"ip netns del {shlex.quote(ns.name)}").status == 0:
            done.append(f"deleted namespace {ns.name}")
    # The kernel tears down a deleted link (and a veth's other end) asynchronously.
    deadline = time.monotonic() + wait
    for link in deleted:
        while _ifindex(run, link.name, link.netns) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
    ledger.remove()
    return done
