"""MailSender over real TLS: aiosmtpd on loopback with a certificate from a CA made here.

STARTTLS (port 587 style) and TLS from the first byte (465 style), each with SMTP AUTH
that the server allows only after TLS; the certificate is checked against
KOTA_SMTP_CA_FILE, and an untrusted one or a wrong password never lets a message through.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.mail_sender import MailSender
from server.send_failure import SendFailure
from server.settings import SettingsError
from tests.conftest import free_port
from tests.server.messaging import messaging_settings

# With TLS from the first byte the whole session is encrypted, which aiosmtpd's warning
# about AUTH without (STARTTLS) TLS cannot see.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER = "kota-relay"
PASSWORD = "oikea-salasana-1"


@dataclass
class Authority:
    """A CA's certificate file, and a server certificate and key it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_authority(directory: Path, label: str) -> Authority:
    """A CA and a certificate for 127.0.0.1 and localhost, valid for a day."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(f"Kota test CA {label}"))
          .issuer_name(_name(f"Kota test CA {label}")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True,
              crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("smtp.kota.test"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    found = Authority(directory / f"{label}-ca.pem", directory / f"{label}-cert.pem",
                      directory / f"{label}-key.pem")
    found.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return found


class Relay:
    """Accepts mail only after TLS and AUTH; remembers what arrived and how."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bool, str | None]] = []  # (to, over TLS, user)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        user = session.auth_data.login.decode() if isinstance(
            session.auth_data, LoginPassword) else None
        assert server.transport is not None
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.received.extend((str(to), encrypted, user) for to in envelope.rcpt_tos)
        return "250 OK"


def _check_password(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                    auth_data: object) -> AuthResult:
    good = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode())
    return AuthResult(success=good, handled=False, auth_data=auth_data)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path, "municipal")


def _server_context(authority: Authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(authority.cert_file, authority.key_file)
    return context


@pytest.fixture(params=["starttls", "tls"])
def relay(request: pytest.FixtureRequest,
          authority: Authority) -> Iterator[tuple[str, int, Relay]]:
    security: str = request.param
    port = free_port()
    handler = Relay()
    context = _server_context(authority)
    # STARTTLS: the session starts plain, and AUTH and mail wait for the upgrade; "tls":
    # TLS from the first byte (aiosmtpd's AUTH-after-TLS rule knows only STARTTLS).
    tls: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls" else {"ssl_context": context, "auth_require_tls": False})
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=_check_password, auth_required=True, **tls)
    controller.start()
    yield security, port, handler
    controller.stop()


def sender(tmp_path: Path, security: str, port: int, ca_file: Path | None,
           password: str = PASSWORD) -> MailSender:
    secret = tmp_path / "smtp-password"
    secret.write_text(password)
    secret.chmod(0o600)
    settings = messaging_settings(
        tmp_path, None, None, KOTA_SMTP_HOST="127.0.0.1", KOTA_SMTP_PORT=str(port),
        KOTA_SMTP_SECURITY=security, KOTA_SMTP_FROM="kota@kota.test", KOTA_SMTP_USER=USER,
        KOTA_SMTP_PASSWORD_FILE=str(secret),
        **({} if ca_file is None else {"KOTA_SMTP_CA_FILE": str(ca_file)}))
    return MailSender(settings)


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "kota@kota.test"
    mail["To"] = "maija@example.fi"
    mail["Subject"] = "Kota"
    mail.set_content("Hei")
    return mail


async def test_a_message_goes_over_tls_with_auth_to_a_trusted_server(
    tmp_path: Path, authority: Authority, relay: tuple[str, int, Relay]
) -> None:
    security, port, handler = relay
    await sender(tmp_path, security, port, authority.ca_file).send(
        message(), "maija@example.fi")
    assert handler.received == [("maija@example.fi", True, USER)]


async def test_an_untrusted_certificate_sends_nothing(
    tmp_path: Path, relay: tuple[str, int, Relay]
) -> None:
    """A certificate from another CA (or none given: the system's CAs do not know this
    one) is refused before anything, password included, crosses the wire."""
    security, port, handler = relay
    other = make_authority(tmp_path, "other")
    for ca_file in (other.ca_file, None):
        with pytest.raises(SendFailure) as caught:
            await sender(tmp_path, security, port, ca_file).send(message(), "maija@example.fi")
        assert (caught.value.code, caught.value.permanent) == ("smtp_certificate", False)
    assert handler.received == []


async def test_a_wrong_password_fails_the_message_at_once(
    tmp_path: Path, authority: Authority, relay: tuple[str, int, Relay]
) -> None:
    security, port, handler = relay
    with pytest.raises(SendFailure) as caught:
        await sender(tmp_path, security, port, authority.ca_file, password="väärä").send(
            message(), "maija@example.fi")
    assert (caught.value.code, caught.value.permanent) == ("smtp_535", True)
    assert handler.received == []


def test_a_ca_file_that_does_not_load_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    for path in (broken, tmp_path / "missing.pem"):
        with pytest.raises(SettingsError, match="KOTA_SMTP_CA_FILE"):
            messaging_settings(tmp_path, None, None, KOTA_SMTP_HOST="smtp.kunta.fi",
                               KOTA_SMTP_FROM="kota@kunta.fi", KOTA_SMTP_CA_FILE=str(path))


def test_a_ca_file_without_tls_is_refused(tmp_path: Path, authority: Authority) -> None:
    with pytest.raises(SettingsError, match="KOTA_SMTP_CA_FILE"):
        messaging_settings(tmp_path, None, None, KOTA_SMTP_HOST="127.0.0.1",
                           KOTA_SMTP_SECURITY="none", KOTA_SMTP_FROM="kota@kota.test",
                           KOTA_SMTP_CA_FILE=str(authority.ca_file))
