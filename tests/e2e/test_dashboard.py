"""The staff dashboard end to end: the running daemon serves it on loopback, and Debian's
chromium (headless, driven by Selenium through chromedriver) logs in, opens an overdue
deletion case, approves it, and the deletion notice lands in the outbox. The run saves
screenshots of the case list, a case and the report (to docs/screenshots/, shown in the README,
only with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.context import App
from bot.dashboard.auth import add_staff
from bot.demo import seed_demo
from bot.privacy import run_due_deletions
from storage import models
from storage.db import unit_of_work
from tests.e2e.test_privacy_rights import Mailbox, _code, _purpose
from tests.helpers import outbox_messages, wait_until

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# The README's pictures are refreshed only on request (UPDATE_SCREENSHOTS=1): a test run must
# not rewrite tracked files.
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("UPDATE_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "stelloloxon-screenshots")
PASSWORD = "correct horse battery"
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,900")


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    reason = "chromium / chromium-driver not installed (run scripts/install-test-deps.sh)"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}:
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def served(make_app: Callable[..., App], run_daemon: Callable) -> Iterator[tuple[App, object]]:
    app = make_app(dashboard_enabled=True, dashboard_port=0)
    seed_demo(app)
    add_staff(app, username="anna", display_name="Anna Berg", password=PASSWORD)
    with run_daemon(app) as daemon:
        yield app, daemon


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    _require_chromium()
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)  # an element may appear a moment after the page under load
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_daemon_serves_the_dashboard_on_loopback_behind_a_login(
        served: tuple[App, object]) -> None:
    _app, daemon = served
    base = f"http://127.0.0.1:{daemon.dashboard.port}"  # type: ignore[attr-defined]
    assert httpx.get(f"{base}/login").status_code == 200
    cases = httpx.get(f"{base}/cases", follow_redirects=False)
    assert cases.status_code == 303 and cases.headers["location"] == "/login"


def test_staff_approve_an_overdue_deletion_in_the_browser(
        served: tuple[App, object], browser: object, clock: FrozenClock) -> None:
    from selenium.webdriver.common.by import By

    app, daemon = served
    mail = Mailbox(app, daemon.smtp_port)  # type: ignore[attr-defined]
    ref = _deletion_waiting_for_approval(app, mail)
    mail.send("I have a complaint about my last order.", sender="someone@example.org")
    clock.advance(days=31)  # the deletion request is now overdue
    base = f"http://127.0.0.1:{daemon.dashboard.port}"  # type: ignore[attr-defined]
    driver = browser
    _log_in(driver, base)
    driver.find_element(By.LINK_TEXT, "Overdue").click()  # type: ignore[attr-defined]
    overdue = driver.find_element(By.CSS_SELECTOR, "span.days.overdue")  # type: ignore[attr-defined]
    assert overdue.text == "-1"
    driver.find_element(By.LINK_TEXT, ref).click()  # type: ignore[attr-defined]
    assert "waiting: deletion" in driver.page_source  # type: ignore[attr-defined]
    seen = _settled(app)
    driver.find_element(By.XPATH, "//button[text()='Approve']").click()  # type: ignore[attr-defined]
    flash = driver.find_element(By.CSS_SELECTOR, "p.flash").text  # type: ignore[attr-defined]
    assert flash.startswith("deletion approved; it runs on")
    [notice] = _arrived(app, seen, 1)
    assert notice["To"] == "jane@example.com" and "will be deleted on" in notice["Subject"]
    assert "dashboard:anna" in driver.page_source  # type: ignore[attr-defined]
    _screenshot(driver, "case.png", 1280, 1400)
    with unit_of_work(app.engine) as session:
        case = session.exec(select(models.Case).where(models.Case.ref == ref)).one()
    assert case.status == "deletion_scheduled"
    _more_cases_for_the_screenshots(app, mail, clock)
    _log_in(driver, base)  # weeks have passed: the session has expired
    _extend_in_the_browser(driver, app, mail)
    driver.get(f"{base}/cases")  # type: ignore[attr-defined]
    _screenshot(driver, "cases.png", 1280, 560)
    driver.get(f"{base}/report")  # type: ignore[attr-defined]
    assert len(driver.find_elements(By.TAG_NAME, "svg")) == 2  # type: ignore[attr-defined]
    assert "accounting and tax law" in driver.page_source  # type: ignore[attr-defined]
    _screenshot(driver, "report.png", 1280, 1500)


def _extend_in_the_browser(driver: object, app: App, mail: Mailbox) -> None:
    """Max's access request gets 30 more days, with a reason he is told."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, "SP-REQ-000003").click()  # type: ignore[attr-defined]
    form = driver.find_element(  # type: ignore[attr-defined]
        By.XPATH, "//form[.//button[text()='Extend']]")
    form.find_element(By.NAME, "days").send_keys("30")
    form.find_element(By.NAME, "text").send_keys("the export of your model archive is large")
    seen = _settled(app)
    form.find_element(By.XPATH, ".//button[text()='Extend']").click()
    flash = driver.find_element(By.CSS_SELECTOR, "p.flash").text  # type: ignore[attr-defined]
    assert flash.startswith("extended; now due")
    [notice] = _arrived(app, seen, 1)
    assert notice["To"] == "max@example.de"
    assert "model archive is large" in notice.get_body(("plain",)).get_content()


def _settled(app: App) -> int:
    """Wait until every queued reply is in the outbox folder; returns how many there are."""
    def idle() -> bool:
        with unit_of_work(app.engine) as session:
            return session.exec(select(models.Outbox.id).where(
                models.Outbox.status == "pending")).first() is None

    wait_until(idle)
    return len(outbox_messages(app))


def _arrived(app: App, seen: int, count: int) -> list:
    """The messages written after the first `seen`, once there are `count` of them."""
    wait_until(lambda: len(outbox_messages(app)) >= seen + count)
    _settled(app)
    return outbox_messages(app)[seen:]


def _log_in(driver: object, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/cases")  # type: ignore[attr-defined]
    # a redirect to the login page can still be under way on a loaded machine
    wait_until(lambda: "Log in" in driver.title)  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys("anna")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    wait_until(lambda: "Cases" in driver.title)  # type: ignore[attr-defined]


def _more_cases_for_the_screenshots(app: App, mail: Mailbox, clock: FrozenClock) -> None:
    """The grace period passes and the deletion runs; new requests arrive over two weeks."""
    clock.advance(days=8)
    with app.write_lock, unit_of_work(app.engine) as session:
        assert run_due_deletions(session, app) == 1
    mail.send("Please send me a copy of all my personal data.", sender="max@example.de",
              wait=2)
    clock.advance(days=12)
    mail.send("Please stop sending me marketing emails.", sender="camille@example.fr")
    mail.send("Please change my phone number to +33 6 12 34 56 78.",
              sender="camille@example.fr", subject="Correction")

    def all_opened() -> bool:
        with unit_of_work(app.engine) as session:
            return len(session.exec(select(models.Case.id)).all()) >= 5

    wait_until(all_opened)
    clock.advance(days=9)


def _deletion_waiting_for_approval(app: App, mail: Mailbox) -> str:
    """Jane (demo client with an active project) asks for deletion and confirms her code."""
    code_mail = _purpose(mail.send("Please delete all my personal data.", wait=2),
                         "verification code")
    mail.send(f"Here is my code: {_code(code_mail)}", reply_to=code_mail)

    def waiting() -> str | None:
        with unit_of_work(app.engine) as session:
            case = session.exec(select(models.Case).where(
                models.Case.pending_action == "deletion")).first()
        return case.ref if case is not None else None

    return str(wait_until(waiting))


def _screenshot(driver: object, name: str, width: int, height: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, height)  # type: ignore[attr-defined]
    driver.save_screenshot(str(SCREENSHOTS / name))  # type: ignore[attr-defined]
    assert (SCREENSHOTS / name).stat().st_size > 0
