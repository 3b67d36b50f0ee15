# -*- test-case-name: tests.test_site -*-
"""
The twisted.web C{Site} every txsockjs server listens with: the HTTP limits
that only the connection, not a resource, can enforce.

  - the request body limit, answered with 413 as soon as C{Content-Length}
    says so (or as soon as a chunked body goes past it), before any of the
    body is read or buffered;
  - the header deadline: the whole request head must arrive within
    C{header_timeout} seconds of its first byte (slow-header attacks);
  - the idle timeout of keep-alive connections between requests
    (twisted.web's own, which stops while a request is being answered, so
    long-polling and streaming responses are never idle);
  - the connection cap: past C{max_connections}, the connection that has
    waited longest for a request is closed to make room (a slow-header
    attacker's connections are all such), and when every connection is
    busy answering, a new one gets a short 503.

L{SockJSRequest} carries the body limit alone, for a L{SockJSResource}
mounted in a Site of the application's own: C{Site(root,
requestFactory=SockJSRequest)}.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Dict, Iterable, Optional

from twisted.internet.interfaces import IProtocolFactory, ISSLTransport
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.web import server

from . import _writes
from .options import Options

__all__ = ["SockJSSite", "SockJSRequest", "DEFAULT_MAX_BODY_SIZE"]

_log = Logger()

#: the body limit of a L{SockJSRequest} in a Site that names none
DEFAULT_MAX_BODY_SIZE = Options.max_body_size

#: seconds a refused body (413) or connection (503) is read and thrown away
#: after the answer, so that the client reads the answer rather than a reset
LINGER = 2.0

#: seconds a connection closed for its header deadline has to go
ABORT_AFTER = 5.0

#: connections being refused with 503 at once, past which they are closed
#: without an answer (each holds a file descriptor while it lingers)
MAX_REFUSING = 32

#: seconds between two log lines about the connection cap
_PRESSURE_LOG_INTERVAL = 10.0


def _answer(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n"
        b"Content-Length: %d\r\n"
        b"Connection: close\r\n"
        b"Retry-After: 5\r\n\r\n" % len(body)
    ) + body


_TOO_LARGE = _answer(b"413 Content Too Large", b"Request body too large.\n")
_TIMEOUT = _answer(b"408 Request Timeout", b"Request headers took too long.\n")
_BUSY = _answer(b"503 Service Unavailable", b"Too many connections.\n")


def _close_after(transport: Any, answer: bytes, clock: Any, linger: float) -> Any:
    """
    Write C{answer}, end our side of the connection and drop it after
    C{linger} seconds at the latest; returns that call.
    """
    transport.write(answer)
    half_close = getattr(transport, "loseWriteConnection", None)
    if half_close is not None and not ISSLTransport.providedBy(transport):
        # The client reads the answer to the end, then closes; closing at
        # once while its request is still coming would reset the
        # connection and lose the answer.
        half_close()
    else:
        transport.loseConnection()
    return clock.callLater(linger, _abort, transport)


def _abort(transport: Any) -> None:
    abort = getattr(transport, "abortConnection", None)
    if abort is not None:
        abort()
    else:
        transport.loseConnection()


class SockJSRequest(server.Request):
    """
    A request whose body may not exceed C{max_body_size} bytes: the
    L{SockJSSite}'s limit, or this class's for another Site.

    A larger body is answered C{413} with C{Connection: close} before it is
    read (its C{Content-Length} says so) or as soon as a chunked body goes
    past the limit; what comes after is thrown away. Bodies are kept in
    memory (they are bounded), never in a temporary file.
    """

    #: the limit in a Site that has no C{max_body_size} of its own
    max_body_size: Optional[int] = DEFAULT_MAX_BODY_SIZE

    _refused = False
    _received = 0

    def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
        server.Request.__init__(self, channel, *args, **kwargs)
        transport = getattr(channel, "transport", None)
        self._guard = transport if isinstance(transport, _Guard) else None
        self._limit = getattr(
            getattr(channel, "site", None), "max_body_size", type(self).max_body_size
        )
        if self._guard is not None:
            self._guard.request_started()

    def gotLength(self, length: Optional[int]) -> None:
        if self._guard is not None:
            self._guard.head_received()
        limit = self._limit
        if limit is None:
            server.Request.gotLength(self, length)
            return
        if length is not None and length > limit:
            # The channel would answer "Expect: 100-continue" next.
            self.requestHeaders.removeHeader(b"expect")
            self._refuse()
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        limit = self._limit
        if limit is not None:
            self._received += len(data)
            if self._received > limit:
                self._refuse()
                return
        self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return
        if self._guard is not None:
            self._guard.request_complete()
        server.Request.requestReceived(self, command, path, version)

    def finish(self) -> None:
        guard = self._guard
        if guard is not None and not self.finished and not self._disconnected:
            # before the channel goes on to a pipelined request
            guard.request_done()
        server.Request.finish(self)

    def _refuse(self) -> None:
        self._refused = True
        self.content = BytesIO()
        transport = self.channel.transport
        if transport is None:
            return
        clock = getattr(getattr(self.channel, "site", None), "reactor", None)
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[no-redef]
        _log.info(
            "Refused a request body larger than {limit} bytes from {peer} (413)",
            limit=self._limit,
            peer=str(transport.getPeer()),
        )
        site = getattr(self.channel, "site", None)
        if isinstance(site, SockJSSite):
            site.body_refusals += 1
        call = _close_after(transport, _TOO_LARGE, clock, LINGER)
        self.notifyFinish().addBoth(lambda _: call.cancel() if call.active() else None)


class _Guard(ProtocolWrapper):
    """
    Stands between one connection and its HTTP channel (and then the
    websocket protocol that may take it over), for the L{SockJSSite}: it
    holds the header deadline and tells the site whether the connection is
    waiting for a request (which the cap may close) or busy.

    The channel and a websocket protocol write to the real transport and
    read from it with no call in between: only the header deadline check
    is added to each read while the connection speaks HTTP.
    """

    #: C{False} while the connection waits for a request, receives its
    #: head or its body; C{True} from the complete request until its answer
    #: is finished (for ever once a websocket took the connection over)
    busy = False
    #: the request head is in, its body is coming
    _in_body = False
    gone = False
    evicted = False
    _deadline: Any = None
    _abort_call: Any = None
    _host: Any = None

    def __init__(self, site: "SockJSSite", wrapped: Any) -> None:
        self.factory = site
        self._site = site
        self._wrapped = wrapped

    # what twisted.web's websocket take-over sets (transports/websocket.py)
    @property  # type: ignore[override]
    def wrappedProtocol(self) -> Any:
        return self._wrapped

    @wrappedProtocol.setter
    def wrappedProtocol(self, protocol: Any) -> None:
        if protocol is self._wrapped:
            return
        # A websocket took the connection over: it is busy for good, and
        # reads go straight to it.
        self._wrapped = protocol
        self._cancel_deadline()
        self._site._busy(self)
        self.dataReceived = _writes.gathering(protocol.dataReceived)  # type: ignore[method-assign, assignment]

    @property  # type: ignore[override]
    def disconnecting(self) -> bool:
        transport = self.transport
        return bool(transport is None or transport.disconnecting)

    def makeConnection(self, transport: Any) -> None:
        from zope.interface import directlyProvides, providedBy

        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        # try-write-first (txsockjs._writes); the host address asked once
        self.write, self.writeSequence = _writes.writers_for(transport)  # type: ignore[method-assign]
        self.dataReceived = _writes.gathering(self.dataReceived)  # type: ignore[method-assign, assignment]
        self._site._connected(self)
        self._start_deadline()
        self._wrapped.makeConnection(self)

    def loseConnection(self) -> None:
        self.transport.loseConnection()

    def getHost(self) -> Any:
        if self._host is None:
            transport: Any = self.transport
            self._host = transport.getHost()
        return self._host

    def dataReceived(self, data: bytes) -> None:
        if self._deadline is None and not self.busy and not self._in_body:
            # the first byte of a request head
            self._start_deadline()
        self._wrapped.dataReceived(data)

    def connectionLost(self, reason: Any) -> None:
        self.gone = True
        self._cancel_deadline()
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        self._site._disconnected(self)
        wrapped, self._wrapped = self._wrapped, None
        if wrapped is not None:
            wrapped.connectionLost(reason)

    def logPrefix(self) -> str:
        wrapped = self._wrapped
        if wrapped is not None and hasattr(wrapped, "logPrefix"):
            return wrapped.logPrefix()
        return self.__class__.__name__

    # -- what the requests say ------------------------------------------------

    def request_started(self) -> None:
        # (a pipelined request replayed from the channel's buffer)
        if self._deadline is None and not self.busy and not self._in_body:
            self._start_deadline()

    def head_received(self) -> None:
        self._cancel_deadline()
        self._in_body = True

    def request_complete(self) -> None:
        self._cancel_deadline()
        self._in_body = False
        self._site._busy(self)

    def request_done(self) -> None:
        self._in_body = False
        self._site._waiting(self)

    # -- the header deadline ---------------------------------------------------

    def _start_deadline(self) -> None:
        timeout = self._site.header_timeout
        if timeout is not None and not self.gone:
            self._deadline = self._site.reactor.callLater(timeout, self._too_slow)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        transport = self.transport
        if self.gone or transport is None:
            return
        _log.info(
            "Closing {peer}: no complete request head in {timeout} s (408)",
            peer=str(transport.getPeer()),
            timeout=self._site.header_timeout,
        )
        self._site.header_timeouts += 1
        transport.write(_TIMEOUT)
        transport.loseConnection()
        self._abort_call = self._site.reactor.callLater(ABORT_AFTER, _abort, transport)

    def evict(self) -> None:
        """
        Close this connection, which waits for a request, to make room.
        """
        self.evicted = True
        self._cancel_deadline()
        transport = self.transport
        transport.loseConnection()
        self._abort_call = self._site.reactor.callLater(ABORT_AFTER, _abort, transport)


class _Refused(Protocol):
    """
    A connection past the cap while every other is busy: a short 503, then
    closed.
    """

    def __init__(self, site: "SockJSSite") -> None:
        self._site = site
        self._call: Any = None

    def connectionMade(self) -> None:
        self._call = _close_after(self.transport, _BUSY, self._site.reactor, LINGER)

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Any) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._site._refusing -= 1


class SockJSSite(server.Site):
    """
    A twisted.web C{Site} with the HTTP limits of an L{Options}
    (C{max_body_size}, C{header_timeout}, C{idle_timeout},
    C{max_connections}); it starts and stops C{factories} with itself, and
    shuts C{resources} (L{txsockjs.SockJSResource}s) down when it stops.

    @ivar connections: the connections open now (refused ones aside).
    @ivar evictions: connections closed so far to make room under the cap.
    @ivar refusals: connections answered 503 so far.
    @ivar body_refusals: requests answered 413 so far (body too large).
    @ivar header_timeouts: connections answered 408 so far (slow headers).
    @ivar endpoints: the SockJS endpoints whose figures C{metrics_path}
        serves, by name (C{resources} are there under their C{mount} name).
    """

    requestFactory = SockJSRequest

    def __init__(
        self,
        resource: Any,
        options: Optional[Options] = None,
        factories: Iterable[IProtocolFactory] = (),
        resources: Iterable[Any] = (),
        reactor: Any = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = Options()
        kwargs.setdefault("parsePOSTFormSubmission", False)
        server.Site.__init__(self, resource, reactor=reactor, **kwargs)
        self.options = options
        self.max_body_size = options.max_body_size
        self.header_timeout = options.header_timeout
        self.timeOut = options.idle_timeout
        self.max_connections = options.max_connections
        self.factories = list(factories)
        self.resources = list(resources)
        self.connections = 0
        self.evictions = 0
        self.refusals = 0
        self.body_refusals = 0
        self.header_timeouts = 0
        self._refusing = 0
        self.endpoints: Dict[str, Any] = {}
        for index, endpoint in enumerate(self.resources):
            self.endpoints[getattr(endpoint, "mount", None) or f"endpoint{index}"] = endpoint
        self._metrics: Any = None
        if options.metrics_path is not None:
            from .metrics import MetricsResource

            self._metrics = MetricsResource(self)
        # connections waiting for a request, longest waiting first
        self._idle: Dict[_Guard, None] = {}
        self._last_pressure_log: Optional[float] = None

    # -- life ------------------------------------------------------------------

    def startFactory(self) -> None:
        server.Site.startFactory(self)
        for factory in self.factories:
            factory.doStart()

    def stopFactory(self) -> None:
        for resource in self.resources:
            resource.shutdown()
        for factory in self.factories:
            factory.doStop()
        server.Site.stopFactory(self)

    def getResourceFor(self, request: Any) -> Any:
        # The metrics page sits beside the endpoints whatever the tree (an
        # endpoint mounted at / is a leaf and could not hold it).
        metrics = self._metrics
        if metrics is not None and request.path == self.options.metrics_path.encode():
            request.site = self
            request.sitepath = []
            return metrics
        return server.Site.getResourceFor(self, request)

    # -- connections -------------------------------------------------------------

    def buildProtocol(self, addr: Any) -> Any:
        cap = self.max_connections
        if cap is not None and self.connections >= cap and not self._make_room():
            self.refusals += 1
            self._pressure("every connection is busy: refusing new ones with 503")
            if self._refusing >= MAX_REFUSING:
                return None
            self._refusing += 1
            return _Refused(self)
        channel = server.Site.buildProtocol(self, addr)
        return _Guard(self, channel)

    def _make_room(self) -> bool:
        while self._idle:
            guard = next(iter(self._idle))
            del self._idle[guard]
            if guard.gone:
                continue
            self.evictions += 1
            self.connections -= 1
            self._pressure("closing the connections that wait longest for a request")
            guard.evict()
            return True
        return False

    def _pressure(self, what: str) -> None:
        now = self.reactor.seconds()
        last = self._last_pressure_log
        if last is None or now - last >= _PRESSURE_LOG_INTERVAL:
            self._last_pressure_log = now
            _log.warn(
                "{connections} connections reached max_connections={cap}: {what} "
                "({evictions} closed, {refusals} refused so far)",
                connections=self.connections,
                cap=self.max_connections,
                what=what,
                evictions=self.evictions,
                refusals=self.refusals,
            )

    def _connected(self, guard: _Guard) -> None:
        self.connections += 1
        self._idle[guard] = None

    def _busy(self, guard: _Guard) -> None:
        guard.busy = True
        self._idle.pop(guard, None)

    def _waiting(self, guard: _Guard) -> None:
        if not guard.gone and not guard.evicted:
            guard.busy = False
            self._idle.pop(guard, None)
            self._idle[guard] = None

    def _disconnected(self, guard: _Guard) -> None:
        self._idle.pop(guard, None)
        if not guard.evicted:
            self.connections -= 1
