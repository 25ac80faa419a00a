"""`netlessons doctor`: on this machine for real, and on simulated machines through fake probes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from netlessons import doctor
from netlessons.shell import CommandResult
from tests.helpers import ROOT

TOOL_NAMES = [tool.name for tool in doctor.TOOLS] + ["cni-bridge"]

# A healthy Debian machine, as the files under /proc describe it; paths missing here read as absent.
HEALTHY_FILES = {
    "/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
    "/proc/version": "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP\n",
    "/proc/sys/user/max_user_namespaces": "63704\n",
}


def fake_which(*hidden: str):
    """Every tool and the CNI plugin found in made-up places, except those hidden."""
    def which(name: str, path: str | None = None) -> str | None:
        if name in hidden:
            return None
        return f"/usr/lib/cni/{name}" if path else f"/usr/sbin/{name}"
    return which


def fake_read(files: dict[str, str | None] | None = None):
    """The healthy machine's files, with some replaced or added."""
    merged = {**HEALTHY_FILES, **(files or {})}
    return lambda path: merged.get(path)


class FakeRun:
    """Answers every command with success, except those whose argv contains a given word."""

    def __init__(self, failures: dict[str, CommandResult] | None = None,
                 answers: dict[str, CommandResult] | None = None) -> None:
        self.failures = failures or {}
        self.answers = answers or {}
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], timeout: float = 10.0) -> CommandResult:
        assert all(isinstance(arg, str) for arg in argv)
        self.calls.append(list(argv))
        for word, result in {**self.failures, **self.answers}.items():
            if word in argv:
                return result
        return CommandResult(" ".join(argv), 0, "", "", 0.0)


def result(status: int, stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult("fake", status, stdout, stderr, 0.0)


# Which lessons need which tool, on the simulated machine (the real answer renders every lesson).
FAKE_USES = {name: ["some-lesson"] for name in ("ip", "bridge", "brctl", "ping", "unshare", "sysctl", "iptables",
                                                "curl", "dnsmasq")}


def simulate(*hidden: str, run: FakeRun | None = None, root: bool = True,
             files: dict[str, str | None] | None = None) -> doctor.Report:
    return doctor.examine(which=fake_which(*hidden), run=run or FakeRun(), read=fake_read(files), root=root,
                          environ={}, uses=lambda: FAKE_USES)


# --- this machine, for real ------------------------------------------------------------------------------


def test_this_machine_can_run_the_lessons(host_unchanged):
    start = time.perf_counter()
    report = doctor.examine()
    took = time.perf_counter() - start
    text = doctor.render_text(report)
    assert report.can_run_lessons, text
    for name in ("sandbox", "veth (kernel)", "bridge (kernel)"):
        assert report.finding(name).ok, text
    for name in TOOL_NAMES:
        assert name in text
    assert took < 2.0, f"examine() took {took:.2f} s"


def test_json_is_valid_and_complete():
    report = doctor.examine()
    data = json.loads(doctor.to_json(report))
    assert data["can_run_lessons"] == report.can_run_lessons
    assert [f["name"] for f in data["findings"]] == [f.name for f in report.findings]
    assert set(data["findings"][0]) == {"name", "ok", "required", "detail", "fix"}


def test_brctl_really_hidden_is_reported_missing(host_unchanged):
    """The real module, in a mount namespace where brctl is /dev/null (not executable, so not found)."""
    brctl = shutil.which("brctl", path=doctor.shell.lab_environment()["PATH"])
    if brctl is None:
        pytest.skip("brctl is not installed here")
    prefix = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--user", "--map-root-user"])
    code = "from netlessons import doctor; print(doctor.to_json(doctor.examine()))"
    completed = subprocess.run(
        [*prefix, "sh", "-c", 'mount --bind /dev/null "$1" && shift && exec "$@"', "hide", brctl,
         sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert completed.returncode == 0, completed.stderr
    findings = {f["name"]: f for f in json.loads(completed.stdout)["findings"]}
    assert not findings["brctl"]["ok"]
    assert "bridge-utils" in findings["brctl"]["fix"]
    assert findings["ip"]["ok"]
    assert json.loads(completed.stdout)["can_run_lessons"]


# --- simulated machines ----------------------------------------------------------------------------------


def test_a_healthy_machine_passes_everything():
    report = simulate()
    assert report.can_run_lessons
    assert all(f.ok for f in report.findings), doctor.render_text(report)


def test_missing_brctl_is_optional_and_names_bridge_utils():
    report = simulate("brctl")
    brctl = report.finding("brctl")
    assert not brctl.ok and not brctl.required
    assert "bridge-utils" in brctl.fix
    assert "--flavor iproute2" in brctl.detail
    assert report.can_run_lessons
    assert "fix: apt-get install bridge-utils" in doctor.render_text(report)


def test_missing_ip_stops_the_lessons_and_names_iproute2():
    report = simulate("ip")
    assert not report.finding("ip").ok
    assert "iproute2" in report.finding("ip").fix
    assert not report.can_run_lessons
    assert "cannot run" in doctor.render_text(report)


@pytest.mark.parametrize("sysctl, value", [
    ("kernel.unprivileged_userns_clone", "0"),  # Debian before 11
    ("user.max_user_namespaces", "0"),
    ("kernel.apparmor_restrict_unprivileged_userns", "1"),  # Ubuntu 23.10 and newer
])
def test_disabled_user_namespaces_name_the_sysctl(sysctl, value):
    """An ordinary user whose every unshare is refused, and the sysctl that refuses it."""
    denied = result(1, stderr="unshare: unshare failed: Operation not permitted\n")
    path = "/proc/sys/" + sysctl.replace(".", "/")
    report = simulate(run=FakeRun(failures={"unshare": denied}), root=False, files={path: value + "\n"})
    userns = report.finding("user namespaces")
    assert not userns.ok and userns.required
    assert f"sysctl -w {sysctl}=" in userns.fix
    assert sysctl in report.finding("sandbox").fix
    assert not report.can_run_lessons
    # no namespace, no device test: the kernel findings say so instead of blaming the kernel
    assert "not tried" in report.finding("veth (kernel)").detail


def test_as_root_blocked_user_namespaces_only_warn():
    denied = result(1, stderr="unshare: write failed /proc/self/uid_map: Operation not permitted\n")
    report = simulate(run=FakeRun(failures={"setpriv": denied}), root=True,
                      files={"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1\n"})
    userns = report.finding("user namespaces")
    assert not userns.ok and not userns.required
    assert "kernel.apparmor_restrict_unprivileged_userns" in userns.fix
    assert report.can_run_lessons


def test_module_files_decide_when_no_namespace_can_be_made():
    denied = result(1, stderr="unshare: unshare failed: Operation not permitted\n")
    report = simulate(run=FakeRun(failures={"unshare": denied}), files={
        "/proc/modules": "veth 40960 0 - Live 0x0000000000000000\n",
        "/lib/modules/6.1.0-18-amd64/modules.builtin": "kernel/net/bridge/bridge.ko\n",
        "/lib/modules/6.1.0-18-amd64/modules.dep": "kernel/drivers/net/dummy.ko.xz:\n",
    })
    assert report.finding("veth (kernel)").ok
    assert report.finding("bridge (kernel)").ok
    assert "built in" in report.finding("bridge (kernel)").detail
    assert not report.finding("vxlan (kernel)").ok


def test_a_kernel_without_veth_fails_with_modprobe():
    unknown = result(2, stderr="Error: Unknown device type.\n")
    report = simulate(run=FakeRun(failures={"veth": unknown}))
    veth = report.finding("veth (kernel)")
    assert not veth.ok and veth.required
    assert "Unknown device type" in veth.detail and "modprobe veth" in veth.fix
    assert not report.can_run_lessons


def test_kernel_probes_run_only_in_throwaway_namespaces():
    run = FakeRun()
    simulate(run=run)
    creating = [argv for argv in run.calls if "add" in argv]
    assert len(creating) == 3
    assert all(argv[:2] == ["unshare", "--net"] for argv in creating)


def test_wsl_is_reported():
    report = simulate(files={"/proc/version": "Linux version 5.15.153.1-microsoft-standard-WSL2 (gcc) #1\n"})
    assert "WSL 2" in report.finding("platform").detail
    assert report.finding("platform").ok
    old = simulate(files={"/proc/sys/kernel/osrelease": "4.4.0-19041-Microsoft\n",
                          "/proc/version": "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)\n"})
    assert not old.finding("platform").ok
    assert "WSL 2" in old.finding("platform").fix


def test_docker_forward_drop_warns_about_host_mode():
    drop = result(0, stdout="-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n")
    report = simulate(run=FakeRun(answers={"FORWARD": drop}),
                      files={"/proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
                             "/proc/net/ip_tables_names": "filter\n"})
    finding = report.finding("br_netfilter")
    assert not finding.ok and not finding.required
    assert "--host" in finding.detail and "--host" in finding.fix
    assert report.can_run_lessons


def test_legacy_iptables_is_not_listed_when_it_has_no_filter_table():
    """Listing would load iptable_filter and so create a filter table on the machine."""
    run = FakeRun()
    files = fake_read({"/proc/sys/net/bridge/bridge-nf-call-iptables": "1\n"})
    doctor.examine(which=lambda name, path=None: "/nowhere/iptables-legacy" if name == "iptables" else None,
                   run=run, read=files, root=True, environ={})
    assert not [argv for argv in run.calls if "FORWARD" in argv]


def test_cni_path_is_honoured(tmp_path):
    plugin = tmp_path / "bridge"
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    report = doctor.examine(run=FakeRun(), read=fake_read(), environ={"CNI_PATH": str(tmp_path)})
    assert report.finding("cni-bridge").ok
    assert report.finding("cni-bridge").detail == str(plugin)


def test_text_is_aligned_with_fixes_under_failures():
    text = doctor.render_text(simulate("brctl", "curl"))
    lines = [line for line in text.splitlines() if line.strip()]
    column = lines[0].index("/usr/sbin/ip")
    for line in lines[:-1]:
        assert line[column - 2:column] == "  " and line[column] != " ", line
    brctl = next(i for i, line in enumerate(lines) if line.split()[1] == "brctl")
    assert lines[brctl].startswith("warn") and lines[brctl + 1].strip().startswith("fix: ")
    assert sum(line.strip().startswith("fix:") for line in lines) == 2


# --- which lessons need a tool ---------------------------------------------------------------------------


def test_a_missing_tool_names_the_real_lessons_that_need_it():
    """With the real lessons rendered: brctl is bridge-3ns's default flavor, curl the service lessons'."""
    report = doctor.examine(which=fake_which("brctl", "curl"), run=FakeRun(), read=fake_read(), root=True,
                            environ={})
    assert "bridge-3ns" in report.finding("brctl").detail
    assert "bridge-gateway-nat (--flavor brctl)" in report.finding("brctl").detail
    assert "clusterip-kube-proxy" in report.finding("curl").detail
    assert "netns-basics" not in report.finding("curl").detail


def test_a_missing_tool_no_built_in_lesson_needs_is_no_problem():
    """A tool that no built-in lesson runs (here: nft, on a course without the nftables lessons) is no loss."""
    assert "nft" in doctor.lessons_by_tool()  # kube-proxy-nftables and dual-stack need it today
    uses = {tool: lessons for tool, lessons in doctor.lessons_by_tool().items() if tool != "nft"}
    nft = doctor.examine(which=fake_which("nft"), run=FakeRun(), read=fake_read(), root=True,
                         environ={}, uses=lambda: uses).finding("nft")
    assert nft.ok and "no built-in lesson needs it" in nft.detail


def test_every_tool_doctor_checks_is_one_a_lesson_needs_or_says_why_not():
    uses = doctor.lessons_by_tool()
    for tool in doctor.TOOLS:
        if tool.name not in uses and not tool.required:  # a required one, netlessons itself needs (unshare)
            assert "your own" in tool.used_for, f"{tool.name}: no built-in lesson needs it; say what does"


def test_a_missing_tool_netlessons_itself_needs_stops_the_lessons():
    unshare = doctor.examine(which=fake_which("unshare"), run=FakeRun(), read=fake_read(), root=True,
                             environ={}, uses=dict).finding("unshare")
    assert not unshare.ok and "the sandbox" in unshare.detail


# --- the neighbour table shared by every lab -------------------------------------------------------------

ARP_STAT = ("entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast "
            "rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls\n"
            "00000006 00000112 000000c1 00000001   00000348 0000006d 00000000   00000000         00000000         "
            "00000022         00000000       00000000            {0}\n"
            "00000006 00000118 00000163 00000002   00000400 0000011f 00000000   00000000         00000000         "
            "00000000         00000000       00000000            {1}\n")
GC_THRESH3 = "/proc/sys/net/ipv4/neigh/default/gc_thresh3"


def test_the_neighbour_limit_says_how_many_large_bridge_n_runs_fit():
    small = simulate(files={GC_THRESH3: "1024\n", "/proc/net/stat/arp_cache": ARP_STAT.format("0" * 8, "0" * 8)})
    large = simulate(files={GC_THRESH3: "8192\n", "/proc/net/stat/arp_cache": ARP_STAT.format("0" * 8, "0" * 8)})
    assert small.finding("neighbour table").ok
    assert "gc_thresh3 = 1024" in small.finding("neighbour table").detail
    assert "room for 2 such runs" in small.finding("neighbour table").detail
    assert "room for 16 such runs" in large.finding("neighbour table").detail


def test_an_overflowed_neighbour_table_warns_with_the_sysctl_to_raise():
    """table_fulls is counted per CPU, in hexadecimal: 0x10 + 0x1 = 17."""
    report = simulate(files={GC_THRESH3: "1024\n", "/proc/net/stat/arp_cache": ARP_STAT.format("00000010",
                                                                                              "00000001")})
    table = report.finding("neighbour table")
    assert not table.ok and not table.required and report.can_run_lessons
    assert "full 17 time(s)" in table.detail
    assert "sysctl -w net.ipv4.neigh.default.gc_thresh3=" in table.fix


def test_an_unreadable_neighbour_limit_is_said_plainly():
    table = simulate(files={GC_THRESH3: None}).finding("neighbour table")
    assert table.ok and "cannot be read" in table.detail


def test_this_machine_reports_its_real_neighbour_limit():
    with open(GC_THRESH3) as f:
        limit = f.read().strip()
    assert f"gc_thresh3 = {limit} " in doctor.examine().finding("neighbour table").detail
