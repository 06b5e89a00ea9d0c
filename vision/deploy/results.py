"""The per-frame result the service wraps into its verdict (docs/architecture.md §5)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Localization(BaseModel):
    """Where the frame looks anomalous, in pixels of the frame as received (x right, y down)."""

    peak_x: int
    peak_y: int
    peak_value: float
    bbox: tuple[int, int, int, int] | None = Field(
        description="(x0, y0, x1, y1), x1/y1 exclusive, around all pixels above the map threshold; "
        "None if none are"
    )
    area_fraction: float = Field(description="fraction of the frame above the map threshold")
    map_threshold: float


class FrameResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_id: str
    score: float
    threshold: float
    anomalous: bool
    localization: Localization
    # The map at the frame's resolution; left out of JSON (`model_dump_json`) on purpose.
    anomaly_map: np.ndarray = Field(exclude=True, repr=False)
