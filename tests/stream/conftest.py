from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stream.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh in-memory Kafka-protocol broker per test."""
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        b.stop()
