"""
The end-to-end tests run in a pytest invocation of their own::

    python3 -m pytest tests -m "not e2e"
    python3 -m pytest tests -m e2e

Playwright's synchronous API drives Chromium from a greenlet and an asyncio
loop of its own; trial test cases run after it in the same process (through
pytest-twisted) no longer see their Deferreds fire. A single invocation that
selects both kinds still works (the e2e tests are moved to the end, with a
warning) until every caller runs the two commands above; then this hook can go.
"""

from __future__ import annotations

import warnings
from typing import List

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    e2e = [item for item in items if item.get_closest_marker("e2e") is not None]
    if e2e and len(e2e) < len(items):
        warnings.warn(
            "e2e tests belong in a pytest invocation of their own "
            "(pytest tests -m 'not e2e'; pytest tests -m e2e): running them last",
            stacklevel=1,
        )
        items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
