"""Host mode's write-ahead ownership ledger, and the clean-up that removes what it lists and nothing else.

Before a step runs, every object it will create is appended to the ledger and flushed to disk. So after a
crash, `kill -9` or Ctrl-C, the ledger names everything this run may have made; clean-up deletes exactly
those objects (links before the namespaces they may sit in, bridges set down first), treats "already gone"
as success, and waits until the kernel has really removed them.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from netlessons.errors import EnvironmentProblem
from netlessons.lesson import Owned
from netlessons.shell import CommandResult

Run = Callable[[str], CommandResult]


def state_dir() -> Path:
    return Path(os.environ.get("NETLESSONS_STATE_DIR", "/run/netlessons"))


@dataclass
class Ledger:
    """One run's ledger file. The run holds an exclusive lock on it while it lives, so that `cleanup` never
    takes the ledger of a run that is still going."""

    path: Path
    lock: int | None = None  # the open file descriptor that holds the lock

    @classmethod
    def create(cls, lesson_id: str) -> "Ledger":
        folder = state_dir()
        path = folder / f"{lesson_id}-{os.getpid()}-{int(time.time())}.jsonl"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            ledger = cls(path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            fcntl.flock(ledger.lock, fcntl.LOCK_EX)
            ledger._append({"run": lesson_id, "pid": os.getpid(), "started": time.time()})
        except OSError as e:
            path.unlink(missing_ok=True)  # a ledger that could not be written must not look like a run
            raise EnvironmentProblem(f"cannot write the ownership ledger in {folder}: {e.strerror}",
                                     hint="host mode records what it creates there before creating it; "
                                          "set NETLESSONS_STATE_DIR to a writable folder") from None
        return ledger

    @staticmethod
    def all() -> list["Ledger"]:
        folder = state_dir()
        return [Ledger(p) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []

    def take(self) -> bool:
        """Lock a ledger found on disk; False while the run that wrote it still holds it."""
        try:
            self.lock = os.open(self.path, os.O_RDONLY)
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _append(self, record: dict) -> None:
        # No O_CREAT: a ledger that someone removed is not silently started anew.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def record_shell(self, pid: int) -> None:
        """The lab shell's process (the leader of its own session), so that `cleanup` after a kill -9 can stop
        a command still running in it before removing what it may be creating."""
        self._append({"shell": pid, "start": process_start(pid)})

    def shell(self) -> tuple[int, str] | None:
        for record in self._records():
            if "shell" in record:
                return record["shell"], record.get("start", "")
        return None

    def _records(self) -> list[dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash mid-write
        return records

    def record(self, objects: Iterable[Owned]) -> None:
        """Write-ahead: called before the command that creates these objects runs."""
        try:
            for o in objects:
                self._append({"kind": o.kind, "name": o.name, "netns": o.netns})
        except OSError as e:
            raise EnvironmentProblem(f"cannot write the ownership ledger {self.path}: {e.strerror}") from None

    def objects(self) -> list[Owned]:
        found: list[Owned] = []
        for record in self._records():
            if "kind" in record:
                owned = Owned(record["kind"], record["name"], record.get("netns", ""))
                if owned not in found:
                    found.append(owned)
        return found

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None


def process_start(pid: int) -> str:
    """When a process started (field 22 of /proc/PID/stat): a pid plus this names one process for good."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def stop_shell(ledger: Ledger) -> None:
    """Kill the session of a run's lab shell if that very process still lives (not a reused pid)."""
    found = ledger.shell()
    if not found or not found[1] or process_start(found[0]) != found[1]:
        return
    try:
        os.killpg(found[0], signal.SIGKILL)
    except OSError:
        return
    deadline = time.monotonic() + 5
    while process_start(found[0]) == found[1] and time.monotonic() < deadline:
        time.sleep(0.01)


def _exists_link(run: Run, name: str, netns: str = "") -> bool:
    where = f"ip -n {_q(netns)} " if netns else "ip "
    return run(f"{where}link show dev {_q(name)}").status == 0


def _netns_names(run: Run) -> set[str]:
    result = run("ip -j netns list")
    if result.status != 0 or not result.stdout.strip():
        return set()
    return {item.get("name") for item in json.loads(result.stdout)}


def _q(text: str) -> str:
    import shlex
    return shlex.quote(text)


def clean_up(ledger: Ledger, run: Run, wait: float = 5.0) -> list[str]:
    """Remove the ledger's objects; return what was done, one line each. The ledger goes last."""
    objects = ledger.objects()
    done: list[str] = []
    # Processes first: one still running inside a namespace would keep that namespace (and its links) alive.
    for process in (o for o in reversed(objects) if o.kind == "process"):
        pidfile = f"/tmp/netlessons-{process.name}.pid"
        if run(f"test -f {_q(pidfile)}").status == 0:
            run(f"kill \"$(cat {_q(pidfile)})\" 2>/dev/null")  # it may have gone with its lab shell's session
            done.append(f"stopped process {process.name}")
        run(f"rm -f {_q(pidfile)} {_q(f'/tmp/netlessons-{process.name}.log')}")
    for folder in (o for o in reversed(objects) if o.kind == "dir"):
        # Only folders of netlessons' own naming are ever removed with their contents.
        if folder.name.startswith("/tmp/netlessons-") and "/../" not in folder.name:
            if run(f"test -d {_q(folder.name)} && rm -rf -- {_q(folder.name)}").status == 0:
                done.append(f"removed folder {folder.name}")
    for file in (o for o in reversed(objects) if o.kind == "file"):
        if run(f"test -e {_q(file.name)} && rm -f {_q(file.name)}").status == 0:
            done.append(f"removed file {file.name}")
        # its folders too, as far as they are empty (a lesson's `mkdir -p` may have made them), up to but not
        # including the top-level folder (/etc, /tmp)
        folders = [str(p) for p in Path(file.name).parents if len(p.parts) > 2]
        if folders:
            run("; ".join(f"rmdir {_q(folder)} 2>/dev/null" for folder in folders) + "; true")
    links = [o for o in reversed(objects) if o.kind == "link"]
    namespaces = [o.name for o in reversed(objects) if o.kind == "netns"]
    present_ns = _netns_names(run)
    ours = [ns for ns in namespaces if ns in present_ns]
    for link in links:
        for where in dict.fromkeys([link.netns, "", *ours]):
            if where and where not in present_ns:
                continue
            if _exists_link(run, link.name, where):
                prefix = f"ip -n {_q(where)} " if where else "ip "
                run(f"{prefix}link set dev {_q(link.name)} down")
                result = run(f"{prefix}link del dev {_q(link.name)}")
                if result.status == 0:
                    done.append(f"deleted link {link.name}" + (f" in {where}" if where else ""))
                break
    for ns in ours:
        if run(f"ip netns del {_q(ns)}").status == 0:
            done.append(f"deleted namespace {ns}")
    # The kernel tears down a deleted namespace's interfaces (and their veth peers here) asynchronously.
    deadline = time.monotonic() + wait
    for link in links:
        while _exists_link(run, link.name) and time.monotonic() < deadline:
            time.sleep(0.02)
    ledger.remove()
    return done
