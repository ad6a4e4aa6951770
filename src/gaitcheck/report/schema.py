"""The JSON Schema of ``report.json`` (format ``gaitcheck-report/1``), shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

REPORT_SCHEMA_FILE = "report.schema.json"


@cache
def report_schema() -> dict[str, Any]:
    """The report schema as a dict (JSON Schema draft 2020-12)."""
    text = resources.files("gaitcheck.report").joinpath(REPORT_SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(data: dict[str, Any]) -> None:
    """Check a report dict against the schema (needs the ``jsonschema`` package).

    Raises ``jsonschema.ValidationError`` with the path of the first offending entry.
    """
    import jsonschema

    jsonschema.validate(data, report_schema(), format_checker=jsonschema.FormatChecker())
