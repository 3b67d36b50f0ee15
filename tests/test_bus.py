"""
The message bus seam: L{MemoryBus}, broker URLs, how a twistd handler gets
the bus, and L{Rooms} fanning out to real sessions.
"""

from __future__ import annotations

from typing import List

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txsockjs import tap
from txsockjs.bus import IMessageBus, ISubscription, MemoryBus, bind_bus, bus_from_url, parse_broker
from txsockjs.rooms import Rooms
from txsockjs.session import Session, SessionHub, SessionState

from .test_session import Receiver, Recorder, _info


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
            config.parseOptions(["--handler=tests.test_tap.echo_factory", "--broker=amqp://x"])
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
        self.assertIs(tap.load_handler("tests.test_tap.echo_factory", bus).__class__, Factory)

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
        session = Session(name, Recorder(), self.hub, _info(), "xhr_streaming")
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

    def test_last_member_out_unsubscribes(self) -> None:
        rooms = Rooms(self.bus)
        s1, _ = self.session("s1")
        s2, _ = self.session("s2")
        rooms.join("r", s1)
        rooms.join("r", s2)
        self.assertEqual(self.bus._subs.channels(), ["room:r"])
        rooms.leave("r", s1)
        self.assertEqual(self.bus._subs.channels(), ["room:r"])
        rooms.leave_all(s2)
        self.assertEqual(self.bus._subs.channels(), [])
        self.assertEqual(rooms.rooms_of(s2), set())

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
