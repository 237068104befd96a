"""What each message says, in every language: rendered and read back as a family would."""

from __future__ import annotations

import dataclasses
import json
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from server.booking_links import BookingLinks
from server.join_tokens import SigningKey, encode_token, new_link, short_token
from server.message_texts import MessageFacts, MissingLink, RenderedMessage, load_texts, render
from server.records import (
    AppointmentKind,
    Booking,
    BookingState,
    Delivery,
    Language,
    MessagePurpose,
)
from server.sms_segments import SmsEncoding, sms_size

DASH = "\u2013"  # an en dash, between the start and the end
ROOT = Path(__file__).resolve().parents[2]
HELSINKI = ZoneInfo("Europe/Helsinki")
STAMP = datetime(2026, 12, 4, 7, 10, tzinfo=UTC)
START = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)  # Thursday 10.00 in Helsinki
PUBLIC_URL = "https://kota.example.fi"
KEY = SigningKey(b"k" * 32)
LANGUAGES = list(Language)
PURPOSES = list(MessagePurpose)
# Purposes whose message must carry a link, and which link.
LINK_OF = {
    MessagePurpose.INVITATION: "join_url",
    MessagePurpose.UPDATE: "join_url",
    MessagePurpose.REMINDER: "join_url",
    MessagePurpose.BOOKING_CONFIRM: "confirm_url",
}
SMS_MAX_SEGMENTS = 3
ZONE_WORDS = {Language.FI: "Suomen aikaa", Language.SV: "finsk tid",
              Language.EN: "Finnish time", Language.SE: "Suoma áigi"}
ENGLISH_WORD = re.compile(
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March"
    r"|June|July|August|October|the|and|link|time|appointment|open|confirm)\b",
    re.IGNORECASE)  # April, September … are Swedish too


def join_url(appointment_id: int = 6789, participant_id: int = 12345, *,
             short: bool = False, public_url: str = PUBLIC_URL) -> str:
    """A join link as JoinLinks.url makes it: a signed token in the fragment (with a
    fixed id, so the screenshots stay the same from run to run); ``short``: as
    JoinLinks.short_url makes it for text messages."""
    link = dataclasses.replace(
        new_link(participant_id, appointment_id, START + timedelta(minutes=45),
                 timedelta(hours=2), STAMP), jti="cZ3tT0kenIdForTests0Aw")
    token = short_token(KEY, link) if short else encode_token(KEY, link)
    return f"{public_url}/join#{token}"


def booking(**changes: Any) -> Booking:
    made = Booking(
        id=481, service_id=3, staff_id=7, kind=AppointmentKind.FAMILY_COUNSELLING,
        starts_at=START, ends_at=START + timedelta(minutes=45), state=BookingState.HELD,
        hold_expires_at=STAMP + timedelta(minutes=10), display_name="Maija Virtanen",
        contact="maija@example.fi", channel=Delivery.EMAIL, language=Language.FI, topic="",
        confirm_nonce="Qm9va2luZ05vbmNlMDAx", manage_nonce="TWFuYWdlTm9uY2UwMDAx",
        appointment_id=6789, participant_id=12345, created_at=STAMP, confirmed_at=None,
        cancelled_at=None,
    )
    return dataclasses.replace(made, **changes)


LINKS = BookingLinks(KEY, PUBLIC_URL)
JOIN_URL = join_url()
CONFIRM_URL = LINKS.confirm_url(booking())
SHORT_JOIN_URL = join_url(short=True)
SHORT_CONFIRM_URL = LINKS.short_confirm_url(booking())
MANAGE_URL = LINKS.manage_url(booking())


def facts(purpose: MessagePurpose = MessagePurpose.INVITATION,
          language: Language = Language.FI, **changes: Any) -> MessageFacts:
    made = MessageFacts(
        purpose=purpose, channel=Delivery.EMAIL, language=language,
        recipient_name="Maija Virtanen", starts_at=START,
        ends_at=START + timedelta(minutes=45), zone=HELSINKI, host_first_name="Sanna",
        service_name=None, join_url=JOIN_URL, manage_url=None,
        confirm_url=CONFIRM_URL if purpose is MessagePurpose.BOOKING_CONFIRM else None,
        hold_expires_at=(STAMP + timedelta(minutes=10)
                         if purpose is MessagePurpose.BOOKING_CONFIRM else None),
        appointment_id=6789, participant_id=12345, sequence=0, domain="kota.example.fi",
    )
    return dataclasses.replace(made, **changes)


def event_of(data: bytes | None) -> tuple[Any, Any]:
    """The calendar and its one event (icalendar's values are loosely typed)."""
    assert data is not None
    calendar: Any = Calendar.from_ical(data)
    return calendar, calendar.walk("VEVENT")[0]


def everything(message: RenderedMessage) -> str:
    """Every text a recipient or a lock screen can see, the calendar file unfolded."""
    calendar = ""
    if message.calendar is not None:
        calendar = message.calendar.decode("utf-8").replace("\r\n ", "").replace("\\,", ",")
        _, event = event_of(message.calendar)
        calendar += f"\n{event['SUMMARY']}\n{event['DESCRIPTION']}"
    return "\n".join([message.subject, message.text, message.html, message.sms, calendar])


def kind_words() -> list[str]:
    """Every appointment kind's name in every language, as the web client shows it."""
    words = []
    for path in sorted((ROOT / "web" / "locales").glob("*.json")):
        texts = json.loads(path.read_text(encoding="utf-8"))
        words += [text for key, text in texts.items() if key.startswith("kind.")]
    assert len(words) >= 20
    return words


# -- every purpose in every language -------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_renders_in_every_language(purpose: MessagePurpose,
                                                 language: Language) -> None:
    message = render(facts(purpose, language, service_name="Perhepalvelut, Inari"), STAMP)
    assert message.subject and "\n" not in message.subject
    for body in (message.text, message.html):
        assert "Maija Virtanen" in body
        assert "Sanna" in body
        assert ZONE_WORDS[language] in body
        assert "Perhepalvelut, Inari" in body
    assert f'<html lang="{language.value}">' in message.html
    link = LINK_OF.get(purpose)
    if link is None:
        assert JOIN_URL not in everything(message)
        assert "href" not in message.html
    else:
        url = CONFIRM_URL if link == "confirm_url" else JOIN_URL
        assert url in message.text and url in message.sms
        assert f'href="{url}"' in message.html
    assert "{" not in everything(message).replace("BEGIN:", ""), "a placeholder was left"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_subject_is_neutral_and_names_the_day_and_time(language: Language) -> None:
    subject = render(facts(MessagePurpose.INVITATION, language), STAMP).subject
    short = {Language.FI: "10.12. klo 10.00", Language.SV: "10.12. kl. 10.00",
             Language.EN: "10 December at 10:00", Language.SE: "10.12. dii. 10.00"}
    assert subject.endswith(short[language])
    assert "Maija" not in subject and "Sanna" not in subject


def test_the_finnish_invitation_reads_as_written() -> None:
    message = render(facts(), STAMP)
    assert message.subject == "Kutsu etätapaamiseen 10.12. klo 10.00"
    assert message.text.startswith("Hei Maija Virtanen,\n\nSinulle on sovittu etätapaaminen.")
    assert f"Aika: torstaina 10.12.2026 klo 10.00{DASH}10.45 (Suomen aikaa)" in message.text
    assert "15 minuuttia ennen" in message.text
    assert "Mitään ei tarvitse asentaa." in message.text
    assert message.sms == (
        "Hei Maija Virtanen! Kutsu etätapaamiseen 10.12. klo 10.00 (Suomen aikaa), mukana"
        f" Sanna. Linkki: {JOIN_URL}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_booking_confirm_says_until_when_and_what_if_not_asked(language: Language) -> None:
    hold = datetime(2026, 12, 4, 7, 20, tzinfo=UTC)  # 9.20 in Helsinki
    message = render(facts(MessagePurpose.BOOKING_CONFIRM, language, hold_expires_at=hold),
                     STAMP)
    held = {Language.FI: "klo 9.20 asti", Language.SV: "till kl. 9.20",
            Language.EN: "until 9:20", Language.SE: "dii. 9.20 rádjái"}
    ignore = {Language.FI: "Jos et pyytänyt tätä", Language.SV: "Om du inte har bett om",
              Language.EN: "If you did not ask for this", Language.SE: "Jus it leat bivdán"}
    assert held[language] in message.text
    assert ignore[language] in message.text
    assert CONFIRM_URL in message.text
    assert message.calendar is None and message.method is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_self_booked_appointment_carries_its_manage_link(language: Language) -> None:
    for purpose in (MessagePurpose.INVITATION, MessagePurpose.UPDATE, MessagePurpose.REMINDER):
        message = render(facts(purpose, language, manage_url=MANAGE_URL,
                               service_name="Perhepalvelut, Inari"), STAMP)
        assert MANAGE_URL in message.text
        assert f'href="{MANAGE_URL}"' in message.html


def test_a_cancellation_needs_no_link_and_says_the_old_one_stopped() -> None:
    message = render(facts(MessagePurpose.CANCELLATION, join_url=None), STAMP)
    assert "ei enää toimi" in message.text and "ei enää toimi" in message.sms
    assert message.method == "CANCEL"


@pytest.mark.parametrize("purpose", list(LINK_OF))
def test_a_missing_link_is_a_clear_error(purpose: MessagePurpose) -> None:
    field = LINK_OF[purpose]
    with pytest.raises(MissingLink, match=field):
        missing: dict[str, Any] = {field: None}
        render(facts(purpose, **missing), STAMP)


# -- the words themselves ------------------------------------------------------------


def test_every_language_has_every_key_and_the_same_placeholders() -> None:
    finnish = load_texts(Language.FI)
    for language in LANGUAGES:
        texts = load_texts(language)
        assert set(texts) == set(finnish), f"{language}: {set(texts) ^ set(finnish)}"
        for key, text in texts.items():
            assert text.strip(), f"{language} {key} is empty"
            if not key.startswith("date."):  # languages order a date their own way
                assert _fields(text) == _fields(finnish[key]), f"{language} {key}"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [Language.FI, Language.SV, Language.SE])
def test_no_english_is_left_in_the_other_languages(language: Language) -> None:
    for key, text in load_texts(language).items():
        found = ENGLISH_WORD.findall(text)
        assert not found, f"{language} {key}: English words {found} in {text!r}"
    for purpose in PURPOSES:
        message = render(facts(purpose, language, join_url="https://x.fi/j",
                               confirm_url="https://x.fi/c"), STAMP)
        for visible in (message.subject, message.text, message.sms):
            found = ENGLISH_WORD.findall(visible.replace("https://x.fi/", ""))
            assert not found, f"{language} {purpose}: {found} in {visible!r}"


def test_the_translations_differ_from_each_other() -> None:
    """No language copied another's sentence, dates and zone formats aside."""
    texts = {language: load_texts(language) for language in LANGUAGES}
    for key in texts[Language.FI]:
        if key.startswith(("date.", "time", "when", "zone.offset")):
            continue
        values = [texts[language][key] for language in LANGUAGES]
        assert len(set(values)) == len(values), f"{key}: {values}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("channel", [Delivery.EMAIL, Delivery.SMS])
def test_no_message_names_the_appointment_kind(purpose: MessagePurpose, language: Language,
                                               channel: Delivery) -> None:
    message = render(facts(purpose, language, channel=channel, manage_url=MANAGE_URL,
                           service_name="Palvelu 3"), STAMP)
    seen = everything(message).casefold()
    for word in kind_words():
        assert word.casefold() not in seen, f"{language} {purpose} names the kind {word!r}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_service_name_stays_inside_the_e_mail(purpose: MessagePurpose,
                                                  language: Language) -> None:
    """A service may be named for its kind of help ("Perheneuvola, Inari"): the subject,
    the SMS and the calendar event, which lock screens and shared calendars show, never
    carry it."""
    service = "Perheneuvola, Inari"
    message = render(facts(purpose, language, service_name=service), STAMP)
    assert service in message.text and service in message.html
    assert "Perheneuvola" not in message.subject
    assert "Perheneuvola" not in message.sms
    if message.calendar is not None:
        _, event = event_of(message.calendar)
        assert "Perheneuvola" not in f"{event['SUMMARY']} {event['DESCRIPTION']}"
        assert b"Perheneuvola" not in message.calendar


# -- times and zones -----------------------------------------------------------------


@pytest.mark.parametrize(("starts_at", "expected"), [
    (datetime(2026, 12, 10, 8, 0, tzinfo=UTC), f"torstaina 10.12.2026 klo 10.00{DASH}10.45"
                                               " (Suomen aikaa)"),
    (datetime(2027, 6, 10, 7, 0, tzinfo=UTC), f"torstaina 10.6.2027 klo 10.00{DASH}10.45"
                                              " (Suomen aikaa)"),
    # 28 March 2027: the clocks jump from 3.00 to 4.00; 01.30 UTC is 4.30 summer time.
    (datetime(2027, 3, 28, 1, 30, tzinfo=UTC), f"sunnuntaina 28.3.2027 klo 4.30{DASH}5.15"
                                               " (Suomen aikaa)"),
    (datetime(2027, 3, 28, 0, 30, tzinfo=UTC), f"sunnuntaina 28.3.2027 klo 2.30{DASH}4.15"
                                               " (Suomen aikaa; kellot siirtyvät tunnin"
                                               " eteenpäin tapaamisen aikana)"),
    # 31 October 2027: 3.00 to 3.59 happens twice; the text says which.
    (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), f"sunnuntaina 31.10.2027 klo 3.30{DASH}3.15"
                                                " (Suomen aikaa, kesäaika; kellot siirtyvät"
                                                " tunnin taaksepäin tapaamisen aikana)"),
    (datetime(2027, 10, 31, 1, 30, tzinfo=UTC), f"sunnuntaina 31.10.2027 klo 3.30{DASH}4.15"
                                                " (Suomen aikaa, talviaika)"),
])
def test_times_are_told_in_helsinki_with_the_zone(starts_at: datetime, expected: str) -> None:
    message = render(facts(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=45)),
                     STAMP)
    assert expected in message.text
    _, event = event_of(message.calendar)
    assert event["DTSTART"].dt.astimezone(UTC) == starts_at


@pytest.mark.parametrize(("language", "summer", "winter"), [
    (Language.SV, "finsk tid, sommartid", "finsk tid, vintertid"),
    (Language.EN, "Finnish time, summer time", "Finnish time, winter time"),
    (Language.SE, "Suoma áigi, geasseáigi", "Suoma áigi, dálveáigi"),
])
def test_the_repeated_hour_is_named_in_every_language(language: Language, summer: str,
                                                      winter: str) -> None:
    for utc_hour, words in ((0, summer), (1, winter)):
        starts_at = datetime(2027, 10, 31, utc_hour, 30, tzinfo=UTC)
        message = render(facts(language=language, starts_at=starts_at,
                               ends_at=starts_at + timedelta(minutes=20)), STAMP)
        assert f"({words})" in message.text
        assert f"({words})" in message.sms


@pytest.mark.parametrize(("zone", "words"), [
    ("Europe/Stockholm", "Ruotsin aikaa"),
    ("Europe/Oslo", "Norjan aikaa"),
    ("Europe/Mariehamn", "Suomen aikaa"),
    ("America/St_Johns", "aikaa UTC-3:30"),
    ("Asia/Kolkata", "aikaa UTC+5:30"),
])
def test_other_zones_are_named_or_given_as_an_offset(zone: str, words: str) -> None:
    message = render(facts(zone=ZoneInfo(zone)), STAMP)
    assert f"({words})" in message.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_dates_use_each_languages_own_names(language: Language) -> None:
    text = render(facts(language=language), STAMP).text
    written = {Language.FI: "torstaina 10.12.2026", Language.SV: "torsdag 10 december 2026",
               Language.EN: "Thursday 10 December 2026",
               Language.SE: "duorasdat juovlamánu 10. b. 2026"}
    assert written[language] in text


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        render(facts(starts_at=datetime(2026, 12, 10, 10, 0)), STAMP)


# -- the calendar file ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("purpose", "method"), [
    (MessagePurpose.INVITATION, "REQUEST"), (MessagePurpose.UPDATE, "REQUEST"),
    (MessagePurpose.CANCELLATION, "CANCEL"), (MessagePurpose.REMINDER, None),
    (MessagePurpose.BOOKING_CONFIRM, None),
])
def test_the_calendar_file_goes_with_invitations_updates_and_cancellations(
        purpose: MessagePurpose, method: str | None, language: Language) -> None:
    message = render(facts(purpose, language, sequence=3), STAMP)
    assert message.method == method
    if method is None:
        assert message.calendar is None
        return
    calendar, event = event_of(message.calendar)
    assert calendar["METHOD"] == method
    assert event["UID"] == "appointment-6789-participant-12345@kota.example.fi"
    assert event["SEQUENCE"] == 3
    assert event["DTSTART"].dt.astimezone(UTC) == START
    assert [z["TZID"] for z in calendar.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    assert "Sanna" in event["SUMMARY"]
    if method == "REQUEST":
        assert JOIN_URL in event["DESCRIPTION"]
        assert str(event["URL"]) == JOIN_URL


def test_a_cancellation_without_a_link_still_names_the_event() -> None:
    message = render(facts(MessagePurpose.CANCELLATION, join_url=None, sequence=2), STAMP)
    _, event = event_of(message.calendar)
    assert event["STATUS"] == "CANCELLED" and event["SEQUENCE"] == 2
    assert "URL" not in event


# -- SMS -----------------------------------------------------------------------------


# A long real host name (42 characters) and a booking id of seven digits.
LONG_HOST = "https://etavastaanotto.pohjois-pohjanmaa.fi"
# The longest name an SMS greets by (24 characters), with North Sámi letters.
LONG_NAMES = {Language.FI: "Maija-Liisa Virtanen-Ahoa", Language.SV: "Åsa-Britt Lindqvist-Berg",
              Language.EN: "Samantha Taylor-Johnsons", Language.SE: "Máret Ánne Sara-Somby Áš"}


@pytest.mark.parametrize("public_url", [PUBLIC_URL, LONG_HOST])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_sms_fits_in_three_segments(purpose: MessagePurpose, language: Language,
                                          public_url: str) -> None:
    """With the links a text message really carries (JoinLinks.short_url,
    BookingLinks.short_confirm_url), counted as a gateway counts: GSM-7 160 / 153 a
    segment, UCS-2 (any North Sámi letter) 70 / 67 a segment."""
    confirm = BookingLinks(KEY, public_url).short_confirm_url(booking(id=9_876_543))
    message = render(facts(purpose, language, recipient_name=LONG_NAMES[language],
                           channel=Delivery.SMS,
                           join_url=join_url(short=True, public_url=public_url),
                           confirm_url=confirm if purpose is MessagePurpose.BOOKING_CONFIRM
                           else None,
                           hold_expires_at=datetime(2026, 12, 4, 21, 50, tzinfo=UTC)),
                     STAMP)
    size = sms_size(message.sms)
    expected = SmsEncoding.UCS2 if language is Language.SE else SmsEncoding.GSM7
    assert size.encoding is expected, message.sms
    assert size.segments <= SMS_MAX_SEGMENTS, f"{size}: {message.sms}"
    link = LINK_OF.get(purpose)
    if link is not None:
        assert (confirm if link == "confirm_url" else join_url(
            short=True, public_url=public_url)) in message.sms


@pytest.mark.parametrize("language", [Language.FI, Language.SV, Language.EN])
@pytest.mark.parametrize("purpose", PURPOSES)
def test_gsm_sms_fit_in_three_segments_even_with_a_long_link(purpose: MessagePurpose,
                                                            language: Language) -> None:
    """Finnish, Swedish and English fit even with a whole signed token (~250 characters),
    as sent before the short links."""
    message = render(facts(purpose, language, recipient_name="Maija-Liisa Virtanen",
                           hold_expires_at=datetime(2026, 12, 4, 21, 50, tzinfo=UTC)),
                     STAMP)
    size = sms_size(message.sms)
    assert size.encoding is SmsEncoding.GSM7, message.sms
    assert size.segments <= SMS_MAX_SEGMENTS, f"{size}: {message.sms}"


# North Sámi letters make the SMS UCS-2, and three UCS-2 segments (201 characters) are
# fewer than a whole signed join link (~275): that is why text messages carry short ones.
@pytest.mark.parametrize("purpose", list(LINK_OF))
def test_north_sami_sms_with_a_whole_signed_link_would_take_more(
        purpose: MessagePurpose) -> None:
    message = render(facts(purpose, Language.SE), STAMP)
    assert sms_size(message.sms).segments > SMS_MAX_SEGMENTS


def test_short_links_are_short_and_urlsafe() -> None:
    token = SHORT_JOIN_URL.split("#", 1)[1]
    assert len(token) == 38 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert token.startswith("cZ3tT0kenIdForTests0Aw")
    confirm = SHORT_CONFIRM_URL.split("#", 1)[1]
    assert re.fullmatch(r"481-[A-Za-z0-9_-]{16}", confirm)
    # Another key, another nonce or another link gives another token.
    other_key = BookingLinks(SigningKey(b"x" * 32), PUBLIC_URL)
    assert other_key.short_confirm_url(booking()) != SHORT_CONFIRM_URL
    assert LINKS.short_confirm_url(booking(confirm_nonce="other")) != SHORT_CONFIRM_URL
    assert join_url(appointment_id=6790, short=True) != SHORT_JOIN_URL


def test_a_name_that_would_double_the_sms_is_left_out_of_it() -> None:
    """Á is not in GSM-7: greeting Áilu would make the Finnish SMS UCS-2 (six segments
    instead of three), so the SMS greets without the name; the e-mail keeps it."""
    message = render(facts(recipient_name="Áilu Valle"), STAMP)
    assert message.sms.startswith("Hei! Kutsu etätapaamiseen")
    assert sms_size(message.sms).encoding is SmsEncoding.GSM7
    assert sms_size(message.sms).segments <= SMS_MAX_SEGMENTS
    assert "Hei Áilu Valle," in message.text
    # Where the text is UCS-2 anyway, the name costs nothing and stays.
    sami = render(facts(language=Language.SE, recipient_name="Áilu Valle"), STAMP)
    assert sami.sms.startswith("Bures Áilu Valle! ")


def test_a_long_name_is_shortened_in_the_sms_only() -> None:
    name = "Maija-Liisa Johanna Katariina Virtanen-Korhonen"
    message = render(facts(recipient_name=name), STAMP)
    assert message.sms.startswith("Hei Maija-Liisa! ")
    assert name in message.text


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", SmsEncoding.GSM7, 0, 0),
    ("a" * 160, SmsEncoding.GSM7, 160, 1),
    ("a" * 161, SmsEncoding.GSM7, 161, 2),
    ("a" * 459, SmsEncoding.GSM7, 459, 3),
    ("a" * 460, SmsEncoding.GSM7, 460, 4),
    ("Hyvää päivää, Åsa!", SmsEncoding.GSM7, 18, 1),
    ("€" * 80, SmsEncoding.GSM7, 160, 1),
    ("a" * 152 + "€" + "a" * 10, SmsEncoding.GSM7, 164, 2),  # € not split from its escape
    ("á" * 70, SmsEncoding.UCS2, 70, 1),
    ("Bures, Máret!" + "a" * 58, SmsEncoding.UCS2, 71, 2),
    ("a" * 200 + "č", SmsEncoding.UCS2, 201, 3),
    ("🙂" * 35, SmsEncoding.UCS2, 70, 1),
    ("a" * 66 + "🙂" + "a", SmsEncoding.UCS2, 69, 1),
    ("a" * 66 + "🙂" + "a" * 5, SmsEncoding.UCS2, 73, 2),
])
def test_sms_segments_are_counted(text: str, encoding: SmsEncoding, units: int,
                                  segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_a_surrogate_pair_is_never_split_between_segments() -> None:
    assert sms_size("a" * 66 + "🙂" + "a" * 10).segments == 2  # 🙂 starts segment two
    assert sms_size("a" * 67 + "🙂" + "a" * 67).segments == 3


# -- anything a name or a time can be ------------------------------------------------


NAMES = st.text(min_size=0, max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=NAMES,
    host=NAMES,
    service=st.none() | NAMES,
    purpose=st.sampled_from(PURPOSES),
    language=st.sampled_from(LANGUAGES),
    starts_at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2036, 12, 31),
                           timezones=st.just(UTC)),
    minutes=st.integers(min_value=5, max_value=600),
    zone=st.sampled_from(["Europe/Helsinki", "Europe/Stockholm", "UTC", "Asia/Kolkata"]),
)
def test_rendering_never_fails_and_keeps_the_link(
        name: str, host: str, service: str | None, purpose: MessagePurpose,
        language: Language, starts_at: datetime, minutes: int, zone: str) -> None:
    message = render(facts(purpose, language, recipient_name=name, host_first_name=host,
                           service_name=service, starts_at=starts_at, zone=ZoneInfo(zone),
                           ends_at=starts_at + timedelta(minutes=minutes)), STAMP)
    assert message.subject and "\n" not in message.subject and "\r" not in message.subject
    link = LINK_OF.get(purpose)
    if link is not None:
        url = CONFIRM_URL if link == "confirm_url" else JOIN_URL
        assert url in message.text and url in message.sms
        assert f'href="{url}"' in message.html
    assert "<script" not in message.html.casefold()
    for line in message.sms.splitlines():  # a name cannot add lines or control characters
        assert line == message.sms
    if message.calendar is not None:
        event_of(message.calendar)


# -- docs/messages.md shows what is sent ---------------------------------------------

DOC_NAMES = {Language.FI: "Maija Virtanen", Language.SV: "Åsa Lindqvist",
             Language.EN: "Sam Taylor", Language.SE: "Máret Ánne Sara"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_documented_sms_texts_are_the_ones_sent(language: Language) -> None:
    """Each row of the SMS tables in docs/messages.md is the SMS sent with a real link,
    shown with the link's token as "…", and the segments it takes."""
    doc = (ROOT / "docs" / "messages.md").read_text(encoding="utf-8")
    for row in documented_sms_rows(language):
        assert row in doc, f"docs/messages.md lacks or differs from:\n{row}"


def documented_sms_rows(language: Language) -> list[str]:
    rows = []
    for purpose in PURPOSES:
        changes: dict[str, Any] = {"recipient_name": DOC_NAMES[language]}
        if purpose is MessagePurpose.BOOKING_CONFIRM:
            changes["hold_expires_at"] = datetime(2026, 12, 4, 7, 20, tzinfo=UTC)
        sms = render(facts(purpose, language, channel=Delivery.SMS, join_url=SHORT_JOIN_URL,
                           confirm_url=SHORT_CONFIRM_URL, **changes), STAMP).sms
        size = sms_size(sms)
        shown = sms.replace(SHORT_JOIN_URL, f"{PUBLIC_URL}/join#…").replace(
            SHORT_CONFIRM_URL, f"{PUBLIC_URL}/book/confirm#…")
        rows.append(f"| {purpose.value} | {shown} | {size.segments} ({size.encoding},"
                    f" {size.units}) |")
    return rows
