"""Dump the outputs of ``pipeline.analyze_track`` on every available clip, and compare dumps.

For checking that a speed-up leaves the results unchanged: run ``dump`` before and after
the change and ``compare`` the two folders. Clips: every gaitsynth truth file (replayed as
exact landmarks, cleaned as usual) under ``--truth-dir`` folders and every saved MediaPipe
track (``.parquet``) under ``--track-dir`` folders. Per clip the dump holds the stances
table, the strides table (with ``attrs``), the summary, the classification, the cleaning
report and the cleaned metric track's image coordinates, or the error message when the
analysis refused the clip.

Run from the repository root:
    python benchmarks/dump_analysis.py dump OUT_DIR
    python benchmarks/dump_analysis.py compare BEFORE_DIR AFTER_DIR [--rtol 1e-9]
"""

from __future__ import annotations

import argparse
import math
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gaitcheck.errors import GaitcheckError
from gaitcheck.pipeline import analyze_track
from gaitcheck.pose.replay import track_from_truth
from gaitcheck.track import PoseTrack

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRUTH_DIRS = (
    REPO.parent / "shared" / "data" / "synthetic",
    REPO / "sample_videos",
    Path("/work/wt/extra-renders"),
)
DEFAULT_TRACK_DIRS = (Path("/work/wt/mp-tracks"), Path("/work/wt/extra-renders"))


def clips(truth_dirs: list[Path], track_dirs: list[Path]) -> Iterator[tuple[str, PoseTrack]]:
    """(name, raw track) of every truth file and saved track in the folders."""
    for folder in truth_dirs:
        for path in sorted(folder.glob("*.truth.json")):
            yield f"truth/{path.name.removesuffix('.truth.json')}", track_from_truth(path)
    for folder in track_dirs:
        for path in sorted(folder.glob("*.parquet")):
            yield f"mediapipe/{folder.name}/{path.stem}", PoseTrack.load(path)


def outputs(track: PoseTrack, **options: Any) -> dict[str, Any]:
    """Everything ``analyze_track`` produced for one track (or the refusal message).

    A clip refused as walking is analysed again as walking (``"as_walking"``), so the
    walking code paths are compared too.
    """
    try:
        analysis = analyze_track(track, **options)
    except GaitcheckError as exc:
        refused: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
        if "looks like walking" in str(exc):
            refused["as_walking"] = outputs(track, activity="walking")
        return refused
    return {
        "classification": analysis.classification.as_dict(),
        "cleaning_report": analysis.cleaning_report.as_dict(),
        "stances": analysis.stances,
        "stances_attrs": dict(analysis.stances.attrs),
        "strides": analysis.strides,
        "strides_attrs": dict(analysis.strides.attrs),
        "summary": analysis.summary,
        "metric_image_xyz": np.asarray(analysis.track.image_xyz),
        "metric_world_xyz": np.asarray(analysis.track.world_xyz),
    }


def differences(before: Any, after: Any, rtol: float, where: str = "") -> Iterator[str]:
    """Descriptions of every place where two nested outputs differ beyond ``rtol``."""
    if isinstance(before, pd.DataFrame):
        if list(before.columns) != list(after.columns) or len(before) != len(after):
            yield f"{where}: table shape/columns differ {before.shape} vs {after.shape}"
            return
        for column in before.columns:
            yield from differences(before[column].to_numpy(), after[column].to_numpy(), rtol, f"{where}.{column}")
    elif isinstance(before, dict):
        if set(before) != set(after):
            yield f"{where}: keys differ {sorted(set(before) ^ set(after))}"
        for key in before.keys() & after.keys():
            yield from differences(before[key], after[key], rtol, f"{where}.{key}")
    elif isinstance(before, list | tuple):
        if len(before) != len(after):
            yield f"{where}: lengths differ {len(before)} vs {len(after)}"
            return
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from differences(b, a, rtol, f"{where}[{i}]")
    elif isinstance(before, np.ndarray):
        if before.shape != after.shape:
            yield f"{where}: shapes differ {before.shape} vs {after.shape}"
        elif before.dtype.kind in "fc" or after.dtype.kind in "fc":
            b, a = before.astype(np.float64), after.astype(np.float64)
            close = np.isclose(b, a, rtol=rtol, atol=0.0, equal_nan=True)
            if not close.all():
                worst = np.nanmax(np.abs(b - a) / np.maximum(np.abs(b), 1e-300))
                yield f"{where}: {int((~close).sum())} values differ (largest relative {worst:.3g})"
        elif not np.array_equal(before, after):
            yield f"{where}: {int((before != after).sum())} values differ"
    elif isinstance(before, float) and isinstance(after, float):
        if not (math.isclose(before, after, rel_tol=rtol) or (math.isnan(before) and math.isnan(after))):
            yield f"{where}: {before!r} vs {after!r}"
    elif before != after:
        yield f"{where}: {before!r} vs {after!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump")
    dump.add_argument("out", type=Path)
    dump.add_argument("--truth-dir", type=Path, action="append")
    dump.add_argument("--track-dir", type=Path, action="append")
    compare = commands.add_parser("compare")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    compare.add_argument("--rtol", type=float, default=1e-9)
    args = parser.parse_args()
    if args.command == "dump":
        args.out.mkdir(parents=True, exist_ok=True)
        truth_dirs = args.truth_dir or [d for d in DEFAULT_TRUTH_DIRS if d.is_dir()]
        track_dirs = args.track_dir or [d for d in DEFAULT_TRACK_DIRS if d.is_dir()]
        for name, track in clips(truth_dirs, track_dirs):
            result = outputs(track)
            (args.out / (name.replace("/", "__") + ".pkl")).write_bytes(pickle.dumps(result))
            print(f"{name}: {result.get('error', 'ok')}")
        return
    before_files = {path.name for path in args.before.glob("*.pkl")}
    after_files = {path.name for path in args.after.glob("*.pkl")}
    if before_files != after_files:
        print(f"clips differ: {sorted(before_files ^ after_files)}")
    n_different = 0
    for name in sorted(before_files & after_files):
        before = pickle.loads((args.before / name).read_bytes())
        after = pickle.loads((args.after / name).read_bytes())
        found = list(differences(before, after, args.rtol, name.removesuffix(".pkl")))
        n_different += bool(found)
        for line in found:
            print(line)
    print(f"{len(before_files & after_files)} clips compared at rtol {args.rtol:g}; {n_different} differ")


if __name__ == "__main__":
    main()
