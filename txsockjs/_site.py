# -*- test-case-name: tests.test_site -*-
"""
The twisted.web C{Site} every txsockjs server listens with, and its life:
it starts the application factories when it starts listening and, when it
stops, closes every session of its SockJS endpoints and stops them.

Its HTTP limits:

  - the request body limit, answered with 413 as soon as C{Content-Length}
    says so (or as soon as a chunked body goes past it), before any of the
    body is read or buffered (L{SockJSRequest});
  - the idle timeout of keep-alive connections between requests
    (twisted.web's own, which stops while a request is being answered, so
    long-polling and streaming responses are never idle);
  - the header deadline and the connection cap, which the connection's
    guard enforces (L{txsockjs._guard}, L{txsockjs._answers}).

L{SockJSRequest} carries the body limit alone, for a L{SockJSResource}
mounted in a Site of the application's own: C{Site(root,
requestFactory=SockJSRequest)}.
"""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any, Callable, Dict, Iterable, Mapping, Optional
from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IAddress, IProtocol, IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.http import HTTPChannel, datetimeToString
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from . import _internals
from ._answers import LINGER, TOO_LARGE, close_after
from ._guard import Connections, Guard
from ._headers import prepared
from ._reactor import default_reactor
from ._resource import SockJSResource
from ._tree import build_root
from .options import Options

# (SockJSFactory is documented where it is promised, txsockjs.resource)
__all__ = ["SockJSSite", "SockJSRequest", "DEFAULT_MAX_BODY_SIZE"]

_log = Logger()

#: the body limit of a L{SockJSRequest} in a Site that names none
DEFAULT_MAX_BODY_SIZE = Options.max_body_size


class _DateHeader:
    """
    The value of the C{Date} header now, formatted once a second.
    """

    def __init__(self, seconds: Callable[[], float] = time.time) -> None:
        self._seconds = seconds
        self._second = -1
        self._value = b""

    def now(self) -> bytes:
        second = int(self._seconds())
        if second != self._second:
            self._second = second
            self._value = datetimeToString(second)
        return self._value


_date = _DateHeader()
_SERVER_HEADER = prepared(b"Server", server.version)


class SockJSRequest(server.Request):
    """
    A request whose body may not exceed C{max_body_size} bytes: the
    L{SockJSSite}'s limit, or this class's for another Site.

    A larger body is answered C{413} with C{Connection: close} before it is
    read (its C{Content-Length} says so) or as soon as a chunked body goes
    past the limit; what comes after is thrown away. Bodies are kept in
    memory (they are bounded), never in a temporary file.

    Its C{Date} header is formatted once a second, not for every answer.
    """

    #: the limit in a Site that has no C{max_body_size} of its own
    max_body_size: Optional[int] = DEFAULT_MAX_BODY_SIZE

    _refused = False
    _received = 0

    def __init__(self, channel: HTTPChannel, *args: Any, **kwargs: Any) -> None:
        server.Request.__init__(self, channel, *args, **kwargs)
        transport = getattr(channel, "transport", None)
        self._guard = transport if isinstance(transport, Guard) else None
        self._limit: Optional[int] = getattr(
            getattr(channel, "site", None), "max_body_size", type(self).max_body_size
        )
        if self._guard is not None:
            self._guard.request_started()

    def process(self) -> None:
        # twisted.web's own, with the Date header formatted once a second
        # (txsockjs._internals says what this relies on)
        path = self.path
        if path == b"*":
            server.Request.process(self)
            return
        self.site = site = self.channel.site  # type: ignore[attr-defined]
        _internals.set_prepared(self, _SERVER_HEADER, (b"Date", _date.now()))
        self.prepath = []
        segments = path[1:].split(b"/")
        self.postpath = (
            [unquote_to_bytes(segment) for segment in segments] if b"%" in path else segments
        )
        try:
            resource = site.getResourceFor(self)
            _internals.use_encoder(self, resource)
            self.render(resource)  # type: ignore[no-untyped-call]
        except BaseException:
            self.processingFailed(Failure())  # type: ignore[no-untyped-call]

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
        content = self.content
        if content is not None:
            content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return
        if self._guard is not None:
            self._guard.request_complete()
        server.Request.requestReceived(self, command, path, version)

    def finish(self) -> None:
        guard = self._guard
        if guard is not None and not self.finished and not _internals.request_disconnected(self):
            # before the channel goes on to a pipelined request
            guard.request_done()
        server.Request.finish(self)

    def _refuse(self) -> None:
        self._refused = True
        self.content = BytesIO()
        transport = self.channel.transport
        if transport is None:
            return
        site = getattr(self.channel, "site", None)
        clock = getattr(site, "reactor", None)
        if clock is None:
            clock = default_reactor()
        _log.info(
            "Refused a request body larger than {limit} bytes from {peer} (413)",
            limit=self._limit,
            peer=str(transport.getPeer()),
        )
        if isinstance(site, SockJSSite):
            site.body_refusals += 1
        call = close_after(transport, TOO_LARGE, clock, LINGER)
        self.notifyFinish().addBoth(lambda _: call.cancel() if call.active() else None)


class SockJSSite(server.Site):
    """
    A twisted.web C{Site} with the HTTP limits of an L{Options}
    (C{max_body_size}, C{header_timeout}, C{idle_timeout},
    C{max_connections}) that owns the life of what it serves: it starts
    C{factories} when it starts listening; when it stops (its last port
    stopped listening), it shuts its C{endpoints} down (every session closed
    with C{c[1001,"Server shutting down"]} and forgotten, no timer left),
    then stops C{factories}. C{SockJSFactory}, C{twistd sockjs} and the
    C{sockjs:} endpoint all rely on it.

    @ivar connections: the connections open now (refused ones aside).
    @ivar evictions: connections closed so far to make room under the cap.
    @ivar refusals: connections answered 503 so far.
    @ivar body_refusals: requests answered 413 so far (body too large).
    @ivar header_timeouts: connections answered 408 so far (slow headers).
    @ivar endpoints: the L{SockJSResource}s served, by the name their
        figures get at C{metrics_path} (their mount path); shut down when
        the site stops.
    @ivar factories: the application factories started and stopped with
        the site.
    @ivar guard: the L{Connections} under the header deadline and the cap.
    @ivar sockjs: the endpoint of a site made by L{SockJSFactory}.
    """

    requestFactory = SockJSRequest
    sockjs: Optional[SockJSResource] = None

    def __init__(
        self,
        resource: IResource,
        options: Optional[Options] = None,
        factories: Iterable[IProtocolFactory] = (),
        endpoints: Optional[Mapping[str, SockJSResource]] = None,
        reactor: Optional[IReactorTime] = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = Options()
        kwargs.setdefault("parsePOSTFormSubmission", False)
        server.Site.__init__(self, resource, reactor=reactor, **kwargs)
        self.options = options
        self.max_body_size = options.max_body_size
        self.timeOut = options.idle_timeout
        self.factories = list(factories)
        self.endpoints: Dict[str, SockJSResource] = dict(endpoints or {})
        self.body_refusals = 0
        self.guard = Connections(self.reactor, options.max_connections, options.header_timeout)
        self._metrics: Optional[Resource] = None
        self._metrics_path = b""
        if options.metrics_path is not None:
            from .metrics import MetricsResource

            self._metrics = MetricsResource(self)
            self._metrics_path = options.metrics_path.encode()

    # -- life ------------------------------------------------------------------

    def startFactory(self) -> None:
        server.Site.startFactory(self)
        for factory in self.factories:
            factory.doStart()

    def stopFactory(self) -> None:
        for name, endpoint in self.endpoints.items():
            try:
                endpoint.shutdown()
            except Exception:
                _log.failure("Shutting down the endpoint {name} failed", name=name)
        for factory in self.factories:
            try:
                factory.doStop()
            except Exception:
                _log.failure("Factory {factory!r} failed to stop", factory=factory)
        server.Site.stopFactory(self)

    def getResourceFor(self, request: IRequest) -> IResource:
        # The metrics page sits beside the endpoints whatever the tree (an
        # endpoint mounted at / is a leaf and could not hold it).
        metrics = self._metrics
        if metrics is not None and request.path == self._metrics_path:
            request.site = self  # type: ignore[attr-defined]
            request.sitepath = []  # type: ignore[attr-defined]
            return metrics
        found: IResource = server.Site.getResourceFor(self, request)
        return found

    # -- connections -------------------------------------------------------------

    # (the protocol is the connection's guard, not the HTTP channel itself)
    def buildProtocol(  # type: ignore[override]
        self, addr: Optional[IAddress]
    ) -> Optional[IProtocol]:
        return self.guard.protocol_for(self, lambda: server.Site.buildProtocol(self, addr))

    @property
    def connections(self) -> int:
        return self.guard.count

    @property
    def evictions(self) -> int:
        return self.guard.evictions

    @property
    def refusals(self) -> int:
        return self.guard.refusals

    @property
    def header_timeouts(self) -> int:
        return self.guard.header_timeouts

    @property
    def max_connections(self) -> Optional[int]:
        return self.guard.max_connections

    @property
    def header_timeout(self) -> Optional[float]:
        return self.guard.header_timeout


def SockJSFactory(
    factory: IProtocolFactory,
    options: Optional[Options] = None,
    prefix: str = "/sockjs",
    reactor: Optional[IReactorTime] = None,
) -> SockJSSite:
    """
    A ready twisted.web C{Site} (a L{SockJSSite}, with the HTTP limits of
    C{options}) serving C{factory} over SockJS at C{prefix} (C{""} or C{"/"}
    for the site's root). Listening starts C{factory} (C{doStart});
    stopping closes every session and stops it.
    """
    resource = SockJSResource(factory, options, reactor)
    segments = tuple(s for s in prefix.strip("/").split("/") if s)
    site = SockJSSite(
        build_root([(segments, resource)]),
        resource.options,
        factories=[factory],
        endpoints={"/" + "/".join(segments): resource},
        reactor=reactor,
    )
    site.sockjs = resource
    return site
