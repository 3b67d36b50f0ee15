"""
The message bus seam: L{MemoryBus}, broker URLs, how a twistd handler gets
the bus, and L{Rooms} fanning out to real sessions.
"""

from __future__ import annotations

from typing import Any, Dict, List

from twisted.internet import defer

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txsockjs import tap
from txsockjs.bus import (
    IMessageBus,
    ISubscription,
    MemoryBus,
    Subscription,
    bind_bus,
    bus_from_url,
    parse_broker,
)
from txsockjs.rooms import Rooms, decode_room_message, encode_room_message
from txsockjs._hub import SessionHub
from txsockjs.session import Session, SessionState

from ._helpers import Receiver, Recorder, request_info


class MemoryBusTests(SynchronousTestCase):
    def test_interface(self) -> None:
        bus = MemoryBus()
        self.assertTrue(verifyObject(IMessageBus, bus))
        sub = self.successResultOf(bus.subscribe("c", lambda m: None))
        self.assertTrue(verifyObject(ISubscription, sub))

    def test_publish_reaches_subscribers_of_that_channel_only(self) -> None:
        bus = MemoryBus()
        got: List[tuple] = []
        bus.subscribe("a", lambda m: got.append(("a1", m)))
        bus.subscribe("a", lambda m: got.append(("a2", m)))
        bus.subscribe("b", lambda m: got.append(("b", m)))
        self.assertIs(self.successResultOf(bus.publish("a", "hi \ud800")), True)
        self.assertEqual(got, [("a1", "hi \ud800"), ("a2", "hi \ud800")])

    def test_unsubscribe_and_close(self) -> None:
        bus = MemoryBus()
        got: List[str] = []
        sub = self.successResultOf(bus.subscribe("a", got.append))
        bus.subscribe("b", got.append)
        self.successResultOf(bus.unsubscribe(sub))
        bus.publish("a", "x")
        self.successResultOf(bus.close())
        bus.publish("b", "y")
        self.assertEqual(got, [])

    def test_failing_subscriber_does_not_stop_the_others(self) -> None:
        bus = MemoryBus()
        got: List[str] = []

        def broken(message: str) -> None:
            raise RuntimeError("boom")

        bus.subscribe("a", broken)
        bus.subscribe("a", got.append)
        bus.publish("a", "x")
        self.assertEqual(got, ["x"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_text_only(self) -> None:
        self.assertRaises(TypeError, MemoryBus().publish, "a", b"bytes")


class BrokerURLTests(SynchronousTestCase):
    def test_memory(self) -> None:
        for url in (None, "", "memory"):
            self.assertIsNone(parse_broker(url))
            self.assertIsInstance(bus_from_url(url), MemoryBus)

    def test_redis(self) -> None:
        self.assertEqual(parse_broker("redis://10.1.2.3:6380/4"), ("10.1.2.3", 6380, 4, None))
        self.assertEqual(parse_broker("redis://:pw@h"), ("h", 6379, 0, "pw"))
        bus = bus_from_url("redis://127.0.0.1:6390/2", Clock())
        self.assertTrue(verifyObject(IMessageBus, bus))
        self.assertEqual(bus.db, 2)
        self.assertFalse(bus.running)

    def test_bad(self) -> None:
        for url, words in (
            ("amqp://x", "expected memory or redis"),
            ("redis://h:port/0", "port is not a number"),
            ("redis://h:6379/zero", "database is a number"),
        ):
            with self.assertRaises(ValueError) as caught:
                parse_broker(url)
            self.assertIn(words, str(caught.exception))

    def test_twistd_rejects_a_bad_broker(self) -> None:
        config = tap.Options()
        with self.assertRaises(Exception) as caught:
            config.parseOptions(["--handler=tests._helpers.echo_factory", "--broker=amqp://x"])
        self.assertIn("expected memory or redis", str(caught.exception))


def factory_taking_bus(bus):
    made = Factory.forProtocol(Protocol)
    made.bus = bus
    return made


class FactoryTakingBus(Factory):
    protocol = Protocol

    def __init__(self, bus) -> None:
        self.bus = bus


class BindBusTests(SynchronousTestCase):
    """
    A twistd handler reaches the bus by taking a C{bus} argument.
    """

    def test_function_and_class_get_the_bus(self) -> None:
        bus = MemoryBus()
        for handler in ("tests.test_bus.factory_taking_bus", "tests.test_bus.FactoryTakingBus"):
            factory = tap.load_handler(handler, bus)
            self.assertIs(factory.bus, bus)

    def test_others_unchanged(self) -> None:
        bus = MemoryBus()
        factory = Factory.forProtocol(Protocol)
        self.assertIs(bind_bus(factory, bus), factory)
        self.assertIs(bind_bus(Recorder, bus), Recorder)
        self.assertIs(tap.load_handler("tests._helpers.echo_factory", bus).__class__, Factory)

    def test_service_carries_the_bus(self) -> None:
        config = tap.Options()
        config.parseOptions(["--mount", "/b=tests.test_bus.factory_taking_bus", "--listen", "tcp:0"])
        svc = tap.build_service(config, Clock())
        self.assertIsInstance(svc.bus, MemoryBus)
        self.assertIs(svc.resources["/b"].factory.bus, svc.bus)


class RoomsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.hub = SessionHub(self.clock, heartbeat_delay=25.0, disconnect_delay=5.0)
        self.bus = MemoryBus()

    def session(self, name: str) -> tuple:
        session = Session(name, Recorder(), self.hub, request_info(), "xhr_streaming")
        receiver = Receiver(session)
        session.attach(receiver)
        return session, receiver

    def test_publish_reaches_members_of_every_rooms_object_on_the_bus(self) -> None:
        """
        Two L{Rooms} on one bus stand for two processes: a message published
        in one reaches the members of the other, once.
        """
        here, there = Rooms(self.bus), Rooms(self.bus)
        s1, r1 = self.session("s1")
        s2, r2 = self.session("s2")
        s3, r3 = self.session("s3")
        self.successResultOf(here.join("lobby", s1))
        self.successResultOf(there.join("lobby", s2))
        self.successResultOf(there.join("other", s3))
        here.publish("lobby", "hi")
        self.assertEqual(r1.frames[-1], b'a["hi"]')
        self.assertEqual(r2.frames[-1], b'a["hi"]')
        self.assertEqual(r3.frames, [b"o"])
        self.assertEqual(here.members("lobby"), [s1])

    def test_frame_encoded_once_for_all_local_members(self) -> None:
        rooms = Rooms(self.bus)
        receivers = []
        for k in range(3):
            s, r = self.session(f"s{k}")
            rooms.join("r", s)
            receivers.append(r)
        rooms.publish("r", "x")
        frames = [r.frames[-1] for r in receivers]
        self.assertEqual(frames, [b'a["x"]'] * 3)
        self.assertTrue(all(f is frames[0] for f in frames))

    def test_one_subscription_made_at_creation(self) -> None:
        """
        A L{Rooms} subscribes once, to its namespace, when it is made; joins
        and leaves do not subscribe or unsubscribe; close() does.
        """
        rooms = Rooms(self.bus)
        self.assertEqual(self.bus._subs.channels(), ["rooms"])
        self.assertTrue(rooms.ready)
        s1, _ = self.session("s1")
        s2, _ = self.session("s2")
        rooms.join("r", s1)
        rooms.join("q", s2)
        rooms.leave("r", s1)
        rooms.leave_all(s2)
        self.assertEqual(self.bus._subs.channels(), ["rooms"])
        self.assertEqual(rooms.rooms_of(s2), set())
        self.assertEqual(rooms.members("r"), [])
        self.successResultOf(rooms.close())
        self.assertEqual(self.bus._subs.channels(), [])
        self.assertFalse(rooms.ready)

    def test_namespaces_do_not_mix(self) -> None:
        chat, game = Rooms(self.bus, "chat"), Rooms(self.bus, "game")
        s1, r1 = self.session("s1")
        s2, r2 = self.session("s2")
        chat.join("r", s1)
        game.join("r", s2)
        chat.publish("r", "chat only")
        self.assertEqual((r1.frames[-1], r2.frames), (b'a["chat only"]', [b"o"]))

    def test_wire_format(self) -> None:
        """
        Version 1: C{1:<len(room)>:<room><message>}; room names with colons
        and digits survive; other versions and garbage are dropped, logged.
        """
        self.assertEqual(encode_room_message("lobby", "hello"), "1:5:lobbyhello")
        for room, message in [("a:1:b", "2:x"), ("", ""), ("\ud800\u2028", "m\n")]:
            self.assertEqual(decode_room_message(encode_room_message(room, message)), (room, message))
        for bad in ["2:5:lobbyhello", "1:9:short", "1:x:abc", "1", "", "1:5"]:
            self.assertRaises(ValueError, decode_room_message, bad)
        seen: List[str] = []
        rooms = Rooms(self.bus)
        s1, r1 = self.session("s1")
        rooms.join("lobby", s1)
        observer = seen.append
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.bus.publish("rooms", "9:5:lobbyhello")
        self.assertEqual(r1.frames, [b"o"])
        self.assertTrue(any("dropped a message" in e.get("log_format", "") for e in seen))
        self.bus.publish("rooms", "1:5:lobbyhello")
        self.assertEqual(r1.frames[-1], b'a["hello"]')

    def test_closed_members_dropped(self) -> None:
        rooms = Rooms(self.bus)
        s1, r1 = self.session("s1")
        s2, r2 = self.session("s2")
        rooms.join("r", s1)
        rooms.join("r", s2)
        s1.close()
        self.assertIs(s1.state, SessionState.CLOSED)
        rooms.publish("r", "after")
        self.assertEqual(r2.frames[-1], b'a["after"]')
        self.assertNotIn(b'a["after"]', r1.frames)
        self.assertEqual(rooms.rooms_of(s1), set())

    def test_send_local(self) -> None:
        here, there = Rooms(self.bus), Rooms(self.bus)
        s1, r1 = self.session("s1")
        s2, r2 = self.session("s2")
        here.join("r", s1)
        there.join("r", s2)
        here.send_local("r", "mine")
        self.assertEqual(r1.frames[-1], b'a["mine"]')
        self.assertEqual(r2.frames, [b"o"])


@implementer(IMessageBus)
class SlowBus:
    """
    One process's bus on a shared in-memory broker whose subscriptions, as
    Redis's, become live one round trip (C{delay} on a L{Clock}) after
    C{subscribe}: until then, what other processes publish does not reach it.
    """

    lost = 0

    def __init__(self, broker: Dict[str, list], clock: Clock, delay: float = 0.05) -> None:
        self.broker = broker
        self.clock = clock
        self.delay = delay
        self.pending = 0

    @property
    def ready(self) -> bool:
        return self.pending == 0

    def when_ready(self) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()

        def check() -> None:
            if self.ready:
                d.callback(self)
            else:
                self.clock.callLater(self.delay, check)

        check()
        return d

    def publish(self, channel: str, message: str) -> defer.Deferred:
        for sub in list(self.broker.get(channel, ())):
            sub.callback(message)
        return defer.succeed(True)

    def subscribe(self, channel: str, callback: Any) -> defer.Deferred:
        sub = Subscription(channel, callback)
        self.pending += 1
        d: defer.Deferred = defer.Deferred()

        def live() -> None:
            self.pending -= 1
            self.broker.setdefault(channel, []).append(sub)
            d.callback(sub)

        self.clock.callLater(self.delay, live)
        return d

    def unsubscribe(self, subscription: Any) -> defer.Deferred:
        self.broker.get(subscription.channel, []).remove(subscription)
        return defer.succeed(None)

    def close(self) -> defer.Deferred:
        return defer.succeed(None)


class SubscriptionTimingTests(SynchronousTestCase):
    """
    The message-loss bug of issue 13's scale test: a process whose first
    session joined a room missed what another process published right after,
    because the room's subscription was made at that first join and became
    live a round trip later.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.hub = SessionHub(self.clock, heartbeat_delay=25.0, disconnect_delay=5.0)
        broker: Dict[str, list] = {}
        self.bus_a = SlowBus(broker, self.clock)
        self.bus_b = SlowBus(broker, self.clock)
        self.assertTrue(verifyObject(IMessageBus, self.bus_a))

    def session(self, name: str) -> tuple:
        session = Session(name, Recorder(), self.hub, request_info(), "xhr_polling")
        receiver = Receiver(session)
        session.attach(receiver)
        return session, receiver

    def test_publish_right_after_first_join_is_delivered(self) -> None:
        """
        Process A starts (its L{Rooms} made with its factory) and becomes
        ready; its first session joins; process B publishes at once, before
        any subscription could complete: the session gets it.
        """
        here = Rooms(self.bus_a)
        there = Rooms(self.bus_b)
        ready = here.when_ready()
        self.assertNoResult(ready)
        self.assertFalse(here.ready)
        self.clock.advance(0.05)
        self.successResultOf(ready)
        self.assertTrue(here.ready)

        s1, r1 = self.session("s1")
        self.successResultOf(here.join("all", s1))  # at once: already live
        there.publish("all", "from b")
        self.assertEqual(r1.frames, [b"o", b'a["from b"]'])

    def test_join_before_ready_waits(self) -> None:
        """
        A join before the subscription is live fires only once it is (what
        the health check's 503 keeps balancers from doing).
        """
        here = Rooms(self.bus_a)
        s1, r1 = self.session("s1")
        joined = here.join("all", s1)
        self.assertNoResult(joined)
        self.clock.advance(0.05)
        self.successResultOf(joined)
        Rooms(self.bus_b).publish("all", "late")
        self.assertEqual(r1.frames[-1], b'a["late"]')

    def test_health_answers_503_until_bus_ready(self) -> None:
        from treq.testing import StubTreq

        from txsockjs.health import Health

        Rooms(self.bus_a)
        http = StubTreq(Health([], bus=self.bus_a))

        def get() -> tuple:
            response = self.successResultOf(http.get("http://h/"))
            return response.code, self.successResultOf(response.text())

        self.assertEqual(get(), (503, "starting\nbus down\nsessions 0\n"))
        self.clock.advance(0.05)
        self.assertEqual(get(), (200, "serving\nbus up\nsessions 0\n"))
        # a later outage (here: a subscription on its way) keeps serving
        self.bus_a.subscribe("other", lambda m: None)
        self.assertEqual(get(), (200, "serving\nbus down\nsessions 0\n"))
