"""Unit tests for bot.robots: each rule fires on its robot and stays quiet for humans."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.mime import ParsedMessage, parse_message
from bot.robots import RULES, SOFT_RULES, robot_verdict

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"


def make(headers: str, body: str = "Hello, please send a quote.") -> ParsedMessage:
    base = "From: Client <client@example.com>\nTo: projects@stelloloxon.example\n"
    return parse_message(f"{base}{headers}\n{body}\n".encode())


def test_rule_names_in_contract_order() -> None:
    assert [rule.name for rule in RULES] == [
        "auto_submitted",
        "dsn_bounce",
        "mailer_daemon_sender",
        "noreply_sender",
        "precedence",
        "list_headers",
        "auto_reply_headers",
        "auto_reply_subject",
        "feedback_report",
        "mail_system_report",
        "daemon_return_path",
        "delivery_system_name",
        "bounce_subject",
        "provider_bounce_headers",
        "list_software_headers",
        "list_software_sender",
        "list_notice_subject",
        "complaint_report",
        "bulk_sender_headers",
        "bulk_return_path",
        "dmarc_report",
        "bulk_role_sender",
        "list_group_recipient",
        "machine_payload",
        "form_notification_subject",
        "list_unsubscribe",
        "sent_via_platform",
        "automated_notice_text",
        "absence_notice_text",
        "transaction_subject",
        "platform_headers",
        "system_account_sender",
    ]
    assert all(rule.description for rule in RULES)
    soft = {"bulk_role_sender", "list_group_recipient", "machine_payload",
            "form_notification_subject", "list_unsubscribe", "sent_via_platform",
            "platform_headers", "automated_notice_text", "transaction_subject",
            "system_account_sender", "absence_notice_text"}
    assert set(SOFT_RULES) == soft


@pytest.mark.parametrize(
    ("name", "fired"),
    [
        ("plain_request.eml", []),
        ("reply_de.eml", []),
        ("stl_attachment.eml", []),
        ("html_only.eml", []),
        (
            "dsn_bounce.eml",
            ["auto_submitted", "dsn_bounce", "mailer_daemon_sender", "mail_system_report",
             "delivery_system_name", "bounce_subject"],
        ),
        (
            "ooo_de_auto_submitted.eml",  # its X-Auto-Response-Suppress alone would not count
            ["auto_submitted", "auto_reply_subject", "absence_notice_text"],
        ),
        ("ooo_de_x_autoreply.eml", ["auto_reply_headers", "auto_reply_subject"]),
        ("mailing_list.eml", ["list_headers", "list_unsubscribe"]),
        ("precedence_bulk.eml", ["precedence", "bulk_role_sender", "list_unsubscribe"]),
        ("noreply.eml", ["noreply_sender"]),
    ],
)
def test_sample_messages(name: str, fired: list[str]) -> None:
    assert robot_verdict(parse_message((MAIL / name).read_bytes())) == fired


@pytest.mark.parametrize(
    ("headers", "fired"),
    [
        ("Auto-Submitted: auto-generated", ["auto_submitted"]),
        ("Auto-Submitted: No", []),
        ("Auto-Submitted: auto-replied; owner-email=x@example.com", ["auto_submitted"]),
        ("Return-Path: <>", ["mailer_daemon_sender"]),
        ("Return-Path: <client@example.com>", []),
        ("Precedence: junk", ["precedence"]),
        ("Precedence: list", ["precedence"]),
        ("Precedence: first-class", []),
        ("List-Id: <models.lists.example.com>", ["list_headers"]),
        ("List-Post: <mailto:models@lists.example.com>", ["list_headers"]),
        ("List-Unsubscribe: <mailto:u@example.com>", ["list_unsubscribe"]),
        ("X-Autoreply: yes", ["auto_reply_headers"]),
        ("X-Autorespond: Vacation", ["auto_reply_headers"]),
        # asks the recipient not to auto-answer; Outlook sets it on people's mail too
        ("X-Auto-Response-Suppress: OOF, DR", []),
        ("X-Auto-Response-Suppress: All", []),
        ("X-Auto-Response-Suppress: RN, NRN", []),
        ("X-Mailer: Vacation/1.2.7", ["auto_reply_headers"]),
        ("X-Mailer: Microsoft Outlook 16.0", []),
    ],
)
def test_header_rules(headers: str, fired: list[str]) -> None:
    assert robot_verdict(make(headers)) == fired


@pytest.mark.parametrize(
    ("sender", "fired"),
    [
        ("MAILER-DAEMON@mx.example.com", ["mailer_daemon_sender"]),
        ("postmaster@example.com", ["mailer_daemon_sender"]),
        ("post_master@example.com", ["mailer_daemon_sender"]),
        ("Mailer_Daemon@example.com", ["mailer_daemon_sender"]),
        ("owner-models@lists.example.com", ["list_software_sender"]),
        ("models-owner@lists.example.com", ["list_software_sender"]),
        ("models-request@lists.example.com", ["list_software_sender"]),
        ("models-admin@lists.example.com", ["list_software_sender"]),
        ("models-bounces+anna=example.com@lists.example.com", ["list_software_sender"]),
        ("LISTSERV@lists.example.com", ["list_software_sender"]),
        ("administrator@example.com", []),
        ("owner@example.com", []),
        ("request.desk@example.com", []),
        ("noreply@example.com", ["noreply_sender"]),
        ("do-not-reply@example.com", ["noreply_sender"]),
        ("DoNotReply@example.com", ["noreply_sender"]),
        ("notifications-noreply@example.com", ["noreply_sender"]),
        ("bounces+1234@mail.example.com", ["noreply_sender"]),
        ("bounce@example.com", ["noreply_sender"]),
        ("bouncer.design@example.com", []),
        ("noreplyhero@example.com", []),
        ("anna@example.com", []),
    ],
)
def test_sender_rules(sender: str, fired: list[str]) -> None:
    msg = parse_message(f"From: {sender}\nSubject: x\n\nbody\n".encode())
    assert robot_verdict(msg) == fired


@pytest.mark.parametrize(
    ("subject", "is_auto"),
    [
        ("Out of Office: Your quote", True),
        ("Automatic reply: Your quote", True),
        ("Autoreply: hello", True),
        ("Auto-Reply", True),
        ("Abwesenheitsnotiz", True),
        ("Automatische Antwort: Angebot", True),
        # a person answering an auto-reply, or announcing their own absence
        ("AW: Automatische Antwort: Angebot", False),
        ("Re: Automatic reply: Re: STL repair", False),
        ("Out of office next week - please send the files before Friday", False),
        ("Out of office (back on 5 January)", True),
        ("Réponse automatique : devis", True),
        ("Absence: devis", True),
        ("Absence du bureau", True),
        ("Respuesta automática: presupuesto", True),
        ("Fuori sede", True),
        ("Risposta automatica: preventivo", True),
        ("Afwezig: offerte", True),
        ("Automatiskt svar: Offert för modellförberedelse", True),
        ("Odpowiedź automatyczna: Wycena", True),
        ("Automatická odpověď: Nabídka", True),
        ("Automatski odgovor: ponuda", True),
        ("Răspuns automat: ofertă", True),
        ("Αυτόματη απάντηση: προσφορά", True),
        ("Re: Automatiskt svar: Offert", False),
        ("Absence of textures in my STL export", False),
        ("Question about out-of-office delivery hours", False),
        ("Re: Your quote", False),
        ("", False),
    ],
)
def test_auto_reply_subject(subject: str, is_auto: bool) -> None:
    msg = make(f"Subject: {subject}")
    assert ("auto_reply_subject" in robot_verdict(msg)) is is_auto


def report(report_type: str, part_type: str) -> ParsedMessage:
    return make(
        "MIME-Version: 1.0\nContent-Type: multipart/report; "
        f'report-type={report_type}; boundary="r"\n',
        f"--r\nContent-Type: text/plain\n\nreport\n--r\nContent-Type: {part_type}\n\n"
        "Version: 1\n\n--r--",
    )


def test_feedback_report() -> None:
    assert robot_verdict(report("feedback-report", "message/feedback-report")) == [
        "feedback_report", "mail_system_report"
    ]


def test_dsn_part_inside_mixed_message() -> None:
    msg = make(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n',
        "--m\nContent-Type: text/plain\n\nx\n--m\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; a@b.c\n"
        "Action: failed\nStatus: 5.0.0\n\n--m--",
    )
    assert robot_verdict(msg) == ["dsn_bounce"]


def test_read_receipt_counts_as_status_report() -> None:
    msg = report("disposition-notification", "message/disposition-notification")
    assert robot_verdict(msg) == ["dsn_bounce", "mail_system_report"]


# --------------------------------------------------------------- issue 17: one mail per rule

ROBOTS = MAIL / "robots"


@pytest.mark.parametrize(
    ("name", "fired"),
    [
        ("report_without_type.eml", ["mail_system_report"]),
        ("daemon_return_path.eml", ["daemon_return_path"]),
        ("post_master_sender.eml", ["mailer_daemon_sender"]),
        ("delivery_system_name.eml", ["delivery_system_name"]),
        ("bounce_subject.eml", ["bounce_subject"]),
        ("provider_bounce_headers.eml", ["provider_bounce_headers"]),
        ("list_software_headers.eml", ["list_software_headers"]),
        ("list_software_sender.eml", ["list_software_sender"]),
        ("list_notice_subject.eml", ["list_notice_subject"]),
        ("complaint_report.eml", ["complaint_report"]),
        ("bulk_sender_headers.eml",
         ["bulk_sender_headers", "bulk_role_sender", "list_unsubscribe"]),
        ("dmarc_report.eml", ["dmarc_report"]),
        ("bulk_return_path.eml", ["bulk_return_path"]),
        ("dsn_with_project_request.eml", ["delivery_system_name"]),
        ("bulk_role_sender.eml", ["bulk_role_sender"]),
        ("list_group_recipient.eml", ["list_group_recipient"]),
        ("machine_payload.eml", ["machine_payload"]),
        ("form_notification_subject.eml", ["form_notification_subject"]),
        ("list_unsubscribe.eml", ["list_unsubscribe", "transaction_subject"]),
        ("sent_via_platform.eml", ["sent_via_platform"]),
        ("platform_headers.eml", ["platform_headers"]),
        ("automated_notice_text.eml", ["automated_notice_text"]),
        ("transaction_subject.eml", ["transaction_subject"]),
        ("system_account_sender.eml", ["system_account_sender"]),
        ("platform_message_id.eml", ["platform_headers"]),
        ("notification_header.eml", ["platform_headers"]),
        ("ooo_cs_body_only.eml", ["automated_notice_text"]),
        ("absence_notice_text.eml", ["absence_notice_text"]),
    ],
)
def test_each_rule_has_its_own_mail(name: str, fired: list[str]) -> None:
    assert robot_verdict(parse_message((ROBOTS / name).read_bytes())) == fired


def test_every_rule_has_a_test_mail() -> None:
    seen = {rule for path in [*ROBOTS.glob("*.eml"), *MAIL.glob("*.eml")]
            for rule in robot_verdict(parse_message(path.read_bytes()))}
    untested = {"auto_reply_subject", "feedback_report"}  # covered by the tests above
    assert {rule.name for rule in RULES} - seen <= untested


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: Delivery failed for my order SP-2025-0042",
        "Subject: Re: complaint about message from your staff",
        "Subject: My message could not be delivered to your sales team",
        "Subject: Welcome aboard",
        "Subject: Report on the domain of 3D printing",
        "Sender: Anna Example <anna@example.com>",
        "Return-Path: <anna@example.com>",
        "Return-Path: <bouncer.design@example.com>",
        "From: Anna Admin <anna@example.com>",
        "From: Delivery Team <delivery@example.com>",
        "X-Mailer: Apple Mail (2.3445)",
        "Reply-To: info@clientfirm.example",
        "Sender: sales@clientfirm.example",
        "Reply-To: office@clientfirm.example",
        "To: undisclosed-recipients:;",
        "To: Undisclosed recipients:;",
        "Subject: Lead time for my print?",
        "Subject: Leads and wires for the robot housing",
        "Subject: New submission of files for SP-2025-0042",
        "Subject: Contact form: please delete my data",
        "X-Mailgun-Incoming: Yes",
        "X-SES-Receipt: AEFBQUFBQUFBQUFH",
        "X-Mailer: Microsoft Outlook 16.0",
        "From: Olivia Viaud <olivia@example.com>",
        "Message-ID: <4F79B73C.9030506@mail.gmail.com>",
        "Subject: Where is my shipment? SP-2025-0042",
        "X-Notes-Item: yes",
    ],
)
def test_people_are_not_robots(headers: str) -> None:
    assert robot_verdict(make(headers)) == []


@pytest.mark.parametrize(
    ("headers", "fired"),
    [
        ("Subject: Undeliverable: Your quote", ["bounce_subject"]),
        ("Subject: Delivery Status Notification (Failure)", ["bounce_subject"]),
        ("Subject: Mail delivery failed: returning message to sender", ["bounce_subject"]),
        ("Subject: failure notice", ["bounce_subject"]),
        ("Subject: Unzustellbar: Angebot", ["bounce_subject"]),
        ("Subject: complaint about message from 2001:db8::25", ["complaint_report"]),
        ("X-MS-Exchange-Message-Is-Ndr: true", ["provider_bounce_headers"]),
        ("X-Mailman-Version: 2.1.39", ["list_software_headers"]),
        ("X-BeenThere: models@lists.example.com", ["list_software_headers"]),
        ("Errors-To: bounces@news.example.com", ["list_software_headers"]),
        ("X-Loop: models@lists.example.com", ["list_software_headers"]),
        ("Sender: owner-models@lists.example.com", ["list_software_sender"]),
        ("Return-Path: <MAILER-DAEMON@mx.example.com>", ["daemon_return_path"]),
        ("Sender: postmaster@example.com", ["daemon_return_path"]),
        ("Subject: Your message to models awaits moderator approval", ["list_notice_subject"]),
        ("X-CSA-Complaints: csa-complaints@eco.de", ["bulk_sender_headers"]),
        ("Return-Path: <bounces@esp.example.com>", ["bulk_return_path"]),
        ("Return-Path: <bounce+1a2b=example.com@esp.example.com>", ["bulk_return_path"]),
    ],
)
def test_issue17_header_rules(headers: str, fired: list[str]) -> None:
    assert robot_verdict(make(headers)) == fired


def test_mail_delivery_names() -> None:
    for name in ("Mail Delivery System", "Mail Delivery Subsystem", "Mail Delivery Subsys",
                 "Mail Administrator", "MAILER-DAEMON", "Postmaster"):
        msg = parse_message(f"From: {name} <relay@mx.example.com>\nSubject: x\n\nb\n".encode())
        assert robot_verdict(msg) == ["delivery_system_name"], name


@pytest.mark.parametrize(
    ("headers", "body", "fired"),
    [
        ("From: Newsletter <newsletter@shop.example>", "Hello", ["bulk_role_sender"]),
        ("Reply-To: announcements@shop.example", "Hello", ["bulk_role_sender"]),
        ("To: Customers-List:;", "Hello", ["list_group_recipient"]),
        ("Content-Type: text/plain; charset=utf-8",
         "<?xml version='1.0'?>\n<lead><name>A</name></lead>", ["machine_payload"]),
        ("Subject: [Online Lead] Lead #77", "Name: A", ["form_notification_subject"]),
        ("Subject: New form submission: Quote", "Name: A", ["form_notification_subject"]),
    ],
)
def test_bulk_rules(headers: str, body: str, fired: list[str]) -> None:
    assert robot_verdict(make(headers, body)) == fired


def test_xml_mentioned_by_a_person_is_not_a_payload() -> None:
    body = "Hi, my slicer exports <?xml headers in the 3MF, is that a problem?"
    assert robot_verdict(make("Subject: 3MF question", body)) == []


@pytest.mark.parametrize(
    ("headers", "fired"),
    [
        ("From: Sam Example via Forms <forms@platform.example>", ["sent_via_platform"]),
        ("X-Mailer: PrestaShop", ["platform_headers"]),
        ("Feedback-ID: 1.eu-west-1.abc:AmazonSES", ["platform_headers"]),
        ("X-Shopify-Email-Campaign: 945", ["platform_headers"]),
    ],
)
def test_platform_rules(headers: str, fired: list[str]) -> None:
    assert robot_verdict(make(headers)) == fired


@pytest.mark.parametrize(
    "footer",
    [
        "Please do not reply to this email.",
        "You're receiving this email because you made a purchase at ShapeForge.",
        "This email was sent from your website \"Stelloloxon Pro\" by the Wordfence plugin.",
        "Notification settings: https://platform.example/settings",
        "Bitte antworten Sie nicht auf diese E-Mail.",
        "Diese E-Mail wurde automatisch erstellt.",
        "Merci de ne pas répondre à ce message.",
        "Este correo ha sido generado automáticamente.",
        "Non rispondere a questa email.",
        "Não responda a este e-mail.",
        "Reageer niet op deze e-mail.",
        "Svara inte på detta mejl.",
        "Neodpovídejte na tento e-mail.",
        "Nu răspundeți la acest mesaj.",
        # auto-replies that say so only in their text
        "This is an automatic reply. I am away until Monday.",
        "Dies ist eine automatische Antwort.",
        "Ceci est une réponse automatique.",
        "Esta es una respuesta automática.",
        "Questa è una risposta automatica.",
        "Esta é uma resposta automática.",
        "Dit is een automatisch antwoord.",
        "Toto je automatická odpověď.",
        "Ovo je automatski odgovor.",
        "Acesta este un răspuns automat.",
        "Αυτή είναι μια αυτόματη απάντηση.",
        "Detta är ett automatiskt svar.",
    ],
)
def test_notice_text_in_each_language(footer: str) -> None:
    body = f"Your parcel 44-17 is on its way.\n\n{footer}\n"
    assert robot_verdict(make("Subject: Parcel 44-17", body)) == ["automated_notice_text"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # a client forwarding a carrier notice with a question on top
        ("Subject: Fwd: Your parcel 44-17",
         "Is this my order? It never came.\n\n---------- Forwarded message ---------\n"
         "Your parcel is on its way. Please do not reply to this email."),
        # an answer to the bot that quotes its own footer
        ("Subject: Re: your request\nIn-Reply-To: <ack-1@stelloloxon.example>",
         "Yes, please go ahead.\n\n> This is an automated message, please do not reply."),
        ("Subject: Re: Order confirmation #1187", "The order is wrong, I wanted 2 copies."),
        ("Subject: question about my order", "Do not delete my files, I will reply to the quote."),
        # a new job is a "new order" too, in people's words
        ("Subject: Nuevo pedido", "Hola, os mando el STL para imprimir 3 piezas."),
        ("Subject: Neue Bestellung", "Hallo, anbei die Datei, bitte 2 Stück drucken."),
    ],
)
def test_people_quoting_notices_are_not_robots(headers: str, body: str) -> None:
    assert robot_verdict(make(headers, body)) == []


@pytest.mark.parametrize(
    "subject",
    [
        "[Shop]: New order #1187",
        "Your receipt from ShapeForge #2391-4470",
        "UPS Update: Package Scheduled for Delivery Friday",
        "Reminder: Invoice INV-30871 is overdue",
        "Congratulations! You sold a design",
        "Ihre Bestellbestätigung Nr. 4471",
        "Confirmación de pedido 7781",
        "Orderbevestiging 55120",
    ],
)
def test_transaction_subjects(subject: str) -> None:
    assert robot_verdict(make(f"Subject: {subject}")) == ["transaction_subject"]


PEOPLE = MAIL / "people"


@pytest.mark.parametrize("path", sorted(PEOPLE.glob("*.eml")), ids=lambda p: p.stem)
def test_people_that_look_like_machines_are_not_robots(path: Path) -> None:
    """Own-site contact forms and mail a client's group sends to us carry bulk marks, but a
    person wrote them."""
    assert robot_verdict(parse_message(path.read_bytes()), "Stelloloxon Pro") == []


@pytest.mark.parametrize(
    "body",
    [
        "I am on holiday until 14 December - could you send the files before then?",  # asks
        "Sono in ferie fino al 14. Per questioni urgenti: 055 555.\n\n> Your quote ...\n> ...",
    ],
)
def test_a_person_mentioning_an_absence_is_not_an_auto_reply(body: str) -> None:
    assert "absence_notice_text" not in robot_verdict(make("Subject: Re: quote", body))


def test_a_group_post_that_does_not_greet_us_is_list_traffic() -> None:
    raw = (PEOPLE / "group_post_greeting_us.eml").read_bytes().replace(
        b"Hello Stelloloxon,", b"Hello all,")
    assert "list_headers" in robot_verdict(parse_message(raw), "Stelloloxon Pro")


@pytest.mark.parametrize(
    ("name", "old", "new", "fired"),
    [
        # Precedence: bulk is only forgiven on a person's mail program, and never junk/list
        ("precedence_bulk_personal_mailer.eml", b"X-Mailer: The Bat! (v11.0.2) Home",
         b"X-Mailer: CronMailer 2.1", ["precedence"]),
        ("precedence_bulk_personal_mailer.eml", b"Precedence: bulk", b"Precedence: junk",
         ["precedence"]),
        # a noreply address is a person's only when the rest of it is their own name
        ("noreply_looking_personal_address.eml", b"noreply-lukas@", b"noreply-alerts@",
         ["noreply_sender"]),
        ("noreply_looking_personal_address.eml", b"User-Agent: Mozilla Thunderbird\n", b"",
         ["noreply_sender"]),
        # a ticket system's acknowledgement is not a reply, and carries Auto-Submitted
        ("helpdesk_agent_reply.eml", b"Subject: Re: [Ferro-Werk]", b"Subject: [Ferro-Werk]",
         ["platform_headers"]),
        ("wordy_bounce_address.eml", b"bounce-castle-hire@", b"bounce-4411@",
         ["noreply_sender", "bulk_return_path"]),
        ("proton_mail_user.eml", b"<aB3xQ9-Zt2@proton.me>", b"<aB3xQ9-Zt2@pm.esp.example>",
         ["platform_headers"]),
        ("signature_gateway_unsubscribe.eml", b"X-CodeTwoProcessed: true\n", b"",
         ["list_unsubscribe"]),
        ("freshdesk_agent_reply.eml", b"In-Reply-To: <r-77@stelloloxonpro.com>\nSubject: Re:",
         b"Subject:",
         ["bulk_return_path"]),
        ("helpdesk_agent_reply.eml", b"X-Mailer: Zendesk Mailer",
         b"Auto-Submitted: auto-generated\nX-Mailer: Zendesk Mailer",
         ["auto_submitted", "platform_headers"]),
    ],
)
def test_person_marks_are_forgiven_only_alone(name: str, old: bytes, new: bytes,
                                              fired: list[str]) -> None:
    raw = (PEOPLE / name).read_bytes()
    assert old in raw
    assert robot_verdict(parse_message(raw.replace(old, new)), "Stelloloxon Pro") == fired


def test_a_list_posting_is_still_a_robot() -> None:
    """The same group headers on mail sent *to* the list: that is list traffic."""
    raw = (PEOPLE / "group_sent_to_us.eml").read_bytes().replace(
        b"To: info@stelloloxon.example", b"To: projects@client-firm.example")
    assert "list_headers" in robot_verdict(parse_message(raw))


def test_a_lead_marketplace_form_is_still_a_robot() -> None:
    raw = (PEOPLE / "own_site_contact_form.eml").read_bytes().replace(
        b"From: Stelloloxon Pro <wordpress@stelloloxon.example>",
        b"From: Leads <forms@leadmarket.example>")
    assert robot_verdict(parse_message(raw)) == ["form_notification_subject"]


def _mail(from_line: str, extra: str = "") -> ParsedMessage:
    raw = (f"From: {from_line}\nTo: info@stelloloxon.example\n{extra}"
           "Subject: Quote\n\nHello, please send a quote.\n")
    return parse_message(raw.encode())


@pytest.mark.parametrize(
    ("from_line", "extra"),
    [
        ("Web Team <web@clientfirm.example>", ""),
        # a platform's own staff mint Message-IDs on their own domain
        ("Ana Mailgun <ana@mailgun.org>", "Message-ID: <4F79B73C.9030506@xxx.mailgun.org>\n"),
        # our site's contact form relaying a person
        ("WordPress <wordpress@stelloloxon.example>", "Reply-To: Jana <jana@example.com>\n"),
    ],
)
def test_people_behind_system_looking_senders(from_line: str, extra: str) -> None:
    assert robot_verdict(_mail(from_line, extra)) == []


@pytest.mark.parametrize(
    ("from_line", "extra", "fired"),
    [
        ("Server <root@web01.clientfirm.example>", "", ["system_account_sender"]),
        ("Jo <jo@clientfirm.example>", "Message-ID: <a1@email.amazonses.com>\n",
         ["platform_headers"]),
        ("Jo <jo@clientfirm.example>", "X-Lemlist-Campaign: cam_1\n", ["platform_headers"]),
        ("Jo <jo@clientfirm.example>", "Message-ID: <rio-7f3a@mailer.reply.io>\n",
         ["platform_headers"]),
        ("Jo <jo@clientfirm.example>", "X-Mailer: Reply.io\n", ["platform_headers"]),
        ("Carrier <trackingupdates@carrier.example>", "", ["bulk_role_sender"]),
    ],
)
def test_machines_behind_person_looking_senders(from_line: str, extra: str,
                                                fired: list[str]) -> None:
    assert robot_verdict(_mail(from_line, extra)) == fired
