"""The hip-strengthening plan built from the findings.

The exercises and phases come from the catalogue ``gaitcheck/rules/exercises.toml``, which
follows two source articles (ids ``seed000`` and ``seed001``, titles in the catalogue).
:func:`build_plan` is pure: findings + summary + today's date in, a frozen :class:`Plan` out.

How findings shape the plan:

* any finding -> start at phase 1 (activation), choose exercises that address the finding
  categories; no finding -> the maintenance phase;
* pelvic drop -> hip abductor work; knee valgus / hip adduction -> abductors and external
  rotators with knee-alignment cues; overstride or low cadence -> a step-rate cue of +5-10%
  (Heiderscheit 2011, Bramah 2019) and hip extension work; crossover -> abductor work;
* a left/right difference -> one extra set on the weaker side in one-sided exercises
  (a gaitcheck convention: the articles do not give a rule for sides);
* 2-3 hip sessions a week with a day between hard sessions, 8-12 reps, reassessment 4-6
  weeks out (the articles).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from gaitcheck.findings import Evaluation, Finding

PLAN_FORMAT = "gaitcheck-plan/1"
MAX_EXERCISES_PER_PHASE = 6
EXTRA_SETS_WEAKER_SIDE = 1
CADENCE_INCREASE_PCT = (5.0, 10.0)
REASSESS_AFTER_DAYS = (28, 42)

#: Finding category -> catalogue categories whose exercises answer it.
_FOCUS_EXERCISES: Mapping[str, tuple[str, ...]] = {
    "pelvic_drop": ("pelvic_drop",),
    "knee_valgus": ("knee_valgus",),
    "crossover": ("crossover", "pelvic_drop"),
    "overstride": ("overstride",),
    "low_cadence": ("overstride", "low_cadence"),
}
#: Finding category -> camera view that measures it.
_VIEW_FOR_CATEGORY: Mapping[str, str] = {
    "pelvic_drop": "rear",
    "knee_valgus": "rear",
    "crossover": "rear",
    "overstride": "side",
    "low_cadence": "side",
}


# ---------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Source:
    """Where an exercise comes from: an article id of the catalogue and the passage."""

    article: str
    part: str


@dataclass(frozen=True)
class Dosage:
    """How much: always a text; sets/reps/hold_s as ranges ("8-12") where they apply."""

    text: str
    sets: str | None = None
    reps: str | None = None
    hold_s: str | None = None


@dataclass(frozen=True)
class Exercise:
    """One catalogue entry."""

    id: str
    name: str
    targets: tuple[str, ...]
    addresses: tuple[str, ...]
    phases: tuple[int, ...]
    equipment: str
    unilateral: bool
    dosage: Dosage
    cues: tuple[str, ...]
    progression: str
    regression: str
    source: Source


@dataclass(frozen=True)
class Phase:
    """One phase of the programme as the catalogue describes it."""

    number: int
    name: str
    goal: str
    source: str
    advance_when: str


@dataclass(frozen=True)
class Catalogue:
    """The exercise catalogue: articles, phases and exercises."""

    sources: Mapping[str, Mapping[str, str]]
    phases: Mapping[int, Phase]
    exercises: tuple[Exercise, ...]

    def by_id(self, exercise_id: str) -> Exercise:
        """The exercise with this id (KeyError if there is none)."""
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(f"no exercise {exercise_id!r} in the catalogue")


def parse_catalogue(data: Mapping[str, Any]) -> Catalogue:
    """Build a :class:`Catalogue` from the parsed layout of ``exercises.toml``."""
    phases = {
        int(number): Phase(
            number=int(number),
            name=table["name"],
            goal=table["goal"],
            source=table["source"],
            advance_when=table["advance_when"],
        )
        for number, table in data["phases"].items()
    }
    exercises = tuple(
        Exercise(
            id=exercise_id,
            name=table["name"],
            targets=tuple(table["targets"]),
            addresses=tuple(table["addresses"]),
            phases=tuple(int(p) for p in table["phases"]),
            equipment=table["equipment"],
            unilateral=bool(table["unilateral"]),
            dosage=Dosage(**table["dosage"]),
            cues=tuple(table["cues"]),
            progression=table["progression"],
            regression=table["regression"],
            source=Source(**table["source"]),
        )
        for exercise_id, table in data["exercises"].items()
    )
    return Catalogue(sources=dict(data["sources"]), phases=phases, exercises=exercises)


@cache
def load_catalogue() -> Catalogue:
    """The shipped exercise catalogue."""
    text = resources.files("gaitcheck.rules").joinpath("exercises.toml").read_text(encoding="utf-8")
    return parse_catalogue(tomllib.loads(text))


# ---------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class PlannedExercise:
    """An exercise as prescribed: dosage, cues, and why it is in the plan."""

    exercise_id: str
    name: str
    dosage: str
    cues: tuple[str, ...]
    progression: str
    regression: str
    equipment: str
    targets: tuple[str, ...]
    addresses: tuple[str, ...]
    emphasis: str | None
    source: Source


@dataclass(frozen=True)
class PhaseBlock:
    """The exercises of one phase of this runner's plan."""

    number: int
    name: str
    goal: str
    advance_when: str
    source: str
    exercises: tuple[PlannedExercise, ...]


@dataclass(frozen=True)
class Guidance:
    """A cue or rule with the reason for it and its source."""

    text: str
    reason: str
    source: str


@dataclass(frozen=True)
class ScheduleDay:
    day: str
    activity: str


@dataclass(frozen=True)
class Reassessment:
    """When to check again, what to film, and how."""

    earliest: dt.date
    latest: dt.date
    film_views: tuple[str, ...]
    how_to_film: tuple[str, ...]
    also_check: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Plan:
    """A runner's plan. ``kind`` is "targeted" (findings) or "maintenance" (none)."""

    kind: str
    created: dt.date
    focus: tuple[str, ...]
    weaker_side: Mapping[str, str]
    starting_phase: int
    start_note: str
    phases: tuple[PhaseBlock, ...]
    weekly_schedule: tuple[ScheduleDay, ...]
    session_structure: tuple[Guidance, ...]
    running_cues: tuple[Guidance, ...]
    cadence_target_spm: tuple[int, int] | None
    safety: tuple[Guidance, ...]
    reassessment: Reassessment
    sources: Mapping[str, Mapping[str, str]]

    @property
    def current_phase(self) -> PhaseBlock:
        """The phase the runner starts with."""
        return self.phases[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (dates as ISO strings)."""
        out = asdict(self)
        out["format"] = PLAN_FORMAT
        out["created"] = self.created.isoformat()
        out["reassessment"]["earliest"] = self.reassessment.earliest.isoformat()
        out["reassessment"]["latest"] = self.reassessment.latest.isoformat()
        out["cadence_target_spm"] = list(self.cadence_target_spm) if self.cadence_target_spm else None
        out["weaker_side"] = dict(self.weaker_side)
        out["sources"] = {k: dict(v) for k, v in self.sources.items()}
        return _lists(out)


def _lists(value: Any) -> Any:
    """Tuples -> lists, recursively, so the dict matches its JSON form exactly."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def _weaker_sides(findings: Iterable[Finding]) -> dict[str, str]:
    """Category -> weaker side, from asymmetry findings (the strongest finding wins)."""
    rank = {"marked": 2, "elevated": 1, "typical": 0}
    weaker: dict[str, tuple[int, str]] = {}
    for finding in findings:
        if finding.kind != "asymmetry" or finding.weaker_side is None:
            continue
        score = rank[finding.level]
        if finding.category not in weaker or score > weaker[finding.category][0]:
            weaker[finding.category] = (score, finding.weaker_side)
    return {category: side for category, (_, side) in weaker.items()}


def _prescribe(exercise: Exercise, focus_targets: Sequence[str], weaker: Mapping[str, str]) -> PlannedExercise:
    emphasis = None
    if exercise.unilateral:
        sides = sorted({weaker[c] for c in exercise.addresses if c in weaker})
        if len(sides) == 1:
            extra = "one extra set" if EXTRA_SETS_WEAKER_SIDE == 1 else f"{EXTRA_SETS_WEAKER_SIDE} extra sets"
            emphasis = f"{extra} on the {sides[0]} side (the weaker side in this analysis)"
    return PlannedExercise(
        exercise_id=exercise.id,
        name=exercise.name,
        dosage=exercise.dosage.text,
        cues=exercise.cues,
        progression=exercise.progression,
        regression=exercise.regression,
        equipment=exercise.equipment,
        targets=exercise.targets,
        addresses=tuple(c for c in exercise.addresses if c in focus_targets) or exercise.addresses,
        emphasis=emphasis,
        source=exercise.source,
    )


def _choose(catalogue: Catalogue, phase: int, focus_targets: Sequence[str]) -> list[Exercise]:
    """Exercises of a phase: first one per finding category (so every finding gets its own
    work), then those answering the most categories, then general hip work."""
    in_phase = [e for e in catalogue.exercises if phase in e.phases and e.id != "hip_ankle_mobility"]
    if not focus_targets:
        return in_phase[:MAX_EXERCISES_PER_PHASE]
    targets = set(focus_targets)

    def score(exercise: Exercise) -> int:
        return len(targets & set(exercise.addresses))

    ranked = sorted(in_phase, key=lambda e: -score(e))  # stable: catalogue order breaks ties
    chosen: list[Exercise] = []
    for target in focus_targets:
        best = next((e for e in ranked if target in e.addresses and e not in chosen), None)
        if best is not None:
            chosen.append(best)
    chosen += [e for e in ranked if score(e) > 0 and e not in chosen]
    chosen += [e for e in in_phase if "general" in e.addresses and e not in chosen]
    return chosen[:MAX_EXERCISES_PER_PHASE]


def _cadence_mean(summary: Mapping[str, Any]) -> float | None:
    stats = (summary.get("metrics", {}) or {}).get("cadence_spm", {}) or {}
    overall = stats.get("overall") or {}
    mean = overall.get("mean")
    if isinstance(mean, int | float) and not isinstance(mean, bool) and math.isfinite(mean) and mean > 0:
        return float(mean)
    return None


def filming_instructions() -> tuple[str, ...]:
    """How to film a clip gaitcheck can measure well (also used by the report)."""
    return (
        "Film at 60 frames per second or more: at 30 fps a ground contact spans only about 7 frames.",
        "Keep the camera level and still (tripod or a steady shelf) at about hip height; a tilted camera "
        "shifts every angle by the tilt.",
        "Film straight from behind (pelvis and knees) and exactly side-on (landing and step rate); an "
        "oblique camera distorts the knee angle.",
        "Stand far enough back that the whole body, feet included, stays in the frame all the time.",
        "Wear fitted shorts and a top that leave the hips and knees visible, and use good, even light.",
        "Record at least 20 seconds of steady running so that 7 or more steps per side can be averaged.",
        "Use the same treadmill speed, shoes and camera position as last time so results compare.",
    )


def build_plan(findings: Evaluation | Iterable[Finding], summary: Mapping[str, Any], *, today: dt.date) -> Plan:
    """Build the runner's plan from the findings.

    Parameters
    ----------
    findings : output of :func:`gaitcheck.findings.evaluate`, or its findings.
    summary : the summary dict (used for the current cadence).
    today : the plan's start date (passed in so the function stays pure).

    Returns
    -------
    Plan: "targeted" when there are findings, otherwise "maintenance".
    """
    catalogue = load_catalogue()
    if isinstance(findings, Evaluation):
        findings = findings.findings
    findings = tuple(f for f in findings if f.is_finding)
    focus = tuple(sorted({f.category for f in findings}))
    focus_targets = tuple(
        dict.fromkeys(target for category in focus for target in _FOCUS_EXERCISES.get(category, (category,)))
    )
    weaker = _weaker_sides(findings)
    targeted = bool(findings)

    if targeted:
        phase_numbers: tuple[int, ...] = (1, 2, 3, 4)
        start_note = (
            "Start with phase 1 (activation). If you already do this kind of work regularly, without pain and "
            "with a level pelvis and the knee over the second toe, you may begin at phase 2. Move on only when "
            "the 'advance when' condition of a phase is met."
        )
    else:
        phase_numbers = (5,)
        start_note = (
            "No finding stood out, so the plan keeps what works: short hip sessions around steady running. "
            "If weakness or pain appears, go back to the phase 1 habits."
        )
    phases = tuple(
        PhaseBlock(
            number=number,
            name=catalogue.phases[number].name,
            goal=catalogue.phases[number].goal,
            advance_when=catalogue.phases[number].advance_when,
            source=catalogue.phases[number].source,
            exercises=tuple(_prescribe(e, focus_targets, weaker) for e in _choose(catalogue, number, focus_targets)),
        )
        for number in phase_numbers
    )

    hip_day = "Hip session (targeted exercises of your current phase)" if targeted else "Short hip session"
    schedule = (
        ScheduleDay("Monday", hip_day),
        ScheduleDay("Tuesday", "Easy run or cross-training that does not tire the hips"),
        ScheduleDay("Wednesday", "Rest or easy run"),
        ScheduleDay("Thursday", hip_day),
        ScheduleDay("Friday", "Easy run or rest"),
        ScheduleDay("Saturday", "Harder or longer run (at least 48 h after the last hard session)"),
        ScheduleDay("Sunday", "Rest, or an optional third short band session as a warm-up before an easy run"),
    )
    session = (
        Guidance(
            "Begin with 5-10 minutes of general activation and dynamic hip and ankle mobility.",
            "prepares the muscles and keeps the hips and ankles moving freely",
            "seed001",
        ),
        Guidance(
            "Do 8-12 slow, controlled reps per exercise (or 10-12 s holds) with short rests; quality over load.",
            "precise reps train the movement pattern that carries over to running",
            "seed001",
        ),
        Guidance(
            "Finish with a few minutes of mobility.",
            "keeps range of motion and limits soreness before the next run",
            "seed001",
        ),
        Guidance(
            "Two hip sessions a week (a third short band session is optional), with at least one day between "
            "intense sessions and 48 hours between high-intensity runs.",
            "tissues adapt between sessions",
            "seed000 (calendar); seed001 (training cadence and recovery)",
        ),
        Guidance(
            "Progress by adding reps, longer sets or slightly stronger bands, a little at a time; log effort, "
            "reps and how the hips feel after runs.",
            "gradual overload with honest tracking",
            "seed000 (phase three progression, tracking); seed001 (increase resistance gradually)",
        ),
    )

    cues: list[Guidance] = []
    cadence_now = _cadence_mean(summary)
    cadence_target: tuple[int, int] | None = None
    if "pelvic_drop" in focus:
        cues.append(
            Guidance(
                "Keep the hips level as each foot lands.",
                "your pelvis dropped on the swing side during stance",
                "seed000 (phase four cues); seed001 (keep the pelvis level)",
            )
        )
    if "knee_valgus" in focus:
        cues.append(
            Guidance(
                "Guide the knee over the second toe; do not let it collapse inward.",
                "your knee moved inside the hip-ankle line in stance",
                "seed001 (knee in line with the second toe); seed000 (minimise knee valgus)",
            )
        )
    if "crossover" in focus:
        cues.append(
            Guidance(
                "Let each foot land under its own hip rather than across the midline.",
                "your feet landed across the body's midline",
                "gaitcheck convention (no article cue for crossover; SCIENCE notes link crossover to IT-band trouble)",
            )
        )
    if {"overstride", "low_cadence"} & set(focus):
        if cadence_now is not None:
            low, high = (round(cadence_now * (1 + pct / 100)) for pct in CADENCE_INCREASE_PCT)
            cadence_target = (low, high)
            text = (
                f"Raise your step rate by 5-10% at the same speed: from about {cadence_now:.0f} to "
                f"{low}-{high} steps per minute (start at the low end)."
            )
        else:
            text = "Raise your step rate by 5-10% at the same speed (start at 5%)."
        cues.append(
            Guidance(
                text,
                "a 5-10% higher cadence lands the foot closer to the body and lowers hip and knee loading; +10% "
                "also reduced pelvic drop and hip adduction",
                "Heiderscheit et al. 2011; Bramah et al. 2019; Lieberman et al. 2015",
            )
        )
        cues.append(
            Guidance(
                "Land with the foot under your centre of gravity and finish each push-off with the hip extended, "
                "upright and relaxed.",
                "your heel landed far ahead of the body or your shin reached forward",
                "seed000 (phase four cues)",
            )
        )
    if not cues:
        cues.append(
            Guidance(
                "Keep the hips level, the knee over the second toe and a steady step rate.",
                "maintenance cues for a gait without findings",
                "seed000 (phase four and maintenance); seed001 (cues)",
            )
        )

    safety = (
        Guidance(
            "Stop any exercise that causes pain and switch to a gentler variation (the regression).",
            "pain is a signal to change the load",
            "seed001",
        ),
        Guidance(
            "If pain spikes, scale back at once and return to the activation work.",
            "pushing through pain delays progress",
            "seed000 (phase three)",
        ),
        Guidance(
            "If symptoms last more than 48 hours, reduce intensity, return to mobility work and see a clinician.",
            "persistent symptoms need a professional assessment",
            "seed000 (phase four)",
        ),
        Guidance(
            "Pause and reset as soon as technique slips.",
            "tired reps rehearse the wrong pattern",
            "seed001",
        ),
        Guidance(
            "Check bands for wear, pick a resistance that suits you, and do not over-stretch them.",
            "a snapping or too-strong band causes compensations or strains",
            "seed001 (safety)",
        ),
        Guidance(
            "This plan is not medical advice. If you have pain now, see a clinician before starting.",
            "gaitcheck measures movement from video; it cannot diagnose",
            "gaitcheck",
        ),
    )

    if targeted:
        views = tuple(sorted({_VIEW_FOR_CATEGORY.get(c, "rear") for c in focus}, key=("rear", "side").index))
    else:
        views = ("rear", "side")
    reassessment = Reassessment(
        earliest=today + dt.timedelta(days=REASSESS_AFTER_DAYS[0]),
        latest=today + dt.timedelta(days=REASSESS_AFTER_DAYS[1]),
        film_views=views,
        how_to_film=filming_instructions(),
        also_check=(
            "Single-leg balance: how long you can stand steadily on each leg.",
            "Hip abduction strength with the knee kept in line.",
            "Whether the pelvis feels more controlled when you run.",
        ),
        source="seed000 (assess every 4-6 weeks); filming advice: gaitcheck SCIENCE notes",
    )

    return Plan(
        kind="targeted" if targeted else "maintenance",
        created=today,
        focus=focus,
        weaker_side=weaker,
        starting_phase=phase_numbers[0],
        start_note=start_note,
        phases=phases,
        weekly_schedule=schedule,
        session_structure=session,
        running_cues=tuple(cues),
        cadence_target_spm=cadence_target,
        safety=safety,
        reassessment=reassessment,
        sources=catalogue.sources,
    )
