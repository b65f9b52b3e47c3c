-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TYPE metrics_fact AS (at timestamp with time zone, created_at timestamp with time zone, entered timestamp with time zone, pipeline text, from_status text, to_status text, from_outcome text, to_outcome text, closes boolean, reason text, competitor text, reopened boolean, owner text, source text, segment text, revisit_at timestamp with time zone, standing_before timestamp with time zone, old_mask integer, new_mask integer, prev_closing lead_status_changes, last_reopen lead_status_changes, amount numeric, currency text, probability double precision, close_date date);
