"""
Existing protocols served over SockJS unchanged: a LineReceiver chat over
raw TCP and SockJS at once, L{twisted.protocols.wire.Echo}, and binary
protocols (L{Int32StringReceiver}, AMP) over the raw websocket.

Binary protocols: a SockJS message, and a raw websocket message, is text.
With C{Options(encoding="latin-1")} each byte the protocol writes is one
character U+0000-U+00FF of a text message and back, so any byte stream
travels unchanged (the client maps characters to bytes the same way).
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from typing import Any, Callable, List, Optional

from twisted.internet import defer, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.internet.protocol import Factory
from twisted.protocols import amp
from twisted.protocols.basic import Int32StringReceiver, LineReceiver
from twisted.protocols.wire import Echo
from twisted.trial import unittest

from txsockjs import Options
from txsockjs.endpoints import SockJSServerEndpoint

from ._helpers import HTTPClientMixin, TrackingClock, WSClient, connect_ws

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example(name: str) -> Any:
    path = os.path.join(ROOT, "examples", name + ".py")
    spec = importlib.util.spec_from_file_location("_example_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SockJSMessages:
    """
    The messages (not frames) a SockJS websocket client gets, in order.
    """

    def __init__(self, client: WSClient) -> None:
        self.client = client
        self.queue: defer.DeferredQueue = defer.DeferredQueue()
        self.frames: List[str] = []
        self._pump()

    def _pump(self) -> None:
        def got(frame: str) -> None:
            self.frames.append(frame)
            if frame.startswith("a"):
                for message in json.loads(frame[1:]):
                    self.queue.put(message)
            elif frame.startswith("c"):
                self.queue.put(tuple(json.loads(frame[1:])))
            self._pump()

        self.client.messages.get().addCallback(got)

    def next(self, timeout: float = 5.0) -> defer.Deferred:
        return self.queue.get().addTimeout(timeout, reactor)

    def send(self, *messages: str) -> None:
        self.client.sendMessage(json.dumps(list(messages)).encode("utf-8"))


class LineClient(LineReceiver):
    def __init__(self) -> None:
        self.lines: defer.DeferredQueue = defer.DeferredQueue()

    def lineReceived(self, line: bytes) -> None:
        self.lines.put(line)

    def next(self, timeout: float = 5.0) -> defer.Deferred:
        return self.lines.get().addTimeout(timeout, reactor)


class WrappingTestCase(HTTPClientMixin, unittest.TestCase):
    timeout = 30

    def setUp(self) -> None:
        # the reactor of the endpoints, its timers remembered: the closed
        # sessions' disconnect timers are cancelled at the end, not waited out
        self.clock = TrackingClock()
        self.addCleanup(self.clock.cancel_all)

    @defer.inlineCallbacks
    def listen(self, description: str, factory: Any):
        port = yield serverFromString(self.clock, description).listen(factory)
        self.addCleanup(self.stop_port, port)
        return port

    def stop_port(self, port: Any) -> defer.Deferred:
        return port.stopListening()

    @defer.inlineCallbacks
    def sockjs_ws(self, port: int, path: str):
        client = yield connect_ws(port, path)
        self.addCleanup(self.close_ws, client)
        self.assertEqual((yield client.next_message()), "o")
        return SockJSMessages(client)

    @defer.inlineCallbacks
    def raw_ws(self, port: int, path: str):
        client = yield connect_ws(port, path)
        self.addCleanup(self.close_ws, client)
        return client

    def close_ws(self, client: WSClient) -> defer.Deferred:
        if not client.closed.called:
            client.sendClose()
        return client.closed


class LineChatTests(WrappingTestCase):
    """
    examples/linechat.py: one LineReceiver factory listening on raw TCP and
    on SockJS at once.
    """

    @defer.inlineCallbacks
    def test_tcp_and_sockjs_clients_see_each_other(self) -> None:
        linechat = load_example("linechat")
        chat = linechat.ChatFactory()
        tcp, sockjs = yield linechat.listen(
            self.clock,
            [
                "tcp:0:interface=127.0.0.1",
                "sockjs:tcp:0:interface=127.0.0.1:prefix=/chat:shutdown_timeout=0",
            ],
            chat,
        )
        self.addCleanup(self.stop_port, tcp)
        self.addCleanup(self.stop_port, sockjs)

        telnet = yield TCP4ClientEndpoint(reactor, "127.0.0.1", tcp.getHost().port).connect(
            Factory.forProtocol(LineClient)
        )
        self.addCleanup(telnet.transport.loseConnection)
        self.assertEqual((yield telnet.next()), b"* you are user1")

        browser = yield self.sockjs_ws(sockjs.getHost().port, "/chat/0/b/websocket")
        self.assertEqual((yield browser.next()), "* you are user2\r\n")
        self.assertEqual((yield telnet.next()), b"* user2 joined")

        telnet.sendLine(b"hi from tcp")
        self.assertEqual((yield telnet.next()), b"<user1> hi from tcp")
        self.assertEqual((yield browser.next()), "<user1> hi from tcp\r\n")

        # the browser ends its line with the delimiter; two lines in one
        # message and a line split across two messages work too
        browser.send("hi from sockjs\r\n")
        self.assertEqual((yield telnet.next()), b"<user2> hi from sockjs")
        self.assertEqual((yield browser.next()), "<user2> hi from sockjs\r\n")
        browser.send("one\r\ntw", "o\r\n")
        self.assertEqual((yield telnet.next()), b"<user2> one")
        self.assertEqual((yield telnet.next()), b"<user2> two")
        self.assertEqual((yield browser.next()), "<user2> one\r\n")
        self.assertEqual((yield browser.next()), "<user2> two\r\n")

        # an xhr client joins the same room
        base = f"http://127.0.0.1:{sockjs.getHost().port}/chat/0/poll"
        self.assertEqual((yield (yield self.post(base + "/xhr")).text()), "o\n")
        poll = yield (yield self.post(base + "/xhr")).text()
        self.assertEqual(poll, 'a["* you are user3\\r\\n"]\n')
        self.assertEqual((yield telnet.next()), b"* user3 joined")
        yield (yield self.post(base + "/xhr_send", data=b'["caf\\u00e9\\r\\n"]')).content()
        self.assertEqual((yield telnet.next()), "<user3> caf\u00e9".encode())
        self.assertEqual((yield browser.next()), "* user3 joined\r\n")
        self.assertEqual((yield browser.next()), "<user3> caf\u00e9\r\n")

        browser.client.sendClose()
        yield browser.client.closed
        self.assertEqual((yield telnet.next()), b"* user2 left")


class EchoTests(WrappingTestCase):
    """
    L{twisted.protocols.wire.Echo}: each message is one C{dataReceived}, each
    C{write} one message, text travels as UTF-8.
    """

    @defer.inlineCallbacks
    def test_echo(self) -> None:
        port = yield self.listen(
            "sockjs:tcp:0:interface=127.0.0.1:prefix=/echo:shutdown_timeout=0",
            Factory.forProtocol(Echo),
        )
        number = port.getHost().port
        messages = ["a,b", "caf\u00e9 \u2603", "two\nlines", "\U0001f600", " "]

        ws = yield self.sockjs_ws(number, "/echo/0/w/websocket")
        ws.send(*messages)
        for message in messages:
            self.assertEqual((yield ws.next()), message)

        base = f"http://127.0.0.1:{number}/echo/0/x"
        self.assertEqual((yield (yield self.post(base + "/xhr")).text()), "o\n")
        body = json.dumps(messages).encode()
        yield (yield self.post(base + "/xhr_send", data=body)).content()
        frame = yield (yield self.post(base + "/xhr")).text()
        self.assertEqual(frame[0], "a")
        self.assertEqual(json.loads(frame[1:]), messages)

        raw = yield self.raw_ws_echo()
        self.assertEqual(raw, messages)

    @defer.inlineCallbacks
    def raw_ws_echo(self):
        port = yield self.listen(
            "sockjs:tcp:0:interface=127.0.0.1:prefix=/raw:raw_websocket=yes:shutdown_timeout=0",
            Factory.forProtocol(Echo),
        )
        client = yield self.raw_ws(port.getHost().port, "/raw/websocket")
        echoed = []
        for message in ["a,b", "caf\u00e9 \u2603", "two\nlines", "\U0001f600", " "]:
            client.sendMessage(message.encode("utf-8"))
            echoed.append((yield client.next_message()))
        return echoed


# -- binary protocols over the raw websocket ---------------------------------------


class Reverser(Int32StringReceiver):
    """
    Answers every string with the same bytes reversed.
    """

    def stringReceived(self, string: bytes) -> None:
        self.sendString(string[::-1])


def as_text(data: bytes) -> str:
    return data.decode("latin-1")


def as_bytes(text: str) -> bytes:
    return text.encode("latin-1")


class Sum(amp.Command):
    arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
    response = [(b"total", amp.Integer())]


class Concat(amp.Command):
    arguments = [(b"left", amp.String()), (b"right", amp.String())]
    response = [(b"joined", amp.String())]


class Calculator(amp.AMP):
    @Sum.responder
    def sum(self, a: int, b: int) -> dict:
        return {"total": a + b}

    @Concat.responder
    def concat(self, left: bytes, right: bytes) -> dict:
        return {"joined": left + right}


class WebSocketStream:
    """
    The client side of a byte stream over a raw websocket whose text
    messages carry latin-1 characters: the transport of a client protocol.
    """

    disconnecting = False

    def __init__(self, client: WSClient, protocol: Any) -> None:
        self.client = client
        self.protocol = protocol
        client.onMessage = self._message  # type: ignore[method-assign]
        protocol.makeConnection(self)

    def _message(self, payload: bytes, isBinary: bool) -> None:
        self.protocol.dataReceived(as_bytes(payload.decode("utf-8")))

    def write(self, data: bytes) -> None:
        self.client.sendMessage(as_text(data).encode("utf-8"))

    def writeSequence(self, data: List[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.client.sendClose()

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 0)

    getHost = getPeer


class BinaryTests(WrappingTestCase):
    @defer.inlineCallbacks
    def test_int32_strings(self) -> None:
        """
        L{Int32StringReceiver} over the raw websocket with the latin-1
        encoding: any byte travels, lengths with high bytes included, and a
        string may be split across messages or share one.
        """
        port = yield self.listen(
            "sockjs:tcp:0:interface=127.0.0.1:prefix=/int32:raw_websocket=yes:shutdown_timeout=0"
            ":encoding=latin-1",
            Factory.forProtocol(Reverser),
        )
        client = yield self.raw_ws(port.getHost().port, "/int32/websocket")
        payload = bytes(range(256))[56:]  # 200 bytes: the length is 0x000000c8
        frame = struct.pack("!I", len(payload)) + payload

        client.sendMessage(as_text(frame).encode("utf-8"))
        answer = as_bytes((yield client.next_message()))
        self.assertEqual(answer, struct.pack("!I", 200) + payload[::-1])

        client.sendMessage(as_text(frame[:3]).encode("utf-8"))
        client.sendMessage(as_text(frame[3:]).encode("utf-8"))
        self.assertEqual(as_bytes((yield client.next_message())), answer)

        two = struct.pack("!I", 2) + b"\x00\xff" + struct.pack("!I", 3) + b"abc"
        client.sendMessage(as_text(two).encode("utf-8"))
        received = as_bytes((yield client.next_message()))
        while len(received) < len(two):
            received += as_bytes((yield client.next_message()))
        self.assertEqual(
            received, struct.pack("!I", 2) + b"\xff\x00" + struct.pack("!I", 3) + b"cba"
        )

    @defer.inlineCallbacks
    def test_amp(self) -> None:
        """
        An AMP server, and an AMP client on the other end of the websocket.
        """
        port = yield self.listen(
            "sockjs:tcp:0:interface=127.0.0.1:prefix=/amp:raw_websocket=yes:shutdown_timeout=0"
            ":encoding=latin-1",
            Factory.forProtocol(Calculator),
        )
        client = yield self.raw_ws(port.getHost().port, "/amp/websocket")
        caller = amp.AMP()
        WebSocketStream(client, caller)
        result = yield caller.callRemote(Sum, a=13, b=81).addTimeout(5, reactor)
        self.assertEqual(result, {"total": 94})
        binary = bytes(range(256))
        result = yield caller.callRemote(Concat, left=binary, right=b"\r\n:").addTimeout(
            5, reactor
        )
        self.assertEqual(result, {"joined": binary + b"\r\n:"})
        client.sendClose()
        yield client.closed
