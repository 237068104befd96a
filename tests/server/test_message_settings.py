"""The messaging settings: each bad value stops the start naming the variable, and a
channel that is off cannot be chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.settings import SettingsError, load_settings
from tests.conftest import StaffClient, assert_error
from tests.server.conftest import SignIn, appointment_body
from tests.server.messaging import secret_file


def load(tmp_path: Path, **env: str) -> None:
    load_settings({"KOTA_DATA_DIR": str(tmp_path), **env})


def refused(tmp_path: Path, message: str, **env: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(tmp_path, **env)


def password(tmp_path: Path, value: bytes = b"hunter2", mode: int = 0o600) -> str:
    path = tmp_path / "smtp.password"
    path.write_bytes(value)
    path.chmod(mode)
    return str(path)


def test_defaults_turn_both_channels_off(tmp_path: Path) -> None:
    settings = load_settings({"KOTA_DATA_DIR": str(tmp_path)})
    assert not settings.email_enabled and not settings.sms_enabled
    assert settings.smtp_port == 587 and settings.smtp_security == "starttls"
    assert settings.outbox_max_attempts == 6 and settings.outbox_retry_seconds == 30


def test_a_full_configuration_is_read(tmp_path: Path) -> None:
    settings = load_settings({
        "KOTA_DATA_DIR": str(tmp_path),
        "KOTA_SMTP_HOST": "smtp.kunta.fi", "KOTA_SMTP_PORT": "465",
        "KOTA_SMTP_SECURITY": "TLS", "KOTA_SMTP_USER": "kota",
        "KOTA_SMTP_PASSWORD_FILE": password(tmp_path),
        "KOTA_SMTP_FROM": "Kota <kota@kunta.fi>",
        "KOTA_SMS_WEBHOOK_URL": "https://sms.kunta.fi/kota",
        "KOTA_SMS_SECRET_FILE": str(secret_file(tmp_path)),
        "KOTA_OUTBOX_MAX_ATTEMPTS": "3", "KOTA_OUTBOX_RETRY_SECONDS": "0.5",
    })
    assert settings.email_enabled and settings.sms_enabled
    assert settings.smtp_security == "tls" and settings.smtp_port == 465
    assert settings.smtp_password_file is not None
    assert "hunter2" not in repr(settings)
    assert settings.outbox_retry_seconds == 0.5


def test_smtp_host_needs_a_sender(tmp_path: Path) -> None:
    refused(tmp_path, "KOTA_SMTP_FROM: required", KOTA_SMTP_HOST="smtp.kunta.fi")


@pytest.mark.parametrize("value", ["kota", "Kota <kota>", "a@b.fi\r\nBcc: x@y.fi", "<>"])
def test_a_bad_sender_is_refused(tmp_path: Path, value: str) -> None:
    refused(tmp_path, "KOTA_SMTP_FROM", KOTA_SMTP_HOST="smtp.kunta.fi", KOTA_SMTP_FROM=value)


def test_a_bad_security_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "KOTA_SMTP_SECURITY: expected starttls, tls or none",
            KOTA_SMTP_SECURITY="ssl")


@pytest.mark.parametrize("port", ["0", "70000", "smtp"])
def test_a_bad_port_is_refused(tmp_path: Path, port: str) -> None:
    refused(tmp_path, "KOTA_SMTP_PORT", KOTA_SMTP_PORT=port)


def test_a_bad_host_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "KOTA_SMTP_HOST", KOTA_SMTP_HOST="smtp kunta fi")


def test_user_and_password_come_together(tmp_path: Path) -> None:
    refused(tmp_path, "give both or neither", KOTA_SMTP_HOST="smtp.kunta.fi",
            KOTA_SMTP_FROM="kota@kunta.fi", KOTA_SMTP_USER="kota")
    refused(tmp_path, "give both or neither", KOTA_SMTP_HOST="smtp.kunta.fi",
            KOTA_SMTP_FROM="kota@kunta.fi", KOTA_SMTP_PASSWORD_FILE=password(tmp_path))


def test_a_password_is_never_sent_in_clear_over_the_network(tmp_path: Path) -> None:
    common = {"KOTA_SMTP_FROM": "kota@kunta.fi", "KOTA_SMTP_USER": "kota",
              "KOTA_SMTP_PASSWORD_FILE": password(tmp_path), "KOTA_SMTP_SECURITY": "none"}
    refused(tmp_path, "unencrypted", KOTA_SMTP_HOST="smtp.kunta.fi", **common)
    load(tmp_path, KOTA_SMTP_HOST="127.0.0.1", **common)


def test_password_file_problems_are_refused(tmp_path: Path) -> None:
    common = {"KOTA_SMTP_HOST": "smtp.kunta.fi", "KOTA_SMTP_FROM": "kota@kunta.fi",
              "KOTA_SMTP_USER": "kota"}
    refused(tmp_path, "KOTA_SMTP_PASSWORD_FILE: cannot read",
            KOTA_SMTP_PASSWORD_FILE=str(tmp_path / "missing"), **common)
    refused(tmp_path, "readable by everyone",
            KOTA_SMTP_PASSWORD_FILE=password(tmp_path, mode=0o644), **common)
    refused(tmp_path, "is empty",
            KOTA_SMTP_PASSWORD_FILE=password(tmp_path, value=b"\n"), **common)


def test_sms_url_needs_its_secret(tmp_path: Path) -> None:
    refused(tmp_path, "KOTA_SMS_SECRET_FILE: required",
            KOTA_SMS_WEBHOOK_URL="https://sms.kunta.fi/kota")


def test_a_short_sms_secret_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "KOTA_SMS_SECRET_FILE: the secret .* is shorter",
            KOTA_SMS_WEBHOOK_URL="https://sms.kunta.fi/kota",
            KOTA_SMS_SECRET_FILE=str(secret_file(tmp_path, b"short")))


@pytest.mark.parametrize("url", ["ftp://sms.kunta.fi/", "sms.kunta.fi/kota",
                                 "http://sms.kunta.fi/kota",
                                 "https://user:pw@sms.kunta.fi/kota"])
def test_a_bad_webhook_url_is_refused(tmp_path: Path, url: str) -> None:
    refused(tmp_path, "KOTA_SMS_WEBHOOK_URL", KOTA_SMS_WEBHOOK_URL=url,
            KOTA_SMS_SECRET_FILE=str(secret_file(tmp_path)))


def test_plain_http_is_allowed_to_an_adapter_on_this_machine(tmp_path: Path) -> None:
    load(tmp_path, KOTA_SMS_WEBHOOK_URL="http://127.0.0.1:9000/sms",
         KOTA_SMS_SECRET_FILE=str(secret_file(tmp_path)))


@pytest.mark.parametrize(("name", "value"), [
    ("KOTA_OUTBOX_MAX_ATTEMPTS", "0"), ("KOTA_OUTBOX_MAX_ATTEMPTS", "many"),
    ("KOTA_OUTBOX_RETRY_SECONDS", "0"), ("KOTA_OUTBOX_RETRY_SECONDS", "nan"),
])
def test_bad_outbox_numbers_are_refused(tmp_path: Path, name: str, value: str) -> None:
    refused(tmp_path, name, **{name: value})


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


async def test_with_no_smtp_server_e_mail_cannot_be_chosen(
    kota: TestServer, sanna: StaffClient
) -> None:
    resp = await sanna.post("/api/appointments", json=appointment_body(participants=[
        {"display_name": "Maija", "role": "guardian", "contact": "maija@example.fi",
         "delivery": "email"}]))
    await assert_error(resp, 422, "email_not_configured")
    session = await (await sanna.get("/api/session")).json()
    assert session["messaging"] == {"email": False, "sms": False}
    made = await (await sanna.post("/api/appointments", json=appointment_body())).json()
    pid = made["participants"][0]["id"]
    resp = await sanna.post(f"/api/appointments/{made['id']}/participants",
                            json={"display_name": "Matti", "role": "child",
                                  "contact": "040 123 4567", "delivery": "sms"})
    await assert_error(resp, 422, "sms_not_configured")
    assert made["participants"][0]["messages"] == [] and pid
