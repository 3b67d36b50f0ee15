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


class TenLineServerTests(unittest.SynchronousTestCase):
    def test_readme_example_serves(self) -> None:
        """
        The README's ten-line server, run as written but on a free port,
        answers the SockJS greeting and an xhr session at /echo, and stops
        on SIGTERM with status 0.
        """
        text = readme()
        section = text[text.index("A ten-line server\n") :]
        code = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+?)\S", section)
        assert code is not None
        source = "\n".join(line[4:] for line in code.group(1).splitlines())
        self.assertLessEqual(len([line for line in source.splitlines() if line.strip()]), 10)
        self.assertIn("reactor.listenTCP(8080, site", source)
        source = source.replace(
            "reactor.listenTCP(8080, site",
            "port = reactor.listenTCP(0, site",
        ).replace("reactor.run()", "print(port.getHost().port, flush=True)\nreactor.run()")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [sys.executable, "-c", source], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            import urllib.request

            base = f"http://127.0.0.1:{port}/echo"
            with urllib.request.urlopen(base, timeout=10) as response:
                self.assertEqual(response.read(), b"Welcome to SockJS!\n")
            with urllib.request.urlopen(urllib.request.Request(base + "/0/a/xhr", b""), timeout=10) as r:
                self.assertEqual(r.read(), b"o\n")
        finally:
            process.terminate()
            _, err = process.communicate(timeout=20)
        self.assertEqual(process.returncode, 0, err)
        self.assertNotIn("Traceback", err)
