"""Gettext catalogs for replies: bot/translations/<lang>/LC_MESSAGES/messages.po.

The .po files are the only source: each is compiled to a .mo in memory when first needed, so
the running bot always uses exactly what is committed (no generated binaries to drift).
`make i18n` (scripts/i18n.sh) extracts messages.pot from the templates and updates the .po files.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
FALLBACK_LANGUAGE = "en"


def po_path(lang: str, directory: Path = TRANSLATIONS_DIR) -> Path:
    return directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog_languages(directory: Path = TRANSLATIONS_DIR) -> set[str]:
    """Every language with a catalog, plus English (the msgids themselves)."""
    found = {p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return found | {FALLBACK_LANGUAGE}


def load_translations(lang: str, directory: Path = TRANSLATIONS_DIR) -> NullTranslations:
    """The compiled catalog for `lang` (fuzzy entries left out), or no translation for English."""
    path = po_path(lang, directory)
    if lang == FALLBACK_LANGUAGE or not path.is_file():
        return NullTranslations()
    stat = path.stat()
    return _compiled(path, stat.st_mtime_ns, stat.st_size)


@cache
def _compiled(path: Path, _mtime_ns: int, _size: int) -> Translations:
    """`path` read and compiled; a changed file (time or size) is read again."""
    with path.open("rb") as po:
        catalog = read_po(po, locale=path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def N_(message: str) -> str:
    """Mark a Python string for the catalogs (pybabel extracts it); translated where shown."""
    return message
