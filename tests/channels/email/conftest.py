from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.email.dovecot import Dovecot
from tests.channels.email.smtp_server import Recorder, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mailbox(smtp: SmtpServer) -> Recorder:
    return smtp.recorder


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with Dovecot() as server:
        yield server
