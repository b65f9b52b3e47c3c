"""The demo company's market: where leads come from, what the deals look like, who works them.

The numbers are the skew the metrics should reveal: bought lists and cold outbound end mostly dead
or disqualified while referrals convert; enterprise deals are large and slow; reps differ in how
often they win and how fast they move. One rep leaves mid-way (their pipeline is handed over) and
one joins late, so owner history and per-rep metrics have something to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from app.demo.mix import Mix, one_of


@dataclass(frozen=True, slots=True)
class LeadSource:
    """Where leads come from, and how good they tend to be."""

    name: str
    share: float
    unreachable: float
    """Chance the first touch finds nobody (the lead ends `dead`)."""
    poor_fit: float
    """Chance the lead turns out not to be a fit (`disqualified`), early or during discovery."""
    qualifies: float
    """Weight of `contacted` -> `qualified` against stalling, recycling or disqualifying."""
    inbound: float
    """Chance a lead arrives already qualified (a warm introduction): `new` -> `qualified`."""
    win_lift: float
    """Multiplier on the odds of winning once in negotiation."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A customer size: deal value in USD, how slow the cycle is, how often it is won."""

    name: str
    share: float
    median_value_usd: float
    value_spread: float
    """Sigma of the log-normal deal value: how far deals stray from the median."""
    cycle: float
    """Multiplier on every delay between steps."""
    win_lift: float
    self_serve: float
    """Weight of `qualified` -> `won` by online checkout, skipping negotiation."""


@dataclass(frozen=True, slots=True)
class SalesRep:
    """An owner: how well they close, how quickly they move, which segments they cover."""

    handle: str
    closing: float
    """Multiplier on win odds in negotiation."""
    pace: float
    """Multiplier on delays: below 1 answers faster than the team."""
    focus: tuple[float, float, float]
    """Share of smb, mid_market and enterprise leads routed to this rep."""
    joined: float = 0.0
    """Fraction of the two-year window after which the rep receives leads."""
    left: float | None = None
    """Fraction of the window at which the rep left; their open leads go to `successor`."""
    successor: str | None = None


SOURCES: tuple[LeadSource, ...] = (
    LeadSource("web_form", 0.20, 0.06, 0.22, 0.45, 0.05, 1.00),
    LeadSource("paid_search", 0.16, 0.08, 0.30, 0.35, 0.03, 0.90),
    LeadSource("cold_outbound", 0.15, 0.28, 0.30, 0.18, 0.00, 0.75),
    LeadSource("webinar", 0.12, 0.04, 0.20, 0.40, 0.03, 0.95),
    LeadSource("purchased_list", 0.11, 0.45, 0.38, 0.10, 0.00, 0.60),
    LeadSource("trade_show", 0.09, 0.07, 0.18, 0.45, 0.05, 1.00),
    LeadSource("referral", 0.09, 0.01, 0.06, 0.80, 0.30, 1.70),
    LeadSource("partner", 0.08, 0.02, 0.10, 0.65, 0.20, 1.30),
)

SEGMENTS: tuple[Segment, ...] = (
    Segment("smb", 0.60, 7_500, 0.6, 1.0, 1.15, 0.10),
    Segment("mid_market", 0.30, 45_000, 0.5, 1.8, 1.00, 0.02),
    Segment("enterprise", 0.10, 260_000, 0.6, 3.2, 0.80, 0.0),
)

REPS: tuple[SalesRep, ...] = (
    SalesRep("alex.romero", 1.55, 0.80, (1.0, 0.6, 0.0)),
    SalesRep("priya.shah", 1.25, 1.10, (0.0, 0.6, 1.0)),
    SalesRep("dana.whitfield", 0.75, 1.35, (1.0, 0.4, 0.0)),
    SalesRep("marcus.bell", 1.00, 1.00, (1.0, 0.6, 0.2)),
    SalesRep("lena.vogel", 1.15, 0.90, (0.6, 1.0, 0.4)),
    SalesRep("jordan.reyes", 0.95, 1.20, (0.4, 1.0, 0.6), left=0.55, successor="priya.shah"),
    SalesRep("mei.tanaka", 1.05, 0.65, (1.0, 0.5, 0.0)),
    SalesRep("tom.baker", 0.5, 1.45, (1.0, 0.5, 0.0)),
    SalesRep("sofia.marin", 1.20, 1.00, (0.3, 1.0, 0.8)),
    SalesRep("noah.fischer", 0.90, 0.85, (1.0, 0.8, 0.0)),
    SalesRep("chloe.dupont", 1.00, 1.10, (0.6, 0.6, 0.6)),
    SalesRep("sam.okafor", 1.10, 0.90, (1.0, 1.0, 0.4), joined=0.45),
)

SOURCE_MIX: Mix[LeadSource] = Mix.of({s: s.share for s in SOURCES})
SEGMENT_MIX: Mix[Segment] = Mix.of({s: s.share for s in SEGMENTS})

COMPETITORS: Mix[str] = Mix.of(
    {
        "Globex": 0.30,
        "Initech": 0.20,
        "Umbrella Analytics": 0.14,
        "Hooli": 0.12,
        "Vandelay Software": 0.09,
        "Soylent Systems": 0.07,
        "Cyberdyne Cloud": 0.05,
        "an in-house build": 0.03,
    }
)

LOSS_NOTES: tuple[str, ...] = (
    "Champion left the company mid-evaluation.",
    "Legal would not accept our data-processing terms.",
    "Parent company mandated its global vendor.",
    "Project cancelled after a reorganisation.",
    "Security review failed on SSO requirements.",
    "Chose to extend the current contract for a year.",
)
REOPEN_NOTES: tuple[str, ...] = (
    "Met again at the spring trade show.",
    "New CFO asked to restart the evaluation.",
    "Came back through a partner introduction.",
    "Their renewal with the incumbent fell through.",
)
CHECK_IN_NOTES: tuple[str, ...] = (
    "Revisit date came up: checking in on their plans.",
    "Nurture follow-up: asked whether the timing has changed.",
    "Scheduled check-in from the nurture queue.",
    "Follow-up call as agreed when we parked the deal.",
)
"""Why a rep reopens a deal whose revisit date came without news: a check-in (reason `other`)."""


class Team:
    """The reps as lead routing sees them: who gets a new lead, and who takes over from whom."""

    def __init__(self, reps: tuple[SalesRep, ...], window_days: float) -> None:
        self.window_days = window_days
        self.by_handle = {r.handle: r for r in reps}
        self._routing = [Mix.of({r: r.focus[i] for r in reps}) for i in range(len(SEGMENTS))]
        self._steady = tuple(r for r in reps if r.joined == 0.0 and r.left is None)

    def assign(self, rng: Random, segment: int, day: float) -> SalesRep:
        """The rep a lead created on `day` is routed to: only reps on the team that day."""
        rep = self._routing[segment].pick(rng)
        if self.left_by(rep, day):
            return self.successor(rep)
        if rep.joined * self.window_days > day:
            return one_of(rng, self._steady)
        return rep

    def left_by(self, rep: SalesRep, day: float) -> bool:
        return rep.left is not None and rep.left * self.window_days <= day

    def left_day(self, rep: SalesRep) -> float | None:
        return None if rep.left is None else rep.left * self.window_days

    def successor(self, rep: SalesRep) -> SalesRep:
        return self.by_handle[rep.successor] if rep.successor else self._steady[0]

    def another(self, rng: Random, rep: SalesRep) -> SalesRep:
        """A territory change: some other steady rep takes the lead over."""
        others = [r for r in self._steady if r is not rep]
        return one_of(rng, others)
