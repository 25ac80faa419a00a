"""The programs and kernel features a lesson needs: which package provides each, whether it is here, and
one readable refusal naming what to install when something is missing."""

from __future__ import annotations

import os
import shutil

from netlessons import kernel
from netlessons.errors import EnvironmentProblem
from netlessons.kernel import feature_present

TOOL_PACKAGES = {
    "ip": "iproute2", "bridge": "iproute2", "ss": "iproute2", "tc": "iproute2", "brctl": "bridge-utils",
    "ping": "iputils-ping", "sysctl": "procps", "nft": "nftables", "iptables": "iptables", "unshare": "util-linux",
    "curl": "curl", "python3": "python3", "dnsmasq": "dnsmasq-base", "/usr/lib/cni/": "containernetworking-plugins",
    "tcpdump": "tcpdump", "ipset": "ipset",
}


def package_for(tool: str) -> str:
    """The Debian package that provides a tool (a program name, or the path of a plugin); for a kernel
    feature, what loads it."""
    if tool.startswith("kernel:"):
        return f"kernel feature {kernel.requirement_words(tool[7:])}"
    if tool.startswith("/"):
        return next((pkg for prefix, pkg in TOOL_PACKAGES.items() if tool.startswith(prefix)), tool)
    return TOOL_PACKAGES.get(tool, tool)


def tool_present(tool: str, path: str) -> bool:
    if tool.startswith("kernel:"):
        return feature_present(tool[7:])
    if tool.startswith("/"):
        return os.access(tool, os.X_OK)
    return shutil.which(tool, path=path) is not None


def check_tools(tools: list[str], flavor: str = "") -> None:
    from netlessons.shell import lab_environment  # here: `list` and `explain` only name packages

    path = lab_environment()["PATH"]
    missing = [t for t in tools if not tool_present(t, path)]
    modules = [t for t in missing if t.startswith("kernel:")]
    if modules:
        raise EnvironmentProblem("missing in the kernel: " + "; ".join(kernel.missing_words(t[7:]) for t in modules))
    if missing:
        packages = sorted({package_for(t) for t in missing})
        hint = "or run this lesson with --flavor iproute2" if "brctl" in missing and flavor == "brctl" else ""
        raise EnvironmentProblem(f"missing tools: {', '.join(missing)}. Install: apt-get install {' '.join(packages)}",
                                 hint=hint)
