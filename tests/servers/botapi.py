"""A loopback Telegram Bot API server: the subset python-telegram-bot 22 uses for this bot.

    with BotApiServer() as api:            # token "123:ABC", 127.0.0.1 on a free port
        settings.telegram_base_url = api.url
        api.push_message(1001, "/start")
        [reply] = api.wait_for(lambda: api.messages_to(1001))

Methods: getMe, deleteWebhook, getUpdates (long poll with offset/timeout), sendMessage,
sendDocument (multipart), answerCallbackQuery, getFile plus the download under
/file/bot<token>/<path>, setMyCommands, editMessageReplyMarkup. Every answer is
`{"ok": true, "result": ...}`; an unknown token gets 401, an unknown method 404.
Tests push updates (`push_message`, `push_document`, `push_callback`) and read what the bot sent
(`sent_messages`, `sent_documents`, `callback_answers`).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = ["BOT_ID", "TOKEN", "BotApiServer", "botapi"]

TOKEN = "123:ABC"
BOT_ID = 123
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Stelloloxon",
            "username": "stelloloxon_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False}
MAX_POLL_SECONDS = 5.0


class BotApiServer:
    """Threaded HTTP server; all state is guarded by one condition variable."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.sent_messages: list[dict[str, Any]] = []
        self.sent_documents: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._stopping = False
        self._httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> BotApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self.cond:
            self._stopping = True
            self.cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> BotApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------------ what tests push

    def push_message(self, user_id: int, text: str, *, chat_type: str = "private",
                     forward: bool = False, chat_id: int | None = None,
                     reply_to: dict[str, Any] | None = None) -> int:
        """A text message from a user (in their private chat unless chat_id/chat_type say
        otherwise); commands get their bot_command entity like real clients send them."""
        message = self._message(user_id, chat_type, chat_id)
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        if forward:
            message["forward_origin"] = {"type": "user", "date": int(time.time()) - 60,
                                         "sender_user": _user(user_id + 1)}
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return self._push({"message": message})

    def push_document(self, user_id: int, filename: str, data: bytes, *, caption: str = "",
                      mime_type: str = "application/octet-stream",
                      size: int | None = None) -> int:
        """A document in the user's private chat; `size` can claim another file_size."""
        with self.cond:
            file_id = f"file{len(self.files) + 1}"
            self.files[file_id] = (f"documents/{file_id}-{filename}", data)
        message = self._message(user_id, "private", None)
        message["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}",
                               "file_name": filename, "mime_type": mime_type,
                               "file_size": len(data) if size is None else size}
        if caption:
            message["caption"] = caption
        return self._push({"message": message})

    def push_callback(self, user_id: int, chat_id: int, data: str,
                      message: dict[str, Any] | None = None) -> int:
        """A button press by user_id on a bot message in chat_id."""
        on = message or {"message_id": next(self._message_ids), "date": int(time.time()),
                         "chat": _chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                         "from": BOT_USER, "text": "(buttons)"}
        query = {"id": f"cbq{len(self.callback_answers)}-{time.monotonic_ns()}",
                 "from": _user(user_id), "chat_instance": f"ci{chat_id}", "data": data,
                 "message": on}
        return self._push({"callback_query": query})

    def _message(self, user_id: int, chat_type: str, chat_id: int | None) -> dict[str, Any]:
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -100000 - user_id
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": _chat(chat_id, chat_type), "from": _user(user_id)}

    def _push(self, update: dict[str, Any]) -> int:
        with self.cond:
            update["update_id"] = next(self._update_ids)
            self.updates.append(update)
            self.cond.notify_all()
            return int(update["update_id"])

    # ------------------------------------------------------------------ what tests read

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.cond:
            return [m for m in self.sent_messages if m["chat_id"] == chat_id]

    def documents_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.cond:
            return [d for d in self.sent_documents if d["chat_id"] == chat_id]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until predicate() is truthy (re-checked whenever the bot calls the API)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"Bot API: condition not met within {timeout}s")
                self.cond.wait(min(left, 0.2))

    # ------------------------------------------------------------------ the API

    def call(self, method: str, params: dict[str, Any],
             files: dict[str, tuple[str, bytes]]) -> tuple[int, dict[str, Any]]:
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        with self.cond:
            self.calls.append(method)
        if method == "getUpdates":  # blocks: must not hold the lock while waiting
            return 200, {"ok": True, "result": handler(params)}
        with self.cond:
            result = handler(params, files) if method == "sendDocument" else handler(params)
            self.cond.notify_all()
        return 200, {"ok": True, "result": result}

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        deadline = time.monotonic() + timeout
        with self.cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.updates)

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        sent = self._sent(params)
        sent["text"] = params["text"]
        self.sent_messages.append(sent)
        return self._as_message(sent, text=sent["text"])

    def _api_sendDocument(self, params: dict[str, Any],
                          files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        filename, data = files["document"]
        sent = self._sent(params)
        sent.update(filename=filename, data=data, caption=params.get("caption"))
        self.sent_documents.append(sent)
        document = {"file_id": f"sent{sent['message_id']}", "file_unique_id": "x",
                    "file_name": filename, "file_size": len(data)}
        return self._as_message(sent, document=document)

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.callback_answers.append({"id": params["callback_query_id"],
                                      "text": params.get("text"),
                                      "show_alert": params.get("show_alert") in (True, "true")})
        return True

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> bool:
        return True

    def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        path, data = self.files[params["file_id"]]
        return {"file_id": params["file_id"], "file_unique_id": f"u{params['file_id']}",
                "file_size": len(data), "file_path": path}

    def download(self, path: str) -> bytes | None:
        with self.cond:
            return next((data for p, data in self.files.values() if p == path), None)

    def _sent(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = params.get("reply_markup")
        reply = params.get("reply_to_message_id") or (
            json.loads(params["reply_parameters"])["message_id"]
            if params.get("reply_parameters") else None)
        return {"message_id": next(self._message_ids), "chat_id": int(params["chat_id"]),
                "reply_markup": json.loads(markup) if markup else None,
                "reply_to": int(reply) if reply else None}

    def _as_message(self, sent: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = sent["chat_id"]
        return {"message_id": sent["message_id"], "date": int(time.time()), "from": BOT_USER,
                "chat": _chat(chat_id, "private" if chat_id > 0 else "supergroup"), **content}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (PTB stopping mid long-poll) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: BotApiServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)  # PTB quotes file paths (and the ':' of the token)
        file_prefix = f"/file/bot{self.api.token}/"
        if path.startswith(file_prefix):
            data = self.api.download(path.removeprefix(file_prefix))
            self._reply(200 if data is not None else 404, data or b"",
                        "application/octet-stream")
            return
        prefix = f"/bot{self.api.token}/"
        if not path.startswith(prefix):
            self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params, files = _parse_body(self.headers.get("Content-Type", ""), body)
        params.update({k: v[-1] for k, v in parse_qs(parts.query).items()})
        status, payload = self.api.call(path.removeprefix(prefix), params, files)
        self._json(status, payload)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._reply(status, json.dumps(payload).encode(), "application/json")

    def _reply(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_body(ctype: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Form, JSON or multipart parameters (PTB sends JSON-encoded values in forms)."""
    if ctype.startswith("application/json"):
        return json.loads(body or b"{}"), {}
    if ctype.startswith("multipart/form-data"):
        return _parse_multipart(ctype, body)
    return {k: v[-1] for k, v in parse_qs(body.decode()).items()}, {}


def _parse_multipart(ctype: str, body: bytes) -> tuple[dict[str, Any],
                                                        dict[str, tuple[str, bytes]]]:
    """Split on the boundary by hand: byte-exact for binary parts."""
    boundary = ctype.split("boundary=", 1)[1].split(";")[0].strip('"')
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r'[;\s]name="([^"]*)"', headers)
        filename = re.search(r'filename="([^"]*)"', headers)
        if name is None:
            continue
        if filename:
            files[name.group(1)] = (filename.group(1), data)
        else:
            params[name.group(1)] = data.decode()
    return params, files


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = f"User{chat_id}"
    else:
        chat["title"] = f"Chat {chat_id}"
    return chat


@pytest.fixture
def botapi() -> Iterator[BotApiServer]:
    """A fresh loopback Bot API server (token tests.servers.botapi.TOKEN)."""
    with BotApiServer() as server:
        yield server
