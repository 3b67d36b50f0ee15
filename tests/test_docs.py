"""
The API reference (pydoctor, from the epytext docstrings) builds with no
warning, and README.rst's set-up commands are the ones .ci/run and the
scripts use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

from twisted.trial import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme() -> str:
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as f:
        return f.read()


class APIReferenceTests(unittest.SynchronousTestCase):
    def test_pydoctor_builds_without_warnings(self) -> None:
        """
        C{pydoctor -W} (warnings are errors) builds the reference of the
        C{txsockjs} package; the output names the public classes.
        """
        try:
            import pydoctor  # noqa: F401
        except ImportError:
            message = "pydoctor is missing: pip install -e '.[test]' (bash scripts/test.sh does)"
            if os.environ.get("CI"):
                self.fail(message)
            raise unittest.SkipTest(message)
        output = tempfile.mkdtemp(prefix="txsockjs-apidocs-")
        self.addCleanup(__import__("shutil").rmtree, output, True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pydoctor",
                "--project-name=txsockjs",
                "--docformat=epytext",
                f"--html-output={output}",
                "--warnings-as-errors",
                "-q",
                os.path.join(ROOT, "txsockjs"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual((result.stdout + result.stderr).strip(), "")
        with open(os.path.join(output, "txsockjs.resource.SockJSResource.html"), encoding="utf-8") as f:
            self.assertIn("open_sessions", f.read())


class ReadmeCommandsTests(unittest.SynchronousTestCase):
    def commands(self) -> list:
        block = re.search(r"::\n\n((?:    \S.*\n)+)", readme())
        assert block is not None
        return [line.strip() for line in block.group(1).splitlines()]

    def test_two_commands(self) -> None:
        """
        README.rst opens with two commands: the demo and the whole suite,
        both through scripts that make the virtual environment.
        """
        self.assertEqual(self.commands(), ["bash scripts/demo.sh", "bash scripts/test.sh"])
        for command in self.commands():
            self.assertTrue(os.path.exists(os.path.join(ROOT, command.split()[1])))

    def test_ci_runs_the_readme_test_command(self) -> None:
        """
        .ci/run runs exactly the README's second command (the whole suite).
        """
        with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        self.assertIn(self.commands()[1], lines)
