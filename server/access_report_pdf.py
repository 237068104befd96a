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
WIDTHS: Final = (30.0, 45.0, 40.0, 65.0, 10.0)  # time, who, role, what, count: 190 mm
ROW_HEIGHT: Final = 5.0
# The table's header row; it is printed again at the top of each page the table goes on to.
HEADINGS: Final = ("Aika", "Kuka", "Rooli", "Mitä", "Krt")

TITLE: Final = "Lokiote: kuka on käsitellyt tietojasi"
SUBTITLE: Final = "Access report (client-data law 703/2023, section 11)"
WHAT: Final[dict[What, str]] = {
    What.OPENED: "Avasi tai näki päivän listassa",
    What.CHANGED: "Muutti tapaamisen tietoja",
    What.LINK: "Antoi, kopioi tai perui linkin",
    What.ADMITTED: "Päästi sisään tai käännytti",
    What.SPOKE: "Oli samassa videotapaamisessa",
    What.MESSAGED: "Kirjoitti odotushuoneeseen",
    What.REPORT: "Tuotti lokiotteen",
}
# The participant roles as the Finnish staff pages name them (web/locales/fi.json, role.*).
ROLES: Final = {"guardian": "Huoltaja", "child": "Lapsi", "interpreter": "Tulkki",
                "school_staff": "Koulun henkilökunta",
                "other_professional": "Muu ammattilainen"}
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


def _headings(pdf: FPDF) -> None:
    """The table's header row in bold; the rows after it are in the regular face."""
    pdf.set_font(FONT, "B", 8)
    _row(pdf, HEADINGS, repeat_headings=False)
    pdf.set_font(FONT, size=8)


def _table_start(pdf: FPDF) -> None:
    """The header row, on a new page when there is no room for it and one row below it."""
    if pdf.will_page_break(2 * ROW_HEIGHT):
        pdf.add_page()
    _headings(pdf)


def _row(pdf: FPDF, texts: tuple[str, ...], *, repeat_headings: bool = True) -> None:
    """One table row; plain cells when everything fits (fpdf2's table lays out every
    cell as wrapped text, twenty times slower), wrapped cells when something does not.
    A row that goes on to a new page has the header row printed above it there."""
    fits = all(pdf.get_string_width(t) <= w - 2 for t, w in zip(texts, WIDTHS, strict=True))
    lines = 1
    if not fits:
        for text, width in zip(texts, WIDTHS, strict=True):
            wrapped = pdf.multi_cell(width, ROW_HEIGHT, text, dry_run=True, output="LINES")
            assert isinstance(wrapped, list)
            lines = max(lines, len(wrapped))
    if pdf.will_page_break(lines * ROW_HEIGHT):
        pdf.add_page()
        if repeat_headings:
            _headings(pdf)
    if fits:
        for text, width in zip(texts, WIDTHS, strict=True):
            pdf.cell(width, ROW_HEIGHT, text, border="B")
        pdf.ln(ROW_HEIGHT)
        return
    top = pdf.get_y()
    for text, width in zip(texts, WIDTHS, strict=True):
        pdf.multi_cell(width, ROW_HEIGHT, text, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_xy(pdf.l_margin, top + lines * ROW_HEIGHT)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(WIDTHS), pdf.get_y())


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
        people = "; ".join(f"{p.display_name} ({ROLES.get(p.role, p.role)})"
                           for p in item.people)
        pdf.multi_cell(0, 5, f"Osallistujana: {people}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if not item.entries:
            pdf.multi_cell(0, 5, "Ei henkilöstön käsittelyä lokissa.",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            continue
        _table_start(pdf)
        for entry in item.entries:
            _row(pdf, (entry.at.astimezone(tz).strftime("%d.%m.%Y %H:%M"), entry.who,
                       entry.role, WHAT[entry.what], str(entry.count)))
    if not report.appointments:
        pdf.ln(4)
        pdf.multi_cell(0, 6, "Yhteystiedolla ei löytynyt tapaamisia.",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
