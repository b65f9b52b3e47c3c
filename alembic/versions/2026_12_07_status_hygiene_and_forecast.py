"""When a lead entered its status, and what each pipeline status says for forecasts and hygiene.

* `leads.status_since`: when the lead entered the status it holds: the time of its latest status
  change other than a pipeline edit's remap (which only relabels the status), else its creation.
  Staleness is measured from it. Filled here from the history (one pass over `leads`; about ten
  seconds per million leads), then kept by the status-change statement. Every event carries it.
  `ix_leads_open_since` holds the open leads by pipeline, status and `status_since` (with their
  owner, source and segment), so counting the stale ones per status and owner reads the index
  alone, however many closed leads the table holds.
* `pipeline_statuses` gains the status properties the definition document already had or gains
  now: `probability`, `stale_after_days`, `forecast_category` and `auto_close_after_days`, copied
  from the stored definitions, so SQL can find stale leads and weigh the pipeline without
  reading JSON.
* `pipeline_version_store()` stores them, and accepts the reserved reason `stale` into the
  no-decision statuses of a version that closes leads automatically: the closing the service
  makes for a status's `auto_close_after_days`, recorded like any other change.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STORE = """
CREATE OR REPLACE FUNCTION pipeline_version_store(p text, v integer, definition jsonb)
RETURNS void LANGUAGE sql AS $$
      INSERT INTO pipeline_statuses (pipeline, version, key, outcome, position, archived, stage,
                                     probability, stale_after_days, forecast_category,
                                     auto_close_after_days)
      SELECT p, v, s->>'key', s->>'outcome', n, coalesce((s->>'archived')::boolean, false),
             CASE WHEN s->>'outcome' = 'open'
                  THEN row_number() OVER (PARTITION BY s->>'outcome' = 'open' ORDER BY n) END,
             (s->>'probability')::double precision, (s->>'stale_after_days')::integer,
             s->>'forecast_category', (s->>'auto_close_after_days')::integer
        FROM jsonb_array_elements(definition->'statuses') WITH ORDINALITY AS t(s, n);
      INSERT INTO pipeline_reasons (pipeline, version, to_status, to_outcome, reopened, code)
      SELECT p, v, st.key, st.outcome, false, c->>'code'
        FROM jsonb_each(definition->'reasons') r(target, rule)
        JOIN pipeline_statuses st
          ON st.pipeline = p AND st.version = v AND st.key = r.target AND NOT st.archived
       CROSS JOIN jsonb_array_elements(r.rule->'codes') c
      UNION ALL
      SELECT p, v, st.key, st.outcome, true, c->>'code'
        FROM jsonb_array_elements_text(definition->'reopen_targets') t(target)
        JOIN pipeline_statuses st
          ON st.pipeline = p AND st.version = v AND st.key = t.target AND NOT st.archived
       CROSS JOIN jsonb_array_elements(definition->'reasons'->'reopen'->'codes') c
      UNION ALL
      SELECT p, v, st.key, st.outcome, false, 'pipeline_remap'
        FROM pipeline_statuses st
       WHERE st.pipeline = p AND st.version = v AND NOT st.archived
      UNION ALL
      SELECT p, v, st.key, st.outcome, false, 'stale'
        FROM pipeline_statuses st
       WHERE st.pipeline = p AND st.version = v AND NOT st.archived
         AND st.outcome = 'no_decision'
         AND EXISTS (SELECT FROM pipeline_statuses a
                      WHERE a.pipeline = p AND a.version = v
                        AND a.auto_close_after_days IS NOT NULL);
$$
"""

_STORE_BEFORE = """
CREATE OR REPLACE FUNCTION pipeline_version_store(p text, v integer, definition jsonb)
RETURNS void LANGUAGE sql AS $$
      INSERT INTO pipeline_statuses (pipeline, version, key, outcome, position, archived, stage)
      SELECT p, v, s->>'key', s->>'outcome', n, coalesce((s->>'archived')::boolean, false),
             CASE WHEN s->>'outcome' = 'open'
                  THEN row_number() OVER (PARTITION BY s->>'outcome' = 'open' ORDER BY n) END
        FROM jsonb_array_elements(definition->'statuses') WITH ORDINALITY AS t(s, n);
      INSERT INTO pipeline_reasons (pipeline, version, to_status, to_outcome, reopened, code)
      SELECT p, v, st.key, st.outcome, false, c->>'code'
        FROM jsonb_each(definition->'reasons') r(target, rule)
        JOIN pipeline_statuses st
          ON st.pipeline = p AND st.version = v AND st.key = r.target AND NOT st.archived
       CROSS JOIN jsonb_array_elements(r.rule->'codes') c
      UNION ALL
      SELECT p, v, st.key, st.outcome, true, c->>'code'
        FROM jsonb_array_elements_text(definition->'reopen_targets') t(target)
        JOIN pipeline_statuses st
          ON st.pipeline = p AND st.version = v AND st.key = t.target AND NOT st.archived
       CROSS JOIN jsonb_array_elements(definition->'reasons'->'reopen'->'codes') c
      UNION ALL
      SELECT p, v, st.key, st.outcome, false, 'pipeline_remap'
        FROM pipeline_statuses st
       WHERE st.pipeline = p AND st.version = v AND NOT st.archived;
$$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE leads ADD COLUMN status_since timestamptz")
    # Column triggers of leads watch other columns: this pass fires none of them.
    op.execute(
        """
        UPDATE leads l
           SET status_since = coalesce(
                 (SELECT c.at FROM lead_status_changes c
                   WHERE c.lead_id = l.id AND c.reason <> 'pipeline_remap'
                   ORDER BY c.id DESC LIMIT 1),
                 l.created_at)
        """
    )
    op.execute(
        "ALTER TABLE leads ALTER COLUMN status_since SET DEFAULT now(),"
        " ALTER COLUMN status_since SET NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_leads_open_since ON leads (pipeline, status, status_since)"
        " INCLUDE (owner, source, segment) WHERE outcome = 'open'"
    )
    op.execute(
        "ALTER TABLE pipeline_statuses ADD COLUMN probability double precision,"
        " ADD COLUMN stale_after_days integer,"
        " ADD COLUMN forecast_category text,"
        " ADD COLUMN auto_close_after_days integer,"
        " ADD CONSTRAINT ck_pipeline_statuses_forecast_category_known CHECK (forecast_category IN"
        " ('commit', 'best_case', 'pipeline', 'omitted'))"
    )
    # The definitions are append-only; this fills the new columns of rows already there.
    op.execute("ALTER TABLE pipeline_statuses DISABLE TRIGGER pipeline_statuses_append_only")
    op.execute(
        """
        UPDATE pipeline_statuses st
           SET probability = (s->>'probability')::double precision,
               stale_after_days = (s->>'stale_after_days')::integer
          FROM pipeline_versions pv, jsonb_array_elements(pv.definition->'statuses') s
         WHERE pv.pipeline = st.pipeline AND pv.version = st.version AND s->>'key' = st.key
        """
    )
    op.execute("ALTER TABLE pipeline_statuses ENABLE TRIGGER pipeline_statuses_append_only")
    op.execute(_STORE)


def downgrade() -> None:
    op.execute(_STORE_BEFORE)
    op.execute(
        "ALTER TABLE pipeline_statuses DROP COLUMN auto_close_after_days,"
        " DROP COLUMN forecast_category, DROP COLUMN stale_after_days, DROP COLUMN probability"
    )
    op.execute("DROP INDEX ix_leads_open_since")
    op.execute("ALTER TABLE leads DROP COLUMN status_since")
