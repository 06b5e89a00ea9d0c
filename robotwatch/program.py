"""A robot's program: its ordered steps, each with the code the controller sends in `action`,
a name and whether the robot moves in it, and how a cycle starts (docs/architecture.md §9).

The voraus-AD pick-and-place program is the built-in default; a cell describes its own in
TOML:

    [program]
    name = "palletizer 3"
    cycle_start = "first_step"      # or "counter" (the frames' cycle counter), or "auto"
    steps = [
      {code = 20, name = "WAIT_PART", moving = false},
      {code = 21, name = "TO_PICK", moving = true},
      ...
    ]

`first_step`: a cycle starts where the action enters the first step's code (so that code
must appear nowhere else in the cycle); `counter`: where the frames' cycle counter changes;
`auto` (the default): the counter when frames carry one, else the first step.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from replay.schema import Action
from rwcore.errors import UserError


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: int = Field(ge=0, le=255, description="the `action` value the controller sends")
    name: str = Field(min_length=1)
    moving: bool


class Program(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "program"
    cycle_start: Literal["auto", "counter", "first_step"] = "auto"
    steps: list[Step] = Field(min_length=2)

    @model_validator(mode="after")
    def _distinct(self) -> Program:
        codes = [s.code for s in self.steps]
        if len(set(codes)) != len(codes):
            raise ValueError(f"step codes must be distinct, got {codes}")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be distinct, got {names}")
        return self

    @property
    def first_code(self) -> int:
        return self.steps[0].code

    def name_of(self, code: int) -> str:
        for step in self.steps:
            if step.code == code:
                return step.name
        return f"code {code}"

    def unknown(self, codes: Iterable[int]) -> list[int]:
        """The codes among `codes` that are no step of this program."""
        known = {s.code for s in self.steps}
        # asked for every frame's action codes: unique them in numpy, not one by one
        return [int(c) for c in np.unique(np.asarray(codes, dtype=np.int64)) if int(c) not in known]


VORAUS_AD = Program(
    name="voraus-AD pick and place",
    cycle_start="auto",
    steps=[Step(code=int(a), name=a.name, moving=bool(a % 2)) for a in Action],
)


def program_from_toml(path: Path) -> Program:
    """The `[program]` table of a TOML file; the voraus-AD program when it has none."""
    from robotwatch.config import read_toml

    table = read_toml(path).get("program")
    if table is None:
        return VORAUS_AD
    try:
        return Program.model_validate(table)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UserError(f"{path}: [program]: {problems}") from None
