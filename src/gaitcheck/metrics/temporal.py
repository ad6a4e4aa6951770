"""Timing: step, stride, contact and flight time, duty factor and step cadence (all views).

The clip cadence is :func:`gaitcheck.events.clip_cadence_spm`, re-exported here.
"""

from __future__ import annotations

import numpy as np

from gaitcheck.events import clip_cadence_spm
from gaitcheck.metrics._context import MetricColumns, StrideContext

__all__ = ["clip_cadence_spm", "timing"]


def timing(ctx: StrideContext) -> MetricColumns:
    """Per-stance timing relative to the previous (contralateral) and the previous same-side IC.

    A step needs the previous stance on the other side, a stride the one before that on the
    same side; otherwise (a contact was missed) the value is NaN. Flight time is the gap from
    the previous foot's toe-off to this IC, 0 when the feet overlap (walking). Contact time
    and duty factor need a complete stance (its toe-off inside the clip).
    """
    is_left = ctx.is_left
    n = len(is_left)
    previous_is_other = np.zeros(n, dtype=bool)
    previous_is_other[1:] = is_left[1:] != is_left[:-1]
    stride_ok = np.zeros(n, dtype=bool)
    stride_ok[2:] = previous_is_other[2:] & previous_is_other[1:-1]
    previous_ic = np.append(np.nan, ctx.ic_time_s[:-1])
    previous_to = np.append(np.nan, ctx.to_time_s[:-1])
    same_side_ic = np.append([np.nan, np.nan], ctx.ic_time_s[:-2])[:n]
    contact_time_s = np.where(ctx.complete, ctx.to_time_s - ctx.ic_time_s, np.nan)
    step_time_s = np.where(previous_is_other, ctx.ic_time_s - previous_ic, np.nan)
    stride_time_s = np.where(stride_ok, ctx.ic_time_s - same_side_ic, np.nan)
    flight_time_s = np.where(previous_is_other, np.maximum(ctx.ic_time_s - previous_to, 0.0), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        step_cadence_spm = 60.0 / step_time_s
    return {
        "contact_time_s": contact_time_s,
        "step_time_s": step_time_s,
        "stride_time_s": stride_time_s,
        "flight_time_s": flight_time_s,
        "duty_factor_pct": 100.0 * contact_time_s / stride_time_s,
        "cadence_spm": step_cadence_spm,
    }
