"""Marker-based motion capture as a pose track: real running with a known 3D answer.

Reads the Running Biomechanics Data Set marker files (Fukuchi, Fukuchi & Duarte 2017,
PeerJ 5:e3298, CC BY 4.0): tab-separated text, a ``Time`` column then ``<marker>X``,
``<marker>Y``, ``<marker>Z`` columns in millimetres, 150 Hz.

:func:`project_mocap` turns the markers into BlazePose-named landmarks and projects them
through a virtual pinhole camera (rear or side), so the cleaning, event and metric code
can be checked on real human motion; it also returns truth derived in 3D from the markers.

Landmarks (all joint centres in metres):

* hips: hip joint centres from the ASIS and PSIS markers by Harrington et al. (2007):
  in the pelvis frame with its origin midway between the ASIS, posterior
  ``0.24 depth + 9.9 mm``, inferior ``0.30 width + 10.9 mm``, lateral ``0.33 width + 7.3 mm``
  (width = ASIS distance, depth = distance between the ASIS and PSIS midpoints).
* knees and ankles: midpoints of the epicondyle / malleolus markers of the static trial,
  carried into the running trial by the thigh (knee) and shank (ankle) marker clusters
  with a least-squares rigid fit per frame (the running trial has no joint markers).
* heels: the heel-bottom marker; foot_index: midpoint of the first and fifth metatarsal
  head markers (the data set has no toe-tip marker, so this point sits about 5 cm behind
  the shoe tip).

Nose, eyes, shoulders, arms and hands are NaN (not in the data set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import binary_closing, binary_opening

from gaitcheck import skeleton
from gaitcheck.errors import InputError
from gaitcheck.track import PoseTrack

FloatArray = NDArray[np.float64]

#: Markers (without the X/Y/Z suffix) of each landmark's rigid cluster.
_THIGH_CLUSTER = ("Thigh.Top.Lateral", "Thigh.Bottom.Lateral", "Thigh.Top.Medial", "Thigh.Bottom.Medial")
_SHANK_CLUSTER = ("Shank.Top.Lateral", "Shank.Bottom.Lateral", "Shank.Top.Medial", "Shank.Bottom.Medial")
_SIDE_PREFIX = {"left": "L.", "right": "R."}
#: Height (m) above its own stance level below which the heel or forefoot is on the belt.
CONTACT_HEIGHT_M = 0.01
#: Shortest flight and contact (s) the mocap contact detection accepts.
MIN_FLIGHT_S = 0.03
MIN_CONTACT_S = 0.06


@dataclass(frozen=True)
class MarkerData:
    """Marker trajectories of one trial.

    Attributes
    ----------
    time_s : (T,) seconds.
    positions_m : marker name -> (T, 3) metres in the lab frame.
    rate_hz : sampling rate.
    source : file the data came from.
    """

    time_s: FloatArray
    positions_m: dict[str, FloatArray]
    rate_hz: float
    source: str

    def marker(self, name: str) -> FloatArray:
        """(T, 3) positions of one marker; raises :class:`InputError` naming the file."""
        try:
            return self.positions_m[name]
        except KeyError:
            raise InputError(
                f"{self.source}: marker {name!r} not found; markers present: {', '.join(sorted(self.positions_m))}"
            ) from None


def read_markers(path: str | os.PathLike[str]) -> MarkerData:
    """Read an RBDS marker file (tab-separated, ``Time`` then X/Y/Z columns in mm)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: marker file not found")
    try:
        table = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a tab-separated marker file ({exc})") from exc
    if "Time" not in table.columns:
        raise InputError(f"{path}: no 'Time' column; expected an RBDS marker file")
    time_s = table["Time"].to_numpy(dtype=np.float64)
    names = sorted({column[:-1] for column in table.columns if column != "Time" and column[-1] in "XYZ"})
    positions = {}
    for name in names:
        columns = [f"{name}{axis}" for axis in "XYZ"]
        if all(column in table.columns for column in columns):
            positions[name] = table[columns].to_numpy(dtype=np.float64) / 1000.0
    if len(time_s) < 2 or not positions:
        raise InputError(f"{path}: no marker trajectories found")
    rate_hz = float((time_s.size - 1) / (time_s[-1] - time_s[0]))
    # the file rounds times to milliseconds; rebuild them from the (constant) rate
    time_s = time_s[0] + np.arange(time_s.size) / rate_hz
    return MarkerData(time_s=time_s, positions_m=positions, rate_hz=rate_hz, source=str(path))


def lab_axes(markers: MarkerData) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit vectors (forward, left, up) of the runner in the lab frame, found from the data.

    Up is the lab axis along which the pelvis markers sit highest above the heels; left is
    the horizontal direction from the right to the left ASIS; forward completes a
    right-handed frame (forward, left, up), as in gaitsynth's world frame.
    """
    pelvis = np.nanmean(0.5 * (markers.marker("R.ASIS") + markers.marker("L.ASIS")), axis=0)
    heel = np.nanmean(0.5 * (markers.marker("R.Heel.Bottom") + markers.marker("L.Heel.Bottom")), axis=0)
    up_axis = int(np.argmax(np.abs(pelvis - heel)))
    up = np.zeros(3)
    up[up_axis] = np.sign((pelvis - heel)[up_axis])
    lateral = np.nanmean(markers.marker("L.ASIS") - markers.marker("R.ASIS"), axis=0)
    left = lateral - up * (lateral @ up)
    left /= np.linalg.norm(left)
    forward = np.cross(left, up)
    return forward, left, up


def _rigid_fit(reference: FloatArray, moving: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-frame rotation R (T,3,3) and translation t (T,3) with moving ~ R @ reference + t.

    ``reference`` (M,3) is a cluster in the static trial, ``moving`` (T,M,3) the same
    markers while running (Kabsch / SVD, vectorised over frames).
    """
    ref_centre = reference.mean(axis=0)
    mov_centre = moving.mean(axis=1)
    covariance = np.einsum("tmi,mj->tij", moving - mov_centre[:, None, :], reference - ref_centre)
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    correction = np.ones((moving.shape[0], 3))
    correction[:, 2] = sign
    rotation = (u * correction[:, None, :]) @ vt
    translation = mov_centre - np.einsum("tij,j->ti", rotation, ref_centre)
    return rotation, translation


def _hip_joint_centres(markers: MarkerData, side_sign: float) -> FloatArray:
    """Harrington (2007) hip joint centre of one side, (T, 3) metres in the lab frame."""
    r_asis, l_asis = markers.marker("R.ASIS"), markers.marker("L.ASIS")
    r_psis, l_psis = markers.marker("R.PSIS"), markers.marker("L.PSIS")
    asis_mid = 0.5 * (r_asis + l_asis)
    psis_mid = 0.5 * (r_psis + l_psis)
    lateral = l_asis - r_asis  # toward the left
    width = np.linalg.norm(lateral, axis=1, keepdims=True)
    lateral = lateral / width
    backward = psis_mid - asis_mid
    backward = backward - lateral * np.sum(backward * lateral, axis=1, keepdims=True)
    depth = np.linalg.norm(psis_mid - asis_mid, axis=1, keepdims=True)
    backward = backward / np.linalg.norm(backward, axis=1, keepdims=True)
    down = np.cross(lateral, backward)  # left x backward = down in a right-handed frame
    return (
        asis_mid
        + backward * (0.24 * depth + 0.0099)
        + down * (0.30 * width + 0.0109)
        + lateral * side_sign * (0.33 * width + 0.0073)
    )


def joint_centres(run: MarkerData, static: MarkerData) -> dict[str, FloatArray]:
    """Landmark name -> (T, 3) lab-frame metres for the landmarks the markers define."""
    landmarks: dict[str, FloatArray] = {}
    for side, prefix in _SIDE_PREFIX.items():
        landmarks[f"{side}_hip"] = _hip_joint_centres(run, +1.0 if side == "left" else -1.0)
        for joint, cluster, markers in (
            ("knee", _THIGH_CLUSTER, ("Knee", "Knee.Medial")),
            ("ankle", _SHANK_CLUSTER, ("Ankle", "Ankle.Medial")),
        ):
            names = [prefix + name for name in cluster]
            reference = np.stack([np.nanmean(static.marker(name), axis=0) for name in names])
            moving = np.stack([run.marker(name) for name in names], axis=1)
            centre_static = np.mean([np.nanmean(static.marker(prefix + name), axis=0) for name in markers], axis=0)
            valid = np.isfinite(moving).all(axis=(1, 2))
            rotation = np.full((moving.shape[0], 3, 3), np.nan)
            translation = np.full((moving.shape[0], 3), np.nan)
            rotation[valid], translation[valid] = _rigid_fit(reference, moving[valid])
            landmarks[f"{side}_{joint}"] = np.einsum("tij,j->ti", rotation, centre_static) + translation
        landmarks[f"{side}_heel"] = run.marker(prefix + "Heel.Bottom")
        landmarks[f"{side}_foot_index"] = 0.5 * (run.marker(prefix + "MT1") + run.marker(prefix + "MT5"))
    return landmarks


def mocap_truth(run: MarkerData, static: MarkerData, landmarks: dict[str, FloatArray]) -> dict[str, Any]:
    """3D truth from the markers: per-frame pelvic obliquity, contacts and cadence.

    Contact: the heel-bottom marker or the metatarsal-head midpoint is less than
    :data:`CONTACT_HEIGHT_M` above its own stance level (the 5th percentile of its height
    over the trial, which absorbs marker placement and shoe compression). IC and TO are
    where that clearance crosses the threshold, interpolated between samples; flickers
    shorter than :data:`MIN_FLIGHT_S` / :data:`MIN_CONTACT_S` are bridged. Pelvic
    obliquity (+ = left hip joint centre higher) is given as measured from the hip joint
    centres (what the projected hips show) and referred to the static trial (standing =
    0 deg, which removes marker-placement asymmetry).
    """
    forward, left, up = lab_axes(run)
    static_landmarks_hip = [
        _hip_joint_centres(static, +1.0),
        _hip_joint_centres(static, -1.0),
    ]
    static_line = np.nanmean(static_landmarks_hip[0] - static_landmarks_hip[1], axis=0)
    static_obliquity_deg = float(np.degrees(np.arcsin((static_line @ up) / np.linalg.norm(static_line))))
    hip_l, hip_r = landmarks["left_hip"], landmarks["right_hip"]
    hip_line = hip_l - hip_r
    obliquity_deg = np.degrees(np.arcsin((hip_line @ up) / np.linalg.norm(hip_line, axis=1)))
    events: list[dict[str, Any]] = []
    frames = np.arange(run.time_s.size, dtype=np.float64)
    for side in _SIDE_PREFIX:
        heights = []
        for landmark in ("heel", "foot_index"):
            height = landmarks[f"{side}_{landmark}"] @ up
            heights.append(height - np.nanpercentile(height, 5))
        clearance = np.fmin(heights[0], heights[1])
        clearance = np.interp(frames, frames[np.isfinite(clearance)], clearance[np.isfinite(clearance)])
        below = clearance < CONTACT_HEIGHT_M
        # bridge flickers: gaps shorter than MIN_FLIGHT_S, contacts shorter than MIN_CONTACT_S
        below = binary_closing(below, structure=np.ones(max(1, round(MIN_FLIGHT_S * run.rate_hz))))
        below = binary_opening(below, structure=np.ones(max(1, round(MIN_CONTACT_S * run.rate_hz))))
        change = np.flatnonzero(np.diff(below.astype(np.int8)))
        step = clearance[change + 1] - clearance[change]
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(step != 0, (CONTACT_HEIGHT_M - clearance[change]) / step, 0.5)
        crossing = change + np.clip(fraction, 0.0, 1.0)
        for index, frame in zip(change, crossing, strict=True):
            kind = "IC" if below[index + 1] else "TO"
            events.append(
                {
                    "side": side,
                    "event": kind,
                    "time_s": float(np.interp(frame, frames, run.time_s)),
                    "frame": float(frame),
                }
            )
    events.sort(key=lambda event: event["time_s"])
    ic_times = np.array([event["time_s"] for event in events if event["event"] == "IC"])
    cadence = 60.0 * (ic_times.size - 1) / (ic_times[-1] - ic_times[0]) if ic_times.size > 1 else float("nan")
    return {
        "time_s": run.time_s,
        "pelvic_obliquity_3d_deg": obliquity_deg,
        "pelvic_obliquity_rel_static_deg": obliquity_deg - static_obliquity_deg,
        "static_pelvic_obliquity_deg": static_obliquity_deg,
        "events": events,
        "cadence_spm": float(cadence),
        "forward": forward,
        "left": left,
        "up": up,
    }


def project_mocap(
    run: MarkerData,
    static: MarkerData,
    view: str,
    *,
    fps: float | None = 60.0,
    distance_m: float = 4.0,
    camera_height_m: float = 1.0,
    focal_px: float = 1400.0,
    width: int = 1280,
    height: int = 720,
) -> tuple[PoseTrack, dict[str, Any]]:
    """Project mocap landmarks through a virtual pinhole camera.

    Parameters
    ----------
    run, static : the running and the standing trial of one runner (:func:`read_markers`).
    view : "rear" (camera behind the runner), "side_left" (camera on the runner's left, the
        runner faces image-left) or "side_right".
    fps : resample to this rate (linear interpolation); None keeps the marker rate.
    distance_m, camera_height_m : camera distance from the pelvis and height above the belt.
    focal_px, width, height : pinhole intrinsics; principal point at the image centre.

    Returns
    -------
    (PoseTrack, dict)
        The track (``meta["backend"] == "mocap-projection"``) and :func:`mocap_truth` with
        times and events on the track's clock (``frame`` = time x fps).
    """
    if view not in ("rear", "side_left", "side_right"):
        raise ValueError(f"view must be 'rear', 'side_left' or 'side_right', got {view!r}")
    landmarks = joint_centres(run, static)
    truth = mocap_truth(run, static, landmarks)
    forward, left, up = truth["forward"], truth["left"], truth["up"]
    floor = float(np.nanmin([np.nanmin(landmarks[f"{side}_heel"] @ up) for side in ("left", "right")]))
    pelvis = 0.5 * (landmarks["left_hip"] + landmarks["right_hip"])
    centre = np.nanmean(pelvis, axis=0)
    direction = {"rear": forward, "side_left": -left, "side_right": left}[view]
    camera = centre - direction * distance_m
    camera = camera + up * (floor + camera_height_m - camera @ up)
    optical = direction - up * (direction @ up)
    optical /= np.linalg.norm(optical)
    image_right = np.cross(optical, up)
    image_down = -up
    rotation = np.stack([image_right, image_down, optical])

    time_s = run.time_s - run.time_s[0]
    rate = run.rate_hz if fps is None else float(fps)
    out_time = np.arange(0.0, time_s[-1] + 1e-9, 1.0 / rate) if fps is not None else time_s
    n = out_time.size
    k = skeleton.N_LANDMARKS
    image = np.full((n, k, 3), np.nan)
    world = np.full((n, k, 3), np.nan)
    visibility = np.zeros((n, k))
    basis = np.stack([forward, left, up])
    pelvis_out = _resample(time_s, pelvis, out_time)
    for name, points in landmarks.items():
        resampled = _resample(time_s, points, out_time)
        in_camera = (resampled - camera) @ rotation.T
        index = skeleton.index(name)
        image[:, index, 0] = (focal_px * in_camera[:, 0] / in_camera[:, 2] + width / 2.0) / width
        image[:, index, 1] = (focal_px * in_camera[:, 1] / in_camera[:, 2] + height / 2.0) / height
        image[:, index, 2] = 0.0
        world[:, index, :] = (resampled - pelvis_out) @ basis.T
        visibility[:, index] = np.isfinite(image[:, index, :2]).all(axis=1).astype(np.float64)
    track = PoseTrack(
        time_s=out_time,
        image_xyz=image,
        visibility=visibility,
        presence=visibility.copy(),
        world_xyz=world,
        pose_found=np.asarray(np.isfinite(image[..., :2]).any(axis=(1, 2)), dtype=bool),
        width=width,
        height=height,
        fps=rate,
        meta={"backend": "mocap-projection", "source": run.source, "view": view},
    )
    obliquity = _resample(time_s, truth["pelvic_obliquity_3d_deg"][:, None], out_time)[:, 0]
    events = [{**event, "time_s": event["time_s"] - run.time_s[0]} for event in truth["events"]]
    for event in events:
        event["frame"] = event["time_s"] * rate
    truth_out = {
        "time_s": out_time,
        "pelvic_obliquity_3d_deg": obliquity,
        "pelvic_obliquity_rel_static_deg": obliquity - truth["static_pelvic_obliquity_deg"],
        "events": events,
        "cadence_spm": truth["cadence_spm"],
        "static_pelvic_obliquity_deg": truth["static_pelvic_obliquity_deg"],
    }
    return track, truth_out


def _resample(time_s: FloatArray, values: FloatArray, out_time: FloatArray) -> FloatArray:
    """(T,3) values linearly resampled to ``out_time``; NaN samples are bridged."""
    out = np.empty((out_time.size, values.shape[1]))
    for axis in range(values.shape[1]):
        finite = np.isfinite(values[:, axis])
        out[:, axis] = np.interp(out_time, time_s[finite], values[finite, axis]) if finite.any() else np.nan
    return out
