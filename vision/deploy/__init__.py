"""What the streaming service needs: decode a camera frame, score it, summarize the map."""

from vision.deploy.frames import FrameError, decode_frame
from vision.deploy.maps import save_map_png
from vision.deploy.results import FrameResult, Localization
from vision.deploy.scorer import FrameScorer

__all__ = ["FrameError", "FrameResult", "FrameScorer", "Localization", "decode_frame", "save_map_png"]
