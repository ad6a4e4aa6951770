"""The runner's report: session merge, report.json schema, self-contained HTML, escaping,
key frames, the demo command and a headless-Chromium check.

The session is the bundled demo runner (rear + side clip) analysed by the real pipeline
from its truth files (exact landmarks, gaitcheck's own event detection), so no pose model
is needed. The demo renders have a marked pelvic drop, knee valgus and an overstride.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from gaitcheck import skeleton
from gaitcheck.cli import app
from gaitcheck.errors import InputError
from gaitcheck.pipeline import analyze_source
from gaitcheck.report import build_report, render_html, write_report
from gaitcheck.report.keyframes import KeyFrameSpec, draw_key_frame
from gaitcheck.report.run import demo_clips
from gaitcheck.report.schema import validate_report
from gaitcheck.report.session import merge_summaries

CREATED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
SECTION_IDS = ("findings", "key-frames", "plan", "measurements", "capture", "sources", "disclaimer")


@pytest.fixture(scope="module")
def session(sample_videos: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Demo rear + side analyses; the rear truth file is copied under a hostile name (with its
    video beside it) so the report must escape the file name."""
    folder = tmp_path_factory.mktemp("hostile")
    rear = folder / "run<script>alert(1).truth.json"
    shutil.copy(sample_videos / "demo_rear.truth.json", rear)
    shutil.copy(sample_videos / "demo_rear.mp4", folder / "demo_rear.mp4")
    return [analyze_source(rear), analyze_source(sample_videos / "demo_side.truth.json")]


@pytest.fixture(scope="module")
def bundle(session: list[Any]) -> Any:
    return build_report(session, created=CREATED, runner_name="<b>Ann</b>", notes="felt <i>fine</i>")


@pytest.fixture(scope="module")
def html(bundle: Any) -> str:
    return render_html(bundle)


def test_session_merges_views_and_pools_shared_metrics(session: list[Any]) -> None:
    rear, side = session
    merged = merge_summaries(session)
    metrics = merged["metrics"]
    expected_drop = {**rear.summary["metrics"]["pelvic_drop_deg"], "from_clips": [Path(rear.source).name]}
    assert metrics["pelvic_drop_deg"] == expected_drop
    assert metrics["heel_ahead_pct_leg"]["from_clips"] == ["demo_side.truth.json"]
    cadence_n = metrics["cadence_spm"]["overall"]["n"]
    assert (
        cadence_n
        == rear.summary["metrics"]["cadence_spm"]["overall"]["n"]
        + (side.summary["metrics"]["cadence_spm"]["overall"]["n"])
    )
    pooled = np.concatenate([a.strides["cadence_spm"].to_numpy(dtype=float)[a.strides["complete"]] for a in session])
    assert metrics["cadence_spm"]["overall"]["mean"] == pytest.approx(np.nanmean(pooled))
    assert merged["classification"]["views"] == ["rear", "side_right"]


def test_demo_session_findings_and_plan(bundle: Any) -> None:
    rules = {f["rule_id"] for f in bundle.data["findings"]["findings"]}
    assert {"pelvic_drop", "knee_valgus", "overstride"} <= rules
    plan = bundle.data["plan"]
    assert plan["kind"] == "targeted" and {"pelvic_drop", "knee_valgus", "overstride"} <= set(plan["focus"])
    # demo_rear: 8 deg drop in left stance, 11 deg in right stance -> right side weaker
    assert plan["weaker_side"].get("pelvic_drop") == "right"
    assert plan["cadence_target_spm"] is not None


def test_report_json_validates_against_schema(bundle: Any, tmp_path: Path) -> None:
    paths = write_report(bundle, tmp_path)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    validate_report(data)
    assert data["format"] == "gaitcheck-report/1"
    assert {p.name for p in tmp_path.iterdir()} == {"report.html", "report.json", "summary.json", "strides.csv"}
    strides = paths["strides"].read_text(encoding="utf-8").splitlines()
    assert strides[0].startswith("clip,") and len(strides) > 30


def test_schema_rejects_a_broken_report(bundle: Any) -> None:
    import jsonschema

    broken = json.loads(json.dumps(bundle.data))
    broken["plan"]["phases"][0]["exercises"][0]["source"]["article"] = "somewhere"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(broken)


def test_write_report_refuses_to_overwrite(bundle: Any, tmp_path: Path) -> None:
    write_report(bundle, tmp_path)
    with pytest.raises(InputError, match="--force"):
        write_report(bundle, tmp_path)
    write_report(bundle, tmp_path, force=True)


def test_html_is_self_contained(bundle: Any, html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "<link" not in html and "<script" not in html.lower() and "@import" not in html
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(bundle.data["key_frames"]) + len(bundle.data["figures"]) == len(bundle.images)
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert 'name="viewport"' in html and "@media" in html
    for section in SECTION_IDS:
        assert f'id="{section}"' in html


def test_user_text_is_escaped(html: str) -> None:
    assert "run&lt;script&gt;alert(1).truth.json" in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html and "felt &lt;i&gt;fine&lt;/i&gt;" in html
    assert "<b>Ann</b>" not in html and "<script>" not in html


def test_key_frames_show_the_largest_values(bundle: Any, session: list[Any]) -> None:
    frames = {k["kind"]: k for k in bundle.data["key_frames"]}
    assert set(frames) == {"pelvic_drop", "knee_valgus", "heel_contact"}
    rear, side = session
    strides = rear.strides[rear.strides["complete"]]
    assert frames["pelvic_drop"]["value"] == pytest.approx(strides["pelvic_drop_deg"].max())
    peak = strides.loc[strides["pelvic_drop_deg"].idxmax()]
    assert peak["ic_frame"] <= frames["pelvic_drop"]["frame"] <= peak["to_frame"]
    heel = side.strides[side.strides["complete"]]
    assert frames["heel_contact"]["frame"] == int(heel.loc[heel["heel_ahead_pct_leg"].idxmax(), "ic_frame"])


def test_draw_key_frame_draws_on_a_copy() -> None:
    rgb = np.zeros((200, 300, 3), dtype=np.uint8)
    points = {
        "left_hip": np.array([120.0, 80.0]),
        "right_hip": np.array([180.0, 90.0]),
        "left_knee": np.array([125.0, 130.0]),
        "left_ankle": np.array([120.0, 180.0]),
    }
    spec = KeyFrameSpec("pelvic_drop", 0, 0.0, "left", 9.5, "deg", "t", "c")
    out = draw_key_frame(rgb, points, spec)
    assert rgb.max() == 0, "the input frame must not be modified"
    assert out.dtype == np.uint8 and out.ndim == 3 and out.max() > 0


def test_display_steadies_the_arms_only(sample_videos: Path) -> None:
    """Jitter added to the true arms is mostly removed from what is drawn; the cleaned
    landmarks are drawn exactly as measured and unseen points stay unseen."""
    from gaitcheck.clean import BODY_LANDMARKS
    from gaitcheck.pose.replay import track_from_truth
    from gaitcheck.report.keyframes import display_xy_px, landmarks_at

    true = track_from_truth(sample_videos / "demo_side.truth.json")
    arms = [skeleton.index(f"{side}_{part}") for side in skeleton.SIDES for part in ("elbow", "wrist")]
    image = np.array(true.image_xyz)
    rng = np.random.default_rng(7)
    jitter_px = 3.0
    image[:, arms, :2] += rng.normal(0.0, jitter_px, (true.n_frames, len(arms), 2)) / (true.width, true.height)
    unseen = np.r_[40:46, 200]
    image[unseen, skeleton.index("left_wrist")] = np.nan
    jittered = true.replace(image_xyz=image)
    drawn = display_xy_px(jittered)
    error_px = np.linalg.norm(drawn[:, arms] - true.xy_px[:, arms], axis=2)
    assert np.sqrt(np.nanmean(error_px**2)) < 0.6 * jitter_px * np.sqrt(2.0)  # 1.0x unsteadied
    assert np.isnan(drawn[unseen, skeleton.index("left_wrist")]).all()
    assert np.isfinite(np.delete(drawn[:, skeleton.index("left_wrist")], unseen, axis=0)).all()
    body = [skeleton.index(name) for name in BODY_LANDMARKS]
    np.testing.assert_array_equal(drawn[:, body], jittered.xy_px[:, body])
    np.testing.assert_array_equal(landmarks_at(jittered, 300)["right_wrist"], drawn[300, skeleton.index("right_wrist")])


def test_demo_clips_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="demo clip"):
        demo_clips(tmp_path)
    rear, side = demo_clips()
    assert rear.name == "demo_rear.mp4" and side.is_file()


@pytest.mark.slow
def test_demo_command_from_truth(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--from-truth", "-o", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "Demo report:" in result.output
    assert (tmp_path / "demo" / "report.html").is_file()
    data = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    assert data["plan"]["kind"] == "targeted"


def test_analyze_two_clips_refuses_a_view_override(sample_videos: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            str(sample_videos / "demo_rear.truth.json"),
            str(sample_videos / "demo_side.truth.json"),
            "-o",
            str(tmp_path),
            "--view",
            "rear",
        ],
    )
    assert isinstance(result.exception, InputError) and "applies to a single clip" in str(result.exception)


def _browser() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.slow
def test_report_opens_in_headless_chromium(bundle: Any, tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("Chromium not installed (Debian: apt-get install chromium)")
    paths = write_report(bundle, tmp_path / "out")
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", paths["html"].as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in SECTION_IDS:
        assert f'id="{section}"' in dom.stdout
    assert "What stood out" in dom.stdout and "Your plan" in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr and "net::ERR" not in dom.stderr
    shot = tmp_path / "phone.png"
    run = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=412,2400", paths["html"].as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 412)
    assert float(pixels[..., :3].std()) > 0.05, "the screenshot is blank"


def test_key_frame_skips_an_outlier_stance(session: list[Any]) -> None:
    from gaitcheck.report.keyframes import select_key_frames
    from gaitcheck.report.signals import report_signals

    rear = session[0]
    strides = rear.strides.copy()
    complete = strides.index[strides["complete"]]
    glitch = complete[0]
    strides.loc[glitch, "pelvic_drop_deg"] = 40.0  # a tracking glitch, far from the other stances of its side
    view = rear.summary["classification"]["view"]
    specs = select_key_frames(rear.track, strides, view, report_signals(rear.track, view, None))
    drop = next(s for s in specs if s.kind == "pelvic_drop")
    assert drop.value == pytest.approx(strides.loc[complete[1:], "pelvic_drop_deg"].max())


def test_overlay_video_has_every_frame(session: list[Any], tmp_path: Path, sample_videos: Path) -> None:
    from gaitcheck.report.overlay import write_overlay_video
    from gaitcheck.video import probe_video

    rear = session[0]
    n_frames = 24
    track = rear.track.select_frames(slice(0, n_frames))
    stances = rear.stances[rear.stances["to_frame"] < n_frames]
    out = write_overlay_video(sample_videos / "demo_rear.mp4", track, stances, "rear", None, tmp_path / "o.mp4")
    info = probe_video(out)
    assert (info.n_frames, info.width, info.height, info.fps) == (n_frames, 1280, 720, pytest.approx(60.0))


def test_clean_runner_report_says_nothing_stood_out(shared_data: Path) -> None:
    analysis = analyze_source(shared_data / "synthetic" / "rear_drop00_valgus00.truth.json")
    clean = build_report([analysis], created=CREATED, key_frames=False)
    validate_report(json.loads(json.dumps(clean.data)))
    assert clean.data["headline"] == [] and clean.data["plan"]["kind"] == "maintenance"
    page = render_html(clean)
    assert "No finding stood out" in page and "Your plan: maintenance" in page
    topics = {note["topic"] for note in clean.data["capture_notes"]}
    assert "missing view" in topics  # a rear clip alone cannot measure landing


def test_key_frame_skips_a_collapsed_hip_line(session: list[Any]) -> None:
    from gaitcheck.report.keyframes import select_key_frames
    from gaitcheck.report.signals import report_signals

    rear = session[0]
    view = rear.summary["classification"]["view"]
    first = select_key_frames(rear.track, rear.strides, view, report_signals(rear.track, view, None))
    chosen = next(s for s in first if s.kind == "pelvic_drop").frame
    image = rear.track.image_xyz.copy()
    image[chosen, skeleton.index("right_hip"), :2] = image[chosen, skeleton.index("left_hip"), :2]  # hips on one point
    broken = rear.track.replace(image_xyz=image)
    again = select_key_frames(broken, rear.strides, view, report_signals(broken, view, None))
    assert next(s for s in again if s.kind == "pelvic_drop").frame != chosen


@pytest.mark.slow
def test_analyze_with_user_rules(sample_videos: Path, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.toml"
    lenient.write_text("[level.pelvic_drop]\nelevated = 20.0\nmarked = 30.0\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["analyze", str(sample_videos / "demo_rear.truth.json"), "-o", str(tmp_path / "out"), "--rules", str(lenient)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert str(lenient) in data["findings"]["rules_origin"]
    levels = {(f["rule_id"], f["kind"]) for f in data["findings"]["findings"]}
    assert ("pelvic_drop", "level") not in levels and ("knee_valgus", "level") in levels


def test_bad_rules_file_fails_before_the_analysis(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[level.pelvic_drop]\nmarked = 1.0\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["analyze", str(tmp_path / "missing.mp4"), "-o", str(tmp_path), "--rules", str(bad)]
    )
    assert isinstance(result.exception, InputError) and str(bad) in str(result.exception)
