"""Known causes of failures that a learner cannot guess from the output alone."""

from __future__ import annotations

from pathlib import Path

from netlessons.results import StepResult


def br_netfilter_drops() -> bool:
    """br_netfilter sends bridged frames through iptables; with a FORWARD policy of DROP (Docker) they vanish."""
    try:
        return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return False


def for_failure(outcome: StepResult, mode: str) -> str:
    command = outcome.step.command
    output = outcome.result.output
    if " ping " in f" {command} " and mode == "host" and br_netfilter_drops():
        return ("br_netfilter is loaded, so bridged traffic passes through iptables; if the FORWARD policy is DROP "
                "(Docker sets it), pings across the bridge vanish. Try the sandbox (leave out --host), or "
                "`iptables -I FORWARD -i BRIDGE -o BRIDGE -j ACCEPT` for the lesson's bridge.")
    if "brctl" in command and ("not found" in output or outcome.result.status == 127):
        return "brctl comes from the bridge-utils package; or use --flavor iproute2"
    if "File exists" in output:
        return ("an object with this name exists already; a namespace's interfaces can linger for a moment after "
                "`ip netns del`, or another lab uses the name")
    if "Operation not permitted" in output:
        return "this needs root: the sandbox provides it, or run with sudo"
    return ""
