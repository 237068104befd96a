"""The organisation report as CSV and XLSX: the JSON's rows, columns named as its keys.

CSV: the report rows, then a ``total`` row (``month`` is ``total``), a blank line, and
the line rows with their own header. Text cells that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) get a leading apostrophe.
XLSX: the same on two sheets, ``report`` and ``lines``, every text written as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Final

import xlsxwriter

from server.organisation_report import VERDICTS, OrganisationReport

ROW_COLUMNS: Final = (
    "month", "service_id", "service", "kind", "staff_id", "staff", "appointments", "held",
    "cancelled", "no_show", "participant_minutes", "participants_joined",
    "minutes_per_participant", "waiting_median_s", "waiting_p90_s", "waits_counted",
    *(f"tests_{v}" for v in VERDICTS), "sound_only_switches", "travel_km", "travel_hours",
    "travel_unknown",
)
LINE_COLUMNS: Final = (
    "month", "line_id", "line", "staff_id", "staff", "served", "left_waiting",
    "wait_median_s", "wait_p90_s", "waits_counted",
)
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with its ``tests`` as ``tests_<verdict>`` columns."""
    out = {k: v for k, v in row.items() if k != "tests"}
    for verdict, count in row.get("tests", {}).items():
        out[f"tests_{verdict}"] = count
    return out


def _table(report: OrganisationReport) -> list[dict[str, Any]]:
    return [flat(r) for r in report.rows] + [{"month": "total", **flat(report.totals)}]


def safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _cells(row: dict[str, Any], columns: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    for column in columns:
        value = row.get(column)
        out.append("" if value is None else safe_text(value) if isinstance(value, str)
                   else value)
    return out


def report_csv(report: OrganisationReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROW_COLUMNS)
    writer.writerows(_cells(r, ROW_COLUMNS) for r in _table(report))
    writer.writerow([])
    writer.writerow(LINE_COLUMNS)
    writer.writerows(_cells(r, LINE_COLUMNS) for r in report.lines)
    # With a byte-order mark, spreadsheets open the Finnish and Sámi letters right.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_xlsx(report: OrganisationReport) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    for name, columns, rows in (("report", ROW_COLUMNS, _table(report)),
                                ("lines", LINE_COLUMNS, report.lines)):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, columns, bold)
        sheet.freeze_panes(1, 0)
        for y, row in enumerate(rows, start=1):
            for x, column in enumerate(columns):
                value = row.get(column)
                if isinstance(value, str):
                    sheet.write_string(y, x, value)
                elif value is not None:
                    sheet.write_number(y, x, value)
    book.close()
    return out.getvalue()
