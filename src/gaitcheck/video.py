"""Video input: probe a clip and stream its frames upright, one at a time.

Everything FFmpeg can demux is accepted (mp4, mov, m4v, avi, mkv, webm, ...); decoding is
done by PyAV. Three things matter for gait analysis and are handled here, once:

- **Orientation.** Phones store portrait clips as landscape pixels plus a display matrix.
  :func:`iter_frames` applies it, so frames come out the way a player shows them, and
  :class:`VideoInfo` reports the displayed width and height. Non-square pixels (old
  camcorder formats) are resampled to square ones, so image angles are true.
- **Timing.** Phone clips are often variable-frame-rate. Every frame carries its exact
  presentation time (``pts * time_base``, relative to the first frame), taken from the
  container rather than from ``index / fps``.
- **Frame indices.** Index ``i`` is the i-th frame in presentation order of a full decode.
  :func:`iter_frames` can start anywhere (seek to a keyframe, decode and drop) and still
  yields the same indices, times and pixels as a sequential decode, so a clip can be split
  between processes. :func:`iter_frames_at` decodes a sparse sample of frames, seeking
  whenever a keyframe lies between two wanted frames.

A clip that holds less than its header promises (an interrupted copy: fewer frames than
an MP4/AVI header lists, or frames ending well before the end time an MP4/Matroska header
declares) is an error, not a silently short clip: every entry point raises
:class:`VideoError`. So does decoding when a frame fails, is skipped,
or the decoder stops before the last frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import av
import av.error
import numpy as np
from av.sidedata.sidedata import Type as SideDataType
from av.stream import Disposition
from numpy.typing import NDArray

from gaitcheck.errors import InputError, VideoError
from gaitcheck.fileio import sha256_file

_FrameT = TypeVar("_FrameT")

#: FFmpeg decoder threading used by :func:`iter_frames` (see benchmarks/bench_decode.py).
DECODE_THREAD_TYPE = "AUTO"

_CONVERT_HINT = "convert it with e.g. `ffmpeg -i INPUT -c:v libx264 -pix_fmt yuv420p OUTPUT.mp4`"
_RECOPY_HINT = "Copy the clip again from the phone or camera and check that the transfer completed"
# Frame intervals may wobble by one tick of the time base (rounding) or 2% before the clip
# counts as variable-frame-rate.
_VFR_RELATIVE_TOLERANCE = 0.02
# The declared average frame rate is kept when it is this close (relative) to the measured one.
_FPS_AGREEMENT = 0.01
# A clip whose frames end more than this many frame intervals (and this many seconds) before
# the end its header declares is truncated.
_TRUNCATION_GAP_FRAMES = 2.0
_TRUNCATION_GAP_MIN_S = 0.05
# First bytes of an MP4/MOV (ISO base media) file: the size of the first box, then its type.
_ISO_MEDIA_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
# 8-bit pixel formats whose first plane is the luma (Y) plane, one byte per pixel.
_LUMA_PLANE_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "nv12", "nv21"}
)
# How far back (in frames) to retry a seek when the keyframe found lies after the target.
_SEEK_RETRY_FRAMES = (16, 64, 256)


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame, upright.

    Attributes
    ----------
    index : position of the frame in presentation order of the whole clip (0-based).
    time_s : presentation time in seconds, relative to the clip's first frame.
    rgb : (H, W, 3) uint8, C-contiguous, as displayed: upright, square pixels.
    """

    index: int
    time_s: float
    rgb: NDArray[np.uint8] = field(repr=False)


@dataclass(frozen=True)
class LumaFrame:
    """One decoded frame's brightness only, upright.

    Attributes
    ----------
    index, time_s : as :class:`VideoFrame`.
    luma : (H, W) uint8, C-contiguous, upright with square pixels. For 8-bit planar YUV
        clips (nearly all phone and camera clips) this is the stored Y plane as is, with
        no colour conversion: limited-range clips keep codes 16..235. It differs from a
        grey conversion of :attr:`VideoFrame.rgb` by an affine map of the values plus
        rounding (and chroma bleeding at sharp colour edges), which does not matter for
        measurements that normalise contrast.
    """

    index: int
    time_s: float
    luma: NDArray[np.uint8] = field(repr=False)


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video clip, read from its container without decoding it all.

    Attributes
    ----------
    path : the clip.
    container : container format (``"mp4"``, ``"mov"``, ``"matroska"``, ``"webm"``, ``"avi"``, ...).
    codec : video codec name (``"h264"``, ``"hevc"``, ``"vp9"``, ...).
    width, height : frame size in pixels as displayed, i.e. after rotation.
    rotation_deg : clockwise rotation (0, 90, 180 or 270) applied to the stored pixels to
        display them; 90 is a typical phone portrait clip. Same sense as the legacy
        ``rotate`` tag.
    mirrored : the display matrix also mirrors the image left-right (applied after the
        rotation).
    pixel_aspect_ratio : width/height of one stored pixel (1 for phones). Frames are
        resampled to square pixels, so ``width`` already includes it.
    fps : nominal frame rate: the mean rate of the timestamps, ``(n_frames - 1) / span``, or the
        container's declared average rate when that agrees with it within 1%.
    n_frames : exact number of frames, counted from the demuxed packets.
    duration_s : time spanned by the frames, first frame start to last frame end.
    is_variable_frame_rate : frame intervals differ by more than timestamp rounding.
    size_bytes : file size.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rotation_deg: int
    mirrored: bool
    pixel_aspect_ratio: float
    fps: float
    n_frames: int
    duration_s: float
    is_variable_frame_rate: bool
    size_bytes: int

    @cached_property
    def sha256(self) -> str:
        """Hex sha256 of the file's bytes (computed on first access)."""
        return sha256_file(self.path)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (no sha256: it reads the whole file)."""
        return {
            "path": str(self.path),
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frames": self.n_frames,
            "duration_s": self.duration_s,
            "rotation_deg": self.rotation_deg,
            "mirrored": self.mirrored,
            "pixel_aspect_ratio": self.pixel_aspect_ratio,
            "variable_frame_rate": self.is_variable_frame_rate,
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class _Timing:
    """Presentation timestamps of a stream's frames (its time base, sorted) and its keyframes."""

    pts: NDArray[np.int64]
    time_base: Fraction
    last_duration: int
    keyframe_indices: NDArray[np.int64]

    @property
    def n_frames(self) -> int:
        return int(self.pts.size)

    @cached_property
    def times_s(self) -> NDArray[np.float64]:
        return ((self.pts - self.pts[0]) * float(self.time_base)).astype(np.float64)

    def keyframe_at_or_before(self, index: int) -> int:
        position = int(np.searchsorted(self.keyframe_indices, index, side="right")) - 1
        return int(self.keyframe_indices[position]) if position >= 0 else 0


@dataclass(frozen=True)
class _Display:
    """How stored frames become displayed ones: resample to square pixels, rotate, mirror."""

    stored_width: int
    stored_height: int
    square_width: int  # stored width after correcting a non-square pixel aspect ratio
    pixel_aspect_ratio: Fraction
    rotation_ccw_deg: int
    mirrored: bool

    @property
    def size(self) -> tuple[int, int]:
        """Displayed (width, height)."""
        if self.rotation_ccw_deg % 180:
            return self.stored_height, self.square_width
        return self.square_width, self.stored_height

    def rgb(self, frame: Any) -> NDArray[np.uint8]:
        if self.square_width != frame.width:
            stored = frame.to_ndarray(format="rgb24", width=self.square_width, height=frame.height)
        else:
            stored = frame.to_ndarray(format="rgb24")
        return upright(stored, self.rotation_ccw_deg, self.mirrored)

    def luma(self, frame: Any) -> NDArray[np.uint8]:
        if frame.format.name in _LUMA_PLANE_FORMATS and self.square_width == frame.width:
            plane = frame.planes[0]
            rows = np.frombuffer(plane, dtype=np.uint8).reshape(frame.height, plane.line_size)
            stored = np.array(rows[:, : frame.width, None])  # own copy, not the decoder's buffer
            return upright(stored, self.rotation_ccw_deg, self.mirrored)[..., 0]
        import cv2

        return np.asarray(cv2.cvtColor(self.rgb(frame), cv2.COLOR_RGB2GRAY), dtype=np.uint8)


# --------------------------------------------------------------------------- public API


def probe_video(path: str | Path) -> VideoInfo:
    """Read a clip's format, orientation, frame count and timing.

    Demuxes every packet of the video stream (no decoding) for the exact count and
    timestamps, and decodes the first frame for the display matrix.

    Raises
    ------
    InputError
        The path is missing or is a directory.
    VideoError
        The file is empty, not a video, has no video stream, has no frames, is truncated
        (see the module notes), or its first frame cannot be decoded.
    """
    path = _check_path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        timing = _read_timing(container, stream, path)
        first = _first_decoded_frame(container, stream, path)
        display = _display_of(first, stream, path)
        codec = stream.codec_context.name
        container_name = _container_name(container.format.name, path)
        average_rate = stream.average_rate
        guessed_rate = stream.guessed_rate

    width, height = display.size
    return VideoInfo(
        path=path,
        container=container_name,
        codec=codec,
        width=int(width),
        height=int(height),
        rotation_deg=(-display.rotation_ccw_deg) % 360,
        mirrored=display.mirrored,
        pixel_aspect_ratio=float(display.pixel_aspect_ratio),
        fps=_nominal_fps(timing, average_rate, guessed_rate, path),
        n_frames=timing.n_frames,
        duration_s=_duration_s(timing),
        is_variable_frame_rate=_is_variable_frame_rate(timing.pts),
        size_bytes=path.stat().st_size,
    )


def frame_times_s(path: str | Path) -> NDArray[np.float64]:
    """Exact presentation time of every frame, in seconds from the first frame.

    Read from the packet timestamps (demux only, no decoding); entry ``i`` is the time of
    the frame :func:`iter_frames` yields with ``index == i``.
    """
    path = _check_path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        timing = _read_timing(container, stream, path)
    return timing.times_s.copy()


def iter_frames(path: str | Path, *, start: int = 0, stop: int | None = None) -> Iterator[VideoFrame]:
    """Decode frames ``start <= index < stop`` one at a time, upright, as RGB.

    Seeks to the last keyframe at or before ``start`` and decodes forward, dropping frames
    before ``start``, so indices, times and pixels equal those of a full sequential decode.
    Memory use does not grow with the clip length. The arguments and the path are checked
    when this is called; the file is opened on the first ``next()``.

    Parameters
    ----------
    path : the clip.
    start, stop : frame indices (presentation order); ``stop=None`` means the end. ``stop``
        past the end is clipped; an empty range yields nothing.

    Raises
    ------
    ValueError
        ``start`` is negative or ``stop < start``.
    InputError, VideoError
        As :func:`probe_video`; also when a frame cannot be decoded or decoding ends early.
    """
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    return _iter_range(_check_path(path), start, stop, _video_frame)


def iter_luma_frames(path: str | Path, *, start: int = 0, stop: int | None = None) -> Iterator[LumaFrame]:
    """Like :func:`iter_frames`, but yield only each frame's brightness (see :class:`LumaFrame`).

    For 8-bit YUV clips the Y plane is read directly, skipping the colour conversion that
    makes up about half the cost of :func:`iter_frames`; other pixel formats and
    non-square pixels fall back to a grey conversion of the RGB frame. Same indices,
    times, orientation and errors as :func:`iter_frames`.
    """
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    return _iter_range(_check_path(path), start, stop, _luma_frame)


def iter_frames_at(path: str | Path, indices: Sequence[int] | NDArray[np.integer[Any]]) -> Iterator[VideoFrame]:
    """Decode only the frames at ``indices`` (sorted, duplicates dropped), upright, as RGB.

    For sparse samples of a clip: between two wanted frames it seeks when a keyframe lies
    between them and decodes forward otherwise. Frames equal those of :func:`iter_frames`.

    Raises
    ------
    TypeError
        ``indices`` are not integers.
    ValueError
        An index is negative or not below the clip's frame count (checked on first ``next()``).
    InputError, VideoError
        As :func:`iter_frames`.
    """
    wanted = np.unique(np.asarray(indices))
    if wanted.size and not np.issubdtype(wanted.dtype, np.integer):
        raise TypeError(f"frame indices must be integers, got dtype {wanted.dtype}")
    if wanted.size and wanted[0] < 0:
        raise ValueError(f"frame indices must be >= 0, got {int(wanted[0])}")
    return _iter_selected(_check_path(path), wanted.astype(np.int64))


def upright(stored_rgb: NDArray[np.uint8], rotation_ccw_deg: int, mirrored: bool = False) -> NDArray[np.uint8]:
    """Turn a stored frame into its displayed orientation (C-contiguous copy when changed).

    Parameters
    ----------
    stored_rgb : (H, W, C) image as decoded.
    rotation_ccw_deg : counter-clockwise rotation of the display matrix, a multiple of 90
        (FFmpeg's ``av_display_rotation_get`` / PyAV's ``VideoFrame.rotation``).
    mirrored : mirror left-right after rotating.
    """
    quarter_turns = (rotation_ccw_deg // 90) % 4
    image = np.rot90(stored_rgb, k=quarter_turns) if quarter_turns else stored_rgb
    if mirrored:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


# --------------------------------------------------------------------------- helpers


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"video file not found: {path}. Check the path and the spelling.")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a video file; pass the path of one video file.")
    if path.stat().st_size == 0:
        raise VideoError(f"{path} is empty (0 bytes). {_RECOPY_HINT}.")
    return path


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        kind = _known_container_kind(path)
        if kind is None:
            raise VideoError(
                f"{path} is not a video file FFmpeg can read ({exc.strerror}). Pass a video clip "
                f"(mp4, mov, m4v, avi, mkv, webm), or {_CONVERT_HINT}."
            ) from exc
        raise VideoError(
            f"{path} starts like an {kind} file but cannot be opened ({exc.strerror}); the file is most likely "
            f"cut short (an unfinished recording or an interrupted copy). {_RECOPY_HINT}."
        ) from exc


def _known_container_kind(path: Path) -> str | None:
    """Container family recognised from the file's first bytes, or None."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[4:8] in _ISO_MEDIA_BOXES:
        return "MP4/MOV"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "MKV/WebM"
    return None


def _video_stream(container: av.container.InputContainer, path: Path) -> Any:
    """The first video stream that is a moving picture (not an attached cover image)."""
    videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not videos:
        found = ", ".join(_describe_stream(s) for s in container.streams) or "nothing"
        raise VideoError(f"{path} has no video stream (it holds {found}); pass a video clip instead.")
    stream = videos[0]
    if stream.codec_context is None:
        raise VideoError(f"{path}: this FFmpeg build has no decoder for its video codec; {_CONVERT_HINT}.")
    return stream


def _describe_stream(stream: Any) -> str:
    codec = stream.codec_context.name if stream.codec_context is not None else "unknown codec"
    kind = "cover picture" if stream.disposition & Disposition.attached_pic else stream.type
    return f"{kind} ({codec})"


def _read_timing(container: av.container.InputContainer, stream: Any, path: Path) -> _Timing:
    """Demux the video stream's packets (no decoding), collect their pts, check none are missing."""
    pts_list: list[int] = []
    durations: list[int] = []
    keyframe_flags: list[bool] = []
    n_samples = 0  # frames stored in the file, including those an edit list hides
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            n_samples += 1
            if packet.is_discard:
                continue
            pts_list.append(packet.pts)
            durations.append(packet.duration or 0)
            keyframe_flags.append(packet.is_keyframe)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: reading the video packets failed ({exc.strerror}). {_RECOPY_HINT}.") from exc
    if stream.time_base is None:
        raise VideoError(f"{path}: the video stream has no time base; {_CONVERT_HINT}.")
    declared_frames = int(stream.frames or 0)
    if declared_frames > n_samples:
        raise VideoError(
            f"{path} is truncated: its header lists {declared_frames} video frames but only "
            f"{n_samples} are in the file. {_RECOPY_HINT}."
        )
    declared_end_s = _declared_end_s(stream)
    if not pts_list:
        cut_short = (
            f"its header says it ends at {declared_end_s:.2f} s: the file may be cut short"
            if declared_end_s
            else "it is empty"
        )
        raise VideoError(
            f"{path} has a video stream ({stream.codec_context.name}) but no frames in it ({cut_short}). "
            f"{_RECOPY_HINT}, or record the clip again."
        )
    unsorted_pts = np.asarray(pts_list, dtype=np.int64)
    pts = np.sort(unsorted_pts)
    if np.any(np.diff(pts) == 0):
        raise VideoError(
            f"{path}: several video frames share one timestamp, so their order is unknown; {_CONVERT_HINT}."
        )
    last_duration = int(durations[int(np.argmax(unsorted_pts))])
    keyframe_indices = np.searchsorted(pts, unsorted_pts[np.asarray(keyframe_flags, dtype=bool)])
    timing = _Timing(
        pts=pts,
        time_base=Fraction(stream.time_base),
        last_duration=last_duration,
        keyframe_indices=np.sort(keyframe_indices).astype(np.int64),
    )
    if declared_end_s is not None:
        found_end_s = float((int(timing.pts[-1]) + _last_frame_ticks(timing)) * timing.time_base)
        allowed_gap_s = max(_TRUNCATION_GAP_FRAMES * _median_interval_s(timing), _TRUNCATION_GAP_MIN_S)
        if declared_end_s - found_end_s > allowed_gap_s:
            raise VideoError(
                f"{path} is truncated: its header says the video ends at {declared_end_s:.2f} s but the frames "
                f"in the file end at {found_end_s:.2f} s. {_RECOPY_HINT}."
            )
    return timing


def _declared_end_s(stream: Any) -> float | None:
    """End time of the video on the stream's clock, as the header declares it.

    MP4/MOV: track start plus track duration. Matroska/WebM: the track's DURATION tag, which
    is its end time.
    """
    if stream.duration:
        return float(((stream.start_time or 0) + stream.duration) * stream.time_base)
    tag = stream.metadata.get("DURATION") or ""
    parts = tag.split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return 3600.0 * hours + 60.0 * minutes + seconds


def _median_interval_s(timing: _Timing) -> float:
    intervals = np.diff(timing.pts)
    return float(np.median(intervals) * timing.time_base) if intervals.size else 0.0


def _first_decoded_frame(container: av.container.InputContainer, stream: Any, path: Path) -> Any:
    try:
        container.seek(0)
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: the first video frame cannot be decoded ({exc.strerror}); {_CONVERT_HINT}.") from exc
    raise VideoError(f"{path}: the video stream decodes to no frames. {_RECOPY_HINT}, or {_CONVERT_HINT}.")


def _iter_range(
    path: Path, start: int, stop: int | None, convert: Callable[[Any, int, _Timing, _Display], _FrameT]
) -> Iterator[_FrameT]:
    """Frames ``start`` to ``stop`` (exclusive; None: the end) in order, each made by ``convert``."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        timing = _read_timing(container, stream, path)
        stop = timing.n_frames if stop is None else min(stop, timing.n_frames)
        if start >= stop:
            return
        stream.thread_type = DECODE_THREAD_TYPE
        display: _Display | None = None
        for index, frame in _contiguous_frames(container, stream, timing, start, path):
            display = display or _display_of(frame, stream, path)
            yield convert(frame, index, timing, display)
            if index + 1 >= stop:
                return


def _iter_selected(path: Path, wanted: NDArray[np.int64]) -> Iterator[VideoFrame]:
    with _open(path) as container:
        stream = _video_stream(container, path)
        timing = _read_timing(container, stream, path)
        if wanted.size and wanted[-1] >= timing.n_frames:
            raise ValueError(f"frame {int(wanted[-1])} requested but {path} has {timing.n_frames} frames")
        stream.thread_type = DECODE_THREAD_TYPE
        display: _Display | None = None
        run: Iterator[tuple[int, Any]] | None = None
        next_index = 0
        for target in wanted.tolist():
            if run is None or target < next_index or timing.keyframe_at_or_before(target) > next_index:
                run = _contiguous_frames(container, stream, timing, target, path)
            for index, frame in run:
                next_index = index + 1
                if index == target:
                    display = display or _display_of(frame, stream, path)
                    yield _video_frame(frame, index, timing, display)
                    break


def _video_frame(frame: Any, index: int, timing: _Timing, display: _Display) -> VideoFrame:
    return VideoFrame(index=index, time_s=float(timing.times_s[index]), rgb=display.rgb(frame))


def _luma_frame(frame: Any, index: int, timing: _Timing, display: _Display) -> LumaFrame:
    return LumaFrame(index=index, time_s=float(timing.times_s[index]), luma=display.luma(frame))


def _display_of(frame: Any, stream: Any, path: Path) -> _Display:
    """Display geometry from a decoded frame's display matrix and the stream's pixel aspect ratio."""
    rotation_ccw_deg, mirrored = _display_transform(frame, path)
    sample_aspect = stream.sample_aspect_ratio
    pixel_aspect_ratio = Fraction(sample_aspect) if sample_aspect is not None and sample_aspect > 0 else Fraction(1)
    return _Display(
        stored_width=int(frame.width),
        stored_height=int(frame.height),
        square_width=max(1, round(frame.width * pixel_aspect_ratio)),
        pixel_aspect_ratio=pixel_aspect_ratio,
        rotation_ccw_deg=rotation_ccw_deg,
        mirrored=mirrored,
    )


def _contiguous_frames(
    container: av.container.InputContainer, stream: Any, timing: _Timing, start: int, path: Path
) -> Iterator[tuple[int, Any]]:
    """``(index, decoded frame)`` for every frame from ``start`` to the end of the clip, in order.

    Raises :class:`VideoError` when the decoder fails, skips a frame or stops early.
    """
    expected = start
    try:
        for frame in _decode_from(container, stream, timing, start, path):
            index = _frame_index(frame, timing, path)
            if index < expected:
                continue
            if index > expected:
                raise VideoError(
                    f"{path}: frame {expected} could not be decoded (the decoder skipped to frame {index}); "
                    f"the file is damaged. {_RECOPY_HINT}, or {_CONVERT_HINT}."
                )
            yield index, frame
            expected += 1
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path}: decoding failed at frame {expected} of {timing.n_frames} ({exc.strerror}); the file is "
            f"damaged. {_RECOPY_HINT}, or {_CONVERT_HINT}."
        ) from exc
    if expected < timing.n_frames:
        raise VideoError(
            f"{path}: decoding stopped after frame {expected - 1} but the file lists {timing.n_frames} frames; "
            f"the clip is truncated or damaged. {_RECOPY_HINT}, or {_CONVERT_HINT}."
        )


def _decode_from(
    container: av.container.InputContainer, stream: Any, timing: _Timing, start: int, path: Path
) -> Iterator[Any]:
    """Decoded frames from a keyframe at or before frame ``start`` to the end of the clip.

    Seeking lands on a keyframe chosen by *decode* timestamp; with reordered (B-)frames that
    keyframe can be displayed after ``start``. Then seek further back and try again.
    """
    seek_backs = (0, *_SEEK_RETRY_FRAMES) if start > 0 else ()
    for seek_back in seek_backs:
        target = max(0, start - seek_back)
        container.seek(int(timing.pts[target]), stream=stream, backward=True, any_frame=False)
        frames = _decode(container, stream)
        first = next(frames, None)
        if first is None:
            break
        if target == 0 or _frame_index(first, timing, path) <= start:
            yield first
            yield from frames
            return
    container.seek(0)
    yield from _decode(container, stream)


def _decode(container: av.container.InputContainer, stream: Any) -> Iterator[Any]:
    yield from container.decode(stream)


def _frame_index(frame: Any, timing: _Timing, path: Path) -> int:
    """Index of a decoded frame in the clip, found from its pts."""
    if frame.pts is None:
        raise VideoError(f"{path}: a decoded frame has no timestamp; {_CONVERT_HINT}.")
    index = int(np.searchsorted(timing.pts, frame.pts))
    if index >= timing.pts.size or timing.pts[index] != frame.pts:
        raise VideoError(
            f"{path}: a decoded frame's timestamp ({frame.pts}) matches no packet of the stream; {_CONVERT_HINT}."
        )
    return index


def _display_transform(frame: Any, path: Path) -> tuple[int, bool]:
    """Counter-clockwise rotation (multiple of 90) and mirroring from a frame's display matrix."""
    matrix = None
    for side_data in frame.side_data:
        if side_data.type == SideDataType.DISPLAYMATRIX:
            matrix = np.frombuffer(bytes(side_data), dtype=np.int32, count=9).astype(np.float64)
    if matrix is None:
        return 0, False
    # FFmpeg layout: [a b u; c d v; x y w], 16.16 fixed point; display x' = a x + c y, y' = b x + d y.
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    mirrored = a * d - b * c < 0
    if mirrored:  # FFmpeg's flip negates the first column; undo it to read the rotation.
        a, c = -a, -c
    rotation_ccw = -math.degrees(math.atan2(b, a))
    quarter_turns = round(rotation_ccw / 90.0)
    if abs(rotation_ccw - 90.0 * quarter_turns) > 1.0:
        raise VideoError(
            f"{path} asks to be displayed rotated by {rotation_ccw:.1f} degrees; only multiples of 90 are "
            f"supported; {_CONVERT_HINT} (FFmpeg writes the frames upright)."
        )
    return int(90 * (quarter_turns % 4)), bool(mirrored)


def _container_name(format_name: str, path: Path) -> str:
    """Short container name: FFmpeg lists aliases ("mov,mp4,m4a,..."); prefer the file's suffix."""
    aliases = format_name.split(",")
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in aliases else aliases[0]


def _nominal_fps(timing: _Timing, average_rate: Fraction | None, guessed_rate: Fraction | None, path: Path) -> float:
    """Mean frame rate of the timestamps; the declared average rate when it agrees within 1%.

    The declared rate keeps exact values such as 30 or 30000/1001 that millisecond time bases
    round away; it is ignored when it contradicts the timestamps (variable-frame-rate clips
    in Matroska declare the encoder's nominal rate).
    """
    declared = float(average_rate) if average_rate is not None and average_rate > 0 else None
    if timing.pts.size > 1:
        span_s = float((timing.pts[-1] - timing.pts[0]) * timing.time_base)
        measured = (timing.pts.size - 1) / span_s
        if declared is not None and abs(declared - measured) <= _FPS_AGREEMENT * measured:
            return declared
        return measured
    if declared is not None:
        return declared
    if guessed_rate is not None and guessed_rate > 0:
        return float(guessed_rate)
    raise VideoError(f"{path} holds one frame and declares no frame rate; record a longer clip.")


def _duration_s(timing: _Timing) -> float:
    """First frame's start to last frame's end."""
    return float((int(timing.pts[-1] - timing.pts[0]) + _last_frame_ticks(timing)) * timing.time_base)


def _last_frame_ticks(timing: _Timing) -> int:
    """How long the last frame lasts: its packet duration, else the median frame interval."""
    if timing.last_duration > 0:
        return timing.last_duration
    intervals = np.diff(timing.pts)
    return int(np.median(intervals)) if intervals.size else 0


def _is_variable_frame_rate(pts: NDArray[np.int64]) -> bool:
    """True when frame intervals deviate from their median by more than rounding (1 tick) and 2%."""
    intervals = np.diff(pts)
    if intervals.size < 2:
        return False
    median = float(np.median(intervals))
    tolerance = max(1.0, _VFR_RELATIVE_TOLERANCE * median)
    return bool(np.max(np.abs(intervals - median)) > tolerance)
