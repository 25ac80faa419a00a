"""The results as docs/benchmarks.md: the table with targets and verdicts, memory, where the extra time goes
(from the profiles), the machine, and every single time."""

from __future__ import annotations

import datetime
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from measure import MB, SANDBOX, Memory, Pair, Plan, median

# The bash side on the 2-core Debian 12 machine of /work/shared/reference/lessons-from-the-post.md.
POST_BASH = {"bridge-3ns": 0.2, 10: 0.37, 50: 1.8, 100: 3.3, 200: 6.7, "crowd": 4.2}
STEPS_PER_NAMESPACE = 9  # bridge-n: add-ns, add-veth, up-veth, plug-in, move-in, 2 × configure, ping, del-ns


@dataclass
class Results:
    plan: Plan
    b3ns: Pair
    sizes: dict[int, Pair]
    crowd: Pair
    print_times: list[float]
    list_times: list[float]
    python_start: list[float]
    memory: Memory
    imports: list[tuple[str, int, float]]
    profiles: dict[str, dict]  # label → profile
    machine: dict[str, str]
    started: datetime.datetime
    minutes: float = 0.0
    busy: str = ""  # how busy the machine was with other work, when it was
    cpu: str = ""  # where the machine's CPU time went during the run


# --- the table ----------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else "**MET**" if ok else "**NOT MET**"


def seconds(times: list[float]) -> str:
    return f"{median(times):.3f} s" if times else "—"


def table(r: Results) -> tuple[list[str], bool]:
    """The results table, and whether every target was met."""
    head = "what | compared with | rounds | netlessons | plain bash | ratio | bash on the post's machine"
    lines = [f"| {head} | target | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    verdicts: list[bool | None] = []

    def add(what: str, compared: str, rounds: int, cells: tuple[str, str, str], post: float | None,
            target: str, ok: bool | None) -> None:
        if target != "—":
            verdicts.append(ok)
        post_cell = f"{post:g} s" if post else "—"
        lines.append(f"| {what} | {compared} | {rounds} | {' | '.join(cells)} | {post_cell} | {target} | "
                     f"{verdict(ok) if target != '—' else '—'} |")

    def add_pair(what: str, compared: str, rounds: int, pair: Pair, post: float | None, target: str,
                 limit: float | None, all_pass: bool = False) -> None:
        ok = None if limit is None else pair.ratio is not None and pair.ratio <= limit
        if all_pass and pair.failed:
            ok = False
        ratio = f"{pair.ratio:.2f}×" if pair.ratio else "—"
        add(what, compared, rounds, (pair.netlessons.cell(), pair.bash.cell(), ratio), post, target, ok)

    plan, same = r.plan, "the printed script under bash, same sandbox"
    add_pair("`netlessons run bridge-3ns` (all checks)", same, plan.reps_3ns, r.b3ns, POST_BASH["bridge-3ns"],
             "≤ 1.5× (aim 1.25×)", 1.5)
    for n, rounds in plan.sizes.items():
        add_pair(f"`netlessons run bridge-n --set n={n}`", same, rounds, r.sizes[n], POST_BASH.get(n),
                 *(("≤ 1.15×", 1.15) if n == 100 else ("—", None)))
    growth, bash_growth = None, "—"
    if 100 in r.sizes and 200 in r.sizes:
        growth = median(r.sizes[200].netlessons.times) / median(r.sizes[100].netlessons.times)
        bash_growth = f"bash: {median(r.sizes[200].bash.times) / median(r.sizes[100].bash.times):.2f}×"
    add("bridge-n: netlessons at N=200 ÷ netlessons at N=100", bash_growth, plan.sizes.get(200, 0),
        (f"{growth:.2f}×" if growth else "—", "—", "—"), None, "≤ 2.2×",
        None if growth is None else growth <= 2.2)
    add_pair(f"{plan.crowd} × `netlessons run bridge-3ns` at once", f"{plan.crowd} printed scripts at once",
             plan.reps_crowd, r.crowd, POST_BASH["crowd"] if plan.crowd == 30 else None,
             f"all {plan.crowd} pass in both; ≤ 1.5×", 1.5, all_pass=True)
    for name, times in (("print bridge-3ns", r.print_times), ("list", r.list_times)):
        add(f"`netlessons {name}`", "—", plan.reps_cli, (seconds(times), "—", "—"), None, "median ≤ 0.15 s",
            bool(times) and median(times) <= 0.15)
    m = r.memory
    memory = (f"{m.biggest / MB:.1f} MB peak RSS of `{m.biggest_name}`; "
              f"{m.tree_peak / MB:.1f} MB PSS of the whole process tree")
    ok = False if m.error else None if plan.rss_n != 200 else max(m.biggest, m.tree_peak) <= 60 * MB
    add(f"peak memory of `netlessons run bridge-n --set n={plan.rss_n}`", "—", 1, (memory, "—", "—"), None,
        "≤ 60 MB (both figures)", ok)
    return lines, all(v is True for v in verdicts)


# --- the profiles -------------------------------------------------------------------------------------------


def short(name: str) -> str:
    """A profile entry without the long folder names."""
    if name.startswith("~:0("):
        return name[4:-1]  # a built-in
    return re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", name)


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
    ("starting the sandbox (`LabShell.__init__`, imports included)", "netlessons/shell.py", "__init__", ""),
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
    largest = sorted((row for row in r.imports if row[1] <= 1), key=lambda row: -row[2])[:10]
    lines.append(prose(f"""**Start-up.** A bare `python -c pass` takes {median(r.python_start):.3f} s here,
        `netlessons print bridge-3ns` {median(r.print_times):.3f} s. `python -X importtime -m netlessons print
        bridge-3ns` counts {sum(t for _, depth, t in r.imports if depth == 0):.3f} s of imports in it
        (importtime itself slows imports down a little). The largest, cumulative, nested ones indented:"""))
    lines += ["", "| module | cumulative import time |", "|---|---:|"]
    lines += [f"| {'  ' * depth}`{name}` | {t * 1000:.1f} ms |" for name, depth, t in largest]
    lines += ["", prose("""**A run.** cProfile of `netlessons run … --json`: wall clock, main thread only
        (sh's reader threads are not in it); the profiler slows the Python parts down, so read these as shares
        of the time rather than as absolute times."""), "", *cost_table(r)]
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
        fixed = b3["total"] - find(b3, "netlessons/runner.py", "run_step")[0]
        lines += ["", prose(f"""**In short.** For bridge-3ns netlessons needs {extra:.3f} s more than bash,
            which needs {median(r.b3ns.bash.times):.3f} s for the whole script, sandbox included. In the
            profile the lesson's own commands take {commands:.3f} s and the state checks {checks:.3f} s (each
            check is one more `ip` process, and some poll until an asynchronous change has landed); everything
            outside the steps (imports, rendering, sandbox start and end, the report) is a fixed {fixed:.3f} s
            per run. The crowd row pays that fixed cost once per run, with all the runs sharing two
            cores.""")]
    line = extra_per_namespace(r.sizes)
    if line:
        per_step = line[0] * 1000 / STEPS_PER_NAMESPACE
        lines += ["", prose(f"""**Growth with N.** A straight line through netlessons' extra time over bash
            at each N gives {line[1]:.3f} s plus {line[0] * 1000:.1f} ms per namespace, about
            {per_step:.2f} ms for each of its {STEPS_PER_NAMESPACE} steps: the round trip of every command
            through the lab shell, rendering each step, and its share of the JSON report.""")]
    rows = [("bridge-3ns alone", r.b3ns), ("bridge-3ns at once", r.crowd)]
    rows += [(f"bridge-n N={n}", pair) for n, pair in r.sizes.items()]
    failed = [(name, pair) for name, pair in rows if pair.failed]
    if failed:
        counts = "; ".join(f"{name}: {len(p.netlessons.failures)} of {p.netlessons.runs} netlessons runs and "
                           f"{len(p.bash.failures)} of {p.bash.runs} plain-bash runs" for name, p in failed)
        lines += ["", prose(f"""**Failed runs.** {counts}. What they said is under *Failed runs* at the end.
            A failed run stops early, so failures make their side look faster, not slower.""")]
    return lines + [""]


# --- the whole page -----------------------------------------------------------------------------------------


def method() -> str:
    return prose(f"""Each row times netlessons and the plain bash script that `netlessons print` gives for
        the same lesson and parameters. Both run in the same kind of throwaway sandbox (`{' '.join(SANDBOX)}`,
        plus `--user --map-root-user` when not root): the bash side mounts a tmpfs on /run/netns (or on /run),
        switches on loopback and runs `bash script.sh`, as netlessons does before its first step. Scripts are
        printed once, before any timing. Every time is `time.perf_counter()` around starting the process(es)
        and waiting for them; output goes to an unread temporary file (netlessons with `--json`) that is only
        read when a run fails. Each pair runs once to warm up, then alternately, the order flipping every
        round. Times are medians; ratio = netlessons ÷ bash. A failed run still counts as a time, and is
        listed at the end. netlessons keeps a per-user cache of rendered lessons (as checked JSON) under
        ~/.cache/netlessons; the warm-up runs fill it, so these are the times with a warm cache.""")


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
        lines += ["", prose(f"""**The machine was not idle**: {r.busy}. Other work competed for the two
            cores, so the figures are noisier and slower than on a quiet machine.""")]
    post = prose("""\"bash on the post's machine\" is the plain-bash figure of the reference machine
        (2-core Debian 12, kernel 6.18): for comparing machines, not a target.""")
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
    for name, times in (("print bridge-3ns", r.print_times), ("list", r.list_times),
                        ("python -c pass", r.python_start)):
        lines.append(f"- {name}: {', '.join(f'{t:.3f}' for t in times) or '—'}")
    failures = [(f"{name}, {side}", failure) for name, pair in pairs.items()
                for side in ("netlessons", "bash") for failure in getattr(pair, side).failures]
    if failures:
        lines += ["", "## Failed runs", "", "Each distinct message once, with how often it came:", ""]
        lines += [f"- {where} ({n}×): {message}" for (where, message), n in Counter(failures).items()]
    return "\n".join(lines) + "\n"
