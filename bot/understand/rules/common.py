# ruff: noqa: E501
"""Language-independent rules: GDPR article citations, shared loan words, references."""

from __future__ import annotations

# "Art. 15", "Article 15(3)", "Artikel 15", "článku 15", "članka 15.", "άρθρο 15" ...
_ART = r"(art(\.|icle|ikel|ículo|iculo|icolo|igo|icolul|ykuł)?|čl(\.|ánku|ánek|ánkem|anak|anka|anku|ankom)|άρθρ(ο|ου))"
# ... counted only near the name of the regulation, so "Art. 15" of some other law is not.
_CTX = r"(gdpr|dsgvo|rgpd|avg|uredb\w*|nařízení|γκπδ)"


def _article(number: int) -> str:
    n = str(number)
    return rf"\b{_ART} ?{n}\b(?=[^\n]{{0,90}}?\b{_CTX})|\b{_CTX}[^\n]{{0,12}}?\b{_ART} ?{n}\b"


# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # Article citations are supporting evidence: letters cite several articles, and the
    # request itself (a phrase rule) decides.
    ("access", "gdpr_art15", _article(15), 0.45),
    ("access", "gdpr_art20_portability", _article(20), 0.4),
    ("correction", "gdpr_art16", _article(16), 0.45),
    ("deletion", "gdpr_art17", _article(17), 0.45),
    ("restriction", "gdpr_art18", _article(18), 0.45),
    # Art. 21(1) objects to processing (restriction); 21(2)/(3) to direct marketing (opt-out),
    # which the marketing words of the letter then say (tests/data/LABELS.md)
    ("restriction", "gdpr_art21", _article(21), 0.45),
    ("complaint", "gdpr_art77", _article(77), 0.6),
    ("optout", "unsubscribe", r"\b(unsubscribe|opt[- ]?out)\b", 0.85),
    ("optout", "newsletter", r"\bnewsletters?\b", 0.4),
    ("new_project", "model_file", r"\.(stl|obj|3mf|step|stp|fbx|blend|ply|amf|iges?)\b", 0.35),
    ("billing", "invoice_code", r"\binv-?\d{3,}\b", 0.6),
    ("project_status", "project_ref", r"\bsp-\d{4}-\d{4}\b", 0.25),
)
# fmt: on
