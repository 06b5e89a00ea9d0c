"""Image- and pixel-level AUROC on an MVTec-layout test set, and the PNG report."""
