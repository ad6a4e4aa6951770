"""Knee and hip angles: FPPA and hip adduction (rear/front), knee flexion (side)."""

from __future__ import annotations

from gaitcheck import skeleton
from gaitcheck.metrics._context import MetricColumns, StrideContext
from gaitcheck.metrics._geometry import (
    FloatArray,
    joint_flexion_deg,
    knee_fppa_deg,
    signed_angle_from_downward_normal_deg,
)


def _leg(ctx: StrideContext, side: str) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    other = "right" if side == "left" else "left"
    return (
        ctx.point(skeleton.side_name(side, "hip")),
        ctx.point(skeleton.side_name(side, "knee")),
        ctx.point(skeleton.side_name(side, "ankle")),
        ctx.point(skeleton.side_name(other, "hip")),
    )


def frontal_knee_and_hip(ctx: StrideContext) -> MetricColumns:
    """Peak knee FPPA (+ = valgus) and peak hip adduction (thigh against the pelvis line,
    + = knee toward the other hip) over each stance."""
    fppa = {}
    adduction = {}
    for side in skeleton.SIDES:
        hip, knee, ankle, other_hip = _leg(ctx, side)
        fppa[side] = knee_fppa_deg(hip, knee, ankle, other_hip)
        adduction[side] = signed_angle_from_downward_normal_deg(knee, hip, other_hip)
    return {
        "knee_fppa_deg": ctx.peak_in_stance(fppa["left"], fppa["right"]),
        "hip_adduction_deg": ctx.peak_in_stance(adduction["left"], adduction["right"]),
    }


def sagittal_knee_flexion(ctx: StrideContext) -> MetricColumns:
    """Knee flexion (0 = straight) in the image at IC and its peak over the stance."""
    flexion = {}
    for side in skeleton.SIDES:
        hip, knee, ankle, _ = _leg(ctx, side)
        flexion[side] = joint_flexion_deg(hip, knee, ankle)
    return {
        "knee_flexion_ic_deg": ctx.at_ic_contact_leg(flexion["left"], flexion["right"]),
        "knee_flexion_peak_deg": ctx.peak_in_stance(flexion["left"], flexion["right"]),
    }
