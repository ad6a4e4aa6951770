"""The per-side summary: statistics checked against numpy/scipy on a small fixture."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gaitcheck.summary import MIN_STANCES_PER_SIDE, describe, summarize

LEFT_DROP = np.array([4.0, 5.0, 6.5, 5.5, 4.5, 6.0, 5.0, 5.2])
RIGHT_DROP = np.array([8.0, 9.5, 10.0, 8.5, 9.0, 11.0, 9.2, 9.8])


def _fixture(n_per_side: int = 8) -> pd.DataFrame:
    """Alternating left/right stances 0.35 s apart with known metric values."""
    n = 2 * n_per_side
    side = np.where(np.arange(n) % 2 == 0, "left", "right")
    ic_time_s = 0.1 + 0.35 * np.arange(n)
    drop = np.empty(n)
    drop[0::2], drop[1::2] = LEFT_DROP[:n_per_side], RIGHT_DROP[:n_per_side]
    contact = np.full(n, 0.25)
    strides = pd.DataFrame(
        {
            "side": side,
            "ic_time_s": ic_time_s,
            "to_time_s": ic_time_s + contact,
            "complete": True,
            "pelvic_drop_deg": drop,
            "knee_fppa_deg": np.linspace(2.0, 6.0, n),
            "contact_time_s": contact,
            "cadence_spm": 60.0 / np.full(n, 0.35),
            "leg_visibility": 0.9,
        }
    )
    strides.loc[0, "cadence_spm"] = np.nan  # the first stance has no previous step
    strides.attrs.update(cadence_spm=171.4, leg_length_px=300.0, px_per_cm=None, pelvis_method="hip_landmarks")
    return strides


REAR = SimpleNamespace(view="rear", oblique=False)


def test_describe_matches_numpy_and_scipy() -> None:
    values = np.array([3.0, 4.5, np.nan, 5.0, 7.25])
    out = describe(values)
    finite = values[np.isfinite(values)]
    sem = stats.sem(finite)
    lo, hi = stats.t.interval(0.95, len(finite) - 1, loc=finite.mean(), scale=sem)
    assert out["n"] == 4
    assert out["mean"] == pytest.approx(finite.mean())
    assert out["sd"] == pytest.approx(np.std(finite, ddof=1))
    assert out["median"] == pytest.approx(np.median(finite))
    assert out["ci95"] == pytest.approx([lo, hi])


def test_describe_small_samples() -> None:
    assert describe(np.array([np.nan])) == {"mean": None, "sd": None, "median": None, "ci95": None, "n": 0}
    one = describe(np.array([2.0]))
    assert one["mean"] == 2.0 and one["sd"] is None and one["ci95"] is None and one["n"] == 1


def test_per_side_statistics_asymmetry_and_drift() -> None:
    summary = summarize(_fixture(), REAR, fps=60.0, backend="truth-replay")
    drop = summary["metrics"]["pelvic_drop_deg"]
    assert drop["left"]["mean"] == pytest.approx(LEFT_DROP.mean())
    assert drop["right"]["sd"] == pytest.approx(RIGHT_DROP.std(ddof=1))
    both = np.concatenate([LEFT_DROP, RIGHT_DROP])
    assert drop["overall"]["median"] == pytest.approx(np.median(both))
    assert drop["overall"]["n"] == 16
    assert drop["asymmetry"]["left_minus_right"] == pytest.approx(LEFT_DROP.mean() - RIGHT_DROP.mean())
    assert drop["asymmetry"]["symmetry_index_pct"] is None  # a signed angle has no symmetry index
    # drift: first vs last third of the IC span [0.1, 5.35]
    fixture = _fixture()
    third = (5.35 - 0.1) / 3
    first = fixture["pelvic_drop_deg"][fixture["ic_time_s"] < 0.1 + third]
    last = fixture["pelvic_drop_deg"][fixture["ic_time_s"] >= 5.35 - third]
    assert drop["drift"]["first_third_mean"] == pytest.approx(first.mean())
    assert drop["drift"]["change"] == pytest.approx(last.mean() - first.mean())
    assert drop["drift"]["n_first"] == len(first)
    assert drop["quality"] == {"flag": "ok", "reasons": []}
    contact = summary["metrics"]["contact_time_s"]
    assert contact["asymmetry"]["symmetry_index_pct"] == pytest.approx(0.0)
    cadence = summary["metrics"]["cadence_spm"]
    assert cadence["left"]["n"] == 7 and cadence["clip_value"] == pytest.approx(171.4)


def test_quality_flags_and_reasons() -> None:
    summary = summarize(
        _fixture(n_per_side=5), SimpleNamespace(view="rear", oblique=True), fps=30.0, backend="mediapipe"
    )
    metrics = summary["metrics"]
    assert metrics["pelvic_drop_deg"]["quality"]["flag"] == "limited"
    reasons = " ".join(metrics["pelvic_drop_deg"]["quality"]["reasons"])
    assert f"at least {MIN_STANCES_PER_SIDE}" in reasons and "hip points" in reasons
    assert metrics["knee_fppa_deg"]["quality"]["flag"] == "unreliable"
    assert any("valgus 2-5 deg low" in reason for reason in metrics["knee_fppa_deg"]["quality"]["reasons"])
    assert any("33 ms" in reason for reason in metrics["contact_time_s"]["quality"]["reasons"])


def test_view_decides_which_metrics_are_reported() -> None:
    summary = summarize(_fixture(), REAR, fps=60.0)
    assert "heel_ahead_pct_leg" in summary["omitted_metrics"]
    assert "heel_ahead_pct_leg" not in summary["metrics"]
    assert "no scale" not in summary["omitted_metrics"]["heel_ahead_pct_leg"]
    assert "--height-cm" in summary["omitted_metrics"]["step_width_cm"]


def test_incomplete_stances_are_not_counted_and_output_is_strict_json() -> None:
    strides = _fixture()
    strides.loc[15, "complete"] = False
    summary = summarize(strides, REAR, fps=60.0)
    assert summary["clip"]["n_stances"] == 16 and summary["clip"]["n_stances_used"] == 15
    assert summary["metrics"]["pelvic_drop_deg"]["right"]["n"] == 7
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["schema_version"] == 1


def test_frequent_leg_label_swaps_limit_side_view_values() -> None:
    strides = _fixture().drop(columns=["pelvic_drop_deg", "knee_fppa_deg"])
    strides["heel_ahead_pct_leg"] = 20.0
    strides["ic_leg_labels_swapped"] = np.arange(len(strides)) % 3 == 0  # 6 of 16
    summary = summarize(strides, SimpleNamespace(view="side_right", oblique=False), fps=60.0)
    heel = summary["metrics"]["heel_ahead_pct_leg"]["quality"]
    assert heel["flag"] == "limited" and "swapped the leg labels at 38%" in heel["reasons"][0]
    assert summary["clip"]["ic_leg_label_swaps"] == 6
    assert summary["metrics"]["contact_time_s"]["quality"]["flag"] == "ok"


def test_unsteady_step_times_limit_timing_metrics() -> None:
    strides = _fixture()
    strides["step_time_s"] = np.where(np.arange(16) % 2 == 0, 0.30, 0.44)  # CV about 20%
    summary = summarize(strides, REAR, fps=60.0)
    quality = summary["metrics"]["step_time_s"]["quality"]
    assert quality["flag"] == "limited" and "step times vary" in quality["reasons"][0]
    assert summary["metrics"]["pelvic_drop_deg"]["quality"]["flag"] == "ok"
    steady = _fixture()
    steady["step_time_s"] = 0.35 + 0.005 * np.sin(np.arange(16))
    assert summarize(steady, REAR, fps=60.0)["metrics"]["step_time_s"]["quality"]["flag"] == "ok"
