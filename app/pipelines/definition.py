"""A pipeline definition document, validated into a `Workflow`, and what a new version changes.

`build_workflow()` reads the document a customer writes (JSON, or YAML through the CLI) and
either returns the workflow or raises `InvalidPipeline` listing *every* violation, each with a
JSON pointer into the document, so an admin fixes a definition in one pass. `plan_version()`
compares a proposed version with the current one: the statuses it removes, the remap that moves
their leads, and the refusals that keep past meaning intact (a key never changes its outcome).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, TypeVar

from app.pipelines.workflow import (
    REMAP_REASON,
    REOPEN,
    STALE_REASON,
    ExtraField,
    ForecastCategory,
    Outcome,
    ReasonRule,
    Status,
    TargetRule,
    Workflow,
)
from app.platform.errors import InvalidPipeline, StatusesInUse, Violation

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""Status keys, reason codes and pipeline names: lower-case identifiers, stable in URLs and SQL."""
MAX_STATUSES = 50
MAX_OPEN_STATUSES = 12
"""The funnel's stages: the metrics rollups count up to this many open statuses per version."""
MAX_CODES = 100
MAX_TEXT = 500

_TOP = {"label", "description", "initial", "statuses", "transitions", "reopen_targets", "reasons"}
_STATUS_FIELDS = {
    "key",
    "label",
    "description",
    "outcome",
    "probability",
    "stale_after_days",
    "forecast_category",
    "auto_close_after_days",
    "archived",
}
MAX_DAYS = 3650
_EXTRAS = [f.value for f in ExtraField]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: object) -> str:
    """A JSON pointer (RFC 6901) to the member that `tokens` name."""
    return "".join(f"/{_escape(str(t))}" for t in tokens)


class _Collector:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, where: str, message: str) -> None:
        self.violations.append(Violation(where, message))


def _text(c: _Collector, value: object, where: str, *, required: bool, name: str) -> str | None:
    if value is None:
        if required:
            c.add(where, f"'{name}' is required.")
        return None
    if not isinstance(value, str) or not value.strip():
        c.add(where, f"'{name}' must be a non-empty string.")
        return None
    if len(value) > MAX_TEXT or "\x00" in value:
        c.add(where, f"'{name}' must be at most {MAX_TEXT} characters, without NUL.")
        return None
    return value


def _key(c: _Collector, value: object, where: str, *, what: str) -> str | None:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        c.add(
            where,
            f"{what} must be a lower-case identifier (a letter, then letters, digits or '_', "
            f"at most 63), not {value!r}.",
        )
        return None
    return value


def _unknown_members(c: _Collector, obj: Mapping[str, Any], allowed: set[str], base: str) -> None:
    for name in obj:
        if name not in allowed:
            c.add(pointer(*_tokens(base), name), f"Unknown member '{name}'.")


def _tokens(base: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in base.split("/")[1:]] if base else []


def _status(c: _Collector, raw: object, index: int) -> Status | None:
    where = pointer("statuses", index)
    if not isinstance(raw, Mapping):
        c.add(where, "A status must be an object with 'key', 'label' and 'outcome'.")
        return None
    _unknown_members(c, raw, _STATUS_FIELDS, where)
    key = _key(c, raw.get("key"), f"{where}/key", what="A status key")
    if key == REOPEN:
        c.add(f"{where}/key", f"'{REOPEN}' is reserved for reopening's reason codes.")
        key = None
    label = _text(c, raw.get("label"), f"{where}/label", required=True, name="label")
    description = _text(
        c, raw.get("description"), f"{where}/description", required=False, name="description"
    )
    outcome = _member(c, Outcome, raw, "outcome", where, required=True)
    probability = raw.get("probability")
    if probability is not None and (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or (isinstance(probability, float) and not math.isfinite(probability))
        or not 0 <= probability <= 1
    ):
        c.add(f"{where}/probability", "'probability' must be a number from 0 to 1.")
        probability = None
    stale = _days(c, raw, "stale_after_days", where)
    auto_close = _days(c, raw, "auto_close_after_days", where)
    category = _member(c, ForecastCategory, raw, "forecast_category", where, required=False)
    if outcome is not None and outcome is not Outcome.OPEN:
        for name, value in (("forecast_category", category), ("auto_close_after_days", auto_close)):
            if value is not None:
                c.add(f"{where}/{name}", f"'{name}' belongs to open statuses only.")
    if auto_close is not None and stale is not None and auto_close < stale:
        c.add(
            f"{where}/auto_close_after_days",
            f"'auto_close_after_days' ({auto_close}) must not be shorter than "
            f"'stale_after_days' ({stale}): a lead is stale before it is closed for it.",
        )
    archived = raw.get("archived", False)
    if not isinstance(archived, bool):
        c.add(f"{where}/archived", "'archived' must be true or false.")
        archived = False
    if key is None or label is None or outcome is None:
        return None
    return Status(
        key=key,
        label=label,
        outcome=outcome,
        description=description,
        probability=float(probability) if probability is not None else None,
        stale_after_days=stale,
        forecast_category=category,
        auto_close_after_days=auto_close,
        archived=archived,
    )


_Member = TypeVar("_Member", bound=StrEnum)


def _member(
    c: _Collector,
    kind: type[_Member],
    raw: Mapping[str, Any],
    name: str,
    where: str,
    *,
    required: bool,
) -> _Member | None:
    """The member of `kind` that `raw[name]` names; a violation listing them all otherwise."""
    value = raw.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str) and value in {m.value for m in kind}:
        return kind(value)
    c.add(f"{where}/{name}", f"'{name}' must be one of {', '.join(m.value for m in kind)}.")
    return None


def _days(c: _Collector, raw: Mapping[str, Any], name: str, where: str) -> int | None:
    value = raw.get(name)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS
    ):
        c.add(f"{where}/{name}", f"'{name}' must be a whole number, 1..{MAX_DAYS}.")
        return None
    return value if isinstance(value, int) else None


def _extras(c: _Collector, raw: object, where: str) -> frozenset[ExtraField]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        c.add(where, f"Must be a list of {', '.join(_EXTRAS)}.")
        return frozenset()
    found: set[ExtraField] = set()
    for i, name in enumerate(raw):
        if name not in _EXTRAS:
            c.add(f"{where}/{i}", f"{name!r} is not a field; use {', '.join(_EXTRAS)}.")
        else:
            found.add(ExtraField(name))
    return frozenset(found)


def _target_rule(c: _Collector, raw: object, where: str) -> TargetRule | None:
    if not isinstance(raw, Mapping):
        c.add(where, "Must be an object with 'codes' (and optionally 'optional').")
        return None
    _unknown_members(c, raw, {"codes", "optional"}, where)
    codes = raw.get("codes")
    if not isinstance(codes, list) or not codes:
        c.add(f"{where}/codes", "'codes' must be a non-empty list of reason codes.")
        return None
    if len(codes) > MAX_CODES:
        c.add(f"{where}/codes", f"At most {MAX_CODES} reason codes per target.")
    rules: list[ReasonRule] = []
    seen: set[str] = set()
    for i, entry in enumerate(codes):
        at = f"{where}/codes/{i}"
        if not isinstance(entry, Mapping):
            c.add(at, "A reason must be an object with 'code' and 'label'.")
            continue
        _unknown_members(c, entry, {"code", "label", "requires"}, at)
        code = _key(c, entry.get("code"), f"{at}/code", what="A reason code")
        label = _text(c, entry.get("label"), f"{at}/label", required=True, name="label")
        requires = _extras(c, entry.get("requires"), f"{at}/requires")
        if code == REMAP_REASON:
            c.add(f"{at}/code", f"'{REMAP_REASON}' is reserved for changes a pipeline edit makes.")
            continue
        if code is not None and code in seen:
            c.add(f"{at}/code", f"Duplicate reason code '{code}' for this target.")
            continue
        if code is not None and label is not None:
            seen.add(code)
            rules.append(ReasonRule(code, label, requires))
    optional = _extras(c, raw.get("optional"), f"{where}/optional")
    return TargetRule(tuple(rules), optional) if rules else None


def split_remap(body: object) -> tuple[object, object]:
    """A PUT body (or a definition file) as the definition document and its `remap`, if any:
    the remap says how to get from the current version to this one, it is not part of it."""
    if isinstance(body, Mapping) and "remap" in body:
        return {k: v for k, v in body.items() if k != "remap"}, body["remap"]
    return body, None


def _reachable(start: str, moves: Mapping[str, Iterable[str]]) -> set[str]:
    seen = {start}
    frontier = [start]
    while frontier:
        for nxt in moves.get(frontier.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def build_workflow(document: object, *, pipeline: str, version: int) -> Workflow:
    """The workflow a definition document describes, or `InvalidPipeline` with every violation."""
    c = _Collector()
    if not isinstance(document, Mapping):
        raise InvalidPipeline([Violation("", "A pipeline definition must be a JSON object.")])
    _unknown_members(c, document, _TOP, "")
    label = _text(c, document.get("label"), "/label", required=False, name="label")
    description = _text(
        c, document.get("description"), "/description", required=False, name="description"
    )

    raw_statuses = document.get("statuses")
    statuses: list[Status] = []
    if not isinstance(raw_statuses, list) or not raw_statuses:
        c.add("/statuses", "'statuses' must be a non-empty list.")
        raw_statuses = []
    elif len(raw_statuses) > MAX_STATUSES:
        c.add("/statuses", f"At most {MAX_STATUSES} statuses per pipeline.")
    keys: dict[str, int] = {}
    for i, raw in enumerate(raw_statuses):
        status = _status(c, raw, i)
        if status is None:
            continue
        if status.key in keys:
            c.add(pointer("statuses", i, "key"), f"Duplicate status key '{status.key}'.")
            continue
        keys[status.key] = i
        statuses.append(status)
    by_key = {s.key: s for s in statuses}
    # Statuses whose entry was unreadable still count as named, so one typo is one violation.
    named = set(by_key) | {
        r.get("key")
        for r in raw_statuses
        if isinstance(r, Mapping) and isinstance(r.get("key"), str)
    }

    def known(value: object, where: str) -> str | None:
        if not isinstance(value, str) or value not in named:
            c.add(where, f"Unknown status {value!r}.")
            return None
        return value if value in by_key else None

    initial = known(document.get("initial"), "/initial")
    opened = [st.key for st in statuses if st.is_open]
    if initial is not None and not by_key[initial].is_open:
        c.add("/initial", f"The initial status '{initial}' must have the outcome 'open'.")
    elif initial is not None and opened and initial != opened[0]:
        c.add(
            "/initial",
            f"The initial status '{initial}' must be the first open status listed (the funnel "
            f"starts there), not '{opened[0]}'.",
        )
    if len(opened) > MAX_OPEN_STATUSES:
        c.add(
            "/statuses",
            f"At most {MAX_OPEN_STATUSES} open statuses (the funnel's stages), not {len(opened)}.",
        )
    if initial is not None and by_key[initial].archived:
        c.add("/initial", f"The initial status '{initial}' cannot be archived.")

    transitions: dict[str, tuple[str, ...]] = {}
    raw_moves = document.get("transitions", {})
    if not isinstance(raw_moves, Mapping):
        c.add("/transitions", "'transitions' must map a status to the list of its targets.")
        raw_moves = {}
    for source, targets in raw_moves.items():
        where = pointer("transitions", source)
        origin = known(source, where)
        if not isinstance(targets, list):
            c.add(where, "Must be a list of target statuses.")
            continue
        found: list[str] = []
        for i, target in enumerate(targets):
            to = known(target, f"{where}/{i}")
            if to is None:
                continue
            if to == source:
                c.add(f"{where}/{i}", "A same-status move is not a transition.")
            elif to in found:
                c.add(f"{where}/{i}", f"Duplicate target '{to}'.")
            else:
                found.append(to)
        if origin is None:
            continue
        if not by_key[origin].is_open and found:
            how = "reopening" if by_key[origin].reopenable else "nothing: it is terminal"
            c.add(where, f"'{origin}' is closed ({by_key[origin].outcome}); it leaves by {how}.")
            continue
        if found:
            transitions[origin] = tuple(found)

    reopen_targets: list[str] = []
    raw_reopen = document.get("reopen_targets", [])
    if not isinstance(raw_reopen, list):
        c.add("/reopen_targets", "'reopen_targets' must be a list of open statuses.")
        raw_reopen = []
    for i, target in enumerate(raw_reopen):
        to = known(target, f"/reopen_targets/{i}")
        if to is None:
            continue
        if not by_key[to].is_open:
            c.add(f"/reopen_targets/{i}", f"A reopened lead goes to an open status, not '{to}'.")
        elif to in reopen_targets:
            c.add(f"/reopen_targets/{i}", f"Duplicate reopen target '{to}'.")
        else:
            reopen_targets.append(to)
    reopenable = [s.key for s in statuses if s.reopenable]
    if reopenable and not [t for t in reopen_targets if not by_key[t].archived]:
        c.add(
            "/reopen_targets",
            f"Reopenable statuses ({', '.join(reopenable)}) need at least one open reopen target.",
        )

    reasons: dict[str, TargetRule] = {}
    reopen_rule: TargetRule | None = None
    raw_reasons = document.get("reasons", {})
    if not isinstance(raw_reasons, Mapping):
        c.add("/reasons", "'reasons' must map each target status (and 'reopen') to its codes.")
        raw_reasons = {}
    for target, raw_rule in raw_reasons.items():
        where = pointer("reasons", target)
        if target == REOPEN:
            reopen_rule = _target_rule(c, raw_rule, where)
            continue
        to = known(target, where)
        rule = _target_rule(c, raw_rule, where)
        if to is not None and rule is not None:
            reasons[to] = rule

    targets = {t for moves in transitions.values() for t in moves}
    for to in sorted(targets, key=lambda k: keys[k]):
        if to not in raw_reasons:
            c.add(pointer("reasons", to), f"'{to}' is a move's target, so it needs reason codes.")
    if reopen_targets and reopen_rule is None and REOPEN not in raw_reasons:
        c.add(pointer("reasons", REOPEN), "Reopening needs its own reason codes.")

    if initial is not None and not c.violations:
        _check_graph(c, statuses, initial, transitions, reopen_targets, keys)
    _check_auto_close(c, statuses, transitions, reasons, keys)
    outcomes = {s.outcome for s in statuses if not s.archived}
    if statuses and Outcome.WON not in outcomes:
        c.add("/statuses", "A pipeline needs a status with the outcome 'won' (not archived).")
    if statuses and Outcome.LOST not in outcomes:
        c.add("/statuses", "A pipeline needs a status with the outcome 'lost' (not archived).")

    if c.violations or initial is None:
        raise InvalidPipeline(c.violations)
    return Workflow(
        pipeline=pipeline,
        version=version,
        statuses=tuple(statuses),
        initial=initial,
        transitions=transitions,
        reopen_targets=tuple(reopen_targets),
        reasons=reasons,
        reopen=reopen_rule,
        label=label,
        description=description,
    )


def _check_graph(
    c: _Collector,
    statuses: Sequence[Status],
    initial: str,
    transitions: Mapping[str, Sequence[str]],
    reopen_targets: Sequence[str],
    index: Mapping[str, int],
) -> None:
    """Every status reachable, every open status with a way to close."""
    by_key = {s.key: s for s in statuses}
    live = {k: [t for t in moves if not by_key[t].archived] for k, moves in transitions.items()}
    moves: dict[str, list[str]] = {k: list(v) for k, v in live.items()}
    for s in statuses:
        if s.reopenable:
            moves.setdefault(s.key, []).extend(t for t in reopen_targets if not by_key[t].archived)
    reached = _reachable(initial, moves)
    for s in statuses:
        if s.key not in reached and not s.archived:
            c.add(
                pointer("statuses", index[s.key]), f"'{s.key}' cannot be reached from '{initial}'."
            )
    for s in statuses:
        if s.is_open and not any(not by_key[k].is_open for k in _reachable(s.key, live)):
            c.add(
                pointer("statuses", index[s.key]),
                f"'{s.key}' is open but no sequence of moves from it reaches a closed status.",
            )


def _check_auto_close(
    c: _Collector,
    statuses: Sequence[Status],
    transitions: Mapping[str, Sequence[str]],
    reasons: Mapping[str, TargetRule],
    index: Mapping[str, int],
) -> None:
    """A status that closes leads automatically needs a no-decision status to close them to,
    and its reserved reason must stay the service's."""
    by_key = {s.key: s for s in statuses}
    closing = [s for s in statuses if s.auto_close_after_days is not None and s.is_open]
    for s in closing:
        targets = [
            t
            for t in transitions.get(s.key, ())
            if by_key[t].outcome is Outcome.NO_DECISION and not by_key[t].archived
        ]
        if not targets:
            c.add(
                pointer("statuses", index[s.key], "auto_close_after_days"),
                f"'{s.key}' closes leads automatically, so it needs a move to a status with the "
                "outcome 'no_decision' (not archived).",
            )
    if not closing:
        return
    for target, rule in reasons.items():
        if by_key[target].outcome is Outcome.NO_DECISION and rule.reason(STALE_REASON):
            c.add(
                pointer("reasons", target),
                f"'{STALE_REASON}' is reserved for the automatic closings of this pipeline.",
            )


def _shown(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def document_of(workflow: Workflow) -> dict[str, Any]:
    """The definition document of `workflow`, in canonical form (what GET serves back)."""

    def rule(r: TargetRule) -> dict[str, Any]:
        out: dict[str, Any] = {
            "codes": [
                {"code": x.code, "label": x.label}
                | ({"requires": sorted(x.requires)} if x.requires else {})
                for x in r.reasons
            ]
        }
        if r.optional:
            out["optional"] = sorted(r.optional)
        return out

    statuses = []
    for s in workflow.statuses:
        entry: dict[str, Any] = {"key": s.key, "label": s.label}
        if s.description is not None:
            entry["description"] = s.description
        entry["outcome"] = s.outcome.value
        if s.probability is not None:
            entry["probability"] = s.probability
        if s.stale_after_days is not None:
            entry["stale_after_days"] = s.stale_after_days
        if s.forecast_category is not None:
            entry["forecast_category"] = s.forecast_category.value
        if s.auto_close_after_days is not None:
            entry["auto_close_after_days"] = s.auto_close_after_days
        if s.archived:
            entry["archived"] = True
        statuses.append(entry)
    doc: dict[str, Any] = {}
    if workflow.label is not None:
        doc["label"] = workflow.label
    if workflow.description is not None:
        doc["description"] = workflow.description
    doc |= {
        "initial": workflow.initial,
        "statuses": statuses,
        "transitions": {k: list(v) for k, v in workflow.transitions.items() if v},
        "reopen_targets": list(workflow.reopen_targets),
        "reasons": {k: rule(r) for k, r in workflow.reasons.items()},
    }
    if workflow.reopen is not None:
        doc["reasons"][REOPEN] = rule(workflow.reopen)
    return doc


@dataclass(frozen=True, slots=True)
class VersionPlan:
    """What applying a proposed version does to the leads already in the pipeline."""

    workflow: Workflow
    removed: tuple[str, ...] = ()
    """Statuses of the current version the proposal no longer has."""
    remap: Mapping[str, str] = field(default_factory=dict)
    """Removed status -> the status its leads move to (through recorded changes)."""
    leads_to_remap: Mapping[str, int] = field(default_factory=dict)
    """Removed status -> how many leads move."""
    changed: tuple[str, ...] = ()
    """A readable list of what differs from the current version (for the audit)."""


def plan_version(
    proposed: Workflow,
    *,
    current: Workflow | None,
    earlier: Iterable[Workflow] = (),
    remap: object = None,
    leads_per_status: Mapping[str, int] | None = None,
) -> VersionPlan:
    """Check a proposed version against the pipeline's history and the leads it holds.

    Raises `InvalidPipeline` for a key that meant another outcome in any earlier version or a
    remap that does not fit, and `StatusesInUse` when a removed status still holds leads that no
    remap moves (archive it instead, or remap it)."""
    c = _Collector()
    seen: dict[str, Outcome] = {}
    for older in (*earlier, *([current] if current else [])):
        for s in older.statuses:
            seen.setdefault(s.key, s.outcome)
    for i, s in enumerate(proposed.statuses):
        before = seen.get(s.key)
        if before is not None and before is not s.outcome:
            c.add(
                pointer("statuses", i, "outcome"),
                f"'{s.key}' meant '{before}' in an earlier version; a key is never reused for "
                "another meaning: give the new status a new key.",
            )
    removed = tuple(k for k in current.keys if not proposed.has(k)) if current is not None else ()
    mapping: dict[str, str] = {}
    if remap is not None and not isinstance(remap, Mapping):
        c.add("/remap", "'remap' must map each removed status to the status its leads move to.")
    elif isinstance(remap, Mapping):
        for old, new in remap.items():
            where = pointer("remap", old)
            if old not in removed:
                c.add(where, f"'{old}' is not a status this version removes.")
                continue
            if not isinstance(new, str) or not proposed.has(new):
                c.add(where, f"{new!r} is not a status of the new version.")
                continue
            assert current is not None
            if proposed.status(new).archived:
                c.add(where, f"'{new}' is archived; no move leads into it.")
                continue
            if proposed.outcome(new) is not current.outcome(old):
                c.add(
                    where,
                    f"'{old}' ({current.outcome(old)}) can only be remapped to a status with the "
                    f"same outcome, not '{new}' ({proposed.outcome(new)}).",
                )
                continue
            mapping[old] = new
    if c.violations:
        raise InvalidPipeline(c.violations)
    counts = leads_per_status or {}
    stranded = {k: counts[k] for k in removed if counts.get(k, 0) > 0 and k not in mapping}
    if stranded:
        raise StatusesInUse(stranded)
    return VersionPlan(
        workflow=proposed,
        removed=removed,
        remap=mapping,
        leads_to_remap={k: counts.get(k, 0) for k in mapping},
        changed=tuple(describe_changes(current, proposed)),
    )


def describe_changes(current: Workflow | None, proposed: Workflow) -> list[str]:
    """Short lines naming what a new version changes, for the audit trail."""
    if current is None:
        return [f"created with {len(proposed.statuses)} statuses"]
    lines: list[str] = []
    old = {s.key: s for s in current.statuses}
    new = {s.key: s for s in proposed.statuses}
    lines += [f"added status {k}" for k in new if k not in old]
    lines += [f"removed status {k}" for k in old if k not in new]
    for k in (k for k in new if k in old):
        for attr in (
            "label",
            "description",
            "probability",
            "stale_after_days",
            "forecast_category",
            "auto_close_after_days",
            "archived",
        ):
            if getattr(old[k], attr) != getattr(new[k], attr):
                before, after = _shown(getattr(old[k], attr)), _shown(getattr(new[k], attr))
                lines.append(f"{k}: {attr} {before!r} -> {after!r}")
    if [k for k in current.keys if k in new] != [k for k in proposed.keys if k in old]:
        lines.append("statuses reordered")
    if dict(current.transitions) != dict(proposed.transitions):
        lines.append("transitions changed")
    if current.reopen_targets != proposed.reopen_targets:
        lines.append("reopen targets changed")
    if dict(current.reasons) != dict(proposed.reasons) or current.reopen != proposed.reopen:
        lines.append("reason codes changed")
    if current.initial != proposed.initial:
        lines.append(f"initial {current.initial} -> {proposed.initial}")
    if (current.label, current.description) != (proposed.label, proposed.description):
        lines.append("label or description changed")
    return sorted(set(lines), key=lines.index) or ["no change"]
