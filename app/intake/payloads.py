"""Turning each tool's payload into the leads it announces, one `Arrival` per event.

Field names differ per tool (HubSpot's `properties.firstname.value`, Marketo template keys,
Mailchimp's `data[merges][FNAME]`); each kind has a default map from lead fields to where the
tool puts them, and a source's own `field_map` overrides any of it. Values arrive as strings,
sometimes empty (Marketo sends an empty token as ""), which count as absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from app.intake.domain import IntakeOutcome, SourceKind
from app.platform.errors import InvalidPayload, MalformedBody, UnsupportedMediaType

MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest delivery body accepted and kept (HubSpot batches stay far below it)."""

MAX_ID_LENGTH = 255
"""The longest id a sender may give an event or a contact (`webhook-id`, HubSpot's `eventId` and
`objectId`, a mapped `external_id`): ids are kept in unique indexes, which bound a key's size, and
a refusal is a 4xx the sender stops retrying, where an index error would be a 5xx it retries."""

LEAD_FIELDS = ("email", "first_name", "last_name", "company", "title", "phone", "country")
"""The lead fields a payload can fill (owner, segment and source come from the source)."""

DEFAULT_MAPS: dict[SourceKind, dict[str, str]] = {
    SourceKind.STANDARD: {
        **{name: f"data.{name}" for name in LEAD_FIELDS},
        "external_id": "data.external_id",
    },
    SourceKind.HUBSPOT: {
        "email": "properties.email.value",
        "first_name": "properties.firstname.value",
        "last_name": "properties.lastname.value",
        "company": "properties.company.value",
        "title": "properties.jobtitle.value",
        "phone": "properties.phone.value",
        "country": "properties.country.value",
        "external_id": "vid",
    },
    SourceKind.MARKETO: {
        "email": "email",
        "first_name": "firstName",
        "last_name": "lastName",
        "company": "company",
        "title": "title",
        "phone": "phone",
        "country": "country",
        "external_id": "id",
    },
    SourceKind.MAILCHIMP: {
        "email": "data[merges][EMAIL]",
        "first_name": "data[merges][FNAME]",
        "last_name": "data[merges][LNAME]",
        "company": "data[merges][COMPANY]",
        "phone": "data[merges][PHONE]",
        "country": "data[merges][COUNTRY]",
        "external_id": "data[id]",
    },
}

CONTENT_TYPES = {
    SourceKind.STANDARD: "application/json",
    SourceKind.HUBSPOT: "application/json",
    SourceKind.MARKETO: "application/json",
    SourceKind.MAILCHIMP: "application/x-www-form-urlencoded",
}

# Mailchimp event types that announce a person; the rest (unsubscribe, cleaned, ...) do not.
_MAILCHIMP_LEAD_TYPES = {"subscribe", "profile"}
_HUBSPOT_CREATION = "contact.creation"


@dataclass(frozen=True, slots=True)
class Arrival:
    """One event of a delivery: the person it announces (or why it announces none)."""

    event_id: str
    body: bytes
    """What is kept of it: the raw body, or this event's own JSON out of a batch."""
    fields: dict[str, Any] = field(default_factory=dict)
    """Lead fields found, keyed as `LeadCreate`'s; empty when `outcome` is preset."""
    external_id: str | None = None
    outcome: IntakeOutcome | None = None
    """Set for events that create no lead now (thin HubSpot events, unsubscribes)."""


def body_hash(body: bytes) -> str:
    """The event id of senders that give none: the same body is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def read(
    kind: SourceKind,
    body: bytes,
    *,
    content_type: str | None,
    field_map: Mapping[str, str],
    message_id: str | None = None,
) -> list[Arrival]:
    """The arrivals in `body`; raises a `PayloadRefused` (malformed, unsupported or invalid)
    when it is not this kind's payload."""
    expected = CONTENT_TYPES[kind]
    if media_type(content_type) != expected:
        raise UnsupportedMediaType(f"A {kind.value} source takes {expected}.")
    paths = {**DEFAULT_MAPS[kind], **field_map}
    if kind is SourceKind.MAILCHIMP:
        return _mailchimp(body, paths)
    document = _json(body)
    if kind is SourceKind.HUBSPOT and isinstance(document, list):
        return _hubspot_events(document)
    if not isinstance(document, dict):
        raise InvalidPayload("The body must be a JSON object.", field="body")
    if kind is SourceKind.STANDARD and "data" not in document:
        # A sender that posts the lead itself rather than a {type, data} envelope.
        paths = {
            name: path.removeprefix("data.") if name not in field_map else path
            for name, path in paths.items()
        }
    found = _lookup_all(document, paths, dotted=True)
    if kind is SourceKind.HUBSPOT and not found.get("email"):
        found["email"] = _hubspot_identity_email(document)
    event_id = message_id if kind is SourceKind.STANDARD and message_id else body_hash(body)
    return [_arrival(_bounded(event_id, "webhook-id"), body, found)]


def _bounded(value: str, where: str) -> str:
    if len(value) > MAX_ID_LENGTH:
        raise InvalidPayload(
            f"{where} is {len(value)} characters long; ids are limited to {MAX_ID_LENGTH}.",
            field=where,
        )
    return value


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedBody("The body is not valid JSON.") from None


def _arrival(event_id: str, body: bytes, found: dict[str, str | None]) -> Arrival:
    external_id = found.pop("external_id", None)
    if external_id is not None:
        _bounded(external_id, "external_id")
    if not found.get("email"):
        raise InvalidPayload("The payload has no email address.", field="email")
    fields = {name: value for name, value in found.items() if value is not None}
    return Arrival(event_id, body, fields, external_id)


def _lookup_all(
    document: Mapping[str, Any], paths: Mapping[str, str], *, dotted: bool
) -> dict[str, str | None]:
    return {name: _text(_lookup(document, path, dotted=dotted)) for name, path in paths.items()}


def _lookup(document: Mapping[str, Any], path: str, *, dotted: bool) -> Any:
    if not dotted:
        return document.get(path)
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip() if not isinstance(value, bool) else None
    return text or None


def _hubspot_identity_email(document: Mapping[str, Any]) -> str | None:
    """Workflow contact payloads may carry the address only among the identity profiles."""
    for profile in document.get("identity-profiles") or []:
        identities = profile.get("identities") if isinstance(profile, dict) else None
        for identity in identities or []:
            if isinstance(identity, dict) and identity.get("type") == "EMAIL":
                return _text(identity.get("value"))
    return None


def _hubspot_events(events: list[Any]) -> list[Arrival]:
    """HubSpot's batched webhook events: thin, naming the contact by id only."""
    arrivals = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or "eventId" not in event:
            raise InvalidPayload(f"Event {index} has no eventId.", field=f"{index}.eventId")
        subscription = event.get("subscriptionType")
        _bounded(str(event["eventId"]), f"{index}.eventId")
        object_id = _text(event.get("objectId"))
        if object_id is not None:
            _bounded(object_id, f"{index}.objectId")
        outcome = (
            IntakeOutcome.AWAITING_EMAIL
            if subscription == _HUBSPOT_CREATION and object_id
            else IntakeOutcome.IGNORED
        )
        arrivals.append(
            Arrival(
                event_id=f"hubspot-event:{event['eventId']}",
                body=orjson.dumps(event),
                external_id=object_id,
                outcome=outcome,
            )
        )
    return arrivals


def _mailchimp(body: bytes, paths: Mapping[str, str]) -> list[Arrival]:
    try:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise MalformedBody("The form body is not UTF-8.") from None
    event_id = body_hash(body)
    if form.get("type", "subscribe") not in _MAILCHIMP_LEAD_TYPES:
        return [Arrival(event_id, body, outcome=IntakeOutcome.IGNORED)]
    found = _lookup_all(form, paths, dotted=False)
    if not found.get("email"):
        found["email"] = _text(form.get("data[email]"))
    return [_arrival(event_id, body, found)]
