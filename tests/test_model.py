"""Pose model management: resolution order, .task packing, hash checks, offline build, loading.

No test touches the network: downloads are faked with a local response object, and the
offline-build test reuses the wheel that `gaitcheck model ensure` keeps in its cache (or
``$GAITCHECK_TEST_WHEEL``), skipping when there is none.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.error
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from gaitcheck import skeleton
from gaitcheck.cli import app
from gaitcheck.errors import ModelError
from gaitcheck.pose import model as model_module
from gaitcheck.pose.model import (
    CACHE_DIR_ENV,
    DETECTOR_MEMBER,
    LANDMARKS_MEMBER,
    MODEL_ENV,
    add_landmark_metadata,
    build_full_model,
    download_official,
    ensure_model,
    load_manifest,
    model_cache_dir,
    model_info,
    resolve_model,
    task_bundle_bytes,
    verify_sha256,
    wheel_cache_dir,
)


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory and no $GAITCHECK_MODEL, so the real user cache is never used."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    return tmp_path / "cache"


def _touch(path: Path, content: bytes = b"model") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- resolution order


def test_explicit_path_wins_over_env_and_cache(tmp_path: Path, isolated_cache: Path, monkeypatch) -> None:
    explicit = _touch(tmp_path / "explicit.task")
    from_env = _touch(tmp_path / "env.task")
    _touch(isolated_cache / "models" / "pose_landmarker_full.task")
    monkeypatch.setenv(MODEL_ENV, str(from_env))
    assert resolve_model(explicit) == explicit


def test_env_wins_over_cache(tmp_path: Path, isolated_cache: Path, monkeypatch) -> None:
    from_env = _touch(tmp_path / "env.task")
    _touch(isolated_cache / "models" / "pose_landmarker_full.task")
    monkeypatch.setenv(MODEL_ENV, str(from_env))
    assert resolve_model() == from_env


def test_cache_is_used_per_variant(isolated_cache: Path) -> None:
    cached_lite = _touch(isolated_cache / "models" / "pose_landmarker_lite.task")
    assert model_cache_dir() == isolated_cache / "models"
    assert resolve_model(variant="lite") == cached_lite
    with pytest.raises(ModelError, match="no full pose model found"):
        resolve_model(variant="full")


def test_missing_explicit_or_env_path_is_an_error_not_a_fallback(tmp_path: Path, isolated_cache, monkeypatch) -> None:
    _touch(isolated_cache / "models" / "pose_landmarker_full.task")
    with pytest.raises(ModelError, match=r"absent\.task \(given with --model\) does not exist"):
        resolve_model(tmp_path / "absent.task")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "typo.task"))
    with pytest.raises(ModelError, match=r"typo\.task \(from \$GAITCHECK_MODEL\) does not exist"):
        resolve_model()


def test_unknown_variant_is_rejected(isolated_cache: Path) -> None:
    with pytest.raises(ModelError, match="unknown model variant 'medium'"):
        resolve_model(variant="medium")


def test_nothing_found_and_no_route_allowed_lists_what_was_tried(isolated_cache: Path) -> None:
    with pytest.raises(ModelError) as caught:
        ensure_model(allow_download=False, allow_build=False, progress=False)
    message = str(caught.value)
    assert str(isolated_cache / "models" / "pose_landmarker_full.task") in message
    assert "$GAITCHECK_MODEL (not set)" in message
    assert "official download: disabled" in message
    assert "offline build: disabled" in message
    assert "--from-wheel" in message and "set GAITCHECK_MODEL" in message


def test_unknown_cached_file_is_not_trusted_by_ensure(isolated_cache: Path) -> None:
    stale = _touch(isolated_cache / "models" / "pose_landmarker_full.task", b"old build")
    assert resolve_model() == stale
    with pytest.raises(ModelError, match=r"is not in the manifest: outdated or corrupt"):
        ensure_model(allow_download=False, allow_build=False, progress=False)


def test_failed_download_is_reported_and_lite_cannot_be_built(isolated_cache: Path, monkeypatch) -> None:
    def unreachable(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(model_module.urllib.request, "urlopen", unreachable)
    with pytest.raises(ModelError) as caught:
        ensure_model("lite", progress=False)
    message = str(caught.value)
    assert "pose_landmarker_lite.task failed (Name or service not known)" in message
    assert "only the full model can be built offline" in message


# --------------------------------------------------------------------------- .task packing


def _data_offset(archive_bytes: bytes, info: zipfile.ZipInfo) -> int:
    """Offset of a member's data, read from its local header (30 bytes + name + extra)."""
    header = archive_bytes[info.header_offset : info.header_offset + 30]
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_length + extra_length


@pytest.mark.parametrize("alignment_bytes", [4, 16])
def test_task_bundle_is_stored_aligned_and_deterministic(alignment_bytes: int) -> None:
    members = {DETECTOR_MEMBER: bytes(range(7)) * 3, LANDMARKS_MEMBER: b"\x01" * 13, "c.tflite": b"xyz"}
    bundle = task_bundle_bytes(members, alignment_bytes)
    assert bundle == task_bundle_bytes(dict(members), alignment_bytes)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == list(members)
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            offset = _data_offset(bundle, info)
            assert offset % alignment_bytes == 0
            assert bundle[offset : offset + info.file_size] == members[info.filename]
            assert archive.read(info) == members[info.filename]


# --------------------------------------------------------------------------- landmark metadata


def _tiny_tflite(output_count: int) -> bytes:
    """A minimal TFLite flatbuffer: one subgraph with ``output_count`` outputs, two buffers."""
    import flatbuffers
    from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

    subgraph = tflite_fb.SubGraphT()
    subgraph.inputs = [0]
    subgraph.outputs = list(range(1, output_count + 1))
    buffers = [tflite_fb.BufferT(), tflite_fb.BufferT()]
    buffers[1].data = list(b"weights!")
    runtime_version = tflite_fb.MetadataT()
    runtime_version.name = "min_runtime_version"
    runtime_version.buffer = 0
    model = tflite_fb.ModelT()
    model.version = 3
    model.description = "tiny"
    model.subgraphs = [subgraph]
    model.buffers = buffers
    model.metadata = [runtime_version]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def test_landmark_metadata_is_added_without_touching_the_model() -> None:
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
    from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

    original = _tiny_tflite(output_count=5)
    with_metadata = add_landmark_metadata(original)
    assert with_metadata == add_landmark_metadata(original)
    assert with_metadata[4:8] == b"TFL3" and with_metadata.endswith(original)

    model = tflite_fb.Model.GetRootAsModel(with_metadata, 0)
    assert model.Version() == 3 and model.Description() == b"tiny"
    assert list(model.Subgraphs(0).OutputsAsNumpy()) == [1, 2, 3, 4, 5]
    assert model.BuffersLength() == 3
    assert model.Buffers(1).DataAsNumpy().tobytes() == b"weights!"
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names == [b"min_runtime_version", b"TFLITE_METADATA"]
    metadata_buffer = model.Buffers(model.Metadata(1).Buffer())
    data_position = metadata_buffer._tab.Vector(metadata_buffer._tab.Offset(4))
    assert data_position % 16 == 0

    raw = metadata_buffer.DataAsNumpy().tobytes()
    assert raw[4:8] == b"M001"
    metadata = meta_fb.ModelMetadataT.InitFromObj(meta_fb.ModelMetadata.GetRootAsModelMetadata(raw, 0))
    assert metadata.minParserVersion == b"1.0.0"
    (subgraph,) = metadata.subgraphMetadata
    (image_input,) = subgraph.inputTensorMetadata
    assert image_input.content.contentPropertiesType == meta_fb.ContentProperties.ImageProperties
    assert image_input.content.contentProperties.colorSpace == meta_fb.ColorSpaceType.RGB
    (normalization,) = image_input.processUnits
    assert normalization.optionsType == meta_fb.ProcessUnitOptions.NormalizationOptions
    assert list(normalization.options.mean) == [0.0] and list(normalization.options.std) == [255.0]
    assert list(image_input.stats.min) == [0.0] and list(image_input.stats.max) == [1.0]
    outputs = subgraph.outputTensorMetadata
    assert [tensor.name for tensor in outputs] == [
        b"landmarks",
        b"pose_flag",
        b"segmentation",
        b"heatmap",
        b"world_landmarks",
    ]
    assert all(t.content.contentPropertiesType == meta_fb.ContentProperties.FeatureProperties for t in outputs)


def test_landmark_metadata_rejects_a_model_with_other_outputs() -> None:
    with pytest.raises(ModelError, match="has 3 outputs, expected 5"):
        add_landmark_metadata(_tiny_tflite(output_count=3))


# --------------------------------------------------------------------------- hashes


def test_verify_sha256_accepts_the_right_file_and_rejects_a_corrupted_one(tmp_path: Path) -> None:
    content = b"pretend weights" * 100
    path = _touch(tmp_path / "m.task", content)
    expected = hashlib.sha256(content).hexdigest()
    assert verify_sha256(path, expected, "the test model") == expected
    corrupted = bytearray(content)
    corrupted[10] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ModelError, match="does not match the manifest"):
        verify_sha256(path, expected, "the test model")
    with pytest.raises(ModelError, match=r"records no sha256 .* cannot be verified"):
        verify_sha256(path, None, "the test model")


class _FakeResponse(io.BytesIO):
    """Stands in for an HTTP response: readable bytes plus a Content-Length header."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}


def _fake_manifest(content_sha256: str | None) -> dict[str, Any]:
    manifest = load_manifest()
    manifest["official"]["full"] = {"url": "https://example.invalid/m.task", "sha256": content_sha256}
    return manifest


def test_download_keeps_a_verified_file(tmp_path: Path, monkeypatch) -> None:
    content = b"official weights" * 1000
    monkeypatch.setattr(model_module, "load_manifest", lambda: _fake_manifest(hashlib.sha256(content).hexdigest()))
    monkeypatch.setattr(model_module.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(content))
    target = tmp_path / "models" / "pose_landmarker_full.task"
    assert download_official("full", target, progress=False) == target
    assert target.read_bytes() == content


@pytest.mark.parametrize("recorded_sha256", ["0" * 64, None])
def test_download_with_wrong_or_unknown_hash_leaves_nothing_behind(
    tmp_path: Path, monkeypatch, recorded_sha256
) -> None:
    monkeypatch.setattr(model_module, "load_manifest", lambda: _fake_manifest(recorded_sha256))
    monkeypatch.setattr(model_module.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(b"tampered"))
    target = tmp_path / "models" / "pose_landmarker_full.task"
    with pytest.raises(ModelError, match="sha256"):
        download_official("full", target, progress=False)
    assert list(target.parent.iterdir()) == []


def test_model_info_of_an_unknown_file(tmp_path: Path) -> None:
    path = _touch(tmp_path / "pose_landmarker_heavy.task", b"not a manifest model")
    info = model_info(path)
    assert info["origin"] == "unknown" and info["matches_manifest"] is False
    assert info["variant"] == "heavy"
    assert info["size_bytes"] == len(b"not a manifest model")
    assert info["sha256"] == hashlib.sha256(b"not a manifest model").hexdigest()


def test_manifest_records_every_variant_and_the_offline_build() -> None:
    manifest = load_manifest()
    assert set(manifest["official"]) == {"lite", "full", "heavy"}
    for variant, entry in manifest["official"].items():
        assert entry["url"].endswith(f"/pose_landmarker_{variant}.task")
        assert entry["sha256"] is None or len(entry["sha256"]) == 64
    assert len(manifest["offline_build"]["full"]["sha256"]) == 64


def test_cli_model_path_follows_the_environment(tmp_path: Path, isolated_cache: Path, monkeypatch) -> None:
    from_env = _touch(tmp_path / "env.task")
    monkeypatch.setenv(MODEL_ENV, str(from_env))
    result = CliRunner().invoke(app, ["model", "path"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(from_env)


def test_cli_from_wheel_refuses_other_variants(tmp_path: Path, isolated_cache: Path) -> None:
    result = CliRunner().invoke(app, ["model", "ensure", "--variant", "lite", "--from-wheel", str(tmp_path / "x.whl")])
    assert isinstance(result.exception, ModelError)
    assert "builds only the full model" in str(result.exception)


def test_from_wheel_rejects_a_file_that_is_not_the_wheel(tmp_path: Path, isolated_cache: Path) -> None:
    not_a_wheel = _touch(tmp_path / "mediapipe-0.10.21-fake.whl", b"not a zip")
    with pytest.raises(ModelError, match=r"is not a usable mediapipe==0\.10\.21 wheel"):
        ensure_model(wheel_path=not_a_wheel)
    assert not (isolated_cache / "models" / "pose_landmarker_full.task").exists()


def test_wheel_with_altered_weights_is_rejected(tmp_path: Path, isolated_cache: Path) -> None:
    sources = load_manifest()["offline_build"]["full"]["sources"]
    wheel = tmp_path / "mediapipe-0.10.21-altered.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for source in sources.values():
            archive.writestr(source["wheel_member"], b"altered weights")
    with pytest.raises(ModelError, match=r"use an unmodified mediapipe==0\.10\.21 wheel"):
        ensure_model(wheel_path=wheel)


def test_cli_model_info_json(tmp_path: Path, isolated_cache: Path) -> None:
    path = _touch(tmp_path / "some.task", b"abc")
    result = CliRunner().invoke(app, ["model", "info", "--json", "--model", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sha256"] == hashlib.sha256(b"abc").hexdigest()


# --------------------------------------------------------------------------- the real model


def _local_wheel() -> Path | None:
    """A mediapipe 0.10.21 wheel already on disk: $GAITCHECK_TEST_WHEEL or the ensure cache."""
    if os.environ.get("GAITCHECK_TEST_WHEEL"):
        return Path(os.environ["GAITCHECK_TEST_WHEEL"])
    cached = sorted(wheel_cache_dir().glob(load_manifest()["offline_build"]["full"]["wheel_glob"]))
    return cached[-1] if cached else None


@pytest.mark.model
def test_provisioned_model_matches_the_manifest(model_path: Path) -> None:
    if model_path.parent != model_cache_dir():
        pytest.skip(f"{model_path} was supplied by the user, not provisioned by `gaitcheck model ensure`")
    info = model_info(model_path)
    assert info["matches_manifest"], f"{model_path} has sha256 {info['sha256']}, which the manifest does not list"


@pytest.mark.model
def test_offline_build_from_the_wheel_reproduces_the_manifest_bytes(tmp_path: Path) -> None:
    wheel = _local_wheel()
    if wheel is None or not wheel.is_file():
        pytest.skip(
            f"no mediapipe 0.10.21 wheel on disk: set GAITCHECK_TEST_WHEEL to one (the offline route of "
            f"`gaitcheck model ensure` keeps it in {wheel_cache_dir()})"
        )
    built = build_full_model(wheel, tmp_path / "rebuilt.task")
    expected = load_manifest()["offline_build"]["full"]["sha256"]
    assert hashlib.sha256(built.read_bytes()).hexdigest() == expected


def _landmark_metadata(task_path: Path) -> Any:
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
    from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

    with zipfile.ZipFile(task_path) as archive:
        landmark_tflite = archive.read(LANDMARKS_MEMBER)
    model = tflite_fb.Model.GetRootAsModel(landmark_tflite, 0)
    entries = [model.Metadata(i) for i in range(model.MetadataLength())]
    buffer_index = next(entry.Buffer() for entry in entries if entry.Name() == b"TFLITE_METADATA")
    raw = model.Buffers(buffer_index).DataAsNumpy().tobytes()
    return meta_fb.ModelMetadataT.InitFromObj(meta_fb.ModelMetadata.GetRootAsModelMetadata(raw, 0))


@pytest.mark.model
def test_offline_model_carries_the_landmark_metadata(model_path: Path) -> None:
    if model_info(model_path)["origin"] != "offline-build":
        pytest.skip(f"{model_path} is not the offline build")
    subgraph = _landmark_metadata(model_path).subgraphMetadata[0]
    (image_input,) = subgraph.inputTensorMetadata
    normalization = image_input.processUnits[0].options
    assert list(normalization.mean) == [0.0] and list(normalization.std) == [255.0]
    output_names = [tensor.name.decode() for tensor in subgraph.outputTensorMetadata]
    assert output_names == ["landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks"]


@pytest.mark.model
def test_model_finds_the_runner_in_video_mode(model_path: Path, sample_videos: Path) -> None:
    """The model loads in VIDEO mode and tracks the rendered runner: image landmarks near the
    truth and world landmarks in metres around the hip centre."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    frame_count = 8
    truth = json.loads((sample_videos / "demo_side.truth.json").read_text())
    joints = ["left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
    truth_px = np.stack([np.asarray(truth["frames"]["landmarks_px"][name][:frame_count]) for name in joints], axis=1)
    body_height_px = np.asarray(truth["frames"]["body_height_px"][:frame_count])
    joint_indices = [skeleton.index(name) for name in joints]

    capture = cv2.VideoCapture(str(sample_videos / "demo_side.mp4"))
    fps = capture.get(cv2.CAP_PROP_FPS)
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)), running_mode=vision.RunningMode.VIDEO
    )
    image_px, world_m = [], []
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for frame_index in range(frame_count):
            ok, frame_bgr = capture.read()
            assert ok, "demo_side.mp4 ended early"
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
            result = landmarker.detect_for_video(image, round(frame_index * 1000 / fps))
            assert result.pose_landmarks, f"no pose found in frame {frame_index}"
            height, width = frame_bgr.shape[:2]
            image_px.append([[p.x * width, p.y * height] for p in result.pose_landmarks[0]])
            world_m.append([[p.x, p.y, p.z] for p in result.pose_world_landmarks[0]])
    capture.release()

    image_px_array = np.asarray(image_px)[:, joint_indices]
    error_pct_height = 100 * np.linalg.norm(image_px_array - truth_px, axis=2) / body_height_px[:, None]
    assert np.median(error_pct_height) < 5.0

    world = np.asarray(world_m)
    left_hip, right_hip = world[:, skeleton.index("left_hip")], world[:, skeleton.index("right_hip")]
    hip_centre_m = (left_hip + right_hip) / 2
    assert np.all(np.linalg.norm(hip_centre_m, axis=1) < 0.05)
    hip_width_m = np.linalg.norm(left_hip - right_hip, axis=1)
    assert np.all((hip_width_m > 0.12) & (hip_width_m < 0.40))
