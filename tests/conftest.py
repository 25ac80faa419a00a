from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.helpers import ROOT, host_network_state, world_readable_dir

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


def _distributions(name: str, seen: set[str]) -> set[str]:
    """A distribution and everything it requires (for this Python), by name."""
    key = name.lower().replace("_", "-")
    if key in seen:
        return seen
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return seen
    seen.add(key)
    for requirement in dist.requires or []:
        if "extra ==" in requirement:
            continue
        marker_free = requirement.split(";")[0]
        dep = marker_free.replace(" ", "").split("[")[0]
        for sep in "<>=!~(":
            dep = dep.split(sep)[0]
        if ";" in requirement:
            from packaging.markers import Marker  # pip vendors packaging; so does pytest's environment

            if not Marker(requirement.split(";", 1)[1]).evaluate({"extra": ""}):
                continue
        _distributions(dep, seen)
    return seen


@pytest.fixture(scope="session")
def ordinary_user_copy(ordinary_user_tmp):
    """The project and its dependencies in a world-readable folder, for an account that cannot read /root."""
    folder = ordinary_user_tmp / "ordinary-user"
    folder.mkdir()
    site = folder / "site"
    shutil.copytree(ROOT / "netlessons", site / "netlessons", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "lessons", site / "lessons")
    shutil.copytree(ROOT / "templates", site / "templates")
    for name in _distributions("typer", set()) | _distributions("jinja2", set()) | _distributions("sh", set()):
        dist = metadata.distribution(name)
        for file in dist.files or []:
            source = Path(dist.locate_file(file))
            if source.is_file() and ".." not in file.parts:
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    return site
