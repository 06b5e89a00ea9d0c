"""The anomaly tables of a cell profile: how strong each of the 12 anomalies is in this cell."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

Vec3 = Annotated[list[float], Field(min_length=3, max_length=3)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Collision(Section):
    force: PositiveFloat = Field(description="peak contact force, N")
    duration: PositiveFloat = Field(description="s")
    link: int = Field(ge=1, le=6)
    point: Vec3 = Field(description="contact point in the link frame, m")
    standing: float = Field(ge=0, le=1, description="share of the events that hit the arm while it stands")


class CableRun(Section):
    """One straight stretch of the cable, tied to one link."""

    link: int = Field(ge=1, le=6)
    start: Vec3 = Field(description="link frame, m")
    end: Vec3


class Cable(Section):
    """A cable tied along the arm with cable ties (the real ENTANGLED anomaly): its weight
    hangs on the links it is tied to, and it resists being bent at the joints it spans."""

    mass_per_m: PositiveFloat = Field(description="kg/m")
    runs: Annotated[list[CableRun], Field(min_length=1)]
    joints: Annotated[list[int], Field(min_length=1)] = Field(description="joints (1..6) the cable spans")
    bending_stiffness: PositiveFloat = Field(description="N·m/rad at each spanned joint")
    damping: NonNegativeFloat = Field(description="N·m·s/rad at each spanned joint")


class Platform(Section):
    mass: PositiveFloat = Field(description="moving mass of the stand without the arm, kg")
    frequency_hz: PositiveFloat = Field(description="a firm stand (every cycle)")
    damping: PositiveFloat
    wobbling_frequency_hz: PositiveFloat = Field(description="the stand of WOBBLING_STATION")
    wobbling_damping: dict[str, PositiveFloat]


class InvalidPosition(Section):
    offset: Annotated[list[float], Field(min_length=2, max_length=2)]
    yaw: float
    delay_s: NonNegativeFloat
    delay_jitter_s: NonNegativeFloat


class AnomalySection(Section):
    friction_increase: dict[str, PositiveFloat]
    weight_point: Annotated[list[Vec3], Field(min_length=6, max_length=6)]
    commutation_deg: dict[str, PositiveFloat]
    collisions: dict[str, Collision]
    cable: Cable
    can_mass: dict[str, PositiveFloat]
    invalid_position: InvalidPosition
    platform: Platform
