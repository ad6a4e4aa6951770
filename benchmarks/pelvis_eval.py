"""Per-clip and per-stance accuracy of the pelvis-texture obliquity estimate.

For every rendered rear/front clip with a gaitsynth truth file, run
:func:`gaitcheck.pelvis.estimate_pelvis_obliquity` and compare, per TRUE stance (truth
``ic_frame``..``to_frame``, so event detection plays no part):

* peak contralateral pelvic drop (CPD) of the estimate vs ``pelvic_drop_image_peak_deg``
  and vs ``pelvic_drop_3d_peak_deg``;
* within-stance correlation of the estimated and the true in-image obliquity;
* the same for the landmark hip line (truth landmarks are exact by construction; with
  ``--tracks DIR`` the MediaPipe tracks ``DIR/<clip>.parquet`` locate the pelvis and give
  the MediaPipe hip-line baseline).

Usage::

    python benchmarks/pelvis_eval.py                          # ../shared/data/synthetic, truth landmarks
    python benchmarks/pelvis_eval.py /work/pelvis_renders --tracks /tmp/mp_tracks
    python benchmarks/pelvis_eval.py CLIP.mp4 ... --per-stance
    python benchmarks/pelvis_eval.py ... --rgb     # crops cut from RGB frames, as extraction cuts them

By default the estimate decodes the luma plane (:func:`gaitcheck.pelvis.estimate_pelvis_obliquity`,
the route of a re-analysis whose track came from the cache); with ``--rgb`` it runs on the RGB
frames extraction decodes for the pose model (:func:`gaitcheck.pelvis.estimate_from_frames`,
whose crops equal those extraction cuts; ``tests/test_extract.py`` checks that), the route of
a first analysis.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from gaitcheck.pelvis import PelvisEstimate, estimate_from_frames, estimate_pelvis_obliquity
from gaitcheck.pose.replay import read_truth, track_from_truth
from gaitcheck.track import PoseTrack
from gaitcheck.video import iter_frames

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic"
FRONTAL = ("rear", "front")


def stance_table(
    truth: dict[str, Any], obliquity_deg: np.ndarray, hip_line_deg: np.ndarray, level_deg: np.ndarray
) -> list[dict[str, Any]]:
    """One row per complete, in-view stance: true and estimated peak CPD, within-stance r."""
    true_ob = np.asarray(truth["frames"]["pelvic_obliquity_image_deg"], dtype=np.float64)
    rows = []
    for stance in truth["stances"]:
        if not (stance["complete_in_clip"] and stance["in_view"]):
            continue
        frames = np.arange(stance["ic_frame"], stance["to_frame"] + 1)
        frames = frames[frames < true_ob.size]
        sign = 1.0 if stance["side"] == "left" else -1.0
        est = sign * obliquity_deg[frames]
        ok = np.isfinite(est)
        r = np.corrcoef(est[ok], sign * true_ob[frames][ok])[0, 1] if ok.sum() >= 3 else np.nan
        rows.append(
            {
                "side": stance["side"],
                "ic_frame": stance["ic_frame"],
                "true_image_deg": stance["pelvic_drop_image_peak_deg"],
                "true_3d_deg": stance["pelvic_drop_3d_peak_deg"],
                "est_deg": float(np.max(est[ok])) if ok.any() else np.nan,
                "est_level_deg": float(np.nanmax(sign * level_deg[frames])) if ok.any() else np.nan,
                "hip_line_deg": float(np.nanmax(sign * hip_line_deg[frames])),
                "r_within": float(r),
                "measured_frac": float(ok.mean()),
            }
        )
    return rows


def clip_summary(name: str, truth: dict[str, Any], estimate: PelvisEstimate) -> dict[str, Any]:
    level = estimate.obliquity_level_deg if estimate.obliquity_level_deg is not None else estimate.obliquity_deg
    rows = stance_table(truth, estimate.obliquity_deg, estimate.hip_line_deg, level)
    est = np.array([r["est_deg"] for r in rows])
    est_level = np.array([r["est_level_deg"] for r in rows])
    img = np.array([r["true_image_deg"] for r in rows])
    d3 = np.array([r["true_3d_deg"] for r in rows])
    hip = np.array([r["hip_line_deg"] for r in rows])
    left = np.array([r["side"] == "left" for r in rows])

    def side_mean(values: np.ndarray, is_left: bool) -> float:
        chosen = values[left == is_left]
        chosen = chosen[np.isfinite(chosen)]
        return float(chosen.mean()) if chosen.size else float("nan")

    true_ob = np.asarray(truth["frames"]["pelvic_obliquity_image_deg"], dtype=np.float64)
    bias = float(np.nanmedian(estimate.obliquity_deg - true_ob[: estimate.obliquity_deg.size]))
    return {
        "bias": bias,
        "clip": name,
        "n": len(rows),
        "quality": estimate.quality,
        "anchor": estimate.anchor[:6],
        "mirror_r": estimate.mirror_correlation,
        "se_med": float(np.nanmedian(np.where(np.isfinite(estimate.angle_se_deg), estimate.angle_se_deg, np.nan))),
        "mae_img": float(np.nanmedian(np.abs(est - img))),
        "mae_3d": float(np.nanmedian(np.abs(est - d3))),
        "mae_3d_lev": float(np.nanmedian(np.abs(est_level - d3))),
        "roll": f"{truth['params']['camera_roll_deg']:5.2f}/{estimate.camera_roll_deg:5.2f}",
        "mae_hip": float(np.nanmedian(np.abs(hip - img))),
        "r_within": float(np.nanmedian([r["r_within"] for r in rows])),
        "true_L_R": f"{side_mean(img, True):5.1f}/{side_mean(img, False):5.1f}",
        "est_L_R": f"{side_mean(est, True):5.1f}/{side_mean(est, False):5.1f}",
        "hip_L_R": f"{side_mean(hip, True):5.1f}/{side_mean(hip, False):5.1f}",
        "ms_frame": estimate.cost_ms_per_frame,
        "rows": rows,
    }


def load_track(video: Path, tracks_dir: Path | None) -> tuple[PoseTrack, str]:
    truth_path = video.with_suffix(".truth.json")
    if tracks_dir is not None:
        parquet = tracks_dir / f"{video.stem}.parquet"
        if parquet.is_file():
            return PoseTrack.load(parquet), "mediapipe"
    return track_from_truth(truth_path), "truth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, help="clips or folders (default ../shared/data/synthetic)")
    parser.add_argument("--tracks", type=Path, default=None, help="folder of MediaPipe tracks <clip>.parquet")
    parser.add_argument("--per-stance", action="store_true", help="also print every stance")
    parser.add_argument("--rgb", action="store_true", help="estimate from RGB frames (extraction's route)")
    args = parser.parse_args()
    inputs = args.inputs or [DEFAULT_DIR]
    videos = sorted(v for item in inputs for v in (sorted(item.glob("*.mp4")) if item.is_dir() else [item]))
    header = (
        f"{'clip':32s} {'lm':5s} {'n':>2s} {'qual':4s} {'anchor':6s} {'mirr':>5s} {'se':>5s} "
        f"{'bias':>5s} {'MAE_img':>7s} {'MAE_3d':>6s} {'3d_lev':>6s} {'MAEhip':>6s} {'r_in':>5s}  "
        f"{'true L/R':11s} {'est L/R':11s} {'hip L/R':11s} {'roll true/est':13s} {'ms/fr':>5s}"
    )
    print(header)
    summaries = []
    for video in videos:
        truth = read_truth(video.with_suffix(".truth.json"))
        if truth["params"]["view"] not in FRONTAL:
            continue
        track, source = load_track(video, args.tracks)
        # CPU time (all threads of this process), so that other jobs on the machine do not count.
        started = time.process_time()
        for _ in iter_frames(video, stop=track.n_frames):
            pass
        decode_ms = 1e3 * (time.process_time() - started) / track.n_frames
        started = time.process_time()
        if args.rgb:
            estimate = estimate_from_frames((frame.rgb for frame in iter_frames(video, stop=track.n_frames)), track)
        else:
            estimate = estimate_pelvis_obliquity(video, track)
        cpu_ms = 1e3 * (time.process_time() - started) / track.n_frames
        s = clip_summary(video.stem, truth, estimate)
        s["decode_ms"] = decode_ms
        s["cpu_ms"] = cpu_ms
        s["reg_ms"] = estimate.meta["registration_ms_per_frame"]
        summaries.append(s)
        print(
            f"{s['clip']:32s} {source[:5]:5s} {s['n']:2d} {s['quality']:4s} {s['anchor']:6s} {s['mirror_r']:5.2f} "
            f"{s['se_med']:5.2f} {s['bias']:5.2f} {s['mae_img']:7.2f} {s['mae_3d']:6.2f} {s['mae_3d_lev']:6.2f} "
            f"{s['mae_hip']:6.2f} "
            f"{s['r_within']:5.2f}  "
            f"{s['true_L_R']:11s} {s['est_L_R']:11s} {s['hip_L_R']:11s} {s['roll']:13s} {s['cpu_ms']:5.1f} "
            f"{s['decode_ms']:5.1f} {s['ms_frame']:5.1f} {s['reg_ms']:5.1f}"
        )
        if args.per_stance:
            for r in s["rows"]:
                print(
                    f"    {r['side']:5s} ic={r['ic_frame']:4d} true_img={r['true_image_deg']:6.2f} "
                    f"true_3d={r['true_3d_deg']:6.2f} est={r['est_deg']:6.2f} level={r['est_level_deg']:6.2f} "
                    f"hip={r['hip_line_deg']:6.2f} "
                    f"r={r['r_within']:5.2f} measured={r['measured_frac']:.2f}"
                )
    ok = [s for s in summaries if s["quality"] == "ok"]
    if ok:
        all_err = [abs(r["est_deg"] - r["true_image_deg"]) for s in ok for r in s["rows"]]
        all_r = [r["r_within"] for s in ok for r in s["rows"]]
        print(
            f"\nquality=ok clips: {len(ok)}; stances {len(all_err)}; median |error| {np.nanmedian(all_err):.2f} deg; "
            f"median within-stance r {np.nanmedian(all_r):.3f}"
        )
    if summaries:
        added = [s["cpu_ms"] - s["decode_ms"] for s in summaries]
        print(
            "cost, CPU ms per frame (medians over clips): estimate incl. its own decoding "
            f"{np.median([s['cpu_ms'] for s in summaries]):.1f}, decoding alone "
            f"{np.median([s['decode_ms'] for s in summaries]):.1f}, added beyond decoding {np.median(added):.1f}; "
            f"wall ms per frame: total {np.median([s['ms_frame'] for s in summaries]):.1f}, registration "
            f"{np.median([s['reg_ms'] for s in summaries]):.1f} (wall times include waiting for other jobs)"
        )


if __name__ == "__main__":
    main()
