"""The command line. It parses, calls the library, and is the only place that turns errors into messages.

Exit codes: 0 passed, 1 a check failed, 2 bad input (unknown lesson, bad parameter, broken lesson file),
3 environment problem (missing tool, no user namespaces, not root for --host), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer

from netlessons import errors

EXIT_CODES = """Exit codes: 0 passed · 1 a check failed · 2 bad input (unknown lesson, bad parameter, broken lesson
file) · 3 environment problem (missing tool, no user namespaces, not root for --host) · 130 interrupted."""

app = typer.Typer(
    pretty_exceptions_enable=False, rich_markup_mode=None,
    suggest_commands=False,  # click suggests a close command already; typer's own would say it a second time
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Runnable, checked lessons on Linux container networking: namespaces, veth pairs, bridges.\n\n"
         + EXIT_CODES,
)


@app.callback(invoke_without_command=True)
def global_options(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", is_eager=True, help="Print the version and exit."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours (as NO_COLOR=1 does); there are none "
                                                           "anyway when the output is not a terminal."),
) -> None:
    from netlessons import __version__, terminal

    if version:
        typer.echo(f"netlessons {__version__}")
        raise typer.Exit(errors.EXIT_OK)
    if no_color:
        terminal.disable_color()
    if ctx.invoked_subcommand is None:  # `netlessons` alone: the help, and no error
        typer.echo(ctx.get_help())
        raise typer.Exit(errors.EXIT_OK)


def complete_lesson(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of lesson ids (with the --lessons-dir folders given so far)."""
    try:
        return [name for name in _catalog(ctx.params.get("dirs")).files() if name.startswith(incomplete)]
    except errors.NetlessonsError:
        return []


def complete_step(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a step for --upto/--step: the lesson's step numbers ("12", "12.2") and step ids."""
    try:
        rendered = _render(ctx.params["lesson"], ctx.params.get("sets"), ctx.params.get("flavor"),
                           ctx.params.get("dirs"))
    except (errors.NetlessonsError, KeyError):
        return []
    steps = rendered.own_steps
    choices = ["0"] + [rendered.label(s) for s in steps] + list(dict.fromkeys(s.group for s in steps))
    choices += [s.id for s in steps if s.id != s.group]
    return [choice for choice in dict.fromkeys(choices) if choice.startswith(incomplete)]


LessonArgument = typer.Argument(..., help="Lesson id, e.g. bridge-3ns.", autocompletion=complete_lesson)
SetOption = typer.Option(None, "--set", metavar="NAME=VALUE", help="Set a lesson parameter (repeatable).")
FlavorOption = typer.Option(None, "--flavor", help="brctl (the post's) or iproute2, for lessons with bridges.")
DirsOption = typer.Option(None, "--lessons-dir", help="Also look for lessons here, before the built-in ones "
                                                      "(repeatable; NETLESSONS_PATH works too).")


def _fail(message: str, hint: str = "") -> None:
    typer.echo(f"netlessons: error: {message}", err=True)
    if hint:
        typer.echo(f"  {hint}", err=True)


def handles_errors(command: Callable) -> Callable:
    """Every user-facing error becomes one readable message and its exit code; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except errors.LessonFileErrors as e:
            for error in e.errors:
                _fail(error.message, error.hint)
            raise typer.Exit(errors.EXIT_BAD_INPUT) from None
        except errors.NetlessonsError as e:
            _fail(e.message, e.hint)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            if kwargs.get("host") or command.__name__ == "cleanup":
                typer.echo("\ninterrupted. If a --host run was cleaning up, `netlessons cleanup` removes what is "
                           "left of its lab.", err=True)
            else:  # every other command works in a sandbox, which ended with this process's lab shell
                typer.echo("\ninterrupted; the sandbox is gone.", err=True)
            raise typer.Exit(errors.EXIT_INTERRUPTED) from None

    return wrapper


def _catalog(dirs: Optional[List[Path]]):
    from netlessons.catalog import Catalog

    return Catalog.default(list(dirs or []))


def _render(lesson_id: str, sets: Optional[List[str]], flavor: Optional[str], dirs: Optional[List[Path]],
            catalog=None):
    """The lesson rendered with these values: from the per-user cache when nothing changed, else anew.
    With -v, say once why the cache folder is not used."""
    import click

    from netlessons import codecache
    from netlessons.catalog import data_dir
    from netlessons.params import parse_assignments

    catalog = catalog or _catalog(dirs)
    lesson = catalog.get(lesson_id)
    overrides = parse_assignments(list(sets or []))
    key = codecache.rendered_key([item.path for item in catalog.chain(lesson)], data_dir("templates"), overrides,
                                 flavor)
    rendered = codecache.load_rendered(key)
    if rendered is None:
        from netlessons.render import render_lesson

        rendered = render_lesson(catalog, lesson, overrides, flavor)
        codecache.save_rendered(key, rendered)
    notice = codecache.take_notice()
    context = click.get_current_context(silent=True)
    if notice and context is not None and context.params.get("verbose"):
        typer.echo(f"netlessons: {notice}", err=True)
    return rendered


@app.command("list")
@handles_errors
def list_lessons(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """List the lessons: id, title, number of steps, and the tools they need.

    A lesson file that cannot be loaded is named on stderr and left out; the others are still listed and the
    exit code stays 0 (`netlessons validate` is the command that judges lesson files)."""
    from netlessons.listing import json_row, listing

    catalog = _catalog(dirs)
    found = listing(catalog, lambda lesson_id, catalog: _render(lesson_id, None, None, None, catalog=catalog))
    overrides = catalog.builtin_overrides()
    _announce_overrides(overrides)
    for problem in found.broken:
        typer.echo(f"netlessons: warning: left out {problem}", err=True)
    if as_json:
        typer.echo(json.dumps([json_row(row, row.id in overrides) for row in found.rows], indent=2))
        return
    rows = found.rows
    width = max([len(row.id) for row in rows] + [6])
    typer.echo(f"{'LESSON':<{width}}  STEPS  TITLE")
    for row in rows:
        typer.echo(f"{row.id:<{width}}  {row.steps:>5}  {row.title}")
        after = f"after {', '.join(row.prerequisites)}; " if row.prerequisites else ""
        typer.echo(f"{'':<{width}}         {after}needs: {', '.join(row.packages)}")


def _announce_overrides(overrides: dict[str, Path]) -> None:
    """A user's lesson that hides a built-in one of the same id is said once on stderr, since every lesson
    built on that id (its prerequisites' users too) then runs the user's version."""
    for lesson_id, path in sorted(overrides.items()):
        typer.echo(f"{lesson_id}: from {errors.printable(path.parent, 4096)}, overrides the built-in", err=True)


def _writable(path: Path, option: str) -> None:
    """Refuse an output file that cannot be written, before any work is done for it."""
    def refuse(reason: str) -> errors.ParameterError:
        return errors.ParameterError(f"{option}: cannot write {errors.printable(path, 4096)}: {reason}")

    try:
        if path.is_dir():
            raise refuse("it is a folder")
        if not path.parent.is_dir():
            raise refuse(f"there is no folder {errors.printable(path.parent, 4096)}")
        exists = path.exists()
    except OSError as e:  # a folder on the way that this user may not enter
        raise refuse(e.strerror or "cannot look there") from None
    if not os.access(path if exists else path.parent, os.W_OK):
        raise refuse("permission denied")


def _write(path: Path, data: bytes, option: str) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise errors.ParameterError(f"{option}: cannot write {errors.printable(path, 4096)}: {e.strerror}") from None


@app.command("print")
@handles_errors
def print_script(
    lesson: str = LessonArgument,
    sudo: bool = typer.Option(False, "--sudo", help="Prefix every command with sudo, as the post does."),
    no_cleanup: bool = typer.Option(False, "--no-cleanup", help="Leave the clean-up commands out."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """Print the lesson as a bash script you can read and run."""
    from netlessons.script import render_script

    typer.echo(render_script(_render(lesson, sets, flavor, dirs), sudo=sudo, cleanup=not no_cleanup), nl=False)


@app.command("explain")
@handles_errors
def explain(
    lesson: str = LessonArgument,
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """Explain the lesson step by step: title, command, why, and what you should see."""
    from netlessons import terminal
    from netlessons.explain import render_explanation

    width = terminal.text_width(sys.stdout)
    typer.echo(render_explanation(_render(lesson, sets, flavor, dirs), width=width), nl=False)


@app.command("run", help="Run the lesson and check every step. By default it runs in a throwaway sandbox "
                         "(new network, mount and PID namespaces; no root needed) that vanishes afterwards.\n\n"
                         + EXIT_CODES)
@handles_errors
def run(
    lesson: str = LessonArgument,
    host: bool = typer.Option(False, "--host", help="Build the lab on this machine's own network (needs root)."),
    keep: bool = typer.Option(False, "--keep", help="With --host: leave the lab up; remove it with `cleanup`."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report instead of the live view."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write a JUnit XML report to this file."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show each step's output."),
    changes: bool = typer.Option(False, "--changes", help="Say what each step changed in the network."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours (as NO_COLOR=1 does)."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    from netlessons import report as reporting
    from netlessons.runner import Runner

    if keep and not host:
        raise errors.ParameterError("--keep needs --host: a sandbox always vanishes when the run ends")
    if junit:
        _writable(junit, "--junit")
    catalog = _catalog(dirs)  # one catalog: each lesson file is read once
    _announce_overrides(_overrides_in_chain(lesson, catalog))
    rendered = _render(lesson, sets, flavor, dirs, catalog=catalog)
    view = None if as_json else reporting.LiveView(verbose=verbose, color=False if no_color else None)
    caught: list[int] = []
    previous = {sig: signal.signal(sig, functools.partial(_raise_interrupt, caught)) for sig in HANDLED_SIGNALS}
    try:
        result = Runner(rendered, host=host, keep=keep, listener=view, changes=changes).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if view:
        view.finished(result)
        if result.passed:
            typer.echo(_next_lesson(rendered.lesson.id, catalog))
    else:
        typer.echo(reporting.to_json(result, rendered), nl=False)
    if junit:
        _write(junit, reporting.to_junit(result), "--junit")
    if result.interrupted:
        raise typer.Exit(128 + caught[0] if caught else errors.EXIT_INTERRUPTED)
    raise typer.Exit(errors.EXIT_OK if result.passed else errors.EXIT_CHECK_FAILED)


def _next_lesson(lesson_id: str, catalog) -> str:
    """The line that ends a passed run: which lesson comes next in teaching order (from the rows `list` keeps,
    which are in that order, else from every lesson file)."""
    from netlessons.lesson import teaching_order
    from netlessons.listing import kept

    rows = kept(catalog)
    try:
        order = [row.id for row in rows.rows] if rows else [item.id for item in teaching_order(catalog.all())]
    except errors.NetlessonsError:  # a broken lesson elsewhere must not spoil a passed run
        return ""
    if lesson_id not in order or order.index(lesson_id) + 1 == len(order):
        return "That was the last lesson. `netlessons list` shows them all."
    following = order[order.index(lesson_id) + 1]
    return f"Next lesson: {following} (netlessons explain {following}; netlessons run {following})"


def _overrides_in_chain(lesson_id: str, catalog) -> dict[str, Path]:
    overrides = catalog.builtin_overrides()
    return {item.id: overrides[item.id] for item in catalog.chain(catalog.get(lesson_id)) if item.id in overrides}


# A closed terminal (SIGHUP) and `kill` (SIGTERM) get the same clean-up as Ctrl-C; the exit status then says
# which signal it was (129, 143), as a shell would.
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(caught: list[int], signum: int, frame) -> None:
    if signum == signal.SIGHUP:  # the terminal is gone: writing to it must not stop the clean-up
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    if not caught:
        caught.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _built_lab(rendered, upto: Optional[str]):
    """A sandbox lab built up to a step (its number as explain shows it, or its id; default: all steps), with
    a progress line on a terminal, closed on the way out. Yields the lab, the number of commands run and the
    result of a step that failed (None when all passed): a failed lab is still there to look at."""
    from netlessons import terminal
    from netlessons.runner import Lab, Policy

    count = rendered.upto(upto) if upto else len(rendered.steps)
    lab = Lab(rendered)
    progress = terminal.Progress()
    try:
        policy = Policy(announce=lambda done, _: progress.show(
            f"building the lab of {rendered.lesson.id}: {done}/{count} commands"))
        failed = next((outcome for outcome in lab.play(rendered.steps[:count], policy) if not outcome.passed), None)
        progress.clear()
        yield lab, count, failed
    finally:
        progress.clear()
        lab.close()


def _failure_notice(rendered, failed, mode: str, what: str) -> None:
    from netlessons import report as reporting

    label = rendered.label(failed.step)
    typer.echo(reporting.failure_text(failed, mode, label), err=True)
    typer.echo(f"\nnetlessons: {what} the lab as step {label} left it, when it failed.", err=True)


@app.command("walk")
@handles_errors
def walk(
    lesson: str = LessonArgument,
    auto: Optional[float] = typer.Option(None, "--auto", metavar="SECONDS",
                                         help="Play by itself, pausing this long before each step."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """Walk through a lesson step by step in a sandbox: read, run, see the output and what changed."""
    from netlessons.walk import Walk

    if auto is not None and not 0 <= auto <= 600:
        raise errors.ParameterError("--auto is a number of seconds from 0 to 600")
    tally = Walk(_render(lesson, sets, flavor, dirs), auto=auto).play()
    raise typer.Exit(errors.EXIT_CHECK_FAILED if tally.failed else errors.EXIT_OK)


@app.command("shell")
@handles_errors
def lab_shell(
    lesson: str = LessonArgument,
    upto: Optional[str] = typer.Option(None, "--upto", metavar="STEP", autocompletion=complete_step,
                                       help="Stop after this step: its number as explain shows it (12, 12.2), "
                                            "or its id."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """Build the lesson's lab in a sandbox (up to a step), then open a shell inside it. It all vanishes
    when you leave the shell. If a step fails, the shell opens on the lab as that step left it. The exit status
    is the shell's."""
    rendered = _render(lesson, sets, flavor, dirs)
    with _built_lab(rendered, upto) as (lab, count, failed):
        if failed:
            _failure_notice(rendered, failed, lab.mode, "The shell opens on")
        else:
            where = f"step {rendered.label(rendered.steps[count - 1])}" if count else "its start"
            typer.echo(f"The lab of {lesson} after {where}. Try: ip netns list; ip -br link; "
                       "`exit` ends the shell and the lab.", err=True)
        status = lab.open_shell()
    raise typer.Exit(status)


@app.command("watch", help="Show the packets on an interface as they pass, one decoded line each, until Ctrl-C. "
                           "Meant for a lab's shell (`netlessons shell LESSON`), where the lab's namespaces are: "
                           "e.g. `netlessons watch br0`, `netlessons watch eth0 --ns pod1 --filter icmp`.")
@handles_errors
def watch(
    interface: str = typer.Argument(..., help="The interface to watch."),
    ns: str = typer.Option("", "--ns", help="The namespace it is in (default: where this shell is)."),
    filter_: str = typer.Option("", "--filter", help="A tcpdump filter, e.g. 'arp or icmp'."),
    link: bool = typer.Option(False, "--link", "-e", help="Show link-layer headers (MAC addresses), as tcpdump -e."),
    decode: str = typer.Option("", "--decode", help="'vxlan': decode UDP as VXLAN, as tcpdump -T vxlan."),
) -> None:
    from netlessons import capture
    from netlessons.lesson import Capture
    from netlessons.params import check_object_name

    check_object_name("link", interface)
    if ns:
        check_object_name("netns", ns)
    if decode not in capture.DECODERS:
        raise errors.ParameterError(f"--decode is one of: {', '.join(d for d in capture.DECODERS if d)}; "
                                    f"{decode!r} is not")
    capture.check_place(interface, ns, filter_)
    spec = Capture(on=(interface,), netns=ns, filter=filter_, link=link, decode=decode)
    typer.echo(f"watching {interface}{' in ' + ns if ns else ''}; Ctrl-C stops", err=True)
    status = capture.watch(capture.watch_argv(interface, ns, spec))
    raise typer.Exit(errors.EXIT_OK if status in (0, -signal.SIGINT, 128 + signal.SIGINT) else errors.EXIT_ENVIRONMENT)


@app.command("diagram")
@handles_errors
def draw(
    lesson: str = LessonArgument,
    step: Optional[str] = typer.Option(None, "--step", metavar="N", autocompletion=complete_step,
                                       help="Draw the lab after this step: its number as explain shows it "
                                            "(12, 12.2), or its id; default: fully built."),
    fmt: str = typer.Option("text", "--format", help="text, mermaid, dot, svg, or json (the topology as data)."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """Draw the lesson's topology from the real state of a sandbox run. When a step fails, the lab is drawn
    as it was at that failure (with a notice on stderr, exit 1)."""
    from netlessons import diagram, state

    if fmt not in diagram.FORMATS:
        raise errors.ParameterError(f"--format must be one of {', '.join(diagram.FORMATS)}; {fmt!r} is not")
    rendered = _render(lesson, sets, flavor, dirs)
    with _built_lab(rendered, step) as (lab, _, failed):
        snapshot = state.snapshot(lab.run)
    if fmt == "svg" and diagram.dot_program() is None:
        typer.echo("netlessons: Graphviz dot is not installed, so the SVG uses a simple layout of its own "
                   "(apt-get install graphviz for a better one).", err=True)
    typer.echo(diagram.render(snapshot, fmt), nl=False)
    if failed:
        _failure_notice(rendered, failed, lab.mode, "The drawing shows")
        raise typer.Exit(errors.EXIT_CHECK_FAILED)


@app.command("export")
@handles_errors
def export(
    lesson: str = LessonArgument,
    fmt: str = typer.Option("md", "--format", help="md (Markdown with a Mermaid diagram) or html (inline SVG)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout."),
    step: Optional[str] = typer.Option(None, "--step", metavar="N", autocompletion=complete_step,
                                       help="Only this step (its number as explain shows it, or its id): a "
                                            "sheet for one point of a lesson."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    """A self-contained handout: steps, commands, explanations, real output, what changed, and the diagram."""
    import dataclasses

    from netlessons import handout

    if fmt not in handout.FORMATS:
        raise errors.ParameterError(f"--format must be one of {', '.join(handout.FORMATS)}; {fmt!r} is not")
    if output:
        _writable(output, "--output")
    rendered = _render(lesson, sets, flavor, dirs)
    wanted = rendered.label(rendered.steps[rendered.upto(step) - 1]).split(".")[0] if step else ""
    captured = handout.capture(rendered)
    doc = handout.build(rendered, captured)
    if wanted:
        doc = dataclasses.replace(doc, sections=tuple(s for s in doc.sections if str(s.number) == wanted))
    text = handout.FORMATS[fmt](doc)
    if output:
        _write(output, text.encode("utf-8"), "--output")
    else:
        typer.echo(text, nl=False)
    failed = [r for r in captured.results if not r.passed]
    if failed:
        raise errors.StepFailed(f"the run behind the handout failed at step {failed[0].step.id!r}")


@app.command("cleanup")
@handles_errors
def cleanup() -> None:
    """Remove what a kept, killed or interrupted host-mode run left, using its ledger alone."""
    from netlessons.host import cleanup_all

    done = cleanup_all()
    if not done:
        typer.echo("nothing to clean up")
        return
    for ledger, lines in done:
        typer.echo(f"{ledger}: " + (", ".join(lines) if lines else "its objects were already gone"))


@app.command("validate")
@handles_errors
def validate(paths: List[Path] = typer.Argument(..., help="Lesson files or folders of them.")) -> None:
    """Check lesson files without running anything: structure, references, templates and parameter values."""
    from netlessons.validate import validate_paths

    reports = validate_paths(paths)
    for report in reports:
        for warning in report.warnings:
            typer.echo(f"warning: {warning.message}", err=True)
        if not report.problems:
            typer.echo(f"ok: {errors.printable(report.path, 4096)}")
    problems = [problem for report in reports for problem in report.problems]
    if problems:
        raise errors.LessonFileErrors(problems)


@app.command("doctor")
@handles_errors
def doctor(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text.")) -> None:
    """What this machine offers for the lessons, and what to install or change. Exit 0 when lessons can run."""
    from netlessons import doctor as checkup

    report = checkup.examine()
    typer.echo(checkup.to_json(report) if as_json else checkup.render_text(report), nl=False)
    raise typer.Exit(errors.EXIT_OK if report.can_run_lessons else errors.EXIT_ENVIRONMENT)


@app.command("new")
@handles_errors
def new(
    name: str = typer.Argument(..., help="Id of the new lesson: lower-case letters, digits and '-'."),
    folder: Path = typer.Option(Path("."), "--dir", help="Where to write NAME.toml."),
) -> None:
    """Write a lesson skeleton that validates and runs; fill in its TODOs."""
    from netlessons.skeleton import shadowing_warning, write_skeleton

    _writable(folder / f"{name}.toml", "--dir")
    try:
        path = write_skeleton(name, folder)
    except OSError as e:
        raise errors.ParameterError(f"--dir: cannot write in {errors.printable(folder, 4096)}: {e.strerror}") from None
    warning = shadowing_warning(name, folder)
    if warning:
        typer.echo(f"netlessons: warning: {warning}", err=True)
    typer.echo(f"wrote {path}\nnext: netlessons validate {path} && netlessons run {name} --lessons-dir {folder}")


def _challenge_record(lab: Optional[str] = None):
    """The challenge running in this lab ("$LAB"), or None."""
    from netlessons.challenge import RECORD, Record

    folder = lab if lab is not None else os.environ.get("LAB", "")
    path = Path(folder) / RECORD if folder else None
    if path is None or not path.is_file():
        return None
    try:
        return Record.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        raise errors.EnvironmentProblem(f"cannot read the challenge's record {errors.printable(path, 4096)}") from None


def _print_verdicts(verdicts, as_json: bool, reveal: bool = True) -> bool:
    """The goals' verdicts as text or JSON; whether all were met."""
    from netlessons.goals import report_lines

    met = all(v.passed for v in verdicts)
    if as_json:
        shown = [v.as_dict() if reveal or v.passed or v.goal.command else {**v.as_dict(), "problem": ""}
                 for v in verdicts]
        typer.echo(json.dumps({"passed": met, "goals": shown}, indent=2))
        return met
    for line in report_lines(verdicts, reveal):
        typer.echo(line)
    failing = sum(not v.passed for v in verdicts)
    typer.echo(f"all {len(verdicts)} goals met" if met else f"{failing} of {len(verdicts)} goals not met")
    return met


@app.command("check", help="Judge the lab you are in against a lesson's goals and say what is still missing. "
                           "Meant for a lab's shell (`netlessons shell LESSON --upto STEP`, then build the rest by "
                           "hand); inside a challenge, LESSON may be left out. Exit 0 when every goal is met, 1 "
                           "when not.")
@handles_errors
def check_lab(
    lesson: Optional[str] = typer.Argument(None, help="Lesson id; inside a challenge: left out.",
                                           autocompletion=complete_lesson),
    upto: Optional[str] = typer.Option(None, "--upto", metavar="STEP", autocompletion=complete_step,
                                       help="Only the goals of the lesson up to this step (its number or id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    from netlessons import goals as grading

    if lesson:
        rendered = _render(lesson, sets, flavor, dirs)
        wanted = grading.goals_of(rendered, rendered.upto(upto) if upto else None)
    else:
        record = _challenge_record()
        if record is None:
            raise errors.ParameterError("name the lesson whose goals to check, e.g. `netlessons check bridge-3ns` "
                                        "(only inside a challenge's lab may it be left out)")
        if upto:
            raise errors.ParameterError("--upto needs a LESSON")
        wanted = record.goal_list()
    met = _print_verdicts(grading.grade(wanted, grading.local_run), as_json, reveal=bool(lesson))
    raise typer.Exit(errors.EXIT_OK if met else errors.EXIT_CHECK_FAILED)


@app.command("hint")
@handles_errors
def hint() -> None:
    """Inside a challenge's lab: the next hint (each says a little more); they are counted."""
    from netlessons.challenge import RECORD

    record = _challenge_record()
    if record is None:
        raise errors.ParameterError("there is no challenge in this lab; `netlessons challenge LESSON` starts one")
    if record.hints_used >= len(record.hints):
        typer.echo("No more hints. `netlessons check` says which goals still fail.")
        return
    typer.echo(f"Hint {record.hints_used + 1} of {len(record.hints)}: {record.hints[record.hints_used]}")
    record.hints_used += 1
    try:
        (Path(os.environ["LAB"]) / RECORD).write_text(record.to_json())
    except OSError as e:
        raise errors.EnvironmentProblem(f"cannot count the hint: {e.strerror}") from None


def _junit_challenge(result: dict) -> bytes:
    from xml.sax.saxutils import quoteattr

    cases = []
    for goal in result["goals"]:
        failure = "" if goal["passed"] else f"<failure message={quoteattr(goal['problem'])}/>"
        cases.append(f"  <testcase classname={quoteattr('challenge.' + result['lesson'])} "
                     f"name={quoteattr(goal['goal'])}>{failure}</testcase>")
    failures = sum(not g["passed"] for g in result["goals"])
    faults = " + ".join(result["faults"])
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<testsuite name={quoteattr('challenge ' + result['lesson'] + ' ' + faults)} "
            f"tests=\"{len(result['goals'])}\" failures=\"{failures}\" time=\"{result['seconds']:.1f}\">\n"
            + "\n".join(cases) + "\n</testsuite>\n").encode("utf-8")


def _print_solution(keys: list[dict], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(keys[0] if len(keys) == 1 else keys, indent=2))
        return
    for key in keys:
        seeded = "" if key["seed"] is None else f", seed {key['seed']}"
        for part in key.get("parts", [key]):
            typer.echo(f"{part['fault']} ({part['difficulty']}{seeded})\n  symptom: {part['symptom']}")
        typer.echo("  fix:\n" + "".join(f"    {c}\n" for c in key["fix"]))


def _handout(rendered, faults, count: int, students: int, seed: Optional[int], fmt: str, output: Optional[Path],
             key: bool, sets: Optional[List[str]], flavor: Optional[str]) -> None:
    from netlessons import classroom

    if fmt not in classroom.FORMATS:
        raise errors.ParameterError(f"--format is one of {', '.join(classroom.FORMATS)}, not {fmt!r}")
    options = [word for value in sets or [] for word in ("--set", value)] + (["--flavor", flavor] if flavor else [])
    doc = classroom.sheet(rendered.lesson.id, rendered.lesson.title, faults, students, seed, count, options)
    text = classroom.FORMATS[fmt](doc, key)
    if output:
        _write(output, text.encode("utf-8"), "-o")
        typer.echo(f"wrote {output}" + ("" if key else f" (the key: the same command with --solution; sheet seed "
                                                        f"{doc.seed})"), err=True)
    else:
        typer.echo(text, nl=False)


@app.command("challenge", help="Break the lesson's lab on purpose (one fault, not named; or an incident of "
                               "several with --faults) and hand you a shell in it with the symptom as the task. "
                               "Inside: `netlessons check` grades, `netlessons hint` gives the next hint; leaving "
                               "the shell grades a last time. Commands come from stdin when it is not a terminal. "
                               "Exit 0 when solved, 1 when not. For a class, --handout prints a sheet of seeded "
                               "exercises (with --solution: its key); nothing is built.\n\n" + EXIT_CODES)
@handles_errors
def challenge(
    lesson: str = LessonArgument,
    fault_names: Optional[List[str]] = typer.Option(None, "--fault", metavar="NAME",
                                                    help="This fault (see --list); repeat it with --faults."),
    count: int = typer.Option(1, "--faults", metavar="N", help="Inject N different declared faults at once (an "
                                                               "incident; 1 to 3); all must be fixed."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Pick the fault(s) with this seed: the same seed, the "
                                                            "same fault(s). With --handout: the sheet's seed."),
    list_faults: bool = typer.Option(False, "--list", help="List the faults: names and difficulty, no answers."),
    solution: bool = typer.Option(False, "--solution", help="For teachers: the fault (by --fault or --seed; all "
                                                            "without) and its fix; with --handout, the sheet's "
                                                            "key. Builds nothing."),
    handout: bool = typer.Option(False, "--handout", help="For a class: a sheet of seeded exercises, one per "
                                                          "student, without the answers. Builds nothing."),
    fmt: str = typer.Option("md", "--format", metavar="md|html", help="The sheet's format (with --handout)."),
    students: int = typer.Option(20, "--students", metavar="N", help="Exercises on the sheet (with --handout)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE",
                                          help="With --handout: write the sheet here. Else: also write the "
                                               "result as JSON to FILE (what `netlessons results` reads)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: the list, the solution, or the result."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write the result as JUnit XML to this file."),
    sets: Optional[List[str]] = SetOption,
    flavor: Optional[str] = FlavorOption,
    dirs: Optional[List[Path]] = DirsOption,
) -> None:
    import time

    from netlessons import challenge as challenges
    from netlessons import goals as grading

    names = list(fault_names or [])
    if seed is not None and not 0 <= seed < 2 ** 63:
        raise errors.ParameterError("--seed is a whole number from 0")
    if not 1 <= count <= 3:
        raise errors.ParameterError("--faults is 1, 2 or 3")
    if handout and (list_faults or names or junit or as_json):
        raise errors.ParameterError("--handout goes with --solution, --format, -o, --students, --seed and --faults "
                                    "only")
    if junit:
        _writable(junit, "--junit")
    if output:
        _writable(output, "-o")
    rendered = _render(lesson, sets, flavor, dirs)
    wanted = grading.goals_of(rendered)
    faults = challenges.faults_of(rendered, wanted)
    if list_faults:
        rows = [{"name": f.name, "difficulty": f.difficulty} for f in faults]
        typer.echo(json.dumps(rows, indent=2) if as_json else "\n".join(f"{r['name']}  ({r['difficulty']})"
                                                                         for r in rows))
        return
    if handout:
        _handout(rendered, faults, count, students, seed, fmt, output, solution, sets, flavor)
        return
    if solution:
        if names or seed is not None:
            chosen, seed = challenges.choose(faults, names, seed, count)
            keys = [challenges.solution(lesson, chosen, seed)]
        elif count > 1:
            raise errors.ParameterError(f"the key of an incident needs its --seed (or its {count} --fault names)")
        else:
            keys = [challenges.solution(lesson, [f], None) for f in faults]
        _print_solution(keys, as_json)
        return
    chosen, seed = challenges.choose(faults, names, seed, count)
    with _built_lab(rendered, None) as (lab, _, failed):
        if failed:
            _failure_notice(rendered, failed, lab.mode, "No challenge:")
            raise errors.StepFailed(f"the lab of {lesson} could not be built, so there is nothing to break")
        for fault in chosen:
            injected = lab.shell.run(fault.inject, timeout=30)
            if injected.status != 0:
                raise errors.StepFailed(f"the fault {fault.name!r} could not be injected: "
                                        f"{injected.output.strip() or 'exit status ' + str(injected.status)}")
        run = functools.partial(lab.shell.run, timeout=60)
        task = challenges.task(chosen, grading.grade(wanted, run))
        label = " + ".join(f.name for f in chosen)
        record = challenges.Record(lesson, label, seed, task, challenges.Record.hints_of(chosen),
                                   challenges.goals_as_data(wanted))
        saved = lab.shell.run(f'printf %s {shlex.quote(record.to_json())} >"$LAB"/{challenges.RECORD}', timeout=10)
        if saved.status != 0:
            raise errors.EnvironmentProblem(f"cannot write the challenge's record in the lab: {saved.stderr.strip()}")
        kind = f"{len(chosen)} faults at once, " if len(chosen) > 1 else "fault "
        picked = kind + " + ".join(f.difficulty for f in chosen) + (f", seed {seed}" if seed is not None else "")
        typer.echo(f"Challenge: {lesson} ({picked})\n\n  {task}\n\n`netlessons check` grades, `netlessons hint` "
                   "gives a hint, `exit` ends the challenge and grades a last time.", err=True)
        start = time.monotonic()
        lab.open_shell()
        seconds = time.monotonic() - start
        kept = lab.shell.run(f'cat "$LAB"/{challenges.RECORD}', timeout=10)
        try:
            record = challenges.Record.from_json(kept.stdout)
        except (ValueError, KeyError, TypeError):
            pass  # the learner removed it: the hints used are those counted before
        verdicts = grading.grade(wanted, run)
    solved = all(v.passed for v in verdicts)
    result = {"lesson": lesson, "fault": label, "faults": [f.name for f in chosen], "seed": seed, "solved": solved,
              "hints_used": record.hints_used, "seconds": round(seconds, 1),
              "goals": [v.as_dict() for v in verdicts]}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        from netlessons.goals import report_lines

        typer.echo("\n".join(report_lines(verdicts)))
        typer.echo(f"{'SOLVED' if solved else 'NOT SOLVED'}: {lesson}, fault{'s' if len(chosen) > 1 else ''} "
                   f"{label}, {seconds:.0f} s, {record.hints_used} hint{'s' if record.hints_used != 1 else ''} used")
    if junit:
        _write(junit, _junit_challenge(result), "--junit")
    if output:
        _write(output, (json.dumps(result, indent=2) + "\n").encode("utf-8"), "-o")
    raise typer.Exit(errors.EXIT_OK if solved else errors.EXIT_CHECK_FAILED)


@app.command("results", help="Sum up the result files of a class's challenges (written by `netlessons challenge "
                             "--json` or `-o FILE`) in one table, with totals. Every file is read before anything "
                             "is printed; one that is not a result stops it (exit 2).")
@handles_errors
def results(
    files: List[Path] = typer.Argument(..., metavar="FILE...", help="Result files, one per student."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
) -> None:
    from netlessons import classroom

    done = classroom.summary(list(files))
    typer.echo(json.dumps(done, indent=2) if as_json else classroom.table(done), nl=as_json)


def main() -> None:
    """typer makes a click command of every registered command before it reads the command line (about 10 ms
    of a 0.1 s start); a command line that begins with a command's name is given an app of that command alone.
    Anything else (no command, an option first, a misspelt name; shell completion, which passes no arguments)
    gets the whole app."""
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    named = [command for command in app.registered_commands if command.name == first]
    chosen = app
    if named:
        chosen = copy.copy(app)
        chosen.registered_commands = named
    chosen(prog_name="netlessons")
