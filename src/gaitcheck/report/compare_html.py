"""HTML pages for coaches: the before/after comparison and the multi-session history.

Figures are built by pure functions that take data and return a matplotlib Figure
(:func:`comparison_figure`, :func:`history_figure`); :func:`render_comparison_html` and
:func:`render_history_html` return one self-contained HTML string (figures inlined as SVG,
no scripts, no external files), so the page opens anywhere, offline.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gaitcheck.compare import ClipAnalysis, Comparison, FindingsChange, MetricChange, Session

BEFORE_COLOUR = "#8a8f98"
AFTER_COLOUR = "#1f6fb2"
VERDICT_COLOURS = {
    "improved": "#1b7f3b",
    "worse": "#b3261e",
    "changed": "#8a5a00",
    "no real change": "#555555",
    "not compared": "#999999",
}
_PANEL_COLUMNS = 4
_SIDES = ("left", "right")


def _figure(n_rows: int, n_cols: int, panel_size_in: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel_size_in[0] * n_cols, panel_size_in[1] * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    return fig, axes


def figure_svg(fig: Figure) -> str:
    """A figure as inline SVG text (the XML header stripped)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and t-based 95% half-width (0 under two values)."""
    from scipy import stats

    mean = float(values.mean())
    if values.size < 2:
        return mean, 0.0
    return mean, float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))


def comparison_figure(comparison: Comparison) -> Figure | None:
    """Per-stride values before and after, left and right, one panel per compared metric.

    Each panel shows every stance as a dot (before grey, after blue) with the mean and its
    95% confidence interval; the title carries the overall verdict. None when nothing was compared.
    """
    metrics = [row.metric for row in comparison.changes if row.side == "overall" and row.verdict != "not compared"]
    if not metrics:
        return None
    n_rows = math.ceil(len(metrics) / _PANEL_COLUMNS)
    fig, axes = _figure(n_rows, min(_PANEL_COLUMNS, len(metrics)), (3.0, 2.4))
    jitter = np.random.default_rng(0)
    for ax, metric in zip(axes, metrics, strict=False):
        overall = comparison.change(metric, "overall")
        for k, side in enumerate(_SIDES):
            pair = comparison.stride_values.get((metric, side))
            if pair is None:
                continue
            for j, (values, colour) in enumerate(zip(pair, (BEFORE_COLOUR, AFTER_COLOUR), strict=True)):
                if values.size == 0:
                    continue
                x = 2 * k + j
                ax.scatter(x + jitter.uniform(-0.18, 0.18, values.size), values, s=9, color=colour, alpha=0.6, lw=0)
                mean, half = _mean_ci(values)
                ax.errorbar(x + 0.3, mean, yerr=half, fmt="o", color=colour, ms=4, capsize=3, lw=1.2)
        ax.set_xticks([0, 1, 2, 3], ["L before", "L after", "R before", "R after"], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel(overall.unit, fontsize=7)
        ax.set_title(
            f"{overall.label}\n{overall.verdict}", fontsize=8, color=VERDICT_COLOURS.get(overall.verdict, "black")
        )
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


def history_figure(table: pd.DataFrame) -> Figure | None:
    """Trend of every metric over the sessions: mean and 95% CI per side, sessions in date order."""
    if table.empty:
        return None
    metrics = list(dict.fromkeys(table["metric"]))
    n_rows = math.ceil(len(metrics) / _PANEL_COLUMNS)
    fig, axes = _figure(n_rows, min(_PANEL_COLUMNS, len(metrics)), (3.0, 2.3))
    styles = {"left": ("#b35c00", -0.08), "right": ("#1f6fb2", 0.08), "overall": ("#222222", 0.0)}
    for ax, metric in zip(axes, metrics, strict=False):
        rows = table[table["metric"] == metric]
        for side, (colour, offset) in styles.items():
            part = rows[rows["side"] == side].sort_values("order")
            if part.empty:
                continue
            x = part["order"].to_numpy(dtype=np.float64) + offset
            mean = part["mean"].to_numpy(dtype=np.float64)
            low = part["ci95_low"].to_numpy(dtype=np.float64)
            high = part["ci95_high"].to_numpy(dtype=np.float64)
            ax.plot(x, mean, "o-", color=colour, ms=3.5, lw=1.4 if side == "overall" else 0.9, label=side)
            has_ci = np.isfinite(low) & np.isfinite(high)
            ax.vlines(x[has_ci], low[has_ci], high[has_ci], color=colour, lw=0.9)
        sessions = table.drop_duplicates("order").sort_values("order")
        ticks = [
            f"{label}\n{str(date)[:10]}" for label, date in zip(sessions["session"], sessions["date"], strict=True)
        ]
        ax.set_xticks(sessions["order"].to_numpy(), ticks, fontsize=6, rotation=30)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{rows['label'].iloc[0]} ({rows['unit'].iloc[0]})", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=6, frameon=False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


#: Metrics shown as key frames, the event their frame is taken at, and the drawing of the
#: runner's report (:mod:`gaitcheck.report.keyframes`) that fits them.
KEY_FRAME_EVENTS: dict[str, tuple[str, str]] = {
    "pelvic_drop_deg": ("peak", "pelvic_drop"),
    "knee_fppa_deg": ("peak", "knee_valgus"),
    "hip_adduction_deg": ("peak", "knee_valgus"),
    "heel_ahead_pct_leg": ("contact", "heel_contact"),
    "shank_angle_ic_deg": ("contact", "heel_contact"),
}
MAX_KEY_FRAME_PAIRS = 3


@dataclass(frozen=True)
class PairedEvent:
    """The same gait event of a typical stance in each session, for one metric and side."""

    metric: str
    side: str
    event: str
    drawing: str
    before_stance: int
    after_stance: int


def _typical_stance(strides: pd.DataFrame, metric: str, side: str) -> int | None:
    """Row index of the complete stance on ``side`` whose value is closest to that side's median."""
    mask = (strides["side"] == side).to_numpy(dtype=bool)
    if "complete" in strides:
        mask = mask & strides["complete"].to_numpy(dtype=bool)
    values = np.where(mask, strides[metric].to_numpy(dtype=np.float64), np.nan)
    if not np.isfinite(values).any():
        return None
    return int(np.nanargmin(np.abs(values - np.nanmedian(values))))


def select_paired_events(comparison: Comparison, before: Session, after: Session) -> list[PairedEvent]:
    """Which stance of each session to show for the headline metrics (pure).

    Metrics with a real change come first (largest effect first); when none changed, the first
    compared key metrics are shown so the coach still sees both runs. The side is the one
    with the larger change. Only clips analysed in this run (with track and video) qualify.
    """
    compared = [r for r in comparison.changes if r.metric in KEY_FRAME_EVENTS and r.verdict != "not compared"]
    real = [r.metric for r in comparison.real_changes() if r.metric in KEY_FRAME_EVENTS]
    ordered = list(dict.fromkeys(real + [r.metric for r in compared]))
    events: list[PairedEvent] = []
    for metric in ordered[:MAX_KEY_FRAME_PAIRS]:
        sides = [r for r in compared if r.metric == metric and r.side in _SIDES and r.difference is not None]
        if not sides:
            continue
        row = max(sides, key=lambda r: abs(r.difference or 0.0))
        clip_b, clip_a = _clip(before, row.before_clip), _clip(after, row.after_clip)
        if clip_b is None or clip_a is None:
            continue
        stance_b = _typical_stance(clip_b.strides, metric, row.side)
        stance_a = _typical_stance(clip_a.strides, metric, row.side)
        if stance_b is None or stance_a is None:
            continue
        event, drawing = KEY_FRAME_EVENTS[metric]
        events.append(PairedEvent(metric, row.side, event, drawing, stance_b, stance_a))
    return events


def _clip(session: Session, label: str | None) -> ClipAnalysis | None:
    clip = next((c for c in session.clips if c.label == label), None)
    if clip is None or clip.track is None or clip.video is None:
        return None
    return clip


def _event_frame(clip: ClipAnalysis, event: PairedEvent, stance: int) -> int:
    """Frame of the event: the contact frame, or the frame of the peak signal inside the stance."""
    from gaitcheck.report.signals import report_signals

    row = clip.strides.iloc[stance]
    first, last = int(row["ic_frame"]), min(int(row["to_frame"]), clip.track.n_frames - 1)
    if event.event == "contact":
        return first
    view = str(clip.summary.get("classification", {}).get("view", ""))
    leg_px = clip.summary.get("clip", {}).get("leg_length_px")
    signal_name = "knee_fppa_deg" if event.drawing == "knee_valgus" else "pelvic_drop_deg"
    signal = report_signals(clip.track, view, leg_px).get(signal_name, {}).get(event.side)
    if signal is None or not np.isfinite(signal[first : last + 1]).any():
        return (first + last) // 2
    return first + int(np.nanargmax(signal[first : last + 1]))


def read_paired_key_frames(comparison: Comparison, before: Session, after: Session) -> list[dict[str, Any]]:
    """Key frames of both sessions at the same gait event, drawn like the runner's report.

    Reads the frames from the videos (the only I/O here). Returns one entry per metric with
    ``title``, ``caption`` and base64 PNGs ``before_png`` / ``after_png``; empty when the
    sessions came from analysis folders (no video and track at hand).
    """
    import base64

    from gaitcheck.report.keyframes import KeyFrameSpec, draw_key_frame, landmarks_at, png_bytes, read_frames

    pairs: list[dict[str, Any]] = []
    for event in select_paired_events(comparison, before, after):
        row = comparison.change(event.metric, event.side)
        pictures = []
        for session, clip_label, stance in (
            (before, row.before_clip, event.before_stance),
            (after, row.after_clip, event.after_stance),
        ):
            clip = _clip(session, clip_label)
            assert clip is not None and clip.video is not None
            frame = _event_frame(clip, event, stance)
            rgb = read_frames(clip.video, [frame]).get(frame)
            if rgb is None:
                break
            value = float(clip.strides.iloc[stance][event.metric])
            spec = KeyFrameSpec(
                event.drawing, frame, float(clip.track.time_s[frame]), event.side, value, row.unit, "", ""
            )
            picture = draw_key_frame(rgb, landmarks_at(clip.track, frame), spec)
            pictures.append(base64.b64encode(png_bytes(picture)).decode("ascii"))
        if len(pictures) != 2:
            continue
        moment = "initial contact" if event.event == "contact" else "the peak within stance"
        pairs.append(
            {
                "title": f"{row.label}, {event.side} stance: {row.verdict}",
                "caption": f"A typical {event.side} stance of each session (closest to the median), at {moment}.",
                "before_png": pictures[0],
                "after_png": pictures[1],
            }
        )
    return pairs


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _p_text(value: float | None) -> str:
    if value is None:
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _digits(unit: str) -> int:
    return 3 if unit == "s" else 1


def _row_view(row: MetricChange) -> dict[str, Any]:
    """Display strings of one comparison row."""
    digits = _digits(row.unit)
    return {
        "label": row.label,
        "metric": row.metric,
        "side": row.side,
        "unit": row.unit,
        "before": f"{_number(row.before_mean, digits)} ± {_number(row.before_sd, digits)} (n {row.before_n})",
        "after": f"{_number(row.after_mean, digits)} ± {_number(row.after_sd, digits)} (n {row.after_n})",
        "difference": _number(row.difference, digits),
        "ci": f"{_number(row.ci95_low, digits)} to {_number(row.ci95_high, digits)}"
        if row.ci95_low is not None
        else "-",
        "p": _p_text(row.p_welch_holm),
        "p_mw": _p_text(row.p_mann_whitney),
        "g": _number(row.hedges_g, 2),
        "srd": f"{_number(row.srd, digits)} ({row.srd_basis})" if row.srd is not None else "-",
        "verdict": row.verdict,
        "colour": VERDICT_COLOURS.get(row.verdict, "black"),
        "better": {"lower": "lower", "higher": "higher", "toward": "toward target", "none": "no direction"}[row.better],
        "notes": ([row.reason] if row.reason else []) + list(row.warnings),
        "srd_source": row.srd_source or "",
        "direction_source": row.direction_source,
    }


def _headline(row: MetricChange) -> str:
    digits = _digits(row.unit)
    return (
        f"{row.label} ({row.side}): {_number(row.before_mean, digits)} → {_number(row.after_mean, digits)} {row.unit} "
        f"({'+' if (row.difference or 0) > 0 else ''}{_number(row.difference, digits)}, 95% CI "
        f"{_number(row.ci95_low, digits)} to {_number(row.ci95_high, digits)})"
    )


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("gaitcheck", "report/templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_comparison_html(
    comparison: Comparison,
    findings_change: FindingsChange | None = None,
    key_frames: Sequence[dict[str, Any]] = (),
) -> str:
    """The comparison report as one self-contained HTML page (key frames from :func:`read_paired_key_frames`)."""
    fig = comparison_figure(comparison)
    real = comparison.real_changes()
    template = _environment().get_template("compare.html.j2")
    return str(
        template.render(
            page="comparison",
            title=f"gaitcheck: {comparison.before_label} → {comparison.after_label}",
            comparison=comparison,
            before_clips=[c.to_dict() for c in comparison.before_clips],
            after_clips=[c.to_dict() for c in comparison.after_clips],
            headlines=[
                {"text": _headline(r), "verdict": r.verdict, "colour": VERDICT_COLOURS[r.verdict]} for r in real
            ],
            rows=[_row_view(r) for r in comparison.changes],
            counts=comparison.verdict_counts(),
            figure_svg=figure_svg(fig) if fig is not None else None,
            findings=findings_change.to_dict() if findings_change is not None else None,
            key_frames=list(key_frames),
            colours=VERDICT_COLOURS,
            before_colour=BEFORE_COLOUR,
            after_colour=AFTER_COLOUR,
        )
    )


def render_history_html(
    table: pd.DataFrame, sessions: Sequence[dict[str, Any]], first_to_last: Comparison | None = None
) -> str:
    """The history page: per-session table, trend plot and the first-to-last verdicts.

    ``sessions`` lists ``{"label", "date", "date_source"}`` in the order of ``table["order"]``.
    """
    fig = history_figure(table)
    overall = table[table["side"] == "overall"]
    pivot_rows = []
    for metric in dict.fromkeys(overall["metric"]):
        part = overall[overall["metric"] == metric].sort_values("order")
        digits = _digits(str(part["unit"].iloc[0]))
        by_order = {
            int(o): f"{_number(m, digits)} ± {_number(s, digits)}" for o, m, s in part[["order", "mean", "sd"]].values
        }
        pivot_rows.append(
            {
                "label": f"{part['label'].iloc[0]} ({part['unit'].iloc[0]})",
                "cells": [by_order.get(i, "-") for i in range(len(sessions))],
            }
        )
    verdicts = []
    if first_to_last is not None:
        verdicts = [_row_view(r) for r in first_to_last.changes if r.side == "overall"]
    template = _environment().get_template("compare.html.j2")
    return str(
        template.render(
            page="history",
            title=f"gaitcheck: history of {len(sessions)} sessions",
            sessions=sessions,
            pivot_rows=pivot_rows,
            figure_svg=figure_svg(fig) if fig is not None else None,
            rows=verdicts,
            warnings=list(first_to_last.warnings) if first_to_last is not None else [],
            colours=VERDICT_COLOURS,
        )
    )
