# ruff: noqa: E501
"""Swedish rules (privacy requests, reminders and complaints)."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    ("access", "registerutdrag", r"\bregisterutdrag\b|\b(begär|begäran om) (\S+ ){0,2}tillgång\b|\bkopia (av|på) (\S+ ){0,3}(personuppgifter|uppgifter)\b", 0.85),
    ("deletion", "radera", r"\b(radera|radering|raderas|ta bort|tas bort) (\S+ ){0,3}(personuppgifter|uppgifter|konto|data)\b|\brätten att bli bortglömd\b", 0.9),
    ("correction", "rattelse", r"\b(begär (härmed )?rättelse|rättelse (\S+ ){0,4}(personuppgifter|uppgifter))\b|\b(rätta|korrigera|uppdatera|ändra) (\S+ ){0,3}(personuppgifter|uppgifter|adress|namn|telefonnummer)\b", 0.85),
    ("restriction", "begransning", r"\bbegränsning av (\S+ )?behandling\w*\b", 0.85),
    ("optout", "invandning", r"\binvänd\w* mot (\S+ ){0,3}behandling\w*\b|\bdirektmarknadsföring\b", 0.8),
    ("optout", "avregistrera", r"\b(avregistrera|avsluta prenumeration\w*|avanmäl\w*)\b", 0.85),
    ("optout", "vill_inte_fa", r"\bvill inte (längre )?få\b", 0.85, KEEP),
    ("usage_report", "mottagare", r"\bmottagare\b", 0.3),
    ("reminder", "inget_svar", r"\b(kontaktar|skriver till) (jag )?(er|dig) (\S+ )?igen\b|\binget svar\b|\bpåminnelse\b", 0.8, KEEP),
    ("reminder", "formaning", r"\bförmaning\w*\b", 0.45),
    ("reminder", "overskrids", r"\b(överskrids|överskriden|har löpt ut)\b", 0.6),
    ("complaint", "klagomal", r"\b(lämnar|lämna|inger) (\S+ ){0,2}klagomål\b|\bklaga hos\b", 0.85),
    ("complaint", "tillsynsmyndighet", r"\b(tillsynsmyndighet\w*|integritetsskyddsmyndigheten|imy)\b", 0.5),
)
# fmt: on
