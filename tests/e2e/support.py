"""
Helpers of the end-to-end tests: servers started as subprocesses on free
127.0.0.1 ports, one headless Chromium per module (Debian's, driven by
playwright), and a runner for the Node client.

Everything they need is installed by scripts/install-test-deps.sh (which
scripts/test.sh runs first). When something is missing the tests are skipped
with the reason, except under CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHROMIUM = os.environ.get("TXSOCKJS_CHROMIUM", "/usr/bin/chromium")
SOCKJS_MIN = os.path.join(HERE, "node_modules", "sockjs-client", "dist", "sockjs.min.js")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Chromium with no network beyond 127.0.0.1: every host name resolves to
#: nothing, and any other address goes to a proxy that is not there.
OFFLINE_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]

#: Transports sockjs-client offers in Chromium, and whether each works only
#: when the page shares the endpoint's origin.
BROWSER_TRANSPORTS = [
    "websocket",
    "xhr-streaming",
    "xhr-polling",
    "eventsource",
    "iframe-eventsource",
    "iframe-htmlfile",
    "iframe-xhr-polling",
    "jsonp-polling",
    "htmlfile",
]
SAME_ORIGIN_ONLY = {"htmlfile"}
NODE_TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]


def missing(what: str) -> None:
    message = f"{what} is missing: run `bash scripts/install-test-deps.sh`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_node_client() -> None:
    if shutil.which("node") is None:
        missing("node")
    if not os.path.exists(SOCKJS_MIN):
        missing("tests/e2e/node_modules/sockjs-client")


def require_browser() -> None:
    require_node_client()
    if not os.path.exists(CHROMIUM):
        missing(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the python package playwright")


def _die_with_parent() -> None:
    """
    In the child, before exec: get SIGTERM when the test process dies, so
    that a killed test run leaves no server behind (Linux only).
    """
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    """
    A server subprocess that prints its base URL on its first line.
    """

    def __init__(
        self,
        argv: List[str],
        name: str,
        cwd: str = REPO,
        env: Optional[dict] = None,
        start_timeout: float = 20,
    ) -> None:
        self.name = name
        self.output: List[str] = []
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env if env is not None else os.environ, PYTHONUNBUFFERED="1"),
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        found = threading.Event()
        self.url = ""
        self._changed = threading.Condition()
        self._ended = False

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                with self._changed:
                    self.output.append(line)
                    self._changed.notify_all()
                if not found.is_set():
                    match = re.search(r"http://127\.0\.0\.1:\d+", line)
                    if match:
                        self.url = match.group(0)
                        found.set()
            with self._changed:
                self._ended = True
                self._changed.notify_all()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(start_timeout) or not self.url:
            self.stop()
            raise RuntimeError(f"{name} did not start: {''.join(self.output)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return "".join(self.output)

    def wait_for(self, text: str, timeout: float = 10) -> str:
        """
        The output once it holds C{text} (as each line arrives), or as it is
        when the process ended or C{timeout} seconds passed.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._ended or text in self.log(), timeout)
            return self.log()


@dataclass
class Origins:
    """
    The endpoints under test and where the harness page is loaded from.

    @ivar endpoints: base URL of the SockJS endpoints (/echo, /close, ...).
    @ivar page: base URL serving harness.html.
    @ivar kind: "same" or "cross".
    """

    endpoints: str
    page: str
    kind: str


def start_servers(heartbeat: Optional[float] = None) -> tuple:
    """
    Start examples/test_server.py with a static server beside it (the other
    origin, which also serves the sockjs_url of the iframe page), and
    tests/e2e/serve.py --endpoints (the page on the endpoints' own origin).
    """
    extra = [] if heartbeat is None else ["--heartbeat-delay", str(heartbeat)]
    static = Server([sys.executable, os.path.join(HERE, "serve.py"), "--port", "0"], "static server")
    servers = [static]
    try:
        test_server = Server(
            [
                sys.executable,
                os.path.join(REPO, "examples", "test_server.py"),
                "--port",
                "0",
                "--sockjs-url",
                static.url + "/sockjs.min.js",
            ]
            + extra,
            "examples/test_server.py",
        )
        servers.append(test_server)
        same = Server(
            [sys.executable, os.path.join(HERE, "serve.py"), "--port", "0", "--endpoints"] + extra,
            "serve.py --endpoints",
        )
        servers.append(same)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    origins = {
        "cross": Origins(test_server.url, static.url, "cross"),
        "same": Origins(same.url, same.url, "same"),
    }
    return servers, origins


class HarnessPage:
    """
    harness.html open in a Chromium tab, with the console kept for reports.
    """

    def __init__(self, browser: Any, origins: Origins) -> None:
        self.context = browser.new_context()
        self.origins = origins
        self.console: List[str] = []
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.goto(origins.page + "/harness.html")
        self.page.wait_for_function("window.SockJSHarness !== undefined")

    def run(self, check: str, endpoint: str, transports: Any = None, **params: Any) -> dict:
        params = dict(params, url=self.origins.endpoints + endpoint, transports=transports)
        # The result travels as a JSON string: lone surrogates stay escapes.
        result = self.page.evaluate(
            "([name, params]) => SockJSHarness.run(name, params).then(JSON.stringify)",
            [check, params],
        )
        return json.loads(result)

    def start(self, check: str, endpoint: str, transports: Any = None, **params: Any) -> None:
        """
        Start a check without waiting for it (see L{result}): checks in
        pages of different contexts then run at the same time.
        """
        params = dict(params, url=self.origins.endpoints + endpoint, transports=transports)
        self.page.evaluate(
            "([name, params]) => { window.__pending = SockJSHarness.run(name, params); }",
            [check, params],
        )

    def result(self) -> dict:
        return json.loads(self.page.evaluate("() => window.__pending.then(JSON.stringify)"))

    def close(self) -> None:
        self.context.close()


def run_node(check: str, url: str, transports: Any = None, timeout: float = 60, **params: Any) -> dict:
    """
    Run one harness check with sockjs-client in Node.
    """
    params = dict(params, url=url, transports=transports, deadline=int(timeout * 1000))
    completed = subprocess.run(
        ["node", os.path.join(HERE, "node_client.js"), check, json.dumps(params)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout + 10,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"node client printed no result: {completed.stdout!r} {completed.stderr!r}")
    return json.loads(lines[-1])
