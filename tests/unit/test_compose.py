"""bot.outbox.compose: the wire bytes parse back (policy.default) to exactly what was composed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from bot.context import App
from bot.outbox import WIRE_POLICY, FileAttachment, Threading, compose, enqueue_email
from bot.replies import Rendered
from storage.db import unit_of_work

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
NO_THREAD = Threading()
SUBJECT = "Re: Löschung meiner Daten – ŽŠ"
TEXT = "Hallo Jane,\n\nwir löschen Ihre Daten – ŽŠ.\n\n-- \nStelloloxon Pro\n"
HTML = "<p>Hallo Jane,</p>\n<p>wir löschen Ihre Daten – ŽŠ.</p>\n"
REFERENCES = tuple(f"<{n:02d}.{'r' * 40}@mail.example.com>" for n in range(20))
ORIGINAL = (b"From: Jane Example <jane@example.com>\r\nTo: info@stelloloxonpro.com\r\n"
            b"Subject: =?utf-8?q?L=C3=B6schung?=\r\nMessage-ID: <orig-1@example.com>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + "Bitte löschen Sie meine Daten.\r\n".encode() * 700)


def _rendered(subject: str = SUBJECT, text: str = TEXT, html: str | None = HTML) -> Rendered:
    return Rendered(subject=subject, text=text, html=html, language="de")


def _raw(app: App, rendered: Rendered | None = None, threading: Threading = NO_THREAD,
         attachments: tuple[FileAttachment, ...] = (), to: str = "jane@example.com",
         **headers: str) -> bytes:
    msg = compose(app, to=to, rendered=rendered or _rendered(), threading=threading, now=WHEN,
                  attachments=attachments)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg.as_bytes(policy=WIRE_POLICY)


def _parse(raw: bytes) -> EmailMessage:
    """Parse as readers do, after checking the wire form: CRLF only, lines within 998."""
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    return message


def _lf(text: str) -> str:
    """Parsed bodies keep the wire's CRLF; the rendered strings use LF."""
    return text.replace("\r\n", "\n")


def test_headers_decode_to_what_was_composed(app: App) -> None:
    threading = Threading("<req-2@example.com>", REFERENCES)
    raw = _raw(app, threading=threading,
               List_Unsubscribe="<mailto:info@stelloloxonpro.com?subject=unsubscribe>")
    msg = _parse(raw)
    assert msg["From"] == "Stelloloxon Pro <info@stelloloxonpro.com>"
    assert msg["To"] == "jane@example.com"
    assert msg["Subject"] == SUBJECT
    assert b"\r\nSubject: Re: =?utf-8?q?" in raw  # RFC 2047, the ASCII words left readable
    assert parsedate_to_datetime(msg["Date"]) == WHEN
    assert re.fullmatch(r"<[^<>@\s]+\.sp@stelloloxonpro\.com>", msg["Message-ID"])
    assert msg["In-Reply-To"] == "<req-2@example.com>"
    # 20 ids: the chain is capped at MAX_REFERENCES with In-Reply-To last
    assert msg["References"].split() == [*REFERENCES[1:], "<req-2@example.com>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Loop"] == "info@stelloloxonpro.com"
    assert msg["Content-Language"] == "de"
    assert msg["List-Unsubscribe"] == "<mailto:info@stelloloxonpro.com?subject=unsubscribe>"
    assert msg["MIME-Version"] == "1.0"


def test_long_headers_fold_without_moving_the_value_off_the_field_line(app: App) -> None:
    raw = _raw(app, threading=Threading(None, REFERENCES))
    head = raw.split(b"\r\n\r\n", 1)[0]
    references = re.search(rb"\r\nReferences: (<[^>]+>)", head)
    assert references is not None and references.group(1) == REFERENCES[0].encode()
    assert len(re.findall(rb"\r\n <", head)) >= len(REFERENCES) - 2  # folded between ids
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert _parse(raw)["References"] == " ".join(REFERENCES)


@pytest.mark.parametrize("subject", [
    "Löschung  meiner   Daten",  # runs of spaces, inside and between encoded words
    " ö leading space (kept: it is inside the encoded word), ŽŠ  ü",
    "ASCII =?utf-8?q?looks_encoded?= next to ö",
    "Ω" * 120,  # several encoded words, split between characters
    "Re:" + " Anfrage zur Löschung meiner personenbezogenen Daten gemäß Art. 17" * 4,
    "x" * 1200,  # one word too long for a line
    "Plain ASCII subject that is long enough to be folded at a space somewhere after 78",
    "",
])
def test_subjects_round_trip(app: App, subject: str) -> None:
    msg = _parse(_raw(app, _rendered(subject=subject)))
    assert msg["Subject"] == subject


def test_header_values_with_line_breaks_are_refused(app: App) -> None:
    with pytest.raises(ValueError, match="line break"):
        _raw(app, _rendered(subject="Hi\r\nBcc: victim@example.com"))
    msg = compose(app, to="jane@example.com", rendered=_rendered(), threading=Threading(),
                  now=WHEN)
    with pytest.raises(ValueError, match="line break"):
        msg["X-Test"] = "a\nb"


def test_non_ascii_display_name_in_to_keeps_the_address(app: App) -> None:
    msg = _parse(_raw(app, to="Jörg Müller <joerg@example.de>"))
    assert msg["To"].addresses[0].display_name == "Jörg Müller"
    assert msg["To"].addresses[0].addr_spec == "joerg@example.de"


def test_overlong_message_ids_are_left_out_of_threading(app: App) -> None:
    huge = "<" + "h" * 1200 + "@example.com>"
    msg = _parse(_raw(app, threading=Threading(huge, ("<a@example.com>", huge))))
    assert msg["In-Reply-To"] is None
    assert msg["References"] == "<a@example.com>"


def test_text_and_html_parts_decode_exactly(app: App) -> None:
    raw = _raw(app)
    msg = _parse(raw)
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert _lf(plain.get_content()) == TEXT and _lf(html.get_content()) == HTML
    assert plain["Content-Transfer-Encoding"] == "8bit"  # readable in the .eml
    assert TEXT.replace("\n", "\r\n").encode() in raw


def test_text_only_message_is_a_single_part(app: App) -> None:
    msg = _parse(_raw(app, _rendered(text="Hello,\n\nthanks.\n", html=None)))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert _lf(msg.get_content()) == "Hello,\n\nthanks.\n"


def test_overlong_body_lines_use_quoted_printable_not_base64(app: App) -> None:
    text = "Kurz.\n" + "Sehr lange Zeile mit Umlauten äöü " * 60 + "\nEnde.\n"
    html = "<p>" + "ä" * 1500 + "</p>\n"
    msg = _parse(_raw(app, _rendered(text=text, html=html)))
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert plain["Content-Transfer-Encoding"] == rich["Content-Transfer-Encoding"] \
        == "quoted-printable"
    assert _lf(plain.get_content()) == text and _lf(rich.get_content()) == html


def test_binary_attachments_round_trip_byte_for_byte(app: App) -> None:
    data = bytes(range(256)) * 300
    files = (FileAttachment("Auskunft_Müller.zip", data, "application/zip"),
             FileAttachment("Ωmega " * 30 + ".pdf", b"%PDF-1.7\n\x00\xff", "application/pdf"),
             FileAttachment("note.txt", "Grüße\n".encode(), "text/plain"),
             FileAttachment("odd", b"\x01", "not a type"))
    msg = _parse(_raw(app, attachments=files))
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and _lf(body.get_content()) == TEXT
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == [f.filename for f in files]
    assert [p.get_content_type() for p in parts] == [
        "application/zip", "application/pdf", "text/plain", "application/octet-stream"]
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in parts)
    assert [p.get_payload(decode=True) for p in parts] == [f.data for f in files]


def test_original_mail_attaches_as_a_message(app: App) -> None:
    original = FileAttachment("original.eml", ORIGINAL, "message/rfc822")
    raw = _raw(app, _rendered(html=None), attachments=(original,))
    assert len(ORIGINAL) > 20_000
    [part] = list(_parse(raw).iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    assert part.get_filename() == "original.eml"
    assert part["Content-Transfer-Encoding"] == "8bit"
    attached = part.get_content()
    expected = message_from_bytes(ORIGINAL, policy=policy.default)
    assert isinstance(attached, EmailMessage) and isinstance(expected, EmailMessage)
    assert attached.items() == expected.items()
    assert attached.get_content() == expected.get_content()
    assert ORIGINAL in raw  # carried as it arrived, not re-encoded


def test_original_mail_with_lf_endings_is_sent_with_crlf(app: App) -> None:
    original = FileAttachment("original.eml", ORIGINAL.replace(b"\r\n", b"\n"),
                              "message/rfc822")
    [part] = list(_parse(_raw(app, attachments=(original,))).iter_attachments())
    attached = part.get_content()
    assert isinstance(attached, EmailMessage)
    assert attached["Subject"] == "Löschung"
    assert _lf(attached.get_content()) == "Bitte löschen Sie meine Daten.\n" * 700


def test_original_that_8bit_cannot_carry_goes_as_octet_stream(app: App) -> None:
    garbage = b"\x00\x01 this is not mail at all \xff"
    too_long = b"Subject: x\r\n\r\n" + b"y" * 2000 + b"\r\n"
    files = tuple(FileAttachment("original.eml", data, "message/rfc822")
                  for data in (garbage, too_long))
    parts = list(_parse(_raw(app, attachments=files)).iter_attachments())
    assert [p.get_content_type() for p in parts] == ["application/octet-stream"] * 2
    assert [p.get_filename() for p in parts] == ["original.eml"] * 2
    assert [p.get_payload(decode=True) for p in parts] == [garbage, too_long]


def test_enqueue_email_stores_the_composed_bytes(app: App) -> None:
    with unit_of_work(app.engine) as session:
        row = enqueue_email(
            session, app, to="jane@example.com", rendered=_rendered(), purpose="ack",
            idempotency_key="compose-test", threading=Threading("<req-1@example.com>"),
            headers={"List-Unsubscribe": "<mailto:info@stelloloxonpro.com?subject=unsubscribe>",
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    msg = _parse(row.raw)
    assert msg["Message-ID"] == row.message_id
    assert msg["Subject"] == SUBJECT and msg["In-Reply-To"] == "<req-1@example.com>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    head = row.raw.split(b"\r\n\r\n", 1)[0]
    assert head.index(b"List-Unsubscribe:") < head.index(b"MIME-Version:")


def test_as_bytes_without_a_policy_gives_lf_like_an_email_message(app: App) -> None:
    msg = compose(app, to="jane@example.com", rendered=_rendered(), threading=NO_THREAD,
                  now=WHEN, attachments=(FileAttachment("a.bin", b"\r\n\x00"),))
    wire = msg.as_bytes(policy=WIRE_POLICY)
    assert msg.as_bytes() == wire.replace(b"\r\n", b"\n") and b"\r" not in msg.as_bytes()
