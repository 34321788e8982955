"""The data side of the privacy rights (issue 8): export, erasure, usage, correction, restriction.

Every function here is pure over a Session and the App: callers own the transaction
(`unit_of_work`) and the write lock. This module holds what they share: the data categories
as the privacy policy describes them (purposes, recipients, retention, source) and date helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.i18n import N_


class ClientNotFound(LookupError):
    """No client with that id."""


# The policy's "How We Use Your Information" list, verbatim, so replies quote the policy.
PURPOSES: tuple[str, ...] = (
    N_("Process your 3D models according to your specifications and printing requirements"),
    N_("Communicate with you about project progress, technical questions, and delivery timelines"),
    N_("Send invoices and handle payment processing for completed work"),
    N_("Provide technical support and troubleshooting assistance when needed"),
    N_("Improve our service quality based on client feedback and usage patterns"),
    N_("Keep records of completed projects for quality assurance and potential future reference"),
)
P_MODELS, P_COMMUNICATE, P_INVOICE, P_SUPPORT, P_IMPROVE, P_RECORDS = PURPOSES

# Recipient categories from the policy's "Information Sharing and Disclosure" section.
R_CLOUD = N_("Cloud storage and email providers (service providers)")
R_PAYMENTS = N_("Payment processors (service providers)")
R_LAW = N_("Authorities, only when required by law")
R_NONE = N_("Nobody outside the company")


@dataclass(frozen=True)
class Category:
    """A data category with what the law asks to accompany a copy of it."""

    key: str
    title: str
    description: str
    source: str
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    retention: str
    tables: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "contact", N_("Contact information"),
        N_("Your name, email addresses, phone number, business address and company."),
        N_("Provided by you when you contacted us or ordered a service."),
        (P_COMMUNICATE, P_INVOICE, P_SUPPORT),
        (R_CLOUD, R_PAYMENTS),
        N_("Kept while you are an active client and for 2 years after your last activity."),
        ("client", "emails"),
    ),
    Category(
        "projects", N_("Project details"),
        N_("Your projects: titles, specifications, printing requirements, status and dates."),
        N_("Provided by you; status and dates recorded by us while doing the work."),
        (P_MODELS, P_SUPPORT, P_RECORDS),
        (R_CLOUD,),
        N_("Kept for 3 years after the project is completed."),
        ("projects",),
    ),
    Category(
        "model_files", N_("3D model files"),
        N_("The 3D model files you sent us. We never share your designs or use them for "
           "anything but the work you requested."),
        N_("Provided by you."),
        (P_MODELS, P_SUPPORT, P_RECORDS),
        (R_CLOUD,),
        N_("Kept for 3 years after the project is completed."),
        ("model_files",),
    ),
    Category(
        "communications", N_("Communications"),
        N_("A record of the messages exchanged with you (date, channel, address, subject)."),
        N_("Exchanged between you and us."),
        (P_COMMUNICATE, P_SUPPORT, P_IMPROVE),
        (R_CLOUD,),
        N_("Kept for 3 years after the project they concern is completed."),
        ("communications",),
    ),
    Category(
        "financial", N_("Financial records"),
        N_("Invoices issued to you and payments received from you."),
        N_("Created by us from your orders; payment details from the payment processor."),
        (P_INVOICE,),
        (R_PAYMENTS, R_LAW),
        N_("Kept for 7 years from their date, as accounting and tax law requires."),
        ("invoices", "payments"),
    ),
    Category(
        "website_usage", N_("Website usage"),
        N_("Pages of our website you visited and the browser you used."),
        N_("Collected automatically by our website."),
        (P_IMPROVE,),
        (R_CLOUD,),
        N_("Deleted after 24 months unless aggregated and anonymised."),
        ("website_usage",),
    ),
    Category(
        "disclosures", N_("Disclosure log"),
        N_("Our record of when we passed your data to a service provider, what and why."),
        N_("Recorded by us."),
        (P_RECORDS,),
        (R_NONE,),
        N_("Kept as long as the records it concerns, to account for what we shared."),
        ("disclosures",),
    ),
    Category(
        "privacy_requests", N_("Your privacy requests"),
        N_("The requests you made about your data and how we handled them."),
        N_("Recorded by us when you wrote to us."),
        (P_COMMUNICATE,),
        (R_NONE,),
        N_("Kept to show that we handled your requests as the law requires."),
        ("privacy_requests",),
    ),
)
CATEGORY_BY_KEY = {c.key: c for c in CATEGORIES}


def add_years(when: datetime, years: int) -> datetime:
    """`when` plus whole calendar years; 29 February becomes 28 February."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def add_months(when: datetime, months: int) -> datetime:
    """`when` plus calendar months, clamped to the end of a shorter month."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# Retention periods, as durations from their anchor date (see CATEGORIES for the wording).
CONTACT_YEARS = 2
PROJECT_YEARS = 3
FINANCIAL_YEARS = 7
USAGE_MONTHS = 24
