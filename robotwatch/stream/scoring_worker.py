"""Forward passes in a process of their own, so that they never wait for serve's event loop.

The event loop decodes and assembles every frame of every robot in Python. A forward pass in
a thread of the same process takes the interpreter's lock back a few hundred times per cycle
and waits each time the busy loop holds it (tests/bench/bench_interpreter_lock.py: 1.3 to 10
times slower); in a process of its own it does not wait. With `scoring_process = true` serve
runs one worker for scoring and one for localization per signal topic
(robotwatch.stream.scoring).

A call (`score_cycles`, from one thread at a time):
1. starts the worker if none runs (spawned, never forked: torch's threads do not survive a
   fork); the worker imports torch once and keeps its models;
2. sends the model the first time this worker sees it (its tensors, as arrays, and card) and
   its token after that, with the tokens of the models serve no longer holds, which the
   worker drops;
3. sends the cycles (raw steps × signals, and their action codes) and which to localize;
4. waits for the scores, or for the exception the worker met, which it raises here.

If the worker dies (killed, out of memory, a crash in native code) or does not answer within
`timeout_s` (then it is killed), the call that saw it raises WorkerDied and the next call
starts a new worker; robotwatch.stream.verdict_making
then scores the batch's cycles one by one, so a cycle that kills the worker costs its own
verdict only. The worker ignores SIGINT and SIGTERM, which a terminal or systemd send to
serve's whole process group, so that serve's graceful shutdown can still score what it holds;
it ends when serve closes its pipe (at the latest when serve's interpreter exits), and when
serve dies, whose end of the pipe closes then.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import multiprocessing
import pickle
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import numpy as np
import torch

from robotwatch.fleet.registry import LoadedModel, plain_cycle
from robotwatch.mtsflow.model_file import ModelCard, from_tensors, model_tensors
from robotwatch.mtsflow.score import CycleScore, Localize, Scorer

log = logging.getLogger("robotwatch.scoring")
STARTUP_S = 300.0  # a worker's imports, on a slow disk
WATCH_S = 0.5  # how often the watchdog looks: one thread per worker, not one per call
Parcel = tuple[dict[str, np.ndarray], ModelCard, str]  # a model's tensors, card, and device


class WorkerDied(RuntimeError):
    """The scoring process ended during a call; the next call starts a new one."""


class ScoringWorker:
    def __init__(self, name: str, threads: int, timeout_s: float = 120.0) -> None:
        """`timeout_s`: longer than any batch takes (64 cycles at 500 Hz with localization,
        on a 2-core CPU: ~20 s); the worker's start (importing torch) has STARTUP_S of its own."""
        self.name, self.threads, self.timeout_s = name, threads, timeout_s
        self.starts = 0
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._held: set[int] = set()  # tokens of the models the running worker holds
        self._watched: set[int] = set()  # models whose end (garbage collection) is watched
        self._gone: deque[int] = deque()  # models serve no longer holds: dropped with the next call
        self._lock = threading.Lock()
        # Set by the worker once it can score. Lock-free shared memory, not an Event: an Event's
        # lock, held by a serve killed at that moment, would keep a new worker from ever starting.
        self._ready = multiprocessing.get_context("spawn").RawValue("b", 0)
        # Exit handlers run last registered first: this one before multiprocessing's own,
        # which would otherwise wait forever for a worker that ignores SIGTERM.
        atexit.register(self.close)
        self._deadline: float | None = None  # of the call in flight (monotonic)
        self._hung = threading.Event()
        threading.Thread(target=self._watch, name=f"robotwatch-{name}-watchdog", daemon=True).start()

    def start(self) -> None:
        """Start the worker now (serve does at start: importing torch takes seconds)."""
        with self._lock:
            if self._pipe is None:
                self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._ready.value = 0
        process = context.Process(
            target=_work,
            args=(theirs, self._ready, self.threads),
            name=f"robotwatch-{self.name}",
            daemon=True,
        )
        process.start()
        theirs.close()  # its end lives in the worker only: a worker that dies shows as EOF here
        self._process, self._pipe, self._held = process, ours, set()
        self.starts += 1
        if self.starts > 1:
            log.warning("%s process started again (start %d)", self.name, self.starts)

    def _await_start(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_S
        while not self._ready.value:
            time.sleep(0.05)
            if not self._process.is_alive() or time.monotonic() > deadline:
                ended = self._stop()
                raise WorkerDied(f"the {self.name} process did not start ({ended})")

    def ready(self) -> bool:
        """Started and done importing (serve is not ready before: it could not score)."""
        return self._pipe is not None and bool(self._ready.value)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def score_cycles(
        self,
        model: LoadedModel,
        raw: Sequence[np.ndarray],
        actions: Sequence[np.ndarray | None],
        localize: Localize,
    ) -> list[CycleScore]:
        """`model.scorer.score_cycles(raw, actions, localize=localize)`, in the worker."""
        with self._lock:
            if self._pipe is None:
                self._start()
            assert self._pipe is not None
            token = model.token
            parcel = None if token in self._held else _parcel(model)
            if token not in self._watched:
                self._watched.add(token)
                weakref.finalize(model, self._forget, token)
            gone = [self._gone.popleft() for _ in range(len(self._gone))]
            self._held.difference_update(gone)
            self._await_start()
            # A worker that hangs blocks the send as well as the answer (the pipe fills):
            # the watchdog kills it, and both fail.
            self._hung.clear()
            self._deadline = time.monotonic() + self.timeout_s
            try:
                self._pipe.send((token, parcel, gone, list(raw), list(actions), localize))
                result, held = self._pipe.recv()
            except (EOFError, OSError) as exc:  # OSError: a broken pipe, on sending
                ended = self._stop()
                hung = self._hung.is_set()
                what = f"did not answer within {self.timeout_s:g} s and was ended" if hung else "died"
                raise WorkerDied(
                    f"the {self.name} process {what} ({ended}); the next batch starts a new one"
                ) from exc
            finally:
                self._deadline = None
            if held:
                self._held.add(token)
        if isinstance(result, BaseException):
            raise result
        return result

    def warm(self, models: Iterable[LoadedModel]) -> None:
        """Send each model and score a plain cycle of its full length with it: a model's first
        forward pass in a new process is slow (its kernels' spectra, its buffers), and the
        first cycles of every robot must not pay for it."""
        for model in models:
            cycle = plain_cycle(model.model, model.model.card.padded_length)
            self.score_cycles(model, [cycle], [None], Localize.NONE)

    def _watch(self) -> None:
        """The watchdog thread: kills a worker whose call runs past its deadline."""
        while True:
            time.sleep(WATCH_S)
            deadline, process = self._deadline, self._process
            if deadline is not None and process is not None and time.monotonic() > deadline:
                self._hung.set()
                process.kill()

    def _forget(self, token: int) -> None:
        # Runs where garbage collection does, maybe inside a call: no lock, atomic steps only.
        self._gone.append(token)
        self._watched.discard(token)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            if self._pipe is not None:
                self._stop(timeout_s)

    def _stop(self, timeout_s: float = 1.0) -> str:
        """End the worker (it leaves when its pipe closes); say how it ended."""
        assert self._pipe is not None and self._process is not None
        self._pipe.close()
        self._process.join(timeout_s)
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
        code = self._process.exitcode
        self._process = self._pipe = None
        return f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"


def _parcel(model: LoadedModel) -> Parcel:
    # numpy, not torch: a pickled tensor would travel as shared memory (/dev/shm, 64 MB in a
    # container by default) through a helper thread of this process.
    arrays = {name: t.numpy() for name, t in model_tensors(model.model).items()}
    return arrays, model.model.card, str(model.scorer.device)


def _work(pipe: Connection, ready: ctypes.c_byte, threads: int) -> None:
    """The worker: score what comes down the pipe until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(threads)
    ready.value = 1
    scorers: dict[int, Scorer] = {}
    while True:
        try:
            token, parcel, gone, raw, actions, localize = pipe.recv()
        except EOFError:
            return
        for dropped in gone:
            scorers.pop(dropped, None)
        result: list[CycleScore] | BaseException
        try:
            if parcel is not None:
                arrays, card, device = parcel
                tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
                scorers[token] = Scorer(from_tensors(tensors, card, "(sent by serve)", device), device)
            result = scorers[token].score_cycles(raw, actions, localize=localize)
        except Exception as exc:
            result = _portable(exc)
        pipe.send((result, token in scorers))


def _portable(exc: Exception) -> Exception:
    """The exception itself where it survives pickling; else one that says the same."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
