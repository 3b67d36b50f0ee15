"""
What the parts of a session share: the words of its life (its states, the
close codes the server uses) and the contract its parts are written against.

L{txsockjs._session.Session} is one object made of three parts, one module
each: the session itself (receivers and the outgoing queue), what comes in
(C{_inbound}) and how it ends (C{_closing}). L{SessionParts} lists what a
part may use of the others; mypy checks each part against it, and that the
whole session has all of it.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import List, Optional, Sequence, Tuple, Union

from twisted.internet.interfaces import IDelayedCall, IProtocol

from ._hub import SessionHub
from ._producer import ProducerFeed
from ._request import RequestInfo
from ._sessionframing import ISessionFraming
from ._framing import close_frame
from ._receiver import IReceiver

__all__ = [
    "SessionState",
    "SessionNotOpen",
    "SessionParts",
    "Message",
    "ANOTHER_CONNECTION",
    "INTERRUPTED",
    "ABORTED",
    "INTERNAL_ERROR",
    "INVALID_PAYLOAD",
    "QUEUE_OVERFLOW",
    "BINARY_REFUSED",
]


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


#: one message either way: text, or (raw websocket only) binary
Message = Union[str, bytes]

#: what a second receiver gets while the first one is attached
ANOTHER_CONNECTION = close_frame(2010, "Another connection still open")
#: what the client gets when its receiver went away, or the session expired
INTERRUPTED = (1002, "Connection interrupted")
#: what the client gets when the server aborts a session (abortConnection)
ABORTED = (1002, "Connection aborted")
#: what the client gets when the application or a receiver failed
INTERNAL_ERROR = (1011, "Internal error")
#: what the client gets when it sent text that Options.encoding cannot carry
INVALID_PAYLOAD = (1007, "Invalid payload data")
#: what the client gets when its session queued more than max_queue_size
QUEUE_OVERFLOW = (1013, "Queue overflow")
#: how a session whose protocol cannot take binary messages closes
BINARY_REFUSED = (1003, "Binary messages not accepted")


class SessionParts(ABC):
    """
    Everything one part of a session may use of the others. The parts
    inherit from it only while type checking (mypy then also checks that a
    session has every method listed); at run time they are plain classes
    with no state of their own, and the session holds every slot.
    """

    session_id: str
    protocol: Optional[IProtocol]
    request: RequestInfo
    transport_name: str
    state: SessionState
    receiver: Optional[IReceiver]
    close_reason: Optional[Tuple[int, str]]
    disconnecting: bool
    _hub: SessionHub
    _framing: ISessionFraming
    _timed: bool
    _outbox: List[Message]
    _queued: int
    _delivering: bool
    _flush_scheduled: bool
    _timer: Optional[IDelayedCall]
    _feed: Optional[ProducerFeed]
    _throttled: bool
    _receives_text: bool
    _paused: bool
    _inbox: List[Message]
    _inbox_size: int
    _lost: Optional[Exception]
    _failed: bool

    # what the hub asks of every session (txsockjs._hub.HubMember)
    @abstractmethod
    def send_queued(self) -> None: ...

    @abstractmethod
    def deliver_kept(self) -> None: ...

    @abstractmethod
    def tell_lost(self) -> None: ...

    @abstractmethod
    def heartbeat(self) -> None: ...

    # the session (txsockjs._session)
    @abstractmethod
    def unregisterProducer(self) -> None: ...

    @abstractmethod
    def _safe_pump(self) -> None: ...

    @abstractmethod
    def _drop_queues(self) -> None: ...

    # what comes in (txsockjs._inbound)
    @abstractmethod
    def deliver(self, messages: Sequence[Message]) -> None: ...

    # how it ends (txsockjs._closing)
    @abstractmethod
    def close(self, code: int = 3000, reason: str = "Go away!") -> None: ...

    @abstractmethod
    def _begin_close(self, code: int, reason: str) -> None: ...

    @abstractmethod
    def _overflow(self) -> None: ...

    @abstractmethod
    def _fail(self, what: str, broken_receiver: bool = False) -> None: ...

    @abstractmethod
    def _log_failure(self, what: str) -> None: ...

    @abstractmethod
    def _lose_protocol(self, reason: Exception) -> None: ...

    @abstractmethod
    def _arm_timer(self) -> None: ...
