"""Time outbound composition + serialisation (bot.outbox.compose -> wire bytes), per message.

Each inbound mail costs up to two of these: the client's acknowledgement and the staff
escalation, which attaches the original mail as message/rfc822. Every email carries an HTML
alternative (the renderer makes one from the text when a purpose has none).

Two implementations run on the same inputs:

  before  the EmailMessage(policy=policy.default) build + as_bytes(policy=WIRE_POLICY) that
          compose() used until it wrote wire bytes itself (kept here as the reference)
  after   bot.outbox.compose(...).as_bytes(policy=WIRE_POLICY), what enqueue_email
          stores

Usage: .venv/bin/python bench/bench_compose.py [--number 500] [--repeat 5]
Prints the best of --repeat runs of --number messages, in ms per message.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.context import App  # noqa: E402
from bot.outbox import WIRE_POLICY, FileAttachment, Threading, compose  # noqa: E402
from bot.replies import Rendered  # noqa: E402

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TEXT = ("Hallo Jane,\n\nwir haben Ihre Anfrage erhalten und beantworten sie innerhalb von "
        "30 Tagen.\nIhr Aktenzeichen: SP-REQ-000001.\n\nMit freundlichen Grüßen\n"
        "Stelloloxon Pro\n")
HTML = "".join(f"<p>{line}</p>\n" for line in TEXT.splitlines() if line)
REPLY = Rendered(subject="Re: Löschung meiner Daten – ŽŠ [SP-REQ-000001]", text=TEXT,
                 html=HTML, language="de")
TEXT_ONLY = Rendered(subject=REPLY.subject, text=TEXT, html=None, language="de")
ESCALATION = Rendered(subject="[SP-REQ-000001] Needs staff: complaint", text=TEXT * 3,
                      html=HTML * 3, language="en")
THREAD = Threading("<req-2@example.com>", ("<req-1@example.com>", "<sp.1@stelloloxonpro.com>"))
UNSUBSCRIBE = {"List-Unsubscribe": "<mailto:info@stelloloxonpro.com?subject=unsubscribe>"}


def original_mail(size: int = 20 * 1024) -> bytes:
    """An inbound mail of about `size` bytes, as InboundMessage.raw holds it."""
    head = (b"From: Jane Example <jane@example.com>\r\nTo: info@stelloloxonpro.com\r\n"
            b"Subject: =?utf-8?q?L=C3=B6schung?= meiner Daten\r\n"
            b"Date: Wed, 25 Nov 2026 08:00:00 +0000\r\nMessage-ID: <req-2@example.com>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n")
    line = "Bitte löschen Sie alle Daten, die Sie über mich gespeichert haben.\r\n".encode()
    return head + line * ((size - len(head)) // len(line) + 1)


def legacy_compose(app: App, *, to: str, rendered: Rendered, threading: Threading,
                   now: datetime, attachments: Sequence[FileAttachment] = (),
                   auto_submitted: str = "auto-replied") -> EmailMessage:
    """compose() as it was before it wrote wire bytes itself (the 'before' column)."""
    settings = app.settings
    msg = EmailMessage(policy=policy.default)
    msg["From"] = formataddr((settings.company_name, settings.bot_address))
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = make_msgid(idstring="sp", domain=settings.bot_domain)
    if threading.in_reply_to:
        msg["In-Reply-To"] = threading.in_reply_to
    if chain := threading.reference_chain():
        msg["References"] = " ".join(chain)
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = settings.bot_address
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = rendered.language
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=item.filename)
    return msg


def cases(app: App) -> dict[str, tuple[Callable[[], bytes], Callable[[], bytes]]]:
    """Per case: (before, after), each making the bytes enqueue_email stores."""
    original = [FileAttachment("original.eml", original_mail(), "message/rfc822")]

    def wire(make: Callable[..., Any], rendered: Rendered, to: str, threading: Threading,
             attachments: Sequence[FileAttachment], auto: str) -> bytes:
        msg = make(app, to=to, rendered=rendered, threading=threading, now=NOW,
                   attachments=attachments, auto_submitted=auto)
        for name, value in UNSUBSCRIBE.items():
            msg[name] = value
        return bytes(msg.as_bytes(policy=WIRE_POLICY))

    args: dict[str, tuple[Rendered, str, Threading, Sequence[FileAttachment], str]] = {
        "reply, text only": (TEXT_ONLY, "jane@example.com", THREAD, (), "auto-replied"),
        "reply, text + html": (REPLY, "jane@example.com", THREAD, (), "auto-replied"),
        "escalation + 20 KB rfc822": (ESCALATION, "staff@stelloloxonpro.com", Threading(),
                                      original, "auto-generated"),
    }
    return {name: ((lambda a=a: wire(legacy_compose, *a)), (lambda a=a: wire(compose, *a)))
            for name, a in args.items()}


def best_ms(make: Callable[[], bytes], number: int, repeat: int) -> float:
    for _ in range(max(number // 10, 1)):  # warm-up
        make()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            make()
        runs.append((time.perf_counter() - start) / number * 1000)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=500, help="messages per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best one counts")
    options = parser.parse_args()
    app = cast(App, SimpleNamespace(settings=Settings(_env_file=None)))  # type: ignore[call-arg]
    print(f"{'case':<28}{'before ms':>11}{'after ms':>10}{'speed-up':>10}{'bytes':>8}")
    for name, (before, after) in cases(app).items():
        old = best_ms(before, options.number, options.repeat)
        new = best_ms(after, options.number, options.repeat)
        print(f"{name:<28}{old:>11.3f}{new:>10.3f}{old / new:>9.1f}x{len(after()):>8}")


if __name__ == "__main__":
    main()
