"""The Telegram channel (python-telegram-bot 22, long polling inside the daemon's loop).

A thin adapter, like the SMTP listener: each private text or document from a client becomes one
RFC 822 message (`telegram_adapter`), stored with `store_raw` and handed to the pipeline. The
commands (/start /help /status /privacy /link /cancel) and the staff buttons are the only things
answered here; group chats, channels, forwarded messages and edits are never the client
speaking and are ignored (audited). Replies come back as outbox rows to the chat identity and
`TelegramTransport` delivers them from the outbox worker's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels import telegram_link as link
from bot.channels import telegram_staff as staff
from bot.channels.outbound import PermanentFailure
from bot.channels.telegram_adapter import (
    DOCUMENT_LIMIT,
    ChatFile,
    ChatMessage,
    Outgoing,
    from_rfc822,
    oversized,
    split_text,
    to_rfc822,
)
from bot.clarify import CHOICES
from bot.context import App
from bot.identity import chat_address, chat_target
from bot.intake import store_raw
from bot.logsafe import log_failure
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)

COMMANDS = {
    "start": "what this bot does",
    "help": "commands and privacy notice",
    "status": "your open requests (linked chats)",
    "privacy": "exercise a privacy right",
    "link": "link this chat: /link you@example.com",
    "cancel": "stop a linking in progress",
}
# /privacy menu: button label and the fixed sentence it sends, as if typed
RIGHTS = {
    "access": ("Copy of my data", "Please send me a copy of all my data."),
    "deletion": ("Delete my data", "Please delete all my personal data."),
    "correction": ("Correct my data", "Please correct my data: some of my details are wrong."),
    "restriction": ("Restrict processing",
                    "Please restrict the processing of my personal data."),
    "usage_report": ("How my data is used",
                     "Please tell me how my data was used and who you shared it with."),
    "optout": ("No marketing", "Please stop sending me marketing emails."),
}
SEND_TIMEOUT = 120.0  # seconds the outbox worker waits for one row
SWEEP_SECONDS = 60.0
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 5.0, 300.0

Context = ContextTypes.DEFAULT_TYPE


class TelegramChannel:
    """Owns the PTB Application; `start()`/`stop()` run in the daemon's loop."""

    def __init__(self, app: App, on_stored: Callable[[int], None],
                 wake: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_stored = on_stored
        self.wake = wake or (lambda: None)  # deliver the outbox now (link codes, staff acts)
        self.ptb: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Connect; a bad token fails loudly, an unreachable API is retried in the background
        (mail keeps flowing, chat replies wait in the outbox)."""
        quiet_http_logs()
        self.loop = asyncio.get_running_loop()
        try:
            await self._connect()
        except InvalidToken:
            raise
        except TelegramError as exc:
            log.warning("Telegram unreachable (%s); retrying in the background",
                        type(exc).__name__)
            self._retry = asyncio.create_task(self._connect_later(), name="telegram-connect")
        self._sweeper = asyncio.create_task(self._sweep(), name="telegram-link-sweep")

    async def _connect(self) -> None:
        ptb = build_application(self.app)
        ptb.add_handler(TypeHandler(Update, self._on_update))
        ptb.add_error_handler(self._on_error)
        try:
            await ptb.initialize()
            await _set_commands(ptb)
            await ptb.start()
            await ptb.updater.start_polling(error_callback=_polling_error)
        except BaseException:
            with contextlib.suppress(Exception):
                await _stop_application(ptb)
            raise
        self.ptb = ptb
        log.info("Telegram channel polling")

    async def _connect_later(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                return
            except TelegramError as exc:
                log.warning("Telegram still unreachable (%s)", type(exc).__name__)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def stop(self) -> None:
        for task in (self._retry, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.ptb is not None:
            await _stop_application(self.ptb)
            log.info("Telegram channel stopped")

    def transport(self) -> TelegramTransport:
        return TelegramTransport(self)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await asyncio.to_thread(link.sweep_expired, self.app)
            except Exception as exc:
                log_failure(log, "sweeping expired chat links failed", exc)

    # ------------------------------------------------------------------ dispatch

    async def _on_update(self, update: Update, context: Context) -> None:
        if update.callback_query is not None:
            await self._on_callback(update, update.callback_query)
            return
        message = update.message
        if message is None:
            await self._ignore("not a new message (edit, channel post, ...)")
            return
        staff_chat = self.app.settings.telegram_staff_chat_id
        if staff_chat is not None and message.chat.id == staff_chat:
            await self._on_staff_message(message)
            return
        reason = not_the_client(message)
        if reason:
            await self._ignore(reason)
            return
        text = message.text or message.caption or ""
        if text.startswith("/"):
            await self._on_command(message, text)
        else:
            await self._on_client_message(update, message, text)

    async def _ignore(self, reason: str) -> None:
        await asyncio.to_thread(_audit, self.app, "telegram.ignored", reason=reason)

    async def _on_error(self, update: object, context: Context) -> None:
        error = context.error
        if error is not None:
            log_failure(log, "telegram update failed", error)

    # ------------------------------------------------------------------ clients

    async def _on_client_message(self, update: Update, message: Message, text: str) -> None:
        assert message.from_user is not None
        user_id = message.from_user.id
        if text:
            answer = await asyncio.to_thread(link.on_text, self.app, user_id, text)
            if answer is not None:
                await self.say(message.chat.id, self.text("link", outcome=answer[0], **answer[1]))
                return
        if not text and message.document is None:
            await self.say(message.chat.id, self.text("notice", outcome="unsupported"))
            return
        files = await self._download(message)
        if files is None:
            await self._ignore("attachment over max_attachment_bytes")
            await self.say(message.chat.id, self.text("notice", outcome="too_large"))
            return
        chat_message = ChatMessage(user_id, message.chat.id, str(message.message_id), text,
                                   message.date, files)
        await self._store(message.chat.id, update.update_id, chat_message)

    async def _download(self, message: Message) -> tuple[ChatFile, ...] | None:
        """The document, if any; None when it is over max_attachment_bytes."""
        document = message.document
        if document is None:
            return ()
        limit = self.app.settings.max_attachment_bytes
        if document.file_size is not None and document.file_size > limit:
            return None
        handle = await document.get_file()
        data = bytes(await handle.download_as_bytearray())
        if len(data) > limit:
            return None
        return (ChatFile(document.file_name or "file", data,
                         document.mime_type or "application/octet-stream"),)

    async def _store(self, chat_id: int, update_id: int, chat_message: ChatMessage) -> None:
        try:
            inbound_id = await asyncio.to_thread(store_chat_message, self.app, update_id,
                                                 chat_message)
        except Exception as exc:
            log_failure(log, "could not store Telegram update %s", exc, update_id)
            await self.say(chat_id, self.text("notice", outcome="try_again"))
            return
        self.on_stored(inbound_id)

    # ------------------------------------------------------------------ commands

    async def _on_command(self, message: Message, text: str) -> None:
        assert message.from_user is not None
        name, arg = parse_command(text)
        chat_id, user_id = message.chat.id, message.from_user.id
        if name == "status":
            cases = await asyncio.to_thread(link.open_cases, self.app, user_id)
            await self.say(chat_id, self.text("status", linked=cases is not None,
                                              cases=cases or []))
        elif name == "privacy":
            await self.say(chat_id, self.text("privacy"), markup=privacy_keyboard())
        elif name == "link":
            await self.say(chat_id, self.text("link", outcome=await self._link(user_id, arg)))
        elif name == "cancel":
            done = await asyncio.to_thread(link.cancel, self.app, user_id)
            await self.say(chat_id, self.text("link", outcome="cancelled" if done else "nothing"))
        else:
            await self.say(chat_id, self.text("start" if name == "start" else "help",
                                              commands=COMMANDS))

    async def _link(self, user_id: int, arg: str) -> str:
        if not link.EMAIL_RE.match(arg.strip()):
            return "usage"
        outcome = await asyncio.to_thread(link.start_link, self.app, user_id, arg)
        self.wake()
        return "sent" if outcome == "requested" else outcome

    # ------------------------------------------------------------------ buttons

    async def _on_callback(self, update: Update, query: CallbackQuery) -> None:
        data = query.data or ""
        if data.startswith("right:"):
            right = data.removeprefix("right:")
            await self._on_press(update, query, RIGHTS[right][1] if right in RIGHTS else None)
        elif data.startswith("choice:"):  # the answer to the numbered list (bot.clarify)
            number = data.removeprefix("choice:")
            valid = number.isdigit() and 1 <= int(number) <= len(CHOICES)
            await self._on_press(update, query, number if valid else None)
        elif data.startswith("staff:"):
            await self._on_staff_button(query, data)
        else:
            await query.answer()

    async def _on_press(self, update: Update, query: CallbackQuery, text: str | None) -> None:
        """A client's button: its fixed text goes in as if the client typed it, in their own
        private chat only."""
        chat = query.message.chat if query.message is not None else None
        user_id = query.from_user.id
        if text is None or chat is None or chat.type != ChatType.PRIVATE or chat.id != user_id:
            await query.answer()
            await self._ignore("client button outside a private chat")
            return
        await query.answer(text[:200])
        chat_message = ChatMessage(user_id, chat.id, f"cb{update.update_id}", text,
                                   self.app.clock.now())
        await self._store(chat.id, update.update_id, chat_message)

    async def _on_staff_button(self, query: CallbackQuery, data: str) -> None:
        message = query.message
        chat_id = message.chat.id if message is not None else None
        user_id = query.from_user.id
        parsed = staff.parse_data(data)
        if parsed is None or not staff.allowed(self.app, chat_id, user_id):
            await asyncio.to_thread(staff.refuse, self.app, user_id, "button",
                                    "malformed" if parsed is None else "not staff")
            await query.answer(self.text("notice", outcome="not_allowed"), show_alert=True)
            return
        verb, ref = parsed
        result = await asyncio.to_thread(staff.press, self.app, verb, ref, user_id)
        self.wake()
        await query.answer(result[:200], show_alert=verb in staff.NEEDS_REASON)
        assert chat_id is not None and message is not None
        await self.say(chat_id, f"[{ref}] {verb}: {result}", reply_to=message.message_id)

    async def _on_staff_message(self, message: Message) -> None:
        """A staff reply such as "DENY <reason>" to an escalation in the staff chat."""
        user_id = message.from_user.id if message.from_user else 0
        replied = message.reply_to_message
        if replied is None or replied.from_user is None \
                or replied.from_user.id != self.ptb.bot.id:
            await self._ignore("staff chat: not a reply to the bot")
            return
        if not staff.allowed(self.app, message.chat.id, user_id):
            await asyncio.to_thread(staff.refuse, self.app, user_id, "reply", "not staff")
            return
        ref = staff.ref_in(replied.text or replied.caption or "", self.app.settings.case_prefix)
        text = message.text or ""
        result = None if ref is None else await asyncio.to_thread(
            staff.reply_command, self.app, ref, text, user_id)
        self.wake()
        if result is None:
            await self._ignore("staff chat: no case or no command")
            return
        await self.say(message.chat.id, result, reply_to=message.message_id)

    # ------------------------------------------------------------------ output

    def text(self, purpose: str, **ctx: Any) -> str:
        settings = self.app.settings
        rendered = self.app.renderer.render(
            purpose, "en", medium="chat", company=settings.company_name,
            bot_address=settings.bot_address, privacy_url=settings.telegram_privacy_notice_url,
            minutes=int(settings.code_ttl_chat_minutes),
            response_days=settings.response_days, **ctx)
        return rendered.text.strip()

    async def say(self, chat_id: int, text: str, *, markup: InlineKeyboardMarkup | None = None,
                  reply_to: int | None = None) -> None:
        """Send text now (command answers); mail-like replies go through the outbox."""
        chunks = split_text(text)
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            await self.ptb.bot.send_message(chat_id=chat_id, text=chunk,
                                            reply_markup=markup if last else None,
                                            reply_to_message_id=reply_to if n == 0 else None)

    async def deliver(self, chat_id: int, out: Outgoing, markup: InlineKeyboardMarkup | None,
                      with_subject: bool) -> None:
        text = f"{out.subject}\n\n{out.text}" if with_subject else out.text
        await self.say(chat_id, text, markup=markup)
        for item in out.files:
            await self.ptb.bot.send_document(chat_id=chat_id, document=item.data,
                                             filename=item.filename)


class TelegramTransport:
    """Outbox rows to chat identities; `send` runs in the outbox worker's thread."""

    document_limit = DOCUMENT_LIMIT

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel
        self.app = channel.app

    def close(self) -> None:
        """The Bot API client belongs to the channel; nothing to let go of here."""

    def send(self, row: models.Outbox) -> None:
        kind, chat_id = chat_target(row.to_addr)
        out = from_rfc822(row.raw)
        if too_big := oversized(out.files, self.document_limit):
            raise PermanentFailure(f"{len(too_big)} attachment(s) over the Bot API limit of "
                                   f"{self.document_limit // (1024 * 1024)} MB for sendDocument")
        staff_chat = self.app.settings.telegram_staff_chat_id
        if kind == "staff" and chat_id != staff_chat:
            raise PermanentFailure("not the configured staff chat")
        markup = None
        if kind == "staff" and row.purpose == "staff_escalation":
            ref = staff.ref_in(out.subject, self.app.settings.case_prefix)
            markup = staff.keyboard(ref) if ref else None
        elif kind == "user" and row.purpose == "clarify":
            markup = choice_keyboard()
        loop = self._running_loop()
        self._wait(asyncio.run_coroutine_threadsafe(
            self.channel.deliver(chat_id, out, markup, with_subject=kind == "staff"), loop))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The daemon's loop; a RuntimeError (retried later) while the channel is down."""
        loop, ptb = self.channel.loop, self.channel.ptb
        if loop is None or loop.is_closed() or ptb is None or not ptb.running:
            raise RuntimeError("the Telegram channel is not running")
        return loop

    @staticmethod
    def _wait(future: concurrent.futures.Future[None]) -> None:
        try:
            future.result(SEND_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("Telegram delivery timed out") from None
        except (Forbidden, InvalidToken) as exc:
            raise PermanentFailure(f"Telegram refused: {type(exc).__name__}") from None
        except BadRequest as exc:
            raise PermanentFailure(f"Telegram rejected the message: {exc.message}") from None


# ---------------------------------------------------------------------- helpers


def build_application(app: App) -> Any:
    settings = app.settings
    assert settings.telegram_token is not None
    builder = Application.builder().token(settings.telegram_token.get_secret_value())
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    return builder.job_queue(None).build()


async def _set_commands(ptb: Any) -> None:
    try:
        await ptb.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS.items()])
    except TelegramError as exc:  # cosmetic: the bot works without the menu
        log.warning("setMyCommands failed: %s", type(exc).__name__)


async def _stop_application(ptb: Any) -> None:
    """Stop in reverse: updater, application, then shutdown."""
    if ptb.updater is not None and ptb.updater.running:
        await ptb.updater.stop()
    if ptb.running:
        await ptb.stop()
    await ptb.shutdown()


def quiet_http_logs() -> None:
    """httpx logs every request URL, and the token is part of each one."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ptb = logging.getLogger("telegram")
    if ptb.getEffectiveLevel() < logging.INFO:  # PTB's debug lines carry the API URL too
        ptb.setLevel(logging.INFO)


def _polling_error(exc: TelegramError) -> None:
    log.warning("Telegram polling error: %s", type(exc).__name__)


def not_the_client(message: Message) -> str | None:
    """Why a message is not a client speaking to us in private, or None if it is."""
    if message.chat.type != ChatType.PRIVATE:
        return f"{message.chat.type} chat"
    if message.from_user is None or message.from_user.is_bot:
        return "not from a person"
    if message.forward_origin is not None or message.is_automatic_forward:
        return "forwarded message"
    return None


def parse_command(text: str) -> tuple[str, str]:
    """("link", "a@b.c") from "/link@our_bot a@b.c"."""
    head, _, rest = text.strip().partition(" ")
    return head[1:].split("@", 1)[0].lower(), rest.strip()


def privacy_keyboard() -> InlineKeyboardMarkup:
    return _two_columns([InlineKeyboardButton(label, callback_data=f"right:{name}")
                         for name, (label, _) in RIGHTS.items()])


def choice_keyboard() -> InlineKeyboardMarkup:
    """The numbered rights of bot.clarify as buttons; a press answers with its number."""
    return _two_columns([InlineKeyboardButton(f"{n}. {RIGHTS[name][0]}",
                                              callback_data=f"choice:{n}")
                         for n, name in enumerate(CHOICES, 1)])


def _two_columns(buttons: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)])


def store_chat_message(app: App, update_id: int, chat_message: ChatMessage) -> int:
    """Thread under the bot's last reply to this chat, then store durably (once per update)."""
    address = chat_address(chat_message.user_id)
    raw = to_rfc822(chat_message, bot_address=app.settings.bot_address,
                    in_reply_to=link.latest_reply_id(app, address))
    inbound_id, _ = store_raw(app, "telegram", raw, source_key=f"telegram:{update_id}",
                              sender=address)
    return inbound_id


def _audit(app: App, action: str, **details: object) -> None:
    with app.write_lock, unit_of_work(app.engine) as session:
        audit(session, action, at=app.clock.now(), actor="telegram", **details)
