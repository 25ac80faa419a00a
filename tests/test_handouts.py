"""Handouts: one per lesson in docs/lessons/, current, with real output and a diagram; the HTML one is
checked in a real headless browser."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from netlessons.catalog import Catalog
from netlessons.handout import to_html as handout_html
from netlessons.handout import to_markdown as handout_md
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
    assert "```mermaid\nflowchart TB" in text
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


# --- one document model, two formats; printable HTML ----------------------------------------------------

def _captured(lesson: str, **overrides: str):
    from netlessons.handout import capture

    catalog = Catalog.default()
    rendered = render_lesson(catalog, catalog.get(lesson), overrides)
    return rendered, capture(rendered)


class _Text(HTMLParser):
    """The HTML handout's lines that matter for comparing with the Markdown one."""

    def __init__(self):
        super().__init__()
        self.lines, self._open, self._text, self._depth = [], None, "", 0

    def handle_starttag(self, tag, attrs):
        if self._open:
            self._depth += 1
            return
        classes = (dict(attrs).get("class") or "").split()
        kind = "h3" if tag == "h3" else "label" if "label" in classes else "cmd" if "cmd" in classes else \
            "check" if "check" in classes else "summary" if tag == "summary" else None
        if kind:
            self._open, self._text, self._depth = kind, "", 0

    def handle_data(self, data):
        if self._open:
            self._text += data

    def handle_endtag(self, tag):
        if not self._open:
            return
        if self._depth:
            self._depth -= 1
            return
        self.lines.append((self._open, self._text))
        self._open = None


def _markdown_lines(text: str) -> list[tuple[str, str]]:
    lines, in_console = [], False
    for line in text.splitlines():
        if line.startswith("```console"):
            in_console = True
        elif line.startswith("```"):
            in_console = False
        elif in_console and line[:2] in ("$ ", "> "):
            lines.append(("cmd", line))
        elif not in_console and line.startswith("### "):
            lines.append(("h3", line[4:]))
        elif re.fullmatch(r"\*\*[0-9.]+\*\*", line):
            lines.append(("label", line.strip("*")))
        elif line.startswith("Check: "):
            lines.append(("check", line))
        elif line.startswith("<details><summary>"):
            lines.append(("summary", line.removeprefix("<details><summary>").removesuffix("</summary>")))
    return lines


@pytest.mark.parametrize("lesson", ["veth-pair", "bridge-gateway-nat"])
def test_markdown_and_html_say_the_same(lesson):
    from netlessons.handout import FORMATS, build

    rendered, captured = _captured(lesson)
    doc = build(rendered, captured)
    md, page = FORMATS["md"](doc), FORMATS["html"](doc)
    parsed = _Text()
    parsed.feed(page)
    assert _markdown_lines(md) == parsed.lines
    assert len([kind for kind, _ in parsed.lines if kind == "check"]) == len(rendered.own_steps + rendered.cleanup)
    for numbered in rendered.numbered():  # the headings carry the one numbering
        assert any(line == ("h3", f"{numbered.number}. {numbered.first.title}") or
                   line[1].startswith(f"{numbered.number}. {numbered.first.title} (") for line in parsed.lines)


def test_every_command_line_has_a_prompt_and_plumbing_is_folded_away():
    from netlessons.handout import command_lines

    rendered, captured = _captured("bridge-gateway-nat")
    md, page = handout_md(rendered, captured), handout_html(rendered, captured)
    server = next(s for s in rendered.own_steps if "seq 100" in s.command)
    for line in server.command.splitlines():
        assert f"$ {line}" in md and f'<span class="prompt">$ </span>{html.escape(line)}' in page
    for text in (md, page):
        main, _, plumbing = text.partition("Lab plumbing: records the server")
        assert "seq 100" not in main and "seq 100" in plumbing  # the wait loop only inside the fold
        assert "waits until the server listens on port 8080" in plumbing
    catalog = Catalog.default()
    cni = render_lesson(catalog, catalog.get("cni-bridge-plugin"))
    heredoc = next(s for s in cni.own_steps if "<<NETLESSONS_JSON" in s.command)
    prompts = [line.prompt for line in command_lines(heredoc.command)]
    assert prompts == ["$"] + [">"] * (len(prompts) - 1)  # the document and its end word continue the command
    assert [line.prompt for line in command_lines("a && \\\nb\necho 'x\ny'\nc |\nd\ne")] == \
        ["$", ">", "$", ">", "$", ">", "$"]


def test_a_handout_made_with_other_values_says_so():
    from netlessons.handout import FORMATS, build

    doc = build(*_captured("veth-pair", addr1="10.0.0.7/24"))
    for fmt, writer in FORMATS.items():
        text = writer(doc)
        assert f"netlessons export veth-pair --format {fmt} --set addr1=10.0.0.7/24" in text
        assert "Made with --set addr1=10.0.0.7/24" in text and "defaults (addr1=10.0.0.1/24)" in text
    plain = FORMATS["md"](build(*_captured("netns-basics")))
    assert "Made with" not in plain


def test_html_handout_prints_without_cutting_a_command(tmp_path):
    """Chromium prints the longest handout to PDF; every word lies inside the page's printable width, and every
    command is in the printed text whole (only wrapped)."""
    from netlessons.handout import plumbing_of

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium and shutil.which("pdftotext"), "chromium and poppler-utils are needed (scripts/setup.sh --test)"
    page, pdf = tmp_path / "h.html", tmp_path / "h.pdf"
    rendered, captured = _captured("clusterip-kube-proxy")
    page.write_text(handout_html(rendered, captured))
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'p'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    page.as_uri()], capture_output=True, timeout=180, check=False)
    assert pdf.exists()
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    width = float(re.search(r'<page width="([0-9.]+)"', boxes).group(1))
    right = max(float(x) for x in re.findall(r'xMax="([0-9.]+)"', boxes))
    assert right <= width - 30, f"text reaches x={right} of a {width} pt page: something runs off the paper"
    def bare(text: str) -> str:  # pdftotext joins a word wrapped after "-" without it
        return "".join(text.split()).replace("-", "")

    text = bare(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    for step in rendered.own_steps:
        for line in step.command.splitlines():
            if not plumbing_of(line):  # lab plumbing stays folded on paper
                assert bare(line) in text, line
