"""A real IMAP server for the tests: Debian's dovecot, started with a configuration of its own
in a temporary folder (a free port, one passwd-file user, a maildir), stopped afterwards.

Skipped with the reason where dovecot is not installed, except in CI (``CI=true``), where its
absence fails the run (``.ci/run`` installs it)."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.channels.email.tls import Certificate
from tests.conftest import IN_CI, free_port

USER = "soporte@acme.example"
PASSWORD = "imap-password-for-tests"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = frontdesk-test-{port}
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def require_dovecot() -> str:
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd)"
        if IN_CI:
            pytest.fail(f"{message}: required in CI")
        pytest.skip(message)
    return binary


class Dovecot:
    def __init__(self, certificate: Certificate | None = None) -> None:
        self.binary = require_dovecot()
        self.port = free_port()
        self.certificate = certificate
        self.tls_port = free_port() if certificate is not None else 0
        # Not under pytest's private temp folder: the mail processes run as another user.
        self.root = Path(tempfile.mkdtemp(prefix="frontdesk-dovecot-"))
        self.root.chmod(0o755)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Dovecot:
        root = self.root
        for folder in ("run", "state", "home"):
            (root / folder).mkdir()
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("nobody")
            uid, gid, users = mail_user.pw_uid, mail_user.pw_gid, ""
            os.chown(root / "home", uid, gid)
        else:
            me = pwd.getpwuid(os.getuid())
            uid, gid = me.pw_uid, me.pw_gid
            users = f"default_login_user = {me.pw_name}\ndefault_internal_user = {me.pw_name}"
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = root / "dovecot.conf"
        tls = self.certificate
        ssl = f"ssl = yes\nssl_cert = <{tls.cert}\nssl_key = <{tls.key}" if tls else "ssl = no"
        config.write_text(
            CONFIG.format(
                root=root,
                port=self.port,
                tls_port=self.tls_port,
                ssl=ssl,
                uid=uid,
                gid=gid,
                users=users,
            )
        )
        self.process = subprocess.Popen(  # noqa: S603 (our binary, our arguments)
            [self.binary, "-c", str(config), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    self.__exit__()
                    raise RuntimeError(f"dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def deliver(self, message: EmailMessage, mailbox: str = "INBOX") -> None:
        """Put ``message`` in the mailbox, as a mail server's delivery would (IMAP APPEND)."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            client.login(USER, PASSWORD)
            typ, data = client.append(mailbox, None, None, message.as_bytes())
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            client.logout()
