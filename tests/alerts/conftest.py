"""Fixtures of the alert tests: the real servers alerts talk to, each stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.servers import Alertmanager, Smtp, Webhook
from tests.stream.conftest import broker  # noqa: F401  (the in-memory Kafka-protocol broker)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path / "alertmanager")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    server = Smtp(tmp_path)
    try:
        yield server
    finally:
        server.stop()
