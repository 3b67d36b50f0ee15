# -*- test-case-name: tests.test_http_protocol -*-
"""
L{SockJSResource}: one SockJS endpoint as a twisted.web resource.

Routing happens here, in one place: the greeting, C{/info}, the iframe
page, raw C{/websocket} and the session transports under
C{/<server>/<session>/<transport>}.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qs

from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from . import _headers as H
from ._hub import SessionHub
from ._origins import OriginPolicy
from ._pages import PLAIN, Pages, method_not_allowed, not_found
from ._reactor import default_reactor
from ._registry import SessionRegistry
from ._shutdown import SHUTDOWN_CODE, SHUTDOWN_REASON
from ._framing import BrokenJSON, PayloadError, PayloadExpected, parse_messages
from .options import Options
from .session import RequestInfo, Session, SessionState
from ._transports.eventsource import EventSource
from ._transports.htmlfile import HtmlFile
from ._transports.jsonp import JsonpPolling
from ._transports._seam import WebSocketSeam, WebSocketSessions
from ._transports._upgrade import refuse_or_upgrade
from ._transports.websocket import RawWebSocketProtocol, SockJSWebSocketProtocol, make_factory
from ._transports.xhr import XhrPolling, XhrStreaming

# (no __all__: SockJSResource is documented where it is promised,
# txsockjs.resource)

_log = Logger()

# (fullmatch: "$" would also match before a final newline)
_IFRAME_NAME = re.compile(rb"iframe[0-9A-Za-z_.-]*\.html")
_CALLBACK = re.compile(rb"[a-zA-Z0-9_.-]{1,32}")
# the transports a page loads with <script> or in a frame: the browser
# sends no Origin header for them, so their origin is checked by Referer
_FRAMED = frozenset({"htmlfile", "jsonp", "jsonp_send"})
_FORM = b"application/x-www-form-urlencoded"

# transport name -> (HTTP method, methods a preflight allows)
_SESSION_METHODS: Dict[str, Tuple[bytes, bytes]] = {
    "xhr": (b"POST", b"OPTIONS, POST"),
    "xhr_streaming": (b"POST", b"OPTIONS, POST"),
    "xhr_send": (b"POST", b"OPTIONS, POST"),
    "jsonp_send": (b"POST", b"OPTIONS, POST"),
    "jsonp": (b"GET", b"OPTIONS, GET"),
    "eventsource": (b"GET", b"OPTIONS, GET"),
    "htmlfile": (b"GET", b"OPTIONS, GET"),
}


class _CallbackError(Exception):
    pass


class SockJSResource(Resource):
    """
    Serves one SockJS endpoint wherever it is mounted.

    @ivar sessions: the HTTP sessions of this endpoint, by id.
    @ivar options: the L{Options} in force.
    """

    isLeaf = True

    def __init__(
        self,
        factory: IProtocolFactory,
        options: Optional[Options] = None,
        reactor: Optional[IReactorTime] = None,
    ) -> None:
        Resource.__init__(self)
        if reactor is None:
            reactor = default_reactor()
        if options is None:
            options = Options()
        elif not isinstance(options, Options):
            raise TypeError("options must be a txsockjs.Options")
        self.factory = factory
        self.options = options
        self.clock: IReactorTime = reactor
        self.sessions = SessionRegistry()
        self.websocket_factory = make_factory(
            options.websocket_factory, options.max_message_size
        )
        self.hub = SessionHub(
            reactor,
            heartbeat_delay=options.heartbeat_delay,
            disconnect_delay=options.disconnect_delay,
            encoding=options.encoding,
            on_forget=self._forget,
            max_queue_size=options.max_queue_size,
        )
        # websocket connections are sessions of their own, apart from the
        # registry by id; their protocols get what they need at construction
        self.websocket_sessions = WebSocketSessions(factory, self.hub)
        self._websocket = WebSocketSeam(
            sessions=self.websocket_sessions,
            factory=self.websocket_factory,
            clock=reactor,
            counters=self.hub.counters,
            write_timeout=options.websocket_write_timeout,
            max_message_size=options.max_message_size,
        )
        self._origins = OriginPolicy(options)
        # With restricted origins: CORS only for allowed origins, and the
        # pages that run in frames refuse others and say who may frame them.
        self._restricted = self._origins.restricted
        self._origin_allowed = self._origins.allows
        self._framed_origin_allowed = self._origins.allows_framed
        pages = Pages(options, self._origins)
        self._greeting = pages.greeting
        self._info = pages.info
        self._iframe_page = pages.iframe
        self._last_full_log: Optional[float] = None

    # -- sessions ------------------------------------------------------------

    def new_session(
        self,
        session_id: str,
        info: RequestInfo,
        transport_name: str,
    ) -> Session:
        """
        Make the session for a new HTTP client, with a protocol of its own,
        and register it by id (websocket connections open theirs with
        C{websocket_sessions}).
        """
        protocol = self.factory.buildProtocol(info.peer)
        session = Session(session_id, protocol, self.hub, info, transport_name)
        self.sessions.add(session)
        if protocol is None:
            session.close(3000, "Go away!")
        return session

    def _forget(self, session: Session) -> None:
        self.sessions.remove(session)
        self.websocket_sessions.discard(session)

    def open_sessions(self) -> List[Session]:
        """
        Every session of this endpoint that is open, on any transport.
        """
        return [
            s
            for s in (*self.sessions, *self.websocket_sessions)
            if s.state is SessionState.OPEN
        ]

    def close_all(self, code: int = SHUTDOWN_CODE, reason: str = SHUTDOWN_REASON) -> None:
        """
        Close every session of this endpoint (for a server shutdown).
        """
        for session in (*self.sessions, *self.websocket_sessions):
            session.close(code, reason)

    def shutdown(self, code: int = SHUTDOWN_CODE, reason: str = SHUTDOWN_REASON) -> None:
        """
        Close every session, then forget them all at once, leaving no timer
        behind (for a server that stops).
        """
        self.close_all(code, reason)
        for session in (*self.sessions, *self.websocket_sessions):
            session.discard()
        self.hub.run_pending()

    # -- routing -------------------------------------------------------------

    def render(self, request: IRequest) -> Union[bytes, int]:
        path = request.postpath
        count = len(path)
        if count == 0 or (count == 1 and path[0] == b""):
            return self._greeting(request)
        if not self._origin_allowed(request):
            return H.error(request, 403, b"Origin not allowed.")
        if count == 3:
            return self._session_url(request, path)
        if count == 1:
            name = path[0]
            if name == b"info":
                return self._info(request)
            if name == b"websocket" and self.options.serves("raw_websocket"):
                if self._full():
                    return self._too_many_sessions(request)
                return refuse_or_upgrade(request, self._websocket, RawWebSocketProtocol, "")
            if _IFRAME_NAME.fullmatch(name):
                if not self._framed_origin_allowed(request):
                    return H.error(request, 403, b"Origin not allowed.")
                return self._iframe_page(request)
        return not_found(request)

    def _session_url(self, request: IRequest, path: List[bytes]) -> Union[bytes, int]:
        server, sid, name = path
        if not server or not sid or b"." in server or b"." in sid:
            return not_found(request)
        transport = name.decode("ascii", "replace")
        if not self.options.serves(transport):
            return not_found(request)
        try:
            # strict: "replace" would make x%FF and x%FE one session
            session_id = sid.decode("utf-8")
        except UnicodeDecodeError:
            return not_found(request)
        if transport in _FRAMED and not self._framed_origin_allowed(request):
            return H.error(request, 403, b"Origin not allowed.")
        if transport == "websocket":
            if self._full():
                return self._too_many_sessions(request)
            return refuse_or_upgrade(request, self._websocket, SockJSWebSocketProtocol, session_id)
        method, allowed = _SESSION_METHODS[transport]
        if request.method == b"OPTIONS":
            H.set_jsessionid(request, self.options.jsessionid)
            return H.preflight(request, allowed, self._restricted)
        if request.method != method:
            return method_not_allowed(request, b"OPTIONS, " + method)
        H.no_cache(request)
        H.cors(request, self._restricted)
        H.set_jsessionid(request, self.options.jsessionid)
        if transport == "xhr_send" or transport == "jsonp_send":
            return self._send(request, session_id, transport)
        return self._receive(request, session_id, transport)

    # -- receiving -----------------------------------------------------------

    def _receive(self, request: IRequest, session_id: str, transport: str) -> Union[bytes, int]:
        limit = self.options.response_limit
        stall = (self.options.streaming_write_timeout, self.clock)
        try:
            if transport == "xhr":
                make: Callable[[Session], Any] = lambda s: XhrPolling(request, s)
            elif transport == "xhr_streaming":
                make = lambda s: XhrStreaming(request, s, limit, *stall)
            elif transport == "eventsource":
                make = lambda s: EventSource(request, s, limit, *stall)
            elif transport == "htmlfile":
                callback = _callback(request)
                make = lambda s: HtmlFile(request, s, limit, callback, *stall)
            else:
                callback = _callback(request)
                make = lambda s: JsonpPolling(request, s, callback)
        except _CallbackError as e:
            return H.error(request, 500, str(e).encode())
        session = self.sessions.get(session_id)
        if session is None:
            if self._full():
                return self._too_many_sessions(request)
            session = self.new_session(session_id, RequestInfo.from_request(request), transport)
        if transport == "htmlfile":
            self._origins.set_frame_headers(request)
        make(session).start()
        return NOT_DONE_YET

    # -- sending -------------------------------------------------------------

    def _send(self, request: IRequest, session_id: str, transport: str) -> bytes:
        session = self.sessions.get(session_id)
        if session is None:
            return not_found(request)
        limit = self.options.max_body_size
        content = request.content
        if limit is not None and content.seek(0, 2) > limit:
            # read already, in a Site without SockJSRequest: refused all the same
            return H.error(request, 413, b"Request body too large.")
        content.seek(0)
        body: bytes = content.read()
        counters = self.hub.counters
        counters.bytes_in += len(body)
        try:
            if transport == "jsonp_send":
                body = _jsonp_payload(request, body)
            messages = parse_messages(body)
        except PayloadError as e:
            counters.broken_json += 1
            return H.error(request, 500, str(e).encode())
        if messages:
            counters.messages_in += len(messages)
            session.deliver(messages)
        request.setHeader(b"content-type", PLAIN)
        if transport == "xhr_send":
            request.setResponseCode(204)
            return b""
        return b"ok"

    # -- sessions cap --------------------------------------------------------

    def _full(self) -> bool:
        cap = self.options.max_sessions
        return cap is not None and len(self.sessions) + len(self.websocket_sessions) >= cap

    def _too_many_sessions(self, request: IRequest) -> bytes:
        self.hub.counters.session_cap += 1
        now = self.clock.seconds()
        if self._last_full_log is None or now - self._last_full_log >= 10.0:
            self._last_full_log = now
            _log.warn(
                "max_sessions={cap} reached: new sessions get 503",
                cap=self.options.max_sessions,
            )
        request.setHeader(b"retry-after", b"5")
        return H.error(request, 503, b"Too many sessions.")


def _callback(request: IRequest) -> bytes:
    """
    The JSONP callback name the client asked for; only names that cannot
    break out of the script they are written into.
    """
    args = request.args
    values = args.get(b"c") or args.get(b"callback")
    if not values or not values[0]:
        raise _CallbackError('"callback" parameter required')
    name: bytes = values[0]
    if not _CALLBACK.fullmatch(name):
        raise _CallbackError('invalid "callback" parameter')
    return name


def _jsonp_payload(request: IRequest, body: bytes) -> bytes:
    content_type = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != _FORM:
        return body
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BrokenJSON() from None
    values = form.get("d")
    if not values or not values[0]:
        raise PayloadExpected()
    return values[0].encode("utf-8", "surrogatepass")
