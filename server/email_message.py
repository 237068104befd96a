"""One rendered message as a MIME e-mail, with its calendar file when it has one.

The shape is the one Google Calendar and Thunderbird's own invitations use, and the one
CalConnect's iMIP guide recommends::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; method=REQUEST|CANCEL; charset=utf-8   (only with a calendar file)
      application/ics; name=invitation.ics                      (the same file, attached)

Why both: Outlook looks for iMIP data (RFC 6047) only in the first child of a
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
from email.utils import format_datetime

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
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    if rendered.calendar is not None and rendered.method is not None:
        message.add_alternative(rendered.calendar.decode("utf-8"), subtype="calendar",
                                charset="utf-8", params={"method": rendered.method})
    message.make_mixed()  # the alternative becomes the first (and maybe only) part
    message["Content-Language"] = rendered.language.value
    if rendered.calendar is not None:
        message.add_attachment(rendered.calendar, maintype="application", subtype="ics",
                               filename=CALENDAR_FILENAME)
    return message
