"""
C{python -m txsockjs.client} as a person uses it: a real subprocess whose
standard input and output the test drives, against examples/test_server.py
and (marked e2e) sockjs-node 0.3.24, on websocket, xhr-streaming and
xhr-polling.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from typing import List, Optional

import pytest
from twisted.trial import unittest

from ._client_support import REPO, node_peer_missing, shared_server, stop_shared_servers

TIMEOUT = 20


def tearDownModule() -> None:
    stop_shared_servers()


class Client:
    """
    The command line client in a subprocess, its output read line by line.
    """

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "txsockjs.client", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.decode("utf-8").rstrip("\n"))
        self.lines.put(None)

    def line(self) -> Optional[str]:
        try:
            return self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.stop()
            raise AssertionError("no line from the client within %d s" % TIMEOUT)

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def end_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait(self) -> int:
        try:
            return self.process.wait(TIMEOUT)
        finally:
            self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass


class CLITests:
    server = "txsockjs"

    def check_server(self) -> None:
        pass

    def run_echo(self, transport: str) -> None:
        """
        open TRANSPORT, each typed line echoed on its own line, and at the
        end of input a clean close with exit status 0.
        """
        self.check_server()
        client = Client(shared_server(self.server) + "/echo", "--transport", transport)
        self.addCleanup(client.stop)  # type: ignore[attr-defined]
        self.assertEqual(client.line(), f"open {transport}")  # type: ignore[attr-defined]
        for text in ["hello", "\u00fcn\u00efc\u00f8d\u00e9 \u2603 \U0001f600", '["not", "parsed"]', "  spaces  "]:
            client.type(text)
            self.assertEqual(client.line(), text)  # type: ignore[attr-defined]
        client.type("last")
        client.end_input()
        lines: List[Optional[str]] = []
        while True:
            line = client.line()
            if line is None:
                break
            lines.append(line)
        self.assertEqual(lines, ["last", "close 1000 Normal closure"])  # type: ignore[attr-defined]
        self.assertEqual(client.wait(), 0)  # type: ignore[attr-defined]

    def test_websocket(self) -> None:
        self.run_echo("websocket")

    def test_xhr_streaming(self) -> None:
        self.run_echo("xhr-streaming")

    def test_xhr_polling(self) -> None:
        self.run_echo("xhr-polling")

    def test_server_close(self) -> None:
        """
        /close: open, then close 3000 Go away!, exit status 0.
        """
        self.check_server()
        client = Client(shared_server(self.server) + "/close", "--transport", "xhr-polling")
        self.addCleanup(client.stop)  # type: ignore[attr-defined]
        self.assertEqual(client.line(), "open xhr-polling")  # type: ignore[attr-defined]
        self.assertEqual(client.line(), "close 3000 Go away!")  # type: ignore[attr-defined]
        self.assertEqual(client.wait(), 0)  # type: ignore[attr-defined]

    def test_piped(self) -> None:
        """
        Lines piped in at once are all sent, in order, before the close.
        """
        self.check_server()
        lines = [f"line {n}" for n in range(50)]
        result = subprocess.run(
            [sys.executable, "-m", "txsockjs.client", shared_server(self.server) + "/echo", "--linger", "3"],
            input="\n".join(lines).encode() + b"\n",
            capture_output=True,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=REPO),
            timeout=TIMEOUT,
        )
        out = result.stdout.decode().splitlines()
        self.assertEqual(out, ["open websocket", *lines, "close 1000 Normal closure"])  # type: ignore[attr-defined]
        self.assertEqual(result.returncode, 0)  # type: ignore[attr-defined]


class TxSockJSCLITests(CLITests, unittest.SynchronousTestCase):
    def test_cannot_connect(self) -> None:
        """
        Nobody listening: a message on stderr, exit status 1.
        """
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        result = subprocess.run(
            [sys.executable, "-m", "txsockjs.client", f"http://127.0.0.1:{port}/echo", "--timeout", "5"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=REPO),
            timeout=TIMEOUT,
        )
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, b"")
        self.assertIn(b"cannot connect", result.stderr)

    def test_only_websocket_disabled(self) -> None:
        """
        Restricted to a transport the server does not offer: exit status 1.
        """
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "txsockjs.client",
                shared_server(self.server) + "/disabled_websocket_echo",
                "--transport",
                "websocket",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=REPO),
            timeout=TIMEOUT,
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"websocket", result.stderr)

    def test_interrupt(self) -> None:
        """
        Ctrl-C closes the session properly: close line, exit status 0.
        """
        client = Client(shared_server(self.server) + "/echo", "--transport", "xhr-streaming")
        self.addCleanup(client.stop)
        self.assertEqual(client.line(), "open xhr-streaming")
        client.type("ping")
        self.assertEqual(client.line(), "ping")
        client.process.send_signal(signal.SIGINT)
        self.assertEqual(client.line(), "close 1000 Normal closure")
        self.assertEqual(client.wait(), 0)

    def test_usage(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "txsockjs.client", "http://127.0.0.1:1/echo", "--transport", "jsonp"],
            capture_output=True,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=REPO),
            timeout=TIMEOUT,
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"invalid choice", result.stderr)


@pytest.mark.e2e
class NodePeerCLITests(CLITests, unittest.SynchronousTestCase):
    server = "sockjs-node"

    def check_server(self) -> None:
        why = node_peer_missing()
        if why is not None:
            if os.environ.get("CI"):
                self.fail(why)
            raise unittest.SkipTest(why)
