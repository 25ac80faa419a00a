"""The throwaway lab: new user, network, mount and PID namespaces, for root as for an ordinary user.

Everything the lesson builds lives in these namespaces and vanishes with the lab's shell, however that
shell ends: normally, by Ctrl-C, or by `kill -9` of netlessons (the shell reads end-of-file and exits; PID 1 of
the new PID namespace takes every other process of the lab with it).

Why the user namespace for root too: the lab's root then holds its capabilities only over the lab's own
namespaces, so neither a lesson nor a learner's shell can change the machine's network, even through the
machine's /proc or /sys. Root stays root inside (uid 0 is mapped to uid 0), so root-owned files stay
writable: the sandbox guards the network and the processes, not files (docs/reliability.md, "Threat model").
"""

from __future__ import annotations

import os
import shutil

from netlessons.errors import EnvironmentProblem

# Run inside the lab before the first step; it ends with the lab's shell standing in a root of its own:
#  - every top-level folder of the machine is bound in, except /proc, /sys, /tmp, /run and /etc;
#  - /proc is the lab's PID namespace's own, /sys is a fresh sysfs (so /sys/class/net lists the lab's links);
#    a second, read-only one stays in /run: the kernel lets a user namespace mount sysfs only while one is
#    visible, and `ip netns exec` unmounts /sys before it mounts the namespace's own;
#  - /tmp and /run are private tmpfs (`ip netns add` writes /run/netns; a server's log goes to /tmp);
#  - /etc is a private writable layer over the machine's, so a lesson can write /etc/netns/NS/resolv.conf
#    (which `ip netns exec` mounts over /etc/resolv.conf); where the kernel refuses that layer, /etc is bound in.
# The binds and fresh mounts are written to a mount table in the lab's private /tmp and made by two `mount --all`,
# not by a mount process apiece (a top-level name a mount table cannot hold plainly is mounted on its own): the
# sandbox then starts in about a third of the time, most of which went to those processes.
# The machine's root is then let go (pivot_root, then a lazy unmount), so unmounting /proc, /sys, /tmp or /etc
# in the lab uncovers an empty folder, never the machine's.
SETUP = r"""
(
set -e
kept=()
for path in "${NETLESSONS_KEEP[@]}"; do exec {fd}<"$path"; kept+=("$fd:$path"); done
mount -t tmpfs -o mode=1777 netlessons /tmp
new=/tmp/.netlessons-root
mkdir "$new"
mount -t tmpfs -o mode=0755 netlessons "$new"
dirs=() files=() links=() odd=() table=/tmp/.netlessons-mounts
: >"$table"
for entry in /* /.[!.]*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  name=${entry#/}
  case $name in proc|sys|tmp|run|etc|dev) continue;; esac
  if [ -L "$entry" ]; then links+=("$entry"); continue; fi
  if [ -d "$entry" ]; then dirs+=("$new/$name") how=rbind; else files+=("$new/$name") how=bind; fi
  if [[ $name == *[!A-Za-z0-9._+-]* ]]; then odd+=("$how:$name")
  else printf '%s %s none %s 0 0\n' "$entry" "$new/$name" "$how" >>"$table"; fi
done
mkdir "${dirs[@]}" "$new/dev" "$new/proc" "$new/sys" "$new/tmp" "$new/run" "$new/etc" "$new/.old-root"
[ ${#files[@]} = 0 ] || touch "${files[@]}"
[ ${#links[@]} = 0 ] || cp -P "${links[@]}" "$new/"
printf '%s\n' "/dev $new/dev none rbind 0 0" "proc $new/proc proc defaults 0 0" "sysfs $new/sys sysfs defaults 0 0" \
  "netlessons $new/tmp tmpfs mode=1777 0 0" "netlessons $new/run tmpfs mode=0755 0 0" >>"$table"
mount --fstab "$table" --all
for entry in "${odd[@]}"; do mount "--${entry%%:*}" "/${entry#*:}" "$new/${entry#*:}"; done
mkdir "$new/run/netns" "$new/run/.netlessons-etc" "$new/run/.netlessons-sysfs"
printf '%s\n' "sysfs $new/run/.netlessons-sysfs sysfs ro 0 0" \
  "netlessons $new/run/.netlessons-etc tmpfs mode=0700 0 0" >"$table"
mount --fstab "$table" --all
mkdir "$new/run/.netlessons-etc/upper" "$new/run/.netlessons-etc/work"
layer=$new/run/.netlessons-etc
mount -t overlay netlessons -o "lowerdir=/etc,upperdir=$layer/upper,workdir=$layer/work" "$new/etc" 2>/dev/null \
  || mount --rbind /etc "$new/etc"
for entry in "${kept[@]}"; do
  fd=${entry%%:*} path=${entry#*:}
  mkdir -p "$new$path" && mount --rbind "/proc/self/fd/$fd" "$new$path"
  exec {fd}<&-
done
cd "$new"
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
) || exit 97
cd / || exit 97
ip link set lo up || exit 98
"""

# Folders under /tmp or /run that hide behind the lab's own: those of the Python and the netlessons that run the
# lab (a clone or a venv in /tmp), bound back in at the same place, so that `netlessons` works in the lab too.
HIDDEN = ("/tmp/", "/run/")


def kept_folders() -> list[str]:
    import sys

    candidates = [sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
                  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    found: list[str] = []
    for path in sorted({os.path.realpath(c) for c in candidates}, key=len):
        if path.startswith(HIDDEN) and os.path.isdir(path) and not any(path.startswith(f + "/") for f in found):
            found.append(path)
    return found


def setup_script() -> str:
    """SETUP, told which folders to keep (as a bash array: quoted word by word)."""
    import shlex

    return f"NETLESSONS_KEEP=({' '.join(shlex.quote(f) for f in kept_folders())})\n" + SETUP


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
    # --map-root-user maps the caller's uid to 0 inside: root to root, an ordinary user to a root with
    # capabilities only over the lab's own namespaces.
    return ["unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child",
            "--mount-proc"]


def explain_start_failure(status: int | None, stderr: str) -> EnvironmentProblem:
    text = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {status}"
    if status == 97:
        return EnvironmentProblem(f"could not give the sandbox its own root (/proc, /sys, /tmp, /run): {text}")
    if status == 98:
        return EnvironmentProblem(f"could not switch on loopback in the sandbox: {text}",
                                  hint="is iproute2 installed? (apt-get install iproute2)")
    hint = USERNS_HINT if not is_root() else (
        "The sandbox needs user namespaces, for root too: check sysctl user.max_user_namespaces (must be above 0). "
        "Is this a container that forbids unshare? Try --host on a throwaway VM.")
    return EnvironmentProblem(f"could not start the sandbox: {text}", hint=hint)
