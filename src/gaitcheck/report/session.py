"""One session from one or more clips: a rear and a side clip of the same run merged.

Metrics only one clip can measure come from that clip's summary (pelvic drop and knee
valgus from the rear/front clip, landing and shin angle from the side clip); metrics
several clips measure (cadence, contact time, ...) are pooled: their per-stance values are
summarised together with :func:`gaitcheck.summary.summarize`, so quality flags and
confidence intervals reflect all the stances.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import pandas as pd

from gaitcheck.track import PoseTrack


class AnalysisLike(Protocol):
    """What the report needs from one analysed clip (:class:`gaitcheck.pipeline.Analysis`)."""

    @property
    def source(self) -> str: ...
    @property
    def classification(self) -> Any: ...
    @property
    def track(self) -> PoseTrack: ...
    @property
    def stances(self) -> pd.DataFrame: ...
    @property
    def strides(self) -> pd.DataFrame: ...
    @property
    def summary(self) -> dict[str, Any]: ...


def clip_label(analysis: AnalysisLike) -> str:
    """Short name of a clip for the report: the file name of its source."""
    name = Path(str(analysis.source)).name
    return name or str(analysis.source)


def combined_strides(analyses: Sequence[AnalysisLike]) -> pd.DataFrame:
    """All clips' strides in one table, with a leading ``clip`` column."""
    tables = []
    for analysis in analyses:
        table = analysis.strides.copy()
        table.insert(0, "clip", clip_label(analysis))
        tables.append(table)
    return pd.concat(tables, ignore_index=True, sort=False) if tables else pd.DataFrame()


def merge_summaries(analyses: Sequence[AnalysisLike]) -> dict[str, Any]:
    """The session summary: per-view metrics from their clip, shared metrics pooled.

    With one clip this is that clip's summary plus a ``session`` entry. Each metric entry
    gains ``from_clips``: the labels of the clips it was measured on.
    """
    if not analyses:
        raise ValueError("merge_summaries needs at least one analysis")
    labels = [clip_label(a) for a in analyses]
    holders: dict[str, list[int]] = {}
    for i, analysis in enumerate(analyses):
        for name in analysis.summary.get("metrics", {}):
            holders.setdefault(name, []).append(i)

    merged_metrics: dict[str, Any] = {}
    pooled_cache: dict[tuple[int, ...], dict[str, Any]] = {}
    for name, owners in holders.items():
        if len(owners) == 1:
            entry = dict(analyses[owners[0]].summary["metrics"][name])
        else:
            key = tuple(owners)
            if key not in pooled_cache:
                pooled_cache[key] = _pooled_summary([analyses[i] for i in owners])
            entry = dict(pooled_cache[key]["metrics"][name])
        entry["from_clips"] = [labels[i] for i in owners]
        merged_metrics[name] = entry

    first = analyses[0].summary
    omitted = {
        name: why
        for analysis in analyses
        for name, why in analysis.summary.get("omitted_metrics", {}).items()
        if name not in merged_metrics
    }
    views = [str(a.summary.get("classification", {}).get("view", "unknown")) for a in analyses]
    return {
        **{k: v for k, v in first.items() if k not in ("metrics", "omitted_metrics", "classification", "clip")},
        "classification": {
            "view": "+".join(views),
            "views": views,
            "clips": [a.summary.get("classification", {}) for a in analyses],
        },
        "clip": first.get("clip", {})
        if len(analyses) == 1
        else {"clips": [a.summary.get("clip", {}) for a in analyses]},
        "session": {"clips": labels, "views": views},
        "metrics": merged_metrics,
        "omitted_metrics": omitted,
    }


def _pooled_summary(analyses: Sequence[AnalysisLike]) -> dict[str, Any]:
    """summarize() over the stances of several clips (shared metrics only are used)."""
    from gaitcheck.summary import summarize

    strides = combined_strides(analyses)
    fps_values = [float(a.track.fps) for a in analyses]
    view = str(analyses[0].summary.get("classification", {}).get("view", "rear"))
    oblique = any(bool(a.summary.get("classification", {}).get("oblique", False)) for a in analyses)
    backends = {str(a.track.meta.get("backend")) for a in analyses}
    strides.attrs = dict(analyses[0].strides.attrs)
    return summarize(
        strides,
        SimpleNamespace(view=view, oblique=oblique),
        fps=min(fps_values),
        backend=backends.pop() if len(backends) == 1 else None,
    )
