"""Request and response models: separate models in and out, so no client can set what it must not.

Input models forbid unknown fields: a `status`, `version` or `id` in a body is refused with a
pointer to the call that does change it, never silently dropped or used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_extra_types.country import CountryAlpha2
from pydantic_extra_types.currency_code import ISO4217

from app.leads.domain import EARLIEST, LATEST
from app.leads.emails import Email
from app.pipelines.default import DEFAULT_PIPELINE
from app.pipelines.schemas import PipelineName, ReasonCode, StatusKey
from app.pipelines.workflow import Outcome
from app.platform.http.fields import NO_NUL, Amount, iso_8601_only

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NO_NUL)
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=NO_NUL)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
MAX_ATTRIBUTES_BYTES = 4096
Currency = Annotated[ISO4217, WithJsonSchema({"$ref": "#/components/schemas/Currency"})]
"""A currency a request names: described once in the document (`Currency`), not in full at
every field that takes one."""


def document_currency(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the `Currency` component the request models refer to (built when the document is,
    not at every import)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Currency"] = {
        **TypeAdapter(ISO4217).json_schema(),
        "title": "Currency",
        "description": "An ISO 4217 currency code.",
    }
    return schema


ItemProblem = Annotated[dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/Problem"})]
"""A batch item's refusal: any problem type a single call could answer, so the generic one."""


def _held_within_records(value: datetime) -> datetime:
    """A filter's instant (UTC when it names no offset), moved inside the dates the service
    records: the same leads match, and no instant reaches the driver as -infinity or past what
    it can convert to UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return min(max(aware, EARLIEST), LATEST)


FilterInstant = Annotated[
    datetime, BeforeValidator(iso_8601_only), AfterValidator(_held_within_records)
]
Instant = Annotated[AwareDatetime, BeforeValidator(iso_8601_only)]
Day = Annotated[date, BeforeValidator(iso_8601_only)]

WORKFLOW_FIELDS = {
    "status": "the status changes only through POST /v1/leads/{id}/transitions or /reopen",
    "status_reason": "the reason is given with each status change",
    "version": "the version is kept by the service; send it as If-Match instead",
    "id": "the id is assigned by the service",
    "reopen_count": "reopenings are counted by POST /v1/leads/{id}/reopen",
    "closed_at": "set by the status change that closes the lead",
    "created_at": "set by the service",
    "updated_at": "set by the service",
    "previous_lead_id": "set by intake when a returning person starts a new deal",
    "pipeline": "a lead's pipeline is chosen when the lead is created",
    "pipeline_version": "set by each status change (the version it was decided under)",
    "outcome": "follows the status",
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_workflow_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, why in WORKFLOW_FIELDS.items():
                if name in data and name not in cls.model_fields:
                    raise ValueError(f"'{name}' cannot be set here: {why}")
        return data


def _holds_nul(value: Any) -> bool:
    """Whether U+0000 is in any string of a JSON value, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class _LeadFields(_Input):
    first_name: Text | None = None
    last_name: Text | None = None
    company: Text | None = None
    title: Text | None = None
    phone: Phone | None = None
    source: Text | None = Field(default=None, description="Where the lead came from, e.g. `web`.")
    owner: Text | None = Field(default=None, description="The sales rep who works the lead.")
    segment: Text | None = None
    country: CountryAlpha2 | None = Field(default=None, description="ISO 3166-1 alpha-2 code.")
    estimated_value: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    currency: Currency | None = Field(default=None, description="ISO 4217 code, e.g. `EUR`.")
    probability: Probability | None = Field(
        default=None,
        description="The rep's chance that this deal is won, 0 to 1; overrides its status's "
        "probability in the weighted pipeline.",
    )
    expected_close_date: Day | None = Field(
        default=None, description="The day the deal is expected to close (the forecast's month)."
    )
    external_id: Text | None = Field(default=None, description="The lead's id in another system.")

    @field_validator("attributes", check_fields=False)
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        try:
            document = orjson.dumps(value)
        except orjson.JSONEncodeError as unstorable:
            # An integer past 64 bits, or nesting deeper than the jsonb codec writes.
            raise ValueError(f"attributes cannot be stored as JSON: {unstorable}") from None
        if len(document) > MAX_ATTRIBUTES_BYTES:
            raise ValueError(f"attributes must stay under {MAX_ATTRIBUTES_BYTES} bytes of JSON")
        # orjson writes U+0000 as \u0000: only a document with that text needs a closer look.
        if b"\\u0000" in document and _holds_nul(value):
            raise ValueError("attributes cannot hold the character U+0000, in a key or a value")
        return value


class LeadCreate(_LeadFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "dana.whitfield@northwind.example",
                    "first_name": "Dana",
                    "last_name": "Whitfield",
                    "company": "Northwind Traders",
                    "title": "Head of Operations",
                    "source": "webinar",
                    "owner": "alex.romero",
                    "segment": "mid_market",
                    "country": "DE",
                    "estimated_value": "18000.00",
                    "currency": "EUR",
                    "attributes": {"campaign": "q4-webinar"},
                }
            ]
        },
    )

    email: Email
    attributes: dict[str, Any] = Field(default_factory=dict, description="Small JSON object.")
    pipeline: PipelineName = Field(
        default=DEFAULT_PIPELINE,
        description="The pipeline the lead moves through; it starts at that pipeline's initial "
        "status.",
    )


class LeadUpdate(_LeadFields):
    """Descriptive fields only; a field sent as null is cleared."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"owner": "sam.okafor", "company": "Northwind GmbH"}]},
    )

    email: Email | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("email", "attributes")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared")
        return value


_REASON_DOC = (
    "A standardized reason code of the target in the lead's pipeline; `GET /v1/pipelines/{name}` "
    "(or `GET /v1/workflow` for `default`) lists them per target."
)


class TransitionRequest(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"to": "qualified", "reason": "budget_confirmed", "actor": "alex.romero"},
                {
                    "to": "lost",
                    "reason": "competitor",
                    "competitor": "Globex",
                    "note": "Went with the cheaper bundle.",
                    "revisit_at": "2027-06-01T09:00:00Z",
                },
            ]
        },
    )

    to: StatusKey
    reason: ReasonCode = Field(description=_REASON_DOC, examples=["budget_confirmed"])
    note: Note | None = Field(default=None, description="Free text; required with reason `other`.")
    competitor: Text | None = Field(
        default=None, description="The winner, for `lost`; required with reason `competitor`."
    )
    revisit_at: Instant | None = Field(
        default=None,
        description="When to revisit: required for `recycled`, optional for `lost` and "
        "`no_decision`; must be in the future.",
    )
    future_opportunity: bool | None = Field(
        default=None, description="For `won`: there is more to sell to this customer later."
    )
    actor: Text | None = Field(default=None, description="Who made the change.")


class ReopenRequest(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "budget_approved", "note": "New fiscal year.", "actor": "alex"}]
        },
    )

    reason: ReasonCode = Field(
        description="A reopen reason code of the lead's pipeline.", examples=["budget_approved"]
    )
    to: StatusKey | None = Field(
        default=None,
        description="A reopen target of the lead's pipeline; default: the open status held "
        "when the lead closed.",
    )
    note: Note | None = Field(default=None, description="Free text; required with reason `other`.")
    actor: Text | None = Field(default=None, description="Who reopened the deal.")


class LeadPublic(BaseModel):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    phone: str | None
    source: str | None
    owner: str | None
    segment: str | None
    country: str | None
    estimated_value: Amount | None
    currency: str | None
    probability: float | None
    expected_close_date: date | None
    external_id: str | None
    attributes: dict[str, Any]
    pipeline: str = Field(description="The pipeline the lead moves through.")
    pipeline_version: int = Field(
        description="The version of the pipeline its latest status change was decided under."
    )
    status: str = Field(description="A status key of the lead's pipeline.", examples=["qualified"])
    outcome: Outcome = Field(description="What the status means: open, won, lost, ...")
    status_reason: str | None = Field(description="Reason code of the latest status change.")
    closed_from: str | None = Field(
        description="The open status held when the lead last closed (where a reopening returns)."
    )
    version: int = Field(description="Increases with every change; the ETag carries it.")
    reopen_count: int
    revisit_at: datetime | None
    closed_at: datetime | None
    status_since: datetime = Field(
        description="When the lead entered its status (its creation, or its latest status "
        "change; a pipeline edit's remap keeps it): how long a deal has sat where it is."
    )
    created_at: datetime
    updated_at: datetime
    previous_lead_id: int | None = Field(
        description="The same person's earlier lead, won, disqualified or dead, when intake "
        "brought them back as a new deal."
    )


class LeadsPage(BaseModel):
    items: list[LeadPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done.")


class StatusChangePublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    from_status: str = Field(serialization_alias="from", validation_alias="from_status")
    to_status: str = Field(serialization_alias="to", validation_alias="to_status")
    from_outcome: Outcome = Field(description="The outcome `from` had when the change was made.")
    to_outcome: Outcome = Field(description="The outcome `to` had when the change was made.")
    pipeline: str
    pipeline_version: int = Field(description="The pipeline version the change was decided under.")
    reason: str
    reopened: bool = Field(description="True when this change was a reopening.")
    note: str | None
    competitor: str | None
    revisit_at: datetime | None
    future_opportunity: bool | None
    actor: str | None
    api_key: str | None = Field(
        default=None, description="The name of the API key the change was made with."
    )
    owner: str | None = Field(description="The lead's owner when the change was made.")
    source: str | None = Field(description="The lead's source when the change was made.")
    segment: str | None = Field(description="The lead's segment when the change was made.")
    estimated_value: Amount | None = Field(
        description="The deal's value when the change was made (what revenue counts it at)."
    )
    currency: str | None = Field(description="The currency of `estimated_value`.")
    probability: float | None = Field(
        description="The deal's own win probability when the change was made."
    )
    expected_close_date: date | None = Field(
        description="The deal's expected close date when the change was made."
    )
    at: datetime


class BatchItem(BaseModel):
    index: int = Field(description="Position of the lead in the request.")
    result: Literal["created", "duplicate", "rejected"]
    id: int | None = Field(default=None, description="The new lead (created).")
    existing_lead_id: int | None = Field(
        default=None, description="The open lead with this email (duplicate)."
    )
    problem: ItemProblem | None = Field(
        default=None, description="Why it was refused, as a problem+json object (rejected)."
    )


class LeadsBatchResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 1,
                    "duplicates": 1,
                    "rejected": 0,
                    "items": [
                        {"index": 0, "result": "created", "id": 1208},
                        {"index": 1, "result": "duplicate", "existing_lead_id": 977},
                    ],
                }
            ]
        }
    )

    created: int
    duplicates: int
    rejected: int
    items: list[BatchItem]


class LeadTransitionItem(TransitionRequest):
    """One move of a bulk status change: the body of `POST /v1/leads/{id}/transitions` with the
    lead it applies to and, optionally, the version it was read at (If-Match for this item)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lead_id": 1208, "to": "no_decision", "reason": "unresponsive", "version": 4}
            ]
        },
    )

    lead_id: int = Field(ge=1, le=2**63 - 1, description="The lead to move.")
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Apply only while the lead is at this version (as If-Match does); a lead "
        "changed since is this item's `stale-version` problem.",
    )


class TransitionBatchItem(BaseModel):
    index: int = Field(description="Position of the change in the request.")
    result: Literal["changed", "rejected"]
    lead_id: int | None = Field(description="The lead the item names (null if unreadable).")
    status: str | None = Field(default=None, description="The lead's status now (changed).")
    version: int | None = Field(default=None, description="The lead's version now (changed).")
    problem: ItemProblem | None = Field(
        default=None, description="Why it was refused, as a problem+json object (rejected)."
    )


class TransitionBatchResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "changed": 1,
                    "rejected": 1,
                    "items": [
                        {
                            "index": 0,
                            "result": "changed",
                            "lead_id": 1208,
                            "status": "no_decision",
                            "version": 5,
                        },
                        {
                            "index": 1,
                            "result": "rejected",
                            "lead_id": 977,
                            "problem": {
                                "type": "/problems/transition-not-allowed",
                                "title": "Transition not allowed",
                                "status": 409,
                                "detail": "A won lead cannot move to no_decision.",
                                "allowed_targets": [],
                            },
                        },
                    ],
                }
            ]
        }
    )

    changed: int
    rejected: int
    items: list[TransitionBatchItem]
