"""The runner's report: one self-contained HTML file plus report.json, summary.json and strides.csv.

Typical use::

    from gaitcheck.report import build_report, write_report
    bundle = build_report([rear_analysis, side_analysis], created=datetime.now(timezone.utc))
    paths = write_report(bundle, "out/")
"""

from __future__ import annotations

from gaitcheck.report.build import ReportBundle, build_report, build_report_data
from gaitcheck.report.html import render_html, write_report

__all__ = ["ReportBundle", "build_report", "build_report_data", "render_html", "write_report"]
