"""Hot reload (docs/architecture.md §9): watch the registry's model files, load a new one off
the event loop, check it, and swap it in between cycles; a file that fails the check keeps the
old model and says why. A SIGHUP reads the registry from the settings again (new robots,
new globs) and checks at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from robotwatch.fleet.registry import ModelRegistry, load_checked
from robotwatch.stream.metrics import ServiceMetrics
from rwcore.errors import UserError

log = logging.getLogger("robotwatch.models")


class ModelWatcher:
    def __init__(
        self, registry: ModelRegistry, metrics: ServiceMetrics, poll_s: float, config: Path | None = None
    ) -> None:
        self.registry, self.metrics, self.poll_s, self.config = registry, metrics, poll_s, config
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="robotwatch-models")
        self._now = asyncio.Event()
        self.publish_info()

    def request(self) -> None:
        """SIGHUP: read the registry from the settings again, and look at the files now."""
        self._now.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):  # a poll interval, or a SIGHUP before it
                await asyncio.wait_for(self._now.wait(), self.poll_s)
            if self._now.is_set():
                self._now.clear()
                self._reread()
            for pattern, path in self.registry.stale():
                started = time.monotonic()
                loaded = self.registry.loaded_file(path)  # another pattern names the same file
                try:
                    if loaded is None:
                        loaded = await loop.run_in_executor(
                            self._executor, load_checked, path, self.registry.device
                        )
                except (UserError, OSError, RuntimeError, ValueError) as exc:
                    self.registry.refuse(pattern, path, str(exc))
                    self.metrics.model_refusals.inc()
                    log.error("model for %s: %s refused, the old model stays: %s", pattern, path, exc)
                    continue
                old = self.registry.swap(pattern, loaded)
                self.metrics.model_swaps.inc()
                log.info("model for %s: %s -> %s (%s), checked in %.2f s", pattern,
                         old.model_id if old else "none", loaded.model_id, path,
                         time.monotonic() - started)  # fmt: skip
                self.publish_info()

    def _reread(self) -> None:
        if self.config is None:
            return
        from robotwatch.config import load
        from robotwatch.stream.settings import ServeSettings, model_files

        try:
            settings, _ = load(ServeSettings, self.config)
            self.registry.set_files(model_files(settings))
        except UserError as exc:
            log.error("SIGHUP: %s; the registry stays as it was", exc)
            return
        log.info("SIGHUP: registry read again from %s: %d pattern(s)", self.config, len(self.registry.files))

    def publish_info(self) -> None:
        gauge = self.metrics.model_info
        gauge.clear()
        for entry in self.registry.info():
            gauge.labels(str(entry["robots"]), str(entry["model_id"]), str(entry["program"])).set(1)

    def close(self) -> None:
        self._executor.shutdown(wait=False)
