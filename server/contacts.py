"""Contacts that messages can reach: e-mail addresses and phone numbers (phonenumbers).

A number is kept in E.164 form (+358401234567) so that the same phone is one contact
whatever way it was typed; a number without a country code is read as Finnish.
"""

from __future__ import annotations

import re

import phonenumbers

from server.errors import Unprocessable
from server.records import Delivery

DEFAULT_REGION = "FI"
MAX_EMAIL_LENGTH = 254
# One @, no spaces or angle brackets, a dot in the domain: enough to catch typing
# mistakes; whether the mailbox exists only the SMTP server can tell.
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def email_address(raw: str) -> str | None:
    value = raw.strip()
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value):
        return None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone_number(raw: str) -> str | None:
    """The number in E.164, or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def checked_contact(delivery: Delivery, contact: str | None) -> str | None:
    """The contact as stored: checked and normalised for e-mail and SMS, as given otherwise."""
    if delivery is Delivery.MANUAL:
        return contact
    if not contact or not contact.strip():
        raise Unprocessable("contact_required",
                            "Give an e-mail address or a phone number to send the link to.")
    if delivery is Delivery.EMAIL:
        address = email_address(contact)
        if address is None:
            raise Unprocessable("invalid_email", "This is not an e-mail address.")
        return address
    number = phone_number(contact)
    if number is None:
        raise Unprocessable("invalid_phone",
                            "This is not a phone number. Give it with the country code, "
                            "e.g. +358 40 123 4567.")
    return number
