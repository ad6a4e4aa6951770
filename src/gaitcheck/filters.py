"""The zero-lag low-pass filter that cleaning and event detection share, the running median
cleaning rejects outliers with, and the spectral window that classification and event
detection share."""

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


def running_median(
    values: NDArray[np.float64], window: int, out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Median of every ``window`` consecutive samples of a finite 1-D series, centred, the ends
    repeating the first and last samples: ``scipy.ndimage.median_filter(values, window,
    mode="nearest")``, exactly.

    ``window`` must be odd. Up to :data:`MEDIAN_NETWORK_MAX_WINDOW` samples the medians come
    from a selection network of element-wise minima and maxima (:func:`median_network`) over
    blocks of frames, which is about twice as fast as scipy's running median at 60 fps and
    lets other threads run meanwhile (numpy releases the interpreter lock; scipy's rank filter
    holds it); longer windows use scipy. Written into ``out`` when given.
    """
    if out is None:
        out = np.empty(values.shape, dtype=np.float64)
    if window > MEDIAN_NETWORK_MAX_WINDOW or values.size == 0:
        from scipy.ndimage import median_filter

        median_filter(values, size=window, mode="nearest", output=out)
        return out
    half = window // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    comparators = median_network(window)
    wires = np.empty((window + 1, min(values.size, _MEDIAN_BLOCK_FRAMES)))
    for first in range(0, values.size, _MEDIAN_BLOCK_FRAMES):
        stop = min(first + _MEDIAN_BLOCK_FRAMES, values.size)
        block = [wire[: stop - first] for wire in wires]
        for position in range(window):
            block[position][...] = padded[first + position : stop + position]
        spare = block[window]
        for low, high, keep_min, keep_max in comparators:
            if keep_min and keep_max:
                np.minimum(block[low], block[high], out=spare)
                np.maximum(block[low], block[high], out=block[high])
                block[low], spare = spare, block[low]
            elif keep_min:
                np.minimum(block[low], block[high], out=block[low])
            else:
                np.maximum(block[low], block[high], out=block[high])
        out[first:stop] = block[half]
    return out


#: Longest window :func:`running_median` takes through its selection network: measured on an
#: hour of 60 fps samples, the network took about half scipy's time at 3-7 samples, about the
#: same at 13 and three times as long at 25.
MEDIAN_NETWORK_MAX_WINDOW = 11

#: Frames per block of :func:`running_median`: its ``window + 1`` rows of a block stay in the
#: core's cache (4 MiB here); smaller blocks spend more on each numpy call.
_MEDIAN_BLOCK_FRAMES = 16384


@lru_cache(maxsize=8)
def median_network(size: int) -> tuple[tuple[int, int, bool, bool], ...]:
    """The comparators that leave the median of ``size`` (odd) values in position ``size // 2``.

    Batcher's odd-even merge sort network for ``size`` inputs (a power-of-two network whose
    comparators reaching past ``size`` are dropped, which still sorts), pruned backwards from
    the middle position: a comparator ``(low, high, keep_min, keep_max)`` puts the smaller of
    positions ``low`` and ``high`` into ``low`` and the larger into ``high``, and only the
    outputs some later comparator or the median reads are kept.
    """
    padded_size = 1 << max(size - 1, 0).bit_length()
    sorting: list[tuple[int, int]] = []
    merged = 1
    while merged < padded_size:
        step = merged
        while step >= 1:
            for start in range(step % merged, padded_size - step, 2 * step):
                for offset in range(min(step, padded_size - start - step)):
                    low, high = start + offset, start + offset + step
                    same_merge = low // (2 * merged) == high // (2 * merged)
                    if same_merge and high < size:
                        sorting.append((low, high))
            step //= 2
        merged *= 2
    needed, pruned = {size // 2}, []
    for low, high in reversed(sorting):
        keep_min, keep_max = low in needed, high in needed
        if keep_min or keep_max:
            pruned.append((low, high, keep_min, keep_max))
            needed |= {low, high}
    return tuple(reversed(pruned))
