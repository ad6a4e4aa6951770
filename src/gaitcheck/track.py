"""The pose track: every landmark of every frame of one clip, with its metadata.

A :class:`PoseTrack` is a frozen dataclass of numpy arrays, time first. Axis order is
always ``(frame, landmark, coordinate)``; landmark order is
:data:`gaitcheck.skeleton.LANDMARK_NAMES`. Image coordinates are in the *upright* frame
(after the video's rotation metadata is applied), normalised to [0, 1] by width and
height as MediaPipe reports them; :attr:`PoseTrack.xy_px` gives pixels. Frames where no
pose was found hold NaN coordinates and zero visibility/presence.

Tracks are saved as Parquet (one row per frame, one column per landmark coordinate) with
the metadata as JSON in the file's schema metadata, so any Parquet reader can open them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.errors import TrackError
from gaitcheck.fileio import atomic_path

FloatArray = NDArray[np.floating[Any]]
BoolArray = NDArray[np.bool_]

_Derived = TypeVar("_Derived")

TRACK_FORMAT = "gaitcheck-track/1"
_META_KEY = b"gaitcheck"
_IMAGE_COORDS = ("x", "y", "z")
_WORLD_COORDS = ("world_x", "world_y", "world_z")
#: Frames copied at a time when gathering landmark coordinates: a block of (T, 33, 3)
#: float64 this long (1.6 MB) is transposed inside the processor cache.
GATHER_BLOCK_FRAMES = 2048


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class PendingArray:
    """A (T, 33, 3) coordinate array not at hand yet: its shape, and how to get it.

    :class:`PoseTrack` takes one for ``image_xyz`` or ``world_xyz``; the first read of the
    attribute calls ``result`` (e.g. a future's ``result``, waiting for another thread, or a
    computation run then) and keeps the array. Cleaning builds its tracks this way: events
    and metrics read the landmarks they need from the kept pixel rows and never wait for the
    full arrays.
    """

    shape: tuple[int, ...]
    result: Callable[[], NDArray[np.float64]]


#: Held while a pending array is read (:meth:`PoseTrack.__getattr__`), so it is computed once
#: however many threads read it; reentrant, as a computation may read another pending array.
_PENDING_LOCK = threading.RLock()


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """Landmarks of one person over one clip.

    Attributes
    ----------
    time_s : (T,) float64, strictly increasing presentation times of the frames.
    image_xyz : (T, 33, 3) float64, x and y normalised by the upright image width and height,
        z MediaPipe's relative depth (same scale as x). NaN where the pose was not found.
    visibility, presence : (T, 33) float64 in [0, 1].
    world_xyz : (T, 33, 3) float64, metres, origin at the hip centre (MediaPipe world landmarks);
        NaN when the backend has none.
    pose_found : (T,) bool.
    width, height : upright frame size in pixels.
    fps : nominal frame rate of the video (frames per second).
    meta : read-only mapping of JSON-able facts (source, video_sha256, model_sha256,
        settings, gaitcheck_version, backend, ...).

    Examples
    --------
    >>> t = PoseTrack.empty(n_frames=3, fps=30.0, width=640, height=480)
    >>> t.n_frames, t.xy_px.shape
    (3, (3, 33, 2))
    """

    time_s: FloatArray
    image_xyz: FloatArray
    visibility: FloatArray
    presence: FloatArray
    world_xyz: FloatArray
    pose_found: BoolArray
    width: int
    height: int
    fps: float
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: Pixel coordinates of the landmarks read so far, by landmark index: (2, T) rows of
    #: ``image_xyz[:, k, :2] * (width, height)``, filled by :meth:`points_px` (not copied by
    #: :meth:`replace`, whose image may differ).
    _pixel_rows: dict[int, NDArray[np.float64]] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Values derived from the track by :meth:`derived`, by key.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Coordinate arrays given as :class:`PendingArray`, by field name, until first read.
    _pending: dict[str, PendingArray] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Fields whose values :meth:`replace` took over unchanged from a validated track: their
    #: value checks (time order, visibility range) are not repeated; shapes always are.
    #: Reset to empty after validation.
    _validated_fields: frozenset[str] = field(default=frozenset(), repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        t = np.asarray(self.time_s, dtype=np.float64)
        n = t.shape[0] if t.ndim == 1 else -1
        if t.ndim != 1:
            raise TrackError(f"time_s must be 1-D, got shape {t.shape}")
        k = skeleton.N_LANDMARKS
        arrays = {
            "image_xyz": (self.image_xyz, (n, k, 3)),
            "visibility": (self.visibility, (n, k)),
            "presence": (self.presence, (n, k)),
            "world_xyz": (self.world_xyz, (n, k, 3)),
        }
        for name, (value, shape) in arrays.items():
            if isinstance(value, PendingArray) and name.endswith("_xyz"):
                if value.shape != shape:
                    raise TrackError(f"{name} must have shape {shape} (frames, landmarks, ...), got {value.shape}")
                self._pending[name] = value
                object.__delattr__(self, name)  # read through __getattr__ until it is resolved
                continue
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != shape:
                raise TrackError(f"{name} must have shape {shape} (frames, landmarks, ...), got {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        found = np.asarray(self.pose_found)
        if found.shape != (n,) or found.dtype != np.bool_:
            raise TrackError(f"pose_found must be a bool array of shape ({n},), got {found.dtype} {found.shape}")
        found = found.copy()
        found.setflags(write=False)
        object.__setattr__(self, "pose_found", found)
        trusted = self._validated_fields
        object.__setattr__(self, "_validated_fields", frozenset())
        if "time_s" not in trusted and n and not np.all(np.isfinite(t)):
            raise TrackError("time_s holds NaN or infinite values")
        if "time_s" not in trusted and n > 1 and not np.all(np.diff(t) > 0):
            bad = int(np.argmin(np.diff(t) > 0))
            raise TrackError(f"time_s must be strictly increasing; frame {bad + 1} is not after frame {bad}")
        t.setflags(write=False)
        object.__setattr__(self, "time_s", t)
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise TrackError(f"width and height must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise TrackError(f"fps must be a positive number, got {self.fps}")
        object.__setattr__(self, "fps", float(self.fps))
        for name in ("visibility", "presence"):
            if name in trusted:
                continue
            arr = getattr(self, name)
            outside = arr[(arr < 0) | (arr > 1)]  # NaN compares False: only the offending values
            finite_outside = outside[np.isfinite(outside)]
            if finite_outside.size:
                finite = arr[np.isfinite(arr)]
                raise TrackError(f"{name} must lie in [0, 1], got values from {finite.min():.3g} to {finite.max():.3g}")
        object.__setattr__(self, "meta", _frozen(self.meta))

    if not TYPE_CHECKING:  # hidden from type checkers, which would accept any attribute name

        def __getattr__(self, name: str) -> Any:
            """A pending coordinate array (:class:`PendingArray`), waited for and kept on first read."""
            if name not in self.__dict__.get("_pending", {}):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            with _PENDING_LOCK:
                if name in self.__dict__:  # another thread read it meanwhile
                    return self.__dict__[name]
                pending = self._pending[name]
                array = np.asarray(pending.result(), dtype=np.float64)
                if array.shape != pending.shape:
                    raise TrackError(f"{name} must have shape {pending.shape}, got {array.shape}")
                array.setflags(write=False)
                object.__setattr__(self, name, array)
                del self._pending[name]
                return array

    def __getstate__(self) -> dict[str, Any]:
        """The state pickle and copy keep: every pending array read first (a future or a
        computation does not travel), the read-only metadata as a plain dict."""
        for name in list(self._pending):
            getattr(self, name)
        return {**self.__dict__, "meta": dict(self.meta)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore :meth:`__getstate__`'s state, the metadata and arrays read-only again."""
        self.__dict__.update(state)
        object.__setattr__(self, "meta", _frozen(state["meta"]))
        for value in [*state.values(), *state.get("_pixel_rows", {}).values()]:
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, n_frames: int, fps: float, width: int, height: int, **meta: Any) -> PoseTrack:
        """A track of ``n_frames`` frames at a constant rate with no pose found anywhere."""
        k = skeleton.N_LANDMARKS
        nan3 = np.full((n_frames, k, 3), np.nan)
        return cls(
            time_s=np.arange(n_frames) / float(fps),
            image_xyz=nan3,
            visibility=np.zeros((n_frames, k)),
            presence=np.zeros((n_frames, k)),
            world_xyz=nan3.copy(),
            pose_found=np.zeros(n_frames, dtype=bool),
            width=width,
            height=height,
            fps=fps,
            meta=meta,
        )

    def replace(self, **changes: Any) -> PoseTrack:
        """A copy with some fields changed (the changed ones validated again; the value checks of
        the unchanged time and visibility arrays, already validated here, are not repeated)."""
        unchanged = frozenset(("time_s", "visibility", "presence")) - changes.keys()
        return dataclasses.replace(self, **changes, _validated_fields=unchanged)

    def with_meta(self, **extra: Any) -> PoseTrack:
        """A copy whose metadata has ``extra`` added."""
        return self.replace(meta={**self.meta, **extra})

    def select_frames(self, frames: slice | NDArray[np.integer[Any]] | NDArray[np.bool_]) -> PoseTrack:
        """A track holding only some frames (a slice, an index array or a boolean mask)."""
        return self.replace(
            time_s=self.time_s[frames],
            image_xyz=self.image_xyz[frames],
            visibility=self.visibility[frames],
            presence=self.presence[frames],
            world_xyz=self.world_xyz[frames],
            pose_found=self.pose_found[frames],
        )

    # ------------------------------------------------------------------ views
    @property
    def n_frames(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Time from the first to the last frame plus one nominal frame interval."""
        if self.n_frames == 0:
            return 0.0
        return float(self.time_s[-1] - self.time_s[0] + 1.0 / self.fps)

    @property
    def xy_px(self) -> FloatArray:
        """(T, 33, 2) image coordinates in pixels of the upright frame."""
        return self.image_xyz[..., :2] * np.array([self.width, self.height], dtype=np.float64)

    def point_px(self, name: str) -> NDArray[np.float64]:
        """(T, 2) pixel coordinates of one landmark, selected by name (read-only, see :meth:`points_px`)."""
        return self.points_px((name,))[name]

    def points_px(self, names: Iterable[str]) -> dict[str, NDArray[np.float64]]:
        """(T, 2) pixel coordinates of some landmarks, by name: ``xy_px[:, index(name)]``.

        The arrays are read-only views of (2, T) rows kept with the track: each landmark is
        gathered from ``image_xyz`` the first time it is asked for, all missing ones in one
        pass over the frames, so the analysis stages can read the same landmarks again
        without touching the (T, 33, 3) array (on an hour of frames one strided read of a
        landmark costs about as much as the metric arithmetic on it).
        """
        names = tuple(names)
        indices = [skeleton.index(name) for name in names]
        missing = sorted({k for k in indices if k not in self._pixel_rows})
        if missing:
            scale = np.array([self.width, self.height], dtype=np.float64)
            gathered = gather_landmark_rows(self.image_xyz, np.array(missing), 2)
            gathered *= np.tile(scale, len(missing))[:, None]
            gathered.setflags(write=False)
            for position, k in enumerate(missing):
                self._pixel_rows[k] = gathered[2 * position : 2 * position + 2]
        return {name: self._pixel_rows[k].T for name, k in zip(names, indices, strict=True)}

    def keep_points_px(self, rows_px: FloatArray, names: Iterable[str]) -> None:
        """Keep pixel coordinates a producer already holds, so :meth:`points_px` need not gather them.

        ``rows_px`` is (2 x landmarks, T): the x and y pixel rows of each of ``names`` in
        turn, equal to ``image_xyz[:, index(name), :2] * (width, height)`` (e.g. the rows
        the image coordinates were computed from, as ``rows / scale * scale``). A few
        frames are compared with ``image_xyz`` (unless it is still pending, when its producer
        answers for it); a mismatch raises ValueError.
        """
        names = tuple(names)
        rows = np.asarray(rows_px, dtype=np.float64)
        if rows.shape != (2 * len(names), self.n_frames):
            raise ValueError(f"rows_px must have shape {(2 * len(names), self.n_frames)}, got {rows.shape}")
        check = slice(None, None, max(1, self.n_frames // 64))
        scale = np.array([self.width, self.height], dtype=np.float64)
        checked = () if "image_xyz" in self._pending else names
        for position, name in enumerate(checked):
            k = skeleton.index(name)
            expected = self.image_xyz[check, k, :2] * scale
            if not np.array_equal(rows[2 * position : 2 * position + 2, check].T, expected, equal_nan=True):
                raise ValueError(f"rows_px for {name} do not match image_xyz * (width, height)")
        rows = rows.view()
        rows.setflags(write=False)
        for position, name in enumerate(names):
            self._pixel_rows[skeleton.index(name)] = rows[2 * position : 2 * position + 2]

    def derived(self, key: str, compute: Callable[[PoseTrack], _Derived]) -> _Derived:
        """``compute(self)``, computed the first time ``key`` is asked for and kept with the track
        (e.g. the leg length in pixels, which classification and cleaning both read from the raw
        track). A track's arrays are read-only, so the value stays valid; :meth:`replace` starts
        a new track without it."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        value: _Derived = self._derived[key]
        return value

    def point_world(self, name: str) -> FloatArray:
        """(T, 3) world coordinates (metres) of one landmark, selected by name."""
        return self.world_xyz[:, skeleton.index(name), :]

    def detection_rate(self) -> float:
        """Fraction of frames with a pose (0 for an empty track)."""
        return float(self.pose_found.mean()) if self.n_frames else 0.0

    # ------------------------------------------------------------------ tables and files
    def to_frame_table(self) -> Any:
        """A pandas DataFrame, one row per frame: ``frame, time_s, pose_found`` then for every
        landmark ``<name>_x, _y, _z, _visibility, _presence, _world_x, _world_y, _world_z``."""
        import pandas as pd

        columns: dict[str, Any] = {
            "frame": np.arange(self.n_frames, dtype=np.int64),
            "time_s": self.time_s,
            "pose_found": self.pose_found,
        }
        for k, name in enumerate(skeleton.LANDMARK_NAMES):
            for c, coord in enumerate(_IMAGE_COORDS):
                columns[f"{name}_{coord}"] = self.image_xyz[:, k, c]
            columns[f"{name}_visibility"] = self.visibility[:, k]
            columns[f"{name}_presence"] = self.presence[:, k]
            for c, coord in enumerate(_WORLD_COORDS):
                columns[f"{name}_{coord}"] = self.world_xyz[:, k, c]
        return pd.DataFrame(columns)

    def header(self) -> dict[str, Any]:
        """The JSON-able facts stored beside the arrays in a saved track."""
        return {
            "format": TRACK_FORMAT,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "meta": dict(self.meta),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the track to a Parquet file atomically and return its path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.to_frame_table(), preserve_index=False)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(self.header()).encode()
        table = table.replace_schema_metadata(schema_meta)
        target = Path(path)
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PoseTrack:
        """Read a track written by :meth:`save`; raises :class:`TrackError` naming the file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise TrackError(f"{path}: no such track file; create one with `gaitcheck extract VIDEO -o {path}`")
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise TrackError(f"{path}: not a readable Parquet pose track ({exc}); extract it again") from exc
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise TrackError(f"{path}: Parquet file has no gaitcheck metadata; it was not written by gaitcheck")
        header = json.loads(raw)
        if header.get("format") != TRACK_FORMAT:
            raise TrackError(f"{path}: track format {header.get('format')!r}, expected {TRACK_FORMAT!r}")
        frame = table.to_pandas()
        n = len(frame)
        k = skeleton.N_LANDMARKS
        image = np.empty((n, k, 3))
        world = np.empty((n, k, 3))
        vis = np.empty((n, k))
        pres = np.empty((n, k))
        try:
            for i, name in enumerate(skeleton.LANDMARK_NAMES):
                for c, coord in enumerate(_IMAGE_COORDS):
                    image[:, i, c] = frame[f"{name}_{coord}"].to_numpy(dtype=np.float64)
                for c, coord in enumerate(_WORLD_COORDS):
                    world[:, i, c] = frame[f"{name}_{coord}"].to_numpy(dtype=np.float64)
                vis[:, i] = frame[f"{name}_visibility"].to_numpy(dtype=np.float64)
                pres[:, i] = frame[f"{name}_presence"].to_numpy(dtype=np.float64)
            time_s = frame["time_s"].to_numpy(dtype=np.float64)
            found = frame["pose_found"].to_numpy(dtype=bool)
        except KeyError as exc:
            raise TrackError(f"{path}: column {exc} missing; the file is not a complete gaitcheck track") from exc
        return cls(
            time_s=time_s,
            image_xyz=image,
            visibility=vis,
            presence=pres,
            world_xyz=world,
            pose_found=found,
            width=header["width"],
            height=header["height"],
            fps=header["fps"],
            meta=header.get("meta", {}),
        )


def _landmark_runs(landmarks: NDArray[np.intp]) -> list[tuple[int, int]]:
    """(start, end) positions of the runs of consecutive indices in ascending ``landmarks``."""
    starts = np.flatnonzero(np.diff(landmarks, prepend=-2) != 1)
    ends = np.append(starts[1:], landmarks.size)
    return [(int(start), int(end)) for start, end in zip(starts, ends, strict=True)]


def gather_landmark_rows(values: NDArray[Any], landmarks: NDArray[np.intp], n_coords: int) -> NDArray[np.float64]:
    """(landmarks x n_coords, T) rows of the first ``n_coords`` coordinates of some landmarks
    (ascending indices) of a (T, 33, C) array: one contiguous row per coordinate series.

    The array is read in blocks of :data:`GATHER_BLOCK_FRAMES` frames and each run of
    consecutive landmarks is transposed block by block, which keeps the strided reads and
    the transposition in cache (about twice as fast as one fancy-indexed gather and
    transpose of a whole hour).
    """
    n_frames = values.shape[0]
    rows = np.empty((landmarks.size, n_coords, n_frames))
    runs = _landmark_runs(landmarks)
    for first in range(0, n_frames, GATHER_BLOCK_FRAMES):
        block = values[first : first + GATHER_BLOCK_FRAMES]
        for start, end in runs:
            run = block[:, landmarks[start] : landmarks[end - 1] + 1, :n_coords]
            rows[start:end, :, first : first + GATHER_BLOCK_FRAMES] = run.transpose(1, 2, 0)
    return rows.reshape(landmarks.size * n_coords, n_frames)


def scatter_landmark_rows(target: FloatArray, landmarks: NDArray[np.intp], rows: FloatArray) -> None:
    """Write (landmarks x C, T) rows into the first C coordinates of some landmarks (ascending
    indices) of a (T, 33, >=C) array; the inverse of :func:`gather_landmark_rows`, blocked the same way."""
    n_frames = target.shape[0]
    per_landmark = rows.reshape(landmarks.size, -1, n_frames)
    n_coords = per_landmark.shape[1]
    runs = _landmark_runs(landmarks)
    for first in range(0, n_frames, GATHER_BLOCK_FRAMES):
        block = target[first : first + GATHER_BLOCK_FRAMES]
        for start, end in runs:
            run = per_landmark[start:end, :, first : first + GATHER_BLOCK_FRAMES]
            block[:, landmarks[start] : landmarks[end - 1] + 1, :n_coords] = run.transpose(2, 0, 1)
