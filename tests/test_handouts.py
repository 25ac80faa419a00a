"""Handouts: one per lesson in docs/lessons/, current, with real output and a diagram; the HTML one is
checked in a real headless browser."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from netlessons.catalog import Catalog
from netlessons.render import render_lesson
from tests.helpers import netlessons
from tests.update_golden import HANDOUTS, handout

LESSON_IDS = sorted(Catalog.default().files())


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_handout_is_current(lesson, host_unchanged):
    """Regenerate with: python -m tests.update_golden"""
    path = HANDOUTS / f"{lesson}.md"
    assert path.exists(), f"{path} is missing"
    assert path.read_text() == handout(lesson)


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_handout_has_real_output_and_a_mermaid_diagram(lesson):
    text = (HANDOUTS / f"{lesson}.md").read_text()
    assert "```mermaid\nflowchart LR" in text
    assert "```console\n$ ip" in text
    outputs = [block.split("\n", 1)[1] for block in text.split("```console\n$ ")[1:]]
    assert any(not out.startswith("```") for out in outputs)  # some command printed real output
    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get(lesson))
    own = [step for step in rendered.steps if step.lesson == lesson]
    if any(o.kind in ("link", "netns") for step in own for o in step.creates):
        assert "What changed:" in text  # a lesson that builds links shows what each step changed


def test_mermaid_diagram_names_the_whole_bridge_lab():
    result = netlessons("diagram", "bridge-3ns", "--format", "mermaid")
    assert result.returncode == 0
    for name in ["ns1", "ns2", "ns3", "br0", "veth1_0", "veth1_1", "veth2_0", "veth2_1", "veth3_0", "veth3_1",
                 "10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"]:
        assert name in result.stdout


def test_svg_diagram_is_valid_and_step_shows_a_partial_lab():
    from xml.etree import ElementTree

    svg = netlessons("diagram", "bridge-3ns", "--format", "svg").stdout
    assert ElementTree.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
    partial = netlessons("diagram", "bridge-3ns", "--step", "4", "--format", "mermaid").stdout
    assert "br0" in partial and "ns1" not in partial and "veth1_0" not in partial
    assert netlessons("diagram", "bridge-3ns", "--format", "png").returncode == 2


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_html_handout_loads_in_a_headless_browser(tmp_path):
    page = tmp_path / "bridge-3ns.html"
    assert netlessons("export", "bridge-3ns", "--format", "html", "-o", str(page)).returncode == 0
    collector = _Collector()
    collector.feed(page.read_text())
    assert "svg" in collector.tags and "script" not in collector.tags  # self-contained, nothing to fetch
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for this test (scripts/setup.sh --test installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
             "--enable-logging=stderr", "--v=0", "--window-size=1000,900"]
    shot = tmp_path / "shot.png"
    result = subprocess.run([chromium, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                            text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, result.stderr[-2000:]
    assert "CONSOLE" not in result.stderr  # no console message at all, errors included
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<svg" in dom and "ns1" in dom and "10.0.0.3/24" in dom
