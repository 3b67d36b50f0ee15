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
  L{HTTPClientMixin}), and waits on events (L{sockets_closed},
  L{fired_when}, L{bounded}), for the service and endpoint tests: nothing
  here waits on the wall clock, every wait is for an event and bounded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import treq
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, reactor, task, tcp
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.web.client import HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.server import Site
from zope.interface import implementer

from txsockjs import Options
from txsockjs._receiver import IReceiver
from txsockjs.session import RequestInfo, Session
from txsockjs._testing_http import dechunk
from txsockjs.testing import Exchange, SockJSTestServer

__all__ = [
    "echo_factory",
    "request_info",
    "Receiver",
    "Recorder",
    "MemoryServerMixin",
    "SessionRequestsMixin",
    "MemoryClient",
    "CountingWSClient",
    "bounded",
    "SHUTDOWN_FRAME",
    "WSClient",
    "connect_ws",
    "sockets_closed",
    "open_sockets",
    "socket_closed",
    "fired_when",
    "Arrivals",
    "HTTPClientMixin",
    "make_root",
    "TrackingClock",
    "RawClient",
    "Response",
    "ServerMixin",
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


class TrackingClock:
    """
    The reactor, with every delayed call remembered, so that the timers
    sessions still hold when a test ends (disconnect timers, heartbeats)
    can be cancelled as a server shutdown would, rather than waited out.
    Everything else (C{listenTCP}, ...) is the reactor's, so that it also
    serves as the C{reactor} of an endpoint description.
    """

    def __init__(self, real: Any = reactor) -> None:
        self._real = real
        self._calls: List[Any] = []
        self._settled: List[defer.Deferred] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def seconds(self) -> float:
        return self._real.seconds()

    def callLater(self, delay: float, f: Callable, *args: Any, **kw: Any) -> Any:
        def run() -> Any:
            try:
                return f(*args, **kw)
            finally:
                self._check_settled()

        call = self._real.callLater(delay, run)
        if len(self._calls) > 256:
            self._calls = [c for c in self._calls if c.active()]
        self._calls.append(call)
        return call

    def settled(self) -> defer.Deferred:
        """
        Fires (bounded) once no timer due by now is left to run: what the
        server scheduled at once (a batched flush, ...) has run.
        """
        d: defer.Deferred = defer.Deferred()
        self._settled.append(d)
        self._check_settled()
        return bounded(d)

    def _check_settled(self) -> None:
        now = self._real.seconds()
        if any(c.active() and c.getTime() <= now for c in self._calls):
            return
        waiting, self._settled = self._settled, []
        for d in waiting:
            d.callback(None)

    def getDelayedCalls(self) -> List[Any]:
        return [c for c in self._calls if c.active()]

    def cancel_all(self) -> None:
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []


class Incomplete(Exception):
    pass


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
        yield sockets_closed()
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


class SessionRequestsMixin:
    """
    The requests the HTTP-level tests make of a session of the test
    endpoints, over L{ServerMixin} or L{MemoryServerMixin} alike (it uses
    their C{http} and C{raw}).
    """

    def session(self, endpoint: str = "echo", server: str = "000") -> str:
        """
        The base path of a new session of C{endpoint}.
        """
        return f"/{endpoint}/{server}/{new_id()}"

    @defer.inlineCallbacks
    def open_xhr(self, endpoint: str = "echo") -> Any:
        """
        A new session opened with an xhr poll; its base path.
        """
        base = self.session(endpoint)
        r = yield self.http("POST", base + "/xhr")  # type: ignore[attr-defined]
        self.assertEqual((r.code, r.body), (200, b"o\n"))  # type: ignore[attr-defined]
        return base

    def send(self, base: str, messages: List[str], **kw: Any) -> defer.Deferred:
        """
        C{xhr_send} of C{messages}; fires with the response.
        """
        body = json.dumps(messages).encode()
        return self.http("POST", base + "/xhr_send", body=body, **kw)  # type: ignore[attr-defined]

    @defer.inlineCallbacks
    def poll(self, base: str) -> Any:
        """
        One xhr poll; its body.
        """
        r = yield self.http("POST", base + "/xhr")  # type: ignore[attr-defined]
        self.assertEqual(r.code, 200)  # type: ignore[attr-defined]
        return r.body

    def stream(self, path: str, method: str = "POST", **kw: Any) -> defer.Deferred:
        """
        A streaming request on a connection of its own, kept open; fires
        with the raw client.
        """
        return self.raw(method, path, **kw)  # type: ignore[attr-defined]


# -- real ports: websocket and treq clients --------------------------------------


def open_sockets() -> list:
    """
    The TCP sockets the reactor reads or writes now, each once.
    """
    every = list(reactor.getReaders()) + list(reactor.getWriters())
    return list(dict.fromkeys(s for s in every if isinstance(s, (tcp.Server, tcp.Client))))


def socket_closed(sock: Any) -> defer.Deferred:
    """
    Fires once the TCP socket C{sock} (a C{tcp.Server} or C{tcp.Client},
    whatever protocol it carries now) has closed.
    """
    if getattr(sock, "disconnected", False) or getattr(sock, "_aborting", False):
        # gone, or aborted: out of the reactor already, its connectionLost
        # scheduled with the method it had (call this before aborting)
        return defer.succeed(None)
    waiters = sock.__dict__.get("_test_lost_waiters")
    if waiters is None:
        waiters = sock._test_lost_waiters = []
        original = sock.connectionLost

        def connectionLost(reason: Any) -> None:
            try:
                original(reason)
            finally:
                for d in sock._test_lost_waiters:
                    d.callback(None)
                sock._test_lost_waiters = []

        sock.connectionLost = connectionLost
    d: defer.Deferred = defer.Deferred()
    waiters.append(d)
    return d


@defer.inlineCallbacks
def sockets_closed(
    sockets: Optional[List[Any]] = None, abort: bool = False, timeout: float = WAIT
) -> Any:
    """
    Fires once every TCP socket of C{sockets} (every one the reactor has
    open, by default) has closed, after aborting them with C{abort}; those
    still open after C{timeout} seconds are aborted and waited for a second
    more.
    """
    sockets = open_sockets() if sockets is None else list(sockets)
    waits = defer.DeferredList([socket_closed(sock) for sock in sockets])
    if abort:
        for sock in sockets:
            sock.abortConnection()
    try:
        yield bounded(waits, timeout)
    except defer.TimeoutError:
        left = [sock for sock in sockets if not getattr(sock, "disconnected", False)]
        for sock in left:
            sock.abortConnection()
        yield bounded(defer.DeferredList([socket_closed(sock) for sock in left]), 1.0)


class Arrivals(list):
    """
    A list that things arrive in (a subscriber's callback, a receiver's
    frames), with a bounded wait for a condition on what arrived.
    """

    def __init__(self) -> None:
        super().__init__()
        self._waiting: List[Tuple[Callable[[List[Any]], Any], defer.Deferred]] = []

    def append(self, item: Any) -> None:
        super().append(item)
        waiting, self._waiting = self._waiting, []
        for predicate, d in waiting:
            if predicate(self):
                d.callback(self)
            else:
                self._waiting.append((predicate, d))

    def until(self, predicate: Callable[[List[Any]], Any], timeout: float = WAIT) -> defer.Deferred:
        """
        Fires once C{predicate(arrivals)} holds, checked as each item arrives.
        """
        if predicate(self):
            return defer.succeed(self)
        d: defer.Deferred = defer.Deferred()
        self._waiting.append((predicate, d))
        return bounded(d, timeout)


def fired_when(predicate: Callable[[], bool]) -> Tuple[defer.Deferred, Callable[[], None]]:
    """
    A Deferred that fires once C{predicate()} holds, and the function to
    call whenever what it looks at may have changed (from the event that
    changes it: a protocol's C{dataReceived}, C{connectionLost}, ...).
    """
    d: defer.Deferred = defer.Deferred()

    def check() -> None:
        if not d.called and predicate():
            d.callback(None)

    check()
    return d, check


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
        opened, check = fired_when(lambda: b"\no\n" in b"".join(chunks))

        def received(data: bytes) -> None:
            chunks.append(data)
            check()

        def ended(result: Any) -> Any:
            if not opened.called:
                opened.errback(AssertionError(f"no open frame in {b''.join(chunks)[-100:]!r}"))
            return result

        done = treq.collect(response, received).addBoth(ended)
        yield bounded(opened)
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


def bounded(d: defer.Deferred, timeout: float = WAIT) -> defer.Deferred:
    """
    A wait of at most C{timeout} seconds on C{d}, which other code may
    also wait on (C{d} itself is not cancelled).
    """
    waiter: defer.Deferred = defer.Deferred()
    d.addBoth(lambda result: (waiter.called or waiter.callback(result), result)[1])
    return waiter.addTimeout(timeout, reactor)


# -- a handler for twistd sockjs --handler (a dotted name) ----------------------


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


#: C{--handler=tests._helpers.echo_factory}
echo_factory = Factory.forProtocol(_Echo)


# -- sessions without HTTP ------------------------------------------------------


def request_info() -> RequestInfo:
    """
    The request a session is opened by, as the session tests need one.
    """
    return RequestInfo(
        method=b"POST",
        uri=b"/echo/0/s/xhr",
        path=b"/echo/0/s/xhr",
        headers=Headers(),
        peer=IPv4Address("TCP", "127.0.0.1", 40000),
        host=IPv4Address("TCP", "127.0.0.1", 8080),
        cookies={},
        is_secure=False,
    )


@implementer(IReceiver)
class Receiver:
    """
    A receiver as the HTTP transports behave: a poll takes one frame and
    detaches, a stream takes frames until closed.
    """

    def __init__(self, session: Session, polling: bool = False) -> None:
        self.session = session
        self.polling = polling
        self.frames: Arrivals = Arrivals()
        self.closed = False

    def send_frame(self, frame: bytes) -> None:
        assert not self.closed, "frame after close"
        self.frames.append(frame)
        if self.polling:
            self.closed = True
            self.session.detach(self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.detach(self)

    def heartbeat(self) -> None:
        self.send_frame(b"h")


class Recorder(Protocol):
    def __init__(self) -> None:
        self.received: List[bytes] = []
        self.made = 0
        self.lost: list = []

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def connectionLost(self, reason=None) -> None:
        self.lost.append(reason)


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
