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
    spool_threshold_bytes: int = 5 * 1024 * 1024  # larger mail is kept as a file, streamed

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
    relay_ca_file: Path | None = None  # trust this CA for the relay's certificate (private relays)
    outbox_dir: Path | None = None  # default: <data_dir>/outbox
    outbox_poll_seconds: float = 1.0
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0  # first retry delay; doubles each attempt

    reply_rate_limit: int = 10  # automatic messages per address per window (loop stop)
    reply_rate_window_minutes: int = 60

    telegram_token: SecretStr | None = None
    telegram_base_url: str | None = None  # Bot API server (tests point it at a loopback one)
    telegram_staff_chat_id: int | None = None  # escalations are posted there with buttons
    telegram_staff_user_ids: list[int] = []  # only these Telegram users may press them
    telegram_privacy_notice_url: str | None = None  # linked from /help and /start
    telegram_link_codes_per_day: int = 3  # /link codes per chat and per address

    # identity verification (bot.verify)
    code_ttl_email_hours: float = 24.0
    code_ttl_chat_minutes: float = 15.0
    code_max_attempts: int = 5
    code_daily_failure_cap: int = 10  # failed code attempts per client per 24 h, then locked
    codes_per_case: int = 3  # fresh codes a requester can get on one case
    code_mails_per_day: int = 5  # code mails per client per 24 h, across all cases
    email_change_cooloff_days: int = 7  # no export to a new email of record before this
    # sender authentication (bot.authn): our MX's Authentication-Results, else our own DKIM
    trusted_authserv_ids: list[str] = []  # authserv-ids of our MX (it strips forged ones)
    own_dkim_check: bool = True  # no trusted MX: verify DKIM ourselves (needs DNS)
    # spam (bot.spam): header verdicts count only above a trusted Authentication-Results
    spamd_host: str | None = None  # ask this SpamAssassin spamd (SPAMC/SPAMD over TCP); off
    spamd_port: int = 783
    spamd_timeout_seconds: float = 10.0
    spamd_max_bytes: int = 512 * 1024  # larger mail is checked on its first this many bytes
    # duplicates without Message-ID (bot.duplicates)
    duplicate_window_hours: float = 72.0  # the same raw bytes again within this: duplicate
    redelivery_window_minutes: float = 10.0  # same sender, subject and text: a re-delivery
    deletion_grace_days: int = 7  # a verified deletion waits this long, cancellable
    export_attach_max_bytes: int = 15 * 1024 * 1024  # larger exports go as a download link
    download_enabled: bool = True  # serve expiring export links (bot.downloads)
    download_host: str = "127.0.0.1"
    download_port: int = 8025
    download_base_url: str = ""  # public URL of the link server; default http://host:port
    download_ttl_hours: float = 72.0
    download_max_count: int = 3  # downloads allowed per link

    # staff dashboard (bot.dashboard, issue 14)
    dashboard_enabled: bool = True  # serve the staff dashboard inside the daemon
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8026
    dashboard_secure_cookies: bool = False  # set when a TLS proxy is in front (Secure cookies)
    dashboard_session_hours: float = 12.0  # a login lasts this long
    dashboard_login_attempts: int = 5  # failed logins per user name and per client per window
    dashboard_login_window_minutes: int = 15

    # project requests (bot.projects: workflow, jobintake, meshcheck)
    model_file_max_bytes: int = 50 * 1024 * 1024  # per model file, also inside a ZIP
    mesh_analyse_max_bytes: int = 32 * 1024 * 1024  # larger files are stored, not analysed
    zip_max_total_bytes: int = 500 * 1024 * 1024  # uncompressed, per ZIP (zip-bomb guard)
    zip_max_ratio: float = 200.0  # compression ratio above which a member is refused
    zip_max_members: int = 200

    # HMAC key for the suppression list (hashes of erased/opted-out addresses). Changing it
    # makes every existing entry unmatchable, so set it once per installation and keep it.
    suppression_key: SecretStr = SecretStr("dev-only-suppression-key")

    # deadlines, retention and notices (issue 5: bot.deadlines, bot.retention, bot.notices,
    # bot.scheduler)
    reminder_days: list[int] = [10, 5, 2]  # staff reminders at these days left
    max_extension_days: int = 60  # GDPR art. 12(3): at most two further months in total
    requester_reminder_days: int = 3  # remind a requester we wait on, once, after this
    requester_window_days: int = 14  # then close the case with a notice
    scheduler_enabled: bool = True  # run one scheduler per database
    deadline_check_minute: int = 5  # the deadline check runs hourly at this minute (UTC)
    digest_hour_utc: int = 7  # daily staff digest
    retention_hour_utc: int = 2  # daily retention sweep
    retention_batch_size: int = 5000  # rows per transaction in the sweep
    notice_rate_per_minute: int = 60  # policy-change notices released per minute

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
        if self.environment == "production" and (problems := production_problems(self)):
            raise ValueError(problems[0])
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


def production_problems(settings: Settings) -> list[str]:
    """What production refuses to start with, whatever `environment` says (config check)."""
    problems = []
    default = Settings.model_fields["suppression_key"].default.get_secret_value()
    key = settings.suppression_key.get_secret_value()
    if key == default or key.lower() in PLACEHOLDER_SECRETS:
        problems.append("production needs suppression_key set to a real secret")
    for name in ("imap_password", "relay_password", "telegram_token"):
        value = getattr(settings, name)
        if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            problems.append(f"{name} is a placeholder; set a real secret in production")
    if settings.relay_host is None:
        problems.append("production needs relay_host: replies would only reach the outbox dir")
    if settings.staff_senders and not (settings.trusted_authserv_ids or settings.own_dkim_check):
        problems.append("production has staff_senders but no way to authenticate them: set "
                        "trusted_authserv_ids (our MX) or own_dkim_check=true")
    return problems
