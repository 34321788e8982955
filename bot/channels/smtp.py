"""SMTP listener (aiosmtpd): store the raw message, then answer 250; 451 when the fault is ours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.context import App
from bot.intake import store_raw
from bot.logsafe import log_failure

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd handler: accepts mail for our domains only and hands ids to the pipeline."""

    def __init__(self, app: App, on_stored: Callable[[int], None]) -> None:
        self.app = app
        self.on_stored = on_stored

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain not in self.app.settings.accepted_domains:
            return "550 5.7.1 Relaying denied: not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        try:
            inbound_id, _ = await asyncio.to_thread(store_raw, self.app, "smtp", raw,
                                                    sender=sender)
        except Exception as exc:
            log_failure(log, "could not store an inbound SMTP message; sender asked to retry",
                        exc)
            return "451 4.3.0 Temporary failure, please try again later"
        self.on_stored(inbound_id)
        return "250 2.0.0 Message accepted"


async def start_smtp_server(app: App, on_stored: Callable[[int], None]) -> asyncio.Server:
    """Serve SMTP inside the daemon's own loop (aiosmtpd's Controller would add a thread)."""
    settings = app.settings
    handler = InboundHandler(app, on_stored)

    def factory() -> SMTP:
        return SMTP(handler, data_size_limit=settings.smtp_max_message_bytes,
                    enable_SMTPUTF8=True, decode_data=False, hostname=settings.bot_domain,
                    ident="stelloloxon-bot ESMTP")

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host=settings.smtp_host, port=settings.smtp_port)
    log.info("SMTP listener on %s:%d", settings.smtp_host, settings.smtp_port)
    return server


def bound_port(server: asyncio.Server) -> int:
    sockets: Any = server.sockets
    return int(sockets[0].getsockname()[1])
