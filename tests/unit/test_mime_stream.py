"""Spooled large messages: attachments decoded straight into the file store."""

from __future__ import annotations

import hashlib
from email import policy
from email.message import EmailMessage
from pathlib import Path

from bot.mime import parse_message
from bot.mime_stream import parse_spooled
from storage.files import FileStore

PAYLOAD = bytes(range(256)) * 4096 * 3  # 3 MB of every byte value


def _mail(*, attachments: dict[str, bytes], text: str = "New job, see the model.") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jane@example.com", "info@x.com", "Job"
    msg["Message-ID"] = "<big@example.com>"
    msg.set_content(text)
    msg.add_alternative(f"<p>{text}</p>", subtype="html")
    msg.make_mixed()
    for name, data in attachments.items():
        msg.add_attachment(data, maintype="model", subtype="stl", filename=name)
    msg.preamble = "This is a multi-part message in MIME format."
    return msg.as_bytes(policy=policy.SMTP)


def test_large_attachment_goes_to_the_store_text_to_the_parser(tmp_path: Path) -> None:
    spool = tmp_path / "mail.eml"
    spool.write_bytes(_mail(attachments={"part.stl": PAYLOAD, "tiny.stl": b"solid t\n"}))
    store = FileStore(tmp_path / "files")
    parsed = parse_spooled(spool, store)
    assert parsed.subject == "Job" and parsed.message_id == "<big@example.com>"
    assert "New job, see the model." in parsed.text
    by_name = {a.filename: a for a in parsed.attachments}
    big = by_name["part.stl"]
    assert big.stored is not None and big.data == b""
    assert big.stored.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert big.size == len(PAYLOAD) and store.path(big.stored.key).read_bytes() == PAYLOAD
    assert by_name["tiny.stl"].stored is not None  # every non-text part is streamed
    reference = parse_message(spool.read_bytes())
    assert reference.text == parsed.text
    assert sorted(a.filename for a in reference.attachments) == sorted(by_name)


def test_over_the_limit_is_recorded_not_kept(tmp_path: Path) -> None:
    spool = tmp_path / "mail.eml"
    spool.write_bytes(_mail(attachments={"huge.stl": PAYLOAD}))
    store = FileStore(tmp_path / "files")
    [attachment] = parse_spooled(spool, store, max_attachment_bytes=1000).attachments
    assert attachment.too_large and attachment.stored is None
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]


def test_not_multipart_or_bare_newlines_fall_back_to_the_ordinary_parser(tmp_path: Path) -> None:
    spool = tmp_path / "mail.eml"
    spool.write_bytes(b"From: a@example.com\nSubject: hi\n\nplain body\n")
    parsed = parse_spooled(spool, FileStore(tmp_path / "files"))
    assert parsed.text.strip() == "plain body"
