"""The e-mail channel against a real SMTP server (aiosmtpd): STARTTLS, login, both parts,
and what SMTP's answers mean."""

from __future__ import annotations

import email
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from schemas.routes import EmailChannel
from sinks.exceptions import Refused, RetryLater
from sinks.notify_email import EmailSender
from tests.redis_server import free_port
from tests.sinks.alerts import make_alert


class Inbox:
    def __init__(self, refuse_with: str | None = None) -> None:
        self.messages: list[Message] = []
        self.refuse_with = refuse_with

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:  # fmt: skip
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"coach", b"pw-1")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(name="server_tls")
def fixture_server_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A CA and a server certificate for 127.0.0.1 it signed: STARTTLS that verifies."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ca, ca_key = tmp_path / "ca.pem", tmp_path / "ca.key"
    cert, key, csr = tmp_path / "smtp.pem", tmp_path / "smtp.key", tmp_path / "smtp.csr"
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
            str(ca), "-days", "2", "-subj", "/CN=test CA",
            "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
            str(csr), "-subj", "/CN=127.0.0.1")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(ext))  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, ca


@contextmanager
def smtp_server(inbox: Inbox, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"tls_context": tls, "require_starttls": True, "authenticator": _authenticate,
                   "auth_require_tls": True}  # fmt: skip
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def channel(port: int, **fields: Any) -> EmailChannel:
    return EmailChannel.model_validate({
        "type": "email", "host": "127.0.0.1", "port": port, "from": "alerts@example.com",
        "to": ["manager@example.com"], "timeout_s": 5, **fields,
    })  # fmt: skip


async def test_starttls_login_and_both_parts(server_tls: tuple[ssl.SSLContext, Path]) -> None:
    tls, ca = server_tls
    inbox = Inbox()
    alert = make_alert()
    with smtp_server(inbox, tls) as port:
        mail = channel(port, starttls=True, ca_file=str(ca), username_env="U", password_env="P")
        await EmailSender(mail, "mgr", "http://127.0.0.1:8000", "coach", "pw-1").send(alert)
    (message,) = inbox.messages
    assert message["Message-ID"] == f"<{alert.alert_id}.mgr@scorestream>"
    assert message["To"] == "manager@example.com"
    assert message["Subject"].startswith("⚠️ nps_negative: rep-007 (team-1)")
    parts = {part.get_content_type(): bytes(part.get_payload(decode=True)).decode()
             for part in message.walk() if not part.is_multipart()}  # fmt: skip
    assert "nps: -100" in parts["text/plain"]
    assert "http://127.0.0.1:8000/reps/rep-007" in parts["text/plain"]
    assert "&lt;below&gt; &amp; under" in parts["text/html"]  # escaped in HTML


async def test_a_wrong_password_is_refused(server_tls: tuple[ssl.SSLContext, Path]) -> None:
    tls, ca = server_tls
    with smtp_server(Inbox(), tls) as port:
        mail = channel(port, starttls=True, ca_file=str(ca), username_env="U", password_env="P")
        with pytest.raises(Refused) as caught:
            await EmailSender(mail, "mgr", None, "coach", "wrong").send(make_alert())
    assert caught.value.status == 535


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("550 no such mailbox", Refused), ("451 try again later", RetryLater)],
)
async def test_smtp_answers_become_typed_failures(answer: str, expected: type[Exception]) -> None:
    with smtp_server(Inbox(refuse_with=answer)) as port, pytest.raises(expected):
        await EmailSender(channel(port, starttls=False), "mgr", None).send(make_alert())


async def test_no_server_is_retry_later() -> None:
    with pytest.raises(RetryLater):
        await EmailSender(channel(free_port(), starttls=False), "mgr", None).send(make_alert())
