"""Annotated overlay video: the clip with the skeleton and the running values drawn on it.

:func:`overlay_frame` is pure (one frame in, one annotated frame out); :func:`write_overlay_video`
decodes the clip with :func:`gaitcheck.video.iter_frames`, annotates every frame and encodes
H.264 with PyAV, atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.fileio import atomic_path
from gaitcheck.report.keyframes import display_xy_px
from gaitcheck.report.signals import report_signals
from gaitcheck.track import PoseTrack

ImageArray = NDArray[np.uint8]
SIDE_RGB = {"left": (31, 119, 180), "right": (255, 127, 14)}
_NEUTRAL_RGB = (200, 200, 200)
_SIGNAL_TEXT = {
    "pelvic_drop_deg": "pelvic drop {side} stance {value:+.1f} deg",
    "knee_fppa_deg": "{side} knee FPPA {value:+.1f} deg",
    "heel_ahead_pct_leg": "{side} heel ahead {value:+.0f}% leg",
}


def stance_masks(n_frames: int, stances: pd.DataFrame) -> dict[str, NDArray[np.bool_]]:
    """Side -> (T,) bool, True on frames inside a stance of that side."""
    masks = {side: np.zeros(n_frames, dtype=bool) for side in skeleton.SIDES}
    for side, first, last in stances[["side", "ic_frame", "to_frame"]].itertuples(index=False):
        if side in masks and np.isfinite(first) and np.isfinite(last):
            masks[side][max(int(first), 0) : min(int(last), n_frames - 1) + 1] = True
    return masks


def overlay_frame(
    rgb: ImageArray, points_px: Mapping[str, NDArray[np.floating[Any]]], lines: Sequence[str], stance_side: str | None
) -> ImageArray:
    """A copy of ``rgb`` with the skeleton (stance leg in its side's colour) and text lines drawn."""
    import cv2

    image = np.ascontiguousarray(rgb.copy())
    thickness = max(2, round(image.shape[1] / 400))
    for a, b in skeleton.EDGES:
        pa, pb = points_px.get(a), points_px.get(b)
        if pa is None or pb is None or not (np.isfinite(pa).all() and np.isfinite(pb).all()):
            continue
        side = a.split("_", 1)[0]
        colour = SIDE_RGB[side] if side == stance_side and side == b.split("_", 1)[0] else _NEUTRAL_RGB
        start, end = (round(float(pa[0])), round(float(pa[1]))), (round(float(pb[0])), round(float(pb[1])))
        cv2.line(image, start, end, colour, thickness, cv2.LINE_AA)
    scale = max(0.5, image.shape[1] / 1400)
    for row, text in enumerate(lines):
        origin = (10, round((row + 1) * 32 * scale) + 4)
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def write_overlay_video(
    video_path: str | os.PathLike[str],
    track: PoseTrack,
    stances: pd.DataFrame,
    view: str,
    leg_length_px: float | None,
    out_path: str | os.PathLike[str],
) -> Path:
    """Write the annotated clip to ``out_path`` (H.264 mp4) and return the path."""
    import av

    from gaitcheck.video import iter_frames

    signals = report_signals(track, view, leg_length_px)
    masks = stance_masks(track.n_frames, stances)
    xy = display_xy_px(track)
    rate = Fraction(track.fps).limit_denominator(1000)
    out = Path(out_path)
    with atomic_path(out) as tmp:
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"}
            for frame in iter_frames(Path(video_path), stop=track.n_frames):
                index = frame.index
                stance_side = next((side for side in skeleton.SIDES if masks[side][index]), None)
                lines = [f"t = {track.time_s[index]:.2f} s" + (f"  {stance_side} stance" if stance_side else "")]
                if stance_side is not None:
                    for name, series in signals.items():
                        value = float(series[stance_side][index])
                        if math.isfinite(value):
                            lines.append(_SIGNAL_TEXT[name].format(side=stance_side, value=value))
                points = {name: xy[index, skeleton.index(name)] for name in skeleton.LANDMARK_NAMES}
                picture = overlay_frame(frame.rgb, points, lines, stance_side)
                even = picture[: picture.shape[0] // 2 * 2, : picture.shape[1] // 2 * 2]
                if stream.width != even.shape[1]:
                    stream.width, stream.height = even.shape[1], even.shape[0]
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    return out
