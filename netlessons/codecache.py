"""A per-user cache of compiled Jinja templates, so that `print` and `list` start fast.

Compiling the templates of a lesson costs more than everything else `netlessons print` does. The compiled
Python code of each template source is kept in one file under ~/.cache/netlessons (or $XDG_CACHE_HOME,
or $NETLESSONS_CACHE_DIR; set that to an empty string to switch the cache off), keyed by the source's hash,
the Python version and the Jinja version. A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from types import CodeType

import jinja2


def cache_dir() -> Path | None:
    if "NETLESSONS_CACHE_DIR" in os.environ:
        value = os.environ["NETLESSONS_CACHE_DIR"]
        return Path(value) if value else None
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "netlessons"


class CodeCache:
    def __init__(self, folder: Path | None) -> None:
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
