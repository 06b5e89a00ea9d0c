"""Why serve falls behind with cores to spare: a forward pass beside a busy Python loop.

    python tests/bench/bench_interpreter_lock.py

serve's scoring thread shares one interpreter with its event loop, which decodes and
assembles every frame in Python. A forward pass is a few hundred tensor operations; each
releases the interpreter lock while it computes and must take it back from the loop after.
This times one forward pass (100 Hz model, T = 1150, one CPU thread) alone and beside a loop
busy in Python for a given share of the time: once as a thread of the same process (serve
today), once as a process of its own; the three columns of a row one after the other.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as ProcessEvent

import torch

from robotwatch.mtsflow.network import FlowConfig, MTSFlow

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


def main() -> None:
    torch.set_num_threads(1)
    flow = MTSFlow(FlowConfig(n_signals=130, dilation=2)).eval().requires_grad_(False)
    x = torch.randn(1, 130, 1150, generator=torch.Generator().manual_seed(0))
    print("forward pass, 100 Hz model (T = 1150, batch 1), one CPU thread; ms per cycle")
    print("loop busy | alone | beside a thread | beside a process")
    for duty in DUTIES:
        alone = forward_ms(flow, x)
        with loop_running("thread", duty):
            thread = forward_ms(flow, x)
        with loop_running("process", duty):
            process = forward_ms(flow, x)
        print(f"{duty:9.0%} | {alone:5.1f} | {thread:15.1f} | {process:16.1f}")


if __name__ == "__main__":
    main()
