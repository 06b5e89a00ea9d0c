"""The Prometheus metrics of `serve`. Every label comes from a bounded set (reason kinds,
results, call names, partitions, robots that have verdicts), never from what a message
merely claims, so `/metrics` stays small whatever arrives."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OTHER_ROBOTS = "other"


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    robots_labelled: int = 200  # robots with series of their own (ServeSettings.metrics_robots)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter("robotwatch_frames", "Signal frames consumed", registry=r)
        self.camera_frames = Counter("robotwatch_camera_frames", "Camera frames consumed", registry=r)
        self.cycles = Counter(
            "robotwatch_cycles", "Verdicts made, by result (normal, anomalous, error)", ["result"], registry=r
        )
        self.dead_letters = Counter(
            "robotwatch_dead_letters",
            "Messages sent to the dead-letter topic, by reason kind",
            ["reason"],
            registry=r,
        )
        self.dead_letters_skipped = Counter(
            "robotwatch_dead_letters_skipped",
            "Dead letters that could not be sent even truncated",
            registry=r,
        )
        self.robots_refused = Counter(
            "robotwatch_robots_refused", "Frames of robots over the configured limit", registry=r
        )
        # Robot ids are labels only once a robot has a verdict (a valid cycle), never what an
        # attacker writes into keys, and only the first `robots_labelled` of them: a fleet's
        # /metrics stays small (verdicts of the robots beyond count as robot="other").
        self.robot_verdicts = Counter(
            "robotwatch_robot_verdicts", "Verdicts per robot and result", ["robot", "result"], registry=r
        )
        self._labelled: set[str] = set()
        self.without_model = Counter(
            "robotwatch_frames_without_model", "Frames of robots no model in the registry matches", registry=r
        )
        self.mismatched = Counter(
            "robotwatch_frames_mismatched",
            "Frames that do not fit their robot's model (signal list, rate)",
            registry=r,
        )
        self.model_info = Gauge(
            "robotwatch_model_info",
            "Models loaded, by the robots they score",
            ["robot_glob", "model_id", "program"],
            registry=r,
        )
        self.model_swaps = Counter(
            "robotwatch_model_swaps", "Models swapped in without a restart", registry=r
        )
        self.model_refusals = Counter(
            "robotwatch_model_refusals", "New model files refused (the old model kept scoring)", registry=r
        )
        self.scoring_errors = Counter(
            "robotwatch_scoring_errors", "Cycles or frames whose scoring failed (error verdicts)", registry=r
        )
        self.latency = Histogram(
            "robotwatch_verdict_latency_seconds",
            "Cycle end (or frame receipt) to verdict acknowledged",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.lag = Gauge(
            "robotwatch_consumer_lag",
            "Messages behind the partition's end",
            ["topic", "partition"],
            registry=r,
        )
        self.robots = Gauge("robotwatch_robots", "Robots with state in this process", registry=r)
        self.muted_robots = Gauge(
            "robotwatch_muted_robots", "Robots streaming without closing cycles", registry=r
        )
        self.in_flight = Gauge("robotwatch_in_flight", "Work holding a commit position", registry=r)
        self.paused = Gauge("robotwatch_paused", "1 while consumption is paused (backpressure)", registry=r)
        self.broker_up = Gauge("robotwatch_broker_up", "1 when the last broker call succeeded", registry=r)
        self.ready = Gauge("robotwatch_ready", "1 when /readyz says ready", registry=r)
        self.broker_errors = Counter(
            "robotwatch_broker_errors", "Broker calls that failed or timed out", ["call"], registry=r
        )
        self.commits = Counter("robotwatch_commits", "Offset commits", registry=r)
        self.stalled_partitions = Gauge(
            "robotwatch_commit_stalled_partitions", "Partitions whose commit point has not moved", registry=r
        )

    def robot_verdict(self, robot: str, result: str) -> None:
        if robot not in self._labelled and len(self._labelled) < self.robots_labelled:
            self._labelled.add(robot)
        self.robot_verdicts.labels(robot if robot in self._labelled else OTHER_ROBOTS, result).inc()

    def total(self, name: str) -> int:
        """A counter's value summed over its labels, as the registry reports it."""
        return int(
            sum(
                s.value
                for m in self.registry.collect()
                if m.name == name
                for s in m.samples
                if s.name == f"{name}_total"
            )
        )

    def totals(self) -> tuple[int, int, int]:
        """Frames, cycles and dead letters so far."""
        return (
            self.total("robotwatch_frames"),
            self.total("robotwatch_cycles"),
            self.total("robotwatch_dead_letters"),
        )
