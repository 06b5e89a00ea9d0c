"""Bursts become one message; a robot that keeps alarming is rate limited.

Alerts wait in a *group* per channel, partition, robot and kind: the group opens with its first
alert and is due `grouping.wait_s` later, with everything that came meanwhile. A due group
is sent if the robot's budget on that channel allows (`rate_limit.messages` in any
`rate_limit.per_s` window); otherwise it is *suppressed*: its alerts count as handled (their
offsets may be committed) and are summed up in the robot's digest, which rides along with
the robot's next message, or goes alone as soon as the budget allows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import TopicPartition

from robotwatch.alerts.facts import happened_at, rank, severity
from robotwatch.alerts.settings import GroupingSettings, Kind, RateLimitSettings
from robotwatch.stream.verdicts import Verdict

MAX_KEPT = 100  # verdicts of one group kept in full; past that they are counted (ids kept)
GroupKey = tuple[str, TopicPartition, str, Kind]  # channel, partition, robot, kind
Budget = tuple[str, str]  # channel, robot


@dataclass
class Digest:
    """What the rate limit held back from one robot on one channel since its last message."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    worst: float | None = None
    kinds: set[str] = field(default_factory=set)

    def add(self, group: Group) -> None:
        self.count += group.count
        self.kinds.add(group.kind)
        for verdict in group.verdicts:
            moment = happened_at(verdict)
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)
            ratio = severity(verdict)
            if ratio is not None:
                self.worst = ratio if self.worst is None else max(self.worst, ratio)


@dataclass
class Group:
    channel: str
    tp: TopicPartition | None  # None: a digest that goes alone
    robot: str
    kind: Kind
    opened: float  # monotonic
    verdicts: list[Verdict] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    verdict_ids: list[str] = field(default_factory=list)
    holds: list[int] = field(default_factory=list)  # commit holds, released once it is sent or given up
    count: int = 0
    digest: Digest | None = None

    def add(self, verdict: Verdict, offset: int, hold: int) -> None:
        self.count += 1
        self.offsets.append(offset)
        self.holds.append(hold)
        self.verdict_ids.append(verdict.verdict_id)
        if len(self.verdicts) < MAX_KEPT:
            self.verdicts.append(verdict)
        else:  # keep the worst in full
            weakest = min(range(len(self.verdicts)), key=lambda i: rank(self.verdicts[i]))
            if rank(verdict) > rank(self.verdicts[weakest]):
                self.verdicts[weakest] = verdict


class Grouper:
    def __init__(self, grouping: GroupingSettings, rate_limit: RateLimitSettings) -> None:
        self.grouping, self.rate_limit = grouping, rate_limit
        self.groups: dict[GroupKey, Group] = {}
        self.digests: dict[Budget, Digest] = {}
        self._sent: dict[Budget, deque[float]] = {}

    def add(
        self,
        channel: str,
        tp: TopicPartition,
        offset: int,
        hold: int,
        verdict: Verdict,
        robot: str,
        kind: Kind,
        now: float,
    ) -> None:
        key = (channel, tp, robot, kind)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(channel, tp, robot, kind, now)
        group.add(verdict, offset, hold)

    def due(self, now: float, flush: bool = False) -> tuple[list[Group], list[Group]]:
        """(groups to send now, groups suppressed by the rate limit). `flush` (shutdown): every
        group is due at once, and the digests go out whatever the budget, so nothing read is
        left unsaid."""
        sending: list[Group] = []
        suppressed: list[Group] = []
        for key, group in list(self.groups.items()):
            if not flush and now - group.opened < self.grouping.wait_s:
                continue
            del self.groups[key]
            budget = (group.channel, group.robot)
            if self._spend(budget, now) or flush:
                group.digest = self.digests.pop(budget, None)
                sending.append(group)
            else:
                self.digests.setdefault(budget, Digest()).add(group)
                suppressed.append(group)
        for budget in list(self.digests):
            if not any(g.channel == budget[0] and g.robot == budget[1] for g in self.groups.values()) and (
                self._spend(budget, now) or flush
            ):
                digest = self.digests.pop(budget)
                kind: Kind = "anomaly" if "anomaly" in digest.kinds else "error"
                sending.append(Group(budget[0], None, budget[1], kind, now, digest=digest))
        return sending, suppressed

    def _spend(self, budget: Budget, now: float) -> bool:
        sent = self._sent.setdefault(budget, deque())
        while sent and now - sent[0] >= self.rate_limit.per_s:
            sent.popleft()
        if len(sent) >= self.rate_limit.messages:
            return False
        sent.append(now)
        return True

    def drop(self, partitions: set[TopicPartition]) -> list[Group]:
        """The waiting groups of partitions taken from us: the new owner reads them again."""
        dropped = [g for k, g in self.groups.items() if k[1] in partitions]
        self.groups = {k: g for k, g in self.groups.items() if k[1] not in partitions}
        return dropped

    def waiting(self) -> int:
        return sum(g.count for g in self.groups.values())
