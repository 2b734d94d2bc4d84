"""The static leaderboard page in a real browser: headless Debian chromium driven by selenium.

Needs ``apt-get install chromium chromium-driver`` and ``pip install selenium``; skipped otherwise.
``RLS3_UPDATE_SCREENSHOT=1`` also rewrites docs/leaderboard_screenshot.png from a page built from
realistic tables and the real figures (normal runs never modify the repository).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

from rls3_bench.analysis.html_page import render_leaderboard_html, table_id

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = REPO / "docs" / "leaderboard_screenshot.png"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); "
            "apt-get install -y chromium chromium-driver"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    # an explicit driver path: selenium-manager never runs, so nothing is downloaded
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _png(path: Path, colour=(30, 120, 200)) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 40), colour).save(path)
    return path


def _column(driver, tid: str, col: int) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[arguments[1]].textContent);",
        tid,
        col,
    )


def test_headers_sort_numerically_ascending_then_descending(browser, tmp_path):
    from selenium.webdriver.common.by import By

    df = pd.DataFrame(
        {
            "generator": ["uniform-v1", "rls3-sac-v1", "weakness-v1", "balanced-v1", "broken-v1"],
            "accuracy [95% CI]": ["0.612 [0.598, 0.627]", "0.98 ▲", "10.5 *", "", "0.0700"],
            "seeds": [5, 10, 2, 5, float("nan")],
        }
    )
    figs = tmp_path / "figures"
    figs.mkdir()
    # the numbers the formatted cells sort by, as the leaderboard passes them (never parsed from the text)
    keys = pd.DataFrame({"accuracy [95% CI]": [0.612, 0.98, 10.5, float("nan"), 0.07]})
    page = render_leaderboard_html(
        {"budget 2048": df},
        {"accuracy_curve.png": _png(figs / "accuracy_curve.png")},
        tmp_path / "index.html",
        title="Test <leaderboard>",
        notes="a & b",
        sort_keys={"budget 2048": keys},
    )
    browser.get(page.as_uri())
    assert browser.title == "Test <leaderboard>"
    tid = table_id("budget 2048")
    assert tid == "table-budget-2048"
    headers = browser.find_elements(By.CSS_SELECTOR, f"#{tid} thead th")
    assert [h.text for h in headers] == ["generator", "accuracy [95% CI]", "seeds"]
    assert _column(browser, tid, 0) == list(df.generator)  # unsorted until clicked

    headers[
        1
    ].click()  # ascending by the given numbers; the empty cell last (10.5 must not sort before 0.98 as text would)
    assert _column(browser, tid, 0) == ["broken-v1", "uniform-v1", "rls3-sac-v1", "weakness-v1", "balanced-v1"]
    assert headers[1].get_attribute("aria-sort") == "ascending"
    headers[1].click()  # descending; the empty cell still last
    assert _column(browser, tid, 0) == ["weakness-v1", "rls3-sac-v1", "uniform-v1", "broken-v1", "balanced-v1"]
    assert headers[1].get_attribute("aria-sort") == "descending"

    headers[2].click()  # integers: 2 < 5 = 5 < 10, stable for ties, NaN (empty) last
    assert _column(browser, tid, 2) == ["2", "5", "5", "10", ""]
    assert _column(browser, tid, 0)[:3] == ["weakness-v1", "uniform-v1", "balanced-v1"]  # ties keep the previous order
    assert headers[1].get_attribute("aria-sort") == "none"

    headers[0].click()  # text sorts alphabetically
    assert _column(browser, tid, 0) == sorted(df.generator)

    img = browser.find_element(By.CSS_SELECTOR, "figure img")
    assert browser.execute_script("return arguments[0].getAttribute('src')", img) == "figures/accuracy_curve.png"
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 64
    assert browser.find_element(By.CSS_SELECTOR, "figcaption").text == "accuracy_curve"
    assert "a & b" in browser.find_element(By.CSS_SELECTOR, ".notes").text


def test_text_is_escaped(browser, tmp_path):
    from selenium.webdriver.common.by import By

    df = pd.DataFrame({"<b>col</b>": ["<script>window.pwned = 1</script>"]})
    page = render_leaderboard_html({"x<y": df}, {}, tmp_path / "index.html", title="t")
    browser.get(page.as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_element(By.CSS_SELECTOR, "thead th").text == "<b>col</b>"
    assert browser.find_element(By.CSS_SELECTOR, "h2").text == "x<y"


@pytest.mark.skipif(
    os.environ.get("RLS3_UPDATE_SCREENSHOT") != "1",
    reason="set RLS3_UPDATE_SCREENSHOT=1 to rewrite docs/leaderboard_screenshot.png",
)
def test_update_screenshot(browser, tmp_path):
    """docs/leaderboard_screenshot.png: a page from leaderboard tables and figures of synthetic records."""
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import make_records

    from rls3_bench.analysis.figures import make_figures
    from rls3_bench.analysis.leaderboard import build_leaderboard, display_budget, display_summary

    records = make_records()
    figures = {k: v for k, v in make_figures(records, tmp_path / "figures", formats=("png",)).items()}
    lb = build_leaderboard(records)
    tables = {"summary": display_summary(lb), **{f"budget {b}": display_budget(lb, b) for b in reversed(lb.budgets)}}
    page = render_leaderboard_html(
        {k: v[0] for k, v in tables.items()},
        figures,
        tmp_path / "index.html",
        title=f"rls3-bench leaderboard: {lb.track}",
        notes="Synthetic records (3 generators x 3 seeds) for the documentation screenshot.",
        sort_keys={k: v[1] for k, v in tables.items()},
    )
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(1400, 1000)
    browser.get(page.as_uri())
    all_loaded = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(all_loaded))  # the page's height depends on them
    # the whole page in one shot: the window's height = the page's + the browser's own frame
    height, frame = browser.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    browser.set_window_size(1400, min(int(height) + int(frame), 6000))
    browser.find_element("css selector", f"#{table_id('budget 2048')} thead th:nth-child(3)").click()
    SCREENSHOT.write_bytes(browser.get_screenshot_as_png())
