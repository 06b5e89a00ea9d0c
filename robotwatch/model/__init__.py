"""MTS-Flow: a normalizing flow over whole multivariate time series (thesis §8.1)."""

from robotwatch.model.config import FlowConfig
from robotwatch.model.mtsflow import MTSFlow

__all__ = ["FlowConfig", "MTSFlow"]
