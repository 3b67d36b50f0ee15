"""
Shared machinery of the end-to-end tests: the standard test endpoints
(examples/test_server.py) on a real listening port, raw TCP HTTP clients that
show framing and chunks as they arrive, and a clean reactor at the end.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import treq
from twisted.internet import defer, reactor, tcp
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from txsockjs import Options

__all__ = [
    "make_root",
    "TrackingClock",
    "RawClient",
    "Response",
    "dechunk",
    "ServerMixin",
    "sleep",
    "new_id",
    "WAIT",
]

#: The longest any single wait of these tests may take, in seconds.
WAIT = 5.0


def _load_test_server() -> Any:
    name = "txsockjs_examples_test_server"
    module = sys.modules.get(name)
    if module is None:
        path = os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "examples",
            "test_server.py",
        )
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


make_root = _load_test_server().make_root


def new_id() -> str:
    return uuid.uuid4().hex


def sleep(seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


class TrackingClock:
    """
    The reactor's time, with every delayed call remembered, so that the
    timers sessions still hold when a test ends (disconnect timers,
    heartbeats) can be cancelled as a server shutdown would.
    """

    def __init__(self, real: Any = reactor) -> None:
        self._real = real
        self._calls: List[Any] = []

    def seconds(self) -> float:
        return self._real.seconds()

    def callLater(self, delay: float, f: Callable, *args: Any, **kw: Any) -> Any:
        call = self._real.callLater(delay, f, *args, **kw)
        if len(self._calls) > 256:
            self._calls = [c for c in self._calls if c.active()]
        self._calls.append(call)
        return call

    def getDelayedCalls(self) -> List[Any]:
        return [c for c in self._calls if c.active()]

    def cancel_all(self) -> None:
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []


class Incomplete(Exception):
    pass


def dechunk(raw: bytes) -> Tuple[bytes, bool, List[bytes]]:
    """
    Decode as much of a chunked body as arrived: the body so far, whether the
    last chunk came, and the chunks themselves.
    """
    chunks: List[bytes] = []
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            return b"".join(chunks), False, chunks
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(chunks), True, chunks
        start = end + 2
        if len(raw) < start + size + 2:
            return b"".join(chunks), False, chunks
        chunks.append(raw[start : start + size])
        assert raw[start + size : start + size + 2] == b"\r\n", "bad chunk trailer"
        pos = start + size + 2


class Response:
    """
    An HTTP response as it arrived on the wire (possibly still arriving).
    """

    def __init__(self, data: bytes) -> None:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise Incomplete()
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        self.version = parts[0]
        self.code = int(parts[1])
        self.head = head
        self.headers: Dict[str, List[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.headers.setdefault(name.strip().lower().decode("latin-1"), []).append(
                value.strip().decode("latin-1")
            )
        self.raw_body = rest
        self.chunked = "chunked" in (self.header("transfer-encoding") or "").lower()
        if self.chunked:
            self.body, self.finished, self.chunks = dechunk(rest)
        else:
            self.body, self.finished, self.chunks = rest, None, [rest]

    def header(self, name: str) -> Optional[str]:
        values = self.headers.get(name.lower())
        if not values:
            return None
        return ", ".join(values)

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.headers!r} {self.body[:200]!r}>"


def _response_or_none(data: bytes) -> Optional[Response]:
    try:
        return Response(data)
    except Incomplete:
        return None


class RawClient(Protocol):
    """
    A TCP client that keeps every byte it receives and lets a test wait,
    with a bound, for a condition on them.
    """

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.lost: defer.Deferred = defer.Deferred()
        self._waiters: List[Tuple[Callable[["RawClient"], Any], defer.Deferred]] = []

    # -- Protocol

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._check()

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True
        self._check()
        waiters, self._waiters = self._waiters, []
        for _, d in waiters:
            if not d.called:
                d.errback(
                    AssertionError(f"connection closed first; received {self.data[-600:]!r}")
                )
        self.lost.callback(None)

    # -- for tests

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def response(self) -> Optional[Response]:
        return _response_or_none(self.data)

    def body(self) -> bytes:
        response = self.response()
        return b"" if response is None else response.body

    def wait(self, predicate: Callable[["RawClient"], Any], timeout: float = WAIT) -> defer.Deferred:
        """
        Fire with the client once C{predicate(client)} is true.
        """
        d: defer.Deferred = defer.Deferred()
        self._waiters.append((predicate, d))
        self._check()
        if d.called:
            return d
        return d.addTimeout(timeout, reactor).addErrback(self._explain, d)

    def _explain(self, failure: Any, d: defer.Deferred) -> Any:
        if failure.check(defer.TimeoutError):
            self._waiters = [(p, w) for p, w in self._waiters if w is not d]
            raise AssertionError(f"timed out waiting; received {self.data[-600:]!r}")
        return failure

    def wait_body(self, needle: bytes, timeout: float = WAIT) -> defer.Deferred:
        """
        Fire once the (dechunked) body holds C{needle}.
        """
        return self.wait(lambda c: needle in c.body(), timeout)

    def wait_finished(self, timeout: float = WAIT) -> defer.Deferred:
        """
        Fire with the response once it has ended: the last chunk came, or
        the connection closed.
        """

        def done(client: "RawClient") -> bool:
            response = client.response()
            if response is None:
                return False
            if response.chunked:
                return bool(response.finished)
            length = response.header("content-length")
            if length is not None and len(response.raw_body) >= int(length):
                return True
            return client.closed

        return self.wait(done, timeout).addCallback(lambda c: c.response())

    def wait_closed(self, timeout: float = WAIT) -> defer.Deferred:
        return self.wait(lambda c: c.closed, timeout).addCallback(lambda c: c.response())

    def _check(self) -> None:
        if not self._waiters:
            return
        # a callback may add waiters (and check again) while this runs
        waiters, self._waiters = self._waiters, []
        keep = []
        for predicate, d in waiters:
            if d.called:
                continue
            if predicate(self):
                d.callback(self)
            else:
                keep.append((predicate, d))
        self._waiters = keep + self._waiters

    def abort(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.abortConnection()


def _open_sockets() -> list:
    return [
        s
        for s in list(reactor.getReaders()) + list(reactor.getWriters())
        if isinstance(s, (tcp.Server, tcp.Client))
    ]


class ServerMixin:
    """
    setUp/cleanup for a trial TestCase: the test endpoints on 127.0.0.1, a
    treq pool that keeps no connection, raw clients closed at the end.
    """

    #: the C{base} options given to C{make_root} (None: its own default)
    base_options: Optional[Options] = Options(raw_websocket=True)

    def setUp(self) -> Any:
        self.clock = TrackingClock()
        self.root = make_root(self.base_options, self.clock)
        self.site = Site(self.root)
        self.site.noisy = False
        self.port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.port_number = self.port.getHost().port
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.clients: List[Any] = []
        self.addCleanup(self._shut_down)

    @defer.inlineCallbacks
    def _shut_down(self) -> Any:
        for client in self.clients:
            abort = getattr(client, "abort", None)
            if abort is not None:
                abort()
        yield self.port.stopListening()
        yield self.pool.closeCachedConnections()
        # every socket of this test (ours, and the server's side) must go
        deadline = reactor.seconds() + WAIT
        while _open_sockets() and reactor.seconds() < deadline:
            yield sleep(0.01)
        for sock in _open_sockets():
            sock.abortConnection()
        while _open_sockets() and reactor.seconds() < deadline + 1:
            yield sleep(0.01)
        # what the sessions still hold, as a server shutdown would
        self.clock.cancel_all()

    def resource(self, name: str) -> Any:
        return self.root.children[name.encode()]

    # -- treq

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port_number}{path}"

    @defer.inlineCallbacks
    def http(
        self,
        method: str,
        path: str,
        headers: Optional[Dict[str, Any]] = None,
        body: Optional[bytes] = None,
    ) -> Any:
        """
        One request through treq; the response, with its body as C{.body}.
        """
        hdrs = {}
        for key, value in (headers or {}).items():
            hdrs[key] = value if isinstance(value, list) else [value]
        response = yield treq.request(
            method,
            self.url(path),
            headers=hdrs,
            data=body,
            pool=self.pool,
            timeout=WAIT,
        )
        response.body = yield treq.content(response)
        return response

    # -- raw

    @defer.inlineCallbacks
    def connect(self) -> Any:
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.port_number), RawClient()
        )
        self.clients.append(client)
        return client

    @defer.inlineCallbacks
    def raw(
        self,
        method: str,
        path: str,
        headers: Optional[Dict[str, str]] = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        close: bool = True,
    ) -> Any:
        """
        Send one request on a new connection; the L{RawClient}, receiving.
        """
        client = yield self.connect()
        lines = [f"{method} {path} {version}", f"Host: 127.0.0.1:{self.port_number}"]
        names = {k.lower() for k in (headers or {})}
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if close and "connection" not in names:
            lines.append("Connection: close")
        if (body or method in ("POST", "PUT")) and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        client.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return client

    @defer.inlineCallbacks
    def exchange(self, method: str, path: str, **kw: Any) -> Any:
        """
        One complete raw request and response.
        """
        client = yield self.raw(method, path, **kw)
        response = yield client.wait_finished()
        client.abort()
        return response
