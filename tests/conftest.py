"""
Test ordering: tests that drive Chromium through Playwright run last.

Playwright's synchronous API drives Chromium from a greenlet and an asyncio
loop of its own; trial test cases run after it in the same process (through
pytest-twisted) no longer see their Deferreds fire. scripts/test.sh runs the
suite in two invocations (``-m "not e2e"``, then ``-m e2e``), and the e2e
group holds trial tests too (the client against sockjs-node): within any
invocation, every test that uses a Chromium fixture is moved after the rest.
"""

from __future__ import annotations

from typing import List

import pytest

#: the fixtures that start Chromium (tests/e2e/conftest.py)
BROWSER_FIXTURES = frozenset({"chromium", "offline_chromium"})


def _uses_browser(item: pytest.Item) -> bool:
    return bool(BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    items.sort(key=_uses_browser)
