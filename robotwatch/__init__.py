"""robotwatch: unsupervised anomaly detection for industrial robot cells."""

__version__ = "0.1.0"
