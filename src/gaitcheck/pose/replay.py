"""Replay backends: tracks that come from somewhere other than the pose model.

* :func:`track_from_truth` turns a gaitsynth ``.truth.json`` into a :class:`PoseTrack`
  holding the TRUE landmark positions, so the cleaning, event and metric code can be
  validated without the pose model's error.
* :func:`read_truth` loads the truth file itself (per-frame values, events, stances).

Landmarks the truth file does not give (eyes, ears, hands, ...) are NaN with zero
visibility, exactly as if the model had not seen them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gaitcheck import skeleton
from gaitcheck.errors import InputError
from gaitcheck.track import PoseTrack


def read_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a gaitsynth truth file (``<clip>.truth.json``) as a dict."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            truth: dict[str, Any] = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: truth file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    for key in ("clip", "frames", "stances", "events"):
        if key not in truth:
            raise InputError(f"{path}: not a gaitsynth truth file (no {key!r} entry)")
    return truth


def track_from_truth(truth: dict[str, Any] | str | os.PathLike[str]) -> PoseTrack:
    """A pose track carrying the exact landmark positions of a rendered clip.

    World landmarks are re-centred on the pelvis centre, like MediaPipe's. Times are
    ``frame / fps`` as in the truth file.
    """
    source = None
    if not isinstance(truth, dict):
        source = str(truth)
        truth = read_truth(truth)
    clip = truth["clip"]
    frames = truth["frames"]
    width, height, fps = int(clip["width"]), int(clip["height"]), float(clip["fps"])
    n = len(frames["time_s"])
    k = skeleton.N_LANDMARKS
    image = np.full((n, k, 3), np.nan)
    world = np.full((n, k, 3), np.nan)
    vis = np.zeros((n, k))
    pelvis = np.asarray(frames["pelvis_centre_world_m"], dtype=np.float64)
    for name, px in frames["landmarks_px"].items():
        i = skeleton.index(name)
        uv = np.asarray(px, dtype=np.float64)
        image[:, i, 0] = uv[:, 0] / width
        image[:, i, 1] = uv[:, 1] / height
        image[:, i, 2] = 0.0
        world[:, i, :] = np.asarray(frames["landmarks_world_m"][name], dtype=np.float64) - pelvis
        vis[:, i] = 1.0
    return PoseTrack(
        time_s=np.asarray(frames["time_s"], dtype=np.float64),
        image_xyz=image,
        visibility=vis,
        presence=vis.copy(),
        world_xyz=world,
        pose_found=np.ones(n, dtype=bool),
        width=width,
        height=height,
        fps=fps,
        meta={
            "backend": "truth-replay",
            "source": source or clip.get("video", clip.get("name", "")),
            "clip": clip["name"],
        },
    )
