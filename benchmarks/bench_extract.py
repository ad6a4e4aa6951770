"""Extraction speed: a plain single-process decode + inference loop vs ``extract_track``.

Both run on the same clip in the same invocation, alternating, so machine load affects
them alike; the script prints frames per second of each round, the medians and the ratio
(target: gaitcheck at least 1.3x faster on 2 cores).

Usage::

    python benchmarks/bench_extract.py [VIDEO] [--rounds N] [--model PATH]

Default VIDEO: sample_videos/demo_side.mp4. The plain loop is what one would write
first: ``iter_frames`` feeding one VIDEO-mode landmarker on whole frames.

Run it on an otherwise idle machine: with other busy sessions, Linux shares the CPU per
session (autogroup), so a second process cannot get more CPU for the job and the
figures only show the overhead. The load average is printed with every round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def plain_loop_fps(video: Path, model: Path) -> float:
    """Frames per second of one process decoding and running the landmarker frame by frame."""
    from gaitcheck.pose.mediapipe_backend import landmarks_for_frames
    from gaitcheck.video import iter_frames, probe_video

    info = probe_video(video)
    started = time.perf_counter()
    landmarks_for_frames(iter_frames(video), info.n_frames, model, width=info.width, height=info.height)
    return info.n_frames / (time.perf_counter() - started)


def gaitcheck_fps(video: Path, model: Path, workers: int | None) -> tuple[float, dict[str, float]]:
    """Frames per second of ``extract_track`` (no cache, no progress bar) and its own timings."""
    from gaitcheck.extract import extract_track

    started = time.perf_counter()
    track = extract_track(video, model=model, workers=workers, use_cache=False, progress=False)
    return track.n_frames / (time.perf_counter() - started), dict(track.meta["timings_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", type=Path, default=REPO / "sample_videos" / "demo_side.mp4")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of both methods")
    parser.add_argument("--model", type=Path, default=None, help="pose model (default: the provisioned one)")
    parser.add_argument("--workers", type=int, default=None, help="gaitcheck workers (default: automatic)")
    args = parser.parse_args()

    from gaitcheck.pose.model import resolve_model
    from gaitcheck.video import probe_video

    model = resolve_model(args.model)
    info = probe_video(args.video)
    print(f"{args.video.name}: {info.n_frames} frames, {info.width}x{info.height}, {info.fps:g} fps; model {model}")
    plain, ours = [], []
    for round_number in range(1, args.rounds + 1):
        cpu_before = _cpu_s()
        plain.append(plain_loop_fps(args.video, model))
        cpu_plain = _cpu_s() - cpu_before
        fps, timings = gaitcheck_fps(args.video, model, args.workers)
        cpu_ours = _cpu_s() - cpu_before - cpu_plain
        ours.append(fps)
        load = os.getloadavg()[0]
        print(
            f"round {round_number}: plain loop {plain[-1]:5.1f} frames/s ({cpu_plain:.1f} CPU s)   "
            f"gaitcheck {fps:5.1f} frames/s ({cpu_ours:.1f} CPU s)   "
            f"1-min load average {load:.1f} on {os.cpu_count()} cores; {timings}"
        )
    plain_median, ours_median = statistics.median(plain), statistics.median(ours)
    print(
        f"median: plain loop {plain_median:.1f} frames/s, gaitcheck extract_track {ours_median:.1f} frames/s, "
        f"speed-up {ours_median / plain_median:.2f}x (target >= 1.3x)"
    )


if __name__ == "__main__":
    main()
