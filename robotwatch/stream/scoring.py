"""One source's scoring inside serve: work from its queue to verdicts, in worker threads.

1. Take a batch by deadline (robotwatch.stream.batching): what is queued, as far as the
   oldest waiting cycle's budget allows; never wait for a batch to fill.
2. Score it in the source's worker thread; for robot signals, the thread hands the forward
   passes to a scoring process (robotwatch.stream.scoring_worker) unless `scoring_process`
   is off. Where serve localizes the flagged cycles only, this pass makes no events: a normal
   verdict is published at once.
3. A flagged cycle goes on to the localization queue, whose own worker thread (and process)
   finds its events (input gradients cost about two forward passes) and publishes its one
   verdict then. If localization fails, the verdict goes out as scored, without events.

A piece of work is done (`queue.task_done()`) only when its verdict is published, so serve's
shutdown, which waits for the queues, waits for localization too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from robotwatch.fleet.registry import LoadedModel
from robotwatch.stream.batching import CycleCost, batch_size
from robotwatch.stream.intake import Queued
from robotwatch.stream.scoring_worker import ScoringWorker
from robotwatch.stream.sources import Source, Work
from robotwatch.stream.verdict_making import in_this_process
from robotwatch.stream.verdicts import Verdict

log = logging.getLogger("robotwatch.scoring")
Publish = Callable[[Work, int, Verdict], None]
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may use: its CPU affinity, capped by a container's CPU limit."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
        return cores if quota == "max" else max(1, min(cores, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 here, or a file we cannot read
        return cores


def cpu_threads(configured: int | None, cores: int) -> int:
    """Threads a forward pass on the CPU may use: `configured`, else every core but one.

    The event loop decodes and assembles every frame of every robot; a forward pass on every
    core makes it wait, and the fleet's frames with it (side by side on 2 cores, 100 and 125
    robots at 500 Hz: one thread kept the verdicts closer to real time than two).
    """
    return configured if configured is not None else max(1, cores - 1)


class ScoringStage:
    def __init__(
        self,
        source: Source,
        queue: asyncio.Queue[Queued],
        publish: Publish,
        budget_s: float,
        max_batch: int,
        localize_later: bool,
        process_threads: int | None = None,
        models: Callable[[], Iterable[LoadedModel]] = list,
    ) -> None:
        """`process_threads`: each scoring process's CPU threads (None: score in this process);
        `models`: those a scoring process is sent and warmed with as it starts."""
        self.source, self.queue, self.publish = source, queue, publish
        self.budget_s, self.max_batch, self.localize_later = budget_s, max_batch, localize_later
        self.cost = CycleCost()
        self.later: asyncio.Queue[tuple[Work, int, Verdict]] = asyncio.Queue()
        self._score_thread = ThreadPoolExecutor(1, thread_name_prefix=f"robotwatch-{source.kind}")
        self._events_thread = ThreadPoolExecutor(1, thread_name_prefix=f"robotwatch-{source.kind}-events")
        self.models = models
        threads = process_threads
        self._scoring = ScoringWorker(f"{source.topic} scoring", threads) if threads else None
        self._localizing = (
            ScoringWorker(f"{source.topic} localization", threads) if threads and localize_later else None
        )
        self.workers = [w for w in (self._scoring, self._localizing) if w is not None]
        self._score_with = self._scoring.score_cycles if self._scoring else in_this_process
        self._localize_with = self._localizing.score_cycles if self._localizing else self._score_with

    def tasks(self) -> list[asyncio.Task]:
        for worker in self.workers:
            worker.start()
        tasks = [asyncio.create_task(self._score(), name=f"score {self.source.topic}")]
        if self.localize_later:
            tasks.append(asyncio.create_task(self._localize(), name=f"localize {self.source.topic}"))
        return tasks

    def close(self) -> None:
        for thread in (self._score_thread, self._events_thread):
            thread.shutdown(wait=False)
        for worker in self.workers:
            worker.close()

    async def _warm(self, worker: ScoringWorker | None, thread: ThreadPoolExecutor) -> None:
        if worker is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(thread, worker.warm, self.models())
            except Exception as exc:  # the first cycles will be slower, and say why if it lasts
                log.warning("warming %s failed: %r", worker.name, exc)

    async def _score(self) -> None:
        loop = asyncio.get_running_loop()
        await self._warm(self._scoring, self._score_thread)
        while True:
            batch = [await self.queue.get()]
            oldest_age = time.monotonic() - batch[0][0].started
            n = batch_size(
                self.queue.qsize() + 1, oldest_age, self.cost.per_cycle_s, self.budget_s, self.max_batch
            )
            batch += [self.queue.get_nowait() for _ in range(n - 1)]
            started = time.monotonic()
            work = [w for w, _ in batch]
            verdicts = await loop.run_in_executor(
                self._score_thread, self.source.score, work, not self.localize_later, self._score_with
            )
            self.cost.add(time.monotonic() - started, len(batch))
            for (item, token), verdict in zip(batch, verdicts, strict=True):
                if self.localize_later and verdict.anomalous and verdict.status == "ok":
                    self.later.put_nowait((item, token, verdict))
                else:
                    self._done(item, token, verdict)

    async def _localize(self) -> None:
        loop = asyncio.get_running_loop()
        await self._warm(self._localizing, self._events_thread)
        while True:
            batch = [await self.later.get()]
            while not self.later.empty() and len(batch) < self.max_batch:
                batch.append(self.later.get_nowait())
            work = [w for w, _, _ in batch]
            verdicts = await loop.run_in_executor(
                self._events_thread, self.source.score, work, True, self._localize_with
            )
            for (item, token, scored), verdict in zip(batch, verdicts, strict=True):
                self._done(item, token, scored if verdict.status == "error" else verdict)

    def _done(self, item: Work, token: int, verdict: Verdict) -> None:
        self.publish(item, token, verdict)
        self.queue.task_done()
