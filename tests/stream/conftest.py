from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.stream.broker import Broker, ServeProcess


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh in-memory Kafka-protocol broker per test."""
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def start_serve() -> Iterator[Callable[..., ServeProcess]]:
    """Starts serve processes (arguments as ServeProcess) and kills, at teardown, any still running."""
    started: list[ServeProcess] = []

    def start(*args: object, **kwargs: object) -> ServeProcess:
        process = ServeProcess(*args, **kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.proc.poll() is None:
                process.kill()
