"""Build a detector from its config: the one place that maps a method name to its class."""

from __future__ import annotations

from pathlib import Path

from vision.ast import AST
from vision.backbone import Backbone
from vision.config import MethodConfig
from vision.csflow import CSFlow
from vision.detector import Detector
from vision.differnet import DifferNet

DETECTORS: dict[str, type[Detector]] = {"differnet": DifferNet, "csflow": CSFlow, "ast": AST}


def build_detector(config: MethodConfig, backbone_weights: Path | None = None) -> Detector:
    """A fresh detector with its frozen backbone (weights from the package or a local file)."""
    return DETECTORS[config.method](config, Backbone(config.backbone, backbone_weights))
