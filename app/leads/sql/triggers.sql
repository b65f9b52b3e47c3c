-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TRIGGER lead_status_changes_append_only BEFORE DELETE OR UPDATE ON lead_status_changes FOR EACH ROW EXECUTE FUNCTION lead_status_changes_append_only();
