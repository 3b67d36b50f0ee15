"""
Tests for L{txsockjs.testing}: the in-memory server and client a user tests
a protocol with, on every transport, and the README's example run as written.
"""

from __future__ import annotations

import os
import re
from typing import List

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial import reporter, runner
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

import txsockjs.testing
from txsockjs import Options, SockJSFactory, SockJSResource
from txsockjs._testing_http import dechunk
from txsockjs.testing import Frame, SockJSTestServer, frames_of, parse_frame

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HTTP_TRANSPORTS = ["xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"]
TRANSPORTS = HTTP_TRANSPORTS + ["websocket"]


class Recorder(Protocol):
    """
    Echoes, and keeps what happened to it.
    """

    def __init__(self) -> None:
        self.received: List[str] = []
        self.lost: List[object] = []

    def messageReceived(self, text: str) -> None:
        self.received.append(text)
        self.transport.send(text)

    def connectionLost(self, reason: object = None) -> None:
        self.lost.append(reason)


def serve(**options: object) -> SockJSTestServer:
    return SockJSTestServer.serving(Factory.forProtocol(Recorder), Options(**options))  # type: ignore[arg-type]


class FrameTests(SynchronousTestCase):
    def test_parse_frame(self) -> None:
        self.assertEqual(parse_frame("o"), Frame("o"))
        self.assertEqual(parse_frame("h"), Frame("h"))
        self.assertEqual(parse_frame('a["x","y"]'), Frame("a", ("x", "y")))
        self.assertEqual(parse_frame('c[3000,"Go away!"]'), Frame("c", code=3000, reason="Go away!"))
        for bad in ("", "x", "a[1]", 'a{"a":1}'):
            self.assertRaises(ValueError, parse_frame, bad)

    def test_frames_of_each_transport(self) -> None:
        expected = [Frame("o"), Frame("a", ("50%",)), Frame("h")]
        bodies = {
            "xhr_streaming": b"h" * 2048 + b'\no\na["50%"]\nh\n',
            "eventsource": b'\r\ndata: o\r\n\r\ndata: a["50%25"]\r\n\r\ndata: h\r\n\r\n',
            "htmlfile": b"<html>" + b" " * 1024 + b"\r\n"
            + b'<script>\np("o");\n</script>\r\n'
            + b'<script>\np("a[\\"50%\\"]");\n</script>\r\n'
            + b'<script>\np("h");\n</script>\r\n',
        }
        for transport, body in bodies.items():
            self.assertEqual(frames_of(transport, body), expected, transport)
        self.assertEqual(frames_of("jsonp", b'/**/cb("a[\\"50%\\"]");\r\n'), [expected[1]])
        # an unfinished frame is not a frame yet
        self.assertEqual(frames_of("xhr_streaming", b"h" * 2048 + b"\no\na[\"x"), [Frame("o")])
        self.assertRaises(ValueError, frames_of, "websocket", b"o")


class SessionTests(SynchronousTestCase):
    def test_conversation_on_every_transport(self) -> None:
        """
        Open, send and receive, server close: the same on every transport.
        """
        for transport in TRANSPORTS:
            server = serve()
            client = server.open(transport)
            self.assertEqual(client.frames, [Frame("o")], transport)
            client.send("a", "b")
            client.send("c")
            self.assertEqual(client.messages(), ["a", "b", "c"], transport)
            session = client.session
            self.assertIsNotNone(session, transport)
            self.assertEqual(session.protocol.received, ["a", "b", "c"])
            session.close(3001, "done")
            self.assertEqual(client.close_frame, Frame("c", code=3001, reason="done"), transport)
            self.assertFalse(client.connected, transport)

    def test_polling_transports_poll_again(self) -> None:
        for transport in ("xhr", "jsonp"):
            server = serve()
            client = server.open(transport)
            client.send("1")
            client.send("2")
            self.assertEqual(client.messages(), ["1", "2"])
            self.assertEqual(len(client.receiving), 4, "one poll per frame (o, a, a), one waiting")
            self.assertTrue(client.connected)

    def test_streams_reconnect_after_the_response_limit(self) -> None:
        server = serve(response_limit=4096)
        client = server.open("xhr_streaming")
        for i in range(40):
            client.send("x" * 128)
        self.assertEqual(client.messages(), ["x" * 128] * 40)
        self.assertEqual(len(client.receiving), 2)
        self.assertTrue(client.receiving[0].finished)
        self.assertFalse(client.receiving[1].finished)

    def test_heartbeats_each_at_its_time(self) -> None:
        """
        C{advance} runs every timer due in the span at its own time, so a
        span of three heartbeat delays gives three heartbeats.
        """
        for transport in HTTP_TRANSPORTS:
            server = serve(heartbeat_delay=2.0)
            client = server.open(transport)
            server.advance(1.9)
            self.assertEqual(client.frames, [Frame("o")], transport)
            server.advance(0.1)
            self.assertEqual(client.frames, [Frame("o"), Frame("h")], transport)
            server.advance(6.0)
            self.assertEqual(client.frames, [Frame("o")] + [Frame("h")] * 4, transport)
            self.assertEqual(server.clock.seconds(), 8.0)

    def test_websocket_heartbeats_are_pings(self) -> None:
        server = serve(heartbeat_delay=1.0)
        client = server.open("websocket")
        server.advance(3.0)
        self.assertEqual(client.pings, 3)
        self.assertEqual(client.frames, [Frame("o")])
        self.assertTrue(client.connected)

    def test_disconnect_delay(self) -> None:
        """
        A client that stops polling: after the disconnect delay the session
        is forgotten and the protocol told.
        """
        for transport in HTTP_TRANSPORTS:
            server = serve(heartbeat_delay=100.0, disconnect_delay=5.0)
            client = server.open(transport)
            protocol = client.session.protocol
            client.reconnect = False
            client.close()
            self.assertEqual(len(protocol.lost), 1, transport)
            self.assertIsNotNone(client.session, "kept for the disconnect delay")
            server.advance(4.9)
            self.assertIsNotNone(client.session, transport)
            server.advance(0.1)
            self.assertIsNone(client.session, transport)
            self.assertEqual(server.clock.getDelayedCalls(), [], transport)
            self.assertEqual(len(protocol.lost), 1, transport)

    def test_client_close_ends_the_websocket_session(self) -> None:
        server = serve()
        client = server.open("websocket")
        protocol = client.session.protocol
        client.close()
        self.assertFalse(client.connected)
        self.assertEqual(len(protocol.lost), 1)
        self.assertEqual(server.resource.open_sessions(), [])

    def test_headers_and_prefix(self) -> None:
        clock = Clock()
        root = Resource()
        root.putChild(b"chat", SockJSResource(Factory.forProtocol(Recorder), Options(jsessionid=True), clock))
        server = SockJSTestServer(root, clock)
        client = server.open("xhr", prefix="/chat", headers={"Cookie": "JSESSIONID=abc"})
        self.assertEqual(client.receiving[0].header("set-cookie").split(";")[0], "JSESSIONID=abc")
        self.assertEqual(client.session.request.cookies, {b"JSESSIONID": b"abc"})


class ServerTests(SynchronousTestCase):
    def test_clock_required(self) -> None:
        self.assertRaises(TypeError, SockJSTestServer, SockJSResource(Factory.forProtocol(Recorder)))
        resource = SockJSResource(Factory.forProtocol(Recorder), None, Clock())
        self.assertIs(SockJSTestServer(resource).clock, resource.clock)

    def test_request_not_done_yet(self) -> None:
        """
        A response the resource keeps open is an unfinished exchange; it
        ends when the server ends it.
        """
        server = serve()
        opened = server.request("POST", "/0/s/xhr")
        self.assertTrue(opened.finished)
        self.assertEqual((opened.code, opened.body), (200, b"o\n"))
        poll = server.request("POST", "/0/s/xhr")
        self.assertFalse(poll.started)
        self.assertFalse(poll.finished)
        sent = server.request("POST", "/0/s/xhr_send", {"Content-Type": "text/plain"}, b'["x"]')
        self.assertEqual(sent.code, 204)
        self.assertTrue(poll.finished)
        self.assertEqual(poll.body, b'a["x"]\n')
        self.assertEqual(poll.header("content-type"), "application/javascript; charset=UTF-8")

    def test_chunks(self) -> None:
        server = serve()
        stream = server.request("POST", "/0/s/xhr_streaming")
        server.request("POST", "/0/s/xhr_send", None, b'["x"]')
        self.assertTrue(stream.chunked)
        self.assertEqual(stream.chunks, [b"h" * 2048 + b"\n", b"o\n", b'a["x"]\n'])
        self.assertFalse(stream.finished)
        stream.abort()
        self.assertTrue(stream.closed)

    def test_time_that_cannot_pass_fails(self) -> None:
        """
        A timer that keeps rescheduling itself fails C{advance} loudly
        rather than hanging it.
        """
        server = serve()

        def again() -> None:
            server.clock.callLater(1e-6, again)

        again()
        self.assertRaises(AssertionError, server.advance, 1.0)

    def test_public_names(self) -> None:
        """
        C{__all__} is what the module promises, no more.
        """
        self.assertEqual(
            sorted(txsockjs.testing.__all__),
            ["Exchange", "Frame", "SockJSTestServer", "TestSession", "frames_of", "parse_frame"],
        )
        for name in txsockjs.testing.__all__:
            self.assertTrue(hasattr(txsockjs.testing, name), name)

    def test_bad_chunk_framing_fails_loudly(self) -> None:
        """
        A chunk not followed by CRLF is bad framing, not a shorter body.
        """
        self.assertEqual(dechunk(b"2\r\nab\r\n1\r\nc"), (b"ab", False, [b"ab"]))
        self.assertEqual(dechunk(b"2\r\nab\r\n0\r\n\r\n"), (b"ab", True, [b"ab"]))
        self.assertRaises(AssertionError, dechunk, b"2\r\nabXY1\r\nc\r\n")


class SiteTests(SynchronousTestCase):
    """
    L{SockJSTestServer.for_site}: a C{Site} made elsewhere, started and
    stopped as a listening port would.
    """

    def test_needs_a_clock(self) -> None:
        site = SockJSFactory(Factory.forProtocol(Recorder))
        self.assertRaises(TypeError, SockJSTestServer.for_site, site)

    def test_serves_the_site_with_its_limits(self) -> None:
        site = SockJSFactory(
            Factory.forProtocol(Recorder), Options(max_body_size=10), prefix="/x", reactor=Clock()
        )
        server = SockJSTestServer.for_site(site)
        self.assertIs(server.site, site)
        client = server.open("xhr", prefix="/x")
        sent = client.send("a" * 50)
        assert sent is not None
        self.assertEqual(sent.code, 413)
        client.send("hi")
        self.assertEqual(client.messages(), ["hi"])

    def test_stop_closes_the_sessions_and_stops_the_factory(self) -> None:
        events: List[str] = []

        class Counting(Factory):
            protocol = Recorder

            def startFactory(self) -> None:
                events.append("start")

            def stopFactory(self) -> None:
                events.append("stop")

        site = SockJSFactory(Counting(), prefix="/", reactor=Clock())
        server = SockJSTestServer.for_site(site)
        self.assertEqual(events, ["start"])
        clients = [server.open(transport) for transport in TRANSPORTS]
        server.stop()
        self.assertEqual(events, ["start", "stop"])
        for client in clients:
            self.assertEqual(
                client.close_frame, Frame("c", code=1001, reason="Server shutting down"), client.transport
            )
        server.stop()
        self.assertEqual(events, ["start", "stop"], "stopped once")


def readme_example() -> str:
    """
    The code block of README.rst's "Testing your protocol" section.
    """
    with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("Testing your protocol\n---", 1)[1]
    block = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", section)
    assert block is not None, "no code block in the section"
    return "\n".join(line[4:] for line in block.group(1).splitlines()) + "\n"


class ReadmeExampleTests(SynchronousTestCase):
    def test_readme_example_passes(self) -> None:
        """
        The README's example test case runs, every test in it passes.
        """
        namespace: dict = {"__name__": "readme_example"}
        exec(compile(readme_example(), "README.rst", "exec"), namespace)
        cases = [
            value
            for value in namespace.values()
            if isinstance(value, type) and issubclass(value, SynchronousTestCase) and value is not SynchronousTestCase
        ]
        self.assertEqual(len(cases), 1)
        suite = runner.TestLoader().loadClass(cases[0])
        result = reporter.TestResult()
        suite.run(result)
        self.assertEqual(result.testsRun, 2)
        self.assertEqual((result.errors, result.failures), ([], []))
