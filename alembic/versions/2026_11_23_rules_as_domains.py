"""Single-column rules become domain types: checked without re-reading them on every write.

PostgreSQL re-reads each table check constraint from its stored node text, simplifies it and
compiles it for every INSERT and UPDATE statement; a domain's checks are read once per
connection and kept compiled in its type cache. Every single-column rule moves to a domain:
a lead's status, the open status it closed from, its version, reopen count and estimated value;
a history row's statuses and reason. Measured with one statement per transaction (pgbench,
`INSERT ... RETURNING *` of a new lead): about 30 us of the server's ~190 us per insert. The
rule across columns (a history reason is one of its target's codes) stays a table check.

Deploying it: the columns change type without a rewrite (a domain over the same base type),
but under an ACCESS EXCLUSIVE lock held to commit, and that holds while the two partial indexes
that name `status` are rebuilt and the domains' checks are validated by a scan of both tables:
seconds per million rows.

The status lists stay frozen (those of 0001): a new status comes with a migration of its own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

from sqlalchemy import text

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("new", "contacted", "qualified", "negotiating")
ALL = (*OPEN, "won", "lost", "no_decision", "recycled", "disqualified", "dead")


def _quoted(statuses: Sequence[str]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


# (domain, base type, constraint, check)
DOMAINS = (
    ("lead_status", "text", "lead_status_known", f"VALUE IN ({_quoted(ALL)})"),
    ("lead_open_status", "text", "lead_status_open", f"VALUE IN ({_quoted(OPEN)})"),
    ("lead_version", "integer", "lead_version_positive", "VALUE >= 1"),
    ("lead_reopen_count", "integer", "lead_reopen_count_not_negative", "VALUE >= 0"),
    ("lead_value", "numeric(14,2)", "lead_value_not_negative", "VALUE >= 0"),
    ("reason_code", "text", "reason_code_not_empty", "length(VALUE) > 0"),
)

# (table, column, domain, base type)
COLUMNS = (
    ("leads", "status", "lead_status", "text"),
    ("leads", "closed_from", "lead_open_status", "text"),
    ("leads", "version", "lead_version", "integer"),
    ("leads", "reopen_count", "lead_reopen_count", "integer"),
    ("leads", "estimated_value", "lead_value", "numeric(14,2)"),
    ("lead_status_changes", "from_status", "lead_status", "text"),
    ("lead_status_changes", "to_status", "lead_status", "text"),
    ("lead_status_changes", "reason", "reason_code", "text"),
)

# (table, constraint, check): the table checks the domains replace, as 0009 left them.
CHECKS = (
    ("leads", "ck_leads_status_known", "lead_status_known(status)"),
    ("leads", "ck_leads_closed_from_open", "closed_from IS NULL OR lead_status_open(closed_from)"),
    ("leads", "ck_leads_value_not_negative", "estimated_value IS NULL OR estimated_value >= 0"),
    ("leads", "ck_leads_counters_valid", "version >= 1 AND reopen_count >= 0"),
    (
        "lead_status_changes",
        "ck_lead_status_changes_from_status_known",
        "lead_status_known(from_status)",
    ),
    (
        "lead_status_changes",
        "ck_lead_status_changes_to_status_known",
        "lead_status_known(to_status)",
    ),
    ("lead_status_changes", "ck_lead_status_changes_reason_not_empty", "length(reason) > 0"),
)

# What PostgreSQL will not let a column change type under: a trigger's WHEN clause and a view.
DEPENDENTS = (
    "SELECT 'DROP TRIGGER ' || quote_ident(tgname) || ' ON ' || tgrelid::regclass,"
    "       pg_get_triggerdef(oid)"
    "  FROM pg_trigger"
    " WHERE tgrelid IN ('leads'::regclass, 'lead_status_changes'::regclass)"
    "   AND tgqual IS NOT NULL",
    "SELECT DISTINCT 'DROP VIEW ' || v.oid::regclass,"
    "       'CREATE VIEW ' || v.oid::regclass || ' AS ' || pg_get_viewdef(v.oid)"
    "  FROM pg_depend d"
    "  JOIN pg_rewrite r ON r.oid = d.objid"
    "  JOIN pg_class v ON v.oid = r.ev_class"
    " WHERE d.classid = 'pg_rewrite'::regclass"
    "   AND d.refobjid IN ('leads'::regclass, 'lead_status_changes'::regclass)"
    "   AND v.oid NOT IN ('leads'::regclass, 'lead_status_changes'::regclass)",
)


def _retype(types: dict[str, str]) -> None:
    """Give each of COLUMNS the type `types` names for its domain, taking down and putting back
    the triggers and views that name them (their definitions as the catalog holds them)."""
    conn = op.get_bind()
    recreate = []
    for query in DEPENDENTS:
        for drop, create in conn.execute(text(query)).all():
            op.execute(drop)
            recreate.append(create)
    for table in ("leads", "lead_status_changes"):
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE {types[domain]}"
            for owner, column, domain, _ in COLUMNS
            if owner == table
        )
        op.execute(f"ALTER TABLE {table} {changes}")
    for create in recreate:
        op.execute(create)


def upgrade() -> None:
    # The domains start without their checks, so that changing a column to one is a relabel,
    # not a rewrite; the checks come after, validated against the rows already there.
    for domain, base, _, _ in DOMAINS:
        op.execute(f"CREATE DOMAIN {domain} AS {base}")
    _retype({domain: domain for domain, *_ in DOMAINS})
    for domain, _, name, check in DOMAINS:
        op.execute(f"ALTER DOMAIN {domain} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
        op.execute(f"ALTER DOMAIN {domain} VALIDATE CONSTRAINT {name}")
    for table, name, _ in CHECKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("DROP FUNCTION lead_status_open(text)")
    op.execute("DROP FUNCTION lead_status_known(text)")


def downgrade() -> None:
    for name, statuses in (("lead_status_known", ALL), ("lead_status_open", OPEN)):
        op.execute(
            f"CREATE FUNCTION {name}(status text) RETURNS boolean"
            " LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $known$"
            f" BEGIN RETURN status IN ({_quoted(statuses)}); END $known$"
        )
    _retype({domain: base for domain, base, *_ in DOMAINS})
    for table, name, check in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
    for domain, *_ in DOMAINS:
        op.execute(f"DROP DOMAIN {domain}")
