"""
Fixtures of the end-to-end tests: the servers (started once per session) and
one headless Chromium per module. Helpers live in support.py.
"""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest

from .support import CHROMIUM, CHROMIUM_ARGS, OFFLINE_ARGS, require_browser, require_node_client, start_servers

#: trial's notice that it does not run these tests (see that module)
collect_ignore = ["test_under_trial.py"]

#: the fixtures that start Chromium
BROWSER_FIXTURES = frozenset({"chromium", "offline_chromium"})


@pytest.hookimpl(tryfirst=True)  # before -m selects by the mark
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """
    Mark C{browser} the tests that drive Chromium (through one of
    L{BROWSER_FIXTURES}). Playwright's sync API runs Chromium from a greenlet
    and an asyncio loop of its own: scripts/test.sh runs these in a pytest
    invocation of their own (C{pytest tests/e2e -m browser}).
    """
    for item in items:
        if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def e2e_servers() -> Iterator[dict]:
    """
    The servers for most tests (default heartbeat delay).
    """
    require_node_client()
    servers, origins = start_servers()
    yield origins
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """
    One headless Chromium (Debian's) per module, started with a fresh
    user-data-dir (playwright makes a new temporary profile for each launch).
    Tests open their pages in contexts of their own (browser.new_context()),
    so that no test shares cookies or the per-host connection pool with
    another.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def offline_chromium() -> Iterator[Any]:
    """
    Like L{chromium}, but with no network beyond 127.0.0.1 (OFFLINE_ARGS):
    what a page does on a machine with no internet.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + OFFLINE_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
