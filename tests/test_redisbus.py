"""
L{RedisBus} driven by a L{MemoryReactorClock}: the real txredisapi protocols
over in-memory transports, with the Redis side scripted, so that every
connection attempt, failure, backoff delay and re-subscription is seen and
timed exactly. tests/test_scale_redis.py runs the same bus against a real
redis-server.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from twisted.application.internet import backoffPolicy
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txsockjs._redisbus import RedisBus, _Subscriber
from txsockjs.bus import IMessageBus


def bulk(*items: bytes) -> bytes:
    out = b"*%d\r\n" % len(items)
    for item in items:
        out += b"$%d\r\n%s\r\n" % (len(item), item)
    return out


def command(*items: bytes) -> bytes:
    return bulk(*items)


class Conn:
    """
    One connection the bus made: its protocol (as the endpoint wraps it) and
    what it wrote.
    """

    def __init__(self, wrapper: Any, transport: StringTransport, clock: Any) -> None:
        self.wrapper = wrapper
        self.transport = transport
        self.clock = clock

    def written(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def reply(self, data: bytes) -> None:
        self.wrapper.dataReceived(data)
        # txredisapi finishes a packet after a bulk reply on the next turn
        self.clock.advance(0)

    def lose(self) -> None:
        self.transport.disconnecting = True
        self.wrapper.connectionLost(Failure(ConnectionDone()))


class RedisBusClockTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.bus = RedisBus(
            TCP4ClientEndpoint(self.reactor, "127.0.0.1", 6379),
            db=3,
            clock=self.reactor,
            retry_policy=backoffPolicy(initialDelay=0.05, factor=2.0, maxDelay=1.0, jitter=lambda: 0),
        )
        self.seen = 0
        self.bus.startService()

    def attempts(self) -> List[Tuple[str, Any]]:
        """
        The connection attempts made since the last call, by kind.
        """
        new = self.reactor.tcpClients[self.seen :]
        self.seen = len(self.reactor.tcpClients)
        out = []
        for host, port, factory, timeout, bind in new:
            self.assertEqual((host, port), ("127.0.0.1", 6379))
            kind = factory._wrappedFactory.protocol
            out.append(("sub" if kind is _Subscriber else "pub", factory))
        return sorted(out, key=lambda pair: pair[0])

    def refuse(self, attempts: List[Tuple[str, Any]]) -> None:
        for _, factory in attempts:
            factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))

    def accept(self, attempts: List[Tuple[str, Any]]) -> dict:
        conns = {}
        for kind, factory in attempts:
            wrapper = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 6379))
            transport = StringTransport()
            wrapper.makeConnection(transport)
            conns[kind] = Conn(wrapper, transport, self.reactor)
        return conns

    def delays(self) -> List[float]:
        return sorted(round(c.getTime() - self.reactor.seconds(), 6) for c in self.reactor.getDelayedCalls())

    def connect(self) -> dict:
        conns = self.accept(self.attempts())
        self.assertTrue(self.bus.connected)
        return conns

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IMessageBus, self.bus))

    def test_subscribe_publish_receive(self) -> None:
        """
        SUBSCRIBE and PUBLISH go to Redis with the database folded into the
        channel name; messages from Redis reach the callback as text, lone
        surrogates included.
        """
        conns = self.connect()
        self.assertTrue(self.bus.ready)
        got: List[str] = []
        d = self.bus.subscribe("lobby", got.append)
        self.assertEqual(conns["sub"].written(), command(b"SUBSCRIBE", b"txsockjs:3:lobby"))
        self.assertNoResult(d)
        # a SUBSCRIBE on its way: connected, not ready
        self.assertTrue(self.bus.connected)
        self.assertFalse(self.bus.ready)
        live = self.bus.when_ready()
        self.assertNoResult(live)
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:lobby"))
        self.successResultOf(d)
        self.assertTrue(self.bus.ready)
        self.assertIs(self.successResultOf(live), self.bus)

        p = self.bus.publish("lobby", "hi \ud800")
        self.assertEqual(
            conns["pub"].written(),
            command(b"PUBLISH", b"txsockjs:3:lobby", "hi \ud800".encode("utf-8", "surrogatepass")),
        )
        conns["pub"].reply(b":2\r\n")
        self.assertIs(self.successResultOf(p), True)
        conns["sub"].reply(bulk(b"message", b"txsockjs:3:lobby", "hi \ud800".encode("utf-8", "surrogatepass")))
        conns["sub"].reply(bulk(b"message", b"txsockjs:4:lobby", b"other db"))
        conns["sub"].reply(bulk(b"message", b"txsockjs:3:lobby", b"42"))
        self.assertEqual(got, ["hi \ud800", "42"])
        self.assertEqual(self.bus.lost, 0)

    def test_reconnect_with_backoff_and_restore_subscriptions(self) -> None:
        """
        Redis goes away: publishing reaches this process only and is counted;
        reconnection waits 0.1, 0.2, 0.4 s (the policy) between attempts;
        once back, every channel is subscribed again before the bus says it
        is connected, and messages flow again.
        """
        conns = self.connect()
        got: List[str] = []
        self.bus.subscribe("a", got.append)
        self.bus.subscribe("b", got.append)
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:a"))
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:b"))
        conns["sub"].lose()
        conns["pub"].lose()
        self.assertFalse(self.bus.connected)

        self.assertIs(self.successResultOf(self.bus.publish("a", "during")), False)
        self.assertEqual(self.bus.lost, 1)
        self.assertEqual(got, ["during"])
        self.flushLoggedErrors()

        self.assertEqual(self.delays(), [0.1, 0.1])
        for wait in (0.1, 0.2, 0.4):
            self.assertEqual(self.attempts(), [])
            self.reactor.advance(wait)
            attempts = self.attempts()
            self.assertEqual([kind for kind, _ in attempts], ["pub", "sub"])
            if wait < 0.4:
                self.refuse(attempts)
                self.assertEqual(self.delays(), [wait * 2, wait * 2])
        conns = self.accept(attempts)
        written = conns["sub"].written()
        self.assertEqual(written, command(b"SUBSCRIBE", b"txsockjs:3:a", b"txsockjs:3:b"))
        self.assertFalse(self.bus.connected)
        waiting = self.bus.when_connected()
        self.assertNoResult(waiting)
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:a"))
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:b"))
        self.assertTrue(self.bus.connected)
        self.successResultOf(waiting)
        self.assertEqual(self.bus.connects, 2)
        conns["sub"].reply(bulk(b"message", b"txsockjs:3:b", b"after"))
        self.assertEqual(got, ["during", "after"])
        self.assertEqual(self.delays(), [])

    def test_subscribe_while_down_is_made_on_connection(self) -> None:
        self.refuse(self.attempts())
        got: List[str] = []
        d = self.bus.subscribe("late", got.append)
        self.successResultOf(d)
        live = self.bus.when_ready()
        self.reactor.advance(0.1)
        conns = self.accept(self.attempts())
        self.assertEqual(conns["sub"].written(), command(b"SUBSCRIBE", b"txsockjs:3:late"))
        # ready only once Redis confirmed it
        self.assertNoResult(live)
        self.assertFalse(self.bus.ready)
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:late"))
        self.assertTrue(self.bus.ready)
        self.successResultOf(live)

    def test_unsubscribe_last_callback(self) -> None:
        conns = self.connect()
        d1 = self.bus.subscribe("a", lambda m: None)
        self.assertEqual(conns["sub"].written(), command(b"SUBSCRIBE", b"txsockjs:3:a"))
        conns["sub"].reply(bulk(b"subscribe", b"txsockjs:3:a"))
        s1 = self.successResultOf(d1)
        s2 = self.successResultOf(self.bus.subscribe("a", lambda m: None))
        self.assertEqual(conns["sub"].written(), b"")
        self.bus.unsubscribe(s1)
        self.assertEqual(conns["sub"].written(), b"")
        self.bus.unsubscribe(s2)
        self.assertEqual(conns["sub"].written(), command(b"UNSUBSCRIBE", b"txsockjs:3:a"))

    def test_close_stops_reconnecting(self) -> None:
        conns = self.connect()
        d = self.bus.close()
        for conn in conns.values():
            conn.lose()
        self.successResultOf(d)
        self.reactor.advance(10)
        self.assertEqual(self.attempts(), [])
        self.assertEqual(self.delays(), [])
