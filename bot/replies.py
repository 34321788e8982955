"""The one Jinja2 environment: every message the bot writes is a template under templates/.

Layout: templates/<medium>/<lang>/<purpose>.{subject,txt,html}.j2, English as the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str


class Renderer:
    def __init__(self, templates_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["date"] = _date_filter

    def languages(self, medium: str = "email") -> set[str]:
        return {name.split("/")[1] for name in self.env.list_templates() if name.startswith(medium)}

    def render(self, purpose: str, language: str, medium: str = "email", **ctx: Any) -> Rendered:
        """Render subject, text and (if present) HTML for a purpose in a language.

        Chat looks for a chat wording first, then the email one in the same language (a
        client's own language beats a chat-specific English text), then English.
        """
        medium, lang = self._choose(purpose, language, medium)
        ctx.setdefault("lang", lang)
        subject = self._render(f"{medium}/{lang}/{purpose}.subject.j2", ctx).strip()
        text = self._render(f"{medium}/{lang}/{purpose}.txt.j2", ctx)
        html = self._render_optional(f"{medium}/{lang}/{purpose}.html.j2", ctx)
        if html is None and medium == "email":
            html = self._text_as_html(text, subject, lang)
        return Rendered(subject=" ".join(subject.split()), text=text, html=html, language=lang)

    def _choose(self, purpose: str, language: str, medium: str) -> tuple[str, str]:
        order = [(medium, language), (medium, FALLBACK_LANGUAGE)]
        if medium == "chat":
            order = [("chat", language), ("email", language), ("chat", FALLBACK_LANGUAGE),
                     ("email", FALLBACK_LANGUAGE)]
        for candidate, lang in order:
            if self._has(candidate, lang, purpose):
                return candidate, lang
        return medium, FALLBACK_LANGUAGE  # let the missing template raise a clear error

    def _text_as_html(self, text: str, title: str, lang: str) -> str:
        """The HTML alternative for purposes without their own: the text in paragraphs."""
        blocks = []
        for para in text.strip().split("\n\n"):
            lines = para.split("\n")
            indented = all(line.startswith("    ") for line in lines if line.strip())
            blocks.append({"kind": "pre", "text": para.strip()} if indented
                          else {"kind": "p", "lines": lines})
        return self._render("email/_base.html.j2",
                            {"blocks": blocks, "title": title, "lang": lang})

    def _has(self, medium: str, lang: str, purpose: str) -> bool:
        try:
            self.env.get_template(f"{medium}/{lang}/{purpose}.txt.j2")
        except TemplateNotFound:
            return False
        return True

    def _render(self, name: str, ctx: dict[str, Any]) -> str:
        return self.env.get_template(name).render(**ctx)

    def _render_optional(self, name: str, ctx: dict[str, Any]) -> str | None:
        try:
            template = self.env.get_template(name)
        except TemplateNotFound:
            return None
        return template.render(**ctx)


@pass_context
def _date_filter(ctx: Context, value: datetime) -> str:
    return _format_date(value, ctx.get("lang", FALLBACK_LANGUAGE))


def _format_date(value: datetime, lang: str) -> str:
    try:
        return format_date(value, format="long", locale=lang)
    except Exception:  # unknown locale: fall back to ISO, never fail a reply over a date
        return value.strftime("%Y-%m-%d")
