"""Typed settings: environment variables (prefix STELLOLOXON_) and an optional settings file.

Built once in the CLI and passed down; never imported as a global. Defaults are the embedded
mode: SQLite under ./var, the SMTP listener on 127.0.0.1:2525, replies written as .eml files
into ./var/outbox, IMAP and Telegram off until configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_SECRETS = {"", "changeme", "secret", "password", "change-me"}


class Settings(BaseSettings):
    """Every setting the bot reads; README.md has the table."""

    model_config = SettingsConfigDict(
        env_prefix="STELLOLOXON_",
        env_file=("stelloloxon.env", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite:///<data_dir>/stelloloxon.db
    templates_dir: Path = REPO_ROOT / "templates"
    log_level: str = "INFO"

    company_name: str = "Stelloloxon Pro"
    bot_address: str = "info@stelloloxonpro.com"
    accepted_domains: list[str] = ["stelloloxonpro.com"]
    staff_address: str = "staff@stelloloxonpro.com"
    staff_senders: list[str] = []  # addresses whose replies are obeyed as staff commands
    case_prefix: str = "SP-REQ"
    response_days: int = 30
    understanding_threshold: float = 0.5
    demo_data: bool = True  # seed demo clients and projects into an empty database

    smtp_enabled: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 20 * 1024 * 1024

    imap_host: str | None = None
    imap_port: int = 993
    imap_ssl: bool = True
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_mailbox: str = "INBOX"
    imap_processed_folder: str | None = None  # move handled mail here; None: flag it only
    imap_poll_seconds: float = 30.0  # polling interval when the server has no IDLE
    imap_idle_seconds: float = 300.0  # re-issue IDLE at least this often (RFC 2177: < 29 min)
    imap_backoff_max_seconds: float = 300.0

    relay_host: str | None = None  # None: write replies to outbox_dir instead of sending
    relay_port: int = 587
    relay_security: Literal["starttls", "ssl", "none"] = "starttls"
    relay_user: str | None = None
    relay_password: SecretStr | None = None
    relay_timeout_seconds: float = 30.0
    outbox_dir: Path | None = None  # default: <data_dir>/outbox
    outbox_poll_seconds: float = 1.0
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0  # first retry delay; doubles each attempt

    reply_rate_limit: int = 5  # automatic replies per sender per window
    reply_rate_window_minutes: int = 60

    telegram_token: SecretStr | None = None

    @field_validator("bot_address", "staff_address")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("staff_senders", "accepted_domains")
    @classmethod
    def _lower_list(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'stelloloxon.db'}"
        if self.outbox_dir is None:
            self.outbox_dir = self.data_dir / "outbox"
        if self.environment == "production":
            _refuse_placeholders(self)
        return self

    @property
    def outbox_path(self) -> Path:
        assert self.outbox_dir is not None
        return self.outbox_dir

    @property
    def files_path(self) -> Path:
        return self.data_dir / "files"

    @property
    def bot_domain(self) -> str:
        return self.bot_address.rpartition("@")[2]


def _refuse_placeholders(settings: Settings) -> None:
    for name in ("imap_password", "relay_password", "telegram_token"):
        value = getattr(settings, name)
        if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(f"{name} is a placeholder; set a real secret in production")
    if settings.relay_host is None:
        raise ValueError("production needs relay_host: replies would only reach the outbox dir")
