"""Assemble everything the report shows: findings, plan, metric rows, plots, key frames.

:func:`build_report_data` is pure (summary, evaluation, plan and clip facts in; the
``report.json`` dict out). :func:`build_report` also renders the figures and reads the key
frames from the videos; it returns a :class:`ReportBundle` that
:func:`gaitcheck.report.html.write_report` writes to disk.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from gaitcheck import __version__
from gaitcheck.findings import Evaluation, RuleSet, evaluate, load_rules
from gaitcheck.plan import Plan, build_plan, filming_instructions
from gaitcheck.report.session import AnalysisLike, clip_label, combined_strides, merge_summaries

REPORT_FORMAT = "gaitcheck-report/1"
MIN_FPS_RECOMMENDED = 60.0
MIN_DETECTION_RATE = 0.9
DISCLAIMER = (
    "gaitcheck estimates movement from video with a pose model. The numbers carry measurement error "
    "(see the confidence intervals and quality notes), the thresholds are screening guides, and nothing "
    "here is a diagnosis or medical advice. If you have pain, see a qualified clinician."
)
#: Metrics shown in the report, in this order (others in the summary follow).
METRIC_ORDER = (
    "pelvic_drop_deg",
    "knee_fppa_deg",
    "hip_adduction_deg",
    "step_width_pct_leg",
    "heel_ahead_pct_leg",
    "shank_angle_ic_deg",
    "cadence_spm",
    "foot_inclination_ic_deg",
    "knee_flexion_ic_deg",
    "knee_flexion_peak_deg",
    "trunk_lean_deg",
    "contact_time_s",
    "flight_time_s",
    "duty_factor_pct",
    "step_time_s",
    "stride_time_s",
    "vertical_oscillation_pct_leg",
)
#: Legend label of each per-frame signal's series, by side.
SIGNAL_LABELS = {
    "pelvic_drop_deg": "{side} stance: drop of the other side",
    "knee_fppa_deg": "{side} knee",
    "heel_ahead_pct_leg": "{side} heel",
}
#: Metrics that get a per-stride plot.
PLOTTED_METRICS = ("pelvic_drop_deg", "knee_fppa_deg", "heel_ahead_pct_leg", "shank_angle_ic_deg", "contact_time_s")


@dataclass(frozen=True)
class ReportImage:
    """One embedded picture: PNG bytes plus what it shows."""

    id: str
    kind: str  # "plot" | "key_frame"
    title: str
    caption: str
    clip: str
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class ReportBundle:
    """Everything needed to write the report files."""

    data: dict[str, Any]
    images: tuple[ReportImage, ...]
    strides_csv: str


@cache
def metric_info() -> dict[str, dict[str, Any]]:
    """Display names, units, meanings and reference bands of the metrics (rules/metrics.toml)."""
    text = resources.files("gaitcheck.rules").joinpath("metrics.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["metric"])


def _stats_or_none(entry: Mapping[str, Any], side: str) -> dict[str, Any] | None:
    stats = entry.get(side)
    if not isinstance(stats, Mapping) or stats.get("mean") is None:
        return None
    return {key: stats.get(key) for key in ("mean", "sd", "median", "ci95", "n")}


def metric_rows(summary: Mapping[str, Any], rules: RuleSet, evaluation: Evaluation) -> list[dict[str, Any]]:
    """One display row per metric in the summary: per-side values, band, meaning, verdict."""
    info = metric_info()
    by_metric = {rule.metric: rule for rule in rules.level_rules}
    metrics: Mapping[str, Any] = summary.get("metrics", {})
    names = [m for m in METRIC_ORDER if m in metrics] + sorted(m for m in metrics if m not in METRIC_ORDER)
    rows = []
    for name in names:
        entry = metrics[name]
        meta = info.get(name, {})
        rule = by_metric.get(name)
        band = list(rule.reference_band) if rule else meta.get("reference_band")
        reference_source = (
            f"{rule.source} ({'published cut-off' if rule.basis == 'published' else 'gaitcheck convention'})"
            if rule
            else meta.get("reference_source", "none").replace("none", "no published reference range", 1)
        )
        verdicts = {
            a.side: {"level": a.level, "status": a.status}
            for a in evaluation.assessments
            if a.metric == name and a.kind == "level"
        }
        quality = entry.get("quality") or {"flag": "ok", "reasons": []}
        rows.append(
            {
                "name": name,
                "title": meta.get("title", rule.title if rule else name),
                "unit": meta.get("unit", ""),
                "meaning": rule.meaning if rule else meta.get("meaning", ""),
                "left": _stats_or_none(entry, "left"),
                "right": _stats_or_none(entry, "right"),
                "overall": _stats_or_none(entry, "overall"),
                "reference_band": [float(band[0]), float(band[1])] if band else None,
                "reference_source": reference_source,
                "quality": {"flag": str(quality.get("flag", "ok")), "reasons": list(quality.get("reasons", []))},
                "verdicts": verdicts,
                "from_clips": list(entry.get("from_clips", [])),
            }
        )
    return rows


def _number_text(value: float, unit: str) -> str:
    return f"{value:.0f} {unit}" if unit in ("steps/min", "% leg") else f"{value:.1f} {unit}"


def _ci_text(ci: tuple[float, float] | None) -> str:
    return f" (95% CI {ci[0]:.1f} to {ci[1]:.1f})" if ci is not None else " (no confidence interval)"


def headline(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Plain sentences for the findings, one per rule (both sides together): present before
    possible, marked before elevated."""
    rank = {"marked": 0, "elevated": 1}
    groups: dict[tuple[str, str], list[Any]] = {}
    for finding in evaluation.findings:
        groups.setdefault((finding.kind, finding.rule_id), []).append(finding)
    items = []
    for (kind, _), findings in groups.items():
        lead = min(findings, key=lambda f: (rank[f.level], f.status != "present"))
        if kind == "asymmetry":
            text = (
                f"{lead.title}: difference {_number_text(lead.value, lead.unit)}{_ci_text(lead.ci95)} "
                f"(left {lead.side_values['left']:.1f}, right {lead.side_values['right']:.1f}); "
                f"{lead.level}, {lead.status}. Weaker side: {lead.weaker_side}."
            )
        else:
            parts = [
                ("" if f.side == "overall" else f"{f.side} ")
                + f"{_number_text(f.value, f.unit)}{_ci_text(f.ci95)}, {f.level} ({f.status})"
                for f in sorted(findings, key=lambda f: f.side)
            ]
            text = f"{lead.title}: " + "; ".join(parts) + "."
        if any(f.status == "possible" for f in findings):
            text += " 'Possible' means the confidence interval straddles the threshold."
        items.append(
            {
                "text": text,
                "level": lead.level,
                "status": lead.status,
                "category": lead.category,
                "rule_id": lead.rule_id,
                "threshold_note": (
                    f"Elevated beyond {lead.elevated:g} {lead.unit}, marked beyond {lead.marked:g} {lead.unit}. "
                    f"{lead.basis_note}"
                ),
                "source": lead.source,
            }
        )
    return sorted(items, key=lambda item: (item["status"] != "present", rank[item["level"]]))


def capture_notes(
    clips: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], evaluation: Evaluation
) -> list[dict[str, str]]:
    """What limited this analysis, each with how to film better."""
    notes: list[dict[str, str]] = []
    for clip in clips:
        label = clip["label"]
        fps = clip.get("fps")
        if fps is not None and fps < MIN_FPS_RECOMMENDED:
            notes.append(
                {
                    "topic": "frame rate",
                    "note": f"{label}: filmed at {fps:g} fps, so contact events are only good to about "
                    f"+/-{1000 / fps:.0f} ms. Film at 60 fps or more.",
                }
            )
        if clip.get("oblique"):
            notes.append(
                {
                    "topic": "camera angle",
                    "note": f"{label}: the camera is well off the straight rear/front/side line, which distorts "
                    "knee and pelvis angles. Film straight from behind and exactly side-on.",
                }
            )
        rate = clip.get("detection_rate")
        if rate is not None and rate < MIN_DETECTION_RATE:
            notes.append(
                {
                    "topic": "runner in view",
                    "note": f"{label}: the runner was found in only {100 * rate:.0f}% of frames. Keep the whole "
                    "body, feet included, in the frame; use even light and fitted clothing.",
                }
            )
    views = {str(v) for v in summary.get("classification", {}).get("views", [])} or {
        str(summary.get("classification", {}).get("view", ""))
    }
    if not views & {"rear", "front"}:
        notes.append(
            {
                "topic": "missing view",
                "note": "No rear or front clip: pelvic drop and knee valgus were not measured. Add a clip filmed "
                "straight from behind.",
            }
        )
    if not any(v.startswith("side") for v in views):
        notes.append(
            {
                "topic": "missing view",
                "note": "No side clip: landing position and shin angle were not measured. Add a clip filmed "
                "exactly side-on.",
            }
        )
    seen: set[str] = set()
    for name, entry in summary.get("metrics", {}).items():
        quality = entry.get("quality") or {}
        if quality.get("flag") in ("limited", "unreliable"):
            for reason in quality.get("reasons", []):
                key = f"{quality['flag']}:{reason}"
                if key in seen:
                    continue
                seen.add(key)
                notes.append({"topic": f"{quality['flag']} measurement", "note": f"{name}: {reason}"})
    for skipped in evaluation.skipped:
        if "unreliable" in skipped.reason:
            notes.append(
                {
                    "topic": "no finding possible",
                    "note": f"{skipped.metric} ({skipped.side}): {skipped.reason}; no finding was made from it.",
                }
            )
    return notes


def clip_facts(analysis: AnalysisLike) -> dict[str, Any]:
    """JSON-able facts about one analysed clip."""
    classification = analysis.summary.get("classification", {})
    clip = analysis.summary.get("clip", {})
    return {
        "label": clip_label(analysis),
        "source": str(analysis.source),
        "view": str(classification.get("view", "unknown")),
        "oblique": bool(classification.get("oblique", False)),
        "setting": classification.get("setting"),
        "activity": classification.get("activity"),
        "fps": float(analysis.track.fps),
        "n_frames": int(analysis.track.n_frames),
        "duration_s": float(analysis.track.duration_s),
        "n_stances_used": int(clip.get("n_stances_used", 0) or 0),
        "detection_rate": float(analysis.track.detection_rate()),
    }


def build_report_data(
    summary: Mapping[str, Any],
    evaluation: Evaluation,
    plan: Plan,
    rules: RuleSet,
    clips: Sequence[Mapping[str, Any]],
    *,
    created: dt.datetime,
    runner_name: str | None = None,
    notes: str | None = None,
    key_frames: Sequence[Mapping[str, Any]] = (),
    figures: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The ``report.json`` content (everything the HTML shows, except image pixels)."""
    return {
        "format": REPORT_FORMAT,
        "gaitcheck_version": __version__,
        "created": created.isoformat(timespec="seconds"),
        "runner": {"name": runner_name, "notes": notes},
        "clips": [dict(c) for c in clips],
        "headline": headline(evaluation),
        "findings": evaluation.to_dict(),
        "metrics": metric_rows(summary, rules, evaluation),
        "key_frames": [dict(k) for k in key_frames],
        "figures": [dict(f) for f in figures],
        "capture_notes": capture_notes(clips, summary, evaluation),
        "filming_advice": list(filming_instructions()),
        "plan": plan.to_dict(),
        "summary": dict(summary),
        "disclaimer": DISCLAIMER,
    }


def video_for(analysis: AnalysisLike) -> Path | None:
    """The video file behind an analysis (the source itself, or the clip beside a truth file
    or recorded in a saved track), if it can be found."""
    source = Path(str(analysis.source))
    if source.name.endswith(".truth.json"):
        import json

        truth_clip = json.loads(source.read_text(encoding="utf-8")).get("clip", {})
        beside = source.parent / Path(str(truth_clip.get("video", ""))).name
        return beside if beside.is_file() else None
    if source.suffix.lower() == ".parquet":
        meta_source = analysis.track.meta.get("source")
        recorded = Path(str(meta_source)) if meta_source else None
        return recorded if recorded is not None and recorded.is_file() else None
    return source if source.is_file() else None


def _plot_images(analysis: AnalysisLike, rules: RuleSet) -> list[ReportImage]:
    from gaitcheck.report.plots import figure_png, signal_figure, stride_values_figure
    from gaitcheck.report.signals import report_signals

    label = clip_label(analysis)
    info = metric_info()
    by_metric = {rule.metric: rule for rule in rules.level_rules}
    images = []
    strides = analysis.strides
    for metric in PLOTTED_METRICS:
        if metric not in strides.columns:
            continue
        rule = by_metric.get(metric)
        meta = info.get(metric, {})
        title = rule.title if rule else meta.get("title", metric)
        band = rule.reference_band if rule else meta.get("reference_band")
        thresholds = {"elevated": rule.elevated, "marked": rule.marked} if rule else None
        figure = stride_values_figure(
            strides,
            metric,
            title=f"{title}, every stance",
            unit=meta.get("unit", ""),
            reference_band=tuple(band) if band else None,
            thresholds=thresholds,
        )
        images.append(
            ReportImage(
                f"strides-{label}-{metric}",
                "plot",
                f"{title}: stance by stance",
                f"Each dot is one stance of {label}; lines are the side means; green is the reference band"
                + ("; dashed red lines are the elevated and marked thresholds." if rule else "."),
                label,
                figure_png(figure),
            )
        )
    view = str(analysis.summary.get("classification", {}).get("view", ""))
    leg_px = analysis.summary.get("clip", {}).get("leg_length_px")
    for name, series in report_signals(analysis.track, view, leg_px).items():
        meta = info.get(name, {})
        figure = signal_figure(
            analysis.track.time_s,
            {SIGNAL_LABELS.get(name, "{side}").format(side=side): values for side, values in series.items()},
            analysis.stances,
            title=meta.get("title", name),
            unit=meta.get("unit", ""),
        )
        images.append(
            ReportImage(
                f"signal-{label}-{name}",
                "plot",
                f"{meta.get('title', name)} over time",
                f"Frame-by-frame {meta.get('title', name).lower()} in {label}, stances shaded.",
                label,
                figure_png(figure),
            )
        )
    return images


def _key_frame_images(analysis: AnalysisLike) -> tuple[list[ReportImage], list[dict[str, Any]], list[str]]:
    from gaitcheck.errors import GaitcheckError
    from gaitcheck.report.keyframes import draw_key_frame, landmarks_at, png_bytes, read_frames, select_key_frames
    from gaitcheck.report.signals import report_signals

    label = clip_label(analysis)
    view = str(analysis.summary.get("classification", {}).get("view", ""))
    leg_px = analysis.summary.get("clip", {}).get("leg_length_px")
    specs = select_key_frames(analysis.track, analysis.strides, view, report_signals(analysis.track, view, leg_px))
    if not specs:
        return [], [], []
    video = video_for(analysis)
    if video is None:
        return [], [], [f"{label}: key frames left out, the video file was not found beside the analysis source."]
    try:
        frames = read_frames(video, [s.frame for s in specs])
    except GaitcheckError as exc:
        return [], [], [f"{label}: key frames left out, the video could not be read ({exc})."]
    images, entries = [], []
    for spec in specs:
        if spec.frame not in frames:
            continue
        picture = draw_key_frame(frames[spec.frame], landmarks_at(analysis.track, spec.frame), spec)
        image_id = f"keyframe-{label}-{spec.kind}"
        images.append(ReportImage(image_id, "key_frame", spec.title, spec.caption, label, png_bytes(picture)))
        entries.append({**spec.to_dict(), "clip": label, "image_id": image_id})
    return images, entries, []


def build_report(
    analyses: Sequence[AnalysisLike],
    *,
    rules: RuleSet | None = None,
    created: dt.datetime,
    runner_name: str | None = None,
    notes: str | None = None,
    key_frames: bool = True,
) -> ReportBundle:
    """Findings, plan, plots and key frames for one session of one or more clips."""
    rules = rules if rules is not None else load_rules()
    summary = merge_summaries(analyses)
    evaluation = evaluate(summary, rules)
    plan = build_plan(evaluation, summary, today=created.date())
    images: list[ReportImage] = []
    key_frame_entries: list[dict[str, Any]] = []
    extra_notes: list[str] = []
    for analysis in analyses:
        if key_frames:
            frame_images, entries, problems = _key_frame_images(analysis)
            images.extend(frame_images)
            key_frame_entries.extend(entries)
            extra_notes.extend(problems)
        images.extend(_plot_images(analysis, rules))
    clips = [clip_facts(a) for a in analyses]
    figures = [
        {"id": i.id, "kind": i.kind, "title": i.title, "caption": i.caption, "clip": i.clip}
        for i in images
        if i.kind == "plot"
    ]
    data = build_report_data(
        summary,
        evaluation,
        plan,
        rules,
        clips,
        created=created,
        runner_name=runner_name,
        notes=notes,
        key_frames=key_frame_entries,
        figures=figures,
    )
    data["capture_notes"].extend({"topic": "key frames", "note": note} for note in extra_notes)
    strides_csv = combined_strides(analyses).to_csv(index=False, float_format="%.6g")
    return ReportBundle(data=data, images=tuple(images), strides_csv=strides_csv)
