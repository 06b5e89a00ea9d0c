"""What `serve` says about itself on its two probes (docs/architecture.md §6).

`/livez`: the process and its event loop are alive. It stays 200 through a broker outage,
so that an orchestrator does not restart a service that is only waiting for Kafka.

`/readyz`: the service is doing its job. Each check is either fine (None) or a reason in
words; ready means all are fine. The checks: the broker answers; the topics exist; scoring
works; commits advance on every partition with messages past the commit point; the broker
takes our messages; the share of dead letters stays below its limit; no robot is muted
(streaming without a cycle closing); no robot is refused for the robot limit.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

LIVENESS_TIMEOUT_S = 30.0  # the housekeeper ticks every 0.25 s; a loop this late is stuck
WINDOW_S = 60.0  # dead-letter share, scoring errors and refusals: over the last minute


@dataclass
class Health:
    started: float = field(default_factory=time.monotonic)
    heartbeat: float = field(default_factory=time.monotonic)
    broker_ok: bool = False
    last_broker_ok: float = 0.0
    broker_error: str | None = "not connected yet"
    topics_missing: list[str] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)
    _messages: deque[tuple[float, bool]] = field(default_factory=deque)  # (time, dead-lettered)
    _scoring: deque[tuple[float, str | None]] = field(default_factory=deque)  # (time, error or None)
    _refused: deque[float] = field(default_factory=deque)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def broker(self, ok: bool, error: str | None = None) -> None:
        self.broker_ok = ok
        if ok:
            self.last_broker_ok, self.broker_error = time.monotonic(), None
        else:
            self.broker_error = error

    def message(self, dead_lettered: bool) -> None:
        self._messages.append((time.monotonic(), dead_lettered))

    def scored(self, error: str | None = None) -> None:
        self._scoring.append((time.monotonic(), error))

    def refused(self) -> None:
        self._refused.append(time.monotonic())

    def _trim(self, now: float) -> None:
        for window in (self._messages, self._scoring):
            while window and now - window[0][0] > WINDOW_S:
                window.popleft()
        while self._refused and now - self._refused[0] > WINDOW_S:
            self._refused.popleft()

    def livez(self) -> tuple[bool, dict[str, object]]:
        late = time.monotonic() - self.heartbeat
        ok = late < LIVENESS_TIMEOUT_S
        return ok, {"alive": ok, "loop_heartbeat_s_ago": round(late, 1), "uptime_s": self.uptime()}

    def uptime(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def checks(
        self,
        *,
        stalled: list[str],
        delivery_failing: dict[str, str],
        muted: list[str],
        dead_letter_limit: float,
    ) -> dict[str, str | None]:
        """Each readiness check: None when fine, else the reason."""
        now = time.monotonic()
        self._trim(now)
        dead = sum(d for _, d in self._messages)
        share = dead / len(self._messages) if self._messages else 0.0
        errors = [e for _, e in self._scoring if e is not None]
        scoring_broken = bool(errors) and self._scoring[-1][1] is not None
        return {
            "broker": None if self.broker_ok else f"broker unreachable: {self.broker_error}",
            "topics": f"missing topics: {', '.join(self.topics_missing)}" if self.topics_missing else None,
            "scoring": f"scoring fails: {errors[-1]}" if scoring_broken else None,
            "commits": f"commits not advancing on {', '.join(stalled)}" if stalled else None,
            "delivery": "; ".join(f"{t}: {r}" for t, r in delivery_failing.items()) or None,
            "dead_letters": (
                f"{share:.0%} of the last {len(self._messages)} messages were dead-lettered "
                f"(limit {dead_letter_limit:.0%})"
                if len(self._messages) >= 20 and share > dead_letter_limit
                else None
            ),
            "muted_robots": f"{len(muted)} robot(s) stream without closing a cycle: {', '.join(muted[:10])}"
            if muted
            else None,
            "robot_limit": (
                f"{len(self._refused)} frame(s) of robots over the limit refused in the last minute"
                if self._refused
                else None
            ),
        }


def readiness(checks: dict[str, str | None], details: dict[str, object]) -> tuple[bool, dict[str, object]]:
    reasons = [r for r in checks.values() if r is not None]
    return not reasons, {"ready": not reasons, "reasons": reasons, **details}
