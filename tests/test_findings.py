"""Findings: rules as data, levels, uncertainty, quality flags, asymmetry, overrides.

Analytic fixtures give summaries whose verdict follows from the shipped thresholds by
hand; the acceptance tests use summaries built from gaitsynth truth files (true per-stance
values run through gaitcheck.summary.summarize, see conftest.summary_from_truth).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gaitcheck.errors import InputError
from gaitcheck.findings import evaluate, load_rules

CITATION = re.compile(r"([A-Z][a-z]+)(?: et al\.| & ([A-Z][a-z]+))? ((?:19|20)\d\d)")
SCIENCE_MD = Path(__file__).resolve().parents[2] / "shared" / "docs" / "SCIENCE.md"


def _stats(mean: float, half_width: float | None = 1.0, n: int = 10) -> dict[str, Any]:
    ci = None if half_width is None else [mean - half_width, mean + half_width]
    return {"mean": mean, "sd": 1.0, "median": mean, "ci95": ci, "n": n}


def _summary(metric: str, flag: str = "ok", reasons: tuple[str, ...] = (), **sides: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = dict(sides)
    entry["quality"] = {"flag": flag, "reasons": list(reasons)}
    return {"classification": {"view": "rear"}, "metrics": {metric: entry}}


def _by_rule(evaluation: Any, rule_id: str, side: str) -> Any:
    matches = [a for a in evaluation.assessments if a.rule_id == rule_id and a.side == side]
    assert len(matches) == 1
    return matches[0]


def test_defaults_load_and_every_rule_names_its_source() -> None:
    rules = load_rules()
    assert {r.id for r in rules.level_rules} >= {"pelvic_drop", "knee_valgus", "overstride", "shank_forward"}
    for rule in (*rules.level_rules, *rules.asymmetry_rules):
        assert rule.source.strip() and rule.basis_note.strip() and rule.meaning.strip()
        if rule.basis == "convention":
            assert "no published" in rule.basis_note.lower() or "gaitcheck" in rule.basis_note.lower()


def test_rule_sources_are_named_in_science_notes() -> None:
    """Every author-year a rule cites is one of the sources SCIENCE.md names."""
    if not SCIENCE_MD.is_file():
        pytest.skip(f"{SCIENCE_MD} not found (../shared beside the checkout)")
    science = SCIENCE_MD.read_text(encoding="utf-8")
    rules = load_rules()
    cited = 0
    for rule in (*rules.level_rules, *rules.asymmetry_rules):
        for author, coauthor, year in CITATION.findall(rule.source):
            name = f"{author} & {coauthor}" if coauthor else author
            assert f"{name} {year}" in science, f"rule {rule.id} cites {name} {year}, not in SCIENCE.md"
            cited += 1
    assert cited >= 8


def test_marked_pelvic_drop_with_tight_ci_is_present() -> None:
    summary = _summary("pelvic_drop_deg", left=_stats(12.0, 1.0), right=_stats(3.0, 1.0))
    result = evaluate(summary)
    left = _by_rule(result, "pelvic_drop", "left")
    assert (left.level, left.status, left.confirmed_level) == ("marked", "present", "marked")
    assert left.threshold == 9.0 and left.value == 12.0 and left.ci95 == (11.0, 13.0)
    assert "Bramah" in left.source
    assert _by_rule(result, "pelvic_drop", "right").level == "typical"
    asym = _by_rule(result, "pelvic_drop", "both")
    assert asym.kind == "asymmetry" and asym.weaker_side == "left" and asym.value == pytest.approx(9.0)


def test_ci_straddling_threshold_is_possible_not_present() -> None:
    # mean 9.5 is past "marked" (9) but the CI reaches down to 7.5: only "elevated" is certain
    result = evaluate(_summary("pelvic_drop_deg", left=_stats(9.5, 2.0), right=_stats(9.5, 2.0)))
    left = _by_rule(result, "pelvic_drop", "left")
    assert (left.level, left.status, left.confirmed_level) == ("marked", "possible", "elevated")
    # mean 6.5 just past "elevated", CI down to 4.5: typical cannot be excluded
    result = evaluate(_summary("pelvic_drop_deg", left=_stats(6.5, 2.0), right=_stats(1.0)))
    left = _by_rule(result, "pelvic_drop", "left")
    assert (left.level, left.status, left.confirmed_level) == ("elevated", "possible", "typical")


def test_missing_ci_cannot_confirm() -> None:
    result = evaluate(_summary("knee_fppa_deg", left=_stats(14.0, None, n=1), right=_stats(2.0)))
    left = _by_rule(result, "knee_valgus", "left")
    assert left.status == "possible" and any("confidence interval" in note for note in left.notes)


def test_low_cadence_uses_the_lower_bound_direction() -> None:
    summary = {"metrics": {"cadence_spm": {"overall": _stats(148.0, 1.0), "quality": {"flag": "ok", "reasons": []}}}}
    finding = _by_rule(evaluate(summary), "low_cadence", "overall")
    assert (finding.level, finding.status) == ("marked", "present")
    summary["metrics"]["cadence_spm"]["overall"] = _stats(172.0, 2.0)
    assert _by_rule(evaluate(summary), "low_cadence", "overall").level == "typical"
    assert not evaluate(summary).findings


def test_unreliable_metric_gives_no_finding_and_says_why() -> None:
    summary = _summary(
        "knee_fppa_deg", "unreliable", ("camera is well off the rear axis",), left=_stats(20.0), right=_stats(20.0)
    )
    result = evaluate(summary)
    assert not result.findings
    reasons = [s.reason for s in result.skipped if s.metric == "knee_fppa_deg"]
    assert reasons and all("unreliable" in r and "off the rear axis" in r for r in reasons)


def test_limited_quality_keeps_the_finding_with_a_note() -> None:
    summary = _summary("pelvic_drop_deg", "limited", ("only 5 left stance(s)",), left=_stats(12.0), right=_stats(12.0))
    left = _by_rule(evaluate(summary), "pelvic_drop", "left")
    assert left.is_finding and left.quality_flag == "limited"
    assert any("only 5 left stance" in note for note in left.notes)


def test_metric_not_in_summary_is_reported_as_not_measured() -> None:
    result = evaluate({"metrics": {}})
    assert not result.assessments
    overstride = [s for s in result.skipped if s.rule_id == "overstride"]
    assert overstride and "side view" in overstride[0].reason


def test_findings_serialise_to_json() -> None:
    result = evaluate(_summary("pelvic_drop_deg", left=_stats(12.0), right=_stats(3.0)))
    text = json.dumps(result.to_dict())
    loaded = json.loads(text)
    assert loaded["findings"][0]["rule_id"] == "pelvic_drop"
    assert loaded["findings"][0]["ci95"] == [11.0, 13.0]


def test_user_rules_override_defaults(tmp_path: Path) -> None:
    override = tmp_path / "strict.toml"
    override.write_text("[level.pelvic_drop]\nelevated = 4.0\nmarked = 5.0\n", encoding="utf-8")
    rules = load_rules(override)
    assert rules.level_rule("pelvic_drop").elevated == 4.0
    assert rules.level_rule("knee_valgus").elevated == load_rules().level_rule("knee_valgus").elevated
    assert str(override) in rules.origin
    summary = _summary("pelvic_drop_deg", left=_stats(5.5, 0.2), right=_stats(1.0))
    assert _by_rule(evaluate(summary), "pelvic_drop", "left").level == "typical"
    assert _by_rule(evaluate(summary, rules), "pelvic_drop", "left").level == "marked"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[level.pelvic_drop]\nmarked = 3.0\n", "must lie beyond 'elevated'"),
        ("[level.pelvic_drop]\ncolour = 'red'\n", "unknown field"),
        ("[level.new_rule]\nmetric = 'x_deg'\n", "lacks"),
        ("[level.pelvic_drop\n", "not valid TOML"),
    ],
)
def test_bad_rules_file_names_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match) as info:
        load_rules(path)
    assert str(path) in str(info.value)


def test_missing_rules_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rules file not found"):
        load_rules(tmp_path / "absent.toml")


# ---------------------------------------------------------------- acceptance on true values


def _finding_rules(summary: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.rule_id, f.status) for f in evaluate(summary).findings}


def test_marked_pelvic_drop_clip_gives_pelvic_drop_finding(truth_summary: Any) -> None:
    findings = evaluate(truth_summary("rear_drop12")).findings
    drop = [f for f in findings if f.rule_id == "pelvic_drop" and f.kind == "level"]
    assert {f.side for f in drop} == {"left", "right"}
    assert any(f.level == "marked" and f.status == "present" for f in drop)


def test_asymmetric_drop_clip_names_the_right_side_weaker(truth_summary: Any) -> None:
    # left stance 4 deg, right stance 10 deg: weak right hip abductors
    findings = evaluate(truth_summary("rear_drop_asym_L4_R10")).findings
    asym = [f for f in findings if f.kind == "asymmetry" and f.rule_id == "pelvic_drop"]
    assert len(asym) == 1 and asym[0].weaker_side == "right" and asym[0].status == "present"


def test_valgus_clip_gives_knee_valgus_finding(truth_summary: Any) -> None:
    findings = evaluate(truth_summary("rear_valgus15")).findings
    valgus = {(f.side, f.level, f.status) for f in findings if f.rule_id == "knee_valgus"}
    assert valgus == {("left", "marked", "present"), ("right", "marked", "present")}
    assert not [f for f in findings if f.category == "pelvic_drop"]


def test_overstride_clip_gives_overstride_finding(truth_summary: Any) -> None:
    found = _finding_rules(truth_summary("side_land30_cad155"))
    assert ("overstride", "present") in found and ("shank_forward", "present") in found
    assert ("low_cadence", "present") in found


@pytest.mark.parametrize("clip", ["rear_drop00_valgus00", "side_land05_cad190"])
def test_clean_runner_gives_no_finding(truth_summary: Any, clip: str) -> None:
    result = evaluate(truth_summary(clip))
    assert result.assessments, "the clean clip must still be judged"
    assert not result.findings
