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

import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.python import usage
from twisted.web.resource import Resource

from ._fields import FIELDS, OPTION_NAMES, Field, FieldError, build_options
# (HandlerError stays importable from here: build_service raises it)
from ._handlers import ConfigurationError, HandlerError, load_handler
from ._service import SockJSService
from ._site import SockJSSite
from ._tree import build_root
from .bus import bus_from_url, parse_broker
from .health import Health
from .options import TRANSPORTS
from .resource import SockJSResource

__all__ = ["Options", "makeService"]

#: Local only unless told otherwise (--listen tcp:8080 for every interface),
#: as the examples do: a demo started by hand is not exposed to the network.
#: this machine only; a listen backlog of 511 (as Node), not Twisted's 50,
#: which drops connections when thousands reconnect at once after a restart
DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1:backlog=511"
DEFAULT_PREFIX = "/sockjs"

_Segments = Tuple[str, ...]


def _normalize_prefix(prefix: str) -> _Segments:
    return tuple(segment for segment in prefix.split("/") if segment)


def _show(segments: _Segments) -> str:
    return "/" + "/".join(segments)


def _parse(field: Field, text: str) -> object:
    try:
        return field.parse(text)
    except FieldError as e:
        raise usage.UsageError(f"--{field.flag} {text!r}: {e}") from None


class Options(usage.Options):
    """
    The command line of C{twistd sockjs}.

    After parsing, C{self["mounts"]} is a list of C{(segments, dotted_name)}
    with C{segments} a tuple of path segments (empty for the root), and
    C{self["sockjs_options"]} the L{txsockjs.Options} every endpoint uses.
    The endpoint's flags are made from the table in C{txsockjs._fields},
    which makes the C{sockjs:} endpoint keywords too.
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

    optFlags = [[f.flag, None, f.help_text] for f in FIELDS if f.switch is not None]

    optParameters = [
        ["handler", None, None, "Dotted name of the protocol factory served at --prefix."],
        ["prefix", None, DEFAULT_PREFIX, "Where --handler is mounted."],
        ["static", None, None, "A directory served at / beside the endpoints (for the pages)."],
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
        *(
            [f.flag, None, None, f.help_text]
            for f in FIELDS
            if f.switch is None and f.collect is None
        ),
    ]

    compData = usage.Completions(
        optActions={
            "static": usage.CompleteDirs(descr="directory"),
            "disable-transport": usage.CompleteList(sorted(TRANSPORTS)),
        }
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["listen"] = []
        self["mounts"] = []
        for field in FIELDS:
            if field.collect is not None:
                self[field.name] = []

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse; under twistd (a parent command), a bad value ends the program
        with one line that names it, instead of twistd's page of usage.
        """
        try:
            super().parseOptions(options)  # type: ignore[no-untyped-call]
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
        may repeat [default: tcp:8080:interface=127.0.0.1:backlog=511, this
        machine only; tcp:8080 listens on every interface].
        """
        self["listen"].append(description)

    def opt_mount(self, spec: str) -> None:
        """
        PREFIX=NAME: serve the factory NAME at PREFIX; may repeat.
        """
        prefix, sep, dotted = spec.partition("=")
        if not sep or not dotted.strip():
            raise usage.UsageError(f"--mount {spec!r}: expected PREFIX=package.module.name")
        self["mounts"].append((_normalize_prefix(prefix), dotted.strip()))

    def postOptions(self) -> None:
        mounts: List[Tuple[_Segments, str]] = list(self["mounts"])
        if self["handler"]:
            mounts.insert(0, (_normalize_prefix(self["prefix"]), self["handler"].strip()))
        if self["health"] is not None:
            health = _normalize_prefix(self["health"])
            if not health:
                raise usage.UsageError("--health: give a path, e.g. /health")
            if any(segments in ((), health) for segments, _ in mounts):
                raise usage.UsageError(
                    f"--health {_show(health)}: a handler is mounted there or at /"
                )
            self["health"] = health
        try:
            parse_broker(self["broker"])
        except ValueError as e:
            raise usage.UsageError(str(e))
        if not mounts:
            raise usage.UsageError(
                "nothing to serve: give --handler=package.module.name or "
                "--mount /prefix=package.module.name"
            )
        seen: Dict[_Segments, str] = {}
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
                raise usage.UsageError(f"--static {self['static']!r}: not a directory")
            if () in seen:
                raise usage.UsageError("--static needs the endpoints under a prefix, not at /")
        self["mounts"] = mounts
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        values = self._field_values()
        metrics = values.get("metrics_path")
        if isinstance(metrics, str):
            segments = _normalize_prefix(metrics)
            if segments in seen or segments == self["health"]:
                raise usage.UsageError(f"--metrics {metrics}: already served")
        try:
            self["sockjs_options"] = build_options(values)
        except (TypeError, ValueError) as e:
            raise usage.UsageError(str(e))

    def _field_values(self) -> Dict[str, object]:
        """
        The value of every field given on the command line; each flag of a
        server setting (C{--shutdown-timeout}) holds its value afterwards,
        given or default.
        """
        values: Dict[str, object] = {}
        for field in FIELDS:
            if field.switch is not None:
                if self[field.flag]:
                    values[field.name] = field.switch
            elif field.collect is not None:
                if self[field.name]:
                    values[field.name] = field.collect(self[field.name])
            elif self[field.flag] is not None:
                values[field.name] = self[field.flag] = _parse(field, self[field.flag])
            elif field.name not in OPTION_NAMES:
                # a setting of the server: its flag holds its default
                self[field.flag] = field.default_value()
        return values


def _collecting(field: Field) -> Callable[[Options, str], None]:
    def opt(self: Options, text: str) -> None:
        self[field.name].append(_parse(field, text))

    opt.__doc__ = field.help_text
    return opt


for _field in FIELDS:
    if _field.collect is not None:
        setattr(Options, "opt_" + _field.flag.replace("-", "_"), _collecting(_field))


def _one_line_docstrings(options: type) -> None:
    """
    C{usage.Options} shows an C{opt_} method's docstring as it is: make
    each one line.
    """
    for name, method in list(vars(options).items()):
        if name.startswith("opt_") and method.__doc__:
            method.__doc__ = " ".join(method.__doc__.split())


_one_line_docstrings(Options)


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


def build_service(config: Options, reactor: Optional[IReactorTime] = None) -> SockJSService:
    """
    Like L{makeService}, but raises C{ConfigurationError} (C{HandlerError}
    for a bad handler) instead of exiting.
    """
    sockjs_options = config["sockjs_options"]
    try:
        bus = bus_from_url(config.get("broker"), reactor)
    except ValueError as e:
        raise ConfigurationError(str(e)) from None
    factories: List[IProtocolFactory] = []
    leaves: List[Tuple[_Segments, Resource]] = []
    resources: Dict[str, SockJSResource] = {}
    for segments, dotted in config["mounts"]:
        factory = load_handler(dotted, bus)
        resource = SockJSResource(factory, sockjs_options, reactor=reactor)
        factories.append(factory)
        leaves.append((segments, resource))
        resources[_show(segments)] = resource
    health = None
    if config.get("health"):
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
        drain_timeout=config["drain-timeout"],
    )
    for description in config["listen"]:
        try:
            serverFromString(svc._reactor, description)
        except Exception as e:
            raise ConfigurationError(f"--listen {description!r}: {e}") from None
        svc.listen(description)
    return svc
