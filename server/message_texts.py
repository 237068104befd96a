"""What each outgoing message says: subject, plain text, HTML, SMS and calendar file.

The words live in ``server/message_locales/{fi,sv,en,se}.json``, one file per language
with the same keys, dates written by those files (no locale library, so no English
fallback in a language it lacks). A message names the time in Kota's zone with the zone
in words, the host's first name and the link; it never names the appointment's kind,
which is why :class:`MessageFacts` has no kind: subjects and SMS show on lock screens and
shared tablets.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from server.invitation_calendar import CalendarInvite, Method, calendar_file
from server.records import Delivery, Language, MessagePurpose
from server.sms_segments import sms_size

# Zones whose name Kota can say in words; any other is told as its UTC offset.
_ZONE_WORDS = {
    "Europe/Helsinki": "zone.helsinki",
    "Europe/Mariehamn": "zone.helsinki",
    "Europe/Stockholm": "zone.stockholm",
    "Europe/Oslo": "zone.oslo",
}
_NAME_MAX = 80
_SMS_NAME_MAX = 24
_CALENDAR_METHOD = {
    MessagePurpose.INVITATION: Method.REQUEST,
    MessagePurpose.UPDATE: Method.REQUEST,
    MessagePurpose.CANCELLATION: Method.CANCEL,
}
_LINKED = (MessagePurpose.INVITATION, MessagePurpose.UPDATE, MessagePurpose.REMINDER)


@dataclass(frozen=True)
class MessageFacts:
    purpose: MessagePurpose
    channel: Delivery  # EMAIL or SMS
    language: Language
    recipient_name: str  # participant display name, or the booker's name
    starts_at: datetime
    ends_at: datetime
    zone: ZoneInfo  # KOTA_TIMEZONE; times are told in it, with the zone
    host_first_name: str
    service_name: str | None  # set for booked appointments and booking_confirm
    join_url: str | None  # invitation / update / reminder
    manage_url: str | None  # appointments the family booked itself
    confirm_url: str | None  # booking_confirm
    hold_expires_at: datetime | None  # booking_confirm
    appointment_id: int | None  # for the .ics UID
    participant_id: int | None
    sequence: int  # the .ics SEQUENCE
    domain: str  # host name of KOTA_PUBLIC_URL


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str  # plain-text e-mail body
    html: str  # HTML alternative (simple, inline styles, no remote images)
    sms: str  # the text message, link included
    calendar: bytes | None  # .ics: REQUEST for invitation/update, CANCEL for cancellation
    method: str | None  # "REQUEST" / "CANCEL" / None, for the text/calendar part
    language: Language = Language.FI  # the html lang and Content-Language


class MissingLink(ValueError):
    """The purpose needs a link the facts do not carry (a bug in the caller)."""


def load_texts(language: Language) -> dict[str, str]:
    """One language's message words, read from its file."""
    source = resources.files("server") / "message_locales" / f"{language.value}.json"
    texts: dict[str, str] = json.loads(source.read_text(encoding="utf-8"))
    return texts


def render(facts: MessageFacts, stamped_at: datetime) -> RenderedMessage:
    """Every form of one message (the e-mail's and the SMS's, whatever the channel);
    ``stamped_at`` is the calendar file's DTSTAMP."""
    words = _Words(load_texts(facts.language), facts.zone)
    url = _main_url(facts)
    name = _clean(facts.recipient_name, _NAME_MAX)
    host = _clean(facts.host_first_name, _NAME_MAX)
    subject = words.fill(f"subject.{facts.purpose}", when_short=words.when_short(facts.starts_at))
    body = _email_body(facts, words, name, host, url)
    calendar, method = _calendar(facts, words, host, url, stamped_at)
    return RenderedMessage(
        subject=subject,
        text=body.text(),
        html=body.html(facts.language, subject),
        sms=_sms(facts, words, name, host, url),
        calendar=calendar,
        method=method,
        language=facts.language,
    )


def _email_body(facts: MessageFacts, words: _Words, name: str, host: str,
                url: str | None) -> _Body:
    purpose = facts.purpose
    zone = words.zone(facts.starts_at)
    label = {MessagePurpose.UPDATE: "label.new_when",
             MessagePurpose.CANCELLATION: "label.cancelled_when"}.get(purpose, "label.when")
    zone = words.clock_change(zone, facts.starts_at, facts.ends_at)
    details = [(words.get(label), f"{words.when(facts.starts_at, facts.ends_at)} ({zone})")]
    if host:
        details.append((words.get("label.host"), host))
    service = _clean(facts.service_name or "", _NAME_MAX)
    if service:
        details.append((words.get("label.service"), service))
    greeting = words.fill("greeting", name=name) if name else words.get("greeting_no_name")
    body = _Body(words.get(f"title.{purpose}"), greeting, words.get(f"lead.{purpose}"),
                 details, fallback=words.get("link_fallback"),
                 footer=[words.get("personal"), words.get("automatic")])
    if purpose is MessagePurpose.BOOKING_CONFIRM:
        hold = words.time(facts.hold_expires_at) if facts.hold_expires_at else ""
        body.before = [words.fill("hold", hold=hold)]
        body.button = (words.get("button.confirm"), url or "")
        body.after = [words.get("ignore")]
    elif purpose is MessagePurpose.CANCELLATION:
        body.after = [words.get("link_ended"), words.get("cancel_contact")]
        body.footer = [words.get("automatic")]
    else:
        body.before = [words.get("how")]
        body.button = (words.get("button.join"), url or "")
        if facts.manage_url:
            body.extra_link = (words.get("manage"), facts.manage_url)
    return body


def _sms(facts: MessageFacts, words: _Words, name: str, host: str, url: str | None) -> str:
    """Short, one link (no manage link), and greeting by name only as far as the name
    costs no extra segments: the whole name, else the first name, else none. A letter
    outside GSM-7 in a name (Á in Áilu) would make a Finnish SMS UCS-2 and twice as long."""
    hold = words.time(facts.hold_expires_at) if facts.hold_expires_at else ""
    texts = []
    for candidate in _sms_names(name):
        greeting = (words.fill("sms.greeting", name=candidate) if candidate
                    else words.get("sms.greeting_no_name"))
        texts.append(words.fill(f"sms.{facts.purpose}", greeting=greeting,
                                when_short=words.when_short(facts.starts_at),
                                zone=words.zone(facts.starts_at), host=host, url=url or "",
                                hold=hold))
    return min(texts, key=lambda text: sms_size(text).segments)  # the first of the shortest


def _main_url(facts: MessageFacts) -> str | None:
    if facts.purpose is MessagePurpose.BOOKING_CONFIRM:
        if not facts.confirm_url:
            raise MissingLink("a booking_confirm message needs confirm_url")
        if facts.hold_expires_at is None:
            raise MissingLink("a booking_confirm message needs hold_expires_at")
        return facts.confirm_url
    if facts.purpose in _LINKED:
        if not facts.join_url:
            raise MissingLink(f"a {facts.purpose} message needs join_url")
        return facts.join_url
    return None  # a cancellation carries no link: the old one has stopped


def _calendar(facts: MessageFacts, words: _Words, host: str, url: str | None,
              stamped_at: datetime) -> tuple[bytes | None, str | None]:
    """The .ics for invitations, updates and cancellations of a known participant."""
    method = _CALENDAR_METHOD.get(facts.purpose)
    if method is None or facts.appointment_id is None or facts.participant_id is None:
        return None, None
    summary = words.fill("calendar.summary", host=host).strip(" ,")
    if method is Method.CANCEL:
        description = words.get("calendar.cancelled")
    else:
        description = f"{words.get('how')}\n\n{url}"
        if facts.manage_url:
            description += f"\n\n{words.get('manage')}\n{facts.manage_url}"
    invite = CalendarInvite(
        appointment_id=facts.appointment_id,
        participant_id=facts.participant_id,
        starts_at=facts.starts_at,
        ends_at=facts.ends_at,
        summary=summary,
        description=description,
        join_url=url or "",
        sequence=facts.sequence,
        domain=facts.domain,
    )
    return calendar_file(invite, method, facts.zone, stamped_at), method.value


def _clean(value: str, limit: int) -> str:
    """A name as one line of printable text: no control or format characters (which
    could forge a header or reorder the text), runs of white space made one space."""
    kept = "".join(" " if c.isspace() else c for c in value
                   if c.isspace() or unicodedata.category(c)[0] != "C")
    return re.sub(r" +", " ", kept).strip()[:limit].strip()


def _sms_names(name: str) -> list[str]:
    """The names an SMS may greet with, best first."""
    first = name.split(" ")[0][:_SMS_NAME_MAX]
    whole = [name] if len(name) <= _SMS_NAME_MAX else []
    return list(dict.fromkeys([*whole, first, ""]))


class _Words:
    """One language's texts, with the dates and times written its way."""

    def __init__(self, texts: dict[str, str], zone: ZoneInfo) -> None:
        self.texts = texts
        self.zone_info = zone

    def get(self, key: str) -> str:
        return self.texts[key]

    def fill(self, key: str, **values: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)),
                      self.texts[key])

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("message times must be timezone-aware")
        return moment.astimezone(self.zone_info)

    def time(self, moment: datetime) -> str:
        local = self._local(moment)
        return self.fill("time", hour=str(local.hour), minute=f"{local.minute:02d}")

    def date(self, moment: datetime, key: str) -> str:
        local = self._local(moment)
        return self.fill(key, weekday=self.get(f"weekday.{local.isoweekday()}"),
                         day=str(local.day), month=self.get(f"month.{local.month}"),
                         month_number=str(local.month), year=str(local.year))

    def when(self, starts_at: datetime, ends_at: datetime) -> str:
        return self.fill("when", date=self.date(starts_at, "date.long"),
                         start=self.time(starts_at), end=self.time(ends_at))

    def clock_change(self, zone: str, starts_at: datetime, ends_at: datetime) -> str:
        """``zone``, and a word that the clocks change during the appointment, which
        is why "3.30 to 3.15" or "2.30 to 4.15" can be right."""
        before = self._local(starts_at).utcoffset()
        after = self._local(ends_at).utcoffset()
        if before is None or after is None or before == after:
            return zone
        key = "zone.clocks_forward" if after > before else "zone.clocks_back"
        return self.fill(key, zone=zone)

    def when_short(self, starts_at: datetime) -> str:
        return self.fill("when_short", date=self.date(starts_at, "date.short"),
                         start=self.time(starts_at))

    def zone(self, moment: datetime) -> str:
        """"Suomen aikaa"; on the night the clocks go back, which of the two hours."""
        local = self._local(moment)
        key = _ZONE_WORDS.get(self.zone_info.key)
        if key is None:
            words = self.fill("zone.offset", offset=_offset(local.utcoffset()))
        else:
            words = self.get(key)
        if _happens_twice(local):
            season = "zone.summer" if local.dst() else "zone.winter"
            words = self.fill(season, zone=words)
        return words


def _offset(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _happens_twice(local: datetime) -> bool:
    """The clocks show this wall time twice that night (they went back an hour).

    ``local`` comes from ``astimezone``, so it is never a time the clocks skip."""
    wall = local.replace(tzinfo=None)
    return bool(wall.replace(tzinfo=local.tzinfo, fold=0).utcoffset()
                != wall.replace(tzinfo=local.tzinfo, fold=1).utcoffset())


_FONT = "font-family:Arial,Helvetica,sans-serif;"
_TEXT_COLOUR = "#1a1a1a"
_QUIET_COLOUR = "#4a4a4a"
_BUTTON_COLOUR = "#1d5a9c"


@dataclass
class _Body:
    title: str  # the HTML's heading; the plain text has the subject for that
    greeting: str
    lead: str
    details: list[tuple[str, str]]
    fallback: str = ""
    footer: list[str] | None = None
    before: list[str] | None = None
    button: tuple[str, str] | None = None
    after: list[str] | None = None
    extra_link: tuple[str, str] | None = None

    def text(self) -> str:
        lines = [self.greeting, "", self.lead, ""]
        lines += [f"{label}: {value}" for label, value in self.details]
        lines.append("")
        for paragraph in self.before or []:
            lines += [paragraph, ""]
        if self.button and self.button[1]:
            lines += [f"{self.button[0]}:", self.button[1], ""]
        for paragraph in self.after or []:
            lines += [paragraph, ""]
        if self.extra_link:
            lines += [self.extra_link[0], self.extra_link[1], ""]
        lines += ["-- ", *(self.footer or [])]
        return "\n".join(lines) + "\n"

    def html(self, language: Language, title: str) -> str:
        e = html.escape
        p = f'<p style="margin:0 0 16px 0;{_FONT}font-size:17px;line-height:1.5;">'
        parts = [f'<h1 style="margin:0 0 20px 0;{_FONT}font-size:24px;line-height:1.3;">'
                 f"{e(self.title)}</h1>", f"{p}{e(self.greeting)}</p>", f"{p}{e(self.lead)}</p>"]
        rows = "".join(
            f'<tr><th scope="row" style="text-align:left;vertical-align:top;'
            f'padding:4px 12px 4px 0;{_FONT}font-size:17px;">{e(label)}</th>'
            f'<td style="padding:4px 0;{_FONT}font-size:17px;">{e(value)}</td></tr>'
            for label, value in self.details
        )
        parts.append(f'<table role="presentation" style="border-collapse:collapse;'
                     f'margin:0 0 20px 0;">{rows}</table>')
        parts += [f"{p}{e(paragraph)}</p>" for paragraph in self.before or []]
        if self.button and self.button[1]:
            label, url = self.button
            parts.append(
                '<table role="presentation" style="border-collapse:collapse;margin:8px 0 20px 0;">'
                f'<tr><td bgcolor="{_BUTTON_COLOUR}" style="background:{_BUTTON_COLOUR};'
                'border-radius:8px;">'
                f'<a href="{e(url)}" style="display:inline-block;padding:16px 28px;{_FONT}'
                'font-size:20px;font-weight:bold;color:#ffffff;text-decoration:none;'
                f'border-radius:8px;">{e(label)}</a></td></tr></table>'
            )
        parts += [f"{p}{e(paragraph)}</p>" for paragraph in self.after or []]
        if self.button and self.button[1]:
            parts.append(_link_paragraph(self.fallback, self.button[1]))
        if self.extra_link:
            parts.append(_link_paragraph(*self.extra_link))
        footer = "".join(
            f'<p style="margin:0 0 8px 0;{_FONT}font-size:15px;color:{_QUIET_COLOUR};">'
            f"{e(line)}</p>" for line in self.footer or []
        )
        parts.append(f'<div style="border-top:1px solid #cccccc;margin-top:24px;'
                     f'padding-top:16px;">{footer}</div>')
        return (
            f'<!DOCTYPE html>\n<html lang="{language.value}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n</head>\n"
            f'<body style="margin:0;padding:0;background:#f2f2ef;color:{_TEXT_COLOUR};">\n'
            '<div style="max-width:560px;margin:0 auto;padding:24px 20px;background:#ffffff;">'
            f'\n<main>\n{"".join(parts)}\n</main>\n</div>\n</body>\n</html>\n'
        )


def _link_paragraph(label: str, url: str) -> str:
    e = html.escape
    return (f'<p style="margin:0 0 16px 0;{_FONT}font-size:15px;line-height:1.5;">'
            f'{e(label)}<br><a href="{e(url)}" style="color:{_BUTTON_COLOUR};'
            f'word-break:break-all;">{e(url)}</a></p>')
