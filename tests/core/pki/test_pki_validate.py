"""Serials as people paste them, and hosts as they type them."""

from __future__ import annotations

import ipaddress

import pytest

from gatehouse.core.helpers import PkiInputError
from gatehouse.core.pki import parse_serial
from gatehouse.core.pki.validate import parse_host


@pytest.mark.parametrize("text", ["C0FFEE", "c0ffee", "0xC0FFEE", "C0:FF:EE", " c0ffee\n"])
def test_serial_spellings(text: str) -> None:
    assert parse_serial(text) == 0xC0FFEE


@pytest.mark.parametrize("text", ["", "0", "xyz", "12 34", "-5"])
def test_bad_serials(text: str) -> None:
    with pytest.raises(PkiInputError):
        parse_serial(text)


def test_hosts() -> None:
    assert parse_host("Broker.Plant.Local.") == "broker.plant.local"
    assert parse_host("10.0.0.1") == ipaddress.ip_address("10.0.0.1")
    assert parse_host("fe80::1") == ipaddress.ip_address("fe80::1")
    assert parse_host("xn--kche-0ra.local") == "xn--kche-0ra.local"
    for bad in ("*", "a.*.b", "a_b.local", "x" * 64 + ".local", "a" * 254):
        with pytest.raises(PkiInputError):
            parse_host(bad)
