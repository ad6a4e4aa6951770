"""Before/after comparison of two sessions of one runner (reassessment).

A *session* is one visit: one or two analysed clips (e.g. a rear clip and a side clip),
each a strides table plus its summary dict (the contents of an analysis folder written by
``gaitcheck analyze``). :func:`compare_sessions` is pure: it takes two sessions and
returns a :class:`Comparison` with one :class:`MetricChange` per metric and side
(``left``, ``right`` and ``overall`` = both sides pooled).

How a change is judged (the numbers live in ``gaitcheck/rules/change.toml``):

* The per-stride values of the two sessions are compared with Welch's t-test (unequal
  variances) and a Welch 95% confidence interval of the difference ``after - before``.
  Mann-Whitney U is computed as a robustness check; when it does not confirm a
  significant Welch result the row carries a warning.
* The Welch p-values of all metric/side rows of one comparison are Holm-adjusted, so that
  comparing some 40 rows does not produce a "real" change by chance in one pair of
  sessions out of two.
* A change is *real* only when it is significant after that adjustment AND at least the
  smallest real difference (SRD): the largest of a published between-day smallest
  detectable difference of the same 2D measure (where one exists), a stated gaitcheck
  convention for 2D angles without one (``floor`` in the rules), the stride-sampling SRD
  ``1.96 * sqrt(SE_before**2 + SE_after**2)`` and, for timing metrics, one frame interval of
  the slower clip. The stride-sampling SRD only covers scatter between strides inside each
  clip, not day-to-day error; rows that rely on it say so (``srd_basis``).
* Verdicts: ``"improved"`` / ``"worse"`` (metrics with a better direction), ``"changed"``
  (metrics without one, or a change beyond the studied range), ``"no real change"`` and
  ``"not compared"`` (refused for that metric, with the reason).

Fairness: sessions filmed differently are compared with warnings on the metrics the
difference affects (view, frame rate, cadence, setting, quality flags), and refused for a
metric that one session cannot measure (a rear-view metric when one session has only a side
clip), or for frontal angles when exactly one clip is oblique.

The module also holds the edge functions that read analysis folders and write
``comparison.json`` / ``comparison.csv`` (:func:`load_session`, :func:`write_comparison`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from gaitcheck import __version__
from gaitcheck.errors import InputError
from gaitcheck.fileio import write_text_atomic

COMPARISON_FORMAT: Final[str] = "gaitcheck-comparison/1"
SIDES_COMPARED: Final[tuple[str, ...]] = ("left", "right", "overall")
FRONTAL_VIEWS: Final[tuple[str, ...]] = ("rear", "front")
SAGITTAL_VIEWS: Final[tuple[str, ...]] = ("side_left", "side_right")
ALL_VIEWS: Final[tuple[str, ...]] = FRONTAL_VIEWS + SAGITTAL_VIEWS

Better = Literal["lower", "higher", "toward", "none"]
Verdict = Literal["improved", "worse", "changed", "no real change", "not compared"]
VERDICTS: Final[tuple[str, ...]] = ("improved", "worse", "changed", "no real change", "not compared")

_Z95 = 1.959963984540054
_UNIT_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("_pct_leg", "% leg"),
    ("_deg", "deg"),
    ("_spm", "steps/min"),
    ("_cm", "cm"),
    ("_pct", "%"),
    ("_s", "s"),
)


# ---------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class MetricRule:
    """How changes of one metric are judged (one ``[metric.NAME]`` table of change.toml)."""

    name: str
    label: str
    better: Better
    direction_source: str
    target: tuple[float, float] | None = None
    max_better_change_pct: float | None = None
    sdd: float | None = None
    sdd_source: str | None = None
    floor: float | None = None
    floor_source: str | None = None
    speed_sensitive: bool = False
    frame_rate_sensitive: bool = False
    oblique_sensitive: bool = False
    frame_floor: bool = False

    @property
    def unit(self) -> str:
        """Unit read from the metric name's suffix (``_deg`` -> ``deg``)."""
        return unit_of(self.name)


@dataclass(frozen=True)
class ChangeRules:
    """Significance level, stride counts, fairness limits and the per-metric rules."""

    alpha: float
    min_strides: int
    recommended_strides: int
    recommended_strides_source: str
    cadence_mismatch_pct: float
    fps_mismatch_ratio: float
    metrics: Mapping[str, MetricRule]
    origin: str = "gaitcheck defaults"

    def rule(self, metric: str) -> MetricRule:
        """The rule of a metric; metrics without an entry get no direction and no published SDD."""
        if metric in self.metrics:
            return self.metrics[metric]
        return MetricRule(name=metric, label=metric, better="none", direction_source="no change rule for this metric")


def unit_of(metric: str) -> str:
    """Unit of a metric column from its name.

    >>> unit_of("heel_ahead_pct_leg"), unit_of("contact_time_s")
    ('% leg', 's')
    """
    for suffix, unit in _UNIT_SUFFIXES:
        if metric.endswith(suffix):
            return unit
    return ""


def _parse_metric_rule(name: str, table: Mapping[str, Any], origin: str) -> MetricRule:
    known = {
        "label",
        "better",
        "direction_source",
        "target",
        "max_better_change_pct",
        "sdd",
        "sdd_source",
        "floor",
        "floor_source",
        "speed_sensitive",
        "frame_rate_sensitive",
        "oblique_sensitive",
        "frame_floor",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(f"{origin}: [metric.{name}] has unknown key(s) {unknown}; expected some of {sorted(known)}")
    better = table.get("better", "none")
    if better not in ("lower", "higher", "toward", "none"):
        raise InputError(f"{origin}: [metric.{name}] better = {better!r}; expected lower, higher, toward or none")
    target = table.get("target")
    if better == "toward":
        if not (isinstance(target, list) and len(target) == 2 and float(target[0]) <= float(target[1])):
            raise InputError(f"{origin}: [metric.{name}] better = 'toward' needs target = [low, high], got {target!r}")
        target = (float(target[0]), float(target[1]))
    elif target is not None:
        raise InputError(f"{origin}: [metric.{name}] has a target but better = {better!r}; use better = 'toward'")
    sdd = table.get("sdd")
    if sdd is not None and (not isinstance(sdd, int | float) or sdd <= 0 or not table.get("sdd_source")):
        raise InputError(f"{origin}: [metric.{name}] sdd must be a positive number with an sdd_source, got {sdd!r}")
    floor = table.get("floor")
    if floor is not None and (not isinstance(floor, int | float) or floor <= 0 or not table.get("floor_source")):
        raise InputError(
            f"{origin}: [metric.{name}] floor must be a positive number with a floor_source, got {floor!r}"
        )
    return MetricRule(
        name=name,
        label=str(table.get("label", name)),
        better=better,
        direction_source=str(table.get("direction_source", "")),
        target=target,
        max_better_change_pct=table.get("max_better_change_pct"),
        sdd=None if sdd is None else float(sdd),
        sdd_source=table.get("sdd_source"),
        floor=None if floor is None else float(floor),
        floor_source=table.get("floor_source"),
        speed_sensitive=bool(table.get("speed_sensitive", False)),
        frame_rate_sensitive=bool(table.get("frame_rate_sensitive", False)),
        oblique_sensitive=bool(table.get("oblique_sensitive", False)),
        frame_floor=bool(table.get("frame_floor", False)),
    )


def parse_change_rules(data: Mapping[str, Any], origin: str = "gaitcheck defaults") -> ChangeRules:
    """Build :class:`ChangeRules` from the parsed TOML tables; raises :class:`InputError` on bad entries."""
    if data.get("version", 1) != 1:
        raise InputError(f"{origin}: change rules version {data.get('version')!r} is not supported; expected 1")
    alpha = float(data.get("alpha", 0.05))
    if not 0.0 < alpha < 0.5:
        raise InputError(f"{origin}: alpha = {alpha} must lie between 0 and 0.5")
    min_strides = int(data.get("min_strides", 3))
    if min_strides < 2:
        raise InputError(f"{origin}: min_strides = {min_strides}; at least 2 stances are needed for a spread")
    metrics = {name: _parse_metric_rule(name, table, origin) for name, table in data.get("metric", {}).items()}
    return ChangeRules(
        alpha=alpha,
        min_strides=min_strides,
        recommended_strides=int(data.get("recommended_strides", 7)),
        recommended_strides_source=str(data.get("recommended_strides_source", "")),
        cadence_mismatch_pct=float(data.get("cadence_mismatch_pct", 10.0)),
        fps_mismatch_ratio=float(data.get("fps_mismatch_ratio", 1.5)),
        metrics=metrics,
        origin=origin,
    )


def load_change_rules(path: str | os.PathLike[str] | None = None) -> ChangeRules:
    """The change rules shipped with gaitcheck, or those of a user's TOML file in the same layout."""
    if path is None:
        text = resources.files("gaitcheck.rules").joinpath("change.toml").read_text(encoding="utf-8")
        origin = "gaitcheck/rules/change.toml"
    else:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{file}: change rules file not found; pass an existing TOML file")
        text, origin = file.read_text(encoding="utf-8"), str(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: not valid TOML ({exc})") from exc
    return parse_change_rules(data, origin)


# ---------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class ClipAnalysis:
    """One analysed clip: its strides table and summary dict.

    ``track`` (the cleaned :class:`gaitcheck.track.PoseTrack`) and ``video`` are known when the
    clip was analysed in this run; the report then shows key frames side by side.
    """

    strides: pd.DataFrame
    summary: Mapping[str, Any]
    label: str = ""
    track: Any = None
    video: Path | None = None


@dataclass(frozen=True)
class ClipFacts:
    """What the fairness checks need to know about a clip."""

    label: str
    view: str
    oblique: bool
    setting: str | None
    activity: str | None
    fps: float | None
    cadence_spm: float | None
    speed_mps: float | None
    n_stances: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "view": self.view,
            "oblique": self.oblique,
            "setting": self.setting,
            "activity": self.activity,
            "fps": self.fps,
            "cadence_spm": _rounded(self.cadence_spm),
            "speed_mps": self.speed_mps,
            "n_stances": self.n_stances,
        }


@dataclass(frozen=True)
class Session:
    """One visit of a runner: one or more analysed clips, a label and an optional date."""

    clips: tuple[ClipAnalysis, ...]
    label: str = ""
    date: str | None = None

    @classmethod
    def of(cls, strides: pd.DataFrame, summary: Mapping[str, Any], label: str = "", date: str | None = None) -> Session:
        """A session of a single clip."""
        return cls(clips=(ClipAnalysis(strides, summary, label),), label=label, date=date)


def _nested(mapping: Mapping[str, Any], *keys: str) -> Any:
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def clip_facts(clip: ClipAnalysis) -> ClipFacts:
    """View, obliquity, setting, activity, frame rate, cadence and speed of one clip.

    The view comes from ``summary["classification"]`` (or the strides table's ``attrs``);
    frame rate and speed are optional and looked up where the summary keeps them.
    """
    summary = clip.summary
    classification = summary.get("classification") or {}
    view = classification.get("view") or clip.strides.attrs.get("view")
    if view not in ALL_VIEWS:
        raise InputError(
            f"{clip.label or 'clip'}: summary has no camera view (classification.view = {view!r}); "
            f"expected one of {', '.join(ALL_VIEWS)}; analyse the clip again with `gaitcheck analyze`"
        )
    fps = next(
        (
            number
            for keys in (("clip", "fps"), ("video", "fps"), ("track", "fps"), ("fps",))
            if (number := _positive_number(_nested(summary, *keys))) is not None
        ),
        None,
    )
    speed = next(
        (
            number
            for keys in (("speed_mps",), ("runner", "speed_mps"), ("session", "speed_mps"))
            if (number := _positive_number(_nested(summary, *keys))) is not None
        ),
        None,
    )
    cadence = _positive_number(_nested(summary, "metrics", "cadence_spm", "overall", "mean"))
    if cadence is None and "cadence_spm" in clip.strides:
        values = clip.strides["cadence_spm"].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        cadence = float(np.median(values)) if values.size else None
    return ClipFacts(
        label=clip.label,
        view=str(view),
        oblique=bool(classification.get("oblique", False)),
        setting=classification.get("setting"),
        activity=classification.get("activity"),
        fps=fps,
        cadence_spm=cadence,
        speed_mps=speed,
        n_stances=len(clip.strides),
    )


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MetricChange:
    """The before/after change of one metric on one side, with its statistics and verdict.

    ``difference`` is after minus before, in the metric's unit. Statistics are None when the
    row was not compared (``reason`` says why) or are undefined (zero spread).
    """

    metric: str
    label: str
    side: str
    unit: str
    better: str
    direction_source: str
    before_clip: str | None
    after_clip: str | None
    before_n: int
    before_mean: float | None
    before_sd: float | None
    after_n: int
    after_mean: float | None
    after_sd: float | None
    difference: float | None = None
    difference_pct: float | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None
    welch_t: float | None = None
    welch_df: float | None = None
    p_welch: float | None = None
    p_welch_holm: float | None = None
    p_mann_whitney: float | None = None
    hedges_g: float | None = None
    srd: float | None = None
    srd_basis: str | None = None
    srd_source: str | None = None
    significant: bool = False
    exceeds_srd: bool = False
    verdict: Verdict = "not compared"
    reason: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def is_real(self) -> bool:
        """True when the change is both significant and at least the smallest real difference."""
        return self.significant and self.exceeds_srd

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, float):
                value = _rounded(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


@dataclass(frozen=True)
class Comparison:
    """Every metric change between two sessions, with the fairness warnings."""

    before_label: str
    after_label: str
    before_date: str | None
    after_date: str | None
    before_clips: tuple[ClipFacts, ...]
    after_clips: tuple[ClipFacts, ...]
    changes: tuple[MetricChange, ...]
    warnings: tuple[str, ...]
    alpha: float
    rules_origin: str
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: per-stride values behind each compared row, keyed ``(metric, side)``: (before, after); not serialised
    stride_values: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def change(self, metric: str, side: str = "overall") -> MetricChange:
        """The row of one metric and side; KeyError when it was not compared at all."""
        for row in self.changes:
            if row.metric == metric and row.side == side:
                return row
        raise KeyError(f"no comparison row for {metric} ({side})")

    def real_changes(self) -> tuple[MetricChange, ...]:
        """Rows with a real change, largest standardised effect first."""
        real = [row for row in self.changes if row.is_real]
        return tuple(sorted(real, key=lambda row: -abs(row.hedges_g or 0.0)))

    def verdict_counts(self) -> dict[str, int]:
        """How many rows got each verdict."""
        return {verdict: sum(row.verdict == verdict for row in self.changes) for verdict in VERDICTS}

    def to_frame(self) -> pd.DataFrame:
        """One row per metric and side (the layout of comparison.csv)."""
        rows = [row.to_dict() for row in self.changes]
        frame = pd.DataFrame(rows, columns=list(MetricChange.__dataclass_fields__))
        frame["warnings"] = ["; ".join(row.warnings) for row in self.changes]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the layout of comparison.json, see comparison.schema.json)."""
        return {
            "format": COMPARISON_FORMAT,
            "gaitcheck_version": __version__,
            "before": {
                "label": self.before_label,
                "date": self.before_date,
                "clips": [c.to_dict() for c in self.before_clips],
            },
            "after": {
                "label": self.after_label,
                "date": self.after_date,
                "clips": [c.to_dict() for c in self.after_clips],
            },
            "method": {
                "alpha": self.alpha,
                "test": "Welch t-test on per-stride values, Holm-adjusted over all compared rows",
                "robustness_check": "Mann-Whitney U (two-sided)",
                "effect_size": "Hedges g (pooled SD, small-sample corrected)",
                "real_change": "significant after Holm adjustment AND |difference| >= smallest real difference",
                "rules": self.rules_origin,
            },
            "warnings": list(self.warnings),
            "verdict_counts": self.verdict_counts(),
            "changes": [row.to_dict() for row in self.changes],
            **dict(self.extras),
        }


def _rounded(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(round(value, digits))


# ---------------------------------------------------------------------------- statistics


def welch_statistics(
    n_before: np.ndarray,
    mean_before: np.ndarray,
    var_before: np.ndarray,
    n_after: np.ndarray,
    mean_after: np.ndarray,
    var_after: np.ndarray,
) -> dict[str, np.ndarray]:
    """Welch t-test and 95% confidence interval of ``after - before``, vectorised over rows.

    Rows where both variances are zero get ``p = 0`` when the means differ and ``p = 1`` when
    they do not, with a zero-width interval (``t`` is then infinite or zero).

    Returns
    -------
    dict with ``difference``, ``t``, ``df``, ``p``, ``ci95_low``, ``ci95_high``, ``se``.

    Examples
    --------
    >>> out = welch_statistics(np.array([10]), np.array([0.0]), np.array([1.0]),
    ...                        np.array([10]), np.array([1.0]), np.array([1.0]))
    >>> round(float(out["t"][0]), 4), round(float(out["df"][0]), 1)
    (2.2361, 18.0)
    """
    from scipy import stats

    n_b, n_a = np.asarray(n_before, dtype=np.float64), np.asarray(n_after, dtype=np.float64)
    se_b2, se_a2 = np.asarray(var_before) / n_b, np.asarray(var_after) / n_a
    se2 = se_b2 + se_a2
    difference = np.asarray(mean_after, dtype=np.float64) - np.asarray(mean_before, dtype=np.float64)
    degenerate = se2 <= 0.0
    safe_se2 = np.where(degenerate, 1.0, se2)
    denominator = se_b2**2 / (n_b - 1.0) + se_a2**2 / (n_a - 1.0)
    df = np.where(degenerate, n_b + n_a - 2.0, safe_se2**2 / np.where(degenerate, 1.0, denominator))
    se = np.sqrt(np.where(degenerate, 0.0, se2))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(
            degenerate, np.where(difference == 0.0, 0.0, np.sign(difference) * np.inf), difference / np.sqrt(safe_se2)
        )
    p = np.where(
        degenerate, np.where(difference == 0.0, 1.0, 0.0), 2.0 * stats.t.sf(np.abs(np.where(degenerate, 0.0, t)), df)
    )
    half_width = stats.t.ppf(0.975, df) * se
    return {
        "difference": difference,
        "t": t,
        "df": df,
        "p": p,
        "ci95_low": difference - half_width,
        "ci95_high": difference + half_width,
        "se": se,
    }


def hedges_g(
    n_before: np.ndarray,
    mean_before: np.ndarray,
    var_before: np.ndarray,
    n_after: np.ndarray,
    mean_after: np.ndarray,
    var_after: np.ndarray,
) -> np.ndarray:
    """Hedges' g of ``after - before`` (pooled SD, small-sample correction), NaN when the pooled SD is 0.

    >>> g = hedges_g(np.array([10]), np.array([0.0]), np.array([1.0]), np.array([10]), np.array([1.0]), np.array([1.0]))
    >>> round(float(g[0]), 4)
    0.9577
    """
    n_b, n_a = np.asarray(n_before, dtype=np.float64), np.asarray(n_after, dtype=np.float64)
    pooled_var = ((n_b - 1.0) * np.asarray(var_before) + (n_a - 1.0) * np.asarray(var_after)) / (n_b + n_a - 2.0)
    correction = 1.0 - 3.0 / (4.0 * (n_b + n_a) - 9.0)
    difference = np.asarray(mean_after, dtype=np.float64) - np.asarray(mean_before, dtype=np.float64)
    positive = pooled_var > 0.0
    return np.where(positive, correction * difference / np.sqrt(np.where(positive, pooled_var, 1.0)), np.nan)


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control under any dependence).

    >>> holm_adjust(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def mann_whitney_p(before: np.ndarray, after: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; 1 when every value of both samples is the same."""
    from scipy import stats

    combined = np.concatenate([before, after])
    if np.ptp(combined) == 0.0:
        return 1.0
    return float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue)


def distance_to_range(value: float, target: tuple[float, float]) -> float:
    """How far a value lies outside a closed range (0 inside it).

    >>> distance_to_range(-2.0, (0.0, float("inf"))), distance_to_range(5.0, (0.0, 3.0))
    (2.0, 2.0)
    """
    low, high = target
    return max(low - value, 0.0, value - high)


def judge_direction(rule: MetricRule, before_mean: float, after_mean: float) -> tuple[Verdict, str | None]:
    """Verdict of a change already known to be real, from the metric's better direction.

    Returns the verdict and an optional note explaining a ``"changed"`` verdict.
    """
    difference = after_mean - before_mean
    if rule.better == "none":
        return "changed", None
    if rule.better == "toward":
        assert rule.target is not None
        before_distance = distance_to_range(before_mean, rule.target)
        after_distance = distance_to_range(after_mean, rule.target)
        if math.isclose(before_distance, after_distance, abs_tol=1e-12):
            return "changed", "both values lie inside the target range, so neither counts as better"
        return ("improved" if after_distance < before_distance else "worse"), None
    improved = difference < 0 if rule.better == "lower" else difference > 0
    if not improved:
        return "worse", None
    if rule.max_better_change_pct is not None and before_mean != 0.0:
        change_pct = 100.0 * abs(difference) / abs(before_mean)
        if change_pct > rule.max_better_change_pct:
            return "changed", (
                f"a {change_pct:.0f}% change is beyond the {rule.max_better_change_pct:.0f}% that studies support "
                "as an improvement"
            )
    return "improved", None


# ---------------------------------------------------------------------------- pairing and fairness


def _plane(view: str) -> str:
    return "frontal" if view in FRONTAL_VIEWS else "sagittal"


def _views_text(views: Sequence[str]) -> str:
    if tuple(views) == FRONTAL_VIEWS:
        return "a rear or front view"
    if tuple(views) == SAGITTAL_VIEWS:
        return "a side view"
    return "any view"


def _finite_column(strides: pd.DataFrame, metric: str) -> bool:
    return metric in strides and bool(np.isfinite(strides[metric].to_numpy(dtype=np.float64)).any())


def _pick_pair(
    metric: str,
    views: Sequence[str],
    before: Sequence[tuple[ClipAnalysis, ClipFacts]],
    after: Sequence[tuple[ClipAnalysis, ClipFacts]],
) -> tuple[tuple[ClipAnalysis, ClipFacts] | None, tuple[ClipAnalysis, ClipFacts] | None]:
    """The clip of each session that measures ``metric``, preferring the same view, then the same
    plane, then the higher frame rate, then a side view (events are sharper from the side)."""
    usable_b = [item for item in before if item[1].view in views and _finite_column(item[0].strides, metric)]
    usable_a = [item for item in after if item[1].view in views and _finite_column(item[0].strides, metric)]
    if not usable_b or not usable_a:
        return (usable_b[0] if usable_b else None), (usable_a[0] if usable_a else None)

    def score(pair: tuple[tuple[ClipAnalysis, ClipFacts], tuple[ClipAnalysis, ClipFacts]]) -> tuple[Any, ...]:
        fb, fa = pair[0][1], pair[1][1]
        return (
            fb.view == fa.view,
            _plane(fb.view) == _plane(fa.view),
            min(fb.fps or 0.0, fa.fps or 0.0),
            _plane(fb.view) == "sagittal",
        )

    best = max(((b, a) for b in usable_b for a in usable_a), key=score)
    return best


def _quality(summary: Mapping[str, Any], metric: str) -> tuple[str, tuple[str, ...]]:
    quality = _nested(summary, "metrics", metric, "quality") or {}
    reasons = quality.get("reasons") or ()
    return str(quality.get("flag", "ok")), tuple(str(r) for r in reasons)


def _pair_fairness(
    rule: MetricRule, rules: ChangeRules, fb: ClipFacts, fa: ClipFacts, sb: Mapping[str, Any], sa: Mapping[str, Any]
) -> tuple[str | None, list[str]]:
    """Refusal reason (or None) and warnings for comparing one metric between two clips."""
    warnings: list[str] = []
    if fb.activity and fa.activity and fb.activity != fa.activity:
        return (f"the before clip shows {fb.activity} and the after clip {fa.activity}; compare like with like"), []
    if rule.oblique_sensitive and fb.oblique != fa.oblique:
        which = "before" if fb.oblique else "after"
        return (
            f"the {which} clip was filmed at an angle (oblique) and the other straight from behind or in front; "
            "an oblique camera distorts frontal-plane angles by more than any real change, so film both square on"
        ), []
    if rule.oblique_sensitive and fb.oblique and fa.oblique:
        warnings.append("both clips are oblique: frontal angles are distorted and the distortion may differ")
    if fb.view != fa.view:
        if _plane(fb.view) == _plane(fa.view):
            warnings.append(
                f"filmed from {fb.view} before and {fa.view} after; the same plane, but the model sees the legs "
                "differently, so part of the difference may come from the camera"
            )
        else:
            warnings.append(
                f"measured from a {fb.view} view before and a {fa.view} view after; gait events and timing are "
                "detected differently from the two views"
            )
    if fb.setting and fa.setting and fb.setting != fa.setting:
        warnings.append(f"{fb.setting} before, {fa.setting} after: running on a treadmill changes the gait a little")
    if rule.frame_rate_sensitive and fb.fps and fa.fps:
        ratio = max(fb.fps, fa.fps) / min(fb.fps, fa.fps)
        if ratio > rules.fps_mismatch_ratio:
            warnings.append(
                f"frame rates differ ({fb.fps:g} vs {fa.fps:g} fps); event timing and peak values depend on the "
                "frame rate, so film both sessions at the same rate (60 fps or more)"
            )
    if rule.speed_sensitive:
        if fb.speed_mps and fa.speed_mps:
            speed_pct = 100.0 * abs(fa.speed_mps - fb.speed_mps) / fb.speed_mps
            if speed_pct > rules.cadence_mismatch_pct:
                warnings.append(
                    f"running speed differs by {speed_pct:.0f}% ({fb.speed_mps:g} vs {fa.speed_mps:g} m/s); "
                    "this metric changes with speed"
                )
        elif fb.cadence_spm and fa.cadence_spm:
            cadence_pct = 100.0 * abs(fa.cadence_spm - fb.cadence_spm) / fb.cadence_spm
            if cadence_pct > rules.cadence_mismatch_pct:
                warnings.append(
                    f"cadence differs by {cadence_pct:.0f}% ({fb.cadence_spm:.0f} vs {fa.cadence_spm:.0f} steps/min); "
                    "unless that is the intended change, check both sessions were run at the same speed: "
                    "this metric changes with speed"
                )
    for when, summary in (("before", sb), ("after", sa)):
        flag, reasons = _quality(summary, rule.name)
        if flag == "unreliable":
            return (
                f"the {when} session marks {rule.name} as unreliable ({'; '.join(reasons) or 'no reason given'}); "
                "film that session again following the recording advice"
            ), []
        if flag not in ("ok", ""):
            warnings.append(f"{when} session: {rule.name} quality '{flag}' ({'; '.join(reasons) or 'no reason given'})")
    return None, warnings


def _measurement_method(strides: pd.DataFrame, metric: str) -> str | None:
    """How a metric was measured when the strides say so (e.g. ``pelvic_drop_method`` for
    ``pelvic_drop_deg``): the most common value of that column, else None."""
    base = next((metric.removesuffix(suffix) for suffix, _ in _UNIT_SUFFIXES if metric.endswith(suffix)), metric)
    column = f"{base}_method"
    if column not in strides:
        return None
    methods = strides[column].dropna().astype(str)
    return str(methods.mode().iloc[0]) if len(methods) else None


def _side_values(strides: pd.DataFrame, metric: str, side: str) -> np.ndarray:
    """Finite per-stance values of one metric on one side (``overall`` = both), complete stances only."""
    mask = np.ones(len(strides), dtype=bool)
    if "complete" in strides:
        mask &= strides["complete"].to_numpy(dtype=bool)
    if side != "overall":
        mask &= strides["side"].to_numpy() == side
    values = strides[metric].to_numpy(dtype=np.float64)[mask]
    return values[np.isfinite(values)]


# ---------------------------------------------------------------------------- comparison


@dataclass
class _Row:
    """A row being assembled before the statistics are filled in."""

    metric: str
    side: str
    rule: MetricRule
    before_label: str | None
    after_label: str | None
    before: np.ndarray
    after: np.ndarray
    reason: str | None
    warnings: list[str]
    frame_floor: float | None


def _describe(values: np.ndarray) -> tuple[int, float | None, float | None]:
    n = int(values.size)
    mean = float(values.mean()) if n else None
    sd = float(values.std(ddof=1)) if n > 1 else None
    return n, mean, sd


def _metrics_in(session_clips: Iterable[ClipAnalysis]) -> list[str]:
    """Metric columns present in any clip, in a stable order (rules order, then the rest)."""
    from gaitcheck.metrics import METRIC_VIEWS

    present = {name for clip in session_clips for name in clip.strides.columns if name in METRIC_VIEWS}
    return [name for name in METRIC_VIEWS if name in present]


def compare_sessions(before: Session, after: Session, rules: ChangeRules | None = None) -> Comparison:
    """Compare every metric and side of two sessions of one runner.

    Parameters
    ----------
    before, after : the earlier and the later session (one or more analysed clips each).
    rules : change rules; the shipped ``change.toml`` when None.

    Returns
    -------
    Comparison
        One row per metric measured in either session and per side (left, right, overall).

    Raises
    ------
    InputError
        When a session has no clip or a clip has no camera view in its summary.
    """
    from gaitcheck.metrics import METRIC_VIEWS

    rules = rules or load_change_rules()
    for session, when in ((before, "before"), (after, "after")):
        if not session.clips:
            raise InputError(f"the {when} session holds no analysed clip; give an analysis folder or a video")
    facts_b = [(clip, clip_facts(clip)) for clip in before.clips]
    facts_a = [(clip, clip_facts(clip)) for clip in after.clips]
    session_warnings = _session_warnings(facts_b, facts_a, rules)

    rows: list[_Row] = []
    for metric in _metrics_in([*before.clips, *after.clips]):
        rule = rules.rule(metric)
        views = METRIC_VIEWS[metric]
        pick_b, pick_a = _pick_pair(metric, views, facts_b, facts_a)
        reason: str | None = None
        warnings: list[str] = []
        if pick_b is None or pick_a is None:
            missing = "before" if pick_b is None else "after"
            seen = ", ".join(sorted({f.view for _, f in (facts_b if pick_b is None else facts_a)}))
            reason = (
                f"{metric} is measured from {_views_text(views)}; the {missing} session has no clip that measures it "
                f"(its clips: {seen}). Film {_views_text(views)} in both sessions to compare it"
            )
        else:
            reason, warnings = _pair_fairness(rule, rules, pick_b[1], pick_a[1], pick_b[0].summary, pick_a[0].summary)
            method_b, method_a = (
                _measurement_method(pick_b[0].strides, metric),
                _measurement_method(pick_a[0].strides, metric),
            )
            if reason is None and method_b != method_a:
                reason = (
                    f"{metric} was measured with different methods ({method_b} before, {method_a} after); the "
                    "methods can differ by more than a real change. Film both sessions the same way (the summary's "
                    "pelvis_estimate says why a method was not used) so one method serves both"
                )
        floor = None
        if pick_b is not None and pick_a is not None and rule.frame_floor and pick_b[1].fps and pick_a[1].fps:
            floor = 1.0 / min(pick_b[1].fps, pick_a[1].fps)
        for side in SIDES_COMPARED:
            values_b = _side_values(pick_b[0].strides, metric, side) if pick_b else np.empty(0)
            values_a = _side_values(pick_a[0].strides, metric, side) if pick_a else np.empty(0)
            row_reason, row_warnings = reason, list(warnings)
            if row_reason is None and min(values_b.size, values_a.size) < rules.min_strides:
                row_reason = (
                    f"only {values_b.size} (before) and {values_a.size} (after) usable {side} stances; at least "
                    f"{rules.min_strides} are needed, {rules.recommended_strides} recommended: record a longer clip"
                )
            elif row_reason is None and min(values_b.size, values_a.size) < rules.recommended_strides:
                row_warnings.append(
                    f"fewer than {rules.recommended_strides} stances in a session "
                    f"({values_b.size} before, {values_a.size} after); {rules.recommended_strides_source}"
                )
            rows.append(
                _Row(
                    metric=metric,
                    side=side,
                    rule=rule,
                    before_label=pick_b[0].label if pick_b else None,
                    after_label=pick_a[0].label if pick_a else None,
                    before=values_b,
                    after=values_a,
                    reason=row_reason,
                    warnings=row_warnings,
                    frame_floor=floor,
                )
            )
    changes = _judge(rows, rules)
    values = {(row.metric, row.side): (row.before, row.after) for row in rows if row.reason is None}
    return Comparison(
        before_label=before.label,
        after_label=after.label,
        before_date=before.date,
        after_date=after.date,
        before_clips=tuple(f for _, f in facts_b),
        after_clips=tuple(f for _, f in facts_a),
        changes=changes,
        warnings=tuple(session_warnings),
        alpha=rules.alpha,
        rules_origin=rules.origin,
        stride_values=values,
    )


def _session_warnings(
    facts_b: Sequence[tuple[ClipAnalysis, ClipFacts]],
    facts_a: Sequence[tuple[ClipAnalysis, ClipFacts]],
    rules: ChangeRules,
) -> list[str]:
    """Warnings about the session pair as a whole (shown at the top of the report)."""
    warnings: list[str] = []
    views_b = sorted({f.view for _, f in facts_b})
    views_a = sorted({f.view for _, f in facts_a})
    if views_b != views_a:
        warnings.append(
            f"the sessions were filmed from different views (before: {', '.join(views_b)}; "
            f"after: {', '.join(views_a)}); metrics that need a view only one session has are not compared"
        )
    activities = {f.activity for _, f in [*facts_b, *facts_a] if f.activity}
    if len(activities) > 1:
        warnings.append(f"the clips show different activities ({', '.join(sorted(activities))}); nothing is compared")
    cadences_b = [f.cadence_spm for _, f in facts_b if f.cadence_spm]
    cadences_a = [f.cadence_spm for _, f in facts_a if f.cadence_spm]
    if cadences_b and cadences_a:
        cb, ca = float(np.mean(cadences_b)), float(np.mean(cadences_a))
        if 100.0 * abs(ca - cb) / cb > rules.cadence_mismatch_pct:
            warnings.append(
                f"cadence changed by {100.0 * (ca - cb) / cb:+.0f}% ({cb:.0f} -> {ca:.0f} steps/min); speed-dependent "
                "metrics are only comparable if both sessions were run at the same speed"
            )
    return warnings


def _judge(rows: Sequence[_Row], rules: ChangeRules) -> tuple[MetricChange, ...]:
    """Fill in statistics (vectorised over the compared rows), the Holm adjustment and the verdicts."""
    tested = [i for i, row in enumerate(rows) if row.reason is None]
    described = [(_describe(row.before), _describe(row.after)) for row in rows]
    stats: dict[str, np.ndarray] = {}
    g = np.empty(0)
    holm = np.empty(0)
    if tested:
        n_b = np.array([described[i][0][0] for i in tested], dtype=np.float64)
        n_a = np.array([described[i][1][0] for i in tested], dtype=np.float64)
        mean_b = np.array([rows[i].before.mean() for i in tested])
        mean_a = np.array([rows[i].after.mean() for i in tested])
        var_b = np.array([rows[i].before.var(ddof=1) for i in tested])
        var_a = np.array([rows[i].after.var(ddof=1) for i in tested])
        stats = welch_statistics(n_b, mean_b, var_b, n_a, mean_a, var_a)
        g = hedges_g(n_b, mean_b, var_b, n_a, mean_a, var_a)
        holm = holm_adjust(stats["p"])
    position = {row_index: k for k, row_index in enumerate(tested)}

    changes: list[MetricChange] = []
    for i, row in enumerate(rows):
        (n_b_i, mean_b_i, sd_b_i), (n_a_i, mean_a_i, sd_a_i) = described[i]
        base: dict[str, Any] = {
            "metric": row.metric,
            "label": row.rule.label,
            "side": row.side,
            "unit": unit_of(row.metric),
            "better": row.rule.better,
            "direction_source": row.rule.direction_source,
            "before_clip": row.before_label,
            "after_clip": row.after_label,
            "before_n": n_b_i,
            "before_mean": mean_b_i,
            "before_sd": sd_b_i,
            "after_n": n_a_i,
            "after_mean": mean_a_i,
            "after_sd": sd_a_i,
        }
        if i not in position:
            changes.append(
                MetricChange(**base, verdict="not compared", reason=row.reason, warnings=tuple(row.warnings))
            )
            continue
        k = position[i]
        assert mean_b_i is not None and mean_a_i is not None
        difference = float(stats["difference"][k])
        sampling_srd = _Z95 * float(stats["se"][k])
        candidates: list[tuple[float, str, str]] = [
            (
                sampling_srd,
                "stride variability",
                "1.96 x the standard error of the difference, from the stride-to-stride scatter of each clip; "
                "does not include day-to-day measurement error",
            )
        ]
        if row.rule.sdd is not None:
            candidates.append((row.rule.sdd, "published", row.rule.sdd_source or ""))
        if row.rule.floor is not None:
            candidates.append((row.rule.floor, "convention", row.rule.floor_source or ""))
        if row.frame_floor is not None:
            candidates.append((row.frame_floor, "frame interval", "one frame interval of the slower clip"))
        srd, srd_basis, srd_source = max(candidates, key=lambda c: c[0])
        significant = bool(holm[k] < rules.alpha)
        exceeds = abs(difference) >= srd and difference != 0.0
        warnings = list(row.warnings)
        p_mw = mann_whitney_p(row.before, row.after)
        if significant and p_mw >= rules.alpha:
            warnings.append(
                f"the rank test does not confirm the difference (Mann-Whitney p = {p_mw:.2g}); a few unusual strides "
                "may drive it"
            )
        verdict: Verdict = "no real change"
        if significant and exceeds:
            verdict, note = judge_direction(row.rule, mean_b_i, mean_a_i)
            if note:
                warnings.append(note)
        changes.append(
            MetricChange(
                **base,
                difference=difference,
                difference_pct=100.0 * difference / abs(mean_b_i) if mean_b_i != 0.0 else None,
                ci95_low=float(stats["ci95_low"][k]),
                ci95_high=float(stats["ci95_high"][k]),
                welch_t=float(stats["t"][k]),
                welch_df=float(stats["df"][k]),
                p_welch=float(stats["p"][k]),
                p_welch_holm=float(holm[k]),
                p_mann_whitney=p_mw,
                hedges_g=float(g[k]) if np.isfinite(g[k]) else None,
                srd=srd,
                srd_basis=srd_basis,
                srd_source=srd_source,
                significant=significant,
                exceeds_srd=bool(exceeds),
                verdict=verdict,
                warnings=tuple(warnings),
            )
        )
    return tuple(changes)


# ---------------------------------------------------------------------------- findings and plan


@dataclass(frozen=True)
class FindingsChange:
    """Which findings of the before session resolved, persisted or appeared, and what it means for the plan.

    Findings are keyed by rule and side; only rules assessed in both sessions are compared
    (a finding whose metric one session could not measure is listed in ``not_assessed``).
    """

    resolved: tuple[str, ...]
    persisting: tuple[str, ...]
    new: tuple[str, ...]
    not_assessed: tuple[str, ...]
    plan_before: str
    plan_after: str
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return {name: (list(v) if isinstance(v, tuple) else v) for name, v in self.__dict__.items()}


def _assessments(session: Session) -> dict[tuple[str, str], Any]:
    """Finding assessments of every clip of a session, keyed (rule id, side); the first clip wins."""
    from gaitcheck.findings import evaluate

    out: dict[tuple[str, str], Any] = {}
    for clip in session.clips:
        for assessment in evaluate(clip.summary).assessments:
            out.setdefault((assessment.rule_id, assessment.side), assessment)
    return out


def _plan_text(assessments: Mapping[tuple[str, str], Any], session: Session, today: date) -> str:
    from gaitcheck.plan import build_plan

    plan = build_plan([a for a in assessments.values() if a.is_finding], session.clips[0].summary, today=today)
    if plan.kind == "maintenance":
        return "maintenance (no finding)"
    return f"targeted: {', '.join(plan.focus)} (starts at phase {plan.starting_phase})"


def compare_findings(before: Session, after: Session, *, today: date) -> FindingsChange:
    """Findings resolved, persisting and new between two sessions, with advice on the plan phase.

    ``today`` (a ``datetime.date``) is passed to the plan builder so that this stays pure.
    When every finding of the before session resolved and none is new, the advice is to move
    on to the next phase of the plan (its "advance when" condition still applies).
    """
    assessed_b, assessed_a = _assessments(before), _assessments(after)

    def name(key: tuple[str, str], assessment: Any) -> str:
        return f"{assessment.title} ({key[1]}, {assessment.level})"

    resolved, persisting, new, not_assessed = [], [], [], []
    for key, assessment in assessed_b.items():
        if not assessment.is_finding:
            continue
        if key not in assessed_a:
            not_assessed.append(name(key, assessment))
        elif assessed_a[key].is_finding:
            persisting.append(name(key, assessed_a[key]))
        else:
            resolved.append(name(key, assessment))
    for key, assessment in assessed_a.items():
        if assessment.is_finding and key in assessed_b and not assessed_b[key].is_finding:
            new.append(name(key, assessment))
        elif assessment.is_finding and key not in assessed_b:
            not_assessed.append(name(key, assessment))
    if not resolved and not persisting and not new:
        advice = "No finding in either session that both could assess: keep the current plan."
    elif resolved and not persisting and not new:
        advice = (
            "Every finding of the first session has resolved: move on to the next phase of the plan once its "
            "'advance when' condition is met, and keep the running cues."
        )
    elif persisting and not new:
        advice = (
            f"{len(persisting)} finding(s) persist: stay in the current phase for them"
            + (f"; {len(resolved)} resolved" if resolved else "")
            + "."
        )
    else:
        advice = f"{len(new)} new finding(s): review the plan's focus (the new plan below includes them)."
    return FindingsChange(
        resolved=tuple(resolved),
        persisting=tuple(persisting),
        new=tuple(new),
        not_assessed=tuple(not_assessed),
        plan_before=_plan_text(assessed_b, before, today),
        plan_after=_plan_text(assessed_a, after, today),
        advice=advice,
    )


# ---------------------------------------------------------------------------- history


def history_table(sessions: Sequence[Session], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, SD, n and 95% CI of every metric and side per session, in the given (date) order.

    Each metric is taken from the first clip of a session that measures it. Columns:
    ``session, date, metric, label, side, unit, n, mean, sd, ci95_low, ci95_high, better``.
    """
    from scipy import stats

    from gaitcheck.metrics import METRIC_VIEWS

    rules = load_change_rules()
    names = list(metrics) if metrics is not None else _metrics_in([c for s in sessions for c in s.clips])
    records: list[dict[str, Any]] = []
    for order, session in enumerate(sessions):
        for metric in names:
            clip = next(
                (
                    c
                    for c in session.clips
                    if _finite_column(c.strides, metric) and clip_facts(c).view in METRIC_VIEWS.get(metric, ALL_VIEWS)
                ),
                None,
            )
            if clip is None:
                continue
            for side in SIDES_COMPARED:
                values = _side_values(clip.strides, metric, side)
                n, mean, sd = _describe(values)
                half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if sd is not None and n > 1 else None
                records.append(
                    {
                        "order": order,
                        "session": session.label,
                        "date": session.date,
                        "metric": metric,
                        "label": rules.rule(metric).label,
                        "side": side,
                        "unit": unit_of(metric),
                        "n": n,
                        "mean": mean,
                        "sd": sd,
                        "ci95_low": None if half is None or mean is None else mean - half,
                        "ci95_high": None if half is None or mean is None else mean + half,
                        "better": rules.rule(metric).better,
                    }
                )
    columns = ["order", "session", "date", "metric", "label", "side", "unit", "n", "mean", "sd"]
    columns += ["ci95_low", "ci95_high", "better"]
    return pd.DataFrame.from_records(records, columns=columns)


# ---------------------------------------------------------------------------- files (edges)


def load_analysis_folder(folder: str | os.PathLike[str]) -> tuple[ClipAnalysis, ...]:
    """Read ``strides.csv`` and ``summary.json`` of an analysis folder (``gaitcheck analyze -o FOLDER``).

    A folder of a several-clip session (``gaitcheck analyze REAR SIDE``: a ``clip`` column in the
    strides and ``classification.clips`` in the summary) is split back into its clips, each
    with its own classification and clip facts (the pooled metric entries are shared).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; give an analysis folder written by `gaitcheck analyze -o FOLDER`")
    strides_path, summary_path = folder / "strides.csv", folder / "summary.json"
    for path in (strides_path, summary_path):
        if not path.is_file():
            raise InputError(
                f"{folder}: {path.name} missing; this is not an analysis folder. "
                f"Run `gaitcheck analyze VIDEO -o {folder}`"
            )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{summary_path}: not valid JSON ({exc}); analyse the clip again") from exc
    try:
        strides = pd.read_csv(strides_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{strides_path}: not a readable strides table ({exc}); analyse the clip again") from exc
    if "side" not in strides:
        raise InputError(f"{strides_path}: no 'side' column; this is not a gaitcheck strides table")
    if "complete" in strides:
        strides["complete"] = strides["complete"].astype(str).str.lower().isin(("true", "1"))
    return _split_session_clips(strides, summary, folder.name)


def _split_session_clips(strides: pd.DataFrame, summary: Mapping[str, Any], name: str) -> tuple[ClipAnalysis, ...]:
    """One ClipAnalysis per clip of a merged session summary, or the whole folder as one clip."""
    classifications = _nested(summary, "classification", "clips")
    labels = _nested(summary, "session", "clips")
    if not (
        isinstance(classifications, list)
        and isinstance(labels, list)
        and len(labels) == len(classifications) > 1
        and "clip" in strides
    ):
        return (ClipAnalysis(strides=strides, summary=summary, label=name),)
    facts = _nested(summary, "clip", "clips")
    facts = facts if isinstance(facts, list) and len(facts) == len(labels) else [{}] * len(labels)
    clips = []
    for label, classification, clip in zip(labels, classifications, facts, strict=True):
        part = strides[strides["clip"] == label].reset_index(drop=True)
        clips.append(ClipAnalysis(part, {**summary, "classification": classification, "clip": clip}, f"{name}:{label}"))
    return tuple(clips)


def session_date(folder: str | os.PathLike[str], summary: Mapping[str, Any]) -> tuple[str, str]:
    """Date of a session (ISO 8601) and where it came from.

    In order: a recording date in the summary, the modification time of the analysed video
    (``summary["clip"]["source"]``, when that file still exists), the modification time of
    ``summary.json``.
    """
    for keys in (("recorded_at",), ("clip", "recorded_at"), ("video", "recorded_at"), ("meta", "recorded_at")):
        value = _nested(summary, *keys)
        if isinstance(value, str) and value:
            return value, "recording date in summary.json"
    source = _nested(summary, "clip", "source")
    if isinstance(source, str) and source and Path(source).is_file():
        stamp = Path(source).stat().st_mtime
        return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds"), "file time of the analysed clip"
    stamp = (Path(folder) / "summary.json").stat().st_mtime
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds"), "file time of summary.json"


def load_session(folders: Sequence[str | os.PathLike[str]], label: str | None = None) -> Session:
    """A session from one or more analysis folders (e.g. the rear and the side clip of one visit)."""
    if not folders:
        raise InputError("a session needs at least one analysis folder")
    clips = tuple(clip for folder in folders for clip in load_analysis_folder(folder))
    recorded, _ = session_date(folders[0], clips[0].summary)
    return Session(clips=clips, label=label or clips[0].label, date=recorded)


def comparison_schema() -> dict[str, Any]:
    """The JSON Schema of comparison.json."""
    text = resources.files("gaitcheck").joinpath("schemas", "comparison.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def write_comparison(comparison: Comparison, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``comparison.json`` and ``comparison.csv`` atomically into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "comparison.json", out / "comparison.csv"
    write_text_atomic(json_path, json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n")
    write_text_atomic(csv_path, comparison.to_frame().to_csv(index=False, float_format="%.6g"))
    return {"json": json_path, "csv": csv_path}


def _video_of(source: Path) -> Path | None:
    """The video behind an analysed source: itself, or for a gaitsynth truth file the clip beside it."""
    if source.name.endswith(".truth.json"):
        beside = source.with_name(source.name.removesuffix(".truth.json") + ".mp4")
        return beside if beside.is_file() else None
    return None if source.suffix.lower() == ".parquet" else source


def _analysis_folders(path: Path) -> list[Path]:
    """The analysis folders a path stands for: itself, or its sub-folders holding summary.json."""
    if (path / "summary.json").is_file():
        return [path]
    return sorted(child for child in path.iterdir() if child.is_dir() and (child / "summary.json").is_file())


def load_session_inputs(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    label: str,
    analysis_dir: str | os.PathLike[str],
    height_cm: float | None = None,
) -> Session:
    """A session from analysis folders and/or clips (videos, saved tracks, truth files).

    Clips are analysed with :func:`gaitcheck.pipeline.analyze_source` and their analysis
    folders written under ``analysis_dir`` so they can be reused. A folder holding several
    analysis folders (such as ``OUTDIR/before`` of an earlier comparison) counts as one session.
    The session date is the earliest recording date found, else the oldest file time.
    """
    clips: list[ClipAnalysis] = []
    dates: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            folders = _analysis_folders(path)
            if not folders:
                raise InputError(
                    f"{path}: holds no summary.json; give an analysis folder (`gaitcheck analyze CLIP -o FOLDER`) "
                    "or a video"
                )
            for folder in folders:
                loaded = load_analysis_folder(folder)
                clips.extend(loaded)
                dates.append(session_date(folder, loaded[0].summary)[0])
        elif path.is_file():
            from gaitcheck.pipeline import analyze_source, write_outputs

            analysis = analyze_source(path, height_cm=height_cm)
            folder = Path(analysis_dir) / path.name.split(".")[0]
            write_outputs(analysis, folder, force=True)
            (written,) = load_analysis_folder(folder)
            clips.append(dataclasses.replace(written, track=analysis.track, video=_video_of(path)))
            dates.append(datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat(timespec="seconds"))
        else:
            raise InputError(f"{path}: no such file or folder; give an analysis folder or a video")
    return Session(clips=tuple(clips), label=label, date=min(dates) if dates else None)


def compare_to_folder(
    before_inputs: Sequence[str | os.PathLike[str]],
    after_inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    height_cm: float | None = None,
    rules_path: str | os.PathLike[str] | None = None,
    html: bool = True,
    force: bool = False,
) -> tuple[Comparison, dict[str, Path]]:
    """Run a whole comparison: load or analyse both sessions, compare, write json, csv and html.

    Refuses (InputError) an ``outdir`` that already holds files unless ``force``, before any analysis.
    """
    import datetime as dt

    from gaitcheck.pipeline import check_outdir

    out = check_outdir(outdir, force=force)
    rules = load_change_rules(rules_path)
    before = load_session_inputs(before_inputs, label="before", analysis_dir=out / "before", height_cm=height_cm)
    after = load_session_inputs(after_inputs, label="after", analysis_dir=out / "after", height_cm=height_cm)
    comparison = compare_sessions(before, after, rules)
    findings = compare_findings(before, after, today=dt.date.today())
    comparison = dataclasses.replace(comparison, extras={"findings": findings.to_dict()})
    paths = write_comparison(comparison, out)
    if html:
        from gaitcheck.report.compare_html import read_paired_key_frames, render_comparison_html

        key_frames = read_paired_key_frames(comparison, before, after)
        paths["html"] = out / "comparison.html"
        write_text_atomic(paths["html"], render_comparison_html(comparison, findings, key_frames))
    return comparison, paths


def history_to_folder(
    inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str], *, html: bool = True, force: bool = False
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Tabulate three or more sessions of one runner in date order; write history.csv (+ html).

    Refuses (InputError) an ``outdir`` that already holds files unless ``force``.
    """
    from gaitcheck.pipeline import check_outdir

    check_outdir(outdir, force=force)
    if len(inputs) < 3:
        raise InputError(
            f"history needs three or more sessions, got {len(inputs)}; for two use `gaitcheck compare BEFORE AFTER`"
        )
    sessions: list[tuple[Session, str]] = []
    for raw in inputs:
        path = Path(raw)
        if not path.is_dir():
            raise InputError(f"{path}: not a folder; give analysis folders written by `gaitcheck analyze -o FOLDER`")
        folders = _analysis_folders(path)
        if not folders:
            raise InputError(
                f"{path}: holds no summary.json; give an analysis folder (`gaitcheck analyze CLIP -o FOLDER`)"
            )
        clips = tuple(clip for folder in folders for clip in load_analysis_folder(folder))
        recorded, source = session_date(folders[0], clips[0].summary)
        sessions.append((Session(clips=clips, label=path.name, date=recorded), source))
    sessions.sort(key=lambda item: item[0].date or "")
    ordered = [s for s, _ in sessions]
    table = history_table(ordered)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "history.csv"}
    write_text_atomic(paths["csv"], table.to_csv(index=False, float_format="%.6g"))
    if html:
        from gaitcheck.report.compare_html import render_history_html

        first_to_last = compare_sessions(ordered[0], ordered[-1])
        described = [{"label": s.label, "date": s.date, "date_source": src} for s, src in sessions]
        paths["html"] = out / "history.html"
        write_text_atomic(paths["html"], render_history_html(table, described, first_to_last))
    return table, paths
