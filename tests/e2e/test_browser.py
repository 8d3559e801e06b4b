"""End to end in headless Chromium: first start on a temp database, approve a tag, find it on the audit page,
no console errors; saves screenshots of the main pages.

Environment (tests only):
    BETAG_SCREENSHOTS_DIR: where the screenshots go (default test-artifacts/screenshots, git-ignored).
    BETAG_E2E_DATABASE: a SQLite file to start from instead of an empty database; the test works on a copy. The
        README's screenshots are taken this way from the quick pipeline's database, so that they show base,
        TagGPT and BETag tags and a pipeline report:
        BETAG_E2E_DATABASE=data/betag.sqlite BETAG_SCREENSHOTS_DIR=docs/screenshots pytest tests/e2e
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("BETAG_SCREENSHOTS_DIR") or ROOT / "test-artifacts" / "screenshots")
START_FROM = os.environ.get("BETAG_E2E_DATABASE")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    database = tmp_path / "data" / "e2e.sqlite"
    if START_FROM:
        database.parent.mkdir(parents=True)
        _copy_sqlite(Path(START_FROM), database)
    env = dict(os.environ, BETAG_DATA_DIR=str(tmp_path / "data"), BETAG_REVIEWER="e2e-reviewer",
               BETAG_DATABASE_URL=f"sqlite:///{database}")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", database
    proc.terminate()
    proc.wait(timeout=20)


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a (possibly WAL-mode, in-use) SQLite database."""
    import sqlite3

    if not source.is_file():
        raise FileNotFoundError(f"BETAG_E2E_DATABASE={source}: no such file")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1280,1600"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _wait_text(driver, text: str, timeout: float = 90) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: text in d.find_element("tag name", "body").text)


def _idle(driver, timeout: float = 30) -> None:
    """Wait until Streamlit shows no running indicator."""
    deadline = time.time() + timeout
    time.sleep(0.8)
    while time.time() < deadline:
        if not driver.find_elements("css selector", '[data-testid="stStatusWidget"]'):
            return
        time.sleep(0.3)


def _shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    _idle(driver)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _click_button(driver, label: str) -> None:
    for b in driver.find_elements("css selector", "button"):
        if b.text.strip() == label and b.is_displayed():
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", b)
            b.click()
            return
    raise AssertionError(f"no button {label!r}")


def _nav(driver, title: str) -> None:
    """Follow a sidebar navigation link (a deep-URL reload makes Streamlit probe path-prefixed endpoints)."""
    for link in driver.find_elements("css selector", '[data-testid="stSidebarNavLink"]'):
        if link.text.strip() == title:
            link.click()
            return
    raise AssertionError(f"no navigation link {title!r}")


XSS_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_first_start_approve_and_audit(server, browser):
    address, database = server
    browser.get(address)
    _wait_text(browser, "Tagging systems", timeout=180)  # first start: migrate + import ml-100k
    _wait_text(browser, "1,682")
    _shot(browser, "home")
    for title, name, marker in (("Catalog", "catalog", "items match the filter"),
                                ("Compare", "compare", "Most often consumed next to it"),
                                ("Retrieval preview", "retrieval", "Before"), ("Generate", "generate", "Start job"),
                                ("Bulk review & export", "bulk", "Export curated tags"),
                                ("Evaluation", "evaluation", "Compare two runs" if START_FROM
                                 else "No evaluation report yet")):
        _nav(browser, title)
        _wait_text(browser, marker)
        _shot(browser, name)
    _nav(browser, "Review")
    _wait_text(browser, "Approve all")
    _shot(browser, "review")
    _idle(browser)
    _click_button(browser, "Approve")
    _wait_text(browser, "review in_review")  # the success message itself uses typographic quotes
    _nav(browser, "Audit")
    _wait_text(browser, "1 decision(s)")
    if START_FROM:
        _wait_text(browser, "e2e-reviewer approve '")  # the first proposal of whichever system comes first
    else:
        _wait_text(browser, "e2e-reviewer approve 'animation' on Toy Story")
    _shot(browser, "audit")
    _untrusted_title_is_plain_text(browser, database)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, "\n".join(errors)


def _untrusted_title_is_plain_text(driver, database: Path) -> None:
    """Retitle the open item (Toy Story) with a script payload: Compare shows it literally and nothing runs."""
    import sqlite3

    from selenium.common.exceptions import NoAlertPresentException

    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE items SET title = ? WHERE external_id = '1'", (XSS_TITLE,))
    _nav(driver, "Compare")
    _wait_text(driver, f"Item text: {XSS_TITLE}")
    _idle(driver)
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        text = None
    assert text is None, f"an alert ran: {text!r}"
    assert not driver.find_elements("css selector", "img[src='x']")
