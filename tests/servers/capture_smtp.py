"""An in-process SMTP sink (aiosmtpd) that records everything it is sent.

    with CaptureSMTP() as smtp:
        bot_settings.smtp_port = smtp.port
        ...
        [reply] = smtp.wait_for(1)
        assert reply["To"] == "client@example.test"

Options: ``user``/``password`` turn on AUTH PLAIN/LOGIN (``auth_required`` defaults to True then;
AUTH is offered without TLS because this is loopback testing), ``starttls=True`` offers STARTTLS
with a self-signed certificate generated at start-up (``cert_path`` holds the PEM), and
``fail_next(n, code)`` makes the next *n* DATA commands fail so outbound retries can be tested.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.servers import ServerError, free_port

__all__ = ["CaptureSMTP", "CapturedEnvelope", "generate_self_signed_cert"]


@dataclass(frozen=True)
class CapturedEnvelope:
    """One accepted message: SMTP envelope plus raw DATA."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    mail_options: tuple[str, ...] = ()
    auth_user: str | None = None  # login name if the client authenticated
    tls: bool = False  # True if the session had done STARTTLS
    peer: tuple[str, int] | None = None  # the client's address: one per connection
    received_at: float = field(default_factory=time.time)

    @property
    def message(self) -> EmailMessage:
        """The DATA parsed with ``email.policy.default``."""
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


def generate_self_signed_cert(directory: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """Write a self-signed cert (for *hostname*, localhost and 127.0.0.1) and its key as PEM
    files into *directory*; returns (cert_path, key_path).  Needs ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, owner: CaptureSMTP) -> None:
        self.owner = owner

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        return self.owner._on_data(session, envelope)


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user = user.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        ):
            return AuthResult(success=True, auth_data=auth_data.login.decode())
        return AuthResult(success=False, handled=False)


class _Controller(Controller):
    def __init__(self, owner: CaptureSMTP, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(_Handler(owner), **kwargs)

    def factory(self) -> SMTP:
        o = self.owner
        kwargs: dict[str, Any] = dict(self.SMTP_kwargs)
        kwargs["hostname"] = o.server_hostname  # no slow getfqdn() per connection
        if o.user is not None:
            kwargs["authenticator"] = _Authenticator(o.user, o.password or "")
            kwargs["auth_require_tls"] = o.auth_require_tls
            # auth_required without auth_require_tls makes aiosmtpd warn (an error under
            # filterwarnings=error), so switch it on after construction instead.
            kwargs["auth_required"] = o.auth_required and o.auth_require_tls
        if o._tls_context is not None:
            kwargs["tls_context"] = o._tls_context
            kwargs["require_starttls"] = o.require_starttls
        smtp = SMTP(self.handler, **kwargs)
        if o.user is not None and o.auth_required and not o.auth_require_tls:
            smtp._auth_required = True
        return smtp


class CaptureSMTP:
    """aiosmtpd Controller on 127.0.0.1:<free port> recording every accepted message.

    ``envelopes``: list of :class:`CapturedEnvelope`; ``messages``: the same parsed as
    ``EmailMessage``; ``wait_for(n)`` blocks until *n* messages arrived.  Thread-safe.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        auth_required: bool | None = None,
        auth_require_tls: bool = False,
        starttls: bool = False,
        require_starttls: bool = False,
        server_hostname: str = "capture.smtp.test",
        data_size_limit: int = 33554432,
    ) -> None:
        self.user = user
        self.password = password
        self.auth_required = (user is not None) if auth_required is None else auth_required
        self.auth_require_tls = auth_require_tls
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.server_hostname = server_hostname
        self.data_size_limit = data_size_limit
        self.port = 0
        self.cert_path: Path | None = None
        self.key_path: Path | None = None
        self._tls_context = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._controller: _Controller | None = None
        self._lock = threading.Condition()
        self._envelopes: list[CapturedEnvelope] = []
        self._failures: list[tuple[int, str]] = []  # pending (code, text) for next DATAs
        self.failed_attempts = 0  # DATA commands rejected through fail_next()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> CaptureSMTP:
        if self._controller is not None:
            return self
        if self.starttls:
            import ssl

            self._tmpdir = tempfile.TemporaryDirectory(prefix="capture-smtp-")
            self.cert_path, self.key_path = generate_self_signed_cert(
                Path(self._tmpdir.name), self.server_hostname
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_path, self.key_path)
            self._tls_context = context
        last: Exception | None = None
        for _attempt in range(3):
            self.port = free_port(self.host)
            controller = _Controller(
                self,
                hostname=self.host,
                port=self.port,
                data_size_limit=self.data_size_limit,
                ready_timeout=10.0,
            )
            try:
                controller.start()
            except Exception as exc:  # port race or startup failure
                last = exc
                controller.stop(no_assert=True)
                continue
            self._controller = controller
            return self
        self._cleanup_tmp()
        raise ServerError(f"CaptureSMTP could not start: {last!r}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> CaptureSMTP:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.host}:{self.port}" if self._controller else "stopped"
        return f"<CaptureSMTP {state} messages={len(self._envelopes)}>"

    # -- results -------------------------------------------------------------------------

    @property
    def envelopes(self) -> list[CapturedEnvelope]:
        with self._lock:
            return list(self._envelopes)

    @property
    def messages(self) -> list[EmailMessage]:
        return [env.message for env in self.envelopes]

    def wait_for_envelopes(self, count: int, timeout: float = 5.0) -> list[CapturedEnvelope]:
        """Block until at least *count* messages were accepted; returns all envelopes."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._envelopes) >= count, timeout):
                raise TimeoutError(
                    f"CaptureSMTP got {len(self._envelopes)} message(s) in {timeout}s, "
                    f"expected {count}"
                )
            return list(self._envelopes)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least *count* messages were accepted; returns all of them parsed
        (``EmailMessage``).  Raises TimeoutError otherwise."""
        return [env.message for env in self.wait_for_envelopes(count, timeout)]

    def clear(self) -> None:
        """Forget received messages and pending failures."""
        with self._lock:
            self._envelopes.clear()
            self._failures.clear()
            self.failed_attempts = 0

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, n: int = 1, code: int = 451, text: str | None = None) -> None:
        """Reject the next *n* DATA commands (after the data was sent) with *code*.
        4xx = temporary (client should retry), 5xx = permanent."""
        if not 400 <= code <= 599:
            raise ValueError("code must be a 4xx or 5xx SMTP reply code")
        if text is None:
            text = (
                "4.3.0 Temporary failure, try again later"
                if code < 500
                else ("5.7.1 Message rejected")
            )
        with self._lock:
            self._failures.extend([(code, text)] * n)

    def _on_data(self, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._failures:
                code, text = self._failures.pop(0)
                self.failed_attempts += 1
                return f"{code} {text}"
            raw = envelope.original_content or envelope.content
            if isinstance(raw, str):
                raw = raw.encode("utf-8", "surrogateescape")
            auth = getattr(session, "auth_data", None)
            self._envelopes.append(
                CapturedEnvelope(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=bytes(raw),
                    mail_options=tuple(envelope.mail_options or ()),
                    auth_user=auth if isinstance(auth, str) else None,
                    tls=session.ssl is not None,
                    peer=tuple(session.peer[:2]) if session.peer else None,
                )
            )
            self._lock.notify_all()
        return "250 2.0.0 OK: queued"
