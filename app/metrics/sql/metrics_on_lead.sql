-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

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
;
