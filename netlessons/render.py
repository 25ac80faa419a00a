"""The Jinja environment: strict, sandboxed, and quoting every value that reaches a command.

Commands are written with macros from templates/ (one file per command family). Any value printed by
`{{ ... }}` in a command is shell-quoted unless it is already `Shell` text, which only macros and the `q`
filter produce. So a parameter value can never become shell syntax, whatever a lesson file says.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import json
import os
import re
import resource
import shlex
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.visitor import NodeTransformer

from netlessons import kernel
from netlessons.catalog import Catalog, data_dir
from netlessons.errors import (
    UNPRINTABLE,
    LessonFileError,
    LessonFileErrors,
    NetlessonsError,
    ParameterError,
    SubnetTooSmall,
    printable,
)
from netlessons.lesson import (
    FAMILIES,
    HELPERS,
    Capture,
    Lesson,
    Owned,
    Parameter,
    RenderedLesson,
    Step,
    StepSpec,
    reserved_name,
)
from netlessons.loader import read_lesson_text
from netlessons.params import check_object_name, resolve

TEMPLATES_FOLDER = "templates"  # beside a lesson file: the author's own macro families, searched first
FAMILY_NAME = re.compile(r"[a-z_][a-z0-9_]*")
HEREDOC_END = "NETLESSONS_JSON"
MAX_FOREACH = 5000

# The most work and memory the templates of one lesson may take to render. Every loop round, call, filter and
# arithmetic operator is one operation, and so is every KiB of text they make; bridge-n at n=250, the largest
# built-in render, takes about 11 000 operations and a command of at most 600 characters.
MAX_OPERATIONS = 300_000
MAX_VALUE_SIZE = 100_000  # characters of a string, items of a list
MAX_INT_BITS = 1 << 16
MEMORY_HEADROOM = 1 << 30  # bytes a render may allocate beyond what the process holds when it starts


class RenderTooCostly(LessonFileError):
    """A lesson's templates would take more than their budget of work or memory to render."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_OPERATIONS

    def spend(self, operations: int = 1) -> None:
        self.left -= operations
        if self.left < 0:
            raise RenderTooCostly(f"rendering takes more than {MAX_OPERATIONS:,} operations (loop rounds, calls, "
                                  "filters); a lesson's templates must be smaller")

    def sized(self, value: Any) -> Any:
        if isinstance(value, (str, bytes, list, tuple)):
            self.check_size(len(value))
            self.spend(len(value) >> 10)
        return value

    @staticmethod
    def check_size(size: int) -> None:
        if size > MAX_VALUE_SIZE:
            raise RenderTooCostly(f"a value of {size:,} characters or items; a lesson's values hold at most "
                                  f"{MAX_VALUE_SIZE:,}")

    def counted(self, items: Any) -> Any:
        if hasattr(items, "__len__"):
            self.spend(len(items))
            return items
        return self._one_by_one(items)

    def _one_by_one(self, items: Iterable) -> Iterator:
        for item in items:
            self.spend()
            yield item


_flavor_used: contextvars.ContextVar[bool] = contextvars.ContextVar("netlessons_flavor_used", default=False)
_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("netlessons_render_budget", default=None)


def _current_budget() -> _Budget:
    budget = _budget.get()
    if budget is None:  # rendering outside render_lesson: each call gets a budget of its own
        budget = _Budget()
        _budget.set(budget)
    return budget


@contextlib.contextmanager
def metered_render() -> Iterator[None]:
    """One budget of operations for everything rendered inside, and at most MEMORY_HEADROOM more memory (the
    address-space limit is set back on the way out). A template that asks for more gets a clear error, not a
    MemoryError traceback or a machine that swaps."""
    token = _budget.set(_Budget())
    _limit_memory()
    try:
        yield
    finally:
        _budget.reset(token)
        _unlimit_memory()


# The address-space limit belongs to the whole process: renders in several threads at once share one, set by
# the first to start and set back by the last to finish (else one could restore another's limit for good).
_memory_lock = threading.Lock()
_memory_users = 0
_memory_before: tuple[int, int] | None = None


def _limit_memory() -> None:
    global _memory_users, _memory_before
    with _memory_lock:
        _memory_users += 1
        if _memory_users > 1:
            return
        _memory_before = None
        try:
            previous = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/statm") as statm:
                size = int(statm.read().split()[0]) * resource.getpagesize()
            soft, hard = previous
            limit = size + MEMORY_HEADROOM
            if soft == resource.RLIM_INFINITY or limit < soft:
                resource.setrlimit(resource.RLIMIT_AS,
                                   (min(limit, hard) if hard != resource.RLIM_INFINITY else limit, hard))
                _memory_before = previous
        except (OSError, ValueError):
            pass


def _unlimit_memory() -> None:
    global _memory_users
    with _memory_lock:
        _memory_users -= 1
        if _memory_users == 0 and _memory_before:
            resource.setrlimit(resource.RLIMIT_AS, _memory_before)


class _Metered(NodeTransformer):
    """Rewrites a parsed template so that its loops and `~` joins are counted and sized."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        if node.recursive:
            raise jinja2.TemplateSyntaxError("recursive loops are not allowed in lessons", node.lineno)
        node.iter = nodes.Filter(node.iter, "_counted", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        return nodes.Filter(self.generic_visit(node), "_sized", [], [], None, None, lineno=node.lineno)


def _too_big_argument(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(a, int) and abs(a) > MAX_VALUE_SIZE for a in (*args, *kwargs.values()))


class LessonEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's sandbox with a budget: loops, calls, filters and the operators that build big values count
    against the budget of the render in progress, and no single value may grow past MAX_VALUE_SIZE."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)
        self.globals["range"] = self._range
        self.filters = {name: self._guarded(f) for name, f in self.filters.items()}
        self.filters["_counted"] = lambda items: _current_budget().counted(items)
        self.filters["_sized"] = lambda text: _current_budget().sized(text)

    @staticmethod
    def _guarded(function: Any) -> Any:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            budget = _current_budget()
            budget.spend()
            if _too_big_argument(args[1:], kwargs):
                raise RenderTooCostly(f"a number argument larger than {MAX_VALUE_SIZE:,} to a filter")
            return budget.sized(function(*args, **kwargs))
        return guarded

    @staticmethod
    def _range(*args: int) -> range:
        numbers = safe_range(*args)
        _current_budget().spend(len(numbers))
        return numbers

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Metered().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _current_budget()
        budget.spend()
        if isinstance(getattr(__obj, "__self__", None), (str, bytes, list, tuple)) and _too_big_argument(args,
                                                                                                         kwargs):
            raise RenderTooCostly(f"a number argument larger than {MAX_VALUE_SIZE:,} to "
                                  f"{getattr(__obj, '__name__', 'a method')}()")
        return budget.sized(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _current_budget()
        budget.spend()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
                    budget.check_size(len(seq) * times)
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderTooCostly(f"a number of more than {MAX_INT_BITS:,} bits")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and \
                abs(left) > 1 and right * abs(left).bit_length() > MAX_INT_BITS:
            raise RenderTooCostly(f"a number of more than {MAX_INT_BITS:,} bits")
        return budget.sized(super().call_binop(context, operator, left, right))


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
        for tool in tools:
            if str(tool).startswith("kernel:"):
                try:
                    kernel.check_known(str(tool)[7:])
                except ValueError as e:
                    raise LessonFileError(str(e)) from None
        self.needs.extend(str(t) for t in tools if str(t) not in self.needs)
        return Shell("")


class _Family:
    """A template module whose macros return Shell text (so their output is not quoted again).

    The template is compiled on first use: most lessons need only a few of the families."""

    def __init__(self, env: jinja2.Environment, template: str) -> None:
        self._env = env
        self._template = template
        self._flavored = template == "bridge.j2"  # the one family whose commands depend on the flavor
        self._compiled: Any = None
        self._module: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._flavored:
            _flavor_used.set(True)
        compiled = self._env.get_template(self._template)  # compiled again only when its file changed
        if compiled is not self._compiled:
            self._compiled, self._module = compiled, compiled.module
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


class LabPath(Shell):
    """A file of the run's own folder `$LAB`: `"$LAB"/NAME` on a command line. The folder is made afresh for
    every run (a root-only one under /run/netlessons in host mode, `mktemp -d` in a printed script), so
    nobody else can plant a file or a link where a lesson writes."""

    name: str


def lab_path(name: Any) -> LabPath:
    text = str(name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", text) or ".." in text:
        raise ParameterError(f"lab file names are letters, digits, '.', '_' and '-'; {text!r} is not one")
    path = LabPath(f'"$LAB"/{text}')
    path.name = text
    return path


_LAB_MARK = "\x00lab\x00"


def _json_with_lab_paths(value: Any) -> tuple[str, bool]:
    """`value` as one line of JSON for an unquoted here-document: `$`, backquote and backslash are escaped so
    the shell expands nothing, except the lab paths, which become `$LAB/NAME`."""
    found = False

    def mark(item: Any) -> Any:
        nonlocal found
        if isinstance(item, LabPath):
            found = True
            return _LAB_MARK + item.name
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value))
    if not found:
        return text, False
    escape = lambda part: re.sub(r"([\\$`])", r"\\\1", part)  # noqa: E731
    return escape(text).replace(escape(json.dumps(_LAB_MARK)[1:-1]), "$LAB/"), True


def stdin_json(value: Any, save_to: str = "") -> Shell:
    """A here-document that feeds `value` as JSON to a command's standard input (and, with `save_to`, copies
    the command's output to that file). json.dumps writes one line with no raw newline, so the data can never
    end the here-document early. The quoted delimiter stops the shell from expanding anything in it; where
    the data names a file of the lab's folder, the delimiter is unquoted and everything but `$LAB` is
    escaped instead."""
    save = f" | tee {quote(save_to)}" if save_to else ""
    body, expands = _json_with_lab_paths(value)
    delimiter = HEREDOC_END if expands else f"'{HEREDOC_END}'"
    return Shell(f"<<{delimiter}{save}\n{body}\n{HEREDOC_END}")


def network_address(subnet: str) -> str:
    """The first address of a subnet, e.g. network_address('10.244.2.0/24') == '10.244.2.0'."""
    return str(ipaddress.IPv4Network(str(subnet)).network_address)


def host_address(subnet: str, index: int, with_prefix: bool = True) -> str:
    """The index-th address of a subnet, e.g. host_address('10.0.0.0/24', 3) == '10.0.0.3/24'."""
    network = ipaddress.IPv4Network(str(subnet))
    if not 0 < int(index) < network.num_addresses - 1:
        raise SubnetTooSmall(str(network), int(index), network.num_addresses - 2)
    address = network.network_address + int(index)
    return f"{address}/{network.prefixlen}" if with_prefix else str(address)


class TemplateFolders(jinja2.BaseLoader):
    """Templates from an author's folder first, then the built-in ones. A file is read with the bounds of a
    lesson file (a regular file of at most 1 MiB, no control characters but tab and newline): it comes from
    the same person, and it renders in the same sandbox."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.j2", template):
            raise jinja2.TemplateNotFound(template)
        for folder in self.folders:
            path = folder / template
            if not os.path.lexists(path):
                continue
            try:
                text = read_lesson_text(path)
            except LessonFileErrors as e:
                raise LessonFileError(e.errors[0].detail, path=str(path)) from None
            if UNPRINTABLE.search(text):
                raise LessonFileError("holds a control character; a template may hold none but tab and newline",
                                      path=str(path))
            changed = _changed_since(path)
            return text, str(path), lambda: not changed()
        raise jinja2.TemplateNotFound(template)


def _changed_since(path: Path) -> Any:
    def stamp() -> tuple[int, int] | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size
    first = stamp()
    return lambda: stamp() != first


def template_folders(lesson: Lesson) -> tuple[Path, ...]:
    """Where a lesson's macros come from: the `templates/` folder beside its file, if there is one, then the
    built-in templates."""
    builtin = data_dir("templates")
    own = lesson.path.parent / TEMPLATES_FOLDER
    if own.is_dir() and own.resolve() != builtin.resolve():
        return (own, builtin)
    return (builtin,)


def author_families(folders: tuple[Path, ...]) -> list[str]:
    """The families an author's folder adds or replaces: one per `NAME.j2` whose name can be written in a
    template (lower-case letters, digits, '_'). Other files there can still be imported by those."""
    if len(folders) < 2:
        return []
    names = sorted(path.name[:-3] for path in folders[0].glob("*.j2"))
    names = [name for name in names if FAMILY_NAME.fullmatch(name)]
    for name in names:
        if name in HELPERS:
            raise LessonFileError(f"{name}.j2 would hide {reserved_name(name)}; give the template another name",
                                  path=str(folders[0] / f"{name}.j2"))
    return names


class Renderer:
    def __init__(self, flavor: str, folders: tuple[Path, ...] = ()) -> None:
        self.recorder = _Recorder()
        self._templates: dict[tuple[int, str], jinja2.Template] = {}
        folders = folders or (data_dir("templates"),)
        self.families = tuple(dict.fromkeys((*FAMILIES, *author_families(folders))))
        common = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        self.text_env = LessonEnvironment(**common)
        self.command_env = LessonEnvironment(loader=TemplateFolders(folders), finalize=quote, **common)
        helpers = {"host": host_address, "network": network_address, "flavor": flavor}
        for env in (self.text_env, self.command_env):
            env.filters["address"] = lambda value: str(value).split("/")[0]
        self.text_env.globals.update(helpers)
        self.command_env.globals.update(helpers, creates=self.recorder.create, needs=self.recorder.need,
                                        in_ns=in_namespace, stdin_json=stdin_json,
                                        lab=lab_path)
        self.command_env.tests["lab_file"] = lambda value: isinstance(value, LabPath)
        self.command_env.filters["q"] = quote
        self.command_env.filters["argv"] = argv_words
        for family in self.families:
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

    def condition(self, expression: str, values: dict[str, Any]) -> bool:
        """A step's `when`, e.g. `ipvlan == 'yes'`: a template expression, true or false."""
        return bool(self.text_env.compile_expression(expression, undefined_to_none=False)(**values))

    def loop(self, foreach: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        """`i in range(1, 4)`, nested clauses `i in range(1, 4); end in [0, 1]` (the first one outermost), and
        items unpacked by name: `name, ns in [['a', 'ns1'], ['b', 'ns2']]`."""
        rounds: list[dict[str, Any]] = [{}]
        for clause in foreach.split(";"):
            match = re.fullmatch(r"\s*([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*)\s+in\s+(.+?)\s*", clause,
                                 re.S)
            if not match:
                raise LessonFileError("'foreach' reads like: i in range(1, n + 1)   (nested: i in ...; j in ...; "
                                      "unpacked: name, ns in [['a', 'ns1'], ['b', 'ns2']])")
            names = [name.strip() for name in match.group(1).split(",")]
            expression = match.group(2)
            for name in names:
                if reserved_name(name) or name in values:
                    hidden = reserved_name(name) or "a parameter or constant of that name"
                    raise LessonFileError(f"the loop variable {name!r} would hide {hidden}; choose another name")
            expanded = []
            for scope in rounds:
                items = self.text_env.compile_expression(expression, undefined_to_none=False)(**values, **scope)
                if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
                    raise LessonFileError("'foreach' must give a list of values")
                expanded += [{**scope, **_unpacked(names, item)} for item in items]
                if len(expanded) > MAX_FOREACH:
                    raise LessonFileError(f"'foreach' gives more than {MAX_FOREACH} rounds")
            rounds = expanded
        return rounds


def _unpacked(names: list[str], item: Any) -> dict[str, Any]:
    if len(names) == 1:
        return {names[0]: item}
    if isinstance(item, (str, bytes, dict)) or not isinstance(item, (list, tuple)) or len(item) != len(names):
        raise LessonFileError(f"'foreach' unpacks each item into {len(names)} names ({', '.join(names)}), so each "
                              f"item must be a list of {len(names)} values; {printable(item)!r} is not")
    return dict(zip(names, item, strict=True))


_renderers: dict[tuple[str, tuple[Path, ...]], Renderer] = {}


def renderer_for(flavor: str, folders: tuple[Path, ...] = ()) -> Renderer:
    key = (flavor, folders or (data_dir("templates"),))
    if key not in _renderers:
        _renderers[key] = Renderer(*key)
    return _renderers[key]


def chain_parameters(chain: list[Lesson]) -> tuple[Parameter, ...]:
    """Parameters of a lesson and its prerequisites; the lesson's own definition wins."""
    merged: dict[str, Parameter] = {}
    for lesson in chain:
        for p in lesson.parameters:
            merged[p.name] = p
    return tuple(merged.values())


IMPLICIT_FLAVOR = "iproute2"  # what the bridge macros use in a lesson that declares no flavors


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
        raise ParameterError(f"lesson {lesson.id!r} has no parameter '{printable(unknown[0])}'; "
                             f"its parameters: {names}")
    values = resolve(parameters, overrides)
    offered = {f for item in chain for f in item.flavors}
    if flavor and offered and flavor not in offered:
        raise ParameterError(f"lesson {lesson.id!r} has no flavor {flavor!r}; "
                             + (f"it offers {', '.join(sorted(offered))}" if offered else "it has no bridge flavors"))
    if flavor and not offered and flavor != IMPLICIT_FLAVOR:
        raise ParameterError(f"lesson {lesson.id!r} has no flavor {flavor!r}; it declares no flavors, so its "
                             f"bridges (if any) are made with {IMPLICIT_FLAVOR}")
    asked = flavor
    flavor = flavor or default_flavor(chain)
    steps: list[Step] = []
    token = _flavor_used.set(False)
    with metered_render():
        try:
            for item in chain:
                steps += render_specs(_renderer_of(item, flavor), item, item.steps, _with_constants(item, values),
                                      "steps")
            cleanup = render_specs(_renderer_of(lesson, flavor), lesson, lesson.cleanup,
                                   _with_constants(lesson, values), "cleanup")
            renderer = _renderer_of(lesson, flavor)
            recap = _template_call(lambda: renderer.text(lesson.recap, _with_constants(lesson, values)),
                                   "recap") if lesson.recap else ""
        except LessonFileErrors as e:
            _blame_parameters(e, parameters, values, overrides)
            raise
        finally:
            bridges = _flavor_used.get()
            _flavor_used.reset(token)
    if asked and not offered and not bridges:
        raise ParameterError(f"lesson {lesson.id!r} has no flavor {asked!r}; it has no bridge flavors")
    return RenderedLesson(lesson=lesson, flavor=flavor, values=values, parameters=parameters,
                          prerequisites=tuple(chain[:-1]), steps=tuple(steps), cleanup=tuple(cleanup),
                          recap=recap)


def _renderer_of(lesson: Lesson, flavor: str) -> Renderer:
    try:
        folders = template_folders(lesson)
        return renderer_for(flavor, folders)
    except LessonFileError as e:
        raise LessonFileErrors([e]) from None


def _with_constants(lesson: Lesson, values: dict[str, Any]) -> dict[str, Any]:
    """The values a lesson's templates see: the parameters and the lesson's own [constants]."""
    return {**values, **lesson.constants} if lesson.constants else values


def render_specs(renderer: Renderer, lesson: Lesson, specs: tuple[StepSpec, ...], values: dict[str, Any],
                 phase: str) -> list[Step]:
    steps: list[Step] = []
    errors: list[LessonFileError] = []
    for index, spec in enumerate(specs):
        where = f"{phase}[{index}] {spec.id!r}"
        try:
            steps += _render_spec(renderer, lesson, spec, values, phase, where)
        except SubnetTooSmall as e:
            error = LessonFileError(e.message, path=str(lesson.path), field=where, line=spec.line)
            error.__cause__ = e
            errors.append(error)
        except RenderTooCostly as e:  # the budget is spent: rendering further steps would only repeat this
            errors.append(RenderTooCostly(e.detail, path=str(lesson.path), field=e.field or where, line=spec.line))
            raise LessonFileErrors(errors) from None
        except LessonFileError as e:
            errors.append(LessonFileError(e.detail, path=str(lesson.path), field=e.field or where, line=spec.line))
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
    if spec.when:
        rounds = [(step_id, scope) for step_id, scope in rounds
                  if _template_call(lambda: renderer.condition(spec.when, scope), f"{where}.when")]
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
        _check_numbers(state, f"{where}.expect.state")
        expect = replace(spec.expect, output=tuple(text(line, "expect.output") for line in spec.expect.output),
                         state=state, capture=tuple(text(line, "expect.capture") for line in spec.expect.capture))
        steps.append(Step(id=step_id, title=text(spec.title, "title"), explain=text(spec.explain, "explain"),
                          command=command, expect=expect, group=spec.id, lesson=lesson.id, phase=phase,
                          erratum=text(spec.erratum, "erratum") if spec.erratum else "",
                          timeout=spec.timeout, creates=tuple(creates), needs=tuple(needs),
                          capture=_render_captures(spec.capture, lambda source: text(source, "capture"))))
    return steps


def _render_captures(captures: tuple[Capture, ...], text: Any) -> tuple[Capture, ...]:
    """A step's captures with their interface, namespace and filter rendered; an interface or namespace must
    be a valid name (it reaches a command line, quoted)."""
    rendered = []
    for capture in captures:
        on = tuple(text(name) for name in capture.on)
        for name in on:
            check_object_name("link", name)
        if capture.netns:
            check_object_name("netns", text(capture.netns))
        rendered.append(replace(capture, on=on, netns=text(capture.netns), filter=text(capture.filter)))
    return tuple(rendered)


def _check_numbers(state: tuple[dict[str, Any], ...], field_name: str) -> None:
    """A number written as a template must render to one, or the check would break only when it runs."""
    for check in state:
        for key in ("port", "ports", "mtu"):
            value = check.get(key)
            if isinstance(value, str) and not value.strip().isdigit():
                raise LessonFileError(f"{key!r} renders to {printable(value)!r}, which is not a whole number",
                                      field=field_name)


def _id_part(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(_id_part(v) for v in value)
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-") or "x"


def _blame_parameters(failure: LessonFileErrors, parameters: tuple[Parameter, ...], values: dict[str, Any],
                      overrides: dict[str, str]) -> None:
    """A subnet too small for the lesson is the fault of the --set value that chose it, not of the lesson file:
    say so, naming the parameter once."""
    for error in failure.errors:
        cause = error.__cause__
        if not isinstance(cause, SubnetTooSmall):
            continue
        for p in parameters:
            if p.name in overrides and p.type in ("subnet", "ipv4-interface") and \
                    str(ipaddress.IPv4Interface(str(values[p.name])).network) == cause.subnet:
                raise ParameterError(f"parameter {p.name!r}: {values[p.name]} is too small for this lesson: it "
                                     f"has no host number {cause.index} (its hosts are 1 to {cause.hosts})") from None


def _template_call(call, field_name: str):
    try:
        return call()
    except SubnetTooSmall:
        raise
    except RenderTooCostly as e:
        raise RenderTooCostly(e.detail, field=field_name) from None
    except MemoryError:
        raise RenderTooCostly(f"rendering needs more than {MEMORY_HEADROOM >> 20} MiB of memory",
                              field=field_name) from None
    except RecursionError:
        raise LessonFileError("templates call themselves too deeply", field=field_name) from None
    except jinja2.TemplateSyntaxError as e:
        raise LessonFileError(f"template syntax error: {e.message}", field=field_name) from None
    except jinja2.UndefinedError as e:
        raise LessonFileError(f"undefined in template: {e.message}", field=field_name) from None
    except jinja2.TemplateError as e:
        raise LessonFileError(f"template error: {e}", field=field_name) from None
    except LessonFileError as e:
        raise LessonFileError(e.detail, field=field_name) from None
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


# --- The macro reference: generated from the templates' own doc comments -----------------------------------

_TEMPLATE_PART = re.compile(r"\{#-?(?P<comment>.*?)-?#\}"
                            r"|\{%-?\s*macro\s+(?P<name>\w+)\((?P<args>.*?)\)\s*-?%\}(?P<body>.*?)\{%-?\s*endmacro",
                            re.S)


@dataclass(frozen=True)
class MacroDoc:
    family: str
    name: str
    arguments: str
    doc: str  # the `{#- ... -#}` comment right before the macro, "" when there is none
    kernel: tuple[str, ...] = ()  # the kernel features it declares with needs('kernel:NAME')


def family_docs(folder: Path) -> dict[str, tuple[str, list[MacroDoc]]]:
    """family → (the comment that opens its file, its macros). A file's first comment describes the family;
    the comment right before a `{% macro %}` describes that macro."""
    families: dict[str, tuple[str, list[MacroDoc]]] = {}
    for path in sorted(folder.glob("*.j2")):
        family = path.name[:-3]
        text = path.read_text(encoding="utf-8")
        about, macros, pending, end = "", [], "", 0
        for part in _TEMPLATE_PART.finditer(text):
            adjacent = not text[end:part.start()].strip()
            end = part.end()
            if part.group("comment") is not None:
                comment = " ".join(part.group("comment").split())
                if not text[:part.start()].strip():
                    about = comment
                else:
                    pending = f"{pending} {comment}".strip() if adjacent and pending else comment
                continue
            kernel = tuple(dict.fromkeys(re.findall(r"kernel:(\w+)", part.group("body"))))
            macros.append(MacroDoc(family, part.group("name"), " ".join(part.group("args").split()),
                                   pending if adjacent else "", kernel))
            pending = ""
        families[family] = (about, macros)
    return families


def macro_reference(folder: Path | None = None) -> str:
    """The Markdown reference of every built-in macro, as docs/authoring.md holds it between its markers."""
    lines = []
    for family, (about, macros) in family_docs(folder or data_dir("templates")).items():
        lines += [f"#### `{family}`", "", about, "", "| macro | what it does | kernel feature |", "|---|---|---|"]
        for m in macros:
            doc = m.doc.replace("|", "\\|")
            lines.append(f"| `{family}.{m.name}({m.arguments})` | {doc} | {', '.join(m.kernel)} |")
        lines.append("")
    lines += ["#### Kernel features: `needs('kernel:NAME')`", "",
              "| NAME | what it gives | build option | module | also found by |", "|---|---|---|---|---|"]
    for f in kernel.FEATURES.values():
        module = f"`{f.module}`" if f.module else "none: a build option only"
        lines.append(f"| `{f.name}` | {f.what} | `CONFIG_{f.config}` | {module} | "
                     f"{f'`{f.marker}`' if f.marker else ''} |")
    return "\n".join(lines).rstrip() + "\n"
