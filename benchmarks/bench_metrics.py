"""Time the analysis stages on one hour of 60 fps landmarks (216,000 frames).

The track is the truth replay of ``sample_videos/demo_side.truth.json`` (or ``--truth``)
tiled end to end with continuous time; its true stances are tiled with it. Prints the time
of metrics + summary on the true stances, and of every stage of the whole analysis
(classification, cleaning, event detection, metrics, summary) as ``pipeline.analyze_track``
runs them.

Every stage is timed as wall time and as CPU time of this process (all its threads); on a
shared machine the wall time includes waiting for a core, the CPU time does not. Cleaning
runs its copies in a second thread and shares its swap costs and filtering with it, so on an
idle machine its wall time is below its CPU time; the other stages are single-threaded and
the two agree. The analysis runs as ``pipeline.analyze_track`` does: cleaning produces the
event track and the metric track in one call.

Last, ``pipeline.analyze_track`` itself is timed, as a user runs it without a report.

The host's state is printed with the figures, as this machine's speed varies from day to
day: a plain Python loop's time before the runs (10 million additions; 0.6-0.8 s on a good
day, up to 2 s on slow ones), and the share of the machine's CPU time the hypervisor took
away ("steal", read from ``/proc/stat``) while the analyses ran.

Run: ``python benchmarks/bench_metrics.py`` (target: whole analysis under 1 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from gaitcheck.metrics import compute_strides
from gaitcheck.pipeline import stances_from_truth
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.summary import summarize
from gaitcheck.track import PoseTrack

REPO = Path(__file__).resolve().parents[1]


def tile_track(track: PoseTrack, stances: pd.DataFrame, n_frames: int) -> tuple[PoseTrack, pd.DataFrame]:
    """Repeat a track (and its stances) end to end until it has ``n_frames`` frames."""
    repeats = -(-n_frames // track.n_frames)
    period_s = track.n_frames / track.fps
    index = np.tile(np.arange(track.n_frames), repeats)[:n_frames]
    copy = np.repeat(np.arange(repeats), track.n_frames)[:n_frames]
    tiled = track.replace(
        time_s=np.arange(n_frames) / track.fps,
        image_xyz=track.image_xyz[index],
        visibility=track.visibility[index],
        presence=track.presence[index],
        world_xyz=track.world_xyz[index],
        pose_found=track.pose_found[index],
    )
    inside = stances[stances["complete"].astype(bool)]
    shifts = np.arange(int(copy[-1]) + 1)
    tiled_stances = pd.concat(
        [
            inside.assign(
                ic_frame=inside["ic_frame"] + k * track.n_frames,
                to_frame=inside["to_frame"] + k * track.n_frames,
                ic_time_s=inside["ic_time_s"] + k * period_s,
                to_time_s=inside["to_time_s"] + k * period_s,
            )
            for k in shifts
        ],
        ignore_index=True,
    )
    return tiled, tiled_stances[tiled_stances["to_frame"] < n_frames].reset_index(drop=True)


def best_of(repeats: int, run: Callable[[Any], Any], setup: Callable[[], Any]) -> float:
    """Shortest wall time of ``repeats`` calls of ``run(setup())`` (``setup`` untimed)."""
    times = []
    for _ in range(repeats):
        argument = setup()
        start = time.perf_counter()
        run(argument)
        times.append(time.perf_counter() - start)
    return min(times)


def python_loop_s() -> float:
    """Wall time of a plain Python loop of 10 million additions: the host's speed today."""
    start = time.perf_counter()
    total = 0
    for step in range(10_000_000):
        total += step
    return time.perf_counter() - start


def cpu_ticks() -> tuple[int, int] | None:
    """(all, stolen) CPU time of the machine so far in clock ticks, from ``/proc/stat``; None
    where that file does not exist (not Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(value) for value in fields]
    return sum(values[:8]), values[7]  # user nice system idle iowait irq softirq steal


def steal_note(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    """The share of the machine's CPU time the hypervisor took between two :func:`cpu_ticks`."""
    if before is None or after is None or after[0] == before[0]:
        return "steal not measured"
    share = (after[1] - before[1]) / (after[0] - before[0])
    return f"the hypervisor took {100.0 * share:.0f} % of the CPU time (steal)"


def tick(wall: list[float], cpu: list[float]) -> None:
    """Append the current wall-clock and process CPU times."""
    wall.append(time.perf_counter())
    cpu.append(time.process_time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, default=REPO / "sample_videos" / "demo_side.truth.json")
    parser.add_argument("--frames", type=int, default=216_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    truth = read_truth(args.truth)
    track, stances = tile_track(track_from_truth(truth), stances_from_truth(truth), args.frames)
    view = truth["params"]["view"]
    classification = SimpleNamespace(view=view, oblique=False)
    hours = track.n_frames / track.fps / 3600.0
    print(f"track: {track.n_frames} frames at {track.fps:g} fps ({hours:.2f} h), {len(stances)} stances, view {view}")
    print(f"host: a plain Python loop of 10 million additions took {python_loop_s():.2f} s (0.6-0.8 s on a good day)")
    ticks_before = cpu_ticks()

    def metrics_and_summary(fresh_track: PoseTrack) -> None:
        strides = compute_strides(fresh_track, stances, classification)
        summarize(strides, classification, fps=track.fps)

    # a fresh track object each time: a track keeps the landmarks it has read (PoseTrack.points_px)
    seconds = best_of(args.repeats, metrics_and_summary, lambda: dataclasses.replace(track))
    print(f"metrics + summary (true stances):     {seconds:.3f} s")

    from gaitcheck.classify import classify_clip
    from gaitcheck.clean import clean_tracks
    from gaitcheck.events import detect_stances

    totals = []
    for _ in range(args.repeats):
        # a fresh track object each time: a track keeps the landmarks it has read
        # (PoseTrack.points_px), and a real analysis reads its track once
        track = dataclasses.replace(track)
        wall, cpu = [time.perf_counter()], [time.process_time()]
        clip = classify_clip(track, view=view, setting="treadmill", activity="running")
        tick(wall, cpu)
        cleaned = clean_tracks(track, clip)
        tick(wall, cpu)
        # as the pipeline does
        detected = detect_stances(cleaned.events, clip, metric_track=cleaned.metrics, uncleaned_track=track)
        tick(wall, cpu)
        strides = compute_strides(cleaned.metrics, detected, clip)
        tick(wall, cpu)
        summarize(strides, clip, fps=track.fps)
        tick(wall, cpu)
        names = ("classify", "clean", "events", "metrics", "summary")
        stages = zip(names, np.diff(wall), np.diff(cpu), strict=True)
        print("whole analysis, wall (cpu) s: ", end="")
        print(", ".join(f"{name} {seconds:.3f} ({cpu_s:.3f})" for name, seconds, cpu_s in stages), end="")
        print(f"; total {wall[-1] - wall[0]:.3f} ({cpu[-1] - cpu[0]:.3f})")
        totals.append(wall[-1] - wall[0])
    print(f"({len(detected)} stances detected)")

    from gaitcheck.pipeline import analyze_track

    for _ in range(args.repeats):
        track = dataclasses.replace(track)
        wall, cpu = [time.perf_counter()], [time.process_time()]
        analyze_track(track, view=view, setting="treadmill", activity="running")
        tick(wall, cpu)
        seconds, cpu_s = wall[1] - wall[0], cpu[1] - cpu[0]
        print(
            f"pipeline.analyze_track (the same stages and its input checks), wall (cpu) s: {seconds:.3f} ({cpu_s:.3f})"
        )
    print(
        f"whole analysis, wall s: median {np.median(totals):.3f}, min {min(totals):.3f}, max {max(totals):.3f} "
        f"over {len(totals)} runs (the first also imports scipy.signal); {steal_note(ticks_before, cpu_ticks())}"
    )


if __name__ == "__main__":
    main()
