"""summary.html inside an export: the client's data as a document a person reads.

One template (templates/export/summary.html.j2) and one string table per language
(templates/export/i18n/<lang>.json, English as the fallback). English category texts come from
`bot.rights.CATEGORIES`; other languages translate them in their table. Dates and money are
formatted with Babel for the requester's language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, TemplateNotFound

from bot.rights import CATEGORIES, PURPOSES

SUMMARY_TEMPLATE = "export/summary.html.j2"
FALLBACK = "en"


def strings_for(env: Environment, lang: str) -> dict[str, Any]:
    """The string table for `lang`, falling back to English for a missing language or key."""
    english = _load(env, FALLBACK)
    assert english is not None, "templates/export/i18n/en.json is missing"
    own = _load(env, lang) if lang != FALLBACK else None
    if own is None:
        return english
    merged = {**english, **own}
    for nested in ("values", "tables"):
        merged[nested] = {**english[nested], **own.get(nested, {})}
    return merged


def summary_language(env: Environment, lang: str) -> str:
    """`lang` if the summary has a string table in it, else English."""
    return lang if _load(env, lang) is not None else FALLBACK


def _load(env: Environment, lang: str) -> dict[str, Any] | None:
    assert env.loader is not None
    try:
        source, _, _ = env.loader.get_source(env, f"export/i18n/{lang}.json")
    except TemplateNotFound:
        return None
    return json.loads(source)


@dataclass(frozen=True)
class Formatter:
    """Values as the reader's language writes them."""

    strings: dict[str, Any]

    @property
    def locale(self) -> str:
        return self.strings["locale"]

    def date(self, value: str | datetime | None) -> str:
        if value is None:
            return self.strings["unknown"]
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_date(when, format="long", locale=self.locale)

    def money(self, cents: int | None, currency: str) -> str:
        if cents is None:
            return self.strings["unknown"]
        return format_currency(cents / 100, currency, locale=self.locale)

    def size(self, size: int) -> str:
        for unit, factor in ((self.strings["mb"], 1024 * 1024), (self.strings["kb"], 1024)):
            if size >= factor:
                number = format_decimal(size / factor, format="#,##0.0", locale=self.locale)
                return f"{number} {unit}"
        return f"{format_decimal(size, locale=self.locale)} B"

    def yes_no(self, value: bool) -> str:
        return self.strings["yes"] if value else self.strings["no"]

    def value(self, raw: str | None) -> str:
        if not raw:
            return self.strings["unknown"]
        return self.strings["values"].get(raw, raw.replace("_", " "))

    def language(self, code: str | None) -> str:
        try:
            return Locale.parse(code).get_display_name(self.locale) if code else self.text(code)
        except (ValueError, UnknownLocaleError):
            return code or self.text(code)

    def text(self, value: Any) -> str:
        return self.strings["unknown"] if value in (None, "") else str(value)


def about_categories(strings: dict[str, Any], counts: dict[str, int]) -> list[dict[str, Any]]:
    """Art. 15 per category in the reader's language: what, source, purposes, recipients, kept."""
    own = strings.get("categories", {})
    purposes = dict(zip(PURPOSES, strings.get("purpose_texts", PURPOSES), strict=True))
    recipients = strings.get("recipients_map", {})
    rows = []
    for c in CATEGORIES:
        text = own.get(c.key, {})
        rows.append({
            "title": text.get("title", c.title),
            "description": text.get("description", c.description),
            "source": text.get("source", c.source),
            "retention": text.get("retention", c.retention),
            "purposes": [purposes[p] for p in c.purposes],
            "recipients": [recipients.get(r, r) for r in c.recipients],
            "records": sum(counts.get(t, 0) for t in c.tables),
        })
    return rows


def render_summary(env: Environment, document: dict[str, Any], lang: str,
                   files: list[dict[str, Any]]) -> str:
    """The summary page for `document` (the data.json content) in `lang` (or English)."""
    lang = summary_language(env, lang)
    strings = strings_for(env, lang)
    tables = document["tables"]
    counts = {name: len(rows) for name, rows in tables.items()}
    currencies = {i["number"]: i["currency"] for i in tables["invoices"]}
    return env.get_template(SUMMARY_TEMPLATE).render(
        lang=lang, s=strings, f=Formatter(strings), doc=document, t=tables,
        about=about_categories(strings, counts), files=files,
        csv_tables=list(tables), currencies=currencies,
        has_files=any(f["included"] for f in files),
    )
