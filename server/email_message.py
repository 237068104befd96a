"""One rendered message as a MIME e-mail, with its calendar file when it has one.

The shape is the one Google Calendar and Thunderbird's own invitations use, and the one
CalConnect's iMIP guide recommends::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; method=REQUEST|CANCEL; charset=utf-8   (only with a calendar file)
      application/ics; name=invitation.ics                      (the same file, attached)

The calendar file gets ORGANIZER (the sender) and ATTENDEE (the recipient, RSVP=FALSE)
here, where the addresses are known: iTIP (RFC 5546) wants both in a REQUEST, and Outlook
and Gmail offer "add to calendar" for a REQUEST only when the reader is an attendee
(without one Outlook shows a meeting it says you are not invited to). Nobody is asked to
answer: replies would only reach the sending address.

Why both parts: Outlook looks for iMIP data (RFC 6047) only in the first child of a
multipart/mixed and its descendants (MS-OXCMAIL/[MS-STANV] notes for Outlook 2007 to 2019),
so the ``text/calendar`` part sits inside the alternative, where Outlook and Thunderbird
offer to put the event in the calendar (and Thunderbird needs the ``method`` parameter
on the part, matching METHOD in the file). Programs that ignore a calendar alternative
(webmail, phones' mail apps) still show the attached ``invitation.ics`` that opens in
the calendar. Readers that understand neither show the HTML or the plain text, which
carry everything on their own.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from icalendar import Calendar, vCalAddress

from server.message_texts import RenderedMessage

CALENDAR_FILENAME = "invitation.ics"


def build_email(rendered: RenderedMessage, *, sender: str, recipient: str,
                message_id: str, sent_at: datetime) -> EmailMessage:
    """The e-mail for ``rendered``; ``message_id`` is used as given (with its <>)."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message["X-Auto-Response-Suppress"] = "All"  # the same for Exchange, which reads this
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    calendar = None
    if rendered.calendar is not None and rendered.method is not None:
        calendar = addressed_calendar(rendered.calendar, sender, recipient)
        message.add_alternative(calendar.decode("utf-8"), subtype="calendar",
                                charset="utf-8", params={"method": rendered.method})
    message.make_mixed()  # the alternative becomes the first (and maybe only) part
    message["Content-Language"] = rendered.language.value
    if calendar is not None:
        message.add_attachment(calendar, maintype="application", subtype="ics",
                               filename=CALENDAR_FILENAME)
    return message


def addressed_calendar(data: bytes, sender: str, recipient: str) -> bytes:
    """The calendar file with ORGANIZER = ``sender`` and ATTENDEE = ``recipient``."""
    calendar: Any = Calendar.from_ical(data)
    for event in calendar.walk("VEVENT"):
        event.pop("ORGANIZER", None)
        event.pop("ATTENDEE", None)
        event.add("organizer", _address(sender))
        attendee = _address(recipient)
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["RSVP"] = "FALSE"
        event.add("attendee", attendee)
    return bytes(calendar.to_ical())


def _address(header: str) -> vCalAddress:
    name, address = parseaddr(header)
    if not address:
        raise ValueError(f"not an e-mail address: {header!r}")
    value = vCalAddress(f"mailto:{address}")
    if name:
        value.params["CN"] = name
    return value
