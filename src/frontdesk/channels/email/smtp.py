"""Sending one email through the tenant's SMTP server, failures sorted for the job runner.

A 4xx answer is the server's "not now" (greylisting, a full queue): ``RetryLater``. A 5xx is
final (no such mailbox, refused, bad credentials): ``PermanentFailure``, dead-lettered and
the message marked failed. A server that cannot be reached is a transient failure that counts
toward the circuit breaker.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from typing import Final

import aiosmtplib

from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater

TEMPORARY_WAIT: Final = 60.0
"""How long (seconds) a 4xx answer makes a send wait at least."""


class SmtpClient:
    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout

    async def send(
        self,
        message: EmailMessage,
        *,
        host: str,
        port: int,
        tls: str,
        username: str | None,
        password: str | None,
    ) -> None:
        """Hand ``message`` to the server (its envelope from ``From`` and ``To``)."""
        context = ssl.create_default_context()
        try:
            await aiosmtplib.send(
                message,
                hostname=host,
                port=port,
                username=username or None,
                password=password if username else None,
                use_tls=tls == "tls",
                start_tls=tls == "starttls",
                tls_context=context if tls != "none" else None,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            raise _by_code(min(codes) if codes else 550, "the recipient was refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, exc.message) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            # The server lacks what the connection asks for (STARTTLS, AUTH): fix, then replay.
            raise PermanentFailure(f"the SMTP server does not support it: {exc}"[:200]) from exc
        except ssl.SSLCertVerificationError as exc:
            raise PermanentFailure(f"the SMTP server's certificate: {exc.verify_message}") from exc
        except (OSError, TimeoutError) as exc:  # refused, reset, timed out (SMTP's own too)
            reason = f"{type(exc).__name__}: {exc}"[:200]
            raise DeliveryFailed(f"the SMTP server is unreachable: {reason}") from exc
        except aiosmtplib.SMTPException as exc:
            if "not supported" in str(exc).lower():  # STARTTLS or AUTH missing: say so, stop
                raise PermanentFailure(f"the SMTP server does not support it: {exc}"[:200]) from exc
            raise DeliveryFailed(f"the SMTP server failed: {exc}"[:200]) from exc


def _by_code(code: int, text: str) -> DeliveryFailed:
    detail = f"SMTP {code}: {' '.join(str(text).split())[:200]}"
    if 400 <= code < 500:
        return RetryLater(detail, retry_after=TEMPORARY_WAIT, code=str(code))
    if 500 <= code < 600:
        return PermanentFailure(detail, code=str(code))
    return DeliveryFailed(detail, code=str(code))
