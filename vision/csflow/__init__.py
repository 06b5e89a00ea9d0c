"""CS-Flow (thesis chapter 5): a fully convolutional cross-scale flow on three feature maps."""

from vision.csflow.model import CSFlow

__all__ = ["CSFlow"]
