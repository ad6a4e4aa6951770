"""Decode speed of gaitcheck.video.iter_frames under FFmpeg's threading modes.

Prints frames per second (decode + RGB conversion + rotation) for each thread type on one
clip, plus the demux-only cost of probe_video. Default clip: ../shared/data/videos/sports2d_demo.mp4.

    nice -n 10 python benchmarks/bench_decode.py [CLIP] [--repeats N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gaitcheck import video

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "sports2d_demo.mp4"


def decode_fps(clip: Path, thread_type: str) -> tuple[float, int]:
    """Frames per second of a full iter_frames pass with the given FFmpeg thread type."""
    video.DECODE_THREAD_TYPE = thread_type
    started = time.perf_counter()
    n_frames = sum(1 for _ in video.iter_frames(clip))
    return n_frames / (time.perf_counter() - started), n_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--repeats", type=int, default=2, help="passes per setting; the best is reported")
    args = parser.parse_args()

    started = time.perf_counter()
    info = video.probe_video(args.clip)
    probe_ms = 1000 * (time.perf_counter() - started)
    print(f"{args.clip.name}: {info.codec} {info.width}x{info.height}, {info.n_frames} frames, probe {probe_ms:.0f} ms")
    default = video.DECODE_THREAD_TYPE
    try:
        for thread_type in ("NONE", "SLICE", "FRAME", "AUTO"):
            runs = [decode_fps(args.clip, thread_type)[0] for _ in range(args.repeats)]
            print(f"  thread_type={thread_type:<5}  {max(runs):6.1f} frames/s")
    finally:
        video.DECODE_THREAD_TYPE = default


if __name__ == "__main__":
    main()
