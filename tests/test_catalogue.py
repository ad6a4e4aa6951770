"""The exercise catalogue: complete entries, and every exercise traceable to a source article."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaitcheck.findings import load_rules
from gaitcheck.plan import load_catalogue

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

#: exercise id -> (article id, words the article uses for it). The catalogue's prose is
#: gaitcheck's own; this table proves each entry comes from the named article.
SEED_PHRASES = {
    "glute_bridge": ("seed000", "glute bridges"),
    "side_lying_clam": ("seed000", "side-lying clams"),
    "standing_hip_abduction": ("seed000", "standing hip abductions"),
    "single_leg_balance": ("seed000", "single-leg stands"),
    "hip_ankle_mobility": ("seed001", "mobility work for hips and ankles"),
    "hip_flexion_march": ("seed000", "marches with hip flexion"),
    "hip_hinge": ("seed000", "hip hinge variations"),
    "side_lying_leg_lift_er": ("seed000", "side-lying leg lifts into slight external rotation"),
    "band_lateral_walk": ("seed001", "lateral walks"),
    "side_lying_resisted_hip_extension": ("seed001", "side-lying hip extensions with a resistance band"),
    "standing_resisted_kick": ("seed001", "standing resisted kicks"),
    "weighted_hip_thrust": ("seed000", "weighted hip thrusts"),
    "band_monster_walk": ("seed000", "monster walks"),
    "single_leg_rdl": ("seed000", "single-leg RDLs"),
    "step_down": ("seed000", "step-downs"),
    "resisted_hip_abduction": ("seed000", "resisted hip abduction"),
    "kneeling_resisted_hip_extension": ("seed001", "resisted hip extension from a tall kneeling position"),
    "kneeling_resisted_hip_flexion": ("seed001", "resisted hip flexion in a kneeling position"),
    "resisted_leg_hike": ("seed001", "resisted leg hikes"),
    "resisted_scissors": ("seed001", "resisted scissors"),
    "banded_rdl": ("seed001", "resistance-band Romanian deadlift"),
    "pelvis_steady_gait_work": ("seed000", "gait work with cues to keep the pelvis steady"),
    "hip_control_strides": ("seed000", "gentle strides that emphasize smooth hip control"),
    "hip_extension_strides": ("seed000", "strides that finish with efficient hip extension"),
    "band_interval_bursts": ("seed001", "short, controlled bursts with banded resistance"),
}


def test_every_entry_is_complete() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.exercises) >= 20
    for exercise in catalogue.exercises:
        assert exercise.name and exercise.targets, exercise.id
        assert exercise.dosage.text, exercise.id
        assert exercise.dosage.reps or exercise.dosage.hold_s or exercise.dosage.sets is None, exercise.id
        assert exercise.cues and all(c.strip() for c in exercise.cues), exercise.id
        assert exercise.phases and set(exercise.phases) <= set(catalogue.phases), exercise.id
        assert exercise.progression and exercise.regression and exercise.equipment, exercise.id
        assert exercise.source.article in catalogue.sources, exercise.id
        assert exercise.source.part.strip(), exercise.id


def test_ids_are_unique_and_all_are_traced() -> None:
    ids = [e.id for e in load_catalogue().exercises]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(SEED_PHRASES), "add every new exercise to SEED_PHRASES with the article's words"


def test_addresses_name_known_finding_categories() -> None:
    categories = {r.category for r in load_rules().level_rules} | {"general"}
    catalogue = load_catalogue()
    for exercise in catalogue.exercises:
        assert set(exercise.addresses) <= categories, exercise.id
    for category in categories - {"general"}:
        assert any(category in e.addresses for e in catalogue.exercises), f"nothing addresses {category}"


def test_phases_follow_the_article() -> None:
    catalogue = load_catalogue()
    assert sorted(catalogue.phases) == [1, 2, 3, 4, 5]
    for phase in catalogue.phases.values():
        assert phase.source.startswith("seed000")


@pytest.mark.parametrize("exercise_id", sorted(SEED_PHRASES))
def test_exercise_is_in_its_source_article(exercise_id: str) -> None:
    files = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    if len(files) < 2:
        pytest.skip(f"source articles not found in {SEEDS} (../shared beside the checkout)")
    catalogue = load_catalogue()
    texts = {f"seed{int(path.name[:3]):03d}": path.read_text(encoding="utf-8") for path in files}
    article, phrase = SEED_PHRASES[exercise_id]
    exercise = catalogue.by_id(exercise_id)
    assert exercise.source.article == article
    assert phrase.lower() in texts[article].lower()
    # the catalogue's title for the article is the article's own first line
    assert texts[article].splitlines()[0].startswith(catalogue.sources[article]["title"][:60])
