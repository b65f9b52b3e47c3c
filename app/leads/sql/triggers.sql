-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TRIGGER lead_status_changes_append_only BEFORE DELETE OR UPDATE ON lead_status_changes FOR EACH ROW EXECUTE FUNCTION lead_status_changes_append_only();

CREATE TRIGGER leads_created_at_frozen BEFORE UPDATE OF created_at ON leads FOR EACH ROW WHEN (old.created_at IS DISTINCT FROM new.created_at) EXECUTE FUNCTION lead_created_at_frozen();
