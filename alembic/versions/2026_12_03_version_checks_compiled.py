"""The schema's pipeline rules as checks compiled from the versions, and an edit lock that
costs writes nothing.

0012 made the database refuse a status or reason outside the lead's pipeline version with two
row triggers that look each row up in `pipeline_statuses` and `pipeline_reasons`: three index
lookups through SPI per status change, one per new lead. Measured under the comparison
harness's load, they cost a status change about 55 us of server CPU (a sixth of it), and the
guard's shared advisory lock another 15 us: every status change took the same lock, so every
one went through the shared lock table. Now:

* `pipeline_has_status(pipeline, version, status, outcome)` and `pipeline_has_move(pipeline,
  version, to_status, to_outcome, reopened, reason)` are PL/pgSQL functions generated from the
  version rows: per pipeline, per distinct set of keys, one comparison of the version against
  the versions that share the set and one of the key against an array constant. They return
  true or raise `foreign_key_violation` naming what is not in the version, as the triggers
  did. CHECK constraints on `leads` and `lead_status_changes` call them, for every writer.
* Statement triggers regenerate them whenever version rows are added (or reset by TRUNCATE,
  which only a reset allows), so they hold exactly what the tables hold. Versions are never
  changed or removed, so a function only ever learns keys and no stored row can become
  invalid; IMMUTABLE is true of every version that exists.
* The guard is a plain `EXISTS` on `pipelines` in each write statement, and an edit locks
  `leads` in SHARE ROW EXCLUSIVE mode instead of taking an advisory lock: a write takes ROW
  EXCLUSIVE on `leads` anyway (a fast-path lock, free while no edit runs), waits for an edit in
  progress, and then reads with a snapshot taken after the lock, so it sees the new version.
  `pipeline_current()` goes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BRANCHES = r"""
CREATE FUNCTION pipeline_check_branches(keyed text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  branches text;
BEGIN
  EXECUTE format($q$
    SELECT string_agg(branch, E'\n' ORDER BY pipeline) FROM (
      SELECT pipeline, format(E'  IF p = %%L THEN\n%%s\n  END IF;', pipeline, string_agg(format(
               '    IF v = ANY (%%L::integer[]) AND key = ANY (%%L::text[]) THEN'
               ' RETURN true; END IF;', versions, keys), E'\n' ORDER BY versions)) AS branch
        FROM (SELECT pipeline, keys, array_agg(version ORDER BY version) AS versions
                FROM (SELECT pipeline, version, array_agg(key ORDER BY key) AS keys
                        FROM (%s) k GROUP BY pipeline, version) per_version
               GROUP BY pipeline, keys) per_set
       GROUP BY pipeline) per_pipeline $q$, keyed) INTO branches;
  RETURN coalesce(branches, '');
END $$
"""
"""The body of a generated check: `keyed` is a query of (pipeline, version, key) rows."""

CHECKS = {
    "pipeline_statuses": (
        "pipeline_has_status(p text, v integer, status text, outcome text)",
        "status || '/' || outcome",
        "SELECT pipeline, version, key AS status, outcome FROM pipeline_statuses",
        "'status % (outcome %) is not one of pipeline % version %', status, outcome, p, v",
    ),
    "pipeline_reasons": (
        "pipeline_has_move(p text, v integer, to_status text, to_outcome text,"
        " reopened boolean, code text)",
        "CASE WHEN reopened THEN 'reopen:' ELSE '' END || to_status || '/' || to_outcome"
        " || '/' || code",
        "SELECT pipeline, version, to_status, to_outcome, reopened, code FROM pipeline_reasons",
        "'pipeline % version % has no change to % (outcome %) with reason %',"
        " p, v, to_status, to_outcome, code",
    ),
}
"""Per table of version rows: the check it compiles, the key of what is checked (over the
check's parameters, which the table's rows name the same), the rows, and the refusal."""


def _compiler(table: str) -> str:
    signature, key, rows, refusal = CHECKS[table]
    keyed = f"SELECT pipeline, version, {key} AS key FROM ({rows}) r"
    refusal = refusal.replace("%", "%%")  # the message's placeholders, kept from format()
    return f"""
    CREATE FUNCTION {table}_compile() RETURNS void LANGUAGE plpgsql AS $compile$
    BEGIN
      EXECUTE format($f$
        CREATE OR REPLACE FUNCTION {signature} RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
        DECLARE
          key text := {key};
        BEGIN
        %s
          RAISE EXCEPTION {refusal} USING ERRCODE = 'foreign_key_violation';
        END $body$ $f$, pipeline_check_branches($q${keyed}$q$));
    END $compile$
    """


FOLLOW = """
CREATE FUNCTION pipeline_checks_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT %I()', TG_TABLE_NAME || '_compile');
  RETURN NULL;
END $$
"""
"""Recompile the check of the table whose version rows a statement added (or reset)."""


CONSTRAINTS = {
    "leads": (
        "ck_leads_status_in_version",
        "pipeline_has_status(pipeline, pipeline_version, status, outcome)",
    ),
    "lead_status_changes": (
        "ck_lead_status_changes_in_version",
        "pipeline_has_move(pipeline, pipeline_version, to_status, to_outcome, reopened, reason)"
        " AND pipeline_has_status(pipeline, from_version, from_status, from_outcome)",
    ),
}


def upgrade() -> None:
    op.execute(BRANCHES)
    op.execute(FOLLOW)
    for table in CHECKS:
        op.execute(_compiler(table))
        op.execute(f"SELECT {table}_compile()")
        op.execute(
            f"CREATE TRIGGER {table}_compiled AFTER INSERT OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION pipeline_checks_follow()"
        )
    op.execute("DROP TRIGGER leads_status_in_version ON leads")
    op.execute("DROP TRIGGER lead_status_changes_in_version ON lead_status_changes")
    op.execute("DROP FUNCTION leads_status_in_version()")
    op.execute("DROP FUNCTION lead_status_changes_in_version()")
    for table, (name, check) in CONSTRAINTS.items():
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")
    op.execute("DROP FUNCTION pipeline_current(text, integer)")


FUNCTIONS_0012 = (
    """
    CREATE FUNCTION pipeline_current(p text, v integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(hashtextextended('leadstatus.pipeline:' || p, 0));
      RETURN EXISTS (SELECT 1 FROM pipelines WHERE name = p AND current_version = v);
    END $$
    """,
    """
    CREATE FUNCTION leads_status_in_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM FROM pipeline_statuses s
       WHERE s.pipeline = NEW.pipeline AND s.version = NEW.pipeline_version
         AND s.key = NEW.status AND s.outcome = NEW.outcome;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'status % (outcome %) is not one of pipeline % version %',
          NEW.status, NEW.outcome, NEW.pipeline, NEW.pipeline_version
          USING ERRCODE = 'foreign_key_violation', TABLE = 'leads';
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION lead_status_changes_in_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM FROM pipeline_reasons r
       WHERE r.pipeline = NEW.pipeline AND r.version = NEW.pipeline_version
         AND r.to_status = NEW.to_status AND r.to_outcome = NEW.to_outcome
         AND r.reopened = NEW.reopened AND r.code = NEW.reason;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline % version % has no change to % (outcome %) with reason %',
          NEW.pipeline, NEW.pipeline_version, NEW.to_status, NEW.to_outcome, NEW.reason
          USING ERRCODE = 'foreign_key_violation', TABLE = 'lead_status_changes';
      END IF;
      PERFORM FROM pipeline_statuses s
       WHERE s.pipeline = NEW.pipeline AND s.version = NEW.from_version
         AND s.key = NEW.from_status AND s.outcome = NEW.from_outcome;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'status % (outcome %) is not one of pipeline % version %',
          NEW.from_status, NEW.from_outcome, NEW.pipeline, NEW.from_version
          USING ERRCODE = 'foreign_key_violation', TABLE = 'lead_status_changes';
      END IF;
      RETURN NEW;
    END $$
    """,
)
"""0012's guard and lookup-trigger functions, snapshotted (this revision reads alone): what a
downgrade puts back."""


def downgrade() -> None:
    for statement in FUNCTIONS_0012:
        op.execute(statement)
    for table, (name, _) in CONSTRAINTS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(
        "CREATE TRIGGER leads_status_in_version BEFORE INSERT OR UPDATE OF"
        " pipeline, pipeline_version, status, outcome ON leads"
        " FOR EACH ROW EXECUTE FUNCTION leads_status_in_version()"
    )
    op.execute(
        "CREATE TRIGGER lead_status_changes_in_version BEFORE INSERT ON lead_status_changes"
        " FOR EACH ROW EXECUTE FUNCTION lead_status_changes_in_version()"
    )
    for table, (signature, *_) in CHECKS.items():
        op.execute(f"DROP TRIGGER {table}_compiled ON {table}")
        op.execute(f"DROP FUNCTION {table}_compile()")
        op.execute(f"DROP FUNCTION {signature.split('(')[0]}")
    op.execute("DROP FUNCTION pipeline_checks_follow()")
    op.execute("DROP FUNCTION pipeline_check_branches(text)")
