-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TRIGGER events_wake_deliveries AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_wake_deliveries();

CREATE TRIGGER events_on_status_change AFTER INSERT ON lead_status_changes FOR EACH ROW EXECUTE FUNCTION events_on_status_change();

CREATE TRIGGER events_on_lead_update AFTER UPDATE OF version ON leads FOR EACH ROW WHEN (NOT old.status IS DISTINCT FROM new.status AND old.version::integer IS DISTINCT FROM new.version::integer) EXECUTE FUNCTION events_on_lead_update();

CREATE TRIGGER events_on_new_lead AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION events_on_new_lead();

CREATE TRIGGER events_on_pipeline_version AFTER INSERT ON pipeline_versions FOR EACH ROW EXECUTE FUNCTION events_on_pipeline_version();
