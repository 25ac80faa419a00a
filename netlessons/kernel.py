"""Kernel features a lesson needs that a sandbox cannot load itself (vxlan, br_netfilter)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

CONFIG_SYMBOLS = {"vxlan": "VXLAN", "veth": "VETH", "bridge": "BRIDGE", "br_netfilter": "BRIDGE_NETFILTER"}


def _config() -> str:
    for path in (Path("/proc/config.gz"), Path(f"/boot/config-{os.uname().release}")):
        try:
            return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        except OSError:
            continue
    return ""


def feature_present(module: str) -> bool:
    """Loaded or built in. When nothing can be read to decide, assume it is there and let the command say."""
    if Path(f"/sys/module/{module}").exists():
        return True
    try:
        if any(line.split()[0] == module for line in Path("/proc/modules").read_text().splitlines() if line):
            return True
    except OSError:
        pass
    config = _config()
    if not config:
        return True
    return f"CONFIG_{CONFIG_SYMBOLS.get(module, module.upper())}=y" in config.splitlines()
