"""The two ways a trained MTS-Flow scores a cycle (README: the presets). The flow is trained
the same way for both; a model file's card names its preset.

thesis       the NLL of the whole cycle, as the thesis and the official voraus-AD code score it
recommended  the most abnormal of four views of the same forward pass: the whole cycle, its
             worst stretch, its worst latent channel's energy and offset
             (robotwatch.mtsflow.recommended_score)
"""

from typing import Literal

Preset = Literal["thesis", "recommended"]
DEFAULT_PRESET: Preset = "recommended"
