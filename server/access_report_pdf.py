"""The access report as a PDF (fpdf2) for a formal request by a client.

Printed with DejaVu Sans, which the system package ``fonts-dejavu-core`` installs, so
that names with Sámi letters (č đ ŋ š ŧ ž á) print as written. Pure: bytes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from server.access_report import What
from server.access_reports import ContactReport

FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
FONT: Final = "DejaVu"

TITLE: Final = "Lokiote: kuka on käsitellyt tietojasi"
SUBTITLE: Final = "Access report (client-data law 703/2023, section 11)"
WHAT: Final[dict[What, str]] = {
    What.OPENED: "Avasi tapaamisen tai näki sen päivän listassa",
    What.CHANGED: "Muutti tapaamista tai sen tietoja",
    What.LINK: "Antoi, kopioi tai perui kutsulinkin",
    What.ADMITTED: "Päästi sisään odotushuoneesta tai käännytti",
    What.SPOKE: "Oli samassa videotapaamisessa",
    What.MESSAGED: "Kirjoitti odotushuoneeseen",
    What.REPORT: "Tuotti lokiotteen",
}
EXPLANATION: Final = (
    "Tämä ote kertoo, ketkä henkilöstöstä ovat käsitelleet tietojasi Kota-etätapaamisissa "
    "ja milloin (asiakastietolaki 703/2023, 11 §). Ote kattaa tapaamiset, joissa "
    "yhteystietosi on ollut osallistujan yhteystietona. Samana päivänä toistuneet "
    "toimet näkyvät yhtenä rivinä, jossa on lukumäärä. Videotapaamisten sisältöä, "
    "keskusteluja tai viestien tekstejä ei koskaan tallenneta, joten niitä ei ole "
    "otteessa. Kun tapaamisen henkilötiedot on poistettu säilytysajan jälkeen, "
    "yhteystieto ei enää löydä sitä tapaamista."
)


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 8, f"Sivu {self.page_no()} / {{nb}}", align="C")


def render_pdf(report: ContactReport, tz: ZoneInfo) -> bytes:
    pdf = _Document(format="A4")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 8, TITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 5, SUBTITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    names = sorted({p.display_name for a in report.appointments for p in a.people})
    produced = report.produced_at.astimezone(tz).strftime("%d.%m.%Y %H:%M")
    by = report.produced_by.display_name + (
        f", {report.produced_by.title}" if report.produced_by.title else "")
    pdf.set_font(FONT, size=10)
    for label, value in (
        ("Henkilö", ", ".join(names) or "-"),
        ("Yhteystieto", report.contact),
        ("Ote tuotettu", f"{produced} ({tz})"),
        ("Otteen tuotti", by),
        ("Tapaamisia", str(len(report.appointments))),
    ):
        pdf.set_font(FONT, "B", 10)
        pdf.cell(38, 6, label)
        pdf.set_font(FONT, size=10)
        pdf.multi_cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 5, EXPLANATION, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for item in report.appointments:
        pdf.ln(4)
        start, end = item.starts_at.astimezone(tz), item.ends_at.astimezone(tz)
        heading = f"Tapaaminen {start:%d.%m.%Y} klo {start:%H:%M}-{end:%H:%M}"
        if item.cancelled:
            heading += " (peruttu)"
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        people = "; ".join(f"{p.display_name} ({p.role})" for p in item.people)
        pdf.multi_cell(0, 5, f"Osallistujana: {people}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if not item.entries:
            pdf.multi_cell(0, 5, "Ei henkilöstön käsittelyä lokissa.",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            continue
        with pdf.table(col_widths=(28, 45, 40, 67, 10), text_align="LEFT",
                       line_height=4.6) as table:
            header = table.row()
            for text in ("Aika", "Kuka", "Rooli", "Mitä", "Krt"):
                header.cell(text)
            for entry in item.entries:
                row = table.row()
                row.cell(entry.at.astimezone(tz).strftime("%d.%m.%Y %H:%M"))
                row.cell(entry.who)
                row.cell(entry.role)
                row.cell(WHAT[entry.what])
                row.cell(str(entry.count))
    if not report.appointments:
        pdf.ln(4)
        pdf.multi_cell(0, 6, "Yhteystiedolla ei löytynyt tapaamisia.",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
