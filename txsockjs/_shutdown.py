# -*- test-case-name: tests.test_tap -*-
"""
Closing every session of some endpoints with C{c[1001,"Server shutting
down"]} and giving the clients time to get it: what C{twistd sockjs}, the
C{sockjs:} endpoint and a draining process do when they stop.
"""

from __future__ import annotations

from typing import Iterable, List, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from .session import SessionState

__all__ = [
    "SHUTDOWN_CODE",
    "SHUTDOWN_REASON",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "SessionHolder",
    "close_sessions",
    "unclosed_sessions",
]

_log = Logger()

SHUTDOWN_CODE = 1001
SHUTDOWN_REASON = "Server shutting down"

#: Seconds a stopping server waits, at most, for its clients to get the
#: close frame.
DEFAULT_SHUTDOWN_TIMEOUT = 3.0


class _Stateful(Protocol):
    @property
    def state(self) -> SessionState: ...


class SessionHolder(Protocol):
    """
    What closing the sessions needs of an endpoint (a
    L{txsockjs.SockJSResource}): its HTTP sessions, a way to close them all,
    and (when it has an attribute C{websocket_sessions}) its websocket ones.
    """

    @property
    def sessions(self) -> Iterable[_Stateful]: ...

    def close_all(self, code: int, reason: str) -> None: ...


def unclosed_sessions(resources: Iterable[SessionHolder]) -> List[_Stateful]:
    """
    The sessions of C{resources}, HTTP and websocket, that have not sent
    their close frame yet.
    """
    found: List[_Stateful] = []
    for resource in resources:
        websocket: Iterable[_Stateful] = getattr(resource, "websocket_sessions", ())
        for sessions in (resource.sessions, websocket):
            found.extend(s for s in sessions if s.state is not SessionState.CLOSED)
    return found


def close_sessions(
    resources: Iterable[SessionHolder],
    clock: IReactorTime,
    timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    code: int = SHUTDOWN_CODE,
    reason: str = SHUTDOWN_REASON,
    poll_interval: float = 0.02,
    drain_delay: float = 0.1,
) -> defer.Deferred[None]:
    """
    Close every session of C{resources} with C{c[code,"reason"]}.

    The Deferred fires once every session has handed its close frame to a
    receiver (a polling client must come back for it), and the transports
    had C{drain_delay} seconds to write it out; or after C{timeout} seconds,
    whichever comes first. It never fails.
    """
    resources = list(resources)
    for resource in resources:
        try:
            resource.close_all(code, reason)
        except Exception:
            _log.failure("Closing the sessions of {resource!r} failed", resource=resource)
    deadline = clock.seconds() + timeout
    done: defer.Deferred[None] = defer.Deferred()

    def check() -> None:
        try:
            remaining = unclosed_sessions(resources)
        except Exception:
            _log.failure("Listing the sessions failed")
            remaining = []
        now = clock.seconds()
        if remaining and now < deadline:
            clock.callLater(poll_interval, check)
            return
        if remaining:
            _log.warn(
                "{count} sessions still had their close frame pending after {timeout} s",
                count=len(remaining),
                timeout=timeout,
            )
        clock.callLater(min(drain_delay, max(0.0, deadline - now)), done.callback, None)

    check()
    return done
