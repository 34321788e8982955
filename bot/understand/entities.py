"""Entity extraction: project, invoice and case references, e-mail addresses, corrections."""

from __future__ import annotations

import re

from bot.understand.model import Entities

_PROJECT = re.compile(r"\bSP[-_ ]?(\d{4})[-_ ](\d{4})\b", re.IGNORECASE)
_CASE = re.compile(r"\bSP-REQ-?(\d{3,10})\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_INVOICE_CODE = re.compile(r"\bINV-?\d{3,}\b", re.IGNORECASE)
_INVOICE_WORD = re.compile(
    r"\b(?:invoice|rechnung|rechnungsnummer|rechnungsnr|facture|factura|fattura|fatura"
    r"|factuur|factuurnummer)\.?"
    r"(?:\s*(?:no\.?|nr\.?|number|nummer|n°|nº|n\.|num\.?|número|numero|#))?\s*[:#]?\s*"
    r"(?P<num>(?:[A-Z]{1,4}-)?\d[\d/-]{1,20}\d|\d{3,})\b",
    re.IGNORECASE,
)

# Corrections: "<lead-in> <field> <verb> <value>". The value runs to the end of the clause.
_FIELDS = (
    r"(?P<field>phone number|telephone number|mobile number|phone|telephone|mobile|number"
    r"|postal address|home address|billing address|e-?mail address|e-?mail|address|surname"
    r"|last name|name"
    r"|telefonnummer|handynummer|mobilnummer|rufnummer|nummer|e-mail-adresse|postanschrift"
    r"|anschrift|adresse|nachname|name"
    r"|numéro de téléphone|numéro|téléphone|adresse e-mail|adresse électronique|adresse mail"
    r"|courriel|adresse postale|nom"
    r"|número de teléfono|teléfono|móvil|número|correo electrónico|correo|dirección de correo"
    r"|dirección|domicilio|nombre|apellido"
    r"|numero di telefono|numero|telefono|cellulare|indirizzo e-?mail|indirizzo|nome|cognome"
    r"|número de telefone|número de telemóvel|telefone|telemóvel|celular|endereço de e-?mail"
    r"|endereço|morada|apelido"
    r"|telefoonnummer|mobiele nummer|e-?mailadres|adres|naam|achternaam)"
)
_VALUE = (
    r"\s*:?\s*(?P<value>[^\n;]{2,100}?)"
    r"(?=\s*\(|\s*$|\n|;|\.\s|\.$|,\s(?:and|und|et|y|e|en|please|bitte|thanks|thank|danke|merci"
    r"|gracias|grazie|obrigad\w*|bedankt)\b|\s(?:instead of|statt|anstatt|au lieu de|en lugar de"
    r"|en vez de|invece di|em vez de|in plaats van|not)\b)"
)
_LEAD_INS = (
    rf"\bmy new {_FIELDS} (?:is|:)",
    rf"\bmy {_FIELDS} (?:is now|has changed to|changed to|should be|is actually)",
    rf"\b(?:change|update|correct|set|fix) my {_FIELDS} (?:to|into|:)",
    rf"\bnew {_FIELDS}:",
    rf"\bmeine? neuer? {_FIELDS} (?:lautet|ist|:)",
    rf"\bmeine? {_FIELDS} (?:lautet|ist) (?:jetzt|nun|ab sofort|neu)",
    rf"\b{_FIELDS} (?:bitte )?(?:ändern|aktualisieren|korrigieren|berichtigen)(?: auf| in| zu)?:",
    rf"\b(?:mon nouveau|ma nouvelle|mon nouvel) {_FIELDS} (?:est|:)",
    rf"\b(?:changer|modifier|corriger|mettre à jour) (?:mon|ma) {_FIELDS} (?:en|par|pour|:)",
    rf"\bmi nuev[oa] {_FIELDS} (?:es|:)",
    rf"\b(?:cambiar|actualizar|corregir) mi {_FIELDS} (?:a|por|:)",
    rf"\b(?:il mio nuovo|la mia nuova) {_FIELDS} (?:è|:)",
    rf"\b(?:cambiare|aggiornare|correggere|modificare) (?:il mio|la mia) {_FIELDS} (?:in|con|:)",
    rf"\b(?:o meu novo|meu novo|a minha nova|minha nova) {_FIELDS} (?:é|:)",
    rf"\bmijn nieuwe? {_FIELDS} (?:is|luidt|:)",
    rf"\b(?:wijzig|verander) (?:mijn|het) {_FIELDS} (?:naar|in|:)",
)
_CORRECTION = re.compile(
    "|".join(f"(?:{p}{_VALUE})" for p in _LEAD_INS)
    .replace("(?P<field>", "(?:")
    .replace("(?P<value>", "("),
    re.IGNORECASE,
)
_CORRECTIONS = tuple(re.compile(p + _VALUE, re.IGNORECASE) for p in _LEAD_INS)
_PHONE = re.compile(r"\+?\d[\d ()/.-]{4,}\d")


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def project_refs(text: str) -> tuple[str, ...]:
    """ "sp-2025-0042" -> "SP-2025-0042"."""
    return _unique([f"SP-{y}-{n}" for y, n in _PROJECT.findall(text)])


def case_refs(text: str) -> tuple[str, ...]:
    """ "sp-req-000123" -> "SP-REQ-000123"."""
    return _unique([f"SP-REQ-{n}" for n in _CASE.findall(text)])


def emails(text: str) -> tuple[str, ...]:
    """Lower-cased addresses, trailing dots dropped."""
    return _unique([e.rstrip(".").lower() for e in _EMAIL.findall(text)])


def invoice_numbers(text: str) -> tuple[str, ...]:
    """ "INV-1187" as written (upper-cased); "invoice 1187" / "Rechnung Nr. 1187" -> "1187"."""
    found = [(m.start(), m.group(0).upper()) for m in _INVOICE_CODE.finditer(text)]
    for m in _INVOICE_WORD.finditer(text):
        number = m.group("num").upper()
        if not _PROJECT.fullmatch(number) and not _INVOICE_CODE.fullmatch(number):
            found.append((m.start("num"), number))
    return _unique([n for _, n in sorted(found)])


def field_kind(word: str) -> str:
    """Map a field word of any language to name / phone / address / email."""
    w = word.lower()
    if any(k in w for k in ("mail", "courriel", "correo")):
        return "email"
    phone_words = (
        "phone",
        "tele",
        "mobil",
        "handy",
        "rufnummer",
        "numéro",
        "número",
        "numero",
        "nummer",
        "number",
        "cellulare",
        "celular",
        "móvil",
    )
    if any(k in w for k in phone_words):
        return "phone"
    address_words = (
        "address",
        "adress",
        "anschrift",
        "dirección",
        "domicilio",
        "indirizzo",
        "endereço",
        "morada",
        "adres",
    )
    if any(k in w for k in address_words):
        return "address"
    return "name"


def _clean_value(kind: str, value: str) -> str | None:
    value = value.strip().strip(".,:;!?\"'").strip()
    if kind == "email":
        found = _EMAIL.search(value)
        return found.group(0).rstrip(".").lower() if found else None
    if kind == "phone":
        found = _PHONE.search(value)
        return found.group(0).strip() if found else None
    if kind == "name" and (len(value) > 60 or any(ch.isdigit() for ch in value)):
        return None
    return value or None


def corrections(text: str) -> tuple[tuple[str, str], ...]:
    """(field, new value) pairs the text states, in order of appearance."""
    if not _CORRECTION.search(text):
        return ()
    found: list[tuple[int, str, str]] = []
    for pattern in _CORRECTIONS:
        for m in pattern.finditer(text):
            kind = field_kind(m.group("field"))
            value = _clean_value(kind, m.group("value"))
            if value:
                found.append((m.start(), kind, value))
    pairs = [(kind, value) for _, kind, value in sorted(found)]
    return tuple(dict.fromkeys(pairs))


def extract(text: str, *, with_corrections: bool = True) -> Entities:
    """All entities of a cleaned (quote-stripped) text, original case.

    Corrections are the costly part; callers skip them when no correction rule fired.
    """
    return Entities(
        project_refs=project_refs(text),
        invoice_numbers=invoice_numbers(text),
        emails=emails(text),
        corrections=corrections(text) if with_corrections else (),
        case_refs=case_refs(text),
    )
