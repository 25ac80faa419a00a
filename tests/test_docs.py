"""The docs are true: the worked example of docs/authoring.md validates, prints and runs."""

from __future__ import annotations

import re

from tests.helpers import ROOT, netlessons


def test_worked_example_validates_prints_and_runs(tmp_path, host_unchanged):
    text = (ROOT / "docs" / "authoring.md").read_text()
    example = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    (tmp_path / "bridge-in-ns.toml").write_text(example)
    assert netlessons("validate", str(tmp_path / "bridge-in-ns.toml")).returncode == 0
    printed = netlessons("print", "bridge-in-ns", "--lessons-dir", str(tmp_path))
    assert "ip netns exec lab ip link add lab-br type bridge" in printed.stdout
    ran = netlessons("run", "bridge-in-ns", "--lessons-dir", str(tmp_path), "--set", "address=198.51.100.7/24")
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert commands[:2] == ["bash scripts/setup.sh && .venv/bin/netlessons run bridge-3ns",
                            "bash scripts/setup.sh --test && .venv/bin/python -m pytest -q"]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
