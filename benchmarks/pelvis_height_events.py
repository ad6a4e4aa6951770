"""How well the pelvis-texture height marks the flight phases, on rear/front renders.

For every rear/front gaitsynth render with a MediaPipe track (``--mediapipe-dir``, and
``--extra-renders`` beside their truth files) and its video, the pelvis height measured from
the clothing texture (:attr:`gaitcheck.pelvis.PelvisEstimate.height_px`, on the cleaned
event track, as the product measures it) is compared with the truth:

* ``texture_rms_px`` / ``mediapipe_hips_rms_px``: RMS difference from the true hip midpoint's
  image height (each after removing its median offset) of the texture height and of
  MediaPipe's cleaned hip midpoint;
* ``apex_from_flight_middle_frames``: median of the texture height's highest point (6 Hz
  low-pass, as events uses it) minus the middle of the flight (TO to the next IC, truth);
* ``ic_after_apex_ms``: median time from that highest point to the next IC (half a flight);
* ``free_fall_exit_after_ic_ms``: median delay from IC to the moment the TRUE hip midpoint's
  vertical acceleration has fallen one g below its free-fall value (the pelvis's own landing
  signal; a clip-dependent delay here means the renders' pelvis does not mark IC by itself);
* ``contact_ms`` / ``half_flight_ms``: the truth's median contact time and half flight
  (half of TO to the next IC), and ``half_flight_from_step_error_ms``: the error of the
  half flight that :data:`gaitcheck.events.TYPICAL_CONTACT_TIME_S` and the true step time
  give (half the runner's contact time minus the typical one, with the sign flipped): how far
  contacts timed from the highest points land when nothing measures the contact time;
* ``ankle_landing_after_ic_ms``: median time from each true IC to the peak of MediaPipe's
  ankle landing deceleration (cleaned track, searched 60 ms before to 160 ms after the IC),
  the foot cue that would have to measure the contact time instead; the summary lines give
  the spread over the clips of these per-clip values.

Usage::

    python benchmarks/pelvis_height_events.py --mediapipe-dir DIR [--extra-renders DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from gaitcheck.classify import classify_clip
from gaitcheck.clean import clean_track
from gaitcheck.events import PELVIS_TEXTURE_CUTOFF_HZ, TYPICAL_CONTACT_TIME_S
from gaitcheck.filters import zero_lag_lowpass
from gaitcheck.pelvis import estimate_pelvis_obliquity
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def hip_midpoint_height_px(track: PoseTrack) -> np.ndarray:
    return 0.5 * (track.point_px("left_hip")[:, 1] + track.point_px("right_hip")[:, 1])


def rms_about_median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.sqrt(np.mean((finite - np.median(finite)) ** 2)))


def flight_apexes(height_px: np.ndarray, to_frames: np.ndarray, ic_frames: np.ndarray) -> np.ndarray:
    """Fractional frame of the highest point (smallest image height) between each TO and the next IC."""
    apexes = []
    for take_off, contact in zip(to_frames, ic_frames, strict=True):
        first, last = int(np.floor(take_off)) - 2, int(np.ceil(contact)) + 2
        if first < 1 or last > height_px.size - 2:
            apexes.append(np.nan)
            continue
        peak = first + int(np.argmin(height_px[first : last + 1]))
        left, mid, right = height_px[peak - 1 : peak + 2]
        curvature = left - 2.0 * mid + right
        apexes.append(peak + (0.5 * (left - right) / curvature if curvature > 0 else 0.0))
    return np.array(apexes)


def free_fall_exit_frames(true_height_px: np.ndarray, ic_frames: np.ndarray, fps: float) -> np.ndarray:
    """Per IC: frames from IC until the vertical acceleration is one g below its flight value."""
    acceleration = np.gradient(np.gradient(true_height_px)) * fps * fps  # image down = +
    delays = []
    for contact in ic_frames:
        start = int(np.floor(contact))
        if start < 8 or start + 12 > acceleration.size:
            delays.append(np.nan)
            continue
        flight = float(np.median(acceleration[start - 6 : start - 1]))  # + g in image units
        window = acceleration[start - 2 : start + 12]
        below = np.flatnonzero(window < 0.0)  # one g below free fall: zero vertical acceleration
        if below.size == 0 or below[0] == 0 or flight <= 0:
            delays.append(np.nan)
            continue
        k = below[0]
        fraction = window[k - 1] / (window[k - 1] - window[k])
        delays.append(start - 2 + k - 1 + fraction - contact)
    return np.array(delays)


def ankle_landing_after_ic_frames(track: PoseTrack, stances: list[dict[str, Any]], fps: float) -> np.ndarray:
    """Per true IC: frames to the peak of the stance ankle's downward image acceleration
    (landing deceleration) in [IC - 0.06 s, IC + 0.16 s], parabolic-refined."""
    delays = []
    for stance in stances:
        ankle_v = track.point_px(f"{stance['side']}_ankle")[:, 1]
        acceleration = np.gradient(np.gradient(ankle_v))
        contact = stance["ic_time_s"] * fps
        first, last = int(np.floor(contact - 0.06 * fps)), int(np.ceil(contact + 0.16 * fps))
        if first < 1 or last > acceleration.size - 2 or not np.isfinite(acceleration[first - 1 : last + 2]).all():
            delays.append(np.nan)
            continue
        peak = first + int(np.argmax(acceleration[first : last + 1]))
        left, mid, right = acceleration[peak - 1 : peak + 2]
        curvature = left - 2.0 * mid + right
        delays.append(peak + (0.5 * (left - right) / curvature if curvature < 0 else 0.0) - contact)
    return np.array(delays)


def clip_row(truth_path: Path, track_path: Path) -> dict[str, Any] | None:
    video = truth_path.with_name(truth_path.name.replace(".truth.json", ".mp4"))
    if not (video.is_file() and track_path.is_file()):
        return None
    truth = read_truth(truth_path)
    track = PoseTrack.load(track_path)
    classification = classify_clip(track)
    if classification.view not in ("rear", "front"):
        return None
    cleaned, _ = clean_track(track, classification)
    estimate = estimate_pelvis_obliquity(video, cleaned)
    fps = track.fps
    true_height = hip_midpoint_height_px(track_from_truth(truth))
    stances = sorted(truth["stances"], key=lambda s: s["ic_time_s"])
    to_frames = np.array([s["to_time_s"] for s in stances[:-1]]) * fps
    next_ic_frames = np.array([s["ic_time_s"] for s in stances[1:]]) * fps
    row: dict[str, Any] = {"clip": truth_path.name.split(".")[0], "view": classification.view, "fps": round(fps)}
    row["texture_quality"] = estimate.quality
    row["mediapipe_hips_rms_px"] = round(rms_about_median(hip_midpoint_height_px(cleaned) - true_height), 2)
    if estimate.height_px is not None and np.isfinite(estimate.height_px).any():
        height = np.asarray(estimate.height_px, dtype=np.float64)
        row["texture_rms_px"] = round(rms_about_median(height - true_height), 2)
        frames = np.arange(height.size)
        filled = np.interp(frames, frames[np.isfinite(height)], height[np.isfinite(height)])
        smooth = zero_lag_lowpass(filled, min(PELVIS_TEXTURE_CUTOFF_HZ, 0.4 * fps / 2.0), fps)
        apex = flight_apexes(smooth, to_frames, next_ic_frames)
        row["apex_from_flight_middle_frames"] = round(float(np.nanmedian(apex - 0.5 * (to_frames + next_ic_frames))), 2)
        row["ic_after_apex_ms"] = round(float(np.nanmedian(next_ic_frames - apex)) / fps * 1000.0, 1)
    contact_s = float(np.median([s["contact_time_s"] for s in stances if s.get("contact_time_s") is not None]))
    half_flight_s = float(np.median(next_ic_frames - to_frames)) / fps / 2.0
    step_s = float(np.median(np.diff([s["ic_time_s"] for s in stances])))
    row["contact_ms"] = round(1000.0 * contact_s, 1)
    row["half_flight_ms"] = round(1000.0 * half_flight_s, 1)
    row["half_flight_from_step_error_ms"] = round(1000.0 * (0.5 * (step_s - TYPICAL_CONTACT_TIME_S) - half_flight_s), 1)
    landing = ankle_landing_after_ic_frames(cleaned, stances, fps)
    if np.isfinite(landing).any():
        row["ankle_landing_after_ic_ms"] = round(float(np.nanmedian(landing)) / fps * 1000.0, 1)
    exits = free_fall_exit_frames(true_height, np.array([s["ic_time_s"] for s in stances]) * fps, fps)
    if np.isfinite(exits).any():
        row["free_fall_exit_after_ic_ms"] = round(float(np.nanmedian(exits)) / fps * 1000.0, 1)
    return row


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if row.get(c) is None else str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mediapipe-dir", type=Path, required=True, help="folder with <clip>.parquet tracks")
    parser.add_argument("--extra-renders", type=Path, help="more renders (<clip>.truth.json, .mp4, .parquet)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (../shared/data)")
    args = parser.parse_args()
    pairs = [
        (path, args.mediapipe_dir / f"{path.name.split('.')[0]}.parquet")
        for path in sorted((REPO / "sample_videos").glob("*.truth.json"))
    ]
    pairs += [
        (path, args.mediapipe_dir / f"{path.name.split('.')[0]}.parquet")
        for path in sorted((args.shared / "synthetic").glob("*.truth.json"))
    ]
    if args.extra_renders is not None:
        pairs += [
            (path, path.with_name(path.name.replace(".truth.json", ".parquet")))
            for path in sorted(args.extra_renders.glob("*.truth.json"))
        ]
    rows = [row for truth_path, track_path in pairs if (row := clip_row(truth_path, track_path)) is not None]
    print(markdown_table(rows))
    held_out = {path.name.split(".")[0] for path, _ in pairs if path.parent == args.extra_renders}
    for label, group in (("shared", False), ("held-out", True)):
        chosen = [row for row in rows if (row["clip"] in held_out) == group]
        for column in ("half_flight_from_step_error_ms", "ankle_landing_after_ic_ms"):
            values = np.array([row[column] for row in chosen if row.get(column) is not None])
            if values.size:
                print(
                    f"- {label}, {column}: mean {values.mean():.1f} ms, SD over {values.size} clips "
                    f"{values.std():.1f} ms, range {values.min():.1f} to {values.max():.1f}"
                )


if __name__ == "__main__":
    main()
