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
from typing import Any, Callable, Dict, Optional, Set, Tuple
from urllib.parse import parse_qs, urlsplit

from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.logger import Logger
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from . import headers as H
from .framing import BrokenJSON, PayloadError, PayloadExpected, parse_messages
from .options import Options
from .session import RequestInfo, Session, SessionHub, SessionRegistry, SessionState
from .transports.eventsource import EventSource
from .transports.htmlfile import HtmlFile
from .transports.jsonp import JsonpPolling
from .transports.websocket import (
    RawWebSocketProtocol,
    SockJSWebSocketProtocol,
    make_factory,
    refuse_or_upgrade,
)
from .transports.xhr import XhrPolling, XhrStreaming

__all__ = ["SockJSResource", "SockJSFactory", "Folder"]

_log = Logger()

_GREETING = b"Welcome to SockJS!\n"
_PLAIN = b"text/plain; charset=UTF-8"
_JSON = b"application/json; charset=UTF-8"
_HTML = b"text/html; charset=UTF-8"
_IFRAME_NAME = re.compile(rb"^iframe[0-9A-Za-z_.-]*\.html$")
_CALLBACK = re.compile(rb"^[a-zA-Z0-9_.-]{1,32}$")
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
        self.websocket_sessions: Set[Session] = set()
        self.websocket_factory = make_factory(options.websocket_factory)
        self.hub = SessionHub(
            reactor,
            heartbeat_delay=options.heartbeat_delay,
            disconnect_delay=options.disconnect_delay,
            encoding=options.encoding,
            on_forget=self._forget,
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
        page = _IFRAME_PAGE.format(sockjs_url=html.escape(options.sockjs_url, quote=True))
        self._iframe = page.encode("utf-8")
        self._iframe_etag = b'"' + hashlib.sha256(self._iframe).hexdigest()[:32].encode() + b'"'

    # -- sessions ------------------------------------------------------------

    def new_session(
        self,
        session_id: str,
        info: RequestInfo,
        transport_name: str,
        session_class: type = Session,
        register: bool = True,
    ) -> Session:
        """
        Make the session for a new client, with a protocol of its own.
        """
        protocol = self.factory.buildProtocol(info.peer)
        session = session_class(
            session_id, protocol, self.hub, info, transport_name, timed=register
        )
        if register:
            self.sessions.add(session)
        else:
            self.websocket_sessions.add(session)
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
                return refuse_or_upgrade(
                    request, self, RawWebSocketProtocol, ""
                )
            if _IFRAME_NAME.match(name):
                return self._iframe_page(request)
        return _not_found(request)

    def _session_url(self, request: Any, path: list) -> Any:
        server, sid, name = path
        if not server or not sid or b"." in server or b"." in sid:
            return _not_found(request)
        transport = name.decode("ascii", "replace")
        if not self.options.serves(transport):
            return _not_found(request)
        session_id = sid.decode("utf-8", "replace")
        if transport == "websocket":
            return refuse_or_upgrade(
                request,
                self,
                SockJSWebSocketProtocol,
                session_id,
            )
        method, allowed = _SESSION_METHODS[transport]
        if request.method == b"OPTIONS":
            H.set_jsessionid(request, self.options.jsessionid)
            return H.preflight(request, allowed)
        if request.method != method:
            request.setResponseCode(405)
            request.setHeader(b"allow", b"OPTIONS, " + method)
            request.defaultContentType = None
            return b""
        H.no_cache(request)
        H.cors(request)
        H.set_jsessionid(request, self.options.jsessionid)
        if transport == "xhr_send" or transport == "jsonp_send":
            return self._send(request, session_id, transport)
        return self._receive(request, session_id, transport)

    # -- receiving -----------------------------------------------------------

    def _receive(self, request: Any, session_id: str, transport: str) -> Any:
        limit = self.options.response_limit
        try:
            if transport == "xhr":
                make: Callable[[Session], Any] = lambda s: XhrPolling(request, s)
            elif transport == "xhr_streaming":
                make = lambda s: XhrStreaming(request, s, limit)
            elif transport == "eventsource":
                make = lambda s: EventSource(request, s, limit)
            elif transport == "htmlfile":
                callback = _callback(request)
                make = lambda s: HtmlFile(request, s, limit, callback)
            else:
                callback = _callback(request)
                make = lambda s: JsonpPolling(request, s, callback)
        except _CallbackError as e:
            return H.error(request, 500, str(e).encode())
        session = self.sessions.get(session_id)
        if session is None:
            session = self.new_session(session_id, RequestInfo.from_request(request), transport)
        make(session).start()
        return NOT_DONE_YET

    # -- sending -------------------------------------------------------------

    def _send(self, request: Any, session_id: str, transport: str) -> bytes:
        session = self.sessions.get(session_id)
        if session is None:
            return _not_found(request)
        request.content.seek(0)
        body = request.content.read()
        try:
            if transport == "jsonp_send":
                body = _jsonp_payload(request, body)
            messages = parse_messages(body)
        except PayloadError as e:
            return H.error(request, 500, str(e).encode())
        if messages:
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
            return H.preflight(request, b"OPTIONS, GET")
        if request.method != b"GET":
            return _method_not_allowed(request, b"OPTIONS, GET")
        H.no_cache(request)
        H.cors(request)
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
        request.setHeader(b"etag", self._iframe_etag)
        request.setHeader(b"content-type", _HTML)
        return self._iframe

    # -- origins -------------------------------------------------------------

    def _origin_allowed(self, request: Any) -> bool:
        options = self.options
        if options.check_origin is not None:
            return bool(options.check_origin(request))
        if "*:*" in options.origins:
            return True
        origin = request.getHeader(b"origin")
        if origin is None:
            return True
        return origin_matches(origin.decode("latin-1"), options.origins)


def origin_matches(origin: str, patterns: Any) -> bool:
    """
    Whether an C{Origin} header value matches one of the C{host:port}
    patterns (C{*} matches anything in its part).
    """
    parts = urlsplit(origin)
    if not parts.hostname:
        return False
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    for pattern in patterns:
        host_pattern, _, port_pattern = pattern.rpartition(":")
        if not host_pattern:
            host_pattern, port_pattern = port_pattern, "*"
        if fnmatch.fnmatchcase(parts.hostname, host_pattern) and fnmatch.fnmatchcase(
            str(port), port_pattern
        ):
            return True
    return False


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
    if not _CALLBACK.match(values[0]):
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


class _SockJSSite(Site):
    """
    A Site that starts and stops the application's factory with itself, and
    closes the sessions when it stops.
    """

    sockjs: SockJSResource

    def startFactory(self) -> None:
        Site.startFactory(self)
        self.sockjs.factory.doStart()

    def stopFactory(self) -> None:
        self.sockjs.shutdown()
        self.sockjs.factory.doStop()
        Site.stopFactory(self)


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
    A ready twisted.web C{Site} serving C{factory} over SockJS at C{prefix}
    (C{""} or C{"/"} for the site's root). Listening starts C{factory}
    (C{doStart}); stopping closes every session and stops it.
    """
    resource = SockJSResource(factory, options, reactor)
    segments = [s for s in prefix.strip("/").split("/") if s]
    if not segments:
        site = _SockJSSite(resource)
    else:
        root = Folder()
        node = root
        for segment in segments[:-1]:
            child = Folder()
            node.putChild(segment.encode(), child)
            node = child
        node.putChild(segments[-1].encode(), resource)
        site = _SockJSSite(root)
    site.sockjs = resource  # type: ignore[attr-defined]
    return site
