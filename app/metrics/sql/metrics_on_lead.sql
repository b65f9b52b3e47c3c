-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_on_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
  stages integer;
  cohorts metrics_cohorts[] := '{}';
  pipeline metrics_pipeline[] := '{}';
  money metrics_open_money[] := '{}';
BEGIN
  IF current_setting('leadstatus.rollups', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status) THEN
    pipeline := pipeline || metrics_standing_key(
      OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
      OLD.revisit_at, -1);
    money := money || ARRAY(SELECT metrics_money_key(
      OLD.pipeline, OLD.status, OLD.outcome, OLD.owner, OLD.source, OLD.segment,
      OLD.currency, OLD.estimated_value, OLD.probability, OLD.expected_close_date, -1));
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    pipeline := pipeline || metrics_standing_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.revisit_at, 1);
    money := money || ARRAY(SELECT metrics_money_key(
      NEW.pipeline, NEW.status, NEW.outcome, NEW.owner, NEW.source, NEW.segment,
      NEW.currency, NEW.estimated_value, NEW.probability, NEW.expected_close_date, 1));
  END IF;
  IF TG_OP = 'DELETE' OR (OLD.owner, OLD.source, OLD.segment, OLD.created_at)
      IS DISTINCT FROM (NEW.owner, NEW.source, NEW.segment, NEW.created_at) THEN
    stages := metrics_stage_mask(OLD.id);
    cohorts := cohorts || ROW('full', metrics_day(OLD.created_at), OLD.pipeline, OLD.owner,
                              OLD.source, OLD.segment, stages, -1)::metrics_cohorts;
    IF TG_OP = 'UPDATE' THEN
      cohorts := cohorts || ROW('full', metrics_day(NEW.created_at), NEW.pipeline, NEW.owner,
                                NEW.source, NEW.segment, stages, 1)::metrics_cohorts;
    END IF;
  END IF;
  INSERT INTO metrics_pending (cohorts, pipeline, open_money) VALUES (cohorts, pipeline, money);
  RETURN NULL;
END $function$
;
