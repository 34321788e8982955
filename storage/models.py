"""SQLModel tables: the company's records (as the privacy policy lists them) and the bot's own.

All timestamps are aware UTC datetimes (SQLModel's UTCDateTime stores them as UTC on every
backend); `bot.clock` makes them and templates format them for the reader.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# --------------------------------------------------------------------------- company records


class Client(SQLModel, table=True):
    """A client of the company (contact information category)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    phone: str | None = None
    business_address: str | None = None
    company: str | None = None
    created_at: datetime
    last_active_at: datetime
    restricted: bool = False  # right to restriction: non-essential processing skips them
    marketing_opt_out: bool = False  # opt-out of non-essential communications
    language: str | None = None
    anonymised_at: datetime | None = None


class ClientEmail(SQLModel, table=True):
    """An email address on file for a client; the only addresses codes and data go to."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    address: str = Field(index=True, unique=True)  # lower-cased addr-spec
    is_primary: bool = False
    added_at: datetime | None = None  # set when an email change put it on file (cool-off)


class Project(SQLModel, table=True):
    """A 3D-model preparation job."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(index=True, unique=True)  # e.g. SP-2025-0042
    client_id: int = Field(foreign_key="client.id", index=True)
    title: str
    specs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    printer: str | None = None
    material: str | None = None
    status: str = "draft"  # draft, quoted, in_progress, delivered, completed, cancelled
    created_at: datetime
    updated_at: datetime
    promised_delivery: datetime | None = None
    completed_at: datetime | None = None


class ModelFile(SQLModel, table=True):
    """A client's 3D model file; the bytes live in the content-addressed file store."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    filename: str
    size: int
    sha256: str = Field(index=True)
    storage_key: str  # path relative to the file store root
    uploaded_at: datetime
    deleted_at: datetime | None = None


class Invoice(SQLModel, table=True):
    """A financial record: kept 7 years from its date whatever else is deleted."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(index=True, unique=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id")
    amount_cents: int
    currency: str = "USD"
    issued_at: datetime
    status: str = "open"  # open, paid, void, disputed


class Payment(SQLModel, table=True):
    """A payment against an invoice (financial record)."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount_cents: int
    paid_at: datetime
    method: str = "card"
    processor: str | None = None


class Communication(SQLModel, table=True):
    """Every message exchanged with a client, per channel (the communications category)."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id")
    channel: str  # email, telegram
    direction: str  # in, out
    address: str  # the counterpart: email address or chat id
    subject: str = ""
    message_id: str | None = Field(default=None, index=True)
    inbound_id: int | None = Field(default=None, foreign_key="inboundmessage.id")
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    occurred_at: datetime = Field(index=True)


class WebsiteUsage(SQLModel, table=True):
    """Website usage (technical data); deleted after 24 months unless anonymised."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    occurred_at: datetime = Field(index=True)
    path: str
    user_agent: str | None = None
    anonymised: bool = False


class Disclosure(SQLModel, table=True):
    """A disclosure of client data to a processor: who got what, when and why."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    recipient: str  # e.g. "Stripe (payment processor)"
    categories: str  # comma-separated data categories
    purpose: str
    disclosed_at: datetime


# --------------------------------------------------------------------------- the bot's own


class InboundMessage(SQLModel, table=True):
    """A raw inbound message, stored before it is acknowledged (never lost)."""

    id: int | None = Field(default=None, primary_key=True)
    channel: str  # smtp, imap, inject, telegram
    source_key: str = Field(index=True, unique=True)  # idempotency: imap:box:validity:uid, ...
    message_id: str | None = Field(default=None, index=True)
    sha256: str = Field(index=True)  # the same bytes again within a window: a duplicate
    fingerprint: str | None = Field(default=None, index=True)  # sender+subject+text (re-delivery)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    raw_key: str | None = None  # large mail: the raw bytes are in the file store, raw is b""
    received_at: datetime
    # new -> processed | robot | spam | quarantined | duplicate | backlog | ignored
    status: str = Field(default="new", index=True)
    reason: str | None = None
    sender: str | None = None  # envelope/header sender, lower-cased
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    processed_at: datetime | None = None
    # the sender-authentication verdict (bot.authn), computed once when the message is handled
    auth_result: str | None = None  # pass | fail | none | refused
    auth_via: str | None = None  # mx-dmarc | mx-dkim | own-dkim | telegram
    auth_reason: str | None = None  # short, no personal data


class Case(SQLModel, table=True):
    """A request from someone, with its legal clock."""

    id: int | None = Field(default=None, primary_key=True)
    ref: str | None = Field(default=None, index=True, unique=True)  # SP-REQ-000123
    kind: str  # primary intent
    intents: str = ""  # comma-separated, all intents understood
    status: str = Field(default="open", index=True)  # open, awaiting_staff, closed
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    requester: str = Field(index=True)  # address (or chat id) it came from, lower-cased
    channel: str = "email"
    language: str = "en"
    subject: str = ""
    received_at: datetime
    due_at: datetime = Field(index=True)
    closed_at: datetime | None = None
    escalated: bool = False
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    waiting_since: datetime | None = None  # set when the case starts awaiting the requester
    act_at: datetime | None = None  # when a verified, announced action (deletion) takes effect
    pending_action: str | None = None  # verified action waiting (e.g. "deletion" for approval)


class CaseMessageId(SQLModel, table=True):
    """Message-IDs of mail received and sent on a case, for threading replies."""

    __table_args__ = (UniqueConstraint("message_id", "case_id"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    message_id: str = Field(index=True)
    direction: str  # in, out


class Outbox(SQLModel, table=True):
    """A rendered outbound message; sent (or written to the outbox folder) exactly once."""

    # the per-sender reply rate limit counts recent rows to one address on every message
    __table_args__ = (Index("ix_outbox_to_addr_created_at", "to_addr", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(index=True, unique=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    purpose: str  # template name
    to_addr: str
    message_id: str
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    essential: bool = True  # service mail: not suppressed by an opt-out
    status: str = Field(default="pending", index=True)  # pending, sent, dead
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class AuditLog(SQLModel, table=True):
    """Append-only record of every state change (enforced in storage.db)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str  # bot, staff:<address>, cli, scheduler
    action: str = Field(index=True)
    case_id: int | None = Field(default=None, index=True)
    client_id: int | None = Field(default=None, index=True)
    inbound_id: int | None = Field(default=None, index=True)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class MailboxState(SQLModel, table=True):
    """Where the IMAP watcher is in a mailbox (UIDVALIDITY + highest UID handled)."""

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(unique=True)  # user@host/folder
    uidvalidity: int
    last_uid: int = 0
    initialised_at: datetime


class FirstStart(SQLModel, table=True):
    """When the daemon first started with a channel configured (e.g. one IMAP mailbox): mail
    that arrived before it is backlog, mail after it is answered. Wall-clock time."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # imap:user@host/folder
    started_at: datetime


class Suppression(SQLModel, table=True):
    """A keyed hash (HMAC-SHA256) of an address that must get no non-essential mail.

    Survives erasure: only the hash is kept, so an earlier opt-out is still honoured if the
    address reappears, without keeping the address itself.
    """

    id: int | None = Field(default=None, primary_key=True)
    address_hash: str = Field(index=True, unique=True)
    reason: str  # erasure, opt_out, ...
    created_at: datetime


# --------------------------------------------------------------------------- retention (issue 5)


class UsageAggregate(SQLModel, table=True):
    """Anonymous monthly website-usage counts kept after the raw rows are deleted."""

    __table_args__ = (UniqueConstraint("month", "path"),)
    id: int | None = Field(default=None, primary_key=True)
    month: str  # YYYY-MM (UTC)
    path: str
    hits: int = 0


class LegalHold(SQLModel, table=True):
    """While active (released_at is None) retention touches nothing of this client."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    reason: str
    created_at: datetime
    released_at: datetime | None = None


# --------------------------------------------------------------------------- verification


class VerificationCode(SQLModel, table=True):
    """A one-time code bound to one case and one action; only its salted hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    action: str  # what the code authorises, e.g. "access,deletion" or "verify_email"
    channel: str = "email"  # email, telegram
    sent_to: str  # the address on file (or chat id) it went to
    salt: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0  # wrong tries in replies to the code mail (or authenticated): they lock
    stray_attempts: int | None = None  # wrong tries that cited no mail of ours: never lock
    status: str = Field(default="active", index=True)  # active, used, expired, voided, locked
    used_at: datetime | None = None


class DownloadToken(SQLModel, table=True):
    """An expiring link to one client's export; only the token's SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="client.id")
    path: str  # export file, relative to data_dir
    created_at: datetime
    expires_at: datetime = Field(index=True)
    downloads: int = 0
    max_downloads: int = 3
    purged_at: datetime | None = None  # the file was deleted



# --------------------------------------------------------------------------- staff dashboard


class StaffAccount(SQLModel, table=True):
    """A staff member who may log in to the dashboard; only a scrypt hash of the password."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    display_name: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None


class StaffSession(SQLModel, table=True):
    """A dashboard login; the cookie holds the token, the table only its SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    staff_id: int = Field(foreign_key="staffaccount.id", index=True)
    csrf_token: str
    created_at: datetime
    expires_at: datetime = Field(index=True)
    ended_at: datetime | None = None
