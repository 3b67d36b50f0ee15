"""
The session state machine, driven by a Clock: queueing, the 2010 rule,
closing, heartbeats, the disconnect timer and exactly-once delivery.
"""

from __future__ import annotations

import json
from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionAborted
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from txsockjs import ISockJSSession, SessionNotOpen, SessionState
from txsockjs._hub import SessionHub
from txsockjs.session import Session

from ._helpers import Receiver, Recorder, request_info


class SessionTestsMixin:
    heartbeat_delay = 25.0
    disconnect_delay = 5.0

    def make(self, protocol=None, **hub_options):
        self.clock = Clock()
        self.forgotten: list = []
        self.protocol = protocol if protocol is not None else Recorder()
        self.hub = SessionHub(
            self.clock,
            heartbeat_delay=self.heartbeat_delay,
            disconnect_delay=self.disconnect_delay,
            on_forget=self.forgotten.append,
            **hub_options,
        )
        self.session = Session("s1", self.protocol, self.hub, request_info(), "xhr")
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
        ws = Session("w", Recorder(), self.hub, request_info(), "websocket", timed=False)
        r = Receiver(ws)
        ws.attach(r)
        ws.close()
        self.assertEqual(self.forgotten, [ws])
        other = Session("w2", Recorder(), self.hub, request_info(), "websocket", timed=False)
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
        other = Session("s2", Recorder(), self.hub, request_info(), "xhr_streaming")
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
        # it unregistered itself: another producer may register
        session.registerProducer(Producer(), True)

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
            st.sampled_from(
                ["send", "poll", "stream", "end_stream", "turn", "drop", "full", "drained"]
            ),
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
            elif step == "full" and session.receiver is not None:
                session.throttle()  # messages wait in the session
            elif step == "drained":
                session.unthrottle()
            for receiver in receivers:
                collect(receiver)

        if session.state is SessionState.OPEN:
            # a final poll drains what is left
            session.unthrottle()
            self.clock.advance(0)
            final = Receiver(session, polling=True)
            session.attach(final)
            collect(final)
            for receiver in receivers:
                collect(receiver)
            self.assertEqual(seen, sent)
        else:
            self.assertEqual(seen, sent[: len(seen)], "a prefix, in order, once")


class TCPLikeTests(SessionTestsMixin, SynchronousTestCase):
    """
    A session behaves as a TCP transport: connectionLost comes after the
    call that closed it returned, never inside it.
    """

    def _leaving(self, leave):
        """
        A protocol that leaves (with C{leave(transport)}) on its first
        message and then goes on using itself, as code after
        C{loseConnection()} does with TCP.
        """
        test = self

        class Leaving(Recorder):
            def dataReceived(self, data):
                leave(self.transport)
                test.assertEqual(self.lost, [], "connectionLost inside the call")
                self.transport.write(b"ignored once closing")
                self.received.append(data)

        return Leaving()

    def test_lose_connection_close_and_abort_tell_the_protocol_later(self):
        for leave in (
            lambda t: t.loseConnection(),
            lambda t: t.close(3001, "bye"),
            lambda t: t.abortConnection(),
        ):
            protocol = self._leaving(leave)
            session = self.make(protocol)
            r = Receiver(session)
            session.attach(r)
            session.deliver(["one", "two"])
            self.assertEqual(protocol.received, [b"one"], "nothing after it left")
            self.assertEqual(protocol.lost, [])
            self.assertIs(session.protocol, protocol, "still its transport's protocol")
            self.clock.advance(0)
            self.assertEqual(len(protocol.lost), 1)
            self.assertIsNone(session.protocol)
            session.deliver(["three"])
            self.assertEqual(protocol.received, [b"one"])
            self.assertEqual(len(protocol.lost), 1, "told once")

    def test_receiver_loss_and_expiry_tell_the_protocol_later(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.receiver_lost(r)
        self.assertEqual(self.protocol.lost, [])
        self.clock.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)

        session = self.make()
        session.attach(Receiver(session, polling=True))
        expire = [c for c in self.clock.getDelayedCalls() if getattr(c.func, "__name__", "") == "_expire"][0]
        expire.func()  # the timer's call itself: told after it returns
        self.assertEqual(self.protocol.lost, [])
        self.assertEqual(self.forgotten, [session])
        self.clock.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)

    def test_close_frame_comes_after_queued_messages(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        session.send("a")
        session.write(b"b")
        session.loseConnection()
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'a["a","b"]'])
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'c[3000,"Go away!"]'])

    def test_abort_drops_what_is_queued(self):
        session = self.make()
        session.attach(Receiver(session, polling=True))
        session.send("dropped")
        session.abortConnection()
        self.assertEqual(session._outbox, [])
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'c[1002,"Connection aborted"]'])
        self.clock.advance(0)
        self.assertTrue(self.protocol.lost[0].check(ConnectionAborted))

    def test_abort_while_closing_drops_the_queue_too(self):
        session = self.make()
        stream = Receiver(session)
        session.attach(stream)
        session.throttle()  # the connection is full: messages wait
        session.send("waiting")
        session.loseConnection()
        session.abortConnection()
        self.assertEqual(stream.frames, [b"o", b'c[3000,"Go away!"]'])

    def test_shutdown_tells_every_protocol_and_leaves_no_timer(self):
        from twisted.internet.protocol import Factory

        from txsockjs import SockJSResource

        clock = Clock()
        protocols: List[Recorder] = []

        def build(addr):
            protocols.append(Recorder())
            return protocols[-1]

        factory = Factory()
        factory.buildProtocol = build
        resource = SockJSResource(factory, reactor=clock)
        for n in range(3):
            session = resource.new_session(f"s{n}", request_info(), "xhr_streaming")
            session.attach(Receiver(session))
            session.send("queued")
        resource.shutdown()
        self.assertEqual([len(p.lost) for p in protocols], [1, 1, 1])
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(len(resource.sessions), 0)


class PushProducerTests(SessionTestsMixin, SynchronousTestCase):
    """
    The protocol pauses and resumes the delivery of incoming messages.
    """

    def test_interface(self):
        session = self.make()
        self.assertTrue(verifyObject(IPushProducer, session))

    def test_paused_messages_are_kept_in_order_and_resumed_next_turn(self):
        session = self.make()
        session.attach(Receiver(session))
        session.pauseProducing()
        session.deliver(["a", "b"])
        session.deliver(["c"])
        self.assertEqual(self.protocol.received, [])
        session.resumeProducing()
        self.assertEqual(self.protocol.received, [], "not inside resumeProducing")
        session.deliver(["d"])  # after what waited, not before it
        self.clock.advance(0)
        self.assertEqual(self.protocol.received, [b"a", b"b", b"c", b"d"])

    def test_pause_inside_a_batch_keeps_the_rest(self):
        class Pausing(Recorder):
            def dataReceived(self, data):
                self.received.append(data)
                if data == b"2":
                    self.transport.pauseProducing()

        protocol = Pausing()
        session = self.make(protocol)
        session.attach(Receiver(session))
        session.deliver(["1", "2", "3", "4"])
        self.assertEqual(protocol.received, [b"1", b"2"])
        session.resumeProducing()
        self.clock.advance(0)
        self.assertEqual(protocol.received, [b"1", b"2", b"3", b"4"])

    def test_kept_messages_are_bounded(self):
        session = self.make(max_queue_size=10)
        r = Receiver(session)
        session.attach(r)
        session.pauseProducing()
        session.deliver(["12345", "12345"])
        self.assertIs(session.state, SessionState.OPEN)
        session.deliver(["x"])
        self.assertEqual(session._inbox, [])
        self.clock.advance(0)
        self.assertEqual(r.frames[-1], b'c[1013,"Queue overflow"]')

    def test_closed_while_paused_drops_what_was_kept(self):
        session = self.make()
        session.attach(Receiver(session))
        session.pauseProducing()
        session.deliver(["a"])
        session.loseConnection()
        session.resumeProducing()
        self.clock.advance(0)
        self.assertEqual(self.protocol.received, [])
        self.assertEqual(len(self.protocol.lost), 1)

    def test_stop_producing_closes(self):
        session = self.make()
        r = Receiver(session)
        session.attach(r)
        session.stopProducing()
        self.assertEqual(r.frames[-1], b'c[3000,"Go away!"]')


class QueueBoundTests(SessionTestsMixin, SynchronousTestCase):
    """
    A session holds at most max_queue_size characters for its client: past
    half, its producer pauses; past all, it closes with 1013 and lets go.
    """

    def test_without_producer_overflow_closes_and_frees(self):
        session = self.make(max_queue_size=100)
        session.attach(Receiver(session, polling=True))
        session.send("x" * 60)
        session.send("x" * 40)
        self.assertIs(session.state, SessionState.OPEN, "at the bound is fine")
        session.send("x")
        self.assertIs(session.state, SessionState.CLOSING)
        self.assertEqual((session._outbox, session._queued), ([], 0))
        session.write(b"more")  # ignored, as after any close
        self.assertEqual(session._outbox, [])
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'c[1013,"Queue overflow"]'])
        self.clock.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)

    def test_producer_is_paused_past_half_and_resumed_once_sent(self):
        session = self.make(max_queue_size=100)
        session.attach(Receiver(session, polling=True))
        producer = Producer()
        session.registerProducer(producer, True)
        session.send("x" * 50)
        self.assertEqual(producer.calls, [])
        session.send("x")
        self.assertEqual(producer.calls, ["pause"])
        session.send("x" * 10)
        self.assertEqual(producer.calls, ["pause"])
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'a["%s","x","%s"]' % (b"x" * 50, b"x" * 10)])
        self.assertEqual(producer.calls, ["pause", "resume"])

    def test_producer_that_goes_on_past_the_bound_is_closed(self):
        session = self.make(max_queue_size=100)
        session.attach(Receiver(session, polling=True))
        producer = Producer()
        session.registerProducer(producer, True)
        for _ in range(11):
            session.send("x" * 10)
        self.assertIs(session.state, SessionState.CLOSING)
        self.assertEqual(session._outbox, [])
        self.clock.advance(0)
        self.assertEqual(producer.calls, ["pause", "stop"])

    def test_a_thousand_sends_to_an_amplifier_without_polling(self):
        class Amplify(Protocol):
            def messageReceived(self, message):
                self.transport.send("x" * 2 ** int(message))

        bound = 4 * 1024 * 1024
        session = self.make(Amplify(), max_queue_size=bound)
        session.attach(Receiver(session, polling=True))
        closed_at = None
        for n in range(1000):
            session.deliver(["19"])  # as xhr_send does
            self.assertLessEqual(session._queued, bound)
            if closed_at is None and session.state is not SessionState.OPEN:
                closed_at = n
        self.assertEqual(closed_at, 8, "eight 512 KiB replies fit, the ninth overflows")
        self.assertEqual((session._outbox, session._queued), ([], 0))
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'c[1013,"Queue overflow"]'])

    def test_a_throttled_receiver_makes_messages_wait_in_the_session(self):
        session = self.make(max_queue_size=100)
        stream = Receiver(session)
        session.attach(stream)
        session.throttle()
        session.send("a")
        self.clock.advance(0)
        session.loseConnection()
        self.assertEqual(stream.frames, [b"o"], "the close frame waits behind the message")
        session.unthrottle()
        self.clock.advance(0)
        self.assertEqual(stream.frames, [b"o", b'a["a"]', b'c[3000,"Go away!"]'])

    def test_stalled_stream_under_an_amplifier_is_bounded(self):
        """
        A client whose stream stopped draining keeps asking for more: the
        queue stays under the bound and the session closes with 1013.
        """

        class Amplify(Protocol):
            def messageReceived(self, message):
                self.transport.send("x" * 2 ** int(message))

        session = self.make(Amplify(), max_queue_size=4 * 1024 * 1024)
        stream = Receiver(session)
        session.attach(stream)
        session.throttle()
        for n in range(1000):
            session.deliver(["19"])
            self.assertLessEqual(session._queued, 4 * 1024 * 1024)
            if session.state is not SessionState.OPEN:
                break
        self.assertEqual(n, 8, "eight 512 KiB replies fit, the ninth overflows")
        self.assertEqual(session._outbox, [])
        self.assertEqual(stream.frames, [b"o", b'c[1013,"Queue overflow"]'])


class Poisoned(Receiver):
    """
    A receiver whose every call raises after it was set to fail.
    """

    poisoned = False

    def send_frame(self, frame):
        if self.poisoned:
            raise RuntimeError("poisoned receiver")
        Receiver.send_frame(self, frame)

    def heartbeat(self):
        if self.poisoned:
            raise RuntimeError("poisoned heartbeat")
        Receiver.heartbeat(self)


class FaultIsolationTests(SessionTestsMixin, SynchronousTestCase):
    """
    One session's failure (its receiver, its protocol, its producer) closes
    that session alone and is logged once with its id; the hub's heartbeats
    and flushes go on for the others.
    """

    def _healthy(self, n=3):
        sessions = []
        for i in range(n):
            s = Session(f"ok{i}", Recorder(), self.hub, request_info(), "xhr_streaming")
            r = Receiver(s)
            s.attach(r)
            sessions.append((s, r))
        return sessions

    def test_poisoned_heartbeat(self):
        bad = self.make()
        poisoned = Poisoned(bad)
        bad.attach(poisoned)
        healthy = self._healthy()
        poisoned.poisoned = True
        for _ in range(3):
            self.clock.advance(self.heartbeat_delay)
        for s, r in healthy:
            self.assertEqual(r.frames, [b"o", b"h", b"h", b"h"])
            self.assertIs(s.state, SessionState.OPEN)
        self.assertIs(bad.state, SessionState.CLOSED)
        self.assertEqual(bad.close_reason, (1011, "Internal error"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(len(self.protocol.lost), 1)

    def test_poisoned_flush(self):
        bad = self.make()
        poisoned = Poisoned(bad)
        bad.attach(poisoned)
        healthy = self._healthy()
        poisoned.poisoned = True
        for turn in range(3):
            bad.write(b"boom")
            for s, _ in healthy:
                s.send("m%d" % turn)
            self.clock.advance(0)
        for s, r in healthy:
            self.assertEqual(r.frames, [b"o", b'a["m0"]', b'a["m1"]', b'a["m2"]'])
        self.assertIs(bad.state, SessionState.CLOSED)
        self.assertIsNone(bad.receiver)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1, "logged once")
        self.clock.advance(self.heartbeat_delay)
        for s, r in healthy:
            self.assertEqual(r.frames[-1], b"h")

    def test_producer_that_raises_on_pause(self):
        class Raising(Producer):
            def pauseProducing(self):
                raise RuntimeError("poisoned producer")

        bad = self.make()
        stream = Receiver(bad)
        bad.attach(stream)
        bad.registerProducer(Raising(), True)
        healthy = self._healthy()
        bad.throttle()  # as the receiver's full connection would
        self.clock.advance(0)
        self.assertEqual(stream.frames[-1], b'c[1011,"Internal error"]')
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.clock.advance(self.heartbeat_delay)
        for s, r in healthy:
            self.assertEqual(r.frames, [b"o", b"h"])

    def test_protocol_that_raises_everywhere(self):
        class Raising(Protocol):
            def connectionMade(self):
                raise RuntimeError("made")

            def connectionLost(self, reason):
                raise RuntimeError("lost")

        bad = self.make(Raising())
        stream = Receiver(bad)
        bad.attach(stream)
        healthy = self._healthy()
        self.assertEqual(stream.frames, [b"o", b'c[1011,"Internal error"]'])
        self.clock.advance(0)
        errors = self.flushLoggedErrors(RuntimeError)
        self.assertEqual([str(e.value) for e in errors], ["made", "lost"])
        protocols = [s.protocol for s, _ in healthy]
        for s, _ in healthy:
            s.loseConnection()
        self.clock.advance(0)
        self.assertEqual([len(p.lost) for p in protocols], [1, 1, 1])

    def test_failures_are_logged_with_the_session_id(self):
        from twisted.logger import globalLogPublisher

        seen = []
        globalLogPublisher.addObserver(seen.append)
        self.addCleanup(globalLogPublisher.removeObserver, seen.append)

        class Broken(Protocol):
            def messageReceived(self, message):
                raise RuntimeError("app bug")

        session = self.make(Broken())
        session.attach(Receiver(session))
        session.deliver(["x", "y"])
        self.flushLoggedErrors(RuntimeError)
        failures = [e for e in seen if "log_failure" in e]
        self.assertEqual(len(failures), 1)
        self.assertEqual(failures[0]["session_id"], "s1")


class EncodingTests(SessionTestsMixin, SynchronousTestCase):
    def test_text_the_codec_cannot_carry_is_the_clients_error(self):
        session = self.make(encoding="latin-1")
        r = Receiver(session)
        session.attach(r)
        session.deliver(["caf\u00e9", "\u20ac", "after"])
        self.assertEqual(self.protocol.received, [b"caf\xe9"])
        self.assertEqual(r.frames[-1], b'c[1007,"Invalid payload data"]')
        self.assertEqual(self.flushLoggedErrors(), [], "not an application failure")


class WriteTests(SessionTestsMixin, SynchronousTestCase):
    def test_buffers_are_copied_when_written(self):
        session = self.make()
        buffer = bytearray(b"abc")
        session.write(buffer)
        buffer[0:1] = b"z"
        session.write(memoryview(b"abcdef")[::2])  # not contiguous
        session.write(memoryview(bytearray(b"\xc3\xa9")))
        self.assertEqual(session._outbox, ["abc", "ace", "\u00e9"])
        self.assertRaises(TypeError, session.write, ["not", "bytes"])
        session.close()
        self.assertRaises(TypeError, session.write, "text")


class OverflowInsideALoopTests(SessionTestsMixin, SynchronousTestCase):
    def test_an_application_error_after_overflow_keeps_1013(self):
        class Flood(Protocol):
            def messageReceived(self, message):
                for _ in range(10):
                    self.transport.send("x" * 30)  # raises once closed

        session = self.make(Flood(), max_queue_size=100)
        session.attach(Receiver(session, polling=True))
        session.deliver(["go"])
        self.assertEqual(len(self.flushLoggedErrors(SessionNotOpen)), 1)
        r = Receiver(session, polling=True)
        session.attach(r)
        self.assertEqual(r.frames, [b'c[1013,"Queue overflow"]'])


class BrokenWebsocketReceiverTests(SessionTestsMixin, SynchronousTestCase):
    def test_an_untimed_session_whose_receiver_keeps_failing_is_forgotten(self):
        self.make()
        ws = Session("w", Recorder(), self.hub, request_info(), "websocket", timed=False)
        poisoned = Poisoned(ws)
        ws.attach(poisoned)
        poisoned.poisoned = True
        ws.send("boom")
        self.clock.advance(0)  # the flush fails: 1011 is due
        self.clock.advance(0)  # the close frame fails too: let go
        self.assertIs(ws.state, SessionState.CLOSED)
        self.assertIsNone(ws.receiver)
        self.assertEqual(self.forgotten, [ws])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(
            [c for c in self.clock.getDelayedCalls() if getattr(c.func, "__self__", None) is not self.session],
            [],
        )
