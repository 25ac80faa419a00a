"""Kernel features: one registry, found the same way everywhere, with advice that fits the kernel."""

from __future__ import annotations

import gzip
import os
import subprocess

import pytest

from netlessons import doctor, kernel
from netlessons.shell import CommandResult
from tests.helpers import netlessons

# How to make each device type that has one, in a throwaway namespace (a parent link first where needed).
DEVICES = {
    "veth": "ip link add nlk0 type veth peer name nlk1",
    "bridge": "ip link add nlk0 type bridge",
    "macvlan": "ip link add nlp0 type veth peer name nlp1 && ip link add nlk0 link nlp0 type macvlan",
    "ipvlan": "ip link add nlp0 type veth peer name nlp1 && ip link add nlk0 link nlp0 type ipvlan",
    "vlan": "ip link add nlp0 type veth peer name nlp1 && ip link add link nlp0 name nlk0 type vlan id 5",
    "dummy": "ip link add nlk0 type dummy",
    "bridge_vlan_filtering": "ip link add nlk0 type bridge vlan_filtering 1",
}


def simulate(files: dict[str, str] | None = None) -> doctor.Report:
    """doctor on a made-up machine where every tool is found and every probe succeeds."""
    shown = {"/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n", **(files or {})}
    return doctor.examine(which=lambda name, path=None: f"/usr/sbin/{name}", read=shown.get, root=True,
                          run=lambda argv, timeout=10.0: CommandResult(" ".join(argv), 0, "", "", 0.0),
                          environ={}, uses=lambda: {})


def machine(config: str = "", files: dict[str, bytes] | None = None, gz: bool = True):
    """A made-up kernel: its build configuration and the other files it shows."""
    release = os.uname().release
    shown = dict(files or {})
    if config:
        shown["/proc/config.gz" if gz else f"/boot/config-{release}"] = gzip.compress(config.encode()) if gz \
            else config.encode()
    return {"read": lambda path: shown.get(path), "exists": lambda path: path in shown}


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_what_the_files_say_agrees_with_the_kernel_itself(name):
    """The registry's answer for this machine is the one the kernel gives when asked to make the device."""
    prefix = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--user", "--map-root-user"])
    made = subprocess.run([*prefix, "sh", "-c", DEVICES[name]], capture_output=True, text=True, timeout=30)
    found = kernel.status(name)
    assert found.present == (made.returncode == 0), (found, made.stderr)
    if not found.present:
        assert found.advice


def test_a_module_that_is_not_loaded_is_loaded_with_modprobe():
    found = kernel.status("dummy", **machine("CONFIG_MODULES=y\nCONFIG_DUMMY=m\n"))
    assert not found.present
    assert "sudo modprobe dummy" in found.advice


def test_the_vlan_feature_names_its_module_8021q():
    found = kernel.status("vlan", **machine("CONFIG_MODULES=y\nCONFIG_VLAN_8021Q=m\n"))
    assert "modprobe 8021q" in found.advice


def test_a_kernel_without_loadable_modules_is_not_told_to_modprobe():
    found = kernel.status("ipvlan", **machine("# CONFIG_MODULES is not set\n# CONFIG_IPVLAN is not set\n"))
    assert not found.present
    assert "modprobe" not in found.advice.replace("modprobe cannot help", "")
    assert "CONFIG_MODULES" in found.advice and "CONFIG_IPVLAN" in found.advice


def test_a_build_option_is_never_a_module_to_load():
    found = kernel.status("bridge_vlan_filtering", **machine("CONFIG_MODULES=y\nCONFIG_BRIDGE=m\n"))
    assert not found.present
    assert "build option" in found.advice and "sudo modprobe" not in found.advice


def test_built_in_loaded_or_marked_counts_as_present():
    assert kernel.status("macvlan", **machine("CONFIG_MACVLAN=y\n")).present
    assert kernel.status("macvlan", **machine("CONFIG_MACVLAN=y\n", gz=False)).present
    assert kernel.status("vxlan", **machine(files={"/sys/module/vxlan": b""})).present
    assert kernel.status("vlan", **machine("# CONFIG_VLAN_8021Q is not set\n", {"/proc/net/vlan": b""})).present
    assert kernel.status("dummy", **machine(files={"/proc/modules": b"dummy 16384 0 - Live 0x0\n"})).present


def test_nothing_readable_means_assumed_present():
    found = kernel.status("ipvs", **machine())
    assert found.present and "assumed" in found.evidence


def test_an_unknown_feature_names_the_known_ones(tmp_path):
    (tmp_path / "k.toml").write_text('''id = "k"
title = "t"
summary = "s"
[[steps]]
id = "a"
title = "t"
explain = "e"
run = "{{ needs('kernel:vxlna') }}true"
''')
    done = netlessons("validate", str(tmp_path / "k.toml"))
    assert done.returncode == 2, done.stderr
    assert "vxlna" in done.stderr and "vxlan" in done.stderr and "macvlan" in done.stderr
    assert "Traceback" not in done.stderr


def lesson_needing(folder, feature: str, command: str) -> None:
    (folder / f"needs-{feature}.toml").write_text(f'''id = "needs-{feature}"
title = "t"
summary = "s"
[[steps]]
id = "a"
title = "t"
explain = "e"
run = "{command}"
''')


def test_the_printed_script_names_its_kernel_features(tmp_path):
    lesson_needing(tmp_path, "macvlan", "{{ macvlan.add('c0', 'p0') }}")
    done = netlessons("print", "needs-macvlan", "--lessons-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    header = done.stdout.split("set -euo pipefail")[0]
    assert "macvlan (CONFIG_MACVLAN)" in header


@pytest.mark.parametrize("feature, macro", [("dummy", "{{ dummy.add('d0') }}"),
                                            ("vlan", "{{ vlan.add('v0', 'lo', 5) }}"),
                                            ("ipvlan", "{{ ipvlan.add('i0', 'lo') }}")])
def test_a_lesson_needing_an_absent_feature_is_refused_before_it_runs(tmp_path, feature, macro):
    if kernel.feature_present(feature):
        pytest.skip(f"this kernel has {feature}")
    lesson_needing(tmp_path, feature, macro)
    done = netlessons("run", f"needs-{feature}", "--lessons-dir", str(tmp_path))
    assert done.returncode == 3, done.stderr
    assert feature in done.stderr and "Traceback" not in done.stderr
    assert "[1/1]" not in done.stdout  # nothing ran


def test_doctor_shows_every_feature_of_the_registry():
    report = simulate()
    names = {f.name for f in report.findings}
    assert {f"{name} (kernel)" for name in kernel.FEATURES if name != "br_netfilter"} <= names
    assert "br_netfilter" in names


def test_doctor_gives_the_registry_advice_for_a_feature_of_ones_own():
    config = f"/boot/config-{os.uname().release}"
    report = simulate(files={config: "# CONFIG_MODULES is not set\n# CONFIG_DUMMY is not set\n"})
    dummy = report.finding("dummy (kernel)")
    assert not dummy.ok and not dummy.required
    assert "CONFIG_MODULES" in dummy.fix
    assert report.can_run_lessons


def test_the_registry_is_what_the_templates_declare():
    """Every kernel feature a built-in macro needs is in the registry (so none is misspelt)."""
    from netlessons.catalog import data_dir
    from netlessons.render import family_docs

    declared = {f for _, macros in family_docs(data_dir("templates")).values() for m in macros for f in m.kernel}
    assert declared <= set(kernel.FEATURES)
    assert {"macvlan", "ipvlan", "vlan", "dummy", "bridge_vlan_filtering", "nftables"} <= declared


def test_doctor_module_lists_its_probes_from_the_registry():
    assert doctor.FEATURE_COMMANDS["vxlan"] == list(kernel.FEATURES["vxlan"].probe)
