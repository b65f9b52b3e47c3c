"""Each sender's signature scheme, checked against its reference: the `standardwebhooks`
package signs Standard Webhooks deliveries; HubSpot's v3 scheme is checked against the vector
HubSpot's own client library publishes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from app.intake.signatures import (
    hubspot_signature,
    secret_digest,
    standard_secret_is_valid,
    verify_hubspot,
    verify_shared,
    verify_standard,
)
from app.platform.errors import SignatureRefused

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"type":"lead.created","data":{"email":"dana@northwind.example"}}'


def standard_headers(
    secret: str, body: bytes = BODY, *, at: datetime | None = None, msg_id: str = "msg_1"
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def test_standard_accepts_the_reference_senders_signature_and_returns_its_id() -> None:
    assert verify_standard([SECRET], BODY, standard_headers(SECRET)) == "msg_1"


def test_standard_refuses_a_tampered_body() -> None:
    headers = standard_headers(SECRET)
    with pytest.raises(SignatureRefused, match="No webhook-signature"):
        verify_standard([SECRET], BODY.replace(b"dana", b"mallory"), headers)


def test_standard_refuses_another_secret() -> None:
    with pytest.raises(SignatureRefused):
        verify_standard([SECRET], BODY, standard_headers(OTHER))


@pytest.mark.parametrize("minutes", [-6, 6])
def test_standard_refuses_timestamps_more_than_five_minutes_off(minutes: int) -> None:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    with pytest.raises(SignatureRefused, match="five minutes"):
        verify_standard([SECRET], BODY, standard_headers(SECRET, at=at))


def test_standard_accepts_any_of_several_signatures_and_the_previous_secret() -> None:
    mine, theirs = standard_headers(SECRET), standard_headers(OTHER)
    both = {
        **mine,
        "webhook-signature": f"{theirs['webhook-signature']} {mine['webhook-signature']}",
    }
    assert verify_standard([SECRET], BODY, both) == "msg_1"
    # During a rotation the source still holds the previous secret the sender signs with.
    assert verify_standard([OTHER, SECRET], BODY, mine) == "msg_1"


@pytest.mark.parametrize(
    "broken",
    [
        {"webhook-signature": "v1"},
        {"webhook-signature": "v1,not base64!"},
        {"webhook-id": ""},
        {"webhook-timestamp": "soon"},
    ],
)
def test_standard_refuses_malformed_headers_without_crashing(broken: dict[str, str]) -> None:
    with pytest.raises(SignatureRefused):
        verify_standard([SECRET], BODY, {**standard_headers(SECRET), **broken})


def test_hubspot_v3_matches_the_published_vector() -> None:
    # The v3 example of HubSpot's Python client's signature tests.
    assert (
        hubspot_signature(
            "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
            "POST",
            "https://www.example.com/webhook_uri",
            b"{'example_field':'example_value'}",
            "15000000",
        )
        == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )


def test_hubspot_decodes_escaped_characters_in_the_uri_before_signing() -> None:
    escaped = hubspot_signature("s", "POST", "https://x.example/a%3Ab?c=%40d", b"", "1")
    assert escaped == hubspot_signature("s", "POST", "https://x.example/a:b?c=@d", b"", "1")


def _hubspot(secret: str, *, at: datetime, body: bytes = BODY) -> dict[str, str]:
    stamp = str(int(at.timestamp() * 1000))
    uri = "https://leads.example.com/v1/intake/hs"
    return {
        "x-hubspot-request-timestamp": stamp,
        "x-hubspot-signature-v3": hubspot_signature(secret, "POST", uri, body, stamp),
    }


def test_hubspot_accepts_a_fresh_signature_and_refuses_tampering_and_age() -> None:
    now = datetime.now(UTC)
    uri = "https://leads.example.com/v1/intake/hs"
    ok = _hubspot("app-secret", at=now)
    verify_hubspot(["app-secret"], method="POST", uri=uri, body=BODY, headers=ok, now=now)
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_hubspot(
            ["app-secret"], method="POST", uri=uri, body=BODY + b" ", headers=ok, now=now
        )
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_hubspot(["other"], method="POST", uri=uri, body=BODY, headers=ok, now=now)
    old = _hubspot("app-secret", at=now - timedelta(minutes=6))
    with pytest.raises(SignatureRefused, match="five minutes"):
        verify_hubspot(["app-secret"], method="POST", uri=uri, body=BODY, headers=old, now=now)
    with pytest.raises(SignatureRefused, match="required"):
        verify_hubspot(["app-secret"], method="POST", uri=uri, body=BODY, headers={}, now=now)


def test_shared_secrets_are_kept_as_digests_and_compared_to_them() -> None:
    digest = secret_digest("a-long-shared-secret")
    assert "a-long-shared-secret" not in digest
    verify_shared([digest], "a-long-shared-secret", where="X-Webhook-Secret")
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_shared([digest], "a-long-shared-secreT", where="X-Webhook-Secret")
    with pytest.raises(SignatureRefused, match="required"):
        verify_shared([digest], None, where="X-Webhook-Secret")


def test_standard_secret_shape() -> None:
    assert standard_secret_is_valid(SECRET)
    assert not standard_secret_is_valid("whsec_")
