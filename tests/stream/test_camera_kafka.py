"""Camera frames of the cell through serve: one vision verdict per frame on the anomalies
topic, with the localization summarized; a corrupt image or a wrong size is dead-lettered."""

from __future__ import annotations

import asyncio
import io
import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from robotwatch.bench.broker import create_topics
from robotwatch.cli.main import app
from tests.stream.broker import Broker, ServeProcess, produce, read_all, unique

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A synthetic camera dataset (128 px) and a small CS-Flow trained on its normal frames."""
    root = tmp_path_factory.mktemp("camera")
    runner = CliRunner()
    for args in (
        [
            "simulate",
            "--out",
            str(root / "data"),
            "--images",
            "16",
            "--size",
            "128",
            "--test-per-defect",
            "1",
            "--seed",
            "4",
        ],
        [
            "train",
            str(root / "data"),
            "--out",
            str(root / "csflow.safetensors"),
            "--method",
            "csflow",
            "--epochs",
            "2",
            "--image-size",
            "128",
            "--device",
            "cpu",
            "--set",
            "hidden=32",
        ],
    ):
        result = runner.invoke(app, ["vision", *args])
        assert result.exit_code == 0, result.output
    return root / "data", root / "csflow.safetensors"


def test_camera_frames_get_vision_verdicts_and_bad_images_dead_letters(
    broker: Broker,
    camera: tuple[Path, Path],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
    tiny_model: Path,
) -> None:
    data, vision_model = camera
    topics = {
        "signals": unique("signals"),
        "anomalies": unique("anomalies"),
        "dlq": unique("dlq"),
        "frames": unique("frames"),
    }
    asyncio.run(create_topics(broker.bootstrap, list(topics.values()), 2))
    serve = start_serve(
        tmp_path,
        tiny_model,
        broker,
        topics,
        unique("group"),
        vision_model=str(vision_model),
        frames_topic=topics["frames"],
        map_dir=str(tmp_path / "maps"),
    )
    serve.wait_assigned()
    images = sorted(data.glob("test/*/*.png"))
    good = [(b"cell-1", p.read_bytes()) for p in images]
    # Every frame of one cycle, from a camera whose name is a path: ids per frame, maps kept home.
    headers = [("cycle", b"7"), ("camera", b"../../escape")]
    small = io.BytesIO()
    Image.new("RGB", (64, 64)).save(small, format="PNG")
    bad = [
        (b"cell-1", images[0].read_bytes()[:300]),  # cut off
        (b"cell-1", b"\x89PNG not really"),
        (b"cell-1", small.getvalue()),  # wrong size for the model
        (None, images[0].read_bytes()),
    ]  # no cell id
    try:
        asyncio.run(produce(broker.bootstrap, topics["frames"], good + bad, headers))  # type: ignore[arg-type]
        verdicts = asyncio.run(read_all(broker.bootstrap, topics["anomalies"], expect=len(good), idle_s=3))
        dead = asyncio.run(read_all(broker.bootstrap, topics["dlq"], expect=len(bad), idle_s=2))
    finally:
        serve.kill(signal.SIGTERM)
    docs = [json.loads(r.value) for r in verdicts]
    assert len(docs) == len(good) and all(d["source"] == "vision" and d["cell_id"] == "cell-1" for d in docs)
    assert len({d["verdict_id"] for d in docs}) == len(good)
    maps = (tmp_path / "maps").resolve()
    for d in docs:
        image = d["image"]
        assert 0 <= image["peak_x"] < 128 and 0 <= image["peak_y"] < 128
        assert (image["map_path"] is not None) == d["anomalous"]
        assert image["map_path"] is None or Path(image["map_path"]).resolve().parent == maps
        assert d["cycle_id"] == "7" and d["status"] == "ok"
    reasons = sorted(dict(r.headers)["reason"].decode() for r in dead)
    assert len(reasons) == 4
    assert any("corrupt image" in r for r in reasons) and any("no cell id" in r for r in reasons)
    assert any("64" in r for r in reasons)  # the wrong size is named
