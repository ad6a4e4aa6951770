"""MediaPipe PoseLandmarker backend (Tasks API), imported lazily.

Two entry points, both working on frames that :func:`gaitcheck.video.iter_frames` yields:

* :func:`landmarks_for_frames` runs one landmarker in VIDEO mode (``num_poses=1``, with
  MediaPipe's own tracking and smoothing) over consecutive frames, optionally on a square
  crop of each frame, and returns the landmarks in full-frame coordinates.
* :class:`PeopleDetector` runs a landmarker in IMAGE mode with several poses on a few
  separate images (whole frames or tiles) to find everyone in view.

``mediapipe`` is imported inside the functions, so importing this module is cheap.
Every landmarker is opened with ``with``: one left to the garbage collector can deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.errors import ModelError, VideoError

if TYPE_CHECKING:
    from gaitcheck.track import PoseTrack
    from gaitcheck.video import VideoFrame

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BACKEND_NAME = "mediapipe-pose-landmarker"


def is_mediapipe_track(track: PoseTrack) -> bool:
    """Whether a track's landmarks come from this backend (``meta["backend"]``): rules that
    correct the pose model's own timing lags and landmark offsets apply only to them."""
    return track.meta.get("backend") == BACKEND_NAME


@dataclass(frozen=True)
class LandmarkerSettings:
    """PoseLandmarker confidences (MediaPipe's defaults); part of the track cache key."""

    min_pose_detection_confidence: float = 0.5
    min_pose_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class FrameLandmarks:
    """Landmarks of consecutive frames in full-frame coordinates (NaN where no pose).

    Attributes
    ----------
    frame_index : (n,) int, index of each frame in the clip.
    time_s : (n,) float, presentation times.
    image_xyz : (n, 33, 3) x, y normalised by the full upright frame size, z on the x scale.
    visibility, presence : (n, 33).
    world_xyz : (n, 33, 3) metres, origin at the hip centre.
    pose_found : (n,) bool.
    """

    frame_index: IntArray
    time_s: FloatArray
    image_xyz: FloatArray
    visibility: FloatArray
    presence: FloatArray
    world_xyz: FloatArray
    pose_found: NDArray[np.bool_]

    @classmethod
    def concatenate(cls, parts: Sequence[FrameLandmarks]) -> FrameLandmarks:
        """Join consecutive parts (frame order is the order given)."""
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__})

    def select(self, keep: NDArray[np.bool_]) -> FrameLandmarks:
        """Only the frames where ``keep`` is true."""
        return FrameLandmarks(**{name: getattr(self, name)[keep] for name in self.__dataclass_fields__})


def _check_model(model_path: Path) -> None:
    if not Path(model_path).is_file():
        raise ModelError(f"pose model {model_path} not found; run `gaitcheck model ensure` or pass --model PATH")


def _landmarker_options(model_path: Path, *, video_mode: bool, num_poses: int, settings: LandmarkerSettings) -> Any:
    from mediapipe.tasks.python import BaseOptions, vision

    _check_model(model_path)
    mode = vision.RunningMode.VIDEO if video_mode else vision.RunningMode.IMAGE
    return vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=mode,
        num_poses=num_poses,
        **settings.as_dict(),
    )


def _open_landmarker(options: Any, model_path: Path) -> Any:
    from mediapipe.tasks.python import vision

    try:
        return vision.PoseLandmarker.create_from_options(options)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(
            f"pose model {model_path} cannot be loaded by MediaPipe ({exc}); "
            "rebuild it with `gaitcheck model ensure --force` or pass another --model"
        ) from exc


def _pose_arrays(pose: Sequence[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(33, 3) xyz, (33,) visibility, (33,) presence of one MediaPipe pose."""
    values = np.array([(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in pose], dtype=np.float64)
    return values[:, :3], values[:, 3], values[:, 4]


def _world_array(pose: Sequence[Any]) -> FloatArray:
    return np.array([(p.x, p.y, p.z) for p in pose], dtype=np.float64)


def landmarks_for_frames(
    frames: Iterable[VideoFrame],
    n_frames: int,
    model_path: Path,
    *,
    width: int,
    height: int,
    settings: LandmarkerSettings = LandmarkerSettings(),
    crop_boxes: IntArray | None = None,
    first_index: int = 0,
    on_frames_done: Callable[[int], None] | None = None,
    report_every: int = 10,
    stop_inference: Callable[[], bool] | None = None,
    on_pose: Callable[[VideoFrame, FloatArray], None] | None = None,
) -> FrameLandmarks:
    """Run one VIDEO-mode landmarker (``num_poses=1``) over consecutive frames.

    Parameters
    ----------
    frames : ``n_frames`` consecutive upright frames, starting at clip index ``first_index``.
    n_frames : how many frames ``frames`` yields.
    model_path : the ``pose_landmarker_*.task`` file.
    width, height : upright frame size in pixels.
    settings : landmarker confidences.
    crop_boxes : optional ``(n_frames, 3)`` int array ``x0, y0, side_px``: the landmarker sees
        only that square of each frame; ``side_px == 0`` skips the frame (no pose). Landmarks
        are mapped back to full-frame coordinates.
    on_frames_done : called with the number of frames finished since the last call.
    report_every : frames between two ``on_frames_done`` calls.
    stop_inference : checked before every frame; once it returns true the remaining frames
        are still read (so a frame source can keep working) but get no pose.
    on_pose : called with each frame that got a pose and its ``(33, 3)`` landmarks (full-frame
        coordinates, as in ``image_xyz``) while the frame is still in memory, e.g. to cut
        pieces of it out.

    Returns
    -------
    FrameLandmarks
    """
    import mediapipe as mp

    k = skeleton.N_LANDMARKS
    image_xyz = np.full((n_frames, k, 3), np.nan)
    world_xyz = np.full((n_frames, k, 3), np.nan)
    visibility = np.zeros((n_frames, k))
    presence = np.zeros((n_frames, k))
    found = np.zeros(n_frames, dtype=bool)
    time_s = np.full(n_frames, np.nan)
    frame_index = np.arange(first_index, first_index + n_frames, dtype=np.int64)
    last_ms = -1
    done_since_report = 0
    options = _landmarker_options(model_path, video_mode=True, num_poses=1, settings=settings)
    with _open_landmarker(options, model_path) as landmarker:
        for row, frame in enumerate(frames):
            if row >= n_frames:
                break
            time_s[row] = frame.time_s
            skip = stop_inference is not None and stop_inference()
            timestamp_ms = max(round(frame.time_s * 1000.0), last_ms + 1)
            pixels: NDArray[np.uint8] | None
            if crop_boxes is None:
                x0, y0, side = 0, 0, 0
                pixels = frame.rgb
            else:
                x0, y0, side = (int(v) for v in crop_boxes[row])
                pixels = np.ascontiguousarray(frame.rgb[y0 : y0 + side, x0 : x0 + side]) if side else None
            if pixels is not None and not skip:
                last_ms = timestamp_ms
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
                result = landmarker.detect_for_video(image, timestamp_ms)
                if result.pose_landmarks:
                    xyz, vis, pres = _pose_arrays(result.pose_landmarks[0])
                    if crop_boxes is not None:
                        xyz = xyz * side + np.array([x0, y0, 0.0])
                        xyz = xyz / np.array([width, height, width], dtype=np.float64)
                    image_xyz[row], visibility[row], presence[row] = xyz, vis, pres
                    if result.pose_world_landmarks:
                        world_xyz[row] = _world_array(result.pose_world_landmarks[0])
                    found[row] = True
                    if on_pose is not None:
                        on_pose(frame, image_xyz[row])
            done_since_report += 1
            if on_frames_done is not None and done_since_report >= report_every:
                on_frames_done(done_since_report)
                done_since_report = 0
    if on_frames_done is not None and done_since_report:
        on_frames_done(done_since_report)
    if np.isnan(time_s).any():
        missing = int(np.isnan(time_s).sum())
        raise VideoError(f"the video yielded {n_frames - missing} frames where {n_frames} were expected")
    return FrameLandmarks(
        frame_index=frame_index,
        time_s=time_s,
        image_xyz=image_xyz,
        visibility=np.clip(visibility, 0.0, 1.0),
        presence=np.clip(presence, 0.0, 1.0),
        world_xyz=world_xyz,
        pose_found=found,
    )


class PeopleDetector:
    """An IMAGE-mode landmarker reporting several poses per image; use it as a context manager.

    Examples
    --------
    >>> with PeopleDetector(model_path) as detector:  # doctest: +SKIP
    ...     xy, visibility = detector.detect(rgb)
    """

    def __init__(
        self, model_path: Path, *, max_people: int = 4, settings: LandmarkerSettings = LandmarkerSettings()
    ) -> None:
        self._model_path = Path(model_path)
        self._options = _landmarker_options(self._model_path, video_mode=False, num_poses=max_people, settings=settings)
        self._landmarker: Any = None

    def __enter__(self) -> PeopleDetector:
        self._landmarker = _open_landmarker(self._options, self._model_path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def detect(self, pixels: NDArray[np.uint8]) -> tuple[FloatArray, FloatArray]:
        """Every pose in one RGB image: ``(K, 33, 2)`` xy normalised to the image, ``(K, 33)`` visibility."""
        import mediapipe as mp

        if self._landmarker is None:
            raise RuntimeError("PeopleDetector.detect called outside its `with` block")
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))
        result = self._landmarker.detect(image)
        poses = [_pose_arrays(pose) for pose in result.pose_landmarks]
        k = skeleton.N_LANDMARKS
        xy = np.array([p[0][:, :2] for p in poses], dtype=np.float64).reshape(len(poses), k, 2)
        visibility = np.array([p[1] for p in poses], dtype=np.float64).reshape(len(poses), k)
        return xy, visibility
