"""The fast email check agrees with pydantic's `EmailStr` on every address it handles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from app.leads.emails import PLAIN_ADDRESS, Email, normalized_email

EMAIL_STR = TypeAdapter(EmailStr)
FAST = TypeAdapter(Email)


@settings(max_examples=1000)
@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_plain_addresses_normalize_as_email_str_does(address: str) -> None:
    try:
        expected = EMAIL_STR.validate_python(address)
    except ValidationError:
        with pytest.raises(ValidationError):
            FAST.validate_python(address)
        return
    assert FAST.validate_python(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "Dana.Whitfield@NorthWind.Example.com",
        "o'brien+tag@sub.example.org",
        "a@b.co",
        "user@localhost",
        "user@site.test",
        "x@xn--bcher-kva.example",
        "ab--cd@ab--cd.com",
        " padded@example.com ",
        "Dana <dana@example.com>",
        "dörte@exämple.de",
        "no-at-sign",
        "two@@example.com",
        "dots..in@example.com",
        ".lead@example.com",
        "trail.@example.com",
        "x@-bad.com",
        "x@bad-.com",
        "x@123.456",
        "x" * 65 + "@example.com",
        "x@" + "a" * 64 + ".com",
        "x@" + ".".join(["a" * 60] * 5) + ".com",
    ],
)
def test_edge_cases_agree_with_email_str(address: str) -> None:
    try:
        expected = EMAIL_STR.validate_python(address)
    except ValidationError as refused:
        with pytest.raises(ValidationError) as ours:
            FAST.validate_python(address)
        assert ours.value.errors()[0]["msg"] == refused.errors()[0]["msg"]
        return
    assert FAST.validate_python(address) == expected


def test_the_fast_path_keeps_the_local_part_and_lowers_the_domain() -> None:
    assert normalized_email("Ann.Lee+X@Example.COM") == "Ann.Lee+X@example.com"
