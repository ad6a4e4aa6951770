"""What kind of clip is this: camera view, obliquity, treadmill or overground, running or walking.

Every decision comes from a few scale-free features of the image landmarks (lengths are
divided by the leg length in pixels), listed in ``ClipClassification.evidence`` so a user
or a test can see why a clip was classified the way it was. Any field can be overridden
by the user; overridden fields are listed in ``overridden`` and their features are still
reported.

Features (medians or robust ranges over the clip):

* ``hip_width_leg``: horizontal distance between the two hips. Large when the camera looks
  at the runner's back or front, small from the side.
* ``foot_sweep_leg``: 5-95 % range of the ankles' horizontal position relative to the
  pelvis. Large from the side (the feet sweep fore and aft), small from behind.
* ``left_hip_image_left``: fraction of frames where the left hip is left of the right hip
  in the image (rear view: near 1, front view: near 0).
* ``toe_ahead_sign``: median sign of ``u_toe - u_heel``; the runner faces image-right when
  positive (``side_right``: camera on the runner's right) and image-left when negative.
* ``pelvis_travel_leg``: 5-95 % range of the pelvis's horizontal image position;
  ``scale_change``: ratio of the leg length in the last and first quarter of the clip.
  Overground runners cross the frame (side) or shrink / grow (rear / front).
* ``cadence_spm``: dominant frequency of the alternating foot heights (two steps per
  cycle). Running is above about 135 steps/min, walking below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.errors import AnalysisError
from gaitcheck.events import leg_length_px, point_distance_px
from gaitcheck.filters import hann_window
from gaitcheck.track import PoseTrack

VIEWS = ("rear", "front", "side_left", "side_right")
SETTINGS = ("treadmill", "overground")
ACTIVITIES = ("running", "walking")

#: Hip width / leg length above which the camera looks at the back or front.
FRONTAL_HIP_WIDTH_LEG = 0.12
#: Fore-aft sweep of the feet (leg lengths) in a frontal view above which it is oblique.
OBLIQUE_FOOT_SWEEP_LEG = 0.38
#: Hip width / leg length above which a side view is oblique.
OBLIQUE_SIDE_HIP_WIDTH_LEG = 0.15
#: Pelvis travel across the frame (leg lengths) above which the runner is overground.
OVERGROUND_TRAVEL_LEG = 1.0
#: Relative change of the runner's size over the clip above which the runner is overground.
OVERGROUND_SCALE_CHANGE = 0.2
#: Cadence (steps/min) separating walking from running.
RUNNING_MIN_CADENCE_SPM = 135.0


@dataclass(frozen=True)
class ClipClassification:
    """The kind of clip, as detected (or as overridden by the user).

    Attributes
    ----------
    view : "rear" | "front" | "side_left" | "side_right"
        side_left = camera on the runner's left: the runner faces image-left.
    oblique : camera well off the rear/front/side axis.
    setting : "treadmill" | "overground".
    activity : "running" | "walking".
    overridden : names of the fields the user set.
    evidence : the features behind the decisions (JSON-able floats).
    """

    view: str
    oblique: bool
    setting: str
    activity: str
    overridden: tuple[str, ...] = ()
    evidence: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        out = asdict(self)
        out["overridden"] = list(self.overridden)
        return out


def _robust_range(values: NDArray[np.float64]) -> float:
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return 0.0
    low, high = np.percentile(finite, [5, 95])
    return float(high - low)


def _nanmedian(values: NDArray[np.float64]) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def _dominant_cadence_spm(track: PoseTrack, leg_px: float) -> float:
    """Steps per minute from the spectrum of the left-minus-right ankle height."""
    difference = (track.point_px("left_ankle")[:, 1] - track.point_px("right_ankle")[:, 1]) / leg_px
    finite = np.isfinite(difference)
    if finite.sum() < 8:
        return float("nan")
    frames = np.arange(difference.size)
    series = np.interp(frames, frames[finite], difference[finite])
    series = series - series.mean()
    spectrum = np.abs(np.fft.rfft(series * hann_window(series.size)))
    frequency_hz = np.fft.rfftfreq(series.size, d=1.0 / track.fps)
    band = (frequency_hz >= 0.5) & (frequency_hz <= 2.2)  # stride frequency of walking to sprinting
    if not band.any() or spectrum[band].max() <= 0:
        return float("nan")
    return float(120.0 * frequency_hz[band][np.argmax(spectrum[band])])


def clip_features(track: PoseTrack) -> dict[str, float]:
    """The scale-free features the classification uses (see the module docstring)."""
    # every landmark read below, gathered in one pass over the frames (one landmark at a time
    # took 1.5x as long on an hour of frames; the track keeps them for cleaning and events)
    track.points_px(skeleton.LEG_LANDMARKS)
    leg_px = track.derived("leg_length_px", leg_length_px)
    left_hip, right_hip = track.point_px("left_hip"), track.point_px("right_hip")
    pelvis_u = 0.5 * (left_hip[:, 0] + right_hip[:, 0])
    hip_dx = left_hip[:, 0] - right_hip[:, 0]
    ankles_rel = np.concatenate([track.point_px(f"{side}_ankle")[:, 0] - pelvis_u for side in ("left", "right")])
    toe_minus_heel = np.concatenate(
        [
            track.point_px(f"{side}_foot_index")[:, 0] - track.point_px(f"{side}_heel")[:, 0]
            for side in ("left", "right")
        ]
    )
    finite_dx = hip_dx[np.isfinite(hip_dx)]
    hip_lengths = point_distance_px(left_hip, track.point_px("left_knee"))
    quarter = max(track.n_frames // 4, 1)
    first, last = _nanmedian(hip_lengths[:quarter]), _nanmedian(hip_lengths[-quarter:])
    return {
        "leg_length_px": leg_px,
        "hip_width_leg": _nanmedian(np.abs(hip_dx)) / leg_px,
        "foot_sweep_leg": _robust_range(ankles_rel) / leg_px,
        "left_hip_image_left": float(np.mean(finite_dx < 0)) if finite_dx.size else float("nan"),
        "toe_ahead_sign": float(np.sign(_nanmedian(toe_minus_heel))),
        "pelvis_travel_leg": _robust_range(pelvis_u) / leg_px,
        "scale_change": float(abs(last / first - 1.0)) if first > 0 and np.isfinite(last) else 0.0,
        "cadence_spm": _dominant_cadence_spm(track, leg_px),
    }


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise AnalysisError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def classify_clip(
    track: PoseTrack,
    *,
    view: str | None = None,
    setting: str | None = None,
    activity: str | None = None,
) -> ClipClassification:
    """Detect the camera view, obliquity, setting and activity of a clip.

    Parameters
    ----------
    track : PoseTrack
        Raw or cleaned landmarks of the clip.
    view, setting, activity : str, optional
        User overrides; a given value is used as is and listed in ``overridden``.

    Raises
    ------
    AnalysisError
        For an unknown override value or a track without visible legs.
    """
    _check_choice("view", view, VIEWS)
    _check_choice("setting", setting, SETTINGS)
    _check_choice("activity", activity, ACTIVITIES)
    features = clip_features(track)
    frontal = features["hip_width_leg"] >= FRONTAL_HIP_WIDTH_LEG and features["foot_sweep_leg"] < 0.6
    if frontal:
        detected_view = "rear" if features["left_hip_image_left"] >= 0.5 else "front"
    else:
        detected_view = "side_right" if features["toe_ahead_sign"] >= 0 else "side_left"
    chosen_view = view or detected_view
    if chosen_view.startswith("side"):
        oblique = features["hip_width_leg"] >= OBLIQUE_SIDE_HIP_WIDTH_LEG
    else:
        oblique = features["foot_sweep_leg"] >= OBLIQUE_FOOT_SWEEP_LEG
    overground = (
        features["pelvis_travel_leg"] >= OVERGROUND_TRAVEL_LEG or features["scale_change"] >= OVERGROUND_SCALE_CHANGE
    )
    cadence = features["cadence_spm"]
    detected_activity = "walking" if np.isfinite(cadence) and cadence < RUNNING_MIN_CADENCE_SPM else "running"
    overridden = tuple(name for name, value in (("view", view), ("setting", setting), ("activity", activity)) if value)
    return ClipClassification(
        view=chosen_view,
        oblique=bool(oblique),
        setting=setting or ("overground" if overground else "treadmill"),
        activity=activity or detected_activity,
        overridden=overridden,
        evidence={name: round(float(value), 4) for name, value in features.items()},
    )
