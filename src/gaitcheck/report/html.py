"""Render the report as one self-contained HTML file and write the report files.

The HTML embeds every picture as a base64 PNG and carries its own CSS: no network, no
external files, readable on a phone. Jinja2 autoescaping is on, so file names, runner names
and notes are shown as text, never interpreted as markup.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from gaitcheck.errors import InputError
from gaitcheck.fileio import strict_json, write_text_atomic
from gaitcheck.report.build import ReportBundle

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
STRIDES_CSV = "strides.csv"
SUMMARY_JSON = "summary.json"


def format_number(value: float, unit: str) -> str:
    """A value with the precision its unit deserves (3 decimals for seconds, none for steps/min).

    >>> format_number(0.2721, "s"), format_number(161.6, "steps/min"), format_number(7.43, "deg")
    ('0.272', '162', '7.4')
    """
    if unit == "s":
        return f"{value:.3f}"
    if unit == "steps/min":
        return f"{value:.0f}"
    return f"{value:.1f}"


def _environment() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gaitcheck.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = format_number
    return environment


def render_html(bundle: ReportBundle) -> str:
    """The report as an HTML string (pure: no file access besides the packaged template)."""
    data = bundle.data
    encoded = {image.id: base64.b64encode(image.png).decode("ascii") for image in bundle.images}
    key_frames = [
        {**entry, "b64": encoded[entry["image_id"]]} for entry in data["key_frames"] if entry["image_id"] in encoded
    ]
    plots = [{**figure, "b64": encoded[figure["id"]]} for figure in data["figures"] if figure["id"] in encoded]
    unreliable = [s for s in data["findings"]["skipped"] if "unreliable" in s["reason"]]
    template = _environment().get_template("report.html.j2")
    return str(template.render(d=data, key_frames=key_frames, plots=plots, unreliable=unreliable))


def report_json(bundle: ReportBundle) -> str:
    """``report.json`` text (strict JSON; its layout is :data:`gaitcheck.report.schema.REPORT_SCHEMA`)."""
    return strict_json(bundle.data)


def write_report(
    bundle: ReportBundle, outdir: str | os.PathLike[str], *, force: bool = False, tables: bool = True
) -> dict[str, Path]:
    """Write report.html and report.json (and, with ``tables``, summary.json and strides.csv
    of the whole session) into ``outdir``.

    Refuses (InputError) when one of these files already exists, unless ``force``.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: exists and is not a folder; choose another -o OUTDIR")
    paths = {"html": outdir / REPORT_HTML, "json": outdir / REPORT_JSON}
    if tables:
        paths.update({"summary": outdir / SUMMARY_JSON, "strides": outdir / STRIDES_CSV})
    existing = [p.name for p in paths.values() if p.exists()]
    if existing and not force:
        raise InputError(
            f"{outdir}: already holds {', '.join(existing)}; choose another -o OUTDIR or pass --force to overwrite"
        )
    json_text = report_json(bundle)
    html_text = render_html(bundle)
    outdir.mkdir(parents=True, exist_ok=True)
    if tables:
        write_text_atomic(paths["strides"], bundle.strides_csv)
        summary_text = strict_json(bundle.data["summary"])
        write_text_atomic(paths["summary"], summary_text)
    write_text_atomic(paths["json"], json_text)
    write_text_atomic(paths["html"], html_text)
    return paths
