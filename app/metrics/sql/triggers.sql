-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TRIGGER metrics_on_status_change AFTER INSERT ON lead_status_changes FOR EACH ROW EXECUTE FUNCTION metrics_on_status_change();

CREATE TRIGGER metrics_on_lead_delete AFTER DELETE ON leads FOR EACH ROW EXECUTE FUNCTION metrics_on_lead();

CREATE TRIGGER metrics_on_lead_update AFTER UPDATE OF owner, source, segment, created_at, revisit_at, estimated_value, currency, probability, expected_close_date ON leads FOR EACH ROW WHEN (old.owner IS DISTINCT FROM new.owner OR old.source IS DISTINCT FROM new.source OR old.segment IS DISTINCT FROM new.segment OR old.created_at IS DISTINCT FROM new.created_at OR NOT old.status IS DISTINCT FROM new.status AND (old.revisit_at IS DISTINCT FROM new.revisit_at OR old.estimated_value::numeric IS DISTINCT FROM new.estimated_value::numeric OR old.currency IS DISTINCT FROM new.currency OR old.probability IS DISTINCT FROM new.probability OR old.expected_close_date IS DISTINCT FROM new.expected_close_date)) EXECUTE FUNCTION metrics_on_lead();

CREATE TRIGGER metrics_on_new_lead AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION metrics_on_new_lead();
