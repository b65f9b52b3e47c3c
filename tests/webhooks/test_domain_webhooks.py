"""Webhook rules without a database: the retry schedule, what an answer means, where a request
may go, and the signatures a receiver checks with the reference library."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from app.platform.errors import InvalidWebhookTarget
from app.platform.sealing import new_standard_secret as new_secret
from app.webhooks.domain import (
    JITTER,
    RETRY_DELAYS,
    Verdict,
    parse_networks,
    parse_target,
    refusal_of,
    retry_delay,
    verdict,
)
from app.webhooks.sending import signature_headers


def test_the_retries_last_about_three_days() -> None:
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=2.5) <= total <= timedelta(days=3.5)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)


def test_each_wait_is_jittered_within_its_bounds_and_none_is_left_after_the_last() -> None:
    rng = random.Random(7)
    for attempts, base in enumerate(RETRY_DELAYS, start=1):
        waits = [retry_delay(attempts, rng) for _ in range(50)]
        assert all(w is not None and base * (1 - JITTER) <= w <= base * (1 + JITTER) for w in waits)
        assert len(set(waits)) > 1
    assert retry_delay(len(RETRY_DELAYS) + 1, rng) is None
    assert retry_delay(0, rng) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (302, Verdict.RETRY),
        (400, Verdict.RETRY),
        (410, Verdict.GONE),
        (500, Verdict.RETRY),
        (None, Verdict.RETRY),
    ],
)
def test_what_an_answer_means(status: int | None, expected: Verdict) -> None:
    assert verdict(status) is expected


def test_a_url_becomes_a_target() -> None:
    t = parse_target("https://hooks.example.com/in?team=7")
    assert (t.scheme, t.host, t.port, t.path) == ("https", "hooks.example.com", 443, "/in?team=7")
    assert parse_target("http://example.com:8080").path == "/"
    assert parse_target("http://example.com:8080").port == 8080


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("https:///nohost", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https://example.com:99999/", "port"),
    ],
)
def test_a_url_that_cannot_be_a_target_says_why(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookTarget) as refused:
        parse_target(url)
    assert why in refused.value.facts["why"]
    assert refused.value.facts["field"] == "url"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fd00::5", "private"),
        ("0.0.0.0", "not a public"),
        ("224.0.0.1", "not a public"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    refusal = refusal_of(address, ())
    assert refusal is not None and why in refusal


def test_a_public_address_is_allowed_and_a_listed_network_too() -> None:
    assert refusal_of("93.184.216.34", ()) is None
    assert refusal_of("2606:2800:220:1::1", ()) is None
    allowed = parse_networks("10.0.0.0/8, 127.0.0.1 ,fd00::/8")
    assert refusal_of("10.9.9.9", allowed) is None
    assert refusal_of("127.0.0.1", allowed) is None
    assert refusal_of("fd00::5", allowed) is None
    assert refusal_of("127.0.0.2", allowed) is not None
    assert parse_networks("") == ()


def test_the_reference_library_verifies_the_signature_with_either_secret_of_a_rotation() -> None:
    old, new = new_secret(), new_secret()
    assert old.startswith("whsec_") and old != new
    body = b'{"id":"evt_1","type":"lead.created"}'
    now = datetime.now(UTC)
    headers = signature_headers("evt_1", body, [new, old], now)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"id": "evt_1", "type": "lead.created"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new).verify(body + b" ", headers)
