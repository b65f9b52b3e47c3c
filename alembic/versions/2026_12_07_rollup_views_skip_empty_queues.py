"""The rollups' `_now` views read the pending deltas only when some are pending.

Each `_now` view adds to a rollup what the next fold will (the pending changes, leads and edits,
through `metrics_change_facts` and the rollup's deltas function). Those are SQL functions called
with subquery arguments, which PostgreSQL before 18 plans anew at every call: about 6 and 8 ms of
a read's time, spent even when nothing is pending, so on a quiet database most of a metrics read
went to planning functions that then returned no rows. Each view's second branch now carries
a condition that no column decides (`EXISTS` on the three queues), which PostgreSQL checks once
before that branch runs: with the queues empty the functions are not called. What every view
returns is unchanged.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ANY_PENDING = (
    "WHERE EXISTS (SELECT FROM metrics_pending_changes)"
    " OR EXISTS (SELECT FROM metrics_pending_leads)"
    " OR EXISTS (SELECT FROM metrics_pending)"
)
"""The gate of each view's pending branch: a condition on no column of it, so PostgreSQL checks
it once (a one-time filter) and runs neither the facts nor the deltas function when it fails."""

_VIEWS_BEFORE = {
    "metrics_closings_now": """
CREATE OR REPLACE VIEW metrics_closings_now AS
 SELECT metrics_closings.grain,
    metrics_closings.day,
    metrics_closings.pipeline,
    metrics_closings.owner,
    metrics_closings.source,
    metrics_closings.segment,
    metrics_closings.outcome,
    metrics_closings.n
   FROM metrics_closings
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.outcome,
    d.n
   FROM metrics_closings_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, outcome, n),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
""",
    "metrics_cohorts_now": """
CREATE OR REPLACE VIEW metrics_cohorts_now AS
 SELECT metrics_cohorts.grain,
    metrics_cohorts.day,
    metrics_cohorts.pipeline,
    metrics_cohorts.owner,
    metrics_cohorts.source,
    metrics_cohorts.segment,
    metrics_cohorts.stages,
    metrics_cohorts.n
   FROM metrics_cohorts
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.stages,
    d.n
   FROM metrics_cohorts_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, stages, n),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
""",
    "metrics_durations_now": """
CREATE OR REPLACE VIEW metrics_durations_now AS
 SELECT metrics_durations.measure,
    metrics_durations.dimension,
    metrics_durations.status,
    metrics_durations.day,
    metrics_durations.pipeline,
    metrics_durations.value,
    metrics_durations.days,
    metrics_durations.n
   FROM metrics_durations
UNION ALL
 SELECT metrics_durations_deltas.measure,
    metrics_durations_deltas.dimension,
    metrics_durations_deltas.status,
    metrics_durations_deltas.day,
    metrics_durations_deltas.pipeline,
    metrics_durations_deltas.value,
    metrics_durations_deltas.days,
    metrics_durations_deltas.n
   FROM metrics_durations_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_durations_deltas(measure, dimension, status, day, pipeline, value, days, n)
""",
    "metrics_losses_now": """
CREATE OR REPLACE VIEW metrics_losses_now AS
 SELECT metrics_losses.overall,
    metrics_losses.day,
    metrics_losses.pipeline,
    metrics_losses.owner,
    metrics_losses.source,
    metrics_losses.segment,
    metrics_losses.status,
    metrics_losses.reason,
    metrics_losses.from_status,
    metrics_losses.competitor,
    metrics_losses.n,
    metrics_losses.currency,
    metrics_losses.amount,
    metrics_losses.valued
   FROM metrics_losses
UNION ALL
 SELECT metrics_losses_deltas.overall,
    metrics_losses_deltas.day,
    metrics_losses_deltas.pipeline,
    metrics_losses_deltas.owner,
    metrics_losses_deltas.source,
    metrics_losses_deltas.segment,
    metrics_losses_deltas.status,
    metrics_losses_deltas.reason,
    metrics_losses_deltas.from_status,
    metrics_losses_deltas.competitor,
    metrics_losses_deltas.n,
    metrics_losses_deltas.currency,
    metrics_losses_deltas.amount,
    metrics_losses_deltas.valued
   FROM metrics_losses_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_losses_deltas(overall, day, pipeline, owner, source, segment, status, reason, from_status, competitor, n, currency, amount, valued)
""",
    "metrics_open_money_now": """
CREATE OR REPLACE VIEW metrics_open_money_now AS
 SELECT metrics_open_money.pipeline,
    metrics_open_money.status,
    metrics_open_money.owner,
    metrics_open_money.source,
    metrics_open_money.segment,
    metrics_open_money.currency,
    metrics_open_money.close_month,
    metrics_open_money.n,
    metrics_open_money.valued,
    metrics_open_money.amount,
    metrics_open_money.own_amount,
    metrics_open_money.own_weighted
   FROM metrics_open_money
UNION ALL
 SELECT metrics_open_money_deltas.pipeline,
    metrics_open_money_deltas.status,
    metrics_open_money_deltas.owner,
    metrics_open_money_deltas.source,
    metrics_open_money_deltas.segment,
    metrics_open_money_deltas.currency,
    metrics_open_money_deltas.close_month,
    metrics_open_money_deltas.n,
    metrics_open_money_deltas.valued,
    metrics_open_money_deltas.amount,
    metrics_open_money_deltas.own_amount,
    metrics_open_money_deltas.own_weighted
   FROM metrics_open_money_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency, probability, close_date)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_open_money_deltas(pipeline, status, owner, source, segment, currency, close_month, n, valued, amount, own_amount, own_weighted)
""",
    "metrics_pipeline_now": """
CREATE OR REPLACE VIEW metrics_pipeline_now AS
 SELECT metrics_pipeline.pipeline,
    metrics_pipeline.status,
    metrics_pipeline.owner,
    metrics_pipeline.source,
    metrics_pipeline.segment,
    metrics_pipeline.revisit_month,
    metrics_pipeline.n
   FROM metrics_pipeline
UNION ALL
 SELECT metrics_pipeline_deltas.pipeline,
    metrics_pipeline_deltas.status,
    metrics_pipeline_deltas.owner,
    metrics_pipeline_deltas.source,
    metrics_pipeline_deltas.segment,
    metrics_pipeline_deltas.revisit_month,
    metrics_pipeline_deltas.n
   FROM metrics_pipeline_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) metrics_pipeline_deltas(pipeline, status, owner, source, segment, revisit_month, n)
""",
    "metrics_reopenings_now": """
CREATE OR REPLACE VIEW metrics_reopenings_now AS
 SELECT metrics_reopenings.grain,
    metrics_reopenings.day,
    metrics_reopenings.pipeline,
    metrics_reopenings.owner,
    metrics_reopenings.source,
    metrics_reopenings.segment,
    metrics_reopenings.n,
    metrics_reopenings.won
   FROM metrics_reopenings
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.n,
    d.won
   FROM metrics_reopenings_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, n, won),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
""",
    "metrics_revenue_now": """
CREATE OR REPLACE VIEW metrics_revenue_now AS
 SELECT metrics_revenue.grain,
    metrics_revenue.day,
    metrics_revenue.pipeline,
    metrics_revenue.owner,
    metrics_revenue.source,
    metrics_revenue.segment,
    metrics_revenue.outcome,
    metrics_revenue.currency,
    metrics_revenue.n,
    metrics_revenue.valued,
    metrics_revenue.amount
   FROM metrics_revenue
UNION ALL
 SELECT g.grain,
    d.day,
    d.pipeline,
    g.owner,
    g.source,
    g.segment,
    d.outcome,
    d.currency,
    d.n,
    d.valued,
    d.amount
   FROM metrics_revenue_deltas(ARRAY( SELECT f.*::metrics_fact AS f
           FROM metrics_change_facts(ARRAY( SELECT metrics_pending_changes.change_id
                   FROM metrics_pending_changes)) f(at, created_at, entered, pipeline, from_status, to_status, from_outcome, to_outcome, closes, reason, competitor, reopened, owner, source, segment, revisit_at, standing_before, old_mask, new_mask, prev_closing, last_reopen, amount, currency)), ARRAY( SELECT l.*::metrics_pending_leads AS l
           FROM metrics_pending_leads l), ARRAY( SELECT q.*::metrics_pending AS q
           FROM metrics_pending q)) d(grain, day, pipeline, owner, source, segment, outcome, currency, n, valued, amount),
    LATERAL metrics_grains(d.owner, d.source, d.segment) g(grain, owner, source, segment)
""",
}
"""Each view as 0025 left it (PostgreSQL's own deparse, alias lists included): its second
branch, the pending deltas, is its last SELECT, so a WHERE clause added at the end is that
branch's."""


def upgrade() -> None:
    for before in _VIEWS_BEFORE.values():
        op.execute(f"{before}\n  {_ANY_PENDING}")


def downgrade() -> None:
    for before in _VIEWS_BEFORE.values():
        op.execute(before)
