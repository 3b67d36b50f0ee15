"""
The session state machine, driven by a Clock: queueing, the 2010 rule,
closing, heartbeats, the disconnect timer and exactly-once delivery.
"""

from __future__ import annotations

import json
from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txsockjs import IReceiver, ISockJSSession, SessionNotOpen, SessionState
from txsockjs.session import RequestInfo, Session, SessionHub


def _info() -> RequestInfo:
    return RequestInfo(
        method=b"POST",
        uri=b"/echo/0/s/xhr",
        path=b"/echo/0/s/xhr",
        headers=Headers(),
        peer=IPv4Address("TCP", "127.0.0.1", 40000),
        host=IPv4Address("TCP", "127.0.0.1", 8080),
        cookies={},
        is_secure=False,
    )


@implementer(IReceiver)
class Receiver:
    """
    A receiver as the HTTP transports behave: a poll takes one frame and
    detaches, a stream takes frames until closed.
    """

    def __init__(self, session: Session, polling: bool = False) -> None:
        self.session = session
        self.polling = polling
        self.frames: List[bytes] = []
        self.closed = False

    def send_frame(self, frame: bytes) -> None:
        assert not self.closed, "frame after close"
        self.frames.append(frame)
        if self.polling:
            self.closed = True
            self.session.detach(self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.detach(self)

    def heartbeat(self) -> None:
        self.send_frame(b"h")


class Recorder(Protocol):
    def __init__(self) -> None:
        self.received: List[bytes] = []
        self.made = 0
        self.lost: list = []

    def connectionMade(self) -> None:
        self.made += 1

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def connectionLost(self, reason=None) -> None:
        self.lost.append(reason)


class SessionTestsMixin:
    heartbeat_delay = 25.0
    disconnect_delay = 5.0

    def make(self, protocol=None):
        self.clock = Clock()
        self.forgotten: list = []
        self.protocol = protocol if protocol is not None else Recorder()
        self.hub = SessionHub(
            self.clock,
            heartbeat_delay=self.heartbeat_delay,
            disconnect_delay=self.disconnect_delay,
            on_forget=self.forgotten.append,
        )
        self.session = Session("s1", self.protocol, self.hub, _info(), "xhr")
        return self.session


class SessionTests(SessionTestsMixin, SynchronousTestCase):
    def test_interfaces(self):
        session = self.make()
        self.assertTrue(verifyObject(ISockJSSession, session))

    def test_first_receiver_gets_open_then_protocol_connects(self):
        session = self.make()
        self.assertIs(session.state, SessionState.OPENING)
        self.assertEqual(self.protocol.made, 0)
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b"o"])
        self.assertEqual(self.protocol.made, 1)
        self.assertIs(self.protocol.transport, session)
        self.assertIs(session.state, SessionState.OPEN)

    def test_queued_messages_arrive_in_one_frame_in_order(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        session.write(b"one")
        session.send("two")
        session.writeSequence([b"th", b"ree"])
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'a["one","two","three"]'])
        r2 = Receiver(session, polling=True)
        session.attach(r2)
        self.assertEqual(r2.frames, [], "nothing is delivered twice")

    def test_writes_in_one_turn_share_a_frame_on_a_stream(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.send("a")
        session.send("b")
        self.assertEqual(r.frames, [b"o"], "nothing sent before the turn ends")
        self.clock.advance(0)
        self.assertEqual(r.frames, [b"o", b'a["a","b"]'])

    def test_second_receiver_gets_2010_first_carries_on(self):
        session = self.make()
        first = Receiver(session)
        session.attach(first)
        second = Receiver(session)
        session.attach(second)
        self.assertEqual(second.frames, [b'c[2010,"Another connection still open"]'])
        self.assertTrue(second.closed)
        session.send("x")
        self.clock.advance(0)
        self.assertEqual(first.frames, [b"o", b'a["x"]'])

    def test_close_sends_frame_and_repeats_it(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        session.send("last")
        session.close(3000, "Go away!")
        self.assertEqual(self.protocol.lost, [], "connectionLost comes in the next turn")
        self.clock.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)
        self.assertIs(session.state, SessionState.CLOSING)
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'a["last"]'])
        for _ in range(2):
            r = Receiver(session, polling=True)
            session.attach(r)
            self.assertEqual(r.frames, [b'c[3000,"Go away!"]'])
        self.assertIs(session.state, SessionState.CLOSED)
        self.assertEqual(len(self.protocol.lost), 1, "connectionLost once")

    def test_send_after_close_raises_write_is_ignored(self):
        session = self.make()
        session.attach(Receiver(session))
        session.close()
        self.assertRaises(SessionNotOpen, session.send, "x")
        session.write(b"ignored")
        self.assertTrue(session.disconnecting)

    def test_send_takes_text_only(self):
        session = self.make()
        self.assertRaises(TypeError, session.send, b"bytes")

    def test_write_takes_bytes_only(self):
        session = self.make()
        self.assertRaises(TypeError, session.write, "text")
        session.write(bytearray(b"ok"))
        session.write(memoryview(b"ok"))
        session.write(memoryview(b"\xff!"))
        self.assertEqual(session._outbox, ["ok", "ok", "\ufffd!"])

    def test_untimed_session_is_forgotten_when_it_closes(self):
        session = self.make()
        ws = Session("w", Recorder(), self.hub, _info(), "websocket", timed=False)
        r = Receiver(ws)
        ws.attach(r)
        ws.close()
        self.assertEqual(self.forgotten, [ws])
        other = Session("w2", Recorder(), self.hub, _info(), "websocket", timed=False)
        r2 = Receiver(other)
        other.attach(r2)
        other.receiver_lost(r2, clean=True)
        self.assertEqual(self.forgotten, [ws, other])
        self.assertNotIn(session, self.forgotten)

    def test_clean_websocket_close_is_connection_done(self):
        from twisted.internet.error import ConnectionDone, ConnectionLost

        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.receiver_lost(r, clean=True)
        self.clock.advance(0)
        self.assertTrue(self.protocol.lost[0].check(ConnectionDone))
        other = self.make()
        r = Receiver(other)
        other.attach(r)
        other.receiver_lost(r)
        self.clock.advance(0)
        self.assertTrue(self.protocol.lost[0].check(ConnectionLost))

    def test_heartbeats_every_delay_on_attached_receiver(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        for _ in range(3):
            self.clock.advance(self.heartbeat_delay)
        self.assertEqual(r.frames, [b"o", b"h", b"h", b"h"])

    def test_one_heartbeat_timer_serves_every_session(self):
        session = self.make()
        other = Session("s2", Recorder(), self.hub, _info(), "xhr_streaming")
        r1, r2 = Receiver(session), Receiver(other)
        session.attach(r1)
        other.attach(r2)
        beats = [c for c in self.clock.getDelayedCalls() if getattr(c.func, "__name__", "") != "_expire"]
        self.assertEqual(len(beats), 1)
        self.clock.advance(self.heartbeat_delay)
        self.assertEqual((r1.frames[-1], r2.frames[-1]), (b"h", b"h"))
        session.close()
        other.close()
        self.clock.advance(self.heartbeat_delay)
        self.assertEqual(r2.frames[-1], b'c[3000,"Go away!"]')
        self.assertFalse(
            [c for c in self.clock.getDelayedCalls() if getattr(c.func, "__name__", "") != "_expire"],
            "the heartbeat timer stops when no session is open",
        )

    def test_heartbeat_ends_a_waiting_poll(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        r = Receiver(session, polling=True)
        session.attach(r)
        self.clock.advance(self.heartbeat_delay)
        self.assertEqual(r.frames, [b"h"])

    def test_no_heartbeat_after_close(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.close()
        self.clock.advance(self.heartbeat_delay * 2)
        self.assertEqual(r.frames, [b"o", b'c[3000,"Go away!"]'])
        self.assertEqual(self.forgotten, [session])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_disconnect_delay_without_receiver_closes_and_forgets(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        self.clock.advance(self.disconnect_delay - 0.1)
        self.assertEqual(self.forgotten, [])
        self.clock.advance(0.1)
        self.assertEqual(self.forgotten, [session])
        self.assertIs(session.state, SessionState.CLOSED)
        self.assertEqual(len(self.protocol.lost), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [], "no timer left behind")

    def test_attached_receiver_keeps_session_alive(self):
        session = self.make()
        session.attach(Receiver(session))
        for _ in range(10):
            self.clock.advance(self.disconnect_delay)
        self.assertEqual(self.forgotten, [])
        self.assertIs(session.state, SessionState.OPEN)

    def test_each_poll_restarts_the_disconnect_timer(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        for _ in range(5):
            self.clock.advance(self.disconnect_delay * 0.8)
            session.attach(Receiver(session, polling=True))
            session.send("keep")
            self.clock.advance(0)
        self.assertEqual(self.forgotten, [])

    def test_never_polled_session_expires(self):
        session = self.make()
        self.clock.advance(self.disconnect_delay)
        self.assertEqual(self.forgotten, [session])
        self.assertEqual(self.protocol.made, 0)
        self.assertEqual(self.protocol.lost, [], "a protocol never connected is not told")

    def test_closed_session_is_forgotten_after_delay(self):
        session = self.make()
        session.attach(Receiver(session))
        session.close()
        self.clock.advance(self.disconnect_delay)
        self.assertEqual(self.forgotten, [session])

    def test_receiver_lost_interrupts(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.receiver_lost(r)
        self.assertIs(session.state, SessionState.CLOSED)
        self.assertEqual(self.protocol.lost, [])
        self.clock.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)
        r2 = Receiver(session, polling=True)
        session.attach(r2)
        self.assertEqual(r2.frames, [b'c[1002,"Connection interrupted"]'])

    def test_lost_receiver_that_is_not_attached_changes_nothing(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        other = Receiver(session)
        session.receiver_lost(other)
        self.assertIs(session.state, SessionState.OPEN)

    def test_deliver_gives_utf8_bytes_per_message(self):
        session = self.make()
        session.attach(Receiver(session))
        session.deliver(["a", "\u00e9\U0001F600", "\ud800"])
        self.assertEqual(
            self.protocol.received,
            [b"a", "\u00e9\U0001F600".encode("utf-8"), b"\xed\xa0\x80"],
        )

    def test_lone_surrogate_round_trips_through_bytes(self):
        class Echo(Protocol):
            def dataReceived(self, data):
                self.transport.write(data)

        session = self.make(Echo())
        r = Receiver(session)
        session.attach(r)
        session.deliver(["\ud83d"])
        self.assertEqual(r.frames[-1], b'a["\\ud83d"]')

    def test_message_protocols_get_text(self):
        class Text(Protocol):
            def __init__(self):
                self.got = []

            def messageReceived(self, message):
                self.got.append(message)

        proto = Text()
        session = self.make(proto)
        session.attach(Receiver(session))
        session.deliver(["x", "y"])
        self.assertEqual(proto.got, ["x", "y"])

    def test_replies_during_delivery_are_sent_once_after_it(self):
        class Echo(Protocol):
            def messageReceived(self, message):
                self.transport.send(message)

        session = self.make(Echo())
        r = Receiver(session)
        session.attach(r)
        session.deliver(["a", "b", "c"])
        self.assertEqual(r.frames, [b"o", b'a["a","b","c"]'])
        self.assertEqual(self.clock.getDelayedCalls()[0].func.__name__, "_expire")

    def test_protocol_error_closes_session_with_1011(self):
        class Broken(Protocol):
            def dataReceived(self, data):
                raise ValueError("boom")

        session = self.make(Broken())
        r = Receiver(session)
        session.attach(r)
        session.deliver(["x", "y"])
        self.assertEqual(r.frames[-1], b'c[1011,"Internal error"]')
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_lose_connection_in_connection_made(self):
        class Leave(Protocol):
            def connectionMade(self):
                self.transport.loseConnection()

        session = self.make(Leave())
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b"o"])
        r2 = Receiver(session, polling=True)
        session.attach(r2)
        self.assertEqual(r2.frames, [b'c[3000,"Go away!"]'])

    def test_addresses_come_from_the_first_request(self):
        session = self.make()
        self.assertEqual(session.getPeer().port, 40000)
        self.assertEqual(session.getHost().port, 8080)


@implementer(IPushProducer)
class Producer:
    def __init__(self):
        self.calls = []

    def pauseProducing(self):
        self.calls.append("pause")

    def resumeProducing(self):
        self.calls.append("resume")

    def stopProducing(self):
        self.calls.append("stop")


class FlowControlTests(SessionTestsMixin, SynchronousTestCase):
    def test_streaming_producer_follows_the_receiver(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        producer = Producer()
        session.registerProducer(producer, True)
        session.throttle()
        session.throttle()
        session.unthrottle()
        self.assertEqual(producer.calls, ["pause", "resume"])
        session.throttle()
        r.close()  # the full connection went away: go on into the queue
        self.assertEqual(producer.calls, ["pause", "resume", "pause", "resume"])
        session.close()
        self.clock.advance(0)
        self.assertEqual(producer.calls, ["pause", "resume", "pause", "resume", "stop"])

    def test_producer_registered_while_throttled_starts_paused(self):
        session = self.make()
        session.attach(Receiver(session))
        session.throttle()
        producer = Producer()
        session.registerProducer(producer, True)
        self.assertEqual(producer.calls, ["pause"])
        self.assertRaises(RuntimeError, session.registerProducer, Producer(), True)

    def test_pull_producer_is_asked_each_time_its_data_went_out(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)

        class Pull:
            def __init__(self):
                self.left = 3

            def resumeProducing(self):
                if self.left:
                    self.left -= 1
                    session.send("chunk%d" % self.left)
                else:
                    session.unregisterProducer()

            def stopProducing(self):
                pass

        session.registerProducer(Pull(), False)
        for _ in range(10):
            self.clock.advance(0)
        self.assertEqual(
            r.frames, [b"o", b'a["chunk2"]', b'a["chunk1"]', b'a["chunk0"]']
        )
        self.assertIsNone(session._producer)

    def test_interrupted_session_stops_producer_without_resuming(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        producer = Producer()
        session.registerProducer(producer, True)
        session.throttle()
        session.receiver_lost(r)
        self.assertEqual(producer.calls, ["pause"], "stopped with connectionLost, next turn")
        self.clock.advance(0)
        self.assertEqual(producer.calls, ["pause", "stop"])


class ExactlyOnceTests(SessionTestsMixin, SynchronousTestCase):
    """
    Whatever the interleaving of sends, polls and reactor turns, the client
    sees the messages in order, each once; a dropped poll interrupts the
    session and no message arrives after that.
    """

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.sampled_from(["send", "poll", "stream", "end_stream", "turn", "drop"]),
            max_size=60,
        )
    )
    def test_order_and_exactly_once(self, steps):
        session = self.make()
        sent: List[str] = []
        seen: List[str] = []
        current = None
        receivers = []

        def collect(receiver):
            for frame in receiver.frames:
                if frame.startswith(b"a"):
                    seen.extend(json.loads(frame[1:]))
            receiver.frames.clear()

        for step in steps:
            if step == "send" and session.state is SessionState.OPEN:
                message = "m%d" % len(sent)
                sent.append(message)
                session.send(message)
            elif step in ("poll", "stream"):
                current = Receiver(session, polling=(step == "poll"))
                receivers.append(current)
                session.attach(current)
            elif step == "end_stream" and current is not None:
                current.close()
            elif step == "turn":
                self.clock.advance(0)
            elif step == "drop" and current is not None and not current.closed:
                current.closed = True
                session.receiver_lost(current)
            for receiver in receivers:
                collect(receiver)

        if session.state is SessionState.OPEN:
            # a final poll drains what is left
            self.clock.advance(0)
            final = Receiver(session, polling=True)
            session.attach(final)
            collect(final)
            for receiver in receivers:
                collect(receiver)
            self.assertEqual(seen, sent)
        else:
            self.assertEqual(seen, sent[: len(seen)], "a prefix, in order, once")
