"""
SockJS sessions: the state machine every transport shares.

A L{Session} is the transport of one application protocol. It queues what the
protocol writes until a receiver (an HTTP response or a websocket) is
attached, sends heartbeats, closes itself when no receiver comes back within
the disconnect delay, and hands each incoming message to the protocol.
"""

from __future__ import annotations

import codecs
import enum
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IAddress, IReactorTime, ITransport
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from zope.interface import implementer

from .framing import OPEN, close_frame, message_frame
from .interfaces import IReceiver, ISockJSSession

__all__ = [
    "Session",
    "SessionState",
    "SessionNotOpen",
    "SessionRegistry",
    "RequestInfo",
    "SessionHub",
    "ANOTHER_CONNECTION",
    "INTERRUPTED",
]

_log = Logger()

ANOTHER_CONNECTION = close_frame(2010, "Another connection still open")
INTERRUPTED = (1002, "Connection interrupted")


class SessionState(enum.Enum):
    """
    Where a session is in its life.
    """

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


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
    heartbeat timer for all of them and one pending call that sends what
    they queued in a reactor turn.

    A session written to many times in one turn sends one frame, and no
    session needs a timer of its own for heartbeats or flushing.
    """

    def __init__(
        self,
        clock: IReactorTime,
        heartbeat_delay: float = 25.0,
        disconnect_delay: float = 5.0,
        encoding: str = "utf-8",
        on_forget: Optional[Callable[["Session"], None]] = None,
    ) -> None:
        self.clock = clock
        self.heartbeat_delay = heartbeat_delay
        self.disconnect_delay = disconnect_delay
        self.encoding = encoding
        self.errors = "surrogatepass" if codecs.lookup(encoding).name == "utf-8" else "strict"
        self.on_forget = on_forget
        self._dirty: List["Session"] = []
        self._flush_call = None
        self._beating: Dict["Session", None] = {}
        self._heartbeat: Optional[LoopingCall] = None

    def schedule_flush(self, session: "Session") -> None:
        self._dirty.append(session)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            session._flush_scheduled = False
            session._pump()

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
            session._beat()


@implementer(ISockJSSession, ITransport)
class Session:
    """
    One SockJS session, and the transport of the protocol it serves.
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
        "_close_frame",
        "_delivering",
        "_flush_scheduled",
        "_timer",
        "_producer",
        "_streaming",
        "_throttled",
        "_pull_call",
        "_receives_text",
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
        self._close_frame = b""
        self._delivering = False
        self._flush_scheduled = False
        self._timer: Any = None
        self._producer: Any = None
        self._streaming = True
        self._throttled = False
        self._pull_call: Any = None
        self._receives_text = callable(getattr(protocol, "messageReceived", None))
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
        already queued, and the protocol gets C{connectionLost}.
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        self._begin_close(code, reason)
        self._lose_protocol(ConnectionDone("SockJS session closed"))
        self._pump()

    # -- ITransport ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Send C{data}, decoded as text, as one message. Ignored once closing.
        """
        if type(data) is not bytes and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Data must be bytes, not {type(data).__name__}")
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        data = bytes(data)
        try:
            text = data.decode(self._hub.encoding, self._hub.errors)
        except UnicodeDecodeError:
            text = data.decode(self._hub.encoding, "replace")
        self._queue(text)

    def writeSequence(self, data: List[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.close()

    def abortConnection(self) -> None:
        self.close()

    def getPeer(self) -> IAddress:
        return self.request.peer

    def getHost(self) -> IAddress:
        return self.request.host

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Let C{producer} feed this session. A streaming producer is paused
        while the receiver's connection cannot take more; a pull producer is
        asked for more each time what it wrote went out.
        """
        if self._producer is not None:
            raise RuntimeError("a producer is already registered with this session")
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            producer.stopProducing()
            return
        self._producer = producer
        self._streaming = bool(streaming)
        if streaming:
            if self._throttled:
                producer.pauseProducing()
        else:
            self._schedule_pull()

    def unregisterProducer(self) -> None:
        self._producer = None
        if self._pull_call is not None:
            self._pull_call.cancel()
            self._pull_call = None

    # -- flow control, driven by receivers -----------------------------------

    def throttle(self) -> None:
        """
        The receiver's connection is full: pause the protocol's producer.
        """
        if not self._throttled:
            self._throttled = True
            if self._producer is not None and self._streaming:
                self._producer.pauseProducing()

    def unthrottle(self) -> None:
        """
        The receiver's connection drained: the producer may go on.
        """
        if self._throttled:
            self._throttled = False
            if self._producer is not None:
                if self._streaming:
                    self._producer.resumeProducing()
                else:
                    self._schedule_pull()

    def _schedule_pull(self) -> None:
        if self._pull_call is None:
            self._pull_call = self._hub.clock.callLater(0, self._pull)

    def _pull(self) -> None:
        self._pull_call = None
        producer = self._producer
        if producer is not None and not self._throttled and self.state is SessionState.OPEN:
            producer.resumeProducing()

    # -- receivers -----------------------------------------------------------

    def attach(self, receiver: IReceiver) -> None:
        """
        Let C{receiver} carry this session's frames, if it may.
        """
        if self.state is SessionState.CLOSED:
            self._send_close(receiver)
            return
        if self.receiver is not None:
            receiver.send_frame(ANOTHER_CONNECTION)
            receiver.close()
            return
        self.receiver = receiver
        if self.state is SessionState.OPENING:
            self.state = SessionState.OPEN
            self._hub.start_beating(self)
            self._send_open(receiver)
            self._connect_protocol()
        self._pump()

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
            if clean:
                self._lose_protocol(ConnectionDone("SockJS client closed the session"))
            else:
                self._lose_protocol(ConnectionLost("SockJS receiver interrupted"))
        self._arm_timer()

    def deliver(self, messages: List[str]) -> None:
        """
        Hand messages from the client to the protocol, in order.
        """
        if self.state is not SessionState.OPEN:
            return
        self._delivering = True
        hub = self._hub
        try:
            for message in messages:
                if self.state is not SessionState.OPEN:
                    break
                try:
                    if self._receives_text:
                        self.protocol.messageReceived(message)
                    else:
                        self.protocol.dataReceived(message.encode(hub.encoding, hub.errors))
                except Exception:
                    _log.failure("Protocol {protocol!r} failed on a message", protocol=self.protocol)
                    self.close(1011, "Internal error")
        finally:
            self._delivering = False
        if self._outbox:
            self._pump()

    def send_encoded(self, message: str, frame: bytes) -> None:
        """
        Send one message whose frame was encoded already (for broadcasts).
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        receiver = self.receiver
        if receiver is None or self._outbox:
            self._queue(message)
        else:
            receiver.send_frame(frame)

    # -- inner workings ------------------------------------------------------

    def _queue(self, message: str) -> None:
        self._outbox.append(message)
        if self.receiver is not None and not self._delivering and not self._flush_scheduled:
            self._flush_scheduled = True
            self._hub.schedule_flush(self)

    def _pump(self) -> None:
        """
        Send what is queued, then the close frame if closing, while a
        receiver is attached.
        """
        while self.receiver is not None:
            if self._outbox:
                messages, self._outbox = self._outbox, []
                self._send_messages(self.receiver, messages)
                if self._producer is not None and not self._streaming:
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
        receiver.send_frame(message_frame(messages))

    def _send_close(self, receiver: IReceiver) -> None:
        receiver.send_frame(self._close_frame)
        receiver.close()

    def _beat(self) -> None:
        if self.receiver is not None:
            self.receiver.heartbeat()

    def _begin_close(self, code: int, reason: str) -> None:
        self.state = SessionState.CLOSING
        self.disconnecting = True
        self.close_reason = (code, reason)
        self._close_frame = close_frame(code, reason)
        self._hub.stop_beating(self)

    def _connect_protocol(self) -> None:
        try:
            self.protocol.makeConnection(self)
        except Exception:
            _log.failure("Protocol {protocol!r} failed to start", protocol=self.protocol)
            self.close(1011, "Internal error")

    def _lose_protocol(self, reason: Exception) -> None:
        protocol, self.protocol = self.protocol, None
        if self._producer is not None:
            producer = self._producer
            self.unregisterProducer()
            try:
                producer.stopProducing()
            except Exception:
                _log.failure("Producer failed to stop")
        if protocol is None or protocol.transport is not self:
            # never connected: nothing to tell it
            return
        try:
            protocol.connectionLost(Failure(reason))
        except Exception:
            _log.failure("Protocol {protocol!r} failed in connectionLost", protocol=protocol)

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
            self._begin_close(*INTERRUPTED)
            self.state = SessionState.CLOSED
            self._lose_protocol(ConnectionDone("SockJS session timed out"))
        self._forget()

    def _forget(self) -> None:
        self._outbox = []
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
