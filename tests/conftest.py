"""
Test ordering: the end-to-end tests run last.

Playwright's synchronous API drives Chromium from a greenlet and an asyncio
loop of its own; trial test cases run afterwards in the same process (through
pytest-twisted) no longer see their Deferreds fire. Running the e2e tests
after every other test keeps one ``pytest tests`` command correct.
"""

from __future__ import annotations

from typing import List

import pytest


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
