"""A lead's creation time is frozen once it has status changes: a rule of its own.

The rule lived inside the metrics trigger `metrics_on_lead()` (its durations are measured from
the creation time, so changing it afterwards would make the history lie), where a reader of the
leads table would not look for it, and where switching the rollups off for a bulk load
(`leadstatus.rollups = off`) switched it off too. It is now `lead_created_at_frozen()`, called
by the trigger `leads_created_at_frozen` before an UPDATE that sets `created_at`: the same
refusal (`check_violation`, the same message), for every writer, whatever the rollups do. The
metrics trigger keeps only the metrics. Status changes and edits that do not set `created_at`
never consider the trigger.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN = """
CREATE FUNCTION lead_created_at_frozen() RETURNS trigger LANGUAGE plpgsql AS $frozen$
BEGIN
  IF EXISTS (SELECT 1 FROM lead_status_changes WHERE lead_id = OLD.id) THEN
    -- Durations were measured from the old creation time: the history would lie.
    RAISE EXCEPTION 'the creation time of lead % cannot change once it has status changes',
      OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$frozen$
"""

METRICS_ON_LEAD = """
CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        DECLARE
          mask integer;
          daily metrics_daily[] := '{}';
          pipeline metrics_pipeline[] := '{}';
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status)
          THEN
            pipeline := pipeline || metrics_standing_key(
              OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
              OLD.revisit_at, -1);
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
            pipeline := pipeline || metrics_standing_key(
              NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
              NEW.revisit_at, 1);
          END IF;
          IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
              IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
            mask := metrics_stage_mask(OLD.id);
            daily := daily || metrics_cohort_delta(
              metrics_day(OLD.created_at), OLD.pipeline, OLD.owner, OLD.source, OLD.segment,
              mask, -1);
            IF TG_OP = 'UPDATE' THEN
              daily := daily || metrics_cohort_delta(
                metrics_day(NEW.created_at), NEW.pipeline, NEW.owner, NEW.source, NEW.segment,
                mask, 1);
            END IF;
          END IF;
          INSERT INTO metrics_pending (daily, durations, losses, pipeline)
            VALUES (daily, '{}', '{}', pipeline);
          RETURN NULL;
        END $function$
"""
"""The metrics trigger's function without the rule."""

METRICS_ON_LEAD_0013 = """
CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        DECLARE
          mask integer;
          daily metrics_daily[] := '{}';
          pipeline metrics_pipeline[] := '{}';
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.created_at IS DISTINCT FROM NEW.created_at
              AND EXISTS (SELECT 1 FROM lead_status_changes WHERE lead_id = OLD.id) THEN
            -- Durations were measured from the old creation time: the history would lie.
            RAISE EXCEPTION 'the creation time of lead % cannot change once it has status changes',
              OLD.id USING ERRCODE = 'check_violation';
          END IF;
          IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status)
          THEN
            pipeline := pipeline || metrics_standing_key(
              OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
              OLD.revisit_at, -1);
          END IF;
          IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
            pipeline := pipeline || metrics_standing_key(
              NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
              NEW.revisit_at, 1);
          END IF;
          IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
              IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
            mask := metrics_stage_mask(OLD.id);
            daily := daily || metrics_cohort_delta(
              metrics_day(OLD.created_at), OLD.pipeline, OLD.owner, OLD.source, OLD.segment,
              mask, -1);
            IF TG_OP = 'UPDATE' THEN
              daily := daily || metrics_cohort_delta(
                metrics_day(NEW.created_at), NEW.pipeline, NEW.owner, NEW.source, NEW.segment,
                mask, 1);
            END IF;
          END IF;
          INSERT INTO metrics_pending (daily, durations, losses, pipeline)
            VALUES (daily, '{}', '{}', pipeline);
          RETURN NULL;
        END $function$
"""
"""As 0013 left it, the rule inside: what a downgrade puts back."""


def upgrade() -> None:
    op.execute(FROZEN)
    op.execute(
        "CREATE TRIGGER leads_created_at_frozen BEFORE UPDATE OF created_at ON leads"
        " FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)"
        " EXECUTE FUNCTION lead_created_at_frozen()"
    )
    op.execute(METRICS_ON_LEAD)


def downgrade() -> None:
    op.execute(METRICS_ON_LEAD_0013)
    op.execute("DROP TRIGGER leads_created_at_frozen ON leads")
    op.execute("DROP FUNCTION lead_created_at_frozen()")
