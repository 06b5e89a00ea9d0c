"""The voraus-AD table format, its reader and writer, the replayer and the cell simulator."""

from replay.cycle import Cycle
from replay.errors import VorausFormatError
from replay.reader import CycleInfo, VorausFile, read_cycles
from replay.writer import VorausWriter

__all__ = ["Cycle", "CycleInfo", "VorausFile", "VorausFormatError", "VorausWriter", "read_cycles"]
