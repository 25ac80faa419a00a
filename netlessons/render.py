"""The Jinja environment: strict, sandboxed, and quoting every value that reaches a command.

Commands are written with macros from templates/ (one file per command family). Any value printed by
`{{ ... }}` in a command is shell-quoted unless it is already `Shell` text, which only macros and the `q`
filter produce. So a parameter value can never become shell syntax, whatever a lesson file says.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from netlessons.catalog import Catalog, data_dir
from netlessons.errors import LessonFileError, LessonFileErrors, NetlessonsError, ParameterError
from netlessons.lesson import Lesson, Owned, Parameter, RenderedLesson, Step, StepSpec
from netlessons.params import check_object_name, resolve

FAMILIES = ("netns", "link", "veth", "bridge", "addr", "route", "ping", "sysctl", "process", "nft", "iptables",
            "vxlan", "neigh", "cni", "http", "files", "dns")
HEREDOC_END = "NETLESSONS_JSON"
MAX_FOREACH = 5000


class Shell(str):
    """Text that is already safe to paste into a shell command line."""


def quote(value: Any) -> Shell:
    if isinstance(value, Shell):
        return value
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises UndefinedError under StrictUndefined
    text = str(value)
    if "\x00" in text:
        raise ParameterError("a value holds a NUL byte, which no command line can carry")
    return Shell(shlex.quote(text))


@dataclass
class _Recorder:
    """Collects what the macros of the step being rendered say it creates and needs."""

    creates: list[Owned] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)

    def create(self, kind: str, name: Any, netns: Any = "") -> Shell:
        if kind in ("link", "netns"):
            check_object_name(kind, str(name))
        self.creates.append(Owned(kind=str(kind), name=str(name), netns=str(netns or "")))
        return Shell("")

    def need(self, *tools: str) -> Shell:
        self.needs.extend(t for t in tools if t not in self.needs)
        return Shell("")


class _Family:
    """A template module whose macros return Shell text (so their output is not quoted again).

    The template is compiled on first use: most lessons need only a few of the families."""

    def __init__(self, env: jinja2.Environment, template: str) -> None:
        self._env = env
        self._template = template
        self._module: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._module is None:
            self._module = self._env.get_template(self._template).module
        macro = getattr(self._module, name, None)
        if not isinstance(macro, jinja2.runtime.Macro):
            raise jinja2.UndefinedError(f"no macro {name!r} in this family")
        return lambda *args, **kwargs: Shell(str(macro(*args, **kwargs)).strip())


def in_namespace(ns: Any) -> Shell:
    """The `ip netns exec NS ` prefix that runs what follows inside a namespace; empty for no namespace."""
    return Shell(f"ip netns exec {quote(ns)} ") if ns else Shell("")


def argv_words(args: Any) -> Shell:
    """A list of arguments as one command line, each word quoted on its own."""
    if isinstance(args, (str, bytes)) or not isinstance(args, Iterable):
        raise LessonFileError("an argument list must be a list, e.g. ['python3', '-m', 'http.server', '8080']")
    return Shell(" ".join(quote(a) for a in args))


def stdin_json(value: Any, save_to: str = "") -> Shell:
    """A here-document that feeds `value` as JSON to a command's standard input (and, with `save_to`, copies
    the command's output to that file). json.dumps writes one line with no raw newline, so the data can never
    end the here-document early, and the quoted delimiter stops the shell from expanding anything in it."""
    save = f" | tee {quote(save_to)}" if save_to else ""
    return Shell(f"<<'{HEREDOC_END}'{save}\n{json.dumps(value)}\n{HEREDOC_END}")


def network_address(subnet: str) -> str:
    """The first address of a subnet, e.g. network_address('10.244.2.0/24') == '10.244.2.0'."""
    return str(ipaddress.IPv4Network(str(subnet)).network_address)


def host_address(subnet: str, index: int, with_prefix: bool = True) -> str:
    """The index-th address of a subnet, e.g. host_address('10.0.0.0/24', 3) == '10.0.0.3/24'."""
    network = ipaddress.IPv4Network(str(subnet))
    if not 0 < int(index) < network.num_addresses - 1:
        raise ParameterError(f"subnet {subnet} has no host number {index}")
    address = network.network_address + int(index)
    return f"{address}/{network.prefixlen}" if with_prefix else str(address)


class Renderer:
    def __init__(self, flavor: str) -> None:
        self.recorder = _Recorder()
        self._templates: dict[tuple[int, str], jinja2.Template] = {}
        common = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        self.text_env = ImmutableSandboxedEnvironment(**common)
        self.command_env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(data_dir("templates"))), finalize=quote,
            **common)
        helpers = {"host": host_address, "network": network_address, "flavor": flavor}
        for env in (self.text_env, self.command_env):
            env.filters["address"] = lambda value: str(value).split("/")[0]
        self.text_env.globals.update(helpers)
        self.command_env.globals.update(helpers, creates=self.recorder.create, needs=self.recorder.need,
                                        in_ns=in_namespace, stdin_json=stdin_json)
        self.command_env.filters["q"] = quote
        self.command_env.filters["argv"] = argv_words
        for family in FAMILIES:
            self.command_env.globals[family] = _Family(self.command_env, f"{family}.j2")

    def _compiled(self, env: jinja2.Environment, source: str) -> jinja2.Template:
        """Each source is compiled once per process (a loop of N steps renders the same template N times).
        Compiled code is never cached on disk: what is loaded from there would run outside the sandbox."""
        key = (id(env), source)
        if key not in self._templates:
            self._templates[key] = env.from_string(source)
        return self._templates[key]

    def text(self, source: str, values: dict[str, Any]) -> str:
        if "{" not in source:
            return source
        return self._compiled(self.text_env, source).render(values)

    def command(self, source: str, values: dict[str, Any]) -> tuple[str, list[Owned], list[str]]:
        self.recorder.creates, self.recorder.needs = [], []
        command = self._compiled(self.command_env, source).render(values).strip()
        return command, list(self.recorder.creates), list(self.recorder.needs)

    def loop(self, foreach: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        """`i in range(1, 4)`, or nested clauses `i in range(1, 4); end in [0, 1]` (the first one outermost)."""
        rounds: list[dict[str, Any]] = [{}]
        for clause in foreach.split(";"):
            match = re.fullmatch(r"\s*([a-z_][a-z0-9_]*)\s+in\s+(.+?)\s*", clause, re.S)
            if not match:
                raise LessonFileError("'foreach' reads like: i in range(1, n + 1)   (nested: i in ...; j in ...)")
            name, expression = match.groups()
            expanded = []
            for scope in rounds:
                items = self.text_env.compile_expression(expression, undefined_to_none=False)(**values, **scope)
                if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
                    raise LessonFileError("'foreach' must give a list of values")
                expanded += [{**scope, name: item} for item in items]
                if len(expanded) > MAX_FOREACH:
                    raise LessonFileError(f"'foreach' gives more than {MAX_FOREACH} rounds")
            rounds = expanded
        return rounds


_renderers: dict[str, Renderer] = {}


def renderer_for(flavor: str) -> Renderer:
    if flavor not in _renderers:
        _renderers[flavor] = Renderer(flavor)
    return _renderers[flavor]


def chain_parameters(chain: list[Lesson]) -> tuple[Parameter, ...]:
    """Parameters of a lesson and its prerequisites; the lesson's own definition wins."""
    merged: dict[str, Parameter] = {}
    for lesson in chain:
        for p in lesson.parameters:
            merged[p.name] = p
    return tuple(merged.values())


def default_flavor(chain: list[Lesson]) -> str:
    for lesson in reversed(chain):
        if lesson.flavors:
            return lesson.flavors[0]
    return ""


def render_lesson(catalog: Catalog, lesson: Lesson, overrides: dict[str, str] | None = None,
                  flavor: str | None = None) -> RenderedLesson:
    chain = catalog.chain(lesson)
    parameters = chain_parameters(chain)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {p.name for p in parameters})
    if unknown:
        names = ", ".join(p.name for p in parameters) or "none"
        raise ParameterError(f"lesson {lesson.id!r} has no parameter {unknown[0]!r}; its parameters: {names}")
    values = resolve(parameters, overrides)
    offered = {f for item in chain for f in item.flavors}
    if flavor and flavor not in offered:
        raise ParameterError(f"lesson {lesson.id!r} has no flavor {flavor!r}; "
                             + (f"it offers {', '.join(sorted(offered))}" if offered else "it has no bridge flavors"))
    flavor = flavor or default_flavor(chain)
    renderer = renderer_for(flavor)
    steps: list[Step] = []
    for item in chain:
        steps += render_specs(renderer, item, item.steps, values, "steps")
    cleanup = render_specs(renderer, lesson, lesson.cleanup, values, "cleanup")
    return RenderedLesson(lesson=lesson, flavor=flavor, values=values, parameters=parameters,
                          prerequisites=tuple(chain[:-1]), steps=tuple(steps), cleanup=tuple(cleanup))


def render_specs(renderer: Renderer, lesson: Lesson, specs: tuple[StepSpec, ...], values: dict[str, Any],
                 phase: str) -> list[Step]:
    steps: list[Step] = []
    errors: list[LessonFileError] = []
    for index, spec in enumerate(specs):
        where = f"{phase}[{index}] {spec.id!r}"
        try:
            steps += _render_spec(renderer, lesson, spec, values, phase, where)
        except LessonFileError as e:
            errors.append(LessonFileError(e.message, path=str(lesson.path), field=e.field or where, line=spec.line))
        except NetlessonsError as e:
            errors.append(LessonFileError(e.message, path=str(lesson.path), field=where, line=spec.line))
    if errors:
        raise LessonFileErrors(errors)
    return steps


def _render_spec(renderer: Renderer, lesson: Lesson, spec: StepSpec, values: dict[str, Any], phase: str,
                 where: str) -> list[Step]:
    rounds: list[tuple[str, dict[str, Any]]] = [(spec.id, values)]
    if spec.foreach:
        loops = _template_call(lambda: renderer.loop(spec.foreach, values), f"{where}.foreach")
        rounds = _template_call(lambda: [("-".join([spec.id, *(_id_part(v) for v in loop.values())]),
                                          {**values, **loop}) for loop in loops], f"{where}.foreach")
    steps = []
    for number, (step_id, scope) in enumerate(rounds, 1):
        command, creates, needs = _template_call(lambda: renderer.command(spec.run, scope), f"{where}.run")
        if not command:
            raise LessonFileError("the command renders to nothing", field=f"{where}.run")
        _check_bounded_ping(command, f"{where}.run")
        text = lambda source, key: _template_call(lambda: renderer.text(source, scope), f"{where}.{key}")  # noqa: E731
        checked_here = spec.expect.every_round or number == len(rounds)
        state = tuple({k: text(v, "expect.state") if isinstance(v, str) else v for k, v in check.items()}
                      for check in spec.expect.state) if checked_here else ()
        expect = replace(spec.expect, output=tuple(text(line, "expect.output") for line in spec.expect.output),
                         state=state)
        steps.append(Step(id=step_id, title=text(spec.title, "title"), explain=text(spec.explain, "explain"),
                          command=command, expect=expect, group=spec.id, lesson=lesson.id, phase=phase,
                          erratum=text(spec.erratum, "erratum") if spec.erratum else "",
                          timeout=spec.timeout, creates=tuple(creates), needs=tuple(needs)))
    return steps


def _id_part(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(_id_part(v) for v in value)
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-") or "x"


def _template_call(call, field_name: str):
    try:
        return call()
    except jinja2.TemplateSyntaxError as e:
        raise LessonFileError(f"template syntax error: {e.message}", field=field_name) from None
    except jinja2.UndefinedError as e:
        raise LessonFileError(f"undefined in template: {e.message}", field=field_name) from None
    except jinja2.TemplateError as e:
        raise LessonFileError(f"template error: {e}", field=field_name) from None
    except NetlessonsError as e:
        raise LessonFileError(e.message, field=field_name) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as e:
        raise LessonFileError(f"template error: {e}", field=field_name) from None


def _check_bounded_ping(command: str, field_name: str) -> None:
    """A ping without -c never ends; the post's did not, ours always do."""
    for line in command.splitlines():
        words = re.split(r"[\s;&|()]+", line)
        for i, word in enumerate(words):
            if word == "ping" or word.endswith("/ping"):
                if "-c" not in words[i + 1:] and not any(w.startswith("-c") for w in words[i + 1:]):
                    raise LessonFileError("a ping without -c COUNT never ends; give it a count and a -W wait",
                                          field=field_name)
