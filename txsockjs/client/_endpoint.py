# -*- test-case-name: tests.test_client -*-
"""
L{SockJSClientEndpoint}: connect any protocol factory to a SockJS URL, as
with TCP, and the C{sockjs:} client endpoint description.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, TypedDict, cast
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.error import NoProtocol
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorTCP,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.python.failure import Failure
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ._connect import check_transports, open_session
from ._http import HTTP
from ._interfaces import IClientTransport
from ._session import ClientSession
from ._websocket import WebSocketTransport
from ._xhr import XHRPollingTransport, XHRStreamingTransport

__all__ = ["SockJSClientEndpoint", "parseStreamClient"]


@implementer(IStreamClientEndpoint)
class SockJSClientEndpoint:
    """
    A SockJS endpoint URL (C{http://host:port/echo}, or C{https://}) as a
    client endpoint: C{connect(factory)} fires with the factory's protocol
    once a session is open, and that protocol's transport is a
    L{ClientSession}.

    @param reactor: the reactor for the network and, unless C{clock} is
        given, for time.
    @param url: the endpoint's base URL (where the server mounted it).
    @param transports: names to try, in order (default: websocket,
        xhr-streaming, xhr-polling); websocket is skipped when C{/info}
        says the server has none.
    @param timeout: seconds for C{/info}, for each transport to open, and
        for a close to finish.
    @param heartbeat_timeout: close with 1006 when nothing (frame,
        heartbeat or websocket ping) comes for this long; C{None}: never.
    @param tls_policy: an C{IPolicyForHTTPS} for https/wss (trust roots,
        client certificates); browser-like checks by default.
    @param headers: extra HTTP headers for every request and the websocket
        handshake (C{Origin}, C{Authorization}, ...).
    @param encoding: the codec between messages and the protocol's bytes.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        url: str,
        transports: Optional[Sequence[str]] = None,
        *,
        timeout: float = 10.0,
        heartbeat_timeout: Optional[float] = None,
        tls_policy: Optional[IPolicyForHTTPS] = None,
        headers: Optional[Dict[str, str]] = None,
        encoding: str = "utf-8",
        clock: Optional[IReactorTime] = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a SockJS URL is http:// or https://, not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"a SockJS URL has no query or fragment: {url!r}")
        self.url = url.rstrip("/")
        self.transports = check_transports(transports)
        self.timeout = float(timeout)
        self.heartbeat_timeout = heartbeat_timeout
        self.tls_policy = tls_policy
        self.headers = dict(headers or {})
        self.encoding = encoding
        self._reactor = reactor
        # a reactor that connects keeps time too (HostnameEndpoint needs both)
        self._clock = clock if clock is not None else cast(IReactorTime, reactor)

    def __repr__(self) -> str:
        return f"<SockJSClientEndpoint {self.url} {','.join(self.transports)}>"

    def open_session(self) -> Deferred[ClientSession]:
        """
        Fires with an open L{ClientSession} that has no protocol yet
        (messages wait until one is attached with C{session.attach}).
        """
        http = HTTP(self._reactor, self.tls_policy, self.timeout, self.headers)

        def make_transport(name: str, session_url: str) -> IClientTransport:
            if name == "websocket":
                headers = dict(self.headers)
                cookie = http.cookie_header(session_url)
                if cookie:
                    headers["Cookie"] = cookie
                return WebSocketTransport(
                    session_url, self._reactor, self.tls_policy, headers, self.timeout, clock=self._clock
                )
            kind = XHRStreamingTransport if name == "xhr-streaming" else XHRPollingTransport
            return kind(session_url, http, self._clock)

        return open_session(
            self.url,
            self.transports,
            lambda: http.info(self.url),
            make_transport,
            self._clock,
            timeout=self.timeout,
            cleanup=http.close,
            heartbeat_timeout=self.heartbeat_timeout,
            close_timeout=self.timeout,
            encoding=self.encoding,
        )

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        """
        Open a session and connect a protocol from C{protocolFactory} to it.
        """

        # as TCP endpoints do: the factory is started for the connection's life
        protocolFactory.doStart()

        def opened(session: ClientSession) -> IProtocol:
            session.closed.addBoth(lambda _: protocolFactory.doStop())
            protocol = protocolFactory.buildProtocol(session.getPeer())
            if protocol is None:
                session.abort()
                raise NoProtocol()
            session.attach(protocol)
            return protocol

        def failed(failure: Failure) -> Failure:
            protocolFactory.doStop()
            return failure

        return self.open_session().addCallbacks(opened, failed)


class _Keywords(TypedDict, total=False):
    transports: List[str]
    timeout: float
    heartbeat_timeout: float
    encoding: str


def _number(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"sockjs client endpoint: {key}={value!r} is not a number") from None


def parseStreamClient(reactor: IReactorTCP, *args: str, **kwargs: str) -> SockJSClientEndpoint:
    """
    C{sockjs:http://127.0.0.1:8080/echo:transports=websocket,xhr-polling:timeout=5}

    The URL's own colons need no escaping: the positional parts are joined
    again. Keywords: C{transports} (comma-separated), C{timeout},
    C{heartbeat_timeout}, C{encoding}.
    """
    if not args:
        raise ValueError("sockjs client endpoint: a URL is needed, e.g. sockjs:http://127.0.0.1:8080/echo")
    url = ":".join(args)
    options: _Keywords = {}
    for key, value in kwargs.items():
        if key == "timeout":
            options["timeout"] = _number(key, value)
        elif key == "heartbeat_timeout":
            options["heartbeat_timeout"] = _number(key, value)
        elif key == "transports":
            options["transports"] = [v for v in value.split(",") if v.strip()]
        elif key == "encoding":
            options["encoding"] = value
        else:
            raise ValueError(f"sockjs client endpoint: unknown keyword {key!r}")
    return SockJSClientEndpoint(reactor, url, **options)
