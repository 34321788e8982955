"""SMTP listener (aiosmtpd): spool the raw message, then answer 250; 451 when the fault is ours.

The spool (bot.spool) is a durable file per message, so accepting never waits for the
database writer; the daemon imports spooled mail into the pipeline right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.context import App
from bot.logsafe import log_failure
from bot.spool import Spool

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd handler: accepts mail for our domains only and hands ids to the pipeline."""

    def __init__(self, spool: Spool, on_spooled: Callable[[], None],
                 accepted_domains: list[str]) -> None:
        self.spool = spool
        self.on_spooled = on_spooled
        self.accepted_domains = accepted_domains

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain not in self.accepted_domains:
            return "550 5.7.1 Relaying denied: not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            await asyncio.to_thread(self.spool.put, raw)
        except Exception as exc:
            log_failure(log, "could not spool an inbound SMTP message; sender asked to retry",
                        exc)
            return "451 4.3.0 Temporary failure, please try again later"
        self.on_spooled()
        return "250 2.0.0 Message accepted"


async def start_smtp_server(app: App, spool: Spool,
                            on_spooled: Callable[[], None]) -> asyncio.Server:
    """Serve SMTP inside the daemon's own loop (aiosmtpd's Controller would add a thread)."""
    settings = app.settings
    handler = InboundHandler(spool, on_spooled, settings.accepted_domains)

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
