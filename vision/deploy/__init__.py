"""What the streaming service needs: decode a camera frame, score it, summarize the map."""

from vision.deploy.images import ImageError, decode_image
from vision.deploy.maps import save_map_png
from vision.deploy.results import FrameResult, Localization
from vision.deploy.scorer import FrameScorer

__all__ = ["FrameResult", "FrameScorer", "ImageError", "Localization", "decode_image", "save_map_png"]
