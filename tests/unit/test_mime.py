"""Unit tests for bot.mime on hand-written sample messages in tests/data/mail/."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.mime import (
    Attachment,
    MessageParseError,
    ParsedMessage,
    html_to_text,
    parse_message,
    strip_quotes_and_signature,
)

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"
STL_SHA256 = "df1ea78e88a5679df80d5bd480bbb13810b700af229f9fcee51e635115d77e55"


def load(name: str, **kwargs: int) -> ParsedMessage:
    return parse_message((MAIL / name).read_bytes(), **kwargs)


def test_plain_request_headers_and_body() -> None:
    msg = load("plain_request.eml")
    assert msg.subject == "Anfrage: 3D-Modell für Messestand"
    assert msg.from_addr == "anna.schmidt@example.org"
    assert msg.from_name == "Anna Schmidt"
    assert msg.reply_to == "anna.work@example.org"
    assert msg.to_addrs == ["projects@stelloloxon.example"]
    assert msg.message_id == "<req-001@mail.example.org>"
    assert msg.date == datetime(2025, 11, 18, 8, 15, tzinfo=UTC)
    assert msg.text.startswith("Hello,\n\nwe need a print-ready 3D model")
    assert msg.text.endswith("Best regards\nAnna Schmidt")
    assert msg.new_text == msg.text
    assert msg.attachments == []
    assert msg.defects == []
    assert msg.is_multipart is False
    assert msg.headers["mime-version"] == ["1.0"]


def test_threading_headers() -> None:
    msg = load("reply_outlook_en.eml")
    assert msg.in_reply_to == ["<quote-7@stelloloxon.example>"]
    assert msg.references == ["<req-7@example.com>", "<quote-7@stelloloxon.example>"]
    assert msg.date == datetime(2025, 11, 20, 15, 0, tzinfo=UTC)


def test_html_only_is_converted() -> None:
    msg = load("html_only.eml")
    assert msg.text == "Bonjour,\n\nPouvez-vous préparer trois modèles STL ?\nMerci & à bientôt"
    assert "alert" not in msg.text and "ignored" not in msg.text


def test_alternative_prefers_plain_and_lowercases_recipients() -> None:
    msg = load("alternative.eml")
    assert msg.text == "Plain version wins."
    assert msg.to_addrs == ["projects@stelloloxon.example", "privacy@stelloloxon.example"]
    assert msg.is_multipart is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("reply_outlook_en.eml", "The price is fine, please go ahead.\n\nTom"),
        ("reply_gmail_en.eml", "Thanks, the files look great. Can you also make a hollow version?"),
        ("reply_de.eml", "Bitte löschen Sie auch meine Telefonnummer.\n\nViele Grüße\nJürgen"),
        ("reply_de_outlook.eml", "Danke, wir nehmen das Angebot an."),
        ("signature.eml", "Do you also bake textures for glTF exports?"),
        ("html_reply.eml", "Tuesday works for me.\n\nMia"),
    ],
)
def test_new_text_drops_quotes_and_signatures(name: str, expected: str) -> None:
    msg = load(name)
    assert msg.new_text == expected
    assert len(msg.text) > len(msg.new_text)


def test_german_headers_decoded() -> None:
    msg = load("reply_de.eml")
    assert msg.subject == "AW: Ihre Löschanfrage"
    assert msg.from_name == "Jürgen Müller"


def test_stl_attachment_sanitised_and_intact() -> None:
    msg = load("stl_attachment.eml")
    assert msg.text == "The attached STL has holes, can you fix it?"
    [att] = msg.attachments
    assert att.filename == "cube.stl"
    assert att.content_type == "model/stl"
    assert att.size == 2345
    assert hashlib.sha256(att.data).hexdigest() == STL_SHA256
    assert att.too_large is False


def test_attachment_over_limit_is_not_kept() -> None:
    msg = load("stl_attachment.eml", max_attachment_bytes=1000)
    [att] = msg.attachments
    assert (att.filename, att.size, att.data, att.too_large) == ("cube.stl", 2345, b"", True)
    assert "attachment cube.stl too large (2345 bytes)" in msg.defects


def test_forwarded_message_is_attachment() -> None:
    msg = load("forwarded_rfc822.eml")
    assert msg.text == "See the attached request."
    [att] = msg.attachments
    assert att.filename == "forwarded.eml"
    assert att.content_type == "message/rfc822"
    assert b"Please order a 3D model of our headquarters." in att.data
    assert att.size == len(att.data)


def test_dsn_parts() -> None:
    msg = load("dsn_bounce.eml")
    assert "550 5.1.1 User unknown" in msg.text
    assert [a.content_type for a in msg.attachments] == [
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    assert msg.attachments[0].filename == "attachment-1.bin"
    assert b"Status: 5.1.1" in msg.attachments[0].data


@pytest.mark.parametrize(
    ("name", "subject", "text"),
    [
        ("latin1.eml", "latin-1 body", "Grüezi, können Sie das Modell bis März liefern?"),
        ("windows1252.eml", "Modèle “urgent”", "Prix: 200 € – délai “court”."),
    ],
)
def test_legacy_charsets(name: str, subject: str, text: str) -> None:
    msg = load(name)
    assert msg.subject == subject
    assert msg.text == text
    assert msg.defects == []


def test_raw_8bit_from_header() -> None:
    assert load("latin1.eml").from_name == "René"
    assert load("windows1252.eml").from_name == "François Léger"


def test_unknown_and_lying_charsets_survive() -> None:
    msg = load("unknown_charset.eml")
    assert msg.text == "Café model please\n\nsecond part été"
    assert "part 2: unknown charset 'x-klingon-8'" in msg.defects
    assert "part 3: undecodable text decoded as windows-1252" in msg.defects


def test_multipart_without_boundary_read_as_text() -> None:
    msg = load("broken_multipart.eml")
    assert msg.text == "Please scan my sculpture, it is 40 cm tall."
    assert any("without usable boundary" in d for d in msg.defects)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"  \r\n\r\n", "empty message"),
        (b"Hello there,\nthis is just text.\n", "no mail headers found"),
        (b"Note: just a remark\n\nbody\n", "no mail headers found"),
        (12345, "not bytes but int"),
    ],
)
def test_unusable_input_raises_parse_error(raw: object, reason: str) -> None:
    with pytest.raises(MessageParseError) as info:
        parse_message(raw)  # type: ignore[arg-type]
    assert info.value.reason == reason


def test_headers_only_and_obsolete_syntax() -> None:
    raw = b"\r\n  \r\nFrom  : X <X@Example.com>\r\nSubject   :  hi\r\n  there\r\n\r\nbody"
    msg = parse_message(raw)
    assert msg.from_addr == "x@example.com"
    assert msg.subject == "hi there"
    assert msg.text == "body"


def test_bad_headers_do_not_raise() -> None:
    raw = (
        b"From: =?bogus-charset?q?x?= <@@>\n"
        b"To: undisclosed-recipients:;\n"
        b"Subject: =?utf-8?b?invalid base64!?=\n"
        b"Date: 32 Foo 99999 99:99\n"
        b"Message-ID: bare-id@example.com\n"
        b'Content-Type: text/plain; charset="\xff\xfe"\n\n\xe4\xf6\xfc'
    )
    msg = parse_message(raw)
    assert msg.date is None
    assert msg.message_id == "<bare-id@example.com>"
    assert msg.to_addrs == []
    assert msg.text == "äöü"
    assert any("Date" in d for d in msg.defects)


def test_filename_sanitising() -> None:
    evil = "..\\..\\win\u202egnp.exe\x00" + "a" * 300 + ".stl"
    encoded = "".join(f"%{byte:02X}" for byte in evil.encode())  # RFC 2231
    raw = (
        "From: a@example.com\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: application/octet-stream\n"
        f"Content-Disposition: attachment; filename*=utf-8''{encoded}\n\n"
        "x\n--b\nContent-Type: application/octet-stream\n"
        "Content-Disposition: attachment\n\nnoname\n--b--\n"
    )
    first, second = parse_message(raw.encode()).attachments
    assert "/" not in first.filename and "\\" not in first.filename
    assert "\u202e" not in first.filename and "\x00" not in first.filename
    assert len(first.filename) == 200
    assert first.filename.startswith("wingnp.exeaaa") and first.filename.endswith(".stl")
    assert second.filename == "attachment-2.bin"
    assert isinstance(second, Attachment) and second.data == b"noname"


def test_html_to_text_layout() -> None:
    html = "<div>One</div><div><br></div><div>Two</div><div>Three<br>Four</div><p>Five</p>"
    assert html_to_text(html) == "One\n\nTwo\nThree\nFour\n\nFive"


def test_html_to_text_blockquote_and_entities() -> None:
    html = "<?xml version='1.0'?><p>Hi&nbsp;there</p>"
    html += "<blockquote><p>old</p><p>older</p></blockquote>"
    assert html_to_text(html) == "Hi there\n\n> old\n>\n> older"
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text("https://example.com/file.stl") == "https://example.com/file.stl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ja.\n\nLe lun. 3 nov. 2025 à 10:00, Bob <b@x.fr> a écrit :\n> old", "Ja."),
        ("Sí.\n\nEl lun, 3 nov 2025 a las 10:00, Bob (<b@x.es>) escribió:\n> old", "Sí."),
        ("Sì.\n\nIl giorno lun 3 nov 2025 alle 10:00 Bob <b@x.it> ha scritto:\n> old", "Sì."),
        ("Sim.\n\nEm seg., 3 de nov. de 2025 às 10:00, Bob <b@x.pt> escreveu:\n> old", "Sim."),
        ("Ja.\n\nOp ma 3 nov. 2025 om 10:00 schreef Bob <b@x.nl>:\n\n> old", "Ja."),
        ("OK\n\nFrom: Bob\nSent: Monday\nTo: Ann\nSubject: x\n\nold text", "OK"),
        ("OK\n\nVon: Bob\nGesendet: Montag\nAn: Ann\nBetreff: x\n\nalter Text", "OK"),
        ("Yes\n\nSent from my iPhone\n\n> old", "Yes"),
        ("Ja\n\nVon meinem iPhone gesendet", "Ja"),
        ("Hi\n-- \nsig", "Hi"),
        ("On Monday I was out.\nOn average, ok.", "On Monday I was out.\nOn average, ok."),
        ("a -- b\n---\nc", "a -- b\n---\nc"),
        ("> only a quote", ""),
    ],
)
def test_strip_quotes_multilingual(text: str, expected: str) -> None:
    assert strip_quotes_and_signature(text) == expected


def test_forward_only_keeps_forwarded_body() -> None:
    text = (
        "---------- Forwarded message ---------\nFrom: Bob <b@x.com>\nDate: Mon\n"
        "Subject: data\nTo: me\n\nPlease delete my account."
    )
    assert strip_quotes_and_signature(text) == "Please delete my account."
    assert strip_quotes_and_signature("My note.\n\n" + text) == "My note."
