"""
Unit tests of L{txsockjs.client}: frames, the session's byte mapping and
close handling, heartbeat timeouts, transport fallback and xhr send
batching, all driven by a L{Clock} with fake transports or a fake HTTP
layer. The same code against real servers: tests/test_client_live.py.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.internet import defer
from twisted.internet.defer import TimeoutError
from twisted.internet.endpoints import clientFromString
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    ITransport,
)
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.plugin import getPlugins
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web.client import ResponseDone
from zope.interface import implementer
from zope.interface.verify import verifyObject

import txsockjs.client as client
from txsockjs import SessionNotOpen, SessionState
from txsockjs.client import (
    ClientSession,
    ServerInfo,
    SockJSClientEndpoint,
    SockJSCloseDone,
    SockJSConnectError,
    SockJSConnectionLost,
)
from txsockjs.client._connect import check_transports, open_session
from txsockjs.client._frames import FrameError, encode_messages, parse_frame
from txsockjs.client._http import InfoError, parse_info
from txsockjs.client._interfaces import IClientTransport, IFrameSink
from txsockjs.client._websocket import websocket_url
from txsockjs.client._xhr import XHRPollingTransport, XHRStreamingTransport


class ExportTests(unittest.SynchronousTestCase):
    def test_public_names(self) -> None:
        """
        The public names stay importable from txsockjs.client.
        """
        for name in client.__all__:
            self.assertTrue(hasattr(client, name), name)
        self.assertEqual(client.TRANSPORTS, ("websocket", "xhr-streaming", "xhr-polling"))


class FrameTests(unittest.SynchronousTestCase):
    def test_kinds(self) -> None:
        self.assertEqual(parse_frame("o"), ("o", None))
        self.assertEqual(parse_frame("h"), ("h", None))
        self.assertEqual(parse_frame("h" * 2048), ("h", None))
        self.assertEqual(parse_frame('a["x","\\ud800y"]'), ("a", ["x", "\ud800y"]))
        self.assertEqual(parse_frame('m"one"'), ("a", ["one"]))
        self.assertEqual(parse_frame('c[3000,"Go away!"]'), ("c", (3000, "Go away!")))
        self.assertIsNone(parse_frame(""))

    def test_broken(self) -> None:
        for bad in ("x", "a[", 'a"x"', "a[1]", "c[3000]", 'c["3000","x"]', "m[]"):
            self.assertRaises(FrameError, parse_frame, bad)

    def test_encode(self) -> None:
        """
        Outgoing messages are a JSON array in ASCII: lone surrogates and
        every non-ASCII character travel as escapes.
        """
        self.assertEqual(encode_messages(["a", "\ud800", "é\u2028"]), b'["a","\\ud800","\\u00e9\\u2028"]')


class InfoTests(unittest.SynchronousTestCase):
    def test_parse(self) -> None:
        info = parse_info(b'{"websocket":false,"cookie_needed":true,"origins":["*:*"],"entropy":7}')
        self.assertEqual(info, ServerInfo(websocket=False, cookie_needed=True, origins=("*:*",), entropy=7))
        self.assertEqual(parse_info(b"{}"), ServerInfo())

    def test_broken(self) -> None:
        self.assertRaises(InfoError, parse_info, b"Welcome to SockJS!\n")
        self.assertRaises(InfoError, parse_info, b"[1]")


@implementer(IClientTransport)
class FakeTransport:
    """
    A transport under the test's control: it records what the session asks.
    """

    def __init__(self, name: str = "xhr-streaming", url: str = "") -> None:
        self.name = name
        self.url = url
        self.sink: Optional[IFrameSink] = None
        self.sent: List[List[str]] = []
        self.closed: Optional[Tuple[int, str]] = None
        self.aborted = False

    def start(self, sink: IFrameSink) -> None:
        self.sink = sink

    def send(self, messages: List[str]) -> None:
        self.sent.append(list(messages))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.aborted = True

    def frame(self, frame: str) -> None:
        assert self.sink is not None
        self.sink.frame_received(frame)

    def lost(self, code: int = 1006, reason: str = "gone") -> None:
        assert self.sink is not None
        self.sink.transport_lost(code, reason)


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data: List[bytes] = []
        self.reasons: List[Failure] = []

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.reasons.append(reason)


class TextRecorder(Recorder):
    def messageReceived(self, message: str) -> None:
        self.data.append(message)  # type: ignore[arg-type]


class SessionTests(unittest.SynchronousTestCase):
    def open(self, protocol: Optional[Protocol] = None, **kwargs: Any) -> Tuple[ClientSession, FakeTransport, Any]:
        self.clock = Clock()
        transport = FakeTransport()
        session = ClientSession("http://h/echo", "abc", transport, self.clock, **kwargs)
        session.start()
        self.assertIs(transport.sink, session)
        transport.frame("o")
        self.assertIs(self.successResultOf(session.opened), session)
        protocol = protocol if protocol is not None else Recorder()
        session.attach(protocol)
        return session, transport, protocol

    def test_interfaces(self) -> None:
        session, transport, protocol = self.open()
        verifyObject(ITransport, session)
        verifyObject(IFrameSink, session)
        verifyObject(IClientTransport, transport)
        self.assertIs(protocol.transport, session)
        self.assertEqual(session.state, SessionState.OPEN)
        peer = session.getPeer()
        self.assertEqual((peer.url, peer.session_id, peer.transport), ("http://h/echo", "abc", "xhr-streaming"))

    def test_one_data_received_per_message(self) -> None:
        """
        Each message is one dataReceived with its UTF-8 bytes; lone
        surrogates as their surrogatepass bytes.
        """
        session, transport, protocol = self.open()
        transport.frame('a["one","two \\u00e9","\\ud800"]')
        transport.frame("h")
        transport.frame('m"three"')
        self.assertEqual(protocol.data, [b"one", "two é".encode(), b"\xed\xa0\x80", b"three"])

    def test_message_received(self) -> None:
        """
        A protocol with messageReceived gets str.
        """
        session, transport, protocol = self.open(TextRecorder())
        transport.frame('a["x\\udfff","y"]')
        self.assertEqual(protocol.data, ["x\udfff", "y"])

    def test_messages_before_attach_wait(self) -> None:
        clock = Clock()
        transport = FakeTransport()
        session = ClientSession("http://h/echo", "abc", transport, clock)
        session.start()
        transport.frame("o")
        transport.frame('a["early"]')
        protocol = Recorder()
        session.attach(protocol)
        self.assertEqual(protocol.data, [b"early"])

    def test_writes(self) -> None:
        """
        Each write is one message; writeSequence too; send takes str.
        """
        session, transport, protocol = self.open()
        session.write(b"caf\xc3\xa9")
        session.writeSequence([b"a", b"b"])
        session.write(b"\xed\xa0\x80")
        session.send("direct")
        self.assertEqual(transport.sent, [["café"], ["ab"], ["\ud800"], ["direct"]])
        self.assertRaises(TypeError, session.send, b"bytes")

    def test_server_close(self) -> None:
        """
        A close frame closes the transport gently; once it is down the
        protocol gets a SockJSCloseDone (a ConnectionDone) with the code.
        """
        session, transport, protocol = self.open()
        transport.frame('c[3000,"Go away!"]')
        self.assertEqual(transport.closed, (3000, "Go away!"))
        self.assertEqual(session.state, SessionState.CLOSING)
        self.assertRaises(SessionNotOpen, session.send, "late")
        transport.lost(1006, "whatever")
        self.assertEqual(session.state, SessionState.CLOSED)
        [reason] = protocol.reasons
        self.assertTrue(reason.check(SockJSCloseDone))
        self.assertTrue(reason.check(ConnectionDone))
        self.assertEqual((reason.value.code, reason.value.reason), (3000, "Go away!"))
        self.assertIs(self.successResultOf(session.closed), reason.value)

    def test_2010_and_1002(self) -> None:
        """
        c[2010] and c[1002] are not normal closes: SockJSConnectionLost.
        """
        for frame, code in (('c[2010,"Another connection still open"]', 2010), ('c[1002,"Connection interrupted"]', 1002)):
            session, transport, protocol = self.open()
            transport.frame(frame)
            transport.lost()
            [reason] = protocol.reasons
            self.assertTrue(reason.check(SockJSConnectionLost))
            self.assertTrue(reason.check(ConnectionLost))
            self.assertEqual(reason.value.code, code)

    def test_transport_lost(self) -> None:
        session, transport, protocol = self.open()
        transport.lost(1006, "Connection dropped by remote peer")
        [reason] = protocol.reasons
        self.assertTrue(reason.check(SockJSConnectionLost))
        self.assertEqual(str(reason.value), "1006 Connection dropped by remote peer")

    def test_close(self) -> None:
        """
        close() asks the transport to finish; the protocol hears the code
        and reason given; a transport that never finishes is aborted after
        the close timeout.
        """
        session, transport, protocol = self.open(close_timeout=3)
        session.close(4000, "bye")
        self.assertEqual(transport.closed, (4000, "bye"))
        self.assertEqual(session.state, SessionState.CLOSING)
        session.write(b"ignored")
        self.assertEqual(transport.sent, [])
        self.clock.advance(2.9)
        self.assertFalse(transport.aborted)
        self.clock.advance(0.1)
        self.assertTrue(transport.aborted)
        transport.lost()
        [reason] = protocol.reasons
        self.assertEqual((reason.value.code, reason.value.reason), (4000, "bye"))
        self.assertTrue(reason.check(SockJSCloseDone))

    def test_lose_connection(self) -> None:
        session, transport, protocol = self.open()
        session.loseConnection()
        self.assertEqual(transport.closed, (1000, "Normal closure"))
        transport.lost()
        self.assertEqual(protocol.reasons[0].value.code, 1000)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_broken_frame(self) -> None:
        session, transport, protocol = self.open()
        transport.frame("a[broken")
        self.assertTrue(transport.aborted)
        transport.lost()
        self.assertEqual(protocol.reasons[0].value.code, 1002)

    def test_protocol_error_closes(self) -> None:
        class Bad(Recorder):
            def dataReceived(self, data: bytes) -> None:
                raise RuntimeError("boom")

        session, transport, protocol = self.open(Bad())
        transport.frame('a["x","y"]')
        self.assertEqual(transport.closed, (1011, "Internal error"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_heartbeat_timeout(self) -> None:
        """
        With a heartbeat timeout, every frame (heartbeats included) resets
        the watchdog; silence that long closes with 1006.
        """
        session, transport, protocol = self.open(heartbeat_timeout=10)
        for _ in range(3):
            self.clock.advance(9)
            transport.frame("h")
        self.clock.advance(9)
        transport.frame('a["x"]')
        self.clock.advance(9.9)
        self.assertFalse(transport.aborted)
        self.clock.advance(0.1)
        self.assertTrue(transport.aborted)
        transport.lost(1006, "aborted")
        [reason] = protocol.reasons
        self.assertEqual((reason.value.code, reason.value.reason), (1006, "No heartbeat from the server"))

    def test_no_heartbeat_timeout_by_default(self) -> None:
        session, transport, protocol = self.open()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FallbackTests(unittest.SynchronousTestCase):
    """
    The order transports are tried in, and when the client gives up.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.info = defer.Deferred()
        self.made: List[FakeTransport] = []
        self.cleaned = 0

    def make(self, name: str, url: str) -> FakeTransport:
        transport = FakeTransport(name, url)
        self.made.append(transport)
        return transport

    def cleanup(self) -> None:
        self.cleaned += 1

    def connect(self, names: Any = None, timeout: float = 5) -> defer.Deferred:
        return open_session(
            "http://h/echo",
            check_transports(names),
            lambda: self.info,
            self.make,
            self.clock,
            timeout=timeout,
            cleanup=self.cleanup,
        )

    def test_websocket_first(self) -> None:
        d = self.connect()
        self.assertEqual(self.made, [])
        self.info.callback(ServerInfo())
        [ws] = self.made
        self.assertEqual(ws.name, "websocket")
        self.assertRegex(ws.url, r"^http://h/echo/\d{3}/[a-z0-9_]{8}$")
        ws.frame("o")
        session = self.successResultOf(d)
        self.assertEqual(session.transport_name, "websocket")
        self.assertEqual(session.session_id, ws.url.rsplit("/", 1)[1])

    def test_fall_back_in_order(self) -> None:
        """
        A transport that times out or fails before opening gives way to the
        next one, each with a fresh session id.
        """
        d = self.connect(timeout=5)
        self.info.callback(ServerInfo())
        self.clock.advance(4.9)
        self.assertEqual([t.name for t in self.made], ["websocket"])
        self.clock.advance(0.1)
        self.assertTrue(self.made[0].aborted)
        self.assertEqual([t.name for t in self.made], ["websocket", "xhr-streaming"])
        self.made[1].lost(1006, "refused")
        self.assertEqual([t.name for t in self.made], ["websocket", "xhr-streaming", "xhr-polling"])
        self.assertEqual(len({t.url for t in self.made}), 3)
        self.made[2].frame("o")
        session = self.successResultOf(d)
        self.assertEqual(session.transport_name, "xhr-polling")
        # the abandoned attempts end without closing what the session uses
        self.made[0].lost()
        self.assertEqual(self.cleaned, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_info_says_no_websocket(self) -> None:
        d = self.connect()
        self.info.callback(ServerInfo(websocket=False))
        self.assertEqual([t.name for t in self.made], ["xhr-streaming"])
        self.made[0].frame("o")
        self.assertEqual(self.successResultOf(d).transport_name, "xhr-streaming")

    def test_restricted(self) -> None:
        d = self.connect(["xhr-polling", "xhr_streaming"])
        self.info.callback(ServerInfo())
        self.assertEqual([t.name for t in self.made], ["xhr-polling"])
        self.made[0].lost()
        self.assertEqual([t.name for t in self.made], ["xhr-polling", "xhr-streaming"])
        self.made[1].lost()
        failure = self.failureResultOf(d, SockJSConnectError)
        self.assertEqual([name for name, _ in failure.value.attempts], ["xhr-polling", "xhr-streaming"])
        self.assertEqual(self.cleaned, 1)

    def test_only_websocket_but_none(self) -> None:
        d = self.connect(["websocket"])
        self.info.callback(ServerInfo(websocket=False))
        self.assertEqual(self.made, [])
        self.failureResultOf(d, SockJSConnectError)
        self.assertEqual(self.cleaned, 1)

    def test_unknown_transport(self) -> None:
        self.assertRaises(ValueError, check_transports, ["eventsource"])
        self.assertRaises(ValueError, check_transports, [])

    def test_info_timeout(self) -> None:
        d = self.connect(timeout=3)
        self.clock.advance(3)
        failure = self.failureResultOf(d, SockJSConnectError)
        [(step, error)] = failure.value.attempts
        self.assertEqual(step, "info")
        self.assertIsInstance(error, TimeoutError)
        self.assertEqual(self.made, [])

    def test_application_close_before_open(self) -> None:
        """
        A server that answers with an application close code refused us: no
        other transport is tried.
        """
        d = self.connect()
        self.info.callback(ServerInfo())
        self.made[0].frame('c[3000,"Go away!"]')
        failure = self.failureResultOf(d, SockJSCloseDone)
        self.assertEqual(failure.value.code, 3000)
        self.assertEqual(len(self.made), 1)
        self.assertEqual(self.cleaned, 1)

    def test_cancel(self) -> None:
        d = self.connect()
        self.info.callback(ServerInfo())
        d.cancel()
        self.failureResultOf(d, defer.CancelledError)
        self.assertTrue(self.made[0].aborted)
        self.assertEqual(len(self.made), 1)
        self.assertEqual(self.cleaned, 1)

    def test_session_end_cleans_up(self) -> None:
        d = self.connect()
        self.info.callback(ServerInfo())
        self.made[0].frame("o")
        session = self.successResultOf(d)
        session.attach(Recorder())
        session.close()
        self.assertEqual(self.cleaned, 0)
        self.made[0].lost()
        self.assertEqual(self.cleaned, 1)


class FakeResponse:
    def __init__(self, code: int) -> None:
        self.code = code
        self.body: Any = None

    def content(self) -> defer.Deferred:
        return defer.succeed(b"")

    def deliverBody(self, protocol: Protocol) -> None:
        self.body = protocol
        protocol.makeConnection(FakeBodyTransport(protocol))


class FakeBodyTransport:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.stopped = False

    def stopProducing(self) -> None:
        self.stopped = True


class FakeHTTP:
    """
    Records requests; the test answers them.
    """

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, bytes, defer.Deferred]] = []

    def request(self, method: str, url: str, data: bytes = b"", headers: Any = None) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.requests.append((method, url, data, d))
        return d

    def of(self, suffix: str) -> List[Tuple[str, str, bytes, defer.Deferred]]:
        return [r for r in self.requests if r[1].endswith(suffix)]


class XHRTests(unittest.SynchronousTestCase):
    """
    The xhr transports over a fake HTTP layer: receiving loops and send
    batching.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.http = FakeHTTP()
        self.frames: List[str] = []
        self.lost: List[Tuple[int, str]] = []

    def frame_received(self, frame: str) -> None:
        self.frames.append(frame)

    def transport_lost(self, code: int, reason: str) -> None:
        self.lost.append((code, reason))

    def start(self, kind: type = XHRStreamingTransport) -> Any:
        transport = kind("http://h/echo/000/abc", self.http, self.clock)
        transport.start(self)
        return transport

    def respond(self, suffix: str, code: int = 200, index: int = -1) -> FakeResponse:
        response = FakeResponse(code)
        self.http.of(suffix)[index][3].callback(response)
        return response

    def test_streaming_lines(self) -> None:
        """
        Frames are split at line ends, whatever the chunks; the prelude is a
        heartbeat; a response that ends makes the next request.
        """
        self.start()
        [(method, url, _, _)] = self.http.requests
        self.assertEqual((method, url), ("POST", "http://h/echo/000/abc/xhr_streaming"))
        response = self.respond("xhr_streaming")
        response.body.dataReceived(b"h" * 2048 + b"\no\na[\"caf\xc3")
        response.body.dataReceived(b"\xa9\"]\n")
        self.assertEqual(self.frames, ["h" * 2048, "o", 'a["café"]'])
        response.body.connectionLost(Failure(ResponseDone()))
        self.assertEqual(len(self.http.of("xhr_streaming")), 2)
        self.assertEqual(self.lost, [])

    def test_polling_loop(self) -> None:
        self.start(XHRPollingTransport)
        for n in range(3):
            response = self.respond("/xhr")
            response.body.dataReceived(b"h\n")
            response.body.connectionLost(Failure(ResponseDone()))
        self.assertEqual(len(self.http.of("/xhr")), 4)
        self.assertEqual(self.frames, ["h"] * 3)

    def test_receive_errors(self) -> None:
        """
        A refused request, an error status or a cut body end the transport
        with 1006.
        """
        for cause in ("refused", "status", "cut"):
            self.http = FakeHTTP()
            self.lost = []
            self.start()
            if cause == "refused":
                self.http.requests[0][3].errback(Failure(ConnectionRefusedErrorForTest()))
            elif cause == "status":
                self.respond("xhr_streaming", 404)
            else:
                self.respond("xhr_streaming").body.connectionLost(Failure(ConnectionLost()))
            self.assertEqual([code for code, _ in self.lost], [1006], cause)

    def test_send_batching(self) -> None:
        """
        Writes in one reactor turn share one xhr_send; while one is in
        flight, later writes wait and go together, in order.
        """
        transport = self.start()
        transport.send(["a"])
        transport.send(["b", "c"])
        self.assertEqual(self.http.of("xhr_send"), [])
        self.clock.advance(0)
        [first] = self.http.of("xhr_send")
        self.assertEqual(first[2], b'["a","b","c"]')
        transport.send(["d"])
        self.clock.advance(0)
        transport.send(["e"])
        self.clock.advance(1)
        self.assertEqual(len(self.http.of("xhr_send")), 1)
        self.respond("xhr_send", 204, 0)
        sends = self.http.of("xhr_send")
        self.assertEqual([r[2] for r in sends], [b'["a","b","c"]', b'["d","e"]'])
        self.respond("xhr_send", 204, 1)
        self.assertEqual(len(self.http.of("xhr_send")), 2)

    def test_send_error(self) -> None:
        transport = self.start()
        transport.send(["a"])
        self.clock.advance(0)
        self.respond("xhr_send", 404, 0)
        self.assertEqual(len(self.lost), 1)
        self.assertEqual(self.lost[0][0], 1006)
        self.assertIn("Sending error", self.lost[0][1])

    def test_close_after_sends(self) -> None:
        """
        close() lets the pending sends go out first, then stops receiving;
        the transport reports once nothing of it is left.
        """
        transport = self.start()
        response = self.respond("xhr_streaming")
        transport.send(["last"])
        transport.close(1000, "Normal closure")
        [send] = self.http.of("xhr_send")
        self.assertEqual(send[2], b'["last"]')
        self.assertFalse(response.body.transport.stopped)
        self.respond("xhr_send", 204, 0)
        self.assertTrue(response.body.transport.stopped)
        self.assertEqual(self.lost, [])
        response.body.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(len(self.lost), 1)
        self.assertEqual(len(self.http.of("xhr_streaming")), 1)

    def test_abort_cancels(self) -> None:
        transport = self.start()
        transport.send(["x"])
        self.clock.advance(0)
        transport.abort()
        self.assertEqual(len(self.lost), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class ConnectionRefusedErrorForTest(Exception):
    pass


class EndpointTests(unittest.SynchronousTestCase):
    def test_interface(self) -> None:
        endpoint = SockJSClientEndpoint(Clock(), "http://127.0.0.1:8080/echo/", ["xhr-polling"], timeout=3)
        verifyObject(IStreamClientEndpoint, endpoint)
        self.assertEqual(endpoint.url, "http://127.0.0.1:8080/echo")
        self.assertEqual(endpoint.transports, ("xhr-polling",))

    def test_bad_urls(self) -> None:
        for url in ("ws://h/echo", "ftp://h/x", "http:///x", "http://h/echo?x=1"):
            self.assertRaises(ValueError, SockJSClientEndpoint, Clock(), url)

    def test_websocket_url(self) -> None:
        self.assertEqual(websocket_url("http://h:1/e/000/ab"), "ws://h:1/e/000/ab/websocket")
        self.assertEqual(websocket_url("https://h/e/000/ab"), "wss://h/e/000/ab/websocket")

    def test_plugin(self) -> None:
        """
        The sockjs: client parser is found beside the sockjs: server one.
        """
        parsers = [p for p in getPlugins(IStreamClientEndpointStringParserWithReactor) if p.prefix == "sockjs"]
        self.assertEqual(len(parsers), 1)
        endpoint = clientFromString(
            Clock(), "sockjs:https://example.com:8443/chat/room:transports=xhr-polling,websocket:timeout=2.5"
            ":heartbeat_timeout=60"
        )
        self.assertIsInstance(endpoint, SockJSClientEndpoint)
        self.assertEqual(endpoint.url, "https://example.com:8443/chat/room")
        self.assertEqual(endpoint.transports, ("xhr-polling", "websocket"))
        self.assertEqual((endpoint.timeout, endpoint.heartbeat_timeout), (2.5, 60.0))
        self.assertRaises(ValueError, clientFromString, Clock(), "sockjs:http://h/x:colour=red")
        self.assertRaises(ValueError, clientFromString, Clock(), "sockjs:http://h/x:timeout=soon")


class FactoryLifeTests(unittest.SynchronousTestCase):
    def test_failed_connect_stops_factory(self) -> None:
        """
        As with TCP endpoints, the factory is started for the connection
        attempt and stopped when it fails.
        """
        from twisted.internet.protocol import Factory

        class Counting(Factory):
            protocol = Recorder
            starts = stops = 0

            def startFactory(self) -> None:
                self.starts += 1

            def stopFactory(self) -> None:
                self.stops += 1

        # a reactor with no network: /info never answers and times out
        clock = Clock()
        endpoint = SockJSClientEndpoint(clock, "http://127.0.0.1:1/echo", timeout=1)
        factory = Counting()
        d = endpoint.connect(factory)
        self.assertEqual((factory.starts, factory.stops), (1, 0))
        clock.advance(1)
        self.failureResultOf(d, SockJSConnectError)
        self.assertEqual((factory.starts, factory.stops), (1, 1))
