"""Landmark error of ``extract_track`` against the exact truth of rendered clips.

For every ``*.mp4`` with a ``.truth.json`` beside it in ../shared/data/synthetic/ and
sample_videos/, prints the detection rate and the median distance of hips, knees and
ankles from their true positions, in percent of body height (the truth's
``body_height_px``), over frames where the pose was found and the whole body is in the
image, per group and pooled over the six joints. Target: median <= 2.5%.

Usage::

    python benchmarks/landmark_error.py [CLIP_OR_FOLDER ...] [--no-cache] [--model PATH]

Tracks are cached (see ``gaitcheck.extract.cache_dir``), so a second run is quick.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = (REPO.parent / "shared" / "data" / "synthetic", REPO / "sample_videos")
GROUPS = {
    "hips": ("left_hip", "right_hip"),
    "knees": ("left_knee", "right_knee"),
    "ankles": ("left_ankle", "right_ankle"),
}
POOLED = "all six"
TARGET_PCT = 2.5


def clips_in(sources: list[Path]) -> list[Path]:
    """Videos that have a truth file, from files and folders."""
    found: list[Path] = []
    for source in sources:
        candidates = sorted(source.glob("*.mp4")) if source.is_dir() else [source]
        found.extend(c for c in candidates if c.with_name(c.stem + ".truth.json").is_file())
    return found


def group_errors_pct(track, truth: dict) -> tuple[dict[str, float], int]:
    """Median error per landmark group (% body height) and the number of frames used."""
    frames = truth["frames"]
    n = min(track.n_frames, len(frames["body_height_px"]))
    body_height_px = np.asarray(frames["body_height_px"], dtype=np.float64)[:n]
    in_view = np.asarray(frames["all_landmarks_in_image"], dtype=bool)[:n]
    use = in_view & track.pose_found[:n]
    errors = {
        name: np.linalg.norm(track.point_px(name)[:n] - np.asarray(frames["landmarks_px"][name])[:n], axis=1)[use]
        / body_height_px[use]
        * 100
        for names in GROUPS.values()
        for name in names
    }
    medians = {
        group: float(np.median(np.concatenate([errors[name] for name in names]))) if use.any() else float("nan")
        for group, names in GROUPS.items()
    }
    medians[POOLED] = float(np.median(np.concatenate(list(errors.values())))) if use.any() else float("nan")
    return medians, int(use.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", type=Path, default=list(DEFAULT_SOURCES))
    parser.add_argument("--no-cache", action="store_true", help="extract again even when a cached track exists")
    parser.add_argument("--model", type=Path, default=None, help="pose model (default: the provisioned one)")
    args = parser.parse_args()

    from gaitcheck.extract import extract_track

    clips = clips_in(args.sources)
    if not clips:
        raise SystemExit(f"no clips with truth files in {', '.join(map(str, args.sources))}")
    columns = [*GROUPS, POOLED]
    header = f"{'clip':<34} {'frames':>6} {'detected':>8} " + " ".join(f"{g + ' %BH':>13}" for g in columns)
    print(header)
    print("-" * len(header))
    worst: dict[str, float] = dict.fromkeys(columns, 0.0)
    for clip in clips:
        truth = json.loads(clip.with_name(clip.stem + ".truth.json").read_text())
        track = extract_track(clip, model=args.model, use_cache=not args.no_cache, progress=False)
        medians, n_used = group_errors_pct(track, truth)
        for group, value in medians.items():
            worst[group] = max(worst[group], value)
        cells = " ".join(f"{medians[g]:>13.2f}" for g in columns)
        print(f"{clip.stem:<34} {n_used:>6} {track.detection_rate():>8.3f} {cells}")
    worst_text = ", ".join(f"{g} {v:.2f}%" + ("" if v <= TARGET_PCT else " (over)") for g, v in worst.items())
    print(f"worst clip median: {worst_text}; target <= {TARGET_PCT}%")


if __name__ == "__main__":
    main()
