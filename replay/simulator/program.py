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
    lead_in: int  # steps before the cycle: the end of the previous cycle, not in the table
    previous_set_down: int  # step at which the previous cycle's can stands on the table
    previous_release: int  # step at which the previous cycle's valve closes

    @property
    def n_steps(self) -> int:
        return len(self.q)

    def span(self, action: Action) -> tuple[int, int]:
        """First and one-past-last step of an action (counted from the start of the lead-in)."""
        end = self.starts[action + 1] if action + 1 < len(self.starts) else self.n_steps
        return int(self.starts[action]), int(end)


def tool_down(yaw: float) -> np.ndarray:
    """Tool orientation pointing straight down, turned by `yaw` about the vertical."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def turn_about_vertical(rotation: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ rotation


def reach(
    arm: Arm, tcp: np.ndarray, position: np.ndarray, rotation: np.ndarray, seed: np.ndarray
) -> np.ndarray:
    """Joint positions that put the tool at `position` with `rotation`.

    The seed's base angle is first turned towards the target, so that Newton's method
    starts in the right half of the workspace and keeps the seed's elbow configuration.
    """
    seed = np.array(seed, dtype=float)
    tip = body_point(forward(arm, seed[None]), 6, tcp)[0]
    turn = _wrap(np.arctan2(position[1], position[0]) - np.arctan2(tip[1], tip[0]))
    seed[0] += turn * arm.sign[0]
    q = inverse(arm, tcp, position[None], rotation, seed)[0]
    return seed + _wrap(q - seed)  # the equivalent angles nearest the seed


def _wrap(angle: np.ndarray | float) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


Targets = tuple[np.ndarray, np.ndarray, np.ndarray]  # q, qd, qdd, each (T, 6)


class Cell:
    """The taught program of one cell; plans the commanded motion of any of its cycles.

    What every cycle shares (the scan pose, the way down to the place position and back)
    is planned once; what varies (where the can stands, the standing times) per cycle.
    """

    def __init__(self, profile: CellProfile, arm: Arm) -> None:
        self.arm = arm
        self.dt = 1.0 / profile.controller.rate_hz
        self.tcp = np.array(profile.tool.tcp)
        self.motion = profile.motion
        cell = profile.cell
        self.scan = np.array(cell.scan_joints)
        self.up = np.array([0.0, 0.0, cell.approach_height])
        self.can_position = np.array(cell.can_position)
        # the taught poses are joint poses (as a teach pendant stores them); the tool keeps
        # the orientation it has above the place position, turned with the base
        self.over_place = np.array(cell.over_place_joints)
        frames = forward(arm, self.over_place[None])
        self.tool_rotation = frames.rot[0, 6]
        tip = body_point(frames, 6, self.tcp)[0]
        self.place_heading = float(np.arctan2(tip[1], tip[0]))
        self.place_down = self._lin(self.over_place, tip - self.up)
        self.lead_in = self._previous_end(profile)

    def _previous_end(self, profile: CellProfile) -> tuple[list[Targets], int, int]:
        """The end of the cycle before (a normal one, its can at the taught spot): the move to
        the place position, setting the can down, releasing it, going up, standing. Every axis's last
        move before the cycle is in it, and with it the friction, integrator and stiction
        state a real cycle inherits, not an idealized rest."""
        dwell = profile.cell.dwell_s
        rotation = turn_about_vertical(
            self.tool_rotation,
            float(np.arctan2(self.can_position[1], self.can_position[0])) - self.place_heading,
        )
        over_pick = reach(self.arm, self.tcp, self.can_position + self.up, rotation, self.over_place)
        moves = [
            self._ptp(over_pick, self.over_place),
            _stand(self.over_place, dwell[5], self.dt),
            self.place_down,
            _stand(self.place_down[0][-1], dwell[6], self.dt),
            _reverse(self.place_down),
            _stand(self.over_place, dwell[7], self.dt),
        ]
        lengths = np.cumsum([len(m[0]) for m in moves])
        return moves, int(lengths[2]), int(lengths[3])

    def _lin(self, start: np.ndarray, goal: np.ndarray) -> Targets:
        """Straight tool move from joint pose `start` to position `goal`, on the step grid."""
        m = self.motion
        tip = body_point(forward(self.arm, start[None]), 6, self.tcp)[0]
        length = float(np.linalg.norm(goal - tip))
        shape = double_s(Limits(m.lin_velocity / length, m.lin_acceleration / length, m.lin_jerk / length))
        shape = shape.on_grid(self.dt)
        return lin_targets(self.arm, self.tcp, start, goal, shape, _grid(shape.duration, self.dt))

    def _ptp(self, start: np.ndarray, goal: np.ndarray) -> Targets:
        m = self.motion
        limits = (np.array(m.joint_velocity), np.array(m.joint_acceleration), np.array(m.joint_jerk))
        shape = ptp_profile(start, goal, *limits).on_grid(self.dt)
        return ptp_targets(start, goal, shape, _grid(shape.duration, self.dt))

    def program(self, can_offset: np.ndarray, yaw_offset: float, dwell_s: np.ndarray) -> Program:
        """The commanded motion of a cycle whose can top stands `can_offset` (x, y) from the
        taught spot (picked with the tool turned by `yaw_offset`); `dwell_s`: the 8
        standing times."""
        pick = self.can_position + np.array([can_offset[0], can_offset[1], 0.0])
        heading = float(np.arctan2(pick[1], pick[0])) - self.place_heading
        rotation = turn_about_vertical(self.tool_rotation, heading + yaw_offset)
        over_pick = reach(self.arm, self.tcp, pick + self.up, rotation, self.over_place)
        pick_down = self._lin(over_pick, pick)
        place_up = _reverse(self.place_down)
        previous, set_down, release = self.lead_in
        moves: list[Targets] = [
            _stand(self.over_place, dwell_s[0], self.dt),
            self._ptp(self.over_place, self.scan),
            _stand(self.scan, dwell_s[1], self.dt),
            self._ptp(self.scan, over_pick),
            _stand(over_pick, dwell_s[2], self.dt),
            pick_down,
            _stand(pick_down[0][-1], dwell_s[3], self.dt),
            _reverse(pick_down),
            _stand(over_pick, dwell_s[4], self.dt),
            self._ptp(over_pick, self.over_place),
            _stand(self.over_place, dwell_s[5], self.dt),
            self.place_down,
            _stand(self.place_down[0][-1], dwell_s[6], self.dt),
            place_up,
            _stand(self.over_place, dwell_s[7], self.dt),
        ]
        # The cycle starts where the previous one ended: after UP_PLACE_LIN. The end of the
        # previous cycle runs first (lead-in, not written).
        lead_in = sum(len(m[0]) for m in previous)
        lengths = [len(m[0]) for m in moves]
        q, qd, qdd = (np.concatenate([m[i] for m in previous] + [m[i] for m in moves]) for i in range(3))
        starts = lead_in + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        action = np.concatenate(
            [
                np.full(lead_in, Action.UP_PLACE_LIN, dtype=np.uint8),
                np.repeat(np.arange(15, dtype=np.uint8), lengths),
            ]
        )
        return Program(
            dt=self.dt,
            q=q,
            qd=qd,
            qdd=qdd,
            action=action,
            starts=starts,
            vacuum_on=int(starts[Action.VOID_4]),
            vacuum_off=int(starts[Action.VOID_7]),
            lead_in=lead_in,
            previous_set_down=set_down,
            previous_release=release,
        )


def _stand(pose: np.ndarray, seconds: float, dt: float) -> Targets:
    n = max(1, round(seconds / dt))
    return np.repeat(pose[None], n, axis=0), np.zeros((n, 6)), np.zeros((n, 6))


def _reverse(move: Targets) -> Targets:
    """The same path backwards in time (exact, as every move ends on a step)."""
    q, qd, qdd = move
    return q[::-1], -qd[::-1], qdd[::-1]


def _grid(duration: float, dt: float) -> np.ndarray:
    """Sample times of a move: every controller step until and including its end."""
    return np.arange(round(duration / dt) + 1) * dt
