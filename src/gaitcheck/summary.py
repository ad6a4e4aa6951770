"""The per-side summary of a strides table: the content of ``summary.json``.

:func:`summarize` is pure. Structure (every number a plain float or ``None``)::

    {
      "schema_version": 1, "gaitcheck_version": "...",
      "classification": {...}, "cleaning": {...} | None,
      "clip": {"fps", "n_stances", "n_stances_used", "cadence_spm", "leg_length_px", ...},
      "metrics": {
        "<name with unit>": {
          "left" | "right" | "overall": {"mean", "sd", "median", "ci95": [lo, hi], "n"},
          "asymmetry": {"left_minus_right", "symmetry_index_pct"},
          "drift": {"first_third_mean", "last_third_mean", "change", "n_first", "n_last"},
          "quality": {"flag": "ok" | "limited" | "unreliable", "reasons": [...]},
        }, ...
      },
      "omitted_metrics": {"<name>": "<why>"},
    }

Only complete stances (both events inside the clip) count. ``cadence_spm`` also carries
``clip_value``: 60 * (n_IC - 1) / (last IC - first IC) over the clip.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from gaitcheck import __version__
from gaitcheck.metrics import METRIC_VIEWS

SCHEMA_VERSION: Final[int] = 1
#: Steps per side below which a mean is flagged "limited" (Dingenen et al. 2018 recommend
#: averaging at least 7 steps for a reliable 2D value).
MIN_STANCES_PER_SIDE: Final[int] = 7
#: Frame rate below which event-timing metrics are flagged "limited".
MIN_FPS_FOR_TIMING: Final[float] = 60.0
#: Mean leg-landmark visibility below which a metric is flagged "limited".
MIN_LEG_VISIBILITY: Final[float] = 0.5
#: Metrics that are ratios of positive quantities, for which a symmetry index is meaningful.
_POSITIVE_SCALE: Final[frozenset[str]] = frozenset(
    {
        "cadence_spm",
        "step_time_s",
        "stride_time_s",
        "contact_time_s",
        "flight_time_s",
        "duty_factor_pct",
        "knee_flexion_ic_deg",
        "knee_flexion_peak_deg",
        "vertical_oscillation_pct_leg",
        "vertical_oscillation_cm",
    }
)
_TIMING: Final[frozenset[str]] = frozenset({"contact_time_s", "flight_time_s", "duty_factor_pct"})
_FRONTAL_ANGLES: Final[frozenset[str]] = frozenset({"knee_fppa_deg", "hip_adduction_deg"})
_AT_IC_SIDE_VIEW: Final[frozenset[str]] = frozenset(
    {"heel_ahead_pct_leg", "heel_ahead_cm", "shank_angle_ic_deg", "foot_inclination_ic_deg", "knee_flexion_ic_deg"}
)
#: Step-time coefficient of variation above which the detected contacts are taken as unsteady
#: (steady running varies by a few percent from step to step).
MAX_STEP_TIME_CV: Final[float] = 0.10
_EVENT_TIMING: Final[frozenset[str]] = frozenset(
    {"cadence_spm", "step_time_s", "stride_time_s", "contact_time_s", "flight_time_s", "duty_factor_pct"}
)
#: Share of stances with swapped leg labels at IC above which at-IC side-view values are "limited".
MAX_IC_LABEL_SWAP_FRACTION: Final[float] = 0.2


def _number(value: Any) -> float | None:
    """A finite float, or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def describe(values: np.ndarray) -> dict[str, Any]:
    """Mean, sample SD, median, t-based 95% confidence interval of the mean, and n.

    NaN values are dropped; statistics that need more values than there are become None.

    >>> describe(np.array([1.0, 2.0, 3.0]))["ci95"]
    [-0.4841..., 4.4841...]
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = int(finite.size)
    if n == 0:
        return {"mean": None, "sd": None, "median": None, "ci95": None, "n": 0}
    mean = float(finite.mean())
    if n < 2:
        return {"mean": mean, "sd": None, "median": float(np.median(finite)), "ci95": None, "n": 1}
    sd = float(finite.std(ddof=1))
    # Student's t quantile (scipy.special: the same value as scipy.stats.t.ppf without importing scipy.stats)
    half_width = float(stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)
    return {
        "mean": mean,
        "sd": sd,
        "median": float(np.median(finite)),
        "ci95": [mean - half_width, mean + half_width],
        "n": n,
    }


def _asymmetry(left_mean: float | None, right_mean: float | None, positive_scale: bool) -> dict[str, Any]:
    if left_mean is None or right_mean is None:
        return {"left_minus_right": None, "symmetry_index_pct": None}
    mid = 0.5 * (left_mean + right_mean)
    index = 100.0 * (left_mean - right_mean) / mid if positive_scale and mid > 0 else None
    return {"left_minus_right": left_mean - right_mean, "symmetry_index_pct": index}


def _drift(values: np.ndarray, ic_time_s: np.ndarray, clip_start_s: float, clip_end_s: float) -> dict[str, Any]:
    """Mean of the stances in the first third of the clip against the last third."""
    third = (clip_end_s - clip_start_s) / 3.0
    finite = np.isfinite(values)
    first = finite & (ic_time_s < clip_start_s + third)
    last = finite & (ic_time_s >= clip_end_s - third)
    first_mean = float(values[first].mean()) if first.any() else None
    last_mean = float(values[last].mean()) if last.any() else None
    change = None if first_mean is None or last_mean is None else last_mean - first_mean
    return {
        "first_third_mean": first_mean,
        "last_third_mean": last_mean,
        "change": change,
        "n_first": int(first.sum()),
        "n_last": int(last.sum()),
    }


def _quality(
    name: str,
    per_side_n: Mapping[str, int],
    *,
    fps: float | None,
    oblique: bool,
    leg_visibility: float | None,
    pelvis_method: str | None,
    backend: str | None,
    ic_label_swap_fraction: float | None = None,
    step_time_cv: float | None = None,
) -> dict[str, Any]:
    """Flag and reasons for one metric; the worst applicable flag wins."""
    levels = {"ok": 0, "limited": 1, "unreliable": 2}
    flag, reasons = "ok", []

    def note(level: str, reason: str) -> None:
        nonlocal flag
        reasons.append(reason)
        if levels[level] > levels[flag]:
            flag = level

    total = sum(per_side_n.values())
    if total == 0:
        note("unreliable", "no stance gave a value")
    else:
        for side, n in per_side_n.items():
            if n < MIN_STANCES_PER_SIDE:
                note(
                    "limited",
                    f"only {n} {side} stance(s); average at least {MIN_STANCES_PER_SIDE} steps per side "
                    "(Dingenen et al. 2018) - film a longer clip",
                )
    if fps is not None and name in _TIMING and fps < MIN_FPS_FOR_TIMING:
        frame_ms = 1000.0 / fps
        note(
            "limited",
            f"{fps:g} fps: contact events are only good to about +/-{frame_ms:.0f} ms; film at 60 fps or more",
        )
    if step_time_cv is not None and name in _EVENT_TIMING and step_time_cv > MAX_STEP_TIME_CV:
        note(
            "limited",
            f"step times vary by {step_time_cv:.0%} (coefficient of variation); the detected contacts are unsteady "
            "or the pace changed",
        )
    if oblique and name in _FRONTAL_ANGLES:
        note("unreliable", "camera is well off the rear/front axis; frontal-plane angles are distorted")
    elif oblique and name in ("pelvic_drop_deg", "step_width_pct_leg", "step_width_cm"):
        note("limited", "camera is off the rear/front axis; in-image values are distorted")
    if leg_visibility is not None and leg_visibility < MIN_LEG_VISIBILITY:
        note("limited", f"low landmark confidence on the legs (mean visibility {leg_visibility:.2f})")
    if name in _AT_IC_SIDE_VIEW and ic_label_swap_fraction and ic_label_swap_fraction > MAX_IC_LABEL_SWAP_FRACTION:
        note(
            "limited",
            f"the pose model swapped the leg labels at {ic_label_swap_fraction:.0%} of contacts; values were read "
            "from the leg on the ground, but the landmarks around contact are unsteady",
        )
    if name == "knee_fppa_deg" and backend not in (None, "truth-replay", "mocap-projection"):
        note(
            "limited",
            "knee angle from the pose model's landmarks, which read large valgus 2-5 deg low on rendered runners "
            "with known truth (docs/validation.md); a 2D screening angle, not 3D knee abduction",
        )
    if (
        name == "pelvic_drop_deg"
        and pelvis_method == "hip_landmarks"
        and backend not in (None, "truth-replay", "mocap-projection")
    ):
        note(
            "limited",
            "pelvic drop from the pose model's hip points, which follow the pelvis only partly "
            "(they under-read the drop on rendered runners with known truth)",
        )
    return {"flag": flag, "reasons": reasons}


def _as_plain_dict(value: Any) -> dict[str, Any] | None:
    """A JSON-able dict from a report object (``as_dict()``, a dataclass, or a mapping)."""
    if value is None:
        return None
    if hasattr(value, "as_dict"):
        return dict(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot turn {type(value).__name__} into a summary entry")


def summarize(
    strides: pd.DataFrame,
    classification: Any,
    *,
    cleaning_report: Any = None,
    fps: float | None = None,
    clip_start_s: float | None = None,
    clip_end_s: float | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Per-side and overall statistics, asymmetry, drift and quality of every metric.

    Parameters
    ----------
    strides : table from :func:`gaitcheck.metrics.compute_strides` (its ``attrs`` are used).
    classification : the clip classification (``view``, ``oblique``; ``as_dict()`` if it has one).
    cleaning_report : the cleaning report, stored as given (``as_dict()`` / dataclass / mapping).
    fps : frame rate of the clip, for the timing-resolution flag.
    clip_start_s, clip_end_s : clip time span for the drift thirds (default: first and last IC).
    backend : where the landmarks came from (track ``meta["backend"]``), for quality notes.

    Returns
    -------
    A JSON-able dict; see the module docstring.
    """
    view = str(classification.view)
    oblique = bool(getattr(classification, "oblique", False))
    used = strides[strides["complete"].astype(bool)] if "complete" in strides.columns else strides
    ic_time_s = used["ic_time_s"].to_numpy(dtype=np.float64)
    start_s = clip_start_s if clip_start_s is not None else (float(ic_time_s.min()) if ic_time_s.size else 0.0)
    end_s = clip_end_s if clip_end_s is not None else (float(ic_time_s.max()) if ic_time_s.size else 0.0)
    side_masks = {side: (used["side"] == side).to_numpy() for side in ("left", "right")}
    leg_visibility = _number(np.nanmean(used["leg_visibility"])) if "leg_visibility" in used and len(used) else None
    attrs = strides.attrs
    swap_fraction = (
        float(used["ic_leg_labels_swapped"].astype(bool).mean())
        if "ic_leg_labels_swapped" in used and len(used)
        else None
    )
    step_time_cv = None
    if "step_time_s" in used and used["step_time_s"].notna().sum() >= 3:
        step_times = used["step_time_s"].dropna()
        step_time_cv = float(step_times.std(ddof=1) / step_times.mean())
    metrics: dict[str, Any] = {}
    omitted: dict[str, str] = {}
    for name, views in METRIC_VIEWS.items():
        if view not in views:
            omitted[name] = f"not measurable from a {view} view (needs {' or '.join(views)})"
            continue
        if name not in used.columns:
            omitted[name] = (
                "no scale: give the runner's height with --height-cm"
                if name.endswith("_cm")
                else "not computed for this clip"
            )
            continue
        values = used[name].to_numpy(dtype=np.float64)
        entry: dict[str, Any] = {side: describe(values[mask]) for side, mask in side_masks.items()}
        entry["overall"] = describe(values)
        entry["asymmetry"] = _asymmetry(entry["left"]["mean"], entry["right"]["mean"], name in _POSITIVE_SCALE)
        entry["drift"] = _drift(values, ic_time_s, start_s, end_s)
        entry["quality"] = _quality(
            name,
            {side: entry[side]["n"] for side in ("left", "right")},
            fps=fps,
            oblique=oblique,
            leg_visibility=leg_visibility,
            pelvis_method=attrs.get("pelvis_method"),
            backend=backend,
            ic_label_swap_fraction=swap_fraction,
            step_time_cv=step_time_cv,
        )
        if name == "cadence_spm":
            entry["clip_value"] = _number(attrs.get("cadence_spm"))
        metrics[name] = entry
    strike_counts = (
        {str(k): int(v) for k, v in used["strike_pattern"].value_counts().items()}
        if "strike_pattern" in used.columns
        else None
    )
    if hasattr(classification, "as_dict"):
        classification_entry = dict(classification.as_dict())
    else:
        classification_entry = {"view": view, "oblique": oblique}
    return {
        "schema_version": SCHEMA_VERSION,
        "gaitcheck_version": __version__,
        "classification": classification_entry,
        "cleaning": _as_plain_dict(cleaning_report),
        "clip": {
            "fps": _number(fps),
            "backend": backend,
            "n_stances": len(strides),
            "n_stances_used": len(used),
            "cadence_spm": _number(attrs.get("cadence_spm")),
            "leg_length_px": _number(attrs.get("leg_length_px")),
            "px_per_cm": _number(attrs.get("px_per_cm")),
            "scale_source": attrs.get("scale_source"),
            "pelvis_method": attrs.get("pelvis_method"),
            "leg_visibility": leg_visibility,
            "strike_pattern_counts": strike_counts,
            "ic_leg_label_swaps": (
                int(used["ic_leg_labels_swapped"].astype(bool).sum()) if "ic_leg_labels_swapped" in used else None
            ),
        },
        "metrics": metrics,
        "omitted_metrics": omitted,
    }
