"""
The websocket client transport: Autobahn's Twisted client on
C{<session url>/websocket}, one SockJS frame per websocket message.
"""

from __future__ import annotations

from typing import Dict, List, Optional, cast
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IReactorTCP,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.python.failure import Failure
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ._frames import encode_messages
from ._interfaces import IClientTransport, IFrameSink

__all__ = ["WebSocketTransport", "websocket_url"]

BROKEN = "WebSocket connection broken"


def websocket_url(session_url: str) -> str:
    """
    C{http://h/echo/000/abc} -> C{ws://h/echo/000/abc/websocket}.
    """
    scheme, rest = session_url.split(":", 1)
    return {"http": "ws", "https": "wss"}[scheme.lower()] + ":" + rest + "/websocket"


class _Protocol(WebSocketClientProtocol):
    owner: "WebSocketTransport"

    def onOpen(self) -> None:
        self.owner._opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.owner._frame(payload.decode("utf-8", "surrogatepass"))

    def onPing(self, payload: bytes) -> None:
        WebSocketClientProtocol.onPing(self, payload)
        self.owner._frame("h")

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        self.owner._closed(self)


@implementer(IClientTransport)
class WebSocketTransport:
    """
    A SockJS session over one websocket.
    """

    name = "websocket"

    def __init__(
        self,
        session_url: str,
        reactor: IReactorTCP,
        tls_policy: Optional[IPolicyForHTTPS] = None,
        headers: Optional[Dict[str, str]] = None,
        connect_timeout: float = 30,
        clock: Optional[IReactorTime] = None,
        close_handshake_timeout: float = 1.0,
    ) -> None:
        self.url = websocket_url(session_url)
        self._reactor = reactor
        self._tls_policy = tls_policy
        self._headers = dict(headers or {})
        self._connect_timeout = connect_timeout
        # a reactor that connects keeps time too (HostnameEndpoint needs both)
        self._clock = clock if clock is not None else cast(IReactorTime, reactor)
        self._close_handshake_timeout = close_handshake_timeout
        self._close_call: Optional[IDelayedCall] = None
        self._sink: Optional[IFrameSink] = None
        self._connecting: Optional[Deferred[IProtocol]] = None
        self._protocol: Optional[_Protocol] = None
        self._open = False
        self._stopping = False
        self._reported = False

    def start(self, sink: IFrameSink) -> None:
        self._sink = sink
        parts = urlsplit(self.url)
        secure = parts.scheme == "wss"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        factory = WebSocketClientFactory(self.url, headers=self._headers or None, reactor=self._reactor)

        class _SessionProtocol(_Protocol):
            pass

        _SessionProtocol.owner = self  # a class per session: its protocol knows it
        factory.protocol = _SessionProtocol
        # The session times the opening; the close handshake is timed here.
        # (Autobahn's own timers are batched and outlive a cancellation.)
        factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0)
        endpoint: IStreamClientEndpoint = HostnameEndpoint(self._reactor, host, port, timeout=self._connect_timeout)
        if secure:
            policy = self._tls_policy or BrowserLikePolicyForHTTPS()
            endpoint = wrapClientTLS(policy.creatorForNetloc(host.encode("idna"), port), endpoint)
        d = self._connecting = endpoint.connect(factory)
        d.addCallbacks(self._connected, self._connect_failed)

    def _connected(self, protocol: IProtocol) -> None:
        # what the factory built (TLS gives back the protocol it wraps)
        assert isinstance(protocol, _Protocol)
        self._connecting = None
        self._protocol = protocol
        if self._stopping:
            protocol.dropConnection(abort=True)

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        self._report(1006, f"{BROKEN} ({failure.getErrorMessage()})")

    def _opened(self, protocol: _Protocol) -> None:
        self._open = True

    def _frame(self, frame: str) -> None:
        if not self._stopping and self._sink is not None:
            self._sink.frame_received(frame)

    def _closed(self, protocol: _Protocol) -> None:
        self._protocol = None
        if self._close_call is not None and self._close_call.active():
            self._close_call.cancel()
        self._close_call = None
        self._report(1006, BROKEN)

    def _report(self, code: int, reason: str) -> None:
        if not self._reported:
            self._reported = True
            assert self._sink is not None
            self._sink.transport_lost(code, reason)

    def send(self, messages: List[str]) -> None:
        if self._protocol is not None and self._open and not self._stopping:
            # Autobahn leaves sendMessage unannotated
            self._protocol.sendMessage(encode_messages(messages))  # type: ignore[no-untyped-call]

    def close(self, code: int = 1000, reason: str = "") -> None:
        """
        A websocket close handshake (Autobahn drops the connection if the
        server does not answer in time).
        """
        if self._stopping:
            return
        self._stopping = True
        if self._protocol is not None and self._open:
            ws_code = code if code == 1000 or 3000 <= code <= 4999 else 1000
            self._protocol.sendClose(ws_code, reason[:120] or None)
            self._close_call = self._clock.callLater(self._close_handshake_timeout, self._stop)
        else:
            self._stop()

    def abort(self) -> None:
        if self._stopping and (self._protocol is None or not self._open):
            return
        self._stopping = True
        self._stop()

    def _stop(self) -> None:
        self._close_call = None
        if self._connecting is not None:
            self._connecting.cancel()
        elif self._protocol is not None:
            self._protocol.dropConnection(abort=True)
