"""A physics-based simulator of a pick-and-place robot cell that writes voraus-AD tables.

    profile = load_profile("default")            # or a TOML file describing your cell
    write_dataset("cell.parquet", profile, n_cycles=60, seed=0)

Modules, in the order a cycle passes through them: profile and profile_anomalies (the
cell's parameters), arm, kinematics, dynamics (rigid bodies), trajectory and program (the
commanded motion), scenario and anomalies (what differs in this cycle), disturbances and
plant (forces and the arm as the controller meets it), controller (the closed loop), drive
and sensors (the 130 signals), simulate (one cycle, ground truth), plan and dataset (the
split and files). fidelity holds a simulated file against the real voraus-AD excerpt.
"""

from replay.simulator.dataset import truth_path, write_dataset
from replay.simulator.profile import CellProfile, ProfileError, builtin_profiles, load_profile
from replay.simulator.simulate import Simulator, Truth

__all__ = [
    "CellProfile",
    "ProfileError",
    "Simulator",
    "Truth",
    "builtin_profiles",
    "load_profile",
    "truth_path",
    "write_dataset",
]
