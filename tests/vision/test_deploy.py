"""What the streaming service calls: decode real encoded frames, refuse bad ones with the
reason, score a batch with a trained model, summarize and save the map."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vision.deploy import FrameScorer, ImageError, decode_image, save_map_png
from vision.deploy.scorer import summarize
from vision.simulate.render import table_texture
from vision.simulate.writer import render_image


def _encode(array: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return render_image(0, "test", "good", 0, 64, "place", table_texture(64, 0)).rgb


def test_png_and_jpeg_frames_decode_to_the_image(frame: np.ndarray) -> None:
    png = decode_image(_encode(frame), expected_size=(64, 64))
    assert png.shape == (3, 64, 64) and png.dtype == torch.float32
    assert torch.equal(png, torch.from_numpy(frame).permute(2, 0, 1).float() / 255)
    jpeg = decode_image(_encode(frame, "JPEG", quality=95))
    assert (jpeg - png).abs().mean() < 0.02


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda f: b"", "empty frame"),
        (lambda f: b"\x00\x01not an image" * 20, "corrupt image: not a PNG or JPEG"),
        (lambda f: _encode(f)[:300], "corrupt image: PNG data cannot be decoded"),
        (lambda f: _encode(f, "JPEG")[:400], "corrupt image: JPEG data cannot be decoded"),
        (lambda f: _encode(f, "GIF"), "unsupported format GIF"),
        (lambda f: _encode(np.dstack([f, f[..., :1]])), "wrong channels: mode RGBA with 4"),
        (lambda f: _encode(f[..., 0]), "wrong channels: mode L with 1"),
        (lambda f: _encode(f[:, :48]), "wrong size: 48×64, the model expects 64×64"),
    ],
)
def test_bad_frames_raise_frame_error_with_the_reason(frame: np.ndarray, make, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        decode_image(make(frame), expected_size=(64, 64))


def test_limits_on_bytes_and_pixels(frame: np.ndarray) -> None:
    data = _encode(frame)
    with pytest.raises(ImageError, match=f"too large: {len(data)} bytes"):
        decode_image(data, max_bytes=100)
    with pytest.raises(ImageError, match="too large: 64×64 pixels"):
        decode_image(data, max_pixels=1000)


def test_summary_finds_peak_and_box() -> None:
    m = np.zeros((20, 30), np.float32)
    m[5:9, 10:16] = 1.0
    m[6, 12] = 3.0
    loc = summarize(m, map_threshold=0.5)
    assert (loc.peak_x, loc.peak_y, loc.peak_value) == (12, 6, 3.0)
    assert loc.bbox == (10, 5, 16, 9) and loc.area_fraction == pytest.approx(24 / 600)
    assert summarize(m, map_threshold=5.0).bbox is None


def test_scorer_scores_a_batch_of_encoded_frames(trained, cell: Path, tmp_path: Path) -> None:
    scorer = FrameScorer(trained("csflow"), device="cpu")
    assert scorer.frame_size == (128, 128)
    paths = (
        sorted((cell / "test" / "good").glob("*.png"))[:2]
        + sorted((cell / "test" / "wrong_label").glob("*.png"))[:2]
    )
    frames = [scorer.decode(p.read_bytes()) for p in paths]
    results = scorer.score(frames)
    assert len(results) == 4
    for result in results:
        assert result.model_id == scorer.model_id and result.model_id.startswith("csflow-")
        assert result.anomaly_map.shape == (128, 128)
        assert result.anomalous == (result.score > result.threshold)
        loc = result.localization
        if loc.bbox is not None:
            x0, y0, x1, y1 = loc.bbox
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
            assert x0 <= loc.peak_x < x1 and y0 <= loc.peak_y < y1
        dumped = json.loads(result.model_dump_json())
        assert "anomaly_map" not in dumped and dumped["localization"]["peak_value"] == pytest.approx(
            loc.peak_value
        )
    # A label of the wrong colour is the easiest defect: both must score above both normal frames.
    assert min(r.score for r in results[2:]) > max(r.score for r in results[:2])
    with pytest.raises(ImageError, match="wrong size"):
        scorer.decode(_encode(np.zeros((64, 64, 3), np.uint8)))

    png = save_map_png(
        results[2].anomaly_map, tmp_path / "map.png", frames[2], vmax=2 * scorer.meta.thresholds.map
    )
    saved = Image.open(png)
    assert saved.size == (128, 128) and saved.mode == "RGB"
