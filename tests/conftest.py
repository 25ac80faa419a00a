from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import host_network_state, world_readable_dir

_OWN_TEMP: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """The suite's temporary files live in a folder of its own, not in the machine-wide /tmp/pytest-of-USER
    that every pytest run of the same account shares (and may reset to mode 0700 while we run). The folder is
    world-readable, so the tests that run netlessons as an ordinary user can reach what they copy there."""
    # Started in the background by a non-interactive shell (`cmd &`, as some CI runners do), pytest inherits
    # SIGINT ignored, every lab it starts would too, and the Ctrl-C tests would see runs that cannot be
    # interrupted. Children inherit an ignored signal, not a handler: restoring Python's own is enough.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        folder = world_readable_dir("netlessons-tests-")
        _OWN_TEMP.append(folder)
        config.option.basetemp = str(folder / "pytest")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _OWN_TEMP:
        shutil.rmtree(_OWN_TEMP.pop(), ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def fresh_render_cache() -> Iterator[Path]:
    """Every test renders afresh: the per-user render cache points at an empty folder of this session's own
    (mode 0700), so no test reads what an earlier run, or older code, left in ~/.cache/netlessons."""
    folder = tempfile.mkdtemp(prefix="netlessons-cache-")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETLESSONS_CACHE_DIR", folder)
        yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def host_network_untouched() -> Iterator[None]:
    """The whole suite must leave this machine's own network exactly as it found it."""
    before = host_network_state()
    yield
    after = host_network_state()
    assert after == before, "the test suite changed the host's network state"


@pytest.fixture
def host_unchanged() -> Iterator[None]:
    before = host_network_state()
    yield
    assert host_network_state() == before


@pytest.fixture(scope="session")
def ordinary_user_tmp() -> Iterator[Path]:
    """A fresh folder every account can read, for what the tests run as an ordinary user (nobody)."""
    folder = world_readable_dir("netlessons-ordinary-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)

