"""MailSender: one e-mail to one recipient through the configured SMTP server (aiosmtplib).

Each message is its own SMTP session, so a failure concerns exactly one outbox row. The
server's answer decides what happens next: 5xx means the server will never take this
message (``smtp_550``, failed at once); 4xx and a lost connection may pass (retried).
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from server.send_failure import SendFailure
from server.settings import Settings

# Seconds for each SMTP step; a stuck server becomes a retry, not a stuck worker.
SMTP_TIMEOUT = 60.0


def _untrusted(exc: BaseException) -> bool:
    """Whether a certificate check failed somewhere in the chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reply_failure(code: int) -> SendFailure:
    return SendFailure(f"smtp_{code}", permanent=500 <= code <= 599)


class MailSender:
    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.user = settings.smtp_user or None
        secret = settings.smtp_password_file
        self._password = secret.value.decode() if secret is not None else None
        # Built once: the server's certificate and host name are always checked, against
        # KOTA_SMTP_CA_FILE when given (an internal CA), else the system's CAs.
        self._tls = ssl.create_default_context(
            cafile=None if settings.smtp_ca_file is None else str(settings.smtp_ca_file))

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Returns once the server has accepted the message; else raises SendFailure."""
        try:
            await aiosmtplib.send(
                message,
                recipients=[recipient],
                hostname=self.host,
                port=self.port,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                username=self.user,
                password=self._password,
                tls_context=self._tls if self.security != "none" else None,
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            raise _reply_failure(refused.code if refused else 550) from None
        except aiosmtplib.SMTPTimeoutError:
            raise SendFailure("smtp_timeout", permanent=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _reply_failure(exc.code) from None
        except aiosmtplib.SMTPNotSupported:
            # STARTTLS or AUTH not offered: KOTA_SMTP_SECURITY does not fit the server.
            raise SendFailure("smtp_not_supported", permanent=True) from None
        except aiosmtplib.SMTPServerDisconnected:
            raise SendFailure("smtp_disconnected", permanent=False) from None
        except aiosmtplib.SMTPException as exc:
            if _untrusted(exc):
                # Never sent without a trusted certificate; retried, as an admin may fix
                # the server's certificate or KOTA_SMTP_CA_FILE meanwhile.
                raise SendFailure("smtp_certificate", permanent=False) from None
            # The server lacks what KOTA_SMTP_SECURITY or KOTA_SMTP_USER needs: trying
            # again cannot help, and sending without it would leak the message.
            for extension, code in (("STARTTLS", "smtp_no_starttls"), ("AUTH", "smtp_no_auth")):
                if f"{extension} extension" in str(exc):
                    raise SendFailure(code, permanent=True) from None
            raise SendFailure("smtp_unreachable", permanent=False) from None
        except OSError as exc:
            code = "smtp_certificate" if _untrusted(exc) else "smtp_unreachable"
            raise SendFailure(code, permanent=False) from None
