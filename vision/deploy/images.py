"""Decode and validate the value of a `cell.frames` message: an encoded PNG or JPEG image.

Every way a frame can be unusable raises `ImageError`, whose message is the reason, so the
service can put the message on the dead-letter topic without knowing image formats.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rwcore.errors import UserError

FORMATS = ("PNG", "JPEG")
_SIGNATURES = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff\xe0": "JPEG",
    b"\xff\xd8\xff\xe1": "JPEG",
    b"\xff\xd8\xff\xdb": "JPEG",
}
MAX_BYTES = 32 * 1024 * 1024
MAX_PIXELS = 40_000_000


class ImageError(UserError):
    """A frame that cannot be scored; str(error) is the reason for the dead-letter topic."""


def decode_image(
    data: bytes,
    expected_size: tuple[int, int] | None = None,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """The frame as a (3, H, W) float32 tensor in [0, 1].

    `expected_size` is (width, height); frames of another size are refused, because a camera
    that changed its resolution or crop no longer shows what the model was trained on.
    """
    if not data:
        raise ImageError("empty frame: the message has no image bytes")
    if len(data) > max_bytes:
        raise ImageError(f"too large: {len(data)} bytes, at most {max_bytes}")
    try:
        img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        claimed = _SIGNATURES.get(data[:4])
        if claimed:  # the bytes start like an image but break off or are damaged
            raise ImageError(f"corrupt image: {claimed} data cannot be decoded ({exc})") from exc
        raise ImageError(f"corrupt image: not a PNG or JPEG ({exc})") from exc
    with img:
        if img.format not in FORMATS:
            raise ImageError(f"unsupported format {img.format}: frames must be PNG or JPEG")
        width, height = img.size
        if width * height > max_pixels:  # checked before decoding: a tiny file can claim a huge image
            raise ImageError(f"too large: {width}×{height} pixels, at most {max_pixels}")
        if expected_size is not None and (width, height) != tuple(expected_size):
            raise ImageError(
                f"wrong size: {width}×{height}, the model expects {expected_size[0]}×{expected_size[1]}"
            )
        if img.mode != "RGB":
            bands = len(img.getbands())
            raise ImageError(f"wrong channels: mode {img.mode} with {bands} channel(s), expected RGB with 3")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"corrupt image: {img.format} data cannot be decoded ({exc})") from exc
        pixels = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(pixels / 255.0).permute(2, 0, 1).contiguous()
