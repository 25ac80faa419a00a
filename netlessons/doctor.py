"""`netlessons doctor`: what this machine offers for the lessons, and what to fix.

Kernel features are tried for real, but only inside throwaway network namespaces (`unshare --net`): nothing
is ever created in the machine's own network namespace, and no packet is sent. Every way of looking at the
machine (`which`, `run`, `read`, being root, the environment) can be replaced, so tests can simulate another.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache, partial

from netlessons import kernel, sandbox, shell
from netlessons.errors import EnvironmentProblem, NetlessonsError
from netlessons.results import CommandResult
from netlessons.tools import package_for

Which = Callable[..., str | None]  # called as which(name) or which(name, path=...), like shutil.which
Run = Callable[..., CommandResult]  # called as run(argv, timeout=...), like shell.run_once
Read = Callable[[str], str | None]  # a file's text, or None when it cannot be read
Uses = Callable[[], Mapping[str, list[str]]]  # tool → the built-in lessons that need it

PROBE_TIMEOUT = 5.0
CNI_DIRS = ("/opt/cni/bin", "/usr/lib/cni")


@dataclass(frozen=True)
class Tool:
    name: str
    required: bool
    used_for: str

    @property
    def package(self) -> str:
        return package_for(self.name)


TOOLS = (
    Tool("ip", True, "every lesson"),
    Tool("bridge", True, "the bridge lessons"),
    Tool("brctl", False, "--flavor brctl"),
    Tool("ping", True, "the connectivity checks"),
    Tool("unshare", True, "the sandbox"),
    Tool("sysctl", True, "lessons that switch on forwarding"),
    Tool("nft", False, "the nftables lessons (kube-proxy-nftables, dual-stack)"),
    Tool("ipset", False, "the NetworkPolicy lesson"),
    Tool("iptables", False, "the NAT lessons (iptables flavor)"),
    Tool("curl", False, "the HTTP checks of the service lessons"),
    Tool("dnsmasq", False, "the DNS lesson"),
)


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def can_run_lessons(self) -> bool:
        return all(f.ok for f in self.findings if f.required)

    def finding(self, name: str) -> Finding:
        return {f.name: f for f in self.findings}[name]


def lab_which(name: str, path: str | None = None) -> str | None:
    """shutil.which over the PATH the lessons run with (it adds the sbin directories)."""
    return shutil.which(name, path=path or shell.lab_environment()["PATH"])


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


@dataclass(frozen=True)
class _Probe:
    which: Which
    run: Run
    read: Read
    root: bool
    environ: Mapping[str, str]
    uses: Uses

    def sysctl(self, key: str) -> str | None:
        text = self.read("/proc/sys/" + key.replace(".", "/"))
        return text.strip() if text is not None else None


def lessons_by_tool() -> dict[str, list[str]]:
    """Each tool the built-in lessons need, with the lessons that need it ("bridge-3ns (--flavor brctl)" when
    only another flavor than the default does). Rendering every lesson takes a second or two, so doctor asks
    only when a tool is missing."""
    from netlessons.catalog import Catalog, data_dir
    from netlessons.render import render_lesson

    catalog = Catalog([data_dir("lessons")])
    found: dict[str, list[str]] = {}
    for lesson in catalog.all():
        by_default: set[str] = set()
        default = None
        for flavor in (None, *lesson.flavors):
            if flavor is not None and flavor == default:
                continue
            try:
                rendered = render_lesson(catalog, lesson, flavor=flavor)
            except NetlessonsError:
                continue
            default = default or rendered.flavor
            for tool in rendered.needs:
                if flavor is None:
                    by_default.add(tool)
                elif tool in by_default:
                    continue
                label = lesson.id if flavor is None else f"{lesson.id} (--flavor {flavor})"
                if label not in found.setdefault(tool, []) and lesson.id not in found[tool]:
                    found[tool].append(label)
    return found


def examine(*, which: Which = lab_which, run: Run | None = None, read: Read = read_text,
            root: bool | None = None, environ: Mapping[str, str] | None = None,
            uses: Uses = lessons_by_tool) -> Report:
    """Look at the machine. The checks are independent and run side by side: each command costs about a
    tenth of a second through run_once, and one after the other they would take most of a second."""
    probe = _Probe(which, run or shell.run_once, read, sandbox.is_root() if root is None else root,
                   os.environ if environ is None else environ, cache(uses))
    checks: list[Callable[[_Probe], Finding]] = [
        *(partial(check_tool, tool=tool) for tool in TOOLS),
        check_cni_plugin,
        check_sandbox,
        check_user_namespaces,
        *(partial(check_kernel_feature, module=module) for module in FEATURE_COMMANDS),
        *(partial(check_optional_feature, feature=feature) for feature in OTHER_FEATURES),
        check_host_forwarding,
        check_neighbour_table,
        check_platform,
    ]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return Report(tuple(pool.map(lambda check: check(probe), checks)))


def check_tool(probe: _Probe, tool: Tool) -> Finding:
    """A tool that is there is simply found. A missing one is named with the built-in lessons that need it
    (and what else uses it); one that no built-in lesson needs is no problem."""
    found = probe.which(tool.name)
    if found:
        return Finding(tool.name, True, tool.required, found)
    lessons = probe.uses().get(tool.name, [])
    fix = f"apt-get install {tool.package}"
    if not lessons and not tool.required:
        return Finding(tool.name, True, tool.required,
                       f"not found; no built-in lesson needs it (only {tool.used_for})")
    shown = ", ".join(lessons[:6]) + (f" and {len(lessons) - 6} more" if len(lessons) > 6 else "")
    detail = f"not found; needed for {tool.used_for}" + (f", by {shown}" if lessons else "")
    if tool.name == "brctl":
        detail += "; those lessons also run with --flavor iproute2"
        fix += ", or run them with --flavor iproute2"
    return Finding(tool.name, False, tool.required, detail, fix)


def check_cni_plugin(probe: _Probe) -> Finding:
    """The CNI `bridge` plugin is a program in a plugin directory, not on PATH; CNI_PATH names extra ones."""
    dirs = [d for d in probe.environ.get("CNI_PATH", "").split(os.pathsep) if d] + list(CNI_DIRS)
    found = probe.which("bridge", path=os.pathsep.join(dirs))
    if found:
        return Finding("cni-bridge", True, False, found)
    return Finding("cni-bridge", False, False, f"the CNI bridge plugin is not in {', '.join(dirs)}; "
                   "needed for the CNI lessons",
                   "apt-get install containernetworking-plugins (or set CNI_PATH to the plugin directory)")


def check_sandbox(probe: _Probe) -> Finding:
    """Start the lab exactly as `netlessons run` does, setup included, and end it at once.

    The command is the lab's own (sandbox.sandbox_command), so it follows the real user, whatever `root` says.
    """
    how = "as root" if probe.root else "as an ordinary user, through a user namespace"
    if not probe.which("unshare"):
        return Finding("sandbox", False, True, "cannot start: unshare is missing",
                       "apt-get install util-linux")
    try:
        argv = [*sandbox.sandbox_command(), "bash", "--noprofile", "--norc", "-c", sandbox.setup_script()]
    except EnvironmentProblem as e:
        return Finding("sandbox", False, True, e.message, e.hint)
    result = probe.run(argv, timeout=PROBE_TIMEOUT)
    if result.status == 0:
        return Finding("sandbox", True, True, f"a throwaway lab starts ({how})")
    problem = sandbox.explain_start_failure(result.status, result.stderr)
    if probe.root:
        fix = ("this looks like a container that forbids new namespaces: give it the rights "
               "(e.g. docker run --privileged) or use a virtual machine")
    else:
        fix = (_userns_fix(probe) or problem.hint) + "; or run netlessons with sudo"
    return Finding("sandbox", False, True, f"{problem.message} ({how})", fix)


# The sysctls that can forbid user namespaces to ordinary users, the value that does, and the value to set.
USERNS_SYSCTLS = (
    ("kernel.unprivileged_userns_clone", "0", "1"),  # Debian's older kernels
    ("user.max_user_namespaces", "0", "15000"),
    ("kernel.apparmor_restrict_unprivileged_userns", "1", "0"),  # Ubuntu 23.10 and newer
)


def _userns_blockers(probe: _Probe) -> list[tuple[str, str, str]]:
    return [(key, value, wanted) for key, blocking, wanted in USERNS_SYSCTLS
            if (value := probe.sysctl(key)) == blocking]


def _userns_fix(probe: _Probe) -> str:
    blockers = _userns_blockers(probe)
    if not blockers:
        return ""
    commands = "; ".join(f"sysctl -w {key}={wanted}" for key, _, wanted in blockers)
    return f"{commands} (to keep it after a reboot, put the same setting in /etc/sysctl.d/)"


def check_user_namespaces(probe: _Probe) -> Finding:
    """Can an ordinary user get the sandbox? Required only when we are not root ourselves.

    The proof is a real user namespace: made as ourselves, or, as root, as the `nobody` user through setpriv.
    Without setpriv, the sysctls decide.
    """
    blockers = _userns_blockers(probe)
    settings = ", ".join(f"{key} = {value}" for key, value, _ in blockers)
    argv = ["unshare", "--user", "--map-root-user", "--net", "--mount", "true"]
    if probe.root:
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        argv = [*as_nobody, *argv] if probe.which("setpriv") else []
    if argv and probe.which("unshare"):
        ok, basis = probe.run(argv, timeout=PROBE_TIMEOUT).status == 0, ""
    else:
        ok, basis = not blockers, " (judged from the sysctls, not tried)"
    who = "ordinary users" if probe.root else "you (not root)"
    if ok:
        return Finding("user namespaces", True, not probe.root,
                       f"{who} can make them, so the sandbox needs no root{basis}")
    detail = f"{who} cannot make them{basis}" + (f": {settings}" if settings else "")
    if probe.root:
        detail += "; only root can use the sandbox"
    fix = _userns_fix(probe) or sandbox.USERNS_HINT
    return Finding("user namespaces", False, not probe.root, detail, fix)


# The device types every built-in lesson needs are created for real, in a throwaway namespace (the VXLAN
# device is never brought up, so it opens no socket); the other features of the registry are read from the
# kernel's files, for lessons of one's own.
FEATURE_COMMANDS = {name: list(kernel.FEATURES[name].probe) for name in ("veth", "bridge", "vxlan")}
OTHER_FEATURES = tuple(name for name in kernel.FEATURES if name not in FEATURE_COMMANDS and name != "br_netfilter")


def check_kernel_feature(probe: _Probe, module: str) -> Finding:
    """Create the device in a throwaway network namespace; when no namespace can be made, the files decide."""
    name = f"{module} (kernel)"
    required = module != "vxlan"
    fix = (f"modprobe {module} (on the host, if this is a container); "
           f"the kernel must be built with CONFIG_{kernel.FEATURES[module].config}")
    if probe.which("ip") and probe.which("unshare"):
        prefix = ["unshare", "--net"] + ([] if probe.root else ["--user", "--map-root-user"])
        result = probe.run([*prefix, *FEATURE_COMMANDS[module]], timeout=PROBE_TIMEOUT)
        error = (result.stderr.strip().splitlines() or [f"exit status {result.status}"])[-1]
        if result.status == 0:
            return Finding(name, True, required, "works (tried in a throwaway namespace)")
        if not error.startswith("unshare:"):  # the namespace was made, and the kernel refused the device
            return Finding(name, False, required, f"cannot create a {module} device: {error}", fix)
        why_untested = f"no throwaway namespace ({error})"
    else:
        why_untested = "ip and unshare are needed to try it"
    evidence = _module_evidence(probe, module)
    detail = f"not tried: {why_untested}; " + (evidence or "no trace of the module in /proc or /lib/modules")
    return Finding(name, evidence is not None, required, detail, fix)


def check_optional_feature(probe: _Probe, feature: str) -> Finding:
    """A kernel feature that only lessons of one's own need (needs('kernel:NAME')): what the files say."""
    found = kernel.status(feature, read=_bytes_reader(probe), exists=lambda path: _exists(probe, path))
    detail = f"{found.feature.what}: {found.evidence}"
    return Finding(f"{feature} (kernel)", found.present, False, detail, found.advice)


def _bytes_reader(probe: _Probe) -> kernel.Read:
    if probe.read is read_text:  # the real machine: /proc/config.gz is compressed, read it as bytes
        return kernel.read_bytes
    return lambda path: None if (text := probe.read(path)) is None else text.encode()


def _exists(probe: _Probe, path: str) -> bool:
    return os.path.exists(path) if probe.read is read_text else probe.read(path) is not None


def _module_evidence(probe: _Probe, module: str) -> str | None:
    """Where the files say the module is: loaded, built in, or installed as a loadable module."""
    if any(line.split(" ", 1)[0] == module for line in (probe.read("/proc/modules") or "").splitlines()):
        return "loaded (/proc/modules)"
    release = (probe.read("/proc/sys/kernel/osrelease") or "").strip()
    for listing, how in (("modules.builtin", "built in"), ("modules.dep", "installed")):
        text = probe.read(f"/lib/modules/{release}/{listing}") or ""
        # lines like "kernel/drivers/net/veth.ko" or "kernel/drivers/net/veth.ko.xz: ..."
        names = {line.split(":", 1)[0].rsplit("/", 1)[-1].split(".ko", 1)[0] for line in text.splitlines()}
        if module in names:
            return f"{how} (/lib/modules/{release}/{listing})"
    return None


def check_host_forwarding(probe: _Probe) -> Finding:
    """br_netfilter plus a FORWARD policy of DROP (as Docker sets it) silently drops bridged frames.

    Only the machine's own namespace has that policy, so only --host runs suffer; the sandbox starts empty.
    """
    name = "br_netfilter"
    setting = probe.sysctl("net.bridge.bridge-nf-call-iptables")
    if setting is None:
        return Finding(name, True, False, "not loaded: bridged frames do not pass through iptables")
    if setting != "1":
        return Finding(name, True, False, f"loaded, but net.bridge.bridge-nf-call-iptables = {setting}")
    policy = _forward_policy(probe)
    if policy == "DROP":
        detail = ("loaded and the iptables FORWARD policy is DROP (Docker sets it): pings across a bridge "
                  "fail with --host; the sandbox is not affected")
        fix = ("leave out --host; or, for a host-mode lab, `iptables -I FORWARD -i BRIDGE -o BRIDGE "
               "-j ACCEPT` for the lesson's bridge, or `sysctl -w net.bridge.bridge-nf-call-iptables=0`")
        return Finding(name, False, False, detail, fix)
    if policy is None:
        detail = ("loaded; the iptables FORWARD policy is unknown (reading it needs root and iptables); if "
                  "pings across a bridge fail with --host, a policy of DROP is the likely cause")
    else:
        detail = f"loaded; the iptables FORWARD policy is {policy}, so bridged frames pass"
    return Finding(name, True, False, detail)


def _forward_policy(probe: _Probe) -> str | None:
    """The FORWARD policy of the machine's filter table, read without creating that table.

    With iptables-nft, listing creates nothing. Listing with iptables-legacy loads iptable_filter, which
    makes a filter table where there was none, so then we list only a table that exists already.
    """
    iptables = probe.which("iptables")
    if not probe.root or not iptables:
        return None
    legacy_tables = (probe.read("/proc/net/ip_tables_names") or "").split()
    if "nft" not in os.path.realpath(iptables) and "filter" not in legacy_tables:
        return "ACCEPT (no legacy filter table)"
    listing = probe.run([iptables, "-S", "FORWARD"], timeout=PROBE_TIMEOUT)
    first = listing.stdout.splitlines()[0].split() if listing.status == 0 and listing.stdout.strip() else []
    return first[2] if first[:2] == ["-P", "FORWARD"] and len(first) > 2 else None


# bridge-n's largest lab: its first namespace learns every other one's address, each other one learns the
# first's, so a run holds about 2 × (n - 1) IPv4 neighbour entries while it lasts.
BRIDGE_N_MAX = 250
NEIGH_SYSCTL = "net.ipv4.neigh.default.gc_thresh3"


def _table_fulls(text: str | None) -> int | None:
    """The times the IPv4 neighbour table was full since boot: /proc/net/stat/arp_cache has a header line,
    then one line of hexadecimal counters per CPU; table_fulls is counted per CPU."""
    lines = (text or "").split("\n")
    header = lines[0].split() if lines else []
    if "table_fulls" not in header:
        return None
    column = header.index("table_fulls")
    try:
        return sum(int(line.split()[column], 16) for line in lines[1:] if len(line.split()) > column)
    except ValueError:
        return None


def check_neighbour_table(probe: _Probe) -> Finding:
    """Every network namespace shares one IPv4 neighbour (ARP) table, whose hard limit is gc_thresh3. Labs
    started at the same time add up: when the table is full, the kernel cannot resolve another address, pings
    fail ("neighbor table overflow" in dmesg), and the lesson fails for a reason that is not its own."""
    name = "neighbour table"
    limit_text = probe.sysctl(NEIGH_SYSCTL)
    if limit_text is None or not limit_text.isdigit():
        return Finding(name, True, False, f"{NEIGH_SYSCTL} cannot be read here (a container?): limit unknown")
    limit = int(limit_text)
    per_run = 2 * (BRIDGE_N_MAX - 1)
    fulls = _table_fulls(probe.read("/proc/net/stat/arp_cache"))
    detail = (f"{NEIGH_SYSCTL} = {limit} IPv4 neighbours, shared by all labs at once: bridge-n --set "
              f"n={BRIDGE_N_MAX} holds about {per_run} (room for {limit // per_run} such runs), a small lab a few")
    fix = (f"as root: sysctl -w {NEIGH_SYSCTL}={max(4 * limit, 8192)} "
           f"net.ipv4.neigh.default.gc_thresh2={max(2 * limit, 4096)} (to keep it, put the same in "
           "/etc/sysctl.d/); or run fewer large bridge-n labs at a time")
    if fulls:
        return Finding(name, False, False, f"{detail}; the table has been full {fulls} time(s) since boot", fix)
    return Finding(name, True, False, detail + ("" if fulls is not None else "; overflows not counted here"), fix)


def check_platform(probe: _Probe) -> Finding:
    release = (probe.read("/proc/sys/kernel/osrelease") or "").strip()
    version = probe.read("/proc/version") or ""
    text = f"{release} {version}"
    if "microsoft" not in text.lower() and "wsl" not in text.lower():
        return Finding("platform", True, False, f"Linux {release or '(unknown release)'}")
    if "WSL2" in text or "microsoft-standard" in text:
        detail = (f"WSL 2 (Linux {release}): a real Linux kernel, so the lessons run as on any Linux; "
                  "--host changes only the WSL virtual machine's network")
        return Finding("platform", True, False, detail)
    return Finding("platform", False, False, f"WSL 1 (Linux {release}): it has no network namespaces",
                   "convert the distribution to WSL 2: wsl --set-version DISTRO 2 (in Windows)")


STATUS = {(True, True): "ok", (True, False): "ok", (False, True): "FAIL", (False, False): "warn"}


def render_text(report: Report) -> str:
    width = max(len(f.name) for f in report.findings)
    lines = []
    for f in report.findings:
        lines.append(f"{STATUS[f.ok, f.required]:<4}  {f.name:<{width}}  {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {f.fix}")
    failed = [f.name for f in report.findings if f.required and not f.ok]
    warned = sum(1 for f in report.findings if not f.required and not f.ok)
    extra = f" ({warned} optional item{'s' if warned != 1 else ''} to look at)" if warned else ""
    if failed:
        lines += ["", f"The lessons cannot run here yet: fix {', '.join(failed)}{extra}."]
    else:
        lines += ["", f"The lessons can run on this machine{extra}."]
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    return json.dumps({"can_run_lessons": report.can_run_lessons,
                       "findings": [asdict(f) for f in report.findings]}, indent=2)
