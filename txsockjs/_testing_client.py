"""
A SockJS client as sockjs-client behaves, over L{txsockjs.testing}'s
in-memory server (the session half of L{txsockjs.testing}).
"""

from __future__ import annotations

import json
from typing import Dict, List, Mapping, Optional, Protocol as _Protocol, Sequence, Tuple, Union
from urllib.parse import quote

from autobahn.twisted.websocket import WebSocketClientProtocol

from ._testing_frames import RECEIVING, Frame, frames_of, parse_frame
from ._testing_http import Connector, Exchange, request_bytes
from .session import Session

__all__ = ["TestSession", "SessionHost"]

_CALLBACK = "cb"


class _WebSocketClient(WebSocketClientProtocol):
    def __init__(self) -> None:
        WebSocketClientProtocol.__init__(self)
        self.received: List[str] = []
        self.opened = False
        self.close_info: Optional[Tuple[bool, Optional[int], Optional[str]]] = None
        self.pings = 0
        self.answer_pings = True

    def onOpen(self) -> None:
        self.opened = True

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.received.append(payload.decode("utf-8", "surrogatepass"))

    def onPing(self, payload: bytes) -> None:
        self.pings += 1
        if self.answer_pings:
            WebSocketClientProtocol.onPing(self, payload)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        self.close_info = (wasClean, code, reason)


class SessionHost(Connector, _Protocol):
    """
    What a L{TestSession} needs of the in-memory server. (A seam, so that
    this module need not import the server, which imports it.)
    """

    def request(
        self,
        method: str,
        path: str,
        headers: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        close: bool = True,
    ) -> Exchange:
        """
        Send one request on a new connection.
        """
        ...

    def _websocket(
        self, path: str, headers: Mapping[str, str], options: Optional[Mapping[str, object]]
    ) -> "_WebSocketClient":
        """
        A websocket client connected to C{path}, once the handshake is done.
        """
        ...

    def _follow(self, session: "TestSession") -> None:
        """
        Let C{session} start its next receiving request after each flush.
        """
        ...

    def _session_at(self, path: str, session_id: str) -> Optional[Session]:
        """
        The server's session C{session_id} of the endpoint C{path} is under.
        """
        ...

    def _peer_of(self, client: object) -> object:
        """
        The server's protocol on the other end of C{client}'s connection.
        """
        ...


class TestSession:
    """
    A SockJS client on one transport, as sockjs-client behaves: it opens the
    session, keeps a receiving request outstanding (a new poll as soon as one
    ends, a new stream when one reached the response limit) until a close
    frame comes, and sends with C{xhr_send} (C{jsonp_send} for jsonp and
    htmlfile; websocket messages on C{websocket}).

    @ivar transport: the transport's name.
    @ivar session_id: the session's id.
    @ivar path: C{/<prefix>/<server>/<session>}.
    @ivar receiving: the receiving requests made so far, in order.
    @ivar reconnect: whether a new receiving request follows one that ended
        (set to C{False} to let the server's disconnect delay run out).
    """

    __test__ = False  # not a test case, whatever pytest thinks of the name

    def __init__(
        self,
        server: SessionHost,
        transport: str,
        path: str,
        session_id: str,
        headers: Optional[Mapping[str, str]],
        websocket_options: Optional[Mapping[str, object]] = None,
    ) -> None:
        if transport not in RECEIVING:
            raise ValueError(f"not a receiving transport: {transport!r}")
        self.transport = transport
        self.path = path
        self.session_id = session_id
        self.headers: Dict[str, str] = dict(headers or {})
        self.receiving: List[Exchange] = []
        self.reconnect = True
        self._server = server
        self._ws: Optional[_WebSocketClient] = None
        if transport == "websocket":
            self._ws = server._websocket(path + "/websocket", self.headers, websocket_options)
        else:
            server._follow(self)
            self._receive()
        server.flush()

    # -- what the client got

    @property
    def frames(self) -> List[Frame]:
        """
        Every frame received so far, on every receiving request in turn.

        What the server did outside the client's calls (your protocol's
        C{transport.send} from a timer, C{session.close()}, ...) is flushed
        first, so that the answer is what the client got by now.
        """
        self._server.flush()
        return self._received()

    def _received(self) -> List[Frame]:
        if self._ws is not None:
            return [parse_frame(text) for text in self._ws.received]
        frames: List[Frame] = []
        for exchange in self.receiving:
            if exchange.started:
                frames.extend(frames_of(self.transport, exchange.body))
        return frames

    def messages(self) -> List[str]:
        """
        Every message received so far, in order.
        """
        return [m for frame in self.frames if frame.kind == "a" for m in frame.messages]

    @property
    def close_frame(self) -> Optional[Frame]:
        """
        The close frame received, if any.
        """
        for frame in self.frames:
            if frame.kind == "c":
                return frame
        return None

    @property
    def websocket(self) -> WebSocketClientProtocol:
        """
        The Autobahn client protocol (C{websocket} transport only).
        """
        if self._ws is None:
            raise AttributeError("not a websocket session")
        return self._ws

    @property
    def session(self) -> Optional[Session]:
        """
        The server's L{Session} for this client, while the server knows it
        (HTTP transports; a websocket's session is its connection's).
        """
        if self._ws is not None:
            protocol = self._ws_server_protocol()
            return getattr(protocol, "session", None)
        return self._server._session_at(self.path, self.session_id)

    # -- what the client does

    def send(self, *messages: str) -> Optional[Exchange]:
        """
        Send messages to the server in one request (one websocket message);
        the sending request's exchange, or C{None} on a websocket.
        """
        payload = json.dumps(list(messages)).encode("utf-8")
        if self._ws is not None:
            WebSocketClientProtocol.sendMessage(self._ws, payload, False)
            self._server.flush()
            return None
        if self.transport in ("jsonp", "htmlfile"):
            body = b"d=" + quote(payload).encode("ascii")
            headers = {"Content-Type": "application/x-www-form-urlencoded", **self.headers}
            return self._server.request("POST", self.path + "/jsonp_send", headers, body)
        return self._server.request("POST", self.path + "/xhr_send", self.headers, payload)

    def close(self) -> None:
        """
        Go away: abort the receiving request (a websocket sends a close).
        """
        self.reconnect = False
        if self._ws is not None:
            self._ws.sendClose(1000)
            self._server.flush()
            return
        for exchange in self.receiving:
            exchange.abort()

    @property
    def connected(self) -> bool:
        """
        Whether the client still has a connection open to the server (a
        receiving request that did not end, or the websocket).
        """
        self._server.flush()
        if self._ws is not None:
            return self._ws.opened and self._ws.close_info is None
        return any(not (e.finished or e.closed) for e in self.receiving)

    @property
    def pings(self) -> int:
        """
        How many websocket pings (the websocket's heartbeats) arrived.
        """
        return self._websocket_client().pings

    def answer_pings(self, answer: bool) -> None:
        """
        Whether the websocket client answers the server's pings.
        """
        self._websocket_client().answer_pings = answer

    # -- inner workings

    def _websocket_client(self) -> _WebSocketClient:
        if self._ws is None:
            raise AttributeError("not a websocket session")
        return self._ws

    def _ws_server_protocol(self) -> object:
        ws = self._ws
        assert ws is not None
        return self._server._peer_of(ws)

    def _receive(self) -> None:
        method, suffix = {
            "xhr": ("POST", "/xhr"),
            "xhr_streaming": ("POST", "/xhr_streaming"),
            "eventsource": ("GET", "/eventsource"),
            "htmlfile": ("GET", f"/htmlfile?c={_CALLBACK}"),
            "jsonp": ("GET", f"/jsonp?c={_CALLBACK}"),
        }[self.transport]
        exchange = Exchange(self._server, method.encode("ascii"))
        self.receiving.append(exchange)
        exchange.send(request_bytes(method, self.path + suffix, self.headers, b""))

    def _react(self) -> bool:
        """
        After a flush: start the next receiving request if the last one
        ended and the session did not close. Whether it did.
        """
        if not self.reconnect or not self.receiving:
            return False
        last = self.receiving[-1]
        if not (last.finished or last.closed):
            return False
        closed = any(frame.kind == "c" for frame in self._received())
        if not last.started or last.code != 200 or closed:
            self.reconnect = False
            return False
        self._receive()
        return True
