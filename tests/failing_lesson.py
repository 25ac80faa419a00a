"""A lesson that fails on purpose at a known step, for the tests of what a failure shows."""

from __future__ import annotations

from pathlib import Path

MISMATCHED_SUBNETS = """id = "mismatched-subnets"
title = "Two ends in two subnets"
summary = "A veth pair whose ends get addresses in different subnets: the ping across fails, on purpose."

[[steps]]
id = "namespaces"
title = "Two namespaces"
foreach = "ns in ['ns1', 'ns2']"
explain = "One for each end."
run = "{{ netns.add(ns) }}"

[[steps]]
id = "wire"
title = "A veth pair, one end in each"
foreach = "end in [['veth1', 'ns1', '10.0.0.1/24'], ['veth2', 'ns2', '10.0.1.2/24']]; part in ['move', 'address', 'up']"
explain = "veth2 gets an address of another subnet."
run = \"\"\"{% if part == 'move' %}{% if end[0] == 'veth1' %}{{ veth.add('veth1', 'veth2') }} && {% endif %}\\
{{ link.to_netns(end[0], end[1]) }}{% elif part == 'address' %}{{ addr.add(end[2], end[0], end[1]) }}\\
{% else %}{{ link.up(end[0], end[1]) }}{% endif %}\"\"\"

[[steps]]
id = "ping"
title = "Ping across"
explain = "ns1 has no route to 10.0.1.2: this step fails."
run = "{{ ping.ping('10.0.1.2', 'ns1') }}"
"""


def broken_lessons(folder: Path) -> Path:
    """A folder, readable by every account, holding a lesson whose third step fails."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mismatched-subnets.toml").write_text(MISMATCHED_SUBNETS)
    for path in (folder, *folder.parents):
        if path == Path("/tmp") or path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o055)
    return folder
