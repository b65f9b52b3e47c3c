"""Webhook endpoints and their deliveries (the events log sent to other apps, at least once),
and the nurture queue as events.

* `webhook_endpoints`: where to send (URL, event types, pipeline), the signing secret sealed
  (and the one it replaced, valid until `previous_secret_until`), whether it is enabled and
  why not, since when it has been failing, and its **cursor**: the position in the events log
  (`cursor_tx`, `cursor_id`) up to which events have been queued for it. An endpoint that is
  disabled keeps its cursor, so nothing is dropped while it is off: enabling it queues what it
  missed.
* `webhook_deliveries`: one event to one endpoint, pending until an attempt succeeds or the
  retries run out; `next_attempt_at` is also the lease of an attempt in flight, so a process
  that dies mid-attempt leaves it to be tried again.
* `webhook_attempts`: every attempt's answer, time and error, for the deliveries API.

`events_marks` holds how far the nurture queue has been announced: a lead whose `revisit_at`
passes the mark gets a `lead.revisit_due` event (the mark starts at this migration: nothing
that came due before it is announced).

`events_wake_deliveries` notifies `leadstatus_events` when a delivery process is waiting for
work (it says so in `webhook_listeners` before it waits, and takes it back when woken) and an
endpoint is enabled, so delivery starts moments after the commit; the delivery loop's polling
stays the source of truth. A busy delivery process is not waiting, so under a write load almost
no transaction notifies: PostgreSQL commits notifying transactions one at a time (each holds a
database-wide lock through its commit), which at every write would cap the service's writes at
one commit per disk flush.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    """
CREATE TABLE webhook_endpoints (
  id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_webhook_endpoints PRIMARY KEY,
  url text NOT NULL,
  event_types text[] NOT NULL DEFAULT '{}',
  pipeline text,
  description text,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_until timestamptz,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  disabled_at timestamptz,
  failing_since timestamptz,
  cursor_tx xid8 NOT NULL,
  cursor_id bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    """
CREATE TABLE webhook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_webhook_deliveries PRIMARY KEY,
  endpoint_id bigint NOT NULL
    CONSTRAINT fk_webhook_deliveries_endpoint_id_webhook_endpoints
    REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id bigint NOT NULL,
  state text NOT NULL DEFAULT 'pending'
    CONSTRAINT ck_webhook_deliveries_state_known
    CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  last_status integer,
  last_error text,
  last_duration_ms integer
)
""",
    """
CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_webhook_attempts PRIMARY KEY,
  delivery_id bigint NOT NULL
    CONSTRAINT fk_webhook_attempts_delivery_id_webhook_deliveries
    REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  status integer,
  duration_ms integer NOT NULL,
  error text
)
""",
)
LISTENERS = (
    """
CREATE UNLOGGED TABLE webhook_listeners (
  pid integer CONSTRAINT pk_webhook_listeners PRIMARY KEY,
  since timestamptz NOT NULL
)
""",
)
MARKS = (
    """
CREATE TABLE events_marks (
  name text CONSTRAINT pk_events_marks PRIMARY KEY,
  at timestamptz NOT NULL
)
""",
    "INSERT INTO events_marks (name, at) VALUES ('revisit_due', now())",
)
INDEXES = (
    "CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at)"
    " WHERE state = 'pending'",
    "CREATE INDEX ix_webhook_deliveries_endpoint_id_id ON webhook_deliveries (endpoint_id, id)",
    "CREATE INDEX ix_webhook_deliveries_endpoint_id_event_id"
    " ON webhook_deliveries (endpoint_id, event_id)",
    "CREATE INDEX ix_webhook_attempts_delivery_id_id ON webhook_attempts (delivery_id, id)",
)

WAKE = """
CREATE FUNCTION events_wake_deliveries() RETURNS trigger LANGUAGE plpgsql AS $function$
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
WAKE_TRIGGER = (
    "CREATE TRIGGER events_wake_deliveries AFTER INSERT ON events"
    " FOR EACH STATEMENT EXECUTE FUNCTION events_wake_deliveries()"
)


def upgrade() -> None:
    for statement in (*TABLES, *LISTENERS, *MARKS, *INDEXES, WAKE, WAKE_TRIGGER):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER events_wake_deliveries ON events")
    op.execute("DROP FUNCTION events_wake_deliveries()")
    op.execute(
        "DROP TABLE webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_listeners,"
        " events_marks"
    )
