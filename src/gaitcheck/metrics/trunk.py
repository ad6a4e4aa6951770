"""Trunk forward lean (side views)."""

from __future__ import annotations

from gaitcheck.metrics._context import MetricColumns, StrideContext
from gaitcheck.metrics._geometry import inclination_from_vertical_deg


def trunk_lean(ctx: StrideContext) -> MetricColumns:
    """Mean forward lean of the hip-midpoint -> shoulder-midpoint line from the image vertical
    over each stance, + = shoulders ahead of the hips in the running direction."""
    lean_deg = inclination_from_vertical_deg(ctx.midpoint("shoulder"), ctx.midpoint("hip"), -ctx.forward_sign)
    return {"trunk_lean_deg": ctx.mean_in_stance(lean_deg)}
