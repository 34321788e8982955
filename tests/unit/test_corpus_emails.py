"""Every message of the shared robustness corpus parses or is rejected with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.mime import (
    MessageParseError,
    ParsedMessage,
    html_to_text,
    parse_message,
    strip_quotes_and_signature,
)
from bot.robots import robot_verdict

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "emails"

if not CORPUS.is_dir():
    pytest.skip(f"email corpus not found at {CORPUS}", allow_module_level=True)

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def corpus(rel: str) -> Path:
    return CORPUS / rel


def parse(rel: str) -> ParsedMessage:
    return parse_message(corpus(rel).read_bytes(), max_attachment_bytes=5_000_000)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_parses_or_quarantines(path: Path) -> None:
    try:
        msg = parse_message(path.read_bytes(), max_attachment_bytes=1_000_000)
    except MessageParseError as exc:
        assert isinstance(exc.reason, str) and exc.reason.strip()
        return
    assert isinstance(msg.text, str) and isinstance(msg.new_text, str)
    assert isinstance(msg.subject, str) and "\n" not in msg.subject
    assert msg.from_addr == msg.from_addr.lower()
    assert msg.date is None or msg.date.tzinfo is not None
    assert all(isinstance(d, str) for d in msg.defects)
    for att in msg.attachments:
        assert "/" not in att.filename and "\\" not in att.filename
        assert 0 < len(att.filename) <= 200
        assert att.size == len(att.data) or att.too_large
    assert all(isinstance(name, str) for name in robot_verdict(msg))


def test_corpus_is_complete() -> None:
    assert len(FILES) == 333


def test_body_only_fixtures_are_quarantined() -> None:
    with pytest.raises(MessageParseError, match="no mail headers"):
        parse("github-email_reply_parser/email_1_2.txt")


def test_talon_gmail_reply() -> None:
    msg = parse("talon/standard_replies__gmail.eml")
    assert msg.subject == "Re: Test"
    assert msg.from_addr == "xxx@gmail.com"
    assert "wrote:" in msg.text
    assert msg.new_text == "Hello"


@pytest.mark.parametrize(
    "name",
    [
        "android",
        "aol",
        "apple_mail",
        "apple_mail_2",
        "comcast",
        "gmail",
        "hotmail",
        "iphone",
        "outlook",
        "sparrow",
        "thunderbird",
        "yahoo",
    ],
)
def test_talon_replies_keep_only_hello(name: str) -> None:
    assert parse(f"talon/standard_replies__{name}.eml").new_text == "Hello"


@pytest.mark.parametrize("path", sorted((CORPUS / "talon").glob("*.html")), ids=lambda p: p.name)
def test_talon_html_replies(path: Path) -> None:
    """Nine webmail/Outlook HTML replies; the quoted original must go, whatever the layout."""
    new_text = strip_quotes_and_signature(html_to_text(path.read_text()))
    assert [line for line in new_text.split("\n") if line] == ["Hi. I am fine.", "Thanks,", "Alex"]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (
            "github-email_reply_parser/email_1_8.txt",
            "I will reply under this one\n\nand under this.",
        ),
        ("github-email_reply_parser/email_2_2.txt", "Outlook with a reply directly above line"),
        ("github-email_reply_parser/email_BlackBerry.txt", "Here is another email"),
        (
            "github-email_reply_parser/email_sig_delimiter_in_middle_of_line.txt",
            "Hi there!\n\nStuff happened.\n\nAnd here is a fix -- this is not a signature."
            "\n\nkthxbai",
        ),
        (
            "crisp-email-reply-parser/email_tricky_9_nested_quotes.txt",
            "I agree with the points below.",
        ),
        (
            "crisp-email-reply-parser/email_tricky_18_inline_reply.txt",
            "I think option A is great.\n\nOption B has some drawbacks.\n\n"
            "Option C is not suitable for our use case.",
        ),
    ],
)
def test_reply_parser_fixtures(rel: str, expected: str) -> None:
    assert strip_quotes_and_signature(corpus(rel).read_text()) == expected


FUSCE_FIXTURES = sorted(
    path
    for path in (CORPUS / "crisp-email-reply-parser").glob("*.txt")
    if path.read_text().startswith("Fusce")
)


@pytest.mark.parametrize("path", FUSCE_FIXTURES, ids=lambda p: p.name)
def test_crisp_multilingual_headers(path: Path) -> None:
    assert len(FUSCE_FIXTURES) == 43
    """Crisp's fixtures share one 5-line reply above quotes in many languages and layouts."""
    lines = strip_quotes_and_signature(path.read_text()).split("\n")
    assert lines[0].startswith("Fusce bibendum") and lines[-1].endswith("nec nec nibh.")
    assert len(lines) == 5


def test_dsn_from_ruby_mail() -> None:
    msg = parse("ruby-mail/multipart_report_emails__report_530.eml")
    assert robot_verdict(msg)[:3] == ["auto_submitted", "dsn_bounce", "mailer_daemon_sender"]
    assert {"mail_system_report", "daemon_return_path", "bounce_subject"} <= set(
        robot_verdict(msg))


@pytest.mark.parametrize(
    ("rel", "rule"),
    [
        ("cpython-test_email/msg_02.eml", "list_software_headers"),  # Mailman digest
        ("cpython-test_email/msg_42.eml", "delivery_system_name"),  # "Mail Delivery Subsys"
        ("ruby-mail/error_emails__content_transfer_encoding_x_uuencode.eml",
         "list_software_sender"),  # Return-Path: owner-…@list…
        ("ruby-mail/error_emails__content_transfer_encoding_7-bit.eml",
         "list_software_headers"),  # Errors-To of a bulk sender
    ],
)
def test_issue17_robots_in_the_corpus(rel: str, rule: str) -> None:
    assert rule in robot_verdict(parse(rel))


def test_arf_complaint() -> None:
    assert "feedback_report" in robot_verdict(parse("flanker/complaints__yahoo.eml"))


def test_japanese_iso_2022_subject() -> None:
    assert parse("ruby-mail/multi_charset__japanese_iso_2022.eml").subject == "まみむめも"


def test_rfc6532_utf8_headers() -> None:
    msg = parse("ruby-mail/rfc6532__utf8_headers.eml")
    assert (msg.subject, msg.from_addr) == ("Säying Hello", "jdöe@mächine.example")


def test_unknown_charset_is_a_defect_not_a_crash() -> None:
    msg = parse("ruby-mail/plain_emails__raw_email10.eml")
    assert "part 1: unknown charset 'x-unknown'" in msg.defects
    assert len(msg.text) == 265
