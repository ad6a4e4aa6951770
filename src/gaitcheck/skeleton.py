"""Landmark names and left/right pairs of the MediaPipe BlazePose skeleton.

This is the only module that knows landmark indices; everything else selects
landmarks by name through :func:`index`.
"""

from __future__ import annotations

from typing import Final

#: The 33 BlazePose landmarks, in MediaPipe's index order.
LANDMARK_NAMES: Final[tuple[str, ...]] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

N_LANDMARKS: Final[int] = len(LANDMARK_NAMES)
_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(LANDMARK_NAMES)}

SIDES: Final[tuple[str, str]] = ("left", "right")

#: Landmarks of the legs and pelvis, the ones gait analysis depends on.
LEG_LANDMARKS: Final[tuple[str, ...]] = (
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

#: Skeleton edges for drawing, as name pairs.
EDGES: Final[tuple[tuple[str, str], ...]] = (
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"),
    ("left_heel", "left_foot_index"),
    ("left_ankle", "left_foot_index"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"),
    ("right_ankle", "right_foot_index"),
)


def index(name: str) -> int:
    """Index of a landmark by name.

    >>> index("left_hip")
    23
    """
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"unknown landmark {name!r}; expected one of {', '.join(LANDMARK_NAMES)}") from None


def side_name(side: str, part: str) -> str:
    """Landmark name of a body part on one side.

    >>> side_name("right", "knee")
    'right_knee'
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return f"{side}_{part}"


def mirror(name: str) -> str:
    """The same landmark on the other side of the body (unchanged for midline points).

    >>> mirror("left_knee")
    'right_knee'
    """
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name
