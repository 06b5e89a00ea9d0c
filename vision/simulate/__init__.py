"""A synthetic camera of the robot cell: the can at the pick or place pose, with defects."""

from vision.simulate.scene import DEFECTS
from vision.simulate.writer import SimulationSummary, simulate_dataset

__all__ = ["DEFECTS", "SimulationSummary", "simulate_dataset"]
