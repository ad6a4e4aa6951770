"""The one place where the stages are wired: track -> classification -> cleaned track ->
stances -> per-stance metrics -> summary, plus reading sources and writing the outputs.

:func:`analyze_track` is pure (no I/O); :func:`analyze_source` reads a video, a saved track
(``.parquet``) or a gaitsynth truth file (``.truth.json``, replayed as exact landmarks);
:func:`write_outputs` writes ``strides.csv`` and ``summary.json`` atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from gaitcheck import skeleton
from gaitcheck.errors import AnalysisError, InputError
from gaitcheck.events import STANCE_COLUMNS
from gaitcheck.fileio import jsonable, strict_json, write_text_atomic
from gaitcheck.pose.mediapipe_backend import is_mediapipe_track
from gaitcheck.track import PoseTrack

if TYPE_CHECKING:
    from gaitcheck.pelvis import PelvisCrops, PelvisEstimate

#: Fewest complete stances (both events inside the clip) an analysis accepts: two strides.
MIN_COMPLETE_STANCES: Final[int] = 4
TRACK_SUFFIXES: Final[tuple[str, ...]] = (".parquet",)
TRUTH_SUFFIX: Final[str] = ".truth.json"
STRIDES_FILE: Final[str] = "strides.csv"
SUMMARY_FILE: Final[str] = "summary.json"
#: Cached pelvis estimates: ``<gaitcheck cache root>/pelvis/<key>.npz`` (:func:`_pelvis_cache_path`).
PELVIS_CACHE_SUBDIR: Final[str] = "pelvis"
#: Track backends (``meta["backend"]``) whose landmarks are positions measured without a pose
#: model's frame-to-frame jitter: gaitsynth truth replay (:mod:`gaitcheck.pose.replay`) and
#: motion-capture joint centres projected through a virtual camera (:mod:`gaitcheck.pose.mocap`).
EXACT_LANDMARK_BACKENDS: Final[frozenset[str]] = frozenset({"truth-replay", "mocap-projection"})


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything one analysis produced.

    Attributes
    ----------
    source : where the track came from (file path or track meta), for messages and reports.
    classification : the clip classification (view, oblique, setting, activity, overrides).
    cleaning_report : what cleaning changed.
    track : the cleaned pose track the metrics were measured on (the peak-preserving one
        of :func:`gaitcheck.clean.clean_tracks`; events were detected on its stronger-smoothed twin;
        the frontal angles' peaks of exact landmarks were read on the uncleaned track).
    stances : one row per foot contact (``events.detect_stances`` columns).
    strides : one row per stance with every metric (:func:`gaitcheck.metrics.compute_strides`).
    summary : the JSON-able per-side summary (:func:`gaitcheck.summary.summarize`).
    """

    source: str
    classification: Any
    cleaning_report: Any
    track: PoseTrack
    stances: pd.DataFrame
    strides: pd.DataFrame
    summary: dict[str, Any]


def stances_from_truth(truth: dict[str, Any]) -> pd.DataFrame:
    """The true stances of a gaitsynth truth dict in the ``events.detect_stances`` layout."""
    table = pd.DataFrame(truth["stances"])
    if table.empty:
        return pd.DataFrame(columns=list(STANCE_COLUMNS))
    table = table.rename(columns={"complete_in_clip": "complete"})
    return table[list(STANCE_COLUMNS)].reset_index(drop=True)


def has_exact_landmarks(track: PoseTrack) -> bool:
    """Whether a track holds exact landmarks (:data:`EXACT_LANDMARK_BACKENDS`), which need no
    low-pass against jitter; tracks of unknown origin count as a pose model's."""
    return track.meta.get("backend") in EXACT_LANDMARK_BACKENDS


def _check_legs_visible(track: PoseTrack, source: str) -> None:
    # read through the track's kept pixel coordinates, which classification and cleaning reuse
    legs = track.points_px(skeleton.LEG_LANDMARKS).values()
    if track.n_frames == 0 or not np.logical_and.reduce([np.isfinite(xy).all(axis=1) for xy in legs]).any():
        raise AnalysisError(
            f"{source}: no frame shows both legs (hips, knees, ankles, feet); film the whole body "
            "from hips to feet, with the runner in view the whole time"
        )


def _check_activity(classification: Any, source: str) -> None:
    overridden = set(getattr(classification, "overridden", ()) or ())
    if getattr(classification, "activity", "running") == "walking" and "activity" not in overridden:
        raise AnalysisError(
            f"{source}: this clip looks like walking, and gaitcheck's measures and advice are for running. "
            "Film a running clip; if it is running, pass --activity running; to analyse it as walking "
            "anyway, pass --activity walking"
        )


def _check_stances(stances: pd.DataFrame, source: str) -> None:
    complete = int(stances["complete"].astype(bool).sum()) if len(stances) else 0
    if complete == 0:
        raise AnalysisError(
            f"{source}: no complete foot contact found (the runner may be standing still or the feet are "
            "hidden); film at least 10 s of steady running with both feet in view"
        )
    if complete < MIN_COMPLETE_STANCES:
        raise AnalysisError(
            f"{source}: only {complete} complete foot contact(s) found; at least {MIN_COMPLETE_STANCES} "
            "(two strides) are needed, 14 or more for reliable averages; film a longer clip"
        )


def analyze_track(
    track: PoseTrack,
    *,
    view: str | None = None,
    setting: str | None = None,
    activity: str | None = None,
    height_cm: float | None = None,
    stances: pd.DataFrame | None = None,
    pelvis_obliquity_deg: np.ndarray | None = None,
    source: str | None = None,
    clean: bool = True,
    video: str | os.PathLike[str] | None = None,
    pelvis_crops: PelvisCrops | None = None,
) -> Analysis:
    """Run every analysis stage on a pose track.

    Parameters
    ----------
    track : raw pose track (from extraction, a saved file or truth replay).
    view, setting, activity : user overrides of the automatic clip classification.
    height_cm : runner's body height, for centimetre values.
    stances : known stances (e.g. from a truth file) to use instead of event detection;
        they must index the same frames as ``track``.
    pelvis_obliquity_deg : per-frame in-image pelvic obliquity replacing the hip landmarks.
    source : name of the input for messages (default: the track's ``meta["source"]``).
    clean : False skips cleaning (validation of exact truth-replay landmarks); the cleaning
        report is then None.
    video : the video the track was extracted from. In a rear or front view the pelvic
        obliquity is then measured from the pelvis region of the frames
        (:func:`gaitcheck.pelvis.estimate_pelvis_obliquity`) and used for pelvic drop when its
        quality is "ok"; otherwise the hip landmarks are used and the summary says why.
    pelvis_crops : the pelvis crops extraction cut from ``video``'s frames
        (:func:`gaitcheck.extract.extract_with_pelvis_crops`); the estimate then works on
        them instead of decoding the clip again.

    Raises
    ------
    AnalysisError : no legs visible, walking clip (unless ``activity="walking"``), or fewer
        than two strides.
    """
    from gaitcheck.classify import classify_clip
    from gaitcheck.clean import clean_tracks
    from gaitcheck.metrics import compute_strides
    from gaitcheck.summary import summarize

    source = source or str(track.meta.get("source", "track"))
    _check_legs_visible(track, source)
    classification = classify_clip(track, view=view, setting=setting, activity=activity)
    _check_activity(classification, source)
    # events run on the strongly smoothed track they were calibrated on, metrics on the
    # peak-preserving one (gaitcheck.clean explains both)
    event_track, cleaned, cleaning_report = track, track, None
    if clean:
        cleaned_tracks = clean_tracks(track, classification)
        event_track, cleaned, cleaning_report = cleaned_tracks.events, cleaned_tracks.metrics, cleaned_tracks.report
    pelvis_entry = None
    pelvis_height_px = None
    if pelvis_obliquity_deg is None and classification.view in ("rear", "front"):
        if video is not None:
            estimate, pelvis_entry = _pelvis_estimate_from_video(video, event_track, pelvis_crops)
            if pelvis_entry["used"]:
                pelvis_obliquity_deg = np.asarray(estimate.obliquity_deg, dtype=np.float64)
                pelvis_height_px = estimate.height_px
        elif is_mediapipe_track(track):
            pelvis_entry = _pelvis_entry_without_video()
    if stances is None:
        from gaitcheck.events import detect_stances

        # in rear/front views a measured pelvis line also tells which foot is in stance
        # (the pose model can name the feet by image side, e.g. in a crossover gait), and
        # the pelvis texture's height marks the flights, from which contacts are timed
        stances = detect_stances(
            event_track,
            classification,
            pelvic_obliquity_deg=pelvis_obliquity_deg,
            pelvis_height_px=pelvis_height_px,
            metric_track=cleaned if clean else None,
            uncleaned_track=track if clean else None,
        )
    _check_stances(stances, source)
    # the per-stance peaks of the frontal angles of exact landmarks are read before the metric
    # track's low-pass, which is there against a pose model's jitter and rounds a peak of a few
    # frames off by up to 0.6 deg (knee FPPA, truth replays of held-out front renders)
    peak_track = track if clean and has_exact_landmarks(track) else cleaned
    strides = compute_strides(
        cleaned,
        stances,
        classification,
        height_cm=height_cm,
        pelvis_obliquity_deg=pelvis_obliquity_deg,
        peak_track=peak_track,
    )
    summary = summarize(
        strides,
        classification,
        cleaning_report=cleaning_report,
        fps=track.fps,
        clip_start_s=float(track.time_s[0]),
        clip_end_s=float(track.time_s[-1]),
        backend=track.meta.get("backend"),
    )
    summary["clip"]["source"] = source
    summary["clip"]["n_frames"] = track.n_frames
    summary["clip"]["duration_s"] = track.duration_s
    summary["clip"]["height_cm"] = height_cm
    if pelvis_entry is not None:
        summary["clip"]["pelvis_estimate"] = pelvis_entry
        if pelvis_entry["used"] is False and "pelvic_drop_deg" in summary["metrics"]:
            quality = summary["metrics"]["pelvic_drop_deg"]["quality"]
            quality["reasons"].extend(f"pelvis texture not usable: {reason}" for reason in pelvis_entry["reasons"])
    return Analysis(source, classification, cleaning_report, cleaned, stances, strides, summary)


def _pelvis_entry_without_video() -> dict[str, Any]:
    """What the summary says of the pelvis estimate when a pose model's rear or front track is
    analysed without its video (e.g. a saved track): nothing was measured, and why that matters."""
    return {
        "used": False,
        "method": None,
        "quality": None,
        "reasons": [
            "no video given (a saved track): pelvic drop comes from the pose model's hip points, and the "
            "feet name the stance sides, which a pose model can swap from behind or in front (e.g. in a "
            "crossover gait); analyse the video itself to measure the pelvis from its frames"
        ],
        "anchor": None,
        "camera_roll_deg": None,
        "measured_fraction": 0.0,
    }


def _pelvis_cache_path(track: PoseTrack) -> Path | None:
    """Where the pelvis estimate of a track extracted from a video is cached (None for other tracks).

    The key covers the video's bytes (its sha256 from extraction), every landmark's pixel
    position (the estimate's only other input), the frame rate, the gaitcheck version and
    the estimator's source code, so an edited estimator never reads an older estimate.
    """
    import hashlib

    video_sha256 = track.meta.get("video_sha256")
    if not video_sha256:
        return None
    from gaitcheck import __version__, pelvis
    from gaitcheck.pose.model import cache_root

    digest = hashlib.sha256()
    digest.update(f"{video_sha256} {__version__} {track.fps!r} {track.width}x{track.height}".encode())
    digest.update(Path(pelvis.__file__).read_bytes())
    digest.update(np.ascontiguousarray(track.xy_px, dtype=np.float64).tobytes())
    return cache_root() / PELVIS_CACHE_SUBDIR / f"{digest.hexdigest()}.npz"


def _pelvis_estimate_from_video(
    video: str | os.PathLike[str], track: PoseTrack, crops: PelvisCrops | None = None
) -> tuple[PelvisEstimate, dict[str, Any]]:
    """The pelvis-texture estimate, and what to report (``entry["used"]``: quality "ok").

    Taken from the cache when this track of this video was measured before; else measured
    on ``crops`` (cut by extraction) when they cover the track's frames, else on the frames
    decoded again from the video, and cached.
    """
    from gaitcheck.pelvis import estimate_from_crops, estimate_pelvis_obliquity, load_estimate, save_estimate

    cache_path = _pelvis_cache_path(track)
    estimate = load_estimate(cache_path) if cache_path is not None else None
    if estimate is None or estimate.obliquity_deg.size != track.n_frames:
        if crops is not None and crops.n_frames == track.n_frames:
            estimate = estimate_from_crops(crops, track)
        else:
            estimate = estimate_pelvis_obliquity(video, track)
        if cache_path is not None:
            save_estimate(estimate, cache_path)
    used = estimate.quality == "ok"
    entry = {
        "used": used,
        "method": estimate.method,
        "quality": estimate.quality,
        "reasons": list(estimate.reasons),
        "anchor": estimate.anchor,
        "camera_roll_deg": estimate.camera_roll_deg,
        "measured_fraction": float(np.isfinite(estimate.obliquity_deg).mean()) if track.n_frames else 0.0,
    }
    return estimate, entry


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether a source path is a video (neither a saved track nor a truth file)."""
    path = Path(path)
    return not path.name.endswith(TRUTH_SUFFIX) and path.suffix.lower() not in TRACK_SUFFIXES


def load_source_track(path: str | os.PathLike[str], *, progress: bool = False, workers: int | None = None) -> PoseTrack:
    """A pose track from a video (extracted with the pose model), a saved track or a truth file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; give a video, a saved track (.parquet) or a .truth.json")
    if path.name.endswith(TRUTH_SUFFIX):
        from gaitcheck.pose.replay import track_from_truth

        return track_from_truth(path)
    if path.suffix.lower() in TRACK_SUFFIXES:
        return PoseTrack.load(path)
    from gaitcheck import extract

    track: PoseTrack = extract.extract_track(path, **_extract_options(progress, workers))
    return track


def _extract_options(progress: bool, workers: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {"progress": progress}
    if workers is not None:
        options["workers"] = workers
    return options


def analyze_source(
    path: str | os.PathLike[str],
    *,
    view: str | None = None,
    setting: str | None = None,
    activity: str | None = None,
    height_cm: float | None = None,
    progress: bool = False,
    workers: int | None = None,
    pelvis_from_video: bool = True,
) -> Analysis:
    """Analyse a video, a saved track (``.parquet``) or a gaitsynth ``.truth.json``.

    For a video in a rear or front view, pelvic drop comes from the pelvis region of the
    frames when that measurement is good enough (``pelvis_from_video=False`` to skip it).
    """
    video: Path | None = None
    crops: PelvisCrops | None = None
    if pelvis_from_video and is_video(path) and Path(path).exists():
        from gaitcheck import extract

        # the pelvis crops are cut while extraction decodes the frames: no second decode
        track, crops = extract.extract_with_pelvis_crops(path, **_extract_options(progress, workers))
        video = Path(path)
    else:
        track = load_source_track(path, progress=progress, workers=workers)
    return analyze_track(
        track,
        view=view,
        setting=setting,
        activity=activity,
        height_cm=height_cm,
        source=str(path),
        video=video,
        pelvis_crops=crops,
    )


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as strict JSON text (no NaN)."""
    return strict_json(summary)


def check_outdir(outdir: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Refuse (InputError) an output folder that is a file, or holds files unless ``force``.

    Call it before a long analysis so a bad ``-o`` fails at once.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: exists and is not a folder; choose another -o OUTDIR")
    if not force and outdir.is_dir() and any(outdir.iterdir()):
        raise InputError(f"{outdir}: folder is not empty; choose another -o OUTDIR or pass --force to overwrite")
    return outdir


def write_outputs(analysis: Analysis, outdir: str | os.PathLike[str], *, force: bool = False) -> dict[str, Path]:
    """Write ``strides.csv`` and ``summary.json`` into ``outdir`` atomically.

    Refuses (InputError) when ``outdir`` already holds files, unless ``force``. Returns the
    written paths by kind (``"strides"``, ``"summary"``) so later writers can add to it.
    """
    outdir = check_outdir(outdir, force=force)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {"strides": outdir / STRIDES_FILE, "summary": outdir / SUMMARY_FILE}
    write_text_atomic(paths["strides"], analysis.strides.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(paths["summary"], summary_json(analysis.summary))
    return paths


def summary_row(analysis: Analysis) -> dict[str, Any]:
    """One flat row per clip for batch tables: clip facts and the mean of every metric."""
    summary = analysis.summary
    classification = summary.get("classification", {})
    row: dict[str, Any] = {
        "n_frames": analysis.track.n_frames,
        "fps": analysis.track.fps,
        "view": classification.get("view"),
        "oblique": classification.get("oblique"),
        "setting": classification.get("setting"),
        "activity": classification.get("activity"),
        "n_stances": summary["clip"]["n_stances_used"],
        "n_strides": summary["clip"]["n_stances_used"] // 2,
        "cadence_spm": summary["clip"]["cadence_spm"],
    }
    for name, entry in summary["metrics"].items():
        if name == "cadence_spm":
            continue
        row[name] = entry["overall"]["mean"]
        row[f"{name}_left"] = entry["left"]["mean"]
        row[f"{name}_right"] = entry["right"]["mean"]
        row[f"{name}_quality"] = entry["quality"]["flag"]
    flat: dict[str, Any] = jsonable(row)
    return flat


def _cell(stats: dict[str, Any] | None, digits: int) -> str:
    if not stats or stats.get("mean") is None:
        return "-"
    text = f"{stats['mean']:.{digits}f}"
    return text if stats.get("sd") is None else f"{text} ± {stats['sd']:.{digits}f}"


def summary_table_rows(summary: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, left, right, overall, n left/right, quality) text rows of a summary (mean ± SD)."""
    rows = []
    for name, entry in summary["metrics"].items():
        digits = 3 if name.endswith("_s") else 1
        if name == "cadence_spm" and entry.get("clip_value") is not None:
            overall = f"{entry['clip_value']:.1f} (clip)"
        else:
            overall = _cell(entry["overall"], digits)
        counts = f"{entry['left']['n']}/{entry['right']['n']}"
        rows.append(
            (
                name,
                _cell(entry["left"], digits),
                _cell(entry["right"], digits),
                overall,
                counts,
                entry["quality"]["flag"],
            )
        )
    return rows


def summary_table(summary: dict[str, Any]) -> Any:
    """A rich Table of the per-side summary, for the terminal."""
    from rich.table import Table

    classification = summary.get("classification", {})
    title = ", ".join(str(classification.get(key)) for key in ("view", "setting", "activity") if key in classification)
    table = Table(title=f"gaitcheck summary ({title})" if title else "gaitcheck summary")
    table.add_column("metric", no_wrap=True)
    for column in ("left", "right", "overall", "n L/R"):
        table.add_column(column, justify="right")
    table.add_column("quality")
    colours = {"ok": "green", "limited": "yellow", "unreliable": "red"}
    for *cells, quality in summary_table_rows(summary):
        table.add_row(*cells, f"[{colours.get(quality, 'white')}]{quality}[/]")
    return table
