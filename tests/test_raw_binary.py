"""
Binary messages on the raw websocket, over a real listening port with
Autobahn's Twisted websocket client: binary frames reach the protocol as
the bytes they carry and go back binary; text stays text; order is kept.
"""

from __future__ import annotations

import os
from typing import Any, List, Tuple

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.trial import unittest

from txsockjs import Options, SockJSResource

from ._helpers import WAIT, ServerMixin, bounded

#: bytes that are not UTF-8 (a lone continuation byte, an overlong form, 0xFF)
NOT_UTF8 = b"\x80\xc0\xaf\xff\xfe\x00 binary"


class KindClient(WebSocketClientProtocol):
    """
    Keeps every message as C{(is_binary, payload)}.
    """

    def __init__(self) -> None:
        WebSocketClientProtocol.__init__(self)
        self.received: List[Tuple[bool, bytes]] = []
        self.opened: defer.Deferred = defer.Deferred()
        self.ended: defer.Deferred = defer.Deferred()
        self._want: List[Tuple[int, defer.Deferred]] = []
        self.close_info: Any = None

    def onOpen(self) -> None:
        self.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.received.append((isBinary, payload))
        want, self._want = self._want, []
        for count, d in want:
            if len(self.received) >= count:
                d.callback(self.received[:count])
            else:
                self._want.append((count, d))

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        self.close_info = (wasClean, code, reason)
        want, self._want = self._want, []
        for _, d in want:
            d.errback(AssertionError(f"closed {code} {reason!r} after {self.received!r}"))

    def connectionLost(self, reason: Any) -> None:
        WebSocketClientProtocol.connectionLost(self, reason)
        if not self.ended.called:
            self.ended.callback(self.close_info)

    def abort(self) -> None:
        if not self.ended.called and self.transport is not None:
            self.transport.abortConnection()

    def first(self, count: int) -> defer.Deferred:
        if len(self.received) >= count:
            return defer.succeed(self.received[:count])
        d: defer.Deferred = defer.Deferred()
        self._want.append((count, d))
        return d.addTimeout(WAIT, reactor)


class ByteEcho(Protocol):
    """
    A byte protocol: what it got, in order; binary answered with
    C{write_binary}, and C{b"text:"} messages with a plain C{write}.
    """

    def connectionMade(self) -> None:
        self.factory.instances.append(self)
        self.got: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.got.append(data)
        if data.startswith(b"text:"):
            self.transport.write(data)
        else:
            self.transport.write_binary(data)


class TextOnly(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message)


class RawBinaryTests(ServerMixin, unittest.TestCase):
    timeout = 30

    def setUp(self) -> Any:
        result = ServerMixin.setUp(self)
        self.byte_factory = Factory.forProtocol(ByteEcho)
        self.byte_factory.instances = []
        options = Options(raw_websocket=True)
        self.root.putChild(b"bytes", SockJSResource(self.byte_factory, options, self.clock))
        self.root.putChild(
            b"textonly", SockJSResource(Factory.forProtocol(TextOnly), options, self.clock)
        )
        return result

    @defer.inlineCallbacks
    def ws(self, path: str) -> Any:
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{self.port_number}{path}")
        factory.protocol = KindClient
        factory.setProtocolOptions(openHandshakeTimeout=WAIT, closeHandshakeTimeout=1)
        client = yield TCP4ClientEndpoint(reactor, "127.0.0.1", self.port_number).connect(factory)
        self.clients.append(client)
        yield bounded(client.opened)
        return client

    @defer.inlineCallbacks
    def test_binary_echo_keeps_kind_and_bytes(self) -> None:
        client = yield self.ws("/echo/websocket")
        large = os.urandom(512 * 1024)  # within the default max_message_size (1 MiB)
        sent = [NOT_UTF8, b"", os.urandom(300), large]
        for payload in sent:
            client.sendMessage(payload, isBinary=True)
        received = yield client.first(len(sent))
        self.assertEqual(received, [(True, p) for p in sent])
        self.assertIsNone(client.close_info)

    @defer.inlineCallbacks
    def test_text_unchanged(self) -> None:
        client = yield self.ws("/echo/websocket")
        client.sendMessage("żółć \u2028 ok".encode("utf-8"), isBinary=False)
        client.sendMessage(b"", isBinary=False)
        received = yield client.first(2)
        self.assertEqual(received, [(False, "żółć \u2028 ok".encode("utf-8")), (False, b"")])

    @defer.inlineCallbacks
    def test_mixed_order_preserved(self) -> None:
        client = yield self.ws("/echo/websocket")
        sent = []
        for i in range(40):
            if i % 3 == 0:
                sent.append((False, f"text {i}".encode()))
            else:
                sent.append((True, bytes([i, 0xFF, 0x80]) * i))
        for is_binary, payload in sent:
            client.sendMessage(payload, isBinary=is_binary)
        received = yield client.first(len(sent))
        self.assertEqual(received, sent)

    @defer.inlineCallbacks
    def test_byte_protocol_gets_the_bytes(self) -> None:
        client = yield self.ws("/bytes/websocket")
        client.sendMessage(NOT_UTF8, isBinary=True)
        client.sendMessage("text:é".encode("utf-8"), isBinary=False)
        received = yield client.first(2)
        # write_binary makes a binary frame; a plain write a text frame
        self.assertEqual(received, [(True, NOT_UTF8), (False, "text:é".encode("utf-8"))])
        (protocol,) = self.byte_factory.instances
        self.assertEqual(protocol.got, [NOT_UTF8, "text:é".encode("utf-8")])

    @defer.inlineCallbacks
    def test_text_only_protocol_refuses_binary_with_1003(self) -> None:
        client = yield self.ws("/textonly/websocket")
        client.sendMessage(b"text first", isBinary=False)
        yield client.first(1)
        client.sendMessage(b"\x00\x01", isBinary=True)
        info = yield bounded(client.ended)
        self.assertEqual(info[1], 1003)
        self.assertEqual(client.received, [(False, b"text first")])

    @defer.inlineCallbacks
    def test_binary_is_counted(self) -> None:
        client = yield self.ws("/echo/websocket")
        client.sendMessage(NOT_UTF8, isBinary=True)
        yield client.first(1)
        counters = self.resource("echo").hub.counters
        self.assertEqual(counters.messages_in, 1)
        self.assertEqual(counters.bytes_in, len(NOT_UTF8))
        self.assertEqual(counters.messages_out, 1)
        self.assertEqual(counters.bytes_out, len(NOT_UTF8))

    @defer.inlineCallbacks
    def test_sockjs_websocket_stays_text(self) -> None:
        client = yield self.ws("/echo/000/abc/websocket")
        client.sendMessage(b'["a"]', isBinary=False)
        received = yield client.first(2)
        self.assertEqual(received, [(False, b"o"), (False, b'a["a"]')])


class _Receiver:
    """
    What a raw session asks of its receiver, recording what went out.
    """

    def __init__(self) -> None:
        self.sent: List[Tuple[bool, Any]] = []
        self.closed: Any = None

    def send_text(self, message: str) -> int:
        self.sent.append((False, message))
        return len(message.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        self.sent.append((True, data))

    def close_with(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def send_frame(self, frame: bytes) -> None:
        raise AssertionError("a raw session sends no SockJS frame")

    def heartbeat(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _Pausing(Protocol):
    """
    A byte protocol that pauses its transport after the second message.
    """

    def __init__(self) -> None:
        self.got: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.got.append(data)
        if len(self.got) == 2:
            self.transport.pauseProducing()


class RawSessionOrderTests(unittest.SynchronousTestCase):
    """
    L{RawSession} keeps text and binary messages in one order, also while
    its protocol paused it, on a Clock.
    """

    def setUp(self) -> None:
        from twisted.internet.task import Clock

        from txsockjs._hub import SessionHub
        from txsockjs._rawsession import RawSession
        from txsockjs.session import RequestInfo

        self.clock = Clock()
        self.hub = SessionHub(self.clock)
        self.protocol = _Pausing()
        info = RequestInfo(b"GET", b"/", b"/", None, None, None, {}, False)  # type: ignore[arg-type]
        self.session = RawSession("raw", self.protocol, self.hub, info, "raw_websocket", timed=False)
        self.receiver = _Receiver()
        self.session.attach(self.receiver)

    def test_paused_mixed_batch_keeps_order(self) -> None:
        self.session.deliver([b"\xff1", "t2", b"\x003", "t4"])
        self.assertEqual(self.protocol.got, [b"\xff1", b"t2"])
        self.session.deliver([b"\x805"])
        self.session.resumeProducing()
        self.clock.advance(0)
        self.assertEqual(self.protocol.got, [b"\xff1", b"t2", b"\x003", b"t4", b"\x805"])

    def test_write_binary_and_write_keep_order(self) -> None:
        self.session.write(b"a")
        self.session.write_binary(b"\xff")
        self.session.write(b"c")
        self.clock.advance(0)
        self.assertEqual(self.receiver.sent, [(False, "a"), (True, b"\xff"), (False, "c")])
        self.assertEqual(self.hub.counters.messages_out, 3)
        self.assertEqual(self.hub.counters.bytes_out, 3)
