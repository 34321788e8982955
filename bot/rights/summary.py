"""summary.html inside an export: the client's data as a document a person reads.

One template (templates/export/summary.html.j2), its text translated by the gettext catalogs
(bot/translations/, see bot.i18n) like every reply. The English texts of data categories,
purposes and recipients come from `bot.rights`, marked with N_() so they are in the catalogs
too. Dates and money are formatted with Babel for the requester's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations
from jinja2 import Environment

from bot.i18n import FALLBACK_LANGUAGE, N_
from bot.rights import CATEGORIES

SUMMARY_TEMPLATE = "export/summary.html.j2"
UNKNOWN = "—"

# Stored values shown to the reader, by their stored code.
VALUES: dict[str, str] = {
    "draft": N_("draft"),
    "quoted": N_("quoted"),
    "in_progress": N_("in progress"),
    "delivered": N_("delivered"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "open": N_("open"),
    "paid": N_("paid"),
    "void": N_("void"),
    "disputed": N_("disputed"),
    "awaiting_staff": N_("waiting for our staff"),
    "awaiting_requester": N_("waiting for you"),
    "deletion_scheduled": N_("deletion scheduled"),
    "closed": N_("closed"),
    "email": N_("email"),
    "telegram": N_("Telegram"),
    "card": N_("card"),
    "bank_transfer": N_("bank transfer"),
    "access": N_("copy of your data"),
    "deletion": N_("deletion"),
    "correction": N_("correction"),
    "restriction": N_("restriction"),
    "optout": N_("stop marketing mail"),
    "usage_report": N_("how your data was used"),
}

# The export's tables as the reader calls them (also the labels in export_ready/export_link).
TABLES: dict[str, str] = {
    "client": N_("your details"),
    "emails": N_("email addresses"),
    "projects": N_("projects"),
    "model_files": N_("3D model files"),
    "communications": N_("messages"),
    "invoices": N_("invoices"),
    "payments": N_("payments"),
    "website_usage": N_("website visits"),
    "disclosures": N_("disclosures"),
    "privacy_requests": N_("privacy requests"),
}


def translations_of(env: Environment) -> NullTranslations:
    """The gettext catalog installed in `env` (see Renderer.env_for)."""
    return env.globals.get("translations") or NullTranslations()  # type: ignore[return-value]


def table_labels(env: Environment) -> dict[str, str]:
    """The export's table names in `env`'s language."""
    gettext = translations_of(env).gettext
    return {name: gettext(label) for name, label in TABLES.items()}


@dataclass(frozen=True)
class Formatter:
    """Values as the reader's language writes them."""

    locale: str
    gettext: Callable[[str], str]

    def date(self, value: str | datetime | None) -> str:
        if value is None:
            return UNKNOWN
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_date(when, format="long", locale=self.locale)

    def money(self, cents: int | None, currency: str) -> str:
        if cents is None:
            return UNKNOWN
        return format_currency(cents / 100, currency, locale=self.locale)

    def size(self, size: int) -> str:
        for unit, factor in ((self.gettext("MB"), 1024 * 1024), (self.gettext("KB"), 1024)):
            if size >= factor:
                number = format_decimal(size / factor, format="#,##0.0", locale=self.locale)
                return f"{number} {unit}"
        return f"{format_decimal(size, locale=self.locale)} B"

    def yes_no(self, value: bool) -> str:
        return self.gettext("Yes") if value else self.gettext("No")

    def value(self, raw: str | None) -> str:
        if not raw:
            return UNKNOWN
        return self.gettext(VALUES[raw]) if raw in VALUES else raw.replace("_", " ")

    def table(self, name: str) -> str:
        return self.gettext(TABLES.get(name, name))

    def language(self, code: str | None) -> str:
        try:
            return Locale.parse(code).get_display_name(self.locale) if code else self.text(code)
        except (ValueError, UnknownLocaleError):
            return code or self.text(code)

    def text(self, value: Any) -> str:
        return UNKNOWN if value in (None, "") else str(value)


def about_categories(gettext: Callable[[str], str],
                     counts: dict[str, int]) -> list[dict[str, Any]]:
    """Art. 15 per category in the reader's language: what, source, purposes, recipients, kept."""
    return [{
        "title": gettext(c.title),
        "description": gettext(c.description),
        "source": gettext(c.source),
        "retention": gettext(c.retention),
        "purposes": [gettext(p) for p in c.purposes],
        "recipients": [gettext(r) for r in c.recipients],
        "records": sum(counts.get(t, 0) for t in c.tables),
    } for c in CATEGORIES]


def render_summary(env: Environment, document: dict[str, Any], lang: str,
                   files: list[dict[str, Any]]) -> str:
    """The summary page for `document` (the data.json content) in `env`'s language.

    `env` is `Renderer.env_for(lang)`; an environment without a catalog writes English.
    """
    lang = str(env.globals.get("lang", FALLBACK_LANGUAGE))
    gettext = translations_of(env).gettext
    tables = document["tables"]
    counts = {name: len(rows) for name, rows in tables.items()}
    currencies = {i["number"]: i["currency"] for i in tables["invoices"]}
    return env.get_template(SUMMARY_TEMPLATE).render(
        lang=lang, f=Formatter(lang, gettext), doc=document, t=tables,
        about=about_categories(gettext, counts), files=files,
        csv_tables=list(tables), currencies=currencies,
        has_files=any(f["included"] for f in files),
    )
