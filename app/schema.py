"""Every table the service declares, on one metadata: what alembic's autogenerate and the
schema test compare the migrations with. Importing this module imports every feature's
`tables`."""

from __future__ import annotations

from app.access import tables as access_tables
from app.events import tables as event_tables
from app.intake import tables as intake_tables
from app.leads import tables as lead_tables
from app.metrics import tables as metric_tables
from app.pipelines import tables as pipeline_tables
from app.platform.tables import metadata
from app.publishing import tables as publishing_tables
from app.webhooks import tables as webhook_tables

__all__ = [
    "access_tables",
    "event_tables",
    "intake_tables",
    "lead_tables",
    "metadata",
    "metric_tables",
    "pipeline_tables",
    "publishing_tables",
    "webhook_tables",
]
