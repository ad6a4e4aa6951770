"""The runner's report: one self-contained HTML file plus report.json, summary.json and strides.csv.

Typical use::

    from gaitcheck.report import build_report, write_report
    bundle = build_report([rear_analysis, side_analysis], created=datetime.now(timezone.utc))
    paths = write_report(bundle, "out/")

The names load lazily, so ``gaitcheck analyze --no-report`` (which imports
:mod:`gaitcheck.report.run`) does not import the report builder.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names for type checkers
    from gaitcheck.report.build import ReportBundle, build_report, build_report_data
    from gaitcheck.report.html import render_html, write_report

__all__ = ["ReportBundle", "build_report", "build_report_data", "render_html", "write_report"]

_HOMES = {
    "ReportBundle": "gaitcheck.report.build",
    "build_report": "gaitcheck.report.build",
    "build_report_data": "gaitcheck.report.build",
    "render_html": "gaitcheck.report.html",
    "write_report": "gaitcheck.report.html",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module 'gaitcheck.report' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
