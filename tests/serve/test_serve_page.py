"""The page at / in a real headless Chromium: upload, click, the assessment appears.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``) and the ``selenium`` package; without them the test fails and says so.
"""

from __future__ import annotations

import shutil

import pytest
from serve_helpers import RECT, png_bytes, scene

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--window-size=1200,900")


def _binaries() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(f"the page test needs Chromium and its driver: apt-get install -y chromium "
                    f"chromium-driver (found chromium={browser}, chromedriver={driver})")
    return browser, driver


@pytest.fixture
def browser(tmp_path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
    except ImportError:
        pytest.fail("the page test needs selenium: pip install selenium")
    binary, driver = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    session = webdriver.Chrome(options=options, service=DriverService(executable_path=driver))
    session.set_page_load_timeout(60)
    try:
        yield session
    finally:
        session.quit()


def test_page_upload_click_and_the_assessment_appears(service, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    image_path = tmp_path / "scene.png"
    image_path.write_bytes(png_bytes(scene(seed=31)))
    wait = WebDriverWait(browser, 240)

    browser.get(service.url + "/")
    assert "Seagull" in browser.title
    key = browser.find_element(By.ID, "api-key")
    key.send_keys(service.api_key)
    browser.find_element(By.ID, "file").send_keys(str(image_path))
    wait.until(lambda b: b.find_element(By.ID, "canvas-wrap").get_attribute("data-image-id"))
    assert "128×96" in browser.find_element(By.ID, "status").text

    # Click the middle of the red rectangle.
    canvas = browser.find_element(By.ID, "image")
    width = canvas.size["width"]
    scale = width / 128
    x0, y0, x1, y1 = RECT
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # Selenium offsets are from the element's centre.
    ActionChains(browser).move_to_element_with_offset(
        canvas, int((cx - 64) * scale), int((cy - 48) * scale)).click().perform()
    wait.until(ec.text_to_be_present_in_element_attribute((By.ID, "assessment"), "data-ready", "1"))

    quality = browser.find_element(By.CSS_SELECTOR, "#quality .level").text.lower()
    assert quality in {"bad", "poor", "fair", "good", "excellent"}
    assert browser.find_element(By.CSS_SELECTOR, "#importance .level").text.lower() in {
        "unimportant", "minor", "normal", "important", "essential"}
    assert "seagull-small" in browser.find_element(By.ID, "model").text
    assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")
    # The mask is drawn over the image: the clicked rectangle is tinted, the far corner not.
    alpha_at = "const c = document.getElementById('overlay');" \
               "return c.getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data[3];"
    assert browser.execute_script(alpha_at, int(cx), int(cy)) > 0
    assert browser.execute_script(alpha_at, 125, 2) == 0

    # Drag a box around the yellow disc (centre 96, 48, radius 18): its mask replaces the first.
    browser.execute_script("document.getElementById('assessment').dataset.ready = '0';")
    start = (int((74 - 64) * scale), int((26 - 48) * scale))
    ActionChains(browser).move_to_element_with_offset(canvas, *start).click_and_hold() \
        .move_by_offset(int(44 * scale), int(44 * scale)).release().perform()
    wait.until(ec.text_to_be_present_in_element_attribute((By.ID, "assessment"), "data-ready", "1"))
    assert browser.execute_script(alpha_at, 96, 48) > 0
    assert browser.execute_script(alpha_at, int(cx), int(cy)) == 0
    assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")
