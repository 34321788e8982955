# ruff: noqa: E501
"""Croatian rules (privacy requests, reminders and complaints)."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    ("access", "pristup_podacima", r"\b(zahtijevam|tražim|pravo na|zahtjev za) pristup\b|\bpristup (\S+ ){0,2}(osobnim )?podacima\b|\bkopij\w+ (svih )?(mojih )?(osobnih )?podataka\b", 0.85),
    ("deletion", "brisanje_podataka", r"\b(brisanje|izbrisati|izbrišite|obrisati|obrišite|brisanja) (\S+ ){0,3}(podataka|podatke|računa|račun)\b|\bpravo na zaborav\b", 0.9),
    ("correction", "ispravak_podataka", r"\b(ispravljanje|ispravak|ispravka|ispraviti|ispravite|dopunu|dopunavanje|ažurirati|ažurirajte) (\S+ ){0,3}(podataka|podatke|adres\w*|imena?)\b", 0.85),
    ("restriction", "ogranicenje_obrade", r"\bograničenje obrade\b|\bograniči(te|ti) obradu\b", 0.85),
    ("optout", "protivim_se", r"\bprotivim se (\S+ ){0,2}obradi\b|\bprigovor (\S+ ){0,4}(obrad|marketing)\w*", 0.85),
    ("optout", "izravni_marketing", r"\bizravn\w+ marketing\w*\b", 0.6),
    ("optout", "odjava", r"\bodjav\w+\b", 0.8),
    ("optout", "ne_saljite", r"\bne šaljite mi\b|\bnemojte mi (više )?slati\b", 0.8, KEEP),
    ("optout", "povlacim_pristanak", r"\bpovlačim (\S+ ){0,2}pristanak\b", 0.35),
    ("usage_report", "primatelji", r"\bprimatelj\w*\b", 0.3),
    ("reminder", "bez_odgovora", r"\bnisam primi\S* (\S+ ){0,2}odgovor\b|\bponovno (vas )?kontakt\w+\b|\bpodsjetnik\b", 0.8),
    ("reminder", "opomena", r"\bopomen\w+\b", 0.45),
    ("reminder", "rok_premasen", r"\b(premašen (je )?rok|rok (\S+ ){0,6}premašen|time je premašen)\b", 0.7),
    ("complaint", "podnosim_zalbu", r"\b(podnosim|podnijeti|podnesem) (\S+ ){0,2}(žalbu|pritužbu)\b", 0.85),
    ("complaint", "nadzorno_tijelo", r"\b(nadzorn\w+ tijel\w*|azop)\b", 0.5),
)
# fmt: on
