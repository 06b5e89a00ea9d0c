"""Why serve falls behind with cores to spare: a forward pass beside a busy Python loop.

    python tests/bench/bench_interpreter_lock.py

serve's scoring thread shares one interpreter with its event loop, which decodes and
assembles every frame in Python. A forward pass is a few hundred tensor operations; each
releases the interpreter lock while it computes and must take it back from the loop after.
This times one forward pass (100 Hz model, T = 1150, one CPU thread) alone and beside a loop
busy in Python for a given share of the time: once as a thread of the same process (serve
with `scoring_process = false`), once as a process of its own; and, last, the forward pass
through serve's scoring process (robotwatch.stream.scoring_worker, the default) beside the
loop as a thread, cycle and score crossing the pipe each time. The columns of a row run one
after the other.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as ProcessEvent

import numpy as np
import torch

from robotwatch.fleet.registry import LoadedModel, ModelRegistry
from robotwatch.mtsflow.data import Normalizer
from robotwatch.mtsflow.model_file import ModelCard, TrainedModel, TrainingInfo
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.score import Localize
from robotwatch.stream.scoring_worker import ScoringWorker

DUTIES = (0.0, 0.3, 0.5, 1.0)  # share of each 2 ms slice the loop runs Python


def busy_loop(duty: float, stop: threading.Event | ProcessEvent) -> None:
    """Python work for `duty` of every 2 ms, asleep the rest, like an event loop under load."""
    while not stop.is_set():
        began = time.perf_counter()
        while time.perf_counter() - began < 0.002 * duty:
            sum(range(200))
        time.sleep(0.002 * (1 - duty) + 1e-6)


def forward_ms(flow: MTSFlow, x: torch.Tensor, repeats: int = 12) -> float:
    with torch.inference_mode():
        flow(x)
        began = time.perf_counter()
        for _ in range(repeats):
            flow(x)
    return 1000 * (time.perf_counter() - began) / repeats


@contextmanager
def loop_running(kind: str, duty: float) -> Iterator[None]:
    """The busy loop as a thread of this process or as a process of its own."""
    stop: threading.Event | ProcessEvent
    worker: threading.Thread | multiprocessing.process.BaseProcess
    if kind == "thread":
        stop = threading.Event()
        worker = threading.Thread(target=busy_loop, args=(duty, stop))
    else:
        spawn = multiprocessing.get_context("spawn")
        stop = spawn.Event()
        worker = spawn.Process(target=busy_loop, args=(duty, stop))
    worker.start()
    time.sleep(0.5)  # running (a spawned process imports first)
    try:
        yield
    finally:
        stop.set()
        worker.join()


def worker_ms(worker: ScoringWorker, model: LoadedModel, cycle: np.ndarray, repeats: int = 12) -> float:
    worker.score_cycles(model, [cycle], [None], Localize.NONE)
    began = time.perf_counter()
    for _ in range(repeats):
        worker.score_cycles(model, [cycle], [None], Localize.NONE)
    return 1000 * (time.perf_counter() - began) / repeats


def thesis_model(flow: MTSFlow) -> LoadedModel:
    """`flow` as serve loads a model (thesis preset: its score is one forward pass)."""
    signals, steps = flow.config.n_signals, 1150
    training = TrainingInfo(data="none", seed=0, seconds=0.0, n_train_cycles=0, n_calibration_cycles=0,
                            epochs=0, batch_size=1, learning_rate=0.0, final_loss=0.0)  # fmt: skip
    card = ModelCard(flow=flow.config, signals=[f"s{i}" for i in range(signals)], sample_rate_hz=100.0,
                     padded_length=steps, threshold=0.0, target_fpr=0.01, calibration_scores=[],
                     training=training)  # fmt: skip
    normalizer = Normalizer(mean=np.zeros(signals, np.float32), std=np.ones(signals, np.float32))
    model = TrainedModel(flow, normalizer, card, gradient_baseline=np.ones(steps, np.float32))
    return ModelRegistry.single(model, "cpu").models["default"]


def main() -> None:
    torch.set_num_threads(1)
    flow = MTSFlow(FlowConfig(n_signals=130, dilation=2)).eval().requires_grad_(False)
    x = torch.randn(1, 130, 1150, generator=torch.Generator().manual_seed(0))
    model, cycle = thesis_model(flow), x[0].T.numpy().copy()
    worker = ScoringWorker("bench scoring", threads=1)
    worker.start()
    print("forward pass, 100 Hz model (T = 1150, batch 1), one CPU thread; ms per cycle")
    print("loop busy | alone | beside a thread | beside a process | scoring process beside a thread")
    try:
        for duty in DUTIES:
            alone = forward_ms(flow, x)
            with loop_running("thread", duty):
                thread = forward_ms(flow, x)
            with loop_running("process", duty):
                process = forward_ms(flow, x)
            with loop_running("thread", duty):
                served = worker_ms(worker, model, cycle)
            print(f"{duty:9.0%} | {alone:5.1f} | {thread:15.1f} | {process:16.1f} | {served:31.1f}")
    finally:
        worker.close()


if __name__ == "__main__":
    main()
