"""Issue 12 behind a trusted MX, the mail as it arrives in the watched mailbox (Dovecot):
forged Authentication-Results and forged From headers change nothing; the MX's own pass does."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from bot.context import App
from storage import models
from storage.db import unit_of_work
from tests.e2e.test_imap_spine import _imap_app, _state_exists
from tests.helpers import make_mail, outbox_messages, wait_until
from tests.servers.dovecot import DovecotServer

MX = "mx.stelloloxonpro.com"
BOSS = "boss@stelloloxonpro.com"
STAFF = "staff@stelloloxonpro.com"


def _due_days(app: App) -> list[int]:
    with unit_of_work(app.engine) as session:
        return [(c.due_at - c.received_at).days for c in session.exec(select(models.Case))]


def _handled(app: App, count: int) -> bool:
    with unit_of_work(app.engine) as session:
        rows = session.exec(select(models.InboundMessage)).all()
    return len(rows) == count and all(r.status != "new" for r in rows)


def test_forged_results_in_the_mailbox_change_nothing(
    make_app: Callable[..., App], run_daemon: Callable, dovecot: DovecotServer, imap_user: str
) -> None:
    app = _imap_app(make_app, dovecot, imap_user, trusted_authserv_ids=[MX])
    subject = "Re: [SP-REQ-000001] Needs staff"
    ours_fail = f"Authentication-Results: {MX}; dmarc=fail header.from=stelloloxonpro.com"
    ours_pass = f"Authentication-Results: {MX}; dmarc=pass header.from=stelloloxonpro.com"
    forged = [
        make_mail("EXTEND 20 accounting", sender=BOSS, subject=subject, trace=(
            ours_fail, "Received: from evil.net by mx.evil.net", ours_pass)),
        make_mail("EXTEND 20 accounting", sender=BOSS, subject=subject, trace=(
            f"Authentication-Results: {MX}; spf=pass smtp.mailfrom=\"dmarc=pass\"",)),
        make_mail("EXTEND 20 accounting", sender=f"{BOSS} <evil@evil.net>", subject=subject,
                  trace=(f"Authentication-Results: {MX}; dmarc=pass header.from=evil.net",)),
    ]
    with run_daemon(app):
        wait_until(lambda: _state_exists(app))
        dovecot.deliver(imap_user, make_mail("I want to complain about your service.",
                                             subject="Complaint"))
        wait_until(lambda: _handled(app, 1) and len(outbox_messages(app)) == 2)
        for n, raw in enumerate(forged, start=2):
            dovecot.deliver(imap_user, raw)
            wait_until(lambda n=n: _handled(app, n))
            assert _due_days(app) == [30]
        wait_until(lambda: len(outbox_messages(app)) == 2 + len(forged))
        dovecot.deliver(imap_user, make_mail("EXTEND 20 accounting", sender=BOSS,
                                             subject=subject, trace=(ours_pass,)))
        wait_until(lambda: _due_days(app) == [50])
        wait_until(lambda: any(m["To"] == BOSS for m in outbox_messages(app)))
    sent = outbox_messages(app)
    to_staff = [m["Subject"] for m in sent[2:2 + len(forged)]]
    assert all(m["To"] == STAFF for m in sent[2:2 + len(forged)]), to_staff
    assert not [m for m in sent if m["To"] == "evil@evil.net"]
    with unit_of_work(app.engine) as session:
        verdicts = [(r.auth_result, r.auth_via) for r in
                    session.exec(select(models.InboundMessage).order_by(models.InboundMessage.id))]
    assert verdicts[1:] == [("fail", None), ("fail", None), ("refused", None),
                            ("pass", "mx-dmarc")]
