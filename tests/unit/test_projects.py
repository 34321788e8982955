"""Project requests without sockets: `projects.start` on a freshly opened case, as the pipeline
calls it. Job intake (files, draft project, mesh figures, staff brief), status and invoice
copies only to a verified owner, neutral answers to everyone else, staff with context."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import trimesh
from sqlmodel import select

from bot.cases import client_for_address, open_case
from bot.context import App
from bot.demo import seed_demo
from bot.incoming import Incoming
from bot.intake import store_raw
from bot.mime import parse_message
from bot.pipeline import authenticate
from bot.projects import jobintake
from bot.projects import workflow as projects
from bot.understand import understand
from storage import models
from storage.db import unit_of_work
from tests.helpers import make_mail

TRUSTED = "mx.stelloloxonpro.com"
DMARC_PASS = (f"{TRUSTED}; dkim=pass header.d=example.com; spf=pass; dmarc=pass "
              "header.from=example.com")


def job_mail(body: str, files: dict[str, bytes], *, sender: str = "jane@example.com",
             subject: str = "New job") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "info@stelloloxonpro.com", subject
    msg["Message-ID"] = f"<{abs(hash((body, sender, tuple(files))))}@example.com>"
    msg.set_content(body)
    for name, data in files.items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename=name)
    return msg.as_bytes()


def stl(mesh: trimesh.Trimesh) -> bytes:
    return mesh.export(file_type="stl")


CUBE = stl(trimesh.creation.box(extents=(20, 20, 20)))


@pytest.fixture
def world(make_app) -> Iterator[App]:
    app = make_app(trusted_authserv_ids=[TRUSTED])
    seed_demo(app)  # Jane (#1, SP-2025-0041, invoice 1187), Max (#2, SP-2025-0042, 1188) ...
    yield app


def run(app: App, raw: bytes) -> tuple[int, str | None]:
    """Store, parse, open the case and call projects.start as the pipeline will."""
    inbound_id, _ = store_raw(app, "inject", raw)
    with app.write_lock, unit_of_work(app.engine) as session:
        row = session.get(models.InboundMessage, inbound_id)
        assert row is not None
        parsed = parse_message(row.raw, max_attachment_bytes=app.settings.max_attachment_bytes)
        authenticate(session, app, row)
        incoming = Incoming(row=row, parsed=parsed)
        meaning = understand(incoming.text, parsed.subject,
                             has_attachments=bool(parsed.attachments))
        assert projects.handles(meaning), meaning
        client = client_for_address(session, parsed.from_addr)
        case = open_case(session, app, requester=parsed.from_addr, understanding=meaning,
                         received_at=row.received_at, subject=parsed.subject, client=client)
        row.case_id = case.id
        reason = projects.start(session, app, incoming, case, meaning, client)
        assert case.id is not None
        return case.id, reason


def outbox(app: App, purpose: str) -> list[models.Outbox]:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(models.Outbox).where(models.Outbox.purpose == purpose)
                                 .order_by(models.Outbox.id)))


def text(row: models.Outbox) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(row.raw)
    return msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def rows(app: App, model: type) -> list:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(model)))


def get(app: App, model: type, ident: int) -> Any:
    with unit_of_work(app.engine) as session:
        return session.get(model, ident)


def audits(app: App, action: str) -> list[dict]:
    return [json.loads(a.details) | {"client_id": a.client_id} for a in rows(app, models.AuditLog)
            if a.action == action]


# --------------------------------------------------------------------------- job intake


def test_job_from_a_client_becomes_a_draft_project_with_checked_files(world: App) -> None:
    holed = trimesh.creation.box(extents=(30, 10, 10))
    holed.update_faces([i >= 2 for i in range(12)])
    holed.remove_unreferenced_vertices()
    body = ("Hello, please prepare these files for 3D printing. Prusa MK4, PETG, 0.2 mm "
            "layers, 5 copies, needed by 15 December 2026.")
    case_id, reason = run(world, job_mail(body, {"cube.stl": CUBE, "arm.stl": stl(holed),
                                                 "notes.pdf": b"%PDF-1.4"}))
    assert reason is None
    [project] = [p for p in rows(world, models.Project) if p.status == "draft"]
    assert project.reference == "SP-2026-0001" and project.client_id == 1
    assert (project.printer, project.material) == ("Prusa MK4", "PETG")
    assert "Layer height: 0.2 mm" in project.specs and "Deadline: 2026-12-15" in project.specs
    files = [f for f in rows(world, models.ModelFile) if f.project_id == project.id]
    assert sorted(f.filename for f in files) == ["arm.stl", "cube.stl"]
    for f in files:
        assert world.files.exists(f.storage_key) and f.storage_key.endswith(f.sha256)
    assert {a["model_file_id"] for a in audits(world, "file.read")} == {f.id for f in files}
    [receipt] = outbox(world, "job_received")
    body_out = text(receipt)
    assert receipt.to_addr == "jane@example.com" and "SP-2026-0001" in body_out
    assert "Triangles:  12" in body_out and "20 x 20 x 20 mm" in body_out
    assert "8,000.0 mm³" in body_out and "Watertight: yes" in body_out
    assert "holes: 4 open (boundary) edges" in body_out and "Watertight: no" in body_out
    assert "not computed (the mesh is not closed)" in body_out
    assert "notes.pdf" in body_out and "Quantity: 5" in body_out
    [brief] = outbox(world, "staff_intake")
    assert brief.to_addr == "staff@stelloloxonpro.com" and "SP-2026-0001" in text(brief)
    assert b"solid" not in brief.raw and "cube.stl" in text(brief)  # figures, never the file
    case = get(world, models.Case, case_id)
    assert case.status == "awaiting_staff" and case.escalated


def test_references_count_up_within_the_year(world: App) -> None:
    with unit_of_work(world.engine) as session:
        assert jobintake.next_reference(session, 2026) == "SP-2026-0001"
        session.add(models.Project(reference="SP-2026-0007", client_id=1, title="t",
                                   created_at=world.clock.now(), updated_at=world.clock.now()))
        session.flush()
        assert jobintake.next_reference(session, 2026) == "SP-2026-0008"
        assert jobintake.next_reference(session, 2025) == "SP-2025-0044"


def test_unknown_sender_becomes_a_new_client_named_from_the_header(world: App) -> None:
    raw = job_mail("Could you prepare this model for 3D printing?", {"part.stl": CUBE},
                   sender="Nora Newcomer <nora@new.example>")
    case_id, reason = run(world, raw)
    assert reason is None
    with unit_of_work(world.engine) as session:
        client = client_for_address(session, "nora@new.example")
        assert client is not None and client.name == "Nora Newcomer"
        project = session.exec(select(models.Project).where(
            models.Project.client_id == client.id)).one()
        assert session.get(models.Case, case_id).client_id == client.id  # type: ignore[union-attr]
    assert "(new client)" in outbox(world, "staff_intake")[0].raw.decode()
    assert project.reference in text(outbox(world, "job_received")[0])


def test_corrupt_and_step_files_are_stored_with_a_clear_note(world: App) -> None:
    run(world, job_mail("New job, files attached, please prepare them for 3D printing.",
                        {"broken.stl": b"solid x\nthis is not a mesh\n",
                         "housing.step": b"ISO-10303-21;"}))
    body = text(outbox(world, "job_received")[0])
    assert "could not read the file: no triangles found" in body
    assert "stored, not analysed: STEP needs a CAD kernel" in body
    assert len([f for f in rows(world, models.ModelFile) if f.project_id]) == 2


def test_over_the_per_file_limit_is_refused_with_a_clear_reply(world: App,
                                                               monkeypatch) -> None:
    monkeypatch.setattr(world.settings, "model_file_max_bytes", 500)
    _, reason = run(world, job_mail("New job: please prepare this model for 3D "
                                    "printing.", {"big.stl": CUBE}))
    assert reason and "no model file could be stored" in reason
    body = text(outbox(world, "job_received")[0])
    assert "big.stl: larger than our 500 bytes limit per file" in body
    assert "download link" in body
    assert not [p for p in rows(world, models.Project) if p.status == "draft"]


def test_mime_too_large_attachment_is_refused(make_app) -> None:
    app = make_app(max_attachment_bytes=200)
    seed_demo(app)
    run(app, job_mail("Please prepare this model for 3D printing.", {"big.stl": CUBE}))
    assert "big.stl: larger than our 200 bytes limit" in text(outbox(app, "job_received")[0])


def test_zip_members_are_stored_by_basename_and_nested_zips_skipped(world: App) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep.stl", CUBE)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../../../tmp/evil.stl", CUBE)
        zf.writestr("nested.zip", inner.getvalue())
        zf.writestr("readme.txt", b"hi")
    run(world, job_mail("New job, please prepare for 3D print.", {"parts.zip": outer.getvalue()}))
    files = [f for f in rows(world, models.ModelFile) if f.project_id]
    assert [f.filename for f in files] == ["evil.stl"]
    body = text(outbox(world, "job_received")[0])
    assert "parts.zip: nested.zip: archive inside the archive, not opened" in body
    assert "parts.zip: readme.txt" in body
    assert not list(world.settings.data_dir.glob("**/tmp/evil.stl"))


def test_zip_bomb_is_refused(world: App) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.stl", b"\0" * 30_000_000)
    run(world, job_mail("New job, please prepare for 3D print.", {"b.zip": bomb.getvalue()}))
    assert "b.zip: archive refused: compression ratio too high" in text(
        outbox(world, "job_received")[0])


# --------------------------------------------------------------------------- status


def _neutral_body(app: App) -> str:
    row = outbox(app, "project_pick")[-1]
    with unit_of_work(app.engine) as session:
        case = session.get(models.Case, row.case_id)
        assert case is not None and case.ref is not None
        return text(row).replace(case.ref, "<case>")


def test_non_owner_gets_the_same_neutral_answer_as_an_unknown_reference(world: App) -> None:
    run(world, make_mail("What is the status of project SP-2025-0041?", sender="eve@evil.example",
                         subject="Project status"))
    existing = _neutral_body(world)
    run(world, make_mail("What is the status of project SP-2099-0001?", sender="eve@evil.example",
                         subject="Project status"))
    assert _neutral_body(world) == existing
    assert "Bracket set" not in existing and "SP-2025-0041" not in existing
    assert outbox(world, "project_status") == [] and outbox(world, "verify_code") == []


def test_unauthenticated_client_gets_a_code_and_nothing_else(world: App) -> None:
    case_id, reason = run(world, make_mail("Any update on the status of SP-2025-0041?",
                                           subject="Project"))
    assert reason is None
    [code] = outbox(world, "verify_code")
    assert code.to_addr == "jane@example.com" and "Bracket" not in text(code)
    assert outbox(world, "project_status") == []
    case = get(world, models.Case, case_id)
    assert case.status == "awaiting_requester" and case.waiting_since is not None
    [issued] = rows(world, models.VerificationCode)
    assert issued.action == "project_status" and issued.sent_to == "jane@example.com"


def test_authenticated_owner_gets_status_at_once(world: App) -> None:
    raw = make_mail("What is the status of SP-2025-0041?", subject="Project",
                    trace=("Authentication-Results: " + DMARC_PASS,))
    case_id, reason = run(world, raw)
    assert reason is None
    [answer] = outbox(world, "project_status")
    body = text(answer)
    assert answer.to_addr == "jane@example.com"
    assert "SP-2025-0041: Bracket set 1" in body and "in preparation" in body
    assert "Promised delivery: November 30, 2026" in body
    assert "Last update:       November 23, 2026" in body
    assert get(world, models.Case, case_id).status == "closed"


def test_someone_elses_reference_reads_like_an_unknown_one(world: App) -> None:
    for ref in ("SP-2025-0042", "SP-2099-0001"):  # Max's project, then no project at all
        run(world, make_mail(f"Status of {ref} please?", subject="Project",
                             trace=("Authentication-Results: " + DMARC_PASS,)))
    first, second = (text(r) for r in outbox(world, "project_pick"))
    assert first == second
    assert "SP-2025-0041: Bracket set 1" in first and "SP-2025-0042" not in first


def test_dkim_pass_for_another_domain_is_not_authentication(world: App) -> None:
    raw = make_mail("Status of SP-2025-0041?", subject="Project", trace=(
        f"Authentication-Results: {TRUSTED}; dkim=pass header.d=evil.example; dmarc=fail",))
    run(world, raw)
    assert outbox(world, "project_status") == [] and len(outbox(world, "verify_code")) == 1


def test_untrusted_authentication_results_are_ignored(world: App) -> None:
    raw = make_mail("Status of SP-2025-0041?", subject="Project",
                    trace=("Authentication-Results: " + "mx.evil.example; dmarc=pass",))
    run(world, raw)
    assert outbox(world, "project_status") == []


def test_fulfil_after_the_code_answers_the_requester(world: App) -> None:
    case_id, _ = run(world, make_mail("Where is my project?", subject="Project"))
    reply = make_mail("ABCD-EFGH", subject="Re: Project")
    inbound_id, _ = store_raw(world, "inject", reply)
    with unit_of_work(world.engine) as session:
        case = session.get(models.Case, case_id)
        row = session.get(models.InboundMessage, inbound_id)
        assert case is not None and row is not None
        projects.fulfil_status(session, world, Incoming(row, parse_message(row.raw)), case)
    [answer] = outbox(world, "project_status")  # one open project: no need to pick
    assert "SP-2025-0041" in text(answer) and answer.to_addr == "jane@example.com"


# --------------------------------------------------------------------------- invoices


def test_resend_invoice_to_the_verified_owner(world: App) -> None:
    run(world, make_mail("Could you please resend invoice 1187?", subject="Invoice",
                         trace=("Authentication-Results: " + DMARC_PASS,)))
    [copy] = outbox(world, "invoice_copy")
    body = text(copy)
    assert "Invoice 1187" in body and "120.00 USD" in body and "paid" in body
    assert "SP-2025-0041" in body and "copy of invoice 1187" in copy.raw.decode()


def test_someone_elses_invoice_is_not_sent(world: App) -> None:
    run(world, make_mail("Please resend invoice 1188.", subject="Invoice",
                         trace=("Authentication-Results: " + DMARC_PASS,)))
    body = text(outbox(world, "invoice_copy")[0])
    assert "1188" not in body and "240.00" not in body
    assert "We could not find the invoice you mention" in body and "1187" in body


def test_resend_invoice_from_a_stranger_is_neutral(world: App) -> None:
    run(world, make_mail("Please resend invoice 1187.", sender="eve@evil.example",
                         subject="Invoice"))
    body = text(outbox(world, "invoice_copy")[0])
    assert "1187" not in body.replace("invoice 1187", "") and "120.00" not in body


def test_billing_dispute_goes_to_staff_with_the_invoice(world: App) -> None:
    case_id, reason = run(world, make_mail("Invoice 1187 is wrong, I was overcharged.",
                                           subject="Invoice"))
    assert reason is None
    [staff] = outbox(world, "staff_escalation")
    assert "invoice 1187: 120.00 USD, paid" in text(staff)
    assert outbox(world, "invoice_copy") == []
    assert get(world, models.Case, case_id).status == "awaiting_staff"


# --------------------------------------------------------------------------- staff


def test_technical_question_on_own_project_goes_to_staff_with_context(world: App) -> None:
    _, reason = run(world, make_mail("For SP-2025-0041, can you remove the supports and "
                                     "check the wall thickness?", subject="Question"))
    assert reason is None
    body = text(outbox(world, "staff_escalation")[0])
    assert "SP-2025-0041 printer / material: Prusa MK4 / PETG" in body
    assert "SP-2025-0041 promised delivery: 2026-11-30" in body
    [linked] = audits(world, "case.project_linked")
    assert linked["client_id"] == 1


def test_technical_question_on_another_clients_project_gets_no_context(world: App) -> None:
    _, reason = run(world, make_mail("For SP-2025-0042, can you remove the supports?",
                                     subject="Question"))
    assert reason and "not one of the sender's projects" in reason
    assert outbox(world, "staff_escalation") == []  # the pipeline escalates with the reason

