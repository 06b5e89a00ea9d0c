"""The pick-and-place program of the cell: waypoints, moves and standing times of one cycle.

The robot starts above the place position (where the previous cycle ended), moves to the
scan pose, stands while the camera finds the can, moves over the can, goes down in a
straight line, grips by vacuum, goes up, moves over the place position, goes down,
releases, goes up and stands: actions 0..14 of the voraus-AD table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.schema import Action
from replay.simulator.arm import Arm
from replay.simulator.kinematics import body_point, forward, inverse
from replay.simulator.profile import CellProfile
from replay.simulator.trajectory import Limits, double_s, lin_targets, ptp_profile, ptp_targets


@dataclass(frozen=True)
class Program:
    """Commanded motion of one cycle on the controller's clock (T steps of `dt`)."""

    dt: float
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray
    action: np.ndarray  # (T,) the program step each sample belongs to
    starts: np.ndarray  # (15,) first step of every action
    vacuum_on: int  # step at which the valve opens (start of VOID_4)
    vacuum_off: int  # step at which the valve closes (start of VOID_7)

    @property
    def n_steps(self) -> int:
        return len(self.q)

    def span(self, action: Action) -> tuple[int, int]:
        """First and one-past-last step of an action."""
        end = self.starts[action + 1] if action + 1 < len(self.starts) else self.n_steps
        return int(self.starts[action]), int(end)


def tool_down(yaw: float) -> np.ndarray:
    """Tool orientation pointing straight down, turned by `yaw` about the vertical."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def reach(arm: Arm, tcp: np.ndarray, position: np.ndarray, yaw: float, seed: np.ndarray) -> np.ndarray:
    """Joint positions that put the tool, pointing down, at `position`.

    The seed's base angle is first turned towards the target, so that Newton's method
    starts in the right half of the workspace and keeps the seed's elbow configuration.
    """
    seed = np.array(seed, dtype=float)
    tip = body_point(forward(arm, seed[None]), 6, tcp)[0]
    turn = _wrap(np.arctan2(position[1], position[0]) - np.arctan2(tip[1], tip[0]))
    seed[[0, 5]] += turn
    q = inverse(arm, tcp, position[None], tool_down(yaw), seed)[0]
    return seed + _wrap(q - seed)  # the equivalent angles nearest the seed


def _wrap(angle: np.ndarray | float) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class Waypoints:
    scan: np.ndarray
    over_pick: np.ndarray
    pick_position: np.ndarray
    over_place: np.ndarray
    place_position: np.ndarray


def waypoints(profile: CellProfile, arm: Arm, can_offset: np.ndarray, yaw_offset: float = 0.0) -> Waypoints:
    """The joint waypoints for a can whose top is `can_offset` (x, y) from the nominal spot."""
    cell = profile.cell
    tcp = np.array(profile.tool.tcp)
    up = np.array([0.0, 0.0, cell.approach_height])
    pick = np.array(cell.can_position) + np.array([can_offset[0], can_offset[1], 0.0])
    place = np.array(cell.place_position)
    scan = np.array(cell.scan_joints)
    seed = np.array(cell.seed_joints)
    return Waypoints(
        scan=scan,
        over_pick=reach(arm, tcp, pick + up, cell.tool_yaw + yaw_offset, seed),
        pick_position=pick,
        over_place=reach(arm, tcp, place + up, cell.tool_yaw, seed),
        place_position=place,
    )


def build_program(profile: CellProfile, arm: Arm, points: Waypoints, dwell_s: np.ndarray) -> Program:
    """Sample the whole cycle on the controller clock; `dwell_s` are the 8 standing times."""
    dt = 1.0 / profile.controller.rate_hz
    m = profile.motion
    tcp = np.array(profile.tool.tcp)
    vmax, amax, jmax = np.array(m.joint_velocity), np.array(m.joint_acceleration), np.array(m.joint_jerk)
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    starts: list[int] = []
    here = points.over_place
    step = 0

    def add(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray) -> None:
        nonlocal step, here
        starts.append(step)
        pieces.append((q, qd, qdd))
        step += len(q)
        here = q[-1]

    def stand(seconds: float) -> None:
        n = max(1, round(seconds / dt))
        add(np.repeat(here[None], n, axis=0), np.zeros((n, 6)), np.zeros((n, 6)))

    def ptp(goal: np.ndarray) -> None:
        profile_ = ptp_profile(here, goal, vmax, amax, jmax).on_grid(dt)
        add(*ptp_targets(here, goal, profile_, _grid(profile_.duration, dt)))

    def lin_down_up(goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The straight move down to `goal`; the way back up is its exact time reverse."""
        tip = body_point(forward(arm, here[None]), 6, tcp)[0]
        length = float(np.linalg.norm(goal - tip))
        profile_ = double_s(Limits(m.lin_velocity / length, m.lin_acceleration / length, m.lin_jerk / length))
        profile_ = profile_.on_grid(dt)
        q, qd, qdd = lin_targets(arm, tcp, here, goal, profile_, _grid(profile_.duration, dt))
        add(q, qd, qdd)
        return q[::-1], -qd[::-1], qdd[::-1]

    stand(dwell_s[0])
    ptp(points.scan)
    stand(dwell_s[1])
    ptp(points.over_pick)
    stand(dwell_s[2])
    back_up = lin_down_up(points.pick_position)
    stand(dwell_s[3])
    add(*back_up)
    stand(dwell_s[4])
    ptp(points.over_place)
    stand(dwell_s[5])
    back_up = lin_down_up(points.place_position)
    stand(dwell_s[6])
    add(*back_up)
    stand(dwell_s[7])

    q, qd, qdd = (np.concatenate(parts) for parts in zip(*pieces, strict=True))
    starts_arr = np.array(starts)
    action = np.repeat(np.arange(15, dtype=np.uint8), np.diff(np.append(starts_arr, len(q))))
    return Program(
        dt=dt,
        q=q,
        qd=qd,
        qdd=qdd,
        action=action,
        starts=starts_arr,
        vacuum_on=int(starts_arr[Action.VOID_4]),
        vacuum_off=int(starts_arr[Action.VOID_7]),
    )


def _grid(duration: float, dt: float) -> np.ndarray:
    """Sample times of a move: every controller step until and including its end."""
    return np.arange(round(duration / dt) + 1) * dt
