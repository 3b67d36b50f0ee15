"""
What C{trial tests} shows for this folder. The end-to-end tests are pytest
functions (with fixtures), which trial does not collect; rather than leave
them out in silence, trial reports this one skipped test that says so.
pytest ignores this module (conftest.py's C{collect_ignore}) and runs the
real ones.
"""

from twisted.trial.unittest import SynchronousTestCase


class EndToEndUnderTrial(SynchronousTestCase):
    skip = (
        "the end-to-end tests in tests/e2e (Chromium, Node, a fresh clone) run under pytest only: "
        "bash scripts/test.sh, or python -m pytest tests/e2e"
    )

    def test_end_to_end(self) -> None:
        """
        Never runs (skipped, see C{skip}).
        """
