"""
The end-to-end tests run in a pytest invocation of their own::

    python3 -m pytest tests -m "not e2e"
    python3 -m pytest tests -m e2e

Playwright's synchronous API drives Chromium from a greenlet and an asyncio
loop of its own; trial test cases run after it in the same process (through
pytest-twisted) no longer see their Deferreds fire. Rather than depend on an
order, one invocation that selects both kinds stops at once and says so.
"""

from __future__ import annotations

from typing import List

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    items: List[pytest.Item] = session.items
    e2e = sum(1 for item in items if item.get_closest_marker("e2e") is not None)
    if e2e and e2e < len(items):
        raise pytest.UsageError(
            "the e2e tests run in a pytest invocation of their own: "
            "pytest tests -m 'not e2e' && pytest tests -m e2e"
        )
