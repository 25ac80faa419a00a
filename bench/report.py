"""The results as docs/benchmarks.md: the table with targets and verdicts, memory, where the extra time goes
(from the profiles), the machine, and every single time."""

from __future__ import annotations

import datetime
import math
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from measure import MB, MININET, REPO, SANDBOX, Memory, Pair, Plan, median

# The bash side on the 2-core Debian 12 machine of /work/shared/reference/lessons-from-the-post.md.
POST_BASH = {"bridge-3ns": 0.2, 10: 0.37, 50: 1.8, 100: 3.3, 200: 6.7, "crowd": 4.2}
CLI = ("print bridge-3ns", "list", "explain bridge-3ns")  # the start-up rows, warm and cold cache each
WARM_LIMIT, COLD_LIMIT = 0.10, 0.25
STEPS_PER_NAMESPACE = 9  # bridge-n: add-ns, add-veth, up-veth, plug-in, move-in, 2 × configure, ping, del-ns


@dataclass
class Results:
    plan: Plan
    b3ns: Pair
    sizes: dict[int, Pair]
    crowd: Pair
    mininet: Pair
    start_up: dict[tuple[str, bool], list[float]]  # (command, cold cache) → wall times
    python_start: list[float]
    memory: Memory
    imports: dict[str, list[tuple[str, int, float]]]  # command → (module, depth, cumulative seconds)
    profiles: dict[str, dict]  # label → profile
    machine: dict[str, str]
    started: datetime.datetime
    minutes: float = 0.0
    busy: str = ""  # how busy the machine was with other work, when it was
    cpu: str = ""  # where the machine's CPU time went during the run
    teardown: tuple[float, float] = (math.nan, math.nan)  # namespaces gone after an unanswered ARP; flushed first


# --- the table ----------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else "**MET**" if ok else "**NOT MET**"


def seconds(times: list[float]) -> str:
    return f"{median(times):.3f} s" if times else "—"


def table(r: Results) -> tuple[list[str], bool]:
    """The results table, and whether every target was met."""
    head = "what | compared with | rounds | netlessons | reference | ratio | CPU per run: netlessons / reference"
    lines = [f"| {head} | target | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    verdicts: list[bool | None] = []

    def add(what: str, compared: str, rounds: int, cells: tuple[str, str, str, str], target: str,
            ok: bool | None, note: str = "") -> None:
        if target != "—":
            verdicts.append(ok)
        shown = (note or verdict(ok)) if target != "—" else "—"
        lines.append(f"| {what} | {compared} | {rounds} | {' | '.join(cells)} | {target} | {shown} |")

    def add_pair(what: str, compared: str, rounds: int, pair: Pair, target: str, limit: float | None,
                 all_pass: bool = False) -> None:
        if pair.skipped:
            add(what, compared, 0, ("—", "—", "—", "—"), target, None, f"not measured: {pair.skipped}")
            return
        ok = None if limit is None else pair.ratio is not None and pair.ratio <= limit
        if all_pass and pair.failed:
            ok = False
        ratio = f"{pair.ratio:.2f}×" if pair.ratio else "—"
        cpu = f"{pair.netlessons.cpu_cell()} / {pair.bash.cpu_cell()}"
        add(what, compared, rounds, (pair.netlessons.cell(), pair.bash.cell(), ratio, cpu), target, ok)

    plan, same = r.plan, "the printed script under bash, same sandbox"
    add_pair("`netlessons run bridge-3ns` (all checks)", same, plan.reps_3ns, r.b3ns, "≤ 1.5× (aim 1.25×)", 1.5)
    add_pair("`netlessons run bridge-3ns` (all checks)", f"Mininet: `{MININET[-1].split('&& exec ')[-1]}` "
             "(root, throwaway network namespace)", plan.reps_3ns, r.mininet, "≤ 0.7×", 0.7)
    for n, rounds in plan.sizes.items():
        add_pair(f"`netlessons run bridge-n --set n={n}`", same, rounds, r.sizes[n],
                 *(("≤ 1.10×", 1.10) if n == 100 else ("—", None)))
    growth, bash_growth = None, "—"
    if 100 in r.sizes and 200 in r.sizes:
        growth = median(r.sizes[200].netlessons.times) / median(r.sizes[100].netlessons.times)
        bash_growth = f"bash: {median(r.sizes[200].bash.times) / median(r.sizes[100].bash.times):.2f}×"
    add("bridge-n: netlessons at N=200 ÷ netlessons at N=100", bash_growth, plan.sizes.get(200, 0),
        (f"{growth:.2f}×" if growth else "—", "—", "—", "—"), "≤ 2.2×", None if growth is None else growth <= 2.2)
    add_pair(f"{plan.crowd} × `netlessons run bridge-3ns` at once", f"{plan.crowd} printed scripts at once",
             plan.reps_crowd, r.crowd, f"all {plan.crowd} pass in both; ≤ 1.5×", 1.5, all_pass=True)
    for (name, cold), times in r.start_up.items():
        limit = COLD_LIMIT if cold else WARM_LIMIT
        add(f"`netlessons {name}`, {'cold' if cold else 'warm'} cache", "—", plan.reps_cli,
            (seconds(times), "—", "—", "—"), f"median ≤ {limit:.2f} s", bool(times) and median(times) <= limit)
    m = r.memory
    memory = (f"{m.biggest / MB:.1f} MB peak RSS of `{m.biggest_name}`; "
              f"{m.tree_peak / MB:.1f} MB PSS of the whole process tree")
    ok = False if m.error else None if plan.rss_n != 200 else max(m.biggest, m.tree_peak) <= 60 * MB
    add(f"peak memory of `netlessons run bridge-n --set n={plan.rss_n}`", "—", 1, (memory, "—", "—", "—"),
        "≤ 60 MB (both figures)", ok)
    return lines, all(v is True for v in verdicts)


# --- the profiles -------------------------------------------------------------------------------------------


def short(name: str) -> str:
    """A profile entry without the long folder names."""
    if name.startswith("~:0("):
        return name[4:-1]  # a built-in
    return re.sub(r"^.*/(site-packages|lib/python3\.\d+)/|^" + re.escape(str(REPO)) + "/", "", name)


def find(profile: dict, file_end: str, function: str, caller: str = "") -> tuple[float, int]:
    """Cumulative seconds and calls of one function (only as called from `caller`, when given); NaN when the
    function was never called."""
    for entry in profile["functions"]:
        path, _, rest = entry["name"].rpartition(":")
        if path.endswith(file_end) and rest.endswith(f"({function})"):
            if not caller:
                return entry["cumulative"], entry["calls"]
            hits = [value for who, value in entry["callers"].items() if who.endswith(f"({caller})")]
            return sum(t for _, t in hits), sum(calls for calls, _ in hits)
    return math.nan, 0


# What a run spends its time on, as (label, file, function, caller) looked up in a profile.
IMPORTS = "imports of all modules"
COSTS = [
    (IMPORTS, "<frozen importlib._bootstrap>", "_find_and_load", ""),
    ("… of which `sh`", "sh/__init__.py", "<module>", ""),
    ("the rendered lesson (`cli._render`: from the per-user cache, else Jinja)", "netlessons/cli.py",
     "_render", ""),
    ("… of which rendering with Jinja (`render_lesson`, on a cache miss)", "netlessons/render.py",
     "render_lesson", ""),
    ("looking for the tools (`check_tools`)", "netlessons/tools.py", "check_tools", ""),
    ("starting the sandbox (`LabShell.__init__`, the import of sh included)", "netlessons/shell.py", "__init__",
     ""),
    ("starting packet captures (`Recording.start`)", "netlessons/capture.py", "start", "step"),
    ("stopping them and reading their packets (`Recording.finish`)", "netlessons/capture.py", "finish", "step"),
    ("the lesson's commands (`LabShell.run` from `run_step`)", "netlessons/shell.py", "run", "run_step"),
    ("state checks (`_poll_state`)", "netlessons/runner.py", "_poll_state", ""),
    ("… of which sleeping between polls", "~", "<built-in method time.sleep>", "_poll_state"),
    ("writing the JSON report (`to_json`)", "netlessons/report.py", "to_json", ""),
]
# The wrappers every command goes through, left out of the list of top functions.
FRAMEWORK = re.compile(r"click/|typer/|runpy|<string>|built-in method builtins.exec|netlessons/__main__|"
                       r"importlib|cli.py:\d+\((main|wrapper)\)")


def top_functions(profile: dict, count: int = 15) -> list[dict]:
    rows = sorted(profile["functions"], key=lambda entry: -entry["cumulative"])
    return [entry for entry in rows if not FRAMEWORK.search(entry["name"])][:count]


def cost_table(r: Results) -> list[str]:
    lines = ["| where the time goes | " + " | ".join(r.profiles) + " |", "|---|" + "---:|" * len(r.profiles)]
    totals = [f"{profile['total']:.3f} s" for profile in r.profiles.values()]
    lines.append("| whole profiled process | " + " | ".join(totals) + " |")
    for label, file_end, function, caller in COSTS:
        cells = []
        for profile in r.profiles.values():
            cumulative, calls = find(profile, file_end, function, caller)
            counted = calls > 1 and label != IMPORTS
            cells.append("not called" if math.isnan(cumulative)
                         else f"{cumulative:.3f} s" + (f" ({calls} calls)" if counted else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def extra_per_namespace(sizes: dict[int, Pair]) -> tuple[float, float] | None:
    """The least-squares line through (N, netlessons median − bash median): (seconds per namespace,
    intercept)."""
    points = [(n, median(p.netlessons.times) - median(p.bash.times)) for n, p in sizes.items() if p.ratio]
    if len(points) < 2:
        return None
    mean_n, mean_d = statistics.fmean(n for n, _ in points), statistics.fmean(d for _, d in points)
    slope = sum((n - mean_n) * (d - mean_d) for n, d in points) / sum((n - mean_n) ** 2 for n, _ in points)
    return slope, mean_d - slope * mean_n


def prose(text: str) -> str:
    """A paragraph written over several source lines, as one line of Markdown."""
    return " ".join(text.split())


def analysis(r: Results, all_met: bool) -> list[str]:
    lines = ["## Where netlessons' extra time goes", ""]
    if all_met:
        lines += ["Every target was met; the profiles are kept for reference.", ""]
    lines.append(prose(f"""**Start-up.** A bare `python -c pass` takes {median(r.python_start):.3f} s here.
        `python -X importtime -m netlessons …` counts the imports of each command (importtime itself slows
        imports down a little); the largest, cumulative, nested ones indented:"""))
    for name, rows in r.imports.items():
        total = sum(t for _, depth, t in rows if depth == 0)
        largest = sorted((row for row in rows if row[1] <= 1), key=lambda row: -row[2])[:8]
        lines += ["", f"`netlessons {name}`: {total * 1000:.0f} ms of imports", "",
                  "| module | cumulative import time |", "|---|---:|"]
        lines += [f"| {'  ' * depth}`{module}` | {t * 1000:.1f} ms |" for module, depth, t in largest]
    lines += ["", prose("""**A run.** cProfile of `netlessons run … --json`: wall clock of netlessons' one
        thread (the lab shell's pipes are read in it); the profiler slows the Python parts down, so read these
        as shares of the time rather than as absolute times."""), "", *cost_table(r)]
    biggest = next(iter(r.profiles))
    lines += ["", prose(f"""The top functions of `{biggest}` by cumulative time (the wrappers of typer, click
        and the import machinery left out):"""), ""]
    lines += ["| function | calls | own | cumulative |", "|---|---:|---:|---:|"]
    lines += [f"| `{short(e['name'])}` | {e['calls']} | {e['own']:.3f} s | {e['cumulative']:.3f} s |"
              for e in top_functions(r.profiles[biggest])]
    b3 = r.profiles.get("bridge-3ns")
    if b3 and r.b3ns.ratio:
        extra = median(r.b3ns.netlessons.times) - median(r.b3ns.bash.times)
        commands = find(b3, "netlessons/shell.py", "run", "run_step")[0]
        checks = find(b3, "netlessons/runner.py", "_poll_state")[0]
        fixed = b3["total"] - find(b3, "netlessons/runner.py", "step")[0]
        lines += ["", prose(f"""**In short.** For bridge-3ns netlessons needs {extra:.3f} s more than bash,
            which needs {median(r.b3ns.bash.times):.3f} s for the whole script, sandbox included. In the
            profile the lesson's own commands take {commands:.3f} s and the state checks {checks:.3f} s (each
            check is one more `ip` process, and some poll until an asynchronous change has landed); everything
            outside the steps and their captures (imports, rendering, sandbox start and end, the report) is a
            fixed {fixed:.3f} s per run. The crowd row pays that fixed cost once per run, with all the runs sharing two
            cores.""")]
    line = extra_per_namespace(r.sizes)
    if line:
        per_step = line[0] * 1000 / STEPS_PER_NAMESPACE
        lines += ["", prose(f"""**Growth with N.** A straight line through netlessons' extra time over bash
            at each N gives {line[1]:.3f} s plus {line[0] * 1000:.1f} ms per namespace, about
            {per_step:.2f} ms for each of its {STEPS_PER_NAMESPACE} steps: the round trip of every command
            through the lab shell, rendering each step, and its share of the JSON report.""")]
    lines += ["", *shortfalls(r)]
    rows = [("bridge-3ns alone", r.b3ns), ("bridge-3ns at once", r.crowd)]
    rows += [(f"bridge-n N={n}", pair) for n, pair in r.sizes.items()]
    failed = [(name, pair) for name, pair in rows if pair.failed]
    if failed:
        counts = "; ".join(f"{name}: {len(p.netlessons.failures)} of {p.netlessons.runs} netlessons runs and "
                           f"{len(p.bash.failures)} of {p.bash.runs} plain-bash runs" for name, p in failed)
        lines += ["", prose(f"""**Failed runs.** {counts}. What they said is under *Failed runs* at the end.
            A failed run stops early, so failures make their side look faster, not slower.""")]
    return lines + [""]


def import_ms(rows: list[tuple[str, int, float]], module: str) -> float:
    """Milliseconds of a top-level import (the first place it was imported), 0 when it was not imported."""
    return next((t * 1000 for name, _, t in rows if name == module), 0.0)


def shortfalls(r: Results) -> list[str]:
    """For every target not met, what the remaining cost is, from the measurements of this run."""
    notes: list[str] = []
    b3 = r.profiles.get("bridge-3ns")
    if b3 and r.b3ns.ratio and r.b3ns.ratio > 1.5:
        extra = median(r.b3ns.netlessons.times) - median(r.b3ns.bash.times)
        parts = {label: find(b3, file_end, function, caller)[0] for label, file_end, function, caller in [
            ("imports", "<frozen importlib._bootstrap>", "_find_and_load", ""),
            ("starting the sandbox", "netlessons/shell.py", "__init__", ""),
            ("starting the packet captures", "netlessons/capture.py", "start", "step"),
            ("stopping them", "netlessons/capture.py", "finish", "step"),
            ("state checks", "netlessons/runner.py", "_poll_state", ""),
            ("the JSON report", "netlessons/report.py", "to_json", "")]}
        spent = "; ".join(f"{label} {t:.3f} s" for label, t in parts.items() if not math.isnan(t))
        notes.append(prose(f"""**`run bridge-3ns` against bash ({r.b3ns.ratio:.2f}×, target 1.5×).** netlessons
            needs {extra:.3f} s more wall time and {median(r.b3ns.netlessons.cpu) - median(r.b3ns.bash.cpu):.3f} s
            more CPU than bash. In its profile (wall clock, {b3['total']:.3f} s in all, the profiler's own
            slowing included): {spent}. The captures are checks the plain script does not make (it prints no
            capture): each starts a Python agent and tcpdump in the lab and waits (with bash's `read -t` on a
            FIFO) until the agent listens, and stopping one waits until the agent has closed its packet socket,
            which waits for an RCU grace period in the kernel (`packet_release()` calls `synchronize_net()`).
            The state checks are one `ip` (or `bridge`) process per namespace a check reads, after every step
            that has checks; after each `ip netns del` they also wait until the kernel has removed the
            namespace's veth end from the bridge, which it does asynchronously (the plain script does not
            wait)."""))
    if not r.mininet.skipped and r.mininet.ratio and r.mininet.ratio > 0.7:
        notes.append(prose(f"""**`run bridge-3ns` against Mininet ({r.mininet.ratio:.2f}×, target 0.7×).**
            Mininet needs {median(r.mininet.bash.times):.3f} s ({median(r.mininet.bash.cpu):.3f} s CPU) for
            its three hosts and pingall, netlessons {median(r.mininet.netlessons.times):.3f} s
            ({median(r.mininet.netlessons.cpu):.3f} s CPU) for 36 checked steps with three captures; the
            costs above the plain script are the ones listed for the row against bash."""))
    n100 = r.sizes.get(100)
    line = extra_per_namespace(r.sizes)
    if n100 and n100.ratio and n100.ratio > 1.10:
        per = f" The fitted line gives {line[0] * 1000:.1f} ms per namespace over bash." if line else ""
        prof = next((p for label, p in r.profiles.items() if label.endswith("N=100")), None)
        checks = find(prof, "netlessons/runner.py", "_poll_state")[0] if prof else math.nan
        slept = find(prof, "~", "<built-in method time.sleep>", "_poll_state")[0] if prof else math.nan
        notes.append(prose(f"""**`run bridge-n --set n=100` ({n100.ratio:.2f}×, target 1.10×).** netlessons
            needs {median(n100.netlessons.times) - median(n100.bash.times):.3f} s more than bash.{per} In its
            profile the state checks take {checks:.3f} s, of which {slept:.3f} s is spent waiting between
            readings. Most of that wait is one check: after the last `ip netns del`, that br0 has no ports
            left. The flood step leaves ns1 an unanswered ARP request, and the kernel keeps the deleted
            namespaces, with their veth ends on br0, until ARP gives up on it: measured in this run with three
            namespaces, they were gone {r.teardown[0]:.2f} s after `ip netns del`, and {r.teardown[1]:.2f} s
            after it when ns1's neighbour entries were flushed first. The plain script does not wait for that.
            The rest is the round trip of each of its {100 * STEPS_PER_NAMESPACE} commands through the lab
            shell and the report."""))
    if 100 in r.sizes and 200 in r.sizes and r.sizes[100].ratio and r.sizes[200].ratio:
        grew = [median(getattr(r.sizes[200], side).times) / median(getattr(r.sizes[100], side).times)
                for side in ("netlessons", "bash")]
        if grew[0] > 2.2:
            notes.append(prose(f"""**bridge-n from N=100 to N=200 ({grew[0]:.2f}×, target 2.2×).** The plain
                script grew {grew[1]:.2f}× itself: each namespace added to one bridge costs the kernel more as
                the bridge grows. netlessons' own share of a step (the fitted line of *Growth with N*) does not
                grow with N."""))
    crowd = r.crowd
    if crowd.ratio and crowd.ratio > 1.5 and crowd.netlessons.cpu and crowd.bash.cpu:
        cores = os.cpu_count() or 1
        floor = [r.plan.crowd * median(side.cpu) / cores for side in (crowd.netlessons, crowd.bash)]
        notes.append(prose(f"""**{r.plan.crowd} runs at once ({crowd.ratio:.2f}×, target 1.5×).** With every
            core busy, CPU decides: a netlessons run costs {median(crowd.netlessons.cpu):.3f} s of CPU (itself
            and everything it starts), a plain script {median(crowd.bash.cpu):.3f} s. {r.plan.crowd} netlessons
            runs need at least {floor[0]:.2f} s on {cores} cores for their CPU alone; {r.plan.crowd} plain
            scripts need {floor[1]:.2f} s of CPU and took {median(crowd.bash.times):.2f} s, the rest being the
            kernel's own work on the namespaces (creating and tearing them down), which both sides share. So the
            ratio falls only with netlessons' CPU per run, listed for one run in the row against bash."""))
    slow = [(name, cold, times) for (name, cold), times in r.start_up.items()
            if times and median(times) > (COLD_LIMIT if cold else WARM_LIMIT)]
    if slow:
        said = ", ".join(f"`{name}` {'cold' if cold else 'warm'} {median(times):.3f} s" for name, cold, times in slow)
        rows = r.imports.get("print bridge-3ns", [])
        heavy = ", ".join(f"{module} {import_ms(rows, module):.0f} ms" for module in ("typer", "click", "json",
                                                                                         "netlessons.cli")
                          if import_ms(rows, module))
        notes.append(prose(f"""**Start-up ({said}).** Python itself starts in {median(r.python_start):.3f} s;
            the imports are listed above (for `print`: {heavy}); typer and click, which the design card fixes,
            are most of them. A warm `explain` also imports the checks and the goals, to say what each step's
            checks look for. A cold cache adds rendering with Jinja and writing the entries: for `list`, every
            lesson with its prerequisites, since a row shows how many steps a lesson has and the tools its
            commands need (a warm `list` reads one entry for the whole catalog)."""))
    return (["**Targets not met, and what the remaining cost is.**", "", *[f"- {n}" for n in notes]]
            if notes else [])


# --- the whole page -----------------------------------------------------------------------------------------


def method() -> str:
    return prose(f"""Each row times netlessons and the plain bash script that `netlessons print` gives for
        the same lesson and parameters. Both run in the same sandbox (`{' '.join(SANDBOX)}`), set up by
        netlessons' own setup script (its own root with private /proc, /sys, /tmp, /run and /etc, loopback
        up); the bash side then runs `bash script.sh`. The Mininet row runs `{' '.join(MININET[:3])}` with
        /proc/sys made read-only inside (so Mininet's tuning cannot reach the machine's global sysctls; it
        warns and goes on), and a run counts as passed only when Mininet reports 0% dropped. Every command
        runs with Debian's standard PATH and with Python's compiled modules allowed. Scripts are printed once,
        before any timing. Every time is `time.perf_counter()` around starting the process(es) and waiting for
        them; output goes to an unread temporary file (netlessons with `--json`) that is only read when a run
        fails. Each pair runs once to warm up, then alternately, the order flipping every round, so that the
        load of a shared machine hits both sides alike. Times are medians; ratio = netlessons ÷ reference. A
        failed run still counts as a time, and is listed at the end. netlessons keeps a per-user cache of
        rendered lessons, parsed lesson files and the rows of `list` (as checked JSON); the benchmark gives it
        a cache folder of its own, which the warm-up runs fill: the rows say warm cache. A cold-cache row gives
        every run a new, empty cache folder.""")


def memory_text(m: Memory, n: int) -> str:
    return prose(f"""`netlessons run bridge-n --set n={n} --json`, one run. Its largest single process was
        `{m.biggest_name}` (the netlessons Python process) with a peak RSS of **{m.biggest / MB:.1f} MB**:
        the kernel's count from `wait4` on netlessons, which covers every process below it that was waited
        for, as `/usr/bin/time -f %M` shows it; it is the largest of the processes, not their sum. To count
        the children too, the proportional set sizes (PSS: shared pages split among the processes sharing
        them) of netlessons and everything below it (unshare, the lab's bash, each `ip` and `ping`) were
        added up from /proc every 10 ms: at most **{m.tree_peak / MB:.1f} MB**, with {m.processes}
        process{"" if m.processes == 1 else "es"} at that moment. 1 MB = 10⁶ bytes.
        {f"The run failed: {m.error}" if m.error else ""}""")


def report(r: Results, quick: bool) -> str:
    rows, all_met = table(r)
    lines = ["# Benchmarks: netlessons against plain bash", ""]
    lines.append(prose(f"""Generated by `python bench/run.py{' --quick' if quick else ''}` on
        {r.started:%Y-%m-%d %H:%M} UTC; the whole run took {r.minutes:.1f} minutes. Do not edit by hand."""))
    if quick:
        lines += ["", "**A quick smoke run**: small N, few rounds. These figures say nothing about targets."]
    if r.busy:
        lines += ["", prose(f"""**Taken on a shared machine**: {r.busy}. Other work competed for the two
            cores, so the figures are noisier and slower than on a quiet machine; the two sides of each row ran
            alternately, so the load hit both, but wall-time ratios still move with it. CPU per run moves less.
            For figures to hold against the targets, rerun `python bench/run.py` on a quiet machine.""")]
    post = prose(f"""For comparing machines, not a target: plain bash took {POST_BASH['bridge-3ns']} s for
        bridge-3ns and {POST_BASH[100]} s for bridge-n N=100 on the reference machine (2-core Debian 12, kernel
        6.18). CPU per run is user + system time of the process and every process it started (the benchmark
        adopts what a run leaves behind, so a lab shell still ending is counted too); for the crowd row it is
        the total divided by the number of runs.""")
    lines += ["", method(), "", *rows, "", post, ""]
    lines += ["## Time against N", "", "![bridge-n: wall time against N](benchmarks-scaling.svg)", ""]
    lines += ["## Memory", "", memory_text(r.memory, r.plan.rss_n), ""]
    lines += analysis(r, all_met)
    lines += ["## Machine", "", *[f"- {key}: {value}" for key, value in r.machine.items()]]
    lines += [f"- CPU time: {r.cpu}", "", "## All times (seconds)", ""]
    pairs = {"bridge-3ns": r.b3ns, **{f"bridge-n N={n}": p for n, p in r.sizes.items()}, "crowd": r.crowd}
    for name, pair in pairs.items():
        lines.append(f"- {name}: netlessons {', '.join(f'{t:.3f}' for t in pair.netlessons.times) or '—'}; "
                     f"bash {', '.join(f'{t:.3f}' for t in pair.bash.times) or '—'}")
    if not r.mininet.skipped:
        pairs["Mininet row"] = r.mininet
        lines.append(f"- Mininet row: netlessons {', '.join(f'{t:.3f}' for t in r.mininet.netlessons.times)}; "
                     f"Mininet {', '.join(f'{t:.3f}' for t in r.mininet.bash.times)}")
    startup = [(f"{name} ({'cold' if cold else 'warm'})", times) for (name, cold), times in r.start_up.items()]
    for name, times in [*startup, ("python -c pass", r.python_start)]:
        lines.append(f"- {name}: {', '.join(f'{t:.3f}' for t in times) or '—'}")
    failures = [(f"{name}, {side}", failure) for name, pair in pairs.items()
                for side in ("netlessons", "bash") for failure in getattr(pair, side).failures]
    if failures:
        lines += ["", "## Failed runs", "", "Each distinct message once, with how often it came:", ""]
        lines += [f"- {where} ({n}×): {message}" for (where, message), n in Counter(failures).items()]
    return "\n".join(lines) + "\n"
