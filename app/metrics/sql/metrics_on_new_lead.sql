-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.metrics_on_new_lead()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
        BEGIN
          IF current_setting('leadstatus.rollups', true) = 'off' THEN
            RETURN NULL;
          END IF;
          INSERT INTO metrics_pending_leads
                 (created_at, pipeline, owner, source, segment, status, outcome, revisit_at,
                  estimated_value, currency, probability, expected_close_date)
          VALUES (NEW.created_at, NEW.pipeline, NEW.owner, NEW.source, NEW.segment, NEW.status,
                  NEW.outcome, NEW.revisit_at, NEW.estimated_value, NEW.currency,
                  NEW.probability, NEW.expected_close_date);
          RETURN NULL;
        END $function$
;
