"""
Tests for the C{sockjs:} server endpoint (L{txsockjs.endpoints}).
"""

from __future__ import annotations

from typing import List

from twisted.internet import defer, error, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint, UNIXServerEndpoint, serverFromString
from twisted.internet.interfaces import IStreamServerEndpoint, IStreamServerEndpointStringParser
from twisted.internet.protocol import Factory
from twisted.plugin import getPlugins
from twisted.protocols.wire import Echo
from twisted.trial import unittest

from txsockjs import Options
from txsockjs.endpoints import SockJSListeningPort, SockJSServerEndpoint, parseStreamServer

from ._helpers import SHUTDOWN_FRAME, HTTPClientMixin, TrackingClock, connect_ws


class ParseTests(unittest.SynchronousTestCase):
    def test_plugin(self) -> None:
        """
        Twisted finds the C{sockjs} endpoint parser.
        """
        parsers = [
            p for p in getPlugins(IStreamServerEndpointStringParser) if p.prefix == "sockjs"
        ]
        self.assertEqual(len(parsers), 1)

    def test_description(self) -> None:
        """
        The txsockjs keywords configure the SockJS endpoint; everything else
        describes the endpoint it listens on.
        """
        endpoint = serverFromString(
            reactor,
            r"sockjs:tcp:8080:interface=127.0.0.1:backlog=7:prefix=/chat/room"
            r":heartbeat_delay=2.5:disconnect_delay=1:response_limit=4096"
            r":websocket=no:raw_websocket=yes:jsessionid=true:encoding=latin-1"
            r":origins=example.com\:443,*.example.org:disabled_transports=jsonp,htmlfile"
            r":sockjs_url=https\://example.com/s.js:websocket_write_timeout=9"
            r":shutdown_timeout=0.5",
        )
        self.assertIsInstance(endpoint, SockJSServerEndpoint)
        self.assertTrue(IStreamServerEndpoint.providedBy(endpoint))
        self.assertEqual(endpoint.prefix, "/chat/room")
        self.assertEqual(endpoint.shutdown_timeout, 0.5)
        self.assertEqual(
            endpoint.options,
            Options(
                heartbeat_delay=2.5,
                disconnect_delay=1,
                response_limit=4096,
                websocket=False,
                raw_websocket=True,
                jsessionid=True,
                encoding="latin-1",
                # a bare host stands for any port, as --origin says it
                origins=("example.com:443", "*.example.org:*"),
                disabled_transports=frozenset({"jsonp", "htmlfile"}),
                sockjs_url="https://example.com/s.js",
                websocket_write_timeout=9,
            ),
        )
        inner = endpoint.endpoint
        self.assertIsInstance(inner, TCP4ServerEndpoint)
        self.assertEqual((inner._port, inner._interface, inner._backlog), (8080, "127.0.0.1", 7))

    def test_max_queue_size(self) -> None:
        endpoint = serverFromString(reactor, "sockjs:tcp:0:max_queue_size=65536")
        self.assertEqual(endpoint.options.max_queue_size, 65536)
        for bad in ("0", "lots"):
            e = self.assertRaises(
                ValueError, serverFromString, reactor, f"sockjs:tcp:0:max_queue_size={bad}"
            )
            self.assertIn("max_queue_size", str(e))

    def test_escaped_inner(self) -> None:
        """
        The inner description may also be one escaped argument.
        """
        endpoint = serverFromString(reactor, r"sockjs:unix\:/tmp/chat.sock:prefix=/chat")
        self.assertIsInstance(endpoint.endpoint, UNIXServerEndpoint)
        self.assertEqual(endpoint.endpoint._address, "/tmp/chat.sock")
        endpoint = serverFromString(reactor, r"sockjs:tcp\:0\:interface\=127.0.0.1")
        self.assertEqual(endpoint.endpoint._interface, "127.0.0.1")
        self.assertEqual(endpoint.prefix, "/")

    def test_bad_values(self) -> None:
        """
        Bad values raise L{ValueError} naming the keyword.
        """
        for description, fragment in [
            ("sockjs:prefix=/x", "where to listen"),
            ("sockjs:tcp:0:heartbeat_delay=soon", "heartbeat_delay"),
            ("sockjs:tcp:0:raw_websocket=perhaps", "raw_websocket"),
            ("sockjs:tcp:0:response_limit=0", "response_limit"),
            ("sockjs:tcp:0:encoding=klingon", "klingon"),
            ("sockjs:tcp:0:max_message_size=big", "max_message_size"),
            ("sockjs:tcp:0:max_message_size=-5", "max_message_size"),
            ("sockjs:tcp:0:streaming_write_timeout=-1", "streaming_write_timeout"),
        ]:
            e = self.assertRaises(ValueError, serverFromString, reactor, description)
            self.assertIn(fragment, str(e))

    def test_limits(self) -> None:
        """
        The websocket and streaming limits by keyword; 0 or none turns one off.
        """
        endpoint = serverFromString(
            reactor,
            "sockjs:tcp:0:max_message_size=4096:streaming_write_timeout=2.5"
            ":websocket_write_timeout=3",
        )
        self.assertEqual(endpoint.options.max_message_size, 4096)
        self.assertEqual(endpoint.options.streaming_write_timeout, 2.5)
        self.assertEqual(endpoint.options.websocket_write_timeout, 3)
        endpoint = serverFromString(
            reactor,
            "sockjs:tcp:0:max_message_size=0:streaming_write_timeout=none"
            ":websocket_write_timeout=0",
        )
        self.assertIsNone(endpoint.options.max_message_size)
        self.assertIsNone(endpoint.options.streaming_write_timeout)
        self.assertIsNone(endpoint.options.websocket_write_timeout)
    def test_unknown_keyword(self) -> None:
        """
        A keyword neither the sockjs endpoint nor the inner one takes is
        named, with the valid ones (sockjs's and the inner endpoint's), in a
        L{ValueError} rather than the parser's C{TypeError}.
        """
        e = self.assertRaises(
            ValueError, serverFromString, reactor, "sockjs:tcp:8085:interface=127.0.0.1:bogus=1"
        )
        message = str(e)
        self.assertIn("unknown keyword 'bogus'", message)
        for valid in ("prefix", "heartbeat_delay", "shutdown_timeout", "interface", "backlog"):
            self.assertIn(valid, message)
        self.assertNotIn("\n", message)

    def test_direct(self) -> None:
        """
        L{parseStreamServer} is the parser itself.
        """
        endpoint = parseStreamServer(reactor, "tcp", "0", prefix="echo")
        self.assertEqual(endpoint.prefix, "/echo")
        self.assertEqual(endpoint.options, Options())


class Counting(Factory):
    protocol = Echo

    def __init__(self) -> None:
        self.events: List[str] = []

    def startFactory(self) -> None:
        self.events.append("start")

    def stopFactory(self) -> None:
        self.events.append("stop")


class ListenTests(HTTPClientMixin, unittest.TestCase):
    timeout = 30

    @defer.inlineCallbacks
    def test_listen_and_stop(self) -> None:
        """
        A factory listening on a C{sockjs:} endpoint is served over SockJS at
        the prefix; stopping the port closes the sessions with 1001 first,
        and the factory is started and stopped with the port.
        """
        factory = Counting()
        # the sessions' timers are cancelled at the end, not waited out
        clock = TrackingClock()
        self.addCleanup(clock.cancel_all)
        endpoint = serverFromString(clock, "sockjs:tcp:0:interface=127.0.0.1:prefix=/echo")
        port = yield endpoint.listen(factory)
        self.assertIsInstance(port, SockJSListeningPort)
        self.assertEqual(factory.events, ["start"])
        number = port.getHost().port
        base = f"http://127.0.0.1:{number}/echo"

        self.assertEqual((yield (yield self.get(base)).text()), "Welcome to SockJS!\n")
        missing = yield self.get(f"http://127.0.0.1:{number}/elsewhere")
        self.assertEqual(missing.code, 404)
        yield missing.content()
        chunks, done = yield self.open_stream(base + "/0/a/xhr_streaming")
        client = yield connect_ws(number, "/echo/0/b/websocket")
        self.assertEqual((yield client.next_message()), "o")
        client.sendMessage(b'["x,y"]')
        self.assertEqual((yield client.next_message()), 'a["x,y"]')

        stopped = port.stopListening()
        self.assertEqual((yield client.next_message()), SHUTDOWN_FRAME)
        yield done
        self.assertTrue(b"".join(chunks).endswith(SHUTDOWN_FRAME.encode() + b"\n"))
        yield stopped
        yield client.closed
        self.assertEqual(factory.events, ["start", "stop"])
        with self.assertRaises(error.ConnectError):
            yield self.get(base)


class HTTPLimitKeywordTests(unittest.SynchronousTestCase):
    def test_keywords(self) -> None:
        """
        The HTTP limits are endpoint keywords; C{0} or C{none} turns one off.
        """
        endpoint = serverFromString(
            reactor,
            "sockjs:tcp:0:interface=127.0.0.1:max_body_size=1024:header_timeout=5"
            ":idle_timeout=0:max_connections=none:max_sessions=7",
        )
        options = endpoint.options
        self.assertEqual(
            (
                options.max_body_size,
                options.header_timeout,
                options.idle_timeout,
                options.max_connections,
                options.max_sessions,
            ),
            (1024, 5.0, None, None, 7),
        )

    def test_bad_keyword_value(self) -> None:
        self.assertRaises(
            ValueError, serverFromString, reactor, "sockjs:tcp:0:max_connections=lots"
        )
