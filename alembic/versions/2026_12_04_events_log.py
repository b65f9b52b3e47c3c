"""The events log: every change other apps react to, written in the transaction of the change.

`events` is a transactional outbox. Triggers append a row in the same transaction as the change
they announce, whichever writer made it (the API, a batch import, intake, a pipeline edit, a
script in psql), so there is no change without its event and no event without its change:

* `lead.created`: a lead was inserted (`events_on_new_lead`);
* `lead.status_changed`: a history row was appended, a transition, a reopening or a pipeline
  edit's remap (`events_on_status_change`);
* `lead.updated`: a lead's version moved without its status moving, an edit of its descriptive
  fields (`events_on_lead_update`), with the names and previous values of what changed;
* `pipeline.changed`: a pipeline version was stored (`events_on_pipeline_version`).

Each lead event carries the lead as it stands after the change (`lead`, the row as JSON) and,
as its per-lead `sequence`, the lead's version after the change: every version has exactly one
event, so a consumer orders a lead's events by it and sees a gap as a missing number.

The log's order is `(tx, id)`: the writing transaction's id, then the row's. A reader only
takes rows whose transaction is older than every transaction still running
(`pg_snapshot_xmin`), so a row can never appear behind a position a reader has passed: a
transaction that started early and commits late is held back, not skipped.

`leadstatus.events = off` in a session (the demo's bulk seeding) writes no events.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = """
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_events PRIMARY KEY,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  type text NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  lead_id bigint,
  sequence integer,
  pipeline text,
  change_id bigint,
  lead jsonb,
  details jsonb
)
"""
INDEXES = (
    "CREATE INDEX ix_events_position ON events (tx, id)",
    "CREATE INDEX ix_events_lead_position ON events (lead_id, tx, id) WHERE lead_id IS NOT NULL",
    "CREATE INDEX ix_events_occurred_at ON events USING brin (occurred_at)",
)

LEAD_JSON = """
CREATE FUNCTION events_lead(l leads) RETURNS jsonb LANGUAGE sql STABLE AS $function$
  -- The amount as the decimal string the API answers, not a JSON number a reader may round.
  SELECT to_jsonb(l) || jsonb_build_object('estimated_value', l.estimated_value::text)
$function$
"""

ON_NEW_LEAD = """
CREATE FUNCTION events_on_new_lead() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, lead_id, sequence, pipeline, lead)
    VALUES ('lead.created', NEW.id, NEW.version, NEW.pipeline, events_lead(NEW));
  RETURN NULL;
END $function$
"""

ON_STATUS_CHANGE = """
CREATE FUNCTION events_on_status_change() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- An AFTER trigger runs once the statement is done: the lead row is the one it left.
  INSERT INTO events (type, lead_id, sequence, pipeline, change_id, lead)
    SELECT 'lead.status_changed', l.id, l.version, NEW.pipeline, NEW.id, events_lead(l)
      FROM leads l WHERE l.id = NEW.lead_id;
  RETURN NULL;
END $function$
"""

ON_LEAD_UPDATE = """
CREATE FUNCTION events_on_lead_update() RETURNS trigger LANGUAGE plpgsql AS $function$
DECLARE
  after jsonb;
  before jsonb;
BEGIN
  -- A status change has its own event, from its history row.
  IF OLD.status IS DISTINCT FROM NEW.status OR OLD.version IS NOT DISTINCT FROM NEW.version
     OR current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  after := events_lead(NEW);
  before := events_lead(OLD);
  INSERT INTO events (type, lead_id, sequence, pipeline, lead, details)
    SELECT 'lead.updated', NEW.id, NEW.version, NEW.pipeline, after,
           jsonb_build_object(
             'changed', coalesce(jsonb_agg(a.key ORDER BY a.key), '[]'),
             'previous', coalesce(jsonb_object_agg(a.key, before -> a.key), '{}'))
      FROM jsonb_each(after) a
     WHERE a.key NOT IN ('version', 'updated_at') AND a.value IS DISTINCT FROM before -> a.key;
  RETURN NULL;
END $function$
"""

ON_PIPELINE_VERSION = """
CREATE FUNCTION events_on_pipeline_version() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, occurred_at, sequence, pipeline, details)
    VALUES ('pipeline.changed', NEW.created_at, NEW.version, NEW.pipeline,
            jsonb_build_object('version', NEW.version, 'created_by', NEW.created_by,
                               'changes', to_jsonb(NEW.changes), 'remap', NEW.remap));
  RETURN NULL;
END $function$
"""

TRIGGERS = (
    "CREATE TRIGGER events_on_new_lead AFTER INSERT ON leads"
    " FOR EACH ROW EXECUTE FUNCTION events_on_new_lead()",
    # Every writer moves the version; the function tells an edit from a status change.
    "CREATE TRIGGER events_on_lead_update AFTER UPDATE OF version ON leads"
    " FOR EACH ROW EXECUTE FUNCTION events_on_lead_update()",
    "CREATE TRIGGER events_on_status_change AFTER INSERT ON lead_status_changes"
    " FOR EACH ROW EXECUTE FUNCTION events_on_status_change()",
    "CREATE TRIGGER events_on_pipeline_version AFTER INSERT ON pipeline_versions"
    " FOR EACH ROW EXECUTE FUNCTION events_on_pipeline_version()",
)


def upgrade() -> None:
    op.execute(TABLE)
    for statement in (
        *INDEXES,
        LEAD_JSON,
        ON_NEW_LEAD,
        ON_STATUS_CHANGE,
        ON_LEAD_UPDATE,
        ON_PIPELINE_VERSION,
        *TRIGGERS,
    ):
        op.execute(statement)


def downgrade() -> None:
    for trigger, table in (
        ("events_on_new_lead", "leads"),
        ("events_on_lead_update", "leads"),
        ("events_on_status_change", "lead_status_changes"),
        ("events_on_pipeline_version", "pipeline_versions"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "events_on_new_lead",
        "events_on_status_change",
        "events_on_lead_update",
        "events_on_pipeline_version",
    ):
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP FUNCTION events_lead(leads)")
    op.execute("DROP TABLE events")
