"""The email channel over real TLS: IMAP with TLS from the first byte and with STARTTLS, SMTP
with STARTTLS, certificates checked (one the client does not trust is refused)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from frontdesk.channels.base import Outbound
from frontdesk.channels.email.adapter import EmailAdapter
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure
from frontdesk.engine.reply import Reply
from frontdesk.runtime import Runtime
from tests.channels.email import payloads
from tests.channels.email.dovecot import PASSWORD, USER, Dovecot
from tests.channels.email.helpers import CREDENTIALS, connect_email, messages_of
from tests.channels.email.smtp_server import SmtpServer
from tests.channels.email.test_imap import noted, poll
from tests.channels.email.tls import Certificate, make_certificate
from tests.factories import SampleTenant, make_tenant


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return make_certificate()


@pytest.fixture
def tls_dovecot(certificate: Certificate) -> Iterator[Dovecot]:
    with Dovecot(certificate) as server:
        yield server


async def imaps_tenant(
    runtime: Runtime, dovecot: Dovecot, smtp_port: int, *, tls: str
) -> SampleTenant:
    tenant = await make_tenant(runtime, with_pack=False)
    await connect_email(
        runtime,
        tenant,
        smtp_port=smtp_port,
        inbound="imap",
        options={
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.tls_port if tls == "tls" else dovecot.port,
            "imap_tls": tls,
            "poll_seconds": 3600,
        },
        credentials=CREDENTIALS | {"imap_username": USER, "imap_password": PASSWORD},
    )
    return tenant


@pytest.mark.parametrize("tls", ["tls", "starttls"])
async def test_imap_over_tls_reads_new_mail(
    runtime: Runtime,
    tls_dovecot: Dovecot,
    smtp: SmtpServer,
    certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
    tls: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    tenant = await imaps_tenant(runtime, tls_dovecot, smtp.port, tls=tls)
    await noted(runtime, tenant)
    tls_dovecot.deliver(payloads.mime(to=USER, text="Escribo por un canal cifrado."))
    result = await poll(runtime, tenant)
    assert result.error is None
    assert result.stored == 1
    (stored,) = await messages_of(runtime, tenant)
    assert stored.text == "Escribo por un canal cifrado."


async def test_an_untrusted_imap_certificate_is_refused(
    runtime: Runtime, tls_dovecot: Dovecot, smtp: SmtpServer
) -> None:
    tenant = await imaps_tenant(runtime, tls_dovecot, smtp.port, tls="tls")
    result = await poll(runtime, tenant)
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error or "SSL" in result.error


async def test_smtp_with_starttls_and_a_server_without_it(
    runtime: Runtime, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    adapter = runtime.channels.get("email")
    assert isinstance(adapter, EmailAdapter)
    outbound = Outbound(
        message_id=uuid.uuid4(),
        reply=Reply(text="Respuesta cifrada en tránsito.", language="es"),
        recipient=payloads.CUSTOMER,
    )
    with SmtpServer(tls=certificate.server_context()) as secure:
        tenant = await make_tenant(runtime, with_pack=False)
        await connect_email(
            runtime, tenant, smtp_port=secure.port, options={"smtp_tls": "starttls"}
        )
        await adapter.send(await runtime.tenants.by_id(tenant.context.id), outbound)
        (email,) = secure.recorder.to(payloads.CUSTOMER)
        text = email.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Respuesta cifrada" in text.get_content()
        assert secure.recorder.logins  # the login went over the encrypted session
    with SmtpServer() as plain:  # offers no STARTTLS: nothing goes out in clear
        tenant = await make_tenant(runtime, with_pack=False)
        await connect_email(runtime, tenant, smtp_port=plain.port, options={"smtp_tls": "starttls"})
        with pytest.raises(DeliveryFailed) as refused:
            await adapter.send(await runtime.tenants.by_id(tenant.context.id), outbound)
        assert isinstance(refused.value, PermanentFailure)
        assert plain.recorder.received == []
