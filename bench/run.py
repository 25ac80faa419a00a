"""Benchmarks: netlessons against the plain bash scripts it prints, measured side by side in one run.

    python bench/run.py                  full run (about ten minutes on two cores); writes
                                         docs/benchmarks.md and docs/benchmarks-scaling.svg
    python bench/run.py --quick          short smoke run; writes the same two files to bench/results/
    python bench/run.py --netlessons P   time the netlessons executable P

The plain-bash side runs each printed script in the sandbox netlessons builds (its own setup script), so
the two sides differ only in what netlessons adds. Where Mininet is installed (and the user is root),
`run bridge-3ns` is also timed against Mininet's three-host bridge test. The two commands of a pair run one
after the other, the order flipping every round, after one warm-up run each; the table compares their medians.
This is a benchmark, not a test: nothing in tests/ or CI runs it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import measure
from chart import scaling_svg
from measure import ENV, REPO, Netlessons, Plan
from report import CLI, Results, report, table


def print_scripts(tool: Netlessons, plan: Plan, folder: Path) -> dict[str | int, Path]:
    """`netlessons print` of every lesson the plain-bash side runs, once, before anything is timed."""
    lessons: dict[str | int, list[str]] = {"bridge-3ns": ["bridge-3ns"]}
    lessons.update({n: ["bridge-n", "--set", f"n={n}"] for n in plan.sizes})
    scripts = {}
    for key, args in lessons.items():
        printed = subprocess.run(tool("print", *args), cwd=tool.cwd, env=ENV, check=True, capture_output=True,
                                 text=True)
        scripts[key] = Path(folder, f"{key}.sh")
        scripts[key].write_text(printed.stdout)
    return scripts


def measure_all(tool: Netlessons, plan: Plan) -> Results:
    started, clock = datetime.datetime.now(datetime.timezone.utc), time.perf_counter()
    load_before, cpu_before = os.getloadavg(), measure.cpu_seconds()
    measure.become_subreaper()
    with tempfile.TemporaryDirectory(prefix="netlessons-bench-") as folder:
        # A per-user cache of the benchmark's own: filled by the warm-up runs, never one left by another version.
        ENV["NETLESSONS_CACHE_DIR"] = str(Path(folder, "cache"))
        scripts = print_scripts(tool, plan, Path(folder))

        def run(*args: str) -> list[str]:
            return tool("run", *args, "--json")

        def bash(key: str | int) -> list[str]:
            return measure.bash_in_sandbox(scripts[key])

        b3ns = measure.compare("bridge-3ns", run("bridge-3ns"), bash("bridge-3ns"), tool.cwd, plan.reps_3ns)
        mininet = measure.Pair(skipped=measure.mininet_available())
        if not mininet.skipped:
            mininet = measure.compare("bridge-3ns against Mininet", run("bridge-3ns"), measure.MININET, tool.cwd,
                                      plan.reps_3ns, expect=measure.MININET_PASSED, reference="mininet")
        sizes = {n: measure.compare(f"bridge-n N={n}", run("bridge-n", "--set", f"n={n}"), bash(n), tool.cwd,
                                    reps) for n, reps in plan.sizes.items()}
        crowd = measure.compare(f"{plan.crowd} x bridge-3ns at once", run("bridge-3ns"), bash("bridge-3ns"),
                                tool.cwd, plan.reps_crowd, copies=plan.crowd)
        alone, n_profile = measure.time_alone, ["bridge-n", "--set", f"n={plan.profile_n}"]
        start_up = {}
        for name in CLI:
            for cold in (False, True):
                label = f"netlessons {name} ({'cold' if cold else 'warm'} cache)"
                start_up[name, cold] = alone(label, tool(*name.split()), tool.cwd, plan.reps_cli, cold)
        results = Results(
            plan, b3ns, sizes, crowd, mininet=mininet, start_up=start_up,
            python_start=alone("python -c pass", [tool.python, "-c", "pass"], tool.cwd, 5),
            memory=measure.peak_memory(run("bridge-n", "--set", f"n={plan.rss_n}"), tool.cwd),
            imports={name: measure.import_profile(tool, tuple(name.split())) for name in CLI + ("run bridge-3ns",)},
            profiles={f"bridge-n N={plan.profile_n}": measure.run_profile(tool, n_profile),
                      "bridge-3ns": measure.run_profile(tool, ["bridge-3ns"])},
            machine=measure.machine(tool, load_before), started=started,
            teardown=measure.teardown_waits(Path(folder)))
    elapsed = time.perf_counter() - clock
    busy, ours = (after - before for after, before in zip(measure.cpu_seconds(), cpu_before, strict=True))
    results.minutes = elapsed / 60
    capacity = elapsed * (os.cpu_count() or 1)
    results.cpu = (f"of the {capacity:.0f} CPU-seconds the run lasted, {busy:.0f} were busy: {ours:.0f} "
                   f"in this benchmark's processes, {busy - ours:.0f} elsewhere (other processes, and kernel "
                   "work such as tearing down namespaces)")
    # Busy: more work elsewhere than our own namespace teardown would explain, or a load before we began.
    if busy - ours > 0.1 * capacity or load_before[0] > 1.0:
        results.busy = (f"load average {load_before[0]:.1f} before the run began; {busy - ours:.0f} of its "
                        f"{capacity:.0f} CPU-seconds went to work outside this benchmark's processes")
    return results


def write(results: Results, out: Path, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    series = {name: [(n, measure.median(getattr(pair, side).times)) for n, pair in results.sizes.items()
                     if getattr(pair, side).times]
              for name, side in (("netlessons run", "netlessons"), ("plain bash", "bash"))}
    if any(series.values()):
        (out / "benchmarks-scaling.svg").write_text(scaling_svg({k: v for k, v in series.items() if v}))
    (out / "benchmarks.md").write_text(report(results, quick))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run, written to bench/results/")
    parser.add_argument("--netlessons", metavar="PATH", help="the netlessons executable to time "
                        "(default: the one beside this Python, else `python -m netlessons` in the checkout)")
    options = parser.parse_args()
    tool = measure.find_netlessons(options.netlessons)
    print(f"netlessons: {shlex.join(tool.argv)} (Python {tool.python})", flush=True)
    if os.getloadavg()[0] > 1:
        print(f"warning: the machine is busy (load average {os.getloadavg()[0]:.2f}); figures will be noisy",
              flush=True)
    results = measure_all(tool, measure.QUICK if options.quick else Plan())
    out = REPO / ("bench/results" if options.quick else "docs")
    write(results, out, options.quick)
    print("\n".join(table(results)[0]))
    print(f"written: {out}/benchmarks.md, benchmarks-scaling.svg ({results.minutes:.1f} min)")


if __name__ == "__main__":
    main()
