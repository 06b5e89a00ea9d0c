"""MTS-Flow: a normalizing flow over whole multivariate time series (thesis §8.1)."""

from robotwatch.mtsflow.network.config import FlowConfig
from robotwatch.mtsflow.network.flow import MTSFlow

__all__ = ["FlowConfig", "MTSFlow"]
