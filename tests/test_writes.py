"""
Try-write-first (txsockjs._writes) on real sockets on 127.0.0.1: the wire
is the point (what the kernel takes, what Twisted buffers, in what order).
"""

from __future__ import annotations

import gc
import socket
import struct
from typing import Any, List, Optional

from twisted.internet import defer, reactor
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial import unittest
from twisted.web.resource import Resource

from txsockjs._site import SockJSSite
from txsockjs._writes import GATHER_LIMIT, gathering, writers_for

from ._helpers import bounded, fired_when

WAIT = 10.0


class Reader(Protocol):
    """
    A client that keeps what it gets; it can stop reading (C{hold}).
    """

    def __init__(self, rcvbuf: Optional[int] = None) -> None:
        self.rcvbuf = rcvbuf
        self.data = b""
        self.made: defer.Deferred = defer.Deferred()
        self.lost: defer.Deferred = defer.Deferred()
        self._checks: List[Any] = []

    def until(self, predicate: Any) -> defer.Deferred:
        """
        Fires (bounded) once C{predicate()} holds, checked as data arrives.
        """
        d, check = fired_when(predicate)
        self._checks.append(check)
        return bounded(d, WAIT)

    def _changed(self) -> None:
        for check in list(self._checks):
            check()

    def connectionMade(self) -> None:
        if self.rcvbuf is not None:
            self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        self.made.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._changed()

    def connectionLost(self, reason: Any) -> None:
        self.reason = reason
        self.lost.callback(None)
        self._changed()


class Served(Protocol):
    """
    The server side of a plain connection with the try-write-first writer.
    """

    def __init__(self, owner: "WireCase") -> None:
        self.owner = owner
        self.lost: defer.Deferred = defer.Deferred()

    def connectionMade(self) -> None:
        self.write, self.writeSequence = writers_for(self.transport)
        self.owner.served.put(self)

    def connectionLost(self, reason: Any) -> None:
        self.reason = reason
        self.lost.callback(None)


class Counting:
    """
    Counts a transport's C{startWriting} (registration for writability) and
    C{writeSomeData} (sends).
    """

    def __init__(self, transport: Any) -> None:
        self.registrations = 0
        self.sends = 0
        start, send = transport.startWriting, transport.writeSomeData

        def startWriting() -> None:
            self.registrations += 1
            start()

        def writeSomeData(data: bytes) -> Any:
            self.sends += 1
            return send(data)

        transport.startWriting = startWriting
        transport.writeSomeData = writeSomeData


class WireCase(unittest.TestCase):
    def setUp(self) -> None:
        self.served: defer.DeferredQueue = defer.DeferredQueue()
        factory = Factory.forProtocol(lambda: Served(self))
        self.port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def connect(self, rcvbuf: Optional[int] = None, sndbuf: Optional[int] = None) -> Any:
        reader = Reader(rcvbuf)
        factory = ClientFactory.forProtocol(lambda: reader)
        connector = reactor.connectTCP("127.0.0.1", self.port.getHost().port, factory)
        self.addCleanup(connector.disconnect)
        yield reader.made
        server = yield bounded(self.served.get(), WAIT)
        if sndbuf is not None:
            server.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        return reader, server


class TryWriteFirstTests(WireCase):
    @defer.inlineCallbacks
    def test_sent_at_once(self):
        """
        With nothing buffered, a write leaves in the call itself: no
        registration for writability.
        """
        reader, server = yield self.connect()
        counting = Counting(server.transport)
        server.write(b"hello")
        self.assertEqual((counting.sends, counting.registrations), (1, 0))
        yield reader.until(lambda: reader.data == b"hello")

    @defer.inlineCallbacks
    def test_gathered_while_handling(self):
        """
        Writes made while L{gathering} handlers run leave at the end of the
        reactor turn, in one send on every connection written to, however
        many handlers wrote to it.
        """
        reader1, server1 = yield self.connect()
        reader2, server2 = yield self.connect()
        counts = [Counting(server1.transport), Counting(server2.transport)]

        def handle(data: bytes) -> None:
            server1.writeSequence([b"HTTP", b"/1.1 "])
            server2.write(b"other ")
            server1.write(b"200")
            server2.write(b"side")
            self.assertEqual(counts[0].sends + counts[1].sends, 0)

        gathering(handle)(b"request")
        gathering(lambda data: server2.write(b" again"))(b"another read, same turn")
        self.assertEqual([(c.sends, c.registrations) for c in counts], [(0, 0), (0, 0)])
        yield reader1.until(lambda: reader1.data == b"HTTP/1.1 200")
        yield reader2.until(lambda: reader2.data == b"other side again")
        self.assertEqual([(c.sends, c.registrations) for c in counts], [(1, 0), (1, 0)])

    @defer.inlineCallbacks
    def test_later_write_in_the_same_turn_keeps_order(self):
        """
        A write made outside any handler while gathered bytes wait for the
        end of the turn goes behind them, not ahead.
        """
        reader, server = yield self.connect()
        counting = Counting(server.transport)
        gathering(lambda data: server.write(b"first "))(b"x")
        server.write(b"second")
        self.assertEqual(counting.sends, 0)
        yield reader.until(lambda: reader.data == b"first second")
        self.assertEqual(counting.sends, 1)

    @defer.inlineCallbacks
    def test_gathered_writes_leave_even_if_the_handler_fails(self):
        reader, server = yield self.connect()

        def handle(data: bytes) -> None:
            server.write(b"before the error")
            raise ValueError("boom")

        self.assertRaises(ValueError, gathering(handle), b"x")
        yield reader.until(lambda: reader.data == b"before the error")

    @defer.inlineCallbacks
    def test_fan_out_leaves_the_garbage_collector_alone(self):
        """
        Broadcasts gather a chunk or two on each of many connections until
        the end of the turn, and that must not count towards the garbage
        collector's next pass: an object it tracks (a list) per connection
        did, and with 1000 websocket sessions made a full collection (tens
        of milliseconds, every delivery waiting) land in fan-outs.
        """
        pairs = []
        for _ in range(40):
            pair = yield self.connect()
            pairs.append(pair)
        frame = b"\x81\x05a[\"x\"]"
        growth = []

        def broadcast(data: bytes) -> None:
            before = gc.get_count()[0]
            for _ in range(2):
                for reader, server in pairs:
                    server.write(frame)
            growth.append(gc.get_count()[0] - before)

        if gc.isenabled():
            # (a collection in the middle would reset the count)
            gc.disable()
            self.addCleanup(gc.enable)
        gathering(broadcast)(b"x")
        self.assertLess(growth[0], len(pairs) // 4)
        for reader, server in pairs:
            yield reader.until(lambda reader=reader: reader.data == frame * 2)

    @defer.inlineCallbacks
    def test_large_gathered_writes_leave_early(self):
        """
        Past L{GATHER_LIMIT} gathered bytes the writes leave at once, so a
        handler that writes a lot fills Twisted's buffer (and pauses its
        producer) instead of a list Twisted cannot see.
        """
        reader, server = yield self.connect()
        counting = Counting(server.transport)
        chunk = b"x" * 1000
        sends_seen = []

        def handle(data: bytes) -> None:
            for _ in range(GATHER_LIMIT // len(chunk) + 2):
                server.write(chunk)
            sends_seen.append(counting.sends)

        gathering(handle)(b"x")
        self.assertEqual(sends_seen, [1])
        total = len(chunk) * (GATHER_LIMIT // len(chunk) + 2)
        yield reader.until(lambda: len(reader.data) == total)

    @defer.inlineCallbacks
    def test_partial_write_keeps_order(self):
        """
        A full socket (small send buffer, a client that does not read): the
        kernel takes part of a write, Twisted buffers the rest, and later
        writes queue behind it; every byte arrives once, in order.
        """
        reader, server = yield self.connect(sndbuf=4096)
        reader.transport.pauseProducing()
        counting = Counting(server.transport)
        # 100 KiB each (under Twisted's SEND_LIMIT: a partial send is the kernel's doing)
        blocks = [struct.pack(">I", n) * 25600 for n in range(16)]
        written = 0
        while not server.transport._tempDataLen and written < 12:
            server.write(blocks[written])
            written += 1
        # each write went straight to the kernel until one did not fit
        self.assertEqual(counting.sends, written)
        self.assertEqual(counting.registrations, 1)
        self.assertGreater(server.transport._tempDataLen, 0)
        self.assertLess(server.transport._tempDataLen, len(blocks[0]))
        server.write(blocks[written])
        # behind the buffered bytes: no send tried before they drain
        self.assertEqual(counting.sends, written)
        gathering(lambda data: server.writeSequence(blocks[written + 1 :]))(b"x")
        self.assertEqual(counting.sends, written)
        reader.transport.resumeProducing()
        expected = b"".join(blocks)
        yield reader.until(lambda: len(reader.data) >= len(expected))
        self.assertEqual(reader.data, expected)

    @defer.inlineCallbacks
    def test_closed_mid_write(self):
        """
        The client goes away (reset) while part of a write is buffered: later
        writes are dropped quietly and the server protocol hears of the loss.
        """
        reader, server = yield self.connect(rcvbuf=4096, sndbuf=4096)
        reader.transport.pauseProducing()
        server.write(b"y" * 200000)
        self.assertGreater(server.transport._tempDataLen, 0)
        reader.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reader.transport.abortConnection()
        yield reader.lost
        for _ in range(5):
            server.write(b"z" * 1000)
            gathering(lambda data: server.write(b"more"))(b"x")
        yield server.lost.addTimeout(WAIT, reactor)
        self.assertFalse(server.transport.connected)
        self.assertTrue(server.reason.check(Exception))

    @defer.inlineCallbacks
    def test_reset_before_write(self):
        """
        A write to a connection the client has reset: the send fails, and
        Twisted's own path closes the connection as it would have.
        """
        reader, server = yield self.connect()
        reader.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reader.transport.abortConnection()
        yield reader.lost
        server.write(b"into the void")
        server.write(b"and more")
        yield bounded(server.lost, WAIT)
        self.assertFalse(server.transport.connected)

    @defer.inlineCallbacks
    def test_lose_connection_after_gathered_write(self):
        """
        C{loseConnection} in the same handler as a write: the bytes still go
        out before the connection closes.
        """
        reader, server = yield self.connect()

        def handle(data: bytes) -> None:
            server.write(b"last words")
            server.transport.loseConnection()

        gathering(handle)(b"x")
        yield reader.lost.addTimeout(WAIT, reactor)
        self.assertEqual(reader.data, b"last words")

    @defer.inlineCallbacks
    def test_half_close_keeps_twisteds_path(self):
        reader, server = yield self.connect()
        server.write(b"answer")
        server.transport.loseWriteConnection()
        counting = Counting(server.transport)
        server.write(b" and more")
        self.assertEqual(counting.sends, 0)  # Twisted's buffer, before its shutdown
        yield reader.until(lambda: reader.data == b"answer and more")

    @defer.inlineCallbacks
    def test_streaming_producer_paused_and_resumed(self):
        """
        A streaming producer on the transport is paused when the kernel and
        Twisted's buffer are full, and resumed once the client reads.
        """
        reader, server = yield self.connect(sndbuf=4096)
        reader.transport.pauseProducing()
        events: List[str] = []

        class Producer:
            def pauseProducing(self) -> None:
                events.append("pause")

            def resumeProducing(self) -> None:
                events.append("resume")

            def stopProducing(self) -> None:
                events.append("stop")

        server.transport.registerProducer(Producer(), True)
        for _ in range(20):
            server.write(b"p" * 16384)
        self.assertEqual(set(events), {"pause"})  # (Twisted pauses on every write while full)
        reader.transport.resumeProducing()
        yield reader.until(lambda: len(reader.data) == 20 * 16384)
        # (the server resumes its producer as its buffer empties, before the
        # client reads the last bytes)
        self.assertIn("resume", events)

    @defer.inlineCallbacks
    def test_pull_producer_keeps_twisteds_path(self):
        """
        A pull producer is asked for more when Twisted's buffer drains:
        writes keep Twisted's path so that it is asked.
        """
        reader, server = yield self.connect()
        chunks = [b"one ", b"two ", b"three"]

        class Pull:
            def resumeProducing(self) -> None:
                if chunks:
                    server.write(chunks.pop(0))
                else:
                    server.transport.unregisterProducer()

            def stopProducing(self) -> None:
                pass

        server.transport.registerProducer(Pull(), False)
        yield reader.until(lambda: reader.data == b"one two three")

    @defer.inlineCallbacks
    def test_only_bytes(self):
        reader, server = yield self.connect()
        self.assertRaises(TypeError, server.write, "text")
        self.assertRaises(TypeError, server.writeSequence, [b"ok", "text"])
        server.write(b"")
        self.assertEqual(server.transport._tempDataLen, 0)


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return b"hello " + request.getHost().host.encode()


def self_signed() -> Any:
    from .test_client_live import self_signed as make

    return make()


class SiteTests(unittest.TestCase):
    """
    The writer as L{SockJSSite} installs it.
    """

    def listen(self, tls: bool = False) -> Any:
        self.guards: List[Any] = []
        self.on_guard = self.guards.append
        site = SockJSSite(Hello())
        build = site.buildProtocol

        def buildProtocol(addr: Any) -> Any:
            guard = build(addr)
            self.on_guard(guard)
            return guard

        site.buildProtocol = buildProtocol  # type: ignore[method-assign]
        factory: Any = site
        if tls:
            self.certificate, private = self_signed()
            factory = TLSMemoryBIOFactory(private.options(), False, site)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @defer.inlineCallbacks
    def get_twice(self, port: int, tls: bool) -> Any:
        reader = Reader()
        factory: Any = ClientFactory.forProtocol(lambda: reader)
        if tls:
            from twisted.internet import ssl

            options = ssl.optionsForClientTLS("127.0.0.1", trustRoot=self.certificate)
            factory = TLSMemoryBIOFactory(options, True, factory)
        connector = reactor.connectTCP("127.0.0.1", port, factory)
        self.addCleanup(connector.disconnect)
        yield reader.made
        reader.transport.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
        yield reader.until(lambda: reader.data.count(b"hello 127.0.0.1") == 2)
        return reader

    @defer.inlineCallbacks
    def test_response_without_writability(self):
        """
        Two pipelined requests: each answer (headers and body, several
        writes) leaves in one send, none registers for writability, and the
        host address is asked of the socket once.
        """
        port = self.listen()
        counting: List[Counting] = []
        hosts = []
        build = self.on_guard

        def watch(guard: Any) -> None:
            build(guard)
            original = guard.makeConnection

            def makeConnection(transport: Any) -> None:
                counting.append(Counting(transport))
                real = transport.getHost

                def getHost() -> Any:
                    hosts.append(1)
                    return real()

                transport.getHost = getHost
                original(transport)

            guard.makeConnection = makeConnection

        self.on_guard = watch
        yield self.get_twice(port, tls=False)
        self.assertEqual(counting[0].registrations, 0)
        self.assertEqual(counting[0].sends, 1)  # both answers came out of one read
        self.assertEqual(len(hosts), 1)

    @defer.inlineCallbacks
    def test_tls(self):
        """
        Under TLS the guard writes to the TLS layer (no try-write-first
        underneath it), and answers arrive.
        """
        port = self.listen(tls=True)
        yield self.get_twice(port, tls=True)
        guard = self.guards[0]
        self.assertEqual(guard.write, guard.transport.write)
