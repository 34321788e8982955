# ruff: noqa: E501
"""Czech rules (privacy requests, reminders and complaints)."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    ("access", "pristup_k_udajum", r"\b(žádost|žádám|právo) (\S+ ){0,2}(o )?přístup\b|\bpřístup k (\S+ ){0,2}(osobním )?údajům\b|\bkopi[ie] (všech )?(mých )?(osobních )?údajů\b", 0.85),
    # "(po)vede ke smazání" = "would lead to deletion": a consequence, not a request.
    ("deletion", "vymaz_udaju", r"(?<!ke )\b(vymazání|výmaz|smazání|vymazat|vymažte|smažte|smazat|odstranění|odstraňte) (\S+ ){0,3}(údajů|údaje|účtu|účet|dat|data)\b|\bprávo být zapomenut", 0.9),
    ("correction", "oprava_udaju", r"\b(opravu|oprava|opravit|opravte|doplnění|aktualizaci|aktualizujte) (\S+ ){0,3}(údajů|údaje|adresy|adresu|jména|jméno|telefonní)\b", 0.85),
    ("restriction", "omezeni_zpracovani", r"\bomezení zpracování\b|\bomez(it|te) zpracování\b", 0.85),
    ("optout", "namitka", r"\bnámitk\w* proti (\S+ ){0,3}zpracování\b|\b(vznáším|podávám) námitku\b", 0.85),
    ("optout", "primy_marketing", r"\bpřímého marketingu\b|\bpřímý marketing\b", 0.6),
    ("optout", "odhlasit", r"\b(odhlásit|odhlášení|odhlaste)\b", 0.85),
    ("optout", "nezasilejte", r"\b(nezasílejte|neposílejte) mi\b|\bnechci (již |už )?dostávat\b", 0.85, KEEP),
    ("optout", "odvolavam_souhlas", r"\bodvolávám (\S+ ){0,2}souhlas\b", 0.35),
    ("usage_report", "prijemci", r"\bpříjemc\w+\b", 0.3),
    ("reminder", "bez_odpovedi", r"\b(neobdržel\w*|nedostal\w*) (\S+ ){0,2}odpověď\b|\bznovu (vás )?kontaktuji\b|\bpřipomínk\w+\b|\burgence\b", 0.8, KEEP),
    ("reminder", "upominka", r"\bupomín\w+\b", 0.45),
    ("reminder", "lhuta_prekrocena", r"\b(lhůta|doba) (\S+ ){0,8}překročena\b", 0.7),
    ("complaint", "podavam_stiznost", r"\b(podávám|podat|podám) stížnost\b", 0.85),
    ("complaint", "dozorovy_urad", r"\b(dozorov\w+ úřad\w*|úřad pro ochranu osobních údajů|kontrolní\w* orgán\w*)\b", 0.5),
)
# fmt: on
