"""The gettext catalogs (issue 15): complete, placeholder-safe, in step with the templates, and
the one the bot loads is the committed .po.

`test_every_catalog_is_complete` fails, listing the languages, until translators have filled
every catalog: that is on purpose (an untranslated reply goes out in English).
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot import i18n
from bot.config import REPO_ROOT
from bot.replies import Renderer

from .test_templates import BASE_CONTEXT, CLIENT_PURPOSES, _case, _variants

POT = i18n.TRANSLATIONS_DIR / "messages.pot"
LANGUAGES = sorted(i18n.catalog_languages() - {"en"})
UNDERSTOOD = {"en", "de", "fr", "es", "it", "pt", "nl", "cs", "el", "hr", "ro", "sv"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CHAT_PURPOSES = sorted(p.name.removesuffix(".txt.j2")
                       for p in (REPO_ROOT / "templates" / "chat").glob("*.txt.j2"))


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _ids(catalog: Catalog) -> set[tuple[Any, str | None]]:
    return {(m.id, m.context) for m in catalog if m.id}


def test_every_language_the_bot_understands_has_a_catalog() -> None:
    assert set(i18n.catalog_languages()) == UNDERSTOOD


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_header_is_the_languages_own(lang: str) -> None:
    catalog = _read(i18n.po_path(lang))
    assert catalog.plural_forms == Catalog(locale=lang).plural_forms


def test_every_catalog_is_complete() -> None:
    """Enforced: lists every language with untranslated or fuzzy entries (translators' work)."""
    incomplete = {}
    for lang in LANGUAGES:
        catalog = _read(i18n.po_path(lang))
        missing = [m for m in catalog if m.id and (m.fuzzy or not _translated(m.string))]
        if missing:
            incomplete[lang] = len(missing)
    total = len(_ids(_read(POT)))
    assert not incomplete, "catalogs not yet complete (untranslated or fuzzy of {}): {}".format(
        total, ", ".join(f"{lang} {n}" for lang, n in sorted(incomplete.items())))


def _translated(string: str | tuple[str, ...]) -> bool:
    forms = string if isinstance(string, tuple) else (string,)
    return all(forms)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_placeholder_survives_translation(lang: str) -> None:
    lost = []
    for message in _read(i18n.po_path(lang)):
        if not message.id or not _translated(message.string):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids)) - {"num"}
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for n, form in enumerate(forms):
            if missing := wanted - set(PLACEHOLDER.findall(form)):
                lost.append(f"{ids[0][:50]!r} form {n}: lacks {sorted(missing)}")
    assert not lost, "\n".join(lost)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalog_has_exactly_the_templates_messages(lang: str) -> None:
    assert _ids(_read(i18n.po_path(lang))) == _ids(_read(POT)), "run `make i18n`"


def test_the_pot_is_what_the_templates_say(tmp_path: Path) -> None:
    """A template change without `make i18n` fails here."""
    out = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "N_",
                    "--no-location", "-o", str(out), "."], cwd=REPO_ROOT, check=True,
                   timeout=120)
    fresh, committed = _ids(_read(out)), _ids(_read(POT))
    assert fresh == committed, (
        f"templates and bot/translations/messages.pot differ (run `make i18n`): "
        f"new {sorted(map(str, fresh - committed))[:5]}, gone "
        f"{sorted(map(str, committed - fresh))[:5]}")


def test_the_loaded_catalog_is_the_current_po(tmp_path: Path) -> None:
    """No compiled .mo to go stale: the Renderer reads the .po itself, edits included."""
    assert not list(i18n.TRANSLATIONS_DIR.rglob("*.mo")), "compiled .mo files are not used"
    folder = tmp_path / "translations"
    po = i18n.po_path("sv", folder)
    po.parent.mkdir(parents=True)
    source = i18n.po_path("sv").read_text(encoding="utf-8")
    po.write_text(_with_translation(source, "Hello,", "Hej,"), encoding="utf-8")
    renderer = Renderer(REPO_ROOT / "templates", folder)
    out = renderer.render("verify_wrong", "sv", **_context("verify_wrong"))
    assert out.language == "sv" and out.text.startswith("Hej,")
    po.write_text(_with_translation(source, "Hello,", "Hejsan,"), encoding="utf-8")
    assert i18n.load_translations("sv", folder).gettext("Hello,") == "Hejsan,"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_bot_serves_every_translated_entry_of_the_committed_po(lang: str) -> None:
    translations = i18n.load_translations(lang)
    wrong = []
    for m in _read(i18n.po_path(lang)):
        if not m.id or m.fuzzy or not _translated(m.string):
            continue
        if isinstance(m.id, tuple):
            got = tuple(translations.ngettext(*m.id, n) for n in (1, 2))
            want = (m.string[0], m.string[1] if len(m.string) > 1 else m.string[0])
            if lang in ("de", "en", "nl", "sv", "el") and got != want:
                wrong.append(m.id[0])
        elif m.context:
            if translations.pgettext(m.context, m.id) != m.string:
                wrong.append(m.id)
        elif translations.gettext(m.id) != m.string:
            wrong.append(m.id)
    assert not wrong, wrong[:5]


def _with_translation(po_source: str, msgid: str, msgstr: str) -> str:
    """The catalog with one single-line entry's translation replaced (translated or not)."""
    pattern = re.compile(rf'^msgid "{re.escape(msgid)}"\nmsgstr ".*"$', re.MULTILINE)
    changed, count = pattern.subn(f'msgid "{msgid}"\nmsgstr "{msgstr}"', po_source)
    assert count == 1, f"no single entry {msgid!r}"
    return changed


def _context(purpose: str) -> dict:
    return {**BASE_CONTEXT, "case": _case(), **_variants(purpose)[0]}


@pytest.mark.parametrize("lang", ["cs", "sv"])
def test_a_client_gets_their_own_language_when_the_catalog_has_it(lang: str,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    po = i18n.po_path(lang, folder)
    po.parent.mkdir(parents=True)
    greeting = {"cs": "Dobrý den,", "sv": "Hej,"}[lang]
    po.write_text(_with_translation(i18n.po_path(lang).read_text(encoding="utf-8"), "Hello,",
                                    greeting), encoding="utf-8")
    out = Renderer(REPO_ROOT / "templates", folder).render("ack", lang, **_context("ack"))
    assert out.language == lang
    assert out.text.startswith(greeting) and f'lang="{lang}"' in (out.html or "")


def test_a_language_without_catalog_gets_english() -> None:
    out = Renderer(REPO_ROOT / "templates").render("ack", "ja", **_context("ack"))
    assert out.language == "en" and out.text.startswith("Hello,")


@pytest.mark.parametrize("lang", ["en", *LANGUAGES])
def test_every_template_renders_in_every_language(lang: str) -> None:
    renderer = Renderer(REPO_ROOT / "templates")
    for purpose in CLIENT_PURPOSES:
        for variant in _variants(purpose):
            out = renderer.render(purpose, lang, **{**BASE_CONTEXT, "case": _case(), **variant})
            assert out.language == lang and out.text.strip() and out.subject
    for purpose in CHAT_PURPOSES:
        ctx = {**BASE_CONTEXT, "case": _case(), **_variants(purpose)[0]}
        try:
            renderer.render(purpose, lang, medium="chat", **ctx)
        except Exception as exc:  # chat contexts differ; only a template error is a failure
            if "undefined" not in str(exc):
                raise


def test_renders_in_different_languages_do_not_share_gettext() -> None:
    renderer = Renderer(REPO_ROOT / "templates")
    assert renderer.env_for("de") is renderer.env_for("de")
    assert renderer.env_for("de") is not renderer.env_for("fr")
    assert renderer.env_for("de").globals["lang"] == "de"


def test_concurrent_renders_in_two_languages_keep_their_language() -> None:
    renderer = Renderer(REPO_ROOT / "templates")
    langs = ["de", "en"] * 40

    def first_line(lang: str) -> tuple[str, str]:
        return lang, renderer.render("ack", lang, **_context("ack")).text.splitlines()[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(first_line, langs))
    assert {line for lang, line in results if lang == "de"} == {"Guten Tag,"}
    assert {line for lang, line in results if lang == "en"} == {"Hello,"}
