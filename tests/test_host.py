"""Host mode, always inside an outer throwaway namespace that stands in for the learner's machine."""

from __future__ import annotations

import json

import pytest

from tests.helpers import LESSONS, scenario


@pytest.mark.parametrize("lesson", LESSONS)
def test_host_mode_runs_and_leaves_nothing(lesson, host_unchanged):
    seen = scenario("run", lesson)
    assert seen["rc"] == 0, seen["out"]
    assert seen["unchanged"]


def test_host_mode_iproute2_flavor(host_unchanged):
    seen = scenario("run", "bridge-3ns", "--flavor", "iproute2")
    assert seen["rc"] == 0, seen["out"]
    assert seen["unchanged"]


@pytest.mark.parametrize("existing", ["br0", "veth1", "ns1"])
def test_preexisting_object_is_refused_and_left_alone(existing, host_unchanged):
    seen = scenario("clash", existing)
    assert seen["rc"] == 3
    assert "refusing to run in host mode; nothing was changed" in seen["err"]
    assert f"{existing} exists already" in seen["err"]
    assert seen["object_unchanged"] and seen["unchanged"]


def test_keep_then_cleanup_restores_the_machine(host_unchanged):
    seen = scenario("keep")
    assert seen["rc"] == 0, seen["out"]
    assert "netlessons cleanup" in seen["out"]
    assert "ns1" in {ns["name"] for ns in json.loads(seen["during"])} and "br0" in seen["bridge"]
    assert "deleted link br0" in seen["first"] and "deleted namespace ns3" in seen["first"]
    assert seen["second"].strip() == "nothing to clean up"
    assert seen["unchanged"]


@pytest.mark.parametrize("after_step", [1, 10, 22, 30])
def test_ctrl_c_exits_130_and_removes_this_runs_objects(after_step, host_unchanged):
    seen = scenario("sigint", str(after_step))
    assert seen["rc"] == 130, seen["out"] + seen["err"]
    assert "INTERRUPTED after" in seen["out"]
    assert seen["unchanged"], seen["out"]
    assert seen["cleanup"].strip() == "nothing to clean up"
