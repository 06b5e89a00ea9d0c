"""The figures that hold a simulated cell against the real voraus-AD cell (issue 13's first table).

Every figure that the real excerpt (the first second of four real cycles at 100 Hz) can give
is computed by `excerpt_figures` from a voraus-AD table, the same code for the excerpt and
for a simulated file: both are cut to the first second of their normal cycles. What the
excerpt cannot show (whole cycles) `cycle_figures` computes from a simulated file alone;
the real values of those are the published ones (`PUBLISHED`). `compare` puts the two side
by side with the band each figure must meet.

The first second of a cycle: the robot stands (~0.53 s) over the place position, then starts
TO_SCAN_PTP. "Standing" rows end 5 rows before the motion onset, "moving" rows start 10 rows
after it (the jerk-limited start is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from os import PathLike

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from replay.schema import Action, Category, Variant

FIRST_SECOND_S = 1.0
AXES = range(1, 7)
HF_GROUPS: dict[str, tuple[str, ...]] = {  # signals whose 2nd-difference content is compared
    "torque sensors": ("torque_sensor_a", "torque_sensor_b"),
    "motor_iq": ("motor_iq",),
    "motor_voltage": ("motor_voltage",),
    "joint_velocity": ("joint_velocity",),
}
SPREAD_AXES = (1, 4, 5, 6)
MODEL_ERROR_AXES = (1, 2, 3, 4)
_A1_FRICTION = (int(Variant.A1_A), int(Variant.A1_B))
_AXIS_NAMES = (
    "target_position",
    "target_velocity",
    "target_acceleration",
    "target_torque",
    "computed_torque",
    "joint_position",
    "joint_velocity",
    "motor_torque",
    "motor_iq",
    "motor_voltage",
    "torque_sensor_a",
    "torque_sensor_b",
)
META = ("time", "sample", "category", "setting", "action")
COLUMNS = META + tuple(f"{name}_{a}" for name in _AXIS_NAMES for a in AXES)
# Published figures of the whole real cycle (the excerpt holds only its first second):
# the cycle length of the voraus-AD paper (~11 s; the excerpt's PRE_B cycle lasts 10.75 s),
# and the thesis's remark that the first ~4.5 s of all cycles are alike, i.e. the move to
# the can (the first can-dependent motion) starts about then.
PUBLISHED = {"cycle length [s]": 11.0, "start of the move to the can [s]": 4.5}


def read_first_seconds(path: str | PathLike[str]) -> pd.DataFrame:
    """The first second of every cycle of a voraus-AD file, only the columns the figures use
    (a whole 100 Hz file would need ~1 GB)."""
    table = pq.read_table(path, columns=list(COLUMNS), filters=pc.field("time") < FIRST_SECOND_S)
    return table.to_pandas().reset_index(drop=True)


def read_timing(path: str | PathLike[str]) -> pd.DataFrame:
    """Time, action and commanded speeds of every row: what the whole-cycle figures use."""
    columns = ["time", "sample", "category", "action", *(f"target_velocity_{a}" for a in AXES)]
    return pq.read_table(path, columns=columns).to_pandas().reset_index(drop=True)


def _moving(frame: pd.DataFrame) -> np.ndarray:
    speed = np.abs(frame[[f"target_velocity_{a}" for a in AXES]].to_numpy()).max(axis=1)
    return speed > 0


def onset_time(cycle: pd.DataFrame) -> float:
    """When the first motion starts (s), finer than a row: the move starts with a constant
    jerk, v = j t²/2 and a = j t, so at the first moving row the motion began 2 v / a earlier."""
    speeds = cycle[[f"target_velocity_{a}" for a in AXES]].to_numpy()
    first = int(np.flatnonzero(np.abs(speeds).max(axis=1) > 0)[0])
    axis = int(np.argmax(np.abs(speeds[first]))) + 1
    v = cycle[f"target_velocity_{axis}"].to_numpy()[first]
    a = cycle[f"target_acceleration_{axis}"].to_numpy()[first]
    return float(cycle["time"].to_numpy()[first] - (2 * v / a if a != 0 else 0.0))


def _split(cycle: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    onset = int(np.flatnonzero(_moving(cycle))[0])
    return cycle.iloc[: max(onset - 5, 2)], cycle.iloc[onset + 10 :]


def _hf(values: np.ndarray) -> float:
    return float(np.std(np.diff(values, 2)))


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def _lag_rows(moving: pd.DataFrame) -> float:
    """How far the measured joint position trails its target, in rows: the delay tau that
    best explains joint(t) = target(t - tau) ~ target(t) - tau v(t), over the moving axes."""
    row = float(np.median(np.diff(moving["time"].to_numpy())))
    lags = []
    for a in AXES:
        v = moving[f"target_velocity_{a}"].to_numpy()
        if np.abs(v).max() < 0.2:  # too slow for the lag to stand out of the noise
            continue
        gap = (moving[f"target_position_{a}"] - moving[f"joint_position_{a}"]).to_numpy()
        lags.append(float(np.sum(gap * v) / np.sum(v * v)) / row)
    return float(np.median(lags))


def excerpt_figures(table: pd.DataFrame) -> dict[str, float]:
    """The figures the real excerpt can give, from the first second of `table`'s normal
    cycles (and of its axis-1 friction cycles for the holding current with more friction)."""
    table = table[table["time"] < FIRST_SECOND_S]
    meta = table.groupby("sample")[["category", "setting"]].first()
    cycles = {int(g["sample"].to_numpy()[0]): g for _, g in table.groupby("sample", sort=True)}
    normal = [cycles[s] for s in meta.index[meta["category"] == Category.NORMAL_OPERATION]]
    if len(normal) < 2:
        raise ValueError("the figures need at least two normal cycles")
    out: dict[str, float] = {}
    splits = [_split(c) for c in normal]
    for group, names in HF_GROUPS.items():
        still, moving = (
            np.array([[[_hf(part[f"{n}_{a}"].to_numpy()) for a in AXES] for n in names] for part in parts])
            for parts in zip(*splits, strict=True)
        )
        out[f"hf in motion, {group}"] = float(np.median(moving.mean(axis=0)))
        out[f"rise {group}, standing to moving"] = float(np.median(moving.mean(axis=0) / still.mean(axis=0)))
    pooled = pd.concat(normal)
    for a in AXES:
        x = pooled[f"motor_iq_{a}"].to_numpy()
        out[f"R2 motor_torque~motor_iq {a}"] = _r2(x, pooled[f"motor_torque_{a}"].to_numpy())
    for a in AXES:
        error = (pooled[f"target_position_{a}"] - pooled[f"joint_position_{a}"]).to_numpy()
        out[f"R2 target_torque~tracking error {a}"] = _r2(error, pooled[f"target_torque_{a}"].to_numpy())
    standing = pd.concat([s for s, _ in splits])
    for a in MODEL_ERROR_AXES:
        sensed = 0.5 * (standing[f"torque_sensor_a_{a}"] + standing[f"torque_sensor_b_{a}"])
        out[f"model error at rest {a} [Nm]"] = float((standing[f"computed_torque_{a}"] - sensed).mean())
    rest_iq = np.array([[s[f"motor_iq_{a}"].mean() for a in AXES] for s, _ in splits])
    out["motor_iq_1 at rest [A]"] = float(rest_iq[:, 0].mean())
    friction = (meta["category"] == Category.AXIS_FRICTION) & meta["setting"].isin(_A1_FRICTION)
    if friction.any():
        held = [_split(cycles[s])[0]["motor_iq_1"].mean() for s in meta.index[friction]]
        out["motor_iq_1 at rest, axis-1 friction [A]"] = float(np.mean(held))
    for a in SPREAD_AXES:
        out[f"spread of rest motor_iq {a} [A]"] = float(np.std(rest_iq[:, a - 1], ddof=1))
    out["lag joint behind target [rows]"] = float(np.median([_lag_rows(m) for _, m in splits]))
    out["onset std [ms]"] = float(np.std([onset_time(c) for c in normal], ddof=1) * 1000)
    out["axis 5 range [rad]"] = float(np.mean([np.ptp(c["joint_position_5"].to_numpy()) for c in normal]))
    out["mean joint_position_2 [rad]"] = float(pooled["joint_position_2"].mean())
    out["gravity torque axis 3 [Nm]"] = float(standing["torque_sensor_a_3"].mean())
    return out


def cycle_figures(timing: pd.DataFrame) -> dict[str, float]:
    """Whole-cycle timing of the normal cycles of a simulated table (see `read_timing`)."""
    meta = timing.groupby("sample")["category"].first()
    lengths, can_moves, standing = [], [], []
    for s, g in timing.groupby("sample", sort=True):
        if meta[s] != Category.NORMAL_OPERATION:
            continue
        time, action = g["time"].to_numpy(), g["action"].to_numpy()
        row = float(np.median(np.diff(time)))
        lengths.append(len(g) * row)
        moving = _moving(g)
        scan = np.flatnonzero(action == Action.VOID_2)[0]  # the move to the can leaves the scan pose
        can_moves.append(time[scan + int(np.flatnonzero(moving[scan:])[0])])
        standing.append(float(np.sum(~moving)) * row)
    length, stand = np.array(lengths), np.array(standing)
    cov = np.cov(stand, length)
    return {
        "cycle length [s]": float(length.mean()),
        "cycle length std [s]": float(length.std(ddof=1)),
        "start of the move to the can [s]": float(np.mean(can_moves)),
        "start of the move to the can, std [s]": float(np.std(can_moves, ddof=1)),
        # how much of the length's variance the standing phases carry (the regression slope)
        "length variance from standing [share]": float(cov[0, 1] / cov[1, 1]) if cov[1, 1] > 0 else 0.0,
    }


Check = Callable[[float, float], bool]


@dataclass(frozen=True)
class Row:
    figure: str
    real: float
    sim: float
    band: str
    ok: bool


def _factor(factor: float) -> tuple[str, Check]:
    def check(real: float, sim: float) -> bool:
        return bool(np.sign(real) == np.sign(sim) and abs(real) / factor <= abs(sim) <= abs(real) * factor)

    return f"x{factor:g} of real, same sign", check


def _at_most(limit: float) -> tuple[str, Check]:
    return f"<= {limit:g}", lambda real, sim: bool(sim <= limit)


def _between(lo: float, hi: float) -> tuple[str, Check]:
    return f"{lo:g}..{hi:g}", lambda real, sim: bool(lo <= sim <= hi)


def band(figure: str) -> tuple[str, Check]:
    """The band a figure must meet (issue 13, "Done when"): levels and spreads within a
    factor 2 of the real ones with the same sign, the stated bands otherwise."""
    bands: dict[str, tuple[str, Check]] = {
        "lag joint behind target [rows]": _between(0.5, 2.0),
        "onset std [ms]": _at_most(15.0),
        "cycle length [s]": _between(10.5, 11.5),
        "start of the move to the can [s]": _between(4.0, 5.0),
        "start of the move to the can, std [s]": _at_most(0.05),
        "length variance from standing [share]": _at_most(0.5),
        "cycle length std [s]": ("shown", lambda real, sim: True),
    }
    if figure.startswith("R2"):
        return _at_most(0.995)
    return bands.get(figure, _factor(2.0))


def compare(real: dict[str, float], sim: dict[str, float], order: Iterable[str] | None = None) -> list[Row]:
    """Side by side, in `order` (default: the real figures'), each with its band and verdict."""
    rows = []
    for figure in order if order is not None else real:
        if figure not in sim:
            continue
        r = real.get(figure, float("nan"))
        text, check = band(figure)
        rows.append(Row(figure, r, sim[figure], text, check(r, sim[figure])))
    return rows
