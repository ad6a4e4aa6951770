"""Decode speed and memory of gaitcheck.video.iter_frames under FFmpeg's threading modes.

Prints, for each decoder thread type, the wall-clock frames per second of a full
``iter_frames`` pass (decode + RGB conversion + rotation) and the CPU time per frame summed
over all threads, best of ``--repeats`` interleaved passes; then the resident memory after
the first frames and at the end of a pass (it must not grow with the clip), and the cost of
``probe_video``. Wall-clock speed-ups from threading need idle cores: on a loaded machine
compare the CPU times. Default clip: ../shared/data/videos/sports2d_demo.mp4.

    nice -n 10 python benchmarks/bench_decode.py [CLIP] [--repeats N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gaitcheck import video

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "sports2d_demo.mp4"
THREAD_TYPES = ("NONE", "SLICE", "FRAME", "AUTO")


def decode_speed(clip: Path, thread_type: str) -> tuple[float, float]:
    """(wall-clock frames/s, CPU ms/frame) of a full iter_frames pass with the given thread type."""
    video.DECODE_THREAD_TYPE = thread_type
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    n_frames = sum(1 for _ in video.iter_frames(clip))
    wall_s, cpu_s = time.perf_counter() - wall_started, time.process_time() - cpu_started
    return n_frames / wall_s, 1000 * cpu_s / n_frames


def resident_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def resident_growth_mib(clip: Path, warmup_frames: int = 10) -> tuple[float, float]:
    """Resident memory after ``warmup_frames`` frames and after the last frame of one pass."""
    after_warmup = at_end = 0.0
    for frame in video.iter_frames(clip):
        if frame.index == warmup_frames:
            after_warmup = resident_mib()
        at_end = resident_mib()
    return after_warmup, at_end


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved passes per setting; best is reported")
    args = parser.parse_args()

    started = time.perf_counter()
    info = video.probe_video(args.clip)
    probe_ms = 1000 * (time.perf_counter() - started)
    print(f"{args.clip.name}: {info.codec} {info.width}x{info.height}, {info.n_frames} frames")
    print(f"  probe_video: {probe_ms:.0f} ms")
    default = video.DECODE_THREAD_TYPE
    best_fps = dict.fromkeys(THREAD_TYPES, 0.0)
    best_cpu_ms = dict.fromkeys(THREAD_TYPES, float("inf"))
    try:
        for _ in range(args.repeats):
            for thread_type in THREAD_TYPES:
                fps, cpu_ms = decode_speed(args.clip, thread_type)
                best_fps[thread_type] = max(best_fps[thread_type], fps)
                best_cpu_ms[thread_type] = min(best_cpu_ms[thread_type], cpu_ms)
    finally:
        video.DECODE_THREAD_TYPE = default
    for thread_type in THREAD_TYPES:
        marker = "  (default)" if thread_type == default else ""
        print(
            f"  thread_type={thread_type:<5} {best_fps[thread_type]:6.1f} frames/s wall, "
            f"{best_cpu_ms[thread_type]:5.1f} ms CPU/frame{marker}"
        )
    after_warmup, at_end = resident_growth_mib(args.clip)
    print(f"  resident memory: {after_warmup:.0f} MiB after 10 frames, {at_end:.0f} MiB after the last frame")


if __name__ == "__main__":
    main()
