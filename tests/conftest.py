"""
Test ordering: tests that drive Chromium through Playwright run last.

Playwright's synchronous API drives Chromium from a greenlet and an asyncio
loop of its own; trial test cases run after it in the same process (through
pytest-twisted) no longer see their Deferreds fire. scripts/test.sh runs the
suite in two invocations (``-m "not e2e"``, then ``-m e2e``), and the e2e
group holds trial tests too (the client against sockjs-node). Within any
invocation the trial test cases run first, then plain pytest tests, and the
tests that use a Chromium fixture last: trial tests run after some plain
tests of the e2e group (their subprocess-reading threads) were seen with
Deferreds that never fired, as after Playwright.
"""

from __future__ import annotations

from typing import List, Tuple

import pytest
from twisted.trial.unittest import SynchronousTestCase

#: the fixtures that start Chromium (tests/e2e/conftest.py)
BROWSER_FIXTURES = frozenset({"chromium", "offline_chromium"})


def _order(item: pytest.Item) -> Tuple[bool, bool]:
    is_trial = isinstance(item, pytest.Function) and item.cls is not None and issubclass(
        item.cls, SynchronousTestCase
    )
    uses_browser = bool(BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    return (not is_trial, uses_browser)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    items.sort(key=_order)
