"""The plan: phases and exercises from the findings, schedule, cues, safety, reassessment."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from gaitcheck.findings import evaluate
from gaitcheck.plan import build_plan, load_catalogue

TODAY = dt.date(2026, 3, 2)


def _stats(mean: float, half_width: float = 1.0, n: int = 10) -> dict[str, Any]:
    return {"mean": mean, "sd": 1.0, "median": mean, "ci95": [mean - half_width, mean + half_width], "n": n}


def _metric(left: float, right: float) -> dict[str, Any]:
    return {"left": _stats(left), "right": _stats(right), "quality": {"flag": "ok", "reasons": []}}


def _plan(metrics: dict[str, Any]) -> Any:
    summary = {"metrics": metrics}
    return build_plan(evaluate(summary), summary, today=TODAY)


def _all_exercises(plan: Any) -> list[Any]:
    return [e for phase in plan.phases for e in phase.exercises]


def test_pelvic_drop_gives_hip_abductor_work_from_phase_one() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(11.0, 10.5)})
    assert plan.kind == "targeted" and plan.starting_phase == 1 and plan.focus == ("pelvic_drop",)
    first = plan.current_phase.exercises
    assert first and all("pelvic_drop" in e.addresses for e in first[:3])
    assert all(any("gluteus medius" in t for t in e.targets) for e in first[:3])
    assert [p.number for p in plan.phases] == [1, 2, 3, 4]
    assert any("hips level" in c.text.lower() for c in plan.running_cues)
    assert plan.cadence_target_spm is None


def test_valgus_gives_abductors_rotators_and_knee_alignment_cues() -> None:
    plan = _plan({"knee_fppa_deg": _metric(14.0, 13.0)})
    assert plan.focus == ("knee_valgus",)
    exercises = _all_exercises(plan)
    assert any("external rotators" in " ".join(e.targets) for e in exercises)
    loaded = [e for e in exercises if "knee_valgus" in e.addresses and not e.name.startswith("Side-lying")]
    assert loaded and all("second toe" in " ".join(e.cues) for e in loaded)
    assert any("second toe" in c.text for c in plan.running_cues)


def test_overstride_gives_cadence_target_and_hip_extension_work() -> None:
    summary = {
        "metrics": {
            "heel_ahead_pct_leg": _metric(31.0, 30.0),
            "cadence_spm": {"overall": _stats(160.0), "quality": {"flag": "ok", "reasons": []}},
        }
    }
    plan = build_plan(evaluate(summary), summary, today=TODAY)
    assert plan.focus == ("overstride",)
    assert plan.cadence_target_spm == (168, 176)  # 160 * 1.05 and 160 * 1.10
    cadence_cue = [c for c in plan.running_cues if "step rate" in c.text]
    assert cadence_cue and "168-176" in cadence_cue[0].text and "Heiderscheit" in cadence_cue[0].source
    assert any("gluteus maximus" in e.targets for e in _all_exercises(plan))


def test_low_cadence_alone_triggers_the_cadence_cue() -> None:
    summary = {"metrics": {"cadence_spm": {"overall": _stats(148.0), "quality": {"flag": "ok", "reasons": []}}}}
    plan = build_plan(evaluate(summary), summary, today=TODAY)
    assert plan.focus == ("low_cadence",) and plan.cadence_target_spm == (155, 163)


def test_asymmetry_puts_an_extra_set_on_the_weaker_side() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(4.0, 11.0)})
    assert plan.weaker_side == {"pelvic_drop": "right"}
    one_sided = [e for e in _all_exercises(plan) if e.emphasis]
    assert one_sided and all("extra set on the right side" in e.emphasis for e in one_sided)
    catalogue = load_catalogue()
    assert all(catalogue.by_id(e.exercise_id).unilateral for e in one_sided)
    assert all(e.emphasis is None for e in _all_exercises(plan) if not catalogue.by_id(e.exercise_id).unilateral)


def test_no_findings_gives_a_maintenance_plan() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(2.0, 2.5), "knee_fppa_deg": _metric(1.0, 1.5)})
    assert plan.kind == "maintenance" and plan.starting_phase == 5 and plan.focus == ()
    assert [p.number for p in plan.phases] == [5] and plan.current_phase.exercises
    assert plan.reassessment.film_views == ("rear", "side")


def test_schedule_has_two_hip_days_apart() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(11.0, 10.5)})
    hip_days = [i for i, day in enumerate(plan.weekly_schedule) if day.activity.startswith("Hip session")]
    assert len(plan.weekly_schedule) == 7 and len(hip_days) == 2
    assert all(b - a >= 2 for a, b in itertools.pairwise(hip_days))
    assert any("8-12" in g.text for g in plan.session_structure)


def test_safety_rules_and_reassessment_window() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(11.0, 10.5)})
    safety = " ".join(g.text for g in plan.safety)
    assert "pain" in safety and "48 hours" in safety and "clinician" in safety and "not medical advice" in safety
    assert plan.reassessment.earliest == TODAY + dt.timedelta(weeks=4)
    assert plan.reassessment.latest == TODAY + dt.timedelta(weeks=6)
    assert plan.reassessment.film_views == ("rear",)
    assert any("60 frames per second" in line for line in plan.reassessment.how_to_film)


def test_every_guidance_line_names_a_source() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(11.0, 4.0), "heel_ahead_pct_leg": _metric(30.0, 30.0)})
    for guidance in (*plan.session_structure, *plan.running_cues, *plan.safety):
        assert guidance.source.strip() and guidance.reason.strip()
    for exercise in _all_exercises(plan):
        assert exercise.source.article in plan.sources


def test_plan_serialises_to_json() -> None:
    plan = _plan({"pelvic_drop_deg": _metric(11.0, 4.0)})
    loaded = json.loads(json.dumps(plan.to_dict()))
    assert loaded["format"] == "gaitcheck-plan/1"
    assert loaded["reassessment"]["earliest"] == "2026-03-30"
    assert loaded["phases"][0]["exercises"][0]["cues"]


# ---------------------------------------------------------------- acceptance on true values


def _truth_plan(truth_summary: Any, clip: str) -> Any:
    summary = truth_summary(clip)
    return build_plan(evaluate(summary), summary, today=TODAY)


def test_marked_pelvic_drop_clip_plan(truth_summary: Any) -> None:
    plan = _truth_plan(truth_summary, "rear_drop12")
    assert plan.kind == "targeted" and "pelvic_drop" in plan.focus
    assert any("pelvic_drop" in e.addresses for e in plan.current_phase.exercises)


def test_valgus_clip_plan(truth_summary: Any) -> None:
    plan = _truth_plan(truth_summary, "rear_valgus15")
    assert plan.focus == ("knee_valgus",)


def test_overstride_clip_plan(truth_summary: Any) -> None:
    plan = _truth_plan(truth_summary, "side_land30_cad155")
    assert {"overstride", "low_cadence"} <= set(plan.focus)
    assert plan.cadence_target_spm is not None
    low, high = plan.cadence_target_spm
    assert 160 <= low < high <= 175  # 155.8 steps/min raised by 5-10%
    assert plan.reassessment.film_views == ("side",)


def test_clean_clip_plan_is_maintenance(truth_summary: Any) -> None:
    assert _truth_plan(truth_summary, "rear_drop00_valgus00").kind == "maintenance"


# ------------------------------------------- acceptance on truth-replay analyses (real pipeline)


@pytest.mark.parametrize(
    ("clip", "kind", "must_focus", "must_not_focus"),
    [
        ("rear_drop12", "targeted", {"pelvic_drop"}, set()),
        ("rear_valgus15", "targeted", {"knee_valgus"}, {"pelvic_drop"}),
        ("side_land30_cad155", "targeted", {"overstride", "low_cadence"}, set()),
        ("rear_drop00_valgus00", "maintenance", set(), set()),
        ("side_land05_cad190", "maintenance", set(), set()),
    ],
)
def test_plan_from_pipeline_on_truth_replay(
    shared_data: Path, clip: str, kind: str, must_focus: set[str], must_not_focus: set[str]
) -> None:
    """Exact landmarks of each render through gaitcheck's own classification, cleaning, event
    detection, metrics and summary, then findings and plan."""
    from gaitcheck.pipeline import analyze_source

    summary = analyze_source(shared_data / "synthetic" / f"{clip}.truth.json").summary
    plan = build_plan(evaluate(summary), summary, today=TODAY)
    assert plan.kind == kind
    assert must_focus <= set(plan.focus) and not must_not_focus & set(plan.focus)


def test_every_finding_category_gets_its_own_exercise_in_every_phase() -> None:
    plan = _plan(
        {
            "pelvic_drop_deg": _metric(11.0, 10.5),
            "knee_fppa_deg": _metric(14.0, 13.0),
            "heel_ahead_pct_leg": _metric(30.0, 30.0),
        }
    )
    catalogue = load_catalogue()
    for phase in plan.phases:
        for category in ("pelvic_drop", "knee_valgus", "overstride"):
            available = any(phase.number in e.phases and category in e.addresses for e in catalogue.exercises)
            if available:
                assert any(category in e.addresses for e in phase.exercises), (phase.number, category)
