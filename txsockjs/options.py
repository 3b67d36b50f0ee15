"""
The settings of one SockJS endpoint, validated once when they are made.

The defaults are those of the reference servers (sockjs-node, sockjs-go).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any, Callable, FrozenSet, Optional, Sequence, Union

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.web.iweb import IRequest

__all__ = ["Options", "TRANSPORTS", "DEFAULT_SOCKJS_URL"]

#: The sockjs-client release the iframe page loads unless told otherwise.
DEFAULT_SOCKJS_URL = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

#: Every transport name this server knows (the last segment of a session URL),
#: plus ``raw_websocket`` for the unframed ``/websocket`` endpoint.
TRANSPORTS: FrozenSet[str] = frozenset(
    {
        "websocket",
        "xhr",
        "xhr_send",
        "xhr_streaming",
        "eventsource",
        "htmlfile",
        "jsonp",
        "jsonp_send",
    }
)

#: Characters of outgoing messages one session may hold (4 MiB of ASCII):
#: eight of /amplify's largest (512 KiB) replies, far above what a client
#: that polls leaves waiting, and a bound on what one that never polls costs.
DEFAULT_MAX_QUEUE_SIZE = 4 * 1024 * 1024

#: sets the JSESSIONID cookie itself, given the request
JSessionIdSetter = Callable[[IRequest], object]


def default_max_connections() -> int:
    """
    The default connection cap: the process's file descriptor limit
    (C{RLIMIT_NOFILE}, soft) less a reserve for everything else the process
    opens (an eighth of it, between 64 and 1024), so that connections can
    never use up the descriptors and stop the server from accepting.
    """
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover (not POSIX)
        return 1000
    if soft == resource.RLIM_INFINITY or soft <= 0:
        soft = 1 << 20
    return max(16, soft - max(64, min(soft // 8, 1024)))



@dataclass(frozen=True)
class Options:
    """
    Options of a L{txsockjs.SockJSResource}.

    The site-wide limits (C{header_timeout}, C{idle_timeout},
    C{max_connections}, C{max_body_size}) are those of the L{Options} given
    to the L{txsockjs.SockJSSite}; C{None} turns any of them off.

    @ivar websocket: serve the C{websocket} transport (and say so in C{/info}).
    @ivar raw_websocket: serve C{/websocket}, a websocket with no SockJS framing.
    @ivar jsessionid: C{None}/C{False} for no cookie; C{True} to set
        C{JSESSIONID} (the request's value, or C{dummy}) on every session
        response; or a callable C{f(request)} that sets a cookie itself.
    @ivar sockjs_url: the sockjs-client script the iframe page loads.
    @ivar heartbeat_delay: seconds between heartbeat frames.
    @ivar disconnect_delay: seconds a session lives with no receiver attached.
    @ivar response_limit: bytes a streaming response carries before it ends.
    @ivar websocket_factory: an Autobahn C{WebSocketServerFactory} whose
        protocol options (compression, frame limits, ...) the websocket
        transports use.
    @ivar websocket_write_timeout: seconds a websocket may stay unable to
        drain its writes (or to finish closing) before it is aborted, its
        session ended and its buffers freed; C{None} waits for ever.
    @ivar origins: what C{/info} reports in C{origins}.
    @ivar check_origin: C{f(request) -> bool}; C{False} refuses the request
        with 403.
    @ivar disabled_transports: transport names (see L{TRANSPORTS}) not served.
    @ivar encoding: the codec between SockJS text and a wrapped protocol's bytes.
    @ivar max_queue_size: characters (bytes of ASCII) of messages one session
        may hold for its client; past half of it the application's producer
        is paused, past all of it the session closes with
        C{c[1013,"Queue overflow"]} and its queue is freed. Incoming messages
        held while the protocol paused the session share the same bound.
    @ivar max_body_size: the largest C{xhr_send} / C{jsonp_send} body (any
        request body), in bytes; a larger one gets 413 before it is read
        (in a L{txsockjs.SockJSSite}, or a Site whose request factory is
        L{txsockjs.SockJSRequest}). C{None}: no limit.
    @ivar header_timeout: seconds from the first byte of a request to the
        end of its headers; a slower client gets 408 and is disconnected.
    @ivar idle_timeout: seconds a keep-alive connection may wait for its
        next request (never counted while an answer is open: long polls and
        streams are not idle).
    @ivar max_connections: connections one L{txsockjs.SockJSSite} holds at
        once; past it the connection that waited longest for a request is
        closed, or, when all are busy, the new one gets 503. The default is
        derived from the file descriptor limit (L{default_max_connections}).
    @ivar max_sessions: sessions one endpoint holds at once; a request that
        would open one more gets 503.
    @ivar max_message_size: the largest incoming websocket message (and
        frame) in bytes, on the SockJS, raw and hixie-76 websockets; a larger
        one is refused as soon as its frame header says so, with the close
        code 1009; C{None}: no limit.
    @ivar metrics_path: where the L{txsockjs.SockJSSite} serves its
        figures as Prometheus text (for example C{"/metrics"}); C{None}
        (the default) serves none. Needs prometheus_client (the
        C{txsockjs[metrics]} extra).
    @ivar streaming_write_timeout: seconds a streaming response
        (C{xhr_streaming}, C{eventsource}, C{htmlfile}) may stay unable to
        drain its writes before its connection is aborted and its session
        ends; C{None} waits for ever.
    """

    websocket: bool = True
    raw_websocket: bool = False
    jsessionid: Union[None, bool, JSessionIdSetter] = None
    sockjs_url: str = DEFAULT_SOCKJS_URL
    heartbeat_delay: float = 25.0
    disconnect_delay: float = 5.0
    response_limit: int = 128 * 1024
    websocket_factory: Optional[WebSocketServerFactory] = None
    websocket_write_timeout: Optional[float] = 10.0
    origins: Sequence[str] = ("*:*",)
    check_origin: Optional[Callable[[IRequest], bool]] = None
    disabled_transports: FrozenSet[str] = field(default_factory=frozenset)
    encoding: str = "utf-8"
    # -- session limits
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    # -- HTTP limits
    max_body_size: Optional[int] = 2 * 1024 * 1024
    header_timeout: Optional[float] = 20.0
    idle_timeout: Optional[float] = 30.0
    max_connections: Optional[int] = field(default_factory=default_max_connections)
    max_sessions: Optional[int] = 10_000
    # -- websocket and streaming limits
    max_message_size: Optional[int] = 1024 * 1024
    streaming_write_timeout: Optional[float] = 10.0
    # -- observability
    metrics_path: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ("websocket", "raw_websocket"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Options.{name} must be a bool")
        if not (
            self.jsessionid is None
            or isinstance(self.jsessionid, bool)
            or callable(self.jsessionid)
        ):
            raise TypeError("Options.jsessionid must be None, a bool or a callable")
        if not isinstance(self.sockjs_url, str) or not self.sockjs_url:
            raise ValueError("Options.sockjs_url must be a non-empty string")
        for name in ("heartbeat_delay", "disconnect_delay"):
            _positive(name, getattr(self, name))
        for name in ("websocket_write_timeout", "streaming_write_timeout"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        if self.max_message_size is not None and (
            isinstance(self.max_message_size, bool)
            or not isinstance(self.max_message_size, int)
            or self.max_message_size < 1
        ):
            raise ValueError(
                "Options.max_message_size must be a positive int (bytes) or None"
            )
        if (
            isinstance(self.response_limit, bool)
            or not isinstance(self.response_limit, int)
            or self.response_limit < 1
        ):
            raise ValueError("Options.response_limit must be a positive int")
        if self.websocket_factory is not None and not hasattr(
            self.websocket_factory, "setProtocolOptions"
        ):
            raise TypeError(
                "Options.websocket_factory must be an Autobahn WebSocketServerFactory"
            )
        if isinstance(self.origins, str) or not all(
            isinstance(o, str) for o in self.origins
        ):
            raise TypeError("Options.origins must be a sequence of strings")
        object.__setattr__(self, "origins", tuple(self.origins))
        if self.check_origin is not None and not callable(self.check_origin):
            raise TypeError("Options.check_origin must be callable")
        disabled = frozenset(self.disabled_transports)
        unknown = disabled - TRANSPORTS - {"raw_websocket"}
        if unknown:
            raise ValueError(
                "Options.disabled_transports names unknown transports: "
                + ", ".join(sorted(unknown))
            )
        object.__setattr__(self, "disabled_transports", disabled)
        if (
            isinstance(self.max_queue_size, bool)
            or not isinstance(self.max_queue_size, int)
            or self.max_queue_size < 1
        ):
            raise ValueError("Options.max_queue_size must be a positive int (characters)")
        for name in ("max_body_size", "max_connections", "max_sessions"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"Options.{name} must be a positive int or None")
        for name in ("header_timeout", "idle_timeout"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        if self.metrics_path is not None and (
            not isinstance(self.metrics_path, str)
            or not self.metrics_path.startswith("/")
            or self.metrics_path == "/"
        ):
            raise ValueError('Options.metrics_path must be a path such as "/metrics", or None')
        try:
            codecs.lookup(self.encoding)
        except (LookupError, TypeError):
            raise ValueError(f"Options.encoding names no codec: {self.encoding!r}")

    def serves(self, transport: str) -> bool:
        """
        Whether the named transport is served with these options.
        """
        if transport in self.disabled_transports:
            return False
        if transport == "websocket":
            return self.websocket
        if transport == "raw_websocket":
            return self.websocket and self.raw_websocket
        return transport in TRANSPORTS


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Options.{name} must be a positive number of seconds")
