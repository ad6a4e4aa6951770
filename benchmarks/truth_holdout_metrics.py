"""Issue-3 acceptance 1 on truth-only renders: true landmarks, detected events, per clip.

For every ``<clip>.truth.json`` in the given folders (e.g. made with ``gaitsynth.py suite
benchmarks/event_truth_holdout_suite.toml -o DIR --truth-only``; no video is needed) the
true landmarks are replayed through the product path twice:

* events only (as ``benchmarks/validate_events.py``): classification view from the truth,
  ``clean_tracks``, ``detect_stances``; IC / TO error in frames, nearest same-foot detection;
* the whole analysis (as ``benchmarks/validate.py``'s "true landmarks, detected events"):
  ``analyze_track`` with the truth's view and setting, per-stance errors against the truth
  stance of the same side nearest in IC time.

Printed per clip: IC / TO median and max |error| (frames), cadence error (steps/min), the
worst per-stance |error| of heel ahead of the pelvis (% leg length; side views), knee FPPA
and pelvic drop (deg; rear/front views), and which acceptance limits it misses (IC / TO
1 frame, cadence 0.5 spm, heel ahead 1 % leg, FPPA / drop 0.5 deg). ``--halves`` also
summarises odd and even seeds apart (calibration / held-out halves of the suite).

Two more columns (not acceptance limits) tell the sources of a side view's heel-ahead error
apart: ``heel_ahead_true_events_worst_pct_leg``, the same worst error with the TRUE events
(what is left is the metric itself, mostly the leg length), and ``leg_length_ratio``, the
estimated leg length in pixels over the true one at the pelvis's median scale (a side view's
heel ahead is divided by it). On a treadmill 1 % of leg length is 2-3 ms of IC error.

Usage::

    python benchmarks/truth_holdout_metrics.py DIR [DIR ...] [--halves] [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from gaitcheck.classify import ClipClassification
from gaitcheck.clean import clean_tracks
from gaitcheck.errors import GaitcheckError
from gaitcheck.events import detect_stances
from gaitcheck.pose.replay import read_truth, track_from_truth

HERE = Path(__file__).resolve().parent
#: Acceptance limits of issue 3 (true landmarks): column -> largest allowed |error|.
LIMITS = {
    "IC_max_frames": 1.0,
    "TO_max_frames": 1.0,
    "cadence_error_spm": 0.5,
    "heel_ahead_worst_pct_leg": 1.0,
    "fppa_worst_deg": 0.5,
    "drop_worst_deg": 0.5,
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def clip_row(path: Path, validate: ModuleType, validate_events: ModuleType) -> dict[str, Any]:
    """Event and metric errors of one truth file (true landmarks, detected events)."""
    truth = read_truth(path)
    params = truth["params"]
    name = path.name.removesuffix(".truth.json")
    track = track_from_truth(truth)
    row: dict[str, Any] = {"clip": name, "seed": params["seed"], "view": params["view"], "fps": round(track.fps)}
    classification = ClipClassification(view=params["view"], oblique=False, setting="treadmill", activity="running")
    cleaned = clean_tracks(track, classification)
    try:
        stances = detect_stances(cleaned.events, classification, metric_track=cleaned.metrics, uncleaned_track=track)
    except GaitcheckError as exc:
        return {**row, "error": str(exc)}
    events = [(e["side"], e["event"], e["time_s"]) for e in truth["events"]]
    errors = validate_events.event_errors(events, stances, track.fps, track.duration_s)
    summary = validate_events.summarise(name, "true", track.fps, errors, {})
    for kind in ("IC", "TO"):
        row[f"{kind}_median_frames"] = summary[f"{kind}_median_frames"]
        row[f"{kind}_max_frames"] = summary[f"{kind}_max_frames"]
        row[f"{kind}_missed"] = summary[f"{kind}_missed"]
    case = validate.evaluate_case(name, "true landmarks, detected events", track, truth, true_events=False)
    if case.error:
        return {**row, "error": case.error}
    row["cadence_error_spm"] = round(case.clip_level["cadence_error_spm"], 3)
    row["leg_length_ratio"] = round(case.clip_level["leg_length_ratio"], 3)
    for column, metric in (
        ("heel_ahead_worst_pct_leg", "heel_ahead_pct_leg"),
        ("fppa_worst_deg", "knee_fppa_deg"),
        ("drop_worst_deg", "pelvic_drop_deg"),
    ):
        values = case.per_metric.get(metric)
        row[column] = round(values["max_abs"], 2) if values else None
    if params["view"].startswith("side"):
        with_true_events = validate.evaluate_case(name, "true landmarks, true events", track, truth, true_events=True)
        values = with_true_events.per_metric.get("heel_ahead_pct_leg")
        row["heel_ahead_true_events_worst_pct_leg"] = round(values["max_abs"], 2) if values else None
    row["matched"] = f"{case.clip_level['matched']:.0f}/{case.clip_level['true_stances']:.0f}"
    misses = [
        column.split("_")[0] if column != "cadence_error_spm" else "cadence"
        for column, limit in LIMITS.items()
        if row.get(column) is not None and abs(row[column]) > limit
    ]
    row["misses"] = ", ".join(misses + (["missed ICs"] if row["IC_missed"] else []))
    return row


def half_summary(rows: list[dict[str, Any]], label: str) -> str:
    """Worst value of every acceptance column over some clips, and how many clips miss a limit."""
    parts = []
    for column in LIMITS:
        values = [(abs(r[column]), r["clip"]) for r in rows if r.get(column) is not None]
        if values:
            worst, clip = max(values)
            parts.append(f"{column} {worst:.2f} ({clip})")
    failing = sum(bool(r.get("misses") or r.get("error")) for r in rows)
    return f"- {label}: {len(rows)} clips, {failing} miss a limit; worst " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", help="folders with <clip>.truth.json files")
    parser.add_argument("--halves", action="store_true", help="also summarise odd and even seeds apart")
    parser.add_argument("--markdown", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()
    validate, validate_events = _load("validate"), _load("validate_events")
    paths = sorted(path for folder in args.folders for path in folder.glob("*.truth.json"))
    rows = [clip_row(path, validate, validate_events) for path in paths]
    lines = [validate_events.markdown_table(rows), half_summary(rows, "all")]
    if args.halves:
        for label, parity in (("odd seeds (calibration)", 1), ("even seeds (held out)", 0)):
            lines.append(half_summary([r for r in rows if r["seed"] % 2 == parity], label))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
