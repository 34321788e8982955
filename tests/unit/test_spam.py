"""Which spam headers count: only those our trusted MX put above its Authentication-Results."""

from __future__ import annotations

import pytest

from bot.mime import ParsedMessage, parse_message
from bot.spam import mx_verdict

TRUSTED = ["mx.stelloloxonpro.com"]
OUR_AR = "Authentication-Results: mx.stelloloxonpro.com; spf=pass smtp.mailfrom=example.com"
BODY = "From: anna@example.com\nTo: info@stelloloxonpro.com\nSubject: hello\n\nHello\n"


def mail(*lines: str) -> ParsedMessage:
    return parse_message(("\n".join(lines) + "\n" + BODY).encode())


@pytest.mark.parametrize(
    "header",
    [
        "X-Spam-Flag: YES",
        "X-Spam-Status: Yes, score=12.4 required=5.0 tests=GTUBE",
        "X-Spam: Yes",
        "X-Rspamd-Action: add header",
        "X-Rspamd-Action: reject",
        "X-Spamd-Result: default: True [15.10 / 15.00]",
    ],
)
def test_verdict_of_our_mx_is_honoured(header: str) -> None:
    assert mx_verdict(mail(header, OUR_AR, "Received: from x by mx"), TRUSTED)


@pytest.mark.parametrize(
    "header",
    [
        "X-Spam-Flag: NO",
        "X-Spam-Status: No, score=0.1 required=5.0",
        "X-Spam: No",
        "X-Rspamd-Action: no action",
        "X-Rspamd-Action: greylist",
        "X-Spamd-Result: default: False [1.10 / 15.00]",
    ],
)
def test_ham_verdicts(header: str) -> None:
    assert mx_verdict(mail(header, OUR_AR), TRUSTED) is None


def test_spam_header_below_our_results_came_with_the_message() -> None:
    forged_against_us = mail(OUR_AR, "Received: from x", "X-Spam-Flag: YES")
    assert mx_verdict(forged_against_us, TRUSTED) is None


def test_no_trusted_ids_configured_means_no_header_counts() -> None:
    assert mx_verdict(mail("X-Spam-Flag: YES", OUR_AR), []) is None


def test_results_of_another_server_do_not_anchor_anything() -> None:
    foreign = "Authentication-Results: mx.attacker.example; spf=pass"
    assert mx_verdict(mail("X-Spam-Flag: YES", foreign), TRUSTED) is None


def test_topmost_trusted_results_is_the_anchor() -> None:
    msg = mail("X-Spam-Status: Yes, score=9", OUR_AR, "X-Spam-Flag: NO", OUR_AR)
    assert mx_verdict(msg, TRUSTED) == "x-spam-status: Yes, score=9"
    ham_on_top = mail("X-Spam-Flag: NO", OUR_AR, "X-Spam-Flag: YES", OUR_AR)
    assert mx_verdict(ham_on_top, TRUSTED) is None
