-- The live definition, as the migrations leave it at head. A change is a new migration;
-- then `python -m tests.live_sql` against a migrated database rewrites this file.

CREATE TRIGGER pipeline_reasons_append_only BEFORE DELETE OR UPDATE ON pipeline_reasons FOR EACH ROW EXECUTE FUNCTION pipeline_definitions_append_only();

CREATE TRIGGER pipeline_reasons_compiled AFTER INSERT OR TRUNCATE ON pipeline_reasons FOR EACH STATEMENT EXECUTE FUNCTION pipeline_checks_follow();

CREATE TRIGGER pipeline_reasons_not_truncated BEFORE TRUNCATE ON pipeline_reasons FOR EACH STATEMENT EXECUTE FUNCTION pipeline_definitions_append_only();

CREATE TRIGGER pipeline_statuses_append_only BEFORE DELETE OR UPDATE ON pipeline_statuses FOR EACH ROW EXECUTE FUNCTION pipeline_definitions_append_only();

CREATE TRIGGER pipeline_statuses_compiled AFTER INSERT OR TRUNCATE ON pipeline_statuses FOR EACH STATEMENT EXECUTE FUNCTION pipeline_checks_follow();

CREATE TRIGGER pipeline_statuses_not_truncated BEFORE TRUNCATE ON pipeline_statuses FOR EACH STATEMENT EXECUTE FUNCTION pipeline_definitions_append_only();

CREATE TRIGGER pipeline_versions_append_only BEFORE DELETE OR UPDATE ON pipeline_versions FOR EACH ROW EXECUTE FUNCTION pipeline_definitions_append_only();

CREATE TRIGGER pipeline_versions_not_truncated BEFORE TRUNCATE ON pipeline_versions FOR EACH STATEMENT EXECUTE FUNCTION pipeline_definitions_append_only();
