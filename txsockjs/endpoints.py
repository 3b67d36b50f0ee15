# -*- test-case-name: tests.test_endpoints -*-
"""
A C{sockjs:} server endpoint: any program that listens on an endpoint
description can listen over SockJS instead::

    sockjs:tcp:8080:interface=127.0.0.1:prefix=/chat
    sockjs:tcp:8080:prefix=/chat:heartbeat_delay=10:raw_websocket=yes
    sockjs:ssl:8443:privateKey=key.pem:certKey=cert.pem:prefix=/chat
    sockjs:unix\\:/run/chat.sock:prefix=/chat

Everything after C{sockjs:} describes the endpoint the HTTP server listens
on, except these keywords, which configure the SockJS endpoint (made from
the table the C{twistd sockjs} flags come from, so both take the same
values):

  - C{prefix}: where the endpoint is mounted (default C{/}, the root);
  - the fields of L{txsockjs.Options}, by name: C{heartbeat_delay},
    C{disconnect_delay}, C{response_limit}, C{websocket}, C{raw_websocket},
    C{jsessionid} (booleans as C{yes}/C{no}, C{true}/C{false}, C{1}/C{0}),
    C{sockjs_url}, C{websocket_write_timeout}, C{encoding}, C{max_queue_size},
    C{max_message_size}, C{streaming_write_timeout} (for these three
    limits C{0} or C{none} turns the limit off),
    C{origins} and C{disabled_transports} (comma-separated; write the
    colons of C{host:port} patterns and origin URLs as C{\\:}),
    C{check_origin} and C{websocket_factory} (dotted names);
  - C{websocket_compression=yes}: accept permessage-deflate;
  - the HTTP limits C{max_body_size}, C{header_timeout}, C{idle_timeout},
    C{max_connections}, C{max_sessions} (C{0} or C{none} turns one off);
  - C{metrics_path}: serve Prometheus metrics there (e.g. C{/metrics});
  - C{shutdown_timeout}: seconds C{stopListening} waits for the clients to
    get the close frame (default 3).

A bad value raises C{ValueError} naming the keyword and what was expected;
an unknown keyword, one that names it and lists the valid ones.

The factory given to C{listen} is served as is: each SockJS session builds
one protocol. C{stopListening()} on the port closes every session with
C{c[1001,"Server shutting down"]} first.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple, cast

from twisted.internet import defer
from twisted.internet.endpoints import quoteStringArgument, serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.web.server import Site
from zope.interface import implementer

from . import _internals
from ._fields import FIELDS, Field, FieldError, build_options, parse_bool
from ._reactor import default_reactor
from ._resource import SockJSResource
from ._tree import build_root
from ._shutdown import DEFAULT_SHUTDOWN_TIMEOUT, close_sessions
from ._shutdown import DEFAULT_SHUTDOWN_TIMEOUT
from ._site import SockJSSite
from .options import Options

__all__ = [
    "SockJSServerEndpoint",
    "SockJSListeningPort",
    "parseStreamServer",
]

#: the keywords the sockjs endpoint takes for itself, besides C{prefix}
_KEYWORDS: Dict[str, Field] = {f.keyword: f for f in FIELDS if f.keyword is not None}


def _parse(field: Field, text: str) -> object:
    """
    The value of a keyword: yes or no for a switch, comma-separated items
    for a field that holds several.

    @raise ValueError: naming the keyword, the value and what was expected.
    """
    texts = [text] if field.collect is None else [t for t in text.split(",") if t.strip()]
    read = parse_bool if field.switch is not None else field.parse
    items = []
    for one in texts:
        try:
            items.append(read(one))
        except FieldError as e:
            raise ValueError(f"sockjs endpoint: {field.keyword}={one!r}: {e}") from None
    return items[0] if field.collect is None else field.collect(items)


@implementer(IListeningPort)
class SockJSListeningPort:
    """
    The port of a L{SockJSServerEndpoint}: the inner endpoint's port, whose
    C{stopListening} first closes the SockJS sessions.

    @ivar port: the inner C{IListeningPort}.
    @ivar site: the C{Site} listening on it.
    @ivar resource: the L{txsockjs.SockJSResource}.
    """

    def __init__(
        self,
        port: IListeningPort,
        site: Site,
        resource: SockJSResource,
        clock: IReactorTime,
        shutdown_timeout: float,
    ) -> None:
        self.port = port
        self.site = site
        self.resource = resource
        self._clock = clock
        self._shutdown_timeout = shutdown_timeout

    def __repr__(self) -> str:
        return f"<SockJSListeningPort {self.port!r}>"

    def startListening(self) -> None:
        return self.port.startListening()

    def stopListening(self) -> defer.Deferred[None]:
        """
        Close every session with C{c[1001,"Server shutting down"]}, give the
        clients up to C{shutdown_timeout} seconds to get it, then stop
        listening.
        """
        d = close_sessions([self.resource], self._clock, self._shutdown_timeout)
        d.addCallback(lambda _: self.port.stopListening())
        return d

    def getHost(self) -> IAddress:
        return self.port.getHost()


@implementer(IStreamServerEndpoint)
class SockJSServerEndpoint:
    """
    Listens with a protocol factory served over SockJS, in a twisted.web
    C{Site}, on another stream server endpoint.
    """

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        prefix: str = "/",
        options: Optional[Options] = None,
        reactor: Optional[IReactorTime] = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        """
        @param endpoint: where the HTTP server listens.
        @param prefix: the path of the SockJS endpoint (C{"/"} for the root).
        @param options: the L{txsockjs.Options} of the endpoint.
        @param reactor: the clock of the sessions (the global reactor by
            default).
        @param shutdown_timeout: the most C{stopListening} waits for the
            clients to get the close frame.
        """
        if reactor is None:
            reactor = default_reactor()
        self.endpoint = endpoint
        self.segments = tuple(s for s in prefix.split("/") if s)
        self.options = options if options is not None else Options()
        self.shutdown_timeout = shutdown_timeout
        self._reactor = reactor

    @property
    def prefix(self) -> str:
        return "/" + "/".join(self.segments)

    def listen(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        resource = SockJSResource(protocolFactory, self.options, reactor=self._reactor)
        root = build_root([(self.segments, resource)])
        site = SockJSSite(
            root,
            self.options,
            factories=[protocolFactory],
            endpoints={self.prefix: resource},
            reactor=self._reactor,
        )
        d = self.endpoint.listen(site)

        def wrap(port: IListeningPort) -> SockJSListeningPort:
            return SockJSListeningPort(
                port, site, resource, self._reactor, self.shutdown_timeout
            )

        return d.addCallback(wrap)


def _unparse(args: Tuple[str, ...], kwargs: Dict[str, str]) -> str:
    if len(args) == 1 and ":" in args[0]:
        # the whole inner description given as one escaped argument
        parts = [args[0]]
    else:
        parts = [quoteStringArgument(str(a)) for a in args]
    parts += [
        f"{quoteStringArgument(str(k))}={quoteStringArgument(str(v))}"
        for k, v in kwargs.items()
    ]
    return ":".join(parts)


def _valid_keywords(args: Tuple[str, ...]) -> List[str]:
    """
    The keywords a C{sockjs:} description takes: its own, then those of the
    inner endpoint when Twisted's parser for it can be inspected.
    """
    own = ["prefix", *_KEYWORDS]
    kind = args[0].split(":", 1)[0] if args else ""
    parser = _internals.server_endpoint_parser(kind)
    inner: List[str] = []
    if parser is not None:
        parameters: Iterable[inspect.Parameter]
        try:
            parameters = inspect.signature(parser).parameters.values()
        except (TypeError, ValueError):
            parameters = ()
        inner = [
            p.name
            for p in parameters
            if p.default is not inspect.Parameter.empty
            and p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
    return own + inner


def parseStreamServer(
    reactor: IReactorTime, *args: str, **kwargs: str
) -> SockJSServerEndpoint:
    """
    The L{SockJSServerEndpoint} a C{sockjs:...} description names.

    @raise ValueError: a keyword has a bad value, or nothing is left to
        describe where to listen.
    """
    prefix = kwargs.pop("prefix", "/")
    values = {
        _KEYWORDS[name].name: _parse(_KEYWORDS[name], kwargs.pop(name))
        for name in list(kwargs)
        if name in _KEYWORDS
    }
    # (a number: what the field's parser made)
    shutdown_timeout = cast(float, values.pop("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT))
    if not args:
        raise ValueError(
            "sockjs endpoint: say where to listen, as in sockjs:tcp:8080:prefix=/chat"
        )
    try:
        options = build_options(values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"sockjs endpoint: {e}") from None
    description = _unparse(args, kwargs)
    try:
        inner = serverFromString(reactor, description)
    except TypeError as e:
        # the inner endpoint's parser refused a keyword: name it, and what
        # would do
        match = re.search(r"keyword argument '([^']+)'", str(e))
        if match is None:
            raise ValueError(f"sockjs endpoint: {description!r}: {e}") from None
        raise ValueError(
            f"sockjs endpoint: unknown keyword {match.group(1)!r}; "
            f"valid: {', '.join(_valid_keywords(args))}"
        ) from None
    return SockJSServerEndpoint(
        inner, prefix, options, reactor=reactor, shutdown_timeout=shutdown_timeout
    )
