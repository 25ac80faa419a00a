"""The throwaway lab: new network, mount and PID namespaces (and a user namespace when not root).

Everything the lesson builds lives in these namespaces and vanishes with the lab's shell, however that
shell ends: normally, by Ctrl-C, or by `kill -9` of netlessons (the shell reads end-of-file and exits; PID 1 of
the new PID namespace takes every other process of the lab with it).
"""

from __future__ import annotations

import os
import shutil

from netlessons.errors import EnvironmentProblem

# Run inside the lab before the first step. /run/netns gets a private tmpfs, so `ip netns add` never
# writes a file into the machine's real /run; when /run/netns does not exist, a private /run is used.
# /tmp is private too: what lessons write there (a server's log, a plugin's IP allocations) vanishes.
# /etc gets a private writable layer where the kernel allows it, so a lesson can write
# /etc/netns/NS/resolv.conf (which `ip netns exec` mounts over /etc/resolv.conf) without touching the machine.
SETUP = r"""
if [ -d /run/netns ]; then mount -t tmpfs -o mode=0755 netlessons /run/netns
else mount -t tmpfs -o mode=0755 netlessons /run && mkdir /run/netns; fi || exit 97
mount -t tmpfs -o mode=1777 netlessons /tmp || exit 97
mkdir -p /tmp/.netlessons-etc/upper /tmp/.netlessons-etc/work
mount -t overlay netlessons -o lowerdir=/etc,upperdir=/tmp/.netlessons-etc/upper,workdir=/tmp/.netlessons-etc/work \
  /etc 2>/dev/null || true
ip link set lo up || exit 98
"""

USERNS_HINT = (
    "The sandbox needs user namespaces for an ordinary user. Check: "
    "sysctl kernel.unprivileged_userns_clone (must be 1 where it exists), "
    "sysctl user.max_user_namespaces (must be above 0), and on Ubuntu 23.10 or newer "
    "sysctl kernel.apparmor_restrict_unprivileged_userns (set it to 0, or add an AppArmor profile). "
    "Or run netlessons with sudo."
)


def is_root() -> bool:
    return os.geteuid() == 0


def sandbox_command() -> list[str]:
    if shutil.which("unshare") is None:
        raise EnvironmentProblem("`unshare` is not installed; it comes with util-linux (apt-get install util-linux)")
    argv = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if not is_root():
        argv += ["--user", "--map-root-user"]
    return argv


def explain_start_failure(status: int | None, stderr: str) -> EnvironmentProblem:
    text = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {status}"
    if status == 97:
        return EnvironmentProblem(f"could not mount a private /run/netns in the sandbox: {text}")
    if status == 98:
        return EnvironmentProblem(f"could not switch on loopback in the sandbox: {text}",
                                  hint="is iproute2 installed? (apt-get install iproute2)")
    hint = USERNS_HINT if not is_root() else "Is this a container that forbids unshare? Try --host on a VM."
    return EnvironmentProblem(f"could not start the sandbox: {text}", hint=hint)
