"""
Test your protocol served by txsockjs without sockets and without waiting.

L{SockJSTestServer} runs a real twisted.web L{Site} (real L{Request}s, real
HTTP parsing and chunking) over in-memory connections, with a
L{twisted.internet.task.Clock} for every timer: heartbeats, the disconnect
delay and HTTP timeouts happen when the test advances the clock, never by
waiting. Every call returns once the server has nothing left to do at the
current time, so trial's C{SynchronousTestCase} (or a plain pytest function)
is enough::

    server = SockJSTestServer.serving(Factory.forProtocol(Echo))
    client = server.open("xhr_streaming")
    client.send("hello")
    assert client.messages() == ["hello"]
    server.advance(25)                      # one heartbeat
    assert client.frames[-1].kind == "h"

L{SockJSTestServer.request} and L{SockJSTestServer.connect} give the HTTP
exchange itself (status, headers, chunks, raw bytes) for tests of the wire
format.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, IOPump
from twisted.web.resource import IResource
from twisted.web.server import Site

from .options import Options
from .resource import SockJSResource
from .session import Session

__all__ = [
    "SockJSTestServer",
    "TestSession",
    "Exchange",
    "Frame",
    "parse_frame",
    "frames_of",
]

#: The transports a L{TestSession} can receive on.
RECEIVING = ("xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "websocket")
_POLLING = ("xhr", "jsonp")
_XHR_PRELUDE = b"h" * 2048
_HTMLFILE_FRAME = re.compile(rb"<script>\np\((\".*?\")\);\n</script>\r\n")
_JSONP_FRAME = re.compile(rb"/\*\*/[a-zA-Z0-9_.-]+\((\".*?\")\);\r\n")
_CALLBACK = "cb"


@dataclass(frozen=True)
class Frame:
    """
    One SockJS frame as the client understands it.

    @ivar kind: C{"o"} open, C{"h"} heartbeat, C{"a"} messages, C{"c"} close.
    @ivar messages: the messages of an C{a} frame.
    @ivar code: the code of a C{c} frame.
    @ivar reason: the reason of a C{c} frame.
    """

    kind: str
    messages: Tuple[str, ...] = ()
    code: Optional[int] = None
    reason: Optional[str] = None


def parse_frame(text: str) -> Frame:
    """
    The L{Frame} a SockJS frame's text stands for.

    @raise ValueError: the text is not a SockJS frame.
    """
    if text in ("o", "h"):
        return Frame(text)
    if text.startswith("a"):
        messages = json.loads(text[1:])
        if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
            raise ValueError(f"not a message frame: {text!r}")
        return Frame("a", tuple(messages))
    if text.startswith("c"):
        code, reason = json.loads(text[1:])
        return Frame("c", code=int(code), reason=str(reason))
    raise ValueError(f"not a SockJS frame: {text!r}")


def frames_of(transport: str, body: bytes) -> List[Frame]:
    """
    The frames in the body of a receiving response of C{transport}, as far
    as it arrived (an unfinished last frame is left out).
    """
    texts: List[str] = []
    if transport in ("xhr", "xhr_streaming"):
        lines = body.split(b"\n")[:-1]
        texts = [line.decode("utf-8") for line in lines if line != _XHR_PRELUDE]
    elif transport == "eventsource":
        for event in body.split(b"\r\n\r\n")[:-1]:
            event = event.lstrip(b"\r\n")
            if event.startswith(b"data: "):
                # the server escapes "%" for the client's decodeURI()
                texts.append(event[6:].replace(b"%25", b"%").decode("utf-8"))
    elif transport in ("htmlfile", "jsonp"):
        pattern = _HTMLFILE_FRAME if transport == "htmlfile" else _JSONP_FRAME
        texts = [json.loads(m) for m in pattern.findall(body)]
    else:
        raise ValueError(f"no HTTP framing for transport {transport!r}")
    return [parse_frame(text) for text in texts]


def _dechunk(raw: bytes) -> Tuple[bytes, bool, List[bytes]]:
    chunks: List[bytes] = []
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            return b"".join(chunks), False, chunks
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(chunks), True, chunks
        start = end + 2
        if len(raw) < start + size + 2:
            return b"".join(chunks), False, chunks
        chunks.append(raw[start : start + size])
        pos = start + size + 2


def _request_bytes(
    method: str,
    path: str,
    headers: Optional[Mapping[str, Union[str, Sequence[str]]]],
    body: bytes,
    version: str = "HTTP/1.1",
    close: bool = True,
) -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    names = set()
    for name, value in (headers or {}).items():
        names.add(name.lower())
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{name}: {item}")
    if close and "connection" not in names:
        lines.append("Connection: close")
    if (body or method in ("POST", "PUT")) and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class _Client(Protocol):
    """
    The client side of one in-memory connection: keeps every byte.
    """

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.reason: Optional[Failure] = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.closed = True
        self.reason = reason


class Exchange:
    """
    One client connection to the server and the first response on it, as the
    bytes arrived (it may still be arriving: see L{finished}).

    @ivar data: every byte the server sent on the connection.
    @ivar closed: whether the connection is closed.
    """

    def __init__(self, server: "SockJSTestServer", method: bytes = b"") -> None:
        self._server = server
        self._client = _Client()
        self._method = method
        self._server._connect(self._client)

    # -- the client's side

    def send(self, data: bytes) -> None:
        """
        Write raw bytes to the server (more requests on a kept-alive
        connection, garbage, ...), then let the server answer.
        """
        transport = self._client.transport
        assert transport is not None
        transport.write(data)
        self._server.flush()

    def abort(self) -> None:
        """
        Drop the connection, as a client that goes away does.
        """
        if not self._client.closed:
            self._client.transport.loseConnection()  # type: ignore[union-attr]
            self._server.flush()

    # -- what arrived

    @property
    def data(self) -> bytes:
        return self._client.data

    @property
    def closed(self) -> bool:
        return self._client.closed

    def _head(self) -> Tuple[bytes, bytes]:
        head, sep, rest = self._client.data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"no complete response head yet: {self._client.data[:300]!r}")
        return head, rest

    @property
    def started(self) -> bool:
        """
        Whether the status line and headers arrived.
        """
        return b"\r\n\r\n" in self._client.data

    @property
    def version(self) -> bytes:
        return self._head()[0].split(b" ", 1)[0]

    @property
    def code(self) -> int:
        return int(self._head()[0].split(b" ", 2)[1])

    @property
    def headers(self) -> Dict[str, List[str]]:
        """
        The response headers by lower-case name.
        """
        result: Dict[str, List[str]] = {}
        for line in self._head()[0].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            result.setdefault(name.strip().lower().decode("latin-1"), []).append(
                value.strip().decode("latin-1")
            )
        return result

    def header(self, name: str) -> Optional[str]:
        """
        A response header's values joined with C{", "}, or L{None}.
        """
        values = self.headers.get(name.lower())
        return None if not values else ", ".join(values)

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    @property
    def raw_body(self) -> bytes:
        """
        The bytes after the head, chunk framing included.
        """
        return self._head()[1]

    @property
    def chunks(self) -> List[bytes]:
        """
        The body's chunks as they were sent (one element if not chunked).
        """
        if self.chunked:
            return _dechunk(self.raw_body)[2]
        return [self.raw_body]

    @property
    def body(self) -> bytes:
        """
        The body so far, without chunk framing (and without anything a
        kept-alive connection carried after it).
        """
        if not self.started:
            return b""
        raw = self.raw_body
        if self.chunked:
            return _dechunk(raw)[0]
        length = self.header("content-length")
        return raw if length is None else raw[: int(length)]

    @property
    def finished(self) -> bool:
        """
        Whether the response ended: last chunk, full content length, or the
        connection closed.
        """
        if not self.started:
            return self.closed
        code = self.code
        if self._method == b"HEAD" or code in (204, 304) or 100 <= code < 200:
            return True
        raw = self.raw_body
        if self.chunked:
            return _dechunk(raw)[1] or self.closed
        length = self.header("content-length")
        if length is not None:
            return len(raw) >= int(length)
        return self.closed

    def __repr__(self) -> str:
        return f"<Exchange {self._client.data[:300]!r} closed={self.closed}>"


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
        server: "SockJSTestServer",
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
            server._sessions.append(self)
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
        for resource in self._server._resources():
            session = resource.sessions.get(self.session_id)
            if session is not None and self.path.startswith(self._server._prefix_of(resource)):
                return session
        return None

    # -- what the client does

    def send(self, *messages: str) -> Optional[Exchange]:
        """
        Send messages to the server in one request (one websocket message);
        the sending request's exchange, or L{None} on a websocket.
        """
        payload = json.dumps(list(messages)).encode("utf-8")
        if self._ws is not None:
            self._ws.sendMessage(payload, False)
            self._server.flush()
            return None
        if self.transport in ("jsonp", "htmlfile"):
            from urllib.parse import quote

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
        return self.websocket.pings  # type: ignore[attr-defined,no-any-return]

    def answer_pings(self, answer: bool) -> None:
        """
        Whether the websocket client answers the server's pings.
        """
        self.websocket.answer_pings = answer  # type: ignore[attr-defined]

    # -- inner workings

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
        exchange.send(_request_bytes(method, self.path + suffix, self.headers, b""))

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
        if not last.started or last.code != 200 or self.close_frame is not None:
            self.reconnect = False
            return False
        self._receive()
        return True


class SockJSTestServer:
    """
    A twisted.web L{Site} over in-memory connections, with a clock.

    @ivar clock: the clock of the server's timers; the resources served must
        have been made with it (C{SockJSResource(factory, options, clock)}).
    @ivar site: the L{Site}.
    """

    __test__ = False

    def __init__(self, root: IResource, clock: Optional[Clock] = None) -> None:
        if clock is None:
            clock = getattr(root, "clock", None)
            if not isinstance(clock, Clock):
                raise TypeError(
                    "give the clock the resources were made with: "
                    "SockJSResource(factory, options, clock)"
                )
        self.clock: Clock = clock
        self.site = Site(root, reactor=clock)
        self.site.timeOut = None
        self.site.noisy = False
        self.site.log = lambda request: None  # type: ignore[method-assign]
        self._pumps: List[Tuple[IOPump, Protocol, FakeTransport]] = []
        self._sessions: List[TestSession] = []
        self._port = 40000
        self._reacting = False

    @classmethod
    def serving(
        cls, factory: IProtocolFactory, options: Optional[Options] = None
    ) -> "SockJSTestServer":
        """
        A server with one L{SockJSResource} for C{factory} at its root, on a
        new L{Clock}. The resource is the server's C{resource} attribute.
        """
        clock = Clock()
        resource = SockJSResource(factory, options, clock)
        server = cls(resource, clock)
        server.resource = resource
        return server

    resource: Optional[SockJSResource] = None

    # -- sessions

    def open(
        self,
        transport: str = "xhr_streaming",
        prefix: str = "",
        session_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        websocket_options: Optional[Mapping[str, object]] = None,
    ) -> TestSession:
        """
        Open a session from a new client on C{transport} (any receiving
        transport, C{websocket} included) at the endpoint mounted at
        C{prefix} (C{""} for the site's root).

        @param headers: sent with every request of the session.
        @param websocket_options: the Autobahn client's protocol options
            (C{setProtocolOptions}), e.g. compression offers.
        """
        sid = session_id or uuid.uuid4().hex
        path = f"{prefix.rstrip('/')}/000/{sid}"
        return TestSession(self, transport, path, sid, headers, websocket_options)

    # -- HTTP

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
        Send one request on a new connection and let the server answer as
        far as it does now. With C{close}, C{Connection: close} is sent
        (unless the headers name a C{Connection}).
        """
        return self._send_request(method, path, headers, body, version, close)

    def connect(self) -> Exchange:
        """
        A new connection with nothing sent on it yet (see L{Exchange.send}).
        """
        return Exchange(self)

    def _send_request(
        self,
        method: str,
        path: str,
        headers: Optional[Mapping[str, Union[str, Sequence[str]]]],
        body: bytes,
        version: str = "HTTP/1.1",
        close: bool = True,
    ) -> Exchange:
        exchange = Exchange(self, method.encode("ascii"))
        exchange.send(_request_bytes(method, path, headers, body, version, close))
        return exchange

    # -- time

    def flush(self) -> None:
        """
        Move every byte both ways and run what is due now, until nothing is
        left to do (bounded: a server that never settles fails loudly).
        """
        for _ in range(10000):
            moved = False
            self.clock.advance(0)
            for pump, _, _ in list(self._pumps):
                if pump.pump(advanceClock=False):
                    moved = True
            self._pumps = [p for p in self._pumps if not (p[0].clientIO.disconnected and p[0].serverIO.disconnected)]
            if not moved and not self._reacting:
                self._reacting = True
                try:
                    for session in list(self._sessions):
                        moved = session._react() or moved
                finally:
                    self._reacting = False
            if not moved and not [c for c in self.clock.getDelayedCalls() if c.getTime() <= self.clock.seconds()]:
                return
        raise AssertionError("the server never settled (10000 rounds)")

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass: every timer due in that span runs at its time,
        in order, with the connections flushed after each.
        """
        target = self.clock.seconds() + seconds
        for _ in range(100000):
            self.flush()
            due = [c.getTime() for c in self.clock.getDelayedCalls() if c.getTime() <= target]
            if not due:
                break
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
        else:
            raise AssertionError("timers keep firing; time cannot pass")
        if target > self.clock.seconds():
            self.clock.advance(target - self.clock.seconds())
        self.flush()

    # -- inner workings

    def _connect(self, client: Protocol) -> None:
        self._port += 1
        server_address = IPv4Address("TCP", "127.0.0.1", 8080)
        client_address = IPv4Address("TCP", "127.0.0.1", self._port)
        channel = self.site.buildProtocol(client_address)
        server_transport = FakeTransport(channel, True, server_address, client_address)
        client_transport = FakeTransport(client, False, client_address, server_address)
        channel.makeConnection(server_transport)
        client.makeConnection(client_transport)
        pump = IOPump(client, channel, client_transport, server_transport, False, clock=self.clock)
        self._pumps.append((pump, client, server_transport))

    def _websocket(
        self, path: str, headers: Mapping[str, str], options: Optional[Mapping[str, object]]
    ) -> _WebSocketClient:
        factory = WebSocketClientFactory(
            f"ws://127.0.0.1:8080{path}", reactor=self.clock, headers=dict(headers)
        )
        factory.protocol = _WebSocketClient
        if options:
            factory.setProtocolOptions(**options)
        client = factory.buildProtocol(None)
        self._connect(client)
        self.flush()
        return client

    def _peer_of(self, client: Protocol) -> object:
        for _, c, server_transport in self._pumps:
            if c is client:
                return server_transport.protocol
        return None

    def _resources(self) -> List[SockJSResource]:
        found: List[SockJSResource] = []
        stack = [self.site.resource]
        while stack:
            node = stack.pop()
            if isinstance(node, SockJSResource):
                found.append(node)
            stack.extend(getattr(node, "children", {}).values())
        return found

    def _prefix_of(self, resource: SockJSResource) -> str:
        def walk(node: object, prefix: str) -> Optional[str]:
            if node is resource:
                return prefix
            for name, child in getattr(node, "children", {}).items():
                found = walk(child, prefix + "/" + name.decode("utf-8"))
                if found is not None:
                    return found
            return None

        return walk(self.site.resource, "") or ""
