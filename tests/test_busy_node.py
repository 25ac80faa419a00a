"""Host mode on a busy node: clean-up touches only what the run itself made.

Every lesson runs in host mode inside an outer throwaway namespace that already holds what a real Kubernetes
node has, under the very names the lessons use inside their own namespaces (eth0, eth1, cni0, flannel.1,
docker0, a cni-… namespace, iptables and nft rules; see tests/reliability_driver.py BUSY_NODE). A passing run,
Ctrl-C at two steps, and kill -9 followed by `cleanup` twice must each leave that node byte for byte as it was.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from tests.helpers import LESSONS, outer_namespace


def step_count(lesson_id: str) -> int:
    """The commands of the lesson itself: the live view's lines after its prerequisites' one line."""
    catalog = Catalog.default([])
    rendered = render_lesson(catalog, catalog.get(lesson_id))
    return sum(1 for step in rendered.steps if step.lesson == lesson_id) + len(rendered.cleanup)


def busy_node(lesson_id: str) -> dict:
    total = step_count(lesson_id)
    sigint = f"{max(1, total // 3)},{max(1, 2 * total // 3)}"
    argv = [sys.executable, "-m", "tests.reliability_driver", "busy_node", lesson_id, sigint, str(max(1, total // 2))]
    result = outer_namespace(argv, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def busy_runs() -> dict[str, dict]:
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(LESSONS, pool.map(busy_node, LESSONS), strict=True))


@pytest.mark.parametrize("lesson", LESSONS)
def test_busy_node_is_left_exactly_as_it_was(busy_runs, lesson):
    """Fails if any clean-up path (success, Ctrl-C, kill -9 + cleanup) deletes, downs or changes the node's
    own eth0, eth1, cni0, flannel.1, docker0, its cni-… namespace, addresses, routes or rules."""
    for outcome in busy_runs[lesson]["results"]:
        assert outcome["changed"] == [], json.dumps(outcome, indent=1)[-4000:]
        assert outcome["strays"] == [], outcome
    passing = busy_runs[lesson]["results"][0]
    assert passing["rc"] == 0, passing["tail"]
    for outcome in busy_runs[lesson]["results"][1:-1]:
        assert outcome["rc"] == 130, outcome
