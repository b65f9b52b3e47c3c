"""Configuration from the environment (and an optional `.env`), read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql:// URL. Unset: an embedded PostgreSQL is started under data_dir.",
    )
    database_read_url: SecretStr | None = Field(
        default=None,
        description="postgresql:// URL of a read replica for reads that tolerate a little lag "
        "(lead lists and metrics). Unset: those reads use DATABASE_URL too.",
    )
    data_dir: Path = Field(
        default=Path(".leadstatus"),
        validation_alias="LEADSTATUS_DATA_DIR",
        description="Where the embedded PostgreSQL keeps its files.",
    )
    connect_timeout_s: float = Field(
        default=3.0,
        gt=0,
        validation_alias="LEADSTATUS_CONNECT_TIMEOUT_S",
        description="How long opening a database connection may take before the request is "
        "answered 503: an unreachable host must not hold requests until their own timeout.",
    )
    pool_min_size: int = Field(default=4, ge=1, validation_alias="LEADSTATUS_POOL_MIN")
    pool_max_size: int = Field(default=10, ge=1, validation_alias="LEADSTATUS_POOL_MAX")
    statement_timeout_ms: int = Field(
        default=5000, ge=100, validation_alias="LEADSTATUS_STATEMENT_TIMEOUT_MS"
    )
    opentelemetry: bool = Field(
        default=False,
        validation_alias="LEADSTATUS_OPENTELEMETRY",
        description="FastAPI's own OpenTelemetry spans, metrics and logs, sent to the globally "
        "configured providers (e.g. FASTAPI_OTEL_AUTO_CONFIGURE=true and the OTEL_* variables). "
        "Off: /metrics and the request log cover the service, and no request pays for the "
        "providers' per-request lookup.",
    )
    fold_interval_s: float = Field(
        default=0.25,
        gt=0,
        validation_alias="LEADSTATUS_FOLD_INTERVAL_S",
        description="Seconds between folds of pending metrics deltas into the rollups.",
    )
    auto_close_interval_s: float = Field(
        default=300.0,
        ge=0,
        validation_alias="LEADSTATUS_AUTO_CLOSE_INTERVAL_S",
        description="Seconds between this process's looks for leads due for an automatic "
        "closing (a pipeline status's `auto_close_after_days`); 0: this process never closes "
        "any (another may). Nothing is closed while no status sets the property.",
    )
    metrics_vacuum_interval_s: float = Field(
        default=10.0,
        ge=0,
        validation_alias="LEADSTATUS_METRICS_VACUUM_INTERVAL_S",
        description="Seconds between VACUUMs of the metrics queue and rollup tables (0: leave "
        "them to autovacuum).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias="LEADSTATUS_SECRET_KEY",
        description="Fernet key sealing intake sources' signing secrets at rest. Unset: one is "
        "generated once into data_dir/secret.key (every replica must then share that file).",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="LEADSTATUS_PUBLIC_URL",
        description="The service's URL as senders call it (https://leads.example.com), for "
        "schemes that sign the URL (HubSpot) behind a proxy. Unset: the request's own URL.",
    )
    intake_retention_days: int = Field(
        default=30,
        ge=3,
        validation_alias="LEADSTATUS_INTAKE_RETENTION_DAYS",
        description="Days an intake delivery (payload, answer, exactly-once record) is kept.",
    )
    events_retention_days: int = Field(
        default=30,
        ge=1,
        validation_alias="LEADSTATUS_EVENTS_RETENTION_DAYS",
        description="Days the events log (`GET /v1/events`) keeps an event.",
    )
    webhooks: bool = Field(
        default=True,
        validation_alias="LEADSTATUS_WEBHOOKS",
        description="`leadstatus serve` starts a delivery process beside the API (`leadstatus "
        "deliver`; several share the work without sending one attempt twice). Off: none (with "
        "LEADSTATUS_NATS_URL, `leadstatus publish` instead); events are still logged and queued.",
    )
    webhook_allowed_networks: str = Field(
        default="",
        validation_alias="LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS",
        description="Networks webhooks may be sent to although they are private, loopback or "
        "link-local, comma-separated (10.0.0.0/8, 127.0.0.1): an internal deployment's own.",
    )
    webhook_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="LEADSTATUS_WEBHOOK_POLL_INTERVAL_S",
        description="Seconds between looks for due deliveries (and events to publish to NATS) "
        "when no notification came.",
    )
    nats_url: SecretStr | None = Field(
        default=None,
        validation_alias="LEADSTATUS_NATS_URL",
        description="nats:// URL of a NATS server with JetStream (several comma-separated, of "
        "one cluster): the delivery process (or `leadstatus publish`) then publishes every "
        "event to it too. Needs the `nats` extra. Unset: nothing is published.",
    )
    nats_stream: str = Field(
        default="LEADSTATUS_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,255}$",
        validation_alias="LEADSTATUS_NATS_STREAM",
        description="The JetStream stream the events go to, made when absent (subjects "
        "`<prefix>.>`, a 2-minute duplicate window). Its place in the log is kept per stream.",
    )
    nats_subject_prefix: str = Field(
        default="leadstatus",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        validation_alias="LEADSTATUS_NATS_SUBJECT_PREFIX",
        description="The subjects' first tokens: an event goes to `<prefix>.<pipeline>.<type>`.",
    )
    rate_limit_per_s: float = Field(
        default=2000.0,
        gt=0,
        validation_alias="LEADSTATUS_RATE_LIMIT_PER_S",
        description="Requests per second each API key may make, per service process.",
    )
    rate_burst: int = Field(
        default=4000,
        ge=1,
        validation_alias="LEADSTATUS_RATE_BURST",
        description="Requests an API key may make at once after a quiet spell.",
    )
    auth_failures_per_s: float = Field(
        default=1.0,
        gt=0,
        validation_alias="LEADSTATUS_AUTH_FAILURES_PER_S",
        description="Failed authentications (unknown keys, refused intake signatures) each "
        "client address may cause per second, per process, once its burst is spent; past it, "
        "a new unknown key is answered 429 without being looked up.",
    )
    auth_failure_burst: int = Field(
        default=20,
        ge=1,
        validation_alias="LEADSTATUS_AUTH_FAILURE_BURST",
        description="Failed authentications a client address may cause at once.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        validation_alias="LEADSTATUS_MAX_BODY_BYTES",
        description="Largest request body accepted (batch imports and batch status changes: four "
        "times this).",
    )
    request_timeout_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="LEADSTATUS_REQUEST_TIMEOUT_S",
        description="A request still running after this is cancelled (its transaction rolls "
        "back) and answered 503.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="LEADSTATUS_HEADER_TIMEOUT_S",
        description="A connection whose request headers have not all arrived this long after "
        "it opened (or after its previous answer) is answered 408 and closed.",
    )
    keep_alive_s: int = Field(
        default=5,
        gt=0,
        validation_alias="LEADSTATUS_KEEP_ALIVE_S",
        description="An idle kept-alive connection is closed after this. Behind a proxy that "
        "reuses connections, set it above the proxy's own idle timeout.",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        validation_alias="LEADSTATUS_MAX_CONNECTIONS",
        description="Connections each process holds at once; one more is answered 503 and closed.",
    )
    trusted_proxies: str = Field(
        default="",
        validation_alias="LEADSTATUS_TRUSTED_PROXIES",
        description="Comma-separated addresses (or networks) of the proxies in front of the "
        "service, whose X-Forwarded-For names the client; empty: the peer is the client.",
    )
    log_level: str = Field(default="info", validation_alias="LEADSTATUS_LOG_LEVEL")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        validation_alias="LEADSTATUS_LOG_FORMAT",
        description="`json`: one JSON object per line, for log collectors; `text`: lines for "
        "people; `auto`: text when stderr is a terminal, JSON otherwise.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
