"""Handouts: a lesson as one self-contained page (Markdown or HTML) with the real output of a sandbox run,
what each step changed, and a drawing of the lab built from the kernel's own state.

One document model (`Handout`, built once by `build`) is written out by a small registry of formats
(`FORMATS`: name → writer), so Markdown and HTML say the same things and cannot drift apart. Steps carry the
numbers every command uses (RenderedLesson.label). Every command line has a prompt ("$", or ">" where it
continues the line before), and lab plumbing (the lines that record a server's process id or wait until it
listens) is set apart and folded, so the lesson's own commands stand out.

Values that differ from run to run (MAC addresses, round-trip times, durations) are masked, so that a
handout regenerated on another day is the same file unless the lesson itself changed.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Callable

from netlessons import diagram, state
from netlessons.capture import wire_of
from netlessons.explain import expected_in_words
from netlessons.goals import goals_of
from netlessons.lesson import RenderedLesson, Step
from netlessons.params import convert
from netlessons.results import StepResult
from netlessons.runner import EVERY_STEP, WATCHED, Lab
from netlessons.terminal import Progress

_MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
_BRIDGE_ID = re.compile(r"\b(8000)\.[0-9a-f]{12}\b")
_TIMES = [(re.compile(r"time=[0-9.]+ ms"), "time=… ms"), (re.compile(r"time \d+ms"), "time …ms"),
          (re.compile(r"rtt min/avg/max/mdev = \S+ ms"), "rtt min/avg/max/mdev = … ms"),
          (re.compile(r"\[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\]"), "[date]"),
          (re.compile(r"after \d+ milliseconds"), "after … milliseconds")]


def _mac(match: re.Match) -> str:
    """Random MAC addresses are masked; the all-zero, broadcast and fixed ones a lesson sets are kept."""
    mac = match.group(0)
    kept = mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff") or mac.startswith("02:00:00")
    return mac if kept else "xx:xx:xx:xx:xx:xx"


_CNI_VETH = re.compile(r"\bveth[0-9a-f]{8}\b")  # the CNI bridge plugin's random host-side names
_LINK_LOCAL = re.compile(r"\bfe80::[0-9a-f:]+")  # IPv6 link-local addresses follow the random MACs


def mask(text: str, shows: tuple[str, ...] = ()) -> str:
    """What differs from run to run, masked, so that a handout is the same file every time: random MAC
    addresses (and the bridge ids and IPv6 link-local addresses made from them), the CNI plugin's random veth
    names, and timings. A lesson's `[handout] show = ["macs", "times"]` keeps those it sets itself."""
    text = _CNI_VETH.sub("veth########", text)
    if "macs" not in shows:
        text = _BRIDGE_ID.sub(r"\1.…", text)
        text = _LINK_LOCAL.sub("fe80::…", text)
        text = _MAC.sub(_mac, text)
    if "times" not in shows:
        for pattern, replacement in _TIMES:
            text = pattern.sub(replacement, text)
    return text


@dataclass
class Capture:
    results: list[StepResult] = field(default_factory=list)
    built: state.Snapshot | None = None  # the lab at its fullest: after the last step, before clean-up


def capture(rendered: RenderedLesson, progress: Progress | None = None) -> Capture:
    """Run the whole lesson in a sandbox, keeping every step's output and changes. On a terminal, a counter on
    stderr says how far it got."""
    progress = progress or Progress()
    captured = Capture()
    lab = Lab(rendered)
    try:
        before = rendered.prerequisite_steps
        building = replace(EVERY_STEP, announce=lambda count, _: progress.show(
            f"building the lab of {', '.join(p.id for p in rendered.prerequisites)}: {count}/{len(before)} commands"))
        captured.results += lab.play(before, building)
        own = replace(WATCHED, announce=lambda _, step: progress.show(
            f"running step {rendered.label(step)} of {rendered.step_count}"))
        captured.results += lab.play(rendered.own_steps, own)
        captured.built = lab.watch().last
        cleanup = replace(WATCHED, announce=lambda _, step: progress.show(
            f"running step {rendered.label(step)} of {rendered.step_count} (clean-up)"))
        captured.results += lab.play(rendered.cleanup, cleanup)
    finally:
        progress.clear()
        lab.close()
    return captured


# --- the document model ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CommandLine:
    text: str
    prompt: str = "$"  # "$" starts a command, ">" continues the one before (as bash's PS2 shows it)


@dataclass(frozen=True)
class Plumbing:
    """Lines a command needs to work in a lab, that are not what the lesson teaches."""

    lines: tuple[CommandLine, ...]
    why: str


@dataclass(frozen=True)
class Command:
    label: str  # its step number, "12" or "12.2"
    lines: tuple[CommandLine, ...]
    plumbing: Plumbing | None
    output: str
    passed: bool
    verdict: str  # "passed", "failed, as expected: passed", "FAILED: ..."
    expected: tuple[str, ...]
    changes: tuple[str, ...]
    wire: tuple[str, ...] = ()  # the packets its capture saw, masked
    watched: str = ""  # where it watched, in words ("" when the step has no capture)


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    explain: str
    erratum: str
    cleanup: bool
    commands: tuple[Command, ...]

    @property
    def loops(self) -> bool:
        return len(self.commands) > 1 or "." in self.commands[0].label


@dataclass(frozen=True)
class Handout:
    lesson_id: str
    title: str
    summary: str
    builds_on: str  # a sentence, or ""
    made_with: str  # the --set values when they are not the defaults, as a sentence, or ""
    sets: tuple[str, ...]
    lab: state.Snapshot | None
    sections: tuple[Section, ...]
    kubernetes: str
    goals: tuple[str, ...] = ()  # what `netlessons check` grades, in words
    recap: str = ""
    sources: tuple[str, ...] = ()


GOALS_INTRO = ("What a working lab shows at the end: `netlessons check` (in a lab you built by hand) and "
               "`netlessons challenge` grade these.")

_PLUMBING = [
    (re.compile(r"^echo \$! >\"\$LAB\"/[\w.-]+\.pid$"), "records the server's process id, so that the lab "
                                                            "can stop it"),
    (re.compile(r"^for _ in \$\(seq \d+\); do .*ss -Hltn 'sport = :(\d+)'.*; done$"),
     "waits until the server listens on port {0}"),
]


def plumbing_of(line: str) -> str:
    """Why a command line is lab plumbing, or "" when it is part of the lesson."""
    for pattern, why in _PLUMBING:
        match = pattern.match(line)
        if match:
            return why.format(*match.groups())
    return ""


_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def command_lines(command: str) -> list[CommandLine]:
    """The lines of a command with the prompt bash would show: "$" where a command starts, ">" where the line
    before left it open (a here-document, an open quote, a trailing backslash, pipe, && or ||)."""
    out: list[CommandLine] = []
    heredoc: tuple[str, bool] | None = None  # its end word, and whether tabs before it are allowed
    statement = ""
    for line in command.splitlines():
        if heredoc:
            out.append(CommandLine(line, ">"))
            word, tabs = heredoc
            if (line.lstrip("\t") if tabs else line) == word:
                heredoc = None
            continue
        out.append(CommandLine(line, ">" if statement else "$"))
        statement += line + "\n"
        found = _HEREDOC.search(line)
        if found:
            heredoc = (found.group(3), bool(found.group(1)))
        if not _open(statement):
            statement = ""
    return out


def _open(statement: str) -> bool:
    stripped = statement.rstrip("\n").rstrip()
    if stripped.endswith(("\\", "|", "&&", "||")):
        return True
    try:
        shlex.split(statement, comments=True)
    except ValueError:  # no closing quotation
        return True
    return False


def _values_note(rendered: RenderedLesson) -> tuple[str, tuple[str, ...]]:
    changed = [p for p in rendered.parameters if rendered.values[p.name] != convert(p, p.default)]
    sets = tuple(f"{p.name}={rendered.values[p.name]}" for p in changed)
    if not sets:
        return "", ()
    defaults = ", ".join(f"{p.name}={convert(p, p.default)}" for p in changed)
    return (f"Made with --set {' --set '.join(sets)}. The commands and output are this run's; where the prose "
            f"speaks of a value, it was written for the defaults ({defaults})."), sets


def stable_cni_names(snapshot: state.Snapshot | None) -> state.Snapshot | None:
    """The lab as the handout draws it: a CNI plugin's random veth name (veth1a2b3c4d) becomes `veth-POD`, after
    the namespace its other end is in, so that the drawing is the same on every run."""
    if snapshot is None:
        return None
    names = {(ns, link.name): f"veth-{link.peer_netns}" for ns, link in snapshot.links()
             if _CNI_VETH.fullmatch(link.name) and link.peer_netns}

    def rename(ns: str | None, name: str) -> str:
        return names.get((ns or "", name), name)

    namespaces = []
    for ns in snapshot.namespaces:
        links = tuple(replace(link, name=rename(ns.name, link.name), peer=rename(link.peer_netns, link.peer),
                              master=rename(ns.name, link.master)) for link in ns.links)
        routes = tuple(replace(route, dev=rename(ns.name, route.dev)) for route in ns.routes)
        namespaces.append(replace(ns, links=links, routes=routes))
    return replace(snapshot, namespaces=tuple(namespaces))


def build(rendered: RenderedLesson, captured: Capture) -> Handout:
    """The handout as data: what every format writes out."""
    lesson = rendered.lesson
    shows = lesson.handout_shows
    by_id = {(r.step.phase, r.step.id): r for r in captured.results}
    sections = []
    for numbered in rendered.numbered():
        commands = []
        for step in numbered.commands:
            result = by_id.get((step.phase, step.id))
            if result is None:  # the run stopped before this step
                continue
            lines = command_lines(step.command)
            plumbing = [line for line in lines if plumbing_of(line.text)]
            reasons = list(dict.fromkeys(plumbing_of(line.text) for line in plumbing))
            verdict = "passed" if result.passed else f"FAILED: {result.verdict.problem}"
            if step.expect.status != 0 and result.passed:
                verdict = "failed, as expected: passed"
            # Clean-up changes are left out: the kernel tears namespaces down in its own time, so their order
            # differs from run to run, and the handout must be the same file every time.
            # Neighbour entries come and go with ARP's own timing (a reply, an entry going stale), so they are
            # left out too; `run --changes` and walk show them, and a neighbour check proves the one that matters.
            changes = tuple(mask(c, shows) for c in result.changes
                            if " neighbour " not in f" {c} ") if step.phase != "cleanup" else ()
            commands.append(Command(
                label=rendered.label(step), lines=tuple(line for line in lines if line not in plumbing),
                plumbing=Plumbing(tuple(plumbing), "; ".join(reasons)) if plumbing else None,
                output=mask(result.result.output, shows).rstrip("\n"), passed=result.passed, verdict=verdict,
                expected=tuple(expected_in_words(step)), changes=changes,
                wire=tuple(mask_wire(line, shows) for line in wire_of(result)), watched=_watched(step)))
        if commands:
            first = numbered.first
            title = first.title + (" (and the same for the others)" if len(commands) > 1 else "")
            sections.append(Section(numbered.number, title, " ".join(first.explain.split()),
                                    " ".join(first.erratum.split()), numbered.phase == "cleanup", tuple(commands)))
    builds_on = ""
    if rendered.prerequisites:
        names = " → ".join(p.id for p in rendered.prerequisites)
        builds_on = (f"Builds on {names}: {len(rendered.prerequisite_steps)} commands from "
                     f"{'their handouts' if len(rendered.prerequisites) > 1 else 'its handout'} build the starting "
                     "lab first; the steps here are numbered from there.")
    made_with, sets = _values_note(rendered)
    return Handout(lesson.id, lesson.title, " ".join(lesson.summary.split()), builds_on, made_with, sets,
                   stable_cni_names(captured.built), tuple(sections), " ".join(lesson.kubernetes.split()),
                   tuple(goal.name for goal in goals_of(rendered)), " ".join(rendered.recap.split()),
                   tuple(" ".join(source.split()) for source in lesson.sources))


_WIRE = [(re.compile(r"\bid \d+, seq"), "id …, seq"),  # ping's ICMP id differs from run to run
         (re.compile(r"(\d+\.\d+\.\d+\.\d+)\.\d+ > (\S+)\.(4789|8472): VXLAN"), r"\1.… > \2.\3: VXLAN"),
         # TCP: a client's ephemeral port (32768-60999 by default), and the values each connection draws at random
         (re.compile(r"\b(\d+\.\d+\.\d+\.\d+)\.(?:3[2-9]\d{3}|[4-5]\d{4}|60\d{3})\b"), r"\1.…"),
         (re.compile(r"(Flags \[[^\]]*\], (?:cksum \S+ )?)seq \d+(?::\d+)?"), r"\1seq …"),
         (re.compile(r"(Flags \[[^\]]*\], .*)\back \d+"), r"\1ack …"),
         (re.compile(r"(Flags \[[^\]]*\], .*)\bwin \d+"), r"\1win …"),
         (re.compile(r"(Flags \[[^\]]*\], .*)\boptions \[[^\]]*\]"), r"\1options […]")]


def mask_wire(line: str, shows: tuple[str, ...] = ()) -> str:
    """A captured packet as a handout shows it: masked like output, and the values that come from chance
    (ping's ICMP id, the source port a VXLAN device picks from a hash of the inner packet) too."""
    line = mask(line, shows)
    for pattern, replacement in _WIRE:
        line = pattern.sub(replacement, line)
    return line


def _watched(step: Step) -> str:
    places = [f"{' and '.join(c.on)}{f' in {c.netns}' if c.netns else ''}"
              + (f", filter {c.filter}" if c.filter else "") for c in step.capture]
    return "; ".join(places)


def _check(command: Command) -> str:
    return f"Check: {command.verdict}. Expected: {'; '.join(command.expected)}."


def _export_command(doc: Handout, fmt: str) -> str:
    return " ".join(["netlessons export", doc.lesson_id, "--format", fmt, *(f"--set {s}" for s in doc.sets)])


# --- Markdown -------------------------------------------------------------------------------------------

def write_markdown(doc: Handout) -> str:
    out = [f"# {doc.title}", "", f"`{doc.lesson_id}` · {doc.summary}", ""]
    out += [f"> Generated by `{_export_command(doc, 'md')}` from a real run in a throwaway sandbox. MAC addresses "
            "and timings are masked.", ""]
    out += [line for text in (doc.builds_on, doc.made_with) if text for line in (text, "")]
    out += ["## The lab", "", "```mermaid", diagram.render(doc.lab, "mermaid").rstrip(), "```", ""]
    out += ["## Steps", ""]
    cleanup_started = False
    for section in doc.sections:
        if section.cleanup and not cleanup_started:
            out += ["## Clean-up", ""]
            cleanup_started = True
        out += [f"### {section.number}. {section.title}", "", section.explain, ""]
        if section.erratum:
            out += [f"> **Erratum.** {section.erratum}", ""]
        for command in section.commands:
            if section.loops:
                out += [f"**{command.label}**", ""]
            out += ["```console", *(f"{line.prompt} {line.text}" for line in command.lines)]
            if command.output:
                out.append(command.output)
            out += ["```", ""]
            if command.plumbing:
                out += [f"<details><summary>Lab plumbing: {command.plumbing.why}</summary>", "", "```console",
                        *(f"{line.prompt} {line.text}" for line in command.plumbing.lines), "```", "", "</details>",
                        ""]
            out += [_check(command), ""]
            if command.watched:
                out += [f"On the wire ({command.watched}):", "", "```text", *(command.wire or ("(no packet)",)),
                        "```", ""]
            if command.changes:
                out += ["What changed:", "", "```text", *command.changes, "```", ""]
    if doc.goals:
        out += ["## Goals", "", GOALS_INTRO, ""] + [f"- {goal}" for goal in doc.goals] + [""]
    if doc.recap:
        out += ["## Recap", "", doc.recap, ""]
    if doc.kubernetes:
        out += ["## In Kubernetes", "", doc.kubernetes, ""]
    if doc.sources:
        out += ["## Sources", ""] + [f"- {source}" for source in doc.sources] + [""]
    return "\n".join(out)


# --- HTML -----------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f5f5f5;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere}
code{font-family:ui-monospace,monospace}
.cmd{display:block;padding-left:2ch;text-indent:-2ch}.prompt{color:#777;user-select:none}
.erratum{border-left:4px solid #c60;padding-left:.6rem}.ok{color:#070}.fail{color:#b00}
.label{font-weight:bold;margin-bottom:0}
details.plumbing{color:#555;font-size:.9em;margin:-.6rem 0 .6rem}details.plumbing pre{background:#fafafa}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
@page{margin:14mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:10pt}p,pre{margin:.4em 0}
pre{font-size:8.5pt;background:none;border:1px solid #ccc}
h2,h3,.label{break-after:avoid}pre,figure,.erratum,.check{break-inside:avoid}
details.plumbing summary{list-style:none}details.plumbing summary::before{content:"\\2026 "}}"""


def _prose(text: str) -> str:
    """Escaped text whose `backticks` become <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _pre(lines: tuple[CommandLine, ...], output: str = "") -> str:
    e = html.escape
    code = "".join(f'<span class="cmd"><span class="prompt">{e(line.prompt)} </span>{e(line.text)}</span>'
                   for line in lines)
    return f'<pre class="console"><code>{code}{e(output)}</code></pre>'


def write_html(doc: Handout) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(doc.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(doc.title)}</h1>", f"<p><code>{e(doc.lesson_id)}</code> · {e(doc.summary)}</p>",
           f"<p><em>Generated by <code>{e(_export_command(doc, 'html'))}</code> from a real run in a throwaway "
           "sandbox. MAC addresses and timings are masked.</em></p>"]
    out += [f"<p>{e(text)}</p>" for text in (doc.builds_on, doc.made_with) if text]
    out += ["<h2>The lab</h2>", f'<figure id="diagram">{diagram.render(doc.lab, "svg")}</figure>', "<h2>Steps</h2>"]
    cleanup_started = False
    for section in doc.sections:
        if section.cleanup and not cleanup_started:
            out.append("<h2>Clean-up</h2>")
            cleanup_started = True
        out += [f'<section class="step" id="step-{section.number}">',
                f"<h3>{section.number}. {e(section.title)}</h3>", f"<p>{_prose(section.explain)}</p>"]
        if section.erratum:
            out.append(f'<p class="erratum"><strong>Erratum.</strong> {_prose(section.erratum)}</p>')
        for command in section.commands:
            if section.loops:
                out.append(f'<p class="label">{e(command.label)}</p>')
            out.append(_pre(command.lines, command.output))
            if command.plumbing:
                out.append(f'<details class="plumbing"><summary>Lab plumbing: {e(command.plumbing.why)}</summary>'
                           f"{_pre(command.plumbing.lines)}</details>")
            out.append(f'<p class="check {"ok" if command.passed else "fail"}">{e(_check(command))}</p>')
            if command.watched:
                out.append(f"<p>On the wire ({e(command.watched)}):</p>"
                           f'<pre class="wire"><code>{e(chr(10).join(command.wire or ("(no packet)",)))}</code></pre>')
            if command.changes:
                out.append("<p>What changed:</p><ul>" + "".join(f"<li>{e(c)}</li>" for c in command.changes)
                           + "</ul>")
        out.append("</section>")
    if doc.goals:
        out += ["<h2>Goals</h2>", f"<p>{_prose(GOALS_INTRO)}</p>",
                "<ul>" + "".join(f"<li>{html.escape(goal)}</li>" for goal in doc.goals) + "</ul>"]
    if doc.recap:
        out += ["<h2>Recap</h2>", f"<p>{_prose(doc.recap)}</p>"]
    if doc.kubernetes:
        out += ["<h2>In Kubernetes</h2>", f"<p>{_prose(doc.kubernetes)}</p>"]
    if doc.sources:
        out += ["<h2>Sources</h2>",
                "<ul>" + "".join(f"<li>{_prose(source)}</li>" for source in doc.sources) + "</ul>"]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


FORMATS: dict[str, Callable[[Handout], str]] = {"md": write_markdown, "html": write_html}


def to_markdown(rendered: RenderedLesson, captured: Capture) -> str:
    return FORMATS["md"](build(rendered, captured))


def to_html(rendered: RenderedLesson, captured: Capture) -> str:
    return FORMATS["html"](build(rendered, captured))
