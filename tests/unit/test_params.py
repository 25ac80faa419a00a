"""Typed parameters, one rule per type: properties over many values rather than a few examples."""

from __future__ import annotations

import ipaddress
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlessons.errors import ParameterError
from netlessons.lesson import Parameter
from netlessons.params import IP_KEYWORDS, TYPES, check_object_name, convert, parse_assignments, rule_of

NS = Parameter("ns", "nsname", "ns1")
DEV = Parameter("dev", "ifname", "v1")
COUNT = Parameter("n", "int", "3", min=1, max=9)


@given(st.text(max_size=80))
def test_an_accepted_name_is_a_single_plain_word(value):
    try:
        name = convert(NS, value)
    except ParameterError as e:
        assert e.message.startswith("parameter 'ns': ")
        return
    assert shlex.split(name) == [name] and shlex.quote(name) == name and not name.startswith("-")


@given(st.text(max_size=20))
def test_an_accepted_interface_name_fits_the_kernel_and_is_no_ip_keyword(value):
    try:
        name = convert(DEV, value)
    except ParameterError:
        return
    assert 0 < len(name.encode()) <= 15
    assert not any(keyword.startswith(name) for keyword in IP_KEYWORDS)


def test_links_made_by_composition_follow_the_interface_rule():
    assert check_object_name("link", "veth-ns1") == "veth-ns1"
    with pytest.raises(ParameterError, match="at most 15 bytes"):
        check_object_name("link", "veth-" + "x" * 11)
    assert check_object_name("netns", "n" * 64)


@given(st.integers(-100, 100))
def test_integers_are_kept_inside_their_range(number):
    if 1 <= number <= 9:
        assert convert(COUNT, str(number)) == number
    else:
        with pytest.raises(ParameterError, match="between 1 and 9"):
            convert(COUNT, str(number))


@pytest.mark.parametrize("bad", ["3.5", "three", True, 2.5, ""])
def test_what_is_not_a_whole_number_is_refused(bad):
    with pytest.raises(ParameterError, match="whole number"):
        convert(COUNT, bad)


@given(st.ip_addresses(v=4), st.integers(8, 30))
def test_addresses_come_back_in_their_one_written_form(address, prefix):
    interface = ipaddress.IPv4Interface(f"{address}/{prefix}")
    assert convert(Parameter("a", "ipv4-interface", ""), f"{address}/{prefix}") == str(interface)
    assert convert(Parameter("a", "subnet", ""), str(interface.network)) == str(interface.network)


def test_every_type_states_its_rule_in_words():
    for name in TYPES:
        assert rule_of(Parameter("p", name, "", choices=("a", "b"))).strip()
    assert rule_of(COUNT).endswith("from 1 to 9")


@given(st.text(min_size=1).filter(lambda n: "=" not in n and n.strip()), st.text())
def test_set_takes_everything_after_the_first_equals_sign_as_the_value(name, value):
    assert parse_assignments([f"{name}={value}"]) == {name.strip(): value}


@pytest.mark.parametrize("bad", ["novalue", "=x", ""])
def test_set_without_a_name_and_an_equals_sign_is_refused(bad):
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_assignments([bad])
