"""The zero-lag low-pass filter that cleaning and event detection share, and the spectral
window that classification and event detection share."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray


def zero_lag_lowpass(
    values: NDArray[np.floating[Any]], cutoff_hz: float, fps: float, *, order: int = 2, axis: int = -1
) -> NDArray[np.float64]:
    """Butterworth low-pass of ``order`` run forwards and backwards (no lag) along ``axis``.

    ``values`` must be finite. Always a new array; a series too short for the filter's edge
    padding (at most three times the filter length) comes back as an unfiltered copy.
    """
    from scipy.signal import butter, filtfilt

    b, a = butter(order, cutoff_hz / (fps / 2.0))
    if np.shape(values)[axis] <= 3 * max(len(a), len(b)):
        return np.array(values, dtype=np.float64)
    filtered: NDArray[np.float64] = filtfilt(b, a, values, axis=axis)
    return filtered


@lru_cache(maxsize=2)
def hann_window(n_samples: int) -> NDArray[np.float64]:
    """``np.hanning(n_samples)``, read-only, computed once per length: classification and event
    detection both window a whole clip's foot-height difference before its spectrum (the
    cosines of an hour of frames cost 5 ms each time)."""
    window = np.hanning(n_samples)
    window.setflags(write=False)
    return window
