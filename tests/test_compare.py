"""Before/after comparison: statistics against scipy, verdicts on analytic fixtures, fairness
refusals, file outputs and the issue-6 acceptance cases on gaitsynth truth replays."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import load_gaitsynth
from gaitcheck.compare import (
    COMPARISON_FORMAT,
    ClipAnalysis,
    Session,
    compare_sessions,
    comparison_schema,
    distance_to_range,
    hedges_g,
    history_table,
    holm_adjust,
    load_change_rules,
    load_session,
    parse_change_rules,
    welch_statistics,
    write_comparison,
)
from gaitcheck.errors import InputError

# ---------------------------------------------------------------------------- analytic fixtures

FRONTAL_MEANS = {
    "pelvic_drop_deg": 12.0,
    "hip_adduction_deg": 10.0,
    "knee_fppa_deg": 6.0,
    "step_width_pct_leg": 5.0,
    "cadence_spm": 170.0,
    "contact_time_s": 0.25,
    "vertical_oscillation_pct_leg": 9.0,
}
SAGITTAL_MEANS = {
    "heel_ahead_pct_leg": 20.0,
    "shank_angle_ic_deg": 6.0,
    "knee_flexion_ic_deg": 15.0,
    "cadence_spm": 170.0,
    "contact_time_s": 0.25,
    "vertical_oscillation_pct_leg": 9.0,
}
#: Stride-to-stride SD of each metric in the fixtures (about what gaitsynth's variability gives).
STRIDE_SD = {
    "pelvic_drop_deg": 0.6,
    "hip_adduction_deg": 0.8,
    "knee_fppa_deg": 0.6,
    "step_width_pct_leg": 0.8,
    "cadence_spm": 2.5,
    "contact_time_s": 0.008,
    "vertical_oscillation_pct_leg": 0.4,
    "heel_ahead_pct_leg": 1.2,
    "shank_angle_ic_deg": 0.8,
    "knee_flexion_ic_deg": 0.8,
}


def synthetic_clip(
    seed: int,
    means: Mapping[str, float],
    *,
    view: str = "rear",
    n_per_side: int = 12,
    fps: float = 60.0,
    oblique: bool = False,
    quality: Mapping[str, str] | None = None,
    label: str = "",
) -> ClipAnalysis:
    """Strides with normally scattered metrics: mean ``means[name]``, SD ``STRIDE_SD[name]``."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_side
    table: dict[str, Any] = {
        "side": np.tile(["left", "right"], n_per_side),
        "ic_time_s": np.arange(n) * 0.35,
        "complete": np.ones(n, dtype=bool),
    }
    for name, mean in means.items():
        table[name] = mean + STRIDE_SD[name] * rng.standard_normal(n)
    summary: dict[str, Any] = {
        "classification": {"view": view, "oblique": oblique, "setting": "treadmill", "activity": "running"},
        "clip": {"fps": fps},
        "metrics": {
            name: {"quality": {"flag": flag, "reasons": [f"{name} flagged"]}} for name, flag in (quality or {}).items()
        },
    }
    return ClipAnalysis(pd.DataFrame(table), summary, label or f"{view}-{seed}")


def session(*clips: ClipAnalysis, label: str = "") -> Session:
    return Session(clips=clips, label=label or clips[0].label)


# ---------------------------------------------------------------------------- statistics


def test_welch_statistics_match_scipy() -> None:
    rng = np.random.default_rng(3)
    before, after = rng.normal(5.0, 1.0, 9), rng.normal(6.0, 2.0, 14)
    out = welch_statistics(
        np.array([before.size]),
        np.array([before.mean()]),
        np.array([before.var(ddof=1)]),
        np.array([after.size]),
        np.array([after.mean()]),
        np.array([after.var(ddof=1)]),
    )
    reference = stats.ttest_ind(after, before, equal_var=False)
    ci = reference.confidence_interval(0.95)
    assert out["t"][0] == pytest.approx(reference.statistic, rel=1e-10)
    assert out["p"][0] == pytest.approx(reference.pvalue, rel=1e-10)
    assert out["df"][0] == pytest.approx(reference.df, rel=1e-10)
    assert (out["ci95_low"][0], out["ci95_high"][0]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_welch_statistics_zero_spread() -> None:
    """Perfectly periodic strides: a difference is certain (p = 0), none is p = 1, CI has zero width."""
    ones, zeros = np.array([5.0, 5.0]), np.zeros(2)
    out = welch_statistics(ones, np.array([1.0, 1.0]), zeros, ones, np.array([1.0, 2.0]), zeros)
    assert out["p"].tolist() == [1.0, 0.0]
    assert out["ci95_low"].tolist() == out["ci95_high"].tolist() == [0.0, 1.0]


def test_hedges_g_analytic() -> None:
    """Means 0 and 1, both variances 1, n = 10 + 10: d = 1, J = 1 - 3 / (4 * 20 - 9) = 68 / 71."""
    ones = np.array([1.0])
    g = hedges_g(np.array([10]), np.array([0.0]), ones, np.array([10]), ones, ones)
    assert g[0] == pytest.approx(68.0 / 71.0)


def test_holm_adjust_known_values() -> None:
    """Sorted p 0.01, 0.03, 0.04 with m = 3 -> 0.03, max(0.06, 0.03), max(0.04, 0.06) = 0.06."""
    assert holm_adjust(np.array([0.04, 0.01, 0.03])).tolist() == pytest.approx([0.06, 0.03, 0.06])
    assert holm_adjust(np.array([0.5, 0.9])).tolist() == pytest.approx([1.0, 1.0])  # 2 x 0.5, then monotone
    assert holm_adjust(np.empty(0)).size == 0


def test_distance_to_range() -> None:
    assert distance_to_range(-3.0, (0.0, math.inf)) == 3.0
    assert distance_to_range(4.0, (0.0, math.inf)) == 0.0
    assert distance_to_range(-2.0, (0.0, 0.0)) == 2.0


# ---------------------------------------------------------------------------- verdicts


def test_pelvic_drop_improvement_is_the_only_real_change() -> None:
    before = session(synthetic_clip(1, FRONTAL_MEANS))
    after = session(synthetic_clip(2, {**FRONTAL_MEANS, "pelvic_drop_deg": 5.0}))
    comparison = compare_sessions(before, after)
    for side in ("left", "right", "overall"):
        row = comparison.change("pelvic_drop_deg", side)
        assert row.verdict == "improved"
        assert row.difference == pytest.approx(-7.0, abs=0.8)
        assert row.ci95_low is not None and row.ci95_high is not None
        assert row.ci95_low < row.difference < row.ci95_high < 0
        assert row.srd == pytest.approx(2.8) and row.srd_basis == "published"
        assert row.hedges_g is not None and row.hedges_g < -3
    others = [row for row in comparison.changes if row.metric != "pelvic_drop_deg"]
    assert others and {row.verdict for row in others} == {"no real change"}


def test_same_runner_different_noise_gives_no_real_change() -> None:
    for seed in range(5):
        comparison = compare_sessions(
            session(synthetic_clip(100 + seed, FRONTAL_MEANS)), session(synthetic_clip(200 + seed, FRONTAL_MEANS))
        )
        assert {row.verdict for row in comparison.changes} == {"no real change"}


def test_significant_change_below_the_published_sdd_is_not_real() -> None:
    """A 1.5 deg drop with 24 stances is significant but below Dingenen's SDD of 2.8 deg."""
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS, n_per_side=40)),
        session(synthetic_clip(2, {**FRONTAL_MEANS, "pelvic_drop_deg": 10.5}, n_per_side=40)),
    )
    row = comparison.change("pelvic_drop_deg")
    assert row.significant and not row.exceeds_srd
    assert row.verdict == "no real change"


def test_direction_rules() -> None:
    after_means = {
        **FRONTAL_MEANS,
        "hip_adduction_deg": 16.0,  # lower is better -> worse
        "knee_fppa_deg": -1.0,  # toward 0 from 6 -> improved
        "step_width_pct_leg": -4.0,  # crossover, away from [0, inf) -> worse
        "cadence_spm": 200.0,  # +18%: beyond the +10% studied -> changed
        "contact_time_s": 0.20,  # no better direction -> changed
    }
    comparison = compare_sessions(session(synthetic_clip(1, FRONTAL_MEANS)), session(synthetic_clip(2, after_means)))
    assert comparison.change("hip_adduction_deg").verdict == "worse"
    assert comparison.change("knee_fppa_deg").verdict == "improved"
    assert comparison.change("step_width_pct_leg").verdict == "worse"
    cadence = comparison.change("cadence_spm")
    assert cadence.verdict == "changed"
    assert any("beyond the 10%" in w for w in cadence.warnings)
    assert comparison.change("contact_time_s").verdict == "changed"
    # cadence moved by > 10%: speed-dependent metrics carry a warning, frontal angles do not
    assert any("cadence differs" in w for w in comparison.change("contact_time_s").warnings)
    assert not any("cadence differs" in w for w in comparison.change("pelvic_drop_deg").warnings)
    assert any("cadence changed" in w for w in comparison.warnings)


def test_modest_cadence_rise_is_an_improvement() -> None:
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS)), session(synthetic_clip(2, {**FRONTAL_MEANS, "cadence_spm": 182.0}))
    )
    assert comparison.change("cadence_spm").verdict == "improved"


# ---------------------------------------------------------------------------- fairness


def test_rear_against_side_refuses_view_bound_metrics() -> None:
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS, view="rear")),
        session(synthetic_clip(2, SAGITTAL_MEANS, view="side_left", fps=30.0)),
    )
    drop = comparison.change("pelvic_drop_deg")
    assert drop.verdict == "not compared"
    assert drop.reason is not None
    assert "rear or front view" in drop.reason and "after session" in drop.reason and "side_left" in drop.reason
    heel = comparison.change("heel_ahead_pct_leg", "left")
    assert heel.verdict == "not compared"
    assert heel.reason is not None and "side view" in heel.reason and "before session" in heel.reason
    contact = comparison.change("contact_time_s")
    assert contact.verdict == "no real change"
    assert any("rear view before and a side_left view after" in w for w in contact.warnings)
    assert any("frame rates differ (60 vs 30 fps)" in w for w in contact.warnings)
    assert any("different views" in w for w in comparison.warnings)


def test_rear_plus_side_sessions_pair_each_metric_with_its_view() -> None:
    before = session(
        synthetic_clip(1, FRONTAL_MEANS, view="rear"), synthetic_clip(2, SAGITTAL_MEANS, view="side_right")
    )
    after = session(
        synthetic_clip(3, FRONTAL_MEANS, view="rear"),
        synthetic_clip(4, {**SAGITTAL_MEANS, "heel_ahead_pct_leg": 12.0}, view="side_right"),
    )
    comparison = compare_sessions(before, after)
    assert comparison.change("heel_ahead_pct_leg").verdict == "improved"
    assert comparison.change("pelvic_drop_deg").before_clip == "rear-1"
    # timing metrics come from the side clips of both sessions (same view, events sharper)
    assert comparison.change("contact_time_s").before_clip == "side_right-2"
    assert comparison.change("contact_time_s").after_clip == "side_right-4"
    assert not comparison.warnings


def test_oblique_against_square_refuses_frontal_angles_only() -> None:
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS)), session(synthetic_clip(2, FRONTAL_MEANS, oblique=True))
    )
    fppa = comparison.change("knee_fppa_deg")
    assert fppa.verdict == "not compared"
    assert fppa.reason is not None and "oblique" in fppa.reason
    assert comparison.change("cadence_spm").verdict == "no real change"


def test_quality_flags_refuse_or_warn() -> None:
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS, quality={"pelvic_drop_deg": "unreliable"})),
        session(synthetic_clip(2, FRONTAL_MEANS, quality={"contact_time_s": "limited"})),
    )
    drop = comparison.change("pelvic_drop_deg")
    assert drop.verdict == "not compared"
    assert drop.reason is not None and "unreliable" in drop.reason and "before session" in drop.reason
    assert any("quality 'limited'" in w for w in comparison.change("contact_time_s").warnings)


def test_too_few_stances_are_refused_with_the_count() -> None:
    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS, n_per_side=2)), session(synthetic_clip(2, FRONTAL_MEANS))
    )
    row = comparison.change("pelvic_drop_deg", "left")
    assert row.verdict == "not compared"
    assert row.reason is not None and "only 2 (before)" in row.reason
    overall = comparison.change("pelvic_drop_deg", "overall")  # 4 stances pooled: compared, with a warning
    assert overall.verdict == "no real change"
    assert any("fewer than 7 stances" in w for w in overall.warnings)


def test_session_without_view_is_an_input_error() -> None:
    clip = synthetic_clip(1, FRONTAL_MEANS)
    broken = ClipAnalysis(clip.strides, {"classification": {}}, "broken")
    with pytest.raises(InputError, match="no camera view"):
        compare_sessions(session(broken), session(clip))


def test_bad_change_rules_are_rejected() -> None:
    with pytest.raises(InputError, match="target"):
        parse_change_rules({"metric": {"x_deg": {"better": "toward"}}}, origin="mine.toml")
    with pytest.raises(InputError, match="unknown key"):
        parse_change_rules({"metric": {"x_deg": {"beter": "lower"}}}, origin="mine.toml")


def test_shipped_rules_cover_every_metric_and_cite_sources() -> None:
    from gaitcheck.metrics import METRIC_VIEWS

    rules = load_change_rules()
    assert set(METRIC_VIEWS) <= set(rules.metrics)
    for rule in rules.metrics.values():
        assert rule.direction_source
        assert (rule.sdd is None) == (rule.sdd_source is None)
        assert (rule.floor is None) == (rule.floor_source is None)
        if rule.name.endswith("_deg"):  # every 2D angle has a published or a stated convention floor
            assert rule.sdd is not None or rule.floor is not None, rule.name
    assert rules.metrics["pelvic_drop_deg"].sdd == pytest.approx(2.8)
    assert rules.metrics["foot_inclination_ic_deg"].sdd == pytest.approx(2.3)


# ---------------------------------------------------------------------------- files


def write_analysis_folder(folder: Path, clip: ClipAnalysis) -> Path:
    folder.mkdir(parents=True)
    clip.strides.to_csv(folder / "strides.csv", index=False)
    (folder / "summary.json").write_text(json.dumps(clip.summary), encoding="utf-8")
    return folder


def test_outputs_validate_and_round_trip(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    before_dir = write_analysis_folder(tmp_path / "visit1", synthetic_clip(1, FRONTAL_MEANS))
    after_dir = write_analysis_folder(
        tmp_path / "visit2", synthetic_clip(2, {**FRONTAL_MEANS, "pelvic_drop_deg": 5.0}, view="rear")
    )
    side_dir = write_analysis_folder(tmp_path / "visit2side", synthetic_clip(3, SAGITTAL_MEANS, view="side_left"))
    before = load_session([before_dir])
    after = load_session([after_dir, side_dir], label="visit2")
    comparison = compare_sessions(before, after)
    paths = write_comparison(comparison, tmp_path / "out")
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(comparison_schema())
    jsonschema.validate(document, comparison_schema())
    assert document["format"] == COMPARISON_FORMAT
    assert document["after"]["clips"][1]["view"] == "side_left"
    table = pd.read_csv(paths["csv"])
    assert len(table) == len(comparison.changes)
    drop = table[(table.metric == "pelvic_drop_deg") & (table.side == "overall")].iloc[0]
    assert drop.verdict == "improved"
    assert sum(document["verdict_counts"].values()) == len(document["changes"])


def test_load_session_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"strides\.csv missing.*gaitcheck analyze"):
        load_session([tmp_path / "half"])


def test_history_table_orders_sessions() -> None:
    sessions = [
        Session.of(
            synthetic_clip(i, {**FRONTAL_MEANS, "pelvic_drop_deg": drop}).strides,
            {"classification": {"view": "rear"}},
            label=f"s{i}",
        )
        for i, drop in enumerate((12.0, 9.0, 6.0))
    ]
    table = history_table(sessions, metrics=["pelvic_drop_deg"])
    overall = table[table.side == "overall"]
    assert overall.session.tolist() == ["s0", "s1", "s2"]
    assert np.diff(overall["mean"].to_numpy()) == pytest.approx([-3.0, -3.0], abs=0.8)
    assert (overall.ci95_low < overall["mean"]).all() and (overall["mean"] < overall.ci95_high).all()


# ---------------------------------------------------------------------------- acceptance on gaitsynth truth
#
# The same runner rendered (truth only, no video) with every appearance, camera and gait parameter
# fixed: the parameters are resolved once from seed 11, then only the seed changes, which redraws
# nothing but the per-step variability (step times, contact times, landing, drop, valgus, ...).
# The truth replays run through pipeline.analyze_track (view given, events detected).

SYNTH_BASE = {
    "seed": 11,
    "view": "rear",
    "fps": 60.0,
    "duration_s": 7.0,
    "pelvic_drop_deg": 12.0,
    "valgus_deg": 4.0,
    "camera_roll_deg": 0.0,
    "camera_yaw_deg": 0.0,
    "trunk_roll_coupling": 0.3,
}


@pytest.fixture(scope="session")
def synth_session() -> Any:
    """Build (and cache) analysed sessions of the fixed runner: ``synth_session(seed, **changes)``."""
    gaitsynth = load_gaitsynth("gaitsynth_for_tests")

    from dataclasses import replace

    from gaitcheck.pipeline import analyze_track
    from gaitcheck.pose.replay import track_from_truth

    resolved = gaitsynth.resolve_params(gaitsynth.params_from_dict(SYNTH_BASE))
    cache: dict[tuple[Any, ...], Session] = {}

    def build(seed: int, **changes: Any) -> Session:
        key = (seed, *sorted(changes.items()))
        if key not in cache:
            params = replace(resolved, seed=seed, **changes)
            name = f"seed{seed}_" + "_".join(f"{k}{v}" for k, v in sorted(changes.items()))
            analysis = analyze_track(
                track_from_truth(params_truth := gaitsynth.Clip(params).truth(name)), view=params.view
            )
            assert params_truth["params"]["seed"] == seed
            cache[key] = Session.of(analysis.strides, analysis.summary, label=name)
        return cache[key]

    return build


@pytest.mark.slow
def test_acceptance_pelvic_drop_12_to_5_is_improved(synth_session: Any) -> None:
    before = synth_session(11)
    after = synth_session(12, pelvic_drop_l_deg=5.0, pelvic_drop_r_deg=5.0)
    comparison = compare_sessions(before, after)
    for side in ("left", "right", "overall"):
        assert comparison.change("pelvic_drop_deg", side).verdict == "improved"
    # Hip adduction is the thigh against the pelvis line, so it falls with the pelvic drop by
    # construction: a real, coupled improvement, not a false alarm.
    coupled = {"pelvic_drop_deg", "hip_adduction_deg"}
    assert {r.verdict for r in comparison.changes if r.metric == "hip_adduction_deg"} <= {"improved", "no real change"}
    rest = [r for r in comparison.changes if r.metric not in coupled]
    assert rest
    assert {r.verdict for r in rest} == {"no real change"}, [
        (r.metric, r.side, r.verdict, r.difference) for r in rest if r.verdict != "no real change"
    ]


@pytest.mark.slow
def test_acceptance_same_parameters_other_seed_is_no_real_change(synth_session: Any) -> None:
    comparison = compare_sessions(synth_session(11), synth_session(13))
    assert comparison.changes
    assert {r.verdict for r in comparison.changes} == {"no real change"}, [
        (r.metric, r.side, r.verdict, r.difference) for r in comparison.changes if r.verdict != "no real change"
    ]


@pytest.mark.slow
def test_acceptance_rear_against_side_refuses_per_metric(synth_session: Any, tmp_path: Path) -> None:
    before, after = synth_session(11), synth_session(12, view="side_left")
    comparison = compare_sessions(before, after)
    drop = comparison.change("pelvic_drop_deg")
    assert drop.verdict == "not compared"
    assert drop.reason is not None and "rear or front view" in drop.reason and "side_left" in drop.reason
    heel = comparison.change("heel_ahead_pct_leg")
    assert heel.verdict == "not compared" and heel.reason is not None and "side view" in heel.reason
    cadence = comparison.change("cadence_spm")
    assert cadence.verdict == "no real change"
    assert any("rear view before and a side_left view after" in w for w in cadence.warnings)
    # the written report validates and renders
    jsonschema = pytest.importorskip("jsonschema")
    paths = write_comparison(comparison, tmp_path)
    jsonschema.validate(json.loads(paths["json"].read_text(encoding="utf-8")), comparison_schema())


# ---------------------------------------------------------------------------- command line and HTML


@pytest.mark.slow
def test_compare_and_history_commands(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gaitcheck.cli import app

    for name, seed, drop in (("visit1", 1, 12.0), ("visit2", 2, 8.0), ("visit3", 3, 5.0)):
        write_analysis_folder(tmp_path / name, synthetic_clip(seed, {**FRONTAL_MEANS, "pelvic_drop_deg": drop}))
    write_analysis_folder(tmp_path / "visit3_side", synthetic_clip(4, SAGITTAL_MEANS, view="side_left"))
    runner = CliRunner()
    arguments = ["compare", str(tmp_path / "visit1"), str(tmp_path / "visit3"), "-o", str(tmp_path / "cmp")]
    result = runner.invoke(app, [*arguments, "--after-also", str(tmp_path / "visit3_side")])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, arguments)
    assert isinstance(again.exception, InputError) and "--force" in str(again.exception)
    assert "improved: Pelvic drop (overall) -7" in result.output
    document = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))
    assert [c["view"] for c in document["after"]["clips"]] == ["rear", "side_left"]
    assert "findings" in document
    html = (tmp_path / "cmp" / "comparison.html").read_text(encoding="utf-8")
    assert "Headline changes" in html and "<svg" in html

    result = runner.invoke(
        app, ["history", *(str(tmp_path / f"visit{i}") for i in (3, 1, 2)), "-o", str(tmp_path / "h")]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "h" / "history.csv")
    assert set(table.session) == {"visit1", "visit2", "visit3"}
    assert "First to last session" in (tmp_path / "h" / "history.html").read_text(encoding="utf-8")

    result = runner.invoke(
        app, ["history", str(tmp_path / "visit1"), str(tmp_path / "visit2"), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError) and "three or more" in str(result.exception)


def test_comparison_html_is_well_formed() -> None:
    from html.parser import HTMLParser

    from gaitcheck.report.compare_html import render_comparison_html

    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS)),
        session(synthetic_clip(2, SAGITTAL_MEANS, view="side_right")),
    )
    page = render_comparison_html(comparison)

    class Checker(HTMLParser):
        """Tracks open elements; void elements (meta, br, ...) close themselves."""

        void = frozenset({"meta", "br", "img", "hr", "input", "link"})

        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in self.void:
                self.stack.append(tag)

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            pass

        def handle_endtag(self, tag: str) -> None:
            assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
            self.stack.pop()

    from gaitcheck.report.compare_html import render_history_html

    sessions = [session(synthetic_clip(i, FRONTAL_MEANS), label=f"s{i}") for i in range(3)]
    described = [{"label": s.label, "date": f"2026-0{i + 1}-01", "date_source": "test"} for i, s in enumerate(sessions)]
    history_page = render_history_html(history_table(sessions), described, compare_sessions(sessions[0], sessions[-1]))
    for text in (page, history_page):
        checker = Checker()
        checker.feed(text)
        assert checker.stack == []
        assert "<script" not in text  # self-contained and static
    assert "is measured from a rear or front view" in page
    assert "First to last session" in history_page


@pytest.mark.slow
def test_comparison_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    import shutil
    import subprocess

    browser = next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )
    if browser is None:
        pytest.skip("no Chromium on this machine")
    from gaitcheck.report.compare_html import render_comparison_html

    comparison = compare_sessions(
        session(synthetic_clip(1, FRONTAL_MEANS)), session(synthetic_clip(2, {**FRONTAL_MEANS, "pelvic_drop_deg": 5.0}))
    )
    page = tmp_path / "comparison.html"
    page.write_text(render_comparison_html(comparison), encoding="utf-8")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Headline changes" in result.stdout and "Pelvic drop (overall)" in result.stdout
    assert "Uncaught" not in result.stderr and "CONSOLE" not in result.stderr


@pytest.mark.slow
def test_clips_compared_with_themselves_show_paired_key_frames(sample_videos: Path, tmp_path: Path) -> None:
    """The bundled rear demo (truth replay, its video beside it) against itself: nothing changes,
    every p-value is 1, and the report shows the same frame of both sessions."""
    from gaitcheck.compare import compare_to_folder

    clip = sample_videos / "demo_rear.truth.json"
    comparison, paths = compare_to_folder([clip], [clip], tmp_path)
    compared = [r for r in comparison.changes if r.verdict != "not compared"]
    assert compared and {r.verdict for r in compared} == {"no real change"}
    assert {r.p_welch for r in compared} == {1.0}
    assert (tmp_path / "before" / "demo_rear" / "summary.json").is_file()
    html = paths["html"].read_text(encoding="utf-8")
    assert "Key frames: the same moment" in html
    before_png, after_png = html.split('src="data:image/png;base64,')[1:3]
    assert before_png.split('"')[0] == after_png.split('"')[0]


def test_history_sorts_sessions_by_recording_date(tmp_path: Path) -> None:
    from gaitcheck.compare import history_to_folder

    dates = {"march": "2026-03-02", "january": "2026-01-05", "february": "2026-02-01"}
    for seed, (name, date) in enumerate(dates.items()):
        clip = synthetic_clip(seed, FRONTAL_MEANS)
        summary = {**clip.summary, "clip": {**clip.summary["clip"], "recorded_at": date}}
        write_analysis_folder(tmp_path / name, ClipAnalysis(clip.strides, summary, name))
    table, paths = history_to_folder([tmp_path / name for name in dates], tmp_path / "out", html=False)
    assert table.drop_duplicates("order")["session"].tolist() == ["january", "february", "march"]
    assert set(paths) == {"csv"}


def test_two_clip_analysis_folder_is_split_into_its_clips(tmp_path: Path) -> None:
    """A session folder of `gaitcheck analyze REAR SIDE` (``clip`` column, ``classification.clips``)
    is read back as two clips, so each metric is paired with the clip of its view."""
    rear, side = synthetic_clip(1, FRONTAL_MEANS), synthetic_clip(2, SAGITTAL_MEANS, view="side_right")
    strides = pd.concat(
        [rear.strides.assign(clip="rear.mp4"), side.strides.assign(clip="side.mp4")], ignore_index=True, sort=False
    )
    summary = {
        "classification": {
            "view": "rear+side_right",
            "views": ["rear", "side_right"],
            "clips": [rear.summary["classification"], side.summary["classification"]],
        },
        "clip": {"clips": [{"fps": 60.0}, {"fps": 120.0}]},
        "session": {"clips": ["rear.mp4", "side.mp4"], "views": ["rear", "side_right"]},
        "metrics": {},
    }
    folder = write_analysis_folder(tmp_path / "visit", ClipAnalysis(strides, summary))
    before = load_session([folder])
    assert [(c.label, clip_view(c)) for c in before.clips] == [
        ("visit:rear.mp4", "rear"),
        ("visit:side.mp4", "side_right"),
    ]
    assert len(before.clips[1].strides) == len(side.strides)
    comparison = compare_sessions(before, session(synthetic_clip(3, FRONTAL_MEANS)))
    assert comparison.change("pelvic_drop_deg").verdict == "no real change"
    assert comparison.change("heel_ahead_pct_leg").verdict == "not compared"
    assert [c.fps for c in comparison.before_clips] == [60.0, 120.0]


def clip_view(clip: ClipAnalysis) -> str:
    return str(clip.summary["classification"]["view"])


def test_metric_measured_by_different_methods_is_refused() -> None:
    """Pelvic drop from the hip landmarks in one session and from the pelvis texture in the other
    (the pipeline falls back per clip) must not be compared."""
    before, after = synthetic_clip(1, FRONTAL_MEANS), synthetic_clip(2, FRONTAL_MEANS)
    before = ClipAnalysis(before.strides.assign(pelvic_drop_method="hip_landmarks"), before.summary, "b")
    after = ClipAnalysis(after.strides.assign(pelvic_drop_method="pelvis_texture"), after.summary, "a")
    comparison = compare_sessions(session(before), session(after))
    drop = comparison.change("pelvic_drop_deg")
    assert drop.verdict == "not compared"
    assert drop.reason is not None and "hip_landmarks before, pelvis_texture after" in drop.reason
    assert comparison.change("knee_fppa_deg").verdict == "no real change"
    same = compare_sessions(session(before), session(before))
    assert same.change("pelvic_drop_deg").verdict == "no real change"
