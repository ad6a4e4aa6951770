"""Cost of the pelvis estimate against extraction, and of a whole analysis (issue 4, acceptance 4).

Targets: the pelvis pass adds at most 20 % of the extraction time, and a cold
``gaitcheck analyze VIDEO -o OUT --no-report`` (no cached track) takes at most 1.2 x
``gaitcheck extract VIDEO --no-cache``.

For each clip the script measures, wall and CPU seconds (user + system, all threads):

* ``gaitcheck extract VIDEO --no-cache`` (command line, a fresh process);
* in this process, :func:`gaitcheck.extract.extract_with_pelvis_crops` (extraction that also
  cuts the pelvis crops), the crop cutting inside it (CPU of the worker threads) and
  :func:`gaitcheck.pelvis.estimate_from_crops`: the pelvis pass of a cold analysis is the
  crop cutting plus the estimate;
* the fall-back pelvis pass that decodes the clip again (a re-analysis whose track came from
  the cache): :func:`gaitcheck.pelvis.estimate_pelvis_obliquity`;
* ``gaitcheck analyze VIDEO -o OUT --no-report`` cold (empty track cache) and again with the
  track cached;

then prints ms/frame and the two ratios. Commands run with this checkout's ``src`` first on
``PYTHONPATH`` and a temporary ``GAITCHECK_CACHE_DIR`` (the model is passed through
``GAITCHECK_MODEL``). Wall times depend on what else runs on the machine; CPU times less so.

Usage::

    python benchmarks/bench_pelvis_cost.py                 # demo_rear (720p) and a 1080p copy of it
    python benchmarks/bench_pelvis_cost.py CLIP.mp4 ... [--rounds N] [--model PATH]

The 1080p clip is demo_rear scaled up (bicubic, H.264 CRF 18) into a temporary folder: the
repository's only 1080p rear clip (``../shared/data/videos/radluy_rear_*``) is too short for
an analysis (3 complete foot contacts), and decoding, extraction and the crops cost as for
any 1080p clip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEMO_REAR = REPO / "sample_videos" / "demo_rear.mp4"


def _cpu_s() -> float:
    """CPU seconds used so far by this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``function(*args, **kwargs)``, its wall seconds and its CPU seconds."""
    wall, cpu = time.perf_counter(), _cpu_s()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, _cpu_s() - cpu


def _run_cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "gaitcheck", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"gaitcheck {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")


def upscaled_copy(video: Path, folder: Path, height: int = 1080) -> Path:
    """``video`` scaled to ``height`` rows (bicubic), re-encoded as H.264 (CRF 18) into ``folder``."""
    from fractions import Fraction

    import av
    import cv2

    from gaitcheck.video import iter_frames, probe_video

    info = probe_video(video)
    width = round(info.width * height / info.height / 2) * 2
    target = folder / f"{video.stem}_{height}p.mp4"
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "fast"}
        for frame in iter_frames(video):
            big = cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_CUBIC)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(big, format="rgb24")))
        container.mux(stream.encode())
    return target


def bench_clip(video: Path, model: Path, rounds: int) -> dict[str, float]:
    """Median wall and CPU seconds of every stage over ``rounds`` rounds (see the module doc)."""
    from gaitcheck.extract import extract_with_pelvis_crops
    from gaitcheck.pelvis import estimate_from_crops, estimate_pelvis_obliquity

    figures: dict[str, list[float]] = {}

    def record(name: str, wall: float, cpu: float) -> None:
        figures.setdefault(f"{name}_wall", []).append(wall)
        figures.setdefault(f"{name}_cpu", []).append(cpu)

    n_frames = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="gaitcheck-bench-") as tmp:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                "GAITCHECK_CACHE_DIR": str(Path(tmp) / "cache"),
                "GAITCHECK_MODEL": str(model),
            }
            args = ["extract", str(video), "--no-cache", "--no-progress", "-o", str(Path(tmp) / "track.parquet")]
            record("extract_cli", *_timed(_run_cli, args, env)[1:])
            for run in ("analyze_cold", "analyze_cached"):
                outdir = str(Path(tmp) / run)
                record(run, *_timed(_run_cli, ["analyze", str(video), "-o", outdir, "--no-report"], env)[1:])
            (track, crops), wall, cpu = _timed(
                extract_with_pelvis_crops, video, model=model, use_cache=False, progress=False
            )
            record("extract_with_crops", wall, cpu)
            n_frames = track.n_frames
            crop_cpu = float(track.meta["timings_s"]["pelvis_crops_cpu"])
            record("crops", crop_cpu, crop_cpu)  # CPU of the worker threads; about their wall time
            _, wall, cpu = _timed(estimate_from_crops, crops, track)
            record("estimate_from_crops", wall, cpu)
            record("pelvis_pass", wall + crop_cpu, cpu + crop_cpu)
            _, wall, cpu = _timed(estimate_pelvis_obliquity, video, track)
            record("pelvis_decode_again", wall, cpu)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    medians["n_frames"] = float(n_frames)
    return medians


def report(video: Path, m: dict[str, float]) -> str:
    n = max(m["n_frames"], 1.0)
    lines = [f"{video.name}: {int(n)} frames (seconds: wall / CPU user+sys; wall depends on the machine's load)"]

    def line(label: str, key: str) -> None:
        wall, cpu = m[f"{key}_wall"], m[f"{key}_cpu"]
        lines.append(
            f"  {label:48s} {wall:7.2f} / {cpu:7.2f}   ({1e3 * wall / n:6.2f} / {1e3 * cpu / n:6.2f} ms/frame)"
        )

    line("gaitcheck extract --no-cache", "extract_cli")
    line("extraction cutting pelvis crops (in process)", "extract_with_crops")
    line("  of which cutting the crops (worker CPU)", "crops")
    line("pelvis estimate from the crops", "estimate_from_crops")
    line("pelvis pass, cold analysis (crops + estimate)", "pelvis_pass")
    line("pelvis pass decoding again (cached track)", "pelvis_decode_again")
    line("gaitcheck analyze --no-report, cold", "analyze_cold")
    line("gaitcheck analyze --no-report, track cached", "analyze_cached")
    extract_wall, extract_cpu = m["extract_cli_wall"], m["extract_cli_cpu"]
    lines.append(
        f"  ratio pelvis pass / extract:   {m['pelvis_pass_wall'] / extract_wall:6.1%} wall, "
        f"{m['pelvis_pass_cpu'] / extract_cpu:6.1%} CPU   (target <= 20 %)"
    )
    lines.append(
        f"  ratio analyze cold / extract:  {m['analyze_cold_wall'] / extract_wall:6.2f} wall, "
        f"{m['analyze_cold_cpu'] / extract_cpu:6.2f} CPU   (target <= 1.20)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="clips (default: demo_rear and the 1080p rear clip)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per clip; medians are printed")
    parser.add_argument("--model", type=Path, default=None, help="pose model (default: the provisioned one)")
    args = parser.parse_args()
    from gaitcheck.pose.model import ensure_model

    model = args.model or ensure_model(progress=False)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="gaitcheck-bench-clips-") as folder:
        videos = args.videos or [DEMO_REAR, upscaled_copy(DEMO_REAR, Path(folder))]
        for video in videos:
            print(report(video, bench_clip(video, model, args.rounds)), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
