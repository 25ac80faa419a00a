"""What every state check kind is made of: its fields, the tables of kernel state it reads, and its verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Verdict:
    passed: bool
    problem: str = ""  # one line: what was wrong
    detail: str = ""  # expected vs actual, several lines
    expected: tuple[str, ...] = ()  # for an output check: the wanted lines, as written
    actual: tuple[str, ...] = ()  # and the lines the command printed


PASS = Verdict(True)


@dataclass(frozen=True)
class FieldType:
    """What a check field accepts. Text is a template; a number may come as a template that renders to one."""

    words: str  # how the reference and the error messages name it
    accepts: tuple[type, ...]
    number: bool = False  # text must be digits, or a template


TEXT = FieldType("text (a template)", (str,))
FLAG = FieldType("true or false", (bool,))
NUMBER = FieldType("a whole number (or a template that renders to one)", (int, str), number=True)
VALUE = FieldType("a number or text", (int, str))


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    meaning: str
    required: bool = False


IN = Field("in", TEXT, "the namespace to look in; left out: the namespace the lab's shell lives in")
ABSENT = Field("absent", FLAG, "`true`: it must not exist")


@dataclass(frozen=True)
class Query:
    """One table of kernel state in one namespace: what a check reads. Checks that read the same table share
    one reading of it."""

    table: str  # a name in reader.TABLES
    namespace: str = ""  # "" = where the lab's shell lives
    item: str = ""  # for a table of single values (a sysctl, a route lookup): which one
    before: bool = False  # read before the step's command runs (a counter's value to compare with)


@dataclass(frozen=True)
class Reading:
    """The answer to a Query: `data` as reader.TABLES parses it (a list of `ip -j` objects, names, ports or a
    value); `status` not 0 when it could not be read (say, the namespace does not exist), with the error."""

    status: int
    data: Any = None
    error: str = ""


Answers = dict[Query, Reading]


class CheckKind:
    """A kind of state check: `{ NAME = "subject", field = value, ... }` in `expect.state`.

    A kind says which tables it reads (`queries`), judges their answers (`judge`) and says itself in words
    (`describe`); the loader, explain, the runner and the authoring reference all take kinds from the registry
    (netlessons.checks.registry.KINDS)."""

    name: ClassVar[str]  # the key that names the subject, and the kind
    subject: ClassVar[str]  # what the subject's value is, for the reference
    summary: ClassVar[str]  # what the check means, for the reference
    example: ClassVar[str]  # a check as written in a lesson file
    subject_type: ClassVar[FieldType] = TEXT
    fields: ClassVar[tuple[Field, ...]] = ()

    @property
    def subject_field(self) -> Field:
        return Field(self.name, self.subject_type, self.subject, required=True)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def problems(self, check: dict[str, Any]) -> list[tuple[str, str]]:
        """What is wrong with a check as written: (field, message) pairs, the field "" for the check as a whole.
        Kinds with rules beyond their fields' types add to this."""
        found: list[tuple[str, str]] = []
        allowed = {self.name} | {f.name for f in self.fields}
        for key in check:
            if key not in allowed:
                found.append((key, f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"))
        for f in self.fields:
            if f.required and f.name not in check:
                found.append(("", f"a {self.name} check needs the {f.name!r} field: {f.meaning}"))
        for f in (self.subject_field, *self.fields):
            if f.name in check:
                message = type_problem(f, check[f.name])
                if message:
                    found.append((f.name, message))
        return found

    def queries(self, check: dict[str, Any]) -> tuple[Query, ...]:
        raise NotImplementedError

    def before(self, check: dict[str, Any]) -> tuple[Query, ...]:
        """The tables to read before the step's command runs (with `before=True`); most kinds need none."""
        return ()

    def judge(self, check: dict[str, Any], answers: Answers) -> Verdict:
        raise NotImplementedError

    def describe(self, check: dict[str, Any]) -> str:
        raise NotImplementedError


def type_problem(field: Field, value: Any) -> str:
    """Why `value` does not suit the field, or "" when it does."""
    if not isinstance(value, field.type.accepts) or (isinstance(value, bool) and bool not in field.type.accepts):
        given = {bool: "true or false", int: "a number", str: "text", float: "a decimal number",
                 list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
        return f"{field.name!r} has the wrong type: {given} where {field.type.words} is expected"
    if field.type.number and isinstance(value, str) and "{{" not in value and not value.strip().isdigit():
        return f"{field.name!r} has the wrong type: text ({value!r}) where {field.type.words} is expected"
    return ""


def whole_number(value: Any) -> int:
    """A number field's value: a number, or the text a template rendered it to."""
    return value if isinstance(value, int) else int(str(value).strip())


def mac_of(check: dict[str, Any], answers: Answers) -> tuple[str, str]:
    """The MAC address a check names: `mac` as written, or the address of the interface `mac_of` (in the
    namespace `mac_of_in`, else the check's own). A second value says why there is none."""
    if check.get("mac"):
        return str(check["mac"]).lower(), ""
    namespace = check.get("mac_of_in", check.get("in")) or ""
    reading = answers[Query("links", namespace)]
    link = next((x for x in (reading.data if reading.status == 0 else []) if x.get("ifname") == check["mac_of"]), None)
    if link is None:
        return "", f"no interface {check['mac_of']}{f' in {namespace}' if namespace else ''} to take the MAC from"
    return str(link.get("address", "")).lower(), ""


def mac_queries(check: dict[str, Any]) -> tuple[Query, ...]:
    """The table a `mac_of` field needs."""
    return (Query("links", check.get("mac_of_in", check.get("in")) or ""),) if check.get("mac_of") else ()


def mac_words(check: dict[str, Any]) -> str:
    if check.get("mac"):
        return str(check["mac"])
    namespace = check.get("mac_of_in", check.get("in")) or ""
    return f"the MAC of {check['mac_of']}{f' in {namespace}' if namespace else ''}"


MAC_FIELDS = (
    Field("mac", TEXT, "the MAC address, as `ip` writes it: `aa:bb:cc:dd:ee:ff`"),
    Field("mac_of", TEXT, "instead of `mac`: the interface whose MAC address it must be"),
    Field("mac_of_in", TEXT, "the namespace of the `mac_of` interface; left out: the check's own namespace"),
)


def where(check: dict[str, Any]) -> str:
    """" in ns1", or "" for the lab shell's own namespace."""
    return f" in {check['in']}" if check.get("in") else ""
