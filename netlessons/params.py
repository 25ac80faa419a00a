"""Typed lesson parameters: each type has one rule, stated in words for error messages."""

from __future__ import annotations

import ipaddress
import itertools
import re
from typing import Any, Callable

from netlessons.errors import ParameterError, printable
from netlessons.lesson import Parameter

# Our policy is stricter than the kernel's (which allows any byte but NUL, '/', ':', whitespace, '.' and '..'):
# a name a learner can type and read, that no shell or option parser mistakes for something else.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
IFNAMSIZ = 16


def _name(value: Any, what: str, max_bytes: int) -> str:
    article = "an" if what[0] in "aeiou" else "a"
    if not isinstance(value, str):
        raise ParameterError(f"must be {article} {what}, a string")
    if value == "":
        raise ParameterError(f"{article} {what} cannot be empty")
    if value in (".", ".."):
        raise ParameterError(f"{article} {what} cannot be '.' or '..'")
    if not _NAME.fullmatch(value):
        raise ParameterError(
            f"{article} {what} starts with a letter or digit and holds only ASCII letters, digits, '_', '.' and '-' "
            f"(no '/', ':', '%', whitespace, quotes or shell characters); '{printable(value)}' does not")
    if len(value.encode()) > max_bytes:
        raise ParameterError(f"{article} {what} is at most {max_bytes} bytes; '{printable(value)}' has "
                             f"{len(value.encode())}")
    return value


# Names `ip link` would read as one of its own words (it accepts any prefix of a keyword: `n` is `name`),
# and the names the kernel itself refuses for an interface.
IP_KEYWORDS = ("address", "broadcast", "dev", "down", "group", "help", "index", "link", "master", "mtu", "name",
               "netns", "nomaster", "peer", "type", "up", "alias", "arp", "multicast", "promisc", "txqueuelen",
               "qlen", "state", "vf", "xdp", "label")
KERNEL_RESERVED = ("all", "default")


def _check_interface_name(value: str) -> str:
    if value in KERNEL_RESERVED:
        raise ParameterError(f"the kernel refuses '{printable(value)}' as an interface name")
    keyword = next((k for k in IP_KEYWORDS if k.startswith(value)), None)
    if keyword:
        raise ParameterError(f"`ip link` would read '{printable(value)}' as its keyword {keyword!r}; "
                             "choose another name")
    return value


def _ifname(value: Any, p: Parameter) -> str:
    return _check_interface_name(_name(value, "interface name", IFNAMSIZ - 1))


def _nsname(value: Any, p: Parameter) -> str:
    return _name(value, "namespace name", 64)


def _ipv4_interface(value: Any, p: Parameter) -> str:
    text = str(value)
    if "/" not in text:
        raise ParameterError(f"an IPv4 address with prefix looks like 10.0.0.1/24; '{printable(text)}' has no prefix")
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise ParameterError(f"an IPv4 address with prefix looks like 10.0.0.1/24; '{printable(text)}' "
                             "is not one") from None
    return str(iface)


def _ipv4(value: Any, p: Parameter) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ParameterError(f"an IPv4 address looks like 10.0.0.1; '{printable(value)}' is not one") from None


def _subnet(value: Any, p: Parameter) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=True))
    except ValueError:
        raise ParameterError(
            f"a subnet looks like 10.0.0.0/24 (no host bits set); '{printable(value)}' is not one") from None


_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def _mac(value: Any, p: Parameter) -> str:
    text = str(value).lower()
    if not _MAC.fullmatch(text):
        raise ParameterError(f"a MAC address looks like 02:00:00:00:01:01; '{printable(value)}' is not one")
    return text


def _integer(value: Any, p: Parameter) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"must be a whole number; '{printable(value)}' is not")
    try:
        number = int(str(value).strip(), 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ParameterError(f"must be a whole number; '{printable(value)}' is not") from None
    if isinstance(value, float) and value != number:
        raise ParameterError(f"must be a whole number; '{printable(value)}' is not")
    if p.min is not None and number < p.min or p.max is not None and number > p.max:
        raise ParameterError(f"must be between {p.min} and {p.max}; {number} is not")
    return number


def _choice(value: Any, p: Parameter) -> str:
    if value not in p.choices:
        raise ParameterError(f"must be one of {', '.join(p.choices)}; '{printable(value)}' is not")
    return value


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def _word(value: Any, p: Parameter) -> str:
    """A name for things no other type covers: an nft table, chain or set, a label. Safe on a command line
    and in nft's own syntax (which reads a leading digit as a number)."""
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise ParameterError(f"a word starts with an ASCII letter and holds only letters, digits, '_', '.' and '-', "
                             f"at most 64 of them; '{printable(value)}' does not")
    return value


def check_object_name(kind: str, value: Any) -> str:
    """The rule for a name a command gives to a new link or namespace, whatever parameters composed it."""
    if kind == "link":
        return _check_interface_name(_name(value, "interface name", IFNAMSIZ - 1))
    return _name(value, "namespace name", 64)


TYPES: dict[str, tuple[Callable[[Any, Parameter], Any], str]] = {
    "ifname": (_ifname, "interface name: 1-15 bytes of letters, digits, '_', '.', '-'; not '.' or '..'"),
    "nsname": (_nsname, "namespace name: 1-64 bytes of letters, digits, '_', '.', '-'; not '.' or '..'"),
    "ipv4": (_ipv4, "IPv4 address, e.g. 10.0.0.1"),
    "ipv4-interface": (_ipv4_interface, "IPv4 address with prefix, e.g. 10.0.0.1/24"),
    "subnet": (_subnet, "IPv4 subnet without host bits, e.g. 10.0.0.0/24"),
    "mac": (_mac, "MAC address, e.g. 02:00:00:00:01:01"),
    "word": (_word, "word: 1-64 ASCII letters, digits, '_', '.', '-', starting with a letter"),
    "int": (_integer, "whole number"),
    "choice": (_choice, "one of a fixed list"),
}


def rule_of(p: Parameter) -> str:
    rule = TYPES[p.type][1]
    if p.type == "int" and (p.min is not None or p.max is not None):
        rule += f" from {p.min} to {p.max}"
    if p.type == "choice":
        rule = "one of: " + ", ".join(p.choices)
    return rule


def convert(p: Parameter, value: Any) -> Any:
    """The value in its type, or ParameterError naming the parameter and the rule it broke."""
    try:
        return TYPES[p.type][0](value, p)
    except ParameterError as e:
        raise ParameterError(f"parameter {p.name!r}: {e.message}") from None


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`--set name=value` pairs into a dict; the value is kept raw until its parameter converts it."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"--set expects NAME=VALUE; got '{printable(pair)}'")
        values[name.strip()] = value
    return values


def resolve(parameters: tuple[Parameter, ...], overrides: dict[str, str]) -> dict[str, Any]:
    """Defaults overlaid with overrides, every value converted and checked, alone and against each other."""
    values = {p.name: convert(p, overrides.get(p.name, p.default)) for p in parameters}
    check_relations(parameters, values, set(overrides))
    return values


def _identity(p: Parameter, value: Any) -> tuple[str, Any] | None:
    """What a value names, for parameters that name objects: (kind of object, the object)."""
    if p.type in ("ipv4", "ipv4-interface"):
        return "address", _address(p, value)
    kinds = {"nsname": "namespace", "ifname": "interface", "mac": "MAC address"}
    return (kinds[p.type], value) if p.type in kinds else None


def _address(p: Parameter, value: Any) -> ipaddress.IPv4Address | None:
    if p.type == "ipv4":
        return ipaddress.IPv4Address(value)
    return ipaddress.IPv4Interface(value).ip if p.type == "ipv4-interface" else None


def _network(p: Parameter, value: Any) -> ipaddress.IPv4Network | None:
    if p.type == "subnet":
        return ipaddress.IPv4Network(value)
    return ipaddress.IPv4Interface(value).network if p.type == "ipv4-interface" else None


def check_relations(parameters: tuple[Parameter, ...], values: dict[str, Any], changed: set[str]) -> None:
    """What holds between a lesson's defaults must hold between the values chosen with --set, since the lesson's
    commands and checks were written for it: parameters that name different objects (namespaces, interfaces,
    addresses) stay different, two addresses in one subnet stay in one subnet, an address or subnet inside
    another subnet (a pod subnet in the cluster CIDR) stays inside, and subnets apart stay apart. Broken
    relations are refused before anything runs, naming the parameters; only those touching a changed value are
    checked, so a lesson's own defaults are never second-guessed."""
    for a, b in itertools.combinations(parameters, 2):
        if a.name not in changed and b.name not in changed:
            continue
        problem = _broken_relation(a, b, values) or _broken_relation(b, a, values)
        if problem:
            raise ParameterError(problem)


def _broken_relation(a: Parameter, b: Parameter, values: dict[str, Any]) -> str:
    """What breaks, between a and b, a relation their defaults have; '' when nothing does."""
    va, vb = values[a.name], values[b.name]
    shown = f"{a.name}={printable(va)} and {b.name}={printable(vb)}"
    defaults = f"by default {a.name} is {a.default} and {b.name} is {b.default}"
    now_a, now_b = _identity(a, va), _identity(b, vb)
    if now_a and now_b and now_a == now_b and _identity(a, a.default) != _identity(b, b.default):
        return f"parameters {shown} name the same {now_a[0]}; the lesson needs them to differ ({defaults})"
    if a.type == b.type == "ipv4-interface" and _network(a, a.default) == _network(b, b.default) \
            and _network(a, va) != _network(b, vb):
        return (f"parameter {b.name!r}: {_address(b, vb)} is outside the subnet of {a.name} ({_network(a, va)}); the "
                f"lesson needs both addresses in one subnet ({defaults})")
    outer_default, outer = _network(b, b.default), _network(b, vb)
    if b.type == "subnet" and a.type in ("subnet", "ipv4", "ipv4-interface"):
        inner_default = _network(a, a.default) if a.type == "subnet" else _address(a, a.default)
        inner = _network(a, va) if a.type == "subnet" else _address(a, va)
        was_inside = _inside(inner_default, outer_default) and inner_default != outer_default
        if was_inside and not _inside(inner, outer):
            return (f"parameter {a.name!r}: {inner} is not inside {b.name} ({outer}); the lesson needs it there "
                    f"({defaults})")
        if a.type == "subnet" and not inner_default.overlaps(outer_default) and inner.overlaps(outer):
            return f"parameters {shown} overlap; the lesson needs the two subnets apart ({defaults})"
    return ""


def _inside(item: Any, network: ipaddress.IPv4Network) -> bool:
    if isinstance(item, ipaddress.IPv4Network):
        return item.subnet_of(network)
    return item in network
