"""Inbound message -> parse -> robot filter -> thread or understand -> case -> replies.

Each stored message is handled in one transaction: the status change, the case, the audit
entries and the queued replies commit together or not at all. A handler that fails shunts the
message to quarantine for staff; it never stops the mailbox.

The daemon handles what is waiting in batches (`process_batch`): one transaction claims up to
a batch of "new" rows (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers
and machines share one database without handling a message twice) and handles each inside a
savepoint of its own; one commit makes the whole batch durable, or a crash loses the whole
batch's work and the rows are still "new" for the next claim (never a reply without its
status change, never a status change without its reply).

Within a batch the lookups every message makes (its sender's client and open cases, whether
it was handled before, the reply-rate count) come from one BatchCache (bot.batchcache),
prefetched for the whole batch and kept current as its messages write; a message's
Message-ID links and communications go in as one executemany (storage.db.add_row).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select, update

from bot import authn, clarify, duplicates, privacy, robots, spam
from bot.batchcache import CACHE_KEY, BatchCache, add_link, batch_cache
from bot.cases import client_for_address, open_case, set_status
from bot.context import App
from bot.conversation import find_case
from bot.identity import channel_of
from bot.incoming import Incoming, reply_to
from bot.logsafe import log_failure
from bot.mime import MessageParseError, ParsedMessage, parse_message
from bot.mime_stream import parse_spooled
from bot.projects import workflow as projects
from bot.staff import escalate, notify_quarantine
from bot.staff_commands import handle_staff_mail, is_staff
from bot.understand import PRIVACY_INTENTS, Understanding, understand
from storage import models
from storage.db import AUDIT_BUFFER, add_row, audit, collecting_rows, flush_audit, unit_of_work

log = logging.getLogger(__name__)
REQUESTER_LOCK_SPACE = 0x5354  # advisory locks (ns, hash of the requester's address)
HEAD_READ_BYTES = 1 << 20  # the header block of a spooled message is read from its first MB
privacy.register_fulfilment(projects.FULFIL)  # status and invoice copies use the same codes

# a repeat ask of one of these joins the open case: no second clock, no second code mail
MERGED_INTENTS = PRIVACY_INTENTS | {"project_status", "billing"}
# intents the bot never settles alone: a human reads them
STAFF_INTENTS = frozenset({"complaint", "other", "billing", "technical_question", "reminder",
                           "project_status", "new_project"})


def process_inbound(app: App, inbound_id: int) -> str:
    """Handle one stored message exactly once; returns its final status."""
    try:
        verdict, spamd = _checks_outside_lock(app, inbound_id)  # DNS, spamd: no writer waits
        with app.write_lock, unit_of_work(app.engine) as session:
            # FOR UPDATE: a worker that holds the row in its batch finishes it first
            row = session.get(models.InboundMessage, inbound_id, with_for_update=True)
            if row is None or row.status != "new":
                return row.status if row else "missing"
            _handle(session, app, row, verdict, spamd)
            status = row.status
    except Exception as exc:  # a bug must not block the mailbox: shunt for staff
        log_failure(log, "inbound %s failed; quarantined", exc, inbound_id)
        return _shunt(app, inbound_id, f"internal error: {type(exc).__name__}")
    log.info("inbound %s -> %s", inbound_id, status)
    return status


def process_pending(app: App) -> int:
    """Handle every stored message not yet handled (start-up after a crash), in batches."""
    total = 0
    while handled := process_batch(app):
        total += handled
    return total


def process_batch(app: App, limit: int = 50) -> int:
    """Claim up to `limit` waiting messages (oldest first) and handle them in one
    transaction; returns how many were claimed (0: nothing is waiting that another worker
    does not hold). A message whose handler fails is quarantined inside the batch; if the
    batch itself cannot commit, its messages are handled one by one instead."""
    if app.engine.dialect.name == "postgresql":
        # row locks do the work of the writer lock; DNS and spamd run inside the claim
        rows: list[models.InboundMessage] = []
        try:
            with unit_of_work(app.engine) as session:
                rows = _claim(session, limit)
                checks = [_checks(app, row) for row in rows]
                statuses = _handle_rows(session, app, rows, checks)
        except Exception as exc:
            return _one_by_one(app, rows, exc)
    else:  # SQLite: one writer; the sender checks (DNS, spamd) before it is taken
        with unit_of_work(app.engine) as session:
            rows = _claim(session, limit)
            checks = [_checks(app, row) for row in rows]
        if not rows:
            return 0
        try:
            with app.write_lock, unit_of_work(app.engine) as session:
                fresh = {r.id: r for r in _claim(session, limit, [r.id for r in rows])}
                pairs = [(fresh[r.id], c) for r, c in zip(rows, checks, strict=True)
                         if r.id in fresh]
                statuses = _handle_rows(session, app, [r for r, _ in pairs],
                                        [c for _, c in pairs])
        except Exception as exc:
            return _one_by_one(app, rows, exc)
    for inbound_id, status in statuses:
        log.info("inbound %s -> %s", inbound_id, status)
    return len(rows)


def _claim(session: Session, limit: int,
           ids: Sequence[int | None] | None = None) -> list[models.InboundMessage]:
    """Waiting rows, oldest first, locked for this transaction; rows another transaction
    holds are skipped (PostgreSQL; SQLite has one writer and ignores the lock clause)."""
    inbound = models.InboundMessage
    query = select(inbound).where(inbound.status == "new")
    if ids is not None:
        query = query.where(col(inbound.id).in_(ids))
    query = query.order_by(col(inbound.id)).limit(limit).with_for_update(skip_locked=True)
    return list(session.exec(query))


def _checks(app: App, row: models.InboundMessage) -> tuple[authn.Verdict, str | None]:
    spamd = spam.filter_verdict(app, row) if app.settings.spamd_host else None
    return compute_verdict(app, row), spamd


def _handle_rows(session: Session, app: App, rows: list[models.InboundMessage],
                 checks: list[tuple[authn.Verdict, str | None]]) -> list[tuple[int, str]]:
    """Each message in a savepoint: a failing one is rolled back alone and quarantined."""
    statuses = []
    if rows and session.get_bind().dialect.name == "sqlite":
        # pysqlite begins a transaction only before a write, and a SAVEPOINT outside one is
        # a transaction of its own that RELEASE commits: without a write first, each message
        # committed alone and the batch's audit INSERT came after them
        inbound = models.InboundMessage
        session.execute(update(inbound).where(col(inbound.id) == rows[0].id)
                        .values(status=inbound.status)
                        .execution_options(synchronize_session=False))
    session.info["batch"] = True
    entries: list[dict[str, object]] = []
    session.info[AUDIT_BUFFER] = entries  # one multi-row audit INSERT for the batch
    cache = _open_cache(session, app, rows, checks)
    try:
        for row, (verdict, spamd) in zip(rows, checks, strict=True):
            if (status := _handle_one(session, app, row, verdict, spamd, entries)) is not None:
                statuses.append(status)
    finally:
        cache.close()
    flush_audit(session)
    del session.info[AUDIT_BUFFER]
    return statuses


def _open_cache(session: Session, app: App, rows: list[models.InboundMessage],
                checks: list[tuple[authn.Verdict, str | None]]) -> BatchCache:
    """The batch's lookups in a few queries (bot.batchcache), for the handlers to find.

    On PostgreSQL the requesters are held first (see _hold_requester): what is read for a
    requester then stays true until this batch commits, as no other worker may write for it.
    A requester another worker holds is not prefetched; its message waits its turn."""
    window = timedelta(minutes=app.settings.reply_rate_window_minutes)
    cache = BatchCache(session, window_start=app.clock.now() - window)
    senders = {verdict.address or row.sender or "" for row, (verdict, _) in
               zip(rows, checks, strict=True)}
    cache.prefetch(rows, [s for s in sorted(senders) if _try_hold(session, s)])
    session.info[CACHE_KEY] = cache
    return cache


def _handle_one(session: Session, app: App, row: models.InboundMessage,
                verdict: authn.Verdict, spamd: str | None,
                entries: list[dict[str, object]]) -> tuple[int, str] | None:
    """One message of a batch in its savepoint; None: left "new" (its requester is busy)."""
    inbound_id = row.id
    assert inbound_id is not None
    mark = len(entries)
    cache = batch_cache(session)
    try:
        with session.begin_nested():
            with collecting_rows(session):
                _handle(session, app, row, verdict, spamd)
            session.flush()
    except _Busy:  # rolled back; still "new", claimed again once the other commits
        del entries[mark:]
        if cache:
            cache.forget()
        return None
    except Exception as exc:  # a bug must not block the mailbox: shunt for staff
        del entries[mark:]
        if cache:
            cache.forget()  # it may know rows the savepoint's rollback took back
        log_failure(log, "inbound %s failed; quarantined", exc, inbound_id)
        with session.begin_nested():
            again = session.get(models.InboundMessage, inbound_id)
            assert again is not None
            _quarantine(session, app, again, f"internal error: {type(exc).__name__}")
            session.flush()
        return inbound_id, "quarantined"
    return inbound_id, row.status


def _one_by_one(app: App, rows: list[models.InboundMessage], exc: Exception) -> int:
    log_failure(log, "a batch of %d could not be committed; handling one by one", exc,
                len(rows))
    for row in rows:
        assert row.id is not None
        process_inbound(app, row.id)
    return len(rows)


def _shunt(app: App, inbound_id: int, reason: str) -> str:
    with app.write_lock, unit_of_work(app.engine) as session:
        row = session.get(models.InboundMessage, inbound_id)
        if row is None:
            return "missing"
        _quarantine(session, app, row, reason)
    return "quarantined"


def _finish(session: Session, app: App, row: models.InboundMessage, status: str,
            reason: str | None = None, **details: object) -> None:
    row.status = status
    row.reason = reason
    row.processed_at = app.clock.now()
    session.add(row)
    audit(session, f"inbound.{status}", at=row.processed_at, inbound_id=row.id,
          case_id=row.case_id, reason=reason, **details)


def _quarantine(session: Session, app: App, row: models.InboundMessage, reason: str) -> None:
    _finish(session, app, row, "quarantined", reason)
    notify_quarantine(session, app, row)


def _checks_outside_lock(app: App, inbound_id: int) -> tuple[authn.Verdict | None, str | None]:
    """The sender verdict (may look up DKIM keys) and spamd's (a network call, if configured),
    before the write lock is taken."""
    with unit_of_work(app.engine) as session:
        row = session.get(models.InboundMessage, inbound_id)
        if row is None or row.status != "new":
            return None, None
        spamd = spam.filter_verdict(app, row) if app.settings.spamd_host else None
        return compute_verdict(app, row), spamd


def _handle(session: Session, app: App, row: models.InboundMessage,
            verdict: authn.Verdict | None = None, spamd: str | None = None) -> None:
    try:
        parsed = _parse(app, row)
    except MessageParseError as exc:
        _quarantine(session, app, row, f"unparseable: {exc.reason}")
        return
    row.message_id = parsed.message_id or row.message_id
    verdict = authenticate(session, app, row, verdict)
    parsed.from_addr = verdict.address or parsed.from_addr  # one identity: the strict one
    row.sender = parsed.from_addr or row.sender
    _hold_requester(session, row.sender or "")
    if _filtered(session, app, row, parsed, spamd):
        return
    if verdict.result == authn.REFUSED:  # nobody can say who wrote it: a person looks
        _quarantine(session, app, row, f"From refused: {verdict.reason}")
        return
    incoming = Incoming(row=row, parsed=parsed)
    if is_staff(app, parsed.from_addr):
        handle_staff_mail(session, app, incoming)
        _finish(session, app, row, "processed")
        return
    case = find_case(session, parsed, app.settings.case_prefix)
    if case is not None and case.status != "closed":
        _follow_up(session, app, incoming, case)
    elif case is not None and privacy.on_closed_reply(session, app, incoming, case):
        _finish(session, app, row, "processed")
    else:
        _new_request(session, app, incoming)


class _Busy(Exception):
    """Another worker is handling mail from the same requester: this one waits its turn."""


def _hold_requester(session: Session, requester: str) -> None:
    """PostgreSQL: one transaction at a time handles a requester's mail (until it commits),
    so a repeat, a duplicate or a follow-up handled by another worker at the same moment
    still sees the first one's case. In a batch the lock is only tried (a message whose
    requester is busy stays "new" for a later claim); alone, it is waited for."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: one writer
    if session.info.get("batch"):
        if not _try_hold(session, requester):
            raise _Busy
    else:
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"),
                        {"ns": REQUESTER_LOCK_SPACE, "k": _lock_key(requester)})


def _try_hold(session: Session, requester: str) -> bool:
    """Take the requester's lock unless another transaction holds it (SQLite: always)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    held: set[str] = session.info.setdefault("held_requesters", set())
    if requester.lower() in held:
        return True
    got = bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:ns, :k)"),
                               {"ns": REQUESTER_LOCK_SPACE, "k": _lock_key(requester)}).scalar())
    if got and not session.in_nested_transaction():
        held.add(requester.lower())  # a lock taken in a savepoint goes with its rollback
    return got


def _lock_key(requester: str) -> int:
    digest = hashlib.blake2b(requester.lower().encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def compute_verdict(app: App, row: models.InboundMessage) -> authn.Verdict:
    """The sender verdict of a stored message (see bot.authn); may look up DKIM keys."""
    raw = None if row.raw_key else row.raw
    head = authn.header_block(raw) if raw is not None else _spooled_head(app, row)
    if row.channel == "telegram":  # the Bot API vouches for the chat user
        return authn.chat_verdict(head)
    own_check = app.settings.own_dkim_check
    return authn.verdict(head, raw if own_check else None,
                         trusted=app.settings.trusted_authserv_ids, dns_txt=app.dns_txt)


def authenticate(session: Session, app: App, row: models.InboundMessage,
                 verdict: authn.Verdict | None = None) -> authn.Verdict:
    """Store the verdict on the row, once, and audit it (no addresses in the entry)."""
    verdict = verdict or compute_verdict(app, row)
    row.auth_result, row.auth_via = verdict.result, verdict.via or None
    row.auth_reason = verdict.reason
    audit(session, "inbound.authenticated", at=app.clock.now(), inbound_id=row.id,
          result=verdict.result, via=verdict.via, reason=verdict.reason)
    return verdict


def _spooled_head(app: App, row: models.InboundMessage) -> bytes:
    assert row.raw_key is not None
    with app.files.path(row.raw_key).open("rb") as handle:
        return authn.header_block(handle.read(HEAD_READ_BYTES))


def _parse(app: App, row: models.InboundMessage) -> ParsedMessage:
    limit = app.settings.max_attachment_bytes
    if row.raw_key:  # large mail: attachments stream into the file store
        return parse_spooled(app.files.path(row.raw_key), app.files, max_attachment_bytes=limit)
    return parse_message(row.raw, max_attachment_bytes=limit)


def _filtered(session: Session, app: App, row: models.InboundMessage,
              parsed: ParsedMessage, spamd: str | None = None) -> bool:
    """Robots, spam, duplicates, loops and sender-less mail stop here, with no reply."""
    if _is_duplicate(session, row):
        _finish(session, app, row, "duplicate", "Message-ID already handled")
        return True
    copy = duplicates.duplicate_reason(session, app, row, parsed)
    if copy:
        _finish(session, app, row, "duplicate", copy)
        return True
    verdict = spamd or spam.mx_verdict(parsed, app.settings.trusted_authserv_ids)
    if verdict and row.reason != spam.RELEASED:
        _finish(session, app, row, "spam", verdict)
        spam.tell_staff_if_privacy(session, app, row, parsed)
        return True
    released = row.reason == spam.RELEASED  # staff said a person wrote it; loops still stop
    rules = [] if released else robots.robot_verdict(parsed, app.settings.company_name)
    fired = rules + _loop_rules(app, parsed)
    if fired:
        _finish(session, app, row, "robot", "automated message", rules=fired)
        if set(fired) <= robots.SOFT_RULES:  # looks like bulk mail, carries no machine marker
            spam.tell_staff_if_privacy(session, app, row, parsed)
        return True
    if not parsed.from_addr:
        _quarantine(session, app, row, "no usable From address")
        return True
    return False


def _is_duplicate(session: Session, row: models.InboundMessage) -> bool:
    if not row.message_id:
        return False
    cache = batch_cache(session)
    known = cache.handled_message_id(row) if cache else None
    if known is not None:
        return known
    query = select(models.InboundMessage.id).where(
        models.InboundMessage.message_id == row.message_id,
        models.InboundMessage.id != row.id,
        models.InboundMessage.status.in_(duplicates.HANDLED),  # type: ignore[attr-defined]
    )
    return session.exec(query).first() is not None


def _loop_rules(app: App, parsed: ParsedMessage) -> list[str]:
    """Our own mail coming back is a loop, whatever its headers claim."""
    fired = []
    loops = " ".join(parsed.headers.get("x-loop", [])).lower()
    if app.settings.bot_address in loops:
        fired.append("x_loop")
    if parsed.from_addr == app.settings.bot_address:
        fired.append("from_ourselves")
    return fired


def _new_request(session: Session, app: App, incoming: Incoming) -> None:
    parsed, row = incoming.parsed, incoming.row
    meaning = understand(incoming.text, parsed.subject, has_attachments=bool(parsed.attachments),
                         threshold=app.settings.understanding_threshold)
    client = client_for_address(session, parsed.from_addr)
    same = _open_case_of_same_kind(session, parsed.from_addr, meaning, client)
    if same is not None:  # no second clock, no second export
        _follow_up(session, app, incoming, same)
        return
    case = open_case(session, app, requester=parsed.from_addr, understanding=meaning,
                     received_at=row.received_at, subject=parsed.subject, client=client,
                     channel=channel_of(parsed.from_addr))
    _link_inbound(session, app, incoming, case, client)
    ask = clarify.reason_to_ask(meaning)
    if ask:  # nothing acts until the requester says which right they mean
        clarify.ask(session, app, incoming, case, ask)
        _finish(session, app, row, "processed")
        return
    _start(session, app, incoming, case, meaning, client)
    _finish(session, app, row, "processed")


def _start(session: Session, app: App, incoming: Incoming, case: models.Case,
           meaning: Understanding, client: models.Client | None) -> None:
    """Acknowledge what was understood and begin it (rights, project work, or staff)."""
    row = incoming.row
    names = [i.name for i in meaning.intents]
    if names != ["optout"]:  # an opt-out alone gets its confirmation only, not two mails
        reply_to(session, app, incoming, case, "ack", intents=names, steps=next_steps(names),
                 entities=meaning.entities)
    reason = _staff_reason(meaning)
    if not meaning.unsure and PRIVACY_INTENTS & set(names):
        reason = privacy.start(session, app, incoming, case, meaning, client) or reason
    elif not meaning.unsure and projects.handles(meaning):
        # projects escalates with its own summary; other staff intents come back in the reason
        reason = projects.start(session, app, incoming, case, meaning, client)
    if reason:
        escalate(session, app, case, reason=reason, inbound=row,
                 hold=case.status not in (privacy.WAITING, "closed"))


def next_steps(names: list[str]) -> list[str]:
    """One 'what happens next' per distinct step: the verified rights share one."""
    steps: list[str] = []
    for name in names:
        key = "access" if name in privacy.VERIFIED_RIGHTS else name
        if key not in steps:
            steps.append(key)
    return steps


def _open_case_of_same_kind(session: Session, requester: str, meaning: Understanding,
                            client: models.Client | None) -> models.Case | None:
    """An open case of the same right, or (for a technical question or change request) about
    the same project, from the same requester and the same client (a chat that was linked
    since its first ask starts afresh rather than joining the stale case)."""
    names = {i.name for i in meaning.intents}
    rights = MERGED_INTENTS & names
    refs = set(meaning.entities.project_refs) if "technical_question" in names else set()
    if not rights and not refs:
        return None
    client_id = client.id if client else None
    for case in _open_cases(session, requester):
        if case.client_id != client_id:
            continue
        if rights & set(case.intents.split(",")) or refs & _project_refs(case):
            return case
    return None


def _open_cases(session: Session, requester: str) -> list[models.Case]:
    """The requester's cases that are not closed, oldest first (from the batch's cache)."""
    cache = batch_cache(session)
    cases = cache.open_cases(requester) if cache else None
    if cases is not None:
        return cases
    query = select(models.Case).where(models.Case.requester == requester,
                                      models.Case.status != "closed").order_by(col(models.Case.id))
    cases = list(session.exec(query))
    if cache:
        cache.remember_cases(requester, cases)
    return cases


def _project_refs(case: models.Case) -> set[str]:
    entities = json.loads(case.evidence or "{}").get("entities", {})
    return set(entities.get("project_refs", []))


def _staff_reason(meaning: Understanding) -> str | None:
    if meaning.unsure:
        return "unsure what is asked: " + "; ".join(meaning.reasons or ("low confidence",))
    staff = sorted({i.name for i in meaning.intents} & STAFF_INTENTS)
    return f"needs a person: {', '.join(staff)}" if staff else None


def _follow_up(session: Session, app: App, incoming: Incoming, case: models.Case) -> None:
    """A reply on an open case joins it: a code, a cancellation, or news for staff."""
    client = session.get(models.Client, case.client_id) if case.client_id else None
    _link_inbound(session, app, incoming, case, client)
    audit(session, "case.follow_up", at=app.clock.now(), case_id=case.id,
          inbound_id=incoming.row.id)
    if case.status == clarify.ASKING:
        _on_choice(session, app, incoming, case, client)
    elif not privacy.on_reply(session, app, incoming, case):
        reply_to(session, app, incoming, case, "follow_up_ack")
        if case.escalated:
            escalate(session, app, case, reason="the requester wrote again",
                     inbound=incoming.row)
    _finish(session, app, incoming.row, "processed")


def _on_choice(session: Session, app: App, incoming: Incoming, case: models.Case,
               client: models.Client | None) -> None:
    """The answer to the list of rights: numbers, or words that are now clear."""
    picks = clarify.choices_in(incoming.text)
    if not picks:
        meaning = understand(incoming.text, threshold=app.settings.understanding_threshold)
        if not meaning.unsure and not clarify.reason_to_ask(meaning):
            picks = tuple(n for n in meaning.names if n in PRIVACY_INTENTS)
    if not picks:
        reply_to(session, app, incoming, case, "follow_up_ack")
        escalate(session, app, case, inbound=incoming.row,
                 reason="asked which right was meant; the answer picked none")
        return
    case.kind = picks[0]
    meaning = clarify.chosen(session, app, case, picks, incoming.row.id)
    set_status(session, app, case, "open", reason="requester chose: " + ", ".join(picks))
    _start(session, app, incoming, case, meaning, client)


def _link_inbound(session: Session, app: App, incoming: Incoming, case: models.Case,
                  client: models.Client | None) -> None:
    row, parsed = incoming.row, incoming.parsed
    row.case_id = case.id
    if parsed.message_id and not _on_case(session, case, parsed.message_id):
        add_link(session, case.id, parsed.message_id, "in")
    if client is not None:
        client.last_active_at = app.clock.now()
        session.add(client)
        add_row(session, models.Communication,
                client_id=client.id, case_id=case.id, channel=channel_of(parsed.from_addr),
                direction="in",
                address=parsed.from_addr, subject=parsed.subject[:500],
                message_id=parsed.message_id, inbound_id=row.id, occurred_at=row.received_at)




def _on_case(session: Session, case: models.Case, message_id: str) -> bool:
    cache = batch_cache(session)
    known = cache.on_case(case.id, message_id) if cache else None
    if known is not None:
        return known
    return session.exec(select(models.CaseMessageId.id).where(
        models.CaseMessageId.case_id == case.id,
        models.CaseMessageId.message_id == message_id)).first() is not None
