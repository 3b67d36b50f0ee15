"""
End-to-end conformance of the websocket side of the SockJS protocol, over a
real listening port, with Autobahn's Twisted websocket client (and raw TCP
for the handshakes themselves and for hixie-76).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketClientFactory
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone
from twisted.trial import unittest

from txsockjs import Options

from ._helpers import WAIT, CountingWSClient as WSClient, Response, ServerMixin, new_id, sockets_closed
from ._helpers import bounded as _bounded

GO_AWAY = 'c[3000,"Go away!"]'
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _Base(ServerMixin, unittest.TestCase):
    timeout = 30

    @defer.inlineCallbacks
    def ws(self, path: str, expect_open: bool = True) -> Any:
        """
        An Autobahn websocket client connected to C{path}.
        """
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{self.port_number}{path}")
        factory.protocol = WSClient
        factory.setProtocolOptions(openHandshakeTimeout=WAIT, closeHandshakeTimeout=1)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port_number)
        client = yield endpoint.connect(factory)
        self.clients.append(client)
        if expect_open:
            yield _bounded(client.opened)
        return client

    def session_ws(self, endpoint: str = "echo", session: Optional[str] = None) -> Any:
        return self.ws(f"/{endpoint}/000/{session or new_id()}/websocket")

    def upgrade_headers(self, key: Optional[str] = None, **extra: str) -> dict:
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key or base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
            "Origin": "http://example.com",
        }
        headers.update(extra)
        return headers


class SockJSWebSocketTests(_Base):
    @defer.inlineCallbacks
    def test_open_and_echo(self):
        client = yield self.session_ws()
        first = yield client.message(1)
        self.assertEqual(first, "o")
        client.send('["a"]')
        self.assertEqual((yield client.message(2)), 'a["a"]')
        client.send('["b","c"]')
        self.assertEqual((yield client.message(3)), 'a["b","c"]')
        client.send('["\\u2028 </script> \\ud800"]')
        self.assertEqual((yield client.message(4)), 'a["\\u2028 </script> \\ud800"]')

    @defer.inlineCallbacks
    def test_empty_and_empty_array_ignored(self):
        client = yield self.session_ws()
        yield client.message(1)
        client.send("")
        client.send("[]")
        client.send('["x"]')
        self.assertEqual((yield client.message(2)), 'a["x"]')
        # messages are answered in order: nothing came in between if the
        # echo of the next one is the third message
        client.send('["next"]')
        yield client.message(3)
        self.assertEqual(client.messages, ["o", 'a["x"]', 'a["next"]'])

    @defer.inlineCallbacks
    def test_bare_string(self):
        client = yield self.session_ws()
        yield client.message(1)
        client.send('"x"')
        self.assertEqual((yield client.message(2)), 'a["x"]')

    @defer.inlineCallbacks
    def test_broken_json_closes(self):
        for broken in ('["x', "{}", "[1]", "nonsense"):
            client = yield self.session_ws()
            yield client.message(1)
            client.send(broken)
            yield client.wait_end()
            self.assertEqual(client.messages, ["o"], broken)
        # the server is fine
        client = yield self.session_ws()
        yield client.message(1)
        client.send('["fine"]')
        self.assertEqual((yield client.message(2)), 'a["fine"]')

    @defer.inlineCallbacks
    def test_close(self):
        client = yield self.session_ws("close")
        self.assertEqual((yield client.message(1)), "o")
        self.assertEqual((yield client.message(2)), GO_AWAY)
        yield client.wait_end()
        self.assertEqual(client.messages, ["o", GO_AWAY])

    @defer.inlineCallbacks
    def test_same_session_id_twice(self):
        sid = new_id()
        a = yield self.session_ws(session=sid)
        b = yield self.session_ws(session=sid)
        self.assertEqual((yield a.message(1)), "o")
        self.assertEqual((yield b.message(1)), "o")
        a.send('["for a"]')
        b.send('["for b"]')
        self.assertEqual((yield a.message(2)), 'a["for a"]')
        self.assertEqual((yield b.message(2)), 'a["for b"]')
        # nothing crossed over: each one's next echo is its third message
        a.send('["a again"]')
        b.send('["b again"]')
        yield a.message(3)
        yield b.message(3)
        self.assertEqual(a.messages, ["o", 'a["for a"]', 'a["a again"]'])
        self.assertEqual(b.messages, ["o", 'a["for b"]', 'a["b again"]'])

    @defer.inlineCallbacks
    def test_websocket_does_not_touch_http_sessions(self):
        sid = new_id()
        r = yield self.http("POST", f"/echo/000/{sid}/xhr")
        self.assertEqual(r.body, b"o\n")
        client = yield self.session_ws(session=sid)
        self.assertEqual((yield client.message(1)), "o")
        client.send('["ws"]')
        self.assertEqual((yield client.message(2)), 'a["ws"]')
        r = yield self.http("POST", f"/echo/000/{sid}/xhr_send", body=b'["http"]')
        self.assertEqual(r.code, 204)
        r = yield self.http("POST", f"/echo/000/{sid}/xhr")
        self.assertEqual(r.body, b'a["http"]\n')

    @defer.inlineCallbacks
    def test_broadcast_reaches_websockets_and_http(self):
        a = yield self.session_ws("broadcast")
        yield a.message(1)
        base = f"/broadcast/000/{new_id()}"
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")
        r = yield self.http("POST", base + "/xhr_send", body=b'["hi all"]')
        self.assertEqual(r.code, 204)
        self.assertEqual((yield a.message(2)), 'a["hi all"]')
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b'a["hi all"]\n')

    @defer.inlineCallbacks
    def test_client_close_is_clean(self):
        client = yield self.session_ws()
        yield client.message(1)
        client.sendClose(1000, "bye")
        info = yield client.wait_end()
        self.assertTrue(info[0], info)


class HandshakeTests(_Base):
    @defer.inlineCallbacks
    def test_plain_get_is_400(self):
        r = yield self.http("GET", f"/echo/000/{new_id()}/websocket")
        self.assertEqual(r.code, 400)
        self.assertIn(b"Not a valid websocket request", r.body)

    @defer.inlineCallbacks
    def test_connection_close_is_400(self):
        headers = self.upgrade_headers(Connection="close")
        response = yield self.exchange(
            "GET", f"/echo/000/{new_id()}/websocket", headers=headers
        )
        self.assertEqual(response.code, 400)
        self.assertIn(b"Not a valid websocket request", response.body)

    @defer.inlineCallbacks
    def test_other_methods_405(self):
        for method in ("POST", "PUT", "DELETE"):
            response = yield self.exchange(method, f"/echo/000/{new_id()}/websocket")
            self.assertEqual(response.code, 405, method)
            self.assertEqual(response.header("allow"), "GET")
            self.assertIsNone(response.header("content-type"))
            self.assertEqual(response.body, b"")
        r = yield self.http("POST", f"/echo/000/{new_id()}/websocket", body=b"x")
        self.assertEqual(r.code, 405)
        self.assertIsNone(r.headers.getRawHeaders("content-type"))
        self.assertEqual(r.body, b"")

    @defer.inlineCallbacks
    def test_101(self):
        key = base64.b64encode(os.urandom(16)).decode()
        client = yield self.raw(
            "GET",
            f"/echo/000/{new_id()}/websocket",
            headers=self.upgrade_headers(key),
            close=False,
        )
        yield client.wait(lambda c: b"\r\n\r\n" in c.data)
        head = Response(client.data)
        self.assertEqual(head.code, 101)
        self.assertEqual(head.header("upgrade").lower(), "websocket")
        self.assertIn("upgrade", head.header("connection").lower())
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.assertEqual(head.header("sec-websocket-accept"), accept)
        self.assertIsNone(head.header("content-length"))
        # then the open frame: an unmasked text frame holding "o"
        yield client.wait(lambda c: c.data.endswith(b"\x81\x01o"))
        client.abort()

    @defer.inlineCallbacks
    def test_upgrade_header_case_and_lists(self):
        headers = self.upgrade_headers(Upgrade="WebSocket", Connection="keep-alive, Upgrade")
        client = yield self.raw(
            "GET", f"/echo/000/{new_id()}/websocket", headers=headers, close=False
        )
        yield client.wait(lambda c: b"\r\n\r\n" in c.data)
        self.assertEqual(Response(client.data).code, 101)
        client.abort()


class RawWebSocketTests(_Base):
    @defer.inlineCallbacks
    def test_raw_echo(self):
        client = yield self.ws("/echo/websocket")
        client.send("hello")
        self.assertEqual((yield client.message(1)), "hello")
        client.send('["not framed"]')
        self.assertEqual((yield client.message(2)), '["not framed"]')
        client.send("żółć \u2028")
        self.assertEqual((yield client.message(3)), "żółć \u2028")
        self.assertNotIn("o", client.messages)

    @defer.inlineCallbacks
    def test_raw_close(self):
        client = yield self.ws("/close/websocket")
        info = yield client.wait_end()
        self.assertEqual(client.messages, [])
        self.assertEqual(client.remoteCloseCode, 3000)
        self.assertEqual(client.remoteCloseReason, "Go away!")
        self.assertIsNotNone(info)
        self.assertTrue(info[0], info)  # a clean closing handshake
        # ... and a clean TCP end: Autobahn as a server resets the connection
        # once its close is answered; the client then saw ECONNRESET
        self.assertTrue(client.lost_reason.check(ConnectionDone), client.lost_reason)

    @defer.inlineCallbacks
    def test_plain_get_is_400(self):
        r = yield self.http("GET", "/echo/websocket")
        self.assertEqual(r.code, 400)
        self.assertIn(b"Not a valid websocket request", r.body)


    @defer.inlineCallbacks
    def test_raw_invalid_utf8_is_1007(self):
        # issue 8: sendClose(1007) was refused by Autobahn (a traceback, and
        # the client got a FIN instead of a close frame)
        client = yield self.ws("/echo/websocket")
        client.sendMessage(b"ok \xff\xfe", isBinary=False)
        info = yield client.wait_end()
        self.assertEqual(client.remoteCloseCode, 1007)
        self.assertEqual(client.remoteCloseReason, "Invalid UTF-8")
        self.assertTrue(info[0], info)  # a clean closing handshake
        self.assertEqual(client.messages, [])


class RawWebSocketOffTests(_Base):
    base_options = Options()

    @defer.inlineCallbacks
    def test_raw_websocket_off_by_default(self):
        response = yield self.exchange("GET", "/echo/websocket", headers=self.upgrade_headers())
        self.assertEqual(response.code, 404)
        # the framed one is still there
        client = yield self.session_ws()
        self.assertEqual((yield client.message(1)), "o")


class DisabledWebSocketTests(_Base):
    @defer.inlineCallbacks
    def test_disabled(self):
        r = yield self.http("GET", "/disabled_websocket_echo/info")
        self.assertIs(json.loads(r.body)["websocket"], False)
        for path in (f"/disabled_websocket_echo/000/{new_id()}/websocket", "/disabled_websocket_echo/websocket"):
            response = yield self.exchange("GET", path, headers=self.upgrade_headers())
            self.assertEqual(response.code, 404, path)
        # the other transports still work
        r = yield self.http("POST", f"/disabled_websocket_echo/000/{new_id()}/xhr")
        self.assertEqual(r.body, b"o\n")


class Hixie76Tests(_Base):
    KEY1 = "4 @1  46546xW%0l 1 5"
    KEY2 = "12998 5 Y3 1  .P00"
    ANSWER = b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"

    @defer.inlineCallbacks
    def handshake(self, path):
        client = yield self.raw(
            "GET",
            path,
            headers={
                "Upgrade": "WebSocket",
                "Connection": "Upgrade",
                "Origin": "http://example.com",
                "Sec-WebSocket-Key1": self.KEY1,
                "Sec-WebSocket-Key2": self.KEY2,
            },
            close=False,
        )
        # HAProxy style: the headers come before the key is sent
        yield client.wait(lambda c: b"\r\n\r\n" in c.data)
        head = Response(client.data)
        self.assertEqual(head.code, 101)
        self.assertEqual(head.header("sec-websocket-location"), f"ws://127.0.0.1:{self.port_number}{path}")
        self.assertEqual(head.header("sec-websocket-origin"), "http://example.com")
        self.assertEqual(head.raw_body, b"")
        client.send(b"aaaaaaaa")
        offset = len(head.head) + 4
        yield client.wait(lambda c: len(c.data) >= offset + 16)
        self.assertEqual(client.data[offset : offset + 16], self.ANSWER)
        return client, offset + 16

    @defer.inlineCallbacks
    def test_hixie76_sockjs(self):
        client, start = yield self.handshake(f"/echo/000/{new_id()}/websocket")
        yield client.wait(lambda c: c.data[start:] == b"\x00o\xff")
        client.send(b'\x00["a"]\xff')
        yield client.wait(lambda c: c.data[start:] == b'\x00o\xff\x00a["a"]\xff')
        client.send(b"\x00[\"x\xff")  # broken JSON ends the connection
        yield client.wait_closed()

    @defer.inlineCallbacks
    def test_key_sent_with_the_request(self):
        # a classic hixie-76 client: headers and key in one write
        path = f"/echo/000/{new_id()}/websocket"
        client = yield self.connect()
        client.send(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port_number}\r\n"
                "Upgrade: WebSocket\r\nConnection: Upgrade\r\nOrigin: http://example.com\r\n"
                f"Sec-WebSocket-Key1: {self.KEY1}\r\nSec-WebSocket-Key2: {self.KEY2}\r\n\r\n"
            ).encode()
            + b"aaaaaaaa"
        )
        yield client.wait(lambda c: c.data.endswith(self.ANSWER + b"\x00o\xff"))
        client.send(b'\x00["b"]\xff')
        yield client.wait(lambda c: c.data.endswith(b'\x00o\xff\x00a["b"]\xff'))

    @defer.inlineCallbacks
    def test_hixie76_close(self):
        client, start = yield self.handshake(f"/close/000/{new_id()}/websocket")
        yield client.wait_closed()
        self.assertTrue(
            client.data[start:].startswith(b"\x00o\xff\x00" + GO_AWAY.encode() + b"\xff"),
            client.data[start:],
        )

    @defer.inlineCallbacks
    def test_hixie76_raw(self):
        client, start = yield self.handshake("/echo/websocket")
        client.send(b"\x00hello\xff")
        yield client.wait(lambda c: c.data[start:] == b"\x00hello\xff")


    @defer.inlineCallbacks
    def test_hixie76_key_out_of_range_is_400(self):
        # issue 8: a key whose number exceeds 2**32-1 raised struct.error
        client = yield self.raw(
            "GET",
            f"/echo/000/{new_id()}/websocket",
            headers={
                "Upgrade": "WebSocket",
                "Connection": "Upgrade",
                "Origin": "http://example.com",
                "Sec-WebSocket-Key1": "9999999999 9999999999",
                "Sec-WebSocket-Key2": self.KEY2,
            },
            close=False,
        )
        client.send(b"aaaaaaaa")
        yield client.wait(lambda c: c.response() is not None and c.response().raw_body)
        response = client.response()
        self.assertEqual(response.code, 400)
        self.assertIn(b"malformed hixie-76 keys", response.body)
        client.abort()


class LeakTests(_Base):
    @defer.inlineCallbacks
    def test_websocket_sessions_forgotten(self):
        echo = self.resource("echo")
        a = yield self.session_ws()
        b = yield self.ws("/echo/websocket")
        yield a.message(1)
        self.assertEqual(len(echo.websocket_sessions), 2)
        self.assertEqual(len(echo.sessions), 0)
        a.send('["x')  # broken: the server ends it
        b.sendClose(1000)
        yield a.wait_end()
        yield b.wait_end()
        c = yield self.session_ws("close")
        yield c.wait_end()
        hixie = yield self.raw(
            "GET",
            f"/echo/000/{new_id()}/websocket",
            headers={
                "Upgrade": "WebSocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key1": Hixie76Tests.KEY1,
                "Sec-WebSocket-Key2": Hixie76Tests.KEY2,
            },
            close=False,
        )
        hixie.send(b"aaaaaaaa")
        yield hixie.wait(lambda c: c.data.endswith(b"\x00o\xff"))
        hixie.abort()
        # every connection gone, the server's side too, and what it
        # scheduled at once has run
        yield sockets_closed()
        yield self.clock.settled()
        self.assertEqual(len(echo.websocket_sessions), 0)
        self.assertEqual(len(self.resource("close").websocket_sessions), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class LimitTests(_Base):
    """
    The largest incoming message (Options.max_message_size), the close codes
    a refused client gets, and the malformed input of issue 8.
    """

    base_options = Options(raw_websocket=True, max_message_size=1000)
    KEY1, KEY2, ANSWER = Hixie76Tests.KEY1, Hixie76Tests.KEY2, Hixie76Tests.ANSWER

    @defer.inlineCallbacks
    def test_sockjs_message_too_big(self):
        client = yield self.session_ws()
        yield client.message(1)
        client.send(json.dumps(["x" * 990]))  # 996 bytes: fine
        self.assertEqual((yield client.message(2)), "a" + json.dumps(["x" * 990]))
        client.send(json.dumps(["x" * 1000]))
        yield client.wait_end()
        # sockjs-client reports the SockJS frame's code; RFC 6455 the frame's
        self.assertEqual(client.messages[2:], ['c[1009,"Message too big"]'])
        self.assertEqual(client.remoteCloseCode, 1009)
        self.assertEqual(client.remoteCloseReason, "Message too big")
        self.assertEqual(len(self.resource("echo").websocket_sessions), 0)

    @defer.inlineCallbacks
    def test_fragments_add_up(self):
        # a message of small frames is refused once their sum is too big
        client = yield self.session_ws()
        yield client.message(1)
        client.beginMessage(isBinary=False)
        client.sendMessageFrame(b'["' + b"x" * 600)
        client.sendMessageFrame(b"x" * 600 + b'"]')
        client.endMessage()
        yield client.wait_end()
        self.assertEqual(client.messages[1:], ['c[1009,"Message too big"]'])
        self.assertEqual(client.remoteCloseCode, 1009)

    @defer.inlineCallbacks
    def test_raw_message_too_big(self):
        client = yield self.ws("/echo/websocket")
        client.send("y" * 1000)
        self.assertEqual((yield client.message(1)), "y" * 1000)
        client.send("y" * 1001)
        yield client.wait_end()
        self.assertEqual(client.messages, ["y" * 1000])
        self.assertEqual(client.remoteCloseCode, 1009)

    @defer.inlineCallbacks
    def test_hixie76_message_too_big(self):
        client, start = yield Hixie76Tests.handshake(self, f"/echo/000/{new_id()}/websocket")
        yield client.wait(lambda c: c.data[start:] == b"\x00o\xff")
        client.send(b'\x00["' + b"z" * 2000)  # unfinished, already too big
        yield client.wait_closed()
        self.assertEqual(
            client.data[start:], b'\x00o\xff\x00c[1009,"Message too big"]\xff\xff\x00'
        )

    @defer.inlineCallbacks
    def test_hixie76_raw_message_too_big(self):
        client, start = yield Hixie76Tests.handshake(self, "/echo/websocket")
        client.send(b"\x00" + b"z" * 1000 + b"\xff")
        yield client.wait(lambda c: c.data[start:] == b"\x00" + b"z" * 1000 + b"\xff")
        client.send(b"\x00" + b"z" * 1001 + b"\xff")
        yield client.wait_closed()
        self.assertTrue(client.data.endswith(b"\xff\x00"), client.data[-20:])

    def test_user_factory_gets_the_limit(self):
        # a websocket_factory of the user's (compression) is limited too,
        # keeping a smaller limit of its own
        from dataclasses import replace

        from autobahn.twisted.websocket import WebSocketServerFactory
        from twisted.internet.protocol import Factory

        from txsockjs import SockJSResource

        factory = WebSocketServerFactory()
        factory.setProtocolOptions(maxFramePayloadSize=500)
        options = replace(self.base_options, websocket_factory=factory)
        resource = SockJSResource(Factory(), options, self.clock)
        self.assertIs(resource.websocket_factory, factory)
        self.assertEqual(factory.maxMessagePayloadSize, 1000)
        self.assertEqual(factory.maxFramePayloadSize, 500)
        SockJSResource(Factory(), replace(options, max_message_size=None), self.clock)
        self.assertEqual(factory.maxMessagePayloadSize, 1000)  # never raised


class Hixie76BufferingTests(unittest.SynchronousTestCase):
    """
    hixie-76 frames split over many reads cost work linear in their size.
    """

    def test_linear(self):
        from twisted.internet.address import IPv4Address
        from twisted.internet.protocol import Factory, Protocol
        from twisted.internet.task import Clock
        from twisted.internet.testing import StringTransport
        from twisted.web.http_headers import Headers

        from txsockjs import SockJSResource
        from txsockjs.session import RequestInfo
        from txsockjs._transports import hixie76
        from txsockjs._transports.websocket import RawSession

        received = []

        class Keep(Protocol):
            def messageReceived(self, message):
                received.append(message)

        clock = Clock()
        resource = SockJSResource(
            Factory.forProtocol(Keep), Options(max_message_size=None), clock
        )
        address = IPv4Address("TCP", "127.0.0.1", 1)
        info = RequestInfo(b"GET", b"/websocket", b"/websocket", Headers(), address, address, {}, False)
        protocol = hixie76.Hixie76Protocol(
            resource._websocket,
            "",
            info,
            RawSession,
            True,
            Hixie76Tests.KEY1.encode(),
            Hixie76Tests.KEY2.encode(),
        )
        transport = StringTransport()
        protocol.makeConnection(transport)
        scanned = []

        def counting(buffer, start):
            scanned.append(len(buffer) - start)
            return buffer.find(b"\xff", start)

        self.patch(hixie76, "_frame_end", counting)
        protocol.dataReceived(b"aaaaaaaa")
        self.assertTrue(transport.value().startswith(Hixie76Tests.ANSWER))
        size, step = 4 * 1024 * 1024, 4096
        protocol.dataReceived(b"\x00")
        for _ in range(size // step):
            protocol.dataReceived(b"m" * step)
        protocol.dataReceived(b"\xff\x00tail\xff")
        self.assertEqual([len(m) for m in received], [size, 4])
        # every byte searched about once, not once per read (that was
        # 4 MiB * 1024 reads / 2 = 2 GiB of scanning)
        self.assertLess(sum(scanned), 2 * size)
        self.assertGreaterEqual(sum(scanned), size)
        protocol.connectionLost(None)
        clock.advance(60)
