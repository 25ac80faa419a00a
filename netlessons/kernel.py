"""The kernel features a lesson can ask for with `needs('kernel:NAME')`, and how to tell whether this kernel has
them. A sandbox cannot load a module, so what the kernel lacks is named before a lesson starts, with advice
that fits: `modprobe` for a module that is merely not loaded, a different kernel for a build option that is
off or for a kernel that cannot load modules at all.

Each feature is looked for in this order: its module under /sys/module (loaded, or built in with parameters
or a version), its own file under /proc or /sys, /proc/modules, then the kernel's build configuration
(/proc/config.gz or /boot/config-RELEASE). When none of those can be read, the feature is assumed to be there
and the command itself will say otherwise. `netlessons doctor` also creates each device type for real in a
throwaway network namespace (the `probe` of a feature).
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from typing import Callable

Read = Callable[[str], "bytes | None"]
Exists = Callable[[str], bool]


@dataclass(frozen=True)
class KernelFeature:
    name: str  # as a lesson asks for it: needs('kernel:NAME')
    config: str  # the build option, without CONFIG_
    what: str  # what it gives a lesson, in a few words
    module: str = ""  # the loadable module; "" for an option that no module can add
    marker: str = ""  # a file under /proc or /sys that exists while the feature is in the running kernel
    probe: tuple[str, ...] = ()  # a command that creates the device in a throwaway namespace (doctor)


FEATURES: dict[str, KernelFeature] = {f.name: f for f in (
    KernelFeature("veth", "VETH", "veth pairs", "veth",
                  probe=("ip", "link", "add", "nlprobe0", "type", "veth", "peer", "name", "nlprobe1")),
    KernelFeature("bridge", "BRIDGE", "Linux bridges", "bridge",
                  probe=("ip", "link", "add", "nlprobe0", "type", "bridge")),
    KernelFeature("vxlan", "VXLAN", "VXLAN tunnel devices", "vxlan",
                  probe=("ip", "link", "add", "nlprobe0", "type", "vxlan", "id", "42", "dstport", "4789")),
    KernelFeature("macvlan", "MACVLAN", "macvlan children of a link", "macvlan"),
    KernelFeature("ipvlan", "IPVLAN", "ipvlan children of a link", "ipvlan"),
    KernelFeature("vlan", "VLAN_8021Q", "802.1Q VLAN links", "8021q", marker="/proc/net/vlan"),
    KernelFeature("dummy", "DUMMY", "dummy links", "dummy"),
    KernelFeature("bridge_vlan_filtering", "BRIDGE_VLAN_FILTERING", "VLAN filtering on a bridge"),
    KernelFeature("br_netfilter", "BRIDGE_NETFILTER", "iptables for bridged frames", "br_netfilter",
                  marker="/proc/sys/net/bridge"),
    KernelFeature("nftables", "NF_TABLES", "nftables tables, chains, rules and sets", "nf_tables"),
    KernelFeature("ipvs", "IP_VS", "the IPVS load balancer", "ip_vs", marker="/proc/net/ip_vs"),
)}


def known_words() -> str:
    return ", ".join(sorted(FEATURES))


def check_known(name: str) -> KernelFeature:
    """The feature of that name; ValueError naming the known ones for any other."""
    if name not in FEATURES:
        raise ValueError(f"unknown kernel feature {name!r} in needs('kernel:{name}'); the known ones: "
                         f"{known_words()}")
    return FEATURES[name]


def requirement_words(name: str) -> str:
    """How a lesson's need is shown in `list`, `explain` and a printed script: `vxlan (CONFIG_VXLAN)`."""
    feature = FEATURES.get(name)
    return f"{name} (CONFIG_{feature.config})" if feature else name


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(1 << 22)
    except OSError:
        return None


def config_text(read: Read = read_bytes) -> str:
    """The running kernel's build configuration, or "" when none can be read."""
    for path in ("/proc/config.gz", f"/boot/config-{os.uname().release}"):
        data = read(path)
        if not data:
            continue
        try:
            return (gzip.decompress(data) if path.endswith(".gz") else data).decode(errors="replace")
        except (OSError, EOFError, zlib.error):
            continue
    return ""


def _config_value(config: str, symbol: str) -> str:
    """'y', 'm', or '' (not set) for CONFIG_SYMBOL."""
    prefix = f"CONFIG_{symbol}="
    for line in config.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return ""


@dataclass(frozen=True)
class FeatureStatus:
    feature: KernelFeature
    present: bool
    evidence: str  # where the answer comes from
    advice: str = ""  # what to do when it is missing


def status(name: str, read: Read = read_bytes, exists: Exists = os.path.exists) -> FeatureStatus:
    """Whether the running kernel has the feature, why we think so, and what to tell the user if not."""
    feature = FEATURES.get(name) or KernelFeature(name, name.upper(), name, module=name)
    if feature.module and exists(f"/sys/module/{feature.module}"):
        return FeatureStatus(feature, True, f"loaded or built in (/sys/module/{feature.module})")
    if feature.marker and exists(feature.marker):
        return FeatureStatus(feature, True, f"present ({feature.marker})")
    modules = (read("/proc/modules") or b"").decode(errors="replace")
    if feature.module and any(line.split(" ", 1)[0] == feature.module for line in modules.splitlines()):
        return FeatureStatus(feature, True, "loaded (/proc/modules)")
    config = config_text(read)
    if not config:
        return FeatureStatus(feature, True, "assumed: neither /proc/config.gz nor /boot/config-* can be read")
    value = _config_value(config, feature.config)
    option = f"CONFIG_{feature.config}"
    if value == "y":
        return FeatureStatus(feature, True, f"built in ({option}=y)")
    can_load = _config_value(config, "MODULES") == "y"
    if value == "m" and can_load:
        return FeatureStatus(feature, False, f"a module ({option}=m) that is not loaded",
                             f"load it on the machine itself (or the container's host): sudo modprobe "
                             f"{feature.module}; a sandbox cannot load modules")
    evidence = f"this kernel is built without it ({option} is not set)"
    if not feature.module:
        advice = (f"{option} is a build option, not a module: modprobe cannot add it; use a kernel built with "
                  f"{option}=y")
    elif not can_load:
        advice = (f"this kernel cannot load modules at all (CONFIG_MODULES is not set), so modprobe cannot help; "
                  f"use a kernel built with {option}")
    else:
        advice = f"no {feature.module} module was built for this kernel; use a kernel built with {option}=y or =m"
    return FeatureStatus(feature, False, evidence, advice)


def feature_present(name: str) -> bool:
    """Loaded or built in. When nothing can be read to decide, assume it is there and let the command say."""
    return status(name).present


def missing_words(name: str) -> str:
    """One line for a lesson that cannot run here: the feature, what it is, and the advice."""
    found = status(name)
    return f"kernel feature {name} ({found.feature.what}): {found.evidence}; {found.advice}"
