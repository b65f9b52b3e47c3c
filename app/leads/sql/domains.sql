-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE DOMAIN lead_reopen_count AS integer CONSTRAINT lead_reopen_count_not_negative CHECK ((VALUE >= 0));

CREATE DOMAIN lead_value AS numeric(14,2) CONSTRAINT lead_value_not_negative CHECK ((VALUE >= (0)::numeric));

CREATE DOMAIN lead_version AS integer CONSTRAINT lead_version_positive CHECK ((VALUE >= 1));

CREATE DOMAIN reason_code AS text CONSTRAINT reason_code_not_empty CHECK ((length(VALUE) > 0));
