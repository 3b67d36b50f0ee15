"""
Canaries for the Autobahn and Twisted internals listed in
L{txsockjs._internals}: each test checks that one is still there and still
does what txsockjs relies on, and fails naming it and the installed
version, so that an upgrade that moves one fails here instead of
corrupting frames or leaking connections.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from typing import Any, List, Optional, Tuple

import autobahn
import twisted
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.xormasker import XorMaskerNull
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import tcp
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial import unittest
from twisted.web.http import HTTPChannel, Request
from twisted.web.resource import Resource
from twisted.web.resource import EncodingResourceWrapper
from twisted.web.server import NOT_DONE_YET, GzipEncoderFactory, Site
from twisted.web.test.requesthelper import DummyChannel

from txsockjs import SockJSRequest, _internals
from txsockjs._headers import prepared
from txsockjs._transports._takeover import take_over

_KEY = b"\x37\xfa\x21\x3d"
_HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)


def _autobahn(name: str) -> str:
    return (
        f"Autobahn internal {name!r} moved or changed (autobahn {autobahn.__version__} "
        "installed): see txsockjs/_internals.py before upgrading"
    )


def _twisted(name: str) -> str:
    return (
        f"Twisted internal {name!r} moved or changed (Twisted {twisted.__version__} "
        "installed): see txsockjs/_internals.py before upgrading"
    )


def _mask(payload: bytes, key: bytes = _KEY) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def client_frame(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    """
    A masked client frame, as browsers send.
    """
    return _frame(payload, (0x80 if fin else 0) | opcode)


class Recorder(_internals.AutobahnServerProtocol):
    """
    Our Autobahn base, recording what its hooks see.
    """

    def __init__(self) -> None:
        _internals.AutobahnServerProtocol.__init__(self)
        self.messages: List[Tuple[bytes, bool]] = []
        self.too_big = 0
        self.ended: List[bool] = []
        self.lingering = True

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append((payload, isBinary))

    def message_too_big(self) -> None:
        self.too_big += 1

    def end_connection(self) -> bool:
        self.ended.append(self.lingering)
        return self.lingering


class Plain(WebSocketServerProtocol):
    """
    Autobahn's own protocol, recording messages.
    """

    def __init__(self) -> None:
        WebSocketServerProtocol.__init__(self)
        self.messages: List[bytes] = []

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append(payload)


def _accept_deflate(offers: Any) -> Any:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def open_protocol(
    protocol: Any,
    extra_headers: bytes = b"",
    transport: Optional[StringTransport] = None,
    **options: Any,
) -> StringTransport:
    """
    Connect C{protocol} to a memory transport through the opening handshake.
    """
    factory = WebSocketServerFactory()
    factory.setProtocolOptions(
        openHandshakeTimeout=0, closeHandshakeTimeout=0, **_internals.FAST_PROTOCOL_OPTIONS
    )
    if options:
        factory.setProtocolOptions(**options)
    protocol.factory = factory
    if transport is None:
        transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(_HANDSHAKE + extra_headers + b"\r\n")
    assert b" 101 " in transport.value().split(b"\r\n")[0], transport.value()
    transport.clear()
    return transport


class AutobahnMaskingTests(unittest.SynchronousTestCase):
    """
    C{applyMask=False} gives the null masker, and ours, set in
    C{onFrameBegin} from C{current_frame.mask}, unmasks exactly once.
    """

    def test_null_masker_is_a_no_op(self) -> None:
        masker = XorMaskerNull(_KEY)
        self.assertEqual(masker.process(b"abcdef"), b"abcdef", _autobahn("XorMaskerNull"))
        self.assertEqual(masker.pointer(), 6, _autobahn("XorMaskerNull.pointer"))

    def test_autobahn_leaves_frames_masked(self) -> None:
        # Without our masker the payload arrives as it was sent: Autobahn
        # really skips unmasking with applyMask=False, so ours is not a
        # second pass.
        plain = Plain()
        open_protocol(plain)
        plain.dataReceived(client_frame(b"hello"))
        self.assertEqual(plain.messages, [_mask(b"hello")], _autobahn("applyMask=False"))

    def test_ours_unmasks_once_across_reads(self) -> None:
        protocol = Recorder()
        open_protocol(protocol)
        payload = bytes(range(256)) * 3 + b"tail"
        wire = client_frame(payload) + client_frame(b"x" * 70000, opcode=2)
        for i in range(0, len(wire), 97):  # frames split at odd places
            protocol.dataReceived(wire[i : i + 97])
        self.assertEqual(
            protocol.messages,
            [(payload, False), (b"x" * 70000, True)],
            _autobahn("current_frame.mask / current_frame_masker"),
        )

    def test_frame_mask_is_the_key(self) -> None:
        seen = []

        class Peek(Recorder):
            def onFrameBegin(self) -> None:
                seen.append(self.current_frame.mask)
                Recorder.onFrameBegin(self)

        protocol = Peek()
        open_protocol(protocol)
        # (Autobahn's reader: ours reads whole frames without it)
        protocol._dataReceived(client_frame(b"abc"))
        self.assertEqual(seen, [_KEY], _autobahn("current_frame.mask"))
        self.assertIsInstance(
            protocol.current_frame_masker, _internals.Unmasker, _autobahn("current_frame_masker")
        )


class AutobahnMessageTests(unittest.SynchronousTestCase):
    """
    Our C{onMessageEnd} reads C{message_data}, C{message_is_binary} and
    C{failedByMe}; C{_max_message_size_exceeded} is the size limits' hook.
    """

    def test_fragmented_message_joined(self) -> None:
        protocol = Recorder()
        open_protocol(protocol)
        protocol.dataReceived(
            client_frame(b"ab", opcode=2, fin=False) + client_frame(b"cd", opcode=0)
        )
        protocol.dataReceived(client_frame(b"text"))
        self.assertEqual(
            protocol.messages,
            [(b"abcd", True), (b"text", False)],
            _autobahn("onMessageEnd / message_data / message_is_binary"),
        )
        self.assertIsNone(protocol.message_data, _autobahn("message_data"))

    def test_too_big_goes_to_the_hook(self) -> None:
        protocol = Recorder()
        open_protocol(protocol, maxMessagePayloadSize=10, maxFramePayloadSize=10)
        protocol.dataReceived(client_frame(b"y" * 11))
        self.assertEqual(protocol.too_big, 1, _autobahn("_max_message_size_exceeded"))
        self.assertTrue(protocol.failedByMe, _autobahn("failedByMe"))
        # the refused message is not delivered
        self.assertEqual(protocol.messages, [], _autobahn("failedByMe"))


class AutobahnReadingTests(unittest.SynchronousTestCase):
    """
    Autobahn's Twisted C{dataReceived} only logs and hands the bytes to
    C{_dataReceived}; ours hands them over without the log line.
    """

    def test_autobahn_hands_reads_to_data_received(self) -> None:
        protocol = Plain()
        open_protocol(protocol)
        seen: List[bytes] = []
        protocol._dataReceived = seen.append  # type: ignore[method-assign]
        WebSocketServerProtocol.dataReceived(protocol, b"some bytes")
        self.assertEqual(seen, [b"some bytes"], _autobahn("_dataReceived"))

    def test_ours_formats_no_log_line(self) -> None:
        import autobahn.twisted.websocket as adapter

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise AssertionError("a log line was formatted")

        protocol = Recorder()
        open_protocol(protocol)
        # (from here on: a connection's reads)
        self.patch(adapter, "hltype", refuse)
        self.patch(adapter, "hlval", refuse)
        protocol.dataReceived(client_frame(b"hello"))
        self.assertEqual(protocol.messages, [(b"hello", False)])


def _frame(payload: bytes, first: int, key: bytes = _KEY, masked: bool = True, length_code: Optional[int] = None) -> bytes:
    """
    Any client frame: C{first} is the FIN/RSV/opcode byte; C{length_code}
    forces the 7-bit length field (126 with a short payload: a length not
    in its shortest form).
    """
    n = len(payload)
    code = length_code if length_code is not None else (n if n < 126 else 126 if n < 65536 else 127)
    head = struct.pack("!BB", first, (0x80 if masked else 0) | code)
    if code == 126:
        head += struct.pack("!H", n)
    elif code == 127:
        head += struct.pack("!Q", n)
    if not masked:
        return head + payload
    return head + key + _mask(payload, key)


_SIZES = st.sampled_from([0, 1, 4, 5, 11, 100, 125, 126, 127, 300, 65535, 65536])


@st.composite
def _client_frames(draw: Any) -> bytes:
    kind = draw(
        st.sampled_from(
            ["text", "text", "text", "binary", "binary", "fragmented", "ping", "bad utf-8",
             "cut utf-8", "unmasked", "long form", "rsv", "reserved opcode", "close", "pong",
             "quit", "drop"]
        )
    )
    key = draw(st.binary(min_size=4, max_size=4))
    size = draw(_SIZES)
    text = draw(st.text(max_size=40)).encode("utf-8")
    payload = (text * (size // max(1, len(text)) + 1))[:size] if text else b"t" * size
    if kind == "text":
        return _frame(payload, 0x81, key)
    if kind in ("quit", "drop"):
        return _frame(kind.encode(), 0x81, key)
    if kind == "binary":
        return _frame(bytes(draw(st.binary(max_size=8))) + b"\xff" * size, 0x82, key)
    if kind == "fragmented":
        return _frame(payload[:3], 0x01, key) + _frame(payload[3:], 0x80, key)
    if kind == "ping":
        return _frame(payload[:125], 0x89, key)
    if kind == "pong":
        return _frame(payload[:125], 0x8A, key)
    if kind == "bad utf-8":
        return _frame(b"ok\xff\xfe" + payload, 0x81, key)
    if kind == "cut utf-8":
        return _frame(b"\xe2\x82", 0x81, key)
    if kind == "unmasked":
        return _frame(payload, 0x81, key, masked=False)
    if kind == "long form":
        return _frame(payload[:100], 0x81, key, length_code=126)
    if kind == "rsv":
        return _frame(payload, 0xC1, key)
    if kind == "reserved opcode":
        return _frame(payload, 0x83, key)
    return _frame(struct.pack("!H", 1000) + b"bye", 0x88, key)


class _Lenient(StringTransport):
    """
    A memory transport that, as TCP does, lets a protocol unregister a
    producer it never registered (Autobahn does, when it drops a
    connection).
    """

    def unregisterProducer(self) -> None:
        self.producer = None


class Quitting(Recorder):
    """
    Closes the websocket on C{b"quit"}, drops the connection on C{b"drop"}
    (as SockJS does on broken JSON).
    """

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        Recorder.onMessage(self, payload, isBinary)
        if payload == b"quit":
            self.sendClose(1000)
        elif payload == b"drop":
            self.dropConnection(abort=False)


class WholeFrameReaderTests(unittest.SynchronousTestCase):
    """
    L{AutobahnServerProtocol} reads complete, final, masked data frames
    itself and leaves everything else to Autobahn's reader: whatever the
    frames and however the reads cut them, the messages, the hooks called,
    the bytes written back and the connection's state are Autobahn's.
    """

    def run_both(self, wire: bytes, cuts: List[int], **options: Any) -> List[Any]:
        outcomes = []
        for whole_frames in (True, False):
            protocol = Quitting()
            transport = open_protocol(protocol, transport=_Lenient(), **options)
            if not whole_frames:
                protocol._whole_frames = False
            last = 0
            for cut in sorted(set(cuts)) + [len(wire)]:
                if cut > last:
                    protocol.dataReceived(wire[last:cut])
                    last = cut
            outcomes.append(
                (
                    protocol.messages,
                    protocol.too_big,
                    protocol.ended,
                    transport.value(),
                    protocol.state,
                    protocol.failedByMe,
                    protocol.wasClean,
                    transport.disconnecting,
                )
            )
        return outcomes

    @settings(max_examples=400, deadline=None)
    @given(
        frames=st.lists(_client_frames(), min_size=1, max_size=6),
        cuts=st.lists(st.integers(min_value=0, max_value=140000), max_size=4),
        validate=st.booleans(),
        limit=st.sampled_from([0, 100, 65536]),
    )
    def test_same_as_autobahn(self, frames: List[bytes], cuts: List[int], validate: bool, limit: int) -> None:
        wire = b"".join(frames)
        cuts = [c % (len(wire) + 1) for c in cuts]
        ours, autobahns = self.run_both(
            wire,
            cuts,
            utf8validateIncoming=validate,
            maxMessagePayloadSize=limit,
            maxFramePayloadSize=limit,
        )
        self.assertEqual(ours, autobahns)

    def test_whole_frames_skip_autobahn_reader(self) -> None:
        """
        Complete frames in one read never reach Autobahn's reader (the
        point of it); a frame cut by the read does, and the rest follows.
        """
        protocol = Recorder()
        open_protocol(protocol)
        calls: List[bytes] = []
        autobahn_reader = protocol._dataReceived

        def watch(data: bytes) -> None:
            calls.append(data)
            autobahn_reader(data)

        protocol._dataReceived = watch  # type: ignore[method-assign]
        protocol.dataReceived(client_frame(b"one") + client_frame(b"x" * 300, opcode=2))
        self.assertEqual(calls, [])
        wire = client_frame(b"three") + client_frame(b"four")
        protocol.dataReceived(wire[:-2])
        protocol.dataReceived(wire[-2:])
        self.assertEqual(calls, [wire[len(client_frame(b"three")) : -2], wire[-2:]])
        self.assertEqual(
            protocol.messages,
            [(b"one", False), (b"x" * 300, True), (b"three", False), (b"four", False)],
        )


class AutobahnValidatorTests(unittest.SynchronousTestCase):
    """
    With no UTF-8 validation, the validator Autobahn makes per connection
    (C{utf8validator}) is dropped; turned on later, one is made again.
    """

    def test_dropped_without_validation(self) -> None:
        protocol = Recorder()
        open_protocol(protocol)
        self.assertIsNone(protocol.utf8validator, _autobahn("utf8validator"))
        kept = Recorder()
        open_protocol(kept, utf8validateIncoming=True)
        self.assertIsNotNone(kept.utf8validator, _autobahn("utf8validator"))

    def test_turned_on_later(self) -> None:
        protocol = Recorder()
        transport = open_protocol(protocol, transport=_Lenient())
        protocol.utf8validateIncoming = True
        # (Autobahn's reader, which uses the validator)
        protocol._dataReceived(client_frame(b"ok \xff"))
        self.assertEqual(protocol.messages, [])
        self.assertTrue(protocol.failedByMe, _autobahn("utf8validator"))
        self.assertTrue(transport.disconnecting)


class AutobahnSendingTests(unittest.SynchronousTestCase):
    """
    The text frames written straight to the transport are the ones
    C{sendMessage} builds, and compression (C{_perMessageCompress}) or a
    waiting C{send_queue} send the Autobahn way.
    """

    def test_direct_frames_match_send_message(self) -> None:
        for size in (0, 1, 125, 126, 65535, 65536):
            payload = b"m" * size
            ours, plain = Recorder(), Plain()
            ours_wire, plain_wire = open_protocol(ours), open_protocol(plain)
            ours.write_text_frame(payload)
            plain.sendMessage(payload, False)
            self.assertEqual(ours_wire.value(), plain_wire.value(), f"{size} bytes")
        self.assertIsNone(ours._perMessageCompress, _autobahn("_perMessageCompress"))
        self.assertIsInstance(ours.send_queue, deque, _autobahn("send_queue"))
        self.assertEqual(len(ours.send_queue), 0, _autobahn("send_queue"))

    def test_compressed_connection_sends_compressed(self) -> None:
        protocol = Recorder()

        def accept(offers: Any) -> Any:
            for offer in offers:
                if isinstance(offer, PerMessageDeflateOffer):
                    return PerMessageDeflateOfferAccept(offer)
            return None

        open_protocol(
            protocol,
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
            perMessageCompressionAccept=accept,
        )
        self.assertIsNotNone(protocol._perMessageCompress, _autobahn("_perMessageCompress"))
        transport = protocol.transport
        protocol.write_text_frame(b"z" * 1000)
        frame = transport.value()
        # RSV1 set: the frame went through Autobahn's compression
        self.assertEqual(frame[0], 0xC1, _autobahn("_perMessageCompress"))
        self.assertLess(len(frame), 100)


class AutobahnOpeningTests(unittest.SynchronousTestCase):
    """
    With C{CONFIG_ATTRS} emptied the factory's options still reach each
    connection, with no C{pformat}; a handshake opened on parsed headers
    leaves the state Autobahn's own parser leaves (C{_wskey},
    C{websocket_extensions} from C{_parseExtensionsHeader}, ...).
    """

    def test_options_copied_without_formatting(self) -> None:
        formatted: List[Any] = []
        self.patch(autobahn_protocol, "pformat", lambda value: formatted.append(value) or "")
        protocol = Recorder()
        open_protocol(protocol, maxFramePayloadSize=1234, autoFragmentSize=7, versions=[13])
        factory = protocol.factory
        for name in WebSocketServerProtocol.CONFIG_ATTRS:
            expected = 0 if name == "openHandshakeTimeout" else getattr(factory, name)
            self.assertEqual(getattr(protocol, name), expected, _autobahn(f"CONFIG_ATTRS: {name}"))
        self.assertEqual((protocol.maxFramePayloadSize, protocol.autoFragmentSize), (1234, 7))
        self.assertEqual(formatted, [[]], _autobahn("_connectionMade: pformat(CONFIG_ATTRS)"))
        self.assertIsNone(protocol.openHandshakeTimeoutCall, _autobahn("openHandshakeTimeout"))

    def test_parsed_handshake_leaves_autobahn_state(self) -> None:
        offer = "permessage-deflate; client_max_window_bits"
        extra = f"Origin: http://o.example\r\nSec-WebSocket-Extensions: {offer}\r\n"
        parsed, ours = Recorder(), Recorder()
        open_protocol(parsed, extra.encode(), perMessageCompressionAccept=_accept_deflate)
        ours.factory = parsed.factory
        wire = StringTransport()
        ours.makeConnection(wire)
        head = (_HANDSHAKE + extra.encode()).decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in head[1:] if line)
        headers = {name.lower(): value for name, value in fields.items()}
        self.assertTrue(ours.open_on_parsed_handshake("/ws", headers))
        self.assertIn(b"permessage-deflate", wire.value())
        skipped = {"http_request_data", "trafficStats", "_perMessageCompress", "websocket_extensions_in_use"}
        state = {k: v for k, v in vars(parsed).items() if k not in skipped}
        for name, value in state.items():
            if not hasattr(value, "addCallback") and name not in {"factory", "transport", "utf8validator"}:
                self.assertEqual(getattr(ours, name, None), value, _autobahn(f"processHandshake: {name}"))
        self.assertEqual(set(state) - set(vars(ours)), set(), _autobahn("processHandshake"))
        self.assertIsNotNone(ours._perMessageCompress, _autobahn("succeedHandshake"))

    def test_origin_helpers(self) -> None:
        self.assertEqual(
            _internals.url_to_origin("http://a.example"), ("http", "a.example", 80), _autobahn("_url_to_origin")
        )
        with self.assertRaises(ValueError, msg=_autobahn("_url_to_origin")):
            _internals.url_to_origin("http://")
        factory = WebSocketServerFactory()
        self.assertTrue(
            _internals.is_same_origin(("http", "a", 80), "http", None, factory.allowedOriginsPatterns),
            _autobahn("_is_same_origin"),
        )


class AutobahnClosingTests(unittest.SynchronousTestCase):
    """
    C{_closeConnection} reaches our C{end_connection} (an abort does not);
    C{sendCloseFrame} sends codes C{sendClose} refuses.
    """

    def test_close_connection_hook(self) -> None:
        protocol = Recorder()
        transport = open_protocol(protocol)
        # (as ours does at onOpen: Autobahn unregisters it when dropping)
        transport.registerProducer(_internals._NO_PRODUCER, True)
        protocol.dropConnection(abort=False)
        self.assertEqual(protocol.ended, [True], _autobahn("_closeConnection"))
        self.assertFalse(transport.disconnecting, _autobahn("_closeConnection"))
        protocol.lingering = False
        protocol._closeConnection(False)
        self.assertTrue(transport.disconnecting, _autobahn("_closeConnection"))

    def test_abort_is_autobahn_own(self) -> None:
        protocol = Recorder()
        open_protocol(protocol)
        protocol.transport.abortConnection = lambda: aborted.append(True)
        aborted: List[bool] = []
        protocol._closeConnection(True)
        self.assertEqual((protocol.ended, aborted), ([], [True]), _autobahn("_closeConnection"))

    def test_close_frame_any_code(self) -> None:
        protocol = Recorder()
        transport = open_protocol(protocol)
        protocol.send_close_frame(1009, b"Message too big")
        self.assertEqual(
            transport.value(),
            b"\x88\x11" + struct.pack("!H", 1009) + b"Message too big",
            _autobahn("sendCloseFrame"),
        )
        self.assertIn(1000, WebSocketServerProtocol.CLOSE_STATUS_CODES_ALLOWED)
        self.assertNotIn(1006, WebSocketServerProtocol.CLOSE_STATUS_CODES_ALLOWED)


class _FakeSocket:
    def __init__(self) -> None:
        self.incoming: List[bytes] = []

    def setblocking(self, flag: bool) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def recv(self, size: int) -> bytes:
        return self.incoming.pop(0)


class Keep(Protocol):
    def __init__(self) -> None:
        self.data: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)


class TwistedConnectionTests(unittest.SynchronousTestCase):
    """
    Swapping C{tcp.Connection.protocol} reroutes reads; C{producer} tells
    whether a producer is registered.
    """

    def test_swapped_protocol_gets_reads(self) -> None:
        first, second = Keep(), Keep()
        skt = _FakeSocket()
        connection = tcp.Connection(skt, first)  # type: ignore[arg-type]
        skt.incoming.append(b"one")
        connection.doRead()
        _internals.swap_protocol(connection, second)
        skt.incoming.append(b"two")
        connection.doRead()
        self.assertEqual((first.data, second.data), ([b"one"], [b"two"]), _twisted("tcp.Connection.protocol"))

    def test_registered_producer(self) -> None:
        connection = tcp.Connection(_FakeSocket(), Keep())  # type: ignore[arg-type]
        self.assertIsNone(_internals.registered_producer(connection), _twisted("FileDescriptor.producer"))
        producer = _internals._NO_PRODUCER
        connection.registerProducer(producer, True)
        self.assertIs(
            _internals.registered_producer(connection), producer, _twisted("FileDescriptor.producer")
        )


class _SendingSocket(_FakeSocket):
    """
    Takes C{room} bytes, then would block; or fails with C{error}.
    """

    def __init__(self, room: int) -> None:
        _FakeSocket.__init__(self)
        self.room = room
        self.sent: List[bytes] = []
        self.error: Any = None

    def send(self, data: Any) -> int:
        if self.error is not None:
            raise self.error
        taken = bytes(data[: self.room])
        if not taken:
            raise BlockingIOError(errno.EWOULDBLOCK, "would block")
        self.room -= len(taken)
        self.sent.append(taken)
        return len(taken)


class _NoReactor:
    """
    Enough of a reactor for a connection that registers for reading and
    writing.
    """

    def addWriter(self, fd: Any) -> None:
        pass

    removeWriter = addReader = removeReader = addWriter


class TwistedWriteStateTests(unittest.SynchronousTestCase):
    """
    Try-write-first (L{txsockjs._writes}) reads C{tcp.Connection}'s write
    state and sends with its C{writeSomeData}.
    """

    def connection(self, room: int) -> Any:
        skt = _SendingSocket(room)
        connection = tcp.Connection(skt, Keep(), _NoReactor())  # type: ignore[arg-type]
        connection.connected = 1
        return connection, skt

    def test_buffered_bytes_seen(self) -> None:
        connection, skt = self.connection(room=100)
        self.assertTrue(_internals.can_send_now(connection), _twisted("tcp.Connection write state"))
        connection.write(b"queued")
        self.assertFalse(_internals.can_send_now(connection), _twisted("FileDescriptor._tempDataLen"))
        connection.doWrite()
        self.assertEqual(skt.sent, [b"queued"])
        self.assertTrue(_internals.can_send_now(connection), _twisted("FileDescriptor.dataBuffer/offset"))
        skt.room = 0
        connection.write(b"stuck")
        connection.doWrite()
        self.assertFalse(_internals.can_send_now(connection), _twisted("FileDescriptor.dataBuffer/offset"))

    def test_closing_seen(self) -> None:
        connection, _ = self.connection(room=100)
        connection.loseWriteConnection()
        self.assertFalse(_internals.can_send_now(connection), _twisted("FileDescriptor._writeDisconnecting"))
        connection, _ = self.connection(room=100)
        connection.loseConnection()
        self.assertFalse(_internals.can_send_now(connection), _twisted("FileDescriptor.disconnecting"))
        connection, _ = self.connection(room=100)
        self.assertFalse(connection._aborting, _twisted("tcp.Connection._aborting"))
        self.assertFalse(connection.TLS, _twisted("tcp.Connection.TLS"))
        connection._aborting = True
        self.assertFalse(_internals.can_send_now(connection))

    def test_pull_producer_seen(self) -> None:
        connection, _ = self.connection(room=100)
        connection.registerProducer(_internals._NO_PRODUCER, True)
        self.assertTrue(_internals.can_send_now(connection), _twisted("FileDescriptor.streamingProducer"))
        connection.unregisterProducer()

        class Pull:
            def resumeProducing(self) -> None:
                pass

            def stopProducing(self) -> None:
                pass

        connection.registerProducer(Pull(), False)
        self.assertFalse(_internals.can_send_now(connection), _twisted("FileDescriptor.streamingProducer"))

    def test_send_some(self) -> None:
        connection, skt = self.connection(room=4)
        self.assertEqual(_internals.send_some(connection, b"abcdef"), 4, _twisted("tcp.Connection.writeSomeData"))
        self.assertEqual(_internals.send_some(connection, b"ef"), 0, _twisted("tcp.Connection.writeSomeData"))
        skt.error = ConnectionResetError(errno.ECONNRESET, "reset")
        self.assertIsInstance(
            _internals.send_some(connection, b"ef"), ConnectionLost, _twisted("tcp.Connection.writeSomeData")
        )


class _TakeOver(Resource):
    isLeaf = True

    def __init__(self, protocol: Protocol) -> None:
        Resource.__init__(self)
        self.protocol = protocol

    def render(self, request: Any) -> int:
        take_over(request, self.protocol)
        return NOT_DONE_YET


class TwistedChannelTests(unittest.SynchronousTestCase):
    """
    The HTTP channel hands over the bytes read with the request
    (C{rawDataReceived} shadowed) and its hold on the connection
    (C{_networkProducer}).
    """

    def channel(self, protocol: Protocol) -> Tuple[HTTPChannel, StringTransport]:
        channel = HTTPChannel()
        channel.site = Site(_TakeOver(protocol))  # type: ignore[attr-defined]
        channel.requestFactory = channel.site.requestFactory  # type: ignore[attr-defined]
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def test_network_producer_is_the_transport(self) -> None:
        channel, transport = self.channel(Keep())
        self.assertIs(channel._networkProducer, transport, _twisted("HTTPChannel._networkProducer"))
        channel.connectionLost(None)

    def test_bytes_after_the_request_go_to_the_new_protocol(self) -> None:
        keep = Keep()
        channel, transport = self.channel(keep)
        channel.dataReceived(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01key3")
        self.assertEqual(b"".join(keep.data), b"\x00\x01key3", _twisted("HTTPChannel.rawDataReceived"))
        self.assertEqual(transport.value(), b"", _twisted("HTTPChannel.rawDataReceived"))
        self.assertIsNot(channel._networkProducer, transport, _twisted("HTTPChannel._networkProducer"))
        # the channel can no longer pause the connection it handed over
        channel.pauseProducing()
        self.assertEqual(transport.producerState, "producing", _twisted("HTTPChannel._networkProducer"))


class TwistedRequestTests(unittest.SynchronousTestCase):
    def test_disconnected_flag(self) -> None:
        request = Request(DummyChannel())
        self.assertFalse(_internals.request_disconnected(request), _twisted("Request._disconnected"))
        request.connectionLost(None)
        self.assertTrue(_internals.request_disconnected(request), _twisted("Request._disconnected"))


class TwistedTLSTests(unittest.SynchronousTestCase):
    def test_tls_found_under_a_wrapper(self) -> None:
        try:
            from twisted.internet.ssl import optionsForClientTLS
            from twisted.protocols.tls import TLSMemoryBIOFactory
        except ImportError:
            raise unittest.SkipTest("no TLS support installed")
        factory = TLSMemoryBIOFactory(
            optionsForClientTLS("example.com"), True, Factory.forProtocol(Protocol)
        )
        tls = factory.buildProtocol(None)
        under = StringTransport()
        tls.makeConnection(under)
        self.assertIs(
            _internals.wrapped_transport(tls), under, _twisted("TLSMemoryBIOProtocol.transport")
        )
        self.assertTrue(_internals.is_tls(tls), _twisted("TLSMemoryBIOProtocol"))
        self.assertFalse(_internals.is_tls(under))


class TwistedMemoryIOTests(unittest.SynchronousTestCase):
    """
    L{txsockjs.testing} runs on C{twisted.test.iosim}'s transport pair and
    pump.
    """

    def test_pump_moves_bytes(self) -> None:
        from twisted.test.iosim import FakeTransport, IOPump

        client, server = Protocol(), Keep()
        client_io = FakeTransport(client, isServer=False)
        server_io = FakeTransport(server, isServer=True)
        client.makeConnection(client_io)
        server.makeConnection(server_io)
        pump = IOPump(client, server, client_io, server_io, False)
        client_io.write(b"hello")
        pump.pump()
        self.assertEqual(server.data, [b"hello"], _twisted("twisted.test.iosim"))


class TwistedHTTPChannelStateTests(unittest.SynchronousTestCase):
    def test_waiting_for_transport(self) -> None:
        """
        A channel whose connection's buffer is full says so: the streaming
        receivers' write timeout tells a stuck finished response from one
        that drained.
        """
        channel = HTTPChannel()
        channel.makeConnection(StringTransport())
        self.assertFalse(
            _internals.channel_waiting_for_transport(channel), _twisted("HTTPChannel._waitingForTransport")
        )
        channel.pauseProducing()
        self.assertTrue(
            _internals.channel_waiting_for_transport(channel), _twisted("HTTPChannel._waitingForTransport")
        )
        channel.resumeProducing()
        self.assertFalse(
            _internals.channel_waiting_for_transport(channel), _twisted("HTTPChannel._waitingForTransport")
        )
        channel.connectionLost(None)


class TwistedEndpointParserTests(unittest.SynchronousTestCase):
    def test_tcp_parser(self) -> None:
        """
        Twisted's parser of C{tcp:} descriptions is found, and takes the
        keywords the C{sockjs:} endpoint's help names.
        """
        import inspect

        parser = _internals.server_endpoint_parser("TCP")
        self.assertIsNotNone(parser, _twisted("twisted.internet.endpoints._serverParsers"))
        assert parser is not None
        names = set(inspect.signature(parser).parameters)
        self.assertTrue({"interface", "backlog"} <= names, _twisted("_serverParsers['tcp']"))


class _Where(Resource):
    """
    Answers with where twisted.web routed the request.
    """

    isLeaf = True

    def render(self, request: Any) -> bytes:
        return repr((request.prepath, request.postpath)).encode()


def _answer(site: Site, request: bytes) -> bytes:
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(request)
    return transport.value()


def _head_and_body(answer: bytes) -> Tuple[List[bytes], bytes]:
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    # (Date aside: the two answers may straddle a second)
    return [line for line in lines if not line.lower().startswith(b"date:")], body


class TwistedRequestProcessTests(unittest.SynchronousTestCase):
    """
    C{SockJSRequest.process} answers as C{server.Request.process} does.
    """

    def both(self, resource: Resource, request: bytes) -> Tuple[bytes, bytes]:
        # (their own clock: no idle timer left in the global reactor)
        plain = Site(resource, reactor=Clock())
        ours = Site(resource, requestFactory=SockJSRequest, reactor=Clock())
        return _answer(plain, request), _answer(ours, request)

    def test_same_answer(self) -> None:
        root = Resource()
        root.putChild(b"a", _Where())
        root.putChild(b"", _Where())
        for path in (b"/a/b%2Fc/d", b"/a", b"/a/", b"/"):
            twisted_answer, ours = self.both(root, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(_head_and_body(ours), _head_and_body(twisted_answer), _twisted("server.Request.process"))
            self.assertEqual(ours.lower().count(b"\r\ndate: "), 1, _twisted("server.Request.process"))

    def test_star(self) -> None:
        twisted_answer, ours = self.both(Resource(), b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(_head_and_body(ours), _head_and_body(twisted_answer), _twisted("server.Request.process"))

    def test_encoder(self) -> None:
        root = Resource()
        root.putChild(b"z", EncodingResourceWrapper(_Where(), [GzipEncoderFactory()]))
        request = b"GET /z/y HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
        twisted_answer, ours = self.both(root, request)
        self.assertIn(b"content-encoding: gzip", ours.lower(), _twisted("resource._IEncodingResource"))
        self.assertEqual(_head_and_body(ours), _head_and_body(twisted_answer), _twisted("Request._encoder"))


class TwistedChannelTimerTests(unittest.SynchronousTestCase):
    def test_idle_timeout_through_call_later(self) -> None:
        clock = Clock()
        site = Site(Resource(), reactor=clock)
        site.timeOut = 30
        protocol = site.buildProtocol(None)
        calls: List[Any] = []

        def call_later(delay: float, f: Any, *args: Any, **kw: Any) -> Any:
            calls.append(delay)
            return clock.callLater(delay, f, *args, **kw)

        protocol.callLater = call_later
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(calls, [30], _twisted("HTTPChannel.callLater"))
        clock.advance(30)
        self.assertTrue(transport.disconnecting, _twisted("HTTPChannel.callLater"))


class TwistedHeadersTests(unittest.SynchronousTestCase):
    def test_prepared_headers_are_set_headers(self) -> None:
        names = [b"cache-control", b"content-type", b"Server", b"etag", b"x-custom"]
        ours = Request(DummyChannel())
        theirs = Request(DummyChannel())
        for name in names:
            ours.responseHeaders.setRawHeaders(name, [b"old"])
            theirs.responseHeaders.setRawHeaders(name, [b"old"])
            _internals.set_prepared(ours, prepared(name, b"v " + name))
            theirs.responseHeaders.setRawHeaders(name, [b"v " + name])
        self.assertEqual(
            sorted(ours.responseHeaders.getAllRawHeaders()),
            sorted(theirs.responseHeaders.getAllRawHeaders()),
            _twisted("Headers._rawHeaders"),
        )
        for name in names:
            self.assertEqual(ours.responseHeaders.getRawHeaders(name), [b"v " + name], _twisted("Headers._rawHeaders"))

    def test_prepared_values_are_sanitised(self) -> None:
        self.assertEqual(prepared(b"x-a", b"b\r\nc")[1], b"b c")
