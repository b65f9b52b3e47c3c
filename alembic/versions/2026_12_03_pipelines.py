"""Pipelines: the workflow becomes the customer's data, versioned, and the schema refuses by it.

Until now the workflow was frozen into the schema: status domains listing ten names, a reason
check holding every (target, code) pair. Now:

* `pipelines` names each pipeline and its current version; `pipeline_versions` keeps every
  version's definition document, who made it, when and what it changed (never rewritten);
  `pipeline_statuses` and `pipeline_reasons` are each version's statuses (with their outcome)
  and its (target, reason) pairs, derived from the document by `pipeline_version_store()`.
* A lead carries `pipeline`, `pipeline_version` (the version its latest change was decided
  under) and `outcome`; `(pipeline, version, status, outcome)` must be a status of that version.
  A history row records the version it was decided under, the version the lead stood on before,
  and both outcomes as they were; its target and reason must be a pair of that version and its
  origin a status of the version it left.
* Those rules are triggers (`leads_status_in_version`, `lead_status_changes_in_version`) that
  look the row up in the version's rows and raise `foreign_key_violation` when it is not there,
  rather than foreign keys: a foreign key check locks the row it finds (FOR KEY SHARE), every
  concurrent status change finds the same few rows, and each lock of a row another transaction
  holds creates a MultiXact (one per status change under load, about 550 more WAL bytes per
  change) and costs about a third of the transition throughput (measured with the comparison
  harness). Version rows are never updated or deleted (triggers refuse it, and TRUNCATE too,
  unless `leadstatus.pipeline_reset` is on), so a lookup without a lock is as sound.
* `pipeline_current(name, version)` is the guard every status-changing write includes: it waits
  for a pipeline edit in progress (a shared advisory lock, which the edit takes exclusively) and
  then reads the current version afresh, so a decision taken under a version that has since
  changed is never applied.
* An intake source names the pipeline its new leads enter (`default` for existing ones).
* The one-open-lead-per-email index and the nurture-queue index are keyed on the outcome, not on
  a list of names.

Every existing lead and history row is put on version 1 of `default`, which is exactly the
workflow the service had: nothing changes for a deployment that never defines a pipeline. The
definition is frozen below as this revision stored it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:00:00
"""

import json
from collections.abc import Sequence

from sqlalchemy import text

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("new", "contacted", "qualified", "negotiating")
CLOSING = ("won", "lost", "no_decision", "recycled", "disqualified", "dead")
OUTCOMES = ("open", *CLOSING)


def _codes(*pairs: tuple[str, str], requires: dict[str, list[str]] | None = None) -> list[dict]:
    need = requires or {}
    return [
        {"code": c, "label": label} | ({"requires": need[c]} if c in need else {})
        for c, label in pairs
    ]


DEFINITION = {
    "label": "Default sales workflow",
    "initial": "new",
    "statuses": [
        {
            "key": "new",
            "label": "New",
            "outcome": "open",
            "description": "Just arrived; nobody has worked it.",
        },
        {
            "key": "contacted",
            "label": "Contacted",
            "outcome": "open",
            "description": "A rep has reached the prospect.",
        },
        {
            "key": "qualified",
            "label": "Qualified",
            "outcome": "open",
            "description": "Fit and need confirmed (budget, authority, need, timeline).",
        },
        {
            "key": "negotiating",
            "label": "Negotiating",
            "outcome": "open",
            "description": "Proposal or pricing under discussion.",
        },
        {
            "key": "won",
            "label": "Won",
            "outcome": "won",
            "description": "Deal signed; the lead is now a customer.",
        },
        {
            "key": "lost",
            "label": "Lost",
            "outcome": "lost",
            "description": "A qualified prospect formally declined.",
        },
        {
            "key": "no_decision",
            "label": "No decision",
            "outcome": "no_decision",
            "description": "The prospect went silent or postponed indefinitely.",
        },
        {
            "key": "recycled",
            "label": "Recycled",
            "outcome": "recycled",
            "description": "Not ready yet; revisit at a set date.",
        },
        {
            "key": "disqualified",
            "label": "Disqualified",
            "outcome": "disqualified",
            "description": "Not a fit at all, now or later.",
        },
        {
            "key": "dead",
            "label": "Dead",
            "outcome": "dead",
            "description": "Unreachable: out of business, bounced email, wrong number.",
        },
    ],
    "transitions": {
        "new": ["contacted", "qualified", "recycled", "disqualified", "dead"],
        "contacted": ["qualified", "no_decision", "recycled", "disqualified", "dead"],
        "qualified": ["negotiating", "won", "lost", "no_decision", "recycled", "disqualified"],
        "negotiating": ["qualified", "won", "lost", "no_decision", "recycled"],
    },
    "reopen_targets": ["contacted", "qualified", "negotiating"],
    "reasons": {
        "contacted": {
            "codes": _codes(
                ("outreach_reply", "Replied to outreach"),
                ("call_connected", "Call connected"),
                ("meeting_booked", "Meeting booked"),
                ("inbound_request", "Inbound request"),
            )
        },
        "qualified": {
            "codes": _codes(
                ("budget_confirmed", "Budget confirmed"),
                ("need_confirmed", "Need confirmed"),
                ("authority_confirmed", "Authority confirmed"),
                ("timeline_confirmed", "Timeline confirmed"),
                ("scope_changed", "Scope changed"),
            )
        },
        "negotiating": {
            "codes": _codes(
                ("proposal_sent", "Proposal sent"),
                ("pricing_discussed", "Pricing discussed"),
                ("contract_review", "Contract under review"),
            )
        },
        "won": {
            "codes": _codes(
                ("contract_signed", "Contract signed"),
                ("purchase_order", "Purchase order received"),
                ("online_checkout", "Online checkout"),
            ),
            "optional": ["future_opportunity"],
        },
        "lost": {
            "codes": _codes(
                ("price", "Price"),
                ("competitor", "Chose a competitor"),
                ("feature_gap", "Feature gap"),
                ("budget", "No budget"),
                ("timing", "Bad timing"),
                ("other", "Other (explain in the note)"),
                requires={"competitor": ["competitor"], "other": ["note"]},
            ),
            "optional": ["competitor", "revisit_at"],
        },
        "no_decision": {
            "codes": _codes(
                ("unresponsive", "Went silent"),
                ("postponed", "Postponed indefinitely"),
                ("status_quo", "Kept the status quo"),
            ),
            "optional": ["revisit_at"],
        },
        "recycled": {
            "codes": _codes(
                ("not_ready", "Not ready yet"),
                ("timing", "Bad timing"),
                ("budget_next_cycle", "Budget in the next cycle"),
                ("nurture", "Nurture"),
                requires={
                    c: ["revisit_at"]
                    for c in ("not_ready", "timing", "budget_next_cycle", "nurture")
                },
            )
        },
        "disqualified": {
            "codes": _codes(
                ("not_a_fit", "Not a fit"),
                ("no_need", "No need"),
                ("too_small", "Too small"),
                ("wrong_region", "Wrong region"),
                ("personal_or_student", "Personal or student"),
                ("duplicate", "Duplicate"),
            )
        },
        "dead": {
            "codes": _codes(
                ("out_of_business", "Out of business"),
                ("email_bounced", "Email bounced"),
                ("invalid_phone", "Invalid phone"),
                ("returned_mail", "Returned mail"),
                ("unreachable", "Unreachable"),
            )
        },
        "reopen": {
            "codes": _codes(
                ("budget_approved", "Budget approved"),
                ("needs_changed", "Needs changed"),
                ("competitor_failed", "Competitor failed"),
                ("timing_right", "Timing is right now"),
                ("new_stakeholder", "New stakeholder"),
                ("other", "Other (explain in the note)"),
                requires={"other": ["note"]},
            )
        },
    },
}


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


TABLES = f"""
CREATE TABLE pipelines (
  name text PRIMARY KEY CONSTRAINT ck_pipelines_name_key
    CHECK (name ~ '^[a-z][a-z0-9_]{{0,62}}$'),
  current_version integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE pipeline_versions (
  pipeline text NOT NULL CONSTRAINT fk_pipeline_versions_pipeline_pipelines
    REFERENCES pipelines (name),
  version integer NOT NULL CONSTRAINT ck_pipeline_versions_version_positive CHECK (version >= 1),
  definition jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text,
  changes text[] NOT NULL DEFAULT '{{}}',
  remap jsonb NOT NULL DEFAULT '{{}}',
  CONSTRAINT pk_pipeline_versions PRIMARY KEY (pipeline, version)
);
ALTER TABLE pipelines ADD CONSTRAINT fk_pipelines_name_pipeline_versions
  FOREIGN KEY (name, current_version) REFERENCES pipeline_versions (pipeline, version)
  DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE pipeline_statuses (
  pipeline text NOT NULL,
  version integer NOT NULL,
  key text NOT NULL,
  outcome text NOT NULL CONSTRAINT ck_pipeline_statuses_outcome_known
    CHECK (outcome IN ({_quoted(OUTCOMES)})),
  position smallint NOT NULL,
  archived boolean NOT NULL DEFAULT false,
  stage smallint,
  CONSTRAINT pk_pipeline_statuses PRIMARY KEY (pipeline, version, key),
  CONSTRAINT uq_pipeline_statuses_pipeline_version_key_outcome
    UNIQUE (pipeline, version, key, outcome),
  CONSTRAINT fk_pipeline_statuses_pipeline_pipeline_versions
    FOREIGN KEY (pipeline, version) REFERENCES pipeline_versions (pipeline, version)
);
CREATE TABLE pipeline_reasons (
  pipeline text NOT NULL,
  version integer NOT NULL,
  to_status text NOT NULL,
  to_outcome text NOT NULL,
  reopened boolean NOT NULL,
  code text NOT NULL,
  CONSTRAINT pk_pipeline_reasons
    PRIMARY KEY (pipeline, version, to_status, to_outcome, reopened, code),
  CONSTRAINT fk_pipeline_reasons_pipeline_pipeline_statuses
    FOREIGN KEY (pipeline, version, to_status, to_outcome)
    REFERENCES pipeline_statuses (pipeline, version, key, outcome)
);
"""

FUNCTIONS = [
    # A version's rows derived from its definition, in one place for the migration and the
    # service: statuses with their position (and, for open ones, their funnel stage: the rank
    # among the version's open statuses), every (target, code) pair an ordinary move
    # or a reopening may record (none into an archived status), and the reserved remap reason
    # into each status that takes moves.
    """
    CREATE FUNCTION pipeline_version_store(p text, v integer, definition jsonb) RETURNS void
    LANGUAGE sql AS $$
      INSERT INTO pipeline_statuses (pipeline, version, key, outcome, position, archived, stage)
      SELECT p, v, s->>'key', s->>'outcome', n, coalesce((s->>'archived')::boolean, false),
             CASE WHEN s->>'outcome' = 'open'
                  THEN row_number() OVER (PARTITION BY s->>'outcome' = 'open' ORDER BY n) END
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
       WHERE st.pipeline = p AND st.version = v AND NOT st.archived;
    $$
    """,
    # The guard of every status-changing write (see the module docstring). VOLATILE, so that in
    # READ COMMITTED its query takes a snapshot after the lock, not the statement's.
    """
    CREATE FUNCTION pipeline_current(p text, v integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(hashtextextended('leadstatus.pipeline:' || p, 0));
      RETURN EXISTS (SELECT 1 FROM pipelines WHERE name = p AND current_version = v);
    END $$
    """,
    """
    CREATE FUNCTION pipeline_definitions_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' AND current_setting('leadstatus.pipeline_reset', true) = 'on' THEN
        RETURN NULL;
      END IF;
      RAISE EXCEPTION 'pipeline versions are immutable: % of % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
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
]

APPEND_ONLY = ("pipeline_versions", "pipeline_statuses", "pipeline_reasons")

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
STATUS_COLUMNS = (
    ("leads", "status", "lead_status"),
    ("leads", "closed_from", "lead_open_status"),
    ("lead_status_changes", "from_status", "lead_status"),
    ("lead_status_changes", "to_status", "lead_status"),
)


def _retype(to_domain: bool) -> None:
    """The status columns as plain text (or back to 0010's domains), taking down and putting
    back the triggers and views that name them."""
    conn = op.get_bind()
    recreate = []
    for query in DEPENDENTS:
        for drop, create in conn.execute(text(query)).all():
            op.execute(drop)
            recreate.append(create)
    for table in ("leads", "lead_status_changes"):
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE {domain if to_domain else 'text'}"
            for owner, column, domain in STATUS_COLUMNS
            if owner == table
        )
        op.execute(f"ALTER TABLE {table} {changes}")
    for create in recreate:
        op.execute(create)


def _outcome_of(column: str) -> str:
    return f"CASE WHEN {column} IN ({_quoted(OPEN)}) THEN 'open' ELSE {column} END"


def upgrade() -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    for statement in FUNCTIONS:
        op.execute(statement)
    definition = json.dumps(DEFINITION)
    op.execute("INSERT INTO pipelines (name, current_version) VALUES ('default', 1)")
    op.execute(
        text(
            "INSERT INTO pipeline_versions (pipeline, version, definition, created_by, changes)"
            " VALUES ('default', 1, CAST(:d AS jsonb), 'migration 0012',"
            " ARRAY['created with 10 statuses'])"
        ).bindparams(d=definition)
    )
    op.execute(
        text("SELECT pipeline_version_store('default', 1, CAST(:d AS jsonb))").bindparams(
            d=definition
        )
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION pipeline_definitions_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_not_truncated BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION pipeline_definitions_append_only()"
        )

    _retype(to_domain=False)
    op.execute("DROP DOMAIN lead_status, lead_open_status")
    op.execute(
        "ALTER TABLE leads ADD COLUMN pipeline text NOT NULL DEFAULT 'default',"
        " ADD COLUMN pipeline_version integer NOT NULL DEFAULT 1,"
        " ADD COLUMN outcome text NOT NULL DEFAULT 'open'"
    )
    op.execute(f"UPDATE leads SET outcome = status WHERE status NOT IN ({_quoted(OPEN)})")
    op.execute(
        "ALTER TABLE lead_status_changes ADD COLUMN pipeline text NOT NULL DEFAULT 'default',"
        " ADD COLUMN pipeline_version integer NOT NULL DEFAULT 1,"
        " ADD COLUMN from_version integer NOT NULL DEFAULT 1,"
        " ADD COLUMN from_outcome text NOT NULL DEFAULT 'open',"
        " ADD COLUMN to_outcome text NOT NULL DEFAULT 'open'"
    )
    # The history is append-only; this one backfill of what its rows meant is the exception.
    op.execute("ALTER TABLE lead_status_changes DISABLE TRIGGER lead_status_changes_append_only")
    op.execute(
        f"UPDATE lead_status_changes SET from_outcome = {_outcome_of('from_status')},"
        f" to_outcome = {_outcome_of('to_status')}"
        f" WHERE from_status NOT IN ({_quoted(OPEN)}) OR to_status NOT IN ({_quoted(OPEN)})"
    )
    op.execute("ALTER TABLE lead_status_changes ENABLE TRIGGER lead_status_changes_append_only")
    op.execute(
        "ALTER TABLE lead_status_changes DROP CONSTRAINT ck_lead_status_changes_reason_of_target"
    )
    op.execute("DROP FUNCTION lead_status_change_reason_valid(boolean, text, text)")

    # Rows already there were valid under the old checks, and version 1 is exactly that
    # workflow: the triggers judge what is written from now on.
    op.execute(
        "CREATE TRIGGER leads_status_in_version BEFORE INSERT OR UPDATE OF"
        " pipeline, pipeline_version, status, outcome ON leads"
        " FOR EACH ROW EXECUTE FUNCTION leads_status_in_version()"
    )
    op.execute(
        "CREATE TRIGGER lead_status_changes_in_version BEFORE INSERT ON lead_status_changes"
        " FOR EACH ROW EXECUTE FUNCTION lead_status_changes_in_version()"
    )
    op.execute(
        "ALTER TABLE intake_sources ADD COLUMN pipeline text NOT NULL DEFAULT 'default'"
        " CONSTRAINT fk_intake_sources_pipeline_pipelines REFERENCES pipelines (name)"
    )
    op.execute("DROP INDEX uq_leads_open_email")
    op.execute(
        "CREATE UNIQUE INDEX uq_leads_open_email ON leads (lower(email)) WHERE outcome = 'open'"
    )
    op.execute("DROP INDEX ix_leads_due")
    op.execute(
        "CREATE INDEX ix_leads_due ON leads (revisit_at) INCLUDE (owner, source, segment)"
        " WHERE revisit_at IS NOT NULL AND outcome <> 'open'"
    )


def downgrade() -> None:
    custom = op.get_bind().execute(
        text("SELECT count(*) FROM leads WHERE pipeline <> 'default' OR pipeline_version <> 1")
    )
    if custom.scalar():
        raise RuntimeError("leads on other pipelines or versions than default v1: not downgradable")
    op.execute("DROP INDEX ix_leads_due")
    op.execute(
        "CREATE INDEX ix_leads_due ON leads (revisit_at) INCLUDE (owner, source, segment)"
        f" WHERE revisit_at IS NOT NULL AND status IN ({_quoted(CLOSING)})"
    )
    op.execute("DROP INDEX uq_leads_open_email")
    op.execute(
        "CREATE UNIQUE INDEX uq_leads_open_email ON leads (lower(email))"
        f" WHERE status IN ({_quoted(OPEN)})"
    )
    # The version triggers watch the columns dropped below: they go first.
    op.execute("DROP TRIGGER lead_status_changes_in_version ON lead_status_changes")
    op.execute("DROP TRIGGER leads_status_in_version ON leads")
    op.execute("ALTER TABLE intake_sources DROP COLUMN pipeline")
    op.execute(
        "ALTER TABLE leads DROP COLUMN pipeline, DROP COLUMN pipeline_version, DROP COLUMN outcome"
    )
    op.execute(
        "ALTER TABLE lead_status_changes DROP COLUMN pipeline,"
        " DROP COLUMN pipeline_version, DROP COLUMN from_version,"
        " DROP COLUMN from_outcome, DROP COLUMN to_outcome"
    )
    op.execute(
        f"CREATE DOMAIN lead_status AS text CONSTRAINT lead_status_known"
        f" CHECK (VALUE IN ({_quoted((*OPEN, *CLOSING))}))"
    )
    op.execute(
        f"CREATE DOMAIN lead_open_status AS text CONSTRAINT lead_status_open"
        f" CHECK (VALUE IN ({_quoted(OPEN)}))"
    )
    _retype(to_domain=True)
    pairs = [
        f"{'reopen' if target == 'reopen' else target}:{c['code']}"
        for target, rule in DEFINITION["reasons"].items()
        for c in rule["codes"]
    ]
    op.execute(f"""
    CREATE FUNCTION lead_status_change_reason_valid(
      reopened boolean, to_status text, reason text
    ) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $valid$
    BEGIN
      RETURN (CASE WHEN reopened THEN 'reopen' ELSE to_status END) || ':' || reason
             = ANY ('{{{",".join(pairs)}}}'::text[]);
    END
    $valid$
    """)
    op.execute(
        "ALTER TABLE lead_status_changes ADD CONSTRAINT ck_lead_status_changes_reason_of_target"
        " CHECK (lead_status_change_reason_valid(reopened, to_status, reason))"
    )
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER {table}_not_truncated ON {table}")
    op.execute("ALTER TABLE pipelines DROP CONSTRAINT fk_pipelines_name_pipeline_versions")
    op.execute("DROP TABLE pipeline_reasons, pipeline_statuses, pipeline_versions, pipelines")
    op.execute("DROP FUNCTION pipeline_definitions_append_only()")
    op.execute("DROP FUNCTION lead_status_changes_in_version()")
    op.execute("DROP FUNCTION leads_status_in_version()")
    op.execute("DROP FUNCTION pipeline_current(text, integer)")
    op.execute("DROP FUNCTION pipeline_version_store(text, integer, jsonb)")
