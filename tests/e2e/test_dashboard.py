"""The staff dashboard end to end: the running daemon serves it on loopback, and Debian's
chromium (headless, driven by Selenium through chromedriver) logs in, opens an overdue
deletion case, approves it, and the deletion notice lands in the outbox. The run saves
screenshots of the case list and the report to docs/screenshots/ (shown in the README)."""

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
from storage import models
from storage.db import unit_of_work
from tests.e2e.test_privacy_rights import Mailbox, _code, _purpose
from tests.helpers import outbox_messages, wait_until

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
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
    mail.send("Please send me a copy of all my personal data.", sender="max@example.de",
              wait=2)
    clock.advance(days=31)  # the deletion request is now overdue
    mail.send("Please stop sending me marketing emails.", sender="camille@example.fr")
    base = f"http://127.0.0.1:{daemon.dashboard.port}"  # type: ignore[attr-defined]
    driver = browser
    driver.get(f"{base}/cases")  # type: ignore[attr-defined]
    assert "Log in" in driver.title  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys("anna")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    wait_until(lambda: "Cases" in driver.title)  # type: ignore[attr-defined]
    _screenshot(driver, "cases.png", 1280, 720)
    driver.find_element(By.LINK_TEXT, "Overdue").click()  # type: ignore[attr-defined]
    overdue = driver.find_element(By.CSS_SELECTOR, "span.days.overdue")  # type: ignore[attr-defined]
    assert overdue.text == "-1"
    driver.find_element(By.LINK_TEXT, ref).click()  # type: ignore[attr-defined]
    assert "waiting: deletion" in driver.page_source  # type: ignore[attr-defined]
    mail.seen = len(outbox_messages(app))
    driver.find_element(By.XPATH, "//button[text()='Approve']").click()  # type: ignore[attr-defined]
    flash = driver.find_element(By.CSS_SELECTOR, "p.flash").text  # type: ignore[attr-defined]
    assert flash.startswith("deletion approved; it runs on")
    [notice] = mail.new(1)
    assert notice["To"] == "jane@example.com" and "will be deleted on" in notice["Subject"]
    assert "dashboard:anna" in driver.page_source  # type: ignore[attr-defined]
    driver.get(f"{base}/report")  # type: ignore[attr-defined]
    assert driver.find_elements(By.TAG_NAME, "svg")  # type: ignore[attr-defined]
    _screenshot(driver, "report.png", 1280, 1200)
    with unit_of_work(app.engine) as session:
        case = session.exec(select(models.Case).where(models.Case.ref == ref)).one()
    assert case.status == "deletion_scheduled"


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
