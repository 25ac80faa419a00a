"""Per-user caches, so that `print`, `list` and `run` start fast: compiled Jinja templates, and whole
rendered lessons.

Compiling and rendering templates costs more than everything else `netlessons print` does. Both results are
kept under ~/.cache/netlessons (or $XDG_CACHE_HOME, or $NETLESSONS_CACHE_DIR; set that to an empty string to
switch the caches off). A rendered lesson is keyed by the content of its lesson files, of templates/, the
parameter values and the flavor, and by the Python and netlessons versions, so any change renders anew (and
is validated anew). Like Python's own __pycache__, the files are trusted because only their owner writes
them. A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pickle
import sys
import tempfile
from pathlib import Path
from types import CodeType


def cache_dir() -> Path | None:
    if "NETLESSONS_CACHE_DIR" in os.environ:
        value = os.environ["NETLESSONS_CACHE_DIR"]
        return Path(value) if value else None
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "netlessons"


class CodeCache:
    def __init__(self, folder: Path | None) -> None:
        import jinja2  # only a render that missed the cache of rendered lessons pays for Jinja

        tag = f"py{sys.version_info[0]}{sys.version_info[1]}-jinja{jinja2.__version__}"
        self.path = folder / f"templates-{tag}.marshal" if folder else None
        self._entries: dict[str, bytes] | None = None
        self._dirty = False

    def _load(self) -> dict[str, bytes]:
        if self._entries is None:
            self._entries = {}
            if self.path:
                try:
                    loaded = marshal.loads(self.path.read_bytes())
                    if isinstance(loaded, dict):
                        self._entries = loaded
                except (OSError, ValueError, EOFError, TypeError):
                    pass
        return self._entries

    @staticmethod
    def key(kind: str, source: str) -> str:
        return hashlib.sha256(f"{kind}\0{source}".encode()).hexdigest()

    def get(self, key: str) -> CodeType | None:
        data = self._load().get(key)
        if data is None:
            return None
        try:
            return marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None

    def put(self, key: str, code: CodeType) -> None:
        self._load()[key] = marshal.dumps(code)
        self._dirty = True

    def save(self) -> None:
        if not (self._dirty and self.path):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, delete=False) as f:
                f.write(marshal.dumps(self._load()))
            os.replace(f.name, self.path)
            self._dirty = False
        except OSError:
            pass


RENDERED_KEPT = 200  # rendered lessons kept; the least recently written go first


def rendered_key(lesson_files: list[Path], templates: Path, overrides: dict[str, str], flavor: str | None) -> str:
    from netlessons import __version__

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{sorted(overrides.items())}\0{flavor}".encode())
    for path in lesson_files + sorted(templates.glob("*")):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_rendered(key: str):
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return pickle.loads((folder / "rendered" / f"{key}.pickle").read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def save_rendered(key: str, rendered: object) -> None:
    folder = cache_dir()
    if folder is None:
        return
    target = folder / "rendered"
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, delete=False) as f:
            f.write(pickle.dumps(rendered))
        os.replace(f.name, target / f"{key}.pickle")
        kept = sorted(target.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-RENDERED_KEPT]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass
