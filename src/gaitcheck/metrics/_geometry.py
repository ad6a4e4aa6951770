"""Numpy kernels on per-frame point arrays: angles, line tilt, offsets, stance reductions.

Every point argument is an ``(T, 2)`` (image, pixels, v pointing down) or ``(T, 3)`` array,
time first; results are ``(T,)`` arrays. NaN in, NaN out: no kernel hides a missing point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]
IntArray = NDArray[np.integer[Any]]


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.einsum("...i,...i->...", a, b)


def segment_length(start: FloatArray, end: FloatArray) -> FloatArray:
    """Euclidean distance between two point tracks."""
    difference = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    return np.sqrt(_dot(difference, difference))


def angle_between_deg(first: FloatArray, second: FloatArray) -> FloatArray:
    """Unsigned angle in degrees between two vector tracks (0 = same direction)."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    norms = np.sqrt(_dot(first, first) * _dot(second, second))
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = _dot(first, second) / norms
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def joint_flexion_deg(proximal: FloatArray, joint: FloatArray, distal: FloatArray) -> FloatArray:
    """180 deg minus the angle proximal-joint-distal: 0 when the three points are in line.

    >>> import numpy as np
    >>> round(float(joint_flexion_deg(np.array([[0.0, 0]]), np.array([[0.0, 1]]), np.array([[1.0, 1]]))[0]), 6)
    90.0
    """
    return angle_between_deg(np.asarray(joint) - np.asarray(proximal), np.asarray(distal) - np.asarray(joint))


def knee_fppa_deg(hip: FloatArray, knee: FloatArray, ankle: FloatArray, other_hip: FloatArray) -> FloatArray:
    """Signed knee frontal-plane projection angle in degrees.

    The unsigned part is ``180 - angle(hip, knee, ankle)``; the sign is + (valgus) when the
    knee lies on the medial side of the hip-ankle line, medial meaning toward ``other_hip``.
    """
    hip, knee, ankle, other_hip = (np.asarray(p, dtype=np.float64) for p in (hip, knee, ankle, other_hip))
    unsigned = joint_flexion_deg(hip, knee, ankle)
    hip_to_ankle = ankle - hip
    hip_to_knee = knee - hip
    with np.errstate(invalid="ignore", divide="ignore"):
        along = _dot(hip_to_knee, hip_to_ankle) / _dot(hip_to_ankle, hip_to_ankle)
    knee_offset = hip_to_knee - along[..., None] * hip_to_ankle
    return unsigned * np.sign(_dot(knee_offset, other_hip - hip))


def line_tilt_deg(left: FloatArray, right: FloatArray) -> FloatArray:
    """In-image tilt of the line from ``left`` to ``right`` in degrees, + when ``left`` is higher.

    ``atan2(v_right - v_left, |u_left - u_right|)`` on image points (v down), so the value does
    not depend on which image side each point is on (rear or front view).
    """
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    return np.degrees(np.arctan2(right[..., 1] - left[..., 1], np.abs(left[..., 0] - right[..., 0])))


def inclination_from_vertical_deg(top: FloatArray, bottom: FloatArray, forward_sign: float | FloatArray) -> FloatArray:
    """Angle of the image segment top->bottom from the image vertical, + when ``bottom`` is
    displaced in the direction ``forward_sign`` (+1 image-right, -1 image-left)."""
    top, bottom = np.asarray(top, dtype=np.float64), np.asarray(bottom, dtype=np.float64)
    return np.degrees(np.arctan2(forward_sign * (bottom[..., 0] - top[..., 0]), bottom[..., 1] - top[..., 1]))


def inclination_from_horizontal_deg(
    back: FloatArray, front: FloatArray, forward_sign: float | FloatArray
) -> FloatArray:
    """Angle of the image segment back->front above the image horizontal (+ = ``front`` higher),
    with ``forward_sign`` the image direction (+1 right, -1 left) in which ``front`` lies."""
    back, front = np.asarray(back, dtype=np.float64), np.asarray(front, dtype=np.float64)
    return np.degrees(np.arctan2(back[..., 1] - front[..., 1], forward_sign * (front[..., 0] - back[..., 0])))


def signed_angle_from_downward_normal_deg(point: FloatArray, joint: FloatArray, other_joint: FloatArray) -> FloatArray:
    """Angle of the segment joint->point from the image-downward normal of the line joint->other_joint.

    + when the segment leans toward ``other_joint``. With hip, knee and the contralateral hip
    this is the frontal-plane hip adduction angle (thigh against the pelvis line).
    """
    point, joint, other_joint = (np.asarray(p, dtype=np.float64) for p in (point, joint, other_joint))
    across = other_joint - joint
    with np.errstate(invalid="ignore", divide="ignore"):
        across_unit = across / np.linalg.norm(across, axis=-1, keepdims=True)
    normal = np.stack([-across_unit[..., 1], across_unit[..., 0]], axis=-1)
    normal = normal * np.where(normal[..., 1:2] < 0, -1.0, 1.0)  # pointing image-down
    segment = point - joint
    return np.degrees(np.arctan2(_dot(segment, across_unit), _dot(segment, normal)))


def interpolate_at(time_s: FloatArray, values: FloatArray, at_time_s: FloatArray) -> FloatArray:
    """Linear interpolation of a per-frame signal (``(T,)`` or ``(T, D)``) at given instants.

    NaN frames are not bridged: an instant next to a NaN frame gives NaN.
    """
    time_s, values, at_time_s = np.asarray(time_s), np.asarray(values, dtype=np.float64), np.asarray(at_time_s)
    after = np.clip(np.searchsorted(time_s, at_time_s, side="right"), 1, len(time_s) - 1)
    before = after - 1
    span = time_s[after] - time_s[before]
    weight = np.clip((at_time_s - time_s[before]) / span, 0.0, 1.0)
    if values.ndim > 1:
        weight = weight.reshape(weight.shape + (1,) * (values.ndim - 1))
    out = values[before] * (1.0 - weight) + values[after] * weight
    out = np.where(weight == 0.0, values[before], np.where(weight == 1.0, values[after], out))
    outside = (at_time_s < time_s[0]) | (at_time_s > time_s[-1])
    if values.ndim > 1:
        outside = outside.reshape(outside.shape + (1,) * (values.ndim - 1))
    return np.where(outside, np.nan, out)


def _segment_reduce(ufunc: np.ufunc, values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """``ufunc.reduce(values[start_i:stop_i])`` for every segment i, NaN for empty segments."""
    values = np.asarray(values, dtype=np.float64)
    start, stop = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    if start.size == 0:
        return np.empty(0)
    padded = np.append(values, np.nan)
    bounds = np.clip(np.column_stack([start, stop]).ravel(), 0, len(values))
    reduced = ufunc.reduceat(padded, bounds)[::2]
    return np.where(stop > start, reduced, np.nan)


def segment_max(values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """Max of ``values[start_i:stop_i]`` ignoring NaN frames; NaN when the segment has none."""
    return _segment_reduce(np.fmax, values, start, stop)


def segment_min(values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """Min of ``values[start_i:stop_i]`` ignoring NaN frames; NaN when the segment has none."""
    return _segment_reduce(np.fmin, values, start, stop)


def segment_mean(values: FloatArray, start: IntArray, stop: IntArray) -> FloatArray:
    """Mean of the finite ``values[start_i:stop_i]``; NaN when the segment has none."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    total = _segment_reduce(np.add, np.where(finite, values, 0.0), start, stop)
    count = _segment_reduce(np.add, finite.astype(np.float64), start, stop)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)
