"""The bot's link server: expiring, single-client download links for exports too large to
attach, and one-click unsubscribe links (RFC 8058) for non-essential mail.

The link carries 256 random bits; only their SHA-256 is stored. A link works a few times
until it expires; then the export file is deleted. Unknown, expired and used-up links get the
same 404, so a link reveals nothing. The ZIP itself stays AES-encrypted, password by mail.
Served by the standard library's threading HTTP server in its own thread; files are streamed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlmodel import Session, col, select

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
PREFIX = "/download/"
UNSUBSCRIBE = "/unsubscribe/"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def base_url(app: App) -> str:
    s = app.settings
    return (s.download_base_url or f"http://{s.download_host}:{s.download_port}").rstrip("/")


def issue_link(session: Session, app: App, case: models.Case, export: Path) -> str:
    """Create a link to `export` (under data_dir) for the case's client; returns the URL."""
    token = secrets.token_urlsafe(32)
    now = app.clock.now()
    row = models.DownloadToken(
        token_hash=_hash(token), case_id=case.id, client_id=case.client_id,
        path=str(export.resolve().relative_to(app.settings.data_dir.resolve())),
        created_at=now, expires_at=now + timedelta(hours=app.settings.download_ttl_hours),
        max_downloads=app.settings.download_max_count,
    )
    session.add(row)
    session.flush()
    audit(session, "download.link_issued", at=now, case_id=case.id, client_id=case.client_id,
          token_id=row.id, expires_at=row.expires_at.isoformat())
    return f"{base_url(app)}{PREFIX}{token}"


def claim(app: App, token: str) -> Path | None:
    """Count one download and return the file, or None for an unusable link."""
    with app.write_lock, unit_of_work(app.engine) as session:
        query = select(models.DownloadToken).where(models.DownloadToken.token_hash == _hash(token))
        row = session.exec(query).first()
        now = app.clock.now()
        if (row is None or row.purged_at is not None or row.expires_at <= now
                or row.downloads >= row.max_downloads):
            audit(session, "download.refused", at=now, token_id=row.id if row else None)
            return None
        row.downloads += 1
        session.add(row)
        audit(session, "download.served", at=now, case_id=row.case_id, client_id=row.client_id,
              token_id=row.id, count=row.downloads)
        path = app.settings.data_dir / row.path
    return path if path.is_file() else None


def purge_expired(app: App) -> int:
    """Delete the export files of expired or used-up links; returns how many went."""
    now = app.clock.now()
    purged = 0
    with app.write_lock, unit_of_work(app.engine) as session:
        query = select(models.DownloadToken).where(col(models.DownloadToken.purged_at).is_(None))
        for row in session.exec(query):
            if row.expires_at > now and row.downloads < row.max_downloads:
                continue
            (app.settings.data_dir / row.path).unlink(missing_ok=True)
            row.purged_at = now
            session.add(row)
            audit(session, "download.purged", at=now, case_id=row.case_id, token_id=row.id)
            purged += 1
    return purged


def _unsubscribe(app: App, token: str) -> bool:
    from bot.marketing import address_from_token, unsubscribe

    address = address_from_token(app, token)
    if address is None:
        return False
    with app.write_lock, unit_of_work(app.engine) as session:
        unsubscribe(session, app, address, via="link")
    return True


class _Handler(BaseHTTPRequestHandler):
    app: App  # set on the subclass made by DownloadServer
    server_version = "stelloloxon-bot"
    sys_version = ""

    def do_POST(self) -> None:
        """RFC 8058 one-click: a POST to the List-Unsubscribe URL opts the address out."""
        if not self.path.startswith(UNSUBSCRIBE):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        self.rfile.read(length)
        if not _unsubscribe(self.app, self.path[len(UNSUBSCRIBE):].split("?")[0]):
            self.send_error(HTTPStatus.NOT_FOUND, "This link does not exist.")
            return
        self._page("You are unsubscribed from non-essential emails. Service messages about "
                   "your orders still reach you.")

    def _page(self, text: str, form: bool = False) -> None:
        button = ('<form method="post"><button type="submit">Unsubscribe</button></form>'
                  if form else "")
        body = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Unsubscribe</title>'
                f"</head><body><p>{text}</p>{button}</body></html>").encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith(UNSUBSCRIBE):  # link scanners GET: never act on a GET
            self._page("Press the button to stop non-essential emails from us.", form=True)
            return
        path = None
        if self.path.startswith(PREFIX):
            path = claim(self.app, self.path[len(PREFIX):].split("?")[0])
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "This link does not exist or has expired.")
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("Content-Disposition", f'attachment; filename="{path.name}"')
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                self.wfile.write(chunk)

    def log_message(self, format: str, *args: object) -> None:
        """The URL holds the token: never log request lines."""


class DownloadServer:
    """The link server in a background thread."""

    def __init__(self, app: App) -> None:
        handler = type("Handler", (_Handler,), {"app": app})
        s = app.settings
        self.httpd = ThreadingHTTPServer((s.download_host, s.download_port), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="downloads",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()
        log.info("download links served on port %d", self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
