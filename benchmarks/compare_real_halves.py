"""Null check on real footage: the first half of a real clip's stances against the second half.

The same runner on the same treadmill a few seconds apart should show no real change. Runs the
pose model (about 30 s on 2 cores for the 12 s clip):

    nice -n 10 python benchmarks/compare_real_halves.py [VIDEO]

Default VIDEO: ../shared/data/videos/zzzhushi_male_side.mp4. Prints every overall row and the
verdict counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from gaitcheck.compare import Session, compare_sessions
from gaitcheck.pipeline import analyze_source

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "zzzhushi_male_side.mp4"
COLUMNS = ["metric", "before_n", "before_mean", "before_sd", "after_mean", "difference", "p_welch_holm", "srd"]


def main() -> None:
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VIDEO
    analysis = analyze_source(video, workers=1)
    strides = analysis.strides
    cut_s = float(strides["ic_time_s"].median())
    first = strides[strides["ic_time_s"] < cut_s].reset_index(drop=True)
    second = strides[strides["ic_time_s"] >= cut_s].reset_index(drop=True)
    comparison = compare_sessions(
        Session.of(first, analysis.summary, "first half"), Session.of(second, analysis.summary, "second half")
    )
    table = comparison.to_frame()
    pd.set_option("display.width", 250)
    print(f"{video.name}: stances before {cut_s:.2f} s vs after")
    print(table[table["side"] == "overall"][[*COLUMNS, "srd_basis", "verdict"]].round(3).to_string(index=False))
    print("verdicts:", comparison.verdict_counts())


if __name__ == "__main__":
    main()
