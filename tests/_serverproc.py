"""
examples/test_server.py in a process of its own, for the tests that need
what only a separate process shows: its resident memory before and after an
attack (from /proc), and everything it logged (with C{--verbose}).

    server = ServerProcess.start("--max-body-size", "65536")
    try:
        baseline = server.rss_kib()
        ... attack server.port ...
        server.assert_no_tracebacks()
    finally:
        server.stop()

Every wait is bounded; the process is signalled by its PID only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

__all__ = ["ServerProcess"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SCRIPT = os.path.join(_ROOT, "examples", "test_server.py")

#: seconds the server may take to answer /echo/info once started
START_TIMEOUT = 20.0
#: seconds it may take to exit after SIGTERM (then SIGKILL)
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(2)
            s.sendall(b"GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {name} in /proc/{pid}/status")


class ServerProcess:
    """
    One running C{examples/test_server.py --verbose} on 127.0.0.1.

    @ivar port: the port it listens on.
    @ivar pid: its process id.
    """

    def __init__(self, process: subprocess.Popen, port: int, log_path: str) -> None:
        self._process = process
        self.port = port
        self.pid = process.pid
        self._log_path = log_path

    @classmethod
    def start(cls, *extra_args: str) -> "ServerProcess":
        """
        Start the server with C{extra_args} on a free port; return once
        C{/echo/info} answers (at most L{START_TIMEOUT} seconds).
        """
        error: Optional[str] = None
        for _ in range(3):  # the free port may be taken before the server binds it
            port = _free_port()
            fd, log_path = tempfile.mkstemp(prefix="txsockjs-server-", suffix=".log")
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_ROOT, env.get("PYTHONPATH")) if p
            )
            process = subprocess.Popen(
                [sys.executable, _SCRIPT, "--port", str(port), "--verbose", *extra_args],
                stdout=fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=_ROOT,
                env=env,
            )
            os.close(fd)
            server = cls(process, port, log_path)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if _answers(port):
                    return server
                time.sleep(0.05)
            error = server.log_text()[-2000:]
            server.stop()
            server.remove_log()
        raise RuntimeError(f"the test server did not start:\n{error}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_kib(self) -> int:
        """
        The server's resident memory now (VmRSS), in KiB.
        """
        return _status_field(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        """
        The most resident memory it had so far (VmHWM), in KiB.
        """
        return _status_field(self.pid, "VmHWM")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log_text(self) -> str:
        """
        What the server wrote to stdout and stderr so far.
        """
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tracebacks(self) -> List[str]:
        text = self.log_text()
        found = []
        for needle in ("Traceback", "Unhandled Error", "Unhandled error"):
            at = text.find(needle)
            if at >= 0:
                found.append(text[max(0, at - 300) : at + 2500])
        return found

    def assert_no_tracebacks(self) -> None:
        """
        Fail when the server logged a traceback or an unhandled error.
        """
        found = self.tracebacks()
        if found:
            raise AssertionError("the server logged:\n" + found[0])

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """
        SIGTERM by PID, wait, SIGKILL by PID if it is still there.
        """
        process = self._process
        if process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=STOP_TIMEOUT)

    def remove_log(self) -> None:
        try:
            os.unlink(self._log_path)
        except OSError:
            pass
