"""Training, threshold calibration and batch prediction, the same for every method."""
