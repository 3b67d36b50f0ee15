"""
SockJS sessions: the state machine every transport shares.

A L{Session} is the transport of one application protocol. It queues what the
protocol writes until a receiver (an HTTP response or a websocket) is
attached, sends heartbeats, closes itself when no receiver comes back within
the disconnect delay, and hands each incoming message to the protocol.

It behaves as a Twisted TCP transport does (C{connectionLost} in a later
turn, C{IPushProducer} for incoming messages, C{abortConnection} dropping
what is queued), bounds what it holds for its client (C{max_queue_size}),
and fails alone: what raises in one session closes that session with 1011.
"""

from __future__ import annotations

import codecs
import enum
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IAddress, IPushProducer, IReactorTime, ITransport
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from zope.interface import implementer

from ._counters import EndpointCounters
from .framing import OPEN, close_frame, message_frame
from .interfaces import IReceiver, ISockJSSession
from .options import DEFAULT_MAX_QUEUE_SIZE

__all__ = [
    "Session",
    "SessionState",
    "SessionNotOpen",
    "SessionRegistry",
    "RequestInfo",
    "SessionHub",
    "ANOTHER_CONNECTION",
    "INTERRUPTED",
    "ABORTED",
    "INTERNAL_ERROR",
    "INVALID_PAYLOAD",
    "QUEUE_OVERFLOW",
]

_log = Logger()

ANOTHER_CONNECTION = close_frame(2010, "Another connection still open")
INTERRUPTED = (1002, "Connection interrupted")

# a session's protocol was told (or never needed telling) its connection is lost
_TOLD = object()


class SessionState(enum.Enum):
    """
    Where a session is in its life.
    """

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_OPEN = SessionState.OPEN


class SessionNotOpen(Exception):
    """
    A message was sent on a session that is closing or closed.
    """


@dataclass(frozen=True)
class RequestInfo:
    """
    What the session keeps of the HTTP request that opened it.
    """

    method: bytes
    uri: bytes
    path: bytes
    headers: Headers
    peer: IAddress
    host: IAddress
    cookies: Mapping[bytes, bytes]
    is_secure: bool

    @classmethod
    def from_request(cls, request: Any) -> "RequestInfo":
        return cls(
            method=request.method,
            uri=request.uri,
            path=request.path,
            headers=request.requestHeaders,
            peer=request.getClientAddress(),
            host=request.getHost(),
            cookies=dict(request.received_cookies),
            is_secure=request.isSecure(),
        )


class SessionHub:
    """
    What the sessions of one endpoint share: the clock, their settings, one
    heartbeat timer for all of them and one pending call that, once per
    reactor turn, sends what they queued, hands a resumed session the
    messages it buffered and tells protocols that their connection is lost.

    A session written to many times in one turn sends one frame, and no
    session needs a timer of its own. Because one call serves every session,
    each session's part of it is guarded: what fails in one session (its
    protocol, its producer, its receiver) closes that session alone.
    """

    def __init__(
        self,
        clock: IReactorTime,
        heartbeat_delay: float = 25.0,
        disconnect_delay: float = 5.0,
        encoding: str = "utf-8",
        on_forget: Optional[Callable[["Session"], None]] = None,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    ) -> None:
        self.clock = clock
        self.heartbeat_delay = heartbeat_delay
        self.disconnect_delay = disconnect_delay
        self.encoding = encoding
        self.errors = "surrogatepass" if codecs.lookup(encoding).name == "utf-8" else "strict"
        self.on_forget = on_forget
        self.max_queue_size = max_queue_size
        #: past this many queued characters a session pauses its producer
        self.high_water = max_queue_size // 2
        self._dirty: List["Session"] = []
        self._readers: List["Session"] = []
        self._lost: List["Session"] = []
        self._flush_call: Any = None
        self._beating: Dict["Session", None] = {}
        self._heartbeat: Optional[LoopingCall] = None
        #: what this endpoint's sessions did (read by txsockjs.metrics)
        self.counters = EndpointCounters()

    def _next_turn(self) -> None:
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def schedule_flush(self, session: "Session") -> None:
        self._dirty.append(session)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def schedule_read(self, session: "Session") -> None:
        """
        Hand C{session}'s buffered incoming messages to its protocol in the
        next turn (it was resumed).
        """
        self._readers.append(session)
        self._next_turn()

    def schedule_lost(self, session: "Session") -> None:
        """
        Tell C{session}'s protocol that its connection is lost in the next
        turn, as a TCP transport does: never inside the call that closed it.
        """
        self._lost.append(session)
        self._next_turn()

    def _flush(self) -> None:
        self._flush_call = None
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            session._flush_scheduled = False
            try:
                session._pump()
            except Exception:
                session._fail("sending its frames", broken_receiver=True)
        if self._readers:
            readers, self._readers = self._readers, []
            for session in readers:
                try:
                    session._read_inbox()
                except Exception:
                    session._fail("handing over its kept messages")
        if self._lost:
            lost, self._lost = self._lost, []
            for session in lost:
                try:
                    session._tell_lost()
                except Exception:
                    session._log_failure("telling its protocol the connection is lost")

    def run_pending(self) -> None:
        """
        Do now what waits for the next turn (for a shutdown, which must
        leave no timer behind): bounded, since what runs may queue more.
        """
        for _ in range(8):
            call = self._flush_call
            if call is None:
                return
            if call.active():
                call.cancel()
            self._flush()
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None

    def start_beating(self, session: "Session") -> None:
        self._beating[session] = None
        if self._heartbeat is None:
            heartbeat = self._heartbeat = LoopingCall(self._beat)
            heartbeat.clock = self.clock
            heartbeat.start(self.heartbeat_delay, now=False)

    def stop_beating(self, session: "Session") -> None:
        self._beating.pop(session, None)
        if not self._beating and self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def _beat(self) -> None:
        for session in list(self._beating):
            try:
                session._beat()
            except Exception:
                session._fail("sending a heartbeat", broken_receiver=True)


#: what the client gets when the server aborts a session (abortConnection)
ABORTED = (1002, "Connection aborted")
#: what the client gets when the application or a receiver failed
INTERNAL_ERROR = (1011, "Internal error")
#: what the client gets when it sent text that Options.encoding cannot carry
INVALID_PAYLOAD = (1007, "Invalid payload data")
#: what the client gets when its session queued more than max_queue_size
QUEUE_OVERFLOW = (1013, "Queue overflow")


@implementer(ISockJSSession, ITransport, IPushProducer)
class Session:
    """
    One SockJS session, and the transport of the protocol it serves.

    It behaves as a TCP transport does: C{connectionLost} comes in a later
    reactor turn than the call that closed the session, the protocol may
    pause and resume the delivery of incoming messages (C{IPushProducer}),
    and C{abortConnection} drops what is queued.
    """

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
        "_timed",
        "_outbox",
        "_queued",
        "_close_frame",
        "_delivering",
        "_flush_scheduled",
        "_timer",
        "_producer",
        "_streaming",
        "_throttled",
        "_producer_paused",
        "_pull_call",
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
        protocol: Any,
        hub: SessionHub,
        request: RequestInfo,
        transport_name: str,
        timed: bool = True,
    ) -> None:
        self.session_id = session_id
        self.protocol = protocol
        self.request = request
        self.transport_name = transport_name
        self.state = SessionState.OPENING
        self.receiver: Optional[IReceiver] = None
        self.close_reason: Optional[tuple] = None
        self.disconnecting = False
        self._hub = hub
        self._timed = timed
        self._outbox: List[str] = []
        self._queued = 0
        self._close_frame = b""
        self._delivering = False
        self._flush_scheduled = False
        self._timer: Any = None
        self._producer: Any = None
        self._streaming = True
        self._throttled = False
        self._producer_paused = False
        self._pull_call: Any = None
        self._receives_text = callable(getattr(protocol, "messageReceived", None))
        self._paused = False
        self._inbox: List[str] = []
        self._inbox_size = 0
        # None: the protocol is live; an exception: connectionLost is due
        # with it; _TOLD: connectionLost was delivered (or is not owed).
        self._lost: Any = None
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
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            raise SessionNotOpen(f"session {self.session_id!r} is {self.state.value}")
        if type(message) is not str:
            raise TypeError("SockJS messages are str")
        self._queue(message)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """
        Close the session: the client gets C{c[code,"reason"]} after what was
        already queued, and the protocol gets C{connectionLost} in a later
        reactor turn.
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        self._begin_close(code, reason)
        self._lose_protocol(ConnectionDone("SockJS session closed"))
        self._safe_pump()

    # -- ITransport ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Send C{data} (bytes, or a bytearray or memoryview), decoded as text,
        as one message. Ignored once closing.
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
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

    def writeSequence(self, data: List[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.close()

    def abortConnection(self) -> None:
        """
        Close at once: what is queued is dropped, and the client gets
        C{c[1002,"Connection aborted"]} with nothing before it.
        """
        if self.state is SessionState.CLOSED:
            return
        self._drop_queues()
        if self.state is not SessionState.CLOSING:
            self._begin_close(*ABORTED)
            self._lose_protocol(ConnectionAborted("SockJS session aborted"))
        self._safe_pump()

    def getPeer(self) -> IAddress:
        return self.request.peer

    def getHost(self) -> IAddress:
        return self.request.host

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Let C{producer} feed this session. A streaming producer is paused
        while the receiver's connection cannot take more, or while more than
        half of C{max_queue_size} waits in the session; a pull producer is
        asked for more each time what it wrote went out.
        """
        if self._producer is not None:
            raise RuntimeError("a producer is already registered with this session")
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            try:
                producer.stopProducing()
            except Exception:
                self._log_failure("its producer's stopProducing")
            return
        self._producer = producer
        self._streaming = bool(streaming)
        self._producer_paused = False
        if streaming:
            self._steer_producer()
        else:
            self._schedule_pull()

    def unregisterProducer(self) -> None:
        self._producer = None
        self._producer_paused = False
        if self._pull_call is not None:
            self._pull_call.cancel()
            self._pull_call = None

    # -- IPushProducer: the protocol's control of incoming messages ----------

    def pauseProducing(self) -> None:
        """
        Stop handing messages to the protocol; those that come meanwhile are
        kept, in order (up to C{max_queue_size} characters).
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        Hand the protocol, in the next reactor turn, what came while paused,
        and the messages that come from then on.
        """
        if self._paused:
            self._paused = False
            if self._inbox:
                self._hub.schedule_read(self)

    def stopProducing(self) -> None:
        """
        What a consumer calls when it goes away: the session closes.
        """
        self.close()

    # -- flow control, driven by receivers -----------------------------------

    def throttle(self) -> None:
        """
        The receiver's connection is full: keep messages in the session and
        pause the protocol's producer.
        """
        if not self._throttled:
            self._throttled = True
            if self._producer is not None:
                self._steer_producer()

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
            if self._producer is not None:
                if self._streaming:
                    self._steer_producer()
                else:
                    self._schedule_pull()

    def _steer_producer(self) -> None:
        """
        Pause or resume a streaming producer so that it runs only while the
        receiver can take more and the queue is below its high-water mark.
        """
        producer = self._producer
        if producer is None or not self._streaming:
            return
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        pause = self._throttled or self._queued > self._hub.high_water
        if pause is self._producer_paused:
            return
        self._producer_paused = pause
        try:
            if pause:
                producer.pauseProducing()
            else:
                producer.resumeProducing()
        except Exception:
            self._fail("its producer")

    def _schedule_pull(self) -> None:
        if self._pull_call is None:
            self._pull_call = self._hub.clock.callLater(0, self._pull)

    def _pull(self) -> None:
        self._pull_call = None
        producer = self._producer
        if (
            producer is not None
            and not self._throttled
            and self._queued <= self._hub.high_water
            and self.state is SessionState.OPEN
        ):
            try:
                producer.resumeProducing()
            except Exception:
                self._fail("its producer")

    # -- receivers -----------------------------------------------------------

    def attach(self, receiver: IReceiver) -> None:
        """
        Let C{receiver} carry this session's frames, if it may.
        """
        if self.state is SessionState.CLOSED:
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
            self.state = SessionState.OPEN
            self._hub.start_beating(self)
            self._hub.counters.session_opened(self.transport_name)
            try:
                self._send_open(receiver)
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

    def receiver_lost(self, receiver: IReceiver, clean: bool = False) -> None:
        """
        The client went away from C{receiver} before it was done: the
        session is interrupted (C{clean}: the client closed a websocket
        properly, which ends its session normally).
        """
        if self.receiver is not receiver:
            return
        self.receiver = None
        self._throttled = False
        if self.state is not SessionState.CLOSED:
            self._begin_close(*INTERRUPTED)
            self.state = SessionState.CLOSED
            self._drop_queues()
            if clean:
                self._lose_protocol(ConnectionDone("SockJS client closed the session"))
            else:
                self._lose_protocol(ConnectionLost("SockJS receiver interrupted"))
        self._arm_timer()

    def deliver(self, messages: List[str]) -> None:
        """
        Hand messages from the client to the protocol, in order; while the
        protocol paused this session, keep them for later.
        """
        if self.state is not _OPEN:
            return
        if self._paused or self._inbox:
            self._keep(messages)
            return
        self._delivering = True
        hub = self._hub
        protocol = self.protocol
        remaining = iter(messages)
        try:
            for message in remaining:
                if self._receives_text:
                    try:
                        protocol.messageReceived(message)
                    except Exception:
                        self._fail("its protocol's messageReceived")
                else:
                    try:
                        data = message.encode(hub.encoding, hub.errors)
                    except UnicodeEncodeError:
                        self._bad_input()
                        break
                    try:
                        protocol.dataReceived(data)
                    except Exception:
                        self._fail("its protocol's dataReceived")
                if self._paused or self.state is not _OPEN:
                    if self.state is _OPEN:
                        # paused inside the batch: the rest waits
                        self._keep(list(remaining))
                    break
        finally:
            self._delivering = False
        if self.receiver is not None and (self._outbox or self.state is SessionState.CLOSING):
            self._safe_pump()

    def send_encoded(self, message: str, frame: bytes) -> None:
        """
        Send one message whose frame was encoded already (for broadcasts).
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
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

    # -- inner workings ------------------------------------------------------

    def _queue(self, message: str) -> None:
        self._outbox.append(message)
        queued = self._queued = self._queued + len(message)
        if queued > self._hub.high_water:
            # past half the bound the producer pauses; past the bound the
            # session closes, with or without a producer
            if queued > self._hub.max_queue_size:
                self._overflow()
                return
            if self._producer is not None:
                self._steer_producer()
        if self.receiver is not None and not self._delivering and not self._flush_scheduled:
            self._flush_scheduled = True
            self._hub.schedule_flush(self)

    def _overflow(self) -> None:
        """
        More than C{max_queue_size} waits for the client: free it and close
        the session with C{c[1013,"Queue overflow"]} at once.
        """
        _log.info(
            "SockJS session {session_id!r}: more than {limit} characters queued "
            "for the client; closing with 1013",
            session_id=self.session_id,
            limit=self._hub.max_queue_size,
        )
        self._hub.counters.queue_full += 1
        self._drop_queues()
        self._begin_close(*QUEUE_OVERFLOW)
        self._lose_protocol(ConnectionLost("SockJS session queue overflow"))
        if self.receiver is not None and not self._flush_scheduled:
            # not now: this runs inside the application's write
            self._flush_scheduled = True
            self._hub.schedule_flush(self)

    def _keep(self, messages: List[str]) -> None:
        """
        Buffer incoming messages while the protocol paused this session.
        """
        self._inbox.extend(messages)
        size = self._inbox_size
        for message in messages:
            size += len(message)
        self._inbox_size = size
        if size > self._hub.max_queue_size:
            self._overflow()

    def _read_inbox(self) -> None:
        if self._paused or not self._inbox or self.state is not SessionState.OPEN:
            return
        inbox, self._inbox = self._inbox, []
        self._inbox_size = 0
        self.deliver(inbox)

    def _drop_queues(self) -> None:
        self._outbox = []
        self._queued = 0
        self._inbox = []
        self._inbox_size = 0

    def _bad_input(self) -> None:
        """
        The client sent text that C{Options.encoding} cannot carry to the
        protocol: its error, not the application's.
        """
        _log.info(
            "SockJS session {session_id!r}: the client sent a message that "
            "{encoding} cannot encode; closing with 1007",
            session_id=self.session_id,
            encoding=self._hub.encoding,
        )
        self._hub.counters.bad_input += 1
        self.close(*INVALID_PAYLOAD)

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
                self._send_messages(self.receiver, messages)
                if self._producer is not None:
                    if self._streaming:
                        self._steer_producer()
                    else:
                        self._schedule_pull()
            elif self.state is SessionState.CLOSING:
                receiver = self.receiver
                self.state = SessionState.CLOSED
                self.receiver = None
                self._send_close(receiver)
                self._arm_timer()
            else:
                break

    def _send_open(self, receiver: IReceiver) -> None:
        receiver.send_frame(OPEN)

    def _send_messages(self, receiver: IReceiver, messages: List[str]) -> None:
        frame = message_frame(messages)
        counters = self._hub.counters
        counters.messages_out += len(messages)
        counters.bytes_out += len(frame)
        receiver.send_frame(frame)

    def _send_close(self, receiver: IReceiver) -> None:
        receiver.send_frame(self._close_frame)
        receiver.close()

    def _beat(self) -> None:
        if self.receiver is not None:
            self._hub.counters.heartbeats += 1
            self.receiver.heartbeat()

    def _begin_close(self, code: int, reason: str) -> None:
        if self.state is not SessionState.CLOSING and self.state is not SessionState.CLOSED:
            self._hub.counters.session_closed(code)
        self.state = SessionState.CLOSING
        self.disconnecting = True
        self.close_reason = (code, reason)
        self._close_frame = close_frame(code, reason)
        self._hub.stop_beating(self)

    def _connect_protocol(self) -> None:
        try:
            self.protocol.makeConnection(self)
        except Exception:
            self._fail("its protocol's makeConnection")

    def _log_failure(self, what: str) -> None:
        _log.failure(
            "SockJS session {session_id!r}: {what} failed",
            session_id=self.session_id,
            what=what,
        )

    def _fail(self, what: str, broken_receiver: bool = False) -> None:
        """
        Something of this session raised (inside an C{except} block): log it
        once with the session id and close this session alone with
        C{c[1011,"Internal error"]}.

        @param broken_receiver: the receiver itself failed; what is queued
            cannot go out through it, and a second failure detaches it.
        """
        if self._failed:
            # it failed again while closing: let go of its receiver
            receiver, self.receiver = self.receiver, None
            self.state = SessionState.CLOSED
            self._drop_queues()
            if receiver is not None:
                try:
                    receiver.close()
                except Exception:
                    pass
            self._arm_timer()
            return
        self._failed = True
        self._hub.counters.application_errors += 1
        self._log_failure(what)
        if broken_receiver:
            self._drop_queues()
        if self.state is SessionState.OPEN or self.state is SessionState.OPENING:
            self._begin_close(*INTERNAL_ERROR)
            self._lose_protocol(ConnectionLost(f"SockJS session failed: {what}"))
        if self.state is not SessionState.CLOSED:
            # (a session closing already keeps the code it closes with)
            if self.receiver is not None and not self._flush_scheduled:
                self._flush_scheduled = True
                self._hub.schedule_flush(self)

    def _lose_protocol(self, reason: Exception) -> None:
        """
        Owe the protocol its C{connectionLost}, delivered in the next turn.
        """
        if self._lost is not None:
            return
        self._lost = reason
        self._paused = False
        self._hub.schedule_lost(self)

    def _tell_lost(self) -> None:
        reason, self._lost = self._lost, _TOLD
        if reason is None or reason is _TOLD:
            return
        producer = self._producer
        if producer is not None:
            self.unregisterProducer()
            try:
                producer.stopProducing()
            except Exception:
                self._log_failure("its producer's stopProducing")
        protocol, self.protocol = self.protocol, None
        if protocol is None or getattr(protocol, "transport", None) is not self:
            # never connected: nothing to tell it
            return
        try:
            protocol.connectionLost(Failure(reason))
        except Exception:
            self._log_failure("its protocol's connectionLost")

    def _arm_timer(self) -> None:
        if not self._timed:
            # No disconnect delay (a websocket's session ends with its
            # connection): once closed and without a receiver, it is done.
            if self.state is SessionState.CLOSED:
                self._forget()
            return
        timer = self._timer
        delay = self._hub.disconnect_delay
        if timer is not None and timer.active():
            timer.reset(delay)
        else:
            self._timer = self._hub.clock.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.receiver is not None:
            return
        if self.state is not SessionState.CLOSED:
            self._hub.counters.expired += 1
            self._begin_close(*INTERRUPTED)
            self.state = SessionState.CLOSED
            self._lose_protocol(ConnectionDone("SockJS session timed out"))
        self._forget()

    def _forget(self) -> None:
        self._drop_queues()
        self._hub.stop_beating(self)
        on_forget = self._hub.on_forget
        if on_forget is not None:
            on_forget(self)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class SessionRegistry:
    """
    The sessions of one endpoint, by id; a session leaves when it expires.
    """

    def __init__(self) -> None:
        self._sessions: Dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> Optional[Session]:
        return self._sessions.get(session_id)

    def add(self, session: Session) -> None:
        self._sessions[session.session_id] = session

    def remove(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]

    def open_sessions(self) -> List[Session]:
        return [s for s in self._sessions.values() if s.state is SessionState.OPEN]
