"""Gait-event timing against ground truth: gaitsynth renders, MediaPipe tracks, mocap.

For every rendered clip (``sample_videos/*.truth.json`` and ``../shared/data/synthetic``)
the TRUE landmarks are replayed through the product path (classification view from the
truth, ``clean_tracks``, ``detect_stances`` on the event track with the metric track as its
``metric_track``, as ``gaitcheck.pipeline`` does) and every detected IC / TO is compared with the
truth's event of the same foot. Events within 0.25 s of the clip's ends are skipped (their
search windows leave the clip). Errors are in frames of the clip's own rate.

With ``--mediapipe-dir DIR`` the same is done for MediaPipe tracks ``DIR/<clip>.parquet``
(made with ``gaitcheck extract CLIP -o DIR/<clip>.parquet``); the view is then detected
from the track. ``--extra-renders DIR`` adds renders made for validation only
(``DIR/<clip>.truth.json``, MediaPipe track ``DIR/<clip>.parquet`` beside it). With
``--pelvis-texture`` the rear/front MediaPipe clips also get the pelvic obliquity and height
measured from the video (``gaitcheck.pelvis``, when its quality is "ok"), as the product
uses them: the obliquity names the stance sides when the feet are ambiguous, the height
places the initial contacts (``detect_stances(..., pelvic_obliquity_deg=...,
pelvis_height_px=...)``); the ``sides_wrong`` column counts true ICs whose nearest
detection carries the other foot's name. ``IC_bias_frames`` / ``TO_bias_frames`` are the
median signed errors (detected minus true, nearest detection of the same foot within
5 frames). The real treadmill clip ``zzzhushi_male_side`` is summarised (cadence, contact time,
duty factor) when its track is in DIR. The RBDS001 mocap trial is projected
into rear and side cameras and compared with its marker-derived events.

Side views also get the signed IC error of the leg nearer to and further from the camera
and the per-side step-time error (``IC_near_bias_frames``, ``step_near_error_ms``, ...).

``--speed`` times classification, cleaning and events on one hour of 60 fps landmarks
(the side demo render tiled to 216,000 frames) and prints CPU seconds per stage.

Usage::

    python benchmarks/validate_events.py [--mediapipe-dir DIR [--pelvis-texture]] [--extra-renders DIR]
                                         [--markdown OUT.md] [--speed]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gaitcheck.classify import ClipClassification, classify_clip
from gaitcheck.clean import clean_track, clean_tracks
from gaitcheck.errors import GaitcheckError
from gaitcheck.events import cadence_spm, detect_stances
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EDGE_S = 0.25
MISS_FRAMES = 5.0


def truth_files(shared: Path, extra_renders: Path | None = None) -> list[Path]:
    files = sorted((REPO / "sample_videos").glob("*.truth.json"))
    if (shared / "synthetic").is_dir():
        files += sorted((shared / "synthetic").glob("*.truth.json"))
    if extra_renders is not None:
        files += sorted(extra_renders.glob("*.truth.json"))
    return files


def event_errors(
    events: list[tuple[str, str, float]], stances: pd.DataFrame, fps: float, duration_s: float
) -> dict[str, np.ndarray]:
    """Per event kind: |detected - true| in frames, same foot, nearest detection."""
    out: dict[str, list[float]] = {"IC": [], "TO": []}
    for side, kind, time_s in events:
        if not EDGE_S < time_s < duration_s - EDGE_S:
            continue
        column = "ic_time_s" if kind == "IC" else "to_time_s"
        mine = stances[(stances["side"] == side) & (stances["complete"] | (kind == "IC"))]
        if mine.empty:
            out[kind].append(np.inf)
            continue
        out[kind].append(float(np.min(np.abs(mine[column].to_numpy() - time_s)) * fps))
    return {kind: np.array(values) for kind, values in out.items()}


def side_leg_bias(truth: dict[str, Any], stances: pd.DataFrame, fps: float, duration_s: float) -> dict[str, Any]:
    """Side views: signed IC error per leg (near / far to the camera) and per-side step time.

    ``IC_near_bias_frames`` / ``IC_far_bias_frames`` are the medians of detected minus true IC
    (same foot, nearest detection within :data:`MISS_FRAMES`); ``step_near_error_ms`` /
    ``step_far_error_ms`` compare the median step time ending in that foot's contact (IC to
    the previous IC of the other foot) with the truth's. Empty for rear and front views.
    """
    view = truth["params"]["view"]
    if not view.startswith("side"):
        return {}
    near = "left" if view == "side_left" else "right"
    signed: dict[str, list[float]] = {"left": [], "right": []}
    for stance in truth["stances"]:
        time_s = stance["ic_time_s"]
        mine = stances[stances["side"] == stance["side"]]
        if not EDGE_S < time_s < duration_s - EDGE_S or mine.empty:
            continue
        error = (mine["ic_time_s"].to_numpy() - time_s) * fps
        nearest = float(error[np.argmin(np.abs(error))])
        if abs(nearest) <= MISS_FRAMES:
            signed[stance["side"]].append(nearest)

    def step_medians(ic_time_s: np.ndarray, sides: np.ndarray) -> dict[str, float]:
        order = np.argsort(ic_time_s)
        steps, ending = np.diff(ic_time_s[order]), sides[order][1:]
        return {s: float(np.median(steps[ending == s])) if (ending == s).any() else np.nan for s in ("left", "right")}

    true_steps = step_medians(
        np.array([s["ic_time_s"] for s in truth["stances"]]), np.array([s["side"] for s in truth["stances"]])
    )
    found_steps = step_medians(stances["ic_time_s"].to_numpy(), stances["side"].to_numpy())
    row: dict[str, Any] = {}
    for role, side in (("near", near), ("far", "right" if near == "left" else "left")):
        row[f"IC_{role}_bias_frames"] = round(float(np.median(signed[side])), 2) if signed[side] else None
    for role, side in (("near", near), ("far", "right" if near == "left" else "left")):
        row[f"step_{role}_error_ms"] = round(1000.0 * (found_steps[side] - true_steps[side]), 1)
    return row


def summarise(
    name: str, source: str, fps: float, errors: dict[str, np.ndarray], extra: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {"clip": name, "landmarks": source, "fps": round(fps)}
    for kind in ("IC", "TO"):
        values = errors[kind]
        found = values[values <= MISS_FRAMES]
        row[f"{kind}_n"] = int(values.size)
        row[f"{kind}_median_frames"] = round(float(np.median(found)), 2) if found.size else None
        row[f"{kind}_max_frames"] = round(float(np.max(found)), 2) if found.size else None
        row[f"{kind}_missed"] = int(values.size - found.size)
    row.update(extra)
    return row


def run_truth(shared: Path, extra_renders: Path | None = None) -> list[dict[str, Any]]:
    rows = []
    for path in truth_files(shared, extra_renders):
        truth = read_truth(path)
        track = track_from_truth(truth)
        classification = ClipClassification(
            view=truth["params"]["view"], oblique=False, setting="treadmill", activity="running"
        )
        cleaned = clean_tracks(track, classification)
        stances = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics, uncleaned_track=track)
        events = [(e["side"], e["event"], e["time_s"]) for e in truth["events"]]
        errors = event_errors(events, stances, track.fps, track.duration_s)
        extra = {
            "cadence_spm": round(cadence_spm(stances), 1),
            "true_cadence_spm": truth["summary"]["cadence_spm"],
            **side_leg_bias(truth, stances, track.fps, track.duration_s),
        }
        rows.append(summarise(path.name.split(".")[0], "true", track.fps, errors, extra))
    return rows


def _texture_pelvis(truth_path: Path, track: PoseTrack) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The pelvis-texture obliquity and height of the clip beside a truth file, when its quality is "ok"."""
    from gaitcheck.pelvis import estimate_pelvis_obliquity

    video = truth_path.with_name(truth_path.name.replace(".truth.json", ".mp4"))
    if not video.is_file():
        return None, None
    estimate = estimate_pelvis_obliquity(video, track)
    if estimate.quality != "ok":
        return None, None
    return np.asarray(estimate.obliquity_deg, dtype=np.float64), estimate.height_px


def signed_bias_frames(
    events: list[tuple[str, str, float]], stances: pd.DataFrame, fps: float, duration_s: float
) -> dict[str, float | None]:
    """Per event kind: median of detected minus true (frames), nearest same-foot detection within MISS_FRAMES."""
    signed: dict[str, list[float]] = {"IC": [], "TO": []}
    for side, kind, time_s in events:
        column = "ic_time_s" if kind == "IC" else "to_time_s"
        mine = stances[(stances["side"] == side) & (stances["complete"] | (kind == "IC"))]
        if not EDGE_S < time_s < duration_s - EDGE_S or mine.empty:
            continue
        error = (mine[column].to_numpy() - time_s) * fps
        nearest = float(error[np.argmin(np.abs(error))])
        if abs(nearest) <= MISS_FRAMES:
            signed[kind].append(nearest)
    return {f"{kind}_bias_frames": round(float(np.median(v)), 2) if v else None for kind, v in signed.items()}


def sides_wrong(truth: dict[str, Any], stances: pd.DataFrame, duration_s: float) -> int:
    """True ICs (away from the ends) whose nearest detected IC carries the other foot's name."""
    wrong = 0
    for event in truth["events"]:
        if event["event"] == "IC" and EDGE_S < event["time_s"] < duration_s - EDGE_S:
            nearest = int(np.argmin(np.abs(stances["ic_time_s"].to_numpy() - event["time_s"])))
            wrong += int(stances["side"].iloc[nearest] != event["side"])
    return wrong


def run_mediapipe(
    shared: Path, directory: Path, extra_renders: Path | None = None, pelvis_texture: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    rows, notes = [], []
    for path in truth_files(shared, extra_renders):
        name = path.name.split(".")[0]
        track_path = directory / f"{name}.parquet"
        if not track_path.is_file():
            track_path = path.parent / f"{name}.parquet"
        if not track_path.is_file():
            continue
        truth = read_truth(path)
        track = PoseTrack.load(track_path)
        classification = classify_clip(track)
        both = clean_tracks(track, classification)
        cleaned, report = both.events, both.report
        obliquity_deg = height_px = None
        if pelvis_texture and classification.view in ("rear", "front"):
            obliquity_deg, height_px = _texture_pelvis(path, cleaned)
        stances = detect_stances(
            cleaned,
            classification,
            pelvic_obliquity_deg=obliquity_deg,
            pelvis_height_px=height_px,
            metric_track=both.metrics,
        )
        events = [(e["side"], e["event"], e["time_s"]) for e in truth["events"]]
        errors = event_errors(events, stances, track.fps, track.duration_s)
        any_side = event_errors([("any", k, t) for _, k, t in events], stances.assign(side="any"), track.fps, 1e9)
        extra = {
            "view": classification.view,
            "IC_any_foot_median_frames": round(float(np.median(any_side["IC"])), 2),
            **signed_bias_frames(events, stances, track.fps, track.duration_s),
            "swap_repaired_frames": report.frames_swap_repaired,
            "sides_relabelled": stances.attrs.get("sides_relabelled", 0),
            "sides_wrong": sides_wrong(truth, stances, track.duration_s),
            "pelvis_texture_used": obliquity_deg is not None,
            "ic_from_pelvis_height": stances.attrs.get("ic_from_pelvis_height", False),
            "cadence_spm": round(cadence_spm(stances), 1),
            "true_cadence_spm": truth["summary"]["cadence_spm"],
            **side_leg_bias(truth, stances, track.fps, track.duration_s),
        }
        rows.append(summarise(name, "mediapipe", track.fps, errors, extra))
    real = directory / "zzzhushi_male_side.parquet"
    if real.is_file():
        track = PoseTrack.load(real)
        classification = classify_clip(track)
        cleaned = clean_tracks(track, classification)
        stances = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics)
        contact = float(np.median(stances.loc[stances["complete"], "contact_time_s"]))
        step = float(np.median(np.diff(stances["ic_time_s"])))
        near = "left" if classification.view == "side_left" else "right"
        far = "right" if near == "left" else "left"
        steps_ms, ending = 1000.0 * np.diff(stances["ic_time_s"].to_numpy()), stances["side"].to_numpy()[1:]
        per_side = {side: float(np.median(steps_ms[ending == side])) for side in ("left", "right")}
        notes.append(
            f"zzzhushi_male_side (MediaPipe, {classification.view}): cadence {cadence_spm(stances):.1f} spm "
            f"(truth 168.9 +/- 0.5), median contact {1000 * contact:.0f} ms (plausible 180-320), "
            f"duty factor {100 * contact / (2 * step):.1f} % (plausible 25-48), {len(stances)} contacts, "
            f"{stances.attrs.get('sides_relabelled', 0)} side labels corrected; "
            f"median step ending in a {near} (near) / {far} (far) contact {per_side[near]:.0f} / {per_side[far]:.0f} ms"
        )
    return rows, notes


def run_mocap(shared: Path) -> list[dict[str, Any]]:
    from gaitcheck.pose.mocap import project_mocap, read_markers

    run_file, static_file = shared / "mocap" / "RBDS001runT25markers.txt", shared / "mocap" / "RBDS001static.txt"
    if not run_file.is_file():
        return []
    run, static = read_markers(run_file), read_markers(static_file)
    rows = []
    for view in ("rear", "side_left", "side_right"):
        track, truth = project_mocap(run, static, view)
        classification = classify_clip(track)
        cleaned = clean_tracks(track, classification)
        stances = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics, uncleaned_track=track)
        events = [(e["side"], e["event"], e["time_s"]) for e in truth["events"]]
        errors = event_errors(events, stances, track.fps, float(truth["time_s"][-1]))
        extra = {
            "view": classification.view,
            "cadence_spm": round(cadence_spm(stances), 1),
            "true_cadence_spm": round(truth["cadence_spm"], 1),
        }
        rows.append(summarise(f"RBDS001 {view}", "mocap projection", track.fps, errors, extra))
    return rows


def run_speed() -> list[str]:
    truth_track = track_from_truth(REPO / "sample_videos" / "demo_side.truth.json")
    n = 216_000
    index = np.tile(np.arange(truth_track.n_frames), n // truth_track.n_frames + 1)[:n]
    track = PoseTrack(
        time_s=np.arange(n) / truth_track.fps,
        image_xyz=truth_track.image_xyz[index],
        visibility=truth_track.visibility[index],
        presence=truth_track.presence[index],
        world_xyz=truth_track.world_xyz[index],
        pose_found=truth_track.pose_found[index],
        width=truth_track.width,
        height=truth_track.height,
        fps=truth_track.fps,
    )
    lines = []
    started = time.process_time()
    classification = classify_clip(track)
    lines.append(f"classify_clip: {time.process_time() - started:.2f} s CPU")
    started = time.process_time()
    cleaned, _ = clean_track(track, classification)
    lines.append(f"clean_track:   {time.process_time() - started:.2f} s CPU")
    started = time.process_time()
    stances = detect_stances(cleaned, classification)
    lines.append(f"detect_stances: {time.process_time() - started:.2f} s CPU ({len(stances)} contacts)")
    return [f"one hour at 60 fps ({n} frames):", *lines]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (../shared/data)")
    parser.add_argument("--mediapipe-dir", type=Path, help="folder with <clip>.parquet MediaPipe tracks")
    parser.add_argument(
        "--extra-renders", type=Path, help="folder with more renders (<clip>.truth.json, <clip>.parquet)"
    )
    parser.add_argument(
        "--pelvis-texture", action="store_true", help="rear/front MediaPipe clips: name sides with the pelvis texture"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--speed", action="store_true", help="time the stages on one hour of landmarks")
    args = parser.parse_args()

    sections: list[tuple[str, str]] = []
    truth_rows = run_truth(args.shared, args.extra_renders)
    sections.append(("True landmarks (gaitsynth replay, cleaned)", markdown_table(truth_rows)))
    notes: list[str] = []
    if args.mediapipe_dir:
        try:
            mp_rows, notes = run_mediapipe(args.shared, args.mediapipe_dir, args.extra_renders, args.pelvis_texture)
        except GaitcheckError as exc:
            mp_rows, notes = [], [f"MediaPipe section failed: {exc}"]
        sections.append(("MediaPipe landmarks of the same renders", markdown_table(mp_rows)))
        if mp_rows:
            ic = [r["IC_median_frames"] for r in mp_rows if r["fps"] == 60 and r["IC_median_frames"] is not None]
            notes.append(f"median over 60 fps clips of the per-clip median IC error: {np.median(ic):.2f} frames")
    sections.append(("RBDS001 mocap projected into virtual cameras", markdown_table(run_mocap(args.shared))))
    if notes:
        sections.append(("Notes", "\n".join(f"- {note}" for note in notes) + "\n"))
    if args.speed:
        sections.append(("Speed", "\n".join(f"- {line}" for line in run_speed()) + "\n"))
    text = "\n".join(f"## {title}\n\n{body}" for title, body in sections)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
