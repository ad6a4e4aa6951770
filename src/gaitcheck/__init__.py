"""gaitcheck: running-gait analysis from a phone video.

The flow runs one way: video -> pose track -> cleaned track -> gait events and strides
-> per-stride metrics -> findings -> plan -> report. Importing the package is cheap;
heavy libraries (mediapipe, OpenCV, matplotlib) load inside the functions that use them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
