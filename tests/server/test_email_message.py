"""The MIME e-mail: built, sent over real SMTP, and parsed back as a mail program would."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import aiosmtplib
import pytest
from icalendar import Calendar

from server.email_message import CALENDAR_FILENAME, addressed_calendar, build_email
from server.message_texts import render
from server.records import Language, MessagePurpose
from tests.mail_inbox import MailInbox
from tests.server.test_message_texts import CONFIRM_URL, JOIN_URL, STAMP, facts

SENDER = "Kota <kota@kota.example.fi>"
RECIPIENT = "maija@example.fi"
SENT_AT = datetime(2026, 12, 4, 7, 10, 30, tzinfo=UTC)
CALENDAR_PURPOSES = {MessagePurpose.INVITATION: "REQUEST", MessagePurpose.UPDATE: "REQUEST",
                     MessagePurpose.CANCELLATION: "CANCEL"}


def built(purpose: MessagePurpose = MessagePurpose.INVITATION,
          language: Language = Language.FI, **changes: Any) -> EmailMessage:
    rendered = render(facts(purpose, language, **changes), STAMP)
    return build_email(rendered, sender=SENDER, recipient=RECIPIENT,
                       message_id="<outbox-17@kota.example.fi>", sent_at=SENT_AT)


def parsed_back(message: EmailMessage) -> EmailMessage:
    """The bytes a server would send, read again with the standard parser."""
    back = message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(back, EmailMessage)
    return back


def shape(part: EmailMessage) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [shape(p) for p in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("purpose", list(MessagePurpose))
def test_every_message_parses_back_with_the_right_parts(purpose: MessagePurpose,
                                                        language: Language) -> None:
    message = parsed_back(built(purpose, language))
    rendered = render(facts(purpose, language), STAMP)
    body = ["text/plain", "text/html"]
    method = CALENDAR_PURPOSES.get(purpose)
    if method is None:
        assert shape(message) == ("multipart/mixed", [("multipart/alternative", body)])
    else:
        assert shape(message) == ("multipart/mixed", [
            ("multipart/alternative", [*body, "text/calendar"]), "application/ics"])
    assert message["Subject"] == rendered.subject
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["Message-ID"] == "<outbox-17@kota.example.fi>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Content-Language"] == language.value
    assert message["Date"].datetime == SENT_AT
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == rendered.text
    assert html.get_content() == rendered.html
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"


@pytest.mark.parametrize(("purpose", "method"), list(CALENDAR_PURPOSES.items()))
def test_the_calendar_part_carries_its_method_and_parses(purpose: MessagePurpose,
                                                         method: str) -> None:
    message = parsed_back(built(purpose, sequence=2))
    inline = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    attached = [p for p in message.walk() if p.get_content_type() == "application/ics"]
    assert len(inline) == 1 and len(attached) == 1
    part = inline[0]
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    assert part.get_content_disposition() is None  # an alternative, not an attachment
    assert attached[0].get_content_disposition() == "attachment"
    assert attached[0].get_filename() == CALENDAR_FILENAME
    files = [part.get_payload(decode=True), attached[0].get_payload(decode=True)]
    # A text part's line ends are the wire's (CRLF) and read back as "\n"; the file is
    # the same either way, and the attachment keeps its bytes exactly.
    assert isinstance(files[0], bytes) and isinstance(files[1], bytes)
    assert files[0].replace(b"\r\n", b"\n") == files[1].replace(b"\r\n", b"\n")
    for data in files:
        assert isinstance(data, bytes)
        calendar: Any = Calendar.from_ical(data)
        event = calendar.walk("VEVENT")[0]
        assert calendar["METHOD"] == method
        assert event["UID"] == "appointment-6789-participant-12345@kota.example.fi"
        assert event["SEQUENCE"] == 2
        assert event["DTSTART"].dt.astimezone(UTC) == facts().starts_at
        assert [z["TZID"] for z in calendar.walk("VTIMEZONE")] == ["Europe/Helsinki"]
        # The reader is an attendee, so the invitation can go in the calendar; no reply
        # is asked for.
        assert str(event["ORGANIZER"]) == "mailto:kota@kota.example.fi"
        assert event["ORGANIZER"].params["CN"] == "Kota"
        assert str(event["ATTENDEE"]) == f"mailto:{RECIPIENT}"
        assert event["ATTENDEE"].params["RSVP"] == "FALSE"


@pytest.mark.parametrize("language", list(Language))
def test_the_html_is_plain_and_self_contained(language: Language) -> None:
    for purpose in MessagePurpose:
        html = render(facts(purpose, language), STAMP).html
        assert f'<html lang="{language.value}">' in html
        assert not re.search(r"<(img|script|link|iframe|object|style)\b", html, re.I)
        assert not re.search(r"\b(src|srcset|background)=", html, re.I)
        assert "url(" not in html
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert set(hrefs) <= {JOIN_URL, CONFIRM_URL}


def test_the_recipients_name_and_address_go_in_the_attendee() -> None:
    rendered = render(facts(), STAMP)
    assert rendered.calendar is not None
    data = addressed_calendar(rendered.calendar, '"Kota, Lappi" <noreply@kota.example.fi>',
                              "Maija Virtanen <maija@example.fi>")
    event: Any = Calendar.from_ical(data).walk("VEVENT")[0]
    assert event["ORGANIZER"].params["CN"] == "Kota, Lappi"
    assert str(event["ATTENDEE"]) == "mailto:maija@example.fi"
    assert event["ATTENDEE"].params["CN"] == "Maija Virtanen"
    with pytest.raises(ValueError):
        addressed_calendar(rendered.calendar, SENDER, "")


def test_a_name_that_tries_to_add_a_header_stays_in_the_body() -> None:
    message = parsed_back(built(recipient_name="Maija\r\nBcc: everyone@example.fi"))
    assert message["Bcc"] is None
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "Maija Bcc: everyone@example.fi" in plain.get_content()


def test_a_naive_send_time_is_refused() -> None:
    rendered = render(facts(), STAMP)
    with pytest.raises(ValueError):
        build_email(rendered, sender=SENDER, recipient=RECIPIENT, message_id="<1@k>",
                    sent_at=datetime(2026, 12, 4, 9, 10))


async def test_the_e_mail_crosses_real_smtp_intact() -> None:
    """Sent with aiosmtplib to an aiosmtpd server on loopback; Sámi letters, the long
    link and the calendar file arrive as they left."""
    message = built(MessagePurpose.INVITATION, Language.SE,
                    recipient_name="Máret Ánne Sara")
    rendered = render(facts(MessagePurpose.INVITATION, Language.SE,
                            recipient_name="Máret Ánne Sara"), STAMP)
    with MailInbox() as inbox:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=inbox.port,
                              start_tls=False, use_tls=False, timeout=30)
        received = await inbox.wait_for(lambda m: RECIPIENT in m.recipients, timeout=30)
    assert received.message["Subject"] == rendered.subject
    assert received.text.replace("\r\n", "\n") == rendered.text
    assert JOIN_URL in received.text
    data = received.attachment("application/ics")
    assert rendered.calendar is not None
    assert data == addressed_calendar(rendered.calendar, SENDER, RECIPIENT)
