"""The events log published to NATS JetStream: a cursor per stream, and a wake-up for the
publisher.

* `publishing_cursors`: for each JetStream stream the log is published to, the position in the
  log (`cursor_tx`, `cursor_id`, the order `(tx, id)` of migration 0017) up to which every event
  has been published and acknowledged. A publisher moves it only after the stream acknowledged
  the events before it, so a crash repeats a batch (JetStream drops the repeats by their
  `Nats-Msg-Id`) and never skips one. A stream's first publisher starts at the log's settled
  end, as a new webhook endpoint does.
* `webhook_listeners.publishing`: the waiting process is a publisher. Every event is news to a
  publisher, so `events_wake_deliveries` now notifies when a publisher waits, and as before when
  a delivery process waits and an endpoint is enabled. Nothing changes for a deployment without
  a publisher: a write still notifies only while a process waits for work it has.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURSORS = """
CREATE TABLE publishing_cursors (
  stream text CONSTRAINT pk_publishing_cursors PRIMARY KEY,
  cursor_tx xid8 NOT NULL,
  cursor_id bigint NOT NULL DEFAULT 0,
  published_at timestamptz
)
"""
LISTENER_KIND = (
    "ALTER TABLE webhook_listeners ADD COLUMN publishing boolean NOT NULL DEFAULT false"
)

WAKE = """
CREATE OR REPLACE FUNCTION events_wake_deliveries() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  -- Only when a process waits for work it has (one that left a row over 10 s ago is gone): a
  -- publisher, to which every event is news, or a delivery process with an endpoint to send
  -- to. Otherwise a write pays a lookup or two in tiny tables.
  IF EXISTS (SELECT 1 FROM webhook_listeners
              WHERE since > now() - interval '10 seconds'
                AND (publishing OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled))) THEN
    PERFORM pg_notify('leadstatus_events', '');
  END IF;
  RETURN NULL;
END $function$
"""

WAKE_0018 = """
CREATE OR REPLACE FUNCTION events_wake_deliveries() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  -- Only when a delivery process waits for work (one that left a row over 10 s ago is gone)
  -- and has something to send to: otherwise a write pays two lookups in tiny tables.
  IF EXISTS (SELECT 1 FROM webhook_listeners WHERE since > now() - interval '10 seconds')
     AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
    PERFORM pg_notify('leadstatus_events', '');
  END IF;
  RETURN NULL;
END $function$
"""
"""0018's function, as that revision wrote it: what the downgrade puts back."""


def upgrade() -> None:
    for statement in (CURSORS, LISTENER_KIND, WAKE):
        op.execute(statement)


def downgrade() -> None:
    op.execute(WAKE_0018)
    op.execute("ALTER TABLE webhook_listeners DROP COLUMN publishing")
    op.execute("DROP TABLE publishing_cursors")
