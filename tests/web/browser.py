"""Debian's chromium driven by Playwright (its own browser download does not work offline)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Playwright gives every launch a fresh temporary user-data-dir of its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """Uncaught exceptions and console errors of a page; a test ends by asserting there were none."""

    def __init__(self, page: Page, ignore: tuple[str, ...] = ()) -> None:
        self.errors: list[str] = []
        self.ignore = ignore
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(text in message.text for text in self.ignore):
            self.errors.append(f"console: {message.text}")

    def check(self) -> None:
        assert not self.errors, "\n".join(self.errors)


def new_page(browser: Browser, **options: Any) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def choose_theme(page: Page, label: str) -> None:
    """Pick a theme in the top bar's theme menu: "System", "Light" or "Dark"."""
    page.locator(".theme-toggle").click()
    page.locator(".theme-menu").get_by_role("menuitemradio", name=label).click()
