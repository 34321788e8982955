# ruff: noqa: E501
"""Romanian rules (privacy requests, reminders and complaints)."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    ("access", "acces_date", r"\b(solicit|solicităm|cer) (\S+ ){0,2}accesul\b|\bdreptul de acces\b|\bcopie a (\S+ ){0,2}datelor\b", 0.85),
    ("deletion", "stergere", r"\b(ștergerea|ștergeți|șterge|stergerea|stergeti) (\S+ ){0,4}(datelor|date|contului|contul)\b|\bdreptul de a fi uitat\b", 0.9),
    ("correction", "rectificare", r"\b(rectificarea|corectarea|rectificați|corectați|actualizați) (\S+ ){0,3}(datelor|date|adresa|adresei|numele|numelui)\b", 0.85),
    ("restriction", "restrictionare", r"\brestricționarea (\S+ )?prelucrării\b|\brestricționați\b", 0.85),
    ("optout", "opozitie", r"\bmă opun (\S+ ){0,3}prelucrării\b|\bmarketing direct\b|\bdezabona\w*\b", 0.8),
    ("optout", "nu_mai_trimiteti", r"\bnu (îmi |imi )?mai (trimiteți|trimiteti)\b|\bnu mai (vreau|doresc) să (mai )?primesc\b", 0.85, KEEP),
    ("usage_report", "destinatari", r"\bdestinatarii\b", 0.3),
    ("reminder", "fara_raspuns", r"\bnu am primit (\S+ ){0,2}răspuns\b|\breamintire\b|\bvă contactez din nou\b", 0.8),
    ("complaint", "plangere", r"\b(depun|depune|înaintez) (\S+ ){0,2}plângere\b", 0.85),
    ("complaint", "autoritate", r"\b(autoritatea (națională )?de supraveghere|anspdcp)\b", 0.5),
)
# fmt: on
