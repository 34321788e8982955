"""A DKIM key for tests: sign a mail as any domain and answer the key look-up without DNS."""

from __future__ import annotations

import base64
from functools import cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SELECTOR = b"test"
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to", b"references"]


@cache
def key_pair() -> tuple[bytes, bytes]:
    """One RSA test key per run: (private PEM, DKIM TXT record)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def sign(raw: bytes, domain: str, *, length: bool = False) -> bytes:
    """The mail with a DKIM-Signature by `domain` on top (CRLF line ends)."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    present = [h for h in SIGNED if h + b":" in raw.lower()]
    return dkim.sign(raw, SELECTOR, domain.encode(), key_pair()[0], length=length,
                     include_headers=present) + raw


def dns_txt(name: bytes, timeout: int = 5) -> bytes | None:
    """The test key for test._domainkey.<any domain>; nothing else resolves (no network)."""
    return key_pair()[1] if name.startswith(SELECTOR + b"._domainkey.") else None
