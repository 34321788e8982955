"""The dashboard's ASGI app (Starlette) and its server, run by the daemon inside its own loop.

uvicorn serves it as one more task of the daemon's asyncio loop; the daemon keeps its own
signal handlers (uvicorn's are switched off) and stops the server on shutdown. No access log:
nothing of a request reaches the logs but what the dashboard itself logs (ids, staff names).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.context import App
from bot.dashboard.routes import Dashboard

log = logging.getLogger(__name__)
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Every response: a strict CSP (no scripts at all), no framing, no caching, no referrer."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.inner(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


def create_app(app: App, wake_outbox: Callable[[], None] = lambda: None) -> ASGIApp:
    dashboard = Dashboard(app, wake_outbox)
    starlette = Starlette(routes=dashboard.routes(),
                          exception_handlers={HTTPException: _http_error})
    return SecurityHeaders(starlette)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon owns SIGTERM/SIGINT
        yield


class DashboardServer:
    """uvicorn inside the running loop: `await start()`, then `await stop()`."""

    def __init__(self, app: App, wake_outbox: Callable[[], None]) -> None:
        settings = app.settings
        config = uvicorn.Config(create_app(app, wake_outbox), host=settings.dashboard_host,
                                port=settings.dashboard_port, log_config=None,
                                access_log=False, server_header=False, lifespan="off")
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

        self.port = 0

    async def start(self) -> None:
        """Bind first (a taken port fails here with a clear OSError), then serve."""
        config = self._server.config
        try:
            sock = socket.create_server((config.host, config.port))
        except OSError as exc:
            raise OSError(f"cannot serve the dashboard on {config.host}:{config.port}: "
                          f"{os.strerror(exc.errno) if exc.errno else exc}") from None
        self.port = int(sock.getsockname()[1])
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="dashboard")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.02)
        log.info("dashboard listening on %s:%s", config.host, self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
