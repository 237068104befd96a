"""MailSender over TLS against a real aiosmtpd on loopback: STARTTLS with AUTH (which the
server offers only after STARTTLS), implicit TLS, and a certificate nobody vouches for.
The test's own certificate authority is made here with ``cryptography`` and trusted
through ``SSL_CERT_FILE``, as an operator would add a municipality's CA."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.mail_sender import MailSender
from server.send_failure import SendFailure
from tests.conftest import free_port
from tests.server.messaging import messaging_settings

USER, PASSWORD = "kota", "salasana-1234"


@dataclass
class TlsInbox:
    """Keeps each accepted message with whether its session was encrypted and who
    signed in."""

    received: list[tuple[bytes, bool, str | None]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        login = session.auth_data.login.decode() if isinstance(
            session.auth_data, LoginPassword) else None
        encrypted = server.transport is not None and (
            server.transport.get_extra_info("ssl_object") is not None)
        self.received.append((data, encrypted, login))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: object) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (its own CA)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kota test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    made = Certificate(folder / "cert.pem", folder / "key.pem")
    made.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    made.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return made


def serve(inbox: TlsInbox, certificate: Certificate, *, implicit: bool) -> Iterator[int]:
    port = free_port()
    context = certificate.server_context()
    tls = {"ssl_context": context} if implicit else {
        "tls_context": context, "require_starttls": True}
    # aiosmtpd's auth_require_tls looks at STARTTLS only: with implicit TLS every
    # session is encrypted from its first byte.
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=inbox.authenticate, auth_require_tls=not implicit,
                            **tls)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def inbox() -> TlsInbox:
    return TlsInbox()


@pytest.fixture
def starttls_port(inbox: TlsInbox, certificate: Certificate) -> Iterator[int]:
    yield from serve(inbox, certificate, implicit=False)


@pytest.fixture
def implicit_port(inbox: TlsInbox, certificate: Certificate) -> Iterator[int]:
    yield from serve(inbox, certificate, implicit=True)


def sender(tmp_path: Path, port: int, security: str) -> MailSender:
    password = tmp_path / "smtp.password"
    password.write_text(PASSWORD)
    password.chmod(0o600)
    settings = messaging_settings(tmp_path, None, None, KOTA_SMTP_HOST="127.0.0.1",
                                  KOTA_SMTP_PORT=str(port), KOTA_SMTP_SECURITY=security,
                                  KOTA_SMTP_FROM="kota@kota.test", KOTA_SMTP_USER=USER,
                                  KOTA_SMTP_PASSWORD_FILE=str(password))
    return MailSender(settings)


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "kota@kota.test"
    mail["To"] = "maija@example.fi"
    mail["Subject"] = "Kutsu etätapaamiseen"
    mail.set_content("Hei Maija")
    return mail


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_the_message_goes_encrypted_and_signed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certificate: Certificate,
    inbox: TlsInbox, security: str, request: pytest.FixtureRequest
) -> None:
    port: int = request.getfixturevalue(
        "starttls_port" if security == "starttls" else "implicit_port")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    await sender(tmp_path, port, security).send(message(), "maija@example.fi")
    [(data, encrypted, login)] = inbox.received
    assert encrypted and login == USER and inbox.logins == [USER]
    assert b"Hei Maija" in data


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_certificate_nobody_vouches_for_gets_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: TlsInbox, security: str,
    request: pytest.FixtureRequest
) -> None:
    """Without the CA trusted, the certificate is refused before AUTH or DATA: the
    password and the message never leave, and the attempt counts as failed to connect."""
    port: int = request.getfixturevalue(
        "starttls_port" if security == "starttls" else "implicit_port")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    with pytest.raises(SendFailure) as caught:
        await sender(tmp_path, port, security).send(message(), "maija@example.fi")
    assert (caught.value.code, caught.value.permanent) == ("smtp_unreachable", False)
    assert inbox.received == [] and inbox.logins == []
