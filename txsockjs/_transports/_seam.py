"""
What the websocket transports are given when they are made: the seam
between them and the endpoint that serves them.

A websocket connection is a session of its own: it needs no registry by id
and no disconnect delay, only a place where the endpoint can find it to
count, close and forget it (L{WebSocketSessions}). The endpoint builds one
L{WebSocketSeam} and every websocket protocol gets it at construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Optional, Set, Type

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from zope.interface import Interface, implementer

from .._counters import EndpointCounters
from ..session import RequestInfo, Session

if TYPE_CHECKING:  # (only its type: where the hub lives is the session side's business)
    from .._hub import SessionHub

__all__ = ["IWebSocketSessions", "WebSocketSessions", "WebSocketSeam"]


class IWebSocketSessions(Interface):
    """
    Opens the sessions of websocket connections.
    """

    def open(
        session_id: str, info: RequestInfo, transport_name: str, session_class: Type[Session]
    ) -> Session:
        """
        A new session of C{session_class} with a protocol of its own, not
        timed (it ends with its connection). A factory that builds no
        protocol gives a session closed with C{3000 "Go away!"}.
        """


@implementer(IWebSocketSessions)
class WebSocketSessions:
    """
    The sessions of one endpoint's websocket connections, until they end.
    """

    def __init__(self, factory: IProtocolFactory, hub: SessionHub) -> None:
        self._factory = factory
        self._hub = hub
        self._sessions: Set[Session] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions))

    def open(
        self, session_id: str, info: RequestInfo, transport_name: str, session_class: Type[Session]
    ) -> Session:
        protocol = self._factory.buildProtocol(info.peer)
        session = session_class(session_id, protocol, self._hub, info, transport_name, timed=False)
        self._sessions.add(session)
        if protocol is None:
            session.close(3000, "Go away!")
        return session

    def discard(self, session: Session) -> None:
        """
        Forget C{session} (it ended), if it is one of these.
        """
        self._sessions.discard(session)


@dataclass(frozen=True)
class WebSocketSeam:
    """
    Everything a websocket protocol needs from its endpoint.

    @ivar sessions: opens the connection's session.
    @ivar factory: the Autobahn factory whose protocol options apply.
    @ivar clock: the endpoint's time, for the write timeout.
    @ivar counters: the endpoint's counters.
    @ivar write_timeout: seconds a connection may stay unable to take
        writes before it is aborted; C{None} for no limit.
    @ivar max_message_size: the largest incoming message, in bytes (hixie-76
        checks it itself; Autobahn reads it from C{factory}).
    """

    sessions: IWebSocketSessions
    factory: WebSocketServerFactory
    clock: IReactorTime
    counters: EndpointCounters
    write_timeout: Optional[float]
    max_message_size: Optional[int]
