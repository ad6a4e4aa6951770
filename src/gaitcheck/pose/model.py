"""Find, download or build the MediaPipe pose landmarker model (``pose_landmarker_*.task``).

Resolution order: an explicit path, then the ``GAITCHECK_MODEL`` environment variable,
then the per-user cache (``platformdirs.user_cache_dir("gaitcheck")/models``, or
``$GAITCHECK_CACHE_DIR/models``).

Provisioning (:func:`ensure_model`) tries Google's official download first (short
timeout, sha256 checked against ``models/manifest.json``) and then, for the full model,
an offline build. mediapipe 0.10.21 was the last wheel to bundle the pose weights (for
the legacy solutions API); its detector and landmark TFLite files hold the same weights
as the official full model. The landmark file only lacks the TFLite metadata the Tasks
API needs (input normalisation, output order), which :func:`add_landmark_metadata`
adds; :func:`task_bundle_bytes` packs both into the uncompressed, aligned zip a
``.task`` file is. The build is byte-reproducible, so its sha256 is in the manifest too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from gaitcheck.errors import ModelError
from gaitcheck.fileio import atomic_path, sha256_file

VARIANTS = ("lite", "full", "heavy")
DEFAULT_VARIANT = "full"
MODEL_ENV = "GAITCHECK_MODEL"
CACHE_DIR_ENV = "GAITCHECK_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 5.0
PIP_TIMEOUT_S = 300.0
TASK_ALIGNMENT_BYTES = 4
DETECTOR_MEMBER = "pose_detector.tflite"
LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"

_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_ZIP_LOCAL_HEADER_BYTES = 30
_ZIP_ALIGNMENT_EXTRA_ID = 0xD935  # the extra-field id zipalign uses for padding
_TFLITE_FILE_IDENTIFIER = b"TFL3"
_METADATA_FILE_IDENTIFIER = b"M001"
_METADATA_FIELD_NAME = b"TFLITE_METADATA"
_METADATA_PARSER_VERSION = "1.0.0"
_TFLITE_MODEL_SLOTS = (
    "version",
    "operator_codes",
    "subgraphs",
    "description",
    "buffers",
    "metadata_buffer",
    "metadata",
    "signature_defs",
)
_LANDMARK_OUTPUT_NAMES = ("landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks")
_MANIFEST_IN_PACKAGE = Path(__file__).with_name("model_manifest.json")
_MANIFEST_IN_CHECKOUT = Path(__file__).resolve().parents[3] / "models" / "manifest.json"
_CHUNK_BYTES = 1 << 16


# --------------------------------------------------------------------------- locations


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ModelError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def model_filename(variant: str = DEFAULT_VARIANT) -> str:
    """File name of a variant, e.g. ``pose_landmarker_full.task``."""
    _check_variant(variant)
    return f"pose_landmarker_{variant}.task"


def cache_root() -> Path:
    """gaitcheck's per-user cache directory (``$GAITCHECK_CACHE_DIR`` overrides it)."""
    root = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("gaitcheck")
    return Path(root).expanduser()


def model_cache_dir() -> Path:
    """Directory where provisioned models are kept: ``<cache root>/models``."""
    return cache_root() / "models"


def wheel_cache_dir() -> Path:
    """Directory where the mediapipe wheel used by the offline build is kept."""
    return cache_root() / "wheels"


def resolve_model(explicit: str | os.PathLike[str] | None = None, variant: str = DEFAULT_VARIANT) -> Path:
    """Find an existing model file without downloading or building anything.

    Parameters
    ----------
    explicit
        Path given by the user (``--model``); when set it must exist.
    variant
        ``"lite"``, ``"full"`` or ``"heavy"``; picks the file name looked up in the cache.

    Returns
    -------
    Path
        The model file.

    Raises
    ------
    ModelError
        When nothing is found; the message lists every location tried and how to fix it.
    """
    _check_variant(variant)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {path} (given with --model) does not exist; pass the path of a .task file")
        return path
    env_value = os.environ.get(MODEL_ENV)
    if env_value:
        path = Path(env_value).expanduser()
        if not path.is_file():
            raise ModelError(
                f"model file {path} (from ${MODEL_ENV}) does not exist; fix or unset {MODEL_ENV}, "
                "or run `gaitcheck model ensure`"
            )
        return path
    cached = model_cache_dir() / model_filename(variant)
    if cached.is_file():
        return cached
    raise ModelError(
        f"no {variant} pose model found. Tried: --model (not given); ${MODEL_ENV} (not set); "
        f"cache {cached} (missing). Fix: run `gaitcheck model ensure --variant {variant}` "
        f"(downloads it, or builds it offline), or set {MODEL_ENV} to a pose_landmarker .task file"
    )


# --------------------------------------------------------------------------- manifest


def manifest_path() -> Path:
    """Location of the model manifest (inside the installed package, else in the checkout)."""
    return _MANIFEST_IN_PACKAGE if _MANIFEST_IN_PACKAGE.is_file() else _MANIFEST_IN_CHECKOUT


def load_manifest() -> dict[str, Any]:
    """Read ``models/manifest.json``: official URLs and hashes, offline-build recipe and hash."""
    path = manifest_path()
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model manifest {path} cannot be read ({exc}); reinstall gaitcheck") from exc
    return manifest


def identify_sha256(sha256: str, manifest: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return ``(variant, origin)`` of the manifest entry with this hash, or None.

    ``origin`` is ``"official"`` (Google's download) or ``"offline-build"``.
    """
    for origin, entries in (("official", manifest["official"]), ("offline-build", manifest["offline_build"])):
        for variant, entry in entries.items():
            if entry.get("sha256") == sha256:
                return variant, origin
    return None


def model_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a model file: path, size, sha256 and which manifest entry it matches.

    Returns
    -------
    dict
        ``path``, ``size_bytes``, ``sha256``, ``variant`` (from the manifest, else guessed
        from the file name, else None), ``origin`` (``"official"``, ``"offline-build"`` or
        ``"unknown"``) and ``matches_manifest``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; run `gaitcheck model ensure`")
    sha256 = sha256_file(path)
    match = identify_sha256(sha256, load_manifest())
    variant = match[0] if match else next((v for v in VARIANTS if path.name == model_filename(v)), None)
    return {
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": sha256,
        "variant": variant,
        "origin": match[1] if match else "unknown",
        "matches_manifest": match is not None,
    }


def verify_sha256(path: str | os.PathLike[str], expected_sha256: str | None, what: str) -> str:
    """Check a file's sha256 against the expected value; return the actual hash.

    Raises
    ------
    ModelError
        When the hash differs, or when no expected hash is recorded (nothing to verify against).
    """
    actual = sha256_file(path)
    if expected_sha256 is None:
        raise ModelError(
            f"{path}: the manifest records no sha256 for {what}, so it cannot be verified; "
            f"check the file yourself and point {MODEL_ENV} at it"
        )
    if actual != expected_sha256:
        raise ModelError(
            f"{path}: sha256 {actual} does not match the manifest's {expected_sha256} for {what}; "
            "the file is corrupt or not the expected model. Delete it and run `gaitcheck model ensure`"
        )
    return actual


# --------------------------------------------------------------------------- offline build (pure)


@dataclass
class _Table:
    """A FlatBuffers table to write: field slot -> value (see :class:`_FlatBufferWriter`)."""

    fields: dict[int, Any]


@dataclass(frozen=True)
class _Scalar:
    """A scalar table field, packed with a ``struct`` format (e.g. ``"<B"``)."""

    fmt: str
    value: int


@dataclass(frozen=True)
class _Existing:
    """An object that already exists in the appended original buffer, by its position there."""

    position: int


@dataclass(frozen=True)
class _Floats:
    """A ``[float]`` vector."""

    values: tuple[float, ...]


@dataclass(frozen=True)
class _UBytes:
    """A ``[ubyte]`` vector whose data starts at a multiple of ``alignment_bytes``."""

    data: bytes
    alignment_bytes: int


@dataclass(frozen=True)
class _TableVector:
    """A vector of tables (new :class:`_Table` or :class:`_Existing` ones)."""

    items: tuple[Any, ...]


class _FlatBufferWriter:
    """A minimal FlatBuffers writer whose output depends only on its input.

    The ``flatbuffers`` package changes its byte layout between releases (vtable sharing
    changed in 25.12), which would make the offline build's sha256 depend on the installed
    version. This writer lays objects out front to back (root offset and file identifier,
    then each table after its vtable and before its children), so all unsigned offsets
    point forward. An existing buffer can be appended after the new objects and referenced
    through :class:`_Existing`: its internal offsets are relative, so they stay valid.
    """

    def __init__(self, file_identifier: bytes) -> None:
        self._data = bytearray(struct.pack("<I", 0) + file_identifier)
        self._appended_refs: list[tuple[int, int]] = []  # (offset field, position in the appended buffer)

    def _pad(self, alignment: int, ahead: int = 0) -> None:
        self._data += bytes(-(len(self._data) + ahead) % alignment)

    def _link(self, field_position: int, child: Any) -> None:
        if isinstance(child, _Existing):
            self._appended_refs.append((field_position, child.position))
        else:
            struct.pack_into("<I", self._data, field_position, self._write(child) - field_position)

    def _write(self, value: Any) -> int:
        if isinstance(value, str):
            encoded = value.encode("utf-8")
            self._pad(4)
            position = len(self._data)
            self._data += struct.pack("<I", len(encoded)) + encoded + b"\0"
            return position
        if isinstance(value, _Floats):
            self._pad(4)
            position = len(self._data)
            self._data += struct.pack(f"<I{len(value.values)}f", len(value.values), *value.values)
            return position
        if isinstance(value, _UBytes):
            self._pad(value.alignment_bytes, ahead=4)
            position = len(self._data)
            self._data += struct.pack("<I", len(value.data)) + value.data
            return position
        if isinstance(value, _TableVector):
            self._pad(4)
            position = len(self._data)
            self._data += struct.pack("<I", len(value.items)) + bytes(4 * len(value.items))
            for index, item in enumerate(value.items):
                self._link(position + 4 + 4 * index, item)
            return position
        if isinstance(value, _Table):
            return self._write_table(value)
        raise TypeError(f"cannot serialise {type(value).__name__}")

    def _write_table(self, table: _Table) -> int:
        slot_count = max(table.fields, default=-1) + 1
        field_offsets = [0] * slot_count
        layout: list[tuple[int, Any]] = []
        table_size = 4  # the soffset to the vtable comes first
        for slot in sorted(table.fields):
            value = table.fields[slot]
            size = struct.calcsize(value.fmt) if isinstance(value, _Scalar) else 4
            table_size += -table_size % size
            field_offsets[slot] = table_size
            layout.append((table_size, value))
            table_size += size
        table_size += -table_size % 4
        vtable = struct.pack(f"<HH{slot_count}H", 4 + 2 * slot_count, table_size, *field_offsets)
        self._pad(4, ahead=len(vtable))
        vtable_position = len(self._data)
        self._data += vtable
        table_position = len(self._data)
        self._data += bytes(table_size)
        struct.pack_into("<i", self._data, table_position, table_position - vtable_position)
        for offset, value in layout:
            if isinstance(value, _Scalar):
                struct.pack_into(value.fmt, self._data, table_position + offset, value.value)
        for offset, value in layout:
            if not isinstance(value, _Scalar):
                self._link(table_position + offset, value)
        return table_position

    def finish(self, root: _Table, appended: bytes = b"", appended_alignment: int = 64) -> bytes:
        """Write ``root`` and everything it references, then append ``appended`` aligned."""
        struct.pack_into("<I", self._data, 0, self._write(root))
        self._pad(appended_alignment)
        base = len(self._data)
        for field_position, appended_position in self._appended_refs:
            struct.pack_into("<I", self._data, field_position, base + appended_position - field_position)
        return bytes(self._data) + appended


def _table_slots(buffer: bytes, table_position: int) -> list[int]:
    """Field offsets (0 = absent) of a FlatBuffers table, read from its vtable."""
    vtable_position = table_position - struct.unpack_from("<i", buffer, table_position)[0]
    vtable_size = struct.unpack_from("<H", buffer, vtable_position)[0]
    return list(struct.unpack_from(f"<{(vtable_size - 4) // 2}H", buffer, vtable_position + 4))


def _referenced_position(buffer: bytes, field_position: int) -> int:
    return field_position + struct.unpack_from("<I", buffer, field_position)[0]


def _vector_items(buffer: bytes, vector_position: int) -> tuple[_Existing, ...]:
    count = struct.unpack_from("<I", buffer, vector_position)[0]
    return tuple(_Existing(_referenced_position(buffer, vector_position + 4 + 4 * i)) for i in range(count))


def _landmark_metadata_table() -> _Table:
    """ModelMetadata (metadata_schema.fbs) for the legacy landmark model, slot by slot."""
    feature_properties, image_properties, normalization_options = 1, 2, 1  # union member ids
    rgb = 1  # ColorSpaceType.RGB
    image_input = _Table(
        {
            0: "image",
            3: _Table({0: _Scalar("<B", image_properties), 1: _Table({0: _Scalar("<b", rgb)})}),
            4: _TableVector(
                (
                    _Table(
                        {0: _Scalar("<B", normalization_options), 1: _Table({0: _Floats((0.0,)), 1: _Floats((255.0,))})}
                    ),
                )
            ),
            5: _Table({0: _Floats((1.0,)), 1: _Floats((0.0,))}),
        }
    )
    outputs = tuple(
        _Table({0: name, 3: _Table({0: _Scalar("<B", feature_properties), 1: _Table({})}), 5: _Table({})})
        for name in _LANDMARK_OUTPUT_NAMES
    )
    subgraph = _Table({2: _TableVector((image_input,)), 3: _TableVector(outputs)})
    return _Table({0: "Pose landmarks (full)", 3: _TableVector((subgraph,)), 7: _METADATA_PARSER_VERSION})


def add_landmark_metadata(landmark_tflite: bytes) -> bytes:
    """Attach the TFLite metadata MediaPipe's Tasks API needs to the legacy landmark model.

    The input is declared an RGB image normalised with mean 0 and std 255 (the legacy graph
    feeds pixels scaled to [0, 1]); the five outputs are declared as features named, in
    order, landmarks, pose_flag, segmentation, heatmap and world_landmarks. The original
    model is kept byte for byte after a new root table that adds one buffer (the metadata)
    and one ``TFLITE_METADATA`` entry, so the result does not depend on any library version.
    """
    if landmark_tflite[4:8] != _TFLITE_FILE_IDENTIFIER:
        raise ModelError("the landmark model is not a TFLite flatbuffer (no TFL3 identifier)")
    root_position = _referenced_position(landmark_tflite, 0)
    slots = _table_slots(landmark_tflite, root_position)
    if not 5 <= len(slots) <= len(_TFLITE_MODEL_SLOTS) or slots[2] == 0 or slots[4] == 0:
        raise ModelError("the landmark model's root table has an unexpected layout; use the mediapipe 0.10.21 file")
    from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

    model = tflite_fb.Model.GetRootAsModel(landmark_tflite, 0)
    if any(model.Metadata(i).Name() == _METADATA_FIELD_NAME for i in range(model.MetadataLength())):
        raise ModelError("the landmark model already carries TFLite metadata; use the mediapipe 0.10.21 file")
    output_count = model.Subgraphs(0).OutputsLength()
    if output_count != len(_LANDMARK_OUTPUT_NAMES):
        raise ModelError(
            f"the landmark model has {output_count} outputs, expected {len(_LANDMARK_OUTPUT_NAMES)}; "
            "it is not the mediapipe 0.10.21 pose_landmark_full.tflite"
        )
    fields: dict[int, Any] = {}
    for slot, offset in enumerate(slots):
        if offset == 0:
            continue
        field_position = root_position + offset
        if _TFLITE_MODEL_SLOTS[slot] == "version":
            fields[slot] = _Scalar("<I", struct.unpack_from("<I", landmark_tflite, field_position)[0])
        else:
            fields[slot] = _Existing(_referenced_position(landmark_tflite, field_position))
    buffers = _vector_items(landmark_tflite, fields[4].position)
    metadata_entries = _vector_items(landmark_tflite, fields[6].position) if 6 in fields else ()
    metadata_bytes = _FlatBufferWriter(_METADATA_FILE_IDENTIFIER).finish(_landmark_metadata_table())
    fields[4] = _TableVector((*buffers, _Table({0: _UBytes(metadata_bytes, 16)})))
    new_entry = _Table({0: _METADATA_FIELD_NAME.decode(), 1: _Scalar("<I", len(buffers))})
    fields[6] = _TableVector((*metadata_entries, new_entry))
    return _FlatBufferWriter(_TFLITE_FILE_IDENTIFIER).finish(_Table(fields), appended=landmark_tflite)


def task_bundle_bytes(members: Mapping[str, bytes], alignment_bytes: int = TASK_ALIGNMENT_BYTES) -> bytes:
    """Pack files into a ``.task`` bundle: an uncompressed, aligned, reproducible zip.

    Members are stored (no compression) in the given order with fixed timestamps and
    attributes; each member's data starts at a multiple of ``alignment_bytes`` (padding
    goes into a zipalign-style extra field), so equal inputs give identical bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            data_start = buffer.tell() + _ZIP_LOCAL_HEADER_BYTES + len(name.encode("utf-8")) + 6
            padding = -data_start % alignment_bytes
            info.extra = struct.pack("<HHH", _ZIP_ALIGNMENT_EXTRA_ID, 2 + padding, alignment_bytes) + bytes(padding)
            archive.writestr(info, data)
    return buffer.getvalue()


def full_task_from_tflites(detector_tflite: bytes, landmark_tflite: bytes) -> bytes:
    """The full ``.task`` bundle built from the legacy detector and landmark TFLite files."""
    return task_bundle_bytes(
        {DETECTOR_MEMBER: detector_tflite, LANDMARKS_MEMBER: add_landmark_metadata(landmark_tflite)}
    )


# --------------------------------------------------------------------------- offline build (I/O)


def read_wheel_tflites(wheel_path: str | os.PathLike[str], manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """Read the detector and landmark TFLite files from a mediapipe 0.10.21 wheel, sha256-checked.

    Returns
    -------
    dict
        ``{DETECTOR_MEMBER: bytes, LANDMARKS_MEMBER: bytes}``.
    """
    recipe = manifest["offline_build"]["full"]
    wheel_path = Path(wheel_path)
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            tflites = {
                task_member: wheel.read(source["wheel_member"]) for task_member, source in recipe["sources"].items()
            }
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(
            f"{wheel_path} is not a usable {recipe['wheel']} wheel ({exc}); "
            f"download one with `pip download --no-deps {recipe['wheel']}`"
        ) from exc
    for task_member, source in recipe["sources"].items():
        actual = hashlib.sha256(tflites[task_member]).hexdigest()
        if actual != source["sha256"]:
            raise ModelError(
                f"{wheel_path}: {source['wheel_member']} has sha256 {actual}, expected {source['sha256']}; "
                f"use an unmodified {recipe['wheel']} wheel"
            )
    return tflites


def download_wheel(dest_dir: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Path:
    """Fetch the mediapipe 0.10.21 wheel with pip (no install) into ``dest_dir``; return its path."""
    recipe = manifest["offline_build"]["full"]
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
    ]
    command += [
        "--python-version",
        "3.11",
        "--platform",
        recipe["wheel_platform"],
        recipe["wheel"],
        "-d",
        str(dest_dir),
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"`pip download {recipe['wheel']}` could not run ({exc})") from exc
    if completed.returncode != 0:
        tail = " ".join(completed.stderr.strip().splitlines()[-2:])
        raise ModelError(f"`pip download {recipe['wheel']}` failed: {tail}")
    wheels = sorted(dest_dir.glob(recipe["wheel_glob"]))
    if not wheels:
        raise ModelError(f"`pip download {recipe['wheel']}` left no wheel in {dest_dir}")
    return wheels[-1]


def build_full_model(wheel_path: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Build the full ``.task`` from a mediapipe 0.10.21 wheel and write it atomically to ``target``.

    The result must have the offline-build sha256 recorded in the manifest.
    """
    manifest = load_manifest()
    tflites = read_wheel_tflites(wheel_path, manifest)
    task = full_task_from_tflites(tflites[DETECTOR_MEMBER], tflites[LANDMARKS_MEMBER])
    expected = manifest["offline_build"]["full"]["sha256"]
    actual = hashlib.sha256(task).hexdigest()
    if actual != expected:
        raise ModelError(
            f"the model built from {wheel_path} has sha256 {actual}, not the manifest's {expected}; "
            "the wheel's files or this gaitcheck version differ from the ones the manifest was made with. "
            "Please report this; meanwhile "
            f"download the official model and set {MODEL_ENV}"
        )
    with atomic_path(target) as tmp:
        tmp.write_bytes(task)
    return Path(target)


# --------------------------------------------------------------------------- online route


def download_official(variant: str, target: str | os.PathLike[str], *, progress: bool = True) -> Path:
    """Download Google's official model to ``target`` (atomically) and verify its sha256."""
    entry = load_manifest()["official"][variant]
    url, expected = entry["url"], entry.get("sha256")
    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"download of {url} failed ({getattr(exc, 'reason', exc)})") from exc
    with response, atomic_path(target) as tmp:
        total_bytes = int(response.headers.get("Content-Length") or 0) or entry.get("size_bytes")
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as handle, _progress_bar(progress, total_bytes, model_filename(variant)) as advance:
                for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    handle.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
        except OSError as exc:
            raise ModelError(f"download of {url} was interrupted ({exc}); try again") from exc
        if expected is None:
            raise ModelError(
                f"downloaded {url}, but the manifest records no sha256 for the {variant} model, so it was not "
                f"kept; download it yourself and point {MODEL_ENV} at it"
            )
        if digest.hexdigest() != expected:
            raise ModelError(f"download of {url} has sha256 {digest.hexdigest()}, expected {expected}; try again")
    return Path(target)


@contextlib.contextmanager
def _progress_bar(enabled: bool, total_bytes: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n_bytes)``: a rich download bar when enabled, else a no-op."""
    if not enabled:
        yield lambda n_bytes: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()
    ) as bar:
        task = bar.add_task(f"downloading {label}", total=total_bytes)
        yield lambda n_bytes: bar.advance(task, n_bytes)


# --------------------------------------------------------------------------- provisioning


def ensure_model(
    variant: str = DEFAULT_VARIANT,
    *,
    allow_download: bool = True,
    allow_build: bool = True,
    progress: bool = True,
    wheel_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Return a usable model: find it, else download it, else build it offline.

    Parameters
    ----------
    variant
        ``"lite"``, ``"full"`` or ``"heavy"``. Only ``"full"`` can be built offline.
    allow_download
        Try Google's official download (short timeout).
    allow_build
        Try the offline build from the mediapipe 0.10.21 wheel (fetched with pip unless
        ``wheel_path`` is given or a copy is already in :func:`wheel_cache_dir`).
    progress
        Show a progress bar while downloading.
    wheel_path
        Build from this wheel instead of downloading anything.

    Raises
    ------
    ModelError
        Listing every route tried and why it failed, and how to fix it.
    """
    _check_variant(variant)
    target = model_cache_dir() / model_filename(variant)
    if wheel_path is not None:
        if variant != "full":
            raise ModelError(f"--from-wheel builds only the full model, not the {variant} one")
        return build_full_model(wheel_path, target)
    if os.environ.get(MODEL_ENV):
        return resolve_model(None, variant)

    tried = [f"${MODEL_ENV} (not set)"]
    if target.is_file():
        cached_sha256 = sha256_file(target)
        if identify_sha256(cached_sha256, load_manifest()) is not None:
            return target
        tried.append(f"cache {target} (sha256 {cached_sha256} is not in the manifest: outdated or corrupt)")
    else:
        tried.append(f"cache {target} (missing)")

    if allow_download:
        try:
            return download_official(variant, target, progress=progress)
        except ModelError as exc:
            tried.append(f"official download: {exc}")
    else:
        tried.append("official download: disabled")

    if not allow_build:
        tried.append("offline build: disabled")
    elif variant != "full":
        tried.append(f"offline build: only the full model can be built offline, not the {variant} one")
    else:
        try:
            return build_full_model(_find_or_download_wheel(), target)
        except ModelError as exc:
            tried.append(f"offline build: {exc}")

    fixes = [f"connect to the internet and run `gaitcheck model ensure --variant {variant}`"]
    if variant == "full":
        fixes.append("build from a downloaded wheel: `gaitcheck model ensure --from-wheel mediapipe-0.10.21-*.whl`")
    fixes.append(f"set {MODEL_ENV} to a pose_landmarker_{variant}.task file")
    raise ModelError(
        f"could not provision the {variant} pose model. Tried: "
        + "; ".join(f"({number}) {what}" for number, what in enumerate(tried, start=1))
        + ". Fix: "
        + ", or ".join(fixes)
    )


def _find_or_download_wheel() -> Path:
    """The cached mediapipe 0.10.21 wheel, fetched with pip into the cache when missing."""
    manifest = load_manifest()
    cached = sorted(wheel_cache_dir().glob(manifest["offline_build"]["full"]["wheel_glob"]))
    if cached and zipfile.is_zipfile(cached[-1]):
        return cached[-1]
    with tempfile.TemporaryDirectory(prefix="gaitcheck-wheel-") as tmp_dir:
        downloaded = download_wheel(tmp_dir, manifest)
        kept = wheel_cache_dir() / downloaded.name
        with atomic_path(kept) as tmp:
            shutil.copyfile(downloaded, tmp)
    return kept
