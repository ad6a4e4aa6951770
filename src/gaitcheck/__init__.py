"""gaitcheck: running-gait analysis from a phone video.

The flow runs one way: video -> pose track -> cleaned track -> gait events and strides
-> per-stride metrics -> findings -> plan -> report. Importing the package is cheap;
heavy libraries (mediapipe, OpenCV, matplotlib) load inside the functions that use them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "batch"]


def __getattr__(name: str) -> Any:
    """Load the public API lazily, so that importing gaitcheck stays cheap."""
    if name == "batch":
        from gaitcheck.batching import batch

        return batch
    raise AttributeError(f"module 'gaitcheck' has no attribute {name!r}")
