"""Batch processing: many clips to one tidy table, resumable, in parallel.

Every input clip becomes a :class:`ClipJob` with a content key (sha256 of the file, the
analysis settings, the model and the gaitcheck version). A job's results go to
``OUTDIR/clips/<clip_id>/``: the folder is assembled under a temporary name and renamed
into place only when the analysis and its ``batch_result.json`` are complete, so a run
killed at any moment loses no finished clip and leaves nothing half-written under a real
name. A rerun skips every clip whose folder holds a successful result with the same key,
and rebuilds the tables from all clip folders.

Jobs run on a local process pool by default (one clip per process, each process reusing
its pose model), or on an existing Dask distributed cluster with ``scheduler=ADDRESS``
(the workers must see the input and output paths, e.g. on a shared file system).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gaitcheck import __version__
from gaitcheck.errors import GaitcheckError, InputError
from gaitcheck.fileio import sha256_file, write_text_atomic

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"})
TRACK_SUFFIXES = frozenset({".parquet"})
RESULT_FILE = "batch_result.json"
CLIPS_DIR = "clips"
_TMP_MARK = ".partial-"
_PATH_COLUMNS = ("path", "video", "file")
_ANALYSIS_OPTIONS = ("view", "setting", "activity", "height_cm")


@dataclass(frozen=True)
class ClipJob:
    """One clip to analyse: where it is, what the researcher knows about it, its key."""

    clip_id: str
    path: str
    metadata: dict[str, Any]
    options: dict[str, Any]
    key: str
    input_error: str | None = None


@dataclass(frozen=True)
class ClipResult:
    """What one job produced: status, reason, timings and the clip's summary row."""

    clip_id: str
    path: str
    key: str
    status: str  # "ok" | "failed"
    error: str | None
    metadata: dict[str, Any]
    row: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    n_frames: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


@dataclass(frozen=True)
class BatchTables:
    """The batch's outputs as DataFrames (also written to OUTDIR)."""

    clips: Any  # pandas.DataFrame, one row per clip
    strides: Any  # pandas.DataFrame, one row per stride of every successful clip
    outdir: Path


# ---------------------------------------------------------------------------------- inputs


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _manifest_rows(manifest: Path) -> list[tuple[Path, dict[str, Any]]]:
    import pandas as pd

    try:
        table = pd.read_csv(manifest)
    except (OSError, ValueError) as exc:
        raise InputError(f"{manifest}: cannot read the manifest CSV ({exc})") from exc
    column = next((c for c in _PATH_COLUMNS if c in table.columns), None)
    if column is None:
        raise InputError(
            f"{manifest}: the manifest needs a column named 'path' with the clip files; found {list(table.columns)}"
        )
    rows = []
    for record in table.to_dict(orient="records"):
        raw = str(record.pop(column))
        path = Path(raw) if Path(raw).is_absolute() else manifest.parent / raw
        meta = {str(k): (None if pd.isna(v) else v) for k, v in record.items()}
        rows.append((path, meta))
    return rows


def collect_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, dict[str, Any]]]:
    """Expand folders (recursively, video files), globs and manifest CSVs into (path, metadata).

    A path that does not exist is kept: it becomes a failed row saying so, rather than
    stopping the batch. Duplicates (the same resolved file twice) are listed once.
    """
    found: list[tuple[Path, dict[str, Any]]] = []
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.suffix.lower() == ".csv" and path.is_file():
            found.extend(_manifest_rows(path))
        elif path.is_dir():
            found.extend((p, {}) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        elif _is_glob(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"{text}: the pattern matches no file")
            found.extend((p, {}) for p in matches if p.is_file())
        else:
            found.append((path, {}))
    unique: dict[Path, tuple[Path, dict[str, Any]]] = {}
    for path, meta in found:
        unique.setdefault(path.resolve(), (path, meta))
    return list(unique.values())


def _options_from(metadata: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Analysis options: manifest columns (view, setting, activity, height/height_cm) over defaults."""
    options = {k: v for k, v in defaults.items() if v is not None}
    if metadata.get("height") is not None and metadata.get("height_cm") is None:
        options["height_cm"] = float(metadata["height"])
    for name in _ANALYSIS_OPTIONS:
        value = metadata.get(name)
        if value is not None and value != "":
            options[name] = float(value) if name == "height_cm" else str(value)
    return options


def make_jobs(
    entries: Iterable[tuple[Path, dict[str, Any]]],
    *,
    defaults: dict[str, Any] | None = None,
    model_sha256: str = "",
) -> list[ClipJob]:
    """Give every input its clip id and content key (hashing each file once)."""
    jobs: list[ClipJob] = []
    used: set[str] = set()
    for path, metadata in entries:
        options = _options_from(metadata, defaults or {})
        error = None
        if not path.exists():
            digest, error = (
                hashlib.sha256(str(path).encode()).hexdigest(),
                f"{path}: file not found; check the path (a manifest's relative paths start at its folder)",
            )
        elif path.is_dir():
            digest, error = (
                hashlib.sha256(str(path).encode()).hexdigest(),
                f"{path}: is a folder, not a clip; list it as an input of its own to analyse the clips inside",
            )
        else:
            digest = sha256_file(path)
        settings = {"options": options, "model": model_sha256, "version": __version__, "content": digest}
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        clip_id = f"{path.stem}-{digest[:8]}"
        while clip_id in used:  # the same file listed under two sets of metadata
            clip_id = f"{clip_id}-{len(used)}"
        used.add(clip_id)
        jobs.append(ClipJob(clip_id, str(path), dict(metadata), options, key, error))
    return jobs


# ---------------------------------------------------------------------------------- one clip

Processor = Callable[[ClipJob, Path], dict[str, Any]]


def analyse_clip(job: ClipJob, workdir: Path) -> dict[str, Any]:
    """Analyse one clip into ``workdir`` (an analysis folder) and return its summary row."""
    from gaitcheck import pipeline

    analysis = pipeline.analyze_source(Path(job.path), progress=False, workers=1, **job.options)
    pipeline.write_outputs(analysis, workdir, force=True)
    return pipeline.summary_row(analysis)


def run_job(job: ClipJob, clips_dir: Path, processor: Processor = analyse_clip) -> ClipResult:
    """Run one job and publish its folder atomically; failures become a result, not an exception."""
    final = clips_dir / job.clip_id
    work = clips_dir / f"{_TMP_MARK}{job.clip_id}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start = time.perf_counter()
    row: dict[str, Any] = {}
    details = None
    try:
        if job.input_error:
            raise InputError(job.input_error)
        row = processor(job, work)
        status, error = "ok", None
    except GaitcheckError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # an unexpected bug must not stop the other clips
        status, error = "failed", f"{job.path}: internal error {type(exc).__name__}: {exc} (see traceback.txt)"
        details = traceback.format_exc()
    if status == "failed":  # keep no partial outputs of a failed clip, only the reason
        shutil.rmtree(work)
        work.mkdir()
        if details:
            (work / "traceback.txt").write_text(details, encoding="utf-8")
    elapsed = time.perf_counter() - start
    result = ClipResult(
        clip_id=job.clip_id,
        path=job.path,
        key=job.key,
        status=status,
        error=error,
        metadata=job.metadata,
        row=row,
        timings_s={"total_s": round(elapsed, 3)},
        n_frames=int(row.get("n_frames", 0) or 0),
    )
    write_text_atomic(work / RESULT_FILE, result.to_json())
    if final.exists():
        shutil.rmtree(final)
    os.replace(work, final)
    return result


def read_result(folder: Path) -> ClipResult | None:
    """The result stored in a clip folder, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
        return ClipResult(**data)
    except (OSError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------------- many clips


def _run_local(jobs: Sequence[ClipJob], clips_dir: Path, workers: int, processor: Processor) -> Iterator[ClipResult]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_job(job, clips_dir, processor)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_job, job, clips_dir, processor) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def _run_dask(jobs: Sequence[ClipJob], clips_dir: Path, scheduler: str, processor: Processor) -> Iterator[ClipResult]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise GaitcheckError(
            "running on a Dask cluster needs dask.distributed: pip install 'gaitcheck[cluster]'"
        ) from exc
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise GaitcheckError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); is it running?") from exc
    with client:
        futures = client.map(run_job, list(jobs), clips_dir=clips_dir, processor=processor, pure=False)
        for future in as_completed(futures):
            yield future.result()


def _provision_model(entries: Sequence[tuple[Path, dict[str, Any]]]) -> str:
    """Make sure the pose model is there once, before the workers start; return its sha256.

    Only needed when some input is a video (saved tracks and truth files need no model).
    """
    if not any(path.suffix.lower() in VIDEO_SUFFIXES for path, _ in entries):
        return ""
    from gaitcheck.pose.model import ensure_model

    return sha256_file(ensure_model(progress=False))


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    defaults: dict[str, Any] | None = None,
    model_sha256: str | None = None,
    processor: Processor = analyse_clip,
    on_result: Callable[[ClipResult, int, int], None] | None = None,
) -> BatchTables:
    """Analyse every clip named by ``inputs`` into ``outdir`` and build the tables.

    Parameters
    ----------
    inputs : folders, glob patterns, clip files, or manifest CSVs (a ``path`` column plus
        metadata columns such as subject, session, condition, view, height).
    outdir : the batch folder: ``clips/<clip_id>/``, the tables and ``overview.html``.
    scheduler : address of a Dask scheduler (``tcp://host:8786``); None runs locally. The
        workers find the pose model themselves (``gaitcheck model ensure`` on each machine,
        or ``GAITCHECK_MODEL``).
    model_sha256 : the pose model's sha256 for the content keys (default: provision the model
        and hash it when running locally).
    workers : local processes (default: one per core).
    on_result : called after each finished or skipped clip with (result, done, total).
    """
    outdir = Path(outdir)
    clips_dir = outdir / CLIPS_DIR
    clips_dir.mkdir(parents=True, exist_ok=True)
    for stale in clips_dir.glob(f"{_TMP_MARK}*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    entries = collect_inputs(inputs)
    if model_sha256 is None:
        model_sha256 = _provision_model(entries) if scheduler is None else ""
    jobs = make_jobs(entries, defaults=defaults, model_sha256=model_sha256)
    if not jobs:
        raise InputError(f"no clips found in {', '.join(map(str, inputs))}")
    results: dict[str, ClipResult] = {}
    todo: list[ClipJob] = []
    for job in jobs:
        previous = read_result(clips_dir / job.clip_id)
        if previous is not None and previous.status == "ok" and previous.key == job.key:
            results[job.clip_id] = dataclasses.replace(previous, path=job.path, metadata=job.metadata)
        else:
            todo.append(job)
    total = len(jobs)
    if on_result:
        for result in results.values():
            on_result(result, len(results), total)
    stream = (
        _run_dask(todo, clips_dir, scheduler, processor)
        if scheduler
        else _run_local(todo, clips_dir, workers or _default_workers(), processor)
    )
    for result in stream:
        results[result.clip_id] = result
        if on_result:
            on_result(result, len(results), total)
    ordered = [results[job.clip_id] for job in jobs]
    return write_tables(ordered, outdir)


# ---------------------------------------------------------------------------------- tables


def build_tables(results: Sequence[ClipResult], clips_dir: Path) -> tuple[Any, Any]:
    """(clips, strides) DataFrames from the results and the clip folders' strides.csv files."""
    import pandas as pd

    clip_rows = []
    stride_tables = []
    for result in results:
        base = {"clip_id": result.clip_id, "path": result.path, **result.metadata}
        clip_rows.append({**base, "status": result.status, "error": result.error, **result.row, **result.timings_s})
        strides_csv = clips_dir / result.clip_id / "strides.csv"
        if result.status == "ok" and strides_csv.is_file():
            strides = pd.read_csv(strides_csv)
            for column, value in reversed(list(base.items())):
                strides.insert(0, column, value)
            stride_tables.append(strides)
    clips = pd.DataFrame(clip_rows)
    strides = pd.concat(stride_tables, ignore_index=True) if stride_tables else pd.DataFrame()
    return clips, strides


def write_tables(results: Sequence[ClipResult], outdir: Path) -> BatchTables:
    """Write clips/strides as Parquet and CSV, and overview.html, each atomically."""
    from gaitcheck.fileio import atomic_path

    clips, strides = build_tables(results, outdir / CLIPS_DIR)
    for name, table in (("clips", clips), ("strides", strides)):
        with atomic_path(outdir / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
        with atomic_path(outdir / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
    write_text_atomic(outdir / "overview.html", render_overview(clips, strides))
    import pandas as pd

    # hand back exactly what a reader of the files gets (Parquet settles mixed-type columns)
    return BatchTables(
        clips=pd.read_parquet(outdir / "clips.parquet"),
        strides=pd.read_parquet(outdir / "strides.parquet"),
        outdir=outdir,
    )


def render_overview(clips: Any, strides: Any) -> str:
    """A short self-contained HTML page: counts, the clip table, and every failure's reason."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_OVERVIEW_TEMPLATE)
    shown = [c for c in ("clip_id", "status", "view", "activity", "n_strides", "cadence_spm") if c in clips.columns]
    failed = clips[clips["status"] != "ok"] if len(clips) else clips
    return template.render(
        version=__version__,
        n_clips=len(clips),
        n_ok=int((clips["status"] == "ok").sum()) if len(clips) else 0,
        n_strides=len(strides),
        columns=shown,
        rows=clips[shown].astype(object).where(clips[shown].notna(), "").to_dict(orient="records"),
        failures=failed[["clip_id", "path", "error"]].to_dict(orient="records") if len(failed) else [],
    )


_OVERVIEW_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gaitcheck batch overview</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#f3f3f3}.failed{color:#a00}
</style></head><body>
<h1>Batch overview</h1>
<p>{{ n_ok }} of {{ n_clips }} clips analysed, {{ n_strides }} strides in total (gaitcheck {{ version }}).</p>
<table><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for c in columns %}<td>{{ row[c] }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{% if failures %}<h2>Clips that could not be analysed</h2><ul>
{% for f in failures %}<li class="failed"><b>{{ f.clip_id }}</b> ({{ f.path }}): {{ f.error }}</li>{% endfor %}
</ul>{% endif %}
</body></html>
"""


def run_batch_with_progress(
    inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str], **kwargs: Any
) -> BatchTables:
    """:func:`run_batch` with a progress bar: clips done, frames per second, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    frames = 0
    columns = (
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("clips  {task.fields[fps]:.1f} frames/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("batch", total=None, fps=0.0)

        def update(result: ClipResult, done: int, total: int) -> None:
            nonlocal frames
            frames += result.n_frames
            elapsed = max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=done, total=total, fps=frames / elapsed)

        return run_batch(inputs, outdir, on_result=update, **kwargs)


def batch(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    progress: bool = False,
    **kwargs: Any,
) -> BatchTables:
    """Python API: analyse clips in a batch and return the tables as DataFrames.

    >>> tables = gaitcheck.batch(["clips/", "manifest.csv"], "out/")  # doctest: +SKIP
    >>> tables.clips.groupby("condition")["cadence_spm"].mean()  # doctest: +SKIP
    """
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    runner = run_batch_with_progress if progress else run_batch
    return runner(items, outdir, **kwargs)
