"""Findings: metric values judged against thresholds kept as data.

The thresholds live in ``gaitcheck/rules/findings.toml``; each names its source and says
whether the cut-off is published or a gaitcheck convention. Users override any field with
their own TOML file in the same layout (:func:`load_rules`).

:func:`evaluate` is pure: it takes a summary dict (``summary.json``, see
:mod:`gaitcheck.summary`) and a :class:`RuleSet` and returns an :class:`Evaluation`
holding one :class:`Finding` per judged metric and side (typical ones too, so a report can
show every value against its band) and the rules it could not apply, with the reason.

Uncertainty and quality are part of the verdict:

* the level (typical / elevated / marked) follows the mean; the finding is ``"present"``
  only when the whole 95% confidence interval lies beyond that level's threshold,
  otherwise ``"possible"``;
* a metric whose quality flag is ``"unreliable"`` yields no finding, only a skipped entry
  saying why; ``"limited"`` keeps the finding and notes the reasons.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from gaitcheck.errors import InputError

Level = Literal["typical", "elevated", "marked"]
Status = Literal["present", "possible", "absent"]

LEVELS: tuple[Level, ...] = ("typical", "elevated", "marked")
RULES_FORMAT_VERSION = 1
_Z95 = 1.959963984540054

_LEVEL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "metric": str,
    "title": str,
    "category": str,
    "sides": list,
    "direction": str,
    "elevated": (int, float),
    "marked": (int, float),
    "unit": str,
    "reference_band": list,
    "basis": str,
    "source": str,
    "basis_note": str,
    "meaning": str,
    "needs_view": str,
}
_ASYMMETRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "metric": str,
    "title": str,
    "category": str,
    "worse": str,
    "elevated": (int, float),
    "marked": (int, float),
    "unit": str,
    "basis": str,
    "source": str,
    "basis_note": str,
    "meaning": str,
}


# ---------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class LevelRule:
    """Thresholds for one metric judged on its own (per side or overall)."""

    id: str
    metric: str
    title: str
    category: str
    sides: tuple[str, ...]
    direction: Literal["above", "below"]
    elevated: float
    marked: float
    unit: str
    reference_band: tuple[float, float]
    basis: Literal["published", "convention"]
    source: str
    basis_note: str
    meaning: str
    needs_view: str

    def threshold(self, level: Level) -> float:
        """The threshold a value must pass to reach ``level`` ("elevated" or "marked")."""
        return self.elevated if level == "elevated" else self.marked


@dataclass(frozen=True)
class AsymmetryRule:
    """Thresholds for the left-right difference of one metric."""

    id: str
    metric: str
    title: str
    category: str
    worse: Literal["higher", "lower"]
    elevated: float
    marked: float
    unit: str
    basis: Literal["published", "convention"]
    source: str
    basis_note: str
    meaning: str


@dataclass(frozen=True)
class RuleSet:
    """All finding rules in force, and where they came from."""

    level_rules: tuple[LevelRule, ...]
    asymmetry_rules: tuple[AsymmetryRule, ...]
    version: int = RULES_FORMAT_VERSION
    origin: str = "gaitcheck defaults"

    def level_rule(self, rule_id: str) -> LevelRule:
        """The level rule with this id (KeyError if there is none)."""
        for rule in self.level_rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"no level rule {rule_id!r}")


def _check_fields(
    table: Mapping[str, Any], fields: Mapping[str, type | tuple[type, ...]], where: str, origin: str
) -> None:
    missing = [name for name in fields if name not in table]
    if missing:
        raise InputError(f"{origin}: rule {where} lacks {', '.join(missing)}; every rule needs {', '.join(fields)}")
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise InputError(
            f"{origin}: rule {where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(fields)}"
        )
    for name, kind in fields.items():
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise InputError(f"{origin}: rule {where} field {name!r} has the wrong type ({type(value).__name__})")


def _parse_level_rule(rule_id: str, table: Mapping[str, Any], origin: str) -> LevelRule:
    where = f"[level.{rule_id}]"
    _check_fields(table, _LEVEL_FIELDS, where, origin)
    direction = table["direction"]
    if direction not in ("above", "below"):
        raise InputError(f"{origin}: {where} direction must be 'above' or 'below', got {direction!r}")
    elevated, marked = float(table["elevated"]), float(table["marked"])
    if (direction == "above" and marked < elevated) or (direction == "below" and marked > elevated):
        raise InputError(
            f"{origin}: {where} 'marked' ({marked}) must lie beyond 'elevated' ({elevated}) "
            f"in the direction {direction!r}"
        )
    sides = tuple(table["sides"])
    if not sides or not set(sides) <= {"left", "right", "overall"}:
        raise InputError(f"{origin}: {where} sides must be a non-empty list of left/right/overall, got {list(sides)}")
    band = table["reference_band"]
    if len(band) != 2:
        raise InputError(f"{origin}: {where} reference_band must be [low, high], got {band}")
    if table["basis"] not in ("published", "convention"):
        raise InputError(f"{origin}: {where} basis must be 'published' or 'convention', got {table['basis']!r}")
    return LevelRule(
        id=rule_id,
        metric=table["metric"],
        title=table["title"],
        category=table["category"],
        sides=sides,
        direction=direction,
        elevated=elevated,
        marked=marked,
        unit=table["unit"],
        reference_band=(float(band[0]), float(band[1])),
        basis=table["basis"],
        source=table["source"],
        basis_note=table["basis_note"],
        meaning=table["meaning"],
        needs_view=table["needs_view"],
    )


def _parse_asymmetry_rule(rule_id: str, table: Mapping[str, Any], origin: str) -> AsymmetryRule:
    where = f"[asymmetry.{rule_id}]"
    _check_fields(table, _ASYMMETRY_FIELDS, where, origin)
    if table["worse"] not in ("higher", "lower"):
        raise InputError(f"{origin}: {where} worse must be 'higher' or 'lower', got {table['worse']!r}")
    elevated, marked = float(table["elevated"]), float(table["marked"])
    if not 0 <= elevated <= marked:
        raise InputError(f"{origin}: {where} needs 0 <= elevated <= marked, got {elevated} and {marked}")
    if table["basis"] not in ("published", "convention"):
        raise InputError(f"{origin}: {where} basis must be 'published' or 'convention', got {table['basis']!r}")
    return AsymmetryRule(
        id=rule_id,
        metric=table["metric"],
        title=table["title"],
        category=table["category"],
        worse=table["worse"],
        elevated=elevated,
        marked=marked,
        unit=table["unit"],
        basis=table["basis"],
        source=table["source"],
        basis_note=table["basis_note"],
        meaning=table["meaning"],
    )


def parse_rules(data: Mapping[str, Any], origin: str = "gaitcheck defaults") -> RuleSet:
    """Build a :class:`RuleSet` from the parsed TOML layout of ``findings.toml``.

    Raises :class:`InputError` naming ``origin`` when a rule is incomplete or inconsistent.
    """
    version = data.get("version", RULES_FORMAT_VERSION)
    if version != RULES_FORMAT_VERSION:
        raise InputError(f"{origin}: rules format version {version!r}, this gaitcheck reads {RULES_FORMAT_VERSION}")
    unknown = sorted(set(data) - {"version", "level", "asymmetry"})
    if unknown:
        raise InputError(f"{origin}: unknown top-level table(s) {', '.join(unknown)}; use [level.ID] or [asymmetry.ID]")
    levels = tuple(_parse_level_rule(rid, table, origin) for rid, table in data.get("level", {}).items())
    asymmetries = tuple(_parse_asymmetry_rule(rid, table, origin) for rid, table in data.get("asymmetry", {}).items())
    return RuleSet(level_rules=levels, asymmetry_rules=asymmetries, version=version, origin=origin)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def default_rules_data() -> dict[str, Any]:
    """The shipped ``findings.toml`` parsed into a dict."""
    text = resources.files("gaitcheck.rules").joinpath("findings.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_rules(override_path: str | os.PathLike[str] | None = None) -> RuleSet:
    """The default rules, with the fields of a user TOML file merged over them.

    The override file uses the layout of the defaults; a table may hold only the fields it
    changes (``[level.pelvic_drop]`` / ``elevated = 5.0``). New rule ids must give every field.
    """
    data = default_rules_data()
    if override_path is None:
        return parse_rules(data)
    path = Path(override_path)
    try:
        override = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: rules file not found; pass an existing TOML file to --rules") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); fix the file or leave out --rules") from exc
    return parse_rules(_merge(data, override), origin=f"gaitcheck defaults + {path}")


# ---------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One metric (or left-right difference) judged against its rule.

    ``level`` follows the mean; ``status`` is "present" when the whole 95% CI lies beyond
    the level's threshold, "possible" when the CI straddles it, "absent" for typical values.
    ``confirmed_level`` is the level the whole CI reaches. Values are in ``unit``.
    """

    rule_id: str
    kind: Literal["level", "asymmetry"]
    category: str
    metric: str
    side: str
    title: str
    level: Level
    status: Status
    confirmed_level: Level
    value: float
    ci95: tuple[float, float] | None
    n: int | None
    threshold: float | None
    elevated: float
    marked: float
    direction: str
    unit: str
    reference_band: tuple[float, float] | None
    basis: str
    source: str
    basis_note: str
    meaning: str
    quality_flag: str = "ok"
    notes: tuple[str, ...] = ()
    weaker_side: str | None = None
    side_values: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_finding(self) -> bool:
        """True when the value is beyond the elevated threshold (present or possible)."""
        return self.level != "typical"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        out = asdict(self)
        out["ci95"] = list(self.ci95) if self.ci95 is not None else None
        out["reference_band"] = list(self.reference_band) if self.reference_band is not None else None
        out["notes"] = list(self.notes)
        out["side_values"] = dict(self.side_values)
        return out


@dataclass(frozen=True)
class SkippedRule:
    """A rule that could not be applied, and why (shown in the report)."""

    rule_id: str
    metric: str
    side: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate` concluded from one summary."""

    assessments: tuple[Finding, ...]
    skipped: tuple[SkippedRule, ...]
    rules_origin: str
    rules_version: int

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Assessments beyond the elevated threshold, marked first, then present before possible."""
        rank = {"marked": 0, "elevated": 1}
        found = [a for a in self.assessments if a.is_finding]
        return tuple(sorted(found, key=lambda f: (rank[f.level], f.status != "present")))

    def categories(self) -> set[str]:
        """Finding categories (pelvic_drop, knee_valgus, overstride, ...) with a finding."""
        return {f.category for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules_origin": self.rules_origin,
            "rules_version": self.rules_version,
            "findings": [f.to_dict() for f in self.findings],
            "assessments": [a.to_dict() for a in self.assessments],
            "skipped": [s.to_dict() for s in self.skipped],
        }


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _ci(stats: Mapping[str, Any]) -> tuple[float, float] | None:
    raw = stats.get("ci95")
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    lo, hi = _finite(raw[0]), _finite(raw[1])
    if lo is None or hi is None:
        return None
    return (min(lo, hi), max(lo, hi))


def _level_of(value: float, rule: LevelRule | AsymmetryRule, direction: str) -> Level:
    def beyond(threshold: float) -> bool:
        return value > threshold if direction == "above" else value < threshold

    if beyond(rule.marked):
        return "marked"
    if beyond(rule.elevated):
        return "elevated"
    return "typical"


def _status(level: Level, confirmed: Level) -> Status:
    if level == "typical":
        return "absent"
    return "present" if confirmed == level else "possible"


def _quality(entry: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    quality = entry.get("quality") or {}
    flag = str(quality.get("flag", "ok"))
    reasons = tuple(str(r) for r in quality.get("reasons", ()) or ())
    return flag, reasons


def _judge_level(rule: LevelRule, side: str, stats: Mapping[str, Any], flag: str, reasons: tuple[str, ...]) -> Finding:
    mean = _finite(stats.get("mean"))
    assert mean is not None  # checked by the caller
    ci = _ci(stats)
    n_raw = stats.get("n")
    n = int(n_raw) if isinstance(n_raw, int | float) and not isinstance(n_raw, bool) else None
    level = _level_of(mean, rule, rule.direction)
    notes: list[str] = []
    if ci is None:
        notes.append("no confidence interval available (too few strides); the finding cannot be confirmed")
        confirmed: Level = "typical"
    else:
        # the CI bound nearest to typical decides what is certain
        cautious = ci[0] if rule.direction == "above" else ci[1]
        confirmed = _level_of(cautious, rule, rule.direction)
    if flag == "limited":
        notes.append("measurement quality limited: " + ("; ".join(reasons) or "see capture notes"))
    return Finding(
        rule_id=rule.id,
        kind="level",
        category=rule.category,
        metric=rule.metric,
        side=side,
        title=rule.title,
        level=level,
        status=_status(level, confirmed),
        confirmed_level=confirmed,
        value=mean,
        ci95=ci,
        n=n,
        threshold=rule.threshold(level) if level != "typical" else None,
        elevated=rule.elevated,
        marked=rule.marked,
        direction=rule.direction,
        unit=rule.unit,
        reference_band=rule.reference_band,
        basis=rule.basis,
        source=rule.source,
        basis_note=rule.basis_note,
        meaning=rule.meaning,
        quality_flag=flag,
        notes=tuple(notes),
    )


def _side_se(stats: Mapping[str, Any]) -> float | None:
    ci = _ci(stats)
    return None if ci is None else (ci[1] - ci[0]) / (2 * _Z95)


def _judge_asymmetry(
    rule: AsymmetryRule, left: Mapping[str, Any], right: Mapping[str, Any], flag: str, reasons: tuple[str, ...]
) -> Finding:
    left_mean, right_mean = _finite(left.get("mean")), _finite(right.get("mean"))
    assert left_mean is not None and right_mean is not None  # checked by the caller
    difference = left_mean - right_mean
    size = abs(difference)
    level = _level_of(size, rule, "above")
    se_left, se_right = _side_se(left), _side_se(right)
    notes: list[str] = []
    ci: tuple[float, float] | None = None
    if se_left is None or se_right is None:
        notes.append("no confidence interval for one side; the difference cannot be confirmed")
        confirmed: Level = "typical"
    else:
        half_width = _Z95 * math.hypot(se_left, se_right)
        ci = (size - half_width, size + half_width)
        confirmed = _level_of(ci[0], rule, "above")
    if flag == "limited":
        notes.append("measurement quality limited: " + ("; ".join(reasons) or "see capture notes"))
    higher_side = "left" if difference > 0 else "right"
    lower_side = "right" if difference > 0 else "left"
    weaker = (higher_side if rule.worse == "higher" else lower_side) if level != "typical" else None
    return Finding(
        rule_id=rule.id,
        kind="asymmetry",
        category=rule.category,
        metric=rule.metric,
        side="both",
        title=rule.title,
        level=level,
        status=_status(level, confirmed),
        confirmed_level=confirmed,
        value=size,
        ci95=ci,
        n=None,
        threshold=rule.elevated if level == "elevated" else rule.marked if level == "marked" else None,
        elevated=rule.elevated,
        marked=rule.marked,
        direction="above",
        unit=rule.unit,
        reference_band=(0.0, rule.elevated),
        basis=rule.basis,
        source=rule.source,
        basis_note=rule.basis_note,
        meaning=rule.meaning,
        quality_flag=flag,
        notes=tuple(notes),
        weaker_side=weaker,
        side_values={"left": left_mean, "right": right_mean},
    )


def evaluate(summary: Mapping[str, Any], rules: RuleSet | None = None) -> Evaluation:
    """Judge every metric of a summary against the rules.

    Parameters
    ----------
    summary : the summary dict (``summary["metrics"][name][side]`` holds ``mean``, ``ci95``,
        ``n``; ``summary["metrics"][name]["quality"]`` holds ``flag`` and ``reasons``).
    rules : the rules in force; the shipped defaults when omitted.

    Returns
    -------
    Evaluation with one assessment per applicable rule and side, and the skipped rules.

    Examples
    --------
    >>> s = {"metrics": {"cadence_spm": {"overall": {"mean": 150.0, "ci95": [148.0, 152.0], "n": 20}}}}
    >>> [(f.rule_id, f.level, f.status) for f in evaluate(s).findings]
    [('low_cadence', 'elevated', 'present')]
    """
    rules = rules if rules is not None else load_rules()
    metrics: Mapping[str, Any] = summary.get("metrics", {}) or {}
    assessments: list[Finding] = []
    skipped: list[SkippedRule] = []

    for rule in rules.level_rules:
        entry = metrics.get(rule.metric)
        if entry is None:
            skipped.append(
                SkippedRule(
                    rule.id, rule.metric, "all", f"not measured in this analysis (needs a {rule.needs_view} view)"
                )
            )
            continue
        flag, reasons = _quality(entry)
        for side in rule.sides:
            stats = entry.get(side)
            if flag == "unreliable":
                why = "; ".join(reasons) or "no reason given"
                skipped.append(SkippedRule(rule.id, rule.metric, side, f"measurement flagged unreliable: {why}"))
                continue
            if not isinstance(stats, Mapping) or _finite(stats.get("mean")) is None:
                skipped.append(SkippedRule(rule.id, rule.metric, side, "no valid value for this side"))
                continue
            assessments.append(_judge_level(rule, side, stats, flag, reasons))

    for asym in rules.asymmetry_rules:
        entry = metrics.get(asym.metric)
        if entry is None:
            continue  # already reported by the level rule of the same metric, if any
        flag, reasons = _quality(entry)
        if flag == "unreliable":
            why = "; ".join(reasons) or "no reason given"
            skipped.append(SkippedRule(asym.id, asym.metric, "both", f"measurement flagged unreliable: {why}"))
            continue
        left, right = entry.get("left"), entry.get("right")
        if not (
            isinstance(left, Mapping)
            and isinstance(right, Mapping)
            and _finite(left.get("mean")) is not None
            and _finite(right.get("mean")) is not None
        ):
            skipped.append(SkippedRule(asym.id, asym.metric, "both", "needs valid values for both sides"))
            continue
        assessments.append(_judge_asymmetry(asym, left, right, flag, reasons))

    return Evaluation(
        assessments=tuple(assessments),
        skipped=tuple(skipped),
        rules_origin=rules.origin,
        rules_version=rules.version,
    )
