"""Per-frame signals for the report's time-series plots and key frames.

Pure numpy on a pose track: the same geometry kernels the metrics use
(:mod:`gaitcheck.metrics._geometry`), evaluated on every frame instead of per stance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.metrics._geometry import knee_fppa_deg, line_tilt_deg
from gaitcheck.track import PoseTrack

FloatArray = NDArray[np.floating[Any]]

FRONTAL_VIEWS = ("rear", "front")
#: Image direction (+1 right, -1 left) in which the runner moves, per side view.
_FORWARD_SIGN = {"side_left": -1.0, "side_right": 1.0}


def pelvic_obliquity_deg(track: PoseTrack) -> FloatArray:
    """(T,) in-image pelvic obliquity from the hip landmarks, + = left hip higher."""
    return line_tilt_deg(track.point_px("left_hip"), track.point_px("right_hip"))


def knee_fppa_by_side_deg(track: PoseTrack) -> dict[str, FloatArray]:
    """Side -> (T,) knee frontal-plane projection angle, + = valgus."""
    return {
        side: knee_fppa_deg(
            track.point_px(skeleton.side_name(side, "hip")),
            track.point_px(skeleton.side_name(side, "knee")),
            track.point_px(skeleton.side_name(side, "ankle")),
            track.point_px(skeleton.mirror(skeleton.side_name(side, "hip"))),
        )
        for side in skeleton.SIDES
    }


def heel_ahead_by_side_pct_leg(track: PoseTrack, view: str, leg_length_px: float) -> dict[str, FloatArray]:
    """Side -> (T,) heel ahead of the hip midpoint in % leg length (side views)."""
    forward = _FORWARD_SIGN[view]
    hip_mid_u = 0.5 * (track.point_px("left_hip")[:, 0] + track.point_px("right_hip")[:, 0])
    return {
        side: 100.0 * forward * (track.point_px(skeleton.side_name(side, "heel"))[:, 0] - hip_mid_u) / leg_length_px
        for side in skeleton.SIDES
    }


def report_signals(track: PoseTrack, view: str, leg_length_px: float | None) -> dict[str, dict[str, FloatArray]]:
    """The per-frame signals the report plots for a clip of this view.

    Returns a mapping ``signal name -> {side -> (T,) values}``; names carry units. For pelvic
    drop, the "left" series is the drop of the right pelvis (meaningful in left stance) and
    the "right" series its negative, as in the per-stance metric.
    """
    if view in FRONTAL_VIEWS:
        obliquity = pelvic_obliquity_deg(track)
        return {
            "pelvic_drop_deg": {"left": obliquity, "right": -obliquity},
            "knee_fppa_deg": knee_fppa_by_side_deg(track),
        }
    if view in _FORWARD_SIGN and leg_length_px is not None and np.isfinite(leg_length_px) and leg_length_px > 0:
        return {"heel_ahead_pct_leg": heel_ahead_by_side_pct_leg(track, view, leg_length_px)}
    return {}
