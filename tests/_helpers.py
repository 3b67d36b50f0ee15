"""
The helpers every test module shares (test modules import only from here,
never from each other).

- L{MemoryServerMixin}: the standard test endpoints (examples/test_server.py)
  served by L{txsockjs.testing.SockJSTestServer}: real twisted.web requests
  over in-memory connections, time on a L{Clock}. Most HTTP-level tests.
- L{ServerMixin}: the same endpoints on a real listening port on 127.0.0.1,
  with raw TCP clients that show framing and chunks as they arrive, for what
  needs the wire (HTTP/1.0 and chunking on a socket, the websocket takeover
  of a TCP connection, hixie-76).
- websocket and treq clients over real ports (L{connect_ws},
  L{HTTPClientMixin}) and L{wait_until}, for the service and endpoint tests.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import treq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, reactor, task, tcp
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from txsockjs import Options
from txsockjs.testing import Exchange, SockJSTestServer

__all__ = [
    "MemoryServerMixin",
    "MemoryClient",
    "CountingWSClient",
    "bounded",
    "SHUTDOWN_FRAME",
    "WSClient",
    "connect_ws",
    "wait_until",
    "HTTPClientMixin",
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

#: What a client gets when the server shuts down.
SHUTDOWN_FRAME = 'c[1001,"Server shutting down"]'


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


# -- real ports: websocket and treq clients --------------------------------------


def wait_until(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02
) -> defer.Deferred:
    """
    Fires with C{True} once C{predicate()} holds, or C{False} after
    C{timeout} seconds.
    """

    @defer.inlineCallbacks
    def poll():
        deadline = reactor.seconds() + timeout
        while not predicate():
            if reactor.seconds() >= deadline:
                return False
            yield task.deferLater(reactor, interval, lambda: None)
        return True

    return poll()


class WSClient(WebSocketClientProtocol):
    """
    A websocket client that queues the text messages it gets.
    """

    def __init__(self) -> None:
        super().__init__()
        self.opened: defer.Deferred = defer.Deferred()
        self.closed: defer.Deferred = defer.Deferred()
        self.messages: defer.DeferredQueue = defer.DeferredQueue()
        self.received: List[Any] = []

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        message = payload if isBinary else payload.decode("utf-8")
        self.received.append(message)
        self.messages.put(message)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if not self.opened.called:
            self.opened.errback(ConnectionError(f"websocket refused: {code} {reason}"))
        if not self.closed.called:
            self.closed.callback((wasClean, code, reason))

    def next_message(self, timeout: float = 5.0) -> defer.Deferred:
        d = self.messages.get()
        return d.addTimeout(timeout, reactor)


def connect_ws(port: int, path: str) -> defer.Deferred:
    """
    A L{WSClient} connected to C{ws://127.0.0.1:port/path}, once open.
    """
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}")
    factory.protocol = WSClient
    d = TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
    d.addCallback(lambda client: client.opened)
    return d.addTimeout(10, reactor)


class HTTPClientMixin:
    """
    treq with a pool that keeps no connections, so that tests end clean.
    """

    def http(self) -> HTTPConnectionPool:
        pool = getattr(self, "_pool", None)
        if pool is None:
            pool = self._pool = HTTPConnectionPool(reactor, persistent=False)
            self.addCleanup(pool.closeCachedConnections)
        return pool

    def get(self, url: str, **kwargs: Any) -> defer.Deferred:
        return treq.get(url, pool=self.http(), **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> defer.Deferred:
        return treq.post(url, data=data, pool=self.http(), **kwargs)

    @defer.inlineCallbacks
    def open_stream(self, url: str):
        """
        Start an xhr_streaming request; fires with C{(chunks, done)} once
        the open frame arrived: C{chunks} grows as data comes, C{done} fires
        when the response ends.
        """
        response = yield self.post(url)
        chunks: List[bytes] = []
        done = treq.collect(response, chunks.append)
        got_open = yield wait_until(lambda: b"\no\n" in b"".join(chunks))
        if not got_open:
            raise AssertionError(f"no open frame in {b''.join(chunks)[-100:]!r}")
        return chunks, done


# -- real ports: a websocket client that counts messages ------------------------


class CountingWSClient(WebSocketClientProtocol):
    """
    Keeps every text message; lets a test wait for the n-th one or the end.
    """

    def __init__(self) -> None:
        WebSocketClientProtocol.__init__(self)
        self.messages: List[str] = []
        self.opened: defer.Deferred = defer.Deferred()
        self.ended: defer.Deferred = defer.Deferred()
        self.close_info: Optional[Tuple[bool, Any, Any]] = None
        self._waiters: List[Tuple[int, defer.Deferred]] = []

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append(payload.decode("utf-8", "surrogatepass"))
        # a callback may add waiters while this runs
        waiters, self._waiters = self._waiters, []
        keep = []
        for count, d in waiters:
            if d.called:
                continue
            if len(self.messages) >= count:
                d.callback(self.messages[count - 1])
            else:
                keep.append((count, d))
        self._waiters = keep + self._waiters

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        self.close_info = (wasClean, code, reason)
        if not self.opened.called:
            self.opened.errback(AssertionError(f"websocket refused: {code} {reason}"))
        waiters, self._waiters = self._waiters, []
        for count, d in waiters:
            d.errback(AssertionError(f"closed ({code}, {reason!r}) after {self.messages!r}"))

    def connectionLost(self, reason: Any) -> None:
        #: how the TCP connection ended (ConnectionDone: a FIN; ConnectionLost: a reset)
        self.lost_reason = reason
        WebSocketClientProtocol.connectionLost(self, reason)
        if not self.ended.called:
            self.ended.callback(self.close_info)

    # -- for tests

    def message(self, n: int) -> defer.Deferred:
        """
        Fire with the n-th message (1-based) once it came.
        """
        if len(self.messages) >= n:
            return defer.succeed(self.messages[n - 1])
        d: defer.Deferred = defer.Deferred()
        self._waiters.append((n, d))
        return d.addTimeout(WAIT, reactor)

    def send(self, text: str) -> None:
        self.sendMessage(text.encode("utf-8"), False)

    def wait_end(self) -> defer.Deferred:
        return bounded(self.ended)

    def abort(self) -> None:
        if not self.ended.called and self.transport is not None:
            self.transport.abortConnection()


def bounded(d: defer.Deferred) -> defer.Deferred:
    # a bounded wait on a Deferred other code also waits on
    waiter: defer.Deferred = defer.Deferred()
    d.addBoth(lambda result: (waiter.called or waiter.callback(result), result)[1])
    return waiter.addTimeout(WAIT, reactor)


# -- in memory -------------------------------------------------------------------


class MemoryClient:
    """
    One in-memory connection (a L{txsockjs.testing.Exchange}), with the
    interface of L{RawClient} that the protocol tests use. Nothing happens
    behind a test's back in memory: a C{wait} checks its condition at once
    and fails, with what arrived, when it does not hold.
    """

    def __init__(self, exchange: Exchange, settle: Callable[[], None]) -> None:
        self.exchange = exchange
        self._settle = settle

    @property
    def data(self) -> bytes:
        return self.exchange.data

    @property
    def closed(self) -> bool:
        return self.exchange.closed

    @property
    def lost(self) -> defer.Deferred:
        if self.closed:
            return defer.succeed(None)
        return defer.fail(AssertionError(f"connection still open; received {self.data[-600:]!r}"))

    def send(self, data: bytes) -> None:
        self.exchange.send(data)
        self._settle()

    def abort(self) -> None:
        self.exchange.abort()
        self._settle()

    def response(self) -> Optional[Exchange]:
        return self.exchange if self.exchange.started else None

    def body(self) -> bytes:
        return self.exchange.body

    def wait(self, predicate: Callable[["MemoryClient"], Any], timeout: float = WAIT) -> defer.Deferred:
        if predicate(self):
            return defer.succeed(self)
        return defer.fail(AssertionError(f"never happened; received {self.data[-600:]!r}"))

    def wait_body(self, needle: bytes, timeout: float = WAIT) -> defer.Deferred:
        return self.wait(lambda c: needle in c.body(), timeout)

    def wait_finished(self, timeout: float = WAIT) -> defer.Deferred:
        return self.wait(lambda c: c.exchange.finished, timeout).addCallback(lambda c: c.exchange)

    def wait_closed(self, timeout: float = WAIT) -> defer.Deferred:
        return self.wait(lambda c: c.closed, timeout).addCallback(lambda c: c.exchange)


class MemoryServerMixin:
    """
    setUp for a trial TestCase: the test endpoints (L{make_root}) served by
    a L{SockJSTestServer} on a L{Clock}. C{http} and the raw clients have the
    signatures of L{ServerMixin}'s and answer with Deferreds, so that a test
    reads the same in memory and over a socket; a response still open when
    asked for fires once a later step (a send, L{advance}) ends it.
    """

    base_options: Optional[Options] = Options(raw_websocket=True)

    def setUp(self) -> Any:
        self.clock = task.Clock()
        self.root = make_root(self.base_options, self.clock)
        self.server = SockJSTestServer(self.root, self.clock)
        self._pending: List[Tuple[Exchange, defer.Deferred]] = []

    def resource(self, name: str) -> Any:
        return self.root.children[name.encode()]

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} of the clock pass, every timer at its time.
        """
        self.server.advance(seconds)
        self._settle()

    def _settle(self) -> None:
        pending, self._pending = self._pending, []
        for exchange, d in pending:
            if exchange.finished:
                d.callback(exchange)
            else:
                self._pending.append((exchange, d))

    def http(
        self,
        method: str,
        path: str,
        headers: Optional[Dict[str, Any]] = None,
        body: Optional[bytes] = None,
    ) -> defer.Deferred:
        """
        One request; fires with the response (C{.code}, C{.body},
        C{.header()}) once it ended.
        """
        exchange = self.server.request(method, path, headers, body or b"")
        d: defer.Deferred = defer.Deferred()
        self._pending.append((exchange, d))
        self._settle()
        return d

    def connect(self) -> defer.Deferred:
        return defer.succeed(MemoryClient(self.server.connect(), self._settle))

    def raw(
        self,
        method: str,
        path: str,
        headers: Optional[Dict[str, str]] = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        close: bool = True,
    ) -> defer.Deferred:
        """
        Send one request on a new connection; the L{MemoryClient}.
        """
        exchange = self.server.request(method, path, headers, body, version, close)
        self._settle()
        return defer.succeed(MemoryClient(exchange, self._settle))

    def exchange(self, method: str, path: str, **kw: Any) -> defer.Deferred:
        """
        One complete request and response.
        """
        return self.raw(method, path, **kw).addCallback(lambda client: client.wait_finished())
