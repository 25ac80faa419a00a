from __future__ import annotations

import pytest

from netlessons.errors import ParameterError
from netlessons.lesson import Parameter
from netlessons.params import convert, parse_assignments

IFNAME = Parameter("dev", "ifname", "veth1")
NSNAME = Parameter("ns", "nsname", "ns1")


@pytest.mark.parametrize("name", ["veth1", "veth1_0", "eth0", "br-0.1", "z" * 15])
def test_good_interface_names(name):
    assert convert(IFNAME, name) == name


@pytest.mark.parametrize("name,rule", [
    ("veth1_0x12345678", "at most 15 bytes"),
    ("é" * 8, "only ASCII letters"),
    ("a/b", "no '/'"), ("a:b", "no '/', ':'"), ("a b", "whitespace"), ("eth%d", "'%'"),
    (".", "'.' or '..'"), ("..", "'.' or '..'"), ("", "empty"), ("-x", "starts with a letter"),
    ("ns1;touch /tmp/CANARY", "shell characters"), ("a\nb", "whitespace"), ("a\x00b", "shell characters"),
])
def test_bad_interface_names_name_the_rule(name, rule):
    with pytest.raises(ParameterError) as error:
        convert(IFNAME, name)
    assert rule in error.value.message
    assert "parameter 'dev'" in error.value.message


def test_namespace_names_may_be_longer_than_interface_names():
    assert convert(NSNAME, "n" * 40) == "n" * 40
    with pytest.raises(ParameterError):
        convert(NSNAME, "n" * 65)


def test_addresses_and_subnets():
    assert convert(Parameter("a", "ipv4-interface", ""), "10.0.0.1/24") == "10.0.0.1/24"
    assert convert(Parameter("a", "subnet", ""), "10.1.0.0/16") == "10.1.0.0/16"
    for kind, value in [("ipv4-interface", "10.0.0.1"), ("ipv4-interface", "10.0.0.300/24"),
                        ("subnet", "10.0.0.1/24"), ("ipv4", "x"), ("ipv4-interface", "$(id)/24")]:
        with pytest.raises(ParameterError):
            convert(Parameter("a", kind, ""), value)


def test_integers_keep_to_their_range():
    n = Parameter("n", "int", 3, min=1, max=200)
    assert convert(n, "200") == 200
    for bad in ["0", "201", "3.5", "three", True]:
        with pytest.raises(ParameterError):
            convert(n, bad)


def test_choice():
    p = Parameter("mode", "choice", "a", choices=("a", "b"))
    assert convert(p, "b") == "b"
    with pytest.raises(ParameterError, match="one of a, b"):
        convert(p, "c")


def test_set_syntax():
    assert parse_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_assignments(["novalue"])
