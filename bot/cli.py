"""Command line: `stelloloxon-bot run | requests | show | inject | inbound | process | ...`."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from functools import wraps
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.core import TyperGroup

from bot import spam
from bot.cases import OPEN_STATUSES, case_by_ref, days_left
from bot.channels.imap import ImapConfigError, check_imap, record_first_start
from bot.channels.outbound import deliver_due, make_transport
from bot.config import Settings
from bot.context import App, bootstrap
from bot.daemon import Daemon
from bot.demo import DEMO_CLIENTS, seed_demo
from bot.intake import store_raw
from bot.pipeline import process_inbound
from storage import models
from storage.db import DatabaseConfigError, audit, check_connection, make_engine, unit_of_work
from storage.migrate import SchemaOutOfDate

F = TypeVar("F", bound=Callable[..., Any])


def _plain_flags(command: Any, ctx: typer.Context) -> None:
    """Help lists a flag as `--closed`, not `--closed <bool>` (typer labels every type)."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False):
            param.metavar = ""


class _Commands(TyperGroup):
    """The command group, with flags shown without a type label in every help page."""

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command, ctx)
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _plain_flags(self, ctx)
        super().format_help(ctx, formatter)


cli = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True,
                  help="Stelloloxon Pro support bot: email and Telegram, privacy requests first.")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"stelloloxon-bot {package_version('stelloloxon-bot')}")
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Stelloloxon Pro support bot: email and Telegram, privacy requests first."""


def _console() -> Console:
    """Rich output; wide when piped so case refs and addresses are never cut."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _progress(console: Console) -> Progress:
    """A progress bar shown from the first row on a terminal; nothing when output is piped."""
    return Progress(console=console, transient=True, disable=not console.is_terminal)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def one_line_errors(func: F) -> F:
    """Configuration problems end the command with one clear line, not a traceback."""
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            _fail(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}")
        except (DatabaseConfigError, ImapConfigError, SchemaOutOfDate, OSError) as exc:
            _fail(str(exc))
    return wrapper  # type: ignore[return-value]


def _app() -> App:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "mail.log", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return bootstrap(settings)


@cli.command()
@one_line_errors
def run(
    workers: Annotated[int, typer.Option(
        "--workers", min=1,
        help="Handling processes on this machine (PostgreSQL; SQLite has one).")] = 1,
) -> None:
    """Run the daemon: SMTP listener, IMAP watcher (if configured), outbox delivery.

    Several daemons (on one machine or many) may share one PostgreSQL database: all handle
    mail; one at a time runs the IMAP watcher, Telegram, the outbox and the scheduler."""
    app = _app()
    if workers > 1 and app.engine.dialect.name != "postgresql":
        _fail("--workers above 1 needs PostgreSQL (SQLite has one writer)")
    if app.settings.demo_data:
        seed_demo(app)
    if app.settings.imap_host:
        record_first_start(app)  # mail arriving from now on is new mail, not backlog
        check_imap(app)
    daemon = Daemon(app, workers=workers)

    async def main() -> None:
        task = asyncio.create_task(daemon.serve())
        ready = asyncio.create_task(daemon.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():  # start-up failed: serve() raises its one-line reason here
            ready.cancel()
            await task
            return
        _banner(app, daemon)
        await task

    asyncio.run(main())


def _deliver(app: App) -> int:
    """Deliver what is due once, then close the relay session."""
    transport = make_transport(app)
    try:
        return deliver_due(app, transport)
    finally:
        transport.close()


def _banner(app: App, daemon: Daemon) -> None:
    s = app.settings
    where = (f"relay {s.relay_host}:{s.relay_port}" if s.relay_host
             else f"{s.outbox_path.resolve()}/*.eml (no relay configured)")
    lines = [
        "stelloloxon-bot is running. Ctrl-C stops it.",
        f"  Mail the bot:  SMTP {s.smtp_host}:{daemon.smtp_port} to {s.bot_address}"
        if s.smtp_enabled else "  SMTP listener: off",
        f"  IMAP:          {s.imap_mailbox} on {s.imap_host}" if s.imap_host else
        "  IMAP:          off (set STELLOLOXON_IMAP_HOST to watch a mailbox)",
        f"  Replies land:  {where}",
        f"  Staff inbox:   {s.staff_address}",
        f"  Dashboard:     http://{s.dashboard_host}:{daemon.dashboard.port}/ "
        "(logins: stelloloxon-bot staff add NAME)"
        if daemon.dashboard else "  Dashboard:     off",
        "  Telegram:      "
        + ("on" if s.telegram_token else "off (set STELLOLOXON_TELEGRAM_TOKEN)"),
        f"  Database:      {app.engine.url.render_as_string(hide_password=True)}",
    ]
    if s.demo_data:
        demo = ", ".join(email for _, email, _, _ in DEMO_CLIENTS)
        lines += [
            f"  Demo clients:  {demo} (projects SP-2025-0041..0043)",
            "  Try it (second terminal):",
            "    .venv/bin/stelloloxon-bot send --from jane@example.com "
            "'Please send me a copy of all my data'",
            "    .venv/bin/stelloloxon-bot requests",
        ]
    print("\n".join(lines), flush=True)


@cli.command()
@one_line_errors
def requests(
    overdue: Annotated[bool, typer.Option("--overdue",
                                          help="Only cases past their due date.")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="Include closed cases.")] = False,
) -> None:
    """Open cases with days left, oldest due first."""
    app = _app()
    now = app.clock.now()
    with unit_of_work(app.engine) as session:
        query = select(models.Case).order_by(col(models.Case.due_at))
        if not closed:
            query = query.where(col(models.Case.status).in_(OPEN_STATUSES))
        cases = [c for c in session.exec(query)
                 if not overdue or (c.status in OPEN_STATUSES and days_left(c, now) < 0)]
    table = Table("case", "kind", "status", "requester", "received", "due", "days left")
    for case in cases:
        table.add_row(case.ref, case.intents or case.kind, case.status, case.requester,
                      f"{case.received_at:%Y-%m-%d}", f"{case.due_at:%Y-%m-%d}",
                      _time_left(case, now))
    _console().print(table if cases else ("no cases" if closed else "no open cases"))


def _time_left(case: models.Case, now: datetime) -> str:
    """Days left for an open case; a closed one has no clock left, only its closing date."""
    if case.status not in OPEN_STATUSES:
        return f"closed {case.closed_at:%Y-%m-%d}" if case.closed_at else "closed"
    left = days_left(case, now)
    return f"[red]{left}[/red]" if left < 0 else str(left)


@cli.command()
@one_line_errors
def show(
    case_ref: str,
    as_json: Annotated[bool, typer.Option("--json", help="The case file as JSON.")] = False,
) -> None:
    """One case as a readable case file: details, what was understood, mail, audit trail."""
    app = _app()
    with unit_of_work(app.engine) as session:
        case = case_by_ref(session, case_ref)
        if case is None:
            _fail(f"no case {case_ref}")
            return
        trail = session.exec(select(models.AuditLog).where(models.AuditLog.case_id == case.id)
                             .order_by(col(models.AuditLog.id))).all()
        outbox = session.exec(select(models.Outbox).where(models.Outbox.case_id == case.id)
                              .order_by(col(models.Outbox.id))).all()
        inbound = session.exec(select(models.InboundMessage).where(
            models.InboundMessage.case_id == case.id).order_by(col(models.InboundMessage.id))).all()
    record = _case_record(case, inbound, outbox, trail, app.clock.now())
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2, default=str))
        return
    _print_case(_console(), record)


def _case_record(case: models.Case, inbound: Sequence[models.InboundMessage],
                 outbox: Sequence[models.Outbox], trail: Sequence[models.AuditLog],
                 now: Any) -> dict[str, Any]:
    """Everything `show` prints, as plain data (no message bodies, no codes)."""
    evidence = json.loads(case.evidence or "{}")
    closed = case.status == "closed"
    return {
        "case": case.ref, "kind": case.kind, "rights": case.intents.split(","),
        "status": case.status, "requester": case.requester, "client_id": case.client_id,
        "channel": case.channel, "language": case.language,
        "received_at": case.received_at, "due_at": case.due_at,
        "closed_at": case.closed_at if closed else None,
        "days_left": None if closed else days_left(case, now),
        "understood": evidence.get("intents", []),
        "unsure_because": evidence.get("reasons", []),
        "entities": evidence.get("entities", {}),
        "inbound": [{"id": m.id, "from": m.sender, "status": m.status,
                     "received_at": m.received_at, "sender_verdict": _auth_text(m)}
                    for m in inbound],
        "outbound": [{"id": r.id, "purpose": r.purpose, "to": r.to_addr, "status": r.status,
                      "created_at": r.created_at} for r in outbox],
        "audit": [{"at": e.at, "actor": e.actor, "action": e.action, "details": e.details}
                  for e in trail],
    }


def _print_case(console: Console, record: dict[str, Any]) -> None:
    when = (f"closed {record['closed_at']:%Y-%m-%d}" if record["closed_at"]
            else f"{record['days_left']} days left")
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("Case", f"[bold]{record['case']}[/bold]  {record['status']}  ({when})"),
        ("Rights", ", ".join(record["rights"])),
        ("Requester", f"{record['requester']}  client #{record['client_id']}  "
                      f"{record['channel']}, language {record['language']}"),
        ("Received / due", f"{record['received_at']:%Y-%m-%d %H:%M} UTC / "
                           f"{record['due_at']:%Y-%m-%d}"),
    ):
        head.add_row(f"[dim]{label}[/dim]", escape(value) if label != "Case" else value)
    console.print(head)
    console.print(_table("What was understood", ("intent", "confidence", "rules that fired"),
                         [(i["name"], f"{i['confidence']:.2f}", ", ".join(i["evidence"]))
                          for i in record["understood"]]))
    for reason in record["unsure_because"]:
        console.print(escape(f"  unsure: {reason}"))
    console.print(_table("Mail in", ("#", "from", "status", "received", "sender"),
                         [(f"inbound #{m['id']}", m["from"] or "", m["status"],
                           f"{m['received_at']:%Y-%m-%d %H:%M}", m["sender_verdict"])
                          for m in record["inbound"]]))
    console.print(_table("Mail out", ("#", "purpose", "to", "status"),
                         [(f"outbox #{r['id']}", r["purpose"], r["to"], r["status"])
                          for r in record["outbound"]]))
    console.print(_table("Audit trail", ("at (UTC)", "actor", "action", "details"),
                         [(f"{e['at']:%Y-%m-%d %H:%M:%S}", e["actor"], e["action"],
                           e["details"] or "") for e in record["audit"]]))


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    return table


def _auth_text(row: models.InboundMessage) -> str:
    """The stored authentication verdict, e.g. `pass (mx-dmarc)` or `refused: why`."""
    if row.auth_result is None:
        return "not checked"
    via = f" ({row.auth_via})" if row.auth_via else ""
    why = f": {row.auth_reason}" if row.auth_reason and not row.auth_via else ""
    return f"{row.auth_result}{via}{why}"


@cli.command()
@one_line_errors
def inject(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Push .eml files through the pipeline (as if received) and deliver the replies."""
    app = _app()
    for path in files:
        inbound_id, _ = store_raw(app, "inject", path.read_bytes())
        status = process_inbound(app, inbound_id)
        typer.echo(f"{path}: inbound #{inbound_id} {status}")
    _deliver(app)


@cli.command()
@one_line_errors
def inbound(
    status: Annotated[str | None, typer.Option(help="new, processed, robot, spam, quarantined, "
                                                    "duplicate, backlog")] = None,
    limit: int = 50,
) -> None:
    """Stored inbound messages (robots, spam, quarantine and backlog are kept here for staff)."""
    app = _app()
    with unit_of_work(app.engine) as session:
        query = select(models.InboundMessage).order_by(col(models.InboundMessage.id).desc())
        if status:
            query = query.where(models.InboundMessage.status == status)
        rows = session.exec(query.limit(limit)).all()
    table = Table("id", "channel", "received", "status", "reason", "case", "sender auth")
    for row in rows:
        table.add_row(str(row.id), row.channel, f"{row.received_at:%Y-%m-%d %H:%M}", row.status,
                      row.reason or "", str(row.case_id or ""), _auth_text(row))
    _console().print(table)


@cli.command()
@one_line_errors
def process(
    inbound_id: int,
    not_spam: Annotated[bool, typer.Option("--not-spam",
                                           help="a person wrote it: ignore the spam verdict and "
                                                "the robot rules this time")] = False,
) -> None:
    """Run a filed (backlog, quarantined, spam, robot) message through the pipeline now."""
    app = _app()
    with app.write_lock, unit_of_work(app.engine) as session:
        row = session.get(models.InboundMessage, inbound_id)
        if row is None:
            _fail(f"no inbound message #{inbound_id}")
            return
        audit(session, "inbound.requeued", at=app.clock.now(), actor="cli",
              inbound_id=row.id, old=row.status)
        row.status = "new"
        row.reason = spam.RELEASED if not_spam else None
        session.add(row)
    typer.echo(f"inbound #{inbound_id} {process_inbound(app, inbound_id)}")
    _deliver(app)


@cli.command()
@one_line_errors
def deliver() -> None:
    """Deliver due outbox rows once (the daemon does this continuously)."""
    app = _app()
    typer.echo(f"{_deliver(app)} sent")


@cli.command()
@one_line_errors
def demo() -> None:
    """Seed demo clients and projects into an empty database."""
    app = _app()
    typer.echo("seeded" if seed_demo(app) else "database already has clients; left alone")


@cli.command()
def send(
    text: str,
    sender: Annotated[str, typer.Option("--from", help="Sender address.")] = "jane@example.com",
    subject: str = "Privacy request",
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Send a test mail to the running bot's SMTP listener."""
    settings = Settings()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, settings.bot_address, subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    msg.set_content(text)
    target = (host or settings.smtp_host, port or settings.smtp_port)
    try:
        with smtplib.SMTP(*target, timeout=10) as smtp:
            smtp.send_message(msg)
    except OSError as exc:
        _fail(f"cannot reach the bot at {target[0]}:{target[1]} ({exc}); is `run` going?")
    typer.echo(f"sent to {target[0]}:{target[1]}; the reply lands in {settings.outbox_path}/")


@cli.command("eval-understanding")
def eval_understanding(directory: Path) -> None:
    """Precision, recall, F1 and confusion over a labelled folder."""
    from bot.understand.evaluate import evaluate, format_report, load_labelled

    items = load_labelled(directory)
    if not items:
        _fail(f"no labelled items found in {directory}")
    console = _console()
    with _progress(console) as bar:
        task = bar.add_task("understanding", total=len(items))
        report = evaluate(bar.track(items, task_id=task))
    typer.echo(format_report(report))


@cli.command()
def train(
    output: Annotated[Path | None, typer.Option(help="Where to write the model "
                                                "(default: the one the package ships).")] = None,
) -> None:
    """Train the intent model again from tests/data/labelled and tests/data/train."""
    from bot.understand import INTENTS, classifier, training

    items = training.training_items()
    with _progress(_console()) as bar:
        task = bar.add_task("training", total=len(INTENTS))
        model = training.train(items, progress=lambda name: bar.update(
            task, advance=1, description=f"training {name}"))
    target = output or classifier.MODEL_PATH
    model.save(target)
    typer.echo(f"trained on {len(items)} messages; {len(model.columns)} weighted features; "
               f"wrote {target}")


# ------------------------------------------------------------ issue 5: retention, notices


@cli.command()
@one_line_errors
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go.")] = False,
) -> None:
    """Run the retention sweep now (the daemon runs it daily), or show what it would delete."""
    from bot.retention import due_counts, sweep

    app = _app()
    console = _console()
    totals = due_counts(app)
    with _progress(console) as bar:
        tasks = {(s.rule, s.table): bar.add_task(f"{s.rule}/{s.table}", total=n)
                 for s, n in totals}
        report = sweep(app, dry_run=dry_run,
                       progress=lambda s, n: bar.advance(tasks[(s.rule, s.table)], n))
    table = Table("rule", "table", "would delete" if dry_run else "deleted")
    for rule, per_table in report.counts.items():
        for name, n in per_table.items():
            table.add_row(rule, name, str(n))
    console.print(table)
    verb = "would be removed" if dry_run else "removed"
    files = "" if dry_run else f", {report.files_deleted} files deleted from the store"
    console.print(f"{report.total} rows {verb} as of {report.now:%Y-%m-%d}{files}")


@cli.command("notify-policy-change")
@one_line_errors
def notify_policy_change(
    template: Annotated[str, typer.Option(help="Template under templates/email/<lang>/.")]
    = "policy_change",
) -> None:
    """Queue a policy-change notice to every client (rate-limited; safe to re-run).

    This only queues the mail: the running daemon (`stelloloxon-bot run`) sends it, or
    `stelloloxon-bot deliver` sends what is due, each notice no earlier than its time slot.
    """
    from bot.notices import UnknownTemplate, count_recipients
    from bot.notices import notify_policy_change as queue_notices

    app = _app()
    try:
        with _progress(_console()) as bar:
            task = bar.add_task("queueing notices", total=count_recipients(app))
            report = queue_notices(app, template, progress=lambda n: bar.advance(task, n))
    except UnknownTemplate as exc:
        _fail(str(exc))
        return
    when = (f"; sending {report.first_at:%Y-%m-%d %H:%M} to {report.last_at:%H:%M} UTC"
            if report.first_at and report.last_at else "")
    typer.echo(f"{report.queued} notices queued, {report.already} already queued{when}")
    typer.echo("Nothing is sent by this command: the running daemon (stelloloxon-bot run) "
               "sends the notices, or `stelloloxon-bot deliver` sends those that are due.")


def _staff_action(case_ref: str, verb: str, rest: str) -> None:
    from bot.staff_commands import run_command

    app = _app()
    with app.write_lock, unit_of_work(app.engine) as session:
        case = case_by_ref(session, case_ref)
        if case is None:
            _fail(f"no case {case_ref}")
            return
        result = run_command(session, app, case, verb, rest, "cli")
    _deliver(app)
    typer.echo(f"{case_ref.upper()} {verb}: {result}")


@cli.command()
@one_line_errors
def approve(case_ref: str) -> None:
    """Approve what a case waits for (e.g. a deletion with an active project)."""
    _staff_action(case_ref, "APPROVE", "")


@cli.command()
@one_line_errors
def deny(case_ref: str, reason: str) -> None:
    """Close a case as denied; the requester is told the reason."""
    _staff_action(case_ref, "DENY", reason)


@cli.command()
@one_line_errors
def extend(case_ref: str, days: int, reason: str) -> None:
    """Move the due date; the requester is told why."""
    _staff_action(case_ref, "EXTEND", f"{days} {reason}")


@cli.command()
@one_line_errors
def note(case_ref: str, text: str) -> None:
    """Add a note to the case's audit trail."""
    _staff_action(case_ref, "NOTE", text)


# ------------------------------------------------------------ issue 14: the staff dashboard

NewPassword = Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="Asked for when not given (never echoed).")]
staff_cli = typer.Typer(no_args_is_help=True, help="Staff accounts of the web dashboard.")
cli.add_typer(staff_cli, name="staff")


@staff_cli.command("add")
@one_line_errors
def staff_add(
    username: str,
    password: NewPassword,
    name: Annotated[str, typer.Option(help="Name shown on pages and in the audit log.")] = "",
) -> None:
    """Create a dashboard login (the password is stored as a scrypt hash only)."""
    from bot.dashboard.auth import StaffAccountError, add_staff

    app = _app()
    try:
        add_staff(app, username=username, display_name=name, password=password)
    except StaffAccountError as exc:
        _fail(str(exc))
    typer.echo(f"staff account {username.strip().lower()} added")


@staff_cli.command("password")
@one_line_errors
def staff_password(
    username: str,
    password: NewPassword,
) -> None:
    """Set a new dashboard password; the account's open sessions end."""
    from bot.dashboard.auth import StaffAccountError, set_password

    try:
        set_password(_app(), username, password)
    except StaffAccountError as exc:
        _fail(str(exc))
    typer.echo(f"password of {username.strip().lower()} changed; its sessions ended")


@staff_cli.command("disable")
@one_line_errors
def staff_disable(username: str) -> None:
    """Stop a dashboard login from working (its open sessions end now)."""
    from bot.dashboard.auth import StaffAccountError, disable_staff

    try:
        disable_staff(_app(), username)
    except StaffAccountError as exc:
        _fail(str(exc))
    typer.echo(f"staff account {username.strip().lower()} disabled")


@staff_cli.command("list")
@one_line_errors
def staff_list() -> None:
    """Dashboard logins."""
    from bot.dashboard.auth import list_staff

    table = Table("user", "name", "created", "disabled")
    for account in list_staff(_app()):
        table.add_row(account.username, account.display_name, f"{account.created_at:%Y-%m-%d}",
                      f"{account.disabled_at:%Y-%m-%d}" if account.disabled_at else "")
    _console().print(table)


# ------------------------------------------------------------ issue 15: shipping

db_cli = typer.Typer(no_args_is_help=True, help="The database schema (Alembic migrations).")
cli.add_typer(db_cli, name="db")
config_cli = typer.Typer(no_args_is_help=True, help="The effective configuration.")
cli.add_typer(config_cli, name="config")


def _engine() -> Engine:
    """The configured database, connected, without touching its schema."""
    settings = Settings()
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    check_connection(engine)
    return engine


@db_cli.command("upgrade")
@one_line_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to the newest (a database from before migrations is adopted,
    its rows kept). Production runs this before starting the new release."""
    from alembic.util import CommandError

    from storage.migrate import describe, status, upgrade_to

    engine = _engine()
    before = status(engine)
    try:
        upgrade_to(engine, revision)
    except CommandError as exc:  # e.g. an unknown revision: one line, not a traceback
        _fail(str(exc))
    after = status(engine)
    if before.current == after.current and before.state == after.state:
        typer.echo(f"nothing to do: {describe(after)}")
    else:
        typer.echo(f"upgraded from {before.current or before.state} to {after.current}")


@db_cli.command("current")
@one_line_errors
def db_current() -> None:
    """Where the database's schema is, and where this release needs it."""
    from storage.migrate import describe, status

    typer.echo(describe(status(_engine())))


@db_cli.command("history")
def db_history() -> None:
    """The migration revisions, newest first."""
    from storage.migrate import history_lines

    typer.echo("\n".join(history_lines()))


@db_cli.command("check")
@one_line_errors
def db_check() -> None:
    """Exit 0 when the database is at this release's schema and matches the models."""
    from storage.migrate import describe, differences, status

    engine = _engine()
    found = status(engine)
    diffs = differences(engine) if found.state != "empty" else []
    typer.echo(describe(found))
    for diff in diffs:
        typer.echo(f"  differs from the models: {diff}")
    if not found.up_to_date or diffs:
        if not found.up_to_date:
            typer.echo("run `stelloloxon-bot db upgrade`")
        raise typer.Exit(1)
    typer.echo("models and database agree")


@db_cli.command("revision")
@one_line_errors
def db_revision(message: str) -> None:
    """For developers: write a new revision autogenerated from the models' changes (against
    the configured database, which must be at the newest revision). Review it before use."""
    from storage.migrate import ensure_schema, new_revision

    engine = _engine()
    ensure_schema(engine, upgrade=False)
    typer.echo(f"wrote {new_revision(engine, message)}")


@config_cli.command("check")
@one_line_errors
def config_check() -> None:
    """Every setting with its value and source (default, env, file); secrets masked; and
    what production refuses (exit 1 when production is on and something is refused)."""
    from bot.configcheck import build_report

    report = build_report()
    table = Table("setting", "value", "from")
    for row in report.rows:
        table.add_row(row.name, escape(row.value), row.source)
    console = _console()
    console.print(table)
    mode = "production" if report.production else "development"
    if not report.problems:
        console.print(f"environment {mode}: production would start with this configuration")
        return
    console.print(f"environment {mode}: production would refuse to start:")
    for problem in report.problems:
        console.print(escape(f"  - {problem}"))
    if report.refused:
        raise typer.Exit(1)


@cli.command()
@one_line_errors
def health(
    max_age: Annotated[float, typer.Option(help="Oldest acceptable daemon heartbeat, in "
                                                "seconds.")] = 60.0,
) -> None:
    """Exit 0 when the database answers at this release's schema, the daemon's heartbeat is
    fresh and its SMTP listener answers (the container HEALTHCHECK)."""
    from bot.health import run_checks

    checks = run_checks(Settings(), max_age=max_age)
    for check in checks:
        typer.echo(check.line())
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def main() -> None:
    cli(prog_name="stelloloxon-bot")


if __name__ == "__main__":
    sys.exit(main())
