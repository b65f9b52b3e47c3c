"""An event keeps the lead as the row it was (`events.lead` of type `leads`), made JSON when read.

Building the lead's JSON in the writing transaction was most of what the events log cost a
write: with the same triggers writing a NULL instead, a create cost PostgreSQL about 200 µs of
CPU less under `compare.py`'s load, the same as with no event at all, while storing the row as
it is cost nothing measurable. The JSON is now made by the reader (`events_lead(e.lead)`, the
same function, so the log, the webhooks and NATS show the same document as before), a page or a
delivery round at a time, off the write path.

The column's type is the table's row type, so a column added to `leads` later shows in every
event (null in the older ones), and one dropped leaves them. PostgreSQL refuses to change the
type of a column of `leads` while this column uses the row type: such a migration converts this
column too.

The upgrade rewrites the log once (`jsonb_populate_record`); the downgrade writes the JSON back.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON_NEW_LEAD = """
CREATE OR REPLACE FUNCTION events_on_new_lead() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, lead_id, sequence, pipeline, lead)
    VALUES ('lead.created', NEW.id, NEW.version, NEW.pipeline, NEW);
  RETURN NULL;
END $function$
"""

ON_STATUS_CHANGE = """
CREATE OR REPLACE FUNCTION events_on_status_change() RETURNS trigger LANGUAGE plpgsql
AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- An AFTER trigger runs once the statement is done: the lead row is the one it left.
  INSERT INTO events (type, lead_id, sequence, pipeline, change_id, lead)
    SELECT 'lead.status_changed', l.id, l.version, NEW.pipeline, NEW.id, l
      FROM leads l WHERE l.id = NEW.lead_id;
  RETURN NULL;
END $function$
"""

ON_LEAD_UPDATE = """
CREATE OR REPLACE FUNCTION events_on_lead_update() RETURNS trigger LANGUAGE plpgsql AS $function$
DECLARE
  after jsonb;
  before jsonb;
BEGIN
  -- A status change has its own event, from its history row.
  IF OLD.status IS DISTINCT FROM NEW.status OR OLD.version IS NOT DISTINCT FROM NEW.version
     OR current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- What changed is found in the JSON both rows read as; the event keeps the row.
  after := events_lead(NEW);
  before := events_lead(OLD);
  INSERT INTO events (type, lead_id, sequence, pipeline, lead, details)
    SELECT 'lead.updated', NEW.id, NEW.version, NEW.pipeline, NEW,
           jsonb_build_object(
             'changed', coalesce(jsonb_agg(a.key ORDER BY a.key), '[]'),
             'previous', coalesce(jsonb_object_agg(a.key, before -> a.key), '{}'))
      FROM jsonb_each(after) a
     WHERE a.key NOT IN ('version', 'updated_at') AND a.value IS DISTINCT FROM before -> a.key;
  RETURN NULL;
END $function$
"""

TO_ROWS = (
    "ALTER TABLE events ALTER COLUMN lead TYPE leads"
    " USING CASE WHEN lead IS NULL THEN NULL ELSE jsonb_populate_record(NULL::leads, lead) END"
)

# Revision 0017's functions, as it wrote them: what the downgrade puts back.
ON_NEW_LEAD_0017 = """
CREATE OR REPLACE FUNCTION events_on_new_lead() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF current_setting('leadstatus.events', true) = 'off' THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (type, lead_id, sequence, pipeline, lead)
    VALUES ('lead.created', NEW.id, NEW.version, NEW.pipeline, events_lead(NEW));
  RETURN NULL;
END $function$
"""

ON_STATUS_CHANGE_0017 = """
CREATE OR REPLACE FUNCTION events_on_status_change() RETURNS trigger LANGUAGE plpgsql
AS $function$
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

ON_LEAD_UPDATE_0017 = """
CREATE OR REPLACE FUNCTION events_on_lead_update() RETURNS trigger LANGUAGE plpgsql AS $function$
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

TO_JSON = "ALTER TABLE events ALTER COLUMN lead TYPE jsonb USING events_lead(lead)"


def upgrade() -> None:
    op.execute(TO_ROWS)
    for function in (ON_NEW_LEAD, ON_STATUS_CHANGE, ON_LEAD_UPDATE):
        op.execute(function)


def downgrade() -> None:
    for function in (ON_NEW_LEAD_0017, ON_STATUS_CHANGE_0017, ON_LEAD_UPDATE_0017):
        op.execute(function)
    op.execute(TO_JSON)
