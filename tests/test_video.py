"""Tests of gaitcheck.video on clips written with PyAV into tmp_path (exact known answers)
and on the real clips in ../shared/data/videos."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from gaitcheck.errors import InputError, VideoError
from gaitcheck.fileio import sha256_file
from gaitcheck.video import (
    VideoFrame,
    frame_times_s,
    iter_frames,
    iter_frames_at,
    iter_luma_frames,
    probe_video,
    upright,
)

WIDTH, HEIGHT = 96, 64
MARKER_ROWS, MARKER_COLS = 16, 24  # red block in the stored frame's top-left corner


def grey_level(index: int) -> int:
    """Grey level painted on the bottom half of frame ``index``: identifies the frame."""
    return 16 + (5 * index) % 220


def pattern_frame(index: int) -> NDArray[np.uint8]:
    """Stored frame ``index``: asymmetric (red top-left marker) and numbered (grey bottom half)."""
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[HEIGHT // 2 :, :] = grey_level(index)
    image[:MARKER_ROWS, :MARKER_COLS] = (255, 0, 0)
    return image


def require_encoder(codec: str) -> None:
    """Skip the test when the FFmpeg build bundled with PyAV lacks this encoder."""
    try:
        av.codec.Codec(codec, "w")
    except av.codec.codec.UnknownCodecError:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")


def write_clip(
    path: Path,
    codec: str = "libx264",
    n_frames: int = 24,
    *,
    fps: int = 30,
    pts_ticks: NDArray[np.int64] | None = None,
    time_base: Fraction | None = None,
    rotation_ccw_deg: int | None = None,
    hflip: bool = False,
    pixel_aspect_ratio: Fraction | None = None,
    codec_options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode ``n_frames`` test patterns; optional explicit pts and display rotation."""
    require_encoder(codec)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream: Any = container.add_stream(codec, rate=fps, options=codec_options or {})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation_ccw_deg is not None:
            stream.set_display_rotation(rotation_ccw_deg, hflip=hflip)
        if pixel_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = pixel_aspect_ratio
        for index in range(n_frames):
            frame = av.VideoFrame.from_ndarray(pattern_frame(index), format="rgb24")
            if pts_ticks is not None:
                frame.pts, frame.time_base = int(pts_ticks[index]), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_audio_only(path: Path, codec: str) -> Path:
    require_encoder(codec)
    sample_format = "s16" if codec.startswith("pcm") else "fltp"
    dtype = np.int16 if codec.startswith("pcm") else np.float32
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(codec, rate=16000)
        stream.layout = "mono"
        for block in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype), format=sample_format, layout="mono")
            frame.sample_rate, frame.pts = 16000, block * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decode_all(path: Path, start: int = 0, stop: int | None = None) -> list[VideoFrame]:
    return list(iter_frames(path, start=start, stop=stop))


def same_frames(a: list[VideoFrame], b: list[VideoFrame]) -> bool:
    return len(a) == len(b) and all(
        x.index == y.index and x.time_s == y.time_s and np.array_equal(x.rgb, y.rgb) for x, y in zip(a, b, strict=True)
    )


def bottom_grey(frame: VideoFrame) -> float:
    return float(frame.rgb[HEIGHT // 2 + 4 :, :, :].mean())


# --------------------------------------------------------------------------- containers and codecs

QUIET_X265 = {"x265-params": "log-level=error"}
CONTAINERS = [
    ("mp4", "libx264", "mp4", "h264", 1e-9, {}),
    ("mp4", "mpeg4", "mp4", "mpeg4", 1e-9, {}),
    ("mov", "libx264", "mov", "h264", 1e-9, {}),
    ("mov", "libx265", "mov", "hevc", 1e-9, QUIET_X265),  # what iPhones record
    ("m4v", "libx264", "mov", "h264", 1e-9, {}),
    ("mkv", "libx264", "matroska", "h264", 5e-4, {}),  # Matroska stores milliseconds
    ("avi", "mpeg4", "avi", "mpeg4", 1e-9, {}),
    ("webm", "libvpx", "webm", "vp8", 5e-4, {}),
    ("webm", "libvpx-vp9", "webm", "vp9", 5e-4, {}),
]


@pytest.mark.parametrize(("suffix", "encoder", "container", "codec", "time_tolerance_s", "codec_options"), CONTAINERS)
def test_probe_and_decode_every_container(
    tmp_path: Path,
    suffix: str,
    encoder: str,
    container: str,
    codec: str,
    time_tolerance_s: float,
    codec_options: dict[str, str],
) -> None:
    n_frames = 24
    clip = write_clip(tmp_path / f"clip.{suffix}", encoder, n_frames, codec_options=codec_options)
    info = probe_video(clip)
    assert (info.container, info.codec) == (container, codec)
    assert (info.width, info.height, info.rotation_deg, info.mirrored) == (WIDTH, HEIGHT, 0, False)
    assert info.n_frames == n_frames
    assert info.fps == pytest.approx(30.0, rel=1e-9)
    assert info.duration_s == pytest.approx(n_frames / 30, abs=2 * time_tolerance_s)
    assert not info.is_variable_frame_rate
    assert info.size_bytes == clip.stat().st_size

    times = frame_times_s(clip)
    np.testing.assert_allclose(times, np.arange(n_frames) / 30, rtol=0, atol=time_tolerance_s)
    frames = decode_all(clip)
    assert [f.index for f in frames] == list(range(n_frames))
    assert [f.time_s for f in frames] == times.tolist()
    for frame in frames:
        assert frame.rgb.dtype == np.uint8 and frame.rgb.shape == (HEIGHT, WIDTH, 3)
        assert frame.rgb.flags["C_CONTIGUOUS"]
        assert bottom_grey(frame) == pytest.approx(grey_level(frame.index), abs=4)


def test_as_dict_is_json_and_sha256_is_lazy(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", n_frames=5)
    info = probe_video(clip)
    summary = json.loads(json.dumps(info.as_dict()))
    expected_keys = {"path", "width", "height", "fps", "frames", "duration_s", "rotation_deg", "codec", "container"}
    assert expected_keys | {"variable_frame_rate"} <= summary.keys()
    assert summary["frames"] == 5 and summary["path"] == str(clip)
    assert "sha256" not in info.__dict__
    assert info.sha256 == sha256_file(clip)


# --------------------------------------------------------------------------- frame-accurate seeking

SEEK_CLIPS = [
    # open GOP with B-frames: a seek by decode time can land on a keyframe shown after the target
    ("mp4", "libx264", {"x264-params": "keyint=7:min-keyint=7:bframes=3:open-gop=1:scenecut=0"}),
    ("mkv", "libx264", {"x264-params": "keyint=9:min-keyint=9:bframes=2:scenecut=0"}),
    ("webm", "libvpx-vp9", {"g": "8"}),
    ("avi", "mpeg4", {"g": "6", "bf": "2"}),
]


@pytest.mark.parametrize(("suffix", "encoder", "codec_options"), SEEK_CLIPS)
def test_any_start_matches_a_sequential_decode(
    tmp_path: Path, suffix: str, encoder: str, codec_options: dict[str, str]
) -> None:
    n_frames = 40
    clip = write_clip(tmp_path / f"gop.{suffix}", encoder, n_frames, codec_options=codec_options)
    full = decode_all(clip)
    assert [f.index for f in full] == list(range(n_frames))
    for start in range(n_frames):
        assert same_frames(decode_all(clip, start=start, stop=start + 3), full[start : start + 3]), start
    halves = decode_all(clip, stop=n_frames // 2) + decode_all(clip, start=n_frames // 2)
    assert same_frames(halves, full)


@pytest.mark.parametrize(("suffix", "encoder", "codec_options"), SEEK_CLIPS[:2])
def test_sparse_samples_match_a_sequential_decode(
    tmp_path: Path, suffix: str, encoder: str, codec_options: dict[str, str]
) -> None:
    n_frames = 40
    clip = write_clip(tmp_path / f"gop.{suffix}", encoder, n_frames, codec_options=codec_options)
    full = decode_all(clip)
    rng = np.random.default_rng(7)
    samples = [[0], [n_frames - 1], [3, 4, 5], [39, 2, 2, 20], list(range(0, n_frames, 6))]
    samples += [rng.choice(n_frames, size=size, replace=False).tolist() for size in (2, 5, 9, 15)]
    for indices in samples:
        wanted = sorted(set(indices))
        assert same_frames(list(iter_frames_at(clip, indices)), [full[i] for i in wanted]), indices
    assert list(iter_frames_at(clip, [])) == []
    with pytest.raises(ValueError, match=r"frame 40 requested but .*gop\.\w+ has 40 frames"):
        list(iter_frames_at(clip, [1, 40]))
    with pytest.raises(ValueError, match=">= 0"):
        iter_frames_at(clip, [-1, 3])
    with pytest.raises(TypeError, match="integers"):
        iter_frames_at(clip, np.array([1.5]))


def test_start_stop_bounds(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", n_frames=10)
    assert [f.index for f in iter_frames(clip, start=8, stop=100)] == [8, 9]
    assert list(iter_frames(clip, start=10)) == []
    assert list(iter_frames(clip, start=4, stop=4)) == []
    with pytest.raises(ValueError, match="start"):
        iter_frames(clip, start=-1)
    with pytest.raises(ValueError, match="stop"):
        iter_frames(clip, start=5, stop=2)


# --------------------------------------------------------------------------- variable frame rate


@pytest.mark.parametrize(
    ("suffix", "time_base", "interval_ticks", "mean_fps"),
    [
        ("mp4", Fraction(1, 600), (20, 10), 40.0),  # 1/30 s and 1/60 s alternating
        ("mov", Fraction(1, 600), (20, 10), 40.0),
        ("mkv", Fraction(1, 1000), (40, 20), 1000 / 30),  # 1/25 s and 1/50 s alternating
    ],
)
def test_variable_frame_rate_times_are_exact(
    tmp_path: Path, suffix: str, time_base: Fraction, interval_ticks: tuple[int, int], mean_fps: float
) -> None:
    n_frames = 21
    intervals = np.resize(np.asarray(interval_ticks, dtype=np.int64), n_frames - 1)
    pts_ticks = np.concatenate([[0], np.cumsum(intervals)])
    expected_s = pts_ticks * float(time_base)
    clip = write_clip(tmp_path / f"vfr.{suffix}", n_frames=n_frames, pts_ticks=pts_ticks, time_base=time_base)

    info = probe_video(clip)
    assert info.is_variable_frame_rate
    assert info.n_frames == n_frames
    assert info.fps == pytest.approx(mean_fps, rel=1e-9)
    np.testing.assert_allclose(frame_times_s(clip), expected_s, rtol=0, atol=1e-12)
    frames = decode_all(clip)
    np.testing.assert_allclose([f.time_s for f in frames], expected_s, rtol=0, atol=1e-12)
    assert [round(bottom_grey(f)) for f in frames] == pytest.approx([grey_level(i) for i in range(n_frames)], abs=4)
    tail = decode_all(clip, start=7, stop=10)
    assert [f.time_s for f in tail] == [f.time_s for f in frames[7:10]]


def test_frames_hidden_by_an_edit_list_are_not_counted(tmp_path: Path) -> None:
    # Frames with negative times make the MP4 muxer write an edit list that hides them, as a
    # phone's trim does: the file stores 12 frames, a player shows the last 9.
    pts_ticks = np.arange(12, dtype=np.int64) - 3
    clip = write_clip(tmp_path / "trimmed.mp4", n_frames=12, pts_ticks=pts_ticks, time_base=Fraction(1, 30))
    info = probe_video(clip)
    assert (info.n_frames, info.fps) == (9, 30.0)
    assert info.duration_s == pytest.approx(9 / 30, abs=1e-9)
    np.testing.assert_allclose(frame_times_s(clip), np.arange(9) / 30, rtol=0, atol=1e-12)
    frames = decode_all(clip)
    assert [round(bottom_grey(f)) for f in frames] == pytest.approx([grey_level(i) for i in range(3, 12)], abs=4)
    assert same_frames(decode_all(clip, start=4, stop=7), frames[4:7])


@pytest.mark.parametrize(("suffix", "encoder"), [("mp4", "libx264"), ("mkv", "libx264"), ("webm", "libvpx-vp9")])
def test_a_clip_starting_late_is_complete(tmp_path: Path, suffix: str, encoder: str) -> None:
    # The first frame at 0.5 s (e.g. video starting after the audio): headers then state the
    # track's end time, not its length; neither may be mistaken for missing frames.
    pts_ticks = np.arange(12, dtype=np.int64) + 15
    clip = write_clip(tmp_path / f"late.{suffix}", encoder, 12, pts_ticks=pts_ticks, time_base=Fraction(1, 30))
    info = probe_video(clip)
    assert info.n_frames == 12
    assert info.duration_s == pytest.approx(12 / 30, abs=1e-3)
    np.testing.assert_allclose(frame_times_s(clip), np.arange(12) / 30, rtol=0, atol=5e-4)


def test_a_dropped_frame_makes_the_clip_variable_frame_rate(tmp_path: Path) -> None:
    time_base = Fraction(1, 600)
    intervals = np.full(20, 20, dtype=np.int64)  # 30 fps ...
    intervals[11] = 40  # ... with one frame missing, as phones do under load
    pts_ticks = np.concatenate([[0], np.cumsum(intervals)])
    clip = write_clip(tmp_path / "drop.mp4", n_frames=21, pts_ticks=pts_ticks, time_base=time_base)
    info = probe_video(clip)
    assert info.is_variable_frame_rate
    assert info.fps == pytest.approx(20 / (pts_ticks[-1] / 600), rel=0.01)
    np.testing.assert_allclose(frame_times_s(clip), pts_ticks / 600, rtol=0, atol=1e-12)
    assert [f.time_s for f in iter_frames(clip, start=11, stop=13)] == pytest.approx([220 / 600, 260 / 600], abs=1e-12)


# --------------------------------------------------------------------------- rotation


def marker_box(rgb: NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """(first row, last row + 1, first col, last col + 1) of the red marker."""
    red = (rgb[..., 0] > 160) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)
    rows, cols = np.nonzero(red)
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


@pytest.mark.parametrize("suffix", ["mp4", "mov"])
@pytest.mark.parametrize(
    ("rotation_ccw_deg", "hflip", "rotation_deg", "expected_box"),
    [
        # phone portrait: stored landscape, shown turned 90 deg clockwise -> marker top-right
        (-90, False, 90, (0, MARKER_COLS, HEIGHT - MARKER_ROWS, HEIGHT)),
        (90, False, 270, (WIDTH - MARKER_COLS, WIDTH, 0, MARKER_ROWS)),  # -> bottom-left
        (180, False, 180, (HEIGHT - MARKER_ROWS, HEIGHT, WIDTH - MARKER_COLS, WIDTH)),  # -> bottom-right
        (-90, True, 90, (0, MARKER_COLS, 0, MARKER_ROWS)),  # clockwise then mirrored -> top-left
    ],
)
def test_rotation_metadata_gives_upright_frames(
    tmp_path: Path,
    suffix: str,
    rotation_ccw_deg: int,
    hflip: bool,
    rotation_deg: int,
    expected_box: tuple[int, int, int, int],
) -> None:
    plain = write_clip(tmp_path / f"plain.{suffix}", n_frames=4)
    rotated = write_clip(tmp_path / f"rot.{suffix}", n_frames=4, rotation_ccw_deg=rotation_ccw_deg, hflip=hflip)
    info = probe_video(rotated)
    assert (info.rotation_deg, info.mirrored) == (rotation_deg, hflip)
    quarter_turn = rotation_deg in (90, 270)
    assert (info.width, info.height) == ((HEIGHT, WIDTH) if quarter_turn else (WIDTH, HEIGHT))

    frames = decode_all(rotated)
    assert frames[0].rgb.shape == (info.height, info.width, 3)
    assert frames[0].rgb.flags["C_CONTIGUOUS"]
    assert marker_box(frames[0].rgb) == expected_box
    clockwise_quarter_turns = rotation_deg // 90
    for shown, stored in zip(frames, decode_all(plain), strict=True):
        expected = np.rot90(stored.rgb, k=-clockwise_quarter_turns)
        expected = expected[:, ::-1] if hflip else expected
        np.testing.assert_array_equal(shown.rgb, expected)
    assert same_frames(decode_all(rotated, start=2), frames[2:])


@pytest.mark.parametrize(
    ("rotation_ccw_deg", "expected_size", "expected_box", "grey_region"),
    [
        # 96 stored columns of 4:3 pixels -> 128 square ones; grey bottom half stays at the bottom
        (None, (128, 64), (0, MARKER_ROWS, 0, 32), np.s_[HEIGHT // 2 + 4 :, :]),
        # resampled, then turned clockwise: the grey bottom half ends up on the left
        (-90, (64, 128), (0, 32, 64 - MARKER_ROWS, 64), np.s_[:, : HEIGHT // 2 - 4]),
    ],
)
def test_non_square_pixels_are_resampled(
    tmp_path: Path,
    rotation_ccw_deg: int | None,
    expected_size: tuple[int, int],
    expected_box: tuple[int, int, int, int],
    grey_region: tuple[slice, slice],
) -> None:
    clip = write_clip(
        tmp_path / "sar.mp4", n_frames=3, rotation_ccw_deg=rotation_ccw_deg, pixel_aspect_ratio=Fraction(4, 3)
    )
    info = probe_video(clip)
    assert info.pixel_aspect_ratio == pytest.approx(4 / 3)
    assert (info.width, info.height) == expected_size
    frames = decode_all(clip)
    assert frames[0].rgb.shape == (expected_size[1], expected_size[0], 3)
    top, bottom, left, right = marker_box(frames[0].rgb)
    assert (top, bottom, left, right) == pytest.approx(expected_box, abs=1)  # bilinear edge
    assert float(frames[2].rgb[grey_region].mean()) == pytest.approx(grey_level(2), abs=4)


# --------------------------------------------------------------------------- luma frames


def limited_range_luma(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The Y code (16..235) that a BT.601 limited-range encoder stores for an RGB image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return 16.0 + grey * 219.0 / 255.0


@pytest.mark.parametrize(("rotation_ccw_deg", "hflip"), [(None, False), (-90, False), (180, False), (-90, True)])
def test_luma_frames_are_the_upright_grey_of_the_rgb_frames(
    tmp_path: Path, rotation_ccw_deg: int | None, hflip: bool
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", n_frames=6, rotation_ccw_deg=rotation_ccw_deg, hflip=hflip)
    colour = decode_all(clip)
    luma = list(iter_luma_frames(clip))
    assert [(f.index, f.time_s) for f in luma] == [(f.index, f.time_s) for f in colour]
    for grey_frame, colour_frame in zip(luma, colour, strict=True):
        assert grey_frame.luma.dtype == np.uint8
        assert grey_frame.luma.shape == colour_frame.rgb.shape[:2]
        assert grey_frame.luma.flags["C_CONTIGUOUS"]
        difference = np.abs(grey_frame.luma - limited_range_luma(colour_frame.rgb))
        # Rounding of the two colour conversions; only chroma bleeding at the red marker's
        # edges (subsampled colour) differs more.
        assert np.median(difference) <= 1.0
        assert np.quantile(difference, 0.9) <= 1.5
    # Upright: the rotated clip's luma is the unrotated decode turned like its RGB frames.
    quarter_turns = 0 if rotation_ccw_deg is None else (rotation_ccw_deg // 90) % 4
    plain = list(iter_luma_frames(write_clip(tmp_path / "plain.mp4", n_frames=6)))
    for shown, stored in zip(luma, plain, strict=True):
        expected = np.rot90(stored.luma, k=quarter_turns)
        np.testing.assert_array_equal(shown.luma, expected[:, ::-1] if hflip else expected)
    assert [f.index for f in iter_luma_frames(clip, start=2, stop=4)] == [2, 3]
    np.testing.assert_array_equal(next(iter_luma_frames(clip, start=3)).luma, luma[3].luma)


def test_luma_of_non_square_pixels_is_the_grey_of_the_resampled_frame(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "sar.mp4", n_frames=2, pixel_aspect_ratio=Fraction(4, 3))
    for grey_frame, colour_frame in zip(iter_luma_frames(clip), decode_all(clip), strict=True):
        np.testing.assert_array_equal(grey_frame.luma, cv2.cvtColor(colour_frame.rgb, cv2.COLOR_RGB2GRAY))


def test_upright_turns_counter_clockwise_and_mirrors() -> None:
    stored = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)  # [[0 1 2], [3 4 5]]
    assert upright(stored, 90)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert upright(stored, -90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert upright(stored, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert upright(stored, 0, mirrored=True)[..., 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert upright(stored, 90).flags["C_CONTIGUOUS"]


# --------------------------------------------------------------------------- bad input

ENTRY_POINTS = [probe_video, frame_times_s, lambda path: list(iter_frames(path))]


@pytest.mark.parametrize("read", ENTRY_POINTS, ids=["probe_video", "frame_times_s", "iter_frames"])
def test_missing_path_and_directory(tmp_path: Path, read: Any) -> None:
    with pytest.raises(InputError, match=r"video file not found: .*nope\.mp4"):
        read(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="is a directory"):
        read(tmp_path)


@pytest.mark.parametrize("read", ENTRY_POINTS, ids=["probe_video", "frame_times_s", "iter_frames"])
def test_empty_and_text_files(tmp_path: Path, read: Any) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4 is empty \(0 bytes\)"):
        read(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("these are running notes, not a video\n" * 30)
    with pytest.raises(VideoError, match=r"notes\.mp4 is not a video file FFmpeg can read"):
        read(text)


@pytest.mark.parametrize(("name", "codec"), [("voice.m4a", "aac"), ("voice.wav", "pcm_s16le"), ("voice.mp4", "aac")])
def test_audio_only_file(tmp_path: Path, name: str, codec: str) -> None:
    clip = write_audio_only(tmp_path / name, codec)
    with pytest.raises(VideoError, match=rf"{name} has no video stream \(it holds audio"):
        probe_video(clip)


def test_audio_with_cover_picture_is_not_a_video(tmp_path: Path) -> None:
    require_encoder("mjpeg")
    clip = tmp_path / "song.mp4"
    with av.open(str(clip), "w") as container:
        audio: Any = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        cover: Any = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        container.mux(cover.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        container.mux(cover.encode(None))
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    with pytest.raises(VideoError, match=r"song\.mp4 has no video stream \(it holds audio \(aac\), cover picture"):
        probe_video(clip)


def test_video_stream_without_frames(tmp_path: Path) -> None:
    clip = tmp_path / "no_frames.mkv"
    require_encoder("aac")
    with av.open(str(clip), "w") as container:
        video: Any = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio: Any = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    with pytest.raises(VideoError, match=r"no_frames\.mkv has a video stream \(h264\) but no frames"):
        probe_video(clip)


def truncate(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def test_truncated_mp4_without_index(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "full.mp4", n_frames=60)  # index (moov) written last
    cut = truncate(clip, tmp_path / "cut.mp4", 0.4)
    with pytest.raises(VideoError, match=r"cut\.mp4 starts like an MP4/MOV file .* cut short"):
        probe_video(cut)


@pytest.mark.parametrize("read", ENTRY_POINTS, ids=["probe_video", "frame_times_s", "iter_frames"])
def test_truncated_mp4_with_index_first(tmp_path: Path, read: Any) -> None:
    clip = write_clip(tmp_path / "full.mp4", n_frames=60, container_options={"movflags": "faststart"})
    cut = truncate(clip, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(VideoError, match=r"cut\.mp4 is truncated: its header lists 60 video frames but only \d+"):
        read(cut)


@pytest.mark.parametrize(("suffix", "encoder"), [("mkv", "libx264"), ("webm", "libvpx-vp9")])
def test_truncated_matroska(tmp_path: Path, suffix: str, encoder: str) -> None:
    clip = write_clip(tmp_path / f"full.{suffix}", encoder, n_frames=60)
    cut = truncate(clip, tmp_path / f"cut.{suffix}", 0.8)
    with pytest.raises(VideoError, match=r"is truncated: its header says the video ends at 2\.00 s"):
        probe_video(cut)


def test_damaged_frames_raise_instead_of_a_short_clip(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", "mpeg4", n_frames=30)
    with av.open(str(clip)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size and p.pos is not None]
    data = bytearray(clip.read_bytes())
    for position, size in packets[18:21]:
        data[position : position + size] = b"\xff" * size  # bytes of frames 18-20 (no B-frames in mpeg4 here)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    assert probe_video(damaged).n_frames == 30  # the container is intact
    with pytest.raises(VideoError, match=r"damaged\.mp4: decoding failed at frame 1[89] of 30"):
        list(iter_frames(damaged))


# --------------------------------------------------------------------------- real clips


def test_portrait_phone_clip(shared_data: Path) -> None:
    clip = shared_data / "videos" / "zzzhushi_male_side.mp4"
    info = probe_video(clip)
    assert (info.width, info.height, info.rotation_deg) == (720, 1280, 0)  # stored portrait, no display matrix
    assert (info.n_frames, info.fps, info.duration_s) == (360, 30.0, 12.0)
    assert not info.is_variable_frame_rate
    np.testing.assert_allclose(frame_times_s(clip), np.arange(360) / 30, rtol=0, atol=1e-12)
    head = decode_all(clip, stop=64)
    assert head[0].rgb.shape == (1280, 720, 3)
    assert same_frames(decode_all(clip, start=50, stop=64), head[50:64])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("zzzhushi_male_side.mp4", "starts like an MP4/MOV file .* cut short"),  # index at the end: lost
        ("sports2d_demo.mp4", "is truncated: its header lists 230 video frames but only"),  # index first
    ],
)
def test_truncated_real_clips(shared_data: Path, tmp_path: Path, name: str, message: str) -> None:
    cut = truncate(shared_data / "videos" / name, tmp_path / name, 0.4)
    with pytest.raises(VideoError, match=message):
        probe_video(cut)


@pytest.mark.slow
def test_real_clips_decode_to_the_probed_frames(shared_data: Path) -> None:
    for clip in sorted((shared_data / "videos").glob("*.mp4")):
        info = probe_video(clip)
        times = frame_times_s(clip)
        decoded = [(f.index, f.time_s, f.rgb.shape) for f in iter_frames(clip)]
        assert [d[0] for d in decoded] == list(range(info.n_frames)), clip.name
        assert [d[1] for d in decoded] == times.tolist(), clip.name
        assert {d[2] for d in decoded} == {(info.height, info.width, 3)}, clip.name
        assert info.duration_s == pytest.approx(info.n_frames / info.fps, abs=1e-9), clip.name
