"""Contacts: e-mail addresses and phone numbers as Kota keeps them (E.164 numbers)."""

from __future__ import annotations

import pytest

from server.contacts import checked_contact, email_address, phone_number
from server.errors import Unprocessable
from server.records import Delivery


@pytest.mark.parametrize(("raw", "kept"), [
    ("maija@example.fi", "maija@example.fi"),
    ("  Maija.Virtanen@Example.FI ", "Maija.Virtanen@example.fi"),  # the domain only
    ("maija+kota@posti.kunta.fi", "maija+kota@posti.kunta.fi"),
])
def test_good_addresses_are_kept(raw: str, kept: str) -> None:
    assert email_address(raw) == kept


@pytest.mark.parametrize("raw", [
    "", "maija", "maija@", "@example.fi", "maija@example", "maija@@example.fi",
    "maija virtanen@example.fi", "Maija <maija@example.fi>", "maija@example.fi\nBcc: x@y.fi",
    "a" * 65 + "@example.fi", "maija@" + "a" * 250 + ".fi", "maija@exa_mple.fi",
])
def test_bad_addresses_are_refused(raw: str) -> None:
    assert email_address(raw) is None


@pytest.mark.parametrize(("raw", "kept"), [
    ("040 123 4567", "+358401234567"),
    ("+358 40 123 4567", "+358401234567"),
    ("0401234567", "+358401234567"),
    ("+46 70 123 45 67", "+46701234567"),
    ("+47 412 34 567", "+4741234567"),
])
def test_numbers_are_kept_in_e164(raw: str, kept: str) -> None:
    assert phone_number(raw) == kept


@pytest.mark.parametrize("raw", ["", "123", "phone", "040 123", "+358 00 000 0000",
                                 "+999 123 456 789"])
def test_bad_numbers_are_refused(raw: str) -> None:
    assert phone_number(raw) is None


def test_by_hand_keeps_whatever_was_typed() -> None:
    assert checked_contact(Delivery.MANUAL, "call the school") == "call the school"
    assert checked_contact(Delivery.MANUAL, None) is None


@pytest.mark.parametrize(("delivery", "contact", "code"), [
    (Delivery.EMAIL, None, "contact_required"),
    (Delivery.SMS, "   ", "contact_required"),
    (Delivery.EMAIL, "040 123 4567", "invalid_email"),
    (Delivery.SMS, "maija@example.fi", "invalid_phone"),
])
def test_a_delivery_needs_a_contact_of_its_kind(delivery: Delivery, contact: str | None,
                                               code: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        checked_contact(delivery, contact)
    assert caught.value.code == code


def test_a_checked_contact_is_normalised() -> None:
    assert checked_contact(Delivery.SMS, "040-123 4567") == "+358401234567"
    assert checked_contact(Delivery.EMAIL, "maija@EXAMPLE.fi") == "maija@example.fi"
