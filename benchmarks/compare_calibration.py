"""How often does `gaitcheck compare` call a change real when there is none, and how often does it
find one that is there?  Prints figures; run with

    nice -n 10 python benchmarks/compare_calibration.py [--pairs 400] [--gaitsynth ../shared/tools/gaitsynth.py]

Part 1 (analytic strides, fast): a rear-view session of 12 stances per side with normally
scattered metrics (stride SDs as gaitsynth's variability gives) is compared with an independent
copy of itself (null) and with copies whose pelvic drop is lower by 1-7 deg (power). Reported:
the share of session pairs with at least one "real" row (family-wise false alarms), with and
without the Holm adjustment and the smallest-real-difference condition, and the share of pairs
whose overall pelvic drop is called "improved".

Part 2 (gaitsynth truth replays through analyze_track, ~5 s per clip): one fixed runner
(parameters resolved from seed 11, as in tests/test_compare.py) against the same runner with
other seeds (null), and with pelvic drop 5 instead of 12 deg.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gaitcheck.compare import ChangeRules, Session, compare_sessions, load_change_rules

MEANS = {
    "pelvic_drop_deg": 12.0,
    "hip_adduction_deg": 10.0,
    "knee_fppa_deg": 6.0,
    "step_width_pct_leg": 5.0,
    "cadence_spm": 170.0,
    "contact_time_s": 0.25,
    "vertical_oscillation_pct_leg": 9.0,
}
STRIDE_SD = {
    "pelvic_drop_deg": 0.6,
    "hip_adduction_deg": 0.8,
    "knee_fppa_deg": 0.6,
    "step_width_pct_leg": 0.8,
    "cadence_spm": 2.5,
    "contact_time_s": 0.008,
    "vertical_oscillation_pct_leg": 0.4,
}
SUMMARY = {"classification": {"view": "rear", "oblique": False, "activity": "running"}, "clip": {"fps": 60.0}}


def analytic_session(rng: np.random.Generator, drop_shift_deg: float = 0.0, n_per_side: int = 12) -> Session:
    n = 2 * n_per_side
    table: dict[str, Any] = {"side": np.tile(["left", "right"], n_per_side), "complete": np.ones(n, dtype=bool)}
    for name, mean in MEANS.items():
        shift = drop_shift_deg if name == "pelvic_drop_deg" else 0.0
        table[name] = mean + shift + STRIDE_SD[name] * rng.standard_normal(n)
    return Session.of(pd.DataFrame(table), SUMMARY)


def part_analytic(pairs: int, rules: ChangeRules) -> None:
    rng = np.random.default_rng(2026)
    alpha = rules.alpha
    any_real = any_raw = any_holm_only = 0
    rows_total = rows_real = 0
    for _ in range(pairs):
        comparison = compare_sessions(analytic_session(rng), analytic_session(rng), rules)
        frame = comparison.to_frame()
        rows_total += len(frame)
        real = frame["verdict"].isin(["improved", "worse", "changed"])
        rows_real += int(real.sum())
        any_real += bool(real.any())
        any_raw += bool((frame["p_welch"] < alpha).any())
        any_holm_only += bool((frame["p_welch_holm"] < alpha).any())
    print(f"[analytic null] {pairs} pairs of identical sessions, {rows_total // pairs} rows each:")
    print(f"  pairs with >= 1 raw Welch p < {alpha}:          {100 * any_raw / pairs:5.1f}%")
    print(f"  pairs with >= 1 Holm-adjusted p < {alpha}:      {100 * any_holm_only / pairs:5.1f}%")
    print(f"  pairs with >= 1 'real' change (gaitcheck):  {100 * any_real / pairs:5.1f}%")
    print(f"  rows called real: {rows_real} of {rows_total}")
    print("[analytic power] overall pelvic drop called 'improved' (12 stances per side, stride SD 0.6 deg):")
    for shift in (-1.0, -2.0, -3.0, -4.0, -5.0, -7.0):
        hits = sum(
            compare_sessions(analytic_session(rng), analytic_session(rng, shift), rules)
            .change("pelvic_drop_deg")
            .verdict
            == "improved"
            for _ in range(max(pairs // 4, 25))
        )
        print(f"  drop {shift:+.0f} deg: {100 * hits / max(pairs // 4, 25):5.1f}%")


def part_gaitsynth(tool: Path, seeds: range, rules: ChangeRules) -> None:
    spec = importlib.util.spec_from_file_location("gaitsynth", tool)
    assert spec is not None and spec.loader is not None
    gaitsynth = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gaitsynth
    spec.loader.exec_module(gaitsynth)
    from gaitcheck.pipeline import analyze_track
    from gaitcheck.pose.replay import track_from_truth

    base = gaitsynth.resolve_params(
        gaitsynth.params_from_dict(
            {
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
        )
    )

    def session(seed: int, **changes: Any) -> Session:
        params = dataclasses.replace(base, seed=seed, **changes)
        analysis = analyze_track(track_from_truth(gaitsynth.Clip(params).truth(f"seed{seed}")), view=params.view)
        return Session.of(analysis.strides, analysis.summary, label=f"seed{seed}")

    start = time.perf_counter()
    reference = session(11)
    real_rows, total_rows = 0, 0
    for seed in seeds:
        frame = compare_sessions(reference, session(seed), rules).to_frame()
        real = frame[frame["verdict"].isin(["improved", "worse", "changed"])]
        real_rows += len(real)
        total_rows += len(frame)
        note = ", ".join(f"{r.metric}/{r.side} {r.verdict}" for r in real.itertuples()) or "none"
        print(f"[gaitsynth null] seed 11 vs {seed}: real changes: {note}")
    print(f"[gaitsynth null] {real_rows} of {total_rows} rows called real")
    frame = compare_sessions(reference, session(12, pelvic_drop_l_deg=5.0, pelvic_drop_r_deg=5.0), rules).to_frame()
    drop = frame[frame["metric"] == "pelvic_drop_deg"]
    for row in drop.itertuples():
        print(
            f"[gaitsynth drop 12 -> 5] {row.side}: {row.before_mean:.2f} -> {row.after_mean:.2f} deg, "
            f"diff {row.difference:+.2f} (95% CI {row.ci95_low:+.2f} to {row.ci95_high:+.2f}), {row.verdict}"
        )
    others = frame[(frame["metric"] != "pelvic_drop_deg") & (frame["verdict"] != "no real change")]
    print("[gaitsynth drop 12 -> 5] other rows not 'no real change':", sorted(set(others["metric"])) or "none")
    print(f"[gaitsynth] {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument(
        "--gaitsynth", type=Path, default=Path(__file__).resolve().parents[2] / "shared/tools/gaitsynth.py"
    )
    parser.add_argument("--null-seeds", type=int, default=8, help="gaitsynth seeds compared with seed 11")
    args = parser.parse_args()
    rules = load_change_rules()
    part_analytic(args.pairs, rules)
    if args.gaitsynth.is_file():
        part_gaitsynth(args.gaitsynth, range(12, 12 + args.null_seeds), rules)
    else:
        print(f"gaitsynth not found at {args.gaitsynth}; part 2 skipped")


if __name__ == "__main__":
    main()
