"""Checking that a delivery comes from the configured tool, the way that tool signs.

Every refusal is a `SignatureRefused` whose reason is safe to log and to answer: it names what
was wrong (missing header, stale timestamp, no matching signature), never a secret or a value
that could help forge one. Comparisons run in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.platform.errors import SignatureRefused

TOLERANCE_S = 300
"""Deliveries signed more than five minutes before or after now are refused (replays)."""

# HubSpot decodes these escapes in the request URI before signing it (its v3 scheme).
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def verify_standard(secrets: Sequence[str], body: bytes, headers: Mapping[str, str]) -> str:
    """Standard Webhooks v1; returns the sender's message id (`webhook-id`).

    Any of `secrets` may match (during a rotation the previous one still does), and any of the
    space-separated signatures may (a sender rotating its own secret signs with both).
    """
    message_id = headers.get("webhook-id")
    if (
        not message_id
        or not headers.get("webhook-signature")
        or not headers.get("webhook-timestamp")
    ):
        raise SignatureRefused(
            "Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature "
            "are all required."
        )
    reason = "No webhook-signature entry matches this source's secret."
    for secret in secrets:
        try:
            Webhook(secret).verify(body, dict(headers), json_parse=False)
            return message_id
        except WebhookVerificationError as refused:
            if "timestamp" in str(refused).lower() or "Signature Headers" in str(refused):
                raise SignatureRefused(
                    "webhook-timestamp is not within five minutes of now."
                ) from None
        except ValueError:  # a malformed signature entry or a body that is not UTF-8
            reason = "webhook-signature is malformed or the body is not UTF-8."
    raise SignatureRefused(reason)


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    for escaped, char in _HUBSPOT_DECODED.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot(
    secrets: Sequence[str],
    *,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> None:
    """`X-HubSpot-Signature-v3` with `X-HubSpot-Request-Timestamp` in milliseconds."""
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        raise SignatureRefused(
            "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are both required."
        )
    if not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureRefused("X-HubSpot-Request-Timestamp must be milliseconds since 1970.")
    if abs(now.timestamp() * 1000 - int(timestamp)) > TOLERANCE_S * 1000:
        raise SignatureRefused("X-HubSpot-Request-Timestamp is not within five minutes of now.")
    for secret in secrets:
        expected = hubspot_signature(secret, method, uri, body, timestamp)
        if hmac.compare_digest(expected.encode(), signature.strip().encode()):
            return
    raise SignatureRefused("X-HubSpot-Signature-v3 does not match this source's secret.")


def secret_digest(secret: str) -> str:
    """How a shared secret is kept at rest: only its SHA-256 (it is random and long)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def verify_shared(digests: Sequence[str], given: str | None, *, where: str) -> None:
    """A shared secret sent as is (Marketo header, Mailchimp query string)."""
    if not given:
        raise SignatureRefused(f"The source's secret is required in {where}.")
    presented = secret_digest(given).encode()
    # Compare with every digest, not stopping early, so timing says nothing about which matched.
    matched = [hmac.compare_digest(presented, d.encode()) for d in digests]
    if not any(matched):
        raise SignatureRefused(f"The secret in {where} does not match this source's.")


def standard_secret_is_valid(secret: str) -> bool:
    """Whether `secret` is a usable Standard Webhooks secret (`whsec_` + base64)."""
    raw = secret.removeprefix("whsec_")
    try:
        return len(base64.b64decode(raw + "==", validate=False)) >= 16
    except (binascii.Error, ValueError):
        return False
