"""Benchmark of the image flows (not collected by pytest): frames/s per method at 384 px
(backbone + flow, one frame at a time) and peak memory of training on 200 images.

    python tests/bench/bench_vision.py [--image-size 384] [--frames 20] [--train-images 200]

Same figures as `robotwatch vision bench --json`.
"""

from __future__ import annotations

import argparse
import sys

from vision.bench import run_bench


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image-size", type=int, default=384)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--methods", nargs="+", default=["csflow", "ast", "differnet"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    result = run_bench(
        args.methods,
        image_size=args.image_size,
        frames=args.frames,
        train_images=args.train_images,
        device=args.device,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    print(result.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
