"""Report figures. Each function takes data and returns a matplotlib Figure (Agg canvas);
nothing is shown or saved here (see :func:`figure_png` for the bytes).

Left is drawn in blue, right in orange throughout the report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIDE_COLOURS = {"left": "#1f77b4", "right": "#ff7f0e", "overall": "#555555"}
BAND_COLOUR = "#2ca02c"
FIGURE_WIDTH_IN = 6.4


def _new_figure(height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(FIGURE_WIDTH_IN, height_in), dpi=100)
    figure.subplots_adjust(left=0.11, right=0.97, bottom=0.18, top=0.88)  # fixed: faster than a layout engine
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (rendered in memory)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def stride_values_figure(
    strides: pd.DataFrame,
    metric: str,
    *,
    title: str,
    unit: str,
    reference_band: tuple[float, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Figure:
    """Per-stance values of one metric against time, per side, with the side means.

    Parameters
    ----------
    strides : one row per stance with ``side``, ``ic_time_s`` and the ``metric`` column.
    reference_band : (low, high) shaded in green when given.
    thresholds : label -> value drawn as dashed lines (e.g. elevated / marked).
    """
    figure = _new_figure(2.6)
    axes = figure.add_subplot()
    if reference_band is not None:
        axes.axhspan(*reference_band, color=BAND_COLOUR, alpha=0.12, label="reference band")
    for label, value in (thresholds or {}).items():
        axes.axhline(value, color="#d62728", linestyle="--", linewidth=0.9, alpha=0.7)
        axes.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), fontsize=7, color="#d62728",
                      ha="right", va="bottom")  # fmt: skip
    for side in ("left", "right"):
        rows = strides[strides["side"] == side]
        values = rows[metric].to_numpy(dtype=np.float64)
        times = rows["ic_time_s"].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            continue
        axes.plot(times[finite], values[finite], "o", color=SIDE_COLOURS[side], label=f"{side} stance", ms=5)
        axes.axhline(float(values[finite].mean()), color=SIDE_COLOURS[side], linewidth=1.2, alpha=0.8)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("time of landing (s)")
    axes.set_ylabel(unit)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper right", framealpha=0.7)
    return figure


def signal_figure(
    time_s: NDArray[np.floating[Any]],
    series: Mapping[str, NDArray[np.floating[Any]]],
    stances: pd.DataFrame,
    *,
    title: str,
    unit: str,
) -> Figure:
    """Per-frame signals against time with each stance shaded in its side's colour.

    Parameters
    ----------
    time_s : (T,) frame times.
    series : label -> (T,) values; a label starting with "left"/"right" takes that side's colour.
    stances : rows with ``side``, ``ic_time_s``, ``to_time_s``.
    """
    figure = _new_figure(2.6)
    axes = figure.add_subplot()
    for side, start, stop in stances[["side", "ic_time_s", "to_time_s"]].itertuples(index=False):
        if np.isfinite(start) and np.isfinite(stop):
            axes.axvspan(start, stop, color=SIDE_COLOURS.get(side, "#999999"), alpha=0.12, linewidth=0)
    for label, values in series.items():
        colour = next((c for s, c in SIDE_COLOURS.items() if label.startswith(s)), None)
        axes.plot(time_s, values, color=colour, linewidth=1.2, label=label)
    axes.set_title(title + " (shaded: stance, blue left / orange right)", fontsize=10)
    axes.set_xlabel("time (s)")
    axes.set_ylabel(unit)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper right", framealpha=0.7)
    return figure
