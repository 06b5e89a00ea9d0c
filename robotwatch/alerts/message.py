"""A due group as one AlertMessage: the title, the text, and every alert in detail."""

from __future__ import annotations

import hashlib
import math
import zoneinfo
from datetime import datetime, tzinfo

from robotwatch.alerts.facts import happened_at, rank, severity
from robotwatch.alerts.grouping import Digest, Group
from robotwatch.alerts.payloads import AlertDetail, AlertMessage, Suppressed
from robotwatch.alerts.settings import AlertSettings
from robotwatch.alerts.text import clock, detail_line, picture, title, worst_text
from robotwatch.stream.verdicts import Verdict


def zone_of(settings: AlertSettings) -> tzinfo | None:
    return zoneinfo.ZoneInfo(settings.timezone) if settings.timezone else None


def idempotency_key(channel: str, verdict_ids: list[str], digest: Digest | None) -> str:
    """The same alerts on the same channel give the same key, however often they are sent."""
    parts = [channel, *sorted(verdict_ids)]
    if digest is not None:
        parts.append(f"held:{digest.count}@{digest.first.isoformat() if digest.first else ''}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def detail(verdict: Verdict, zone: tzinfo | None, template: str | None) -> AlertDetail:
    ratio = severity(verdict)
    event = verdict.events[0] if verdict.events else None
    return AlertDetail(
        verdict_id=verdict.verdict_id,
        cycle_id=verdict.cycle_id,
        time=happened_at(verdict).isoformat(),
        cycle_start=verdict.start_time,
        severity=None if ratio is None or math.isinf(ratio) else round(ratio, 4),
        non_finite=ratio is not None and math.isinf(ratio),
        score=verdict.score,
        threshold=verdict.threshold,
        error=verdict.error,
        note=verdict.note,
        event_time_s=event.time_s if event else None,
        action=event.action if event else None,
        top_axes=event.top_axes if event else [],
        top_signals=event.top_signals if event else [],
        picture=picture(verdict, template),
        flags=verdict.flags,
        text=detail_line(verdict, zone, template),
    )


def build_message(group: Group, settings: AlertSettings) -> AlertMessage:
    zone = zone_of(settings)
    ordered = sorted(group.verdicts, key=happened_at)
    details = [detail(v, zone, settings.picture_url) for v in ordered]
    # the worst are described in words, in the order they happened
    shown = set(map(id, sorted(ordered, key=lambda v: -rank(v))[: settings.grouping.max_details]))
    lines = [d.text for v, d in zip(ordered, details, strict=True) if id(v) in shown]
    if group.count > len(lines):
        lines.append(f"And {group.count - len(lines)} more like these (every verdict id is in the message).")
    digest = group.digest
    if digest is not None and digest.count:
        lines.append(_held_back(digest, settings, zone))
    ratios = [r for r in map(severity, ordered) if r is not None]
    worst = max(ratios) if ratios else None
    if ordered:
        heading = title(group.kind, ordered, group.count, zone)
    else:
        assert digest is not None
        heading = f"{group.robot}: {digest.count} more alert(s) held back by the rate limit"
        if digest.first:
            heading += f" since {clock(digest.first, zone, date=False)}"
    return AlertMessage(
        idempotency_key=idempotency_key(group.channel, group.verdict_ids, digest),
        channel=group.channel,
        kind=group.kind,
        source=ordered[0].source if ordered else "robot",
        robot=group.robot,
        title=heading,
        text="\n".join(lines),
        count=group.count,
        first_time=happened_at(ordered[0]).isoformat() if ordered else None,
        last_time=happened_at(ordered[-1]).isoformat() if ordered else None,
        worst_severity=None if worst is None or math.isinf(worst) else round(worst, 4),
        non_finite=worst is not None and math.isinf(worst),
        verdict_ids=group.verdict_ids,
        details=details,
        suppressed=_suppressed(digest),
        model_id=ordered[0].model_id if ordered else None,
    )


def _held_back(digest: Digest, settings: AlertSettings, zone: tzinfo | None) -> str:
    limit = settings.rate_limit
    window = f"{limit.per_s / 3600:g} h" if limit.per_s >= 3600 else f"{limit.per_s:g} s"
    span = ""
    if digest.first and digest.last:
        span = f" from {clock(digest.first, zone, date=False)} to {clock(digest.last, zone, date=False)}"
    return (
        f"Before this, the rate limit (at most {limit.messages} message(s) per {window} for this robot "
        f"here) held back {digest.count} alert(s){span}, worst {worst_text(digest.worst)}."
    )


def _suppressed(digest: Digest | None) -> Suppressed | None:
    if digest is None or not digest.count:
        return None
    worst = digest.worst

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return Suppressed(
        count=digest.count,
        first=iso(digest.first),
        last=iso(digest.last),
        worst_severity=None if worst is None or math.isinf(worst) else round(worst, 4),
        non_finite=worst is not None and math.isinf(worst),
    )
