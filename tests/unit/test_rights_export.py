"""Unit tests for bot.rights.export: the access/portability archive.

seed_client() here is shared with the other test_rights_* modules.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import pyzipper
from sqlmodel import select

from bot.context import App
from bot.rights import ClientNotFound
from bot.rights.export import (
    PASSWORD_ALPHABET,
    build_export,
    export_filename,
    generate_password,
    safe_name,
)
from storage import models
from storage.db import unit_of_work
from tests.servers.fixtures import _missing


@dataclass
class Seeded:
    client_id: int
    project_refs: list[str]
    file_bytes: dict[str, bytes]  # filename -> bytes
    file_keys: list[str]


def seed_client(app: App, tag: str, *, status: str = "completed",
                invoice_status: str = "paid") -> Seeded:
    """A client with two addresses, a project with two model files and every other record."""
    now = app.clock.now()
    files = {f"{tag}-bracket.stl": f"solid {tag}\n".encode() * 5000,
             f"{tag}-lid.3mf": bytes(range(256)) * 40 + tag.encode()}
    with unit_of_work(app.engine) as session:
        client = models.Client(name=f"Name {tag}", phone="+1 941 555 0100",
                               business_address=f"1 {tag} Street", company=f"{tag} GmbH",
                               created_at=now - timedelta(days=400), last_active_at=now)
        session.add(client)
        session.flush()
        assert client.id is not None
        session.add(models.ClientEmail(client_id=client.id, address=f"{tag}@example.com",
                                       is_primary=True))
        session.add(models.ClientEmail(client_id=client.id, address=f"{tag}.alt@example.org"))
        project = models.Project(
            reference=f"SP-2026-{tag.upper()}", client_id=client.id, title=f"Title {tag}",
            specs=f"Specs {tag}: PETG 0.2 mm", status=status,
            created_at=now - timedelta(days=90), updated_at=now - timedelta(days=5),
            completed_at=now - timedelta(days=5) if status == "completed" else None)
        session.add(project)
        session.flush()
        keys = []
        for name, data in files.items():
            stored = app.files.put_bytes(data)
            keys.append(stored.key)
            session.add(models.ModelFile(client_id=client.id, project_id=project.id,
                                         filename=name, size=stored.size, sha256=stored.sha256,
                                         storage_key=stored.key,
                                         uploaded_at=now - timedelta(days=80)))
        session.add(models.Communication(client_id=client.id, project_id=project.id,
                                         channel="email", direction="in",
                                         address=f"{tag}@example.com",
                                         subject=f"Subject {tag}", occurred_at=now))
        invoice = models.Invoice(number=f"INV-{tag}", client_id=client.id,
                                 project_id=project.id, amount_cents=12000,
                                 issued_at=now - timedelta(days=30), status=invoice_status)
        session.add(invoice)
        session.flush()
        session.add(models.Payment(invoice_id=invoice.id, amount_cents=12000,
                                   paid_at=now - timedelta(days=20), processor="Stripe"))
        session.add(models.WebsiteUsage(client_id=client.id, path=f"/quote/{tag}",
                                        user_agent="Firefox", occurred_at=now))
        session.add(models.Disclosure(client_id=client.id, recipient="Stripe (payments)",
                                      categories="name, email, invoice amounts",
                                      purpose="payment processing",
                                      disclosed_at=now - timedelta(days=30)))
        return Seeded(client.id, [project.reference], files, keys)


def export(app: App, client_id: int, tmp_path: Path, password: str | None = None):
    with unit_of_work(app.engine) as session:
        return build_export(session, app, client_id, tmp_path, password=password)


def test_plain_export_contains_everything_and_nothing_of_others(app: App, tmp_path: Path) -> None:
    mine = seed_client(app, "alice")
    other = seed_client(app, "bob")
    result = export(app, mine.client_id, tmp_path)

    assert result.path.name == export_filename(mine.client_id, app.clock.now())
    assert result.size == result.path.stat().st_size
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.categories["model_files"] == 2
    assert result.categories["emails"] == 2
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        for name, data in mine.file_bytes.items():
            assert zf.read(f"files/SP-2026-ALICE/{name}") == data
        doc = json.loads(zf.read("data.json"))
        everything = b"".join(zf.read(n) for n in names)
    assert {"data.json", "summary.html", "csv/client.csv", "csv/invoices.csv"} <= names
    tables = doc["tables"]
    assert tables["client"][0]["name"] == "Name alice"
    assert {e["address"] for e in tables["emails"]} == {"alice@example.com",
                                                       "alice.alt@example.org"}
    assert tables["projects"][0]["specs"] == "Specs alice: PETG 0.2 mm"
    assert tables["invoices"][0]["number"] == "INV-alice"
    assert tables["payments"][0]["invoice"] == "INV-alice"
    assert tables["website_usage"][0]["path"] == "/quote/alice"
    assert tables["disclosures"][0]["recipient"] == "Stripe (payments)"
    assert "storage_key" not in tables["model_files"][0]
    for bob_data in other.file_bytes.values():
        assert bob_data not in everything
    assert b"bob" not in everything.lower()


def test_export_states_purposes_recipients_retention_and_source(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path).path) as zf:
        doc = json.loads(zf.read("data.json"))
    by_key = {c["key"]: c for c in doc["categories"]}
    assert "7 years" in by_key["financial"]["retention"]
    assert "2 years" in by_key["contact"]["retention"]
    assert "3 years" in by_key["model_files"]["retention"]
    assert "24 months" in by_key["website_usage"]["retention"]
    assert all(c["purposes"] and c["recipients"] and c["source"] for c in doc["categories"])
    assert by_key["financial"]["records"] == 2
    assert doc["recipients_of_your_data"] == ["Stripe (payments)"]
    invoice = doc["tables"]["invoices"][0]
    assert invoice["retained_until"].startswith(str(app.clock.now().year + 7))


def test_csv_per_table_matches_json(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path).path) as zf:
        doc = json.loads(zf.read("data.json"))
        for table, rows in doc["tables"].items():
            text = zf.read(f"csv/{table}.csv").decode("utf-8-sig")
            parsed = list(csv.DictReader(io.StringIO(text)))
            assert len(parsed) == len(rows), table
    assert parsed is not None
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path / "again.zip").path) as zf:
        emails = zf.read("csv/emails.csv").decode("utf-8-sig")
    assert "alice@example.com" in emails


def test_csv_neutralises_formulas_but_keeps_phone_numbers(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        client = session.get(models.Client, seeded.client_id)
        assert client is not None
        client.company = "=HYPERLINK(1)"
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path).path) as zf:
        row = next(csv.DictReader(io.StringIO(zf.read("csv/client.csv").decode("utf-8-sig"))))
        doc = json.loads(zf.read("data.json"))
    assert row["company"] == "'=HYPERLINK(1)"
    assert row["phone"] == "+1 941 555 0100"
    assert doc["tables"]["client"][0]["company"] == "=HYPERLINK(1)"


def test_summary_html_is_self_contained_and_escaped(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        session.add(models.Communication(
            client_id=seeded.client_id, channel="email", direction="in", address="x@example.com",
            subject='<script>alert(1)</script><img src="https://evil.example/p.png">',
            occurred_at=app.clock.now()))
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path).path) as zf:
        html = zf.read("summary.html").decode()
    tags = _Tags()
    tags.feed(html)
    assert not tags.loading, tags.loading
    assert not {"script", "img", "link", "iframe", "object", "embed", "base"} & tags.names
    lower = html.lower()
    assert "<script" not in lower and "url(" not in lower and "@import" not in lower
    assert not re.search(r"<[^>]*=\s*[\"']?(https?:)?//", lower)
    assert "default-src 'none'" in html
    assert "&lt;script&gt;" in html
    assert "Name alice" in html and "SP-2026-ALICE" in html and "7 years" in html
    assert all(not re.match(r"[a-z]+:|/", link) for link in tags.links), tags.links


class _Tags(HTMLParser):
    """Collects tag names and any attribute that could make a browser load something."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.loading: list[tuple[str, str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        for name, value in attrs:
            if tag == "a" and name == "href":
                self.links.append(value or "")
            elif name in {"src", "href", "srcset", "action", "poster", "data", "background"}:
                self.loading.append((tag, name, value))


def test_encrypted_export_needs_the_password(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    password = generate_password()
    result = export(app, seeded.client_id, tmp_path, password)
    name = "files/SP-2026-ALICE/alice-bracket.stl"
    with pyzipper.AESZipFile(result.path) as zf:
        assert zf.getinfo(name).flag_bits & 0x1
        with pytest.raises(RuntimeError):
            zf.read(name)
        zf.setpassword(b"wrong password")
        with pytest.raises(RuntimeError):
            zf.read(name)
        zf.setpassword(password.encode())
        assert zf.read(name) == seeded.file_bytes["alice-bracket.stl"]
        assert json.loads(zf.read("data.json"))["client_id"] == seeded.client_id
    raw = result.path.read_bytes()
    assert b"Name alice" not in raw and b"solid alice" not in raw
    assert result.sha256 == hashlib.sha256(raw).hexdigest()


def test_file_reads_and_export_are_audited_without_personal_data(app: App,
                                                                 tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    export(app, seeded.client_id, tmp_path)
    with unit_of_work(app.engine) as session:
        entries = session.exec(select(models.AuditLog)).all()
    reads = [e for e in entries if e.action == "file.read"]
    built = [e for e in entries if e.action == "export.built"]
    assert len(reads) == 2 and all(e.client_id == seeded.client_id for e in reads)
    assert len(built) == 1
    details = json.loads(built[0].details)
    assert details["counts"]["model_files"] == 2 and details["encrypted"] is False
    for entry in reads + built:
        assert "alice" not in entry.details.lower()


def test_missing_blob_is_listed_not_fatal(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    app.files.path(seeded.file_keys[0]).unlink()
    result = export(app, seeded.client_id, tmp_path)
    with zipfile.ZipFile(result.path) as zf:
        doc = json.loads(zf.read("data.json"))
        files = [n for n in zf.namelist() if n.startswith("files/")]
    assert len(files) == 1 and result.categories["model_files"] == 1
    assert [f["included"] for f in doc["tables"]["model_files"]] == [False, True]


def test_hostile_and_duplicate_file_names_stay_inside_the_archive(app: App,
                                                                  tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    with unit_of_work(app.engine) as session:
        for row in session.exec(select(models.ModelFile)).all():
            row.filename = "../../etc/passwd"
            session.add(row)
    with zipfile.ZipFile(export(app, seeded.client_id, tmp_path).path) as zf:
        names = [n for n in zf.namelist() if n.startswith("files/")]
    assert names == ["files/SP-2026-ALICE/_.._etc_passwd",
                     "files/SP-2026-ALICE/_.._etc_passwd (2)"]
    assert safe_name("..") == "unnamed"


def test_unknown_client_and_no_partial_file(app: App, tmp_path: Path) -> None:
    with pytest.raises(ClientNotFound), unit_of_work(app.engine) as session:
        build_export(session, app, 999, tmp_path / "x.zip", password=None)
    assert not any(p.name.endswith((".zip", ".part")) for p in tmp_path.iterdir())


def test_failure_mid_write_leaves_no_archive(app: App, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = seed_client(app, "alice")

    def broken(key: str):
        yield b"partial"
        raise OSError("disk went away")

    monkeypatch.setattr(app.files, "open_chunks", broken)
    with pytest.raises(OSError, match="disk went away"):
        export(app, seeded.client_id, tmp_path)
    assert not any(p.name.endswith((".zip", ".part")) for p in tmp_path.iterdir())
    with unit_of_work(app.engine) as session:
        assert not session.exec(select(models.AuditLog).where(
            models.AuditLog.action == "export.built")).all()


def test_generate_password() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        symbols = password.replace("-", "")
        assert len(password) >= 20 and len(symbols) == 24
        assert set(symbols) <= set(PASSWORD_ALPHABET)
        assert not set("0O1lIi") & set(password)


# --------------------------------------------------------------------------- summary.html


def _summary(app: App, client_id: int, tmp_path: Path, language: str = "en") -> tuple[str, set]:
    with unit_of_work(app.engine) as session:
        result = build_export(session, app, client_id, tmp_path, password=None,
                              language=language)
    with zipfile.ZipFile(result.path) as zf:
        return zf.read("summary.html").decode(), set(zf.namelist())


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_every_link_in_the_summary_opens_an_entry_of_the_archive(app: App,
                                                                 tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    html, names = _summary(app, seeded.client_id, tmp_path)
    tags = _Tags()
    tags.feed(html)
    assert "data.json" in tags.links
    assert f"files/SP-2026-ALICE/{next(iter(seeded.file_bytes))}" in tags.links
    assert set(tags.links) <= names, set(tags.links) - names


def test_summary_reads_like_a_document_not_a_dump(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    text = _text(_summary(app, seeded.client_id, tmp_path)[0])
    assert "$120.00" in text  # 12000 cents, formatted as money
    assert "amount cents" not in text.lower() and "12000" not in text
    assert "True" not in text and "False" not in text
    assert "Marketing mail stopped No" in text
    assert not re.search(r"\d{4}-\d\d-\d\dT", text), "raw timestamps"
    now = app.clock.now()
    assert f"{now:%B} {now.day}, {now.year}" in text
    for heading in ("Your details", "Your projects", "Your 3D model files", "Your invoices",
                    "Messages between you and us", "Who received your data", "Source",
                    "Purposes", "Recipients", "Kept for"):
        assert heading in text, heading


def test_summary_is_in_the_requesters_language(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    html, _ = _summary(app, seeded.client_id, tmp_path, language="fr")
    text = _text(html)
    assert '<html lang="fr">' in html
    assert "120,00" in text and "$US" in text and "58,6 Ko" in text
    assert "Vos coordonnées" in text and "Informations de contact" in text
    assert "Conservées pendant 7 ans" in text or "7 ans" in text
    assert "Contact information" not in text and "Your details" not in text
    german = _text(_summary(app, seeded.client_id, tmp_path / "de.zip", language="de")[0])
    assert "Ihre Angaben" in german and "120,00" in german
    greek = _text(_summary(app, seeded.client_id, tmp_path / "el.zip", language="el")[0])
    assert "Τα δεδομένα σας" in greek and "Your details" not in greek


def test_summary_does_not_promise_files_that_are_not_there(app: App, tmp_path: Path) -> None:
    seeded = seed_client(app, "alice")
    for key in seeded.file_keys:
        app.files.path(key).unlink()
    html, names = _summary(app, seeded.client_id, tmp_path)
    assert not any(n.startswith("files/") for n in names)
    assert "files/" not in _text(html)
    assert "not in this archive" in html


def test_the_tool_the_mail_names_opens_the_encrypted_archive(app: App, tmp_path: Path) -> None:
    if shutil.which("7z") is None:
        _missing("7z (Debian package p7zip-full)")
    seeded = seed_client(app, "alice")
    password = generate_password()
    result = export(app, seeded.client_id, tmp_path, password=password)
    mail = app.renderer.render("export_ready", "en", case=_FakeCase(), company="X", re_subject="",
                               categories=result.categories, size=result.size,
                               labels={}).text
    assert "7z x" in mail and "7-Zip" in mail and "Keka" in mail
    out = tmp_path / "opened"
    run = subprocess.run(["7z", "x", f"-p{password}", f"-o{out}", str(result.path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    for name, data in seeded.file_bytes.items():
        assert (out / "files" / "SP-2026-ALICE" / name).read_bytes() == data
    assert "Name alice" in (out / "summary.html").read_text()
    wrong = subprocess.run(["7z", "x", "-pwrong", f"-o{tmp_path / 'no'}", str(result.path)],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0


@dataclass
class _FakeCase:
    ref: str = "SP-REQ-000001"
