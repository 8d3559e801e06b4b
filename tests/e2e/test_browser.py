"""End to end in headless Chromium, one server and one browser for the module, flows in order:

1. first start on a temp database (import with progress), every page, approve a tag and find it on Audit;
2. a page URL opened directly (no 404 probes in the console), approve -> reject -> bulk approve on Star Wars (the
   rejection stays, the message names it, the curated tags in the database prove it);
3. tags with symbols typed on Review: kept as typed (c++, usb-c / 3.5mm) or shown as changed before saving (-2+3);
4. Generate: an invalid parameter ({"limit": -5}) cannot start a job; the first job says it is converting the model
   (with the time so far and the usual duration) and finishes;
5. an untrusted title renders as text (no script runs).
After each flow: no SEVERE entry in the browser console. Screenshots of every page go to BETAG_SCREENSHOTS_DIR.

Environment (tests only):
    BETAG_SCREENSHOTS_DIR: where the screenshots go (default test-artifacts/screenshots, git-ignored).
    BETAG_E2E_DATABASE: a SQLite file to start from instead of an empty database; the test works on a copy. The
        README's screenshots are taken this way from the quick pipeline's database, so that they show base,
        TagGPT and BETag tags and a pipeline report:
        BETAG_E2E_DATABASE=data/betag.sqlite BETAG_SCREENSHOTS_DIR=docs/screenshots pytest tests/e2e
"""

from __future__ import annotations

import os
import re
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


E2E_MODEL = "smollm2-135m"  # the smallest built-in model: the first job converts it (about 15-40 s), then tags 2 items


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    database = tmp_path / "data" / "e2e.sqlite"
    if START_FROM:
        database.parent.mkdir(parents=True)
        _copy_sqlite(Path(START_FROM), database)
    env = dict(os.environ, BETAG_DATA_DIR=str(tmp_path / "data"), BETAG_REVIEWER="e2e-reviewer",
               BETAG_DATABASE_URL=f"sqlite:///{database}", BETAG_LLM_MODEL=E2E_MODEL, BETAG_LLM_DEVICE="cpu",
               BETAG_MODEL_CACHE=str(tmp_path / "models"),  # a fresh cache: the first job converts the model
               BETAG_TORCH_THREADS="1")  # one core for the job: the machine is shared
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
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
    _stop_workers(database)


def _stop_workers(database: Path) -> None:
    """End the job workers this test started (detached processes), by the pids their job rows hold."""
    import signal
    import sqlite3

    with sqlite3.connect(database) as conn:
        pids = [p for (p,) in conn.execute("SELECT worker_pid FROM jobs WHERE status IN ('pending', 'running')") if p]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a (possibly WAL-mode, in-use) SQLite database."""
    import sqlite3

    if not source.is_file():
        raise FileNotFoundError(f"BETAG_E2E_DATABASE={source}: no such file")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("chrome")
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
    """Wait for ``text`` in the page; on timeout keep a screenshot (failed.png) and say what the page shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(
            lambda d: text in d.find_element("tag name", "body").text)
    except TimeoutException:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "failed.png"))
        body = driver.find_element("tag name", "body").text
        raise AssertionError(f"{text!r} did not appear in {timeout:.0f} s; the page shows:\n{body[-3000:]}") from None


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
    """Follow a sidebar navigation link."""
    for link in driver.find_elements("css selector", '[data-testid="stSidebarNavLink"]'):
        if link.text.strip() == title:
            link.click()
            return
    raise AssertionError(f"no navigation link {title!r}")


def _type(driver, label: str, text: str, enter: bool = True) -> None:
    """Type into the text input, text area or number input labelled ``label`` (replacing what it holds); Enter
    (Tab for a text area) commits it, which reruns the page."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.keys import Keys

    for attempt in range(3):  # a rerun that is still drawing may replace the field under us: find it again
        try:
            field = driver.find_element("css selector",
                                        f'input[aria-label="{label}"], textarea[aria-label="{label}"]')
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
            field.click()
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.DELETE)
            field.send_keys(text)
            if enter:
                field.send_keys(Keys.TAB if field.tag_name == "textarea" else Keys.ENTER)
            break
        except StaleElementReferenceException:
            if attempt == 2:
                raise
            _idle(driver)
    _idle(driver)


def _click_in_row(driver, first_line: str, label: str) -> None:
    """Click the button ``label`` in the row of columns whose first line is ``first_line`` (a tag on Review)."""
    _idle(driver)
    for row in driver.find_elements("css selector", '[data-testid="stHorizontalBlock"]'):
        lines = row.text.splitlines()
        if lines and lines[0].strip() == first_line:
            for b in row.find_elements("css selector", "button"):
                if b.text.strip() == label:
                    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", b)
                    b.click()
                    return
    raise AssertionError(f"no {label!r} button in a row starting {first_line!r}")


def _expand(driver, label_start: str) -> None:
    """Open the expander whose label starts with ``label_start``."""
    for summary in driver.find_elements("css selector", '[data-testid="stExpander"] summary'):
        if any(line.strip().startswith(label_start) for line in summary.text.splitlines()):
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
            summary.click()
            _idle(driver)
            return
    raise AssertionError(f"no expander {label_start!r}")


def _button(driver, label: str):
    for b in driver.find_elements("css selector", "button"):
        if b.text.strip() == label and b.is_displayed():
            return b
    raise AssertionError(f"no button {label!r}")


def _no_console_errors(driver) -> None:
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, "\n".join(errors)


def _curated(database: Path, title_like: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return {t for (t,) in conn.execute(
            "SELECT it.tag FROM item_tags it JOIN tagging_systems ts ON ts.id = it.system_id JOIN items i "
            "ON i.id = it.item_id WHERE ts.name = 'curated' AND i.title LIKE ?", (title_like,))}


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
    _wait_text(browser, "pending native tags of this item")
    _idle(browser)
    _click_button(browser, "Approve")
    _wait_text(browser, "review in_review")  # the success message itself uses typographic quotes
    _nav(browser, "Audit")
    _wait_text(browser, "1 decision(s)")
    if START_FROM:
        _wait_text(browser, "e2e-reviewer approve '")  # the first proposal of whichever system comes first
    else:
        _wait_text(browser, "e2e-reviewer approve 'animation' on Toy Story")
    _no_console_errors(browser)


def test_direct_url_and_a_rejection_that_stays(server, browser):
    """approve -> reject -> bulk approve on Star Wars: the rejection stays and the bulk message says so. The page
    is opened by its URL (a bookmark), which must not make the browser probe /review-tags/_stcore/... (404s)."""
    address, database = server
    browser.get(f"{address}/review-tags")
    _wait_text(browser, "Proposals from")
    assert browser.current_url.rstrip("/").endswith("/review-tags")
    _no_console_errors(browser)
    _expand(browser, "Catalog filter")
    _type(browser, "Search title or id", "Star Wars")
    _expand(browser, "Approval queue")
    _click_button(browser, "Open next item in the queue")
    _wait_text(browser, "id 50 · review")  # Star Wars (the title holds no year)
    _idle(browser)
    _click_button(browser, "Approve")
    _wait_text(browser, "Approved '")
    first = re.search(r"Approved '([^']+)'", browser.find_element("tag name", "body").text).group(1)
    _click_in_row(browser, first, "Reject")
    _wait_text(browser, f"Rejected '{first}'")
    _nav(browser, "Bulk review & export")
    _wait_text(browser, "items match the current filter")
    _wait_text(browser, "Approve the top")  # the page may still be drawing its buttons after the count
    _idle(browser)
    buttons = browser.find_elements("css selector", "button")
    label = next(b.text for b in buttons if b.text.startswith("Approve the top"))
    _click_button(browser, label)
    _wait_text(browser, f"rejected by e2e-reviewer ('{first}' on Star Wars)")
    _shot(browser, "bulk")
    assert first not in _curated(database, "Star Wars")
    _nav(browser, "Audit")
    _wait_text(browser, "decision(s), newest first")
    _type(browser, "Tag", first)
    _wait_text(browser, f"e2e-reviewer reject '{first}' on Star Wars")  # the bulk batch has no decision on it
    _shot(browser, "audit")
    _no_console_errors(browser)


def test_tags_with_symbols_are_kept_or_shown_before_saving(server, browser):
    address, database = server
    _nav(browser, "Review")
    _wait_text(browser, "Add a tag of your own")
    _type(browser, "Add a tag of your own", "C++")
    _wait_text(browser, "Will be saved as 'c++'")
    _click_button(browser, "Add tag")
    _wait_text(browser, "Added 'c++'")
    _type(browser, "New text", "USB-C / 3.5mm")
    _wait_text(browser, "Will be saved as 'usb-c / 3.5mm'")
    _click_button(browser, "Save edit")
    _wait_text(browser, "to 'usb-c / 3.5mm'")
    _type(browser, "Add a tag of your own", "-2+3", enter=False)
    _click_button(browser, "Add tag")  # typed and pressed at once: shown, not saved
    _wait_text(browser, "'-2+3' will be saved as '2+3'. Nothing was saved yet")
    assert "2+3" not in _curated(database, "Star Wars")
    _click_button(browser, "Add tag")
    _wait_text(browser, "Added '2+3'")
    _type(browser, "Add a tag of your own", "100% Cotton")
    _wait_text(browser, "Will be saved as '100% cotton'")
    _shot(browser, "review")
    assert {"c++", "2+3", "usb-c / 3.5mm"} <= _curated(database, "Star Wars")
    _no_console_errors(browser)


def test_generate_refuses_bad_parameters_and_the_first_job_explains_itself(server, browser):
    import sqlite3

    address, database = server
    _nav(browser, "Generate")
    _wait_text(browser, "Start job")
    _type(browser, "N", "2")
    _type(browser, "Extra parameters (JSON object, merged in)", '{"limit": -5}')
    _wait_text(browser, "Cannot start: base-tags job: limit must be an integer (>= 1), or null (every item); got -5")
    assert not _button(browser, "Start job").is_enabled()
    _type(browser, "Extra parameters (JSON object, merged in)", "{}")
    _wait_text(browser, '"limit": 2')
    _click_button(browser, "Start job")
    _wait_text(browser, f"converting the model: {E2E_MODEL} from GGUF", timeout=90)
    _wait_text(browser, "s so far, usually 15-40 s")
    time.sleep(5)  # the line counts the seconds (the page refreshes every 2 s)
    _shot(browser, "generate")
    _wait_text(browser, "done · 2/2", timeout=300)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT status, progress_done FROM jobs ORDER BY id DESC").fetchone() == ("done", 2)
    _no_console_errors(browser)


def test_untrusted_title_is_plain_text(server, browser):
    """Retitle an item with a script payload: Compare shows it literally and nothing runs."""
    import sqlite3

    from selenium.common.exceptions import NoAlertPresentException

    _address, database = server
    driver = browser
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE items SET title = ? WHERE title = 'Star Wars'", (XSS_TITLE,))
    _nav(driver, "Compare")
    _wait_text(driver, f"Item text: {XSS_TITLE}")
    _idle(driver)
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        text = None
    assert text is None, f"an alert ran: {text!r}"
    assert not driver.find_elements("css selector", "img[src='x']")
    _no_console_errors(driver)
