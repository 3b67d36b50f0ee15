"""
The standard test server (examples/test_server.py) in a process of its own,
for tests that need what only a separate process shows: its memory (VmRSS
from /proc) before and after an attack, and everything it logged.

    server = ServerProcess.start("--write-timeout", "0.5")
    try:
        ... server.url("/echo/info"), server.rss_kib() ...
        server.assert_no_tracebacks()
    finally:
        server.stop()

Every wait is bounded; the process is stopped by its PID only.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Optional

__all__ = ["ServerProcess"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SCRIPT = os.path.join(_ROOT, "examples", "test_server.py")

#: the longest the server may take to answer /echo/info after starting
START_TIMEOUT = 20.0

_LOGS: list = []
_RUNNING: list = []


@atexit.register
def _clean_up() -> None:
    # a test run that ended early leaves no server and no log behind
    for server in list(_RUNNING):
        server.stop()
    for path in _LOGS:
        try:
            os.unlink(path)
        except OSError:
            pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _info_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(
                b"GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            s.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class ServerProcess:
    """
    One running C{examples/test_server.py --verbose} on 127.0.0.1.

    @ivar port: where it listens.
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
        Start the server on a free port with C{extra_args} and wait (at most
        L{START_TIMEOUT} seconds) until C{/echo/info} answers.
        """
        last_error: Optional[str] = None
        for _ in range(3):  # another process may take the free port first
            port = _free_port()
            fd, log_path = tempfile.mkstemp(prefix="txsockjs-server-", suffix=".log")
            env = dict(os.environ)
            env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
            env["PYTHONUNBUFFERED"] = "1"
            # glibc keeps freed blocks of a few hundred KiB in its heap after
            # the first such block is unmapped (a dynamic mmap threshold),
            # so RSS would show what the allocator keeps, not what the
            # server holds: a fixed threshold maps and unmaps them.
            env.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
            process = subprocess.Popen(
                [sys.executable, _SCRIPT, "--port", str(port), "--verbose", *extra_args],
                stdout=fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=_ROOT,
                env=env,
            )
            os.close(fd)
            _LOGS.append(log_path)
            server = cls(process, port, log_path)
            _RUNNING.append(server)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if _info_answers(port):
                    return server
                time.sleep(0.05)
            last_error = server.log_text()[-2000:]
            server.stop()
        raise RuntimeError(f"the test server did not start: {last_error}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_kib(self) -> int:
        """
        The server's resident memory now, in KiB (VmRSS).
        """
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def peak_rss_kib(self) -> int:
        """
        The highest resident memory the server had so far, in KiB (VmHWM).
        """
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")

    def reset_peak(self) -> None:
        """
        Start L{peak_rss_kib} afresh from the current RSS (Linux clear_refs).
        """
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")

    def log_text(self) -> str:
        """
        Everything the server wrote to stdout and stderr so far.
        """
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def assert_no_tracebacks(self) -> None:
        """
        Fail if the server logged a traceback or an unhandled error.
        """
        text = self.log_text()
        for needle in ("Traceback", "Unhandled"):
            if needle in text:
                at = text.index(needle)
                raise AssertionError(
                    f"the server logged {needle!r}:\n{text[max(0, at - 500) : at + 3000]}"
                )

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
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        if self in _RUNNING:
            _RUNNING.remove(self)

    def open_fds(self) -> int:
        """
        How many file descriptors the server holds now.
        """
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def remove_log(self) -> None:
        """
        Delete the log file now (it is deleted at exit anyway).
        """
        try:
            os.unlink(self._log_path)
        except OSError:
            pass
