"""Why a message is refused: a fixed set of reason kinds, and the error that carries one.

The kind is a metric label and a dead-letter header; the detail (which may quote the
message's own bytes) goes only to the header and the log. Labels from a fixed set keep
`/metrics` bounded whatever an attacker sends.
"""

from __future__ import annotations

from enum import StrEnum

from rwcore.errors import UserError


class RejectKind(StrEnum):
    TRUNCATED = "truncated"  # shorter than a header
    BAD_MAGIC = "bad_magic"
    BAD_VERSION = "bad_version"
    BAD_HEADER = "bad_header"  # absurd sizes, rate or seq; lengths that do not add up
    UNKNOWN_SIGNAL_LIST = "unknown_signal_list"
    BAD_STEPS = "bad_steps"  # action or active out of range
    NON_FINITE = "non_finite"
    BAD_JSON = "bad_json"
    RATE_MISMATCH = "rate_mismatch"  # a rate the model's cannot be brought to
    NO_KEY = "no_key"
    BAD_IMAGE = "bad_image"
    OUT_OF_PROGRAM = "out_of_program"  # an action code that is no step of the robot's program
    ROBOT_LIMIT = "robot_limit"  # more robots than this process takes
    NO_MODEL = "no_model"  # no model in the registry matches the robot
    MODEL_MISMATCH = "model_mismatch"  # frames another signal list or rate than the robot's model
    INTERNAL_ERROR = "internal_error"  # a bug met this message


class Rejected(UserError):
    """A message this service cannot use; `kind` says why in one word, the text in full."""

    def __init__(self, kind: RejectKind, detail: str, robot: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.robot = robot  # the robot the refusal is about, when it is about one
