"""The code stays ruff-clean: CI runs this file with the rest of the suite, so a finding fails the build."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    """ruff from the test environment (the `test` extra pins it), with the project's own settings."""
    return subprocess.run([sys.executable, "-m", "ruff", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_ruff_finds_nothing_in_the_package_the_tests_and_bench():
    result = ruff("check", "--no-cache", "netlessons", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_uses_the_projects_rules(tmp_path):
    """Guards the test above against checking nothing: with the project's settings ruff must catch an unused
    import (F), a line over 120 characters (E), imports out of order (I) and a mutable default (B)."""
    sample = tmp_path / "sample.py"
    sample.write_text("import sys\nimport os\n\n\ndef f(x=[]):\n    return x  # " + "." * 120 + "\n")
    result = ruff("check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), "--output-format", "concise",
                  str(sample))
    assert result.returncode == 1, result.stdout + result.stderr
    for code in ("F401", "E501", "I001", "B006"):
        assert code in result.stdout, result.stdout
