"""How a step's state is polled while a change has not landed yet: short pauses first, then longer ones, so that
a slow change (seconds) costs a few rounds of `ip`, not hundreds. A real bash reads a real (read-only) sysctl
that never takes the wanted value; only the clock is a fake one, so that the test takes no time."""

from __future__ import annotations

from pathlib import Path

from netlessons import runner
from netlessons.shell import LabShell


def test_a_check_that_waits_two_seconds_takes_tens_of_rounds_not_hundreds(monkeypatch):
    now = [1000.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(runner.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(runner.time, "sleep", sleep)
    current = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    never = {"sysctl": "net.ipv4.ip_forward", "value": "1" if current == "0" else "0"}
    shell = LabShell([])
    rounds = [0]
    real_run = shell.run

    def counted(command: str, timeout: float = 30.0):
        rounds[0] += 1
        return real_run(command, timeout)

    monkeypatch.setattr(shell, "run", counted)
    try:
        verdict = runner._poll_state(shell, (never,), wait=2.0)
    finally:
        shell.close()
    assert not verdict.passed and "ip_forward" in verdict.problem
    assert pauses[0] == runner.POLL_FIRST and max(pauses) == runner.POLL_MAX
    assert 15 <= rounds[0] <= 30, rounds[0]  # every 5 ms, it took about 400
    assert abs(sum(pauses) - 2.0) < 1e-6  # the last pause ends at the deadline, not after it
