"""SendFailure: why a message did not go, as a code the outbox stores and staff see."""

from __future__ import annotations


class SendFailure(Exception):
    """``code`` is short and stable (``smtp_550``, ``gateway_503``, ``smtp_unreachable``);
    ``permanent`` says that trying again cannot help, so the message fails at once."""

    def __init__(self, code: str, *, permanent: bool) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent
