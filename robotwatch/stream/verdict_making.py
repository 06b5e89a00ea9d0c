"""Closed cycles to verdicts: each scored by the model it closed under, cycles that share a model
in one call; a cycle that cannot be scored gets its verdict too, with status "error"."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from robotwatch.fleet.registry import LoadedModel
from robotwatch.mtsflow.localize import Event
from robotwatch.mtsflow.score import CycleScore, Localize
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.verdicts import AxisShare, EventOut, SignalShare, Verdict, iso_ns, verdict_id

log = logging.getLogger("robotwatch.pipeline")
Result = CycleScore | str  # a score, or why there is none
# Scores cycles with a model: in this process, or in serve's scoring process
# (robotwatch.stream.scoring_worker.ScoringWorker.score_cycles).
ScoreCycles = Callable[[LoadedModel, list[np.ndarray], list[np.ndarray | None], Localize], list[CycleScore]]


def in_this_process(
    model: LoadedModel, raw: list[np.ndarray], actions: list[np.ndarray | None], localize: Localize
) -> list[CycleScore]:
    return model.scorer.score_cycles(raw, actions, localize=localize)


def verdicts_for(
    cycles: Sequence[AssembledCycle], localize: Localize, score_cycles: ScoreCycles = in_this_process
) -> list[Verdict]:
    """One verdict per cycle (CPU or GPU work: call it off the event loop). If scoring a batch
    fails, its cycles are scored one by one, so one bad cycle costs only its own verdict."""
    results: dict[int, Result] = {}
    by_model: dict[int, list[AssembledCycle]] = {}
    for cycle in cycles:
        if cycle.error is None and len(cycle.signals) >= 2 and cycle.model is not None:
            by_model.setdefault(id(cycle.model), []).append(cycle)
    for group in by_model.values():
        results.update(_scored(group, localize, score_cycles))
    return [_verdict(c, results.get(id(c))) for c in cycles]


def _scored(cycles: list[AssembledCycle], localize: Localize, score_cycles: ScoreCycles) -> dict[int, Result]:
    model = cycles[0].model
    assert model is not None

    def score(batch: list[AssembledCycle]) -> list[CycleScore]:
        return score_cycles(model, [c.signals for c in batch], [c.actions for c in batch], localize)

    try:
        return dict(zip(map(id, cycles), score(cycles), strict=True))
    except Exception as exc:
        log.warning("scoring a batch of %d failed (%r); scoring its cycles one by one", len(cycles), exc)
    results: dict[int, Result] = {}
    for cycle in cycles:
        try:
            results[id(cycle)] = score([cycle])[0]
        except Exception as alone:
            log.exception("robot %s: scoring cycle %d failed", cycle.robot, cycle.start_seq)
            results[id(cycle)] = f"scoring failed: {type(alone).__name__}: {alone}"
    return results


def _verdict(cycle: AssembledCycle, result: Result | None) -> Verdict:
    model: LoadedModel | None = cycle.model
    card = model.model.card if model is not None else None
    error = cycle.error or (result if isinstance(result, str) else None)
    scored = result if isinstance(result, CycleScore) else None
    note = None
    if scored is None and error is None:
        note = f"{len(cycle.signals)} step(s) at the model's rate: too short to score"
    elif scored is not None and not math.isfinite(scored.score):
        note = "the score is not finite (the flow overflowed): the strongest sign of an anomaly"
    model_id = card.model_id if card is not None else "none"
    return Verdict(
        verdict_id=verdict_id("robot", cycle.robot, f"{cycle.start_seq}@{cycle.start_time_ns}", model_id),
        source="robot",
        robot_id=cycle.robot,
        cycle_id=str(cycle.counter if cycle.counter is not None else cycle.start_seq),
        start_seq=cycle.start_seq,
        end_seq=cycle.end_seq,
        start_time=iso_ns(cycle.start_time_ns),
        end_time=iso_ns(cycle.end_time_ns),
        n_steps=cycle.n_steps,
        sample_rate_hz=card.sample_rate_hz if card is not None else 0.0,
        score=scored.score if scored is not None and math.isfinite(scored.score) else None,
        threshold=card.threshold if card is not None else math.inf,
        anomalous=bool(scored is not None and scored.flagged),
        status="error" if error else "ok",
        error=error,
        note=note,
        events=[_event(e) for e in (scored.events if scored is not None else ())],
        flags=cycle.flags(),
        model_id=model_id,
        processing_latency_ms=round(1000 * (time.monotonic() - cycle.closed_at), 3)
        if cycle.closed_at
        else 0.0,
    )


def _event(event: Event) -> EventOut:
    return EventOut(
        time_s=round(event.time_s, 4),
        action=event.action,
        strength=round(event.strength, 3) if np.isfinite(event.strength) else 0.0,
        top_signals=[SignalShare(signal=s, share=round(v, 4)) for s, v in event.top_signals],
        top_axes=[AxisShare(axis=a, share=round(v, 4)) for a, v in event.top_axes],
    )
