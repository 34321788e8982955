"""Job requirements a client states in a message: printer, material, layer height, quantity,
deadline. Rules only (English wording, common units and date formats); what is not found stays
None and a preparer asks. Nothing here guesses a value the text does not state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PRINTERS = (
    r"prusa\s*(?:i3\s*)?(?:mk\s?[2-4](?:\.\d)?s?\+?|mini\+?|xl|core\s?one)",
    r"bambu(?:\s*lab)?\s*(?:x1\s?(?:c|e|-carbon)?|p1[sp]|a1(?:\s*mini)?|h2d)",
    r"creality\s*(?:ender[\s-]?\d\w*(?:\s*(?:pro|v\d|s1|max|neo))*|k1\w*|cr-?\d+\w*)",
    r"ender[\s-]?\d\w*(?:\s*(?:pro|v\d|s1|max|neo))*",
    r"formlabs\s*form\s*[234]\w?|form\s*[234]\w?(?=\W)",
    r"elegoo\s*(?:saturn|mars|neptune|jupiter)(?:\s*\d\w*)*",
    r"anycubic\s*(?:photon|kobra|vyper|mega)(?:\s*(?:mono|m\d|x|max|ultra|\d\w*))*",
    r"ultimaker\s*(?:s[357]|2\+?|3|method\s*x?)",
    r"raise3d\s*(?:pro\s*\d\+?|e2)",
    r"markforged\s*(?:onyx\s*one|mark\s*two|x7)",
    r"voron\s*(?:0|1|2\.4|trident|switchwire)",
)
_PRINTER_RE = re.compile(r"\b(?:" + "|".join(_PRINTERS) + r")", re.IGNORECASE)
_PRINTER_LABEL_RE = re.compile(r"^\s*printer\s*[:=]\s*(?P<v>[^\n,;]{2,60})", re.I | re.M)

_MATERIALS = {
    "pla+": "PLA+", "pla": "PLA", "petg": "PETG", "abs": "ABS", "asa": "ASA", "tpu": "TPU",
    "nylon": "Nylon", "pa12": "PA12", "pa11": "PA11", "pa-cf": "PA-CF",
    "polycarbonate": "PC", "pvb": "PVB", "hips": "HIPS", "peek": "PEEK", "pei": "PEI",
    "tough resin": "Tough resin", "standard resin": "Standard resin",
    "water washable resin": "Water-washable resin", "resin": "Resin",
}
_MATERIAL_RE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(k) for k in sorted(_MATERIALS, key=len, reverse=True))
    + r")(?![\w-])", re.IGNORECASE)
_MATERIAL_LABEL_RE = re.compile(r"^\s*material\s*[:=]\s*(?P<v>[^\n,;]{2,40})", re.I | re.M)

_NUM = r"(?P<n>\d+(?:[.,]\d+)?|[.,]\d+)"
_UNIT = r"\s*(?P<u>mm|µm|μm|um|microns?)"
_LAYER_RES = (
    re.compile(rf"layer(?:\s*height|\s*thickness|s)?\s*(?:of|:|=|at)?\s*{_NUM}{_UNIT}", re.I),
    re.compile(rf"{_NUM}{_UNIT}\s*(?:layer(?:s|\s*height)?)", re.I),
)

_QTY_RES = (
    re.compile(r"\b(?:quantity|qty|copies|pieces|pcs|units)\.?\s*[:=]?\s*(?P<n>\d{1,6})\b", re.I),
    re.compile(r"\b(?P<n>\d{1,6})\s*(?:(?:x|×)(?!\s*\d)|pcs\b|pieces\b|copies\b|units\b|prints\b|parts\b"
               r"|of (?:each|them|these|it)\b)", re.I),
)
_QTY_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "twenty": 20, "fifty": 50,
              "hundred": 100}
_QTY_WORD_RE = re.compile(
    r"\b(?P<w>" + "|".join(_QTY_WORDS) + r")\s+(?:copies|pieces|prints|units|of (?:each|them))\b",
    re.I)

_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), start=1)}
_MON = r"(?P<mon>" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in _MONTHS) + r")\.?"
_LEAD = r"(?:deadline|due|needed|need (?:it|them|this|these)|by|before|until|no later than)"
_DATE_RES = (
    re.compile(r"(?P<y>20\d\d)-(?P<m>\d\d?)-(?P<d>\d\d?)\b"),
    re.compile(r"\b(?P<d>\d\d?)\.(?P<m>\d\d?)\.(?P<y>20\d\d)\b"),
    re.compile(rf"\b(?P<d>\d\d?)(?:st|nd|rd|th)?(?:\s+of)?\s+{_MON}(?:,?\s+(?P<y>20\d\d))?\b",
               re.I),
    re.compile(rf"\b{_MON}\s+(?P<d>\d\d?)(?:st|nd|rd|th)?(?:,?\s+(?P<y>20\d\d))?\b", re.I),
)
_SLASH_RE = re.compile(r"\b(?P<a>\d\d?)/(?P<b>\d\d?)/(?P<y>20\d\d)\b")
_RELATIVE_RE = re.compile(
    r"\b(?:within|in|inside)\s+(?P<n>\d{1,3}|one|two|three|four|five|six)\s+"
    r"(?P<u>business days?|working days?|days?|weeks?)\b", re.I)
_LEAD_RE = re.compile(_LEAD, re.I)
_FILLER_RE = re.compile(r"^\s*[:,]?\s*(?:(?:on|the)\s+)*", re.I)


@dataclass(frozen=True)
class Requirements:
    """What the message states; None where it states nothing."""

    printer: str | None = None
    material: str | None = None
    layer_height_mm: float | None = None
    quantity: int | None = None
    deadline: date | None = None

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs for what was found, in a fixed order."""
        pairs = [("Printer", self.printer), ("Material", self.material),
                 ("Layer height", f"{self.layer_height_mm:g} mm" if self.layer_height_mm
                  else None),
                 ("Quantity", str(self.quantity) if self.quantity else None),
                 ("Deadline", self.deadline.isoformat() if self.deadline else None)]
        return [(label, value) for label, value in pairs if value]

    def as_specs(self) -> str:
        """The project's specs text (one "Label: value" per line)."""
        return "\n".join(f"{label}: {value}" for label, value in self.lines())


def extract(text: str, today: date) -> Requirements:
    """Requirements stated in text; `today` anchors relative and year-less deadlines."""
    return Requirements(
        printer=printer(text),
        material=material(text),
        layer_height_mm=layer_height(text),
        quantity=quantity(text),
        deadline=deadline(text, today),
    )


def printer(text: str) -> str | None:
    found = _PRINTER_RE.search(text)
    if found:
        return _title(found.group(0))
    labelled = _PRINTER_LABEL_RE.search(text)
    return labelled.group("v").strip() if labelled else None


def _title(value: str) -> str:
    words = " ".join(value.split()).split(" ")
    return " ".join(w.upper() if any(c.isdigit() for c in w) or len(w) <= 2 else w.capitalize()
                    for w in words)


def material(text: str) -> str | None:
    found = _MATERIAL_RE.search(text)
    if found:
        return _MATERIALS[found.group(1).lower()]
    labelled = _MATERIAL_LABEL_RE.search(text)
    return labelled.group("v").strip() if labelled else None


def layer_height(text: str) -> float | None:
    """Layer height in mm; µm/micron values are converted. Implausible values are ignored."""
    for pattern in _LAYER_RES:
        for found in pattern.finditer(text):
            value = float(found.group("n").replace(",", "."))
            if found.group("u").lower() not in ("mm",):
                value /= 1000
            if 0.005 <= value <= 1.0:
                return round(value, 4)
    return None


def quantity(text: str) -> int | None:
    for pattern in _QTY_RES:
        found = pattern.search(text)
        if found and 0 < int(found.group("n")) <= 100_000:
            return int(found.group("n"))
    worded = _QTY_WORD_RE.search(text)
    return _QTY_WORDS[worded.group("w").lower()] if worded else None


def deadline(text: str, today: date) -> date | None:
    """A date after a deadline word ("by", "due", "before" ...), or "within N days/weeks"."""
    for lead in _LEAD_RE.finditer(text):
        window = _FILLER_RE.sub("", text[lead.end(): lead.end() + 40], count=1)
        found = _date_in(window, today)
        if found is not None:
            return found
    relative = _RELATIVE_RE.search(text)
    return _relative(relative, today) if relative else None


def _date_in(window: str, today: date) -> date | None:
    for pattern in _DATE_RES:
        found = pattern.match(window)
        if found:
            return _make_date(found.groupdict(), today)
    slash = _SLASH_RE.match(window)
    return _slash_date(slash, today) if slash else None


def _make_date(parts: dict[str, str | None], today: date) -> date | None:
    mon = parts.get("mon")
    month = _MONTHS_BY_PREFIX[mon.lower()[:3]] if mon else int(parts["m"] or 0)
    year = int(parts["y"]) if parts.get("y") else today.year
    try:
        found = date(year, month, int(parts["d"] or 0))
    except ValueError:
        return None
    if not parts.get("y") and found < today:  # "by 5 January" said in December
        found = found.replace(year=year + 1)
    return found


_MONTHS_BY_PREFIX = {name[:3]: number for name, number in _MONTHS.items()}


def _slash_date(found: re.Match[str], today: date) -> date | None:
    """a/b/yyyy is read only when unambiguous (one side > 12) or both readings agree."""
    a, b, year = int(found.group("a")), int(found.group("b")), int(found.group("y"))
    if a > 12 >= b:
        day, month = a, b
    elif b > 12 >= a:
        day, month = b, a
    elif a == b:
        day = month = a
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _relative(found: re.Match[str], today: date) -> date:
    raw = found.group("n").lower()
    n = int(raw) if raw.isdigit() else _QTY_WORDS[raw]
    unit = found.group("u").lower()
    if unit.startswith("week"):
        return today + timedelta(weeks=n)
    if unit.startswith(("business", "working")):
        return _add_business_days(today, n)
    return today + timedelta(days=n)


def _add_business_days(start: date, n: int) -> date:
    current = start
    while n > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            n -= 1
    return current
