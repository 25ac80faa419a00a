"""Typed lesson parameters: each type has one rule, stated in words for error messages."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

from netlessons.errors import ParameterError
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
            f"(no '/', ':', '%', whitespace, quotes or shell characters); {value!r} does not")
    if len(value.encode()) > max_bytes:
        raise ParameterError(f"{article} {what} is at most {max_bytes} bytes; {value!r} has {len(value.encode())}")
    return value


# Names `ip link` would read as one of its own words (it accepts any prefix of a keyword: `n` is `name`),
# and the names the kernel itself refuses for an interface.
IP_KEYWORDS = ("address", "broadcast", "dev", "down", "group", "help", "index", "link", "master", "mtu", "name",
               "netns", "nomaster", "peer", "type", "up", "alias", "arp", "multicast", "promisc", "txqueuelen",
               "qlen", "state", "vf", "xdp", "label")
KERNEL_RESERVED = ("all", "default")


def _check_interface_name(value: str) -> str:
    if value in KERNEL_RESERVED:
        raise ParameterError(f"the kernel refuses {value!r} as an interface name")
    keyword = next((k for k in IP_KEYWORDS if k.startswith(value)), None)
    if keyword:
        raise ParameterError(f"`ip link` would read {value!r} as its keyword {keyword!r}; choose another name")
    return value


def _ifname(value: Any, p: Parameter) -> str:
    return _check_interface_name(_name(value, "interface name", IFNAMSIZ - 1))


def _nsname(value: Any, p: Parameter) -> str:
    return _name(value, "namespace name", 64)


def _ipv4_interface(value: Any, p: Parameter) -> str:
    text = str(value)
    if "/" not in text:
        raise ParameterError(f"an IPv4 address with prefix looks like 10.0.0.1/24; {text!r} has no prefix")
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise ParameterError(f"an IPv4 address with prefix looks like 10.0.0.1/24; {text!r} is not one") from None
    return str(iface)


def _ipv4(value: Any, p: Parameter) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ParameterError(f"an IPv4 address looks like 10.0.0.1; {value!r} is not one") from None


def _subnet(value: Any, p: Parameter) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=True))
    except ValueError:
        raise ParameterError(
            f"a subnet looks like 10.0.0.0/24 (no host bits set); {value!r} is not one") from None


_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def _mac(value: Any, p: Parameter) -> str:
    text = str(value).lower()
    if not _MAC.fullmatch(text):
        raise ParameterError(f"a MAC address looks like 02:00:00:00:01:01; {value!r} is not one")
    return text


def _integer(value: Any, p: Parameter) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"must be a whole number; {value!r} is not")
    try:
        number = int(str(value).strip(), 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ParameterError(f"must be a whole number; {value!r} is not") from None
    if isinstance(value, float) and value != number:
        raise ParameterError(f"must be a whole number; {value!r} is not")
    if p.min is not None and number < p.min or p.max is not None and number > p.max:
        raise ParameterError(f"must be between {p.min} and {p.max}; {number} is not")
    return number


def _choice(value: Any, p: Parameter) -> str:
    if value not in p.choices:
        raise ParameterError(f"must be one of {', '.join(p.choices)}; {value!r} is not")
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
            raise ParameterError(f"--set expects NAME=VALUE; got {pair!r}")
        values[name.strip()] = value
    return values


def resolve(parameters: tuple[Parameter, ...], overrides: dict[str, str]) -> dict[str, Any]:
    """Defaults overlaid with overrides, every value converted and checked."""
    return {p.name: convert(p, overrides.get(p.name, p.default)) for p in parameters}
