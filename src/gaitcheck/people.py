"""Who is in the clip, and which square of each frame shows the chosen person.

MediaPipe's pose detector looks at the whole frame shrunk to 224 px, so it misses people
who are small in a wide frame, and with ``num_poses=1`` it may hop to whoever is easiest
to see. gaitcheck therefore:

1. looks at a few sampled frames, whole and cut into overlapping squares
   (:func:`scan_tiles`), with several poses allowed per image;
2. merges the detections of one person seen in several squares
   (:func:`merge_duplicates`) and links them from sample to sample into tracks with the
   Hungarian assignment on the hip centres (:func:`link_people`);
3. ranks the tracks (:func:`rank_people`: largest and most persistent first) and picks one
   (:func:`choose_person`: by number, ``left``, ``right`` or ``largest``);
4. gives the landmarker, for every frame, only a square around that person
   (:func:`crop_boxes`) and drops any frame whose pose lies away from the person's path
   (:func:`on_subject_path`), so the track cannot jump to someone else.

Everything here is pure numpy on pixel coordinates of the upright frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gaitcheck import skeleton
from gaitcheck.errors import InputError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Tiles overlap by half their side along the long axis of the frame.
TILE_STEP_FRACTION = 0.5
#: Two detections whose hip centres are closer than this (in body heights) are one person.
DUPLICATE_DISTANCE_BODY_HEIGHTS = 0.3
#: Largest hip-centre move between two samples that still links a detection to a track.
LINK_DISTANCE_BODY_HEIGHTS = 0.75
#: A track survives this many samples without a detection before it ends.
MAX_GAP_SAMPLES = 2
#: Side of the crop square as a multiple of the person's (median) bounding-box side.
CROP_MARGIN = 2.0
#: A pose whose hip centre lies farther than this from the person's path is someone else.
GATE_DISTANCE_BODY_HEIGHTS = 0.5
POSITION_CHOICES = ("left", "right", "largest")


@dataclass(frozen=True)
class PeopleInFrame:
    """Everyone found in one sampled frame.

    Attributes
    ----------
    frame_index : index of the frame in the clip.
    boxes_px : (K, 4) bounding boxes ``x0, y0, x1, y1`` of the landmarks, pixels.
    hip_centre_px : (K, 2) midpoint of the two hips, pixels.
    searched_tiles : the frame was also searched tile by tile (see :func:`scan_tiles`).
    """

    frame_index: int
    boxes_px: FloatArray
    hip_centre_px: FloatArray
    searched_tiles: bool = False

    @property
    def n_people(self) -> int:
        return int(self.boxes_px.shape[0])

    @property
    def crowded(self) -> bool:
        """More than one person, or someone only the tiles showed (too small for the whole frame)."""
        return self.n_people >= 2 or (self.searched_tiles and self.n_people >= 1)


@dataclass(frozen=True)
class PersonTrack:
    """One person followed over the sampled frames.

    Attributes
    ----------
    person_id : 1-based number in ranking order (1 = the most likely subject), 0 before ranking.
    frame_index : (n,) sampled frames where the person was found.
    boxes_px : (n, 4) bounding boxes ``x0, y0, x1, y1``.
    hip_centre_px : (n, 2) hip centres.
    """

    person_id: int
    frame_index: IntArray
    boxes_px: FloatArray
    hip_centre_px: FloatArray

    @property
    def height_px(self) -> float:
        """Median bounding-box height, a proxy for body height in pixels."""
        return float(np.median(self.boxes_px[:, 3] - self.boxes_px[:, 1]))

    @property
    def centre_x_px(self) -> float:
        """Median horizontal position of the hip centre."""
        return float(np.median(self.hip_centre_px[:, 0]))

    def summary(self, n_samples: int, width: int) -> dict[str, Any]:
        """JSON-able description for ``gaitcheck info``."""
        return {
            "person": self.person_id,
            "seen_fraction": round(self.frame_index.size / max(n_samples, 1), 3),
            "height_px": round(self.height_px, 1),
            "centre_x_fraction": round(self.centre_x_px / width, 3),
            "first_frame": int(self.frame_index[0]),
            "last_frame": int(self.frame_index[-1]),
        }


def scan_tiles(width: int, height: int) -> IntArray:
    """Square tiles ``x0, y0, side_px`` that cover a frame, side = its short side.

    The whole frame is scanned as well (by the caller); tiles add a closer look at people
    who are small in a wide or tall frame. A frame that is nearly square gets no tiles.

    >>> scan_tiles(1280, 720).tolist()
    [[0, 0, 720], [280, 0, 720], [560, 0, 720]]
    >>> scan_tiles(700, 640).tolist()
    []
    """
    side = min(width, height)
    long_side = max(width, height)
    if long_side < 1.2 * side:
        return np.zeros((0, 3), dtype=np.int64)
    n_tiles = int(np.ceil((long_side - side) / (TILE_STEP_FRACTION * side))) + 1
    starts = np.round(np.linspace(0, long_side - side, n_tiles)).astype(np.int64)
    zeros = np.zeros_like(starts)
    along_x = width >= height
    return np.stack([starts if along_x else zeros, zeros if along_x else starts, np.full_like(starts, side)], axis=1)


def poses_in_pixels(
    xy_norm: FloatArray, origin_px: tuple[float, float], size_px: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Bounding boxes and hip centres (full-frame pixels) of poses found in an image region.

    Parameters
    ----------
    xy_norm : (K, 33, 2) landmarks normalised to the region.
    origin_px : top-left corner of the region in the frame.
    size_px : width and height of the region.

    Returns
    -------
    boxes_px : (K, 4) ``x0, y0, x1, y1``.
    hip_centre_px : (K, 2).
    """
    xy = xy_norm * np.asarray(size_px, dtype=np.float64) + np.asarray(origin_px, dtype=np.float64)
    boxes = np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1).reshape(-1, 4)
    hips = 0.5 * (xy[:, skeleton.index("left_hip")] + xy[:, skeleton.index("right_hip")])
    return boxes, hips.reshape(-1, 2)


def merge_duplicates(boxes_px: FloatArray, hip_centre_px: FloatArray, regions_px: FloatArray) -> NDArray[np.bool_]:
    """Which detections to keep when one person was found in several overlapping images.

    Detections whose hip centres lie within :data:`DUPLICATE_DISTANCE_BODY_HEIGHTS` of each
    other are one person. The one kept has the tallest box among those lying inside the
    image they were found in: a person cut by a tile edge gets extrapolated landmarks.

    Parameters
    ----------
    boxes_px, hip_centre_px : (K, 4) and (K, 2), frame pixels.
    regions_px : (K, 4) ``x0, y0, x1, y1`` of the image (frame or tile) of each detection.

    Returns
    -------
    (K,) bool mask of the detections to keep.
    """
    n = boxes_px.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    box_heights = boxes_px[:, 3] - boxes_px[:, 1]
    tolerance = 0.02 * (regions_px[:, 2:] - regions_px[:, :2])
    inside = np.all(boxes_px[:, :2] >= regions_px[:, :2] - tolerance, axis=1) & np.all(
        boxes_px[:, 2:] <= regions_px[:, 2:] + tolerance, axis=1
    )
    score = box_heights * np.where(inside, 1.0, 0.5)
    distance = np.linalg.norm(hip_centre_px[:, None, :] - hip_centre_px[None, :, :], axis=-1)
    scale = np.maximum(box_heights[:, None], box_heights[None, :])
    same_person = distance < DUPLICATE_DISTANCE_BODY_HEIGHTS * scale
    for i in np.argsort(-score, kind="stable"):
        if not (same_person[i] & keep).any():
            keep[i] = True
    return keep


def link_people(samples: Sequence[PeopleInFrame]) -> list[PersonTrack]:
    """Link detections of consecutive sampled frames into one track per person.

    Each sample's detections are assigned to the live tracks by the Hungarian method on the
    hip-centre distance in body heights; a pair farther apart than
    :data:`LINK_DISTANCE_BODY_HEIGHTS` is never linked. Unmatched detections start new
    tracks; a track unseen for more than :data:`MAX_GAP_SAMPLES` samples ends.

    Returns
    -------
    list of PersonTrack (``person_id`` 0; see :func:`rank_people`).
    """
    from scipy.optimize import linear_sum_assignment

    members: list[list[tuple[int, int]]] = []  # per track: (sample number, detection number)
    last_seen: list[int] = []
    for s, sample in enumerate(samples):
        live = [t for t in range(len(members)) if s - last_seen[t] <= MAX_GAP_SAMPLES + 1]
        matched_detections: set[int] = set()
        if live and sample.n_people:
            last_hips = np.array([_predicted_hip(samples, members[t], s) for t in live])
            last_heights = np.array([_box_height(samples[members[t][-1][0]].boxes_px[members[t][-1][1]]) for t in live])
            heights = sample.boxes_px[:, 3] - sample.boxes_px[:, 1]
            distance = np.linalg.norm(last_hips[:, None, :] - sample.hip_centre_px[None, :, :], axis=-1)
            cost = distance / np.maximum(np.maximum(last_heights[:, None], heights[None, :]), 1.0)
            rows, cols = linear_sum_assignment(np.where(cost > LINK_DISTANCE_BODY_HEIGHTS, 1e6, cost))
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= LINK_DISTANCE_BODY_HEIGHTS:
                    members[live[r]].append((s, int(c)))
                    last_seen[live[r]] = s
                    matched_detections.add(int(c))
        for d in range(sample.n_people):
            if d not in matched_detections:
                members.append([(s, d)])
                last_seen.append(s)
    return [
        PersonTrack(
            person_id=0,
            frame_index=np.array([samples[s].frame_index for s, _ in track], dtype=np.int64),
            boxes_px=np.array([samples[s].boxes_px[d] for s, d in track], dtype=np.float64),
            hip_centre_px=np.array([samples[s].hip_centre_px[d] for s, d in track], dtype=np.float64),
        )
        for track in members
    ]


def _predicted_hip(samples: Sequence[PeopleInFrame], track: list[tuple[int, int]], sample_number: int) -> FloatArray:
    """Hip centre of a track extrapolated to a sample at its last velocity (constant speed)."""
    last_sample, last_detection = track[-1]
    last_hip = samples[last_sample].hip_centre_px[last_detection]
    if len(track) < 2:
        return last_hip
    prev_sample, prev_detection = track[-2]
    velocity = (last_hip - samples[prev_sample].hip_centre_px[prev_detection]) / (last_sample - prev_sample)
    return last_hip + velocity * (sample_number - last_sample)


def _box_height(box: FloatArray) -> float:
    return float(box[3] - box[1])


def rank_people(tracks: Sequence[PersonTrack], n_samples: int) -> list[PersonTrack]:
    """Number the tracks 1, 2, ... from the most to the least likely subject of the clip.

    The subject is the largest and most persistent person: score = median box height x
    number of samples seen. Tracks seen in a single sample are dropped as spurious when
    more than three frames were sampled.
    """
    min_samples = 2 if n_samples > 3 else 1
    kept = [t for t in tracks if t.frame_index.size >= min_samples]
    ordered = sorted(kept, key=lambda t: t.height_px * t.frame_index.size, reverse=True)
    return [
        PersonTrack(person_id=i + 1, frame_index=t.frame_index, boxes_px=t.boxes_px, hip_centre_px=t.hip_centre_px)
        for i, t in enumerate(ordered)
    ]


def choose_person(ranked: Sequence[PersonTrack], person: str | int | None, source: str) -> PersonTrack:
    """Pick one ranked track.

    Parameters
    ----------
    ranked : output of :func:`rank_people` (non-empty).
    person : ``None`` (the most likely subject), a person number from ``gaitcheck info``,
        or ``"left"``, ``"right"`` (by median hip position in the image) or ``"largest"``.
    source : the video, named in error messages.

    Raises
    ------
    InputError
        Unknown choice or a person number that was not found.
    """
    if not ranked:
        raise InputError(f"{source}: nobody to choose from")
    if person is None:
        return ranked[0]
    choice = str(person).strip().lower()
    if choice.isdigit():
        number = int(choice)
        for track in ranked:
            if track.person_id == number:
                return track
        raise InputError(
            f"{source}: no person {number}; found {len(ranked)} (numbers 1-{len(ranked)}). "
            f"List them with `gaitcheck info {source}`"
        )
    if choice == "left":
        return min(ranked, key=lambda t: t.centre_x_px)
    if choice == "right":
        return max(ranked, key=lambda t: t.centre_x_px)
    if choice == "largest":
        return max(ranked, key=lambda t: t.height_px)
    raise InputError(f"--person {person!r} not understood; give a number from `gaitcheck info`, left, right or largest")


def _interpolated(track: PersonTrack, frame_index: IntArray, values: FloatArray) -> FloatArray:
    return np.interp(frame_index.astype(np.float64), track.frame_index.astype(np.float64), values)


def active_frames(track: PersonTrack, frame_index: IntArray, sample_step_frames: float) -> NDArray[np.bool_]:
    """Frames between one sample step before the person's first sighting and one after the last."""
    first = track.frame_index[0] - sample_step_frames
    last = track.frame_index[-1] + sample_step_frames
    return (frame_index >= first) & (frame_index <= last)


def crop_side_px(track: PersonTrack, frame_size: tuple[int, int]) -> int:
    """Side of the square that follows a person: :data:`CROP_MARGIN` x the median of the
    box's longer side, at most the frame's short side (then cropping gains nothing)."""
    boxes = track.boxes_px
    extent = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    return int(min(*frame_size, round(CROP_MARGIN * extent)))


def crop_boxes(
    track: PersonTrack,
    frame_index: IntArray,
    frame_size: tuple[int, int],
    sample_step_frames: float,
) -> IntArray:
    """The square of every frame that the landmarker should look at to follow one person.

    The square's centre follows the person's bounding-box centre, linearly interpolated
    between samples (held at the ends); its side is :func:`crop_side_px`. Frames outside :func:`active_frames`
    get side 0 (skipped).

    Returns
    -------
    (T, 3) int array ``x0, y0, side_px``, the square lying inside the frame.
    """
    width, height = frame_size
    side = crop_side_px(track, frame_size)
    centre_x = _interpolated(track, frame_index, 0.5 * (track.boxes_px[:, 0] + track.boxes_px[:, 2]))
    centre_y = _interpolated(track, frame_index, 0.5 * (track.boxes_px[:, 1] + track.boxes_px[:, 3]))
    x0 = np.clip(np.round(centre_x - side / 2), 0, width - side).astype(np.int64)
    y0 = np.clip(np.round(centre_y - side / 2), 0, height - side).astype(np.int64)
    sides = np.where(active_frames(track, frame_index, sample_step_frames), side, 0).astype(np.int64)
    return np.stack([x0, y0, sides], axis=1)


def on_subject_path(track: PersonTrack, frame_index: IntArray, hip_centre_px: FloatArray) -> NDArray[np.bool_]:
    """Frames whose hip centre lies on the chosen person's path (NaN hips give False).

    The path is the person's sampled hip centre, interpolated linearly between samples;
    a pose more than :data:`GATE_DISTANCE_BODY_HEIGHTS` body heights away belongs to someone
    else (or is a misdetection).
    """
    expected_x = _interpolated(track, frame_index, track.hip_centre_px[:, 0])
    expected_y = _interpolated(track, frame_index, track.hip_centre_px[:, 1])
    heights = _interpolated(track, frame_index, track.boxes_px[:, 3] - track.boxes_px[:, 1])
    finite = np.all(np.isfinite(hip_centre_px), axis=1)
    safe_hips = np.where(finite[:, None], hip_centre_px, 0.0)
    distance = np.hypot(safe_hips[:, 0] - expected_x, safe_hips[:, 1] - expected_y)
    return finite & (distance <= GATE_DISTANCE_BODY_HEIGHTS * heights)
