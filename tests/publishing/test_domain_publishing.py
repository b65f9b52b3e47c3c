"""Where an event goes on NATS: its subject from the prefix, pipeline and type, and the settings
that name them refusing what would not be a subject or a stream name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.events.domain import EventType
from app.pipelines.definition import KEY_PATTERN
from app.platform.settings import Settings
from app.publishing.domain import NO_PIPELINE, message, stream_subjects, subject


@pytest.mark.parametrize(
    ("prefix", "pipeline", "event_type", "expected"),
    [
        ("leadstatus", "default", "lead.status_changed", "leadstatus.default.lead.status_changed"),
        ("acme.sales", "partners", "pipeline.changed", "acme.sales.partners.pipeline.changed"),
        ("leadstatus", None, "lead.created", "leadstatus._none.lead.created"),
    ],
)
def test_an_events_subject_is_prefix_pipeline_and_type(
    prefix: str, pipeline: str | None, event_type: str, expected: str
) -> None:
    assert subject(prefix, pipeline, event_type) == expected


@given(st.from_regex(KEY_PATTERN, fullmatch=True), st.sampled_from(list(EventType)))
def test_every_pipeline_name_is_one_token_no_wildcard_can_confuse(
    pipeline: str, event_type: EventType
) -> None:
    tokens = subject("leadstatus", pipeline, event_type).split(".")
    assert tokens[:2] == ["leadstatus", pipeline]
    assert ".".join(tokens[2:]) == event_type
    assert not {"*", ">", ""} & set(tokens)
    assert pipeline != NO_PIPELINE  # no pipeline can be taken for the events without one


@pytest.mark.parametrize("pipeline", ["two.tokens", "wild*", ">", "with space", ""])
def test_a_pipeline_name_that_is_no_plain_token_is_refused(pipeline: str) -> None:
    with pytest.raises(ValueError, match="not a NATS subject token"):
        subject("leadstatus", pipeline, "lead.created")


def test_a_message_carries_the_event_id_for_deduplication() -> None:
    sent = message("leadstatus", 1042, "default", "lead.created", b"{}")
    assert (sent.subject, sent.message_id, sent.body) == (
        "leadstatus.default.lead.created",
        "evt_1042",
        b"{}",
    )
    assert stream_subjects("leadstatus") == ["leadstatus.>"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("nats_subject_prefix", "leadstatus.>"),
        ("nats_subject_prefix", "lead status"),
        ("nats_subject_prefix", "leadstatus."),
        ("nats_stream", "EVENTS.LOG"),
        ("nats_stream", "EVENTS*"),
    ],
)
def test_settings_refuse_a_prefix_or_stream_nats_would_not_take(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({name: value})


def test_publishing_is_off_unless_a_nats_url_is_set() -> None:
    settings = Settings()
    assert settings.nats_url is None
    assert (settings.nats_stream, settings.nats_subject_prefix) == (
        "LEADSTATUS_EVENTS",
        "leadstatus",
    )
