"""Every message the bot writes is a template under templates/, translated with gettext.

Layout: templates/<medium>/<purpose>.{subject,txt,html}.j2 with English text as the msgid
(`{% trans %}` blocks, `_()`), translated by bot/translations/<lang>/LC_MESSAGES/messages.po
(see bot.i18n). One Jinja2 Environment per language, made once and cached, each with its own
gettext installed: renders in different languages never share mutable state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from bot.i18n import FALLBACK_LANGUAGE, TRANSLATIONS_DIR, catalog_languages, load_translations


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str


class Renderer:
    def __init__(self, templates_dir: Path, translations_dir: Path = TRANSLATIONS_DIR) -> None:
        self.templates_dir = templates_dir
        self.translations_dir = translations_dir
        self._catalogs = catalog_languages(translations_dir)
        self._envs: dict[str, Environment] = {}
        self._lock = threading.Lock()
        self.env = self.env_for(FALLBACK_LANGUAGE)  # English: staff mail, dashboard

    def languages(self, medium: str = "email") -> set[str]:
        """The languages replies can be written in: every language with a catalog."""
        return set(self._catalogs)

    def language_for(self, language: str | None) -> str:
        """`language` if it has a catalog (also for a region like pt-BR), else English."""
        code = (language or "").strip().lower().replace("_", "-")
        for candidate in (code, code.split("-")[0]):
            if candidate in self._catalogs:
                return candidate
        return FALLBACK_LANGUAGE

    def env_for(self, language: str) -> Environment:
        """The cached Environment whose gettext is `language`'s catalog."""
        lang = self.language_for(language)
        with self._lock:
            env = self._envs.get(lang)
            if env is None:
                env = self._envs[lang] = self._environment(lang)
        return env

    def _environment(self, lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.policies["ext.i18n.trimmed"] = True
        translations = load_translations(lang, self.translations_dir)
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        env.globals["translations"] = translations
        env.filters["date"] = _date_filter
        env.filters["number"] = _number_filter
        env.globals["lang"] = lang
        return env

    def render(self, purpose: str, language: str, medium: str = "email", **ctx: Any) -> Rendered:
        """Render subject, text and (if present) HTML for a purpose in a language.

        Chat uses its own shorter wording where there is one, else the email template; the
        language is the client's when it has a catalog, else English.
        """
        lang = self.language_for(language)
        env = self.env_for(lang)
        medium = self._medium(env, purpose, medium)
        ctx.setdefault("lang", lang)
        subject = self._render(env, f"{medium}/{purpose}.subject.j2", ctx).strip()
        text = self._render(env, f"{medium}/{purpose}.txt.j2", ctx)
        html = self._render_optional(env, f"{medium}/{purpose}.html.j2", ctx)
        if html is None and medium == "email":
            html = self._text_as_html(env, text, subject, lang)
        return Rendered(subject=" ".join(subject.split()), text=text, html=html, language=lang)

    def _medium(self, env: Environment, purpose: str, medium: str) -> str:
        if medium == "chat" and not _has(env, f"chat/{purpose}.txt.j2"):
            return "email"
        return medium

    def _text_as_html(self, env: Environment, text: str, title: str, lang: str) -> str:
        """The HTML alternative for purposes without their own: the text in paragraphs."""
        blocks = []
        for para in text.strip().split("\n\n"):
            lines = para.split("\n")
            indented = all(line.startswith("    ") for line in lines if line.strip())
            blocks.append({"kind": "pre", "text": para.strip()} if indented
                          else {"kind": "p", "lines": lines})
        return self._render(env, "email/_base.html.j2",
                            {"blocks": blocks, "title": title, "lang": lang})

    @staticmethod
    def _render(env: Environment, name: str, ctx: dict[str, Any]) -> str:
        return env.get_template(name).render(**ctx)

    @staticmethod
    def _render_optional(env: Environment, name: str, ctx: dict[str, Any]) -> str | None:
        try:
            template = env.get_template(name)
        except TemplateNotFound:
            return None
        return template.render(**ctx)


def _has(env: Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except TemplateNotFound:
        return False
    return True


@pass_context
def _date_filter(ctx: Context, value: datetime) -> str:
    return _format_date(value, ctx.get("lang", FALLBACK_LANGUAGE))


def _format_date(value: datetime, lang: str) -> str:
    try:
        return format_date(value, format="long", locale=lang)
    except Exception:  # unknown locale: fall back to ISO, never fail a reply over a date
        return value.strftime("%Y-%m-%d")


@pass_context
def _number_filter(ctx: Context, value: float, format: str | None = None) -> str:
    """A number as the reader's language writes it (Babel), e.g. 1,234.5 or 1.234,5."""
    return format_decimal(value, format=format, locale=ctx.get("lang", FALLBACK_LANGUAGE))
