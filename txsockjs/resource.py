"""
L{SockJSResource}: one SockJS endpoint as a twisted.web resource.

Routing happens here, in one place: the greeting, C{/info}, the iframe
page, raw C{/websocket} and the session transports under
C{/<server>/<session>/<transport>}.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
import json
import re
import secrets
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from . import headers as H
from .framing import BrokenJSON, PayloadError, PayloadExpected, parse_messages
from ._origins import DEFAULT_PORTS
from ._site import SockJSSite
from .options import Options
from .session import RequestInfo, Session, SessionHub, SessionRegistry, SessionState
from .transports.eventsource import EventSource
from .transports.htmlfile import HtmlFile
from .transports.jsonp import JsonpPolling
from .transports._seam import WebSocketSeam, WebSocketSessions
from .transports._upgrade import refuse_or_upgrade
from .transports.websocket import RawWebSocketProtocol, SockJSWebSocketProtocol, make_factory
from .transports.xhr import XhrPolling, XhrStreaming

__all__ = ["SockJSResource", "SockJSFactory", "Folder"]

_log = Logger()

_GREETING = b"Welcome to SockJS!\n"
_PLAIN = b"text/plain; charset=UTF-8"
_JSON = b"application/json; charset=UTF-8"
_HTML = b"text/html; charset=UTF-8"
# (fullmatch: "$" would also match before a final newline)
_IFRAME_NAME = re.compile(rb"iframe[0-9A-Za-z_.-]*\.html")
_CALLBACK = re.compile(rb"[a-zA-Z0-9_.-]{1,32}")
# a host:port pattern CSP's frame-ancestors can say as it is
_CSP_HOST = re.compile(r"\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*")
_CSP_PORT = re.compile(r"\*|[0-9]{1,5}")
# the transports a page loads with <script> or in a frame: the browser
# sends no Origin header for them, so their origin is checked by Referer
_FRAMED = frozenset({"htmlfile", "jsonp", "jsonp_send"})
_FORM = b"application/x-www-form-urlencoded"

_IFRAME_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{sockjs_url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""

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
            from twisted.internet import reactor  # type: ignore[no-redef]
        if options is None:
            options = Options()
        elif not isinstance(options, Options):
            raise TypeError("options must be a txsockjs.Options")
        self.factory = factory
        self.options = options
        self.clock: Any = reactor
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
        info = json.dumps(
            {
                "websocket": options.serves("websocket"),
                "cookie_needed": bool(options.jsessionid),
                "origins": list(options.origins),
                "entropy": 0,
            },
            separators=(",", ":"),
        )
        # everything but the entropy, which is fresh for every answer
        self._info_head = info[: info.rindex("0}")].encode()
        # With restricted origins: CORS only for allowed origins, and the
        # pages that run in frames refuse others and say who may frame them.
        self._restricted = options.check_origin is None and "*:*" not in options.origins
        self._frame_headers = _frame_headers(options.origins) if self._restricted else ()
        self._last_full_log: Optional[float] = None
        page = _IFRAME_PAGE.format(sockjs_url=html.escape(options.sockjs_url, quote=True))
        self._iframe = page.encode("utf-8")
        self._iframe_etag = b'"' + hashlib.sha256(self._iframe).hexdigest()[:32].encode() + b'"'

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

    def open_sessions(self) -> list:
        """
        Every session of this endpoint that is open, on any transport.
        """
        return [
            s
            for s in (*self.sessions, *self.websocket_sessions)
            if s.state is SessionState.OPEN
        ]

    def close_all(self, code: int = 1001, reason: str = "Server shutting down") -> None:
        """
        Close every session of this endpoint (for a server shutdown).
        """
        for session in (*self.sessions, *self.websocket_sessions):
            session.close(code, reason)

    def shutdown(self, code: int = 1001, reason: str = "Server shutting down") -> None:
        """
        Close every session, then forget them all at once, leaving no timer
        behind (for a server that stops).
        """
        self.close_all(code, reason)
        for session in (*self.sessions, *self.websocket_sessions):
            session._cancel_timer()
            session._forget()
        self.hub.run_pending()

    # -- routing -------------------------------------------------------------

    def render(self, request: Any) -> Any:
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
                return refuse_or_upgrade(
                    request, self._websocket, RawWebSocketProtocol, ""
                )
            if _IFRAME_NAME.fullmatch(name):
                if not self._framed_origin_allowed(request):
                    return H.error(request, 403, b"Origin not allowed.")
                return self._iframe_page(request)
        return _not_found(request)

    def _session_url(self, request: Any, path: list) -> Any:
        server, sid, name = path
        if not server or not sid or b"." in server or b"." in sid:
            return _not_found(request)
        transport = name.decode("ascii", "replace")
        if not self.options.serves(transport):
            return _not_found(request)
        try:
            # strict: "replace" would make x%FF and x%FE one session
            session_id = sid.decode("utf-8")
        except UnicodeDecodeError:
            return _not_found(request)
        if transport in _FRAMED and not self._framed_origin_allowed(request):
            return H.error(request, 403, b"Origin not allowed.")
        if transport == "websocket":
            if self._full():
                return self._too_many_sessions(request)
            return refuse_or_upgrade(
                request,
                self._websocket,
                SockJSWebSocketProtocol,
                session_id,
            )
        method, allowed = _SESSION_METHODS[transport]
        if request.method == b"OPTIONS":
            H.set_jsessionid(request, self.options.jsessionid)
            return H.preflight(request, allowed, self._restricted)
        if request.method != method:
            request.setResponseCode(405)
            request.setHeader(b"allow", b"OPTIONS, " + method)
            request.defaultContentType = None
            return b""
        H.no_cache(request)
        H.cors(request, self._restricted)
        H.set_jsessionid(request, self.options.jsessionid)
        if transport == "xhr_send" or transport == "jsonp_send":
            return self._send(request, session_id, transport)
        return self._receive(request, session_id, transport)

    # -- receiving -----------------------------------------------------------

    def _receive(self, request: Any, session_id: str, transport: str) -> Any:
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
            self._set_frame_headers(request)
        make(session).start()
        return NOT_DONE_YET

    # -- sending -------------------------------------------------------------

    def _send(self, request: Any, session_id: str, transport: str) -> bytes:
        session = self.sessions.get(session_id)
        if session is None:
            return _not_found(request)
        limit = self.options.max_body_size
        content = request.content
        if limit is not None and content.seek(0, 2) > limit:
            # read already, in a Site without SockJSRequest: refused all the same
            return H.error(request, 413, b"Request body too large.")
        content.seek(0)
        body = content.read()
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
        request.setHeader(b"content-type", _PLAIN)
        if transport == "xhr_send":
            request.setResponseCode(204)
            return b""
        return b"ok"

    # -- static answers ------------------------------------------------------

    def _greeting(self, request: Any) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            return _method_not_allowed(request, b"GET")
        request.setHeader(b"content-type", _PLAIN)
        return _GREETING

    def _info(self, request: Any) -> bytes:
        if request.method == b"OPTIONS":
            return H.preflight(request, b"OPTIONS, GET", self._restricted)
        if request.method != b"GET":
            return _method_not_allowed(request, b"OPTIONS, GET")
        H.no_cache(request)
        H.cors(request, self._restricted)
        request.setHeader(b"content-type", _JSON)
        return self._info_head + b"%d}" % secrets.randbits(32)

    def _iframe_page(self, request: Any) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            return _method_not_allowed(request, b"GET")
        if _etag_matches(request.getHeader(b"if-none-match"), self._iframe_etag):
            request.setResponseCode(304)
            request.defaultContentType = None
            return b""
        H.cache_for_a_year(request)
        self._set_frame_headers(request)
        request.setHeader(b"etag", self._iframe_etag)
        request.setHeader(b"content-type", _HTML)
        return self._iframe

    # -- sessions cap --------------------------------------------------------

    def _full(self) -> bool:
        cap = self.options.max_sessions
        return cap is not None and len(self.sessions) + len(self.websocket_sessions) >= cap

    def _too_many_sessions(self, request: Any) -> bytes:
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

    # -- origins -------------------------------------------------------------

    def _origin_allowed(self, request: Any) -> bool:
        options = self.options
        if options.check_origin is not None:
            return bool(options.check_origin(request))
        if not self._restricted:
            return True
        origin = request.getHeader(b"origin")
        if origin is None:
            return True
        return self._allowed(origin.decode("latin-1"), request)

    def _framed_origin_allowed(self, request: Any) -> bool:
        """
        With restricted origins, the iframe page, C{htmlfile} and JSONP need
        an origin to check: C{Origin}, or else the origin of C{Referer}
        (what a browser sends for frames and scripts); with neither they are
        refused, as Spring refuses them.
        """
        if not self._restricted:
            return True
        origin = request.getHeader(b"origin")
        if origin is None:
            referer = request.getHeader(b"referer")
            if referer is None:
                return False
            try:
                parts = urlsplit(referer.decode("latin-1"))
            except ValueError:
                return False
            if not parts.scheme or not parts.netloc:
                return False
            origin = f"{parts.scheme}://{parts.netloc}".encode("latin-1")
        return self._allowed(origin.decode("latin-1"), request)

    def _allowed(self, origin: str, request: Any) -> bool:
        return origin_matches(origin, self.options.origins) or _same_origin(origin, request)

    def _set_frame_headers(self, request: Any) -> None:
        for name, value in self._frame_headers:
            request.responseHeaders.setRawHeaders(name, [value])


def _origin_host_port(origin: str) -> Optional[Tuple[str, int]]:
    """
    The lower-cased host and the port of an origin (C{scheme://host[:port]}),
    or C{None} when it is malformed (a port past 65535 included).
    """
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    return parts.hostname.lower(), port


def origin_matches(origin: str, patterns: Any) -> bool:
    """
    Whether an C{Origin} header value matches one of the C{host:port}
    patterns (C{*} matches anything in its part; hosts compare without
    regard to case). C{null} matches only a C{null} pattern; a malformed
    origin matches nothing.
    """
    if origin == "null":
        return "null" in patterns
    found = _origin_host_port(origin)
    if found is None:
        return False
    host, port = found
    for pattern in patterns:
        host_pattern, _, port_pattern = pattern.rpartition(":")
        if not host_pattern:
            host_pattern, port_pattern = port_pattern, "*"
        if fnmatch.fnmatchcase(host, host_pattern.lower()) and fnmatch.fnmatchcase(
            str(port), port_pattern
        ):
            return True
    return False


def _same_origin(origin: str, request: Any) -> bool:
    """
    Whether C{origin} is the origin the request was sent to (its C{Host}):
    a server's own pages may always use it.
    """
    found = _origin_host_port(origin)
    host_header = request.getHeader(b"host")
    if found is None or not host_header:
        return False
    scheme = "https" if request.isSecure() else "http"
    own = _origin_host_port(f"{scheme}://{host_header.decode('latin-1')}")
    return own is not None and own == found and origin.lower().startswith(scheme + ":")


def _frame_headers(patterns: Any) -> Tuple[Tuple[bytes, bytes], ...]:
    """
    The headers that let only the allowed origins frame the iframe page and
    C{htmlfile}: CSP C{frame-ancestors} with the patterns it can express
    (others are left out, which refuses them), and C{X-Frame-Options:
    SAMEORIGIN} for browsers without CSP when no other origin may frame.
    """
    sources = ["'self'"]
    for pattern in patterns:
        host, _, port = pattern.lower().rpartition(":")
        if not host:
            host, port = port, "*"
        if _CSP_HOST.fullmatch(host) and _CSP_PORT.fullmatch(port):
            sources.append(f"{host}:{port}")
    headers = [(b"content-security-policy", ("frame-ancestors " + " ".join(sources)).encode())]
    if len(sources) == 1:
        headers.append((b"x-frame-options", b"SAMEORIGIN"))
    return tuple(headers)


def _etag_matches(header: Optional[bytes], etag: bytes) -> bool:
    if not header:
        return False
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag or candidate == b"*":
            return True
    return False


def _callback(request: Any) -> bytes:
    args = request.args
    values = args.get(b"c") or args.get(b"callback")
    if not values or not values[0]:
        raise _CallbackError('"callback" parameter required')
    if not _CALLBACK.fullmatch(values[0]):
        raise _CallbackError('invalid "callback" parameter')
    return values[0]


def _jsonp_payload(request: Any, body: bytes) -> bytes:
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


def _not_found(request: Any) -> bytes:
    return H.error(request, 404, b"Not found.")


def _method_not_allowed(request: Any, allowed: bytes) -> bytes:
    request.setResponseCode(405)
    request.setHeader(b"allow", allowed)
    request.defaultContentType = None
    return b""


class Folder(Resource):
    """
    A node of a resource tree: its children, and 404 for anything else
    (without the deprecated default of C{Resource.getChild}).
    """

    def getChild(self, path: bytes, request: Any) -> Resource:
        return notFound()

    def render(self, request: Any) -> bytes:
        return notFound().render(request)


def SockJSFactory(
    factory: IProtocolFactory,
    options: Optional[Options] = None,
    prefix: str = "/sockjs",
    reactor: Optional[IReactorTime] = None,
) -> Site:
    """
    A ready twisted.web C{Site} (a L{SockJSSite}, with the HTTP limits of
    C{options}) serving C{factory} over SockJS at C{prefix} (C{""} or C{"/"}
    for the site's root). Listening starts C{factory} (C{doStart});
    stopping closes every session and stops it.
    """
    resource = SockJSResource(factory, options, reactor)
    segments = [s for s in prefix.strip("/").split("/") if s]
    # the endpoint label of its metrics
    resource.mount = "/" + "/".join(segments)  # type: ignore[attr-defined]
    root: Resource = resource
    if segments:
        root = Folder()
        node = root
        for segment in segments[:-1]:
            child = Folder()
            node.putChild(segment.encode(), child)
            node = child
        node.putChild(segments[-1].encode(), resource)
    site = SockJSSite(
        root,
        resource.options,
        factories=[factory],
        resources=[resource],
        reactor=reactor,
    )
    site.sockjs = resource  # type: ignore[attr-defined]
    return site
