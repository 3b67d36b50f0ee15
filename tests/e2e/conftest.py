"""
Fixtures of the end-to-end tests: the servers (started once per session) and
one headless Chromium per module. Helpers live in support.py.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from .support import CHROMIUM, CHROMIUM_ARGS, require_browser, require_node_client, start_servers


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
def chromium(tmp_path_factory: Any) -> Iterator[Any]:
    """
    One headless Chromium (Debian's) per module, with a fresh profile.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            context.close()
