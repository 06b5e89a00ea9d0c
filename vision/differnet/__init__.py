"""DifferNet (thesis chapter 4): a flow on pooled multi-scale features, gradient maps."""

from vision.differnet.model import DifferNet

__all__ = ["DifferNet"]
