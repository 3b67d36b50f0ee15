"""
The examples as a new user runs them: a port already taken ends each with
one line and exit status 1; SIGTERM ends each cleanly (status 0, no
traceback, no ReactorNotRunning).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from typing import List

from twisted.trial import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: each example, and the flags that put its other ports on free ones
EXAMPLES = {
    "examples/chat/server.py": [],
    "examples/multiplex.py": [],
    "examples/test_server.py": [],
    "examples/linechat.py": ["--tcp-port", "0"],
}


def run(argv: List[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class ExampleTests(unittest.SynchronousTestCase):
    def test_port_taken(self) -> None:
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        for example, extra in EXAMPLES.items():
            process = run([example, "--port", port, "--host", "127.0.0.1", *extra])
            try:
                out, err = process.communicate(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self.assertEqual(process.returncode, 1, (example, out, err))
            self.assertEqual(len(err.strip().splitlines()), 1, (example, err))
            self.assertIn(f"127.0.0.1:{port}", err)
            self.assertIn("--port", err)
            self.assertNotIn("Traceback", out + err)

    def test_sigterm(self) -> None:
        for example, extra in EXAMPLES.items():
            process = run([example, "--port", "0", "--host", "127.0.0.1", *extra])
            try:
                assert process.stdout is not None
                # wait for the line that says it listens (bounded by the
                # process: it exits if it cannot start)
                for line in process.stdout:
                    if re.search(r"127\.0\.0\.1:\d+|port=\d+", line) and "0.0.0.0" not in line:
                        if example != "examples/linechat.py" or "sockjs:" in line:
                            break
                process.send_signal(signal.SIGTERM)
                out, err = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self.assertEqual(process.returncode, 0, (example, err))
            for word in ("Traceback", "ReactorNotRunning", "Unhandled"):
                self.assertNotIn(word, out + err, example)
