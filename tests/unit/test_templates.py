"""Email templates: every one compiles, and every client-facing purpose renders in every
language with a catalog, with the language's own date format (issue 4, issue 15).

One template per purpose (templates/email/<purpose>.*.j2), translated by the gettext catalogs
(tests/unit/test_i18n.py checks those). Staff templates (staff_*) are English only. A purpose
whose context is not covered by BASE_CONTEXT needs an entry in SAMPLES below.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from babel.dates import format_date
from jinja2 import TemplateSyntaxError, UndefinedError

from bot import verify
from bot.config import REPO_ROOT
from bot.replies import Rendered, Renderer
from bot.rights.correction import Change, CorrectionResult
from bot.rights.deletion import DeletionCertificate, FileRecord, PlanItem
from bot.rights.usage import CategoryUse, RecipientSummary, UsageReport
from storage import models

RENDERER = Renderer(REPO_ROOT / "templates")
LANGUAGES = tuple(sorted(RENDERER.languages() - {"en"}))
TEMPLATES = sorted(RENDERER.env.list_templates())

REF = "SP-REQ-000123"
RECEIVED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 25, 17, 0, tzinfo=UTC)
OLD_DUE = datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
ACT_AT = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
WINDOW_ENDS = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)
ISSUED = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)
UPDATED = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
PROMISED = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

# "<expression> | date" in the English template -> the datetime it shows in the first sample.
SHOWN_DATES = {"case.due_at": DUE, "old_due": OLD_DUE, "act_at": ACT_AT,
               "window_ends": WINDOW_ENDS, "inv.issued_at": ISSUED, "p.updated_at": UPDATED,
               "p.promised_delivery": PROMISED}

# The words clients type back, per language; each must be one the bot understands.
NOT_ME = {"de": "NICHT ICH", "fr": "PAS MOI", "es": "NO FUI YO"}
CANCEL = {"de": "ABBRECHEN", "fr": "ANNULER", "es": "CANCELAR", "it": "ANNULLA",
          "pt": "CANCELAR"}


def _purposes() -> set[str]:
    prefix = "email/"
    return {name.removeprefix(prefix).removesuffix(".txt.j2") for name in TEMPLATES
            if name.startswith(prefix) and name.endswith(".txt.j2") and name.count("/") == 1}


CLIENT_PURPOSES = sorted(p for p in _purposes() if not p.startswith(("staff_", "_")))


def _source(name: str) -> str:
    return (REPO_ROOT / "templates" / name).read_text(encoding="utf-8")


def _case() -> models.Case:
    return models.Case(id=7, ref=REF, kind="access", intents="access,deletion",
                       status="waiting", client_id=3, requester="jane@example.com",
                       language="en", subject="My data", received_at=RECEIVED, due_at=DUE)


BASE_CONTEXT: dict[str, Any] = {
    "company": "Stelloloxon Pro",
    "bot_address": "privacy@stelloloxonpro.com",
    "response_days": 30,
    "re_subject": "Re: My data",
}


def _invoice(number: str, project: str | None) -> dict[str, Any]:
    return {"number": number, "issued_at": ISSUED, "amount": "1,234.50 EUR", "status": "paid",
            "project": project}


def _project(reference: str, promised: datetime | None) -> dict[str, Any]:
    return {"reference": reference, "title": "Gearbox housing", "status": "in_progress",
            "status_text": "in preparation", "updated_at": UPDATED,
            "promised_delivery": promised}


def _mesh(filename: str, **report: Any) -> dict[str, Any]:
    base = {"filename": filename, "format": "stl", "status": "ok", "note": "",
            "triangles": 123_456, "extents_mm": [120.0, 80.5, 42.0], "volume_mm3": 153_200.5,
            "watertight": True, "problems": [], "size": 2_400_000, "model_file_id": 9}
    return {**base, **report}


NEUTRAL = {"known": False, "projects": [], "invoices": [], "choices": [], "unmatched": False}

# Per purpose, one context or a list of them (one per branch worth rendering); the first one
# is the one whose dates are checked.
EFFECTS = {"to": "jane@example.com", "grace_days": 7, "cooloff_days": 7,
           "changes": [("phone", "+49 30 1234567")], "new_email": "e**@evil.net"}
SAMPLES: dict[str, dict[str, Any] | list[dict[str, Any]]] = {
    "ack": {"intents": ["access", "deletion", "correction", "restriction", "optout",
                        "usage_report", "project_status", "new_project", "technical_question",
                        "billing", "reminder", "complaint", "other"], "entities": None,
            "steps": ["access", "optout", "project_status", "new_project", "other"]},
    "clarify": {"choices": ["access", "correction", "deletion", "restriction", "optout",
                            "usage_report"]},
    "correction_done": [{"result": CorrectionResult(
        applied=[Change("phone", None, "+49 30 1234567"),
                 Change("business_address", "Alte Str. 1", "Hauptstraße 5, 10115 Berlin")],
        needs_verification=[("email", "new@example.com")],
        needs_staff=[("company", "Jane GmbH")])},
        {"result": CorrectionResult()}],
    "deletion_certificate": [{"certificate": DeletionCertificate(
        client_id=3, executed_at=ACT_AT, actor="scheduler",
        deleted={"client_emails": 2, "communications": 5, "website_usage": 0},
        anonymised={"clients": 1},
        files=[FileRecord("PRJ-1", "bracket.stl", "ab" * 32, 123456)],
        kept=[PlanItem("invoices", 2, "keep", "tax law", datetime(2033, 12, 31, tzinfo=UTC)),
              PlanItem("payments", 1, "keep", "tax law")],
        kept_records=[])},
        {"certificate": DeletionCertificate(client_id=3, executed_at=ACT_AT, actor="bot",
                                            deleted={"clients": 1}, anonymised={}, files=[],
                                            kept=[], kept_records=[])}],
    "deletion_scheduled": {"act_at": ACT_AT},
    "deletion_review": {"projects": ["SP-2025-0041"], "invoices": ["1187"]},
    "export_password": {"password": "correct-horse-battery"},
    "export_ready": {"categories": {"clients": 1, "model_files": 3}, "size": 52_300,
                     "labels": {"model_files": "3D model files"}},
    "verify_new_email": {"code": "ABCD-EF23", "hours": 24},
    "email_changed": {"old": "old@example.com", "new": "new@example.com"},
    "export_link": {"categories": {"clients": 1}, "size": 52_300_000, "labels": {},
                    "url": "http://127.0.0.1:8025/download/abc", "hours": 72, "count": 3},
    "extension": {"days": 30, "reason": "many projects to review", "old_due": OLD_DUE},
    "policy_change": {"name": "Jane Doe", "client": models.Client(
        id=3, name="Jane Doe", created_at=RECEIVED, last_active_at=RECEIVED)},
    "request_denied": {"reason": "The address is not on file."},
    "requester_lapsed": {"window_days": 14},
    "requester_reminder": {"window_ends": WINDOW_ENDS},
    "usage_report": [{"report": UsageReport(
        client_id=3, generated_at=RECEIVED, purposes=("delivery",),
        categories=[CategoryUse("contact", "Contact details", 1, ("delivery", "invoicing"),
                                ("hosting",), "3 years"),
                    CategoryUse("files", "3D model files", 4, ("delivery",), (), "1 year")],
        disclosures=[],
        recipients=[RecipientSummary("Hetzner", ("contact",), ("hosting",), 2,
                                     datetime(2026, 1, 5, tzinfo=UTC), OLD_DUE)],
        counts={"clients": 1})},
        {"report": UsageReport(client_id=3, generated_at=RECEIVED, purposes=(), categories=[],
                               disclosures=[], recipients=[], counts={})}],
    "verify_code": [{"code": "ABCD-EF23", "actions": ["access", "deletion", "correction",
                                                      "restriction", "usage_report"],
                     "hours": 72, "channel": "email", "minutes": 15, "effects": EFFECTS},
                    {"code": "ABCD-EF23", "actions": ["project_status", "billing"], "hours": 72,
                     "channel": "chat", "minutes": 15, "effects": EFFECTS}],
    "verify_wrong": [{"attempts_left": 2}, {"attempts_left": 1}, {"attempts_left": 0}],
    "invoice_copy": [
        {"known": True, "invoices": [_invoice("INV-1187", "SP-2026-0042"),
                                     _invoice("INV-1188", None)],
         "choices": [], "unmatched": True},
        {"known": True, "invoices": [], "choices": [_invoice("INV-1187", None)],
         "unmatched": True},
        NEUTRAL],
    "project_pick": [{"known": True, "projects": [_project("SP-2026-0042", None)],
                      "unmatched": True},
                     {"known": True, "projects": [], "unmatched": False},
                     NEUTRAL],
    "project_status": [{"projects": [_project("SP-2026-0042", PROMISED),
                                      _project("SP-2026-0043", None)], "unmatched": True},
                       {"projects": [_project("SP-2026-0042", PROMISED)], "unmatched": False}],
    "job_received": [
        {"project": {"reference": "SP-2026-0042"},
         "files": [_mesh("bracket.stl", problems=["12 holes in the surface"]),
                   _mesh("lid.obj", volume_mm3=None, watertight=False, size=900),
                   _mesh("big.step", status="not_analysed", note="stored, not analysed")],
         "rejected": [{"filename": "setup.exe", "reason": "not a model file"}],
         "ignored": ["notes.pdf"], "requirements": [("Printer", "Prusa MK4"),
                                                     ("Material", "PETG")]},
        {"project": None, "files": [], "rejected": [], "ignored": [], "requirements": []}],
}


def _variants(purpose: str) -> list[dict[str, Any]]:
    sample = SAMPLES.get(purpose, {})
    return sample if isinstance(sample, list) else [sample]


def _render(purpose: str, lang: str, variant: dict[str, Any]) -> Rendered:
    try:
        return RENDERER.render(purpose, lang, **{**BASE_CONTEXT, "case": _case(), **variant})
    except UndefinedError as exc:
        if purpose in SAMPLES:
            raise
        pytest.fail(f"{purpose}: add a sample context to SAMPLES in this file ({exc})")


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
def test_every_template_compiles(lang: str) -> None:
    env = RENDERER.env_for(lang)
    names = [n for n in TEMPLATES if n.startswith(("email/", "chat/", "export/"))]
    assert names
    broken = []
    for name in names:
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            broken.append(f"{name}:{exc.lineno}: {exc.message}")
    assert not broken, "\n".join(broken)


def test_there_is_one_template_per_purpose_not_one_per_language() -> None:
    nested = [n for n in TEMPLATES if n.startswith(("email/", "chat/")) and n.count("/") > 1]
    assert not nested, f"per-language template copies are back: {nested}"


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
@pytest.mark.parametrize("purpose", CLIENT_PURPOSES)
def test_client_purpose_renders(purpose: str, lang: str) -> None:
    outs = [_render(purpose, lang, variant) for variant in _variants(purpose)]
    for out in outs:
        assert out.language == lang, f"{purpose} fell back to {out.language}"
        assert out.subject and out.text.strip() and out.html
        assert f'lang="{lang}"' in out.html, f"{purpose}: the HTML does not say lang={lang!r}"
    out = outs[0]
    english = _source(f"email/{purpose}.txt.j2")
    if "case.ref" in english:
        assert REF in out.text, f"{purpose} ({lang}): the case reference is not in the text"
    if "case.ref" in _source(f"email/{purpose}.subject.j2"):
        assert REF in out.subject
    for expr, when in SHOWN_DATES.items():
        if re.search(r"(\{\{|=)\s*" + re.escape(expr) + r"\s*\|\s*date\b", english):
            local = format_date(when, format="long", locale=lang)
            assert local in out.text, f"{purpose} ({lang}): {expr} not shown as {local!r}"
            assert local in out.html


def test_german_dates_are_german() -> None:
    out = _render("ack", "de", _variants("ack")[0])
    assert "25. Dezember 2026" in out.text and "25. November 2026" in out.text
    assert "25. Dezember 2026" in out.html


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
def test_reply_keywords_are_ones_the_bot_understands(lang: str) -> None:
    code = _render("verify_code", lang, _variants("verify_code")[0]).text
    scheduled = _render("deletion_scheduled", lang, _variants("deletion_scheduled")[0]).text
    assert "NOT ME" in code and "CANCEL" in scheduled
    if lang in NOT_ME:
        assert NOT_ME[lang] in code and verify.says_not_me(NOT_ME[lang].lower())
    if lang in CANCEL:
        assert CANCEL[lang] in scheduled and verify.says_cancel(CANCEL[lang].lower())


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
def test_chat_code_mail_gives_minutes_not_hours(lang: str) -> None:
    email, chat = (_render("verify_code", lang, v).text for v in _variants("verify_code"))
    assert "72" in email and "15" not in email
    assert "15" in chat and "72" not in chat


@pytest.mark.parametrize("lang", ("en", *LANGUAGES))
def test_code_mail_says_what_will_happen(lang: str) -> None:
    text = _render("verify_code", lang, _variants("verify_code")[0]).text
    assert "jane@example.com" in text  # where the copy goes
    assert "e**@evil.net" in text and "+49 30 1234567" in text  # the changes, email masked
    assert " 7 " in text  # grace and cool-off days
    assert "NOT ME" in text  # how to stop it


# Languages whose letters start the first sentence after "Hello," with a capital (German and
# Italian correspondence continue in lower case after a comma, and so do these templates).
CAPITALISED = ("en", "fr", "es", "pt", "nl")
GREETING = re.compile(r"^(Hello|Hi|Dear|Bonjour|Buenos días|Hola|Bom dia|Olá|Goedendag|Beste|"
                      r"Geachte)\b[^\n]*[,:]$")


@pytest.mark.parametrize("lang", CAPITALISED)
def test_the_sentence_after_the_greeting_starts_with_a_capital(lang: str) -> None:
    lower = []
    for purpose in CLIENT_PURPOSES:
        for variant in _variants(purpose):
            out = _render(purpose, lang, variant)
            lines = [line.strip() for line in out.text.splitlines() if line.strip()]
            for greeting, first in itertools.pairwise(lines):
                if GREETING.match(greeting) and first[0].islower():
                    lower.append(f"{purpose}: {first[:40]}")
            paragraphs = re.findall(r"<p>(.*?)</p>", out.html or "", re.S)
            for greeting, first in itertools.pairwise(paragraphs):
                if GREETING.match(greeting.strip()) and first.strip()[:1].islower():
                    lower.append(f"{purpose} (HTML): {first[:40]}")
    assert not lower, "\n".join(lower)


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
def test_a_project_question_is_not_promised_the_privacy_deadline(lang: str) -> None:
    def ack(intents: list[str]) -> str:
        return _render("ack", lang, {"intents": intents, "steps": intents}).text

    status, access = ack(["project_status"]), ack(["access"])
    assert "30" not in status and format_date(DUE, format="long", locale=lang) not in status
    assert "30" in access and format_date(DUE, format="long", locale=lang) in access
