-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE VIEW metrics_stages AS
 SELECT pipeline_statuses.pipeline,
    pipeline_statuses.version,
    pipeline_statuses.key AS status,
    pipeline_statuses.stage,
        CASE
            WHEN pipeline_statuses.stage <= 12 THEN 1 << (pipeline_statuses.stage - 1)
            ELSE 0
        END AS "bit"
   FROM pipeline_statuses
  WHERE pipeline_statuses.stage IS NOT NULL;
