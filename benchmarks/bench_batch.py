"""Batch throughput: frames/s of `gaitcheck.batch` versus the same clips one after another.

    python benchmarks/bench_batch.py [CLIP ...]   (default: every clip in ../shared/data/synthetic)

The baseline is the plainest way to process the clips: one process, one clip after the
other, each doing exactly a batch job's work (single-threaded extraction, the analysis with
the pelvis-texture pass on rear/front videos, strides.csv and summary.json written). The
batch runs the same clips with its default local pool (one clip per core). Neither uses the
track cache (a fresh cache folder per run), so both pay for pose estimation on every frame.
Prints both figures and the ratio.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from gaitcheck import batching, pipeline
from gaitcheck.pose.model import resolve_model

SYNTHETIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic"


def sequential(clips: list[Path], outdir: Path) -> tuple[int, float]:
    """Frames and seconds for the same work as a batch job (extraction, analysis including the
    pelvis-texture pass on rear/front videos, outputs written), one clip after another."""
    frames = 0
    start = time.perf_counter()
    for clip in clips:
        analysis = pipeline.analyze_source(clip, workers=1, progress=False)
        pipeline.write_outputs(analysis, outdir / clip.stem)
        frames += analysis.track.n_frames
    return frames, time.perf_counter() - start


def batched(clips: list[Path], outdir: Path) -> tuple[int, float]:
    """Frames and seconds for the same clips through the batch's default local pool."""
    start = time.perf_counter()
    tables = batching.run_batch([str(c) for c in clips], outdir)
    elapsed = time.perf_counter() - start
    failed = tables.clips[tables.clips["status"] != "ok"]
    if len(failed):
        print(failed[["path", "error"]].to_string(), file=sys.stderr)
    return int(tables.clips["n_frames"].sum()), elapsed


def main() -> None:
    clips = [Path(p) for p in sys.argv[1:]] or sorted(SYNTHETIC.glob("*.mp4"))
    if not clips:
        sys.exit(f"no clips given and none found in {SYNTHETIC}")
    os.environ["GAITCHECK_MODEL"] = str(resolve_model())
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAITCHECK_CACHE_DIR"] = str(Path(tmp) / "cache-sequential")
        n_seq, t_seq = sequential(clips, Path(tmp) / "sequential")
        os.environ["GAITCHECK_CACHE_DIR"] = str(Path(tmp) / "cache-batch")
        n_batch, t_batch = batched(clips, Path(tmp) / "batch")
    print(f"clips: {len(clips)}, cores: {os.cpu_count()}")
    print(f"one after another, single process: {n_seq} frames in {t_seq:.1f} s = {n_seq / t_seq:.1f} frames/s")
    print(f"gaitcheck batch (local pool):       {n_batch} frames in {t_batch:.1f} s = {n_batch / t_batch:.1f} frames/s")
    print(f"speed-up: {(n_batch / t_batch) / (n_seq / t_seq):.2f}x")


if __name__ == "__main__":
    main()
