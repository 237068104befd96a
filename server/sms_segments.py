"""How many SMS segments a text takes (3GPP TS 23.038 / 23.040).

A text that uses only the GSM 7-bit alphabet goes as GSM-7: 160 septets in one SMS, 153
per segment when it is split (the rest carries the concatenation header); a character of
the extension table (€, [, ~ …) takes two septets and is never split from its escape.
Any other character (North Sámi á, č, đ, ŋ, š, ŧ, ž) sends the whole text as UCS-2: 70
UTF-16 units in one SMS, 67 per segment, a surrogate pair never split.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = "\f^{}\\[~]|€"


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: SmsEncoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_size(text: str) -> SmsSize:
    """The encoding, length and segment count of ``text`` as one (concatenated) SMS."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        widths = [2 if c in _GSM_EXTENSION else 1 for c in text]
        return _pack(SmsEncoding.GSM7, widths, single=160, part=153)
    widths = [len(c.encode("utf-16-le")) // 2 for c in text]
    return _pack(SmsEncoding.UCS2, widths, single=70, part=67)


def _pack(encoding: SmsEncoding, widths: list[int], *, single: int, part: int) -> SmsSize:
    units = sum(widths)
    if units <= single:
        return SmsSize(encoding, units, 1 if units else 0)
    segments, used = 1, 0
    for width in widths:  # a two-unit character never straddles two segments
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return SmsSize(encoding, units, segments)
