"""
One kind of test per pytest invocation: trial test cases, or pytest
functions, never both.

A plain pytest function, once run, leaves pytest-twisted's reactor running in
a greenlet of its own (Playwright's sync API does the same with its asyncio
loop); trial test cases run after that in the same process never see their
Deferreds fire. So scripts/test.sh runs the suite in separate invocations
(the trial suites, then the end-to-end pytest functions of tests/e2e, the
browser ones apart), and a selection that mixes the two kinds stops here,
at collection, saying how to split it, rather than hanging trial tests.
"""

from __future__ import annotations

from typing import List

import pytest
from twisted.trial.unittest import SynchronousTestCase


def _is_trial(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return cls is not None and issubclass(cls, SynchronousTestCase)


@pytest.hookimpl(trylast=True)  # after -m and -k deselected what they do not select
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    trial = [item for item in items if _is_trial(item)]
    plain = [item for item in items if not _is_trial(item)]
    if trial and plain:
        raise pytest.UsageError(
            f"this selection mixes {len(trial)} trial test cases (e.g. {trial[0].nodeid}) with "
            f"{len(plain)} pytest functions (e.g. {plain[0].nodeid}), which cannot share a process: "
            'run them apart, as scripts/test.sh does: pytest tests -m "not e2e"; '
            "pytest tests -m e2e --ignore=tests/e2e; pytest tests/e2e -m 'not browser'; "
            "pytest tests/e2e -m browser"
        )
