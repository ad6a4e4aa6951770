"""Batch processing: failure isolation, resuming after a kill, Dask, the Python API.

The batches here analyse gaitsynth truth files (true landmarks through the same pipeline
as a video's track), so they need no pose model and run in seconds; the code paths for
inputs, keys, folders, tables and schedulers are the ones a video batch takes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import gaitcheck
from gaitcheck.batching import RESULT_FILE, collect_inputs, make_jobs, read_result
from gaitcheck.errors import InputError

TRUTH_CLIPS = ("rear_drop06", "side_land15_cad175", "rear_valgus08", "side_120fps")


def _gaitcheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "gaitcheck", *args]


@pytest.fixture()
def manifest(tmp_path: Path, shared_data: Path) -> Path:
    """A manifest of four truth files with metadata, plus three broken clips and a missing one."""
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = ["path,subject,session,condition"]
    for i, name in enumerate(TRUTH_CLIPS):
        shutil.copy(shared_data / "synthetic" / f"{name}.truth.json", clips / f"{name}.truth.json")
        rows.append(f"clips/{name}.truth.json,s{i % 2},1,{'rear' if name.startswith('rear') else 'side'}")
    (clips / "text.mp4").write_text("this is not a video\n")
    (clips / "empty.mov").write_bytes(b"")
    real = (shared_data / "synthetic" / "rear_drop06.mp4").read_bytes()
    (clips / "truncated.mp4").write_bytes(real[: len(real) // 3])
    rows += ["clips/text.mp4,s9,1,x", "clips/empty.mov,s9,1,x", "clips/truncated.mp4,s9,1,x", "clips/gone.mp4,s9,1,x"]
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _comparable(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables without run-dependent columns (timings), in a fixed row order."""
    clips = tables["clips"].drop(columns=["total_s"]).sort_values("clip_id").reset_index(drop=True)
    strides = tables["strides"].sort_values(["clip_id", "ic_time_s"]).reset_index(drop=True)
    return {"clips": clips, "strides": strides}


def _read_tables(outdir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(outdir / f"{name}.parquet") for name in ("clips", "strides")}


def test_bad_clips_get_a_row_with_their_reason_and_the_rest_finish(manifest: Path, tmp_path: Path) -> None:
    tables = gaitcheck.batch(manifest, tmp_path / "out", workers=1)
    clips = tables.clips.set_index("clip_id")
    ok = clips[clips["status"] == "ok"]
    assert sorted(ok["path"].map(lambda p: Path(p).name)) == sorted(f"{n}.truth.json" for n in TRUTH_CLIPS)
    reasons = dict(zip(clips["path"].map(lambda p: Path(p).name), clips["error"], strict=True))
    assert "is not a video file" in reasons["text.mp4"]
    assert "is empty (0 bytes)" in reasons["empty.mov"]
    assert re.search(r"truncated|incomplete|cut short|moov", reasons["truncated.mp4"], re.IGNORECASE)
    assert "file not found" in reasons["gone.mp4"]
    # every stride carries its clip's metadata; every analysed clip contributes strides
    assert set(tables.strides["clip_id"]) == set(ok.index)
    assert {"subject", "session", "condition", "side", "ic_time_s"} <= set(tables.strides.columns)
    rear = tables.strides[tables.strides["condition"] == "rear"]
    assert rear["path"].str.contains("rear_").all()
    # the written tables are the returned ones
    written = _read_tables(tmp_path / "out")
    pd.testing.assert_frame_equal(written["clips"], tables.clips, check_dtype=False)
    assert (tmp_path / "out" / "overview.html").read_text().count("could not be analysed") == 1


def test_rerun_skips_finished_clips_and_retries_failed_ones(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    gaitcheck.batch(manifest, out, workers=1)
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in (out / "clips").glob(f"*/{RESULT_FILE}")}
    time.sleep(0.05)
    gaitcheck.batch(manifest, out, workers=1)
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "clips").glob(f"*/{RESULT_FILE}")}
    for clip_id, stamp in stamps.items():
        result = read_result(out / "clips" / clip_id)
        assert result is not None
        if result.status == "ok":
            assert after[clip_id] == stamp, f"{clip_id} was analysed again"
        else:
            assert after[clip_id] > stamp, f"failed clip {clip_id} was not retried"


def test_changed_settings_change_the_key() -> None:
    entries = [(Path(__file__), {})]
    plain = make_jobs(entries)[0]
    with_height = make_jobs(entries, defaults={"height_cm": 180.0})[0]
    other_model = make_jobs(entries, model_sha256="abc")[0]
    assert len({plain.key, with_height.key, other_model.key}) == 3
    assert plain.clip_id == with_height.clip_id


def test_folders_and_globs_expand_to_video_files(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.MOV", "notes.txt", "sub/c.webm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    from_folder = sorted(p.name for p, _ in collect_inputs([tmp_path]))
    assert from_folder == ["a.mp4", "b.MOV", "c.webm"]
    from_glob = sorted(p.name for p, _ in collect_inputs([str(tmp_path / "*.mp4"), str(tmp_path / "a.mp4")]))
    assert from_glob == ["a.mp4"]


def test_a_manifest_without_a_path_column_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("clip,subject\na.mp4,s1\n")
    with pytest.raises(InputError, match=r"m\.csv: the manifest needs a column named 'path'"):
        collect_inputs([manifest])


def _finished(outdir: Path) -> list[Path]:
    return [p for p in (outdir / "clips").glob(f"*/{RESULT_FILE}") if not p.parent.name.startswith(".")]


@pytest.mark.slow
def test_a_batch_killed_halfway_resumes_without_redoing_or_losing_work(
    tmp_path: Path, shared_data: Path, manifest: Path
) -> None:
    # Twelve clips so the kill lands mid-batch: the four truth files under three names each.
    clips = tmp_path / "clips"
    rows = ["path,subject"]
    for copy in range(3):
        for name in TRUTH_CLIPS:
            target = clips / f"{name}_copy{copy}.truth.json"
            shutil.copy(clips / f"{name}.truth.json", target)
            rows.append(f"clips/{target.name},s{copy}")
    big = tmp_path / "big.csv"
    big.write_text("\n".join(rows) + "\n")

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _gaitcheck("batch", str(big), "-o", str(killed), "--workers", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(_finished(killed)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the batch ended before it could be killed; give it more clips"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in _finished(killed)}
    assert 3 <= len(done_before) < 12

    subprocess.run(_gaitcheck("batch", str(big), "-o", str(killed), "--workers", "1"), check=True, capture_output=True)
    for clip_id, stamp in done_before.items():
        assert (killed / "clips" / clip_id / RESULT_FILE).stat().st_mtime_ns == stamp, f"{clip_id} redone"
    leftovers = [p for p in killed.rglob("*") if p.name.startswith(".") or p.name.endswith(".part")]
    assert leftovers == []

    clean = tmp_path / "clean"
    subprocess.run(_gaitcheck("batch", str(big), "-o", str(clean), "--workers", "1"), check=True, capture_output=True)
    resumed, reference = _comparable(_read_tables(killed)), _comparable(_read_tables(clean))
    assert len(resumed["clips"]) == 12 and (resumed["clips"]["status"] == "ok").all()
    for name in ("clips", "strides"):
        pd.testing.assert_frame_equal(resumed[name], reference[name])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture()
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real Dask scheduler and two single-threaded worker processes on 127.0.0.1."""
    pytest.importorskip("distributed", reason="the Dask test needs dask.distributed (the test extra installs it)")
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    logs = [tmp_path / f"dask{i}.log" for i in range(3)]
    base = [sys.executable, "-m", "dask"]
    commands = [
        [*base, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        *[
            [*base, "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard"]
            for _ in range(2)
        ],
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for command, log in zip(commands, logs, strict=True):
            with open(log, "wb") as handle:
                procs.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=tmp_path))
            time.sleep(0.5 if not procs[1:] else 0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all("Registered to" in log.read_text(errors="replace") for log in logs[1:]):
                break
            time.sleep(0.2)
        else:
            pytest.fail("Dask workers did not register:\n" + "\n".join(log.read_text() for log in logs))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_tables_as_a_local_run(manifest: Path, tmp_path: Path, dask_cluster: str) -> None:
    local, remote = tmp_path / "local", tmp_path / "dask"
    subprocess.run(_gaitcheck("batch", str(manifest), "-o", str(local), "--workers", "2"), check=True)
    subprocess.run(_gaitcheck("batch", str(manifest), "-o", str(remote), "--scheduler", dask_cluster), check=True)
    a, b = _comparable(_read_tables(local)), _comparable(_read_tables(remote))
    for name in ("clips", "strides"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert (a["clips"]["status"] == "ok").sum() == len(TRUTH_CLIPS)
