-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE OR REPLACE FUNCTION public.pipeline_version_store(p text, v integer, definition jsonb)
 RETURNS void
 LANGUAGE sql
AS $function$
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
$function$
;
