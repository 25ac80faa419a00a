from __future__ import annotations

import pytest

from netlessons.errors import ParameterError
from netlessons.lesson import Parameter
from netlessons.params import convert, parse_assignments, resolve
from tests.helpers import netlessons

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


def _relation_error(parameters, overrides) -> str:
    with pytest.raises(ParameterError) as error:
        resolve(parameters, overrides)
    return error.value.message


NAMES = (Parameter("ns1", "nsname", "ns1"), Parameter("ns2", "nsname", "ns2"))
ADDRESSES = (Parameter("addr1", "ipv4-interface", "10.0.0.1/24"), Parameter("addr2", "ipv4-interface", "10.0.0.2/24"))
SUBNETS = (Parameter("pod_cidr", "subnet", "10.244.1.0/24"), Parameter("pod_cidr2", "subnet", "10.244.2.0/24"),
           Parameter("cluster_cidr", "subnet", "10.244.0.0/16"), Parameter("underlay", "subnet", "192.168.0.0/24"))


def test_parameters_that_differ_by_default_must_differ_when_set():
    assert "ns1=ns2 and ns2=ns2 name the same namespace" in _relation_error(NAMES, {"ns1": "ns2"})
    assert "name the same address" in _relation_error(ADDRESSES, {"addr2": "10.0.0.1/24"})
    assert resolve(NAMES, {"ns1": "red", "ns2": "blue"}) == {"ns1": "red", "ns2": "blue"}
    same_by_default = (Parameter("a", "nsname", "x"), Parameter("b", "nsname", "x"))
    assert resolve(same_by_default, {"a": "x"}) == {"a": "x", "b": "x"}


def test_addresses_that_share_a_subnet_keep_sharing_it():
    message = _relation_error(ADDRESSES, {"addr2": "10.0.1.2/24"})
    assert "parameter 'addr2': 10.0.1.2 is outside the subnet of addr1 (10.0.0.0/24)" in message
    assert resolve(ADDRESSES, {"addr1": "192.168.7.1/24", "addr2": "192.168.7.9/24"})["addr2"] == "192.168.7.9/24"


def test_subnets_keep_their_containment_and_stay_apart():
    assert "'pod_cidr2': 10.245.2.0/24 is not inside cluster_cidr" in _relation_error(
        SUBNETS, {"pod_cidr2": "10.245.2.0/24"})
    assert "overlap" in _relation_error(SUBNETS, {"pod_cidr2": "10.244.1.0/24"})
    assert "overlap" in _relation_error(SUBNETS, {"underlay": "10.0.0.0/8", "cluster_cidr": "10.0.0.0/9",
                                                  "pod_cidr": "10.1.0.0/24", "pod_cidr2": "10.2.0.0/24"})
    moved = {"cluster_cidr": "10.0.0.0/8", "pod_cidr": "10.1.0.0/24", "pod_cidr2": "10.2.0.0/24"}
    assert resolve(SUBNETS, moved)["cluster_cidr"] == "10.0.0.0/8"


def test_long_values_are_cut_in_messages():
    with pytest.raises(ParameterError) as error:
        convert(IFNAME, "b" * 100_000)
    assert len(error.value.message) < 300 and "(100000 characters)" in error.value.message


@pytest.mark.parametrize("args,message", [
    (["bridge-3ns", "--set", "subnet=10.0.0.0/30"],
     "parameter 'subnet': 10.0.0.0/30 is too small for this lesson: it has no host number 3"),
    (["netns-basics", "--set", "ns1=ns2"], "name the same namespace"),
    (["two-nodes-routed", "--set", "pod_cidr2=10.245.2.0/24"], "is not inside cluster_cidr"),
])
def test_the_cli_blames_the_parameter_once_before_anything_runs(args, message):
    result = netlessons("run", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr and ".toml" not in result.stderr
