"""Project requests end to end through the real SMTP path (issue 6): model files built with
trimesh arrive as attachments and the receipt states the right figures and problems; status and
invoice copies reach only a verified owner (by sender authentication or by code); a stranger
asking about someone's project learns nothing.

Needs the pipeline to call `projects.start` for project intents that privacy does not take.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage

import numpy as np
import pytest
import trimesh
from sqlmodel import select

from bot.context import App
from bot.demo import seed_demo
from storage import models
from storage.db import unit_of_work
from tests.helpers import outbox_messages, wait_until

TRUSTED = "mx.stelloloxonpro.com"
DMARC_PASS = (f"{TRUSTED}; dkim=pass header.d=example.com; spf=pass; dmarc=pass "
              "header.from=example.com")
CODE_RE = re.compile(r"^\s{4}([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)

pytestmark = pytest.mark.e2e


class Client:
    """Someone mailing the running daemon; reads what lands in the outbox folder."""

    def __init__(self, app: App, port: int) -> None:
        self.app, self.port = app, port

    def send(self, body: str, *, sender: str = "jane@example.com", subject: str = "Hello",
             files: dict[str, bytes] | None = None, trace: tuple[str, ...] = (),
             reply_to: EmailMessage | None = None) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"] = sender, "info@stelloloxonpro.com"
        msg["Subject"] = f"Re: {reply_to['Subject']}" if reply_to else subject
        msg["Message-ID"] = f"<{id(msg)}.{len(outbox_messages(self.app))}@example.com>"
        if reply_to is not None:
            msg["In-Reply-To"] = msg["References"] = reply_to["Message-ID"]
        msg.set_content(body)
        for name, data in (files or {}).items():
            msg.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.sendmail(sender.split("<")[-1].strip(">"), ["info@stelloloxonpro.com"],
                          "".join(f"{line}\r\n" for line in trace).encode()
                          + msg.as_bytes(policy=policy.SMTP))  # CRLF: aiosmtpd reads lines

    def wait_for(self, to: str, word: str, count: int = 1) -> list[EmailMessage]:
        def found() -> list[EmailMessage]:
            hits = [m for m in outbox_messages(self.app)
                    if m["To"] == to and word in str(m["Subject"])]
            return hits if len(hits) >= count else []
        return wait_until(found, timeout=15)


def body(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n")


def stl(mesh: trimesh.Trimesh) -> bytes:
    return mesh.export(file_type="stl")


def model_files() -> dict[str, bytes]:
    cube = trimesh.creation.box(extents=(20, 20, 20))
    holed = trimesh.creation.box(extents=(40, 10, 10))
    holed.update_faces(np.arange(12) >= 2)
    holed.remove_unreferenced_vertices()
    inches = trimesh.creation.box(extents=(40, 20, 10))
    inches.apply_scale(1 / 25.4)  # modelled in mm, exported as if inches
    return {
        "cube.stl": stl(cube),
        "holed.stl": stl(holed),
        "inches.stl": stl(inches),
        "broken.stl": b"solid broken\nfacet normal 0 0 1\n  outer loop\n",
        "cube.3mf": cube.export(file_type="3mf"),
    }


@pytest.fixture
def world(make_app: Callable[..., App], run_daemon: Callable) -> Iterator[Client]:
    app = make_app(trusted_authserv_ids=[TRUSTED])
    seed_demo(app)  # Jane: SP-2025-0041, invoice 1187; Max: SP-2025-0042, invoice 1188
    with run_daemon(app) as daemon:
        yield Client(app, daemon.smtp_port)


def _rows(app: App, model: type) -> list:
    with unit_of_work(app.engine) as session:
        return list(session.exec(select(model)))


def test_new_job_with_model_files_gets_figures_and_problems(world: Client) -> None:
    world.send("Hello, please prepare the attached models for 3D printing on a Prusa MK4 in "
               "PETG, 0.2 mm layers, 4 copies each, by 15 December 2026.",
               subject="New job: brackets", files=model_files())
    [receipt] = world.wait_for("jane@example.com", "received as SP-2026-0001")
    text = body(receipt)
    cube, holed, inches, broken, three_mf = (text.split(f"  - {n}")[1].split("\n  - ")[0]
                                             for n in model_files())
    assert "Triangles:  12" in cube and "20 x 20 x 20 mm" in cube
    assert "8,000.0 mm³ (8.0 cm³)" in cube and "No problems found." in cube
    assert "Watertight: no" in holed and "holes: 4 open (boundary) edges" in holed
    assert "units look like inches" in inches and "1016.0 x 508.0 x 254.0 mm" not in inches
    assert "40.0 x 20.0 x 10.0 mm" in inches
    assert "could not read the file" in broken
    assert "20 x 20 x 20 mm" in three_mf and "Watertight: yes" in three_mf
    assert "Printer: Prusa MK4" in text and "Quantity: 4" in text
    [brief] = world.wait_for("staff@stelloloxonpro.com", "New job SP-2026-0001")
    assert "Authenticated: no" in body(brief) and not list(brief.iter_attachments())
    [project] = [p for p in _rows(world.app, models.Project) if p.reference == "SP-2026-0001"]
    files = [f for f in _rows(world.app, models.ModelFile) if f.project_id == project.id]
    assert len(files) == 5 and all(world.app.files.exists(f.storage_key) for f in files)
    reads = [a for a in _rows(world.app, models.AuditLog) if a.action == "file.read"]
    assert len(reads) == 5


def test_stranger_asking_about_a_project_learns_nothing(world: Client) -> None:
    for n, ref in enumerate(("SP-2025-0041", "SP-2099-0001"), start=1):
        world.send(f"What is the status of project {ref}?", sender="eve@evil.example",
                   subject="Project status")
        world.wait_for("eve@evil.example", "which project?", count=n)
    first, second = world.wait_for("eve@evil.example", "which project?", count=2)
    assert body(first) == body(second)
    everything = " ".join(body(m) for m in outbox_messages(world.app)
                          if m["To"] == "eve@evil.example")
    assert "Bracket set" not in everything and "verification code" not in everything


def test_status_for_the_owner_after_a_code(world: Client) -> None:
    world.send("Hi, what is the status of my project SP-2025-0041?", subject="Status")
    [code_mail] = world.wait_for("jane@example.com", "verification code")
    assert "Bracket set" not in body(code_mail)
    code = CODE_RE.search(body(code_mail))
    assert code is not None
    world.send(f"My code: {code.group(1)}", reply_to=code_mail)
    [status] = world.wait_for("jane@example.com", "project status")
    assert "SP-2025-0041: Bracket set 1" in body(status)
    assert "Promised delivery: November 30, 2026" in body(status)


def test_invoice_copy_to_an_authenticated_owner(world: Client) -> None:
    world.send("Could you resend invoice 1187 please?", subject="Invoice",
               trace=("Authentication-Results: " + DMARC_PASS,))
    [copy] = world.wait_for("jane@example.com", "copy of invoice 1187")
    assert "120.00 USD" in body(copy) and "Status:  paid" in body(copy)
    assert "SP-2025-0041" in body(copy)


def test_technical_questions_on_a_project_join_its_open_case(world: Client) -> None:
    world.send("The supports on SP-2025-0041 are wrong, how do I remove the support "
               "structures from the base?", subject="Supports")
    first = world.wait_for("staff@stelloloxonpro.com", "Needs staff")
    world.send("Also, can you change the layer height on SP-2025-0041 to 0.1 mm? "
               "How would that affect the print time?", subject="Layer height")
    world.wait_for("staff@stelloloxonpro.com", "Needs staff", count=len(first) + 1)
    cases = _rows(world.app, models.Case)
    assert len(cases) == 1
    assert [m.case_id for m in _rows(world.app, models.InboundMessage)] == [cases[0].id] * 2


def test_large_job_mail_is_spooled_and_streamed_into_the_store(
    make_app: Callable[..., App], run_daemon: Callable
) -> None:
    import trimesh as tm

    app = make_app(spool_threshold_bytes=100_000)  # this mail is ~1 MB: spooled
    seed_demo(app)
    mesh = tm.creation.icosphere(subdivisions=5, radius=30.0)  # 20,480 faces, ~1 MB binary STL
    data = stl(mesh)
    with run_daemon(app) as daemon:
        client = Client(app, daemon.smtp_port)
        client.send("New job: please prepare this sphere for 3D printing in PLA.",
                    subject="New job", files={"sphere.stl": data})
        [receipt] = client.wait_for("jane@example.com", "received as SP-2026-0001")
    assert "Triangles:  20,480" in body(receipt) and "Watertight: yes" in body(receipt)
    [inbound] = _rows(app, models.InboundMessage)
    assert inbound.raw == b"" and inbound.raw_key and app.files.exists(inbound.raw_key)
    [model] = [f for f in _rows(app, models.ModelFile) if f.filename == "sphere.stl"]
    assert app.files.path(model.storage_key).read_bytes() == data
