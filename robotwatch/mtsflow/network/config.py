"""Architecture of an MTS-Flow, as stored in a model file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FlowConfig(BaseModel):
    """The defaults are those of thesis §8.1 and the official voraus-AD code (100 Hz).

    At 500 Hz the thesis uses `dilation=10`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_signals: int = Field(130, ge=2)
    n_blocks: int = Field(4, ge=1)
    scale: int = Field(2, ge=1, description="hidden channels = scale * n_signals")
    kernel_size: int = Field(13, ge=1)
    dilation: int = Field(2, ge=1)
    clamp: float = Field(1.2, gt=0)
    clamp_form: Literal["official", "thesis"] = Field(
        "official",
        description="official: clamp*0.636*atan(s) as the voraus-AD code computes it; "
        "thesis: (2*clamp/pi)*atan(s/clamp) as the thesis prints it",
    )
    permutation_seed: int = 0

    @model_validator(mode="after")
    def _odd_kernel(self) -> FlowConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd for 'same' padding")
        return self

    @property
    def halo(self) -> int:
        """How far (in steps) one subnet convolution reaches to each side."""
        return self.dilation * (self.kernel_size - 1) // 2
