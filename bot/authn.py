"""Who sent this mail, and can we believe it? One verdict per inbound message.

Read this module first when reviewing the bot's security. Every decision that trusts a sender
(staff commands, answers without a code) asks the stored verdict, never the From header again.

1. The From identity comes from a strict parse of the raw header, before any RFC 2047
   decoding: exactly one From field, one mailbox, no parser defects, a plain dot-atom address,
   a display name without control characters or an address of its own. Anything else is
   `refused`: nobody is authenticated and staff are told. A second Subject, To, Date, ... is
   refused too (RFC 6376 §8.15: a signature covers only the bottom instance).
2. Authentication is DMARC alignment with that From domain, from one of two sources:
   a. `trusted_authserv_ids` set: the `Authentication-Results` fields our own MX put on top
      (RFC 8601), parsed with `authres`. Only the topmost contiguous block whose authserv-id
      is trusted counts; `dmarc=pass` needs `header.from` equal to the From domain,
      `dkim=pass` needs `header.d` aligned with it. The MX must remove forged fields that
      carry its authserv-id (RFC 8601 §5); a forged one below its own is ignored here.
   b. no trusted MX: the bot checks DKIM itself with dkimpy; a signature with `l=` is refused
      and its `d=` must share the From domain's organisational domain (RFC 7489 §3.2, Public
      Suffix List bundled with `publicsuffixlist`, no network).
SPF alone never authenticates (it is about the envelope, not the From a person reads).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from functools import cache

import authres
import dkim
import dkim.util
from publicsuffixlist import PublicSuffixList

from bot.identity import is_chat_address

PASS, FAIL, NONE, REFUSED = "pass", "fail", "none", "refused"
DnsTxt = Callable[..., bytes | None]

ADDR_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                     r"@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
SINGLETONS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
              "in-reply-to", "references")  # RFC 5322 §3.6: at most one each
TRACE = frozenset({"received", "return-path", "delivered-to", "x-original-to", "arc-seal",
                   "arc-message-signature", "arc-authentication-results"})  # above our block
_OBS_NAME_RE = re.compile(rb"(?m)^([!-9;-~]+)[ \t]+:")
_QUIET = logging.getLogger("bot.authn.dkimpy")  # dkimpy logs domains and selectors
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class Verdict:
    """address: the strict From identity ("" when refused); via: what passed."""

    address: str
    result: str  # pass | fail | none | refused
    via: str = ""  # mx-dmarc | mx-dkim | own-dkim
    reason: str = ""  # short and free of personal data: safe for logs and staff

    @property
    def authenticated(self) -> bool:
        return self.result == PASS

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def verdict(head: bytes, raw: bytes | None, *, trusted: list[str],
            dns_txt: DnsTxt | None = None) -> Verdict:
    """The verdict for one message: `head` is its header block, `raw` the whole message
    (None: no own DKIM check, e.g. too large to hold in memory, or turned off)."""
    fields = _header_fields(head)
    address, problem = strict_from(fields)
    if problem:
        return Verdict("", REFUSED, reason=problem)
    if is_chat_address(address):
        return Verdict("", REFUSED, reason="a chat address in the From of a mail")
    if trusted:
        return mx_verdict(fields, address, trusted)
    if raw is None:
        return Verdict(address, NONE, reason="no trusted MX and no own DKIM check")
    return dkim_verdict(raw, address, dns_txt)


def chat_verdict(head: bytes) -> Verdict:
    """A chat message: the channel built its From from the user id the Bot API gave."""
    address, problem = strict_from(_header_fields(head))
    if problem or not is_chat_address(address):
        return Verdict("", REFUSED, reason=problem or "chat message without a chat From")
    return Verdict(address, PASS, "telegram", "user id from the Telegram Bot API")


# --------------------------------------------------------------------------- the From header


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message (up to the first empty line)."""
    raw = raw.lstrip(b" \t\r\n")
    match = re.search(rb"\r?\n\r?\n", raw)
    return raw[:match.start() + 2] if match else raw


def _header_fields(head: bytes) -> list[tuple[str, str]]:
    """(lower-cased name, raw unfolded value) in order, nothing decoded."""
    head = _OBS_NAME_RE.sub(rb"\1:", head.lstrip(b" \t\r\n"))  # as bot.mime reads it
    msg: Message = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
    return [(name.strip().lower(), _unfold(str(value))) for name, value in msg.raw_items()]


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip()


def strict_from(fields: list[tuple[str, str]]) -> tuple[str, str | None]:
    """(address, None) or ("", why it is refused)."""
    for name in SINGLETONS:
        if sum(1 for n, _ in fields if n == name) > 1:
            return "", f"more than one {name} header"
    values = [v for n, v in fields if n == "from"]
    if not values:
        return "", "no From header"
    return _one_mailbox(values[0])


def _one_mailbox(value: str) -> tuple[str, str | None]:
    try:
        text = value.encode("utf-8", "surrogateescape").decode("utf-8")
        header = policy.default.header_factory("from", text)
    except (UnicodeError, ValueError):
        return "", "From header cannot be parsed"
    if header.defects:
        return "", "From header has parse defects"
    if len(header.groups) != 1 or header.groups[0].display_name is not None:
        return "", "From header is not exactly one mailbox"
    if len(header.groups[0].addresses) != 1:
        return "", "From header is not exactly one mailbox"
    [mailbox] = header.groups[0].addresses
    address = mailbox.addr_spec.lower()
    if not ADDR_RE.fullmatch(address):
        return "", "From address is not a plain address"
    if not _clean_name(mailbox.display_name, address):
        return "", "From display name holds control characters or another address"
    return address, None


def _clean_name(name: str, address: str) -> bool:
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return False
    bare = name.strip().strip("'\"").strip().lower()
    return bare == address or not re.search(r"[<>@]", name)


# --------------------------------------------------------------------------- our MX's results


def mx_verdict(fields: list[tuple[str, str]], address: str, trusted: list[str]) -> Verdict:
    domain = address.rpartition("@")[2]
    results = [r for header in trusted_results(fields, trusted) for r in header.results]
    if any(_dmarc_pass(r, domain) for r in results):
        return Verdict(address, PASS, "mx-dmarc", "trusted MX: DMARC pass for the From domain")
    if any(_dkim_pass(r, domain) for r in results):
        return Verdict(address, PASS, "mx-dkim", "trusted MX: aligned DKIM pass")
    if not results:
        return Verdict(address, NONE, reason="no Authentication-Results from a trusted MX")
    return Verdict(address, FAIL, reason="trusted MX: no DMARC pass or aligned DKIM pass")


def trusted_results(fields: list[tuple[str, str]],
                    trusted: list[str]) -> list[authres.AuthenticationResultsHeader]:
    """The topmost contiguous Authentication-Results fields of trusted authserv-ids.

    Trace fields above the block (our MX's Received) are passed over; the first field after
    the block has started that is not a trusted, parseable Authentication-Results ends it.
    """
    wanted = {t.lower() for t in trusted}
    block: list[authres.AuthenticationResultsHeader] = []
    for name, value in fields:
        if name != "authentication-results":
            if block or name not in TRACE:
                break
            continue
        parsed = _parse_results(value)
        if parsed is None or (parsed.authserv_id or "").lower() not in wanted:
            break
        block.append(parsed)
    return block


def _parse_results(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own SyntaxError and others on junk
        return None


def _prop(result: authres.core.AuthenticationResult, ptype: str, name: str) -> str | None:
    for prop in result.properties:
        if prop.type.lower() == ptype and prop.name.lower() == name:
            return str(prop.value).strip().lower().rstrip(".")
    return None


def _dmarc_pass(result: authres.core.AuthenticationResult, domain: str) -> bool:
    return (result.method.lower() == "dmarc" and result.result.lower() == "pass"
            and _prop(result, "header", "from") == domain)


def _dkim_pass(result: authres.core.AuthenticationResult, domain: str) -> bool:
    signer = _prop(result, "header", "d")
    return (result.method.lower() == "dkim" and result.result.lower() == "pass"
            and signer is not None and aligned(domain, signer))


# --------------------------------------------------------------------------- our own DKIM check


def dkim_verdict(raw: bytes, address: str, dns_txt: DnsTxt | None) -> Verdict:
    domain = address.rpartition("@")[2]
    signatures = _signatures(raw)
    if not signatures:
        return Verdict(address, NONE, reason="no DKIM signature")
    for index, tags in enumerate(signatures):
        if b"l" in tags or not aligned(domain, tags.get(b"d", b"").decode("ascii", "replace")):
            continue
        if _verifies(raw, index, dns_txt):
            return Verdict(address, PASS, "own-dkim", "DKIM signature aligned with From verified")
    return Verdict(address, FAIL, reason="no aligned DKIM signature without l= verified")


def _signatures(raw: bytes) -> list[dict[bytes, bytes]]:
    values = [v for n, v in _header_fields(header_block(raw)) if n == "dkim-signature"]
    found = []
    for value in values:
        try:
            found.append(dkim.util.parse_tag_value(value.encode("utf-8", "surrogateescape")))
        except Exception:  # a malformed signature is simply not one
            found.append({b"l": b"malformed"})
    return found


def _verifies(raw: bytes, index: int, dns_txt: DnsTxt | None) -> bool:
    try:
        checker = dkim.DKIM(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
                            logger=_QUIET)
        if dns_txt is None:
            return bool(checker.verify(idx=index))
        return bool(checker.verify(idx=index, dnsfunc=dns_txt))
    except Exception:  # dkimpy raises on malformed input; that is no pass
        return False


# --------------------------------------------------------------------------- alignment


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package; no download


def organisational_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(from_domain: str, signer: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1.1): the same organisational domain."""
    signer = signer.strip().lower().rstrip(".")
    if not signer or not from_domain:
        return False
    return organisational_domain(from_domain) == organisational_domain(signer)
