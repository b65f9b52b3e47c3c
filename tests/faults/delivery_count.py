"""Counting webhook deliveries at the receiver, against the events log and what the clients of
a write load were told.

Each event is known by its tag (a creation's email, a change's note; see `write_load`), which its
body carries, so a request at a receiver, a row of the log and an answer to a client meet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from standardwebhooks.webhooks import Webhook

from tests.faults.write_load import WriteLoad
from tests.webhooks.receiver import Receiver


@dataclass
class Endpoint:
    id: int
    secret: str
    receiver: Receiver | None = None


@dataclass
class Got:
    """One event as a receiver got it, however many times."""

    ids: set[str] = field(default_factory=set)
    bodies: set[bytes] = field(default_factory=set)
    answers: list[int | None] = field(default_factory=list)
    leads: set[tuple[int, int]] = field(default_factory=set)
    """(lead_id, sequence) as the body says."""

    @property
    def taken(self) -> int:
        """Requests the receiver answered 2xx."""
        return sum(a is not None and 200 <= a < 300 for a in self.answers)


@dataclass(frozen=True)
class Logged:
    id: str
    lead: tuple[int, int]


async def errors_of(pool: asyncpg.Pool, endpoint: Endpoint) -> set[str]:
    """The failures the service recorded for the endpoint's attempts."""
    rows = await pool.fetch(
        "SELECT DISTINCT a.error FROM webhook_attempts a"
        " JOIN webhook_deliveries d ON d.id = a.delivery_id"
        " WHERE d.endpoint_id = $1 AND a.error IS NOT NULL",
        endpoint.id,
    )
    return {r["error"] for r in rows}


async def logged_since(pool: asyncpg.Pool, after: int) -> dict[str, Logged]:
    """The log's events after event `after`, by the tag their change carried."""
    rows = await pool.fetch(
        "SELECT e.id, e.lead_id, e.sequence, coalesce(c.note, (e.lead).email) AS tag"
        " FROM events e LEFT JOIN lead_status_changes c ON c.id = e.change_id WHERE e.id > $1",
        after,
    )
    assert len({r["tag"] for r in rows}) == len(rows)
    return {r["tag"]: Logged(f"evt_{r['id']}", (r["lead_id"], r["sequence"])) for r in rows}


def tally(endpoint: Endpoint) -> dict[str, Got]:
    """What the endpoint's receiver got, by tag; every request's signature is checked."""
    assert endpoint.receiver is not None
    got: dict[str, Got] = {}
    for request in endpoint.receiver.requests:
        event = Webhook(endpoint.secret).verify(request.body, request.headers)
        data = event["data"]
        tag = data["note"] if event["type"] == "lead.status_changed" else data["lead"]["email"]
        one = got.setdefault(tag, Got())
        one.ids.add(request.headers["webhook-id"])
        one.bodies.add(request.body)
        one.answers.append(request.answer)
        one.leads.add((event["lead_id"], event["sequence"]))
    return got


def assert_the_log_arrived(got: dict[str, Got], log: dict[str, Logged], load: WriteLoad) -> None:
    """Every logged event arrived and was taken, under its log id, and nothing else arrived;
    the log holds every acknowledged change as its answer said, and no refused one."""
    assert set(got) == set(log), (len(set(log) - set(got)), len(set(got) - set(log)))
    for tag, event in log.items():
        assert got[tag].ids == {event.id}
        assert len(got[tag].bodies) == 1
        assert got[tag].leads == {event.lead}
        assert got[tag].taken >= 1, got[tag].answers
    acknowledged = load.acknowledged()
    assert set(acknowledged) <= set(log)
    assert {log[t].lead for t in acknowledged} == {
        (s.lead_id, s.version) for s in acknowledged.values()
    }
    assert not load.refused() & set(log)
    assert set(log) <= set(acknowledged) | load.unknown()


async def cut_short(pool: asyncpg.Pool, endpoint: Endpoint) -> set[str]:
    """The events of deliveries with an attempt whose outcome was never recorded."""
    rows = await pool.fetch(
        "SELECT d.event_id FROM webhook_deliveries d WHERE d.endpoint_id = $1"
        " AND d.attempts > (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id)",
        endpoint.id,
    )
    return {f"evt_{r['event_id']}" for r in rows}
