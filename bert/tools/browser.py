"""A headless Chromium for the explorer's tests and benchmark, driven by selenium, with the network refused.

    reason = browser_missing()          # None, or one line saying what is missing (the tests skip with it)
    with headless_chromium() as driver: # selenium WebDriver; the page cannot reach any host
        driver.get(Path("page.html").resolve().as_uri())

Debian: `apt-get install -y chromium chromium-driver fonts-noto-cjk` (as root); `pip install selenium`. selenium is
given the driver's path (`/usr/bin/chromedriver`, or $CHROMEDRIVER), so it never looks for one to download.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# What makes a headless Chromium start as root in a container and talk to nobody: no sandbox (root), no GPU, no
# background requests (updates, sync, QUIC), a proxy that refuses every connection and a resolver that finds no host.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,1000")


def browser_binary() -> str | None:
    """The first Chromium found on PATH, or None."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def browser_missing() -> str | None:
    """None when a browser, its driver and selenium are all here; else one line naming what is missing."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install selenium)"
    if browser_binary() is None:
        return "no Chromium found (Debian, as root: apt-get install -y chromium chromium-driver fonts-noto-cjk)"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return f"no chromedriver at {CHROMEDRIVER} (Debian: apt-get install -y chromium-driver; or set $CHROMEDRIVER)"
    return None


@contextlib.contextmanager
def headless_chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """A selenium Chrome driver on a fresh profile (removed afterwards), its console log kept (`get_log("browser")`)."""
    missing = browser_missing()
    if missing:
        raise RuntimeError(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="explorer-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_binary()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


__all__ = ["browser_missing", "headless_chromium", "browser_binary"]
