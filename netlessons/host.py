"""Host mode: the lab on this machine's own network, guarded by a preflight, the ownership ledger's claims
and the identity probes, and undone by `clean_up` (see ledger.py)."""

from __future__ import annotations

import json
import os
import shlex

from netlessons import sandbox
from netlessons.errors import EnvironmentProblem, HostClash
from netlessons.ledger import Ledger, claiming, clean_up, state_dir, stop_shell
from netlessons.lesson import RenderedLesson
from netlessons.shell import LabShell


def preflight(shell: LabShell, rendered: RenderedLesson) -> None:
    """Refuse, changing nothing, when any object the lesson creates exists already or another run owns it.
    Call it inside `ledger.claiming()`, so that no other run can claim a name between this look and ours."""
    links = {item["ifname"] for item in json.loads(shell.run("ip -j link show").stdout or "[]")}
    namespaces = {item["name"] for item in json.loads(shell.run("ip -j netns list").stdout.strip() or "[]")}
    ledgers, _ = Ledger.all()
    claimed = {(o.kind, o.name, o.netns): ledger.path.name for ledger in ledgers for o in ledger.objects()}
    clashes = []
    for owned in rendered.owned:
        if owned.kind in ("file", "dir"):
            if shell.run(f"test -e {shlex.quote(owned.name)} || test -L {shlex.quote(owned.name)}").status == 0:
                clashes.append(f"{owned.name} exists already")
        elif owned.kind == "netns" and owned.name in namespaces:
            clashes.append(f"namespace {owned.name} exists already")
        elif owned.kind == "link" and not owned.netns and owned.name in links:
            clashes.append(f"link {owned.name} exists already")
        elif (owned.kind, owned.name, owned.netns) in claimed and owned.kind != "process":
            clashes.append(f"{owned.kind} {owned.name} belongs to another netlessons run "
                           f"(ledger {claimed[(owned.kind, owned.name, owned.netns)]})")
    if any(o.kind == "netns" for o in rendered.owned):
        writable = "test -w /run/netns || { test ! -e /run/netns && test -w /run; }"
        if shell.run(writable).status != 0:
            raise EnvironmentProblem("cannot create namespaces here: /run/netns is not writable; nothing was changed")
    if clashes:
        raise HostClash("refusing to run in host mode; nothing was changed:\n  " + "\n  ".join(clashes),
                        hint="remove or rename those objects, pick other names with --set, or leave out --host "
                             "to use the sandbox")


def open_ledger(shell: LabShell, rendered: RenderedLesson) -> Ledger:
    """Preflight and claims as one step under the claiming lock; then the lab's own folder, root's alone,
    where the lesson's files (logs, pid files, a plugin's data) go instead of the shared /tmp."""
    with claiming():
        preflight(shell, rendered)
        ledger = Ledger.create(rendered.lesson.id)
        folder = state_dir() / f"lab-{ledger.path.stem}"
        try:
            ledger.claim(rendered.owned)
            ledger.record_shell(shell.pid)
            ledger.record_lab(folder)
        except BaseException:
            ledger.remove()  # nothing was made yet: a ledger of claims alone must not outlive the run
            raise
    try:
        os.mkdir(folder, 0o700)  # fails if anything, a link included, is there already
    except OSError as e:
        ledger.remove()
        raise EnvironmentProblem(f"cannot make the lab's folder {folder}: {e.strerror}") from None
    shell.run(f"export LAB={shlex.quote(str(folder))}")
    return ledger


def cleanup_all() -> list[tuple[str, list[str]]]:
    """`netlessons cleanup`: finish every ledger left by a kept, killed or interrupted host-mode run."""
    folder = state_dir()
    try:
        hidden = folder.exists() and not os.access(folder, os.R_OK | os.X_OK)
    except PermissionError:  # a folder on the way to it is closed to this user
        hidden = True
    if not sandbox.is_root() and hidden:
        raise EnvironmentProblem(f"kept or interrupted host-mode labs may be recorded in {folder}, which only root "
                                 "can read; cleaning them up needs root", hint="run: sudo netlessons cleanup")
    ledgers, strange = Ledger.all()
    done = [(line.split(":", 1)[0], [line.split(": ", 1)[1]]) for line in strange]
    if not ledgers:
        return done
    if not sandbox.is_root():
        raise EnvironmentProblem("cleaning up a host-mode run needs root", hint="run: sudo netlessons cleanup")
    with LabShell([]) as shell:
        for ledger in ledgers:
            if not ledger.take():
                done.append((ledger.path.name, ["skipped: its run is still going"]))
                continue
            stop_shell(ledger)
            done.append((ledger.path.name, clean_up(ledger, lambda command: shell.run(command, timeout=10))))
    return done

