"""The service's Prometheus metrics, one registry per app.

Each app owns its registry (not prometheus_client's global one), so tests that build several apps
count apart. Every label takes values from a bounded set: route templates (never raw paths),
known methods, status codes, the workflow's statuses and reason codes, configured intake sources
and intake outcomes. A label fed from the request itself would let any client grow the series
without bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Metric,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily
from starlette.requests import Request

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a scanner's guesses must not add series)."""
REDELIVERED = "redelivered"
"""The outcome label of an intake event received before, answered from its stored answer."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds; fine below 10 ms, where the hot paths answer, up to the 30 s request timeout."""


class CountedChange(Protocol):
    """What the counters read of a recorded status change (a `leads.domain.StatusChange`)."""

    @property
    def from_status(self) -> str: ...
    @property
    def to_status(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def reopened(self) -> bool: ...


class PoolCollector:
    """The asyncpg pools' connections, read when Prometheus scrapes (no bookkeeping per use).

    `primary` is `app.state.pool`; `replica` is `app.state.read_pool` when that is a pool of
    its own (a read replica is configured).
    """

    def __init__(self, state: Any) -> None:
        self._state = state

    def describe(self) -> Iterator[Metric]:
        yield self._connections()
        yield self._limit()

    def collect(self) -> Iterator[Metric]:
        primary = getattr(self._state, "pool", None)
        replica = getattr(self._state, "read_pool", None)
        pools = {"primary": primary, "replica": replica if replica is not primary else None}
        connections, limit = self._connections(), self._limit()
        for name, pool in pools.items():
            if pool is None:  # before startup, or no replica
                continue
            size, idle = pool.get_size(), pool.get_idle_size()
            connections.add_metric([name, "in_use"], size - idle)
            connections.add_metric([name, "idle"], idle)
            limit.add_metric([name], pool.get_max_size())
        yield connections
        yield limit

    @staticmethod
    def _connections() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "leadstatus_db_pool_connections",
            "Open database connections in a pool, lent to a request (in_use) or idle.",
            labels=["pool", "state"],
        )

    @staticmethod
    def _limit() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "leadstatus_db_pool_connections_max",
            "The most connections a pool opens (LEADSTATUS_POOL_MAX).",
            labels=["pool"],
        )


class Instruments:
    """The metrics one app records, and its exposition for `GET /metrics`.

    Label children are kept in plain dicts: `labels()` costs a lock and string conversions,
    paid here once per series instead of on every request.
    """

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadstatus_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "leadstatus_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.transitions = Counter(
            "leadstatus_lead_transitions",
            "Status changes through the workflow (committed), by from, to and reason code.",
            ["from_status", "to_status", "reason"],
            registry=self.registry,
        )
        self.reopenings = Counter(
            "leadstatus_lead_reopenings",
            "Reopenings of closed deals through the API (committed), by from, to and reason.",
            ["from_status", "to_status", "reason"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "leadstatus_intake_deliveries",
            "Intake events processed (committed), by source and outcome; `redelivered` is an "
            "event received before and answered from its stored answer.",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.registry.register(PoolCollector(state))
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._change_series: dict[tuple[str, str, str, bool], Counter] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else OTHER_METHOD, route, status)
        series = self._request_series.get(key)
        if series is None:
            labels = (key[0], route, str(status))
            series = (self.requests.labels(*labels), self.durations.labels(*labels))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def count_status_change(self, change: CountedChange) -> None:
        """Count a change whose transaction has committed (not one that may yet roll back)."""
        key = (change.from_status, change.to_status, change.reason, change.reopened)
        child = self._change_series.get(key)
        if child is None:
            family = self.reopenings if change.reopened else self.transitions
            child = self._change_series[key] = family.labels(*key[:3])
        child.inc()

    def count_delivery(self, source: str, outcome: str | None) -> None:
        """Count one settled intake event by its outcome (an `IntakeOutcome`, a string enum);
        None: a redelivery answered from the store."""
        self.deliveries.labels(source, REDELIVERED if outcome is None else str(outcome)).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text unless it asked
        for OpenMetrics), and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


def instruments_of(request: Request) -> Instruments:
    """The instruments of the app serving `request` (made by `create_app`)."""
    instruments: Instruments = request.app.state.instruments
    return instruments
