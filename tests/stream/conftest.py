from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from replay.schema import SIGNAL_GROUPS
from tests.stream.broker import Broker, ServeProcess

SIGNALS = list(SIGNAL_GROUPS["electrical"])  # 40 signals keep the frames small


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


@pytest.fixture(scope="session")
def stream_cell(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[int]]:
    """A small simulated cell and a small MTS-Flow (2 blocks, 40 signals, 50 Hz) trained on it."""
    from replay import VorausFile
    from replay.simulator import load_profile, write_dataset
    from robotwatch.mtsflow.fit import FitOptions, TrainingSettings, fit_model
    from robotwatch.mtsflow.model_file import save_model

    folder = tmp_path_factory.mktemp("stream")
    cell = folder / "cell.parquet"
    write_dataset(cell, load_profile("default"), n_cycles=24, rate=100, seed=11)
    model = fit_model(
        cell,
        FitOptions(signals=tuple(SIGNALS), rate_hz=50, scale=1, n_blocks=2, kernel_size=5),
        TrainingSettings(epochs=1, batch_size=4),
    )
    path = folder / "model.rwmodel"
    save_model(model, path)
    test_samples = [i.sample for i in VorausFile(cell).cycle_infos() if not i.is_train]
    return cell, path, test_samples
