"""Invertible building blocks shared by DifferNet, CS-Flow and the AST teacher."""

from vision.flows.coupling import ActNorm, AffineCoupling, ChannelPermutation, Flow, soft_clamp
from vision.flows.likelihood import negative_log_likelihood

__all__ = ["ActNorm", "AffineCoupling", "ChannelPermutation", "Flow", "negative_log_likelihood", "soft_clamp"]
