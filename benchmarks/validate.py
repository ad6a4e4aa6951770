"""Validate the analysis against known answers and write docs/validation.md.

Cases, per rendered clip in ``../shared/data/synthetic`` and ``sample_videos`` (gaitsynth
truth beside each clip):

* TRUE landmarks (truth replay) with the TRUE events, not cleaned: the metric definitions alone;
* the same after cleaning (the product low-pass filters every track);
* TRUE landmarks with DETECTED events: metric definitions + event detection;
* MediaPipe landmarks with TRUE events: the pose model's landmark error alone, with pelvic
  drop from the hip landmarks and (rear/front) from the pelvis texture of the video;
* MediaPipe landmarks with DETECTED events and the pelvis texture: the product as a user runs it.

plus the real treadmill clip with a pixel-measured cadence, and the mocap runner RBDS001
projected through virtual rear and side cameras (``gaitcheck.pose.mocap``). Detected stances
are matched to truth stances by side and nearest IC time. MediaPipe tracks are extracted once
and cached (``--cache``). Errors are measured minus truth.

Run from the repository root:
    nice -n 10 python benchmarks/validate.py            # writes docs/validation.md
    python benchmarks/validate.py --no-mediapipe        # truth replay only (seconds)
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platformdirs

from gaitcheck.errors import GaitcheckError
from gaitcheck.fileio import sha256_file, write_text_atomic
from gaitcheck.pipeline import STANCE_COLUMNS, Analysis, analyze_track, stances_from_truth
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "docs" / "validation.md"
DEFAULT_CACHE = Path(platformdirs.user_cache_dir("gaitcheck")) / "validate-tracks"
COMMAND = "nice -n 10 python benchmarks/validate.py"
METRICS_ONLY = "true landmarks, true events, no cleaning (metric definitions alone)"
MP_TRUE = "MediaPipe landmarks, true events, pelvis from the hip landmarks"
MP_TEXTURE_TRUE = "MediaPipe landmarks, true events, pelvis from the pelvis texture"
MP_PRODUCT = "MediaPipe landmarks, detected events, pelvis texture when usable (as a user runs it)"
#: Largest IC time difference for a detected stance to count as the same contact.
MATCH_WINDOW_S = 0.15


# ------------------------------------------------------------------ truth values per stance


def _truth_heel_pct_leg(truth: dict[str, Any], stances: pd.DataFrame) -> pd.Series:
    px_per_m = np.asarray(truth["frames"]["px_per_m_at_pelvis"], dtype=np.float64)
    frame = stances["ic_frame"].clip(0, len(px_per_m) - 1).to_numpy()
    leg_px = truth["derived"]["leg_length_m"] * px_per_m[frame]
    return 100.0 * pd.to_numeric(stances["heel_ahead_of_pelvis_image_px"]) / leg_px


#: metric column -> function giving the truth value per truth stance.
TRUTH_OF: dict[str, Callable[[dict[str, Any], pd.DataFrame], pd.Series]] = {
    "pelvic_drop_deg": lambda t, s: s["pelvic_drop_image_peak_frames_deg"],
    "knee_fppa_deg": lambda t, s: s["fppa_image_peak_frames_deg"],
    "step_width_cm": lambda t, s: 100.0 * s["step_width_m"],
    "heel_ahead_pct_leg": _truth_heel_pct_leg,
    "heel_ahead_cm": lambda t, s: 100.0 * pd.to_numeric(s["heel_ahead_of_pelvis_image_m"]),
    "shank_angle_ic_deg": lambda t, s: s["shank_angle_ic_image_deg"],
    "foot_inclination_ic_deg": lambda t, s: s["foot_pitch_ic_deg"],
    "knee_flexion_ic_deg": lambda t, s: s["knee_flexion_ic_deg"],
    "contact_time_s": lambda t, s: s["contact_time_s"],
    "step_time_s": lambda t, s: s["step_time_s"],
}
#: How each metric is compared, for the notes under the tables.
TRUTH_NOTES = {
    "pelvic_drop_deg": "truth `pelvic_drop_image_peak_frames_deg` (in-image, peak over the frames of the true stance)",
    "knee_fppa_deg": "truth `fppa_image_peak_frames_deg` (in-image, peak over the video frames of the true stance)",
    "step_width_cm": "truth `step_width_m` (3D heel points at the two ICs; the image value is at the heel depth)",
    "heel_ahead_pct_leg": "truth `heel_ahead_of_pelvis_image_px` / (`leg_length_m` x `px_per_m_at_pelvis`)",
    "heel_ahead_cm": "truth `heel_ahead_of_pelvis_image_m`",
    "shank_angle_ic_deg": "truth `shank_angle_ic_image_deg`",
    "foot_inclination_ic_deg": "truth `foot_pitch_ic_deg` (3D sole pitch; ours: heel-toe line at IC minus foot flat)",
    "knee_flexion_ic_deg": "truth `knee_flexion_ic_deg` (3D; ours is the 2D image angle)",
    "contact_time_s": "truth `contact_time_s`",
    "step_time_s": "truth `step_time_s`",
}


def match_to_truth(strides: pd.DataFrame, truth: dict[str, Any]) -> pd.DataFrame:
    """Pair every measured stance with the truth stance of the same side nearest in IC time.

    Only complete measured stances and truth stances complete in the clip and in view count
    (the summary uses complete stances only); pairs further apart than
    :data:`MATCH_WINDOW_S` are dropped. Returns one row per pair with ``<metric>`` (measured)
    and ``<metric>_true`` columns.
    """
    true = pd.DataFrame(truth["stances"])
    true = true[true["complete_in_clip"] & true["in_view"]].reset_index(drop=True)
    if "complete" in strides.columns:  # as in the summary: a stance cut off by the clip's end is not used
        strides = strides[strides["complete"].astype(bool)]
    for metric, value_of in TRUTH_OF.items():
        true[f"{metric}_true"] = pd.to_numeric(value_of(truth, true), errors="coerce")
    pairs = []
    for side in ("left", "right"):
        measured = strides[strides["side"] == side].sort_values("ic_time_s")
        reference = true[true["side"] == side].sort_values("ic_time_s")
        if measured.empty or reference.empty:
            continue
        joined = pd.merge_asof(
            measured,
            reference[["ic_time_s", *[f"{m}_true" for m in TRUTH_OF]]].rename(columns={"ic_time_s": "ic_time_true_s"}),
            left_on="ic_time_s",
            right_on="ic_time_true_s",
            direction="nearest",
            tolerance=MATCH_WINDOW_S,
        )
        pairs.append(joined[joined["ic_time_true_s"].notna()])
    return pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame()


@dataclass
class CaseResult:
    """Errors of one clip under one condition."""

    clip: str
    condition: str
    view: str
    fps: float
    per_metric: dict[str, dict[str, float]]  # metric -> {n, bias, median_abs, max_abs}
    clip_level: dict[str, Any]  # cadence_error_spm, leg_length_ratio, pelvis, ...
    error: str | None = None


def summarise_errors(pairs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Bias, median and max absolute error and n per metric, over matched stances."""
    out: dict[str, dict[str, float]] = {}
    for metric in TRUTH_OF:
        if metric not in pairs.columns:
            continue
        error = (pairs[metric] - pairs[f"{metric}_true"]).to_numpy(dtype=np.float64)
        error = error[np.isfinite(error)]
        if error.size:
            out[metric] = {
                "n": float(error.size),
                "bias": float(error.mean()),
                "median_abs": float(np.median(np.abs(error))),
                "max_abs": float(np.abs(error).max()),
            }
    return out


def evaluate_case(
    clip: str,
    condition: str,
    track: PoseTrack,
    truth: dict[str, Any],
    *,
    true_events: bool,
    clean: bool = True,
    video: Path | None = None,
) -> CaseResult:
    """Analyse one track (true or detected events, cleaned or not, pelvis from the video's
    pelvis texture when ``video`` is given) and compare with the truth."""
    view = truth["params"]["view"]
    setting = "treadmill" if truth["params"]["treadmill"] else "overground"
    try:
        analysis: Analysis = analyze_track(
            track,
            view=view,
            setting=setting,
            activity="running",
            height_cm=100.0 * truth["params"]["body_height_m"],
            stances=stances_from_truth(truth) if true_events else None,
            source=clip,
            clean=clean,
            video=video,
        )
    except GaitcheckError as exc:
        return CaseResult(clip, condition, view, track.fps, {}, {}, error=str(exc))
    strides = analysis.strides
    pairs = match_to_truth(strides, truth)
    px_per_m = float(np.median(truth["frames"]["px_per_m_at_pelvis"]))
    vertical = strides.get("vertical_oscillation_cm")
    clip_level: dict[str, Any] = {
        "cadence_error_spm": strides.attrs["cadence_spm"] - truth["summary"]["cadence_spm"],
        "leg_length_ratio": strides.attrs["leg_length_px"] / (truth["derived"]["leg_length_m"] * px_per_m),
        "vertical_oscillation_error_cm": (
            float(np.nanmedian(vertical)) - 100.0 * truth["summary"]["vertical_oscillation_m"]
            if vertical is not None and np.isfinite(vertical).any()
            else None
        ),
        "matched": float(len(pairs)),
        "pelvis": {"hip_landmarks": "hips", "pelvis_estimate": "texture"}.get(
            strides.attrs.get("pelvis_method") or "", ""
        ),
        "true_stances": float(sum(s["complete_in_clip"] and s["in_view"] for s in truth["stances"])),
        "detected": float(len(strides)),
    }
    return CaseResult(clip, condition, view, track.fps, summarise_errors(pairs), clip_level)


# ------------------------------------------------------------------ sources of tracks


def truth_clips(data_dir: Path) -> list[tuple[str, Path, Path]]:
    """(name, truth file, video) of every rendered clip: bundled samples, then the synthetic suite."""
    folders = [REPO / "sample_videos", data_dir / "synthetic"]
    clips = []
    for folder in folders:
        for truth_path in sorted(folder.glob("*.truth.json")):
            name = truth_path.name.removesuffix(".truth.json")
            clips.append((name, truth_path, truth_path.with_name(f"{name}.mp4")))
    return clips


def mediapipe_track(video: Path, cache: Path) -> PoseTrack | None:
    """The pose model's track of a video, extracted once and cached as Parquet; None when
    ``gaitcheck.extract`` is not available.

    The cache is keyed by the video's content (sha256), not its time stamp: the pose model's
    landmarks vary a little from run to run, so a re-copied but unchanged clip must not be
    extracted again, or the validation tables would move without any code change.
    """
    if importlib.util.find_spec("gaitcheck.extract") is None:
        return None
    from gaitcheck import extract

    cached = cache / f"{video.stem}-{sha256_file(video)[:16]}.parquet"
    if cached.is_file():
        return PoseTrack.load(cached)
    start = time.perf_counter()
    track: PoseTrack = extract.extract_track(video, progress=False, workers=1)
    print(f"  extracted {video.name}: {track.n_frames} frames in {time.perf_counter() - start:.1f} s")
    cache.mkdir(parents=True, exist_ok=True)
    track.save(cached)
    return track


def can_detect_events() -> bool:
    """Whether the classification, cleaning and event stages are in this checkout."""
    return all(importlib.util.find_spec(f"gaitcheck.{name}") is not None for name in ("classify", "clean", "events"))


# ------------------------------------------------------------------ real clip and mocap


def real_clip_rows(data_dir: Path, cache: Path) -> list[dict[str, Any]]:
    """Cadence (and timing plausibility) on the real treadmill clip with a pixel-measured cadence."""
    rows: list[dict[str, Any]] = []
    video = data_dir / "videos" / "zzzhushi_male_side.mp4"
    truth_path = video.with_suffix(".truth.json")
    if not truth_path.is_file() or not can_detect_events():
        return rows
    import json

    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    track = mediapipe_track(video, cache)
    if track is None:
        return rows
    try:
        analysis = analyze_track(track, view="side_left", setting="treadmill", activity="running", source=video.name)
    except GaitcheckError as exc:
        return [{"clip": video.name, "error": str(exc)}]
    metrics = analysis.summary["metrics"]
    rows.append(
        {
            "clip": video.name,
            "cadence_spm": analysis.strides.attrs["cadence_spm"],
            "cadence_true_spm": truth["cadence_steps_per_min"]["value"],
            "contact_time_ms": 1000.0 * (metrics["contact_time_s"]["overall"]["mean"] or math.nan),
            "duty_factor_pct": metrics.get("duty_factor_pct", {}).get("overall", {}).get("mean"),
            "plausible": truth["plausible_ranges"],
        }
    )
    return rows


def stances_from_events(events: Iterable[dict[str, Any]], time_s: np.ndarray) -> pd.DataFrame:
    """Stances (``events.detect_stances`` layout) from IC/TO events: each IC with the next TO
    of the same side; an IC without a later TO is dropped, and of several ICs before the same
    TO (a foot that touched twice) only the first is kept; flickers are removed first
    (:func:`debounce_events`)."""
    table = pd.DataFrame(debounce_events(events))
    rows = []
    for side in ("left", "right"):
        mine = table[table["side"] == side]
        ic = mine[mine["event"] == "IC"]["time_s"].to_numpy()
        to = mine[mine["event"] == "TO"]["time_s"].to_numpy()
        next_to = np.searchsorted(to, ic)
        first_for_to = np.append(True, next_to[1:] != next_to[:-1])  # a repeated IC before the same TO
        for ic_time, k in zip(ic[first_for_to], next_to[first_for_to], strict=True):
            if k < to.size:
                rows.append((side, ic_time, to[k]))
    stances = pd.DataFrame(rows, columns=["side", "ic_time_s", "to_time_s"]).sort_values("ic_time_s")
    frame_of = np.searchsorted(time_s, stances[["ic_time_s", "to_time_s"]].to_numpy(), side="left")
    stances["ic_frame"] = np.clip(frame_of[:, 0], 0, len(time_s) - 1)
    stances["to_frame"] = np.clip(frame_of[:, 1], 0, len(time_s) - 1)
    stances["contact_time_s"] = stances["to_time_s"] - stances["ic_time_s"]
    stances["complete"] = True
    return stances.reset_index(drop=True)


#: A same-side TO followed by an IC within this time is a flicker of the contact threshold
#: (the foot stayed down), not a step.
MIN_SWING_S = 0.05


def debounce_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events without flickers: a TO and the same side's next IC less than MIN_SWING_S later
    are both dropped, so the contact continues."""
    ordered = sorted(events, key=lambda event: event["time_s"])
    dropped: set[int] = set()
    last_to: dict[str, int] = {}
    for index, event in enumerate(ordered):
        side = event["side"]
        if event["event"] == "TO":
            last_to[side] = index
        elif side in last_to and event["time_s"] - ordered[last_to[side]]["time_s"] < MIN_SWING_S:
            dropped.update({index, last_to.pop(side)})
    return [event for index, event in enumerate(ordered) if index not in dropped]


def unique_contacts(events: Iterable[dict[str, Any]]) -> np.ndarray:
    """Sorted IC times, dropping an IC that follows an IC of the same side with no TO between."""
    ordered = debounce_events(events)
    open_contact = {"left": False, "right": False}
    times = []
    for event in ordered:
        if event["event"] == "TO":
            open_contact[event["side"]] = False
        elif not open_contact[event["side"]]:
            open_contact[event["side"]] = True
            times.append(event["time_s"])
    return np.asarray(times)


def peak_drop_per_stance(stances: pd.DataFrame, time_s: np.ndarray, obliquity_deg: np.ndarray) -> np.ndarray:
    """Peak contralateral pelvic drop over the frames inside each stance (gaitsynth definition)."""
    sign = np.where(stances["side"] == "left", 1.0, -1.0)
    inside = (time_s[None, :] >= stances["ic_time_s"].to_numpy()[:, None] - 1e-9) & (
        time_s[None, :] <= stances["to_time_s"].to_numpy()[:, None] + 1e-9
    )
    finite = np.isfinite(obliquity_deg)[None, :]
    drop = np.where(inside & finite, sign[:, None] * obliquity_deg[None, :], -np.inf)
    peak = drop.max(axis=1)
    return np.where(np.isfinite(peak), peak, np.nan)


def walking_clip_row(data_dir: Path, cache: Path) -> str | None:
    """What the analysis says about the real walking clip (it must refuse it as walking)."""
    video = data_dir / "videos" / "sports2d_demo4_walking_side.mp4"
    if not video.is_file() or not can_detect_events():
        return None
    track = mediapipe_track(video, cache)
    if track is None:
        return None
    try:
        analysis = analyze_track(track, source=video.name)
    except GaitcheckError as exc:
        return f"{video.name}: refused ({type(exc).__name__}): {exc}"
    activity = analysis.classification.activity
    cadence = analysis.strides.attrs["cadence_spm"]
    return f"{video.name}: NOT refused; analysed as {activity} at {cadence:.1f} steps/min"


def mocap_rows(data_dir: Path) -> list[dict[str, Any]] | str:
    """Pelvic drop and cadence from RBDS001 projected through virtual rear and side cameras.

    Pelvic drop is compared with the 3D hip-joint-centre line of the same frames, as measured
    (``3D raw``) and referred to the standing trial (``3D re static``, the clinical zero).
    """
    if importlib.util.find_spec("gaitcheck.pose.mocap") is None:
        return "gaitcheck.pose.mocap is not in this checkout"
    from gaitcheck.pose import mocap

    run_path, static_path = data_dir / "mocap" / "RBDS001runT25markers.txt", data_dir / "mocap" / "RBDS001static.txt"
    if not run_path.is_file() or not static_path.is_file():
        return f"{run_path} or {static_path} not found"
    run, static = mocap.read_markers(run_path), mocap.read_markers(static_path)
    rows: list[dict[str, Any]] = []
    for view in ("rear", "side_right"):
        track, truth = mocap.project_mocap(run, static, view)
        true_stances = stances_from_events(truth["events"], track.time_s)
        true_ic_s = unique_contacts(truth["events"])
        cadence_true_spm = 60.0 * (true_ic_s.size - 1) / (true_ic_s[-1] - true_ic_s[0])
        raw = np.asarray(truth["pelvic_obliquity_3d_deg"], dtype=np.float64)
        referenced = raw - truth["static_pelvic_obliquity_deg"]
        true_stances["drop_3d_raw_deg"] = peak_drop_per_stance(true_stances, track.time_s, raw)
        true_stances["drop_3d_static_deg"] = peak_drop_per_stance(true_stances, track.time_s, referenced)
        for events in ("true", "detected"):
            try:
                analysis = analyze_track(
                    track,
                    view=view,
                    setting="treadmill",
                    activity="running",
                    stances=true_stances[list(STANCE_COLUMNS)] if events == "true" else None,
                    source=f"RBDS001 {view}",
                    clean=events == "detected",
                )
            except GaitcheckError as exc:
                rows.append({"view": view, "events": events, "error": str(exc)})
                continue
            strides = analysis.strides
            row: dict[str, Any] = {
                "view": view,
                "events": events + (" (cleaned)" if events == "detected" else ", no cleaning"),
                "cadence_spm": strides.attrs["cadence_spm"],
                "cadence_true_spm": cadence_true_spm,
                "cadence_module_spm": truth["cadence_spm"],
                "n_true_ic": int(true_ic_s.size),
                "n": len(strides),
            }
            if "pelvic_drop_deg" in strides:
                pairs = []
                reference = true_stances.rename(columns={"ic_time_s": "ic_time_true_s"})
                for side in ("left", "right"):
                    pairs.append(
                        pd.merge_asof(
                            strides[strides["side"] == side].sort_values("ic_time_s"),
                            reference[reference["side"] == side].sort_values("ic_time_true_s")[
                                ["ic_time_true_s", "drop_3d_raw_deg", "drop_3d_static_deg"]
                            ],
                            left_on="ic_time_s",
                            right_on="ic_time_true_s",
                            direction="nearest",
                            tolerance=MATCH_WINDOW_S,
                        )
                    )
                joined = pd.concat(pairs).dropna(subset=["ic_time_true_s", "pelvic_drop_deg"])
                for key, column in (("raw", "drop_3d_raw_deg"), ("static", "drop_3d_static_deg")):
                    error = (joined["pelvic_drop_deg"] - joined[column]).to_numpy(dtype=np.float64)
                    error = error[np.isfinite(error)]
                    row[f"drop_{key}_median_abs"] = float(np.median(np.abs(error))) if error.size else None
                    row[f"drop_{key}_max_abs"] = float(np.abs(error).max()) if error.size else None
                row["drop_n"] = len(joined)
            rows.append(row)
    return rows


# ------------------------------------------------------------------ report


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def markdown_tables(results: Iterable[CaseResult]) -> str:
    """One table per condition: clips as rows, metrics as columns (median |error| / max |error|)."""
    by_condition: dict[str, list[CaseResult]] = {}
    for result in results:
        by_condition.setdefault(result.condition, []).append(result)
    parts = []
    for condition, cases in by_condition.items():
        metrics = [m for m in TRUTH_OF if any(m in case.per_metric for case in cases)]
        header = [
            "clip",
            "view",
            "fps",
            "stances (matched/true)",
            "cadence err spm",
            "leg len ratio",
            "pelvis",
            *metrics,
        ]
        lines = [f"### {condition}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for case in cases:
            if case.error:
                lines.append(f"| {case.clip} | {case.view} | {case.fps:g} | refused: {case.error} |")
                continue
            cl = case.clip_level
            cells = [
                case.clip,
                case.view,
                f"{case.fps:g}",
                f"{int(cl['matched'] or 0)}/{int(cl['true_stances'] or 0)}",
                _fmt(cl["cadence_error_spm"], 3),
                _fmt(cl["leg_length_ratio"], 3),
                cl["pelvis"],
            ]
            for metric in metrics:
                stats = case.per_metric.get(metric)
                digits = 3 if metric.endswith("_s") else 2
                cells.append(
                    "" if stats is None else f"{_fmt(stats['median_abs'], digits)} / {_fmt(stats['max_abs'], digits)}"
                )
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def acceptance_lines(results: list[CaseResult]) -> list[str]:
    """The issue-3 acceptance figures computed from the results."""

    def worst(condition: str, metric: str, key: str = "max_abs") -> tuple[float, str]:
        values = [
            (case.per_metric[metric][key], case.clip)
            for case in results
            if case.condition == condition and metric in case.per_metric
        ]
        return max(values) if values else (math.nan, "-")

    def worst_cadence(condition: str) -> tuple[float, str]:
        values = [
            (abs(case.clip_level["cadence_error_spm"] or math.nan), case.clip)
            for case in results
            if case.condition == condition and not case.error
        ]
        return max(values) if values else (math.nan, "-")

    lines = []
    for condition in dict.fromkeys(case.condition for case in results):
        fppa, fppa_clip = worst(condition, "knee_fppa_deg")
        drop, drop_clip = worst(condition, "pelvic_drop_deg")
        heel, heel_clip = worst(condition, "heel_ahead_pct_leg")
        heel_median, heel_median_clip = worst(condition, "heel_ahead_pct_leg", "median_abs")
        fppa_median, fppa_median_clip = worst(condition, "knee_fppa_deg", "median_abs")
        drop_median, drop_median_clip = worst(condition, "pelvic_drop_deg", "median_abs")
        cadence, cadence_clip = worst_cadence(condition)
        refused = [case.clip for case in results if case.condition == condition and case.error]
        lines.append(
            f"- **{condition}**: worst per-stance |error| knee FPPA {_fmt(fppa)} deg ({fppa_clip}), "
            f"pelvic drop {_fmt(drop)} deg ({drop_clip}), heel ahead {_fmt(heel)} % leg ({heel_clip}); "
            f"worst clip median |error| knee FPPA {_fmt(fppa_median)} deg ({fppa_median_clip}), pelvic drop "
            f"{_fmt(drop_median)} deg ({drop_median_clip}), heel ahead {_fmt(heel_median)} % leg ({heel_median_clip}); "
            f"worst |cadence error| {_fmt(cadence, 3)} spm ({cadence_clip})"
            + (f"; refused: {', '.join(refused)}" if refused else "")
        )
    return lines


def bias_lines(results: list[CaseResult], condition: str, metrics: tuple[str, ...]) -> list[str]:
    """Mean error (measured - truth) per clip for some metrics: the direction of the error."""
    lines = [f"Mean error (bias) per clip, {condition}:", ""]
    for case in results:
        if case.condition != condition or case.error:
            continue
        parts = [f"{metric} {case.per_metric[metric]['bias']:+.2f}" for metric in metrics if metric in case.per_metric]
        if parts:
            lines.append(f"- {case.clip}: " + ", ".join(parts))
    return lines


def render(
    results: list[CaseResult],
    real_rows: list[dict[str, Any]],
    mocap: list[dict[str, Any]] | str,
    notes: list[str],
    walking: str | None = None,
) -> str:
    """The whole docs/validation.md text."""
    text = [
        "# Validation: gaitcheck metrics against known answers",
        "",
        f"Reproduce with `{COMMAND}` from the repository root (needs `../shared/data`; MediaPipe",
        "tracks are extracted once and cached). This file is generated; do not edit it by hand.",
        "",
        "Errors are measured minus truth. Tables give median |error| / max |error| over the complete",
        "measured stances (those the summary uses) matched to a truth stance (same side, nearest IC",
        "within 0.15 s; truth stances complete and in view). Angles in degrees, distances in % of",
        "leg length or cm, times in seconds. The pelvis column says where pelvic drop came from:",
        "the hip landmarks or the pelvis texture (`gaitcheck.pelvis`, used only when its own",
        "quality check passes).",
        "",
        "What each metric is compared with:",
        "",
        *[f"- `{metric}`: {note}" for metric, note in TRUTH_NOTES.items()],
        "- cadence: truth `summary.cadence_spm` (ICs inside the clip); leg length ratio: our leg length in",
        "  pixels over `derived.leg_length_m` x median `px_per_m_at_pelvis`.",
        "",
        "With detected events the peaks are taken over the DETECTED stance frames, so event timing",
        "error is part of the angle error.",
        "",
        "## Acceptance figures",
        "",
        *acceptance_lines(results),
        "",
        *notes,
        "",
        "## Per clip",
        "",
        markdown_tables(results),
        "",
        *bias_lines(results, MP_TRUE, ("knee_fppa_deg", "pelvic_drop_deg", "heel_ahead_pct_leg")),
        "",
        "## Walking clip (must not be reported as running)",
        "",
        f"- {walking}" if walking else "- not run (needs the MediaPipe track and the event stages)",
        "",
        "## Real treadmill clip (cadence measured from pixels)",
        "",
    ]
    if real_rows:
        for row in real_rows:
            if "error" in row:
                text.append(f"- {row['clip']}: refused: {row['error']}")
                continue
            text.append(
                f"- {row['clip']}: cadence {_fmt(row['cadence_spm'])} spm vs {row['cadence_true_spm']} +/- 0.5 "
                f"(error {_fmt(row['cadence_spm'] - row['cadence_true_spm'])}); mean contact time "
                f"{_fmt(row['contact_time_ms'], 0)} ms, duty factor {_fmt(row['duty_factor_pct'], 1)} % "
                f"(plausible {row['plausible']['contact_time_ms']} ms, {row['plausible']['duty_factor_pct']} %)"
            )
    else:
        text.append("- not run (needs the MediaPipe track and the event stages)")
    text += ["", "## Mocap RBDS001 through virtual cameras", ""]
    if isinstance(mocap, str):
        text.append(f"- not run: {mocap}")
    else:
        for row in mocap:
            if "error" in row:
                text.append(f"- {row['view']}, {row['events']} events: refused: {row['error']}")
                continue
            line = (
                f"- {row['view']}, {row['events']} events: cadence {_fmt(row['cadence_spm'])} spm vs 3D heel/toe "
                f"markers {_fmt(row['cadence_true_spm'])} (error {_fmt(row['cadence_spm'] - row['cadence_true_spm'])}; "
                f"{row['n_true_ic']} marker ICs after dropping repeated touches, "
                f"`mocap_truth` reports {_fmt(row['cadence_module_spm'])}), {row['n']} stances"
            )
            if row.get("drop_n"):
                line += (
                    f"; per-stance pelvic drop vs the 3D hip line over {row['drop_n']} stances: median / max "
                    f"|error| {_fmt(row['drop_raw_median_abs'])} / {_fmt(row['drop_raw_max_abs'])} deg "
                    f"(3D as measured), {_fmt(row['drop_static_median_abs'])} / {_fmt(row['drop_static_max_abs'])} "
                    "deg (3D referred to the standing trial)"
                )
            text.append(line)
    return "\n".join(text) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Validate gaitcheck metrics against truth; write docs/validation.md")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (../shared/data)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="MediaPipe track cache folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-mediapipe", action="store_true", help="truth replay only")
    args = parser.parse_args()
    detect = can_detect_events()
    notes = []
    if not detect:
        notes.append("- Detected-event conditions not run: classify/clean/events are not in this checkout.")
    results: list[CaseResult] = []
    for name, truth_path, video in truth_clips(args.data):
        print(name)
        truth = read_truth(truth_path)
        replay = track_from_truth(truth)
        results.append(evaluate_case(name, METRICS_ONLY, replay, truth, true_events=True, clean=False))
        results.append(evaluate_case(name, "true landmarks, true events", replay, truth, true_events=True))
        if detect:
            results.append(evaluate_case(name, "true landmarks, detected events", replay, truth, true_events=False))
        if args.no_mediapipe or not video.is_file():
            continue
        track = mediapipe_track(video, args.cache)
        if track is None:
            if "- MediaPipe conditions not run: gaitcheck.extract is not in this checkout." not in notes:
                notes.append("- MediaPipe conditions not run: gaitcheck.extract is not in this checkout.")
            continue
        if track.n_frames != replay.n_frames:
            notes.append(f"- {name}: MediaPipe track has {track.n_frames} frames, truth {replay.n_frames}; skipped.")
            continue
        results.append(evaluate_case(name, MP_TRUE, track, truth, true_events=True))
        if truth["params"]["view"] in ("rear", "front"):
            results.append(evaluate_case(name, MP_TEXTURE_TRUE, track, truth, true_events=True, video=video))
        if detect:
            results.append(evaluate_case(name, MP_PRODUCT, track, truth, true_events=False, video=video))
    real_rows = [] if args.no_mediapipe else real_clip_rows(args.data, args.cache)
    walking = None if args.no_mediapipe else walking_clip_row(args.data, args.cache)
    mocap = mocap_rows(args.data)
    order = {
        c: i
        for i, c in enumerate(
            [
                METRICS_ONLY,
                "true landmarks, true events",
                "true landmarks, detected events",
                MP_TRUE,
                MP_TEXTURE_TRUE,
                MP_PRODUCT,
            ]
        )
    }
    results.sort(key=lambda case: order[case.condition])
    text = render(results, real_rows, mocap, notes, walking)
    write_text_atomic(args.out, text)
    print(f"wrote {args.out}")
    print("\n".join(acceptance_lines(results)))


if __name__ == "__main__":
    main()
