"""The authentication verdict: strict From parsing, trusted Authentication-Results, own DKIM."""

from __future__ import annotations

import dkim
import pytest

from bot import authn
from tests.dkimkeys import key_pair

MX = "mx.stelloloxonpro.com"


def _mail(from_value: str = "Jane <jane@example.com>", *, top: tuple[str, ...] = (),
          extra: tuple[str, ...] = ()) -> bytes:
    lines = [*top, f"From: {from_value}", "To: info@stelloloxonpro.com", "Subject: hi",
             "Message-ID: <1@example.com>", "Date: Wed, 25 Nov 2026 09:00:00 +0000", *extra,
             "", "body", ""]
    return "\r\n".join(lines).encode()


def _verdict(raw: bytes, trusted: list[str] | None = None) -> authn.Verdict:
    return authn.verdict(authn.header_block(raw), raw, trusted=trusted or [MX],
                         dns_txt=lambda *a, **k: None)


@pytest.mark.parametrize("value", [
    "jane@example.com <evil@evil.net>",
    "jane@example.com(<evil@evil.net>",
    "jane@example.com, evil@evil.net",
    "=?utf-8?q?jane=40example=2Ecom=0D=0ABcc=3A_eve=40evil=2Enet?= <evil@evil.net>",
    "=?utf-8?q?jane=40example.com?= <evil@evil.net>",
    '"jane@example.com" <evil@evil.net>',
    "Jane <\"jane@x\"@evil.net>",
    "Jane <jane@[192.0.2.1]>",
    "undisclosed-recipients:;",
    "staff: boss@stelloloxonpro.com;",
    "Jane jane@example.com",
    "=?utf-8?q?Jane=E2=80=AE?= <jane@example.com>",  # right-to-left override
    "",
])
def test_ambiguous_from_is_refused(value: str) -> None:
    verdict = _verdict(_mail(value, top=(f"Authentication-Results: {MX}; dmarc=pass "
                                         "header.from=example.com",)))
    assert verdict.result == authn.REFUSED and verdict.address == ""
    assert not verdict.authenticated


def test_two_from_headers_and_two_subjects_are_refused() -> None:
    assert _verdict(_mail(extra=("From: evil@evil.net",))).result == authn.REFUSED
    assert _verdict(_mail(extra=("Subject: [SP-REQ-000002]",))).reason == \
        "more than one subject header"


@pytest.mark.parametrize("value", [
    "Jane Doe <jane@example.com>", "jane@example.com", '"Doe, Jane" <Jane@Example.COM>',
    "=?utf-8?q?J=C3=A4ne_M=C3=BCller?= <jane@example.com>", "<jane@example.com>",
    '"jane@example.com" <jane@example.com>',
])
def test_ordinary_from_is_read(value: str) -> None:
    assert _verdict(_mail(value)).address == "jane@example.com"


def _ar(*results: str, server: str = MX) -> str:
    return f"Authentication-Results: {server}; " + "; ".join(results)


@pytest.mark.parametrize(("top", "result"), [
    ((_ar("dmarc=pass header.from=example.com"),), authn.PASS),
    ((_ar("dkim=pass header.d=example.com"),), authn.PASS),
    ((_ar("dkim=pass header.d=mail.example.com"),), authn.PASS),  # relaxed alignment
    (("Received: from x by mx", _ar("dmarc=pass header.from=example.com")), authn.PASS),
    ((_ar("dmarc=pass header.from=evil.net"),), authn.FAIL),  # the attacker's own pass
    ((_ar("dmarc=pass"),), authn.FAIL),  # no header.from
    ((_ar("dkim=pass"),), authn.FAIL),  # no header.d
    ((_ar("dkim=pass header.d=evil.net"),), authn.FAIL),
    ((_ar("dkim=pass header.d=example.com.evil.net"),), authn.FAIL),
    ((_ar("dkim=pass header.d=co.uk"),), authn.FAIL),
    ((_ar('spf=pass smtp.mailfrom="dmarc=pass header.from=example.com"'),), authn.FAIL),
    ((_ar("spf=pass smtp.mailfrom=example.com"),), authn.FAIL),
    ((_ar("dmarc=fail header.from=example.com"),), authn.FAIL),
    ((_ar("dmarc=pass header.from=example.com", server="mx.evil.net"),), authn.NONE),
    ((_ar("dmarc=pass header.from=example.com", server=f"{MX}.evil.net"),), authn.NONE),
    ((_ar("dmarc=pass header.from=example.com") + ";;garbage",), authn.NONE),
    # a forged field with our authserv-id below a foreign one or below a Received
    ((_ar("spf=none", server="mx.evil.net"), _ar("dmarc=pass header.from=example.com")),
     authn.NONE),
    ((_ar("dmarc=none header.from=example.com"), "Received: from evil by evil",
      _ar("dmarc=pass header.from=example.com")), authn.FAIL),
])
def test_trusted_authentication_results(top: tuple[str, ...], result: str) -> None:
    assert _verdict(_mail(top=top)).result == result


def test_forged_results_in_the_body_of_headers_do_not_count() -> None:
    forged = _mail(extra=(_ar("dmarc=pass header.from=example.com"),))
    assert _verdict(forged).result == authn.NONE


def test_subdomain_header_from_is_not_the_from_domain() -> None:
    raw = _mail("Jane <jane@example.com>", top=(_ar("dmarc=pass header.from=sub.example.com"),))
    assert _verdict(raw).result == authn.FAIL


# --------------------------------------------------------------------------- own DKIM check


@pytest.fixture(scope="module")
def key() -> tuple[bytes, bytes]:
    return key_pair()


def _signed(key: tuple[bytes, bytes], raw: bytes, domain: str = "example.com",
            length: bool = False) -> bytes:
    sig = dkim.sign(raw, b"sel", domain.encode(), key[0], length=length,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + raw


def _dns(key: tuple[bytes, bytes]) -> authn.DnsTxt:
    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return key[1] if name.startswith(b"sel._domainkey.") else None
    return txt


def _own(raw: bytes, key: tuple[bytes, bytes]) -> authn.Verdict:
    return authn.verdict(authn.header_block(raw), raw, trusted=[], dns_txt=_dns(key))


def test_own_dkim_pass_when_aligned(key: tuple[bytes, bytes]) -> None:
    verdict = _own(_signed(key, _mail()), key)
    assert verdict.authenticated and verdict.via == "own-dkim"
    assert _own(_signed(key, _mail(), domain="mail.example.com"), key).authenticated


def test_own_dkim_refuses_unaligned_length_tampered_and_unsigned(
        key: tuple[bytes, bytes]) -> None:
    assert _own(_signed(key, _mail(), domain="evil.net"), key).result == authn.FAIL
    assert _own(_signed(key, _mail(), length=True), key).result == authn.FAIL
    tampered = _signed(key, _mail()).replace(b"body", b"APPROVE")
    assert _own(tampered, key).result == authn.FAIL
    assert _own(_mail(), key).result == authn.NONE


def test_own_dkim_signature_replayed_with_a_second_from_is_refused(
        key: tuple[bytes, bytes]) -> None:
    raw = b"From: evil@evil.net\r\n" + _signed(key, _mail())
    assert _own(raw, key).result == authn.REFUSED


def test_organisational_domain_uses_the_public_suffix_list() -> None:
    assert authn.organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert not authn.aligned("example.co.uk", "other.co.uk")
    assert not authn.aligned("jane.github.io", "evil.github.io")
