"""Entry points the CLI calls: write a session's report, and find the bundled demo clips."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gaitcheck.errors import InputError
from gaitcheck.report.session import AnalysisLike

if TYPE_CHECKING:
    from gaitcheck.findings import RuleSet

DEMO_CLIPS = ("demo_rear.mp4", "demo_side.mp4")


def write_session_report(
    analyses: Sequence[AnalysisLike],
    outdir: str | os.PathLike[str],
    *,
    rules: RuleSet | None = None,
    runner_name: str | None = None,
    notes: str | None = None,
    force: bool = False,
    tables: bool = True,
    key_frames: bool = True,
    created: dt.datetime | None = None,
) -> dict[str, Path]:
    """Findings, plan and the HTML/JSON report of one session (one or more clips) into ``outdir``.

    ``tables=False`` leaves strides.csv and summary.json to the caller (one-clip analyses
    write their own); with several clips the session tables are written here.
    """
    from gaitcheck.report.build import build_report
    from gaitcheck.report.html import write_report

    bundle = build_report(
        analyses,
        rules=rules,
        created=created or dt.datetime.now(dt.UTC),
        runner_name=runner_name,
        notes=notes,
        key_frames=key_frames,
    )
    return write_report(bundle, outdir, force=force, tables=tables)


def demo_clips(checkout: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The bundled rear and side sample clips of a source checkout.

    They live in ``sample_videos/`` of the repository (not in the installed wheel); the
    checkout is found from this package's location unless given.
    """
    root = Path(checkout) if checkout is not None else Path(__file__).resolve().parents[3]
    folder = root / "sample_videos"
    clips = tuple(folder / name for name in DEMO_CLIPS)
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        raise InputError(
            f"{', '.join(missing)}: demo clip(s) not found. The sample clips ship with the source repository, "
            "not the installed package: run `gaitcheck demo` from an editable install of a git checkout "
            "(pip install -e .), or analyse your own clips with `gaitcheck analyze REAR.mp4 SIDE.mp4 -o OUTDIR`"
        )
    return clips[0], clips[1]


def analyze_session(
    sources: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    view: str | None = None,
    setting: str | None = None,
    activity: str | None = None,
    height_cm: float | None = None,
    rules_path: str | os.PathLike[str] | None = None,
    runner_name: str | None = None,
    notes: str | None = None,
    force: bool = False,
    report: bool = True,
    overlay: bool = False,
    progress: bool = False,
) -> tuple[list[AnalysisLike], dict[str, Path]]:
    """Analyse one clip, or a rear and a side clip of the same session, and write the outputs.

    One clip: strides.csv and summary.json as :func:`gaitcheck.pipeline.write_outputs` writes
    them, plus report.html and report.json. Two clips: the session's merged summary and
    combined strides table, plus the report. ``overlay`` adds ``overlay_<video>.mp4`` per clip:
    the clip with the skeleton and the running values drawn. ``progress`` shows a progress bar
    while a video's pose is extracted.
    """
    from gaitcheck import pipeline
    from gaitcheck.findings import load_rules

    rules = load_rules(rules_path)  # a bad rules file or output folder fails before the slow analysis
    pipeline.check_outdir(outdir, force=force)
    if not 1 <= len(sources) <= 2:
        raise InputError(f"give one or two clips (rear and side of the same run), got {len(sources)}")
    if len(sources) == 2 and view is not None:
        raise InputError(
            f"--view {view}: applies to a single clip; with two clips each clip's view is detected "
            "(film one straight from behind and one exactly side-on), or analyse them one at a time"
        )
    analyses: list[AnalysisLike] = [
        pipeline.analyze_source(
            source, view=view, setting=setting, activity=activity, height_cm=height_cm, progress=progress
        )
        for source in sources
    ]
    paths: dict[str, Path] = {}
    if len(analyses) == 1:
        paths.update(pipeline.write_outputs(analyses[0], outdir, force=force))  # type: ignore[arg-type]
        force = True  # the folder was checked (empty, or --force) by write_outputs
    if report or len(analyses) > 1:
        paths.update(
            write_session_report(
                analyses,
                outdir,
                rules=rules,
                runner_name=runner_name,
                notes=notes,
                force=force,
                tables=len(analyses) > 1,
                key_frames=report,
            )
        )
    if overlay:
        paths.update(write_overlays(analyses, outdir, force=force))
    return analyses, paths


def write_overlays(
    analyses: Sequence[AnalysisLike], outdir: str | os.PathLike[str], *, force: bool = False
) -> dict[str, Path]:
    """An annotated overlay video per clip, ``overlay_<video name>.mp4`` in ``outdir``."""
    from gaitcheck.report.build import video_for
    from gaitcheck.report.overlay import write_overlay_video

    paths: dict[str, Path] = {}
    for analysis in analyses:
        video = video_for(analysis)
        if video is None:
            raise InputError(
                f"{analysis.source}: --video needs the original clip, which was not found (for a saved track, "
                "keep the video where it was extracted from; for a truth file, beside it)"
            )
        target = Path(outdir) / f"overlay_{video.stem}.mp4"
        if target.exists() and not force:
            raise InputError(f"{target}: already exists; choose another -o OUTDIR or pass --force to overwrite")
        summary = analysis.summary
        paths[f"overlay_{video.stem}"] = write_overlay_video(
            video,
            analysis.track,
            analysis.stances,
            str(summary.get("classification", {}).get("view", "")),
            summary.get("clip", {}).get("leg_length_px"),
            target,
        )
    return paths
