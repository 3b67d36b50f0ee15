# -*- test-case-name: tests.test_tap -*-
"""
C{twistd sockjs}: serve Twisted protocols over SockJS with no code::

    twistd -n sockjs --handler=pkg.mod.factory --prefix=/echo \\
        --listen=tcp:8080:interface=127.0.0.1

A handler is named by a dotted name, which may be:

  - an C{IProtocolFactory} provider (a factory instance),
  - a C{Factory} subclass (instantiated with no arguments),
  - a C{Protocol} subclass, or any class whose instances provide
    C{IProtocol} (wrapped with C{Factory.forProtocol}),
  - any other callable, called with no arguments, that returns one of the
    above.

Stopping the service (SIGTERM, C{twistd} shutdown) closes every open session
with C{c[1001,"Server shutting down"]} and waits, at most
C{--shutdown-timeout} seconds, for the clients to get that frame before the
ports stop listening. With C{--health=PATH}, stopping first drains: PATH
answers 404 at once and new sessions are served for C{--drain-timeout}
seconds more, so that the load balancer stops sending sessions here first.

C{--broker=redis://HOST:PORT/DB} shares one message bus between processes; a
handler that is a callable taking a C{bus} argument is called with it.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorTime
from twisted.python import usage

from .bus import bus_from_url, parse_broker
from ._handlers import (
    ConfigurationError,
    HandlerError,
    _describe,
    as_factory,
    load_handler,
    load_object,
)
from ._service import (
    SHUTDOWN_CODE,
    SHUTDOWN_REASON,
    SockJSService,
    close_sessions,
    unclosed_sessions,
)
from ._site import SockJSSite
from ._tree import build_root
from .options import TRANSPORTS
from .options import Options as SockJSOptions

__all__ = [
    "ConfigurationError",
    "HandlerError",
    "Options",
    "SockJSService",
    "build_root",
    "build_service",
    "close_sessions",
    "unclosed_sessions",
    "as_factory",
    "load_handler",
    "load_object",
    "makeService",
    "DEFAULT_LISTEN",
    "DEFAULT_PREFIX",
    "SHUTDOWN_CODE",
    "SHUTDOWN_REASON",
]

#: Local only unless told otherwise (--listen tcp:8080 for every interface),
#: as the examples do: a demo started by hand is not exposed to the network.
DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
DEFAULT_PREFIX = "/sockjs"


# -- origins -----------------------------------------------------------------

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _origin_pattern(spec: str) -> str:
    """
    C{host:port} pattern (as C{/info} reports them) for an C{--origin} value,
    which is either such a pattern (C{*:*}, C{example.com:*}) or an origin
    URL (C{https://example.com}, port implied by the scheme).
    """
    spec = spec.strip()
    if "://" in spec:
        parts = urlsplit(spec)
        host = parts.hostname or ""
        if not host:
            raise ValueError(f"--origin {spec!r}: no host in this URL")
        port = str(parts.port) if parts.port else _DEFAULT_PORTS.get(parts.scheme, "*")
        return f"{host}:{port}"
    if spec == "null":
        return spec
    if ":" not in spec:
        return f"{spec}:*"
    return spec


# -- options -----------------------------------------------------------------


_NUMBERS = {
    "heartbeat-delay": (float, "a positive number of seconds"),
    "disconnect-delay": (float, "a positive number of seconds"),
    "websocket-write-timeout": (float, "a number of seconds, 0 for none"),
    "response-limit": (int, "a positive number of bytes"),
    "shutdown-timeout": (float, "a number of seconds, 0 or more"),
    # -- session limits
    "max-queue-size": (int, "a positive number of characters"),
    "drain-timeout": (float, "a number of seconds, 0 or more"),
    "streaming-write-timeout": (float, "a number of seconds, 0 for none"),
    "max-message-size": (int, "a number of bytes, 0 for no limit"),
}

#: numeric flags where 0 is allowed (and, but for the shutdown and drain
#: timeouts, means "none": the option is given as None)
_ZERO_ALLOWED = {
    "shutdown-timeout",
    "drain-timeout",
    "websocket-write-timeout",
    "streaming-write-timeout",
    "max-message-size",
}


def _number(flag: str, value: Any) -> Any:
    kind, expected = _NUMBERS[flag]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not (number >= 0 if flag in _ZERO_ALLOWED else number > 0):
        raise usage.UsageError(f"--{flag} {value!r}: expected {expected}")
    return number


#: the HTTP limit flags: (Options field, type, what is expected); 0 turns
#: a limit off
_HTTP_LIMITS = {
    "max-body-size": ("max_body_size", int, "a number of bytes, 0 for no limit"),
    "header-timeout": ("header_timeout", float, "a number of seconds, 0 for none"),
    "idle-timeout": ("idle_timeout", float, "a number of seconds, 0 for none"),
    "max-connections": ("max_connections", int, "a number of connections, 0 for no limit"),
    "max-sessions": ("max_sessions", int, "a number of sessions, 0 for no limit"),
}


def _http_limit(flag: str, value: Any) -> Any:
    _, kind, expected = _HTTP_LIMITS[flag]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or number != number:
        raise usage.UsageError(f"--{flag} {value!r}: expected {expected}")
    return None if number == 0 else number


def _normalize_prefix(prefix: str) -> Tuple[str, ...]:
    return tuple(segment for segment in prefix.split("/") if segment)


def _show(segments: Tuple[str, ...]) -> str:
    return "/" + "/".join(segments)


class Options(usage.Options):
    """
    The command line of C{twistd sockjs}.

    After parsing, C{self["mounts"]} is a list of C{(segments, dotted_name)}
    with C{segments} a tuple of path segments (empty for the root), and
    C{self["sockjs_options"]} the L{txsockjs.Options} every endpoint uses.
    """

    synopsis = "[options]"
    longdesc = (
        "Serve Twisted protocol factories over SockJS. --handler (at --prefix) "
        "and every --mount PREFIX=NAME name a factory instance, a Factory or "
        "Protocol subclass, or a callable returning a factory, by dotted name. "
        "Each SockJS message reaches the protocol as one dataReceived() call "
        "(UTF-8 bytes), or as text through messageReceived() when it has one; "
        "each transport.write() is one message. The endpoint options apply to "
        "every mount."
    )

    optFlags = [
        ["no-websocket", None, "Do not serve the websocket transports."],
        [
            "raw-websocket",
            None,
            "Also serve PREFIX/websocket, a websocket with no SockJS framing: "
            "every text message is one message.",
        ],
        [
            "jsessionid",
            None,
            "Set a JSESSIONID cookie on session responses (for sticky load "
            "balancers); /info then says cookie_needed.",
        ],
        [
            "websocket-compression",
            None,
            "Accept permessage-deflate on the websocket transports.",
        ],
    ]

    optParameters = [
        [
            "handler",
            None,
            None,
            "Dotted name of the protocol factory served at --prefix.",
        ],
        ["prefix", None, DEFAULT_PREFIX, "Where --handler is mounted."],
        [
            "static",
            None,
            None,
            "A directory served at / beside the endpoints (for the pages).",
        ],
        [
            "heartbeat-delay",
            None,
            None,
            "Seconds between heartbeat frames [default: 25].",
        ],
        [
            "disconnect-delay",
            None,
            None,
            "Seconds a session lives with no receiving connection [default: 5].",
        ],
        [
            "response-limit",
            None,
            None,
            "Bytes a streaming response carries before the client must open "
            "another [default: 131072].",
        ],
        [
            "sockjs-url",
            None,
            None,
            "The sockjs-client script the iframe page loads.",
        ],
        [
            "websocket-write-timeout",
            None,
            None,
            "Seconds a websocket may stay unable to drain its writes (or to "
            "finish closing) before it is aborted; 0 waits for ever "
            "[default: 10].",
        ],
        [
            "streaming-write-timeout",
            None,
            None,
            "Seconds an xhr_streaming, eventsource or htmlfile response may "
            "stay unable to drain its writes before it is aborted; 0 waits "
            "for ever [default: 10].",
        ],
        [
            "max-message-size",
            None,
            None,
            "Largest incoming websocket message or frame, in bytes (SockJS, "
            "raw and hixie-76 websockets); larger ones are closed with 1009; "
            "0 for no limit [default: 1048576].",
        ],
        [
            "encoding",
            None,
            None,
            "Codec between SockJS text and the protocols' bytes [default: "
            "utf-8; latin-1 carries any byte as one character].",
        ],
        [
            "max-queue-size",
            None,
            None,
            "Characters of messages a session may hold for its client; past "
            "half the application's producer is paused, past all the session "
            "closes with 1013 [default: 4194304].",
        ],
        [
            "websocket-factory",
            None,
            None,
            "Dotted name of an Autobahn WebSocketServerFactory (or a callable "
            "returning one) whose protocol options the websockets use.",
        ],
        [
            "check-origin",
            None,
            None,
            "Dotted name of a callable f(request) -> bool; False refuses the "
            "request with 403.",
        ],
        [
            "shutdown-timeout",
            None,
            3.0,
            "Seconds to wait, when stopping, for clients to get the close frame.",
        ],
        # -- HTTP limits (0 turns one off)
        [
            "max-body-size",
            None,
            None,
            "Largest xhr_send/jsonp_send request body in bytes; larger ones get "
            "413 before they are read [default: 2097152].",
        ],
        [
            "header-timeout",
            None,
            None,
            "Seconds a client has, from the first byte of a request, to send "
            "all its headers; slower ones get 408 [default: 20].",
        ],
        [
            "idle-timeout",
            None,
            None,
            "Seconds a keep-alive connection may wait for its next request "
            "[default: 30].",
        ],
        [
            "max-connections",
            None,
            None,
            "Connections held at once; past it the one waiting longest for a "
            "request is closed, or a new one gets 503 when all are busy "
            "[default: the file descriptor limit less a reserve].",
        ],
        [
            "max-sessions",
            None,
            None,
            "Sessions each endpoint holds at once; a new one past it gets 503 "
            "[default: 10000].",
        ],
        [
            "broker",
            None,
            "memory",
            "The message bus shared with the other processes: memory (this "
            "process only) or redis://HOST:PORT/DB. A handler that takes a "
            "`bus` argument is called with it.",
        ],
        [
            "health",
            None,
            None,
            "Serve a health check at this path: 503 until the message bus's "
            "subscriptions are live, 200 while serving, 404 while draining "
            "(for the load balancer).",
        ],
        [
            "metrics",
            None,
            None,
            "Serve Prometheus metrics at this path (e.g. /metrics); needs "
            "prometheus_client (pip install 'txsockjs[metrics]').",
        ],
        [
            "drain-timeout",
            None,
            0.0,
            "Seconds, on SIGTERM, between the health check turning 404 and the "
            "sessions being closed; new sessions are served meanwhile.",
        ],
    ]

    compData = usage.Completions(
        optActions={
            "static": usage.CompleteDirs(descr="directory"),
            "disable-transport": usage.CompleteList(sorted(TRANSPORTS)),
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["mounts"] = []
        self["origins"] = []
        self["disabled_transports"] = []

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse; under twistd (a parent command), a bad value ends the program
        with one line that names it, instead of twistd's page of usage.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            raise SystemExit(
                f"twistd sockjs: {e} (twistd sockjs --help lists the options)"
            ) from None

    def opt_listen(self, description: str) -> None:
        """
        A strports/endpoint description to listen on (tcp:8080,
        ssl:8443:privateKey=key.pem:certKey=cert.pem, unix:/run/s.sock, ...);
        may repeat [default: tcp:8080:interface=127.0.0.1, this machine
        only; tcp:8080 listens on every interface].
        """
        self["listen"].append(description)

    def opt_mount(self, spec: str) -> None:
        """
        PREFIX=NAME: serve the factory NAME at PREFIX; may repeat.
        """
        prefix, sep, dotted = spec.partition("=")
        if not sep or not dotted.strip():
            raise usage.UsageError(
                f"--mount {spec!r}: expected PREFIX=package.module.name"
            )
        self["mounts"].append((_normalize_prefix(prefix), dotted.strip()))

    def opt_origin(self, origin: str) -> None:
        """
        Accept requests only from this origin (https://example.com, or a
        host:port glob like *.example.com:*); may repeat; also what /info
        reports in "origins". Requests with no Origin header always pass;
        --check-origin, when given, decides instead.
        """
        try:
            self["origins"].append(_origin_pattern(origin))
        except ValueError as e:
            raise usage.UsageError(str(e))

    def opt_disable_transport(self, name: str) -> None:
        """
        Do not serve this transport (xhr_streaming, eventsource, ...); may
        repeat.
        """
        known = sorted(TRANSPORTS | {"raw_websocket"})
        if name not in known:
            raise usage.UsageError(
                f"--disable-transport {name!r}: not one of {', '.join(known)}"
            )
        self["disabled_transports"].append(name)

    def postOptions(self) -> None:
        mounts: List[Tuple[Tuple[str, ...], str]] = list(self["mounts"])
        if self["handler"]:
            mounts.insert(
                0, (_normalize_prefix(self["prefix"]), self["handler"].strip())
            )
        if self["health"] is not None:
            health = _normalize_prefix(self["health"])
            if not health:
                raise usage.UsageError("--health: give a path, e.g. /health")
            if any(segments in ((), health) for segments, _ in mounts):
                raise usage.UsageError(
                    f"--health {_show(health)}: a handler is mounted there or at /"
                )
            self["health"] = health
        if self["metrics"] is not None:
            metrics = _normalize_prefix(self["metrics"])
            if not metrics:
                raise usage.UsageError("--metrics: give a path, e.g. /metrics")
            if any(segments == metrics for segments, _ in mounts) or metrics == self["health"]:
                raise usage.UsageError(f"--metrics {_show(metrics)}: already served")
            if importlib.util.find_spec("prometheus_client") is None:
                raise usage.UsageError(
                    "--metrics needs prometheus_client: pip install 'txsockjs[metrics]'"
                )
            self["metrics"] = _show(metrics)
        try:
            parse_broker(self["broker"])
        except ValueError as e:
            raise usage.UsageError(str(e))
        if not mounts:
            raise usage.UsageError(
                "nothing to serve: give --handler=package.module.name or "
                "--mount /prefix=package.module.name"
            )
        seen: Dict[Tuple[str, ...], str] = {}
        for segments, _ in mounts:
            if segments in seen:
                raise usage.UsageError(f"{_show(segments)} is mounted twice")
            for other in seen:
                shorter, longer = sorted((segments, other), key=len)
                if longer[: len(shorter)] == shorter:
                    raise usage.UsageError(
                        f"{_show(longer)} cannot be mounted inside the "
                        f"SockJS endpoint at {_show(shorter)}"
                    )
            seen[segments] = ""
        if self["static"] is not None:
            if not os.path.isdir(self["static"]):
                raise usage.UsageError(
                    f"--static {self['static']!r}: not a directory"
                )
            if () in seen:
                raise usage.UsageError(
                    "--static needs the endpoints under a prefix, not at /"
                )
        self["mounts"] = mounts
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        for flag in _NUMBERS:
            if self[flag] is not None:
                self[flag] = _number(flag, self[flag])
        self["http_limits"] = {
            _HTTP_LIMITS[flag][0]: _http_limit(flag, self[flag])
            for flag in _HTTP_LIMITS
            if self[flag] is not None
        }
        try:
            self["sockjs_options"] = SockJSOptions(**self._sockjs_kwargs())
        except (TypeError, ValueError) as e:
            raise usage.UsageError(str(e))

    def _sockjs_kwargs(self) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = {
            "websocket": not self["no-websocket"],
            "raw_websocket": bool(self["raw-websocket"]),
        }
        if self["jsessionid"]:
            kwargs["jsessionid"] = True
        for flag, field in (
            ("heartbeat-delay", "heartbeat_delay"),
            ("disconnect-delay", "disconnect_delay"),
            ("response-limit", "response_limit"),
            ("sockjs-url", "sockjs_url"),
            ("websocket-write-timeout", "websocket_write_timeout"),
            ("encoding", "encoding"),
            ("max-queue-size", "max_queue_size"),
            ("streaming-write-timeout", "streaming_write_timeout"),
            ("max-message-size", "max_message_size"),
        ):
            if self[flag] is not None:
                kwargs[field] = self[flag]
                if flag in _ZERO_ALLOWED and self[flag] == 0:
                    kwargs[field] = None
        kwargs.update(self["http_limits"])
        if self["metrics"]:
            kwargs["metrics_path"] = self["metrics"]
        if self["origins"]:
            kwargs["origins"] = tuple(self["origins"])
        if self["disabled_transports"]:
            kwargs["disabled_transports"] = frozenset(self["disabled_transports"])
        if self["check-origin"]:
            kwargs["check_origin"] = self._load(
                self["check-origin"], "--check-origin", callable
            )
        factory = None
        if self["websocket-factory"]:
            factory = self._load(
                self["websocket-factory"],
                "--websocket-factory",
                lambda o: hasattr(o, "setProtocolOptions"),
            )
        if self["websocket-compression"]:
            if factory is None:
                from autobahn.twisted.websocket import WebSocketServerFactory

                factory = WebSocketServerFactory()
            factory.setProtocolOptions(perMessageCompressionAccept=_accept_deflate)
        if factory is not None:
            kwargs["websocket_factory"] = factory
        return kwargs

    @staticmethod
    def _load(dotted: str, flag: str, acceptable: Callable[[Any], bool]) -> Any:
        try:
            obj = load_object(dotted, flag)
        except HandlerError as e:
            raise usage.UsageError(str(e))
        if acceptable(obj):
            return obj
        if callable(obj):
            try:
                made = obj()
            except Exception as e:
                raise usage.UsageError(
                    f"{flag} {dotted!r}: calling it raised {type(e).__name__}: {e}"
                )
            if acceptable(made):
                return made
        raise usage.UsageError(f"{flag} {dotted!r}: {_describe(obj)} will not do")


def _one_line_docstrings(options: type) -> None:
    """
    C{usage.Options} shows an C{opt_} method's docstring as it is: make
    each one line.
    """
    for name, method in list(vars(options).items()):
        if name.startswith("opt_") and method.__doc__:
            method.__doc__ = " ".join(method.__doc__.split())


_one_line_docstrings(Options)


def _accept_deflate(offers: Iterable[Any]) -> Any:
    from autobahn.websocket.compress import (
        PerMessageDeflateOffer,
        PerMessageDeflateOfferAccept,
    )

    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def makeService(config: Options) -> SockJSService:
    """
    The service C{twistd sockjs} runs.

    A handler that cannot be loaded ends the program with a one-line message
    and exit status 1.
    """
    try:
        return build_service(config)
    except ConfigurationError as e:
        raise SystemExit(f"twistd sockjs: {e}")


def build_service(
    config: Options, reactor: Optional[IReactorTime] = None
) -> SockJSService:
    """
    Like L{makeService}, but raises L{ConfigurationError} (L{HandlerError}
    for a bad handler) instead of exiting.
    """
    from txsockjs import SockJSResource

    sockjs_options = config["sockjs_options"]
    try:
        bus = bus_from_url(config.get("broker"), reactor)
    except ValueError as e:
        raise ConfigurationError(str(e)) from None
    factories = []
    leaves = []
    resources = {}
    for segments, dotted in config["mounts"]:
        factory = load_handler(dotted, bus)
        resource = SockJSResource(factory, sockjs_options, reactor=reactor)
        factories.append(factory)
        leaves.append((segments, resource))
        resources[_show(segments)] = resource
    health = None
    if config.get("health"):
        from .health import Health

        health = Health(resources.values(), bus=bus)
        leaves.append((config["health"], health))
    site = SockJSSite(
        build_root(leaves, config["static"]),
        sockjs_options,
        factories=factories,
        endpoints=resources,
        reactor=reactor,
    )
    svc = SockJSService(
        site,
        resources,
        shutdown_timeout=config["shutdown-timeout"],
        reactor=reactor,
        bus=bus,
        health=health,
        drain_timeout=config.get("drain-timeout") or 0.0,
    )
    for description in config["listen"]:
        try:
            serverFromString(svc._reactor, description)
        except Exception as e:
            raise ConfigurationError(f"--listen {description!r}: {e}") from None
        svc.listen(description)
    return svc
