"""Video -> pose track: choose the person, run MediaPipe on both cores, cache the result.

:func:`extract_track` is the one call the rest of gaitcheck needs. It

1. returns the cached track when the same video was extracted before with the same model,
   settings and gaitcheck version (:func:`cache_key`);
2. runs the landmarker on whole frames and, on the way, searches a few evenly spaced
   frames for everyone in view (:func:`people_in_frame`). When no searched frame is
   crowded (at most one person, big enough for the whole-frame detector) those landmarks
   are the result. Otherwise, or when a person is asked for, a second pass follows the
   chosen person through a square crop of each frame and drops poses off their path
   (:mod:`gaitcheck.people`);
3. splits the clip into contiguous frame ranges, one per worker thread, each with its own
   landmarker. A range after the first starts ``warmup_s`` early so MediaPipe's
   tracking and smoothing settle; those warm-up frames are discarded, which makes the
   joined track continuous at the joins (``tests/test_extract.py`` checks this against a
   single-threaded run);
4. stores the track in the cache (Parquet, atomic) with its provenance in ``track.meta``.

:func:`extract_with_pelvis_crops` also keeps, for the pelvis estimate, the neighbourhood of
the pelvis of every frame (:func:`gaitcheck.pelvis.pelvis_crop`), cut as soon as the frame's
landmarks are known, while the frame is still in memory: the estimate then needs no second
decode of the clip. Beyond :data:`CROP_MEMORY_BUDGET_BYTES` the crops are kept compressed
(:class:`CropStore`), so a long clip's crops do not fill the memory.

Workers are threads (``concurrent.futures.ThreadPoolExecutor``): MediaPipe inference and
FFmpeg decoding release the GIL, so two threads keep two cores busy without the start-up
cost of worker processes (importing MediaPipe and loading the model again, about 2 CPU
seconds each; see ``benchmarks/bench_extract.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import numpy as np
from numpy.typing import NDArray

from gaitcheck import __version__, people, skeleton
from gaitcheck.errors import AnalysisError
from gaitcheck.pelvis import PelvisCrop, PelvisCrops, pelvis_crop, scene_frame_indices
from gaitcheck.pose.mediapipe_backend import BACKEND_NAME, FrameLandmarks, LandmarkerSettings, PeopleDetector
from gaitcheck.track import PoseTrack

if TYPE_CHECKING:
    from gaitcheck.video import VideoFrame, VideoInfo

CACHE_SUBDIR = "tracks"
#: Clips shorter than this run in one thread: a second range's warm-up would cost more than it saves.
MIN_PARALLEL_DURATION_S = 3.0

#: Frames searched for people during extraction: this many per second of video, within
#: [MIN_SCAN_FRAMES, ExtractionSettings.people_scan_frames].
SCAN_FRAMES_PER_S = 3.0
MIN_SCAN_FRAMES = 8

#: Pelvis crops kept uncompressed per clip (split between the workers); the crops beyond it
#: are kept zlib-compressed (:class:`CropStore`; lossless, so the estimate is unchanged). A
#: crop takes up to 190 kB (a pelvis at the 128 px crop cap); 60 s at 60 fps of a 1080p
#: runner that size would otherwise hold about 680 MB, and about 450 MB with this budget.
#: 256 MiB keeps the crops of the clips users film (20-60 s; 55 kB per crop for the 720p
#: demo runner, 200 MB for 60 s at 60 fps) uncompressed, so they pay no compression time
#: (1-3 ms of CPU per crop, which would add about 5 % to extraction).
CROP_MEMORY_BUDGET_BYTES = 256 * 2**20
#: zlib level of the compressed crops: level 1 packed demo_rear's crops 2.4x (2.8x scaled to
#: 1080p, 1.5x on the real 1080p rear clip) for 1-3 ms of CPU per crop, 0.5-1 ms to unpack;
#: level 3 gained under 5 % for up to 1.6x the CPU.
CROP_ZLIB_LEVEL = 1

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ExtractionSettings:
    """Everything besides the video and the model that changes an extracted track.

    Attributes
    ----------
    landmarker : MediaPipe confidences.
    person : who to follow (``None`` = the most likely subject; see :func:`people.choose_person`).
    people_scan_frames : at most this many evenly spaced frames are searched for people
        (:data:`SCAN_FRAMES_PER_S` per second of video, at least :data:`MIN_SCAN_FRAMES`).
    warmup_s : frames processed and discarded before each later worker's range.
    """

    landmarker: LandmarkerSettings = field(default_factory=LandmarkerSettings)
    person: str | None = None
    people_scan_frames: int = 24
    warmup_s: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PeopleSurvey:
    """Who is in a clip, from a scan of sampled frames.

    Attributes
    ----------
    info : container facts of the video.
    sampled_frames : indices of the frames looked at.
    frames_with_pose : how many of them held at least one pose.
    people : ranked tracks (person 1 = the most likely subject).
    """

    info: VideoInfo
    sampled_frames: NDArray[np.int64]
    frames_with_pose: int
    people: list[people.PersonTrack]

    @property
    def pose_detection_rate(self) -> float:
        """Fraction of the sampled frames holding at least one pose."""
        return self.frames_with_pose / max(int(self.sampled_frames.size), 1)

    @property
    def sample_step_frames(self) -> float:
        """Mean distance between sampled frames."""
        if self.sampled_frames.size < 2:
            return float(self.info.n_frames)
        return float(np.mean(np.diff(self.sampled_frames)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary for ``gaitcheck info --json``."""
        return {
            **self.info.as_dict(),
            "pose_detection_rate": round(self.pose_detection_rate, 4),
            "frames_scanned": int(self.sampled_frames.size),
            "people": [p.summary(int(self.sampled_frames.size), self.info.width) for p in self.people],
        }


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where extracted tracks are cached: ``<gaitcheck cache root>/tracks``.

    The root is ``$GAITCHECK_CACHE_DIR`` or the per-user cache directory, shared with the
    model files (:func:`gaitcheck.pose.model.cache_root`).
    """
    from gaitcheck.pose.model import cache_root

    return cache_root() / CACHE_SUBDIR


def cache_key(video_sha256: str, model_sha256: str, settings: ExtractionSettings) -> str:
    """Hex sha256 naming a cached track: video bytes, model bytes, settings and version."""
    recipe = {
        "video_sha256": video_sha256,
        "model_sha256": model_sha256,
        "settings": settings.as_dict(),
        "gaitcheck_version": __version__,
        "backend": BACKEND_NAME,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _load_cached(path: Path) -> PoseTrack | None:
    from gaitcheck.errors import TrackError

    if not path.is_file():
        return None
    try:
        return PoseTrack.load(path)
    except TrackError:
        path.unlink(missing_ok=True)  # a damaged cache entry is rebuilt
        return None


# --------------------------------------------------------------------------- frame ranges


def split_frame_ranges(n_frames: int, n_workers: int, warmup_frames: int) -> list[tuple[int, int, int]]:
    """Split a clip into contiguous ranges ``(warmup_start, start, stop)``, one per worker.

    Every range after the first is preceded by ``warmup_frames`` frames that its worker
    processes and discards. Ranges are sized so each worker handles about the same number
    of frames, warm-up included.

    >>> split_frame_ranges(100, 2, 10)
    [(0, 0, 55), (45, 55, 100)]
    >>> split_frame_ranges(100, 1, 10)
    [(0, 0, 100)]
    """
    n_workers = max(1, min(n_workers, n_frames))
    per_worker = (n_frames + (n_workers - 1) * warmup_frames) / n_workers
    own_frames = per_worker - warmup_frames  # frames kept by each worker after the first
    ranges = []
    start = 0
    for w in range(n_workers):
        if w == n_workers - 1:
            stop = n_frames
        elif own_frames >= 1:
            stop = round(per_worker + w * own_frames)
        else:  # warm-up longer than a share: equal ranges, warm-up limited by the clip start
            stop = round((w + 1) * n_frames / n_workers)
        warmup_start = max(0, start - (warmup_frames if w else 0))
        ranges.append((warmup_start, start, stop))
        start = stop
    return ranges


# --------------------------------------------------------------------------- scanning


def sample_frame_indices(n_frames: int, n_samples: int) -> NDArray[np.int64]:
    """``n_samples`` evenly spaced frame indices covering the clip (fewer for short clips).

    >>> sample_frame_indices(100, 5).tolist()
    [0, 25, 50, 74, 99]
    """
    return np.unique(np.round(np.linspace(0, n_frames - 1, max(1, min(n_samples, n_frames)))).astype(np.int64))


def people_in_frame(
    detector: PeopleDetector, rgb: NDArray[np.uint8], frame_index: int, *, always_tiles: bool
) -> people.PeopleInFrame:
    """Everyone the detector finds in one frame.

    The whole frame is searched first; its tiles (:func:`people.scan_tiles`) are searched
    too when ``always_tiles`` is set or the whole frame did not show exactly one person.
    """
    height, width = rgb.shape[:2]
    regions = [(0, 0, width, height)]
    xy, _ = detector.detect(rgb)
    found = [xy]
    tiles = people.scan_tiles(width, height)
    searched_tiles = bool(tiles.shape[0]) and (always_tiles or xy.shape[0] != 1)
    if searched_tiles:
        for x0, y0, side in tiles.tolist():
            found.append(detector.detect(rgb[y0 : y0 + side, x0 : x0 + side])[0])
            regions.append((x0, y0, side, side))
    boxes_list, hips_list, regions_list = [], [], []
    for xy_region, (x0, y0, w, h) in zip(found, regions, strict=True):
        boxes, hips = people.poses_in_pixels(xy_region, (float(x0), float(y0)), (float(w), float(h)))
        boxes_list.append(boxes)
        hips_list.append(hips)
        regions_list.append(np.tile(np.array([x0, y0, x0 + w, y0 + h], dtype=np.float64), (boxes.shape[0], 1)))
    boxes_all, hips_all = np.concatenate(boxes_list), np.concatenate(hips_list)
    keep = people.merge_duplicates(boxes_all, hips_all, np.concatenate(regions_list))
    return people.PeopleInFrame(int(frame_index), boxes_all[keep], hips_all[keep], searched_tiles)


def survey_people(
    video: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] | None = None,
    n_samples: int = 24,
    settings: LandmarkerSettings | None = None,
) -> PeopleSurvey:
    """List the people in a clip and how often a pose is found (for ``gaitcheck info``).

    Looks at ``n_samples`` evenly spaced frames, whole and tile by tile, with several poses
    allowed per image.

    Parameters
    ----------
    video : the clip.
    model : pose model file; default: :func:`gaitcheck.pose.model.resolve_model`.
    n_samples : frames to look at.
    settings : landmarker confidences.

    Returns
    -------
    PeopleSurvey
    """
    from gaitcheck.pose.model import resolve_model
    from gaitcheck.video import iter_frames, probe_video

    video = Path(video)
    info = probe_video(video)
    model_path = resolve_model(model)
    indices = sample_frame_indices(info.n_frames, n_samples)
    wanted = set(indices.tolist())
    samples = []
    with PeopleDetector(model_path, settings=settings or LandmarkerSettings()) as detector:
        for frame in iter_frames(video, start=int(indices[0]), stop=int(indices[-1]) + 1):
            if frame.index in wanted:
                samples.append(people_in_frame(detector, frame.rgb, frame.index, always_tiles=True))
    ranked = people.rank_people(people.link_people(samples), len(samples))
    return PeopleSurvey(
        info=info,
        sampled_frames=indices,
        frames_with_pose=sum(1 for s in samples if s.n_people),
        people=ranked,
    )


# --------------------------------------------------------------------------- crop storage


@dataclass(frozen=True)
class _PackedCrop:
    """A pelvis crop with its image zlib-compressed."""

    data: bytes
    shape: tuple[int, int]
    origin_px: tuple[float, float]
    scale: float

    @classmethod
    def pack(cls, crop: PelvisCrop) -> _PackedCrop:
        image = np.ascontiguousarray(crop.image, dtype=np.uint8)
        rows, cols = image.shape
        return cls(zlib.compress(image.data, CROP_ZLIB_LEVEL), (rows, cols), crop.origin_px, crop.scale)

    def unpack(self) -> PelvisCrop:
        image = np.frombuffer(zlib.decompress(self.data), dtype=np.uint8).reshape(self.shape)
        return PelvisCrop(image=image, origin_px=self.origin_px, scale=self.scale)


class CropStore(Mapping[int, PelvisCrop]):
    """Pelvis crops by frame index, kept as they are up to a byte budget and compressed beyond it.

    Reading a crop gives the crop that was added (compressed ones are decoded on each read,
    read-only), so the pelvis estimate is the same whatever the budget; a long clip's crops
    take a fraction of the memory.

    Parameters
    ----------
    budget_bytes : uncompressed image bytes kept before crops are compressed.
    """

    def __init__(self, budget_bytes: float = float("inf")) -> None:
        self._crops: dict[int, PelvisCrop | _PackedCrop] = {}
        self._budget_bytes = budget_bytes
        self._plain_bytes = 0
        self._packed_bytes = 0

    def add(self, index: int, crop: PelvisCrop) -> None:
        """Store the crop of frame ``index`` (compressed once the budget is spent)."""
        size = int(crop.image.nbytes)
        if self._plain_bytes + size <= self._budget_bytes:
            self._crops[index] = crop
            self._plain_bytes += size
        else:
            packed = _PackedCrop.pack(crop)
            self._crops[index] = packed
            self._packed_bytes += len(packed.data)

    def update(self, other: CropStore) -> None:
        """Take over the crops of another store as they are stored (none is decoded)."""
        self._crops.update(other._crops)
        self._plain_bytes += other._plain_bytes
        self._packed_bytes += other._packed_bytes

    @property
    def nbytes(self) -> int:
        """Bytes of the stored images, compressed or not."""
        return self._plain_bytes + self._packed_bytes

    @property
    def n_packed(self) -> int:
        """How many crops are kept compressed."""
        return sum(isinstance(entry, _PackedCrop) for entry in self._crops.values())

    def __getitem__(self, index: int) -> PelvisCrop:
        entry = self._crops[index]
        return entry.unpack() if isinstance(entry, _PackedCrop) else entry

    def __iter__(self) -> Iterator[int]:
        return iter(self._crops)

    def __len__(self) -> int:
        return len(self._crops)


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _RangeJob:
    """One worker's share: frames ``start .. stop - 1``, preceded by warm-up from ``warmup_start``.

    ``scan_frames`` are also searched for people; with ``stop_when_crowded`` the landmarker
    stops (frames are still scanned) once a scanned frame is crowded
    (:attr:`people.PeopleInFrame.crowded`), because the whole-frame landmarks will not be
    used then.
    """

    video: Path
    model: Path
    settings: LandmarkerSettings
    warmup_start: int
    start: int
    stop: int
    width: int
    height: int
    crop_boxes: NDArray[np.int64] | None = None
    scan_frames: tuple[int, ...] = ()
    stop_when_crowded: bool = False
    pelvis_crops: bool = False
    crop_budget_bytes: float = float("inf")
    scene_frames: tuple[int, ...] = ()


@dataclass
class _RangeResult:
    """What one worker found: landmarks, people in the scan frames and, when asked for,
    pelvis crops and grey scene frames by frame index (:mod:`gaitcheck.pelvis`)."""

    landmarks: FrameLandmarks
    seen: list[people.PeopleInFrame]
    pelvis_crops: CropStore = field(default_factory=CropStore)
    scenes: dict[int, NDArray[np.uint8]] = field(default_factory=dict)
    pelvis_cpu_s: float = 0.0


def _run_range(job: _RangeJob, on_frames_done: ProgressCallback | None) -> _RangeResult:
    """Landmarks of the job's frames (warm-up dropped), the people seen in its scan frames and
    the pelvis crops of its frames (cut while each frame is in memory, no second decode)."""
    import cv2

    from gaitcheck.pose.mediapipe_backend import landmarks_for_frames
    from gaitcheck.video import iter_frames

    scan_frames = set(job.scan_frames)
    scene_frames = set(job.scene_frames)
    seen: list[people.PeopleInFrame] = []
    crops = CropStore(job.crop_budget_bytes)
    scenes: dict[int, NDArray[np.uint8]] = {}
    pelvis_cpu_s = [0.0]  # CPU time of this thread spent on crops and scenes
    size = np.array([job.width, job.height], dtype=np.float64)

    def keep_pelvis_crop(frame: VideoFrame, image_xyz: NDArray[np.float64]) -> None:
        if frame.index < job.start:  # warm-up
            return
        started = time.thread_time()
        crop = pelvis_crop(frame.rgb, image_xyz[:, :2] * size)
        if crop is not None:
            crops.add(frame.index, crop)
        pelvis_cpu_s[0] += time.thread_time() - started

    with contextlib.ExitStack() as stack:
        detector = stack.enter_context(PeopleDetector(job.model, settings=job.settings)) if scan_frames else None

        def frames() -> Iterator[VideoFrame]:
            for frame in iter_frames(job.video, start=job.warmup_start, stop=job.stop):
                if detector is not None and frame.index in scan_frames:
                    seen.append(people_in_frame(detector, frame.rgb, frame.index, always_tiles=False))
                if frame.index in scene_frames and frame.index >= job.start:
                    started = time.thread_time()
                    scenes[frame.index] = np.asarray(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
                    pelvis_cpu_s[0] += time.thread_time() - started
                yield frame

        def crowded() -> bool:
            return job.stop_when_crowded and any(s.crowded for s in seen)

        result = landmarks_for_frames(
            frames(),
            job.stop - job.warmup_start,
            job.model,
            width=job.width,
            height=job.height,
            settings=job.settings,
            crop_boxes=job.crop_boxes,
            first_index=job.warmup_start,
            on_frames_done=on_frames_done,
            stop_inference=crowded,
            on_pose=keep_pelvis_crop if job.pelvis_crops else None,
        )
    return _RangeResult(result.select(result.frame_index >= job.start), seen, crops, scenes, pelvis_cpu_s[0])


def _run_jobs(jobs: Sequence[_RangeJob], on_frames_done: ProgressCallback) -> _RangeResult:
    """Run the ranges, one thread and landmarker each, and join them in order.

    Threads run truly in parallel here: MediaPipe's inference and FFmpeg's decoding release
    the GIL. Unlike worker processes they cost no start-up (imports, model load) and no
    copying of results.
    """
    if len(jobs) == 1:
        return _run_range(jobs[0], on_frames_done)
    lock = threading.Lock()

    def report(n_done: int) -> None:
        with lock:
            on_frames_done(n_done)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="gaitcheck-pose") as pool:
        parts = list(pool.map(lambda job: _run_range(job, report), jobs))
    crops = CropStore()
    for part in parts:
        crops.update(part.pelvis_crops)
    return _RangeResult(
        landmarks=FrameLandmarks.concatenate([p.landmarks for p in parts]),
        seen=[s for p in parts for s in p.seen],
        pelvis_crops=crops,
        scenes={index: scene for p in parts for index, scene in p.scenes.items()},
        pelvis_cpu_s=sum(p.pelvis_cpu_s for p in parts),
    )


# --------------------------------------------------------------------------- main entry


def default_workers(duration_s: float) -> int:
    """Worker threads for a clip: one for short clips, else up to two (the CPU count)."""
    if duration_s < MIN_PARALLEL_DURATION_S:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _plan_subject(
    seen: list[people.PeopleInFrame], person: str | None, video: Path, size: tuple[int, int], n_frames: int
) -> tuple[people.PersonTrack, NDArray[np.int64] | None]:
    """The person to follow and, when they are small in the frame, the crop square of every frame."""
    ranked = people.rank_people(people.link_people(seen), len(seen))
    if not ranked:
        raise _no_person_error(video, f"{len(seen)} sampled frames")
    subject = people.choose_person(ranked, person, str(video))
    if people.crop_side_px(subject, size) >= min(size):
        return subject, None
    sampled = [s.frame_index for s in seen]
    sample_step = float(np.mean(np.diff(sampled))) if len(sampled) > 1 else float(n_frames)
    return subject, people.crop_boxes(subject, np.arange(n_frames, dtype=np.int64), size, sample_step)


def _timed(timings: dict[str, float], name: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function(*args)`` and record its wall time under ``name``."""
    started = time.perf_counter()
    result = function(*args)
    timings[name] = time.perf_counter() - started
    return result


def _no_person_error(video: Path, where: str) -> AnalysisError:
    return AnalysisError(
        f"{video}: no person found in {where}. Film the runner with the whole body in view "
        "(head to feet, in good light), or check that this is the right clip"
    )


def _hip_centre_px(landmarks: FrameLandmarks, width: int, height: int) -> NDArray[np.float64]:
    xy = landmarks.image_xyz[..., :2] * np.array([width, height], dtype=np.float64)
    return 0.5 * (xy[:, skeleton.index("left_hip")] + xy[:, skeleton.index("right_hip")])


def _drop_frames(landmarks: FrameLandmarks, keep: NDArray[np.bool_]) -> FrameLandmarks:
    """The same frames, with the pose removed wherever ``keep`` is false."""
    drop = ~keep
    image_xyz = landmarks.image_xyz.copy()
    world_xyz = landmarks.world_xyz.copy()
    visibility = landmarks.visibility.copy()
    presence = landmarks.presence.copy()
    image_xyz[drop] = np.nan
    world_xyz[drop] = np.nan
    visibility[drop] = 0.0
    presence[drop] = 0.0
    return FrameLandmarks(
        frame_index=landmarks.frame_index,
        time_s=landmarks.time_s,
        image_xyz=image_xyz,
        visibility=visibility,
        presence=presence,
        world_xyz=world_xyz,
        pose_found=landmarks.pose_found & keep,
    )


class ExtractOptions(TypedDict, total=False):
    """Keyword options of :func:`extract_track` and :func:`extract_with_pelvis_crops`.

    Attributes
    ----------
    model : pose model file; default: :func:`gaitcheck.pose.model.ensure_model` (found, or
        downloaded / built offline on first use).
    person : who to follow when several people are in view: ``None`` (the largest, most
        persistent person), a number from ``gaitcheck info``, ``"left"``, ``"right"`` or
        ``"largest"``.
    workers : threads (each with its own landmarker) to use; default :func:`default_workers`
        (2 on a 2-core machine, 1 for clips under 3 s).
    use_cache : return a cached track when there is one, and cache the new one (default True).
    progress : ``True`` (default) shows a progress bar on the terminal, ``False`` nothing; a
        callable is called with the number of frames finished since its last call.
    settings : landmarker confidences and scan sizes; ``person`` overrides ``settings.person``.
    """

    model: str | os.PathLike[str] | None
    person: str | int | None
    workers: int | None
    use_cache: bool
    progress: bool | ProgressCallback
    settings: ExtractionSettings | None


def extract_track(video: str | os.PathLike[str], **options: Unpack[ExtractOptions]) -> PoseTrack:
    """Extract the pose track of one person from a video (cached).

    Parameters
    ----------
    video : the clip.
    **options : see :class:`ExtractOptions`.

    Returns
    -------
    PoseTrack
        One row per video frame, times from the container; ``meta`` records the video path
        and sha256, model sha256, settings, gaitcheck version, backend, subject choice and
        timings.

    Raises
    ------
    InputError, VideoError
        The video cannot be read.
    ModelError
        No usable pose model.
    AnalysisError
        Nobody was found in the clip.
    """
    track, _ = _extract(video, options, pelvis_crops=False)
    return track


def extract_with_pelvis_crops(
    video: str | os.PathLike[str], **options: Unpack[ExtractOptions]
) -> tuple[PoseTrack, PelvisCrops | None]:
    """:func:`extract_track`, plus the pelvis crops of the frames (:func:`gaitcheck.pelvis.pelvis_crop`).

    The crops are cut while each frame is decoded for the pose model, so the pelvis estimate
    (:func:`gaitcheck.pelvis.estimate_from_crops`) needs no second decode of the clip. They
    are None when the track comes from the cache (the crops are not cached). Same options
    and errors as :func:`extract_track`.
    """
    return _extract(video, options, pelvis_crops=True)


def _extract(
    video: str | os.PathLike[str], options: ExtractOptions, *, pelvis_crops: bool
) -> tuple[PoseTrack, PelvisCrops | None]:
    """Both public entries; the defaults of :class:`ExtractOptions` are applied here."""
    from gaitcheck.fileio import sha256_file
    from gaitcheck.pose.model import ensure_model, resolve_model
    from gaitcheck.video import frame_times_s, probe_video

    unknown = sorted(set(options) - set(ExtractOptions.__annotations__))
    if unknown:  # keyword typos fail as they would with named parameters
        raise TypeError(f"unexpected extraction option(s): {', '.join(unknown)}")
    started = time.perf_counter()
    video = Path(video)
    model, person, workers = options.get("model"), options.get("person"), options.get("workers")
    use_cache, progress = options.get("use_cache", True), options.get("progress", True)
    settings = options.get("settings") or ExtractionSettings()
    if person is not None:
        settings = ExtractionSettings(**{**settings.__dict__, "person": str(person).strip().lower()})
    info = probe_video(video)
    # an explicit model must exist; otherwise find it, or download / build it on first use
    model_path = resolve_model(model) if model is not None else ensure_model(progress=progress is True)
    video_sha256 = info.sha256
    model_sha256 = sha256_file(model_path)
    cache_path = cache_dir() / f"{cache_key(video_sha256, model_sha256, settings)}.parquet"
    if use_cache:
        cached = _load_cached(cache_path)
        if cached is not None:
            return cached.with_meta(source=str(video), cache_hit=True), None

    size = (info.width, info.height)
    n_workers = max(1, workers if workers is not None else default_workers(info.duration_s))
    ranges = split_frame_ranges(info.n_frames, n_workers, round(settings.warmup_s * info.fps))
    n_scan = int(np.clip(round(SCAN_FRAMES_PER_S * info.duration_s), MIN_SCAN_FRAMES, settings.people_scan_frames))
    scan_frames = sample_frame_indices(info.n_frames, n_scan).tolist()
    scene_frames = scene_frame_indices(info.n_frames) if pelvis_crops else []
    crop_budget_bytes = CROP_MEMORY_BUDGET_BYTES / len(ranges)
    whole_frame_jobs = [
        _RangeJob(
            video, model_path, settings.landmarker, w0, s0, s1, *size,
            scan_frames=tuple(i for i in scan_frames if s0 <= i < s1), stop_when_crowded=True,
            pelvis_crops=pelvis_crops, crop_budget_bytes=crop_budget_bytes,
            scene_frames=tuple(i for i in scene_frames if s0 <= i < s1),
        )
        for w0, s0, s1 in ranges
    ]  # fmt: skip
    total_work = info.n_frames + sum(s0 - w0 for w0, s0, _ in ranges)
    timings: dict[str, float] = {}
    with _ProgressReporter(progress, total_work, f"{video.name}: poses") as report:
        found = _timed(timings, "whole_frame_pass", _run_jobs, whole_frame_jobs, report)
    landmarks, seen = found.landmarks, found.seen
    seen.sort(key=lambda sample: sample.frame_index)
    subject: people.PersonTrack | None = None
    crop: NDArray[np.int64] | None = None
    if any(s.crowded for s in seen) or settings.person is not None:
        subject, crop = _plan_subject(seen, settings.person, video, size, info.n_frames)
        if crop is not None or any(s.crowded for s in seen):  # a crop helps, or the whole-frame pass stopped
            jobs = [
                _RangeJob(
                    video, model_path, settings.landmarker, w0, s0, s1, *size,
                    crop_boxes=None if crop is None else crop[w0:s1],
                    pelvis_crops=pelvis_crops, crop_budget_bytes=crop_budget_bytes,
                    scene_frames=tuple(i for i in scene_frames if s0 <= i < s1),
                )
                for w0, s0, s1 in ranges
            ]  # fmt: skip
            label = f"{video.name}: following person {subject.person_id}"
            with _ProgressReporter(progress, total_work, label) as report:
                found = _timed(timings, "subject_pass", _run_jobs, jobs, report)
                landmarks = found.landmarks
        all_frames = np.arange(info.n_frames, dtype=np.int64)
        on_path = people.on_subject_path(subject, all_frames, _hip_centre_px(landmarks, *size))
        landmarks = _drop_frames(landmarks, on_path)
    if not landmarks.pose_found.any():
        raise _no_person_error(video, f"any of its {info.n_frames} frames")

    times = frame_times_s(video)
    track = PoseTrack(
        time_s=times,
        image_xyz=landmarks.image_xyz,
        visibility=landmarks.visibility,
        presence=landmarks.presence,
        world_xyz=landmarks.world_xyz,
        pose_found=landmarks.pose_found,
        width=info.width,
        height=info.height,
        fps=info.fps,
        meta={
            "source": str(video),
            "video_sha256": video_sha256,
            "model": str(model_path),
            "model_sha256": model_sha256,
            "settings": settings.as_dict(),
            "gaitcheck_version": __version__,
            "backend": BACKEND_NAME,
            "rotation_deg": info.rotation_deg,
            "subject": _subject_meta(subject, crop, len(seen), info.width),
            "workers": len(ranges),
            "timings_s": {
                **{name: round(seconds, 3) for name, seconds in timings.items()},
                "total": round(time.perf_counter() - started, 3),
                **({"pelvis_crops_cpu": round(found.pelvis_cpu_s, 3)} if pelvis_crops else {}),
            },
            "cache_hit": False,
        },
    )
    if use_cache:
        track.save(cache_path)
    crops = PelvisCrops(info.n_frames, found.pelvis_crops, found.scenes) if pelvis_crops else None
    return track, crops


def _subject_meta(
    subject: people.PersonTrack | None, crop: NDArray[np.int64] | None, n_samples: int, width: int
) -> dict[str, Any]:
    if subject is None:
        return {"mode": "whole frame", "person": 1, "single_person": True}
    return {
        "mode": "crop" if crop is not None else "whole frame, off-path poses dropped",
        "person": subject.person_id,
        "single_person": False,
        "person_summary": subject.summary(n_samples, width),
        "crop_side_px": int(crop[:, 2].max()) if crop is not None else None,
    }


class _ProgressReporter:
    """Context manager giving a frames-done callback: a rich progress bar, a user callback or nothing."""

    def __init__(self, progress: bool | ProgressCallback, total_frames: int, label: str) -> None:
        self._progress = progress
        self._total = total_frames
        self._label = label
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressCallback:
        if callable(self._progress):
            return self._progress
        if not self._progress:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=self._total, rate="")
        started = time.perf_counter()

        def advance(n_done: int) -> None:
            self._bar.advance(self._task, n_done)
            done = self._bar.tasks[0].completed
            elapsed = time.perf_counter() - started
            self._bar.update(self._task, rate=f"{done / elapsed:5.1f} frames/s" if elapsed > 0 else "")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
