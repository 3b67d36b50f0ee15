"""
The SockJS session: the state machine every transport shares, and the
transport of the application's protocol.

A session is one object made of three parts: this module (receivers, the
outgoing queue, the application's producer), L{txsockjs._inbound} (what
comes in) and L{txsockjs._closing} (how it ends); L{txsockjs._sessionparts}
holds what they share.
"""

from __future__ import annotations

from typing import ClassVar, Iterable, List, Optional, Tuple

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProducer,
    IProtocol,
    IPushProducer,
    ITransport,
)
from zope.interface import implementer

from ._closing import ClosingMixin
from ._hub import SessionHub
from ._inbound import InboundMixin
from ._producer import ProducerFeed
from ._request import RequestInfo
from ._sessionframing import SOCKJS, ISessionFraming
from ._sessionparts import (
    ANOTHER_CONNECTION,
    INTERRUPTED,
    Message,
    SessionNotOpen,
    SessionState,
)
from ._receiver import IReceiver
from .interfaces import ISockJSSession

__all__ = ["Session"]

_OPEN = SessionState.OPEN
_CLOSING = SessionState.CLOSING
_CLOSED = SessionState.CLOSED


@implementer(ISockJSSession, ITransport, IPushProducer)
class Session(InboundMixin, ClosingMixin):
    """
    One SockJS session, and the transport of the protocol it serves.

    It queues what the protocol writes until a receiver (an HTTP response or
    a websocket) is attached, closes itself when no receiver comes back
    within the disconnect delay, and hands each incoming message to the
    protocol. It behaves as a TCP transport does: C{connectionLost} comes in
    a later reactor turn than the call that closed the session, the protocol
    may pause and resume the delivery of incoming messages
    (C{IPushProducer}), and C{abortConnection} drops what is queued. It
    bounds what it holds for its client (C{max_queue_size}), and fails
    alone: what raises in one session closes that session with 1011.

    What goes on the wire is its framing's business (L{SOCKJS} frames
    unless told otherwise); what it shares with the other sessions of its
    endpoint (clock, settings, heartbeats, the once-per-turn flush) is its
    hub's.
    """

    #: the framing of sessions of this class (L{SOCKJS}; L{RawSession}'s
    #: is L{txsockjs._sessionframing.RAW})
    framing: ClassVar[ISessionFraming] = SOCKJS

    __slots__ = (
        "session_id",
        "protocol",
        "request",
        "transport_name",
        "state",
        "receiver",
        "close_reason",
        "disconnecting",
        "_hub",
        "_framing",
        "_timed",
        "_outbox",
        "_queued",
        "_delivering",
        "_flush_scheduled",
        "_timer",
        "_feed",
        "_throttled",
        "_receives_text",
        "_paused",
        "_inbox",
        "_inbox_size",
        "_lost",
        "_failed",
    )

    def __init__(
        self,
        session_id: str,
        protocol: Optional[IProtocol],
        hub: SessionHub,
        request: RequestInfo,
        transport_name: str,
        timed: bool = True,
        framing: Optional[ISessionFraming] = None,
    ) -> None:
        """
        @param timed: whether the session waits the disconnect delay for a
            next receiver (HTTP transports) or ends with its one receiver
            (websockets).
        @param framing: how its frames go out; the class's C{framing} when
            not given.
        """
        self.session_id = session_id
        self.protocol = protocol
        self.request = request
        self.transport_name = transport_name
        self.state = SessionState.OPENING
        self.receiver: Optional[IReceiver] = None
        self.close_reason: Optional[Tuple[int, str]] = None
        self.disconnecting = False
        self._hub = hub
        self._framing = framing if framing is not None else self.framing
        self._timed = timed
        self._outbox: List[Message] = []
        self._queued = 0
        self._delivering = False
        self._flush_scheduled = False
        self._timer: Optional[IDelayedCall] = None
        self._feed: Optional[ProducerFeed] = None
        self._throttled = False
        self._receives_text = callable(getattr(protocol, "messageReceived", None))
        self._paused = False
        self._inbox: List[Message] = []
        self._inbox_size = 0
        # None: the protocol is live; an exception: connectionLost is due
        # with it; _TOLD: connectionLost was delivered (or is not owed).
        self._lost: Optional[Exception] = None
        self._failed = False
        self._arm_timer()

    def __repr__(self) -> str:
        return f"<Session {self.session_id!r} {self.state.value} via {self.transport_name}>"

    # -- the direct API ------------------------------------------------------

    def send(self, message: str) -> None:
        """
        Queue C{message} for the client.

        @raise SessionNotOpen: the session is closing or closed.
        """
        if self.state is _CLOSING or self.state is _CLOSED:
            raise SessionNotOpen(f"session {self.session_id!r} is {self.state.value}")
        if type(message) is not str:
            raise TypeError("SockJS messages are str")
        self._queue(message)

    # -- ITransport ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Send C{data} (bytes, or a bytearray or memoryview), decoded as text,
        as one message. Ignored once closing.
        """
        if self.state is _CLOSING or self.state is _CLOSED:
            if type(data) is not bytes and not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"Data must be bytes, not {type(data).__name__}")
            return
        hub = self._hub
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"Data must be bytes, not {type(data).__name__}")
            # a copy: the caller may change its buffer after writing it
            data = bytes(data)
        try:
            text = data.decode(hub.encoding, hub.errors)
        except UnicodeDecodeError:
            text = data.decode(hub.encoding, "replace")
        self._queue(text)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def getPeer(self) -> IAddress:
        return self.request.peer

    def getHost(self) -> IAddress:
        return self.request.host

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Let C{producer} feed this session. A streaming producer is paused
        while the receiver's connection cannot take more, or while more than
        half of C{max_queue_size} waits in the session; a pull producer is
        asked for more each time what it wrote went out.
        """
        if self._feed is not None:
            raise RuntimeError("a producer is already registered with this session")
        if self.state is _CLOSING or self.state is _CLOSED:
            try:
                producer.stopProducing()
            except Exception:
                self._log_failure("its producer's stopProducing")
            return
        feed = self._feed = ProducerFeed(
            producer, bool(streaming), self._hub.clock, self._producer_blocked, self._fail
        )
        feed.room()

    def unregisterProducer(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.cancel()

    # -- receivers -----------------------------------------------------------

    def attach(self, receiver: IReceiver) -> None:
        """
        Let C{receiver} carry this session's frames, if it may.
        """
        if self.state is _CLOSED:
            try:
                self._send_close(receiver)
            except Exception:
                self._log_failure("a receiver")
            return
        if self.receiver is not None:
            try:
                receiver.send_frame(ANOTHER_CONNECTION)
                receiver.close()
            except Exception:
                self._log_failure("a second receiver")
            return
        self.receiver = receiver
        if self.state is SessionState.OPENING:
            self.state = _OPEN
            self._hub.start_beating(self)
            self._hub.counters.session_opened(self.transport_name)
            try:
                self._framing.open(receiver)
            except Exception:
                self._fail("sending its open frame", broken_receiver=True)
                return
            self._connect_protocol()
        self._safe_pump()

    def detach(self, receiver: IReceiver) -> None:
        """
        C{receiver} is done; the session waits for the next one.
        """
        if self.receiver is receiver:
            self.receiver = None
            self._arm_timer()
            # whatever was full went away with the receiver
            self.unthrottle()

    def throttle(self) -> None:
        """
        The receiver's connection is full: keep messages in the session and
        pause the protocol's producer.
        """
        if not self._throttled:
            self._throttled = True
            if self._feed is not None:
                self._feed.steer()

    def unthrottle(self) -> None:
        """
        The receiver's connection drained: send what waited, and the
        producer may go on.
        """
        if self._throttled:
            self._throttled = False
            if self._outbox and self.receiver is not None and not self._flush_scheduled:
                self._flush_scheduled = True
                self._hub.schedule_flush(self)
            if self._feed is not None:
                self._feed.room()

    def count_write_timeout(self) -> None:
        """
        The receiver's connection was aborted for not draining within the
        write timeout (counted for the endpoint's metrics).
        """
        self._hub.counters.write_timeouts += 1

    def send_encoded(self, message: str, frame: bytes) -> None:
        """
        Send one message whose frame was encoded already (for broadcasts).
        """
        if self.state is _CLOSING or self.state is _CLOSED:
            return
        receiver = self.receiver
        if receiver is None or self._outbox or self._throttled:
            self._queue(message)
        else:
            counters = self._hub.counters
            counters.messages_out += 1
            counters.bytes_out += len(frame)
            try:
                receiver.send_frame(frame)
            except Exception:
                self._fail("sending a broadcast", broken_receiver=True)

    # -- what the hub asks, once per turn ------------------------------------

    def send_queued(self) -> None:
        """
        Send what was queued during this turn (the hub calls this at its
        end).
        """
        self._flush_scheduled = False
        self._safe_pump()

    def heartbeat(self) -> None:
        """
        Keep the receiver alive (the hub's heartbeat timer fired).
        """
        receiver = self.receiver
        if receiver is not None:
            try:
                self._hub.counters.heartbeats += 1
                receiver.heartbeat()
            except Exception:
                self._fail("sending a heartbeat", broken_receiver=True)

    # -- the outgoing queue --------------------------------------------------

    def _queue(self, message: Message) -> None:
        """
        The one way into the outgoing queue (a RawSession's binary
        messages come this way too).
        """
        self._outbox.append(message)
        queued = self._queued = self._queued + len(message)
        if queued > self._hub.high_water:
            # past half the bound the producer pauses; past the bound the
            # session closes, with or without a producer
            if queued > self._hub.max_queue_size:
                self._overflow()
                return
            if self._feed is not None:
                self._feed.steer()
        if self.receiver is not None and not self._delivering and not self._flush_scheduled:
            self._flush_scheduled = True
            self._hub.schedule_flush(self)

    def _producer_blocked(self) -> Optional[bool]:
        """
        Whether the producer must wait; C{None} (leave it as it is) once
        the session is closing.
        """
        if self.state is _CLOSING or self.state is _CLOSED:
            return None
        return self._throttled or self._queued > self._hub.high_water

    def _safe_pump(self) -> None:
        try:
            self._pump()
        except Exception:
            self._fail("sending its frames", broken_receiver=True)

    def _pump(self) -> None:
        """
        Send what is queued, then the close frame if closing, while a
        receiver is attached (messages wait while the receiver is full).
        """
        while self.receiver is not None:
            if self._outbox:
                if self._throttled:
                    break
                messages, self._outbox = self._outbox, []
                self._queued = 0
                counters = self._hub.counters
                counters.messages_out += len(messages)
                counters.bytes_out += self._framing.messages(self.receiver, messages)
                if self._feed is not None:
                    self._feed.room()
            elif self.state is _CLOSING:
                receiver = self.receiver
                self.state = _CLOSED
                self.receiver = None
                self._send_close(receiver)
                self._arm_timer()
            else:
                break

    def _send_close(self, receiver: IReceiver) -> None:
        code, reason = self.close_reason or INTERRUPTED
        self._framing.close(receiver, code, reason)

    def _drop_queues(self) -> None:
        self._outbox = []
        self._queued = 0
        self._inbox = []
        self._inbox_size = 0

    def _connect_protocol(self) -> None:
        try:
            if self.protocol is not None:
                self.protocol.makeConnection(self)
        except Exception:
            self._fail("its protocol's makeConnection")
