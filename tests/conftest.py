from __future__ import annotations

import pytest

from tests.helpers import host_network_state


@pytest.fixture(scope="session", autouse=True)
def host_network_untouched():
    """The whole suite must leave this machine's own network exactly as it found it."""
    before = host_network_state()
    yield
    after = host_network_state()
    assert after == before, "the test suite changed the host's network state"


@pytest.fixture
def host_unchanged():
    before = host_network_state()
    yield
    assert host_network_state() == before
