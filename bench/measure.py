"""Running netlessons and the plain-bash scripts side by side, and measuring them: wall time, memory,
profiles, and the machine it all ran on."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import pwd
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from netlessons import sandbox  # noqa: E402  (the checkout's own, for the bash side's sandbox)

SANDBOX = sandbox.sandbox_command()
# Mininet's own test of a three-host bridge, in a throwaway network and mount namespace: /proc/sys is made
# read-only there first, so its start-up tuning cannot change the machine's global sysctls (it warns, and
# goes on).
MININET = ["unshare", "--net", "--mount", "bash", "-c", "mount --bind -o ro /proc/sys /proc/sys && exec mn "
           "--topo single,3 --switch lxbr --controller none --test pingall"]
MININET_PASSED = "Results: 0% dropped"
# Debian's PATH for root: a python3 shim on the caller's PATH (pyenv's is a bash script that costs 0.1 s a
# start) would otherwise stand in for the lab's python3, which only netlessons' capture agent runs.
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 300.0  # seconds; far above anything measured here, it only stops a hung run
MB = 1_000_000
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Plan:
    """How much to measure. N → repetitions for bridge-n; `crowd` sandboxes at once."""

    reps_3ns: int = 7
    sizes: dict[int, int] = field(default_factory=lambda: {10: 5, 50: 3, 100: 5, 200: 3})
    crowd: int = 30
    reps_crowd: int = 3
    reps_cli: int = 15
    rss_n: int = 200
    profile_n: int = 100


QUICK = Plan(reps_3ns=2, sizes={10: 1, 20: 1}, crowd=5, reps_crowd=1, reps_cli=3, rss_n=20, profile_n=20)


@dataclass(frozen=True)
class Netlessons:
    """How to start netlessons, the Python that runs it (for profiles and versions), and from where."""

    argv: list[str]
    python: str
    cwd: Path  # the checkout for `python -m netlessons`; elsewhere "/" so `-m` cannot pick up the checkout

    def __call__(self, *args: str) -> list[str]:
        return [*self.argv, *args]


def find_netlessons(path: str | None) -> Netlessons:
    if path is None:
        beside = Path(sys.executable).parent / "netlessons"
        if not beside.is_file():
            return Netlessons([sys.executable, "-m", "netlessons"], sys.executable, REPO)
        path = str(beside)
    return Netlessons([path], interpreter_of(Path(path)), Path("/"))


def interpreter_of(script: Path) -> str:
    """The Python named in a console script's #! line."""
    try:
        words = script.read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
    except (OSError, IndexError):
        return sys.executable
    if words and Path(words[0]).name == "env" and len(words) > 1:
        return shutil.which(words[1]) or sys.executable
    return words[0] if words else sys.executable


def environment() -> dict[str, str]:
    """One environment for all sides: Debian's standard PATH (with the sbin folders: ip, brctl), the C locale,
    and Python allowed to keep its compiled modules (as an installed netlessons has them)."""
    env = dict(os.environ, LC_ALL="C", PATH=STANDARD_PATH)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


ENV = environment()


def bash_in_sandbox(script: Path) -> list[str]:
    """The printed script under bash in netlessons' own sandbox, set up by netlessons' own setup script, which
    keeps the script's folder (under /tmp, behind the sandbox's own) as it keeps netlessons' own."""
    keep = f"NETLESSONS_KEEP=({shlex.quote(str(script.parent))})\n"
    return [*SANDBOX, "bash", "--noprofile", "--norc", "-c", keep + sandbox.SETUP + 'bash "$0" "$@"', str(script)]


# How long the kernel keeps deleted namespaces (and their veth ends on a bridge) after one of them sent an ARP
# request nobody answers, as bridge-n's flood step does; and the same with that namespace's neighbour entries
# flushed first. Prints both, in ms.
TEARDOWN = r"""
ip link add br0 type bridge && ip link set br0 up
for i in 1 2 3; do
  ip netns add ns$i && ip link add v${i}_0 type veth peer name v${i}_1 && ip link set v${i}_0 master br0 up
  ip link set v${i}_1 netns ns$i && ip -n ns$i addr add 10.0.0.$i/24 dev v${i}_1 && ip -n ns$i link set v${i}_1 up
done
ip netns exec ns1 ping -c 1 -W 1 10.0.0.4 >/dev/null
[ "$1" = flush ] && ip -n ns1 neigh flush all
start=$EPOCHREALTIME
for i in 1 2 3; do ip netns del ns$i; done
while [ -n "$(ip -o link show master br0)" ]; do sleep 0.005; done
end=$EPOCHREALTIME
echo $(( (${end/./} - ${start/./}) / 1000 ))
"""


def teardown_waits(folder: Path) -> tuple[float, float]:
    """Seconds from `ip netns del` until br0 has no ports: after an unanswered ARP request, and after it with the
    neighbour entries flushed (each in a sandbox of its own, median of three)."""
    script = Path(folder, "teardown.sh")
    script.write_text(TEARDOWN)
    found = []
    for how in ("keep", "flush"):
        times = []
        for _ in range(3):
            done = subprocess.run([*bash_in_sandbox(script), how], capture_output=True, text=True, env=ENV,
                                  timeout=60)
            times.append(int(done.stdout.split()[-1]) / 1000 if done.returncode == 0 and done.stdout.split()
                         else math.nan)
        found.append(median(times))
    return found[0], found[1]


def mininet_available() -> str:
    """Why the Mininet row cannot run here, or "" when it can."""
    if shutil.which("mn", path=STANDARD_PATH) is None:
        return "Mininet is not installed (scripts/setup.sh --bench installs Debian's mininet)"
    if os.geteuid() != 0:
        return "Mininet needs root"
    return ""


# --- CPU ----------------------------------------------------------------------------------------------------


def become_subreaper() -> None:
    """Processes a run leaves behind (a lab shell still ending when netlessons exits) are handed to this
    process instead of init, so their CPU time is counted with the run that started them."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reap_all() -> None:
    """Wait for every process left behind, so that its CPU time is in RUSAGE_CHILDREN."""
    with contextlib.suppress(ChildProcessError):
        while True:
            os.wait()


# --- running and timing -------------------------------------------------------------------------------------


def what_went_wrong(output: str) -> str:
    """One line on a failed run: the failing step of a netlessons JSON report, else the end of the output."""
    try:
        step = next(step for step in json.loads(output)["steps"] if not step["passed"])
        said = f"step `{step['command']}`: {step['problem']}"
    except (ValueError, KeyError, TypeError, StopIteration):
        said = " / ".join([line for line in output.splitlines() if line.strip()][-3:]) or "no output"
    return said if len(said) <= 300 else said[:299] + "…"


def timed(argv: list[str], cwd: Path, copies: int = 1, expect: str = "",
          env: dict[str, str] | None = None) -> tuple[float, float, list[str]]:
    """Wall time from starting `copies` of a command at once until the last one has ended, the CPU time
    (user + system) of each copy and everything it started, and a line on each copy that did not exit 0 (or
    whose output lacks `expect`). Output goes to unread temporary files, never to a terminal."""
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(copies)]
        reap_all()
        cpu = children_cpu()
        start = time.perf_counter()
        processes = [subprocess.Popen(argv, cwd=cwd, env=env or ENV, stdout=log, stderr=subprocess.STDOUT)
                     for log in logs]
        # A blocking wait returns the moment a process ends; wait(timeout=...) would poll in steps of up to
        # 50 ms and blur every time by as much. A timer stands in for the timeout.
        watchdog = threading.Timer(TIMEOUT, lambda: [process.kill() for process in processes])
        watchdog.start()
        codes = [process.wait() for process in processes]
        watchdog.cancel()
        elapsed = time.perf_counter() - start
        reap_all()
        cpu = (children_cpu() - cpu) / copies
        failures = []
        for code, log in zip(codes, logs, strict=True):
            log.seek(0)
            output = log.read().decode(errors="replace")
            if code != 0 or expect not in output:
                missing = f"no `{expect}` in the output, " if expect not in output else ""
                failures.append(f"exit {code}, {missing}{what_went_wrong(output)}")
    return elapsed, cpu, failures


@dataclass
class Side:
    """The wall times of one side of a row, and what its failed runs said (warm-up included)."""

    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds per copy, one figure a round
    runs: int = 0
    failures: list[str] = field(default_factory=list)

    def cell(self) -> str:
        failed = f" ({len(self.failures)} of {self.runs} runs failed)" if self.failures else ""
        return (f"{median(self.times):.3f} s" if self.times else "—") + failed

    def cpu_cell(self) -> str:
        return f"{median(self.cpu):.3f} s" if self.cpu else "—"


@dataclass
class Pair:
    netlessons: Side = field(default_factory=Side)
    bash: Side = field(default_factory=Side)  # the reference: plain bash, or Mininet
    skipped: str = ""  # why the row was not measured

    @property
    def ratio(self) -> float | None:
        return median(self.netlessons.times) / median(self.bash.times) if self.bash.times else None

    @property
    def cpu_ratio(self) -> float | None:
        return median(self.netlessons.cpu) / median(self.bash.cpu) if self.bash.cpu else None

    @property
    def failed(self) -> bool:
        return bool(self.netlessons.failures or self.bash.failures)


def median(times: list[float]) -> float:
    return statistics.median(times) if times else math.nan


def compare(name: str, netlessons: list[str], bash: list[str], cwd: Path, reps: int, copies: int = 1,
            expect: str = "", reference: str = "bash") -> Pair:
    """One warm-up run each, then `reps` rounds of both, the order flipping every round, so that drift in the
    machine hits both sides alike. A failed run still counts as a time, and is reported. `expect`: text the
    reference's output must hold for a run to pass."""
    print(f"{name}: {reps} rounds ...", flush=True)
    pair = Pair()
    sides = [(netlessons, cwd, pair.netlessons, ""), (bash, REPO, pair.bash, expect)]
    for rep in range(-1, reps):
        for argv, where, side, text in sides if rep % 2 else sides[::-1]:
            elapsed, cpu, failures = timed(argv, where, copies, text)
            if rep >= 0:
                side.times.append(elapsed)
                side.cpu.append(cpu)
            side.runs += copies
            side.failures += failures
            for failure in failures[:3]:
                who = "netlessons" if side is pair.netlessons else reference
                print(f"  failed ({who}): {failure}", flush=True)
    print(f"  netlessons {pair.netlessons.cell()} (CPU {pair.netlessons.cpu_cell()})   {reference} "
          f"{pair.bash.cell()} (CPU {pair.bash.cpu_cell()})   ratio {pair.ratio:.2f}x", flush=True)
    return pair


def time_alone(name: str, argv: list[str], cwd: Path, reps: int, cold: bool = False) -> list[float]:
    """Wall times of `reps` runs after one to warm up. `cold`: each run with a new, empty per-user cache."""
    print(f"{name}: {reps} runs ...", flush=True)
    times = []
    for rep in range(reps + 1):
        with tempfile.TemporaryDirectory(prefix="netlessons-cold-") as empty:
            elapsed, _, failures = timed(argv, cwd, env=dict(ENV, NETLESSONS_CACHE_DIR=empty) if cold else None)
        if failures:
            print(f"  failed: {failures[0]}", flush=True)
            return []
        if rep:
            times.append(elapsed)
    print(f"  median {median(times):.3f} s", flush=True)
    return times


# --- memory -------------------------------------------------------------------------------------------------


@dataclass
class Memory:
    tree_peak: int = 0  # bytes: the largest sum of proportional set sizes (PSS) over the process tree
    biggest: int = 0  # bytes: the kernel's peak RSS of the largest single process (wait4, as time -f %M)
    biggest_name: str = ""  # which process that was, from the samples
    processes: int = 0  # how many processes the tree had at its peak
    error: str = ""


def process_tree(root: int) -> dict[int, tuple[str, int]]:
    """pid → (command name, resident bytes) of `root` and every process below it, from /proc/PID/stat."""
    parents: dict[int, int] = {}
    found: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        name, rest = stat[stat.index("(") + 1: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        pid = int(entry.name)
        parents[pid] = int(rest[1])  # stat field 4, ppid
        found[pid] = (name, int(rest[21]) * PAGE)  # stat field 24, rss in pages
    tree, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        todo += children
    return {pid: found[pid] for pid in tree if pid in found}


def pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages divided among the processes sharing them, so the sizes
    of a tree add up to the memory it really uses (a plain RSS sum counts a fork's shared pages twice)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match[1]) * 1024 if match else 0


def peak_memory(argv: list[str], cwd: Path) -> Memory:
    """Run once, adding up the PSS of the whole tree every 10 ms, and take the kernel's peak RSS of the
    largest single process from wait4 (it covers every process of the tree that was waited for)."""
    print(f"peak memory of `{shlex.join(argv)}` ...", flush=True)
    memory = Memory()
    singles: dict[str, int] = {}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            tree = process_tree(process.pid)
            total = sum(pss(pid) for pid in tree)
            if total > memory.tree_peak:
                memory.tree_peak, memory.processes = total, len(tree)
            for name, rss in tree.values():
                singles[name] = max(singles.get(name, 0), rss)
            time.sleep(0.01)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            said = what_went_wrong(log.read().decode(errors="replace"))
            memory.error = f"exit {process.returncode}, {said}"
    memory.biggest = usage.ru_maxrss * 1024  # Linux counts it in KiB
    memory.biggest_name = max(singles, key=lambda name: singles[name]) if singles else "?"
    print(f"  whole tree {memory.tree_peak / MB:.1f} MB PSS ({memory.processes} processes), largest process "
          f"{memory.biggest / MB:.1f} MB RSS ({memory.biggest_name})", flush=True)
    return memory


# --- profiles -----------------------------------------------------------------------------------------------


def import_profile(tool: Netlessons, args: tuple[str, ...]) -> list[tuple[str, int, float]]:
    """(module, nesting depth, cumulative seconds), from `python -X importtime -m netlessons ARGS`."""
    done = subprocess.run([tool.python, "-X", "importtime", "-m", "netlessons", *args],
                          cwd=tool.cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if match:
            rows.append((match[3], len(match[2]) // 2, int(match[1]) / 1e6))
    return rows


# Run by the profiled Python itself (the stats file is its own format): every function with its callers.
READ_STATS = """
import json, pstats, sys
stats = pstats.Stats(sys.argv[1])
name = lambda key: f"{key[0]}:{key[1]}({key[2]})"
print(json.dumps({"total": stats.total_tt, "functions": [
    {"name": name(key), "calls": nc, "own": tt, "cumulative": ct,
     "callers": {name(caller): [values[1], values[3]] for caller, values in callers.items()}}
    for key, (cc, nc, tt, ct, callers) in stats.stats.items()]}))
"""


def run_profile(tool: Netlessons, args: list[str]) -> dict:
    """cProfile of one `netlessons run ... --json` (the main thread; sh's reader threads are not in it)."""
    print(f"profiling `netlessons run {shlex.join(args)}` ...", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "run.prof")
        profiled = [tool.python, "-m", "cProfile", "-o", str(out), "-m", "netlessons", "run", *args, "--json"]
        subprocess.run(profiled, cwd=tool.cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TIMEOUT, check=False)  # a failed run still leaves its profile
        read = subprocess.run([tool.python, "-c", READ_STATS, str(out)], capture_output=True, text=True,
                              check=True)
    return json.loads(read.stdout)


# --- other work on the machine -----------------------------------------------------------------------------


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine since boot, CPU seconds of this process and its waited-for
    children): their growth over the run tells how much of the machine's work was not ours."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    ours = sum(usage.ru_utime + usage.ru_stime for usage in usages)
    return busy / os.sysconf("SC_CLK_TCK"), ours


# --- the machine --------------------------------------------------------------------------------------------

VERSIONS = """
import importlib.metadata as m, json, platform, netlessons
def v(p):
    try:
        return m.version(p)
    except m.PackageNotFoundError:
        return "not installed"
print(json.dumps({"python": platform.python_version(), "netlessons": netlessons.__version__ + " (" +
                  netlessons.__file__.rsplit("/", 2)[0] + ")",
                  **{p: v(p) for p in ("jinja2", "markupsafe", "typer", "click", "sh")}}))
"""


def output_of(argv: list[str], cwd: Path = REPO) -> str:
    try:
        return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=30,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(tool: Netlessons, load_before: tuple[float, ...]) -> dict[str, str]:
    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text(), Path("/proc/meminfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+)", meminfo, re.MULTILINE)
    os_release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                      if "=" in line)
    debian = Path("/etc/debian_version")
    packages = output_of(["dpkg-query", "-W", "-f", "${Package} ${Version}, ", "iproute2", "bridge-utils",
                          "iputils-ping", "util-linux", "bash"]).rstrip(", ")
    versions = json.loads(output_of([tool.python, "-c", VERSIONS], tool.cwd) or "{}")
    commit = output_of(["git", "describe", "--always", "--dirty", "--abbrev=12"])
    return {
        "CPU": f"{cpu[1] if cpu else '?'}, {os.cpu_count()} cores",
        "memory": f"{int(memory[1]) / 1024 ** 2:.1f} GiB" if memory else "?",
        "kernel": platform.release(),
        "system": f"{os_release.get('PRETTY_NAME', '?').strip(chr(34))}, Debian "
                  f"{debian.read_text().strip() if debian.exists() else '?'}",
        "Python (netlessons)": f"{versions.pop('python', '?')} ({tool.python})",
        "Python (this benchmark)": f"{platform.python_version()} ({sys.executable})",
        "netlessons": f"{versions.pop('netlessons', '?')}, checkout at commit {commit}",
        "Python packages": ", ".join(f"{name} {version}" for name, version in versions.items()),
        "Debian packages": packages,
        "load average before the run and at its end (1, 5, 15 min)":
            " / ".join(", ".join(f"{x:.2f}" for x in load) for load in (load_before, os.getloadavg())),
        "user": f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
                + ("" if os.geteuid() == 0 else ", sandboxes with --user --map-root-user"),
    }
