"""The access report's PDF: a table that runs on to further pages has its header row at
the top of each of them (read back with pypdf)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from server.access_report import AppointmentReport, Entry, What
from server.access_report_pdf import HEADINGS, render_pdf
from server.access_reports import ContactReport
from server.records import CoveredParticipant, Staff, StaffRole

HELSINKI = ZoneInfo("Europe/Helsinki")
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
WHO = "Sanna Aikio"
# A long job title wraps its cell: those rows take the wrapped path through a page break.
LONG_TITLE = "Sosiaalityöntekijä, lastensuojelun avohuolto ja sijaishuolto, Inarin kunta"


def _appointment(number: int, entries: int) -> AppointmentReport:
    starts = START + timedelta(days=number)
    person = CoveredParticipant(participant_id=number, appointment_id=number,
                                display_name="Áile Čoavddáš", role="guardian",
                                starts_at=starts, ends_at=starts + timedelta(minutes=30),
                                cancelled=False)
    return AppointmentReport(
        appointment_id=number, starts_at=starts, ends_at=starts + timedelta(minutes=30),
        cancelled=False, people=(person,),
        entries=tuple(
            Entry(at=starts + timedelta(minutes=i), staff_id=1, who=WHO,
                  role=LONG_TITLE if i % 7 == 3 else "sosiaalityöntekijä",
                  role_code="professional", title="", what=list(What)[i % len(What)],
                  count=1 + i % 3)
            for i in range(entries)))


def _report() -> ContactReport:
    registry = Staff(id=9, username="rauni", display_name="Rauni Kirjaaja",
                     role=StaffRole.PROFESSIONAL, active=True, title="Kirjaaja", registry=True)
    return ContactReport(contact="aile@example.fi", produced_at=START + timedelta(days=30),
                         produced_by=registry,
                         appointments=[_appointment(1, 70), _appointment(2, 5),
                                       _appointment(3, 90)])


def test_every_page_with_entries_starts_its_table_with_the_header_row() -> None:
    pages = [page.extract_text() for page in
             PdfReader(io.BytesIO(render_pdf(_report(), HELSINKI))).pages]
    assert len(pages) >= 3
    with_entries = [text for text in pages if WHO in text]
    assert len(with_entries) >= 3
    header = re.compile(r"\s*".join(HEADINGS))
    for number, text in enumerate(with_entries, 1):
        found = header.search(text)
        assert found, f"page {number} has entries but no header row:\n{text[:300]}"
        assert found.start() < text.index(WHO), f"page {number}: the header is not on top"
    # Each appointment's table has its header once, and each page break adds one more.
    assert sum(len(header.findall(text)) for text in pages) >= 3 + len(with_entries) - 1
